//! The `secrets` table: sealed values, never read back as text here.

use rusqlite::{Connection, params};

use super::repos::RepoId;
use crate::error::Result;

pub struct Sealed {
    pub name: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub updated_at: i64,
}

/// Stores a secret; true when it was new.
pub fn put(conn: &Connection, repo: RepoId, name: &str, nonce: &[u8], ciphertext: &[u8]) -> Result<bool> {
    let existed: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM secrets WHERE repo_id = ?1 AND name = ?2)",
        params![repo.0, name],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO secrets (repo_id, name, nonce, ciphertext, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (repo_id, name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext,
             updated_at = excluded.updated_at",
        params![repo.0, name, nonce, ciphertext, crate::time::now()],
    )?;
    Ok(!existed)
}

pub fn delete(conn: &Connection, repo: RepoId, name: &str) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM secrets WHERE repo_id = ?1 AND name = ?2",
        params![repo.0, name],
    )? > 0)
}

pub fn all(conn: &Connection, repo: RepoId) -> Result<Vec<Sealed>> {
    let mut stmt =
        conn.prepare("SELECT name, nonce, ciphertext, updated_at FROM secrets WHERE repo_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map([repo.0], sealed_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A row of (name, nonce, ciphertext, updated_at): repository and
/// environment secrets alike.
pub(crate) fn sealed_from_row(r: &rusqlite::Row) -> rusqlite::Result<Sealed> {
    Ok(Sealed {
        name: r.get(0)?,
        nonce: r.get(1)?,
        ciphertext: r.get(2)?,
        updated_at: r.get(3)?,
    })
}
