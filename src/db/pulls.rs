//! The tables of pull requests: the `pull_requests` row beside each pull
//! request's issue, its reviews, line comments, requested reviewers, the
//! events that start workflows, and each repository's merge settings. The
//! rules are in `pulls`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::issues::{self, Issue, IssueId, IssueNumber};
use super::repos::RepoId;
use super::users::UserId;
use crate::error::{Error, Result};

/// Whether the head merges into the base without conflicts, as last found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mergeable {
    Unknown,
    Clean,
    Conflict,
}

impl Mergeable {
    pub fn as_str(self) -> &'static str {
        match self {
            Mergeable::Unknown => "unknown",
            Mergeable::Clean => "clean",
            Mergeable::Conflict => "conflict",
        }
    }

    fn parse(text: &str) -> Mergeable {
        match text {
            "clean" => Mergeable::Clean,
            "conflict" => Mergeable::Conflict,
            _ => Mergeable::Unknown,
        }
    }
}

/// How a pull request was (or is to be) merged: GitHub's `merge_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Merge,
    Squash,
    Rebase,
}

impl Method {
    pub fn parse(text: &str) -> Option<Method> {
        match text {
            "merge" => Some(Method::Merge),
            "squash" => Some(Method::Squash),
            "rebase" => Some(Method::Rebase),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Merge => "merge",
            Method::Squash => "squash",
            Method::Rebase => "rebase",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Pull {
    /// The conversation: title, body, author, state, labels, assignees.
    pub issue: Issue,
    pub head_ref: String,
    pub base_ref: String,
    pub head_sha: String,
    pub base_sha: String,
    pub merge_base: Option<String>,
    pub mergeable: Mergeable,
    pub merge_sha: Option<String>,
    pub conflicts: Vec<String>,
    pub draft: bool,
    pub merged_at: Option<i64>,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
}

impl Pull {
    pub fn number(&self) -> IssueNumber {
        self.issue.number
    }

    pub fn is_open(&self) -> bool {
        self.issue.state == "open"
    }

    pub fn is_merged(&self) -> bool {
        self.merged_at.is_some()
    }

    /// "open", "merged" or "closed", as the pages say it.
    pub fn state_word(&self) -> &'static str {
        match (self.is_merged(), self.is_open()) {
            (true, _) => "merged",
            (false, true) => "open",
            (false, false) => "closed",
        }
    }
}

const PULL_COLUMNS: &str = "p.head_ref, p.base_ref, p.head_sha, p.base_sha, p.merge_base, p.mergeable, p.merge_sha,
    p.conflicts, p.draft, p.merged_at, mu.name, p.merge_commit_sha";

fn pull_from_row(issue: Issue, r: &Row, at: usize) -> rusqlite::Result<Pull> {
    let conflicts: String = r.get(at + 7)?;
    Ok(Pull {
        issue,
        head_ref: r.get(at)?,
        base_ref: r.get(at + 1)?,
        head_sha: r.get(at + 2)?,
        base_sha: r.get(at + 3)?,
        merge_base: r.get(at + 4)?,
        mergeable: Mergeable::parse(&r.get::<_, String>(at + 5)?),
        merge_sha: r.get(at + 6)?,
        conflicts: conflicts.lines().map(str::to_string).collect(),
        draft: r.get(at + 8)?,
        merged_at: r.get(at + 9)?,
        merged_by: r.get(at + 10)?,
        merge_commit_sha: r.get(at + 11)?,
    })
}

/// The pull request of `issue` (which the caller found already).
fn of_issue(conn: &Connection, issue: Issue) -> Result<Option<Pull>> {
    let sql = format!(
        "SELECT {PULL_COLUMNS} FROM pull_requests p LEFT JOIN users mu ON mu.id = p.merged_by WHERE p.issue_id = ?1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([issue.id])?;
    match rows.next()? {
        Some(r) => Ok(Some(pull_from_row(issue, r, 0)?)),
        None => Ok(None),
    }
}

pub fn by_number(conn: &Connection, repo: RepoId, number: IssueNumber) -> Result<Option<Pull>> {
    match issues::by_number(conn, repo, number)? {
        Some(issue) => of_issue(conn, issue),
        None => Ok(None),
    }
}

/// The pull requests among `found` (a page of issues), in the same order.
pub fn of_issues(conn: &Connection, found: Vec<Issue>) -> Result<Vec<Pull>> {
    let mut out = Vec::with_capacity(found.len());
    for issue in found {
        if let Some(p) = of_issue(conn, issue)? {
            out.push(p);
        }
    }
    Ok(out)
}

pub struct NewPull<'a> {
    pub head_ref: &'a str,
    pub base_ref: &'a str,
    pub head_sha: &'a str,
    pub base_sha: &'a str,
    pub draft: bool,
}

/// Makes issue `issue` (just inserted) a pull request.
pub fn insert(conn: &Connection, repo: RepoId, issue: IssueId, number: IssueNumber, p: &NewPull) -> Result<()> {
    conn.execute("UPDATE issues SET is_pull = 1 WHERE id = ?1", [issue])?;
    conn.execute(
        "INSERT INTO pull_requests (issue_id, repo_id, number, head_ref, base_ref, head_sha, base_sha, draft)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            issue, repo.0, number, p.head_ref, p.base_ref, p.head_sha, p.base_sha, p.draft
        ],
    )?;
    Ok(())
}

/// The open pull request from `head` into `base`, if there is one.
pub fn open_between(conn: &Connection, repo: RepoId, head: &str, base: &str) -> Result<Option<IssueNumber>> {
    Ok(conn
        .query_row(
            "SELECT p.number FROM pull_requests p JOIN issues i ON i.id = p.issue_id
             WHERE p.repo_id = ?1 AND p.head_ref = ?2 AND p.base_ref = ?3 AND i.state = 'open'",
            params![repo.0, head, base],
            |r| r.get(0),
        )
        .optional()?)
}

/// Numbers of the open pull requests with `branch` as head or base.
pub fn open_touching(conn: &Connection, repo: RepoId, branch: &str) -> Result<Vec<IssueNumber>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.number FROM pull_requests p JOIN issues i ON i.id = p.issue_id
         WHERE p.repo_id = ?1 AND (p.head_ref = ?2 OR p.base_ref = ?2) AND i.state = 'open' ORDER BY p.number",
    )?;
    let rows = stmt.query_map(params![repo.0, branch], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The open pull requests with `branch` as head: the push that created it
/// tells of them instead of offering to open one.
pub fn open_from(conn: &Connection, repo: RepoId, branch: &str) -> Result<Vec<IssueNumber>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.number FROM pull_requests p JOIN issues i ON i.id = p.issue_id
         WHERE p.repo_id = ?1 AND p.head_ref = ?2 AND i.state = 'open' ORDER BY p.number",
    )?;
    let rows = stmt.query_map(params![repo.0, branch], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What comparing the two sides found.
pub struct Tips<'a> {
    pub head_sha: &'a str,
    pub base_sha: &'a str,
    pub merge_base: Option<&'a str>,
    pub mergeable: Mergeable,
    pub merge_sha: Option<&'a str>,
    pub conflicts: &'a [String],
}

pub fn set_tips(conn: &Connection, issue: IssueId, t: &Tips) -> Result<()> {
    conn.execute(
        "UPDATE pull_requests SET head_sha = ?2, base_sha = ?3, merge_base = ?4, mergeable = ?5, merge_sha = ?6,
             conflicts = ?7 WHERE issue_id = ?1",
        params![
            issue,
            t.head_sha,
            t.base_sha,
            t.merge_base,
            t.mergeable.as_str(),
            t.merge_sha,
            t.conflicts.join("\n")
        ],
    )?;
    Ok(())
}

pub fn set_draft(conn: &Connection, issue: IssueId, draft: bool) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE pull_requests SET draft = ?2 WHERE issue_id = ?1 AND draft != ?2",
        params![issue, draft],
    )? > 0)
}

pub fn set_base(conn: &Connection, issue: IssueId, base: &str) -> Result<()> {
    conn.execute(
        "UPDATE pull_requests SET base_ref = ?2, mergeable = 'unknown' WHERE issue_id = ?1",
        params![issue, base],
    )?;
    Ok(())
}

pub fn set_merged(conn: &Connection, issue: IssueId, by: UserId, sha: &str, method: Method) -> Result<()> {
    conn.execute(
        "UPDATE pull_requests SET merged_at = ?2, merged_by = ?3, merge_commit_sha = ?4, merge_method = ?5
         WHERE issue_id = ?1",
        params![issue, crate::time::now(), by.0, sha, method.as_str()],
    )?;
    Ok(())
}

/// Queues `action` of a pull request for the workflows it may start.
pub fn add_event(
    conn: &Connection,
    repo: RepoId,
    issue: IssueId,
    action: &str,
    head_sha: &str,
    merge_sha: Option<&str>,
    actor: Option<UserId>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO pull_events (repo_id, issue_id, action, head_sha, merge_sha, actor_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            repo.0,
            issue,
            action,
            head_sha,
            merge_sha,
            actor.map(|a| a.0),
            crate::time::now()
        ],
    )?;
    super::hooks::note(conn, repo, "pull_request", Some(action), issue.0, actor, None)
}

#[derive(Debug, Clone)]
pub struct PullEvent {
    pub id: i64,
    pub repo: RepoId,
    pub issue: IssueId,
    pub action: String,
    pub head_sha: String,
    pub merge_sha: Option<String>,
    pub actor: Option<String>,
}

/// Events not yet turned into runs, oldest first.
pub fn unhandled_events(conn: &Connection) -> Result<Vec<PullEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.repo_id, e.issue_id, e.action, e.head_sha, e.merge_sha, u.name FROM pull_events e
         LEFT JOIN users u ON u.id = e.actor_id WHERE e.ci_handled = 0 ORDER BY e.id LIMIT 100",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PullEvent {
            id: r.get(0)?,
            repo: RepoId(r.get(1)?),
            issue: r.get(2)?,
            action: r.get(3)?,
            head_sha: r.get(4)?,
            merge_sha: r.get(5)?,
            actor: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks an event handled; false when a concurrent caller did already.
pub fn handle_event(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE pull_events SET ci_handled = 1 WHERE id = ?1 AND ci_handled = 0",
        [id],
    )? > 0)
}

pub fn issue_by_id(conn: &Connection, issue: IssueId) -> Result<Option<(RepoId, IssueNumber)>> {
    Ok(conn
        .query_row("SELECT repo_id, number FROM issues WHERE id = ?1", [issue], |r| {
            Ok((RepoId(r.get(0)?), r.get(1)?))
        })
        .optional()?)
}

/// A review's verdict, GitHub's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approved => "APPROVED",
            Verdict::ChangesRequested => "CHANGES_REQUESTED",
            Verdict::Commented => "COMMENTED",
            Verdict::Dismissed => "DISMISSED",
        }
    }

    /// What the reviewer did, as a notification says it.
    pub fn did(self) -> &'static str {
        match self {
            Verdict::Approved => "approved these changes",
            Verdict::ChangesRequested => "requested changes",
            Verdict::Commented => "reviewed",
            Verdict::Dismissed => "dismissed a review",
        }
    }

    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "APPROVED" => Some(Verdict::Approved),
            "CHANGES_REQUESTED" => Some(Verdict::ChangesRequested),
            "COMMENTED" => Some(Verdict::Commented),
            "DISMISSED" => Some(Verdict::Dismissed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Review {
    pub id: i64,
    pub author: String,
    pub author_id: UserId,
    pub verdict: Verdict,
    pub body: String,
    pub commit_id: String,
    pub submitted_at: i64,
}

pub fn insert_review(
    conn: &Connection,
    issue: IssueId,
    author: UserId,
    verdict: Verdict,
    body: &str,
    commit: &str,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO reviews (issue_id, author_id, state, body, commit_id, submitted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![issue, author.0, verdict.as_str(), body, commit, crate::time::now()],
    )?;
    let id = conn.last_insert_rowid();
    let repo: i64 = conn.query_row("SELECT repo_id FROM issues WHERE id = ?1", [issue], |r| r.get(0))?;
    super::hooks::note(
        conn,
        RepoId(repo),
        "pull_request_review",
        Some("submitted"),
        id,
        Some(author),
        None,
    )?;
    Ok(id)
}

pub fn reviews(conn: &Connection, issue: IssueId) -> Result<Vec<Review>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, u.name, r.author_id, r.state, r.body, r.commit_id, r.submitted_at FROM reviews r
         JOIN users u ON u.id = r.author_id WHERE r.issue_id = ?1 ORDER BY r.id",
    )?;
    let rows = stmt.query_map([issue], |r| {
        Ok(Review {
            id: r.get(0)?,
            author: r.get(1)?,
            author_id: UserId(r.get(2)?),
            verdict: Verdict::parse(&r.get::<_, String>(3)?).unwrap_or(Verdict::Commented),
            body: r.get(4)?,
            commit_id: r.get(5)?,
            submitted_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Approvals of an older head become dismissed; returns how many.
pub fn dismiss_stale(conn: &Connection, issue: IssueId, head: &str) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE reviews SET state = 'DISMISSED' WHERE issue_id = ?1 AND state = 'APPROVED' AND commit_id != ?2",
        params![issue, head],
    )?)
}

#[derive(Debug, Clone)]
pub struct LineComment {
    pub id: i64,
    pub review_id: Option<i64>,
    pub author: String,
    pub path: String,
    pub line: i64,
    pub side: String,
    pub commit_id: String,
    pub blob_id: String,
    pub diff_hunk: String,
    pub body: String,
    pub in_reply_to: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct NewLineComment<'a> {
    pub review: Option<i64>,
    pub path: &'a str,
    pub line: i64,
    pub side: &'a str,
    pub commit_id: &'a str,
    pub blob_id: &'a str,
    pub diff_hunk: &'a str,
    pub body: &'a str,
    pub in_reply_to: Option<i64>,
}

pub fn insert_line_comment(conn: &Connection, issue: IssueId, author: UserId, c: &NewLineComment) -> Result<i64> {
    let now = crate::time::now();
    conn.execute(
        "INSERT INTO review_comments (issue_id, review_id, author_id, path, line, side, commit_id, blob_id, diff_hunk,
             body, in_reply_to, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        params![
            issue,
            c.review,
            author.0,
            c.path,
            c.line,
            c.side,
            c.commit_id,
            c.blob_id,
            c.diff_hunk,
            c.body,
            c.in_reply_to,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn line_comments(conn: &Connection, issue: IssueId) -> Result<Vec<LineComment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.review_id, u.name, c.path, c.line, c.side, c.commit_id, c.blob_id, c.diff_hunk, c.body,
             c.in_reply_to, c.created_at, c.updated_at FROM review_comments c JOIN users u ON u.id = c.author_id
         WHERE c.issue_id = ?1 ORDER BY c.id",
    )?;
    let rows = stmt.query_map([issue], |r| {
        Ok(LineComment {
            id: r.get(0)?,
            review_id: r.get(1)?,
            author: r.get(2)?,
            path: r.get(3)?,
            line: r.get(4)?,
            side: r.get(5)?,
            commit_id: r.get(6)?,
            blob_id: r.get(7)?,
            diff_hunk: r.get(8)?,
            body: r.get(9)?,
            in_reply_to: r.get(10)?,
            created_at: r.get(11)?,
            updated_at: r.get(12)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn request_review(conn: &Connection, issue: IssueId, user: UserId) -> Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO review_requests (issue_id, user_id) VALUES (?1, ?2)",
        params![issue, user.0],
    )? > 0)
}

pub fn unrequest_review(conn: &Connection, issue: IssueId, user: UserId) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM review_requests WHERE issue_id = ?1 AND user_id = ?2",
        params![issue, user.0],
    )? > 0)
}

pub fn requested_reviewers(conn: &Connection, issue: IssueId) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.name FROM review_requests r JOIN users u ON u.id = r.user_id WHERE r.issue_id = ?1
         ORDER BY u.lower_name",
    )?;
    let rows = stmt.query_map([issue], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Which ways of merging a repository allows, and whether a merge deletes
/// the head branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeSettings {
    pub merge_commit: bool,
    pub squash: bool,
    pub rebase: bool,
    pub delete_branch: bool,
}

impl MergeSettings {
    pub fn allows(&self, method: Method) -> bool {
        match method {
            Method::Merge => self.merge_commit,
            Method::Squash => self.squash,
            Method::Rebase => self.rebase,
        }
    }
}

pub fn merge_settings(conn: &Connection, repo: RepoId) -> Result<MergeSettings> {
    Ok(conn
        .prepare_cached(
            "SELECT allow_merge_commit, allow_squash, allow_rebase, delete_branch FROM merge_settings WHERE repo_id = ?1",
        )?
        .query_row(
            [repo.0],
            |r| {
                Ok(MergeSettings {
                    merge_commit: r.get(0)?,
                    squash: r.get(1)?,
                    rebase: r.get(2)?,
                    delete_branch: r.get(3)?,
                })
            },
        )
        .optional()?
        .unwrap_or(MergeSettings {
            merge_commit: true,
            squash: true,
            rebase: true,
            delete_branch: false,
        }))
}

pub fn set_merge_settings(conn: &Connection, repo: RepoId, s: MergeSettings) -> Result<()> {
    if !(s.merge_commit || s.squash || s.rebase) {
        return Err(Error::invalid("allow at least one way of merging"));
    }
    conn.execute(
        "INSERT INTO merge_settings (repo_id, allow_merge_commit, allow_squash, allow_rebase, delete_branch)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (repo_id) DO UPDATE SET allow_merge_commit = excluded.allow_merge_commit,
         allow_squash = excluded.allow_squash, allow_rebase = excluded.allow_rebase, delete_branch = excluded.delete_branch",
        params![repo.0, s.merge_commit, s.squash, s.rebase, s.delete_branch],
    )?;
    Ok(())
}

/// The conclusions of the latest jobs of runs of pull request `number` at
/// head `head`, by job name (a re-run's jobs replace the earlier ones),
/// then the outside statuses of `head`, by context.
pub fn check_results(
    conn: &Connection,
    repo: RepoId,
    number: IssueNumber,
    head: &str,
) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.name, COALESCE(j.conclusion, j.status) FROM jobs j JOIN runs r ON r.id = j.run_id
         WHERE r.repo_id = ?1 AND r.pull_number = ?2 AND r.pull_head_sha = ?3 ORDER BY j.id",
    )?;
    let rows = stmt.query_map(params![repo.0, number, head], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut results: Vec<(String, String)> = rows.collect::<rusqlite::Result<_>>()?;
    // Outside systems' statuses of the head count as checks too, by context.
    results.extend(super::statuses::as_checks(conn, repo, head)?);
    Ok(results)
}

/// The same for a commit pushed to a branch (a direct push's checks).
pub fn commit_check_results(conn: &Connection, repo: RepoId, sha: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.name, COALESCE(j.conclusion, j.status) FROM jobs j JOIN runs r ON r.id = j.run_id
         WHERE r.repo_id = ?1 AND (r.head_sha = ?2 OR r.pull_head_sha = ?2) ORDER BY j.id",
    )?;
    let rows = stmt.query_map(params![repo.0, sha], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut results: Vec<(String, String)> = rows.collect::<rusqlite::Result<_>>()?;
    results.extend(super::statuses::as_checks(conn, repo, sha)?);
    Ok(results)
}
