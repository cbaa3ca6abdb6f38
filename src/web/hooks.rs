//! `/{owner}/{repo}/settings/hooks`: a repository's webhooks, their recent
//! deliveries with what was sent and what came back, ping and Redeliver.
//! For the repository's admins only.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::db::hooks::{self as stored, Attempt, Delivery, Hook, HookId};
use crate::error::{Error, Result};
use crate::hooks::{self, EVENTS, Settings};
use crate::web::access::{Admin, RepoAccess};
use crate::web::accounts::capitalize;
use crate::web::auth::CsrfForm;
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav, ago};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/settings/hooks", get(list).post(create))
        .route("/{owner}/{repo}/settings/hooks/{hook}", get(one).post(update))
        .route("/{owner}/{repo}/settings/hooks/{hook}/delete", post(delete))
        .route("/{owner}/{repo}/settings/hooks/{hook}/ping", post(ping))
        .route(
            "/{owner}/{repo}/settings/hooks/{hook}/deliveries/{delivery}",
            get(delivery),
        )
        .route(
            "/{owner}/{repo}/settings/hooks/{hook}/deliveries/{delivery}/redeliver",
            post(redeliver),
        )
}

/// Deliveries shown on a hook's page.
const RECENT: u32 = 50;

#[derive(Deserialize)]
struct HookPath {
    hook: HookId,
}

#[derive(Deserialize)]
struct DeliveryPath {
    hook: HookId,
    delivery: i64,
}

/// A delivery as a row of the list.
struct Row {
    id: i64,
    what: String,
    ok: bool,
    status: String,
    when: String,
    attempts: i64,
    redelivery: bool,
}

impl Row {
    fn of(d: &Delivery) -> Row {
        Row {
            id: d.id,
            what: hooks::summary(d),
            ok: d.state == "delivered",
            status: match (d.state.as_str(), d.attempts) {
                ("delivered", _) => format!("{} OK", d.status_code.unwrap_or(200)),
                ("pending", 0) => "queued".into(),
                ("pending", _) => format!("{} · will try again", d.status),
                _ => d.status.clone(),
            },
            when: ago(d.created_at),
            attempts: d.attempts,
            redelivery: d.redelivery,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "repos/hooks.html")]
struct ListPage {
    nav: Nav,
    header: RepoHeader,
    hooks: Vec<(Hook, Option<Row>)>,
    events: &'static [&'static str],
    error: Option<String>,
    url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "repos/hook.html")]
struct HookPage {
    nav: Nav,
    header: RepoHeader,
    hook: Hook,
    events: &'static [&'static str],
    deliveries: Vec<Row>,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "repos/hook_delivery.html")]
struct DeliveryPage {
    nav: Nav,
    header: RepoHeader,
    hook: Hook,
    row: Row,
    guid: String,
    request_headers: Vec<(String, String)>,
    payload: String,
    attempts: Vec<(Attempt, Vec<(String, String)>)>,
}

fn headers(text: &str) -> Vec<(String, String)> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap_or_default();
    map.into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// The settings a form describes: ticked events, or all of them.
fn settings_of(form: &HashMap<String, String>, keep_secret: bool) -> Settings {
    let events: Vec<String> = if form.get("which").map(String::as_str) == Some("all") {
        vec!["*".into()]
    } else {
        EVENTS
            .iter()
            .filter(|e| form.contains_key(&format!("event_{e}")))
            .map(|e| e.to_string())
            .collect()
    };
    let secret = form.get("secret").cloned().unwrap_or_default();
    Settings {
        url: form.get("url").cloned().unwrap_or_default(),
        content_type: form.get("content_type").cloned().unwrap_or_else(|| "json".into()),
        // An edit leaves the secret as it was unless a new one is typed.
        secret: if keep_secret && secret.is_empty() && !form.contains_key("clear_secret") {
            None
        } else {
            Some(secret)
        },
        events,
        active: form.contains_key("active"),
    }
}

async fn show_list(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Admin>,
    error: Option<String>,
    url: String,
) -> Result<ListPage> {
    let all = hooks::list(&state.db, &access.repo).await?;
    Ok(ListPage {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Settings),
        hooks: all.into_iter().map(|(h, d)| (h, d.as_ref().map(Row::of))).collect(),
        events: EVENTS,
        error,
        url,
    })
}

async fn list(State(state): State<AppState>, nav: Nav, access: RepoAccess<Admin>) -> Result<ListPage> {
    show_list(&state, nav, access, None, String::new()).await
}

/// A refused form shows again with the reason and the status it deserves.
fn refused(e: &Error) -> Option<(axum::http::StatusCode, String)> {
    match e {
        Error::Invalid(_) | Error::Unprocessable(_) => {
            Some((crate::web::error::status_of(e), capitalize(&e.to_string())))
        }
        _ => None,
    }
}

async fn create(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    let settings = settings_of(&form, false);
    match state.hooks.create(&access.repo, settings.clone()).await {
        Ok(hook) => Ok(Redirect::to(&format!("{}/settings/hooks/{}", access.repo.url(), hook.id)).into_response()),
        Err(e) => match refused(&e) {
            Some((status, message)) => Ok((
                status,
                show_list(&state, nav, access, Some(message), settings.url).await?,
            )
                .into_response()),
            None => Err(e),
        },
    }
}

async fn show_hook(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Admin>,
    id: HookId,
    error: Option<String>,
) -> Result<HookPage> {
    let repo = access.repo.id;
    let (hook, deliveries) = state
        .db
        .read(move |c| {
            let hook = stored::get(c, repo, id)?.ok_or(Error::NotFound)?;
            let deliveries = stored::deliveries(c, id, RECENT, 0)?;
            Ok((hook, deliveries))
        })
        .await?;
    Ok(HookPage {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Settings),
        hook,
        events: EVENTS,
        deliveries: deliveries.iter().map(Row::of).collect(),
        error,
    })
}

async fn one(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    Path(HookPath { hook }): Path<HookPath>,
) -> Result<HookPage> {
    show_hook(&state, nav, access, hook, None).await
}

async fn update(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    Path(HookPath { hook }): Path<HookPath>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    match state.hooks.update(&access.repo, hook, settings_of(&form, true)).await {
        Ok(_) => Ok(Redirect::to(&format!("{}/settings/hooks/{hook}", access.repo.url())).into_response()),
        Err(e) => match refused(&e) {
            Some((status, message)) => {
                Ok((status, show_hook(&state, nav, access, hook, Some(message)).await?).into_response())
            }
            None => Err(e),
        },
    }
}

async fn delete(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path(HookPath { hook }): Path<HookPath>,
    CsrfForm(_): CsrfForm<HashMap<String, String>>,
) -> Result<Redirect> {
    hooks::delete(&state.db, &access.repo, hook).await?;
    Ok(Redirect::to(&format!("{}/settings/hooks", access.repo.url())))
}

async fn ping(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path(HookPath { hook }): Path<HookPath>,
    CsrfForm(_): CsrfForm<HashMap<String, String>>,
) -> Result<Redirect> {
    let repo = access.repo.id;
    let h = state
        .db
        .read(move |c| stored::get(c, repo, hook))
        .await?
        .ok_or(Error::NotFound)?;
    state.hooks.ping(&access.repo, &h).await?;
    Ok(Redirect::to(&format!("{}/settings/hooks/{hook}", access.repo.url())))
}

async fn delivery(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    Path(DeliveryPath { hook, delivery }): Path<DeliveryPath>,
) -> Result<DeliveryPage> {
    let repo = access.repo.id;
    let (h, d, attempts) = state
        .db
        .read(move |c| {
            let h = stored::get(c, repo, hook)?.ok_or(Error::NotFound)?;
            let d = stored::delivery(c, hook, delivery)?.ok_or(Error::NotFound)?;
            let attempts = stored::attempts(c, d.id)?;
            Ok((h, d, attempts))
        })
        .await?;
    let payload = serde_json::from_str::<serde_json::Value>(&d.payload)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| d.payload.clone());
    Ok(DeliveryPage {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Settings),
        hook: h,
        row: Row::of(&d),
        guid: d.guid.clone(),
        request_headers: attempts.last().map(|a| headers(&a.request_headers)).unwrap_or_default(),
        payload,
        attempts: attempts
            .into_iter()
            .map(|a| {
                let h = headers(&a.response_headers);
                (a, h)
            })
            .collect(),
    })
}

async fn redeliver(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path(DeliveryPath { hook, delivery }): Path<DeliveryPath>,
    CsrfForm(_): CsrfForm<HashMap<String, String>>,
) -> Result<Redirect> {
    let repo = access.repo.id;
    state
        .db
        .read(move |c| stored::get(c, repo, hook))
        .await?
        .ok_or(Error::NotFound)?;
    state.hooks.redeliver(hook, delivery).await?;
    Ok(Redirect::to(&format!("{}/settings/hooks/{hook}", access.repo.url())))
}
