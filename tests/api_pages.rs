//! Lists of the API are paged as GitHub's: a `Link` header with `next`
//! (and `last` where the total is known, `prev` and `first` after the
//! first page), which clients follow to the end — before it, they stopped
//! silently after the first page.

mod common;

use common::ci::repo;
use serde_json::{Value, json};

/// Follows `next` from `path`; every page's items, and the Link headers seen.
fn walk(server: &common::TestServer, token: &str, path: &str) -> (Vec<Value>, Vec<String>) {
    let mut url = server.url(path);
    let (mut items, mut links) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let response = common::client()
            .get(&url)
            .header("Authorization", format!("token {token}"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let link = response.headers().get("link").map(|l| l.to_str().unwrap().to_string());
        let body: Value = response.json().unwrap();
        let page = body.get("workflow_runs").cloned().unwrap_or(body);
        items.extend(page.as_array().unwrap().iter().cloned());
        let Some(link) = link else { break };
        links.push(link.clone());
        let next = link
            .split(", ")
            .find(|l| l.ends_with("rel=\"next\""))
            .map(|l| l[1..l.find('>').unwrap()].to_string());
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    (items, links)
}

#[test]
fn lists_send_link_headers_that_reach_every_item() {
    let r = repo();
    r.commit_and_push("First", "main");
    for n in 0..23 {
        let (status, _) = r.server.api(
            "POST",
            &format!("/api/v1/repos/{}/issues", r.slug),
            Some(&r.token),
            Some(json!({ "title": format!("Issue {n}") })),
        );
        assert_eq!(status, 201);
    }
    for n in 0..12 {
        let (status, _) = r.server.api(
            "POST",
            &format!("/api/v1/repos/{}/labels", r.slug),
            Some(&r.token),
            Some(json!({ "name": format!("label-{n:02}"), "color": "00ff00" })),
        );
        assert_eq!(status, 201);
    }

    let (issues, links) = walk(
        &r.server,
        &r.token,
        &format!("/api/v1/repos/{}/issues?per_page=10&state=open", r.slug),
    );
    assert_eq!(issues.len(), 23, "{links:?}");
    let numbers: std::collections::BTreeSet<i64> = issues.iter().map(|i| i["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers.len(), 23, "no issue twice");
    assert!(
        links[0].contains("state=open") && links[0].contains("page=2"),
        "{links:?}"
    );
    assert!(
        links[0].starts_with(&format!("<{}/api/v1/", r.server.base)),
        "absolute: {links:?}"
    );
    assert!(
        links[1].contains("rel=\"prev\"") && links[1].contains("rel=\"first\""),
        "{links:?}"
    );

    let (labels, links) = walk(
        &r.server,
        &r.token,
        &format!("/api/v1/repos/{}/labels?per_page=5", r.slug),
    );
    assert_eq!(labels.len(), 12);
    assert!(
        links[0].contains("page=3>; rel=\"last\""),
        "the total is known: {links:?}"
    );

    // One page is all: no Link.
    let response = common::client()
        .get(r.server.url(&format!("/api/v1/repos/{}/labels", r.slug)))
        .header("Authorization", format!("token {}", r.token))
        .send()
        .unwrap();
    assert!(response.headers().get("link").is_none());

    // Runs carry the header beside their total_count.
    for n in 0..3 {
        r.push_workflow(
            "ci.yml",
            &format!("on: push\njobs:\n  t{n}:\n    steps:\n      - run: echo {n}\n"),
            "main",
        );
    }
    let (runs, links) = walk(
        &r.server,
        &r.token,
        &format!("/api/v1/repos/{}/actions/runs?per_page=2", r.slug),
    );
    assert_eq!(runs.len(), 3, "{links:?}");
    assert!(links[0].contains("page=2>; rel=\"last\""), "{links:?}");
}
