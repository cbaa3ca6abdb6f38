//! Webhooks against a real HTTP receiver on 127.0.0.1: every event arrives
//! signed (X-Hub-Signature-256) and valid against GitHub's published
//! webhook schemas (`@octokit/webhooks-schemas`, fetched by `.ci/run` into
//! `target/github-schemas`); a failing receiver is retried and its
//! attempts listed; one that hangs or answers 10 MB is cut off while the
//! queue moves on; and webhooks cannot be pointed at loopback, private or
//! metadata addresses, at save time or at delivery.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;
use common::ci::{Repo, repo_with};
use serde_json::{Value, json};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Got {
    fn event(&self) -> &str {
        &self.headers["x-github-event"]
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A receiver: records every request, and answers as `answer` says for its path.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got: Arc<Mutex<Vec<Got>>> = Default::default();
        let record = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let record = record.clone();
                std::thread::spawn(move || serve(stream, record));
            }
        });
        Receiver { port, got }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn at(&self, path: &str) -> Vec<Got> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` got a delivery that `f` accepts.
    fn wait(&self, path: &str, what: &str, f: impl Fn(&Got) -> bool) -> Got {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(g) = self.at(path).into_iter().find(|g| f(g)) {
                return g;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} at {path}; got {:?}",
                self.at(path)
                    .iter()
                    .map(|g| format!("{} {}", g.event(), g.json()["action"]))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn serve(stream: std::net::TcpStream, record: Arc<Mutex<Vec<Got>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let n = {
        let mut all = record.lock().unwrap();
        all.push(Got {
            path: path.clone(),
            headers,
            body,
        });
        all.iter().filter(|g| g.path == path).count()
    };
    let mut out = stream;
    match path.as_str() {
        // Fails the first time, then takes it.
        "/flaky" if n == 1 => {
            let _ = out
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy");
        }
        "/hang" => std::thread::sleep(Duration::from_secs(30)),
        "/big" => {
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'x'; 1 << 16];
            for _ in 0..160 {
                if out.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
        "/moved" => {
            let _ = out.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
        _ => {
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    }
}

/// GitHub's webhook schemas, one validator per event and action.
struct Schemas {
    root: Value,
}

impl Schemas {
    fn load() -> Schemas {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/github-schemas/package/schema.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "GitHub's webhook schemas are not at {} ({e}); .ci/run fetches them from the npm registry \
                 (@octokit/webhooks-schemas)",
                path.display()
            )
        });
        Schemas {
            root: serde_json::from_str(&text).unwrap(),
        }
    }

    /// Every way `payload` of `event` differs from GitHub's schema.
    fn errors(&self, event: &str, payload: &Value) -> Vec<String> {
        let name = match payload["action"].as_str() {
            Some(a) => format!("{event}${a}"),
            None => format!("{event}$event"),
        };
        assert!(
            self.root["definitions"].get(&name).is_some(),
            "GitHub's schemas have no {name}"
        );
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema",
            "$ref": format!("#/definitions/{name}"),
            "definitions": self.root["definitions"],
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        validator
            .iter_errors(payload)
            .map(|e| format!("{name} at {}: {e}", e.instance_path()))
            .collect()
    }
}

const SECRET: &str = "It's a Secret to Everybody";

fn hmac_hex(body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn call(r: &Repo, method: &str, path: &str, body: Value) -> (u16, Value) {
    r.server.api(
        method,
        &format!("/api/v1/repos/{}{path}", r.slug),
        Some(&r.token),
        if body.is_null() { None } else { Some(body) },
    )
}

fn add_hook(r: &Repo, url: &str, events: Value) -> Value {
    let (status, hook) = call(
        r,
        "POST",
        "/hooks",
        json!({ "config": { "url": url, "content_type": "json", "secret": SECRET }, "events": events }),
    );
    assert_eq!(status, 201, "{hook}");
    hook
}

/// Waits for the hook's delivery `guid` to have `attempts` attempts and `state`.
fn wait_delivery(r: &Repo, hook: &Value, what: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, list) = call(r, "GET", &format!("/hooks/{}/deliveries", hook["id"]), Value::Null);
        if let Some(d) = list.as_array().unwrap().iter().find(|d| what(d)) {
            let (_, full) = call(
                r,
                "GET",
                &format!("/hooks/{}/deliveries/{}", hook["id"], d["id"]),
                Value::Null,
            );
            return full;
        }
        assert!(Instant::now() < deadline, "no such delivery: {list}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_event_arrives_signed_in_githubs_shape() {
    let schemas = Schemas::load();
    let receiver = Receiver::start();
    let r = repo_with(&["--webhook-allow-hosts", "127.0.0.1"]);
    let hook = add_hook(&r, &receiver.url("/all"), json!(["*"]));
    assert_eq!(hook["config"]["secret"], "********", "{hook}");
    assert_eq!(
        hook["ping_url"],
        format!("{}/api/v1/repos/{}/hooks/{}/pings", r.server.base, r.slug, hook["id"])
    );

    // The events of an ordinary day.
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  build:\n    steps:\n      - run: echo built\n  beta:\n    needs: build\n    environment: beta\n    steps:\n      - run: echo deployed\n",
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success", "{run}");
    let (status, issue) = call(
        &r,
        "POST",
        "/issues",
        json!({ "title": "Crash on start", "body": "It crashes." }),
    );
    assert_eq!(status, 201, "{issue}");
    let (status, _) = call(&r, "POST", "/issues/1/comments", json!({ "body": "Seen it too." }));
    assert_eq!(status, 201);
    let (status, _) = call(
        &r,
        "PATCH",
        "/issues/1",
        json!({ "title": "Crash on start-up", "state": "closed" }),
    );
    assert_eq!(status, 200);
    std::fs::write(r.work.join("fix.txt"), "fixed\n").unwrap();
    r.commit_and_push("Fix the crash", "topic");
    let (status, pull) = call(
        &r,
        "POST",
        "/pulls",
        json!({ "title": "Fix the crash", "head": "topic", "base": "main" }),
    );
    assert_eq!(status, 201, "{pull}");
    let bob = r.server.user("bob", "pw-bob-123", false);
    let (status, _) = call(&r, "PUT", "/collaborators/bob", json!({ "permission": "write" }));
    assert_eq!(status, 204);
    let (status, review) = r.server.api(
        "POST",
        &format!("/api/v1/repos/{}/pulls/2/reviews", r.slug),
        Some(&bob),
        Some(json!({ "event": "APPROVE", "body": "Good." })),
    );
    assert_eq!(status, 200, "{review}");
    let url = r.server.cred_url(&r.user, &r.token, &format!("/{}.git", r.slug));
    r.git.ok(Some(&r.work), &["tag", "v1.0"]);
    r.git.ok(Some(&r.work), &["push", "-q", &url, "v1.0"]);
    let (status, release) = call(
        &r,
        "POST",
        "/releases",
        json!({ "tag_name": "v1.0", "target_commitish": "main", "name": "One" }),
    );
    assert_eq!(status, 201, "{release}");
    let tip = r.git.ok(Some(&r.work), &["rev-parse", "HEAD"]).trim().to_string();
    let (status, said) = call(
        &r,
        "POST",
        &format!("/statuses/{tip}"),
        json!({ "state": "success", "context": "ci/outside" }),
    );
    assert_eq!(status, 201, "{said}");
    r.git.ok(Some(&r.work), &["push", "-q", &url, ":refs/heads/topic"]);

    let expected: &[(&str, Option<&str>)] = &[
        ("ping", None),
        ("push", None),
        ("create", None),
        ("workflow_run", Some("requested")),
        ("workflow_run", Some("in_progress")),
        ("workflow_run", Some("completed")),
        ("workflow_job", Some("queued")),
        ("workflow_job", Some("in_progress")),
        ("workflow_job", Some("completed")),
        ("deployment", Some("created")),
        ("deployment_status", Some("created")),
        ("issues", Some("opened")),
        ("issue_comment", Some("created")),
        ("issues", Some("edited")),
        ("issues", Some("closed")),
        ("pull_request", Some("opened")),
        ("pull_request_review", Some("submitted")),
        ("release", Some("created")),
        ("release", Some("published")),
        ("status", None),
        ("delete", None),
    ];
    let mut problems = Vec::new();
    for (event, action) in expected {
        let got = receiver.wait("/all", &format!("{event} {action:?}"), |g| {
            g.event() == *event && g.json()["action"].as_str() == *action
        });
        // Signed with the secret, as GitHub signs.
        assert_eq!(
            got.headers.get("x-hub-signature-256"),
            Some(&format!("sha256={}", hmac_hex(&got.body))),
            "{event}"
        );
        assert_eq!(got.headers["content-type"], "application/json");
        assert_eq!(got.headers["x-github-hook-id"], hook["id"].to_string());
        assert_eq!(got.headers["x-github-delivery"].len(), 36, "a UUID");
        problems.extend(schemas.errors(event, &got.json()));
    }
    assert!(
        problems.is_empty(),
        "payloads unlike GitHub's:\n{}",
        problems.join("\n")
    );

    // What a receiver reads first is right, not only well-formed.
    let push = receiver.wait("/all", "push of main", |g| {
        g.event() == "push" && g.json()["ref"] == "refs/heads/main"
    });
    let p = push.json();
    assert_eq!(p["repository"]["full_name"], r.slug);
    assert_eq!(
        p["repository"]["clone_url"],
        format!("{}/{}.git", r.server.base, r.slug)
    );
    assert_eq!(p["pusher"]["name"], "alice");
    assert_eq!(p["sender"]["login"], "alice");
    assert_eq!(p["commits"][0]["message"], "Workflow ci.yml\n");
    assert_eq!(
        p["commits"][0]["added"],
        json!([".hearth/workflows/ci.yml", "README.md"])
    );
    assert_eq!(p["head_commit"]["id"], p["after"]);
    let edited = receiver.wait("/all", "issues edited", |g| g.json()["action"] == "edited");
    assert_eq!(edited.json()["changes"]["title"]["from"], "Crash on start");
    let completed = receiver.wait("/all", "run completed", |g| {
        g.event() == "workflow_run" && g.json()["action"] == "completed"
    });
    assert_eq!(completed.json()["workflow_run"]["conclusion"], "success");
    assert_eq!(completed.json()["workflow_run"]["path"], ".hearth/workflows/ci.yml");

    // An event the hook does not ask for is not sent to it.
    let only_issues = add_hook(&r, &receiver.url("/issues-only"), json!(["issues"]));
    receiver.wait("/issues-only", "ping", |g| g.event() == "ping");
    call(&r, "POST", "/issues", json!({ "title": "Second" }));
    receiver.wait("/issues-only", "issues opened", |g| g.event() == "issues");
    r.commit_and_push("Another", "main");
    receiver.wait("/all", "second push", |g| {
        g.event() == "push" && g.json()["head_commit"]["message"] == "Another\n"
    });
    assert!(
        receiver
            .at("/issues-only")
            .iter()
            .all(|g| ["ping", "issues"].contains(&g.event()))
    );

    // The deliveries are listed with what was sent and what came back, and
    // one can be sent again.
    let ping = wait_delivery(&r, &only_issues, |d| d["event"] == "ping");
    assert_eq!(ping["status"], "OK", "{ping}");
    assert_eq!(ping["status_code"], 200);
    assert_eq!(ping["request"]["headers"]["X-GitHub-Event"], "ping");
    assert_eq!(ping["response"]["payload"], "ok");
    let (status, _) = call(
        &r,
        "POST",
        &format!("/hooks/{}/deliveries/{}/attempts", only_issues["id"], ping["id"]),
        Value::Null,
    );
    assert_eq!(status, 202);
    let again = wait_delivery(&r, &only_issues, |d| d["redelivery"] == true && d["status"] == "OK");
    assert_eq!(again["request"]["payload"], ping["request"]["payload"]);
    assert_eq!(
        receiver
            .at("/issues-only")
            .iter()
            .filter(|g| g.event() == "ping")
            .count(),
        2
    );
}

#[test]
fn failing_receivers_are_retried_cut_off_and_never_hold_the_queue() {
    let receiver = Receiver::start();
    let r = repo_with(&["--webhook-allow-hosts", "127.0.0.1"]);
    let hang = add_hook(&r, &receiver.url("/hang"), json!(["issues"]));
    let big = add_hook(&r, &receiver.url("/big"), json!(["issues"]));
    let flaky = add_hook(&r, &receiver.url("/flaky"), json!(["issues"]));
    let moved = add_hook(&r, &receiver.url("/moved"), json!(["issues"]));

    // The one that fails first is tried again, and its attempts are listed.
    let retried = wait_delivery(&r, &flaky, |d| d["event"] == "ping" && d["status"] == "OK");
    assert_eq!(retried["attempts"], 2, "{retried}");
    assert_eq!(retried["attempt_log"][0]["status_code"], 503);
    assert_eq!(retried["attempt_log"][0]["error"], "Invalid HTTP Response: 503");
    assert_eq!(retried["attempt_log"][1]["status_code"], 200);

    // 10 MB: read up to the cap, kept in part, and the answer counts.
    let answered = wait_delivery(&r, &big, |d| d["event"] == "ping" && d["status"] == "OK");
    let kept = answered["response"]["payload"].as_str().unwrap();
    assert!(
        kept.len() < 10_000 && kept.ends_with("(the rest of the answer was not read)"),
        "{}",
        kept.len()
    );

    // A redirect is not followed.
    let refused = wait_delivery(&r, &moved, |d| d["event"] == "ping" && d["attempts"] == 1);
    assert!(
        refused["status"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed"),
        "{refused}"
    );
    assert!(receiver.at("/elsewhere").is_empty());

    // The hung one times out while the others go on.
    call(&r, "POST", "/issues", json!({ "title": "While one hangs" }));
    receiver.wait("/flaky", "issues while /hang hangs", |g| g.event() == "issues");
    let timed_out = wait_delivery(&r, &hang, |d| {
        d["event"] == "ping" && d["attempts"] == 1 && d["state"] == "pending"
    });
    assert!(
        timed_out["status"].as_str().unwrap().starts_with("timed out"),
        "{timed_out}"
    );
}

#[test]
fn webhooks_cannot_reach_private_addresses() {
    let r = common::ci::repo();
    let receiver = Receiver::start();
    for (url, why) in [
        (receiver.url("/x"), "loopback"),
        (format!("http://localhost:{}/x", receiver.port), "loopback"),
        ("http://[::1]/x".to_string(), "loopback"),
        ("http://169.254.169.254/latest/meta-data/".to_string(), "metadata"),
        ("http://10.0.0.8/".to_string(), "private"),
        ("http://192.168.1.1/".to_string(), "private"),
        ("http://0.0.0.0:8080/".to_string(), "unspecified"),
        ("http://[::ffff:127.0.0.1]/".to_string(), "loopback"),
        // Every IPv6 form of a private address (#28).
        (format!("http://[::7f00:1]:{}/x", receiver.port), "loopback"),
        ("http://[64:ff9b::a00:1]/".to_string(), "private"),
        ("http://[2002:c0a8:101::1]/".to_string(), "private"),
        ("http://[fec0::1]/".to_string(), "private"),
        ("ftp://example.com/".to_string(), "http:// or https://"),
        ("not a url".to_string(), "not a URL"),
    ] {
        let (status, body) = call(&r, "POST", "/hooks", json!({ "config": { "url": url } }));
        assert_eq!(status, 422, "{url}: {body}");
        assert!(body["message"].as_str().unwrap().contains(why), "{url}: {body}");
    }
    let (status, body) = call(
        &r,
        "POST",
        "/hooks",
        json!({ "config": { "url": "http://8.8.8.8/" }, "events": ["nonsense"] }),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nonsense"), "{body}");
    assert!(receiver.got.lock().unwrap().is_empty());
}

#[test]
fn a_host_no_longer_allowed_is_refused_at_delivery() {
    let receiver = Receiver::start();
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let server = TestServer::start_in(&data, &["--webhook-allow-hosts", "127.0.0.1"], &[]);
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", false);
    let api = |s: &TestServer, method: &str, path: &str, body: Value| {
        s.api(
            method,
            &format!("/api/v1/repos/alice/demo{path}"),
            Some(&token),
            Some(body),
        )
    };
    let (status, hook) = api(
        &server,
        "POST",
        "/hooks",
        json!({ "config": { "url": receiver.url("/x") } }),
    );
    assert_eq!(status, 201, "{hook}");
    drop(server);
    let first = receiver.at("/x").len();

    let server = TestServer::start_in(&data, &[], &[]);
    let (status, _) = api(&server, "POST", &format!("/hooks/{}/pings", hook["id"]), Value::Null);
    assert_eq!(status, 204);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, list) = server.api(
            "GET",
            &format!("/api/v1/repos/alice/demo/hooks/{}/deliveries", hook["id"]),
            Some(&token),
            None,
        );
        let refused = list
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["status"].as_str().unwrap_or("").contains("loopback"))
            .cloned();
        if let Some(d) = refused {
            assert_eq!(d["attempts"], 1, "{d}");
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(receiver.at("/x").len(), first, "nothing reached the receiver");
}
