//! A repository's collaborators: list, check, add, remove, permission.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use serde::Deserialize;
use serde_json::{Value, json};

use super::paging::*;
use crate::db;
use crate::db::collaborators::Permission;
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::repos;
use crate::web::AppState;
use crate::web::access::{Admin, RepoAccess, Write};

/// A collaborator (`collaborator`): the person, their `permissions` and
/// `role_name`, and Hearth's `permission` word.
pub(super) fn collaborator_json(site: &crate::github::Site, user: &User, access: crate::repos::Access) -> Value {
    let mut json = crate::github::user(site, user.id.0, &user.name, user.is_admin);
    let (admin, push, pull) = (
        access >= crate::repos::Access::Admin,
        access >= crate::repos::Access::Write,
        access >= crate::repos::Access::Read,
    );
    let role = permission_word(access);
    json["permissions"] = json!({ "admin": admin, "maintain": admin, "push": push, "triage": push, "pull": pull });
    json["role_name"] = json!(role);
    json["permission"] = json!(role);
    json
}

/// GitHub's word for an access level: admin, write, read or none.
pub(super) fn permission_word(access: crate::repos::Access) -> &'static str {
    match access {
        crate::repos::Access::Admin => "admin",
        crate::repos::Access::Write => "write",
        crate::repos::Access::Read => "read",
        crate::repos::Access::None => "none",
    }
}

pub(super) async fn list_collaborators(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Admin>,
    axum::extract::Query(page): axum::extract::Query<Page>,
) -> Result<Response> {
    let site = crate::web::repos::site(&state, &headers);
    let repo = access.repo.clone();
    let all = {
        let site = site.clone();
        state
            .db
            .read(move |c| {
                let mut out = Vec::new();
                for collaborator in db::collaborators::list(c, repo.id)? {
                    if let Some(user) = db::users::by_name(c, &collaborator.name)? {
                        out.push(collaborator_json(&site, &user, repos::access(c, &repo, Some(&user))?));
                    }
                }
                Ok(out)
            })
            .await?
    };
    Ok(page.slice(all, site.base(), &uri)?.into_response())
}

/// The person named `name` and their access to `repo`.
pub(super) async fn access_of(state: &AppState, repo: &Repo, name: String) -> Result<(User, crate::repos::Access)> {
    let repo = repo.clone();
    state
        .db
        .read(move |c| {
            let user = db::users::by_name(c, &name)?.ok_or(Error::NotFound)?;
            let access = repos::access(c, &repo, Some(&user))?;
            Ok((user, access))
        })
        .await
}

/// `GET …/collaborators/{user}`: 204 for someone who may push (as GitHub
/// counts collaborators: the owner too), else 404.
pub(super) async fn is_collaborator(
    State(state): State<AppState>,
    Path((_, _, name)): Path<(String, String, String)>,
    access: RepoAccess<Write>,
) -> Result<StatusCode> {
    let (user, level) = access_of(&state, &access.repo, name).await?;
    let granted = user.id == access.repo.owner_id
        || state
            .db
            .read(move |c| db::collaborators::permission(c, access.repo.id, user.id))
            .await?
            .is_some();
    if granted && level >= crate::repos::Access::Read {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound)
    }
}

/// `GET …/collaborators/{user}/permission`.
pub(super) async fn collaborator_permission(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((_, _, name)): Path<(String, String, String)>,
    access: RepoAccess<Write>,
) -> Result<Json<Value>> {
    let (user, level) = access_of(&state, &access.repo, name).await?;
    let site = crate::web::repos::site(&state, &headers);
    let word = permission_word(level);
    Ok(Json(json!({
        "permission": word,
        "role_name": word,
        "user": collaborator_json(&site, &user, level),
    })))
}

#[derive(Deserialize)]
pub(super) struct PutCollaborator {
    #[serde(default)]
    permission: Option<String>,
}

pub(super) async fn put_collaborator(
    State(state): State<AppState>,
    Path((_, _, user)): Path<(String, String, String)>,
    access: RepoAccess<Admin>,
    body: Option<Json<PutCollaborator>>,
) -> Result<StatusCode> {
    let text = body.and_then(|Json(b)| b.permission).unwrap_or_else(|| "write".into());
    // GitHub's roles, as near as Hearth has them: pull and triage read, push and maintain write.
    let word = match text.as_str() {
        "pull" | "triage" => "read",
        "push" | "maintain" => "write",
        other => other,
    };
    let permission = Permission::parse(word).ok_or_else(|| {
        Error::invalid(format!(
            "permission must be read (pull, triage) or write (push, maintain), not {text:?}: only the owner administers a repository"
        ))
    })?;
    repos::add_collaborator(&state.db, &access.repo, &user, permission).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn delete_collaborator(
    State(state): State<AppState>,
    Path((_, _, user)): Path<(String, String, String)>,
    access: RepoAccess<Admin>,
) -> Result<StatusCode> {
    repos::remove_collaborator(&state.db, &access.repo, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
