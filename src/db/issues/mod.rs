//! The issue tracker's tables: issues, comments, labels, milestones,
//! assignees, timeline events and the full-text index. Each function does
//! one thing in SQL; the rules (who may, what is valid) live in `issues`.

mod comments;
mod labels;
mod milestones;

pub use comments::*;
pub use labels::*;
pub use milestones::*;

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::repos::RepoId;
use super::users::UserId;
use crate::error::Result;
pub use crate::ids::{IssueId, IssueNumber};

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: IssueId,
    pub number: IssueNumber,
    pub title: String,
    pub body: String,
    pub author: String,
    pub state: String,
    pub close_reason: Option<String>,
    pub column: String,
    pub milestone: Option<(i64, String)>,
    pub comments: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub labels: Vec<Label>,
    pub assignees: Vec<String>,
    /// A pull request's conversation (see `db::pulls`).
    pub is_pull: bool,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub actor: Option<String>,
    pub kind: String,
    pub detail: String,
    pub created_at: i64,
}

const ISSUE_SELECT: &str = "SELECT i.id, i.number, i.title, i.body, u.name, i.state, i.close_reason, i.column_name,
    i.milestone_id, m.title, i.comments, i.created_at, i.updated_at, i.closed_at, i.is_pull
    FROM issues i JOIN users u ON u.id = i.author_id LEFT JOIN milestones m ON m.id = i.milestone_id";

fn issue_from_row(r: &Row) -> rusqlite::Result<Issue> {
    let milestone_id: Option<i64> = r.get(8)?;
    let milestone_title: Option<String> = r.get(9)?;
    Ok(Issue {
        id: r.get(0)?,
        number: r.get(1)?,
        title: r.get(2)?,
        body: r.get(3)?,
        author: r.get(4)?,
        state: r.get(5)?,
        close_reason: r.get(6)?,
        column: r.get(7)?,
        milestone: milestone_id.zip(milestone_title),
        comments: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        closed_at: r.get(13)?,
        labels: Vec::new(),
        assignees: Vec::new(),
        is_pull: r.get(14)?,
    })
}

/// Fills in the labels and assignees of `issues` with two queries.
fn attach(conn: &Connection, issues: &mut [Issue]) -> Result<()> {
    if issues.is_empty() {
        return Ok(());
    }
    let ids: Vec<IssueId> = issues.iter().map(|i| i.id).collect();
    let marks = vec!["?"; ids.len()].join(",");
    let mut labels: HashMap<IssueId, Vec<Label>> = HashMap::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT il.issue_id, l.id, l.name, l.color, l.description FROM issue_labels il
         JOIN labels l ON l.id = il.label_id WHERE il.issue_id IN ({marks}) ORDER BY l.name"
    ))?;
    let mut rows = stmt.query(params_from_iter(ids.iter()))?;
    while let Some(r) = rows.next()? {
        labels.entry(r.get(0)?).or_default().push(Label {
            id: r.get(1)?,
            name: r.get(2)?,
            color: r.get(3)?,
            description: r.get(4)?,
        });
    }
    let mut assignees: HashMap<IssueId, Vec<String>> = HashMap::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT a.issue_id, u.name FROM issue_assignees a JOIN users u ON u.id = a.user_id
         WHERE a.issue_id IN ({marks}) ORDER BY u.lower_name"
    ))?;
    let mut rows = stmt.query(params_from_iter(ids.iter()))?;
    while let Some(r) = rows.next()? {
        assignees.entry(r.get(0)?).or_default().push(r.get(1)?);
    }
    for issue in issues {
        issue.labels = labels.remove(&issue.id).unwrap_or_default();
        issue.assignees = assignees.remove(&issue.id).unwrap_or_default();
    }
    Ok(())
}

/// Creates an issue with the next number of the repository.
pub fn insert(
    conn: &Connection,
    repo: RepoId,
    author: UserId,
    title: &str,
    body: &str,
) -> Result<(IssueId, IssueNumber)> {
    let number: IssueNumber = conn.query_row(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM issues WHERE repo_id = ?1",
        [repo.0],
        |r| r.get(0),
    )?;
    let now = crate::time::now();
    conn.execute(
        "INSERT INTO issues (repo_id, number, title, body, author_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![repo.0, number, title, body, author.0, now],
    )?;
    let id = IssueId(conn.last_insert_rowid());
    conn.execute(
        "INSERT INTO issues_fts (rowid, title, body) VALUES (?1, ?2, ?3)",
        params![id, title, body],
    )?;
    Ok((id, number))
}

pub fn by_number(conn: &Connection, repo: RepoId, number: IssueNumber) -> Result<Option<Issue>> {
    let sql = format!("{ISSUE_SELECT} WHERE i.repo_id = ?1 AND i.number = ?2");
    let Some(issue) = conn
        .prepare_cached(&sql)?
        .query_row(params![repo.0, number], issue_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let mut one = [issue];
    attach(conn, &mut one)?;
    let [issue] = one;
    Ok(Some(issue))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    Updated,
    Comments,
    /// Least recently updated first (the API's `sort=updated&direction=asc`).
    UpdatedAscending,
    /// Fewest comments first.
    CommentsAscending,
}

impl Sort {
    pub fn parse(text: &str) -> Option<Sort> {
        match text {
            "newest" | "created" => Some(Sort::Newest),
            "oldest" => Some(Sort::Oldest),
            "updated" => Some(Sort::Updated),
            "comments" => Some(Sort::Comments),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::Updated => "updated",
            Sort::Comments => "comments",
            Sort::UpdatedAscending => "updated-asc",
            Sort::CommentsAscending => "comments-asc",
        }
    }
}

/// Issues, pull requests, or both (as GitHub's issues API lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Both,
    Issues,
    Pulls,
}

/// What `/issues` and the API filter by. `state` is "open", "closed" or "all".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Kind,
    pub state: String,
    pub labels: Vec<String>,
    /// A milestone's title, `none` (without one) or `*` (with any).
    pub milestone: Option<String>,
    /// A milestone's number (the API's `milestone=3`).
    pub milestone_number: Option<i64>,
    /// A user name, `none` (unassigned) or `*` (assigned to anyone).
    pub assignee: Option<String>,
    pub author: Option<String>,
    pub text: Option<String>,
    /// Only those updated at or after this time (the API's `since`).
    pub since: Option<i64>,
    pub sort: Sort,
    pub page: u32,
    pub per_page: u32,
}

/// The WHERE clause (without state) and its parameters for a filter.
fn conditions(repo: RepoId, f: &Filter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut sql = String::from("i.repo_id = ?");
    let mut args = vec![Value::Integer(repo.0)];
    match f.kind {
        Kind::Both => {}
        Kind::Issues => sql.push_str(" AND i.is_pull = 0"),
        Kind::Pulls => sql.push_str(" AND i.is_pull = 1"),
    }
    for label in &f.labels {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM issue_labels il JOIN labels l ON l.id = il.label_id
              WHERE il.issue_id = i.id AND l.name = ?)",
        );
        args.push(Value::Text(label.clone()));
    }
    if let Some(n) = f.milestone_number {
        sql.push_str(" AND i.milestone_id = (SELECT id FROM milestones WHERE repo_id = i.repo_id AND number = ?)");
        args.push(Value::Integer(n));
    }
    if let Some(since) = f.since {
        sql.push_str(" AND i.updated_at >= ?");
        args.push(Value::Integer(since));
    }
    match f.milestone.as_deref() {
        Some("none") => sql.push_str(" AND i.milestone_id IS NULL"),
        Some("*") => sql.push_str(" AND i.milestone_id IS NOT NULL"),
        Some(m) => {
            sql.push_str(" AND i.milestone_id = (SELECT id FROM milestones WHERE repo_id = i.repo_id AND title = ?)");
            args.push(Value::Text(m.to_string()));
        }
        None => {}
    }
    match f.assignee.as_deref() {
        Some("none") => sql.push_str(" AND NOT EXISTS (SELECT 1 FROM issue_assignees a WHERE a.issue_id = i.id)"),
        Some("*") => sql.push_str(" AND EXISTS (SELECT 1 FROM issue_assignees a WHERE a.issue_id = i.id)"),
        Some(a) => {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM issue_assignees a JOIN users au ON au.id = a.user_id
                  WHERE a.issue_id = i.id AND au.lower_name = ?)",
            );
            args.push(Value::Text(a.to_lowercase()));
        }
        None => {}
    }
    if let Some(author) = &f.author {
        sql.push_str(" AND u.lower_name = ?");
        args.push(Value::Text(author.to_lowercase()));
    }
    if let Some(text) = &f.text {
        // Every word, in the title, the body or any one comment.
        for term in fts_terms(text) {
            sql.push_str(
                " AND (i.id IN (SELECT rowid FROM issues_fts WHERE issues_fts MATCH ?)
                  OR i.id IN (SELECT c.issue_id FROM comments c
                              WHERE c.id IN (SELECT rowid FROM comments_fts WHERE comments_fts MATCH ?)))",
            );
            args.push(Value::Text(term.clone()));
            args.push(Value::Text(term));
        }
    }
    (sql, args)
}

/// Free text as FTS5 terms: each word a quoted prefix term, at most 16.
fn fts_terms(text: &str) -> impl Iterator<Item = String> {
    text.split_whitespace()
        .take(16)
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
}

/// One page of issues matching `f`, and whether more follow.
pub fn list(conn: &Connection, repo: RepoId, f: &Filter) -> Result<(Vec<Issue>, bool)> {
    use rusqlite::types::Value;
    let (mut cond, mut args) = conditions(repo, f);
    if f.state != "all" {
        cond.push_str(" AND i.state = ?");
        args.push(Value::Text(f.state.clone()));
    }
    let order = match f.sort {
        Sort::Newest => "i.number DESC",
        Sort::Oldest => "i.number ASC",
        Sort::Updated => "i.updated_at DESC, i.number DESC",
        Sort::Comments => "i.comments DESC, i.number DESC",
        Sort::UpdatedAscending => "i.updated_at ASC, i.number ASC",
        Sort::CommentsAscending => "i.comments ASC, i.number ASC",
    };
    let offset = i64::from(f.page.saturating_sub(1)) * i64::from(f.per_page);
    // One more than a page tells whether there is a next one, without counting.
    // (Written into the SQL: a bound LIMIT makes SQLite prepare it again at every run.)
    let sql = format!(
        "{ISSUE_SELECT} WHERE {cond} ORDER BY {order} LIMIT {} OFFSET {offset}",
        f.per_page + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut issues = stmt
        .query_map(params_from_iter(args.iter()), issue_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = issues.len() > f.per_page as usize;
    issues.truncate(f.per_page as usize);
    attach(conn, &mut issues)?;
    Ok((issues, more))
}

/// The version of a repository's issue data; it changes with every change
/// (see migration 003), so caches key on it.
pub fn version(conn: &Connection, repo: RepoId) -> Result<i64> {
    Ok(conn
        .query_row("SELECT version FROM issue_versions WHERE repo_id = ?1", [repo.0], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0))
}

/// Titles of the repository's milestones, open ones first.
pub fn milestone_titles(conn: &Connection, repo: RepoId) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT title FROM milestones WHERE repo_id = ?1 ORDER BY state = 'closed', id")?;
    let rows = stmt.query_map([repo.0], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Open and closed counts for a filter, whatever its state.
pub fn counts(conn: &Connection, repo: RepoId, f: &Filter) -> Result<(i64, i64)> {
    let (cond, args) = conditions(repo, f);
    Ok(conn.query_row(
        &format!(
            "SELECT COALESCE(SUM(i.state = 'open'), 0), COALESCE(SUM(i.state = 'closed'), 0)
             FROM issues i JOIN users u ON u.id = i.author_id WHERE {cond}"
        ),
        params_from_iter(args.iter()),
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

pub fn update_text(conn: &Connection, issue: IssueId, title: &str, body: &str) -> Result<()> {
    conn.execute(
        "UPDATE issues SET title = ?2, body = ?3, updated_at = ?4 WHERE id = ?1",
        params![issue, title, body, crate::time::now()],
    )?;
    conn.execute(
        "UPDATE issues_fts SET title = ?2, body = ?3 WHERE rowid = ?1",
        params![issue, title, body],
    )?;
    Ok(())
}

/// Opens or closes; returns false when it already was in that state.
pub fn set_state(conn: &Connection, issue: IssueId, state: &str, reason: Option<&str>) -> Result<bool> {
    let now = crate::time::now();
    let changed = conn.execute(
        "UPDATE issues SET state = ?2, close_reason = ?3, updated_at = ?4,
             closed_at = CASE WHEN ?2 = 'closed' THEN ?4 ELSE NULL END
         WHERE id = ?1 AND state != ?2",
        params![issue, state, reason, now],
    )?;
    Ok(changed > 0)
}

pub fn set_column(conn: &Connection, issue: IssueId, column: &str) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE issues SET column_name = ?2, updated_at = ?3 WHERE id = ?1 AND column_name != ?2",
        params![issue, column, crate::time::now()],
    )? > 0)
}

pub fn set_milestone(conn: &Connection, issue: IssueId, milestone: Option<i64>) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE issues SET milestone_id = ?2, updated_at = ?3 WHERE id = ?1 AND milestone_id IS NOT ?2",
        params![issue, milestone, crate::time::now()],
    )? > 0)
}

pub fn touch(conn: &Connection, issue: IssueId) -> Result<()> {
    conn.execute(
        "UPDATE issues SET updated_at = ?2 WHERE id = ?1",
        params![issue, crate::time::now()],
    )?;
    Ok(())
}

pub fn add_event(conn: &Connection, issue: IssueId, actor: Option<UserId>, kind: &str, detail: &str) -> Result<bool> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO issue_events (issue_id, actor_id, kind, detail, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![issue, actor.map(|a| a.0), kind, detail, crate::time::now()],
    )?;
    if inserted > 0 {
        note_event(conn, issue, actor, kind, detail)?;
        super::notifications::of_timeline_event(conn, issue, actor, kind, detail)?;
    }
    Ok(inserted > 0)
}

/// The timeline events GitHub announces as `issues` (or, on a pull
/// request, `pull_request`) actions. A pull request's opening, closing and
/// reopening are its own events (`db::pulls::add_event`).
fn note_event(conn: &Connection, issue: IssueId, actor: Option<UserId>, kind: &str, detail: &str) -> Result<()> {
    let (repo, is_pull): (i64, bool) = conn
        .prepare_cached("SELECT repo_id, is_pull FROM issues WHERE id = ?1")?
        .query_row([issue], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let extra = match kind {
        "labeled" | "unlabeled" => serde_json::json!({ "label": detail }),
        "assigned" | "unassigned" => serde_json::json!({ "assignee": detail }),
        "review_requested" | "review_request_removed" if is_pull => serde_json::json!({ "reviewer": detail }),
        "milestoned" | "demilestoned" => serde_json::json!({ "milestone": detail }),
        "closed" | "reopened" | "closed_by_commit" | "closed_by_pull" if !is_pull => serde_json::json!({}),
        _ => return Ok(()),
    };
    let action = if kind.starts_with("closed") { "closed" } else { kind };
    let event = if is_pull { "pull_request" } else { "issues" };
    super::hooks::note(conn, RepoId(repo), event, Some(action), issue.0, actor, Some(&extra))
}

fn event_from_row(r: &Row) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        actor: r.get(1)?,
        kind: r.get(2)?,
        detail: r.get(3)?,
        created_at: r.get(4)?,
    })
}

/// What a timeline entry is; entries of one instant show in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    Comment,
    Review,
    Event,
}

/// The place of one entry in a timeline, without its content: an issue's
/// timeline is ordered and windowed by these before any text is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub at: i64,
    pub item: Item,
    pub id: i64,
}

/// The comments and events of an issue in timeline order, each with the
/// size of its text in bytes (read from the row's header, not its text).
pub fn timeline_keys(conn: &Connection, issue: IssueId) -> Result<Vec<(Key, usize)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT created_at, 0, id, octet_length(body) FROM comments WHERE issue_id = ?1
         UNION ALL SELECT created_at, 2, id, octet_length(detail) FROM issue_events WHERE issue_id = ?1
         ORDER BY 1, 2, 3",
    )?;
    let rows = stmt.query_map([issue], |r| {
        let key = Key {
            at: r.get(0)?,
            item: if r.get::<_, i64>(1)? == 0 {
                Item::Comment
            } else {
                Item::Event
            },
            id: r.get(2)?,
        };
        Ok((key, r.get::<_, i64>(3)?.max(0) as usize))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The events of `issue` whose ids are in `ids`, oldest first.
pub fn events_among(conn: &Connection, issue: IssueId, ids: &[i64]) -> Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, u.name, e.kind, e.detail, e.created_at FROM issue_events e LEFT JOIN users u ON u.id = e.actor_id
         WHERE e.issue_id = ?1 AND e.id IN (SELECT value FROM json_each(?2)) ORDER BY e.id",
    )?;
    let rows = stmt.query_map(params![issue, json_ids(ids)], event_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The commits that reference `issue`, first reference first, at most `limit`.
pub fn referencing_commits(conn: &Connection, issue: IssueId, limit: u32) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT detail FROM issue_events WHERE issue_id = ?1 AND kind = 'referenced'
         GROUP BY detail ORDER BY min(id) LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![issue, limit], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn add_assignee(conn: &Connection, issue: IssueId, user: UserId) -> Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO issue_assignees (issue_id, user_id) VALUES (?1, ?2)",
        params![issue, user.0],
    )? > 0)
}

pub fn remove_assignee(conn: &Connection, issue: IssueId, user: UserId) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM issue_assignees WHERE issue_id = ?1 AND user_id = ?2",
        params![issue, user.0],
    )? > 0)
}

/// Takes `user` off every issue of `repo` (they lost access to it).
pub fn unassign_everywhere(conn: &Connection, repo: RepoId, user: UserId) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM issue_assignees WHERE user_id = ?1 AND issue_id IN (SELECT id FROM issues WHERE repo_id = ?2)",
        params![user.0, repo.0],
    )?)
}

/// Open issues assigned to `user` across the repositories they may read
/// now (public, their own, as a collaborator, or any as a site admin), most
/// recently updated first, with the owner and name of their repository.
pub fn assigned_to(conn: &Connection, user: UserId, limit: u32) -> Result<Vec<(String, String, Issue)>> {
    let sql = format!(
        "SELECT * FROM ({ISSUE_SELECT}) AS x JOIN (SELECT i.id AS iid, ou.name AS owner, r.name AS repo, i.updated_at AS up
           FROM issue_assignees a JOIN issues i ON i.id = a.issue_id JOIN repos r ON r.id = i.repo_id
           JOIN users ou ON ou.id = r.owner_id WHERE a.user_id = ?1 AND i.state = 'open'
             AND (r.is_private = 0 OR r.owner_id = ?1
                  OR EXISTS (SELECT 1 FROM collaborators c WHERE c.repo_id = r.id AND c.user_id = ?1)
                  OR EXISTS (SELECT 1 FROM users me WHERE me.id = ?1 AND me.is_admin))) AS y ON y.iid = x.id
         ORDER BY y.up DESC LIMIT {limit}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![user.0], |r| Ok((r.get(16)?, r.get(17)?, issue_from_row(r)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
