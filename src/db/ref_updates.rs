//! The `refs`, `pending_pushes` and `ref_updates` tables: the push log.
//! `record` compares the refs found on disk with the refs last recorded and
//! writes one `ref_updates` row per difference, in the same transaction that
//! moves `refs` forward, so each update is recorded exactly once.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::repos::RepoId;
use super::users::UserId;
use crate::error::Result;

/// The id git uses for "no object": a created ref's old id, a deleted ref's new id.
pub const ZERO_ID: &str = "0000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub id: i64,
    pub ref_name: String,
    pub old_id: String,
    pub new_id: String,
    pub pusher: Option<String>,
    pub pushed_at: i64,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Push,
    Reconcile,
}

/// Notes that `pusher` is about to push to `repo`.
pub fn begin_push(conn: &Connection, repo: RepoId, pusher: UserId) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO pending_pushes (repo_id, pusher_id, started_at) VALUES (?1, ?2, ?3)",
        params![repo.0, pusher.0, crate::time::now()],
    )?;
    Ok(())
}

/// Records every difference between `on_disk` (ref name → object id) and the
/// refs last recorded for `repo`, attributed to the pending push if there is
/// one, and clears it. Returns the new rows.
pub fn record(
    conn: &Connection,
    repo: RepoId,
    on_disk: &BTreeMap<String, String>,
    source: Source,
) -> Result<Vec<RefUpdate>> {
    let pusher: Option<i64> = conn
        .query_row(
            "SELECT pusher_id FROM pending_pushes WHERE repo_id = ?1",
            [repo.0],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    conn.execute("DELETE FROM pending_pushes WHERE repo_id = ?1", [repo.0])?;

    let mut stmt = conn.prepare_cached("SELECT name, target FROM refs WHERE repo_id = ?1")?;
    let recorded: BTreeMap<String, String> = stmt
        .query_map([repo.0], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;

    let mut changes: Vec<(&str, &str, &str)> = Vec::new();
    for (name, new) in on_disk {
        match recorded.get(name) {
            Some(old) if old == new => {}
            Some(old) => changes.push((name, old, new)),
            None => changes.push((name, ZERO_ID, new)),
        }
    }
    for (name, old) in &recorded {
        if !on_disk.contains_key(name) {
            changes.push((name, old, ZERO_ID));
        }
    }

    let source = match source {
        Source::Push => "push",
        Source::Reconcile => "reconcile",
    };
    let now = crate::time::now();
    let mut rows = Vec::with_capacity(changes.len());
    for (name, old, new) in changes {
        conn.execute(
            "INSERT INTO ref_updates (repo_id, ref_name, old_id, new_id, pusher_id, pushed_at, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![repo.0, name, old, new, pusher, now, source],
        )?;
        let id = conn.last_insert_rowid();
        super::hooks::note(conn, repo, "push", None, id, pusher.map(UserId), None)?;
        if new == ZERO_ID {
            conn.execute(
                "DELETE FROM refs WHERE repo_id = ?1 AND name = ?2",
                params![repo.0, name],
            )?;
        } else {
            conn.execute(
                "INSERT INTO refs (repo_id, name, target) VALUES (?1, ?2, ?3)
                 ON CONFLICT (repo_id, name) DO UPDATE SET target = excluded.target",
                params![repo.0, name, new],
            )?;
        }
        rows.push(RefUpdate {
            id,
            ref_name: name.to_string(),
            old_id: old.to_string(),
            new_id: new.to_string(),
            pusher: None,
            pushed_at: now,
            source: source.to_string(),
        });
    }
    Ok(rows)
}

/// The newest updates of a repository, newest first.
pub fn recent(conn: &Connection, repo: RepoId, limit: u32) -> Result<Vec<RefUpdate>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT u.id, u.ref_name, u.old_id, u.new_id, users.name, u.pushed_at, u.source
         FROM ref_updates u LEFT JOIN users ON users.id = u.pusher_id
         WHERE u.repo_id = ?1 ORDER BY u.id DESC LIMIT {limit}"
    ))?;
    let rows = stmt.query_map(params![repo.0], |r| {
        Ok(RefUpdate {
            id: r.get(0)?,
            ref_name: r.get(1)?,
            old_id: r.get(2)?,
            new_id: r.get(3)?,
            pusher: r.get(4)?,
            pushed_at: r.get(5)?,
            source: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many refs were recorded for a repository (0 means it is empty).
pub fn ref_count(conn: &Connection, repo: RepoId) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM refs WHERE repo_id = ?1", [repo.0], |r| r.get(0))?)
}

/// A ref update with the repository it happened in.
#[derive(Debug, Clone)]
pub struct Activity {
    pub owner: String,
    pub repo: String,
    pub update: RefUpdate,
}

/// The newest updates in the repositories `user` owns or collaborates on.
pub fn recent_for_user(conn: &Connection, user: UserId, limit: u32) -> Result<Vec<Activity>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT ou.name, r.name, u.id, u.ref_name, u.old_id, u.new_id, pu.name, u.pushed_at, u.source
         FROM ref_updates u JOIN repos r ON r.id = u.repo_id JOIN users ou ON ou.id = r.owner_id
         LEFT JOIN users pu ON pu.id = u.pusher_id
         WHERE r.owner_id = ?1 OR r.id IN (SELECT repo_id FROM collaborators WHERE user_id = ?1)
         ORDER BY u.id DESC LIMIT {limit}"
    ))?;
    let rows = stmt.query_map(params![user.0], |r| {
        Ok(Activity {
            owner: r.get(0)?,
            repo: r.get(1)?,
            update: RefUpdate {
                id: r.get(2)?,
                ref_name: r.get(3)?,
                old_id: r.get(4)?,
                new_id: r.get(5)?,
                pusher: r.get(6)?,
                pushed_at: r.get(7)?,
                source: r.get(8)?,
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
