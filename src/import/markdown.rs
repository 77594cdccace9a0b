//! A WordPress post body (`content:encoded`) into Markdown.
//!
//! In WordPress's own order: comments and Gutenberg block delimiters go,
//! classic-editor text gets `wpautop`'s paragraphs, shortcodes become HTML
//! (or stay text, counted), then the HTML (parsed by html5ever) is written
//! as Markdown where Markdown can say it. What it cannot say is kept as raw
//! HTML only when the site renders raw HTML; otherwise its text stays and
//! the tag is counted.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use scraper::{ElementRef, Html, Node};

/// What the importer supplies: attachment lookup and reference rewriting.
pub trait Context {
    /// URL of WordPress attachment `id` (for `[gallery ids="1,2"]`).
    fn attachment_url(&self, id: u64) -> Option<String>;
    /// URLs of the attachments uploaded to this post (for `[gallery]`, `[audio]` without a source).
    fn children(&self) -> Vec<String>;
    /// A link's new href (internal links), or `None` to keep it.
    fn link(&mut self, href: &str) -> Option<String>;
    /// An image's new src (a file of the bundle), or the src itself.
    fn image(&mut self, src: &str) -> String;
    /// A link to the same picture as image `src` ("link to media file"): the link is dropped.
    fn same_image(&self, href: &str, src: &str) -> bool;
    /// Gutenberg footnotes of the post (its `footnotes` meta): id and HTML.
    fn footnotes(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

pub struct Options {
    /// The site renders raw HTML (`unsafe_html`).
    pub raw_html: bool,
}

#[derive(Debug, Default)]
pub struct Converted {
    pub markdown: String,
    pub unknown_shortcodes: BTreeMap<String, usize>,
    pub raw_html_kept: usize,
    pub dropped: BTreeMap<String, usize>,
}

/// The canonical page URL of a known embed (YouTube, Vimeo, X), else `None`.
pub fn embed_url(url: &str) -> Option<String> {
    crate::embed::Embed::parse(url).map(|e| e.url())
}

static COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<!--.*?-->").expect("valid regex"));
static PRE_OR_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?is)<(pre|code)\b.*?</(?:pre|code)>").expect("valid regex"));
static OPEN_SHORTCODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[(\[?)([A-Za-z][A-Za-z0-9_-]*)((?:[\s=][^\]]*)?)\](\]?)").expect("valid regex"));
static ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([\w-]+)\s*=\s*"([^"]*)"|([\w-]+)\s*=\s*'([^']*)'|([\w-]+)\s*=\s*([^\s'"]+)|"([^"]*)"|'([^']*)'|(\S+)"#)
        .expect("valid regex")
});

/// Shortcodes that enclose content (`[caption]…[/caption]`).
const ENCLOSING: [&str; 6] = ["caption", "wp_caption", "embed", "audio", "video", "youtube"];

pub fn convert(html: &str, opts: &Options, cx: &mut dyn Context) -> Converted {
    let mut out = Converted::default();
    static PARAGRAPH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)<p[\s>]").expect("valid regex"));
    let classic = !PARAGRAPH.is_match(html) && !html.contains("<!-- wp:");
    let text = COMMENT.replace_all(html, "");
    let text = if classic { wpautop(&text) } else { text.into_owned() };
    let text = shortcodes(&text, cx, &mut out);
    let frag = Html::parse_fragment(&text);
    let footnotes = cx.footnotes();
    let mut w = Writer { opts, cx, out: &mut out, footnotes, used: vec![] };
    let mut blocks = w.blocks(frag.root_element());
    // Footnotes referenced in the text, as Markdown footnotes at the end.
    for (n, i) in std::mem::take(&mut w.used).into_iter().enumerate() {
        let html = w.footnotes[i].1.clone();
        let note = Html::parse_fragment(&html);
        let text = one_line(&w.blocks(note.root_element()).join(" "));
        blocks.push(format!("[^{}]: {text}", n + 1));
    }
    let md = blocks.into_iter().filter(|b| !b.trim().is_empty()).collect::<Vec<_>>().join("\n\n");
    let md: Vec<&str> = md.lines().map(str::trim_end).collect();
    out.markdown = if md.is_empty() { String::new() } else { md.join("\n").trim().to_string() + "\n" };
    out
}

/// The plain text of an HTML fragment: tags gone, entities decoded, spaces collapsed.
pub fn plain_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return html.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let frag = Html::parse_fragment(&COMMENT.replace_all(html, ""));
    frag.root_element().text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

const BLOCKS: &str = "table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|area|blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|footer|nav|figure|figcaption|details|menu|summary";

/// WordPress's paragraph rules: blank-line-separated text into `<p>`, a
/// single newline into `<br />`, never inside `<pre>` or around blocks.
pub fn wpautop(text: &str) -> String {
    static OPEN: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"(?i)<(?:{BLOCKS})[\s/>]")).expect("valid regex"));
    static CLOSE: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"(?i)</(?:{BLOCKS})>")).expect("valid regex"));
    static BLANK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\n\s*\n").expect("valid regex"));
    static STARTS_BLOCK: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"(?i)^</?(?:{BLOCKS})[\s/>]")).expect("valid regex"));
    if text.trim().is_empty() {
        return String::new();
    }
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    // <pre> keeps its newlines: set aside and put back at the end.
    let mut pres = Vec::new();
    let text = PRE_OR_CODE.replace_all(&text, |c: &Captures| {
        if c[1].eq_ignore_ascii_case("pre") {
            pres.push(c[0].to_string());
            format!("<pre wp-pre-tag-{}></pre>", pres.len() - 1)
        } else {
            c[0].to_string()
        }
    });
    let text = OPEN.replace_all(&text, "\n\n$0");
    let text = CLOSE.replace_all(&text, "$0\n\n");
    let mut out = String::new();
    for chunk in BLANK.split(&text) {
        let chunk = chunk.trim();
        if chunk.is_empty() {
            continue;
        }
        if STARTS_BLOCK.is_match(chunk) {
            out.push_str(chunk);
        } else {
            out.push_str("<p>");
            out.push_str(&chunk.split('\n').map(str::trim).collect::<Vec<_>>().join("<br />\n"));
            out.push_str("</p>");
        }
        out.push('\n');
    }
    for (i, pre) in pres.iter().enumerate() {
        out = out.replace(&format!("<pre wp-pre-tag-{i}></pre>"), pre);
    }
    out
}

/// Replaces the shortcodes gen knows with HTML; others stay as text, counted.
fn shortcodes(text: &str, cx: &mut dyn Context, out: &mut Converted) -> String {
    // Text inside <pre> and <code> is never a shortcode.
    let mut result = String::with_capacity(text.len());
    let mut last = 0;
    for m in PRE_OR_CODE.find_iter(text) {
        result.push_str(&shortcodes_in(&text[last..m.start()], cx, out));
        result.push_str(m.as_str());
        last = m.end();
    }
    result.push_str(&shortcodes_in(&text[last..], cx, out));
    result
}

fn shortcodes_in(text: &str, cx: &mut dyn Context, out: &mut Converted) -> String {
    let mut result = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(c) = OPEN_SHORTCODE.captures_at(text, pos) {
        let whole = c.get(0).expect("match");
        result.push_str(&text[pos..whole.start()]);
        let name = c[2].to_ascii_lowercase();
        // `[[name]]` is WordPress's escape for a literal `[name]`.
        if !c[1].is_empty() && !c[4].is_empty() {
            result.push_str(&whole.as_str()[1..whole.len() - 1]);
            pos = whole.end();
            continue;
        }
        let attrs_raw = c[3].trim_end_matches('/').to_string();
        let mut end = whole.end() - c[4].len();
        let mut inner = String::new();
        if ENCLOSING.contains(&name.as_str()) {
            let close = format!("[/{}]", &c[2]);
            if let Some(i) = text[end..].find(&close) {
                inner = text[end..end + i].to_string();
                end += i + close.len();
            }
        }
        let attrs = parse_attrs(&attrs_raw);
        match render_shortcode(&name, &attrs, &inner, cx) {
            Some(html) => result.push_str(&html),
            None => {
                *out.unknown_shortcodes.entry(c[2].to_string()).or_default() += 1;
                result.push_str(&text[whole.start()..whole.end() - c[4].len()]);
                end = whole.end() - c[4].len();
            }
        }
        pos = end;
    }
    result.push_str(&text[pos..]);
    result
}

/// Named attributes and positional values (`[youtube URL]`, `[youtube=URL]`).
struct Attrs {
    named: BTreeMap<String, String>,
    positional: Vec<String>,
}

impl Attrs {
    fn get(&self, k: &str) -> Option<&str> {
        self.named.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
}

fn parse_attrs(raw: &str) -> Attrs {
    let raw = raw.trim();
    let raw = raw.strip_prefix('=').unwrap_or(raw);
    let mut a = Attrs { named: BTreeMap::new(), positional: vec![] };
    for c in ATTR.captures_iter(raw) {
        if let (Some(k), Some(v)) = (c.get(1).or(c.get(3)).or(c.get(5)), c.get(2).or(c.get(4)).or(c.get(6))) {
            a.named.insert(k.as_str().to_ascii_lowercase(), decode_entities(v.as_str()));
        } else if let Some(v) = c.get(7).or(c.get(8)).or(c.get(9)) {
            a.positional.push(decode_entities(v.as_str()));
        }
    }
    a
}

fn has_ext(url: &str, exts: &[&str]) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit_once('.').is_some_and(|(_, e)| exts.contains(&e.to_ascii_lowercase().as_str()))
}

fn decode_entities(s: &str) -> String {
    if s.contains('&') { plain_text(s) } else { s.to_string() }
}

fn escape_attr(s: &str) -> String {
    crate::theme::escape_html(s)
}

fn embed_element(url: &str) -> String {
    format!("<gen-embed url=\"{}\"></gen-embed>", escape_attr(url))
}

fn render_shortcode(name: &str, a: &Attrs, inner: &str, cx: &mut dyn Context) -> Option<String> {
    match name {
        "caption" | "wp_caption" => {
            // The caption is the text after the image (or its link); old exports put it in `caption=`.
            static IMAGE: LazyLock<Regex> =
                LazyLock::new(|| Regex::new(r"(?is)^\s*((?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?)(.*)$").expect("valid regex"));
            let (image, caption) = match IMAGE.captures(inner) {
                Some(c) => (c[1].to_string(), c[2].trim().to_string()),
                None => (inner.to_string(), String::new()),
            };
            let caption = if caption.is_empty() { a.get("caption").map(escape_attr).unwrap_or_default() } else { caption };
            Some(format!("<figure>{image}<figcaption>{caption}</figcaption></figure>"))
        }
        "gallery" => {
            // Without ids, WordPress shows the images uploaded to the post.
            let urls: Vec<String> = match a.get("ids").or(a.get("include")) {
                Some(ids) => ids.split(',').filter_map(|id| id.trim().parse::<u64>().ok()).filter_map(|id| cx.attachment_url(id)).collect(),
                None => cx.children().into_iter().filter(|u| has_ext(u, crate::images::EXTENSIONS.as_slice())).collect(),
            };
            if urls.is_empty() {
                return None;
            }
            let imgs: String = urls.into_iter().map(|url| format!("<p><img src=\"{}\" alt=\"\"></p>", escape_attr(&url))).collect();
            Some(format!("<figure class=\"gallery\">{imgs}</figure>"))
        }
        "embed" => {
            let url = plain_text(inner);
            Some(match embed_url(&url) {
                Some(u) => embed_element(&u),
                None => format!("<p><a href=\"{0}\">{0}</a></p>", escape_attr(&url)),
            })
        }
        "youtube" | "vimeo" | "tweet" => {
            let raw = a
                .positional
                .first()
                .cloned()
                .or_else(|| a.get("url").or(a.get("id")).map(str::to_string))
                .unwrap_or_else(|| plain_text(inner));
            let url = match name {
                "vimeo" if raw.chars().all(|c| c.is_ascii_digit()) => format!("https://vimeo.com/{raw}"),
                "youtube" if !raw.contains('/') => format!("https://www.youtube.com/watch?v={raw}"),
                _ => raw,
            };
            embed_url(&url).map(|u| embed_element(&u))
        }
        "audio" | "video" => {
            let keys: &[&str] =
                if name == "audio" { &["src", "mp3", "m4a", "ogg", "wav", "flac"] } else { &["src", "mp4", "m4v", "webm", "ogv", "flv"] };
            let exts: &[&str] = if name == "audio" { &["mp3", "m4a", "ogg", "wav", "flac"] } else { &["mp4", "m4v", "webm", "ogv", "mov"] };
            let src = keys
                .iter()
                .find_map(|k| a.get(k))
                .map(str::to_string)
                .or_else(|| a.positional.first().cloned())
                .or_else(|| Some(plain_text(inner)).filter(|t| !t.is_empty()))
                // Without a source, WordPress plays the first one uploaded to the post.
                .or_else(|| cx.children().into_iter().find(|u| has_ext(u, exts)))?;
            Some(format!("<{name} controls src=\"{}\"></{name}>", escape_attr(&src)))
        }
        _ => None,
    }
}

/// Elements whose markup Markdown cannot say, kept whole when raw HTML is allowed.
const RAW_OK: [&str; 12] = ["iframe", "video", "audio", "details", "sup", "sub", "mark", "kbd", "abbr", "object", "embed", "dl"];
/// Dropped with their content.
const DROP: [&str; 9] = ["script", "style", "noscript", "form", "input", "button", "select", "textarea", "template"];
const BLOCK_TAGS: [&str; 33] = [
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "blockquote",
    "pre",
    "table",
    "figure",
    "figcaption",
    "hr",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "aside",
    "address",
    "center",
    "details",
    "dl",
    "gen-embed",
    "iframe",
    "video",
    "audio",
    "hgroup",
];

struct Writer<'a> {
    opts: &'a Options,
    cx: &'a mut dyn Context,
    out: &'a mut Converted,
    footnotes: Vec<(String, String)>,
    /// Footnotes referenced so far, in order (indexes into `footnotes`).
    used: Vec<usize>,
}

fn is_block(el: &ElementRef) -> bool {
    let name = el.value().name();
    BLOCK_TAGS.contains(&name) || DROP.contains(&name)
}

impl Writer<'_> {
    /// The children of `el` as Markdown blocks; inline runs become paragraphs.
    fn blocks(&mut self, el: ElementRef) -> Vec<String> {
        self.blocks_with(el, None)
    }

    /// [`Self::blocks`]; with `cite`, a quote's `<cite>` is taken out into it.
    fn blocks_with(&mut self, el: ElementRef, mut cite: Option<&mut Option<String>>) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut para = String::new();
        for child in el.children() {
            match child.value() {
                Node::Text(t) => para.push_str(&escape_text(t)),
                Node::Element(_) => {
                    let e = ElementRef::wrap(child).expect("an element");
                    if e.value().name() == "cite"
                        && let Some(c) = cite.as_deref_mut()
                    {
                        *c = Some(one_line(&self.inline_children(e)));
                    } else if is_block(&e) {
                        flush(&mut para, &mut blocks);
                        blocks.extend(self.block(e));
                    } else {
                        para.push_str(&self.inline(e));
                    }
                }
                _ => {}
            }
        }
        flush(&mut para, &mut blocks);
        blocks
    }

    fn block(&mut self, e: ElementRef) -> Vec<String> {
        let name = e.value().name();
        match name {
            "p" | "center" | "address" => self.blocks(e),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level: usize = name[1..].parse().unwrap_or(2);
                let text = one_line(&self.inline_children(e));
                if text.is_empty() { vec![] } else { vec![format!("{} {text}", "#".repeat(level))] }
            }
            "hr" => vec!["---".into()],
            "ul" | "ol" => vec![self.list(e, name == "ol")],
            "blockquote" => {
                let mut inner = Vec::new();
                let mut cite = None;
                for b in self.blocks_with(e, Some(&mut cite)) {
                    inner.push(b);
                }
                if let Some(c) = cite.filter(|c: &String| !c.is_empty()) {
                    inner.push(format!("— {c}"));
                }
                if inner.is_empty() {
                    return vec![];
                }
                vec![prefix_lines(&inner.join("\n\n"), "> ", ">")]
            }
            "pre" => vec![code_block(e)],
            "table" => self.table(e),
            "figure" => self.figure(e),
            "figcaption" => {
                let t = one_line(&self.inline_children(e));
                if t.is_empty() { vec![] } else { vec![format!("*{t}*")] }
            }
            "gen-embed" => e.value().attr("url").map(|u| vec![u.to_string()]).unwrap_or_default(),
            "iframe" | "video" | "audio" => self.media(e),
            "details" | "dl" if self.opts.raw_html => self.raw(e),
            n if DROP.contains(&n) => {
                *self.out.dropped.entry(n.to_string()).or_default() += 1;
                vec![]
            }
            "dl" => self.definitions(e),
            "details" => {
                *self.out.dropped.entry(name.to_string()).or_default() += 1;
                self.blocks(e)
            }
            "li" => self.blocks(e),
            // div, section, article, header, footer, main, nav, aside: their content.
            _ => self.blocks(e),
        }
    }

    fn raw(&mut self, e: ElementRef) -> Vec<String> {
        self.out.raw_html_kept += 1;
        vec![e.html()]
    }

    fn list(&mut self, e: ElementRef, ordered: bool) -> String {
        let mut n: usize = e.value().attr("start").and_then(|s| s.trim().parse().ok()).unwrap_or(1);
        let mut items = Vec::new();
        for li in e.children().filter_map(ElementRef::wrap) {
            if li.value().name() != "li" {
                continue;
            }
            let marker = if ordered { format!("{n}. ") } else { "- ".to_string() };
            n += 1;
            let body = self.blocks(li);
            let loose = body.len() > 1 && body.iter().filter(|b| !b.starts_with("- ") && !starts_numbered(b)).count() > 1;
            let text = body.join(if loose { "\n\n" } else { "\n" });
            let indent = " ".repeat(marker.len());
            let mut lines = text.lines();
            let mut item = format!("{marker}{}", lines.next().unwrap_or(""));
            for l in lines {
                item.push('\n');
                if !l.is_empty() {
                    item.push_str(&indent);
                    item.push_str(l);
                }
            }
            items.push(item);
        }
        items.join("\n")
    }

    /// A definition list Markdown cannot say: a list of each term in bold
    /// followed by its definitions (`- **Term**: one; another`).
    fn definitions(&mut self, e: ElementRef) -> Vec<String> {
        let mut items: Vec<(String, Vec<String>)> = Vec::new();
        for child in e.children().filter_map(ElementRef::wrap) {
            let text = one_line(&self.inline_children(child));
            match child.value().name() {
                "dt" => items.push((text, vec![])),
                "dd" if !text.is_empty() => match items.last_mut() {
                    Some((_, defs)) => defs.push(text),
                    None => items.push((String::new(), vec![text])),
                },
                _ => {}
            }
        }
        let lines: Vec<String> = items
            .into_iter()
            .filter(|(t, d)| !t.is_empty() || !d.is_empty())
            .map(|(term, defs)| match (term.is_empty(), defs.is_empty()) {
                (true, _) => format!("- {}", defs.join("; ")),
                (false, true) => format!("- {}", wrap_inline(&term, "**")),
                (false, false) => format!("- {}: {}", wrap_inline(&term, "**"), defs.join("; ")),
            })
            .collect();
        if lines.is_empty() { vec![] } else { vec![lines.join("\n")] }
    }

    fn table(&mut self, e: ElementRef) -> Vec<String> {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut regular = true;
        let tr_sel = scraper::Selector::parse("tr").expect("valid selector");
        for tr in e.select(&tr_sel) {
            // Rows of a nested table belong to it.
            if tr.ancestors().filter_map(ElementRef::wrap).find(|a| a.value().name() == "table").map(|t| t.id()) != Some(e.id()) {
                continue;
            }
            let mut row = Vec::new();
            for cell in tr.children().filter_map(ElementRef::wrap).filter(|c| matches!(c.value().name(), "td" | "th")) {
                if cell.value().attr("colspan").is_some_and(|v| v != "1") || cell.value().attr("rowspan").is_some_and(|v| v != "1") {
                    regular = false;
                }
                if cell
                    .descendants()
                    .filter_map(ElementRef::wrap)
                    .any(|d| matches!(d.value().name(), "ul" | "ol" | "table" | "pre" | "blockquote"))
                {
                    regular = false;
                }
                row.push(one_line(&self.blocks(cell).join(" ")));
            }
            if !row.is_empty() {
                rows.push(row);
            }
        }
        if rows.is_empty() {
            return vec![];
        }
        let width = rows[0].len();
        if regular && rows.iter().all(|r| r.len() == width) {
            let line = |r: &[String]| format!("| {} |", r.join(" | "));
            let mut out = vec![line(&rows[0]), format!("|{}", " --- |".repeat(width))];
            out.extend(rows[1..].iter().map(|r| line(r)));
            return vec![out.join("\n")];
        }
        if self.opts.raw_html {
            return self.raw(e);
        }
        *self.out.dropped.entry("table".into()).or_default() += 1;
        rows.into_iter().map(|r| r.join(" | ")).collect()
    }

    fn figure(&mut self, e: ElementRef) -> Vec<String> {
        let class = e.value().attr("class").unwrap_or("");
        if class.contains("wp-block-embed") || class.contains("wp-block-video") && e.text().any(|t| t.contains("://")) {
            let url = e
                .text()
                .flat_map(str::split_whitespace)
                .find(|t| t.starts_with("http"))
                .map(str::to_string)
                .or_else(|| e.descendants().filter_map(ElementRef::wrap).find_map(|d| d.value().attr("src").map(str::to_string)));
            if let Some(url) = url {
                let mut out = vec![match embed_url(&url) {
                    Some(u) => u,
                    None => format!("<{url}>"),
                }];
                if let Some(cap) = e.children().filter_map(ElementRef::wrap).find(|c| c.value().name() == "figcaption") {
                    out.extend(self.block(cap));
                }
                return out;
            }
        }
        if class.contains("wp-block-pullquote") {
            let mut cite = None;
            let inner: Vec<String> = e
                .children()
                .filter_map(ElementRef::wrap)
                .flat_map(|c| if c.value().name() == "blockquote" { self.blocks_with(c, Some(&mut cite)) } else { self.block_or_inline(c) })
                .collect();
            let mut inner = inner;
            if let Some(c) = cite.filter(|c| !c.is_empty()) {
                inner.push(format!("— {c}"));
            }
            return if inner.is_empty() { vec![] } else { vec![prefix_lines(&inner.join("\n\n"), "> ", ">")] };
        }
        self.blocks(e)
    }

    fn block_or_inline(&mut self, e: ElementRef) -> Vec<String> {
        if is_block(&e) {
            self.block(e)
        } else {
            let t = self.inline(e);
            if t.trim().is_empty() { vec![] } else { vec![t.trim().to_string()] }
        }
    }

    fn media(&mut self, e: ElementRef) -> Vec<String> {
        let name = e.value().name();
        let src = e.value().attr("src").map(str::to_string).or_else(|| {
            e.descendants()
                .filter_map(ElementRef::wrap)
                .find(|d| d.value().name() == "source")
                .and_then(|s| s.value().attr("src").map(str::to_string))
        });
        if let Some(url) = src.as_deref().and_then(embed_url) {
            return vec![url];
        }
        if self.opts.raw_html {
            return self.raw(e);
        }
        *self.out.dropped.entry(name.to_string()).or_default() += 1;
        let Some(src) = src.filter(|s| !s.is_empty()) else { return self.blocks(e) };
        let label = match name {
            "audio" => "Audio",
            "video" => "Video",
            _ => "Embedded page",
        };
        let file = src.split(['?', '#']).next().unwrap_or(&src).trim_end_matches('/').rsplit('/').next().unwrap_or(&src).to_string();
        vec![format!("[{label}: {}]({})", escape_text(&file), link_dest(&src))]
    }

    fn inline_children(&mut self, e: ElementRef) -> String {
        let mut s = String::new();
        for child in e.children() {
            match child.value() {
                Node::Text(t) => s.push_str(&escape_text(t)),
                Node::Element(_) => {
                    let el = ElementRef::wrap(child).expect("an element");
                    if is_block(&el) {
                        // A block inside an inline context: its text, on one line.
                        s.push(' ');
                        s.push_str(&self.blocks(el).join(" "));
                        s.push(' ');
                    } else {
                        s.push_str(&self.inline(el));
                    }
                }
                _ => {}
            }
        }
        s
    }

    fn inline(&mut self, e: ElementRef) -> String {
        let name = e.value().name();
        match name {
            "strong" | "b" => wrap_inline(&self.inline_children(e), "**"),
            "em" | "i" => wrap_inline(&self.inline_children(e), "*"),
            "del" | "s" | "strike" => wrap_inline(&self.inline_children(e), "~~"),
            "code" | "tt" => {
                let t: String = e.text().collect();
                code_span(&t)
            }
            "br" => "\\\n".into(),
            "img" => self.image(e),
            "a" => self.anchor(e),
            "sup" if e.value().attr("data-fn").is_some() => {
                let id = e.value().attr("data-fn").unwrap_or_default();
                match self.footnotes.iter().position(|(f, _)| f == id) {
                    Some(i) => {
                        let n = match self.used.iter().position(|&u| u == i) {
                            Some(n) => n,
                            None => {
                                self.used.push(i);
                                self.used.len() - 1
                            }
                        };
                        format!("[^{}]", n + 1)
                    }
                    None => String::new(),
                }
            }
            n if RAW_OK.contains(&n) && self.opts.raw_html => {
                self.out.raw_html_kept += 1;
                e.html()
            }
            n if DROP.contains(&n) => {
                *self.out.dropped.entry(n.to_string()).or_default() += 1;
                String::new()
            }
            n if RAW_OK.contains(&n) => {
                *self.out.dropped.entry(n.to_string()).or_default() += 1;
                self.inline_children(e)
            }
            _ => self.inline_children(e),
        }
    }

    fn image(&mut self, e: ElementRef) -> String {
        let Some(src) = e.value().attr("src").filter(|s| !s.trim().is_empty()) else { return String::new() };
        let src = self.cx.image(src.trim());
        let alt = one_line(&escape_text(e.value().attr("alt").unwrap_or("")));
        match e.value().attr("title").filter(|t| !t.trim().is_empty()) {
            Some(t) => format!("![{alt}]({} \"{}\")", link_dest(&src), t.replace('"', "\\\"")),
            None => format!("![{alt}]({})", link_dest(&src)),
        }
    }

    fn anchor(&mut self, e: ElementRef) -> String {
        let href = e.value().attr("href").map(str::trim).unwrap_or("");
        // "Link to media file": the image alone.
        let imgs: Vec<ElementRef> = e.descendants().filter_map(ElementRef::wrap).filter(|d| d.value().name() == "img").collect();
        if imgs.len() == 1 && e.text().all(|t| t.trim().is_empty()) {
            let src = imgs[0].value().attr("src").unwrap_or("");
            if href.is_empty() || self.cx.same_image(href, src) {
                return self.image(imgs[0]);
            }
        }
        let text = self.inline_children(e);
        if href.is_empty() || href.starts_with("javascript:") {
            return text;
        }
        if text.trim().is_empty() {
            return String::new();
        }
        let href = self.cx.link(href).unwrap_or_else(|| href.to_string());
        format!("[{}]({})", text.trim(), link_dest(&href))
    }
}

fn flush(para: &mut String, blocks: &mut Vec<String>) {
    let p = std::mem::take(para);
    let p = tidy_paragraph(&p);
    if !p.is_empty() {
        blocks.push(p);
    }
}

/// Whitespace collapsed (hard breaks kept), no break at either end, and a
/// first character that would start another block escaped.
fn tidy_paragraph(p: &str) -> String {
    let lines: Vec<String> = p.split("\\\n").map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let lines: Vec<String> = lines.into_iter().filter(|l| !l.is_empty()).map(|l| escape_line_start(&l)).collect();
    lines.join("\\\n")
}

fn escape_line_start(l: &str) -> String {
    static NUMBERED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+)([.)])(\s|$)").expect("valid regex"));
    if let Some(c) = NUMBERED.captures(l) {
        return format!("{}\\{}", &c[1], &l[c[1].len()..]);
    }
    match l.chars().next() {
        Some('#' | '>' | '-' | '+' | '=') => format!("\\{l}"),
        _ => l.to_string(),
    }
}

fn starts_numbered(b: &str) -> bool {
    b.split_once(". ").is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Text as Markdown that renders literally.
fn escape_text(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '&' if chars.peek().is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#') => out.push_str("\\&"),
            '\u{a0}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn one_line(s: &str) -> String {
    s.replace("\\\n", " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `**x**` around text, with its edge spaces moved outside (CommonMark needs that).
fn wrap_inline(inner: &str, mark: &str) -> String {
    let t = inner.trim();
    if t.is_empty() {
        return inner.to_string();
    }
    let lead = if inner.starts_with(char::is_whitespace) { " " } else { "" };
    let trail = if inner.ends_with(char::is_whitespace) { " " } else { "" };
    format!("{lead}{mark}{t}{mark}{trail}")
}

fn code_span(t: &str) -> String {
    let t = t.replace('\n', " ");
    let mut ticks = 1;
    while t.contains(&"`".repeat(ticks)) {
        ticks += 1;
    }
    let fence = "`".repeat(ticks);
    let pad = if t.starts_with('`') || t.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{t}{pad}{fence}")
}

fn code_block(e: ElementRef) -> String {
    static LANG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:language-|lang-|brush:\s*)([A-Za-z0-9_+#-]+)").expect("valid regex"));
    let classes: String = std::iter::once(e)
        .chain(e.children().filter_map(ElementRef::wrap).filter(|c| c.value().name() == "code"))
        .filter_map(|x| x.value().attr("class"))
        .collect::<Vec<_>>()
        .join(" ");
    let lang = LANG.captures(&classes).map(|c| c[1].to_ascii_lowercase()).unwrap_or_default();
    let text: String = e.text().collect();
    let text = text.trim_matches('\n');
    let mut ticks = 3;
    while text.contains(&"`".repeat(ticks)) {
        ticks += 1;
    }
    let fence = "`".repeat(ticks);
    format!("{fence}{lang}\n{text}\n{fence}")
}

fn prefix_lines(s: &str, prefix: &str, empty: &str) -> String {
    s.lines().map(|l| if l.is_empty() { empty.to_string() } else { format!("{prefix}{l}") }).collect::<Vec<_>>().join("\n")
}

/// A link destination: `<…>` when it has spaces or parentheses.
fn link_dest(url: &str) -> String {
    if url.contains(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '<' | '>')) {
        format!("<{}>", url.replace('<', "%3C").replace('>', "%3E"))
    } else {
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cx;

    impl Context for Cx {
        fn attachment_url(&self, id: u64) -> Option<String> {
            (id < 100).then(|| format!("https://x.example/wp-content/uploads/2023/12/g{id}.jpg"))
        }
        fn children(&self) -> Vec<String> {
            vec!["https://x.example/wp-content/uploads/2023/12/c1.jpg".into(), "https://x.example/wp-content/uploads/2023/12/c2.mp3".into()]
        }
        fn link(&mut self, href: &str) -> Option<String> {
            (href == "https://x.example/?p=1").then(|| "/news/one/".to_string())
        }
        fn image(&mut self, src: &str) -> String {
            src.rsplit('/').next().unwrap().to_string()
        }
        fn same_image(&self, href: &str, src: &str) -> bool {
            super::super::uploads::original_name(href.rsplit('/').next().unwrap())
                == super::super::uploads::original_name(src.rsplit('/').next().unwrap())
        }
    }

    fn md(html: &str) -> String {
        convert(html, &Options { raw_html: false }, &mut Cx).markdown
    }

    fn md_raw(html: &str) -> String {
        convert(html, &Options { raw_html: true }, &mut Cx).markdown
    }

    #[test]
    fn a_classic_post_gets_paragraphs_and_line_breaks() {
        let out = md("First line\nsecond line\n\nNext paragraph.\n\n<pre>keep\n\nthis</pre>");
        assert_eq!(out, "First line\\\nsecond line\n\nNext paragraph.\n\n```\nkeep\n\nthis\n```\n");
    }

    /// #24 case 8e: definition lists came out as run-together text.
    #[test]
    fn a_definition_list_becomes_a_list_of_terms_unless_raw_html_is_kept() {
        let html =
            "<dl><dt>WordPress</dt><dd>A blog engine.</dd><dt><em>gen</em></dt><dd>A site generator.</dd><dd>Written in Rust.</dd></dl>";
        assert_eq!(md(html), "- **WordPress**: A blog engine.\n- ***gen***: A site generator.; Written in Rust.\n");
        let raw = md_raw(html);
        assert!(raw.starts_with("<dl>") && raw.contains("<dt>WordPress</dt>"), "{raw}");
    }

    #[test]
    fn block_comments_and_dynamic_blocks_vanish() {
        let out =
            md("<!-- wp:paragraph -->\n<p>Hi <strong>there</strong></p>\n<!-- /wp:paragraph -->\n<!-- wp:latest-posts {\"x\":1} /-->");
        assert_eq!(out, "Hi **there**\n");
    }

    #[test]
    fn a_caption_with_a_linked_image() {
        let out = md(
            "<p>[caption id=\"attachment_5\" width=\"300\"]<a href=\"https://x.example/wp-content/uploads/a.jpg\"><img src=\"https://x.example/wp-content/uploads/a-300x200.jpg\" alt=\"Alt\" /></a> The caption[/caption]</p>",
        );
        assert_eq!(out, "![Alt](a-300x200.jpg)\n\n*The caption*\n");
    }

    #[test]
    fn a_gallery_lists_its_images() {
        assert_eq!(md("[gallery ids=\"3,4\"]"), "![](g3.jpg)\n\n![](g4.jpg)\n");
        assert_eq!(md("[gallery columns=\"2\"]"), "![](c1.jpg)\n");
        assert_eq!(md("[audio]"), "[Audio: c2.mp3](https://x.example/wp-content/uploads/2023/12/c2.mp3)\n");
        assert_eq!(md("[audio https://x.example/b.mp3]"), "[Audio: b.mp3](https://x.example/b.mp3)\n");
    }

    #[test]
    fn embeds_become_a_lone_url() {
        assert_eq!(md("[embed]https://youtu.be/dQw4w9WgXcQ[/embed]"), "https://www.youtube.com/watch?v=dQw4w9WgXcQ\n");
        let block = "<!-- wp:embed {\"url\":\"https://vimeo.com/1\"} -->\n<figure class=\"wp-block-embed is-provider-vimeo\"><div class=\"wp-block-embed__wrapper\">\nhttps://vimeo.com/76979871\n</div></figure>\n<!-- /wp:embed -->";
        assert_eq!(md(block), "https://vimeo.com/76979871\n");
        assert_eq!(
            md("<p><iframe src=\"https://www.youtube.com/embed/dQw4w9WgXcQ\"></iframe></p>"),
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ\n"
        );
        assert_eq!(md("[youtube=https://www.youtube.com/watch?v=dQw4w9WgXcQ&w=640]"), "https://www.youtube.com/watch?v=dQw4w9WgXcQ\n");
    }

    #[test]
    fn lists_nest() {
        let out = md("<ul><li>one<ul><li>inner</li></ul></li><li>two</li></ul><ol start=\"3\"><li>three</li></ol>");
        assert_eq!(out, "- one\n  - inner\n- two\n\n3. three\n");
    }

    #[test]
    fn a_table_becomes_a_gfm_table() {
        let out = md("<table><thead><tr><th>a</th><th>b|c</th></tr></thead><tbody><tr><td>1</td><td><em>2</em></td></tr></tbody></table>");
        assert_eq!(out, "| a | b\\|c |\n| --- | --- |\n| 1 | *2* |\n");
    }

    #[test]
    fn code_keeps_its_language_and_text() {
        assert_eq!(
            md("<pre class=\"wp-block-code\"><code class=\"language-rust\">let a = &lt;b&gt;;</code></pre>"),
            "```rust\nlet a = <b>;\n```\n"
        );
        assert_eq!(md("<p>use <code>a`b</code></p>"), "use ``a`b``\n");
    }

    #[test]
    fn korean_text_is_kept_and_markdown_characters_escaped() {
        assert_eq!(md("<p>금리 *인상* 2_000 [참고]</p>"), "금리 \\*인상\\* 2\\_000 \\[참고\\]\n");
        assert_eq!(md("<p># 해시</p><p>1. 번호</p>"), "\\# 해시\n\n1\\. 번호\n");
    }

    #[test]
    fn escaped_and_unknown_shortcodes() {
        let c = convert("<p>[[caption]] and [contact-form-7 id=\"5\"] and [1] and [x]</p>", &Options { raw_html: false }, &mut Cx);
        assert_eq!(c.markdown, "\\[caption\\] and \\[contact-form-7 id=\"5\"\\] and \\[1\\] and \\[x\\]\n");
        assert_eq!(c.unknown_shortcodes.get("contact-form-7"), Some(&1));
        assert_eq!(c.unknown_shortcodes.get("x"), Some(&1));
        assert_eq!(c.unknown_shortcodes.len(), 2, "{:?}", c.unknown_shortcodes);
    }

    #[test]
    fn internal_links_are_rewritten_and_others_kept() {
        assert_eq!(
            md("<p><a href=\"https://x.example/?p=1\">one</a> <a href=\"https://o.example/a b\">two</a></p>"),
            "[one](/news/one/) [two](<https://o.example/a b>)\n"
        );
    }

    #[test]
    fn an_iframe_is_raw_html_only_where_the_site_allows_it() {
        let html = "<iframe src=\"https://example.org/map\"></iframe>";
        assert_eq!(md_raw(html), "<iframe src=\"https://example.org/map\"></iframe>\n");
        let c = convert(html, &Options { raw_html: false }, &mut Cx);
        assert_eq!(c.markdown, "[Embedded page: map](https://example.org/map)\n");
        assert_eq!(c.dropped.get("iframe"), Some(&1));
    }

    #[test]
    fn audio_and_quotes() {
        assert_eq!(md("[audio mp3=\"https://x.example/a.mp3\"][/audio]"), "[Audio: a.mp3](https://x.example/a.mp3)\n");
        assert_eq!(md("<blockquote><p>말</p><cite>김</cite></blockquote>"), "> 말\n>\n> — 김\n");
    }

    #[test]
    fn gutenberg_footnotes_become_markdown_footnotes() {
        struct Notes;
        impl Context for Notes {
            fn attachment_url(&self, _: u64) -> Option<String> {
                None
            }
            fn children(&self) -> Vec<String> {
                vec![]
            }
            fn link(&mut self, _: &str) -> Option<String> {
                None
            }
            fn image(&mut self, src: &str) -> String {
                src.into()
            }
            fn same_image(&self, _: &str, _: &str) -> bool {
                false
            }
            fn footnotes(&self) -> Vec<(String, String)> {
                vec![("b".into(), "Second <em>note</em>".into()), ("a".into(), "First".into())]
            }
        }
        let html = "<p>One<sup data-fn=\"a\" class=\"fn\"><a href=\"#a\" id=\"a-link\">1</a></sup> two<sup data-fn=\"b\" class=\"fn\"><a href=\"#b\">2</a></sup></p><!-- wp:footnotes /-->";
        let out = convert(html, &Options { raw_html: false }, &mut Notes).markdown;
        assert_eq!(out, "One[^1] two[^2]\n\n[^1]: First\n\n[^2]: Second *note*\n");
    }

    #[test]
    fn summaries_are_plain_text() {
        assert_eq!(plain_text("<p>A &amp; <b>B</b>\n c</p>"), "A & B c");
    }

    /// WordPress's own test exports: every body converts without leftovers.
    #[test]
    fn the_shared_exports_convert_cleanly() {
        static CONTENT: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"(?s)<content:encoded><!\[CDATA\[(.*?)\]\]></content:encoded>").expect("valid regex"));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/wordpress");
        let mut bodies = 0;
        for name in ["themeunittestdata.wordpress.xml", "64-block-test-data.xml"] {
            let Ok(xml) = std::fs::read_to_string(dir.join(name)) else { panic!("{name} is missing beside the repository") };
            for c in CONTENT.captures_iter(&xml) {
                // Code blocks may show block markup on purpose.
                static FENCED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)```.*?```").expect("valid regex"));
                let full = md(&c[1]);
                let out = FENCED.replace_all(&full, "");
                bodies += 1;
                for bad in ["<!-- wp:", "[caption ", "[/caption]", "[gallery ids", "[embed]", "<p>", "<div"] {
                    if let Some(at) = out.find(bad) {
                        let from = out.floor_char_boundary(at.saturating_sub(200));
                        let to = out.ceil_char_boundary((at + 200).min(out.len()));
                        panic!("{bad} left in {name}: …{}…", &out[from..to]);
                    }
                }
            }
        }
        assert!(bodies > 100, "{bodies}");
    }
}
