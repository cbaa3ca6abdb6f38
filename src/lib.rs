//! Hearth: a self-hosted git forge with CI/CD built in.
//!
//! `serve` is the whole server: the binary calls it with the configured
//! listener, tests call the binary. The direction of dependencies, top to
//! bottom (a module imports only those below it), is written once in
//! `tests/architecture.rs`, which checks it, and explained in
//! `docs/architecture.md`.

pub mod accounts;
pub mod backup;
pub mod ci;
pub mod cli;
pub mod config;
pub mod data_dir;
pub mod db;
pub mod delivery;
pub mod error;
pub mod git;
pub mod github;
pub mod glob;
pub mod hooks;
pub mod ids;
pub mod insights;
pub mod issues;
pub mod mail;
pub mod markup;
pub mod pulls;
pub mod push;
pub mod report;
pub mod repos;
pub mod state;
pub mod sync;
pub mod time;
pub mod web;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::{Context, Error, Result};

/// Opens (creating and migrating) the data directory's database. The data
/// directory is the server's alone: mode 0700, its database 0600 (the
/// binary runs with umask 077, so what it creates is too; a directory left
/// by an older version is tightened here).
pub fn open_data_dir(data_dir: &data_dir::DataDir) -> Result<db::Db> {
    use std::os::unix::fs::PermissionsExt;
    let private =
        |path: &std::path::Path, mode: u32| match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::failed(format!("could not make {} private", path.display()), e))
            }
            _ => Ok(()),
        };
    std::fs::create_dir_all(data_dir.repos())
        .with_context(|| format!("could not create the data directory {}", data_dir.root().display()))?;
    private(data_dir.root(), 0o700)?;
    let db = db::Db::open(&data_dir.database())?;
    private(&data_dir.repos(), 0o700)?;
    for file in data_dir.database_files().iter().chain([&data_dir.secrets_key()]) {
        private(file, 0o600)?;
    }
    Ok(db)
}

/// Before anything runs git: what an earlier run of the server left half
/// done in the repositories (quarantines, temporary packs, stale locks)
/// goes, each said in the log.
async fn sweep_repositories(db: &db::Db, data: &data_dir::DataDir) -> Result<()> {
    let repos = db.read(db::repos::all).await?;
    let paths: Vec<(String, std::path::PathBuf)> = repos
        .iter()
        .map(|r| (r.full_name(), data.repo(&r.owner, &r.name)))
        .collect();
    let swept = crate::error::blocking("sweeping the repositories", move || {
        paths
            .into_iter()
            .map(|(name, path)| (name, git::sweep::at_start(&path)))
            .filter(|(_, removed)| !removed.is_empty())
            .collect::<Vec<_>>()
    })
    .await?;
    for (name, removed) in swept {
        tracing::warn!(
            "removed what interrupted git work left in {name}: {}",
            removed.join(", ")
        );
    }
    Ok(())
}

/// Runs the server on `listener` until SIGINT or SIGTERM.
pub async fn serve(config: Config, listener: TcpListener) -> Result<()> {
    let db = open_data_dir(&config.data_dir)?;
    let git = git::GitCommand::discover()?;
    sweep_repositories(&db, &config.data_dir).await?;
    let found = push::reconcile(&db, &config.data_dir).await?;
    if found > 0 {
        tracing::warn!("recorded {found} ref update(s) that an earlier run had not recorded");
    }
    let keys = ci::secrets::Keyring::open(&config.data_dir)?;
    // Protected branches are enforced by a pre-receive hook that calls this binary.
    let exe = std::env::current_exe().context("finding this program for the git hooks")?;
    pulls::hook::install(&config.data_dir, &exe)?;
    let sandbox = {
        let (settings, hide) = (
            config.sandbox.clone(),
            [config.data_dir.root().to_path_buf(), config.work_dir()]
                .into_iter()
                .chain(config.sandbox.deploy_dir.clone())
                .collect::<Vec<_>>(),
        );
        crate::error::blocking("preparing the job sandbox", move || {
            ci::sandbox::Sandbox::prepare(&settings, &hide)
        })
        .await??
    };
    match &sandbox {
        ci::sandbox::Sandbox::Bubblewrap(_) => tracing::info!("{}", sandbox.describe()),
        ci::sandbox::Sandbox::Off => tracing::warn!("{} (--ci-sandbox off)", sandbox.describe()),
        ci::sandbox::Sandbox::Broken(_) => tracing::error!("{}", sandbox.describe()),
    }
    let cgroups = {
        let limits = config.ci;
        crate::error::blocking("setting up cgroups for jobs", move || {
            ci::cgroup::Cgroups::set_up(limits.memory_bytes, limits.processes)
        })
        .await?
    };
    tracing::info!(
        "CI limits: {} jobs at once; {} MiB of data per job process (RLIMIT_DATA); {} processes per step; \
         no core dumps; job processes first for the OOM killer; {}",
        config.ci.jobs,
        config.ci.memory_bytes >> 20,
        config.ci.processes,
        cgroups.describe()
    );
    let ci = ci::scheduler::Ci::new(
        db.clone(),
        config.data_dir.clone(),
        config.work_dir(),
        keys.clone(),
        config.ci,
        ci::scheduler::Confinement { sandbox, cgroups },
        ci::scheduler::Outside {
            deploy_dir: config.sandbox.deploy_dir.clone(),
            actions_url: config.actions_url.clone(),
            server_url: server_url(&config, listener.local_addr()?),
            tool_cache: config.tool_cache(),
        },
    );
    ci.start().await?;
    let hooks = hooks::Hooks::new(
        db.clone(),
        keys.clone(),
        config.data_dir.clone(),
        github::Site::new(server_url(&config, listener.local_addr()?)),
        hooks::send::Policy::new(&config.webhook_allow_hosts),
    );
    hooks.start();
    mail::start(&db, config.mail.clone(), server_url(&config, listener.local_addr()?)).await?;
    let config_base_url = config.base_url.clone();
    let state = web::AppState::new(config, db, git, ci, keys, hooks);
    let app = web::router(state);
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() && config_base_url.is_none() {
        tracing::warn!(
            "listening on {addr}, beyond this machine, without --base-url: links and clone URLs follow each \
             request's Host header, which any client may set; give --base-url the address people use"
        );
    }
    tracing::info!("listening on http://{addr}");
    serve_connections(listener, app, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Where jobs on this machine reach the server: `--base-url`, else the
/// address it listens on (loopback for an unspecified one).
fn server_url(config: &Config, addr: std::net::SocketAddr) -> String {
    if let Some(base) = &config.base_url {
        return base.clone();
    }
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, addr.port()))
}

/// Connections served at once; the next waits in the listen queue.
pub const MAX_CONNECTIONS: usize = 1024;
/// Connections one client address (an IPv6 client: its /64) may hold at
/// once; more are answered 429 and closed, so that one address cannot
/// take every place. Loopback is not counted: it is this machine, or a
/// reverse proxy in front of it, which has its own limits.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 128;
/// A request's headers must arrive within this time (else the connection
/// closes), and may total at most `MAX_HEADER_BYTES` (431 above it).
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
pub const MAX_HEADER_BYTES: usize = 16 << 10;
/// A request body that sends nothing for this long fails.
pub const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Accepts connections until `shutdown`, then waits for those open to
/// finish their requests. Each is HTTP/1 with a header timeout and cap, an
/// idle timeout on request bodies,
/// TCP_NODELAY (without it the last small write of an answer waits for
/// the client's delayed ACK, 40 ms on Linux), and the client's address
/// for the handlers (`ConnectInfo`).
async fn serve_connections(listener: TcpListener, app: axum::Router, shutdown: impl std::future::Future<Output = ()>) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let places = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let per_client = PerClient::default();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    tokio::pin!(shutdown);
    loop {
        let place = tokio::select! {
            place = places.clone().acquire_owned() => place.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(held) = per_client.hold(remote.ip()) else {
            // Said without reading the request; a client reads it as its answer.
            let _ = stream.try_write(
                b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            );
            drop(place);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let mut request = request
                .map(|body| axum::body::Body::new(tower_http::timeout::TimeoutBody::new(BODY_IDLE_TIMEOUT, body)));
            request.extensions_mut().insert(axum::extract::ConnectInfo(remote));
            tower::ServiceExt::oneshot(app.clone(), request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop((place, held));
        });
    }
    // Open streams (a live log in a browser) do not hold the server up for long.
    if tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after 10 seconds; closing them");
    }
}

/// How many connections each client address holds.
#[derive(Clone, Default)]
struct PerClient(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>);

/// One connection of a client, counted until dropped.
struct Held(PerClient, Option<std::net::IpAddr>);

impl PerClient {
    /// A place for a connection of `ip`, if it has one left.
    fn hold(&self, ip: std::net::IpAddr) -> Option<Held> {
        let ip = ip.to_canonical();
        if ip.is_loopback() {
            return Some(Held(self.clone(), None));
        }
        // An IPv6 client has its /64.
        let key = match ip {
            std::net::IpAddr::V6(v6) => std::net::IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            v4 => v4,
        };
        let mut counts = crate::sync::lock(&self.0);
        let n = counts.entry(key).or_default();
        if *n >= MAX_CONNECTIONS_PER_CLIENT {
            return None;
        }
        *n += 1;
        Some(Held(self.clone(), Some(key)))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(key) = self.1 else { return };
        let mut counts = crate::sync::lock(&(self.0).0);
        if let Some(n) = counts.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&key);
            }
        }
    }
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
