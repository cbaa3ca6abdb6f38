//! Repository pages: `/new`, a user's profile `/{owner}`, a repository's
//! page `/{owner}/{repo}` and its settings (collaborators).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::access::{Admin, RepoAccess};
use super::accounts::capitalize;
use super::auth::{CsrfForm, NoFields, SignedIn};
use super::{AppState, Nav, ago};
use crate::db::collaborators::{Collaborator, Permission};
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::repos;
use crate::repos::Access;
use crate::{db, repos::is_valid_user_name};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/new", get(new_form).post(create))
        .route("/{owner}", get(profile))
        .route("/{owner}/{repo}/settings", get(settings))
        .route("/{owner}/{repo}/settings/collaborators", post(add_collaborator))
        .route(
            "/{owner}/{repo}/settings/collaborators/{user}/remove",
            post(remove_collaborator),
        )
}

/// The URL git clones from, e.g. `http://host:3000/alice/demo.git`.
pub fn clone_url(state: &AppState, headers: &HeaderMap, repo: &Repo) -> String {
    format!("{}/{}/{}.git", site(state, headers).base(), repo.owner, repo.name)
}

/// This server as the client reached it: `--base-url`, or the request's host.
pub fn site(state: &AppState, headers: &HeaderMap) -> crate::github::Site {
    match &state.config.base_url {
        Some(b) => crate::github::Site::new(b.clone()),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            crate::github::Site::new(format!("http://{host}"))
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "repos/new.html")]
struct NewView {
    nav: Nav,
    owner: String,
    name: String,
    description: String,
    private: bool,
    error: Option<String>,
}

async fn new_form(SignedIn(user): SignedIn, nav: Nav) -> NewView {
    NewView {
        nav,
        owner: user.name,
        name: String::new(),
        description: String::new(),
        private: false,
        error: None,
    }
}

#[derive(Deserialize)]
struct NewForm {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: String,
}

async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    CsrfForm(form): CsrfForm<NewForm>,
) -> Result<Response> {
    let private = form.visibility == "private";
    let name = form.name.trim();
    match repos::create(
        &state.db,
        &state.config.data_dir,
        &user,
        name,
        &form.description,
        private,
    )
    .await
    {
        Ok(repo) => Ok(Redirect::to(&repo.url()).into_response()),
        Err(e @ (Error::Invalid(_) | Error::Exists(_))) => {
            let status = if matches!(e, Error::Exists(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            let view = NewView {
                nav,
                owner: user.name,
                name: name.to_string(),
                description: form.description,
                private,
                error: Some(capitalize(&e.to_string())),
            };
            Ok((status, view).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "users/profile.html")]
struct ProfileView {
    nav: Nav,
    owner: User,
    joined: String,
    repos: Vec<Repo>,
}

async fn profile(State(state): State<AppState>, nav: Nav, Path(owner): Path<String>) -> Result<ProfileView> {
    if !is_valid_user_name(&owner) {
        return Err(Error::NotFound);
    }
    let owner = state
        .db
        .read(move |c| db::users::by_name(c, &owner))
        .await?
        .ok_or(Error::NotFound)?;
    let repos = repos::visible_repos(&state.db, &owner, nav.user.as_ref()).await?;
    Ok(ProfileView {
        nav,
        joined: ago(owner.created_at),
        owner,
        repos,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "repos/settings.html")]
struct SettingsView {
    nav: Nav,
    header: RepoHeader,
    collaborators: Vec<Collaborator>,
    error: Option<String>,
    notice: Option<String>,
}

async fn settings_view(
    state: &AppState,
    nav: Nav,
    repo: Repo,
    error: Option<String>,
    notice: Option<String>,
) -> Result<SettingsView> {
    let id = repo.id;
    let collaborators = state.db.read(move |c| db::collaborators::list(c, id)).await?;
    Ok(SettingsView {
        nav,
        header: RepoHeader::new(repo, Access::Admin, Tab::Settings),
        collaborators,
        error,
        notice,
    })
}

async fn settings(State(state): State<AppState>, nav: Nav, access: RepoAccess<Admin>) -> Result<SettingsView> {
    settings_view(&state, nav, access.repo, None, None).await
}

#[derive(Deserialize)]
struct CollaboratorForm {
    name: String,
    permission: String,
}

async fn add_collaborator(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Admin>,
    CsrfForm(form): CsrfForm<CollaboratorForm>,
) -> Result<Response> {
    let result = match Permission::parse(&form.permission) {
        Some(p) => repos::add_collaborator(&state.db, &access.repo, &form.name, p).await,
        None => Err(Error::invalid("access must be read or write")),
    };
    match result {
        Ok(()) => {
            let notice = format!("{} now has {} access.", form.name.trim(), form.permission);
            Ok(settings_view(&state, nav, access.repo, None, Some(notice))
                .await?
                .into_response())
        }
        Err(Error::Invalid(m)) => {
            let view = settings_view(&state, nav, access.repo, Some(capitalize(&m)), None).await?;
            Ok((StatusCode::BAD_REQUEST, view).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn remove_collaborator(
    State(state): State<AppState>,
    Path((_, _, user)): Path<(String, String, String)>,
    access: RepoAccess<Admin>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Redirect> {
    repos::remove_collaborator(&state.db, &access.repo, &user).await?;
    Ok(Redirect::to(&format!(
        "/{}/{}/settings",
        access.repo.owner, access.repo.name
    )))
}

/// The header of every page of a repository: which one, its tabs, and
/// whether the viewer sees Settings. Pages' views hold one; their
/// templates extend `repos/base.html`.
pub struct RepoHeader {
    pub repo: Repo,
    can_admin: bool,
    tab: Tab,
    /// Whether the signed-in viewer watches the repository, on the pages
    /// that show the Watch button (its home page).
    pub watching: Option<bool>,
}

/// The tabs of a repository's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Code,
    Commits,
    Issues,
    Pulls,
    Runs,
    Environments,
    Releases,
    Insights,
    Branches,
    Tags,
    Settings,
}

impl RepoHeader {
    pub fn new(repo: Repo, access: Access, tab: Tab) -> RepoHeader {
        RepoHeader {
            repo,
            can_admin: access >= Access::Admin,
            tab,
            watching: None,
        }
    }

    /// With the Watch button, for a signed-in `viewer`.
    pub async fn with_watch(mut self, state: &AppState, viewer: Option<&crate::db::users::User>) -> Result<RepoHeader> {
        if let Some(user) = viewer.map(|u| u.id) {
            let repo = self.repo.id;
            let since = state
                .db
                .read(move |c| crate::db::notifications::watching(c, user, repo))
                .await?;
            self.watching = Some(since.is_some());
        }
        Ok(self)
    }

    /// Each tab the viewer sees: its link, its label, and whether it is this page's.
    pub fn tabs(&self) -> Vec<(String, &'static str, bool)> {
        let base = self.repo.url();
        let all = [
            (Tab::Code, "", "Code"),
            (Tab::Commits, "/commits", "Commits"),
            (Tab::Issues, "/issues", "Issues"),
            (Tab::Pulls, "/pulls", "Pull requests"),
            (Tab::Runs, "/runs", "Runs"),
            (Tab::Environments, "/environments", "Environments"),
            (Tab::Releases, "/releases", "Releases"),
            (Tab::Insights, "/insights", "Insights"),
            (Tab::Branches, "/branches", "Branches"),
            (Tab::Tags, "/tags", "Tags"),
            (Tab::Settings, "/settings", "Settings"),
        ];
        all.into_iter()
            .filter(|(tab, _, _)| *tab != Tab::Settings || self.can_admin)
            .map(|(tab, path, label)| (format!("{base}{path}"), label, tab == self.tab))
            .collect()
    }
}
