//! How well a team delivers, from Hearth's own records: the four DORA
//! measures for the repository's production environment, the success
//! rate and duration of each workflow's runs, and the tests that failed
//! and passed on the same commit (flaky).
//!
//! The measures, over the last `days` days:
//! - deployment frequency: successful production deployments, and per day;
//! - lead time for changes: for each commit a successful production
//!   deployment brought (those since the previous successful one that was
//!   not a rollback), the time
//!   from the commit (its committer date) to that deployment; the median;
//! - change failure rate: of the production deployments that ended, those
//!   that failed (failure, rolled back) or were followed by a rollback;
//! - time to restore: from each such failure to the next successful
//!   deployment that is not itself a failure; the median.

use std::path::Path;

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::db::repos::RepoId;
use crate::error::{Error, Result};

/// The periods offered.
pub const PERIODS: [i64; 3] = [7, 30, 90];
/// Commits looked at per deployment for its lead time.
const MAX_COMMITS: usize = 1000;

/// `?days=`: 7, 30 (the default) or 90.
pub fn period(days: Option<&str>) -> Result<i64> {
    match days.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(30),
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| PERIODS.contains(d))
            .ok_or_else(|| Error::Unprocessable(format!("days must be 7, 30 or 90, not {d:?}"))),
    }
}

/// A production deployment as the measures see it.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub id: i64,
    pub sha: String,
    /// `success`, `failure`, `rolled_back` (others have not ended or do not count).
    pub state: String,
    /// When it ended.
    pub at: i64,
    /// It put an earlier deployment back.
    pub rollback: bool,
    /// The committer dates of the commits it brought.
    pub commits: Vec<i64>,
}

impl Deploy {
    fn ended(&self) -> bool {
        matches!(self.state.as_str(), "success" | "failure" | "rolled_back")
    }

    fn failed_itself(&self) -> bool {
        matches!(self.state.as_str(), "failure" | "rolled_back")
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dora {
    pub environment: String,
    pub days: i64,
    pub deployments: u64,
    pub deployments_per_day: f64,
    /// Median, in seconds; `None` without a deployed commit.
    pub lead_time_seconds: Option<i64>,
    pub changes_deployed: u64,
    pub finished_deployments: u64,
    pub failed_deployments: u64,
    /// `failed / finished`; `None` without a finished deployment.
    pub change_failure_rate: Option<f64>,
    /// Median, in seconds; `None` without a restored failure.
    pub time_to_restore_seconds: Option<i64>,
    pub restored_failures: u64,
    /// Successful and failed deployments per day, oldest first.
    pub per_day: Vec<(String, u64, u64)>,
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

/// The four measures of `deploys` (all of the environment's, oldest first)
/// for the `days` days up to `now`.
pub fn dora(environment: &str, deploys: &[Deploy], days: i64, now: i64) -> Dora {
    let since = now - days * 86_400;
    let ended: Vec<&Deploy> = deploys.iter().filter(|d| d.ended()).collect();
    // A success is a failure too when the next deployment to end put an earlier one back.
    let failed: Vec<bool> = ended
        .iter()
        .enumerate()
        .map(|(i, d)| d.failed_itself() || ended.get(i + 1).is_some_and(|n| n.rollback))
        .collect();
    let mut out = Dora {
        environment: environment.to_string(),
        days,
        deployments: 0,
        deployments_per_day: 0.0,
        lead_time_seconds: None,
        changes_deployed: 0,
        finished_deployments: 0,
        failed_deployments: 0,
        change_failure_rate: None,
        time_to_restore_seconds: None,
        restored_failures: 0,
        per_day: Vec::new(),
    };
    let mut leads = Vec::new();
    let mut restores = Vec::new();
    // One bar a calendar day (UTC), today last; the first instants of the
    // window fall on the day before its first bar and are counted in it.
    let today = now - now.rem_euclid(86_400);
    let mut per_day: Vec<(String, u64, u64)> = (0..days)
        .rev()
        .map(|d| (crate::time::rfc3339(today - d * 86_400)[..10].to_string(), 0, 0))
        .collect();
    for (i, d) in ended.iter().enumerate() {
        if d.at <= since || d.at > now {
            continue;
        }
        out.finished_deployments += 1;
        let back = ((today - (d.at - d.at.rem_euclid(86_400))) / 86_400).clamp(0, days - 1);
        let slot = &mut per_day[(days - 1 - back) as usize];
        if d.state == "success" {
            out.deployments += 1;
            slot.1 += 1;
            for t in &d.commits {
                leads.push((d.at - t).max(0));
            }
        } else {
            slot.2 += 1;
        }
        if failed[i] {
            out.failed_deployments += 1;
            let restored = ended[i + 1..]
                .iter()
                .zip(&failed[i + 1..])
                .find(|(n, f)| n.state == "success" && !**f)
                .map(|(n, _)| n.at);
            if let Some(at) = restored {
                restores.push(at - d.at);
            }
        }
    }
    out.changes_deployed = leads.len() as u64;
    out.deployments_per_day = out.deployments as f64 / days as f64;
    out.lead_time_seconds = median(leads);
    out.change_failure_rate =
        (out.finished_deployments > 0).then(|| out.failed_deployments as f64 / out.finished_deployments as f64);
    out.restored_failures = restores.len() as u64;
    out.time_to_restore_seconds = median(restores);
    out.per_day = per_day;
    out
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WorkflowStats {
    pub workflow: String,
    pub runs: u64,
    pub succeeded: u64,
    pub success_rate: f64,
    /// Median, in seconds.
    pub median_duration_seconds: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlakyTest {
    pub name: String,
    pub classname: String,
    /// Commits it both failed and passed on.
    pub commits: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Insights {
    pub dora: Dora,
    pub workflows: Vec<WorkflowStats>,
    pub flaky_tests: Vec<FlakyTest>,
}

/// The production environment's name for `repo` (set in its settings; `prod`).
pub fn production(conn: &Connection, repo: RepoId) -> Result<String> {
    Ok(conn.query_row(
        "SELECT production_environment FROM repos WHERE id = ?1",
        [repo.0],
        |r| r.get(0),
    )?)
}

pub fn set_production(conn: &Connection, repo: RepoId, name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(Error::Unprocessable(
            "the production environment's name has 1 to 255 characters".into(),
        ));
    }
    conn.execute(
        "UPDATE repos SET production_environment = ?2 WHERE id = ?1",
        params![repo.0, name],
    )?;
    Ok(())
}

/// Everything the insights page shows, read from the records of `repo`
/// (whose git repository is at `path`).
pub fn gather(conn: &Connection, repo: RepoId, path: &Path, days: i64, now: i64) -> Result<Insights> {
    let environment = production(conn, repo)?;
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.sha, d.state, d.updated_at, d.rollback_of IS NOT NULL FROM deployments d
         JOIN environments e ON e.id = d.environment_id
         WHERE d.repo_id = ?1 AND e.name = ?2 ORDER BY d.id",
    )?;
    let mut deploys: Vec<Deploy> = stmt
        .query_map(params![repo.0, environment], |r| {
            Ok(Deploy {
                id: r.get(0)?,
                sha: r.get(1)?,
                state: r.get(2)?,
                at: r.get(3)?,
                rollback: r.get(4)?,
                commits: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    // What each successful deployment in the window brought: the commits
    // since the previous successful one that was not a rollback (a change
    // deployed again after a rollback is not new), or only its own, for
    // the first.
    let since = now - days * 86_400;
    if let Ok(git) = crate::git::open(path) {
        let mut previous: Option<String> = None;
        for d in deploys.iter_mut() {
            if d.state != "success" {
                continue;
            }
            if d.at > since {
                let ids = match &previous {
                    Some(p) if p != &d.sha => crate::git::merge::commits_between(&git, p, &d.sha)
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    Some(_) => Vec::new(),
                    None => crate::git::object_id(&d.sha).map(|i| vec![i]).unwrap_or_default(),
                };
                d.commits = ids
                    .into_iter()
                    .take(MAX_COMMITS)
                    .filter_map(|id| crate::git::read::commit_info(&git, id).ok())
                    .map(|c| c.committer.time)
                    .collect();
            }
            if !d.rollback {
                previous = Some(d.sha.clone());
            }
        }
    }
    let dora = dora(&environment, &deploys, days, now);

    let mut stmt = conn.prepare_cached(
        "SELECT workflow, conclusion, updated_at - created_at FROM runs
         WHERE repo_id = ?1 AND status = 'completed' AND created_at > ?2 ORDER BY workflow",
    )?;
    let rows: Vec<(String, Option<String>, i64)> = stmt
        .query_map(params![repo.0, since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut workflows: Vec<WorkflowStats> = Vec::new();
    let mut durations: Vec<Vec<i64>> = Vec::new();
    for (workflow, conclusion, took) in rows {
        if workflows.last().is_none_or(|w| w.workflow != workflow) {
            workflows.push(WorkflowStats {
                workflow: workflow.clone(),
                runs: 0,
                succeeded: 0,
                success_rate: 0.0,
                median_duration_seconds: 0,
            });
            durations.push(Vec::new());
        }
        let (w, d) = (
            workflows.last_mut().expect("just pushed"),
            durations.last_mut().expect("just pushed"),
        );
        w.runs += 1;
        if conclusion.as_deref() == Some("success") {
            w.succeeded += 1;
        }
        d.push(took.max(0));
    }
    for (w, d) in workflows.iter_mut().zip(durations) {
        w.success_rate = w.succeeded as f64 / w.runs as f64;
        w.median_duration_seconds = median(d).unwrap_or(0);
    }

    // A test failed in one report and not in another of the same name on the same commit.
    let mut stmt = conn.prepare_cached(
        "SELECT f.name, f.classname, COUNT(DISTINCT r.head_sha) FROM test_failures f
         JOIN test_reports t ON t.id = f.report_id JOIN runs r ON r.id = t.run_id
         WHERE r.repo_id = ?1 AND t.created_at > ?2 AND EXISTS (
             SELECT 1 FROM test_reports t2 JOIN runs r2 ON r2.id = t2.run_id
             WHERE r2.repo_id = r.repo_id AND r2.head_sha = r.head_sha AND t2.name = t.name AND t2.id != t.id
               AND NOT EXISTS (SELECT 1 FROM test_failures f2
                               WHERE f2.report_id = t2.id AND f2.name = f.name AND f2.classname = f.classname))
         GROUP BY f.name, f.classname ORDER BY 3 DESC, f.classname, f.name LIMIT 50",
    )?;
    let flaky_tests = stmt
        .query_map(params![repo.0, since], |r| {
            Ok(FlakyTest {
                name: r.get(0)?,
                classname: r.get(1)?,
                commits: r.get::<_, i64>(2)? as u64,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Insights {
        dora,
        workflows,
        flaky_tests,
    })
}

/// "3 h 20 min", "2 d 4 h", "45 s".
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: i64, state: &str, at: i64, rollback: bool, commits: &[i64]) -> Deploy {
        Deploy {
            id,
            sha: format!("{id}"),
            state: state.into(),
            at,
            rollback,
            commits: commits.to_vec(),
        }
    }

    #[test]
    fn the_four_measures_by_hand() {
        let day = 86_400;
        let now = 100 * day;
        let list = vec![
            // Before the window: only a baseline.
            d(1, "success", now - 40 * day, false, &[]),
            // Lead times 1 h and 3 h; later rolled back (failure), restored 2 h later.
            d(
                2,
                "success",
                now - 5 * day,
                false,
                &[now - 5 * day - 3600, now - 5 * day - 3 * 3600],
            ),
            d(3, "success", now - 5 * day + 7200, true, &[]),
            // A failed deployment, restored by the next success 30 min later.
            d(4, "failure", now - 2 * day, false, &[]),
            d(5, "in_progress", now - 2 * day + 60, false, &[]),
            d(6, "success", now - 2 * day + 1800, false, &[now - 2 * day - 5 * 3600]),
        ];
        let m = dora("prod", &list, 7, now);
        assert_eq!(m.deployments, 3, "{m:?}");
        assert!((m.deployments_per_day - 3.0 / 7.0).abs() < 1e-9);
        // Lead times: 1 h, 3 h, 5.5 h → median 3 h.
        assert_eq!(m.changes_deployed, 3);
        assert_eq!(m.lead_time_seconds, Some(3 * 3600));
        // Four ended in the window, two of them failures (2 was rolled back, 4 failed).
        assert_eq!(m.finished_deployments, 4);
        assert_eq!(m.failed_deployments, 2);
        assert_eq!(m.change_failure_rate, Some(0.5));
        // Restored after 2 h and 30 min → median 75 min.
        assert_eq!(m.restored_failures, 2);
        assert_eq!(m.time_to_restore_seconds, Some(4500));
        assert_eq!(m.per_day.len(), 7);
        assert_eq!(m.per_day.iter().map(|p| p.1 + p.2).sum::<u64>(), 4);
    }

    #[test]
    fn nothing_to_measure_says_so() {
        let m = dora("prod", &[], 30, 1_000_000);
        assert_eq!(
            (m.deployments, m.lead_time_seconds, m.change_failure_rate),
            (0, None, None)
        );
        assert_eq!(m.time_to_restore_seconds, None);
        assert_eq!(
            period(Some("14")).unwrap_err().to_string(),
            "days must be 7, 30 or 90, not \"14\""
        );
        assert_eq!(period(None).unwrap(), 30);
    }
}
