//! GitHub's shapes of Hearth's objects: users, repositories, issues,
//! comments, runs, jobs, deployments, releases, as GitHub's webhook
//! payloads and REST answers spell them (every `*_url` its clients follow),
//! so receivers and clients written for GitHub read them unchanged. One
//! owner of each shape: webhooks and the API both build them here.
//!
//! Checked against GitHub's published webhook schemas
//! (`@octokit/webhooks-schemas`) by `tests/webhooks.rs`.

use std::collections::HashMap;

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::ci::state::{Conclusion, Deployment, Status};
use crate::db;
use crate::db::issues::{Comment, Issue, Label, Milestone};
use crate::db::repos::Repo;
use crate::error::Result;
use crate::time::rfc3339;

/// Where this server is reached: the base of every URL in a shape.
#[derive(Debug, Clone)]
pub struct Site {
    base: String,
}

impl Site {
    /// `base` is `http://host:port` (no trailing slash); empty gives
    /// paths without a host.
    pub fn new(base: impl Into<String>) -> Site {
        Site {
            base: base.into().trim_end_matches('/').to_string(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The repository's pages: `http://host/owner/name`.
    pub fn html(&self, repo: &Repo) -> String {
        format!("{}{}", self.base, repo.url())
    }

    /// The repository in the API: `http://host/api/v1/repos/owner/name`.
    pub fn api(&self, repo: &Repo) -> String {
        format!("{}/api/v1/repos{}", self.base, repo.url())
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GitHub's opaque global id of an object: its kind and number, encoded.
pub fn node_id(kind: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{kind}_{id}"))
}

/// The numeric id of a workflow file: stable for its repository and path
/// (Hearth keeps no table of workflows; a workflow is its file).
pub fn workflow_id(repo: &Repo, path: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}/{path}", repo.id.0));
    // 48 bits: a positive integer that JavaScript clients read exactly.
    i64::from_be_bytes([0, 0, digest[0], digest[1], digest[2], digest[3], digest[4], digest[5]])
}

/// The accounts named in a shape, by login: their ids and whether they
/// administer the site.
#[derive(Debug, Default, Clone)]
pub struct People {
    known: HashMap<String, (i64, String, bool)>,
}

impl People {
    /// Looks up every login in `names`; one unknown (a deleted account)
    /// is shown as GitHub shows one: the `ghost` user.
    pub fn load<'a>(conn: &Connection, names: impl IntoIterator<Item = &'a str>) -> Result<People> {
        let mut known = HashMap::new();
        for name in names {
            let key = name.to_lowercase();
            if known.contains_key(&key) {
                continue;
            }
            if let Some(u) = db::users::by_name(conn, name)? {
                known.insert(key, (u.id.0, u.name, u.is_admin));
            }
        }
        Ok(People { known })
    }

    pub fn add(&mut self, user: &db::users::User) {
        self.known
            .insert(user.name.to_lowercase(), (user.id.0, user.name.clone(), user.is_admin));
    }

    pub fn user(&self, site: &Site, login: &str) -> Value {
        match self.known.get(&login.to_lowercase()) {
            Some((id, name, admin)) => user(site, *id, name, *admin),
            None => user(site, 10137, "ghost", false),
        }
    }
}

/// A user (`simple-user`).
pub fn user(site: &Site, id: i64, login: &str, site_admin: bool) -> Value {
    let base = site.base();
    let api = format!("{base}/api/v1/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": node_id("U", id),
        // Hearth keeps no pictures of people: every avatar is its mark.
        "avatar_url": format!("{base}/static/favicon.svg"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{base}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": "User",
        "site_admin": site_admin,
    })
}

/// What a repository's shape says beyond its row.
#[derive(Debug, Default, Clone, Copy)]
pub struct RepoFacts {
    pub open_issues: i64,
    pub pushed_at: Option<i64>,
    pub updated_at: Option<i64>,
}

impl RepoFacts {
    pub fn load(conn: &Connection, repo: &Repo) -> Result<RepoFacts> {
        let (open_issues, pushed_at): (i64, Option<i64>) = conn.query_row(
            "SELECT (SELECT COUNT(*) FROM issues WHERE repo_id = ?1 AND state = 'open'),
                    (SELECT MAX(pushed_at) FROM ref_updates WHERE repo_id = ?1)",
            [repo.id.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(RepoFacts {
            open_issues,
            pushed_at,
            updated_at: pushed_at,
        })
    }
}

/// The URLs every repository shape carries (`repository-lite`'s).
fn repo_links(site: &Site, repo: &Repo) -> serde_json::Map<String, Value> {
    let (html, api) = (site.html(repo), site.api(repo));
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.into(), Value::String(v));
    };
    put("html_url", html);
    put("url", api.clone());
    for (key, tail) in [
        ("forks_url", "/forks"),
        ("keys_url", "/keys{/key_id}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("teams_url", "/teams"),
        ("hooks_url", "/hooks"),
        ("issue_events_url", "/issues/events{/number}"),
        ("events_url", "/events"),
        ("assignees_url", "/assignees{/user}"),
        ("branches_url", "/branches{/branch}"),
        ("tags_url", "/tags"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("trees_url", "/git/trees{/sha}"),
        ("statuses_url", "/statuses/{sha}"),
        ("languages_url", "/languages"),
        ("stargazers_url", "/stargazers"),
        ("contributors_url", "/contributors"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("commits_url", "/commits{/sha}"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("comments_url", "/comments{/number}"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("contents_url", "/contents/{+path}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("merges_url", "/merges"),
        ("archive_url", "/{archive_format}{/ref}"),
        ("downloads_url", "/downloads"),
        ("issues_url", "/issues{/number}"),
        ("pulls_url", "/pulls{/number}"),
        ("milestones_url", "/milestones{/number}"),
        ("notifications_url", "/notifications{?since,all,participating}"),
        ("labels_url", "/labels{/name}"),
        ("releases_url", "/releases{/id}"),
        ("deployments_url", "/deployments"),
    ] {
        put(key, format!("{api}{tail}"));
    }
    m
}

/// A repository (`repository-lite`: its names, owner and URLs).
pub fn repository_lite(site: &Site, repo: &Repo, owner: &Value) -> Value {
    let mut m = repo_links(site, repo);
    for (k, v) in [
        ("id", json!(repo.id.0)),
        ("node_id", json!(node_id("R", repo.id.0))),
        ("name", json!(repo.name)),
        ("full_name", json!(repo.full_name())),
        ("private", json!(repo.is_private)),
        ("owner", owner.clone()),
        ("description", description(repo)),
        ("fork", json!(false)),
    ] {
        m.insert(k.into(), v);
    }
    Value::Object(m)
}

fn description(repo: &Repo) -> Value {
    if repo.description.is_empty() {
        Value::Null
    } else {
        json!(repo.description)
    }
}

/// A repository in full (`repository`).
pub fn repository(site: &Site, repo: &Repo, owner: &Value, facts: &RepoFacts) -> Value {
    let Value::Object(mut m) = repository_lite(site, repo, owner) else {
        unreachable!("repository_lite is an object")
    };
    let html = site.html(repo);
    let host = site.base().split("://").nth(1).unwrap_or("localhost").to_string();
    let extra = json!({
        "created_at": rfc3339(repo.created_at),
        "updated_at": rfc3339(facts.updated_at.unwrap_or(repo.created_at)),
        "pushed_at": facts.pushed_at.map(rfc3339),
        "git_url": format!("git://{host}{}.git", repo.url()),
        "ssh_url": format!("git@{host}:{}.git", repo.full_name()),
        "clone_url": format!("{html}.git"),
        "svn_url": html,
        "homepage": null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": null,
        "has_issues": true,
        "has_projects": false,
        "has_downloads": true,
        "has_wiki": false,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": false,
        "disabled": false,
        "open_issues_count": facts.open_issues,
        "license": null,
        "allow_forking": false,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": if repo.is_private { "private" } else { "public" },
        "forks": 0,
        "open_issues": facts.open_issues,
        "watchers": 0,
        "default_branch": repo.default_branch,
        "custom_properties": {},
    });
    if let Value::Object(e) = extra {
        m.extend(e);
    }
    Value::Object(m)
}

/// The reactions an object has (none: Hearth has no reactions).
fn reactions(url: &str) -> Value {
    json!({
        "url": format!("{url}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
        "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
    })
}

/// How `login` is related to `repo` (`author_association`).
pub fn association(conn: &Connection, repo: &Repo, login: &str) -> Result<&'static str> {
    if login.eq_ignore_ascii_case(&repo.owner) {
        return Ok("OWNER");
    }
    let Some(user) = db::users::by_name(conn, login)? else {
        return Ok("NONE");
    };
    Ok(match db::collaborators::permission(conn, repo.id, user.id)? {
        Some(_) => "COLLABORATOR",
        None => "CONTRIBUTOR",
    })
}

pub fn label(site: &Site, repo: &Repo, l: &Label) -> Value {
    json!({
        "id": l.id,
        "node_id": node_id("LA", l.id),
        "url": format!("{}/labels/{}", site.api(repo), url_encode(&l.name)),
        "name": l.name,
        "description": if l.description.is_empty() { Value::Null } else { json!(l.description) },
        "color": l.color,
        "default": false,
    })
}

pub fn milestone(site: &Site, repo: &Repo, m: &Milestone, creator: &Value) -> Value {
    let api = format!("{}/milestones/{}", site.api(repo), m.number);
    json!({
        "url": api,
        "html_url": format!("{}/milestones/{}", site.html(repo), m.id),
        "labels_url": format!("{api}/labels"),
        "id": m.id,
        "node_id": node_id("MI", m.id),
        "number": m.number,
        "title": m.title,
        "description": if m.description.is_empty() { Value::Null } else { json!(m.description) },
        "creator": creator,
        "open_issues": m.open_issues,
        "closed_issues": m.closed_issues,
        "state": m.state,
        "created_at": rfc3339(m.created_at),
        "updated_at": rfc3339(m.created_at),
        "due_on": m.due_on.as_ref().map(|d| format!("{d}T07:00:00Z")),
        "closed_at": null,
    })
}

/// An issue, or a pull request's conversation, with the records it names.
pub struct IssueParts<'a> {
    pub issue: &'a Issue,
    pub milestone: Option<&'a Milestone>,
    pub people: &'a People,
    pub association: &'static str,
}

pub fn issue(site: &Site, repo: &Repo, parts: &IssueParts) -> Value {
    let i = parts.issue;
    let (html, api) = (site.html(repo), site.api(repo));
    let url = format!("{api}/issues/{}", i.number);
    let who = |login: &str| parts.people.user(site, login);
    let owner = who(&repo.owner);
    let mut out = json!({
        "url": url,
        "repository_url": api,
        "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"),
        "html_url": format!("{html}/{}/{}", if i.is_pull { "pulls" } else { "issues" }, i.number),
        "id": i.id.0,
        "node_id": node_id(if i.is_pull { "PR" } else { "I" }, i.id.0),
        "number": i.number.0,
        "title": i.title,
        "user": who(&i.author),
        "labels": i.labels.iter().map(|l| label(site, repo, l)).collect::<Vec<_>>(),
        "state": i.state,
        "locked": false,
        "assignee": i.assignees.first().map(|a| who(a)),
        "assignees": i.assignees.iter().map(|a| who(a)).collect::<Vec<_>>(),
        "milestone": parts.milestone.map(|m| milestone(site, repo, m, &owner)),
        "comments": i.comments,
        "created_at": rfc3339(i.created_at),
        "updated_at": rfc3339(i.updated_at),
        "closed_at": i.closed_at.map(rfc3339),
        "author_association": parts.association,
        "active_lock_reason": null,
        "body": if i.body.is_empty() { Value::Null } else { json!(i.body) },
        "reactions": reactions(&url),
        "timeline_url": format!("{url}/timeline"),
        "state_reason": i.close_reason,
    });
    if i.is_pull {
        out["pull_request"] = json!({
            "url": format!("{api}/pulls/{}", i.number),
            "html_url": format!("{html}/pulls/{}", i.number),
            "diff_url": format!("{html}/pulls/{}.diff", i.number),
            "patch_url": format!("{html}/pulls/{}.patch", i.number),
        });
    }
    out
}

pub fn issue_comment(site: &Site, repo: &Repo, i: &Issue, c: &Comment, people: &People, association: &str) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let url = format!("{api}/issues/comments/{}", c.id);
    let kind = if i.is_pull { "pulls" } else { "issues" };
    json!({
        "url": url,
        "html_url": format!("{html}/{kind}/{}#comment-{}", i.number, c.id),
        "issue_url": format!("{api}/issues/{}", i.number),
        "id": c.id,
        "node_id": node_id("IC", c.id),
        "user": people.user(site, &c.author),
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
        "author_association": association,
        "body": c.body,
        "reactions": reactions(&url),
        "performed_via_github_app": null,
    })
}

/// A commit's author or committer, as a push payload names them.
pub fn committer(name: &str, email: &str, when: Option<i64>) -> Value {
    let mut v = json!({ "name": name, "email": email });
    if let Some(t) = when {
        v["date"] = json!(rfc3339(t));
    }
    v
}

/// A workflow file (`workflow`).
pub fn workflow(site: &Site, repo: &Repo, path: &str, name: &str, created_at: i64) -> Value {
    let id = workflow_id(repo, path);
    let file = path.rsplit('/').next().unwrap_or(path);
    json!({
        "id": id,
        "node_id": node_id("W", id),
        "name": name,
        "path": path,
        "state": "active",
        "created_at": rfc3339(created_at),
        "updated_at": rfc3339(created_at),
        "url": format!("{}/actions/workflows/{id}", site.api(repo)),
        "html_url": format!("{}/blob/{}/{path}", site.html(repo), repo.default_branch),
        "badge_url": format!("{}/workflows/{file}/badge.svg", site.html(repo)),
    })
}

/// The webhook spelling of a conclusion: GitHub's jobs end in one of four.
fn job_conclusion(c: Option<Conclusion>) -> Option<&'static str> {
    c.map(|c| match c {
        Conclusion::TimedOut => "failure",
        other => other.as_str(),
    })
}

/// A run's commit, as its `head_commit` (`commit-simple`).
pub struct HeadCommit {
    pub id: String,
    pub tree_id: String,
    pub message: String,
    pub timestamp: i64,
    pub author: Value,
    pub committer: Value,
}

/// What a run's shape needs beside its row.
pub struct RunParts<'a> {
    pub run: &'a db::runs::Run,
    pub actor: Value,
    pub head_commit: Option<&'a HeadCommit>,
    pub started_at: Option<i64>,
}

/// A workflow run (`workflow-run`). `status` overrides the stored one for
/// an announcement made after the run moved on.
pub fn workflow_run(site: &Site, repo: &Repo, parts: &RunParts, owner: &Value, status: Option<&str>) -> Value {
    let r = parts.run;
    let (html, api) = (site.html(repo), site.api(repo));
    let url = format!("{api}/actions/runs/{}", r.id);
    let workflow = workflow_id(repo, &r.workflow);
    let lite = repository_lite(site, repo, owner);
    let status = status.unwrap_or(r.status.as_str());
    let completed = status == Status::Completed.as_str();
    let head_commit = parts.head_commit.map(|c| {
        json!({
            "id": c.id, "tree_id": c.tree_id, "message": c.message, "timestamp": rfc3339(c.timestamp),
            "author": c.author, "committer": c.committer,
        })
    });
    json!({
        "id": r.id,
        "name": r.name,
        "node_id": node_id("WFR", r.id.0),
        "head_branch": r.head_branch,
        "head_sha": r.head_sha,
        "path": r.workflow,
        "display_title": r.name,
        "run_number": r.run_number,
        "event": r.event,
        "status": status,
        "conclusion": if completed { r.conclusion.map(|c| c.as_str()) } else { None },
        "workflow_id": workflow,
        "check_suite_id": r.id,
        "check_suite_node_id": node_id("CS", r.id.0),
        "url": url,
        "html_url": format!("{html}/runs/{}", r.run_number),
        "pull_requests": [],
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
        "actor": parts.actor,
        "triggering_actor": parts.actor,
        "run_attempt": 1,
        "referenced_workflows": [],
        "run_started_at": rfc3339(parts.started_at.unwrap_or(r.created_at)),
        "jobs_url": format!("{url}/jobs"),
        "logs_url": format!("{url}/logs"),
        "check_suite_url": format!("{api}/check-suites/{}", r.id),
        "artifacts_url": format!("{url}/artifacts"),
        "cancel_url": format!("{url}/cancel"),
        "rerun_url": format!("{url}/rerun"),
        "previous_attempt_url": null,
        "workflow_url": format!("{api}/actions/workflows/{workflow}"),
        "head_commit": head_commit,
        "repository": lite,
        "head_repository": lite,
    })
}

/// A run as a deployment names it (`deployment-workflow-run`).
pub fn deployment_workflow_run(site: &Site, repo: &Repo, parts: &RunParts) -> Value {
    let r = parts.run;
    let completed = r.status == Status::Completed;
    json!({
        "id": r.id,
        "name": r.name,
        "node_id": node_id("WFR", r.id.0),
        "path": r.workflow,
        "display_title": r.name,
        "head_branch": r.head_branch,
        "head_sha": r.head_sha,
        "run_number": r.run_number,
        "event": r.event,
        "status": if r.status == Status::Waiting { "queued" } else { r.status.as_str() },
        "conclusion": if completed { r.conclusion.map(|c| if c == Conclusion::Skipped { "neutral" } else { c.as_str() }) } else { None },
        "workflow_id": workflow_id(repo, &r.workflow),
        "check_suite_id": r.id,
        "check_suite_node_id": node_id("CS", r.id.0),
        "url": format!("{}/actions/runs/{}", site.api(repo), r.id),
        "html_url": format!("{}/runs/{}", site.html(repo), r.run_number),
        "pull_requests": [],
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
        "actor": parts.actor,
        "triggering_actor": parts.actor,
        "run_attempt": 1,
        "run_started_at": rfc3339(parts.started_at.unwrap_or(r.created_at)),
    })
}

fn step(s: &db::runs::Step, job_status: Status) -> Value {
    // A finished job's steps are finished: those not run were skipped.
    let status = if job_status == Status::Completed {
        Status::Completed
    } else {
        s.status
    };
    match status {
        Status::Completed => json!({
            "name": s.name, "status": "completed", "number": s.number,
            "conclusion": job_conclusion(s.conclusion).unwrap_or("skipped"),
            "started_at": rfc3339(s.started_at.or(s.completed_at).unwrap_or(0)),
            "completed_at": rfc3339(s.completed_at.or(s.started_at).unwrap_or(0)),
        }),
        Status::InProgress => json!({
            "name": s.name, "status": "in_progress", "number": s.number, "conclusion": null,
            "started_at": rfc3339(s.started_at.unwrap_or(0)), "completed_at": null,
        }),
        _ => json!({
            "name": s.name, "status": "queued", "number": s.number, "conclusion": null,
            "started_at": null, "completed_at": null,
        }),
    }
}

/// A job (`workflow-job`). `status` overrides the stored one, as for runs.
pub fn workflow_job(
    site: &Site,
    repo: &Repo,
    run: &db::runs::Run,
    job: &db::runs::Job,
    steps: &[db::runs::Step],
    status: Option<Status>,
) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let status = status.unwrap_or(job.status);
    let completed = status == Status::Completed;
    let steps: Vec<Value> = steps.iter().map(|s| step(s, status)).collect();
    json!({
        "id": job.id,
        "run_id": run.id,
        "run_url": format!("{api}/actions/runs/{}", run.id),
        "run_attempt": 1,
        "node_id": node_id("CR", job.id.0),
        "head_sha": run.head_sha,
        "head_branch": run.head_branch,
        "workflow_name": run.name,
        "url": format!("{api}/actions/jobs/{}", job.id),
        "html_url": format!("{html}/runs/{}/jobs/{}", run.run_number, job.id),
        "check_run_url": format!("{api}/check-runs/{}", job.id),
        "status": if status == Status::Waiting { "waiting" } else { status.as_str() },
        "conclusion": if completed { job_conclusion(job.conclusion) } else { None },
        "created_at": rfc3339(run.created_at),
        "started_at": rfc3339(job.started_at.unwrap_or(run.created_at)),
        "completed_at": if completed { job.completed_at.map(rfc3339) } else { None },
        "name": job.name,
        "steps": steps,
        "labels": ["self-hosted", "linux", "x64"],
        "runner_id": if status == Status::Queued { Value::Null } else { json!(1) },
        "runner_name": if status == Status::Queued { Value::Null } else { json!("hearth") },
        "runner_group_id": if status == Status::Queued { Value::Null } else { json!(1) },
        "runner_group_name": if status == Status::Queued { Value::Null } else { json!("Default") },
    })
}

/// A deployment state as GitHub names it.
pub fn deployment_state(state: Deployment) -> &'static str {
    match state {
        Deployment::RolledBack | Deployment::Rejected => "failure",
        Deployment::Cancelled => "error",
        other => other.as_str(),
    }
}

pub fn deployment(
    site: &Site,
    repo: &Repo,
    d: &db::environments::DeploymentRow,
    creator: &Value,
    artifacts: &[(String, String)],
    production: bool,
) -> Value {
    let api = site.api(repo);
    let url = format!("{api}/deployments/{}", d.id);
    json!({
        "url": url,
        "id": d.id,
        "node_id": node_id("DE", d.id.0),
        "sha": d.sha,
        "ref": d.ref_name,
        "task": "deploy",
        // What it deployed: the run's artifacts, by digest.
        "payload": { "artifacts": artifacts.iter().map(|(name, sha)| json!({ "name": name, "sha256": sha })).collect::<Vec<_>>() },
        "original_environment": d.environment,
        "environment": d.environment,
        "transient_environment": false,
        "production_environment": production,
        "description": null,
        "creator": creator,
        "created_at": rfc3339(d.created_at),
        "updated_at": rfc3339(d.updated_at),
        "statuses_url": format!("{url}/statuses"),
        "repository_url": api,
        "performed_via_github_app": null,
    })
}

pub fn deployment_status(
    site: &Site,
    repo: &Repo,
    d: &db::environments::DeploymentRow,
    s: &db::environments::Status,
    creator: &Value,
    log_url: Option<String>,
) -> Value {
    let api = site.api(repo);
    let url = format!("{api}/deployments/{}", d.id);
    json!({
        "url": format!("{url}/statuses/{}", s.id),
        "id": s.id,
        "node_id": node_id("DES", s.id),
        "state": deployment_state(s.state),
        "creator": creator,
        "description": s.description,
        "environment": d.environment,
        "environment_url": d.url.clone().unwrap_or_default(),
        "target_url": log_url.clone().unwrap_or_default(),
        "log_url": log_url.unwrap_or_default(),
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.created_at),
        "deployment_url": url,
        "repository_url": api,
        "performed_via_github_app": null,
    })
}

pub fn release_asset(site: &Site, repo: &Repo, tag: &str, a: &db::releases::Asset, uploader: Option<&Value>) -> Value {
    let enc = url_encode;
    let mut out = json!({
        "url": format!("{}/releases/assets/{}", site.api(repo), a.id),
        "browser_download_url": format!("{}/releases/download/{}/{}", site.html(repo), enc(tag), enc(&a.name)),
        "id": a.id.0,
        "node_id": node_id("RA", a.id.0),
        "name": a.name,
        "label": a.label,
        "state": "uploaded",
        "content_type": a.content_type,
        "size": a.size,
        "download_count": a.download_count,
        "created_at": rfc3339(a.created_at),
        "updated_at": rfc3339(a.created_at),
    });
    if let Some(u) = uploader {
        out["uploader"] = u.clone();
    }
    out
}

pub fn release(
    site: &Site,
    repo: &Repo,
    r: &db::releases::Release,
    assets: &[db::releases::Asset],
    people: &People,
) -> Value {
    let api = site.api(repo);
    let tag = url_encode(&r.tag_name);
    let url = format!("{api}/releases/{}", r.id);
    let author = people.user(site, r.author.as_deref().unwrap_or(&repo.owner));
    json!({
        "url": url,
        "html_url": format!("{}/releases/tag/{tag}", site.html(repo)),
        "assets_url": format!("{url}/assets"),
        "upload_url": format!("{url}/assets{{?name,label}}"),
        "tarball_url": format!("{api}/tarball/{tag}"),
        "zipball_url": format!("{api}/zipball/{tag}"),
        "id": r.id.0,
        "node_id": node_id("RE", r.id.0),
        "tag_name": r.tag_name,
        "target_commitish": r.target_commitish,
        "name": r.name,
        "body": r.body,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "created_at": rfc3339(r.created_at),
        "published_at": r.published_at.map(rfc3339),
        "author": author,
        "assets": assets.iter().map(|a| release_asset(site, repo, &r.tag_name, a, a.uploader.as_deref().map(|u| people.user(site, u)).as_ref())).collect::<Vec<_>>(),
        "reactions": reactions(&url),
    })
}

/// What a pull request's shape needs beside its row.
pub struct PullParts<'a> {
    pub pull: &'a db::pulls::Pull,
    pub people: &'a People,
    pub milestone: Option<&'a Milestone>,
    pub association: &'static str,
    /// The people asked for a review.
    pub reviewers: &'a [String],
    /// The full repository, as each side names it.
    pub repository: &'a Value,
    /// Sizes and merge state (`pull-request`); `None` is GitHub's
    /// `pull-request-simple`.
    pub stats: Option<&'a crate::pulls::Stats>,
}

/// A pull request (`pull-request`, or without stats `simple-pull-request`).
pub fn pull_request(site: &Site, repo: &Repo, parts: &PullParts) -> Value {
    use db::pulls::Mergeable;
    let pull = parts.pull;
    let (html, api) = (site.html(repo), site.api(repo));
    let n = pull.number();
    let who = |login: &str| parts.people.user(site, login);
    let owner = who(&repo.owner);
    let side = |branch: &str, sha: &str| json!({ "label": format!("{}:{branch}", repo.owner), "ref": branch, "sha": sha, "user": owner, "repo": parts.repository });
    let i = &pull.issue;
    let url = format!("{api}/pulls/{n}");
    let links = json!({
        "self": { "href": url },
        "html": { "href": format!("{html}/pulls/{n}") },
        "issue": { "href": format!("{api}/issues/{n}") },
        "comments": { "href": format!("{api}/issues/{n}/comments") },
        "review_comments": { "href": format!("{url}/comments") },
        "review_comment": { "href": format!("{api}/pulls/comments{{/number}}") },
        "commits": { "href": format!("{url}/commits") },
        "statuses": { "href": format!("{api}/statuses/{}", pull.head_sha) },
    });
    let mut out = json!({
        "url": url,
        "id": i.id.0,
        "node_id": node_id("PR", i.id.0),
        "html_url": format!("{html}/pulls/{n}"),
        "diff_url": format!("{html}/pulls/{n}.diff"),
        "patch_url": format!("{html}/pulls/{n}.patch"),
        "issue_url": format!("{api}/issues/{n}"),
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{n}/comments"),
        "statuses_url": format!("{api}/statuses/{}", pull.head_sha),
        "number": n.0,
        "state": i.state,
        "locked": false,
        "title": i.title,
        "user": who(&i.author),
        "body": if i.body.is_empty() { Value::Null } else { json!(i.body) },
        "labels": i.labels.iter().map(|l| label(site, repo, l)).collect::<Vec<_>>(),
        "milestone": parts.milestone.map(|m| milestone(site, repo, m, &owner)),
        "active_lock_reason": null,
        "created_at": rfc3339(i.created_at),
        "updated_at": rfc3339(i.updated_at),
        "closed_at": i.closed_at.map(rfc3339),
        "merged_at": pull.merged_at.map(rfc3339),
        "merge_commit_sha": pull.merge_commit_sha.clone().or_else(|| pull.merge_sha.clone()),
        "assignee": i.assignees.first().map(|a| who(a)),
        "assignees": i.assignees.iter().map(|a| who(a)).collect::<Vec<_>>(),
        "requested_reviewers": parts.reviewers.iter().map(|r| who(r)).collect::<Vec<_>>(),
        "requested_teams": [],
        "head": side(&pull.head_ref, &pull.head_sha),
        "base": side(&pull.base_ref, &pull.base_sha),
        "_links": links,
    });
    let rest = json!({
        "author_association": parts.association,
        "auto_merge": null,
        "draft": pull.draft,
    });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), rest) {
        o.extend(e);
    }
    if let Some(s) = parts.stats {
        let (mergeable, state) = match (pull.mergeable, pull.draft, pull.is_open()) {
            (_, _, false) | (Mergeable::Unknown, _, _) => (Value::Null, "unknown"),
            (Mergeable::Conflict, _, _) => (json!(false), "dirty"),
            (Mergeable::Clean, true, _) => (json!(true), "draft"),
            (Mergeable::Clean, false, _) => (json!(true), "clean"),
        };
        let extra = json!({
            "merged": pull.is_merged(),
            "mergeable": mergeable,
            "rebaseable": mergeable,
            "mergeable_state": state,
            "merged_by": pull.merged_by.as_deref().map(who),
            "comments": i.comments,
            "review_comments": s.review_comments,
            "maintainer_can_modify": false,
            "commits": s.commits,
            "additions": s.additions,
            "deletions": s.deletions,
            "changed_files": s.changed_files,
        });
        if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
            o.extend(e);
        }
    }
    out
}

/// A review (`pull-request-review`); `upper` spells its state as the REST
/// API does (`APPROVED`), otherwise as webhooks do (`approved`).
pub fn review(
    site: &Site,
    repo: &Repo,
    number: db::issues::IssueNumber,
    r: &db::pulls::Review,
    people: &People,
    association: &str,
    upper: bool,
) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let state = r.verdict.as_str();
    json!({
        "id": r.id,
        "node_id": node_id("PRR", r.id),
        "user": people.user(site, &r.author),
        "body": r.body,
        "commit_id": r.commit_id,
        "submitted_at": rfc3339(r.submitted_at),
        "state": if upper { state.to_uppercase() } else { state.to_lowercase() },
        "html_url": format!("{html}/pulls/{number}#review-{}", r.id),
        "pull_request_url": format!("{api}/pulls/{number}"),
        "author_association": association,
        "_links": {
            "html": { "href": format!("{html}/pulls/{number}#review-{}", r.id) },
            "pull_request": { "href": format!("{api}/pulls/{number}") },
        },
    })
}

/// One of Hearth's jobs as a check run (GitHub's `check-run`).
pub fn check_run(site: &Site, repo: &Repo, run: &db::runs::Run, job: &db::runs::Job, annotations: usize) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let url = format!("{api}/check-runs/{}", job.id);
    let completed = job.status == Status::Completed;
    let details = format!("{html}/runs/{}/jobs/{}", run.run_number, job.id);
    json!({
        "id": job.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CR", job.id.0),
        "external_id": job.key,
        "url": url,
        "html_url": details,
        "details_url": details,
        "status": match job.status { Status::Completed => "completed", Status::InProgress => "in_progress", Status::Waiting => "waiting", Status::Queued => "queued" },
        "conclusion": if completed { job.conclusion.map(|c| c.as_str()) } else { None },
        "started_at": job.started_at.map(rfc3339),
        "completed_at": if completed { job.completed_at.map(rfc3339) } else { None },
        "output": {
            "title": job.conclusion.map(|c| format!("{}: {}", job.name, c.as_str())),
            "summary": null,
            "text": null,
            "annotations_count": annotations,
            "annotations_url": format!("{url}/annotations"),
        },
        "name": job.name,
        "check_suite": { "id": run.id },
        "app": { "id": 1, "slug": "hearth", "name": "Hearth", "owner": null },
        "pull_requests": [],
    })
}

/// A notification thread (`thread`), in `repo` (whose owner is `owner`).
pub fn thread(site: &Site, repo: &Repo, owner: &Value, t: &db::notifications::Thread) -> Value {
    let api = site.api(repo);
    let url = format!("{}/api/v1/notifications/threads/{}", site.base(), t.id.0);
    let subject_url = match t.subject_type.as_str() {
        "Issue" => format!("{api}/issues/{}", t.subject_number),
        "PullRequest" => format!("{api}/pulls/{}", t.subject_number),
        _ => format!("{api}/actions/runs/{}", t.subject_id),
    };
    json!({
        "id": t.id.0.to_string(),
        "repository": repository_lite(site, repo, owner),
        "subject": {
            "title": t.title,
            "url": subject_url,
            "latest_comment_url": subject_url,
            "type": t.subject_type,
        },
        "reason": t.reason,
        "unread": t.unread,
        "updated_at": crate::time::rfc3339(t.updated_at),
        "last_read_at": t.last_read_at.map(crate::time::rfc3339),
        "subscription_url": format!("{url}/subscription"),
        "url": url,
    })
}

/// Whether someone watches `repo` (`repository-subscription`): since
/// `since`, or not (`None`, and `ignored` if they asked to be left out).
pub fn subscription(site: &Site, repo: &Repo, since: Option<i64>, ignored: bool) -> Value {
    let api = site.api(repo);
    json!({
        "subscribed": since.is_some(),
        "ignored": since.is_none() && ignored,
        "reason": null,
        "created_at": crate::time::rfc3339(since.unwrap_or_else(crate::time::now)),
        "url": format!("{api}/subscription"),
        "repository_url": api,
    })
}

/// A branch as lists name it (`short-branch`).
pub fn short_branch(site: &Site, repo: &Repo, name: &str, sha: &str, protected: bool) -> Value {
    let api = site.api(repo);
    json!({
        "name": name,
        "commit": { "sha": sha, "url": format!("{api}/commits/{sha}") },
        "protected": protected,
        "protection_url": format!("{api}/branches/{}/protection", url_encode(name)),
    })
}

/// One branch (`branch-with-protection`), with its tip `commit` in full.
pub fn branch(site: &Site, repo: &Repo, name: &str, commit: Value, protected: bool, checks: &[String]) -> Value {
    let api = site.api(repo);
    let this = format!("{api}/branches/{}", url_encode(name));
    json!({
        "name": name,
        "commit": commit,
        "_links": { "self": this, "html": format!("{}/tree/{}", site.html(repo), url_encode(name)) },
        "protected": protected,
        "protection": {
            "enabled": protected,
            "required_status_checks": {
                "enforcement_level": if protected && !checks.is_empty() { "non_admins" } else { "off" },
                "contexts": checks,
                "checks": checks.iter().map(|c| json!({ "context": c, "app_id": null })).collect::<Vec<_>>(),
            },
        },
        "protection_url": format!("{this}/protection"),
    })
}

/// A tag (`tag`).
pub fn tag(site: &Site, repo: &Repo, name: &str, sha: &str) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    json!({
        "name": name,
        "commit": { "sha": sha, "url": format!("{api}/commits/{sha}") },
        "zipball_url": format!("{html}/archive/{}.zip", url_encode(name)),
        "tarball_url": format!("{html}/archive/{}.tar.gz", url_encode(name)),
        "node_id": node_id("REF", workflow_id(repo, name)),
    })
}

/// Lines a commit adds and removes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub additions: usize,
    pub deletions: usize,
}

/// A commit (`commit`): `author` and `committer` are the accounts behind
/// its e-mail addresses, or null.
pub fn commit(
    site: &Site,
    repo: &Repo,
    info: &crate::git::read::CommitInfo,
    tree: &str,
    author: Value,
    committer: Value,
) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let sha = info.id.to_string();
    let url = format!("{api}/commits/{sha}");
    let person = |p: &crate::git::read::Person| crate::github::committer(&p.name, &p.email, Some(p.time));
    json!({
        "url": url,
        "sha": sha,
        "node_id": node_id("C", workflow_id(repo, &sha)),
        "html_url": format!("{html}/commit/{sha}"),
        "comments_url": format!("{url}/comments"),
        "commit": {
            "url": format!("{api}/git/commits/{sha}"),
            "author": person(&info.author),
            "committer": person(&info.committer),
            "message": info.message.trim_end_matches('\n'),
            "comment_count": 0,
            "tree": { "sha": tree, "url": format!("{api}/git/trees/{tree}") },
            "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null },
        },
        "author": author,
        "committer": committer,
        "parents": info.parents.iter().map(|p| json!({
            "sha": p.to_string(),
            "url": format!("{api}/commits/{p}"),
            "html_url": format!("{html}/commit/{p}"),
        })).collect::<Vec<_>>(),
    })
}

/// A file a commit changed (`diff-entry`).
pub fn commit_file(site: &Site, repo: &Repo, sha: &str, f: &crate::git::read::FileDiff, patch: Option<&str>) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let path = url_encode(&f.new_path);
    let mut v = json!({
        "sha": f.new_id.or(f.old_id).map(|id| id.to_string()),
        "filename": f.new_path,
        "status": match f.status {
            crate::git::read::Status::Deleted => "removed",
            other => other.word(),
        },
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": format!("{html}/blob/{sha}/{path}"),
        "raw_url": format!("{html}/raw/{sha}/{path}"),
        "contents_url": format!("{api}/contents/{path}?ref={sha}"),
    });
    if let Some(p) = patch {
        v["patch"] = json!(p);
    }
    if f.status == crate::git::read::Status::Renamed {
        v["previous_filename"] = json!(f.old_path);
    }
    v
}

/// An entry of a directory or a file, as `…/contents` names it.
pub struct ContentEntry<'a> {
    /// file, dir, symlink or submodule.
    pub kind: &'a str,
    pub path: &'a str,
    pub sha: &'a str,
    pub size: u64,
    /// The branch, tag or commit it was read at.
    pub rev: &'a str,
}

/// What a file's `…/contents` answer carries.
pub enum Body {
    /// Its bytes in base64.
    Base64(String),
    /// A symbolic link's target.
    Target(String),
    /// Too large to include (`encoding: none`).
    TooLarge,
}

/// `content-directory` entries (`body` `None`) and `content-file`.
pub fn content(site: &Site, repo: &Repo, e: &ContentEntry, body: Option<Body>) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let path = url_encode(e.path);
    let rev = url_encode(e.rev);
    let url = format!("{api}/contents/{path}?ref={rev}");
    let html_url = format!("{html}/{}/{rev}/{path}", if e.kind == "dir" { "tree" } else { "blob" });
    let git_url = format!(
        "{api}/git/{}/{}",
        if e.kind == "dir" { "trees" } else { "blobs" },
        e.sha
    );
    let download = (e.kind == "file").then(|| format!("{html}/raw/{rev}/{path}"));
    let mut v = json!({
        "type": e.kind,
        "size": e.size,
        "name": e.path.rsplit('/').next().unwrap_or(e.path),
        "path": e.path,
        "sha": e.sha,
        "url": url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": download,
        "_links": { "self": url, "git": git_url, "html": html_url },
    });
    match body {
        Some(Body::Base64(text)) => {
            v["content"] = json!(text);
            v["encoding"] = json!("base64");
        }
        Some(Body::Target(target)) => v["target"] = json!(target),
        Some(Body::TooLarge) => {
            v["content"] = json!("");
            v["encoding"] = json!("none");
        }
        None => {}
    }
    v
}
