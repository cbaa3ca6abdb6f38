//! The `pre-receive` hook that enforces protected branches on `git push`.
//! receive-pack runs it (through `core.hooksPath`, for repositories with
//! rules) after the pack is received and before any ref moves; it calls
//! this binary back (`hearth hook pre-receive`), which reads the rules from
//! the database, read-only. A refusal prints why (git shows it as
//! `remote:` lines) and exits non-zero: then no ref of the push moves and
//! the received objects are thrown away with the quarantine.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::protect::{self, Actor, Change};
use crate::data_dir::DataDir;
use crate::db::ref_updates::ZERO_ID;
use crate::db::repos::RepoId;
use crate::db::users::UserId;
use crate::error::{Context, Error, Result};
use crate::repos::Access;

/// What the server tells the hook: environment variable names.
pub const DATA_ENV: &str = "HEARTH_HOOK_DATA";
pub const REPO_ENV: &str = "HEARTH_HOOK_REPO";
pub const USER_ENV: &str = "HEARTH_HOOK_USER";
/// Set when a job token pushes: a job never passes a rule as an administrator.
pub const JOB_ENV: &str = "HEARTH_HOOK_JOB";

/// Writes the hook into the data directory's hooks folder, calling `exe`.
pub fn install(data: &DataDir, exe: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = data.hooks();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let quoted = exe.display().to_string().replace('\'', r"'\''");
    let script = format!("#!/bin/sh\nexec '{quoted}' hook pre-receive\n");
    let path = dir.join("pre-receive");
    let temp = dir.join("pre-receive.new");
    std::fs::write(&temp, script)?;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o700))?;
    std::fs::rename(&temp, &path)?;
    Ok(dir)
}

/// Whether `old` is an ancestor of `new`, asked of git: the hook runs inside
/// receive-pack, whose environment points git at the quarantined objects.
fn is_ancestor(old: &str, new: &str) -> bool {
    std::process::Command::new("git")
        .args(["merge-base", "--is-ancestor", old, new])
        .stdin(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Checks the ref updates on `input` (`old new ref` lines, as git gives a
/// pre-receive hook) against the repository's rules; returns the refusals,
/// one line each, empty when the push may go ahead.
pub fn check(conn: &Connection, repo: RepoId, user: UserId, by_job: bool, input: &str) -> Result<Vec<String>> {
    let rules = crate::db::protections::list(conn, repo)?;
    let repo_row = crate::db::repos::by_id(conn, repo)?.ok_or(Error::NotFound)?;
    let user = crate::db::users::by_id(conn, user)?.ok_or(Error::NotFound)?;
    let admin = !by_job && crate::repos::access(conn, &repo_row, Some(&user))? >= Access::Admin;
    let actor = Actor {
        name: user.name.clone(),
        admin,
    };
    let mut refused = Vec::new();
    for line in input.lines() {
        let mut parts = line.split_whitespace();
        let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Some(branch) = name.strip_prefix("refs/heads/") else {
            continue;
        };
        let Some(rule) = protect::rule_for(&rules, branch) else {
            continue;
        };
        let change = match (old, new) {
            (ZERO_ID, _) => Change::Create,
            (_, ZERO_ID) => Change::Delete,
            (old, new) if is_ancestor(old, new) => Change::FastForward,
            _ => Change::Force,
        };
        let checks = || crate::db::pulls::commit_check_results(conn, repo, new).unwrap_or_default();
        if let Err(why) = protect::check_push(rule, &actor, change, checks) {
            refused.push(format!("{name} is protected by the rule \"{}\": {why}", rule.pattern));
        }
    }
    Ok(refused)
}

/// `hearth hook pre-receive`: reads the environment receive-pack was given
/// and the updates on stdin; the exit status is the verdict.
pub fn run_pre_receive() -> std::process::ExitCode {
    use std::io::Read;
    let verdict = (|| -> Result<Vec<String>> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| Error::invalid(format!("{name} is not set; this hook is run by hearth")))
        };
        let data = DataDir::new(Path::new(&var(DATA_ENV)?))?;
        let number = |text: String| {
            text.parse::<i64>()
                .map_err(|_| Error::invalid(format!("{text:?} is not a number")))
        };
        let repo = RepoId(number(var(REPO_ENV)?)?);
        let user = UserId(number(var(USER_ENV)?)?);
        let by_job = std::env::var_os(JOB_ENV).is_some();
        let mut input = String::new();
        std::io::stdin().take(1 << 20).read_to_string(&mut input)?;
        let conn = Connection::open_with_flags(
            data.database(),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        check(&conn, repo, user, by_job, &input)
    })();
    match verdict {
        Ok(refused) if refused.is_empty() => std::process::ExitCode::SUCCESS,
        Ok(refused) => {
            for line in refused {
                eprintln!("{line}");
            }
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("the push could not be checked against the protected branch rules: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
