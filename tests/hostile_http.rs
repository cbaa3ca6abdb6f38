//! The doors an HTTP client could force: another site using a signed-in
//! browser's cookie on the API, a sign-in link that leads elsewhere, a
//! collaborator who keeps seeing a repository after removal, and requests
//! that hold a connection without end or send enormous headers.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{TestServer, sign_in};
use serde_json::json;

/// The server's `host:port`.
fn authority(server: &TestServer) -> String {
    server.base.trim_start_matches("http://").to_string()
}

#[test]
fn the_api_refuses_another_sites_use_of_a_browser_session() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", false);
    let browser = sign_in(&server, "alice", "pw-alice-1");
    let put = |origin: Option<&str>, user: &str| {
        let mut req = browser.put(server.url(&format!("/api/v1/repos/alice/demo/collaborators/{user}")));
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        req.json(&json!({"permission": "write"})).send().unwrap()
    };
    server.user("bob", "pw-bob-123", false);
    server.user("carol", "pw-carol-12", false);
    // From another site (or with no Origin at all): refused, and nothing changes.
    let resp = put(Some("http://evil.example"), "bob");
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().unwrap();
    assert!(body["message"].as_str().unwrap().contains("another site"), "{body}");
    assert_eq!(put(None, "bob").status(), 403);
    let (_, list) = server.api("GET", "/api/v1/repos/alice/demo/collaborators", Some(&token), None);
    assert_eq!(list, json!([]), "no collaborator was added");
    // From this site's own pages: allowed.
    let own = server.base.clone();
    assert!(put(Some(&own), "bob").status().is_success());
    // Reading with the cookie is fine, and a token needs no Origin.
    assert_eq!(browser.get(server.url("/api/v1/user")).send().unwrap().status(), 200);
    let (status, _) = server.api(
        "PUT",
        "/api/v1/repos/alice/demo/collaborators/carol",
        Some(&token),
        Some(json!({"permission": "read"})),
    );
    assert!((200..300).contains(&status));
}

#[test]
fn sign_in_links_never_lead_off_the_site() {
    let server = TestServer::start();
    server.user("alice", "pw-alice-1", true);
    let browser = sign_in(&server, "alice", "pw-alice-1");
    for next in [
        "/%09/evil.example/x",
        "/%0a/evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "/%20/evil.example",
    ] {
        let resp = browser.get(server.url(&format!("/login?next={next}"))).send().unwrap();
        assert_eq!(resp.status(), 303, "{next}");
        assert_eq!(resp.headers()["location"], "/", "{next}");
        // The form too.
        let visitor = common::browser();
        let page = visitor.get(server.url("/login")).send().unwrap().text().unwrap();
        let decoded = url::form_urlencoded::parse(format!("n={next}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        let resp = visitor
            .post(server.url("/login"))
            .form(&[
                ("csrf", common::csrf_of(&page).as_str()),
                ("name", "alice"),
                ("password", "pw-alice-1"),
                ("next", decoded.as_str()),
            ])
            .send()
            .unwrap();
        assert_eq!(resp.headers()["location"], "/", "{next}");
    }
    let resp = browser.get(server.url("/login?next=/alice")).send().unwrap();
    assert_eq!(resp.headers()["location"], "/alice", "a path of the site is kept");
}

#[test]
fn a_removed_collaborator_sees_nothing_more_of_a_private_repository() {
    let server = TestServer::start();
    let alice = server.user("alice", "pw-alice-1", true);
    server.user("bob", "pw-bob-123", false);
    server.create_repo(&alice, "secret", true);
    let (status, _) = server.api(
        "PUT",
        "/api/v1/repos/alice/secret/collaborators/bob",
        Some(&alice),
        Some(json!({"permission": "write"})),
    );
    assert!((200..300).contains(&status));
    let (status, _) = server.api(
        "POST",
        "/api/v1/repos/alice/secret/issues",
        Some(&alice),
        Some(json!({"title": "The launch date is 12 March", "assignees": ["bob"]})),
    );
    assert_eq!(status, 201);
    let bob = sign_in(&server, "bob", "pw-bob-123");
    let dashboard = || bob.get(server.url("/")).send().unwrap().text().unwrap();
    assert!(dashboard().contains("The launch date is 12 March"));
    let (status, _) = server.api(
        "DELETE",
        "/api/v1/repos/alice/secret/collaborators/bob",
        Some(&alice),
        None,
    );
    assert_eq!(status, 204);
    assert!(!dashboard().contains("launch date"), "{}", dashboard());
    assert_eq!(
        bob.get(server.url("/alice/secret/issues/1")).send().unwrap().status(),
        404
    );
    let (_, issue) = server.api("GET", "/api/v1/repos/alice/secret/issues/1", Some(&alice), None);
    assert_eq!(issue["assignees"], json!([]), "the assignment went with the access");
}

#[test]
fn huge_headers_get_431_and_the_server_goes_on() {
    let server = TestServer::start();
    let resp = common::client()
        .get(server.url("/"))
        .header("X-Filler", "a".repeat(200 << 10))
        .send();
    match resp {
        Ok(r) => assert_eq!(r.status(), 431),
        // The server may close the connection while the client still writes.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    // A raw client sees the 431 itself.
    let mut tcp = TcpStream::connect(authority(&server)).unwrap();
    let head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(20 << 10)
    );
    let _ = tcp.write_all(head.as_bytes());
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.80}");
    // Headers under the cap are fine.
    let resp = common::client()
        .get(server.url("/"))
        .header("X-Filler", "a".repeat(8 << 10))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn half_sent_requests_are_dropped_and_others_are_served_meanwhile() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    // Headers that never end, and a body that stops coming.
    let mut slow = TcpStream::connect(authority(&server)).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut stalled = TcpStream::connect(authority(&server)).unwrap();
    let head = format!(
        "POST /api/v1/user/repos HTTP/1.1\r\nHost: x\r\nAuthorization: token {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":"
    );
    stalled.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    // Others are served while they wait.
    assert_eq!(server.get("/healthz").status(), 200);
    let answer = |tcp: &mut TcpStream| {
        tcp.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        let mut buf = [0u8; 512];
        let n = tcp.read(&mut buf).unwrap_or(0);
        (String::from_utf8_lossy(&buf[..n]).into_owned(), started.elapsed())
    };
    // Closed (perhaps with a 408) after the header timeout, not held for ever.
    let (text, waited) = answer(&mut slow);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        waited >= Duration::from_secs(15) && waited < Duration::from_secs(35),
        "{waited:?}"
    );
    // The stalled body fails after the idle timeout, with an answer that says so.
    let (text, waited) = answer(&mut stalled);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");
    assert!(
        waited >= Duration::from_secs(50) && waited < Duration::from_secs(80),
        "{waited:?}"
    );
    let (_, repos) = server.api("GET", "/api/v1/repos/alice/x", Some(&token), None);
    assert_eq!(repos["message"], "not found", "nothing was created");
    assert_eq!(server.get("/healthz").status(), 200);
}
