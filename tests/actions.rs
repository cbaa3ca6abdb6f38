//! Actions from repositories, as a team moving from GitHub uses them: a
//! JavaScript action (`pre`, `main`, `post`, inputs, outputs, state, a
//! mask, an annotation, a group) and a composite action (inputs, outputs,
//! `github.action_path`, a nested action), both pushed to the same server;
//! a local action from the workspace; a Docker action refused with the
//! reason; a private action repository of someone else not found; and an
//! action fetched from an upstream server (`--actions-url`).

mod common;

use common::TestServer;
use common::ci::{Repo, repo, repo_on};

/// Publishes `files` as the repository `name` of the repository's user,
/// its `main` tagged `v1`.
fn publish(r: &Repo, name: &str, files: &[(&str, &str)], private: bool) {
    publish_on(&r.server, &r.git, &r.user, &r.token, name, files, private);
}

fn publish_on(
    server: &TestServer,
    git: &common::Git,
    user: &str,
    token: &str,
    name: &str,
    files: &[(&str, &str)],
    private: bool,
) {
    server.create_repo(token, name, private);
    let dir = git.dir(&format!("action-{name}"));
    git.ok(None, &["init", "-q", dir.to_str().unwrap()]);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git.ok(Some(&dir), &["add", "-A"]);
    git.ok(Some(&dir), &["commit", "-q", "-m", "the action"]);
    git.ok(Some(&dir), &["tag", "v1"]);
    let url = server.cred_url(user, token, &format!("/{user}/{name}.git"));
    git.ok(Some(&dir), &["push", "-q", &url, "main", "v1"]);
}

const NODE_ACTION: &[(&str, &str)] = &[
    (
        "action.yml",
        "name: Node greeter\ninputs:\n  who:\n    description: whom to greet\n    required: true\n  punctuation:\n    default: '!'\noutputs:\n  greeting:\n    description: what it said\nruns:\n  using: node20\n  pre: pre.js\n  main: main.js\n  post: post.js\n  post-if: always()\nbranding:\n  icon: heart\n",
    ),
    (
        "pre.js",
        "require('fs').appendFileSync(process.env.GITHUB_STATE, 'from_pre=yes\\n');\nconsole.log('pre ran for ' + process.env.INPUT_WHO);\n",
    ),
    (
        "main.js",
        r#"const fs = require('fs');
const who = process.env.INPUT_WHO;
console.log(`hello ${who}${process.env.INPUT_PUNCTUATION} state=${process.env.STATE_from_pre}`);
console.log('::add-mask::hidden-' + who);
console.log('masked: hidden-' + who);
console.log('::warning file=src/lib.rs,line=2,title=Greeting::look at ' + who);
console.log('::group::details');
console.log('inside the group');
console.log('::endgroup::');
fs.appendFileSync(process.env.GITHUB_OUTPUT, `greeting=hello ${who}\n`);
fs.appendFileSync(process.env.GITHUB_STATE, 'started=1\n');
console.log('::save-state name=legacy::old-way');
console.log('action path ' + process.env.GITHUB_ACTION_PATH + ' repository ' + process.env.GITHUB_ACTION_REPOSITORY);
"#,
    ),
    (
        "post.js",
        "console.log(`post ran for ${process.env.INPUT_WHO}: started=${process.env.STATE_started} legacy=${process.env.STATE_legacy}`);\n",
    ),
];

const COMPOSITE_ACTION: &[(&str, &str)] = &[
    (
        "greet/action.yml",
        r#"name: greet
inputs:
  name:
    default: world
outputs:
  said:
    value: ${{ steps.say.outputs.said }}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      run: |
        echo "composite says hi ${{ inputs.name }}"
        cat "${{ github.action_path }}/message.txt"
        test "$GITHUB_ACTION_PATH" = "${{ github.action_path }}"
        echo "said=hi ${{ inputs.name }}" >> "$GITHUB_OUTPUT"
    - uses: alice/node-action@main
      with:
        who: nested
"#,
    ),
    ("greet/message.txt", "a file of the composite action\n"),
];

const WORKFLOW: &str = r#"on: push
jobs:
  use:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: js
        uses: alice/node-action@v1
        with:
          who: team
      - id: comp
        uses: alice/tools/greet@v1
        with:
          name: hearth
      - uses: ./.github/actions/local
      - run: |
          echo "js said [${{ steps.js.outputs.greeting }}]"
          echo "composite said [${{ steps.comp.outputs.said }}]"
      - uses: docker://alpine:3
        continue-on-error: true
"#;

#[test]
fn composite_and_javascript_actions_from_this_server_run() {
    let r = repo();
    publish(&r, "node-action", NODE_ACTION, false);
    publish(&r, "tools", COMPOSITE_ACTION, false);
    let local = r.work.join(".github/actions/local");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(
        local.join("action.yml"),
        "runs:\n  using: composite\n  steps:\n    - run: echo local action ran\n      shell: bash\n",
    )
    .unwrap();
    r.push_workflow("ci.yml", WORKFLOW, "main");
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let log = r.log(&jobs[0]);
    assert_eq!(run["conclusion"], "success", "{log}");
    for expected in [
        "alice/node-action@v1 is commit",
        "from this server",
        "pre ran for team",
        "hello team! state=yes",
        "masked: ***",
        "Warning: look at team",
        "##[group]details",
        "inside the group",
        "action path /run/hearth-actions/",
        "repository alice/node-action",
        "composite says hi hearth",
        "a file of the composite action",
        "hello nested!",
        "local action ran",
        "js said [hello team]",
        "composite said [hi hearth]",
        "post ran for team: started=1 legacy=old-way",
        "post ran for nested",
        "needs a container engine",
    ] {
        assert!(log.contains(expected), "{expected:?} missing from\n{log}");
    }
    assert!(!log.contains("hidden-team"), "{log}");
    // A post step of its own for each JavaScript action that ran, last first.
    let steps = jobs[0]["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        &names[names.len() - 2..],
        ["Post Run alice/node-action@main", "Post Run alice/node-action@v1"],
        "{names:?}"
    );
    assert!(steps.iter().all(|s| s["status"] == "completed"), "{steps:?}");
    // The annotation is on the run's page.
    let page = r.server.get(&format!("/{}/runs/1", r.slug)).text().unwrap();
    assert!(page.contains("look at team") && page.contains("src/lib.rs"), "{page}");
    // A step's own ::group:: is a section within the step's on the job's page.
    let job_page = r
        .server
        .get(&format!("/{}/runs/1/jobs/{}", r.slug, jobs[0]["id"]))
        .text()
        .unwrap();
    let group = job_page
        .find("<details class=\"group\"><summary>details</summary><pre>")
        .expect(&job_page);
    assert!(job_page[group..].contains("inside the group"), "{job_page}");
    // A second run finds the actions unpacked already.
    let sha = r.commit_and_push("again", "main");
    let second = r.wait_run(2);
    assert_eq!(second["head_sha"], sha.as_str());
    assert_eq!(second["conclusion"], "success");
}

#[test]
fn a_private_action_of_someone_else_is_not_found_and_a_bad_one_says_why() {
    let r = repo();
    let bob = r.server.user("bob", "pw-bob-1", false);
    publish_on(&r.server, &r.git, "bob", &bob, "secret-action", NODE_ACTION, true);
    publish(
        &r,
        "broken",
        &[("action.yml", "runs:\n  using: node99\n  main: x.js\n")],
        false,
    );
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - uses: bob/secret-action@v1\n        with: {who: me}\n  b:\n    steps:\n      - uses: alice/broken@v1\n  c:\n    steps:\n      - uses: alice/node-action@no-such-tag\n",
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "failure");
    let jobs = r.jobs(&run);
    let a = r.log(r.job(&jobs, "a"));
    assert!(
        a.contains("bob/secret-action is not a repository of this server"),
        "{a}"
    );
    assert!(!a.contains("pre ran"), "{a}");
    let b = r.log(r.job(&jobs, "b"));
    assert!(b.contains("runs.using \"node99\" is not one of"), "{b}");
    let c = r.log(r.job(&jobs, "c"));
    assert!(
        c.contains("alice/node-action is not a repository of this server"),
        "{c}"
    );
    // Steps of a job that could not be set up are skipped, not left queued.
    let steps = r.job(&jobs, "a")["steps"].as_array().unwrap().clone();
    assert!(steps.iter().all(|s| s["conclusion"] == "skipped"), "{steps:?}");
}

#[test]
fn an_action_not_on_this_server_comes_from_the_upstream() {
    let upstream = TestServer::start();
    let git = common::Git::new();
    let carol = upstream.user("carol", "pw-carol-1", true);
    publish_on(&upstream, &git, "carol", &carol, "node-action", NODE_ACTION, false);
    let r = repo_on(TestServer::start_with(&["--actions-url", &upstream.url("/")]));
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - uses: carol/node-action@v1\n        with: {who: upstream}\n",
        "main",
    );
    let run = r.wait_run(1);
    let log = r.log(&r.jobs(&run)[0]);
    assert_eq!(run["conclusion"], "success", "{log}");
    assert!(
        log.contains(&format!(
            "from {}/carol/node-action.git",
            upstream.url("").trim_end_matches('/')
        )),
        "{log}"
    );
    assert!(log.contains("hello upstream!"), "{log}");
}
