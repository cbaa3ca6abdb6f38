//! What the code pages share: ETags, breadcrumbs, paths in URLs, links
//! in rendered Markdown, dates.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::web::Nav;

/// A strong ETag for a page reached by commit id: the same for the same
/// content and the same viewer (the layout shows who is signed in).
pub fn etag(key: &str, nav: &Nav) -> String {
    let who = nav.user.as_ref().map(|u| u.id.0).unwrap_or(0);
    // Anonymous readers share one version of a page (it has no form of theirs).
    let csrf = if nav.user.is_some() { nav.csrf() } else { "" };
    let digest = crate::accounts::sha256_hex(&format!("{key}\n{who}\n{csrf}\n{}", nav.unread));
    format!("\"{}\"", &digest[..32])
}

/// 304 when the client has this version already; otherwise the page with its ETag.
pub fn conditional(headers: &HeaderMap, etag: Option<String>, page: impl IntoResponse) -> Response {
    let Some(tag) = etag else { return page.into_response() };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        page.into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// `a/b/c` → [("a", "a"), ("b", "a/b"), ("c", "a/b/c")] for breadcrumbs,
/// the second of each pair ready for a URL.
pub fn crumbs(path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(seg);
        out.push((seg.to_string(), url_path(&acc)));
    }
    out
}

/// Percent-encodes a ref or path for use in a URL, keeping `/`.
pub fn url_path(text: &str) -> String {
    crate::web::auth::url_encode(text)
}

/// Where relative links and images of a Markdown file in folder `dir`
/// (empty for the root) point, at `rev`.
pub fn markdown_links(base: &str, rev: &str, dir: &str) -> crate::markup::Links {
    let dir = if dir.is_empty() {
        String::new()
    } else {
        format!("/{}", url_path(dir))
    };
    crate::markup::Links {
        blob_dir: format!("{base}/blob/{}{dir}", url_path(rev)),
        raw_dir: format!("{base}/raw/{}{dir}", url_path(rev)),
    }
}

/// `2026-01-01 12:00 UTC`, for a `<time>` element (hearth.js shows it relative).
pub fn date(ts: i64) -> String {
    let full = crate::time::rfc3339(ts);
    format!("{} {} UTC", &full[..10], &full[11..16])
}
