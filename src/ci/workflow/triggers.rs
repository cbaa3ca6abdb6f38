//! `on:`: the events that start a workflow (push with its filters,
//! workflow_dispatch with inputs, schedule), and whether a push matches.

use serde::Serialize;

use super::check::strip_location;
use super::inputs::{Input, dispatch_inputs};
use super::schedule::{Cron, MAX_SCHEDULES, RawCron};
use super::{Error, Workflow};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Triggers {
    pub push: Option<PushFilter>,
    pub workflow_dispatch: bool,
    /// `workflow_dispatch.inputs`, in file order.
    pub inputs: Vec<Input>,
    /// `schedule`: when to run on the default branch.
    pub schedule: Vec<Cron>,
    /// `pull_request` and `pull_request_target`: accepted and kept; they
    /// fire once this Hearth has pull requests.
    pub pull_request: Option<PullRequestFilter>,
    pub pull_request_target: Option<PullRequestFilter>,
}

/// GitHub's activity types of `pull_request`.
pub const PULL_REQUEST_TYPES: [&str; 21] = [
    "assigned",
    "unassigned",
    "labeled",
    "unlabeled",
    "opened",
    "edited",
    "closed",
    "reopened",
    "synchronize",
    "converted_to_draft",
    "ready_for_review",
    "locked",
    "unlocked",
    "review_requested",
    "review_request_removed",
    "auto_merge_enabled",
    "auto_merge_disabled",
    "milestoned",
    "demilestoned",
    "enqueued",
    "dequeued",
];

#[derive(Debug, Clone, Default, Serialize)]
pub struct PullRequestFilter {
    pub branches: Vec<String>,
    pub branches_ignore: Vec<String>,
    pub paths: Vec<String>,
    pub paths_ignore: Vec<String>,
    /// Empty: GitHub's default, opened, synchronize and reopened.
    pub types: Vec<String>,
}

fn pull_request_filter(config: Option<&serde_yaml_ng::Value>) -> Result<PullRequestFilter, String> {
    let mut f = PullRequestFilter::default();
    match config {
        None | Some(serde_yaml_ng::Value::Null) => {}
        Some(serde_yaml_ng::Value::Mapping(m)) => {
            for (k, v) in m {
                let key = k.as_str().unwrap_or("");
                let list = string_list(v).map_err(|m| format!("{key}: {m}"))?;
                match key {
                    "branches" => f.branches = list,
                    "branches-ignore" => f.branches_ignore = list,
                    "paths" => f.paths = list,
                    "paths-ignore" => f.paths_ignore = list,
                    "types" => {
                        if let Some(t) = list.iter().find(|t| !PULL_REQUEST_TYPES.contains(&t.as_str())) {
                            return Err(format!("types: {t:?} is not an activity type of a pull request"));
                        }
                        f.types = list;
                    }
                    other => {
                        return Err(format!(
                            "unknown key {other} (branches, branches-ignore, paths, paths-ignore, types)"
                        ));
                    }
                }
            }
        }
        Some(_) => return Err("takes branches, branches-ignore, paths, paths-ignore or types".into()),
    }
    if !f.branches.is_empty() && !f.branches_ignore.is_empty() {
        return Err("has both branches and branches-ignore".into());
    }
    if !f.paths.is_empty() && !f.paths_ignore.is_empty() {
        return Err("has both paths and paths-ignore".into());
    }
    Ok(f)
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PushFilter {
    pub branches: Vec<String>,
    pub branches_ignore: Vec<String>,
    pub tags: Vec<String>,
}

pub(super) fn triggers(file: &str, on: &serde_yaml_ng::Value) -> Result<Triggers, Error> {
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
            "pull_request" => {
                t.pull_request = Some(pull_request_filter(config).map_err(|m| bad(format!("pull_request {m}")))?);
            }
            "pull_request_target" => {
                t.pull_request_target =
                    Some(pull_request_filter(config).map_err(|m| bad(format!("pull_request_target {m}")))?);
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
                    "unknown event {other:?} (push, pull_request, pull_request_target, workflow_dispatch, schedule)"
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

pub(super) fn string_list(v: &serde_yaml_ng::Value) -> Result<Vec<String>, String> {
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
        // As on GitHub: with no filters at all, tags trigger too; with
        // only branch filters, they do not.
        if f.tags.is_empty() {
            return f.branches.is_empty() && f.branches_ignore.is_empty();
        }
        return f.tags.iter().any(|p| glob(p, tag));
    }
    false
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
