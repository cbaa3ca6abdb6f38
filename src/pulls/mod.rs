//! Pull request rules: opening one between two branches of a repository,
//! keeping `refs/pull/{n}/head` and the test merge `refs/pull/{n}/merge` up
//! to date as either side moves, reviews and line comments, and merging by
//! a merge commit, a squash or a rebase. Protected branches are `protect`,
//! the push hook that enforces them `hook`. The SQL is in `db::pulls`;
//! what a merge sets off (the push log, CI, closing issues) is the caller's,
//! as for any push.

pub mod hook;
mod merging;
pub mod protect;
mod reviews;

pub use merging::*;
pub use reviews::*;

use std::path::Path;

use crate::db::issues::{self as issue_rows, IssueNumber};
use crate::db::pulls::{self as stored, Mergeable, Method, Pull};
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::git::merge::{self, Expect, Merged, Person};
use crate::git::read;
use crate::issues::{self, Change};
use crate::repos::Access;

/// What a new pull request says.
#[derive(Debug, Clone, Default)]
pub struct NewPullRequest {
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    pub draft: bool,
}

pub(super) fn branch_ref(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

/// The tip of `branch`, if it exists.
pub(super) fn tip(path: &Path, branch: &str) -> Result<Option<String>> {
    Ok(crate::git::list_refs(path)?.remove(&branch_ref(branch)))
}

/// Opens a pull request from `head` into `base`; returns its number. Anyone
/// who may read the repository may.
pub async fn create(db: &Db, path: &Path, repo: &Repo, author: &User, new: NewPullRequest) -> Result<IssueNumber> {
    let title = issues::check_title(&new.title).map_err(unprocessable)?;
    issues::check_body(&new.body)?;
    let (head, base) = (new.head.trim().to_string(), new.base.trim().to_string());
    if head.is_empty() || base.is_empty() {
        return Err(Error::Unprocessable("name both the head and the base branch".into()));
    }
    if head == base {
        return Err(Error::Unprocessable(format!(
            "the head and the base are the same branch ({head}); a pull request merges one branch into another"
        )));
    }
    let (dir, h, b) = (path.to_path_buf(), head.clone(), base.clone());
    let (head_sha, base_sha) = crate::error::blocking("pull request task", move || -> Result<(String, String)> {
        let missing = |name: &str| Error::Unprocessable(format!("there is no branch named {name:?}"));
        let head_sha = tip(&dir, &h)?.ok_or_else(|| missing(&h))?;
        let base_sha = tip(&dir, &b)?.ok_or_else(|| missing(&b))?;
        let repo = crate::git::open(&dir)?;
        if merge::is_ancestor(&repo, &head_sha, &base_sha)? {
            return Err(Error::Unprocessable(format!(
                "there are no commits on {h} that {b} does not have already"
            )));
        }
        Ok((head_sha, base_sha))
    })
    .await??;
    let (repo_id, author_id, body, draft) = (repo.id, author.id, new.body.clone(), new.draft);
    let number = db
        .write(move |tx| {
            if let Some(n) = stored::open_between(tx, repo_id, &head, &base)? {
                return Err(Error::Unprocessable(format!(
                    "a pull request from {head} into {base} is open already: #{n}"
                )));
            }
            let (id, number) = issue_rows::insert(tx, repo_id, author_id, &title, &body)?;
            let new = stored::NewPull {
                head_ref: &head,
                base_ref: &base,
                head_sha: &head_sha,
                base_sha: &base_sha,
                draft,
            };
            stored::insert(tx, repo_id, id, number, &new)?;
            db::notifications::of_issue_opened(tx, id, author_id, &body)?;
            Ok(number)
        })
        .await?;
    refresh(db, path, repo, number, Some(author), Some("opened")).await?;
    Ok(number)
}

pub(super) fn unprocessable(e: Error) -> Error {
    match e {
        Error::Invalid(m) => Error::Unprocessable(m),
        other => other,
    }
}

/// Who Hearth's own commits (the test merges) are by.
pub(super) fn hearth_person() -> Person {
    Person {
        name: "Hearth".into(),
        email: "hearth@localhost".into(),
        time: crate::time::now(),
    }
}

/// What looking at both sides of a pull request found.
struct Sides {
    head_sha: String,
    base_sha: String,
    merge_base: Option<String>,
    mergeable: Mergeable,
    merge_sha: Option<String>,
    conflicts: Vec<String>,
    /// The base contains the head: it was merged by a push.
    merged_by_push: bool,
}

/// Both tips of `pull` now; when either moved (or nothing is known yet),
/// `refs/pull/{n}/head` and the test merge `refs/pull/{n}/merge` are
/// written again.
fn compare(path: &Path, pull: &Pull) -> Result<Compared> {
    // The refs are read once: both tips, and whether a test merge is there.
    let mut refs = crate::git::list_refs(path)?;
    let Some(head_sha) = refs.remove(&branch_ref(&pull.head_ref)) else {
        return Ok(Compared::HeadGone);
    };
    let base_sha = refs
        .remove(&branch_ref(&pull.base_ref))
        .unwrap_or_else(|| pull.base_sha.clone());
    if head_sha == pull.head_sha && base_sha == pull.base_sha && pull.mergeable != Mergeable::Unknown {
        return Ok(Compared::Unchanged);
    }
    let repo = crate::git::open(path)?;
    let n = pull.number();
    let head_id = crate::git::object_id(&head_sha)?;
    merge::set_ref(&repo, &format!("refs/pull/{n}/head"), head_id, Expect::Any)?;
    let merge_base = merge::merge_base(&repo, &base_sha, &head_sha)?.map(|b| b.to_string());
    let merged_by_push = merge_base.as_deref() == Some(head_sha.as_str());
    let merge_ref = format!("refs/pull/{n}/merge");
    let (mergeable, merge_sha, conflicts) = match merge::merge_commits(&repo, &base_sha, &head_sha)? {
        Merged::Clean(tree) => {
            let parents = [crate::git::object_id(&base_sha)?, head_id];
            let who = hearth_person();
            let message = format!("Merge {head_sha} into {base_sha}\n");
            let commit = merge::write_commit(&repo, tree, &parents, &who.signature(), &who, &message)?;
            merge::set_ref(&repo, &merge_ref, commit, Expect::Any)?;
            (Mergeable::Clean, Some(commit.to_string()), Vec::new())
        }
        Merged::Conflict(paths) => {
            if refs.contains_key(&merge_ref) {
                merge::delete_ref(&repo, &merge_ref, Expect::Any)?;
            }
            (Mergeable::Conflict, None, paths)
        }
    };
    Ok(Compared::Moved(Sides {
        head_sha,
        base_sha,
        merge_base,
        mergeable,
        merge_sha,
        conflicts,
        merged_by_push,
    }))
}

/// What looking at a pull request's branches again found.
enum Compared {
    Unchanged,
    /// The head branch was deleted: the pull request closes, as on GitHub.
    HeadGone,
    Moved(Sides),
}

/// Looks at both sides of pull request `number` again (after a push, or
/// when it is opened or reopened) and records what changed: the tips, the
/// test merge, a `synchronize` event for CI when the head moved (or
/// `action`), and stale approvals dismissed where the base's rule says so.
/// A head the base contains already is marked merged, as GitHub does.
pub async fn refresh(
    db: &Db,
    path: &Path,
    repo: &Repo,
    number: IssueNumber,
    actor: Option<&User>,
    action: Option<&'static str>,
) -> Result<()> {
    let repo_id = repo.id;
    let Some(pull) = db.read(move |c| stored::by_number(c, repo_id, number)).await? else {
        return Ok(());
    };
    if !pull.is_open() {
        return Ok(());
    }
    let (dir, p) = (path.to_path_buf(), pull.clone());
    let sides = match crate::error::blocking("pull request task", move || compare(&dir, &p)).await?? {
        Compared::Moved(sides) => sides,
        Compared::HeadGone => {
            let (issue, head, actor) = (pull.issue.id, pull.head_sha.clone(), actor.map(|a| a.id));
            let branch = pull.head_ref.clone();
            return db
                .write(move |tx| {
                    if issue_rows::set_state(tx, issue, "closed", Some("not_planned"))? {
                        issue_rows::add_event(tx, issue, actor, "head_ref_deleted", &branch)?;
                        stored::add_event(tx, repo_id, issue, "closed", &head, None, actor)?;
                    }
                    Ok(())
                })
                .await;
        }
        Compared::Unchanged => {
            if let Some(action) = action {
                let (head, merge_sha, actor) = (pull.head_sha.clone(), pull.merge_sha.clone(), actor.map(|a| a.id));
                db.write(move |tx| {
                    stored::add_event(tx, repo_id, pull.issue.id, action, &head, merge_sha.as_deref(), actor)
                })
                .await?;
            }
            return Ok(());
        }
    };
    let head_moved = sides.head_sha != pull.head_sha;
    let actor = actor.map(|a| a.id);
    db.write(move |tx| {
        let issue = pull.issue.id;
        stored::set_tips(
            tx,
            issue,
            &stored::Tips {
                head_sha: &sides.head_sha,
                base_sha: &sides.base_sha,
                merge_base: sides.merge_base.as_deref(),
                mergeable: sides.mergeable,
                merge_sha: sides.merge_sha.as_deref(),
                conflicts: &sides.conflicts,
            },
        )?;
        if sides.merged_by_push && action.is_none() {
            let by = actor.unwrap_or(pull_author(tx, issue)?);
            stored::set_merged(tx, issue, by, &sides.head_sha, Method::Merge)?;
            issue_rows::set_state(tx, issue, "closed", Some("completed"))?;
            issue_rows::add_event(tx, issue, actor, "merged", &sides.head_sha)?;
            stored::add_event(tx, repo_id, issue, "closed", &sides.head_sha, None, actor)?;
            return Ok(());
        }
        if head_moved && action.is_none() {
            issue_rows::add_event(tx, issue, actor, "pushed", &sides.head_sha)?;
            let rules = db::protections::list(tx, repo_id)?;
            if protect::rule_for(&rules, &pull.base_ref).is_some_and(|r| r.dismiss_stale) {
                stored::dismiss_stale(tx, issue, &sides.head_sha)?;
            }
        }
        let action = action.or(head_moved.then_some("synchronize"));
        if let Some(action) = action {
            stored::add_event(
                tx,
                repo_id,
                issue,
                action,
                &sides.head_sha,
                sides.merge_sha.as_deref(),
                actor,
            )?;
        }
        Ok(())
    })
    .await
}

pub(super) fn pull_author(tx: &rusqlite::Connection, issue: issue_rows::IssueId) -> Result<db::users::UserId> {
    Ok(db::users::UserId(tx.query_row(
        "SELECT author_id FROM issues WHERE id = ?1",
        [issue],
        |r| r.get(0),
    )?))
}

/// After `branches` moved (a push or a merge): every open pull request with
/// one of them as head or base is looked at again.
pub async fn after_push(db: &Db, path: &Path, repo: &Repo, branches: &[String], pusher: Option<&User>) -> Result<()> {
    let mut numbers: Vec<IssueNumber> = Vec::new();
    for b in branches {
        let (id, b) = (repo.id, b.clone());
        for n in db.read(move |c| stored::open_touching(c, id, &b)).await? {
            if !numbers.contains(&n) {
                numbers.push(n);
            }
        }
    }
    for n in numbers {
        if let Err(e) = refresh(db, path, repo, n, pusher, None).await {
            tracing::error!("updating pull request #{n} of {}: {e}", repo.full_name());
        }
    }
    Ok(())
}

/// A change to a pull request: its text and state as for an issue, and
/// its base branch or draft state.
#[derive(Debug, Default, Clone)]
pub struct Update {
    pub title: Option<String>,
    pub body: Option<String>,
    pub state: Option<String>,
    pub base: Option<String>,
    pub draft: Option<bool>,
}

pub async fn update(
    db: &Db,
    path: &Path,
    repo: &Repo,
    actor: &User,
    access: Access,
    number: IssueNumber,
    u: Update,
) -> Result<()> {
    let pull = get(db, repo, number).await?;
    if u.state.as_deref() == Some("open") && pull.is_merged() {
        return Err(Error::Unprocessable("a merged pull request cannot be reopened".into()));
    }
    let own = pull.issue.author.eq_ignore_ascii_case(&actor.name);
    if (u.base.is_some() || u.draft.is_some()) && !(own || issues::is_writer(access)) {
        return Err(Error::Forbidden(
            "only the author and people who can push may change this pull request".into(),
        ));
    }
    if let Some(base) = &u.base {
        let (dir, b) = (path.to_path_buf(), base.clone());
        if base == &pull.head_ref {
            return Err(Error::Unprocessable("the base cannot be the head branch".into()));
        }
        if crate::error::blocking("pull request task", move || tip(&dir, &b))
            .await??
            .is_none()
        {
            return Err(Error::Unprocessable(format!("there is no branch named {base:?}")));
        }
    }
    if u.state.as_deref() == Some("open") && !pull.is_open() {
        let (dir, head) = (path.to_path_buf(), pull.head_ref.clone());
        if crate::error::blocking("pull request task", move || tip(&dir, &head))
            .await??
            .is_none()
        {
            return Err(Error::Unprocessable(format!(
                "the head branch {} is gone; push it again to reopen this pull request",
                pull.head_ref
            )));
        }
    }
    let change = Change {
        title: u.title.clone(),
        body: u.body.clone(),
        state: u.state.clone(),
        ..Default::default()
    };
    issues::update(db, repo, actor, access, number, change).await?;
    let (issue, actor_id, repo_id) = (pull.issue.id, actor.id, repo.id);
    let (base, draft, old_base) = (u.base.clone(), u.draft, pull.base_ref.clone());
    let (head_sha, merge_sha) = (pull.head_sha.clone(), pull.merge_sha.clone());
    db.write(move |tx| {
        if let Some(b) = base.filter(|b| *b != old_base) {
            stored::set_base(tx, issue, &b)?;
            issue_rows::add_event(tx, issue, Some(actor_id), "base_changed", &b)?;
        }
        if let Some(d) = draft
            && stored::set_draft(tx, issue, d)?
        {
            let kind = if d { "converted_to_draft" } else { "ready_for_review" };
            issue_rows::add_event(tx, issue, Some(actor_id), kind, "")?;
            stored::add_event(
                tx,
                repo_id,
                issue,
                kind,
                &head_sha,
                merge_sha.as_deref(),
                Some(actor_id),
            )?;
        }
        Ok(())
    })
    .await?;
    match (u.state.as_deref(), pull.is_open()) {
        (Some("closed"), true) => {
            let (head, merge_sha) = (pull.head_sha.clone(), pull.merge_sha.clone());
            db.write(move |tx| {
                stored::add_event(
                    tx,
                    repo_id,
                    issue,
                    "closed",
                    &head,
                    merge_sha.as_deref(),
                    Some(actor_id),
                )
            })
            .await?
        }
        (Some("open"), false) => refresh(db, path, repo, number, Some(actor), Some("reopened")).await?,
        _ if u.base.is_some() => refresh(db, path, repo, number, Some(actor), Some("edited")).await?,
        _ => {}
    }
    Ok(())
}

pub async fn get(db: &Db, repo: &Repo, number: IssueNumber) -> Result<Pull> {
    let id = repo.id;
    db.read(move |c| stored::by_number(c, id, number))
        .await?
        .ok_or(Error::NotFound)
}

/// What a review may show of a diff.
pub const REVIEW_LIMITS: read::Limits = read::Limits {
    max_files: 300,
    max_file_lines: 3000,
    max_total_lines: 20_000,
    max_blob_bytes: 4 << 20,
    max_total_bytes: 32 << 20,
};

/// How big the change of `pull` is: its commits and its diff's totals.
pub fn stats(path: &Path, pull: &Pull) -> Result<crate::github::PullStats> {
    let repo = crate::git::open(path)?;
    let base = pull.merge_base.clone().unwrap_or_else(|| pull.base_sha.clone());
    let commits = merge::commits_between(&repo, &base, &pull.head_sha)?.map_or(merge::MAX_COMMITS, |c| c.len());
    let parse = crate::git::object_id;
    let diff = read::diff_between(&repo, Some(parse(&base)?), parse(&pull.head_sha)?, REVIEW_LIMITS)?;
    Ok(crate::github::PullStats {
        commits,
        review_comments: 0,
        additions: diff.files.iter().map(|f| f.additions).sum(),
        deletions: diff.files.iter().map(|f| f.deletions).sum(),
        changed_files: diff.files.len(),
    })
}
