//! Hostile and interrupted pushes over the git protocol: a push whose
//! client vanishes mid-pack leaves nothing behind in the repository, and
//! what a crash left half done (quarantines, temporary packs, stale ref
//! locks, and abandoned job workspaces) is swept when the server starts,
//! so the next push works.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use common::ci::repo;
use common::{Git, TestServer};

/// What is in `objects/` of the repository at `path` that git calls temporary.
fn leftovers(path: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(path.join("objects"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tmp_"))
        .collect();
    out.sort();
    out
}

/// A pack entry of a blob of `size` random bytes, cut in the middle of its
/// compressed data.
fn half_a_blob(size: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as u8
        })
        .collect();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&data).unwrap();
    let compressed = z.finish().unwrap();
    // The entry's header: type 3 (blob) and the size, seven bits a byte.
    let mut n = size;
    let mut header = vec![0x80 | (3 << 4) | (n & 0x0f) as u8];
    n >>= 4;
    while n > 0 {
        let mut b = (n & 0x7f) as u8;
        n >>= 7;
        if n > 0 {
            b |= 0x80;
        }
        header.push(b);
    }
    *header.last_mut().unwrap() &= 0x7f;
    header.extend_from_slice(&compressed[..compressed.len() / 2]);
    header
}

#[test]
fn a_push_cut_off_midway_leaves_no_quarantine_and_the_next_push_lands() {
    let r = repo();
    let first = r.commit_and_push("First", "main");
    let bare = r.server.data.join("repos/alice/demo.git");
    // A push of a 4 MB pack whose client goes away partway through its
    // first object: git waits for the rest, inside its quarantine, and is
    // stopped when the body ends early.
    let addr = r.server.base.trim_start_matches("http://").to_string();
    let mut body = Vec::new();
    let command = format!("{first} {} refs/heads/main\0 report-status\n", "1".repeat(40));
    body.extend_from_slice(format!("{:04x}{command}", command.len() + 4).as_bytes());
    body.extend_from_slice(b"0000PACK\0\0\0\x02\0\0\0\x05");
    body.extend(half_a_blob(256 << 10));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{}", r.token));
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /alice/demo.git/git-receive-pack HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/x-git-receive-pack-request\r\nContent-Length: {}\r\n\r\n",
        4 << 20
    )
    .unwrap();
    stream.write_all(&body).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(stream);
    // The server notices (the body ends early), stops git and sweeps.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !leftovers(&bare).is_empty() {
        assert!(Instant::now() < deadline, "left behind: {:?}", leftovers(&bare));
        std::thread::sleep(Duration::from_millis(100));
    }
    // Nothing moved, and a real push lands.
    let head = std::fs::read_to_string(bare.join("refs/heads/main")).unwrap_or_default();
    assert!(head.is_empty() || head.trim() == first, "main did not move: {head}");
    let second = r.commit_and_push("Second", "main");
    assert_eq!(r.api("/branches/main")["commit"]["sha"], second.as_str());
    let mut fsck = std::process::Command::new("git");
    let out = fsck.args(["fsck", "--strict"]).current_dir(&bare).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The connection's answer, if any, was not a 5xx from a panic.
    let mut probe = TcpStream::connect(&addr).unwrap();
    write!(
        probe,
        "GET /api/v1 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    probe.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn what_a_crash_left_in_a_repository_is_swept_at_start_up() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let r = common::ci::repo_on(TestServer::start_in(&data, &[], &[]));
    let first = r.commit_and_push("First", "main");
    drop(r);
    let bare = data.join("repos/alice/demo.git");
    // As a server killed mid-push leaves them.
    std::fs::create_dir_all(bare.join("objects/tmp_objdir-incoming-Ab12Cd/pack")).unwrap();
    std::fs::write(bare.join("objects/tmp_objdir-incoming-Ab12Cd/pack/tmp_pack_x"), "half").unwrap();
    std::fs::write(bare.join("objects/pack/tmp_pack_Zz9"), "half").unwrap();
    std::fs::write(bare.join("refs/heads/main.lock"), format!("{first}\n")).unwrap();
    std::fs::write(bare.join("packed-refs.lock"), "").unwrap();
    // And a job's workspace, abandoned when the server died mid-job.
    std::fs::create_dir_all(data.join("work/job-99/src")).unwrap();
    std::fs::write(data.join("work/job-99/src/main.rs"), "fn main() {}").unwrap();
    std::fs::create_dir_all(data.join("work/notes")).unwrap();
    let server = TestServer::start_in(&data, &[], &[]);
    let token = String::from_utf8(server.admin(&["token", "alice"], "").stdout).unwrap();
    let token = token.trim();
    for gone in [
        "objects/tmp_objdir-incoming-Ab12Cd",
        "objects/pack/tmp_pack_Zz9",
        "refs/heads/main.lock",
        "packed-refs.lock",
    ] {
        assert!(!bare.join(gone).exists(), "{gone} was swept");
    }
    assert_eq!(
        std::fs::read_to_string(bare.join("refs/heads/main")).unwrap().trim(),
        first
    );
    assert!(!data.join("work/job-99").exists(), "the abandoned workspace went");
    assert!(data.join("work/notes").exists(), "what is not a workspace stays");
    // A push to main works again (a stale main.lock refused it).
    let git = common::Git::new();
    let work = git.dir("again");
    let url = server.cred_url("alice", token, "/alice/demo.git");
    git.ok(None, &["clone", "-q", &url, work.to_str().unwrap()]);
    std::fs::write(work.join("after.txt"), "after\n").unwrap();
    git.ok(Some(&work), &["add", "-A"]);
    git.ok(Some(&work), &["commit", "-q", "-m", "After the crash"]);
    git.ok(Some(&work), &["push", "-q", "origin", "main"]);
}

/// Another program (a backup, `sqlite3` left open) holds the database's
/// write lock: a push and an API write wait, then are refused with 503 and
/// `Retry-After`, and change nothing; once the lock goes, both work, and
/// the push made exactly one run.
#[test]
fn a_push_while_another_program_holds_the_database_is_refused_and_changes_nothing() {
    let r = repo();
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n",
        "main",
    );
    r.wait_run(1);
    let head = r.git.ok(Some(&r.work), &["rev-parse", "HEAD"]).trim().to_string();
    let db = rusqlite::Connection::open(r.server.data.join("hearth.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();

    let (status, answer) = r.server.api(
        "POST",
        "/api/v1/repos/alice/demo/issues",
        Some(&r.token),
        Some(serde_json::json!({"title": "while locked"})),
    );
    assert_eq!(status, 503, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("busy"), "{answer}");

    std::fs::write(r.work.join("b.txt"), "b").unwrap();
    r.git.ok(Some(&r.work), &["add", "-A"]);
    r.git.ok(Some(&r.work), &["commit", "-q", "-m", "While locked"]);
    let url = r.server.cred_url(&r.user, &r.token, "/alice/demo.git");
    let push = |git: &common::Git| {
        let out = git.run(Some(&r.work), &["push", &url, "HEAD:refs/heads/main"]);
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, out) = push(&r.git);
    assert!(!ok, "{out}");
    assert!(out.contains("503") || out.contains("busy"), "{out}");
    let refs = r.git.ok(None, &["ls-remote", &url, "refs/heads/main"]);
    assert!(refs.starts_with(&head), "the branch did not move: {refs}");

    db.execute_batch("ROLLBACK").unwrap();
    drop(db);
    let (ok, out) = push(&r.git);
    assert!(ok, "{out}");
    r.wait_run(2);
    assert_eq!(
        r.runs().len(),
        2,
        "one run for the push that landed, none for the refused one"
    );
    assert_eq!(
        r.server
            .api(
                "POST",
                "/api/v1/repos/alice/demo/issues",
                Some(&r.token),
                Some(serde_json::json!({"title": "after"}))
            )
            .0,
        201
    );
}

#[test]
fn garbage_truncated_and_oversized_bodies_get_4xx_and_no_leftover_git() {
    let (server, git, token) = common::pushed_fixture(false);
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
    common::assert_no_git_children(server.pid());
}

#[test]
fn corrupt_or_truncated_pack_is_rejected_and_the_repository_is_unchanged() {
    let (server, git, token) = common::pushed_fixture(false);
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
    common::fsck(&git, &server.repo_dir("alice", "demo"));
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
    common::fsck(&git, &server.repo_dir("alice", "demo"));
    common::assert_no_git_children(server.pid());
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
    common::assert_no_git_children(server.pid());
    assert_eq!(server.get("/healthz").status(), 200);
}

/// A pkt-line of `text`.
fn pkt(text: &str) -> String {
    format!("{:04x}{text}", text.len() + 4)
}

/// POSTs `body` to the repository's `service` as alice; status and body.
fn rpc(server: &TestServer, token: &str, service: &str, body: Vec<u8>, v2: bool) -> (u16, String) {
    let mut req = common::client()
        .post(server.url(&format!("/alice/demo.git/{service}")))
        .basic_auth("alice", Some(token))
        .header("Content-Type", format!("application/x-{service}-request"))
        .body(body);
    if v2 {
        req = req.header("Git-Protocol", "version=2");
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    (status, String::from_utf8_lossy(&resp.bytes().unwrap()).into_owned())
}

/// Lengths that lie, are not hex, or are reserved; a v2 command that does
/// not exist; capabilities nobody advertised: each is a 4xx or git's own
/// refusal in the answer, never a 5xx, a hang or a git process left behind.
#[test]
fn malformed_pkt_lines_and_unadvertised_capabilities_are_refused() {
    let (server, git, token) = common::pushed_fixture(false);
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    let head = git.ok(None, &["ls-remote", &url, "refs/heads/main"])[..40].to_string();
    let before = git.ok(None, &["ls-remote", &url]);
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("length not hex", b"zzzzwant".to_vec(), false),
        ("reserved length 0001..0003", b"0002".to_vec(), false),
        ("length past the end", b"ffffwant 1234".to_vec(), false),
        (
            "truncated after a good line",
            format!("{}00", pkt(&format!("want {head}\n"))).into_bytes(),
            false,
        ),
        (
            "a want of no object",
            format!("{}0000{}", pkt(&format!("want {}\n", "1".repeat(40))), pkt("done\n")).into_bytes(),
            false,
        ),
        (
            "a want that is not an id",
            format!("{}0000", pkt("want ../../etc/passwd\n")).into_bytes(),
            false,
        ),
        (
            "a v2 command that does not exist",
            format!("{}0000", pkt("command=exec\n")).into_bytes(),
            true,
        ),
        (
            "a v2 fetch with a bad argument",
            format!("{}0001{}0000", pkt("command=fetch\n"), pkt("want-ref ../../x\n")).into_bytes(),
            true,
        ),
        ("an empty body", Vec::new(), false),
    ];
    for (what, body, v2) in cases {
        let (status, text) = rpc(&server, &token, "git-upload-pack", body, v2);
        assert!(status < 500, "{what}: {status} {text}");
        assert!(!text.contains("PACK"), "{what}: a pack was sent: {status}");
    }
    // Capabilities nobody advertised (one shaped like an option) are
    // ignored, as git ignores them: the fetch of an advertised ref works
    // and nothing runs.
    let marker = git.dir("ran");
    let odd = format!(
        "want {head} allow-any-sha1-in-want --upload-pack=touch%20{}\n",
        marker.display()
    );
    let body = format!("{}0000{}", pkt(&odd), pkt("done\n")).into_bytes();
    let (status, text) = rpc(&server, &token, "git-upload-pack", body, false);
    assert!(status == 200 && text.contains("PACK"), "{status}");
    assert!(!marker.exists());
    let receive: Vec<(&str, Vec<u8>)> = vec![
        (
            "a command of garbage",
            format!("{}0000", pkt("garbage\0report-status\n")).into_bytes(),
        ),
        (
            "an old id that is not hex",
            format!(
                "{}0000",
                pkt(&format!("{} {head} refs/heads/x\0report-status\n", "z".repeat(40)))
            )
            .into_bytes(),
        ),
        (
            "no pack after a command",
            format!(
                "{}0000",
                pkt(&format!("{head} {} refs/heads/main\0report-status\n", "2".repeat(40)))
            )
            .into_bytes(),
        ),
    ];
    for (what, body) in receive {
        let (status, text) = rpc(&server, &token, "git-receive-pack", body, false);
        assert!(status < 500, "{what}: {status} {text}");
        assert!(!text.contains("ok refs/"), "{what}: {text}");
    }
    assert_eq!(git.ok(None, &["ls-remote", &url]), before, "no ref moved");
    common::assert_no_git_children(server.pid());
    assert_eq!(server.get("/healthz").status(), 200);
}

/// A commit that was pushed and then had its branch deleted is still in
/// the repository, but no ref reaches it: protocol v0 refuses it ("not our
/// ref"). (Protocol v2 lets wants be "anything", as its specification
/// says, to whoever may read the repository, until gc prunes the object:
/// the same as GitHub. SECURITY.md says so.)
#[test]
fn a_want_not_reachable_from_any_advertised_ref_is_refused() {
    let (server, git, token) = common::pushed_fixture(false);
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    let work = git.dir("work");
    git.ok(None, &["clone", "-q", &url, work.to_str().unwrap()]);
    git.ok(Some(&work), &["checkout", "-q", "-b", "secret"]);
    std::fs::write(work.join("secret.txt"), "the secret\n").unwrap();
    git.ok(Some(&work), &["add", "."]);
    git.ok(Some(&work), &["commit", "-qm", "Secret"]);
    let secret = git.ok(Some(&work), &["rev-parse", "HEAD"]).trim().to_string();
    git.ok(Some(&work), &["push", "-q", "origin", "secret"]);
    git.ok(Some(&work), &["push", "-q", "origin", "--delete", "secret"]);
    let body = format!("{}0000{}", pkt(&format!("want {secret}\n")), pkt("done\n")).into_bytes();
    let (status, text) = rpc(&server, &token, "git-upload-pack", body, false);
    assert!(status < 500, "{status}");
    assert!(
        !text.contains("PACK") && text.contains("not our ref"),
        "{status}: {text}"
    );
    let fresh = git.dir("fresh");
    git.ok(None, &["init", "-q", fresh.to_str().unwrap()]);
    let out = git.run(Some(&fresh), &["-c", "protocol.version=0", "fetch", &url, &secret]);
    assert!(!out.status.success(), "a v0 client could fetch it");
    common::assert_no_git_children(server.pid());
}

/// Ref names git itself refuses (`..`, `@{`, `.lock`, control characters,
/// a trailing `/` or `.`), a name that clashes with a branch as a folder,
/// and refs outside `refs/`: each is refused in receive-pack's report, no
/// ref moves, no run starts, and the repository stays sound.
#[test]
fn funny_ref_names_and_folder_clashes_are_refused_and_change_nothing() {
    let r = common::ci::repo();
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n",
        "main",
    );
    r.wait_run(1);
    let url = r.server.cred_url(&r.user, &r.token, "/alice/demo.git");
    let head = r.git.ok(Some(&r.work), &["rev-parse", "HEAD"]).trim().to_string();
    let empty_pack = r
        .git
        .command(Some(&r.work))
        .args(["pack-objects", "--stdout", "-q"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
        .stdout;
    assert!(empty_pack.starts_with(b"PACK"));
    let before = r.git.ok(None, &["ls-remote", &url]);
    let zero = "0".repeat(40);
    for name in [
        "refs/heads/a..b",
        "refs/heads/a@{1}",
        "refs/heads/x.lock",
        "refs/heads/tab\there",
        "refs/heads/bell\x07",
        "refs/heads/trailing/",
        "refs/heads/dot.",
        "refs/heads/main/inside",
        "HEAD",
        "config",
        "../../hooks/pre-receive",
        "refs/../../config",
    ] {
        let mut body = format!("{}0000", pkt(&format!("{zero} {head} {name}\0report-status\n"))).into_bytes();
        body.extend_from_slice(&empty_pack);
        let (status, text) = rpc(&r.server, &r.token, "git-receive-pack", body, false);
        assert!(status < 500, "{name:?}: {status} {text}");
        assert!(!text.contains(&format!("ok {name}")), "{name:?} was accepted: {text}");
    }
    // A part starting with `-` passes check-ref-format but reads as an
    // option to git's porcelain: refused before git runs.
    for name in ["refs/heads/-option", "refs/tags/x/--exec=sh"] {
        let mut body = format!("{}0000", pkt(&format!("{zero} {head} {name}\0report-status\n"))).into_bytes();
        body.extend_from_slice(&empty_pack);
        let (status, text) = rpc(&r.server, &r.token, "git-receive-pack", body, false);
        assert_eq!(status, 400, "{name:?}: {text}");
        assert!(text.contains("may not start with '-'"), "{text}");
    }
    let out = r.git.run(Some(&r.work), &["push", &url, "HEAD:refs/heads/-x"]);
    assert!(!out.status.success(), "git push of refs/heads/-x was accepted");
    assert_eq!(r.git.ok(None, &["ls-remote", &url]), before, "no ref moved");
    common::fsck(&r.git, &r.server.repo_dir("alice", "demo"));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(r.runs().len(), 1, "no run started");
    assert!(
        !r.server
            .repo_dir("alice", "demo")
            .join("refs/heads/main/inside")
            .exists()
    );
    common::assert_no_git_children(r.server.pid());
}
