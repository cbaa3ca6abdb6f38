//! Repositories, and what is in them: branches, tags, commits, files.

use rusqlite::Connection;
use serde_json::{Value, json};

use super::site::*;
use crate::db::repos::Repo;
use crate::error::Result;
use crate::time::rfc3339;

/// What a repository's shape says beyond its row.
#[derive(Debug, Default, Clone, Copy)]
pub struct RepoFacts {
    pub open_issues: i64,
    pub pushed_at: Option<i64>,
    pub updated_at: Option<i64>,
}

impl RepoFacts {
    pub fn load(conn: &Connection, repo: &Repo) -> Result<RepoFacts> {
        let (open_issues, pushed_at): (i64, Option<i64>) = conn.query_row(
            "SELECT (SELECT COUNT(*) FROM issues WHERE repo_id = ?1 AND state = 'open'),
                    (SELECT MAX(pushed_at) FROM ref_updates WHERE repo_id = ?1)",
            [repo.id.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(RepoFacts {
            open_issues,
            pushed_at,
            updated_at: pushed_at,
        })
    }
}

/// The URLs every repository shape carries (`repository-lite`'s).
fn repo_links(site: &Site, repo: &Repo) -> serde_json::Map<String, Value> {
    let (html, api) = (site.html(repo), site.api(repo));
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.into(), Value::String(v));
    };
    put("html_url", html);
    put("url", api.clone());
    for (key, tail) in [
        ("forks_url", "/forks"),
        ("keys_url", "/keys{/key_id}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("teams_url", "/teams"),
        ("hooks_url", "/hooks"),
        ("issue_events_url", "/issues/events{/number}"),
        ("events_url", "/events"),
        ("assignees_url", "/assignees{/user}"),
        ("branches_url", "/branches{/branch}"),
        ("tags_url", "/tags"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("trees_url", "/git/trees{/sha}"),
        ("statuses_url", "/statuses/{sha}"),
        ("languages_url", "/languages"),
        ("stargazers_url", "/stargazers"),
        ("contributors_url", "/contributors"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("commits_url", "/commits{/sha}"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("comments_url", "/comments{/number}"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("contents_url", "/contents/{+path}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("merges_url", "/merges"),
        ("archive_url", "/{archive_format}{/ref}"),
        ("downloads_url", "/downloads"),
        ("issues_url", "/issues{/number}"),
        ("pulls_url", "/pulls{/number}"),
        ("milestones_url", "/milestones{/number}"),
        ("notifications_url", "/notifications{?since,all,participating}"),
        ("labels_url", "/labels{/name}"),
        ("releases_url", "/releases{/id}"),
        ("deployments_url", "/deployments"),
    ] {
        put(key, format!("{api}{tail}"));
    }
    m
}

/// A repository (`repository-lite`: its names, owner and URLs).
pub fn repository_lite(site: &Site, repo: &Repo, owner: &Value) -> Value {
    let mut m = repo_links(site, repo);
    for (k, v) in [
        ("id", json!(repo.id.0)),
        ("node_id", json!(node_id("R", repo.id.0))),
        ("name", json!(repo.name)),
        ("full_name", json!(repo.full_name())),
        ("private", json!(repo.is_private)),
        ("owner", owner.clone()),
        ("description", description(repo)),
        ("fork", json!(false)),
    ] {
        m.insert(k.into(), v);
    }
    Value::Object(m)
}

fn description(repo: &Repo) -> Value {
    if repo.description.is_empty() {
        Value::Null
    } else {
        json!(repo.description)
    }
}

/// A repository in full (`repository`).
pub fn repository(site: &Site, repo: &Repo, owner: &Value, facts: &RepoFacts) -> Value {
    let Value::Object(mut m) = repository_lite(site, repo, owner) else {
        unreachable!("repository_lite is an object")
    };
    let html = site.html(repo);
    let host = site.base().split("://").nth(1).unwrap_or("localhost").to_string();
    let extra = json!({
        "created_at": rfc3339(repo.created_at),
        "updated_at": rfc3339(facts.updated_at.unwrap_or(repo.created_at)),
        "pushed_at": facts.pushed_at.map(rfc3339),
        "git_url": format!("git://{host}{}.git", repo.url()),
        "ssh_url": format!("git@{host}:{}.git", repo.full_name()),
        "clone_url": format!("{html}.git"),
        "svn_url": html,
        "homepage": null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": null,
        "has_issues": true,
        "has_projects": false,
        "has_downloads": true,
        "has_wiki": false,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": false,
        "disabled": false,
        "open_issues_count": facts.open_issues,
        "license": null,
        "allow_forking": false,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": if repo.is_private { "private" } else { "public" },
        "forks": 0,
        "open_issues": facts.open_issues,
        "watchers": 0,
        "default_branch": repo.default_branch,
        "custom_properties": {},
    });
    if let Value::Object(e) = extra {
        m.extend(e);
    }
    Value::Object(m)
}

/// A branch as lists name it (`short-branch`).
pub fn short_branch(site: &Site, repo: &Repo, name: &str, sha: &str, protected: bool) -> Value {
    let api = site.api(repo);
    json!({
        "name": name,
        "commit": { "sha": sha, "url": format!("{api}/commits/{sha}") },
        "protected": protected,
        "protection_url": format!("{api}/branches/{}/protection", url_encode(name)),
    })
}

/// One branch (`branch-with-protection`), with its tip `commit` in full.
pub fn branch(site: &Site, repo: &Repo, name: &str, commit: Value, protected: bool, checks: &[String]) -> Value {
    let api = site.api(repo);
    let this = format!("{api}/branches/{}", url_encode(name));
    json!({
        "name": name,
        "commit": commit,
        "_links": { "self": this, "html": format!("{}/tree/{}", site.html(repo), url_encode(name)) },
        "protected": protected,
        "protection": {
            "enabled": protected,
            "required_status_checks": {
                "enforcement_level": if protected && !checks.is_empty() { "non_admins" } else { "off" },
                "contexts": checks,
                "checks": checks.iter().map(|c| json!({ "context": c, "app_id": null })).collect::<Vec<_>>(),
            },
        },
        "protection_url": format!("{this}/protection"),
    })
}

/// A tag (`tag`).
pub fn tag(site: &Site, repo: &Repo, name: &str, sha: &str) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    json!({
        "name": name,
        "commit": { "sha": sha, "url": format!("{api}/commits/{sha}") },
        "zipball_url": format!("{html}/archive/{}.zip", url_encode(name)),
        "tarball_url": format!("{html}/archive/{}.tar.gz", url_encode(name)),
        "node_id": node_id("REF", workflow_id(repo, name)),
    })
}

/// Lines a commit adds and removes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub additions: usize,
    pub deletions: usize,
}

/// A commit (`commit`): `author` and `committer` are the accounts behind
/// its e-mail addresses, or null.
pub fn commit(
    site: &Site,
    repo: &Repo,
    info: &crate::git::read::CommitInfo,
    tree: &str,
    author: Value,
    committer: Value,
) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let sha = info.id.to_string();
    let url = format!("{api}/commits/{sha}");
    let person = |p: &crate::git::read::Person| super::site::committer(&p.name, &p.email, Some(p.time));
    json!({
        "url": url,
        "sha": sha,
        "node_id": node_id("C", workflow_id(repo, &sha)),
        "html_url": format!("{html}/commit/{sha}"),
        "comments_url": format!("{url}/comments"),
        "commit": {
            "url": format!("{api}/git/commits/{sha}"),
            "author": person(&info.author),
            "committer": person(&info.committer),
            "message": info.message.trim_end_matches('\n'),
            "comment_count": 0,
            "tree": { "sha": tree, "url": format!("{api}/git/trees/{tree}") },
            "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null },
        },
        "author": author,
        "committer": committer,
        "parents": info.parents.iter().map(|p| json!({
            "sha": p.to_string(),
            "url": format!("{api}/commits/{p}"),
            "html_url": format!("{html}/commit/{p}"),
        })).collect::<Vec<_>>(),
    })
}

/// A file a commit changed (`diff-entry`).
pub fn commit_file(site: &Site, repo: &Repo, sha: &str, f: &crate::git::read::FileDiff, patch: Option<&str>) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let path = url_encode(&f.new_path);
    let mut v = json!({
        "sha": f.new_id.or(f.old_id).map(|id| id.to_string()),
        "filename": f.new_path,
        "status": match f.status {
            crate::git::read::Status::Deleted => "removed",
            other => other.word(),
        },
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": format!("{html}/blob/{sha}/{path}"),
        "raw_url": format!("{html}/raw/{sha}/{path}"),
        "contents_url": format!("{api}/contents/{path}?ref={sha}"),
    });
    if let Some(p) = patch {
        v["patch"] = json!(p);
    }
    if f.status == crate::git::read::Status::Renamed {
        v["previous_filename"] = json!(f.old_path);
    }
    v
}

/// An entry of a directory or a file, as `…/contents` names it.
pub struct ContentEntry<'a> {
    /// file, dir, symlink or submodule.
    pub kind: &'a str,
    pub path: &'a str,
    pub sha: &'a str,
    pub size: u64,
    /// The branch, tag or commit it was read at.
    pub rev: &'a str,
}

/// What a file's `…/contents` answer carries.
pub enum Body {
    /// Its bytes in base64.
    Base64(String),
    /// A symbolic link's target.
    Target(String),
    /// Too large to include (`encoding: none`).
    TooLarge,
}

/// `content-directory` entries (`body` `None`) and `content-file`.
pub fn content(site: &Site, repo: &Repo, e: &ContentEntry, body: Option<Body>) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let path = url_encode(e.path);
    let rev = url_encode(e.rev);
    let url = format!("{api}/contents/{path}?ref={rev}");
    let html_url = format!("{html}/{}/{rev}/{path}", if e.kind == "dir" { "tree" } else { "blob" });
    let git_url = format!(
        "{api}/git/{}/{}",
        if e.kind == "dir" { "trees" } else { "blobs" },
        e.sha
    );
    let download = (e.kind == "file").then(|| format!("{html}/raw/{rev}/{path}"));
    let mut v = json!({
        "type": e.kind,
        "size": e.size,
        "name": e.path.rsplit('/').next().unwrap_or(e.path),
        "path": e.path,
        "sha": e.sha,
        "url": url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": download,
        "_links": { "self": url, "git": git_url, "html": html_url },
    });
    match body {
        Some(Body::Base64(text)) => {
            v["content"] = json!(text);
            v["encoding"] = json!("base64");
        }
        Some(Body::Target(target)) => v["target"] = json!(target),
        Some(Body::TooLarge) => {
            v["content"] = json!("");
            v["encoding"] = json!("none");
        }
        None => {}
    }
    v
}
