//! A repository's webhooks in GitHub's API: `/hooks`, their deliveries,
//! pings and redeliveries. Only the repository's administrators see them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Page;
use super::doc::Api;
use crate::db::hooks::{self as stored, HookId};
use crate::error::{Error, Result};
use crate::hooks::{self, Settings};
use crate::web::AppState;
use crate::web::access::{Admin, RepoAccess};
use crate::web::repos::site;

pub fn routes() -> Api {
    Api::new("webhooks")
        .get("/api/v1/repos/{owner}/{repo}/hooks", "List webhooks", list)
        .post(
            "/api/v1/repos/{owner}/{repo}/hooks",
            "Create a webhook (it is sent a ping)",
            create,
        )
        .get("/api/v1/repos/{owner}/{repo}/hooks/{hook}", "Get a webhook", one)
        .patch("/api/v1/repos/{owner}/{repo}/hooks/{hook}", "Change a webhook", update)
        .delete("/api/v1/repos/{owner}/{repo}/hooks/{hook}", "Delete a webhook", delete)
        .post(
            "/api/v1/repos/{owner}/{repo}/hooks/{hook}/pings",
            "Ping a webhook",
            ping,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/hooks/{hook}/deliveries",
            "List a webhook's deliveries",
            deliveries,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/hooks/{hook}/deliveries/{delivery}",
            "Get a delivery with its request and response",
            delivery,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/hooks/{hook}/deliveries/{delivery}/attempts",
            "Redeliver a delivery",
            redeliver,
        )
}

#[derive(Deserialize)]
struct HookPath {
    hook: HookId,
}

#[derive(Deserialize)]
struct DeliveryPath {
    hook: HookId,
    delivery: i64,
}

/// GitHub's body of a hook: `config` holds where and how.
#[derive(Deserialize, Default)]
struct Body {
    #[serde(default)]
    config: Option<Config>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    add_events: Vec<String>,
    #[serde(default)]
    remove_events: Vec<String>,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Config {
    url: Option<String>,
    content_type: Option<String>,
    secret: Option<String>,
    insecure_ssl: Option<Value>,
}

impl Config {
    fn check_ssl(&self) -> Result<()> {
        match &self.insecure_ssl {
            Some(v) if v == "1" || v == 1 => Err(Error::invalid(
                "insecure_ssl 1 is not offered: deliveries always verify certificates",
            )),
            _ => Ok(()),
        }
    }
}

async fn hook_of(state: &AppState, access: &RepoAccess<Admin>, id: HookId) -> Result<stored::Hook> {
    let repo = access.repo.id;
    state
        .db
        .read(move |c| stored::get(c, repo, id))
        .await?
        .ok_or(Error::NotFound)
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Admin>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    let site = site(&state, &headers);
    let all = hooks::list(&state.db, &access.repo).await?;
    page.slice(
        all.iter()
            .map(|(h, last)| hooks::hook_json(&site, &access.repo, h, last.as_ref()))
            .collect(),
        site.base(),
        &uri,
    )
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Admin>,
    Json(body): Json<Body>,
) -> Result<Response> {
    let config = body.config.unwrap_or_default();
    config.check_ssl()?;
    let url = config
        .url
        .ok_or_else(|| Error::Unprocessable("config.url is required: where to send the deliveries".into()))?;
    let settings = Settings {
        url,
        // GitHub's default for hooks made through the API.
        content_type: config.content_type.unwrap_or_else(|| "form".into()),
        secret: config.secret,
        events: body.events.unwrap_or_else(|| vec!["push".into()]),
        active: body.active.unwrap_or(true),
    };
    let hook = state.hooks.create(&access.repo, settings).await?;
    let site = site(&state, &headers);
    Ok((
        StatusCode::CREATED,
        Json(hooks::hook_json(&site, &access.repo, &hook, None)),
    )
        .into_response())
}

async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Admin>,
    Path(HookPath { hook }): Path<HookPath>,
) -> Result<Json<Value>> {
    let h = hook_of(&state, &access, hook).await?;
    let last = state.db.read(move |c| stored::last_delivery(c, hook)).await?;
    Ok(Json(hooks::hook_json(
        &site(&state, &headers),
        &access.repo,
        &h,
        last.as_ref(),
    )))
}

async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Admin>,
    Path(HookPath { hook }): Path<HookPath>,
    Json(body): Json<Body>,
) -> Result<Json<Value>> {
    let h = hook_of(&state, &access, hook).await?;
    let config = body.config.unwrap_or_default();
    config.check_ssl()?;
    let mut events = body.events.unwrap_or(h.events.clone());
    events.extend(body.add_events);
    events.retain(|e| !body.remove_events.contains(e));
    let settings = Settings {
        url: config.url.unwrap_or(h.url.clone()),
        content_type: config.content_type.unwrap_or(h.content_type.clone()),
        secret: config.secret,
        events,
        active: body.active.unwrap_or(h.active),
    };
    let updated = state.hooks.update(&access.repo, hook, settings).await?;
    Ok(Json(hooks::hook_json(
        &site(&state, &headers),
        &access.repo,
        &updated,
        None,
    )))
}

async fn delete(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path(HookPath { hook }): Path<HookPath>,
) -> Result<StatusCode> {
    hooks::delete(&state.db, &access.repo, hook).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn ping(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path(HookPath { hook }): Path<HookPath>,
) -> Result<StatusCode> {
    let h = hook_of(&state, &access, hook).await?;
    state.hooks.ping(&access.repo, &h).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Admin>,
    Path(HookPath { hook }): Path<HookPath>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    hook_of(&state, &access, hook).await?;
    let (skip, take) = page.window()?;
    let list = state
        .db
        .read(move |c| stored::deliveries(c, hook, take as u32 + 1, skip as u32))
        .await?;
    page.trimmed(
        list.iter()
            .map(|d| hooks::delivery_json(d, &access.repo, None))
            .collect(),
        site(&state, &headers).base(),
        &uri,
    )
}

async fn delivery(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path(DeliveryPath { hook, delivery }): Path<DeliveryPath>,
) -> Result<Json<Value>> {
    hook_of(&state, &access, hook).await?;
    let (d, attempts) = state
        .db
        .read(move |c| {
            let d = stored::delivery(c, hook, delivery)?.ok_or(Error::NotFound)?;
            let attempts = stored::attempts(c, d.id)?;
            Ok((d, attempts))
        })
        .await?;
    Ok(Json(hooks::delivery_json(&d, &access.repo, Some(&attempts))))
}

async fn redeliver(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path(DeliveryPath { hook, delivery }): Path<DeliveryPath>,
) -> Result<Response> {
    hook_of(&state, &access, hook).await?;
    let id = state.hooks.redeliver(hook, delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response())
}
