//! What the pull request pages share: a pull request's line comments, its
//! branches, its diff and its commits.

use std::collections::HashMap;

use serde::Deserialize;

use crate::db::issues::IssueNumber;
use crate::db::repos::Repo;
use crate::error::Result;
use crate::git::read::{self, FileDiff, Line};
use crate::pulls;
use crate::web::access::{Read, RepoAccess};
use crate::web::{AppState, ago};

/// A line comment as the pages show it.
#[derive(Debug, Clone)]
pub struct Note {
    pub id: i64,
    pub review_id: Option<i64>,
    pub author: String,
    pub path: String,
    pub line: i64,
    pub side: String,
    pub html: String,
    pub when: String,
    pub outdated: bool,
    /// The last lines of its diff hunk, for the conversation.
    pub hunk_tail: String,
}

#[derive(Deserialize)]
pub struct PullPath {
    pub(super) number: IssueNumber,
}

pub(super) fn pull_url(repo: &Repo, number: IssueNumber) -> String {
    format!("{}/pulls/{number}", repo.url())
}

/// The branches of a repository, default first.
pub(super) async fn branches(state: &AppState, access: &RepoAccess<Read>) -> Result<Vec<String>> {
    let default = access.repo.default_branch.clone();
    crate::web::code::with_repo(state, access, move |_, refs| {
        let mut names: Vec<String> = refs.iter().filter(|r| !r.is_tag).map(|r| r.name.clone()).collect();
        names.sort_by_key(|n| (*n != default, n.clone()));
        Ok(names)
    })
    .await
}

/// A diff as the pages show it, with the line comments to put under its lines.
pub struct Diff {
    pub(super) files: Vec<FileDiff>,
    pub(super) additions: usize,
    pub(super) deletions: usize,
    pub(super) truncated: bool,
    pub(super) notes: HashMap<(String, u32), Vec<Note>>,
}

impl Diff {
    pub(super) fn of(diff: read::CommitDiff, notes: Vec<Note>) -> Diff {
        let mut by_line: HashMap<(String, u32), Vec<Note>> = HashMap::new();
        for n in notes.into_iter().filter(|n| !n.outdated && n.side == "RIGHT") {
            by_line.entry((n.path.clone(), n.line as u32)).or_default().push(n);
        }
        Diff {
            additions: diff.files.iter().map(|f| f.additions).sum(),
            deletions: diff.files.iter().map(|f| f.deletions).sum(),
            truncated: diff.truncated,
            files: diff.files,
            notes: by_line,
        }
    }

    pub(super) fn notes_at(&self, path: &str, line: &Line) -> &[Note] {
        match line.new_no {
            Some(n) if line.kind != read::LineKind::Remove => {
                self.notes.get(&(path.to_string(), n)).map(Vec::as_slice).unwrap_or(&[])
            }
            _ => &[],
        }
    }
}

/// The diff from `old` to `new`, or `None` when a side is unknown.
pub(super) async fn diff_of(
    state: &AppState,
    access: &RepoAccess<Read>,
    old: Option<String>,
    new: String,
) -> Result<read::CommitDiff> {
    crate::web::code::with_repo(state, access, move |repo, _| {
        let parse = crate::git::object_id;
        let old = old.as_deref().map(parse).transpose()?;
        read::diff_between(repo, old, parse(&new)?, pulls::REVIEW_LIMITS)
    })
    .await
}

/// The commits from `base` to `head`, newest first: id, summary, author, when.
pub(super) async fn commit_list(
    state: &AppState,
    access: &RepoAccess<Read>,
    base: String,
    head: String,
) -> Result<Vec<CommitRow>> {
    crate::web::code::with_repo(state, access, move |repo, _| {
        let ids = crate::git::merge::commits_between(repo, &base, &head)?.unwrap_or_default();
        let mut rows = Vec::new();
        for id in ids.into_iter().rev() {
            let c = read::commit_info(repo, id)?;
            rows.push(CommitRow {
                sha: id.to_string(),
                summary: c.summary().to_string(),
                author: c.author.name.clone(),
                when: ago(c.author.time),
            });
        }
        Ok(rows)
    })
    .await
}

pub struct CommitRow {
    pub(super) sha: String,
    pub(super) summary: String,
    pub(super) author: String,
    pub(super) when: String,
}
