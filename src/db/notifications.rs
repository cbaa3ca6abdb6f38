//! The `notifications` and `watches` tables: who is told of what.
//!
//! A notification is a thread (GitHub's word): one per person and subject.
//! The functions that decide who is told — `of_issue_opened`,
//! `of_comment`, `of_mentions`, `of_timeline_event`, `of_run_completed`,
//! `of_deployment_waiting` — are called by the producers inside the
//! transaction that makes the event happen, so a thread exists exactly when
//! its event does. Nobody is told of their own doing, and nobody is told of
//! a repository they cannot read (checked again when threads are listed,
//! so a collaborator removed later no longer sees them).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::users::UserId;
use crate::error::Result;
use crate::ids::{IssueId, RepoId, RunId};

crate::ids::integer_id!(
    /// A notification thread.
    ThreadId
);

/// What a thread is about, by GitHub's subject types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Issue(IssueId),
    PullRequest(IssueId),
    /// A workflow run (GitHub calls the notification's subject a check suite).
    Run(RunId),
}

impl Subject {
    pub fn type_name(self) -> &'static str {
        match self {
            Subject::Issue(_) => "Issue",
            Subject::PullRequest(_) => "PullRequest",
            Subject::Run(_) => "CheckSuite",
        }
    }

    fn id(self) -> i64 {
        match self {
            Subject::Issue(i) | Subject::PullRequest(i) => i.0,
            Subject::Run(r) => r.0,
        }
    }
}

/// Why someone is told, by GitHub's reason names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// They watch the repository.
    Subscribed,
    /// They opened the issue or pull request.
    Author,
    /// They commented on it before.
    Comment,
    Assign,
    ReviewRequested,
    Mention,
    /// A run of their push failed or recovered.
    CiActivity,
    /// A deployment waits for their approval.
    ApprovalRequested,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Subscribed => "subscribed",
            Reason::Author => "author",
            Reason::Comment => "comment",
            Reason::Assign => "assign",
            Reason::ReviewRequested => "review_requested",
            Reason::Mention => "mention",
            Reason::CiActivity => "ci_activity",
            Reason::ApprovalRequested => "approval_requested",
        }
    }

    const ALL: [Reason; 8] = [
        Reason::Subscribed,
        Reason::Comment,
        Reason::Author,
        Reason::CiActivity,
        Reason::ReviewRequested,
        Reason::Assign,
        Reason::ApprovalRequested,
        Reason::Mention,
    ];

    /// `column`'s reason as a number that orders reasons by weight (its
    /// place in `ALL`): an @mention in an issue one watches is a mention.
    fn rank_sql(column: &str) -> String {
        let arms: String = Reason::ALL
            .iter()
            .enumerate()
            .map(|(i, r)| format!(" WHEN '{}' THEN {i}", r.as_str()))
            .collect();
        format!("(CASE {column}{arms} ELSE 0 END)")
    }

    /// Why, as the notification's e-mail and page say it.
    pub fn explain(name: &str) -> &'static str {
        match name {
            "subscribed" => "you are watching this repository",
            "author" => "you opened it",
            "comment" => "you commented on it",
            "assign" => "you were assigned",
            "review_requested" => "your review was requested",
            "mention" => "you were mentioned",
            "ci_activity" => "it is a run of your push",
            "approval_requested" => "a deployment waits for your approval",
            _ => "you take part in it",
        }
    }
}

/// One thread, as listed.
#[derive(Debug, Clone)]
pub struct Thread {
    pub id: ThreadId,
    pub repo_id: RepoId,
    pub owner: String,
    pub repo: String,
    pub subject_type: String,
    /// The issue's or the run's row.
    pub subject_id: i64,
    pub subject_number: i64,
    pub title: String,
    pub reason: String,
    pub detail: String,
    pub actor: Option<String>,
    pub unread: bool,
    pub updated_at: i64,
    pub last_read_at: Option<i64>,
}

impl Thread {
    /// The subject's page, from the site's root.
    pub fn path(&self) -> String {
        let kind = match self.subject_type.as_str() {
            "Issue" => "issues",
            "PullRequest" => "pulls",
            _ => "runs",
        };
        format!("/{}/{}/{kind}/{}", self.owner, self.repo, self.subject_number)
    }
}

/// The most @mentions of one text that are acted on: a comment naming a
/// thousand people tells the first fifty.
const MAX_MENTIONS: usize = 50;

/// Whether `user` may read `repo` now: it is public, theirs, shared with
/// them, or they are an administrator. Written as SQL over `?1` (the user)
/// and `?2` (the repository) for the queries below.
const CAN_READ: &str = "EXISTS (SELECT 1 FROM repos r JOIN users u ON u.id = ?1 WHERE r.id = ?2
       AND (r.is_private = 0 OR r.owner_id = u.id OR u.is_admin = 1
            OR EXISTS (SELECT 1 FROM collaborators c WHERE c.repo_id = r.id AND c.user_id = u.id)))";

/// What the subject is: its repository, number and title.
fn subject_facts(conn: &Connection, subject: Subject) -> Result<(RepoId, i64, String)> {
    let sql = match subject {
        Subject::Issue(_) | Subject::PullRequest(_) => "SELECT repo_id, number, title FROM issues WHERE id = ?1",
        Subject::Run(_) => "SELECT repo_id, run_number, name FROM runs WHERE id = ?1",
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row([subject.id()], |r| Ok((RepoId(r.get(0)?), r.get(1)?, r.get(2)?)))?)
}

/// The subject of issue `issue`: an issue or a pull request.
pub fn issue_subject(conn: &Connection, issue: IssueId) -> Result<Subject> {
    let is_pull: bool = conn
        .prepare_cached("SELECT is_pull FROM issues WHERE id = ?1")?
        .query_row([issue], |r| r.get(0))?;
    Ok(if is_pull {
        Subject::PullRequest(issue)
    } else {
        Subject::Issue(issue)
    })
}

/// Tells each of `users` of `subject`, for `reason`: the thread is made or
/// brought back unread with this reason and detail. The actor and anyone
/// who cannot read the repository are left out.
pub fn tell(
    conn: &Connection,
    users: &[UserId],
    subject: Subject,
    reason: Reason,
    detail: &str,
    actor: Option<UserId>,
) -> Result<()> {
    if users.iter().all(|u| Some(*u) == actor) {
        return Ok(());
    }
    let (repo, number, title) = subject_facts(conn, subject)?;
    let now = crate::time::now();
    let mut can_read = conn.prepare_cached(&format!("SELECT {CAN_READ}"))?;
    // While a thread is unread, a weightier reason stays (an unread
    // assignment is not made a comment by the next comment); its detail
    // is always the newest activity.
    let keep = format!(
        "notifications.unread = 1 AND {} > {}",
        Reason::rank_sql("notifications.reason"),
        Reason::rank_sql("excluded.reason")
    );
    let mut upsert = conn.prepare_cached(&format!(
        "INSERT INTO notifications (user_id, repo_id, subject_type, subject_id, subject_number, title, reason,
                                    detail, actor_id, unread, updated_at, email, email_next_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10,
                CASE WHEN u.email IS NOT NULL AND u.email != ''
                          AND COALESCE((SELECT value FROM server_flags WHERE name = 'mail'), 0) = 1
                     THEN 'pending' ELSE 'none' END, ?10
         FROM users u WHERE u.id = ?1
         ON CONFLICT (user_id, subject_type, subject_id) DO UPDATE SET
             title = excluded.title,
             reason = CASE WHEN {keep} THEN notifications.reason ELSE excluded.reason END,
             detail = excluded.detail,
             actor_id = excluded.actor_id, unread = 1, updated_at = excluded.updated_at,
             email = excluded.email, email_attempts = 0, email_next_at = excluded.email_next_at"
    ))?;
    let mut told = Vec::with_capacity(users.len());
    for &user in users {
        if Some(user) == actor || told.contains(&user) {
            continue;
        }
        told.push(user);
        if !can_read.query_row(params![user.0, repo.0], |r| r.get::<_, bool>(0))? {
            continue;
        }
        upsert.execute(params![
            user.0,
            repo.0,
            subject.type_name(),
            subject.id(),
            number,
            title,
            reason.as_str(),
            detail,
            actor.map(|a| a.0),
            now
        ])?;
    }
    Ok(())
}

fn name_of(conn: &Connection, user: Option<UserId>) -> Result<String> {
    let Some(user) = user else { return Ok("Someone".into()) };
    Ok(conn
        .prepare_cached("SELECT name FROM users WHERE id = ?1")?
        .query_row([user.0], |r| r.get(0))
        .optional()?
        .unwrap_or_else(|| "Someone".into()))
}

/// The people watching `repo`.
pub fn watchers(conn: &Connection, repo: RepoId) -> Result<Vec<UserId>> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM watches WHERE repo_id = ?1 ORDER BY user_id")?;
    let rows = stmt.query_map([repo.0], |r| Ok(UserId(r.get(0)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// An issue or pull request was opened, with `body`: its watchers are told,
/// and whoever it @mentions.
pub fn of_issue_opened(conn: &Connection, issue: IssueId, author: UserId, body: &str) -> Result<()> {
    let subject = issue_subject(conn, issue)?;
    let (repo, _, _) = subject_facts(conn, subject)?;
    let who = name_of(conn, Some(author))?;
    let what = if matches!(subject, Subject::PullRequest(_)) {
        "a pull request"
    } else {
        "an issue"
    };
    tell(
        conn,
        &watchers(conn, repo)?,
        subject,
        Reason::Subscribed,
        &format!("{who} opened {what}."),
        Some(author),
    )?;
    of_mentions(conn, subject, author, body)
}

/// A comment (or a review: `did` says which, as in "commented") with
/// `body` was added to issue `issue`: its watchers, its author and those
/// who commented before are told, and whoever it @mentions.
pub fn of_comment(conn: &Connection, issue: IssueId, author: UserId, did: &str, body: &str) -> Result<()> {
    let subject = issue_subject(conn, issue)?;
    let (repo, _, _) = subject_facts(conn, subject)?;
    let who = name_of(conn, Some(author))?;
    let detail = match excerpt(body) {
        e if e.is_empty() => format!("{who} {did}."),
        e => format!("{who} {did}: {e}"),
    };
    tell(
        conn,
        &watchers(conn, repo)?,
        subject,
        Reason::Subscribed,
        &detail,
        Some(author),
    )?;
    let commenters: Vec<UserId> = {
        let mut stmt = conn.prepare_cached("SELECT DISTINCT author_id FROM comments WHERE issue_id = ?1")?;
        stmt.query_map([issue], |r| Ok(UserId(r.get(0)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    tell(conn, &commenters, subject, Reason::Comment, &detail, Some(author))?;
    let opener: UserId = conn
        .prepare_cached("SELECT author_id FROM issues WHERE id = ?1")?
        .query_row([issue], |r| Ok(UserId(r.get(0)?)))?;
    tell(conn, &[opener], subject, Reason::Author, &detail, Some(author))?;
    of_mentions(conn, subject, author, body)
}

/// The first line of `text`, at most 140 characters.
fn excerpt(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    match line.char_indices().nth(140) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

/// The people `text` @mentions who have an account.
fn mentioned(conn: &Connection, text: &str) -> Result<Vec<UserId>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM users WHERE lower_name = ?1")?;
    let mut found = Vec::new();
    for name in mention_names(text).into_iter().take(MAX_MENTIONS) {
        if let Some(id) = stmt.query_row([name.to_lowercase()], |r| r.get(0)).optional()? {
            found.push(UserId(id));
        }
    }
    Ok(found)
}

/// The names after `@` in `text`, once each, in order: `@` starts a
/// mention at the start or after a character that is not part of a word
/// (so `me@example.com` is no mention), and code spans and blocks are
/// skipped, as GitHub does.
pub fn mention_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced || line.starts_with("    ") {
            continue;
        }
        let mut in_code = false;
        let mut prev: Option<char> = None;
        for (at, c) in line.char_indices() {
            if c == '`' {
                in_code = !in_code;
            } else if c == '@' && !in_code && !prev.is_some_and(|p| p.is_alphanumeric() || "_.-/`".contains(p)) {
                let rest = &line[at + 1..];
                let len = rest
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || "._-".contains(ch)))
                    .unwrap_or(rest.len());
                let name = rest[..len].trim_end_matches(['.', '-', '_']);
                let cut_in_word = rest[len..].starts_with(char::is_alphanumeric);
                if !name.is_empty()
                    && !cut_in_word
                    && name.len() <= 40
                    && name.starts_with(|ch: char| ch.is_ascii_alphanumeric())
                    && !names.iter().any(|n| n.eq_ignore_ascii_case(name))
                {
                    names.push(name.to_string());
                }
            }
            prev = Some(c);
        }
    }
    names
}

/// Whoever `text` by `author` on `subject` @mentions is told.
pub fn of_mentions(conn: &Connection, subject: Subject, author: UserId, text: &str) -> Result<()> {
    let users = mentioned(conn, text)?;
    if users.is_empty() {
        return Ok(());
    }
    let detail = format!("{} mentioned you: {}", name_of(conn, Some(author))?, excerpt(text));
    tell(conn, &users, subject, Reason::Mention, &detail, Some(author))
}

/// A timeline event of issue `issue`: an assignee or a requested reviewer
/// (`detail`, a user name) is told.
pub fn of_timeline_event(
    conn: &Connection,
    issue: IssueId,
    actor: Option<UserId>,
    kind: &str,
    detail: &str,
) -> Result<()> {
    let (reason, sentence) = match kind {
        "assigned" => (Reason::Assign, "assigned you"),
        "review_requested" => (Reason::ReviewRequested, "requested your review"),
        _ => return Ok(()),
    };
    let Some(user) = conn
        .prepare_cached("SELECT id FROM users WHERE lower_name = ?1")?
        .query_row([detail.to_lowercase()], |r| r.get(0))
        .optional()?
        .map(UserId)
    else {
        return Ok(());
    };
    let subject = issue_subject(conn, issue)?;
    let text = format!("{} {sentence}.", name_of(conn, actor)?);
    tell(conn, &[user], subject, reason, &text, actor)
}

/// Run `run` completed: the person whose push (or click) started it is told
/// when it failed, and when it succeeded after the workflow's previous run
/// on the same branch failed.
pub fn of_run_completed(conn: &Connection, run: RunId, actor: Option<UserId>) -> Result<()> {
    let Some(actor) = actor else { return Ok(()) };
    let (repo, workflow, branch, event, conclusion): (i64, String, String, String, Option<String>) = conn
        .prepare_cached("SELECT repo_id, workflow, head_branch, event, conclusion FROM runs WHERE id = ?1")?
        .query_row([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
    let failed = |c: Option<&str>| matches!(c, Some("failure" | "timed_out"));
    let detail = if failed(conclusion.as_deref()) {
        format!("The run failed on {branch}.")
    } else if conclusion.as_deref() == Some("success") {
        let before: Option<Option<String>> = conn
            .prepare_cached(
                "SELECT conclusion FROM runs
                 WHERE repo_id = ?1 AND workflow = ?2 AND head_branch = ?3 AND event = ?4 AND id < ?5
                   AND status = 'completed' AND conclusion IN ('success', 'failure', 'timed_out')
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![repo, workflow, branch, event, run], |r| r.get(0))
            .optional()?;
        if !before.is_some_and(|c| failed(c.as_deref())) {
            return Ok(());
        }
        format!("The run succeeded on {branch}: it failed before.")
    } else {
        return Ok(());
    };
    // The actor is told here: the run is theirs, not their doing.
    tell(conn, &[actor], Subject::Run(run), Reason::CiActivity, &detail, None)
}

/// A deployment of run `run` to environment `environment` waits at its
/// gate: the environment's reviewers are told.
pub fn of_deployment_waiting(conn: &Connection, run: RunId, environment: i64) -> Result<()> {
    let (name, reviewers): (String, Vec<UserId>) = {
        let name = conn
            .prepare_cached("SELECT name FROM environments WHERE id = ?1")?
            .query_row([environment], |r| r.get(0))?;
        let mut stmt = conn.prepare_cached("SELECT user_id FROM environment_reviewers WHERE environment_id = ?1")?;
        let rows = stmt.query_map([environment], |r| Ok(UserId(r.get(0)?)))?;
        (name, rows.collect::<rusqlite::Result<_>>()?)
    };
    if reviewers.is_empty() {
        return Ok(());
    }
    let detail = format!("A deployment to {name} waits for your approval.");
    tell(
        conn,
        &reviewers,
        Subject::Run(run),
        Reason::ApprovalRequested,
        &detail,
        None,
    )
}

const THREAD: &str = "SELECT n.id, n.repo_id, o.name, r.name, n.subject_type, n.subject_number, n.title, n.reason,
        n.detail, a.name, n.unread, n.updated_at, n.last_read_at, n.subject_id
    FROM notifications n
    JOIN repos r ON r.id = n.repo_id
    JOIN users o ON o.id = r.owner_id
    LEFT JOIN users a ON a.id = n.actor_id";

/// The user may still read the thread's repository (`?1` is the user).
const STILL_READABLE: &str = "(r.is_private = 0 OR r.owner_id = ?1
       OR (SELECT is_admin FROM users WHERE id = ?1) = 1
       OR EXISTS (SELECT 1 FROM collaborators c WHERE c.repo_id = r.id AND c.user_id = ?1))";

fn thread_from_row(r: &Row) -> rusqlite::Result<Thread> {
    Ok(Thread {
        id: ThreadId(r.get(0)?),
        repo_id: RepoId(r.get(1)?),
        owner: r.get(2)?,
        repo: r.get(3)?,
        subject_type: r.get(4)?,
        subject_id: r.get(13)?,
        subject_number: r.get(5)?,
        title: r.get(6)?,
        reason: r.get(7)?,
        detail: r.get(8)?,
        actor: r.get(9)?,
        unread: r.get(10)?,
        updated_at: r.get(11)?,
        last_read_at: r.get(12)?,
    })
}

/// Which threads a list shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Read ones too (GitHub's `all`).
    pub all: bool,
    /// Only those the person takes part in.
    pub participating: bool,
    /// Only of this repository.
    pub repo: Option<RepoId>,
    /// Only those updated at or after this time.
    pub since: Option<i64>,
    /// Only those updated before this time.
    pub before: Option<i64>,
}

fn filter_sql(filter: &Filter) -> String {
    let mut sql = format!(
        " WHERE n.user_id = ?1 AND {STILL_READABLE} AND (?2 IS NULL OR n.repo_id = ?2)
          AND (?3 IS NULL OR n.updated_at >= ?3) AND (?4 IS NULL OR n.updated_at < ?4)"
    );
    if !filter.all {
        sql.push_str(" AND n.unread = 1");
    }
    if filter.participating {
        sql.push_str(" AND n.reason != 'subscribed'");
    }
    sql
}

/// One page of `user`'s threads, newest activity first, and how many there are.
pub fn list(conn: &Connection, user: UserId, filter: &Filter, limit: u32, offset: u32) -> Result<(Vec<Thread>, usize)> {
    let conditions = filter_sql(filter);
    let args = params![user.0, filter.repo.map(|r| r.0), filter.since, filter.before];
    let total: usize = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM notifications n JOIN repos r ON r.id = n.repo_id{conditions}"
        ))?
        .query_row(args, |r| r.get(0))?;
    let sql = format!("{THREAD}{conditions} ORDER BY n.updated_at DESC, n.id DESC LIMIT {limit} OFFSET {offset}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args, thread_from_row)?;
    Ok((rows.collect::<rusqlite::Result<_>>()?, total))
}

/// How many unread threads `user` has: the bell's number.
pub fn unread_count(conn: &Connection, user: UserId) -> Result<i64> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM notifications n JOIN repos r ON r.id = n.repo_id
             WHERE n.user_id = ?1 AND n.unread = 1 AND {STILL_READABLE}"
        ))?
        .query_row([user.0], |r| r.get(0))?)
}

/// Thread `id` of `user`, if it is theirs.
pub fn get(conn: &Connection, user: UserId, id: ThreadId) -> Result<Option<Thread>> {
    let sql = format!("{THREAD} WHERE n.user_id = ?1 AND n.id = ?2 AND {STILL_READABLE}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![user.0, id], thread_from_row)
        .optional()?)
}

/// Marks thread `id` of `user` read; false when it is not theirs.
pub fn mark_read(conn: &Connection, user: UserId, id: ThreadId) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE notifications SET unread = 0, last_read_at = ?3 WHERE user_id = ?1 AND id = ?2",
        params![user.0, id, crate::time::now()],
    )? > 0)
}

/// Removes thread `id` of `user` (GitHub's "mark as done").
pub fn remove(conn: &Connection, user: UserId, id: ThreadId) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM notifications WHERE user_id = ?1 AND id = ?2",
        params![user.0, id],
    )? > 0)
}

/// Marks every thread of `user` (of `repo`, if given) updated before
/// `before` read. Returns how many were unread.
pub fn mark_all_read(conn: &Connection, user: UserId, repo: Option<RepoId>, before: i64) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE notifications SET unread = 0, last_read_at = ?4
         WHERE user_id = ?1 AND unread = 1 AND (?2 IS NULL OR repo_id = ?2) AND updated_at <= ?3",
        params![user.0, repo.map(|r| r.0), before, crate::time::now()],
    )?)
}

/// Whether `user` watches `repo`, and since when.
pub fn watching(conn: &Connection, user: UserId, repo: RepoId) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT created_at FROM watches WHERE user_id = ?1 AND repo_id = ?2")?
        .query_row(params![user.0, repo.0], |r| r.get(0))
        .optional()?)
}

/// Starts (`true`) or stops watching `repo`.
pub fn set_watching(conn: &Connection, user: UserId, repo: RepoId, on: bool) -> Result<()> {
    if on {
        conn.execute(
            "INSERT OR IGNORE INTO watches (user_id, repo_id, created_at) VALUES (?1, ?2, ?3)",
            params![user.0, repo.0, crate::time::now()],
        )?;
    } else {
        conn.execute(
            "DELETE FROM watches WHERE user_id = ?1 AND repo_id = ?2",
            params![user.0, repo.0],
        )?;
    }
    Ok(())
}

/// The repositories `user` watches and may still read, by name.
pub fn watched(conn: &Connection, user: UserId) -> Result<Vec<RepoId>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT r.id FROM watches w JOIN repos r ON r.id = w.repo_id JOIN users o ON o.id = r.owner_id
         WHERE w.user_id = ?1 AND {STILL_READABLE} ORDER BY o.lower_name, r.lower_name"
    ))?;
    let rows = stmt.query_map([user.0], |r| Ok(RepoId(r.get(0)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sets whether this server sends e-mail: while it does not, no thread is
/// queued for it, and what was queued is dropped.
pub fn set_mail(conn: &Connection, on: bool) -> Result<()> {
    conn.execute(
        "INSERT INTO server_flags (name, value) VALUES ('mail', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [on],
    )?;
    if !on {
        conn.execute(
            "UPDATE notifications SET email = 'none', email_next_at = NULL WHERE email = 'pending'",
            [],
        )?;
    }
    Ok(())
}

/// A thread to e-mail: to whom, and what it says.
#[derive(Debug, Clone)]
pub struct Mail {
    pub id: ThreadId,
    pub to: String,
    pub attempts: i64,
    pub updated_at: i64,
    pub thread: Thread,
}

/// The threads due to be e-mailed at `now`, oldest first.
pub fn mail_due(conn: &Connection, now: i64, limit: u32) -> Result<Vec<Mail>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT n.id, u.email, n.email_attempts, n.updated_at, n.user_id FROM notifications n JOIN users u ON u.id = n.user_id
         WHERE n.email = 'pending' AND n.email_next_at <= ?1 ORDER BY n.email_next_at LIMIT {limit}"
    ))?;
    type Due = (ThreadId, Option<String>, i64, i64, UserId);
    let due: Vec<Due> = stmt
        .query_map([now], |r| {
            Ok((ThreadId(r.get(0)?), r.get(1)?, r.get(2)?, r.get(3)?, UserId(r.get(4)?)))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (id, to, attempts, updated_at, user) in due {
        match (to.filter(|t| !t.is_empty()), get(conn, user, id)?) {
            (Some(to), Some(thread)) => out.push(Mail {
                id,
                to,
                attempts,
                updated_at,
                thread,
            }),
            // No address any more, or the repository is no longer theirs to read.
            _ => mail_sent(conn, id, updated_at, false)?,
        }
    }
    Ok(out)
}

/// Records an e-mail of thread `id` as sent (or given up), unless the
/// thread has had newer activity since (`updated_at`), which is sent next.
pub fn mail_sent(conn: &Connection, id: ThreadId, updated_at: i64, ok: bool) -> Result<()> {
    conn.execute(
        "UPDATE notifications SET email = ?3, email_next_at = NULL WHERE id = ?1 AND updated_at = ?2",
        params![id, updated_at, if ok { "sent" } else { "failed" }],
    )?;
    Ok(())
}

/// An e-mail of thread `id` failed: it is tried again at `next`.
pub fn mail_retry(conn: &Connection, id: ThreadId, next: i64) -> Result<()> {
    conn.execute(
        "UPDATE notifications SET email_attempts = email_attempts + 1, email_next_at = ?2 WHERE id = ?1",
        params![id, next],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::mention_names;

    #[test]
    fn mentions_are_names_after_an_at_sign_outside_code_and_addresses() {
        assert_eq!(mention_names("cc @alice, @Bob. and @alice"), ["alice", "Bob"]);
        assert_eq!(mention_names("mail me@example.com or @carol-"), ["carol"]);
        assert_eq!(
            mention_names("`@dave` and\n```\n@erin\n```\n    @frank\n@gina"),
            ["gina"]
        );
        assert!(mention_names("@ @- @.x").is_empty());
        assert_eq!(mention_names("(@héllo) @h.j_k"), ["h.j_k"]);
    }
}
