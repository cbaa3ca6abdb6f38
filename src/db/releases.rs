//! The `releases` and `release_assets` tables, and `published_docs`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::repos::RepoId;
use super::users::UserId;
use crate::error::{Error, Result};
use crate::ids::RunId;

crate::ids::integer_id!(
    /// A release's id: unique in the server.
    ReleaseId
);
crate::ids::integer_id!(
    /// A release asset's id: unique in the server.
    AssetId
);

/// Assets one release may have.
pub const MAX_ASSETS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub id: ReleaseId,
    pub repo_id: RepoId,
    pub tag_name: String,
    pub target_commitish: String,
    pub name: String,
    pub body: String,
    pub draft: bool,
    pub prerelease: bool,
    pub author: Option<String>,
    pub run_id: Option<RunId>,
    pub created_at: i64,
    pub published_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    pub id: AssetId,
    pub release_id: ReleaseId,
    pub name: String,
    pub label: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub download_count: i64,
    pub uploader: Option<String>,
    pub created_at: i64,
}

const SELECT: &str = "SELECT r.id, r.repo_id, r.tag_name, r.target_commitish, r.name, r.body, r.draft,
    r.prerelease, u.name, r.run_id, r.created_at, r.published_at
    FROM releases r LEFT JOIN users u ON u.id = r.author_id";

fn from_row(r: &Row) -> rusqlite::Result<Release> {
    Ok(Release {
        id: r.get(0)?,
        repo_id: RepoId(r.get(1)?),
        tag_name: r.get(2)?,
        target_commitish: r.get(3)?,
        name: r.get(4)?,
        body: r.get(5)?,
        draft: r.get(6)?,
        prerelease: r.get(7)?,
        author: r.get(8)?,
        run_id: r.get(9)?,
        created_at: r.get(10)?,
        published_at: r.get(11)?,
    })
}

/// What a new release, or a change to one, says.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pub name: String,
    pub body: String,
    pub draft: bool,
    pub prerelease: bool,
}

/// Makes the release of tag `tag` (at commit `sha`); `Exists` when the
/// repository has one already.
pub fn create(
    conn: &Connection,
    repo: RepoId,
    tag: &str,
    sha: &str,
    fields: &Fields,
    author: Option<UserId>,
    run: Option<RunId>,
) -> Result<Release> {
    if by_tag(conn, repo, tag)?.is_some() {
        return Err(Error::Exists(format!("a release of tag {tag} exists already")));
    }
    let now = crate::time::now();
    conn.execute(
        "INSERT INTO releases (repo_id, tag_name, target_commitish, name, body, draft, prerelease, author_id,
             run_id, created_at, published_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            repo.0,
            tag,
            sha,
            fields.name,
            fields.body,
            fields.draft,
            fields.prerelease,
            author.map(|u| u.0),
            run,
            now,
            (!fields.draft).then_some(now)
        ],
    )?;
    let id = ReleaseId(conn.last_insert_rowid());
    super::hooks::note(conn, repo, "release", Some("created"), id.0, author, None)?;
    if !fields.draft {
        super::hooks::note(conn, repo, "release", Some("published"), id.0, author, None)?;
    }
    Ok(by_id(conn, repo, id)?.expect("just inserted"))
}

/// Changes a release's words and flags; publishing a draft dates it.
pub fn update(conn: &Connection, id: ReleaseId, fields: &Fields) -> Result<()> {
    let (repo, was_draft): (i64, bool) =
        conn.query_row("SELECT repo_id, draft FROM releases WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let repo = RepoId(repo);
    super::hooks::note(conn, repo, "release", Some("edited"), id.0, None, None)?;
    if was_draft && !fields.draft {
        super::hooks::note(conn, repo, "release", Some("published"), id.0, None, None)?;
    }
    conn.execute(
        "UPDATE releases SET name = ?2, body = ?3, draft = ?4, prerelease = ?5,
             published_at = CASE WHEN ?4 THEN NULL ELSE coalesce(published_at, ?6) END
         WHERE id = ?1",
        params![
            id,
            fields.name,
            fields.body,
            fields.draft,
            fields.prerelease,
            crate::time::now()
        ],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: ReleaseId) -> Result<bool> {
    Ok(conn.execute("DELETE FROM releases WHERE id = ?1", [id])? > 0)
}

pub fn by_id(conn: &Connection, repo: RepoId, id: ReleaseId) -> Result<Option<Release>> {
    let sql = format!("{SELECT} WHERE r.repo_id = ?1 AND r.id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![repo.0, id], from_row)
        .optional()?)
}

pub fn by_tag(conn: &Connection, repo: RepoId, tag: &str) -> Result<Option<Release>> {
    let sql = format!("{SELECT} WHERE r.repo_id = ?1 AND r.tag_name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![repo.0, tag], from_row)
        .optional()?)
}

/// The newest published release that is not a prerelease (GitHub's "latest").
pub fn latest(conn: &Connection, repo: RepoId) -> Result<Option<Release>> {
    let sql = format!(
        "{SELECT} WHERE r.repo_id = ?1 AND NOT r.draft AND NOT r.prerelease ORDER BY r.published_at DESC, r.id DESC LIMIT 1"
    );
    Ok(conn.prepare_cached(&sql)?.query_row([repo.0], from_row).optional()?)
}

/// Releases of `repo`, newest first; drafts only when `drafts`.
pub fn list(conn: &Connection, repo: RepoId, drafts: bool, limit: u32, offset: u32) -> Result<Vec<Release>> {
    let sql = format!(
        "{SELECT} WHERE r.repo_id = ?1 AND (?2 OR NOT r.draft) ORDER BY r.id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![repo.0, drafts], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn count(conn: &Connection, repo: RepoId, drafts: bool) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM releases WHERE repo_id = ?1 AND (?2 OR NOT draft)",
        params![repo.0, drafts],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

const ASSET_SELECT: &str = "SELECT a.id, a.release_id, a.name, a.label, a.content_type, a.size, a.sha256,
    a.download_count, u.name, a.created_at
    FROM release_assets a LEFT JOIN users u ON u.id = a.uploader_id";

fn asset_from_row(r: &Row) -> rusqlite::Result<Asset> {
    Ok(Asset {
        id: r.get(0)?,
        release_id: r.get(1)?,
        name: r.get(2)?,
        label: r.get(3)?,
        content_type: r.get(4)?,
        size: r.get(5)?,
        sha256: r.get(6)?,
        download_count: r.get(7)?,
        uploader: r.get(8)?,
        created_at: r.get(9)?,
    })
}

/// A new asset of release `id`, or the one of that name replaced.
#[allow(clippy::too_many_arguments)]
pub fn put_asset(
    conn: &Connection,
    id: ReleaseId,
    name: &str,
    label: &str,
    content_type: &str,
    size: u64,
    sha256: &str,
    uploader: Option<UserId>,
) -> Result<Asset> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM release_assets WHERE release_id = ?1 AND name != ?2",
        params![id, name],
        |r| r.get(0),
    )?;
    if n as usize >= MAX_ASSETS {
        return Err(Error::TooLarge(format!("a release has at most {MAX_ASSETS} assets")));
    }
    conn.execute(
        "INSERT INTO release_assets (release_id, name, label, content_type, size, sha256, uploader_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (release_id, name) DO UPDATE SET label = excluded.label, content_type = excluded.content_type,
             size = excluded.size, sha256 = excluded.sha256, uploader_id = excluded.uploader_id,
             created_at = excluded.created_at, download_count = 0",
        params![
            id,
            name,
            label,
            content_type,
            size as i64,
            sha256,
            uploader.map(|u| u.0),
            crate::time::now()
        ],
    )?;
    let sql = format!("{ASSET_SELECT} WHERE a.release_id = ?1 AND a.name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id, name], asset_from_row)?)
}

pub fn assets(conn: &Connection, id: ReleaseId) -> Result<Vec<Asset>> {
    let sql = format!("{ASSET_SELECT} WHERE a.release_id = ?1 ORDER BY a.name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([id], asset_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Asset `id`, if it belongs to a release of `repo`.
pub fn asset(conn: &Connection, repo: RepoId, id: AssetId) -> Result<Option<Asset>> {
    let sql = format!("{ASSET_SELECT} JOIN releases r ON r.id = a.release_id WHERE r.repo_id = ?1 AND a.id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![repo.0, id], asset_from_row)
        .optional()?)
}

pub fn delete_asset(conn: &Connection, id: AssetId) -> Result<bool> {
    Ok(conn.execute("DELETE FROM release_assets WHERE id = ?1", [id])? > 0)
}

pub fn downloaded(conn: &Connection, id: AssetId) -> Result<()> {
    conn.execute(
        "UPDATE release_assets SET download_count = download_count + 1 WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// What a repository's documentation is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Docs {
    pub sha256: String,
    pub files: i64,
    pub run_id: Option<RunId>,
    pub commit_sha: String,
    pub published_at: i64,
}

pub fn publish_docs(conn: &Connection, repo: RepoId, sha256: &str, files: u64, run: RunId, commit: &str) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO published_docs (repo_id, sha256, files, run_id, commit_sha, published_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![repo.0, sha256, files as i64, run, commit, crate::time::now()],
    )?;
    Ok(())
}

pub fn docs(conn: &Connection, repo: RepoId) -> Result<Option<Docs>> {
    Ok(conn
        .query_row(
            "SELECT sha256, files, run_id, commit_sha, published_at FROM published_docs WHERE repo_id = ?1",
            [repo.0],
            |r| {
                Ok(Docs {
                    sha256: r.get(0)?,
                    files: r.get(1)?,
                    run_id: r.get(2)?,
                    commit_sha: r.get(3)?,
                    published_at: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// Who pushed what started run `run`, when a push did.
pub fn run_pusher(conn: &Connection, run: RunId) -> Result<Option<UserId>> {
    Ok(conn
        .query_row(
            "SELECT u.pusher_id FROM runs r JOIN ref_updates u ON u.id = r.ref_update_id WHERE r.id = ?1",
            [run],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten()
        .map(UserId))
}
