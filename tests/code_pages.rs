//! Repository pages read with gix: home with README, tree, blob, raw,
//! history, commit diffs, branches and tags — checked on the parsed HTML.

mod common;

use common::{Git, TestServer};
use scraper::{Html, Selector};

struct Fixture {
    server: TestServer,
    git: Git,
    token: String,
}

impl Fixture {
    fn new(private: bool) -> Fixture {
        let (server, git, token) = common::pushed_fixture(private);
        Fixture { server, git, token }
    }

    fn rev(&self, spec: &str) -> String {
        self.git
            .ok(Some(&self.git.dir("src")), &["rev-parse", spec])
            .trim()
            .to_string()
    }

    fn page(&self, path: &str) -> (u16, Html) {
        let resp = self.server.get(path);
        let status = resp.status().as_u16();
        (status, Html::parse_document(&resp.text().unwrap()))
    }

    fn ok(&self, path: &str) -> Html {
        let (status, html) = self.page(path);
        assert_eq!(status, 200, "{path}");
        html
    }
}

fn texts(html: &Html, selector: &str) -> Vec<String> {
    let sel = Selector::parse(selector).unwrap();
    html.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

fn attrs(html: &Html, selector: &str, attr: &str) -> Vec<String> {
    let sel = Selector::parse(selector).unwrap();
    html.select(&sel)
        .filter_map(|e| e.value().attr(attr).map(str::to_string))
        .collect()
}

fn title(html: &Html) -> String {
    texts(html, "title").remove(0)
}

#[test]
fn home_shows_the_tree_the_readme_and_the_latest_commit() {
    let f = Fixture::new(false);
    let html = f.ok("/alice/demo");
    assert_eq!(title(&html), "alice/demo · Hearth");
    let names = texts(&html, "table.files td.name a");
    assert_eq!(
        &names[..4],
        ["docs/", "img/", "src/", "web/"],
        "folders first: {names:?}"
    );
    assert!(names.contains(&"README.md".to_string()));
    assert_eq!(
        attrs(&html, "#clone-url", "value"),
        [format!("{}/alice/demo.git", f.server.base)]
    );
    assert!(texts(&html, ".latest a").contains(&"Rename f1 to first".to_string()));
    let counts = texts(&html, ".toolbar a");
    assert!(
        counts.contains(&"5 branches".to_string()) && counts.contains(&"3 tags".to_string()),
        "{counts:?}"
    );
    // The switcher lists branches with slashes.
    assert!(attrs(&html, ".switcher a", "href").contains(&"/alice/demo/tree/feature/login".to_string()));

    // The README: rendered, with GitHub features, relative links resolved, and nothing active.
    let readme = texts(&html, ".readme .markdown").remove(0);
    assert!(readme.contains("A repository for tests"));
    assert_eq!(texts(&html, ".readme table th"), ["feature", "state"]);
    assert_eq!(attrs(&html, ".readme input[type=checkbox]", "type").len(), 2);
    let links = attrs(&html, ".readme a", "href");
    assert!(
        links.contains(&"/alice/demo/blob/main/docs/guide.md".to_string()),
        "{links:?}"
    );
    assert!(
        links.contains(&"https://example.com/autolinked".to_string()),
        "{links:?}"
    );
    assert!(
        links.iter().all(|l| !l.to_lowercase().starts_with("javascript")),
        "{links:?}"
    );
    assert!(attrs(&html, ".readme img", "src").contains(&"/alice/demo/raw/main/img/logo.png".to_string()));
    let raw = html.html();
    let readme_html = &raw[raw.find("class=\"readme").unwrap()..];
    assert!(!readme_html.contains("<script"), "no script survives");
    assert!(!readme_html.contains("onerror"), "no event handler survives");
    assert!(!readme_html.contains("alert("), "no script text is active");
}

#[test]
fn tree_pages_with_breadcrumbs_sizes_and_folder_readmes() {
    let f = Fixture::new(false);
    let html = f.ok("/alice/demo/tree/main/docs");
    assert_eq!(title(&html), "docs at main · alice/demo · Hearth");
    assert_eq!(texts(&html, ".crumbs a"), ["demo"]);
    assert_eq!(texts(&html, ".crumbs strong"), ["docs"]);
    let names = texts(&html, "table.files td.name a");
    assert_eq!(names[0], "..");
    assert!(names.contains(&"blob.bin".to_string()) && names.contains(&"guide.md".to_string()));
    let sizes = texts(&html, "table.files td.size");
    assert!(sizes.contains(&"4.0 KiB".to_string()), "{sizes:?}");
    // A branch whose name has a slash, and a nested path.
    let html = f.ok("/alice/demo/tree/feature/login/docs");
    assert!(texts(&html, "table.files td.name a").contains(&"feature-login.txt".to_string()));
    assert_eq!(texts(&html, ".switcher summary"), ["feature/login"]);
    // By tag, by full and abbreviated commit id.
    f.ok("/alice/demo/tree/v1.1/src");
    let id = f.rev("HEAD");
    f.ok(&format!("/alice/demo/tree/{id}/src"));
    f.ok(&format!("/alice/demo/tree/{}/src", &id[..7]));
    for missing in [
        "/alice/demo/tree/main/nope",
        "/alice/demo/tree/no-such-branch",
        "/alice/demo/tree/main/README.md/x",
        "/alice/demo/tree/0000000/src",
        "/alice/demo/tree/HEAD@{1}",
        "/alice/demo/tree/main/../../etc",
    ] {
        let (status, html) = f.page(missing);
        assert_eq!(status, 404, "{missing}");
        assert_eq!(
            title(&html),
            "404 Not Found · Hearth",
            "{missing}: a 404 page in the layout"
        );
    }
}

#[test]
fn blob_pages_highlight_anchor_and_render() {
    let f = Fixture::new(false);
    let html = f.ok("/alice/demo/blob/main/src/main.rs");
    assert_eq!(title(&html), "src/main.rs at main · alice/demo · Hearth");
    assert_eq!(attrs(&html, ".gutter a", "id"), ["L1", "L2", "L3"]);
    assert_eq!(attrs(&html, ".gutter a", "href")[1], "#L2");
    let source = html.select(&Selector::parse(".source").unwrap()).next().unwrap().html();
    assert!(source.contains("class=\"hl-"), "highlighted on the server: {source}");
    assert!(texts(&html, ".source").remove(0).contains("println!(\"hello\");"));

    // Markdown: rendered, with a toggle to the source.
    let html = f.ok("/alice/demo/blob/main/docs/guide.md");
    assert!(attrs(&html, ".markdown a", "href").contains(&"/alice/demo/blob/main/README.md".to_string()));
    assert!(attrs(&html, ".file-head a", "href").contains(&"?plain=1".to_string()));
    let html = f.ok("/alice/demo/blob/main/docs/guide.md?plain=1");
    assert!(texts(&html, ".source").remove(0).contains("# Guide"));

    // Images inline, binary files as a download.
    let html = f.ok("/alice/demo/blob/main/img/logo.png");
    assert_eq!(
        attrs(&html, ".file-body img", "src"),
        ["/alice/demo/raw/main/img/logo.png"]
    );
    let html = f.ok("/alice/demo/blob/main/docs/blob.bin");
    assert!(texts(&html, ".notice").remove(0).contains("binary"));
    assert_eq!(
        attrs(&html, ".notice a", "href"),
        ["/alice/demo/raw/main/docs/blob.bin"]
    );
    // HTML source is shown, escaped.
    let html = f.ok("/alice/demo/blob/main/web/page.html");
    assert!(
        texts(&html, ".source")
            .remove(0)
            .contains("<script>alert(\"page\")</script>")
    );
    assert_eq!(html.select(&Selector::parse(".source script").unwrap()).count(), 0);
    // A folder under /blob/ goes to /tree/.
    let resp = f.server.get("/alice/demo/blob/main/docs");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/alice/demo/tree/main/docs");
    assert_eq!(f.page("/alice/demo/blob/main/nope.rs").0, 404);
}

#[test]
fn raw_never_serves_anything_a_browser_runs() {
    let f = Fixture::new(false);
    for (path, content_type) in [
        ("/alice/demo/raw/main/web/page.html", "text/plain; charset=utf-8"),
        ("/alice/demo/raw/main/web/icon.svg", "text/plain; charset=utf-8"),
        ("/alice/demo/raw/main/src/main.rs", "text/plain; charset=utf-8"),
        ("/alice/demo/raw/main/img/logo.png", "image/png"),
        ("/alice/demo/raw/main/docs/blob.bin", "application/octet-stream"),
    ] {
        let resp = f.server.get(path);
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], content_type, "{path}");
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "{path}");
        assert!(
            resp.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("sandbox")
        );
    }
    let resp = f.server.get("/alice/demo/raw/main/docs/blob.bin");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let expected = std::fs::read(f.git.dir("src").join("docs/blob.bin")).unwrap();
    assert_eq!(resp.bytes().unwrap().to_vec(), expected, "the bytes, unchanged");
    assert_eq!(f.server.get("/alice/demo/raw/main/docs").status(), 404);
}

#[test]
fn history_is_paginated_and_filters_by_path() {
    let f = Fixture::new(false);
    let html = f.ok("/alice/demo/commits/main");
    assert_eq!(title(&html), "Commits on main · alice/demo · Hearth");
    let summaries = texts(&html, "ol.commits a.summary");
    assert_eq!(summaries[0], "Rename f1 to first");
    assert!(summaries.contains(&"Merge topic-a".to_string()));
    let total: usize = f
        .git
        .ok(Some(&f.git.dir("src")), &["rev-list", "--count", "main"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(summaries.len(), total.min(50));
    let shas = texts(&html, "ol.commits a.sha");
    assert_eq!(shas[0], f.rev("main")[..10]);

    let html = f.ok("/alice/demo/commits/main?path=docs/notes.txt");
    let touching = texts(&html, "ol.commits a.summary");
    assert!(
        touching.iter().all(|s| s.starts_with("Add f") || s.contains("patch")),
        "{touching:?}"
    );
    assert_eq!(touching.len(), 12);
    let html = f.ok("/alice/demo/commits/main?first_parent=1");
    let fp = texts(&html, "ol.commits a.summary");
    assert!(
        !fp.iter().any(|s| s.starts_with("topic-a:")),
        "first parents only: {fp:?}"
    );
    let html = f.ok("/alice/demo/commits/feature/login");
    assert_eq!(texts(&html, "ol.commits a.summary")[0], "feature/login: change 3");
    assert_eq!(f.page("/alice/demo/commits/main?page=0").0, 400);
    assert_eq!(f.page("/alice/demo/commits/main?page=99").0, 404);
    assert_eq!(f.page("/alice/demo/commits/nope").0, 404);
    // Without a ref: the default branch.
    assert_eq!(
        texts(&f.ok("/alice/demo/commits"), "ol.commits a.summary")[0],
        "Rename f1 to first"
    );
}

#[test]
fn commit_pages_show_diffs_renames_binaries_and_merges() {
    let f = Fixture::new(false);
    // A rename.
    let id = f.rev("HEAD");
    let html = f.ok(&format!("/alice/demo/commit/{id}"));
    assert_eq!(texts(&html, ".commit h2"), ["Rename f1 to first"]);
    assert_eq!(texts(&html, ".filelist .badge"), ["renamed"]);
    assert!(texts(&html, ".filelist a")[0].contains("src/f1.rs → src/first.rs"));
    // Additions with counts and line numbers, a binary file noted.
    let id = f.rev(":/Add a binary file");
    let html = f.ok(&format!("/alice/demo/commit/{id}"));
    assert_eq!(texts(&html, ".filelist .badge"), ["added"]);
    assert!(texts(&html, "section.diff .notice")[0].contains("Binary file"));
    let id = f.rev(":/Add f3");
    let html = f.ok(&format!("/alice/demo/commit/{}", &id[..8]));
    let files = texts(&html, ".filelist li");
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().any(|l| l.contains("src/f3.rs") && l.contains("+1")));
    assert_eq!(texts(&html, "tr.add td"), ["+line 3", "+pub fn f3() -> u32 { 3 }"]);
    assert_eq!(texts(&html, "tr.add th")[1], "3", "new line numbers");
    // A merge: diffed against its first parent, parents linked.
    let merge = f.rev(":/Merge topic-a");
    let html = f.ok(&format!("/alice/demo/commit/{merge}"));
    assert_eq!(attrs(&html, ".meta a.sha", "href").len(), 2);
    assert!(
        texts(&html, ".filelist a")
            .iter()
            .any(|p| p.contains("docs/topic-a.txt"))
    );
    // The patch and the diff.
    let patch = f.server.get(&format!("/alice/demo/commit/{id}.patch")).text().unwrap();
    assert!(patch.starts_with(&format!("From {id} ")) && patch.contains("Subject: [PATCH] Add f3"));
    assert!(
        patch.contains("+++ b/src/f3.rs\n@@ -0,0 +1 @@\n+pub fn f3() -> u32 { 3 }\n"),
        "{patch}"
    );
    let diff = f.server.get(&format!("/alice/demo/commit/{id}.diff")).text().unwrap();
    assert!(
        diff.starts_with("diff --git a/docs/notes.txt b/docs/notes.txt\n"),
        "{diff}"
    );
    for missing in [
        "/alice/demo/commit/0123456789",
        "/alice/demo/commit/xyz",
        "/alice/demo/commit/main",
    ] {
        assert_eq!(f.page(missing).0, 404, "{missing}");
    }
}

#[test]
fn pages_by_commit_id_answer_if_none_match_with_304() {
    let f = Fixture::new(false);
    let id = f.rev("HEAD");
    let client = common::client();
    for path in [
        format!("/alice/demo/commit/{id}"),
        format!("/alice/demo/tree/{id}/src"),
        format!("/alice/demo/blob/{id}/README.md"),
    ] {
        let first = client
            .get(f.server.url(&path))
            .header("Cookie", "hearth_csrf=".to_string() + &"a".repeat(64))
            .send()
            .unwrap();
        let tag = first.headers()["etag"].to_str().unwrap().to_string();
        assert!(tag.starts_with('"'), "a strong ETag: {tag}");
        let again = client
            .get(f.server.url(&path))
            .header("Cookie", "hearth_csrf=".to_string() + &"a".repeat(64))
            .header("If-None-Match", &tag)
            .send()
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    // Pages by branch name change with pushes: no ETag.
    assert!(
        f.server
            .get("/alice/demo/tree/main/src")
            .headers()
            .get("etag")
            .is_none()
    );
}

#[test]
fn branches_and_tags_pages_and_fresh_content_after_a_push() {
    let f = Fixture::new(false);
    let html = f.ok("/alice/demo/branches");
    let names = texts(&html, "table.refs td code");
    assert_eq!(names[0], "main", "the default branch first: {names:?}");
    assert_eq!(names.len(), 5);
    assert!(names.contains(&"feature/login".to_string()));
    assert_eq!(texts(&html, ".badge"), ["default"]);
    let html = f.ok("/alice/demo/tags");
    let mut tags = texts(&html, "table.refs td code");
    tags.sort();
    assert_eq!(tags, ["v1.0", "v1.1", "v2.0"]);

    // A push shows up at once.
    let work = f.git.dir("work");
    f.git.ok(
        None,
        &[
            "clone",
            "-q",
            &f.server.cred_url("alice", &f.token, "/alice/demo.git"),
            work.to_str().unwrap(),
        ],
    );
    std::fs::write(work.join("fresh.txt"), "fresh\n").unwrap();
    f.git.ok(Some(&work), &["add", "."]);
    f.git.ok(Some(&work), &["commit", "-qm", "Fresh commit"]);
    f.git.ok(
        Some(&work),
        &["push", "-q", "origin", "main", "main:refs/heads/new-branch"],
    );
    let html = f.ok("/alice/demo");
    assert!(texts(&html, "table.files td.name a").contains(&"fresh.txt".to_string()));
    assert_eq!(
        texts(&f.ok("/alice/demo/commits/main"), "ol.commits a.summary")[0],
        "Fresh commit"
    );
    assert!(texts(&f.ok("/alice/demo/branches"), "table.refs td code").contains(&"new-branch".to_string()));
}

#[test]
fn private_repository_pages_are_404_to_outsiders() {
    let f = Fixture::new(true);
    let bob = f.server.user("bob", "pw-bob-123", false);
    let id = f.rev("HEAD");
    for path in [
        "/alice/demo".to_string(),
        "/alice/demo/tree/main".into(),
        "/alice/demo/blob/main/README.md".into(),
        "/alice/demo/raw/main/README.md".into(),
        "/alice/demo/commits/main".into(),
        format!("/alice/demo/commit/{id}"),
        format!("/alice/demo/commit/{id}.patch"),
        "/alice/demo/branches".into(),
        "/alice/demo/tags".into(),
    ] {
        assert_eq!(f.server.get(&path).status(), 404, "anonymous {path}");
        let resp = common::client()
            .get(f.server.url(&path))
            .basic_auth("bob", Some(&bob))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 404, "bob {path}");
        let resp = common::client()
            .get(f.server.url(&path))
            .basic_auth("alice", Some(&f.token))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200, "alice {path}");
    }
}

#[test]
fn an_empty_repository_shows_how_to_push() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "empty", false);
    let html = Html::parse_document(&server.get("/alice/empty").text().unwrap());
    assert_eq!(texts(&html, "h2"), ["This repository is empty"]);
    assert_eq!(server.get("/alice/empty/commits").status(), 404);
    assert_eq!(server.get("/alice/empty/tree/main").status(), 404);
    let html = Html::parse_document(&server.get("/alice/empty/branches").text().unwrap());
    assert!(texts(&html, "p.muted").iter().any(|t| t == "No branches yet."));
}
