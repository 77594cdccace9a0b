//! Outputs of a site and how each is made: Tera pages, feeds, the sitemap,
//! robots.txt, the syntax stylesheet and theme static files.
//!
//! Every output has an *input hash*: the hash of exactly what its renderer
//! reads (the serialized template context, the template and everything it
//! extends or includes, render settings, the article's source). The planner
//! compares it with the previous build's, so only outputs whose inputs changed
//! are rendered. Contexts borrow from the model: no page ever gets the whole
//! site, and nothing is cloned per page.

mod feeds;
mod outputs;

pub use feeds::NEWS_WINDOW_HOURS;
use outputs::page_dir;
pub use outputs::{DataCtx, Kind, ListKind, ListPage, Make, Output, PageCtx, SEARCH_INDEX};

use std::path::Path;
use std::sync::{LazyLock, OnceLock};

use chrono::{DateTime, FixedOffset};

use rayon::prelude::*;
use serde::Serialize;

use crate::assets::{AssetUrl, Assets};
use crate::config::SiteConfig;
use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::Hash;
use crate::images::{self, Addressed, Catalog};
use crate::model::{Article, AuthorRef, PageView, SiteModel, TermRef};
use crate::parse::{self, ImageOut, Markdown};
use crate::redirects::Rule;
use crate::theme::{self, Theme};

/// Bumped whenever a renderer's output changes for the same inputs, so old
/// caches re-render.
pub const RENDER_VERSION: &str = concat!("gen-render-1-", env!("CARGO_PKG_VERSION"));

/// What a site build needs to render, shared by all its outputs.
pub struct Renderer<'a> {
    pub site: &'a SiteConfig,
    pub model: &'a SiteModel,
    pub theme: &'a Theme,
    pub markdown: &'a Markdown,
    pub root: &'a std::path::Path,
    pub minify: bool,
    /// Image sources addressed by this build.
    pub catalog: &'a Catalog,
    pub assets: &'a Assets,
    pub redirects: &'a [Rule],
    sections: &'a std::collections::BTreeMap<String, crate::model::SectionPage>,
    /// The year archives that have articles, oldest first.
    archives: Vec<Link>,
    /// The theme's templates with this site's `asset_url`.
    tera: tera::Tera,
    /// `site` for the pages of each part (live site, archives).
    site_views: Vec<SiteView<'a>>,
    /// Hash of each article's serialized [`PageView`].
    view_hashes: Vec<Hash>,
    /// Hash of each part's serialized [`SiteView`].
    site_view_hashes: Vec<Hash>,
    /// The build's clock (the news sitemap's 48 hours end here).
    now: DateTime<FixedOffset>,
    /// The sitemap's entries, set when the outputs are listed.
    sitemap: OnceLock<Vec<feeds::SitemapEntry>>,
}

/// `site` in every template.
#[derive(Serialize)]
struct SiteView<'a> {
    name: &'a str,
    title: &'a str,
    description: &'a str,
    language: &'a str,
    base_url: &'a str,
    /// Root-relative URL of the home page (the base path), or of the archive's.
    url: String,
    extra: &'a serde_json::Value,
    sections: Vec<Link>,
    taxonomies: Vec<Link>,
    feed_url: String,
    atom_url: String,
    syntax_css_url: String,
    /// The search page, when the site has one.
    search_url: Option<String>,
    /// Set on the pages of a year archive (for the theme's banner).
    archive: Option<ArchiveView>,
    /// The page listing the year archives, when the site has any (a link in
    /// the footer; the list itself is on that page only, so moving a
    /// boundary does not re-render every page).
    archives_url: Option<String>,
    /// The theme's UI strings in the site's language, with the site's overrides.
    strings: std::collections::BTreeMap<String, String>,
    /// `og:image` of pages without an image of their own (`default_image`).
    default_image: Option<String>,
}

/// `section` on a section's list pages: its `_index.md`, if any.
#[derive(Serialize)]
struct SectionView<'a> {
    /// The folder name, as in URLs.
    name: &'a str,
    /// The section page's title, else the folder name.
    title: &'a str,
    description: &'a str,
    /// The section page's body as HTML (empty without one).
    content: &'a str,
    url: String,
    permalink: String,
}

#[derive(Serialize)]
struct ArchiveView {
    /// e.g. `2023backup`
    path: String,
    until: i32,
    /// The archive's home page.
    url: String,
    /// The live site's home page.
    live_url: String,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Link {
    pub name: String,
    pub url: String,
}

/// `page` for article.html: the view plus the rendered body.
#[derive(Serialize)]
struct ArticleCtx<'a> {
    site: Hashed<'a, &'a SiteView<'a>>,
    page: Hashed<'a, ArticlePage<'a>>,
    /// The neighbouring articles in the same section, by date.
    earlier: Option<Link>,
    later: Option<Link>,
    /// Every article of the page's series, oldest first.
    series_pages: Vec<Link>,
    /// schema.org JSON-LD (empty while hashing: it is made of the view).
    json_ld: String,
    /// `og:image` without a cover: the first body image, else the site's
    /// `default_image` (none while hashing: the body and its images are
    /// in the input hash already).
    og_image: Option<String>,
    /// The cover is also the body's first image: the theme shows it once
    /// (false while hashing, like `og_image`).
    cover_in_body: bool,
}

#[derive(Serialize)]
struct ArticlePage<'a> {
    #[serde(flatten)]
    view: &'a PageView,
    content: &'a str,
}

/// A part of a template context: the value for templates, or its hash,
/// computed once per build, when computing input hashes (a list hashes 32
/// bytes per article instead of serializing every summary again; every page
/// hashes `site` in 32 bytes).
#[derive(Serialize)]
#[serde(untagged)]
enum Hashed<'a, T> {
    Value(T),
    Hash(&'a Hash),
}

#[derive(Serialize)]
struct Paginator<'a> {
    pages: Vec<Hashed<'a, &'a PageView>>,
    current: usize,
    total: usize,
    first_url: String,
    previous_url: Option<String>,
    next_url: Option<String>,
}

#[derive(Serialize)]
struct ListCtx<'a> {
    site: Hashed<'a, &'a SiteView<'a>>,
    paginator: Paginator<'a>,
    /// On the first page of the home page: a block per section.
    home: Option<HomeView<'a>>,
    /// On section pages, and on the home page when `_index.md` gives it a text.
    section: Option<SectionView<'a>>,
    taxonomy: Option<Link>,
    term: Option<&'a TermRef>,
    author: Option<&'a AuthorRef>,
}

#[derive(Serialize)]
struct HomeView<'a> {
    sections: Vec<HomeSection<'a>>,
}

/// A section's block on the front page: its newest articles.
#[derive(Serialize)]
struct HomeSection<'a> {
    name: &'a str,
    title: &'a str,
    url: String,
    pages: Vec<Hashed<'a, &'a PageView>>,
}

#[derive(Serialize)]
struct TermCount {
    name: String,
    slug: String,
    url: String,
    count: usize,
}

#[derive(Serialize)]
struct TaxonomyCtx<'a> {
    site: &'a SiteView<'a>,
    taxonomy: Link,
    terms: Vec<TermCount>,
}

#[derive(Serialize)]
struct SiteOnlyCtx<'a> {
    site: &'a SiteView<'a>,
}

/// Any template page's context (serialized as the one it holds).
#[derive(Serialize)]
#[serde(untagged)]
enum AnyCtx<'a> {
    List(Box<ListCtx<'a>>),
    Taxonomy(TaxonomyCtx<'a>),
    Site(SiteOnlyCtx<'a>),
    Search(SearchCtx<'a>),
    Archives(ArchivesCtx<'a>),
}

/// archives.html: the year archives of the site.
#[derive(Serialize)]
struct ArchivesCtx<'a> {
    site: &'a SiteView<'a>,
    archives: &'a [Link],
}

/// search.html: where the index is, and how much of each body it holds.
#[derive(Serialize)]
struct SearchCtx<'a> {
    site: &'a SiteView<'a>,
    search_index_url: String,
    /// On the site that hosts the network search: its manifest.
    network_index_url: Option<String>,
}

static MINIFY: LazyLock<minify_html::Cfg> = LazyLock::new(|| {
    let mut cfg = minify_html::Cfg::new();
    cfg.minify_css = true;
    cfg.keep_html_and_head_opening_tags = true;
    cfg
});

/// Puts back the `</head>` the minifier leaves out (it is optional in HTML):
/// tools that read pages without an HTML parser, such as Pagefind, look for
/// it, and skipped most minified pages without it. Keeping every closing
/// tag instead (`keep_closing_tags`) would cost bytes on every page.
fn keep_head_end(mut html: Vec<u8>) -> Vec<u8> {
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    if let Some(body) = find(&html, b"<body")
        && find(&html[..body], b"</head>").is_none()
    {
        html.splice(body..body, b"</head>".iter().copied());
    }
    html
}

/// A job's output: the bytes to publish and the images an article uses
/// (cover first, then the body's in order, each once).
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub images: Vec<Addressed>,
    /// An article's plain text for the search index.
    pub text: Option<String>,
    /// Things the writer should know that do not stop the build.
    pub warnings: Vec<String>,
}

/// An article's input hash including the current hashes of its images.
/// Without images it is the base hash, so adding the first image changes it.
pub fn with_images(base: Hash, image_hashes: impl IntoIterator<Item = Hash>) -> Hash {
    let mut h: Option<blake3::Hasher> = None;
    for img in image_hashes {
        h.get_or_insert_with(|| {
            let mut h = blake3::Hasher::new();
            h.update(&base);
            h
        })
        .update(&img);
    }
    h.map(|h| *h.finalize().as_bytes()).unwrap_or(base)
}

/// One site's loaded inputs, as the render stage receives them.
pub struct SiteInputs<'a> {
    pub site: &'a SiteConfig,
    pub model: &'a SiteModel,
    pub theme: &'a Theme,
    pub catalog: &'a Catalog,
    pub assets: &'a Assets,
    /// Collapsed and checked redirects.
    pub redirects: &'a [Rule],
    /// Section pages (`_index.md`) by section; `""` for the home page.
    pub sections: &'a std::collections::BTreeMap<String, crate::model::SectionPage>,
    /// The site's `default_image`, as an absolute URL.
    pub default_image: Option<String>,
    /// Hash of the image settings and of the names of the images in
    /// `content/<site>/assets/` (a new one may change what a `/path` in any
    /// body resolves to): part of every page's input.
    pub asset_images: Hash,
    pub now: DateTime<FixedOffset>,
}

impl<'a> Renderer<'a> {
    pub fn new(inputs: SiteInputs<'a>, markdown: &'a Markdown, root: &'a std::path::Path, minify: bool) -> Self {
        let SiteInputs { site, model, theme, catalog, assets, redirects, sections, default_image, asset_images, now } = inputs;
        let search_page = site.search && theme.has("search.html");
        let strings = theme.strings_for(&site.language, &site.strings);
        let say = |key: &str| strings.get(key).cloned().unwrap_or_else(|| key.to_string());
        let archives: Vec<Link> = model
            .parts
            .iter()
            .filter_map(|p| p.archive.as_ref().filter(|_| !p.all.is_empty()).map(|a| (a, &p.prefix)))
            .map(|(a, prefix)| Link { name: say("archive_link").replace("{year}", &a.until.to_string()), url: site.url_for(prefix) })
            .collect();
        let archives_url = (!archives.is_empty() && theme.has("archives.html")).then(|| site.url_for(outputs::ARCHIVES_PAGE));
        let site_views: Vec<SiteView> = model
            .parts
            .iter()
            .map(|part| SiteView {
                name: &site.name,
                title: &site.title,
                description: &site.description,
                language: &site.language,
                base_url: &site.base_url,
                url: site.url_for(&part.prefix),
                extra: &site.extra,
                // The menu: the sections `menu` names, in its order (those
                // without articles left out), else every section.
                sections: match &site.menu {
                    Some(menu) => menu.iter().filter(|s| part.sections.contains_key(*s)).collect::<Vec<_>>(),
                    None => part.sections.keys().filter(|s| !s.is_empty()).collect(),
                }
                .into_iter()
                .map(|s| Link {
                    name: sections.get(s).map(|p| p.title.clone()).unwrap_or_else(|| s.clone()),
                    url: site.url_for(&format!("{}{s}/", part.prefix)),
                })
                .collect(),
                taxonomies: part
                    .taxonomies
                    .iter()
                    .filter(|t| !t.terms.is_empty())
                    .map(|t| Link { name: say(t.name), url: site.url_for(&format!("{}{}/", part.prefix, t.name)) })
                    .collect(),
                feed_url: site.url_for("feed.xml"),
                atom_url: site.url_for("atom.xml"),
                syntax_css_url: site.url_for(&SYNTAX_CSS_PATH),
                search_url: search_page.then(|| site.url_for("search/")),
                archive: part.archive.as_ref().map(|a| ArchiveView {
                    path: a.path.clone(),
                    until: a.until,
                    url: site.url_for(&part.prefix),
                    live_url: site.base_path.clone(),
                }),
                archives_url: archives_url.clone(),
                strings: strings.clone(),
                default_image: default_image.clone(),
            })
            .collect();
        // Every page hashes `site`: the site's asset images go with it.
        let site_view_hashes = site_views
            .iter()
            .map(|v| {
                let mut h = blake3::Hasher::new();
                h.update(&json_hash(v));
                h.update(&asset_images);
                *h.finalize().as_bytes()
            })
            .collect();
        let view_hashes = model.articles.par_iter().map(|a| json_hash(&a.view)).collect();
        let mut tera = theme.tera.clone();
        let urls = assets.files.iter().map(|a| (a.logical.clone(), site.url_for(&a.published))).collect();
        tera.register_function("asset_url", AssetUrl { urls });
        Renderer {
            site,
            model,
            theme,
            markdown,
            root,
            minify,
            catalog,
            assets,
            redirects,
            sections,
            archives,
            tera,
            site_views,
            view_hashes,
            site_view_hashes,
            now,
            sitemap: OnceLock::new(),
        }
    }

    /// The hash of everything an output is made from: what its [`Make`]
    /// says, hashed from the same values [`Renderer::render`] renders.
    pub fn input_hash(&self, o: &Output) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(RENDER_VERSION.as_bytes());
        h.update(&[self.minify as u8]);
        if let Some(t) = o.template() {
            h.update(&self.theme.template_hash(t));
            // Any template may call asset_url.
            h.update(&self.assets.hash);
        }
        match &o.make {
            Make::Article(i) => {
                let a = &self.model.articles[*i];
                h.update(&a.hash);
                h.update(&[self.site.unsafe_html as u8]);
                // The body's search text is rendered with the article.
                h.update(&self.text_chars().to_le_bytes());
                h.update(self.site.schema_type.as_bytes());
                hash_json(&mut h, &self.article_ctx(*i, "", true));
            }
            Make::Page(_, ctx) => hash_json(&mut h, &self.page_ctx(ctx, true)),
            Make::Data(d) => match d {
                DataCtx::Rss | DataCtx::Atom => hash_json(&mut h, &self.feed()),
                DataCtx::Sitemap(k) => hash_json(&mut h, &self.sitemap_part(*k)),
            },
            Make::Bytes(bytes) => {
                h.update(bytes);
            }
            // Published as read: the content is the input.
            Make::Asset(i) => {
                h.update(&self.assets.files[*i].hash);
            }
            Make::SearchIndex => self.hash_search_index(&mut h),
        }
        *h.finalize().as_bytes()
    }

    /// Produces the output bytes of `o`.
    pub fn render(&self, o: &Output) -> Result<Rendered, Diagnostics> {
        let mut images = Vec::new();
        let mut text = None;
        let mut warnings = Vec::new();
        let bytes = match &o.make {
            Make::Article(i) => {
                let a = &self.model.articles[*i];
                images.extend(a.cover.clone());
                for al in &a.aliased {
                    if !images.iter().any(|i| i.rel == al.image.rel) {
                        images.push(al.image.clone());
                    }
                }
                let before = images.len();
                let mut first_in_body = None;
                let body = self.article_body(a, &mut images, &mut first_in_body)?;
                text = Some(body.text);
                if let Some(first) = body.escaped_html.first() {
                    let more = body.escaped_html.len() - 1;
                    let more =
                        if more > 0 { format!(" (and {more} more place{})", if more == 1 { "" } else { "s" }) } else { String::new() };
                    warnings.push(format!("{}:{first}: {}{more}", a.file.display(), crate::check::ESCAPED_HTML));
                }
                let og_image = match &a.view.image {
                    Some(_) => None,
                    None => {
                        images[before..].first().map(|img| self.site.image_permalink(&img.rel)).or(self.site_views[0].default_image.clone())
                    }
                };
                let mut ctx = self.article_ctx(*i, &body.html, false);
                ctx.json_ld = self.json_ld(a, og_image.as_deref());
                ctx.og_image = og_image;
                ctx.cover_in_body = a.cover.as_ref().is_some_and(|c| first_in_body.as_ref() == Some(&c.rel));
                self.tera("article.html", &ctx)?
            }
            Make::Page(template, ctx) => self.tera(template, &self.page_ctx(ctx, false))?,
            Make::Data(DataCtx::Rss) => feeds::rss(&self.feed()).into_bytes(),
            Make::Data(DataCtx::Atom) => feeds::atom(&self.feed()).into_bytes(),
            Make::Data(DataCtx::Sitemap(k)) => feeds::sitemap(self.sitemap_part(*k)).into_bytes(),
            Make::Bytes(bytes) => bytes.clone(),
            Make::Asset(i) => self.assets.files[*i].bytes.clone(),
            Make::SearchIndex => {
                return Err(Diagnostics::one(Diagnostic::new(
                    SEARCH_INDEX,
                    None,
                    "the search index is made by search_index(), after the articles",
                )));
            }
        };
        Ok(Rendered { bytes, images, text, warnings })
    }

    /// The context of a template page, or with `for_hash` what its input hash covers.
    fn page_ctx<'b>(&'b self, ctx: &'b PageCtx<'b>, for_hash: bool) -> AnyCtx<'b> {
        match ctx {
            PageCtx::List(l) => AnyCtx::List(Box::new(self.list_ctx(l, for_hash))),
            PageCtx::Taxonomy { part, index } => AnyCtx::Taxonomy(self.taxonomy_ctx(*part, *index)),
            PageCtx::NotFound => AnyCtx::Site(SiteOnlyCtx { site: &self.site_views[0] }),
            PageCtx::Search => AnyCtx::Search(self.search_ctx()),
            PageCtx::Archives => AnyCtx::Archives(ArchivesCtx { site: &self.site_views[0], archives: &self.archives }),
        }
    }

    fn tera(&self, template: &str, ctx: &impl Serialize) -> Result<Vec<u8>, Diagnostic> {
        let context = tera::Context::from_serialize(ctx)
            .map_err(|e| Diagnostic::new(self.template_file(template), None, format!("cannot build the template context: {e}")))?;
        let html = self.tera.render(template, &context).map_err(|e| {
            Diagnostic::new(self.template_file(template), None, theme::error_chain(&e))
                .hint("fix the template; the variables a template gets are listed in README.md")
        })?;
        Ok(if self.minify { keep_head_end(minify_html::minify(html.as_bytes(), &MINIFY)) } else { html.into_bytes() })
    }

    fn template_file(&self, template: &str) -> String {
        let overridden = format!("themes/{}/sites/{}/{template}", self.theme.name, self.site.name);
        if self.root.join(&overridden).is_file() { overridden } else { format!("themes/{}/templates/{template}", self.theme.name) }
    }

    /// The article's HTML body; images it references are resolved, added to
    /// `images` and their URLs rewritten to the published paths.
    /// `first` gets the published path of the body's first image.
    fn article_body(&self, a: &Article, images: &mut Vec<Addressed>, first: &mut Option<String>) -> Result<parse::Body, Diagnostics> {
        let path = self.root.join(&a.file);
        let text = std::fs::read_to_string(&path).map_err(|e| Diagnostic::new(&a.file, None, format!("cannot read: {e}")))?;
        let split = parse::split(&text).map_err(|(line, msg)| Diagnostic::new(&a.file, Some(line), msg))?;
        let content_dir = Path::new("content").join(&self.site.name);
        let lookup = images::Lookup { root: self.root, content_dir: &content_dir, article_dir: a.file.parent().unwrap_or(&content_dir) };
        let body = self.markdown.render(&a.file, split.body, split.body_line, self.site.unsafe_html, self.text_chars(), |url, line| {
            let found = self.catalog.resolve(&lookup, url).map_err(|why| {
                Diagnostic::new(&a.file, Some(line), why).hint("put the image in the article's folder (page bundle) or in assets/")
            })?;
            Ok(found.map(|img| {
                let (width, height) = img.size();
                let sources = img
                    .variants
                    .iter()
                    .flat_map(|set| &set.modern)
                    .map(|(f, list)| (f.mime(), images::variants::srcset(list, |rel| self.site.image_url(rel))))
                    .collect();
                let sizes = self.catalog.settings().sizes.clone();
                let out = ImageOut { url: self.site.image_url(&img.rel), width, height, sources, sizes };
                first.get_or_insert_with(|| img.rel.clone());
                if !images.iter().any(|i| i.rel == img.rel) {
                    images.push(img);
                }
                out
            }))
        });
        body.map_err(Diagnostics)
    }

    /// A UI string of the site's language (the key itself when the theme has none).
    fn say(&self, key: &str) -> String {
        self.site_views[0].strings.get(key).cloned().unwrap_or_else(|| key.to_string())
    }

    fn link(&self, i: usize) -> Link {
        let v = &self.model.articles[i].view;
        Link { name: v.title.clone(), url: v.url.clone() }
    }

    /// The context of article.html; `for_hash`: the view and `site` as their
    /// hashes, no JSON-LD (it is made of the view).
    fn article_ctx<'b>(&'b self, i: usize, content: &'b str, for_hash: bool) -> ArticleCtx<'b> {
        let a = &self.model.articles[i];
        let part = &self.model.parts[a.part];
        let in_section = &part.sections[&a.view.section];
        let pos = self.model.section_pos[i];
        let series_pages = a
            .view
            .series
            .as_ref()
            .and_then(|s| part.taxonomies[2].terms.get(&s.slug))
            .map(|t| t.articles.iter().rev().map(|&j| self.link(j)).collect())
            .unwrap_or_default();
        ArticleCtx {
            site: self.site_ref(a.part, for_hash),
            page: if for_hash { Hashed::Hash(&self.view_hashes[i]) } else { Hashed::Value(ArticlePage { view: &a.view, content }) },
            later: pos.checked_sub(1).map(|p| self.link(in_section[p])),
            earlier: in_section.get(pos + 1).map(|&j| self.link(j)),
            series_pages,
            json_ld: String::new(),
            og_image: None,
            cover_in_body: false,
        }
    }

    /// The front page's section blocks: the configured sections (or every
    /// section), each with its newest articles.
    fn home_view(&self, part: usize, for_hash: bool) -> HomeView<'_> {
        let p = &self.model.parts[part];
        let home = &self.site.home;
        let names: Vec<&String> = match &home.sections {
            Some(list) => list.iter().filter(|s| p.sections.contains_key(*s)).collect(),
            None => p.sections.keys().filter(|s| !s.is_empty()).collect(),
        };
        let sections = names
            .into_iter()
            .filter(|_| home.per_section > 0)
            .map(|name| HomeSection {
                name,
                title: self.sections.get(name).map(|s| s.title.as_str()).unwrap_or(name),
                url: self.site.url_for(&format!("{}{name}/", p.prefix)),
                pages: p.sections[name]
                    .iter()
                    .take(home.per_section)
                    .map(|&i| if for_hash { Hashed::Hash(&self.view_hashes[i]) } else { Hashed::Value(&self.model.articles[i].view) })
                    .collect(),
            })
            .collect();
        HomeView { sections }
    }

    fn site_ref(&self, part: usize, for_hash: bool) -> Hashed<'_, &SiteView<'_>> {
        if for_hash { Hashed::Hash(&self.site_view_hashes[part]) } else { Hashed::Value(&self.site_views[part]) }
    }

    /// The search index lists every article: its view and its source (the
    /// body text comes from the source) and how much text it keeps.
    fn hash_search_index(&self, h: &mut blake3::Hasher) {
        h.update(&self.text_chars().to_le_bytes());
        h.update(&crate::search::index::VERSION.to_le_bytes());
        let titles: Vec<(&String, &String)> = self.sections.iter().map(|(k, s)| (k, &s.title)).collect();
        hash_json(h, &(&self.site.name, &self.site.title, &self.site.language, titles));
        for (a, view) in self.model.articles.iter().zip(&self.view_hashes) {
            h.update(&a.hash);
            h.update(view);
            h.update(&(a.part as u64).to_le_bytes());
        }
    }

    /// The search index files, given every article's text (by article
    /// index).
    pub fn search_index(&self, texts: &[String]) -> crate::search::index::Built {
        let title = |name: &str| self.sections.get(name).map(|s| s.title.clone()).unwrap_or_else(|| name.to_string());
        crate::search::site_index(self.site, self.model, texts, &title)
    }

    fn search_ctx(&self) -> SearchCtx<'_> {
        SearchCtx {
            site: &self.site_views[0],
            search_index_url: self.site.url_for(SEARCH_INDEX),
            network_index_url: self.site.search_network_host.then(|| self.site.url_for(crate::search::network::NET_MANIFEST)),
        }
    }

    /// Characters of body text an article render keeps for the search index.
    pub fn text_chars(&self) -> usize {
        if self.site.search { self.site.search_body_chars } else { 0 }
    }

    fn list_ctx<'b>(&'b self, l: &ListPage<'b>, for_hash: bool) -> ListCtx<'b> {
        let m = self.model;
        let part = &m.parts[l.part];
        let url = |n: usize| self.site.url_for(&page_dir(&l.base, n));
        let paginator = Paginator {
            pages: l
                .items
                .iter()
                .map(|&i| if for_hash { Hashed::Hash(&self.view_hashes[i]) } else { Hashed::Value(&m.articles[i].view) })
                .collect(),
            current: l.number,
            total: l.total,
            first_url: url(1),
            previous_url: (l.number > 1).then(|| url(l.number - 1)),
            next_url: (l.number < l.total).then(|| url(l.number + 1)),
        };
        let mut ctx = ListCtx {
            site: self.site_ref(l.part, for_hash),
            paginator,
            home: None,
            section: None,
            taxonomy: None,
            term: None,
            author: None,
        };
        let section_view = |name: &'b str| {
            let page = self.sections.get(name);
            (page.is_some() || !name.is_empty()).then(|| SectionView {
                name,
                title: page.map(|p| p.title.as_str()).unwrap_or(name),
                description: page.map(|p| p.description.as_str()).unwrap_or(""),
                content: page.map(|p| p.content.as_str()).unwrap_or(""),
                url: url(1),
                permalink: self.site.permalink_for(&page_dir(&l.base, 1)),
            })
        };
        match l.kind {
            ListKind::Home => {
                ctx.section = section_view("");
                ctx.home = (l.number == 1).then(|| self.home_view(l.part, for_hash));
            }
            ListKind::Section(s) => ctx.section = section_view(s),
            ListKind::Term { taxonomy, slug } => {
                let tax = &part.taxonomies[taxonomy];
                ctx.taxonomy = Some(Link { name: self.say(tax.name), url: self.site.url_for(&format!("{}{}/", part.prefix, tax.name)) });
                // Any article's TermRef for this slug carries the display name.
                let first = tax.terms[slug].articles[0];
                let v = &m.articles[first].view;
                ctx.term = [&v.tags, &v.categories]
                    .into_iter()
                    .flatten()
                    .chain(v.series.iter())
                    .find(|t| t.slug == slug && t.url.contains(&format!("/{}/", tax.name)));
            }
            ListKind::Author(key) => {
                let first = part.authors[key].1[0];
                ctx.author = m.articles[first].view.authors.iter().find(|a| a.key == key);
            }
        }
        ctx
    }

    fn taxonomy_ctx(&self, part: usize, index: usize) -> TaxonomyCtx<'_> {
        let prefix = &self.model.parts[part].prefix;
        let tax = &self.model.parts[part].taxonomies[index];
        TaxonomyCtx {
            site: &self.site_views[part],
            taxonomy: Link { name: self.say(tax.name), url: self.site.url_for(&format!("{prefix}{}/", tax.name)) },
            terms: tax
                .terms
                .values()
                .map(|t| TermCount {
                    name: t.name.clone(),
                    slug: t.slug.clone(),
                    url: self.site.url_for(&format!("{prefix}{}/{}/", tax.name, t.slug)),
                    count: t.articles.len(),
                })
                .collect(),
        }
    }
}

/// The stylesheet for syntect's CSS classes: light, with a dark variant.
/// Made once per process (loading the themes takes milliseconds).
pub static SYNTAX_CSS: LazyLock<String> = LazyLock::new(syntax_css);

/// Where it is published: fingerprinted like the theme's stylesheets, so
/// `_headers` can mark it immutable.
pub static SYNTAX_CSS_PATH: LazyLock<String> =
    LazyLock::new(|| format!("syntax.{}.css", &crate::discover::hex(blake3::hash(SYNTAX_CSS.as_bytes()).as_bytes())[..10]));

fn syntax_css() -> String {
    use syntect::highlighting::ThemeSet;
    use syntect::html::{ClassStyle, css_for_theme_with_class_style};
    let themes = ThemeSet::load_defaults();
    let light = css_for_theme_with_class_style(&themes.themes["InspiredGitHub"], ClassStyle::Spaced).unwrap_or_default();
    let dark = css_for_theme_with_class_style(&themes.themes["base16-ocean.dark"], ClassStyle::Spaced).unwrap_or_default();
    // Each scheme on its own, so no light colour leaks into dark mode, and
    // every colour readable on the theme's code background (WCAG AA, 4.5:1:
    // InspiredGitHub's greens reach 2.85:1).
    format!(
        "@media (prefers-color-scheme: light), (prefers-color-scheme: no-preference) {{\n{}\n}}\n@media (prefers-color-scheme: dark) {{\n{}\n}}\n",
        readable(&light, [0xf6, 0xf8, 0xfa]),
        readable(&dark, [0x1f, 0x24, 0x28])
    )
}

/// `css` with every text `color` darkened or lightened until it has a
/// contrast of at least 4.5:1 (WCAG AA) with `background`.
fn readable(css: &str, background: [u8; 3]) -> String {
    static COLOR: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(r"(^|[^-])color:\s*#([0-9a-fA-F]{6})").expect("valid regex"));
    let luminance = |c: [u8; 3]| {
        let lin = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let contrast = |a: [u8; 3], b: [u8; 3]| {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    };
    // Towards black on a light background, towards white on a dark one.
    let target: f64 = if luminance(background) > 0.5 { 0.0 } else { 255.0 };
    COLOR
        .replace_all(css, |c: &regex::Captures| {
            let hex = &c[2];
            let mut rgb = [0u8; 3];
            for (i, v) in rgb.iter_mut().enumerate() {
                *v = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap_or(0);
            }
            let mut step = 0.0;
            let mut out = rgb;
            while contrast(out, background) < 4.6 && step < 1.0 {
                step += 0.05;
                out = rgb.map(|v| (f64::from(v) + (target - f64::from(v)) * step).round() as u8);
            }
            format!("{}color: #{:02x}{:02x}{:02x}", &c[1], out[0], out[1], out[2])
        })
        .into_owned()
}

/// Serializes `value` into the hasher through a buffer: serde_json writes
/// many tiny pieces, and blake3 is several times faster fed in large ones.
fn hash_json(h: &mut blake3::Hasher, value: &impl Serialize) {
    let mut w = std::io::BufWriter::with_capacity(16 * 1024, HashWriter(h));
    serde_json::to_writer(&mut w, value).expect("hashing cannot fail");
    std::io::Write::flush(&mut w).expect("hashing cannot fail");
}

fn json_hash(value: &impl Serialize) -> Hash {
    let mut h = blake3::Hasher::new();
    hash_json(&mut h, value);
    *h.finalize().as_bytes()
}

/// Feeds bytes into a hasher.
struct HashWriter<'h>(&'h mut blake3::Hasher);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_colours_are_made_readable_on_their_background() {
        let css = readable(".a { color: #62a35c; } .b { background-color: #62a35c; color: #000000; }", [0xf6, 0xf8, 0xfa]);
        assert!(!css.contains(".a { color: #62a35c"), "{css}");
        assert!(css.contains("background-color: #62a35c"), "backgrounds are left alone: {css}");
        assert!(css.contains("color: #000000"));
        // Light colours stay inside the light scheme.
        let dark = SYNTAX_CSS.find("prefers-color-scheme: dark").unwrap();
        assert!(SYNTAX_CSS[dark..].matches('{').count() > 10);
    }
}
