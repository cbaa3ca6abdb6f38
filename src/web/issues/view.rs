//! `/{owner}/{repo}/issues/{n}`: an issue, its timeline (comments and events
//! in order), the commits that reference it, and the forms that change it;
//! `/issues/new` to open one.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::db::issues::IssueNumber;
use crate::db::issues::{self as stored, Issue, Label};
use crate::db::repos::Repo;
use crate::error::{Error, Result};
use crate::issues::{self, Change};
use crate::markup;
use crate::web::access::{Read, RepoAccess};
use crate::web::accounts::capitalize;
use crate::web::auth::{CsrfForm, NoFields, SignedIn};
use crate::web::code::markdown_links;
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav, ago};

#[derive(Deserialize)]
pub struct IssuePath {
    number: IssueNumber,
}

#[derive(Deserialize)]
pub struct CommentPath {
    number: IssueNumber,
    comment: i64,
}

fn issue_url(repo: &Repo, number: IssueNumber) -> String {
    format!("{}/issues/{number}", repo.url())
}

/// Markdown of an issue or comment; relative links point into the repository.
pub(crate) fn render(repo: &Repo, text: &str) -> String {
    let base = repo.url();
    markup::markdown(text, Some(&markdown_links(&base, &repo.default_branch, "")))
}

#[derive(Template, WebTemplate)]
#[template(path = "issues/new.html")]
pub struct NewView {
    nav: Nav,
    header: RepoHeader,
    title: String,
    body: String,
    error: Option<String>,
}

pub async fn new_form(SignedIn(_): SignedIn, nav: Nav, access: RepoAccess<Read>) -> NewView {
    NewView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Issues),
        title: String::new(),
        body: String::new(),
        error: None,
    }
}

#[derive(Deserialize)]
pub struct NewForm {
    title: String,
    #[serde(default)]
    body: String,
}

pub async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    CsrfForm(form): CsrfForm<NewForm>,
) -> Result<Response> {
    let created = issues::create(
        &state.db,
        &access.repo,
        &user,
        access.access,
        &form.title,
        &form.body,
        Default::default(),
    )
    .await;
    match created {
        Ok(number) => Ok(Redirect::to(&issue_url(&access.repo, number)).into_response()),
        Err(e @ (Error::Invalid(_) | Error::TooLarge(_))) => {
            let status = if matches!(e, Error::TooLarge(_)) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let view = NewView {
                nav,
                header: RepoHeader::new(access.repo, access.access, Tab::Issues),
                title: form.title,
                body: form.body,
                error: Some(capitalize(&e.to_string())),
            };
            Ok((status, view).into_response())
        }
        Err(e) => Err(e),
    }
}

/// One entry of the timeline.
pub(crate) enum Entry {
    Comment {
        id: i64,
        author: String,
        html: String,
        source: String,
        when: String,
        edited: bool,
        can_change: bool,
    },
    Event {
        actor: String,
        text: String,
        commit: Option<String>,
        when: String,
    },
    /// A pull request's review, with its line comments.
    Review {
        author: String,
        verdict: String,
        html: String,
        when: String,
        notes: Vec<crate::web::pulls::Note>,
    },
    /// `hidden` entries not shown, from position `from` of the timeline.
    Fold { hidden: usize, from: usize },
}

#[derive(Template, WebTemplate)]
#[template(path = "issues/view.html")]
pub struct View {
    nav: Nav,
    header: RepoHeader,
    can_write: bool,
    can_edit: bool,
    issue: Issue,
    body_html: String,
    opened: String,
    timeline: Vec<Entry>,
    /// The commits that reference it, their runs and where they went.
    commits: Vec<crate::web::runs::CommitReach>,
    labels: Vec<Label>,
    milestones: Vec<String>,
    error: Option<String>,
}

impl View {
    fn has_label(&self, id: &i64) -> bool {
        self.issue.labels.iter().any(|l| l.id == *id)
    }
}

fn event_text(kind: &str, detail: &str) -> (String, bool) {
    let column = |c: &str| match c {
        "in_progress" => "In progress",
        "done" => "Done",
        _ => "To do",
    };
    match kind {
        "closed" if detail == "not_planned" => ("closed this as not planned".into(), false),
        "closed" => ("closed this as completed".into(), false),
        "reopened" => ("reopened this".into(), false),
        "labeled" => (format!("added the label {detail}"), false),
        "unlabeled" => (format!("removed the label {detail}"), false),
        "assigned" => (format!("assigned {detail}"), false),
        "unassigned" => (format!("unassigned {detail}"), false),
        "milestoned" => (format!("added this to the {detail} milestone"), false),
        "demilestoned" => ("removed this from its milestone".into(), false),
        "moved" => (format!("moved this to {} on the board", column(detail)), false),
        "referenced" => ("referenced this issue in commit".into(), true),
        "closed_by_commit" => ("closed this in commit".into(), true),
        "closed_by_pull" => (format!("closed this by merging pull request #{detail}"), false),
        "merged" => ("merged this in commit".into(), true),
        "pushed" => ("pushed the head to".into(), true),
        "base_changed" => (format!("changed the base branch to {detail}"), false),
        "head_ref_deleted" => (format!("deleted the branch {detail}, which closed this"), false),
        "converted_to_draft" => ("marked this as a draft".into(), false),
        "ready_for_review" => ("marked this ready for review".into(), false),
        "review_requested" => (format!("requested a review from {detail}"), false),
        "review_request_removed" => (format!("removed the review request for {detail}"), false),
        other => (other.replace('_', " "), false),
    }
}

/// `?from=`: where a long timeline's middle is shown from.
#[derive(Deserialize, Default)]
pub struct TimelineQuery {
    pub from: Option<usize>,
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
    let (issue, keys, commits, labels, milestones) = state
        .db
        .read(move |c| {
            let issue = stored::by_number(c, repo_id, number)?.ok_or(Error::NotFound)?;
            let keys = stored::timeline_keys(c, issue.id)?;
            let commits = stored::referencing_commits(c, issue.id, 50)?;
            Ok((
                issue,
                keys,
                commits,
                stored::labels(c, repo_id)?,
                stored::milestone_titles(c, repo_id)?,
            ))
        })
        .await?;
    let window = Window::of(keys, from);
    let (comments, events) = window.read(state, issue.id).await?;
    let writer = issues::is_writer(access.access);
    let me = nav.user.as_ref();
    let entries = timeline(&access.repo, comments, events, me, writer);
    let commits = crate::web::runs::reach(state, &access, commits).await?;
    let own = me.is_some_and(|u| u.name.eq_ignore_ascii_case(&issue.author));
    Ok(View {
        can_edit: writer || own,
        can_write: writer,
        body_html: render(&access.repo, &issue.body),
        opened: ago(issue.created_at),
        header: RepoHeader::new(access.repo, access.access, Tab::Issues),
        nav,
        issue,
        timeline: window.fold(entries),
        commits,
        labels,
        milestones,
        error,
    })
}

/// How many entries a long timeline shows at its start, from `?from=` on,
/// and at its end, and how much of their text at most; what lies between
/// is folded.
const HEAD: usize = 20;
const CHUNK: usize = 100;
const TAIL: usize = 30;
const TEXT_BUDGET: usize = 4 << 20;

/// The part of a timeline one page shows: its last `TAIL` entries, the
/// `CHUNK` from `?from=` when asked, and its first `HEAD`, as far as
/// `TEXT_BUDGET` allows (the newest entry, and the one `?from=` names, are
/// always shown). Each gap is one fold linking to the page that shows it,
/// so a timeline of any length is read a bounded page at a time, and only
/// the shown entries' text is read at all.
pub(crate) struct Window {
    shown: Vec<stored::Key>,
    folds: Vec<Fold>,
}

/// A gap in the timeline: `hidden` entries from position `from`, after the
/// shown entry `after` (none when the gap opens the timeline).
struct Fold {
    after: Option<stored::Key>,
    hidden: usize,
    from: usize,
}

impl From<Fold> for Entry {
    fn from(f: Fold) -> Entry {
        Entry::Fold {
            hidden: f.hidden,
            from: f.from,
        }
    }
}

impl Window {
    pub(crate) fn of(keys: Vec<(stored::Key, usize)>, from: Option<usize>) -> Window {
        let total = keys.len();
        let mut show = vec![false; total];
        let mut budget = TEXT_BUDGET;
        let mut take = |positions: &mut dyn Iterator<Item = usize>, first_always: bool| {
            for (n, p) in positions.enumerate() {
                let size = keys[p].1;
                if show[p] {
                    continue;
                }
                if size > budget && !(first_always && n == 0) {
                    break;
                }
                budget = budget.saturating_sub(size);
                show[p] = true;
            }
        };
        take(&mut (total.saturating_sub(TAIL)..total).rev(), true);
        if let Some(f) = from.filter(|f| *f < total) {
            take(&mut (f..f.saturating_add(CHUNK).min(total)), true);
        }
        take(&mut (0..HEAD.min(total)), false);
        let (mut shown, mut folds) = (Vec::new(), Vec::new());
        for (p, &(key, _)) in keys.iter().enumerate() {
            if show[p] {
                shown.push(key);
            } else if p == 0 || show[p - 1] {
                folds.push(Fold {
                    after: p.checked_sub(1).map(|q| keys[q].0),
                    hidden: 1,
                    from: p,
                });
            } else if let Some(f) = folds.last_mut() {
                f.hidden += 1;
            }
        }
        Window { shown, folds }
    }

    /// The ids of the shown entries of one kind.
    pub(crate) fn ids(&self, item: stored::Item) -> Vec<i64> {
        self.shown.iter().filter(|k| k.item == item).map(|k| k.id).collect()
    }

    /// The text of the shown comments and events.
    pub(crate) async fn read(
        &self,
        state: &AppState,
        issue: stored::IssueId,
    ) -> Result<(Vec<stored::Comment>, Vec<stored::Event>)> {
        let comments = self.ids(stored::Item::Comment);
        let events = self.ids(stored::Item::Event);
        state
            .db
            .read(move |c| {
                Ok((
                    stored::comments_among(c, issue, &comments)?,
                    stored::events_among(c, issue, &events)?,
                ))
            })
            .await
    }

    /// The shown entries in order, with each fold in its place.
    pub(crate) fn fold(self, mut entries: Vec<(stored::Key, Entry)>) -> Vec<Entry> {
        entries.sort_by_key(|(k, _)| *k);
        let mut folds = self.folds.into_iter().peekable();
        let mut out = Vec::with_capacity(entries.len() + 2);
        for (key, entry) in entries {
            while let Some(f) = folds.next_if(|f| f.after < Some(key)) {
                out.push(f.into());
            }
            out.push(entry);
        }
        out.extend(folds.map(Entry::from));
        out
    }
}

/// The comments and events of an issue or pull request as timeline
/// entries, each with its place in the timeline.
pub(crate) fn timeline(
    repo: &Repo,
    comments: Vec<stored::Comment>,
    events: Vec<stored::Event>,
    me: Option<&crate::db::users::User>,
    writer: bool,
) -> Vec<(stored::Key, Entry)> {
    let mut timeline = Vec::with_capacity(comments.len() + events.len());
    for c in comments {
        let can_change = me.is_some_and(|u| u.id == c.author_id) || writer;
        let key = stored::Key {
            at: c.created_at,
            item: stored::Item::Comment,
            id: c.id,
        };
        timeline.push((
            key,
            Entry::Comment {
                id: c.id,
                html: render(repo, &c.body),
                source: c.body,
                author: c.author,
                when: ago(c.created_at),
                edited: c.updated_at > c.created_at,
                can_change,
            },
        ));
    }
    for e in events {
        let (text, is_commit) = event_text(&e.kind, &e.detail);
        let key = stored::Key {
            at: e.created_at,
            item: stored::Item::Event,
            id: e.id,
        };
        timeline.push((
            key,
            Entry::Event {
                actor: e.actor.unwrap_or_else(|| "someone".into()),
                text,
                commit: is_commit.then_some(e.detail),
                when: ago(e.created_at),
            },
        ));
    }
    timeline
}

pub async fn handle(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
    Query(q): Query<TimelineQuery>,
) -> Result<Response> {
    let page = view(&state, nav, access, number, q.from, None).await?;
    if page.issue.is_pull {
        // As on GitHub: a pull request's number under /issues leads to it.
        return Ok(Redirect::to(&format!("{}/pulls/{number}", page.header.repo.url())).into_response());
    }
    Ok(page.into_response())
}

/// Runs a change; a mistake in the form shows the issue again with the message.
async fn apply(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    number: IssueNumber,
    result: Result<()>,
    anchor: &str,
) -> Result<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("{}{anchor}", issue_url(&access.repo, number))).into_response()),
        Err(e @ (Error::Invalid(_) | Error::TooLarge(_))) => {
            let status = if matches!(e, Error::TooLarge(_)) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let page = view(state, nav, access, number, None, Some(capitalize(&e.to_string()))).await?;
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    title: String,
    #[serde(default)]
    body: String,
}

pub async fn edit(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
    CsrfForm(form): CsrfForm<EditForm>,
) -> Result<Response> {
    let change = Change {
        title: Some(form.title),
        body: Some(form.body),
        ..Default::default()
    };
    let result = issues::update(&state.db, &access.repo, &user, access.access, number, change).await;
    apply(&state, nav, access, number, result, "").await
}

#[derive(Deserialize)]
pub struct StateForm {
    state: String,
    #[serde(default)]
    reason: String,
}

pub async fn set_state(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
    CsrfForm(form): CsrfForm<StateForm>,
) -> Result<Response> {
    let change = Change {
        state: Some(form.state),
        reason: Some(form.reason),
        ..Default::default()
    };
    let result = issues::update(&state.db, &access.repo, &user, access.access, number, change).await;
    apply(&state, nav, access, number, result, "").await
}

#[derive(Deserialize)]
pub struct CommentForm {
    body: String,
}

pub async fn add_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Result<Response> {
    let result = issues::comment(&state.db, &access.repo, &user, number, &form.body).await;
    let anchor = result.as_ref().map(|id| format!("#comment-{id}")).unwrap_or_default();
    apply(&state, nav, access, number, result.map(|_| ()), &anchor).await
}

pub async fn edit_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(CommentPath { number, comment }): Path<CommentPath>,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Result<Response> {
    let result = issues::change_comment(
        &state.db,
        &access.repo,
        &user,
        access.access,
        number,
        comment,
        Some(&form.body),
    )
    .await;
    apply(&state, nav, access, number, result, &format!("#comment-{comment}")).await
}

pub async fn delete_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(CommentPath { number, comment }): Path<CommentPath>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response> {
    let result = issues::change_comment(&state.db, &access.repo, &user, access.access, number, comment, None).await;
    apply(&state, nav, access, number, result, "").await
}

/// The sidebar form: labels as `label:NAME` checkboxes, assignees as a
/// comma-separated list, the milestone and the board column.
pub async fn update_sidebar(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    let labels = form
        .keys()
        .filter_map(|k| k.strip_prefix("label:"))
        .map(str::to_string)
        .collect();
    let assignees = form
        .get("assignees")
        .map(|a| {
            a.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let change = Change {
        labels: Some(labels),
        assignees: Some(assignees),
        milestone: Some(form.get("milestone").cloned().unwrap_or_default()),
        column: form.get("column").cloned(),
        ..Default::default()
    };
    let result = issues::update(&state.db, &access.repo, &user, access.access, number, change).await;
    apply(&state, nav, access, number, result, "").await
}

#[cfg(test)]
mod tests {
    use super::*;
    use stored::{Item, Key};

    fn keys(sizes: &[usize]) -> Vec<(Key, usize)> {
        let key = |i: usize| Key {
            at: i as i64,
            item: Item::Comment,
            id: i as i64,
        };
        sizes.iter().enumerate().map(|(i, s)| (key(i), *s)).collect()
    }

    /// (positions shown, (from, hidden) of each fold)
    fn layout(w: &Window) -> (Vec<i64>, Vec<(usize, usize)>) {
        let shown = w.shown.iter().map(|k| k.id).collect();
        (shown, w.folds.iter().map(|f| (f.from, f.hidden)).collect())
    }

    #[test]
    fn a_short_timeline_is_shown_whole() {
        let (shown, folds) = layout(&Window::of(keys(&[10; 50]), None));
        assert_eq!(shown.len(), 50);
        assert!(folds.is_empty());
    }

    #[test]
    fn a_long_timeline_folds_its_middle_and_from_opens_it_a_chunk_at_a_time() {
        let (shown, folds) = layout(&Window::of(keys(&[10; 500]), None));
        assert_eq!(shown.len(), HEAD + TAIL);
        assert_eq!(folds, [(HEAD, 500 - HEAD - TAIL)]);
        let (shown, folds) = layout(&Window::of(keys(&[10; 500]), Some(HEAD)));
        assert_eq!(shown.len(), HEAD + CHUNK + TAIL);
        assert_eq!(folds, [(HEAD + CHUNK, 500 - HEAD - CHUNK - TAIL)]);
        let (_, folds) = layout(&Window::of(keys(&[10; 500]), Some(400)));
        assert_eq!(folds, [(HEAD, 400 - HEAD)], "the chunk reaches the tail");
        let (shown, _) = layout(&Window::of(keys(&[10; 500]), Some(usize::MAX)));
        assert_eq!(shown.len(), HEAD + TAIL, "a from beyond the end shows no chunk");
    }

    #[test]
    fn large_entries_are_shown_as_far_as_the_text_budget_allows() {
        let mb = 1 << 20;
        let (shown, folds) = layout(&Window::of(keys(&[mb; 40]), None));
        assert_eq!(shown, [36, 37, 38, 39], "the newest four megabytes");
        assert_eq!(folds, [(0, 36)]);
        let (shown, _) = layout(&Window::of(keys(&[5 * mb; 3]), Some(0)));
        assert_eq!(shown, [0, 2], "the newest and the asked-for entry, whatever their size");
    }
}
