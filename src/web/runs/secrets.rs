//! `/{owner}/{repo}/settings/secrets`: names of the repository's secrets;
//! writers add, replace and delete them. Values are never shown.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "runs/secrets.html")]
pub struct SecretsView {
    nav: Nav,
    header: RepoHeader,
    names: Vec<(String, String)>,
    error: Option<String>,
}

async fn secrets_view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Write>,
    error: Option<String>,
) -> Result<SecretsView> {
    let id = access.repo.id;
    let list = state.db.read(move |c| crate::db::secrets::all(c, id)).await?;
    Ok(SecretsView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Settings),
        names: list.into_iter().map(|s| (s.name, ago(s.updated_at))).collect(),
        error,
    })
}

/// `/{owner}/{repo}/settings/secrets`: names and when they changed; a
/// value is never shown again once saved.
pub(super) async fn secrets_page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Write>,
) -> Result<SecretsView> {
    secrets_view(&state, nav, access, None).await
}

#[derive(serde::Deserialize)]
pub struct SecretForm {
    name: String,
    value: String,
}

pub(super) async fn add_secret(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Write>,
    CsrfForm(form): CsrfForm<SecretForm>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    match crate::ci::secrets::put(&state.db, &state.keys, access.repo.id, &form.name, &form.value).await {
        Ok(_) => Ok(axum::response::Redirect::to(&format!(
            "/{}/{}/settings/secrets",
            access.repo.owner, access.repo.name
        ))
        .into_response()),
        Err(e @ (Error::Invalid(_) | Error::TooLarge(_))) => {
            let view = secrets_view(
                &state,
                nav,
                access,
                Some(crate::web::accounts::capitalize(&e.to_string())),
            )
            .await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, view).into_response())
        }
        Err(e) => Err(e),
    }
}

pub(super) async fn delete_secret(
    State(state): State<AppState>,
    Path((_, _, name)): Path<(String, String, String)>,
    access: RepoAccess<Write>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<axum::response::Redirect> {
    let id = access.repo.id;
    if !state
        .db
        .write(move |tx| crate::db::secrets::delete(tx, id, &name))
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok(axum::response::Redirect::to(&format!(
        "/{}/{}/settings/secrets",
        access.repo.owner, access.repo.name
    )))
}
