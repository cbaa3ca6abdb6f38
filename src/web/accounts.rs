//! `/register`, `/login` and `/logout`. A failed sign-in says only that the
//! name or password is wrong, never which.

use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::auth::{self, CsrfForm, NoFields, SESSION_COOKIE};
use super::{AppState, Nav};
use crate::accounts;
use crate::db::users::User;
use crate::error::{Error, Result};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/register", get(register_form).post(register))
        .route("/logout", post(logout))
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/login.html")]
struct LoginView {
    nav: Nav,
    name: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(nav: Nav, Query(q): Query<NextQuery>) -> Response {
    let next = auth::safe_next(q.next.as_deref());
    if nav.user.is_some() {
        return Redirect::to(&next).into_response();
    }
    LoginView {
        nav,
        name: String::new(),
        next,
        error: None,
    }
    .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    name: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    nav: Nav,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response> {
    let next = auth::safe_next(form.next.as_deref());
    let name = form.name.trim();
    match accounts::authenticate(&state.db, &state.passwords, name, &form.password, Some(client.ip())).await? {
        Some(user) => signed_in(&state, &user, &next).await,
        None => {
            let error = Some("Wrong user name or password.".to_string());
            Ok((
                StatusCode::UNAUTHORIZED,
                LoginView {
                    nav,
                    name: form.name,
                    next,
                    error,
                },
            )
                .into_response())
        }
    }
}

async fn signed_in(state: &AppState, user: &User, next: &str) -> Result<Response> {
    let secret = accounts::start_session(&state.db, user.id).await?;
    let mut response = Redirect::to(next).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        auth::session_cookie(state, &secret, accounts::SESSION_SECONDS),
    );
    Ok(response)
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/register.html")]
struct RegisterView {
    nav: Nav,
    /// Nobody may register here: the page says so, with no form.
    closed: bool,
    first: bool,
    name: String,
    email: String,
    error: Option<String>,
}

async fn register_form(State(state): State<AppState>, nav: Nav) -> Result<Response> {
    if nav.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let first = state.db.read(crate::db::users::count).await? == 0;
    let closed = !nav.can_register;
    let view = RegisterView {
        nav,
        closed,
        first,
        name: String::new(),
        email: String::new(),
        error: None,
    };
    Ok(match closed {
        true => (StatusCode::FORBIDDEN, view).into_response(),
        false => view.into_response(),
    })
}

#[derive(Deserialize)]
struct RegisterForm {
    name: String,
    #[serde(default)]
    email: String,
    password: String,
}

async fn register(State(state): State<AppState>, nav: Nav, CsrfForm(form): CsrfForm<RegisterForm>) -> Result<Response> {
    let name = form.name.trim();
    match accounts::create_user(
        &state.db,
        &state.passwords,
        name,
        Some(&form.email),
        &form.password,
        accounts::Maker::Themselves {
            only_first: !state.config.registration_open,
        },
    )
    .await
    {
        Ok(user) => signed_in(&state, &user, "/").await,
        Err(e @ (Error::Invalid(_) | Error::Exists(_) | Error::Forbidden(_))) => {
            let status = super::error::status_of(&e);
            let first = state.db.read(crate::db::users::count).await? == 0;
            let view = RegisterView {
                closed: matches!(e, Error::Forbidden(_)),
                nav,
                first,
                name: name.to_string(),
                email: form.email,
                error: Some(capitalize(&e.to_string())),
            };
            Ok((status, view).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response> {
    if let Some(secret) = auth::cookie(&headers, SESSION_COOKIE) {
        accounts::end_session(&state.db, secret).await?;
    }
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, auth::session_cookie(&state, "", 0));
    Ok(response)
}

/// "the name is taken" → "The name is taken."
pub fn capitalize(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
