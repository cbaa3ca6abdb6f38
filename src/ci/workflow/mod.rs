//! The workflow parser: a GitHub Actions workflow file (the subset a shell
//! executor honours) into a validated job graph. Pure: no I/O; of the rest
//! of the crate only `expr`, to check expressions. Unknown keys are errors,
//! not silent skips; keys of the format that this version does not run yet
//! are errors saying so. In parts as the format is: `raw` (the YAML as
//! written), `triggers` (`on:`), `inputs` (workflow_dispatch), `schedule`
//! (cron expressions), `matrix`, and `check` (validation); here the model
//! and `parse`, which assembles it.

pub mod calls;
mod check;
mod inputs;
pub mod lint;
mod matrix;
pub mod permissions;
mod raw;
mod schedule;
mod triggers;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use calls::{Call, CallSecrets, Called, inline_calls, is_of};
pub use check::no_runner;
pub use inputs::{CallInput, Input, InputKind, WorkflowCall, resolve_inputs};
pub use matrix::expand_later;
pub use raw::seconds;
use raw::{
    Minutes, OneOrMany, RawEnvironment, RawJob, RawRunDefaults, RawStep, RawStrategy, RawWorkflow, Scalar, env_map,
};
pub use schedule::Cron;
pub use triggers::{PushFilter, Triggers, filters_paths, filters_pull_paths, runs_on_pull, runs_on_push};

/// Files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: usize = 1 << 20;
pub const MAX_JOBS: usize = 256;
pub const MAX_STEPS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    pub name: Option<String>,
    pub on: Triggers,
    pub env: BTreeMap<String, String>,
    /// `concurrency:` of the whole workflow: one run of the group at a time.
    pub concurrency: Option<Concurrency>,
    /// In file order; `needs` refer to other jobs' keys.
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub key: String,
    /// `permissions:`, its own or the workflow's: what the job token may
    /// do (kept for it; Hearth has no job token yet).
    #[serde(default)]
    pub permissions: Option<permissions::Permissions>,
    /// `if:`, as written; `None` means `success()`.
    #[serde(default)]
    pub condition: Option<String>,
    /// This instance's values of the job's `strategy.matrix`, if it has one.
    #[serde(default)]
    pub matrix: Option<serde_json::Map<String, serde_json::Value>>,
    /// `outputs:`: names and the expressions that give their values.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    pub name: String,
    pub needs: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// `timeout-minutes` (default 60, at most 360), in seconds.
    pub timeout_seconds: u64,
    /// `timeout-minutes` as an expression, evaluated when the job starts
    /// (in place of `timeout_seconds`).
    #[serde(default)]
    pub timeout_minutes: Option<String>,
    /// `runs-on`: the labels of the runner it wants, as written (they may
    /// hold expressions, evaluated when the job starts); empty: any.
    #[serde(default)]
    pub runs_on: Vec<String>,
    /// What this runner cannot give the job (`container:`, `services:`):
    /// it is skipped, saying so.
    #[serde(default)]
    pub unsupported: Option<String>,
    pub steps: Vec<Step>,
    /// `continue-on-error`: `true`, `false` or an expression; a job allowed
    /// to fail does not fail its run or the jobs that need it.
    #[serde(default)]
    pub continue_on_error: Option<String>,
    /// `concurrency:` of this job.
    #[serde(default)]
    pub concurrency: Option<Concurrency>,
    /// `environment:`: the job deploys there.
    #[serde(default)]
    pub environment: Option<Environment>,
    /// For a matrix job: `fail-fast`, `max-parallel`, `job-index`, `job-total`.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// `uses:` of a reusable workflow: this job becomes its jobs (see `calls`).
    #[serde(default)]
    pub call: Option<Call>,
    /// For a job of a reusable workflow: its call.
    #[serde(default)]
    pub called: Option<Called>,
    /// `strategy.matrix` as an expression: the job becomes its instances
    /// once its needs are done (see `expand_later`).
    #[serde(default)]
    pub matrix_from: Option<String>,
}

/// A concurrency group: at most one run (or job) of a group goes at a time;
/// a newer one cancels the pending one, and with `cancel_in_progress` the
/// running one too. The group may hold `${{ }}` expressions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Concurrency {
    pub group: String,
    pub cancel_in_progress: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub name: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Strategy {
    /// One failed instance cancels the others (default true).
    pub fail_fast: bool,
    pub max_parallel: Option<u32>,
    /// `fail-fast` and `max-parallel` as expressions (over `github` and
    /// `inputs`), evaluated when the run is made.
    #[serde(default)]
    pub fail_fast_if: Option<String>,
    #[serde(default)]
    pub max_parallel_if: Option<String>,
    pub job_index: usize,
    pub job_total: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    /// `id:`, the name of its outputs in the `steps` context.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// The script; `None` for a built-in action (`uses:`).
    pub run: Option<String>,
    /// The built-in action of a `uses:` step.
    #[serde(default)]
    pub action: Option<Action>,
    /// Any other action of a `uses:` step: from a repository, the
    /// workspace, or a Docker image.
    #[serde(default)]
    pub uses: Option<Uses>,
    /// Its `with:` inputs.
    #[serde(default)]
    pub with: BTreeMap<String, String>,
    pub shell: Option<String>,
    pub env: BTreeMap<String, String>,
    pub working_directory: Option<String>,
    /// `if:`, as written; `None` means `success()`.
    #[serde(default)]
    pub condition: Option<String>,
    /// A failure of this step does not fail the job.
    #[serde(default)]
    pub continue_on_error: bool,
    /// `continue-on-error` as an expression, evaluated before the step
    /// runs (in place of `continue_on_error`).
    #[serde(default)]
    pub continue_on_error_if: Option<String>,
    /// The step's own `timeout-minutes`, in seconds.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Its `timeout-minutes` as an expression, evaluated before it runs.
    #[serde(default)]
    pub timeout_minutes: Option<String>,
}

/// An action that is not built in, as `uses:` names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Uses {
    /// `owner/repo[/path]@ref`: fetched with git, pinned to the commit.
    Repository {
        owner: String,
        repo: String,
        /// The action's folder in the repository; empty for its root.
        path: String,
        git_ref: String,
    },
    /// `./path`: a folder of the workspace.
    Local(String),
    /// `docker://image`: this runner has no container engine.
    Docker(String),
}

impl Uses {
    /// Reads `uses:`; an error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Uses, String> {
        let plain = |part: &str| {
            !part.is_empty()
                && !part.starts_with('.')
                && part.len() <= 100
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if let Some(image) = text.strip_prefix("docker://") {
            return Ok(Uses::Docker(image.to_string()));
        }
        if let Some(path) = text.strip_prefix("./") {
            let path = path.trim_end_matches('/');
            if path.split('/').any(|c| c == "..") || path.contains('\\') {
                return Err(format!(
                    "`uses: {text}`: a local action is `./path`, a folder inside the workspace"
                ));
            }
            return Ok(Uses::Local(path.to_string()));
        }
        if text.starts_with(['.', '/']) {
            return Err(format!(
                "`uses: {text}`: a local action is `./path`, a folder inside the workspace"
            ));
        }
        let Some((name, git_ref)) = text.split_once('@') else {
            return Err(format!(
                "`uses: {text}` needs a version: `{text}@v1`, a branch, or a commit id"
            ));
        };
        let mut parts = name.split('/');
        let (owner, repo) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path: Vec<&str> = parts.collect();
        if !plain(owner) || !plain(repo) || !path.iter().all(|p| plain(p)) {
            return Err(format!(
                "`uses: {text}` is not an action: `owner/repo@ref`, `owner/repo/path@ref`, `./path` or `docker://image`"
            ));
        }
        // A ref as git allows it (and nothing a refspec or an option could make of it).
        if git_ref.is_empty()
            || git_ref.len() > 255
            || git_ref.starts_with(['-', '/', '.'])
            || git_ref.contains("..")
            || git_ref.contains("@{")
            || git_ref
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || ":^~?*[\\".contains(c))
        {
            return Err(format!("`uses: {text}`: {git_ref:?} is not a branch, tag or commit id"));
        }
        Ok(Uses::Repository {
            owner: owner.to_string(),
            repo: repo.to_string(),
            path: path.join("/"),
            git_ref: git_ref.to_string(),
        })
    }
}

impl std::fmt::Display for Uses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Uses::Repository {
                owner,
                repo,
                path,
                git_ref,
            } if path.is_empty() => write!(f, "{owner}/{repo}@{git_ref}"),
            Uses::Repository {
                owner,
                repo,
                path,
                git_ref,
            } => write!(f, "{owner}/{repo}/{path}@{git_ref}"),
            Uses::Local(path) => write!(f, "./{path}"),
            Uses::Docker(image) => write!(f, "docker://{image}"),
        }
    }
}

/// The built-in actions (`uses:`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Action {
    /// A no-op: the workspace is a checkout already.
    Checkout,
    /// `name`, `path` (files, folders, globs; one per line), `if-no-files-found`.
    UploadArtifact,
    /// `name` (default: every artifact of the run), `path`.
    DownloadArtifact,
    /// `key`, `path`, `restore-keys`: restored now, saved when the job succeeds.
    Cache,
    /// `actions/cache/restore`: restored now, never saved.
    CacheRestore,
    /// `actions/cache/save`: saved now.
    CacheSave,
    /// `hearth/test-report`: `path` (JUnit XML files, globs), `kind`
    /// (unit, functional, security), `name`.
    TestReport,
    /// `hearth/deploy`: a rolling deploy of `artifact` to `targets`, in
    /// batches (`max-unavailable`, `min-healthy`), with the artifact's
    /// `appspec.yml` hooks; ssh targets with `ssh-key` and `known-hosts`.
    Deploy,
    /// `hearth/release` (and `softprops/action-gh-release`): the release
    /// of the run's tag, with `files` as its assets.
    Release,
    /// `hearth/publish-docs`: `path` becomes `/{owner}/{repo}/docs/`.
    PublishDocs,
}

impl Action {
    fn named(action: &str) -> Option<Action> {
        match action {
            "actions/checkout" => Some(Action::Checkout),
            "actions/upload-artifact" => Some(Action::UploadArtifact),
            "actions/download-artifact" => Some(Action::DownloadArtifact),
            "actions/cache" => Some(Action::Cache),
            "actions/cache/restore" => Some(Action::CacheRestore),
            "actions/cache/save" => Some(Action::CacheSave),
            "hearth/test-report" => Some(Action::TestReport),
            "hearth/deploy" => Some(Action::Deploy),
            "hearth/release" | "softprops/action-gh-release" => Some(Action::Release),
            "hearth/publish-docs" => Some(Action::PublishDocs),
            _ => None,
        }
    }

    /// Every built-in action.
    pub const ALL: [Action; 10] = [
        Action::Checkout,
        Action::UploadArtifact,
        Action::DownloadArtifact,
        Action::Cache,
        Action::CacheRestore,
        Action::CacheSave,
        Action::TestReport,
        Action::Deploy,
        Action::Release,
        Action::PublishDocs,
    ];

    /// The name a `uses:` gives it.
    pub fn uses(self) -> &'static str {
        match self {
            Action::Checkout => "actions/checkout",
            Action::UploadArtifact => "actions/upload-artifact",
            Action::DownloadArtifact => "actions/download-artifact",
            Action::Cache => "actions/cache",
            Action::CacheRestore => "actions/cache/restore",
            Action::CacheSave => "actions/cache/save",
            Action::TestReport => "hearth/test-report",
            Action::Deploy => "hearth/deploy",
            Action::Release => "hearth/release",
            Action::PublishDocs => "hearth/publish-docs",
        }
    }

    /// Its inputs that name files of the workspace: what the job's helper
    /// reads or writes in the job's sandbox (`ci::helper`). Each is tried
    /// as an attacker would use it by `tests/sealed_steps.rs`, which takes
    /// this list, so a new one cannot be left out.
    pub fn path_inputs(self) -> &'static [&'static str] {
        match self {
            Action::Checkout
            | Action::UploadArtifact
            | Action::DownloadArtifact
            | Action::Cache
            | Action::CacheRestore
            | Action::CacheSave
            | Action::TestReport
            | Action::PublishDocs => &["path"],
            Action::Release => &["files", "body_path"],
            // `artifact` is the name of one of the run's artifacts.
            Action::Deploy => &[],
        }
    }

    /// The `with:` inputs it takes, and which of them are required.
    pub fn inputs(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            // GitHub's inputs: `repository` (of this server), `ref` and
            // `path` check out what they say; the workspace is a checkout
            // of the run's commit already, and those that tune a fetch
            // (depth, filters, sparse paths, progress, credentials kept or
            // not) change nothing of it.
            Action::Checkout => (
                &[
                    "repository",
                    "fetch-depth",
                    "fetch-tags",
                    "ref",
                    "path",
                    "submodules",
                    "lfs",
                    "clean",
                    "filter",
                    "sparse-checkout",
                    "sparse-checkout-cone-mode",
                    "persist-credentials",
                    "show-progress",
                    "set-safe-directory",
                    "token",
                    "ssh-key",
                    "ssh-known-hosts",
                    "ssh-strict",
                    "ssh-user",
                    "github-server-url",
                ],
                &[],
            ),
            // `compression-level` tunes only how the archive is squeezed,
            // and `include-hidden-files` is taken as asked: none changes what
            // a later download finds but the hidden files.
            Action::UploadArtifact => (
                &[
                    "name",
                    "path",
                    "if-no-files-found",
                    "retention-days",
                    "compression-level",
                    "overwrite",
                    "include-hidden-files",
                ],
                &["path"],
            ),
            Action::DownloadArtifact => (
                &[
                    "name",
                    "path",
                    "pattern",
                    "merge-multiple",
                    "run-id",
                    "repository",
                    "github-token",
                ],
                &[],
            ),
            Action::Cache | Action::CacheRestore => (
                &[
                    "key",
                    "path",
                    "restore-keys",
                    "enableCrossOsArchive",
                    "fail-on-cache-miss",
                    "lookup-only",
                    "upload-chunk-size",
                    "save-always",
                ],
                &["key", "path"],
            ),
            Action::CacheSave => (
                &["key", "path", "enableCrossOsArchive", "upload-chunk-size"],
                &["key", "path"],
            ),
            Action::TestReport => (&["path", "kind", "name"], &["path"]),
            Action::Deploy => (
                &[
                    "artifact",
                    "targets",
                    "ssh-key",
                    "known-hosts",
                    "max-unavailable",
                    "min-healthy",
                    "keep-releases",
                ],
                &["artifact", "targets"],
            ),
            Action::Release => (
                &[
                    "files",
                    "name",
                    "body",
                    "body_path",
                    "draft",
                    "prerelease",
                    "tag_name",
                    "fail_on_unmatched_files",
                    "token",
                ],
                &[],
            ),
            Action::PublishDocs => (&["path"], &["path"]),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Action::Checkout => "Check out the repository",
            Action::UploadArtifact => "Upload an artifact",
            Action::DownloadArtifact => "Download artifacts",
            Action::Cache => "Cache",
            Action::CacheRestore => "Restore a cache",
            Action::CacheSave => "Save a cache",
            Action::TestReport => "Test report",
            Action::Deploy => "Deploy",
            Action::Release => "Release",
            Action::PublishDocs => "Publish documentation",
        }
    }
}

/// Parses and validates the workflow in `text`; the error holds every
/// problem, one per line (see `parse_all`).
pub fn parse(file: &str, text: &str) -> Result<Workflow, Error> {
    parse_all(file, text).map_err(|problems| Error(problems.join("\n")))
}

/// Parses and validates the workflow in `text`, or says every problem of
/// it, each as `file:line:column: path: message` (the line and column of
/// the key the problem is at, or the nearest one above it).
pub fn parse_all(file: &str, text: &str) -> Result<Workflow, Vec<String>> {
    let mut doc = read(file, text).map_err(|e| vec![e.0])?;
    let mut problems = Vec::new();
    lint::unknown_keys(&mut doc, &mut problems);
    lint::expressions(&doc, &mut problems);
    let workflow = assemble(file, doc, &mut problems);
    match workflow {
        Some(w) if problems.is_empty() => Ok(w),
        _ => {
            let places = lint::Places::of(text);
            let mut found: Vec<(Option<(usize, usize)>, String)> = problems
                .into_iter()
                .map(|p| {
                    let place = places.find(&p.path);
                    let at = place.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default();
                    let path = shown_path(&p.path);
                    let text = match path.is_empty() {
                        true => format!("{file}{at}: {}", p.message),
                        false => format!("{file}{at}: {path}: {}", p.message),
                    };
                    (place, text)
                })
                .collect();
            // In the order of the file.
            found.sort_by_key(|(place, _)| place.unwrap_or((usize::MAX, 0)));
            Err(found.into_iter().map(|(_, text)| text).collect())
        }
    }
}

/// `jobs.build.steps[2].with`.
fn shown_path(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// A serde error of a part at `at`: its own path (`steps[0].with`) made
/// part of the problem's, its words plain.
fn problem_of(at: &[&str], e: &serde_yaml_ng::Error) -> lint::Problem {
    let message = e.to_string();
    let mut path: Vec<String> = at.iter().map(|s| s.to_string()).collect();
    let rest = match message.split_once(": ") {
        Some((p, rest)) if !p.contains(' ') => {
            for part in p.split('.') {
                match part.split_once('[') {
                    Some((name, index)) => {
                        path.push(name.to_string());
                        path.push(index.trim_end_matches(']').to_string());
                    }
                    None => path.push(part.to_string()),
                }
            }
            rest.to_string()
        }
        _ => message.clone(),
    };
    lint::Problem {
        path,
        message: lint::plain(&rest),
    }
}

/// Which keys of `value` (a `T`, which failed to read with `e`) are
/// wrong, each read alone (with `needed`, the keys `T` cannot do without,
/// beside it); a list of steps, step by step.
fn probe<T: serde::de::DeserializeOwned>(
    value: &serde_yaml_ng::Value,
    at: &[&str],
    e: &serde_yaml_ng::Error,
    needed: &[&str],
) -> Vec<lint::Problem> {
    use serde_yaml_ng::{Mapping, Value};
    let Value::Mapping(m) = value else {
        return vec![problem_of(at, e)];
    };
    let mut found = Vec::new();
    for (k, v) in m {
        let Some(key) = k.as_str() else { continue };
        if needed.contains(&key) {
            continue;
        }
        let mut alone = Mapping::new();
        for n in needed {
            if let Some(nv) = m.get(*n) {
                alone.insert(Value::String(n.to_string()), nv.clone());
            }
        }
        alone.insert(k.clone(), v.clone());
        let Err(e) = serde_yaml_ng::from_value::<T>(Value::Mapping(alone)) else {
            continue;
        };
        let mut here = at.to_vec();
        here.push(key);
        match (key, v) {
            ("steps", Value::Sequence(steps)) => {
                for (i, step) in steps.iter().enumerate() {
                    if let Err(e) = RawStep::deserialize(step) {
                        let index = i.to_string();
                        let mut at_step = here.clone();
                        at_step.push(&index);
                        found.extend(probe::<RawStep>(step, &at_step, &e, &[]));
                    }
                }
            }
            _ => found.push(problem_of(&here, &e)),
        }
    }
    if found.is_empty() {
        found.push(problem_of(at, e));
    }
    found
}

/// The workflow of `doc`, its problems added to `problems` (`None` when
/// what is wrong leaves nothing to build).
fn assemble(file: &str, doc: serde_yaml_ng::Value, problems: &mut Vec<lint::Problem>) -> Option<Workflow> {
    use lint::Problem;
    let raw: RawWorkflow = match RawWorkflow::deserialize(&doc) {
        Ok(raw) => raw,
        Err(e) => {
            problems.extend(probe::<RawWorkflow>(&doc, &[], &e, &["on", "jobs"]));
            return None;
        }
    };
    // Messages made with the file's name in front: the name goes, the place comes.
    let bare = |e: Error| {
        let m = e.0;
        m.strip_prefix(&format!("{file}: ")).map(str::to_string).unwrap_or(m)
    };
    if raw.run_name.is_some() {
        problems.push(Problem::at(
            &["run-name"],
            "`run-name` is not supported yet by this Hearth",
        ));
    }
    let permissions = match raw.permissions.as_ref().map(permissions::parse).transpose() {
        Ok(p) => p,
        Err(m) => {
            problems.push(Problem::at(
                &["permissions"],
                m.strip_prefix("permissions: ").unwrap_or(&m),
            ));
            None
        }
    };
    let concurrency = match raw.concurrency.map(|c| c.validated()).transpose() {
        Ok(c) => c,
        Err(m) => {
            problems.push(Problem::at(&["concurrency"], m));
            None
        }
    };
    let defaults = raw.defaults.map(|d| d.run).unwrap_or_default();
    let on = match triggers::triggers(file, &raw.on) {
        Ok(on) => Some(on),
        Err(e) => {
            let m = bare(e);
            problems.push(Problem::at(&["on"], m.strip_prefix("on: ").unwrap_or(&m)));
            None
        }
    };
    if raw.jobs.is_empty() {
        problems.push(Problem::at(&["jobs"], "`jobs` is empty"));
        return None;
    }
    if raw.jobs.len() > MAX_JOBS {
        problems.push(Problem::at(
            &["jobs"],
            format!("{} jobs; at most {MAX_JOBS} are allowed", raw.jobs.len()),
        ));
        return None;
    }
    let mut jobs = Vec::new();
    for (key, value) in raw.jobs {
        let raw_job: RawJob = match RawJob::deserialize(&value) {
            Ok(j) => j,
            Err(e) => {
                problems.extend(probe::<RawJob>(&value, &["jobs", &key], &e, &[]));
                continue;
            }
        };
        let (mut job, strategy) = match job_of(&key, raw_job, &defaults, problems) {
            Ok(j) => j,
            Err(what) => {
                problems.push(keyed(&["jobs", &key], &what, lint::JOB_KEYS));
                continue;
            }
        };
        if job.permissions.is_none() {
            job.permissions = permissions.clone();
        }
        match strategy.map(|s| matrix::instances(&job, &s)) {
            None => jobs.push(job),
            Some(Ok(instances)) => jobs.extend(instances),
            Some(Err(what)) => problems.push(Problem::at(
                &["jobs", &key, "strategy", "matrix"],
                what.strip_prefix("strategy.matrix: ").unwrap_or(&what),
            )),
        }
        if jobs.len() > MAX_JOBS {
            problems.push(Problem::at(
                &["jobs"],
                format!("more than {MAX_JOBS} jobs once matrices are expanded"),
            ));
            return None;
        }
    }
    if problems.is_empty()
        && let Err(e) = check::check_graph(file, &jobs)
    {
        let m = bare(e);
        match m.strip_prefix("jobs.").and_then(|r| r.split_once(": ")) {
            Some((job, rest)) => problems.push(Problem::at(&["jobs", job, "needs"], rest)),
            None => problems.push(Problem::at(&["jobs"], m)),
        }
    }
    Some(Workflow {
        name: raw.name,
        on: on?,
        env: env_map(raw.env),
        concurrency,
        jobs,
    })
}

/// A problem `what` at `at`; one that starts with a key of that part
/// (`if: …`) is at that key.
fn keyed(at: &[&str], what: &str, keys: &[&str]) -> lint::Problem {
    if let Some((key, rest)) = what.split_once(": ")
        && keys.contains(&key)
    {
        let mut path = at.to_vec();
        path.push(key);
        return lint::Problem::at(&path, rest);
    }
    lint::Problem::at(at, what)
}

/// The file as written: refused before parsing when too large or nested
/// too deep, then read by the YAML parser (only as YAML: what it holds is
/// checked part by part after).
fn read(file: &str, text: &str) -> Result<serde_yaml_ng::Value, Error> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Error(format!(
            "{file}: the file is larger than {} KiB",
            MAX_FILE_BYTES >> 10
        )));
    }
    if let Some(line) = check::too_deep(text) {
        return Err(Error(format!(
            "{file}:{line}: lists and maps nest more than {} deep",
            check::MAX_FLOW_DEPTH
        )));
    }
    serde_yaml_ng::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        Error(format!("{file}{at}: {}", check::strip_location(&e.to_string())))
    })
}

/// A YAML reader's error in plain words, with its line when known.
pub fn plain_yaml_error(e: &serde_yaml_ng::Error) -> String {
    let at = e.location().map(|l| format!("line {}: ", l.line())).unwrap_or_default();
    format!("{at}{}", check::strip_location(&e.to_string()))
}

/// The steps of a composite action (`runs.steps` of its `action.yml`),
/// read and checked as a workflow's steps are.
pub fn composite_steps(v: &serde_yaml_ng::Value) -> Result<Vec<Step>, String> {
    let raw: Vec<RawStep> =
        serde_yaml_ng::from_value(v.clone()).map_err(|e| format!("runs.steps: {}", plain_yaml_error(&e)))?;
    if raw.len() > MAX_STEPS {
        return Err(format!("runs.steps: at most {MAX_STEPS} steps are allowed"));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, s)| step_of(s, &RawRunDefaults::default()).map_err(|what| format!("runs.steps[{i}]: {what}")))
        .collect()
}

/// Job `key` as written into the model, with its strategy left to expand;
/// an error says what is wrong in it.
fn job_of(
    key: &str,
    j: RawJob,
    defaults: &RawRunDefaults,
    problems: &mut Vec<lint::Problem>,
) -> Result<(Job, Option<RawStrategy>), String> {
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') || key.is_empty() {
        return Err("a job id has only letters, digits, '_' and '-'".into());
    }
    let permissions = j.permissions.as_ref().map(permissions::parse).transpose()?;
    let job_defaults = j.defaults.map(|d| d.run).unwrap_or_default();
    let defaults = RawRunDefaults {
        shell: job_defaults.shell.or(defaults.shell.clone()),
        working_directory: job_defaults.working_directory.or(defaults.working_directory.clone()),
    };
    let runs_on = match &j.runs_on {
        Some(labels) => check::labels(labels)?,
        None => Vec::new(),
    };
    let unsupported = match (&j.container, &j.services) {
        (Some(_), _) => {
            Some("`container:` needs a container engine, which this shell runner does not have".to_string())
        }
        (None, Some(_)) => {
            Some("`services:` need a container engine, which this shell runner does not have".to_string())
        }
        (None, None) => None,
    };
    let (timeout_seconds, timeout_minutes) = match j.timeout_minutes.map(Scalar::minutes).transpose()? {
        None => (seconds(60.0), None),
        Some(Minutes::Seconds(s)) => (s, None),
        Some(Minutes::Expression(e)) => {
            check::check_condition(&e).map_err(|m| format!("timeout-minutes: {m}"))?;
            (seconds(60.0), Some(e))
        }
    };
    if j.uses.is_none() && (j.with.is_some() || j.secrets.is_some()) {
        return Err("`with` and `secrets` belong to a job that calls a reusable workflow (`uses:`)".into());
    }
    let call = match &j.uses {
        None => None,
        Some(uses) => {
            if !j.steps.is_empty() || j.runs_on.is_some() {
                return Err("a job that calls a reusable workflow (`uses:`) has no `steps` or `runs-on`".into());
            }
            if j.strategy.is_some() {
                return Err(
                    "`strategy` on a job that calls a reusable workflow is not supported yet by this Hearth".into(),
                );
            }
            Some(calls::call_of(
                uses,
                env_map(j.with.unwrap_or_default()),
                j.secrets.as_ref(),
            )?)
        }
    };
    if j.steps.is_empty() && call.is_none() {
        return Err("a job needs at least one step".into());
    }
    if j.steps.len() > MAX_STEPS {
        return Err(format!("at most {MAX_STEPS} steps are allowed"));
    }
    // Each step's problem is said, and the others are still read.
    let mut steps = Vec::new();
    for (i, s) in j.steps.into_iter().enumerate() {
        match step_of(s, &defaults) {
            Ok(step) => steps.push(step),
            Err(what) => problems.push(keyed(&["jobs", key, "steps", &i.to_string()], &what, lint::STEP_KEYS)),
        }
    }
    let needs = match j.needs {
        None => Vec::new(),
        Some(OneOrMany::One(n)) => vec![n],
        Some(OneOrMany::Many(v)) => v,
    };
    let condition = j.if_.map(Scalar::into_string);
    if let Some(c) = &condition {
        check::check_condition(c).map_err(|e| format!("if: {e}"))?;
    }
    let continue_on_error = j.continue_on_error.map(Scalar::into_string);
    if let Some(c) = &continue_on_error
        && c != "true"
        && c != "false"
    {
        check::check_condition(c).map_err(|e| format!("continue-on-error: {e}"))?;
    }
    let environment = match j.environment {
        None => None,
        Some(RawEnvironment::Name(name)) => Some(Environment { name, url: None }),
        Some(RawEnvironment::Full(f)) => Some(Environment {
            name: f.name,
            url: f.url,
        }),
    };
    if let Some(e) = &environment
        && (e.name.trim().is_empty() || e.name.len() > 64)
    {
        return Err("environment: a name of 1 to 64 characters".into());
    }
    if environment.is_none() && steps.iter().any(|s| s.action == Some(Action::Deploy)) {
        return Err("hearth/deploy deploys to an environment: give the job `environment:`".into());
    }
    let concurrency = j.concurrency.map(|c| c.validated()).transpose()?;
    let job = Job {
        permissions,
        continue_on_error,
        concurrency,
        environment,
        strategy: None,
        condition,
        matrix: None,
        outputs: env_map(j.outputs),
        name: j.name.unwrap_or_else(|| key.to_string()),
        key: key.to_string(),
        needs,
        env: env_map(j.env),
        timeout_seconds,
        timeout_minutes,
        runs_on,
        unsupported,
        steps,
        call,
        called: None,
        matrix_from: None,
    };
    // `strategy` without a matrix: one job, as if there were no strategy.
    Ok((job, j.strategy.filter(|s| s.matrix.is_some())))
}

/// A step as written into the model; `defaults` (`defaults.run`) apply
/// to `run` steps that set neither shell nor working directory.
fn step_of(s: RawStep, defaults: &RawRunDefaults) -> Result<Step, String> {
    let (run, action, uses) = match (s.run, s.uses) {
        (Some(run), None) => (Some(run), None, None),
        (None, Some(written)) => match Action::named(written.split('@').next().unwrap_or("")) {
            Some(action) => (None, Some(action), None),
            None => (None, None, Some(Uses::parse(written.trim())?)),
        },
        (Some(_), Some(_)) => return Err("a step has either `run` or `uses`, not both".into()),
        (None, None) => return Err("a step needs `run` or `uses`".into()),
    };
    if s.with.is_some() && run.is_some() {
        return Err("`with` belongs to `uses` steps".into());
    }
    let with = env_map(s.with.unwrap_or_default());
    if let Some(action) = action {
        let (known, required) = action.inputs();
        if let Some(k) = with.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!(
                "`with: {k}` is not an input of {} (it takes {})",
                action.title(),
                known.join(", ")
            ));
        }
        if let Some(k) = required.iter().find(|k| !with.contains_key(**k)) {
            return Err(format!("{} needs `with: {k}`", action.title()));
        }
    }
    let (shell, working_directory) = match &run {
        Some(_) => (
            s.shell.or(defaults.shell.clone()),
            s.working_directory.or(defaults.working_directory.clone()),
        ),
        None => (s.shell, s.working_directory),
    };
    if let Some(shell) = &shell
        && !["bash", "sh", "python", "pwsh", "cmd", "powershell"].contains(&shell.as_str())
        && (!shell.contains("{0}") || shell.trim_start().starts_with("{0}"))
    {
        return Err(format!(
            "shell {shell:?}: bash, sh, python, pwsh, or a command with {{0}} where the script goes (`perl {{0}}`)"
        ));
    }
    let name = s.name.unwrap_or_else(|| match (&run, action, &uses) {
        (Some(r), _, _) => format!("Run {}", r.lines().next().unwrap_or("").trim()),
        (None, Some(a), _) => a.title().to_string(),
        (None, None, Some(u)) => format!("Run {u}"),
        (None, None, None) => String::new(),
    });
    let condition = s.if_.map(Scalar::into_string);
    if let Some(c) = &condition {
        check::check_condition(c).map_err(|e| format!("if: {e}"))?;
    }
    let (continue_on_error, continue_on_error_if) = match s.continue_on_error.map(Scalar::into_string) {
        None => (false, None),
        Some(c) if c == "true" || c == "false" => (c == "true", None),
        Some(c) => {
            check::check_condition(&c).map_err(|e| format!("continue-on-error: {e}"))?;
            (false, Some(c))
        }
    };
    let (timeout_seconds, timeout_minutes) = match s.timeout_minutes.map(Scalar::minutes).transpose()? {
        None => (None, None),
        Some(Minutes::Seconds(s)) => (Some(s), None),
        Some(Minutes::Expression(e)) => {
            check::check_condition(&e).map_err(|m| format!("timeout-minutes: {m}"))?;
            (None, Some(e))
        }
    };
    Ok(Step {
        id: s.id,
        name,
        run,
        action,
        uses,
        with,
        shell,
        env: env_map(s.env),
        working_directory,
        condition,
        continue_on_error,
        continue_on_error_if,
        timeout_seconds,
        timeout_minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_that_names_a_file_is_a_path_input() {
        // Inputs whose names speak of files but that hold no path.
        let flags = [
            "if-no-files-found",
            "include-hidden-files",
            "fail_on_unmatched_files",
            "set-safe-directory",
        ];
        for action in Action::ALL {
            assert_eq!(Action::named(action.uses()), Some(action));
            let (inputs, _) = action.inputs();
            for input in inputs {
                let names_a_file = ["path", "file", "dir"].iter().any(|w| input.contains(w));
                assert_eq!(
                    action.path_inputs().contains(input),
                    names_a_file && !flags.contains(input),
                    "{} {input}",
                    action.uses()
                );
            }
        }
    }

    #[test]
    fn push_filters() {
        let w = |on: &str| {
            parse(
                "w.yml",
                &format!("on: {on}\njobs:\n  a:\n    steps: [{{run: 'true'}}]\n"),
            )
            .unwrap()
        };
        assert!(runs_on_push(&w("push"), "refs/heads/any", None));
        // As on GitHub: no filters, every branch and every tag.
        assert!(runs_on_push(&w("push"), "refs/tags/v1", None));
        assert!(!runs_on_push(&w("workflow_dispatch"), "refs/heads/main", None));
        let only_main = w("{push: {branches: [main]}}");
        assert!(runs_on_push(&only_main, "refs/heads/main", None));
        assert!(!runs_on_push(&only_main, "refs/heads/topic", None));
        assert!(
            !runs_on_push(&only_main, "refs/tags/v1", None),
            "branch filters alone leave tags out"
        );
        let ignore = w("{push: {branches-ignore: ['wip/**']}}");
        assert!(!runs_on_push(&ignore, "refs/heads/wip/a/b", None));
        assert!(runs_on_push(&ignore, "refs/heads/main", None));
        let files = |list: &[&str]| list.iter().map(|f| f.to_string()).collect::<Vec<_>>();
        let docs_only = files(&["docs/a.md", "README.md"]);
        let code = files(&["src/main.rs", "docs/a.md"]);
        let paths = w("{push: {paths: ['src/**', '!src/generated/**']}}");
        assert!(runs_on_push(&paths, "refs/heads/main", Some(&code)));
        assert!(!runs_on_push(&paths, "refs/heads/main", Some(&docs_only)));
        assert!(
            !runs_on_push(&paths, "refs/heads/main", Some(&files(&["src/generated/x.rs"]))),
            "! takes it back"
        );
        assert!(
            runs_on_push(&paths, "refs/heads/main", None),
            "unknown changes: it runs"
        );
        assert!(
            runs_on_push(&paths, "refs/tags/v1", Some(&docs_only)),
            "paths are not looked at for tags"
        );
        let ignore_docs = w("{push: {paths-ignore: ['docs/**', '*.md']}}");
        assert!(!runs_on_push(&ignore_docs, "refs/heads/main", Some(&docs_only)));
        assert!(runs_on_push(&ignore_docs, "refs/heads/main", Some(&code)));
        assert!(
            !runs_on_push(&ignore_docs, "refs/heads/main", Some(&[])),
            "nothing changed: nothing unignored"
        );
        let not_rc = w("{push: {tags-ignore: ['*-rc*']}}");
        assert!(runs_on_push(&not_rc, "refs/tags/v1", None));
        assert!(!runs_on_push(&not_rc, "refs/tags/v1-rc1", None));
        assert!(
            !runs_on_push(&not_rc, "refs/heads/main", None),
            "tag filters alone leave branches out"
        );
        assert!(
            parse(
                "w.yml",
                "on: {push: {paths: [a], paths-ignore: [b]}}\njobs: {a: {steps: [{run: x}]}}"
            )
            .is_err()
        );
        let tags = w("{push: {tags: ['v*']}}");
        assert!(runs_on_push(&tags, "refs/tags/v2", None));
        assert!(
            !runs_on_push(&tags, "refs/heads/main", None),
            "tag filters alone leave branches out"
        );
    }

    #[test]
    fn uses_names_an_action_and_nothing_else() {
        let repo = Uses::parse("actions/setup-node@v4").unwrap();
        assert_eq!(repo.to_string(), "actions/setup-node@v4");
        assert!(
            matches!(Uses::parse("owner/repo/sub/dir@0123abc").unwrap(), Uses::Repository { path, .. } if path == "sub/dir")
        );
        assert_eq!(
            Uses::parse("./.github/actions/x").unwrap(),
            Uses::Local(".github/actions/x".into())
        );
        assert_eq!(
            Uses::parse("docker://alpine:3").unwrap(),
            Uses::Docker("alpine:3".into())
        );
        for bad in [
            "owner/repo",
            "owner@v1",
            "../x",
            "./a/../../b",
            "/abs@v1",
            "owner/repo@-oops",
            "owner/repo@v1:refs/heads/main",
            "owner/repo@a..b",
            "owner/repo@v1 x",
            "ow ner/repo@v1",
            "owner/.git@v1",
        ] {
            assert!(Uses::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits() {
        let huge = "x".repeat(MAX_FILE_BYTES + 1);
        assert!(parse("big.yml", &huge).unwrap_err().0.contains("larger than"));
        let mut many = String::from("on: push\njobs:\n");
        for i in 0..=MAX_JOBS {
            many.push_str(&format!("  j{i}:\n    steps: [{{run: 'true'}}]\n"));
        }
        assert!(parse("many.yml", &many).unwrap_err().0.contains("at most"));
        let deep = format!("on: push\njobs: {}{}\n", "[".repeat(500), "]".repeat(500));
        assert!(parse("deep.yml", &deep).is_err());
        let deep = format!("on: push\njobs: {}\n", "{a: ".repeat(100_000));
        assert!(
            parse("deep.yml", &deep)
                .unwrap_err()
                .0
                .contains("deep.yml:2: lists and maps nest more than 128")
        );
        let deep = format!(
            "on: push\njobs:\n  a:\n    steps:\n      - run: {}\n",
            "[".repeat(1_000)
        );
        assert!(parse("deep.yml", &deep).is_err());
        // Brackets in scripts, strings and comments are text.
        let fine = format!(
            "on: push # {}\njobs:\n  a:\n    env: {{X: \"{}\"}}\n    steps:\n      - run: echo {}\n      - run: |\n          echo \"{}\"\n",
            "[".repeat(300),
            "{".repeat(300),
            "[".repeat(300),
            "{".repeat(300)
        );
        parse("fine.yml", &fine).unwrap();
        let bang = format!(
            "on: push\njobs:\n  a:\n    if: ${{{{ {} true }}}}\n    steps: [{{run: 'true'}}]\n",
            "!".repeat(400_000)
        );
        assert!(parse("bang.yml", &bang).unwrap_err().0.contains("longer than"));
        // Aliases expanded without end ("billion laughs").
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = (b'a' + i - 1) as char;
            let name = (b'a' + i) as char;
            laughs.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        laughs.push_str("on: push\njobs:\n  j:\n    env: {x: *l}\n    steps: [{run: 'true'}]\n");
        assert!(parse("laughs.yml", &laughs).is_err());
    }

    #[test]
    fn cron_schedules() {
        let c = Cron::parse("*/15 9-17 * * mon-fri").unwrap();
        // 2026-11-26 is a Thursday (4).
        assert!(c.matches(0, 9, 26, 11, 4));
        assert!(c.matches(45, 17, 26, 11, 4));
        assert!(!c.matches(50, 17, 26, 11, 4));
        assert!(!c.matches(0, 18, 26, 11, 4));
        assert!(!c.matches(0, 9, 28, 11, 6), "Saturday");
        let sunday = Cron::parse("30 2 * * 7").unwrap();
        assert!(sunday.matches(30, 2, 29, 11, 0));
        // Day of month and of week both given: either.
        let either = Cron::parse("0 0 1 * 1").unwrap();
        assert!(either.matches(0, 0, 1, 5, 3));
        assert!(either.matches(0, 0, 9, 5, 1));
        assert!(!either.matches(0, 0, 9, 5, 2));
        let listed = Cron::parse("5,10 0 1 jan,JUL *").unwrap();
        assert!(listed.matches(10, 0, 1, 7, 2));
        assert!(!listed.matches(10, 0, 1, 8, 2));
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "x * * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }
}
