//! `/{owner}/{repo}/settings/branches`: which ways of merging the
//! repository allows, and its protected branch rules. For its admins only.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::db::protections::{self, Protection};
use crate::db::pulls::{self as stored, MergeSettings};
use crate::error::{Error, Result};
use crate::pulls::protect;
use crate::web::access::{Admin, RepoAccess};
use crate::web::accounts::capitalize;
use crate::web::auth::CsrfForm;
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/settings/branches", get(page).post(save_rule))
        .route("/{owner}/{repo}/settings/branches/delete", post(delete_rule))
        .route("/{owner}/{repo}/settings/merges", post(save_merges))
}

#[derive(Template, WebTemplate)]
#[template(path = "repos/branches_settings.html")]
struct Page {
    nav: Nav,
    header: RepoHeader,
    merges: MergeSettings,
    rules: Vec<Protection>,
    error: Option<String>,
}

async fn show(state: &AppState, nav: Nav, access: RepoAccess<Admin>, error: Option<String>) -> Result<Page> {
    let id = access.repo.id;
    let (merges, rules) = state
        .db
        .read(move |c| Ok((stored::merge_settings(c, id)?, protections::list(c, id)?)))
        .await?;
    Ok(Page {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Settings),
        merges,
        rules,
        error,
    })
}

async fn page(State(state): State<AppState>, nav: Nav, access: RepoAccess<Admin>) -> Result<Page> {
    show(&state, nav, access, None).await
}

async fn again(state: &AppState, nav: Nav, access: RepoAccess<Admin>, result: Result<()>) -> Result<Response> {
    let url = format!("{}/settings/branches", access.repo.url());
    match result {
        Ok(()) => Ok(Redirect::to(&url).into_response()),
        Err(e @ (Error::Invalid(_) | Error::Unprocessable(_))) => {
            let status = crate::web::error::status_of(&e);
            let page = show(state, nav, access, Some(capitalize(&e.to_string()))).await?;
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

fn list(text: Option<&String>) -> Vec<String> {
    text.map(|t| {
        t.split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// The rule a settings form describes (checkboxes are present when ticked).
fn rule_of(form: &HashMap<String, String>) -> Result<Protection> {
    let on = |k: &str| form.contains_key(k);
    let approvals = match form
        .get("required_approvals")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    {
        None => 0,
        Some(a) => a
            .parse()
            .map_err(|_| Error::Unprocessable(format!("{a:?} is not a number of approvals")))?,
    };
    Ok(Protection {
        pattern: form.get("pattern").map(|p| p.trim().to_string()).unwrap_or_default(),
        require_checks: on("require_checks"),
        required_checks: list(form.get("required_checks")),
        strict: on("strict"),
        require_reviews: on("require_reviews"),
        required_approvals: approvals,
        dismiss_stale: on("dismiss_stale"),
        restrict_pushes: on("restrict_pushes"),
        push_users: list(form.get("push_users")),
        bypass_users: list(form.get("bypass_users")),
        enforce_admins: on("enforce_admins"),
        allow_force_pushes: on("allow_force_pushes"),
        allow_deletions: on("allow_deletions"),
        ..Default::default()
    })
}

/// Keeps `rule` for the repository, replacing one of the same pattern.
pub async fn keep_rule(state: &AppState, repo: crate::db::repos::RepoId, rule: Protection) -> Result<()> {
    state
        .db
        .write(move |tx| {
            let (push, bypass) = protect::check_rule(tx, &rule)?;
            protections::upsert(tx, repo, &rule, &push, &bypass).map(|_| ())
        })
        .await
}

async fn save_rule(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    let result = match rule_of(&form) {
        Ok(rule) => keep_rule(&state, access.repo.id, rule).await,
        Err(e) => Err(e),
    };
    again(&state, nav, access, result).await
}

async fn delete_rule(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    let (id, pattern) = (access.repo.id, form.get("pattern").cloned().unwrap_or_default());
    let result = state
        .db
        .write(move |tx| match protections::delete(tx, id, &pattern)? {
            true => Ok(()),
            false => Err(Error::NotFound),
        })
        .await;
    again(&state, nav, access, result).await
}

async fn save_merges(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    let s = MergeSettings {
        merge_commit: form.contains_key("merge_commit"),
        squash: form.contains_key("squash"),
        rebase: form.contains_key("rebase"),
        delete_branch: form.contains_key("delete_branch"),
    };
    let id = access.repo.id;
    let result = state
        .db
        .write(move |tx| stored::set_merge_settings(tx, id, s))
        .await
        .map_err(|e| match e {
            Error::Invalid(m) => Error::Unprocessable(m),
            other => other,
        });
    again(&state, nav, access, result).await
}
