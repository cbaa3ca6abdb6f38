//! `/{owner}/{repo}/pipeline`: the default branch's recent commits as
//! rows and the environments as columns — which commit was built, which is
//! in which stage, which waits, which failed, and which each environment
//! runs now — as CodePipeline shows a release. Server-rendered; it
//! refreshes itself while something is going.

use std::collections::HashMap;

use super::*;
use crate::db::environments::{self, DeploymentRow};
use crate::git::read;
use crate::state::Deployment;
use crate::web::code::{default_ref, with_repo};

/// Commits the page shows.
const ROWS: usize = 20;

pub struct Cell {
    pub word: &'static str,
    pub symbol: &'static str,
    /// The deployment's job page.
    pub url: String,
    /// The environment runs this commit now.
    pub live: bool,
}

pub struct Row {
    pub sha: String,
    pub summary: String,
    pub build: Option<CiStatus>,
    /// One per environment, in the order of the columns.
    pub cells: Vec<Option<Cell>>,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/pipeline.html")]
pub struct PipelineView {
    nav: Nav,
    header: RepoHeader,
    branch: String,
    environments: Vec<String>,
    rows: Vec<Row>,
    /// Something is going: the page refreshes itself.
    going: bool,
}

/// The word and symbol of a deployment's state.
fn shown(state: Deployment) -> (&'static str, &'static str) {
    let symbol = match state {
        Deployment::Waiting => "◷",
        Deployment::Queued => "○",
        Deployment::InProgress => "◔",
        Deployment::Success => "✓",
        Deployment::Failure | Deployment::RolledBack | Deployment::Rejected => "✗",
        Deployment::Cancelled => "⊘",
    };
    match state {
        Deployment::InProgress => ("running", symbol),
        other => (other.as_str(), symbol),
    }
}

pub(super) async fn pipeline_page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
) -> Result<PipelineView> {
    let default_branch = access.repo.default_branch.clone();
    let commits = with_repo(&state, &access, move |repo, refs| {
        let Some(head) = default_ref(refs, &default_branch) else {
            return Ok(Vec::new());
        };
        Ok(read::log(repo, head.commit, "", true, 0, ROWS)?.0)
    })
    .await?;
    let shas: Vec<String> = commits.iter().map(|c| c.id.to_string()).collect();
    let repo = access.repo.clone();
    let (envs, deployments, current, statuses) = state
        .db
        .read(move |c| {
            let envs = environments::list_in_order(c, repo.id)?;
            let deployments = environments::deployments_of_commits(c, repo.id, &shas)?;
            let mut current = HashMap::new();
            for e in &envs {
                if let Some(d) = environments::current(c, e.id)? {
                    current.insert(e.id, d.sha);
                }
            }
            let mut numbers = HashMap::new();
            for d in &deployments {
                if !numbers.contains_key(&d.run_id)
                    && let Some(r) = runs::by_id(c, repo.id, d.run_id)?
                {
                    numbers.insert(d.run_id, r.run_number);
                }
            }
            let statuses = super::statuses(c, &repo, &shas)?;
            Ok((envs, (deployments, numbers), current, statuses))
        })
        .await?;
    let (deployments, numbers) = deployments;
    let base = access.repo.url();
    let mut going = false;
    let mut statuses = statuses;
    let rows = commits
        .iter()
        .map(|commit| {
            let sha = commit.id.to_string();
            let cells = envs
                .iter()
                .map(|e| {
                    // The newest deployment of this commit to this environment.
                    let d: Option<&DeploymentRow> = deployments
                        .iter()
                        .filter(|d| d.sha == sha && d.environment_id == e.id)
                        .max_by_key(|d| d.id);
                    d.map(|d| {
                        going |= !d.state.is_final();
                        let (word, symbol) = shown(d.state);
                        Cell {
                            word,
                            symbol,
                            url: numbers
                                .get(&d.run_id)
                                .map(|n| format!("{base}/runs/{n}/jobs/{}", d.job_id))
                                .unwrap_or_default(),
                            live: current.get(&e.id) == Some(&sha),
                        }
                    })
                })
                .collect();
            let build = statuses.remove(&sha);
            going |= build.as_ref().is_some_and(|b| b.open);
            Row {
                summary: commit.summary().to_string(),
                sha,
                build,
                cells,
            }
        })
        .collect();
    Ok(PipelineView {
        nav,
        branch: access.repo.default_branch.clone(),
        header: RepoHeader::new(access.repo, access.access, Tab::Environments),
        environments: envs.into_iter().map(|e| e.name).collect(),
        rows,
        going,
    })
}
