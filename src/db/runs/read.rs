//! Reading runs: lists with filters, one by id or number, their jobs and
//! steps, and what a commit's runs add up to.

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::*;
use crate::db::repos::RepoId;
use crate::error::Result;
use crate::ids::{JobId, RunId, RunNumber};
use crate::state::{self, Conclusion, Status};

/// The full ref a run is of: the pushed ref (a branch or a tag), or for a
/// run started by hand or by the clock, its branch.
pub fn full_ref(conn: &Connection, run: &Run) -> Result<String> {
    let pushed: Option<String> = conn
        .query_row(
            "SELECT u.ref_name FROM ref_updates u JOIN runs r ON r.ref_update_id = u.id WHERE r.id = ?1",
            [run.id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(n) = run.pull_number {
        return Ok(format!("refs/pull/{n}/merge"));
    }
    Ok(pushed.unwrap_or_else(|| format!("refs/heads/{}", run.head_branch)))
}

/// The runs of pull request `number`, newest first.
pub fn of_pull(conn: &Connection, repo: RepoId, number: i64, limit: u32) -> Result<Vec<(Run, String)>> {
    let sql = format!(
        concat!(
            "SELECT ",
            run_columns!(),
            ", pull_head_sha FROM runs WHERE repo_id = ?1 AND pull_number = ?2 ORDER BY run_number DESC LIMIT {}"
        ),
        limit
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![repo.0, number], |r| Ok((run_from_row(r)?, r.get(17)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// All jobs of runs that are not completed.
pub fn open_jobs(conn: &Connection) -> Result<Vec<Job>> {
    let sql = format!("{JOB_SELECT} WHERE run_id IN (SELECT id FROM runs WHERE status != ?1) ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([Status::Completed], job_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Which runs to list; `None` is any.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct Filter {
    pub branch: Option<String>,
    /// A workflow file name (`ci.yml`) or path.
    pub workflow: Option<String>,
    /// queued, in_progress, completed, or a conclusion (success, failure…).
    pub status: Option<String>,
    pub event: Option<String>,
}

/// The states and conclusions a run list may be filtered by.
pub const STATUSES: [&str; 4] = [
    Status::Queued.as_str(),
    Status::Waiting.as_str(),
    Status::InProgress.as_str(),
    Status::Completed.as_str(),
];

pub const CONCLUSIONS: [&str; 5] = [
    Conclusion::Success.as_str(),
    Conclusion::Failure.as_str(),
    Conclusion::Cancelled.as_str(),
    Conclusion::Skipped.as_str(),
    Conclusion::TimedOut.as_str(),
];

/// The workflow files that have runs in `repo`.
pub fn workflows(conn: &Connection, repo: RepoId) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT workflow FROM runs WHERE repo_id = ?1 ORDER BY workflow")?;
    let rows = stmt.query_map([repo.0], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Runs of `repo` matching `filter`, newest first, and how many match.
pub fn list(conn: &Connection, repo: RepoId, filter: &Filter, limit: u32, offset: u32) -> Result<(Vec<Run>, i64)> {
    let mut clauses = vec!["repo_id = ?1".to_string()];
    let mut args: Vec<String> = Vec::new();
    let mut add = |clause: &str, value: &str| {
        args.push(value.to_string());
        clauses.push(clause.replace('?', &format!("?{}", args.len() + 1)));
    };
    if let Some(b) = filter.branch.as_deref().filter(|b| !b.is_empty()) {
        add("head_branch = ?", b);
    }
    if let Some(w) = filter.workflow.as_deref().filter(|w| !w.is_empty()) {
        add("(workflow = ? OR substr(workflow, -length(?) - 1) = '/' || ?)", w);
    }
    if let Some(s) = filter.status.as_deref().filter(|s| !s.is_empty()) {
        if STATUSES.contains(&s) {
            add("status = ?", s);
        } else if CONCLUSIONS.contains(&s) {
            add("conclusion = ?", s);
        } else {
            return Err(crate::error::Error::invalid(format!(
                "status {s:?}: one of {}, {}",
                STATUSES.join(", "),
                CONCLUSIONS.join(", ")
            )));
        }
    }
    if let Some(e) = filter.event.as_deref().filter(|e| !e.is_empty()) {
        add("event = ?", e);
    }
    let clause = clauses.join(" AND ");
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&repo.0];
    values.extend(args.iter().map(|a| a as &dyn rusqlite::ToSql));
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM runs WHERE {clause}"),
        values.as_slice(),
        |r| r.get(0),
    )?;
    let sql = format!("{RUN_SELECT} WHERE {clause} ORDER BY run_number DESC LIMIT {limit} OFFSET {offset}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(values.as_slice(), run_from_row)?;
    Ok((rows.collect::<rusqlite::Result<_>>()?, total))
}

pub fn by_id(conn: &Connection, repo: RepoId, id: RunId) -> Result<Option<Run>> {
    let sql = format!("{RUN_SELECT} WHERE repo_id = ?1 AND id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![repo.0, id], run_from_row)
        .optional()?)
}

pub fn by_number(conn: &Connection, repo: RepoId, number: RunNumber) -> Result<Option<Run>> {
    let sql = format!("{RUN_SELECT} WHERE repo_id = ?1 AND run_number = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![repo.0, number], run_from_row)
        .optional()?)
}

pub fn run_by_id_any(conn: &Connection, id: RunId) -> Result<Option<Run>> {
    let sql = format!("{RUN_SELECT} WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], run_from_row).optional()?)
}

pub fn jobs(conn: &Connection, run: RunId) -> Result<Vec<Job>> {
    let sql = format!("{JOB_SELECT} WHERE run_id = ?1 ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([run], job_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn job(conn: &Connection, id: JobId) -> Result<Option<Job>> {
    let sql = format!("{JOB_SELECT} WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], job_from_row).optional()?)
}

pub fn steps(conn: &Connection, job: JobId) -> Result<Vec<Step>> {
    let mut stmt = conn.prepare_cached(
        "SELECT number, name, status, conclusion, exit_code, started_at, completed_at FROM steps WHERE job_id = ?1 ORDER BY number",
    )?;
    let rows = stmt.query_map([job], |r| {
        Ok(Step {
            number: r.get(0)?,
            name: r.get(1)?,
            status: r.get(2)?,
            conclusion: r.get(3)?,
            exit_code: r.get(4)?,
            started_at: r.get(5)?,
            completed_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The version of a repository's runs; it changes with every change.
pub fn version(conn: &Connection, repo: RepoId) -> Result<i64> {
    Ok(conn
        .query_row("SELECT version FROM ci_versions WHERE repo_id = ?1", [repo.0], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0))
}

/// The combined state of a commit's runs, and its newest run.
#[derive(Debug, Clone)]
pub struct CommitStatus {
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub run_number: RunNumber,
}

/// The combined status of the runs of each commit in `shas`: running while
/// any runs, failure if any failed, else the newest run's conclusion.
pub fn status_by_sha(
    conn: &Connection,
    repo: RepoId,
    shas: &[String],
) -> Result<std::collections::HashMap<String, CommitStatus>> {
    let mut out = std::collections::HashMap::new();
    let mut stmt = conn.prepare_cached(
        // By commit (the planner would walk every run of the repository in order).
        "SELECT status, conclusion, run_number FROM runs INDEXED BY runs_by_sha
         WHERE repo_id = ?1 AND head_sha = ?2 ORDER BY run_number",
    )?;
    for sha in shas {
        let mut last = RunNumber(0);
        let states = stmt
            .query_map(params![repo.0, sha], |r| {
                last = r.get(2)?;
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if let Some((status, conclusion)) = state::combined(&states) {
            out.insert(
                sha.clone(),
                CommitStatus {
                    status,
                    conclusion,
                    run_number: last,
                },
            );
        }
    }
    Ok(out)
}

/// Runs that wait for an older run of their concurrency group to finish.
pub fn blocked_runs(conn: &Connection) -> Result<std::collections::HashSet<RunId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id FROM runs r WHERE r.status != ?1 AND r.concurrency IS NOT NULL AND EXISTS (
             SELECT 1 FROM runs o WHERE o.repo_id = r.repo_id AND o.concurrency = r.concurrency
                 AND o.status != ?1 AND o.id < r.id)",
    )?;
    let rows = stmt.query_map([Status::Completed], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether another job of the same repository and concurrency group as
/// `job` is running.
pub fn job_group_busy(conn: &Connection, job: JobId) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM jobs j JOIN runs r ON r.id = j.run_id
             JOIN jobs o ON o.concurrency = j.concurrency AND o.status = ?2 AND o.id != j.id
             JOIN runs ro ON ro.id = o.run_id AND ro.repo_id = r.repo_id
         WHERE j.id = ?1)",
        params![job, Status::InProgress],
        |r| r.get(0),
    )?)
}
