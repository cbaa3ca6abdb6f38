//! `on:`: the events that start a workflow (push with its filters,
//! workflow_dispatch with inputs, schedule), and whether a push matches.

use serde::Serialize;

use super::check::strip_location;
use super::inputs::{Input, WorkflowCall, dispatch_inputs, workflow_call};
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
    /// `workflow_call`: a reusable workflow, run as jobs of its callers.
    pub workflow_call: Option<WorkflowCall>,
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
    pub tags_ignore: Vec<String>,
    /// Against the files the push changed (branches only, as on GitHub).
    pub paths: Vec<String>,
    pub paths_ignore: Vec<String>,
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
                            "tags-ignore" => filter.tags_ignore = list,
                            "paths" => filter.paths = list,
                            "paths-ignore" => filter.paths_ignore = list,
                            other => return Err(bad(format!("unknown key push.{other}"))),
                        }
                    }
                } else if config.is_some_and(|c| !c.is_null()) {
                    return Err(bad(
                        "push takes branches, branches-ignore, tags, tags-ignore, paths or paths-ignore".into(),
                    ));
                }
                for (a, b, what) in [
                    (
                        &filter.branches,
                        &filter.branches_ignore,
                        "branches and branches-ignore",
                    ),
                    (&filter.tags, &filter.tags_ignore, "tags and tags-ignore"),
                    (&filter.paths, &filter.paths_ignore, "paths and paths-ignore"),
                ] {
                    if !a.is_empty() && !b.is_empty() {
                        return Err(bad(format!("push has both {what}")));
                    }
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
            "workflow_call" => {
                t.workflow_call = Some(workflow_call(config).map_err(|m| bad(format!("workflow_call: {m}")))?);
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
                    "unknown event {other:?} (push, pull_request, pull_request_target, workflow_dispatch, workflow_call, schedule)"
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

/// Whether a push to `full_ref` runs this workflow. `changed`: the files
/// the push changed, when known (`None`: unknown, and paths filters let
/// the push through).
pub fn runs_on_push(w: &Workflow, full_ref: &str, changed: Option<&[String]>) -> bool {
    let Some(f) = &w.on.push else { return false };
    let (branch_filters, tag_filters) = (
        !(f.branches.is_empty() && f.branches_ignore.is_empty()),
        !(f.tags.is_empty() && f.tags_ignore.is_empty()),
    );
    if let Some(branch) = full_ref.strip_prefix("refs/heads/") {
        let by_name = match (branch_filters, tag_filters) {
            // With only tag filters, branches do not trigger.
            (false, tags) => !tags,
            (true, _) if !f.branches.is_empty() => listed(&f.branches, branch),
            (true, _) => !listed(&f.branches_ignore, branch),
        };
        return by_name && paths_pass(f, changed);
    }
    if let Some(tag) = full_ref.strip_prefix("refs/tags/") {
        // As on GitHub: with no filters at all, tags trigger too; with
        // only branch filters, they do not. Paths are not looked at for tags.
        return match tag_filters {
            false => !branch_filters,
            true if !f.tags.is_empty() => listed(&f.tags, tag),
            true => !listed(&f.tags_ignore, tag),
        };
    }
    false
}

/// Whether a `pull_request` event (`action`, into branch `base`, changing
/// `changed` when known) starts workflow `w`: its types (opened,
/// synchronize and reopened when not given), branches and paths filters.
pub fn runs_on_pull(w: &Workflow, action: &str, base: &str, changed: Option<&[String]>) -> bool {
    let Some(f) = &w.on.pull_request else { return false };
    let typed = match f.types.is_empty() {
        true => ["opened", "synchronize", "reopened"].contains(&action),
        false => f.types.iter().any(|t| t == action),
    };
    let by_branch = match (f.branches.is_empty(), f.branches_ignore.is_empty()) {
        (false, _) => listed(&f.branches, base),
        (true, false) => !listed(&f.branches_ignore, base),
        (true, true) => true,
    };
    let by_paths = match changed {
        None => true,
        Some(files) if !f.paths.is_empty() => files.iter().any(|file| listed(&f.paths, file)),
        Some(files) if !f.paths_ignore.is_empty() => !files.iter().all(|file| listed(&f.paths_ignore, file)),
        Some(_) => true,
    };
    typed && by_branch && by_paths
}

/// Whether a workflow's `pull_request` has paths filters.
pub fn filters_pull_paths(w: &Workflow) -> bool {
    w.on.pull_request
        .as_ref()
        .is_some_and(|f| !(f.paths.is_empty() && f.paths_ignore.is_empty()))
}

/// Whether `name` is in a list of patterns, read in order as GitHub does:
/// a `!pattern` takes back what an earlier pattern matched.
fn listed(patterns: &[String], name: &str) -> bool {
    let mut hit = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(not) => hit &= !crate::glob::matches(not, name),
            None => hit |= crate::glob::matches(p, name),
        }
    }
    hit
}

/// `paths`: some changed file is listed; `paths-ignore`: not every one is.
fn paths_pass(f: &PushFilter, changed: Option<&[String]>) -> bool {
    let Some(files) = changed else { return true };
    if !f.paths.is_empty() {
        return files.iter().any(|file| listed(&f.paths, file));
    }
    if !f.paths_ignore.is_empty() {
        return !files.iter().all(|file| listed(&f.paths_ignore, file));
    }
    true
}

/// Whether the workflow's `push` has `paths` or `paths-ignore`, so that the
/// changed files are worth computing.
pub fn filters_paths(w: &Workflow) -> bool {
    w.on.push
        .as_ref()
        .is_some_and(|f| !(f.paths.is_empty() && f.paths_ignore.is_empty()))
}
