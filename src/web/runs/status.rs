//! The status icons of runs and commit statuses, as the pages show them
//! beside commits.

use crate::db::repos::Repo;
use crate::db::runs::{self};
use crate::error::Result;
use crate::state::{Conclusion, Status};

/// The word and symbol shown for a state: queued, running, success, failure…
pub fn badge(status: Status, conclusion: Option<Conclusion>) -> (&'static str, &'static str) {
    match (status, conclusion) {
        (Status::Queued, _) => (status.as_str(), "○"),
        (Status::Waiting, _) => (status.as_str(), "◷"),
        (Status::InProgress, _) => ("running", "◔"),
        (Status::Completed, Some(c @ Conclusion::Success)) => (c.as_str(), "✓"),
        (Status::Completed, Some(c @ Conclusion::Failure)) => (c.as_str(), "✗"),
        (Status::Completed, Some(c @ Conclusion::Cancelled)) => (c.as_str(), "⊘"),
        (Status::Completed, Some(c @ Conclusion::Skipped)) => (c.as_str(), "–"),
        (Status::Completed, Some(Conclusion::TimedOut)) => ("timed out", "⏱"),
        (Status::Completed, None) => ("unknown", "?"),
    }
}

/// A run status shown beside a commit: word, symbol and the run's page,
/// then what outside systems said of the commit.
pub struct CiStatus {
    pub word: &'static str,
    pub symbol: &'static str,
    pub url: String,
    /// Its runs are not all done.
    pub open: bool,
    /// The test totals of its newest run with test reports: tests, failed.
    pub tests: Option<(u64, u64)>,
    /// The commit has runs here (else only outside statuses).
    pub has_runs: bool,
    /// The newest status of each outside context.
    pub outside: Vec<OutsideStatus>,
}

/// A status an outside system posted (`POST …/statuses/{sha}`).
pub struct OutsideStatus {
    pub context: String,
    pub word: &'static str,
    pub symbol: &'static str,
    pub description: String,
    /// Its `target_url`, or the commit's page.
    pub url: String,
}

pub(super) fn outside_badge(state: crate::db::statuses::State) -> (&'static str, &'static str) {
    use crate::db::statuses::State;
    match state {
        State::Success => ("success", "✓"),
        State::Failure | State::Error => ("failure", "✗"),
        State::Pending => ("pending", "◔"),
    }
}

impl CiStatus {
    pub fn new(repo: &Repo, status: &runs::CommitStatus) -> CiStatus {
        let (word, symbol) = badge(status.status, status.conclusion);
        CiStatus {
            open: status.status.is_open(),
            word,
            symbol,
            url: format!("{}/runs/{}", repo.url(), status.run_number),
            tests: None,
            has_runs: true,
            outside: Vec::new(),
        }
    }

    /// Adds what outside systems said of `sha`; with no runs, they are the status.
    fn with_outside(mut self, repo: &Repo, sha: &str, said: Vec<crate::db::statuses::Status>) -> CiStatus {
        let commit = format!("{}/commit/{sha}", repo.url());
        if !self.has_runs {
            let (word, symbol) = outside_badge(crate::db::statuses::State::combine(said.iter().map(|s| s.state)));
            (self.word, self.symbol, self.open, self.url) = (word, symbol, word == "pending", commit.clone());
        }
        self.outside = said
            .into_iter()
            .map(|s| {
                let (word, symbol) = outside_badge(s.state);
                OutsideStatus {
                    context: s.context,
                    word,
                    symbol,
                    description: s.description.unwrap_or_default(),
                    url: s.target_url.unwrap_or_else(|| commit.clone()),
                }
            })
            .collect();
        self
    }
}

/// The statuses of `shas` in `repo`, ready to show.
pub fn statuses(
    conn: &rusqlite::Connection,
    repo: &Repo,
    shas: &[String],
) -> Result<std::collections::HashMap<String, CiStatus>> {
    let mut runs = runs::status_by_sha(conn, repo.id, shas)?;
    let mut out = std::collections::HashMap::new();
    for sha in shas {
        let said = crate::db::statuses::latest(conn, repo.id, sha)?;
        let status = match runs.remove(sha) {
            Some(s) => {
                let mut status = CiStatus::new(repo, &s);
                status.tests = crate::db::test_reports::totals_of_commit(conn, repo.id, sha)?;
                status
            }
            None if said.is_empty() => continue,
            None => CiStatus {
                word: "",
                symbol: "",
                url: String::new(),
                open: false,
                tests: None,
                has_runs: false,
                outside: Vec::new(),
            },
        };
        out.insert(sha.clone(), status.with_outside(repo, sha, said));
    }
    Ok(out)
}

pub(super) fn duration(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(s), Some(e)) => format!("{}s", (e - s).max(0)),
        (Some(s), None) => format!("{}s so far", (crate::time::now() - s).max(0)),
        _ => String::new(),
    }
}
