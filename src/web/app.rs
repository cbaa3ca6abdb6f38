//! What every handler shares: the server's state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::ci::scheduler::Ci;
use crate::config::Config;
use crate::db::Db;
use crate::db::repos::RepoId;
use crate::git::GitCommand;
use crate::git::cache::RepoCache;
use crate::git::housekeeping::Housekeeper;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub git: GitCommand,
    pub housekeeper: Arc<Housekeeper>,
    /// Open repositories and their refs.
    pub code: Arc<RepoCache>,
    /// Rendered fragments of pages reached through a commit id.
    pub pages: Arc<super::page_cache::PageCache>,
    /// The CI loop, woken after each push.
    pub ci: Arc<Ci>,
    /// Seals and opens repository secrets.
    pub keys: crate::ci::secrets::Keyring,
    /// Password hashing and the limits on failed sign-ins.
    pub passwords: Arc<crate::accounts::Passwords>,
    /// Webhooks and their delivery task.
    pub hooks: crate::hooks::Hooks,
    /// What `/metrics` counts.
    pub metrics: Arc<super::metrics::Metrics>,
    push_locks: Arc<Mutex<HashMap<RepoId, Arc<tokio::sync::Mutex<()>>>>>,
}

impl AppState {
    pub fn new(
        config: Config,
        db: Db,
        git: GitCommand,
        ci: Arc<Ci>,
        keys: crate::ci::secrets::Keyring,
        hooks: crate::hooks::Hooks,
    ) -> AppState {
        let housekeeper = Housekeeper::new(git.clone());
        AppState {
            config: Arc::new(config),
            db,
            git,
            housekeeper,
            code: Default::default(),
            pages: Default::default(),
            ci,
            keys,
            passwords: Default::default(),
            hooks,
            metrics: Default::default(),
            push_locks: Default::default(),
        }
    }

    /// The lock that serialises pushes to one repository, so each ref update
    /// is attributed to the push that made it.
    pub(super) fn push_lock(&self, repo: RepoId) -> Arc<tokio::sync::Mutex<()>> {
        crate::sync::lock(&self.push_locks).entry(repo).or_default().clone()
    }

    /// What a landed push reaches (`push::landed`).
    pub(super) fn push_server(&self) -> crate::push::Server<'_> {
        crate::push::Server {
            db: &self.db,
            data_dir: &self.config.data_dir,
            code: &self.code,
            housekeeper: &self.housekeeper,
            ci: &self.ci,
            hooks: &self.hooks,
        }
    }

    /// After a pull request was opened, reopened or retargeted: the runs
    /// its event starts are made, and the CI loop woken.
    pub(super) async fn ci_after_change(&self, repo: &crate::db::repos::Repo) {
        if let Err(e) = crate::ci::trigger::process_pending(&self.db, &self.config.data_dir).await {
            tracing::error!("starting the runs of a pull request of {}: {e}", repo.full_name());
        }
        self.ci.wake();
    }
}
