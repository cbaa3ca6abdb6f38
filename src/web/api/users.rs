//! People and their repositories in GitHub's shapes: `GET /user`,
//! `GET /users/{name}`, `GET /user/repos`, `GET /users/{name}/repos`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::doc::Api;
use super::{Page, one_of};
use crate::db;
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::github::{self, RepoFacts, Site};
use crate::web::auth::{SignedIn, Viewer};
use crate::web::repos::site;
use crate::web::{AppState, rfc3339};

pub fn routes() -> Api {
    Api::new("users")
        .get("/api/v1/user", "Get yourself", current_user)
        .get(
            "/api/v1/user/repos",
            "List your repositories and those shared with you (type, visibility, affiliation, sort)",
            mine,
        )
        .post("/api/v1/user/repos", "Create a repository", super::create_repo)
        .get("/api/v1/users/{name}", "Get a person", one)
        .get(
            "/api/v1/users/{name}/repos",
            "List a person's repositories you may see",
            repos_of,
        )
}

/// A person (`public-user`; with their e-mail and Hearth's `is_admin` when
/// it is the person asking).
fn person(conn: &rusqlite::Connection, site: &Site, user: &User, is_self: bool) -> Result<Value> {
    let public_repos: i64 = conn.query_row(
        "SELECT COUNT(*) FROM repos WHERE owner_id = ?1 AND is_private = 0",
        [user.id.0],
        |r| r.get(0),
    )?;
    let Value::Object(mut m) = github::user(site, user.id.0, &user.name, user.is_admin) else {
        unreachable!("a user is an object")
    };
    let extra = json!({
        "name": null, "company": null, "blog": "", "location": null,
        "email": if is_self { json!(user.email) } else { Value::Null },
        "hireable": null, "bio": null, "twitter_username": null,
        "public_repos": public_repos, "public_gists": 0, "followers": 0, "following": 0,
        "created_at": rfc3339(user.created_at), "updated_at": rfc3339(user.created_at),
    });
    if let Value::Object(e) = extra {
        m.extend(e);
    }
    if is_self {
        m.insert("username".into(), json!(user.name));
        m.insert("is_admin".into(), json!(user.is_admin));
    }
    Ok(Value::Object(m))
}

async fn current_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(user): SignedIn,
) -> Result<Json<Value>> {
    let site = site(&state, &headers);
    Ok(Json(state.db.read(move |c| person(c, &site, &user, true)).await?))
}

async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Viewer(viewer): Viewer,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let site = site(&state, &headers);
    Ok(Json(
        state
            .db
            .read(move |c| {
                let user = db::users::by_name(c, &name)?.ok_or(Error::NotFound)?;
                let is_self = viewer.is_some_and(|v| v.id == user.id);
                person(c, &site, &user, is_self)
            })
            .await?,
    ))
}

/// GitHub's filters of a list of repositories.
#[derive(Deserialize)]
struct RepoFilters {
    visibility: Option<String>,
    affiliation: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    sort: Option<String>,
    direction: Option<String>,
}

/// Which repositories a list keeps, and in what order.
struct Choice {
    owned: bool,
    shared: bool,
    public: bool,
    private: bool,
    sort: &'static str,
    descending: bool,
}

impl RepoFilters {
    fn choice(&self) -> Result<Choice> {
        let visibility = one_of(
            "visibility",
            self.visibility.as_deref(),
            &["all", "public", "private"],
            "all",
        )?;
        let kind = one_of(
            "type",
            self.kind.as_deref(),
            &["all", "owner", "public", "private", "member"],
            "all",
        )?;
        if self.kind.is_some() && (self.visibility.is_some() || self.affiliation.is_some()) {
            return Err(Error::Unprocessable(
                "type cannot be given with visibility or affiliation".into(),
            ));
        }
        let (mut owned, mut shared) = (true, true);
        if let Some(a) = &self.affiliation {
            (owned, shared) = (false, false);
            for part in a.split(',').map(str::trim) {
                match part {
                    "owner" => owned = true,
                    "collaborator" | "organization_member" => shared = true,
                    other => {
                        return Err(Error::Unprocessable(format!(
                            "affiliation is a list of owner, collaborator and organization_member, not {other:?}"
                        )));
                    }
                }
            }
        }
        match kind {
            "owner" => shared = false,
            "member" => owned = false,
            _ => {}
        }
        let public = visibility != "private" && kind != "private";
        let private = visibility != "public" && kind != "public";
        let sort = one_of(
            "sort",
            self.sort.as_deref(),
            &["created", "updated", "pushed", "full_name"],
            "full_name",
        )?;
        let default_direction = if sort == "full_name" { "asc" } else { "desc" };
        let direction = one_of(
            "direction",
            self.direction.as_deref(),
            &["asc", "desc"],
            default_direction,
        )?;
        Ok(Choice {
            owned,
            shared,
            public,
            private,
            sort,
            descending: direction == "desc",
        })
    }
}

/// The repositories in GitHub's shape, filtered and sorted as chosen.
fn listed(conn: &rusqlite::Connection, site: &Site, repos: Vec<(Repo, bool)>, choice: &Choice) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    for (repo, owned) in repos {
        if (owned && !choice.owned) || (!owned && !choice.shared) {
            continue;
        }
        if (repo.is_private && !choice.private) || (!repo.is_private && !choice.public) {
            continue;
        }
        let facts = RepoFacts::load(conn, &repo)?;
        rows.push((repo, facts));
    }
    rows.sort_by(|(a, fa), (b, fb)| {
        let order = match choice.sort {
            "created" => a.created_at.cmp(&b.created_at),
            "updated" | "pushed" => fa
                .pushed_at
                .unwrap_or(a.created_at)
                .cmp(&fb.pushed_at.unwrap_or(b.created_at)),
            _ => a.full_name().to_lowercase().cmp(&b.full_name().to_lowercase()),
        };
        if choice.descending { order.reverse() } else { order }
    });
    let mut out = Vec::with_capacity(rows.len());
    for (repo, facts) in rows {
        let admin = db::users::by_id(conn, repo.owner_id)?.is_some_and(|u| u.is_admin);
        let owner = github::user(site, repo.owner_id.0, &repo.owner, admin);
        out.push(github::repository(site, &repo, &owner, &facts));
    }
    Ok(out)
}

/// One page of the repositories `find` lists (each with whether it is
/// the person's own), kept and sorted as `filters` say.
async fn repo_page(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    filters: RepoFilters,
    page: Page,
    find: impl FnOnce(&rusqlite::Connection) -> Result<Vec<(Repo, bool)>> + Send + 'static,
) -> Result<Response> {
    let choice = filters.choice()?;
    let site = site(state, headers);
    let all = {
        let site = site.clone();
        state.db.read(move |c| listed(c, &site, find(c)?, &choice)).await?
    };
    Ok(page.slice(all, site.base(), uri)?.into_response())
}

/// `GET /user/repos`: the repositories of the person asking and those
/// shared with them.
async fn mine(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    SignedIn(user): SignedIn,
    Query(filters): Query<RepoFilters>,
    Query(page): Query<Page>,
) -> Result<Response> {
    repo_page(&state, &headers, &uri, filters, page, move |c| {
        let mut repos: Vec<(Repo, bool)> = db::repos::by_owner(c, user.id)?
            .into_iter()
            .map(|r| (r, true))
            .collect();
        repos.extend(db::repos::shared_with(c, user.id)?.into_iter().map(|r| (r, false)));
        Ok(repos)
    })
    .await
}

/// `GET /users/{name}/repos`: what the person asking may see of theirs.
async fn repos_of(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Viewer(viewer): Viewer,
    Path(name): Path<String>,
    Query(filters): Query<RepoFilters>,
    Query(page): Query<Page>,
) -> Result<Response> {
    repo_page(&state, &headers, &uri, filters, page, move |c| {
        let owner = db::users::by_name(c, &name)?.ok_or(Error::NotFound)?;
        let mut repos = Vec::new();
        for repo in db::repos::by_owner(c, owner.id)? {
            if crate::repos::access(c, &repo, viewer.as_ref())? >= crate::repos::Access::Read {
                repos.push((repo, true));
            }
        }
        Ok(repos)
    })
    .await
}
