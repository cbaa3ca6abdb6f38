//! Hearth: a self-hosted git forge with CI/CD built in.
//!
//! `serve` is the whole server: the binary calls it with the configured
//! listener, tests call the binary. Dependency direction:
//! `main → cli → web → {repos, accounts} → {db, git} → {config, error}`.

pub mod accounts;
pub mod backup;
pub mod ci;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod git;
pub mod issues;
pub mod markup;
pub mod repos;
pub mod time;
pub mod web;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::{Error, Result};

/// Opens (creating and migrating) the data directory's database. The data
/// directory is the server's alone: mode 0700, its database 0600 (the
/// binary runs with umask 077, so what it creates is too; a directory left
/// by an older version is tightened here).
pub fn open_data_dir(data_dir: &std::path::Path) -> Result<db::Db> {
    use std::os::unix::fs::PermissionsExt;
    let private =
        |path: &std::path::Path, mode: u32| match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::internal(format!(
                "could not make {} private: {e}",
                path.display()
            ))),
            _ => Ok(()),
        };
    std::fs::create_dir_all(data_dir.join("repos")).map_err(|e| {
        Error::internal(format!(
            "could not create the data directory {}: {e}",
            data_dir.display()
        ))
    })?;
    private(data_dir, 0o700)?;
    let db_path = config::db_path(data_dir);
    let db = db::Db::open(&db_path)?;
    private(&data_dir.join("repos"), 0o700)?;
    for file in ["hearth.db", "hearth.db-wal", "hearth.db-shm", "secrets.key"] {
        private(&data_dir.join(file), 0o600)?;
    }
    Ok(db)
}

/// Runs the server on `listener` until SIGINT or SIGTERM.
pub async fn serve(config: Config, listener: TcpListener) -> Result<()> {
    let db = open_data_dir(&config.data_dir)?;
    let git = git::GitCommand::discover()?;
    let found = repos::reconcile(&db, &config.repos_dir()).await?;
    if found > 0 {
        tracing::warn!("recorded {found} ref update(s) that an earlier run had not recorded");
    }
    let keys = ci::secrets::Keyring::open(&config.data_dir)?;
    let sandbox = {
        let (settings, hide) = (config.sandbox.clone(), [config.data_dir.clone(), config.work_dir()]);
        tokio::task::spawn_blocking(move || ci::sandbox::Sandbox::prepare(&settings, &hide))
            .await
            .map_err(|e| Error::internal(format!("preparing the job sandbox: {e}")))??
    };
    match &sandbox {
        ci::sandbox::Sandbox::Bubblewrap(_) => tracing::info!("{}", sandbox.describe()),
        ci::sandbox::Sandbox::Off => tracing::warn!("{} (--ci-sandbox off)", sandbox.describe()),
        ci::sandbox::Sandbox::Broken(_) => tracing::error!("{}", sandbox.describe()),
    }
    tracing::info!(
        "CI limits: {} jobs at once; each job's processes {} MiB of data each (RLIMIT_DATA), {} processes a step,          no core dumps, first for the OOM killer; cgroup limits: none (not set up by this version)",
        config.ci.jobs,
        config.ci.memory_bytes >> 20,
        config.ci.processes
    );
    let ci = ci::scheduler::Ci::new(
        db.clone(),
        config.data_dir.clone(),
        config.work_dir(),
        keys.clone(),
        config.ci,
        sandbox,
    );
    ci.start().await?;
    let state = web::AppState::new(config, db, git, ci, keys);
    let app = web::router(state);
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    // Without TCP_NODELAY the last small write of an answer waits for the
    // client's delayed ACK (40 ms on Linux).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
