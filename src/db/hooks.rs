//! The `hooks`, `hook_deliveries` and `hook_attempts` tables: a
//! repository's webhooks and the durable queue of what they are sent.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::repos::RepoId;
use super::users::UserId;
use crate::error::Result;

crate::ids::integer_id!(
    /// A webhook.
    HookId
);

#[derive(Debug, Clone)]
pub struct Hook {
    pub id: HookId,
    pub repo_id: RepoId,
    pub url: String,
    /// `json` or `form` (GitHub's `content_type`).
    pub content_type: String,
    pub secret_nonce: Vec<u8>,
    pub secret: Vec<u8>,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Hook {
    pub fn has_secret(&self) -> bool {
        !self.secret_nonce.is_empty()
    }

    /// It asked for every event (`*`).
    pub fn wants_all(&self) -> bool {
        self.events.iter().any(|e| e == "*")
    }

    /// Whether `event` is sent to this hook (`*` is every event; `ping`
    /// always is).
    pub fn wants(&self, event: &str) -> bool {
        event == "ping" || self.events.iter().any(|e| e == "*" || e == event)
    }
}

/// What a hook is set to: its address, format, events and whether it is on.
pub struct Settings<'a> {
    pub url: &'a str,
    pub content_type: &'a str,
    pub events: &'a [String],
    pub active: bool,
}

const HOOK: &str =
    "SELECT id, repo_id, url, content_type, secret_nonce, secret, events, active, created_at, updated_at FROM hooks";

fn hook_from_row(r: &Row) -> rusqlite::Result<Hook> {
    let events: String = r.get(6)?;
    Ok(Hook {
        id: HookId(r.get(0)?),
        repo_id: RepoId(r.get(1)?),
        url: r.get(2)?,
        content_type: r.get(3)?,
        secret_nonce: r.get(4)?,
        secret: r.get(5)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        active: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

pub fn insert(conn: &Connection, repo: RepoId, settings: &Settings) -> Result<HookId> {
    let now = crate::time::now();
    conn.execute(
        "INSERT INTO hooks (repo_id, url, content_type, events, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![
            repo.0,
            settings.url,
            settings.content_type,
            serde_json::Value::from(settings.events.to_vec()).to_string(),
            settings.active,
            now
        ],
    )?;
    Ok(HookId(conn.last_insert_rowid()))
}

pub fn update(conn: &Connection, id: HookId, settings: &Settings) -> Result<()> {
    conn.execute(
        "UPDATE hooks SET url = ?2, content_type = ?3, events = ?4, active = ?5, updated_at = ?6 WHERE id = ?1",
        params![
            id.0,
            settings.url,
            settings.content_type,
            serde_json::Value::from(settings.events.to_vec()).to_string(),
            settings.active,
            crate::time::now()
        ],
    )?;
    Ok(())
}

/// Sets the sealed secret; empty `nonce` and `sealed` remove it.
pub fn set_secret(conn: &Connection, id: HookId, nonce: &[u8], sealed: &[u8]) -> Result<()> {
    conn.execute(
        "UPDATE hooks SET secret_nonce = ?2, secret = ?3 WHERE id = ?1",
        params![id.0, nonce, sealed],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, repo: RepoId, id: HookId) -> Result<bool> {
    Ok(conn.execute("DELETE FROM hooks WHERE id = ?1 AND repo_id = ?2", params![id, repo.0])? > 0)
}

pub fn list(conn: &Connection, repo: RepoId) -> Result<Vec<Hook>> {
    let mut stmt = conn.prepare_cached(&format!("{HOOK} WHERE repo_id = ?1 ORDER BY id"))?;
    let rows = stmt.query_map([repo.0], hook_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn get(conn: &Connection, repo: RepoId, id: HookId) -> Result<Option<Hook>> {
    let mut stmt = conn.prepare_cached(&format!("{HOOK} WHERE id = ?1 AND repo_id = ?2"))?;
    Ok(stmt.query_row(params![id, repo.0], hook_from_row).optional()?)
}

pub fn by_id(conn: &Connection, id: HookId) -> Result<Option<Hook>> {
    let mut stmt = conn.prepare_cached(&format!("{HOOK} WHERE id = ?1"))?;
    Ok(stmt.query_row([id.0], hook_from_row).optional()?)
}

/// The active hooks of `repo` that want `event`: a cheap question asked
/// before a payload is built.
pub fn subscribed(conn: &Connection, repo: RepoId, event: &str) -> Result<Vec<HookId>> {
    Ok(list(conn, repo)?
        .into_iter()
        .filter(|h| h.active && h.wants(event))
        .map(|h| h.id)
        .collect())
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub hook_id: HookId,
    pub guid: String,
    pub event: String,
    pub action: Option<String>,
    pub payload: String,
    pub redelivery: bool,
    pub created_at: i64,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub status_code: Option<i64>,
    pub status: String,
    pub duration_ms: Option<i64>,
    pub delivered_at: Option<i64>,
}

const DELIVERY: &str = "SELECT id, hook_id, guid, event, action, payload, redelivery, created_at, state, attempts,
    next_attempt_at, status_code, status, duration_ms, delivered_at FROM hook_deliveries";

fn delivery_from_row(r: &Row) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        hook_id: HookId(r.get(1)?),
        guid: r.get(2)?,
        event: r.get(3)?,
        action: r.get(4)?,
        payload: r.get(5)?,
        redelivery: r.get(6)?,
        created_at: r.get(7)?,
        state: r.get(8)?,
        attempts: r.get(9)?,
        next_attempt_at: r.get(10)?,
        status_code: r.get(11)?,
        status: r.get(12)?,
        duration_ms: r.get(13)?,
        delivered_at: r.get(14)?,
    })
}

/// Queues one delivery of `payload` to `hook`, due now. Returns its id.
pub fn enqueue(
    conn: &Connection,
    hook: HookId,
    guid: &str,
    event: &str,
    action: Option<&str>,
    payload: &str,
    redelivery: bool,
) -> Result<i64> {
    let now = crate::time::now();
    conn.execute(
        "INSERT INTO hook_deliveries (hook_id, guid, event, action, payload, redelivery, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![hook, guid, event, action, payload, redelivery, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Deliveries whose next attempt is due at `now`, oldest first.
pub fn due(conn: &Connection, now: i64, limit: u32) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{DELIVERY} WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT {limit}"
    ))?;
    let rows = stmt.query_map([now], delivery_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// When the next delivery is due, if any is.
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT MIN(next_attempt_at) FROM hook_deliveries WHERE next_attempt_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

pub fn delivery(conn: &Connection, hook: HookId, id: i64) -> Result<Option<Delivery>> {
    let mut stmt = conn.prepare_cached(&format!("{DELIVERY} WHERE id = ?1 AND hook_id = ?2"))?;
    Ok(stmt.query_row(params![id, hook.0], delivery_from_row).optional()?)
}

/// A hook's deliveries, newest first.
pub fn deliveries(conn: &Connection, hook: HookId, limit: u32, offset: u32) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{DELIVERY} WHERE hook_id = ?1 ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
    ))?;
    let rows = stmt.query_map([hook.0], delivery_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn count_deliveries(conn: &Connection, hook: HookId) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM hook_deliveries WHERE hook_id = ?1",
        [hook.0],
        |r| r.get(0),
    )?)
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub attempt: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: String,
    pub request_headers: String,
    pub response_headers: String,
    pub response_body: String,
}

pub fn attempts(conn: &Connection, delivery: i64) -> Result<Vec<Attempt>> {
    let mut stmt = conn.prepare_cached(
        "SELECT attempt, started_at, duration_ms, status_code, error, request_headers, response_headers, response_body
         FROM hook_attempts WHERE delivery_id = ?1 ORDER BY attempt",
    )?;
    let rows = stmt.query_map([delivery], |r| {
        Ok(Attempt {
            attempt: r.get(0)?,
            started_at: r.get(1)?,
            duration_ms: r.get(2)?,
            status_code: r.get(3)?,
            error: r.get(4)?,
            request_headers: r.get(5)?,
            response_headers: r.get(6)?,
            response_body: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records an attempt of `delivery` and what follows from it: delivered,
/// due again at `retry_at`, or failed for good.
pub fn record_attempt(conn: &Connection, delivery: i64, a: &Attempt, retry_at: Option<i64>) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO hook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error,
             request_headers, response_headers, response_body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            delivery,
            a.attempt,
            a.started_at,
            a.duration_ms,
            a.status_code,
            a.error,
            a.request_headers,
            a.response_headers,
            a.response_body
        ],
    )?;
    let ok = a.error.is_empty() && a.status_code.is_some_and(|c| (200..300).contains(&c));
    let state = match (ok, retry_at) {
        (true, _) => "delivered",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    let status = if ok { "OK".to_string() } else { a.error.clone() };
    conn.execute(
        "UPDATE hook_deliveries SET state = ?2, attempts = ?3, next_attempt_at = ?4, status_code = ?5, status = ?6,
             duration_ms = ?7, delivered_at = ?8 WHERE id = ?1",
        params![
            delivery,
            state,
            a.attempt,
            if ok { None } else { retry_at },
            a.status_code,
            status,
            a.duration_ms,
            a.started_at
        ],
    )?;
    Ok(())
}

/// The last answer a hook had, for its `last_response`.
pub fn last_delivery(conn: &Connection, hook: HookId) -> Result<Option<Delivery>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{DELIVERY} WHERE hook_id = ?1 AND attempts > 0 ORDER BY id DESC LIMIT 1"
    ))?;
    Ok(stmt.query_row([hook.0], delivery_from_row).optional()?)
}

/// Forgets deliveries older than `before` (GitHub keeps them for 30 days).
pub fn prune(conn: &Connection, before: i64) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM hook_deliveries WHERE created_at < ?1 AND next_attempt_at IS NULL",
        [before],
    )?)
}

/// Something that happened in a repository, to be announced to its hooks.
#[derive(Debug, Clone)]
pub struct Noted {
    pub id: i64,
    pub repo_id: RepoId,
    pub event: String,
    pub action: Option<String>,
    pub subject: i64,
    pub sender_id: Option<UserId>,
    pub extra: serde_json::Value,
    pub created_at: i64,
}

/// Notes that `event` (`action`) happened to `subject` in `repo`, when the
/// repository has an active hook; in the caller's transaction, so it is
/// announced exactly when what it tells of was kept.
pub fn note(
    conn: &Connection,
    repo: RepoId,
    event: &str,
    action: Option<&str>,
    subject: i64,
    sender: Option<UserId>,
    extra: Option<&serde_json::Value>,
) -> Result<()> {
    let hooked: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM hooks WHERE repo_id = ?1 AND active = 1)")?
        .query_row([repo.0], |r| r.get(0))?;
    if hooked {
        conn.prepare_cached(
            "INSERT INTO hook_events (repo_id, event, action, subject, sender_id, extra, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            repo.0,
            event,
            action,
            subject,
            sender.map(|s| s.0),
            extra.map_or_else(|| "{}".to_string(), |e| e.to_string()),
            crate::time::now()
        ])?;
    }
    Ok(())
}

/// The oldest events not yet turned into deliveries.
pub fn noted(conn: &Connection, limit: u32) -> Result<Vec<Noted>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, repo_id, event, action, subject, sender_id, extra, created_at FROM hook_events ORDER BY id LIMIT {limit}"
    ))?;
    let rows = stmt.query_map([], |r| {
        let extra: String = r.get(6)?;
        Ok(Noted {
            id: r.get(0)?,
            repo_id: RepoId(r.get(1)?),
            event: r.get(2)?,
            action: r.get(3)?,
            subject: r.get(4)?,
            sender_id: r.get::<_, Option<i64>>(5)?.map(UserId),
            extra: serde_json::from_str(&extra).unwrap_or_default(),
            created_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn forget_noted(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM hook_events WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}
