//! A run's, a job's and a step's rows, and what a new one holds.

use rusqlite::Row;

use crate::db::repos::RepoId;
use crate::ids::{JobId, RunId, RunNumber};
use crate::state::{Conclusion, Outcome, Status};

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
pub(super) use run_columns;

pub(super) const RUN_SELECT: &str = concat!("SELECT ", run_columns!(), " FROM runs");

pub(super) fn run_from_row(r: &Row) -> rusqlite::Result<Run> {
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

pub(super) const JOB_SELECT: &str =
    "SELECT id, run_id, job_key, name, needs, spec, status, conclusion, started_at, completed_at, outputs,
            concurrency, cancel_requested, allowed_failure FROM jobs";

pub(super) fn job_from_row(r: &Row) -> rusqlite::Result<Job> {
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
