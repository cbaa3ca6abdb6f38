//! Reviews and line comments on a pull request, and who is asked for one.

use std::path::Path;

use super::*;
use crate::db::issues::{self as issue_rows, IssueNumber};
use crate::db::pulls::{self as stored, Pull, Verdict};
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::git::read;
use crate::issues::{self};
use crate::repos::Access;

/// The reviews that count for merging: the latest approving or
/// requesting review of each person who may push, not dismissed.
pub fn review_tally(conn: &rusqlite::Connection, repo: &Repo, reviews: &[stored::Review]) -> Result<(u32, bool)> {
    let mut latest: Vec<&stored::Review> = Vec::new();
    for r in reviews.iter().filter(|r| r.verdict != Verdict::Commented) {
        latest.retain(|l| l.author_id != r.author_id);
        latest.push(r);
    }
    let (mut approvals, mut changes) = (0, false);
    for r in latest {
        let user = db::users::by_id(conn, r.author_id)?;
        if crate::repos::access(conn, repo, user.as_ref())? < Access::Write {
            continue;
        }
        match r.verdict {
            Verdict::Approved => approvals += 1,
            Verdict::ChangesRequested => changes = true,
            _ => {}
        }
    }
    Ok((approvals, changes))
}

/// One line comment as asked for: a line of the new (RIGHT) or old (LEFT)
/// side of a file in the diff.
#[derive(Debug, Clone)]
pub struct LineInput {
    pub path: String,
    pub line: i64,
    pub side: String,
    pub body: String,
}

/// The anchor of a line comment: the file's blob on that side and the
/// diff hunk up to the line, as GitHub's `diff_hunk`.
fn anchor(path: &Path, pull: &Pull, c: &LineInput) -> Result<(String, String)> {
    let repo = crate::git::open(path)?;
    let parse = crate::git::object_id;
    let old = pull.merge_base.as_deref().map(parse).transpose()?;
    let diff = read::diff_between(&repo, old, parse(&pull.head_sha)?, REVIEW_LIMITS)?;
    let not_in_diff = || {
        Error::Unprocessable(format!(
            "line {} of {} ({}) is not part of the diff",
            c.line,
            c.path,
            if c.side == "LEFT" { "old side" } else { "new side" }
        ))
    };
    let file = diff
        .files
        .iter()
        .find(|f| f.new_path == c.path)
        .ok_or_else(not_in_diff)?;
    let left = c.side == "LEFT";
    let blob = if left { file.old_id } else { file.new_id };
    for h in &file.hunks {
        let mut text = h.header.clone();
        for l in &h.lines {
            let sign = match l.kind {
                read::LineKind::Context => ' ',
                read::LineKind::Add => '+',
                read::LineKind::Remove => '-',
            };
            text.push('\n');
            text.push(sign);
            text.push_str(&l.text);
            let no = if left { l.old_no } else { l.new_no };
            if no.is_some_and(|n| i64::from(n) == c.line) {
                let blob = blob.map(|b| b.to_string()).unwrap_or_default();
                return Ok((blob, text));
            }
        }
    }
    Err(not_in_diff())
}

/// A review as submitted: GitHub's `event`, a summary, and line comments.
#[derive(Debug, Clone)]
pub struct NewReview {
    pub verdict: Verdict,
    pub body: String,
    pub comments: Vec<LineInput>,
    /// The head the reviewer saw; the current head when not given.
    pub commit_id: Option<String>,
}

/// Submits a review of pull request `number`; anyone who may read the
/// repository may comment, approve or ask for changes (only reviews of
/// people who may push count for merging). Returns the review's id.
pub async fn review(
    db: &Db,
    path: &Path,
    repo: &Repo,
    reviewer: &User,
    number: IssueNumber,
    r: NewReview,
) -> Result<i64> {
    let pull = get(db, repo, number).await?;
    if !pull.is_open() {
        return Err(Error::Unprocessable("this pull request is closed".into()));
    }
    let own = pull.issue.author.eq_ignore_ascii_case(&reviewer.name);
    match r.verdict {
        Verdict::Approved if own => {
            return Err(Error::Unprocessable("you cannot approve your own pull request".into()));
        }
        Verdict::ChangesRequested if own => {
            return Err(Error::Unprocessable(
                "you cannot request changes on your own pull request".into(),
            ));
        }
        Verdict::ChangesRequested if r.body.trim().is_empty() => {
            return Err(Error::Unprocessable(
                "say which changes you ask for in the review's text".into(),
            ));
        }
        Verdict::Commented if r.body.trim().is_empty() && r.comments.is_empty() => {
            return Err(Error::Unprocessable(
                "a comment review needs text or line comments".into(),
            ));
        }
        Verdict::Dismissed => return Err(Error::Unprocessable("a review cannot be submitted as dismissed".into())),
        _ => {}
    }
    issues::check_body(&r.body)?;
    let anchored = anchor_all(path, &pull, &r.comments).await?;
    let commit = r.commit_id.clone().unwrap_or_else(|| pull.head_sha.clone());
    let (issue, author) = (pull.issue.id, reviewer.id);
    db.write(move |tx| {
        let review = stored::insert_review(tx, issue, author, r.verdict, &r.body, &commit)?;
        insert_anchored(tx, issue, author, Some(review), &commit, &anchored)?;
        let said: Vec<&str> = std::iter::once(r.body.as_str())
            .chain(anchored.iter().map(|(c, _, _)| c.body.as_str()))
            .collect();
        db::notifications::of_comment(tx, issue, author, r.verdict.did(), &said.join("\n"))?;
        stored::unrequest_review(tx, issue, author)?;
        issue_rows::touch(tx, issue)?;
        Ok(review)
    })
    .await
}

type Anchored = Vec<(LineInput, String, String)>;

async fn anchor_all(path: &Path, pull: &Pull, comments: &[LineInput]) -> Result<Anchored> {
    for c in comments {
        if c.body.trim().is_empty() {
            return Err(Error::Unprocessable("a line comment must not be empty".into()));
        }
        issues::check_body(&c.body)?;
        if c.side != "LEFT" && c.side != "RIGHT" {
            return Err(Error::Unprocessable(format!(
                "side must be LEFT or RIGHT, not {:?}",
                c.side
            )));
        }
    }
    if comments.len() > 100 {
        return Err(Error::Unprocessable("a review holds 100 line comments at most".into()));
    }
    let (dir, p, list) = (path.to_path_buf(), pull.clone(), comments.to_vec());
    crate::error::blocking("review task", move || -> Result<Anchored> {
        list.into_iter()
            .map(|c| anchor(&dir, &p, &c).map(|(blob, hunk)| (c, blob, hunk)))
            .collect()
    })
    .await?
}

fn insert_anchored(
    tx: &rusqlite::Connection,
    issue: issue_rows::IssueId,
    author: db::users::UserId,
    review: Option<i64>,
    commit: &str,
    anchored: &Anchored,
) -> Result<Vec<i64>> {
    anchored
        .iter()
        .map(|(c, blob, hunk)| {
            stored::insert_line_comment(
                tx,
                issue,
                author,
                &stored::NewLineComment {
                    review,
                    path: &c.path,
                    line: c.line,
                    side: &c.side,
                    commit_id: commit,
                    blob_id: blob,
                    diff_hunk: hunk,
                    body: &c.body,
                    in_reply_to: None,
                },
            )
        })
        .collect()
}

/// One line comment outside a review (the API's `POST …/comments`).
pub async fn line_comment(
    db: &Db,
    path: &Path,
    repo: &Repo,
    author: &User,
    number: IssueNumber,
    c: LineInput,
) -> Result<i64> {
    let pull = get(db, repo, number).await?;
    let anchored = anchor_all(path, &pull, std::slice::from_ref(&c)).await?;
    let (issue, who, commit) = (pull.issue.id, author.id, pull.head_sha.clone());
    db.write(move |tx| {
        let ids = insert_anchored(tx, issue, who, None, &commit, &anchored)?;
        db::notifications::of_comment(tx, issue, who, "commented on a line", &anchored[0].0.body)?;
        issue_rows::touch(tx, issue)?;
        Ok(ids[0])
    })
    .await
}

/// Whether a line comment no longer applies: its file on that side is not
/// what it was when the comment was made.
pub fn is_outdated(repo: &gix::Repository, pull: &Pull, c: &stored::LineComment) -> bool {
    if c.commit_id == pull.head_sha {
        return false;
    }
    let commit = if c.side == "LEFT" {
        pull.merge_base.clone()
    } else {
        Some(pull.head_sha.clone())
    };
    let Some(Ok(commit)) = commit.map(|h| gix::ObjectId::from_hex(h.as_bytes())) else {
        return true;
    };
    match read::lookup(repo, commit, &c.path) {
        Ok(Some(read::Found::File { id, .. })) => gix::ObjectId::from_hex(c.blob_id.as_bytes()).ok() != Some(id),
        _ => true,
    }
}

/// Asks `add` for a review and takes `remove` off; people who may push may.
pub async fn request_reviewers(
    db: &Db,
    repo: &Repo,
    actor: &User,
    access: Access,
    number: IssueNumber,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<()> {
    if !issues::is_writer(access) {
        return Err(Error::Forbidden("only people who can push may request reviews".into()));
    }
    let pull = get(db, repo, number).await?;
    let (r, by) = (repo.clone(), Some(actor.id));
    db.write(move |tx| {
        for name in &add {
            let user = db::users::by_name(tx, name.trim())?
                .ok_or_else(|| Error::Unprocessable(format!("there is no user named {name:?}")))?;
            if user.name.eq_ignore_ascii_case(&pull.issue.author) {
                return Err(Error::Unprocessable(
                    "a review cannot be requested from the pull request's author".into(),
                ));
            }
            let collaborates = user.id == r.owner_id || db::collaborators::permission(tx, r.id, user.id)?.is_some();
            if !collaborates {
                return Err(Error::Unprocessable(format!(
                    "reviews may be requested only from collaborators, and {} is not one",
                    user.name
                )));
            }
            if stored::request_review(tx, pull.issue.id, user.id)? {
                issue_rows::add_event(tx, pull.issue.id, by, "review_requested", &user.name)?;
            }
        }
        for name in &remove {
            if let Some(user) = db::users::by_name(tx, name.trim())?
                && stored::unrequest_review(tx, pull.issue.id, user.id)?
            {
                issue_rows::add_event(tx, pull.issue.id, by, "review_request_removed", &user.name)?;
            }
        }
        Ok(())
    })
    .await
}
