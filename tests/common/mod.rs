//! The test harness: the real `hearth` binary on port 0 with a temporary
//! data directory, the real `git` with an isolated HOME, and an HTTP client.
#![allow(dead_code)]

pub mod ci;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_hearth");

pub struct TestServer {
    pub base: String,
    pub data: PathBuf,
    child: Option<Child>,
    _dir: Option<TempDir>,
    /// The user the server runs as, when not the test's; admin commands too.
    run_as: Option<u32>,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    /// Starts a server with extra `serve` arguments (and `HEARTH_*` variables).
    pub fn start_with(args: &[&str]) -> TestServer {
        let dir = TempDir::new().unwrap();
        let data = dir.path().join("data");
        let mut server = Self::start_in(&data, args, &[]);
        server._dir = Some(dir);
        server
    }

    /// Starts a server as a newcomer does: in a folder of its own, with the
    /// default, relative data directory (`./data`).
    pub fn start_here() -> TestServer {
        let dir = TempDir::new().unwrap();
        let mut server = Self::launch(dir.path().join("data"), |cmd| {
            cmd.current_dir(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]);
        });
        server._dir = Some(dir);
        server
    }

    /// Starts a server as the unprivileged user `uid` (the test runs as
    /// root): through `setpriv`, with a data directory that user owns.
    pub fn start_as(uid: u32) -> TestServer {
        let dir = TempDir::new().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        for p in [dir.path(), data.as_path()] {
            std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
        }
        let mut server = Self::launch(data.clone(), |cmd| {
            *cmd = Command::new("setpriv");
            cmd.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={uid}"))
                .args([
                    "--clear-groups",
                    "--",
                    BIN,
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--data",
                ])
                .arg(&data)
                .env("HOME", dir.path());
        });
        server._dir = Some(dir);
        server.run_as = Some(uid);
        server
    }

    /// Starts a server on an existing data directory (kept by the caller);
    /// it listens on 127.0.0.1, on a free port, unless `args` say where.
    pub fn start_in(data: &Path, args: &[&str], env: &[(&str, &str)]) -> TestServer {
        let listen: &[&str] = match args.contains(&"--listen") {
            true => &[],
            false => &["--listen", "127.0.0.1:0"],
        };
        Self::launch(data.to_path_buf(), |cmd| {
            cmd.arg("serve")
                .args(listen)
                .arg("--data")
                .arg(data)
                .args(args)
                .envs(env.iter().copied());
        })
    }

    fn launch(data: PathBuf, setup: impl FnOnce(&mut Command)) -> TestServer {
        let mut cmd = Command::new(BIN);
        setup(&mut cmd);
        cmd.env("HEARTH_LOG", "info");
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start hearth");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[hearth] {line}");
                if let Some(i) = line.find("listening on http://") {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("hearth did not print its URL");
        TestServer {
            base,
            data,
            child: Some(child),
            _dir: None,
            run_as: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `http://user:secret@host:port/path`
    pub fn cred_url(&self, user: &str, secret: &str, path: &str) -> String {
        self.base.replacen("http://", &format!("http://{user}:{secret}@"), 1) + path
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server with SIGTERM and waits; returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else { return false };
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        c.wait().map(|s| s.success()).unwrap_or(false)
    }

    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }

    /// `hearth admin ARGS... --data DATA` with `stdin` as its input.
    pub fn admin(&self, args: &[&str], stdin: &str) -> Output {
        match self.run_as {
            None => admin(&self.data, args, stdin),
            Some(uid) => admin_with(
                Command::new("setpriv")
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .args(["--clear-groups", "--", BIN]),
                &self.data,
                args,
                stdin,
            ),
        }
    }

    /// Creates a user through the CLI and returns a token for them.
    pub fn user(&self, name: &str, password: &str, admin: bool) -> String {
        let mut args = vec!["create-user", name];
        if admin {
            args.push("--admin");
        }
        let out = self.admin(&args, &format!("{password}\n"));
        assert!(
            out.status.success(),
            "create-user failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = self.admin(&["token", name], "");
        assert!(
            out.status.success(),
            "token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Calls the JSON API; returns the status and the parsed body (or Null).
    pub fn api(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = client().request(method.parse().unwrap(), self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("token {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn create_repo(&self, token: &str, name: &str, private: bool) {
        let (status, body) = self.api(
            "POST",
            "/api/v1/user/repos",
            Some(token),
            Some(serde_json::json!({"name": name, "private": private})),
        );
        assert_eq!(status, 201, "create repo {name}: {body}");
    }

    pub fn get(&self, path: &str) -> Response {
        client().get(self.url(path)).send().unwrap()
    }

    pub fn repo_dir(&self, owner: &str, name: &str) -> PathBuf {
        self.data.join("repos").join(owner).join(format!("{name}.git"))
    }

    /// Opens the server's database read-only, to check what was recorded.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(self.data.join("hearth.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn admin(data: &Path, args: &[&str], stdin: &str) -> Output {
    admin_with(&mut Command::new(BIN), data, args, stdin)
}

/// `hearth admin ARGS... --data DATA`, started by `cmd`.
fn admin_with(cmd: &mut Command, data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = cmd
        .arg("admin")
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// An HTTP client that follows no redirects, so tests see them.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A browser-like client: keeps cookies, follows no redirects.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The value of `<input name="csrf" value="...">` in a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("page has a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..at + 64].to_string()
}

/// The real git client with an isolated configuration.
pub struct Git {
    pub home: TempDir,
}

impl Git {
    pub fn new() -> Git {
        let home = TempDir::new().unwrap();
        let git = Git { home };
        for (k, v) in [
            ("user.name", "Test Person"),
            ("user.email", "test@example.test"),
            ("init.defaultBranch", "main"),
            ("advice.detachedHead", "false"),
            ("protocol.version", "2"),
        ] {
            git.ok(None, &["config", "--global", k, v]);
        }
        git
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    pub fn command(&self, cwd: Option<&Path>) -> Command {
        let mut cmd = Command::new("git");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        cmd
    }

    pub fn run(&self, cwd: Option<&Path>, args: &[&str]) -> Output {
        self.command(cwd).args(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Runs git and asserts success; returns stdout.
    pub fn ok(&self, cwd: Option<&Path>, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs git, asserts failure, returns stderr.
    pub fn fails(&self, cwd: Option<&Path>, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        assert!(!out.status.success(), "git {args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }

    /// `refname objectid` lines, sorted.
    pub fn refs(&self, repo: &Path) -> Vec<String> {
        let out = self.ok(Some(repo), &["for-each-ref", "--format=%(refname) %(objectname)"]);
        let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
        lines.sort();
        lines
    }

    /// Makes the fixture repository (branches, tags, merges) at `dir`.
    pub fn fixture(&self, dir: &Path) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make-history.sh");
        let out = self.command(None).arg("--version").output().unwrap();
        assert!(out.status.success());
        let out = Command::new("bash")
            .arg(script)
            .arg(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fixture failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A server with alice (admin, password `pw-alice-1`) and her repository
/// `alice/demo` holding the fixture's branches and tags; returns her token.
pub fn pushed_fixture(private: bool) -> (TestServer, Git, String) {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", private);
    let git = Git::new();
    let src = git.dir("src");
    git.fixture(&src);
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    git.ok(Some(&src), &["push", "-q", &url, "--all"]);
    git.ok(Some(&src), &["push", "-q", &url, "--tags"]);
    (server, git, token)
}

/// A browser signed in through the login form.
pub fn sign_in(server: &TestServer, name: &str, password: &str) -> Client {
    let client = browser();
    let page = client.get(server.url("/login")).send().unwrap().text().unwrap();
    let resp = client
        .post(server.url("/login"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("name", name),
            ("password", password),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303, "signing in as {name}");
    client
}

/// `len` bytes that do not compress (xorshift), so packs stay large.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The command lines of the children of process `pid`.
pub fn children_of(pid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: the command may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        if rest.split_whitespace().nth(1) == Some(pid.to_string().as_str()) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            out.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    out
}

/// How many processes have `pattern` in their command line.
pub fn processes_matching(pattern: &str) -> usize {
    let out = Command::new("pgrep").args(["-f", pattern]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A signal from a test to a job step that waits for it: a port on
/// 127.0.0.1 that starts listening when raised (a step in its sandbox sees
/// none of the test's files, but shares the host's network).
pub struct Flag {
    port: u16,
    raised: std::sync::Mutex<Option<std::net::TcpListener>>,
}

impl Flag {
    pub fn new(_name: &str) -> Flag {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Flag {
            port,
            raised: std::sync::Mutex::new(None),
        }
    }

    /// A shell command that succeeds once the flag is raised.
    pub fn test(&self) -> String {
        format!("(exec 3</dev/tcp/127.0.0.1/{}) 2>/dev/null", self.port)
    }

    /// A shell loop that waits for the flag.
    pub fn wait(&self) -> String {
        format!("until {}; do sleep 0.05; done", self.test())
    }

    pub fn raise(&self) {
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        *self.raised.lock().unwrap() = Some(listener);
    }
}

/// `git fsck --strict` passes on the repository at `repo`.
pub fn fsck(git: &Git, repo: &Path) {
    git.ok(Some(repo), &["fsck", "--strict", "--no-progress"]);
}

/// No `git` process is left running under the server.
pub fn assert_no_git_children(pid: u32) {
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

/// This machine's first IPv4 address that is not loopback: a client there
/// is not "this machine" to the server, though no packet leaves it.
pub fn outside_address() -> std::net::IpAddr {
    let out = Command::new("hostname").arg("-I").output().expect("hostname -I");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
        .find(|a| a.is_ipv4() && !a.is_loopback())
        .expect("this machine has no address but loopback; the test needs one (hostname -I)")
}

/// The port a server listens on.
pub fn port_of(server: &TestServer) -> String {
    server
        .url("/")
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string()
}
