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
use common::TestServer;
use common::ci::repo;

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
