//! Stored script injection through names (#28): a file name, a branch and
//! a tag name, a commit message, an issue's and a pull request's title, a
//! release's name and a job's log lines (HTML, ANSI colours, terminal
//! hyperlinks) all hold markup that would run script. Every page that
//! shows them shows them as text: no element runs `alert(4711)`.

mod common;

use scraper::{Html, Selector};
use serde_json::json;

/// What every name below carries.
const IMG: &str = "<img src=x onerror=alert(4711)>";
const SCRIPT: &str = "<script>alert(4711)</script>";

/// Where in `page` markup of the names became elements or attributes.
fn injected(page: &str) -> Vec<String> {
    let doc = Html::parse_document(page);
    let mut found = Vec::new();
    for el in doc.select(&Selector::parse("*").unwrap()) {
        let name = el.value().name();
        if name == "script" && el.text().any(|t| t.contains("4711")) {
            found.push("a <script> with the name's code".into());
        }
        if name == "img" && el.value().attr("src") == Some("x") {
            found.push("an <img src=x>".into());
        }
        for (attr, value) in el.value().attrs() {
            let url = value.trim().to_ascii_lowercase();
            if (attr == "href" || attr == "src") && url.starts_with("javascript:") {
                found.push(format!("<{name} {attr}={value:?}>"));
            }
            if attr.starts_with("on") && name != "body" {
                found.push(format!("<{name} {attr}=…>"));
            }
        }
    }
    found
}

#[test]
fn names_that_hold_markup_are_shown_as_text_everywhere() {
    let r = common::ci::repo();
    // A file, a commit message, a branch and a tag.
    std::fs::write(r.work.join(format!("{IMG}.txt")), "x\n").unwrap();
    let workflow = format!(
        "on: push\njobs:\n  log:\n    steps:\n      - run: |\n          echo '{SCRIPT} {IMG}'\n          printf '\\033[31m{IMG}\\033[0m\\n'\n          printf '\\033]8;;javascript:alert(4711)\\033\\\\click\\033]8;;\\033\\\\\\n'\n          echo '::error title={IMG}::{SCRIPT}'\n"
    );
    std::fs::create_dir_all(r.work.join(".hearth/workflows")).unwrap();
    std::fs::write(r.work.join(".hearth/workflows/log.yml"), workflow).unwrap();
    let sha = r.commit_and_push(&format!("{SCRIPT} and {IMG}"), "main");
    let branch = "evil<svg/onload=alert(4711)>";
    r.git.ok(Some(&r.work), &["checkout", "-q", "-b", branch]);
    std::fs::write(r.work.join("change.txt"), format!("{SCRIPT}\n")).unwrap();
    r.commit_and_push(&format!("On the branch: {IMG}"), branch);
    r.git.ok(Some(&r.work), &["checkout", "-q", "main"]);
    let url = r.server.cred_url(&r.user, &r.token, &format!("/{}.git", r.slug));
    let tag = "v1<svg/onload=alert(4711)>";
    r.git.ok(Some(&r.work), &["tag", tag]);
    r.git.ok(Some(&r.work), &["push", "-q", &url, tag]);
    let run = r.wait_run(1);
    // An issue, a pull request and a release.
    let api = |path: &str, body: serde_json::Value| {
        let (status, out) = r.server.api(
            "POST",
            &format!("/api/v1/repos/{}{path}", r.slug),
            Some(&r.token),
            Some(body),
        );
        assert_eq!(status, 201, "{path}: {out}");
        out
    };
    api("/issues", json!({"title": format!("{SCRIPT} {IMG}"), "body": "x"}));
    let pull = api(
        "/pulls",
        json!({"title": format!("{SCRIPT} {IMG}"), "head": branch, "base": "main"}),
    );
    api(
        "/releases",
        json!({"tag_name": tag, "name": format!("{SCRIPT} {IMG}"), "body": "notes"}),
    );
    let job = r.jobs(&run)[0]["id"].clone();
    let slug = &r.slug;
    let pages = [
        format!("/{slug}"),
        format!("/{slug}/tree/main"),
        format!("/{slug}/commits/main"),
        format!("/{slug}/commit/{sha}"),
        format!("/{slug}/branches"),
        format!("/{slug}/tags"),
        format!("/{slug}/issues"),
        "/{slug}/issues/1".replace("{slug}", slug),
        format!("/{slug}/pulls"),
        format!("/{slug}/pulls/{}", pull["number"]),
        format!("/{slug}/pulls/{}/files", pull["number"]),
        format!("/{slug}/releases"),
        format!("/{slug}/runs"),
        format!("/{slug}/runs/1"),
        format!("/{slug}/runs/1/jobs/{job}"),
        format!("/{slug}/pipeline"),
        "/".to_string(),
    ];
    let browser = common::sign_in(&r.server, "alice", "pw-alice-1");
    for page in &pages {
        let resp = browser.get(r.server.url(page)).send().unwrap();
        assert_eq!(resp.status(), 200, "{page}");
        let html = resp.text().unwrap();
        let found = injected(&html);
        assert!(found.is_empty(), "{page}: {found:?}");
    }
    // The names are there, as text.
    let text = |page: &str| {
        let html = browser.get(r.server.url(page)).send().unwrap().text().unwrap();
        let words: String = Html::parse_document(&html).root_element().text().collect();
        (html, words)
    };
    let (_, commit) = text(&pages[3]);
    assert!(
        commit.contains(SCRIPT) && commit.contains(&format!("{IMG}.txt")),
        "{commit}"
    );
    let (html, log) = text(&pages[14]);
    assert!(
        log.contains(&format!("{SCRIPT} {IMG}")),
        "the log line is shown as text: {log}"
    );
    assert!(!html.contains('\u{1b}'), "terminal escapes are not passed to the page");
}

#[test]
fn the_check_itself_sees_each_injection() {
    for html in [
        "<html><body><img src=x onerror=alert(4711)></body></html>",
        "<html><body><script>alert(4711)</script></body></html>",
        "<html><body><svg onload=alert(4711)></svg></body></html>",
        "<html><body><a href=\"javascript:alert(4711)\">x</a></body></html>",
    ] {
        assert!(!injected(html).is_empty(), "{html}");
    }
}
