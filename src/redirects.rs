//! The redirect manifest of a site: every old URL that must keep working, and
//! where it goes now.
//!
//! Sources: archived articles (live URL → archive URL), `aliases:` (old paths,
//! WordPress ones such as `/2019/05/old-slug/` or `/?p=123` included),
//! `moved_to:` (an article that now lives on another site) and
//! `[[sites.redirects]]`. Chains collapse (A→B, B→C give A→C); loops,
//! conflicting targets and redirects from a live page are errors naming both
//! sources. The rules are written as `_redirects` (Netlify / Cloudflare
//! Pages), `redirects.json`, an nginx `map` and HTML stubs at each old path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{CONFIG_FILE, SiteConfig};
use crate::diag::{Diagnostic, Diagnostics};
use crate::images::ImageUrls as _;
use crate::model::SiteModel;

/// Every redirect is permanent: the point is to keep search rankings.
pub const STATUS: u16 = 301;

/// Where a redirect was declared, for messages.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub file: PathBuf,
    pub line: Option<usize>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// One redirect, after chains are collapsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Site-relative, starting with `/`, possibly with a query: `/2019/05/a/`, `/?p=123`.
    pub from: String,
    /// Site-relative path starting with `/`, or an absolute `http(s)://` URL.
    pub to: String,
    /// `archive`, `alias`, `image`, `moved` or `config`.
    pub reason: &'static str,
    pub origin: Origin,
}

impl Rule {
    /// The old path without its query: where an HTML stub can go.
    pub fn plain_from(&self) -> Option<&str> {
        (!self.from.contains('?')).then_some(self.from.as_str())
    }
}

/// Collects, normalises, validates and collapses a site's redirects.
pub fn collect(site: &SiteConfig, model: &SiteModel) -> Result<Vec<Rule>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut raw: Vec<Rule> = Vec::new();
    let mut add = |from: &str, to: String, reason: &'static str, origin: Origin, diags: &mut Diagnostics| match normalize_from(from) {
        Ok(from) => raw.push(Rule { from, to, reason, origin }),
        Err(why) => diags.push(
            Diagnostic::new(&origin.file, origin.line, format!("redirect from `{from}`: {why}"))
                .hint("write an old path of this site, starting with `/`, e.g. /2019/05/old-slug/"),
        ),
    };
    for a in &model.articles {
        let to = format!("/{}", a.path);
        if a.part > 0 {
            let origin = Origin { file: a.file.clone(), line: a.meta.line_of("date") };
            add(&format!("/{}", a.live_path), to.clone(), "archive", origin, &mut diags);
        }
        for alias in &a.meta.aliases {
            add(alias, to.clone(), "alias", Origin { file: a.file.clone(), line: a.meta.line_of("aliases") }, &mut diags);
        }
        // An old image URL leads to the image's published path: its hash,
        // so the rule follows the image when its bytes change.
        for al in &a.aliased {
            for from in &al.from {
                let origin = Origin { file: a.file.clone(), line: a.meta.line_of("image_aliases") };
                // On the images host when the site shares one.
                let to = if site.images_url.is_some() { site.image_permalink(&al.image.rel) } else { format!("/{}", al.image.rel) };
                add(from, to, "image", origin, &mut diags);
            }
        }
    }
    for m in &model.moved {
        let to = m.meta.moved_to.clone().unwrap_or_default();
        let origin = Origin { file: m.file.clone(), line: m.meta.line_of("moved_to") };
        let to = match normalize_url(&to) {
            Ok(to) => to,
            Err(why) => {
                diags.push(
                    Diagnostic::new(&m.file, origin.line, format!("`moved_to: {to}` {why}"))
                        .hint("write the article's new address, e.g. https://other.example.com/news/slug/"),
                );
                continue;
            }
        };
        for path in &m.paths {
            add(&format!("/{path}"), to.clone(), "moved", origin.clone(), &mut diags);
        }
        for alias in &m.meta.aliases {
            add(alias, to.clone(), "moved", Origin { file: m.file.clone(), line: m.meta.line_of("aliases") }, &mut diags);
        }
    }
    for r in &site.redirects {
        let origin = Origin { file: CONFIG_FILE.into(), line: Some(r.line) };
        let to = if is_absolute(r.to.trim()) { normalize_url(&r.to) } else { normalize_from(&r.to).and_then(|to| on_site(site, to)) };
        match to {
            Ok(to) => add(&r.from, to, "config", origin, &mut diags),
            Err(why) => diags.push(
                Diagnostic::new(CONFIG_FILE, Some(r.line), format!("redirect target `{}`: {why}", r.to))
                    .hint("write a path of this site (/news/x/) or an absolute URL (https://…)"),
            ),
        }
    }

    // One target per old path: the same one twice is fine, two are not.
    let mut by_from: BTreeMap<String, Rule> = BTreeMap::new();
    for r in raw {
        match by_from.get(&r.from) {
            Some(first) if first.to != r.to => diags.push(
                Diagnostic::new(
                    &r.origin.file,
                    r.origin.line,
                    format!("redirect from {} to {} conflicts with the one to {} from {}", r.from, r.to, first.to, first.origin),
                )
                .hint("keep one of them: an old path can only lead to one place"),
            ),
            Some(_) => {}
            None => {
                by_from.insert(r.from.clone(), r);
            }
        }
    }

    // Collapse chains; a loop is an error naming the rules on it.
    let mut rules = Vec::with_capacity(by_from.len());
    for rule in by_from.values() {
        let mut seen = BTreeSet::from([rule.from.as_str()]);
        let mut to = rule.to.as_str();
        let mut last = rule;
        while let Some(next) = by_from.get(to) {
            if !seen.insert(next.from.as_str()) {
                diags.push(
                    Diagnostic::new(
                        &rule.origin.file,
                        rule.origin.line,
                        format!("redirect from {} loops back to itself through {} (declared at {})", rule.from, last.from, last.origin),
                    )
                    .hint("remove one redirect of the loop"),
                );
                break;
            }
            last = next;
            to = next.to.as_str();
        }
        rules.push(Rule { to: to.to_string(), ..rule.clone() });
    }
    diags.into_result(rules)
}

/// A redirect may not hide anything published: `published` says what
/// produces the output at a site-relative path (`news/a/index.html`), and
/// whether it is an HTML page, whose folder (`/news/a/`) is its URL. Any
/// file counts also with a trailing `/`: servers and the nginx map treat
/// `/feed.xml/` and `/feed.xml` alike.
pub fn check_pages(rules: &[Rule], published: &dyn Fn(&str) -> Option<(String, bool)>) -> Result<(), Diagnostics> {
    let hidden = |from: &str| -> Option<String> {
        let rel = from.strip_prefix('/')?;
        let file = rel.strip_suffix('/').unwrap_or(rel);
        let folder = rel.ends_with('/') || rel.is_empty();
        let page = folder.then(|| published(&format!("{rel}index.html")).filter(|(_, page)| *page)).flatten();
        page.or_else(|| published(file).filter(|_| !file.is_empty())).map(|(what, _)| what)
    };
    let mut diags = Diagnostics::default();
    for r in rules {
        if let Some(page) = r.plain_from().and_then(hidden) {
            diags.push(
                Diagnostic::new(&r.origin.file, r.origin.line, format!("redirect from {} hides a live page ({page})", r.from))
                    .hint("remove the redirect, or move the page away from that URL"),
            );
        }
    }
    diags.into_result(())
}

fn is_absolute(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// Spaces and control characters end a line or a field in `_redirects`
/// and the nginx map: a newline in an alias could add a rule of its own.
fn unsafe_char(s: &str) -> Result<(), String> {
    match s.chars().find(|c| c.is_control() || c.is_whitespace() || *c == '\\' || *c == '$') {
        Some('\\') => Err("must not contain `\\` (browsers read it as `/`)".into()),
        Some('$') => Err("must not contain `$` (nginx reads it as a variable; write %24)".into()),
        Some(c) => Err(format!("must not contain spaces or control characters (found {c:?}; write a space as %20)")),
        None => Ok(()),
    }
}

/// An absolute `http(s)` target, as the `url` crate spells it (so every
/// manifest says the same).
fn normalize_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    unsafe_char(raw)?;
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(u.to_string()),
        _ => Err("is not an absolute http(s) URL".into()),
    }
}

/// A site-relative target must stay on the site once a browser resolves it
/// against the base URL.
fn on_site(site: &SiteConfig, path: String) -> Result<String, String> {
    let base = url::Url::parse(&site.base_url).map_err(|e| format!("the site's base_url does not parse: {e}"))?;
    let joined = base.join(&format!("{}{}", site.base_path, path.trim_start_matches('/'))).map_err(|e| e.to_string())?;
    if joined.origin() != base.origin() || !joined.path().starts_with(base.path()) {
        return Err(format!("leads off the site (to {joined})"));
    }
    Ok(path)
}

/// Decodes percent-escapes of characters that need none (letters, digits,
/// `-._~` and non-ASCII text), so `/%2e%2e/` is seen as the `/../` browsers
/// and servers make of it and `/%EA%B2%BD%EC%A0%9C/` as the `/경제/` a page has;
/// escapes of reserved characters (`%2F`, `%3F`, `%20`, …) stay, in capitals.
fn decode_unreserved(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 2 < bytes.len() && bytes[i + 1..i + 3].iter().all(u8::is_ascii_hexdigit))
            .then(|| u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex digits"), 16).expect("hex digits"));
        match hex {
            Some(b) if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || b >= 0x80 => out.push(b),
            Some(b) => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
            None => {
                out.push(bytes[i]);
                i += 1;
                continue;
            }
        }
        i += 3;
    }
    // Escapes that decode to broken UTF-8 stay as they were written.
    String::from_utf8(out).unwrap_or_else(|_| raw.to_string())
}

/// `/path/` or `/path/file.html` or `/?p=1`: leading `/`, no `..`, a
/// trailing `/` added to folder-like paths so `/a` and `/a/` are one rule.
/// One spelling (NFC, unreserved escapes decoded) for every check and
/// every manifest.
pub(crate) fn normalize_from(raw: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization as _;
    let raw = raw.trim();
    unsafe_char(raw)?;
    if is_absolute(raw) {
        return Err("must be a path of this site, not a full URL".into());
    }
    let raw: String = decode_unreserved(raw).nfc().collect();
    unsafe_char(&raw)?;
    let with_slash = if raw.starts_with('/') { raw.to_string() } else { format!("/{raw}") };
    let (path, query) = match with_slash.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (with_slash.clone(), None),
    };
    if path.split('/').any(|seg| seg == ".." || seg == ".") || path.contains("//") || path.contains('#') {
        return Err("must not contain `.`, `..`, `//` or `#`".into());
    }
    // `:name` and `*` are placeholders and splats to Netlify and Cloudflare.
    if path.split('/').any(|seg| seg.starts_with(':') || seg.contains('*')) {
        return Err("must not contain a segment starting with `:` or a `*` (hosts read them as placeholders); write %3A or %2A".into());
    }
    // Each query part is one `key=value` token in `_redirects`: nothing a
    // host could read as a target, a status or a comment.
    if let Some(q) = &query
        && q.split('&').any(|kv| {
            !kv.split_once('=').is_some_and(|(k, v)| !k.is_empty() && !format!("{k}{v}").contains(['/', '#', ':', '!', '*', '=']))
        })
    {
        return Err("the query must be `key=value` pairs joined by `&`, such as `?p=123`".into());
    }
    let last = path.rsplit('/').next().unwrap_or("");
    let path = if last.is_empty() || last.contains('.') { path } else { format!("{path}/") };
    Ok(match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path,
    })
}

/// `from` or an internal `to`, with the site's base path and percent-encoding
/// (as browsers send it, and as nginx's `$request_uri` holds it).
fn encoded(site: &SiteConfig, path: &str) -> String {
    if is_absolute(path) {
        return path.to_string();
    }
    let url = url::Url::parse("http://h/").and_then(|b| b.join(&format!("{}{}", site.base_path, path.trim_start_matches('/'))));
    match url {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => path.to_string(),
    }
}

/// `_redirects`: `from to 301`, query matches as `key=value` (Netlify syntax).
/// Netlify serves an existing file instead of an unforced rule, so rules on
/// a path with a file are forced (`301!`): query rules (`/?p=1` is the
/// home page's path) and, with HTML stubs written too, every rule.
/// Cloudflare Pages always applies its rules and rejects the `!`; it
/// ignores query rules (it cannot match queries) and needs no stubs.
pub fn netlify(site: &SiteConfig, rules: &[Rule]) -> String {
    let mut out = String::from("# Written by gen: do not edit.\n");
    let stubs = site.redirect_formats.iter().any(|f| f == "html");
    let (plain, forced) = (STATUS.to_string(), format!("{STATUS}!"));
    for r in rules {
        let status = if stubs || r.from.contains('?') { &forced } else { &plain };
        let to = encoded(site, &r.to);
        match r.from.split_once('?') {
            Some((path, query)) => {
                let params: Vec<&str> = query.split('&').collect();
                out += &format!("{} {} {to} {status}\n", encoded(site, path), params.join(" "));
            }
            None => out += &format!("{} {to} {status}\n", encoded(site, &r.from)),
        }
    }
    out
}

#[derive(Serialize)]
struct JsonRule<'a> {
    from: String,
    to: String,
    status: u16,
    reason: &'a str,
}

/// `redirects.json`: one object per rule, for other tools.
pub fn json(site: &SiteConfig, rules: &[Rule]) -> String {
    let list: Vec<JsonRule> = rules
        .iter()
        .map(|r| JsonRule { from: join_base(site, &r.from), to: join_base(site, &r.to), status: STATUS, reason: r.reason })
        .collect();
    serde_json::to_string_pretty(&list).expect("plain data serializes") + "\n"
}

fn join_base(site: &SiteConfig, path: &str) -> String {
    if is_absolute(path) { path.to_string() } else { site.url_for(path) }
}

/// An nginx `map` body keyed by `$request_uri`; see README for the server block.
pub fn nginx(site: &SiteConfig, rules: &[Rule]) -> String {
    let mut out = String::from(
        "# Written by gen: do not edit.\n# map $request_uri $gen_redirect { default \"\"; include <this file>; }\n# server { ... if ($gen_redirect) { return 301 $gen_redirect; } }\n",
    );
    for r in rules {
        let to = encoded(site, &r.to);
        let from = encoded(site, &r.from);
        out += &format!("{} {};\n", quote(&from), quote(&to));
        // `/a/` also answers for `/a`, which nginx would otherwise 301 to `/a/` first.
        if let Some(bare) = from.strip_suffix('/').filter(|b| !b.is_empty() && !r.from.contains('?')) {
            out += &format!("{} {};\n", quote(bare), quote(&to));
        }
    }
    out
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The page left at an old path for hosts without server-side redirects.
pub fn html_stub(site: &SiteConfig, rule: &Rule) -> String {
    let to = join_base(site, &rule.to);
    let absolute = if is_absolute(&rule.to) { rule.to.clone() } else { site.permalink_for(&rule.to) };
    let e = crate::theme::escape_html;
    format!(
        "<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Moved</title>\n<meta name=\"robots\" content=\"noindex\">\n<link rel=\"canonical\" href=\"{}\">\n<meta http-equiv=\"refresh\" content=\"0; url={}\">\n</head>\n<body>\n<p>This page has moved to <a href=\"{}\">{}</a>.</p>\n</body>\n</html>\n",
        e(&absolute),
        e(&to),
        e(&to),
        e(&absolute)
    )
}

/// Where the stub of a rule goes: `old/path/index.html` or `old/file.html`.
pub fn stub_path(rule: &Rule) -> Option<String> {
    // A page at an image's old URL would be served as that image type.
    if rule.reason == "image" {
        return None;
    }
    let path = rule.plain_from()?.trim_start_matches('/');
    if path.is_empty() {
        return None; // the home page is always a live page
    }
    Some(if path.ends_with('/') { format!("{path}index.html") } else { path.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_paths_are_normalised() {
        assert_eq!(normalize_from("/2019/05/old-slug").unwrap(), "/2019/05/old-slug/");
        assert_eq!(normalize_from("2019/05/old-slug/").unwrap(), "/2019/05/old-slug/");
        assert_eq!(normalize_from("/?p=123").unwrap(), "/?p=123");
        assert_eq!(normalize_from("/old.html").unwrap(), "/old.html");
        assert!(normalize_from("/a/../b/").is_err());
        assert!(normalize_from("https://x.org/a/").is_err());
    }

    #[test]
    fn redirect_manifest_injection_through_a_newline_or_space_is_refused() {
        assert!(normalize_from("/?p=1&x\n/* https://evil.example/ 200!\n#").unwrap_err().contains("control characters"));
        assert!(normalize_from("/old page/").unwrap_err().contains("spaces"));
        assert!(normalize_from("/a/\u{85}b/").is_err(), "NEL is a line break to some parsers");
        assert!(normalize_from("/a%C2%A0b/").is_err(), "an escaped no-break space is still a space");
        assert_eq!(normalize_from("/old%20page/").unwrap(), "/old%20page/");
        assert!(normalize_from("/?p=1&https://evil.example/&301!").is_err(), "a query token read as a target");
        assert!(normalize_from("/?p=1&#").is_err());
        assert!(normalize_from("/:x/").is_err() && normalize_from("/a/*").is_err(), "placeholders and splats");
        assert!(normalize_from("/$arg_u/").is_err(), "nginx variables");
        assert_eq!(normalize_from("/?p=123&lang=ko").unwrap(), "/?p=123&lang=ko");
    }

    #[test]
    fn alias_with_escaped_dot_segments_is_refused_like_dot_segments() {
        assert!(normalize_from("/x/%2e%2e/economy/").is_err());
        assert!(normalize_from("/x/%2E./economy/").is_err());
        assert!(normalize_from("/x/%2e/economy/").is_err());
        // Unreserved and non-ASCII escapes take the spelling pages have.
        assert_eq!(normalize_from("/%EA%B2%BD%EC%A0%9C/%7Ea/").unwrap(), "/경제/~a/");
        assert_eq!(normalize_from("/a%2fb/?q=%3f").unwrap(), "/a%2Fb/?q=%3F");
        // NFD (as macOS names files) and NFC are one alias.
        assert_eq!(normalize_from("/re\u{301}sume\u{301}/").unwrap(), "/résumé/");
    }

    #[test]
    fn off_site_redirect_targets_are_refused() {
        let site = crate::config::Config::parse(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
            "[[sites]]\nname = \"s\"\ntitle = \"S\"\nbase_url = \"https://s.example/\"\n",
        )
        .unwrap()
        .sites
        .remove(0);
        let target = |to: &str| normalize_from(to).and_then(|t| on_site(&site, t));
        assert!(target("/\\evil.example/x").is_err());
        assert!(target("/\t/evil.example/x").is_err());
        assert!(target("//evil.example/x").is_err());
        assert_eq!(target("/news/x").unwrap(), "/news/x/");
        assert!(normalize_url("javascript:alert(1)").is_err());
        assert!(normalize_url("https://").is_err());
        assert_eq!(
            normalize_url("https://other.example/a b").unwrap_err(),
            "must not contain spaces or control characters (found ' '; write a space as %20)"
        );
        assert_eq!(normalize_url("https://other.example/경제/").unwrap(), "https://other.example/%EA%B2%BD%EC%A0%9C/");
    }

    #[test]
    fn stubs_go_where_the_old_path_was() {
        let rule =
            |from: &str| Rule { from: from.into(), to: "/n/".into(), reason: "alias", origin: Origin { file: "a.md".into(), line: None } };
        assert_eq!(stub_path(&rule("/2019/05/a/")).as_deref(), Some("2019/05/a/index.html"));
        assert_eq!(stub_path(&rule("/old.html")).as_deref(), Some("old.html"));
        assert_eq!(stub_path(&rule("/?p=1")), None);
        assert_eq!(stub_path(&rule("/")), None);
    }
}
