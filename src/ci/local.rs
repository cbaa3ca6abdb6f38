//! `hearth ci run`: the workflows of a checkout, run on this machine by the
//! executor the server uses. Each job gets a fresh workspace holding the
//! working tree as it is (uncommitted changes and new files included,
//! ignored files left out); logs go to the terminal.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use super::executor::{self, LogWriter, Record, RunInfo, Work};
use super::sandbox::Sandbox;
use super::workflow;
use crate::db::runs::{Job, JobId, RunId, RunNumber};
use crate::error::{Context, Error, Result};
use crate::state::{self, Conclusion, Status};

/// Runs the workflows of the checkout around `dir` (only job `only` and
/// what it needs, when given). Returns how many jobs failed.
pub async fn run(dir: &Path, only: Option<&str>, sandbox: &Sandbox) -> Result<usize> {
    let repo = gix::discover(dir).map_err(|e| Error::invalid(format!("not in a git checkout: {e}")))?;
    let root = repo
        .workdir()
        .ok_or_else(|| Error::invalid("a bare repository has no working tree to run"))?
        .to_path_buf();
    // Absolute, so the workspace is named after the checkout's folder.
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let files = super::local_workflows(&root);
    if files.is_empty() {
        return Err(Error::invalid(
            "no workflow files here (.hearth/workflows/*.yml or .github/workflows/*.yml)",
        ));
    }
    let mut workflows = Vec::new();
    for path in &files {
        let name = path.strip_prefix(&root).unwrap_or(path).display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::invalid(format!("{name}: {e}")))?;
        let mut w = workflow::parse(&name, &text).map_err(|e| Error::Invalid(e.to_string()))?;
        super::inline_local(path, &mut w).map_err(|e| Error::Invalid(e.to_string()))?;
        workflows.push((name, w));
    }
    if let Some(key) = only
        && !workflows.iter().any(|(_, w)| w.jobs.iter().any(|j| j.key == key))
    {
        let keys: Vec<&str> = workflows
            .iter()
            .flat_map(|(_, w)| w.jobs.iter().map(|j| j.key.as_str()))
            .collect();
        return Err(Error::invalid(format!(
            "no job {key:?} in this checkout's workflows (jobs: {})",
            keys.join(", ")
        )));
    }
    let (sha, branch) = head_of(&repo);
    let tree = {
        let root = root.clone();
        crate::error::blocking("listing the working tree", move || working_tree_files(&root)).await??
    };
    // The first Ctrl-C stops the running step (its always() steps still run)
    // and starts no further job; a second one leaves at once.
    let stop = Arc::new(Stop::default());
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if stop.stopped.swap(true, Ordering::SeqCst) {
                    std::process::exit(130);
                }
                eprintln!("Hearth: stopping (Ctrl-C again to quit at once)");
                stop.cancel.notify_one();
            }
        });
    }
    let scratch_root = std::env::temp_dir().join(format!("hearth-ci-run-{}", std::process::id()));
    let mut failed = 0;
    for (i, (name, w)) in workflows.iter().enumerate() {
        if stop.stopped.load(Ordering::SeqCst) {
            break;
        }
        let wanted = match only {
            Some(key) => with_needs(w, key),
            None => w.jobs.iter().map(|j| j.key.clone()).collect(),
        };
        if wanted.is_empty() {
            continue;
        }
        let info = RunInfo {
            sha: sha.clone(),
            full_ref: if branch.is_empty() {
                String::new()
            } else {
                format!("refs/heads/{branch}")
            },
            branch: branch.clone(),
            repository: root
                .file_name()
                .map(|n| format!("local/{}", n.to_string_lossy()))
                .unwrap_or_default(),
            owner: "local".into(),
            run_id: RunId(0),
            run_number: RunNumber(0),
            event: "push".into(),
            server_url: String::new(),
            pull: None,
            workflow: w.name.clone().unwrap_or_else(|| name.clone()),
            inputs: serde_json::json!({}),
        };
        println!("Hearth: workflow {} ({name})", info.workflow);
        // Each workflow is a run of its own, with its own artifacts.
        let scratch = scratch_root.join(format!("run-{i}"));
        let place = Place {
            root: &root,
            tree: &tree,
            scratch: &scratch,
            sandbox,
        };
        failed += run_workflow(w, &wanted, &info, &place, &stop).await?;
    }
    let _ = std::fs::remove_dir_all(&scratch_root);
    Ok(failed)
}

/// Ctrl-C: the signal to the running step, and whether to start no more jobs.
#[derive(Default)]
struct Stop {
    cancel: Notify,
    stopped: AtomicBool,
}

/// Where a local run works: the checkout, its files, and a scratch folder.
#[derive(Clone, Copy)]
struct Place<'a> {
    root: &'a Path,
    tree: &'a [PathBuf],
    scratch: &'a Path,
    sandbox: &'a Sandbox,
}

/// Job `key` and every job it needs, directly or not.
fn with_needs(w: &workflow::Workflow, key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut todo = vec![key.to_string()];
    while let Some(k) = todo.pop() {
        if out.contains(&k) {
            continue;
        }
        if let Some(j) = w.jobs.iter().find(|j| j.key == k) {
            todo.extend(j.needs.iter().cloned());
            out.push(k);
        }
    }
    out
}

/// Runs the jobs `wanted` of `w` one after another in the order of their
/// needs; returns how many failed.
async fn run_workflow(
    w: &workflow::Workflow,
    wanted: &[String],
    info: &RunInfo,
    place: &Place<'_>,
    stop: &Stop,
) -> Result<usize> {
    let Place {
        root,
        tree,
        scratch: scratch_root,
        sandbox,
    } = *place;
    let cancel = &stop.cancel;
    // The jobs as the trigger makes them for the server, kept in memory, so
    // needs and contexts work the same.
    let mut jobs: Vec<Job> = super::trigger::jobs_of(w)
        .map_err(Error::internal)?
        .into_iter()
        .filter(|j| wanted.contains(&j.key))
        .enumerate()
        .map(|(i, new)| Job {
            id: JobId(i as i64 + 1),
            run_id: RunId(0),
            key: new.key,
            name: new.name,
            needs: new.needs,
            spec: new.spec,
            status: Status::Queued,
            conclusion: None,
            started_at: None,
            completed_at: None,
            outputs: "{}".into(),
            concurrency: None,
            cancel_requested: false,
            allowed_failure: false,
        })
        .collect();
    let mut failed = 0;
    while let Some(i) = jobs.iter().position(|j| {
        !stop.stopped.load(Ordering::SeqCst)
            && j.status == Status::Queued
            && j.needs.iter().all(|n| {
                jobs.iter()
                    .filter(|s| workflow::is_of(&s.key, n))
                    .all(|s| !s.status.is_open())
            })
    }) {
        let spec: workflow::Job = serde_json::from_str(&jobs[i].spec).context("reading a job's definition")?;
        if spec.matrix_from.is_some() {
            LogWriter::console(format!("[{}] ", spec.name))
                .line("Hearth: a matrix from an expression runs on the server; hearth ci run does not expand it yet");
            jobs[i].status = Status::Completed;
            jobs[i].conclusion = Some(Conclusion::Failure);
            failed += 1;
            continue;
        }
        let mut writer = LogWriter::console(format!("[{}] ", spec.name));
        let env = spec.env.clone();
        let mut contexts = executor::contexts(info, &spec, &jobs, &env);
        let go = executor::wanted_by(&spec, &jobs, &contexts).unwrap_or_else(|e| {
            writer.line(&format!("Hearth: if: {e}"));
            false
        });
        let refused = go.then(|| executor::cannot_run(&spec, &contexts)).flatten();
        if !go || refused.is_some() {
            writer.line(&match refused {
                Some(why) => format!("Hearth: skipped: {why}"),
                None => "Hearth: skipped".into(),
            });
            jobs[i].status = Status::Completed;
            jobs[i].conclusion = Some(Conclusion::Skipped);
            continue;
        }
        let (work, copied) = {
            let (root, tree, job_root, sandbox) = (
                root.to_path_buf(),
                tree.to_vec(),
                scratch_root.join(format!("job-{}", jobs[i].id)),
                sandbox.clone(),
            );
            let name = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            crate::error::blocking("copying the working tree", move || -> Result<(Work, usize)> {
                let mut work = Work::create(&job_root, &name)?;
                let copied = copy_files(&root, &tree, &work.workspace);
                if copied.is_ok() {
                    work.hand_over(&sandbox)?;
                }
                match copied {
                    Ok(n) => Ok((work, n)),
                    Err(e) => {
                        work.remove();
                        Err(e)
                    }
                }
            })
            .await??
        };
        writer.line(&format!("Hearth: workspace holds the working tree ({copied} files)"));
        let mut env = executor::job_env(info, &spec, &work);
        contexts["env"] = serde_json::to_value(&env).unwrap_or_default();
        let actions = super::uses::Sources::new(
            None,
            scratch_root.join("actions"),
            std::env::var("HEARTH_ACTIONS_URL").ok(),
        );
        let with = executor::RunWith {
            work: &work,
            actions: &actions,
            owner: None,
            sandbox,
            cgroups: &crate::ci::cgroup::Cgroups::none("hearth ci run sets none"),
            cancel,
            record: Record::Local {
                store: scratch_root.join("artifacts"),
            },
            limits: &crate::config::CiLimits::default(),
        };
        let done = executor::run_steps(&spec, &mut env, &mut contexts, &mut writer, with).await;
        work.remove();
        let done = done?;
        let job = &mut jobs[i];
        job.status = Status::Completed;
        job.conclusion = Some(done.conclusion);
        job.outputs = serde_json::Value::Object(done.outputs).to_string();
        job.allowed_failure = state::forgiven(done.conclusion, done.allowed_to_fail);
        if !job.allowed_failure && (done.conclusion.failed() || done.conclusion == Conclusion::Cancelled) {
            failed += 1;
        }
    }
    Ok(failed)
}

/// HEAD's commit id and branch, or zeros and "" before the first commit.
fn head_of(repo: &gix::Repository) -> (String, String) {
    let sha = repo
        .head_id()
        .map(|id| id.to_string())
        .unwrap_or_else(|_| crate::db::ref_updates::ZERO_ID.to_string());
    let branch = repo
        .head_name()
        .ok()
        .flatten()
        .map(|n| n.shorten().to_string())
        .unwrap_or_default();
    (sha, branch)
}

/// The files of the working tree, tracked or not, less what is ignored
/// (relative paths), read with gix.
fn working_tree_files(root: &Path) -> Result<Vec<PathBuf>> {
    let repo = gix::open(root).with_context(|| format!("opening {}", root.display()))?;
    let index = repo.index_or_empty().context("reading the index")?;
    let options = repo
        .dirwalk_options()
        .context("dirwalk")?
        .emit_tracked(true)
        .emit_untracked(gix::dir::walk::EmissionMode::Matching)
        .emit_ignored(None)
        .recurse_repositories(false);
    let mut files = Vec::new();
    let walk = repo
        .dirwalk_iter(index, None::<&str>, Default::default(), options)
        .context("dirwalk")?;
    for item in walk {
        let item = item.context("dirwalk")?;
        let e = item.entry;
        let is_file = matches!(
            e.disk_kind,
            Some(gix::dir::entry::Kind::File | gix::dir::entry::Kind::Symlink)
        );
        if is_file
            && matches!(
                e.status,
                gix::dir::entry::Status::Tracked | gix::dir::entry::Status::Untracked
            )
        {
            files.push(PathBuf::from(e.rela_path.to_string()));
        }
    }
    files.sort();
    Ok(files)
}

/// Copies `files` (relative to `root`) into `to`; returns how many.
fn copy_files(root: &Path, files: &[PathBuf], to: &Path) -> Result<usize> {
    let mut n = 0;
    for rel in files {
        if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            continue;
        }
        let (from, dest) = (root.join(rel), to.join(rel));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let meta = match std::fs::symlink_metadata(&from) {
            Ok(m) => m,
            // Deleted since the walk, or a tracked file removed from the tree.
            Err(_) => continue,
        };
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &dest)?;
        } else {
            std::fs::copy(&from, &dest)?;
        }
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_comes_with_what_it_needs() {
        let w = workflow::parse(
            "t.yml",
            "on: push\njobs:\n  a: {steps: [{run: 'true'}]}\n  b: {needs: a, steps: [{run: 'true'}]}\n  c: {needs: b, steps: [{run: 'true'}]}\n  d: {steps: [{run: 'true'}]}\n",
        )
        .unwrap();
        let mut got = with_needs(&w, "c");
        got.sort();
        assert_eq!(got, ["a", "b", "c"]);
        assert_eq!(with_needs(&w, "d"), ["d"]);
    }
}
