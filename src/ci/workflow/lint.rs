//! Every problem of a file at once, each where it is: `file:line:column:
//! path: message`. Keys a part of the format does not have are found in
//! one walk over the YAML (not one at a time by the deserializer), each
//! expression in a value is checked on that value (not the raw text, so a
//! `${{` in a comment is a comment), and the lines and columns come from a
//! second, event-level reading of the text (`yaml-rust2`, which keeps the
//! place of every key; `serde_yaml_ng` keeps none once a value is read).

use std::collections::HashMap;

use serde_yaml_ng::Value;

/// The keys of each part of a workflow, as `raw` reads them.
pub(super) const TOP_KEYS: &[&str] = &[
    "name",
    "on",
    "env",
    "jobs",
    "run-name",
    "concurrency",
    "defaults",
    "permissions",
];
pub(super) const JOB_KEYS: &[&str] = &[
    "name",
    "runs-on",
    "needs",
    "env",
    "timeout-minutes",
    "steps",
    "container",
    "services",
    "uses",
    "with",
    "secrets",
    "if",
    "outputs",
    "strategy",
    "concurrency",
    "environment",
    "continue-on-error",
    "defaults",
    "permissions",
];
pub(super) const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "run",
    "uses",
    "shell",
    "env",
    "working-directory",
    "with",
    "if",
    "continue-on-error",
    "timeout-minutes",
];
const STRATEGY_KEYS: &[&str] = &["matrix", "fail-fast", "max-parallel"];
const DEFAULTS_KEYS: &[&str] = &["run"];
const RUN_DEFAULTS_KEYS: &[&str] = &["shell", "working-directory"];
const CONCURRENCY_KEYS: &[&str] = &["group", "cancel-in-progress"];
const ENVIRONMENT_KEYS: &[&str] = &["name", "url"];

/// A problem of a file, and where it is (a path of keys and indexes).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: Vec<String>,
    pub message: String,
}

impl Problem {
    pub fn at(path: &[&str], message: impl Into<String>) -> Problem {
        Problem {
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
        }
    }
}

/// Removes from `doc` (a workflow) every key its part does not have, and
/// says so for each.
pub(super) fn unknown_keys(doc: &mut Value, problems: &mut Vec<Problem>) {
    let Value::Mapping(top) = doc else { return };
    drop_unknown(top, TOP_KEYS, &[], "the workflow", problems);
    for part in ["concurrency", "defaults"] {
        if let Some(Value::Mapping(m)) = top.get_mut(part) {
            nested(m, part, &[part.to_string()], problems);
        }
    }
    let Some(Value::Mapping(jobs)) = top.get_mut("jobs") else {
        return;
    };
    for (key, job) in jobs.iter_mut() {
        let key = key.as_str().unwrap_or_default().to_string();
        let Value::Mapping(job) = job else { continue };
        let at = vec!["jobs".to_string(), key.clone()];
        drop_unknown(job, JOB_KEYS, &at, &format!("job {key}"), problems);
        for part in ["strategy", "concurrency", "defaults", "environment"] {
            if let Some(Value::Mapping(m)) = job.get_mut(part) {
                let mut here = at.clone();
                here.push(part.to_string());
                nested(m, part, &here, problems);
            }
        }
        if let Some(Value::Sequence(steps)) = job.get_mut("steps") {
            for (i, step) in steps.iter_mut().enumerate() {
                if let Value::Mapping(step) = step {
                    let mut here = at.clone();
                    here.extend(["steps".to_string(), i.to_string()]);
                    drop_unknown(step, STEP_KEYS, &here, &format!("step {}", i + 1), problems);
                }
            }
        }
    }
}

fn nested(m: &mut serde_yaml_ng::Mapping, part: &str, at: &[String], problems: &mut Vec<Problem>) {
    let known = match part {
        "strategy" => STRATEGY_KEYS,
        "concurrency" => CONCURRENCY_KEYS,
        "environment" => ENVIRONMENT_KEYS,
        _ => DEFAULTS_KEYS,
    };
    drop_unknown(m, known, at, part, problems);
    if part == "defaults"
        && let Some(Value::Mapping(run)) = m.get_mut("run")
    {
        let mut here = at.to_vec();
        here.push("run".into());
        drop_unknown(run, RUN_DEFAULTS_KEYS, &here, "defaults.run", problems);
    }
}

fn drop_unknown(
    m: &mut serde_yaml_ng::Mapping,
    known: &[&str],
    at: &[String],
    what: &str,
    problems: &mut Vec<Problem>,
) {
    let unknown: Vec<Value> = m
        .keys()
        .filter(|k| !k.as_str().is_some_and(|k| known.contains(&k)))
        .cloned()
        .collect();
    for k in unknown {
        let name = match &k {
            Value::String(s) => s.clone(),
            other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_string(),
        };
        let mut path = at.to_vec();
        path.push(name.clone());
        problems.push(Problem {
            path,
            message: format!("{what} has no key `{name}` (it has {})", known.join(", ")),
        });
        m.remove(&k);
    }
}

/// Every `${{ … }}` in the values of `doc` parses.
pub(super) fn expressions(doc: &Value, problems: &mut Vec<Problem>) {
    let mut todo: Vec<(Vec<String>, &Value)> = vec![(Vec::new(), doc)];
    while let Some((path, v)) = todo.pop() {
        match v {
            Value::String(s) if s.contains("${{") => {
                if let Err(e) = check_text(s) {
                    problems.push(Problem { path, message: e });
                }
            }
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    let mut p = path.clone();
                    p.push(i.to_string());
                    todo.push((p, item));
                }
            }
            Value::Mapping(m) => {
                let items: Vec<_> = m.iter().collect();
                for (k, item) in items.into_iter().rev() {
                    let mut p = path.clone();
                    p.push(k.as_str().unwrap_or_default().to_string());
                    todo.push((p, item));
                }
            }
            _ => {}
        }
    }
}

/// The expressions of one value.
fn check_text(text: &str) -> Result<(), String> {
    let mut from = 0;
    while let Some(start) = text[from..].find("${{").map(|i| i + from) {
        let end = text[start..]
            .find("}}")
            .map(|i| i + start)
            .ok_or_else(|| "a `${{` is not closed with `}}`".to_string())?;
        crate::ci::expr::parse(text[start + 3..end].trim())
            .map_err(|e| format!("{e} in `{}`", &text[start..end + 2]))?;
        from = end + 2;
    }
    Ok(())
}

/// serde's words for a value of the wrong kind, in plain ones.
pub(super) fn plain(message: &str) -> String {
    let m = super::check::strip_location(message);
    if m.contains("untagged enum Scalar") {
        return "a value here is a text, a number or true/false, not a list or a mapping".into();
    }
    if m.contains("untagged enum OneOrMany") {
        return "a job id or a list of job ids".into();
    }
    if let Some(rest) = m.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let expected = match expected {
            "f64" | "u64" | "u32" | "a number" => "a number",
            "a boolean" | "bool" => "true or false",
            "a map" => "a mapping (key: value lines)",
            "a sequence" => "a list",
            "a string" => "a text",
            other => other,
        };
        return format!("expected {expected}, found {found}");
    }
    if m.contains("untagged enum") {
        return "this value has the wrong form here".into();
    }
    m
}

/// Where each key and list item of a YAML text is: path → (line, column),
/// both from 1.
pub struct Places(HashMap<String, (usize, usize)>);

impl Places {
    pub fn of(text: &str) -> Places {
        use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
        use yaml_rust2::scanner::Marker;
        enum Kind {
            /// A mapping: the key whose value comes next, if one was read.
            Map(Option<String>),
            /// A list: the index of the next item.
            Seq(usize),
        }
        struct Frame {
            kind: Kind,
            /// Whether it added a segment to the path (all but the document's).
            named: bool,
        }
        struct Walk {
            path: Vec<String>,
            frames: Vec<Frame>,
            places: HashMap<String, (usize, usize)>,
        }
        impl Walk {
            fn place(&mut self, segment: &str, mark: Marker) {
                let mut path = self.path.clone();
                path.push(segment.to_string());
                self.places
                    .entry(path.join("."))
                    .or_insert((mark.line(), mark.col() + 1));
            }

            /// A node starts: a mapping's key, or a value (of a key, of a
            /// list, of the document) and its path segment.
            fn node(&mut self, mark: Marker, scalar: Option<&str>) -> Option<Option<String>> {
                match self.frames.last_mut().map(|f| &mut f.kind) {
                    Some(Kind::Map(key @ None)) => {
                        let name = scalar.unwrap_or("?").to_string();
                        *key = Some(name.clone());
                        self.place(&name, mark);
                        None
                    }
                    Some(Kind::Map(key)) => Some(key.take()),
                    Some(Kind::Seq(next)) => {
                        let segment = next.to_string();
                        *next += 1;
                        self.place(&segment, mark);
                        Some(Some(segment))
                    }
                    None => Some(None),
                }
            }
        }
        impl MarkedEventReceiver for Walk {
            fn on_event(&mut self, ev: Event, mark: Marker) {
                match ev {
                    Event::Scalar(text, ..) => {
                        self.node(mark, Some(&text));
                    }
                    Event::Alias(_) => {
                        self.node(mark, None);
                    }
                    Event::MappingStart(..) | Event::SequenceStart(..) => {
                        // A mapping or list as a key (rare) is walked as a value of key "?".
                        let segment = self.node(mark, None).unwrap_or(Some("?".into()));
                        let named = segment.is_some();
                        if let Some(s) = segment {
                            self.path.push(s);
                        }
                        let kind = match ev {
                            Event::MappingStart(..) => Kind::Map(None),
                            _ => Kind::Seq(0),
                        };
                        self.frames.push(Frame { kind, named });
                    }
                    Event::MappingEnd | Event::SequenceEnd => {
                        let named = self.frames.pop().is_some_and(|f| f.named);
                        self.path.truncate(self.path.len() - usize::from(named));
                    }
                    _ => {}
                }
            }
        }
        let mut walk = Walk {
            path: Vec::new(),
            frames: Vec::new(),
            places: HashMap::new(),
        };
        let _ = Parser::new_from_str(text).load(&mut walk, false);
        // A block mapping is told to start only after its first key: a
        // place is never after that of anything in it.
        let mut places = walk.places;
        let found: Vec<(String, (usize, usize))> = places.iter().map(|(k, v)| (k.clone(), *v)).collect();
        for (path, at) in found {
            let mut prefix = path.as_str();
            while let Some((above, _)) = prefix.rsplit_once('.') {
                if let Some(p) = places.get_mut(above)
                    && at < *p
                {
                    *p = at;
                }
                prefix = above;
            }
        }
        Places(places)
    }

    /// Where `path` is: the place of its longest prefix that has one.
    pub fn find(&self, path: &[String]) -> Option<(usize, usize)> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.0.get(&path[..n].join(".")).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_of_keys_and_items() {
        let text = "on: push\njobs:\n  build:\n    steps:\n      - run: a\n      - uses: b\n        with: {x: 1}\n";
        let p = Places::of(text);
        let at = |s: &str| p.find(&s.split('.').map(String::from).collect::<Vec<_>>());
        assert_eq!(at("on"), Some((1, 1)));
        assert_eq!(at("jobs.build"), Some((3, 3)));
        assert_eq!(at("jobs.build.steps.1"), Some((6, 9)));
        assert_eq!(at("jobs.build.steps.1.uses"), Some((6, 9)));
        assert_eq!(at("jobs.build.steps.1.with.x"), Some((7, 16)));
        assert_eq!(at("jobs.build.steps.1.with.nope"), Some((7, 9)), "the nearest known");
    }

    #[test]
    fn plain_words() {
        assert_eq!(
            plain("invalid type: sequence, expected f64"),
            "expected a number, found sequence"
        );
        assert!(plain("data did not match any variant of untagged enum Scalar").contains("a text, a number"));
    }
}
