//! Releases in GitHub's shapes: `/releases` (list, create), `/releases/{id}`
//! (get, update, delete), `/releases/latest`, `/releases/tags/{tag}`,
//! `/releases/{id}/assets` and `/releases/assets/{id}` (its JSON, or the
//! file itself with `Accept: application/octet-stream`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::doc::Api;
use super::{Page, repo_urls as base};
use crate::db::releases::{self, Asset, AssetId, Fields, Release, ReleaseId};
use crate::error::{Error, Result};
use crate::repos::Access;
use crate::web::access::{Read, RepoAccess, Write};
use crate::web::auth::SignedIn;
use crate::web::{AppState, rfc3339};

pub fn routes() -> Api {
    Api::new("releases")
        .get("/api/v1/repos/{owner}/{repo}/releases", "List releases", list)
        .post("/api/v1/repos/{owner}/{repo}/releases", "Create a release", create)
        .get(
            "/api/v1/repos/{owner}/{repo}/releases/latest",
            "Get the latest release",
            latest,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/releases/tags/{*tag}",
            "Get a release by tag",
            by_tag,
        )
        .get("/api/v1/repos/{owner}/{repo}/releases/{id}", "Get a release", one)
        .patch("/api/v1/repos/{owner}/{repo}/releases/{id}", "Change a release", update)
        .delete("/api/v1/repos/{owner}/{repo}/releases/{id}", "Delete a release", delete)
        .get(
            "/api/v1/repos/{owner}/{repo}/releases/{id}/assets",
            "List a release's assets",
            assets,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/releases/assets/{asset}",
            "Get an asset (Accept: application/octet-stream downloads it)",
            asset,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/releases/assets/{asset}",
            "Delete an asset",
            delete_asset,
        )
}

/// GitHub's opaque global ids: a kind and the number, in base64.
fn node_id(kind: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{kind}_{id}"))
}

fn person(name: &Option<String>) -> Value {
    match name {
        Some(n) => json!({ "login": n, "type": "User" }),
        None => Value::Null,
    }
}

fn asset_json((html, api): &(String, String), tag: &str, a: &Asset) -> Value {
    json!({
        "url": format!("{api}/releases/assets/{}", a.id),
        "browser_download_url": format!("{html}/releases/download/{}/{}",
            crate::web::auth::url_encode(tag), crate::web::auth::url_encode(&a.name)),
        "id": a.id.0,
        "node_id": node_id("RA", a.id.0),
        "name": a.name,
        "label": a.label,
        "state": "uploaded",
        "content_type": a.content_type,
        "size": a.size,
        "digest": format!("sha256:{}", a.sha256),
        "download_count": a.download_count,
        "created_at": rfc3339(a.created_at),
        "updated_at": rfc3339(a.created_at),
        "uploader": person(&a.uploader),
    })
}

fn release_json(base: &(String, String), r: &Release, assets: &[Asset]) -> Value {
    let (html, api) = base;
    let tag = crate::web::auth::url_encode(&r.tag_name);
    json!({
        "url": format!("{api}/releases/{}", r.id),
        "html_url": format!("{html}/releases/tag/{tag}"),
        "assets_url": format!("{api}/releases/{}/assets", r.id),
        "upload_url": format!("{api}/releases/{}/assets{{?name,label}}", r.id),
        "tarball_url": Value::Null,
        "zipball_url": Value::Null,
        "id": r.id.0,
        "node_id": node_id("RE", r.id.0),
        "tag_name": r.tag_name,
        "target_commitish": r.target_commitish,
        "name": r.name,
        "body": r.body,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.published_at.unwrap_or(r.created_at)),
        "published_at": r.published_at.map(rfc3339),
        "immutable": false,
        "author": person(&r.author),
        "assets": assets.iter().map(|a| asset_json(base, &r.tag_name, a)).collect::<Vec<_>>(),
    })
}

/// Drafts are seen by those who may push only, as on GitHub.
fn sees_drafts(access: Access) -> bool {
    access >= Access::Write
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    let (offset, limit) = page.window()?;
    let (repo, drafts) = (access.repo.id, sees_drafts(access.access));
    let list = state
        .db
        .read(move |c| {
            releases::list(c, repo, drafts, limit as u32 + 1, offset as u32)?
                .into_iter()
                .map(|r| {
                    let assets = releases::assets(c, r.id)?;
                    Ok((r, assets))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let urls = base(&state, &headers, &access.repo);
    page.trimmed(
        list.iter().map(|(r, a)| release_json(&urls, r, a)).collect(),
        crate::web::repos::site(&state, &headers).base(),
        &uri,
    )
}

/// A release of the repository, with its assets; drafts only for writers.
async fn found(
    state: &AppState,
    access: &RepoAccess<Read>,
    pick: impl FnOnce(&rusqlite::Connection, crate::db::repos::RepoId) -> Result<Option<Release>> + Send + 'static,
) -> Result<(Release, Vec<Asset>)> {
    let (repo, drafts) = (access.repo.id, sees_drafts(access.access));
    state
        .db
        .read(move |c| {
            let r = pick(c, repo)?.filter(|r| drafts || !r.draft).ok_or(Error::NotFound)?;
            let assets = releases::assets(c, r.id)?;
            Ok((r, assets))
        })
        .await
}

async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, id)): Path<(String, String, ReleaseId)>,
) -> Result<Json<Value>> {
    let (r, a) = found(&state, &access, move |c, repo| releases::by_id(c, repo, id)).await?;
    Ok(Json(release_json(&base(&state, &headers, &access.repo), &r, &a)))
}

async fn latest(State(state): State<AppState>, headers: HeaderMap, access: RepoAccess<Read>) -> Result<Json<Value>> {
    let (r, a) = found(&state, &access, releases::latest).await?;
    Ok(Json(release_json(&base(&state, &headers, &access.repo), &r, &a)))
}

async fn by_tag(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, tag)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    let (r, a) = found(&state, &access, move |c, repo| releases::by_tag(c, repo, &tag)).await?;
    Ok(Json(release_json(&base(&state, &headers, &access.repo), &r, &a)))
}

#[derive(Deserialize)]
struct NewRelease {
    tag_name: String,
    name: Option<String>,
    body: Option<String>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
}

fn checked(name: Option<String>, body: Option<String>, tag: &str, draft: bool, prerelease: bool) -> Result<Fields> {
    let body = body.unwrap_or_default();
    if body.len() > crate::ci::publish::MAX_BODY_BYTES {
        return Err(Error::TooLarge(format!(
            "the release notes are longer than {} KiB",
            crate::ci::publish::MAX_BODY_BYTES >> 10
        )));
    }
    let name = name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| tag.to_string());
    if name.chars().count() > 200 {
        return Err(Error::invalid("a release name has at most 200 characters"));
    }
    Ok(Fields {
        name,
        body,
        draft,
        prerelease,
    })
}

/// `POST /releases`: the release of a tag the repository has.
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(user): SignedIn,
    access: RepoAccess<Write>,
    Json(body): Json<NewRelease>,
) -> Result<Response> {
    let tag = body.tag_name.trim().trim_start_matches("refs/tags/").to_string();
    let fields = checked(body.name, body.body, &tag, body.draft, body.prerelease)?;
    let (cache, path, wanted) = (state.code.clone(), access.path.clone(), tag.clone());
    let commit = crate::error::blocking("reading tags", move || {
        let repo = cache.repo(&path)?;
        let refs = cache.refs(&path, &repo)?;
        Ok::<_, Error>(
            refs.iter()
                .find(|r| r.is_tag && r.name == wanted)
                .map(|r| r.commit.to_string()),
        )
    })
    .await??
    .ok_or_else(|| {
        Error::invalid(format!(
            "the repository has no tag {tag:?}: push it first (git push origin {tag})"
        ))
    })?;
    let repo = access.repo.id;
    let made = state
        .db
        .write(move |tx| releases::create(tx, repo, &tag, &commit, &fields, Some(user.id), None))
        .await?;
    let json = release_json(&base(&state, &headers, &access.repo), &made, &[]);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

#[derive(Deserialize)]
struct Change {
    name: Option<String>,
    body: Option<String>,
    draft: Option<bool>,
    prerelease: Option<bool>,
}

async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Write>,
    Path((_, _, id)): Path<(String, String, ReleaseId)>,
    Json(change): Json<Change>,
) -> Result<Json<Value>> {
    let repo = access.repo.id;
    let (r, a) = state
        .db
        .write(move |tx| {
            let r = releases::by_id(tx, repo, id)?.ok_or(Error::NotFound)?;
            let fields = checked(
                change.name.or(Some(r.name.clone())),
                change.body.or(Some(r.body.clone())),
                &r.tag_name,
                change.draft.unwrap_or(r.draft),
                change.prerelease.unwrap_or(r.prerelease),
            )?;
            releases::update(tx, id, &fields)?;
            let r = releases::by_id(tx, repo, id)?.ok_or(Error::NotFound)?;
            let a = releases::assets(tx, id)?;
            Ok((r, a))
        })
        .await?;
    Ok(Json(release_json(&base(&state, &headers, &access.repo), &r, &a)))
}

async fn delete(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path((_, _, id)): Path<(String, String, ReleaseId)>,
) -> Result<StatusCode> {
    let repo = access.repo.id;
    state
        .db
        .write(move |tx| {
            releases::by_id(tx, repo, id)?.ok_or(Error::NotFound)?;
            releases::delete(tx, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn assets(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Path((_, _, id)): Path<(String, String, ReleaseId)>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    let (r, a) = found(&state, &access, move |c, repo| releases::by_id(c, repo, id)).await?;
    let urls = base(&state, &headers, &access.repo);
    page.slice(
        a.iter().map(|a| asset_json(&urls, &r.tag_name, a)).collect(),
        crate::web::repos::site(&state, &headers).base(),
        &uri,
    )
}

/// An asset's JSON; its bytes when asked with `Accept: application/octet-stream`.
async fn asset(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, id)): Path<(String, String, AssetId)>,
) -> Result<Response> {
    let (repo, drafts) = (access.repo.id, sees_drafts(access.access));
    let (r, a) = state
        .db
        .read(move |c| {
            let a = releases::asset(c, repo, id)?.ok_or(Error::NotFound)?;
            let r = releases::by_id(c, repo, a.release_id)?
                .filter(|r| drafts || !r.draft)
                .ok_or(Error::NotFound)?;
            Ok((r, a))
        })
        .await?;
    let wants_bytes = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/octet-stream"));
    if wants_bytes {
        return download(&state, &a).await;
    }
    Ok(Json(asset_json(&base(&state, &headers, &access.repo), &r.tag_name, &a)).into_response())
}

async fn delete_asset(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path((_, _, id)): Path<(String, String, AssetId)>,
) -> Result<StatusCode> {
    let repo = access.repo.id;
    state
        .db
        .write(move |tx| {
            releases::asset(tx, repo, id)?.ok_or(Error::NotFound)?;
            releases::delete_asset(tx, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An asset's bytes, streamed from the store, counted as a download.
pub async fn download(state: &AppState, a: &Asset) -> Result<Response> {
    use axum::http::header;
    let file = tokio::fs::File::open(state.config.data_dir.artifacts().join(&a.sha256))
        .await
        .map_err(|_| Error::NotFound)?;
    let id = a.id;
    state.db.write(move |tx| releases::downloaded(tx, id)).await?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let safe: String = a
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, a.content_type.clone()),
            (header::CONTENT_LENGTH, a.size.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{safe}\"")),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response())
}
