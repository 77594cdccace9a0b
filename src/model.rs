//! The immutable site graph: articles with their permalinks, sections,
//! taxonomies and authors, built from parsed metadata. No I/O, no rendering.
//!
//! Everything a template sees of an article is computed here once, as a
//! [`PageView`], and shared by reference by every page that lists it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, FixedOffset};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{Archive, SiteConfig};
use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::Hash;
use crate::images::{Addressed, ImageView};
use crate::parse::{Kind, Meta};

pub const AUTHORS_FILE: &str = "content/authors.yaml";

/// One entry of `content/authors.yaml`, shared by all sites.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Author {
    pub name: String,
    #[serde(default)]
    pub position: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub avatar: String,
}

pub type Authors = BTreeMap<String, Author>;

/// How a key written twice in `content/authors.yaml` is reported.
const WRITTEN_TWICE: &str = "is written twice";

/// `content/authors.yaml`'s authors, by NFC key, each key once: a map
/// would keep the last of two silently.
struct UniqueAuthors(Authors);

impl<'de> Deserialize<'de> for UniqueAuthors {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = Authors;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("authors, each a key with `name`")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Authors, M::Error> {
                let mut out = Authors::new();
                while let Some((key, author)) = m.next_entry::<String, Author>()? {
                    // NFC, as the articles' `author:` values are.
                    let key = crate::parse::nfc(key);
                    if out.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!("author `{key}` {WRITTEN_TWICE}")));
                    }
                    out.insert(key, author);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Keys).map(UniqueAuthors)
    }
}

/// Parses `content/authors.yaml` (missing file: no authors).
pub fn parse_authors(text: &str) -> Result<Authors, Diagnostic> {
    if text.trim().is_empty() {
        return Ok(Authors::new());
    }
    let UniqueAuthors(authors) = serde_norway::from_str(text).map_err(|e| {
        let msg = e.to_string();
        // (serde's "expected struct Author" names a Rust type, not what to write.)
        let msg = msg.split(" at line ").next().unwrap_or(&msg).replace("expected struct Author", "expected an author with `name:`");
        // serde_norway places a repeated key at the mapping: the second time
        // the key is written is the line.
        let twice = msg.split('`').nth(1).filter(|_| msg.ends_with(WRITTEN_TWICE)).and_then(|key| {
            crate::parse::top_keys(text).filter(|(_, k, _)| crate::parse::nfc(k.to_string()) == key).nth(1).map(|(i, ..)| i + 1)
        });
        Diagnostic::new(AUTHORS_FILE, twice.or(e.location().map(|l| l.line())), msg)
            .hint("each author is a key with `name` and optional `position`, `bio`, `email`, `avatar`")
    })?;
    for (key, a) in &authors {
        // A relative or root-relative path, or a web URL; nothing that runs.
        if crate::images::is_external(&a.avatar)
            && let Err(why) = crate::images::web_url(&a.avatar)
        {
            let line = text.lines().position(|l| l.contains("avatar:") && l.contains(a.avatar.as_str())).map(|i| i + 1);
            return Err(Diagnostic::new(AUTHORS_FILE, line, format!("avatar of `{key}`: {why}")));
        }
    }
    Ok(authors)
}

/// A section's own page, from `content/<site>/<section>/_index.md`: the
/// title and description its list page and the navigation show, and an
/// introduction above the list. Key `""` is the home page.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SectionPage {
    pub title: String,
    pub description: String,
    /// The body as HTML.
    pub content: String,
    #[serde(skip)]
    pub file: std::path::PathBuf,
}

/// Which articles a build includes, and the clock it compares dates with.
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub drafts: bool,
    pub future: bool,
    pub now: DateTime<FixedOffset>,
}

impl Filter {
    /// Whether an article with this metadata is published by this build.
    pub fn keeps(&self, meta: &Meta) -> bool {
        (!meta.draft || self.drafts) && (meta.date <= self.now || self.future)
    }
}

/// An article's cover image, resolved before the model is built.
#[derive(Debug, Clone, PartialEq)]
pub struct Cover {
    pub view: ImageView,
    /// A local image, published with the article (`None` for an external URL).
    pub local: Option<Addressed>,
}

/// An image the article publishes for its old URLs alone (`image_aliases:`):
/// each old path redirects to the image's published path.
#[derive(Debug, Clone, PartialEq)]
pub struct Aliased {
    pub image: Addressed,
    /// Old site paths, e.g. `/wp-content/uploads/2023/12/a-800x450.jpg`.
    pub from: Vec<String>,
}

/// The local images of an article resolved before the model is built.
#[derive(Debug, Clone, Default)]
pub struct ArticleImages {
    pub cover: Option<Cover>,
    pub aliased: Vec<Aliased>,
}

/// A parsed source handed to the model (borrowed from the build state: an
/// article made again takes a copy).
#[derive(Debug, Clone, Copy)]
pub struct Parsed<'a> {
    /// Path relative to `content/<site>/`, `/`-separated.
    pub rel: &'a str,
    pub hash: Hash,
    pub meta: &'a Meta,
}

/// Link to a taxonomy term or an author, as templates see it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TermRef {
    pub name: String,
    pub slug: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuthorRef {
    pub key: String,
    pub url: String,
    #[serde(flatten)]
    pub author: Author,
}

/// An article as templates and feeds see it (the body is added at render time).
#[derive(Debug, Clone, Serialize)]
pub struct PageView {
    pub title: String,
    pub date: String,
    pub updated: Option<String>,
    pub summary: String,
    /// Root-relative URL including the site's base path, e.g. `/blog/news/a/`.
    pub url: String,
    pub permalink: String,
    pub section: String,
    pub slug: String,
    pub authors: Vec<AuthorRef>,
    pub tags: Vec<TermRef>,
    pub categories: Vec<TermRef>,
    pub series: Option<TermRef>,
    /// The cover (`image:`), with its published URL and size.
    pub image: Option<ImageView>,
    pub reading_minutes: usize,
    pub draft: bool,
    /// `article` or `page` (themes leave a page's date and neighbours out).
    pub kind: Kind,
    pub extra: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct Article {
    pub rel: String,
    /// Display path from the repository root, for messages.
    pub file: PathBuf,
    pub hash: Hash,
    pub meta: Meta,
    /// Output folder relative to the site root, e.g. `news/a/`.
    pub path: String,
    pub view: PageView,
    /// Hash of `view` serialized: what a list page's input hash takes for it.
    pub view_hash: Hash,
    /// A local cover image, published with the article.
    pub cover: Option<Addressed>,
    /// Images published for their old URLs (`image_aliases:`).
    pub aliased: Vec<Aliased>,
    /// Index into [`SiteModel::parts`]: 0 for the live site, else an archive.
    pub part: usize,
    /// Where the article lives on the live site (its `path` without the
    /// archive prefix); an archived article redirects from here.
    pub live_path: String,
}

/// What a source becomes in the model.
#[allow(clippy::large_enum_variant, reason = "a moved article is rare; the article, the common case, is boxed")]
enum Made {
    Article(Box<Article>),
    // (Boxed: every article's result is moved through a vector of these.)
    Moved(Box<Moved>),
    Failed(Diagnostics),
}

/// An article whose front matter says `moved_to`: not published here; its
/// URL and aliases redirect to the new place.
#[derive(Debug, Clone)]
pub struct Moved {
    pub file: PathBuf,
    pub meta: Meta,
    /// Site-relative paths it had: on the live site and, if archived, in the archive.
    pub paths: Vec<String>,
}

/// The articles of a site's last build in this process (the preview),
/// reused while what each is made of is unchanged: its source's bytes, its
/// images, the site's settings and the authors. A rebuild after one edit
/// makes one article instead of every one.
#[derive(Default)]
pub struct Earlier {
    /// [`made_with`] of the build that made them.
    key: Hash,
    articles: rustc_hash::FxHashMap<String, Box<Article>>,
}

/// What every article of a site is made with besides its source and
/// images: the key of [`Earlier`].
pub fn made_with(site: &SiteConfig, authors: &Authors) -> Hash {
    crate::digest::of(&(site, authors))
}

impl SiteModel {
    /// The model's articles kept for the next build with the same `key`
    /// ([`made_with`]). Pages are left out: their view is trimmed after
    /// they are made ([`SiteModel::build`]).
    pub fn into_earlier(self, key: Hash) -> Earlier {
        let articles = self.articles.into_iter().filter(|a| a.meta.kind == Kind::Article).map(|a| (a.rel.clone(), a)).collect();
        Earlier { key, articles }
    }
}

impl Earlier {
    /// These articles if they were made with `key`, else none.
    pub fn made_with(self, key: Hash) -> Earlier {
        if self.key == key { self } else { Earlier::default() }
    }

    /// The article made for `p` last time, if it is still what `p` and
    /// `images` make.
    fn take(&mut self, p: &Parsed, images: Option<&ArticleImages>) -> Option<Box<Article>> {
        let a = self.articles.remove(p.rel).filter(|a| a.hash == p.hash)?;
        let cover = images.and_then(|i| i.cover.as_ref());
        let aliased = images.map(|i| i.aliased.as_slice()).unwrap_or_default();
        let same = a.view.image.as_ref() == cover.map(|c| &c.view)
            && a.cover.as_ref() == cover.and_then(|c| c.local.as_ref())
            && a.aliased.as_slice() == aliased;
        same.then_some(a)
    }
}

/// A browsable part of a site: the live site, or one year archive with its
/// own index, sections, taxonomies and author pages under its prefix.
#[derive(Debug)]
pub struct Part {
    /// Site-relative prefix: empty for the live site, `2023backup/` for an archive.
    pub prefix: String,
    pub archive: Option<Archive>,
    /// Article indices of the part, newest first: its home page list.
    pub all: Vec<usize>,
    /// Section name → article indices, newest first. The root section "" has no page.
    pub sections: BTreeMap<String, Vec<usize>>,
    pub taxonomies: Vec<Taxonomy>,
    /// Author key → (author, article indices newest first).
    pub authors: BTreeMap<String, (Author, Vec<usize>)>,
}

/// Terms of one taxonomy (`tags`, `categories`, `series`) by slug.
#[derive(Debug, Default)]
pub struct Taxonomy {
    pub name: &'static str,
    pub terms: BTreeMap<String, Term>,
}

#[derive(Debug)]
pub struct Term {
    pub name: String,
    pub slug: String,
    /// Article indices, newest first.
    pub articles: Vec<usize>,
}

pub const TAXONOMIES: [&str; 3] = ["tags", "categories", "series"];

#[derive(Debug)]
pub struct SiteModel {
    /// Newest first; ties broken by title and path so output never depends on walk order.
    /// Boxed: an article is large, and keeping, sorting and handing them
    /// on between preview builds moved each several times (a sixth of the
    /// model stage, in memmove).
    #[allow(clippy::vec_box, reason = "articles move between Vecs and maps; a Box moves as a pointer")]
    pub articles: Vec<Box<Article>>,
    /// The live site first, then each archive, oldest last.
    pub parts: Vec<Part>,
    /// Each article's position in its section's list (within its part);
    /// `None` for a page, which is in no list.
    pub section_pos: Vec<Option<usize>>,
    pub moved: Vec<Moved>,
}

impl SiteModel {
    /// Builds the graph for one site. `content_dir` is `content/<site>` relative to the repo.
    pub fn build(
        site: &SiteConfig,
        content_dir: &Path,
        parsed: Vec<Parsed>,
        authors: &Authors,
        filter: Filter,
        images: &HashMap<String, ArticleImages>,
        mut earlier: Earlier,
    ) -> Result<SiteModel, Diagnostics> {
        let mut diags = Diagnostics::default();
        let parsed: Vec<(Parsed, Option<Box<Article>>)> = parsed
            .into_iter()
            .filter(|p| filter.keeps(p.meta))
            .map(|p| {
                let kept = earlier.take(&p, images.get(p.rel));
                (p, kept)
            })
            .collect();
        // What was dropped is freed while the rest is made.
        rayon::spawn(move || drop(earlier));
        // Each article is made on its own: in parallel.
        let made: Vec<Made> = parsed
            .into_par_iter()
            .map(|(p, kept)| {
                if let Some(a) = kept {
                    return Made::Article(a);
                }
                let file = content_dir.join(p.rel);
                if p.meta.moved_to.is_some() {
                    let live = expand_permalink(&site.permalink, &section_of(p.rel), &slugify(&p.meta.slug), &local(site, &p.meta.date));
                    let live = live.trim_start_matches('/').to_string();
                    let mut paths = vec![live.clone()];
                    let part = part_of(site, &local(site, &p.meta.date));
                    if part > 0 {
                        paths.push(format!("{}/{live}", site.archives[part - 1].path));
                    }
                    return Made::Moved(Box::new(Moved { file, meta: p.meta.clone(), paths }));
                }
                let found = images.get(p.rel).cloned().unwrap_or_default();
                make_article(site, file, p, authors, found).map_or_else(Made::Failed, |a| Made::Article(Box::new(a)))
            })
            .collect();
        let mut articles: Vec<Box<Article>> = Vec::with_capacity(made.len());
        let mut moved = Vec::new();
        for m in made {
            match m {
                Made::Article(a) => articles.push(a),
                Made::Moved(m) => moved.push(*m),
                Made::Failed(d) => diags.extend(d),
            }
        }
        // Newest first.
        articles
            .sort_by(|a, b| b.meta.date.cmp(&a.meta.date).then_with(|| a.meta.title.cmp(&b.meta.title)).then_with(|| a.rel.cmp(&b.rel)));

        let mut by_path: BTreeMap<&str, &Article> = BTreeMap::new();
        for a in &articles {
            if let Some(first) = by_path.insert(&a.path, a) {
                diags.push(
                    Diagnostic::new(
                        &a.file,
                        a.meta.line_of("slug").or(Some(1)),
                        format!("has the same URL /{} as {}", a.path, first.file.display()),
                    )
                    .hint("give one of them another `slug:` or move it"),
                );
            }
        }

        let mut parts: Vec<Part> = std::iter::once(None).chain(site.archives.iter().map(Some)).map(Part::new).collect();
        let mut section_pos = Vec::with_capacity(articles.len());
        for (i, a) in articles.iter().enumerate() {
            // A page is published and searchable, but in no list, term,
            // author page or feed.
            if a.meta.kind == Kind::Page {
                section_pos.push(None);
                continue;
            }
            let part = &mut parts[a.part];
            part.all.push(i);
            let v = &a.view;
            // (Keys are copied only for a list's first article: the preview
            // makes these lists on every rebuild.)
            let list = match part.sections.get_mut(&v.section) {
                Some(list) => list,
                None => part.sections.entry(v.section.clone()).or_default(),
            };
            section_pos.push(Some(list.len()));
            list.push(i);
            for (tax, refs) in part.taxonomies.iter_mut().zip([&v.tags[..], &v.categories[..], v.series.as_slice()]) {
                for r in refs {
                    match tax.terms.get_mut(&r.slug) {
                        Some(term) => term.articles.push(i),
                        None => {
                            tax.terms.insert(r.slug.clone(), Term { name: r.name.clone(), slug: r.slug.clone(), articles: vec![i] });
                        }
                    }
                }
            }
            for r in &v.authors {
                match part.authors.get_mut(&r.key) {
                    Some((_, list)) => list.push(i),
                    None => {
                        part.authors.insert(r.key.clone(), (r.author.clone(), vec![i]));
                    }
                }
            }
        }
        // A page is on no term page: it links only to terms that have one.
        let live = &parts[0].taxonomies;
        for a in articles.iter_mut().filter(|a| a.meta.kind == Kind::Page) {
            a.view.tags.retain(|t| live[0].terms.contains_key(&t.slug));
            a.view.categories.retain(|t| live[1].terms.contains_key(&t.slug));
            a.view.series = a.view.series.take().filter(|s| live[2].terms.contains_key(&s.slug));
            a.view_hash = crate::digest::of(&a.view);
        }
        diags.into_result(SiteModel { articles, parts, section_pos, moved })
    }
}

impl Part {
    fn new(archive: Option<&Archive>) -> Part {
        Part {
            prefix: archive.map(|a| format!("{}/", a.path)).unwrap_or_default(),
            archive: archive.cloned(),
            all: vec![],
            sections: BTreeMap::new(),
            taxonomies: TAXONOMIES.iter().map(|n| Taxonomy { name: n, terms: BTreeMap::new() }).collect(),
            authors: BTreeMap::new(),
        }
    }
}

/// `date` as the site's clocks show it: its year, month and day are the ones
/// URLs, archives and pages use.
pub fn local(site: &SiteConfig, date: &DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    match site.timezone {
        Some(tz) => date.with_timezone(&tz).fixed_offset(),
        None => *date,
    }
}

/// 0 for the live site, else 1 + the index of the archive the date falls in
/// (the first whose `until` year is not before it).
pub fn part_of(site: &SiteConfig, date: &DateTime<FixedOffset>) -> usize {
    site.archives.iter().position(|a| date.year() <= a.until).map(|i| i + 1).unwrap_or(0)
}

fn make_article(site: &SiteConfig, file: PathBuf, p: Parsed, authors: &Authors, images: ArticleImages) -> Result<Article, Diagnostics> {
    let ArticleImages { cover, aliased } = images;
    let mut diags = Diagnostics::default();
    let meta = p.meta;
    let section = section_of(p.rel);
    let slug = slugify(&meta.slug);
    if slug.is_empty() {
        diags.push(
            Diagnostic::new(&file, meta.line_of("slug").or(Some(1)), format!("slug `{}` has no letters or digits", meta.slug))
                .hint("set `slug:` to a few words, e.g. `slug: my-article`"),
        );
    }
    let url_path = match meta.kind {
        Kind::Article => expand_permalink(&site.permalink, &section, &slug, &local(site, &meta.date)),
        Kind::Page => page_path(p.rel, &slug),
    };
    let live_path = url_path.trim_start_matches('/').to_string();
    // A page is not news of its year: it stays on the live site.
    let part = if meta.kind == Kind::Page { 0 } else { part_of(site, &local(site, &meta.date)) };
    // An archived article, its terms and its authors live under the archive's prefix.
    let prefix = if part > 0 { format!("{}/", site.archives[part - 1].path) } else { String::new() };
    let path = format!("{prefix}{live_path}");

    let mut author_refs = Vec::new();
    for key in &meta.authors {
        match authors.get(key) {
            Some(a) => author_refs.push(AuthorRef {
                key: key.clone(),
                url: site.url_for(&format!("{prefix}{}", author_path(key))),
                author: a.clone(),
            }),
            None => diags.push(
                Diagnostic::new(&file, meta.line_of("author").or(meta.line_of("authors")), format!("unknown author `{key}`"))
                    .hint(format!("add `{key}:` to {AUTHORS_FILE} or use one of its keys")),
            ),
        }
    }
    let term = |tax: &str, name: &String| -> Option<TermRef> {
        let slug = slugify(name);
        (!slug.is_empty()).then(|| TermRef { name: name.clone(), url: site.url_for(&format!("{prefix}{tax}/{slug}/")), slug })
    };
    let terms = |tax: &str, names: &[String], key: &str, diags: &mut Diagnostics| -> Vec<TermRef> {
        let mut out: Vec<TermRef> = Vec::new();
        for n in names {
            match term(tax, n) {
                Some(t) if !out.iter().any(|o| o.slug == t.slug) => out.push(t),
                Some(_) => {}
                None => diags.push(
                    Diagnostic::new(&file, meta.line_of(key), format!("{key} entry `{n}` has no letters or digits"))
                        .hint("remove it or write a word"),
                ),
            }
        }
        out
    };
    let tags = terms("tags", &meta.tags, "tags", &mut diags);
    let categories = terms("categories", &meta.categories, "categories", &mut diags);
    let series = terms("series", meta.series.as_slice(), "series", &mut diags).pop();
    let view = PageView {
        title: meta.title.clone(),
        date: local(site, &meta.date).to_rfc3339(),
        updated: meta.updated.map(|d| local(site, &d).to_rfc3339()),
        summary: meta.summary.clone(),
        url: site.url_for(&path),
        permalink: site.permalink_for(&path),
        section,
        slug,
        authors: author_refs,
        tags,
        categories,
        series,
        image: cover.as_ref().map(|c| c.view.clone()),
        reading_minutes: meta.reading_minutes,
        draft: meta.draft,
        kind: meta.kind,
        extra: meta.extra.clone(),
    };
    let cover = cover.and_then(|c| c.local);
    let view_hash = crate::digest::of(&view);
    let (rel, meta) = (p.rel.to_string(), p.meta.clone());
    diags.into_result(Article { rel, file, hash: p.hash, meta, path, view, view_hash, cover, aliased, part, live_path })
}

/// A page's path: its folders under the site, then its slug
/// (`company/team/index.md` → `/company/team/`), whatever the permalink.
pub fn page_path(rel: &str, slug: &str) -> String {
    let mut folders: Vec<&str> = rel.split('/').collect();
    folders.pop(); // the file
    if rel.ends_with("/index.md") {
        folders.pop(); // the bundle folder: the slug names it
    }
    let mut out = String::from("/");
    for f in folders.iter().map(|f| slugify(f)).filter(|f| !f.is_empty()).chain([slug.to_string()]) {
        out.push_str(&f);
        out.push('/');
    }
    out
}

/// The first folder under the site; a bundle's own folder is not a section.
pub fn section_of(rel: &str) -> String {
    let mut parts: Vec<&str> = rel.split('/').collect();
    parts.pop(); // the file
    if rel.ends_with("/index.md") {
        parts.pop(); // the bundle folder
    }
    parts.first().map(|s| slugify(s)).unwrap_or_default()
}

/// The slug a file gets when its front matter has none.
/// `_index.md` (the site's) or `<section>/_index.md`: a section page, not an article.
pub fn is_section_page(rel: &str) -> bool {
    rel == "_index.md" || rel.ends_with("/_index.md")
}

pub fn fallback_slug(rel: &str) -> &str {
    let mut parts = rel.rsplit('/');
    let file = parts.next().unwrap_or(rel);
    if file == "index.md"
        && let Some(dir) = parts.next()
    {
        return dir;
    }
    file.strip_suffix(".md").unwrap_or(file)
}

pub fn author_path(key: &str) -> String {
    format!("authors/{}/", slugify(key))
}

pub fn expand_permalink(pattern: &str, section: &str, slug: &str, date: &DateTime<FixedOffset>) -> String {
    let s = pattern
        .replace("{section}", section)
        .replace("{slug}", slug)
        .replace("{year}", &format!("{:04}", date.year()))
        .replace("{month}", &format!("{:02}", date.month()))
        .replace("{day}", &format!("{:02}", date.day()));
    // An empty {section} must not leave `//` behind.
    let mut out = String::from("/");
    for seg in s.split('/').filter(|s| !s.is_empty()) {
        out.push_str(seg);
        out.push('/');
    }
    out
}

/// Lowercase, letters and digits of any script kept (Hangul stays Hangul),
/// everything else folded into single dashes. The result is always a safe
/// single path segment: no `/`, no `.`.
pub fn slugify(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    // NFC first: a decomposed `é` is `e` and a combining accent, which is
    // not alphanumeric (`re-sume`). ASCII is its own NFC (most tags and
    // file names; a site's every tag is slugified at each build).
    if s.is_ascii() { slug_of(s.chars(), s.len()) } else { slug_of(s.nfc(), s.len()) }
}

fn slug_of(chars: impl Iterator<Item = char>, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut dash = false;
    for c in chars {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by a new user: the second `kim` replaced the first without a
    /// word, and kim's page lost the position, bio and email.
    #[test]
    fn an_author_written_twice_is_an_error_on_its_second_line() {
        let text = "kim:\n  name: Kim\n  bio: Reporter\npark:\n  name: Park\n\"kim\":\n  name: Other Kim\n";
        let e = parse_authors(text).unwrap_err().to_string();
        assert!(e.contains("content/authors.yaml:6: author `kim` is written twice"), "{e}");
        // Keys are NFC: two spellings of one name are one author.
        let nfd = "\u{1100}\u{1175}\u{11b7}";
        let e = parse_authors(&format!("김:\n  name: A\n{nfd}:\n  name: B\n")).unwrap_err().to_string();
        assert!(e.contains(":3: author `김` is written twice"), "{e}");
        assert_eq!(parse_authors("kim:\n  name: Kim\npark:\n  name: Park\n").unwrap().len(), 2);
    }

    /// Found by a new user: "expected struct Author" named a Rust type.
    #[test]
    fn an_author_that_is_not_a_mapping_is_told_what_an_author_is() {
        let e = parse_authors("kim: 김서연\n").unwrap_err().to_string();
        assert!(e.contains("expected an author with `name:`") && !e.contains("struct"), "{e}");
    }

    #[test]
    fn slugify_keeps_hangul_and_is_path_safe() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(slugify("한국 경제 2024"), "한국-경제-2024");
        assert_eq!(slugify("../../etc/passwd"), "etc-passwd");
        assert_eq!(slugify("C++ & Rust"), "c-rust");
        assert_eq!(slugify("---"), "");
        assert_eq!(slugify("re\u{301}sume\u{301}"), "résumé");
        assert_eq!(slugify("\u{1100}\u{1167}\u{11BC}\u{110C}\u{1166}"), "경제", "NFD Hangul (macOS file names)");
    }

    #[test]
    fn sections_and_fallback_slugs() {
        assert_eq!(section_of("news/a.md"), "news");
        assert_eq!(section_of("news/2024/a/index.md"), "news");
        assert_eq!(section_of("about.md"), "");
        assert_eq!(section_of("bundle/index.md"), "");
        assert_eq!(fallback_slug("news/my-post/index.md"), "my-post");
        assert_eq!(fallback_slug("news/other.md"), "other");
    }

    #[test]
    fn a_page_lives_at_its_folders_then_its_slug() {
        assert_eq!(page_path("about.md", "about"), "/about/");
        assert_eq!(page_path("about/index.md", "about"), "/about/");
        assert_eq!(page_path("company/team/index.md", "team"), "/company/team/");
        assert_eq!(page_path("Company Info/team.md", "our-team"), "/company-info/our-team/");
    }

    #[test]
    fn permalinks_expand_and_collapse_empty_segments() {
        let d = DateTime::parse_from_rfc3339("2024-03-05T10:00:00+09:00").unwrap();
        assert_eq!(expand_permalink("/{section}/{slug}/", "news", "a", &d), "/news/a/");
        assert_eq!(expand_permalink("/{section}/{slug}/", "", "about", &d), "/about/");
        assert_eq!(expand_permalink("/{year}/{month}/{day}/{slug}/", "x", "a", &d), "/2024/03/05/a/");
    }
}
