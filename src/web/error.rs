//! The one place errors become responses. Handlers return `Error`; its
//! `IntoResponse` only records the status and message, and `render` (a
//! middleware over every route) writes them in the form the client reads:
//! JSON for the API, plain text with `WWW-Authenticate` for git, and an HTML
//! page (or a redirect to sign in) for browsers.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::{AppState, Nav};
use crate::error::Error;

/// The message shown for an error, kept on the response until `render`.
#[derive(Clone)]
struct Shown(String);

/// The HTTP status of an error: the one mapping, also for forms that show
/// a page again with its error.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NotFound => StatusCode::NOT_FOUND,
        Error::Invalid(_) => StatusCode::BAD_REQUEST,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::Exists(_) | Error::WrongState(_) => StatusCode::CONFLICT,
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::NotMergeable(_) => StatusCode::METHOD_NOT_ALLOWED,
        Error::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Db(_) | Error::Io(_) | Error::Failed { .. } | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A database that stayed locked past the busy timeout (another program
/// holds its write lock) is a moment's wait, not a failure.
fn busy_database(e: Error) -> Error {
    match e {
        Error::Db(rusqlite::Error::SqliteFailure(f, _))
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            tracing::warn!("the database is locked by another program: {f}");
            Error::Busy {
                message: "the database is busy; try again in a moment".into(),
                retry_after: 5,
            }
        }
        other => other,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let this = busy_database(self);
        let status = status_of(&this);
        let message = match &this {
            Error::Busy { message, .. } => message.clone(),
            _ if status.is_server_error() => {
                tracing::error!("{this}");
                "something went wrong on the server; the cause is in its log".to_string()
            }
            _ => this.to_string(),
        };
        let mut response = status.into_response();
        if let Error::TooManyAttempts { retry_after, .. } | Error::Busy { retry_after, .. } = &this {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response.extensions_mut().insert(Shown(message));
        response
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    status: u16,
    title: &'static str,
    message: String,
}

enum Client {
    Api,
    Git,
    Browser,
}

fn client_of(path: &str) -> Client {
    // A scraper of /metrics is a program too: it wants the status, not a sign-in page.
    if path.starts_with("/api/") || path == "/metrics" {
        Client::Api
    } else if crate::git::protocol::is_git_path(path) {
        Client::Git
    } else {
        Client::Browser
    }
}

/// No body type, or plain text: what axum's own rejections send.
fn is_plain(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/plain"))
}

pub async fn render(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let client = client_of(request.uri().path());
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let cookie_header = request.headers().get(header::COOKIE).cloned();
    let csrf = request.extensions().get::<super::auth::CsrfToken>().cloned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let shown = response.extensions().get::<Shown>().cloned();
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let message = match shown {
        Some(Shown(m)) => m,
        // A page or document the handler rendered itself (a form shown again
        // with its error) goes out as it is.
        None if !is_plain(&response) => return response,
        // Rejections from axum's own extractors carry their reason as text.
        None => match axum::body::to_bytes(response.into_body(), 4096).await {
            Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).trim().to_string(),
            _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
        },
    };
    let mut answer = match client {
        // A refused value is also told in GitHub's `errors` list, which its clients read.
        Client::Api if status == StatusCode::UNPROCESSABLE_ENTITY => (
            status,
            axum::Json(serde_json::json!({ "message": message, "errors": [{ "code": "custom", "message": message }] })),
        )
            .into_response(),
        Client::Api => (status, axum::Json(serde_json::json!({ "message": message }))).into_response(),
        Client::Git => {
            let mut r = (status, format!("{message}\n")).into_response();
            if status == StatusCode::UNAUTHORIZED {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"Hearth\""),
                );
            }
            r
        }
        Client::Browser if status == StatusCode::UNAUTHORIZED => {
            Redirect::to(&format!("/login?next={}", super::auth::url_encode(&target))).into_response()
        }
        Client::Browser => {
            let nav = Nav::for_error(&state, cookie_header.as_ref(), csrf).await;
            let page = ErrorPage {
                nav,
                status: status.as_u16(),
                title: status.canonical_reason().unwrap_or("Error"),
                message,
            };
            (status, page).into_response()
        }
    };
    if let Some(retry_after) = retry_after {
        answer.headers_mut().insert(header::RETRY_AFTER, retry_after);
    }
    answer
}
