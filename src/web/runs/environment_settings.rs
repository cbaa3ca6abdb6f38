//! `/{owner}/{repo}/settings/environments`: the repository's admins add
//! environments and set who must approve a deployment, how long one waits,
//! and which branches and tags may deploy.

use super::*;
use crate::db::environments;
use crate::delivery as deploy;
use crate::repos::Access as Level;
use crate::web::access::Admin;

pub struct EnvironmentForm {
    pub name: String,
    pub reviewers: String,
    pub wait_timer: i64,
    pub branches: String,
    pub tags: String,
    /// Secret names and when each changed.
    pub secrets: Vec<(String, String)>,
    pub variables: Vec<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/environment_settings.html")]
pub struct EnvironmentSettingsView {
    nav: Nav,
    header: RepoHeader,
    environments: Vec<EnvironmentForm>,
    error: Option<String>,
}

async fn settings_view(
    state: &AppState,
    nav: Nav,
    repo: Repo,
    error: Option<String>,
) -> Result<EnvironmentSettingsView> {
    let id = repo.id;
    let environments = state
        .db
        .read(move |c| {
            let mut out = Vec::new();
            for e in environments::list(c, id)? {
                let policies = environments::branch_policies(c, e.id)?;
                let of = |kind: &str| {
                    policies
                        .iter()
                        .filter(|p| p.kind == kind)
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                out.push(EnvironmentForm {
                    reviewers: environments::reviewers(c, e.id)?
                        .into_iter()
                        .map(|u| u.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                    wait_timer: e.wait_timer,
                    branches: of("branch"),
                    tags: of("tag"),
                    secrets: environments::secrets(c, e.id)?
                        .into_iter()
                        .map(|s| (s.name, ago(s.updated_at)))
                        .collect(),
                    variables: environments::variables(c, e.id)?
                        .into_iter()
                        .map(|v| (v.name, v.value))
                        .collect(),
                    name: e.name,
                });
            }
            Ok(out)
        })
        .await?;
    Ok(EnvironmentSettingsView {
        nav,
        header: RepoHeader::new(repo, Level::Admin, Tab::Settings),
        environments,
        error,
    })
}

pub(super) async fn settings_page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
) -> Result<EnvironmentSettingsView> {
    settings_view(&state, nav, access.repo, None).await
}

#[derive(serde::Deserialize)]
pub struct NewEnvironment {
    name: String,
}

#[derive(serde::Deserialize)]
pub struct Protection {
    #[serde(default)]
    reviewers: String,
    #[serde(default)]
    wait_timer: String,
    #[serde(default)]
    branches: String,
    #[serde(default)]
    tags: String,
}

fn back(repo: &Repo) -> axum::response::Response {
    use axum::response::IntoResponse;
    axum::response::Redirect::to(&format!("{}/settings/environments", repo.url())).into_response()
}

/// The page again with what was wrong, or back to it when all went well.
async fn answer(state: &AppState, nav: Nav, repo: Repo, done: Result<()>) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    match done {
        Ok(()) => Ok(back(&repo)),
        Err(e @ (Error::Invalid(_) | Error::Exists(_) | Error::TooLarge(_))) => {
            let status = crate::web::error::status_of(&e);
            let view = settings_view(state, nav, repo, Some(crate::web::accounts::capitalize(&e.to_string()))).await?;
            Ok((status, view).into_response())
        }
        Err(e) => Err(e),
    }
}

pub(super) async fn add_environment(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    CsrfForm(form): CsrfForm<NewEnvironment>,
) -> Result<axum::response::Response> {
    let id = access.repo.id;
    let done = match deploy::check_name(&form.name) {
        Ok(name) => {
            state
                .db
                .write(move |tx| {
                    if environments::by_name(tx, id, &name)?.is_some() {
                        return Err(Error::Exists(format!("there is an environment named {name:?} already")));
                    }
                    environments::get_or_create(tx, id, &name).map(|_| ())
                })
                .await
        }
        Err(e) => Err(e),
    };
    answer(&state, nav, access.repo, done).await
}

/// Saves an environment's protection: reviewers by name (comma-separated),
/// the wait timer in minutes, and branch and tag patterns one per line.
pub(super) async fn save_environment(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    Path((_, _, name)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<Protection>,
) -> Result<axum::response::Response> {
    let repo = access.repo.clone();
    let done = state
        .db
        .write(move |tx| {
            let env = environments::by_name(tx, repo.id, &name)?.ok_or(Error::NotFound)?;
            let wait_timer: i64 = match form.wait_timer.trim() {
                "" => 0,
                t => t
                    .parse()
                    .ok()
                    .filter(|t| (0..=deploy::MAX_WAIT_TIMER).contains(t))
                    .ok_or_else(|| {
                        Error::invalid(format!("the wait timer is 0 to {} minutes", deploy::MAX_WAIT_TIMER))
                    })?,
            };
            let names: Vec<&str> = form
                .reviewers
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect();
            if names.len() > deploy::MAX_REVIEWERS {
                return Err(Error::invalid(format!("at most {} reviewers", deploy::MAX_REVIEWERS)));
            }
            let mut reviewers = Vec::new();
            for n in names {
                let user = crate::db::users::by_name(tx, n)?
                    .ok_or_else(|| Error::invalid(format!("reviewers: there is no user named {n:?}")))?;
                deploy::check_reviewer(tx, &repo, &user)?;
                reviewers.push(user.id);
            }
            let mut patterns = Vec::new();
            for (text, kind) in [(&form.branches, "branch"), (&form.tags, "tag")] {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    patterns.push((deploy::check_pattern(line)?, kind.to_string()));
                }
            }
            if patterns.len() > environments::MAX_PER_ENVIRONMENT {
                return Err(Error::invalid(format!(
                    "at most {} branch and tag patterns",
                    environments::MAX_PER_ENVIRONMENT
                )));
            }
            environments::set_wait_timer(tx, env.id, wait_timer)?;
            environments::set_reviewers(tx, env.id, &reviewers)?;
            environments::set_branch_policies(tx, env.id, &patterns)
        })
        .await;
    answer(&state, nav, access.repo, done).await
}

#[derive(serde::Deserialize)]
pub struct NameValue {
    name: String,
    value: String,
}

/// The environment `name` of `repo`, or 404.
async fn environment(state: &AppState, repo: &Repo, name: String) -> Result<environments::Environment> {
    let id = repo.id;
    state
        .db
        .read(move |c| environments::by_name(c, id, &name))
        .await?
        .ok_or(Error::NotFound)
}

/// Adds or replaces a secret of an environment; its value is never shown.
pub(super) async fn put_secret(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    Path((_, _, name)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<NameValue>,
) -> Result<axum::response::Response> {
    let env = environment(&state, &access.repo, name).await?;
    let done = crate::ci::secrets::put_for_environment(
        &state.db,
        &state.keys,
        access.repo.id,
        env.id,
        &form.name,
        &form.value,
    )
    .await
    .map(|_| ());
    answer(&state, nav, access.repo, done).await
}

/// Adds or replaces a variable of an environment (`${{ vars.NAME }}`).
pub(super) async fn put_variable(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    Path((_, _, name)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<NameValue>,
) -> Result<axum::response::Response> {
    let env = environment(&state, &access.repo, name).await?;
    let done = match crate::ci::secrets::check_variable(&form.name, &form.value) {
        Ok(variable) => {
            state
                .db
                .write(move |tx| environments::put_variable(tx, env.id, &variable, &form.value).map(|_| ()))
                .await
        }
        Err(e) => Err(e),
    };
    answer(&state, nav, access.repo, done).await
}

pub(super) async fn delete_secret(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name, secret)): Path<(String, String, String, String)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<axum::response::Response> {
    delete_named(&state, access.repo, name, environments::Named::Secret, secret).await
}

pub(super) async fn delete_variable(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name, variable)): Path<(String, String, String, String)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<axum::response::Response> {
    delete_named(&state, access.repo, name, environments::Named::Variable, variable).await
}

/// The Delete button of a secret or variable: back to the page, or 404.
async fn delete_named(
    state: &AppState,
    repo: Repo,
    env: String,
    what: environments::Named,
    item: String,
) -> Result<axum::response::Response> {
    let env = environment(state, &repo, env).await?;
    if !state
        .db
        .write(move |tx| environments::delete_named(tx, env.id, what, &item))
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok(back(&repo))
}
