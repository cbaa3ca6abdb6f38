//! Every accepted ref update is recorded in SQLite exactly once — also when
//! the server dies between git updating a ref and the row being written.

mod common;

use common::{Git, TestServer};

/// (ref, old, new, pusher, source) rows of a repository, oldest first.
fn updates(server: &TestServer) -> Vec<(String, String, String, Option<String>, String)> {
    let db = server.db();
    let mut stmt = db
        .prepare(
            "SELECT u.ref_name, u.old_id, u.new_id, users.name, u.source FROM ref_updates u
             LEFT JOIN users ON users.id = u.pusher_id ORDER BY u.id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

const ZERO: &str = "0000000000000000000000000000000000000000";

#[test]
fn each_accepted_update_is_recorded_once_with_its_pusher() {
    let (server, git, token) = common::pushed_fixture(false);
    let src = git.dir("src");
    let url = server.cred_url("alice", &token, "/alice/demo.git");

    let rows = updates(&server);
    let refs = git.refs(&src);
    assert_eq!(rows.len(), refs.len(), "{rows:?}");
    for line in &refs {
        let (name, id) = line.split_once(' ').unwrap();
        assert!(
            rows.iter().any(|r| r.0 == name
                && r.1 == ZERO
                && r.2 == id
                && r.3.as_deref() == Some("alice")
                && r.4 == "push"),
            "{name} recorded: {rows:?}"
        );
    }

    // A push that changes nothing records nothing; a rejected one neither.
    git.ok(Some(&src), &["push", "-q", &url, "main"]);
    git.ok(Some(&src), &["checkout", "-q", "-b", "side", "main~2"]);
    git.fails(Some(&src), &["push", "-q", &url, "side:main"]);
    assert_eq!(updates(&server).len(), rows.len());

    // Update and delete are one row each.
    let old = git.ok(Some(&src), &["rev-parse", "main"]).trim().to_string();
    git.ok(Some(&src), &["checkout", "-q", "main"]);
    git.ok(Some(&src), &["commit", "-q", "--allow-empty", "-m", "More"]);
    let new = git.ok(Some(&src), &["rev-parse", "main"]).trim().to_string();
    git.ok(Some(&src), &["push", "-q", &url, "main", ":topic-a"]);
    let after = updates(&server);
    assert_eq!(after.len(), rows.len() + 2, "{after:?}");
    assert!(after.contains(&("refs/heads/main".into(), old, new, Some("alice".into()), "push".into())));
    assert!(after.iter().any(|r| r.0 == "refs/heads/topic-a" && r.2 == ZERO));

    // Restarting finds nothing new to record.
    let data = server.data.clone();
    let mut server = server;
    assert!(server.stop(), "SIGTERM stops the server cleanly");
    let server = TestServer::start_in(&data, &[], &[]);
    assert_eq!(updates(&server), after);
}

#[test]
fn a_crash_between_ref_update_and_record_is_reconciled_at_start_up() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let git = Git::new();
    let src = git.dir("src");
    git.fixture(&src);
    let first = TestServer::start_in(&data, &[], &[]);
    let token = first.user("alice", "pw-alice-1", true);
    first.create_repo(&token, "demo", false);
    drop(first);

    // This server aborts right after git has updated the refs.
    let mut crashing = TestServer::start_in(&data, &[], &[("HEARTH_FAILPOINT", "after-receive-pack")]);
    let url = crashing.cred_url("alice", &token, "/alice/demo.git");
    let _ = git.run(Some(&src), &["push", "-q", &url, "main", "v1.0"]);
    let status = crashing.wait_exit();
    assert!(!status.success(), "the server crashed as injected");
    let on_disk = git.ok(
        None,
        &[
            "--git-dir",
            data.join("repos/alice/demo.git").to_str().unwrap(),
            "show-ref",
        ],
    );
    assert!(
        on_disk.contains("refs/heads/main"),
        "git updated the ref before the crash: {on_disk}"
    );
    assert!(updates(&crashing).is_empty(), "nothing was recorded before the crash");

    // Also a ref moved behind the server's back while it was down.
    let main = git.ok(Some(&src), &["rev-parse", "main"]).trim().to_string();
    git.ok(
        None,
        &[
            "--git-dir",
            data.join("repos/alice/demo.git").to_str().unwrap(),
            "update-ref",
            "refs/heads/manual",
            &main,
        ],
    );

    let server = TestServer::start_in(&data, &[], &[]);
    let rows = updates(&server);
    let v1 = git.ok(Some(&src), &["rev-parse", "v1.0"]).trim().to_string();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.contains(&(
        "refs/heads/main".into(),
        ZERO.into(),
        main.clone(),
        Some("alice".into()),
        "reconcile".into()
    )));
    assert!(rows.contains(&(
        "refs/tags/v1.0".into(),
        ZERO.into(),
        v1,
        Some("alice".into()),
        "reconcile".into()
    )));
    assert!(rows.iter().any(|r| r.0 == "refs/heads/manual" && r.2 == main));
    drop(server);

    // Exactly once: another start records nothing more.
    let server = TestServer::start_in(&data, &[], &[]);
    assert_eq!(updates(&server), rows);
    // And the repository is served as usual.
    let out = git.ok(None, &["ls-remote", &server.url("/alice/demo.git")]);
    assert!(out.contains("refs/heads/main"));
}

#[test]
fn commits_recorded_at_start_up_still_close_their_issues() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let first = TestServer::start_in(&data, &[], &[]);
    let token = first.user("alice", "pw-alice-1", true);
    first.create_repo(&token, "demo", false);
    let (status, _) = first.api(
        "POST",
        "/api/v1/repos/alice/demo/issues",
        Some(&token),
        Some(serde_json::json!({"title": "Bug"})),
    );
    assert_eq!(status, 201);
    drop(first);
    let git = Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", work.to_str().unwrap()]);
    git.ok(Some(&work), &["commit", "-q", "--allow-empty", "-m", "Fixes #1"]);
    let mut crashing = TestServer::start_in(&data, &[], &[("HEARTH_FAILPOINT", "after-receive-pack")]);
    let _ = git.run(
        Some(&work),
        &[
            "push",
            "-q",
            &crashing.cred_url("alice", &token, "/alice/demo.git"),
            "main",
        ],
    );
    assert!(!crashing.wait_exit().success());
    let server = TestServer::start_in(&data, &[], &[]);
    let (_, issue) = server.api("GET", "/api/v1/repos/alice/demo/issues/1", Some(&token), None);
    assert_eq!(issue["state"], "closed", "{issue}");
}
