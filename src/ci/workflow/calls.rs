//! Reusable workflows: a job that `uses: ./.github/workflows/x.yml`
//! becomes the jobs of that workflow (`on: workflow_call`), keyed
//! `{caller}/{job}` and named `{caller} / {job}`, after the caller's needs;
//! what needs the caller waits for all of them. Inputs, secrets and
//! outputs are evaluated when the jobs run (see `Called`). Pure but for
//! `read`, which gives the text of a workflow file of the same commit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::inputs::CallInput;
use super::{Error, Job, MAX_JOBS, Workflow};

/// Reusable workflows may call others this deep, as on GitHub.
pub const MAX_CALL_DEPTH: usize = 4;

/// A job's `uses:` of a reusable workflow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Call {
    /// The workflow file, from the repository's root.
    pub path: String,
    /// `with:`: its inputs, as written (they may hold expressions).
    pub with: BTreeMap<String, String>,
    pub secrets: CallSecrets,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum CallSecrets {
    /// `secrets: inherit`: all of the caller's.
    Inherit,
    /// Names and the expressions that give them (none when not given).
    Named(BTreeMap<String, String>),
}

/// What a job of a reusable workflow knows of its call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Called {
    /// The key of the calling job: this job's is `{caller}/{its own}`.
    pub caller: String,
    pub with: BTreeMap<String, String>,
    pub inputs: Vec<CallInput>,
    pub secrets: CallSecrets,
    /// The called workflow's outputs, over `jobs.<id>.outputs`.
    pub outputs: BTreeMap<String, String>,
    /// The call this one is made in, for a reusable workflow calling another.
    pub parent: Option<Box<Called>>,
}

/// Whether job `key` answers to the need `need`: it is that job, or a job
/// of the reusable workflow that job calls.
pub fn is_of(key: &str, need: &str) -> bool {
    key == need || (key.len() > need.len() && key.starts_with(need) && key.as_bytes()[need.len()] == b'/')
}

/// Reads a calling job's `uses`, `with` and `secrets`.
pub(super) fn call_of(
    uses: &str,
    with: BTreeMap<String, String>,
    secrets: Option<&serde_yaml_ng::Value>,
) -> Result<Call, String> {
    let path = match uses.strip_prefix("./") {
        Some(p)
            if (p.starts_with(".github/workflows/") || p.starts_with(".hearth/workflows/"))
                && (p.ends_with(".yml") || p.ends_with(".yaml"))
                && !p.split('/').any(|c| c == ".." || c.is_empty()) =>
        {
            p.to_string()
        }
        _ if uses.contains('@') => {
            return Err(format!(
                "uses: {uses}: a reusable workflow of another repository is not supported yet by this Hearth; \
                 copy it into this repository's .github/workflows and call it as ./.github/workflows/NAME.yml"
            ));
        }
        _ => {
            return Err(format!(
                "uses: {uses} is not a reusable workflow: ./.github/workflows/NAME.yml"
            ));
        }
    };
    let secrets = match secrets {
        None => CallSecrets::Named(BTreeMap::new()),
        Some(serde_yaml_ng::Value::String(s)) if s == "inherit" => CallSecrets::Inherit,
        Some(serde_yaml_ng::Value::Mapping(m)) => {
            let mut named = BTreeMap::new();
            for (k, v) in m {
                let (Some(k), Some(v)) = (k.as_str(), v.as_str()) else {
                    return Err("secrets: names and the expressions of their values".into());
                };
                named.insert(k.to_string(), v.to_string());
            }
            CallSecrets::Named(named)
        }
        Some(_) => return Err("secrets: `inherit`, or a mapping of names to values".into()),
    };
    Ok(Call { path, with, secrets })
}

/// Replaces each job of `w` that calls a reusable workflow by that
/// workflow's jobs; `read` gives a workflow file's text.
pub fn inline_calls(w: &mut Workflow, read: &dyn Fn(&str) -> Result<String, String>) -> Result<(), Error> {
    let jobs = std::mem::take(&mut w.jobs);
    for job in jobs {
        match job.call.clone() {
            None => w.jobs.push(job),
            Some(call) => {
                let here = |m: String| Error(format!("jobs.{}: {m}", job.key));
                w.jobs.extend(expand(&job, &call, None, read, 1).map_err(here)?);
            }
        }
        if w.jobs.len() > MAX_JOBS {
            return Err(Error(format!(
                "more than {MAX_JOBS} jobs once reusable workflows are called"
            )));
        }
    }
    super::check::check_graph("the workflow", &w.jobs)
}

fn expand(
    caller: &Job,
    call: &Call,
    parent: Option<&Called>,
    read: &dyn Fn(&str) -> Result<String, String>,
    depth: usize,
) -> Result<Vec<Job>, String> {
    if depth > MAX_CALL_DEPTH {
        return Err(format!(
            "reusable workflows call each other more than {MAX_CALL_DEPTH} deep"
        ));
    }
    let text = read(&call.path).map_err(|m| format!("uses: ./{}: {m}", call.path))?;
    let callee = super::parse(&call.path, &text).map_err(|e| e.0)?;
    let Some(wc) = callee.on.workflow_call.clone() else {
        return Err(format!(
            "./{} is not a reusable workflow: it has no `on: workflow_call`",
            call.path
        ));
    };
    if let Some(k) = call.with.keys().find(|k| !wc.inputs.iter().any(|i| &i.name == *k)) {
        return Err(format!("with: {k}: ./{} has no input {k:?}", call.path));
    }
    if let Some(i) = wc
        .inputs
        .iter()
        .find(|i| i.required && i.default.is_none() && !call.with.contains_key(&i.name))
    {
        return Err(format!(
            "./{} needs the input {:?} (`with: {}`)",
            call.path, i.name, i.name
        ));
    }
    if let CallSecrets::Named(given) = &call.secrets
        && let Some((name, _)) = wc
            .secrets
            .iter()
            .find(|(n, required)| *required && !given.contains_key(n))
    {
        return Err(format!(
            "./{} needs the secret {name:?} (`secrets: {name}: …` or `secrets: inherit`)",
            call.path
        ));
    }
    let called = Called {
        caller: caller.key.clone(),
        with: call.with.clone(),
        inputs: wc.inputs,
        secrets: call.secrets.clone(),
        outputs: wc.outputs,
        parent: parent.cloned().map(Box::new),
    };
    let mut out = Vec::new();
    for own in callee.jobs {
        let mut j = own.clone();
        j.key = format!("{}/{}", caller.key, own.key);
        j.name = format!("{} / {}", caller.name, own.name);
        j.needs = caller.needs.clone();
        j.needs.extend(own.needs.iter().map(|n| format!("{}/{n}", caller.key)));
        for (k, v) in &callee.env {
            j.env.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if j.permissions.is_none() {
            j.permissions = caller.permissions.clone();
        }
        // The caller's `if:` decides for the whole call: its first jobs carry it.
        if own.needs.is_empty()
            && let Some(c) = &caller.condition
        {
            j.condition = Some(match &own.condition {
                None => c.clone(),
                Some(o) => format!("({}) && ({})", bare(c), bare(o)),
            });
        }
        j.called = Some(called.clone());
        match j.call.clone() {
            Some(inner) => out.extend(expand(&j, &inner, Some(&called), read, depth + 1)?),
            None => out.push(j),
        }
    }
    Ok(out)
}

/// A condition without its `${{ }}`.
fn bare(condition: &str) -> &str {
    let t = condition.trim();
    t.strip_prefix("${{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(t)
        .trim()
}
