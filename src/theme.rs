//! Themes: Tera templates from `themes/<theme>/templates/`, with per-site
//! overrides from `themes/<theme>/sites/<site>/`, parsed once, when a site
//! first renders, and shared by every site that uses the same set.
//!
//! Each template gets a dependency hash covering its own source and,
//! transitively, what it extends, includes or imports; an output's input hash
//! uses it, so editing `article.html` re-renders articles only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, OnceLock};

use regex::Regex;
use tera::Tera;

use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::{self, Hash, Source};

/// Templates every theme must provide.
pub const REQUIRED: [&str; 7] = ["article.html", "index.html", "section.html", "taxonomy.html", "term.html", "author.html", "404.html"];

pub struct Theme {
    pub name: String,
    /// Shared with the next load while the templates are the same.
    parsed: Arc<Parsed>,
    /// Hash of the templates' names, paths and texts.
    templates: Hash,
    deps: Arc<HashMap<String, Hash>>,
    /// `themes/<theme>/static/`, published to every site using the theme.
    pub static_files: Vec<Source>,
    /// `themes/<theme>/i18n/<language>.toml`: the theme's UI strings per language.
    strings: BTreeMap<String, BTreeMap<String, String>>,
}

impl std::fmt::Debug for Theme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Theme").field("name", &self.name).finish()
    }
}

static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\{%-?\s*(?:extends|include|import)\s+["']([^"']+)["']"#).expect("valid regex"));

/// A theme's templates (name → text and file) and, once a site renders,
/// Tera's parse of them. A build in which every site is unchanged needs
/// only their hashes: parsing was a fifth of such a build's time before its
/// first `stat`. A template that does not parse fails every site that is
/// built with it (`load_site` asks for the parse), with its content's errors.
struct Parsed {
    sources: BTreeMap<String, (String, PathBuf)>,
    root: PathBuf,
    tera: OnceLock<Result<Tera, Diagnostics>>,
}

impl Theme {
    /// Whether the theme has this (optional) template.
    pub fn has(&self, template: &str) -> bool {
        self.parsed.sources.contains_key(template)
    }

    /// The templates, parsed on the first call (by any site of any thread:
    /// the others wait for that one parse).
    pub fn tera(&self) -> Result<&Tera, Diagnostics> {
        let p = &*self.parsed;
        let parsed = p.tera.get_or_init(|| {
            let mut tera = Tera::default();
            // Tera's default also escapes `/`, which makes every URL unreadable.
            tera.set_escape_fn(escape_html);
            // Tera reports which template failed and where; keep its whole chain.
            match tera.add_raw_templates(p.sources.iter().map(|(n, (src, _))| (n.as_str(), src.as_str()))) {
                Ok(()) => Ok(tera),
                Err(e) => {
                    let (file, msg) = tera_error(&e, &p.sources, &p.root);
                    Err(Diagnostics::one(Diagnostic::new(file, None, msg).hint("fix the template syntax")))
                }
            }
        });
        parsed.as_ref().map_err(Clone::clone)
    }

    /// Loads `themes/<name>/templates/` with `themes/<name>/sites/<site>/`
    /// on top. The templates of `earlier` (the same theme loaded by an
    /// earlier build of this process) are reused when every one is as it
    /// was: parsing them is most of a theme's load.
    pub fn load(root: &Path, name: &str, site: Option<&str>, earlier: Option<&Theme>) -> Result<Theme, Diagnostics> {
        let dir = theme_dir(root, name)
            .map_err(|e| Diagnostics::one(Diagnostic::new(".gen/builtin", None, format!("cannot write out the built-in theme: {e}"))))?;
        let mut sources: BTreeMap<String, (String, std::path::PathBuf)> = BTreeMap::new();
        let mut diags = Diagnostics::default();
        let mut layers = vec![dir.join("templates")];
        if let Some(site) = site {
            // Overrides live in the repository even for the built-in theme.
            layers.push(root.join("themes").join(name).join("sites").join(site));
        }
        for layer in &layers {
            let files = match discover::walk(layer, root) {
                Ok(f) => f,
                Err(d) => {
                    diags.extend(d);
                    continue;
                }
            };
            for f in files {
                match std::fs::read_to_string(&f.path) {
                    Ok(text) => {
                        sources.insert(f.rel.clone(), (text, f.path.clone()));
                    }
                    Err(e) => diags.push(Diagnostic::new(discover::rel_display(&f.path, root), None, format!("cannot read template: {e}"))),
                }
            }
        }
        for req in REQUIRED {
            if !sources.contains_key(req) {
                diags.push(
                    Diagnostic::new(format!("themes/{name}/templates/{req}"), None, "required template is missing")
                        .hint(format!("every theme needs {}", REQUIRED.join(", "))),
                );
            }
        }
        let mut h = blake3::Hasher::new();
        for (rel, (text, path)) in &sources {
            for part in [rel.as_bytes(), path.as_os_str().as_encoded_bytes(), text.as_bytes()] {
                h.update(&(part.len() as u64).to_le_bytes());
                h.update(part);
            }
        }
        let templates = *h.finalize().as_bytes();
        let (parsed, deps) = match earlier.filter(|t| t.templates == templates && diags.is_empty()) {
            Some(t) => (t.parsed.clone(), t.deps.clone()),
            None => {
                let texts: HashMap<&str, &str> = sources.iter().map(|(n, (s, _))| (n.as_str(), s.as_str())).collect();
                let deps = texts.keys().map(|n| (n.to_string(), dep_hash(n, &texts, &mut HashSet::new()))).collect();
                (Arc::new(Parsed { sources, root: root.to_path_buf(), tera: OnceLock::new() }), Arc::new(deps))
            }
        };
        let static_files = discover::walk(&dir.join("static"), root).unwrap_or_else(|d| {
            diags.extend(d);
            vec![]
        });
        let strings = load_strings(&dir.join("i18n"), root).unwrap_or_else(|d| {
            diags.extend(d);
            BTreeMap::new()
        });
        diags.into_result(Theme { name: name.to_string(), parsed, templates, deps, static_files, strings })
    }

    /// The UI strings for a site: English, then the site's language (its
    /// first subtag, `ko-KR` → `ko`), then the site's own overrides.
    pub fn strings_for(&self, language: &str, overrides: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let primary = language.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        let mut out = self.strings.get("en").cloned().unwrap_or_default();
        if let Some(lang) = self.strings.get(&primary) {
            out.extend(lang.clone());
        }
        out.extend(overrides.clone());
        out
    }

    /// Hash of every template and string.
    pub fn hash(&self) -> Hash {
        let mut names: Vec<_> = self.deps.iter().collect();
        names.sort();
        let mut h = blake3::Hasher::new();
        for (name, dep) in names {
            h.update(name.as_bytes());
            h.update(dep);
        }
        h.update(serde_json::to_string(&self.strings).expect("strings serialize").as_bytes());
        *h.finalize().as_bytes()
    }

    /// Hash of a template and everything it pulls in.
    pub fn template_hash(&self, name: &str) -> Hash {
        self.deps.get(name).copied().unwrap_or([0; 32])
    }
}

/// The default theme, built into the binary (as mdBook does): a repository
/// without `themes/default/` still builds, and `gen init --theme` writes it
/// out for editing.
pub static BUILTIN: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/themes/default");

/// The name of the built-in theme.
pub const BUILTIN_NAME: &str = "default";

/// Whether `name` can be loaded: a theme folder with `templates/`, or the built-in one.
pub fn exists(root: &Path, name: &str) -> bool {
    root.join("themes").join(name).join("templates").is_dir() || name == BUILTIN_NAME
}

/// Where the theme's templates, static files and strings are: the
/// repository's `themes/<name>/`, or for the built-in theme when the
/// repository has none, a copy written once under `.gen/builtin/` (named by
/// its content, so another gen version gets its own).
fn theme_dir(root: &Path, name: &str) -> std::io::Result<std::path::PathBuf> {
    let own = root.join("themes").join(name);
    if own.join("templates").is_dir() || name != BUILTIN_NAME {
        return Ok(own);
    }
    static ID: LazyLock<String> = LazyLock::new(|| {
        let mut h = blake3::Hasher::new();
        let mut stack = vec![&BUILTIN];
        while let Some(dir) = stack.pop() {
            for e in dir.entries() {
                match e {
                    include_dir::DirEntry::Dir(d) => stack.push(d),
                    include_dir::DirEntry::File(f) => {
                        h.update(f.path().to_string_lossy().as_bytes());
                        h.update(f.contents());
                    }
                }
            }
        }
        discover::hex(h.finalize().as_bytes())[..12].to_string()
    });
    let dir = root.join(".gen").join("builtin").join(format!("{BUILTIN_NAME}-{}", *ID));
    if !dir.join("templates").is_dir() {
        // Written beside, then renamed: a reader never sees half a theme.
        let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::create_dir_all(&tmp)?;
        BUILTIN.extract(&tmp)?;
        if std::fs::rename(&tmp, &dir).is_err() {
            std::fs::remove_dir_all(&tmp).ok(); // another process was first
        }
    }
    Ok(dir)
}

/// `<dir>/<language>.toml` files: flat tables of strings.
fn load_strings(dir: &Path, root: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>, Diagnostics> {
    let mut out = BTreeMap::new();
    let mut diags = Diagnostics::default();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(out) };
    let mut files: Vec<_> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    files.sort();
    for path in files {
        let shown = discover::rel_display(&path, root);
        let lang = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_ascii_lowercase();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::new(&shown, None, format!("cannot read: {e}")));
                continue;
            }
        };
        match toml::from_str::<BTreeMap<String, String>>(&text) {
            Ok(strings) => {
                out.insert(lang, strings);
            }
            Err(e) => {
                let line = e.span().map(|s| text[..s.start].lines().count().max(1));
                diags.push(Diagnostic::new(&shown, line, e.message().to_string()).hint("write one `key = \"text\"` per line"));
            }
        }
    }
    diags.into_result(out)
}

/// Escapes what HTML needs escaped in text and quoted attributes.
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
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

fn dep_hash(name: &str, texts: &HashMap<&str, &str>, visiting: &mut HashSet<String>) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(name.as_bytes());
    if let Some(src) = texts.get(name) {
        h.update(src.as_bytes());
        if visiting.insert(name.to_string()) {
            for cap in REFERENCE.captures_iter(src) {
                h.update(&dep_hash(&cap[1], texts, visiting));
            }
            visiting.remove(name);
        }
    }
    *h.finalize().as_bytes()
}

/// The template file a Tera error is about, and the full message chain.
pub fn tera_error(e: &tera::Error, sources: &BTreeMap<String, (String, std::path::PathBuf)>, root: &Path) -> (std::path::PathBuf, String) {
    let msg = error_chain(e);
    let file = sources
        .iter()
        .find(|(n, _)| msg.contains(&format!("'{n}'")))
        .map(|(_, (_, p))| discover::rel_display(p, root))
        .unwrap_or_else(|| "themes".into());
    (file, msg)
}

impl Theme {
    /// Where a template of this theme is, as the user would type it.
    pub fn file_of(&self, template: &str) -> PathBuf {
        let p = &*self.parsed;
        match p.sources.get(template) {
            Some((_, path)) => discover::rel_display(path, &p.root),
            None => format!("themes/{}/templates/{template}", self.name).into(),
        }
    }

    /// A template that failed to render, told the way a writer needs it.
    /// Tera's render errors name neither a line nor, for an inherited
    /// block, always the file: the template and line are where the failing
    /// name is written, and a variable the page does not have gets the
    /// nearest one it has (`context`: what the template was given).
    pub fn render_error(&self, template: &str, e: &tera::Error, context: &serde_json::Value) -> Diagnostic {
        let p = &*self.parsed;
        let mut parts = error_parts(e);
        // "Failed to render 'article.html'" repeats what the file says.
        if parts.len() > 1 && parts[0].starts_with("Failed to render '") {
            parts.remove(0);
        }
        let message = parts.join(": ");
        let named = parts.iter().find_map(|m| NAMED.captures(m)).map(|c| c[1].to_string());
        let mut order: Vec<String> = named.into_iter().chain([template.to_string()]).collect();
        // Then what the template pulls in (its parents, includes, macros).
        let mut i = 0;
        while i < order.len() {
            if let Some((text, _)) = p.sources.get(&order[i]) {
                for cap in REFERENCE.captures_iter(text) {
                    if !order.iter().any(|n| n == &cap[1]) {
                        order.push(cap[1].to_string());
                    }
                }
            }
            i += 1;
        }
        let failing = parts.iter().find_map(|m| failing_name(m));
        let found = failing.as_ref().and_then(|(_, re)| {
            order.iter().find_map(|name| {
                let (text, _) = p.sources.get(name)?;
                let at = re.find(text)?.start();
                Some((name.as_str(), text[..at].matches('\n').count() + 1))
            })
        });
        let (file, line) = match found {
            Some((name, line)) => (self.file_of(name), Some(line)),
            None => (self.file_of(order.first().map_or(template, String::as_str)), None),
        };
        let hint = match &failing {
            Some((Failing::Variable(path), _)) => missing_variable(path, context),
            Some((Failing::Namespace(ns), _)) => Some(match p.sources.iter().find(|(_, (text, _))| text.contains("{% macro ")) {
                Some((file, _)) => {
                    format!("import the macros before using them: {{% import \"{file}\" as {ns} %}} near the top of the template")
                }
                None => format!("import the template that defines them: {{% import \"macros.html\" as {ns} %}}"),
            }),
            _ => None,
        };
        Diagnostic::new(file, line, message)
            .hint(hint.unwrap_or_else(|| "fix the template; the variables a template gets are listed in README.md".into()))
    }
}

/// The template a Tera render message names.
static NAMED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:while rendering '|in template `)([^'`]+)['`]").expect("valid regex"));

/// What a Tera render message says failed.
enum Failing {
    Variable(String),
    Namespace(String),
    Other,
}

/// The name a Tera render message is about, and how it is written in a
/// template (to find its line).
fn failing_name(msg: &str) -> Option<(Failing, Regex)> {
    let between = |open: &str, close: char| -> Option<&str> {
        let from = msg.find(open)? + open.len();
        Some(&msg[from..from + msg[from..].find(close)?])
    };
    let word = |w: &str| regex::escape(w);
    let (failing, pattern) = if msg.starts_with("Variable `") {
        let path = between("`", '`')?;
        (Failing::Variable(path.to_string()), format!(r"(?:^|[^\w.]){}(?:$|[^\w])", word(path)))
    } else if msg.starts_with("Macro namespace `") {
        let ns = between("`", '`')?;
        (Failing::Namespace(ns.to_string()), format!(r"\b{}::", word(ns)))
    } else if msg.starts_with("Filter '") || msg.starts_with("Filter call '") {
        (Failing::Other, format!(r"\|\s*{}\b", word(between("'", '\'')?)))
    } else if msg.starts_with("Test '") || msg.starts_with("Test call '") {
        (Failing::Other, format!(r"\bis\s+(?:not\s+)?{}\b", word(between("'", '\'')?)))
    } else if msg.starts_with("Function '") || msg.starts_with("Function call '") {
        (Failing::Other, format!(r"\b{}\s*\(", word(between("'", '\'')?)))
    } else {
        (Failing::Other, format!(r"(?:^|[^\w.]){}(?:$|[^\w])", word(between("`", '`')?)))
    };
    Some((failing, Regex::new(&pattern).ok()?))
}

/// Why `path` (`page.titel`) is not in the context, and what is.
fn missing_variable(path: &str, context: &serde_json::Value) -> Option<String> {
    if path.contains('[') {
        return None;
    }
    let mut at = context;
    let mut walked = String::new();
    for seg in path.split('.') {
        let of = if walked.is_empty() { "the page's context".to_string() } else { format!("`{walked}`") };
        match at {
            serde_json::Value::Object(map) => match map.get(seg) {
                Some(v) => at = v,
                None => {
                    let full = |k: &str| if walked.is_empty() { k.to_string() } else { format!("{walked}.{k}") };
                    if let Some(near) = crate::diag::nearest(seg, map.keys().map(String::as_str)) {
                        return Some(format!("{of} has no `{seg}`: did you mean `{}`?", full(near)));
                    }
                    if walked.is_empty() {
                        // A loop or `set` variable is not in the context: nothing to suggest.
                        return Some(format!(
                            "{of} has no `{seg}` (it has {}); a loop's or `set`'s variable exists only inside its block",
                            keys(map)
                        ));
                    }
                    return Some(format!("{of} has no `{seg}`; it has {}", keys(map)));
                }
            },
            serde_json::Value::Null => {
                return Some(format!("`{walked}` is empty on this page: test it first, {{% if {walked} %}}…{{% endif %}}"));
            }
            _ => return Some(format!("`{walked}` is a {}, not a map with fields", kind(at))),
        }
        walked = if walked.is_empty() { seg.to_string() } else { format!("{walked}.{seg}") };
    }
    None
}

fn keys(map: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
    names.sort_unstable();
    let more = names.len().saturating_sub(12);
    names.truncate(12);
    let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    if more > 0 { format!("{list} and {more} more") } else { list }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Null | serde_json::Value::Object(_) => "map",
    }
}

/// "outer: inner: innermost" for any error with sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    error_parts(e).join(": ")
}

/// The messages of an error and of each of its sources, outermost first.
fn error_parts(e: &dyn std::error::Error) -> Vec<String> {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    parts
}

/// Themes shared across sites: one parse per (theme, overrides) pair.
#[derive(Default)]
pub struct Themes {
    loaded: HashMap<ThemeKey, Arc<Theme>>,
    /// What an earlier build of this process loaded, to reuse unchanged templates from.
    earlier: HashMap<ThemeKey, Arc<Theme>>,
}

/// A theme and, when it has overrides for one, the site.
type ThemeKey = (String, Option<String>);

impl Themes {
    pub fn get(&mut self, root: &Path, theme: &str, site: &str) -> Result<Arc<Theme>, Diagnostics> {
        let has_overrides = root.join("themes").join(theme).join("sites").join(site).is_dir();
        // (The built-in theme takes overrides from the repository too.)
        let key = (theme.to_string(), has_overrides.then(|| site.to_string()));
        if let Some(t) = self.loaded.get(&key) {
            return Ok(t.clone());
        }
        let t = Arc::new(Theme::load(root, theme, key.1.as_deref(), self.earlier.get(&key).map(|t| &**t))?);
        self.loaded.insert(key, t.clone());
        Ok(t)
    }

    /// Forgets the overrides of sites not in `sites` (removed from the
    /// configuration while a preview runs).
    pub fn keep_only(&mut self, sites: &HashSet<&str>) {
        let known = |k: &ThemeKey| k.1.as_deref().is_none_or(|s| sites.contains(s));
        self.loaded.retain(|k, _| known(k));
        self.earlier.retain(|k, _| known(k));
    }

    /// The themes for the next build of this process: what this one loaded,
    /// over what earlier ones did.
    pub fn next(self) -> Themes {
        let mut earlier = self.earlier;
        earlier.extend(self.loaded);
        Themes { loaded: HashMap::new(), earlier }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_load_reuses_the_templates_only_while_they_are_unchanged() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("themes/t/templates");
        std::fs::create_dir_all(&dir).unwrap();
        for name in REQUIRED {
            std::fs::write(dir.join(name), format!("{name}: {{{{ x }}}}")).unwrap();
        }
        let render = |t: &Theme| {
            t.tera().unwrap().render("article.html", &tera::Context::from_serialize(serde_json::json!({"x": 1})).unwrap()).unwrap()
        };
        let first = Theme::load(root.path(), "t", None, None).unwrap();
        assert!(first.parsed.tera.get().is_none(), "parsed only when a site renders");
        assert_eq!(render(&first), "article.html: 1");
        let again = Theme::load(root.path(), "t", None, Some(&first)).unwrap();
        assert!(Arc::ptr_eq(&first.parsed, &again.parsed), "unchanged templates are not parsed again");
        assert!(again.parsed.tera.get().is_some());
        std::fs::write(dir.join("article.html"), "changed {{ x }}").unwrap();
        let edited = Theme::load(root.path(), "t", None, Some(&again)).unwrap();
        assert!(!Arc::ptr_eq(&again.parsed, &edited.parsed));
        assert_eq!(render(&edited), "changed 1");
        assert_ne!(edited.template_hash("article.html"), first.template_hash("article.html"));
        // A site's override is another set of templates.
        let site = root.path().join("themes/t/sites/s");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("article.html"), "changed {{ x }}").unwrap();
        let overridden = Theme::load(root.path(), "t", Some("s"), Some(&edited)).unwrap();
        assert!(!Arc::ptr_eq(&edited.parsed, &overridden.parsed), "same texts, other paths");
        // A template that no longer parses is an error, not the old templates,
        // and it names the template.
        std::fs::write(dir.join("index.html"), "{% if %}").unwrap();
        let broken = Theme::load(root.path(), "t", None, Some(&edited)).unwrap();
        let err = broken.tera().unwrap_err().to_string();
        assert!(err.contains("index.html"), "{err}");
        assert_eq!(broken.tera().unwrap_err().to_string(), err, "the same error for every site that renders");
    }

    #[test]
    fn dependency_hash_follows_extends_and_includes() {
        let base = "<html>{% block c %}{% endblock %}</html>";
        let texts: HashMap<&str, &str> = [
            ("base.html", base),
            ("article.html", "{% extends \"base.html\" %}{% block c %}{% include 'meta.html' %}{% endblock %}"),
            ("meta.html", "m"),
            ("index.html", "{% extends \"base.html\" %}"),
        ]
        .into();
        let a1 = dep_hash("article.html", &texts, &mut HashSet::new());
        let i1 = dep_hash("index.html", &texts, &mut HashSet::new());
        let mut changed = texts.clone();
        changed.insert("meta.html", "m2");
        assert_ne!(a1, dep_hash("article.html", &changed, &mut HashSet::new()));
        assert_eq!(i1, dep_hash("index.html", &changed, &mut HashSet::new()));
    }

    #[test]
    fn a_missing_variable_is_explained_from_what_the_page_was_given() {
        let ctx = serde_json::json!({"page": {"title": "t", "image": null, "tags": ["a"]}, "site": {"title": "s"}});
        let why = |path: &str| missing_variable(path, &ctx).unwrap_or_default();
        assert_eq!(why("page.titel"), "`page` has no `titel`: did you mean `page.title`?");
        assert_eq!(why("pgae.title"), "the page's context has no `pgae`: did you mean `page`?");
        assert!(why("item.title").contains("a loop's or `set`'s variable exists only inside its block"), "{}", why("item.title"));
        assert_eq!(why("page.image.src"), "`page.image` is empty on this page: test it first, {% if page.image %}…{% endif %}");
        assert_eq!(why("page.tags.first"), "`page.tags` is a list, not a map with fields");
        assert_eq!(why("page.qqqqqq"), "`page` has no `qqqqqq`; it has `image`, `tags`, `title`");
        assert_eq!(missing_variable("page.tags[3]", &ctx), None);
    }

    #[test]
    fn the_failing_name_is_found_as_a_template_writes_it() {
        let line = |msg: &str, text: &str| {
            let (_, re) = failing_name(msg).expect("a name");
            re.find(text).map(|m| text[..m.start()].matches('\n').count() + 1)
        };
        let text = "{{ page.title }}\n{{ page.title_x | upper }}\n{{ x | dat(format='%Y') }}\n{{ m::byline() }}\n{{ now2() }}\n{% if a is odd2 %}{% endif %}\n{{ page.title_x }}\n";
        assert_eq!(line("Variable `page.title_x` not found in context while rendering 'a.html'", text), Some(2));
        assert_eq!(line("Filter 'dat' not found", text), Some(3));
        assert_eq!(line("Macro namespace `m` was not found in template `a.html`. Have you maybe forgotten to import it?", text), Some(4));
        assert_eq!(line("Function 'now2' not found", text), Some(5));
        assert_eq!(line("Test 'odd2' not found", text), Some(6));
        // `page.title` is not `page.title_x`, nor a part of `x.page.title`.
        assert_eq!(
            line("Variable `page.title` not found in context while rendering 'a.html'", "{{ x.page.title }}{{ page.title_x }}"),
            None
        );
    }
}
