//! Delivery through real pushes: environments made on first use, a gate
//! that holds prod for its reviewers (approve, reject, a non-reviewer, a
//! second decision), every deployment and its statuses recorded in
//! GitHub's shapes, and branch rules.

mod common;

use std::time::{Duration, Instant};

use common::ci::{Repo, repo};
use serde_json::{Value, json};

const PIPELINE: &str = "on: push
jobs:
  build:
    steps:
      - run: echo built
  beta:
    needs: build
    environment: beta
    steps:
      - run: echo to beta
  prod:
    needs: beta
    environment:
      name: prod
      url: https://prod.example
    steps:
      - run: echo to prod
";

fn call(r: &Repo, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    r.server
        .api(method, &format!("/api/v1/repos/alice/demo{path}"), Some(token), body)
}

/// Waits until job `key` of run `n` has `status`.
fn wait_job(r: &Repo, n: i64, key: &str, status: &str) -> (Value, Value) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(run) = r.runs().into_iter().find(|run| run["run_number"] == n) {
            let jobs = r.jobs(&run);
            if let Some(j) = jobs.iter().find(|j| j["key"] == key && j["status"] == status) {
                return (run.clone(), j.clone());
            }
            assert!(
                Instant::now() < deadline,
                "job {key} of run #{n} never was {status}: {jobs:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Makes `name` a collaborator of alice/demo who may push.
fn may_push(r: &Repo, name: &str) {
    let (status, body) = call(
        r,
        "PUT",
        &format!("/collaborators/{name}"),
        &r.token,
        Some(json!({"permission": "write"})),
    );
    assert_eq!(status, 204, "{body}");
}

fn user_id(r: &Repo, token: &str) -> i64 {
    let (status, me) = r.server.api("GET", "/api/v1/user", Some(token), None);
    assert_eq!(status, 200);
    me["id"].as_i64().unwrap()
}

#[test]
fn prod_waits_for_its_reviewer_who_approves_or_rejects_and_every_deployment_is_recorded() {
    let r = repo();
    let bob = r.server.user("bob", "pw-bob-1234", false);
    may_push(&r, "bob");
    // prod needs alice; beta is made by its first deployment.
    let alice = user_id(&r, &r.token);
    let (status, env) = call(
        &r,
        "PUT",
        "/environments/prod",
        &r.token,
        Some(json!({"reviewers": [{"type": "User", "id": alice}]})),
    );
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["protection_rules"][0]["type"], "required_reviewers");
    assert_eq!(env["protection_rules"][0]["reviewers"][0]["reviewer"]["login"], "alice");
    // Only admins configure environments; a reviewer must be able to push.
    let (status, _) = call(&r, "PUT", "/environments/prod", &bob, Some(json!({})));
    assert_eq!(status, 403);
    let carol = r.server.user("carol", "pw-carol-123", false);
    let carol_id = user_id(&r, &carol);
    let (status, body) = call(
        &r,
        "PUT",
        "/environments/prod",
        &r.token,
        Some(json!({"reviewers": [{"type": "User", "id": carol_id}]})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("carol cannot push"));

    let sha = r.push_workflow("deliver.yml", PIPELINE, "main");
    let (_, prod) = wait_job(&r, 1, "prod", "waiting");
    assert_eq!(prod["conclusion"], Value::Null);
    // The run was read before its jobs: read it again, once beta's end has settled it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let run = loop {
        let run = r.runs().into_iter().find(|run| run["run_number"] == 1).unwrap();
        if run["status"] == "waiting" || Instant::now() > deadline {
            break run;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(run["status"], "waiting", "held only by its gate");
    let jobs = r.jobs(&run);
    assert_eq!(r.job(&jobs, "beta")["conclusion"], "success", "beta has no gate");
    assert!(r.log(&prod).contains("waiting for a reviewer"));
    let run_path = format!("/actions/runs/{}", run["id"]);
    let (status, pending) = call(&r, "GET", &format!("{run_path}/pending_deployments"), &r.token, None);
    assert_eq!(status, 200);
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending[0]["environment"]["name"], "prod");
    assert_eq!(pending[0]["current_user_can_approve"], true);
    let (_, as_bob) = call(&r, "GET", &format!("{run_path}/pending_deployments"), &bob, None);
    assert_eq!(as_bob[0]["current_user_can_approve"], false);
    let prod_id = pending[0]["environment"]["id"].clone();

    // Bob can push but is no reviewer; nonsense is refused; nothing changes.
    let decide = |token: &str, state: &str, comment: &str| {
        call(
            &r,
            "POST",
            &format!("{run_path}/pending_deployments"),
            token,
            Some(json!({"environment_ids": [prod_id], "state": state, "comment": comment})),
        )
    };
    let (status, body) = decide(&bob, "approved", "");
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("not a reviewer"));
    assert_eq!(decide(&r.token, "maybe", "").0, 400);
    let (_, prod_now) = wait_job(&r, 1, "prod", "waiting");
    assert_eq!(prod_now["id"], prod["id"]);

    let (status, decided) = decide(&r.token, "approved", "ship it");
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided[0]["environment"], "prod");
    let (status, body) = decide(&r.token, "approved", "again");
    assert_eq!(status, 409, "a second decision: {body}");
    let done = r.wait_run(1);
    assert_eq!(done["conclusion"], "success");

    let (status, list) = call(&r, "GET", "/deployments", &r.token, None);
    assert_eq!(status, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["environment"], "prod");
    assert_eq!(list[1]["environment"], "beta");
    for d in list {
        assert_eq!(d["sha"], sha.as_str());
        assert_eq!(d["ref"], "main");
        assert_eq!(d["state"], "success");
    }
    let (_, statuses) = call(
        &r,
        "GET",
        &format!("/deployments/{}/statuses", list[0]["id"]),
        &r.token,
        None,
    );
    let states: Vec<&str> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["success", "in_progress", "queued", "waiting"], "newest first");
    assert_eq!(statuses[2]["description"], "approved by alice: ship it");
    assert_eq!(list[0]["environment_url"], "https://prod.example");
    // The environments page: what each runs now, since when, and its history.
    let page = r.server.get("/alice/demo/environments").text().unwrap();
    assert!(
        page.contains("Environment prod") && page.contains("Environment beta"),
        "{page}"
    );
    assert!(page.contains(&format!(
        "Runs <a class=\"sha\" href=\"/alice/demo/commit/{sha}\">{}</a>",
        &sha[..10]
    )));
    assert!(page.contains("Reviewers: alice"));
    assert!(page.contains("https://prod.example"));
    let (_, envs) = call(&r, "GET", "/environments", &r.token, None);
    let names: Vec<&str> = envs["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["beta", "prod"], "beta was made on first use");

    // Rejected: prod fails with the reason, and the run with it.
    r.commit_and_push("Second", "main");
    wait_job(&r, 2, "prod", "waiting");
    let run2 = r.runs().into_iter().find(|x| x["run_number"] == 2).unwrap();
    let (status, _) = call(
        &r,
        "POST",
        &format!("/actions/runs/{}/pending_deployments", run2["id"]),
        &r.token,
        Some(json!({"environment_ids": [prod_id], "state": "rejected", "comment": "not today"})),
    );
    assert_eq!(status, 200);
    let done = r.wait_run(2);
    assert_eq!(done["conclusion"], "failure");
    let jobs = r.jobs(&done);
    assert_eq!(r.job(&jobs, "prod")["conclusion"], "failure");
    let (_, list) = call(&r, "GET", "/deployments?environment=prod", &r.token, None);
    assert_eq!(list[0]["state"], "rejected");
    assert_eq!(list.as_array().unwrap().len(), 2);
    // The pipeline: both commits as rows, beta and prod as columns; beta
    // runs the second commit, prod still the first (★), the second rejected.
    let page = r.server.get("/alice/demo/pipeline").text().unwrap();
    let second = run2["head_sha"].as_str().unwrap();
    let row = |sha: &str| {
        let at = page.find(&format!("/commit/{sha}\">")).expect("a row per commit");
        page[at..].split("</tr>").next().unwrap().to_string()
    };
    let (first_row, second_row) = (row(&sha), row(second));
    assert!(
        page.contains("<th scope=\"col\">beta</th><th scope=\"col\">prod</th>"),
        "{page}"
    );
    assert!(
        second_row.contains("rejected") && second_row.matches('★').count() == 1,
        "{second_row}"
    );
    assert!(
        first_row.contains("✓ success") && first_row.matches('★').count() == 1,
        "{first_row}"
    );
}

#[test]
fn a_branch_the_environment_does_not_allow_fails_its_deployment_with_the_reason() {
    let r = repo();
    let (status, _) = call(&r, "PUT", "/environments/beta", &r.token, None);
    assert_eq!(status, 200);
    let allow = |name: &str, kind: &str| {
        call(
            &r,
            "POST",
            "/environments/beta/deployment-branch-policies",
            &r.token,
            Some(json!({"name": name, "type": kind})),
        )
    };
    let (status, policy) = allow("release/*", "branch");
    assert_eq!(status, 200, "{policy}");
    assert_eq!(allow("release/*", "branch").0, 409, "the same pattern twice");
    assert_eq!(allow("x", "commit").0, 400);

    r.push_workflow("deliver.yml", PIPELINE, "main");
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "failure");
    let jobs = r.jobs(&run);
    let beta = r.job(&jobs, "beta");
    assert_eq!(beta["conclusion"], "failure");
    assert!(
        r.log(beta)
            .contains("refs/heads/main may not deploy to the beta environment"),
        "{}",
        r.log(beta)
    );
    assert_eq!(r.job(&jobs, "prod")["conclusion"], "skipped");
    let (_, list) = call(&r, "GET", "/deployments", &r.token, None);
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing was deployed");

    r.commit_and_push("Release", "release/1.0");
    let run = r.wait_run(2);
    assert_eq!(run["conclusion"], "success", "{:?}", r.jobs(&run));
    let (_, list) = call(&r, "GET", "/deployments?environment=beta", &r.token, None);
    assert_eq!(list[0]["ref"], "release/1.0");
}

#[test]
fn a_reviewer_approves_on_the_run_page_and_the_page_says_who_decided() {
    let r = repo();
    r.server.user("bob", "pw-bob-1234", false);
    may_push(&r, "bob");
    let alice = user_id(&r, &r.token);
    call(
        &r,
        "PUT",
        "/environments/prod",
        &r.token,
        Some(json!({"reviewers": [{"type": "User", "id": alice}]})),
    );
    r.push_workflow("deliver.yml", PIPELINE, "main");
    let (_, prod) = wait_job(&r, 1, "prod", "waiting");
    let env_id = {
        let run = r.runs().into_iter().find(|x| x["run_number"] == 1).unwrap();
        let (_, pending) = call(
            &r,
            "GET",
            &format!("/actions/runs/{}/pending_deployments", run["id"]),
            &r.token,
            None,
        );
        pending[0]["environment"]["id"].as_i64().unwrap().to_string()
    };

    // Bob can push, so he sees the gate, but no buttons; sending the form anyway is refused.
    let bob = common::sign_in(&r.server, "bob", "pw-bob-1234");
    let page = bob
        .get(r.server.url("/alice/demo/runs/1"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("Waiting for review: prod"), "{page}");
    assert!(page.contains("Reviewers: alice"));
    assert!(!page.contains("Approve and deploy"));
    assert!(!page.contains("gate-buttons"), "no buttons in the graph either");
    let resp = bob
        .post(r.server.url("/alice/demo/runs/1/review"))
        .form(&[
            ("csrf", common::csrf_of(&page).as_str()),
            ("environment", env_id.as_str()),
            ("state", "approved"),
            ("comment", ""),
        ])
        .send()
        .unwrap();
    let status = resp.status();
    let text = resp.text().unwrap();
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("bob is not a reviewer of the prod environment"));
    assert_eq!(wait_job(&r, 1, "prod", "waiting").1["id"], prod["id"]);

    let alice = common::sign_in(&r.server, "alice", "pw-alice-1");
    let page = alice
        .get(r.server.url("/alice/demo/runs/1"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("Approve and deploy"));
    // The buttons are in place too: on prod's card in the stage graph.
    let doc = scraper::Html::parse_document(&page);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let cards: Vec<_> = doc.select(&sel(".graph li.card")).collect();
    let with_buttons: Vec<String> = cards
        .iter()
        .filter(|c| c.select(&sel("form.gate-buttons")).next().is_some())
        .map(|c| c.select(&sel("a")).next().unwrap().text().collect())
        .collect();
    assert_eq!(with_buttons, ["prod"], "{page}");
    let field = doc
        .select(&sel(".graph form.gate-buttons input[name=environment]"))
        .next()
        .unwrap();
    assert_eq!(field.value().attr("value"), Some(env_id.as_str()));
    let resp = alice
        .post(r.server.url("/alice/demo/runs/1/review"))
        .form(&[
            ("csrf", common::csrf_of(&page).as_str()),
            ("environment", env_id.as_str()),
            ("state", "approved"),
            ("comment", "looks good"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(r.wait_run(1)["conclusion"], "success");
    let page = alice
        .get(r.server.url("/alice/demo/runs/1"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!page.contains("Waiting for review"));
    assert!(
        page.contains("<strong>alice</strong> approved the deployment to <strong>prod</strong>"),
        "{page}"
    );
    assert!(page.contains("looks good"));
}

#[test]
fn admins_protect_an_environment_on_its_settings_page() {
    let r = repo();
    let bob = r.server.user("bob", "pw-bob-1234", false);
    let alice = common::sign_in(&r.server, "alice", "pw-alice-1");
    let page_url = r.server.url("/alice/demo/settings/environments");
    let page = alice.get(&page_url).send().unwrap().text().unwrap();
    let csrf = common::csrf_of(&page);
    let post = |path: &str, form: &[(&str, &str)]| {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        alice.post(r.server.url(path)).form(&fields).send().unwrap()
    };
    assert_eq!(
        post("/alice/demo/settings/environments", &[("name", "prod")]).status(),
        303
    );
    let again = post("/alice/demo/settings/environments", &[("name", "PROD")]);
    assert_eq!(again.status(), 409, "names differ only in case");
    assert!(again.text().unwrap().contains("already"));

    // Bob cannot push yet: he cannot be a reviewer, and nothing is saved.
    let save = |reviewers: &str, timer: &str, branches: &str| {
        post(
            "/alice/demo/settings/environments/prod",
            &[
                ("reviewers", reviewers),
                ("wait_timer", timer),
                ("branches", branches),
                ("tags", "v*"),
            ],
        )
    };
    let refused = save("bob", "0", "main");
    assert_eq!(refused.status(), 400);
    assert!(refused.text().unwrap().contains("bob cannot push to this repository"));
    assert_eq!(save("alice", "-1", "").status(), 400, "a negative wait timer");
    let (_, env) = call(&r, "GET", "/environments/prod", &r.token, None);
    assert_eq!(env["protection_rules"].as_array().unwrap().len(), 0, "{env}");

    may_push(&r, "bob");
    assert_eq!(save("bob, alice", "5", "main\nrelease/*").status(), 303);
    let (_, env) = call(&r, "GET", "/environments/prod", &r.token, None);
    let rules = env["protection_rules"].as_array().unwrap();
    assert_eq!(rules[0]["wait_timer"], 5);
    let reviewers: Vec<&str> = rules[1]["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["reviewer"]["login"].as_str().unwrap())
        .collect();
    assert_eq!(reviewers, ["alice", "bob"]);
    let (_, policies) = call(
        &r,
        "GET",
        "/environments/prod/deployment-branch-policies",
        &r.token,
        None,
    );
    let names: Vec<(&str, &str)> = policies["branch_policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["type"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("main", "branch"), ("release/*", "branch"), ("v*", "tag")]);
    let page = alice.get(&page_url).send().unwrap().text().unwrap();
    assert!(page.contains("value=\"alice, bob\""), "{page}");

    // Secrets and variables of the environment, from the same page.
    let saved = post(
        "/alice/demo/settings/environments/prod/secrets",
        &[("name", "api_token"), ("value", "s3cr3t-981")],
    );
    assert_eq!(saved.status(), 303);
    let saved = post(
        "/alice/demo/settings/environments/prod/variables",
        &[("name", "REGION"), ("value", "eu-west")],
    );
    assert_eq!(saved.status(), 303);
    let bad = post(
        "/alice/demo/settings/environments/prod/variables",
        &[("name", "9lives"), ("value", "x")],
    );
    assert_eq!(bad.status(), 400);
    let page = alice.get(&page_url).send().unwrap().text().unwrap();
    assert!(
        page.contains("<code>API_TOKEN</code>") && !page.contains("s3cr3t-981"),
        "{page}"
    );
    assert!(page.contains("<code>REGION</code> = <code>eu-west</code>"));
    let deleted = post("/alice/demo/settings/environments/prod/secrets/API_TOKEN/delete", &[]);
    assert_eq!(deleted.status(), 303);
    let (_, secrets) = call(&r, "GET", "/environments/prod/secrets", &r.token, None);
    assert_eq!(secrets["total_count"], 0);

    // Only admins see the page.
    let (status, _) = r
        .server
        .api("GET", "/alice/demo/settings/environments", Some(&bob), None);
    assert_eq!(status, 403);
}

#[test]
fn environment_secrets_and_variables_reach_only_the_jobs_deploying_there() {
    let r = repo();
    call(&r, "PUT", "/environments/prod", &r.token, None);
    let (status, _) = call(
        &r,
        "PUT",
        "/environments/prod/secrets/deploy_key",
        &r.token,
        Some(json!({"value": "prod-key-7431"})),
    );
    assert_eq!(status, 201);
    let add = |name: &str, value: &str| {
        call(
            &r,
            "POST",
            "/environments/prod/variables",
            &r.token,
            Some(json!({"name": name, "value": value})),
        )
    };
    assert_eq!(add("REGION", "eu-west").0, 201);
    assert_eq!(add("REGION", "again").0, 409);
    assert_eq!(add("GITHUB_X", "no").0, 400);
    let (_, listed) = call(&r, "GET", "/environments/prod/secrets", &r.token, None);
    assert_eq!(listed["secrets"][0]["name"], "DEPLOY_KEY");
    // At most 100 variables (GitHub's limit); the 101st is refused.
    for i in 1..100 {
        assert_eq!(add(&format!("V{i}"), "x").0, 201);
    }
    let (status, body) = add("ONE_TOO_MANY", "x");
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("at most 100 variables"));
    assert!(!listed.to_string().contains("prod-key-7431"), "values are never shown");
    // Someone who can push but is no admin sees neither.
    let bob = r.server.user("bob", "pw-bob-1234", false);
    may_push(&r, "bob");
    assert_eq!(call(&r, "GET", "/environments/prod/variables", &bob, None).0, 403);

    let show = "      - env:\n          KEY: ${{ secrets.DEPLOY_KEY }}\n        run: |\n          [ -n \"$KEY\" ] && echo \"key: $KEY\" || echo no key\n          echo \"region: ${{ vars.REGION }}.\"\n";
    r.push_workflow(
        "deliver.yml",
        &format!(
            "on: push\njobs:\n  build:\n    steps:\n{show}  prod:\n    needs: build\n    environment: prod\n    steps:\n{show}"
        ),
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success");
    let jobs = r.jobs(&run);
    let build = r.log(r.job(&jobs, "build"));
    assert!(build.contains("no key") && build.contains("region: ."), "{build}");
    let prod = r.log(r.job(&jobs, "prod"));
    assert!(
        prod.contains("key: ***"),
        "the value reaches the job, masked in its log: {prod}"
    );
    assert!(!prod.contains("prod-key-7431"));
    assert!(prod.contains("region: eu-west."), "{prod}");
}

/// A wait timer is in minutes: this test waits one, the shortest there is.
#[test]
fn a_deployment_waits_out_its_environment_s_wait_timer() {
    let r = repo();
    let (status, body) = call(
        &r,
        "PUT",
        "/environments/beta",
        &r.token,
        Some(json!({"wait_timer": 1})),
    );
    assert_eq!(status, 200, "{body}");
    r.push_workflow(
        "deliver.yml",
        "on: push\njobs:\n  beta:\n    environment: beta\n    steps:\n      - run: date +%s\n",
        "main",
    );
    let pushed = Instant::now();
    let (_, job) = wait_job(&r, 1, "beta", "queued");
    assert_eq!(job["status"], "queued");
    // Held for the whole minute (the deployment let through, not started).
    std::thread::sleep(Duration::from_secs(50));
    let run = r.runs().into_iter().find(|x| x["run_number"] == 1).unwrap();
    assert_eq!(
        r.jobs(&run)[0]["status"],
        "queued",
        "started before its wait timer ran out"
    );
    let (_, list) = call(&r, "GET", "/deployments?environment=beta", &r.token, None);
    assert_eq!(list[0]["state"], "queued", "{list}");
    let run = {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let run = r.runs().into_iter().find(|x| x["run_number"] == 1).unwrap();
            if run["status"] == "completed" {
                break run;
            }
            assert!(Instant::now() < deadline, "the wait timer never let it go: {run}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    assert_eq!(run["conclusion"], "success");
    assert!(pushed.elapsed() >= Duration::from_secs(59), "{:?}", pushed.elapsed());
}

#[test]
fn one_deployment_at_a_time_per_environment() {
    let r = repo();
    let flag = common::Flag::new("first-deploy");
    r.push_workflow(
        "deliver.yml",
        &format!(
            "on: push\njobs:\n  beta:\n    environment: beta\n    steps:\n      - run: |\n          if [ \"$GITHUB_RUN_NUMBER\" = 1 ]; then {}; fi\n",
            flag.wait()
        ),
        "main",
    );
    wait_job(&r, 1, "beta", "in_progress");
    r.commit_and_push("Second", "main");
    // The second run's deployment is let through its gate but waits its
    // turn, queued, while the first deploys.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen_waiting = false;
    while Instant::now() < deadline {
        let (_, list) = call(&r, "GET", "/deployments?environment=beta", &r.token, None);
        if list.as_array().unwrap().len() == 2 {
            seen_waiting = true;
            assert_eq!(list[0]["state"], "queued", "{list}");
            assert_eq!(list[1]["state"], "in_progress");
        }
        let second = r.runs().into_iter().find(|x| x["run_number"] == 2);
        if let Some(run) = second {
            assert_ne!(r.jobs(&run)[0]["status"], "in_progress", "two deployments at once");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(seen_waiting, "the second deployment never reached its gate");
    flag.raise();
    assert_eq!(r.wait_run(1)["conclusion"], "success");
    assert_eq!(r.wait_run(2)["conclusion"], "success");
    let (_, list) = call(&r, "GET", "/deployments?environment=beta", &r.token, None);
    assert_eq!(list.as_array().unwrap().len(), 2);
    // The environment now runs the second commit.
    let page = r.server.get("/alice/demo/environments").text().unwrap();
    let newest = list[0]["sha"].as_str().unwrap();
    assert!(page.contains(&format!("Runs <a class=\"sha\" href=\"/alice/demo/commit/{newest}\">")));
}

#[test]
fn every_stage_deploys_the_bytes_the_build_made_and_says_which() {
    let r = repo();
    let deploy = |env: &str, needs: &str| {
        format!(
            "  {env}:\n    needs: {needs}\n    environment: {env}\n    steps:\n      - uses: actions/download-artifact@v4\n        with:\n          name: app\n      - run: cat app.txt\n"
        )
    };
    r.push_workflow(
        "deliver.yml",
        &format!(
            "on: push\njobs:\n  build:\n    steps:\n      - run: echo \"app built at $GITHUB_SHA\" > app.txt\n      - uses: actions/upload-artifact@v4\n        with:\n          name: app\n          path: app.txt\n{}{}{}",
            deploy("beta", "build"),
            deploy("gamma", "beta"),
            deploy("prod", "gamma")
        ),
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success", "{:?}", r.jobs(&run));
    let (_, list) = call(&r, "GET", "/deployments", &r.token, None);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let digests: Vec<&str> = list
        .iter()
        .map(|d| {
            assert_eq!(d["payload"]["artifacts"][0]["name"], "app", "{d}");
            d["payload"]["artifacts"][0]["sha256"].as_str().unwrap()
        })
        .collect();
    assert_eq!(digests[0].len(), 64);
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "beta, gamma and prod: the same bytes"
    );
    let page = r.server.get("/alice/demo/environments").text().unwrap();
    assert_eq!(page.matches(&format!("app {}", &digests[0][..12])).count(), 3, "{page}");
    // The repository's home says what each environment runs.
    let home = r.server.get("/alice/demo").text().unwrap();
    let sha = run["head_sha"].as_str().unwrap();
    for env in ["beta", "gamma", "prod"] {
        assert!(
            home.contains(&format!("{env} <a class=\"sha\" href=\"/alice/demo/commit/{sha}\"")),
            "{home}"
        );
    }
}

#[test]
fn redeploying_an_earlier_deployment_puts_its_bytes_back_as_a_rollback() {
    let r = repo();
    let workflow = "on: push
jobs:
  build:
    steps:
      - run: echo \"version $GITHUB_SHA\" > app.txt
      - uses: actions/upload-artifact@v4
        with:
          name: app
          path: app.txt
  beta:
    needs: build
    environment: beta
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: app
      - run: cat app.txt
";
    let first = r.push_workflow("deliver.yml", workflow, "main");
    assert_eq!(r.wait_run(1)["conclusion"], "success");
    r.commit_and_push("Second", "main");
    assert_eq!(r.wait_run(2)["conclusion"], "success");
    let (_, list) = call(&r, "GET", "/deployments", &r.token, None);
    let (newer, older) = (list[0].clone(), list[1].clone());
    assert_eq!(older["sha"], first.as_str());

    // Bad input changes nothing: an unknown deployment, a reader.
    assert_eq!(call(&r, "POST", "/deployments/999/redeploy", &r.token, None).0, 404);
    let rita = r.server.user("rita", "pw-rita-1234", false);
    call(
        &r,
        "PUT",
        "/collaborators/rita",
        &r.token,
        Some(json!({"permission": "read"})),
    );
    let path = format!("/deployments/{}/redeploy", older["id"]);
    assert_eq!(call(&r, "POST", &path, &rita, None).0, 403);

    // From the environments page, as a person would.
    let alice = common::sign_in(&r.server, "alice", "pw-alice-1");
    let page = alice
        .get(r.server.url("/alice/demo/environments"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        page.matches(">Redeploy</button>").count(),
        1,
        "only the earlier one: {page}"
    );
    let resp = alice
        .post(r.server.url(&format!("/alice/demo{path}")))
        .form(&[("csrf", common::csrf_of(&page).as_str())])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/alice/demo/runs/3");
    let run = r.wait_run(3);
    assert_eq!(run["conclusion"], "success");
    assert_eq!(run["head_sha"], first.as_str());
    let jobs = r.jobs(&run);
    assert!(
        r.log(r.job(&jobs, "beta")).contains(&format!("version {first}")),
        "the old bytes"
    );
    assert_eq!(r.log(r.job(&jobs, "build")), "", "the build did not run again");

    let (_, list) = call(&r, "GET", "/deployments?environment=beta", &r.token, None);
    let rollback = &list[0];
    assert_eq!(rollback["sha"], first.as_str());
    assert_eq!(rollback["rollback_of"], older["id"]);
    assert_eq!(
        rollback["payload"]["artifacts"][0]["sha256"], older["payload"]["artifacts"][0]["sha256"],
        "the same artifact as the first time"
    );
    assert_ne!(
        rollback["payload"]["artifacts"][0]["sha256"],
        newer["payload"]["artifacts"][0]["sha256"]
    );
    let page = r.server.get("/alice/demo/environments").text().unwrap();
    assert!(
        page.contains(&format!("Runs <a class=\"sha\" href=\"/alice/demo/commit/{first}\">")),
        "{page}"
    );
    assert!(page.contains("<span class=\"label\">rollback</span>"));
    // A failed deployment cannot be deployed again.
    r.push_workflow("deliver.yml", &format!("{workflow}      - run: exit 1\n"), "main");
    assert_eq!(r.wait_run(4)["conclusion"], "failure");
    let (_, list) = call(&r, "GET", "/deployments?environment=beta", &r.token, None);
    assert_eq!(list[0]["state"], "failure");
    let (status, body) = call(
        &r,
        "POST",
        &format!("/deployments/{}/redeploy", list[0]["id"]),
        &r.token,
        None,
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("only a successful deployment")
    );
    assert_eq!(r.runs().len(), 4, "no run was started");
}

#[test]
fn an_issue_shows_where_its_fix_went() {
    let r = repo();
    let alice = user_id(&r, &r.token);
    call(
        &r,
        "PUT",
        "/environments/prod",
        &r.token,
        Some(json!({"reviewers": [{"type": "User", "id": alice}]})),
    );
    let (status, _) = call(
        &r,
        "POST",
        "/issues",
        &r.token,
        Some(json!({"title": "The login button is blue"})),
    );
    assert_eq!(status, 201);
    // The workflow first, then the fix on top of it, then one more commit.
    r.push_workflow("deliver.yml", PIPELINE, "main");
    wait_job(&r, 1, "prod", "waiting");
    let fix = r.commit_and_push("Make the login button green, fixes #1", "main");
    wait_job(&r, 2, "prod", "waiting");
    // The newer deployment superseded the one still held for review.
    let first = r.wait_run(1);
    assert_eq!(first["conclusion"], "cancelled");
    let jobs = r.jobs(&first);
    let held = r.job(&jobs, "prod");
    assert_eq!(held["conclusion"], "cancelled");
    assert!(r.log(held).contains("superseded by run #2"), "{}", r.log(held));
    // beta runs the fix; prod waits for approval.
    let page = r.server.get("/alice/demo/issues/1").text().unwrap();
    let line = {
        let at = page
            .find(&format!(
                "<li class=\"reach\"><a class=\"sha\" href=\"/alice/demo/commit/{fix}\">"
            ))
            .expect("the fixing commit is listed");
        page[at..].split("</li>").next().unwrap().to_string()
    };
    assert!(line.contains("title=\"run: "), "its run's status: {line}");
    assert!(
        line.contains("beta <span class=\"status success\">✓</span> · prod <span class=\"status waiting\">waiting for approval</span>"),
        "{line}"
    );
}

#[test]
fn an_environment_named_by_an_expression_is_the_one_each_instance_deploys_to() {
    let r = repo();
    r.push_workflow(
        "deliver.yml",
        "on: push
jobs:
  deploy:
    strategy:
      matrix:
        stage: [beta, gamma]
    environment: ${{ matrix.stage }}
    steps:
      - run: echo deploying
  broken:
    environment: ${{ matrix.nothing }}
    steps:
      - run: echo never
",
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let broken = r.job(&jobs, "broken");
    assert_eq!(broken["conclusion"], "failure");
    assert!(r.log(broken).contains("Hearth: environment \"\""), "{}", r.log(broken));
    let (_, envs) = call(&r, "GET", "/environments", &r.token, None);
    let names: Vec<&str> = envs["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["beta", "gamma"]);
    let (_, list) = call(&r, "GET", "/deployments", &r.token, None);
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[test]
fn a_job_hands_over_its_junit_report_and_the_run_shows_failures_first() {
    let r = repo();
    let junit = r#"<testsuite name="login" tests="3"><testcase classname="login" name="test_ok" time="0.01"/><testcase classname="login" name="test_colour" time="0.02"><failure message="blue is not green">AssertionError: blue</failure></testcase><testcase classname="login" name="test_later"><skipped/></testcase></testsuite>"#;
    r.push_workflow(
        "ci.yml",
        &format!(
            "on: push
jobs:
  test:
    steps:
      - run: |
          mkdir -p reports
          cat > reports/login.xml <<'XML'
          {junit}
          XML
          echo 'not xml at all' > reports/broken.xml
          # A report outside the workspace, reached by a link: never read.
          echo '{junit}' > \"$HOME/outside.xml\"
          ln -s \"$HOME/outside.xml\" reports/link.xml
      - uses: hearth/test-report
        with:
          path: reports/*.xml
          kind: functional
          name: Login tests
      - uses: hearth/test-report
        with:
          path: nothing-here/*.xml
"
        ),
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success", "reports do not change the job's result");
    let jobs = r.jobs(&run);
    let log = r.log(&jobs[0]);
    assert!(
        log.contains("Hearth: Login tests: 3 tests, 1 failed, 0 errors, 1 skipped"),
        "{log}"
    );
    assert!(log.contains("Warning: test report: reports/broken.xml:"), "{log}");
    assert!(log.contains("Warning: test report: no files match"), "{log}");
    let (status, reports) = r.server.api(
        "GET",
        &format!("/api/v1/repos/alice/demo/actions/runs/{}/test-reports", run["id"]),
        Some(&r.token),
        None,
    );
    assert_eq!(status, 200);
    let first = &reports["test_reports"][0];
    assert_eq!(first["kind"], "functional");
    assert_eq!(first["failed"][0]["name"], "test_colour");
    assert_eq!(first["failed"][0]["message"], "blue is not green");
    let page = r.server.get("/alice/demo/runs/1").text().unwrap();
    let tests = page.find("<h3>Tests</h3>").expect("a Tests section");
    let login = page[tests..].find("Login tests").unwrap();
    let empty = page[tests..].find("Test report").unwrap();
    assert!(login < empty, "the report with failures comes first");
    assert!(page.contains("<strong>test_colour</strong>"));
}

#[test]
fn an_issue_shows_the_test_totals_of_its_fixing_commit() {
    let r = repo();
    let (status, _) = call(&r, "POST", "/issues", &r.token, Some(json!({"title": "Flaky login"})));
    assert_eq!(status, 201);
    let junit = r#"<testsuite name="s"><testcase name="a"/><testcase name="b"><failure message="no"/></testcase><testcase name="c"/></testsuite>"#;
    let dir = r.work.join(".hearth/workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ci.yml"),
        format!(
            "on: push\njobs:\n  test:\n    steps:\n      - run: echo '{junit}' > report.xml\n      - uses: hearth/test-report\n        with:\n          path: report.xml\n"
        ),
    )
    .unwrap();
    let fix = r.commit_and_push("Retry the login, fixes #1", "main");
    r.wait_run(1);
    let page = r.server.get("/alice/demo/issues/1").text().unwrap();
    let at = page
        .find(&format!(
            "<li class=\"reach\"><a class=\"sha\" href=\"/alice/demo/commit/{fix}\">"
        ))
        .expect("the fixing commit is listed");
    let line = page[at..].split("</li>").next().unwrap();
    assert!(line.contains("3 tests, 1 failed"), "{line}");
    // And beside the commit where the code is: its history, its tree.
    for path in ["/alice/demo/commits/main", "/alice/demo", "/alice/demo/branches"] {
        let page = r.server.get(path).text().unwrap();
        assert!(
            page.contains("<a class=\"muted tests\" href=\"/alice/demo/runs/1\">3 tests, 1 failed</a>"),
            "{path}: {page}"
        );
    }
}
