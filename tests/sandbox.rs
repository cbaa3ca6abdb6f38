//! The trust boundary: a job pushed by any account runs sealed off from
//! the server. Each attack is a real push by a new, unprivileged account;
//! each ends with the attack failed (or the value masked), the server
//! healthy, and nothing of the server read or changed.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::TestServer;
use common::ci::{Repo, repo_of, repo_on, repo_with};

/// A shell function for the workflows below: `try NAME COMMAND` prints
/// `LEAK NAME` when COMMAND succeeds, `blocked NAME` when it fails.
const TRY: &str = r#"try() { if eval "$2" >/dev/null 2>&1; then echo "LEAK $1"; else echo "blocked $1"; fi; }"#;

/// Asserts every attack of `names` is in `log` as blocked, and no leak at all.
fn all_blocked(log: &str, names: &[&str]) {
    // (The group line that names the step may show the definition of `try`.)
    assert!(
        !log.lines().any(|l| l.contains("LEAK ") && !l.contains("LEAK $1")),
        "{log}"
    );
    for name in names {
        assert!(log.contains(&format!("blocked {name}")), "{name} missing from:\n{log}");
    }
}

/// Waits until no process has `pattern` in its command line.
fn none_left(pattern: &str, why: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::processes_matching(pattern) > 0 {
        assert!(Instant::now() < deadline, "{why}: `{pattern}` is still running");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// alice (the admin) with a private repository `vault` holding a file, and
/// mallory (a new account) with her repository `demo`; returns mallory's
/// repository and alice's token.
fn victim_and_attacker(server: TestServer) -> (Repo, String) {
    let alice = repo_on(server);
    alice.server.create_repo(&alice.token, "vault", true);
    let git = &alice.git;
    let vault = git.dir("vault");
    git.ok(None, &["init", "-q", vault.to_str().unwrap()]);
    std::fs::write(vault.join("plans.txt"), "the crown jewels\n").unwrap();
    git.ok(Some(&vault), &["add", "-A"]);
    git.ok(Some(&vault), &["commit", "-qm", "plans"]);
    let url = alice.server.cred_url("alice", &alice.token, "/alice/vault.git");
    git.ok(Some(&vault), &["push", "-q", &url, "HEAD:main"]);
    let token = alice.token.clone();
    (repo_of(alice, "mallory", "demo"), token)
}

#[test]
fn a_job_sees_nothing_of_the_server_its_data_or_other_jobs() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let server = TestServer::start_in(&data, &[], &[("HEARTH_TEST_MARKER", "server-environment-7731")]);
    let pid = server.pid();
    let (m, alice_token) = victim_and_attacker(server);
    let d = data.display();
    let (peek, done) = (common::Flag::new("peek"), common::Flag::new("done"));
    m.push_workflow(
        "peek.yml",
        &format!(
            r#"on: push
jobs:
  hold:
    steps:
      - run: |
          echo "other job's secret" > held.txt
          echo holding
          {wait_done}
  peek:
    steps:
      - run: |
          {wait_peek}
          {TRY}
          try db "cat {d}/hearth.db"
          try key "cat {d}/secrets.key"
          try updir "cat $GITHUB_WORKSPACE/../../../../../../../../..{d}/hearth.db"
          try find "find / -xdev -name hearth.db 2>/dev/null | grep -q ."
          try procroot "cat /proc/{pid}/root{d}/hearth.db"
          try environ "cat /proc/{pid}/environ"
          try cmdline "cat /proc/{pid}/cmdline"
          try repo "cat {d}/repos/alice/vault.git/HEAD"
          try write "touch {d}/repos/alice/vault.git/pwned"
          try sql "test -e {d}/hearth.db"
          try otherjob "ls {d}/work/job-1/home"
          try otherworkspace "grep -rq 'secret' /home/runner/work/demo/demo/held.txt"
          try serverenv "env | grep -q server-environment-7731"
          try datapath "env | grep -q '{d}'"
          try root "test $(id -u) = 0"
          try serveruid "test $(id -u) = $(stat -c %u /proc/1)"
          try caps "grep -Eq '^CapEff:.*[1-9a-f]' /proc/self/status"
          try privs "grep -Eq '^NoNewPrivs:.*0' /proc/self/status"
          try processes "test $(ls /proc | grep -c '^[0-9]') -gt 10"
          try sudo "sudo -n true"
          echo "home=$HOME workspace=$GITHUB_WORKSPACE"
"#,
            wait_done = done.wait(),
            wait_peek = peek.wait(),
        ),
        "main",
    );
    // The peek starts while the other job runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = m.runs();
        if let Some(run) = runs.first()
            && m.jobs(run)
                .iter()
                .any(|j| j["key"] == "hold" && m.log(j).contains("holding"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the job to hold never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    peek.raise();
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let run = &m.runs()[0];
        let jobs = m.jobs(run);
        let job = m.job(&jobs, "peek");
        if job["status"] == "completed" {
            break m.log(job);
        }
        assert!(Instant::now() < deadline, "peek did not finish");
        std::thread::sleep(Duration::from_millis(100));
    };
    done.raise();
    m.wait_run(1);
    all_blocked(
        &log,
        &[
            "db",
            "key",
            "updir",
            "find",
            "procroot",
            "environ",
            "cmdline",
            "repo",
            "write",
            "sql",
            "otherjob",
            "otherworkspace",
            "serverenv",
            "datapath",
            "root",
            "serveruid",
            "caps",
            "privs",
            "processes",
            "sudo",
        ],
    );
    assert!(
        log.contains("home=/home/runner workspace=/home/runner/work/demo/demo"),
        "{log}"
    );
    // Nothing of the server changed: mallory is no admin, alice's vault is hers.
    let is_admin: bool = m
        .server
        .db()
        .query_row("SELECT is_admin FROM users WHERE name = 'mallory'", [], |r| r.get(0))
        .unwrap();
    assert!(!is_admin);
    let (status, _) = m.server.api("GET", "/api/v1/repos/alice/vault", Some(&m.token), None);
    assert_eq!(status, 404);
    let (status, _) = m
        .server
        .api("GET", "/api/v1/repos/alice/vault", Some(&alice_token), None);
    assert_eq!(status, 200);
    assert!(!m.server.repo_dir("alice", "vault").join("pwned").exists());
    assert_eq!(m.server.get("/healthz").status(), 200);
}

#[test]
fn the_data_directory_is_the_servers_alone() {
    let r = repo_with(&[]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&r.server.data), 0o700);
    assert_eq!(mode(&r.server.data.join("repos")), 0o700);
    assert_eq!(mode(&r.server.data.join("hearth.db")), 0o600);
    assert_eq!(mode(&r.server.data.join("secrets.key")), 0o600);
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - run: echo hi\n",
        "main",
    );
    r.wait_run(1);
    assert_eq!(mode(&r.server.data.join("runs")), 0o700);
}

/// A workflow whose step starts `sleeps` every way a process can try to
/// escape (setsid, a double fork, nohup, env -i), then runs `then`.
fn leaving(sleeps: &[String], then: &str) -> String {
    format!(
        r#"on: push
jobs:
  leave:
    steps:
      - run: |
          setsid -f {} >/dev/null 2>&1
          ( ( {} >/dev/null 2>&1 & ) & )
          nohup {} >/dev/null 2>&1 &
          env -i {} >/dev/null 2>&1 &
          {then}
"#,
        sleeps[0], sleeps[1], sleeps[2], sleeps[3]
    )
}

#[test]
fn nothing_a_job_starts_outlives_it_or_the_server() {
    let r = repo_of(repo_with(&[]), "mallory", "demo");
    let marker = 700_000 + std::process::id() % 100_000;
    let sleeps: Vec<String> = (0..4).map(|i| format!("sleep {}", marker + i)).collect();
    r.push_workflow("leave.yml", &leaving(&sleeps, "echo left them"), "main");
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success");
    for s in &sleeps {
        none_left(s, "a process the job left behind");
    }

    // The same while the job runs, and the server is killed with SIGKILL.
    let mut r = r;
    let flag = common::Flag::new("never");
    let later: Vec<String> = (4..8).map(|i| format!("sleep {}", marker + i)).collect();
    r.push_workflow("leave.yml", &leaving(&later, &flag.wait()), "main");
    let deadline = Instant::now() + Duration::from_secs(30);
    while later.iter().any(|s| common::processes_matching(s) == 0) {
        assert!(Instant::now() < deadline, "the job never started its processes");
        std::thread::sleep(Duration::from_millis(100));
    }
    r.server.kill();
    for s in &later {
        none_left(s, "a job's process after the server was killed");
    }
}

#[test]
fn files_a_job_controls_are_read_safely() {
    for args in [&[][..], &["--ci-sandbox", "off"][..]] {
        let r = repo_of(repo_with(args), "mallory", "demo");
        r.push_workflow(
            "files.yml",
            r#"on: push
jobs:
  fifo:
    steps:
      - run: rm -f "$GITHUB_ENV" && mkfifo "$GITHUB_ENV"
      - run: echo never
  zero:
    steps:
      - run: rm -f "$GITHUB_OUTPUT" && ln -s /dev/zero "$GITHUB_OUTPUT"
  large:
    steps:
      - run: head -c 2000000 /dev/zero | tr '\0' a >> "$GITHUB_ENV"
  link:
    steps:
      - run: |
          rm -f "$GITHUB_PATH" && ln -s /etc/passwd "$GITHUB_PATH"
  fine:
    steps:
      - run: echo "GREETING=hello" >> "$GITHUB_ENV"
      - run: echo "greeting is $GREETING"
"#,
            "main",
        );
        let started = Instant::now();
        let run = r.wait_run(1);
        assert!(started.elapsed() < Duration::from_secs(30), "{args:?}");
        assert_eq!(r.server.get("/healthz").status(), 200);
        let jobs = r.jobs(&run);
        for key in ["fifo", "zero", "large", "link"] {
            let job = r.job(&jobs, key);
            assert_eq!(job["conclusion"], "failure", "{key} {args:?}: {}", r.log(job));
            assert!(!r.log(job).contains("never"));
        }
        let fine = r.job(&jobs, "fine");
        assert_eq!(fine["conclusion"], "success");
        assert!(r.log(fine).contains("greeting is hello"));
        let log = |key| r.log(r.job(&jobs, key));
        assert!(
            log("large").contains("$GITHUB_ENV: env-1 is larger than 1024 KiB"),
            "{}",
            log("large")
        );
        if args.is_empty() {
            // In the sandbox, the runner's folder is not the job's to change.
            assert!(log("fifo").contains("Permission denied"), "{}", log("fifo"));
        } else {
            assert!(
                log("fifo").contains("$GITHUB_ENV: env-1 is not a regular file"),
                "{}",
                log("fifo")
            );
            assert!(
                log("zero").contains("$GITHUB_OUTPUT: output-1 is a symbolic link"),
                "{}",
                log("zero")
            );
            assert!(
                log("link").contains("$GITHUB_PATH: path-1 is a symbolic link"),
                "{}",
                log("link")
            );
        }
    }
}

#[test]
fn links_out_of_the_workspace_are_never_followed() {
    let r = repo_of(repo_with(&[]), "mallory", "demo");
    // A folder of the host the server could be tricked into writing to.
    let host = tempfile::TempDir::new().unwrap();
    let workflow = r#"on: push
jobs:
  upload:
    steps:
      - run: |
          ln -s /etc/passwd passwd
          ln -s /etc etc
          mkdir out && echo mine > out/real.txt && ln -s /etc/hostname out/host
      - uses: actions/upload-artifact@v4
        with:
          name: loot
          path: |
            passwd
            etc
            out
      - uses: actions/cache@v4
        with:
          key: loot-${{ github.sha }}
          path: passwd
  cwd:
    steps:
      - run: ln -s / root
      - working-directory: root
        run: ls etc/passwd
  land:
    needs: upload
    steps:
      - run: ln -s HOST land
      - uses: actions/download-artifact@v4
        with:
          name: loot
          path: land/deeper
"#
    .replace("HOST", &host.path().display().to_string());
    r.push_workflow("links.yml", &workflow, "main");
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let land = r.job(&jobs, "land");
    assert_eq!(land["conclusion"], "failure");
    assert!(
        r.log(land).contains("leaves the workspace through a symbolic link"),
        "{}",
        r.log(land)
    );
    assert_eq!(
        std::fs::read_dir(host.path()).unwrap().count(),
        0,
        "nothing written outside"
    );
    let cwd = r.job(&jobs, "cwd");
    assert_eq!(cwd["conclusion"], "failure");
    assert!(
        r.log(cwd).contains("leaves the workspace (through a symbolic link)"),
        "{}",
        r.log(cwd)
    );
    let artifacts = r.api(&format!("/actions/runs/{}/artifacts", run["id"]));
    assert_eq!(artifacts["artifacts"][0]["files"], 1, "{artifacts}");
    let url = artifacts["artifacts"][0]["archive_download_url"].as_str().unwrap();
    let zip = common::client()
        .get(url)
        .header("Authorization", format!("token {}", r.token))
        .send()
        .unwrap();
    assert_eq!(zip.status(), 200);
    let bytes = zip.bytes().unwrap();
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    for entry in archive.entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    assert_eq!(names, ["out/real.txt"]);
}

#[test]
fn secrets_are_masked_line_by_line_and_their_scripts_go() {
    let r = repo_of(repo_with(&[]), "mallory", "demo");
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\nQyNTUxOQAAACD4mZ2lkZWZnaGlqa2xt\n-----END OPENSSH PRIVATE KEY-----";
    let (status, body) = r.server.api(
        "PUT",
        &format!("/api/v1/repos/{}/actions/secrets/SSH_KEY", r.slug),
        Some(&r.token),
        Some(serde_json::json!({ "value": key })),
    );
    assert_eq!(status, 201, "{body}");
    r.push_workflow(
        "key.yml",
        r#"on: push
jobs:
  leak:
    steps:
      - env:
          KEY: ${{ secrets.SSH_KEY }}
        run: |
          echo "$KEY"
          cat <<'EOF'
          ${{ secrets.SSH_KEY }}
          EOF
          stat -c 'script %a %U' "$0"
      - run: test ! -e /run/hearth/step-1.sh && test -e /run/hearth/step-2.sh && echo "only its own script" && whoami
"#,
        "main",
    );
    let run = r.wait_run(1);
    let log = r.log(&r.jobs(&run)[0]);
    for line in key.lines() {
        assert!(!log.contains(line), "{line:?} in:\n{log}");
    }
    assert!(log.contains("***"));
    // The script holding the secret was the job's alone, and it went after its step.
    assert!(log.contains("script 600 runner"), "{log}");
    assert!(
        log.contains("only its own script\n") && log.contains(" runner\n"),
        "{log}"
    );
}

#[test]
fn without_its_sandbox_a_job_fails_and_says_how_to_fix_it() {
    // A PATH that has git but no bwrap.
    let bin = tempfile::TempDir::new().unwrap();
    std::os::unix::fs::symlink("/usr/bin/git", bin.path().join("git")).unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let path = bin.path().display().to_string();
    let server = TestServer::start_in(&data, &[], &[("PATH", path.as_str())]);
    let r = repo_on(server);
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - run: echo ran\n",
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "failure");
    let log = r.log(&r.jobs(&run)[0]);
    assert!(log.contains("bubblewrap (bwrap) is not installed"), "{log}");
    assert!(log.contains("--ci-sandbox off"), "{log}");
    assert!(!log.contains("\nran"), "{log}");
}

#[test]
fn without_a_sandbox_the_run_pages_say_so() {
    let r = repo_with(&["--ci-sandbox", "off"]);
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    steps:\n      - run: echo ran\n",
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success");
    for page in ["/alice/demo/runs", "/alice/demo/runs/1"] {
        let html = r.server.get(page).text().unwrap();
        assert!(html.contains("Jobs on this server run without a sandbox"), "{page}");
    }
    let sandboxed = repo_with(&[]);
    let html = sandboxed.server.get("/alice/demo/runs").text().unwrap();
    assert!(!html.contains("without a sandbox"));
}

#[test]
fn with_no_network_a_job_has_only_its_own_loopback() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let workflow = format!(
        "on: push\njobs:\n  a:\n    steps:\n      - run: |\n          {TRY}\n          try host \"exec 3</dev/tcp/127.0.0.1/{port}\"\n"
    );
    let closed = repo_with(&["--ci-network", "none"]);
    closed.push_workflow("ci.yml", &workflow, "main");
    let run = closed.wait_run(1);
    assert!(closed.log(&closed.jobs(&run)[0]).contains("blocked host"));
    let open = repo_with(&[]);
    open.push_workflow("ci.yml", &workflow, "main");
    let run = open.wait_run(1);
    assert!(
        open.log(&open.jobs(&run)[0]).contains("LEAK host"),
        "the host's network by default"
    );
}

#[test]
fn a_server_that_is_not_root_seals_its_jobs_in_a_user_namespace() {
    // SAFETY: getuid(2) cannot fail.
    assert_eq!(
        unsafe { libc::getuid() },
        0,
        "this test starts the server as another user"
    );
    let server = TestServer::start_as(65534);
    let d = server.data.display().to_string();
    let r = repo_of(repo_on(server), "mallory", "demo");
    r.push_workflow(
        "peek.yml",
        &format!(
            r#"on: push
jobs:
  peek:
    steps:
      - run: |
          {TRY}
          try db "cat {d}/hearth.db"
          try key "cat {d}/secrets.key"
          try caps "grep -Eq '^CapEff:.*[1-9a-f]' /proc/self/status"
          try processes "test $(ls /proc | grep -c '^[0-9]') -gt 10"
          echo "uid $(id -u) in $PWD"
"#
        ),
        "main",
    );
    let run = r.wait_run(1);
    let log = r.log(&r.jobs(&run)[0]);
    assert_eq!(run["conclusion"], "success", "{log}");
    all_blocked(&log, &["db", "key", "caps", "processes"]);
    assert!(log.contains("uid 65534 in /home/runner/work/demo/demo"), "{log}");
}

/// The folders named `name` below /sys/fs/cgroup (in every hierarchy).
fn cgroup_folders(name: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![(std::path::PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((dir, depth)) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten().filter(|e| e.path().is_dir()) {
            if entry.file_name() == name {
                found.push(entry.path());
            } else if depth < 5 {
                todo.push((entry.path(), depth + 1));
            }
        }
    }
    found
}

#[test]
fn a_step_s_processes_share_one_memory_limit_where_cgroups_hold() {
    let r = repo_with(&["--ci-job-memory", "160M"]);
    // Each process alone is well within 160 MiB; three of them together are not.
    let hold = |mb: u32| {
        format!(
            "n={mb}; for i in 1 2 3; do python3 -c \"import time; b = b'x' * ($n << 20); time.sleep(1.5)\" & pids=\"$pids $!\"; done; \
             for p in $pids; do wait $p; done; echo \"all three held $n MB\""
        )
    };
    r.push_workflow(
        "memory.yml",
        &format!(
            "on: push\njobs:\n  hog:\n    steps:\n      - run: {}\n  fits:\n    steps:\n      - run: {}\n",
            hold(70),
            hold(20)
        ),
        "main",
    );
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    let (hog, fits) = (r.job(&jobs, "hog"), r.job(&jobs, "fits"));
    let log = r.log(hog);
    // Each job's log says which limits hold, as the server's start-up log does.
    let limited = log.contains("Hearth: cgroup limits per step, all its processes together: 160 MiB of memory");
    if limited {
        assert_eq!(hog["conclusion"], "failure", "{log}");
        assert!(!log.contains("all three held 70 MB"), "{log}");
        assert!(
            log.contains("Hearth: the step ran out of memory: its processes may hold 160 MiB together"),
            "{log}"
        );
    } else {
        // No cgroups here (not root, or no memory controller): only each
        // process's own limit holds, and the log says why.
        assert!(log.contains("Hearth: cgroup limits per step: none (not set: "), "{log}");
        assert_eq!(hog["conclusion"], "success", "{log}");
    }
    assert_eq!(fits["conclusion"], "success", "{}", r.log(fits));
    assert!(r.log(fits).contains("all three held 20 MB"));
    assert_eq!(r.server.get("/healthz").status(), 200, "the server is unaffected");
    // The steps' cgroups are gone; only the server's own folder is left.
    let ours = cgroup_folders(&format!("hearth-{}", r.server.pid()));
    assert_eq!(limited, !ours.is_empty(), "{ours:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    for dir in &ours {
        while std::fs::read_dir(dir).unwrap().flatten().any(|e| e.path().is_dir()) {
            assert!(
                Instant::now() < deadline,
                "a step's cgroup is left in {}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
