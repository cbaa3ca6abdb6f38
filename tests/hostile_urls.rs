//! Hostile names and paths in URLs: traversal, encoded separators, NUL,
//! a leading `-`, overlong and look-alike names. Each is refused with a 4xx
//! before anything on disk is touched, and never answers 5xx.

mod common;

use common::TestServer;

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

/// Paths inside a repository (blob, tree, raw, commit, issue numbers) that
/// try to leave it, smuggle a NUL or an option, or are just too long: each
/// gets a 4xx, and nothing of the machine is ever shown.
#[test]
fn hostile_paths_inside_a_repository_get_4xx_and_show_nothing_outside() {
    let (server, _git, _token) = common::pushed_fixture(false);
    let long = "a".repeat(8 * 1024);
    let paths = [
        "/alice/demo/blob/main/../../../../etc/passwd".to_string(),
        "/alice/demo/blob/main/..%2f..%2f..%2f..%2fetc%2fpasswd".into(),
        "/alice/demo/raw/main/%2e%2e/%2e%2e/%2e%2e/etc/passwd".into(),
        "/alice/demo/raw/main/..%5c..%5cetc%5cpasswd".into(),
        "/alice/demo/blob/main/README.md%00.png".into(),
        "/alice/demo/raw/main%00/README.md".into(),
        "/alice/demo/tree/--upload-pack=touch%20%2ftmp%2fpwned".into(),
        "/alice/demo/tree/-x/README.md".into(),
        "/alice/demo/commit/--output=%2ftmp%2fx".into(),
        "/alice/demo/commit/HEAD~1000000".into(),
        "/alice/demo/commits/main@{0}".into(),
        "/alice/demo/tree/main/%ff%fe".into(),
        format!("/alice/demo/blob/main/{long}"),
        format!("/alice/demo/tree/{long}"),
        "/alice/demo/issues/99999999999999999999999".into(),
        "/alice/demo/issues/-1".into(),
        "/alice/demo/issues/1%2f..%2f2".into(),
        "/alice/demo/pulls/1.patch%00".into(),
        "/alice/demo/runs/0".into(),
        "/alice/demo/runs/18446744073709551616".into(),
        "/api/v1/repos/alice/demo/contents/..%2f..%2fetc%2fpasswd".into(),
        "/api/v1/repos/alice/demo/contents/%2fetc%2fpasswd".into(),
        "/api/v1/repos/alice/..%2fdemo".into(),
        "/api/v1/users/%00".into(),
        "/static/..%2f..%2fCargo.toml".into(),
        "/static/../../../../etc/passwd".into(),
    ];
    for path in &paths {
        let out = std::process::Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "--path-as-is"])
            .arg(server.url(path))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        let code: u16 = code.parse().unwrap();
        assert!((400..500).contains(&code), "{path} answered {code}");
        assert!(!body.contains("root:x:0:0"), "{path} showed /etc/passwd");
        assert!(!body.contains("[package]"), "{path} showed a file of the server");
    }
    assert!(!std::path::Path::new("/tmp/pwned").exists());
    common::assert_no_git_children(server.pid());
    assert_eq!(server.get("/healthz").status(), 200);
}

/// Account names are ASCII and unique whatever their case, so no one can
/// take a name that looks like another's.
#[test]
fn look_alike_account_and_repository_names_are_refused() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    for name in [
        "\u{430}lice",
        "ALICE",
        "Alice",
        "alice\u{200b}",
        "al\u{0131}ce",
        "-alice",
        "alice/..",
    ] {
        let out = server.admin(&["create-user", name], "pw-long-enough-1\n");
        assert!(!out.status.success(), "{name:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{name:?}: {err}");
    }
    server.create_repo(&token, "demo", false);
    for name in ["Demo", "DEMO", "d\u{435}mo", "demo\u{200b}"] {
        let (status, body) = server.api(
            "POST",
            "/api/v1/user/repos",
            Some(&token),
            Some(serde_json::json!({ "name": name })),
        );
        assert!(
            status == 400 || status == 409 || status == 422,
            "{name:?}: {status} {body}"
        );
    }
    let (_, repos) = server.api("GET", "/api/v1/user/repos", Some(&token), None);
    assert_eq!(repos.as_array().unwrap().len(), 1, "{repos}");
}
