//! Front matter and Markdown: one source file into a [`Meta`] (what list pages,
//! feeds and the cache need) and, on demand, the article body as HTML.
//!
//! Parsing the metadata is cheap on purpose: the summary comes from the first
//! paragraph alone, so a cold build parses each body with comrak only once,
//! when the article itself is rendered.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use comrak::nodes::NodeValue;
use comrak::options::Plugins;
use comrak::plugins::syntect::{SyntectAdapter, SyntectAdapterBuilder};
use comrak::{Arena, Options};
use serde::{Deserialize, Deserializer, Serialize};

use crate::diag::Diagnostic;

/// Front matter as written. Unknown keys are errors, so a typo such as
/// `drafts: true` cannot silently publish a draft; custom fields go under `extra`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    #[serde(deserialize_with = "de_date")]
    date: DateTime<FixedOffset>,
    #[serde(default, deserialize_with = "de_opt_date")]
    updated: Option<DateTime<FixedOffset>>,
    author: Option<String>,
    authors: Option<Vec<String>>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    series: Option<String>,
    summary: Option<String>,
    slug: Option<String>,
    #[serde(default)]
    draft: bool,
    image: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    extra: serde_json::Value,
}

/// What the rest of the pipeline knows of an article without its body.
/// Cached between builds, keyed by the source's hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub title: String,
    pub date: DateTime<FixedOffset>,
    pub updated: Option<DateTime<FixedOffset>>,
    pub authors: Vec<String>,
    pub tags: Vec<String>,
    pub categories: Vec<String>,
    pub series: Option<String>,
    pub summary: String,
    /// From front matter, else the bundle folder or file name.
    pub slug: String,
    pub draft: bool,
    pub image: Option<String>,
    pub aliases: Vec<String>,
    #[serde(with = "json_text")]
    pub extra: serde_json::Value,
    pub word_count: usize,
    pub reading_minutes: usize,
    /// 1-based file line of each top-level front matter key, for errors found later.
    pub key_lines: BTreeMap<String, usize>,
}

impl Meta {
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.key_lines.get(key).copied()
    }
}

/// A source split into its parts; `body_line` is the file line where the body starts.
pub struct Split<'a> {
    pub front: &'a str,
    pub body: &'a str,
    pub body_line: usize,
}

/// Splits `---` front matter from the body.
pub fn split(text: &str) -> Result<Split<'_>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text.strip_prefix("---").filter(|r| r.starts_with('\n') || r.starts_with("\r\n")) else {
        return Err((1, "the file must start with `---` and YAML front matter".into()));
    };
    let rest = rest.trim_start_matches('\r').strip_prefix('\n').unwrap_or(rest);
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let front = &rest[..offset];
            let body = &rest[offset + line.len()..];
            let body_line = 2 + front.matches('\n').count() + 1;
            return Ok(Split { front, body, body_line });
        }
        offset += line.len();
    }
    Err((1, "front matter is not closed by a `---` line".into()))
}

/// Parses an article's metadata. `fallback_slug` is the bundle folder or file stem.
pub fn parse_meta(text: &str, file: &Path, fallback_slug: &str) -> Result<Meta, Diagnostic> {
    let split = split(text).map_err(|(line, msg)| {
        Diagnostic::new(file, Some(line), msg).hint("begin the file with a line `---`, the YAML keys, then another `---`")
    })?;
    let fm: FrontMatter = serde_yaml::from_str(split.front).map_err(|e| {
        // YAML lines count from the first line after the opening `---`.
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        // serde_yaml places errors raised while converting a value (our date
        // check) at the mapping, not the key: find the key's line instead.
        let line = match msg.split('`').nth(1).filter(|_| msg.contains("is not a date")) {
            Some(value) => split.front.lines().position(|l| l.contains(value)).map(|i| i + 2),
            None => e.location().map(|l| l.line() + 1),
        };
        let hint = if msg.contains("unknown field") {
            "check the spelling; custom fields go under `extra:`"
        } else if msg.contains("missing field") {
            "every article needs `title:` and `date:`"
        } else {
            "fix the YAML between the `---` lines"
        };
        Diagnostic::new(file, line.or(Some(1)), format!("front matter: {msg}")).hint(hint)
    })?;
    let key_lines = key_lines(split.front);
    let mut authors = fm.authors.unwrap_or_default();
    if let Some(a) = fm.author {
        authors.insert(0, a);
    }
    let summary = match fm.summary {
        Some(s) => s.trim().to_string(),
        None => first_paragraph_text(split.body),
    };
    let word_count = split.body.split_whitespace().count();
    Ok(Meta {
        title: fm.title,
        date: fm.date,
        updated: fm.updated,
        authors,
        tags: fm.tags,
        categories: fm.categories,
        series: fm.series,
        summary,
        slug: fm.slug.unwrap_or_else(|| fallback_slug.to_string()),
        draft: fm.draft,
        image: fm.image,
        aliases: fm.aliases,
        extra: fm.extra,
        word_count,
        reading_minutes: word_count.div_ceil(200).max(1),
        key_lines,
    })
}

fn key_lines(front: &str) -> BTreeMap<String, usize> {
    front
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with([' ', '\t', '-', '#']))
        .filter_map(|(i, l)| l.split_once(':').map(|(k, _)| (k.trim().to_string(), i + 2)))
        .collect()
}

/// Accepts RFC 3339, `YYYY-MM-DDTHH:MM:SS` (UTC) and `YYYY-MM-DD` (midnight UTC).
pub fn parse_date(s: &str) -> Result<DateTime<FixedOffset>, String> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d);
    }
    let utc = FixedOffset::east_opt(0).expect("zero offset");
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(d.and_local_timezone(utc).single().expect("fixed offset"));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_local_timezone(utc).single().expect("fixed offset"));
    }
    Err(format!("`{s}` is not a date; write YYYY-MM-DD or an RFC 3339 time such as 2024-05-01T09:30:00+09:00"))
}

fn de_date<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
    let s = String::deserialize(d)?;
    parse_date(&s).map_err(serde::de::Error::custom)
}

fn de_opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    Option::<String>::deserialize(d)?.map(|s| parse_date(&s).map_err(serde::de::Error::custom)).transpose()
}

/// The cache's binary format cannot hold self-describing values; `extra`
/// travels as JSON text inside it.
mod json_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &serde_json::Value, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<serde_json::Value, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

/// Plain text of the first paragraph, found without parsing the whole body.
fn first_paragraph_text(body: &str) -> String {
    let mut in_fence = false;
    let mut para = String::new();
    for line in body.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if t.is_empty() {
            if !para.is_empty() {
                break;
            }
            continue;
        }
        let block_start = para.is_empty();
        if block_start
            && (t.starts_with('#')
                || t.starts_with('>')
                || t.starts_with('|')
                || t.starts_with('<')
                || t.starts_with("![")
                || t.starts_with("[^")
                || t.starts_with("- ")
                || t.starts_with("* ")
                || t.starts_with("+ ")
                || t.starts_with("---")
                || t.split_once(". ").is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
        {
            continue;
        }
        para.push_str(line);
        para.push('\n');
    }
    markdown_plain_text(&para)
}

/// Inline Markdown to plain text (links keep their text, markup goes).
pub fn markdown_plain_text(md: &str) -> String {
    // Footnote definitions live elsewhere in the body; drop the markers.
    static FOOTNOTE_REF: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\[\^[^\]\s]+\]").expect("valid regex"));
    let md = FOOTNOTE_REF.replace_all(md, "");
    let md = md.as_ref();
    let arena = Arena::new();
    let mut options = Options::default();
    options.extension.strikethrough = true;
    options.extension.footnotes = true;
    options.extension.autolink = true;
    let root = comrak::parse_document(&arena, md, &options);
    let mut out = String::new();
    for node in root.descendants() {
        match &node.data().value {
            NodeValue::Text(t) => out.push_str(t),
            NodeValue::Code(c) => out.push_str(&c.literal),
            NodeValue::SoftBreak | NodeValue::LineBreak => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The Markdown renderer shared by every site: one syntax set for the process.
pub struct Markdown {
    highlighter: SyntectAdapter,
}

impl Default for Markdown {
    fn default() -> Self {
        Markdown { highlighter: SyntectAdapterBuilder::new().css().build() }
    }
}

/// A reference found in the body, with its file line, for later checks.
#[derive(Debug, Clone)]
pub struct Reference {
    pub url: String,
    pub line: usize,
}

/// A rendered body and what it points at.
pub struct Body {
    pub html: String,
    pub images: Vec<Reference>,
}

impl Markdown {
    /// GitHub-flavoured Markdown to HTML. Raw HTML is escaped unless the site
    /// opted in with `unsafe_html`. `rewrite_image` may replace each image URL
    /// (it gets the URL and the file line); all its errors are returned together.
    pub fn render(
        &self,
        body: &str,
        body_line: usize,
        unsafe_html: bool,
        mut rewrite_image: impl FnMut(&str, usize) -> Result<Option<String>, Diagnostic>,
    ) -> Result<Body, Vec<Diagnostic>> {
        let mut options = Options::default();
        options.extension.table = true;
        options.extension.strikethrough = true;
        options.extension.autolink = true;
        options.extension.tasklist = true;
        options.extension.footnotes = true;
        options.extension.header_id_prefix = Some(String::new());
        options.render.r#unsafe = unsafe_html;
        options.render.escape = !unsafe_html;
        let arena = Arena::new();
        let root = comrak::parse_document(&arena, body, &options);
        let mut images = Vec::new();
        let mut errors = Vec::new();
        for node in root.descendants() {
            let line = node.data().sourcepos.start.line + body_line - 1;
            if let NodeValue::Image(link) = &mut node.data_mut().value {
                images.push(Reference { url: link.url.clone(), line });
                match rewrite_image(&link.url, line) {
                    Ok(Some(new)) => link.url = new,
                    Ok(None) => {}
                    Err(d) => errors.push(d),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut plugins = Plugins::default();
        plugins.render.codefence_syntax_highlighter = Some(&self.highlighter);
        let mut html = String::with_capacity(body.len() * 3 / 2);
        comrak::format_html_with_plugins(root, &options, &mut html, &plugins).expect("writing to a String cannot fail");
        Ok(Body { html, images })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(text: &str) -> Result<Meta, Diagnostic> {
        parse_meta(text, Path::new("content/s/a.md"), "a")
    }

    #[test]
    fn front_matter_fields_and_defaults() {
        let m = meta("---\ntitle: 안녕\ndate: 2024-05-01\nauthor: kim\ntags: [뉴스, Rust]\nextra:\n  mood: good\n---\n# Head\n\nFirst *para* with [a link](x).[^1]\n\nSecond.\n\n[^1]: note\n").unwrap();
        assert_eq!(m.title, "안녕");
        assert_eq!(m.date.to_rfc3339(), "2024-05-01T00:00:00+00:00");
        assert_eq!(m.authors, vec!["kim"]);
        assert_eq!(m.summary, "First para with a link.");
        assert_eq!(m.slug, "a");
        assert_eq!(m.extra["mood"], "good");
        assert_eq!(m.line_of("author"), Some(4));
    }

    #[test]
    fn errors_name_the_line() {
        let e = meta("---\ntitle: x\ndate: 2024-05-01\ndrafts: true\n---\n").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.message.contains("unknown field `drafts`"), "{e}");

        let e = meta("---\ntitle: x\ndate: yesterday\n---\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("not a date"), "{e}");

        let e = meta("---\ndate: 2024-01-01\n---\n").unwrap_err();
        assert!(e.message.contains("missing field `title`"), "{e}");

        let e = meta("---\ntitle: [unclosed\ndate: 2024-01-01\n---\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");

        let e = meta("no front matter").unwrap_err();
        assert_eq!(e.line, Some(1));

        let e = meta("---\ntitle: x\ntags: solo\ndate: 2024-01-01\n---\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn dates_accept_three_forms() {
        assert!(parse_date("2024-05-01T09:30:00+09:00").is_ok());
        assert!(parse_date("2024-05-01T09:30:00").is_ok());
        assert!(parse_date("2024-05-01").is_ok());
        assert!(parse_date("01/05/2024").is_err());
    }

    #[test]
    fn raw_html_is_escaped_unless_allowed() {
        let md = Markdown::default();
        let safe = md.render("<script>alert(1)</script>\n", 1, false, |_, _| Ok(None)).unwrap();
        assert!(!safe.html.contains("<script>"), "{}", safe.html);
        assert!(safe.html.contains("&lt;script&gt;"), "{}", safe.html);
        let raw = md.render("<script>alert(1)</script>\n", 1, true, |_, _| Ok(None)).unwrap();
        assert!(raw.html.contains("<script>"));
    }

    #[test]
    fn code_is_highlighted_with_classes_and_images_are_reported() {
        let md = Markdown::default();
        let body = md
            .render(
                "![a](p.png)\n\n```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nx[^1]\n\n[^1]: note\n",
                7,
                false,
                |u, line| {
                    assert_eq!((u, line), ("p.png", 7));
                    Ok(Some("/images/x.png".into()))
                },
            )
            .unwrap();
        assert!(body.html.contains("class=\"syntax-highlighting\""), "{}", body.html);
        assert!(body.html.contains("<span class=\"source rust\">"), "{}", body.html);
        assert!(body.html.contains("src=\"/images/x.png\""));
        assert!(body.html.contains("<table>"));
        assert!(body.html.contains("footnote"));
        assert_eq!(body.images.len(), 1);
    }
}
