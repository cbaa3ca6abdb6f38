//! Turning pushes into runs. Each recorded ref update is handled once: the
//! runs of every workflow whose `on.push` matches are inserted in the same
//! transaction that marks the update handled, so a crash never loses or
//! duplicates a run. A workflow that does not parse gives a run that fails
//! at once with the parse error. Deleted refs trigger nothing.

use std::collections::BTreeMap;
use std::path::Path;

use super::{expr, workflow};
use crate::data_dir::DataDir;
use crate::db::ref_updates::ZERO_ID;
use crate::db::runs::{self, NewJob, NewRun};
use crate::db::{self, Db};
use crate::error::{Context, Error, Result};
use crate::git::read::{self, Found};

/// The workflow files at `commit`: `.hearth/workflows/*.yml`, or where that
/// folder is absent, `.github/workflows/*.yml`.
pub fn workflow_files(repo: &gix::Repository, commit: gix::ObjectId) -> Result<Vec<(String, Result<String, String>)>> {
    for dir in [".hearth/workflows", ".github/workflows"] {
        let Some(Found::Dir(entries)) = read::lookup(repo, commit, dir)? else {
            continue;
        };
        let mut files = Vec::new();
        for e in entries {
            let is_yaml = e.name.ends_with(".yml") || e.name.ends_with(".yaml");
            if !is_yaml || e.kind != read::EntryKind::File {
                continue;
            }
            let path = format!("{dir}/{}", e.name);
            let text = if e.size.unwrap_or(0) > workflow::MAX_FILE_BYTES as u64 {
                Err(format!(
                    "{path}: the file is larger than {} KiB",
                    workflow::MAX_FILE_BYTES >> 10
                ))
            } else {
                let data = read::blob_data(repo, e.id)?;
                String::from_utf8(data).map_err(|_| format!("{path}: the file is not UTF-8 text"))
            };
            files.push((path, text));
        }
        return Ok(files);
    }
    Ok(Vec::new())
}

/// Workflow `path` (its text `text`) of `commit`, with the reusable
/// workflows it calls (`uses: ./.github/workflows/x.yml`, read from the same
/// commit) in place of the jobs that call them.
pub fn parse_at(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    path: &str,
    text: &str,
) -> std::result::Result<workflow::Workflow, String> {
    let mut w = workflow::parse(path, text).map_err(|e| e.to_string())?;
    if w.jobs.iter().any(|j| j.call.is_some()) {
        let read = |file: &str| -> std::result::Result<String, String> {
            match read::lookup(repo, commit, file) {
                Ok(Some(Found::File { id, size, .. })) if size <= workflow::MAX_FILE_BYTES as u64 => {
                    let data = read::blob_data(repo, id).map_err(|e| e.to_string())?;
                    String::from_utf8(data).map_err(|_| "the file is not UTF-8 text".to_string())
                }
                Ok(Some(Found::File { .. })) => Err(format!("larger than {} KiB", workflow::MAX_FILE_BYTES >> 10)),
                Ok(_) => Err("there is no such file at this commit".into()),
                Err(e) => Err(e.to_string()),
            }
        };
        workflow::inline_calls(&mut w, &read).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(w)
}

/// What a run is made from: its repository, commit, ref and event.
pub struct Origin<'a> {
    pub repo: &'a db::repos::Repo,
    pub sha: &'a str,
    /// The full ref name, e.g. `refs/heads/main`.
    pub ref_name: &'a str,
    pub event: &'a str,
    pub inputs: serde_json::Value,
    /// More of `github` (a pull request's `event`, `head_ref`, `base_ref`).
    pub extra: serde_json::Value,
}

impl Origin<'_> {
    /// The short name of the ref: the branch or the tag.
    fn short_ref(&self) -> &str {
        self.ref_name
            .strip_prefix("refs/heads/")
            .or_else(|| self.ref_name.strip_prefix("refs/tags/"))
            .unwrap_or(self.ref_name)
    }

    /// The contexts known before a run exists: `github` and `inputs`.
    fn contexts(&self, workflow: &str) -> serde_json::Value {
        let mut values = serde_json::json!({
            "github": {
                "sha": self.sha,
                "ref": self.ref_name,
                "ref_name": self.short_ref(),
                "repository": self.repo.full_name(),
                "repository_owner": self.repo.owner,
                "event_name": self.event,
                "workflow": workflow,
            },
            "inputs": self.inputs,
            "env": {}, "vars": {}, "matrix": {},
        });
        if let serde_json::Value::Object(more) = &self.extra {
            for (k, v) in more {
                values["github"][k] = v.clone();
            }
        }
        values
    }

    /// The run of workflow `w` (file `path`), its concurrency groups
    /// evaluated; an expression that fails makes a run that fails with why.
    pub fn run_of(&self, path: &str, w: &workflow::Workflow) -> Result<NewRun> {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let name = w.name.clone().unwrap_or(file_name.to_string());
        let mut values = self.contexts(&name);
        let group = |c: &workflow::Concurrency, values: &serde_json::Value| {
            let ctx = expr::Context::new(values, expr::Status::Success);
            expr::interpolate(&c.group, &ctx).map(|group| runs::Concurrency {
                group,
                cancel_in_progress: c.cancel_in_progress,
            })
        };
        let mut run = self.new_run(path, name.clone(), None);
        let evaluated = (|| -> std::result::Result<(), String> {
            run.concurrency = w
                .concurrency
                .as_ref()
                .map(|c| group(c, &values))
                .transpose()
                .map_err(|e| format!("concurrency: {e}"))?;
            run.jobs = jobs_of(w)?;
            for (job, spec) in run.jobs.iter_mut().zip(&w.jobs) {
                values["matrix"] = serde_json::to_value(&spec.matrix).unwrap_or_default();
                if let Some(s) = &spec.strategy
                    && (s.fail_fast_if.is_some() || s.max_parallel_if.is_some())
                {
                    let evaluated =
                        strategy_values(s, &values).map_err(|e| format!("jobs.{}.strategy.{e}", spec.key))?;
                    let mut spec = spec.clone();
                    spec.strategy = Some(evaluated);
                    job.spec = serde_json::to_string(&spec).map_err(|e| format!("job spec: {e}"))?;
                }
                if spec.name.contains("${{") {
                    // A name that says which instance it is: `${{ matrix.name }}`.
                    let ctx = expr::Context::new(&values, expr::Status::Success);
                    job.name =
                        expr::interpolate(&spec.name, &ctx).map_err(|e| format!("jobs.{}.name: {e}", spec.key))?;
                }
                if let Some(c) = &spec.concurrency {
                    job.concurrency =
                        Some(group(c, &values).map_err(|e| format!("jobs.{}.concurrency: {e}", spec.key))?);
                }
            }
            Ok(())
        })();
        Ok(match evaluated {
            Ok(()) => run,
            Err(e) => self.new_run(path, name, Some(format!("{path}: {e}"))),
        })
    }

    /// An empty run; `error` set makes one that fails at once with it.
    pub fn new_run(&self, path: &str, name: String, error: Option<String>) -> NewRun {
        NewRun {
            workflow: path.to_string(),
            name,
            head_sha: self.sha.to_string(),
            head_branch: self.short_ref().to_string(),
            error,
            jobs: Vec::new(),
            concurrency: None,
            inputs: self.inputs.to_string(),
            pull: None,
        }
    }
}

/// `fail-fast` and `max-parallel` written as expressions, evaluated with
/// what is known when the run is made (`github`, `inputs`).
fn strategy_values(
    s: &workflow::Strategy,
    values: &serde_json::Value,
) -> std::result::Result<workflow::Strategy, String> {
    let ctx = expr::Context::new(values, expr::Status::Success);
    let mut out = s.clone();
    if let Some(c) = out.fail_fast_if.take() {
        out.fail_fast = expr::condition(&c, &ctx).map_err(|e| format!("fail-fast: {e}"))?;
    }
    if let Some(m) = out.max_parallel_if.take() {
        let text = expr::interpolate(&m, &ctx).map_err(|e| format!("max-parallel: {e}"))?;
        let n: u32 = text
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or_else(|| format!("max-parallel: {text:?} is not a number from 1 to 256"))?;
        out.max_parallel = Some(n);
    }
    Ok(out)
}

/// The runs a ref update (from `old_id` to `origin.sha`) starts.
fn runs_for(repo_dir: &Path, origin: &Origin, old_id: &str) -> Result<Vec<NewRun>> {
    if origin.sha == ZERO_ID {
        return Ok(Vec::new());
    }
    let repo = crate::git::open(repo_dir)?;
    let commit = gix::ObjectId::from_hex(origin.sha.as_bytes()).context("ref update id")?;
    let mut out = Vec::new();
    // The files the push changed, found once and only for a workflow with paths filters.
    let mut changed: Option<Option<Vec<String>>> = None;
    for (path, text) in workflow_files(&repo, commit)? {
        let file_name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let parsed = text.and_then(|t| parse_at(&repo, commit, &path, &t));
        let w = match parsed {
            Err(message) => {
                out.push(origin.new_run(&path, file_name, Some(message)));
                continue;
            }
            Ok(w) => w,
        };
        let files = match workflow::filters_paths(&w) {
            false => None,
            true => changed
                .get_or_insert_with(|| changed_files(&repo, old_id, commit, origin.ref_name))
                .as_deref(),
        };
        if workflow::runs_on_push(&w, origin.ref_name, files) {
            out.push(origin.run_of(&path, &w)?);
        }
    }
    Ok(out)
}

/// The files changed by a push of branch `ref_name` from `old_id` to
/// `new`; a new branch is compared with the default branch. `None` when
/// not known (no base to compare with, or more files than is worth
/// looking at): then paths filters let the push through.
fn changed_files(repo: &gix::Repository, old_id: &str, new: gix::ObjectId, ref_name: &str) -> Option<Vec<String>> {
    const MAX_FILES: usize = 3000;
    let base = match old_id {
        ZERO_ID => {
            let head = repo.head_ref().ok().flatten()?;
            if head.name().as_bstr() == ref_name {
                return None;
            }
            head.id().detach()
        }
        old => gix::ObjectId::from_hex(old.as_bytes()).ok()?,
    };
    read::changed_paths(repo, base, new, MAX_FILES)
        .inspect_err(|e| tracing::warn!("files changed from {base} to {new}: {e}"))
        .ok()
        .flatten()
}

/// The jobs of a run of `w`, as the executor reads them.
pub(super) fn jobs_of(w: &workflow::Workflow) -> std::result::Result<Vec<NewJob>, String> {
    let mut jobs = Vec::new();
    for job in &w.jobs {
        let mut spec = job.clone();
        // Workflow-level env is the base of each job's (a called
        // workflow's jobs have their own workflow's).
        if spec.called.is_none() {
            for (k, v) in &w.env {
                spec.env.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        jobs.push(new_job(&spec)?);
    }
    Ok(jobs)
}

/// Job `spec` as the executor reads it.
pub(super) fn new_job(spec: &workflow::Job) -> std::result::Result<NewJob, String> {
    Ok(NewJob {
        key: spec.key.clone(),
        name: spec.name.clone(),
        needs: spec.needs.clone(),
        spec: serde_json::to_string(spec).map_err(|e| format!("job spec: {e}"))?,
        steps: spec.steps.iter().map(|s| s.name.clone()).collect(),
        concurrency: None,
    })
}

/// A workflow to start by hand: its file, the ref and commit it runs on.
pub struct Target {
    pub path: String,
    pub ref_name: String,
    pub sha: String,
    pub workflow: workflow::Workflow,
}

/// Workflow `file` (a file name in the workflows folder) at branch or tag
/// `rev`, which must have a `workflow_dispatch` trigger.
pub async fn dispatch_target(data: &DataDir, repo: &db::repos::Repo, file: &str, rev: &str) -> Result<Target> {
    if file.is_empty() || file.contains('/') || !(file.ends_with(".yml") || file.ends_with(".yaml")) {
        return Err(Error::invalid("name the workflow by its file name, e.g. ci.yml"));
    }
    let dir = data.repo(&repo.owner, &repo.name);
    let (file, rev) = (file.to_string(), rev.to_string());
    crate::error::blocking("dispatch task", move || -> Result<Target> {
        let refs = crate::git::list_refs(&dir)?;
        let (ref_name, sha) = [format!("refs/heads/{rev}"), format!("refs/tags/{rev}")]
            .into_iter()
            .find_map(|r| refs.get(&r).cloned().map(|sha| (r, sha)))
            .ok_or_else(|| Error::invalid(format!("there is no branch or tag {rev:?}")))?;
        let git = crate::git::open(&dir)?;
        let commit = gix::ObjectId::from_hex(sha.as_bytes()).context("ref id")?;
        let (path, text) = workflow_files(&git, commit)?
            .into_iter()
            .find(|(path, _)| path.rsplit('/').next() == Some(file.as_str()))
            .ok_or(Error::NotFound)?;
        let text = text.map_err(Error::Invalid)?;
        let w = parse_at(&git, commit, &path, &text).map_err(Error::Invalid)?;
        if !w.on.workflow_dispatch {
            return Err(Error::invalid(format!("{path} has no workflow_dispatch trigger")));
        }
        Ok(Target {
            path,
            ref_name,
            sha,
            workflow: w,
        })
    })
    .await?
}

/// The workflows at commit `sha` of the repository at `dir` that parse,
/// with their paths. Those that do not failed their push's run already.
pub fn parsed_workflows(dir: &Path, sha: &str) -> Result<Vec<(String, workflow::Workflow)>> {
    let repo = crate::git::open(dir)?;
    let commit = gix::ObjectId::from_hex(sha.as_bytes()).context("ref id")?;
    Ok(workflow_files(&repo, commit)?
        .into_iter()
        .filter_map(|(path, text)| {
            let w = parse_at(&repo, commit, &path, &text.ok()?).ok()?;
            Some((path, w))
        })
        .collect())
}

/// The workflows on the default branch that can be started by hand: file
/// name and workflow name. Workflows that do not parse are left out.
pub async fn dispatchable(data: &DataDir, repo: &db::repos::Repo) -> Result<Vec<(String, String)>> {
    let dir = data.repo(&repo.owner, &repo.name);
    let branch = format!("refs/heads/{}", repo.default_branch);
    crate::error::blocking("dispatch task", move || -> Result<Vec<(String, String)>> {
        let Some(sha) = crate::git::list_refs(&dir)?.get(&branch).cloned() else {
            return Ok(Vec::new());
        };
        Ok(parsed_workflows(&dir, &sha)?
            .into_iter()
            .filter(|(_, w)| w.on.workflow_dispatch)
            .map(|(path, w)| {
                let file = path.rsplit('/').next().unwrap_or(&path).to_string();
                (file.clone(), w.name.unwrap_or(file))
            })
            .collect())
    })
    .await?
}

/// Starts workflow `file` on branch or tag `rev` by hand
/// (`workflow_dispatch`) with `inputs` (names to text); returns the run's
/// number.
pub async fn dispatch(
    db: &Db,
    data: &DataDir,
    repo: &db::repos::Repo,
    file: &str,
    rev: &str,
    inputs: &BTreeMap<String, String>,
) -> Result<runs::RunNumber> {
    let target = dispatch_target(data, repo, file, rev).await?;
    let inputs = workflow::resolve_inputs(&target.workflow.on.inputs, inputs).map_err(Error::Invalid)?;
    let origin = Origin {
        repo,
        sha: &target.sha,
        ref_name: &target.ref_name,
        event: "workflow_dispatch",
        inputs: serde_json::Value::Object(inputs),
        extra: serde_json::Value::Null,
    };
    let new_run = origin.run_of(&target.path, &target.workflow)?;
    let id = repo.id;
    db.write(move |tx| runs::insert_run(tx, id, None, "workflow_dispatch", &new_run))
        .await
}

/// A run made from a push: its repository, number and workflow file.
#[derive(Debug, Clone)]
pub struct Created {
    pub repo: db::repos::RepoId,
    pub number: runs::RunNumber,
    pub workflow: String,
}

/// The runs a pull request event starts: the workflows of its test merge
/// (what the runs check out) whose `on: pull_request` matches. A pull
/// request that conflicts has no test merge and starts none, as on GitHub.
fn runs_for_pull(
    repo_dir: &Path,
    repo: &db::repos::Repo,
    pull: &db::pulls::Pull,
    event: &db::pulls::PullEvent,
    people: &crate::github::People,
) -> Result<Vec<NewRun>> {
    let Some(sha) = event
        .merge_sha
        .clone()
        .or_else(|| (event.action == "closed").then(|| event.head_sha.clone()))
    else {
        return Ok(Vec::new());
    };
    let git = crate::git::open(repo_dir)?;
    let commit = gix::ObjectId::from_hex(sha.as_bytes()).context("test merge id")?;
    let n = pull.number();
    let ref_name = format!("refs/pull/{n}/merge");
    let payload = crate::github::pull_request_event(repo, pull, &event.action, event.actor.as_deref(), people);
    let origin = Origin {
        repo,
        sha: &sha,
        ref_name: &ref_name,
        event: "pull_request",
        inputs: serde_json::json!({}),
        extra: serde_json::json!({
            "event": payload,
            "head_ref": pull.head_ref,
            "base_ref": pull.base_ref,
            "ref_name": format!("{n}/merge"),
        }),
    };
    let mut changed: Option<Option<Vec<String>>> = None;
    let mut out = Vec::new();
    for (path, text) in workflow_files(&git, commit)? {
        let file_name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let w = match text.and_then(|t| parse_at(&git, commit, &path, &t)) {
            Ok(w) => w,
            // A broken workflow fails the push's run already; a pull request
            // run is made only for a file that asks for pull requests.
            Err(message) if message.contains("pull_request") => {
                out.push(origin.new_run(&path, file_name, Some(message)));
                continue;
            }
            Err(_) => continue,
        };
        let files = match workflow::filters_pull_paths(&w) {
            false => None,
            true => changed
                .get_or_insert_with(|| {
                    let base = pull
                        .merge_base
                        .as_deref()
                        .and_then(|b| gix::ObjectId::from_hex(b.as_bytes()).ok())?;
                    let head = gix::ObjectId::from_hex(pull.head_sha.as_bytes()).ok()?;
                    read::changed_paths(&git, base, head, 3000).ok().flatten()
                })
                .as_deref(),
        };
        if workflow::runs_on_pull(&w, &event.action, &pull.base_ref, files) {
            out.push(origin.run_of(&path, &w)?);
        }
    }
    for run in &mut out {
        run.head_branch = pull.head_ref.clone();
        run.pull = Some(runs::PullRun {
            number: n.0,
            head_sha: event.head_sha.clone(),
            payload: origin.extra["event"].to_string(),
        });
    }
    Ok(out)
}

/// Handles every pull request event not handled yet; returns the runs made.
async fn process_pull_events(db: &Db, data: &DataDir) -> Result<Vec<Created>> {
    let mut made = Vec::new();
    loop {
        let pending = db.read(db::pulls::unhandled_events).await?;
        if pending.is_empty() {
            return Ok(made);
        }
        for event in pending {
            let (repo_id, issue, actor) = (event.repo, event.issue, event.actor.clone());
            let found = db
                .read(move |c| {
                    let Some(repo) = db::repos::by_id(c, repo_id)? else {
                        return Ok(None);
                    };
                    let Some((_, number)) = db::pulls::issue_by_id(c, issue)? else {
                        return Ok(None);
                    };
                    let Some(pull) = db::pulls::by_number(c, repo_id, number)? else {
                        return Ok(None);
                    };
                    let i = &pull.issue;
                    let names = [repo.owner.as_str(), i.author.as_str()]
                        .into_iter()
                        .chain(i.assignees.iter().map(String::as_str))
                        .chain(pull.merged_by.as_deref())
                        .chain(actor.as_deref());
                    let people = crate::github::People::load(c, names)?;
                    Ok(Some((repo, pull, people)))
                })
                .await?;
            let new_runs = match found {
                None => Vec::new(),
                Some((repo, pull, people)) => {
                    let dir = data.repo(&repo.owner, &repo.name);
                    let e = event.clone();
                    crate::error::blocking("trigger task", move || {
                        runs_for_pull(&dir, &repo, &pull, &e, &people).unwrap_or_else(|err| {
                            tracing::error!(
                                "workflows of pull request #{} of {}: {err}",
                                pull.number(),
                                repo.full_name()
                            );
                            Vec::new()
                        })
                    })
                    .await?
                }
            };
            let files: Vec<String> = new_runs.iter().map(|r| r.workflow.clone()).collect();
            let id = event.id;
            let numbers = db
                .write(move |tx| {
                    if !db::pulls::handle_event(tx, id)? {
                        return Ok(Vec::new());
                    }
                    new_runs
                        .iter()
                        .map(|run| runs::insert_run(tx, repo_id, None, "pull_request", run))
                        .collect::<Result<Vec<_>>>()
                })
                .await?;
            made.extend(numbers.into_iter().zip(files).map(|(number, workflow)| Created {
                repo: repo_id,
                number,
                workflow,
            }));
        }
    }
}

/// Handles every ref update and pull request event not handled yet;
/// returns the runs it made.
pub async fn process_pending(db: &Db, data: &DataDir) -> Result<Vec<Created>> {
    let mut made = process_pushes(db, data).await?;
    made.extend(process_pull_events(db, data).await?);
    Ok(made)
}

async fn process_pushes(db: &Db, data: &DataDir) -> Result<Vec<Created>> {
    let mut made = Vec::new();
    loop {
        let pending = db.read(runs::unhandled).await?;
        if pending.is_empty() {
            return Ok(made);
        }
        for (repo_id, update) in pending {
            let Some(repo) = db.read(move |c| db::repos::by_id(c, repo_id)).await? else {
                continue;
            };
            let dir = data.repo(&repo.owner, &repo.name);
            let u = update.clone();
            let new_runs = crate::error::blocking("trigger task", move || {
                let origin = Origin {
                    repo: &repo,
                    sha: &u.new_id,
                    ref_name: &u.ref_name,
                    event: "push",
                    inputs: serde_json::json!({}),
                    extra: serde_json::Value::Null,
                };
                runs_for(&dir, &origin, &u.old_id).unwrap_or_else(|e| {
                    tracing::error!("reading workflows of {}/{} at {}: {e}", repo.owner, repo.name, u.new_id);
                    Vec::new()
                })
            })
            .await?;
            let id = update.id;
            let files: Vec<String> = new_runs.iter().map(|r| r.workflow.clone()).collect();
            let numbers = db
                .write(move |tx| runs::create_runs(tx, repo_id, id, &new_runs))
                .await?;
            made.extend(numbers.into_iter().zip(files).map(|(number, workflow)| Created {
                repo: repo_id,
                number,
                workflow,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strategy_expressions_are_evaluated_when_the_run_is_made() {
        let w = super::workflow::parse(
            "w.yml",
            "on: push\njobs:\n  a:\n    strategy:\n      fail-fast: ${{ github.event_name != 'push' }}\n      max-parallel: ${{ github.ref_name == 'main' && 2 || 1 }}\n      matrix: {n: [1, 2, 3]}\n    steps: [{run: 'true'}]\n",
        )
        .unwrap();
        let s = w.jobs[0].strategy.clone().unwrap();
        assert!(s.fail_fast_if.is_some() && s.max_parallel_if.is_some());
        let values = serde_json::json!({"github": {"event_name": "push", "ref_name": "main"}});
        let done = super::strategy_values(&s, &values).unwrap();
        assert!(!done.fail_fast);
        assert_eq!(done.max_parallel, Some(2));
        let bad = serde_json::json!({"github": {"event_name": "push", "ref_name": "x"}, "inputs": {}});
        let mut s2 = s.clone();
        s2.max_parallel_if = Some("${{ 'lots' }}".into());
        assert!(super::strategy_values(&s2, &bad).unwrap_err().contains("not a number"));
        assert!(
            super::workflow::parse("w.yml", "on: push\njobs:\n  a:\n    strategy:\n      max-parallel: 0\n      matrix: {n: [1]}\n    steps: [{run: 'true'}]\n")
                .is_err()
        );
    }
}
