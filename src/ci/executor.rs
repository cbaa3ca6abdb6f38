//! Running a job's steps: the same on the server (`scheduler`) and in
//! `hearth ci run` (`local`). Each `run:` step is a script run with
//! `bash --noprofile --norc -eo pipefail` in a process group of its own
//! (`process`); built-in actions are in `actions`. Output goes line by line,
//! timestamped and masked, to the job's log; `$GITHUB_ENV`, `$GITHUB_PATH`,
//! `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` carry over to later steps.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::actions::{run_action, save_cache};
use super::process::run_step;
use super::{expr, workflow};
use crate::data_dir::DataDir;
use crate::db::repos::RepoId;
use crate::db::runs::{self, Job, JobId, RunId, RunNumber};
use crate::db::{self, Db};
use crate::error::{Context, Result};
use crate::state::{self, Conclusion, Status};

/// A job's log is cut here; the job goes on.
pub const LOG_CAP_BYTES: u64 = 16 << 20;
/// A step's `$GITHUB_ENV`, `$GITHUB_PATH`, `$GITHUB_OUTPUT` and
/// `$GITHUB_STEP_SUMMARY` may hold this much each; more fails the step.
const STEP_FILE_CAP_BYTES: u64 = 1 << 20;

/// What expressions and the environment know of a run.
pub struct RunInfo {
    pub sha: String,
    /// The branch or tag.
    pub branch: String,
    /// `refs/heads/{branch}` or `refs/tags/{tag}`; empty when neither.
    pub full_ref: String,
    pub repository: String,
    pub owner: String,
    pub run_id: RunId,
    pub run_number: RunNumber,
    pub event: String,
    pub workflow: String,
    /// workflow_dispatch inputs, a JSON object.
    pub inputs: serde_json::Value,
    /// Where jobs reach this server (`GITHUB_SERVER_URL`); empty for `hearth ci run`.
    pub server_url: String,
    /// A pull request's run: its head and base branches
    /// (`GITHUB_HEAD_REF`, `GITHUB_BASE_REF`) and the event payload.
    pub pull: Option<PullInfo>,
}

#[derive(Debug, Clone)]
pub struct PullInfo {
    pub head_ref: String,
    pub base_ref: String,
    pub payload: serde_json::Value,
}

impl RunInfo {
    /// The run `run` of `repo`, of the full ref `full_ref` (`runs::full_ref`).
    pub fn of(run: &runs::Run, repo: &db::repos::Repo, full_ref: String) -> RunInfo {
        let pull = run.pull_number.map(|_| {
            let payload: serde_json::Value = serde_json::from_str(&run.event_payload).unwrap_or_default();
            PullInfo {
                head_ref: run.head_branch.clone(),
                base_ref: payload["pull_request"]["base"]["ref"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                payload,
            }
        });
        RunInfo {
            sha: run.head_sha.clone(),
            // A pull request's run is of `refs/pull/N/merge`, named `N/merge`.
            branch: match run.pull_number {
                Some(n) => format!("{n}/merge"),
                None => run.head_branch.clone(),
            },
            pull,
            full_ref,
            repository: repo.full_name(),
            owner: repo.owner.clone(),
            run_id: run.id,
            run_number: run.run_number,
            event: run.event.clone(),
            workflow: run.name.clone(),
            inputs: serde_json::from_str(&run.inputs).unwrap_or_else(|_| serde_json::json!({})),
            server_url: String::new(),
        }
    }
}

/// A job's folders, all under `root` and all removed at the end: its home
/// (with the workspace, the checkout, at `home/work/{name}/{name}` and
/// `RUNNER_TEMP` at `home/work/_temp`, as on GitHub's runners), its `/tmp`,
/// and the runner's files (step scripts, `$GITHUB_ENV`…), which the job may
/// write but not replace.
#[derive(Clone)]
pub struct Work {
    pub root: PathBuf,
    pub home: PathBuf,
    pub workspace: PathBuf,
    pub temp: PathBuf,
    pub tmp: PathBuf,
    pub runner: PathBuf,
    /// The server's own folder for the job (a checkout it makes before
    /// the job's helper unpacks it): no step ever sees it.
    pub scratch: PathBuf,
    /// Steps see these folders where the sandbox puts them.
    sandboxed: bool,
    /// Host folders a step sees read-write, and where it sees them: a
    /// deploy step's local target, nothing else.
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// Host folders a step sees read-only, and where: the action it runs.
    pub shown: Vec<(PathBuf, PathBuf)>,
}

impl Work {
    /// Fresh, empty folders under `root`; `name` (the repository's) names
    /// the workspace.
    pub fn create(root: &Path, name: &str) -> Result<Work> {
        if root.exists() {
            remove_all(root)?;
        }
        let name = if name.is_empty() || name.starts_with('.') || name.contains('/') {
            "workspace"
        } else {
            name
        };
        let home = root.join("home");
        let work = Work {
            root: root.to_path_buf(),
            workspace: home.join("work").join(name).join(name),
            temp: home.join("work").join("_temp"),
            home,
            tmp: root.join("tmp"),
            runner: root.join("runner"),
            scratch: root.join("server"),
            sandboxed: false,
            binds: Vec::new(),
            shown: Vec::new(),
        };
        for dir in [&work.workspace, &work.temp, &work.tmp, &work.runner] {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::create_dir_all(&work.scratch)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&work.scratch, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(work)
    }

    /// Makes the folders the job's own (once the checkout is in): in a
    /// sandbox as another user, its home and `/tmp` belong to that user and
    /// the runner folder may only be entered.
    pub fn hand_over(&mut self, sandbox: &super::sandbox::Sandbox) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        self.sandboxed = sandbox.is_on();
        let Some((uid, gid)) = sandbox.owner() else {
            return Ok(());
        };
        for top in [&self.home, &self.tmp] {
            give_to(top, (uid, gid))?;
        }
        std::fs::set_permissions(&self.runner, std::fs::Permissions::from_mode(0o711))?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o711))?;
        // The job's user has a name (`runner`, as on GitHub) and a home.
        for (file, entry, id) in [
            (
                "passwd",
                format!("runner:x:{uid}:{gid}:Hearth runner:/home/runner:/bin/bash"),
                uid,
            ),
            ("group", format!("runner:x:{gid}:"), gid),
        ] {
            let host = std::fs::read_to_string(Path::new("/etc").join(file)).unwrap_or_default();
            let mut text: String = host
                .lines()
                .filter(|l| l.split(':').nth(2) != Some(id.to_string().as_str()) && !l.starts_with("runner:"))
                .map(|l| format!("{l}\n"))
                .collect();
            text.push_str(&entry);
            text.push('\n');
            let path = self.runner.join(file);
            std::fs::write(&path, text)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        }
        Ok(())
    }

    /// A fresh, empty folder `name` of the server's scratch folder.
    pub fn scratch_dir(&self, name: &str) -> std::io::Result<PathBuf> {
        let dir = self.scratch.join(name);
        if std::fs::symlink_metadata(&dir).is_ok() {
            remove_all(&dir)?;
        }
        std::fs::create_dir(&dir)?;
        Ok(dir)
    }

    /// The job's helper (`ci::helper`), until `deadline`.
    pub fn helper(&self, sandbox: &super::sandbox::Sandbox, deadline: Instant) -> super::helper::Helper {
        super::helper::Helper::new(sandbox, self, deadline)
    }

    /// Where a step sees host path `path` (one of this job's).
    pub fn seen(&self, path: &Path) -> PathBuf {
        if !self.sandboxed {
            return path.to_path_buf();
        }
        let shown = self.shown.iter().map(|(host, inside)| (host, inside.as_path()));
        for (host, inside) in [
            (&self.home, Path::new(super::sandbox::HOME)),
            (&self.tmp, Path::new("/tmp")),
            (&self.runner, Path::new(super::sandbox::RUNNER_DIR)),
        ]
        .into_iter()
        .chain(shown)
        {
            if let Ok(rest) = path.strip_prefix(host) {
                return match rest.as_os_str().is_empty() {
                    true => inside.to_path_buf(),
                    false => inside.join(rest),
                };
            }
        }
        path.to_path_buf()
    }

    /// Writes a runner file for a step (a script, an empty `$GITHUB_ENV`…),
    /// readable and writable by the job only. Whatever the job left at that
    /// name (a symbolic link, say) is removed first, never written through.
    pub fn runner_file(&self, name: &str, contents: &[u8], owner: Option<(u32, u32)>) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.runner.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        file.write_all(contents)?;
        Ok(path)
    }

    pub fn remove(&self) {
        let _ = remove_all(&self.root);
    }
}

/// Gives `top` and everything below it to the job's user (links as
/// links, never followed).
fn give_to(top: &Path, (uid, gid): (u32, u32)) -> std::io::Result<()> {
    let mut todo = vec![top.to_path_buf()];
    while let Some(p) = todo.pop() {
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid))?;
        if std::fs::symlink_metadata(&p)?.is_dir() {
            todo.extend(std::fs::read_dir(&p)?.flatten().map(|e| e.path()));
        }
    }
    Ok(())
}

/// Folders 0755 and files 0644 (0755 when executable), whatever the
/// server's umask: what the server keeps for jobs (actions, the tool
/// cache), which run as another user and read it.
pub(super) fn open_up(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755))?;
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() {
                let exec = entry.metadata()?.permissions().mode() & 0o100 != 0;
                let mode = if exec { 0o755 } else { 0o644 };
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))?;
            }
        }
    }
    Ok(())
}

/// Removes a folder a job wrote, also where it took away its own
/// permissions (a folder made `chmod 000`).
fn remove_all(root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::remove_dir_all(root).is_ok() {
        return Ok(());
    }
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            todo.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    std::fs::remove_dir_all(root)
}

/// This machine's architecture as GitHub names it (X64, ARM64…).
fn runner_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "X64",
        "aarch64" => "ARM64",
        "x86" => "X86",
        "arm" => "ARM",
        other => other,
    }
}

/// The environment of a job's steps (DESIGN.md), before `env:` expressions.
/// In a sandbox, paths are as the job sees them and `PATH` is the system's.
pub fn job_env(info: &RunInfo, spec: &workflow::Job, work: &Work) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let path = if work.sandboxed {
        super::sandbox::PATH.to_string()
    } else {
        std::env::var("PATH").unwrap_or_else(|_| super::sandbox::PATH.into())
    };
    let seen = |p: &Path| work.seen(p).display().to_string();
    env.insert("PATH".into(), path);
    env.insert("HOME".into(), seen(&work.home));
    env.insert("LANG".into(), "C.UTF-8".into());
    env.insert("CI".into(), "true".into());
    env.insert("HEARTH".into(), "true".into());
    env.insert("HEARTH_RUN_ID".into(), info.run_id.to_string());
    env.insert("HEARTH_RUN_NUMBER".into(), info.run_number.to_string());
    env.insert("HEARTH_JOB".into(), spec.key.clone());
    env.insert("GITHUB_ACTIONS".into(), "true".into());
    env.insert("GITHUB_SHA".into(), info.sha.clone());
    env.insert("GITHUB_REF".into(), info.full_ref.clone());
    env.insert("GITHUB_REF_NAME".into(), info.branch.clone());
    let kind = if info.full_ref.starts_with("refs/tags/") {
        "tag"
    } else {
        "branch"
    };
    env.insert("GITHUB_REF_TYPE".into(), kind.into());
    env.insert("GITHUB_REPOSITORY".into(), info.repository.clone());
    env.insert("GITHUB_REPOSITORY_OWNER".into(), info.owner.clone());
    env.insert("GITHUB_RUN_ID".into(), info.run_id.to_string());
    env.insert("GITHUB_RUN_NUMBER".into(), info.run_number.to_string());
    env.insert("GITHUB_JOB".into(), spec.key.clone());
    env.insert("GITHUB_EVENT_NAME".into(), info.event.clone());
    if let Some(p) = &info.pull {
        env.insert("GITHUB_HEAD_REF".into(), p.head_ref.clone());
        env.insert("GITHUB_BASE_REF".into(), p.base_ref.clone());
    }
    env.insert("GITHUB_WORKSPACE".into(), seen(&work.workspace));
    env.insert("GITHUB_WORKFLOW".into(), info.workflow.clone());
    if !info.server_url.is_empty() {
        env.insert("GITHUB_SERVER_URL".into(), info.server_url.clone());
        env.insert("GITHUB_API_URL".into(), format!("{}/api/v1", info.server_url));
    }
    env.insert("RUNNER_OS".into(), "Linux".into());
    env.insert("RUNNER_ARCH".into(), runner_arch().into());
    env.insert("RUNNER_NAME".into(), "hearth".into());
    env.insert("RUNNER_TEMP".into(), seen(&work.temp));
    env.insert("ImageOS".into(), super::tool_cache::image_os());
    env.extend(spec.env.clone());
    env
}

/// Where a job's results go: step states, artifacts and caches in the
/// database on the server; for `hearth ci run`, artifacts in a folder of
/// the local run and nothing else.
pub enum Record<'a> {
    Server {
        db: &'a Db,
        job: JobId,
        run: RunId,
        repo: RepoId,
        data_dir: DataDir,
        /// Where the job's viewers hear of its steps.
        feed: Arc<super::live::Feed>,
        /// `--deploy-dir`: where local deploy targets are.
        deploy_dir: Option<PathBuf>,
        /// Where its caches go and come from.
        caches: db::artifacts::CacheScopes,
    },
    Local {
        store: PathBuf,
    },
}

impl Record<'_> {
    pub(super) async fn step(
        &self,
        number: i64,
        status: Status,
        conclusion: Option<Conclusion>,
        code: Option<i64>,
    ) -> Result<()> {
        match self {
            Record::Server { db, job, feed, .. } => {
                let job = *job;
                db.write(move |tx| runs::set_step(tx, job, number, status, conclusion, code))
                    .await?;
                feed.step(number, status, conclusion);
                Ok(())
            }
            Record::Local { .. } => Ok(()),
        }
    }

    /// Adds step `number` to the job: an action's `post` step.
    pub(super) async fn add_step(&self, number: i64, name: &str) -> Result<()> {
        match self {
            Record::Server { db, job, .. } => {
                let (job, name) = (*job, name.to_string());
                db.write(move |tx| runs::add_step(tx, job, number, &name)).await
            }
            Record::Local { .. } => Ok(()),
        }
    }

    /// Keeps the job's annotations (`::error::` and the like) for the run's page.
    pub(super) async fn annotations(&self, list: Vec<crate::report::Annotation>) -> Result<()> {
        match self {
            Record::Server { db, job, run, .. } if !list.is_empty() => {
                let (job, run) = (*job, *run);
                db.write(move |tx| db::annotations::insert(tx, run, job, &list)).await
            }
            _ => Ok(()),
        }
    }

    /// Appends what a step wrote to `$GITHUB_STEP_SUMMARY` (Markdown) to
    /// the job's summary.
    pub(super) fn summary(&self, written: &[u8], writer: &mut LogWriter) {
        let Record::Server { data_dir, run, job, .. } = self else {
            return;
        };
        if written.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(written);
        let path = data_dir.job_summary(*run, *job);
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
    pub(super) fn store(&self) -> PathBuf {
        match self {
            Record::Server { data_dir, .. } => data_dir.artifacts(),
            Record::Local { store } => store.clone(),
        }
    }

    /// Names an artifact of this run; false when the run has one of that
    /// name already.
    pub(super) async fn add_artifact(
        &self,
        name: &str,
        sha: &str,
        size: u64,
        files: usize,
        overwrite: bool,
    ) -> Result<bool> {
        match self {
            Record::Server { db, job, run, .. } => {
                let (job, run, name, sha) = (*job, *run, name.to_string(), sha.to_string());
                db.write(move |tx| db::artifacts::insert(tx, run, job, &name, &sha, size, files, overwrite))
                    .await
            }
            Record::Local { store } => {
                let names = store.join("names");
                std::fs::create_dir_all(&names)?;
                let path = names.join(name);
                if path.exists() && !overwrite {
                    return Ok(false);
                }
                std::fs::write(path, sha)?;
                Ok(true)
            }
        }
    }

    /// The artifacts of this run: name and archive.
    pub(super) async fn artifacts(&self) -> Result<Vec<(String, String)>> {
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

    /// Keeps a test report of the job.
    pub(super) async fn test_report(&self, name: &str, kind: &str, summary: crate::report::Summary) -> Result<()> {
        match self {
            Record::Server { db, job, run, .. } => {
                let (job, run, name, kind) = (*job, *run, name.to_string(), kind.to_string());
                db.write(move |tx| db::test_reports::insert(tx, run, job, &name, &kind, &summary))
                    .await
            }
            Record::Local { .. } => Ok(()),
        }
    }

    /// The job downloaded artifact `name`: a deployment records its digest.
    pub(super) async fn used_artifact(&self, name: &str, sha: &str) -> Result<()> {
        match self {
            Record::Server { db, job, .. } => {
                let (job, name, sha) = (*job, name.to_string(), sha.to_string());
                db.write(move |tx| db::environments::used_artifact(tx, job, &name, &sha))
                    .await
            }
            Record::Local { .. } => Ok(()),
        }
    }

    /// The cache to restore for `key`: its key and archive.
    pub(super) async fn cache_lookup(&self, key: &str, prefixes: Vec<String>) -> Result<Option<(String, String)>> {
        match self {
            Record::Server { db, repo, caches, .. } => {
                let (repo, key, scopes) = (*repo, key.to_string(), caches.clone());
                db.read(move |c| db::artifacts::cache_lookup(c, repo, &scopes, &key, &prefixes))
                    .await
            }
            Record::Local { .. } => Ok(None),
        }
    }

    /// Saves a cache; false when the key was saved already (or locally, where caches are not kept).
    pub(super) async fn cache_save(&self, key: &str, sha: &str, size: u64) -> Result<bool> {
        match self {
            Record::Server { db, repo, caches, .. } => {
                let (repo, key, sha, scopes) = (*repo, key.to_string(), sha.to_string(), caches.clone());
                db.write(move |tx| db::artifacts::cache_save(tx, repo, &scopes, &key, &sha, size))
                    .await
            }
            Record::Local { .. } => Ok(false),
        }
    }
}

/// What a job's steps run with: where, what stops them, where their
/// states go, and within which limits.
pub struct RunWith<'a> {
    pub work: &'a Work,
    /// Where actions (`uses: owner/repo@ref`) come from.
    pub actions: &'a super::uses::Sources,
    /// The owner of the job's repository: a private action repository of
    /// this server serves only its own owner's jobs.
    pub owner: Option<crate::db::users::UserId>,
    pub sandbox: &'a super::sandbox::Sandbox,
    /// The cgroup limits each step gets.
    pub cgroups: &'a super::cgroup::Cgroups,
    pub cancel: &'a Notify,
    pub record: Record<'a>,
    pub limits: &'a crate::config::CiLimits,
}

/// How a job's steps went.
pub struct Finished {
    pub conclusion: Conclusion,
    /// continue-on-error held.
    pub allowed_to_fail: bool,
    /// The job's `outputs`, evaluated.
    pub outputs: serde_json::Map<String, serde_json::Value>,
    /// `environment.url`, evaluated: where what it deployed is.
    pub environment_url: Option<String>,
}

/// Runs the steps of job `spec`: the heart of the executor, the same on
/// the server and in `hearth ci run`. Each step is made ready (its `if:`
/// and expressions), run, and remembered for the steps after it.
pub async fn run_steps(
    spec: &workflow::Job,
    env: &mut BTreeMap<String, String>,
    contexts: &mut serde_json::Value,
    writer: &mut LogWriter,
    with: RunWith<'_>,
) -> Result<Finished> {
    let timeout = match &spec.timeout_minutes {
        None => spec.timeout_seconds,
        Some(written) => minutes(written, contexts).unwrap_or_else(|e| {
            writer.line(&format!(
                "Hearth: timeout-minutes: {e}; the job has {} minutes",
                spec.timeout_seconds / 60
            ));
            spec.timeout_seconds
        }),
    };
    let deadline = Instant::now() + Duration::from_secs(timeout.min(with.limits.max_timeout_seconds));
    resolve_job_env(env, contexts);
    let allowed_to_fail = continue_on_error(spec, env, contexts, writer);
    let environment_url = announce_environment(spec, contexts, writer);
    let mut conclusion = Conclusion::Success;
    let mut shared = Shared::default();
    // GitHub's "Set up job": the job's actions fetched (and shown to its
    // steps, read-only), and the `pre` of each JavaScript action run.
    let mut work = with.work.clone();
    let set_up = super::uses::set_up(spec, &mut work, &with, writer, &mut shared).await?;
    let with = RunWith { work: &work, ..with };
    if let Err(why) = &set_up {
        writer.line(&format!("Hearth: {why}"));
        conclusion = Conclusion::Failure;
    } else if let Err(why) = super::uses::pre_steps(spec, env, contexts, writer, &with, deadline, &mut shared).await? {
        writer.line(&format!("Hearth: {why}"));
        conclusion = Conclusion::Failure;
    }
    for (i, step) in spec.steps.iter().enumerate() {
        let number = i as i64 + 1;
        // A job that could not be set up runs none of its steps.
        let step = match set_up {
            Err(_) => Ready::Skipped,
            Ok(()) => ready(step, env, contexts, conclusion, &|patterns| {
                with.work.helper(with.sandbox, deadline).hash_in_place(patterns)
            }),
        };
        let step = match step {
            Ready::Skipped => {
                if let Some(id) = &spec.steps[i].id {
                    contexts["steps"][id] = serde_json::json!({ "outputs": {}, "outcome": Conclusion::Skipped.as_str(), "conclusion": Conclusion::Skipped.as_str() });
                }
                with.record
                    .step(number, Status::Completed, Some(Conclusion::Skipped), None)
                    .await?;
                continue;
            }
            Ready::Broken(e) => {
                writer.line(&format!("Hearth: step {number}: {e}"));
                with.record
                    .step(number, Status::Completed, Some(Conclusion::Failure), None)
                    .await?;
                conclusion = Conclusion::Failure;
                continue;
            }
            Ready::Run(step) => step,
        };
        // Out of time, nothing more runs; cancelled, only `always()` and `cancelled()` steps do.
        if conclusion == Conclusion::TimedOut {
            break;
        }
        with.record.step(number, Status::InProgress, None, None).await?;
        writer.line(&format!("::group::{}", step.name));
        let ran = run_one(
            &step,
            number,
            env,
            contexts,
            writer,
            &with,
            with.work,
            deadline,
            &mut shared,
            0,
        )
        .await?;
        writer.line("::endgroup::");
        with.record
            .step(number, Status::Completed, Some(ran.conclusion), ran.code)
            .await?;
        conclusion = remember(&step, &ran, contexts, writer, conclusion);
    }
    let first_post = spec.steps.len() as i64 + 1;
    conclusion = super::uses::post_steps(
        first_post,
        env,
        contexts,
        writer,
        &with,
        deadline,
        &mut shared,
        conclusion,
    )
    .await?;
    contexts["env"] = serde_json::to_value(&env).unwrap_or_default();
    let outputs = job_outputs(spec, contexts);
    if conclusion == Conclusion::Success {
        for (key, paths) in std::mem::take(&mut shared.cache_saves) {
            save_cache(
                &key,
                &paths,
                &with.work.helper(with.sandbox, deadline),
                writer,
                &with.record,
            )
            .await?;
        }
    }
    with.record.annotations(writer.take_annotations()).await?;
    writer.line(&format!("Hearth: job {} finished: {}", spec.key, conclusion.as_str()));
    if state::forgiven(conclusion, allowed_to_fail) {
        writer.line("Hearth: continue-on-error: this failure does not fail the run.");
    }
    Ok(Finished {
        conclusion,
        allowed_to_fail,
        outputs,
        environment_url,
    })
}

/// What the steps of a job share as they run.
#[derive(Default)]
pub(super) struct Shared {
    /// `actions/cache` steps whose key missed: saved if the job succeeds.
    pub cache_saves: Vec<(String, String)>,
    /// The job's actions: fetched at its start, with their state and `post` steps.
    pub actions: super::uses::JobActions,
}

/// Remembers how `step` went in the `steps` context (if it has an id);
/// returns what the job (or composite action) has come to.
pub(super) fn remember(
    step: &workflow::Step,
    ran: &Ran,
    contexts: &mut serde_json::Value,
    writer: &mut LogWriter,
    so_far: Conclusion,
) -> Conclusion {
    if let Some(id) = &step.id {
        let effective = state::step_conclusion(ran.conclusion, step.continue_on_error);
        contexts["steps"][id] = serde_json::json!({
            "outputs": ran.outputs, "outcome": ran.conclusion.as_str(), "conclusion": effective.as_str(),
        });
    }
    if state::forgiven(ran.conclusion, step.continue_on_error) {
        writer.line("Hearth: the step failed; continue-on-error lets the job go on.");
    }
    state::after_step(so_far, ran.conclusion, step.continue_on_error)
}

/// A `timeout-minutes` expression's value, in seconds.
fn minutes(written: &str, contexts: &serde_json::Value) -> std::result::Result<u64, String> {
    let ctx = expr::Context::new(contexts, expr::Status::Success);
    let text = expr::interpolate(written, &ctx)?;
    match text.trim().parse::<f64>() {
        Ok(m) if m > 0.0 => Ok(workflow::seconds(m)),
        _ => Err(format!("{text:?} is not a number of minutes")),
    }
}

/// Job-level `env` values may hold expressions too.
fn resolve_job_env(env: &mut BTreeMap<String, String>, contexts: &serde_json::Value) {
    let ctx = expr::Context::new(contexts, expr::Status::Success);
    let resolved: Vec<(String, String)> = env
        .iter()
        .filter(|(_, v)| v.contains("${{"))
        .map(|(k, v)| {
            (
                k.clone(),
                expr::interpolate(v, &ctx).unwrap_or_else(|e| format!("(expression error: {e})")),
            )
        })
        .collect();
    env.extend(resolved);
}

/// The job's `continue-on-error`, an expression evaluated once at the start.
fn continue_on_error(
    spec: &workflow::Job,
    env: &BTreeMap<String, String>,
    contexts: &mut serde_json::Value,
    writer: &mut LogWriter,
) -> bool {
    match spec.continue_on_error.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(c) => {
            contexts["env"] = serde_json::to_value(env).unwrap_or_default();
            let ctx = expr::Context::new(contexts, expr::Status::Success);
            expr::condition(c, &ctx).unwrap_or_else(|e| {
                writer.line(&format!("Hearth: continue-on-error: {e}"));
                false
            })
        }
    }
}

/// A deploying job says where it deploys; returns its environment's URL.
fn announce_environment(spec: &workflow::Job, contexts: &serde_json::Value, writer: &mut LogWriter) -> Option<String> {
    let e = spec.environment.as_ref()?;
    let ctx = expr::Context::new(contexts, expr::Status::Success);
    let url = e
        .url
        .as_deref()
        .map(|u| expr::interpolate(u, &ctx).unwrap_or_default())
        .filter(|u| !u.is_empty());
    writer.line(&format!(
        "Hearth: this job deploys to the {} environment{}",
        e.name,
        url.as_ref().map(|u| format!(" ({u})")).unwrap_or_default()
    ));
    url
}

/// A step before it runs.
pub(super) enum Ready {
    /// Its `if:` does not hold.
    Skipped,
    /// Its `if:` or an expression in it fails to evaluate: it fails.
    Broken(String),
    /// Ready to run, its expressions replaced by their values.
    Run(Box<workflow::Step>),
}

/// Whether `step` runs after the job has come to `so_far`, and as what.
pub(super) fn ready(
    step: &workflow::Step,
    env: &BTreeMap<String, String>,
    contexts: &mut serde_json::Value,
    so_far: Conclusion,
    hash_files: &expr::FileHasher,
) -> Ready {
    let status = expr::Status::of(so_far);
    contexts["env"] = serde_json::to_value(env.iter().chain(&step.env).collect::<BTreeMap<_, _>>()).unwrap_or_default();
    let mut ctx = expr::Context::new(contexts, status);
    ctx.files = Some(hash_files);
    let wanted = match step.condition.as_deref() {
        Some(c) => expr::condition(c, &ctx),
        None => Ok(status == expr::Status::Success),
    };
    let step = interpolated(step, &ctx).and_then(|mut step| {
        if let Some(c) = step.continue_on_error_if.take() {
            step.continue_on_error = expr::condition(&c, &ctx).map_err(|e| format!("continue-on-error: {e}"))?;
        }
        if let Some(m) = step.timeout_minutes.take() {
            step.timeout_seconds = Some(minutes(&m, ctx.values).map_err(|e| format!("timeout-minutes: {e}"))?);
        }
        Ok(step)
    });
    match (wanted, step) {
        (Ok(false), _) => Ready::Skipped,
        (Err(e), _) | (_, Err(e)) => Ready::Broken(e),
        (Ok(true), Ok(step)) => Ready::Run(Box::new(step)),
    }
}

/// How one step that ran went.
pub(super) struct Ran {
    pub conclusion: Conclusion,
    pub code: Option<i64>,
    /// `steps.<id>.outputs`: what it wrote to `$GITHUB_OUTPUT`, or what
    /// the action set.
    pub outputs: serde_json::Map<String, serde_json::Value>,
    /// What it saved for its action's `post` (`$GITHUB_STATE`, `::save-state`).
    pub state: Vec<(String, String)>,
}

impl Ran {
    /// A step that ended without running a process.
    pub fn ended(conclusion: Conclusion) -> Ran {
        Ran {
            conclusion,
            code: None,
            outputs: serde_json::Map::new(),
            state: Vec::new(),
        }
    }
}

/// Runs one ready step: a built-in action, an action from a repository or
/// the workspace (`uses`), or a script whose files (`$GITHUB_ENV`,
/// `$GITHUB_PATH`, `$GITHUB_OUTPUT`, the summary) change the steps after
/// it. `work`: the job's folders as this step sees them; `depth`: how deep
/// in composite actions it is.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_one(
    step: &workflow::Step,
    number: i64,
    env: &mut BTreeMap<String, String>,
    contexts: &mut serde_json::Value,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    work: &Work,
    deadline: Instant,
    shared: &mut Shared,
    depth: usize,
) -> Result<Ran> {
    // The actions that need the job's environment or its sandbox.
    let own = env.get("GITHUB_REPOSITORY").cloned().unwrap_or_default();
    let special = match step.action {
        Some(workflow::Action::Checkout) if super::actions::checkout_wanted(step, &own) => {
            Some(super::actions::checkout(step, env, writer, with, deadline).await?)
        }
        Some(workflow::Action::Checkout) if matches!(with.record, Record::Server { .. }) => {
            let token = contexts["github"]["token"].as_str().unwrap_or_default().to_string();
            Some(super::actions::git_checkout(step, env, &token, writer, with, deadline).await?)
        }
        Some(workflow::Action::Deploy) => Some(super::rolling::deploy(step, env, writer, with, deadline).await?),
        Some(workflow::Action::Release) => Some(super::publish::release(step, env, writer, with, deadline).await?),
        Some(workflow::Action::PublishDocs) => {
            Some(super::publish::publish_docs(step, env, writer, with, deadline).await?)
        }
        _ => None,
    };
    if let Some(conclusion) = special {
        return Ok(Ran::ended(conclusion));
    }
    if let Some(uses) = &step.uses {
        let call = super::uses::Call {
            step,
            uses,
            number,
            deadline,
            depth,
        };
        return super::uses::run(call, env, contexts, writer, with, work, shared).await;
    }
    let Some(script) = &step.run else {
        let (conclusion, outputs) = run_action(
            step,
            &work.helper(with.sandbox, deadline),
            writer,
            &with.record,
            &mut shared.cache_saves,
        )
        .await?;
        return Ok(Ran {
            outputs,
            ..Ran::ended(conclusion)
        });
    };
    run_script(step, script, number, env, writer, with, work, deadline).await
}

/// Runs `script` as step `number`, then reads what it left for the steps
/// after it: `$GITHUB_ENV`, `$GITHUB_PATH`, `$GITHUB_OUTPUT`,
/// `$GITHUB_STATE`, the summary, and what it asked with workflow commands.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_script(
    step: &workflow::Step,
    script: &str,
    number: i64,
    env: &mut BTreeMap<String, String>,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    work: &Work,
    deadline: Instant,
) -> Result<Ran> {
    let step_deadline = match step.timeout_seconds {
        Some(secs) => deadline.min(Instant::now() + Duration::from_secs(secs)),
        None => deadline,
    };
    let (mut conclusion, code) = run_step(step, script, number, work, env, step_deadline, writer, with).await?;
    let asked = writer.take_asked();
    // The step's own timeout fails the step, not the whole job's time.
    if conclusion == Conclusion::TimedOut && Instant::now() < deadline {
        writer.line("Hearth: that was the step's own timeout-minutes.");
        conclusion = Conclusion::Failure;
    }
    let mut outputs: serde_json::Map<String, serde_json::Value> = asked
        .outputs
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let mut state = asked.state;
    match read_step_files(work, number).await {
        Ok(files) => {
            with.record.summary(&files.summary, writer);
            env.extend(key_values(&files.env));
            prepend_path(&files.path, env);
            outputs.extend(
                key_values(&files.output)
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v))),
            );
            state.extend(key_values(&files.state));
        }
        Err(why) => {
            writer.line(&format!("Hearth: {why}; the step fails."));
            conclusion = Conclusion::Failure;
        }
    }
    Ok(Ran {
        conclusion,
        code,
        outputs,
        state,
    })
}

/// The job's `outputs`, evaluated once its steps are done.
fn job_outputs(spec: &workflow::Job, contexts: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
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
}

/// The contexts of expressions for a job: github, env, runner, needs, job,
/// and empty steps, inputs, secrets, matrix, strategy and vars.
pub fn contexts(
    run: &RunInfo,
    spec: &workflow::Job,
    siblings: &[Job],
    env: &BTreeMap<String, String>,
) -> serde_json::Value {
    // A job of a reusable workflow knows the jobs of its own workflow by
    // their own names.
    let own = spec.called.as_ref().map(|c| format!("{}/", c.caller));
    let needs: serde_json::Map<String, serde_json::Value> = spec
        .needs
        .iter()
        .map(|n| {
            let result = need_result(siblings.iter(), n).as_str();
            // With a matrix, the outputs of the last instance that set any.
            let outputs: serde_json::Value = siblings
                .iter()
                .filter(|j| &j.key == n)
                .filter_map(|j| serde_json::from_str::<serde_json::Value>(&j.outputs).ok())
                .rfind(|o| o.as_object().is_some_and(|m| !m.is_empty()))
                .unwrap_or_else(|| call_outputs(siblings, n));
            let name = own.as_deref().and_then(|p| n.strip_prefix(p)).unwrap_or(n);
            (
                name.to_string(),
                serde_json::json!({ "result": result, "outputs": outputs }),
            )
        })
        .collect();
    let inputs = match &spec.called {
        None => run.inputs.clone(),
        Some(called) => call_inputs(called, run, &needs, spec),
    };
    serde_json::json!({
        "github": {
            "sha": run.sha,
            "ref": run.full_ref,
            "ref_name": run.branch,
            "repository": run.repository,
            "repository_owner": run.owner,
            "run_id": run.run_id.to_string(),
            "run_number": run.run_number.to_string(),
            "event_name": run.event,
            "workflow": run.workflow,
            "job": spec.key,
            "server_url": run.server_url,
            "api_url": if run.server_url.is_empty() { String::new() } else { format!("{}/api/v1", run.server_url) },
            "event": event_of(run, &inputs),
            "head_ref": run.pull.as_ref().map(|p| p.head_ref.as_str()).unwrap_or(""),
            "base_ref": run.pull.as_ref().map(|p| p.base_ref.as_str()).unwrap_or(""),
        },
        "env": env,
        "runner": { "os": "Linux", "arch": runner_arch(), "name": "hearth" },
        "needs": needs,
        "job": { "status": Conclusion::Success.as_str() },
        "steps": {}, "inputs": inputs, "secrets": {}, "matrix": spec.matrix.clone().unwrap_or_default(), "vars": {},
        "strategy": spec.strategy.as_ref().map(|s| serde_json::json!({
            "fail-fast": s.fail_fast,
            "job-index": s.job_index,
            "job-total": s.job_total,
            "max-parallel": s.max_parallel.map_or(s.job_total, |m| m as usize),
        })).unwrap_or_else(|| serde_json::json!({})),
    })
}

/// `github.event`: a pull request's payload, or the dispatch inputs.
fn event_of(run: &RunInfo, inputs: &serde_json::Value) -> serde_json::Value {
    match &run.pull {
        Some(p) => p.payload.clone(),
        None => serde_json::json!({ "inputs": inputs }),
    }
}

/// The secrets a job of a reusable workflow gets from `all` of its
/// repository's: at each call (outermost first), all of them (`secrets:
/// inherit`) or those it names, their expressions evaluated.
pub fn called_secrets(called: &workflow::Called, all: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut chain = vec![called];
    while let Some(parent) = chain.last().and_then(|c| c.parent.as_deref()) {
        chain.push(parent);
    }
    let mut secrets = all;
    for call in chain.into_iter().rev() {
        if let workflow::CallSecrets::Named(named) = &call.secrets {
            let values = serde_json::json!({ "secrets": secrets });
            let ctx = expr::Context::new(&values, expr::Status::Success);
            secrets = named
                .iter()
                .map(|(k, v)| (k.clone(), expr::interpolate(v, &ctx).unwrap_or_default()))
                .collect();
        }
    }
    secrets
}

/// The outputs of the reusable workflow job `caller` calls: its
/// `on.workflow_call.outputs`, over the outputs of its jobs (`jobs.<id>`).
fn call_outputs(siblings: &[Job], caller: &str) -> serde_json::Value {
    let prefix = format!("{caller}/");
    let mut jobs = serde_json::Map::new();
    let mut outputs = None;
    for j in siblings.iter().filter(|j| j.key.starts_with(&prefix)) {
        let Ok(spec) = spec_of(j) else { continue };
        if spec.called.as_ref().is_some_and(|c| c.caller == caller) {
            outputs.get_or_insert_with(|| spec.called.clone().map(|c| c.outputs).unwrap_or_default());
        }
        let own = serde_json::from_str::<serde_json::Value>(&j.outputs).unwrap_or_else(|_| serde_json::json!({}));
        jobs.insert(
            j.key[prefix.len()..].to_string(),
            serde_json::json!({ "outputs": own, "result": j.outcome().conclusion.map(|c| c.as_str()) }),
        );
    }
    let values = serde_json::json!({ "jobs": jobs });
    let ctx = expr::Context::new(&values, expr::Status::Success);
    let evaluated: serde_json::Map<String, serde_json::Value> = outputs
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                serde_json::Value::String(expr::interpolate(&v, &ctx).unwrap_or_default()),
            )
        })
        .collect();
    serde_json::Value::Object(evaluated)
}

/// The `inputs` of a job of a reusable workflow: its call's `with:`,
/// evaluated where the call is (a call within a call, its caller's
/// inputs first), then the defaults, each as its type says.
fn call_inputs(
    called: &workflow::Called,
    run: &RunInfo,
    needs: &serde_json::Map<String, serde_json::Value>,
    spec: &workflow::Job,
) -> serde_json::Value {
    let outer = match &called.parent {
        Some(parent) => call_inputs(parent, run, needs, spec),
        None => run.inputs.clone(),
    };
    let values = serde_json::json!({
        "github": { "sha": run.sha, "ref": run.full_ref, "ref_name": run.branch, "repository": run.repository,
                    "repository_owner": run.owner, "event_name": run.event, "workflow": run.workflow },
        "inputs": outer, "needs": needs, "matrix": spec.matrix.clone().unwrap_or_default(), "vars": {},
    });
    let ctx = expr::Context::new(&values, expr::Status::Success);
    let mut out = serde_json::Map::new();
    for input in &called.inputs {
        let text = match called.with.get(&input.name) {
            Some(written) => expr::interpolate(written, &ctx).unwrap_or_default(),
            None => input.default.clone().unwrap_or_default(),
        };
        let value = input.value(&text).unwrap_or(match input.kind.as_str() {
            "boolean" => serde_json::Value::Bool(false),
            _ => serde_json::Value::String(text),
        });
        out.insert(input.name.clone(), value);
    }
    serde_json::Value::Object(out)
}

/// Whether job `spec`, whose needs are done, runs: its `if:` holds, or
/// without one, all its needs succeeded.
pub fn wanted_by(
    spec: &workflow::Job,
    siblings: &[Job],
    values: &serde_json::Value,
) -> std::result::Result<bool, String> {
    let results: Vec<Conclusion> = spec.needs.iter().map(|n| need_result(siblings.iter(), n)).collect();
    let status = expr::Status::of(state::needs_state(&results));
    match &spec.condition {
        None => Ok(status == expr::Status::Success),
        Some(condition) => expr::condition(condition, &expr::Context::new(values, status)),
    }
}

/// Why this runner cannot run job `spec`, if it cannot: it wants a
/// container, or runner labels (evaluated with `values`) no runner here
/// has ("no runner for macos-latest").
pub fn cannot_run(spec: &workflow::Job, values: &serde_json::Value) -> Option<String> {
    if let Some(why) = &spec.unsupported {
        return Some(why.clone());
    }
    let ctx = expr::Context::new(values, expr::Status::Success);
    let mut labels = Vec::new();
    for written in &spec.runs_on {
        match expr::interpolate(written, &ctx) {
            Ok(label) if label.trim().is_empty() => return Some(format!("runs-on: {written:?} gives no label")),
            Ok(label) => labels.push(label),
            Err(e) => return Some(format!("runs-on: {e}")),
        }
    }
    workflow::no_runner(&labels)
}

/// The result of need `key` over all its instances (see `state::need_result`).
pub(super) fn need_result<'a>(jobs: impl Iterator<Item = &'a Job>, key: &str) -> Conclusion {
    state::need_result(jobs.filter(|j| workflow::is_of(&j.key, key)).map(Job::outcome))
}

/// A step with its `${{ }}` expressions replaced by their values.
pub(super) fn interpolated(step: &workflow::Step, ctx: &expr::Context) -> std::result::Result<workflow::Step, String> {
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
pub(super) fn spec_of(job: &Job) -> Result<workflow::Job> {
    serde_json::from_str(&job.spec).with_context(|| format!("job spec of job {}", job.id))
}

pub(super) fn append_line(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(f, "{} {text}", crate::time::timestamp())
}

/// The job log: timestamped lines in a file, cut at `LOG_CAP_BYTES` with a
/// marker, and told to the job's viewers as they come; or, for `hearth ci
/// run`, lines on the terminal after the job's name.
pub struct LogWriter {
    out: Box<dyn Write + Send>,
    /// `None`: lines are prefixed with the time; else with this.
    prefix: Option<String>,
    written: u64,
    truncated: bool,
    /// Values replaced by `***`: secrets, and what steps mask with `::add-mask::`.
    masks: Vec<String>,
    /// The token of a step's `::stop-commands::` in force.
    stopped: Option<String>,
    /// What the step running now asked with `::set-output` and `::save-state`.
    asked: Asked,
    /// The job's annotations (`::error::`, `::warning::`, `::notice::`), masked.
    annotations: Vec<crate::report::Annotation>,
    /// Where the job's viewers hear of new lines.
    feed: Option<Arc<super::live::Feed>>,
}

impl LogWriter {
    /// Appends to the log at `path`, written behind by a thread of its own
    /// (buffered, off the async runtime); dropping the writer waits until
    /// all of it is in the file.
    pub fn open(path: &Path) -> Result<LogWriter> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let written = file.metadata()?.len();
        Ok(LogWriter {
            out: Box::new(WrittenBehind::start(file)?),
            prefix: None,
            written,
            truncated: false,
            masks: Vec::new(),
            stopped: None,
            asked: Asked::default(),
            annotations: Vec::new(),
            feed: None,
        })
    }

    /// Tells `feed` each line from now on.
    pub fn live(mut self, feed: Arc<super::live::Feed>) -> LogWriter {
        self.feed = Some(feed);
        self
    }

    /// Lines to standard output, each after `prefix`, never cut.
    pub fn console(prefix: String) -> LogWriter {
        LogWriter {
            out: Box::new(std::io::stdout()),
            prefix: Some(prefix),
            written: 0,
            truncated: false,
            masks: Vec::new(),
            stopped: None,
            asked: Asked::default(),
            annotations: Vec::new(),
            feed: None,
        }
    }

    /// Hides `value` from now on: the whole of it, and each of its lines
    /// (output comes line by line, so a multi-line secret is masked line by line).
    pub fn mask(&mut self, value: &str) {
        let mut add = |v: &str| {
            if !v.is_empty() && !self.masks.iter().any(|m| m == v) {
                self.masks.push(v.to_string());
            }
        };
        add(value);
        for line in value.lines() {
            add(line.trim_end_matches('\r'));
        }
        // Longest first, so that a line inside a longer value is not masked first.
        self.masks.sort_by_key(|m| std::cmp::Reverse(m.len()));
    }

    /// A line of a step's own output: a workflow command (`::add-mask::`,
    /// `::error::`…) is done, anything else logged.
    pub fn output(&mut self, text: &str) {
        use super::commands::{Line, read};
        use crate::report::MAX_ANNOTATIONS;
        match read(text, &mut self.stopped) {
            // The runner's own lines are its alone: a step's text that would
            // pass for a section line, a group or a word of the runner's is
            // logged one space in.
            Line::Text(t) if is_runners(t) => self.line(&format!(" {t}")),
            Line::Text(t) => self.line(t),
            Line::Mask(value) => {
                self.mask(&value);
                self.line("::add-mask::***");
            }
            Line::SetOutput(k, v) => self.asked.outputs.push((k, v)),
            Line::SaveState(k, v) => self.asked.state.push((k, v)),
            Line::Annotate(mut a) => {
                a.message = self.masked(&a.message).into_owned();
                a.title = a.title.map(|t| self.masked(&t).into_owned());
                let word = match a.level {
                    "error" => "Error",
                    "warning" => "Warning",
                    _ => "Notice",
                };
                let message = a.message.clone();
                for line in message.lines() {
                    self.line(&format!("{word}: {line}"));
                }
                if self.annotations.iter().filter(|b| b.level == a.level).count() < MAX_ANNOTATIONS {
                    self.annotations.push(a);
                }
            }
            Line::Group(name) => self.line(&format!("{GROUP}{name}")),
            Line::EndGroup => self.line(END_GROUP),
            Line::Stop(token) => self.stopped = Some(token),
            Line::Quiet => {}
        }
    }

    /// What the step that just ran asked with `::set-output` and
    /// `::save-state`; the next step starts afresh.
    pub(super) fn take_asked(&mut self) -> Asked {
        self.stopped = None;
        std::mem::take(&mut self.asked)
    }

    /// The job's annotations so far.
    pub fn take_annotations(&mut self) -> Vec<crate::report::Annotation> {
        std::mem::take(&mut self.annotations)
    }

    /// `text` with what is masked replaced by `***`.
    fn masked<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let mut text = std::borrow::Cow::Borrowed(text);
        for mask in &self.masks {
            if text.contains(mask.as_str()) {
                text = std::borrow::Cow::Owned(text.replace(mask.as_str(), "***"));
            }
        }
        text
    }

    pub fn line(&mut self, text: &str) {
        if self.truncated {
            return;
        }
        let text = self.masked(text);
        if let Some(prefix) = &self.prefix {
            // On a terminal, a step's name stands out; the end of a group says nothing.
            let _ = match text.strip_prefix("::group::") {
                Some(name) => writeln!(self.out, "{prefix}▶ {name}"),
                None if text == "::endgroup::" => Ok(()),
                None => writeln!(self.out, "{prefix}{text}"),
            };
            return;
        }
        let mut line = format!("{} {text}\n", crate::time::timestamp());
        if self.written + line.len() as u64 > LOG_CAP_BYTES {
            self.truncated = true;
            line = format!(
                "Hearth: log truncated at {} MiB; the job goes on.\n",
                LOG_CAP_BYTES >> 20
            );
        }
        let from = self.written;
        self.written += line.len() as u64;
        let _ = self.out.write_all(line.as_bytes());
        if let Some(feed) = &self.feed {
            feed.wrote(from, &line);
        }
    }
}

/// Whether a line of text is written as only the runner writes its own:
/// its sections (`::group::`), a step's groups (`##[group]`, made from a
/// step's `::group::` command) and its messages (`Hearth: …`).
pub fn is_runners(text: &str) -> bool {
    ["::group::", "::endgroup::", GROUP, END_GROUP, "Hearth:"]
        .iter()
        .any(|p| text.starts_with(p))
}

/// A section a step opened within its own (`::group::`), as the log keeps
/// it: apart from the runner's `::group::` lines, which a step cannot write.
pub const GROUP: &str = "##[group]";
pub const END_GROUP: &str = "##[endgroup]";

/// What a step asked of the runner with the old workflow commands.
#[derive(Default)]
pub(super) struct Asked {
    pub outputs: Vec<(String, String)>,
    pub state: Vec<(String, String)>,
}

/// A file written by a thread of its own: writes are queued (a job's log
/// is at most `LOG_CAP_BYTES`), and the thread writes them buffered,
/// flushing whenever it has caught up. Dropping it waits for the thread.
struct WrittenBehind {
    queue: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WrittenBehind {
    fn start(file: std::fs::File) -> std::io::Result<WrittenBehind> {
        let (queue, queued) = std::sync::mpsc::channel::<Vec<u8>>();
        let thread = std::thread::Builder::new().name("job log".into()).spawn(move || {
            let mut out = std::io::BufWriter::with_capacity(64 << 10, file);
            while let Ok(bytes) = queued.recv() {
                let _ = out.write_all(&bytes);
                while let Ok(more) = queued.try_recv() {
                    let _ = out.write_all(&more);
                }
                let _ = out.flush();
            }
        })?;
        Ok(WrittenBehind {
            queue: Some(queue),
            thread: Some(thread),
        })
    }
}

impl Write for WrittenBehind {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let queue = self
            .queue
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the log is closed"))?;
        queue
            .send(buf.to_vec())
            .map_err(|_| std::io::Error::other("the log's writer stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for WrittenBehind {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a step wrote to its runner files.
struct StepFiles {
    env: Vec<u8>,
    path: Vec<u8>,
    output: Vec<u8>,
    summary: Vec<u8>,
    state: Vec<u8>,
}

/// Reads the runner files of step `number` safely (`paths::read_regular`), off
/// the async runtime; an error names the file and what is wrong with it.
async fn read_step_files(work: &Work, number: i64) -> std::result::Result<StepFiles, String> {
    let runner = work.runner.clone();
    crate::error::blocking("reading the step's files", move || {
        let read = |name: &str| {
            let var = super::process::STEP_FILES
                .iter()
                .find(|(_, n)| *n == name)
                .map_or(name, |(v, _)| v);
            super::helper::paths::read_regular(&runner.join(format!("{name}-{number}")), STEP_FILE_CAP_BYTES)
                .map_err(|why| format!("${var}: {why}"))
        };
        Ok(StepFiles {
            env: read("env")?,
            path: read("path")?,
            output: read("output")?,
            summary: read("summary")?,
            state: read("state")?,
        })
    })
    .await
    .map_err(|e| e.to_string())?
}

/// `KEY=VALUE` lines (and `KEY<<DELIM` blocks), as steps write them to
/// `$GITHUB_ENV` and `$GITHUB_OUTPUT`.
pub(super) fn key_values(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
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

/// Folders written to `$GITHUB_PATH` come first in later steps' PATH.
pub(super) fn prepend_path(bytes: &[u8], env: &mut BTreeMap<String, String>) {
    let text = String::from_utf8_lossy(bytes);
    for dir in text.lines().map(str::trim).filter(|d| !d.is_empty()) {
        let old = env.get("PATH").cloned().unwrap_or_default();
        env.insert("PATH".into(), format!("{dir}:{old}"));
    }
}

#[cfg(test)]
mod tests {
    use super::LogWriter;

    #[test]
    fn a_step_cannot_write_the_runners_own_lines() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("job.log");
        {
            let mut w = LogWriter::open(&path).unwrap();
            w.line("Hearth: the runner speaks");
            w.output("::group::Build");
            // A step's ::group:: is its own group (##[group]); the rest is forgery.
            for forged in [
                "Hearth: job build finished: success",
                "::group::Deploy",
                "##[group]Fake",
                "##[endgroup]",
            ] {
                w.output(forged);
            }
            w.output("::endgroup::");
            w.output("plain output");
        }
        let log = std::fs::read_to_string(&path).unwrap();
        let texts: Vec<&str> = log.lines().map(|l| l.split_once(' ').map_or(l, |(_, t)| t)).collect();
        assert_eq!(
            texts,
            [
                "Hearth: the runner speaks",
                "##[group]Build",
                " Hearth: job build finished: success",
                "##[group]Deploy",
                " ##[group]Fake",
                " ##[endgroup]",
                "##[endgroup]",
                "plain output",
            ]
        );
    }
}
