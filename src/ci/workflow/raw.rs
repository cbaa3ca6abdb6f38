//! The file as written, before validation: what serde reads the YAML
//! into. Unknown keys are refused here (`deny_unknown_fields`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Concurrency;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkflow {
    pub(super) name: Option<String>,
    pub(super) on: serde_yaml_ng::Value,
    #[serde(default)]
    pub(super) env: BTreeMap<String, Scalar>,
    /// Each job read on its own, so that one job's problem leaves the others to check.
    pub(super) jobs: indexmap::IndexMap<String, serde_yaml_ng::Value>,
    #[serde(rename = "run-name")]
    pub(super) run_name: Option<String>,
    pub(super) concurrency: Option<RawConcurrency>,
    pub(super) defaults: Option<RawDefaults>,
    pub(super) permissions: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawConcurrency {
    Group(String),
    Full(RawConcurrencyFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConcurrencyFull {
    pub(super) group: String,
    #[serde(rename = "cancel-in-progress", default)]
    pub(super) cancel_in_progress: bool,
}

impl RawConcurrency {
    pub(super) fn validated(self) -> Result<Concurrency, String> {
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
pub(super) struct RawDefaults {
    pub(super) run: RawRunDefaults,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRunDefaults {
    pub(super) shell: Option<String>,
    #[serde(rename = "working-directory")]
    pub(super) working_directory: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawEnvironment {
    Name(String),
    Full(RawEnvironmentFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnvironmentFull {
    pub(super) name: String,
    pub(super) url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJob {
    pub(super) name: Option<String>,
    #[serde(rename = "runs-on")]
    pub(super) runs_on: Option<serde_yaml_ng::Value>,
    pub(super) needs: Option<OneOrMany>,
    #[serde(default)]
    pub(super) env: BTreeMap<String, Scalar>,
    #[serde(rename = "timeout-minutes")]
    pub(super) timeout_minutes: Option<Scalar>,
    #[serde(default)]
    pub(super) steps: Vec<RawStep>,
    /// Jobs in a container, or with service containers: a shell runner
    /// has no container engine, so they are skipped saying why.
    pub(super) container: Option<serde_yaml_ng::Value>,
    pub(super) services: Option<serde_yaml_ng::Value>,
    /// A reusable workflow this job runs (`./.github/workflows/x.yml`),
    /// its inputs, and the secrets it passes (`inherit`, or a mapping).
    pub(super) uses: Option<String>,
    pub(super) with: Option<BTreeMap<String, Scalar>>,
    pub(super) secrets: Option<serde_yaml_ng::Value>,
    // In the format, not run yet by this version.
    #[serde(rename = "if")]
    pub(super) if_: Option<Scalar>,
    #[serde(default)]
    pub(super) outputs: BTreeMap<String, Scalar>,
    pub(super) strategy: Option<RawStrategy>,
    pub(super) concurrency: Option<RawConcurrency>,
    pub(super) environment: Option<RawEnvironment>,
    #[serde(rename = "continue-on-error")]
    pub(super) continue_on_error: Option<Scalar>,
    pub(super) defaults: Option<RawDefaults>,
    pub(super) permissions: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) run: Option<String>,
    pub(super) uses: Option<String>,
    pub(super) shell: Option<String>,
    #[serde(default)]
    pub(super) env: BTreeMap<String, Scalar>,
    #[serde(rename = "working-directory")]
    pub(super) working_directory: Option<String>,
    pub(super) with: Option<BTreeMap<String, Scalar>>,
    #[serde(rename = "if")]
    pub(super) if_: Option<Scalar>,
    #[serde(rename = "continue-on-error")]
    pub(super) continue_on_error: Option<Scalar>,
    #[serde(rename = "timeout-minutes")]
    pub(super) timeout_minutes: Option<Scalar>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStrategy {
    /// The axes, or an expression that gives them when the job's needs are
    /// done (`${{ fromJSON(needs.plan.outputs.matrix) }}`).
    pub(super) matrix: Option<serde_yaml_ng::Value>,
    #[serde(rename = "fail-fast")]
    pub(super) fail_fast: Option<Scalar>,
    #[serde(rename = "max-parallel")]
    pub(super) max_parallel: Option<Scalar>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// An environment value: YAML may write it as a number, a boolean, or
/// nothing at all (`KEY:`, an empty value, as on GitHub).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    Text(String),
    Number(serde_yaml_ng::Number),
    Bool(bool),
    Null(()),
}

impl Scalar {
    pub(super) fn into_string(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Null(()) => String::new(),
        }
    }

    /// `timeout-minutes`: a number of minutes, or an expression that
    /// gives one when the job (or step) starts.
    pub(super) fn minutes(self) -> Result<Minutes, String> {
        match self {
            Scalar::Number(n) => match n.as_f64() {
                Some(m) if m > 0.0 => Ok(Minutes::Seconds(seconds(m))),
                _ => Err("timeout-minutes: a number of minutes above 0".into()),
            },
            Scalar::Text(t) if t.contains("${{") => Ok(Minutes::Expression(t)),
            Scalar::Text(t) => match t.trim().parse::<f64>() {
                Ok(m) if m > 0.0 => Ok(Minutes::Seconds(seconds(m))),
                _ => Err(format!("timeout-minutes: {t:?} is not a number of minutes")),
            },
            _ => Err("timeout-minutes: a number of minutes above 0".into()),
        }
    }
}

/// A `timeout-minutes` as written.
pub(super) enum Minutes {
    Seconds(u64),
    Expression(String),
}

/// `minutes` in seconds, between one second and six hours (GitHub's most).
pub fn seconds(minutes: f64) -> u64 {
    (minutes * 60.0).round().clamp(1.0, 360.0 * 60.0) as u64
}

pub(super) fn env_map(raw: BTreeMap<String, Scalar>) -> BTreeMap<String, String> {
    raw.into_iter().map(|(k, v)| (k, v.into_string())).collect()
}
