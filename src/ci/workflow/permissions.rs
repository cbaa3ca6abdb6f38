//! `permissions:` at workflow and job level, as GitHub writes them:
//! `read-all`, `write-all`, `{}`, or scopes each `read`, `write` or
//! `none` (a scope not named is `none`). A job has its own, else the
//! workflow's; they are what its token may do (see `ci::job_token`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// GitHub's scopes.
pub const SCOPES: [&str; 15] = [
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

/// Every scope with its level: `read`, `write` or `none`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Permissions {
    pub scopes: BTreeMap<String, String>,
}

impl Permissions {
    fn all(level: &str) -> Permissions {
        Permissions {
            scopes: SCOPES
                .iter()
                .map(|s| {
                    // id-token can only be written (asked for) or not.
                    let level = if *s == "id-token" && level == "read" {
                        "none"
                    } else {
                        level
                    };
                    (s.to_string(), level.to_string())
                })
                .collect(),
        }
    }

    /// What a job token gets when the workflow says nothing: GitHub's
    /// restricted default.
    pub fn default_token() -> Permissions {
        let mut p = Permissions::all("none");
        for scope in ["contents", "packages"] {
            p.scopes.insert(scope.to_string(), "read".to_string());
        }
        p
    }

    /// The scopes that are not `none`, as `contents: read, issues: write`.
    pub fn granted(&self) -> String {
        let list: Vec<String> = self
            .scopes
            .iter()
            .filter(|(_, l)| l.as_str() != "none")
            .map(|(s, l)| format!("{s}: {l}"))
            .collect();
        if list.is_empty() {
            "none".into()
        } else {
            list.join(", ")
        }
    }
}

/// Reads a `permissions:` value.
pub fn parse(v: &serde_yaml_ng::Value) -> Result<Permissions, String> {
    use serde_yaml_ng::Value;
    match v {
        Value::String(s) if s == "read-all" => Ok(Permissions::all("read")),
        Value::String(s) if s == "write-all" => Ok(Permissions::all("write")),
        Value::Mapping(m) => {
            let mut p = Permissions::all("none");
            for (k, v) in m {
                let scope = k.as_str().unwrap_or_default();
                if !SCOPES.contains(&scope) {
                    return Err(format!("permissions: unknown scope {scope:?} ({})", SCOPES.join(", ")));
                }
                let level = v.as_str().unwrap_or_default();
                let allowed: &[&str] = if scope == "id-token" {
                    &["write", "none"]
                } else {
                    &["read", "write", "none"]
                };
                if !allowed.contains(&level) {
                    return Err(format!(
                        "permissions: {scope}: {level:?} is not one of {}",
                        allowed.join(", ")
                    ));
                }
                p.scopes.insert(scope.to_string(), level.to_string());
            }
            Ok(p)
        }
        _ => Err("permissions: read-all, write-all, or a mapping of scopes to read, write or none".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Permissions, String> {
        parse(&serde_yaml_ng::from_str(text).unwrap())
    }

    #[test]
    fn github_s_forms_and_nothing_else() {
        assert_eq!(p("{contents: read}").unwrap().granted(), "contents: read");
        assert_eq!(
            p("{contents: write, pull-requests: read, id-token: write}")
                .unwrap()
                .granted(),
            "contents: write, id-token: write, pull-requests: read"
        );
        assert_eq!(p("{}").unwrap().granted(), "none");
        let all = p("read-all").unwrap();
        assert_eq!(all.scopes["contents"], "read");
        assert_eq!(all.scopes["id-token"], "none");
        assert_eq!(p("write-all").unwrap().scopes["id-token"], "write");
        assert!(p("{contents: admin}").unwrap_err().contains("read, write, none"));
        assert!(p("{id-token: read}").is_err());
        assert!(p("{root: write}").unwrap_err().contains("unknown scope"));
        assert!(p("everything").is_err());
    }
}
