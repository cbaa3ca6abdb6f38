//! The job token (`GITHUB_TOKEN`, `secrets.GITHUB_TOKEN`, `github.token`):
//! made when a job starts, for its own repository only, with the scopes
//! its `permissions:` ask for (by default GitHub's: `contents: read`,
//! `packages: read`), acting for whoever started the run. Git over HTTP and
//! the API take it like any token; it stops working when the job ends.
//! What it pushes starts no runs, as on GitHub (no job can set off itself).

use crate::db::repos::Repo;
use crate::db::{self, Db};
use crate::error::Result;
use crate::ids::JobId;
use crate::repos::Access;

use super::workflow::permissions::Permissions;

/// GitHub's prefix of the tokens it gives jobs.
pub const PREFIX: &str = "ghs_";

/// What a job token may do: its repository, and its scopes.
#[derive(Debug, Clone)]
pub struct JobGrant {
    pub job: JobId,
    pub repo: Repo,
    pub permissions: Permissions,
}

/// Makes the token of job `job` of `repo` (good for at most `seconds`);
/// returns it.
pub async fn mint(db: &Db, job: JobId, repo: &Repo, permissions: &Permissions, seconds: u64) -> Result<String> {
    let token = format!("{PREFIX}{}", crate::accounts::new_secret());
    let hash = crate::accounts::sha256_hex(&token);
    let (repo_id, owner, json) = (
        repo.id,
        repo.owner_id,
        serde_json::to_string(&permissions.scopes).unwrap_or_default(),
    );
    let expires = crate::time::now() + seconds as i64 + 60;
    db.write(move |tx| {
        let user = db::job_tokens::actor_of_job(tx, job)?.unwrap_or(owner);
        db::job_tokens::insert(tx, job, &hash, repo_id, user, &json, expires)
    })
    .await?;
    Ok(token)
}

pub async fn revoke(db: &Db, job: JobId) -> Result<()> {
    db.write(move |tx| db::job_tokens::revoke(tx, job)).await
}

/// The person and grant of job token `token`, while its job runs.
pub async fn lookup(db: &Db, token: &str) -> Result<Option<(db::users::User, JobGrant)>> {
    if token.len() > 200 {
        return Ok(None);
    }
    let hash = crate::accounts::sha256_hex(token);
    db.read(move |c| {
        let Some(g) = db::job_tokens::find(c, &hash, crate::time::now())? else {
            return Ok(None);
        };
        let (Some(user), Some(repo)) = (db::users::by_id(c, g.user)?, db::repos::by_id(c, g.repo)?) else {
            return Ok(None);
        };
        let scopes = serde_json::from_str(&g.permissions).unwrap_or_default();
        Ok(Some((
            user,
            JobGrant {
                job: g.job,
                repo,
                permissions: Permissions { scopes },
            },
        )))
    })
    .await
}

impl JobGrant {
    /// `path` (of a request) is about the token's own repository: its
    /// pages, git, or `/api/v1/repos/{owner}/{repo}`. Returns the rest.
    pub fn rest_of<'p>(&self, path: &'p str) -> Option<&'p str> {
        let (owner, name) = (&self.repo.owner, &self.repo.name);
        for prefix in [format!("/api/v1/repos/{owner}/{name}"), format!("/{owner}/{name}")] {
            let Some(head) = path.get(..prefix.len()) else { continue };
            if !head.eq_ignore_ascii_case(&prefix) {
                continue;
            }
            let rest = &path[prefix.len()..];
            let rest = rest.strip_prefix(".git").unwrap_or(rest);
            if rest.is_empty() || rest.starts_with('/') {
                return Some(rest);
            }
        }
        None
    }

    /// The scope a request to `path` (of the token's repository) needs,
    /// and the most it may do there.
    pub fn scope(&self, path: &str) -> (&'static str, Access) {
        let rest = self.rest_of(path).unwrap_or_default();
        let git = ["/info/refs", "/git-upload-pack", "/git-receive-pack"]
            .iter()
            .any(|p| rest.starts_with(p));
        let first = rest.trim_start_matches('/').split('/').next().unwrap_or_default();
        // Secrets and variables are never a job token's, whatever it asked for.
        if rest.split('/').any(|s| s == "secrets" || s == "variables") {
            return ("secrets", Access::None);
        }
        let scope = if git {
            "contents"
        } else {
            match first {
                // The repository itself: what anyone with any scope sees.
                "" => return ("metadata", Access::Read),
                "issues" | "labels" | "milestones" => "issues",
                "pulls" => "pull-requests",
                "actions" | "runs" => "actions",
                "deployments" | "environments" => "deployments",
                "releases" | "contents" | "git" | "tags" | "branches" | "commits" | "compare" | "blob" | "tree"
                | "raw" | "commit" | "docs" => "contents",
                "statuses" => "statuses",
                "check-runs" | "check-suites" => "checks",
                "pages" => "pages",
                "packages" => "packages",
                // Settings, collaborators, hooks, secrets: never a job token's.
                _ => return ("administration", Access::None),
            }
        };
        let most = match self.permissions.scopes.get(scope).map(String::as_str) {
            Some("write") => Access::Write,
            Some("read") => Access::Read,
            _ => Access::None,
        };
        (scope, most)
    }
}
