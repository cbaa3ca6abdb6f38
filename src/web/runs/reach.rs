//! "Where is my fix": for commits that reference an issue, their run
//! status and the environments they have reached — an environment whose
//! current commit holds them (is them or comes after them), or a
//! deployment of such a commit on its way (`prod waiting for approval`).

use super::*;
use crate::db::environments;
use crate::git::read;
use crate::state::Deployment;
use crate::web::code::with_repo;

/// How far back an environment's commit is searched for a fix.
const HISTORY_LIMIT: usize = 2000;
/// Commits whose environments are traced (the newest references); the
/// rest show their run status only.
const TRACED: usize = 20;

pub struct Reached {
    pub environment: String,
    /// `✓`, or how the deployment that holds it is on its way.
    pub how: &'static str,
    pub done: bool,
}

pub struct CommitReach {
    pub sha: String,
    pub ci: Option<CiStatus>,
    /// Its newest run's test totals: tests, failed.
    pub tests: Option<(u64, u64)>,
    pub reached: Vec<Reached>,
}

/// Run status and environments reached by each of `shas` (full commit ids).
pub async fn reach(state: &AppState, access: &RepoAccess<Read>, shas: Vec<String>) -> Result<Vec<CommitReach>> {
    if shas.is_empty() {
        return Ok(Vec::new());
    }
    let repo = access.repo.clone();
    let wanted = shas.clone();
    let (statuses, envs, totals) = state
        .db
        .read(move |c| {
            let statuses = super::statuses(c, &repo, &wanted)?;
            let totals = wanted
                .iter()
                .map(|sha| crate::db::test_reports::totals_of_commit(c, repo.id, sha))
                .collect::<Result<Vec<_>>>()?;
            let mut envs = Vec::new();
            for e in environments::list_in_order(c, repo.id)? {
                let current = environments::current(c, e.id)?.map(|d| d.sha);
                let going: Vec<(String, Deployment)> = environments::deployments(c, repo.id, Some(&e.name), 20, 0)?
                    .into_iter()
                    .filter(|d| !d.state.is_final())
                    .map(|d| (d.sha, d.state))
                    .collect();
                envs.push((e.name, current, going));
            }
            Ok((statuses, envs, totals))
        })
        .await?;
    let mut statuses = statuses;
    let order = shas.clone();
    let found = with_repo(state, access, move |repo, _| {
        let id = |s: &str| gix::ObjectId::from_hex(s.as_bytes()).ok();
        // Each environment's commit is walked once, whatever the commits asked about.
        let mut histories: std::collections::HashMap<String, std::collections::HashSet<gix::ObjectId>> =
            Default::default();
        let mut holds = |tip: &str, commit: &str| -> Result<bool> {
            let (Some(t), Some(c)) = (id(tip), id(commit)) else {
                return Ok(false);
            };
            if !histories.contains_key(tip) {
                histories.insert(tip.to_string(), read::history(repo, t, HISTORY_LIMIT)?);
            }
            Ok(histories[tip].contains(&c))
        };
        let mut out = Vec::new();
        for (i, sha) in shas.iter().enumerate() {
            let mut reached = Vec::new();
            if shas.len() - i > TRACED {
                out.push(reached);
                continue;
            }
            for (name, current, going) in &envs {
                let live = match current {
                    Some(tip) => holds(tip, sha)?,
                    None => false,
                };
                if live {
                    reached.push((name.clone(), "✓", true));
                    continue;
                }
                for (tip, state) in going {
                    if holds(tip, sha)? {
                        let how = match state {
                            Deployment::Waiting => "waiting for approval",
                            Deployment::InProgress => "deploying",
                            other => other.as_str(),
                        };
                        reached.push((name.clone(), how, false));
                        break;
                    }
                }
            }
            out.push(reached);
        }
        Ok(out)
    })
    .await?;
    Ok(order
        .into_iter()
        .zip(found)
        .zip(totals)
        .map(|((sha, reached), tests)| CommitReach {
            ci: statuses.remove(&sha),
            tests,
            reached: reached
                .into_iter()
                .map(|(environment, how, done)| Reached { environment, how, done })
                .collect(),
            sha,
        })
        .collect())
}
