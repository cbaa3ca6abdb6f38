//! Commits ↔ issues. When a push lands, each new commit whose message
//! mentions `#N` adds "referenced by <commit>" to issue N; on the default
//! branch, `fixes #N` (closes, resolves, and their other forms, any case)
//! also closes it with the commit as the reason. The unique index on commit
//! events makes a re-push (another branch, the same commit) change nothing.

use std::path::Path;

use gix::ObjectId;

use crate::db::Db;
use crate::db::issues as stored;
use crate::db::ref_updates::{RefUpdate, ZERO_ID};
use crate::db::repos::Repo;
use crate::db::users::UserId;
use crate::error::{Context, Result};

/// New commits looked at per pushed ref, at most.
const MAX_COMMITS: usize = 1000;
const CLOSING: &[&str] = &[
    "close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved",
];

/// The issue numbers a message mentions, and those it closes, in order, once each.
pub fn mentions(message: &str) -> (Vec<stored::IssueNumber>, Vec<stored::IssueNumber>) {
    let (mut referenced, mut closes) = (Vec::new(), Vec::new());
    let bytes = message.as_bytes();
    for (at, _) in message.match_indices('#') {
        let before_ok = at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || b"_&/#".contains(&bytes[at - 1]));
        let digits: String = message[at + 1..].chars().take_while(char::is_ascii_digit).collect();
        let after = message[at + 1 + digits.len()..].chars().next();
        if !before_ok || digits.is_empty() || digits.len() > 9 || after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let Ok(n) = digits.parse::<stored::IssueNumber>() else {
            continue;
        };
        if n.0 == 0 {
            continue;
        }
        if !referenced.contains(&n) {
            referenced.push(n);
        }
        let head = message[..at].trim_end();
        let head = head.strip_suffix(':').unwrap_or(head).trim_end();
        let word: String = head
            .chars()
            .rev()
            .take_while(|c| c.is_alphabetic())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if CLOSING.contains(&word.to_lowercase().as_str()) && !closes.contains(&n) {
            closes.push(n);
        }
    }
    (referenced, closes)
}

/// The new commits of each pushed branch: (id, message, on the default branch).
fn new_commits(path: &Path, updates: &[RefUpdate], default_branch: &str) -> Result<Vec<(ObjectId, String, bool)>> {
    let repo = crate::git::open(path)?;
    let tips: Vec<(String, ObjectId)> = crate::git::list_refs(path)?
        .into_iter()
        .filter_map(|(name, id)| ObjectId::from_hex(id.as_bytes()).ok().map(|id| (name, id)))
        .collect();
    let mut out: Vec<(ObjectId, String, bool)> = Vec::new();
    for u in updates {
        if u.new_id == ZERO_ID || !u.ref_name.starts_with("refs/heads/") {
            continue;
        }
        let on_default = u.ref_name == format!("refs/heads/{default_branch}");
        let Ok(new) = ObjectId::from_hex(u.new_id.as_bytes()) else {
            continue;
        };
        let hidden: Vec<ObjectId> = if u.old_id != ZERO_ID {
            ObjectId::from_hex(u.old_id.as_bytes()).into_iter().collect()
        } else {
            tips.iter()
                .filter(|(name, _)| *name != u.ref_name)
                .map(|(_, id)| *id)
                .collect()
        };
        let walk = repo
            .rev_walk([new])
            .with_hidden(hidden)
            .all()
            .context("walking pushed commits")?;
        for info in walk.take(MAX_COMMITS) {
            let Ok(info) = info else { break };
            let Ok(commit) = info.object() else { continue };
            let message = commit.message_raw_sloppy().to_string();
            match out.iter_mut().find(|(id, _, _)| *id == info.id) {
                Some(seen) => seen.2 |= on_default,
                None => out.push((info.id, message, on_default)),
            }
        }
    }
    Ok(out)
}

/// Links the commits of a push to the issues they mention.
pub async fn link_pushed_commits(
    db: &Db,
    repo: &Repo,
    path: &Path,
    updates: Vec<RefUpdate>,
    pusher: Option<UserId>,
) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let (path, default_branch) = (path.to_path_buf(), repo.default_branch.clone());
    let commits = crate::error::blocking("commit walk task", move || {
        new_commits(&path, &updates, &default_branch)
    })
    .await??;
    let links: Vec<(String, Vec<stored::IssueNumber>, Vec<stored::IssueNumber>)> = commits
        .into_iter()
        .filter_map(|(id, message, on_default)| {
            let (referenced, closes) = mentions(&message);
            let closes = if on_default { closes } else { Vec::new() };
            (!referenced.is_empty()).then(|| (id.to_string(), referenced, closes))
        })
        .collect();
    if links.is_empty() {
        return Ok(());
    }
    let repo_id = repo.id;
    db.write(move |tx| {
        for (sha, referenced, closes) in &links {
            for n in referenced {
                let Some(issue) = stored::by_number(tx, repo_id, *n)? else {
                    continue;
                };
                stored::add_event(tx, issue.id, pusher, "referenced", sha)?;
                if closes.contains(n) && stored::add_event(tx, issue.id, pusher, "closed_by_commit", sha)? {
                    stored::set_state(tx, issue.id, "closed", Some("completed"))?;
                }
            }
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::mentions;
    use crate::db::issues::IssueNumber;

    fn numbers(message: &str) -> (Vec<i64>, Vec<i64>) {
        let (referenced, closes) = mentions(message);
        let plain = |v: Vec<IssueNumber>| v.into_iter().map(|n| n.0).collect();
        (plain(referenced), plain(closes))
    }

    #[test]
    fn finds_references_and_closing_keywords() {
        assert_eq!(numbers("Fix the parser (#12)"), (vec![12], vec![]));
        assert_eq!(numbers("Fixes #3, closes: #4 and see #5"), (vec![3, 4, 5], vec![3, 4]));
        assert_eq!(numbers("RESOLVED #7\n\nAlso #7 again"), (vec![7], vec![7]));
        assert_eq!(numbers("fixed   #8"), (vec![8], vec![8]));
        assert_eq!(numbers("prefix#9 a#10 &#11; #12abc #0 ##13"), (vec![], vec![]));
        assert_eq!(numbers("Prefixes #14 unfixes #15"), (vec![14, 15], vec![]));
    }
}
