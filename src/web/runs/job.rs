//! `/runs/{n}/jobs/{job}`: a job's steps and its log in a section per step;
//! while the job runs the log streams in over Server-Sent Events
//! (`/stream`), and without JavaScript the page refreshes itself.

use super::*;

/// The most of a log a page shows: its end.
const PAGE_LOG_BYTES: usize = 2 << 20;

pub struct StepRow {
    pub step: Step,
    pub state: (&'static str, &'static str),
    pub took: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/job.html")]
pub struct JobView {
    nav: Nav,
    /// Jobs run without a sandbox here (`--ci-sandbox off`): the page says so.
    unsandboxed: bool,
    header: RepoHeader,
    run: Run,
    job: Job,
    state: (&'static str, &'static str),
    steps: Vec<StepRow>,
    sections: Vec<LogSection>,
    log_end: u64,
    running: bool,
    /// What steps wrote to `$GITHUB_STEP_SUMMARY`, rendered.
    summary: Option<String>,
    /// Only the end of the log is on the page.
    cut: bool,
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
    number: RunNumber,
    job: JobId,
}

pub(super) async fn job(
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
    let mut log = tokio::fs::read(state.config.data_dir.job_log(run.id, job.id))
        .await
        .unwrap_or_default();
    // Whole lines only: the live stream goes on from the end of the last one.
    log.truncate(log.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1));
    let log_end = log.len() as u64;
    // A long log shows its end on the page (from a line start); the whole is a download.
    let cut = log.len() > PAGE_LOG_BYTES;
    let shown = if cut {
        let from = log.len() - PAGE_LOG_BYTES;
        let start = log[from..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(log.len(), |i| from + i + 1);
        &log[start..]
    } else {
        &log[..]
    };
    let summary = tokio::fs::read_to_string(state.config.data_dir.job_summary(run.id, job.id))
        .await
        .ok()
        .map(|md| crate::markup::markdown(&md, None));
    Ok(JobView {
        unsandboxed: !state.ci.sandbox().is_on(),
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Runs),
        state: badge(job.status, job.conclusion),
        running: job.status.is_open(),
        steps: steps
            .into_iter()
            .map(|step| StepRow {
                state: badge(step.status, step.conclusion),
                took: duration(step.started_at, step.completed_at),
                step,
            })
            .collect(),
        log_end,
        cut,
        sections: sections(&strip_escapes(&String::from_utf8_lossy(shown))),
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
pub(super) async fn job_stream(
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
        path: state.config.data_dir.job_log(job.run_id, job.id),
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
    job: JobId,
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
                    let (word, symbol) = badge(s.status, s.conclusion);
                    serde_json::json!({ "number": s.number, "state": word, "symbol": symbol })
                })
                .collect();
            let states = serde_json::Value::Array(states).to_string();
            if states != self.steps {
                self.steps = states.clone();
                return Some(Event::default().event("steps").data(states));
            }
            if status.is_none_or(|j| !j.status.is_open()) {
                self.done = true;
                return Some(Event::default().event("end").data(Status::Completed.as_str()));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        None
    }
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
