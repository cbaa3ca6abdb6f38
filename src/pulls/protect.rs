//! Protected branches: which rule covers a branch, and what it lets a push
//! or a merge do. The rules are `db::protections`; a push is checked by the
//! `pre-receive` hook (`hook`), a merge by `pulls::merge`, both here.

use crate::db::protections::Protection;
use crate::db::users::UserId;
use crate::glob;

/// The rule of `branch`: one naming it exactly, else the first pattern that matches.
pub fn rule_for<'a>(rules: &'a [Protection], branch: &str) -> Option<&'a Protection> {
    rules
        .iter()
        .find(|r| r.pattern == branch)
        .or_else(|| rules.iter().find(|r| glob::matches(&r.pattern, branch)))
}

/// Who pushes or merges.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    /// Owns or administers the repository: passes every rule that does not
    /// `enforce_admins`.
    pub admin: bool,
}

impl Actor {
    fn listed(&self, users: &[String]) -> bool {
        users.iter().any(|u| u.eq_ignore_ascii_case(&self.name))
    }

    fn bypasses(&self, rule: &Protection) -> bool {
        self.admin && !rule.enforce_admins
    }
}

/// What a push does to a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    FastForward,
    Force,
    Delete,
}

/// The latest conclusion of each job name among `results` (in the order
/// the jobs were made), then whether each of `required` succeeded: the
/// names that did not, with what they are.
pub fn unmet_checks(required: &[String], results: &[(String, String)]) -> Vec<(String, String)> {
    required
        .iter()
        .filter_map(|name| {
            let last = results.iter().rev().find(|(n, _)| n == name).map(|(_, c)| c.as_str());
            match last {
                Some("success" | "skipped") => None,
                Some(other) => Some((name.clone(), other.to_string())),
                None => Some((name.clone(), "expected".to_string())),
            }
        })
        .collect()
}

fn checks_message(unmet: &[(String, String)]) -> String {
    let list: Vec<String> = unmet
        .iter()
        .map(|(name, state)| match state.as_str() {
            "expected" => format!("\"{name}\" has not run"),
            "queued" | "in_progress" => format!("\"{name}\" is still running"),
            other => format!("\"{name}\" ended with {other}"),
        })
        .collect();
    format!("required status checks must pass: {}", list.join(", "))
}

/// Whether `actor` may make `change` to a branch under `rule` by pushing;
/// `checks` gives the job results of the new commit when they matter.
pub fn check_push(
    rule: &Protection,
    actor: &Actor,
    change: Change,
    checks: impl FnOnce() -> Vec<(String, String)>,
) -> Result<(), String> {
    if actor.bypasses(rule) {
        return Ok(());
    }
    if rule.restrict_pushes && !actor.listed(&rule.push_users) {
        return Err(match rule.push_users.is_empty() {
            true => "nobody may push to it".to_string(),
            false => format!("only {} may push to it", rule.push_users.join(", ")),
        });
    }
    match change {
        Change::Delete if !rule.allow_deletions => return Err("it cannot be deleted".into()),
        Change::Delete | Change::Create => return Ok(()),
        Change::Force if !rule.allow_force_pushes => return Err("force-pushes are not allowed".into()),
        _ => {}
    }
    if rule.require_reviews && !actor.listed(&rule.bypass_users) {
        return Err("changes must be made through a pull request".into());
    }
    if rule.require_checks && !rule.required_checks.is_empty() {
        let unmet = unmet_checks(&rule.required_checks, &checks());
        if !unmet.is_empty() {
            return Err(checks_message(&unmet));
        }
    }
    Ok(())
}

/// What a merge needs to know of a pull request.
pub struct MergeState<'a> {
    /// Approvals that count: the latest review of each person with write
    /// access, not dismissed.
    pub approvals: u32,
    /// Someone with write access asks for changes (their latest review).
    pub changes_requested: bool,
    pub checks: &'a [(String, String)],
    /// The head contains the base's tip (for `strict`).
    pub up_to_date: bool,
}

/// Why a merge into a branch under `rule` by `actor` cannot happen now;
/// empty when it can. `bypass`: the actor may pass over these.
pub fn merge_blockers(rule: &Protection, actor: &Actor, state: &MergeState) -> (Vec<String>, bool) {
    let mut why = Vec::new();
    if rule.restrict_pushes && !actor.listed(&rule.push_users) {
        why.push(match rule.push_users.is_empty() {
            true => "nobody may push to the base branch".to_string(),
            false => format!("only {} may push to the base branch", rule.push_users.join(", ")),
        });
    }
    if rule.require_reviews {
        if state.approvals < rule.required_approvals {
            why.push(format!(
                "it needs {} approving review{} (it has {})",
                rule.required_approvals,
                if rule.required_approvals == 1 { "" } else { "s" },
                state.approvals
            ));
        }
        if state.changes_requested {
            why.push("changes were requested".into());
        }
    }
    if rule.require_checks && !rule.required_checks.is_empty() {
        let unmet = unmet_checks(&rule.required_checks, state.checks);
        if !unmet.is_empty() {
            why.push(checks_message(&unmet));
        }
        if rule.strict && !state.up_to_date {
            why.push("the head branch must be up to date with the base branch".into());
        }
    }
    (why, actor.bypasses(rule))
}

/// Checks a rule before it is kept, and finds its people: the ids of the
/// users who may push (`push_users`) and who may bypass (`bypass_users`).
pub fn check_rule(conn: &rusqlite::Connection, rule: &Protection) -> crate::error::Result<(Vec<UserId>, Vec<UserId>)> {
    use crate::error::Error;
    let p = &rule.pattern;
    if p.is_empty() || p.len() > 200 || p.chars().any(|c| c.is_whitespace() || c.is_control()) || p.contains("..") {
        return Err(Error::Unprocessable(format!(
            "{p:?} is not a branch name or pattern (up to 200 characters, no spaces, `*` for any part of a name)"
        )));
    }
    if rule.required_approvals > 6 {
        return Err(Error::Unprocessable(
            "at most 6 approving reviews can be required".into(),
        ));
    }
    if rule.required_checks.len() > 50 || rule.required_checks.iter().any(|c| c.is_empty() || c.len() > 200) {
        return Err(Error::Unprocessable(
            "name up to 50 required checks, each up to 200 characters".into(),
        ));
    }
    let ids = |names: &[String]| -> crate::error::Result<Vec<UserId>> {
        names
            .iter()
            .map(|n| {
                crate::db::users::by_name(conn, n)?
                    .map(|u| u.id)
                    .ok_or_else(|| Error::Unprocessable(format!("there is no user named {n:?}")))
            })
            .collect()
    };
    Ok((ids(&rule.push_users)?, ids(&rule.bypass_users)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Protection {
        Protection {
            pattern: "main".into(),
            require_reviews: true,
            required_approvals: 1,
            require_checks: true,
            required_checks: vec!["test".into()],
            ..Default::default()
        }
    }

    #[test]
    fn rules_are_found_by_name_then_by_pattern() {
        let rules = vec![
            Protection {
                pattern: "release/*".into(),
                ..Default::default()
            },
            rule(),
        ];
        assert_eq!(rule_for(&rules, "main").unwrap().pattern, "main");
        assert_eq!(rule_for(&rules, "release/1.0").unwrap().pattern, "release/*");
        assert!(rule_for(&rules, "release/1/x").is_none());
        assert!(rule_for(&rules, "topic").is_none());
    }

    #[test]
    fn pushes_are_checked_against_the_rule() {
        let dev = Actor {
            name: "dev".into(),
            admin: false,
        };
        let owner = Actor {
            name: "owner".into(),
            admin: true,
        };
        let r = rule();
        assert_eq!(
            check_push(&r, &dev, Change::FastForward, Vec::new),
            Err("changes must be made through a pull request".into())
        );
        assert_eq!(
            check_push(&r, &dev, Change::Force, Vec::new),
            Err("force-pushes are not allowed".into())
        );
        assert_eq!(
            check_push(&r, &dev, Change::Delete, Vec::new),
            Err("it cannot be deleted".into())
        );
        assert_eq!(check_push(&r, &owner, Change::Force, Vec::new), Ok(()));
        let enforced = Protection {
            enforce_admins: true,
            ..r.clone()
        };
        assert!(check_push(&enforced, &owner, Change::Force, Vec::new).is_err());
        let bypass = Protection {
            bypass_users: vec!["DEV".into()],
            ..r.clone()
        };
        let red = || vec![("test".to_string(), "failure".to_string())];
        let green = || {
            vec![
                ("test".to_string(), "failure".to_string()),
                ("test".to_string(), "success".to_string()),
            ]
        };
        assert!(
            check_push(&bypass, &dev, Change::FastForward, red)
                .unwrap_err()
                .contains("\"test\" ended with failure")
        );
        assert_eq!(check_push(&bypass, &dev, Change::FastForward, green), Ok(()));
        let restricted = Protection {
            restrict_pushes: true,
            push_users: vec!["lead".into()],
            ..r
        };
        assert_eq!(
            check_push(&restricted, &dev, Change::Create, Vec::new),
            Err("only lead may push to it".into())
        );
    }

    #[test]
    fn merges_wait_for_approvals_and_checks() {
        let dev = Actor {
            name: "dev".into(),
            admin: false,
        };
        let checks = vec![("test".to_string(), "in_progress".to_string())];
        let state = MergeState {
            approvals: 0,
            changes_requested: true,
            checks: &checks,
            up_to_date: true,
        };
        let (why, bypass) = merge_blockers(&rule(), &dev, &state);
        assert!(!bypass);
        assert_eq!(
            why,
            vec![
                "it needs 1 approving review (it has 0)".to_string(),
                "changes were requested".to_string(),
                "required status checks must pass: \"test\" is still running".to_string()
            ]
        );
        let done = vec![("test".to_string(), "success".to_string())];
        let ok = MergeState {
            approvals: 1,
            changes_requested: false,
            checks: &done,
            up_to_date: false,
        };
        assert!(merge_blockers(&rule(), &dev, &ok).0.is_empty());
    }
}
