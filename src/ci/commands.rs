//! The workflow commands a step prints (what `@actions/core` emits):
//! `::add-mask::`, `::set-output name=…::` and `::save-state name=…::`
//! (the old forms of `$GITHUB_OUTPUT` and `$GITHUB_STATE`), `::error`,
//! `::warning` and `::notice` with `file`, `line`, `col`, `endLine`,
//! `endColumn` and `title` (annotations), `::group::` / `::endgroup::`,
//! `::stop-commands::TOKEN` … `::TOKEN::`, and `::debug::`. Pure.

use crate::report::Annotation;

/// A line of a step's output, read.
#[derive(Debug, PartialEq)]
pub enum Line<'a> {
    /// Text to log as it is.
    Text(&'a str),
    Mask(String),
    SetOutput(String, String),
    SaveState(String, String),
    Annotate(Annotation),
    Group(String),
    EndGroup,
    /// `::stop-commands::TOKEN`: until `::TOKEN::`, lines are text.
    Stop(String),
    /// Nothing to log (`::debug::` without step debugging, `::echo::`).
    Quiet,
}

/// Reads `line`; `stopped` is the token of a `::stop-commands::` in force
/// (cleared by `::TOKEN::`).
pub fn read<'a>(line: &'a str, stopped: &mut Option<String>) -> Line<'a> {
    let trimmed = line.trim_end();
    if let Some(token) = stopped.as_deref() {
        if trimmed.strip_prefix("::").and_then(|r| r.strip_suffix("::")) == Some(token) {
            *stopped = None;
            return Line::Quiet;
        }
        return Line::Text(line);
    }
    let Some(rest) = trimmed.strip_prefix("::") else {
        return Line::Text(line);
    };
    let Some((head, data)) = rest.split_once("::") else {
        return Line::Text(line);
    };
    let (name, props) = match head.split_once(' ') {
        Some((n, p)) => (n, properties(p)),
        None => (head, Vec::new()),
    };
    let prop = |key: &str| props.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let number = |key: &str| prop(key).and_then(|v| v.trim().parse::<u32>().ok());
    let data = unescape(data, false);
    match name {
        "add-mask" => Line::Mask(data),
        "set-output" => match prop("name") {
            Some(n) => Line::SetOutput(n, data),
            None => Line::Text(line),
        },
        "save-state" => match prop("name") {
            Some(n) => Line::SaveState(n, data),
            None => Line::Text(line),
        },
        "error" | "warning" | "notice" => Line::Annotate(Annotation {
            level: match name {
                "error" => "error",
                "warning" => "warning",
                _ => "notice",
            },
            message: data,
            title: prop("title"),
            file: prop("file"),
            line: number("line"),
            end_line: number("endLine"),
            col: number("col"),
            end_col: number("endColumn"),
        }),
        "group" => Line::Group(data),
        "endgroup" => Line::EndGroup,
        "stop-commands" if !data.is_empty() => Line::Stop(data),
        "debug" | "echo" => Line::Quiet,
        _ => Line::Text(line),
    }
}

/// `key=value,key=value`, values unescaped.
fn properties(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), unescape(v, true)))
        .collect()
}

/// `@actions/core`'s escapes: `%25` `%0D` `%0A`, and in properties `%3A` `%2C`.
fn unescape(text: &str, property: bool) -> String {
    let mut out = text.replace("%0D", "\r").replace("%0A", "\n");
    if property {
        out = out.replace("%3A", ":").replace("%2C", ",");
    }
    out.replace("%25", "%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_actions_core_prints() {
        let mut stopped = None;
        let mut r = |l: &'static str| read(l, &mut stopped);
        assert_eq!(r("plain text"), Line::Text("plain text"));
        assert_eq!(r("::add-mask::s3cret"), Line::Mask("s3cret".into()));
        assert_eq!(
            r("::set-output name=v::1%0A2"),
            Line::SetOutput("v".into(), "1\n2".into())
        );
        assert_eq!(
            r("::save-state name=pid::42"),
            Line::SaveState("pid".into(), "42".into())
        );
        match r("::error file=src/a.rs,line=3,col=7,title=Bad%2C bad::it broke %25") {
            Line::Annotate(a) => {
                assert_eq!(a.level, "error");
                assert_eq!(a.message, "it broke %");
                assert_eq!(a.file.as_deref(), Some("src/a.rs"));
                assert_eq!((a.line, a.col), (Some(3), Some(7)));
                assert_eq!(a.title.as_deref(), Some("Bad, bad"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r("::group::Build"), Line::Group("Build".into()));
        assert_eq!(r("::endgroup::"), Line::EndGroup);
        assert_eq!(r("::set-output::no name"), Line::Text("::set-output::no name"));
        assert_eq!(r("::unknown::x"), Line::Text("::unknown::x"));
        assert_eq!(r(":: not a command"), Line::Text(":: not a command"));
        assert_eq!(r("::stop-commands::tok"), Line::Stop("tok".into()));
    }

    #[test]
    fn stop_commands_until_the_token() {
        let mut stopped = Some("tok".to_string());
        assert_eq!(read("::add-mask::x", &mut stopped), Line::Text("::add-mask::x"));
        assert_eq!(read("::tok::", &mut stopped), Line::Quiet);
        assert_eq!(stopped, None);
        assert_eq!(read("::add-mask::x", &mut stopped), Line::Mask("x".into()));
    }
}
