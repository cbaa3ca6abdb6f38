//! How runs, jobs and steps change state: the types of a status and a
//! conclusion, and every rule of how they change — a job starts, waits,
//! completes; cancel; fail-fast; concurrency groups; `continue-on-error`;
//! re-run; what a run and a commit add up to. `db::runs` applies its
//! decisions in one transaction each; the scheduler, the executor,
//! `hearth ci run` and the pages ask it.

use std::fmt;

/// Where a run, job or step is (GitHub's `status`): queued → (waiting →)
/// in progress → completed. `Waiting` is a job held at a gate until
/// someone lets it go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Queued,
    Waiting,
    InProgress,
    Completed,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Queued, Status::Waiting, Status::InProgress, Status::Completed];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Waiting => "waiting",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Not completed yet.
    pub fn is_open(self) -> bool {
        self != Status::Completed
    }

    /// Whether a move from `self` to `next` is one the rules allow. A job
    /// held at a gate goes back to the queue when let through; a completed
    /// job never changes again (a re-run is a new run).
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Queued, Waiting)
                | (Waiting, Queued)
                | (Queued, InProgress)
                | (Waiting, InProgress)
                | (Queued | Waiting | InProgress, Completed)
        )
    }
}

/// How a run, job or step ended (GitHub's `conclusion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
    TimedOut,
}

impl Conclusion {
    pub const ALL: [Conclusion; 5] = [
        Conclusion::Success,
        Conclusion::Failure,
        Conclusion::Cancelled,
        Conclusion::Skipped,
        Conclusion::TimedOut,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
            Conclusion::TimedOut => "timed_out",
        }
    }

    pub fn parse(text: &str) -> Option<Conclusion> {
        Conclusion::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// A failure, or out of time: what `continue-on-error` forgives.
    pub fn failed(self) -> bool {
        matches!(self, Conclusion::Failure | Conclusion::TimedOut)
    }

    /// Stopped before its end: cancelled or out of time. After it only
    /// `always()` and `cancelled()` steps run.
    pub fn interrupted(self) -> bool {
        matches!(self, Conclusion::Cancelled | Conclusion::TimedOut)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Conclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

stored_as_text!(Status);
stored_as_text!(Conclusion);

/// A job as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    /// It failed, but `continue-on-error` held.
    pub allowed_failure: bool,
}

/// A new run: queued, or completed as a failure at once when its workflow
/// could not be read.
pub fn created(unreadable: bool) -> (Status, Option<Conclusion>) {
    if unreadable {
        (Status::Completed, Some(Conclusion::Failure))
    } else {
        (Status::Queued, None)
    }
}

/// What stopping a job does (cancel, cancel-in-progress, fail-fast).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It never started: it completes as cancelled now.
    Cancel,
    /// It runs: the executor is asked to stop it, and records it cancelled.
    Ask,
    /// It is done already.
    Nothing,
}

pub fn stop(status: Status) -> Stop {
    match status {
        Status::Queued | Status::Waiting => Stop::Cancel,
        Status::InProgress => Stop::Ask,
        Status::Completed => Stop::Nothing,
    }
}

/// A run or job entering a concurrency group: whether an open member of
/// the group gives way. Those not started do; running ones only with
/// `cancel-in-progress` (otherwise the newcomer waits for them).
pub fn displaced(member: Status, cancel_in_progress: bool) -> bool {
    match member {
        Status::Queued | Status::Waiting => true,
        Status::InProgress => cancel_in_progress,
        Status::Completed => false,
    }
}

/// A run's status while it is open, from its jobs: in progress while any
/// job runs; waiting when the only ones left are held at gates (or
/// queued behind them); in progress once any has ended; else queued.
pub fn open_run_status(jobs: impl IntoIterator<Item = Status>) -> Status {
    let (mut running, mut waiting, mut ended) = (false, false, false);
    for s in jobs {
        match s {
            Status::InProgress => running = true,
            Status::Waiting => waiting = true,
            Status::Completed => ended = true,
            Status::Queued => {}
        }
    }
    if running {
        Status::InProgress
    } else if waiting {
        Status::Waiting
    } else if ended {
        Status::InProgress
    } else {
        Status::Queued
    }
}

/// A run's conclusion from its jobs: `None` while any is open; then a
/// failure if any failed that `continue-on-error` did not forgive,
/// cancelled if any was cancelled, else success.
pub fn run_conclusion(jobs: impl IntoIterator<Item = Outcome>) -> Option<Conclusion> {
    let (mut failed, mut cancelled) = (false, false);
    for job in jobs {
        match job.conclusion {
            _ if job.status.is_open() => return None,
            Some(c) if c.failed() && !job.allowed_failure => failed = true,
            Some(Conclusion::Cancelled) => cancelled = true,
            _ => {}
        }
    }
    Some(if failed {
        Conclusion::Failure
    } else if cancelled {
        Conclusion::Cancelled
    } else {
        Conclusion::Success
    })
}

/// A need's result (`needs.<id>.result`) over all its instances, one per
/// matrix combination: success when all that ran succeeded (a failure
/// that continue-on-error allows counts as success; an instance skipped
/// for want of a runner is left out), cancelled when any was cancelled,
/// skipped when all were, else failure.
pub fn need_result(instances: impl IntoIterator<Item = Outcome>) -> Conclusion {
    let results: Vec<Option<Conclusion>> = instances
        .into_iter()
        .map(|j| match j.conclusion {
            Some(c) if j.allowed_failure && c.failed() => Some(Conclusion::Success),
            other => other,
        })
        .collect();
    let all = |c: Conclusion| !results.is_empty() && results.iter().all(|r| *r == Some(c));
    let ran: Vec<&Option<Conclusion>> = results.iter().filter(|r| **r != Some(Conclusion::Skipped)).collect();
    if !ran.is_empty() && ran.iter().all(|r| **r == Some(Conclusion::Success)) {
        Conclusion::Success
    } else if results.contains(&Some(Conclusion::Cancelled)) {
        Conclusion::Cancelled
    } else if all(Conclusion::Skipped) {
        Conclusion::Skipped
    } else {
        Conclusion::Failure
    }
}

/// What a job's needs add up to for its `if:` (`success()`, `failure()`,
/// `cancelled()`): success when all succeeded, cancelled when any was,
/// else failure.
pub fn needs_state(results: &[Conclusion]) -> Conclusion {
    if results.iter().all(|r| *r == Conclusion::Success) {
        Conclusion::Success
    } else if results.contains(&Conclusion::Cancelled) {
        Conclusion::Cancelled
    } else {
        Conclusion::Failure
    }
}

/// The job's conclusion so far after one more step ended with `step`.
/// A failure `continue-on-error` forgives changes nothing; the first
/// thing to go wrong decides, except that a cancel or a timeout always
/// does.
pub fn after_step(job: Conclusion, step: Conclusion, continue_on_error: bool) -> Conclusion {
    if continue_on_error && step.failed() {
        job
    } else if step.interrupted() || (job == Conclusion::Success && step != Conclusion::Success) {
        step
    } else {
        job
    }
}

/// What a step's `steps.<id>.conclusion` says: its outcome, except that a
/// failure `continue-on-error` forgives reads as success.
pub fn step_conclusion(outcome: Conclusion, continue_on_error: bool) -> Conclusion {
    if continue_on_error && outcome.failed() {
        Conclusion::Success
    } else {
        outcome
    }
}

/// Whether a job's failure is forgiven by its `continue-on-error`: the
/// job shows as failed, the run does not fail for it.
pub fn forgiven(conclusion: Conclusion, continue_on_error: bool) -> bool {
    continue_on_error && conclusion.failed()
}

/// fail-fast: whether a matrix instance that ended with `conclusion`
/// stops the job's other instances.
pub fn fails_fast(conclusion: Conclusion, continue_on_error: bool, fail_fast: bool, instances: usize) -> bool {
    fail_fast && instances > 1 && conclusion.failed() && !continue_on_error
}

/// Why a run cannot be started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRerun {
    /// It is still going.
    Open,
    /// Its workflow could not be read: no job ever ran.
    Unreadable,
    /// Only failed jobs were asked for, and none failed.
    NothingFailed,
}

/// Whether a run with `status` and `conclusion` may run again.
pub fn may_rerun(
    status: Status,
    conclusion: Option<Conclusion>,
    unreadable: bool,
    only_failed: bool,
) -> Result<(), NoRerun> {
    if status.is_open() {
        Err(NoRerun::Open)
    } else if unreadable {
        Err(NoRerun::Unreadable)
    } else if only_failed && conclusion == Some(Conclusion::Success) {
        Err(NoRerun::NothingFailed)
    } else {
        Ok(())
    }
}

/// A job of a run started again: it keeps a success when only failed
/// jobs run again; otherwise it is queued afresh.
pub fn rerun_job(previous: Option<Conclusion>, only_failed: bool) -> (Status, Option<Conclusion>) {
    if only_failed && previous == Some(Conclusion::Success) {
        (Status::Completed, Some(Conclusion::Success))
    } else {
        (Status::Queued, None)
    }
}

/// What of a run to start again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Again {
    /// Every job.
    All,
    /// The jobs that did not succeed.
    Failed,
    /// One deployment job, to put its deployment back (a rollback); the
    /// others keep their results.
    Redeploy(crate::ids::JobId),
}

/// A job `job` (which ended with `previous`) of a run started again.
pub fn again(which: Again, job: crate::ids::JobId, previous: Option<Conclusion>) -> (Status, Option<Conclusion>) {
    match which {
        Again::All => rerun_job(previous, false),
        Again::Failed => rerun_job(previous, true),
        Again::Redeploy(target) if target == job => (Status::Queued, None),
        Again::Redeploy(_) => (Status::Completed, Some(previous.unwrap_or(Conclusion::Skipped))),
    }
}

/// A commit's state from all its runs, oldest first: in progress while
/// any is open, failure if any failed, else the newest run's conclusion.
pub fn combined(runs: &[(Status, Option<Conclusion>)]) -> Option<(Status, Option<Conclusion>)> {
    let newest = runs.last()?;
    Some(if runs.iter().any(|r| r.0.is_open()) {
        (Status::InProgress, None)
    } else if runs.iter().any(|r| r.1.is_some_and(Conclusion::failed)) {
        (Status::Completed, Some(Conclusion::Failure))
    } else {
        (Status::Completed, newest.1)
    })
}

#[cfg(test)]
mod tests {
    use super::Conclusion::*;
    use super::Status::*;
    use super::*;

    fn done(c: Conclusion) -> Outcome {
        Outcome {
            status: Completed,
            conclusion: Some(c),
            allowed_failure: false,
        }
    }

    fn open(s: Status) -> Outcome {
        Outcome {
            status: s,
            conclusion: None,
            allowed_failure: false,
        }
    }

    fn forgiven_failure() -> Outcome {
        Outcome {
            allowed_failure: true,
            ..done(Failure)
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for c in Conclusion::ALL {
            assert_eq!(Conclusion::parse(c.as_str()), Some(c));
        }
        assert_eq!(Status::parse("complete"), None);
        assert_eq!(Conclusion::parse("Success"), None);
        assert_eq!(InProgress.as_str(), "in_progress");
        assert_eq!(TimedOut.to_string(), "timed_out");
    }

    #[test]
    fn a_job_moves_forward_only() {
        assert!(Queued.can_become(InProgress));
        assert!(Queued.can_become(Waiting));
        assert!(Waiting.can_become(InProgress));
        assert!(Waiting.can_become(Queued), "let through at its gate");
        assert!(Queued.can_become(Completed), "skipped or cancelled before it starts");
        assert!(InProgress.can_become(Completed));
        assert!(!InProgress.can_become(Queued));
        assert!(!InProgress.can_become(Waiting));
        for s in Status::ALL {
            assert!(!Completed.can_become(s), "completed is final, not {s}");
            assert!(!s.can_become(s), "{s} to itself is no move");
        }
    }

    #[test]
    fn cancel_finishes_what_has_not_started_and_asks_what_runs() {
        assert_eq!(stop(Queued), Stop::Cancel);
        assert_eq!(stop(Waiting), Stop::Cancel);
        assert_eq!(stop(InProgress), Stop::Ask);
        assert_eq!(stop(Completed), Stop::Nothing);
    }

    #[test]
    fn a_concurrency_group_cancels_pending_members_and_running_ones_only_when_asked() {
        assert!(displaced(Queued, false));
        assert!(displaced(Waiting, false));
        assert!(!displaced(InProgress, false));
        assert!(displaced(InProgress, true));
        assert!(!displaced(Completed, true));
    }

    #[test]
    fn a_run_concludes_when_its_last_job_does() {
        assert_eq!(run_conclusion([done(Success), open(InProgress)]), None);
        assert_eq!(run_conclusion([done(Success), open(Queued)]), None);
        assert_eq!(run_conclusion([done(Success), done(Skipped)]), Some(Success));
        assert_eq!(run_conclusion([done(Success), done(Failure)]), Some(Failure));
        assert_eq!(run_conclusion([done(TimedOut)]), Some(Failure));
        assert_eq!(run_conclusion([done(Cancelled), done(Success)]), Some(Cancelled));
        assert_eq!(
            run_conclusion([done(Cancelled), done(Failure)]),
            Some(Failure),
            "a failure outweighs a cancel"
        );
        assert_eq!(
            run_conclusion([forgiven_failure(), done(Success)]),
            Some(Success),
            "continue-on-error"
        );
        assert_eq!(run_conclusion([]), Some(Success));
    }

    #[test]
    fn an_open_run_waits_when_only_its_gates_hold_it() {
        assert_eq!(open_run_status([Queued, Queued]), Queued);
        assert_eq!(open_run_status([Completed, InProgress, Waiting]), InProgress);
        assert_eq!(open_run_status([Completed, Waiting, Queued]), Waiting);
        assert_eq!(open_run_status([Completed, Queued]), InProgress);
    }

    #[test]
    fn a_need_over_its_matrix_instances() {
        assert_eq!(need_result([done(Success), done(Success)]), Success);
        assert_eq!(need_result([done(Success), forgiven_failure()]), Success);
        assert_eq!(need_result([done(Success), done(Failure)]), Failure);
        assert_eq!(need_result([done(Failure), done(Cancelled)]), Cancelled);
        assert_eq!(need_result([done(Skipped), done(Skipped)]), Skipped);
        // An instance skipped (no runner for it) does not fail what needs the matrix.
        assert_eq!(need_result([done(Skipped), done(Success)]), Success);
        assert_eq!(need_result([done(Skipped), done(Failure)]), Failure);
        assert_eq!(need_result([]), Failure, "a need with no job never succeeded");
        assert_eq!(needs_state(&[Success, Success]), Success);
        assert_eq!(needs_state(&[Success, Skipped]), Failure);
        assert_eq!(needs_state(&[Failure, Cancelled]), Cancelled);
        assert_eq!(needs_state(&[]), Success);
    }

    #[test]
    fn steps_decide_the_job() {
        assert_eq!(after_step(Success, Success, false), Success);
        assert_eq!(after_step(Success, Failure, false), Failure);
        assert_eq!(after_step(Success, Failure, true), Success, "continue-on-error");
        assert_eq!(
            after_step(Success, TimedOut, true),
            Success,
            "a timeout is a failure it forgives"
        );
        assert_eq!(
            after_step(Failure, Success, false),
            Failure,
            "an always() step after a failure"
        );
        assert_eq!(after_step(Failure, Skipped, false), Failure);
        assert_eq!(
            after_step(Failure, Cancelled, false),
            Cancelled,
            "a cancel always decides"
        );
        assert_eq!(after_step(Failure, TimedOut, false), TimedOut);
        assert_eq!(
            after_step(Success, Cancelled, true),
            Cancelled,
            "a cancel is not forgiven"
        );
        assert_eq!(step_conclusion(Failure, true), Success);
        assert_eq!(step_conclusion(Failure, false), Failure);
        assert_eq!(step_conclusion(Cancelled, true), Cancelled);
    }

    #[test]
    fn continue_on_error_and_fail_fast() {
        assert!(forgiven(Failure, true));
        assert!(forgiven(TimedOut, true));
        assert!(!forgiven(Cancelled, true));
        assert!(!forgiven(Failure, false));
        assert!(fails_fast(Failure, false, true, 3));
        assert!(
            !fails_fast(Failure, true, true, 3),
            "a forgiven failure does not stop the others"
        );
        assert!(!fails_fast(Failure, false, false, 3), "fail-fast: false");
        assert!(!fails_fast(Failure, false, true, 1), "no other instance");
        assert!(!fails_fast(Cancelled, false, true, 3));
        assert!(fails_fast(TimedOut, false, true, 2));
    }

    #[test]
    fn rerun_needs_a_finished_run_and_keeps_successes_when_only_failed_jobs_run() {
        assert_eq!(may_rerun(InProgress, None, false, false), Err(NoRerun::Open));
        assert_eq!(
            may_rerun(Completed, Some(Failure), true, false),
            Err(NoRerun::Unreadable)
        );
        assert_eq!(
            may_rerun(Completed, Some(Success), false, true),
            Err(NoRerun::NothingFailed)
        );
        assert_eq!(may_rerun(Completed, Some(Success), false, false), Ok(()));
        assert_eq!(may_rerun(Completed, Some(Cancelled), false, true), Ok(()));
        assert_eq!(rerun_job(Some(Success), true), (Completed, Some(Success)));
        assert_eq!(rerun_job(Some(Failure), true), (Queued, None));
        assert_eq!(rerun_job(Some(Success), false), (Queued, None));
        assert_eq!(rerun_job(Some(Skipped), true), (Queued, None));
        let (target, other) = (crate::ids::JobId(7), crate::ids::JobId(8));
        assert_eq!(again(Again::Redeploy(target), target, Some(Success)), (Queued, None));
        assert_eq!(
            again(Again::Redeploy(target), other, Some(Failure)),
            (Completed, Some(Failure)),
            "only the deployment job runs again"
        );
        assert_eq!(again(Again::Failed, other, Some(Success)), (Completed, Some(Success)));
    }

    #[test]
    fn a_new_run_and_a_commit_of_several_runs() {
        assert_eq!(created(false), (Queued, None));
        assert_eq!(created(true), (Completed, Some(Failure)));
        assert_eq!(combined(&[]), None);
        assert_eq!(
            combined(&[(Completed, Some(Success)), (Queued, None)]),
            Some((InProgress, None))
        );
        assert_eq!(
            combined(&[(Completed, Some(TimedOut)), (Completed, Some(Success))]),
            Some((Completed, Some(Failure)))
        );
        assert_eq!(
            combined(&[(Completed, Some(Success)), (Completed, Some(Cancelled))]),
            Some((Completed, Some(Cancelled))),
            "the newest run's conclusion"
        );
    }
}
