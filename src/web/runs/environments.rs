//! `/{owner}/{repo}/environments`: each environment, the commit it runs
//! now (its newest successful deployment) and since when, who must let a
//! deployment in, and its recent deployments with how each went.

use super::*;
use crate::db::environments::{self, DeploymentRow};

/// How many deployments of each environment the page lists.
const HISTORY: u32 = 20;

pub struct DeploymentItem {
    pub deployment: DeploymentRow,
    pub state: &'static str,
    /// The state in words: `rolled back`.
    pub label: String,
    pub when: String,
    /// The run's number, for its link.
    pub run_number: Option<i64>,
    /// What it deployed: artifact names with the start of their digests.
    pub artifacts: String,
    /// It may be deployed again: it succeeded, and is not what runs now.
    pub redeployable: bool,
}

pub struct EnvironmentRow {
    pub name: String,
    pub current: Option<DeploymentItem>,
    pub reviewers: Vec<String>,
    pub wait_timer: i64,
    pub patterns: Vec<String>,
    pub history: Vec<DeploymentItem>,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/environments.html")]
pub struct EnvironmentsView {
    nav: Nav,
    header: RepoHeader,
    environments: Vec<EnvironmentRow>,
    can_write: bool,
}

/// What the pages show of deployments: run numbers and artifacts, looked
/// up once per run and in one query for all the artifacts.
fn items(
    c: &rusqlite::Connection,
    repo: crate::db::repos::RepoId,
    list: Vec<DeploymentRow>,
    numbers: &mut std::collections::HashMap<crate::db::runs::RunId, Option<i64>>,
) -> Result<Vec<DeploymentItem>> {
    let ids: Vec<environments::DeploymentId> = list.iter().map(|d| d.id).collect();
    let mut artifacts = environments::artifacts_of_many(c, &ids)?;
    list.into_iter()
        .map(|d| {
            let run_number = match numbers.get(&d.run_id) {
                Some(n) => *n,
                None => {
                    let n = runs::by_id(c, repo, d.run_id)?.map(|r| r.run_number.0);
                    numbers.insert(d.run_id, n);
                    n
                }
            };
            let artifacts = artifacts
                .remove(&d.id)
                .unwrap_or_default()
                .iter()
                .map(|(name, sha)| format!("{name} {}", sha.get(..12).unwrap_or(sha)))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(DeploymentItem {
                artifacts,
                redeployable: false,
                state: d.state.as_str(),
                label: d.state.as_str().replace('_', " "),
                when: ago(d.updated_at),
                run_number,
                deployment: d,
            })
        })
        .collect()
}

fn item(c: &rusqlite::Connection, repo: crate::db::repos::RepoId, d: DeploymentRow) -> Result<DeploymentItem> {
    Ok(items(c, repo, vec![d], &mut Default::default())?.remove(0))
}

pub(super) async fn environments_page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
) -> Result<EnvironmentsView> {
    let id = access.repo.id;
    let rows = state
        .db
        .read(move |c| {
            let mut rows = Vec::new();
            let mut numbers = Default::default();
            for e in environments::list(c, id)? {
                let current = environments::current(c, e.id)?;
                let live = current.as_ref().map(|d| d.id);
                let current = match current {
                    Some(d) => items(c, id, vec![d], &mut numbers)?.pop(),
                    None => None,
                };
                let history = items(c, id, environments::history(c, e.id, HISTORY)?, &mut numbers)?
                    .into_iter()
                    .map(|i| DeploymentItem {
                        redeployable: i.deployment.state == crate::state::Deployment::Success
                            && Some(i.deployment.id) != live,
                        ..i
                    })
                    .collect();
                rows.push(EnvironmentRow {
                    reviewers: environments::reviewers(c, e.id)?.into_iter().map(|u| u.name).collect(),
                    patterns: environments::branch_policies(c, e.id)?
                        .into_iter()
                        .map(|p| format!("{} {}", p.kind, p.name))
                        .collect(),
                    wait_timer: e.wait_timer,
                    name: e.name,
                    current,
                    history,
                });
            }
            Ok(rows)
        })
        .await?;
    Ok(EnvironmentsView {
        can_write: access.access >= Access::Write,
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Environments),
        environments: rows,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/deployment.html")]
pub struct DeploymentView {
    nav: Nav,
    header: RepoHeader,
    d: DeploymentItem,
    statuses: Vec<(environments::Status, String)>,
    reviews: Vec<(environments::Review, String)>,
    targets: Vec<(environments::TargetRow, String)>,
}

/// `/{owner}/{repo}/deployments/{id}`: one deployment, its statuses and
/// reviews, and each target of a rolling deploy with its release.
pub(super) async fn deployment_page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path((_, _, id)): Path<(String, String, environments::DeploymentId)>,
) -> Result<DeploymentView> {
    let repo = access.repo.id;
    let found = state
        .db
        .read(move |c| {
            let Some(d) = environments::deployment(c, repo, id)? else {
                return Ok(None);
            };
            let statuses = environments::statuses(c, id)?;
            let reviews = environments::reviews(c, id)?;
            let targets = environments::targets(c, id)?;
            Ok(Some((item(c, repo, d)?, statuses, reviews, targets)))
        })
        .await?;
    let Some((d, statuses, reviews, targets)) = found else {
        return Err(Error::NotFound);
    };
    Ok(DeploymentView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Environments),
        d,
        statuses: statuses
            .into_iter()
            .map(|s| {
                let when = ago(s.created_at);
                (s, when)
            })
            .collect(),
        reviews: reviews
            .into_iter()
            .map(|r| {
                let when = ago(r.created_at);
                (r, when)
            })
            .collect(),
        targets: targets
            .into_iter()
            .map(|t| {
                let label = t.state.as_str().replace('_', " ");
                (t, label)
            })
            .collect(),
    })
}

/// The Redeploy button of an earlier successful deployment: a rollback.
pub(super) async fn redeploy(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path((_, _, id)): Path<(String, String, environments::DeploymentId)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<axum::response::Redirect> {
    let run = state.ci.redeploy(access.repo.id, id).await?;
    Ok(to_run(&access.repo, run.run_number))
}
