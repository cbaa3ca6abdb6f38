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
    pub(super) jobs: indexmap::IndexMap<String, RawJob>,
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
    pub(super) timeout_minutes: Option<f64>,
    #[serde(default)]
    pub(super) steps: Vec<RawStep>,
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
    pub(super) continue_on_error: Option<bool>,
    #[serde(rename = "timeout-minutes")]
    pub(super) timeout_minutes: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStrategy {
    pub(super) matrix: indexmap::IndexMap<String, serde_yaml_ng::Value>,
    #[serde(rename = "fail-fast")]
    pub(super) fail_fast: Option<bool>,
    #[serde(rename = "max-parallel")]
    pub(super) max_parallel: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// An environment value: YAML may write it as a number or a boolean.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    Text(String),
    Number(serde_yaml_ng::Number),
    Bool(bool),
}

impl Scalar {
    pub(super) fn into_string(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

pub(super) fn env_map(raw: BTreeMap<String, Scalar>) -> BTreeMap<String, String> {
    raw.into_iter().map(|(k, v)| (k, v.into_string())).collect()
}
