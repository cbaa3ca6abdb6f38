//! `/{owner}/{repo}/board`: a milestone's issues in the columns To do,
//! In progress and Done. Moving an issue is a plain form; the move is
//! recorded on its timeline.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::Redirect;
use serde::Deserialize;

use crate::db::issues::{self as stored, Filter, Issue, Milestone};
use crate::error::{Error, Result};
use crate::issues::{self, Change};
use crate::repos::Access;
use crate::web::access::{Read, RepoAccess};
use crate::web::auth::{CsrfForm, SignedIn, url_encode};
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav};

/// Issues shown on one board, at most.
const BOARD_MAX: u32 = 300;

#[derive(Deserialize, Default)]
pub struct BoardQuery {
    milestone: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "issues/board.html")]
pub struct View {
    nav: Nav,
    header: RepoHeader,
    can_write: bool,
    milestones: Vec<Milestone>,
    current: Option<String>,
    columns: Vec<(&'static str, &'static str, Vec<Issue>)>,
}

pub async fn handle(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Query(query): Query<BoardQuery>,
) -> Result<View> {
    let repo_id = access.repo.id;
    let wanted = query.milestone.filter(|m| !m.is_empty());
    let (milestones, current, issues) = state
        .db
        .read(move |c| {
            let milestones = stored::milestones(c, repo_id)?;
            // The board of the requested milestone, else of the first open one.
            let current = wanted.or_else(|| milestones.iter().find(|m| m.state == "open").map(|m| m.title.clone()));
            let filter = Filter {
                kind: stored::Kind::Issues,
                state: "all".into(),
                milestone: current.clone(),
                page: 1,
                per_page: BOARD_MAX,
                ..Default::default()
            };
            let (issues, _) = stored::list(c, repo_id, &filter)?;
            Ok((milestones, current, issues))
        })
        .await?;
    let mut columns = vec![
        ("todo", "To do", Vec::new()),
        ("in_progress", "In progress", Vec::new()),
        ("done", "Done", Vec::new()),
    ];
    for issue in issues {
        // A closed issue is done, whichever column it was left in.
        let column = if issue.state == "closed" {
            "done"
        } else {
            issue.column.as_str()
        };
        if let Some(col) = columns.iter_mut().find(|(key, _, _)| *key == column) {
            col.2.push(issue);
        }
    }
    Ok(View {
        nav,
        can_write: access.access >= Access::Write,
        header: RepoHeader::new(access.repo, access.access, Tab::Issues),
        milestones,
        current,
        columns,
    })
}

#[derive(Deserialize)]
pub struct MoveForm {
    /// A string: forms behind `CsrfForm` are read as text.
    number: String,
    column: String,
    #[serde(default)]
    milestone: String,
}

pub async fn move_issue(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    access: RepoAccess<Read>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Result<Redirect> {
    let number = form
        .number
        .trim()
        .parse()
        .map_err(|_| Error::invalid("not an issue number"))?;
    let change = Change {
        column: Some(form.column),
        ..Default::default()
    };
    issues::update(&state.db, &access.repo, &user, access.access, number, change).await?;
    let mut url = format!("{}/board", access.repo.url());
    if !form.milestone.is_empty() {
        url.push_str(&format!("?milestone={}", url_encode(&form.milestone)));
    }
    Ok(Redirect::to(&url))
}
