//! Text to safe HTML: GitHub-flavoured Markdown (comrak, then the ammonia
//! sanitizer) and syntax highlighting (syntect, CSS classes only). Pure
//! functions: what comes out can be put in a page as it is.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

/// Files larger than this are shown without highlighting.
const HIGHLIGHT_MAX_BYTES: usize = 256 * 1024;

/// Where relative links and images of a Markdown file point: the folder of
/// the file, as a blob URL (for links) and a raw URL (for images), e.g.
/// `/alice/demo/blob/main/docs` and `/alice/demo/raw/main/docs`.
#[derive(Debug, Clone)]
pub struct Links {
    pub blob_dir: String,
    pub raw_dir: String,
}

/// Whether a file of this name is Markdown, by its extension.
pub fn is_markdown(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// Renders Markdown as GitHub does (tables, task lists, strikethrough,
/// autolinks, footnotes); raw HTML is dropped and the result sanitized.
pub fn markdown(text: &str, links: Option<&Links>) -> String {
    let mut options = comrak::Options::default();
    options.extension.table = true;
    options.extension.strikethrough = true;
    options.extension.tasklist = true;
    options.extension.autolink = true;
    options.extension.footnotes = true;
    options.render.github_pre_lang = false;
    if let Some(links) = links {
        let blob = links.blob_dir.clone();
        options.extension.link_url_rewriter = Some(Arc::new(move |url: &str| resolve_relative(&blob, url)));
        let raw = links.raw_dir.clone();
        options.extension.image_url_rewriter = Some(Arc::new(move |url: &str| resolve_relative(&raw, url)));
    }
    let html = comrak::markdown_to_html(text, &options);
    demote_headings(&sanitizer().clean(&html).to_string())
}

/// Headings one level down (`#` becomes `<h2>`): the page's own title is
/// its one `<h1>`. Text never holds a raw `<h`, the sanitizer escaped it.
fn demote_headings(html: &str) -> String {
    let mut out = html.to_string();
    for level in (1..=5).rev() {
        out = out
            .replace(&format!("<h{level}>"), &format!("<h{}>", level + 1))
            .replace(&format!("<h{level} "), &format!("<h{} ", level + 1))
            .replace(&format!("</h{level}>"), &format!("</h{}>", level + 1));
    }
    out
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static BUILDER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.add_tags(["input"])
            .add_tag_attributes("input", ["type", "checked", "disabled"])
            .add_tag_attributes("code", ["class"])
            .attribute_filter(|element, attribute, value| match (element, attribute) {
                // Only the disabled checkboxes of task lists.
                ("input", "type") => (value == "checkbox").then_some(Cow::Borrowed(value)),
                ("code", "class") => value.starts_with("language-").then_some(Cow::Borrowed(value)),
                _ => Some(Cow::Borrowed(value)),
            });
        b
    })
}

/// Resolves a link found in a Markdown file inside the repository: absolute
/// URLs, site paths and anchors stay; relative paths are joined to `dir`,
/// never climbing above the repository root.
pub fn resolve_relative(dir: &str, url: &str) -> String {
    let is_absolute = url.starts_with('/')
        || url.starts_with('#')
        || url
            .split(['/', '?', '#'])
            .next()
            .is_some_and(|first| first.contains(':'));
    if is_absolute || url.is_empty() {
        return url.to_string();
    }
    let split = url.find(['?', '#']).unwrap_or(url.len());
    let (path, suffix) = url.split_at(split);
    // `dir` is `/owner/repo/blob/rev/sub/dir`: the first four segments are fixed.
    let mut parts: Vec<&str> = dir.trim_end_matches('/').split('/').collect();
    let root = parts.len().min(5);
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.len() > root {
                    parts.pop();
                }
            }
            s => parts.push(s),
        }
    }
    format!("{}{}", parts.join("/"), suffix)
}

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Highlights `text` by the language its file name suggests, as HTML with
/// `hl-` classes, or plain escaped text when no language fits or the file is
/// too large.
pub fn highlight(file_name: &str, text: &str) -> String {
    if text.len() > HIGHLIGHT_MAX_BYTES {
        return escape(text);
    }
    let set = syntaxes();
    let extension = file_name.rsplit_once('.').map(|(_, e)| e).unwrap_or(file_name);
    let syntax = set
        .find_syntax_by_extension(extension)
        .or_else(|| set.find_syntax_by_extension(file_name))
        .or_else(|| set.find_syntax_by_first_line(text.lines().next().unwrap_or("")));
    let Some(syntax) = syntax.filter(|s| s.name != "Plain Text") else {
        return escape(text);
    };
    let mut generator =
        ClassedHTMLGenerator::new_with_class_style(syntax, set, ClassStyle::SpacedPrefixed { prefix: "hl-" });
    for line in LinesWithEndings::from(text) {
        if generator.parse_html_for_line_which_includes_newline(line).is_err() {
            return escape(text);
        }
    }
    generator.finalize()
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links() {
        let dir = "/alice/demo/blob/main/docs";
        assert_eq!(resolve_relative(dir, "guide.md"), "/alice/demo/blob/main/docs/guide.md");
        assert_eq!(
            resolve_relative(dir, "../README.md#intro"),
            "/alice/demo/blob/main/README.md#intro"
        );
        assert_eq!(
            resolve_relative(dir, "../../../../etc/passwd"),
            "/alice/demo/blob/main/etc/passwd"
        );
        assert_eq!(resolve_relative(dir, "https://example.com/x"), "https://example.com/x");
        assert_eq!(resolve_relative(dir, "#section"), "#section");
        assert_eq!(resolve_relative(dir, "/alice"), "/alice");
        assert_eq!(
            resolve_relative("/alice/demo/raw/main", "img/logo.png"),
            "/alice/demo/raw/main/img/logo.png"
        );
    }

    #[test]
    fn markdown_is_sanitized() {
        let html = markdown(
            "<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n- [x] done\n\n|a|b|\n|-|-|\n|1|2|\n",
            None,
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(html.contains("<table>") && html.contains("type=\"checkbox\""), "{html}");
    }

    #[test]
    fn highlighting() {
        let html = highlight("main.rs", "fn main() { let x = \"<b>\"; }\n");
        assert!(html.contains("hl-") && html.contains("&lt;b&gt;"), "{html}");
        assert_eq!(highlight("notes.unknownext", "a < b\n"), "a &lt; b\n");
    }
}
