//! `workflow_dispatch` inputs: how a workflow declares them, and the
//! values of a run started by hand checked against them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check::strip_location;
use super::raw::Scalar;

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

pub(super) const MAX_INPUTS: usize = 25;

/// `on: workflow_call`: what a reusable workflow takes and gives.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkflowCall {
    pub inputs: Vec<CallInput>,
    /// Secret names, and whether the caller must pass them.
    pub secrets: Vec<(String, bool)>,
    /// Outputs: names and their expressions over `jobs.<id>.outputs`.
    pub outputs: BTreeMap<String, String>,
}

/// An input of a reusable workflow (string, boolean or number).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CallInput {
    pub name: String,
    pub required: bool,
    pub default: Option<String>,
    /// `string`, `boolean` or `number`.
    pub kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    #[serde(default)]
    inputs: indexmap::IndexMap<String, RawInput>,
    #[serde(default)]
    secrets: indexmap::IndexMap<String, Option<RawCallSecret>>,
    #[serde(default)]
    outputs: indexmap::IndexMap<String, RawCallOutput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCallSecret {
    #[serde(rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCallOutput {
    #[serde(rename = "description")]
    _description: Option<String>,
    value: String,
}

pub(super) fn workflow_call(config: Option<&serde_yaml_ng::Value>) -> Result<WorkflowCall, String> {
    let Some(config) = config.filter(|c| !c.is_null()) else {
        return Ok(WorkflowCall::default());
    };
    let raw: RawCall = serde_yaml_ng::from_value(config.clone()).map_err(|e| strip_location(&e.to_string()))?;
    if raw.inputs.len() > MAX_INPUTS || raw.secrets.len() > MAX_INPUTS || raw.outputs.len() > MAX_INPUTS {
        return Err(format!("at most {MAX_INPUTS} inputs, secrets and outputs each"));
    }
    let mut call = WorkflowCall::default();
    for (name, i) in raw.inputs {
        let kind = i.kind.unwrap_or_else(|| "string".into());
        if !["string", "boolean", "number"].contains(&kind.as_str()) {
            return Err(format!("inputs.{name}: type {kind:?} is not string, boolean or number"));
        }
        if i.options.is_some() {
            return Err(format!("inputs.{name}: `options` belong to workflow_dispatch"));
        }
        call.inputs.push(CallInput {
            name,
            required: i.required,
            default: i.default.map(Scalar::into_string),
            kind,
        });
    }
    for (name, s) in raw.secrets {
        call.secrets.push((name, s.is_some_and(|s| s.required)));
    }
    for (name, o) in raw.outputs {
        call.outputs.insert(name, o.value);
    }
    Ok(call)
}

impl CallInput {
    /// `text` as this input's value, by its type.
    pub fn value(&self, text: &str) -> Result<serde_json::Value, String> {
        let kind = match self.kind.as_str() {
            "boolean" => InputKind::Boolean,
            "number" => InputKind::Number,
            _ => InputKind::String,
        };
        Input {
            name: self.name.clone(),
            description: None,
            required: self.required,
            default: None,
            kind,
        }
        .value(text)
    }
}

pub(super) fn dispatch_inputs(config: Option<&serde_yaml_ng::Value>) -> Result<Vec<Input>, String> {
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
