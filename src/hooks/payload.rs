//! The payloads of webhook events: what happened (`db::hooks::Noted`),
//! read back from the records and spelled as GitHub spells that event.

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::db;
use crate::db::hooks::Noted;
use crate::db::issues::{self as stored, Issue};
use crate::db::ref_updates::ZERO_ID;
use crate::db::repos::Repo;
use crate::error::Result;
use crate::github::{self, People, RepoFacts, Site};
use crate::ids::{JobId, RunId};
use crate::state::Status;

/// One delivery's worth: the event's name, its action, and the body.
#[derive(Debug, Clone)]
pub struct Payload {
    pub event: &'static str,
    pub action: Option<String>,
    pub body: Value,
}

/// Commits listed in a push payload (GitHub lists at most 20 in `commits`).
const PUSH_COMMITS: usize = 20;

/// What is common to every payload: the repository and who did it.
struct Context<'a> {
    conn: &'a Connection,
    site: &'a Site,
    repo: &'a Repo,
    people: People,
    repository: Value,
    sender: Value,
}

impl<'a> Context<'a> {
    fn new(conn: &'a Connection, site: &'a Site, repo: &'a Repo, sender: Option<db::users::UserId>) -> Result<Self> {
        let mut people = People::load(conn, [repo.owner.as_str()])?;
        let sender_user = match sender {
            Some(id) => db::users::by_id(conn, id)?,
            None => None,
        };
        if let Some(u) = &sender_user {
            people.add(u);
        }
        let owner = people.user(site, &repo.owner);
        let facts = RepoFacts::load(conn, repo)?;
        let repository = github::repository(site, repo, &owner, &facts);
        let sender = match &sender_user {
            Some(u) => people.user(site, &u.name),
            None => owner,
        };
        Ok(Context {
            conn,
            site,
            repo,
            people,
            repository,
            sender,
        })
    }

    fn learn<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) -> Result<()> {
        for name in names {
            if let Some(u) = db::users::by_name(self.conn, name)? {
                self.people.add(&u);
            }
        }
        Ok(())
    }

    /// The sender, when the event names none: the person named.
    fn sender_or(&mut self, login: &str) -> Result<()> {
        if self.sender == self.people.user(self.site, &self.repo.owner) {
            self.learn([login])?;
            self.sender = self.people.user(self.site, login);
        }
        Ok(())
    }

    fn payload(&self, event: &'static str, action: Option<&str>, fields: Value) -> Payload {
        let mut body = serde_json::Map::new();
        if let Some(a) = action {
            body.insert("action".into(), json!(a));
        }
        if let Value::Object(f) = fields {
            body.extend(f);
        }
        body.insert("repository".into(), self.repository.clone());
        body.insert("sender".into(), self.sender.clone());
        Payload {
            event,
            action: action.map(str::to_string),
            body: Value::Object(body),
        }
    }

    fn issue(&mut self, i: &Issue) -> Result<Value> {
        self.learn(std::iter::once(i.author.as_str()).chain(i.assignees.iter().map(String::as_str)))?;
        let milestone = match &i.milestone {
            Some((id, _)) => stored::milestone_by_id(self.conn, self.repo.id, *id)?,
            None => None,
        };
        let association = github::association(self.conn, self.repo, &i.author)?;
        Ok(github::issue(
            self.site,
            self.repo,
            &github::IssueParts {
                issue: i,
                milestone: milestone.as_ref(),
                people: &self.people,
                association,
            },
        ))
    }

    fn pull(&mut self, pull: &db::pulls::Pull, full: bool, path: &std::path::Path) -> Result<Value> {
        let i = &pull.issue;
        let reviewers = db::pulls::requested_reviewers(self.conn, i.id)?;
        self.learn(
            std::iter::once(i.author.as_str())
                .chain(i.assignees.iter().map(String::as_str))
                .chain(reviewers.iter().map(String::as_str))
                .chain(pull.merged_by.as_deref()),
        )?;
        let milestone = match &i.milestone {
            Some((id, _)) => stored::milestone_by_id(self.conn, self.repo.id, *id)?,
            None => None,
        };
        let stats = if full {
            let mut s = crate::pulls::stats(path, pull).unwrap_or_default();
            s.review_comments = db::pulls::line_comments(self.conn, i.id)?.len();
            Some(s)
        } else {
            None
        };
        let association = github::association(self.conn, self.repo, &i.author)?;
        Ok(github::pull_request(
            self.site,
            self.repo,
            &github::PullParts {
                pull,
                people: &self.people,
                milestone: milestone.as_ref(),
                association,
                reviewers: &reviewers,
                repository: &self.repository,
                stats: stats.as_ref(),
            },
        ))
    }

    fn run(&mut self, run: &db::runs::Run, path: &std::path::Path) -> Result<(Value, Value)> {
        let actor = match db::releases::run_pusher(self.conn, run.id)? {
            Some(id) => db::users::by_id(self.conn, id)?,
            None => None,
        };
        let actor = match actor {
            Some(u) => {
                self.people.add(&u);
                self.people.user(self.site, &u.name)
            }
            None => self.people.user(self.site, &self.repo.owner),
        };
        let head = head_commit(path, &run.head_sha);
        let started_at = first_start(self.conn, run.id)?;
        let parts = github::RunParts {
            run,
            actor,
            head_commit: head.as_ref(),
            started_at,
        };
        let owner = self.people.user(self.site, &self.repo.owner);
        let workflow = github::workflow(self.site, self.repo, &run.workflow, &run.name, run.created_at);
        Ok((
            workflow,
            github::workflow_run(self.site, self.repo, &parts, &owner, None),
        ))
    }
}

fn first_start(conn: &Connection, run: RunId) -> Result<Option<i64>> {
    Ok(
        conn.query_row("SELECT MIN(started_at) FROM jobs WHERE run_id = ?1", [run], |r| {
            r.get(0)
        })?,
    )
}

fn head_commit(path: &std::path::Path, sha: &str) -> Option<github::HeadCommit> {
    let repo = crate::git::open(path).ok()?;
    let info = crate::git::read::commit_info(&repo, crate::git::object_id(sha).ok()?).ok()?;
    let tree = repo.find_commit(info.id).ok()?.tree_id().ok()?.detach();
    Some(github::HeadCommit {
        id: sha.to_string(),
        tree_id: tree.to_string(),
        message: info.message.clone(),
        timestamp: info.committer.time,
        author: github::committer(&info.author.name, &info.author.email, None),
        committer: github::committer(&info.committer.name, &info.committer.email, None),
    })
}

/// Runs in GitHub's REST shape (`workflow-run`, the same as the webhooks'),
/// each with its actor and head commit read from `path`.
pub fn rest_runs(
    conn: &Connection,
    site: &Site,
    repo: &Repo,
    path: &std::path::Path,
    runs: &[db::runs::Run],
) -> Result<Vec<Value>> {
    let mut cx = Context::new(conn, site, repo, None)?;
    runs.iter().map(|r| Ok(cx.run(r, path)?.1)).collect()
}

/// The payloads `noted` makes (none when what it tells of is gone).
pub fn build(
    conn: &Connection,
    site: &Site,
    data_dir: &crate::data_dir::DataDir,
    noted: &Noted,
) -> Result<Vec<Payload>> {
    let Some(repo) = db::repos::by_id(conn, noted.repo_id)? else {
        return Ok(Vec::new());
    };
    let path = data_dir.repo(&repo.owner, &repo.name);
    let mut cx = Context::new(conn, site, &repo, noted.sender_id)?;
    let action = noted.action.as_deref();
    let extra = &noted.extra;
    let out = match noted.event.as_str() {
        "push" => return push(&mut cx, &path, noted.subject),
        "issues" => {
            let Some(issue) = issue_by_id(conn, noted.subject)? else {
                return Ok(Vec::new());
            };
            let mut fields = json!({ "issue": as_announced(cx.issue(&issue)?, action) });
            add_change_fields(&mut cx, &mut fields, extra, &issue)?;
            vec![cx.payload("issues", action, fields)]
        }
        "issue_comment" => {
            let (issue, comment) = match action {
                Some("deleted") => {
                    let c = &extra["comment"];
                    let Some(issue) = issue_by_id(conn, extra["issue"].as_i64().unwrap_or(0))? else {
                        return Ok(Vec::new());
                    };
                    let comment = stored::Comment {
                        id: c["id"].as_i64().unwrap_or(0),
                        author: c["author"].as_str().unwrap_or("ghost").to_string(),
                        author_id: db::users::UserId(c["author_id"].as_i64().unwrap_or(0)),
                        body: c["body"].as_str().unwrap_or("").to_string(),
                        created_at: c["created_at"].as_i64().unwrap_or(0),
                        updated_at: c["updated_at"].as_i64().unwrap_or(0),
                    };
                    (issue, comment)
                }
                _ => {
                    let Some((issue, comment)) = comment_by_id(conn, noted.subject)? else {
                        return Ok(Vec::new());
                    };
                    (issue, comment)
                }
            };
            cx.learn([comment.author.as_str()])?;
            let association = github::association(conn, &repo, &comment.author)?;
            let mut fields = json!({
                "issue": cx.issue(&issue)?,
                "comment": github::issue_comment(site, &repo, &issue, &comment, &cx.people, association),
            });
            if let Some(changes) = extra.get("changes") {
                fields["changes"] = changes.clone();
            }
            vec![cx.payload("issue_comment", action, fields)]
        }
        "pull_request" => {
            let Some(issue) = issue_by_id(conn, noted.subject)? else {
                return Ok(Vec::new());
            };
            let Some(pull) = db::pulls::by_number(conn, repo.id, issue.number)? else {
                return Ok(Vec::new());
            };
            let pull_json = as_announced(cx.pull(&pull, true, &path)?, action);
            let mut fields = json!({ "number": issue.number.0, "pull_request": pull_json });
            add_change_fields(&mut cx, &mut fields, extra, &issue)?;
            if action == Some("synchronize") {
                fields["before"] = json!(extra.get("before").and_then(Value::as_str).unwrap_or(""));
                fields["after"] = json!(pull.head_sha);
            }
            vec![cx.payload("pull_request", action, fields)]
        }
        "pull_request_review" => {
            let Some((issue, review)) = review_by_id(conn, noted.subject)? else {
                return Ok(Vec::new());
            };
            let Some(pull) = db::pulls::by_number(conn, repo.id, issue.number)? else {
                return Ok(Vec::new());
            };
            cx.learn([review.author.as_str()])?;
            let association = github::association(conn, &repo, &review.author)?;
            let fields = json!({
                "review": github::review(site, &repo, issue.number, &review, &cx.people, association, false),
                "pull_request": cx.pull(&pull, false, &path)?,
            });
            vec![cx.payload("pull_request_review", action, fields)]
        }
        "workflow_run" => {
            let Some(run) = db::runs::by_id(conn, repo.id, RunId(noted.subject))? else {
                return Ok(Vec::new());
            };
            let (workflow, mut run_json) = cx.run(&run, &path)?;
            // Announced as it was: a run may have moved on since.
            let status = match action {
                Some("requested") => Status::Queued.as_str(),
                Some("in_progress") => Status::InProgress.as_str(),
                _ => Status::Completed.as_str(),
            };
            run_json["status"] = json!(status);
            if status != Status::Completed.as_str() {
                run_json["conclusion"] = Value::Null;
            }
            let actor = run_json["actor"].clone();
            cx.sender = actor;
            vec![cx.payload(
                "workflow_run",
                action,
                json!({ "workflow": workflow, "workflow_run": run_json }),
            )]
        }
        "workflow_job" => {
            let Some(job) = db::runs::job(conn, JobId(noted.subject))? else {
                return Ok(Vec::new());
            };
            let Some(run) = db::runs::by_id(conn, repo.id, job.run_id)? else {
                return Ok(Vec::new());
            };
            let steps = db::runs::steps(conn, job.id)?;
            let status = match action {
                Some("queued") => Status::Queued,
                Some("waiting") => Status::Waiting,
                Some("in_progress") => Status::InProgress,
                _ => Status::Completed,
            };
            let (_, run_json) = cx.run(&run, &path)?;
            cx.sender = run_json["actor"].clone();
            let job_json = github::workflow_job(site, &repo, &run, &job, &steps, Some(status));
            vec![cx.payload("workflow_job", action, json!({ "workflow_job": job_json }))]
        }
        "deployment" | "deployment_status" => {
            let (deployment, status) = if noted.event == "deployment" {
                let d = db::environments::deployment(conn, repo.id, db::environments::DeploymentId(noted.subject))?;
                (d, None)
            } else {
                match deployment_status_by_id(conn, noted.subject)? {
                    Some((d, s)) => (db::environments::deployment(conn, repo.id, d)?, Some(s)),
                    None => (None, None),
                }
            };
            let Some(d) = deployment else {
                return Ok(Vec::new());
            };
            let Some(run) = db::runs::by_id(conn, repo.id, d.run_id)? else {
                return Ok(Vec::new());
            };
            let (workflow, _) = cx.run(&run, &path)?;
            let actor = match db::releases::run_pusher(conn, run.id)? {
                Some(id) => db::users::by_id(conn, id)?.map(|u| u.name),
                None => None,
            }
            .unwrap_or_else(|| repo.owner.clone());
            cx.sender_or(&actor)?;
            let creator = cx.people.user(site, &actor);
            let head = head_commit(&path, &run.head_sha);
            let run_parts = github::RunParts {
                run: &run,
                actor: creator.clone(),
                head_commit: head.as_ref(),
                started_at: first_start(conn, run.id)?,
            };
            let artifacts = db::environments::artifacts_of(conn, d.id)?;
            let production = d.environment == "prod" || d.environment == "production";
            let mut fields = json!({
                "deployment": github::deployment(site, &repo, &d, &creator, &artifacts, production),
                "workflow": workflow,
                "workflow_run": github::deployment_workflow_run(site, &repo, &run_parts),
            });
            match status {
                None => vec![cx.payload("deployment", Some("created"), fields)],
                Some(s) => {
                    let log = format!("{}/runs/{}/jobs/{}", site.html(&repo), run.run_number, d.job_id);
                    fields["deployment_status"] = github::deployment_status(site, &repo, &d, &s, &creator, Some(log));
                    vec![cx.payload("deployment_status", Some("created"), fields)]
                }
            }
        }
        "release" => {
            let Some(release) = db::releases::by_id(conn, repo.id, db::releases::ReleaseId(noted.subject))? else {
                return Ok(Vec::new());
            };
            let assets = db::releases::assets(conn, release.id)?;
            cx.learn(
                release
                    .author
                    .as_deref()
                    .into_iter()
                    .chain(assets.iter().filter_map(|a| a.uploader.as_deref())),
            )?;
            if let Some(a) = &release.author {
                cx.sender_or(a)?;
            }
            let fields = json!({ "release": github::release(site, &repo, &release, &assets, &cx.people) });
            vec![cx.payload("release", action, fields)]
        }
        "status" => {
            let Some(st) = db::statuses::by_id(conn, noted.subject)? else {
                return Ok(Vec::new());
            };
            vec![status(&mut cx, &path, &st)?]
        }
        _ => Vec::new(),
    };
    Ok(out)
}

/// A commit status's `status` event: the status, its commit, and the
/// branches whose tips it is.
fn status(cx: &mut Context, path: &std::path::Path, st: &db::statuses::Status) -> Result<Payload> {
    use crate::git::read;
    let repo = crate::git::open(path)?;
    let id = crate::git::object_id(&st.sha)?;
    let info = read::commit_info(&repo, id)?;
    let tree = repo
        .find_commit(id)
        .ok()
        .and_then(|c| c.tree_id().ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let (html, api) = (cx.site.html(cx.repo), cx.site.api(cx.repo));
    let user_of = |cx: &Context, email: &str| -> Result<Value> {
        let login: Option<String> = rusqlite::OptionalExtension::optional(cx.conn.query_row(
            "SELECT name FROM users WHERE email = ?1 COLLATE NOCASE",
            [email],
            |r| r.get(0),
        ))?;
        Ok(login.map_or(Value::Null, |l| cx.people.user(cx.site, &l)))
    };
    if let Some(c) = &st.creator {
        cx.learn([c.as_str()])?;
    }
    let person = |p: &read::Person| json!({ "name": p.name, "email": p.email, "date": crate::time::rfc3339(p.time) });
    let rules = db::protections::list(cx.conn, cx.repo.id)?;
    let branches: Vec<Value> = read::refs(&repo)?
        .into_iter()
        .filter(|r| !r.is_tag && r.commit == id)
        .take(10)
        .map(|r| {
            let protected = crate::pulls::protect::rule_for(&rules, &r.name).is_some();
            json!({ "name": r.name, "commit": { "sha": st.sha, "url": format!("{api}/commits/{}", st.sha) }, "protected": protected })
        })
        .collect();
    let commit = json!({
        "sha": st.sha,
        "node_id": github::node_id("C", i64::from_str_radix(&st.sha[..12], 16).unwrap_or(0)),
        "commit": {
            "author": person(&info.author),
            "committer": person(&info.committer),
            "message": info.message,
            "tree": { "sha": tree, "url": format!("{api}/git/trees/{tree}") },
            "url": format!("{api}/git/commits/{}", st.sha),
            "comment_count": 0,
            "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null },
        },
        "url": format!("{api}/commits/{}", st.sha),
        "html_url": format!("{html}/commit/{}", st.sha),
        "comments_url": format!("{api}/commits/{}/comments", st.sha),
        "author": user_of(cx, &info.author.email)?,
        "committer": user_of(cx, &info.committer.email)?,
        "parents": info.parents.iter().map(|p| json!({
            "sha": p.to_string(), "url": format!("{api}/commits/{p}"), "html_url": format!("{html}/commit/{p}"),
        })).collect::<Vec<_>>(),
    });
    let time = crate::time::rfc3339(st.created_at);
    Ok(cx.payload(
        "status",
        None,
        json!({
            "id": st.id,
            "sha": st.sha,
            "name": cx.repo.full_name(),
            "target_url": st.target_url,
            "context": st.context,
            "description": st.description,
            "state": st.state.as_str(),
            "commit": commit,
            "branches": branches,
            "created_at": time,
            "updated_at": time,
        }),
    ))
}

/// An issue or pull request as it was when `action` happened (it is read
/// back a moment later, and may have been closed or reopened since).
fn as_announced(mut v: Value, action: Option<&str>) -> Value {
    match action {
        Some("opened" | "reopened") => {
            v["state"] = json!("open");
            v["closed_at"] = Value::Null;
            if v.get("merged").is_some() {
                v["merged"] = json!(false);
                v["merged_at"] = Value::Null;
                v["merged_by"] = Value::Null;
            }
        }
        Some("closed") => v["state"] = json!("closed"),
        _ => {}
    }
    v
}

/// The fields an action names beside its subject: the label added, the
/// person assigned, the edit's `changes`.
fn add_change_fields(cx: &mut Context, fields: &mut Value, extra: &Value, issue: &Issue) -> Result<()> {
    if let Some(name) = extra.get("label").and_then(Value::as_str)
        && let Some(l) = stored::label_by_name(cx.conn, cx.repo.id, name)?
    {
        fields["label"] = github::label(cx.site, cx.repo, &l);
    }
    for key in ["assignee", "reviewer"] {
        if let Some(login) = extra.get(key).and_then(Value::as_str) {
            cx.learn([login])?;
            let field = if key == "reviewer" { "requested_reviewer" } else { key };
            fields[field] = cx.people.user(cx.site, login);
        }
    }
    if let Some(title) = extra.get("milestone").and_then(Value::as_str)
        && let Some(m) = stored::milestone_by_title(cx.conn, cx.repo.id, title)?
    {
        let owner = cx.people.user(cx.site, &cx.repo.owner);
        fields["milestone"] = github::milestone(cx.site, cx.repo, &m, &owner);
    }
    if let Some(changes) = extra.get("changes") {
        fields["changes"] = changes.clone();
    }
    let _ = issue;
    Ok(())
}

fn issue_by_id(conn: &Connection, id: i64) -> Result<Option<Issue>> {
    match db::pulls::issue_by_id(conn, stored::IssueId(id))? {
        Some((repo, number)) => stored::by_number(conn, repo, number),
        None => Ok(None),
    }
}

/// The issue that row `id` of `table` (comments, reviews) belongs to.
fn issue_of(conn: &Connection, table: &str, id: i64) -> Result<Option<Issue>> {
    let issue: Option<i64> = rusqlite::OptionalExtension::optional(conn.query_row(
        &format!("SELECT issue_id FROM {table} WHERE id = ?1"),
        [id],
        |r| r.get(0),
    ))?;
    match issue {
        Some(i) => issue_by_id(conn, i),
        None => Ok(None),
    }
}

fn comment_by_id(conn: &Connection, id: i64) -> Result<Option<(Issue, stored::Comment)>> {
    let Some(issue) = issue_of(conn, "comments", id)? else {
        return Ok(None);
    };
    Ok(stored::comment(conn, issue.id, id)?.map(|c| (issue, c)))
}

fn review_by_id(conn: &Connection, id: i64) -> Result<Option<(Issue, db::pulls::Review)>> {
    let Some(issue) = issue_of(conn, "reviews", id)? else {
        return Ok(None);
    };
    let review = db::pulls::reviews(conn, issue.id)?.into_iter().find(|r| r.id == id);
    Ok(review.map(|r| (issue, r)))
}

fn deployment_status_by_id(
    conn: &Connection,
    id: i64,
) -> Result<Option<(db::environments::DeploymentId, db::environments::Status)>> {
    let deployment: Option<i64> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT deployment_id FROM deployment_statuses WHERE id = ?1",
        [id],
        |r| r.get(0),
    ))?;
    let Some(d) = deployment.map(db::environments::DeploymentId) else {
        return Ok(None);
    };
    let status = db::environments::statuses(conn, d)?.into_iter().find(|s| s.id == id);
    Ok(status.map(|s| (d, s)))
}

/// A ref update's `push`, and its `create` or `delete`.
fn push(cx: &mut Context, path: &std::path::Path, update_id: i64) -> Result<Vec<Payload>> {
    let row: Option<(String, String, String, Option<String>)> =
        rusqlite::OptionalExtension::optional(cx.conn.query_row(
            "SELECT u.ref_name, u.old_id, u.new_id, p.name FROM ref_updates u LEFT JOIN users p ON p.id = u.pusher_id
         WHERE u.id = ?1",
            [update_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        ))?;
    let Some((ref_name, before, after, pusher)) = row else {
        return Ok(Vec::new());
    };
    let pusher_name = pusher.clone().unwrap_or_else(|| cx.repo.owner.clone());
    let pusher_email = db::users::by_name(cx.conn, &pusher_name)?
        .and_then(|u| u.email)
        .unwrap_or_default();
    let (created, deleted) = (before == ZERO_ID, after == ZERO_ID);
    let repo = crate::git::open(path)?;
    let (commits, head) = push_commits(cx, &repo, &ref_name, &before, &after)?;
    let forced = !created && !deleted && !crate::git::merge::is_ancestor(&repo, &before, &after).unwrap_or(false);
    let compare = if created || deleted {
        format!("{}/compare/{}", cx.site.html(cx.repo), short_ref(&ref_name))
    } else {
        format!("{}/compare/{}...{}", cx.site.html(cx.repo), &before[..12], &after[..12])
    };
    let mut out = vec![cx.payload(
        "push",
        None,
        json!({
            "ref": ref_name,
            "before": before,
            "after": after,
            "created": created,
            "deleted": deleted,
            "forced": forced,
            "base_ref": null,
            "compare": compare,
            "commits": commits,
            "head_commit": head,
            "pusher": { "name": pusher_name, "email": pusher_email },
        }),
    )];
    let ref_type = if ref_name.starts_with("refs/tags/") {
        "tag"
    } else {
        "branch"
    };
    if created {
        out.push(cx.payload(
            "create",
            None,
            json!({
                "ref": short_ref(&ref_name),
                "ref_type": ref_type,
                "master_branch": cx.repo.default_branch,
                "description": if cx.repo.description.is_empty() { Value::Null } else { json!(cx.repo.description) },
                "pusher_type": "user",
            }),
        ));
    } else if deleted {
        out.push(cx.payload(
            "delete",
            None,
            json!({ "ref": short_ref(&ref_name), "ref_type": ref_type, "pusher_type": "user" }),
        ));
    }
    Ok(out)
}

fn short_ref(name: &str) -> &str {
    name.strip_prefix("refs/heads/")
        .or_else(|| name.strip_prefix("refs/tags/"))
        .unwrap_or(name)
}

/// The commits a push brought (at most `PUSH_COMMITS`, newest last) and
/// the one its ref now points at.
fn push_commits(
    cx: &Context,
    repo: &gix::Repository,
    ref_name: &str,
    before: &str,
    after: &str,
) -> Result<(Vec<Value>, Value)> {
    if after == ZERO_ID {
        return Ok((Vec::new(), Value::Null));
    }
    let base = if before != ZERO_ID {
        Some(before.to_string())
    } else if ref_name.starts_with("refs/heads/") {
        // A new branch brings what the default branch lacks.
        crate::git::read::refs(repo)?
            .into_iter()
            .find(|r| !r.is_tag && r.name == cx.repo.default_branch && format!("refs/heads/{}", r.name) != ref_name)
            .map(|r| r.commit.to_string())
    } else {
        None
    };
    let ids = match &base {
        Some(b) => crate::git::merge::commits_between(repo, b, after)
            .unwrap_or(None)
            .unwrap_or_default(),
        // The first branch of a repository: its history is new.
        None if ref_name.starts_with("refs/heads/") => {
            let (newest_first, _) =
                crate::git::read::log(repo, crate::git::object_id(after)?, "", false, 0, PUSH_COMMITS)?;
            newest_first.into_iter().rev().map(|c| c.id).collect()
        }
        None => Vec::new(),
    };
    let distinct = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<std::collections::HashSet<_>>();
    let shown = &ids[ids.len().saturating_sub(PUSH_COMMITS)..];
    let mut commits = Vec::new();
    for id in shown {
        commits.push(push_commit(cx, repo, *id, true)?);
    }
    let head_id = crate::git::object_id(after)?;
    let head = match repo.find_commit(head_id) {
        Ok(_) => push_commit(cx, repo, head_id, distinct.contains(after))?,
        // A tag of a tree or a blob: no commit to show.
        Err(_) => Value::Null,
    };
    Ok((commits, head))
}

fn push_commit(cx: &Context, repo: &gix::Repository, id: gix::ObjectId, distinct: bool) -> Result<Value> {
    use crate::git::read::{self, Status as Change};
    let info = read::commit_info(repo, id)?;
    let tree = repo
        .find_commit(id)
        .ok()
        .and_then(|c| c.tree_id().ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let listing = read::Limits {
        max_files: 0,
        max_file_lines: 0,
        max_total_lines: 0,
        max_blob_bytes: 0,
        max_total_bytes: 0,
    };
    let (mut added, mut removed, mut modified) = (Vec::new(), Vec::new(), Vec::new());
    if let Ok(diff) = read::diff(repo, id, listing) {
        for f in diff.files {
            match f.status {
                Change::Added | Change::Copied => added.push(f.new_path),
                Change::Deleted => removed.push(f.old_path),
                Change::Modified => modified.push(f.new_path),
                Change::Renamed => {
                    removed.push(f.old_path);
                    added.push(f.new_path);
                }
            }
        }
    }
    let login = |email: &str| -> Option<String> {
        cx.conn
            .query_row("SELECT name FROM users WHERE email = ?1 COLLATE NOCASE", [email], |r| {
                r.get(0)
            })
            .ok()
    };
    let person = |p: &read::Person| {
        let mut v = github::committer(&p.name, &p.email, Some(p.time));
        if let Some(l) = login(&p.email) {
            v["username"] = json!(l);
        }
        v
    };
    Ok(json!({
        "id": id.to_string(),
        "tree_id": tree,
        "distinct": distinct,
        "message": info.message,
        "timestamp": crate::time::rfc3339(info.committer.time),
        "url": format!("{}/commit/{id}", cx.site.html(cx.repo)),
        "author": person(&info.author),
        "committer": person(&info.committer),
        "added": added,
        "removed": removed,
        "modified": modified,
    }))
}
