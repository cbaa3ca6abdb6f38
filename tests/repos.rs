//! Repositories: creating them from the browser and the API, names,
//! visibility on profiles and pages, and collaborators.

mod common;

use common::{TestServer, csrf_of};
use reqwest::blocking::Client;
use serde_json::json;

fn signed_in(server: &TestServer, name: &str, password: &str) -> Client {
    server.user(name, password, false);
    common::sign_in(server, name, password)
}

fn create_from_page(server: &TestServer, client: &Client, name: &str, visibility: &str) -> reqwest::blocking::Response {
    let page = client.get(server.url("/new")).send().unwrap().text().unwrap();
    client
        .post(server.url("/new"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("name", name),
            ("description", "A <b>test</b> repository"),
            ("visibility", visibility),
        ])
        .send()
        .unwrap()
}

#[test]
fn create_from_the_new_page_and_see_how_to_push() {
    let server = TestServer::start();
    let alice = signed_in(&server, "alice", "pw-alice-1");
    let resp = create_from_page(&server, &alice, "website", "public");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/alice/website");
    let page = alice.get(server.url("/alice/website")).send().unwrap().text().unwrap();
    assert!(page.contains("<title>alice/website · Hearth</title>"));
    assert!(
        page.contains(&format!("{}/alice/website.git", server.base)),
        "clone URL shown"
    );
    assert!(page.contains("This repository is empty"));
    assert!(page.contains("git push -u origin main"));
    assert!(
        page.contains("A &#60;b&#62;test&#60;/b&#62; repository") || page.contains("A &lt;b&gt;test"),
        "escaped"
    );
    assert!(server.repo_dir("alice", "website").join("HEAD").exists());
    let head = std::fs::read_to_string(server.repo_dir("alice", "website").join("HEAD")).unwrap();
    assert_eq!(head.trim(), "ref: refs/heads/main");

    // The same name again, in another case: refused with the form kept.
    let resp = create_from_page(&server, &alice, "WebSite", "public");
    assert_eq!(resp.status(), 409);
    let page = resp.text().unwrap();
    assert!(page.contains("already exists") && page.contains("value=\"WebSite\""));
    let resp = create_from_page(&server, &alice, "bad name", "public");
    assert_eq!(resp.status(), 400);

    // After a push the page lists it.
    let token = server.admin(&["token", "alice"], "");
    let token = String::from_utf8(token.stdout).unwrap();
    let git = common::Git::new();
    let src = git.dir("src");
    git.fixture(&src);
    git.ok(
        Some(&src),
        &[
            "push",
            "-q",
            &server.cred_url("alice", token.trim(), "/alice/website.git"),
            "main",
        ],
    );
    let page = alice.get(server.url("/alice/website")).send().unwrap().text().unwrap();
    assert!(!page.contains("This repository is empty"));
    assert!(page.contains("README.md"), "the tree is shown");
}

#[test]
fn the_api_creates_and_returns_repositories() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    let (status, repo) = server.api(
        "POST",
        "/api/v1/user/repos",
        Some(&token),
        Some(json!({"name": "Demo.rs", "description": "demo", "private": true})),
    );
    assert_eq!(status, 201, "{repo}");
    assert_eq!(repo["name"], "Demo.rs");
    assert_eq!(repo["full_name"], "alice/Demo.rs");
    assert_eq!(repo["private"], true);
    assert_eq!(repo["default_branch"], "main");
    assert_eq!(repo["clone_url"], format!("{}/alice/Demo.rs.git", server.base));
    let (status, body) = server.api(
        "POST",
        "/api/v1/user/repos",
        Some(&token),
        Some(json!({"name": "demo.RS"})),
    );
    assert_eq!(status, 409);
    assert!(body["message"].as_str().unwrap().contains("already exists"));
    let (status, got) = server.api("GET", "/api/v1/repos/alice/demo.rs", Some(&token), None);
    assert_eq!(status, 200, "lookup is case-insensitive");
    assert_eq!(got["id"], repo["id"]);
    let (status, _) = server.api("POST", "/api/v1/user/repos", None, Some(json!({"name": "x"})));
    assert_eq!(status, 401);
    let (status, body) = server.api("POST", "/api/v1/user/repos", Some(&token), Some(json!({"nome": "x"})));
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().contains("name"), "{body}");
    let resp = common::client()
        .post(server.url("/api/v1/user/repos"))
        .header("Authorization", format!("token {token}"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().unwrap();
    assert!(body["message"].is_string());
}

#[test]
fn profiles_and_pages_show_private_repositories_only_to_those_allowed() {
    let server = TestServer::start();
    let alice = server.user("alice", "pw-alice-1", true);
    server.user("bob", "pw-bob-123", false);
    server.create_repo(&alice, "open", false);
    server.create_repo(&alice, "hidden", true);
    let anonymous = server.get("/alice").text().unwrap();
    assert!(anonymous.contains("alice/open") && !anonymous.contains("alice/hidden"));
    let bob = common::sign_in(&server, "bob", "pw-bob-123");
    assert!(
        !bob.get(server.url("/alice"))
            .send()
            .unwrap()
            .text()
            .unwrap()
            .contains("alice/hidden")
    );
    let resp = bob.get(server.url("/alice/hidden")).send().unwrap();
    assert_eq!(resp.status(), 404);
    let body = resp.text().unwrap();
    assert!(
        body.contains("<title>404 Not Found · Hearth</title>"),
        "a 404 page in the site's layout"
    );
    assert_eq!(
        bob.get(server.url("/alice/hidden/settings")).send().unwrap().status(),
        404
    );
    assert_eq!(server.get("/alice/nope").status(), 404);
    assert_eq!(server.get("/nobody").status(), 404);
    assert_eq!(
        server.get("/alice/open.git").status(),
        308,
        "the .git form redirects to the page"
    );

    // bob becomes a reader through the settings page.
    let owner = common::sign_in(&server, "alice", "pw-alice-1");
    let settings = owner
        .get(server.url("/alice/hidden/settings"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(settings.contains("No collaborators yet"));
    let resp = owner
        .post(server.url("/alice/hidden/settings/collaborators"))
        .form(&[
            ("csrf", csrf_of(&settings).as_str()),
            ("name", "nobody"),
            ("permission", "read"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().unwrap().contains("no user named"));
    let resp = owner
        .post(server.url("/alice/hidden/settings/collaborators"))
        .form(&[
            ("csrf", csrf_of(&settings).as_str()),
            ("name", "bob"),
            ("permission", "read"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().unwrap().contains("bob now has read access"));
    assert_eq!(bob.get(server.url("/alice/hidden")).send().unwrap().status(), 200);
    assert!(
        bob.get(server.url("/alice"))
            .send()
            .unwrap()
            .text()
            .unwrap()
            .contains("alice/hidden")
    );
    assert!(
        bob.get(server.url("/"))
            .send()
            .unwrap()
            .text()
            .unwrap()
            .contains("Shared with you")
    );
    // A reader cannot open the settings.
    assert_eq!(
        bob.get(server.url("/alice/hidden/settings")).send().unwrap().status(),
        403
    );
    let (status, list) = server.api("GET", "/api/v1/repos/alice/hidden/collaborators", Some(&alice), None);
    assert_eq!(status, 200);
    let people: Vec<(&str, &str, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let (login, role) = (c["login"].as_str().unwrap(), c["role_name"].as_str().unwrap());
            (login, role, c["permissions"]["push"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(people, [("bob", "read", false)], "GitHub's collaborator shape: {list}");

    // Removing bob hides the repository again.
    let settings = owner
        .get(server.url("/alice/hidden/settings"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let resp = owner
        .post(server.url("/alice/hidden/settings/collaborators/bob/remove"))
        .form(&[("csrf", csrf_of(&settings))])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(bob.get(server.url("/alice/hidden")).send().unwrap().status(), 404);
    let (status, _) = server.api(
        "DELETE",
        "/api/v1/repos/alice/hidden/collaborators/bob",
        Some(&alice),
        None,
    );
    assert_eq!(status, 404);
    let (status, body) = server.api(
        "PUT",
        "/api/v1/repos/alice/hidden/collaborators/bob",
        Some(&alice),
        Some(json!({"permission": "admin"})),
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn static_assets_are_served_from_the_binary() {
    let server = TestServer::start();
    let css = server.get("/static/style.css");
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert!(css.text().unwrap().contains("prefers-color-scheme: dark"));
    assert_eq!(server.get("/healthz").text().unwrap(), "ok");
    let home = server.get("/").text().unwrap();
    assert!(home.contains("<title>Hearth</title>") && home.contains("/register"));
}
