//! A running job's news for whoever watches it: the lines its log gains,
//! the states of its steps, and its end, published once by the job and
//! received by every viewer through one broadcast. Nobody polls: a viewer
//! reads the log file once, to catch up, and is then told.
//!
//! A feed keeps the most recent lines (`RECENT_BYTES`), so a viewer who
//! subscribes gets what the file may not hold yet (it is written behind,
//! by a thread of its own) without racing the writer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::ids::JobId;
use crate::state::{Conclusion, Status};
use crate::sync::lock;

/// Log bytes a feed keeps for viewers who join.
const RECENT_BYTES: usize = 1 << 20;
/// News a slow viewer may fall behind by before it catches up again.
const BACKLOG: usize = 1024;

/// A step's state, as a viewer shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepState {
    pub number: i64,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
}

/// What happened to a job.
#[derive(Debug, Clone)]
pub enum News {
    /// Log text (whole lines) that starts at byte `from` of the log.
    Lines { from: u64, text: Arc<str> },
    /// The states of all its steps, after one changed.
    Steps(Arc<[StepState]>),
    /// It is done: nothing more comes.
    Ended,
}

/// The feeds of the jobs being watched or run now.
#[derive(Default)]
pub struct Feeds {
    jobs: Mutex<HashMap<JobId, Arc<Feed>>>,
}

impl Feeds {
    /// The feed of `job`, made when the first of its viewers or its runner
    /// asks.
    pub fn of(&self, job: JobId) -> Arc<Feed> {
        lock(&self.jobs)
            .entry(job)
            .or_insert_with(|| Arc::new(Feed::new()))
            .clone()
    }

    /// `job` is done: its viewers are told, and its feed goes.
    pub fn end(&self, job: JobId) {
        if let Some(feed) = lock(&self.jobs).remove(&job) {
            feed.end();
        }
    }

    /// How many jobs have a feed now.
    pub fn len(&self) -> usize {
        lock(&self.jobs).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One job's news.
pub struct Feed {
    tx: broadcast::Sender<News>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The latest lines, each with the offset it starts at.
    recent: VecDeque<(u64, Arc<str>)>,
    recent_bytes: usize,
    steps: Arc<[StepState]>,
    ended: bool,
}

/// What a viewer starts from: the latest lines and step states, and the
/// news after them.
pub struct Subscription {
    pub recent: Vec<(u64, Arc<str>)>,
    pub steps: Arc<[StepState]>,
    pub ended: bool,
    pub news: broadcast::Receiver<News>,
}

impl Feed {
    fn new() -> Feed {
        Feed {
            tx: broadcast::channel(BACKLOG).0,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The log gained `text` (whole lines) at byte `from`.
    pub fn wrote(&self, from: u64, text: &str) {
        let text: Arc<str> = text.into();
        let mut inner = lock(&self.inner);
        inner.recent_bytes += text.len();
        inner.recent.push_back((from, text.clone()));
        while inner.recent_bytes > RECENT_BYTES && inner.recent.len() > 1 {
            if let Some((_, old)) = inner.recent.pop_front() {
                inner.recent_bytes -= old.len();
            }
        }
        // Sent under the lock: a viewer subscribing sees each line either
        // in `recent` or as news, never neither.
        let _ = self.tx.send(News::Lines { from, text });
    }

    /// Step `number` is now at `status`.
    pub fn step(&self, number: i64, status: Status, conclusion: Option<Conclusion>) {
        let mut inner = lock(&self.inner);
        let mut steps = inner.steps.to_vec();
        match steps.iter_mut().find(|s| s.number == number) {
            Some(s) => (s.status, s.conclusion) = (status, conclusion),
            None => {
                steps.push(StepState {
                    number,
                    status,
                    conclusion,
                });
                steps.sort_by_key(|s| s.number);
            }
        }
        inner.steps = steps.into();
        let _ = self.tx.send(News::Steps(inner.steps.clone()));
    }

    fn end(&self) {
        let mut inner = lock(&self.inner);
        inner.ended = true;
        let _ = self.tx.send(News::Ended);
    }

    pub fn subscribe(&self) -> Subscription {
        let inner = lock(&self.inner);
        Subscription {
            recent: inner.recent.iter().cloned().collect(),
            steps: inner.steps.clone(),
            ended: inner.ended,
            news: self.tx.subscribe(),
        }
    }

    /// How many viewers receive this feed's news.
    pub fn viewers(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_viewer_gets_each_line_once_whenever_it_joins() {
        let feeds = Feeds::default();
        let feed = feeds.of(JobId(1));
        feed.wrote(0, "one\n");
        let mut early = feed.subscribe();
        assert_eq!(early.recent.len(), 1, "what came before it joined");
        feed.wrote(4, "two\n");
        feed.step(1, Status::InProgress, None);
        let late = feed.subscribe();
        assert_eq!(late.recent.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 4]);
        assert_eq!(late.steps.len(), 1);
        match early.news.recv().await.unwrap() {
            News::Lines { from: 4, text } => assert_eq!(&*text, "two\n"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(early.news.recv().await.unwrap(), News::Steps(_)));
        feeds.end(JobId(1));
        assert!(matches!(early.news.recv().await.unwrap(), News::Ended));
        assert!(feeds.is_empty());
        assert_eq!(feed.viewers(), 2);
    }

    #[test]
    fn a_feed_keeps_only_recent_lines() {
        let feed = Feed::new();
        let line = "x".repeat(1000) + "\n";
        for i in 0..2000u64 {
            feed.wrote(i * line.len() as u64, &line);
        }
        let s = feed.subscribe();
        let kept: usize = s.recent.iter().map(|r| r.1.len()).sum();
        assert!(kept <= RECENT_BYTES, "{kept}");
        assert_eq!(s.recent.last().unwrap().0, 1999 * line.len() as u64);
    }
}
