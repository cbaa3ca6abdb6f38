//! CI through real pushes: runs appear and succeed or fail, jobs follow
//! `needs`, logs hold the output, the environment is set, parse errors fail
//! the run with a message, timeouts and finished steps leave no process
//! behind, and a crash mid-job is recovered at start-up.

mod common;

use std::time::{Duration, Instant};

use common::ci::{Repo, repo, repo_on, repo_with};
use common::{Git, TestServer};
use serde_json::Value;

#[test]
fn a_passing_workflow_runs_its_jobs_in_order_in_a_checkout() {
    let r = repo();
    let sha = r.push_workflow(
        "ci.yml",
        r#"name: CI
on: [push]
env:
  GREETING: hello
jobs:
  build:
    name: Build it
    steps:
      - uses: actions/checkout@v4
      - run: echo "$GREETING from hearth ci $GITHUB_SHA on $GITHUB_REF_NAME in $GITHUB_REPOSITORY run $GITHUB_RUN_NUMBER"
      - name: Set a variable for later steps
        run: |
          echo "MADE_BY_STEP=yes" >> "$GITHUB_ENV"
          test "$CI" = true
      - run: echo "later step sees MADE_BY_STEP=$MADE_BY_STEP"
  test:
    needs: build
    steps:
      - run: test -f README.md && test "$PWD" = "$GITHUB_WORKSPACE" && echo "workspace has the checkout"
      - run: echo "workflow $GITHUB_WORKFLOW on $RUNNER_OS/$RUNNER_ARCH (${{ runner.arch }})"
"#,
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(run["name"], "CI");
    assert_eq!(run["head_sha"], sha);
    assert_eq!(run["head_branch"], "main");
    let jobs = r.jobs(&run);
    let build = r.job(&jobs, "build");
    let test = r.job(&jobs, "test");
    assert_eq!(build["name"], "Build it");
    assert_eq!(build["steps"].as_array().unwrap().len(), 4);
    assert!(
        build["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["conclusion"] == "success")
    );
    assert!(
        test["started_at"].as_str().unwrap() >= build["completed_at"].as_str().unwrap(),
        "needs order"
    );
    let log = r.log(build);
    assert!(
        log.contains(&format!("hello from hearth ci {sha} on main in alice/demo run 1")),
        "{log}"
    );
    assert!(log.contains("later step sees MADE_BY_STEP=yes"), "{log}");
    let test_log = r.log(r.job(&jobs, "test"));
    assert!(
        test_log.contains("workflow CI on Linux/X64 (X64)") || !cfg!(target_arch = "x86_64"),
        "{test_log}"
    );
    assert!(log.lines().all(|l| l.starts_with("20")), "every line timestamped");
    assert!(r.log(test).contains("workspace has the checkout"));
    // The workspace is gone after the job.
    let work = r.server.data.join("work");
    assert!(
        std::fs::read_dir(&work).map(|d| d.count()).unwrap_or(0) == 0,
        "workspaces deleted"
    );
    // The pages show it.
    let page = r.server.get("/alice/demo/runs/1").text().unwrap();
    assert!(page.contains("Build it") && page.contains("success"));
    let page = r
        .server
        .get(&format!("/alice/demo/runs/1/jobs/{}", build["id"]))
        .text()
        .unwrap();
    assert!(page.contains("later step sees MADE_BY_STEP=yes"));
    assert!(r.server.get("/alice/demo/runs").text().unwrap().contains("CI #1"));
    // The status shows beside the commit: history, branches, home, and a badge.
    for page in ["/alice/demo/commits/main", "/alice/demo/branches", "/alice/demo"] {
        let html = r.server.get(page).text().unwrap();
        assert!(
            html.contains("class=\"status success\" href=\"/alice/demo/runs/1\""),
            "{page}"
        );
    }
    let badge = r.server.get("/alice/demo/badge.svg?branch=main&workflow=ci.yml");
    assert_eq!(badge.headers()["content-type"], "image/svg+xml");
    assert!(badge.text().unwrap().contains("CI: passing"));
    assert!(
        r.server
            .get("/alice/demo/badge.svg?branch=nope")
            .text()
            .unwrap()
            .contains("no runs")
    );
}

#[test]
fn a_failing_step_fails_the_job_skips_the_rest_and_the_jobs_that_need_it() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  build:\n    steps:\n      - run: echo before\n      - run: exit 3\n      - run: echo never\n  deploy:\n    needs: [build]\n    steps:\n      - run: echo deploying\n  lint:\n    steps:\n      - run: echo lint ok\n",
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "failure");
    let jobs = r.jobs(&run);
    let build = r.job(&jobs, "build");
    assert_eq!(build["conclusion"], "failure");
    let steps = build["steps"].as_array().unwrap();
    assert_eq!(steps[0]["conclusion"], "success");
    assert_eq!(
        (steps[1]["conclusion"].as_str(), steps[1]["exit_code"].as_i64()),
        (Some("failure"), Some(3))
    );
    assert_eq!(steps[2]["conclusion"], "skipped");
    assert_eq!(r.job(&jobs, "deploy")["conclusion"], "skipped");
    assert_eq!(r.job(&jobs, "lint")["conclusion"], "success");
    let log = r.log(build);
    assert!(
        log.contains("before") && !log.contains("never") && log.contains("exited with code 3"),
        "{log}"
    );
}

#[test]
fn branch_filters_and_deleted_branches() {
    let r = repo();
    r.push_workflow(
        "main-only.yml",
        "on:\n  push:\n    branches: [main, 'release/**']\njobs:\n  a:\n    steps: [{run: 'true'}]\n",
        "main",
    );
    r.wait_run(1);
    r.commit_and_push("On a topic", "topic");
    r.commit_and_push("On a release", "release/2.x/rc");
    r.wait_run(2);
    let runs = r.runs();
    assert_eq!(runs.len(), 2, "topic did not trigger: {runs:?}");
    assert_eq!(runs[0]["head_branch"], "release/2.x/rc");
    let url = r.server.cred_url("alice", &r.token, "/alice/demo.git");
    r.git
        .ok(Some(&r.work), &["push", "-q", &url, "--delete", "release/2.x/rc"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(r.runs().len(), 2, "a deletion triggers nothing");
}

#[test]
fn ten_pushes_in_a_row_give_ten_runs() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - run: echo run $GITHUB_RUN_NUMBER\n",
        "main",
    );
    for i in 0..9 {
        r.commit_and_push(&format!("Change {i}"), "main");
    }
    for n in 1..=10 {
        assert_eq!(r.wait_run(n)["conclusion"], "success");
    }
    assert_eq!(r.runs().len(), 10);
}

#[test]
fn timeouts_and_finished_steps_leave_no_process_behind() {
    let r = repo();
    // A unique argument, so this test's sleeps can be told from others'.
    let marker = format!("{}", 100_000 + std::process::id() % 100_000);
    r.push_workflow(
        "ci.yml",
        &format!(
            "on: push\njobs:\n  background:\n    steps:\n      - run: (sleep {marker}1 &) ; nohup sleep {marker}2 >/dev/null 2>&1 & echo left two sleeps\n  slow:\n    timeout-minutes: 0.05\n    steps:\n      - run: sleep {marker}3 & sleep {marker}4\n"
        ),
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    assert_eq!(r.job(&jobs, "background")["conclusion"], "success");
    assert_eq!(r.job(&jobs, "slow")["conclusion"], "timed_out");
    assert!(r.log(r.job(&jobs, "slow")).contains("ran out of time"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::processes_matching(&format!("sleep {marker}")) > 0 {
        assert!(Instant::now() < deadline, "a sleep survived its job");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_job_running_when_the_server_dies_fails_at_the_next_start() {
    let marker = format!("{}", 300_000 + std::process::id() % 100_000);
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let mut server = TestServer::start_in(&data, &[], &[]);
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", false);
    let git = Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", work.to_str().unwrap()]);
    std::fs::create_dir_all(work.join(".hearth/workflows")).unwrap();
    std::fs::write(
        work.join(".hearth/workflows/ci.yml"),
        format!("on: push\njobs:\n  long:\n    steps:\n      - run: echo started; sleep {marker}\n"),
    )
    .unwrap();
    git.ok(Some(&work), &["add", "-A"]);
    git.ok(Some(&work), &["commit", "-qm", "Long job"]);
    git.ok(
        Some(&work),
        &[
            "push",
            "-q",
            &server.cred_url("alice", &token, "/alice/demo.git"),
            "main",
        ],
    );
    let log = data.join("runs/1/1.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("started") {
        assert!(Instant::now() < deadline, "the job never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill();
    let server = TestServer::start_in(&data, &[], &[]);
    let (_, runs) = server.api("GET", "/api/v1/repos/alice/demo/actions/runs", Some(&token), None);
    let run = &runs["workflow_runs"][0];
    assert_eq!(
        (run["status"].as_str(), run["conclusion"].as_str()),
        (Some("completed"), Some("failure")),
        "{run}"
    );
    assert!(std::fs::read_to_string(&log).unwrap().contains("server restarted"));
    // The job's processes went with the server, or at the next start.
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::processes_matching(&format!("sleep {marker}")) > 0 {
        assert!(Instant::now() < deadline, "a process of the interrupted job survived");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn post(r: &Repo, path: &str) -> (u16, Value) {
    r.server
        .api("POST", &format!("/api/v1/repos/alice/demo{path}"), Some(&r.token), None)
}

#[test]
fn cancel_a_running_job_and_re_run_failed_jobs() {
    let r = repo();
    let marker = format!("{}", 500_000 + std::process::id() % 100_000);
    let flag = common::Flag::new("ci-flag");
    r.push_workflow(
        "long.yml",
        &format!(
            "name: Long\non: push\njobs:\n  long:\n    steps:\n      - run: echo started; sleep {marker}\n      - run: echo never\n      - if: always()\n        run: echo cleaning up\n      - if: cancelled()\n        run: echo noticed the cancel\n"
        ),
        "main",
    );
    let log_has_started = || {
        let run = r.runs().into_iter().find(|x| x["run_number"] == 1).unwrap();
        r.jobs(&run).first().is_some_and(|j| r.log(j).contains("started"))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log_has_started() {
        assert!(Instant::now() < deadline, "the long job never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let run_id = r.runs()[0]["id"].as_i64().unwrap();
    // Readers may not cancel; the owner may.
    let reader = r.server.user("rita", "pw-rita-12", false);
    let (status, _) = r.server.api(
        "POST",
        &format!("/api/v1/repos/alice/demo/actions/runs/{run_id}/cancel"),
        Some(&reader),
        None,
    );
    assert_eq!(status, 403);
    assert_eq!(post(&r, &format!("/actions/runs/{run_id}/cancel")).0, 202);
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "cancelled");
    assert_eq!(r.jobs(&run)[0]["conclusion"], "cancelled");
    let log = r.log(&r.jobs(&run)[0]);
    assert!(log.contains("cancelled"));
    // What a cancelled job still runs: its always() and cancelled() steps.
    assert!(
        log.contains("cleaning up") && log.contains("noticed the cancel"),
        "{log}"
    );
    assert!(!log.contains("\nnever") && !log.contains(" never\n"), "{log}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::processes_matching(&format!("sleep {marker}")) > 0 {
        assert!(Instant::now() < deadline, "the cancelled step's process survived");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        post(&r, &format!("/actions/runs/{run_id}/cancel")).0,
        409,
        "completed already"
    );

    // A flaky job: fails until the flag file exists.
    r.push_workflow(
        "flaky.yml",
        &format!(
            "name: Flaky\non: push\njobs:\n  build:\n    steps:\n      - run: echo built\n  test:\n    needs: build\n    steps:\n      - run: {}\n",
            flag.test()
        ),
        "main",
    );
    let flaky = loop {
        if let Some(x) = r
            .runs()
            .into_iter()
            .find(|x| x["name"] == "Flaky" && x["status"] == "completed")
        {
            break x;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(flaky["conclusion"], "failure");
    flag.raise();
    let (status, again) = post(&r, &format!("/actions/runs/{}/rerun-failed-jobs", flaky["id"]));
    assert_eq!(status, 201, "{again}");
    let again = r.wait_run(again["run_number"].as_i64().unwrap());
    assert_eq!(again["conclusion"], "success");
    assert_eq!(again["head_sha"], flaky["head_sha"]);
    let jobs = r.jobs(&again);
    let build = r.job(&jobs, "build");
    assert_eq!(build["conclusion"], "success");
    assert!(r.log(build).is_empty(), "the successful job was not run again");
    assert!(!r.log(r.job(&jobs, "test")).is_empty());
    let (status, _) = post(&r, &format!("/actions/runs/{}/rerun-failed-jobs", again["id"]));
    assert_eq!(status, 409, "nothing failed");
    let (status, whole) = post(&r, &format!("/actions/runs/{}/rerun", again["id"]));
    assert_eq!(status, 201);
    let whole = r.wait_run(whole["run_number"].as_i64().unwrap());
    assert!(
        !r.log(r.job(&r.jobs(&whole), "build")).is_empty(),
        "a full re-run runs every job"
    );
}

#[test]
fn the_push_output_names_the_runs_it_started() {
    let r = repo();
    let dir = r.work.join(".hearth/workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ci.yml"),
        "on: push\njobs:\n  a:\n    steps: [{run: 'true'}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("other.yml"),
        "on:\n  push:\n    branches: [release]\njobs:\n  a:\n    steps: [{run: 'true'}]\n",
    )
    .unwrap();
    r.git.ok(Some(&r.work), &["add", "-A"]);
    r.git.ok(Some(&r.work), &["commit", "-qm", "Workflows"]);
    let url = r.server.cred_url("alice", &r.token, "/alice/demo.git");
    let out = r.git.run(Some(&r.work), &["push", &url, "HEAD:refs/heads/main"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "remote: Hearth: run #1 (ci.yml) queued → {}/alice/demo/runs/1",
        r.server.base
    );
    assert!(err.contains(&expected), "{err}");
    assert!(!err.contains("other.yml"), "only the runs this push started: {err}");
    assert_eq!(r.wait_run(1)["conclusion"], "success");
    // A push without side band (protocol v0 without it is rare) still works: plain git push again.
    r.git
        .ok(Some(&r.work), &["commit", "-q", "--allow-empty", "-m", "Again"]);
    let out = r.git.run(Some(&r.work), &["push", &url, "HEAD:refs/heads/main"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("run #2 (ci.yml) queued"));
}

#[test]
fn a_workflow_started_by_hand() {
    let r = repo();
    r.push_workflow(
        "manual.yml",
        "on: workflow_dispatch\njobs:\n  a:\n    steps:\n      - run: echo by hand on $GITHUB_REF_NAME\n",
        "main",
    );
    r.push_workflow(
        "auto.yml",
        "on: push\njobs:\n  a:\n    steps: [{run: 'true'}]\n",
        "main",
    );
    r.wait_run(1);
    assert!(
        r.runs().iter().all(|x| x["path"] != ".hearth/workflows/manual.yml"),
        "a push does not start it"
    );
    let dispatch = |file: &str, body: Value| {
        r.server.api(
            "POST",
            &format!("/api/v1/repos/alice/demo/actions/workflows/{file}/dispatches"),
            Some(&r.token),
            Some(body),
        )
    };
    assert_eq!(dispatch("manual.yml", serde_json::json!({"ref": "main"})).0, 204);
    let run = r
        .runs()
        .into_iter()
        .find(|x| x["path"] == ".hearth/workflows/manual.yml")
        .expect("a run");
    assert_eq!(run["event"], "workflow_dispatch");
    let run = r.wait_run(run["run_number"].as_i64().unwrap());
    assert_eq!(run["conclusion"], "success");
    assert!(r.log(&r.jobs(&run)[0]).contains("by hand on main"));
    assert_eq!(
        dispatch("auto.yml", serde_json::json!({"ref": "main"})).0,
        400,
        "no workflow_dispatch trigger"
    );
    assert_eq!(dispatch("nope.yml", serde_json::json!({"ref": "main"})).0, 404);
    assert_eq!(dispatch("manual.yml", serde_json::json!({"ref": "no-branch"})).0, 400);
    assert_eq!(
        dispatch("manual.yml", serde_json::json!({"ref": "main", "inputs": {"x": "1"}})).0,
        400
    );
    let reader = r.server.user("rita", "pw-rita-12", false);
    let (status, _) = r.server.api(
        "POST",
        "/api/v1/repos/alice/demo/actions/workflows/manual.yml/dispatches",
        Some(&reader),
        Some(serde_json::json!({"ref": "main"})),
    );
    assert_eq!(status, 403);
}

#[test]
fn expressions_and_conditions() {
    let r = repo();
    let sha = r.push_workflow(
        "ci.yml",
        r#"on: push
env:
  WHERE: ${{ github.ref_name }}
jobs:
  build:
    steps:
      - run: echo "sha ${{ github.sha }} on $WHERE in ${{ github.repository }}"
      - if: github.ref_name == 'main'
        run: echo "only on main"
      - if: ${{ github.ref_name == 'other' }}
        run: echo "never here"
      - run: exit 1
      - run: echo "after a failure, skipped"
      - name: Tell ${{ job.status }}
        if: failure()
        run: echo "cleaning up after the failure"
      - if: always()
        env:
          MSG: ${{ format('{0}-{1}', 'a', 'b') }}
        run: echo "always $MSG"
  report:
    needs: build
    if: always()
    steps:
      - run: echo "build was ${{ needs.build.result }}"
  deploy:
    needs: build
    steps:
      - run: echo "not after a failed build"
"#,
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "failure");
    let jobs = r.jobs(&run);
    let build = r.job(&jobs, "build");
    let log = r.log(build);
    assert!(log.contains(&format!("sha {sha} on main in alice/demo")), "{log}");
    assert!(log.contains("only on main") && !log.contains("never here"), "{log}");
    assert!(!log.contains("after a failure, skipped"), "{log}");
    assert!(
        log.contains("cleaning up after the failure") && log.contains("always a-b"),
        "{log}"
    );
    let conclusions: Vec<&str> = build["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["conclusion"].as_str().unwrap())
        .collect();
    assert_eq!(
        conclusions,
        [
            "success", "success", "skipped", "failure", "skipped", "success", "success"
        ]
    );
    assert!(r.log(r.job(&jobs, "report")).contains("build was failure"));
    assert_eq!(r.job(&jobs, "deploy")["conclusion"], "skipped");

    // A malformed expression fails the run with the line.
    r.push_workflow(
        "bad.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ github. }}\n",
        "main",
    );
    let bad = loop {
        if let Some(x) = r.runs().into_iter().find(|x| x["path"] == ".hearth/workflows/bad.yml") {
            break x;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(bad["error"].as_str().unwrap().contains("bad.yml:5:"), "{bad}");
}

#[test]
fn step_and_job_outputs() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        r#"on: push
jobs:
  build:
    outputs:
      version: ${{ steps.make.outputs.version }}
      notes: ${{ steps.make.outputs.notes }}
    steps:
      - id: make
        run: |
          echo "version=1.2.${GITHUB_RUN_NUMBER}" >> "$GITHUB_OUTPUT"
          printf 'notes<<END\nline one\nline two\nEND\n' >> "$GITHUB_OUTPUT"
      - run: echo "made ${{ steps.make.outputs.version }} (${{ steps.make.outcome }})"
  release:
    needs: build
    steps:
      - run: |
          echo "releasing ${{ needs.build.outputs.version }}"
          echo "${{ needs.build.outputs.notes }}" | wc -l
"#,
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success", "{run}");
    let jobs = r.jobs(&run);
    assert!(r.log(r.job(&jobs, "build")).contains("made 1.2.1 (success)"));
    let release = r.log(r.job(&jobs, "release"));
    assert!(release.contains("releasing 1.2.1"), "{release}");
    assert!(
        release.lines().any(|l| l.ends_with(" 2")),
        "two lines of notes: {release}"
    );
}

#[test]
fn continue_on_error_and_step_timeouts() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        r#"on: push
jobs:
  a:
    steps:
      - id: flaky
        continue-on-error: true
        run: exit 4
      - run: echo "went on after ${{ steps.flaky.outcome }} (${{ steps.flaky.conclusion }})"
      - timeout-minutes: 0.02
        run: sleep 30
      - run: echo never
"#,
        "main",
    );
    let run = r.wait_run(1);
    let job = &r.jobs(&run)[0];
    assert_eq!(job["conclusion"], "failure", "the step timeout fails the job");
    let steps: Vec<&str> = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["conclusion"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["failure", "success", "failure", "skipped"]);
    let log = r.log(job);
    assert!(log.contains("went on after failure (success)"), "{log}");
    assert!(log.contains("step's own timeout-minutes"), "{log}");
}

#[test]
fn secrets_reach_jobs_and_never_the_log() {
    let r = repo();
    let put = |name: &str, value: &str| {
        r.server.api(
            "PUT",
            &format!("/api/v1/repos/alice/demo/actions/secrets/{name}"),
            Some(&r.token),
            Some(serde_json::json!({ "value": value })),
        )
    };
    assert_eq!(put("deploy_token", "s3cr3t-value-42").0, 201);
    assert_eq!(
        put("DEPLOY_TOKEN", "s3cr3t-value-42").0,
        204,
        "names are upper-cased; a second put updates"
    );
    assert_eq!(put("GITHUB_TOKEN", "x").0, 400);
    assert_eq!(put("1BAD", "x").0, 400);
    let reader = r.server.user("rita", "pw-rita-12", false);
    let (status, _) = r
        .server
        .api("GET", "/api/v1/repos/alice/demo/actions/secrets", Some(&reader), None);
    assert_eq!(status, 403);
    let list = r.api("/actions/secrets");
    assert_eq!(list["secrets"][0]["name"], "DEPLOY_TOKEN");
    assert!(!list.to_string().contains("s3cr3t"), "values are never given back");
    // Sealed at rest: not in the database, and the key is in the data directory.
    let raw = std::fs::read(r.server.data.join("hearth.db")).unwrap();
    assert!(!raw.windows(15).any(|w| w == b"s3cr3t-value-42"));
    assert_eq!(std::fs::read(r.server.data.join("secrets.key")).unwrap().len(), 32);

    r.push_workflow(
        "ci.yml",
        r#"on: push
jobs:
  deploy:
    steps:
      - env:
          TOKEN: ${{ secrets.DEPLOY_TOKEN }}
        run: |
          echo "token is $TOKEN"
          test "$TOKEN" = "s3cr3t-value-42" && echo "the job got the value"
          echo "::add-mask::temporary-password"
          echo "using temporary-password now"
"#,
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success");
    let log = r.log(&r.jobs(&run)[0]);
    assert!(log.contains("the job got the value"), "{log}");
    assert!(log.contains("token is ***") && !log.contains("s3cr3t"), "{log}");
    assert!(
        log.contains("using *** now") && !log.contains("temporary-password"),
        "{log}"
    );
    let (status, _) = r.server.api(
        "DELETE",
        "/api/v1/repos/alice/demo/actions/secrets/deploy_token",
        Some(&r.token),
        None,
    );
    assert_eq!(status, 204);
    assert_eq!(r.api("/actions/secrets")["total_count"], 0);
}

#[test]
fn a_matrix_runs_one_job_per_combination() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        r#"on: push
jobs:
  test:
    strategy:
      matrix:
        os: [linux, bsd]
        version: [1, 2]
        exclude:
          - os: bsd
            version: 1
    steps:
      - run: echo "testing on ${{ matrix.os }} version ${{ matrix.version }}"
  report:
    needs: test
    steps:
      - run: echo "all ${{ needs.test.result }}"
"#,
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success", "{run}");
    let jobs = r.jobs(&run);
    let mut names: Vec<&str> = jobs.iter().map(|j| j["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["report", "test (bsd, 2)", "test (linux, 1)", "test (linux, 2)"]);
    let bsd = jobs.iter().find(|j| j["name"] == "test (bsd, 2)").unwrap();
    assert!(r.log(bsd).contains("testing on bsd version 2"));
    let report = r.job(&jobs, "report");
    let last_test = jobs
        .iter()
        .filter(|j| j["key"] == "test")
        .map(|j| j["completed_at"].as_str().unwrap())
        .max()
        .unwrap();
    assert!(
        report["started_at"].as_str().unwrap() >= last_test,
        "report waits for every instance"
    );
    assert!(r.log(report).contains("all success"));
}

/// Reads Server-Sent Events from `body` until `stop` says so; returns them
/// as (event, id, data).
fn read_events(
    body: &mut impl std::io::BufRead,
    mut stop: impl FnMut(&str, &str) -> bool,
) -> Vec<(String, String, String)> {
    let mut events = Vec::new();
    let (mut event, mut id, mut data) = (String::new(), String::new(), Vec::<String>::new());
    let mut line = String::new();
    loop {
        line.clear();
        if body.read_line(&mut line).unwrap() == 0 {
            return events;
        }
        let line = line.trim_end_matches('\n');
        if line.is_empty() {
            if !event.is_empty() || !data.is_empty() {
                let done = stop(&event, &data.join("\n"));
                events.push((std::mem::take(&mut event), id.clone(), data.join("\n")));
                data.clear();
                if done {
                    return events;
                }
            }
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
        }
    }
}

#[test]
fn the_log_streams_live_while_the_job_runs() {
    let r = repo();
    let flag = common::Flag::new("live");
    r.push_workflow(
        "live.yml",
        &format!(
            "on: push\njobs:\n  live:\n    steps:\n      - name: Wait\n        run: |\n          echo first line\n          {}\n          printf 'second line \\033[31mred\\033[0m\\n'\n      - run: echo last step\n",
            flag.wait()
        ),
        "main",
    );
    let job = loop {
        let runs = r.runs();
        if let Some(run) = runs.first()
            && let Some(j) = r.jobs(run).into_iter().next()
            && j["status"] == "in_progress"
        {
            break j;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stream_url = format!("/alice/demo/runs/1/jobs/{}/stream", job["id"]);
    let resp = common::client().get(r.server.url(&stream_url)).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = std::io::BufReader::new(resp);
    let early = read_events(&mut body, |e, d| e == "log" && d.contains("first line"));
    assert!(early.iter().any(|(e, _, d)| e == "log" && d.contains("first line")));
    // The job is still waiting: the line arrived live, not at the end.
    let run = &r.runs()[0];
    assert_eq!(r.jobs(run)[0]["status"], "in_progress");
    flag.raise();
    let rest = read_events(&mut body, |_, _| false);
    let logs: String = rest
        .iter()
        .filter(|(e, _, _)| e == "log")
        .map(|(_, _, d)| format!("{d}\n"))
        .collect();
    assert!(logs.contains("second line red"), "escapes stripped: {logs}");
    assert!(logs.contains("last step"));
    assert!(!logs.contains("first line"), "no line is sent twice");
    assert_eq!(rest.last().unwrap().0, "end");
    let steps = rest.iter().rfind(|(e, _, _)| e == "steps").unwrap();
    let steps: Value = serde_json::from_str(&steps.2).unwrap();
    assert_eq!(steps[0]["state"], "success");

    // Resuming from an event's id sends only what came after it.
    let (_, id, _) = early.iter().rfind(|(e, _, _)| e == "log").unwrap().clone();
    let resp = common::client()
        .get(r.server.url(&stream_url))
        .header("Last-Event-ID", id)
        .send()
        .unwrap();
    let again = read_events(&mut std::io::BufReader::new(resp), |_, _| false);
    let text: String = again.iter().map(|(_, _, d)| d.as_str()).collect();
    assert!(text.contains("second line") && !text.contains("first line"), "{text}");

    // The page of a finished job has no stream; a job of another run is not found.
    let page = r
        .server
        .get(&format!("/alice/demo/runs/1/jobs/{}", job["id"]))
        .text()
        .unwrap();
    assert!(!page.contains("data-stream"));
    assert!(page.contains("second line red"));
    assert_eq!(
        r.server
            .get(&format!("/alice/demo/runs/2/jobs/{}/stream", job["id"]))
            .status(),
        404
    );
}

/// Counts the times a file is opened, with inotify (closes are watched
/// too: inotify merges an event into an unread one just like it).
struct Opens {
    fd: i32,
}

impl Opens {
    fn watch(path: &std::path::Path) -> Opens {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: plain system calls on a descriptor this struct owns.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(fd >= 0);
        assert!(unsafe { libc::inotify_add_watch(fd, name.as_ptr(), libc::IN_OPEN | libc::IN_CLOSE) } >= 0);
        Opens { fd }
    }

    /// Opens since the last call.
    fn count(&self) -> usize {
        let (mut n, mut buf) = (0, [0u8; 4096]);
        loop {
            // SAFETY: reads into a buffer of the length given.
            let got = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if got <= 0 {
                return n;
            }
            let mut at = 0;
            while at < got as usize {
                let event: libc::inotify_event = unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
                if event.mask & libc::IN_OPEN != 0 {
                    n += 1;
                }
                at += std::mem::size_of::<libc::inotify_event>() + event.len as usize;
            }
        }
    }
}

impl Drop for Opens {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor opened in `watch`.
        unsafe { libc::close(self.fd) };
    }
}

#[test]
fn two_viewers_of_a_running_job_are_told_its_lines_and_read_its_log_once() {
    let r = repo();
    let flag = common::Flag::new("viewers");
    r.push_workflow(
        "ticks.yml",
        &format!(
            "on: push\njobs:\n  ticks:\n    steps:\n      - run: |\n          {}\n          for i in $(seq 1 30); do echo tick $i; sleep 0.1; done\n          sleep 600\n",
            flag.wait()
        ),
        "main",
    );
    let (run, job) = loop {
        let runs = r.runs();
        if let Some(run) = runs.first()
            && let Some(j) = r.jobs(run).into_iter().next()
            && j["status"] == "in_progress"
        {
            break (run.clone(), j);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = r.server.data.join(format!("runs/{}/{}.log", run["id"], job["id"]));
    let opens = Opens::watch(&log);
    let stream_url = format!("/alice/demo/runs/1/jobs/{}/stream", job["id"]);
    let viewers: Vec<_> = (0..2)
        .map(|_| {
            let resp = common::client().get(r.server.url(&stream_url)).send().unwrap();
            assert_eq!(resp.status(), 200);
            std::io::BufReader::new(resp)
        })
        .collect();
    // The job goes on only once both watch; each is told every tick, once.
    flag.raise();
    let seen: Vec<Vec<String>> = std::thread::scope(|s| {
        let readers: Vec<_> = viewers
            .into_iter()
            .map(|mut body| {
                s.spawn(move || {
                    let events = read_events(&mut body, |e, d| e == "log" && d.contains("tick 30"));
                    events
                        .into_iter()
                        .filter(|(e, _, _)| e == "log")
                        .flat_map(|(_, _, d)| d.lines().map(str::to_string).collect::<Vec<_>>())
                        .filter_map(|l| l.split_once(' ').map(|(_, text)| text.to_string()))
                        .filter(|t| t.starts_with("tick "))
                        .collect()
                })
            })
            .collect();
        readers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ticks: Vec<String> = (1..=30).map(|i| format!("tick {i}")).collect();
    assert_eq!(seen[0], ticks);
    assert_eq!(seen[1], ticks);
    // Three seconds of output to two viewers: the log file was opened at
    // most once for each (to catch up), not every few hundred milliseconds.
    let opened = opens.count();
    assert!(
        opened <= 2,
        "the log was opened {opened} times while two viewers watched"
    );
    let cancelled = r.server.api(
        "POST",
        &format!("/api/v1/repos/alice/demo/actions/runs/{}/cancel", run["id"]),
        Some(&r.token),
        None,
    );
    assert_eq!(cancelled.0, 202);
    r.wait_run(1);
}

impl Repo {
    /// Waits until `pred` holds for the runs, or panics after 60 s.
    fn wait_until(&self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let runs = self.runs();
            if pred(&runs) {
                return runs;
            }
            assert!(Instant::now() < deadline, "{what}: {runs:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn run_n(runs: &[Value], n: i64) -> &Value {
        runs.iter().find(|r| r["run_number"] == n).unwrap()
    }
}

#[test]
fn concurrency_groups_cancel_in_progress_or_wait_their_turn() {
    let r = repo();
    let flag = common::Flag::new("turn");
    // Each commit says how it waits: on the flag file, or not at all.
    let workflow = |group: &str, cancel: bool| {
        format!(
            "on: push\nconcurrency:\n  group: {group}-${{{{ github.ref_name }}}}\n  cancel-in-progress: {cancel}\njobs:\n  deploy:\n    steps:\n      - run: echo deploying; if [ -e wait ]; then {}; fi\n",
            flag.wait()
        )
    };
    std::fs::write(r.work.join("wait"), "").unwrap();
    r.push_workflow("deploy.yml", &workflow("deploy", true), "main");
    r.wait_until("run 1 runs", |runs| runs.iter().any(|x| x["status"] == "in_progress"));
    std::fs::remove_file(r.work.join("wait")).unwrap();
    r.commit_and_push("second", "main");
    // The newer run cancels the one in progress and runs.
    let first = r.wait_run(1);
    assert_eq!(first["conclusion"], "cancelled");
    assert_eq!(r.wait_run(2)["conclusion"], "success");
    // Another branch is another group: it is not touched.
    assert_eq!(r.runs().iter().filter(|x| x["conclusion"] == "cancelled").count(), 1);

    // Without cancel-in-progress: the running run finishes, the pending one
    // is replaced by the newest, which waits its turn.
    std::fs::write(r.work.join("wait"), "").unwrap();
    r.push_workflow("deploy.yml", &workflow("queue", false), "main");
    r.wait_until("run 3 runs", |runs| Repo::run_n(runs, 3)["status"] == "in_progress");
    std::fs::remove_file(r.work.join("wait")).unwrap();
    r.commit_and_push("fourth", "main");
    r.commit_and_push("fifth", "main");
    let runs = r.wait_until("run 4 is cancelled", |runs| {
        runs.len() == 5 && Repo::run_n(runs, 4)["status"] == "completed"
    });
    assert_eq!(Repo::run_n(&runs, 4)["conclusion"], "cancelled");
    assert_eq!(Repo::run_n(&runs, 3)["status"], "in_progress");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(Repo::run_n(&r.runs(), 5)["status"], "queued", "run 5 waits for run 3");
    flag.raise();
    let third = r.wait_run(3);
    let fifth = r.wait_run(5);
    assert_eq!(third["conclusion"], "success");
    assert_eq!(fifth["conclusion"], "success");
    let started = r.jobs(&fifth)[0]["started_at"].as_str().unwrap().to_string();
    let finished = r.jobs(&third)[0]["completed_at"].as_str().unwrap().to_string();
    assert!(started >= finished, "{started} < {finished}");
}

#[test]
fn job_concurrency_runs_one_job_of_a_group_at_a_time() {
    let r = repo();
    let flag = common::Flag::new("jobgroup");
    r.push_workflow(
        "a.yml",
        &format!(
            "on: push\njobs:\n  deploy:\n    concurrency: prod\n    steps:\n      - run: {}\n",
            flag.wait()
        ),
        "main",
    );
    r.wait_until("a runs", |runs| runs.iter().any(|x| x["status"] == "in_progress"));
    // Another workflow's job in the same group waits for the first.
    r.push_workflow(
        "b.yml",
        "on: push\njobs:\n  deploy:\n    concurrency: prod\n    steps:\n      - run: echo second\n",
        "other",
    );
    // That push made two runs (a.yml and b.yml); the newer job of the group
    // replaces the pending one and waits for the running one.
    std::thread::sleep(Duration::from_millis(800));
    let runs = r.runs();
    assert_eq!(Repo::run_n(&runs, 2)["conclusion"], "cancelled", "{runs:?}");
    assert_eq!(Repo::run_n(&runs, 3)["status"], "queued", "{runs:?}");
    flag.raise();
    assert_eq!(r.wait_run(1)["conclusion"], "success");
    assert_eq!(r.wait_run(3)["conclusion"], "success");
}

#[test]
fn matrix_fail_fast_max_parallel_and_jobs_allowed_to_fail() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        r#"on: push
jobs:
  test:
    strategy:
      max-parallel: 1
      matrix:
        part: [1, 2, 3]
    steps:
      - run: echo "part ${{ matrix.part }} of ${{ strategy.job-total }}"; test ${{ matrix.part }} != 1
  lenient:
    strategy:
      fail-fast: false
      matrix:
        part: [1, 2]
    continue-on-error: ${{ matrix.part == 2 }}
    steps:
      - run: test ${{ matrix.part }} = 1
  after:
    needs: lenient
    steps:
      - run: echo "lenient was ${{ needs.lenient.result }}"
"#,
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let conclusion = |name: &str| {
        jobs.iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {jobs:?}"))["conclusion"]
            .clone()
    };
    // max-parallel 1: part 1 ran alone and failed; fail-fast cancelled the rest.
    assert_eq!(conclusion("test (1)"), "failure");
    assert_eq!(conclusion("test (2)"), "cancelled");
    assert_eq!(conclusion("test (3)"), "cancelled");
    assert!(
        r.log(jobs.iter().find(|j| j["name"] == "test (1)").unwrap())
            .contains("part 1 of 3")
    );
    // fail-fast false: both instances ran; the one allowed to fail does not fail `after`.
    assert_eq!(conclusion("lenient (1)"), "success");
    assert_eq!(conclusion("lenient (2)"), "failure");
    assert_eq!(conclusion("after"), "success");
    assert!(r.log(r.job(&jobs, "after")).contains("lenient was success"));
    assert_eq!(run["conclusion"], "failure", "test failed");

    // A run whose only failure is allowed succeeds.
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  flaky:\n    continue-on-error: true\n    steps:\n      - run: exit 3\n",
        "main",
    );
    let run = r.wait_run(2);
    assert_eq!(run["conclusion"], "success");
    assert_eq!(r.jobs(&run)[0]["conclusion"], "failure");
}

#[test]
fn workflow_dispatch_inputs_from_the_api_and_the_page() {
    let r = repo();
    r.push_workflow(
        "release.yml",
        r#"on:
  workflow_dispatch:
    inputs:
      target:
        description: Where to deploy
        type: choice
        options: [beta, gamma, prod]
        default: beta
      dry-run:
        type: boolean
        default: true
      copies:
        type: number
        required: true
      note:
        required: false
jobs:
  deploy:
    steps:
      - run: echo "to ${{ inputs.target }} dry=${{ inputs.dry-run }} copies=${{ inputs.copies }} note=[${{ github.event.inputs.note }}]"
      - if: ${{ !inputs.dry-run }}
        run: echo really deploying
"#,
        "main",
    );
    let dispatch = |body: Value| {
        r.server.api(
            "POST",
            "/api/v1/repos/alice/demo/actions/workflows/release.yml/dispatches",
            Some(&r.token),
            Some(body),
        )
    };
    let refused = |inputs: Value, why: &str| {
        let (status, body) = dispatch(serde_json::json!({"ref": "main", "inputs": inputs}));
        assert_eq!(status, 400, "{inputs}");
        assert!(body.to_string().contains(why), "{inputs}: {body}");
    };
    refused(serde_json::json!({}), "copies: is required");
    refused(
        serde_json::json!({"copies": 1, "target": "staging"}),
        "not one of beta, gamma, prod",
    );
    refused(serde_json::json!({"copies": "many"}), "not a number");
    refused(
        serde_json::json!({"copies": 1, "dry-run": "maybe"}),
        "not true or false",
    );
    refused(
        serde_json::json!({"copies": 1, "colour": "red"}),
        "no input \\\"colour\\\"",
    );
    assert!(r.runs().is_empty(), "refused dispatches make no run");

    let (status, _) =
        dispatch(serde_json::json!({"ref": "main", "inputs": {"copies": 2, "target": "prod", "dry-run": false}}));
    assert_eq!(status, 204);
    let run = r.wait_run(1);
    let log = r.log(&r.jobs(&run)[0]);
    assert!(log.contains("to prod dry=false copies=2 note=[]"), "{log}");
    assert!(log.contains("really deploying"));

    // The page asks for the inputs, with their defaults, and shows mistakes.
    let browser = common::sign_in(&r.server, "alice", "pw-alice-1");
    let runs_page = browser
        .get(r.server.url("/alice/demo/runs"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let offered: Vec<String> = scraper::Html::parse_document(&runs_page)
        .select(&scraper::Selector::parse("details select[name=workflow] option").unwrap())
        .map(|o| o.value().attr("value").unwrap().to_string())
        .collect();
    assert_eq!(
        offered,
        ["release.yml"],
        "the runs page offers what can be started by hand"
    );
    let page = browser
        .get(r.server.url("/alice/demo/runs/dispatch?workflow=release.yml&ref=main"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = scraper::Html::parse_document(&page.text().unwrap());
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let chosen: Vec<String> = html
        .select(&sel("select[name='input.target'] option[selected]"))
        .map(|o| o.text().collect())
        .collect();
    assert_eq!(chosen, ["beta"]);
    assert!(
        html.select(&sel("input[name='input.copies'][required]"))
            .next()
            .is_some()
    );
    let csrf = html
        .select(&sel("input[name=csrf]"))
        .next()
        .unwrap()
        .value()
        .attr("value")
        .unwrap()
        .to_string();
    let form = |copies: &str| {
        browser
            .post(r.server.url("/alice/demo/runs/dispatch"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("workflow", "release.yml"),
                ("ref", "main"),
                ("input.target", "gamma"),
                ("input.dry-run", "true"),
                ("input.copies", copies),
                ("input.note", "from the page"),
            ])
            .send()
            .unwrap()
    };
    let bad = form("lots");
    assert_eq!(bad.status(), 400);
    let text = bad.text().unwrap();
    let html = scraper::Html::parse_document(&text);
    let alert: String = html.select(&sel("[role=alert]")).flat_map(|e| e.text()).collect();
    assert_eq!(alert, "input copies: \"lots\" is not a number");
    let typed = html.select(&sel("input[name='input.copies']")).next().unwrap();
    assert_eq!(typed.value().attr("value"), Some("lots"), "what was typed is kept");
    let good = form("3");
    assert_eq!(good.status(), 303);
    assert_eq!(good.headers()["location"], "/alice/demo/runs/2");
    let run = r.wait_run(2);
    let log = r.log(&r.jobs(&run)[0]);
    assert!(log.contains("to gamma dry=true copies=3 note=[from the page]"), "{log}");
    assert!(!log.contains("really deploying"));
}

#[test]
fn limits_stop_fork_bombs_and_memory_hogs_and_jobs_take_turns() {
    let r = repo_with(&["--ci-job-processes", "20", "--ci-job-memory", "64M", "--ci-jobs", "1"]);
    let marker = format!("{}", 600_000 + std::process::id() % 100_000);
    r.push_workflow(
        "limits.yml",
        &format!(
            r#"on: push
jobs:
  forks:
    steps:
      - run: for i in $(seq 60); do sleep {marker} & done; wait
  memory:
    steps:
      - run: big=$(head -c 200M /dev/zero | tr '\0' a); echo "held ${{#big}} bytes"
  a:
    steps:
      - run: echo a-start; sleep 0.3; echo a-end
  b:
    steps:
      - run: echo b-start; sleep 0.3; echo b-end
"#
        ),
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let forks = r.job(&jobs, "forks");
    assert_eq!(forks["conclusion"], "failure");
    assert!(
        r.log(forks).contains("more than 20 processes at once"),
        "{}",
        r.log(forks)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::processes_matching(&format!("sleep {marker}")) > 0 {
        assert!(Instant::now() < deadline, "the fork bomb's processes survived");
        std::thread::sleep(Duration::from_millis(100));
    }
    let memory = r.job(&jobs, "memory");
    assert_eq!(memory["conclusion"], "failure");
    assert!(!r.log(memory).contains("held 209715200 bytes"));
    assert_eq!(r.server.get("/healthz").status(), 200, "the server is unaffected");
    // One job at a time: a and b never overlap (the log's times, to the millisecond).
    let when = |key: &str, what: &str| -> String {
        let log = r.log(r.job(&jobs, key));
        let line = log
            .lines()
            .find(|l| l.ends_with(what))
            .unwrap_or_else(|| panic!("{log}"));
        line.split(' ').next().unwrap().to_string()
    };
    let (a, b) = (
        (when("a", " a-start"), when("a", " a-end")),
        (when("b", " b-start"), when("b", " b-end")),
    );
    assert!(a.1 <= b.0 || b.1 <= a.0, "a {a:?} and b {b:?} overlap");
}

#[test]
fn a_schedule_runs_the_default_branch_each_minute_it_matches() {
    let r = repo();
    r.push_workflow(
        "nightly.yml",
        "on:\n  schedule:\n    - cron: '* * * * *'\njobs:\n  a:\n    steps:\n      - run: echo \"scheduled $GITHUB_EVENT_NAME on $GITHUB_REF_NAME\"\n",
        "main",
    );
    // The same workflow on another branch is not what a schedule runs.
    r.commit_and_push("elsewhere", "topic");
    assert!(r.runs().is_empty(), "a push does not start a scheduled-only workflow");
    // The clock ticks at the start of each minute.
    let deadline = Instant::now() + Duration::from_secs(75);
    let run = loop {
        if let Some(run) = r.runs().into_iter().find(|x| x["status"] == "completed") {
            break run;
        }
        assert!(Instant::now() < deadline, "no scheduled run within a minute");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(run["event"], "schedule");
    assert_eq!(run["head_branch"], "main");
    assert_eq!(run["conclusion"], "success");
    assert!(r.log(&r.jobs(&run)[0]).contains("scheduled schedule on main"));
    assert_eq!(r.runs().len(), 1, "one run for that minute, not one per branch");
}

#[test]
fn artifacts_pass_between_jobs_and_caches_between_runs() {
    let r = repo();
    let workflow = r#"on: push
jobs:
  build:
    steps:
      - run: mkdir -p dist/sub && echo binary > dist/app && echo lib > dist/sub/lib.txt && echo noise > dist/x.log
      - uses: actions/upload-artifact@v4
        with:
          name: app
          path: |
            dist
            !dist/*.log
  deploy:
    needs: build
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: app
          path: out
      # As on GitHub: the folder named is the artifact's top level.
      - run: cat out/app out/sub/lib.txt; test ! -e out/x.log
  strays:
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: nothing-here
  empty:
    steps:
      - uses: actions/upload-artifact@v4
        with:
          name: none
          path: missing/
          if-no-files-found: error
  escape:
    steps:
      - uses: actions/upload-artifact@v4
        with:
          path: ../../
  cached:
    steps:
      - id: deps
        uses: actions/cache@v4
        with:
          key: deps-${{ github.sha }}
          path: .deps
          restore-keys: deps-
      - run: |
          echo "hit=${{ steps.deps.outputs.cache-hit }}"
          if [ -e .deps/stamp ]; then echo "restored $(cat .deps/stamp)"; else mkdir -p .deps; echo "from run $GITHUB_RUN_NUMBER" > .deps/stamp; fi
"#;
    r.push_workflow("ci.yml", workflow, "main");
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let conclusion = |key: &str| r.job(&jobs, key)["conclusion"].clone();
    assert_eq!(conclusion("build"), "success", "{}", r.log(r.job(&jobs, "build")));
    assert_eq!(conclusion("deploy"), "success", "{}", r.log(r.job(&jobs, "deploy")));
    assert!(r.log(r.job(&jobs, "deploy")).contains("binary"));
    assert_eq!(conclusion("strays"), "failure");
    assert!(
        r.log(r.job(&jobs, "strays"))
            .contains("no artifact named \"nothing-here\"")
    );
    assert_eq!(conclusion("empty"), "failure");
    assert!(r.log(r.job(&jobs, "empty")).contains("no files match"));
    assert_eq!(conclusion("escape"), "failure");
    assert!(r.log(r.job(&jobs, "escape")).contains("leaves the workspace"));
    let cached = r.log(r.job(&jobs, "cached"));
    assert!(
        cached.contains("hit=false") && cached.contains("cache \"deps-"),
        "{cached}"
    );

    // The API lists the artifact; its download is the .tar.gz of the files.
    let list = r.api(&format!("/actions/runs/{}/artifacts", run["id"]));
    assert_eq!(list["total_count"], 1);
    let url = list["artifacts"][0]["archive_download_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.ends_with("/alice/demo/runs/1/artifacts/app"), "{url}");
    let resp = common::client().get(&url).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/gzip");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::Cursor::new(
        resp.bytes().unwrap(),
    )));
    let mut names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["app", "sub/lib.txt"]);
    let page = r.server.get("/alice/demo/runs/1").text().unwrap();
    assert!(page.contains("/alice/demo/runs/1/artifacts/app"));
    // The jobs as a graph: deploy, which needs build, in the second stage.
    let doc = scraper::Html::parse_document(&page);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let stages: Vec<usize> = doc
        .select(&sel(".graph .stage"))
        .map(|st| st.select(&sel("li")).count())
        .collect();
    assert_eq!(stages, [5, 1]);
    assert_eq!(r.server.get("/alice/demo/runs/1/artifacts/nope").status(), 404);

    // The next push restores the cache from the first (by restore-keys).
    r.commit_and_push("again", "main");
    let run = r.wait_run(2);
    let log = r.log(r.job(&r.jobs(&run), "cached"));
    assert!(
        log.contains("hit=false") && log.contains("restored from run 1"),
        "{log}"
    );

    // Re-running only the failed jobs keeps build's artifact for deploy.
    let (status, again) = post(&r, &format!("/actions/runs/{}/rerun-failed-jobs", run["id"]));
    assert_eq!(status, 201);
    let again = r.wait_run(again["run_number"].as_i64().unwrap());
    let list = r.api(&format!("/actions/runs/{}/artifacts", again["id"]));
    assert_eq!(list["total_count"], 1, "{list}");
}

#[test]
fn hash_files_hashes_the_workspace() {
    use sha2::{Digest, Sha256};
    let r = repo();
    r.push_workflow(
        "hash.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - run: echo \"hash=${{ hashFiles('**/README.md') }} none=[${{ hashFiles('nope/*') }}]\"\n",
        "main",
    );
    let run = r.wait_run(1);
    let log = r.log(&r.jobs(&run)[0]);
    let inner = Sha256::digest(b"# demo\n");
    let expected: String = Sha256::digest(inner).iter().map(|b| format!("{b:02x}")).collect();
    assert!(log.contains(&format!("hash={expected} none=[]")), "{log}");
}

#[test]
fn runs_are_filtered_by_branch_workflow_and_status() {
    let r = repo();
    r.push_workflow("ok.yml", "on: push\njobs:\n  a:\n    steps: [{run: 'true'}]\n", "main");
    r.push_workflow(
        "bad.yml",
        "on: push\njobs:\n  a:\n    steps: [{run: 'false'}]\n",
        "topic",
    );
    r.wait_until("all done", |runs| {
        runs.len() == 3 && runs.iter().all(|x| x["status"] == "completed")
    });
    let count = |q: &str| r.api(&format!("/actions/runs?{q}"))["total_count"].as_i64().unwrap();
    assert_eq!(count(""), 3);
    assert_eq!(count("branch=topic"), 2);
    assert_eq!(count("workflow=ok.yml"), 2);
    assert_eq!(count("workflow=.hearth/workflows/bad.yml"), 1);
    assert_eq!(count("status=failure"), 1);
    assert_eq!(count("status=completed&branch=main"), 1);
    assert_eq!(count("workflow=o%25.yml"), 0, "no wildcards");
    let (status, body) = r.server.api(
        "GET",
        "/api/v1/repos/alice/demo/actions/runs?status=green",
        Some(&r.token),
        None,
    );
    assert_eq!(status, 400);
    assert!(body.to_string().contains("one of queued"));
    // The page filters the same way and keeps the choice in the form.
    let html = r.server.get("/alice/demo/runs?status=failure").text().unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let rows = doc.select(&sel("table.runs tbody tr")).count();
    assert_eq!(rows, 1);
    let chosen: String = doc
        .select(&sel("select[name=status] option[selected]"))
        .flat_map(|o| o.text())
        .collect();
    assert_eq!(chosen, "failure");
}

#[test]
fn the_job_page_shows_steps_as_sections_and_their_summary() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        r#"on: push
jobs:
  a:
    steps:
      - name: Greet
        run: |
          echo hello
          echo '## Results <script>alert(1)</script>' >> "$GITHUB_STEP_SUMMARY"
          echo '- **42** tests passed' >> "$GITHUB_STEP_SUMMARY"
      - name: Break
        run: echo oops; exit 2
"#,
        "main",
    );
    let run = r.wait_run(1);
    let job = &r.jobs(&run)[0];
    let html = r
        .server
        .get(&format!("/alice/demo/runs/1/jobs/{}", job["id"]))
        .text()
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let titles: Vec<String> = doc
        .select(&sel(".log details > summary"))
        .map(|s| s.text().collect())
        .collect();
    assert_eq!(titles, ["Set up job", "Greet", "Break", "Complete job"], "{html}");
    let open: Vec<String> = doc
        .select(&sel(".log details[open] > summary"))
        .map(|s| s.text().collect())
        .collect();
    assert_eq!(open, ["Break", "Complete job"], "the failed step and the end are open");
    let greet: String = doc.select(&sel(".log details pre")).nth(1).unwrap().text().collect();
    assert!(greet.contains("hello"));
    let summary = doc.select(&sel("section.summary")).next().expect("a summary");
    let heading: String = summary.select(&sel(".markdown h3")).next().unwrap().text().collect();
    assert!(heading.starts_with("Results"), "{heading}");
    assert!(
        summary
            .select(&sel("strong"))
            .any(|s| s.text().collect::<String>() == "42")
    );
    assert!(
        summary.select(&sel("script")).next().is_none(),
        "the summary is sanitized"
    );
}

#[test]
fn floods_of_output_are_capped_and_the_server_stays_responsive() {
    let r = repo();
    r.push_workflow(
        "flood.yml",
        "on: push\njobs:\n  lines:\n    steps:\n      - run: (yes 'a line of output' || true) | head -c 40M; echo after\n  no-newlines:\n    steps:\n      - run: head -c 40M /dev/zero | tr '\\0' x; echo; echo done\n",
        "main",
    );
    let started = Instant::now();
    while r.runs().first().is_none_or(|x| x["status"] != "completed") {
        // Pages answer while the flood goes on.
        let t = Instant::now();
        assert_eq!(r.server.get("/healthz").status(), 200);
        assert!(t.elapsed() < Duration::from_secs(2), "the server stalled");
        assert!(started.elapsed() < Duration::from_secs(120), "the floods never ended");
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success");
    for job in r.jobs(&run) {
        let log = r.log(&job);
        assert!(log.len() <= (16 << 20) + 4096, "{} bytes", log.len());
        assert!(log.contains("log truncated at 16 MiB"), "{}", job["name"]);
        // Lines without newlines are cut into pieces, not held whole.
        assert!(log.lines().all(|l| l.len() <= (64 << 10) + 64));
        // The page shows the end of it, and says so.
        let page = r
            .server
            .get(&format!("/alice/demo/runs/1/jobs/{}", job["id"]))
            .text()
            .unwrap();
        assert!(page.len() < 3 << 20, "{} bytes", page.len());
        assert!(page.contains("this page shows its last 2 MiB"));
        assert!(page.contains("log truncated at 16 MiB"));
    }
}

#[test]
fn jobs_run_with_the_default_relative_data_directory() {
    // `hearth serve` with no flags keeps its data in ./data.
    let r = repo_on(TestServer::start_here());
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - run: echo \"in $PWD\"\n",
        "main",
    );
    let run = r.wait_run(1);
    let log = r.log(&r.jobs(&run)[0]);
    assert_eq!(run["conclusion"], "success", "{log}");
}

/// A newcomer's first, ordinary GitHub workflow runs as it is: push and
/// pull_request, permissions, checkout, one step.
#[test]
fn an_ordinary_github_workflow_runs_green() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        "on: [push, pull_request]\npermissions:\n  contents: read\njobs:\n  test:\n    runs-on: ubuntu-latest\n    permissions:\n      contents: read\n      pull-requests: write\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          persist-credentials: false\n          fetch-depth: 0\n      - run: test -f README.md && echo tested\n",
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    assert_eq!(run["conclusion"], "success", "{}", r.log(&jobs[0]));
    assert!(r.log(&jobs[0]).contains("tested"));
}

/// GitHub's rule: run what can run and say why the rest did not. A
/// matrix over runners runs its Linux instance and skips the Windows one
/// ("no runner for windows-latest"); a container job is skipped saying
/// why; names, timeouts and continue-on-error may be expressions; an env
/// value may be empty; a step may be Python.
#[test]
fn a_matrix_over_runners_runs_what_it_can_and_says_why_not() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        r#"on: push
env:
  EMPTY:
jobs:
  build:
    name: build on ${{ matrix.os }}
    runs-on: ${{ matrix.os }}
    timeout-minutes: ${{ matrix.os == 'ubuntu-latest' && 5 || 10 }}
    strategy:
      fail-fast: false
      matrix:
        os: [ubuntu-latest, windows-latest]
    steps:
      - run: echo "empty=[$EMPTY] os=${{ matrix.os }}"
      - run: exit 3
        continue-on-error: ${{ matrix.os == 'ubuntu-latest' }}
      - shell: python
        run: |
          import os
          print("python says", os.environ["GITHUB_JOB"])
  in-container:
    runs-on: ubuntu-latest
    container: node:20
    steps:
      - run: echo never
  after:
    needs: build
    runs-on: [self-hosted, linux]
    strategy:
      fail-fast: false
    steps:
      - run: echo after the build
"#,
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let named = |name: &str| {
        jobs.iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("no job named {name}: {jobs:?}"))
    };
    let linux = named("build on ubuntu-latest");
    assert_eq!(linux["conclusion"], "success", "{}", r.log(linux));
    let log = r.log(linux);
    assert!(log.contains("empty=[] os=ubuntu-latest"), "{log}");
    assert!(log.contains("python says build"), "{log}");
    assert!(log.contains("continue-on-error lets the job go on"), "{log}");
    let windows = named("build on windows-latest");
    assert_eq!(windows["conclusion"], "skipped");
    assert!(
        r.log(windows).contains("skipped: no runner for windows-latest"),
        "{}",
        r.log(windows)
    );
    let container = r.job(&jobs, "in-container");
    assert_eq!(container["conclusion"], "skipped");
    assert!(r.log(container).contains("container engine"), "{}", r.log(container));
    let after = r.job(&jobs, "after");
    assert_eq!(after["conclusion"], "success", "{}", r.log(after));
    assert_eq!(run["conclusion"], "success");
}

/// `push.paths` and `paths-ignore` look at the files the push changed.
#[test]
fn paths_filters_skip_a_push_that_changes_only_other_files() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        "on:\n  push:\n    paths-ignore: ['docs/**', '*.md']\njobs:\n  a:\n    steps: [{run: echo built}]\n",
        "main",
    );
    r.wait_run(1);
    std::fs::create_dir_all(r.work.join("docs")).unwrap();
    std::fs::write(r.work.join("docs/guide.md"), "words\n").unwrap();
    std::fs::write(r.work.join("NOTES.md"), "notes\n").unwrap();
    r.commit_and_push("docs only", "main");
    std::fs::create_dir_all(r.work.join("src")).unwrap();
    std::fs::write(r.work.join("src/lib.rs"), "// code\n").unwrap();
    let code = r.commit_and_push("code", "main");
    let second = r.wait_run(2);
    assert_eq!(second["head_sha"], code.as_str(), "the docs-only push made no run");
    // A new branch is compared with the default branch: docs only, no run.
    std::fs::write(r.work.join("docs/more.md"), "more\n").unwrap();
    r.commit_and_push("more docs", "topic");
    std::fs::write(r.work.join("src/lib.rs"), "// more code\n").unwrap();
    let topic = r.commit_and_push("more code", "topic");
    let third = r.wait_run(3);
    assert_eq!(third["head_sha"], topic.as_str());
    assert_eq!(r.runs().len(), 3, "{:?}", r.runs());
}

/// The job token: good for the job's own repository while the job runs,
/// with the scopes `permissions:` asked for. With `contents: write` a job
/// pushes a tag (which starts no run of its own); without, the push is
/// refused; the API takes it too; elsewhere and afterwards it is nothing.
#[test]
fn the_job_token_pushes_a_tag_only_with_contents_write() {
    let r = repo();
    r.server.create_repo(&r.token, "private-other", true);
    let (status, _) = r.server.api(
        "POST",
        "/api/v1/repos/alice/demo/issues",
        Some(&r.token),
        Some(serde_json::json!({"title": "Ship it"})),
    );
    assert_eq!(status, 201);
    r.push_workflow(
        "ci.yml",
        r#"on:
  push:
    branches: [main]
jobs:
  release:
    permissions:
      contents: write
      issues: write
    steps:
      - run: |
          host="${GITHUB_SERVER_URL#http://}"
          url="http://x-access-token:${{ github.token }}@$host/$GITHUB_REPOSITORY.git"
          git init -q /tmp/r && cd /tmp/r
          git fetch -q "$url" "$GITHUB_SHA"
          git tag v9 FETCH_HEAD
          git push -q "$url" v9 && echo "pushed the tag"
          test "${{ secrets.GITHUB_TOKEN }}" = "${{ github.token }}"
          echo "the token is ${{ github.token }}"
          code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${{ github.token }}" "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY")
          echo "api says $code"
          other=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${{ github.token }}" "$GITHUB_API_URL/repos/alice/private-other")
          echo "another repository says $other"
          secrets=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${{ github.token }}" "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/actions/secrets")
          echo "secrets say $secrets"
          curl -sf -X POST -H "Authorization: Bearer ${{ github.token }}" -H 'Content-Type: application/json' \
            -d '{"body": "released as v9"}' "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/issues/1/comments" >/dev/null && echo commented
          printf '%s' "${{ github.token }}" | base64 -w0; echo " is the token in base64"
  read-only:
    steps:
      - run: |
          host="${GITHUB_SERVER_URL#http://}"
          url="http://x-access-token:${{ github.token }}@$host/$GITHUB_REPOSITORY.git"
          git init -q /tmp/r && cd /tmp/r
          git fetch -q "$url" "$GITHUB_SHA" && echo "fetched with read"
          git tag v8 FETCH_HEAD
          if git push -q "$url" v8 2>/tmp/err; then echo "pushed v8"; else echo "push refused"; fi
"#,
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let release = r.log(r.job(&jobs, "release"));
    assert_eq!(run["conclusion"], "success", "{release}");
    assert!(
        release.contains("the job token has contents: write, issues: write"),
        "{release}"
    );
    assert!(release.contains("commented"), "{release}");
    let comments = r.api("/issues/1/comments");
    assert_eq!(comments[0]["body"], "released as v9", "{comments}");
    assert_eq!(comments[0]["user"]["login"], "alice", "the token acts for who pushed");
    assert!(release.contains("pushed the tag"), "{release}");
    assert!(release.contains("the token is ***"), "masked: {release}");
    assert!(release.contains("api says 200"), "{release}");
    assert!(release.contains("another repository says 404"), "{release}");
    assert!(release.contains("secrets say 403"), "{release}");
    let read_only = r.log(r.job(&jobs, "read-only"));
    assert!(
        read_only.contains("fetched with read") && read_only.contains("push refused"),
        "{read_only}"
    );
    let refs = r.git.refs(&r.server.repo_dir("alice", "demo"));
    assert!(refs.iter().any(|l| l.starts_with("refs/tags/v9 ")), "{refs:?}");
    assert!(!refs.iter().any(|l| l.starts_with("refs/tags/v8 ")), "{refs:?}");
    // The job's push started no run.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(r.runs().len(), 1, "{:?}", r.runs());
    // After the job, the token is nothing.
    let encoded = release
        .lines()
        .find_map(|l| l.strip_suffix(" is the token in base64"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap();
    use base64::Engine;
    let token = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap();
    assert!(token.starts_with("ghs_"));
    let (status, body) = r.server.api("GET", "/api/v1/repos/alice/demo", Some(&token), None);
    assert_eq!(status, 401, "{body}");
    assert!(body.to_string().contains("only while its job runs"), "{body}");
}

/// A local reusable workflow (`uses: ./.github/workflows/build.yml`) runs
/// as jobs of its caller: inputs (from a need's output, typed), a secret
/// passed by name, its own env and not the caller's, its jobs' needs among
/// themselves, and its outputs for the jobs that need the caller.
#[test]
fn a_local_reusable_workflow_runs_as_jobs_of_its_caller() {
    let r = repo();
    let (status, _) = r.server.api(
        "PUT",
        "/api/v1/repos/alice/demo/actions/secrets/DEPLOY_TOKEN",
        Some(&r.token),
        Some(serde_json::json!({ "value": "tok-123456" })),
    );
    assert_eq!(status, 201);
    let dir = r.work.join(".github/workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("build.yml"),
        r#"on:
  workflow_call:
    inputs:
      target: {type: string, required: true}
      release: {type: boolean, default: false}
    secrets:
      TOKEN: {required: true}
    outputs:
      artifact:
        value: ${{ jobs.compile.outputs.file }}
env:
  CALLED: "yes"
jobs:
  compile:
    outputs:
      file: ${{ steps.c.outputs.file }}
    steps:
      - id: c
        run: |
          echo "compiling ${{ inputs.target }} release=${{ inputs.release }} typed=${{ inputs.release == true }} called=$CALLED top=[$TOP] token=${{ secrets.TOKEN }}"
          echo "file=${{ inputs.target }}.bin" >> "$GITHUB_OUTPUT"
  check:
    needs: compile
    steps:
      - run: echo "checking ${{ needs.compile.outputs.file }}"
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("ci.yml"),
        r#"on: push
env:
  TOP: top
jobs:
  prepare:
    outputs:
      t: ${{ steps.p.outputs.t }}
    steps:
      - id: p
        run: echo "t=linux" >> "$GITHUB_OUTPUT"
  build:
    needs: prepare
    uses: ./.github/workflows/build.yml
    with:
      target: ${{ needs.prepare.outputs.t }}
      release: true
    secrets:
      TOKEN: ${{ secrets.DEPLOY_TOKEN }}
  ship:
    needs: build
    steps:
      - run: echo "shipping ${{ needs.build.outputs.artifact }} (${{ needs.build.result }})"
"#,
    )
    .unwrap();
    r.commit_and_push("a reusable workflow", "main");
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let keys: Vec<&str> = jobs.iter().map(|j| j["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["prepare", "build/compile", "build/check", "ship"], "{run}");
    assert_eq!(r.job(&jobs, "build/compile")["name"], "build / compile");
    let compile = r.log(r.job(&jobs, "build/compile"));
    assert_eq!(run["conclusion"], "success", "{compile}");
    assert!(
        compile.contains("compiling linux release=true typed=true called=yes top=[] token=***"),
        "{compile}"
    );
    assert!(r.log(r.job(&jobs, "build/check")).contains("checking linux.bin"));
    let ship = r.log(r.job(&jobs, "ship"));
    assert!(ship.contains("shipping linux.bin (success)"), "{ship}");
    assert_eq!(r.runs().len(), 1, "the called workflow runs only as part of its caller");
}

/// What is wrong with a call is said before anything runs.
#[test]
fn a_bad_call_of_a_reusable_workflow_fails_the_run_saying_why() {
    let r = repo();
    let dir = r.work.join(".github/workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("lib.yml"),
        "on:\n  workflow_call:\n    inputs:\n      target: {type: string, required: true}\njobs:\n  a:\n    steps: [{run: 'true'}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ci.yml"),
        "on: push\njobs:\n  call:\n    uses: ./.github/workflows/lib.yml\n    with:\n      tagret: x\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("loop.yml"),
        "on: [push, workflow_call]\njobs:\n  again:\n    uses: ./.github/workflows/loop.yml\n",
    )
    .unwrap();
    r.commit_and_push("bad calls", "main");
    let deadline = Instant::now() + Duration::from_secs(30);
    while r.runs().len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", r.runs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let runs = r.runs();
    let error = |file: &str| {
        runs.iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(file))
            .map(|r| r["error"].as_str().unwrap_or_default().to_string())
            .unwrap()
    };
    assert!(
        error("ci.yml").contains("has no input \"tagret\""),
        "{}",
        error("ci.yml")
    );
    assert!(error("loop.yml").contains("more than 4 deep"), "{}", error("loop.yml"));
}

/// The built-in actions with the inputs real workflows give them:
/// checkout of another repository of this server (and a `path`),
/// upload-artifact `overwrite`, download-artifact `pattern` and
/// `merge-multiple`, and actions/cache/save and actions/cache/restore.
#[test]
fn built_in_actions_take_github_s_inputs() {
    let r = repo();
    r.server.create_repo(&r.token, "other", false);
    let other = r.git.dir("other");
    r.git.ok(None, &["init", "-q", other.to_str().unwrap()]);
    std::fs::write(other.join("lib.txt"), "from the other repository\n").unwrap();
    r.git.ok(Some(&other), &["add", "-A"]);
    r.git.ok(Some(&other), &["commit", "-q", "-m", "lib"]);
    r.git.ok(Some(&other), &["tag", "v2"]);
    let url = r.server.cred_url(&r.user, &r.token, "/alice/other.git");
    r.git.ok(Some(&other), &["push", "-q", &url, "main", "v2"]);
    let bob = r.server.user("bob", "pw-bob-1", false);
    r.server.create_repo(&bob, "hidden", true);
    r.push_workflow(
        "ci.yml",
        r#"on: push
jobs:
  make:
    steps:
      - uses: actions/checkout@v4
        with:
          repository: alice/other
          ref: v2
          path: vendor/other
      - run: cat vendor/other/lib.txt && test -f README.md
      - run: mkdir -p a b && echo one > a/one.txt && echo two > b/two.txt && echo old > a/old.txt
      - uses: actions/upload-artifact@v4
        with: {name: part-a, path: a/old.txt}
      - uses: actions/upload-artifact@v4
        with: {name: part-a, path: a/one.txt, overwrite: true, compression-level: 9}
      - uses: actions/upload-artifact@v4
        with: {name: part-b, path: b/two.txt}
      - uses: actions/upload-artifact@v4
        with: {name: other, path: b/two.txt}
      - run: mkdir -p cached && echo kept > cached/file.txt
      - uses: actions/cache/save@v4
        with: {key: "k-${{ github.run_id }}", path: cached}
  use:
    needs: make
    steps:
      - uses: actions/download-artifact@v4
        with: {pattern: 'part-*', merge-multiple: true, path: all}
      - run: ls all && test -f all/one.txt && test -f all/two.txt && test ! -e all/old.txt && test ! -e all/part-a
      - id: restore
        uses: actions/cache/restore@v4
        with: {key: "k-${{ github.run_id }}", path: cached, fail-on-cache-miss: true}
      - run: cat cached/file.txt && echo "hit=${{ steps.restore.outputs.cache-hit }}"
  hidden:
    steps:
      - uses: actions/checkout@v4
        with: {repository: bob/hidden}
"#,
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let make = r.log(r.job(&jobs, "make"));
    assert_eq!(r.job(&jobs, "make")["conclusion"], "success", "{make}");
    assert!(make.contains("from the other repository"), "{make}");
    let used = r.log(r.job(&jobs, "use"));
    assert_eq!(r.job(&jobs, "use")["conclusion"], "success", "{used}");
    assert!(used.contains("kept") && used.contains("hit=true"), "{used}");
    let hidden = r.log(r.job(&jobs, "hidden"));
    assert_eq!(r.job(&jobs, "hidden")["conclusion"], "failure");
    assert!(
        hidden.contains("bob/hidden is not a repository of this server that this job may read"),
        "{hidden}"
    );
}

/// A matrix from a need's output (`${{ fromJSON(needs.plan.outputs.matrix) }}`)
/// becomes its instances once the need is done; one that gives no matrix
/// fails saying why.
#[test]
fn a_matrix_from_a_need_s_output_expands_when_the_need_is_done() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        r#"on: push
jobs:
  plan:
    outputs:
      matrix: ${{ steps.m.outputs.matrix }}
    steps:
      - id: m
        run: echo 'matrix={"os":["ubuntu-latest","windows-latest"],"n":[1,2]}' >> "$GITHUB_OUTPUT"
  check:
    needs: plan
    runs-on: ${{ matrix.os }}
    strategy:
      fail-fast: false
      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
    steps:
      - run: echo "n=${{ matrix.n }} on ${{ matrix.os }} of ${{ strategy.job-total }}"
  after:
    needs: check
    steps:
      - run: echo after
  bad:
    strategy:
      matrix: ${{ fromJSON('"not a matrix"') }}
    steps:
      - run: echo never
"#,
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let checks: Vec<&serde_json::Value> = jobs.iter().filter(|j| j["key"] == "check").collect();
    assert_eq!(checks.len(), 4, "{jobs:?}");
    let ran: Vec<&&serde_json::Value> = checks.iter().filter(|j| j["conclusion"] == "success").collect();
    assert_eq!(ran.len(), 2, "{checks:?}");
    assert!(r.log(ran[0]).contains("on ubuntu-latest of 4"), "{}", r.log(ran[0]));
    let windows: Vec<_> = checks
        .iter()
        .filter(|j| j["name"].as_str().unwrap().contains("windows-latest"))
        .collect();
    assert_eq!(windows.len(), 2, "{checks:?}");
    assert!(windows.iter().all(|j| j["conclusion"] == "skipped"), "{checks:?}");
    assert_eq!(r.job(&jobs, "after")["conclusion"], "success");
    let bad = r.job(&jobs, "bad");
    assert_eq!(bad["conclusion"], "failure");
    assert!(
        r.log(bad)
            .contains("strategy.matrix gives \"not a matrix\", not a mapping"),
        "{}",
        r.log(bad)
    );
}

/// The tool cache: what `hearth admin tool-cache add` put in is where
/// GitHub's setup-* actions look (RUNNER_TOOL_CACHE, laid out as GitHub's,
/// with its `.complete` marker), and jobs may not change it.
#[test]
fn the_tool_cache_holds_what_the_admin_added_read_only() {
    let r = repo();
    let folder = r.git.dir("node-folder");
    std::fs::create_dir_all(folder.join("bin")).unwrap();
    std::fs::copy("/usr/bin/node", folder.join("bin/node")).unwrap();
    let out = r
        .server
        .admin(&["tool-cache", "add", "node", "20.11.0", folder.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = r.server.admin(&["tool-cache", "list"], "");
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "node 20.11.0 x64\n");
    let bad = r
        .server
        .admin(&["tool-cache", "add", "../node", "1", folder.to_str().unwrap()], "");
    assert!(!bad.status.success());
    r.push_workflow(
        "ci.yml",
        r#"on: push
jobs:
  a:
    steps:
      - run: |
          echo "cache=$RUNNER_TOOL_CACHE agent=$AGENT_TOOLSDIRECTORY"
          test -n "$ImageOS" && test -f "$RUNNER_TOOL_CACHE/node/20.11.0/x64.complete"
          "$RUNNER_TOOL_CACHE/node/20.11.0/x64/bin/node" -e 'console.log("cached node runs")'
          if touch "$RUNNER_TOOL_CACHE/node/x" 2>/dev/null; then echo writable; else echo read-only; fi
"#,
        "main",
    );
    let run = r.wait_run(1);
    let log = r.log(&r.jobs(&run)[0]);
    assert_eq!(run["conclusion"], "success", "{log}");
    assert!(
        log.contains("cache=/run/hostedtoolcache agent=/run/hostedtoolcache"),
        "{log}"
    );
    assert!(log.contains("cached node runs") && log.contains("read-only"), "{log}");
}

/// After actions/checkout the workspace is a git repository as GitHub's
/// leaves it: the run's commit on its branch, `fetch-depth` of history
/// (0: all, with tags), origin this server with the job token kept (so a
/// job with `contents: write` pushes), or not with `persist-credentials: false`.
#[test]
fn checkout_makes_the_workspace_a_git_repository() {
    let r = repo();
    let pwned = r.git.dir("pwned-by-a-job");
    r.commit_and_push("first", "main");
    r.git.ok(Some(&r.work), &["tag", "v0.1"]);
    let url = r.server.cred_url(&r.user, &r.token, &format!("/{}.git", r.slug));
    r.git.ok(Some(&r.work), &["push", "-q", &url, "v0.1"]);
    r.push_workflow(
        "ci.yml",
        r#"on:
  push:
    branches: [main]
jobs:
  git:
    permissions:
      contents: write
    steps:
      - uses: actions/checkout@v4
      - run: |
          test "$(git rev-parse HEAD)" = "$GITHUB_SHA" && echo "head is the run's commit"
          test -z "$(git status --porcelain)" && echo "clean"
          echo "branch $(git rev-parse --abbrev-ref HEAD) commits $(git rev-list --count HEAD)"
          echo change >> README.md
          git -c user.name=ci -c user.email=ci@example.test commit -qam "from the job"
          git push -q origin HEAD:refs/heads/from-job && echo "pushed with the kept token"
  full:
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - run: echo "all $(git rev-list --count HEAD) described $(git describe --tags)"
  ephemeral:
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - run: if GIT_TERMINAL_PROMPT=0 git push -q origin HEAD:refs/heads/nope 2>/dev/null; then echo pushed; else echo "no credentials kept"; fi
  planted:
    steps:
      # A .git of the job's making would have the server's git run its programs.
      - run: mkdir -p .git && printf '[core]\n\tfsmonitor = "touch PWNED"\n' > .git/config
      - uses: actions/checkout@v4
      - run: git status --porcelain && echo "checked out over what was planted"
"#
        .replace("PWNED", pwned.to_str().unwrap())
        .as_str(),
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let git = r.log(r.job(&jobs, "git"));
    assert_eq!(run["conclusion"], "success", "{git}");
    for expected in [
        "head is the run's commit",
        "clean",
        "branch main commits 1",
        "pushed with the kept token",
    ] {
        assert!(git.contains(expected), "{expected:?} in {git}");
    }
    let full = r.log(r.job(&jobs, "full"));
    assert!(full.contains("all 2 described v0.1-1-g"), "{full}");
    let ephemeral = r.log(r.job(&jobs, "ephemeral"));
    assert!(ephemeral.contains("no credentials kept"), "{ephemeral}");
    let planted = r.log(r.job(&jobs, "planted"));
    assert!(planted.contains("checked out over what was planted"), "{planted}");
    assert!(!pwned.exists(), "the server ran a program a job named");
    let refs = r.git.refs(&r.server.repo_dir("alice", "demo"));
    assert!(refs.iter().any(|l| l.starts_with("refs/heads/from-job ")), "{refs:?}");
    assert!(!refs.iter().any(|l| l.starts_with("refs/heads/nope ")), "{refs:?}");
}
