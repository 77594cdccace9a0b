//! Front matter and Markdown: one source file into a [`Meta`] (what list pages,
//! feeds and the cache need) and, on demand, the article body as HTML.
//!
//! Parsing the metadata is cheap on purpose: the summary comes from the first
//! paragraph alone, so a cold build parses each body with comrak only once,
//! when the article itself is rendered.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use comrak::html::ChildRendering;
use comrak::nodes::{NodeHtmlBlock, NodeValue};
use comrak::options::Plugins;
use comrak::plugins::syntect::{SyntectAdapter, SyntectAdapterBuilder};
use comrak::{Arena, Options};
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize};
use unicode_normalization::UnicodeNormalization as _;

use crate::diag::Diagnostic;

/// Front matter as written. Unknown keys are errors, so a typo such as
/// `drafts: true` cannot silently publish a draft; custom fields go under `extra`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    /// Checked here, read in the site's time zone by [`parse_meta`].
    #[serde(deserialize_with = "de_date")]
    date: String,
    #[serde(default, deserialize_with = "de_opt_date")]
    updated: Option<String>,
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
    image_aliases: BTreeMap<String, Vec<String>>,
    moved_to: Option<String>,
    #[serde(default)]
    kind: Kind,
    #[serde(default)]
    extra: serde_json::Value,
}

/// What a source is: an article (dated, listed, in feeds) or a page (at
/// its own path, in no list).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Article,
    Page,
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
    /// Old URLs of images the article publishes (`photo.jpg` → its old
    /// `/wp-content/uploads/…` paths): redirected to the image's published path.
    pub image_aliases: BTreeMap<String, Vec<String>>,
    /// The article now lives at this absolute URL (another site): it is not
    /// published here, its URL and aliases redirect there.
    pub moved_to: Option<String>,
    pub kind: Kind,
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

/// The front matter of a section page (`content/<site>/<section>/_index.md`):
/// no date, it is not an article.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionFront {
    pub title: String,
    #[serde(default)]
    pub description: String,
}

/// The first front-matter line (counting from the line after `---`) that
/// is indented with a tab.
fn tab_line(front: &str) -> Option<usize> {
    front.lines().position(|l| l.trim_start_matches(' ').starts_with('\t'))
}

/// Parses a section page: its front matter, and its body with the line it starts on.
pub fn parse_section_page<'t>(text: &'t str, file: &Path) -> Result<(SectionFront, &'t str, usize), Diagnostic> {
    let split = split(text).map_err(|(line, msg)| {
        Diagnostic::new(file, Some(line), msg).hint("begin the file with a line `---`, the YAML keys, then another `---`")
    })?;
    let front: SectionFront = serde_norway::from_str(split.front).map_err(|e| {
        let msg = e.to_string();
        Diagnostic::new(
            file,
            e.location().map(|l| l.line() + 1).or(Some(1)),
            format!("front matter: {}", msg.split(" at line ").next().unwrap_or(&msg)),
        )
        .hint("a section page takes `title` and `description`; it has no date")
    })?;
    Ok((front, split.body, split.body_line))
}

/// Parses an article's metadata. `fallback_slug` is the bundle folder or
/// file stem; dates without an offset are read in `tz`.
pub fn parse_meta(text: &str, file: &Path, fallback_slug: &str, tz: chrono_tz::Tz) -> Result<Meta, Diagnostic> {
    let split = split(text).map_err(|(line, msg)| {
        Diagnostic::new(file, Some(line), msg).hint("begin the file with a line `---`, the YAML keys, then another `---`")
    })?;
    let fm: FrontMatter = serde_norway::from_str(split.front).map_err(|e| {
        // YAML lines count from the first line after the opening `---`.
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        // serde_norway places errors raised while converting a value (our date
        // check) and repeated keys at the mapping, not the key: find the
        // key's line instead (a repeated key's second one).
        let key_line = |keys: &[&str], value: Option<&str>, nth: usize| {
            top_keys(split.front)
                .filter(|(_, k, v)| keys.contains(k) && value.is_none_or(|value| *v == value))
                .nth(nth)
                .map(|(i, ..)| i + 2)
        };
        let line = if let Some(value) = msg.split('`').nth(1).filter(|_| msg.contains("is not a date")) {
            key_line(&["date", "updated"], Some(value), 0).or_else(|| split.front.lines().position(|l| l.contains(value)).map(|i| i + 2))
        } else if msg.starts_with(EMPTY_DATE) {
            // (A bare `updated:` is no update; an empty `date` is the error.)
            key_line(&["date"], Some(""), 0).or_else(|| key_line(&["updated"], Some(""), 0))
        } else if let Some(key) = msg.strip_prefix("duplicate field `").and_then(|k| k.split('`').next()) {
            key_line(&[key], None, 1)
        } else {
            None
        }
        .or_else(|| e.location().map(|l| l.line() + 1));
        let (msg, hint) = match (msg.contains("unknown field"), crate::diag::nearest_field(&msg)) {
            (true, Some((typed, known))) => {
                (format!("unknown field `{typed}`: did you mean `{known}`?"), "custom fields go under `extra:`".to_string())
            }
            (true, None) => (msg, "check the spelling; custom fields go under `extra:`".to_string()),
            _ if msg.contains("missing field") => (msg, "every article needs `title:` and `date:`".to_string()),
            _ => match tab_line(split.front) {
                // The YAML parser's own words ("found character that cannot
                // start any token") do not say what is wrong.
                Some(tab) => {
                    let d = Diagnostic::new(file, Some(tab + 2), "front matter: tabs are not allowed for indentation in YAML");
                    return d.hint("indent with spaces");
                }
                None => {
                    let quote = line.and_then(|l| quote_hint(split.front.lines().nth(l.checked_sub(2)?)?));
                    (msg, quote.unwrap_or_else(|| "fix the YAML between the `---` lines".to_string()))
                }
            },
        };
        Diagnostic::new(file, line.or(Some(1)), format!("front matter: {msg}")).hint(hint)
    })?;
    let key_lines = key_lines(split.front);
    let mut authors = fm.authors.unwrap_or_default();
    if let Some(a) = fm.author {
        authors.insert(0, a);
    }
    let nfc_all = |v: Vec<String>| -> Vec<String> { v.into_iter().map(nfc).collect() };
    // `author: kim` with `authors: [kim, kim]` is one author.
    let mut authors = nfc_all(authors);
    let mut seen = std::collections::HashSet::new();
    authors.retain(|a| seen.insert(a.clone()));
    let summary = match fm.summary {
        Some(s) => s.trim().to_string(),
        None => first_paragraph_text(split.body),
    };
    let word_count = split.body.split_whitespace().count();
    let in_tz = |s: &str| parse_date(s, tz).expect("checked while reading the front matter");
    Ok(Meta {
        title: nfc(fm.title),
        date: in_tz(&fm.date),
        updated: fm.updated.as_deref().map(in_tz),
        authors,
        tags: nfc_all(fm.tags),
        categories: nfc_all(fm.categories),
        series: fm.series.map(nfc),
        summary,
        slug: nfc(fm.slug.unwrap_or_else(|| fallback_slug.to_string())),
        draft: fm.draft,
        image: fm.image,
        aliases: nfc_all(fm.aliases),
        image_aliases: fm.image_aliases,
        moved_to: fm.moved_to,
        kind: fm.kind,
        extra: fm.extra,
        word_count,
        reading_minutes: word_count.div_ceil(200).max(1),
        key_lines,
    })
}

/// For a front-matter line whose plain value YAML reads as something else
/// (`title: [속보] 헤드라인` is a list, `title: 속보: 헤드라인` a mapping,
/// `*`, `&`, `!` and the like start other syntax): the line with the value
/// quoted, to copy. `None` for a key that takes a list, or a quoted value.
fn quote_hint(line: &str) -> Option<String> {
    const LISTS: [&str; 5] = ["tags", "categories", "authors", "aliases", "image_aliases"];
    let (key, value) = line.split_once(": ")?;
    let value = value.trim();
    let misread = value.starts_with(['[', '{', '*', '&', '!', '|', '>', '%', '@', '`']) || value.contains(": ") || value.contains(" #");
    if line.starts_with([' ', '\t', '#', '-']) || LISTS.contains(&key.trim()) || !misread {
        return None;
    }
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    Some(format!("YAML reads this value as other syntax: put it in quotes, `{key}: \"{escaped}\"`"))
}

/// Each key's line in the front matter (counted from the file's first line).
fn key_lines(front: &str) -> BTreeMap<String, usize> {
    top_keys(front).map(|(i, k, _)| (k.to_string(), i + 2)).collect()
}

/// The top-level `key: value` lines of a YAML text, as written: the line's
/// index (from 0), the key and the value, unquoted. For error lines, which
/// the YAML parser places at the mapping rather than at the key.
pub fn top_keys(yaml: &str) -> impl Iterator<Item = (usize, &str, &str)> {
    fn unquote(s: &str) -> &str {
        s.trim().trim_matches(['"', '\''])
    }
    yaml.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with([' ', '\t', '-', '#']))
        .filter_map(move |(i, l)| l.split_once(':').map(|(k, v)| (i, unquote(k), unquote(v))))
}

/// Unicode NFC: names typed on macOS arrive decomposed (NFD), and `경제`
/// must be one tag, `résumé` one URL, whoever typed them.
pub fn nfc(s: String) -> String {
    if unicode_normalization::is_nfc(&s) { s } else { s.nfc().collect() }
}

/// How [`parse_date`] says a date was left empty (`date:` or `date: ""`).
const EMPTY_DATE: &str = "the date is empty";

/// Accepts RFC 3339 (its offset kept), and `YYYY-MM-DDTHH:MM:SS`,
/// `YYYY-MM-DD HH:MM` or `YYYY-MM-DD` (midnight) read as local time in `tz`:
/// `2024-11-25` on a Seoul site is midnight in Seoul, 15:00 UTC the day before.
pub fn parse_date(s: &str, tz: chrono_tz::Tz) -> Result<DateTime<FixedOffset>, String> {
    use chrono::TimeZone as _;
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d);
    }
    let naive = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(|d| d.and_hms_opt(0, 0, 0).expect("midnight")));
    let Some(naive) = naive else {
        const FORMATS: &str = "write YYYY-MM-DD, YYYY-MM-DD HH:MM or an RFC 3339 time such as 2024-05-01T09:30:00+09:00";
        return Err(match s {
            "" => format!("{EMPTY_DATE}; {FORMATS}"),
            _ => format!("`{s}` is not a date; {FORMATS}"),
        });
    };
    // A time skipped by a daylight-saving change is read an hour later.
    let local =
        tz.from_local_datetime(&naive).earliest().or_else(|| tz.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest());
    Ok(local.map(|d| d.fixed_offset()).unwrap_or_else(|| naive.and_utc().fixed_offset()))
}

fn de_date<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    parse_date(&s, chrono_tz::UTC).map(|_| s).map_err(serde::de::Error::custom)
}

fn de_opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)?.map(|s| parse_date(&s, chrono_tz::UTC).map(|_| s).map_err(serde::de::Error::custom)).transpose()
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
        if para.len() > SUMMARY_SOURCE_BYTES {
            break;
        }
    }
    cap_summary(&markdown_plain_text(&para))
}

/// The longest summary derived from the body, in characters: it is every
/// page's meta description, feed item and list entry (a 50 MB paragraph
/// once gave a 262 MB page). A `summary:` in front matter is used as written.
pub const SUMMARY_MAX_CHARS: usize = 300;

/// Markdown read for a derived summary, in bytes: enough for
/// [`SUMMARY_MAX_CHARS`] after links and markup are gone.
const SUMMARY_SOURCE_BYTES: usize = 8 * 1024;

/// `text` cut to [`SUMMARY_MAX_CHARS`] at the last space before it (or at
/// the limit, for text without spaces), with `…`.
fn cap_summary(text: &str) -> String {
    let Some((cut, _)) = text.char_indices().nth(SUMMARY_MAX_CHARS) else { return text.to_string() };
    let head = &text[..cut];
    let at_space = head.rfind(char::is_whitespace).filter(|&i| i > cut / 2).unwrap_or(cut);
    format!("{}…", head[..at_space].trim_end())
}

/// Inline Markdown to plain text (links keep their text, markup goes).
pub fn markdown_plain_text(md: &str) -> String {
    // Footnote definitions live elsewhere in the body; drop the markers.
    static FOOTNOTE_REF: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\[\^[^\]\s]+\]").expect("valid regex"));
    plain_text(&FOOTNOTE_REF.replace_all(md, ""), usize::MAX)
}

/// A Markdown body as plain text for search: words of every paragraph,
/// heading, list and table, one space between blocks; code blocks and raw
/// HTML left out. At most `limit` characters, cut at a space where one is near.
pub fn plain_text(md: &str, limit: usize) -> String {
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, md, &options(false));
    ast_text(root, limit)
}

fn ast_text<'a>(root: &'a comrak::nodes::AstNode<'a>, limit: usize) -> String {
    use comrak::arena_tree::NodeEdge;
    let mut out = String::new();
    let mut chars = 0;
    // Joins text pieces with single spaces, keeping "link." together.
    let push = |out: &mut String, chars: &mut usize, piece: &str| {
        let space_before = piece.starts_with(char::is_whitespace);
        for (i, word) in piece.split_whitespace().enumerate() {
            if !out.is_empty() && !out.ends_with(' ') && (i > 0 || space_before) {
                out.push(' ');
                *chars += 1;
            }
            out.push_str(word);
            *chars += word.chars().count();
        }
        if piece.ends_with(char::is_whitespace) && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
            *chars += 1;
        }
    };
    for edge in root.traverse() {
        if chars > limit {
            break;
        }
        match edge {
            NodeEdge::Start(node) => match &node.data().value {
                NodeValue::Text(t) => push(&mut out, &mut chars, t),
                NodeValue::Code(c) => push(&mut out, &mut chars, &c.literal),
                NodeValue::SoftBreak | NodeValue::LineBreak => push(&mut out, &mut chars, " "),
                _ => {}
            },
            NodeEdge::End(node) if node.data().value.block() => push(&mut out, &mut chars, " "),
            NodeEdge::End(_) => {}
        }
    }
    truncate_chars(out.trim_end(), limit)
}

/// At most `limit` characters of `s`, cut at the last space within the final
/// 20 characters when there is one (Hangul words are space-separated too).
fn truncate_chars(s: &str, limit: usize) -> String {
    let Some((cut, _)) = s.char_indices().nth(limit) else {
        return s.to_string();
    };
    let head = &s[..cut];
    let back = head.char_indices().rev().nth(20).map(|(i, _)| i).unwrap_or(0);
    match head[back..].rfind(' ') {
        Some(space) => head[..back + space].to_string(),
        None => head.to_string(),
    }
}

/// The extensions every body is parsed with, so every reader of a body
/// (renderer, search text, link checker) sees the same document.
fn options(unsafe_html: bool) -> Options<'static> {
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.strikethrough = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.extension.footnotes = true;
    options.extension.header_id_prefix = Some(String::new());
    options.render.r#unsafe = unsafe_html;
    options.render.escape = !unsafe_html;
    options
}

/// `href`/`src` attributes in raw HTML (links and images the checker follows).
static RAW_URL_ATTR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?is)<(a|img)\b[^>]*?\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("valid regex"));

/// Every link and image of a body with its file line, in document order;
/// raw HTML `<a href>` and `<img src>` only when the site renders raw HTML.
/// The links and images of a body, and the lines of raw HTML it shows as
/// text (see [`Body::escaped_html`]).
pub fn references(body: &str, body_line: usize, unsafe_html: bool) -> (Vec<Reference>, Vec<usize>) {
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, body, &options(unsafe_html));
    embed_paragraphs(root, unsafe_html);
    let escaped = escaped_html(root, unsafe_html).into_iter().map(|l| l + body_line - 1).collect();
    let mut out = Vec::new();
    for node in root.descendants() {
        let line = node.data().sourcepos.start.line + body_line - 1;
        match &node.data().value {
            NodeValue::Link(link) => out.push(Reference { url: link.url.clone(), line, image: false }),
            NodeValue::Image(link) => out.push(Reference { url: link.url.clone(), line, image: true }),
            NodeValue::HtmlBlock(NodeHtmlBlock { literal, .. }) | NodeValue::HtmlInline(literal) if unsafe_html => {
                for cap in RAW_URL_ATTR.captures_iter(literal) {
                    let url = cap.get(2).or(cap.get(3)).expect("one alternative matched");
                    let line = line + literal[..url.start()].matches('\n').count();
                    out.push(Reference { url: url.as_str().to_string(), line, image: cap[1].eq_ignore_ascii_case("img") });
                }
            }
            _ => {}
        }
    }
    (out, escaped)
}

/// The Markdown renderer shared by every site: one syntax set for the process.
pub struct Markdown {
    highlighter: Highlighter,
}

impl Default for Markdown {
    fn default() -> Self {
        Markdown { highlighter: Highlighter { syntect: SyntectAdapterBuilder::new().css().build(), done: Default::default() } }
    }
}

/// A link or image found in a body, with its file line.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub url: String,
    pub line: usize,
    pub image: bool,
}

/// A rendered body and its plain text.
pub struct Body {
    pub html: String,
    /// File lines with raw HTML that was shown as text (the site escapes raw HTML).
    pub escaped_html: Vec<usize>,
    /// Plain text for search, at most the `text_chars` asked for.
    pub text: String,
}

/// syntect's adapter, with code blocks reachable from the keyboard: on a
/// phone a `<pre>` scrolls sideways, and a reader without a pointer must be
/// able to focus it to scroll (axe: scrollable-region-focusable).
struct Highlighter {
    syntect: SyntectAdapter,
    /// Highlighted blocks by the hash of their language and code: a block
    /// that recurs (an install command, a snippet every article ends with)
    /// is highlighted once per process. syntect tries its syntax's patterns
    /// at every position of every line: a two-line block costs about 0.1 ms.
    done: std::sync::Mutex<Highlighted>,
}

/// The memo of [`Highlighter`], emptied when it outgrows its budget.
#[derive(Default)]
struct Highlighted {
    blocks: HashMap<[u8; 32], std::sync::Arc<str>>,
    bytes: usize,
}

/// What the highlighted blocks kept in memory may add up to, each counted
/// with [`ENTRY_BYTES`] for its key and place in the map.
const HIGHLIGHTED_BYTES: usize = 32 << 20;
const ENTRY_BYTES: usize = 64;

impl Highlighter {
    fn key(lang: Option<&str>, code: &str) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        // The language's length first: no two (language, code) pairs hash alike.
        let lang = lang.unwrap_or("");
        h.update(&(lang.len() as u64).to_le_bytes());
        h.update(lang.as_bytes());
        h.update(code.as_bytes());
        *h.finalize().as_bytes()
    }
}

impl comrak::adapters::SyntaxHighlighterAdapter for Highlighter {
    fn write_highlighted(&self, output: &mut dyn std::fmt::Write, lang: Option<&str>, code: &str) -> std::fmt::Result {
        let key = Highlighter::key(lang, code);
        let known = self.done.lock().expect("no panics while held").blocks.get(&key).cloned();
        let html = match known {
            Some(html) => html,
            None => {
                let mut html = String::new();
                self.syntect.write_highlighted(&mut html, lang, code)?;
                let html: std::sync::Arc<str> = html.into();
                let mut done = self.done.lock().expect("no panics while held");
                let size = html.len() + ENTRY_BYTES;
                if !done.blocks.contains_key(&key) && size <= HIGHLIGHTED_BYTES {
                    if done.bytes + size > HIGHLIGHTED_BYTES {
                        *done = Highlighted::default();
                    }
                    done.bytes += size;
                    done.blocks.insert(key, html.clone());
                }
                html
            }
        };
        output.write_str(&html)
    }

    fn write_pre_tag(&self, output: &mut dyn std::fmt::Write, _: HashMap<&'static str, std::borrow::Cow<'_, str>>) -> std::fmt::Result {
        // What syntect writes in its CSS mode (which drops the attributes), focusable.
        output.write_str("<pre class=\"syntax-highlighting\" tabindex=\"0\">")
    }

    fn write_code_tag(
        &self,
        output: &mut dyn std::fmt::Write,
        attributes: HashMap<&'static str, std::borrow::Cow<'_, str>>,
    ) -> std::fmt::Result {
        self.syntect.write_code_tag(output, attributes)
    }
}

/// What an image reference becomes: its published URL and, when the image
/// header tells, its size.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageOut {
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Resized copies in modern formats, best first (MIME type, `srcset`):
    /// the image becomes a `<picture>` with a `<source>` per format.
    pub sources: Vec<(&'static str, String)>,
    /// The `sizes` of those sources.
    pub sizes: String,
}

impl ImageOut {
    fn size_attrs(&self) -> String {
        match (self.width, self.height) {
            (Some(w), Some(h)) => format!(" width=\"{w}\" height=\"{h}\""),
            _ => String::new(),
        }
    }

    /// `<picture>` and its `<source>`s, written before the `<img>`; empty
    /// without sources.
    fn picture_open(&self) -> String {
        let mut out = String::new();
        if self.sources.is_empty() {
            return out;
        }
        out.push_str("<picture>");
        for (mime, srcset) in &self.sources {
            let (srcset, sizes) = (crate::theme::escape_html(srcset), crate::theme::escape_html(&self.sizes));
            out.push_str(&format!("<source type=\"{mime}\" srcset=\"{srcset}\" sizes=\"{sizes}\">"));
        }
        out
    }

    fn picture_close(&self) -> &'static str {
        if self.sources.is_empty() { "" } else { "</picture>" }
    }
}

/// What the HTML writer adds around and inside one Markdown image.
#[derive(Debug, Default)]
struct ImageAttrs {
    before: String,
    inside: String,
    after: &'static str,
}

/// `<img ... src="...">` in raw HTML (only rendered when a site allows raw HTML).
static RAW_IMG_SRC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?is)<img\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>"#).expect("valid regex"));

impl Markdown {
    /// GitHub-flavoured Markdown to HTML. Raw HTML is escaped unless the site
    /// opted in with `unsafe_html`. `rewrite_image` may replace each image URL
    /// (it gets the URL and the file line), for Markdown images and, when raw
    /// HTML is allowed, `<img src>`; all its errors are returned together.
    /// Images get their size when known and `loading="lazy"` after the first.
    /// The body's plain text (up to `text_chars`) comes from the same parse.
    pub fn render(
        &self,
        file: &Path,
        body: &str,
        body_line: usize,
        unsafe_html: bool,
        text_chars: usize,
        mut rewrite_image: impl FnMut(&str, usize) -> Result<Option<ImageOut>, Diagnostic>,
    ) -> Result<Body, Vec<Diagnostic>> {
        let options = options(unsafe_html);
        let arena = Arena::new();
        let root = comrak::parse_document(&arena, body, &options);
        if let Some((line, depth)) = too_deep(root, unsafe_html) {
            let line = line + body_line - 1;
            return Err(vec![
                Diagnostic::new(
                    file,
                    Some(line),
                    format!("nesting {depth} levels deep (quotes, lists, emphasis or HTML elements inside each other)"),
                )
                .hint(format!("at most {MAX_NESTING} levels are published: no reader needs more, and deeper pages crash HTML tools")),
            ]);
        }
        embed_paragraphs(root, unsafe_html);
        let escaped_html = escaped_html(root, unsafe_html);
        let mut images = Vec::new();
        let mut errors = Vec::new();
        // What each Markdown image gets around and inside it, by source position.
        let mut attrs: HashMap<(usize, usize), ImageAttrs> = HashMap::new();
        for node in root.descendants() {
            let pos = node.data().sourcepos.start;
            let line = pos.line + body_line - 1;
            let mut value = node.data_mut();
            match &mut value.value {
                NodeValue::Image(link) => {
                    images.push(Reference { url: link.url.clone(), line, image: true });
                    let mut extra = match rewrite_image(&link.url, line) {
                        Ok(Some(new)) => {
                            link.url = new.url.clone();
                            ImageAttrs { before: new.picture_open(), inside: new.size_attrs(), after: new.picture_close() }
                        }
                        Ok(None) => ImageAttrs::default(),
                        Err(d) => {
                            errors.push(d);
                            ImageAttrs::default()
                        }
                    };
                    if images.len() > 1 {
                        extra.inside.push_str(" loading=\"lazy\" decoding=\"async\"");
                    }
                    attrs.insert((pos.line, pos.column), extra);
                }
                NodeValue::HtmlBlock(NodeHtmlBlock { literal, .. }) | NodeValue::HtmlInline(literal) if unsafe_html => {
                    match rewrite_raw_images(literal, line, &mut images, &mut rewrite_image) {
                        Ok(Some(new)) => *literal = new,
                        Ok(None) => {}
                        Err(d) => errors.extend(d),
                    }
                }
                _ => {}
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let text = if text_chars == 0 { String::new() } else { ast_text(root, text_chars) };
        let mut plugins = Plugins::default();
        plugins.render.codefence_syntax_highlighter = Some(&self.highlighter);
        let mut html = String::with_capacity(body.len() * 3 / 2);
        comrak::html::format_document_with_formatter(root, &options, &mut html, &plugins, format_node, attrs)
            .expect("writing to a String cannot fail");
        let escaped_html = escaped_html.into_iter().map(|l| l + body_line - 1).collect();
        Ok(Body { html, text, escaped_html })
    }
}

/// How deep quotes, lists, emphasis and raw HTML may nest in an article.
/// Browsers and the HTML minifier recurse per level: 2,500 nested `>` ran
/// the render thread out of stack and aborted the whole process.
pub const MAX_NESTING: usize = 200;

/// The first line (within the body) where nesting passes [`MAX_NESTING`],
/// and how deep it goes there. Walks the tree without recursion; raw HTML
/// counts its open elements where it is published as HTML.
fn too_deep<'a>(root: &'a comrak::nodes::AstNode<'a>, unsafe_html: bool) -> Option<(usize, usize)> {
    use comrak::arena_tree::NodeEdge;
    let (mut depth, mut html) = (0usize, 0usize);
    for edge in root.traverse() {
        match edge {
            NodeEdge::Start(node) => {
                depth += 1;
                let data = node.data();
                let mut deepest = html;
                if unsafe_html && let NodeValue::HtmlBlock(NodeHtmlBlock { literal, .. }) | NodeValue::HtmlInline(literal) = &data.value {
                    (html, deepest) = html_depth(literal, html);
                }
                if depth + deepest > MAX_NESTING + 1 {
                    return Some((data.sourcepos.start.line.max(1), depth + deepest - 1));
                }
            }
            NodeEdge::End(_) => depth -= 1,
        }
    }
    None
}

/// Open elements after `html`, starting from `open`, and the most open
/// inside it (void elements and `<x/>` open nothing). A rough count: it
/// only has to see runaway nesting.
fn html_depth(html: &str, mut open: usize) -> (usize, usize) {
    let mut deepest = open;
    const VOID: [&str; 14] =
        ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "param"];
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if let Some(closing) = tag.strip_prefix('/') {
            if closing.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
                open = open.saturating_sub(1);
            }
        } else if tag.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && !tag.ends_with('/') {
            let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
            if !VOID.contains(&name.as_str()) {
                open += 1;
                deepest = deepest.max(open);
            }
        }
        rest = &rest[end.min(rest.len())..];
    }
    (open, deepest)
}

/// A paragraph that is only the URL of a known video or post becomes its
/// embed (gen's own markup, so it needs no raw HTML).
/// Lines (within the body) of raw HTML a site that escapes it shows as
/// text: the writer should learn that an `<iframe>` did not embed.
fn escaped_html<'a>(root: &'a comrak::nodes::AstNode<'a>, unsafe_html: bool) -> Vec<usize> {
    if unsafe_html {
        return vec![];
    }
    let mut lines: Vec<usize> = root
        .descendants()
        .filter(|n| matches!(n.data().value, NodeValue::HtmlBlock(_) | NodeValue::HtmlInline(_)))
        .map(|n| n.data().sourcepos.start.line)
        .collect();
    lines.dedup();
    lines
}

fn embed_paragraphs<'a>(root: &'a comrak::nodes::AstNode<'a>, unsafe_html: bool) {
    let lone_url = |p: &'a comrak::nodes::AstNode<'a>| -> Option<String> {
        let child = p.first_child()?;
        if child.next_sibling().is_some() {
            return None;
        }
        match &child.data().value {
            NodeValue::Link(link) => {
                let text = child.first_child().and_then(|t| match &t.data().value {
                    NodeValue::Text(t) => Some(t.to_string()),
                    _ => None,
                })?;
                (text.trim() == link.url.trim()
                    || text.trim().trim_start_matches("https://").trim_start_matches("http://")
                        == link.url.trim().trim_start_matches("https://").trim_start_matches("http://"))
                .then(|| link.url.clone())
            }
            NodeValue::Text(t) => Some(t.to_string()),
            _ => None,
        }
    };
    let found: Vec<(&'a comrak::nodes::AstNode<'a>, String)> = root
        .children()
        .filter_map(|p| match &p.data().value {
            NodeValue::Paragraph => lone_url(p).and_then(|u| crate::embed::Embed::parse(&u)).map(|e| (p, e.html())),
            // A provider's embed code, where raw HTML would be escaped: the
            // same player, from the validated id only.
            NodeValue::HtmlBlock(b) if !unsafe_html => crate::embed::Embed::from_html(&b.literal).map(|e| (p, e.html())),
            _ => None,
        })
        .collect();
    for (p, html) in found {
        while let Some(c) = p.first_child() {
            c.detach();
        }
        p.data_mut().value = NodeValue::Raw(html);
    }
}

/// Rewrites every `<img src>` of a raw HTML fragment; `None` when nothing changed.
fn rewrite_raw_images(
    html: &str,
    line: usize,
    images: &mut Vec<Reference>,
    rewrite_image: &mut impl FnMut(&str, usize) -> Result<Option<ImageOut>, Diagnostic>,
) -> Result<Option<String>, Vec<Diagnostic>> {
    let mut out = String::with_capacity(html.len());
    let mut last = 0;
    let mut errors = Vec::new();
    for cap in RAW_IMG_SRC.captures_iter(html) {
        let src = cap.get(1).or(cap.get(2)).expect("one alternative matched");
        // Lines inside a multi-line HTML block count from its first line.
        let line = line + html[..src.start()].matches('\n').count();
        images.push(Reference { url: src.as_str().to_string(), line, image: true });
        match rewrite_image(src.as_str(), line) {
            Ok(Some(new)) => {
                let tag = cap.get(0).expect("whole match");
                out.push_str(&html[last..tag.start()]);
                out.push_str(&new.picture_open());
                out.push_str(&html[tag.start()..src.start()]);
                out.push_str(&crate::theme::escape_html(&new.url));
                last = src.end();
                if !tag.as_str().to_ascii_lowercase().contains("width=") {
                    let quote_end = src.end() + 1;
                    out.push_str(&html[last..quote_end]);
                    out.push_str(&new.size_attrs());
                    last = quote_end;
                }
                out.push_str(&html[last..tag.end()]);
                out.push_str(new.picture_close());
                last = tag.end();
            }
            Ok(None) => {}
            Err(d) => errors.push(d),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if last == 0 {
        return Ok(None);
    }
    out.push_str(&html[last..]);
    Ok(Some(out))
}

/// comrak's HTML, with each image's extra attributes (size, lazy loading).
fn format_node<'a>(
    context: &mut comrak::html::Context<HashMap<(usize, usize), ImageAttrs>>,
    node: &'a comrak::nodes::AstNode<'a>,
    entering: bool,
) -> Result<ChildRendering, std::fmt::Error> {
    use std::fmt::Write as _;
    let NodeValue::Image(ref link) = node.data().value else {
        return comrak::html::format_node_default(context, node, entering);
    };
    let pos = node.data().sourcepos.start;
    if entering {
        if let Some(a) = context.user.get(&(pos.line, pos.column)) {
            let before = a.before.clone();
            context.write_str(&before)?;
        }
        context.write_str("<img src=\"")?;
        if context.options.render.r#unsafe || !comrak::html::dangerous_url(&link.url) {
            context.escape_href(&link.url)?;
        }
        context.write_str("\" alt=\"")?;
        return Ok(ChildRendering::Plain);
    }
    if !link.title.is_empty() {
        context.write_str("\" title=\"")?;
        context.escape(&link.title)?;
    }
    context.write_str("\"")?;
    let (inside, after) = context.user.get(&(pos.line, pos.column)).map(|a| (a.inside.clone(), a.after)).unwrap_or_default();
    context.write_str(&inside)?;
    context.write_str(" />")?;
    context.write_str(after)?;
    Ok(ChildRendering::HTML)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(text: &str) -> Result<Meta, Diagnostic> {
        parse_meta(text, Path::new("content/s/a.md"), "a", chrono_tz::UTC)
    }

    /// Found by a new user: Korean headlines open with a bracketed tag
    /// (`[속보]`) or hold a colon, which YAML reads as a list or a mapping;
    /// the error said "invalid type: sequence" and only "fix the YAML".
    #[test]
    fn an_unquoted_value_yaml_misreads_gets_a_hint_to_quote_it() {
        for (key, value) in [
            ("title", "[속보] 청년 가구 절반"),
            ("title", "속보: 청년 가구"),
            ("title", "[x"),
            ("summary", "{초안} 메모"),
            ("title", "*별표* 기사"),
        ] {
            let e = meta(&format!("---\n{key}: {value}\ndate: 2024-05-01\n---\nbody\n")).unwrap_err();
            assert_eq!(e.line, Some(2), "{e}");
            let quoted = format!("{key}: \"{value}\"");
            assert!(e.hint.as_deref().is_some_and(|h| h.contains(&quoted)), "{e}");
        }
        // A list where a list belongs is no mistake to hint at.
        let e = meta("---\ntitle: t\ndate: 2024-05-01\ntags: [a, b\n---\n").unwrap_err();
        assert!(!e.hint.as_deref().unwrap_or("").contains("quotes"), "{e}");
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
    fn a_derived_summary_is_capped() {
        let long = "word ".repeat(200_000); // 1 MB, one paragraph
        let s = first_paragraph_text(&long);
        assert!(s.chars().count() <= SUMMARY_MAX_CHARS + 1 && s.ends_with("word…"), "{s}");
        let korean = "가".repeat(1000);
        assert_eq!(first_paragraph_text(&korean).chars().count(), SUMMARY_MAX_CHARS + 1);
        assert_eq!(first_paragraph_text("Short one."), "Short one.");
    }

    /// Newsroom's first week: a misspelt key said only "unknown field", and a
    /// tab said "found character that cannot start any token".
    #[test]
    fn a_misspelt_field_suggests_the_known_one_and_a_tab_says_so() {
        let e = meta("---\ntitel: x\ndate: 2024-05-01\n---\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("unknown field `titel`: did you mean `title`?"), "{e}");
        let e = meta("---\ntitle: x\ndate: 2024-05-01\ncolour: red\n---\n").unwrap_err();
        assert!(e.message.contains("unknown field `colour`") && !e.message.contains("did you mean"), "{e}");
        let e = meta("---\ntitle: x\ndate: 2024-05-01\ntags:\n\t- a\n---\n").unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.message.contains("tabs are not allowed for indentation in YAML"), "{e}");
        assert_eq!(e.hint.as_deref(), Some("indent with spaces"));
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
        assert!(parse_date("2024-05-01T09:30:00+09:00", chrono_tz::UTC).is_ok());
        assert!(parse_date("2024-05-01T09:30:00", chrono_tz::UTC).is_ok());
        assert!(parse_date("2024-05-01", chrono_tz::UTC).is_ok());
        assert!(parse_date("01/05/2024", chrono_tz::UTC).is_err());
        let seoul = parse_date("2024-11-25", chrono_tz::Asia::Seoul).unwrap();
        assert_eq!(seoul.to_rfc3339(), "2024-11-25T00:00:00+09:00");
        assert_eq!(parse_date("2024-11-25T08:30:00+00:00", chrono_tz::Asia::Seoul).unwrap().to_rfc3339(), "2024-11-25T08:30:00+00:00");
        // 02:30 does not exist in Berlin on 2024-03-31 (clocks jump to 03:00).
        assert_eq!(parse_date("2024-03-31 02:30", chrono_tz::Europe::Berlin).unwrap().to_rfc3339(), "2024-03-31T03:30:00+02:00");
    }

    #[test]
    fn plain_text_separates_blocks_and_stops_at_the_limit() {
        let md =
            "# 제목\n\n첫 *문단*은 [링크](x).\n\n- 하나\n- two\n\n```rust\nfn hidden() {}\n```\n\n| a | b |\n|---|---|\n| 셀 | `code` |\n";
        assert_eq!(plain_text(md, 1000), "제목 첫 문단은 링크. 하나 two a b 셀 code");
        assert_eq!(plain_text(md, 9), "제목 첫 문단은");
        assert_eq!(plain_text("abcdefghij", 4), "abcd");
        assert_eq!(markdown_plain_text("First *para* with [a link](x).[^1]"), "First para with a link.");
    }

    #[test]
    fn references_have_lines_and_raw_html_only_when_allowed() {
        let body = "[a](/x/)\n\n![i](p.png)\n\n<a href=\"/raw/\">r</a>\n\ntext <https://e.org>\n";
        let refs = |unsafe_html| references(body, 5, unsafe_html).0.into_iter().map(|r| (r.url, r.line, r.image)).collect::<Vec<_>>();
        assert_eq!(refs(false), [("/x/".into(), 5, false), ("p.png".into(), 7, true), ("https://e.org".into(), 11, false)]);
        assert!(refs(true).contains(&("/raw/".into(), 9, false)));
    }

    #[test]
    fn raw_html_is_escaped_unless_allowed() {
        let md = Markdown::default();
        let safe = md.render(Path::new("a.md"), "<script>alert(1)</script>\n", 1, false, 0, |_, _| Ok(None)).unwrap();
        assert!(!safe.html.contains("<script>"), "{}", safe.html);
        assert!(safe.html.contains("&lt;script&gt;"), "{}", safe.html);
        let raw = md.render(Path::new("a.md"), "<script>alert(1)</script>\n", 1, true, 0, |_, _| Ok(None)).unwrap();
        assert!(raw.html.contains("<script>"));
    }

    #[test]
    fn images_with_variants_become_pictures_in_markdown_and_raw_html() {
        let md = Markdown::default();
        let text = "![a](p.jpg)\n\n<p><img alt=\"r\" src=\"q.jpg\"></p>\n";
        let out = |u: &str, _| {
            Ok(Some(ImageOut {
                url: format!("/i/{u}"),
                width: Some(300),
                height: Some(200),
                sources: vec![("image/webp", format!("/v/{u}-240.webp 240w, /v/{u}-480.webp 480w"))],
                sizes: "100vw".into(),
            }))
        };
        let body = md.render(Path::new("a.md"), text, 1, true, 0, out).unwrap();
        let html = scraper::Html::parse_fragment(&body.html);
        let pictures: Vec<_> = html.select(&scraper::Selector::parse("picture").unwrap()).collect();
        assert_eq!(pictures.len(), 2, "{}", body.html);
        for (p, name) in pictures.iter().zip(["p.jpg", "q.jpg"]) {
            let source = p.select(&scraper::Selector::parse("source").unwrap()).next().unwrap();
            assert_eq!(source.attr("type"), Some("image/webp"));
            assert_eq!(source.attr("srcset"), Some(format!("/v/{name}-240.webp 240w, /v/{name}-480.webp 480w").as_str()));
            assert_eq!(source.attr("sizes"), Some("100vw"));
            let img = p.select(&scraper::Selector::parse("img").unwrap()).next().unwrap();
            assert_eq!(img.attr("src"), Some(format!("/i/{name}").as_str()));
            assert_eq!((img.attr("width"), img.attr("height")), (Some("300"), Some("200")));
        }
    }

    #[test]
    fn images_after_the_first_load_lazily_and_raw_img_is_rewritten_only_when_allowed() {
        let md = Markdown::default();
        let text = "![one](a.png \"T\")\n\n![two](https://x.org/b.png)\n\n<img alt=\"r\" src='c.png'>\n";
        let seen = std::cell::RefCell::new(Vec::new());
        let out = |u: &str, line| {
            seen.borrow_mut().push((u.to_string(), line));
            Ok((!u.starts_with("http")).then(|| ImageOut { url: format!("/i/{u}"), width: Some(1), height: Some(2), ..Default::default() }))
        };
        let safe = md.render(Path::new("a.md"), text, 1, false, 0, out).unwrap();
        assert!(safe.html.contains("<img src=\"/i/a.png\" alt=\"one\" title=\"T\" width=\"1\" height=\"2\" />"), "{}", safe.html);
        assert!(safe.html.contains("<img src=\"https://x.org/b.png\" alt=\"two\" loading=\"lazy\" decoding=\"async\" />"), "{}", safe.html);
        assert!(safe.html.contains("&lt;img"), "raw HTML stays escaped: {}", safe.html);
        assert_eq!(seen.take().len(), 2);
        let raw = md.render(Path::new("a.md"), text, 1, true, 0, out).unwrap();
        assert!(raw.html.contains("<img alt=\"r\" src='/i/c.png' width=\"1\" height=\"2\">"), "{}", raw.html);
        let seen: Vec<(String, usize)> = seen.take();
        assert_eq!(
            seen.iter().map(|(u, l)| (u.as_str(), *l)).collect::<Vec<_>>(),
            [("a.png", 1), ("https://x.org/b.png", 3), ("c.png", 5)]
        );
    }

    #[test]
    fn code_is_highlighted_with_classes_and_images_are_reported() {
        let md = Markdown::default();
        let body = md
            .render(
                Path::new("a.md"),
                "![a](p.png)\n\n```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nx[^1]\n\n[^1]: note\n",
                7,
                false,
                0,
                |u, line| {
                    assert_eq!((u, line), ("p.png", 7));
                    Ok(Some(ImageOut { url: "/images/x.png".into(), width: Some(4), height: Some(3), ..Default::default() }))
                },
            )
            .unwrap();
        assert!(body.html.contains("class=\"syntax-highlighting\""), "{}", body.html);
        assert!(body.html.contains("<span class=\"source rust\">"), "{}", body.html);
        assert!(body.html.contains("<img src=\"/images/x.png\" alt=\"a\" width=\"4\" height=\"3\" />"), "{}", body.html);
        assert!(body.html.contains("<table>"));
        assert!(body.html.contains("footnote"));
    }

    #[test]
    fn a_recurring_code_block_is_highlighted_once_and_alike() {
        let md = Markdown::default();
        let html = |text: &str| md.render(Path::new("a.md"), text, 1, false, 0, |_, _| Ok(None)).unwrap().html;
        let block = "```python\ndef total(xs):\n    return sum(xs)\n```\n";
        let first = html(block);
        assert_eq!(md.highlighter.done.lock().unwrap().blocks.len(), 1);
        assert_eq!(html(&format!("Intro.\n\n{block}")), format!("<p>Intro.</p>\n{first}"));
        assert_eq!(md.highlighter.done.lock().unwrap().blocks.len(), 1, "the second came from the memo");
        // Another language or another line is another block.
        let rust = html(&block.replace("python", "rust"));
        assert_ne!(rust, first);
        assert!(rust.contains("source rust") && first.contains("source python"), "{rust}\n{first}");
        assert_ne!(html(&block.replace("sum(xs)", "sum(xs) + 1")), first);
        assert_eq!(md.highlighter.done.lock().unwrap().blocks.len(), 3);
        assert_eq!(html(block), first);
        assert!(md.highlighter.done.lock().unwrap().bytes > 3 * ENTRY_BYTES);
    }

    #[test]
    fn the_highlight_memo_is_emptied_when_full_and_never_holds_more_than_its_budget() {
        let md = Markdown::default();
        let html = |text: &str| md.render(Path::new("a.md"), text, 1, false, 0, |_, _| Ok(None)).unwrap().html;
        html("```text\na\n```\n");
        // As if the memo were full: the next new block empties it first.
        md.highlighter.done.lock().unwrap().bytes = HIGHLIGHTED_BYTES - 1;
        let b = "```text\nb\n```\n";
        assert_eq!(html(b), Markdown::default().render(Path::new("a.md"), b, 1, false, 0, |_, _| Ok(None)).unwrap().html);
        let done = md.highlighter.done.lock().unwrap();
        assert_eq!(done.blocks.len(), 1, "emptied, then the new block kept");
        assert!(done.bytes < 1024);
        drop(done);
        // A block larger than the whole budget is highlighted but not kept.
        let huge = format!("```text\n{}\n```\n", "x".repeat(HIGHLIGHTED_BYTES));
        assert!(html(&huge).len() > HIGHLIGHTED_BYTES);
        assert_eq!(md.highlighter.done.lock().unwrap().blocks.len(), 1);
    }

    #[test]
    fn a_lone_video_url_is_an_embed_even_where_raw_html_is_escaped() {
        let md = Markdown::default();
        let body = md
            .render(
                Path::new("a.md"),
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ\n\nSee https://youtu.be/dQw4w9WgXcQ here.\n\n<iframe src=\"https://evil.example/\"></iframe>\n\nhttps://example.com/not-a-video\n",
                1,
                false,
                0,
                |_, _| Ok(None),
            )
            .unwrap();
        let players = body.html.matches("<iframe src=\"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ\"").count();
        assert_eq!(players, 1, "{}", body.html);
        assert!(body.html.contains("<a href=\"https://youtu.be/dQw4w9WgXcQ\">"), "a URL inside text stays a link: {}", body.html);
        assert!(body.html.contains("&lt;iframe"), "raw HTML is still escaped: {}", body.html);
        assert!(body.html.contains("<a href=\"https://example.com/not-a-video\">"), "{}", body.html);
    }
}
