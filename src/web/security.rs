//! The headers that make a browser hold Hearth's pages to what they are:
//! scripts and styles from this site only (no inline script can run, so an
//! injected `<script>` does nothing), no framing by other sites (no
//! clickjacking), no page address sent to other sites, and no guessing of
//! content types. Set on every answer that has not set its own.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every page. Inline `style=""` stays allowed (label
/// colours, progress bars); scripts come only from `/static`. Images may
/// come from https sites (a README's badges).
pub const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: https:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of everything else (files, JSON): nothing in it runs or is framed.
pub const OTHER_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let h = response.headers_mut();
    let policy = if is_page { PAGE_POLICY } else { OTHER_POLICY };
    let set = [
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ];
    for (name, value) in set {
        set_default(h, name, value);
    }
    response
}

fn set_default(h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str) {
    h.entry(name).or_insert(HeaderValue::from_static(value));
}
