//! `/notifications`: the signed-in person's threads, read and unread, the
//! repositories they watch, and the Watch button of a repository. The
//! bell in every page's header counts the unread ones (`Nav::unread`).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::access::{Read, RepoAccess};
use super::auth::{CsrfForm, NoFields, SignedIn};
use super::{AppState, Nav, ago};
use crate::db;
use crate::db::notifications::{Filter, Reason, Thread, ThreadId};
use crate::error::{Error, Result};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/read", post(read_all))
        .route("/notifications/{id}/read", post(read_one))
        .route("/notifications/{id}/done", post(done))
        .route("/{owner}/{repo}/subscription", post(watch))
}

/// Threads shown on one page.
const PER_PAGE: u32 = 50;

struct Row {
    id: i64,
    repo: String,
    href: String,
    kind: &'static str,
    number: i64,
    title: String,
    why: &'static str,
    detail: String,
    when: String,
    unread: bool,
}

impl Row {
    fn of(t: Thread) -> Row {
        Row {
            id: t.id.0,
            repo: format!("{}/{}", t.owner, t.repo),
            href: t.path(),
            kind: match t.subject_type.as_str() {
                "Issue" => "Issue",
                "PullRequest" => "Pull request",
                _ => "Run",
            },
            number: t.subject_number,
            why: Reason::explain(&t.reason),
            title: t.title,
            detail: t.detail,
            when: ago(t.updated_at),
            unread: t.unread,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "notifications/list.html")]
struct View {
    nav: Nav,
    rows: Vec<Row>,
    /// Which list this is: `unread`, `participating` or `all`.
    showing: &'static str,
    total: usize,
    prev: Option<String>,
    next: Option<String>,
    watched: Vec<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    show: Option<String>,
    #[serde(default)]
    page: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<View> {
    let showing = match q.show.as_deref() {
        None | Some("" | "unread") => "unread",
        Some("participating") => "participating",
        Some("all") => "all",
        Some(other) => {
            return Err(Error::Unprocessable(format!(
                "show is unread, participating or all, not {other:?}"
            )));
        }
    };
    let filter = Filter {
        all: showing != "unread",
        participating: showing == "participating",
        ..Filter::default()
    };
    let page = q.page.unwrap_or(1).clamp(1, 10_000);
    let id = user.id;
    let ((threads, total), watched) = state
        .db
        .read(move |c| {
            let threads = db::notifications::list(c, id, &filter, PER_PAGE, (page - 1) * PER_PAGE)?;
            let watched = db::notifications::watched(c, id)?
                .into_iter()
                .filter_map(|r| db::repos::by_id(c, r).transpose())
                .map(|r| r.map(|r| r.full_name()))
                .collect::<Result<Vec<_>>>()?;
            Ok((threads, watched))
        })
        .await?;
    let at = |n: u32| format!("/notifications?show={showing}&page={n}");
    Ok(View {
        nav,
        rows: threads.into_iter().map(Row::of).collect(),
        showing,
        total,
        prev: (page > 1).then(|| at(page - 1)),
        next: ((page * PER_PAGE) < total as u32).then(|| at(page + 1)),
        watched,
    })
}

async fn read_all(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Redirect> {
    let (id, now) = (user.id, crate::time::now());
    state
        .db
        .write(move |tx| db::notifications::mark_all_read(tx, id, None, now))
        .await?;
    Ok(Redirect::to("/notifications"))
}

async fn read_one(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(thread): Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Redirect> {
    on_thread(&state, &user, thread, db::notifications::mark_read).await?;
    Ok(Redirect::to("/notifications"))
}

async fn done(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(thread): Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Redirect> {
    on_thread(&state, &user, thread, db::notifications::remove).await?;
    Ok(Redirect::to("/notifications?show=all"))
}

/// Does `change` to thread `thread` of `user`: 404 when it is not theirs.
async fn on_thread(
    state: &AppState,
    user: &crate::db::users::User,
    thread: i64,
    change: fn(&rusqlite::Connection, crate::db::users::UserId, ThreadId) -> Result<bool>,
) -> Result<()> {
    let id = user.id;
    if state.db.write(move |tx| change(tx, id, ThreadId(thread))).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

#[derive(Deserialize)]
struct WatchForm {
    #[serde(default)]
    watch: String,
}

/// The Watch / Unwatch button of a repository's page.
async fn watch(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    access: RepoAccess<Read>,
    CsrfForm(form): CsrfForm<WatchForm>,
) -> Result<Response> {
    let on = match form.watch.as_str() {
        "1" => true,
        "0" => false,
        other => return Err(Error::invalid(format!("watch is 1 or 0, not {other:?}"))),
    };
    let (id, repo) = (user.id, access.repo.id);
    state
        .db
        .write(move |tx| db::notifications::set_watching(tx, id, repo, on))
        .await?;
    Ok(Redirect::to(&access.repo.url()).into_response())
}
