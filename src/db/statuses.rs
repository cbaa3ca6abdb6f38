//! The `commit_statuses` table: what outside systems said of a commit,
//! one row per status they posted, a context's newest counting.

use rusqlite::{Connection, Row, params};

use super::repos::RepoId;
use super::users::UserId;
use crate::error::Result;

/// Statuses one commit may have (GitHub's limit, per commit and context).
pub const MAX_PER_COMMIT: i64 = 1000;

/// GitHub's states of a commit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Error,
    Failure,
    Pending,
    Success,
}

impl State {
    pub const ALL: [State; 4] = [State::Error, State::Failure, State::Pending, State::Success];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Error => "error",
            State::Failure => "failure",
            State::Pending => "pending",
            State::Success => "success",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The state of several contexts together, as GitHub combines them:
    /// failure if any failed or erred, pending if any is pending (or none
    /// was said), else success.
    pub fn combine(states: impl IntoIterator<Item = State>) -> State {
        let mut seen = false;
        let mut pending = false;
        for s in states {
            seen = true;
            match s {
                State::Error | State::Failure => return State::Failure,
                State::Pending => pending = true,
                State::Success => {}
            }
        }
        if pending || !seen {
            State::Pending
        } else {
            State::Success
        }
    }
}

#[derive(Debug, Clone)]
pub struct Status {
    pub id: i64,
    pub sha: String,
    pub state: State,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub creator: Option<String>,
    pub created_at: i64,
}

/// One status, by id.
pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Status>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(&format!("{SELECT} WHERE s.id = ?1"), [id], from_row)
        .optional()?)
}

const SELECT: &str = "SELECT s.id, s.sha, s.state, s.context, s.description, s.target_url, u.name, s.created_at
    FROM commit_statuses s LEFT JOIN users u ON u.id = s.creator_id";

fn from_row(r: &Row) -> rusqlite::Result<Status> {
    let state: String = r.get(2)?;
    Ok(Status {
        id: r.get(0)?,
        sha: r.get(1)?,
        state: State::parse(&state).unwrap_or(State::Error),
        context: r.get(3)?,
        description: r.get(4)?,
        target_url: r.get(5)?,
        creator: r.get(6)?,
        created_at: r.get(7)?,
    })
}

pub struct New<'a> {
    pub sha: &'a str,
    pub state: State,
    pub context: &'a str,
    pub description: Option<&'a str>,
    pub target_url: Option<&'a str>,
    pub creator: UserId,
}

/// Keeps a status; `None` when the commit has `MAX_PER_COMMIT` already.
pub fn insert(conn: &Connection, repo: RepoId, s: &New) -> Result<Option<Status>> {
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM commit_statuses WHERE repo_id = ?1 AND sha = ?2",
        params![repo.0, s.sha],
        |r| r.get(0),
    )?;
    if count >= MAX_PER_COMMIT {
        return Ok(None);
    }
    conn.execute(
        "INSERT INTO commit_statuses (repo_id, sha, state, context, description, target_url, creator_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            repo.0,
            s.sha,
            s.state.as_str(),
            s.context,
            s.description,
            s.target_url,
            s.creator.0,
            crate::time::now()
        ],
    )?;
    let id = conn.last_insert_rowid();
    super::hooks::note(conn, repo, "status", None, id, Some(s.creator), None)?;
    Ok(conn
        .query_row(&format!("{SELECT} WHERE s.id = ?1"), [id], from_row)
        .ok())
}

/// Every status of `sha`, newest first.
pub fn of_commit(conn: &Connection, repo: RepoId, sha: &str, limit: u32, offset: u32) -> Result<Vec<Status>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE s.repo_id = ?1 AND s.sha = ?2 ORDER BY s.id DESC LIMIT {limit} OFFSET {offset}"
    ))?;
    let rows = stmt.query_map(params![repo.0, sha], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The newest status of each context of `sha`, by context name.
pub fn latest(conn: &Connection, repo: RepoId, sha: &str) -> Result<Vec<Status>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE s.id IN (SELECT MAX(id) FROM commit_statuses WHERE repo_id = ?1 AND sha = ?2 GROUP BY context)
         ORDER BY s.context"
    ))?;
    let rows = stmt.query_map(params![repo.0, sha], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `latest` as required checks read it: (context, outcome), where the
/// outcome is a job's word (`success`, `failure`, `in_progress`).
pub fn as_checks(conn: &Connection, repo: RepoId, sha: &str) -> Result<Vec<(String, String)>> {
    Ok(latest(conn, repo, sha)?
        .into_iter()
        .map(|s| {
            let word = match s.state {
                State::Success => "success",
                State::Pending => "in_progress",
                State::Failure | State::Error => "failure",
            };
            (s.context, word.to_string())
        })
        .collect())
}
