//! Commit statuses from outside systems (`POST …/statuses/{sha}`): GitHub's
//! shapes and validation, the combined status, Hearth's jobs as check runs,
//! the statuses on the pages that show a commit's status, and a status as a
//! protected branch's required check, for a merge and for a push.

mod common;

use common::ci::{Repo, repo};
use serde_json::{Value, json};

fn call(r: &Repo, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    r.server.api(
        method,
        &format!("/api/v1/repos/{}{path}", r.slug),
        Some(token),
        if body.is_null() { None } else { Some(body) },
    )
}

fn post(r: &Repo, sha: &str, body: Value) -> (u16, Value) {
    call(r, "POST", &format!("/statuses/{sha}"), &r.token, body)
}

#[test]
fn statuses_combine_show_and_are_checked() {
    let r = repo();
    let sha = r.commit_and_push("First", "main");

    let (status, made) = post(
        &r,
        &sha,
        json!({ "state": "pending", "context": "ci/outside", "description": "Building", "target_url": "https://ci.example.com/1" }),
    );
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["state"], "pending");
    assert_eq!(made["context"], "ci/outside");
    assert_eq!(made["creator"]["login"], "alice");
    assert_eq!(
        made["url"],
        format!("{}/api/v1/repos/{}/statuses/{sha}", r.server.base, r.slug)
    );

    // Bad input is refused with GitHub's 422 and the reason.
    for (body, why) in [
        (json!({ "state": "done" }), "state must be one of"),
        (json!({}), "state must be one of"),
        (
            json!({ "state": "success", "description": "x".repeat(141) }),
            "at most 140",
        ),
        (
            json!({ "state": "success", "target_url": "javascript:alert(1)" }),
            "http://",
        ),
        (json!({ "state": "success", "context": "a\u{0}b" }), "control"),
    ] {
        let (status, refused) = post(&r, &sha, body.clone());
        assert_eq!(status, 422, "{body}: {refused}");
        assert!(refused["message"].as_str().unwrap().contains(why), "{body}: {refused}");
        assert!(refused["errors"][0]["message"].is_string(), "{refused}");
    }
    let (status, refused) = post(&r, &"0".repeat(40), json!({ "state": "success" }));
    assert_eq!(status, 422, "{refused}");
    let (status, refused) = post(&r, &sha[..12], json!({ "state": "success" }));
    assert_eq!(status, 422, "{refused}");
    // Someone who may only read may not say how a commit is.
    let reader = r.server.user("rita", "pw-rita-12", false);
    let (status, _) = call(
        &r,
        "POST",
        &format!("/statuses/{sha}"),
        &reader,
        json!({ "state": "success" }),
    );
    assert!(status == 403 || status == 404, "{status}");

    // The combined status: a context's newest status counts.
    let (_, combined) = call(&r, "GET", "/commits/main/status", &r.token, Value::Null);
    assert_eq!(combined["state"], "pending", "{combined}");
    post(&r, &sha, json!({ "state": "success", "context": "ci/outside" }));
    post(&r, &sha, json!({ "state": "failure", "context": "lint" }));
    let (_, combined) = call(&r, "GET", &format!("/commits/{sha}/status"), &r.token, Value::Null);
    assert_eq!(combined["state"], "failure", "{combined}");
    assert_eq!(combined["total_count"], 2);
    assert_eq!(combined["sha"], sha);
    assert_eq!(combined["repository"]["full_name"], r.slug);
    post(&r, &sha, json!({ "state": "success", "context": "lint" }));
    let (_, combined) = call(&r, "GET", "/commits/main/status", &r.token, Value::Null);
    assert_eq!(combined["state"], "success", "{combined}");
    let (_, all) = call(&r, "GET", "/commits/main/statuses", &r.token, Value::Null);
    assert_eq!(all.as_array().unwrap().len(), 4, "every status is kept: {all}");
    assert_eq!(all[0]["context"], "lint", "newest first");

    // Where a commit's status shows, so do they.
    let page = common::client()
        .get(r.server.url(&format!("/{}/commits/main", r.slug)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("ci/outside") && page.contains("lint"),
        "the commit list shows the statuses"
    );

    // Hearth's own jobs are the commit's check runs.
    let second = r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  test:\n    steps:\n      - run: echo ok\n",
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success", "{run}");
    let (_, checks) = call(
        &r,
        "GET",
        &format!("/commits/{second}/check-runs"),
        &r.token,
        Value::Null,
    );
    assert_eq!(checks["total_count"], 1, "{checks}");
    assert_eq!(checks["check_runs"][0]["name"], "test");
    assert_eq!(checks["check_runs"][0]["status"], "completed");
    assert_eq!(checks["check_runs"][0]["conclusion"], "success");
    assert_eq!(checks["check_runs"][0]["head_sha"], second);
}

#[test]
fn an_outside_status_is_a_required_check() {
    let r = repo();
    r.commit_and_push("First", "main");
    let (status, rule) = call(
        &r,
        "PUT",
        "/branches/main/protection",
        &r.token,
        json!({ "required_status_checks": { "strict": false, "contexts": ["deploy/preview"] },
                "enforce_admins": true, "required_pull_request_reviews": null, "restrictions": null }),
    );
    assert_eq!(status, 200, "{rule}");

    // A pull request waits for the outside system.
    let head = r.commit_and_push("Change", "topic");
    let (status, pull) = call(
        &r,
        "POST",
        "/pulls",
        &r.token,
        json!({ "title": "Change", "head": "topic", "base": "main" }),
    );
    assert_eq!(status, 201, "{pull}");
    let merge = |r: &Repo| call(r, "PUT", "/pulls/1/merge", &r.token, json!({ "merge_method": "merge" }));
    let (status, refused) = merge(&r);
    assert_eq!(status, 405, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("\"deploy/preview\" has not run"),
        "{refused}"
    );
    post(&r, &head, json!({ "state": "pending", "context": "deploy/preview" }));
    let (status, refused) = merge(&r);
    assert_eq!(status, 405, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("still running"),
        "{refused}"
    );
    post(&r, &head, json!({ "state": "error", "context": "deploy/preview" }));
    let (status, refused) = merge(&r);
    assert_eq!(status, 405, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("failure"), "{refused}");
    // The pull request's page lists it beside the runs.
    let page = common::client()
        .get(r.server.url(&format!("/{}/pulls/1", r.slug)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("deploy/preview"), "the pull request shows the status");
    post(&r, &head, json!({ "state": "success", "context": "deploy/preview" }));
    let (status, merged) = merge(&r);
    assert_eq!(status, 200, "{merged}");

    // A direct push: only a commit the outside system passed may land.
    let url = r.server.cred_url(&r.user, &r.token, &format!("/{}.git", r.slug));
    r.git.ok(Some(&r.work), &["fetch", "-q", &url, "main"]);
    r.git.ok(Some(&r.work), &["reset", "-q", "--hard", "FETCH_HEAD"]);
    r.git
        .ok(Some(&r.work), &["commit", "-q", "--allow-empty", "-m", "Direct"]);
    let direct = r.git.ok(Some(&r.work), &["rev-parse", "HEAD"]).trim().to_string();
    r.git
        .ok(Some(&r.work), &["push", "-q", &url, "HEAD:refs/heads/staging"]);
    let out = r.git.run(Some(&r.work), &["push", &url, "HEAD:refs/heads/main"]);
    assert!(!out.status.success(), "refused without the status");
    assert!(String::from_utf8_lossy(&out.stderr).contains("deploy/preview"));
    post(&r, &direct, json!({ "state": "success", "context": "deploy/preview" }));
    r.git.ok(Some(&r.work), &["push", "-q", &url, "HEAD:refs/heads/main"]);
}
