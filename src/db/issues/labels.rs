//! Labels: a repository's, and an issue's.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::repos::RepoId;
use crate::error::{Error, Result};
use crate::ids::IssueId;

#[derive(Debug, Clone)]
pub struct Label {
    pub id: i64,
    pub name: String,
    pub color: String,
    pub description: String,
}

pub fn labels(conn: &Connection, repo: RepoId) -> Result<Vec<Label>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, color, description FROM labels WHERE repo_id = ?1 ORDER BY name COLLATE NOCASE",
    )?;
    let rows = stmt.query_map([repo.0], |r| {
        Ok(Label {
            id: r.get(0)?,
            name: r.get(1)?,
            color: r.get(2)?,
            description: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn insert_label(conn: &Connection, repo: RepoId, name: &str, color: &str, description: &str) -> Result<Label> {
    let inserted = conn.execute(
        "INSERT INTO labels (repo_id, name, color, description) VALUES (?1, ?2, ?3, ?4)",
        params![repo.0, name, color, description],
    );
    match inserted {
        Ok(_) => Ok(Label {
            id: conn.last_insert_rowid(),
            name: name.into(),
            color: color.into(),
            description: description.into(),
        }),
        Err(e) if crate::db::is_unique_violation(&e) => {
            Err(Error::Exists(format!("the label {name:?} exists already")))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn delete_label(conn: &Connection, repo: RepoId, name: &str) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM labels WHERE repo_id = ?1 AND name = ?2",
        params![repo.0, name],
    )? > 0)
}

pub fn label_by_name(conn: &Connection, repo: RepoId, name: &str) -> Result<Option<Label>> {
    Ok(conn
        .query_row(
            "SELECT id, name, color, description FROM labels WHERE repo_id = ?1 AND name = ?2",
            params![repo.0, name],
            |r| {
                Ok(Label {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    color: r.get(2)?,
                    description: r.get(3)?,
                })
            },
        )
        .optional()?)
}

pub fn add_label(conn: &Connection, issue: IssueId, label: i64) -> Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO issue_labels (issue_id, label_id) VALUES (?1, ?2)",
        params![issue, label],
    )? > 0)
}

pub fn remove_label(conn: &Connection, issue: IssueId, label: i64) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM issue_labels WHERE issue_id = ?1 AND label_id = ?2",
        params![issue, label],
    )? > 0)
}
