//! A push lands once. Whatever moves a repository's refs — a push over
//! HTTP, a pull request merged in the browser or the API, its head branch
//! deleted — hands the result to `landed`, which records the ref updates
//! and then tells each subscriber, in the order of `SUBSCRIBERS`. At
//! start-up, `reconcile` does the same for updates that reached the disk
//! but not the database.
//!
//! The transaction rule: recording the updates in the push log is one
//! transaction, and it is the acknowledgement — once it commits, the push
//! is not lost. Each subscriber then works from the recorded rows in
//! transactions of its own; one that fails is logged and the next still
//! runs. Workflows and webhooks work from rows the log keeps pending until
//! they are handled, so what they miss (a failure, a crash) their loops
//! take up again; issue references and pull requests are told once.

use std::path::Path;
use std::sync::Arc;

use crate::ci::scheduler::Ci;
use crate::data_dir::DataDir;
use crate::db::ref_updates::{self, RefUpdate, Source};
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::db::{self, Db};
use crate::error::Result;
use crate::git::cache::RepoCache;
use crate::git::housekeeping::Housekeeper;
use crate::git::protocol;
use crate::hooks::Hooks;
use crate::ids::{RepoId, UserId};
use crate::pulls::hook;

/// Who is told of landed ref updates, in the order told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscriber {
    /// Commits that reference issues (`#12`), and close them (`fixes #12`).
    IssueReferences,
    /// Open pull requests of a moved branch are looked at again (new head,
    /// merged by this push, base moved).
    PullRequests,
    /// The workflows the push starts (`on: push`, and `pull_request` events
    /// the previous subscriber recorded), queued now so the pusher is told.
    Workflows,
    /// The webhooks' delivery task, which sends `push` and the rest from
    /// the recorded rows.
    Webhooks,
    /// Background `git gc` and the CI loop are woken.
    Housekeeping,
}

pub const SUBSCRIBERS: [Subscriber; 5] = [
    Subscriber::IssueReferences,
    Subscriber::PullRequests,
    Subscriber::Workflows,
    Subscriber::Webhooks,
    Subscriber::Housekeeping,
];

/// The running server's parts that a landed push reaches.
pub struct Server<'a> {
    pub db: &'a Db,
    pub data_dir: &'a DataDir,
    pub code: &'a RepoCache,
    pub housekeeper: &'a Arc<Housekeeper>,
    pub ci: &'a Ci,
    pub hooks: &'a Hooks,
}

/// What moved refs, and who.
pub struct Landing<'a> {
    pub repo: &'a Repo,
    pub path: &'a Path,
    pub pusher: Option<&'a User>,
    /// False for a job token's push, which starts no runs.
    pub starts_ci: bool,
    /// The repository's page address, for what the pusher is told.
    pub base: &'a str,
    /// A push over the protocol, which may have been cut off and left its
    /// quarantine behind (a merge by the server leaves none).
    pub by_protocol: bool,
}

impl<'a> Landing<'a> {
    /// Refs the server moved itself for `pusher` (a merge, a head branch
    /// deleted): they start runs, and no quarantine is left.
    pub fn by_server(repo: &'a Repo, path: &'a Path, pusher: &'a User, base: &'a str) -> Landing<'a> {
        Landing {
            repo,
            path,
            pusher: Some(pusher),
            starts_ci: true,
            base,
            by_protocol: false,
        }
    }
}

/// Notes that `pusher` is about to push to `repo` (so a crash before the
/// push is recorded is attributed to them), and says whether the push
/// must pass the pre-receive hook of protected branches: the hook to run,
/// if the repository has any.
pub async fn begin(
    db: &Db,
    data: &DataDir,
    repo: RepoId,
    pusher: UserId,
    by_job: bool,
) -> Result<Option<protocol::Hook>> {
    let has_rules = db
        .write(move |tx| {
            ref_updates::begin_push(tx, repo, pusher)?;
            db::protections::has_any(tx, repo)
        })
        .await?;
    Ok(has_rules.then(|| protocol::Hook {
        dir: data.hooks(),
        env: [
            (hook::DATA_ENV, data.root().display().to_string()),
            (hook::REPO_ENV, repo.0.to_string()),
            (hook::USER_ENV, pusher.0.to_string()),
        ]
        .into_iter()
        .chain(by_job.then(|| (hook::JOB_ENV, "1".to_string())))
        .collect(),
    }))
}

/// Records what moved and tells each subscriber. Returns what to tell the
/// pusher: the runs queued, and the pull request to open or see for each
/// pushed branch. The caller holds the repository's push lock.
pub async fn landed(server: &Server<'_>, push: &Landing<'_>) -> Vec<String> {
    let (repo, path) = (push.repo, push.path);
    if push.by_protocol {
        // A push cut off midway leaves its quarantine: it goes now, while
        // the lock keeps other pushes out.
        let quarantine = path.to_path_buf();
        match tokio::task::spawn_blocking(move || crate::git::sweep::after_push(&quarantine)).await {
            Ok(removed) if !removed.is_empty() => tracing::info!(
                "removed what a cut-off push left in {}: {}",
                repo.full_name(),
                removed.join(", ")
            ),
            _ => {}
        }
    }
    server.code.invalidate(path);
    let mut messages = Vec::new();
    let rows =
        match crate::repos::record_ref_updates(server.db, repo.id, path.to_path_buf(), Source::Push, push.starts_ci)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(
                    "recording the push to {}: {e} (it is recorded at next start-up)",
                    path.display()
                );
                return messages;
            }
        };
    if rows.is_empty() {
        return messages;
    }
    for subscriber in SUBSCRIBERS {
        match subscriber {
            Subscriber::IssueReferences => link_issues(server.db, repo, path, &rows, push.pusher).await,
            Subscriber::PullRequests => update_pulls(server.db, repo, path, &rows, push.pusher).await,
            Subscriber::Workflows => messages.extend(start_workflows(server, repo, push.base).await),
            Subscriber::Webhooks => server.hooks.wake(),
            Subscriber::Housekeeping => {
                server.housekeeper.after_push(path.to_path_buf());
                server.ci.wake();
            }
        }
    }
    messages.extend(pull_request_hints(server.db, repo, &rows, push.base).await);
    messages
}

/// At start-up: records ref updates that reached the disk but not the
/// database (the server stopped between the two) and tells the
/// subscribers that need telling; workflows and webhooks take the
/// recorded rows up when their loops start.
pub async fn reconcile(db: &Db, data: &DataDir) -> Result<usize> {
    let repos = db.read(db::repos::all).await?;
    let mut found = 0;
    for repo in repos {
        let path = data.repo(&repo.owner, &repo.name);
        if !path.exists() {
            tracing::warn!(
                "repository {}/{} is missing on disk at {}",
                repo.owner,
                repo.name,
                path.display()
            );
            continue;
        }
        let rows = crate::repos::record_ref_updates(db, repo.id, path.clone(), Source::Reconcile, true).await?;
        for row in &rows {
            tracing::info!(
                "recorded {} {}..{} in {}/{} found at start-up",
                row.ref_name,
                row.old_id,
                row.new_id,
                repo.owner,
                repo.name
            );
        }
        found += rows.len();
        if rows.is_empty() {
            continue;
        }
        // The commits of such a push still reference and close their issues,
        // and its pull requests are looked at again (one merged by a merge
        // that was cut short is marked merged).
        link_issues(db, &repo, &path, &rows, None).await;
        update_pulls(db, &repo, &path, &rows, None).await;
    }
    Ok(found)
}

/// `Subscriber::IssueReferences`; a failure is logged.
async fn link_issues(db: &Db, repo: &Repo, path: &Path, rows: &[RefUpdate], pusher: Option<&User>) {
    let pusher = pusher.map(|p| p.id);
    if let Err(e) = crate::issues::refs::link_pushed_commits(db, repo, path, rows.to_vec(), pusher).await {
        tracing::error!("linking pushed commits to issues in {}: {e}", repo.full_name());
    }
}

/// `Subscriber::PullRequests`; a failure is logged.
async fn update_pulls(db: &Db, repo: &Repo, path: &Path, rows: &[RefUpdate], pusher: Option<&User>) {
    let branches: Vec<String> = rows
        .iter()
        .filter_map(|r| r.ref_name.strip_prefix("refs/heads/").map(str::to_string))
        .collect();
    if let Err(e) = crate::pulls::after_push(db, path, repo, &branches, pusher).await {
        tracing::error!("updating the pull requests of {}: {e}", repo.full_name());
    }
}

/// Queues the runs the recorded updates start, and says so.
async fn start_workflows(server: &Server<'_>, repo: &Repo, base: &str) -> Vec<String> {
    match crate::ci::trigger::process_pending(server.db, server.data_dir).await {
        Ok(made) => made
            .iter()
            .filter(|r| r.repo == repo.id)
            .map(|run| {
                let file = run.workflow.rsplit('/').next().unwrap_or(&run.workflow);
                format!(
                    "Hearth: run #{} ({file}) queued → {base}/runs/{}",
                    run.number, run.number
                )
            })
            .collect(),
        Err(e) => {
            tracing::error!("starting the runs of a push to {}: {e}", repo.full_name());
            Vec::new()
        }
    }
}

/// For each pushed branch but the default: its open pull request, or, for
/// a new branch, where to open one.
async fn pull_request_hints(db: &Db, repo: &Repo, rows: &[RefUpdate], base: &str) -> Vec<String> {
    let mut messages = Vec::new();
    for row in rows.iter().filter(|r| r.new_id != ref_updates::ZERO_ID) {
        let Some(branch) = row.ref_name.strip_prefix("refs/heads/") else {
            continue;
        };
        if branch == repo.default_branch {
            continue;
        }
        let (id, b) = (repo.id, branch.to_string());
        let open = db
            .read(move |c| db::pulls::open_from(c, id, &b))
            .await
            .unwrap_or_default();
        match open.first() {
            Some(n) => messages.push(format!("View pull request #{n} for '{branch}': {base}/pulls/{n}")),
            None if row.old_id == ref_updates::ZERO_ID => messages.push(format!(
                "Create a pull request for '{branch}': {base}/pulls/new?head={}",
                crate::github::url_encode(branch)
            )),
            None => {}
        }
    }
    messages
}
