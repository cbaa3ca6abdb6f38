//! One pull request: its conversation, commits and files changed.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::diff::*;
use crate::db::issues::{self as issue_rows, Issue, IssueNumber, Item, Key, Label};
use crate::db::pulls::{self as stored, Pull, Verdict};
use crate::error::{Context, Error, Result};
use crate::git::read::{self, FileDiff, Line, Status};
use crate::pulls;
use crate::repos::Access;
use crate::web::access::{Read, RepoAccess};
use crate::web::issues::view::{Entry, TimelineQuery, Window, render, timeline};
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav, ago};

/// A run of the pull request, as its page lists it.
pub struct RunRow {
    number: i64,
    name: String,
    head: String,
    word: &'static str,
    symbol: &'static str,
    tests: Option<(u64, u64)>,
}

/// The merge box: how the viewer may merge, or why not.
pub struct MergeBox {
    methods: Vec<(&'static str, &'static str)>,
    blockers: Vec<String>,
    may_bypass: bool,
    delete_branch: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pulls/view.html")]
pub(super) struct View {
    nav: Nav,
    header: RepoHeader,
    tab: &'static str,
    pull: Pull,
    issue: Issue,
    can_write: bool,
    can_edit: bool,
    body_html: String,
    opened: String,
    timeline: Vec<Entry>,
    runs: Vec<RunRow>,
    /// What outside systems said of the head (`POST …/statuses/{sha}`).
    outside: Vec<crate::web::runs::OutsideStatus>,
    merge: Option<MergeBox>,
    requested: Vec<String>,
    /// The latest verdict of each reviewer.
    verdicts: Vec<(String, &'static str)>,
    labels: Vec<Label>,
    milestones: Vec<String>,
    error: Option<String>,
}

impl View {
    fn has_label(&self, id: &i64) -> bool {
        self.issue.labels.iter().any(|l| l.id == *id)
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Approved => "approved",
        Verdict::ChangesRequested => "requested changes",
        Verdict::Commented => "commented",
        Verdict::Dismissed => "approval dismissed",
    }
}

/// The line comments as the pages show them: which are outdated is looked
/// up in the repository, once per comment, off the runtime.
async fn notes_of(
    state: &AppState,
    access: &RepoAccess<Read>,
    pull: &Pull,
    list: Vec<stored::LineComment>,
) -> Result<Vec<Note>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    // Comments on the head are current; only older ones are looked up in the repository.
    let outdated = if list.iter().all(|c| c.commit_id == pull.head_sha) {
        list.into_iter().map(|c| (false, c)).collect::<Vec<_>>()
    } else {
        let p = pull.clone();
        crate::web::code::with_repo(state, access, move |repo, _| {
            Ok(list
                .into_iter()
                .map(|c| (pulls::is_outdated(repo, &p, &c), c))
                .collect::<Vec<_>>())
        })
        .await?
    };
    Ok(outdated
        .into_iter()
        .map(|(outdated, c)| {
            let tail: Vec<&str> = c.diff_hunk.lines().rev().take(4).collect();
            Note {
                id: c.id,
                review_id: c.review_id,
                author: c.author.clone(),
                html: render(&access.repo, &c.body),
                when: ago(c.created_at),
                outdated,
                hunk_tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                path: c.path,
                line: c.line,
                side: c.side,
            }
        })
        .collect())
}

pub(super) async fn view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    number: IssueNumber,
    from: Option<usize>,
    error: Option<String>,
) -> Result<View> {
    let repo_id = access.repo.id;
    let (pull, keys, reviews, line_comments, requested, labels, milestones, runs, settings) = state
        .db
        .read(move |c| {
            let pull = stored::by_number(c, repo_id, number)?.ok_or(Error::NotFound)?;
            let issue_id = pull.issue.id;
            let runs = crate::db::runs::of_pull(c, repo_id, number.0, 20)?
                .into_iter()
                .map(|(run, head)| {
                    let tests = crate::db::test_reports::totals_of_run(c, run.id)?;
                    Ok((run, head, tests))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((
                pull,
                issue_rows::timeline_keys(c, issue_id)?,
                stored::reviews(c, issue_id)?,
                stored::line_comments(c, issue_id)?,
                stored::requested_reviewers(c, issue_id)?,
                issue_rows::labels(c, repo_id)?,
                issue_rows::milestone_titles(c, repo_id)?,
                runs,
                stored::merge_settings(c, repo_id)?,
            ))
        })
        .await?;
    let writer = access.access >= Access::Write;
    let me = nav.user.as_ref();
    let key_of = |r: &stored::Review| Key {
        at: r.submitted_at,
        item: Item::Review,
        id: r.id,
    };
    let mut keys = keys;
    keys.extend(reviews.iter().map(|r| (key_of(r), r.body.len())));
    keys.sort();
    let window = Window::of(keys, from);
    let (comments, events) = window.read(state, pull.issue.id).await?;
    let mut entries = timeline(&access.repo, comments, events, me, writer);
    let shown = window.ids(Item::Review);
    let line_comments = line_comments
        .into_iter()
        .filter(|c| c.review_id.is_some_and(|r| shown.contains(&r)))
        .collect();
    let notes = notes_of(state, &access, &pull, line_comments).await?;
    let mut verdicts: Vec<(String, &'static str)> = Vec::new();
    for r in reviews {
        if r.verdict != Verdict::Commented || verdicts.iter().all(|(n, _)| *n != r.author) {
            verdicts.retain(|(n, _)| *n != r.author);
            verdicts.push((r.author.clone(), verdict_word(r.verdict)));
        }
        if !shown.contains(&r.id) {
            continue;
        }
        let mine: Vec<Note> = notes.iter().filter(|n| n.review_id == Some(r.id)).cloned().collect();
        entries.push((
            key_of(&r),
            Entry::Review {
                author: r.author,
                verdict: r.verdict.as_str().to_string(),
                html: if r.body.is_empty() {
                    String::new()
                } else {
                    render(&access.repo, &r.body)
                },
                when: ago(r.submitted_at),
                notes: mine,
            },
        ));
    }
    let (repo, head) = (access.repo.clone(), pull.head_sha.clone());
    let outside = state
        .db
        .read(move |c| {
            let mut found = crate::web::runs::statuses(c, &repo, std::slice::from_ref(&head))?;
            Ok(found.remove(&head).map(|s| s.outside).unwrap_or_default())
        })
        .await?;
    let runs = runs
        .into_iter()
        .map(|(run, head, tests)| {
            let (word, symbol) = crate::web::runs::badge(run.status, run.conclusion);
            RunRow {
                number: run.run_number.0,
                name: run.name,
                head,
                word,
                symbol,
                tests,
            }
        })
        .collect();
    let merge = match (&nav.user, writer && pull.is_open()) {
        (Some(user), true) => {
            let (blockers, may_bypass) = pulls::blockers(&state.db, &access.repo, user, access.access, &pull).await?;
            let methods = [
                (settings.merge_commit, ("merge", "Create a merge commit")),
                (settings.squash, ("squash", "Squash and merge")),
                (settings.rebase, ("rebase", "Rebase and merge")),
            ]
            .into_iter()
            .filter_map(|(on, m)| on.then_some(m))
            .collect();
            Some(MergeBox {
                methods,
                blockers,
                may_bypass,
                delete_branch: settings.delete_branch,
            })
        }
        _ => None,
    };
    let own = me.is_some_and(|u| u.name.eq_ignore_ascii_case(&pull.issue.author));
    Ok(View {
        can_edit: writer || own,
        can_write: writer,
        body_html: render(&access.repo, &pull.issue.body),
        opened: ago(pull.issue.created_at),
        header: RepoHeader::new(access.repo, access.access, Tab::Pulls),
        tab: "conversation",
        nav,
        issue: pull.issue.clone(),
        pull,
        timeline: window.fold(entries),
        runs,
        outside,
        merge,
        requested,
        verdicts,
        labels,
        milestones,
        error,
    })
}

#[derive(Deserialize)]
pub(super) struct PageOrDiff {
    /// `12`, or `12.diff` / `12.patch` for the change as text.
    number: String,
}

pub(super) async fn conversation(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PageOrDiff { number }): Path<PageOrDiff>,
    Query(q): Query<TimelineQuery>,
) -> Result<Response> {
    let (n, download) = match number.rsplit_once('.') {
        Some((n, "diff")) => (n, Some(false)),
        Some((n, "patch")) => (n, Some(true)),
        Some(_) => return Err(Error::NotFound),
        None => (number.as_str(), None),
    };
    let n: IssueNumber = n.parse().map_err(|_| Error::NotFound)?;
    let Some(as_patch) = download else {
        return Ok(view(&state, nav, access, n, q.from, None).await?.into_response());
    };
    let pull = pulls::get(&state.db, &access.repo, n).await?;
    let base = pull.merge_base.clone().unwrap_or_else(|| pull.base_sha.clone());
    let head = pull.head_sha.clone();
    use crate::web::code::commit::{PATCH_MAX_COMMITS, cut_note, stream_download, write_diff, write_patch};
    let parse = crate::git::object_id;
    let (base_id, head_id) = (parse(&base)?, parse(&head)?);
    let kind = if as_patch { "patch" } else { "diff" };
    let key = format!("pull-{kind}:{}:{base}..{head}", access.repo.id.0);
    stream_download(&state, &access, key, move |repo, out| {
        if !as_patch {
            write_diff(repo, Some(base_id), head_id, out)?;
            return Ok(None);
        }
        let commits = crate::git::merge::commits_between(repo, &base, &head)?.unwrap_or_default();
        for id in commits.iter().take(PATCH_MAX_COMMITS) {
            if !write_patch(repo, *id, true, out)? {
                return Ok(None);
            }
        }
        Ok((commits.len() > PATCH_MAX_COMMITS)
            .then(|| cut_note(&format!("only the first {PATCH_MAX_COMMITS} commits are here"))))
    })
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "pulls/commits.html")]
pub(super) struct CommitsView {
    nav: Nav,
    header: RepoHeader,
    tab: &'static str,
    pull: Pull,
    commits: Vec<CommitRow>,
}

pub(super) async fn commits(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
) -> Result<CommitsView> {
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    let base = pull.merge_base.clone().unwrap_or_else(|| pull.base_sha.clone());
    let commits = commit_list(&state, &access, base, pull.head_sha.clone()).await?;
    Ok(CommitsView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Pulls),
        tab: "commits",
        pull,
        commits,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "pulls/files.html")]
pub(super) struct FilesView {
    nav: Nav,
    header: RepoHeader,
    tab: &'static str,
    pull: Pull,
    body: Arc<str>,
    paths: Vec<String>,
    /// Line comments that no longer apply to the head's files.
    outdated: Vec<Note>,
    error: Option<String>,
}

/// The diff part of the files page, with the comments under their lines:
/// the same for everyone, rendered once per head, base and set of comments.
#[derive(Template)]
#[template(path = "pulls/files_body.html")]
pub(super) struct FilesBody<'a> {
    base: &'a str,
    rev: &'a str,
    diff_link: &'a str,
    files: &'a [FileDiff],
    additions: usize,
    deletions: usize,
    truncated: bool,
    diff: &'a Diff,
}

impl FilesBody<'_> {
    fn notes(&self, path: &str, line: &Line) -> &[Note] {
        self.diff.notes_at(path, line)
    }
}

pub(super) async fn files_view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    number: IssueNumber,
    error: Option<String>,
) -> Result<FilesView> {
    let repo_id = access.repo.id;
    let (pull, list) = state
        .db
        .read(move |c| {
            let pull = stored::by_number(c, repo_id, number)?.ok_or(Error::NotFound)?;
            let list = stored::line_comments(c, pull.issue.id)?;
            Ok((pull, list))
        })
        .await?;
    let key = format!(
        "pullfiles:{}:{}:{}:{}:{}",
        access.repo.id.0,
        pull.merge_base.as_deref().unwrap_or(""),
        pull.head_sha,
        list.len(),
        list.last().map_or(0, |c| c.id)
    );
    let notes = notes_of(state, &access, &pull, list).await?;
    let outdated: Vec<Note> = notes
        .iter()
        .filter(|n| n.outdated || n.side == "LEFT")
        .cloned()
        .collect();
    let base = access.repo.url();
    let rev = pull.head_sha.clone();
    let diff_link = format!("{base}/pulls/{number}/files");
    let (pages, b, r, d_link) = (state.pages.clone(), base, rev, diff_link);
    let (old, new) = (pull.merge_base.clone(), pull.head_sha.clone());
    let paths_key = format!("{key}:paths");
    // In the steady state both parts are made already: no trip to the repository.
    let cached = state.pages.get(&key).zip(state.pages.get(&paths_key));
    let (body, paths) = match cached {
        Some((body, paths)) => (body, paths.lines().map(str::to_string).collect()),
        None => {
            crate::web::code::with_repo(state, &access, move |repo, _| {
                let diff = std::cell::OnceCell::new();
                let compute = || -> Result<Diff> {
                    let parse = crate::git::object_id;
                    let old = old.as_deref().map(parse).transpose()?;
                    Ok(Diff::of(
                        read::diff_between(repo, old, parse(&new)?, pulls::REVIEW_LIMITS)?,
                        notes.clone(),
                    ))
                };
                let body = pages.fragment(key, || {
                    let d = diff.get_or_init(&compute);
                    let d = d.as_ref().map_err(|e| Error::internal(e.to_string()))?;
                    FilesBody {
                        base: &b,
                        rev: &r,
                        diff_link: &d_link,
                        files: &d.files,
                        additions: d.additions,
                        deletions: d.deletions,
                        truncated: d.truncated,
                        diff: d,
                    }
                    .render()
                    .context("template")
                })?;
                let paths = pages.fragment(paths_key, || {
                    let d = diff.get_or_init(&compute);
                    let d = d.as_ref().map_err(|e| Error::internal(e.to_string()))?;
                    Ok(d.files
                        .iter()
                        .map(|f| f.new_path.as_str())
                        .collect::<Vec<_>>()
                        .join("\n"))
                })?;
                Ok((body, paths.lines().map(str::to_string).collect::<Vec<_>>()))
            })
            .await?
        }
    };
    Ok(FilesView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Pulls),
        tab: "files",
        pull,
        body,
        paths,
        outdated,
        error,
    })
}

pub(super) async fn files(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
) -> Result<FilesView> {
    files_view(&state, nav, access, number, None).await
}
