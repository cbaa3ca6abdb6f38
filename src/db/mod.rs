//! SQLite: opening the database, its pragmas, the embedded migrations, and the
//! one place all writes go through. It knows nothing of HTTP or git.
//!
//! Writes are serialised on a single writer connection (one `BEGIN IMMEDIATE`
//! transaction at a time), so requests never race each other for the write
//! lock; `busy_timeout` covers other processes such as `hearth admin`.
//! Reads use a small pool of connections, which WAL lets run beside a write.
//! Both run on tokio's blocking pool, never on the async runtime.

pub mod annotations;
pub mod artifacts;
pub mod collaborators;
pub mod environments;
pub mod hooks;
pub mod issues;
pub mod job_tokens;
pub mod notifications;
pub mod protections;
pub mod pulls;
pub mod ref_updates;
pub mod releases;
pub mod repos;
pub mod runs;
pub mod secrets;
pub mod sessions;
pub mod statuses;
pub mod test_reports;
pub mod tokens;
pub mod users;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

/// The schema, one file per version. Append only: a released file never changes.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_issues.sql"),
    include_str!("migrations/003_issue_versions.sql"),
    include_str!("migrations/004_ci.sql"),
    include_str!("migrations/005_secrets.sql"),
    include_str!("migrations/006_ci_scheduling.sql"),
    include_str!("migrations/007_schedules.sql"),
    include_str!("migrations/008_artifacts.sql"),
    include_str!("migrations/009_environments.sql"),
    include_str!("migrations/010_environment_secrets.sql"),
    include_str!("migrations/011_test_reports.sql"),
    include_str!("migrations/012_deployment_targets.sql"),
    include_str!("migrations/013_releases.sql"),
    include_str!("migrations/014_annotations.sql"),
    include_str!("migrations/015_job_tokens.sql"),
    include_str!("migrations/016_pull_requests.sql"),
    include_str!("migrations/017_webhooks.sql"),
    include_str!("migrations/018_commit_statuses.sql"),
    include_str!("migrations/019_insights.sql"),
    include_str!("migrations/020_notifications.sql"),
    include_str!("migrations/021_comment_index.sql"),
    include_str!("migrations/022_milestone_counts.sql"),
    include_str!("migrations/023_cache_scopes.sql"),
];

/// Readers kept open for reuse; more are opened on demand under load.
const IDLE_READERS: usize = 32;

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `path`.
    /// A database written by a newer Hearth is refused and left untouched.
    pub fn open(path: &Path) -> Result<Db> {
        let mut writer = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        migrate(&mut writer)?;
        Ok(Db {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                path: path.into(),
            }),
        })
    }

    /// Runs `f` with a read connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let db = self.clone();
        crate::error::blocking("database task", move || db.read_blocking(f)).await?
    }

    /// Runs `f` inside one write transaction on the blocking pool; it commits
    /// when `f` returns `Ok` and rolls back otherwise.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> Result<T> + Send + 'static,
    {
        let db = self.clone();
        crate::error::blocking("database task", move || db.write_blocking(f)).await?
    }

    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = crate::sync::lock(&self.inner.readers).pop();
        let conn = match conn {
            Some(c) => c,
            None => connect(&self.inner.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?,
        };
        let result = f(&conn);
        let mut idle = crate::sync::lock(&self.inner.readers);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    pub fn write_blocking<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        // A transaction a panic left open is rolled back when `tx` drops.
        let mut conn = crate::sync::lock(&self.inner.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // Pages run dozens of statements: each is parsed once per connection.
    conn.set_prepared_statement_cache_capacity(256);
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// Brings the schema up to date. `user_version` counts applied migrations.
fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(Error::internal(format!(
            "the database has schema version {version}, but this hearth knows only up to {}; \
             it was written by a newer hearth. Run that version, or restore a backup. The database was not changed.",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        if sql.contains("PRAGMA writable_schema = ON") {
            // Definitions edited in place: every connection, this one
            // too, reads the schema again.
            let version: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
            tx.pragma_update(None, "schema_version", version + 1)?;
            let ok: String = tx.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if ok != "ok" {
                return Err(Error::internal(format!(
                    "migration {} left the database damaged: {ok}",
                    i + 1
                )));
            }
        }
        tx.pragma_update(None, "user_version", i + 1)?;
        tracing::info!("database migrated to schema version {}", i + 1);
    }
    tx.commit()?;
    Ok(())
}

/// True for a UNIQUE constraint failure, so callers can answer 409.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}
