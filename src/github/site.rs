//! Where the server is reached, the ids GitHub's clients see, and the
//! people a shape names.

use std::collections::HashMap;

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::db;
use crate::db::repos::Repo;
use crate::error::Result;
use crate::time::rfc3339;

/// Where this server is reached: the base of every URL in a shape.
#[derive(Debug, Clone)]
pub struct Site {
    base: String,
}

impl Site {
    /// `base` is `http://host:port` (no trailing slash); empty gives
    /// paths without a host.
    pub fn new(base: impl Into<String>) -> Site {
        Site {
            base: base.into().trim_end_matches('/').to_string(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The repository's pages: `http://host/owner/name`.
    pub fn html(&self, repo: &Repo) -> String {
        format!("{}{}", self.base, repo.url())
    }

    /// The repository in the API: `http://host/api/v1/repos/owner/name`.
    pub fn api(&self, repo: &Repo) -> String {
        format!("{}/api/v1/repos{}", self.base, repo.url())
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GitHub's opaque global id of an object: its kind and number, encoded.
pub fn node_id(kind: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{kind}_{id}"))
}

/// The numeric id of a workflow file: stable for its repository and path
/// (Hearth keeps no table of workflows; a workflow is its file).
pub fn workflow_id(repo: &Repo, path: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}/{path}", repo.id.0));
    // 48 bits: a positive integer that JavaScript clients read exactly.
    i64::from_be_bytes([0, 0, digest[0], digest[1], digest[2], digest[3], digest[4], digest[5]])
}

/// The accounts named in a shape, by login: their ids and whether they
/// administer the site.
#[derive(Debug, Default, Clone)]
pub struct People {
    known: HashMap<String, (i64, String, bool)>,
}

impl People {
    /// Looks up every login in `names`; one unknown (a deleted account)
    /// is shown as GitHub shows one: the `ghost` user.
    pub fn load<'a>(conn: &Connection, names: impl IntoIterator<Item = &'a str>) -> Result<People> {
        let mut known = HashMap::new();
        for name in names {
            let key = name.to_lowercase();
            if known.contains_key(&key) {
                continue;
            }
            if let Some(u) = db::users::by_name(conn, name)? {
                known.insert(key, (u.id.0, u.name, u.is_admin));
            }
        }
        Ok(People { known })
    }

    pub fn add(&mut self, user: &db::users::User) {
        self.known
            .insert(user.name.to_lowercase(), (user.id.0, user.name.clone(), user.is_admin));
    }

    pub fn user(&self, site: &Site, login: &str) -> Value {
        match self.known.get(&login.to_lowercase()) {
            Some((id, name, admin)) => user(site, *id, name, *admin),
            None => user(site, 10137, "ghost", false),
        }
    }
}

/// A user (`simple-user`).
pub fn user(site: &Site, id: i64, login: &str, site_admin: bool) -> Value {
    let base = site.base();
    let api = format!("{base}/api/v1/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": node_id("U", id),
        // Hearth keeps no pictures of people: every avatar is its mark.
        "avatar_url": format!("{base}/static/favicon.svg"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{base}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": "User",
        "site_admin": site_admin,
    })
}

/// The reactions an object has (none: Hearth has no reactions).
pub(super) fn reactions(url: &str) -> Value {
    json!({
        "url": format!("{url}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
        "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
    })
}

/// How `login` is related to `repo` (`author_association`).
pub fn association(conn: &Connection, repo: &Repo, login: &str) -> Result<&'static str> {
    if login.eq_ignore_ascii_case(&repo.owner) {
        return Ok("OWNER");
    }
    let Some(user) = db::users::by_name(conn, login)? else {
        return Ok("NONE");
    };
    Ok(match db::collaborators::permission(conn, repo.id, user.id)? {
        Some(_) => "COLLABORATOR",
        None => "CONTRIBUTOR",
    })
}

/// A commit's author or committer, as a push payload names them.
pub fn committer(name: &str, email: &str, when: Option<i64>) -> Value {
    let mut v = json!({ "name": name, "email": email });
    if let Some(t) = when {
        v["date"] = json!(rfc3339(t));
    }
    v
}
