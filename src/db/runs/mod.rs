//! The `runs`, `jobs` and `steps` tables, and the ref updates not yet turned
//! into runs.

mod read;
mod rows;

pub use read::*;
pub use rows::*;

use rusqlite::{Connection, params};

use super::ref_updates::RefUpdate;
use super::repos::RepoId;
use crate::error::Result;
use crate::state::{self, Conclusion, Outcome, Status, Stop};

pub use crate::ids::{JobId, RunId, RunNumber};

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
