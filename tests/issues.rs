//! The issue tracker through the API and the browser forms: issues,
//! comments, labels, milestones, assignees, search, the board, commits that
//! reference and close issues, permissions and hostile input.

mod common;

use common::{Git, TestServer, csrf_of};
use reqwest::blocking::Client;
use scraper::{Html, Selector};
use serde_json::{Value, json};

fn texts(html: &str, selector: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).unwrap();
    doc.select(&sel)
        .map(|e| {
            e.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

struct Setup {
    server: TestServer,
    alice: String,
    bob: String,
}

/// alice owns alice/demo (public); bob is a user without write access.
fn setup() -> Setup {
    let server = TestServer::start();
    let alice = server.user("alice", "pw-alice-1", true);
    let bob = server.user("bob", "pw-bob-123", false);
    server.create_repo(&alice, "demo", false);
    Setup { server, alice, bob }
}

fn api(s: &TestServer, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    s.api(
        method,
        path,
        Some(token),
        if body.is_null() { None } else { Some(body) },
    )
}

#[test]
fn issues_through_the_api_with_labels_milestones_assignees_and_filters() {
    let Setup { server, alice, bob } = setup();
    let base = "/api/v1/repos/alice/demo";
    assert_eq!(
        api(
            &server,
            "POST",
            &format!("{base}/labels"),
            &alice,
            json!({"name": "bug", "color": "#d73a4a"})
        )
        .0,
        201
    );
    assert_eq!(
        api(
            &server,
            "POST",
            &format!("{base}/labels"),
            &alice,
            json!({"name": "ui", "color": "0e8a16"})
        )
        .0,
        201
    );
    let (status, body) = api(
        &server,
        "POST",
        &format!("{base}/labels"),
        &alice,
        json!({"name": "BUG", "color": "000000"}),
    );
    assert_eq!(status, 409, "{body}");
    let (status, m) = api(
        &server,
        "POST",
        &format!("{base}/milestones"),
        &alice,
        json!({"title": "Sprint 1", "start_on": "2026-11-23", "due_on": "2026-12-04"}),
    );
    assert_eq!(status, 201, "{m}");
    assert_eq!(m["due_on"], "2026-12-04T07:00:00Z", "GitHub's shape: a time");
    assert_eq!(m["start_on"], "2026-11-23", "Hearth's: the day it starts");

    let (status, first) = api(
        &server,
        "POST",
        &format!("{base}/issues"),
        &alice,
        json!({"title": "Crash on start", "body": "It *crashes* with a parser error", "labels": ["bug"],
               "milestone": "Sprint 1", "assignees": ["alice"]}),
    );
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["number"], 1);
    assert_eq!(first["labels"][0]["name"], "bug");
    assert_eq!(first["milestone"]["title"], "Sprint 1");
    assert_eq!(first["assignees"][0]["login"], "alice");
    // Anyone signed in who can read may open one, but not label it.
    let (status, second) = api(
        &server,
        "POST",
        &format!("{base}/issues"),
        &bob,
        json!({"title": "Button colour", "body": "too bright"}),
    );
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["number"], 2);
    let (status, body) = api(
        &server,
        "POST",
        &format!("{base}/issues"),
        &bob,
        json!({"title": "Sneaky", "labels": ["bug"]}),
    );
    assert_eq!(status, 403, "{body}");
    let (status, _) = api(
        &server,
        "PATCH",
        &format!("{base}/issues/2"),
        &bob,
        json!({"labels": ["ui"]}),
    );
    assert_eq!(status, 403);
    let (status, third) = api(
        &server,
        "POST",
        &format!("{base}/issues"),
        &alice,
        json!({"title": "Docs typo"}),
    );
    assert_eq!(status, 201, "{third}");

    let (status, patched) = api(
        &server,
        "PATCH",
        &format!("{base}/issues/2"),
        &alice,
        json!({"labels": ["ui"], "milestone": "Sprint 1"}),
    );
    assert_eq!(status, 200, "{patched}");
    let (status, closed) = api(
        &server,
        "PATCH",
        &format!("{base}/issues/3"),
        &alice,
        json!({"state": "closed", "state_reason": "not_planned"}),
    );
    assert_eq!(status, 200);
    assert_eq!(
        (closed["state"].as_str(), closed["state_reason"].as_str()),
        (Some("closed"), Some("not_planned"))
    );
    assert_eq!(
        api(
            &server,
            "POST",
            &format!("{base}/issues/2/comments"),
            &bob,
            json!({"body": "Still bright"})
        )
        .0,
        201
    );
    let (_, comments) = api(&server, "GET", &format!("{base}/issues/2/comments"), &bob, Value::Null);
    assert_eq!(comments[0]["body"], "Still bright");

    let numbers = |query: &str| -> Vec<i64> {
        let (status, list) = api(&server, "GET", &format!("{base}/issues{query}"), &bob, Value::Null);
        assert_eq!(status, 200, "{query}: {list}");
        list.as_array()
            .unwrap()
            .iter()
            .map(|i| i["number"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(numbers(""), [2, 1], "open, newest first");
    assert_eq!(numbers("?state=all"), [3, 2, 1]);
    assert_eq!(numbers("?state=closed"), [3]);
    assert_eq!(numbers("?state=all&sort=oldest"), [1, 2, 3]);
    assert_eq!(numbers("?labels=bug"), [1]);
    assert_eq!(numbers("?labels=bug,ui"), Vec::<i64>::new());
    assert_eq!(numbers("?milestone=Sprint%201"), [2, 1]);
    assert_eq!(numbers("?milestone=none&state=all"), [3]);
    assert_eq!(numbers("?assignee=alice"), [1]);
    assert_eq!(numbers("?author=bob"), [2]);
    assert_eq!(numbers("?q=parser"), [1], "search the body");
    assert_eq!(numbers("?q=still"), [2], "search comments");
    assert_eq!(numbers("?q=crash"), [1], "search titles, by prefix");
    assert_eq!(numbers("?sort=comments"), [2, 1]);
    assert_eq!(numbers("?state=all&per_page=2&page=2"), [1]);
    assert_eq!(
        api(&server, "GET", &format!("{base}/issues?state=maybe"), &bob, Value::Null).0,
        422,
        "an unknown filter value is refused, as GitHub does"
    );
    assert_eq!(
        api(&server, "GET", &format!("{base}/issues?q=%22%28%2A"), &bob, Value::Null).0,
        200,
        "odd search text"
    );

    let (_, milestones) = api(&server, "GET", &format!("{base}/milestones"), &bob, Value::Null);
    assert_eq!(
        (
            milestones[0]["open_issues"].as_i64(),
            milestones[0]["closed_issues"].as_i64()
        ),
        (Some(2), Some(0))
    );
    // The counts follow closing, reopening and moving issues.
    let counts = |change: Value, issue: i64| {
        let (status, body) = api(&server, "PATCH", &format!("{base}/issues/{issue}"), &alice, change);
        assert_eq!(status, 200, "{body}");
        let (_, m) = api(&server, "GET", &format!("{base}/milestones/1"), &bob, Value::Null);
        let (_, listed) = api(&server, "GET", &format!("{base}/issues/2"), &bob, Value::Null);
        assert_eq!(listed["milestone"]["open_issues"], m["open_issues"]);
        (m["open_issues"].as_i64(), m["closed_issues"].as_i64())
    };
    assert_eq!(counts(json!({"state": "closed"}), 2), (Some(1), Some(1)));
    assert_eq!(counts(json!({"milestone": null}), 1), (Some(0), Some(1)));
    assert_eq!(counts(json!({"state": "open"}), 2), (Some(1), Some(0)));
    assert_eq!(counts(json!({"milestone": 1}), 1), (Some(2), Some(0)));
    let (status, one) = api(&server, "GET", &format!("{base}/issues/1"), &bob, Value::Null);
    assert_eq!((status, one["title"].as_str()), (200, Some("Crash on start")));
    assert_eq!(
        api(&server, "GET", &format!("{base}/issues/99"), &bob, Value::Null).0,
        404
    );
}

#[test]
fn bad_input_gets_a_clear_4xx() {
    let Setup { server, alice, .. } = setup();
    let base = "/api/v1/repos/alice/demo";
    for (body, status) in [
        (json!({"title": ""}), 400),
        (json!({"title": "   "}), 400),
        (json!({"title": "x".repeat(257)}), 400),
        (json!({"title": "ok", "body": "x".repeat((1 << 20) + 1)}), 413),
        (json!({"title": "ok", "labels": ["nope"]}), 400),
        (json!({"title": "ok", "milestone": "nope"}), 400),
        (json!({"title": "ok", "assignees": ["nobody"]}), 400),
    ] {
        let (got, message) = api(&server, "POST", &format!("{base}/issues"), &alice, body.clone());
        assert_eq!(
            got,
            status,
            "{}: {message}",
            body.to_string().chars().take(80).collect::<String>()
        );
        assert!(message["message"].is_string());
    }
    // A label of another repository is refused.
    server.create_repo(&alice, "other", false);
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/other/labels",
        &alice,
        json!({"name": "elsewhere", "color": "ffffff"}),
    );
    let (status, _) = api(
        &server,
        "POST",
        &format!("{base}/issues"),
        &alice,
        json!({"title": "x", "labels": ["elsewhere"]}),
    );
    assert_eq!(status, 400);
    for body in [
        json!({"name": "c", "color": "red"}),
        json!({"name": "", "color": "ffffff"}),
    ] {
        assert_eq!(api(&server, "POST", &format!("{base}/labels"), &alice, body).0, 400);
    }
    let (status, _) = api(
        &server,
        "POST",
        &format!("{base}/milestones"),
        &alice,
        json!({"title": "S", "due_on": "2026-13-45"}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        api(&server, "GET", "/api/v1/repos/alice/demo/issues", &alice, Value::Null).1,
        json!([]),
        "nothing was created"
    );
}

#[test]
fn private_issues_are_404_to_outsiders() {
    let Setup { server, alice, bob } = setup();
    server.create_repo(&alice, "secret", true);
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/secret/issues",
        &alice,
        json!({"title": "Hidden plan"}),
    );
    for path in [
        "/api/v1/repos/alice/secret/issues",
        "/api/v1/repos/alice/secret/issues/1",
    ] {
        assert_eq!(api(&server, "GET", path, &bob, Value::Null).0, 404, "{path}");
        assert_eq!(server.api("GET", path, None, None).0, 404, "{path}");
    }
    assert_eq!(
        api(
            &server,
            "POST",
            "/api/v1/repos/alice/secret/issues",
            &bob,
            json!({"title": "x"})
        )
        .0,
        404
    );
    for path in [
        "/alice/secret/issues",
        "/alice/secret/issues/1",
        "/alice/secret/board",
        "/alice/secret/labels",
    ] {
        assert_eq!(server.get(path).status(), 404, "{path}");
    }
    assert_eq!(
        api(
            &server,
            "GET",
            "/api/v1/repos/alice/secret/issues/1",
            &alice,
            Value::Null
        )
        .0,
        200
    );
}

fn post_form(client: &Client, server: &TestServer, page: &str, action: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let html = client.get(server.url(page)).send().unwrap().text().unwrap();
    let csrf = csrf_of(&html);
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let resp = client.post(server.url(action)).form(&form).send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().unwrap())
}

#[test]
fn issues_through_the_browser_forms() {
    let Setup { server, alice, .. } = setup();
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/labels",
        &alice,
        json!({"name": "bug", "color": "d73a4a"}),
    );
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/milestones",
        &alice,
        json!({"title": "Sprint 1"}),
    );
    let owner = common::sign_in(&server, "alice", "pw-alice-1");
    let bob = common::sign_in(&server, "bob", "pw-bob-123");

    // An empty title shows the form again, with what was typed.
    let (status, page) = post_form(
        &bob,
        &server,
        "/alice/demo/issues/new",
        "/alice/demo/issues/new",
        &[("title", " "), ("body", "kept text")],
    );
    assert_eq!(status, 400);
    assert!(page.contains("kept text") && page.contains("must not be empty"));
    let (status, _) = post_form(
        &bob,
        &server,
        "/alice/demo/issues/new",
        "/alice/demo/issues/new",
        &[
            ("title", "Login fails"),
            (
                "body",
                "**bold**\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2)) <img src=x onerror=alert(3)>",
            ),
        ],
    );
    assert_eq!(status, 303);
    let page = server.get("/alice/demo/issues/1").text().unwrap();
    assert_eq!(texts(&page, ".issue-head h2"), ["Login fails #1"]);
    assert_eq!(texts(&page, ".issue-main .comment .markdown strong"), ["bold"]);
    let body_html = &page[page.find("issue-main").unwrap()..];
    assert!(!body_html.contains("<script") && !body_html.contains("onerror") && !body_html.contains("javascript:"));
    // Without CSRF token: refused.
    let resp = bob
        .post(server.url("/alice/demo/issues/1/comments"))
        .form(&[("body", "x")])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);

    let (status, _) = post_form(
        &bob,
        &server,
        "/alice/demo/issues/1",
        "/alice/demo/issues/1/comments",
        &[("body", "First comment")],
    );
    assert_eq!(status, 303);
    let (status, _) = post_form(
        &owner,
        &server,
        "/alice/demo/issues/1",
        "/alice/demo/issues/1/comments",
        &[("body", "Owner reply")],
    );
    assert_eq!(status, 303);
    let page = server.get("/alice/demo/issues/1").text().unwrap();
    let comments = texts(&page, ".timeline .comment .markdown");
    assert_eq!(comments, ["First comment", "Owner reply"]);
    let ids: Vec<String> = {
        let doc = Html::parse_document(&page);
        doc.select(&Selector::parse(".timeline .comment").unwrap())
            .map(|e| e.value().attr("id").unwrap()[8..].to_string())
            .collect()
    };
    // bob edits his own comment but not alice's; alice (a writer) moderates.
    let (status, _) = post_form(
        &bob,
        &server,
        "/alice/demo/issues/1",
        &format!("/alice/demo/issues/1/comments/{}/edit", ids[0]),
        &[("body", "First comment, edited")],
    );
    assert_eq!(status, 303);
    let (status, _) = post_form(
        &bob,
        &server,
        "/alice/demo/issues/1",
        &format!("/alice/demo/issues/1/comments/{}/edit", ids[1]),
        &[("body", "hijacked")],
    );
    assert_eq!(status, 403);
    let (status, _) = post_form(
        &owner,
        &server,
        "/alice/demo/issues/1",
        &format!("/alice/demo/issues/1/comments/{}/delete", ids[0]),
        &[],
    );
    assert_eq!(status, 303);
    let page = server.get("/alice/demo/issues/1").text().unwrap();
    assert_eq!(texts(&page, ".timeline .comment .markdown"), ["Owner reply"]);

    // Labels, assignee, milestone and column from the sidebar; a reader may not.
    let (status, _) = post_form(
        &bob,
        &server,
        "/alice/demo/issues/1",
        "/alice/demo/issues/1/meta",
        &[("label:bug", "on")],
    );
    assert_eq!(status, 403);
    let (status, _) = post_form(
        &owner,
        &server,
        "/alice/demo/issues/1",
        "/alice/demo/issues/1/meta",
        &[
            ("label:bug", "on"),
            ("assignees", "alice"),
            ("milestone", "Sprint 1"),
            ("column", "in_progress"),
        ],
    );
    assert_eq!(status, 303);
    let (status, page) = post_form(
        &owner,
        &server,
        "/alice/demo/issues/1",
        "/alice/demo/issues/1/meta",
        &[("assignees", "bob")],
    );
    assert_eq!(status, 400, "bob has no access to be assigned");
    assert!(page.contains("has no access"));

    // The author closes with a reason; the timeline shows every change.
    let (status, _) = post_form(
        &bob,
        &server,
        "/alice/demo/issues/1",
        "/alice/demo/issues/1/state",
        &[("state", "closed"), ("reason", "not_planned")],
    );
    assert_eq!(status, 303);
    let page = server.get("/alice/demo/issues/1").text().unwrap();
    let events = texts(&page, ".timeline .event");
    for expected in [
        "alice added the label bug",
        "alice assigned alice",
        "alice added this to the Sprint 1 milestone",
        "alice moved this to In progress on the board",
        "bob closed this as not planned",
    ] {
        assert!(
            events.iter().any(|e| e.starts_with(expected)),
            "{expected:?} in {events:?}"
        );
    }
    assert_eq!(texts(&page, ".state-badge"), ["Closed as not planned"]);
    let (status, _) = post_form(
        &owner,
        &server,
        "/alice/demo/issues/1",
        "/alice/demo/issues/1/state",
        &[("state", "open")],
    );
    assert_eq!(status, 303);

    // The list page: counts, filters and search.
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        &alice,
        json!({"title": "Second issue"}),
    );
    let page = server.get("/alice/demo/issues").text().unwrap();
    assert_eq!(texts(&page, "ul.issues .title"), ["Second issue", "Login fails"]);
    assert!(texts(&page, ".toolbar a").contains(&"2 open".to_string()));
    let page = server.get("/alice/demo/issues?labels=bug").text().unwrap();
    assert_eq!(texts(&page, "ul.issues .title"), ["Login fails"]);
    let page = server.get("/alice/demo/issues?q=reply").text().unwrap();
    assert_eq!(texts(&page, "ul.issues .title"), ["Login fails"]);
}

#[test]
fn the_board_moves_issues_between_columns() {
    let Setup { server, alice, .. } = setup();
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/milestones",
        &alice,
        json!({"title": "Sprint 1"}),
    );
    for title in ["One", "Two", "Three"] {
        api(
            &server,
            "POST",
            "/api/v1/repos/alice/demo/issues",
            &alice,
            json!({"title": title, "milestone": "Sprint 1"}),
        );
    }
    api(
        &server,
        "PATCH",
        "/api/v1/repos/alice/demo/issues/3",
        &alice,
        json!({"state": "closed"}),
    );
    let owner = common::sign_in(&server, "alice", "pw-alice-1");
    let (status, _) = post_form(
        &owner,
        &server,
        "/alice/demo/board",
        "/alice/demo/board",
        &[("number", "2"), ("column", "in_progress"), ("milestone", "Sprint 1")],
    );
    assert_eq!(status, 303);
    let page = server.get("/alice/demo/board?milestone=Sprint%201").text().unwrap();
    let column = |key: &str| texts(&page, &format!("section[data-column={key}] .board-card > a"));
    assert_eq!(column("todo"), ["One"]);
    assert_eq!(column("in_progress"), ["Two"]);
    assert_eq!(column("done"), ["Three"]);
    let issue = server.get("/alice/demo/issues/2").text().unwrap();
    assert!(
        texts(&issue, ".timeline .event")
            .iter()
            .any(|e| e.starts_with("alice moved this to In progress"))
    );
    let (status, _) = post_form(
        &owner,
        &server,
        "/alice/demo/board",
        "/alice/demo/board",
        &[("number", "2"), ("column", "sideways")],
    );
    assert_eq!(status, 400);
    let milestones = server.get("/alice/demo/milestones").text().unwrap();
    assert!(milestones.contains("33% complete"), "1 of 3 closed");
}

#[test]
fn pushed_commits_reference_and_close_issues_once() {
    let Setup { server, alice, .. } = setup();
    for title in ["Parser bug", "Slow start", "Typo"] {
        api(
            &server,
            "POST",
            "/api/v1/repos/alice/demo/issues",
            &alice,
            json!({"title": title}),
        );
    }
    let git = Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", work.to_str().unwrap()]);
    let url = server.cred_url("alice", &alice, "/alice/demo.git");
    git.ok(Some(&work), &["commit", "-q", "--allow-empty", "-m", "Start"]);
    git.ok(Some(&work), &["push", "-q", &url, "main"]);
    // On a feature branch: referenced, but not closed.
    git.ok(Some(&work), &["checkout", "-q", "-b", "feature"]);
    git.ok(
        Some(&work),
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "Work on the parser (#1)\n\nFixes #3",
        ],
    );
    git.ok(Some(&work), &["push", "-q", &url, "feature"]);
    let (_, three) = api(&server, "GET", "/api/v1/repos/alice/demo/issues/3", &alice, Value::Null);
    assert_eq!(three["state"], "open", "no close from a non-default branch");
    let feature_commit = git.ok(Some(&work), &["rev-parse", "HEAD"]).trim().to_string();
    let page = server.get("/alice/demo/issues/1").text().unwrap();
    assert!(texts(&page, ".issue-side a.sha").contains(&feature_commit[..10].to_string()));
    // On main: `fixes` closes, with the commit as the reason.
    git.ok(Some(&work), &["checkout", "-q", "main"]);
    git.ok(Some(&work), &["merge", "-q", "--ff-only", "feature"]);
    git.ok(
        Some(&work),
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "Speed up start-up\n\nCLOSES: #2, see #1",
        ],
    );
    git.ok(Some(&work), &["push", "-q", &url, "main"]);
    for (n, state) in [(1, "open"), (2, "closed"), (3, "closed")] {
        let (_, issue) = api(
            &server,
            "GET",
            &format!("/api/v1/repos/alice/demo/issues/{n}"),
            &alice,
            Value::Null,
        );
        assert_eq!(issue["state"], state, "issue {n}");
    }
    let main_commit = git.ok(Some(&work), &["rev-parse", "HEAD"]).trim().to_string();
    let page = server.get("/alice/demo/issues/2").text().unwrap();
    let events = texts(&page, ".timeline .event");
    assert!(
        events
            .iter()
            .any(|e| e.contains("closed this in commit") && e.contains(&main_commit[..10])),
        "{events:?}"
    );
    // Pushing the same commits again elsewhere adds nothing.
    let count = |n: i64| {
        texts(
            &server.get(&format!("/alice/demo/issues/{n}")).text().unwrap(),
            ".timeline .event",
        )
        .len()
    };
    let before: Vec<usize> = (1..=3).map(count).collect();
    git.ok(
        Some(&work),
        &["push", "-q", &url, "main:refs/heads/copy", "feature:refs/heads/copy2"],
    );
    let after: Vec<usize> = (1..=3).map(count).collect();
    assert_eq!(before, after);
    assert_eq!(before[0], 2, "#1 referenced by two commits, once each");
}

#[test]
fn the_dashboard_shows_assigned_issues_and_recent_pushes() {
    let Setup { server, alice, .. } = setup();
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        &alice,
        json!({"title": "Mine", "assignees": ["alice"]}),
    );
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        &alice,
        json!({"title": "Nobody's"}),
    );
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        &alice,
        json!({"title": "Done", "assignees": ["alice"]}),
    );
    api(
        &server,
        "PATCH",
        "/api/v1/repos/alice/demo/issues/3",
        &alice,
        json!({"state": "closed"}),
    );
    let git = Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", work.to_str().unwrap()]);
    git.ok(Some(&work), &["commit", "-q", "--allow-empty", "-m", "Start"]);
    git.ok(
        Some(&work),
        &[
            "push",
            "-q",
            &server.cred_url("alice", &alice, "/alice/demo.git"),
            "main",
        ],
    );
    let owner = common::sign_in(&server, "alice", "pw-alice-1");
    let page = owner.get(server.url("/")).send().unwrap().text().unwrap();
    assert_eq!(
        texts(&page, "ul.issues .title"),
        ["Mine"],
        "open issues assigned to alice only"
    );
    let activity = texts(&page, "ul.activity li");
    assert!(
        activity[0].starts_with("alice created branch main in alice/demo"),
        "{activity:?}"
    );
}

#[test]
fn cached_lists_follow_every_change() {
    let Setup { server, alice, bob } = setup();
    let list = || {
        texts(
            &server.get("/alice/demo/issues?state=all").text().unwrap(),
            "ul.issues li",
        )
    };
    assert!(list().is_empty());
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        &alice,
        json!({"title": "First"}),
    );
    assert_eq!(list().len(), 1, "a new issue shows at once");
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/issues/1/comments",
        &bob,
        json!({"body": "hi"}),
    );
    assert!(list()[0].contains("1 comment"), "{:?}", list());
    api(
        &server,
        "POST",
        "/api/v1/repos/alice/demo/labels",
        &alice,
        json!({"name": "bug", "color": "d73a4a"}),
    );
    api(
        &server,
        "PATCH",
        "/api/v1/repos/alice/demo/issues/1",
        &alice,
        json!({"labels": ["bug"]}),
    );
    assert!(list()[0].contains("bug"), "{:?}", list());
    api(
        &server,
        "PATCH",
        "/api/v1/repos/alice/demo/issues/1",
        &alice,
        json!({"assignees": ["alice"]}),
    );
    assert!(list()[0].contains("assigned to alice"), "{:?}", list());
    api(
        &server,
        "PATCH",
        "/api/v1/repos/alice/demo/issues/1",
        &alice,
        json!({"title": "Renamed"}),
    );
    assert!(list()[0].contains("Renamed"));
    api(
        &server,
        "PATCH",
        "/api/v1/repos/alice/demo/issues/1",
        &alice,
        json!({"state": "closed"}),
    );
    let open = texts(&server.get("/alice/demo/issues").text().unwrap(), ".counts a");
    assert_eq!(open, ["0 open", "1 closed"]);
}

/// An issue with hundreds of comments (and some of a megabyte) is read a
/// page at a time: the page folds the middle of its timeline into a link
/// that shows it, and search finds words in any one comment, kept up to
/// date as comments are edited and deleted.
#[test]
fn a_long_timeline_is_folded_and_every_comment_is_searched_on_its_own() {
    let Setup { server, alice, bob } = setup();
    let base = "/api/v1/repos/alice/demo/issues";
    let (_, issue) = api(&server, "POST", base, &alice, json!({"title": "Long thread"}));
    let n = issue["number"].as_i64().unwrap();
    let mut ids = Vec::new();
    for i in 1..=200 {
        let body = if i == 100 {
            "the hundredth mentions zebra".to_string()
        } else {
            format!("reply {i}")
        };
        let (status, c) = api(
            &server,
            "POST",
            &format!("{base}/{n}/comments"),
            &bob,
            json!({ "body": body }),
        );
        assert_eq!(status, 201);
        ids.push(c["id"].as_i64().unwrap());
    }

    let page = server.get(&format!("/alice/demo/issues/{n}")).text().unwrap();
    let comments = texts(&page, ".timeline .comment .markdown");
    assert_eq!(comments.len(), 50, "the first 20 and the last 30");
    assert_eq!((comments[0].as_str(), comments[49].as_str()), ("reply 1", "reply 200"));
    let folds = texts(&page, ".timeline .fold a");
    assert_eq!(folds, ["150 more items"]);
    assert!(page.contains("href=\"?from=20\""), "the fold links to its own page");
    let page = server.get(&format!("/alice/demo/issues/{n}?from=20")).text().unwrap();
    let comments = texts(&page, ".timeline .comment .markdown");
    assert_eq!(comments.len(), 150);
    assert_eq!(comments[20], "reply 21");
    assert_eq!(texts(&page, ".timeline .fold a"), ["50 more items"]);
    for from in ["-1", "x", "99999999999999999999999"] {
        let status = server.get(&format!("/alice/demo/issues/{n}?from={from}")).status();
        assert_eq!(status, 400, "?from={from}");
    }
    let page = server
        .get(&format!("/alice/demo/issues/{n}?from=18446744073709551615"))
        .text()
        .unwrap();
    assert_eq!(
        texts(&page, ".timeline .comment .markdown").len(),
        50,
        "from beyond the end"
    );

    let found = |q: &str| {
        let (_, list) = api(&server, "GET", &format!("{base}?q={q}&state=all"), &bob, Value::Null);
        list.as_array().unwrap().len()
    };
    assert_eq!(found("zebra"), 1, "a word of the hundredth comment");
    assert_eq!(found("zebra%20long"), 1, "words of a comment and of the title together");
    let hundredth = ids[99];
    let comment = format!("/api/v1/repos/alice/demo/issues/comments/{hundredth}");
    let (status, _) = api(&server, "PATCH", &comment, &bob, json!({"body": "now about giraffes"}));
    assert_eq!(status, 200);
    assert_eq!(
        (found("zebra"), found("giraffes")),
        (0, 1),
        "an edit re-indexes that comment"
    );
    assert_eq!(api(&server, "DELETE", &comment, &bob, Value::Null).0, 204);
    assert_eq!(found("giraffes"), 0, "a deleted comment is no longer found");
    let (_, issue) = api(&server, "GET", &format!("{base}/{n}"), &bob, Value::Null);
    assert_eq!(issue["comments"], 199);

    // The API pages comments from the database, with GitHub's Link.
    let resp = common::client()
        .get(server.url(&format!("{base}/{n}/comments?per_page=100&page=2")))
        .send()
        .unwrap();
    let link = resp.headers()["link"].to_str().unwrap().to_string();
    let list: Value = resp.json().unwrap();
    assert_eq!(list.as_array().unwrap().len(), 99);
    assert_eq!(list[0]["body"], "reply 102", "the hundredth is gone");
    assert!(
        link.contains("rel=\"prev\"") && !link.contains("rel=\"next\""),
        "{link}"
    );

    // Megabyte comments: the page shows as many of the newest as fit in
    // four megabytes of text, and folds the rest.
    let (_, issue) = api(&server, "POST", base, &alice, json!({"title": "Huge thread"}));
    let n = issue["number"].as_i64().unwrap();
    let big = "x".repeat(1 << 20);
    for _ in 0..6 {
        let status = api(
            &server,
            "POST",
            &format!("{base}/{n}/comments"),
            &alice,
            json!({ "body": big }),
        )
        .0;
        assert_eq!(status, 201);
    }
    let page = server.get(&format!("/alice/demo/issues/{n}")).text().unwrap();
    assert_eq!(texts(&page, ".timeline .comment .markdown").len(), 4);
    assert_eq!(texts(&page, ".timeline .fold a"), ["2 more items"]);
    assert!(page.len() < 6 << 20, "the page is {} bytes", page.len());
}
