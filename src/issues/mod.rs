//! Issue rules: what is a valid title, body, label or milestone; who may
//! change what; and how commits pushed to a repository reference and close
//! issues. The SQL is in `db::issues`.

pub mod refs;

use crate::db::issues::{self as stored, Issue};
use crate::db::repos::Repo;
use crate::db::users::{User, UserId};
use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::repos::Access;

pub const TITLE_MAX_CHARS: usize = 256;
pub const BODY_MAX_BYTES: usize = 1 << 20;

pub fn check_title(title: &str) -> Result<String> {
    let t = title.trim();
    if t.is_empty() {
        return Err(Error::invalid("the title must not be empty"));
    }
    if t.chars().count() > TITLE_MAX_CHARS {
        return Err(Error::invalid(format!(
            "the title is too long ({TITLE_MAX_CHARS} characters at most)"
        )));
    }
    Ok(t.to_string())
}

pub fn check_body(body: &str) -> Result<()> {
    if body.len() > BODY_MAX_BYTES {
        return Err(Error::TooLarge(format!(
            "the text is too long ({} KiB at most)",
            BODY_MAX_BYTES >> 10
        )));
    }
    Ok(())
}

/// Six hex digits, with or without `#`.
pub fn check_color(color: &str) -> Result<String> {
    let c = color.trim().trim_start_matches('#');
    if c.len() == 6 && c.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(c.to_ascii_lowercase())
    } else {
        Err(Error::invalid(format!(
            "{color:?} is not a colour; use six hex digits like d73a4a"
        )))
    }
}

/// `YYYY-MM-DD`, or nothing.
pub fn check_date(date: Option<&str>) -> Result<Option<String>> {
    let Some(d) = date.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    // The API may send a full timestamp; the date part is what counts.
    let d = d.get(..10).unwrap_or(d);
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 10 && b[4] == b'-' && b[7] == b'-' && digits(0..4) && digits(5..7) && digits(8..10);
    let (month, day): (u32, u32) = if ok {
        (d[5..7].parse().unwrap_or(0), d[8..10].parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    if ok && (1..=12).contains(&month) && (1..=31).contains(&day) {
        Ok(Some(d.to_string()))
    } else {
        Err(Error::invalid(format!("{d:?} is not a date; use YYYY-MM-DD")))
    }
}

/// May `user` change labels, milestones, assignees and others' issues?
pub fn is_writer(access: Access) -> bool {
    access >= Access::Write
}

/// What a new issue carries besides its text; only writers may set these.
#[derive(Debug, Default, Clone)]
pub struct Extras {
    pub labels: Vec<String>,
    pub milestone: Option<String>,
    pub assignees: Vec<String>,
}

impl Extras {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.milestone.is_none() && self.assignees.is_empty()
    }
}

/// Opens an issue; returns its number.
pub async fn create(
    db: &Db,
    repo: &Repo,
    author: &User,
    access: Access,
    title: &str,
    body: &str,
    extras: Extras,
) -> Result<stored::IssueNumber> {
    let title = check_title(title)?;
    check_body(body)?;
    if !extras.is_empty() && !is_writer(access) {
        return Err(Error::Forbidden(
            "only people who can push may set labels, milestones and assignees".into(),
        ));
    }
    let (repo, author, body) = (repo.clone(), author.clone(), body.to_string());
    db.write(move |tx| {
        let (id, number) = stored::insert(tx, repo.id, author.id, &title, &body)?;
        apply_extras(tx, &repo, id, author.id, &extras)?;
        db::hooks::note(tx, repo.id, "issues", Some("opened"), id.0, Some(author.id), None)?;
        db::notifications::of_issue_opened(tx, id, author.id, &body)?;
        Ok(number)
    })
    .await
}

fn apply_extras(
    tx: &rusqlite::Connection,
    repo: &Repo,
    issue: stored::IssueId,
    actor: UserId,
    extras: &Extras,
) -> Result<()> {
    for name in &extras.labels {
        let label = stored::label_by_name(tx, repo.id, name)?
            .ok_or_else(|| Error::invalid(format!("this repository has no label {name:?}")))?;
        if stored::add_label(tx, issue, label.id)? {
            stored::add_event(tx, issue, Some(actor), "labeled", &label.name)?;
        }
    }
    if let Some(title) = &extras.milestone {
        set_milestone_in(tx, repo, issue, actor, Some(title))?;
    }
    for name in &extras.assignees {
        assign_in(tx, repo, issue, actor, name, true)?;
    }
    Ok(())
}

fn set_milestone_in(
    tx: &rusqlite::Connection,
    repo: &Repo,
    issue: stored::IssueId,
    actor: UserId,
    title: Option<&str>,
) -> Result<()> {
    let milestone = match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Some(
            stored::milestone_by_title(tx, repo.id, t)?
                .ok_or_else(|| Error::invalid(format!("this repository has no milestone {t:?}")))?,
        ),
        None => None,
    };
    if stored::set_milestone(tx, issue, milestone.as_ref().map(|m| m.id))? {
        match milestone {
            Some(m) => stored::add_event(tx, issue, Some(actor), "milestoned", &m.title)?,
            None => stored::add_event(tx, issue, Some(actor), "demilestoned", "")?,
        };
    }
    Ok(())
}

/// Assignees are the owner and the collaborators of the repository.
fn assign_in(
    tx: &rusqlite::Connection,
    repo: &Repo,
    issue: stored::IssueId,
    actor: UserId,
    name: &str,
    add: bool,
) -> Result<()> {
    let user = db::users::by_name(tx, name.trim())?
        .ok_or_else(|| Error::invalid(format!("there is no user named {name:?}")))?;
    if add {
        let allowed = user.id == repo.owner_id || db::collaborators::permission(tx, repo.id, user.id)?.is_some();
        if !allowed {
            return Err(Error::invalid(format!(
                "{} has no access to this repository",
                user.name
            )));
        }
        if stored::add_assignee(tx, issue, user.id)? {
            stored::add_event(tx, issue, Some(actor), "assigned", &user.name)?;
        }
    } else if stored::remove_assignee(tx, issue, user.id)? {
        stored::add_event(tx, issue, Some(actor), "unassigned", &user.name)?;
    }
    Ok(())
}

/// A change to an existing issue; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct Change {
    pub title: Option<String>,
    pub body: Option<String>,
    /// "open" or "closed".
    pub state: Option<String>,
    /// "completed" or "not_planned", when closing.
    pub reason: Option<String>,
    /// Replaces all labels.
    pub labels: Option<Vec<String>>,
    pub add_labels: Vec<String>,
    pub remove_labels: Vec<String>,
    /// `Some("")` removes the milestone.
    pub milestone: Option<String>,
    /// Replaces all assignees.
    pub assignees: Option<Vec<String>>,
    pub add_assignees: Vec<String>,
    pub remove_assignees: Vec<String>,
    /// Board column: "todo", "in_progress" or "done".
    pub column: Option<String>,
}

/// Applies `change` to issue `number` as `actor`, checking permissions:
/// the author may edit and close their own issue; writers may do anything.
pub async fn update(
    db: &Db,
    repo: &Repo,
    actor: &User,
    access: Access,
    number: stored::IssueNumber,
    change: Change,
) -> Result<()> {
    let title = change.title.as_deref().map(check_title).transpose()?;
    if let Some(b) = &change.body {
        check_body(b)?;
    }
    let state = match change.state.as_deref() {
        None => None,
        Some(s @ ("open" | "closed")) => Some(s.to_string()),
        Some(other) => {
            return Err(Error::invalid(format!("state must be open or closed, not {other:?}")));
        }
    };
    let reason = match change.reason.as_deref() {
        None | Some("") => None,
        Some(r @ ("completed" | "not_planned")) => Some(r.to_string()),
        Some(other) => {
            return Err(Error::invalid(format!(
                "the reason must be completed or not_planned, not {other:?}"
            )));
        }
    };
    if let Some(c) = &change.column
        && !["todo", "in_progress", "done"].contains(&c.as_str())
    {
        return Err(Error::invalid(format!(
            "the column must be todo, in_progress or done, not {c:?}"
        )));
    }
    let writer = is_writer(access);
    let manages = change.labels.is_some()
        || !change.add_labels.is_empty()
        || !change.remove_labels.is_empty()
        || change.milestone.is_some()
        || change.assignees.is_some()
        || !change.add_assignees.is_empty()
        || !change.remove_assignees.is_empty()
        || change.column.is_some();
    if manages && !writer {
        return Err(Error::Forbidden(
            "only people who can push may change labels, milestones, assignees and the board".into(),
        ));
    }
    let (repo, actor) = (repo.clone(), actor.clone());
    db.write(move |tx| {
        let issue = stored::by_number(tx, repo.id, number)?.ok_or(Error::NotFound)?;
        let own = issue.author.eq_ignore_ascii_case(&actor.name);
        if !writer && !own && (title.is_some() || change.body.is_some() || state.is_some()) {
            return Err(Error::Forbidden(
                "only the author and people who can push may edit or close this issue".into(),
            ));
        }
        if title.is_some() || change.body.is_some() {
            let t = title.unwrap_or_else(|| issue.title.clone());
            let b = change.body.clone().unwrap_or_else(|| issue.body.clone());
            stored::update_text(tx, issue.id, &t, &b)?;
            // GitHub's `changes`: what the title and body were.
            let mut changes = serde_json::Map::new();
            if t != issue.title {
                changes.insert("title".into(), serde_json::json!({ "from": issue.title }));
            }
            if b != issue.body {
                changes.insert("body".into(), serde_json::json!({ "from": issue.body }));
            }
            if !changes.is_empty() {
                let event = if issue.is_pull { "pull_request" } else { "issues" };
                let extra = serde_json::json!({ "changes": changes });
                db::hooks::note(
                    tx,
                    repo.id,
                    event,
                    Some("edited"),
                    issue.id.0,
                    Some(actor.id),
                    Some(&extra),
                )?;
            }
        }
        if let Some(s) = &state {
            let reason = if s == "closed" {
                Some(reason.as_deref().unwrap_or("completed"))
            } else {
                None
            };
            if stored::set_state(tx, issue.id, s, reason)? {
                let kind = if s == "closed" { "closed" } else { "reopened" };
                stored::add_event(tx, issue.id, Some(actor.id), kind, reason.unwrap_or(""))?;
            }
        }
        let mut labels: Vec<String> = Vec::new();
        if let Some(all) = &change.labels {
            for old in &issue.labels {
                if !all.iter().any(|n| n.eq_ignore_ascii_case(&old.name)) && stored::remove_label(tx, issue.id, old.id)?
                {
                    stored::add_event(tx, issue.id, Some(actor.id), "unlabeled", &old.name)?;
                }
            }
            labels.extend(all.iter().cloned());
        }
        labels.extend(change.add_labels.iter().cloned());
        for name in &change.remove_labels {
            let label = stored::label_by_name(tx, repo.id, name)?
                .ok_or_else(|| Error::invalid(format!("this repository has no label {name:?}")))?;
            if stored::remove_label(tx, issue.id, label.id)? {
                stored::add_event(tx, issue.id, Some(actor.id), "unlabeled", &label.name)?;
            }
        }
        let mut assignees: Vec<String> = Vec::new();
        if let Some(all) = &change.assignees {
            for old in &issue.assignees {
                if !all.iter().any(|n| n.eq_ignore_ascii_case(old)) {
                    assign_in(tx, &repo, issue.id, actor.id, old, false)?;
                }
            }
            assignees.extend(all.iter().cloned());
        }
        assignees.extend(change.add_assignees.iter().cloned());
        for name in &change.remove_assignees {
            assign_in(tx, &repo, issue.id, actor.id, name, false)?;
        }
        apply_extras(
            tx,
            &repo,
            issue.id,
            actor.id,
            &Extras {
                labels,
                milestone: None,
                assignees,
            },
        )?;
        if let Some(m) = &change.milestone {
            set_milestone_in(tx, &repo, issue.id, actor.id, Some(m))?;
        }
        if let Some(c) = &change.column
            && stored::set_column(tx, issue.id, c)?
        {
            stored::add_event(tx, issue.id, Some(actor.id), "moved", c)?;
        }
        stored::touch(tx, issue.id)?;
        Ok(())
    })
    .await
}

pub async fn get(db: &Db, repo: &Repo, number: stored::IssueNumber) -> Result<Issue> {
    let id = repo.id;
    db.read(move |c| stored::by_number(c, id, number))
        .await?
        .ok_or(Error::NotFound)
}

/// Comments on an issue; anyone who can read the repository may.
pub async fn comment(db: &Db, repo: &Repo, author: &User, number: stored::IssueNumber, body: &str) -> Result<i64> {
    if body.trim().is_empty() {
        return Err(Error::invalid("the comment must not be empty"));
    }
    check_body(body)?;
    let (repo_id, author_id, body) = (repo.id, author.id, body.to_string());
    db.write(move |tx| {
        let issue = stored::by_number(tx, repo_id, number)?.ok_or(Error::NotFound)?;
        let id = stored::add_comment(tx, issue.id, author_id, &body)?;
        db::hooks::note(tx, repo_id, "issue_comment", Some("created"), id, Some(author_id), None)?;
        db::notifications::of_comment(tx, issue.id, author_id, "commented", &body)?;
        Ok(id)
    })
    .await
}

/// What a comment was, kept for its `deleted` announcement.
fn comment_snapshot(c: &stored::Comment) -> serde_json::Value {
    serde_json::json!({
        "id": c.id, "author": c.author, "author_id": c.author_id.0, "body": c.body,
        "created_at": c.created_at, "updated_at": c.updated_at,
    })
}

/// Edits (`Some(body)`) or deletes (`None`) a comment: its author may, and
/// writers moderate.
pub async fn change_comment(
    db: &Db,
    repo: &Repo,
    actor: &User,
    access: Access,
    number: stored::IssueNumber,
    comment: i64,
    body: Option<&str>,
) -> Result<()> {
    if let Some(b) = body {
        if b.trim().is_empty() {
            return Err(Error::invalid("the comment must not be empty"));
        }
        check_body(b)?;
    }
    let (repo_id, actor_id, body) = (repo.id, actor.id, body.map(str::to_string));
    db.write(move |tx| {
        let issue = stored::by_number(tx, repo_id, number)?.ok_or(Error::NotFound)?;
        let c = stored::comment(tx, issue.id, comment)?.ok_or(Error::NotFound)?;
        if c.author_id != actor_id && !is_writer(access) {
            return Err(Error::Forbidden(
                "you may edit and delete only your own comments".into(),
            ));
        }
        // A deleted comment is announced with what it was.
        let (action, extra) = match &body {
            Some(_) => (
                "edited",
                serde_json::json!({ "changes": { "body": { "from": c.body } } }),
            ),
            None => (
                "deleted",
                serde_json::json!({ "comment": comment_snapshot(&c), "issue": issue.id.0 }),
            ),
        };
        db::hooks::note(
            tx,
            repo_id,
            "issue_comment",
            Some(action),
            comment,
            Some(actor_id),
            Some(&extra),
        )?;
        match &body {
            Some(b) => stored::edit_comment(tx, issue.id, comment, b),
            None => stored::delete_comment(tx, issue.id, comment),
        }
    })
    .await
}

pub async fn create_label(
    db: &Db,
    repo: &Repo,
    access: Access,
    name: &str,
    color: &str,
    description: &str,
) -> Result<stored::Label> {
    if !is_writer(access) {
        return Err(Error::Forbidden("only people who can push may manage labels".into()));
    }
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 50 || name.contains(',') {
        return Err(Error::invalid("a label name has 1 to 50 characters and no comma"));
    }
    let color = check_color(color)?;
    if description.len() > 200 {
        return Err(Error::invalid("the description is too long (200 characters at most)"));
    }
    let (id, description) = (repo.id, description.trim().to_string());
    db.write(move |tx| stored::insert_label(tx, id, &name, &color, &description))
        .await
}

pub async fn create_milestone(
    db: &Db,
    repo: &Repo,
    access: Access,
    title: &str,
    description: &str,
    start_on: Option<&str>,
    due_on: Option<&str>,
) -> Result<i64> {
    if !is_writer(access) {
        return Err(Error::Forbidden(
            "only people who can push may manage milestones".into(),
        ));
    }
    let title = check_title(title)?;
    check_body(description)?;
    let (start, due) = (check_date(start_on)?, check_date(due_on)?);
    if let (Some(s), Some(d)) = (&start, &due)
        && s > d
    {
        return Err(Error::invalid("the start date is after the due date"));
    }
    let (id, description) = (repo.id, description.to_string());
    db.write(move |tx| stored::insert_milestone(tx, id, &title, &description, start.as_deref(), due.as_deref()))
        .await
}
