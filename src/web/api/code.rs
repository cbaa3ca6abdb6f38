//! A repository's code in GitHub's shapes: `…/branches[/{branch}]`,
//! `…/tags`, `…/commits[/{ref}]` and `…/contents/{path}`. Read with gix on
//! the blocking pool; every list is paged with `Link`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::doc::Api;
use super::{Page, Paged};
use crate::db;
use crate::error::{Error, Result};
use crate::git::read::{self, CommitInfo, EntryKind, Found, RefEntry};
use crate::github::{self, Site};
use crate::web::AppState;
use crate::web::access::{Read, RepoAccess};
use crate::web::code::{default_ref, with_repo};
use crate::web::repos::site;

pub fn routes() -> Api {
    Api::new("code")
        .get(
            "/api/v1/repos/{owner}/{repo}/branches",
            "List branches (protected)",
            branches,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/branches/{branch}",
            "Get a branch, its tip and its protection",
            branch,
        )
        .get("/api/v1/repos/{owner}/{repo}/tags", "List tags", tags)
        .get(
            "/api/v1/repos/{owner}/{repo}/commits",
            "List commits (sha, path, author, since, until)",
            commits,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/commits/{ref}",
            "Get a commit with its files and stats",
            commit,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/contents",
            "List the root folder (ref)",
            contents_root,
        )
        .alias("/api/v1/repos/{owner}/{repo}/contents/", contents_root)
        .get(
            "/api/v1/repos/{owner}/{repo}/contents/{*path}",
            "Get a file (base64) or list a folder (ref)",
            contents,
        )
}

/// Files of one commit listed with their changes (GitHub lists 300).
const COMMIT_FILES: usize = 300;
/// Commits one `GET …/commits` may skip through before its page.
const MAX_SKIP: usize = 100_000;
/// A file's `content` is given up to this size (GitHub's limit, 1 MB);
/// above it `encoding` is `none`, as GitHub answers.
const MAX_CONTENT: u64 = 1 << 20;

/// Which branches are protected: the names matching a rule's pattern.
async fn protected(state: &AppState, repo: db::repos::RepoId) -> Result<Vec<db::protections::Protection>> {
    state.db.read(move |c| db::protections::list(c, repo)).await
}

async fn branches(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Query(page): Query<Page>,
    Query(filter): Query<BranchFilter>,
) -> Result<Paged> {
    let only_protected = match filter.protected.as_deref() {
        None => None,
        given => Some(super::one_of("protected", given, &["true", "false"], "false")? == "true"),
    };
    let rules = protected(&state, access.repo.id).await?;
    let refs = with_repo(&state, &access, |_, refs| Ok(refs.to_vec())).await?;
    let site = site(&state, &headers);
    let mut names: Vec<&RefEntry> = refs.iter().filter(|r| !r.is_tag).collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    let all = names
        .into_iter()
        .filter_map(|r| {
            let is_protected = crate::pulls::protect::rule_for(&rules, &r.name).is_some();
            if only_protected.is_some_and(|p| p != is_protected) {
                return None;
            }
            Some(github::short_branch(
                &site,
                &access.repo,
                &r.name,
                &r.commit.to_string(),
                is_protected,
            ))
        })
        .collect();
    page.slice(all, site.base(), &uri)
}

#[derive(Deserialize)]
struct BranchFilter {
    protected: Option<String>,
}

async fn branch(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    let rules = protected(&state, access.repo.id).await?;
    let wanted = name.clone();
    let info = with_repo(&state, &access, move |repo, refs| {
        let r = refs
            .iter()
            .find(|r| !r.is_tag && r.name == wanted)
            .ok_or(Error::NotFound)?;
        Ok((read::commit_info(repo, r.commit)?, tree_of(repo, r.commit)?))
    })
    .await?;
    let site = site(&state, &headers);
    let commit = commit_json(&state, &site, &access, info, None).await?;
    let rule = crate::pulls::protect::rule_for(&rules, &name);
    let checks: Vec<String> = rule.map(|r| r.required_checks.clone()).unwrap_or_default();
    Ok(Json(github::branch(
        &site,
        &access.repo,
        &name,
        commit,
        rule.is_some(),
        &checks,
    )))
}

async fn tags(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Query(page): Query<Page>,
) -> Result<Paged> {
    let refs = with_repo(&state, &access, |_, refs| Ok(refs.to_vec())).await?;
    let site = site(&state, &headers);
    let mut list: Vec<&RefEntry> = refs.iter().filter(|r| r.is_tag).collect();
    // Newest names first, as GitHub lists them.
    list.sort_by(|a, b| b.name.cmp(&a.name));
    let all = list
        .into_iter()
        .map(|r| github::tag(&site, &access.repo, &r.name, &r.commit.to_string()))
        .collect();
    page.slice(all, site.base(), &uri)
}

/// The people behind commits: an account whose e-mail is the commit's.
fn account_of(conn: &rusqlite::Connection, site: &Site, email: &str) -> Result<Value> {
    let found: Option<(i64, String, bool)> = conn
        .prepare_cached("SELECT id, name, is_admin FROM users WHERE lower(email) = lower(?1) AND email != ''")?
        .query_row([email], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .ok();
    Ok(found.map_or(Value::Null, |(id, name, admin)| github::user(site, id, &name, admin)))
}

/// A commit in GitHub's shape; with `files` (and `stats`) for one commit.
async fn commit_json(
    state: &AppState,
    site: &Site,
    access: &RepoAccess<Read>,
    info: (CommitInfo, String),
    files: Option<(Vec<Value>, github::Stats)>,
) -> Result<Value> {
    let list = commits_json(state, site, access, vec![info]).await?;
    let mut json = list.into_iter().next().ok_or(Error::NotFound)?;
    if let Some((files, stats)) = files {
        json["stats"] = json!({ "additions": stats.additions, "deletions": stats.deletions, "total": stats.additions + stats.deletions });
        json["files"] = Value::Array(files);
    }
    Ok(json)
}

/// Commits, each with its tree id, in GitHub's shape.
async fn commits_json(
    state: &AppState,
    site: &Site,
    access: &RepoAccess<Read>,
    list: Vec<(CommitInfo, String)>,
) -> Result<Vec<Value>> {
    let (site, repo) = (site.clone(), access.repo.clone());
    state
        .db
        .read(move |c| {
            let mut out = Vec::with_capacity(list.len());
            for (info, tree) in list {
                let author = account_of(c, &site, &info.author.email)?;
                let committer = account_of(c, &site, &info.committer.email)?;
                out.push(github::commit(&site, &repo, &info, &tree, author, committer));
            }
            Ok(out)
        })
        .await
}

/// The id of commit `id`'s tree.
fn tree_of(repo: &gix::Repository, id: gix::ObjectId) -> Result<String> {
    use crate::error::Context;
    let commit = repo.find_commit(id).context("reading a commit")?;
    Ok(commit.tree_id().context("reading a commit's tree")?.to_string())
}

/// GitHub's filters of `GET …/commits`.
#[derive(Deserialize)]
struct CommitQuery {
    sha: Option<String>,
    path: Option<String>,
    author: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

async fn commits(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Query(q): Query<CommitQuery>,
    Query(page): Query<Page>,
) -> Result<Response> {
    let (skip, take) = page.window()?;
    if skip > MAX_SKIP {
        return Err(Error::Unprocessable(format!(
            "a list of commits is paged through its first {MAX_SKIP} only"
        )));
    }
    let since = super::notifications::time_param("since", q.since.as_deref())?;
    let until = super::notifications::time_param("until", q.until.as_deref())?;
    let author = q.author.map(|a| a.to_lowercase());
    let (start, path) = (q.sha, q.path.unwrap_or_default());
    let default_branch = access.repo.default_branch.clone();
    let filtered = since.is_some() || until.is_some() || author.is_some();
    let (found, more) = with_repo(&state, &access, move |repo, refs| {
        let tip = match start.as_deref().filter(|s| !s.is_empty()) {
            Some(rev) => crate::web::code::resolve(repo, refs, rev)?.commit,
            None => match default_ref(refs, &default_branch) {
                Some(r) => r.commit,
                // An empty repository has no commits: GitHub answers 409.
                None => return Err(Error::WrongState("the repository is empty".into())),
            },
        };
        let path = path.trim_matches('/').to_string();
        let with_trees = |(list, more): (Vec<CommitInfo>, bool)| -> Result<(Vec<(CommitInfo, String)>, bool)> {
            let list = list
                .into_iter()
                .map(|c| Ok((tree_of(repo, c.id)?, c)))
                .map(|r: Result<(String, CommitInfo)>| r.map(|(t, c)| (c, t)))
                .collect::<Result<_>>()?;
            Ok((list, more))
        };
        if !filtered {
            return with_trees(read::log(repo, tip, &path, false, skip, take)?);
        }
        // With filters, the walk reads at most MAX_SKIP commits.
        let (all, _) = read::log(repo, tip, &path, false, 0, MAX_SKIP)?;
        let keep = |c: &CommitInfo| {
            since.is_none_or(|s| c.committer.time >= s)
                && until.is_none_or(|u| c.committer.time <= u)
                && author
                    .as_ref()
                    .is_none_or(|a| c.author.email.to_lowercase() == *a || c.author.name.to_lowercase() == *a)
        };
        let kept: Vec<CommitInfo> = all.into_iter().filter(keep).collect();
        let more = kept.len() > skip + take;
        with_trees((kept.into_iter().skip(skip).take(take).collect(), more))
    })
    .await?;
    let site = site(&state, &headers);
    let items = commits_json(&state, &site, &access, found).await?;
    let link = page.links(site.base(), &uri, more, None);
    Ok(Paged { items, link }.into_response())
}

async fn commit(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, rev)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    let site = site(&state, &headers);
    let (repo_row, api_site) = (access.repo.clone(), site.clone());
    let (info, files, stats) = with_repo(&state, &access, move |repo, refs| {
        let id = crate::web::code::resolve(repo, refs, &rev)?.commit;
        let info = read::commit_info(repo, id)?;
        let limits = read::Limits {
            max_files: COMMIT_FILES,
            max_file_lines: 3_000,
            max_total_lines: 20_000,
            max_blob_bytes: 1 << 20,
            max_total_bytes: 16 << 20,
        };
        let diff = read::diff(repo, id, limits)?;
        let mut stats = github::Stats::default();
        let files: Vec<Value> = diff
            .files
            .iter()
            .take(COMMIT_FILES)
            .map(|f| {
                stats.additions += f.additions;
                stats.deletions += f.deletions;
                let patch = patch_of(f);
                github::commit_file(&api_site, &repo_row, &info.id.to_string(), f, patch.as_deref())
            })
            .collect();
        Ok(((info, tree_of(repo, id)?), files, stats))
    })
    .await?;
    Ok(Json(
        commit_json(&state, &site, &access, info, Some((files, stats))).await?,
    ))
}

/// A file's change as GitHub's `patch`: its hunks, from the first `@@`.
fn patch_of(f: &read::FileDiff) -> Option<String> {
    if f.binary || f.too_large || f.hunks.is_empty() {
        return None;
    }
    let text = read::unified_text(&read::CommitDiff {
        files: vec![f.clone()],
        truncated: false,
    });
    text.find("@@").map(|at| text[at..].trim_end_matches('\n').to_string())
}

#[derive(Deserialize)]
struct ContentsQuery {
    #[serde(rename = "ref")]
    rev: Option<String>,
}

async fn contents_root(
    state: State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    query: Query<ContentsQuery>,
) -> Result<Json<Value>> {
    contents_at(state, headers, access, String::new(), query).await
}

async fn contents(
    state: State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, path)): Path<(String, String, String)>,
    query: Query<ContentsQuery>,
) -> Result<Json<Value>> {
    contents_at(state, headers, access, path, query).await
}

async fn contents_at(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    path: String,
    Query(q): Query<ContentsQuery>,
) -> Result<Json<Value>> {
    let site = site(&state, &headers);
    let path = path.trim_matches('/').to_string();
    if path.split('/').any(|p| p == ".." || p == ".") || path.contains('\0') {
        return Err(Error::NotFound);
    }
    let (repo_row, default_branch) = (access.repo.clone(), access.repo.default_branch.clone());
    let json = with_repo(&state, &access, move |repo, refs| {
        let (rev, commit) = match q.rev.as_deref().filter(|r| !r.is_empty()) {
            Some(rev) => (rev.to_string(), crate::web::code::resolve(repo, refs, rev)?.commit),
            None => {
                let r = default_ref(refs, &default_branch).ok_or(Error::NotFound)?;
                (r.name.clone(), r.commit)
            }
        };
        let join = |name: &str| {
            if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}/{name}")
            }
        };
        match read::lookup(repo, commit, &path)?.ok_or(Error::NotFound)? {
            Found::Dir(entries) => Ok(Value::Array(
                entries
                    .iter()
                    .map(|e| {
                        let entry = github::ContentEntry {
                            kind: kind_word(e.kind),
                            path: &join(&e.name),
                            sha: &e.id.to_string(),
                            size: e.size.unwrap_or(0),
                            rev: &rev,
                        };
                        github::content(&site, &repo_row, &entry, None)
                    })
                    .collect(),
            )),
            Found::File { id, size, kind } => {
                let data = if size <= MAX_CONTENT {
                    Some(read::blob_data(repo, id)?)
                } else {
                    None
                };
                let entry = github::ContentEntry {
                    kind: kind_word(kind),
                    path: &path,
                    sha: &id.to_string(),
                    size,
                    rev: &rev,
                };
                let body = match &data {
                    Some(bytes) if kind == EntryKind::Symlink => {
                        github::Body::Target(String::from_utf8_lossy(bytes).into_owned())
                    }
                    Some(bytes) => github::Body::Base64(base64_lines(bytes)),
                    None => github::Body::TooLarge,
                };
                Ok(github::content(&site, &repo_row, &entry, Some(body)))
            }
        }
    })
    .await?;
    Ok(Json(json))
}

fn kind_word(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Dir => "dir",
        EntryKind::File => "file",
        EntryKind::Symlink => "symlink",
        EntryKind::Submodule => "submodule",
    }
}

/// Base64 in lines of 60 characters, each ending in a newline, as GitHub
/// sends file contents.
fn base64_lines(data: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(text.len() + text.len() / 60 + 1);
    for chunk in text.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out
}
