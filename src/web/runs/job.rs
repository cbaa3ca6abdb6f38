//! `/runs/{n}/jobs/{job}`: a job's steps and its log in a section per step;
//! while the job runs the log streams in over Server-Sent Events
//! (`/stream`), and without JavaScript the page refreshes itself.

use super::*;
use crate::ci::live::{Feed, News, StepState};

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
    /// Its text, and within it the sections a step opened (`::group::`
    /// in its output, kept as `##[group]`).
    parts: Vec<LogPart>,
    open: bool,
}

/// Text of a section, or (with a title) a group a step opened in it.
pub struct LogPart {
    title: Option<String>,
    text: String,
}

impl LogSection {
    fn new(title: &str) -> LogSection {
        LogSection {
            title: title.to_string(),
            parts: Vec::new(),
            open: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.parts.iter().all(|p| p.text.is_empty() && p.title.is_none())
    }

    fn contains(&self, word: &str) -> bool {
        self.parts.iter().any(|p| p.text.contains(word))
    }

    /// Adds `line` to the group open now, or to the section's own text.
    fn push(&mut self, line: &str) {
        if self.parts.is_empty() {
            self.parts.push(LogPart {
                title: None,
                text: String::new(),
            });
        }
        let last = self.parts.last_mut().expect("a part at least");
        last.text.push_str(line);
        last.text.push('\n');
    }
}

/// The log cut into sections at `::group::` lines, and those into a
/// step's own groups at `##[group]` and `##[endgroup]`. A section is open
/// when it is the last or something in it went wrong.
fn sections(log: &str) -> Vec<LogSection> {
    use crate::ci::executor::{END_GROUP, GROUP};
    let mut out = vec![LogSection::new("Set up job")];
    for line in log.lines() {
        // Lines start with their time: `2026-11-26T07:50:17.123Z text`.
        let text = line.split_once(' ').map_or(line, |(_, t)| t);
        let last = out.last_mut().expect("one section at least");
        if let Some(name) = text.strip_prefix("::group::") {
            out.push(LogSection::new(name));
        } else if text == "::endgroup::" {
            out.push(LogSection::new("Complete job"));
        } else if let Some(name) = text.strip_prefix(GROUP) {
            last.parts.push(LogPart {
                title: Some(name.to_string()),
                text: String::new(),
            });
        } else if text == END_GROUP {
            last.parts.push(LogPart {
                title: None,
                text: String::new(),
            });
        } else {
            last.push(line);
        }
    }
    // Between one step's end and the next one's start is an empty "Complete
    // job"; a step that printed nothing yet keeps its (empty) section.
    let mut kept: Vec<LogSection> = out
        .into_iter()
        .filter(|s| !s.is_empty() || (s.title != "Complete job" && s.title != "Set up job"))
        .collect();
    for s in &mut kept {
        s.parts.retain(|p| p.title.is_some() || !p.text.is_empty());
        s.open = [
            "exited with code",
            "was stopped",
            "could not",
            "Warning:",
            "Error:",
            "failed",
        ]
        .iter()
        .any(|w| s.contains(w));
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
    let (shown, log_end, cut) = log_tail(&state.config.data_dir.job_log(run.id, job.id)).await;
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
        sections: sections(&strip_escapes(&String::from_utf8_lossy(&shown))),
        summary,
        run,
        job,
    })
}

/// The end of a log, whole lines from a line start, as much as a page
/// shows (`PAGE_LOG_BYTES`; the whole is a download); where its last whole
/// line ends, which the live stream goes on from; and whether the start is
/// cut off. Only that end is read.
async fn log_tail(path: &std::path::Path) -> (Vec<u8>, u64, bool) {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let Ok(mut f) = tokio::fs::File::open(path).await else {
        return (Vec::new(), 0, false);
    };
    let len = f.metadata().await.map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(PAGE_LOG_BYTES as u64);
    let mut tail = Vec::new();
    if f.seek(std::io::SeekFrom::Start(from)).await.is_err()
        || (&mut f).take(len - from).read_to_end(&mut tail).await.is_err()
    {
        return (Vec::new(), 0, false);
    }
    tail.truncate(tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1));
    let end = from + tail.len() as u64;
    if from > 0 {
        let start = tail.iter().position(|b| *b == b'\n').map_or(tail.len(), |i| i + 1);
        tail.drain(..start);
    }
    (tail, end, from > 0)
}

#[derive(serde::Deserialize)]
pub struct StreamQuery {
    from: Option<u64>,
}

/// `/runs/{n}/jobs/{job}/stream`: the job's log as Server-Sent Events while
/// it runs. `log` events carry new lines (their id is the byte offset to go
/// on from, so a reconnecting browser resumes where it was), `steps` events
/// the state of each step when it changes, `problem` why the stream stops
/// early, and `end` closes the stream once the job is done and its log is
/// sent. The stream reads the log file once to catch up, then hears of new
/// lines from the job itself (`ci::live`): viewers do not poll.
pub(super) async fn job_stream(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path(JobPath { number, job }): Path<JobPath>,
    Query(query): Query<StreamQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = std::result::Result<Event, std::convert::Infallible>>>> {
    let id = access.repo.id;
    let (job, steps) = state
        .db
        .read(move |c| {
            let run = runs::by_number(c, id, number)?.ok_or(Error::NotFound)?;
            let job = runs::job(c, job)?
                .filter(|j| j.run_id == run.id)
                .ok_or(Error::NotFound)?;
            let steps = runs::steps(c, job.id)?;
            Ok((job, steps))
        })
        .await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut tail = LogTail {
        db: state.db.clone(),
        path: state.config.data_dir.job_log(job.run_id, job.id),
        feed: state.ci.feed(job.id),
        job: job.id,
        offset: resume.or(query.from).unwrap_or(0),
        news: None,
        ready: std::collections::VecDeque::new(),
        steps: String::new(),
        done: false,
        reader: Reader {
            repo: access.repo.id,
            viewer: access.viewer.as_ref().map(|u| u.id),
            checked: std::time::Instant::now(),
        },
    };
    tail.steps_event(&states_of(&steps));
    if !job.status.is_open() {
        tail.finish().await;
    }
    let stream = futures_util::stream::unfold(tail, |mut tail| async move {
        let event = tail.next().await?;
        Some((Ok(event), tail))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The steps' states as the live feed tells them.
fn states_of(steps: &[Step]) -> Vec<StepState> {
    steps
        .iter()
        .map(|s| StepState {
            number: s.number,
            status: s.status,
            conclusion: s.conclusion,
        })
        .collect()
}

/// With no news for this long, a stream asks the database whether its job
/// is still going (one not started may end without ever running: skipped,
/// or cancelled while queued).
const QUIET: std::time::Duration = std::time::Duration::from_secs(5);
/// The most a `log` event carries of what is read from the file.
const EVENT_BYTES: u64 = 256 << 10;

/// Where a live log stream is.
struct LogTail {
    db: crate::db::Db,
    path: std::path::PathBuf,
    feed: std::sync::Arc<Feed>,
    job: JobId,
    /// The byte of the log the viewer needs next.
    offset: u64,
    /// The job's news, once caught up.
    news: Option<tokio::sync::broadcast::Receiver<News>>,
    /// Events to send before waiting for more.
    ready: std::collections::VecDeque<Event>,
    /// The step states last sent.
    steps: String,
    done: bool,
    /// Who watches: asked again now and then whether they still may.
    reader: Reader,
}

/// The viewer of a stream and when their access was last checked.
struct Reader {
    repo: crate::db::repos::RepoId,
    viewer: Option<crate::db::users::UserId>,
    checked: std::time::Instant,
}

/// How often a stream asks again whether its viewer may still read the
/// repository (a collaborator removed, a repository made private).
const RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

impl Reader {
    /// Whether the viewer may still read the repository (asked at most
    /// every `RECHECK`).
    async fn still_allowed(&mut self, db: &crate::db::Db) -> bool {
        if self.checked.elapsed() < RECHECK {
            return true;
        }
        self.checked = std::time::Instant::now();
        let (repo, viewer) = (self.repo, self.viewer);
        db.read(move |c| {
            let Some(repo) = crate::db::repos::by_id(c, repo)? else {
                return Ok(false);
            };
            let user = match viewer {
                Some(id) => match crate::db::users::by_id(c, id)? {
                    Some(u) => Some(u),
                    None => return Ok(false),
                },
                None => None,
            };
            Ok(crate::repos::access(c, &repo, user.as_ref())? >= crate::repos::Access::Read)
        })
        .await
        .unwrap_or(false)
    }
}

impl LogTail {
    /// The next event, waiting for one; `None` once the job is done.
    async fn next(&mut self) -> Option<Event> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            if !self.reader.still_allowed(&self.db).await {
                // Not another line for someone who may no longer read it.
                return None;
            }
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            let Some(news) = &mut self.news else {
                self.catch_up().await;
                continue;
            };
            match tokio::time::timeout(QUIET.min(RECHECK), news.recv()).await {
                Ok(Ok(News::Lines { from, text })) => self.lines(from, &text).await,
                Ok(Ok(News::Steps(states))) => self.steps_event(&states),
                Ok(Ok(News::Ended) | Err(RecvError::Closed)) => self.finish().await,
                // Fallen behind the job: catch up again from the file.
                Ok(Err(RecvError::Lagged(_))) => self.news = None,
                Err(_) => {
                    let job = self.job;
                    match self.db.read(move |c| runs::job(c, job)).await {
                        Ok(Some(j)) if j.status.is_open() => {}
                        Ok(_) => self.finish().await,
                        Err(e) => self.problem(&e.to_string()),
                    }
                }
            }
        }
    }

    /// Subscribes to the job's news, and sends what came before: from the
    /// file up to the lines the feed still holds, then those.
    async fn catch_up(&mut self) {
        let joined = self.feed.subscribe();
        let held_from = joined.recent.first().map_or(u64::MAX, |r| r.0);
        self.read_file(Some(held_from)).await;
        for (from, text) in &joined.recent {
            self.lines(*from, text).await;
        }
        self.steps_event(&joined.steps);
        self.news = Some(joined.news);
        if joined.ended {
            self.finish().await;
        }
    }

    /// New lines at byte `from`: sent from where the viewer is (read from
    /// the file first should there be a gap).
    async fn lines(&mut self, from: u64, text: &str) {
        if from > self.offset {
            self.read_file(Some(from)).await;
        }
        let end = from + text.len() as u64;
        if end <= self.offset || from > self.offset {
            return;
        }
        // Lines start at offsets the viewer was given: no line is split.
        let rest = text.get((self.offset - from) as usize..).unwrap_or("");
        self.offset = end;
        self.log_event(rest);
    }

    /// Sends whole lines of the file from the viewer's offset, up to byte
    /// `until` or its end.
    async fn read_file(&mut self, until: Option<u64>) {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let Ok(mut f) = tokio::fs::File::open(&self.path).await else {
            return;
        };
        loop {
            let want = until.map_or(EVENT_BYTES, |u| u.saturating_sub(self.offset).min(EVENT_BYTES));
            if want == 0 || f.seek(std::io::SeekFrom::Start(self.offset)).await.is_err() {
                return;
            }
            let mut buf = Vec::new();
            if (&mut f).take(want).read_to_end(&mut buf).await.is_err() {
                return;
            }
            // Whole lines only: a line the writer has not finished waits.
            let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
                return;
            };
            self.offset += end as u64 + 1;
            self.log_event(&String::from_utf8_lossy(&buf[..=end]));
            if (buf.len() as u64) < want {
                return;
            }
        }
    }

    fn log_event(&mut self, text: &str) {
        let text = strip_escapes(text.strip_suffix('\n').unwrap_or(text));
        self.ready
            .push_back(Event::default().event("log").id(self.offset.to_string()).data(text));
    }

    fn steps_event(&mut self, states: &[StepState]) {
        if states.is_empty() {
            return;
        }
        let states: Vec<serde_json::Value> = states
            .iter()
            .map(|s| {
                let (word, symbol) = badge(s.status, s.conclusion);
                serde_json::json!({ "number": s.number, "state": word, "symbol": symbol })
            })
            .collect();
        let states = serde_json::Value::Array(states).to_string();
        if states != self.steps {
            self.steps = states.clone();
            self.ready.push_back(Event::default().event("steps").data(states));
        }
    }

    /// The job is done: the rest of its log (all in the file by now), the
    /// final step states, and the end.
    async fn finish(&mut self) {
        self.read_file(None).await;
        let job = self.job;
        match self.db.read(move |c| runs::steps(c, job)).await {
            Ok(steps) => {
                self.steps_event(&states_of(&steps));
                self.ready
                    .push_back(Event::default().event("end").data(Status::Completed.as_str()));
                self.done = true;
            }
            Err(e) => self.problem(&e.to_string()),
        }
    }

    /// The stream cannot go on: the viewer is told why, and it ends.
    fn problem(&mut self, why: &str) {
        tracing::error!("live log of job {}: {why}", self.job);
        self.ready.push_back(
            Event::default()
                .event("problem")
                .data("the live log stopped; reload the page to see the rest"),
        );
        self.done = true;
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
