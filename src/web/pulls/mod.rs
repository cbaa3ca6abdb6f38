//! Pull request pages: the list (`/pulls`, the issue list's machinery), a
//! new pull request comparing two branches, and one pull request's
//! conversation (the issue timeline with its reviews), commits and files
//! changed, with the forms that review, merge, close and ask for reviews.
//! The rules are in `pulls`; a merge is recorded like a push
//! (`git_http::landed`). Protected branch settings are in `settings`.

mod settings;

pub(crate) use settings::keep_rule;

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::access::{Read, RepoAccess};
use super::accounts::capitalize;
use super::auth::{CsrfForm, SignedIn, url_encode};
use super::issues::view::{Entry, TimelineQuery, Window, render, timeline};
use super::repos::{RepoHeader, Tab, clone_url};
use super::{AppState, Nav, ago};
use crate::db::issues::{self as issue_rows, Issue, IssueNumber, Item, Key, Label};
use crate::db::pulls::{self as stored, Method, Pull, Verdict};
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::error::{Context, Error, Result};
use crate::git::read::{self, FileDiff, Line, Status};
use crate::pulls::{self, LineInput, MergeRequest, NewPullRequest, NewReview};
use crate::repos::Access;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/pulls", get(super::issues::pulls_list))
        .route("/{owner}/{repo}/pulls/new", get(new_form).post(create))
        .route("/{owner}/{repo}/pulls/{number}", get(conversation))
        .route("/{owner}/{repo}/pulls/{number}/commits", get(commits))
        .route("/{owner}/{repo}/pulls/{number}/files", get(files))
        .route("/{owner}/{repo}/pulls/{number}/reviews", post(submit_review))
        .route("/{owner}/{repo}/pulls/{number}/merge", post(merge))
        .route("/{owner}/{repo}/pulls/{number}/state", post(set_state))
        .route("/{owner}/{repo}/pulls/{number}/reviewers", post(reviewers))
        .merge(settings::routes())
}

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
    number: IssueNumber,
}

fn pull_url(repo: &Repo, number: IssueNumber) -> String {
    format!("{}/pulls/{number}", repo.url())
}

/// The branches of a repository, default first.
async fn branches(state: &AppState, access: &RepoAccess<Read>) -> Result<Vec<String>> {
    let default = access.repo.default_branch.clone();
    super::code::with_repo(state, access, move |_, refs| {
        let mut names: Vec<String> = refs.iter().filter(|r| !r.is_tag).map(|r| r.name.clone()).collect();
        names.sort_by_key(|n| (*n != default, n.clone()));
        Ok(names)
    })
    .await
}

/// A diff as the pages show it, with the line comments to put under its lines.
pub struct Diff {
    files: Vec<FileDiff>,
    additions: usize,
    deletions: usize,
    truncated: bool,
    notes: HashMap<(String, u32), Vec<Note>>,
}

impl Diff {
    fn of(diff: read::CommitDiff, notes: Vec<Note>) -> Diff {
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

    fn notes_at(&self, path: &str, line: &Line) -> &[Note] {
        match line.new_no {
            Some(n) if line.kind != read::LineKind::Remove => {
                self.notes.get(&(path.to_string(), n)).map(Vec::as_slice).unwrap_or(&[])
            }
            _ => &[],
        }
    }
}

/// The diff from `old` to `new`, or `None` when a side is unknown.
async fn diff_of(
    state: &AppState,
    access: &RepoAccess<Read>,
    old: Option<String>,
    new: String,
) -> Result<read::CommitDiff> {
    super::code::with_repo(state, access, move |repo, _| {
        let parse = crate::git::object_id;
        let old = old.as_deref().map(parse).transpose()?;
        read::diff_between(repo, old, parse(&new)?, pulls::REVIEW_LIMITS)
    })
    .await
}

/// The commits from `base` to `head`, newest first: id, summary, author, when.
async fn commit_list(
    state: &AppState,
    access: &RepoAccess<Read>,
    base: String,
    head: String,
) -> Result<Vec<CommitRow>> {
    super::code::with_repo(state, access, move |repo, _| {
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
    sha: String,
    summary: String,
    author: String,
    when: String,
}

#[derive(Deserialize, Default)]
pub struct CompareQuery {
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    head: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pulls/new.html")]
struct NewView {
    nav: Nav,
    header: RepoHeader,
    branches: Vec<String>,
    base_branch: String,
    head_branch: String,
    title: String,
    body: String,
    error: Option<String>,
    commits: Vec<CommitRow>,
    /// The comparison, once both branches are chosen and differ.
    files: Vec<FileDiff>,
    additions: usize,
    deletions: usize,
    truncated: bool,
    base: String,
    rev: String,
    diff_link: String,
    /// An open pull request for these branches already.
    existing: Option<IssueNumber>,
}

impl NewView {
    fn notes(&self, _path: &str, _line: &Line) -> &[Note] {
        &[]
    }
}

async fn new_view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    q: CompareQuery,
    title: String,
    body: String,
    error: Option<String>,
) -> Result<NewView> {
    let branches = branches(state, &access).await?;
    let base_branch = q
        .base
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| access.repo.default_branch.clone());
    let head_branch = q.head.unwrap_or_default();
    let (mut commits, mut diff, mut existing) = (Vec::new(), None, None);
    let tips = super::code::with_repo(state, &access, {
        let (b, h) = (base_branch.clone(), head_branch.clone());
        move |_, refs| {
            let find = |name: &str| {
                refs.iter()
                    .find(|r| !r.is_tag && r.name == name)
                    .map(|r| r.commit.to_string())
            };
            Ok((find(&b), find(&h)))
        }
    })
    .await?;
    if let (Some(base), Some(head)) = tips
        && base_branch != head_branch
    {
        let mb = super::code::with_repo(state, &access, {
            let (b, h) = (base.clone(), head.clone());
            move |repo, _| crate::git::merge::merge_base(repo, &b, &h)
        })
        .await?
        .map(|m| m.to_string());
        commits = commit_list(state, &access, base.clone(), head.clone()).await?;
        if !commits.is_empty() {
            diff = Some(Diff::of(diff_of(state, &access, mb, head).await?, Vec::new()));
        }
        let (id, h, b) = (access.repo.id, head_branch.clone(), base_branch.clone());
        existing = state.db.read(move |c| stored::open_between(c, id, &h, &b)).await?;
    }
    let title = if title.is_empty() {
        commits.last().map(|c| c.summary.clone()).unwrap_or_default()
    } else {
        title
    };
    let diff = diff.unwrap_or(Diff::of(
        read::CommitDiff {
            files: Vec::new(),
            truncated: false,
        },
        Vec::new(),
    ));
    let base = access.repo.url();
    Ok(NewView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Pulls),
        rev: head_branch.clone(),
        diff_link: format!(
            "{base}/pulls/new?base={}&head={}",
            url_encode(&base_branch),
            url_encode(&head_branch)
        ),
        base,
        branches,
        base_branch,
        head_branch,
        title,
        body,
        error,
        commits,
        files: diff.files,
        additions: diff.additions,
        deletions: diff.deletions,
        truncated: diff.truncated,
        existing,
    })
}

async fn new_form(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Query(q): Query<CompareQuery>,
) -> Result<NewView> {
    new_view(&state, nav, access, q, String::new(), String::new(), None).await
}

#[derive(Deserialize)]
struct NewForm {
    base: String,
    head: String,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    draft: Option<String>,
}

/// A form's mistake shows the form again with the message and the right status.
fn form_error(e: &Error) -> Option<StatusCode> {
    match e {
        Error::Invalid(_)
        | Error::Unprocessable(_)
        | Error::TooLarge(_)
        | Error::NotMergeable(_)
        | Error::WrongState(_) => Some(super::error::status_of(e)),
        _ => None,
    }
}

async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    CsrfForm(form): CsrfForm<NewForm>,
) -> Result<Response> {
    let new = NewPullRequest {
        title: form.title.clone(),
        body: form.body.clone(),
        head: form.head.clone(),
        base: form.base.clone(),
        draft: form.draft.is_some(),
    };
    let created = {
        let _lock = state.push_lock(access.repo.id).lock_owned().await;
        let made = pulls::create(&state.db, &access.path, &access.repo, &user, new).await;
        if made.is_ok() {
            state.ci_after_change(&access.repo).await;
        }
        made
    };
    match created {
        Ok(n) => Ok(Redirect::to(&pull_url(&access.repo, n)).into_response()),
        Err(e) => match form_error(&e) {
            Some(status) => {
                let q = CompareQuery {
                    base: Some(form.base),
                    head: Some(form.head),
                };
                let view = new_view(
                    &state,
                    nav,
                    access,
                    q,
                    form.title,
                    form.body,
                    Some(capitalize(&e.to_string())),
                )
                .await?;
                Ok((status, view).into_response())
            }
            None => Err(e),
        },
    }
}

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
struct View {
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
    outside: Vec<super::runs::OutsideStatus>,
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
        super::code::with_repo(state, access, move |repo, _| {
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

async fn view(
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
            let mut found = super::runs::statuses(c, &repo, std::slice::from_ref(&head))?;
            Ok(found.remove(&head).map(|s| s.outside).unwrap_or_default())
        })
        .await?;
    let runs = runs
        .into_iter()
        .map(|(run, head, tests)| {
            let (word, symbol) = super::runs::badge(run.status, run.conclusion);
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
struct PageOrDiff {
    /// `12`, or `12.diff` / `12.patch` for the change as text.
    number: String,
}

async fn conversation(
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
    use super::code::commit::{PATCH_MAX_COMMITS, cut_note, stream_download, write_diff, write_patch};
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
struct CommitsView {
    nav: Nav,
    header: RepoHeader,
    tab: &'static str,
    pull: Pull,
    commits: Vec<CommitRow>,
}

async fn commits(
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
struct FilesView {
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
struct FilesBody<'a> {
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

async fn files_view(
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
            super::code::with_repo(state, &access, move |repo, _| {
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

async fn files(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
) -> Result<FilesView> {
    files_view(&state, nav, access, number, None).await
}

#[derive(Deserialize)]
struct ReviewForm {
    #[serde(default)]
    event: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    line: String,
    #[serde(default)]
    side: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    commit_id: String,
}

async fn submit_review(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
    CsrfForm(form): CsrfForm<ReviewForm>,
) -> Result<Response> {
    let verdict = match form.event.as_str() {
        "APPROVE" | "approve" => Verdict::Approved,
        "REQUEST_CHANGES" | "request_changes" => Verdict::ChangesRequested,
        _ => Verdict::Commented,
    };
    let mut comments = Vec::new();
    if !form.comment.trim().is_empty() || !form.path.is_empty() {
        let line = form
            .line
            .trim()
            .parse::<i64>()
            .map_err(|_| Error::Unprocessable(format!("{:?} is not a line number", form.line)));
        match line {
            Ok(line) => comments.push(LineInput {
                path: form.path.clone(),
                line,
                side: if form.side.is_empty() {
                    "RIGHT".into()
                } else {
                    form.side.clone()
                },
                body: form.comment.clone(),
            }),
            Err(e) => return shown_on(&state, nav, access, number, e, Back::Files).await,
        }
    }
    let review = NewReview {
        verdict,
        body: form.body,
        comments,
        commit_id: Some(form.commit_id).filter(|c| !c.is_empty()),
    };
    match pulls::review(&state.db, &access.path, &access.repo, &user, number, review).await {
        Ok(_) => Ok(Redirect::to(&pull_url(&access.repo, number)).into_response()),
        Err(e) => shown_on(&state, nav, access, number, e, Back::Files).await,
    }
}

/// Which page a form's mistake is shown on.
#[derive(Clone, Copy)]
enum Back {
    Conversation,
    Files,
}

/// A form's mistake: the page again with the message and the right status.
async fn shown_on(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    number: IssueNumber,
    e: Error,
    back: Back,
) -> Result<Response> {
    let Some(status) = form_error(&e) else { return Err(e) };
    let message = Some(capitalize(&e.to_string()));
    Ok(match back {
        Back::Conversation => (status, view(state, nav, access, number, None, message).await?).into_response(),
        Back::Files => (status, files_view(state, nav, access, number, message).await?).into_response(),
    })
}

#[derive(Deserialize)]
struct MergeForm {
    #[serde(default)]
    method: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    sha: String,
    #[serde(default)]
    delete_branch: Option<String>,
    #[serde(default)]
    bypass: Option<String>,
}

/// Merges as `user` under the push lock, then records it like a push and
/// deletes the head branch when asked.
pub(crate) async fn merge_now(
    state: &AppState,
    headers: &HeaderMap,
    access: &RepoAccess<Read>,
    user: &User,
    number: IssueNumber,
    req: MergeRequest,
    delete_branch: bool,
) -> Result<pulls::Landed> {
    let _lock = state.push_lock(access.repo.id).lock_owned().await;
    let base = clone_url(state, headers, &access.repo)
        .trim_end_matches(".git")
        .to_string();
    let landed = pulls::merge(&state.db, &access.path, &access.repo, user, access.access, number, req).await?;
    super::git_http::landed(state, &access.repo, &access.path, Some(user), true, &base).await;
    if delete_branch && landed.head_ref != access.repo.default_branch {
        pulls::delete_head(&state.db, &access.path, &access.repo, user, &landed).await?;
        super::git_http::landed(state, &access.repo, &access.path, Some(user), true, &base).await;
    }
    Ok(landed)
}

async fn merge(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
    CsrfForm(form): CsrfForm<MergeForm>,
) -> Result<Response> {
    let Some(method) = Method::parse(if form.method.is_empty() { "merge" } else { &form.method }) else {
        let e = Error::Unprocessable(format!(
            "{:?} is not a way of merging (merge, squash or rebase)",
            form.method
        ));
        return shown_on(&state, nav, access, number, e, Back::Conversation).await;
    };
    let req = MergeRequest {
        method,
        title: Some(form.title).filter(|t| !t.trim().is_empty()),
        message: Some(form.message).filter(|m| !m.trim().is_empty()),
        sha: Some(form.sha).filter(|s| !s.is_empty()),
        bypass: form.bypass.is_some(),
    };
    match merge_now(
        &state,
        &headers,
        &access,
        &user,
        number,
        req,
        form.delete_branch.is_some(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&pull_url(&access.repo, number)).into_response()),
        Err(e) => shown_on(&state, nav, access, number, e, Back::Conversation).await,
    }
}

#[derive(Deserialize)]
struct StateForm {
    /// close, reopen, draft or ready.
    action: String,
}

async fn set_state(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
    CsrfForm(form): CsrfForm<StateForm>,
) -> Result<Response> {
    let u = match form.action.as_str() {
        "close" => pulls::Update {
            state: Some("closed".into()),
            ..Default::default()
        },
        "reopen" => pulls::Update {
            state: Some("open".into()),
            ..Default::default()
        },
        "draft" => pulls::Update {
            draft: Some(true),
            ..Default::default()
        },
        "ready" => pulls::Update {
            draft: Some(false),
            ..Default::default()
        },
        other => {
            let e = Error::Unprocessable(format!("{other:?} is not close, reopen, draft or ready"));
            return shown_on(&state, nav, access, number, e, Back::Conversation).await;
        }
    };
    let result = {
        let _lock = state.push_lock(access.repo.id).lock_owned().await;
        let done = pulls::update(&state.db, &access.path, &access.repo, &user, access.access, number, u).await;
        if done.is_ok() {
            state.ci_after_change(&access.repo).await;
        }
        done
    };
    match result {
        Ok(()) => Ok(Redirect::to(&pull_url(&access.repo, number)).into_response()),
        Err(e) => shown_on(&state, nav, access, number, e, Back::Conversation).await,
    }
}

#[derive(Deserialize)]
struct ReviewersForm {
    #[serde(default)]
    add: String,
    #[serde(default)]
    remove: String,
}

fn name_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

async fn reviewers(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
    CsrfForm(form): CsrfForm<ReviewersForm>,
) -> Result<Response> {
    let result = pulls::request_reviewers(
        &state.db,
        &access.repo,
        &user,
        access.access,
        number,
        name_list(&form.add),
        name_list(&form.remove),
    )
    .await;
    match result {
        Ok(()) => Ok(Redirect::to(&pull_url(&access.repo, number)).into_response()),
        Err(e) => shown_on(&state, nav, access, number, e, Back::Conversation).await,
    }
}
