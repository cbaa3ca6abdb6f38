//! Git over smart HTTP with the real git client: push, clone (protocol v0
//! and v2), fetch, branches, rejections, concurrency and access rules.

mod common;

use std::path::Path;

use common::{Git, TestServer};

fn pushed_fixture() -> (TestServer, Git, String) {
    common::pushed_fixture(false)
}

fn fsck(git: &Git, repo: &Path) {
    git.ok(Some(repo), &["fsck", "--strict", "--no-progress"]);
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
        fsck(&git, &dest);
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
    fsck(&git, &server.repo_dir("alice", "demo"));
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
    fsck(&git, &server.repo_dir("alice", "demo"));
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
fn hostile_names_are_refused_before_touching_the_disk() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", false);
    let long = "a".repeat(101);
    let paths = [
        "/alice/../../etc/passwd".to_string(),
        "/alice/..%2f..%2fetc/info/refs?service=git-upload-pack".into(),
        "/alice/%2e%2e/info/refs?service=git-upload-pack".into(),
        "/%2e%2e/demo/info/refs?service=git-upload-pack".into(),
        "/alice/demo%2f..%2f..%2fx/info/refs?service=git-upload-pack".into(),
        "/alice//demo/info/refs?service=git-upload-pack".into(),
        "//alice/demo/info/refs?service=git-upload-pack".into(),
        "/alice/demo%00/info/refs?service=git-upload-pack".into(),
        "/alice/-demo/info/refs?service=git-upload-pack".into(),
        "/-alice/demo/info/refs?service=git-upload-pack".into(),
        "/alice/.git/info/refs?service=git-upload-pack".into(),
        format!("/alice/{long}/info/refs?service=git-upload-pack"),
        format!("/alice/{long}"),
        "/alice/demo.git.git/info/refs?service=git-upload-pack".into(),
    ];
    for path in &paths {
        // Sent as is: no client-side normalisation of `..`.
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--path-as-is"])
            .arg(server.url(path))
            .output()
            .unwrap();
        let code = String::from_utf8(out.stdout).unwrap();
        assert!(code == "404" || code == "400", "{path} answered {code}");
    }
    // Creating repositories with such names fails with a message, and makes nothing.
    for name in ["..", "../x", "-x", ".hidden", "x.git", "a/b", "a\0b", &long, "", "x y"] {
        let (status, body) = server.api(
            "POST",
            "/api/v1/user/repos",
            Some(&token),
            Some(serde_json::json!({ "name": name })),
        );
        assert_eq!(status, 400, "{name:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains("repository name"), "{body}");
    }
    let entries: Vec<_> = std::fs::read_dir(server.data.join("repos/alice")).unwrap().collect();
    assert_eq!(entries.len(), 1, "only demo.git exists");
    assert!(!server.data.join("repos/x.git").exists());
}

#[test]
fn garbage_truncated_and_oversized_bodies_get_4xx_and_no_leftover_git() {
    let (server, git, token) = pushed_fixture();
    let client = common::client();
    let post = |path: &str, content_type: &str, body: Vec<u8>, gzip: bool| {
        let mut req = client
            .post(server.url(path))
            .basic_auth("alice", Some(&token))
            .header("Content-Type", content_type)
            .body(body);
        if gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        let resp = req.send().unwrap();
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    };
    let up = "application/x-git-upload-pack-request";
    let rp = "application/x-git-receive-pack-request";
    let (code, msg) = post(
        "/alice/demo.git/git-upload-pack",
        up,
        b"this is not a pkt-line".to_vec(),
        false,
    );
    assert!((400..500).contains(&code), "{code} {msg}");
    let (code, msg) = post(
        "/alice/demo.git/git-upload-pack",
        up,
        b"\x1f\x8b\x08garbage".to_vec(),
        true,
    );
    assert!((400..500).contains(&code), "bad gzip: {code} {msg}");
    let (code, _) = post("/alice/demo.git/git-upload-pack", "text/plain", b"0000".to_vec(), false);
    assert_eq!(code, 400, "wrong content type");
    // Over the 10 MiB negotiation cap.
    let head = git.ok(None, &["ls-remote", &server.url("/alice/demo.git"), "refs/heads/main"]);
    let want = format!("want {}\n", &head[..40]);
    let mut big = format!("{:04x}{want}0000", want.len() + 4).into_bytes();
    while big.len() < (11 << 20) {
        big.extend_from_slice(b"0032have 1111111111111111111111111111111111111111\n");
    }
    let (code, msg) = post("/alice/demo.git/git-upload-pack", up, big, false);
    assert_eq!(code, 413, "{msg}");
    let before = git.ok(None, &["ls-remote", &server.url("/alice/demo.git")]);
    let (code, msg) = post(
        "/alice/demo.git/git-receive-pack",
        rp,
        b"garbage garbage".to_vec(),
        false,
    );
    assert!((400..500).contains(&code), "{code} {msg}");
    assert_eq!(git.ok(None, &["ls-remote", &server.url("/alice/demo.git")]), before);
    let (code, _) = post("/alice/demo.git/git-bogus-pack", up, b"0000".to_vec(), false);
    assert_eq!(code, 404);
    let resp = server.get("/alice/demo.git/info/refs");
    assert_eq!(resp.status(), 400, "dumb protocol is refused with a message");
    let resp = server.get("/alice/demo.git/info/refs?service=git-shell");
    assert_eq!(resp.status(), 400);
    // A hostile Git-Protocol header is not passed on; the request still works.
    let resp = client
        .get(server.url("/alice/demo.git/info/refs?service=git-upload-pack"))
        .header("Git-Protocol", "version=2 --upload-pack=touch")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text().unwrap().contains("# service=git-upload-pack"),
        "served as v0"
    );
    assert_no_git_children(server.pid());
}

#[test]
fn corrupt_or_truncated_pack_is_rejected_and_the_repository_is_unchanged() {
    let (server, git, token) = pushed_fixture();
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    let work = git.dir("work");
    git.ok(None, &["clone", "-q", &url, work.to_str().unwrap()]);
    for i in 0..30 {
        std::fs::write(work.join(format!("f{i}.txt")), format!("content {i}\n").repeat(100)).unwrap();
    }
    git.ok(Some(&work), &["add", "."]);
    git.ok(Some(&work), &["commit", "-qm", "Big"]);
    let old = git.ok(Some(&work), &["rev-parse", "HEAD~1"]).trim().to_string();
    let new = git.ok(Some(&work), &["rev-parse", "HEAD"]).trim().to_string();
    let pack = git
        .command(Some(&work))
        .args(["pack-objects", "--stdout", "--revs", "-q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{new}\n^{old}\n").as_bytes())?;
            c.wait_with_output()
        })
        .unwrap()
        .stdout;
    assert!(pack.len() > 200);
    let command = format!("{old} {new} refs/heads/main\0report-status\n");
    let mut head = format!("{:04x}{command}0000", command.len() + 4).into_bytes();
    let before = git.ok(None, &["ls-remote", &url]);
    let mut corrupt = pack.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    for body in [&pack[..pack.len() / 2], &corrupt[..]] {
        let mut req_body = std::mem::take(&mut head);
        req_body.extend_from_slice(body);
        head = format!("{:04x}{command}0000", command.len() + 4).into_bytes();
        let resp = common::client()
            .post(server.url("/alice/demo.git/git-receive-pack"))
            .basic_auth("alice", Some(&token))
            .header("Content-Type", "application/x-git-receive-pack-request")
            .body(req_body)
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let text = String::from_utf8_lossy(&resp.bytes().unwrap()).to_string();
        assert!(
            status >= 400 || text.contains("unpack ") && !text.contains("unpack ok"),
            "{status}: {text}"
        );
        assert_eq!(git.ok(None, &["ls-remote", &url]), before);
    }
    fsck(&git, &server.repo_dir("alice", "demo"));
    // A real push of the same commit still works afterwards.
    git.ok(Some(&work), &["push", "-q", "origin", "main"]);
}

#[test]
fn a_push_over_the_size_limit_is_refused_and_changes_nothing() {
    let server = TestServer::start_with(&["--max-push-size", "64K"]);
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", false);
    let git = Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", work.to_str().unwrap()]);
    std::fs::write(work.join("small.txt"), "small\n").unwrap();
    git.ok(Some(&work), &["add", "."]);
    git.ok(Some(&work), &["commit", "-qm", "Small"]);
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    git.ok(Some(&work), &["push", "-q", &url, "main"]);
    let before = git.ok(None, &["ls-remote", &url]);
    // Incompressible content well over 64 KiB.
    let noise = common::noise(400 * 1024, 0x9e3779b97f4a7c15);
    std::fs::write(work.join("big.bin"), &noise).unwrap();
    git.ok(Some(&work), &["add", "."]);
    git.ok(Some(&work), &["commit", "-qm", "Big"]);
    let err = git.fails(Some(&work), &["push", &url, "main"]);
    assert!(err.contains("413"), "{err}");
    assert_eq!(git.ok(None, &["ls-remote", &url]), before);
    fsck(&git, &server.repo_dir("alice", "demo"));
    assert_no_git_children(server.pid());
}

/// No `git` process is left running under the server.
fn assert_no_git_children(pid: u32) {
    for _ in 0..50 {
        let out = std::process::Command::new("pgrep")
            .args(["-P", &pid.to_string()])
            .output()
            .unwrap();
        if out.stdout.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = std::process::Command::new("ps")
        .args(["--ppid", &pid.to_string(), "-o", "pid,cmd"])
        .output()
        .unwrap();
    panic!("git children left behind: {}", String::from_utf8_lossy(&out.stdout));
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

#[test]
fn a_client_that_goes_away_mid_clone_leaves_no_git_behind() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "big", false);
    let git = Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", work.to_str().unwrap()]);
    // 8 MiB of incompressible data, so the pack takes a while to send slowly.
    let noise = common::noise(8 << 20, 0x2545f4914f6cdd1d);
    std::fs::write(work.join("noise.bin"), &noise).unwrap();
    git.ok(Some(&work), &["add", "."]);
    git.ok(Some(&work), &["commit", "-qm", "Noise"]);
    git.ok(
        Some(&work),
        &[
            "push",
            "-q",
            &server.cred_url("alice", &token, "/alice/big.git"),
            "main",
        ],
    );
    let head = git.ok(Some(&work), &["rev-parse", "HEAD"]);
    let want = format!("want {}\n", head.trim());
    let request = format!("{:04x}{want}00000009done\n", want.len() + 4);
    std::fs::write(git.dir("req"), request).unwrap();
    let mut curl = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--limit-rate", "20k", "-H"])
        .arg("Content-Type: application/x-git-upload-pack-request")
        .arg("--data-binary")
        .arg(format!("@{}", git.dir("req").display()))
        .arg(server.url("/alice/big.git/git-upload-pack"))
        .spawn()
        .unwrap();
    // Wait until git is serving the clone, then drop the client.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = std::process::Command::new("pgrep")
            .args(["-P", &server.pid().to_string()])
            .output()
            .unwrap();
        if !out.stdout.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "git upload-pack never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    curl.kill().unwrap();
    curl.wait().unwrap();
    assert_no_git_children(server.pid());
    assert_eq!(server.get("/healthz").status(), 200);
}

#[test]
fn oversized_headers_are_refused() {
    let server = TestServer::start();
    let resp = common::client()
        .get(server.url("/healthz"))
        .header("X-Filler", "x".repeat(1 << 20))
        .send();
    match resp {
        Ok(r) => assert_eq!(r.status(), 431),
        Err(e) => assert!(
            e.is_request() || e.is_connect() || e.to_string().contains("connection"),
            "{e}"
        ),
    }
    assert_eq!(server.get("/healthz").status(), 200);
}
