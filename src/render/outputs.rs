//! What a site publishes, each output described once: its path, what kind
//! of file it is, where it comes from, and how it is made ([`Make`]). The
//! input hash and the bytes are both derived from the `Make` (see
//! [`Renderer::input_hash`] and [`Renderer::render`]), so what is hashed
//! is what is rendered.

use std::path::Path;

use super::{Renderer, feeds};
use crate::redirects;

/// One output file of a site.
#[derive(Debug)]
pub struct Output<'m> {
    /// Site-relative path.
    pub path: String,
    pub kind: Kind,
    /// The source it comes from, for messages (articles, assets, stubs).
    pub origin: Option<&'m Path>,
    pub make: Make<'m>,
}

impl Output<'_> {
    /// What a message calls this output: its source file, a list page with
    /// an article it lists, or the page or file gen generates.
    pub fn describe(&self) -> String {
        match (self.origin, &self.make) {
            (Some(f), Make::Page(..)) => format!("the list page /{} (it lists {})", self.path, f.display()),
            (Some(f), _) => f.display().to_string(),
            (None, _) if self.kind == Kind::Page => format!("the generated page /{}", self.path),
            (None, _) => format!("the generated file /{}", self.path),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// An HTML page readers see: counted in reports, never hidden by a redirect.
    Page,
    /// The HTML stub left at an old path.
    Stub,
    /// Feeds, sitemaps, manifests, assets: every other file.
    File,
}

/// How an output is made.
#[derive(Debug)]
pub enum Make<'m> {
    /// An article: its Markdown body in `article.html`.
    Article(usize),
    /// A template with its context.
    Page(&'static str, PageCtx<'m>),
    /// Feeds and sitemap parts: made from a value, which is also their input.
    Data(DataCtx),
    /// Made from data in memory (manifests, `robots.txt`, `_headers`, the
    /// syntax stylesheet): the bytes are their own input.
    Bytes(Vec<u8>),
    /// A theme static file or asset, by index in [`crate::assets::Assets::files`].
    Asset(usize),
    /// The search index (its manifest, and the files it names): made after
    /// every other output of the site, from the article texts their renders
    /// produced.
    SearchIndex,
}

/// The context of a template page other than an article.
#[derive(Debug)]
pub enum PageCtx<'m> {
    List(ListPage<'m>),
    Taxonomy {
        part: usize,
        index: usize,
    },
    NotFound,
    Search,
    /// The list of year archives.
    Archives,
}

#[derive(Debug, Clone, Copy)]
pub enum DataCtx {
    Rss,
    Atom,
    /// The `k`-th sitemap file (the only one without an index).
    Sitemap(usize),
}

/// A paginated list: the home page, a section, a term or an author.
#[derive(Debug)]
pub struct ListPage<'m> {
    /// Index into [`crate::model::SiteModel::parts`].
    pub part: usize,
    pub kind: ListKind<'m>,
    /// Site-relative folder of page 1, e.g. `news/` (empty for the home page).
    pub base: String,
    pub items: &'m [usize],
    pub number: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Copy)]
pub enum ListKind<'m> {
    Home,
    Section(&'m str),
    Term { taxonomy: usize, slug: &'m str },
    Author(&'m str),
}

impl ListKind<'_> {
    fn template(self) -> &'static str {
        match self {
            ListKind::Home => "index.html",
            ListKind::Section(_) => "section.html",
            ListKind::Term { .. } => "term.html",
            ListKind::Author(_) => "author.html",
        }
    }
}

impl Output<'_> {
    pub fn is_page(&self) -> bool {
        self.kind == Kind::Page
    }

    /// Made after every other output of the site, from what they produced.
    pub fn is_deferred(&self) -> bool {
        matches!(self.make, Make::SearchIndex)
    }

    /// The template it renders, if any.
    pub fn template(&self) -> Option<&'static str> {
        match &self.make {
            Make::Article(_) => Some("article.html"),
            Make::Page(t, _) => Some(t),
            _ => None,
        }
    }
}

/// The page that lists a site's year archives.
pub const ARCHIVES_PAGE: &str = "archives/";

/// Where a site's search index is published: its manifest.
pub const SEARCH_INDEX: &str = crate::search::index::MANIFEST;

pub(super) fn page_dir(base: &str, number: usize) -> String {
    if number == 1 { base.to_string() } else { format!("{base}page/{number}/") }
}

fn file<'m>(path: impl Into<String>, make: Make<'m>) -> Output<'m> {
    Output { path: path.into(), kind: Kind::File, origin: None, make }
}

fn page<'m>(path: String, template: &'static str, ctx: PageCtx<'m>) -> Output<'m> {
    Output { path, kind: Kind::Page, origin: None, make: Make::Page(template, ctx) }
}

impl<'a> Renderer<'a> {
    /// Every output of the site, in a stable order.
    pub fn outputs(&self) -> Vec<Output<'a>> {
        let m = self.model;
        let per = self.site.paginate;
        let mut out: Vec<Output<'a>> = m
            .articles
            .iter()
            .enumerate()
            .map(|(i, a)| Output { path: format!("{}index.html", a.path), kind: Kind::Page, origin: Some(&a.file), make: Make::Article(i) })
            .collect();
        for (p, part) in m.parts.iter().enumerate() {
            // An archive without articles has no pages; the live site always has a home page.
            if p > 0 && part.all.is_empty() {
                continue;
            }
            let prefix = &part.prefix;
            let mut lists: Vec<(ListKind<'a>, String, &'a [usize])> = vec![(ListKind::Home, prefix.clone(), &part.all)];
            for (name, items) in &part.sections {
                if !name.is_empty() {
                    lists.push((ListKind::Section(name), format!("{prefix}{name}/"), items));
                }
            }
            for (t, tax) in part.taxonomies.iter().enumerate() {
                if tax.terms.is_empty() {
                    continue;
                }
                out.push(page(format!("{prefix}{}/index.html", tax.name), "taxonomy.html", PageCtx::Taxonomy { part: p, index: t }));
                for (slug, term) in &tax.terms {
                    lists.push((ListKind::Term { taxonomy: t, slug }, format!("{prefix}{}/{slug}/", tax.name), &term.articles));
                }
            }
            for (key, (_, items)) in &part.authors {
                lists.push((ListKind::Author(key), format!("{prefix}{}", crate::model::author_path(key)), items));
            }
            for (kind, base, items) in lists {
                let total = items.len().div_ceil(per).max(1);
                for number in 1..=total {
                    let slice = &items[((number - 1) * per).min(items.len())..(number * per).min(items.len())];
                    let path = format!("{}index.html", page_dir(&base, number));
                    let ctx = PageCtx::List(ListPage { part: p, kind, base: base.clone(), items: slice, number, total });
                    // Named after an article it lists: messages about the
                    // page (a section called `tags`) then name a file.
                    let origin = items.first().map(|&i| m.articles[i].file.as_path());
                    out.push(Output { origin, ..page(path, kind.template(), ctx) });
                }
            }
        }
        // Every output so far is a page the sitemap lists.
        self.sitemap.set(feeds::sitemap_entries(self, &out)).ok();
        match out.len().div_ceil(self.site.sitemap_max_urls) {
            0 | 1 => out.push(file("sitemap.xml", Make::Data(DataCtx::Sitemap(0)))),
            n => {
                out.push(file("sitemap.xml", Make::Bytes(self.sitemap_index(n).into_bytes())));
                out.extend((0..n).map(|k| file(feeds::sitemap_part_path(k), Make::Data(DataCtx::Sitemap(k)))));
            }
        }
        if self.site_views[0].archives_url.is_some() {
            out.push(page(format!("{ARCHIVES_PAGE}index.html"), "archives.html", PageCtx::Archives));
        }
        out.push(page("404.html".into(), "404.html", PageCtx::NotFound));
        out.push(file("feed.xml", Make::Data(DataCtx::Rss)));
        out.push(file("atom.xml", Make::Data(DataCtx::Atom)));
        out.push(file("robots.txt", Make::Bytes(self.robots().into_bytes())));
        out.push(file(super::SYNTAX_CSS_PATH.as_str(), Make::Bytes(super::SYNTAX_CSS.as_bytes().to_vec())));
        if self.has_news_sitemap() {
            out.push(file("news-sitemap.xml", Make::Bytes(self.news_sitemap().into_bytes())));
        }
        if self.site.search {
            out.push(file(SEARCH_INDEX, Make::SearchIndex));
            if self.site_views[0].search_url.is_some() {
                out.push(page("search/index.html".into(), "search.html", PageCtx::Search));
            }
        }
        for (i, a) in self.assets.files.iter().enumerate() {
            out.push(Output { path: a.published.clone(), kind: Kind::File, origin: Some(Path::new(&a.source)), make: Make::Asset(i) });
        }
        let (site, rules) = (self.site, self.redirects);
        let wants = |f: &str| site.redirect_formats.iter().any(|x| x == f);
        if !rules.is_empty() {
            for (name, path, make) in [
                ("netlify", "_redirects", redirects::netlify as fn(_, _) -> String),
                ("json", "redirects.json", redirects::json),
                ("nginx", "redirects.map", redirects::nginx),
            ] {
                if wants(name) {
                    out.push(file(path, Make::Bytes(make(site, rules).into_bytes())));
                }
            }
            if wants("html") {
                for rule in rules {
                    if let Some(path) = redirects::stub_path(rule) {
                        let make = Make::Bytes(redirects::html_stub(site, rule).into_bytes());
                        out.push(Output { path, kind: Kind::Stub, origin: Some(&rule.origin.file), make });
                    }
                }
            }
        }
        // Last: its rules cover every other output.
        let headers = self.headers(&out);
        out.push(file("_headers", Make::Bytes(headers.into_bytes())));
        out
    }

    /// `_headers` (Netlify / Cloudflare Pages): content-addressed images and
    /// fingerprinted assets are immutable for a year; every other top-level
    /// file or folder (pages, feeds) gets a short cache. Rules never overlap,
    /// because those hosts merge the values of overlapping rules.
    fn headers(&self, outputs: &[Output]) -> String {
        const IMMUTABLE: &str = "  Cache-Control: public, max-age=31536000, immutable\n";
        const SHORT: &str = "  Cache-Control: public, max-age=300, must-revalidate\n";
        let base = &self.site.base_path;
        let mut out = String::from("# Written by gen: do not edit.\n");
        out += &format!("{base}images/*\n{IMMUTABLE}");
        out += &format!("{base}{}\n{IMMUTABLE}", super::SYNTAX_CSS_PATH.as_str());
        // The search index: content-addressed files, and the manifest naming them.
        if outputs.iter().any(|o| o.is_deferred()) {
            out += &format!("{base}{}*\n{IMMUTABLE}", crate::search::index::FILES);
            out += &format!("{base}{SEARCH_INDEX}\n{SHORT}");
        }
        // The network's, on the site that hosts it: the same two rules.
        if self.site.search_network_host {
            out += &format!("{base}{}{}*\n{IMMUTABLE}", crate::search::network::NET_DIR, crate::search::network::NET_FILES);
            out += &format!("{base}{}\n{SHORT}", crate::search::network::NET_MANIFEST);
        }
        let search_top = crate::search::index::DIR.trim_end_matches('/');
        let mut immutable_tops = std::collections::BTreeSet::from(["images", search_top]);
        for a in self.assets.files.iter().filter(|a| a.is_fingerprinted()) {
            out += &format!("{base}{}\n{IMMUTABLE}", a.published);
            immutable_tops.insert(a.published.split('/').next().unwrap_or(""));
        }
        // Every other top-level entry: `/name` for a file, `/name/*` for a folder.
        let mut short: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for o in outputs {
            if matches!(o.make, Make::Asset(i) if self.assets.files[i].is_fingerprinted()) || o.path == *super::SYNTAX_CSS_PATH {
                continue;
            }
            match o.path.split_once('/') {
                Some((top, _)) if !immutable_tops.contains(top) => short.insert(format!("{top}/*")),
                None if o.path == "index.html" => short.insert(String::new()),
                None => short.insert(o.path.clone()),
                _ => false,
            };
        }
        for rule in short {
            out += &format!("{base}{rule}\n{SHORT}");
        }
        out
    }
}
