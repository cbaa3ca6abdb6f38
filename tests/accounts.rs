//! Accounts in the browser and on the command line: register, sign in and
//! out, sessions, CSRF, personal access tokens.

mod common;

use common::{TestServer, browser, csrf_of};
use reqwest::blocking::Client;

fn register(server: &TestServer, client: &Client, name: &str, password: &str) -> reqwest::blocking::Response {
    let page = client.get(server.url("/register")).send().unwrap().text().unwrap();
    let csrf = csrf_of(&page);
    client
        .post(server.url("/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", name),
            ("email", ""),
            ("password", password),
        ])
        .send()
        .unwrap()
}

fn login(server: &TestServer, client: &Client, name: &str, password: &str) -> reqwest::blocking::Response {
    let page = client.get(server.url("/login")).send().unwrap().text().unwrap();
    let csrf = csrf_of(&page);
    client
        .post(server.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", name),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .unwrap()
}

fn whoami(server: &TestServer, client: &Client) -> serde_json::Value {
    let resp = client.get(server.url("/api/v1/user")).send().unwrap();
    if resp.status() != 200 {
        return serde_json::Value::Null;
    }
    resp.json().unwrap()
}

#[test]
fn first_registered_account_is_admin_and_sessions_work() {
    let server = TestServer::start_with(&["--registration", "open"]);
    let alice = browser();
    let page = alice.get(server.url("/register")).send().unwrap().text().unwrap();
    assert!(
        page.contains("first person here"),
        "the first visitor is told they become admin"
    );
    let resp = register(&server, &alice, "alice", "pw-alice-1");
    assert_eq!(resp.status(), 303);
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("hearth_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(whoami(&server, &alice)["is_admin"], true);
    let home = alice.get(server.url("/")).send().unwrap().text().unwrap();
    assert!(home.contains("Welcome, alice"));

    let bob = browser();
    assert_eq!(register(&server, &bob, "bob", "pw-bob-123").status(), 303);
    assert_eq!(whoami(&server, &bob)["is_admin"], false);
    // The name is taken, in any case.
    let carol = browser();
    let resp = register(&server, &carol, "ALICE", "pw-alice-2");
    assert_eq!(resp.status(), 409);
    assert!(resp.text().unwrap().contains("already taken"));
    let resp = register(&server, &carol, "carol", "short");
    assert_eq!(resp.status(), 400);
    assert!(resp.text().unwrap().contains("at least 8 characters"));
    for bad in ["../x", "-carol", "a b", "login", "api"] {
        let resp = register(&server, &carol, bad, "pw-carol-12");
        assert_eq!(resp.status(), 400, "{bad}");
    }

    // Signing out needs a POST with the CSRF token; GET changes nothing.
    assert_eq!(alice.get(server.url("/logout")).send().unwrap().status(), 405);
    assert_eq!(whoami(&server, &alice)["login"], "alice");
    let home = alice.get(server.url("/")).send().unwrap().text().unwrap();
    let resp = alice
        .post(server.url("/logout"))
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(whoami(&server, &alice)["login"], "alice");
    let resp = alice
        .post(server.url("/logout"))
        .form(&[("csrf", csrf_of(&home))])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(whoami(&server, &alice).is_null());

    // And back in.
    assert_eq!(login(&server, &alice, "alice", "pw-alice-1").status(), 303);
    assert_eq!(whoami(&server, &alice)["login"], "alice");
}

#[test]
fn a_failed_sign_in_does_not_tell_whether_the_user_exists() {
    let server = TestServer::start();
    server.user("alice", "pw-alice-1", true);
    let client = browser();
    let wrong_password = login(&server, &client, "alice", "not-the-password");
    let status_a = wrong_password.status();
    let body_a = wrong_password.text().unwrap().replace("alice", "NAME");
    let no_user = login(&server, &client, "nobody", "not-the-password");
    let status_b = no_user.status();
    let body_b = no_user.text().unwrap().replace("nobody", "NAME");
    assert_eq!(status_a, 401);
    assert_eq!(status_a, status_b);
    assert!(body_a.contains("Wrong user name or password."));
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("name=\"csrf\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&body_a), strip(&body_b));
    assert!(whoami(&server, &client).is_null());
}

#[test]
fn forms_without_the_csrf_token_are_refused() {
    let server = TestServer::start_with(&["--registration", "open"]);
    let client = browser();
    client.get(server.url("/register")).send().unwrap();
    let resp = client
        .post(server.url("/register"))
        .form(&[("name", "mallory"), ("password", "pw-mallory-1")])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().unwrap().contains("reload the page"));
    // Another site's form: the token does not match this browser's cookie.
    let other = browser();
    let page = other.get(server.url("/register")).send().unwrap().text().unwrap();
    let resp = client
        .post(server.url("/register"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("name", "mallory"),
            ("password", "pw-mallory-1"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
    let db = server.db();
    let users: i64 = db.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap();
    assert_eq!(users, 0);
}

#[test]
fn personal_access_tokens_are_shown_once_listed_and_revoked() {
    let server = TestServer::start_with(&["--registration", "open"]);
    let client = browser();
    register(&server, &client, "alice", "pw-alice-1");
    let page = client
        .get(server.url("/settings/tokens"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("No tokens yet"));
    let resp = client
        .post(server.url("/settings/tokens"))
        .form(&[("csrf", csrf_of(&page).as_str()), ("label", "laptop")])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let page = resp.text().unwrap();
    let at = page.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let token = page[at..].split('<').next().unwrap().to_string();
    assert!(token.starts_with("hth_") && token.len() == 68, "{token}");

    let (status, me) = server.api("GET", "/api/v1/user", Some(&token), None);
    assert_eq!((status, me["login"].as_str()), (200, Some("alice")));
    let bearer = common::client()
        .get(server.url("/api/v1/user"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .unwrap();
    assert_eq!(bearer.status(), 200);

    let list = client
        .get(server.url("/settings/tokens"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(list.contains("laptop"));
    assert!(list.contains(&token[token.len() - 4..]));
    assert!(!list.contains(&token), "the token is never shown again");
    let db = server.db();
    let stored: String = db
        .query_row("SELECT token_hash FROM access_tokens", [], |r| r.get(0))
        .unwrap();
    assert!(!stored.contains(&token[4..]), "only a hash is stored");

    let id: i64 = db.query_row("SELECT id FROM access_tokens", [], |r| r.get(0)).unwrap();
    let resp = client
        .post(server.url(&format!("/settings/tokens/{id}/revoke")))
        .form(&[("csrf", csrf_of(&list))])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    let (status, body) = server.api("GET", "/api/v1/user", Some(&token), None);
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("wrong"), "{body}");

    // Someone else's token id cannot be revoked by guessing.
    let other = browser();
    register(&server, &other, "bob", "pw-bob-123");
    let page = other
        .get(server.url("/settings/tokens"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let resp = other
        .post(server.url(&format!("/settings/tokens/{}/revoke", id + 1)))
        .form(&[("csrf", csrf_of(&page))])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[test]
fn pages_that_need_a_user_send_visitors_to_sign_in() {
    let server = TestServer::start();
    for path in ["/new", "/settings/tokens"] {
        let resp = common::client().get(server.url(path)).send().unwrap();
        assert_eq!(resp.status(), 303, "{path}");
        assert_eq!(resp.headers()["location"], format!("/login?next={path}"));
    }
    let (status, body) = server.api("GET", "/api/v1/user", None, None);
    assert_eq!(status, 401);
    assert!(body["message"].is_string());
    // next= never leads off the site.
    server.user("alice", "pw-alice-1", false);
    let client = browser();
    let page = client
        .get(server.url("/login?next=//evil.example/"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let resp = client
        .post(server.url("/login"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("name", "alice"),
            ("password", "pw-alice-1"),
            ("next", "//evil.example/"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.headers()["location"], "/");
}

#[test]
fn admin_commands_work_while_the_server_runs() {
    let server = TestServer::start();
    let out = server.admin(
        &["create-user", "alice", "--admin", "--email", "alice@example.test"],
        "pw-alice-1\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = server.admin(&["token", "alice", "--label", "ci"], "");
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    assert_eq!(token.lines().count(), 1, "the token alone on stdout");
    let (status, me) = server.api("GET", "/api/v1/user", Some(token.trim()), None);
    assert_eq!(status, 200);
    assert_eq!(me["is_admin"], true);

    // A second user is not an admin unless asked; the password works on the web.
    let out = server.admin(&["create-user", "bob"], "pw-bob-123\n");
    assert!(out.status.success());
    assert_eq!(login(&server, &browser(), "bob", "pw-bob-123").status(), 303);

    let out = server.admin(&["create-user", "Alice"], "pw-alice-1\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already taken"));
    let out = server.admin(&["create-user", "dave"], "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
    let out = server.admin(&["token", "nobody"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named"));
}

/// The most memory the server process has held (VmHWM), in MiB.
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib >> 10
}

#[test]
fn a_flood_of_wrong_passwords_is_refused_and_costs_little() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", true);
    let url = server.url("/api/v1/user");
    // 100 wrong passwords at once, as git and API clients send them.
    let statuses: Vec<(u16, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let url = &url;
                s.spawn(move || {
                    let resp = common::client()
                        .get(url)
                        .basic_auth("alice", Some(format!("wrong-{i}")))
                        .send()
                        .unwrap();
                    let retry = resp
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap().to_string());
                    (resp.status().as_u16(), retry)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let refused: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    let wrong = statuses.iter().filter(|(s, _)| *s == 401).count();
    assert_eq!(refused.len() + wrong, 100, "{statuses:?}");
    assert!(wrong <= 11, "at most the burst was checked: {wrong}");
    assert!(
        refused
            .iter()
            .all(|(_, retry)| retry.as_deref().is_some_and(|r| r.parse::<u64>().unwrap() >= 1))
    );
    assert!(
        peak_mib(server.pid()) < 300,
        "memory peaked at {} MiB",
        peak_mib(server.pid())
    );
    // Every path refuses the account now: the API, git, the form (even the right password).
    let (status, body) = server.api("GET", "/api/v1/user", None, None);
    assert_eq!(status, 401, "{body}");
    let resp = common::client()
        .get(&url)
        .basic_auth("alice", Some("pw-alice-1"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 429);
    let body: serde_json::Value = resp.json().unwrap();
    assert!(body["message"].as_str().unwrap().contains("too many failed sign-ins"));
    let resp = common::client()
        .get(server.url("/alice/demo.git/info/refs?service=git-upload-pack"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 429);
    let resp = login(&server, &browser(), "alice", "pw-alice-1");
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    // A token is no password: it still works, and a wrong one costs no argon2.
    let (status, me) = server.api("GET", "/api/v1/user", Some(&token), None);
    assert_eq!((status, me["login"].as_str()), (200, Some("alice")));
    let resp = common::client()
        .get(&url)
        .basic_auth("alice", Some(&token))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let started = std::time::Instant::now();
    for _ in 0..50 {
        let resp = common::client()
            .get(&url)
            .basic_auth(
                "bob",
                Some("hth_0000000000000000000000000000000000000000000000000000000000000000"),
            )
            .send()
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Others are not held back.
    server.user("bob", "pw-bob-12", false);
    let resp = common::client()
        .get(&url)
        .basic_auth("bob", Some("pw-bob-12"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn registration_is_closed_by_default_and_admins_make_accounts() {
    let server = TestServer::start();
    // The first person may register, and becomes the administrator.
    let home = browser().get(server.url("/")).send().unwrap().text().unwrap();
    assert!(home.contains("href=\"/register\""));
    let alice = browser();
    assert_eq!(register(&server, &alice, "alice", "pw-alice-1").status(), 303);
    assert_eq!(whoami(&server, &alice)["is_admin"], true);
    // Nobody else may.
    let visitor = browser();
    let home = visitor.get(server.url("/")).send().unwrap().text().unwrap();
    assert!(!home.contains("href=\"/register\""), "no link to a closed door");
    let page = visitor.get(server.url("/register")).send().unwrap();
    assert_eq!(page.status(), 403);
    assert!(page.text().unwrap().contains("Registration is closed"));
    // Not even with a form fetched while it was open (the CSRF token of any page will do).
    let login_page = visitor.get(server.url("/login")).send().unwrap().text().unwrap();
    let resp = visitor
        .post(server.url("/register"))
        .form(&[
            ("csrf", csrf_of(&login_page).as_str()),
            ("name", "mallory"),
            ("email", ""),
            ("password", "pw-mallory-1"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(
        server
            .db()
            .query_row("SELECT count(*) FROM users WHERE name = 'mallory'", [], |r| r
                .get::<_, i64>(0))
            .unwrap()
            == 0
    );
    // The administrator makes an account at /admin/users; others find nothing there.
    let page = alice.get(server.url("/admin/users")).send().unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().unwrap();
    assert!(page.contains("Registration is closed"));
    let resp = alice
        .post(server.url("/admin/users"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("name", "bob"),
            ("email", "bob@example.test"),
            ("password", "pw-bob-123"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    let page = resp.text().unwrap();
    assert!(page.contains("Account <a href=\"/bob\">bob</a> created"), "{page}");
    let resp = alice
        .post(server.url("/admin/users"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("name", "BOB"),
            ("password", "pw-bob-123"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 409, "the name is taken");
    let bob = browser();
    assert_eq!(login(&server, &bob, "bob", "pw-bob-123").status(), 303);
    assert_eq!(whoami(&server, &bob)["is_admin"], false);
    assert_eq!(bob.get(server.url("/admin/users")).send().unwrap().status(), 404);
    assert_eq!(visitor.get(server.url("/admin/users")).send().unwrap().status(), 303);
    // And on the command line.
    let out = server.admin(&["create-user", "carol"], "pw-carol-12\n");
    assert!(out.status.success());
    // --registration open lets anyone in.
    let open = TestServer::start_with(&["--registration", "open"]);
    assert_eq!(register(&open, &browser(), "alice", "pw-alice-1").status(), 303);
    assert_eq!(register(&open, &browser(), "bob", "pw-bob-123").status(), 303);
}

/// A stranger guessing alice's password from one address does not lock
/// alice out where she is (#28), and is refused where it guesses.
#[test]
fn a_stranger_s_wrong_passwords_do_not_lock_the_owner_out() {
    let server = TestServer::start_with(&["--listen", "0.0.0.0:0"]);
    server.user("alice", "pw-alice-1", true);
    let port = common::port_of(&server);
    let me = |from: &str, password: &str| {
        common::client()
            .get(format!("http://{from}:{port}/api/v1/user"))
            .basic_auth("alice", Some(password))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let stranger = common::outside_address().to_string();
    let statuses: Vec<u16> = (0..40).map(|i| me(&stranger, &format!("guess-{i}"))).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(me(&stranger, "pw-alice-1"), 429, "the guessing address is refused");
    assert_eq!(me("127.0.0.1", "pw-alice-1"), 200, "alice, elsewhere, signs in");
    // One address trying many accounts is still bounded.
    for i in 0..40 {
        server.user(&format!("user{i}"), "pw-user-1", false);
    }
    let sprayed: Vec<u16> = (0..40)
        .map(|i| {
            common::client()
                .get(format!("http://127.0.0.1:{port}/api/v1/user"))
                .basic_auth(format!("user{i}"), Some("wrong"))
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert!(sprayed.contains(&429), "{sprayed:?}");
}
