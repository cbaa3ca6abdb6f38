//! Issues, their labels, milestones and comments, and notification threads.

use serde_json::{Value, json};

use super::repos::repository_lite;
use super::site::*;
use crate::db;
use crate::db::issues::{Comment, Issue, Label, Milestone};
use crate::db::repos::Repo;
use crate::time::rfc3339;

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
