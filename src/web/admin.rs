//! `/admin/users`: the site's accounts, and the form with which an
//! administrator makes a new one (registration is closed by default).
//! Anyone else is told there is nothing here.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::auth::{CsrfForm, SignedIn};
use super::{AppState, Nav, ago};
use crate::accounts;
use crate::db::users::User;
use crate::error::{Error, Result};

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/users", get(list).post(create))
}

struct UserRow {
    user: User,
    joined: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.html")]
struct View {
    nav: Nav,
    users: Vec<UserRow>,
    registration_open: bool,
    /// The account just made.
    created: Option<String>,
    error: Option<String>,
    /// The form as sent, when it is shown again with its error.
    name: String,
    email: String,
}

/// The signed-in user, if a site administrator; for anyone else the page does not exist.
fn admin(user: User) -> Result<User> {
    if user.is_admin { Ok(user) } else { Err(Error::NotFound) }
}

async fn view(state: &AppState, nav: Nav) -> Result<View> {
    let users = state.db.read(crate::db::users::all).await?;
    Ok(View {
        nav,
        users: users
            .into_iter()
            .map(|user| UserRow {
                joined: ago(user.created_at),
                user,
            })
            .collect(),
        registration_open: state.config.registration_open,
        created: None,
        error: None,
        name: String::new(),
        email: String::new(),
    })
}

async fn list(State(state): State<AppState>, SignedIn(user): SignedIn, nav: Nav) -> Result<View> {
    admin(user)?;
    view(&state, nav).await
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    #[serde(default)]
    email: String,
    password: String,
    /// The checkbox: present when ticked.
    admin: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response> {
    admin(user)?;
    let made = accounts::create_user(
        &state.db,
        &state.passwords,
        form.name.trim(),
        Some(&form.email),
        &form.password,
        accounts::Maker::Admin {
            admin: form.admin.is_some(),
        },
    )
    .await;
    match made {
        Ok(user) => {
            let mut page = view(&state, nav).await?;
            page.created = Some(user.name);
            Ok((StatusCode::CREATED, page).into_response())
        }
        Err(e @ (Error::Invalid(_) | Error::Exists(_))) => {
            let status = super::error::status_of(&e);
            let mut page = view(&state, nav).await?;
            page.error = Some(e.to_string());
            page.name = form.name;
            page.email = form.email;
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}
