//! The team's workflow in a real browser: headless Chromium driven over
//! WebDriver (chromedriver) against the real server. Every page visited is
//! checked the way a person would notice problems: no console errors, no
//! missing stylesheet or script, no sideways scrolling on a phone, one
//! `<h1>`, labelled fields, `lang`, image descriptions, a visible focus.
//! Screenshots at desktop and phone widths go to `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Git, TestServer};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// A browser session: chromedriver (in a process group of its own, with
/// the Chromium it starts) and a WebDriver client.
struct Browser {
    client: Client,
    javascript: bool,
    base: String,
    driver: Child,
    name: &'static str,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

/// `POST /session/{id}/se/log`: the browser console since the last call.
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// `POST /session/{id}/goog/cdp/execute`: a DevTools command to the page.
#[derive(Debug)]
struct DevTools(&'static str, Value);

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"cmd": self.0, "params": self.1}).to_string()),
        )
    }
}

impl Browser {
    /// Starts Chromium on `server`; `javascript: false` turns scripts off.
    async fn start(server: &TestServer, name: &'static str, javascript: bool) -> Browser {
        Self::start_with(server, name, javascript, &[]).await
    }

    /// chromedriver on a free port, once it listens.
    fn driver() -> (Child, u16) {
        use std::os::unix::process::CommandExt;
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        // Another test may take the port between our look and chromedriver's bind: try again then.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut driver = Command::new(&driver_bin)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("{driver_bin}: {e} (install chromium and chromium-driver)"));
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return (driver, port);
                }
                if let Ok(Some(_)) = driver.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: kill(2) with a negative pid signals the driver's process group.
            unsafe { libc::kill(-(driver.id() as i32), libc::SIGKILL) };
            let _ = driver.wait();
        }
        panic!("{driver_bin} never listened");
    }

    /// Starts Chromium with `extra` command-line switches.
    async fn start_with(server: &TestServer, name: &'static str, javascript: bool, extra: &[&str]) -> Browser {
        let (mut driver, port) = blocking(Self::driver);
        let profile = tempfile::TempDir::new().unwrap();
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut prefs = json!({});
        if !javascript {
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ]
        .iter()
        .chain(extra)
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": { "binary": chromium, "args": args, "prefs": prefs },
        });
        let caps: fantoccini::wd::Capabilities = capabilities.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) => {
                    if let Ok(Some(status)) = driver.try_wait() {
                        panic!("chromedriver exited ({status})");
                    }
                    assert!(Instant::now() < deadline, "no browser session: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        // A headless window need not have the focus (Chromium 148 gives it
        // none): emulate a focused page, so :focus styles can be checked.
        client
            .issue_cmd(DevTools("Emulation.setFocusEmulationEnabled", json!({"enabled": true})))
            .await
            .unwrap();
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            javascript,
            base: server.base.clone(),
            driver,
            name,
            shots,
            _profile: profile,
        }
    }

    /// Opens `path` and checks the page (see `check`).
    async fn visit(&self, path: &str, shot: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
        self.check(shot).await;
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// The checks every page passes, and its screenshots at both widths.
    async fn check(&self, shot: &str) {
        let page = self.path().await;
        // The browser's console: errors (a failed script, a missing asset) fail the page.
        let log = self.client.issue_cmd(ConsoleLog).await.unwrap();
        let document = self.client.current_url().await.unwrap().to_string();
        // A page answered with a 4xx on purpose (a wrong password) shows as a
        // "failed" load of the document itself: that is its status, not an error.
        let errors: Vec<&Value> = log
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .filter(|e| {
                        !(e["source"] == "network"
                            && e["message"]
                                .as_str()
                                .is_some_and(|m| m.starts_with(&format!("{document} "))))
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert!(errors.is_empty(), "{page}: console errors {errors:?}");
        // Every stylesheet, script and image the page asks for is there.
        let assets = self
            .js("return [...document.querySelectorAll('link[href], script[src], img[src]')].map(e => e.href || e.src)")
            .await;
        tokio::task::block_in_place(|| {
            let http = common::client();
            for asset in assets.as_array().unwrap() {
                let url = asset.as_str().unwrap();
                if url.starts_with(&self.base) {
                    let status = http.get(url).send().unwrap().status();
                    assert!(status.is_success(), "{page}: {url} answers {status}");
                }
            }
        });
        // Accessibility basics.
        let problems = self
            .js(r#"
            const problems = [];
            const h1 = document.querySelectorAll("h1").length;
            if (h1 !== 1) problems.push(`${h1} <h1> elements`);
            if (!document.documentElement.lang) problems.push("no lang on <html>");
            for (const img of document.querySelectorAll("img:not([alt])")) problems.push(`image without alt: ${img.src}`);
            for (const el of document.querySelectorAll("input, select, textarea")) {
              if (["hidden", "submit", "button"].includes(el.type) || el.disabled) continue;
              const labelled = el.closest("label") || (el.id && document.querySelector(`label[for="${el.id}"]`))
                || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
              if (!labelled) problems.push(`field without a label: ${el.outerHTML.slice(0, 100)}`);
            }
            const target = document.querySelector("main a[href], main button, main summary, main input:not([type=hidden])")
              || document.querySelector("a[href]");
            if (target) {
              target.focus();
              const s = getComputedStyle(target);
              const visible = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
              if (!visible) problems.push(`no visible focus on ${target.outerHTML.slice(0, 80)}`);
              target.blur();
            }
            return problems;
            "#)
            .await;
        assert_eq!(problems, json!([]), "{page}: accessibility");
        self.shoot(shot).await;
    }

    /// Screenshots at desktop and phone widths; at phone width nothing may
    /// scroll sideways.
    async fn shoot(&self, shot: &str) {
        let page = self.path().await;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{}-{shot}-desktop.png", self.name)), png).unwrap();
        self.client.set_window_size(PHONE.0, PHONE.1).await.unwrap();
        let wide = self
            .js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            .await;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{}-{shot}-phone.png", self.name)), png).unwrap();
        self.client.set_window_size(DESKTOP.0, DESKTOP.1).await.unwrap();
        assert!(
            wide[0].as_i64() <= wide[1].as_i64(),
            "{page}: scrolls sideways at phone width ({} > {} px); see {shot}-phone.png",
            wide[0],
            wide[1]
        );
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!("{}: no {css}: {e}", self.path().await),
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        if let Err(e) = field.clear().await {
            panic!("{}: filling {css}: {e}", self.path().await);
        }
        field.send_keys(text).await.unwrap();
    }

    /// Clicks and waits for the page it leads to.
    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        let before = self.client.find(Locator::Css("html")).await.unwrap();
        if let Err(e) = el.click().await {
            panic!("{}: clicking {css}: {e}", self.path().await);
        }
        // The old document goes stale once the next one has loaded.
        let deadline = Instant::now() + Duration::from_secs(15);
        while before.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "{css}: clicking led nowhere");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens a closed `<details>` whose summary says `text`.
    async fn open(&self, text: &str) {
        let summary = self
            .client
            .find(Locator::XPath(&format!("//summary[contains(., '{text}')]")))
            .await
            .unwrap_or_else(|e| panic!("no section {text:?}: {e}"));
        summary.click().await.unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.client.find_all(Locator::Css(css)).await.unwrap() {
            out.push(e.text().await.unwrap());
        }
        out
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        // SAFETY: kill(2) with a negative pid signals chromedriver's process group.
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test leaves no browser behind.
        // SAFETY: as in close().
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

const PASSWORD: &str = "pw-alice-123";

/// Journey 1: register (the first account is the administrator), sign out,
/// a wrong password shown as an error, sign in.
async fn accounts(b: &Browser) {
    b.visit("/register", "register").await;
    b.fill("input[name=name]", "alice").await;
    b.fill("input[name=password]", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.check("registered").await;
    assert!(b.text("header.site nav").await.contains("alice"));
    b.visit("/alice", "profile").await;
    assert!(
        b.text("h1").await.contains("admin"),
        "the first account is the administrator"
    );
    b.click("header.site form button").await;
    assert!(b.text("header.site nav").await.contains("Sign in"), "signed out");
    b.visit("/login", "login").await;
    b.fill("input[name=name]", "alice").await;
    b.fill("input[name=password]", "not-the-password").await;
    b.click("main form button[type=submit]").await;
    b.check("login-wrong").await;
    assert_eq!(b.text("[role=alert]").await, "Wrong user name or password.");
    b.fill("input[name=password]", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    assert!(b.text("header.site nav").await.contains("alice"), "signed in");
}

/// The administrator makes an account (registration is closed).
async fn administration(b: &Browser) {
    b.visit("/admin/users", "admin-users").await;
    b.open("Create an account").await;
    b.fill("main form input[name=name]", "bob").await;
    b.fill("main form input[name=password]", "pw-bob-12345").await;
    b.click("main form button[type=submit]").await;
    b.check("admin-user-created").await;
    assert!(b.text("[role=status]").await.contains("Account bob created"));
    assert!(b.text("main table").await.contains("bob"));
}

/// Journey 2: a repository from /new, its push instructions, a real push,
/// then its README, tree, a file, the file's history and a commit.
async fn repository(b: &Browser, server: &TestServer, git: &Git) {
    b.visit("/new", "new-repo").await;
    b.fill("input[name=name]", "demo").await;
    b.fill("input[name=description]", "A demo").await;
    b.click("main form button[type=submit]").await;
    assert_eq!(b.path().await, "/alice/demo");
    b.check("empty-repo").await;
    let instructions = b.text("main").await;
    assert!(instructions.contains("git push -u origin main"), "{instructions}");
    assert!(instructions.contains(&format!("{}/alice/demo.git", server.base)));

    let work = git.dir("work");
    git.ok(None, &["init", "-q", "-b", "main", work.to_str().unwrap()]);
    std::fs::write(work.join("README.md"), "# Demo\n\nA **small** project.\n").unwrap();
    std::fs::create_dir_all(work.join("src")).unwrap();
    std::fs::write(work.join("src/main.rs"), "fn main() {\n    println!(\"hi\");\n}\n").unwrap();
    git.ok(Some(&work), &["add", "-A"]);
    git.ok(Some(&work), &["commit", "-q", "-m", "First commit"]);
    std::fs::write(work.join("src/main.rs"), "fn main() {\n    println!(\"hello\");\n}\n").unwrap();
    git.ok(Some(&work), &["commit", "-q", "-am", "Say hello"]);
    let url = server.cred_url("alice", PASSWORD, "/alice/demo.git");
    git.ok(Some(&work), &["push", "-q", &url, "main"]);

    b.visit("/alice/demo", "repo-home").await;
    assert!(
        b.text(".markdown strong").await.contains("small"),
        "the README is shown"
    );
    let entries = b.texts("table.files td.name a").await;
    assert_eq!(entries, ["src/", "README.md"]);
    b.click("a[href='/alice/demo/tree/main/src']").await;
    b.check("tree").await;
    b.click("a[href='/alice/demo/blob/main/src/main.rs']").await;
    b.check("blob").await;
    assert!(b.text("main").await.contains("println!(\"hello\")"));
    b.click("a[href^='/alice/demo/commits/main?path=']").await;
    b.check("history").await;
    let commits = b.texts("ol.commits li a.summary").await;
    assert_eq!(commits, ["Say hello", "First commit"]);
    // Dates: relative with the page's script, absolute without it.
    let when = b.text("ol.commits time").await;
    if b.javascript {
        assert!(when == "just now" || when.ends_with(" ago"), "{when}");
    } else {
        assert!(when.starts_with("20"), "{when}");
    }
    b.click("ol.commits li a.summary").await;
    b.check("commit").await;
    let diff = b.text("main").await;
    assert!(diff.contains("Say hello") && diff.contains("hello"), "{diff}");
}

/// Journey 3: an issue with Markdown, labelled, in a sprint, assigned,
/// commented, moved on the board, closed, and found by search.
async fn issues(b: &Browser) {
    b.visit("/alice/demo/labels", "labels").await;
    b.fill("input[name=name]", "bug").await;
    b.click("main form.card button[type=submit]").await;
    b.visit("/alice/demo/milestones", "milestones").await;
    b.fill("input[name=title]", "Sprint 1").await;
    b.click("main form.card button[type=submit]").await;
    b.visit("/alice/demo/issues/new", "new-issue").await;
    b.fill("input[name=title]", "Crash on start").await;
    b.fill("textarea[name=body]", "Steps:\n\n1. **run** it\n2. see `panic`")
        .await;
    b.click("main form.card button[type=submit]").await;
    assert_eq!(b.path().await, "/alice/demo/issues/1");
    b.check("issue").await;
    assert_eq!(b.text(".issue-main .markdown strong").await, "run");
    assert_eq!(b.text(".issue-main .markdown code").await, "panic");

    b.open("Change labels").await;
    b.find("input[name='label:bug']").await.click().await.unwrap();
    b.fill("input[name=assignees]", "alice").await;
    b.find("select[name=milestone] option[value='Sprint 1']")
        .await
        .click()
        .await
        .unwrap();
    b.click(".issue-side form button[type=submit]").await;
    let side = b.text(".issue-side").await;
    assert!(
        side.contains("bug") && side.contains("alice") && side.contains("Sprint 1"),
        "{side}"
    );

    b.fill("form.card textarea[name=body]", "Looking into it.").await;
    b.click("main form.card button[type=submit]").await;
    assert!(b.text("ol.timeline").await.contains("Looking into it."));

    b.visit("/alice/demo/board?milestone=Sprint%201", "board").await;
    b.find("select[name=column] option[value=in_progress]")
        .await
        .click()
        .await
        .unwrap();
    b.click("main form.row button[type=submit]").await;
    b.check("board-moved").await;
    let columns = b.texts(".board section, .board .column").await;
    let in_progress = columns
        .iter()
        .find(|c| c.starts_with("In progress"))
        .expect("an In progress column");
    assert!(in_progress.contains("Crash on start"), "{columns:?}");

    b.visit("/alice/demo/issues/1", "issue-before-close").await;
    b.click("form.state-form button[type=submit]").await;
    assert!(b.text(".state-badge").await.starts_with("Closed"));
    assert!(
        b.text("ol.timeline").await.contains("In progress"),
        "the board move is on the timeline"
    );

    b.visit("/alice/demo/issues?state=all&q=crash", "search").await;
    let found = b.text("main").await;
    assert!(found.contains("Crash on start"), "{found}");
}

/// Journey 5: a branch pushed, a pull request opened from the compare page,
/// a line comment and a review from the files page (a click on the line
/// number with JavaScript, typed without), and the merge button.
async fn pull_requests(b: &Browser, server: &TestServer, git: &Git) {
    let work = git.dir("work");
    blocking(|| {
        git.ok(Some(&work), &["checkout", "-q", "-b", "greeting"]);
        std::fs::write(
            work.join("src/main.rs"),
            "fn main() {\n    println!(\"hello, world\");\n}\n",
        )
        .unwrap();
        git.ok(Some(&work), &["commit", "-q", "-am", "Greet the world"]);
        let url = server.cred_url("alice", PASSWORD, "/alice/demo.git");
        git.ok(Some(&work), &["push", "-q", &url, "greeting"]);
    });
    b.visit("/alice/demo/pulls", "pulls-empty").await;
    b.visit("/alice/demo/pulls/new?head=greeting", "pull-compare").await;
    assert!(
        b.text("main").await.contains("Greet the world"),
        "the comparison lists the commit"
    );
    b.fill("textarea[name=body]", "Fixes #1 and says **hello, world**")
        .await;
    b.click("main form.card button[type=submit]").await;
    assert_eq!(b.path().await, "/alice/demo/pulls/2");
    b.check("pull").await;
    assert_eq!(b.text(".state-badge").await, "Open");
    assert!(b.text(".merge-box").await.contains("No conflicts"));

    b.click("nav.pull-tabs a[href$='/files']").await;
    b.check("pull-files").await;
    if b.javascript {
        // The new side's number of the changed line.
        b.find("section.diff tr.add th.pick:nth-child(2)")
            .await
            .click()
            .await
            .unwrap();
        assert_eq!(
            b.js("return document.querySelector('#review input[name=line]').value")
                .await,
            json!("2")
        );
    } else {
        b.find("#review select[name=path] option[value='src/main.rs']")
            .await
            .click()
            .await
            .unwrap();
        b.fill("#review input[name=line]", "2").await;
    }
    b.fill("#review textarea[name=comment]", "Shout it?").await;
    b.fill("#review textarea[name=body]", "One question").await;
    b.click("#review button[type=submit]").await;
    assert_eq!(b.path().await, "/alice/demo/pulls/2");
    let timeline = b.text("ol.timeline").await;
    assert!(
        timeline.contains("Shout it?") && timeline.contains("One question"),
        "{timeline}"
    );
    b.click("nav.pull-tabs a[href$='/commits']").await;
    b.check("pull-commits").await;
    b.click("nav.pull-tabs a[href='/alice/demo/pulls/2']").await;
    b.find("#merge input[name=delete_branch]").await.click().await.unwrap();
    b.click("#merge button[type=submit]").await;
    b.check("pull-merged").await;
    assert_eq!(b.text(".state-badge").await, "Merged");
    b.visit("/alice/demo/settings/branches", "branch-settings").await;
    b.fill("input[name=pattern]", "main").await;
    b.find("input[name=require_reviews]").await.click().await.unwrap();
    b.click("form[action$='/settings/branches'] button[type=submit]").await;
    assert!(
        b.text("article.rule")
            .await
            .contains("Changes through pull requests only")
    );
}

/// A webhook from the settings: a private address refused with the
/// reason, a public one saved, its ping listed and opened.
async fn webhooks(b: &Browser) {
    b.visit("/alice/demo/settings/hooks", "hooks-empty").await;
    b.fill("input[name=url]", "http://127.0.0.1:9/hook").await;
    b.click("form[action$='/settings/hooks'] button[type=submit]").await;
    assert!(
        b.text("[role=alert]").await.contains("loopback"),
        "refused with the reason"
    );
    b.check("hooks-refused").await;
    b.fill("input[name=url]", "http://8.8.8.8/hook").await;
    b.fill("input[name=secret]", "s3cret").await;
    b.find("input[name=event_issues]").await.click().await.unwrap();
    b.click("form[action$='/settings/hooks'] button[type=submit]").await;
    assert_eq!(b.path().await, "/alice/demo/settings/hooks/1");
    b.check("hook").await;
    assert!(b.text("main table").await.contains("ping"), "the ping is listed");
    b.click("main table a[href*='/deliveries/']").await;
    b.check("hook-delivery").await;
    assert!(b.text("pre.payload").await.contains("\"zen\""));
    b.click("form[action$='/redeliver'] button[type=submit]").await;
    assert_eq!(b.path().await, "/alice/demo/settings/hooks/1");
    assert!(b.text("main table").await.contains("redelivery"));
}

/// Erin mentions alice in an issue: the bell counts it, the list shows it,
/// Mark as read clears it; the Watch button of a repository toggles.
async fn notifications(b: &Browser, server: &TestServer) {
    blocking(|| {
        let erin = server.user("erin", "pw-erin-1234", false);
        let (status, _) = server.api(
            "POST",
            "/api/v1/repos/alice/demo/issues",
            Some(&erin),
            Some(serde_json::json!({"title": "Please look", "body": "@alice what do you think?"})),
        );
        assert_eq!(status, 201);
    });
    b.visit("/alice/demo", "repo-watching").await;
    assert_eq!(b.text("header.site .bell .count").await, "1");
    b.click("header.site .bell").await;
    assert_eq!(b.path().await, "/notifications");
    b.check("notifications").await;
    assert!(b.text(".threads").await.contains("Please look"));
    assert!(b.text(".threads").await.contains("Because you were mentioned"));
    b.click(".threads form[action$='/read'] button").await;
    b.check("notifications-read").await;
    assert!(b.text("main").await.contains("all caught up"));
    assert!(b.texts("header.site .bell .count").await.is_empty());
    b.visit("/notifications?show=all", "notifications-all").await;
    assert!(b.text(".threads").await.contains("Please look"));
    b.visit("/alice/demo", "repo-watching").await;
    assert_eq!(b.text(".repo-title form.watch button").await, "Unwatch");
    b.click(".repo-title form.watch button").await;
    assert_eq!(b.text(".repo-title form.watch button").await, "Watch");
    b.click(".repo-title form.watch button").await;
    assert_eq!(b.text(".repo-title form.watch button").await, "Unwatch");
}

/// Blocking calls (the HTTP client of the other tests, git) inside a test
/// that drives the browser asynchronously.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// alice, her repository `demo` holding `files` pushed to main; returns her
/// API token and the checkout.
fn pushed_repo(server: &TestServer, git: &Git, files: &[(&str, &str)]) -> (String, PathBuf) {
    let token = server.user("alice", PASSWORD, true);
    server.create_repo(&token, "demo", false);
    let work = git.dir("work");
    git.ok(None, &["init", "-q", "-b", "main", work.to_str().unwrap()]);
    for (path, text) in files {
        let path = work.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git.ok(Some(&work), &["add", "-A"]);
    git.ok(Some(&work), &["commit", "-q", "-m", "First commit"]);
    let url = server.cred_url("alice", PASSWORD, "/alice/demo.git");
    git.ok(Some(&work), &["push", "-q", &url, "main"]);
    (token, work)
}

async fn sign_in(b: &Browser) {
    b.visit("/login", "login").await;
    b.fill("input[name=name]", "alice").await;
    b.fill("input[name=password]", PASSWORD).await;
    b.click("main form button[type=submit]").await;
}

/// A signed-in browser on a server where alice has pushed `demo`.
async fn signed_in_with_repo(
    server: &TestServer,
    git: &Git,
    name: &'static str,
    files: &[(&str, &str)],
) -> (Browser, String, PathBuf) {
    let (token, work) = blocking(|| pushed_repo(server, git, files));
    let b = Browser::start(server, name, true).await;
    sign_in(&b).await;
    (b, token, work)
}

/// Journey 4: a pushed workflow's log appears live on the job page (no
/// reload), the commit list shows its status, a long job is cancelled and
/// its run started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_seen_live_cancelled_and_started_again() {
    let (server, git) = setup();
    let tag = format!("{}", 700_000 + std::process::id() % 100_000);
    let (first, second) = (common::Flag::new("browser-1"), common::Flag::new("browser-2"));
    let ci = format!(
        "name: CI\non: push\njobs:\n  build:\n    steps:\n      - name: Build\n        run: |\n          echo first line\n          {}\n          echo second line\n          {}\n      - name: Test\n        run: echo tests passed\n",
        first.wait(),
        second.wait()
    );
    let long = format!(
        "name: Long\non:\n  push:\n  workflow_dispatch:\n    inputs:\n      note:\n        description: Why\n      loud:\n        type: boolean\njobs:\n  wait:\n    steps:\n      - run: sleep {tag}\n"
    );
    let (b, token, _) = signed_in_with_repo(
        &server,
        &git,
        "ci",
        &[(".hearth/workflows/ci.yml", &ci), (".hearth/workflows/long.yml", &long)],
    )
    .await;
    let api = |path: &str| {
        blocking(|| {
            server
                .api("GET", &format!("/api/v1/repos/alice/demo{path}"), Some(&token), None)
                .1
        })
    };
    let run_of = |name: &str| -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let runs = api("/actions/runs")["workflow_runs"].clone();
            if let Some(r) = runs.as_array().unwrap().iter().find(|r| r["name"] == name) {
                return r.clone();
            }
            assert!(Instant::now() < deadline, "no run of {name}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let ci_run = run_of("CI");
    let job = loop {
        let jobs = api(&format!("/actions/runs/{}/jobs", ci_run["id"]));
        if jobs["jobs"][0]["status"] == "in_progress" {
            break jobs["jobs"][0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let job_page = format!("/alice/demo/runs/{}/jobs/{}", ci_run["run_number"], job["id"]);
    // Wait for the first line to be in the log, then open the page.
    loop {
        let log = blocking(|| {
            server
                .get(&format!("/api/v1/repos/alice/demo/actions/jobs/{}/logs", job["id"]))
                .text()
                .unwrap()
        });
        if log.contains("first line") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.visit(&job_page, "job-running").await;
    assert!(b.text(".log").await.contains("first line"));
    b.js("window.stayed = true").await;
    first.raise();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !b.text(".log").await.contains("second line") {
        assert!(Instant::now() < deadline, "the new line never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        b.js("return window.stayed === true").await,
        json!(true),
        "the line came without a reload"
    );
    b.shoot("job-live").await;
    // When the job ends, the page shows the result.
    second.raise();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = b
            .js("return window.stayed !== true && document.querySelector('h2 .status')?.className")
            .await;
        if state.as_str().is_some_and(|c| c.contains("success")) {
            break;
        }
        assert!(Instant::now() < deadline, "the page never showed the end: {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.check("job-done").await;
    // Finished steps are folded; open one to read it.
    b.open("Test").await;
    assert!(b.text(".log").await.contains("tests passed"));

    // The commit list shows CI's state beside the commit.
    b.visit("/alice/demo/commits/main", "commits-with-status").await;
    let status = b.find("ol.commits li a.status").await;
    assert!(
        status
            .attr("title")
            .await
            .unwrap()
            .unwrap_or_default()
            .starts_with("CI: ")
    );

    b.visit("/alice/demo/runs", "runs").await;
    assert_eq!(b.texts("table.runs tbody tr").await.len(), 2);
    b.visit("/alice/demo/runs?status=success", "runs-filtered").await;
    assert_eq!(b.texts("table.runs tbody tr").await.len(), 1);
    b.visit(&format!("/alice/demo/runs/{}", ci_run["run_number"]), "run")
        .await;
    b.visit("/alice/demo/runs/dispatch?workflow=long.yml&ref=main", "dispatch")
        .await;
    assert_eq!(b.texts("main form.card label").await.len(), 2, "a field per input");
    // The long job: cancel its run, then start it again.
    let long_run = run_of("Long");
    let run_page = format!("/alice/demo/runs/{}", long_run["run_number"]);
    b.visit(&run_page, "run-long").await;
    b.click("main form button.danger").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        b.visit(&run_page, "run-cancelled").await;
        let class = b
            .find("h2 .status")
            .await
            .attr("class")
            .await
            .unwrap()
            .unwrap_or_default();
        if class.contains("cancelled") {
            break;
        }
        assert!(Instant::now() < deadline, "the run was not cancelled");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(b.text("main").await.contains("cancelled"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::processes_matching(&format!("sleep {tag}")) > 0 {
        assert!(Instant::now() < deadline, "the cancelled job's process survived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.click("main form button[type=submit]:not(.danger)").await;
    let again = b.path().await;
    assert_ne!(again, run_page, "a new run");
    assert!(again.starts_with("/alice/demo/runs/"), "{again}");
    b.check("run-again").await;
    // Stop it too: nothing is left running.
    b.click("main form button.danger").await;
    b.close().await;
}

/// Journey 5: a token made in settings works as the password of `git push`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_settings_pushes() {
    let (server, git) = setup();
    let (b, _, work) = signed_in_with_repo(&server, &git, "token", &[("README.md", "# Demo\n")]).await;
    b.visit("/settings/tokens", "tokens").await;
    b.fill("input[name=label]", "laptop").await;
    b.click("main form button[type=submit]").await;
    b.check("token-created").await;
    let token = b.text("#new-token").await;
    assert!(token.starts_with("hth_"), "{token}");
    assert!(b.text("main table").await.contains("laptop"));
    std::fs::write(work.join("NOTES.md"), "pushed with a token\n").unwrap();
    git.ok(Some(&work), &["add", "-A"]);
    git.ok(Some(&work), &["commit", "-q", "-m", "Pushed with a token"]);
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    blocking(|| git.ok(Some(&work), &["push", "-q", &url, "main"]));
    // A wrong token is refused.
    let wrong = server.cred_url("alice", "hth_not-a-token", "/alice/demo.git");
    let refused = blocking(|| git.fails(Some(&work), &["push", &wrong, "main:other"]));
    assert!(
        refused.contains("401") || refused.contains("Authentication failed"),
        "{refused}"
    );
    b.visit("/alice/demo/commits/main", "pushed-with-token").await;
    assert_eq!(b.text("ol.commits li a.summary").await, "Pushed with a token");
    b.close().await;
}

/// The other pages of a repository and the site, each checked like the rest.
async fn tour(b: &Browser) {
    for (path, shot) in [
        ("/", "dashboard"),
        ("/alice", "profile-repos"),
        ("/alice/demo/branches", "branches"),
        ("/alice/demo/tags", "tags"),
        ("/alice/demo/settings", "settings"),
        ("/alice/demo/settings/secrets", "secrets"),
        ("/alice/demo/runs", "runs-empty"),
        ("/alice/demo/environments", "environments-empty"),
        ("/alice/demo/pipeline", "pipeline"),
        ("/alice/demo/releases", "releases-empty"),
        ("/alice/demo/insights", "insights"),
        ("/notifications", "notifications-tour"),
        ("/api", "api"),
        ("/alice/demo/insights?days=90", "insights-90"),
        ("/alice/demo/settings/environments", "environment-settings"),
        ("/alice/demo/issues", "issues-open"),
        ("/alice/demo/raw/main/README.md", "raw"),
        ("/alice/demo/nope", "not-found"),
    ] {
        if path.contains("/raw/") {
            // A raw file is text, not a page: it only has to load.
            b.client.goto(&format!("{}{path}", b.base)).await.unwrap();
            assert!(b.text("body").await.contains("# Demo"));
            continue;
        }
        b.visit(path, shot).await;
    }
    assert!(b.text("main").await.contains("not found") || b.text("main").await.contains("Not found"));
}

fn setup() -> (TestServer, Git) {
    (TestServer::start(), Git::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journeys_with_javascript() {
    let (server, git) = setup();
    let b = Browser::start(&server, "js", true).await;
    accounts(&b).await;
    administration(&b).await;
    repository(&b, &server, &git).await;
    issues(&b).await;
    pull_requests(&b, &server, &git).await;
    webhooks(&b).await;
    notifications(&b, &server).await;
    tour(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journeys_without_javascript() {
    let (server, git) = setup();
    let b = Browser::start(&server, "nojs", false).await;
    accounts(&b).await;
    administration(&b).await;
    repository(&b, &server, &git).await;
    issues(&b).await;
    pull_requests(&b, &server, &git).await;
    webhooks(&b).await;
    notifications(&b, &server).await;
    b.close().await;
}

/// The same stylesheet in dark mode: the pages turn dark, and pass the same
/// checks (screenshots named `dark-*`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_dark_mode() {
    let (server, git) = setup();
    let workflow = "on: push\njobs:\n  build:\n    steps:\n      - run: echo built\n";
    let files = [
        ("README.md", "# Demo\n\nIn the dark.\n"),
        (".hearth/workflows/ci.yml", workflow),
    ];
    let (token, _) = blocking(|| pushed_repo(&server, &git, &files));
    let b = Browser::start_with(&server, "dark", true, &["--force-dark-mode"]).await;
    sign_in(&b).await;
    assert_eq!(
        b.js("return matchMedia('(prefers-color-scheme: dark)').matches").await,
        json!(true),
        "the browser asks for dark pages"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while blocking(|| {
        server
            .api(
                "GET",
                "/api/v1/repos/alice/demo/actions/runs?status=completed",
                Some(&token),
                None,
            )
            .1
    })["total_count"]
        != 1
    {
        assert!(Instant::now() < deadline, "the run never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (path, shot) in [
        ("/", "dashboard"),
        ("/alice/demo", "repo"),
        ("/alice/demo/blob/main/README.md", "blob"),
        ("/alice/demo/runs/1", "run"),
        ("/alice/demo/runs/1/jobs/1", "job"),
        ("/alice/demo/issues/new", "new-issue"),
    ] {
        b.visit(path, shot).await;
        // The page is dark: its background is darker than its text.
        let lightness = b
            .js(r#"
            const rgb = (c) => c.match(/\d+/g).slice(0, 3).map(Number).reduce((a, b) => a + b, 0);
            const body = getComputedStyle(document.body);
            return [rgb(body.backgroundColor), rgb(body.color)];
            "#)
            .await;
        assert!(
            lightness[0].as_i64() < lightness[1].as_i64(),
            "{path}: not dark ({lightness})"
        );
    }
    b.close().await;
}
