//! Comments on issues.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::repos::RepoId;
use crate::db::users::UserId;
use crate::error::Result;
use crate::ids::{IssueId, IssueNumber};

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: i64,
    pub author: String,
    pub author_id: UserId,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The comments of `issue` whose ids are in `ids`, oldest first.
pub fn comments_among(conn: &Connection, issue: IssueId, ids: &[i64]) -> Result<Vec<Comment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, u.name, c.author_id, c.body, c.created_at, c.updated_at FROM comments c
         JOIN users u ON u.id = c.author_id
         WHERE c.issue_id = ?1 AND c.id IN (SELECT value FROM json_each(?2)) ORDER BY c.id",
    )?;
    let rows = stmt.query_map(params![issue, json_ids(ids)], comment_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Counts the issue's comments again (the index of their text is kept by
/// the triggers of schema 21, one comment at a time).
pub(super) fn recount_comments(conn: &Connection, issue: IssueId) -> Result<()> {
    conn.execute(
        "UPDATE issues SET comments = (SELECT count(*) FROM comments WHERE issue_id = ?1), updated_at = ?2 WHERE id = ?1",
        params![issue, crate::time::now()],
    )?;
    Ok(())
}

pub fn add_comment(conn: &Connection, issue: IssueId, author: UserId, body: &str) -> Result<i64> {
    let now = crate::time::now();
    conn.execute(
        "INSERT INTO comments (issue_id, author_id, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![issue, author.0, body, now],
    )?;
    let id = conn.last_insert_rowid();
    recount_comments(conn, issue)?;
    Ok(id)
}

pub fn comment(conn: &Connection, issue: IssueId, id: i64) -> Result<Option<Comment>> {
    Ok(conn
        .query_row(
            "SELECT c.id, u.name, c.author_id, c.body, c.created_at, c.updated_at FROM comments c
             JOIN users u ON u.id = c.author_id WHERE c.issue_id = ?1 AND c.id = ?2",
            params![issue, id],
            comment_from_row,
        )
        .optional()?)
}

/// The number of the issue of `repo` that comment `id` belongs to.
pub fn number_of_comment(conn: &Connection, repo: RepoId, id: i64) -> Result<Option<IssueNumber>> {
    Ok(conn
        .query_row(
            "SELECT i.number FROM comments c JOIN issues i ON i.id = c.issue_id WHERE c.id = ?1 AND i.repo_id = ?2",
            params![id, repo.0],
            |r| r.get(0),
        )
        .optional()?)
}

pub(super) fn comment_from_row(r: &Row) -> rusqlite::Result<Comment> {
    Ok(Comment {
        id: r.get(0)?,
        author: r.get(1)?,
        author_id: UserId(r.get(2)?),
        body: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

/// Comments `offset..offset+limit` of `issue`, oldest first.
pub fn comments(conn: &Connection, issue: IssueId, limit: u32, offset: u32) -> Result<Vec<Comment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, u.name, c.author_id, c.body, c.created_at, c.updated_at FROM comments c
         JOIN users u ON u.id = c.author_id WHERE c.issue_id = ?1 ORDER BY c.id LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![issue, limit, offset], comment_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn edit_comment(conn: &Connection, issue: IssueId, id: i64, body: &str) -> Result<()> {
    conn.execute(
        "UPDATE comments SET body = ?3, updated_at = ?4 WHERE issue_id = ?1 AND id = ?2",
        params![issue, id, body, crate::time::now()],
    )?;
    recount_comments(conn, issue)
}

pub fn delete_comment(conn: &Connection, issue: IssueId, id: i64) -> Result<()> {
    conn.execute(
        "DELETE FROM comments WHERE issue_id = ?1 AND id = ?2",
        params![issue, id],
    )?;
    recount_comments(conn, issue)
}

/// Row ids as a JSON array, for `IN (SELECT value FROM json_each(?))`.
pub(super) fn json_ids(ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("[{}]", list.join(","))
}
