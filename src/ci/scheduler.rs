//! The queue: a loop turns new ref updates into runs, starts every queued
//! job whose `needs` are done and whose `if:` holds, up to `--ci-jobs` at
//! once, honouring concurrency groups and `max-parallel`, and wakes on each
//! push and each finished job. A job gets a fresh workspace checked out from
//! the bare repository with gix, its contexts and secrets, and runs with the
//! executor; the workspace goes at the end. At start-up, jobs a crash left
//! running are failed and what they started is killed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::executor::{
    LogWriter, Record, RunInfo, RunWith, Work, append_line, cannot_run, contexts, job_env, run_steps, spec_of,
    wanted_by,
};
use super::process::kill_leftovers;
use super::{trigger, workflow};
use crate::config::CiLimits as Limits;
use crate::data_dir::DataDir;
use crate::db::repos::RepoId;
use crate::db::runs::{self, Job, JobId, RunId};
use crate::db::{self, Db};
use crate::delivery::{self, Passage};
use crate::error::{Context, Error, Result};
use crate::state::{self, Conclusion, Gate, NoRerun, Status};

/// A job running now: the signal that stops it, sent once (a job stopped
/// goes on with its `if: always()` and `if: cancelled()` steps).
struct Running {
    cancel: Arc<Notify>,
    signalled: bool,
}

/// CI of the whole server: the queue in SQLite and the jobs running now.
pub struct Ci {
    db: Db,
    data_dir: DataDir,
    work_dir: PathBuf,
    keys: super::secrets::Keyring,
    wake: Notify,
    limits: Limits,
    sandbox: super::sandbox::Sandbox,
    cgroups: super::cgroup::Cgroups,
    /// `--deploy-dir`: where local deploy targets are.
    deploy_dir: Option<PathBuf>,
    /// Where actions come from.
    actions: super::uses::Sources,
    /// `GITHUB_SERVER_URL`.
    server_url: String,
    /// `--tool-cache`.
    tool_cache: PathBuf,
    /// Marks this server's job processes when they run without a sandbox.
    server_key: String,
    /// Running jobs, each with the signal that cancels it.
    running: Mutex<HashMap<JobId, Running>>,
    /// What running jobs tell their viewers.
    feeds: super::live::Feeds,
}

/// What holds a job: the sandbox of its steps, and their cgroup limits.
pub struct Confinement {
    pub sandbox: super::sandbox::Sandbox,
    pub cgroups: super::cgroup::Cgroups,
}

/// What jobs reach outside themselves: `--deploy-dir` (local deploy
/// targets) and `--actions-url` (the upstream of actions).
pub struct Outside {
    pub deploy_dir: Option<PathBuf>,
    pub actions_url: Option<String>,
    /// Where jobs reach this server: `--base-url`, else the address it listens on.
    pub server_url: String,
    /// `--tool-cache`: toolchains for setup-* actions, shown to jobs read-only.
    pub tool_cache: PathBuf,
}

impl Ci {
    pub fn new(
        db: Db,
        data_dir: DataDir,
        work_dir: PathBuf,
        keys: super::secrets::Keyring,
        limits: Limits,
        confinement: Confinement,
        outside: Outside,
    ) -> Arc<Ci> {
        let actions = super::uses::Sources::new(
            Some((db.clone(), data_dir.clone())),
            data_dir.actions(),
            outside.actions_url,
        );
        Arc::new(Ci {
            actions,
            server_url: outside.server_url,
            tool_cache: outside.tool_cache,
            deploy_dir: outside.deploy_dir,
            server_key: super::process::server_key(data_dir.root()),
            db,
            data_dir,
            work_dir,
            keys,
            wake: Notify::new(),
            limits,
            sandbox: confinement.sandbox,
            cgroups: confinement.cgroups,
            running: Mutex::new(HashMap::new()),
            feeds: Default::default(),
        })
    }

    /// The news of job `job` for its viewers (see `live`).
    pub fn feed(&self, job: JobId) -> Arc<super::live::Feed> {
        self.feeds.of(job)
    }

    /// What jobs run in.
    pub fn sandbox(&self) -> &super::sandbox::Sandbox {
        &self.sandbox
    }

    /// Something changed: new ref updates, or a job finished.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Cancels a run: queued jobs at once, running ones by stopping their
    /// processes (the next scheduling pass, right away, signals them).
    pub async fn cancel(&self, run: RunId) -> Result<()> {
        self.db.write(move |tx| runs::cancel(tx, run)).await?;
        self.wake();
        Ok(())
    }

    /// Starts run `run` of `repo` again as a new run (see `runs::rerun`).
    /// A run still going cannot be started again; nor can one with nothing
    /// to re-run when only failed jobs are asked for.
    pub async fn rerun(&self, repo: RepoId, run: RunId, only_failed: bool) -> Result<runs::Run> {
        let new = self
            .db
            .write(move |tx| {
                let r = runs::by_id(tx, repo, run)?.ok_or(Error::NotFound)?;
                if let Err(why) = state::may_rerun(r.status, r.conclusion, r.error.is_some(), only_failed) {
                    let n = r.run_number;
                    return Err(Error::WrongState(match why {
                        NoRerun::Open => format!("run #{n} is still going; cancel it first"),
                        NoRerun::Unreadable => format!("run #{n} failed before any job ran: push a fixed workflow"),
                        NoRerun::NothingFailed => format!("run #{n} has no failed jobs"),
                    }));
                }
                let which = if only_failed {
                    state::Again::Failed
                } else {
                    state::Again::All
                };
                let (id, _) = runs::rerun(tx, &r, which, None)?;
                runs::by_id(tx, repo, id)?.ok_or(Error::NotFound)
            })
            .await?;
        self.wake();
        Ok(new)
    }

    /// Deploys again what deployment `id` of `repo` deployed: its job runs
    /// again in a new run of the same commit, with that run's artifacts
    /// (the other jobs keep their results), through its environment's gate,
    /// and its deployment is recorded as a rollback. Only a successful
    /// deployment of a finished run can be.
    pub async fn redeploy(&self, repo: RepoId, id: crate::db::environments::DeploymentId) -> Result<runs::Run> {
        let new = self
            .db
            .write(move |tx| {
                let d = crate::db::environments::deployment(tx, repo, id)?.ok_or(Error::NotFound)?;
                if d.state != state::Deployment::Success {
                    return Err(Error::WrongState(format!(
                        "deployment {id} ended {}: only a successful deployment can be deployed again",
                        d.state
                    )));
                }
                let r = runs::by_id(tx, repo, d.run_id)?.ok_or(Error::NotFound)?;
                if r.status.is_open() {
                    return Err(Error::WrongState(format!(
                        "run #{} is still going; wait for it to end",
                        r.run_number
                    )));
                }
                let (new, _) = runs::rerun(tx, &r, state::Again::Redeploy(d.job_id), Some(d.id))?;
                runs::by_id(tx, repo, new)?.ok_or(Error::NotFound)
            })
            .await?;
        self.wake();
        Ok(new)
    }

    /// The workspaces of jobs an earlier run of the server did not finish:
    /// no job runs yet, so every `job-N` folder of the work directory is one.
    fn remove_abandoned_workspaces(&self) {
        let killed = super::sandbox::kill_leftovers(&self.work_dir);
        if killed > 0 {
            tracing::warn!("killed {killed} job sandboxes an earlier run of the server left running");
        }
        let Ok(list) = std::fs::read_dir(&self.work_dir) else {
            return;
        };
        for entry in list.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_job = name
                .strip_prefix("job-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !is_job || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => tracing::warn!("removed the workspace {name} a job of an earlier run of the server left"),
                Err(e) => tracing::warn!(
                    "could not remove the abandoned workspace {}: {e}",
                    entry.path().display()
                ),
            }
        }
    }

    /// Fails the jobs a previous run of the server left running, then keeps
    /// turning pushes into runs and running their jobs.
    pub async fn start(self: &Arc<Self>) -> Result<()> {
        let failed = self
            .db
            .write(|tx| {
                // No job runs yet: no job token is good.
                db::job_tokens::revoke_all(tx)?;
                runs::fail_interrupted(tx)
            })
            .await?;
        for &id in &failed {
            // Steps die with the server (PR_SET_PDEATHSIG), and in a sandbox
            // all they started with them; without one, what they started
            // may not have: find it by the job's environment.
            let killed = kill_leftovers(&self.server_key, id);
            if killed > 0 {
                tracing::warn!("killed {killed} process(es) left by job {id} of an earlier run of the server");
            }
        }
        self.remove_abandoned_workspaces();
        for id in failed {
            let log = self.log_path_of_job(id).await;
            if let Ok(path) = log {
                let _ = append_line(&path, "Hearth: the server restarted while this job ran; it failed.");
            }
        }
        // The clock of `on: schedule`.
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut known = super::cron::Schedules::default();
            let data = this.data_dir.clone();
            loop {
                let minute = super::cron::next_minute().await;
                match super::cron::tick(&this.db, &data, &mut known, minute).await {
                    Ok(0) => {}
                    Ok(_) => this.wake(),
                    Err(e) => tracing::error!("scheduled runs: {e}"),
                }
            }
        });
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if let Err(e) = trigger::process_pending(&this.db, &this.data_dir).await {
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

    async fn log_path_of_job(&self, job: JobId) -> Result<PathBuf> {
        let run = self
            .db
            .read(move |c| runs::job(c, job))
            .await?
            .ok_or(Error::NotFound)?
            .run_id;
        Ok(self.data_dir.job_log(run, job))
    }

    async fn schedule(self: &Arc<Self>) -> Result<()> {
        let (jobs, blocked) = self
            .db
            .read(|c| Ok((runs::open_jobs(c)?, runs::blocked_runs(c)?)))
            .await?;
        let mut by_run: HashMap<RunId, Vec<&Job>> = HashMap::new();
        for j in &jobs {
            by_run.entry(j.run_id).or_default().push(j);
        }
        // Jobs asked to stop (cancel, cancel-in-progress, fail-fast).
        {
            let mut running = crate::sync::lock(&self.running);
            for j in jobs
                .iter()
                .filter(|j| j.cancel_requested && j.status == Status::InProgress)
            {
                if let Some(r) = running.get_mut(&j.id)
                    && !r.signalled
                {
                    r.cancel.notify_one();
                    r.signalled = true;
                }
            }
        }
        // Instances of a matrix job started in this pass, for max-parallel.
        let mut started: HashMap<(RunId, &str), usize> = HashMap::new();
        for j in jobs.iter().filter(|j| j.status == Status::Queued) {
            // An older run of its concurrency group goes first.
            if blocked.contains(&j.run_id) {
                continue;
            }
            let siblings = &by_run[&j.run_id];
            // A need is done when every instance of it (one per matrix combination) is.
            let all_done = j.needs.iter().all(|n| {
                siblings
                    .iter()
                    .filter(|s| workflow::is_of(&s.key, n))
                    .all(|s| !s.status.is_open())
            });
            if !all_done {
                continue;
            }
            let mut spec = spec_of(j)?;
            if !self.wanted(j, &spec, siblings).await? {
                let id = j.id;
                self.db
                    .write(move |tx| runs::finish_job(tx, id, Conclusion::Skipped))
                    .await?;
                self.feeds.end(id);
                continue;
            }
            // A matrix known only now (`fromJSON(needs.…)`): its instances take the job's place.
            if let Some(written) = spec.matrix_from.clone() {
                self.expand_matrix(j, &spec, siblings, &written).await?;
                self.wake();
                continue;
            }
            if let Some(max) = spec.strategy.as_ref().and_then(|s| s.max_parallel) {
                let going = siblings
                    .iter()
                    .filter(|s| s.key == j.key && s.status == Status::InProgress)
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
            if let Some(written) = spec.environment.as_ref().map(|e| e.name.clone()) {
                let environment = match self.environment_name(j, &spec, siblings, &written).await? {
                    Ok(name) => name,
                    Err(why) => {
                        let id = j.id;
                        self.db
                            .write(move |tx| runs::finish_job(tx, id, Conclusion::Failure))
                            .await?;
                        let _ = append_line(&self.data_dir.job_log(j.run_id, j.id), &format!("Hearth: {why}"));
                        self.feeds.end(j.id);
                        continue;
                    }
                };
                if let Some(e) = spec.environment.as_mut() {
                    e.name = environment.clone();
                }
                let job = (*j).clone();
                let (passage, superseded) = self.db.write(move |tx| delivery::pass(tx, &job, &environment)).await?;
                for (run, job, why) in superseded {
                    let _ = append_line(&self.data_dir.job_log(run, job), &format!("Hearth: {why}"));
                    self.feeds.end(job);
                }
                let log = self.data_dir.job_log(j.run_id, j.id);
                match passage {
                    Passage::Gate(Gate::Go) => {}
                    Passage::Gate(Gate::Later) => continue,
                    Passage::Gate(Gate::Hold) => {
                        let _ = append_line(&log, "Hearth: waiting for a reviewer of the environment to approve");
                        continue;
                    }
                    Passage::Refused(why) => {
                        let _ = append_line(&log, &format!("Hearth: {why}"));
                        self.feeds.end(j.id);
                        continue;
                    }
                }
            }
            let cancel = Arc::new(Notify::new());
            {
                let mut running = crate::sync::lock(&self.running);
                if running.len() >= self.limits.jobs || running.contains_key(&j.id) {
                    continue;
                }
                running.insert(
                    j.id,
                    Running {
                        cancel: cancel.clone(),
                        signalled: false,
                    },
                );
            }
            let id = j.id;
            if !self.db.write(move |tx| runs::start_job(tx, id)).await? {
                crate::sync::lock(&self.running).remove(&id);
                continue;
            }
            *started.entry((j.run_id, j.key.as_str())).or_default() += 1;
            let this = Arc::clone(self);
            let job = (*j).clone();
            tokio::spawn(async move {
                let id = job.id;
                let (conclusion, allowed) = match this.run_job(&job, &spec, &cancel).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!("job {id}: {e}");
                        let _ = append_line(
                            &this.data_dir.job_log(job.run_id, id),
                            &format!("Hearth: the job could not run: {e}"),
                        );
                        (Conclusion::Failure, false)
                    }
                };
                let forgiven = state::forgiven(conclusion, allowed);
                let fail_fast = spec
                    .strategy
                    .as_ref()
                    .is_some_and(|s| state::fails_fast(conclusion, allowed, s.fail_fast, s.job_total));
                let (run, key) = (job.run_id, job.key.clone());
                let recorded = this
                    .db
                    .write(move |tx| {
                        if forgiven {
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
                this.feeds.end(id);
                crate::sync::lock(&this.running).remove(&id);
                this.wake();
            });
        }
        // A run whose jobs are all skipped or done was completed by finish_job.
        Ok(())
    }

    /// A job whose needs are done runs if its `if:` holds (by default: all
    /// its needs succeeded) and this runner can run it (its `runs-on`,
    /// no containers); when not, the log says why.
    async fn wanted(&self, job: &Job, spec: &workflow::Job, siblings: &[&Job]) -> Result<bool> {
        let owned: Vec<Job> = siblings.iter().map(|s| (*s).clone()).collect();
        // Most jobs have no `if:` and plain labels: no need to look anything up for them.
        let plain = spec.condition.is_none() && !spec.runs_on.iter().any(|l| l.contains("${{"));
        let values = if plain {
            serde_json::Value::Null
        } else {
            let (run, repo, full_ref) = self.run_and_repo(job).await?;
            contexts(&RunInfo::of(&run, &repo, full_ref), spec, &owned, &spec.env)
        };
        let log = self.data_dir.job_log(job.run_id, job.id);
        match wanted_by(spec, &owned, &values) {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(e) => {
                let _ = append_line(&log, &format!("Hearth: if: {e}"));
                return Ok(false);
            }
        }
        // A matrix still to expand has no labels to check yet.
        if spec.matrix_from.is_some() {
            return Ok(true);
        }
        match cannot_run(spec, &values) {
            None => Ok(true),
            Some(why) => {
                let _ = append_line(&log, &format!("Hearth: skipped: {why}"));
                Ok(false)
            }
        }
    }

    /// Replaces job `job`, whose `strategy.matrix` is the expression
    /// `written`, by one instance per combination of what it gives; when it
    /// gives no matrix, the job fails saying why.
    async fn expand_matrix(&self, job: &Job, spec: &workflow::Job, siblings: &[&Job], written: &str) -> Result<()> {
        let owned: Vec<Job> = siblings.iter().map(|s| (*s).clone()).collect();
        let (run, repo, full_ref) = self.run_and_repo(job).await?;
        let values = contexts(&RunInfo::of(&run, &repo, full_ref), spec, &owned, &spec.env);
        let ctx = super::expr::Context::new(&values, super::expr::Status::Success);
        let source = written.trim();
        let source = source
            .strip_prefix("${{")
            .and_then(|s| s.strip_suffix("}}"))
            .unwrap_or(source);
        let matrix = super::expr::parse(source.trim())
            .and_then(|e| super::expr::eval(&e, &ctx))
            .and_then(|v| match v {
                serde_json::Value::String(text) if text.trim_start().starts_with('{') => {
                    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))
                }
                other => Ok(other),
            });
        let instances = matrix.and_then(|m| workflow::expand_later(spec, &m)).and_then(|list| {
            list.iter()
                .map(trigger::new_job)
                .collect::<std::result::Result<Vec<_>, String>>()
        });
        let id = job.id;
        match instances {
            Ok(list) => {
                self.db.write(move |tx| runs::expand_job(tx, id, &list)).await?;
            }
            Err(why) => {
                self.db
                    .write(move |tx| runs::finish_job(tx, id, Conclusion::Failure))
                    .await?;
                let _ = append_line(
                    &self.data_dir.job_log(job.run_id, job.id),
                    &format!("Hearth: strategy.matrix: {why}"),
                );
                self.feeds.end(job.id);
            }
        }
        Ok(())
    }

    /// The environment a job deploys to: its name as written, with its
    /// expressions (`${{ matrix.env }}`) evaluated; an error says why not.
    async fn environment_name(
        &self,
        job: &Job,
        spec: &workflow::Job,
        siblings: &[&Job],
        written: &str,
    ) -> Result<std::result::Result<String, String>> {
        if !written.contains("${{") {
            return Ok(Ok(written.to_string()));
        }
        let owned: Vec<Job> = siblings.iter().map(|s| (*s).clone()).collect();
        let (run, repo, full_ref) = self.run_and_repo(job).await?;
        let values = contexts(&RunInfo::of(&run, &repo, full_ref), spec, &owned, &spec.env);
        let ctx = super::expr::Context::new(&values, super::expr::Status::Success);
        Ok(super::expr::interpolate(written, &ctx)
            .map_err(|e| format!("environment: {e}"))
            .and_then(|name| delivery::check_name(&name).map_err(|e| format!("environment {name:?}: {e}"))))
    }

    /// A job's run, its repository, and the full ref it is of.
    async fn run_and_repo(&self, job: &Job) -> Result<(runs::Run, db::repos::Repo, String)> {
        let run_id = job.run_id;
        self.db
            .read(move |c| {
                let run = runs::run_by_id_any(c, run_id)?.ok_or(Error::NotFound)?;
                let repo = db::repos::by_id(c, run.repo_id)?.ok_or(Error::NotFound)?;
                let full_ref = runs::full_ref(c, &run)?;
                Ok((run, repo, full_ref))
            })
            .await
    }

    /// Runs one job; returns its conclusion, and whether continue-on-error
    /// allows it to fail.
    async fn run_job(&self, job: &Job, spec: &workflow::Job, cancel: &Notify) -> Result<(Conclusion, bool)> {
        let (run, repo, full_ref) = self.run_and_repo(job).await?;
        let info = RunInfo {
            server_url: self.server_url.clone(),
            ..RunInfo::of(&run, &repo, full_ref)
        };
        let log = self.data_dir.job_log(run.id, job.id);
        std::fs::create_dir_all(log.parent().expect("log has a folder"))?;
        let feed = self.feeds.of(job.id);
        let mut writer = LogWriter::open(&log)?.live(feed.clone());
        if let Some(why) = self.sandbox.broken() {
            writer.line(&format!("Hearth: {why}"));
            return Ok((Conclusion::Failure, false));
        }
        writer.line(&format!(
            "Hearth: job {} of run #{} ({}) for {} at {}",
            spec.key, run.run_number, run.workflow, run.head_branch, run.head_sha
        ));
        // The checkout, then the folders handed to the job's user, off the runtime.
        let prepared = {
            let (root, repo_dir, sha, sandbox) = (
                self.work_dir.join(format!("job-{}", job.id)),
                self.data_dir.repo(&repo.owner, &repo.name),
                run.head_sha.clone(),
                self.sandbox.clone(),
            );
            let name = repo.name.clone();
            crate::error::blocking("checkout task", move || -> Result<(Work, Result<usize>)> {
                let mut work = Work::create(&root, &name)?;
                let checkout = crate::git::checkout(&repo_dir, &sha, &work.workspace).and_then(|n| {
                    work.hand_over(&sandbox)
                        .context("could not prepare the job's folders")?;
                    Ok(n)
                });
                Ok((work, checkout))
            })
            .await??
        };
        let (mut work, checkout) = prepared;
        let tool_cache = self.tool_cache.is_dir().then(|| match self.sandbox.is_on() {
            true => PathBuf::from(super::tool_cache::SEEN_AT),
            false => self.tool_cache.clone(),
        });
        if let Some(inside) = &tool_cache {
            work.shown.push((self.tool_cache.clone(), inside.clone()));
        }
        let files = match checkout {
            Ok(n) => n,
            Err(e) => {
                writer.line(&format!("Hearth: could not check out {}: {e}", run.head_sha));
                work.remove();
                return Ok((Conclusion::Failure, false));
            }
        };
        writer.line(&format!("Hearth: workspace checked out ({files} files)"));
        writer.line(&format!("Hearth: {}", self.cgroups.describe()));
        let mut env = job_env(&info, spec, &work);
        env.insert("HEARTH_JOB_ID".into(), job.id.to_string());
        if let Some(inside) = tool_cache {
            let inside = inside.display().to_string();
            env.insert("RUNNER_TOOL_CACHE".into(), inside.clone());
            env.insert("AGENT_TOOLSDIRECTORY".into(), inside);
        }
        if !self.sandbox.is_on() {
            // How a sweep after a crash finds what a job left running.
            env.insert("HEARTH_SERVER".into(), self.server_key.clone());
        }
        let run_id = run.id;
        let siblings = self.db.read(move |c| runs::jobs(c, run_id)).await?;
        let mut contexts = contexts(&info, spec, &siblings, &env);
        // The repository's secrets, for ${{ secrets.NAME }}; their values never reach the log.
        // A job deploying to an environment reads its secrets and variables (`vars`) too.
        let (secrets, vars) = match &spec.environment {
            Some(e) => super::secrets::for_environment(&self.db, &self.keys, repo.id, &e.name).await?,
            None => (
                super::secrets::values(&self.db, &self.keys, repo.id).await?,
                Default::default(),
            ),
        };
        for value in secrets.values() {
            writer.mask(value);
        }
        let secrets = match &spec.called {
            Some(called) => super::executor::called_secrets(called, secrets),
            None => secrets,
        };
        contexts["secrets"] = serde_json::to_value(&secrets).unwrap_or_default();
        contexts["vars"] = serde_json::to_value(&vars).unwrap_or_default();
        // The job token, good while the job runs, for this repository only.
        let permissions = spec
            .permissions
            .clone()
            .unwrap_or_else(workflow::permissions::Permissions::default_token);
        let timeout = self.limits.max_timeout_seconds;
        let token = super::job_token::mint(&self.db, job.id, &repo, &permissions, timeout).await?;
        writer.mask(&token);
        writer.line(&format!("Hearth: the job token has {}", permissions.granted()));
        contexts["github"]["token"] = serde_json::Value::String(token.clone());
        contexts["secrets"]["GITHUB_TOKEN"] = serde_json::Value::String(token);
        let with = RunWith {
            work: &work,
            actions: &self.actions,
            owner: Some(repo.owner_id),
            sandbox: &self.sandbox,
            cgroups: &self.cgroups,
            cancel,
            record: Record::Server {
                db: &self.db,
                job: job.id,
                run: run.id,
                repo: repo.id,
                data_dir: self.data_dir.clone(),
                feed,
                deploy_dir: self.deploy_dir.clone(),
                caches: crate::db::artifacts::CacheScopes::of(
                    &info.full_ref,
                    info.pull.as_ref().map(|p| p.base_ref.as_str()),
                    &repo.default_branch,
                ),
            },
            limits: &self.limits,
        };
        let done = run_steps(spec, &mut env, &mut contexts, &mut writer, with).await;
        if let Err(e) = super::job_token::revoke(&self.db, job.id).await {
            tracing::error!("revoking the token of job {}: {e}", job.id);
        }
        let done = done?;
        if !spec.outputs.is_empty() {
            let json = serde_json::Value::Object(done.outputs).to_string();
            let job_id = job.id;
            self.db.write(move |tx| runs::set_outputs(tx, job_id, &json)).await?;
        }
        if let Some(url) = done
            .environment_url
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            let job_id = job.id;
            self.db
                .write(move |tx| {
                    if let Some(d) = crate::db::environments::deployment_of_job(tx, job_id)? {
                        crate::db::environments::set_url(tx, d.id, &url)?;
                    }
                    Ok(())
                })
                .await?;
        }
        work.remove();
        Ok((done.conclusion, done.allowed_to_fail))
    }
}
