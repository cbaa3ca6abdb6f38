//! Validation beyond the shape of the YAML: every expression parses,
//! runners are ones this executor is, `needs` form no cycle, and flow
//! collections do not nest without bound.

use std::collections::HashSet;

use super::triggers::string_list;
use super::{Error, Job};

/// An `if:` parses with or without `${{ }}`.
pub(super) fn check_condition(text: &str) -> Result<(), String> {
    let t = text.trim();
    let src = t.strip_prefix("${{").and_then(|s| s.strip_suffix("}}")).unwrap_or(t);
    crate::ci::expr::parse(src).map(|_| ())
}

/// serde_yaml's messages end in "at line N column M"; the line is shown first.
pub(super) fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Labels this executor answers to: the host itself, and GitHub's Ubuntu
/// images (a job written for them runs on a Linux host as it is).
pub(super) const LABELS: &[&str] = &["self-hosted", "linux", "x64"];

/// The labels of `runs-on`: a label, a list of them, or `group:` and
/// `labels:` (the group names runners elsewhere; here only labels count).
pub(super) fn labels(v: &serde_yaml_ng::Value) -> Result<Vec<String>, String> {
    match v {
        serde_yaml_ng::Value::Mapping(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                match k.as_str() {
                    Some("labels") => out.extend(string_list(v).map_err(|e| format!("runs-on.labels: {e}"))?),
                    Some("group") => {}
                    _ => return Err("runs-on takes a label, a list of labels, or `group` and `labels`".into()),
                }
            }
            Ok(out)
        }
        v => string_list(v).map_err(|e| format!("runs-on: {e}")),
    }
}

/// The first of `labels` (evaluated) that no runner here answers to, as
/// "no runner for macos-latest"; `None` when this runner serves them all.
pub fn no_runner(labels: &[String]) -> Option<String> {
    labels
        .iter()
        .map(|l| l.trim())
        .find(|label| {
            let lower = label.to_ascii_lowercase();
            !(LABELS.contains(&lower.as_str()) || lower.starts_with("ubuntu-"))
        })
        .map(|label| format!("no runner for {label}"))
}

pub(super) fn check_graph(file: &str, jobs: &[Job]) -> Result<(), Error> {
    use super::calls::is_of;
    for j in jobs {
        for n in &j.needs {
            if !jobs.iter().any(|o| is_of(&o.key, n)) {
                return Err(Error(format!(
                    "{file}: jobs.{}: needs {n:?}, which is not a job of this workflow",
                    j.key
                )));
            }
        }
    }
    // Kahn's algorithm: whatever cannot be ordered is in a cycle. A need is
    // met when every job answering to it (a called workflow's, all) is.
    let mut done: HashSet<&str> = HashSet::new();
    loop {
        let ready: Vec<&str> = jobs
            .iter()
            .filter(|j| {
                !done.contains(j.key.as_str())
                    && j.needs.iter().all(|n| {
                        jobs.iter()
                            .filter(|o| is_of(&o.key, n))
                            .all(|o| done.contains(o.key.as_str()))
                    })
            })
            .map(|j| j.key.as_str())
            .collect();
        if ready.is_empty() {
            break;
        }
        done.extend(ready);
    }
    let keys: HashSet<&str> = jobs.iter().map(|j| j.key.as_str()).collect();
    if done.len() < keys.len() {
        let mut stuck: Vec<&str> = jobs
            .iter()
            .map(|j| j.key.as_str())
            .filter(|k| !done.contains(k))
            .collect();
        stuck.sort();
        stuck.dedup();
        return Err(Error(format!(
            "{file}: the needs of jobs {} form a cycle",
            stuck.join(", ")
        )));
    }
    Ok(())
}

/// `[…]` and `{…}` may nest this deep. The YAML reader refuses deeper
/// nesting anyway, but only after scanning it, in time that grows with the
/// square of the depth (100,000 levels: minutes).
pub(super) const MAX_FLOW_DEPTH: usize = 128;

/// The line where flow collections (`[`, `{`) nest deeper than
/// `MAX_FLOW_DEPTH`, found in one pass: a bracket opens a collection at
/// the start of a value or inside another collection, where quoted
/// strings and comments are skipped; elsewhere (a script, say) it is text.
pub(super) fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    // The last character that was not a space on this line, outside collections.
    let mut before: Option<u8> = None;
    let mut quote: Option<u8> = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        if c == b'\n' {
            line += 1;
            before = None;
            continue;
        }
        if let Some(q) = quote {
            if c == b'\\' && q == b'"' {
                i += 1;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            b'#' if i == 1 || bytes[i - 2].is_ascii_whitespace() => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'[' | b'{' if depth > 0 || matches!(before, None | Some(b':' | b'-' | b'?')) => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(line);
                }
            }
            b']' | b'}' if depth > 0 => depth -= 1,
            b'\'' | b'"' if depth > 0 => quote = Some(c),
            b' ' | b'\t' | b'\r' => {}
            _ if depth == 0 => before = Some(c),
            _ => {}
        }
    }
    None
}
