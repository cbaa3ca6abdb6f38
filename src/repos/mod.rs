//! Repository rules: valid names, who may read or push, creating a
//! repository (row and bare repository together), and recording pushes.

use std::path::PathBuf;

use crate::data_dir::DataDir;
use crate::db::collaborators::Permission;
use crate::db::ref_updates::{self, RefUpdate, Source};
use crate::db::repos::{Repo, RepoId};
use crate::db::users::User;
use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::git;

/// Names that would hide a page or the API behind a user's profile.
const RESERVED_USER_NAMES: &[&str] = &[
    "admin",
    "api",
    "assets",
    "explore",
    "favicon.ico",
    "healthz",
    "login",
    "logout",
    "metrics",
    "new",
    "register",
    "robots.txt",
    "settings",
    "static",
    "user",
    "users",
];

/// `[A-Za-z0-9][A-Za-z0-9._-]{0,max-1}`: nothing that could be a path
/// component trick (`..`, `/`, NUL, a leading `-` or `.`).
fn valid_name(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// A repository name as it may appear in a URL or on disk: checked before
/// any lookup or file system access.
pub fn is_valid_repo_name(name: &str) -> bool {
    valid_name(name, 100) && !name.to_ascii_lowercase().ends_with(".git")
}

pub fn validate_repo_name(name: &str) -> Result<()> {
    if is_valid_repo_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(
            "a repository name has 1 to 100 letters, digits, '.', '_' or '-', starts with a letter or digit \
             and does not end in .git",
        ))
    }
}

pub fn is_valid_user_name(name: &str) -> bool {
    valid_name(name, 40)
}

pub fn validate_user_name(name: &str) -> Result<()> {
    if !is_valid_user_name(name) {
        return Err(Error::invalid(
            "a user name has 1 to 40 letters, digits, '.', '_' or '-' and starts with a letter or digit",
        ));
    }
    if RESERVED_USER_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(Error::invalid(format!("the name {name:?} is reserved")));
    }
    Ok(())
}

/// What a person may do with a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    None,
    Read,
    Write,
    /// The owner or a site admin: may also change settings.
    Admin,
}

/// The access `viewer` has to `repo`.
pub fn access(conn: &rusqlite::Connection, repo: &Repo, viewer: Option<&User>) -> Result<Access> {
    let public = if repo.is_private { Access::None } else { Access::Read };
    let Some(user) = viewer else { return Ok(public) };
    if user.id == repo.owner_id || user.is_admin {
        return Ok(Access::Admin);
    }
    let granted = match db::collaborators::permission(conn, repo.id, user.id)? {
        Some(Permission::Write) => Access::Write,
        Some(Permission::Read) => Access::Read,
        None => Access::None,
    };
    Ok(granted.max(public))
}

/// Creates the row and the bare repository together: if the repository
/// cannot be created on disk, the row is rolled back.
pub async fn create(
    db: &Db,
    data: &DataDir,
    owner: &User,
    name: &str,
    description: &str,
    private: bool,
) -> Result<Repo> {
    validate_repo_name(name)?;
    let description = description.trim();
    if description.len() > 1000 {
        return Err(Error::invalid("the description is too long (1000 bytes at most)"));
    }
    let (owner, name, description) = (owner.clone(), name.to_string(), description.to_string());
    let path = data.repo(&owner.name, &name);
    db.write(move |tx| {
        let id = db::repos::insert(tx, owner.id, &name, &description, private)?;
        git::init_bare(&path, "main")?;
        Ok(Repo {
            id,
            owner_id: owner.id,
            owner: owner.name,
            name,
            description,
            is_private: private,
            default_branch: "main".into(),
            created_at: crate::time::now(),
        })
    })
    .await
}

/// Records the difference between the refs on disk and the refs last
/// recorded for a repository, exactly once; `starts_ci: false` (a job
/// token's push) marks them as starting no runs, in the same transaction.
pub async fn record_ref_updates(
    db: &Db,
    repo: RepoId,
    path: PathBuf,
    source: Source,
    starts_ci: bool,
) -> Result<Vec<RefUpdate>> {
    db.write(move |tx| {
        let mut on_disk = git::list_refs(&path)?;
        // Pull request refs are the server's own bookkeeping, not pushes.
        on_disk.retain(|name, _| !name.starts_with("refs/pull/"));
        let rows = ref_updates::record(tx, repo, &on_disk, source)?;
        if !starts_ci {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            db::runs::skip_ci(tx, &ids)?;
        }
        Ok(rows)
    })
    .await
}

/// Gives `name` read or write access to `repo`.
pub async fn add_collaborator(db: &Db, repo: &Repo, name: &str, permission: Permission) -> Result<()> {
    let (repo_id, owner_id, name) = (repo.id, repo.owner_id, name.trim().to_string());
    db.write(move |tx| {
        let user =
            db::users::by_name(tx, &name)?.ok_or_else(|| Error::invalid(format!("there is no user named {name:?}")))?;
        if user.id == owner_id {
            return Err(Error::invalid(format!("{} owns this repository already", user.name)));
        }
        db::collaborators::upsert(tx, repo_id, user.id, permission)
    })
    .await
}

/// Takes `name`'s access away, and with it their assignments to the
/// repository's issues (as on GitHub); `NotFound` when they had none.
pub async fn remove_collaborator(db: &Db, repo: &Repo, name: &str) -> Result<()> {
    let (repo_id, name) = (repo.id, name.to_string());
    db.write(move |tx| {
        let user = db::users::by_name(tx, &name)?.ok_or(Error::NotFound)?;
        if db::collaborators::remove(tx, repo_id, user.id)? {
            db::issues::unassign_everywhere(tx, repo_id, user.id)?;
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    })
    .await
}

/// Repositories of `owner` that `viewer` may see.
pub async fn visible_repos(db: &Db, owner: &User, viewer: Option<&User>) -> Result<Vec<Repo>> {
    let (owner_id, viewer) = (owner.id, viewer.cloned());
    db.read(move |c| {
        let mut visible = Vec::new();
        for repo in db::repos::by_owner(c, owner_id)? {
            if access(c, &repo, viewer.as_ref())? >= Access::Read {
                visible.push(repo);
            }
        }
        Ok(visible)
    })
    .await
}
