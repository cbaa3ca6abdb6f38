//! `/{owner}/{repo}/releases`: the releases runs published from tags (or
//! that people made through the API), newest first, with their notes and
//! downloadable assets; `/releases/tag/{tag}` (also `/releases/{tag}`) one
//! of them; `/releases/download/{tag}/{name}` an asset.

use super::*;
use crate::db::releases::{self, Asset, Release};

/// Releases the list shows.
const PER_PAGE: u32 = 20;

pub struct ReleaseItem {
    pub release: Release,
    pub notes: String,
    pub when: String,
    pub assets: Vec<(Asset, String)>,
    pub run_number: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/releases.html")]
pub struct ReleasesView {
    nav: Nav,
    header: RepoHeader,
    releases: Vec<ReleaseItem>,
    /// One release's page.
    single: bool,
}

fn item(c: &rusqlite::Connection, repo: &Repo, r: Release) -> Result<ReleaseItem> {
    let assets = releases::assets(c, r.id)?
        .into_iter()
        .map(|a| {
            let s = crate::web::code::tree::size(a.size.max(0) as u64);
            (a, s)
        })
        .collect();
    let run_number = match r.run_id {
        Some(run) => runs::by_id(c, repo.id, run)?.map(|r| r.run_number.0),
        None => None,
    };
    Ok(ReleaseItem {
        notes: crate::markup::markdown(&r.body, None),
        when: ago(r.published_at.unwrap_or(r.created_at)),
        assets,
        run_number,
        release: r,
    })
}

pub(super) async fn releases_page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
) -> Result<ReleasesView> {
    let (repo, drafts) = (access.repo.clone(), access.access >= Access::Write);
    let list = state
        .db
        .read(move |c| {
            releases::list(c, repo.id, drafts, PER_PAGE, 0)?
                .into_iter()
                .map(|r| item(c, &repo, r))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    Ok(ReleasesView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Releases),
        releases: list,
        single: false,
    })
}

pub(super) async fn release_page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path((_, _, tag)): Path<(String, String, String)>,
) -> Result<ReleasesView> {
    let (repo, drafts) = (access.repo.clone(), access.access >= Access::Write);
    let found = state
        .db
        .read(move |c| {
            let r = releases::by_tag(c, repo.id, &tag)?.filter(|r| drafts || !r.draft);
            r.map(|r| item(c, &repo, r)).transpose()
        })
        .await?
        .ok_or(Error::NotFound)?;
    Ok(ReleasesView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Releases),
        releases: vec![found],
        single: true,
    })
}

/// `/releases/download/{tag}/{name}`: the asset's bytes.
pub(super) async fn download(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path((_, _, rest)): Path<(String, String, String)>,
) -> Result<axum::response::Response> {
    let (tag, name) = rest.rsplit_once('/').ok_or(Error::NotFound)?;
    let (tag, name) = (tag.to_string(), name.to_string());
    let (repo, drafts) = (access.repo.id, access.access >= Access::Write);
    let asset = state
        .db
        .read(move |c| {
            let r = releases::by_tag(c, repo, &tag)?
                .filter(|r| drafts || !r.draft)
                .ok_or(Error::NotFound)?;
            Ok(releases::assets(c, r.id)?.into_iter().find(|a| a.name == name))
        })
        .await?
        .ok_or(Error::NotFound)?;
    crate::web::api::releases::download(&state, &asset).await
}
