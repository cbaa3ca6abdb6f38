//! Turning pushes into runs. Each recorded ref update is handled once: the
//! runs of every workflow whose `on.push` matches are inserted in the same
//! transaction that marks the update handled, so a crash never loses or
//! duplicates a run. A workflow that does not parse gives a run that fails
//! at once with the parse error. Deleted refs trigger nothing.

use std::path::Path;

use super::workflow;
use crate::db::ref_updates::{RefUpdate, ZERO_ID};
use crate::db::runs::{self, NewJob, NewRun};
use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::git::read::{self, Found};
use crate::repos::repo_path;

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

/// The runs a ref update starts.
fn runs_for(repo_dir: &Path, update: &RefUpdate) -> Result<Vec<NewRun>> {
    if update.new_id == ZERO_ID {
        return Ok(Vec::new());
    }
    let repo = crate::git::open(repo_dir)?;
    let commit = gix::ObjectId::from_hex(update.new_id.as_bytes())
        .map_err(|e| Error::internal(format!("ref update id: {e}")))?;
    let branch = update
        .ref_name
        .strip_prefix("refs/heads/")
        .or_else(|| update.ref_name.strip_prefix("refs/tags/"))
        .unwrap_or(&update.ref_name)
        .to_string();
    let mut out = Vec::new();
    for (path, text) in workflow_files(&repo, commit)? {
        let file_name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let new = |name: String, error: Option<String>, jobs| NewRun {
            workflow: path.clone(),
            name,
            head_sha: update.new_id.clone(),
            head_branch: branch.clone(),
            error,
            jobs,
        };
        let parsed = text.and_then(|t| workflow::parse(&path, &t).map_err(|e| e.to_string()));
        match parsed {
            Err(message) => out.push(new(file_name.clone(), Some(message), Vec::new())),
            Ok(w) if workflow::runs_on_push(&w, &update.ref_name) => {
                out.push(new(w.name.clone().unwrap_or(file_name.clone()), None, jobs_of(&w)?));
            }
            Ok(_) => {}
        }
    }
    Ok(out)
}

/// The jobs of a run of `w`, as the executor reads them.
fn jobs_of(w: &workflow::Workflow) -> Result<Vec<NewJob>> {
    let mut jobs = Vec::new();
    for job in &w.jobs {
        let mut spec = job.clone();
        // Workflow-level env is the base of each job's.
        for (k, v) in &w.env {
            spec.env.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let steps = spec.steps.iter().map(|s| s.name.clone()).collect();
        let json = serde_json::to_string(&spec).map_err(|e| Error::internal(format!("job spec: {e}")))?;
        jobs.push(NewJob {
            key: job.key.clone(),
            name: job.name.clone(),
            needs: job.needs.clone(),
            spec: json,
            steps,
        });
    }
    Ok(jobs)
}

/// Starts workflow `file` (a file name in the workflows folder) on branch or
/// tag `rev` by hand (`workflow_dispatch`); returns the run's number.
pub async fn dispatch(db: &Db, repos_dir: &Path, repo: &db::repos::Repo, file: &str, rev: &str) -> Result<i64> {
    if file.is_empty() || file.contains('/') || !(file.ends_with(".yml") || file.ends_with(".yaml")) {
        return Err(Error::bad_request("name the workflow by its file name, e.g. ci.yml"));
    }
    let dir = repo_path(repos_dir, &repo.owner, &repo.name);
    let (file, rev) = (file.to_string(), rev.to_string());
    let new_run = tokio::task::spawn_blocking(move || -> Result<NewRun> {
        let refs = crate::git::list_refs(&dir)?;
        let sha = refs
            .get(&format!("refs/heads/{rev}"))
            .or_else(|| refs.get(&format!("refs/tags/{rev}")))
            .ok_or_else(|| Error::bad_request(format!("there is no branch or tag {rev:?}")))?
            .clone();
        let git = crate::git::open(&dir)?;
        let commit = gix::ObjectId::from_hex(sha.as_bytes()).map_err(|e| Error::internal(format!("ref id: {e}")))?;
        let (path, text) = workflow_files(&git, commit)?
            .into_iter()
            .find(|(path, _)| path.rsplit('/').next() == Some(file.as_str()))
            .ok_or(Error::NotFound)?;
        let text = text.map_err(Error::BadRequest)?;
        let w = workflow::parse(&path, &text).map_err(|e| Error::BadRequest(e.to_string()))?;
        if !w.on.workflow_dispatch {
            return Err(Error::bad_request(format!("{path} has no workflow_dispatch trigger")));
        }
        Ok(NewRun {
            name: w.name.clone().unwrap_or(file.clone()),
            jobs: jobs_of(&w)?,
            workflow: path,
            head_sha: sha,
            head_branch: rev,
            error: None,
        })
    })
    .await
    .map_err(|e| Error::internal(format!("dispatch task: {e}")))??;
    let id = repo.id;
    db.write(move |tx| runs::insert_run(tx, id, None, "workflow_dispatch", &new_run))
        .await
}

/// A run made from a push: its repository, number and workflow file.
#[derive(Debug, Clone)]
pub struct Created {
    pub repo: db::repos::RepoId,
    pub number: i64,
    pub workflow: String,
}

/// Handles every ref update not handled yet; returns the runs it made.
pub async fn process_pending(db: &Db, repos_dir: &Path) -> Result<Vec<Created>> {
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
            let dir = repo_path(repos_dir, &repo.owner, &repo.name);
            let u = update.clone();
            let new_runs = tokio::task::spawn_blocking(move || runs_for(&dir, &u))
                .await
                .map_err(|e| Error::internal(format!("trigger task: {e}")))?;
            let new_runs = match new_runs {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(
                        "reading workflows of {}/{} at {}: {e}",
                        repo.owner,
                        repo.name,
                        update.new_id
                    );
                    Vec::new()
                }
            };
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
