//! The job helper, from the server's side: every built-in step that reads
//! or writes a job's files (checkout, artifacts up and down, caches,
//! `hashFiles`, test reports, release files and notes, documentation, a
//! local action's `action.yml`, a step's `working-directory`) has that
//! work done by this same binary (`hearth job-helper`, `inside`) started
//! in the job's sandbox as the job's user. The server never opens a path
//! the job controls: it hands the helper an archive on stdin, or takes an
//! archive, a file or a hash from its stdout, and treats what comes back
//! as the job's (bounded, and stored only as bytes). This is also how a
//! runner on another machine will do it: the job's files are where the
//! job runs.

pub mod inside;
pub mod paths;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::executor::Work;
use super::sandbox::Sandbox;

/// Where the helper (this binary) is inside a sandbox.
pub const SEEN_AT: &str = "/run/hearth-job-helper";
/// How long one helper may take at most (within the job's own time).
const MAX_TIME: Duration = Duration::from_secs(60 * 60);
/// The most a helper may say on stderr.
const MAX_STDERR: u64 = 256 << 10;

/// A job's helper: its sandbox, its folders, and until when it may run.
#[derive(Clone)]
pub struct Helper {
    sandbox: Sandbox,
    work: Work,
    deadline: Instant,
}

/// What goes to the helper's stdin.
pub enum Input {
    None,
    /// A stored archive.
    File(PathBuf),
    /// A folder of the server's own (a checkout it made), packed on the way.
    Folder(PathBuf),
}

/// What a helper said besides its result: notes for the log.
pub type Notes = Vec<String>;

impl Helper {
    pub fn new(sandbox: &Sandbox, work: &Work, deadline: Instant) -> Helper {
        Helper {
            sandbox: sandbox.clone(),
            work: work.clone(),
            deadline: deadline.min(Instant::now() + MAX_TIME),
        }
    }

    /// The workspace as the job sees it.
    pub fn workspace(&self) -> PathBuf {
        self.work.seen(&self.work.workspace)
    }

    /// The command line of helper operation `op`.
    fn argv(&self, op: &str, args: &[String]) -> Vec<String> {
        let mut argv = vec![self.sandbox.helper_program(), "job-helper".into(), op.into()];
        argv.extend(["--workspace".into(), self.workspace().display().to_string()]);
        argv.extend(args.iter().cloned());
        argv
    }

    /// Runs helper `argv` with `input` on stdin and `take` reading its
    /// stdout; then its result (the last line of stderr). Blocking. `Err`:
    /// why it failed, for the log.
    fn run<T>(
        &self,
        argv: &[String],
        input: Input,
        take: impl FnOnce(&mut dyn Read) -> Result<T, String>,
    ) -> Result<(T, serde_json::Value, Notes), String> {
        let (taken, status, said) = self.spawn(argv, &[], input, take)?;
        let (result, notes) = result_of(&said);
        match (result, taken) {
            (Ok(ok), Ok(t)) if status.success() => Ok((t, ok, notes)),
            (Err(why), _) | (_, Err(why)) => Err(why),
            (Ok(_), Ok(_)) => Err(format!("the job helper ended with {status}")),
        }
    }

    /// Runs `argv` in the job's sandbox, in its home; returns what
    /// `take` made of its stdout, how it ended and what it said on stderr.
    #[allow(clippy::type_complexity)]
    fn spawn<T>(
        &self,
        argv: &[String],
        env: &[(&str, &str)],
        input: Input,
        take: impl FnOnce(&mut dyn Read) -> Result<T, String>,
    ) -> Result<(Result<T, String>, std::process::ExitStatus, Vec<u8>), String> {
        // In the job's home, which a step cannot take away (its workspace it can).
        let home = self.work.seen(&self.work.home);
        let mut cmd = self.sandbox.command(&self.work, &home, argv).into_std();
        cmd.envs(env.iter().copied())
            .env("PATH", super::sandbox::PATH)
            .env("HOME", &home)
            .stdin(match input {
                Input::None => Stdio::null(),
                _ => Stdio::piped(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("the job helper could not start: {e}"))?;
        let pid = child.id() as i32;
        // Out of time, the helper's process group goes (in a sandbox, its
        // whole PID namespace with bwrap).
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let wait = self.deadline.saturating_duration_since(Instant::now());
        let watchdog = std::thread::spawn(move || {
            let timed_out = matches!(
                stopped.recv_timeout(wait),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            );
            if timed_out {
                // SAFETY: kill(2) of the helper's own process group.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
            timed_out
        });
        let feeder = child.stdin.take().map(|mut stdin| {
            std::thread::spawn(move || -> std::io::Result<()> {
                match input {
                    Input::None => Ok(()),
                    Input::File(path) => std::io::copy(&mut std::fs::File::open(path)?, &mut stdin).map(drop),
                    Input::Folder(dir) => pack_folder(&dir, stdin),
                }
            })
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let said = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = (&mut stderr).take(MAX_STDERR).read_to_end(&mut text);
            // The rest is drained, not kept, so the helper never blocks on it.
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            text
        });
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let taken = take(&mut stdout);
        if taken.is_err() {
            let _ = child.kill();
        }
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        let status = child.wait().map_err(|e| format!("waiting for the job helper: {e}"))?;
        let _ = stop.send(());
        let timed_out = watchdog.join().unwrap_or(false);
        if let Some(feeder) = feeder {
            let _ = feeder.join();
        }
        let said = said.join().unwrap_or_default();
        if timed_out {
            return Err("the job ran out of time".into());
        }
        Ok((taken, status, said))
    }

    /// Packs the files `patterns` match into the store `store`.
    pub fn pack(&self, store: &Path, patterns: &str, pack: &Pack) -> Result<Packed, String> {
        let argv = self.argv("pack", &pack.args(patterns));
        let cap = pack.max_archive_bytes;
        let (incoming, ok, _) = self.run(&argv, Input::None, |out| {
            let mut incoming = super::artifacts::Incoming::new(store).map_err(|e| format!("the store: {e}"))?;
            incoming.copy_from(out, cap, "the archive")?;
            Ok(incoming)
        })?;
        let stored = incoming.keep().map_err(|e| format!("the store: {e}"))?;
        Ok(Packed {
            sha: stored.sha,
            size: stored.size,
            files: count(&ok, "files"),
        })
    }

    /// Packs the files `patterns` match, each of at most `max_file_bytes`
    /// (larger ones left out with a note), and hands each to `each` with
    /// its path in the archive, as it comes.
    pub fn each_file(
        &self,
        patterns: &str,
        pack: &Pack,
        mut each: impl FnMut(&str, &mut dyn Read) -> Result<(), String>,
    ) -> Result<(usize, Notes), String> {
        let argv = self.argv("pack", &pack.args(patterns));
        let cap = pack.max_file_bytes;
        let (n, _, notes) = self.run(&argv, Input::None, |out| {
            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(out));
            let mut n = 0;
            for entry in archive.entries().map_err(|e| format!("the archive: {e}"))? {
                let entry = entry.map_err(|e| format!("the archive: {e}"))?;
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let path = entry
                    .path()
                    .map_err(|e| format!("the archive: {e}"))?
                    .display()
                    .to_string();
                each(&path, &mut entry.take(cap))?;
                n += 1;
            }
            Ok(n)
        })?;
        Ok((n, notes))
    }

    /// Unpacks `input` (an archive) into the folder `dest` of the
    /// workspace; returns how many files it held.
    pub fn unpack(&self, input: Input, dest: &str, replace: bool) -> Result<usize, String> {
        let mut args = vec!["--dest".to_string(), dest.to_string()];
        if replace {
            args.push("--replace".into());
        }
        let argv = self.argv("unpack", &args);
        let (_, ok, _) = self.run(&argv, input, |_| Ok(()))?;
        Ok(count(&ok, "files"))
    }

    /// The bytes of the first of `paths` (files of the workspace) that
    /// exists, at most `cap` of them; `None` when none of them exists.
    pub fn read(&self, paths: &[&str], cap: u64) -> Result<Option<Vec<u8>>, String> {
        let mut args = vec!["--max-bytes".to_string(), cap.to_string(), "--".into()];
        args.extend(paths.iter().map(|p| p.to_string()));
        let argv = self.argv("read", &args);
        let (bytes, ok, _) = self.run(&argv, Input::None, |out| {
            let mut bytes = Vec::new();
            out.take(cap + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            Ok(bytes)
        })?;
        if bytes.len() as u64 > cap {
            return Err(format!("larger than {}", super::artifacts::size_text(cap)));
        }
        Ok((!ok["path"].is_null()).then_some(bytes))
    }

    /// `hashFiles()` of `patterns`: "" when none match, or when they cannot be read.
    pub fn hash(&self, patterns: &[String]) -> String {
        let mut args = vec!["--".to_string()];
        args.extend(patterns.iter().cloned());
        let argv = self.argv("hash", &args);
        match self.run(&argv, Input::None, |_| Ok(())) {
            Ok((_, ok, _)) => ok["hash"].as_str().unwrap_or_default().to_string(),
            Err(_) => String::new(),
        }
    }

    /// `hashFiles()` from the executor's async code: blocking, so off the
    /// runtime's worker where it can be.
    pub fn hash_in_place(&self, patterns: &[String]) -> String {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| self.hash(patterns)),
            _ => self.hash(patterns),
        }
    }

    /// Runs a program of the system (git) in the job's sandbox as the
    /// job's user, in its home. `Err`: what it said, when it failed.
    pub fn program(&self, argv: &[String], env: &[(&str, &str)]) -> Result<(), String> {
        let (_, status, said) = self.spawn(argv, env, Input::None, |out| {
            std::io::copy(out, &mut std::io::sink()).map_err(|e| e.to_string())
        })?;
        match status.success() {
            true => Ok(()),
            false => Err(one_line(&String::from_utf8_lossy(&said), &status.to_string())),
        }
    }

    /// The command line that runs `argv` in the folder `cwd` of the
    /// workspace (a step's `working-directory`), checked where the files are.
    pub fn exec_argv(&self, cwd: &str, argv: &[String]) -> Vec<String> {
        let mut args = vec!["--cwd".to_string(), cwd.to_string(), "--".into()];
        args.extend(argv.iter().cloned());
        self.argv("exec", &args)
    }
}

/// What `pack` may take, and how it lays the archive out.
pub struct Pack {
    /// Paths start where upload-artifact starts them, not at the workspace.
    pub artifact_root: bool,
    pub max_files: usize,
    /// The files' bytes together, and the archive's.
    pub max_bytes: u64,
    pub max_archive_bytes: u64,
    pub max_file_bytes: u64,
    /// A larger file is left out with a note.
    pub skip_large: bool,
}

/// The most an artifact, a cache or documentation may hold.
pub const MAX_FILES: usize = 500_000;
pub const MAX_BYTES: u64 = 10 << 30;

impl Default for Pack {
    fn default() -> Pack {
        Pack {
            artifact_root: false,
            max_files: MAX_FILES,
            max_bytes: MAX_BYTES,
            max_archive_bytes: MAX_BYTES,
            max_file_bytes: MAX_BYTES,
            skip_large: false,
        }
    }
}

impl Pack {
    fn args(&self, patterns: &str) -> Vec<String> {
        let mut args = vec![
            "--patterns".to_string(),
            patterns.to_string(),
            "--max-files".into(),
            self.max_files.to_string(),
            "--max-bytes".into(),
            self.max_bytes.to_string(),
            "--max-file-bytes".into(),
            self.max_file_bytes.to_string(),
        ];
        if self.artifact_root {
            args.push("--artifact-root".into());
        }
        if self.skip_large {
            args.push("--skip-large".into());
        }
        args
    }
}

/// An archive the helper made, stored.
#[derive(Debug)]
pub struct Packed {
    pub sha: String,
    pub size: u64,
    pub files: usize,
}

fn count(ok: &serde_json::Value, key: &str) -> usize {
    ok[key].as_u64().unwrap_or(0) as usize
}

/// The helper's result and notes, from what it wrote on stderr; anything
/// else there (bwrap's own words, a program's) is the reason it failed.
fn result_of(said: &[u8]) -> (Result<serde_json::Value, String>, Notes) {
    let text = String::from_utf8_lossy(said);
    let mut notes = Vec::new();
    let mut other = Vec::new();
    let mut result = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v.get("note").is_some() => notes.push(one_line(v["note"].as_str().unwrap_or_default(), "")),
            Ok(v) if v.get("ok").is_some() => result = Some(Ok(v["ok"].clone())),
            Ok(v) if v.get("error").is_some() => {
                result = Some(Err(one_line(
                    v["error"].as_str().unwrap_or_default(),
                    "the job helper failed",
                )))
            }
            _ => other.push(line.trim().to_string()),
        }
    }
    let result = result.unwrap_or_else(|| Err(one_line(&other.join("; "), "the job helper said nothing")));
    (result, notes)
}

/// `text` as one line a person can read (not a dump: its first 500
/// characters, control characters as spaces), or `otherwise`.
fn one_line(text: &str, otherwise: &str) -> String {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let line = words.join(" ");
    match line.chars().count() {
        0 => otherwise.to_string(),
        n if n > 500 => format!("{}…", line.chars().take(500).collect::<String>()),
        _ => line,
    }
}

/// Packs `dir`, a folder the server made (never one of a job's), into a
/// .tar.gz written to `out`: links as links, nothing followed.
fn pack_folder(dir: &Path, out: impl std::io::Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(out, flate2::Compression::fast()));
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir)?;
    tar.into_inner()?.finish()?.flush()
}
