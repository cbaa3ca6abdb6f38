//! Delivery, the domain of environments and deployments: a deployment
//! job meets its environment's gate — the environment is made on first
//! use, its branch rules checked, the deployment recorded, held for its
//! reviewers, and let through one at a time once its wait timer has run;
//! reviewers approve or reject it — and environments' names, reviewers and
//! branch patterns are checked here for the pages and the API alike. The
//! rules are `state`'s; this applies them in one transaction each. Below
//! `ci`: the scheduler asks it, it asks nothing of CI.

use rusqlite::Connection;

use crate::db::environments::{self, BranchPolicy, DeploymentRow, EnvironmentId};
use crate::db::runs::{self, Job, Run};
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::glob;
use crate::state::{self, Conclusion, Deployment, Gate, Status};

/// Jobs whose deployments a newer one superseded: their run, the job, and
/// why, for their logs.
pub type Superseded = Vec<(crate::ids::RunId, crate::ids::JobId, String)>;

/// What the gate decided for a job, and what to tell its log.
pub enum Passage {
    /// Held, queued behind another deployment or its timer, or let through.
    Gate(Gate),
    /// Its branch may not deploy there: the job failed, for this reason.
    Refused(String),
}

/// Whether a run of `full_ref` may deploy to an environment with
/// `policies` (none: any may).
pub fn may_deploy(policies: &[BranchPolicy], full_ref: &str) -> bool {
    if policies.is_empty() {
        return true;
    }
    let (kind, name) = match (
        full_ref.strip_prefix("refs/heads/"),
        full_ref.strip_prefix("refs/tags/"),
    ) {
        (Some(branch), _) => ("branch", branch),
        (_, Some(tag)) => ("tag", tag),
        _ => return false,
    };
    policies.iter().any(|p| p.kind == kind && glob::matches(&p.name, name))
}

/// Job `job`, which deploys to `environment`, comes to its gate. A new
/// deployment supersedes the environment's older ones not started yet
/// (held for review, or waiting their turn): they are cancelled, and
/// returned so that their logs say why.
pub fn pass(conn: &Connection, job: &Job, environment: &str) -> Result<(Passage, Superseded)> {
    let mut superseded = Vec::new();
    let run = runs::run_by_id_any(conn, job.run_id)?.ok_or(Error::NotFound)?;
    let env = environments::get_or_create(conn, run.repo_id, environment)?;
    let deployment = match environments::deployment_of_job(conn, job.id)? {
        Some(d) => d,
        None => {
            let full_ref = crate::db::runs::full_ref(conn, &run)?;
            if !may_deploy(&environments::branch_policies(conn, env.id)?, &full_ref) {
                runs::finish_job(conn, job.id, Conclusion::Failure)?;
                let why = format!(
                    "{full_ref} may not deploy to the {} environment (its deployment branch rules)",
                    env.name
                );
                return Ok((Passage::Refused(why), superseded));
            }
            let reviewed = !environments::reviewers(conn, env.id)?.is_empty();
            let created = environments::create_deployment(
                conn,
                &env,
                run.id,
                job.id,
                &run.head_sha,
                &run.head_branch,
                state::deployment_created(reviewed),
            )?;
            for older in environments::not_started(conn, env.id, created.id)? {
                let why = format!("superseded by run #{} ({})", run.run_number, run.head_sha);
                environments::set_state(conn, older.id, Deployment::Cancelled, &why)?;
                runs::finish_job(conn, older.job_id, Conclusion::Cancelled)?;
                superseded.push((older.run_id, older.job_id, why));
            }
            created
        }
    };
    let busy = environments::busy(conn, env.id, deployment.id)?;
    let timer_done = crate::time::now() >= deployment.created_at + env.wait_timer * 60;
    let gate = state::gate(deployment.state, busy, timer_done);
    match gate {
        Gate::Hold => runs::hold_job(conn, job.id)?,
        Gate::Go if deployment.state != Deployment::InProgress => {
            environments::set_state(conn, deployment.id, Deployment::InProgress, "")?
        }
        _ => {}
    }
    Ok((Passage::Gate(gate), superseded))
}

/// A reviewer's decision on the deployments of run `run` held for
/// `environments`: approved, they go on; rejected, their jobs fail (and
/// what needs them is skipped). Someone who is not a reviewer of one of
/// them is refused; an environment with nothing held is a conflict (it was
/// decided already, or never waited).
pub fn review(
    conn: &Connection,
    run: &Run,
    environments_ids: &[EnvironmentId],
    reviewer: &User,
    approved: bool,
    comment: &str,
) -> Result<Vec<DeploymentRow>> {
    if environments_ids.is_empty() {
        return Err(Error::invalid("environment_ids: name at least one environment"));
    }
    let held = environments::waiting_in_run(conn, run.id)?;
    let mut decided = Vec::new();
    for env in environments_ids {
        let of_env: Vec<&DeploymentRow> = held.iter().filter(|d| d.environment_id == *env).collect();
        let Some(first) = of_env.first() else {
            return Err(Error::WrongState(format!(
                "run #{} has no deployment waiting for environment {env}: it was decided already, or never waited",
                run.run_number
            )));
        };
        if !environments::is_reviewer(conn, *env, reviewer.id)? {
            return Err(Error::Forbidden(format!(
                "{} is not a reviewer of the {} environment",
                reviewer.name, first.environment
            )));
        }
        for d in of_env {
            environments::add_review(conn, d.id, reviewer.id, approved, comment)?;
            let said = if comment.trim().is_empty() {
                format!(
                    "{} by {}",
                    if approved { "approved" } else { "rejected" },
                    reviewer.name
                )
            } else {
                format!(
                    "{} by {}: {}",
                    if approved { "approved" } else { "rejected" },
                    reviewer.name,
                    comment.trim()
                )
            };
            if approved {
                environments::set_state(conn, d.id, Deployment::Queued, &said)?;
                runs::release_job(conn, d.job_id)?;
            } else {
                environments::set_state(conn, d.id, Deployment::Rejected, &said)?;
                runs::finish_job(conn, d.job_id, Conclusion::Failure)?;
            }
            decided.push(environments::deployment(conn, run.repo_id, d.id)?.ok_or(Error::NotFound)?);
        }
    }
    Ok(decided)
}

/// At most this many reviewers per environment, as GitHub allows.
pub const MAX_REVIEWERS: usize = 6;
/// The longest wait timer, in minutes (30 days, as GitHub allows).
pub const MAX_WAIT_TIMER: i64 = 43_200;

/// An environment's name as given: 1 to 64 characters, no control ones.
pub fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::invalid("an environment name has 1 to 64 characters"));
    }
    Ok(name.to_string())
}

/// A reviewer must be able to push to the repository.
pub fn check_reviewer(conn: &Connection, repo: &crate::db::repos::Repo, user: &User) -> Result<()> {
    let can_write = user.id == repo.owner_id
        || crate::db::collaborators::permission(conn, repo.id, user.id)?
            .is_some_and(|p| p >= crate::db::collaborators::Permission::Write);
    if can_write {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "reviewers: {} cannot push to this repository",
            user.name
        )))
    }
}

/// A branch or tag pattern as given.
pub fn check_pattern(pattern: &str) -> Result<String> {
    let pattern = pattern.trim();
    if pattern.is_empty() || pattern.len() > 255 || pattern.chars().any(char::is_control) {
        return Err(Error::invalid("a branch or tag pattern has 1 to 255 characters"));
    }
    Ok(pattern.to_string())
}

/// Whether a job is held at its gate.
pub fn is_held(job: &Job) -> bool {
    job.status == Status::Waiting
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, kind: &str) -> BranchPolicy {
        BranchPolicy {
            id: 0,
            name: name.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn branch_rules() {
        assert!(may_deploy(&[], "refs/heads/anything"));
        let rules = [
            policy("main", "branch"),
            policy("release/*", "branch"),
            policy("v*", "tag"),
        ];
        assert!(may_deploy(&rules, "refs/heads/main"));
        assert!(may_deploy(&rules, "refs/heads/release/1.2"));
        assert!(
            !may_deploy(&rules, "refs/heads/release/1.2/hotfix"),
            "* stays within a segment"
        );
        assert!(!may_deploy(&rules, "refs/heads/feature"));
        assert!(may_deploy(&rules, "refs/tags/v1.0"));
        assert!(
            !may_deploy(&rules, "refs/heads/v1.0"),
            "a tag rule is not a branch rule"
        );
        assert!(!may_deploy(&rules, "refs/pull/1/merge"));
    }
}
