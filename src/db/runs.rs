//! The `runs`, `jobs` and `steps` tables, and the ref updates not yet turned
//! into runs.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::ref_updates::RefUpdate;
use super::repos::RepoId;
use crate::error::Result;
use crate::state::{self, Conclusion, Outcome, Status, Stop};

pub use crate::ids::{JobId, RunId, RunNumber};

#[derive(Debug, Clone)]
pub struct Run {
    pub id: RunId,
    pub repo_id: RepoId,
    pub run_number: RunNumber,
    pub workflow: String,
    pub name: String,
    pub event: String,
    pub head_sha: String,
    pub head_branch: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub concurrency: Option<String>,
    /// workflow_dispatch inputs, a JSON object.
    pub inputs: String,
    /// A pull request's run: its number, and the event payload (JSON).
    pub pull_number: Option<i64>,
    pub event_payload: String,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub run_id: RunId,
    pub key: String,
    pub name: String,
    pub needs: Vec<String>,
    pub spec: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// The job's `outputs`, a JSON object.
    pub outputs: String,
    pub concurrency: Option<String>,
    pub cancel_requested: bool,
    /// It failed, but continue-on-error held.
    pub allowed_failure: bool,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub number: i64,
    pub name: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub exit_code: Option<i64>,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
}

impl Job {
    /// The job as the state rules see it.
    pub fn outcome(&self) -> Outcome {
        Outcome {
            status: self.status,
            conclusion: self.conclusion,
            allowed_failure: self.allowed_failure,
        }
    }
}

/// A concurrency group a run or job enters: at most one of the group goes
/// at a time (see `enter_run_group`).
#[derive(Debug, Clone, PartialEq)]
pub struct Concurrency {
    pub group: String,
    pub cancel_in_progress: bool,
}

/// A run to create: `error` set means it fails at once with that message.
pub struct NewRun {
    pub workflow: String,
    pub name: String,
    pub head_sha: String,
    pub head_branch: String,
    pub error: Option<String>,
    pub jobs: Vec<NewJob>,
    /// The group, its expressions evaluated.
    pub concurrency: Option<Concurrency>,
    /// workflow_dispatch inputs, a JSON object.
    pub inputs: String,
    /// For `pull_request`: which pull request, at which head.
    pub pull: Option<PullRun>,
}

/// A run of a pull request: it checks out the test merge (`head_sha` of
/// the run) and belongs to the pull request's head commit.
#[derive(Debug, Clone)]
pub struct PullRun {
    pub number: i64,
    pub head_sha: String,
    /// `github.event` as a JSON object.
    pub payload: String,
}

pub struct NewJob {
    pub key: String,
    pub name: String,
    pub needs: Vec<String>,
    /// The job as the executor reads it (JSON).
    pub spec: String,
    pub steps: Vec<String>,
    pub concurrency: Option<Concurrency>,
}

/// The columns `run_from_row` reads, in its order.
macro_rules! run_columns {
    () => {
        "id, repo_id, run_number, workflow, name, event, head_sha, head_branch, status,
    conclusion, error, created_at, updated_at, concurrency, inputs, pull_number, event_payload"
    };
}
const RUN_SELECT: &str = concat!("SELECT ", run_columns!(), " FROM runs");

fn run_from_row(r: &Row) -> rusqlite::Result<Run> {
    Ok(Run {
        id: r.get(0)?,
        repo_id: RepoId(r.get(1)?),
        run_number: r.get(2)?,
        workflow: r.get(3)?,
        name: r.get(4)?,
        event: r.get(5)?,
        head_sha: r.get(6)?,
        head_branch: r.get(7)?,
        status: r.get(8)?,
        conclusion: r.get(9)?,
        error: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        concurrency: r.get(13)?,
        inputs: r.get(14)?,
        pull_number: r.get(15)?,
        event_payload: r.get(16)?,
    })
}

const JOB_SELECT: &str =
    "SELECT id, run_id, job_key, name, needs, spec, status, conclusion, started_at, completed_at, outputs,
            concurrency, cancel_requested, allowed_failure FROM jobs";

fn job_from_row(r: &Row) -> rusqlite::Result<Job> {
    let needs: String = r.get(4)?;
    Ok(Job {
        id: r.get(0)?,
        run_id: r.get(1)?,
        key: r.get(2)?,
        name: r.get(3)?,
        needs: needs.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        spec: r.get(5)?,
        status: r.get(6)?,
        conclusion: r.get(7)?,
        started_at: r.get(8)?,
        completed_at: r.get(9)?,
        outputs: r.get(10)?,
        concurrency: r.get(11)?,
        cancel_requested: r.get(12)?,
        allowed_failure: r.get(13)?,
    })
}

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

/// Marks ref updates as handled without making runs: what a job token
/// pushed starts none (as on GitHub, a job cannot set off itself).
pub fn skip_ci(conn: &Connection, updates: &[i64]) -> Result<()> {
    let mut stmt = conn.prepare_cached("UPDATE ref_updates SET ci_handled = 1 WHERE id = ?1")?;
    for id in updates {
        stmt.execute([id])?;
    }
    Ok(())
}

/// Ref updates not yet turned into runs, oldest first, with their repository.
pub fn unhandled(conn: &Connection) -> Result<Vec<(RepoId, RefUpdate)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT repo_id, id, ref_name, old_id, new_id, pushed_at, source FROM ref_updates
         WHERE ci_handled = 0 ORDER BY id LIMIT 100",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            RepoId(r.get(0)?),
            RefUpdate {
                id: r.get(1)?,
                ref_name: r.get(2)?,
                old_id: r.get(3)?,
                new_id: r.get(4)?,
                pusher: None,
                pushed_at: r.get(5)?,
                source: r.get(6)?,
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Creates the runs of one ref update and marks it handled, in one
/// transaction; returns their numbers. An update handled already (by a
/// concurrent caller) makes nothing.
pub fn create_runs(conn: &Connection, repo: RepoId, update_id: i64, runs: &[NewRun]) -> Result<Vec<RunNumber>> {
    if conn.execute(
        "UPDATE ref_updates SET ci_handled = 1 WHERE id = ?1 AND ci_handled = 0",
        [update_id],
    )? == 0
    {
        return Ok(Vec::new());
    }
    runs.iter()
        .map(|run| insert_run(conn, repo, Some(update_id), "push", run))
        .collect()
}

/// The run of a schedule firing at `minute` (Unix time / 60); `None` when
/// that minute fired already. Old minutes are forgotten.
pub fn insert_scheduled(conn: &Connection, repo: RepoId, minute: i64, run: &NewRun) -> Result<Option<RunNumber>> {
    let fired = conn.execute(
        "INSERT OR IGNORE INTO schedule_ticks (repo_id, workflow, minute) VALUES (?1, ?2, ?3)",
        params![repo.0, run.workflow, minute],
    )?;
    if fired == 0 {
        return Ok(None);
    }
    conn.execute(
        "DELETE FROM schedule_ticks WHERE repo_id = ?1 AND workflow = ?2 AND minute < ?3",
        params![repo.0, run.workflow, minute - 60],
    )?;
    insert_run(conn, repo, None, "schedule", run).map(Some)
}

/// Inserts one run with its jobs and steps; returns its number.
pub fn insert_run(
    conn: &Connection,
    repo: RepoId,
    update_id: Option<i64>,
    event: &str,
    run: &NewRun,
) -> Result<RunNumber> {
    let now = crate::time::now();
    let number: RunNumber = conn.query_row(
        "SELECT COALESCE(MAX(run_number), 0) + 1 FROM runs WHERE repo_id = ?1",
        [repo.0],
        |r| r.get(0),
    )?;
    let (status, conclusion) = state::created(run.error.is_some());
    conn.execute(
        "INSERT INTO runs (repo_id, run_number, workflow, name, event, head_sha, head_branch, ref_update_id,
                           status, conclusion, error, created_at, updated_at, concurrency, inputs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14)",
        params![
            repo.0,
            number,
            run.workflow,
            run.name,
            event,
            run.head_sha,
            run.head_branch,
            update_id,
            status,
            conclusion,
            run.error,
            now,
            run.concurrency.as_ref().map(|c| &c.group),
            run.inputs,
        ],
    )?;
    let run_id = RunId(conn.last_insert_rowid());
    if let Some(p) = &run.pull {
        conn.execute(
            "UPDATE runs SET pull_number = ?2, pull_head_sha = ?3, event_payload = ?4 WHERE id = ?1",
            params![run_id, p.number, p.head_sha, p.payload],
        )?;
    }
    if let Some(c) = &run.concurrency
        && run.error.is_none()
    {
        enter_run_group(conn, repo, run_id, c)?;
    }
    note_run(conn, run_id, "requested")?;
    for job in &run.jobs {
        insert_job(conn, run_id, job, job.concurrency.as_ref().map(|c| c.group.as_str()))?;
        if let Some(c) = &job.concurrency {
            enter_job_group(conn, repo, run_id, c)?;
        }
    }
    if status == Status::Completed {
        note_run(conn, run_id, "completed")?;
    }
    Ok(number)
}

/// Notes a `workflow_run` event of `run` for the repository's hooks, and
/// tells its pusher when it completed (see `notifications::of_run_completed`).
fn note_run(conn: &Connection, run: RunId, action: &str) -> Result<()> {
    let repo: i64 = conn.query_row("SELECT repo_id FROM runs WHERE id = ?1", [run], |r| r.get(0))?;
    if action == "completed" {
        super::notifications::of_run_completed(conn, run, super::releases::run_pusher(conn, run)?)?;
    }
    super::hooks::note(conn, RepoId(repo), "workflow_run", Some(action), run.0, None, None)
}

/// Notes a `workflow_job` event of `job`.
fn note_job(conn: &Connection, job: JobId, action: &str) -> Result<()> {
    let repo: i64 = conn
        .prepare_cached("SELECT r.repo_id FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = ?1")?
        .query_row([job], |r| r.get(0))?;
    super::hooks::note(conn, RepoId(repo), "workflow_job", Some(action), job.0, None, None)
}

/// Adds job `job` to run `run`, queued, with its steps.
fn insert_job(conn: &Connection, run: RunId, job: &NewJob, concurrency: Option<&str>) -> Result<JobId> {
    conn.prepare_cached(
        "INSERT INTO jobs (run_id, job_key, name, needs, spec, status, concurrency)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        run,
        job.key,
        job.name,
        job.needs.join(","),
        job.spec,
        Status::Queued,
        concurrency
    ])?;
    let id = JobId(conn.last_insert_rowid());
    insert_steps(conn, id, &job.steps)?;
    note_job(conn, id, "queued")?;
    Ok(id)
}

fn insert_steps(conn: &Connection, job: JobId, steps: &[String]) -> Result<()> {
    let mut stmt = conn.prepare_cached("INSERT INTO steps (job_id, number, name, status) VALUES (?1, ?2, ?3, ?4)")?;
    for (i, step) in steps.iter().enumerate() {
        stmt.execute(params![job, i as i64 + 1, step, Status::Queued])?;
    }
    Ok(())
}

/// All jobs of runs that are not completed.
pub fn open_jobs(conn: &Connection) -> Result<Vec<Job>> {
    let sql = format!("{JOB_SELECT} WHERE run_id IN (SELECT id FROM runs WHERE status != ?1) ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([Status::Completed], job_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Starts a queued job (and its run, when it is the first); false when it
/// was not queued any more.
pub fn start_job(conn: &Connection, job: JobId) -> Result<bool> {
    let now = crate::time::now();
    let started = conn.execute(
        "UPDATE jobs SET status = ?3, started_at = ?2 WHERE id = ?1 AND status = ?4",
        params![job, now, Status::InProgress, Status::Queued],
    )?;
    let run_started = conn.execute(
        "UPDATE runs SET status = ?3, updated_at = ?2 WHERE id = (SELECT run_id FROM jobs WHERE id = ?1) AND status IN (?4, ?5)",
        params![job, now, Status::InProgress, Status::Queued, Status::Waiting],
    )?;
    if started > 0 {
        note_job(conn, job, "in_progress")?;
    }
    if run_started > 0 {
        let run: RunId = conn.query_row("SELECT run_id FROM jobs WHERE id = ?1", [job], |r| r.get(0))?;
        note_run(conn, run, "in_progress")?;
    }
    Ok(started > 0)
}

/// Job `job` (queued, its matrix an expression now known) becomes
/// `instances`: the first takes its place, the others are added beside it
/// in its concurrency group.
pub fn expand_job(conn: &Connection, job: JobId, instances: &[NewJob]) -> Result<()> {
    let (run, concurrency): (RunId, Option<String>) = conn.query_row(
        "SELECT run_id, concurrency FROM jobs WHERE id = ?1 AND status = 'queued'",
        [job],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (i, instance) in instances.iter().enumerate() {
        if i == 0 {
            conn.execute(
                "UPDATE jobs SET name = ?2, spec = ?3 WHERE id = ?1",
                params![job, instance.name, instance.spec],
            )?;
            conn.execute("DELETE FROM steps WHERE job_id = ?1", [job])?;
            insert_steps(conn, job, &instance.steps)?;
        } else {
            insert_job(conn, run, instance, concurrency.as_deref())?;
        }
    }
    Ok(())
}

/// Adds step `number` (named `name`) to job `job`, queued: an action's
/// `post` step, known only once the job has fetched its actions.
pub fn add_step(conn: &Connection, job: JobId, number: i64, name: &str) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO steps (job_id, number, name, status) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![job, number, name, Status::Queued])?;
    Ok(())
}

pub fn set_step(
    conn: &Connection,
    job: JobId,
    number: i64,
    status: Status,
    conclusion: Option<Conclusion>,
    exit_code: Option<i64>,
) -> Result<()> {
    let now = crate::time::now();
    conn.execute(
        "UPDATE steps SET status = ?3, conclusion = ?4, exit_code = ?5,
             started_at = COALESCE(started_at, ?6), completed_at = CASE WHEN ?7 THEN ?6 END
         WHERE job_id = ?1 AND number = ?2",
        params![job, number, status, conclusion, exit_code, now, !status.is_open()],
    )?;
    Ok(())
}

/// Completes a job (steps not run are skipped) and, when it was the last, its run.
pub fn finish_job(conn: &Connection, job: JobId, conclusion: Conclusion) -> Result<()> {
    let now = crate::time::now();
    conn.execute(
        "UPDATE jobs SET status = ?4, conclusion = ?2, completed_at = ?3,
             started_at = COALESCE(started_at, ?3) WHERE id = ?1",
        params![job, conclusion, now, Status::Completed],
    )?;
    conn.execute(
        "UPDATE steps SET status = ?3, conclusion = ?4, completed_at = ?2
         WHERE job_id = ?1 AND status != ?3",
        params![job, now, Status::Completed, Conclusion::Skipped],
    )?;
    super::environments::job_finished(conn, job, conclusion)?;
    note_job(conn, job, "completed")?;
    let run: RunId = conn.query_row("SELECT run_id FROM jobs WHERE id = ?1", [job], |r| r.get(0))?;
    let outcomes = {
        let mut stmt = conn.prepare_cached("SELECT status, conclusion, allowed_failure FROM jobs WHERE run_id = ?1")?;
        stmt.query_map([run], |r| {
            Ok(Outcome {
                status: r.get(0)?,
                conclusion: r.get(1)?,
                allowed_failure: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    if let Some(conclusion) = state::run_conclusion(outcomes) {
        conn.execute(
            "UPDATE runs SET status = ?4, conclusion = ?2, updated_at = ?3 WHERE id = ?1",
            params![run, conclusion, now, Status::Completed],
        )?;
        note_run(conn, run, "completed")?;
    } else {
        conn.execute("UPDATE runs SET updated_at = ?2 WHERE id = ?1", params![run, now])?;
        settle_open_run(conn, run)?;
    }
    Ok(())
}

/// Holds a queued job at its environment's gate: it waits for a reviewer.
pub fn hold_job(conn: &Connection, job: JobId) -> Result<()> {
    conn.execute(
        "UPDATE jobs SET status = ?2 WHERE id = ?1 AND status = ?3",
        params![job, Status::Waiting, Status::Queued],
    )?;
    let run: RunId = conn.query_row("SELECT run_id FROM jobs WHERE id = ?1", [job], |r| r.get(0))?;
    settle_open_run(conn, run)
}

/// An open run's status follows its jobs (`state::open_run_status`).
fn settle_open_run(conn: &Connection, run: RunId) -> Result<()> {
    let statuses = {
        let mut stmt = conn.prepare_cached("SELECT status FROM jobs WHERE run_id = ?1")?;
        stmt.query_map([run], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<Status>>>()?
    };
    conn.execute(
        "UPDATE runs SET status = ?2 WHERE id = ?1 AND status != ?3 AND status != ?2",
        params![run, state::open_run_status(statuses), Status::Completed],
    )?;
    Ok(())
}

/// Lets a job held at its gate go back to the queue.
pub fn release_job(conn: &Connection, job: JobId) -> Result<()> {
    conn.execute(
        "UPDATE jobs SET status = ?2 WHERE id = ?1 AND status = ?3",
        params![job, Status::Queued, Status::Waiting],
    )?;
    let run: RunId = conn.query_row("SELECT run_id FROM jobs WHERE id = ?1", [job], |r| r.get(0))?;
    settle_open_run(conn, run)
}

pub fn set_outputs(conn: &Connection, job: JobId, outputs: &str) -> Result<()> {
    conn.execute("UPDATE jobs SET outputs = ?2 WHERE id = ?1", params![job, outputs])?;
    Ok(())
}

/// At start-up: jobs that were running when the server stopped have failed.
pub fn fail_interrupted(conn: &Connection) -> Result<Vec<JobId>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM jobs WHERE status = ?1")?;
    let ids: Vec<JobId> = stmt
        .query_map([Status::InProgress], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in &ids {
        finish_job(conn, *id, Conclusion::Failure)?;
    }
    Ok(ids)
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

/// Cancels a run: its queued jobs at once, its running ones by asking the
/// executor to stop them.
pub fn cancel(conn: &Connection, run: RunId) -> Result<()> {
    stop(
        conn,
        "SELECT id, status FROM jobs WHERE run_id = ?1",
        params![run],
        |_| true,
    )
}

/// Stops the jobs `query` selects (id, status) that `which` picks by their
/// status: what has not started is cancelled, what runs asked to stop.
fn stop(conn: &Connection, query: &str, args: impl rusqlite::Params, which: impl Fn(Status) -> bool) -> Result<()> {
    let mut stmt = conn.prepare_cached(query)?;
    let jobs: Vec<(JobId, Status)> = stmt
        .query_map(args, |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, status) in jobs.into_iter().filter(|j| which(j.1)) {
        match state::stop(status) {
            Stop::Cancel => finish_job(conn, id, Conclusion::Cancelled)?,
            Stop::Ask => request_cancel(conn, id)?,
            Stop::Nothing => {}
        }
    }
    Ok(())
}

/// Asks the executor to stop a running job; it records it cancelled.
fn request_cancel(conn: &Connection, job: JobId) -> Result<()> {
    conn.execute(
        "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND status = ?2",
        params![job, Status::InProgress],
    )?;
    Ok(())
}

/// A new run in concurrency group `c`: the members `state::displaced`
/// names are cancelled; those left running make the new run wait (see
/// `blocked_runs`).
fn enter_run_group(conn: &Connection, repo: RepoId, run: RunId, c: &Concurrency) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("SELECT id, status FROM runs WHERE repo_id = ?1 AND concurrency = ?2 AND id != ?3")?;
    let others: Vec<(RunId, Status)> = stmt
        .query_map(params![repo.0, c.group, run], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, status) in others {
        if state::displaced(status, c.cancel_in_progress) {
            cancel(conn, id)?;
        }
    }
    Ok(())
}

/// A new job of run `run` in concurrency group `c`: the same as for runs,
/// for the group's jobs of other runs.
fn enter_job_group(conn: &Connection, repo: RepoId, run: RunId, c: &Concurrency) -> Result<()> {
    stop(
        conn,
        "SELECT j.id, j.status FROM jobs j JOIN runs r ON r.id = j.run_id
         WHERE r.repo_id = ?1 AND j.concurrency = ?2 AND j.run_id != ?3",
        params![repo.0, c.group, run],
        |status| state::displaced(status, c.cancel_in_progress),
    )
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

/// fail-fast: a failed matrix instance stops the job's other instances.
pub fn cancel_instances(conn: &Connection, run: RunId, key: &str) -> Result<()> {
    stop(
        conn,
        "SELECT id, status FROM jobs WHERE run_id = ?1 AND job_key = ?2",
        params![run, key],
        |_| true,
    )
}

/// The job failed but continue-on-error held: call before `finish_job`.
pub fn allow_failure(conn: &Connection, job: JobId) -> Result<()> {
    conn.execute("UPDATE jobs SET allowed_failure = 1 WHERE id = ?1", [job])?;
    Ok(())
}

/// Starts a run again as a new run of the same commit: the jobs `which`
/// names run, the others keep their results (see `state::again`). A job
/// redeployed is marked as the rollback of `rollback_of`. Returns the new
/// run's id and number.
pub fn rerun(
    conn: &Connection,
    run: &Run,
    which: state::Again,
    rollback_of: Option<crate::db::environments::DeploymentId>,
) -> Result<(RunId, RunNumber)> {
    let now = crate::time::now();
    let number: RunNumber = conn.query_row(
        "SELECT COALESCE(MAX(run_number), 0) + 1 FROM runs WHERE repo_id = ?1",
        [run.repo_id.0],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO runs (repo_id, run_number, workflow, name, event, head_sha, head_branch, ref_update_id,
                           status, created_at, updated_at, concurrency, inputs, pull_number, pull_head_sha,
                           event_payload)
         SELECT repo_id, ?2, workflow, name, event, head_sha, head_branch, ref_update_id, ?4, ?3, ?3,
                concurrency, inputs, pull_number, pull_head_sha, event_payload
         FROM runs WHERE id = ?1",
        params![run.id, number, now, Status::Queued],
    )?;
    let new_run = RunId(conn.last_insert_rowid());
    note_run(conn, new_run, "requested")?;
    let mut kept = Vec::new();
    // A run started again joins its concurrency group like a new one; the
    // group's cancel-in-progress is not known here, so it waits its turn.
    if let Some(group) = &run.concurrency {
        let c = Concurrency {
            group: group.clone(),
            cancel_in_progress: false,
        };
        enter_run_group(conn, run.repo_id, new_run, &c)?;
    }
    for job in jobs(conn, run.id)? {
        let (status, conclusion) = state::again(which, job.id, job.conclusion);
        let keep = !status.is_open();
        let rollback = rollback_of.filter(|_| which == state::Again::Redeploy(job.id));
        conn.execute(
            "INSERT INTO jobs (run_id, job_key, name, needs, spec, status, conclusion, started_at, completed_at,
                               concurrency, rollback_of)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10)",
            params![
                new_run,
                job.key,
                job.name,
                job.needs.join(","),
                job.spec,
                status,
                conclusion,
                keep.then_some(now),
                job.concurrency,
                rollback
            ],
        )?;
        let new_job = JobId(conn.last_insert_rowid());
        if keep {
            kept.push((job.id, new_job));
        } else {
            note_job(conn, new_job, "queued")?;
        }
        conn.execute(
            "INSERT INTO steps (job_id, number, name, status, conclusion)
             SELECT ?2, number, name, ?3, ?4 FROM steps WHERE job_id = ?1",
            params![job.id, new_job, status, conclusion],
        )?;
    }
    // What the kept jobs uploaded stays available to the jobs that need them.
    super::artifacts::copy_for_rerun(conn, run.id, new_run, &kept)?;
    Ok((new_run, number))
}
