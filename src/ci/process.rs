//! The processes of a step: started in a process group of their own with
//! limits (memory, processes, no core dumps, first for the OOM killer),
//! their output pumped line by line to the log, and the whole group killed
//! when the step ends, times out or is cancelled; a census stops fork bombs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::executor::{Limits, LogWriter};
use super::workflow;
use crate::error::Result;

/// Longer output lines are cut into pieces of this size.
const MAX_LINE_BYTES: u64 = 64 << 10;
/// How long a step's stray processes get after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// Runs one `run:` step; returns its conclusion and exit code.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_step(
    step: &workflow::Step,
    script: &str,
    number: i64,
    scratch: &Path,
    workspace: &Path,
    env: &BTreeMap<String, String>,
    deadline: Instant,
    cancel: &Notify,
    writer: &mut LogWriter,
    limits: &Limits,
) -> Result<(&'static str, Option<i64>)> {
    let script_path = scratch.join(format!("step-{number}.sh"));
    std::fs::write(&script_path, script)?;
    let env_file = scratch.join(format!("env-{number}"));
    let path_file = scratch.join(format!("path-{number}"));
    let output_file = scratch.join(format!("output-{number}"));
    let summary_file = scratch.join(format!("summary-{number}"));
    for f in [&env_file, &path_file, &output_file, &summary_file] {
        std::fs::write(f, "")?;
    }
    let cwd = match &step.working_directory {
        Some(dir) if dir.split('/').any(|c| c == "..") => {
            writer.line(&format!("Hearth: working-directory {dir:?} leaves the workspace"));
            return Ok(("failure", None));
        }
        Some(dir) => workspace.join(dir.trim_start_matches('/')),
        None => workspace.to_path_buf(),
    };
    let shell = step.shell.as_deref().unwrap_or("bash");
    let (reader, pipe_writer) = std::io::pipe()?;
    let mut cmd = tokio::process::Command::new(shell);
    if shell == "bash" {
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]);
    } else {
        cmd.arg("-e");
    }
    cmd.arg(&script_path)
        .current_dir(&cwd)
        .env_clear()
        .envs(env)
        .envs(&step.env)
        .env("GITHUB_ENV", &env_file)
        .env("GITHUB_PATH", &path_file)
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .stdin(std::process::Stdio::null())
        .stdout(pipe_writer.try_clone()?)
        .stderr(pipe_writer)
        .process_group(0)
        .kill_on_drop(true);
    let memory = limits.memory_bytes as libc::rlim_t;
    // RLIMIT_NPROC counts every process of the user: what runs now, plus the
    // step's share. (The kernel does not apply it to root; the census below does.)
    // SAFETY: getuid(2) cannot fail and touches no memory.
    let nproc = if unsafe { libc::getuid() } == 0 {
        libc::RLIM_INFINITY
    } else {
        (processes_of_this_user() + limits.processes) as libc::rlim_t
    };
    // SAFETY: between fork and exec only async-signal-safe calls: prctl asks
    // the kernel to kill the step if the server dies (no step outlives it);
    // setrlimit caps each process's memory and the user's processes and
    // forbids core dumps; and oom_score_adj makes the kernel's OOM killer
    // take job processes before the server. None of them allocates or takes
    // a lock.
    unsafe {
        cmd.pre_exec(move || {
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
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            writer.line(&format!("Hearth: could not start {shell}: {e}"));
            return Ok(("failure", None));
        }
    };
    drop(cmd);
    let pgid = child.id().map(|p| p as i32);
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
                _ = &mut sleep => break Err("timed_out"),
                _ = cancel.notified() => break Err("cancelled"),
                Some(line) = rx.recv() => writer.line(&line),
                _ = census.tick() => {
                    // A fork bomb: stop it at once, before it takes the machine.
                    if let Some(pgid) = pgid && group_size(pgid) > limits.processes {
                        // SAFETY: kill(2) with a negative pid signals a process group.
                        unsafe { libc::kill(-pgid, libc::SIGKILL) };
                        break Err("processes");
                    }
                }
            }
        }
    };
    // Whatever the step left behind goes with it.
    if let Some(pgid) = pgid {
        kill_group(pgid).await;
    }
    let result = match waited {
        Ok(Ok(status)) => {
            let code = status.code().map(i64::from);
            if status.success() {
                ("success", code)
            } else {
                ("failure", code)
            }
        }
        Ok(Err(e)) => {
            writer.line(&format!("Hearth: waiting for the step failed: {e}"));
            ("failure", None)
        }
        Err(why) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            match why {
                "cancelled" => writer.line("Hearth: the run was cancelled; the step was stopped."),
                "processes" => writer.line(&format!(
                    "Hearth: the step had more than {} processes at once and was stopped.",
                    limits.processes
                )),
                _ => writer.line("Hearth: the job ran out of time (timeout-minutes) and was stopped."),
            }
            (if why == "processes" { "failure" } else { why }, None)
        }
    };
    // Drain what is left; a process that escaped the group keeps the pipe
    // open, so stop waiting after the grace period.
    let drained = tokio::time::timeout(GRACE, async {
        while let Some(line) = rx.recv().await {
            writer.line(&line);
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
    Ok(result)
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

/// How many processes belong to the user this server runs as.
fn processes_of_this_user() -> usize {
    // SAFETY: getuid(2) cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() }.to_string();
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

/// Kills the processes whose environment says they belong to job `job` of
/// this data directory; returns how many.
pub(super) fn kill_leftovers(data_dir: &Path, job: i64) -> usize {
    let want_job = format!("HEARTH_JOB_ID={job}");
    let want_dir = format!("HEARTH_DATA_DIR={}", data_dir.display());
    processes("environ")
        .filter(|(_, environ)| {
            let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
            vars.contains(&want_job.as_bytes()) && vars.contains(&want_dir.as_bytes())
        })
        // SAFETY: kill(2) only sends a signal.
        .filter(|(pid, _)| unsafe { libc::kill(*pid, libc::SIGKILL) } == 0)
        .count()
}
