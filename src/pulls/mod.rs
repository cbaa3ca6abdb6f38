//! Pull request rules: opening one between two branches of a repository,
//! keeping `refs/pull/{n}/head` and the test merge `refs/pull/{n}/merge` up
//! to date as either side moves, reviews and line comments, and merging by
//! a merge commit, a squash or a rebase. Protected branches are `protect`,
//! the push hook that enforces them `hook`. The SQL is in `db::pulls`;
//! what a merge sets off (the push log, CI, closing issues) is the caller's,
//! as for any push.

pub mod hook;
pub mod protect;

use std::path::{Path, PathBuf};

use crate::db::issues::{self as issue_rows, IssueNumber};
use crate::db::pulls::{self as stored, Mergeable, Method, Pull, Verdict};
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

fn branch_ref(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

/// The tip of `branch`, if it exists.
fn tip(path: &Path, branch: &str) -> Result<Option<String>> {
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

fn unprocessable(e: Error) -> Error {
    match e {
        Error::Invalid(m) => Error::Unprocessable(m),
        other => other,
    }
}

/// Who Hearth's own commits (the test merges) are by.
fn hearth_person() -> Person {
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

fn pull_author(tx: &rusqlite::Connection, issue: issue_rows::IssueId) -> Result<db::users::UserId> {
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

/// How a merge is asked for.
#[derive(Debug, Clone)]
pub struct MergeRequest {
    pub method: Method,
    pub title: Option<String>,
    pub message: Option<String>,
    /// The head the merger saw: the merge is refused if it moved since.
    pub sha: Option<String>,
    /// Merge although a protection rule is not met, when the merger may.
    pub bypass: bool,
}

/// What a merge did.
#[derive(Debug, Clone)]
pub struct Landed {
    pub sha: String,
    pub base_ref: String,
    pub head_ref: String,
    pub head_sha: String,
}

/// Why pull request `pull` cannot be merged by `merger` now (the
/// protection rule's unmet requirements), or nothing.
pub async fn blockers(db: &Db, repo: &Repo, merger: &User, access: Access, pull: &Pull) -> Result<(Vec<String>, bool)> {
    let (r, p, admin) = (repo.clone(), pull.clone(), access >= Access::Admin);
    let name = merger.name.clone();
    db.read(move |c| {
        let rules = db::protections::list(c, r.id)?;
        let Some(rule) = protect::rule_for(&rules, &p.base_ref) else {
            return Ok((Vec::new(), false));
        };
        let reviews = stored::reviews(c, p.issue.id)?;
        let (approvals, changes_requested) = review_tally(c, &r, &reviews)?;
        let checks = stored::check_results(c, r.id, p.number(), &p.head_sha)?;
        let state = protect::MergeState {
            approvals,
            changes_requested,
            checks: &checks,
            up_to_date: p.merge_base.as_deref() == Some(p.base_sha.as_str()),
        };
        Ok(protect::merge_blockers(rule, &protect::Actor { name, admin }, &state))
    })
    .await
}

/// Merges pull request `number` into its base, as `merger`; the caller
/// holds the repository's push lock and, once this returns, records the
/// ref update like a push's (`begin_push` is done here, before the ref
/// moves, so a crash attributes it too).
pub async fn merge(
    db: &Db,
    path: &Path,
    repo: &Repo,
    merger: &User,
    access: Access,
    number: IssueNumber,
    req: MergeRequest,
) -> Result<Landed> {
    if access < Access::Write {
        return Err(Error::Forbidden("only people who can push may merge".into()));
    }
    refresh(db, path, repo, number, Some(merger), None).await?;
    let pull = get(db, repo, number).await?;
    if pull.is_merged() {
        return Err(Error::NotMergeable("this pull request is merged already".into()));
    }
    if !pull.is_open() {
        return Err(Error::NotMergeable(
            "this pull request is closed; reopen it to merge".into(),
        ));
    }
    if pull.draft {
        return Err(Error::NotMergeable(
            "this pull request is a draft; mark it ready for review first".into(),
        ));
    }
    let id = repo.id;
    let settings = db.read(move |c| stored::merge_settings(c, id)).await?;
    if !settings.allows(req.method) {
        return Err(Error::NotMergeable(format!(
            "{} merges are not allowed in this repository",
            req.method.as_str()
        )));
    }
    if let Some(sha) = &req.sha
        && *sha != pull.head_sha
    {
        return Err(Error::WrongState(format!(
            "the head branch was modified (it is at {} now); review the new commits and try again",
            pull.head_sha
        )));
    }
    if pull.mergeable == Mergeable::Conflict {
        return Err(Error::NotMergeable(format!(
            "this pull request has conflicts with {}: {}; resolve them on {} first",
            pull.base_ref,
            pull.conflicts.join(", "),
            pull.head_ref
        )));
    }
    let (why, may_bypass) = blockers(db, repo, merger, access, &pull).await?;
    if !(why.is_empty() || may_bypass && req.bypass) {
        return Err(Error::NotMergeable(format!(
            "{} is protected: {}",
            pull.base_ref,
            why.join("; ")
        )));
    }
    let who = Person {
        name: merger.name.clone(),
        email: merger
            .email
            .clone()
            .unwrap_or_else(|| format!("{}@users.noreply.hearth", merger.name)),
        time: crate::time::now(),
    };
    let title = req.title.clone().filter(|t| !t.trim().is_empty());
    let message = match req.method {
        Method::Merge => format!(
            "{}\n\n{}\n",
            title.unwrap_or_else(|| format!("Merge pull request #{number} from {}", pull.head_ref)),
            req.message.clone().unwrap_or_else(|| pull.issue.title.clone())
        ),
        _ => {
            let first = title.unwrap_or_else(|| format!("{} (#{number})", pull.issue.title));
            match req.message.clone().filter(|m| !m.trim().is_empty()) {
                Some(m) => format!("{first}\n\n{m}\n"),
                None => format!("{first}\n"),
            }
        }
    };
    let pusher = merger.id;
    db.write(move |tx| db::ref_updates::begin_push(tx, id, pusher)).await?;
    let given_message = req.message.as_deref().is_some_and(|m| !m.trim().is_empty());
    let (dir, p, method) = (path.to_path_buf(), pull.clone(), req.method);
    let sha = crate::error::blocking("merge task", move || -> Result<String> {
        let git = crate::git::open(&dir)?;
        let merged = match method {
            Method::Merge => merge::merge_commit(&git, &p.base_sha, &p.head_sha, &who, &message)?,
            Method::Squash => {
                // As on GitHub, the squashed commits' messages follow the title
                // (so their `fixes #N` still close issues), unless a message was given.
                let mut message = message.clone();
                if !given_message {
                    let commits = merge::commits_between(&git, &p.base_sha, &p.head_sha)?.unwrap_or_default();
                    let list: Vec<String> = commits
                        .iter()
                        .filter_map(|id| read::commit_info(&git, *id).ok())
                        .map(|c| format!("* {}", c.message.trim_end().replace('\n', "\n  ")))
                        .collect();
                    if !list.is_empty() {
                        message = format!("{}\n{}\n", message, list.join("\n\n"));
                    }
                }
                merge::squash(&git, &p.base_sha, &p.head_sha, &who, &message)?
            }
            Method::Rebase => merge::rebase(&git, &p.base_sha, &p.head_sha, &who)?,
        };
        let tip = match merged {
            Merged::Clean(tip) => tip,
            Merged::Conflict(paths) => {
                return Err(Error::NotMergeable(format!(
                    "this pull request cannot be {} cleanly onto {}: {} conflict{}",
                    if method == Method::Rebase { "rebased" } else { "merged" },
                    p.base_ref,
                    paths.join(", "),
                    if paths.len() == 1 { "s" } else { "" }
                )));
            }
        };
        merge::set_ref(&git, &branch_ref(&p.base_ref), tip, Expect::At(p.base_sha.clone()))
            .map_err(|_| Error::WrongState(format!("{} moved while merging; try again", p.base_ref)))?;
        // Merged, there is nothing left to test: the test merge goes (the head ref stays).
        let merge_ref = format!("refs/pull/{}/merge", p.number());
        if crate::git::list_refs(&dir)?.contains_key(&merge_ref) {
            let _ = merge::delete_ref(&git, &merge_ref, Expect::Any);
        }
        Ok(tip.to_string())
    })
    .await??;
    let (issue, merged_sha, head_sha, merge_sha) = (
        pull.issue.id,
        sha.clone(),
        pull.head_sha.clone(),
        pull.merge_sha.clone(),
    );
    // As on GitHub, `fixes #N` in a pull request closes N when it merges into the default branch.
    let closes = if pull.base_ref == repo.default_branch {
        crate::issues::refs::mentions(&format!("{}\n{}", pull.issue.title, pull.issue.body)).1
    } else {
        Vec::new()
    };
    db.write(move |tx| {
        stored::set_merged(tx, issue, pusher, &merged_sha, method)?;
        issue_rows::set_state(tx, issue, "closed", Some("completed"))?;
        issue_rows::add_event(tx, issue, Some(pusher), "merged", &merged_sha)?;
        stored::add_event(tx, id, issue, "closed", &head_sha, merge_sha.as_deref(), Some(pusher))?;
        for n in closes.into_iter().filter(|n| *n != number) {
            let Some(target) = issue_rows::by_number(tx, id, n)? else {
                continue;
            };
            if target.is_pull {
                continue;
            }
            if issue_rows::add_event(tx, target.id, Some(pusher), "closed_by_pull", &number.to_string())?
                && issue_rows::set_state(tx, target.id, "closed", Some("completed"))?
            {
                issue_rows::touch(tx, target.id)?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(Landed {
        sha,
        base_ref: pull.base_ref,
        head_ref: pull.head_ref,
        head_sha: pull.head_sha,
    })
}

/// Deletes the head branch of a merged pull request, if it is where the
/// merge left it; the caller holds the push lock and records the update.
pub async fn delete_head(db: &Db, path: &Path, repo: &Repo, by: &User, landed: &Landed) -> Result<bool> {
    let (id, pusher) = (repo.id, by.id);
    db.write(move |tx| db::ref_updates::begin_push(tx, id, pusher)).await?;
    let (dir, name, sha): (PathBuf, String, String) = (
        path.to_path_buf(),
        branch_ref(&landed.head_ref),
        landed.head_sha.clone(),
    );
    crate::error::blocking("branch task", move || -> Result<bool> {
        let git = crate::git::open(&dir)?;
        Ok(merge::delete_ref(&git, &name, Expect::At(sha)).is_ok())
    })
    .await?
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

/// What a review may show of a diff.
pub const REVIEW_LIMITS: read::Limits = read::Limits {
    max_files: 300,
    max_file_lines: 3000,
    max_total_lines: 20_000,
    max_blob_bytes: 4 << 20,
    max_total_bytes: 32 << 20,
};

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
