//! `/settings/tokens`: list, create and revoke personal access tokens. A new
//! token is shown once, in the answer to the form that created it.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::auth::{CsrfForm, NoFields, SignedIn};
use super::{AppState, Nav, ago};
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::{accounts, db};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/tokens", get(list).post(create))
        .route("/settings/tokens/{id}/revoke", post(revoke))
}

struct TokenRow {
    id: i64,
    label: String,
    hint: String,
    created: String,
    last_used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings/tokens.html")]
struct View {
    nav: Nav,
    tokens: Vec<TokenRow>,
    created: Option<String>,
    error: Option<String>,
}

async fn view(state: &AppState, nav: Nav, user: &User, created: Option<String>, error: Option<String>) -> Result<View> {
    let id = user.id;
    let tokens = state.db.read(move |c| db::tokens::list(c, id)).await?;
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            label: t.label,
            hint: t.hint,
            created: ago(t.created_at),
            last_used: t.last_used_at.map(ago).unwrap_or_else(|| "never".into()),
        })
        .collect();
    Ok(View {
        nav,
        tokens,
        created,
        error,
    })
}

async fn list(State(state): State<AppState>, SignedIn(user): SignedIn, nav: Nav) -> Result<View> {
    view(&state, nav, &user, None, None).await
}

#[derive(Deserialize)]
struct CreateForm {
    label: String,
}

async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response> {
    match accounts::create_token(&state.db, user.id, &form.label).await {
        Ok(token) => Ok(view(&state, nav, &user, Some(token), None).await?.into_response()),
        Err(Error::Invalid(m)) => {
            Ok((StatusCode::BAD_REQUEST, view(&state, nav, &user, None, Some(m)).await?).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn revoke(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Redirect> {
    let uid = user.id;
    if !state.db.write(move |tx| db::tokens::delete(tx, uid, id)).await? {
        return Err(Error::NotFound);
    }
    Ok(Redirect::to("/settings/tokens"))
}
