//! Pull requests and protected branches with the real git, the real server
//! and the API: a pull request's CI runs on its test merge, reviews and line
//! comments, required checks and approvals holding a merge back, the three
//! ways of merging, conflicts, and pushes that a protected branch refuses.

mod common;

use std::time::{Duration, Instant};

use common::ci::{Repo, repo};
use common::{csrf_of, sign_in};
use serde_json::{Value, json};

fn call(r: &Repo, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    r.server.api(
        method,
        &format!("/api/v1/repos/{}{path}", r.slug),
        Some(token),
        if body.is_null() { None } else { Some(body) },
    )
}

/// bob, who may push to alice/demo.
fn collaborator(r: &Repo) -> String {
    let bob = r.server.user("bob", "pw-bob-123", false);
    let (status, body) = call(r, "PUT", "/collaborators/bob", &r.token, json!({"permission": "write"}));
    assert_eq!(status, 204, "{body}");
    bob
}

/// Pushes what is in the work tree to `branch`; returns git's output (with the `remote:` lines).
fn push(r: &Repo, message: &str, branch: &str, who: (&str, &str), extra: &[&str]) -> (bool, String, String) {
    r.git.ok(Some(&r.work), &["add", "-A"]);
    r.git
        .ok(Some(&r.work), &["commit", "-q", "--allow-empty", "-m", message]);
    let url = r.server.cred_url(who.0, who.1, &format!("/{}.git", r.slug));
    let mut args = vec!["push", &url];
    args.extend_from_slice(extra);
    let spec = format!("HEAD:refs/heads/{branch}");
    args.push(&spec);
    let out = r.git.run(Some(&r.work), &args);
    let sha = r.git.ok(Some(&r.work), &["rev-parse", "HEAD"]).trim().to_string();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        sha,
    )
}

fn remote_refs(r: &Repo) -> Vec<String> {
    let url = r.server.cred_url(&r.user, &r.token, &format!("/{}.git", r.slug));
    r.git
        .ok(Some(&r.work), &["ls-remote", &url])
        .lines()
        .map(str::to_string)
        .collect()
}

fn runs_where(r: &Repo, f: impl Fn(&Value) -> bool) -> Vec<Value> {
    r.runs().into_iter().filter(|run| f(run)).collect()
}

/// Waits for a completed pull request run of head `head`.
fn pull_run(r: &Repo, head: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = runs_where(r, |run| run["event"] == "pull_request" && run["status"] == "completed");
        if let Some(run) = found.into_iter().find(|run| {
            let log = r.log(&r.jobs(run)[0]);
            log.contains(&format!("HEAD_SHA={head}"))
        }) {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "no pull request run of {head}: {:?}",
            r.runs()
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

const WORKFLOW: &str = r#"on:
  push:
    branches: [main]
  pull_request:
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "REF=$GITHUB_REF HEAD=$GITHUB_HEAD_REF BASE=$GITHUB_BASE_REF EVENT=$GITHUB_EVENT_NAME"
          echo "HEAD_SHA=${{ github.event.pull_request.head.sha }} NUMBER=${{ github.event.number }}"
          git --version >/dev/null 2>&1 || true
          test ! -e FAIL
"#;

#[test]
fn a_pull_request_is_checked_on_its_merge_reviewed_and_merged_only_when_green_and_approved() {
    let r = repo();
    let bob = collaborator(&r);
    r.push_workflow("ci.yml", WORKFLOW, "main");
    r.wait_run(1);
    let (status, issue) = call(
        &r,
        "POST",
        "/issues",
        &r.token,
        json!({"title": "The greeting is wrong"}),
    );
    assert_eq!(status, 201, "{issue}");
    assert_eq!(issue["number"], 1);

    // bob's branch, with a file that fails the check.
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "topic"]);
    std::fs::write(r.work.join("a.txt"), "one\ntwo\nthree\n").unwrap();
    std::fs::write(r.work.join("FAIL"), "").unwrap();
    let (ok, out, first) = push(&r, "Add a.txt", "topic", ("bob", &bob), &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "remote: Create a pull request for 'topic': {}",
            r.server.url("/alice/demo/pulls/new?head=topic")
        )),
        "{out}"
    );

    // Bad requests say why and change nothing.
    for (body, why) in [
        (json!({"title": "x", "head": "topic", "base": "topic"}), "same branch"),
        (
            json!({"title": "x", "head": "nope", "base": "main"}),
            "no branch named \"nope\"",
        ),
        (json!({"title": "", "head": "topic", "base": "main"}), "title"),
    ] {
        let (status, answer) = call(&r, "POST", "/pulls", &bob, body);
        assert_eq!(status, 422, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(why), "{answer}");
    }
    let (status, pull) = call(
        &r,
        "POST",
        "/pulls",
        &bob,
        json!({"title": "Fix the greeting", "head": "topic", "base": "main", "body": "Fixes #1"}),
    );
    assert_eq!(status, 201, "{pull}");
    assert_eq!(pull["number"], 2, "numbers are shared with issues");
    assert_eq!(pull["head"]["sha"], first.as_str());
    assert_eq!(pull["base"]["ref"], "main");
    assert_eq!(pull["commits"], 1);
    assert_eq!(pull["changed_files"], 2);
    // Every field GitHub's OpenAPI description requires of a pull request
    // (components/schemas/pull-request in github/rest-api-description).
    for key in [
        "_links",
        "assignee",
        "labels",
        "base",
        "body",
        "closed_at",
        "comments_url",
        "commits_url",
        "created_at",
        "diff_url",
        "head",
        "html_url",
        "id",
        "node_id",
        "issue_url",
        "merge_commit_sha",
        "merged_at",
        "milestone",
        "number",
        "patch_url",
        "review_comment_url",
        "review_comments_url",
        "statuses_url",
        "state",
        "locked",
        "title",
        "updated_at",
        "url",
        "user",
        "author_association",
        "auto_merge",
        "additions",
        "changed_files",
        "comments",
        "commits",
        "deletions",
        "mergeable",
        "mergeable_state",
        "merged",
        "maintainer_can_modify",
        "merged_by",
        "review_comments",
    ] {
        assert!(pull.get(key).is_some(), "a pull request has {key}: {pull}");
    }
    let (status, again) = call(
        &r,
        "POST",
        "/pulls",
        &bob,
        json!({"title": "Again", "head": "topic", "base": "main"}),
    );
    assert_eq!(status, 422);
    assert!(
        again["message"].as_str().unwrap().contains("open already: #2"),
        "{again}"
    );
    let (_, issues) = call(&r, "GET", "/issues?state=all", &r.token, Value::Null);
    assert_eq!(
        issues.as_array().unwrap().len(),
        2,
        "the issues API lists pull requests too, as GitHub's does"
    );

    // main is protected: one approval, the check "test", stale approvals dismissed.
    let (status, rule) = call(
        &r,
        "PUT",
        "/branches/main/protection",
        &r.token,
        json!({
            "required_status_checks": {"strict": false, "contexts": ["test"]},
            "enforce_admins": true,
            "required_pull_request_reviews": {"dismiss_stale_reviews": true, "required_approving_review_count": 1},
            "restrictions": null
        }),
    );
    assert_eq!(status, 200, "{rule}");
    assert_eq!(rule["required_status_checks"]["contexts"], json!(["test"]));
    assert_eq!(
        rule["required_pull_request_reviews"]["required_approving_review_count"],
        1
    );

    // The pull request's run is of the test merge, with GitHub's variables.
    let run = pull_run(&r, &first);
    assert_eq!(run["conclusion"], "failure");
    let log = r.log(&r.jobs(&run)[0]);
    assert!(
        log.contains("REF=refs/pull/2/merge HEAD=topic BASE=main EVENT=pull_request"),
        "{log}"
    );
    assert!(log.contains("NUMBER=2"), "{log}");
    let (_, got) = call(&r, "GET", "/pulls/2", &r.token, Value::Null);
    assert_eq!(
        run["head_sha"], got["merge_commit_sha"],
        "the run checks out the test merge"
    );
    let refs = remote_refs(&r);
    assert!(
        refs.iter()
            .any(|l| l.ends_with("refs/pull/2/head") && l.starts_with(&first)),
        "{refs:?}"
    );
    assert!(refs.iter().any(|l| l.ends_with("refs/pull/2/merge")), "{refs:?}");
    let url = r.server.cred_url("alice", &r.token, "/alice/demo.git");
    r.git.ok(Some(&r.work), &["fetch", "-q", &url, "pull/2/merge"]);
    let merge_parents = r.git.ok(Some(&r.work), &["log", "-1", "--format=%P", "FETCH_HEAD"]);
    assert!(
        merge_parents.trim().ends_with(&first),
        "the test merge has the head as its second parent"
    );

    // Not approved and red: the merge is refused, saying why.
    let (status, refused) = call(&r, "PUT", "/pulls/2/merge", &r.token, json!({"merge_method": "squash"}));
    assert_eq!(status, 405, "{refused}");
    let why = refused["message"].as_str().unwrap();
    assert!(why.contains("1 approving review"), "{why}");
    assert!(why.contains("\"test\" ended with failure"), "{why}");

    // Reviews: the author cannot approve, a line outside the diff is refused.
    let (status, own) = call(&r, "POST", "/pulls/2/reviews", &bob, json!({"event": "APPROVE"}));
    assert_eq!(status, 422, "{own}");
    let (status, off) = call(
        &r,
        "POST",
        "/pulls/2/comments",
        &r.token,
        json!({"path": "a.txt", "line": 40, "side": "RIGHT", "body": "?"}),
    );
    assert_eq!(status, 422, "{off}");
    assert!(
        off["message"].as_str().unwrap().contains("not part of the diff"),
        "{off}"
    );
    let (status, review) = call(
        &r,
        "POST",
        "/pulls/2/reviews",
        &r.token,
        json!({"event": "APPROVE", "body": "Good", "comments": [{"path": "a.txt", "line": 2, "body": "Say two twice?"}]}),
    );
    assert_eq!(status, 200, "{review}");
    assert_eq!(review["state"], "APPROVED");
    let (_, comments) = call(&r, "GET", "/pulls/2/comments", &r.token, Value::Null);
    assert_eq!(comments[0]["line"], 2);
    assert_eq!(comments[0]["path"], "a.txt");
    assert!(
        comments[0]["diff_hunk"].as_str().unwrap().ends_with("+two"),
        "{comments}"
    );
    let files = r.server.get("/alice/demo/pulls/2/files").text().unwrap();
    assert!(
        files.contains("Say two twice?") && !files.contains("outdated"),
        "the comment sits under its line"
    );

    // A second push: a new run, the approval dismissed, the line comment outdated.
    std::fs::remove_file(r.work.join("FAIL")).unwrap();
    std::fs::write(r.work.join("a.txt"), "one\nTWO\nthree\n").unwrap();
    let (ok, out, second) = push(&r, "Fix a.txt", "topic", ("bob", &bob), &[]);
    assert!(ok, "{out}");
    assert!(out.contains("remote: View pull request #2 for 'topic'"), "{out}");
    let run = pull_run(&r, &second);
    assert_eq!(run["conclusion"], "success");
    let (_, reviews) = call(&r, "GET", "/pulls/2/reviews", &r.token, Value::Null);
    assert_eq!(reviews[0]["state"], "DISMISSED", "{reviews}");
    let files = r.server.get("/alice/demo/pulls/2/files").text().unwrap();
    assert!(files.contains("outdated"), "the comment on the old line is outdated");
    let (status, refused) = call(&r, "PUT", "/pulls/2/merge", &r.token, json!({"merge_method": "squash"}));
    assert_eq!(status, 405, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("approving review"),
        "{refused}"
    );

    // Approved again and green: a stale sha is refused, the right one merges.
    let (status, _) = call(&r, "POST", "/pulls/2/reviews", &r.token, json!({"event": "APPROVE"}));
    assert_eq!(status, 200);
    let (status, stale) = call(
        &r,
        "PUT",
        "/pulls/2/merge",
        &r.token,
        json!({"merge_method": "squash", "sha": first}),
    );
    assert_eq!(status, 409, "{stale}");
    let before = r.runs().len();
    let (status, merged) = call(
        &r,
        "PUT",
        "/pulls/2/merge",
        &r.token,
        json!({"merge_method": "squash", "sha": second, "delete_branch": true}),
    );
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["merged"], true);
    let sha = merged["sha"].as_str().unwrap().to_string();
    let (status, _) = call(&r, "GET", "/pulls/2/merge", &r.token, Value::Null);
    assert_eq!(status, 204);
    let (_, issue) = call(&r, "GET", "/issues/1", &r.token, Value::Null);
    assert_eq!(issue["state"], "closed", "the description's `Fixes #1` closed it");
    let refs = remote_refs(&r);
    assert!(refs.iter().any(|l| *l == format!("{sha}\trefs/heads/main")), "{refs:?}");
    assert!(
        !refs.iter().any(|l| l.ends_with("refs/heads/topic")),
        "the branch was deleted: {refs:?}"
    );
    assert!(
        refs.iter().any(|l| l.ends_with("refs/pull/2/head")),
        "the head ref stays: {refs:?}"
    );
    assert!(
        !refs.iter().any(|l| l.ends_with("refs/pull/2/merge")),
        "the test merge goes: {refs:?}"
    );
    let url = r.server.cred_url("alice", &r.token, "/alice/demo.git");
    r.git.ok(Some(&r.work), &["fetch", "-q", &url, "main"]);
    let log = r
        .git
        .ok(Some(&r.work), &["log", "--format=%s|%an|%cn|%P", "-1", "FETCH_HEAD"]);
    assert!(log.starts_with("Fix the greeting (#2)|Test Person|alice|"), "{log}");
    assert_eq!(
        log.trim().rsplit('|').next().unwrap().split(' ').count(),
        1,
        "a squash has one parent: {log}"
    );
    let runs = r.runs();
    assert!(runs.len() > before, "the merge started a push run");
    assert!(
        runs.iter()
            .any(|run| run["event"] == "push" && run["head_sha"] == sha.as_str()),
        "a push run on main for the squashed commit: {runs:?}"
    );
    let page = r.server.get("/alice/demo/pulls/2").text().unwrap();
    assert!(
        page.contains("Merged") && page.contains("approved these changes"),
        "the conversation shows it"
    );
    assert!(
        page.contains(&format!("/alice/demo/runs/{}", run["run_number"])),
        "the pull request lists its runs"
    );
    let body = r.git.ok(Some(&r.work), &["log", "-1", "--format=%B", "FETCH_HEAD"]);
    assert!(
        body.contains("* Add a.txt") && body.contains("* Fix a.txt"),
        "the squash lists its commits: {body}"
    );
    let pushes = r.server.get("/alice/demo").status();
    assert_eq!(pushes, 200);
}

#[test]
fn a_protected_branch_refuses_direct_pushes_force_pushes_and_deletion() {
    let r = repo();
    let bob = collaborator(&r);
    r.commit_and_push("First", "main");
    let first = r.commit_and_push("Second", "main");
    let (status, _) = call(
        &r,
        "PUT",
        "/branches/main/protection",
        &r.token,
        json!({"required_status_checks": null, "enforce_admins": true,
               "required_pull_request_reviews": {"required_approving_review_count": 1}, "restrictions": null}),
    );
    assert_eq!(status, 200);
    let refused = |out: &str, why: &str| {
        assert!(
            out.contains(&format!(
                "remote: refs/heads/main is protected by the rule \"main\": {why}"
            )),
            "{out}"
        );
    };
    let (ok, out, _) = push(&r, "Direct", "main", ("bob", &bob), &[]);
    assert!(!ok);
    refused(&out, "changes must be made through a pull request");
    // The owner too, since the rule includes administrators; and no force-push.
    r.git.ok(Some(&r.work), &["reset", "-q", "--hard", "HEAD~2"]);
    let (ok, out, _) = push(&r, "Rewritten", "main", ("alice", &r.token), &["--force"]);
    assert!(!ok);
    refused(&out, "force-pushes are not allowed");
    let url = r.server.cred_url("alice", &r.token, "/alice/demo.git");
    let out = r.git.run(Some(&r.work), &["push", &url, ":refs/heads/main"]);
    assert!(!out.status.success());
    refused(&String::from_utf8_lossy(&out.stderr), "it cannot be deleted");
    let refs = remote_refs(&r);
    assert!(
        refs.iter().any(|l| *l == format!("{first}\trefs/heads/main")),
        "main is unchanged: {refs:?}"
    );
    // Nobody pushes pull request refs.
    let out = r.git.run(Some(&r.work), &["push", &url, "HEAD:refs/pull/1/head"]);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Other branches are not protected; bypass users may push directly.
    let (ok, out, _) = push(&r, "Topic", "topic", ("bob", &bob), &[]);
    assert!(ok, "{out}");
    let (status, _) = call(
        &r,
        "PUT",
        "/branches/main/protection",
        &r.token,
        json!({"required_status_checks": null, "enforce_admins": false,
               "required_pull_request_reviews": {"required_approving_review_count": 1,
                   "bypass_pull_request_allowances": {"users": ["bob"]}}, "restrictions": null}),
    );
    assert_eq!(status, 200);
    r.git.ok(Some(&r.work), &["reset", "-q", "--hard", &first]);
    let (ok, out, _) = push(&r, "Allowed", "main", ("bob", &bob), &[]);
    assert!(ok, "{out}");
    let (status, gone) = call(&r, "DELETE", "/branches/main/protection", &r.token, Value::Null);
    assert_eq!(status, 204, "{gone}");
    let (status, _) = call(&r, "GET", "/branches/main/protection", &r.token, Value::Null);
    assert_eq!(status, 404);
    let (status, _) = call(&r, "GET", "/branches/main/protection", &bob, Value::Null);
    assert_eq!(status, 403, "only admins see the rules");
}

#[test]
fn merge_commits_rebases_and_conflicts() {
    let r = repo();
    std::fs::write(r.work.join("a.txt"), "1\n2\n3\n").unwrap();
    let base = r.commit_and_push("Base", "main");
    // feature: fast-forwards by rebase; side: merges with a merge commit.
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "feature"]);
    std::fs::write(r.work.join("b.txt"), "b\n").unwrap();
    let feature = r.commit_and_push("Add b", "feature");
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "side", &base]);
    std::fs::write(r.work.join("c.txt"), "c\n").unwrap();
    r.commit_and_push("Add c", "side");
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "clash", &base]);
    std::fs::write(r.work.join("a.txt"), "1\nclash\n3\n").unwrap();
    r.commit_and_push("Clash", "clash");
    for (head, title) in [("feature", "Feature"), ("side", "Side"), ("clash", "Clash")] {
        let (status, body) = call(
            &r,
            "POST",
            "/pulls",
            &r.token,
            json!({"title": title, "head": head, "base": "main"}),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (status, merged) = call(&r, "PUT", "/pulls/1/merge", &r.token, json!({"merge_method": "rebase"}));
    assert_eq!(status, 200, "{merged}");
    assert_eq!(
        merged["sha"],
        feature.as_str(),
        "a head on top of the base fast-forwards"
    );
    let (status, merged) = call(&r, "PUT", "/pulls/2/merge", &r.token, json!({"merge_method": "merge"}));
    assert_eq!(status, 200, "{merged}");
    let url = r.server.cred_url("alice", &r.token, "/alice/demo.git");
    r.git.ok(Some(&r.work), &["fetch", "-q", &url, "main"]);
    let parents = r.git.ok(Some(&r.work), &["log", "-1", "--format=%P%n%s", "FETCH_HEAD"]);
    assert_eq!(parents.lines().next().unwrap().split(' ').count(), 2, "{parents}");
    assert!(parents.contains("Merge pull request #2 from side"), "{parents}");
    // main moved: the clash now conflicts in a.txt with main's... it did not
    // touch a.txt, so push a change that does.
    r.git.ok(Some(&r.work), &["checkout", "-q", "-B", "main", "FETCH_HEAD"]);
    std::fs::write(r.work.join("a.txt"), "1\nmain\n3\n").unwrap();
    r.commit_and_push("Main changes a", "main");
    let deadline = Instant::now() + Duration::from_secs(10);
    let pull = loop {
        let (_, p) = call(&r, "GET", "/pulls/3", &r.token, Value::Null);
        if p["mergeable"] == false || Instant::now() > deadline {
            break p;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(pull["mergeable"], false, "{pull}");
    assert_eq!(pull["mergeable_state"], "dirty");
    let (status, refused) = call(&r, "PUT", "/pulls/3/merge", &r.token, json!({}));
    assert_eq!(status, 405);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("conflicts with main: a.txt"),
        "{refused}"
    );
    let page = r.server.get("/alice/demo/pulls/3").text().unwrap();
    assert!(
        page.contains("This branch has conflicts with main: a.txt"),
        "the page shows the conflict"
    );
    assert!(
        !remote_refs(&r).iter().any(|l| l.ends_with("refs/pull/3/merge")),
        "no test merge for a conflict"
    );
    // Squash and rebase may be switched off.
    let client = sign_in(&r.server, "alice", "pw-alice-1");
    let settings = client
        .get(r.server.url("/alice/demo/settings/branches"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let resp = client
        .post(r.server.url("/alice/demo/settings/merges"))
        .form(&[("csrf", csrf_of(&settings).as_str()), ("merge_commit", "on")])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    let (status, body) = call(&r, "PATCH", "/pulls/3", &r.token, json!({"state": "closed"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "closed");
    let (status, refused) = call(&r, "PUT", "/pulls/3/merge", &r.token, json!({"merge_method": "squash"}));
    assert_eq!(status, 405);
    assert!(refused["message"].as_str().unwrap().contains("closed"), "{refused}");
    // Deleting an open pull request's head branch closes it, as on GitHub.
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "gone", &base]);
    std::fs::write(r.work.join("d.txt"), "d\n").unwrap();
    r.commit_and_push("Add d", "gone");
    let (status, _) = call(
        &r,
        "POST",
        "/pulls",
        &r.token,
        json!({"title": "Gone", "head": "gone", "base": "main"}),
    );
    assert_eq!(status, 201);
    r.git.ok(Some(&r.work), &["push", "-q", &url, ":refs/heads/gone"]);
    let (_, gone) = call(&r, "GET", "/pulls/4", &r.token, Value::Null);
    assert_eq!(gone["state"], "closed", "{gone}");
    let page = r.server.get("/alice/demo/pulls/4").text().unwrap();
    assert!(page.contains("deleted the branch gone"), "the timeline says why");
}

#[test]
fn a_pull_request_is_opened_reviewed_and_merged_from_the_pages() {
    let r = repo();
    r.server.user("carol", "pw-carol-1", false);
    let (status, _) = call(
        &r,
        "PUT",
        "/collaborators/carol",
        &r.token,
        json!({"permission": "write"}),
    );
    assert_eq!(status, 204);
    std::fs::write(r.work.join("a.txt"), "1\n").unwrap();
    r.commit_and_push("Base", "main");
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "web"]);
    std::fs::write(r.work.join("a.txt"), "1\n2\n").unwrap();
    r.commit_and_push("Add a line", "web");

    let alice = sign_in(&r.server, "alice", "pw-alice-1");
    let form = alice
        .get(r.server.url("/alice/demo/pulls/new?base=main&head=web"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        form.contains("Add a line") && form.contains("a.txt"),
        "the comparison shows commits and files"
    );
    let resp = alice
        .post(r.server.url("/alice/demo/pulls/new"))
        .form(&[
            ("csrf", csrf_of(&form).as_str()),
            ("base", "main"),
            ("head", "web"),
            ("title", "From the page"),
            ("body", "Adds **a line**"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/alice/demo/pulls/1");
    let list = r.server.get("/alice/demo/pulls").text().unwrap();
    assert!(list.contains("From the page") && list.contains("web → main"), "{list}");
    let issues = r.server.get("/alice/demo/issues").text().unwrap();
    assert!(
        !issues.contains("From the page"),
        "the issue list leaves pull requests out"
    );
    let moved = r.server.get("/alice/demo/issues/1");
    assert_eq!(
        moved.headers()["location"],
        "/alice/demo/pulls/1",
        "an issue URL of a pull request leads to it"
    );
    let same = alice
        .post(r.server.url("/alice/demo/pulls/new"))
        .form(&[
            ("csrf", csrf_of(&form).as_str()),
            ("base", "web"),
            ("head", "web"),
            ("title", "x"),
        ])
        .send()
        .unwrap();
    assert_eq!(same.status(), 422);
    assert!(same.text().unwrap().contains("same branch"));

    // carol reviews from the files page: a line comment and an approval.
    let carol = sign_in(&r.server, "carol", "pw-carol-1");
    let files = carol
        .get(r.server.url("/alice/demo/pulls/1/files"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(files.contains("+2"), "{files}");
    let resp = carol
        .post(r.server.url("/alice/demo/pulls/1/reviews"))
        .form(&[
            ("csrf", csrf_of(&files).as_str()),
            ("path", "a.txt"),
            ("line", "2"),
            ("side", "RIGHT"),
            ("comment", "Nice line"),
            ("body", "Looks right"),
            ("event", "APPROVE"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    let bad = carol
        .post(r.server.url("/alice/demo/pulls/1/reviews"))
        .form(&[
            ("csrf", csrf_of(&files).as_str()),
            ("path", "a.txt"),
            ("line", "9"),
            ("comment", "Where?"),
            ("event", "COMMENT"),
        ])
        .send()
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().unwrap().contains("not part of the diff"));

    let page = alice
        .get(r.server.url("/alice/demo/pulls/1"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("approved these changes") && page.contains("Nice line"),
        "{page}"
    );
    let resp = alice
        .post(r.server.url("/alice/demo/pulls/1/merge"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("method", "merge"),
            ("delete_branch", "on"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    let page = r.server.get("/alice/demo/pulls/1").text().unwrap();
    assert!(page.contains("Merged"), "{page}");
    assert!(!remote_refs(&r).iter().any(|l| l.ends_with("refs/heads/web")));
}

#[test]
fn who_may_see_review_and_merge_a_pull_request() {
    let r = repo();
    r.server.create_repo(&r.token, "hidden", true);
    let bob = r.server.user("bob", "pw-bob-123", false);
    let mallory = r.server.user("mallory", "pw-mallory-1", false);
    let (status, _) = r.server.api(
        "PUT",
        "/api/v1/repos/alice/hidden/collaborators/bob",
        Some(&r.token),
        Some(json!({"permission": "read"})),
    );
    assert_eq!(status, 204);
    let url = r.server.cred_url("alice", &r.token, "/alice/hidden.git");
    r.git
        .ok(Some(&r.work), &["commit", "-q", "--allow-empty", "-m", "Base"]);
    r.git.ok(Some(&r.work), &["push", "-q", &url, "HEAD:refs/heads/main"]);
    std::fs::write(r.work.join("x.txt"), "x\n").unwrap();
    r.git.ok(Some(&r.work), &["add", "-A"]);
    r.git.ok(Some(&r.work), &["commit", "-q", "-m", "Add x"]);
    r.git.ok(Some(&r.work), &["push", "-q", &url, "HEAD:refs/heads/topic"]);
    let api = |method: &str, path: &str, token: &str, body: Value| {
        r.server.api(
            method,
            &format!("/api/v1/repos/alice/hidden{path}"),
            Some(token),
            if body.is_null() { None } else { Some(body) },
        )
    };
    let (status, _) = api(
        "POST",
        "/pulls",
        &r.token,
        json!({"title": "Add x", "head": "topic", "base": "main"}),
    );
    assert_eq!(status, 201);
    // A stranger learns nothing, and can do nothing.
    for (method, path, body) in [
        ("GET", "/pulls/1", Value::Null),
        ("GET", "/pulls", Value::Null),
        ("POST", "/pulls/1/reviews", json!({"event": "APPROVE"})),
        ("PUT", "/pulls/1/merge", json!({})),
        ("POST", "/pulls", json!({"title": "x", "head": "topic", "base": "main"})),
    ] {
        let (status, body) = api(method, path, &mallory, body);
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    assert_eq!(r.server.get("/alice/hidden/pulls/1").status(), 404);
    // A reader may review, but not merge or ask for reviews.
    let (status, review) = api(
        "POST",
        "/pulls/1/reviews",
        &bob,
        json!({"event": "COMMENT", "body": "Reads well"}),
    );
    assert_eq!(status, 200, "{review}");
    let (status, refused) = api("PUT", "/pulls/1/merge", &bob, json!({}));
    assert_eq!(status, 403, "{refused}");
    let (status, _) = api(
        "POST",
        "/pulls/1/requested_reviewers",
        &bob,
        json!({"reviewers": ["alice"]}),
    );
    assert_eq!(status, 403);
    let (status, refused) = api(
        "POST",
        "/pulls/1/requested_reviewers",
        &r.token,
        json!({"reviewers": ["mallory"]}),
    );
    assert_eq!(status, 422, "{refused}");
    let (status, asked) = api(
        "POST",
        "/pulls/1/requested_reviewers",
        &r.token,
        json!({"reviewers": ["bob"]}),
    );
    assert_eq!(status, 201, "{asked}");
    assert_eq!(asked["requested_reviewers"][0]["login"], "bob");
    let (status, listed) = api("GET", "/pulls/1/requested_reviewers", &bob, Value::Null);
    assert_eq!(status, 200);
    assert_eq!(listed["users"][0]["login"], "bob");
    let (_, issue) = api("GET", "/issues/1", &bob, Value::Null);
    assert!(
        issue["pull_request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/repos/alice/hidden/pulls/1"),
        "{issue}"
    );
    let diff = super_get(&r, "/alice/hidden/pulls/1.diff", "alice", &r.token);
    assert!(diff.contains("+x") && diff.contains("x.txt"), "{diff}");
}

fn super_get(r: &Repo, path: &str, user: &str, secret: &str) -> String {
    let resp = common::client()
        .get(r.server.url(path))
        .basic_auth(user, Some(secret))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.text().unwrap()
}
