//! Notifications through the real server: each trigger (an @mention, an
//! assignment, a review request, a comment on one's issue, a watched
//! repository, a failed and a recovered run, a deployment awaiting
//! approval), the bell and `/notifications` with read and read-all, watch
//! and unwatch, GitHub's notifications API, the attacks beside them (a
//! mention in a private repository, a removed collaborator, another's
//! thread, bad filters), and e-mail to a real SMTP listener on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::ci::{Repo, repo, repo_on};
use common::{TestServer, csrf_of, sign_in};
use serde_json::{Value, json};

fn call(r: &Repo, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    r.server.api(method, path, Some(token), body)
}

fn may(r: &Repo, name: &str, permission: &str) {
    let (status, body) = call(
        r,
        "PUT",
        &format!("/api/v1/repos/alice/demo/collaborators/{name}"),
        &r.token,
        Some(json!({ "permission": permission })),
    );
    assert_eq!(status, 204, "{body}");
}

/// The threads of the person with `token` (`query` as GitHub's).
fn threads(r: &Repo, token: &str, query: &str) -> Vec<Value> {
    let (status, list) = call(r, "GET", &format!("/api/v1/notifications{query}"), token, None);
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// The one thread of `token` about `title`, waiting for it a while (runs
/// end in the background).
fn thread_about(r: &Repo, token: &str, title: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = threads(r, token, "?all=true");
        if let Some(t) = all.iter().find(|t| t["subject"]["title"] == title) {
            return t.clone();
        }
        assert!(Instant::now() < deadline, "no thread about {title:?}: {all:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn each_trigger_tells_the_right_people_and_no_one_else() {
    let r = repo();
    let bob = r.server.user("bob", "pw-bob-1234", false);
    let carol = r.server.user("carol", "pw-carol-123", false);
    may(&r, "bob", "write");
    // Alice owns the repository, so she watches it from the start.
    let (status, sub) = call(&r, "GET", "/api/v1/repos/alice/demo/subscription", &r.token, None);
    assert_eq!(status, 200, "{sub}");
    assert_eq!(sub["subscribed"], true);
    let (status, _) = call(&r, "GET", "/api/v1/repos/alice/demo/subscription", &carol, None);
    assert_eq!(status, 404, "carol does not watch it");

    // Bob opens an issue that mentions carol and assigns alice: alice is
    // told once (the assignment outweighs her watching), carol for the mention.
    let (status, issue) = call(
        &r,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        &bob,
        Some(json!({"title": "Crash on start", "body": "Seen by @carol too, see `@dave`", "assignees": ["alice"]})),
    );
    assert_eq!(status, 201, "{issue}");
    let t = thread_about(&r, &r.token, "Crash on start");
    assert_eq!(t["reason"], "assign");
    assert_eq!(t["unread"], true);
    assert_eq!(t["subject"]["type"], "Issue");
    assert!(
        t["subject"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/repos/alice/demo/issues/1")
    );
    assert_eq!(t["repository"]["full_name"], "alice/demo");
    let c = thread_about(&r, &carol, "Crash on start");
    assert_eq!(c["reason"], "mention");
    assert!(
        threads(&r, &bob, "?all=true").is_empty(),
        "nobody is told of their own doing"
    );

    // Carol comments: bob (who opened it) and alice (watching) hear of it.
    let dave = r.server.user("dave", "pw-dave-1234", false);
    let (status, _) = call(
        &r,
        "PUT",
        "/api/v1/repos/alice/demo/subscription",
        &dave,
        Some(json!({"subscribed": true})),
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        &r,
        "POST",
        "/api/v1/repos/alice/demo/issues/1/comments",
        &carol,
        Some(json!({"body": "Still there on 1.2"})),
    );
    assert_eq!(status, 201);
    let b = thread_about(&r, &bob, "Crash on start");
    assert_eq!(b["reason"], "author");
    assert_eq!(thread_about(&r, &dave, "Crash on start")["reason"], "subscribed");
    // Alice has not read her assignment yet: that stays its reason.
    let a = thread_about(&r, &r.token, "Crash on start");
    assert_eq!(a["reason"], "assign");
    assert_ne!(a["updated_at"], Value::Null);

    // A pull request whose review alice asks of bob.
    r.commit_and_push("Start", "main");
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "topic"]);
    std::fs::write(r.work.join("fix.txt"), "fixed\n").unwrap();
    r.commit_and_push("Fix the crash", "topic");
    let (status, pull) = call(
        &r,
        "POST",
        "/api/v1/repos/alice/demo/pulls",
        &r.token,
        Some(json!({"title": "Fix the crash", "head": "topic", "base": "main"})),
    );
    assert_eq!(status, 201, "{pull}");
    let (status, _) = call(
        &r,
        "POST",
        "/api/v1/repos/alice/demo/pulls/2/requested_reviewers",
        &r.token,
        Some(json!({"reviewers": ["bob"]})),
    );
    assert_eq!(status, 201);
    let p = thread_about(&r, &bob, "Fix the crash");
    assert_eq!(p["reason"], "review_requested");
    assert_eq!(p["subject"]["type"], "PullRequest");
    // Bob's review mentions alice: the pull request's thread comes back to her.
    let (status, _) = call(
        &r,
        "POST",
        "/api/v1/repos/alice/demo/pulls/2/reviews",
        &bob,
        Some(json!({"event": "APPROVE", "body": "Good catch, @alice"})),
    );
    assert_eq!(status, 200);
    assert_eq!(thread_about(&r, &r.token, "Fix the crash")["reason"], "mention");

    // The bell: alice has unread threads, and the page lists them.
    let alice = sign_in(&r.server, "alice", "pw-alice-1");
    let home = alice.get(r.server.url("/")).send().unwrap().text().unwrap();
    let unread = threads(&r, &r.token, "").len();
    assert!(home.contains(&format!("Notifications, {unread} unread")), "{home}");
    let page = alice
        .get(r.server.url("/notifications"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("Crash on start") && page.contains("Fix the crash"),
        "{page}"
    );
    assert!(page.contains("Because you were mentioned"), "{page}");
    // Marking one read takes it off the unread list; read all empties it.
    let id = thread_about(&r, &r.token, "Crash on start")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = alice
        .post(r.server.url(&format!("/notifications/{id}/read")))
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(!threads(&r, &r.token, "").iter().any(|t| t["id"] == id.as_str()));
    // Without the right CSRF field, nothing happens.
    let resp = alice
        .post(r.server.url("/notifications/read"))
        .form(&[("csrf", "0".repeat(64).as_str())])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(!threads(&r, &r.token, "").is_empty());
    let resp = alice
        .post(r.server.url("/notifications/read"))
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(threads(&r, &r.token, "").is_empty());
    let page = alice
        .get(r.server.url("/notifications"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("all caught up"), "{page}");
    assert!(!page.contains("unread\""), "the bell shows no count: {page}");
    // Another's thread cannot be read, marked or removed.
    let carols = thread_about(&r, &carol, "Crash on start")["id"]
        .as_str()
        .unwrap()
        .to_string();
    for method in ["GET", "PATCH", "DELETE"] {
        let (status, _) = call(
            &r,
            method,
            &format!("/api/v1/notifications/threads/{carols}"),
            &bob,
            None,
        );
        assert_eq!(status, 404, "{method} of another's thread");
    }
    let (status, _) = call(
        &r,
        "PATCH",
        &format!("/api/v1/notifications/threads/{carols}"),
        &carol,
        None,
    );
    assert_eq!(status, 205);
    assert_eq!(thread_about(&r, &carol, "Crash on start")["unread"], false);
    // Unknown filter values are refused, not an empty list.
    for query in ["?all=yes", "?since=yesterday", "?participating=1"] {
        let (status, body) = call(&r, "GET", &format!("/api/v1/notifications{query}"), &r.token, None);
        assert_eq!(status, 422, "{query}: {body}");
    }
    let (status, body) = call(&r, "GET", "/notifications?show=everything", &r.token, None);
    assert_eq!(status, 422, "{body}");
}

#[test]
fn runs_tell_their_pusher_of_failure_and_recovery_and_gates_tell_their_reviewers() {
    let r = repo();
    let bob = r.server.user("bob", "pw-bob-1234", false);
    may(&r, "bob", "write");
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  test:\n    steps:\n      - run: exit 3\n",
        "main",
    );
    assert_eq!(r.wait_run(1)["conclusion"], "failure");
    let t = thread_about(&r, &r.token, "ci.yml");
    assert_eq!(t["reason"], "ci_activity");
    assert_eq!(t["subject"]["type"], "CheckSuite");
    let alice = sign_in(&r.server, "alice", "pw-alice-1");
    let page = alice
        .get(r.server.url("/notifications"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("The run failed on main."), "{page}");
    assert!(threads(&r, &bob, "?all=true").is_empty(), "bob did not push");
    // Passing again is news; passing after a pass is not.
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  test:\n    steps:\n      - run: 'true'\n",
        "main",
    );
    assert_eq!(r.wait_run(2)["conclusion"], "success");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !threads(&r, &r.token, "?all=true").iter().any(|t| {
        t["subject"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/runs/{}", r.runs()[0]["id"]))
    }) {
        assert!(Instant::now() < deadline, "no thread of the recovered run");
        std::thread::sleep(Duration::from_millis(100));
    }
    let page = alice
        .get(r.server.url("/notifications"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("The run succeeded on main: it failed before."), "{page}");
    let before = threads(&r, &r.token, "?all=true").len();
    r.commit_and_push("Again", "main");
    assert_eq!(r.wait_run(3)["conclusion"], "success");
    assert_eq!(
        threads(&r, &r.token, "?all=true").len(),
        before,
        "a pass after a pass is no news"
    );

    // prod waits for bob: he is told.
    let (_, me) = r.server.api("GET", "/api/v1/user", Some(&bob), None);
    let (status, env) = call(
        &r,
        "PUT",
        "/api/v1/repos/alice/demo/environments/prod",
        &r.token,
        Some(json!({"reviewers": [{"type": "User", "id": me["id"]}]})),
    );
    assert_eq!(status, 200, "{env}");
    r.push_workflow(
        "deliver.yml",
        "on: push\njobs:\n  prod:\n    environment: prod\n    steps:\n      - run: echo to prod\n",
        "main",
    );
    let t = thread_about(&r, &bob, "deliver.yml");
    assert_eq!(t["reason"], "approval_requested");
    let bobs = sign_in(&r.server, "bob", "pw-bob-1234");
    let page = bobs.get(r.server.url("/notifications")).send().unwrap().text().unwrap();
    assert!(page.contains("A deployment to prod waits for your approval."), "{page}");
}

#[test]
fn private_repositories_tell_only_those_who_may_read_them_and_watching_is_a_choice() {
    let r = repo();
    let carol = r.server.user("carol", "pw-carol-123", false);
    let dave = r.server.user("dave", "pw-dave-1234", false);
    r.server.create_repo(&r.token, "secret", true);
    may_on(&r, "alice/secret", "carol");
    let (status, _) = call(
        &r,
        "POST",
        "/api/v1/repos/alice/secret/issues",
        &r.token,
        Some(json!({"title": "Launch plan", "body": "@carol and @dave, have a look"})),
    );
    assert_eq!(status, 201);
    let plan = thread_about(&r, &carol, "Launch plan");
    assert_eq!(plan["reason"], "mention");
    assert!(
        threads(&r, &dave, "?all=true").is_empty(),
        "dave cannot read the repository: not even its title reaches him"
    );
    let (status, _) = call(&r, "GET", "/api/v1/repos/alice/secret/subscription", &dave, None);
    assert_eq!(status, 404);
    let (status, _) = call(
        &r,
        "PUT",
        "/api/v1/repos/alice/secret/subscription",
        &dave,
        Some(json!({"subscribed": true})),
    );
    assert_eq!(status, 404, "nobody watches what they cannot read");
    // Carol loses her access: her thread goes with it.
    let (status, _) = call(
        &r,
        "DELETE",
        "/api/v1/repos/alice/secret/collaborators/carol",
        &r.token,
        None,
    );
    assert_eq!(status, 204);
    assert!(threads(&r, &carol, "?all=true").is_empty());
    let (status, _) = call(
        &r,
        "GET",
        &format!("/api/v1/notifications/threads/{}", plan["id"].as_str().unwrap()),
        &carol,
        None,
    );
    assert_eq!(status, 404);

    // Dave watches a public repository through its page, and stops through the API.
    let dave_web = sign_in(&r.server, "dave", "pw-dave-1234");
    let home = dave_web
        .get(r.server.url("/alice/demo"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(home.contains(">Watch</button>"), "{home}");
    let resp = dave_web
        .post(r.server.url("/alice/demo/subscription"))
        .form(&[("csrf", csrf_of(&home).as_str()), ("watch", "1")])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    let home = dave_web
        .get(r.server.url("/alice/demo"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(home.contains(">Unwatch</button>"), "{home}");
    let anonymous = common::client()
        .get(r.server.url("/alice/demo"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!anonymous.contains("/subscription"), "no Watch button for visitors");
    let (status, _) = call(
        &r,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        &r.token,
        Some(json!({"title": "Public news", "body": "For all"})),
    );
    assert_eq!(status, 201);
    assert_eq!(thread_about(&r, &dave, "Public news")["reason"], "subscribed");
    assert_eq!(
        threads(&r, &dave, "?participating=true").len(),
        0,
        "watching is not taking part"
    );
    let (status, watched) = call(&r, "GET", "/api/v1/user/subscriptions", &dave, None);
    assert_eq!(status, 200);
    assert_eq!(watched[0]["full_name"], "alice/demo");
    let (status, _) = call(&r, "DELETE", "/api/v1/repos/alice/demo/subscription", &dave, None);
    assert_eq!(status, 204);
    let (status, _) = call(
        &r,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        &r.token,
        Some(json!({"title": "Later news", "body": "Unheard"})),
    );
    assert_eq!(status, 201);
    assert!(
        !threads(&r, &dave, "?all=true")
            .iter()
            .any(|t| t["subject"]["title"] == "Later news")
    );
}

fn may_on(r: &Repo, slug: &str, name: &str) {
    let (status, body) = call(
        r,
        "PUT",
        &format!("/api/v1/repos/{slug}/collaborators/{name}"),
        &r.token,
        Some(json!({"permission": "read"})),
    );
    assert_eq!(status, 204, "{body}");
}

/// A plain SMTP listener: it accepts every message and hands each one's
/// text to the test.
fn smtp_listener() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let _ = out.write_all(b"220 test ESMTP\r\n");
                let mut line = String::new();
                while lines.read_line(&mut line).unwrap_or(0) > 0 {
                    let verb = line.trim_end().to_ascii_uppercase();
                    let answer: &[u8] = if verb.starts_with("EHLO") || verb.starts_with("HELO") {
                        b"250 test\r\n"
                    } else if verb == "DATA" {
                        let _ = out.write_all(b"354 go on\r\n");
                        let mut message = String::new();
                        loop {
                            let mut l = String::new();
                            if lines.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                                break;
                            }
                            message.push_str(&l);
                        }
                        let _ = tx.send(message);
                        b"250 queued\r\n"
                    } else if verb == "QUIT" {
                        let _ = out.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = out.write_all(answer);
                    line.clear();
                }
            });
        }
    });
    (port, rx)
}

#[test]
fn with_smtp_configured_notifications_are_emailed_and_without_it_none_are() {
    let (port, mail) = smtp_listener();
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let smtp = format!("smtp://127.0.0.1:{port}");
    let server = TestServer::start_in(
        &data,
        &["--smtp-url", &smtp, "--smtp-from", "Hearth <hearth@example.test>"],
        &[],
    );
    let r = repo_on(server);
    let out = r.server.admin(
        &["create-user", "erin", "--email", "erin@example.test"],
        "pw-erin-1234\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (status, _) = call(
        &r,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        &r.token,
        Some(json!({"title": "Release notes\r\nBcc: x@evil.test", "body": "@erin can you write them?"})),
    );
    assert_eq!(status, 201);
    let message = mail.recv_timeout(Duration::from_secs(30)).expect("an e-mail arrives");
    assert!(message.contains("To: erin@example.test"), "{message}");
    assert!(message.contains("From: Hearth <hearth@example.test>"), "{message}");
    assert!(message.contains("Subject: [alice/demo] Release notes"), "{message}");
    assert!(!message.contains("\r\nBcc:"), "a title cannot add headers: {message}");
    assert!(
        message.contains("alice mentioned you: @erin can you write them?"),
        "{message}"
    );
    assert!(message.contains("/alice/demo/issues/1"), "{message}");
    // Alice has no address: nothing more is sent.
    assert!(mail.recv_timeout(Duration::from_secs(3)).is_err());

    // The same server without --smtp-url sends nothing, and forgets what was queued.
    drop(r);
    let server = TestServer::start_in(&data, &[], &[]);
    let token = {
        let out = server.admin(&["token", "alice"], "");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let (status, _) = server.api(
        "POST",
        "/api/v1/repos/alice/demo/issues",
        Some(&token),
        Some(json!({"title": "Quiet", "body": "@erin again"})),
    );
    assert_eq!(status, 201);
    assert!(
        mail.recv_timeout(Duration::from_secs(5)).is_err(),
        "no e-mail without --smtp-url"
    );
}
