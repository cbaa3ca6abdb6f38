//! Running jobs. A loop turns new ref updates into runs, starts every queued
//! job whose `needs` succeeded (skipping those whose needs did not), up to a
//! number at once, and wakes on each push. Each job gets a fresh workspace
//! checked out from the bare repository with gix, runs its steps with
//! `bash --noprofile --norc -eo pipefail` in a process group of their own,
//! appends their output line by line, timestamped, to its log, and deletes
//! the workspace at the end. When a step ends or the job times out, the
//! whole process group is killed: nothing a step started survives it.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::{expr, trigger, workflow};
use crate::db::repos::RepoId;
use crate::db::runs::{self, Job};
use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::repos::repo_path;

/// A job's log is cut here; the job goes on.
pub const LOG_CAP_BYTES: u64 = 16 << 20;
/// Longer output lines are cut into pieces of this size.
const MAX_LINE_BYTES: u64 = 64 << 10;
/// A step's summary larger than this is left out.
const SUMMARY_CAP_BYTES: u64 = 1 << 20;
/// How long a step's stray processes get after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// How much of the machine CI may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Jobs at once.
    pub jobs: usize,
    /// `timeout-minutes` is capped here.
    pub max_timeout_seconds: u64,
    /// RLIMIT_DATA of each process of a job.
    pub memory_bytes: u64,
    /// Processes a step may have at once.
    pub processes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            max_timeout_seconds: 360 * 60,
            memory_bytes: 4 << 30,
            processes: 1024,
        }
    }
}

pub struct Ci {
    db: Db,
    data_dir: PathBuf,
    work_dir: PathBuf,
    keys: super::secrets::Keyring,
    wake: Notify,
    limits: Limits,
    /// Running jobs, each with the signal that cancels it.
    running: Mutex<HashMap<i64, Arc<Notify>>>,
}

impl Ci {
    pub fn new(db: Db, data_dir: PathBuf, work_dir: PathBuf, keys: super::secrets::Keyring, limits: Limits) -> Arc<Ci> {
        Arc::new(Ci {
            db,
            data_dir,
            work_dir,
            keys,
            wake: Notify::new(),
            limits,
            running: Mutex::new(HashMap::new()),
        })
    }

    /// Something changed: new ref updates, or a job finished.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Cancels a run: queued jobs at once, running ones by stopping their
    /// processes.
    pub async fn cancel(&self, run: i64) -> Result<()> {
        let running = self.db.write(move |tx| runs::cancel(tx, run)).await?;
        let jobs = self.running.lock().expect("running set poisoned");
        for id in running {
            if let Some(signal) = jobs.get(&id) {
                signal.notify_one();
            }
        }
        drop(jobs);
        self.wake();
        Ok(())
    }

    /// Starts run `run` of `repo` again as a new run (see `runs::rerun`).
    /// A run still going cannot be started again; nor can one with nothing
    /// to re-run when only failed jobs are asked for.
    pub async fn rerun(&self, repo: RepoId, run: i64, only_failed: bool) -> Result<runs::Run> {
        let new = self
            .db
            .write(move |tx| {
                let r = runs::by_id(tx, repo, run)?.ok_or(Error::NotFound)?;
                if r.status != "completed" {
                    return Err(Error::Conflict(format!(
                        "run #{} is still going; cancel it first",
                        r.run_number
                    )));
                }
                if r.error.is_some() {
                    return Err(Error::Conflict(format!(
                        "run #{} failed before any job ran: push a fixed workflow",
                        r.run_number
                    )));
                }
                if only_failed && r.conclusion.as_deref() == Some("success") {
                    return Err(Error::Conflict(format!("run #{} has no failed jobs", r.run_number)));
                }
                let (id, _) = runs::rerun(tx, &r, only_failed)?;
                runs::by_id(tx, repo, id)?.ok_or(Error::NotFound)
            })
            .await?;
        self.wake();
        Ok(new)
    }

    /// Fails the jobs a previous run of the server left running, then keeps
    /// turning pushes into runs and running their jobs.
    pub async fn start(self: &Arc<Self>) -> Result<()> {
        let failed = self.db.write(|tx| runs::fail_interrupted(tx)).await?;
        for &id in &failed {
            // Steps die with the server (PR_SET_PDEATHSIG), but what they
            // started may not have: find it by the job's environment.
            let killed = kill_leftovers(&self.data_dir, id);
            if killed > 0 {
                tracing::warn!("killed {killed} process(es) left by job {id} of an earlier run of the server");
            }
        }
        for id in failed {
            let log = self.log_path_of_job(id).await;
            if let Ok(path) = log {
                let _ = append_line(&path, "Hearth: the server restarted while this job ran; it failed.");
            }
        }
        // The clock of `on: schedule`.
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut known = super::schedule::Schedules::default();
            let repos = this.data_dir.join("repos");
            loop {
                let minute = super::schedule::next_minute().await;
                match super::schedule::tick(&this.db, &repos, &mut known, minute).await {
                    Ok(0) => {}
                    Ok(_) => this.wake(),
                    Err(e) => tracing::error!("scheduled runs: {e}"),
                }
            }
        });
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if let Err(e) = trigger::process_pending(&this.db, &this.data_dir.join("repos")).await {
                    tracing::error!("turning pushes into runs: {e}");
                }
                if let Err(e) = this.schedule().await {
                    tracing::error!("scheduling jobs: {e}");
                }
                tokio::select! {
                    _ = this.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        });
        Ok(())
    }

    async fn log_path_of_job(&self, job: i64) -> Result<PathBuf> {
        let run = self
            .db
            .read(move |c| runs::job(c, job))
            .await?
            .ok_or(Error::NotFound)?
            .run_id;
        Ok(log_path(&self.data_dir, run, job))
    }

    async fn schedule(self: &Arc<Self>) -> Result<()> {
        let (jobs, blocked) = self
            .db
            .read(|c| Ok((runs::open_jobs(c)?, runs::blocked_runs(c)?)))
            .await?;
        let mut by_run: HashMap<i64, Vec<&Job>> = HashMap::new();
        for j in &jobs {
            by_run.entry(j.run_id).or_default().push(j);
        }
        // Jobs asked to stop (cancel, cancel-in-progress, fail-fast).
        {
            let running = self.running.lock().expect("running set poisoned");
            for j in jobs.iter().filter(|j| j.cancel_requested && j.status == "in_progress") {
                if let Some(signal) = running.get(&j.id) {
                    signal.notify_one();
                }
            }
        }
        // Instances of a matrix job started in this pass, for max-parallel.
        let mut started: HashMap<(i64, &str), usize> = HashMap::new();
        for j in jobs.iter().filter(|j| j.status == "queued") {
            // An older run of its concurrency group goes first.
            if blocked.contains(&j.run_id) {
                continue;
            }
            let siblings = &by_run[&j.run_id];
            // A need is done when every instance of it (one per matrix combination) is.
            let all_done = j
                .needs
                .iter()
                .all(|n| siblings.iter().filter(|s| &s.key == n).all(|s| s.status == "completed"));
            if !all_done {
                continue;
            }
            if !self.wanted(j, siblings).await? {
                let id = j.id;
                self.db.write(move |tx| runs::finish_job(tx, id, "skipped")).await?;
                continue;
            }
            let spec = spec_of(j)?;
            if let Some(max) = spec.strategy.as_ref().and_then(|s| s.max_parallel) {
                let going = siblings
                    .iter()
                    .filter(|s| s.key == j.key && s.status == "in_progress")
                    .count()
                    + started.get(&(j.run_id, j.key.as_str())).copied().unwrap_or(0);
                if going >= max as usize {
                    continue;
                }
            }
            if j.concurrency.is_some() {
                let id = j.id;
                if self.db.read(move |c| runs::job_group_busy(c, id)).await? {
                    continue;
                }
            }
            let cancel = Arc::new(Notify::new());
            {
                let mut running = self.running.lock().expect("running set poisoned");
                if running.len() >= self.limits.jobs || running.contains_key(&j.id) {
                    continue;
                }
                running.insert(j.id, cancel.clone());
            }
            let id = j.id;
            if !self.db.write(move |tx| runs::start_job(tx, id)).await? {
                self.running.lock().expect("running set poisoned").remove(&id);
                continue;
            }
            *started.entry((j.run_id, j.key.as_str())).or_default() += 1;
            let this = Arc::clone(self);
            let job = (*j).clone();
            tokio::spawn(async move {
                let id = job.id;
                let (conclusion, allowed) = match this.run_job(&job, &cancel).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!("job {id}: {e}");
                        let _ = append_line(
                            &log_path(&this.data_dir, job.run_id, id),
                            &format!("Hearth: the job could not run: {e}"),
                        );
                        ("failure", false)
                    }
                };
                let failed = matches!(conclusion, "failure" | "timed_out");
                let fail_fast =
                    failed && !allowed && spec.strategy.as_ref().is_some_and(|s| s.fail_fast && s.job_total > 1);
                let (run, key) = (job.run_id, job.key.clone());
                let recorded = this
                    .db
                    .write(move |tx| {
                        if failed && allowed {
                            runs::allow_failure(tx, id)?;
                        }
                        runs::finish_job(tx, id, conclusion)?;
                        if fail_fast {
                            // The other instances of the matrix stop.
                            runs::cancel_instances(tx, run, &key)?;
                        }
                        Ok(())
                    })
                    .await;
                if let Err(e) = recorded {
                    tracing::error!("recording the end of job {id}: {e}");
                }
                this.running.lock().expect("running set poisoned").remove(&id);
                this.wake();
            });
        }
        // A run whose jobs are all skipped or done was completed by finish_job.
        Ok(())
    }

    /// A job whose needs are done runs if its `if:` holds (by default: all
    /// its needs succeeded).
    async fn wanted(&self, job: &Job, siblings: &[&Job]) -> Result<bool> {
        let owned: Vec<Job> = siblings.iter().map(|s| (*s).clone()).collect();
        let spec = spec_of(job)?;
        // Most jobs have no `if:`: no need to look anything up for them.
        let values = if spec.condition.is_none() {
            serde_json::Value::Null
        } else {
            let (run, repo, spec) = self.job_setting(job).await?;
            contexts(&RunInfo::of(&run, &repo), &spec, &owned, &spec.env)
        };
        match wanted_by(&spec, &owned, &values) {
            Ok(wanted) => Ok(wanted),
            Err(e) => {
                let _ = append_line(
                    &log_path(&self.data_dir, job.run_id, job.id),
                    &format!("Hearth: if: {e}"),
                );
                Ok(false)
            }
        }
    }

    /// A job's run, repository and workflow definition.
    async fn job_setting(&self, job: &Job) -> Result<(runs::Run, db::repos::Repo, workflow::Job)> {
        let spec = spec_of(job)?;
        let run_id = job.run_id;
        let (run, repo) = self
            .db
            .read(move |c| {
                let run = runs::run_by_id_any(c, run_id)?.ok_or(Error::NotFound)?;
                let repo = db::repos::by_id(c, run.repo_id)?.ok_or(Error::NotFound)?;
                Ok((run, repo))
            })
            .await?;
        Ok((run, repo, spec))
    }

    /// Runs one job; returns its conclusion, and whether continue-on-error
    /// allows it to fail.
    async fn run_job(&self, job: &Job, cancel: &Notify) -> Result<(&'static str, bool)> {
        let (run, repo, spec) = self.job_setting(job).await?;
        let info = RunInfo::of(&run, &repo);
        let log = log_path(&self.data_dir, run.id, job.id);
        std::fs::create_dir_all(log.parent().expect("log has a folder"))?;
        let mut writer = LogWriter::open(&log)?;
        let work = Work::create(&self.work_dir.join(format!("job-{}", job.id)))?;
        writer.line(&format!(
            "Hearth: job {} of run #{} ({}) for {} at {}",
            spec.key, run.run_number, run.workflow, run.head_branch, run.head_sha
        ));
        let checkout = {
            let (repo_dir, sha, ws) = (
                repo_path(&self.data_dir.join("repos"), &repo.owner, &repo.name),
                run.head_sha.clone(),
                work.workspace.clone(),
            );
            tokio::task::spawn_blocking(move || crate::git::checkout(&repo_dir, &sha, &ws))
                .await
                .map_err(|e| Error::internal(format!("checkout task: {e}")))?
        };
        let files = match checkout {
            Ok(n) => n,
            Err(e) => {
                writer.line(&format!("Hearth: could not check out {}: {e}", run.head_sha));
                work.remove();
                return Ok(("failure", false));
            }
        };
        writer.line(&format!("Hearth: workspace checked out ({files} files)"));

        let mut env = job_env(&info, &spec, &work);
        // How a sweep after a crash finds what a job left running.
        env.insert("HEARTH_JOB_ID".into(), job.id.to_string());
        env.insert("HEARTH_DATA_DIR".into(), self.data_dir.display().to_string());
        let run_id = run.id;
        let siblings = self.db.read(move |c| runs::jobs(c, run_id)).await?;
        let mut contexts = contexts(&info, &spec, &siblings, &env);
        // The repository's secrets, for ${{ secrets.NAME }}; their values never reach the log.
        let secrets = super::secrets::values(&self.db, &self.keys, repo.id).await?;
        writer.masks.extend(secrets.values().filter(|v| !v.is_empty()).cloned());
        contexts["secrets"] = serde_json::to_value(&secrets).unwrap_or_default();
        let how = How {
            work: &work,
            cancel,
            record: Record::Server {
                db: &self.db,
                job: job.id,
                run: run.id,
                repo: repo.id,
                data_dir: self.data_dir.clone(),
            },
            limits: &self.limits,
        };
        let done = run_steps(&spec, &mut env, &mut contexts, &mut writer, how).await?;
        if !spec.outputs.is_empty() {
            let json = serde_json::Value::Object(done.outputs).to_string();
            let job_id = job.id;
            self.db.write(move |tx| runs::set_outputs(tx, job_id, &json)).await?;
        }
        work.remove();
        Ok((done.conclusion, done.allowed_to_fail))
    }
}

/// What expressions and the environment know of a run.
pub struct RunInfo {
    pub sha: String,
    /// The branch or tag.
    pub branch: String,
    pub repository: String,
    pub owner: String,
    pub run_id: i64,
    pub run_number: i64,
    pub event: String,
    pub workflow: String,
    /// workflow_dispatch inputs, a JSON object.
    pub inputs: serde_json::Value,
}

impl RunInfo {
    fn of(run: &runs::Run, repo: &db::repos::Repo) -> RunInfo {
        RunInfo {
            sha: run.head_sha.clone(),
            branch: run.head_branch.clone(),
            repository: format!("{}/{}", repo.owner, repo.name),
            owner: repo.owner.clone(),
            run_id: run.id,
            run_number: run.run_number,
            event: run.event.clone(),
            workflow: run.name.clone(),
            inputs: serde_json::from_str(&run.inputs).unwrap_or_else(|_| serde_json::json!({})),
        }
    }

    fn full_ref(&self) -> String {
        if self.branch.is_empty() {
            String::new()
        } else {
            format!("refs/heads/{}", self.branch)
        }
    }
}

/// A job's folders: the workspace (the checkout), scratch files of the
/// runner (scripts, $GITHUB_ENV…), and a home of its own. All go at the end.
pub struct Work {
    pub root: PathBuf,
    pub workspace: PathBuf,
    pub scratch: PathBuf,
    pub home: PathBuf,
}

impl Work {
    /// Fresh, empty folders under `root`.
    pub fn create(root: &Path) -> Result<Work> {
        if root.exists() {
            std::fs::remove_dir_all(root)?;
        }
        let work = Work {
            root: root.to_path_buf(),
            workspace: root.join("workspace"),
            scratch: root.join("scratch"),
            home: root.join("home"),
        };
        for dir in [&work.workspace, &work.scratch, &work.home] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(work)
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The environment of a job's steps (DESIGN.md), before `env:` expressions.
pub fn job_env(info: &RunInfo, spec: &workflow::Job, work: &Work) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert(
        "PATH".into(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
    );
    env.insert("HOME".into(), work.home.display().to_string());
    env.insert("LANG".into(), "C.UTF-8".into());
    env.insert("CI".into(), "true".into());
    env.insert("HEARTH".into(), "true".into());
    env.insert("HEARTH_RUN_ID".into(), info.run_id.to_string());
    env.insert("HEARTH_RUN_NUMBER".into(), info.run_number.to_string());
    env.insert("HEARTH_JOB".into(), spec.key.clone());
    env.insert("GITHUB_SHA".into(), info.sha.clone());
    env.insert("GITHUB_REF".into(), info.full_ref());
    env.insert("GITHUB_REF_NAME".into(), info.branch.clone());
    env.insert("GITHUB_REPOSITORY".into(), info.repository.clone());
    env.insert("GITHUB_RUN_ID".into(), info.run_id.to_string());
    env.insert("GITHUB_RUN_NUMBER".into(), info.run_number.to_string());
    env.insert("GITHUB_JOB".into(), spec.key.clone());
    env.insert("GITHUB_EVENT_NAME".into(), info.event.clone());
    env.insert("GITHUB_WORKSPACE".into(), work.workspace.display().to_string());
    env.insert("RUNNER_OS".into(), "Linux".into());
    env.insert("RUNNER_TEMP".into(), work.scratch.display().to_string());
    env.extend(spec.env.clone());
    env
}

/// Where a job's results go: step states, artifacts and caches in the
/// database on the server; for `hearth ci run`, artifacts in a folder of
/// the local run and nothing else.
pub enum Record<'a> {
    Server {
        db: &'a Db,
        job: i64,
        run: i64,
        repo: RepoId,
        data_dir: PathBuf,
    },
    Local {
        store: PathBuf,
    },
}

impl Record<'_> {
    async fn step(
        &self,
        number: i64,
        status: &'static str,
        conclusion: Option<&'static str>,
        code: Option<i64>,
    ) -> Result<()> {
        match self {
            Record::Server { db, job, .. } => {
                let job = *job;
                db.write(move |tx| runs::set_step(tx, job, number, status, conclusion, code))
                    .await
            }
            Record::Local { .. } => Ok(()),
        }
    }

    /// Appends what a step wrote to `$GITHUB_STEP_SUMMARY` (Markdown, up
    /// to `SUMMARY_CAP_BYTES` a step) to the job's summary.
    fn summary(&self, written: &Path, writer: &mut LogWriter) {
        let Record::Server { data_dir, run, job, .. } = self else {
            return;
        };
        let Ok(meta) = std::fs::metadata(written) else { return };
        if meta.len() == 0 {
            return;
        }
        if meta.len() > SUMMARY_CAP_BYTES {
            writer.line(&format!(
                "Warning: the step summary is larger than {} KiB and was left out.",
                SUMMARY_CAP_BYTES >> 10
            ));
            return;
        }
        let Ok(text) = std::fs::read_to_string(written) else {
            return;
        };
        let path = summary_path(data_dir, *run, *job);
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{}", text.trim_end()));
        if let Err(e) = appended {
            writer.line(&format!("Warning: the step summary could not be kept: {e}"));
        }
    }

    /// Where archives are kept: `data/artifacts` on the server.
    fn store(&self) -> PathBuf {
        match self {
            Record::Server { data_dir, .. } => data_dir.join("artifacts"),
            Record::Local { store } => store.clone(),
        }
    }

    /// Names an artifact of this run; an error says why not (a name taken).
    async fn add_artifact(&self, name: &str, sha: &str, size: u64, files: usize) -> Result<()> {
        match self {
            Record::Server { db, job, run, .. } => {
                let (job, run, name, sha) = (*job, *run, name.to_string(), sha.to_string());
                db.write(move |tx| db::artifacts::insert(tx, run, job, &name, &sha, size, files))
                    .await
            }
            Record::Local { store } => {
                let names = store.join("names");
                std::fs::create_dir_all(&names)?;
                let path = names.join(name);
                if path.exists() {
                    return Err(Error::Conflict(format!(
                        "this run has an artifact named {name:?} already"
                    )));
                }
                Ok(std::fs::write(path, sha)?)
            }
        }
    }

    /// The artifacts of this run: name and archive.
    async fn artifacts(&self) -> Result<Vec<(String, String)>> {
        match self {
            Record::Server { db, run, .. } => {
                let run = *run;
                let list = db.read(move |c| db::artifacts::for_run(c, run)).await?;
                Ok(list.into_iter().map(|a| (a.name, a.sha256)).collect())
            }
            Record::Local { store } => {
                let Ok(entries) = std::fs::read_dir(store.join("names")) else {
                    return Ok(Vec::new());
                };
                let mut list: Vec<(String, String)> = entries
                    .flatten()
                    .filter_map(|e| {
                        let sha = std::fs::read_to_string(e.path()).ok()?;
                        Some((e.file_name().to_string_lossy().into_owned(), sha))
                    })
                    .collect();
                list.sort();
                Ok(list)
            }
        }
    }

    /// The cache to restore for `key`: its key and archive.
    async fn cache_lookup(&self, key: &str, prefixes: Vec<String>) -> Result<Option<(String, String)>> {
        match self {
            Record::Server { db, repo, .. } => {
                let (repo, key) = (*repo, key.to_string());
                db.read(move |c| db::artifacts::cache_lookup(c, repo, &key, &prefixes))
                    .await
            }
            Record::Local { .. } => Ok(None),
        }
    }

    /// Saves a cache; false when the key was saved already (or locally, where caches are not kept).
    async fn cache_save(&self, key: &str, sha: &str, size: u64) -> Result<bool> {
        match self {
            Record::Server { db, repo, .. } => {
                let (repo, key, sha) = (*repo, key.to_string(), sha.to_string());
                db.write(move |tx| db::artifacts::cache_save(tx, repo, &key, &sha, size))
                    .await
            }
            Record::Local { .. } => Ok(false),
        }
    }
}

/// How a job runs: where, what stops it, where its step states go, and
/// within which limits.
pub struct How<'a> {
    pub work: &'a Work,
    pub cancel: &'a Notify,
    pub record: Record<'a>,
    pub limits: &'a Limits,
}

/// How a job's steps went.
pub struct Finished {
    pub conclusion: &'static str,
    /// continue-on-error held.
    pub allowed_to_fail: bool,
    /// The job's `outputs`, evaluated.
    pub outputs: serde_json::Map<String, serde_json::Value>,
}

/// Runs the steps of job `spec` in `work`: the heart of the executor, the
/// same on the server and in `hearth ci run`.
pub async fn run_steps(
    spec: &workflow::Job,
    env: &mut BTreeMap<String, String>,
    contexts: &mut serde_json::Value,
    writer: &mut LogWriter,
    how: How<'_>,
) -> Result<Finished> {
    let How {
        work,
        cancel,
        record,
        limits,
    } = how;
    let deadline = Instant::now() + Duration::from_secs(spec.timeout_seconds.min(limits.max_timeout_seconds));
    let (workspace, scratch) = (&work.workspace, &work.scratch);
    // Job-level env may use expressions too.
    let resolved: Vec<(String, String)> = env
        .iter()
        .filter(|(_, v)| v.contains("${{"))
        .map(|(k, v)| {
            let ctx = expr::Context::new(contexts, expr::Status::Success);
            (
                k.clone(),
                expr::interpolate(v, &ctx).unwrap_or_else(|e| format!("(expression error: {e})")),
            )
        })
        .collect();
    env.extend(resolved);
    let allowed_to_fail = match spec.continue_on_error.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(c) => {
            contexts["env"] = serde_json::to_value(&env).unwrap_or_default();
            let ctx = expr::Context::new(contexts, expr::Status::Success);
            expr::condition(c, &ctx).unwrap_or_else(|e| {
                writer.line(&format!("Hearth: continue-on-error: {e}"));
                false
            })
        }
    };
    if let Some(e) = &spec.environment {
        let ctx = expr::Context::new(contexts, expr::Status::Success);
        let url = e.url.as_deref().map(|u| expr::interpolate(u, &ctx).unwrap_or_default());
        writer.line(&format!(
            "Hearth: this job deploys to the {} environment{}",
            e.name,
            url.map(|u| format!(" ({u})")).unwrap_or_default()
        ));
    }
    let mut conclusion = "success";
    let hash_files = |patterns: &[String]| hash_files(workspace, patterns);
    // `actions/cache` steps whose key missed: saved if the job succeeds.
    let mut cache_saves: Vec<(String, String)> = Vec::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let number = i as i64 + 1;
        let mut action_outputs = serde_json::Map::new();
        let status = match conclusion {
            "success" => expr::Status::Success,
            "cancelled" | "timed_out" => expr::Status::Cancelled,
            _ => expr::Status::Failure,
        };
        contexts["env"] =
            serde_json::to_value(env.iter().chain(&step.env).collect::<BTreeMap<_, _>>()).unwrap_or_default();
        let mut ctx = expr::Context::new(contexts, status);
        ctx.files = Some(&hash_files);
        let wanted = match step.condition.as_deref() {
            Some(c) => expr::condition(c, &ctx),
            None => Ok(status == expr::Status::Success),
        };
        let step_id = step.id.clone();
        let step = match (wanted, interpolated(step, &ctx)) {
            (Ok(false), _) => {
                if let Some(id) = &step_id {
                    contexts["steps"][id] =
                        serde_json::json!({ "outputs": {}, "outcome": "skipped", "conclusion": "skipped" });
                }
                record.step(number, "completed", Some("skipped"), None).await?;
                continue;
            }
            (Err(e), _) | (_, Err(e)) => {
                writer.line(&format!("Hearth: step {number}: {e}"));
                record.step(number, "completed", Some("failure"), None).await?;
                conclusion = "failure";
                continue;
            }
            (Ok(true), Ok(step)) => step,
        };
        if matches!(status, expr::Status::Cancelled) {
            break;
        }
        record.step(number, "in_progress", None, None).await?;
        writer.line(&format!("::group::{}", step.name));
        let (step_conclusion, code) = match &step.run {
            None => {
                let (c, outputs) = run_action(&step, workspace, writer, &record, &mut cache_saves).await?;
                action_outputs = outputs;
                (c, None)
            }
            Some(script) => {
                let step_deadline = match step.timeout_seconds {
                    Some(secs) => deadline.min(Instant::now() + Duration::from_secs(secs)),
                    None => deadline,
                };
                let mut outcome = run_step(
                    &step,
                    script,
                    number,
                    scratch,
                    workspace,
                    env,
                    step_deadline,
                    cancel,
                    writer,
                    limits,
                )
                .await?;
                // The step's own timeout fails the step, not the whole job's time.
                if outcome.0 == "timed_out" && Instant::now() < deadline {
                    writer.line("Hearth: that was the step's own timeout-minutes.");
                    outcome = ("failure", None);
                }
                // Files the step wrote to change later steps.
                record.summary(&scratch.join(format!("summary-{number}")), writer);
                read_env_file(&scratch.join(format!("env-{number}")), env);
                prepend_path(&scratch.join(format!("path-{number}")), env);
                outcome
            }
        };
        writer.line("::endgroup::");
        record.step(number, "completed", Some(step_conclusion), code).await?;
        if let Some(id) = &step_id {
            let mut outputs: serde_json::Map<String, serde_json::Value> =
                read_key_values(&scratch.join(format!("output-{number}")))
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
            outputs.append(&mut action_outputs);
            let effective = if step.continue_on_error {
                "success"
            } else {
                step_conclusion
            };
            contexts["steps"][id] =
                serde_json::json!({ "outputs": outputs, "outcome": step_conclusion, "conclusion": effective });
        }
        if step.continue_on_error && matches!(step_conclusion, "failure" | "timed_out") {
            writer.line("Hearth: the step failed; continue-on-error lets the job go on.");
            continue;
        }
        if step_conclusion != "success" && conclusion == "success" {
            conclusion = step_conclusion;
        }
        if matches!(step_conclusion, "cancelled" | "timed_out") {
            conclusion = step_conclusion;
            break;
        }
    }
    contexts["env"] = serde_json::to_value(&env).unwrap_or_default();
    let outputs: serde_json::Map<String, serde_json::Value> = {
        let ctx = expr::Context::new(contexts, expr::Status::Success);
        spec.outputs
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    serde_json::Value::String(expr::interpolate(v, &ctx).unwrap_or_default()),
                )
            })
            .collect()
    };
    if conclusion == "success" {
        for (key, paths) in cache_saves {
            save_cache(&key, &paths, workspace, writer, &record).await?;
        }
    }
    writer.line(&format!("Hearth: job {} finished: {conclusion}", spec.key));
    if allowed_to_fail && matches!(conclusion, "failure" | "timed_out") {
        writer.line("Hearth: continue-on-error: this failure does not fail the run.");
    }
    Ok(Finished {
        conclusion,
        allowed_to_fail,
        outputs,
    })
}

/// `hashFiles()`: the SHA-256 of the SHA-256 of each file of the workspace
/// matching the patterns, in path order; "" when none match.
fn hash_files(workspace: &Path, patterns: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let Ok(files) = super::artifacts::matching_files(workspace, &patterns.join("\n")) else {
        return String::new();
    };
    if files.is_empty() {
        return String::new();
    }
    let mut all = Sha256::new();
    for f in files {
        if let Ok(bytes) = std::fs::read(workspace.join(f)) {
            all.update(Sha256::digest(&bytes));
        }
    }
    all.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs a built-in action (`uses:`); returns its conclusion and outputs.
async fn run_action(
    step: &workflow::Step,
    workspace: &Path,
    writer: &mut LogWriter,
    record: &Record<'_>,
    cache_saves: &mut Vec<(String, String)>,
) -> Result<(&'static str, serde_json::Map<String, serde_json::Value>)> {
    use workflow::Action;
    let with = |k: &str| step.with.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let store = record.store();
    let mut outputs = serde_json::Map::new();
    let failed = |writer: &mut LogWriter, why: String| {
        writer.line(&format!("Hearth: {why}"));
        Ok(("failure", serde_json::Map::new()))
    };
    match step.action {
        None | Some(Action::Checkout) => {
            writer.line("The workspace is a checkout of the commit already.");
        }
        Some(Action::UploadArtifact) => {
            let name = with("name").unwrap_or("artifact").to_string();
            if name.len() > 100 || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
                return failed(
                    writer,
                    format!("{name:?} is not an artifact name (no slashes, up to 100 characters)"),
                );
            }
            let paths = with("path").unwrap_or_default().to_string();
            let ws = workspace.to_path_buf();
            let packed = tokio::task::spawn_blocking(move || {
                let files = super::artifacts::matching_files(&ws, &paths)?;
                if files.is_empty() {
                    return Ok(None);
                }
                let (sha, size) = super::artifacts::pack(&store, &ws, &files).map_err(|e| e.to_string())?;
                Ok(Some((sha, size, files.len())))
            })
            .await
            .map_err(|e| Error::internal(format!("packing an artifact: {e}")))?;
            match packed {
                Err(why) => return failed(writer, why),
                Ok(None) => {
                    let message = format!("no files match the path of artifact {name:?}");
                    match with("if-no-files-found").unwrap_or("warn") {
                        "error" => return failed(writer, message),
                        "ignore" => {}
                        _ => writer.line(&format!("Warning: {message}; nothing was uploaded.")),
                    }
                }
                Ok(Some((sha, size, files))) => match record.add_artifact(&name, &sha, size, files).await {
                    Ok(()) => writer.line(&format!(
                        "Hearth: artifact {name:?} uploaded: {files} files, {size} bytes"
                    )),
                    Err(Error::Conflict(why)) => return failed(writer, why),
                    Err(e) => return Err(e),
                },
            }
        }
        Some(Action::DownloadArtifact) => {
            let dest = with("path").unwrap_or(".");
            if Path::new(dest)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
            {
                return failed(writer, format!("{dest}: the path leaves the workspace"));
            }
            let dest = workspace.join(dest);
            let all = record.artifacts().await?;
            let wanted: Vec<(String, String, PathBuf)> = match with("name") {
                Some(name) => match all.into_iter().find(|(n, _)| n == name) {
                    Some((n, sha)) => vec![(n, sha, dest.clone())],
                    None => return failed(writer, format!("this run has no artifact named {name:?} (yet)")),
                },
                // Every artifact, each in a folder of its name.
                None => all
                    .into_iter()
                    .map(|(n, sha)| {
                        let d = dest.join(&n);
                        (n, sha, d)
                    })
                    .collect(),
            };
            for (name, sha, to) in wanted {
                let store = store.clone();
                let n = tokio::task::spawn_blocking(move || super::artifacts::unpack(&store, &sha, &to))
                    .await
                    .map_err(|e| Error::internal(format!("unpacking an artifact: {e}")))?;
                match n {
                    Ok(n) => writer.line(&format!("Hearth: artifact {name:?} downloaded: {n} files")),
                    Err(e) => return failed(writer, format!("artifact {name:?}: {e}")),
                }
            }
        }
        Some(Action::Cache) => {
            let key = with("key").unwrap_or_default().to_string();
            if key.is_empty() || key.len() > 512 {
                return failed(writer, "a cache key has 1 to 512 characters".into());
            }
            let prefixes: Vec<String> = step
                .with
                .get("restore-keys")
                .map(|r| {
                    r.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let found = record.cache_lookup(&key, prefixes).await?;
            let hit = found.as_ref().is_some_and(|(k, _)| *k == key);
            match found {
                Some((found_key, sha)) => {
                    let ws = workspace.to_path_buf();
                    let n = tokio::task::spawn_blocking(move || super::artifacts::unpack(&store, &sha, &ws))
                        .await
                        .map_err(|e| Error::internal(format!("restoring a cache: {e}")))?;
                    match n {
                        Ok(n) => writer.line(&format!("Hearth: cache {found_key:?} restored: {n} files")),
                        Err(e) => writer.line(&format!("Warning: cache {found_key:?} could not be restored: {e}")),
                    }
                }
                None => writer.line(&format!("Hearth: no cache for {key:?}")),
            }
            if !hit {
                cache_saves.push((key, with("path").unwrap_or_default().to_string()));
            }
            outputs.insert("cache-hit".into(), serde_json::Value::String(hit.to_string()));
        }
    }
    Ok(("success", outputs))
}

/// After a job succeeded: saves a cache whose key missed.
async fn save_cache(
    key: &str,
    paths: &str,
    workspace: &Path,
    writer: &mut LogWriter,
    record: &Record<'_>,
) -> Result<()> {
    let (ws, paths, store) = (workspace.to_path_buf(), paths.to_string(), record.store());
    let packed = tokio::task::spawn_blocking(move || {
        let files = super::artifacts::matching_files(&ws, &paths)?;
        if files.is_empty() {
            return Ok(None);
        }
        super::artifacts::pack(&store, &ws, &files)
            .map(|(sha, size)| Some((sha, size, files.len())))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| Error::internal(format!("packing a cache: {e}")))?;
    match packed {
        Err(why) => writer.line(&format!("Warning: cache {key:?} not saved: {why}")),
        Ok(None) => writer.line(&format!("Warning: cache {key:?} not saved: no files match its path")),
        Ok(Some((sha, size, files))) => {
            if record.cache_save(key, &sha, size).await? {
                writer.line(&format!("Hearth: cache {key:?} saved: {files} files, {size} bytes"));
            } else if matches!(record, Record::Local { .. }) {
                writer.line(&format!(
                    "Hearth: cache {key:?} not saved: hearth ci run keeps no caches"
                ));
            } else {
                writer.line(&format!("Hearth: cache {key:?} was saved by another job first"));
            }
        }
    }
    Ok(())
}

/// The contexts of expressions for a job: github, env, runner, needs, job,
/// and empty steps, inputs, secrets, matrix, strategy and vars.
pub fn contexts(
    run: &RunInfo,
    spec: &workflow::Job,
    siblings: &[Job],
    env: &BTreeMap<String, String>,
) -> serde_json::Value {
    let needs: serde_json::Map<String, serde_json::Value> = spec
        .needs
        .iter()
        .map(|n| {
            let result = need_result(siblings.iter(), n);
            // With a matrix, the outputs of the last instance that set any.
            let outputs: serde_json::Value = siblings
                .iter()
                .filter(|j| &j.key == n)
                .filter_map(|j| serde_json::from_str::<serde_json::Value>(&j.outputs).ok())
                .rfind(|o| o.as_object().is_some_and(|m| !m.is_empty()))
                .unwrap_or_else(|| serde_json::json!({}));
            (n.clone(), serde_json::json!({ "result": result, "outputs": outputs }))
        })
        .collect();
    let inputs = &run.inputs;
    serde_json::json!({
        "github": {
            "sha": run.sha,
            "ref": run.full_ref(),
            "ref_name": run.branch,
            "repository": run.repository,
            "repository_owner": run.owner,
            "run_id": run.run_id.to_string(),
            "run_number": run.run_number.to_string(),
            "event_name": run.event,
            "workflow": run.workflow,
            "job": spec.key,
            "event": { "inputs": inputs },
        },
        "env": env,
        "runner": { "os": "Linux", "arch": "X64" },
        "needs": needs,
        "job": { "status": "success" },
        "steps": {}, "inputs": inputs, "secrets": {}, "matrix": spec.matrix.clone().unwrap_or_default(), "vars": {},
        "strategy": spec.strategy.as_ref().map(|s| serde_json::json!({
            "fail-fast": s.fail_fast,
            "job-index": s.job_index,
            "job-total": s.job_total,
            "max-parallel": s.max_parallel.map_or(s.job_total, |m| m as usize),
        })).unwrap_or_else(|| serde_json::json!({})),
    })
}

/// Whether job `spec`, whose needs are done, runs: its `if:` holds, or
/// without one, all its needs succeeded.
pub fn wanted_by(
    spec: &workflow::Job,
    siblings: &[Job],
    values: &serde_json::Value,
) -> std::result::Result<bool, String> {
    let results: Vec<&str> = spec.needs.iter().map(|n| need_result(siblings.iter(), n)).collect();
    let status = if results.iter().all(|r| *r == "success") {
        expr::Status::Success
    } else if results.contains(&"cancelled") {
        expr::Status::Cancelled
    } else {
        expr::Status::Failure
    };
    match &spec.condition {
        None => Ok(status == expr::Status::Success),
        Some(condition) => expr::condition(condition, &expr::Context::new(values, status)),
    }
}

/// The result of a need over all its instances: success when all succeeded,
/// cancelled when any was cancelled, else failure (or skipped when all were).
fn need_result<'a>(jobs: impl Iterator<Item = &'a Job>, key: &str) -> &'static str {
    let results: Vec<&str> = jobs
        .filter(|j| j.key == key)
        .map(|j| match j.conclusion.as_deref() {
            // continue-on-error: the failure counts as success.
            Some("failure" | "timed_out") if j.allowed_failure => "success",
            other => other.unwrap_or(""),
        })
        .collect();
    if !results.is_empty() && results.iter().all(|r| *r == "success") {
        "success"
    } else if results.contains(&"cancelled") {
        "cancelled"
    } else if !results.is_empty() && results.iter().all(|r| *r == "skipped") {
        "skipped"
    } else {
        "failure"
    }
}

/// A step with its `${{ }}` expressions replaced by their values.
fn interpolated(step: &workflow::Step, ctx: &expr::Context) -> std::result::Result<workflow::Step, String> {
    let mut out = step.clone();
    out.name = expr::interpolate(&step.name, ctx)?;
    if let Some(run) = &step.run {
        out.run = Some(expr::interpolate(run, ctx)?);
    }
    if let Some(dir) = &step.working_directory {
        out.working_directory = Some(expr::interpolate(dir, ctx)?);
    }
    for (k, v) in &step.with {
        out.with.insert(k.clone(), expr::interpolate(v, ctx)?);
    }
    for (k, v) in &step.env {
        out.env.insert(k.clone(), expr::interpolate(v, ctx)?);
    }
    Ok(out)
}

/// The job's definition, as the trigger stored it.
fn spec_of(job: &Job) -> Result<workflow::Job> {
    serde_json::from_str(&job.spec).map_err(|e| Error::internal(format!("job spec of job {}: {e}", job.id)))
}

/// `data/runs/{run}/{job}.summary.md`: what steps wrote to `$GITHUB_STEP_SUMMARY`.
pub fn summary_path(data_dir: &Path, run: i64, job: i64) -> PathBuf {
    data_dir
        .join("runs")
        .join(run.to_string())
        .join(format!("{job}.summary.md"))
}

/// `data/runs/{run}/{job}.log`
pub fn log_path(data_dir: &Path, run: i64, job: i64) -> PathBuf {
    data_dir.join("runs").join(run.to_string()).join(format!("{job}.log"))
}

fn append_line(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(f, "{} {text}", timestamp())
}

/// Now, to the millisecond: `2026-11-26T07:50:17.123Z`.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = crate::web::rfc3339(now.as_secs() as i64);
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), now.subsec_millis())
}

/// The job log: timestamped lines in a file, cut at `LOG_CAP_BYTES` with a
/// marker; or, for `hearth ci run`, lines on the terminal after the job's name.
pub struct LogWriter {
    out: Box<dyn Write + Send>,
    /// `None`: lines are prefixed with the time; else with this.
    prefix: Option<String>,
    written: u64,
    truncated: bool,
    /// Values replaced by `***`: secrets, and what steps mask with `::add-mask::`.
    pub masks: Vec<String>,
}

impl LogWriter {
    pub fn open(path: &Path) -> Result<LogWriter> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let written = file.metadata()?.len();
        Ok(LogWriter {
            out: Box::new(file),
            prefix: None,
            written,
            truncated: false,
            masks: Vec::new(),
        })
    }

    /// Lines to standard output, each after `prefix`, never cut.
    pub fn console(prefix: String) -> LogWriter {
        LogWriter {
            out: Box::new(std::io::stdout()),
            prefix: Some(prefix),
            written: 0,
            truncated: false,
            masks: Vec::new(),
        }
    }

    pub fn line(&mut self, text: &str) {
        let mut text = std::borrow::Cow::Borrowed(text);
        if let Some(value) = text.trim_end().strip_prefix("::add-mask::") {
            if !value.is_empty() {
                self.masks.push(value.to_string());
            }
            text = std::borrow::Cow::Borrowed("::add-mask::***");
        }
        if self.truncated {
            return;
        }
        for mask in &self.masks {
            if text.contains(mask.as_str()) {
                text = std::borrow::Cow::Owned(text.replace(mask.as_str(), "***"));
            }
        }
        if let Some(prefix) = &self.prefix {
            // On a terminal, a step's name stands out; the end of a group says nothing.
            let _ = match text.strip_prefix("::group::") {
                Some(name) => writeln!(self.out, "{prefix}▶ {name}"),
                None if text == "::endgroup::" => Ok(()),
                None => writeln!(self.out, "{prefix}{text}"),
            };
            return;
        }
        let line = format!("{} {text}\n", timestamp());
        if self.written + line.len() as u64 > LOG_CAP_BYTES {
            self.truncated = true;
            let _ = writeln!(
                self.out,
                "Hearth: log truncated at {} MiB; the job goes on.",
                LOG_CAP_BYTES >> 20
            );
            return;
        }
        self.written += line.len() as u64;
        let _ = self.out.write_all(line.as_bytes());
    }
}

/// Runs one `run:` step; returns its conclusion and exit code.
#[allow(clippy::too_many_arguments)]
async fn run_step(
    step: &workflow::Step,
    script: &str,
    number: i64,
    scratch: &Path,
    workspace: &Path,
    env: &BTreeMap<String, String>,
    deadline: Instant,
    cancel: &Notify,
    writer: &mut LogWriter,
    limits: &Limits,
) -> Result<(&'static str, Option<i64>)> {
    let script_path = scratch.join(format!("step-{number}.sh"));
    std::fs::write(&script_path, script)?;
    let env_file = scratch.join(format!("env-{number}"));
    let path_file = scratch.join(format!("path-{number}"));
    let output_file = scratch.join(format!("output-{number}"));
    let summary_file = scratch.join(format!("summary-{number}"));
    for f in [&env_file, &path_file, &output_file, &summary_file] {
        std::fs::write(f, "")?;
    }
    let cwd = match &step.working_directory {
        Some(dir) if dir.split('/').any(|c| c == "..") => {
            writer.line(&format!("Hearth: working-directory {dir:?} leaves the workspace"));
            return Ok(("failure", None));
        }
        Some(dir) => workspace.join(dir.trim_start_matches('/')),
        None => workspace.to_path_buf(),
    };
    let shell = step.shell.as_deref().unwrap_or("bash");
    let (reader, pipe_writer) = std::io::pipe()?;
    let mut cmd = tokio::process::Command::new(shell);
    if shell == "bash" {
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]);
    } else {
        cmd.arg("-e");
    }
    cmd.arg(&script_path)
        .current_dir(&cwd)
        .env_clear()
        .envs(env)
        .envs(&step.env)
        .env("GITHUB_ENV", &env_file)
        .env("GITHUB_PATH", &path_file)
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .stdin(std::process::Stdio::null())
        .stdout(pipe_writer.try_clone()?)
        .stderr(pipe_writer)
        .process_group(0)
        .kill_on_drop(true);
    let memory = limits.memory_bytes as libc::rlim_t;
    // RLIMIT_NPROC counts every process of the user: what runs now, plus the
    // step's share. (The kernel does not apply it to root; the census below does.)
    // SAFETY: getuid(2) cannot fail and touches no memory.
    let nproc = if unsafe { libc::getuid() } == 0 {
        libc::RLIM_INFINITY
    } else {
        (processes_of_this_user() + limits.processes) as libc::rlim_t
    };
    // SAFETY: between fork and exec only async-signal-safe calls: prctl asks
    // the kernel to kill the step if the server dies (no step outlives it);
    // setrlimit caps each process's memory and the user's processes and
    // forbids core dumps; and oom_score_adj makes the kernel's OOM killer
    // take job processes before the server. None of them allocates or takes
    // a lock.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            let data = libc::rlimit {
                rlim_cur: memory,
                rlim_max: memory,
            };
            libc::setrlimit(libc::RLIMIT_DATA, &data);
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            let procs = libc::rlimit {
                rlim_cur: nproc,
                rlim_max: nproc,
            };
            libc::setrlimit(libc::RLIMIT_NPROC, &procs);
            let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
            if fd >= 0 {
                libc::write(fd, b"1000".as_ptr().cast(), 4);
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            writer.line(&format!("Hearth: could not start {shell}: {e}"));
            return Ok(("failure", None));
        }
    };
    drop(cmd);
    let pgid = child.id().map(|p| p as i32);
    // Lines go to the log as they come, from a thread of their own.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
    let pump = std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            // Lines are cut at MAX_LINE_BYTES: output without newlines is logged
            // in pieces, never held whole in memory.
            match (&mut reader).take(MAX_LINE_BYTES).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    // A full channel makes the step wait: the log keeps up with it.
                    if tx
                        .blocking_send(text.trim_end_matches(['\n', '\r']).to_string())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    let timeout = deadline.saturating_duration_since(Instant::now());
    // Counted from 250 ms on: a step's start is not delayed by it.
    let period = Duration::from_millis(250);
    let mut census = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    census.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let waited = {
        let wait = child.wait();
        tokio::pin!(wait);
        let sleep = tokio::time::sleep(timeout);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                status = &mut wait => break Ok(status),
                _ = &mut sleep => break Err("timed_out"),
                _ = cancel.notified() => break Err("cancelled"),
                Some(line) = rx.recv() => writer.line(&line),
                _ = census.tick() => {
                    // A fork bomb: stop it at once, before it takes the machine.
                    if let Some(pgid) = pgid && group_size(pgid) > limits.processes {
                        // SAFETY: kill(2) with a negative pid signals a process group.
                        unsafe { libc::kill(-pgid, libc::SIGKILL) };
                        break Err("processes");
                    }
                }
            }
        }
    };
    // Whatever the step left behind goes with it.
    if let Some(pgid) = pgid {
        kill_group(pgid).await;
    }
    let result = match waited {
        Ok(Ok(status)) => {
            let code = status.code().map(i64::from);
            if status.success() {
                ("success", code)
            } else {
                ("failure", code)
            }
        }
        Ok(Err(e)) => {
            writer.line(&format!("Hearth: waiting for the step failed: {e}"));
            ("failure", None)
        }
        Err(why) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            match why {
                "cancelled" => writer.line("Hearth: the run was cancelled; the step was stopped."),
                "processes" => writer.line(&format!(
                    "Hearth: the step had more than {} processes at once and was stopped.",
                    limits.processes
                )),
                _ => writer.line("Hearth: the job ran out of time (timeout-minutes) and was stopped."),
            }
            (if why == "processes" { "failure" } else { why }, None)
        }
    };
    // Drain what is left; a process that escaped the group keeps the pipe
    // open, so stop waiting after the grace period.
    let drained = tokio::time::timeout(GRACE, async {
        while let Some(line) = rx.recv().await {
            writer.line(&line);
        }
    })
    .await;
    if drained.is_ok() {
        let _ = pump.join();
    }
    if let (_, Some(code)) = result
        && code != 0
    {
        writer.line(&format!("Hearth: the step exited with code {code}"));
    }
    Ok(result)
}

/// How many processes belong to the user this server runs as.
fn processes_of_this_user() -> usize {
    // SAFETY: getuid(2) cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() }.to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("status")).is_ok_and(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|ids| ids.split_whitespace().next().map(|real| real == uid))
                    .unwrap_or(false)
            })
        })
        .count()
}

/// How many processes are in process group `pgid`.
fn group_size(pgid: i32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| {
            // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
            std::fs::read_to_string(e.path().join("stat")).is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split(' ').nth(2).map(|g| g == pgid.to_string()))
                    .unwrap_or(false)
            })
        })
        .count()
}

/// SIGTERM to the group, then SIGKILL after the grace period.
async fn kill_group(pgid: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
    let alive = unsafe { libc::kill(-pgid, libc::SIGTERM) } == 0;
    if alive {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // SAFETY: as above.
        if unsafe { libc::kill(-pgid, 0) } == 0 {
            tokio::time::sleep(GRACE).await;
            // SAFETY: as above.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

/// Kills the processes whose environment says they belong to job `job` of
/// this data directory; returns how many.
fn kill_leftovers(data_dir: &Path, job: i64) -> usize {
    let want_job = format!("HEARTH_JOB_ID={job}");
    let want_dir = format!("HEARTH_DATA_DIR={}", data_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        if vars.contains(&want_job.as_bytes()) && vars.contains(&want_dir.as_bytes()) {
            // SAFETY: kill(2) only sends a signal.
            if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

/// `KEY=VALUE` lines (and `KEY<<DELIM` blocks), as steps write them to
/// `$GITHUB_ENV` and `$GITHUB_OUTPUT`.
fn read_key_values(path: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((key.to_string(), value.join("\n")));
        } else if let Some((key, value)) = line.split_once('=')
            && !key.is_empty()
        {
            out.push((key.to_string(), value.to_string()));
        }
    }
    out
}

fn read_env_file(path: &Path, env: &mut BTreeMap<String, String>) {
    env.extend(read_key_values(path));
}

/// Folders written to `$GITHUB_PATH` come first in later steps' PATH.
fn prepend_path(path: &Path, env: &mut BTreeMap<String, String>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    for dir in text.lines().map(str::trim).filter(|d| !d.is_empty()) {
        let old = env.get("PATH").cloned().unwrap_or_default();
        env.insert("PATH".into(), format!("{dir}:{old}"));
    }
}
