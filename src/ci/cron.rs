//! `on: schedule`: an in-process clock. At the start of each minute (UTC),
//! each repository's workflows on its default branch whose `cron` matches
//! that minute start a run. A minute fires once per workflow, even across a
//! restart (`schedule_ticks`); minutes the server was down for are not made
//! up, as on GitHub.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::trigger::{Origin, parsed_workflows};
use super::workflow::Workflow;
use crate::data_dir::DataDir;
use crate::db::{self, Db};
use crate::error::Result;

/// A commit and its workflows (file path, definition) that have a schedule.
type AtCommit = (String, Vec<(String, Workflow)>);

/// The scheduled workflows of each repository, by the commit they were read at.
#[derive(Default)]
pub struct Schedules {
    by_repo: HashMap<i64, AtCommit>,
}

/// Sleeps until the next minute starts; returns that minute (Unix time / 60).
pub async fn next_minute() -> i64 {
    let now = crate::time::since_epoch();
    let minute = now.as_secs() as i64 / 60 + 1;
    let wait = Duration::from_secs(minute as u64 * 60).saturating_sub(now);
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    minute
}

/// Starts the runs of every schedule that fires at `minute`; returns how many.
pub async fn tick(db: &Db, data: &DataDir, known: &mut Schedules, minute: i64) -> Result<usize> {
    let at = crate::time::civil(minute * 60);
    let repos = db.read(db::repos::all).await?;
    known.by_repo.retain(|id, _| repos.iter().any(|r| r.id.0 == *id));
    let mut started = 0;
    for repo in repos {
        let dir = data.repo(&repo.owner, &repo.name);
        let branch = format!("refs/heads/{}", repo.default_branch);
        let cached = known.by_repo.remove(&repo.id.0);
        let read = {
            let branch = branch.clone();
            crate::error::blocking("schedule task", move || scheduled_workflows(&dir, &branch, cached)).await?
        };
        let (sha, workflows) = match read {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("schedules of {}/{}: {e}", repo.owner, repo.name);
                continue;
            }
        };
        for (path, w) in &workflows {
            let fires =
                w.on.schedule
                    .iter()
                    .any(|c| c.matches(at.minute, at.hour, at.day, at.month, at.weekday));
            if !fires {
                continue;
            }
            let origin = Origin {
                repo: &repo,
                sha: &sha,
                ref_name: &branch,
                event: "schedule",
                inputs: serde_json::json!({}),
                extra: serde_json::Value::Null,
            };
            let run = origin.run_of(path, w)?;
            let id = repo.id;
            if db
                .write(move |tx| db::runs::insert_scheduled(tx, id, minute, &run))
                .await?
                .is_some()
            {
                started += 1;
            }
        }
        known.by_repo.insert(repo.id.0, (sha, workflows));
    }
    Ok(started)
}

/// The commit at `branch` and its workflows with a schedule; the cached
/// list when the branch has not moved. `None` for an empty repository.
fn scheduled_workflows(dir: &Path, branch: &str, cached: Option<AtCommit>) -> Result<Option<AtCommit>> {
    let refs = crate::git::list_refs(dir)?;
    let Some(sha) = refs.get(branch).cloned() else {
        return Ok(None);
    };
    if let Some((old, list)) = cached
        && old == sha
    {
        return Ok(Some((sha, list)));
    }
    let mut list = parsed_workflows(dir, &sha)?;
    list.retain(|(_, w)| !w.on.schedule.is_empty());
    Ok(Some((sha, list)))
}
