//! Hostile forms and API calls: bodies that are not JSON, of the wrong
//! types, nested too deep, too large or sent as the wrong type; forms
//! without their CSRF token, too large, or missing fields. Each gets a
//! 4xx with a message a person can read, and nothing is changed.

mod common;

use common::TestServer;
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// Sends `body` as `content_type` to the API with alice's token.
fn send(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let resp = common::client()
        .request(method.parse().unwrap(), server.url(path))
        .header("Authorization", format!("token {token}"))
        .header("Content-Type", content_type)
        .body(body)
        .send();
    match resp {
        Ok(resp) => (resp.status().as_u16(), resp.text().unwrap()),
        // The server may answer a body over its limit before it is all
        // sent, and close: the client sees its write fail.
        Err(e) if e.is_request() => (413, r#"{"message": "closed while sending"}"#.into()),
        Err(e) => panic!("{path}: {e}"),
    }
}

#[test]
fn api_bodies_of_the_wrong_shape_get_4xx_with_a_message_and_change_nothing() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", false);
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}{}", "{\"a\":".repeat(50_000), "1".to_string() + &"}".repeat(50_000));
    let huge = format!("{{\"title\": \"x\", \"body\": \"{}\"}}", "y".repeat(8 << 20));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"title=x".to_vec()),
        ("cut JSON", b"{\"title\": \"x".to_vec()),
        ("trailing garbage", b"{\"title\": \"x\"} {}".to_vec()),
        ("a number for a string", br#"{"title": 5}"#.to_vec()),
        ("null for a string", br#"{"title": null}"#.to_vec()),
        ("an object for a string", br#"{"title": {"$gt": ""}}"#.to_vec()),
        ("a list at the top", br#"[{"title": "x"}]"#.to_vec()),
        ("bytes that are not UTF-8", b"{\"title\": \"\xff\xfe\"}".to_vec()),
        ("a lone surrogate", br#"{"title": "\ud800"}"#.to_vec()),
        ("nested 100,000 deep (a list)", deep.clone().into_bytes()),
        ("nested 50,000 deep (objects)", deep_object.into_bytes()),
        ("8 MiB", huge.into_bytes()),
        ("empty", Vec::new()),
    ];
    let endpoints = [
        ("POST", "/api/v1/repos/alice/demo/issues"),
        ("POST", "/api/v1/repos/alice/demo/labels"),
        ("POST", "/api/v1/repos/alice/demo/milestones"),
        ("POST", "/api/v1/repos/alice/demo/hooks"),
        ("POST", "/api/v1/repos/alice/demo/releases"),
        ("POST", "/api/v1/user/repos"),
        ("PUT", "/api/v1/repos/alice/demo/actions/secrets/TOKEN"),
        (
            "POST",
            "/api/v1/repos/alice/demo/statuses/0123456789012345678901234567890123456789",
        ),
    ];
    for (method, path) in endpoints {
        for (what, body) in &bodies {
            let (status, text) = send(&server, &token, method, path, "application/json", body.clone());
            assert!(
                (400..500).contains(&status),
                "{method} {path} with {what}: {status} {text}"
            );
            let answer: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
            let message = answer["message"].as_str().unwrap_or_default();
            assert!(!message.is_empty() && message.len() < 1000, "{what}: {answer}");
        }
        // The right body as the wrong type.
        let (status, text) = send(
            &server,
            &token,
            method,
            path,
            "text/plain",
            br#"{"title": "x"}"#.to_vec(),
        );
        assert!(
            (400..500).contains(&status),
            "{method} {path} as text/plain: {status} {text}"
        );
    }
    let (status, text) = send(
        &server,
        &token,
        "POST",
        "/api/v1/repos/alice/demo/issues",
        "application/json",
        br#"{"title": "x", "labels": "bug"}"#.to_vec(),
    );
    assert!((400..500).contains(&status), "a string for a list: {status} {text}");
    let (_, issues) = server.api("GET", "/api/v1/repos/alice/demo/issues?state=all", Some(&token), None);
    assert_eq!(issues, json!([]), "nothing was created");
    let (_, hooks) = server.api("GET", "/api/v1/repos/alice/demo/hooks", Some(&token), None);
    assert_eq!(hooks, json!([]));
    let (_, repos) = server.api("GET", "/api/v1/user/repos", Some(&token), None);
    assert_eq!(repos.as_array().unwrap().len(), 1);
    assert_eq!(server.get("/healthz").status(), 200);
}

/// A signed-in browser's session.
fn browser(server: &TestServer) -> Client {
    common::sign_in(server, "alice", "pw-alice-1")
}

#[test]
fn forms_without_their_token_too_large_or_incomplete_are_refused_and_change_nothing() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", false);
    let client = browser(&server);
    let page = client
        .get(server.url("/alice/demo/issues/new"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = common::csrf_of(&page);
    let forms: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("/alice/demo/issues/new", vec![("title", "x".into())]),
        (
            "/alice/demo/labels",
            vec![("name", "bug".into()), ("color", "ff0000".into())],
        ),
        ("/alice/demo/milestones", vec![("title", "S".into())]),
        (
            "/alice/demo/settings/collaborators",
            vec![("name", "alice".into()), ("permission", "write".into())],
        ),
        (
            "/alice/demo/settings/secrets",
            vec![("name", "X".into()), ("value", "y".into())],
        ),
        (
            "/alice/demo/settings/hooks",
            vec![
                ("url", "http://127.0.0.1:9/".into()),
                ("content_type", "json".into()),
                ("which", "all".into()),
            ],
        ),
        ("/settings/tokens", vec![("label", "t".into())]),
        ("/new", vec![("name", "other".into())]),
        (
            "/admin/users",
            vec![("name", "mallory".into()), ("password", "pw-mallory-1".into())],
        ),
    ];
    for (path, fields) in &forms {
        // No token, a wrong token, and the right token from another origin.
        let (status, _) = post_form(&client, &server.url(path), fields, None, None);
        assert_eq!(status, 403, "{path} without a CSRF token");
        let (status, _) = post_form(&client, &server.url(path), fields, Some("forged"), None);
        assert_eq!(status, 403, "{path} with a wrong CSRF token");
        let (status, _) = post_form(
            &client,
            &server.url(path),
            fields,
            Some(&csrf),
            Some("http://evil.example"),
        );
        assert_eq!(status, 403, "{path} from another origin");
    }
    // Too large: a form over the body limit.
    let big = "x".repeat(8 << 20);
    let (status, text) = post_form(
        &client,
        &server.url("/alice/demo/issues/new"),
        &[("title", "x".into()), ("body", big)],
        Some(&csrf),
        None,
    );
    assert_eq!(status, 413, "{}", &text[..text.len().min(300)]);
    // Missing or repeated fields, and bytes that are not UTF-8.
    for (what, body) in [
        ("no title", format!("csrf={csrf}")),
        ("a title twice", format!("csrf={csrf}&title=a&title=b")),
        ("not a form", format!("csrf={csrf}&&&===&title")),
    ] {
        let resp = client
            .post(server.url("/alice/demo/issues/new"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        assert!((400..500).contains(&status), "{what}: {status}");
        assert!(
            text.contains("<html") || text.contains("<!DOCTYPE"),
            "{what}: the answer is a page"
        );
    }
    let (_, issues) = server.api("GET", "/api/v1/repos/alice/demo/issues?state=all", Some(&token), None);
    assert_eq!(issues, json!([]), "nothing was created");
    let (_, repos) = server.api("GET", "/api/v1/user/repos", Some(&token), None);
    assert_eq!(repos.as_array().unwrap().len(), 1);
    // Escapes that are not UTF-8 (no browser sends them) are read as
    // replacement characters, as the URL standard decodes them.
    let resp = client
        .post(server.url("/alice/demo/issues/new"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&title=%ff%fe"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    let (_, issue) = server.api("GET", "/api/v1/repos/alice/demo/issues/1", Some(&token), None);
    assert_eq!(issue["title"], "\u{fffd}\u{fffd}");
    assert_eq!(
        server.api("GET", "/api/v1/users/mallory", Some(&token), None).0,
        404,
        "no account was made"
    );
}

fn post_form(
    client: &Client,
    url: &str,
    fields: &[(&str, String)],
    csrf: Option<&str>,
    origin: Option<&str>,
) -> (u16, String) {
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if let Some(t) = csrf {
        form.push(("csrf", t));
    }
    let mut req = client.post(url).form(&form);
    if let Some(o) = origin {
        req = req.header("Origin", o);
    }
    let resp = req.send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap_or_default())
}
