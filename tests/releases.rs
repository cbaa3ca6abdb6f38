//! What CI produces, published, through real pushes: a tag's run makes a
//! release whose assets are the bytes the job built, shown on the releases
//! page and in GitHub's API shape; a run of the default branch publishes
//! documentation, served sandboxed and only to those who may read the
//! repository.

mod common;

use common::ci::repo;
use serde_json::json;
use sha2::Digest;

const WORKFLOW: &str = r#"on:
  push:
    branches: ["**"]
    tags: ["v*"]
jobs:
  build:
    steps:
      - run: |
          mkdir -p dist site/guide
          echo "the app, built from $GITHUB_SHA" > app.bin
          tar -czf dist/app-linux.tar.gz app.bin
          (cd dist && sha256sum app-linux.tar.gz > SHA256SUMS)
          echo "Notes for **$GITHUB_REF_NAME**" > notes.md
          echo '<h1>Docs</h1><script>document.title = "ran"</script>' > site/index.html
          echo 'Guide' > site/guide/index.html
          echo 'body { color: red }' > site/style.css
      - if: startsWith(github.ref, 'refs/tags/')
        uses: softprops/action-gh-release@v2
        with:
          body_path: notes.md
          files: dist/*
      - if: github.ref == 'refs/heads/main'
        uses: hearth/publish-docs
        with:
          path: site
      - if: github.ref == 'refs/heads/topic'
        uses: hearth/release
        with:
          files: dist/*
"#;

#[test]
fn a_tag_publishes_a_release_of_the_bytes_its_run_built_and_main_publishes_docs() {
    let r = repo();
    r.push_workflow("release.yml", WORKFLOW, "main");
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success", "{}", r.log(&r.jobs(&run)[0]));

    // The documentation, served as the repository's pages are.
    let docs = r.server.get("/alice/demo/docs/");
    assert_eq!(docs.status(), 200);
    assert_eq!(docs.headers()["content-type"], "text/html; charset=utf-8");
    let csp = docs.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.starts_with("sandbox"),
        "its scripts run in an origin of their own: {csp}"
    );
    assert!(!csp.contains("allow-same-origin"));
    assert!(docs.text().unwrap().contains("<h1>Docs</h1>"));
    assert_eq!(r.server.get("/alice/demo/docs/guide/").text().unwrap(), "Guide\n");
    let css = r.server.get("/alice/demo/docs/style.css");
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(r.server.get("/alice/demo/docs/missing.html").status(), 404);
    assert_eq!(r.server.get("/alice/demo/docs/%2e%2e/%2e%2e/hearth.db").status(), 404);
    // A folder without its slash goes to it.
    let redirect = common::client()
        .get(r.server.url("/alice/demo/docs/guide"))
        .send()
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/alice/demo/docs/guide/");

    // A branch may not make a release: the step fails and says why.
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", "topic"]);
    r.commit_and_push("On a branch", "topic");
    let run = r.wait_run(2);
    let log = r.log(&r.jobs(&run)[0]);
    assert_eq!(run["conclusion"], "failure");
    assert!(
        log.contains("a release is made from a tag: this run is of refs/heads/topic"),
        "{log}"
    );

    // A tag makes the release.
    r.git.ok(Some(&r.work), &["tag", "v1.0.0"]);
    let url = r.server.cred_url(&r.user, &r.token, "/alice/demo.git");
    r.git.ok(Some(&r.work), &["push", "-q", &url, "v1.0.0"]);
    let run = r.wait_run(3);
    assert_eq!(run["conclusion"], "success", "{}", r.log(&r.jobs(&run)[0]));
    let release = r.api("/releases/tags/v1.0.0");
    assert_eq!(release["tag_name"], "v1.0.0");
    assert_eq!(release["name"], "v1.0.0");
    assert_eq!(release["body"], "Notes for **v1.0.0**\n");
    assert_eq!(release["draft"], false);
    assert_eq!(release["author"]["login"], "alice");
    assert_eq!(release["target_commitish"], run["head_sha"]);
    assert_eq!(release["html_url"], r.server.url("/alice/demo/releases/tag/v1.0.0"));
    let assets = release["assets"].as_array().unwrap();
    let names: Vec<&str> = assets.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["SHA256SUMS", "app-linux.tar.gz"]);
    // What downloads is what the job built: its own checksum says so.
    let sums = common::client()
        .get(assets[0]["browser_download_url"].as_str().unwrap())
        .send()
        .unwrap()
        .text()
        .unwrap();
    let app = common::client()
        .get(assets[1]["browser_download_url"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(app.headers()["content-type"], "application/gzip");
    assert!(
        app.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let bytes = app.bytes().unwrap();
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sums, format!("{digest}  app-linux.tar.gz\n"));
    assert_eq!(assets[1]["digest"], format!("sha256:{digest}"));
    assert_eq!(assets[1]["size"], bytes.len());
    let again = r.api("/releases/tags/v1.0.0");
    assert_eq!(again["assets"][1]["download_count"], 1);
    assert_eq!(r.api("/releases/latest")["id"], release["id"]);
    assert_eq!(r.api("/releases").as_array().unwrap().len(), 1);
    // Its asset through the API: JSON, or the bytes when asked for them.
    let asset_url = assets[1]["url"].as_str().unwrap();
    let raw = common::client()
        .get(asset_url)
        .header("Accept", "application/octet-stream")
        .send()
        .unwrap();
    assert_eq!(raw.bytes().unwrap(), bytes);

    // The pages: the list, the release by tag (both of GitHub's addresses).
    let page = r.server.get("/alice/demo/releases").text().unwrap();
    assert!(page.contains("Notes for <strong>v1.0.0</strong>"), "{page}");
    assert!(page.contains("/alice/demo/releases/download/v1.0.0/app-linux.tar.gz"));
    assert!(page.contains(&digest[..12]));
    for path in ["/alice/demo/releases/tag/v1.0.0", "/alice/demo/releases/v1.0.0"] {
        assert_eq!(r.server.get(path).status(), 200, "{path}");
    }
    assert_eq!(r.server.get("/alice/demo/releases/tag/v9").status(), 404);
    assert_eq!(
        r.server.get("/alice/demo/releases/download/v1.0.0/nothing").status(),
        404
    );

    // Through the API: a tag the repository has, once; not one it lacks.
    // (A tag the workflow does not run for.)
    r.git.ok(Some(&r.work), &["tag", "api-1"]);
    r.git.ok(Some(&r.work), &["push", "-q", &url, "api-1"]);
    let post = |body: serde_json::Value| {
        r.server
            .api("POST", "/api/v1/repos/alice/demo/releases", Some(&r.token), Some(body))
    };
    let (status, body) = post(json!({"tag_name": "v2.0.0"}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("no tag \"v2.0.0\""),
        "{body}"
    );
    let (status, _) = post(json!({"tag_name": "v1.0.0"}));
    assert_eq!(status, 409);
    let (status, body) = post(json!({"tag_name": "api-1", "name": "Later", "draft": true}));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["published_at"], serde_json::Value::Null);
    // A draft is seen by those who may push, nobody else.
    let anonymous = common::client()
        .get(r.server.url("/api/v1/repos/alice/demo/releases"))
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap();
    assert_eq!(anonymous.as_array().unwrap().len(), 1);
    assert_eq!(r.api("/releases").as_array().unwrap().len(), 2);
    let id = body["id"].as_i64().unwrap();
    let (status, body) = r.server.api(
        "PATCH",
        &format!("/api/v1/repos/alice/demo/releases/{id}"),
        Some(&r.token),
        Some(json!({"draft": false})),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["published_at"].is_string());
    assert_eq!(r.api("/releases/latest")["tag_name"], "api-1");
    assert_eq!(r.runs().len(), 3, "the api-1 tag started no run");
}

#[test]
fn a_private_repository_s_docs_are_seen_only_by_its_readers() {
    let r = repo();
    r.server.create_repo(&r.token, "secret", true);
    std::fs::create_dir_all(r.work.join(".hearth/workflows")).unwrap();
    std::fs::write(
        r.work.join(".hearth/workflows/docs.yml"),
        "on: push\njobs:\n  docs:\n    steps:\n      - run: mkdir site && echo private > site/index.html\n      - uses: hearth/publish-docs\n        with:\n          path: site\n",
    )
    .unwrap();
    r.git.ok(Some(&r.work), &["add", "-A"]);
    r.git.ok(Some(&r.work), &["commit", "-q", "-m", "Docs"]);
    let url = r.server.cred_url(&r.user, &r.token, "/alice/secret.git");
    r.git.ok(Some(&r.work), &["push", "-q", &url, "HEAD:refs/heads/main"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, runs) = r
            .server
            .api("GET", "/api/v1/repos/alice/secret/actions/runs", Some(&r.token), None);
        if runs["workflow_runs"][0]["status"] == "completed" {
            assert_eq!(runs["workflow_runs"][0]["conclusion"], "success", "{runs}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{runs}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(r.server.get("/alice/secret/docs/").status(), 404);
    let alice = common::sign_in(&r.server, "alice", "pw-alice-1");
    let page = alice.get(r.server.url("/alice/secret/docs/")).send().unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().unwrap(), "private\n");
}
