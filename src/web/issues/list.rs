//! `/{owner}/{repo}/issues`: issues filtered by state, label, milestone,
//! assignee, author and free text, sorted and paginated, with the open and
//! closed counts of the same filter.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use serde::Deserialize;

use std::sync::Arc;

use crate::db::issues::{self as stored, Filter, Issue, Kind, Label, Sort};
use crate::db::repos::Repo;
use crate::error::{Context, Error, Result};
use crate::web::access::{Read, RepoAccess};
use crate::web::auth::url_encode;
use crate::web::code::date;
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav, rfc3339};

pub const PER_PAGE: u32 = 25;

/// The query of the list page and of the API's issue list.
#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    pub state: Option<String>,
    /// Comma-separated label names, all required.
    pub labels: Option<String>,
    pub milestone: Option<String>,
    pub assignee: Option<String>,
    pub author: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

impl ListQuery {
    pub fn filter(&self, default_per_page: u32) -> Result<Filter> {
        let state = self.state.as_deref().filter(|s| !s.is_empty()).unwrap_or("open");
        if !["open", "closed", "all"].contains(&state) {
            return Err(Error::invalid(format!(
                "state must be open, closed or all, not {state:?}"
            )));
        }
        let sort = match self.sort.as_deref().filter(|s| !s.is_empty()) {
            None => Sort::Newest,
            Some(s) => Sort::parse(s).ok_or_else(|| {
                Error::invalid(format!("sort must be newest, oldest, updated or comments, not {s:?}"))
            })?,
        };
        let per_page = self.per_page.unwrap_or(default_per_page);
        if !(1..=100).contains(&per_page) {
            return Err(Error::invalid("per_page must be between 1 and 100"));
        }
        let page = self.page.unwrap_or(1);
        if page == 0 || page > 100_000 {
            return Err(Error::invalid("page must be 1 or more"));
        }
        let some = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let text = some(&self.q);
        if text.as_ref().is_some_and(|t| t.len() > 500) {
            return Err(Error::invalid("the search text is too long (500 bytes at most)"));
        }
        Ok(Filter {
            kind: Kind::Both,
            state: state.to_string(),
            labels: self
                .labels
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            milestone: some(&self.milestone),
            milestone_number: None,
            since: None,
            assignee: some(&self.assignee),
            author: some(&self.author),
            text,
            sort,
            page,
            per_page,
        })
    }
}

pub struct Row {
    pub issue: Issue,
    /// For a pull request: its branches, "open", "merged" or "closed", and whether a draft.
    pub pull: Option<(String, String, &'static str, bool)>,
    /// When it was opened, as a date (shown relative by hearth.js).
    pub opened: String,
    pub datetime: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "issues/list.html")]
pub struct View {
    nav: Nav,
    header: RepoHeader,
    pulls: bool,
    body: Arc<str>,
}

/// The part of the page that is the same for everyone: rendered once per
/// version of the repository's issues and filter, then kept.
#[derive(Template)]
#[template(path = "issues/list_body.html")]
struct Body {
    repo: Repo,
    /// Pull requests (`/pulls`) rather than issues.
    pulls: bool,
    filter: Filter,
    open: i64,
    closed: i64,
    rows: Vec<Row>,
    labels: Vec<Label>,
    milestones: Vec<String>,
    /// The query without `state` and `page`, for the links that change them.
    base_query: String,
    newer: Option<u32>,
    older: Option<u32>,
}

impl Body {
    fn link(&self, state: &str, page: u32) -> String {
        let mut q = format!("?state={state}");
        if !self.base_query.is_empty() {
            q.push('&');
            q.push_str(&self.base_query);
        }
        if page > 1 {
            q.push_str(&format!("&page={page}"));
        }
        q
    }
}

/// The filter as a query string (without state and page), in a fixed order.
fn base_query(filter: &Filter) -> String {
    let mut base = Vec::new();
    for (key, value) in [
        ("labels", filter.labels.join(",")),
        ("milestone", filter.milestone.clone().unwrap_or_default()),
        ("assignee", filter.assignee.clone().unwrap_or_default()),
        ("author", filter.author.clone().unwrap_or_default()),
        ("q", filter.text.clone().unwrap_or_default()),
    ] {
        if !value.is_empty() {
            base.push(format!("{key}={}", url_encode(&value)));
        }
    }
    if filter.sort != Sort::Newest {
        base.push(format!("sort={}", filter.sort.as_str()));
    }
    base.join("&")
}

pub async fn handle(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Query(query): Query<ListQuery>,
) -> Result<View> {
    list(state, nav, access, query, Kind::Issues).await
}

/// `/pulls`: the same list, of pull requests.
pub async fn pulls(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Query(query): Query<ListQuery>,
) -> Result<View> {
    list(state, nav, access, query, Kind::Pulls).await
}

async fn list(state: AppState, nav: Nav, access: RepoAccess<Read>, query: ListQuery, kind: Kind) -> Result<View> {
    let filter = Filter {
        kind,
        ..query.filter(PER_PAGE)?
    };
    let pulls = kind == Kind::Pulls;
    let repo = access.repo.clone();
    let pages = state.pages.clone();
    let body = state
        .db
        .read(move |c| {
            let version = stored::version(c, repo.id)?;
            let base_query = base_query(&filter);
            let key = format!(
                "issues:{}:{pulls}:{version}:{}:{}:{base_query}",
                repo.id.0, filter.state, filter.page
            );
            pages.fragment(key, || {
                let (issues, more) = stored::list(c, repo.id, &filter)?;
                let mut pull_rows: std::collections::HashMap<i64, (String, String, &'static str, bool)> =
                    Default::default();
                if pulls {
                    for p in crate::db::pulls::of_issues(c, issues.clone())? {
                        let word = p.state_word();
                        pull_rows.insert(p.issue.id.0, (p.head_ref, p.base_ref, word, p.draft));
                    }
                }
                let (open, closed) = stored::counts(c, repo.id, &filter)?;
                let (labels, milestones) = (stored::labels(c, repo.id)?, stored::milestone_titles(c, repo.id)?);
                let body = Body {
                    repo,
                    pulls,
                    open,
                    closed,
                    rows: issues
                        .into_iter()
                        .map(|issue| Row {
                            pull: pull_rows.remove(&issue.id.0),
                            opened: date(issue.created_at),
                            datetime: rfc3339(issue.created_at),
                            issue,
                        })
                        .collect(),
                    labels,
                    milestones,
                    base_query,
                    newer: (filter.page > 1).then(|| filter.page - 1),
                    older: more.then(|| filter.page + 1),
                    filter,
                };
                body.render().context("template")
            })
        })
        .await?;
    let tab = if pulls { Tab::Pulls } else { Tab::Issues };
    Ok(View {
        nav,
        header: RepoHeader::new(access.repo, access.access, tab),
        pulls,
        body,
    })
}
