//! `/metrics` as Prometheus scrapes it: behind its bearer token, and its
//! figures move with what happens — a clone and a push, a run and its
//! deployment, API requests by route (never by the path a client made up),
//! webhook deliveries, the database's size.

mod common;

use common::ci::{Repo, repo_with};
use serde_json::json;

const TOKEN: &str = "scrape-me-7";

fn scrape(r: &Repo) -> String {
    let response = common::client()
        .get(r.server.url("/metrics"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = response.text().unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

/// The value of the sample `name` whose labels include all of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .find(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

#[test]
fn metrics_move_with_clones_runs_deploys_and_requests() {
    let r = repo_with(&["--metrics-token", TOKEN, "--webhook-allow-hosts", "127.0.0.1"]);

    // Only a scraper with the token is answered.
    let anonymous = common::client().get(r.server.url("/metrics")).send().unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = common::client()
        .get(r.server.url("/metrics"))
        .header("Authorization", "Bearer nope")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let before = scrape(&r);
    assert_eq!(
        value(&before, "hearth_git_operations_total", &[("service", "upload-pack")]),
        0.0
    );
    assert_eq!(value(&before, "hearth_repositories", &[]), 1.0);
    assert!(value(&before, "hearth_database_bytes", &[]) > 0.0);

    // A push with a workflow that deploys, then a clone.
    r.push_workflow(
        "ci.yml",
        "on: push\njobs:\n  build:\n    steps:\n      - run: echo built\n  beta:\n    needs: build\n    environment: beta\n    steps:\n      - run: echo deployed\n",
        "main",
    );
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success");
    let url = r.server.cred_url(&r.user, &r.token, &format!("/{}.git", r.slug));
    let copy = r.git.dir("copy");
    r.git.ok(None, &["clone", "-q", &url, copy.to_str().unwrap()]);

    let after = scrape(&r);
    assert!(value(&after, "hearth_git_operations_total", &[("service", "receive-pack")]) >= 1.0);
    assert!(value(&after, "hearth_git_operations_total", &[("service", "upload-pack")]) >= 1.0);
    assert!(
        value(
            &after,
            "hearth_git_bytes_total",
            &[("service", "receive-pack"), ("direction", "in")]
        ) > 100.0
    );
    assert!(
        value(
            &after,
            "hearth_git_bytes_total",
            &[("service", "upload-pack"), ("direction", "out")]
        ) > 100.0
    );
    assert_eq!(
        value(
            &after,
            "hearth_runs",
            &[("status", "completed"), ("conclusion", "success")]
        ),
        1.0
    );
    assert_eq!(value(&after, "hearth_jobs", &[("status", "completed")]), 2.0);
    assert_eq!(value(&after, "hearth_job_duration_seconds_count", &[]), 2.0);
    assert_eq!(
        value(&after, "hearth_job_duration_seconds_bucket", &[("le", "+Inf")]),
        2.0
    );
    assert_eq!(value(&after, "hearth_queue_length", &[]), 0.0);
    assert_eq!(
        value(
            &after,
            "hearth_deployments",
            &[("environment", "beta"), ("state", "success")]
        ),
        1.0
    );

    // Requests are counted by route, with their latency.
    for _ in 0..3 {
        r.server
            .api("GET", &format!("/api/v1/repos/{}", r.slug), Some(&r.token), None);
    }
    r.server
        .api("GET", "/api/v1/repos/alice/no-such-repository", Some(&r.token), None);
    let _ = common::client()
        .get(r.server.url("/made/up/path/../x?y=1"))
        .send()
        .unwrap();
    let _ = common::client()
        .request("BREW".parse().unwrap(), r.server.url("/"))
        .send()
        .unwrap();
    let text = scrape(&r);
    let route = [("route", "/api/v1/repos/{owner}/{repo}"), ("method", "GET")];
    assert_eq!(
        value(
            &text,
            "hearth_http_requests_total",
            &[route[0], route[1], ("status", "200")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "hearth_http_requests_total",
            &[route[0], route[1], ("status", "404")]
        ),
        1.0
    );
    assert_eq!(value(&text, "hearth_http_request_duration_seconds_count", &route), 4.0);
    assert!(
        !text.contains("no-such-repository") && !text.contains("made/up"),
        "paths never become labels"
    );
    assert!(
        !text.contains("BREW") && text.contains("method=\"other\""),
        "nor made-up methods"
    );

    // Webhook deliveries by outcome.
    let (status, _) = r.server.api(
        "POST",
        &format!("/api/v1/repos/{}/hooks", r.slug),
        Some(&r.token),
        Some(json!({ "config": { "url": "http://127.0.0.1:9/nothing-listens" } })),
    );
    assert_eq!(status, 201);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = scrape(&r);
        let sent = ["pending", "failed", "delivered"]
            .iter()
            .map(|s| value(&text, "hearth_webhook_deliveries", &[("state", s)]))
            .sum::<f64>();
        if sent >= 1.0 && value(&text, "hearth_webhook_deliveries", &[("state", "delivered")]) == 0.0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `/metrics` beyond loopback: closed without a token (#28), unless the
/// server says it is public; with a token, only for who sends it.
#[test]
fn metrics_are_closed_beyond_this_machine_by_default() {
    let ip = common::outside_address();
    let status = |args: &[&str], from: std::net::IpAddr, token: Option<&str>| {
        let server = common::TestServer::start_with(&[&["--listen", "0.0.0.0:0"][..], args].concat());
        let port = server
            .url("/")
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        let mut request = common::client().get(format!("http://{from}:{port}/metrics"));
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(status(&[], loopback, None).0, 200);
    let (code, body) = status(&[], ip, None);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("--metrics-token"), "{body}");
    assert_eq!(status(&["--metrics-public"], ip, None).0, 200);
    assert_eq!(status(&["--metrics-token", TOKEN], ip, None).0, 401);
    assert_eq!(status(&["--metrics-token", TOKEN], ip, Some(TOKEN)).0, 200);
}
