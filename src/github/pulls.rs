//! Pull requests and their reviews.

use serde_json::{Value, json};

use super::issues::{label, milestone};
use super::repos::repository;
use super::site::*;
use crate::db;
use crate::db::issues::Milestone;
use crate::db::pulls::Pull;
use crate::db::repos::Repo;
use crate::time::rfc3339;

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
    pub stats: Option<&'a PullStats>,
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

/// The `pull_request` activity types that start workflows here.
pub const PULL_REQUEST_ACTIONS: [&str; 7] = [
    "opened",
    "synchronize",
    "reopened",
    "closed",
    "edited",
    "converted_to_draft",
    "ready_for_review",
];

/// Sizes of a pull request's change, for GitHub's full pull request object.
#[derive(Debug, Clone, Copy, Default)]
pub struct PullStats {
    pub commits: usize,
    /// Line comments (GitHub's `review_comments`).
    pub review_comments: usize,
    pub additions: usize,
    pub deletions: usize,
    pub changed_files: usize,
}

/// `github.event` of a `pull_request` run: GitHub's payload of the event,
/// its URLs paths on this server. `people` names who is in it.
pub fn pull_request_event(
    repo: &Repo,
    pull: &Pull,
    action: &str,
    sender: Option<&str>,
    people: &People,
) -> serde_json::Value {
    let site = Site::new("");
    let owner = people.user(&site, &repo.owner);
    let repository = repository(&site, repo, &owner, &Default::default());
    let mut pr = pull_request(
        &site,
        repo,
        &PullParts {
            pull,
            people,
            milestone: None,
            association: if pull.issue.author.eq_ignore_ascii_case(&repo.owner) {
                "OWNER"
            } else {
                "CONTRIBUTOR"
            },
            reviewers: &[],
            repository: &repository,
            stats: Some(&PullStats::default()),
        },
    );
    // What is not worked out for an event is left out rather than said wrong.
    if let Some(o) = pr.as_object_mut() {
        for k in ["commits", "additions", "deletions", "changed_files", "review_comments"] {
            o.remove(k);
        }
    }
    serde_json::json!({
        "action": action,
        "number": pull.number().0,
        "pull_request": pr,
        "repository": repository,
        "sender": people.user(&site, sender.unwrap_or(&pull.issue.author)),
    })
}
