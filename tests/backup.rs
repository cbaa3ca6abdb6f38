//! `hearth backup OUT` while the server runs and pushes keep coming: a
//! server started on the copy has the accounts, repositories (every ref's
//! objects), issues, secrets and job logs, and records the pushes the
//! database copy missed.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::json;

fn backup(data: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    Command::new(common::BIN)
        .arg("backup")
        .arg(out)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

#[test]
fn a_backup_taken_during_pushes_restores() {
    let (server, git, token) = common::pushed_fixture(false);
    let api = |method: &str, path: &str, body| server.api(method, path, Some(&token), body);
    assert_eq!(
        api(
            "POST",
            "/api/v1/repos/alice/demo/issues",
            Some(json!({"title": "Keep me"}))
        )
        .0,
        201
    );
    assert_eq!(
        api(
            "PUT",
            "/api/v1/repos/alice/demo/actions/secrets/DEPLOY_KEY",
            Some(json!({"value": "s3cret"}))
        )
        .0,
        201
    );
    // A workflow, so there is a job log to keep.
    let work = git.dir("work");
    git.ok(
        None,
        &[
            "clone",
            "-q",
            &server.cred_url("alice", &token, "/alice/demo.git"),
            work.to_str().unwrap(),
        ],
    );
    std::fs::create_dir_all(work.join(".hearth/workflows")).unwrap();
    std::fs::write(
        work.join(".hearth/workflows/ci.yml"),
        "on: push\njobs:\n  a:\n    steps:\n      - run: echo kept in the backup\n",
    )
    .unwrap();
    git.ok(Some(&work), &["add", "-A"]);
    git.ok(Some(&work), &["commit", "-q", "-m", "CI"]);
    git.ok(Some(&work), &["push", "-q", "origin", "HEAD"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while api("GET", "/api/v1/repos/alice/demo/actions/runs?status=success", None).1["total_count"] != 1 {
        assert!(Instant::now() < deadline, "the run did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Pushes go on while the backup is taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pusher = {
        let (stop, work) = (stop.clone(), work.clone());
        let git = common::Git::new();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                std::fs::write(work.join("counter.txt"), n.to_string()).unwrap();
                git.ok(Some(&work), &["add", "-A"]);
                git.ok(Some(&work), &["commit", "-q", "-m", &format!("push {n}")]);
                git.ok(
                    Some(&work),
                    &["push", "-q", "origin", &format!("HEAD:refs/heads/busy-{}", n % 3)],
                );
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let dir = tempfile::TempDir::new().unwrap();
    let out = dir.path().join("copy");
    let taken = backup(&server.data, &out);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let pushes = pusher.join().unwrap();
    assert!(taken.status.success(), "{}", String::from_utf8_lossy(&taken.stderr));
    assert!(String::from_utf8_lossy(&taken.stderr).contains("backed up 1 repositories"));
    assert!(pushes > 0);

    // Into a folder that has something: refused, nothing touched.
    let again = backup(&server.data, &out);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
    let nowhere = backup(&dir.path().join("nothing-here"), &dir.path().join("other"));
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("not a Hearth data directory"));

    // The copy serves: same accounts and token, issues, secrets, logs, and
    // every ref of the copied repository with all its objects.
    let copy = TestServer::start_in(&out, &[], &[]);
    let (status, issue) = copy.api("GET", "/api/v1/repos/alice/demo/issues/1", Some(&token), None);
    assert_eq!(status, 200);
    assert_eq!(issue["title"], "Keep me");
    let (_, secrets) = copy.api("GET", "/api/v1/repos/alice/demo/actions/secrets", Some(&token), None);
    assert_eq!(secrets["secrets"][0]["name"], "DEPLOY_KEY");
    let (_, runs) = copy.api("GET", "/api/v1/repos/alice/demo/actions/runs", Some(&token), None);
    let run_id = runs["workflow_runs"].as_array().unwrap().last().unwrap()["id"].clone();
    let (_, jobs) = copy.api(
        "GET",
        &format!("/api/v1/repos/alice/demo/actions/runs/{run_id}/jobs"),
        Some(&token),
        None,
    );
    let log = copy
        .get(&format!(
            "/api/v1/repos/alice/demo/actions/jobs/{}/logs",
            jobs["jobs"][0]["id"]
        ))
        .text()
        .unwrap();
    assert!(log.contains("kept in the backup"), "{log}");
    let copied = out.join("repos/alice/demo.git");
    git.ok(Some(&copied), &["fsck", "--connectivity-only", "--no-progress"]);
    let clone = git.dir("restored");
    git.ok(
        None,
        &["clone", "-q", &copy.url("/alice/demo.git"), clone.to_str().unwrap()],
    );
    // Pushes the database copy missed are in its push log once the copy serves.
    let refs = git.refs(&copied);
    let db = copy.db();
    for line in refs.iter().filter(|r| r.starts_with("refs/heads/")) {
        let (name, id) = line.split_once(' ').unwrap();
        let recorded: i64 = db
            .query_row(
                "SELECT count(*) FROM ref_updates WHERE ref_name = ?1 AND new_id = ?2",
                [name, id],
                |r| r.get(0),
            )
            .unwrap();
        assert!(recorded > 0, "{name} at {id} is not in the push log of the copy");
    }
}
