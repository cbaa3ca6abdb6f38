//! The PyGithub walk: `tests/pygithub/walk.py` drives a real server
//! through PyGithub (installed by `.ci/run` into `target/pyenv`), the way
//! an existing GitHub client would, and every check it makes must pass.

mod common;

use std::process::Command;

use common::ci::repo;
use serde_json::json;

/// The Python that has PyGithub: `HEARTH_PYTHON`, else `.ci/run`'s venv.
fn python() -> String {
    std::env::var("HEARTH_PYTHON").unwrap_or_else(|_| format!("{}/target/pyenv/bin/python", env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn pygithub_walks_the_api_a_github_client_reaches_first() {
    let python = python();
    let probe = Command::new(&python).args(["-c", "import github"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "PyGithub is missing: run `python3 -m venv target/pyenv && target/pyenv/bin/pip install PyGithub==2.10.0` \
         (as .ci/run does), or set HEARTH_PYTHON to a Python that has it"
    );
    let r = repo();
    let bob = r.server.user("bob", "pw-bob-1234", false);
    r.server.create_repo(&r.token, "other", false);
    r.server.create_repo(&r.token, "third", true);
    // Three commits on main (the last adds CI, and runs it), two more
    // branches, a tag.
    r.commit_and_push("First", "main");
    std::fs::write(r.work.join("notes.txt"), "notes\n").unwrap();
    r.commit_and_push("Notes", "main");
    r.git.ok(Some(&r.work), &["tag", "v1.0"]);
    let url = r.server.cred_url("alice", &r.token, "/alice/demo.git");
    r.git.ok(Some(&r.work), &["push", "-q", &url, "v1.0"]);
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "topic"]);
    std::fs::write(r.work.join("topic.txt"), "topic\n").unwrap();
    r.commit_and_push("Topic", "topic");
    r.commit_and_push("Work in progress", "wip");
    r.git.ok(Some(&r.work), &["checkout", "-q", "main"]);
    let main = r.push_workflow(
        "ci.yml",
        "name: CI\non: push\njobs:\n  test:\n    steps:\n      - run: echo ok\n",
        "main",
    );
    assert_eq!(r.wait_run(1)["conclusion"], "success", "{:?}", r.runs());
    let (status, _) = r.server.api(
        "PUT",
        "/api/v1/repos/alice/demo/collaborators/bob",
        Some(&r.token),
        Some(json!({"permission": "read"})),
    );
    assert_eq!(status, 204);
    let out = Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pygithub/walk.py"))
        .env("HEARTH_API", r.server.url("/api/v3"))
        .env("HEARTH_TOKEN", &r.token)
        .env("HEARTH_BOB_TOKEN", &bob)
        .env("HEARTH_MAIN", &main)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "the walk failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("checks passed"), "{stdout}");
    println!("{stdout}");
}
