//! Crashes at random points. The server is killed with SIGKILL again and
//! again while pushes land, issues and comments are written, jobs start
//! and end and deployments are made, then started again on the same data.
//! At the end every write it acknowledged (a 2xx, a push git called ok) is
//! there, the repository passes `git fsck --strict`, the database passes
//! `PRAGMA integrity_check`, and every push made exactly one run.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;
use common::ci::repo;
use serde_json::{Value, json};

/// Kill points, and the longest the whole test may take.
const CRASHES: usize = 100;
const BUDGET: Duration = Duration::from_secs(240);

const WORKFLOW: &str = "on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo built
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment: beta
    steps:
      - run: echo deployed
";

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What the server said yes to.
#[derive(Default)]
struct Acked {
    issues: HashSet<String>,
    comments: HashSet<String>,
    /// Per branch, the commits whose push git reported as done, in order.
    pushes: BTreeMap<String, Vec<String>>,
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

/// Every item of a paged API list.
fn all(server: &TestServer, token: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, list) = server.api(
            "GET",
            &format!("{path}{sep}per_page=100&page={page}"),
            Some(token),
            None,
        );
        assert_eq!(status, 200, "{path}: {list}");
        // Runs come as GitHub sends them: `{"total_count", "workflow_runs": [...]}`.
        let list = list.get("workflow_runs").unwrap_or(&list).as_array().unwrap().clone();
        if list.is_empty() {
            break;
        }
        out.extend(list);
    }
    out
}

#[test]
fn nothing_acknowledged_is_lost_when_the_server_is_killed_at_random_points() {
    let seed = std::env::var("HEARTH_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d_u64);
    eprintln!("fault seed {seed} (HEARTH_FAULT_SEED replays it)");
    let mut dice = Dice(seed | 1);
    let mut r = repo();
    r.push_workflow("ci.yml", WORKFLOW, "main");
    r.wait_run(1);
    let (status, _) = r.server.api(
        "POST",
        "/api/v1/repos/alice/demo/issues",
        Some(&r.token),
        Some(json!({"title": "the thread"})),
    );
    assert_eq!(status, 201);
    let data = r.server.data.clone();
    let token = r.token.clone();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let head = r.git.ok(Some(&r.work), &["rev-parse", "HEAD"]).trim().to_string();
    acked.lock().unwrap().pushes.insert("main".into(), vec![head]);
    std::fs::write(r.work.join("n.txt"), "start\n").unwrap();
    r.commit_and_push("Start", "main");
    // The first server keeps the data directory alive; the others run on it.
    let mut current: Option<TestServer> = None;
    let started = Instant::now();
    let mut crashes = 0;
    while crashes < CRASHES && started.elapsed() < BUDGET {
        let server = current.as_ref().unwrap_or(&r.server);
        let base = server.base.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        // Issues and comments, one after another, until the server is gone.
        for kind in ["issues", "comments"] {
            let (base, token, acked, stop) = (base.clone(), token.clone(), acked.clone(), stop.clone());
            workers.push(std::thread::spawn(move || {
                let client = client();
                for k in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let text = format!("{kind}-{crashes}-{k}");
                    let (path, body) = match kind {
                        "issues" => ("/api/v1/repos/alice/demo/issues", json!({ "title": text })),
                        _ => ("/api/v1/repos/alice/demo/issues/1/comments", json!({ "body": text })),
                    };
                    let sent = client
                        .post(format!("{base}{path}"))
                        .header("Authorization", format!("token {token}"))
                        .json(&body)
                        .send();
                    match sent {
                        Ok(resp) if resp.status() == 201 => {
                            let mut a = acked.lock().unwrap();
                            match kind {
                                "issues" => a.issues.insert(text),
                                _ => a.comments.insert(text),
                            };
                        }
                        Ok(resp) => assert!(resp.status().as_u16() != 500, "{path}: {}", resp.status()),
                        Err(_) => break,
                    }
                }
            }));
        }
        // The crash, at a random moment from now.
        let pid = server.pid();
        let delay = Duration::from_millis(30 + dice.below(400));
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        });
        // Meanwhile pushes: each a new commit on one of three branches, on
        // top of what the server has.
        let branch = ["main", "topic", "release"][crashes % 3];
        let url = server.cred_url(&r.user, &r.token, "/alice/demo.git");
        let fetched = r.git.run(Some(&r.work), &["fetch", "-q", &url, branch]);
        let start = if fetched.status.success() { "FETCH_HEAD" } else { "main" };
        r.git.ok(Some(&r.work), &["checkout", "-q", "--detach", start]);
        for k in 0..4 {
            std::fs::write(r.work.join("n.txt"), format!("{crashes}-{k}\n")).unwrap();
            r.git
                .ok(Some(&r.work), &["commit", "-qam", &format!("Change {crashes}-{k}")]);
            let sha = r.git.ok(Some(&r.work), &["rev-parse", "HEAD"]).trim().to_string();
            let out = r.git.run(
                Some(&r.work),
                &["push", "-q", &url, &format!("HEAD:refs/heads/{branch}")],
            );
            if !out.status.success() {
                break;
            }
            acked
                .lock()
                .unwrap()
                .pushes
                .entry(branch.to_string())
                .or_default()
                .push(sha);
        }
        killer.join().unwrap();
        match current.as_mut() {
            Some(s) => s.kill(),
            None => r.server.kill(),
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        crashes += 1;
        current = Some(TestServer::start_in(&data, &[], &[]));
    }
    assert!(crashes >= CRASHES, "only {crashes} crashes in {BUDGET:?}");
    let server = current.unwrap();

    // Every run the pushes made comes to an end.
    let deadline = Instant::now() + Duration::from_secs(120);
    let runs = loop {
        let runs = all(&server, &token, "/api/v1/repos/alice/demo/actions/runs");
        if runs.iter().all(|r| r["status"] == "completed") {
            break runs;
        }
        assert!(Instant::now() < deadline, "runs never finished");
        std::thread::sleep(Duration::from_millis(200));
    };
    let acked = acked.lock().unwrap();

    let issues: HashSet<String> = all(&server, &token, "/api/v1/repos/alice/demo/issues?state=all")
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<_> = acked.issues.difference(&issues).collect();
    assert!(lost.is_empty(), "acknowledged issues lost: {lost:?}");
    let comments: HashSet<String> = all(&server, &token, "/api/v1/repos/alice/demo/issues/1/comments")
        .iter()
        .map(|c| c["body"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<_> = acked.comments.difference(&comments).collect();
    assert!(lost.is_empty(), "acknowledged comments lost: {lost:?}");

    // Each branch holds its last acknowledged push (or a later one that
    // landed without its answer reaching the client).
    let url = server.cred_url(&r.user, &r.token, "/alice/demo.git");
    let refs = r.git.ok(None, &["ls-remote", &url]);
    r.git.ok(
        Some(&r.work),
        &["fetch", "-q", &url, "+refs/heads/*:refs/remotes/check/*"],
    );
    for (branch, shas) in &acked.pushes {
        let last = shas.last().unwrap();
        let tip = refs
            .lines()
            .find(|l| l.ends_with(&format!("refs/heads/{branch}")))
            .unwrap_or_else(|| panic!("{branch} is gone: {refs}"));
        let ok = r
            .git
            .run(Some(&r.work), &["merge-base", "--is-ancestor", last, &tip[..40]]);
        assert!(ok.status.success(), "{branch}: the acknowledged {last} is not in {tip}");
    }
    common::fsck(&r.git, &server.repo_dir("alice", "demo"));

    // Exactly one run per push that moved a branch, and one for each
    // acknowledged push.
    let mut per_sha: HashMap<String, usize> = HashMap::new();
    for run in runs.iter().filter(|r| r["event"] == "push") {
        *per_sha
            .entry(run["head_sha"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let doubled: Vec<_> = per_sha.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "pushes with more than one run: {doubled:?}");
    for shas in acked.pushes.values() {
        for sha in shas {
            assert_eq!(per_sha.get(sha), Some(&1), "the push of {sha} has no run");
        }
    }
    let pushed: usize = acked.pushes.values().map(Vec::len).sum();
    eprintln!(
        "{crashes} crashes in {:?}: {} issues, {} comments, {pushed} pushes acknowledged; {} runs",
        started.elapsed(),
        acked.issues.len(),
        acked.comments.len(),
        runs.len()
    );

    let mut server = server;
    assert!(server.stop());
    // No job's sandbox outlived its server: those a crash left are killed at
    // the next start.
    let sandboxes = format!("{}/work/job-", data.display());
    assert_eq!(
        common::processes_matching(&sandboxes),
        0,
        "job sandboxes were left running"
    );
    let db = rusqlite::Connection::open(data.join("hearth.db")).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}
