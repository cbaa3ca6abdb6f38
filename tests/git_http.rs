//! Git over smart HTTP with the real git client: push, clone (protocol v0
//! and v2), fetch, branches, rejections, concurrency and access rules.

mod common;

use common::{Git, TestServer};

fn pushed_fixture() -> (TestServer, Git, String) {
    common::pushed_fixture(false)
}

#[test]
fn push_then_clone_with_protocol_v0_and_v2_gives_the_same_refs() {
    let (server, git, _) = pushed_fixture();
    let src = git.dir("src");
    let expected = git
        .refs(&src)
        .into_iter()
        .filter(|r| !r.starts_with("refs/remotes"))
        .collect::<Vec<_>>();
    assert!(expected.len() >= 8, "fixture has branches and tags: {expected:?}");
    for version in ["0", "1", "2"] {
        let dest = git.dir(&format!("clone-v{version}"));
        let url = server.url("/alice/demo.git");
        git.ok(
            None,
            &[
                "-c",
                &format!("protocol.version={version}"),
                "clone",
                "-q",
                "--mirror",
                &url,
                dest.to_str().unwrap(),
            ],
        );
        assert_eq!(git.refs(&dest), expected, "protocol v{version}");
        common::fsck(&git, &dest);
    }
    // The same repository answers without the .git suffix too.
    let dest = git.dir("clone-plain");
    git.ok(
        None,
        &["clone", "-q", &server.url("/alice/demo"), dest.to_str().unwrap()],
    );
    assert_eq!(
        git.ok(Some(&dest), &["rev-parse", "HEAD"]),
        git.ok(Some(&src), &["rev-parse", "main"])
    );
    // The server's copy is intact.
    common::fsck(&git, &server.repo_dir("alice", "demo"));
}

#[test]
fn incremental_fetch_new_branch_and_branch_deletion() {
    let (server, git, token) = pushed_fixture();
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    let a = git.dir("a");
    let b = git.dir("b");
    git.ok(None, &["clone", "-q", &url, a.to_str().unwrap()]);
    git.ok(None, &["clone", "-q", &url, b.to_str().unwrap()]);

    std::fs::write(a.join("new.txt"), "new\n").unwrap();
    git.ok(Some(&a), &["add", "."]);
    git.ok(Some(&a), &["commit", "-qm", "New work"]);
    git.ok(Some(&a), &["push", "-q", "origin", "main"]);
    git.ok(Some(&a), &["push", "-q", "origin", "main:refs/heads/fresh"]);

    for version in ["0", "2"] {
        git.ok(
            Some(&b),
            &["-c", &format!("protocol.version={version}"), "fetch", "-q", "origin"],
        );
    }
    assert_eq!(
        git.ok(Some(&b), &["rev-parse", "origin/main"]),
        git.ok(Some(&a), &["rev-parse", "HEAD"])
    );
    assert_eq!(
        git.ok(Some(&b), &["rev-parse", "origin/fresh"]),
        git.ok(Some(&a), &["rev-parse", "HEAD"])
    );

    git.ok(Some(&a), &["push", "-q", "origin", "--delete", "fresh"]);
    let remote = git.ok(None, &["ls-remote", &server.url("/alice/demo.git")]);
    assert!(!remote.contains("refs/heads/fresh"), "{remote}");
    assert!(remote.contains("refs/heads/topic-a"));
}

#[test]
fn non_fast_forward_push_is_rejected_and_changes_nothing() {
    let (server, git, token) = pushed_fixture();
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    let a = git.dir("a");
    git.ok(None, &["clone", "-q", &url, a.to_str().unwrap()]);
    git.ok(Some(&a), &["reset", "-q", "--hard", "HEAD~1"]);
    git.ok(Some(&a), &["commit", "-q", "--allow-empty", "-m", "Diverge"]);
    let before = git.ok(None, &["ls-remote", &url]);
    let err = git.fails(Some(&a), &["push", "origin", "main"]);
    assert!(err.contains("non-fast-forward") || err.contains("fetch first"), "{err}");
    assert_eq!(git.ok(None, &["ls-remote", &url]), before);
}

#[test]
fn two_concurrent_pushes_to_one_ref_one_wins_and_the_other_is_told() {
    let (server, git, token) = pushed_fixture();
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    let mut dirs = Vec::new();
    for name in ["p1", "p2"] {
        let d = git.dir(name);
        git.ok(None, &["clone", "-q", &url, d.to_str().unwrap()]);
        // Enough content that both pushes are in flight together.
        for i in 0..200 {
            std::fs::write(d.join(format!("{name}-{i}.txt")), format!("{name} {i}\n").repeat(50)).unwrap();
        }
        git.ok(Some(&d), &["add", "."]);
        git.ok(Some(&d), &["commit", "-qm", name]);
        dirs.push(d);
    }
    let outputs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|d| s.spawn(|| git.run(Some(d), &["push", "--porcelain", "origin", "main"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<bool> = outputs.iter().map(|o| o.status.success()).collect();
    assert_eq!(
        won.iter().filter(|w| **w).count(),
        1,
        "exactly one push wins: {outputs:?}"
    );
    let loser = &outputs[won.iter().position(|w| !w).unwrap()];
    let told = format!(
        "{}{}",
        String::from_utf8_lossy(&loser.stdout),
        String::from_utf8_lossy(&loser.stderr)
    );
    assert!(
        told.contains("rejected") || told.contains("failed") || told.contains("fetch first"),
        "{told}"
    );
    let winner = &dirs[won.iter().position(|w| *w).unwrap()];
    let remote = git.ok(None, &["ls-remote", &url, "refs/heads/main"]);
    assert!(remote.starts_with(git.ok(Some(winner), &["rev-parse", "HEAD"]).trim()));
    common::fsck(&git, &server.repo_dir("alice", "demo"));
}

#[test]
fn pushing_needs_credentials_and_write_access() {
    let (server, git, token) = pushed_fixture();
    let reader = server.user("rita", "pw-rita-12", false);
    let stranger = server.user("sam", "pw-sam-123", false);
    let (status, _) = server.api(
        "PUT",
        "/api/v1/repos/alice/demo/collaborators/rita",
        Some(&token),
        Some(serde_json::json!({"permission": "read"})),
    );
    assert_eq!(status, 204);
    let work = git.dir("work");
    git.ok(
        None,
        &["clone", "-q", &server.url("/alice/demo.git"), work.to_str().unwrap()],
    );
    git.ok(Some(&work), &["commit", "-q", "--allow-empty", "-m", "Try"]);
    let before = git.ok(None, &["ls-remote", &server.url("/alice/demo.git")]);

    // Anonymous: 401 with a Basic challenge, so git asks for credentials.
    let resp = server.get("/alice/demo.git/info/refs?service=git-receive-pack");
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Basic realm=\"Hearth\"");
    let err = git.fails(Some(&work), &["push", &server.url("/alice/demo.git"), "main"]);
    assert!(
        err.contains("could not read Username") || err.contains("Authentication failed"),
        "{err}"
    );

    // Wrong password: 401.
    let resp = common::client()
        .get(server.url("/alice/demo.git/info/refs?service=git-receive-pack"))
        .basic_auth("alice", Some("wrong-password"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    let err = git.fails(
        Some(&work),
        &[
            "push",
            &server.cred_url("alice", "wrong-password", "/alice/demo.git"),
            "main",
        ],
    );
    assert!(err.contains("Authentication failed") || err.contains("401"), "{err}");

    // Read-only collaborator and a stranger: 403.
    for (user, tok) in [("rita", &reader), ("sam", &stranger)] {
        let resp = common::client()
            .get(server.url("/alice/demo.git/info/refs?service=git-receive-pack"))
            .basic_auth(user, Some(tok))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 403, "{user}");
        let err = git.fails(
            Some(&work),
            &["push", &server.cred_url(user, tok, "/alice/demo.git"), "main"],
        );
        assert!(err.contains("403"), "{user}: {err}");
    }
    // Also with a password instead of a token.
    let err = git.fails(
        Some(&work),
        &[
            "push",
            &server.cred_url("rita", "pw-rita-12", "/alice/demo.git"),
            "main",
        ],
    );
    assert!(err.contains("403"), "{err}");
    assert_eq!(git.ok(None, &["ls-remote", &server.url("/alice/demo.git")]), before);

    // The owner pushes with a password as well as with a token.
    git.ok(
        Some(&work),
        &[
            "push",
            "-q",
            &server.cred_url("alice", "pw-alice-1", "/alice/demo.git"),
            "main",
        ],
    );
}

#[test]
fn private_repository_is_invisible_to_outsiders() {
    let server = TestServer::start();
    let alice = server.user("alice", "pw-alice-1", true);
    let bob = server.user("bob", "pw-bob-123", false);
    let carol = server.user("carol", "pw-carol-12", false);
    server.create_repo(&alice, "secret", true);
    let (status, _) = server.api(
        "PUT",
        "/api/v1/repos/alice/secret/collaborators/carol",
        Some(&alice),
        Some(serde_json::json!({"permission": "read"})),
    );
    assert_eq!(status, 204);
    let git = Git::new();
    let src = git.dir("src");
    git.fixture(&src);
    git.ok(
        Some(&src),
        &[
            "push",
            "-q",
            &server.cred_url("alice", &alice, "/alice/secret.git"),
            "main",
        ],
    );

    let missing = server.get("/alice/no-such-repo.git/info/refs?service=git-upload-pack");
    assert_eq!(missing.status(), 404);
    let missing_body = missing.text().unwrap();
    for (who, auth) in [("anonymous", None), ("bob", Some(("bob", bob.as_str())))] {
        for path in [
            "/alice/secret.git/info/refs?service=git-upload-pack",
            "/alice/secret.git/info/refs?service=git-receive-pack",
            "/alice/secret",
            "/api/v1/repos/alice/secret",
        ] {
            let mut req = common::client().get(server.url(path));
            if let Some((u, t)) = auth {
                req = req.basic_auth(u, Some(t));
            }
            let resp = req.send().unwrap();
            assert_eq!(resp.status(), 404, "{who} {path}");
            if path.contains("upload-pack") {
                assert_eq!(
                    resp.text().unwrap(),
                    missing_body,
                    "a private repo looks exactly like a missing one"
                );
            }
        }
        let url = match auth {
            Some((u, t)) => server.cred_url(u, t, "/alice/secret.git"),
            None => server.url("/alice/secret.git"),
        };
        let err = git.fails(None, &["ls-remote", &url]);
        let missing_url = url.replace("/alice/secret.git", "/alice/no-such-repo.git");
        let missing_err = git.fails(None, &["ls-remote", &missing_url]);
        assert_eq!(
            err.replace("secret", "X"),
            missing_err.replace("no-such-repo", "X"),
            "{who}: same as missing"
        );
        if auth.is_some() {
            assert!(err.contains("not found"), "{who}: {err}");
        } else {
            // git is asked for credentials, for a missing repository too.
            assert!(err.contains("could not read Username"), "{who}: {err}");
        }
    }
    for (user, tok) in [("alice", &alice), ("carol", &carol)] {
        let resp = common::client()
            .get(server.url("/alice/secret.git/info/refs?service=git-upload-pack"))
            .basic_auth(user, Some(tok))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200, "{user}");
        let dest = git.dir(&format!("clone-{user}"));
        git.ok(
            None,
            &[
                "clone",
                "-q",
                &server.cred_url(user, tok, "/alice/secret.git"),
                dest.to_str().unwrap(),
            ],
        );
    }
    // carol may read but not push.
    let resp = common::client()
        .get(server.url("/alice/secret.git/info/refs?service=git-receive-pack"))
        .basic_auth("carol", Some(&carol))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[test]
fn gzipped_requests_are_understood() {
    let (server, _git, _) = pushed_fixture();
    let body = b"0014command=ls-refs\n0016object-format=sha100010009peel\n000csymrefs\n0000";
    let mut gz = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    gz.stdin.take().unwrap().write_all(body).unwrap();
    let compressed = gz.wait_with_output().unwrap().stdout;
    let resp = common::client()
        .post(server.url("/alice/demo.git/git-upload-pack"))
        .header("Content-Type", "application/x-git-upload-pack-request")
        .header("Content-Encoding", "gzip")
        .header("Git-Protocol", "version=2")
        .body(compressed)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().unwrap();
    assert!(
        text.contains("refs/heads/main") && text.contains("refs/tags/v1.1 peeled:"),
        "{text}"
    );
}
