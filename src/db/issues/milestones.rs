//! Milestones.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::repos::RepoId;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Milestone {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub start_on: Option<String>,
    pub due_on: Option<String>,
    pub state: String,
    pub open_issues: i64,
    pub closed_issues: i64,
    /// Its number in the repository (GitHub's `number`).
    pub number: i64,
    pub created_at: i64,
}

impl Milestone {
    /// Closed issues as a whole percentage of all.
    pub fn percent(&self) -> i64 {
        let total = self.open_issues + self.closed_issues;
        if total == 0 {
            0
        } else {
            self.closed_issues * 100 / total
        }
    }
}

/// A milestone's counts are kept by triggers (migration 022).
pub(super) const MILESTONE_SELECT: &str = "SELECT m.id, m.title, m.description, m.start_on, m.due_on, m.state,
    m.open_issues, m.closed_issues, m.number, m.created_at
    FROM milestones m";

pub(super) fn milestone_from_row(r: &Row) -> rusqlite::Result<Milestone> {
    Ok(Milestone {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        start_on: r.get(3)?,
        due_on: r.get(4)?,
        state: r.get(5)?,
        open_issues: r.get(6)?,
        closed_issues: r.get(7)?,
        number: r.get(8)?,
        created_at: r.get(9)?,
    })
}

pub fn milestones(conn: &Connection, repo: RepoId) -> Result<Vec<Milestone>> {
    let sql = format!(
        "{MILESTONE_SELECT} WHERE m.repo_id = ?1 ORDER BY m.state = 'closed', m.due_on IS NULL, m.due_on, m.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([repo.0], milestone_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn milestone_by_title(conn: &Connection, repo: RepoId, title: &str) -> Result<Option<Milestone>> {
    let sql = format!("{MILESTONE_SELECT} WHERE m.repo_id = ?1 AND m.title = ?2");
    Ok(conn
        .query_row(&sql, params![repo.0, title], milestone_from_row)
        .optional()?)
}

/// Milestone number `number` of `repo` (as GitHub's API addresses them).
pub fn milestone_by_number(conn: &Connection, repo: RepoId, number: i64) -> Result<Option<Milestone>> {
    let sql = format!("{MILESTONE_SELECT} WHERE m.repo_id = ?1 AND m.number = ?2");
    Ok(conn
        .query_row(&sql, params![repo.0, number], milestone_from_row)
        .optional()?)
}

pub fn milestone_by_id(conn: &Connection, repo: RepoId, id: i64) -> Result<Option<Milestone>> {
    let sql = format!("{MILESTONE_SELECT} WHERE m.repo_id = ?1 AND m.id = ?2");
    Ok(conn
        .query_row(&sql, params![repo.0, id], milestone_from_row)
        .optional()?)
}

pub fn insert_milestone(
    conn: &Connection,
    repo: RepoId,
    title: &str,
    description: &str,
    start_on: Option<&str>,
    due_on: Option<&str>,
) -> Result<i64> {
    let inserted = conn.execute(
        "INSERT INTO milestones (repo_id, title, description, start_on, due_on, created_at, number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COALESCE(MAX(number), 0) + 1 FROM milestones WHERE repo_id = ?1))",
        params![repo.0, title, description, start_on, due_on, crate::time::now()],
    );
    match inserted {
        Ok(_) => Ok(conn.last_insert_rowid()),
        Err(e) if crate::db::is_unique_violation(&e) => {
            Err(Error::Exists(format!("the milestone {title:?} exists already")))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn set_milestone_state(conn: &Connection, repo: RepoId, id: i64, state: &str) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE milestones SET state = ?3 WHERE repo_id = ?1 AND id = ?2",
        params![repo.0, id, state],
    )? > 0)
}
