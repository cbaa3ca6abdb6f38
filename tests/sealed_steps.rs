//! Built-in steps never touch a job's files as the server (#28). Every
//! input of a built-in step that names a path (the list the actions
//! declare, `Action::path_inputs`, and the step's `working-directory`, a
//! local action's folder and `hashFiles()`) is tried with each way a job
//! may point it elsewhere: links (absolute, relative, in the middle, at
//! the end, to `/proc/self/…`, swapped while the step runs), a hard link,
//! `..`, an absolute path, a FIFO, a device, a 20 GB sparse file and a name
//! with a newline. Each attack is a job of a stranger's account aimed at
//! the server's data directory, another user's private repository and a
//! root-only folder of the host. The test proves none of it was read
//! (no stored byte, log line or release holds any of it) or written.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hearth::ci::workflow::Action;
use serde_json::Value;

use common::TestServer;
use common::ci::{Repo, repo_of, repo_on};

const ENV_CANARY: &str = "env-canary-7f3a2c";
const ROOT_CANARY: &str = "root-only-canary-91c2d0";
const VICTIM_SECRET: &str = "the crown jewels of alice";

/// Where an attack points: the server's data directory, the host's
/// root-only folder, and the victim's private repository.
struct Targets {
    data: PathBuf,
    host: PathBuf,
    vault: PathBuf,
}

/// One way of pointing a path elsewhere: what a step does first (in the
/// workspace), and the path the built-in step is then given. `file`: the
/// input names a file (else a folder); `write`: the step writes there.
struct Attack {
    name: &'static str,
    setup: String,
    path: String,
}

fn attacks(t: &Targets, file: bool, write: bool) -> Vec<Attack> {
    let data = t.data.display().to_string();
    let host = t.host.display().to_string();
    let vault = t.vault.display().to_string();
    // A folder to read from, or to write into; a file to read.
    let (far, far_rel) = match (file, write) {
        (_, true) => (vault.clone(), "repos/alice/vault.git".to_string()),
        (true, false) => (format!("{data}/secrets.key"), "secrets.key".to_string()),
        (false, false) => (data.clone(), "repos".to_string()),
    };
    let attack = |name, setup: String, path: String| Attack { name, setup, path };
    vec![
        attack("absolute-link", format!("ln -s {far} loot"), "loot".into()),
        attack(
            "relative-link",
            "ln -s ../../../../../../../../../../../../.. up".into(),
            format!("up{far}"),
        ),
        attack("middle-link", format!("ln -s {data} mid"), format!("mid/{far_rel}")),
        attack(
            "end-link",
            match write {
                true => format!("mkdir -p out && ln -s {host} out/end"),
                false => format!("mkdir -p out && ln -s {host}/canary.txt out/end"),
            },
            "out/end".into(),
        ),
        attack(
            "proc-link",
            match write {
                true => format!("ln -s /proc/self/root{vault} p"),
                false => "ln -s /proc/self/environ p".into(),
            },
            "p".into(),
        ),
        // Swapped between a folder and a link, as fast as it can, while the
        // built-in step runs (if anything of the step's could outlive it).
        attack(
            "swapped-link",
            format!(
                "mkdir -p s; (while :; do mv s s.real 2>/dev/null; ln -sfn {far} s; rm -f s; mv s.real s 2>/dev/null; done) & sleep 0.3"
            ),
            "s".into(),
        ),
        attack(
            "hard-link",
            format!(
                "ln {data}/secrets.key h 2>/dev/null || ln {host}/canary.txt h 2>/dev/null || ln /etc/shadow h 2>/dev/null || true"
            ),
            "h".into(),
        ),
        attack("dot-dot", String::new(), "../../../../../..".into()),
        attack("absolute", String::new(), far.clone()),
        attack("fifo", "mkfifo q".into(), "q".into()),
        attack("device", "ln -s /dev/zero z".into(), "z".into()),
        attack("sparse-20-GB", "truncate -s 20G big".into(), "big".into()),
        attack(
            "newline-name",
            "mkdir -p nl && printf x > \"nl/$(printf 'a\\nHearth: spoofed')\"".into(),
            "nl".into(),
        ),
    ]
}

/// A built-in step's use of one path input, as a step of a workflow.
struct Use {
    /// `uses` name and input (or `working-directory`, `uses: ./`, `hashFiles`).
    what: String,
    file: bool,
    write: bool,
    /// The workflow's trigger: `main` or a tag.
    on_tag: bool,
    step: fn(&str, &str) -> String,
}

fn quoted(path: &str) -> String {
    serde_json::to_string(path).unwrap()
}

/// The steps that use each path input. An input an action declares and
/// that has no entry here fails the test: none can be forgotten.
fn uses() -> Vec<Use> {
    let mut out = Vec::new();
    for action in Action::ALL {
        for input in action.path_inputs() {
            let u = |file, write, on_tag, step: fn(&str, &str) -> String| Use {
                what: format!("{} {input}", action.uses()),
                file,
                write,
                on_tag,
                step,
            };
            let more: Vec<Use> = match (action, *input) {
                (Action::Checkout, "path") => vec![u(false, true, false, |p, _| {
                    format!(
                        "      - uses: actions/checkout@v4\n        with: {{ ref: main, path: {} }}\n",
                        quoted(p)
                    )
                })],
                (Action::UploadArtifact, "path") => vec![u(false, false, false, |p, job| {
                    format!(
                        "      - uses: actions/upload-artifact@v4\n        with: {{ name: loot-{job}, path: {} }}\n",
                        quoted(p)
                    )
                })],
                (Action::DownloadArtifact, "path") => vec![u(false, true, false, |p, _| {
                    format!(
                        "      - uses: actions/download-artifact@v4\n        with: {{ name: seed, path: {} }}\n",
                        quoted(p)
                    )
                })],
                // A hit restores (writes); a miss saves at the end (reads).
                (Action::Cache, "path") => vec![
                    u(false, true, false, |p, _| {
                        format!(
                            "      - uses: actions/cache@v4\n        with: {{ key: seed, path: {} }}\n",
                            quoted(p)
                        )
                    }),
                    u(false, false, false, |p, job| {
                        format!(
                            "      - uses: actions/cache@v4\n        with: {{ key: miss-{job}, path: {} }}\n",
                            quoted(p)
                        )
                    }),
                ],
                (Action::CacheRestore, "path") => vec![u(false, true, false, |p, _| {
                    format!(
                        "      - uses: actions/cache/restore@v4\n        with: {{ key: seed, path: {} }}\n",
                        quoted(p)
                    )
                })],
                (Action::CacheSave, "path") => vec![u(false, false, false, |p, job| {
                    format!(
                        "      - uses: actions/cache/save@v4\n        with: {{ key: save-{job}, path: {} }}\n",
                        quoted(p)
                    )
                })],
                (Action::TestReport, "path") => vec![u(true, false, false, |p, _| {
                    format!(
                        "      - uses: hearth/test-report@v1\n        with: {{ path: {} }}\n",
                        quoted(p)
                    )
                })],
                (Action::PublishDocs, "path") => vec![u(false, false, false, |p, _| {
                    format!(
                        "      - uses: hearth/publish-docs@v1\n        with: {{ path: {} }}\n",
                        quoted(p)
                    )
                })],
                (Action::Release, "files") => vec![u(true, false, true, |p, _| {
                    format!(
                        "      - uses: hearth/release@v1\n        with: {{ files: {} }}\n",
                        quoted(p)
                    )
                })],
                (Action::Release, "body_path") => vec![u(true, false, true, |p, _| {
                    format!(
                        "      - uses: hearth/release@v1\n        with: {{ body_path: {} }}\n",
                        quoted(p)
                    )
                })],
                (action, input) => panic!("{} {input}: no attack of this path input yet", action.uses()),
            };
            out.extend(more);
        }
    }
    let u = |what: &str, file, step: fn(&str, &str) -> String| Use {
        what: what.into(),
        file,
        write: false,
        on_tag: false,
        step,
    };
    out.push(u("working-directory", false, |p, _| {
        format!(
            "      - working-directory: {}\n        run: cat secrets.key hearth.db plans.txt canary.txt 2>/dev/null | head -c 300 | od -c | head -5 || true\n",
            quoted(p)
        )
    }));
    out.push(u("uses: ./", false, |p, _| {
        format!("      - uses: {}\n", quoted(&format!("./{p}")))
    }));
    out.push(u("hashFiles()", true, |p, _| {
        format!(
            "      - run: echo \"hash=${{{{ hashFiles({}) }}}}\"\n",
            quoted(p).replace('"', "'")
        )
    }));
    out
}

/// A job name from an attack and a use.
fn key(n: usize, attack: &str) -> String {
    format!("u{n}-{attack}")
}

/// Every file under `dir` with its bytes (what is readable to root).
fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                todo.push(e.path());
            } else {
                out.insert(e.path(), std::fs::read(e.path()).unwrap_or_default());
            }
        }
    }
    out
}

/// Whether `haystack` holds any of `needles`.
fn holds(haystack: &[u8], needles: &[Vec<u8>]) -> Option<String> {
    needles
        .iter()
        .find(|n| haystack.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|n| String::from_utf8_lossy(n).into_owned())
}

fn wait_runs(r: &Repo, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let runs = r.api("/actions/runs?per_page=100")["workflow_runs"]
            .as_array()
            .unwrap()
            .clone();
        if runs.len() >= n && runs.iter().all(|r| r["status"] == "completed") {
            return runs;
        }
        assert!(Instant::now() < deadline, "runs did not complete: {runs:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn no_path_a_job_names_lets_a_built_in_step_read_or_write_outside_its_workspace() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let server = TestServer::start_in(&data, &["--ci-jobs", "4"], &[("SEALED_CANARY", ENV_CANARY)]);
    // The victim: alice's private repository.
    let alice = repo_on(server);
    alice.server.create_repo(&alice.token, "vault", true);
    let vault_work = alice.git.dir("vault");
    alice.git.ok(None, &["init", "-q", vault_work.to_str().unwrap()]);
    std::fs::write(vault_work.join("plans.txt"), format!("{VICTIM_SECRET}\n")).unwrap();
    alice.git.ok(Some(&vault_work), &["add", "-A"]);
    alice.git.ok(Some(&vault_work), &["commit", "-qm", "plans"]);
    let url = alice.server.cred_url("alice", &alice.token, "/alice/vault.git");
    alice.git.ok(Some(&vault_work), &["push", "-q", &url, "HEAD:main"]);
    // A root-only folder of the host, with a file and an action.yml in it.
    let host_dir = tempfile::TempDir::new().unwrap();
    let host = host_dir.path().to_path_buf();
    std::fs::write(host.join("canary.txt"), ROOT_CANARY).unwrap();
    std::fs::write(
        host.join("action.yml"),
        format!("name: [ {ROOT_CANARY}\nruns: {{ using: composite }}\n"),
    )
    .unwrap();
    std::fs::set_permissions(host.join("canary.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o700)).unwrap();
    let t = Targets {
        vault: alice.server.repo_dir("alice", "vault"),
        data: data.clone(),
        host: host.clone(),
    };
    let r = repo_of(alice, "mallory", "demo");

    // What must never be read: the server's key and database, alice's
    // file, the root-only file and the server's environment.
    let server_key = std::fs::read(data.join("secrets.key")).unwrap();
    assert!(server_key.len() >= 16);
    let needles: Vec<Vec<u8>> = vec![
        server_key.clone(),
        b"SQLite format 3".to_vec(),
        VICTIM_SECRET.as_bytes().to_vec(),
        ROOT_CANARY.as_bytes().to_vec(),
        ENV_CANARY.as_bytes().to_vec(),
    ];
    let host_before = fingerprint(&host);
    let vault_before = fingerprint(&t.vault);

    // One workflow per use of a path input: a seed job (an artifact and a
    // cache to write with), then one job per attack.
    let seed = "  seed:\n    steps:\n      - run: mkdir -p s/hooks && printf '#!/bin/sh\\ntouch /tmp/pwned\\n' > s/hooks/post-update && chmod +x s/hooks/post-update && echo pwned > s/pwned.txt\n      - uses: actions/upload-artifact@v4\n        with: { name: seed, path: s/ }\n      - uses: actions/cache/save@v4\n        with: { key: seed, path: s }\n";
    let all = uses();
    let mut expected: Vec<(String, &'static str, String, bool)> = Vec::new();
    let mut tag_jobs = String::new();
    let mut files = 0;
    for (n, u) in all.iter().enumerate() {
        let mut jobs = String::new();
        for a in attacks(&t, u.file, u.write) {
            let job = key(n, a.name);
            let setup = match a.setup.is_empty() {
                true => String::new(),
                false => format!("      - run: {}\n", quoted(&a.setup)),
            };
            let text = format!(
                "  {job}:\n    needs: seed\n    timeout-minutes: 5\n    steps:\n{setup}{}",
                (u.step)(&a.path, &job)
            );
            // `uses: ./..` is refused when the workflow is read: the whole file would be.
            if u.what == "uses: ./" && a.name == "dot-dot" {
                let file = r.git.dir("refused.yml");
                std::fs::write(
                    &file,
                    format!("on: push\njobs:\n{}", text.replace("    needs: seed\n", "")),
                )
                .unwrap();
                let lint = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
                    .args(["ci", "lint"])
                    .arg(&file)
                    .output()
                    .unwrap();
                let said = String::from_utf8_lossy(&lint.stderr);
                assert!(
                    !lint.status.success() && said.contains("a folder inside the workspace"),
                    "{said}"
                );
                continue;
            }
            expected.push((job, a.name, u.what.clone(), u.on_tag));
            match u.on_tag {
                true => tag_jobs.push_str(&text.replace("    needs: seed\n", "")),
                false => jobs.push_str(&text),
            }
        }
        if !jobs.is_empty() {
            let dir = r.work.join(".hearth/workflows");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join(format!("use-{n}.yml")),
                format!("on:\n  push:\n    branches: [main]\njobs:\n{seed}{jobs}"),
            )
            .unwrap();
            files += 1;
        }
    }
    let dir = r.work.join(".hearth/workflows");
    std::fs::write(
        dir.join("tag.yml"),
        format!("on:\n  push:\n    tags: ['v*']\njobs:\n{tag_jobs}"),
    )
    .unwrap();
    r.commit_and_push("attacks", "main");
    let push_url = r.server.cred_url(&r.user, &r.token, &format!("/{}.git", r.slug));
    r.git.ok(Some(&r.work), &["tag", "v1.0.0"]);
    r.git.ok(Some(&r.work), &["push", "-q", &push_url, "v1.0.0"]);
    let started = Instant::now();
    let runs = wait_runs(&r, files + 1);
    eprintln!(
        "{} runs, {} attacks: {:?}",
        runs.len(),
        expected.len(),
        started.elapsed()
    );
    assert_eq!(r.server.get("/healthz").status(), 200);

    // Every job ran, and none read anything it must not.
    let mut logs = BTreeMap::new();
    for run in &runs {
        for job in r.jobs(run) {
            let log = r.log(&job);
            assert!(
                job["conclusion"] != "skipped" && job["conclusion"] != "cancelled",
                "{}: {log}",
                job["name"]
            );
            logs.insert(job["name"].as_str().unwrap().to_string(), log);
        }
    }
    let mut wrong = Vec::new();
    for (job, attack, what, _) in &expected {
        let log = logs
            .get(job)
            .unwrap_or_else(|| panic!("no job {job} ({what} {attack})"));
        if let Some(found) = holds(log.as_bytes(), &needles) {
            wrong.push(format!("{what}, {attack}: the log holds {found:?}:\n{log}"));
        }
        if log.lines().any(|l| l.contains("Z Hearth: spoofed")) {
            wrong.push(format!("{what}, {attack}: a name wrote a runner line:\n{log}"));
        }
        // `..` and absolute paths are refused, saying so.
        let refused = log.contains("leaves the workspace") || log.contains("outside the workspace");
        if matches!(*attack, "dot-dot" | "absolute") && what != "hashFiles()" && !refused {
            wrong.push(format!("{what}, {attack}: not refused:\n{log}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} attacks:\n{}",
        wrong.len(),
        expected.len(),
        wrong.join("\n\n")
    );
    // Nothing stored holds any of it: artifacts, caches, release assets and
    // docs, raw and unpacked.
    for (path, bytes) in fingerprint(&data.join("artifacts")) {
        if let Some(found) = holds(&bytes, &needles) {
            panic!("{} holds {found:?}", path.display());
        }
        let mut unpacked = Vec::new();
        if flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut unpacked)
            .is_ok()
            && let Some(found) = holds(&unpacked, &needles)
        {
            panic!("{} holds {found:?} once unpacked", path.display());
        }
    }
    let (_, releases) = r.server.api(
        "GET",
        &format!("/api/v1/repos/{}/releases", r.slug),
        Some(&r.token),
        None,
    );
    if let Some(found) = holds(releases.to_string().as_bytes(), &needles) {
        panic!("a release holds {found:?}: {releases}");
    }
    // Nothing was written outside: the host's folder, alice's repository,
    // the data directory.
    assert_eq!(fingerprint(&host), host_before, "the host's folder changed");
    assert_eq!(fingerprint(&t.vault), vault_before, "alice's repository changed");
    for (path, _) in fingerprint(&data) {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            name != "pwned.txt" && name != "post-update" && name != "pwned",
            "written into the data directory: {}",
            path.display()
        );
    }
    assert!(!Path::new("/tmp/pwned").exists());
    // The swapping loops ended with their steps.
    assert_eq!(common::processes_matching("s.real"), 0);
}

/// The three reproductions of the review, as they were written: each reads
/// 0 bytes and writes nothing outside the job's workspace.
#[test]
fn the_reviews_three_reproductions_read_nothing_and_write_nothing() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let server = TestServer::start_in(&data, &[], &[("SEALED_CANARY", ENV_CANARY)]);
    let alice = repo_on(server);
    alice.server.create_repo(&alice.token, "vault", true);
    let vault = alice.server.repo_dir("alice", "vault");
    let host_dir = tempfile::TempDir::new().unwrap();
    let host = host_dir.path().join("folder");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("keep.txt"), ROOT_CANARY).unwrap();
    std::fs::set_permissions(host.join("keep.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = repo_of(alice, "mallory", "demo");
    let (host_before, vault_before) = (fingerprint(&host), fingerprint(&vault));
    let (d, v, h) = (data.display(), vault.display(), host.display());
    let workflow = format!(
        r#"on: push
jobs:
  read-everything:
    steps:
      - run: cd ~ && rm -rf "$GITHUB_WORKSPACE" && ln -s {d} "$GITHUB_WORKSPACE"
      - uses: actions/upload-artifact@v4
        with: {{ name: everything, path: . }}
  write-a-repository:
    steps:
      - run: mkdir -p hooks && printf '#!/bin/sh\ntouch /tmp/pwned-by-hook\n' > hooks/post-receive && chmod +x hooks/post-receive
      - uses: actions/upload-artifact@v4
        with: {{ name: hook, path: . }}
      - run: cd ~ && rm -rf "$GITHUB_WORKSPACE" && ln -s {v} "$GITHUB_WORKSPACE"
      - uses: actions/download-artifact@v4
        with: {{ name: hook }}
  empty-a-host-folder:
    steps:
      - run: ln -s {h} out
      - uses: actions/checkout@v4
        with: {{ ref: main, path: out }}
"#
    );
    r.push_workflow("review.yml", &workflow, "main");
    let release = format!(
        r#"on:
  push:
    tags: ['v*']
jobs:
  environ:
    steps:
      - uses: hearth/release@v1
        with: {{ body_path: /proc/self/environ }}
  root-only:
    steps:
      - uses: hearth/release@v1
        with: {{ body_path: {h}/keep.txt }}
"#
    );
    r.push_workflow("release.yml", &release, "main");
    let url = r.server.cred_url(&r.user, &r.token, &format!("/{}.git", r.slug));
    r.git.ok(Some(&r.work), &["tag", "v2.0.0"]);
    r.git.ok(Some(&r.work), &["push", "-q", &url, "v2.0.0"]);
    let runs = wait_runs(&r, 3);
    let server_key = std::fs::read(data.join("secrets.key")).unwrap();
    let needles = vec![
        server_key,
        b"SQLite format 3".to_vec(),
        ROOT_CANARY.as_bytes().to_vec(),
        ENV_CANARY.as_bytes().to_vec(),
    ];
    for run in &runs {
        for job in r.jobs(run) {
            let log = r.log(&job);
            assert!(holds(log.as_bytes(), &needles).is_none(), "{log}");
            match job["name"].as_str().unwrap() {
                // The link leads nowhere in the sandbox: nothing is packed.
                "read-everything" => assert!(log.contains("the workspace is not a folder any more"), "{log}"),
                "environ" | "root-only" => {
                    assert_eq!(job["conclusion"], "failure", "{log}");
                    assert!(
                        log.contains("body_path: ") && log.contains("outside the workspace"),
                        "{log}"
                    );
                }
                _ => {}
            }
        }
    }
    for (path, bytes) in fingerprint(&data.join("artifacts")) {
        let mut unpacked = Vec::new();
        let _ = flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut unpacked);
        assert!(holds(&unpacked, &needles).is_none(), "{}", path.display());
    }
    let (_, releases) = r.server.api(
        "GET",
        &format!("/api/v1/repos/{}/releases", r.slug),
        Some(&r.token),
        None,
    );
    assert!(holds(releases.to_string().as_bytes(), &needles).is_none(), "{releases}");
    assert_eq!(fingerprint(&host), host_before, "the host folder was changed");
    assert_eq!(fingerprint(&vault), vault_before, "alice's repository was written");
    assert!(!Path::new("/tmp/pwned-by-hook").exists());
}

/// Caches as GitHub scopes them: a branch restores its own caches, then
/// its base's or the default branch's, and saves only its own; a pull
/// request's run cannot write a cache that the base branch restores.
#[test]
fn caches_are_scoped_to_the_ref_that_saved_them() {
    let r = repo_on(TestServer::start());
    let workflow = r#"on:
  push:
    branches: [main, topic]
  pull_request:
jobs:
  cache:
    steps:
      - uses: actions/cache/restore@v4
        with: { key: shared, path: c }
      - run: echo "RESTORED=$(cat c/who 2>/dev/null || echo none)"
      - run: mkdir -p c && echo "$GITHUB_REF" > c/who
      - uses: actions/cache/save@v4
        with: { key: shared, path: c }
"#;
    let restored = |n: i64| {
        let run = r.wait_run(n);
        let log = r.log(&r.jobs(&run)[0]);
        let line = log
            .lines()
            .find(|l| l.contains("RESTORED=") && !l.contains("echo"))
            .unwrap_or_default();
        line.split("RESTORED=").nth(1).unwrap_or_default().trim().to_string()
    };
    r.push_workflow("cache.yml", workflow, "main");
    assert_eq!(restored(1), "none");
    // A new branch restores the default branch's cache, and saves its own.
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "topic"]);
    r.commit_and_push("topic", "topic");
    assert_eq!(restored(2), "refs/heads/main");
    r.commit_and_push("topic again", "topic");
    assert_eq!(restored(3), "refs/heads/topic");
    // The default branch never sees the branch's.
    r.git.ok(Some(&r.work), &["checkout", "-q", "main"]);
    r.commit_and_push("main again", "main");
    assert_eq!(restored(4), "refs/heads/main");
    // A pull request's run restores the base's, and what it saves is its own.
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "evil"]);
    r.commit_and_push("evil", "evil");
    let (status, pull) = r.server.api(
        "POST",
        &format!("/api/v1/repos/{}/pulls", r.slug),
        Some(&r.token),
        Some(serde_json::json!({"title": "poison", "head": "evil", "base": "main"})),
    );
    assert_eq!(status, 201, "{pull}");
    assert_eq!(restored(5), "refs/heads/main");
    r.git.ok(Some(&r.work), &["checkout", "-q", "main"]);
    r.commit_and_push("main after the pull request", "main");
    assert_eq!(restored(6), "refs/heads/main", "the pull request's cache reached main");
    let scopes: Vec<String> = r
        .server
        .db()
        .prepare("SELECT scope FROM caches ORDER BY scope")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(scopes, ["refs/heads/main", "refs/heads/topic", "refs/pull/1/merge"]);
}

fn api(r: &Repo, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    r.server
        .api(method, &format!("/api/v1/repos/{}{path}", r.slug), Some(&r.token), body)
}

/// A job cannot pass its own run's gate (#28): a job token with
/// `actions: write`, of a reviewer's push, asking to approve the run's
/// pending deployment is refused; the deployment waits for the reviewer.
#[test]
fn a_job_token_cannot_approve_its_own_run_s_deployment() {
    let r = repo_on(TestServer::start());
    let (_, me) = r.server.api("GET", "/api/v1/user", Some(&r.token), None);
    let (status, _) = api(
        &r,
        "PUT",
        "/environments/prod",
        Some(serde_json::json!({"reviewers": [{"type": "User", "id": me["id"]}]})),
    );
    assert_eq!(status, 200);
    let workflow = r#"on: push
jobs:
  ship:
    environment: prod
    steps:
      - run: echo shipped
  approve:
    permissions:
      actions: write
      deployments: write
    steps:
      - env:
          GITHUB_TOKEN: ${{ github.token }}
        run: |
          sleep 1
          for state in approved rejected; do
            curl -s -o answer -w "%{http_code}\n" -X POST -H "Authorization: Bearer $GITHUB_TOKEN" \
              -H 'Content-Type: application/json' \
              -d "{\"environment_ids\": [$(curl -s -H "Authorization: Bearer $GITHUB_TOKEN" "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/pending_deployments" | python3 -c 'import json,sys; print(",".join(str(e["environment"]["id"]) for e in json.load(sys.stdin)))')], \"state\": \"$state\", \"comment\": \"by a job\"}" \
              "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/pending_deployments"
            cat answer; echo
          done
"#;
    r.push_workflow("gate.yml", workflow, "main");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (run, approve) = loop {
        let run = r.runs().into_iter().find(|run| run["run_number"] == 1);
        if let Some(run) = run {
            let jobs = r.jobs(&run);
            if let Some(j) = jobs
                .iter()
                .find(|j| j["key"] == "approve" && j["status"] == "completed")
            {
                break (run.clone(), j.clone());
            }
        }
        assert!(Instant::now() < deadline, "the approving job did not finish");
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = r.log(&approve);
    assert_eq!(log.matches("403").count(), 2, "{log}");
    assert!(
        log.contains("a job token cannot approve or reject deployments"),
        "{log}"
    );
    // The deployment still waits for its reviewer, who approves it.
    let ship = r.job(&r.jobs(&run), "ship").clone();
    assert_eq!(ship["status"], "waiting", "{ship}");
    let (_, pending) = api(
        &r,
        "GET",
        &format!("/actions/runs/{}/pending_deployments", run["id"]),
        None,
    );
    let env_id = pending[0]["environment"]["id"].clone();
    let (status, body) = api(
        &r,
        "POST",
        &format!("/actions/runs/{}/pending_deployments", run["id"]),
        Some(serde_json::json!({"environment_ids": [env_id], "state": "approved", "comment": "by alice"})),
    );
    assert_eq!(status, 200, "{body}");
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success");
}

/// An ssh deploy target's key reaches only the job deploying to its
/// environment (#28): another job of the run, with or without an
/// environment of its own, finds neither the secret nor the key's file.
#[test]
fn a_deploy_key_reaches_only_the_job_that_deploys_with_it() {
    let r = repo_on(TestServer::start());
    const KEY: &str =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VhbGVkLWRlcGxveS1rZXktNDQx\n-----END OPENSSH PRIVATE KEY-----";
    for env in ["prod", "other"] {
        assert_eq!(api(&r, "PUT", &format!("/environments/{env}"), None).0, 200);
    }
    let (status, _) = api(
        &r,
        "PUT",
        "/environments/prod/secrets/DEPLOY_KEY",
        Some(serde_json::json!({"value": KEY})),
    );
    assert_eq!(status, 201);
    // (The key's text is put together in the script, so the workflow file does not hold it.)
    let thief = r#"
      - run: |
          echo "secret=[${{ secrets.DEPLOY_KEY }}]"
          cat /run/hearth/deploy-key* 2>/dev/null && echo FOUND-KEY-FILE
          find / -xdev -name 'deploy-key*' 2>/dev/null | sed 's/^/FOUND: /'
          needle="c2VhbGVkLWRlcGxve"; needle="${needle}S1rZXktNDQx"
          grep -rl "$needle" /home /tmp /run 2>/dev/null | sed 's/^/FOUND: /' || true"#;
    let workflow = format!(
        r#"on: push
jobs:
  build:
    steps:
      - run: echo v1 > version.txt
      - uses: actions/upload-artifact@v4
        with: {{ name: app, path: version.txt }}
  deploy:
    needs: build
    environment: prod
    steps:
      - uses: hearth/deploy@v1
        with:
          artifact: app
          targets: ssh://deploy@127.0.0.1:1/srv/app
          ssh-key: ${{{{ secrets.DEPLOY_KEY }}}}
          known-hosts: "127.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
  thief:
    needs: build
    steps:{thief}
  other-environment:
    needs: build
    environment: other
    steps:{thief}
"#
    );
    r.push_workflow("deploy.yml", &workflow, "main");
    let run = r.wait_run(1);
    let jobs = r.jobs(&run);
    for key in ["thief", "other-environment"] {
        let log = r.log(r.job(&jobs, key));
        assert!(log.contains("secret=[]"), "{key}: {log}");
        assert!(!log.contains("c2VhbGVkLWRlcGxveS1rZXktNDQx"), "{key}: {log}");
        assert!(!log.contains("FOUND"), "{key}: {log}");
    }
    // The deploying job had it (and masks it), though its target is unreachable.
    let deploy = r.log(r.job(&jobs, "deploy"));
    assert!(!deploy.contains("c2VhbGVkLWRlcGxveS1rZXktNDQx"), "{deploy}");
}
