//! `/{owner}/{repo}/branches` and `/{owner}/{repo}/tags`: each with its last
//! commit and age, newest first; the default branch leads the branches.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use super::{date, url_path, with_repo};
use crate::error::Result;
use crate::git::read;
use crate::web::access::{Read, RepoAccess};
use crate::web::repos::{RepoHeader, Tab};
use crate::web::runs::{CiStatus, statuses};
use crate::web::{AppState, Nav, rfc3339};

pub struct Row {
    ci: Option<CiStatus>,
    name: String,
    url: String,
    is_default: bool,
    commit: String,
    summary: String,
    author: String,
    date: String,
    datetime: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "code/refs.html")]
pub struct View {
    nav: Nav,
    header: RepoHeader,
    tags: bool,
    rows: Vec<Row>,
}

pub async fn branches(state: State<AppState>, nav: Nav, access: RepoAccess<Read>) -> Result<View> {
    list(state, nav, access, false).await
}

pub async fn tags(state: State<AppState>, nav: Nav, access: RepoAccess<Read>) -> Result<View> {
    list(state, nav, access, true).await
}

async fn list(State(state): State<AppState>, nav: Nav, access: RepoAccess<Read>, tags: bool) -> Result<View> {
    let base = access.repo.url();
    let default_branch = access.repo.default_branch.clone();
    let rows = with_repo(&state, &access, move |repo, refs| {
        let mut rows = Vec::new();
        let mut times = Vec::new();
        for r in refs.iter().filter(|r| r.is_tag == tags) {
            let c = read::commit_info(repo, r.commit)?;
            times.push(c.committer.time);
            rows.push(Row {
                ci: None,
                url: format!("{base}/tree/{}", url_path(&r.name)),
                is_default: !tags && r.name == default_branch,
                name: r.name.clone(),
                commit: c.id.to_string(),
                summary: c.summary().to_string(),
                author: c.author.name.clone(),
                date: date(c.committer.time),
                datetime: rfc3339(c.committer.time),
            });
        }
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| (!rows[i].is_default, std::cmp::Reverse(times[i])));
        let mut slots: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
        Ok(order.into_iter().filter_map(|i| slots[i].take()).collect::<Vec<Row>>())
    })
    .await?;
    let (repo_row, shas): (_, Vec<String>) = (
        access.repo.clone(),
        rows.iter().map(|r: &Row| r.commit.clone()).collect(),
    );
    let mut ci = state.db.read(move |c| statuses(c, &repo_row, &shas)).await?;
    let mut rows = rows;
    for row in &mut rows {
        row.ci = ci.remove(&row.commit);
    }
    Ok(View {
        nav,
        header: RepoHeader::new(access.repo, access.access, if tags { Tab::Tags } else { Tab::Branches }),
        tags,
        rows,
    })
}
