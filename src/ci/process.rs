//! The processes of a step: started in a process group of their own with
//! limits (memory, processes, no core dumps, first for the OOM killer),
//! their output pumped line by line to the log, and the whole group killed
//! when the step ends, times out or is cancelled; a census stops fork bombs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use super::cgroup::Step;
use super::executor::{LogWriter, RunWith, Work};
use super::workflow;
use crate::db::runs::JobId;
use crate::error::Result;
use crate::state::Conclusion;

/// Longer output lines are cut into pieces of this size.
const MAX_LINE_BYTES: u64 = 64 << 10;
/// How long a step's stray processes get after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// The runner files of step `number`: what the job may write to change
/// later steps (`$GITHUB_ENV`, `$GITHUB_PATH`, `$GITHUB_OUTPUT`,
/// `$GITHUB_STEP_SUMMARY`, and an action's `$GITHUB_STATE`), by their
/// variable and file name.
pub(super) const STEP_FILES: [(&str, &str); 5] = [
    ("GITHUB_ENV", "env"),
    ("GITHUB_PATH", "path"),
    ("GITHUB_OUTPUT", "output"),
    ("GITHUB_STEP_SUMMARY", "summary"),
    ("GITHUB_STATE", "state"),
];

/// How GitHub runs a script with `shell:`: the file's extension and the
/// command, `{0}` standing for the script. `None` for Windows's shells.
pub(super) fn shell_command(shell: &str) -> Option<(&'static str, Vec<String>)> {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Some(match shell {
        "bash" => (
            "sh",
            words(&["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"]),
        ),
        "sh" => ("sh", words(&["sh", "-e", "{0}"])),
        // Debian and others have only `python3`.
        "python" => {
            let python = if on_path("python") { "python" } else { "python3" };
            ("py", words(&[python, "{0}"]))
        }
        "pwsh" => ("ps1", words(&["pwsh", "-command", ". '{0}'"])),
        "cmd" | "powershell" => return None,
        custom => ("sh", custom.split_whitespace().map(str::to_string).collect()),
    })
}

/// Whether `program` is in one of the system's folders.
fn on_path(program: &str) -> bool {
    super::sandbox::PATH
        .split(':')
        .any(|dir| Path::new(dir).join(program).is_file())
}

/// Runs one `run:` step; returns its conclusion and exit code.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_step(
    step: &workflow::Step,
    script: &str,
    number: i64,
    work: &Work,
    env: &BTreeMap<String, String>,
    deadline: Instant,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
) -> Result<(Conclusion, Option<i64>)> {
    let (sandbox, cancel, limits) = (with.sandbox, with.cancel, with.limits);
    let owner = sandbox.owner();
    let shell = step.shell.as_deref().unwrap_or("bash");
    let Some((extension, template)) = shell_command(shell) else {
        writer.line(&format!(
            "Hearth: shell {shell:?} runs on Windows only; this runner is Linux"
        ));
        return Ok((Conclusion::Failure, None));
    };
    // The script may hold secrets: only the job reads it, and it goes after the step.
    let script_path = work.runner_file(&format!("step-{number}.{extension}"), script.as_bytes(), owner)?;
    let _script_goes = RemoveOnDrop(script_path.clone());
    let mut files = Vec::new();
    for (var, name) in STEP_FILES {
        let path = work.runner_file(&format!("{name}-{number}"), b"", owner)?;
        files.push((var, work.seen(&path)));
    }
    let seen_script = work.seen(&script_path).display().to_string();
    let mut argv: Vec<String> = template.iter().map(|word| word.replace("{0}", &seen_script)).collect();
    // A working-directory is the job's folder: the job's helper checks it
    // where it is, and starts the script there.
    if let Some(dir) = &step.working_directory {
        argv = work.helper(sandbox, deadline).exec_argv(dir, &argv);
    }
    let cwd = work.seen(&work.workspace);
    let (reader, pipe_writer) = std::io::pipe()?;
    let mut cmd = sandbox.command(work, &cwd, &argv);
    cmd.envs(env)
        .envs(&step.env)
        .envs(files)
        .stdin(std::process::Stdio::null())
        .stdout(pipe_writer.try_clone()?)
        .stderr(pipe_writer)
        .process_group(0)
        .kill_on_drop(true);
    // The step's cgroup (memory and processes of all of it together), where
    // cgroups can be made; its processes join it before bwrap runs.
    let cgroup = match with.cgroups.step() {
        Ok(cgroup) => cgroup,
        Err(e) => {
            writer.line(&format!("Hearth: the step's cgroup could not be made: {e}"));
            return Ok((Conclusion::Failure, None));
        }
    };
    let join = cgroup.as_ref().map(|c| c.procs()).unwrap_or_default();
    let memory = limits.memory_bytes as libc::rlim_t;
    // RLIMIT_NPROC counts every process of the user the step runs as: what
    // runs now, plus the step's share. (The kernel does not apply it to
    // root; the census below does.)
    // SAFETY: getuid(2) cannot fail and touches no memory.
    let uid = owner.map_or_else(|| unsafe { libc::getuid() }, |(uid, _)| uid);
    let nproc = match uid {
        0 => libc::RLIM_INFINITY,
        uid => (processes_of(uid) + limits.processes) as libc::rlim_t,
    };
    // SAFETY: between fork and exec only async-signal-safe calls: prctl asks
    // the kernel to kill the step if the server dies (no step outlives it);
    // setrlimit caps each process's memory and the user's processes and
    // forbids core dumps; and oom_score_adj makes the kernel's OOM killer
    // take job processes before the server; the step's cgroup is joined
    // (open, write, close). None of them allocates or takes a lock.
    unsafe {
        cmd.pre_exec(move || {
            Step::join(&join)?;
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            let data = libc::rlimit {
                rlim_cur: memory,
                rlim_max: memory,
            };
            libc::setrlimit(libc::RLIMIT_DATA, &data);
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            let procs = libc::rlimit {
                rlim_cur: nproc,
                rlim_max: nproc,
            };
            libc::setrlimit(libc::RLIMIT_NPROC, &procs);
            let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
            if fd >= 0 {
                libc::write(fd, b"1000".as_ptr().cast(), 4);
                libc::close(fd);
            }
            // The server keeps its files to itself (umask 077); a job's are as usual.
            libc::umask(0o022);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            writer.line(&format!("Hearth: could not start {}: {e}", argv[0]));
            return Ok((Conclusion::Failure, None));
        }
    };
    drop(cmd);
    let pgid = child.id().map(|p| p as i32);
    // In a sandbox, the step's processes are those of its PID namespace
    // (setsid cannot take one out of it); without, its process group.
    let mut members = match pgid {
        Some(pid) if sandbox.is_on() => Members::Namespace { bwrap: pid, ns: None },
        Some(pgid) => Members::Group(pgid),
        None => Members::Gone,
    };
    // Lines go to the log as they come, from a thread of their own.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
    let pump = std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            // Lines are cut at MAX_LINE_BYTES: output without newlines is logged
            // in pieces, never held whole in memory.
            match (&mut reader).take(MAX_LINE_BYTES).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    // A full channel makes the step wait: the log keeps up with it.
                    if tx
                        .blocking_send(text.trim_end_matches(['\n', '\r']).to_string())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    let timeout = deadline.saturating_duration_since(Instant::now());
    // Counted from 250 ms on: a step's start is not delayed by it.
    let period = Duration::from_millis(250);
    let mut census = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    census.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let waited = {
        let wait = child.wait();
        tokio::pin!(wait);
        let sleep = tokio::time::sleep(timeout);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                status = &mut wait => break Ok(status),
                _ = &mut sleep => break Err(Stopped::OutOfTime),
                _ = cancel.notified() => break Err(Stopped::Cancelled),
                Some(line) = rx.recv() => writer.output(&line),
                _ = census.tick() => {
                    // A fork bomb: stop it at once, before it takes the machine.
                    let refused = cgroup.as_ref().is_some_and(|c| c.forks_refused() > 0);
                    if let Some(pgid) = pgid && (refused || members.count() > limits.processes) {
                        // SAFETY: kill(2) with a negative pid signals a process group
                        // (bwrap leads it: its PID namespace dies with it).
                        unsafe { libc::kill(-pgid, libc::SIGKILL) };
                        break Err(Stopped::TooManyProcesses);
                    }
                }
            }
        }
    };
    // Whatever the step left behind goes with it. In a sandbox it went
    // when its first process ended (its PID namespace died), or goes with
    // bwrap, killed below.
    if let Some(pgid) = pgid
        && !sandbox.is_on()
    {
        kill_group(pgid).await;
    }
    let result = match waited {
        Ok(Ok(status)) => {
            let code = status.code().map(i64::from);
            if status.success() {
                (Conclusion::Success, code)
            } else {
                (Conclusion::Failure, code)
            }
        }
        Ok(Err(e)) => {
            writer.line(&format!("Hearth: waiting for the step failed: {e}"));
            (Conclusion::Failure, None)
        }
        Err(why) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            match why {
                Stopped::Cancelled => writer.line("Hearth: the run was cancelled; the step was stopped."),
                Stopped::TooManyProcesses => writer.line(&format!(
                    "Hearth: the step tried to run more than {} processes at once and was stopped.",
                    limits.processes
                )),
                Stopped::OutOfTime => writer.line("Hearth: the job ran out of time (timeout-minutes) and was stopped."),
            }
            (why.conclusion(), None)
        }
    };
    // Drain what is left; a process that escaped the group keeps the pipe
    // open, so stop waiting after the grace period.
    let drained = tokio::time::timeout(GRACE, async {
        // Still the step's output: its workflow commands count (a mask
        // among them), however late the pipe gave them.
        while let Some(line) = rx.recv().await {
            writer.output(&line);
        }
    })
    .await;
    if drained.is_ok() {
        let _ = pump.join();
    }
    if let (_, Some(code)) = result
        && code != 0
    {
        writer.line(&format!("Hearth: the step exited with code {code}"));
    }
    let killed = cgroup.as_ref().map_or(0, Step::oom_kills);
    if killed > 0 {
        writer.line(&format!(
            "Hearth: the step ran out of memory: its processes may hold {} MiB together (--ci-job-memory); \
             the kernel killed {killed} of them.",
            limits.memory_bytes >> 20
        ));
        return Ok((Conclusion::Failure, result.1));
    }
    Ok(result)
}

/// Why a step was stopped before it ended.
#[derive(Debug, Clone, Copy)]
enum Stopped {
    OutOfTime,
    Cancelled,
    TooManyProcesses,
}

impl Stopped {
    fn conclusion(self) -> Conclusion {
        match self {
            Stopped::OutOfTime => Conclusion::TimedOut,
            Stopped::Cancelled => Conclusion::Cancelled,
            Stopped::TooManyProcesses => Conclusion::Failure,
        }
    }
}

/// Removes a file when dropped.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The processes of a running step, for the census.
enum Members {
    Group(i32),
    /// bwrap's pid, and once its child is up, the inode of their PID namespace.
    Namespace {
        bwrap: i32,
        ns: Option<u64>,
    },
    Gone,
}

impl Members {
    fn count(&mut self) -> usize {
        match self {
            Members::Group(pgid) => group_size(*pgid),
            Members::Gone => 0,
            Members::Namespace { bwrap, ns } => {
                if ns.is_none() {
                    *ns = std::fs::read_to_string(format!("/proc/{bwrap}/task/{bwrap}/children"))
                        .ok()
                        .and_then(|c| c.split_whitespace().next().map(str::to_string))
                        .and_then(|child| pid_namespace(&child))
                        .filter(|child_ns| Some(*child_ns) != pid_namespace("self"));
                }
                let Some(ns) = *ns else { return 0 };
                processes("stat")
                    .filter(|(pid, _)| pid_namespace(&pid.to_string()) == Some(ns))
                    .count()
            }
        }
    }
}

/// The inode of the PID namespace of process `pid` ("self" for this one).
fn pid_namespace(pid: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/pid")).ok().map(|m| m.ino())
}

/// The processes of this machine: each pid and what `/proc/{pid}/{file}` holds.
fn processes(file: &'static str) -> impl Iterator<Item = (i32, Vec<u8>)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(move |e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            Some((pid, std::fs::read(e.path().join(file)).ok()?))
        })
}

/// How many processes belong to user `uid`.
fn processes_of(uid: u32) -> usize {
    let uid = uid.to_string();
    processes("status")
        .filter(|(_, status)| {
            String::from_utf8_lossy(status)
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next().map(|real| real == uid))
                .unwrap_or(false)
        })
        .count()
}

/// How many processes are in process group `pgid`.
fn group_size(pgid: i32) -> usize {
    let pgid = pgid.to_string();
    processes("stat")
        .filter(|(_, stat)| {
            // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
            String::from_utf8_lossy(stat)
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(2).map(|g| g == pgid))
                .unwrap_or(false)
        })
        .count()
}

/// SIGTERM to the group, then SIGKILL after the grace period.
async fn kill_group(pgid: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
    let alive = unsafe { libc::kill(-pgid, libc::SIGTERM) } == 0;
    if alive {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // SAFETY: as above.
        if unsafe { libc::kill(-pgid, 0) } == 0 {
            tokio::time::sleep(GRACE).await;
            // SAFETY: as above.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

/// What marks the processes of this server's jobs when they run without a
/// sandbox (`HEARTH_SERVER`): derived from the data directory, not showing it.
pub(super) fn server_key(data_dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Kills the processes whose environment says they belong to job `job` of
/// the server with key `key` (jobs without a sandbox; in one, every process
/// dies with its PID namespace); returns how many.
pub(super) fn kill_leftovers(key: &str, job: JobId) -> usize {
    let want_job = format!("HEARTH_JOB_ID={job}");
    let want_dir = format!("HEARTH_SERVER={key}");
    processes("environ")
        .filter(|(_, environ)| {
            let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
            vars.contains(&want_job.as_bytes()) && vars.contains(&want_dir.as_bytes())
        })
        // SAFETY: kill(2) only sends a signal.
        .filter(|(pid, _)| unsafe { libc::kill(*pid, libc::SIGKILL) } == 0)
        .count()
}
