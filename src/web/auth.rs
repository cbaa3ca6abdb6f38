//! Who is asking: the signed-in user of a session cookie, or the user of an
//! `Authorization` header (HTTP Basic with a password or token, `token T`,
//! `Bearer T`). Also CSRF protection for forms: a random token in an
//! HttpOnly, SameSite=Lax cookie that every state-changing form must repeat.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Form, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::accounts;
use crate::ci::job_token::{self, JobGrant};
use crate::db::users::User;
use crate::error::{Error, Result};

pub const SESSION_COOKIE: &str = "hearth_session";
const CSRF_COOKIE: &str = "hearth_csrf";

/// The person making the request, if known. Resolved once per request.
#[derive(Clone)]
pub struct Viewer(pub Option<User>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer> {
        if let Some(v) = parts.extensions.get::<Viewer>() {
            return Ok(v.clone());
        }
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let (user, grant) = resolve(&parts.headers, state, client).await?;
        // A job token is its job's person only on the job's own
        // repository; anywhere else it is nobody.
        let user = match &grant {
            Some(g) if g.rest_of(parts.uri.path()).is_none() => None,
            _ => user,
        };
        if let Some(g) = grant {
            parts.extensions.insert(g);
        }
        let viewer = Viewer(user);
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

/// The person of a request, and the grant of the job token it came with.
async fn resolve(
    headers: &HeaderMap,
    state: &AppState,
    client: Option<std::net::IpAddr>,
) -> Result<(Option<User>, Option<JobGrant>)> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let bad = || Error::Unauthenticated("wrong user name, password or token".into());
        let value = value.to_str().map_err(|_| bad())?;
        let (scheme, rest) = value.split_once(' ').ok_or_else(bad)?;
        let job_token = match scheme.to_ascii_lowercase().as_str() {
            "basic" => base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .and_then(|d| d.split_once(':').map(|(_, secret)| secret.to_string())),
            "token" | "bearer" => Some(rest.trim().to_string()),
            _ => None,
        }
        .filter(|t| t.starts_with(job_token::PREFIX));
        if let Some(token) = job_token {
            let (user, grant) = job_token::lookup(&state.db, &token).await?.ok_or_else(|| {
                Error::Unauthenticated(
                    "this job token is not valid (any more): it works only while its job runs".into(),
                )
            })?;
            return Ok((Some(user), Some(grant)));
        }
        let user = match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest.trim())
                    .map_err(|_| bad())?;
                let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
                let (name, secret) = decoded.split_once(':').ok_or_else(bad)?;
                accounts::basic_auth(&state.db, &state.passwords, name, secret, client).await?
            }
            "token" | "bearer" => accounts::token_user(&state.db, rest.trim()).await?,
            _ => return Err(bad()),
        };
        return user.map(|u| (Some(u), None)).ok_or_else(bad);
    }
    match cookie(headers, SESSION_COOKIE) {
        Some(secret) => Ok((accounts::session_user(&state.db, secret).await?, None)),
        None => Ok((None, None)),
    }
}

/// A signed-in user; anyone else is sent to sign in.
pub struct SignedIn(pub User);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<SignedIn> {
        match Viewer::from_request_parts(parts, state).await? {
            Viewer(Some(user)) => Ok(SignedIn(user)),
            Viewer(None) => Err(Error::Unauthenticated("sign in first".into())),
        }
    }
}

/// What every page's layout needs: who is signed in and the CSRF token for
/// the sign-out button.
#[derive(Clone)]
pub struct Nav {
    pub user: Option<User>,
    /// Read through `csrf()`, which is how the cookie comes to be set.
    csrf_token: Option<CsrfToken>,
    /// A visitor may create an account here (registration is open, or
    /// there is no account yet).
    pub can_register: bool,
    /// The signed-in person's unread notifications: the bell's number.
    pub unread: i64,
}

/// How many unread notifications `user` has (none when signed out).
async fn unread(state: &AppState, user: Option<&User>) -> Result<i64> {
    let Some(id) = user.map(|u| u.id) else { return Ok(0) };
    state
        .db
        .read(move |c| crate::db::notifications::unread_count(c, id))
        .await
}

/// Whether a visitor may register: `--registration open`, or the server
/// has no account yet (the first one becomes its administrator).
pub async fn registration_open(state: &AppState) -> Result<bool> {
    if state.config.registration_open {
        return Ok(true);
    }
    Ok(state.db.read(crate::db::users::count).await? == 0)
}

impl Nav {
    /// For error pages, which are rendered outside any handler.
    pub async fn for_error(state: &AppState, cookies: Option<&HeaderValue>, csrf: Option<CsrfToken>) -> Nav {
        let mut headers = HeaderMap::new();
        if let Some(c) = cookies {
            headers.insert(header::COOKIE, c.clone());
        }
        let user = match cookie(&headers, SESSION_COOKIE) {
            Some(secret) => accounts::session_user(&state.db, secret).await.ok().flatten(),
            None => None,
        };
        let can_register = user.is_none() && registration_open(state).await.unwrap_or(false);
        let unread = unread(state, user.as_ref()).await.unwrap_or(0);
        Nav {
            user,
            csrf_token: csrf,
            can_register,
            unread,
        }
    }

    /// The CSRF token for a form of this page. A page that shows none never
    /// asks, and so sets no cookie: anonymous readers of a page all get the
    /// same answer (and its ETag), which shared caches can keep.
    pub fn csrf(&self) -> &str {
        match &self.csrf_token {
            Some(t) => t.value(),
            None => "",
        }
    }
}

impl FromRequestParts<AppState> for Nav {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Nav> {
        let Viewer(user) = Viewer::from_request_parts(parts, state).await?;
        let csrf_token = parts.extensions.get::<CsrfToken>().cloned();
        let can_register = user.is_none() && registration_open(state).await?;
        let unread = unread(state, user.as_ref()).await?;
        Ok(Nav {
            user,
            csrf_token,
            can_register,
            unread,
        })
    }
}

/// This request's CSRF token, as set (or about to be set) in its cookie,
/// and whether the answer shows it (in a form): only then is a new one
/// set as a cookie.
#[derive(Clone)]
pub struct CsrfToken {
    token: String,
    shown: Arc<AtomicBool>,
}

impl CsrfToken {
    /// The token, for a form: the answer will set the cookie if it is new.
    pub fn value(&self) -> &str {
        self.shown.store(true, Ordering::Relaxed);
        &self.token
    }
}

/// Gives every request a CSRF token, and sets the cookie when it is new
/// and the answer has a form that carries it.
pub async fn csrf_cookie(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let existing = cookie(request.headers(), CSRF_COOKIE)
        .filter(|t| t.len() == 64)
        .map(str::to_string);
    let (token, is_new) = match existing {
        Some(t) => (t, false),
        None => (accounts::new_secret(), true),
    };
    let shown = Arc::new(AtomicBool::new(false));
    request.extensions_mut().insert(CsrfToken {
        token: token.clone(),
        shown: shown.clone(),
    });
    let mut response = next.run(request).await;
    let secure = if state.config.is_https() { "; Secure" } else { "" };
    if is_new
        && shown.load(Ordering::Relaxed)
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// An API call that changes something and is signed in only by the browser
/// session cookie must come from this site's own pages: its `Origin` is
/// this server (the request's Host, or `--base-url`). Otherwise another
/// site could make a signed-in browser cancel runs or add collaborators.
/// Tokens and Basic credentials are never sent by a browser on its own, so
/// calls with them are not checked.
pub async fn api_origin(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    let headers = request.headers();
    let changes = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if request.uri().path().starts_with("/api/")
        && changes
        && !headers.contains_key(header::AUTHORIZATION)
        && cookie(headers, SESSION_COOKIE).is_some()
        && !same_origin(headers, state.config.base_url.as_deref())
    {
        return Error::Forbidden(
            "this API call came from another site with your browser session; \
             API clients authenticate with a token (Authorization: token …)"
                .into(),
        )
        .into_response();
    }
    next.run(request).await
}

/// Whether the request's `Origin` is this server.
fn same_origin(headers: &HeaderMap, base_url: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    if base_url.is_some_and(|base| {
        let base = base.trim_end_matches('/');
        // The base URL may have a path; its origin is what comes before it.
        let end = base.find("://").map_or(0, |i| i + 3);
        let origin_of_base = base[end..].find('/').map_or(base, |i| &base[..end + i]);
        origin.eq_ignore_ascii_case(origin_of_base)
    }) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    host.is_some() && authority.is_some_and(|a| Some(a) == host)
}

/// A submitted form whose `csrf` field matches the request's CSRF cookie.
/// Handlers that change state take their form through this extractor.
/// Fields are read as text (numbers too: parse them in the handler).
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<CsrfForm<T>> {
        let expected = request.extensions().get::<CsrfToken>().map(|c| c.token.clone());
        // Browsers name the page a form was sent from; when it is another
        // site's, the token was leaked, and the form is refused all the same.
        if request.headers().contains_key(header::ORIGIN)
            && !same_origin(request.headers(), state.config.base_url.as_deref())
        {
            return Err(Error::Forbidden(
                "this form was sent from another site; open the page here and send it again".into(),
            ));
        }
        let Form(form) = Form::<WithCsrf<T>>::from_request(request, state)
            .await
            .map_err(|e| match e.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                    Error::TooLarge("the form is too large to be sent here".into())
                }
                _ => Error::invalid(format!("the form could not be read: {}", e.body_text())),
            })?;
        match expected {
            Some(t) if !t.is_empty() && t == form.csrf => Ok(CsrfForm(form.fields)),
            _ => Err(Error::Forbidden(
                "the form expired or came from another site; reload the page and try again".into(),
            )),
        }
    }
}

/// A form with nothing but its CSRF token (sign out, delete, revoke…).
#[derive(Deserialize)]
pub struct NoFields {}

/// The value of one cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session cookie; `Secure` (sent over https only) when the site's
/// address is https.
pub fn session_cookie(state: &AppState, secret: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.is_https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("a hex secret is a valid header value")
}

pub use crate::github::url_encode;

/// A `next=` target that stays on this site: a path, with no second slash
/// or backslash at its start and no control characters anywhere (browsers
/// drop tabs and newlines, so `/\t/evil.example` would become
/// `//evil.example`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c == ' ') =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}
