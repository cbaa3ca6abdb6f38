//! `/`: the start page — a welcome for visitors; for a signed-in user their
//! repositories, the open issues assigned to them and the recent pushes to
//! their repositories — and `/healthz`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::{AppState, Nav, ago};
use crate::db;
use crate::db::issues::Issue;
use crate::db::ref_updates::{Activity, ZERO_ID};
use crate::db::repos::Repo;
use crate::error::Result;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(handle))
        .route("/healthz", get(|| async { "ok" }))
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct View {
    nav: Nav,
    repos: Vec<Repo>,
    shared: Vec<Repo>,
    /// Open issues assigned to the user: (owner, repo, issue, last updated).
    assigned: Vec<(String, String, Issue, String)>,
    activity: Vec<ActivityRow>,
}

pub struct ActivityRow {
    repo: String,
    pusher: String,
    text: String,
    link: Option<String>,
    when: String,
}

fn activity_row(a: Activity) -> ActivityRow {
    let u = a.update;
    let name = u
        .ref_name
        .strip_prefix("refs/heads/")
        .or_else(|| u.ref_name.strip_prefix("refs/tags/"))
        .unwrap_or(&u.ref_name);
    let kind = if u.ref_name.starts_with("refs/tags/") {
        "tag"
    } else {
        "branch"
    };
    let (text, link) = if u.new_id == ZERO_ID {
        (format!("deleted {kind} {name}"), None)
    } else if u.old_id == ZERO_ID {
        (
            format!("created {kind} {name}"),
            Some(format!("/{}/{}/tree/{}", a.owner, a.repo, u.new_id)),
        )
    } else {
        (
            format!("pushed to {name}"),
            Some(format!("/{}/{}/commit/{}", a.owner, a.repo, u.new_id)),
        )
    };
    ActivityRow {
        repo: format!("{}/{}", a.owner, a.repo),
        pusher: u.pusher.unwrap_or_else(|| "someone".into()),
        text,
        link,
        when: ago(u.pushed_at),
    }
}

async fn handle(State(state): State<AppState>, nav: Nav) -> Result<View> {
    let Some(user) = &nav.user else {
        return Ok(View {
            nav,
            repos: Vec::new(),
            shared: Vec::new(),
            assigned: Vec::new(),
            activity: Vec::new(),
        });
    };
    let id = user.id;
    let (repos, shared, assigned, activity) = state
        .db
        .read(move |c| {
            Ok((
                db::repos::by_owner(c, id)?,
                db::repos::shared_with(c, id)?,
                db::issues::assigned_to(c, id, 20)?,
                db::ref_updates::recent_for_user(c, id, 15)?,
            ))
        })
        .await?;
    Ok(View {
        nav,
        repos,
        shared,
        assigned: assigned
            .into_iter()
            .map(|(owner, repo, issue)| {
                let when = ago(issue.updated_at);
                (owner, repo, issue, when)
            })
            .collect(),
        activity: activity.into_iter().map(activity_row).collect(),
    })
}
