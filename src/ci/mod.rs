//! CI: workflows (`workflow`, a pure parser, and `expr`), turning pushes,
//! dispatches and the clock (`cron`) into runs (`trigger`), the queue
//! (`scheduler`), and running jobs (`executor`, with `process` for a step's
//! processes and `actions`/`artifacts` for the built-in actions); `local`
//! is `hearth ci run`. How runs, jobs and steps change state is `state`'s
//! alone. Runs, jobs and steps are kept in SQLite; logs in
//! `data/runs/{run}/{job}.log`.

pub mod actions;
pub mod artifacts;
pub mod cgroup;
pub mod commands;
pub mod cron;
pub mod executor;
pub mod expr;
pub mod helper;
pub mod job_token;
pub mod live;
pub mod local;
pub mod process;
pub mod publish;
pub mod rolling;
pub mod sandbox;
pub mod scheduler;
pub mod secrets;
pub mod tool_cache;
pub mod trigger;
pub mod uses;
pub mod workflow;

use std::path::{Path, PathBuf};

/// The workflow files of a checkout at `root`: `.hearth/workflows/*.yml`
/// (and `.yaml`), or where that folder is absent, `.github/workflows/`.
pub fn local_workflows(root: &Path) -> Vec<PathBuf> {
    for dir in [".hearth/workflows", ".github/workflows"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
            .collect();
        files.sort();
        return files;
    }
    Vec::new()
}

/// A workflow's job graph as `hearth ci lint` prints it.
/// For `hearth ci lint` and `hearth ci run`: the reusable workflows the
/// workflow in `file` calls, read from the checkout it is in (the first
/// folder above it that has the called file), in place of the calling jobs.
pub fn inline_local(file: &std::path::Path, w: &mut workflow::Workflow) -> std::result::Result<(), workflow::Error> {
    if !w.jobs.iter().any(|j| j.call.is_some()) {
        return Ok(());
    }
    let dir = std::path::absolute(file)
        .ok()
        .and_then(|f| f.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    let read = |called: &str| -> std::result::Result<String, String> {
        let found = dir.ancestors().map(|a| a.join(called)).find(|p| p.is_file());
        let path = found.ok_or("there is no such file in this checkout")?;
        if std::fs::metadata(&path).map_err(|e| e.to_string())?.len() > workflow::MAX_FILE_BYTES as u64 {
            return Err(format!("larger than {} KiB", workflow::MAX_FILE_BYTES >> 10));
        }
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    };
    workflow::inline_calls(w, &read).map_err(|e| workflow::Error(format!("{}: {e}", file.display())))
}

pub fn describe(file: &str, w: &workflow::Workflow) -> String {
    let mut events = Vec::new();
    if let Some(p) = &w.on.push {
        let mut filters = Vec::new();
        if !p.branches.is_empty() {
            filters.push(format!("branches: {}", p.branches.join(", ")));
        }
        if !p.branches_ignore.is_empty() {
            filters.push(format!("branches-ignore: {}", p.branches_ignore.join(", ")));
        }
        if !p.tags.is_empty() {
            filters.push(format!("tags: {}", p.tags.join(", ")));
        }
        events.push(if filters.is_empty() {
            "push".to_string()
        } else {
            format!("push ({})", filters.join("; "))
        });
    }
    if w.on.workflow_dispatch {
        let inputs: Vec<String> =
            w.on.inputs
                .iter()
                .map(|i| {
                    let kind = match &i.kind {
                        workflow::InputKind::String => "string".to_string(),
                        workflow::InputKind::Boolean => "boolean".into(),
                        workflow::InputKind::Number => "number".into(),
                        workflow::InputKind::Choice(o) => format!("choice of {}", o.join("|")),
                    };
                    let required = if i.required { ", required" } else { "" };
                    format!("{} ({kind}{required})", i.name)
                })
                .collect();
        events.push(if inputs.is_empty() {
            "workflow_dispatch".into()
        } else {
            format!("workflow_dispatch (inputs: {})", inputs.join(", "))
        });
    }
    if !w.on.schedule.is_empty() {
        let crons: Vec<&str> = w.on.schedule.iter().map(|c| c.text.as_str()).collect();
        events.push(format!("schedule ({} UTC)", crons.join("; ")));
    }
    let mut notes = Vec::new();
    for (name, filter) in [
        ("pull_request", &w.on.pull_request),
        ("pull_request_target", &w.on.pull_request_target),
    ] {
        let Some(f) = filter else { continue };
        let mut filters = Vec::new();
        for (key, list) in [
            ("branches", &f.branches),
            ("branches-ignore", &f.branches_ignore),
            ("paths", &f.paths),
            ("paths-ignore", &f.paths_ignore),
            ("types", &f.types),
        ] {
            if !list.is_empty() {
                filters.push(format!("{key}: {}", list.join(", ")));
            }
        }
        events.push(if filters.is_empty() {
            name.to_string()
        } else {
            format!("{name} ({})", filters.join("; "))
        });
        if name == "pull_request_target" {
            notes.push(format!(
                "  note: {name} is accepted but starts no runs here: pull requests come from branches of the same repository; use pull_request\n"
            ));
        }
        let unsent: Vec<&str> = f
            .types
            .iter()
            .map(String::as_str)
            .filter(|t| !crate::github::PULL_REQUEST_ACTIONS.contains(t))
            .collect();
        if name == "pull_request" && !unsent.is_empty() {
            notes.push(format!(
                "  note: pull_request types {} are not sent by this Hearth (it sends {})\n",
                unsent.join(", "),
                crate::github::PULL_REQUEST_ACTIONS.join(", ")
            ));
        }
    }
    for j in &w.jobs {
        // Labels written plainly are known now; expressions are evaluated when the job starts.
        let plain: Vec<String> = j.runs_on.iter().filter(|l| !l.contains("${{")).cloned().collect();
        if let Some(why) = j.unsupported.clone().or_else(|| workflow::no_runner(&plain)) {
            notes.push(format!("  note: job {} is skipped: {why}\n", j.key));
        }
    }
    let mut out = format!(
        "{file}: workflow {:?} on {}\n",
        w.name.as_deref().unwrap_or(file),
        events.join(", ")
    );
    for note in notes {
        out.push_str(&note);
    }
    if let Some(c) = &w.concurrency {
        out.push_str(&format!("  {}\n", concurrency(c)));
    }
    for j in &w.jobs {
        let steps = j.steps.len();
        out.push_str(&format!(
            "  job {} {:?}: {steps} step{}",
            j.key,
            j.name,
            if steps == 1 { "" } else { "s" }
        ));
        if !j.needs.is_empty() {
            out.push_str(&format!(", needs {}", j.needs.join(", ")));
        }
        out.push_str(&format!(", timeout {}s", j.timeout_seconds));
        if let Some(e) = &j.environment {
            out.push_str(&format!(", environment {}", e.name));
            if let Some(url) = &e.url {
                out.push_str(&format!(" ({url})"));
            }
        }
        if let Some(c) = &j.continue_on_error {
            out.push_str(&format!(", continue-on-error {c}"));
        }
        if let Some(c) = &j.concurrency {
            out.push_str(&format!(", {}", concurrency(c)));
        }
        if let Some(p) = &j.permissions {
            out.push_str(&format!(", permissions {}", p.granted()));
        }
        if let Some(s) = j.strategy.as_ref().filter(|s| s.job_index == 0) {
            out.push_str(&format!(", fail-fast {}", s.fail_fast));
            if let Some(n) = s.max_parallel {
                out.push_str(&format!(", max-parallel {n}"));
            }
        }
        out.push('\n');
    }
    out
}

fn concurrency(c: &workflow::Concurrency) -> String {
    format!(
        "concurrency {:?}{}",
        c.group,
        if c.cancel_in_progress {
            ", cancel-in-progress"
        } else {
            ""
        }
    )
}
