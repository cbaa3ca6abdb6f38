//! The access check as an extractor: a handler that takes `RepoAccess<Write>`
//! cannot run for someone who may not push. Repository names are validated
//! before any lookup, and a private repository answers exactly like a
//! missing one to anyone who may not read it: 404, except that an anonymous
//! git client is challenged for credentials (401) in both cases, because git
//! sends credentials only after a challenge.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::PathBuf;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::{AppState, Viewer};
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::repos::{self, Access};

pub trait Level: Send + Sync {
    const NEEDS: Access;
}
pub struct Read;
pub struct Write;
pub struct Admin;
impl Level for Read {
    const NEEDS: Access = Access::Read;
}
impl Level for Write {
    const NEEDS: Access = Access::Write;
}
impl Level for Admin {
    const NEEDS: Access = Access::Admin;
}

pub struct RepoAccess<L: Level> {
    pub repo: Repo,
    /// The bare repository on disk.
    pub path: PathBuf,
    pub access: Access,
    pub viewer: Option<User>,
    /// For a job token: the scope this request needs, and the token's level of it.
    pub token_scope: Option<(&'static str, String)>,
    _level: PhantomData<L>,
}

impl<L: Level> FromRequestParts<AppState> for RepoAccess<L> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound)?;
        let (Some(owner), Some(name)) = (params.get("owner"), params.get("repo")) else {
            return Err(Error::NotFound);
        };
        // `/{owner}/{repo}.git/...` and `/{owner}/{repo}/...` are the same.
        let name = name.strip_suffix(".git").unwrap_or(name);
        if !repos::is_valid_user_name(owner) || !repos::is_valid_repo_name(name) {
            return Err(Error::NotFound);
        }
        let Viewer(viewer) = Viewer::from_request_parts(parts, state).await?;
        // To git, a repository it cannot see asks for credentials (missing and
        // private alike), since git only sends them after a 401 challenge.
        let hidden = if viewer.is_none() && is_git_client(parts) {
            Error::Unauthenticated("sign in to continue".into())
        } else {
            Error::NotFound
        };
        let (owner, name, who) = (owner.clone(), name.to_string(), viewer.clone());
        let found = state
            .db
            .read(move |conn| {
                let Some(repo) = crate::db::repos::by_name(conn, &owner, &name)? else {
                    return Ok(None);
                };
                let access = repos::access(conn, &repo, who.as_ref())?;
                Ok(Some((repo, access)))
            })
            .await?;
        let Some((repo, mut access)) = found.filter(|(_, access)| *access >= Access::Read) else {
            return Err(hidden);
        };
        // A job token: no more than its person may, and than its scopes allow.
        let mut token_scope = None;
        if let Some(grant) = parts.extensions.get::<crate::ci::job_token::JobGrant>()
            && viewer.is_some()
        {
            if grant.repo.id != repo.id {
                return Err(hidden);
            }
            let (scope, most) = grant.scope(parts.uri.path());
            access = access.min(most).min(Access::Write);
            let level = match most {
                Access::None => "none",
                Access::Read => "read",
                _ => "write",
            };
            if access == Access::None {
                return Err(Error::Forbidden(format!(
                    "the job token may not do this: it has {scope}: {level} (ask for more with `permissions:` in the workflow)"
                )));
            }
            token_scope = Some((scope, level.to_string()));
        }
        let path = state.config.data_dir.repo(&repo.owner, &repo.name);
        let found = RepoAccess {
            repo,
            path,
            access,
            viewer,
            token_scope,
            _level: PhantomData,
        };
        found.require(L::NEEDS)?;
        Ok(found)
    }
}

/// A git client talking the smart HTTP protocol (git sends `git/2.x`).
fn is_git_client(parts: &Parts) -> bool {
    crate::git::protocol::is_git_path(parts.uri.path())
        && parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ua| ua.starts_with("git/"))
}

impl<L: Level> RepoAccess<L> {
    /// The same access as a reader's: a form that writes shows again the
    /// page that reads.
    pub fn reading(self) -> RepoAccess<Read> {
        RepoAccess {
            repo: self.repo,
            path: self.path,
            access: self.access,
            viewer: self.viewer,
            token_scope: self.token_scope,
            _level: PhantomData,
        }
    }

    /// Checks a level decided at run time (git's `?service=` says whether
    /// a request reads or pushes).
    pub fn require(&self, needs: Access) -> Result<()> {
        if self.access >= needs {
            return Ok(());
        }
        let repo = &self.repo;
        if let Some((scope, level)) = &self.token_scope
            && !(level == "write" || (level == "read" && needs <= Access::Read))
        {
            let wants = if needs >= Access::Write { "write" } else { "read" };
            return Err(Error::Forbidden(format!(
                "the job token has {scope}: {level}; this needs {scope}: {wants} (ask for it with `permissions:` in the workflow)"
            )));
        }
        Err(match (&self.viewer, needs) {
            (None, _) => Error::Unauthenticated("sign in to continue".into()),
            (Some(_), Access::Write) => {
                Error::Forbidden(format!("you may read {}/{} but not push to it", repo.owner, repo.name))
            }
            (Some(_), _) => Error::Forbidden(format!(
                "only the owner of {}/{} may change its settings",
                repo.owner, repo.name
            )),
        })
    }
}
