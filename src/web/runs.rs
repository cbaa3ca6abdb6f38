//! CI pages: `/{owner}/{repo}/runs` (all runs), `/runs/{n}` (its jobs in
//! the order of their `needs`, with status and duration) and
//! `/runs/{n}/jobs/{job}` (steps and the log; while the job runs, the log
//! streams in over Server-Sent Events, and without JavaScript the page
//! refreshes itself).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;

use super::access::{Read, RepoAccess, Write};
use super::auth::{CsrfForm, NoFields};
use super::{AppState, Nav, ago};
use crate::ci::executor::log_path;
use crate::ci::workflow::InputKind;
use crate::db::repos::Repo;
use crate::db::runs::{self, Job, Run, Step};
use crate::error::{Error, Result};
use crate::repos::Access;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/runs", get(list))
        .route("/{owner}/{repo}/runs/{number}", get(view))
        .route("/{owner}/{repo}/runs/{number}/jobs/{job}", get(job))
        .route("/{owner}/{repo}/runs/{number}/jobs/{job}/stream", get(job_stream))
        .route("/{owner}/{repo}/runs/{number}/artifacts/{name}", get(artifact))
        .route("/{owner}/{repo}/badge.svg", get(badge_svg))
        .route("/{owner}/{repo}/runs/{number}/cancel", axum::routing::post(cancel))
        .route("/{owner}/{repo}/runs/dispatch", get(dispatch_page).post(dispatch))
        .route("/{owner}/{repo}/settings/secrets", get(secrets_page).post(add_secret))
        .route(
            "/{owner}/{repo}/settings/secrets/{name}/delete",
            axum::routing::post(delete_secret),
        )
        .route("/{owner}/{repo}/runs/{number}/rerun", axum::routing::post(rerun))
}

/// The word and symbol for a status: queued, running, success, failure…
pub fn badge(status: &str, conclusion: Option<&str>) -> (&'static str, &'static str) {
    match (status, conclusion) {
        ("queued", _) => ("queued", "○"),
        ("in_progress", _) => ("running", "◔"),
        (_, Some("success")) => ("success", "✓"),
        (_, Some("failure")) => ("failure", "✗"),
        (_, Some("cancelled")) => ("cancelled", "⊘"),
        (_, Some("skipped")) => ("skipped", "–"),
        (_, Some("timed_out")) => ("timed out", "⏱"),
        _ => ("unknown", "?"),
    }
}

/// A run status shown beside a commit: word, symbol and the run's page.
pub struct CiStatus {
    pub word: &'static str,
    pub symbol: &'static str,
    pub url: String,
}

impl CiStatus {
    pub fn new(repo: &Repo, status: &runs::CommitStatus) -> CiStatus {
        let (word, symbol) = badge(&status.status, status.conclusion.as_deref());
        CiStatus {
            word,
            symbol,
            url: format!("/{}/{}/runs/{}", repo.owner, repo.name, status.run_number),
        }
    }
}

/// The statuses of `shas` in `repo`, ready to show.
pub fn statuses(
    conn: &rusqlite::Connection,
    repo: &Repo,
    shas: &[String],
) -> Result<std::collections::HashMap<String, CiStatus>> {
    Ok(runs::status_by_sha(conn, repo.id, shas)?
        .into_iter()
        .map(|(sha, s)| (sha, CiStatus::new(repo, &s)))
        .collect())
}

fn duration(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(s), Some(e)) => format!("{}s", (e - s).max(0)),
        (Some(s), None) => format!("{}s so far", (crate::db::now() - s).max(0)),
        _ => String::new(),
    }
}

pub struct RunRow {
    pub run: Run,
    pub state: (&'static str, &'static str),
    pub when: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/list.html")]
pub struct ListView {
    nav: Nav,
    repo: Repo,
    can_admin: bool,
    tab: &'static str,
    runs: Vec<RunRow>,
    total: i64,
    can_write: bool,
    filter: runs::Filter,
    workflows: Vec<String>,
    statuses: Vec<&'static str>,
    page: u32,
    /// The query of the current filter, for page links.
    query: String,
    more: bool,
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
}

const PER_PAGE: u32 = 50;

async fn list(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Query(filter): Query<runs::Filter>,
    Query(q): Query<ListQuery>,
) -> Result<ListView> {
    let id = access.repo.id;
    let page = q.page.unwrap_or(1).clamp(1, 10_000);
    let f = filter.clone();
    let (list, total, workflows) = state
        .db
        .read(move |c| {
            let (list, total) = runs::list(c, id, &f, PER_PAGE, (page - 1) * PER_PAGE)?;
            Ok((list, total, runs::workflows(c, id)?))
        })
        .await?;
    let mut query = String::new();
    for (k, v) in [
        ("branch", &filter.branch),
        ("workflow", &filter.workflow),
        ("status", &filter.status),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            query.push_str(&format!("{k}={}&", super::auth::url_encode(v)));
        }
    }
    Ok(ListView {
        more: i64::from(page * PER_PAGE) < total,
        page,
        query,
        filter,
        workflows: workflows
            .into_iter()
            .map(|w| w.rsplit('/').next().unwrap_or(&w).to_string())
            .collect(),
        statuses: runs::STATUSES.iter().chain(runs::CONCLUSIONS).copied().collect(),
        nav,
        can_write: access.access >= Access::Write,
        can_admin: access.access >= Access::Admin,
        repo: access.repo,
        tab: "runs",
        runs: list
            .into_iter()
            .map(|run| RunRow {
                state: badge(&run.status, run.conclusion.as_deref()),
                when: ago(run.created_at),
                run,
            })
            .collect(),
        total,
    })
}

pub struct JobRow {
    pub job: Job,
    pub state: (&'static str, &'static str),
    pub took: String,
    /// The environment it deploys to.
    pub environment: Option<String>,
}

pub struct ArtifactRow {
    pub name: String,
    pub size: String,
    pub files: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/view.html")]
pub struct RunView {
    nav: Nav,
    repo: Repo,
    can_admin: bool,
    tab: &'static str,
    run: Run,
    state: (&'static str, &'static str),
    when: String,
    /// Jobs by stage of the `needs` graph.
    stages: Vec<Vec<JobRow>>,
    artifacts: Vec<ArtifactRow>,
    can_write: bool,
}

#[derive(serde::Deserialize)]
pub struct RunPath {
    number: i64,
}

async fn view(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(RunPath { number }): Path<RunPath>,
) -> Result<RunView> {
    let id = access.repo.id;
    let (run, jobs, artifacts) = state
        .db
        .read(move |c| {
            let run = runs::by_number(c, id, number)?.ok_or(Error::NotFound)?;
            let jobs = runs::jobs(c, run.id)?;
            let artifacts = crate::db::artifacts::for_run(c, run.id)?;
            Ok((run, jobs, artifacts))
        })
        .await?;
    // The jobs as a graph: stage 1 needs nothing, stage n needs jobs of
    // earlier stages only.
    let mut stages: Vec<Vec<Job>> = Vec::new();
    let mut rest = jobs;
    while !rest.is_empty() {
        let placed = |key: &String| stages.iter().flatten().any(|o| &o.key == key);
        let (ready, waiting): (Vec<Job>, Vec<Job>) = rest.into_iter().partition(|j| j.needs.iter().all(placed));
        if ready.is_empty() {
            stages.push(waiting);
            break;
        }
        stages.push(ready);
        rest = waiting;
    }
    Ok(RunView {
        nav,
        can_write: access.access >= Access::Write,
        can_admin: access.access >= Access::Admin,
        repo: access.repo,
        tab: "runs",
        state: badge(&run.status, run.conclusion.as_deref()),
        when: ago(run.created_at),
        stages: stages
            .into_iter()
            .map(|stage| {
                stage
                    .into_iter()
                    .map(|job| JobRow {
                        state: badge(&job.status, job.conclusion.as_deref()),
                        took: duration(job.started_at, job.completed_at),
                        environment: serde_json::from_str::<crate::ci::workflow::Job>(&job.spec)
                            .ok()
                            .and_then(|s| s.environment)
                            .map(|e| e.name),
                        job,
                    })
                    .collect()
            })
            .collect(),
        artifacts: artifacts
            .into_iter()
            .map(|a| ArtifactRow {
                size: human_size(a.size),
                files: a.files,
                name: a.name,
            })
            .collect(),
        run,
    })
}

pub struct StepRow {
    pub step: Step,
    pub state: (&'static str, &'static str),
    pub took: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/job.html")]
pub struct JobView {
    nav: Nav,
    repo: Repo,
    can_admin: bool,
    tab: &'static str,
    run: Run,
    job: Job,
    state: (&'static str, &'static str),
    steps: Vec<StepRow>,
    sections: Vec<LogSection>,
    log_end: u64,
    running: bool,
    /// What steps wrote to `$GITHUB_STEP_SUMMARY`, rendered.
    summary: Option<String>,
}

/// A part of a job's log: what the runner said before the first step, each
/// step (a `::group::`), and what came after.
pub struct LogSection {
    title: String,
    text: String,
    open: bool,
}

/// The log cut into sections at `::group::` lines. A section is open when
/// it is the last or something in it went wrong.
fn sections(log: &str) -> Vec<LogSection> {
    let mut out = vec![LogSection {
        title: "Set up job".into(),
        text: String::new(),
        open: false,
    }];
    for line in log.lines() {
        // Lines start with their time: `2026-11-26T07:50:17.123Z text`.
        let text = line.split_once(' ').map_or(line, |(_, t)| t);
        if let Some(name) = text.strip_prefix("::group::") {
            out.push(LogSection {
                title: name.to_string(),
                text: String::new(),
                open: false,
            });
        } else if text == "::endgroup::" {
            out.push(LogSection {
                title: "Complete job".into(),
                text: String::new(),
                open: false,
            });
        } else {
            let last = out.last_mut().expect("one section at least");
            last.text.push_str(line);
            last.text.push('\n');
        }
    }
    // Between one step's end and the next one's start is an empty "Complete
    // job"; a step that printed nothing yet keeps its (empty) section.
    let mut kept: Vec<LogSection> = out
        .into_iter()
        .filter(|s| !s.text.is_empty() || (s.title != "Complete job" && s.title != "Set up job"))
        .collect();
    for s in &mut kept {
        s.open = ["exited with code", "was stopped", "could not", "Warning:", "failed"]
            .iter()
            .any(|w| s.text.contains(w));
    }
    if let Some(last) = kept.last_mut() {
        last.open = true;
    }
    kept
}

#[derive(serde::Deserialize)]
pub struct JobPath {
    number: i64,
    job: i64,
}

async fn job(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(JobPath { number, job }): Path<JobPath>,
) -> Result<JobView> {
    let id = access.repo.id;
    let (run, job, steps) = state
        .db
        .read(move |c| {
            let run = runs::by_number(c, id, number)?.ok_or(Error::NotFound)?;
            let job = runs::job(c, job)?
                .filter(|j| j.run_id == run.id)
                .ok_or(Error::NotFound)?;
            let steps = runs::steps(c, job.id)?;
            Ok((run, job, steps))
        })
        .await?;
    let mut log = tokio::fs::read(log_path(&state.config.data_dir, run.id, job.id))
        .await
        .unwrap_or_default();
    // Whole lines only: the live stream goes on from the end of the last one.
    log.truncate(log.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1));
    let summary = tokio::fs::read_to_string(crate::ci::executor::summary_path(
        &state.config.data_dir,
        run.id,
        job.id,
    ))
    .await
    .ok()
    .map(|md| crate::markup::markdown(&md, None));
    Ok(JobView {
        nav,
        can_admin: access.access >= Access::Admin,
        repo: access.repo,
        tab: "runs",
        state: badge(&job.status, job.conclusion.as_deref()),
        running: job.status != "completed",
        steps: steps
            .into_iter()
            .map(|step| StepRow {
                state: badge(&step.status, step.conclusion.as_deref()),
                took: duration(step.started_at, step.completed_at),
                step,
            })
            .collect(),
        log_end: log.len() as u64,
        sections: sections(&strip_escapes(&String::from_utf8_lossy(&log))),
        summary,
        run,
        job,
    })
}

#[derive(serde::Deserialize)]
pub struct StreamQuery {
    from: Option<u64>,
}

/// `/runs/{n}/jobs/{job}/stream`: the job's log as Server-Sent Events while
/// it runs. `log` events carry new lines (their id is the byte offset to go
/// on from, so a reconnecting browser resumes where it was), `steps` events
/// the state of each step when it changes, and `end` closes the stream once
/// the job is done and its log is sent.
async fn job_stream(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path(JobPath { number, job }): Path<JobPath>,
    Query(query): Query<StreamQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = std::result::Result<Event, std::convert::Infallible>>>> {
    let id = access.repo.id;
    let job = state
        .db
        .read(move |c| {
            let run = runs::by_number(c, id, number)?.ok_or(Error::NotFound)?;
            runs::job(c, job)?.filter(|j| j.run_id == run.id).ok_or(Error::NotFound)
        })
        .await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let tail = LogTail {
        db: state.db.clone(),
        path: log_path(&state.config.data_dir, job.run_id, job.id),
        job: job.id,
        offset: resume.or(query.from).unwrap_or(0),
        steps: String::new(),
        done: false,
    };
    let stream = futures_util::stream::unfold(tail, |mut tail| async move {
        let event = tail.next().await?;
        Some((Ok(event), tail))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Where a live log stream is.
struct LogTail {
    db: crate::db::Db,
    path: std::path::PathBuf,
    job: i64,
    offset: u64,
    /// The step states last sent.
    steps: String,
    done: bool,
}

impl LogTail {
    /// The next event, waiting for one; `None` once the job is done.
    async fn next(&mut self) -> Option<Event> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        while !self.done {
            // The job's state before its log: lines written before it ended are then in the file.
            let job = self.job;
            let (status, steps) = self
                .db
                .read(move |c| Ok((runs::job(c, job)?, runs::steps(c, job)?)))
                .await
                .ok()?;
            if let Ok(mut f) = tokio::fs::File::open(&self.path).await
                && f.seek(std::io::SeekFrom::Start(self.offset)).await.is_ok()
            {
                let mut buf = Vec::new();
                let _ = f.take(256 << 10).read_to_end(&mut buf).await;
                if let Some(end) = buf.iter().rposition(|b| *b == b'\n') {
                    self.offset += end as u64 + 1;
                    let text = strip_escapes(&String::from_utf8_lossy(&buf[..end]));
                    return Some(Event::default().event("log").id(self.offset.to_string()).data(text));
                }
            }
            let states: Vec<serde_json::Value> = steps
                .iter()
                .map(|s| {
                    let (word, symbol) = badge(&s.status, s.conclusion.as_deref());
                    serde_json::json!({ "number": s.number, "state": word, "symbol": symbol })
                })
                .collect();
            let states = serde_json::Value::Array(states).to_string();
            if states != self.steps {
                self.steps = states.clone();
                return Some(Event::default().event("steps").data(states));
            }
            if status.is_none_or(|j| j.status == "completed") {
                self.done = true;
                return Some(Event::default().event("end").data("completed"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        None
    }
}

/// Bytes as "12.3 MB".
fn human_size(bytes: i64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.1} GB", b / 1024.0 / 1024.0 / 1024.0)
    }
}

#[derive(serde::Deserialize)]
pub struct ArtifactPath {
    number: i64,
    name: String,
}

/// `/runs/{n}/artifacts/{name}`: the artifact as a .tar.gz download.
async fn artifact(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path(ArtifactPath { number, name }): Path<ArtifactPath>,
) -> Result<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let id = access.repo.id;
    let wanted = name.clone();
    let found = state
        .db
        .read(move |c| {
            let run = runs::by_number(c, id, number)?.ok_or(Error::NotFound)?;
            crate::db::artifacts::by_name(c, run.id, &wanted)?.ok_or(Error::NotFound)
        })
        .await?;
    let file = tokio::fs::File::open(state.config.data_dir.join("artifacts").join(&found.sha256))
        .await
        .map_err(|_| Error::NotFound)?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let disposition = format!(
        "attachment; filename=\"{}.tar.gz\"",
        name.replace(|c: char| !c.is_ascii_alphanumeric() && !"-_.".contains(c), "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_LENGTH, found.size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response())
}

/// Terminal escape sequences (colours, cursor moves) are dropped: the log
/// is shown as text, never interpreted.
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            continue;
        }
        out.push(c);
    }
    out
}

#[derive(serde::Deserialize)]
pub struct BadgeQuery {
    branch: Option<String>,
    workflow: Option<String>,
}

/// `/{owner}/{repo}/badge.svg?branch=main&workflow=ci.yml`: the state of the
/// newest run, as a small image for READMEs.
async fn badge_svg(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    axum::extract::Query(q): axum::extract::Query<BadgeQuery>,
) -> Result<axum::response::Response> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let id = access.repo.id;
    let branch = q.branch.unwrap_or_else(|| access.repo.default_branch.clone());
    let workflow = q.workflow;
    let newest = state
        .db
        .read(move |c| {
            let filter = runs::Filter {
                branch: Some(branch),
                workflow,
                ..Default::default()
            };
            let (list, _) = runs::list(c, id, &filter, 1, 0)?;
            Ok(list.into_iter().next())
        })
        .await?;
    let (label, color) = match newest.as_ref().map(|r| badge(&r.status, r.conclusion.as_deref()).0) {
        Some("success") => ("passing", "#2da44e"),
        Some("failure") | Some("timed out") => ("failing", "#cf222e"),
        Some("running") | Some("queued") => ("running", "#bf8700"),
        Some(other) => (other, "#6e7781"),
        None => ("no runs", "#6e7781"),
    };
    let name = newest
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_else(|| "build".into());
    let name = crate::markup::escape(&name);
    let (lw, rw) = (8 + 7 * name.chars().count() as u32, 8 + 7 * label.len() as u32);
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{name}: {label}"><title>{name}: {label}</title><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{rw}" height="20" fill="{color}"/><g fill="#fff" font-family="Verdana,sans-serif" font-size="11"><text x="4" y="14">{name}</text><text x="{tx}" y="14">{label}</text></g></svg>"##,
        w = lw + rw,
        tx = lw + 4
    );
    let mut response = svg.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// Run number `number` of `repo`, or 404.
async fn numbered(state: &AppState, repo: &Repo, number: i64) -> Result<Run> {
    let id = repo.id;
    state
        .db
        .read(move |c| runs::by_number(c, id, number))
        .await?
        .ok_or(Error::NotFound)
}

fn to_run(repo: &Repo, number: i64) -> axum::response::Redirect {
    axum::response::Redirect::to(&format!("/{}/{}/runs/{number}", repo.owner, repo.name))
}

async fn cancel(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path(RunPath { number }): Path<RunPath>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<axum::response::Redirect> {
    let run = numbered(&state, &access.repo, number).await?;
    if run.status != "completed" {
        state.ci.cancel(run.id).await?;
    }
    Ok(to_run(&access.repo, number))
}

#[derive(serde::Deserialize)]
pub struct RerunForm {
    #[serde(default)]
    failed: String,
}

async fn rerun(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path(RunPath { number }): Path<RunPath>,
    CsrfForm(form): CsrfForm<RerunForm>,
) -> Result<axum::response::Redirect> {
    let run = numbered(&state, &access.repo, number).await?;
    let new = state.ci.rerun(access.repo.id, run.id, form.failed == "1").await?;
    Ok(to_run(&access.repo, new.run_number))
}

#[derive(serde::Deserialize)]
pub struct DispatchForm {
    workflow: String,
    #[serde(rename = "ref")]
    rev: String,
    /// `input.NAME` fields.
    #[serde(flatten)]
    fields: std::collections::BTreeMap<String, String>,
}

pub struct InputField {
    name: String,
    description: Option<String>,
    required: bool,
    kind: InputKind,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/dispatch.html")]
pub struct DispatchView {
    nav: Nav,
    repo: Repo,
    can_admin: bool,
    tab: &'static str,
    file: String,
    rev: String,
    name: String,
    path: String,
    sha: String,
    inputs: Vec<InputField>,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct DispatchQuery {
    workflow: String,
    #[serde(rename = "ref")]
    rev: String,
}

/// The "Run workflow" page: the inputs of `workflow` at `ref`, with their defaults.
async fn dispatch_page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Write>,
    Query(q): Query<DispatchQuery>,
) -> Result<DispatchView> {
    dispatch_view(
        &state,
        nav,
        access,
        q.workflow.trim(),
        q.rev.trim(),
        &Default::default(),
        None,
    )
    .await
}

async fn dispatch_view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Write>,
    file: &str,
    rev: &str,
    given: &std::collections::BTreeMap<String, String>,
    error: Option<String>,
) -> Result<DispatchView> {
    let target = crate::ci::trigger::dispatch_target(&state.config.repos_dir(), &access.repo, file, rev).await?;
    let inputs = target
        .workflow
        .on
        .inputs
        .iter()
        .map(|i| InputField {
            value: given.get(&i.name).or(i.default.as_ref()).cloned().unwrap_or_default(),
            name: i.name.clone(),
            description: i.description.clone(),
            required: i.required,
            kind: i.kind.clone(),
        })
        .collect();
    Ok(DispatchView {
        nav,
        can_admin: access.access >= Access::Admin,
        repo: access.repo,
        tab: "runs",
        name: target.workflow.name.clone().unwrap_or_else(|| file.to_string()),
        file: file.to_string(),
        rev: rev.to_string(),
        path: target.path,
        sha: target.sha,
        inputs,
        error,
    })
}

/// Starts the workflow (`workflow_dispatch`); bad inputs show the form again.
async fn dispatch(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Write>,
    CsrfForm(form): CsrfForm<DispatchForm>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let inputs: std::collections::BTreeMap<String, String> = form
        .fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("input.").map(|k| (k.to_string(), v.clone())))
        .collect();
    let (file, rev) = (form.workflow.trim(), form.rev.trim());
    let repos = state.config.repos_dir();
    match crate::ci::trigger::dispatch(&state.db, &repos, &access.repo, file, rev, &inputs).await {
        Ok(number) => {
            state.ci.wake();
            Ok(to_run(&access.repo, number).into_response())
        }
        Err(Error::BadRequest(message)) => {
            let view = dispatch_view(&state, nav, access, file, rev, &inputs, Some(message)).await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, view).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/secrets.html")]
pub struct SecretsView {
    nav: Nav,
    repo: Repo,
    can_admin: bool,
    tab: &'static str,
    names: Vec<(String, String)>,
    error: Option<String>,
}

async fn secrets_view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Write>,
    error: Option<String>,
) -> Result<SecretsView> {
    let id = access.repo.id;
    let list = state.db.read(move |c| crate::db::secrets::all(c, id)).await?;
    Ok(SecretsView {
        nav,
        can_admin: access.access >= Access::Admin,
        repo: access.repo,
        tab: "settings",
        names: list.into_iter().map(|s| (s.name, ago(s.updated_at))).collect(),
        error,
    })
}

/// `/{owner}/{repo}/settings/secrets`: names and when they changed; a
/// value is never shown again once saved.
async fn secrets_page(State(state): State<AppState>, nav: Nav, access: RepoAccess<Write>) -> Result<SecretsView> {
    secrets_view(&state, nav, access, None).await
}

#[derive(serde::Deserialize)]
pub struct SecretForm {
    name: String,
    value: String,
}

async fn add_secret(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Write>,
    CsrfForm(form): CsrfForm<SecretForm>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    match crate::ci::secrets::put(&state.db, &state.keys, access.repo.id, &form.name, &form.value).await {
        Ok(_) => Ok(axum::response::Redirect::to(&format!(
            "/{}/{}/settings/secrets",
            access.repo.owner, access.repo.name
        ))
        .into_response()),
        Err(e @ (Error::BadRequest(_) | Error::TooLarge(_))) => {
            let view = secrets_view(&state, nav, access, Some(super::accounts::capitalize(&e.to_string()))).await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, view).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn delete_secret(
    State(state): State<AppState>,
    Path((_, _, name)): Path<(String, String, String)>,
    access: RepoAccess<Write>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<axum::response::Redirect> {
    let id = access.repo.id;
    if !state
        .db
        .write(move |tx| crate::db::secrets::delete(tx, id, &name))
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok(axum::response::Redirect::to(&format!(
        "/{}/{}/settings/secrets",
        access.repo.owner, access.repo.name
    )))
}
