//! Merging a pull request: what blocks it, the merge itself (a merge
//! commit, a squash or a rebase), and deleting its head branch.

use std::path::{Path, PathBuf};

use super::*;
use crate::db::issues::{self as issue_rows, IssueNumber};
use crate::db::pulls::{self as stored, Mergeable, Method, Pull};
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::git::merge::{self, Expect, Merged, Person};
use crate::git::read;
use crate::repos::Access;

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
