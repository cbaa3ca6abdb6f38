//! The workflow parser: a GitHub Actions workflow file (the subset a shell
//! executor honours) into a validated job graph. Pure: no I/O, nothing of the
//! rest of the crate. Unknown keys are errors, not silent skips; keys of the
//! format that this version does not run yet are errors saying so.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

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

#[derive(Debug, Clone, Default, Serialize)]
pub struct Triggers {
    pub push: Option<PushFilter>,
    pub workflow_dispatch: bool,
    /// `workflow_dispatch.inputs`, in file order.
    pub inputs: Vec<Input>,
    /// `schedule`: when to run on the default branch.
    pub schedule: Vec<Cron>,
}

/// A cron schedule, five fields (minute hour day-of-month month
/// day-of-week), in UTC: numbers, `*`, lists, ranges, steps, and the names
/// of months and week days.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cron {
    pub text: String,
    #[serde(skip)]
    fields: [u64; 5],
    /// Day of month and day of week both restricted: either matches (as in cron).
    #[serde(skip)]
    either_day: bool,
}

const CRON_FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "{text:?}: a cron schedule has five fields (minute hour day-of-month month day-of-week)"
            ));
        }
        let mut fields = [0u64; 5];
        for (i, part) in parts.iter().enumerate() {
            let (name, lo, hi) = CRON_FIELDS[i];
            let names: &[&str] = match i {
                3 => &MONTHS,
                4 => &DAYS,
                _ => &[],
            };
            let value = |v: &str| -> Result<u32, String> {
                let lower = v.to_ascii_lowercase();
                if let Some(n) = names.iter().position(|n| *n == lower) {
                    return Ok(n as u32 + if i == 3 { 1 } else { 0 });
                }
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| format!("{text:?}: {v:?} is not a {name} ({lo}-{hi})"))
            };
            for item in part.split(',') {
                let (range, step) = match item.split_once('/') {
                    Some((r, s)) => (
                        r,
                        s.parse::<u32>()
                            .ok()
                            .filter(|s| *s > 0)
                            .ok_or_else(|| format!("{text:?}: bad step {s:?}"))?,
                    ),
                    None => (item, 1),
                };
                let (from, to) = match range {
                    "*" => (lo, hi),
                    r => match r.split_once('-') {
                        Some((a, b)) => (value(a)?, value(b)?),
                        None if item.contains('/') => (value(r)?, hi),
                        None => (value(r)?, value(r)?),
                    },
                };
                if from > to {
                    return Err(format!("{text:?}: the range {range:?} runs backwards"));
                }
                for n in (from..=to).step_by(step as usize) {
                    fields[i] |= 1 << n;
                }
            }
        }
        // Sunday is 0 or 7.
        if fields[4] & (1 << 7) != 0 {
            fields[4] |= 1;
        }
        Ok(Cron {
            text: text.to_string(),
            either_day: !parts[2].starts_with('*') && !parts[4].starts_with('*'),
            fields,
        })
    }

    /// Whether the schedule fires at this minute (UTC; weekday 0 = Sunday).
    pub fn matches(&self, minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> bool {
        let has = |i: usize, n: u32| self.fields[i] & (1 << n) != 0;
        let day_ok = if self.either_day {
            has(2, day) || has(4, weekday)
        } else {
            has(2, day) && has(4, weekday)
        };
        has(0, minute) && has(1, hour) && has(3, month) && day_ok
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCron {
    cron: String,
}

const MAX_SCHEDULES: usize = 10;

/// An input of a run started by hand.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Input {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
    pub default: Option<String>,
    pub kind: InputKind,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum InputKind {
    String,
    Boolean,
    Number,
    Choice(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    description: Option<String>,
    #[serde(default)]
    required: bool,
    default: Option<Scalar>,
    #[serde(rename = "type")]
    kind: Option<String>,
    options: Option<Vec<Scalar>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDispatch {
    #[serde(default)]
    inputs: indexmap::IndexMap<String, RawInput>,
}

const MAX_INPUTS: usize = 25;

fn dispatch_inputs(config: Option<&serde_yaml_ng::Value>) -> Result<Vec<Input>, String> {
    let Some(config) = config.filter(|c| !c.is_null()) else {
        return Ok(Vec::new());
    };
    let raw: RawDispatch = serde_yaml_ng::from_value(config.clone()).map_err(|e| strip_location(&e.to_string()))?;
    if raw.inputs.len() > MAX_INPUTS {
        return Err(format!("at most {MAX_INPUTS} inputs"));
    }
    let mut out = Vec::new();
    for (name, i) in raw.inputs {
        let here = |m: &str| format!("inputs.{name}: {m}");
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(here(
                "an input name has letters, digits, '_' and '-', and starts with a letter or '_'",
            ));
        }
        let has_options = i.options.is_some();
        let kind = match i.kind.as_deref().unwrap_or("string") {
            "string" | "environment" => InputKind::String,
            "boolean" => InputKind::Boolean,
            "number" => InputKind::Number,
            "choice" => {
                let options: Vec<String> = i
                    .options
                    .unwrap_or_default()
                    .into_iter()
                    .map(Scalar::into_string)
                    .collect();
                if options.is_empty() {
                    return Err(here("a choice needs `options`"));
                }
                InputKind::Choice(options)
            }
            other => {
                return Err(here(&format!(
                    "unknown type {other:?} (string, boolean, number, choice)"
                )));
            }
        };
        if !matches!(kind, InputKind::Choice(_)) && has_options {
            return Err(here("`options` belong to `type: choice`"));
        }
        let input = Input {
            description: i.description,
            required: i.required,
            default: i.default.map(Scalar::into_string),
            kind,
            name: name.clone(),
        };
        if let Some(d) = &input.default {
            input.value(d).map_err(|m| here(&format!("default: {m}")))?;
        }
        out.push(input);
    }
    Ok(out)
}

impl Input {
    /// `text` as this input's value: `true`/`false` for booleans, a number
    /// for numbers, one of the options for a choice.
    pub fn value(&self, text: &str) -> Result<serde_json::Value, String> {
        use serde_json::Value;
        match &self.kind {
            InputKind::String => Ok(Value::String(text.to_string())),
            InputKind::Boolean => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("{text:?} is not true or false")),
            },
            InputKind::Number => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                .ok_or_else(|| format!("{text:?} is not a number")),
            InputKind::Choice(options) => {
                if options.iter().any(|o| o == text) {
                    Ok(Value::String(text.to_string()))
                } else {
                    Err(format!("{text:?} is not one of {}", options.join(", ")))
                }
            }
        }
    }
}

/// The inputs of a run started by hand: `given` (names to text) checked
/// against the workflow's, defaults filled in. Unknown names, missing
/// required inputs and values of the wrong type are errors.
pub fn resolve_inputs(
    inputs: &[Input],
    given: &BTreeMap<String, String>,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    if let Some(unknown) = given.keys().find(|k| !inputs.iter().any(|i| &i.name == *k)) {
        return Err(format!("the workflow has no input {unknown:?}"));
    }
    let mut out = serde_json::Map::new();
    for i in inputs {
        let value = match (given.get(&i.name), &i.default) {
            (Some(v), _) => i.value(v),
            (None, Some(d)) => i.value(d),
            (None, None) if i.required => Err("is required".to_string()),
            (None, None) => Ok(match i.kind {
                InputKind::Boolean => serde_json::Value::Bool(false),
                _ => serde_json::Value::String(String::new()),
            }),
        };
        out.insert(i.name.clone(), value.map_err(|m| format!("input {}: {m}", i.name))?);
    }
    Ok(out)
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PushFilter {
    pub branches: Vec<String>,
    pub branches_ignore: Vec<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub key: String,
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
    /// The step's own `timeout-minutes`, in seconds.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
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
}

impl Action {
    fn named(action: &str) -> Option<Action> {
        match action {
            "actions/checkout" => Some(Action::Checkout),
            "actions/upload-artifact" => Some(Action::UploadArtifact),
            "actions/download-artifact" => Some(Action::DownloadArtifact),
            "actions/cache" => Some(Action::Cache),
            _ => None,
        }
    }

    /// The `with:` inputs it takes, and which of them are required.
    fn inputs(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Action::Checkout => (&["fetch-depth", "ref", "path", "submodules", "lfs", "clean"], &[]),
            Action::UploadArtifact => (&["name", "path", "if-no-files-found", "retention-days"], &["path"]),
            Action::DownloadArtifact => (&["name", "path"], &[]),
            Action::Cache => (&["key", "path", "restore-keys"], &["key", "path"]),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Action::Checkout => "Check out the repository",
            Action::UploadArtifact => "Upload an artifact",
            Action::DownloadArtifact => "Download artifacts",
            Action::Cache => "Cache",
        }
    }
}

// The file as written, before validation.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: Option<String>,
    on: serde_yaml_ng::Value,
    #[serde(default)]
    env: BTreeMap<String, Scalar>,
    jobs: indexmap::IndexMap<String, RawJob>,
    #[serde(rename = "run-name")]
    run_name: Option<String>,
    concurrency: Option<RawConcurrency>,
    defaults: Option<RawDefaults>,
    permissions: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawConcurrency {
    Group(String),
    Full(RawConcurrencyFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConcurrencyFull {
    group: String,
    #[serde(rename = "cancel-in-progress", default)]
    cancel_in_progress: bool,
}

impl RawConcurrency {
    fn validated(self) -> Result<Concurrency, String> {
        let c = match self {
            RawConcurrency::Group(group) => Concurrency {
                group,
                cancel_in_progress: false,
            },
            RawConcurrency::Full(f) => Concurrency {
                group: f.group,
                cancel_in_progress: f.cancel_in_progress,
            },
        };
        if c.group.trim().is_empty() {
            return Err("concurrency: the group is empty".into());
        }
        Ok(c)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    run: RawRunDefaults,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRunDefaults {
    shell: Option<String>,
    #[serde(rename = "working-directory")]
    working_directory: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawEnvironment {
    Name(String),
    Full(RawEnvironmentFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironmentFull {
    name: String,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: Option<String>,
    #[serde(rename = "runs-on")]
    runs_on: Option<serde_yaml_ng::Value>,
    needs: Option<OneOrMany>,
    #[serde(default)]
    env: BTreeMap<String, Scalar>,
    #[serde(rename = "timeout-minutes")]
    timeout_minutes: Option<f64>,
    #[serde(default)]
    steps: Vec<RawStep>,
    // In the format, not run yet by this version.
    #[serde(rename = "if")]
    if_: Option<Scalar>,
    #[serde(default)]
    outputs: BTreeMap<String, Scalar>,
    strategy: Option<RawStrategy>,
    concurrency: Option<RawConcurrency>,
    environment: Option<RawEnvironment>,
    #[serde(rename = "continue-on-error")]
    continue_on_error: Option<Scalar>,
    defaults: Option<RawDefaults>,
    permissions: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Option<String>,
    name: Option<String>,
    run: Option<String>,
    uses: Option<String>,
    shell: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, Scalar>,
    #[serde(rename = "working-directory")]
    working_directory: Option<String>,
    with: Option<BTreeMap<String, Scalar>>,
    #[serde(rename = "if")]
    if_: Option<Scalar>,
    #[serde(rename = "continue-on-error")]
    continue_on_error: Option<bool>,
    #[serde(rename = "timeout-minutes")]
    timeout_minutes: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStrategy {
    matrix: indexmap::IndexMap<String, serde_yaml_ng::Value>,
    #[serde(rename = "fail-fast")]
    fail_fast: Option<bool>,
    #[serde(rename = "max-parallel")]
    max_parallel: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// An environment value: YAML may write it as a number or a boolean.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Number(serde_yaml_ng::Number),
    Bool(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

fn env_map(raw: BTreeMap<String, Scalar>) -> BTreeMap<String, String> {
    raw.into_iter().map(|(k, v)| (k, v.into_string())).collect()
}

/// Parses and validates the workflow in `text`; errors name the file and,
/// where the YAML parser knows it, the line.
pub fn parse(file: &str, text: &str) -> Result<Workflow, Error> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Error(format!(
            "{file}: the file is larger than {} KiB",
            MAX_FILE_BYTES >> 10
        )));
    }
    if let Some(line) = too_deep(text) {
        return Err(Error(format!(
            "{file}:{line}: lists and maps nest more than {MAX_FLOW_DEPTH} deep"
        )));
    }
    let raw: RawWorkflow = serde_yaml_ng::from_str(text).map_err(|e| {
        let at = e.location().map(|l| format!(":{}", l.line())).unwrap_or_default();
        Error(format!("{file}{at}: {}", strip_location(&e.to_string())))
    })?;
    let not_yet = |what: &str| Error(format!("{file}: {what} is not supported yet by this Hearth"));
    if raw.run_name.is_some() {
        return Err(not_yet("`run-name`"));
    }
    if raw.permissions.is_some() {
        return Err(not_yet("`permissions` (jobs get no token)"));
    }
    let concurrency = match raw.concurrency {
        None => None,
        Some(c) => Some(c.validated().map_err(|m| Error(format!("{file}: {m}")))?),
    };
    let workflow_defaults = raw.defaults.map(|d| d.run).unwrap_or_default();
    check_expressions(file, text)?;
    let on = triggers(file, &raw.on)?;
    if raw.jobs.is_empty() {
        return Err(Error(format!("{file}: `jobs` is empty")));
    }
    if raw.jobs.len() > MAX_JOBS {
        return Err(Error(format!(
            "{file}: {} jobs; at most {MAX_JOBS} are allowed",
            raw.jobs.len()
        )));
    }
    let mut jobs = Vec::new();
    for (key, j) in raw.jobs {
        let here = |what: &str| Error(format!("{file}: jobs.{key}: {what}"));
        if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') || key.is_empty() {
            return Err(here("a job id has only letters, digits, '_' and '-'"));
        }
        if j.permissions.is_some() {
            return Err(here(
                "`permissions` is not supported yet by this Hearth (jobs get no token)",
            ));
        }
        let job_defaults = j.defaults.map(|d| d.run).unwrap_or_default();
        let default_shell = job_defaults.shell.or(workflow_defaults.shell.clone());
        let default_dir = job_defaults
            .working_directory
            .or(workflow_defaults.working_directory.clone());
        if let Some(labels) = &j.runs_on {
            runs_on(labels).map_err(|m| here(&m))?;
        }
        if j.steps.is_empty() {
            return Err(here("a job needs at least one step"));
        }
        if j.steps.len() > MAX_STEPS {
            return Err(here(&format!("at most {MAX_STEPS} steps are allowed")));
        }
        let mut steps = Vec::new();
        for (i, s) in j.steps.into_iter().enumerate() {
            let n = i + 1;
            let step_here = |what: &str| here(&format!("step {n}: {what}"));
            let (run, action) = match (s.run, s.uses) {
                (Some(run), None) => (Some(run), None),
                (None, Some(uses)) => match Action::named(uses.split('@').next().unwrap_or("")) {
                    Some(action) => (None, Some(action)),
                    None => {
                        return Err(step_here(&format!(
                            "`uses: {uses}` is not a built-in action (actions/checkout, actions/upload-artifact, \
                             actions/download-artifact, actions/cache)"
                        )));
                    }
                },
                (Some(_), Some(_)) => return Err(step_here("a step has either `run` or `uses`, not both")),
                (None, None) => return Err(step_here("a step needs `run` or `uses`")),
            };
            if s.with.is_some() && run.is_some() {
                return Err(step_here("`with` belongs to `uses` steps"));
            }
            let with = env_map(s.with.unwrap_or_default());
            if let Some(action) = action {
                let (known, required) = action.inputs();
                if let Some(k) = with.keys().find(|k| !known.contains(&k.as_str())) {
                    return Err(step_here(&format!(
                        "`with: {k}` is not an input of {} (it takes {})",
                        action.title(),
                        known.join(", ")
                    )));
                }
                if let Some(k) = required.iter().find(|k| !with.contains_key(**k)) {
                    return Err(step_here(&format!("{} needs `with: {k}`", action.title())));
                }
            }
            // `defaults.run` apply to `run` steps that set neither.
            let (shell, working_directory) = match &run {
                Some(_) => (
                    s.shell.or(default_shell.clone()),
                    s.working_directory.or(default_dir.clone()),
                ),
                None => (s.shell, s.working_directory),
            };
            if let Some(shell) = &shell
                && !["bash", "sh"].contains(&shell.as_str())
            {
                return Err(step_here(&format!("shell {shell:?} is not available; use bash or sh")));
            }
            let name = s.name.unwrap_or_else(|| match (&run, action) {
                (Some(r), _) => format!("Run {}", r.lines().next().unwrap_or("").trim()),
                (None, Some(a)) => a.title().to_string(),
                (None, None) => String::new(),
            });
            let condition = s.if_.map(Scalar::into_string);
            if let Some(c) = &condition {
                check_condition(c).map_err(|e| step_here(&format!("if: {e}")))?;
            }
            steps.push(Step {
                id: s.id,
                name,
                run,
                action,
                with,
                shell,
                env: env_map(s.env),
                working_directory,
                condition,
                continue_on_error: s.continue_on_error.unwrap_or(false),
                timeout_seconds: s
                    .timeout_minutes
                    .map(|m| (m * 60.0).round().clamp(1.0, 360.0 * 60.0) as u64),
            });
        }
        let needs = match j.needs {
            None => Vec::new(),
            Some(OneOrMany::One(n)) => vec![n],
            Some(OneOrMany::Many(v)) => v,
        };
        let condition = j.if_.map(Scalar::into_string);
        if let Some(c) = &condition {
            check_condition(c).map_err(|e| here(&format!("if: {e}")))?;
        }
        let continue_on_error = j.continue_on_error.map(Scalar::into_string);
        if let Some(c) = &continue_on_error
            && c != "true"
            && c != "false"
        {
            check_condition(c).map_err(|e| here(&format!("continue-on-error: {e}")))?;
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
            return Err(here("environment: a name of 1 to 64 characters"));
        }
        let concurrency = match j.concurrency {
            None => None,
            Some(c) => Some(c.validated().map_err(|m| here(&m))?),
        };
        let job = Job {
            continue_on_error,
            concurrency,
            environment,
            strategy: None,
            condition,
            matrix: None,
            outputs: env_map(j.outputs),
            name: j.name.unwrap_or_else(|| key.clone()),
            key: key.clone(),
            needs,
            env: env_map(j.env),
            timeout_seconds: (j.timeout_minutes.unwrap_or(60.0) * 60.0)
                .round()
                .clamp(1.0, 360.0 * 60.0) as u64,
            steps,
        };
        match j.strategy {
            None => jobs.push(job),
            Some(strategy) => {
                if strategy.max_parallel == Some(0) {
                    return Err(here("strategy.max-parallel: at least 1"));
                }
                let combos = expand_matrix(&strategy.matrix).map_err(|m| here(&format!("strategy.matrix: {m}")))?;
                let total = combos.len();
                for (index, values) in combos.into_iter().enumerate() {
                    let mut instance = job.clone();
                    instance.strategy = Some(Strategy {
                        fail_fast: strategy.fail_fast.unwrap_or(true),
                        max_parallel: strategy.max_parallel,
                        job_index: index,
                        job_total: total,
                    });
                    // In the order of the axes, then what `include` added.
                    let axes = strategy.matrix.keys().filter(|k| *k != "include" && *k != "exclude");
                    let mut order: Vec<&String> = axes.filter(|k| values.contains_key(*k)).collect();
                    order.extend(values.keys().filter(|k| !strategy.matrix.contains_key(*k)));
                    let shown: Vec<String> = order.iter().map(|k| json_text(&values[*k])).collect();
                    instance.name = format!("{} ({})", job.name, shown.join(", "));
                    instance.matrix = Some(values);
                    jobs.push(instance);
                }
            }
        }
        if jobs.len() > MAX_JOBS {
            return Err(Error(format!(
                "{file}: more than {MAX_JOBS} jobs once matrices are expanded"
            )));
        }
    }
    check_graph(file, &jobs)?;
    Ok(Workflow {
        name: raw.name,
        on,
        env: env_map(raw.env),
        concurrency,
        jobs,
    })
}

/// Every `${{ … }}` in the file must parse; errors name the line.
fn check_expressions(file: &str, text: &str) -> Result<(), Error> {
    let mut from = 0;
    while let Some(start) = text[from..].find("${{").map(|i| i + from) {
        let line = text[..start].matches('\n').count() + 1;
        let end = text[start..]
            .find("}}")
            .map(|i| i + start)
            .ok_or_else(|| Error(format!("{file}:{line}: a `${{{{` is not closed with `}}}}`")))?;
        super::expr::parse(text[start + 3..end].trim())
            .map_err(|e| Error(format!("{file}:{line}: {e} in `{}`", &text[start..end + 2])))?;
        from = end + 2;
    }
    Ok(())
}

/// An `if:` parses with or without `${{ }}`.
fn check_condition(text: &str) -> Result<(), String> {
    let t = text.trim();
    let src = t.strip_prefix("${{").and_then(|s| s.strip_suffix("}}")).unwrap_or(t);
    super::expr::parse(src).map(|_| ())
}

/// serde_yaml's messages end in "at line N column M"; the line is shown first.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The combinations of a `strategy.matrix`: the product of its axes, less
/// `exclude`, plus `include` (which extends matching combinations or adds
/// new ones), at most `MAX_JOBS`.
fn expand_matrix(
    matrix: &indexmap::IndexMap<String, serde_yaml_ng::Value>,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    use serde_json::{Map, Value};
    let to_json = |v: &serde_yaml_ng::Value| serde_json::to_value(v).map_err(|e| e.to_string());
    let list_of_maps = |v: &serde_yaml_ng::Value| -> Result<Vec<Map<String, Value>>, String> {
        match to_json(v)? {
            Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Value::Object(m) => Ok(m),
                    _ => Err("include and exclude take a list of mappings".to_string()),
                })
                .collect(),
            _ => Err("include and exclude take a list of mappings".into()),
        }
    };
    let mut combos: Vec<Map<String, Value>> = vec![Map::new()];
    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    for (axis, values) in matrix {
        match axis.as_str() {
            "include" => include = list_of_maps(values)?,
            "exclude" => exclude = list_of_maps(values)?,
            _ => {
                let Value::Array(items) = to_json(values)? else {
                    return Err(format!("{axis} takes a list of values"));
                };
                if items.is_empty() {
                    return Err(format!("{axis} has no values"));
                }
                let mut next = Vec::new();
                for combo in &combos {
                    for item in &items {
                        let mut c = combo.clone();
                        c.insert(axis.clone(), item.clone());
                        next.push(c);
                        if next.len() > MAX_JOBS {
                            return Err(format!("more than {MAX_JOBS} combinations"));
                        }
                    }
                }
                combos = next;
            }
        }
    }
    combos.retain(|c| !exclude.iter().any(|ex| ex.iter().all(|(k, v)| c.get(k) == Some(v))));
    if combos.len() == 1 && combos[0].is_empty() {
        combos.clear();
    }
    for inc in include {
        // An include extends the combinations it agrees with on the original axes.
        let mut matched = false;
        for c in combos.iter_mut() {
            let agrees = inc
                .iter()
                .all(|(k, v)| c.get(k).is_none_or(|cv| cv == v) || !matrix.contains_key(k));
            if agrees && inc.keys().any(|k| c.contains_key(k)) {
                for (k, v) in &inc {
                    c.entry(k.clone()).or_insert_with(|| v.clone());
                }
                matched = true;
            }
        }
        if !matched {
            combos.push(inc);
        }
    }
    if combos.is_empty() {
        return Err("no combinations".into());
    }
    if combos.len() > MAX_JOBS {
        return Err(format!("more than {MAX_JOBS} combinations"));
    }
    Ok(combos)
}

fn triggers(file: &str, on: &serde_yaml_ng::Value) -> Result<Triggers, Error> {
    use serde_yaml_ng::Value;
    let bad = |what: String| Error(format!("{file}: on: {what}"));
    let mut t = Triggers::default();
    let mut add = |name: &str, config: Option<&Value>| -> Result<(), Error> {
        match name {
            "push" => {
                let mut filter = PushFilter::default();
                if let Some(Value::Mapping(m)) = config {
                    for (k, v) in m {
                        let key = k.as_str().unwrap_or("");
                        let list = string_list(v).map_err(|m| bad(format!("push.{key}: {m}")))?;
                        match key {
                            "branches" => filter.branches = list,
                            "branches-ignore" => filter.branches_ignore = list,
                            "tags" => filter.tags = list,
                            "paths" | "paths-ignore" | "tags-ignore" => {
                                return Err(bad(format!("push.{key} is not supported yet by this Hearth")));
                            }
                            other => return Err(bad(format!("unknown key push.{other}"))),
                        }
                    }
                } else if config.is_some_and(|c| !c.is_null()) {
                    return Err(bad("push takes branches, branches-ignore or tags".into()));
                }
                if !filter.branches.is_empty() && !filter.branches_ignore.is_empty() {
                    return Err(bad("push has both branches and branches-ignore".into()));
                }
                t.push = Some(filter);
            }
            "workflow_dispatch" => {
                t.workflow_dispatch = true;
                t.inputs = dispatch_inputs(config).map_err(|m| bad(format!("workflow_dispatch: {m}")))?;
            }
            "schedule" => {
                let list: Vec<RawCron> = config
                    .cloned()
                    .map(serde_yaml_ng::from_value)
                    .transpose()
                    .map_err(|e| {
                        bad(format!(
                            "schedule: a list of `- cron: '…'` ({})",
                            strip_location(&e.to_string())
                        ))
                    })?
                    .unwrap_or_default();
                if list.is_empty() || list.len() > MAX_SCHEDULES {
                    return Err(bad(format!("schedule: 1 to {MAX_SCHEDULES} `- cron:` entries")));
                }
                for c in list {
                    t.schedule
                        .push(Cron::parse(&c.cron).map_err(|m| bad(format!("schedule: {m}")))?);
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown event {other:?} (push, workflow_dispatch, schedule)"
                )));
            }
        }
        Ok(())
    };
    match on {
        Value::String(s) => add(s, None)?,
        Value::Sequence(list) => {
            for v in list {
                add(v.as_str().ok_or_else(|| bad("a list of event names".into()))?, None)?;
            }
        }
        Value::Mapping(m) => {
            for (k, v) in m {
                add(
                    k.as_str().ok_or_else(|| bad("event names are strings".into()))?,
                    Some(v),
                )?;
            }
        }
        _ => return Err(bad("an event name, a list of them, or a mapping".into())),
    }
    Ok(t)
}

fn string_list(v: &serde_yaml_ng::Value) -> Result<Vec<String>, String> {
    use serde_yaml_ng::Value;
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Sequence(l) => l
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or("a list of strings".to_string()))
            .collect(),
        _ => Err("a list of strings".into()),
    }
}

/// Labels this executor answers to: the host itself.
const LABELS: &[&str] = &["self-hosted", "linux", "x64"];

fn runs_on(v: &serde_yaml_ng::Value) -> Result<(), String> {
    for label in string_list(v)? {
        if !(LABELS.contains(&label.as_str()) || label.starts_with("ubuntu-")) {
            return Err(format!(
                "no executor has the label {label:?} (this one answers to self-hosted, linux, x64, ubuntu-*)"
            ));
        }
    }
    Ok(())
}

fn check_graph(file: &str, jobs: &[Job]) -> Result<(), Error> {
    let keys: HashSet<&str> = jobs.iter().map(|j| j.key.as_str()).collect();
    for j in jobs {
        for n in &j.needs {
            if !keys.contains(n.as_str()) {
                return Err(Error(format!(
                    "{file}: jobs.{}: needs {n:?}, which is not a job of this workflow",
                    j.key
                )));
            }
        }
    }
    // Kahn's algorithm: whatever cannot be ordered is in a cycle.
    let mut done: HashSet<&str> = HashSet::new();
    loop {
        let ready: Vec<&str> = jobs
            .iter()
            .filter(|j| !done.contains(j.key.as_str()) && j.needs.iter().all(|n| done.contains(n.as_str())))
            .map(|j| j.key.as_str())
            .collect();
        if ready.is_empty() {
            break;
        }
        done.extend(ready);
    }
    if done.len() < keys.len() {
        let mut stuck: Vec<&str> = jobs
            .iter()
            .map(|j| j.key.as_str())
            .filter(|k| !done.contains(k))
            .collect();
        stuck.sort();
        return Err(Error(format!(
            "{file}: the needs of jobs {} form a cycle",
            stuck.join(", ")
        )));
    }
    Ok(())
}

/// Whether a push to `full_ref` runs this workflow.
pub fn runs_on_push(w: &Workflow, full_ref: &str) -> bool {
    let Some(f) = &w.on.push else { return false };
    if let Some(branch) = full_ref.strip_prefix("refs/heads/") {
        if f.branches.is_empty() && f.branches_ignore.is_empty() {
            // With only tag filters, branches do not trigger.
            return f.tags.is_empty();
        }
        if !f.branches.is_empty() {
            return f.branches.iter().any(|p| glob(p, branch));
        }
        return !f.branches_ignore.iter().any(|p| glob(p, branch));
    }
    if let Some(tag) = full_ref.strip_prefix("refs/tags/") {
        return f.tags.iter().any(|p| glob(p, tag));
    }
    false
}

/// `[…]` and `{…}` may nest this deep. The YAML reader refuses deeper
/// nesting anyway, but only after scanning it, in time that grows with the
/// square of the depth (100,000 levels: minutes).
const MAX_FLOW_DEPTH: usize = 128;

/// The line where flow collections (`[`, `{`) nest deeper than
/// `MAX_FLOW_DEPTH`, found in one pass: a bracket opens a collection at
/// the start of a value or inside another collection, where quoted
/// strings and comments are skipped; elsewhere (a script, say) it is text.
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    // The last character that was not a space on this line, outside collections.
    let mut before: Option<u8> = None;
    let mut quote: Option<u8> = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        if c == b'\n' {
            line += 1;
            before = None;
            continue;
        }
        if let Some(q) = quote {
            if c == b'\\' && q == b'"' {
                i += 1;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            b'#' if i == 1 || bytes[i - 2].is_ascii_whitespace() => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'[' | b'{' if depth > 0 || matches!(before, None | Some(b':' | b'-' | b'?')) => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(line);
                }
            }
            b']' | b'}' if depth > 0 => depth -= 1,
            b'\'' | b'"' if depth > 0 => quote = Some(c),
            b' ' | b'\t' | b'\r' => {}
            _ if depth == 0 => before = Some(c),
            _ => {}
        }
    }
    None
}

/// GitHub's filter patterns: `*` matches within a path segment, `**` across.
/// Matched in one pass over the pattern (time pattern × text, no recursion),
/// so a hostile pattern costs no more than its length.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // can[j]: the pattern read so far matches the first j bytes of the text.
    let mut can = vec![false; t.len() + 1];
    can[0] = true;
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'*' && p.get(i + 1) == Some(&b'*') {
            // `**`: anything at all after a place that matched.
            let mut any = false;
            for c in can.iter_mut() {
                any |= *c;
                *c = any;
            }
            i += 2;
        } else if p[i] == b'*' {
            // `*`: anything without a `/`.
            for j in 1..=t.len() {
                can[j] = can[j] || (can[j - 1] && t[j - 1] != b'/');
            }
            i += 1;
        } else {
            for j in (1..=t.len()).rev() {
                can[j] = can[j - 1] && t[j - 1] == p[i];
            }
            can[0] = false;
            i += 1;
        }
        if !can.contains(&true) {
            return false;
        }
    }
    can[t.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("main", "main"));
        assert!(glob("release/*", "release/2.x"));
        assert!(!glob("release/*", "release/2.x/rc"));
        assert!(glob("release/**", "release/2.x/rc"));
        assert!(glob("v*", "v1.0"));
        assert!(!glob("main", "main2"));
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
        assert!(runs_on_push(&w("push"), "refs/heads/any"));
        assert!(!runs_on_push(&w("push"), "refs/tags/v1"));
        assert!(!runs_on_push(&w("workflow_dispatch"), "refs/heads/main"));
        let only_main = w("{push: {branches: [main]}}");
        assert!(runs_on_push(&only_main, "refs/heads/main"));
        assert!(!runs_on_push(&only_main, "refs/heads/topic"));
        let ignore = w("{push: {branches-ignore: ['wip/**']}}");
        assert!(!runs_on_push(&ignore, "refs/heads/wip/a/b"));
        assert!(runs_on_push(&ignore, "refs/heads/main"));
        let tags = w("{push: {tags: ['v*']}}");
        assert!(runs_on_push(&tags, "refs/tags/v2"));
        assert!(
            !runs_on_push(&tags, "refs/heads/main"),
            "tag filters alone leave branches out"
        );
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
        // A long pattern neither recurses nor backtracks for ever.
        assert!(!glob(&"*a".repeat(50_000), &"a".repeat(200)));
        assert!(glob(&"a".repeat(5_000), &"a".repeat(5_000)));
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
