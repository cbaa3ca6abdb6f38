//! Where actions come from, as Gitea and Forgejo find them: `owner/repo`
//! is first a repository of this server (a team mirrors the actions it
//! uses with a plain `git push`), then, when the server has one, the
//! upstream `--actions-url` (such as `https://github.com`), fetched with
//! git. The tree of the commit a ref resolves to is unpacked once into
//! `data/actions/{commit}` and used from there by every job after.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::data_dir::DataDir;
use crate::db::{self, Db};
use crate::git::GitCommand;

/// How long fetching an action from upstream may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Where a server's (or `hearth ci run`'s) jobs find actions.
pub struct Sources {
    /// This server's repositories; `None` for `hearth ci run`.
    pub server: Option<(Db, DataDir)>,
    /// Unpacked actions, `{commit}/`, and upstream mirrors.
    pub cache: PathBuf,
    /// `--actions-url`, without a trailing slash; `None`: no upstream.
    pub upstream: Option<String>,
    pub git: Option<GitCommand>,
    /// Upstream fetches go one at a time (they share mirrors).
    fetching: tokio::sync::Mutex<()>,
}

/// An action's files, unpacked.
pub struct Fetched {
    /// The repository's tree at `commit`, on this machine.
    pub root: PathBuf,
    pub commit: String,
    /// Where it came from: "this server" or the upstream's URL.
    pub from: String,
}

impl Sources {
    pub fn new(server: Option<(Db, DataDir)>, cache: PathBuf, upstream: Option<String>) -> Sources {
        Sources {
            server,
            cache,
            upstream: upstream
                .map(|u| u.trim().trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
            git: GitCommand::discover().ok(),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// `owner/repo` at `git_ref`, for a job of a repository of
    /// `for_owner` (a private action repository serves only its own
    /// owner's repositories).
    pub async fn fetch(
        &self,
        owner: &str,
        repo: &str,
        git_ref: &str,
        for_owner: Option<db::users::UserId>,
    ) -> Result<Fetched, String> {
        if let Some((db, data_dir)) = &self.server {
            let (o, r) = (owner.to_string(), repo.to_string());
            let found = db
                .read(move |c| db::repos::by_name(c, &o, &r))
                .await
                .map_err(|e| e.to_string())?;
            let visible = found.filter(|a| !a.is_private || for_owner == Some(a.owner_id));
            if let Some(action_repo) = visible {
                let path = data_dir.repo(&action_repo.owner, &action_repo.name);
                let (wanted, cache) = (git_ref.to_string(), self.cache.clone());
                let root = crate::error::blocking("unpacking an action", move || {
                    let commit = resolve_here(&path, &wanted)?;
                    let root = unpack(&path, &commit, &cache)?;
                    Ok::<_, String>((root, commit))
                })
                .await
                .map_err(|e| e.to_string())??;
                return Ok(Fetched {
                    root: root.0,
                    commit: root.1,
                    from: "this server".into(),
                });
            }
        }
        let Some(upstream) = &self.upstream else {
            return Err(match self.server {
                Some(_) => format!(
                    "{owner}/{repo} is not a repository of this server, and it has no upstream for actions \
                     (--actions-url); push a copy of the action to {owner}/{repo} here"
                ),
                None => format!("{owner}/{repo}: `hearth ci run` has no source of actions (HEARTH_ACTIONS_URL)"),
            });
        };
        self.fetch_upstream(upstream, owner, repo, git_ref).await
    }

    async fn fetch_upstream(&self, upstream: &str, owner: &str, repo: &str, git_ref: &str) -> Result<Fetched, String> {
        let url = format!("{upstream}/{owner}/{repo}.git");
        // A commit id unpacked before needs nothing from the network.
        if is_commit_id(git_ref) && self.cache.join(git_ref).is_dir() {
            return Ok(Fetched {
                root: self.cache.join(git_ref),
                commit: git_ref.to_string(),
                from: url,
            });
        }
        let git = self.git.as_ref().ok_or("git is not installed")?;
        let _one_at_a_time = self.fetching.lock().await;
        let mirror = self.cache.join("upstream").join(owner).join(format!("{repo}.git"));
        if !mirror.join("HEAD").exists() {
            let m = mirror.clone();
            crate::error::blocking("creating an action mirror", move || crate::git::init_bare(&m, "main"))
                .await
                .and_then(|r| r)
                .map_err(|e| e.to_string())?;
        }
        let target = "refs/hearth/fetched";
        let mut cmd = git.tokio_command();
        cmd.arg("-C")
            .arg(&mirror)
            .args(["fetch", "--quiet", "--no-tags", "--depth=1", "--", &url])
            .arg(format!("+{git_ref}:{target}"));
        let out = tokio::time::timeout(FETCH_TIMEOUT, cmd.output())
            .await
            .map_err(|_| format!("fetching {url} took longer than {} s", FETCH_TIMEOUT.as_secs()))?
            .map_err(|e| format!("could not run git: {e}"))?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "could not fetch {git_ref} of {url}: {}",
                why.trim().lines().last().unwrap_or("git failed")
            ));
        }
        let (cache, m) = (self.cache.clone(), mirror.clone());
        let root = crate::error::blocking("unpacking an action", move || {
            let repo = crate::git::open(&m).map_err(|e| e.to_string())?;
            let id = repo
                .rev_parse_single(format!("{target}^{{commit}}").as_str())
                .map_err(|e| format!("the fetched ref: {e}"))?
                .detach()
                .to_string();
            let root = unpack(&m, &id, &cache)?;
            Ok::<_, String>((root, id))
        })
        .await
        .map_err(|e| e.to_string())??;
        Ok(Fetched {
            root: root.0,
            commit: root.1,
            from: url,
        })
    }
}

/// The repository `owner/name` of this server, if a job of a repository
/// of `for_owner` may read it: public, or `for_owner`'s own.
pub(crate) async fn visible_repo(
    db: &Db,
    owner: &str,
    name: &str,
    for_owner: Option<db::users::UserId>,
) -> Result<Option<db::repos::Repo>, String> {
    let (o, r) = (owner.to_string(), name.to_string());
    let found = db
        .read(move |c| db::repos::by_name(c, &o, &r))
        .await
        .map_err(|e| e.to_string())?;
    Ok(found.filter(|a| !a.is_private || for_owner == Some(a.owner_id)))
}

fn is_commit_id(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit `wanted` names in the repository at `path`: a tag, a branch
/// (in git's order: tags first), or a full commit id.
pub(crate) fn resolve_here(path: &Path, wanted: &str) -> Result<String, String> {
    let repo = crate::git::open(path).map_err(|e| e.to_string())?;
    let refs = crate::git::read::refs(&repo).map_err(|e| e.to_string())?;
    if let Some(r) = refs
        .iter()
        .find(|r| r.is_tag && r.name == wanted)
        .or_else(|| refs.iter().find(|r| !r.is_tag && r.name == wanted))
    {
        return Ok(r.commit.to_string());
    }
    if is_commit_id(wanted)
        && let Ok(Some(id)) = crate::git::read::commit_by_hex(&repo, wanted)
    {
        return Ok(id.to_string());
    }
    Err(format!("it has no tag, branch or commit {wanted:?}"))
}

/// The tree of `commit` unpacked at `cache/{commit}` (once: later calls
/// find it there), readable by jobs.
fn unpack(repo: &Path, commit: &str, cache: &Path) -> Result<PathBuf, String> {
    let root = cache.join(commit);
    if root.is_dir() {
        return Ok(root);
    }
    let fail = |e: &dyn std::fmt::Display| format!("unpacking {commit}: {e}");
    std::fs::create_dir_all(cache).map_err(|e| fail(&e))?;
    let partial = cache.join(format!(".partial-{commit}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    crate::git::checkout(repo, commit, &partial).map_err(|e| fail(&e))?;
    super::super::executor::open_up(&partial).map_err(|e| fail(&e))?;
    match std::fs::rename(&partial, &root) {
        Ok(()) => Ok(root),
        // Another job unpacked it meanwhile.
        Err(_) if root.is_dir() => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(root)
        }
        Err(e) => Err(fail(&e)),
    }
}
