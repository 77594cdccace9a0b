//! Outputs of a site and how each is made: Tera pages, feeds, the sitemap,
//! robots.txt, the syntax stylesheet and theme static files.
//!
//! Every output has an *input hash*: the hash of exactly what its renderer
//! reads (the serialized template context, the template and everything it
//! extends or includes, render settings, the article's source). The planner
//! compares it with the previous build's, so only outputs whose inputs changed
//! are rendered. Contexts borrow from the model: no page ever gets the whole
//! site, and nothing is cloned per page.

mod context;
mod feeds;
mod outputs;
mod syntax;

pub use context::Link;
use context::SiteView;
pub use feeds::NEWS_WINDOW_HOURS;
pub use outputs::{DataCtx, Kind, Make, Output, PageCtx, SEARCH_INDEX};
pub use syntax::{SYNTAX_CSS, SYNTAX_CSS_PATH};

use std::path::Path;
use std::sync::{LazyLock, OnceLock};

use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;

use serde::Serialize;

use crate::assets::{AssetUrl, Assets};
use crate::config::SiteConfig;
use crate::diag::{Diagnostic, Diagnostics};
use crate::digest;
use crate::discover::Hash;
use crate::images::{self, Addressed, Catalog, ImageUrls as _};
use crate::model::{Article, SiteModel};
use crate::parse::{self, ImageOut, Markdown};
use crate::redirects::Rule;
use crate::theme::Theme;

/// Bumped whenever a renderer's output changes for the same inputs, so old
/// caches re-render. It also names gen's version and its locked
/// dependencies (`build.rs`): the Markdown, template, highlighting and
/// minifying crates shape every page, and a gen built with other versions
/// of them must not keep pages the old ones made.
pub const RENDER_VERSION: &str = concat!("gen-render-1-", env!("CARGO_PKG_VERSION"), "-", env!("GEN_LOCK_DIGEST"));

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
    /// Hash of each part's serialized [`SiteView`].
    site_view_hashes: Vec<Hash>,
    /// The build's clock (the news sitemap's 48 hours end here).
    now: DateTime<FixedOffset>,
    /// The sitemap's entries, set when the outputs are listed.
    sitemap: OnceLock<Vec<feeds::SitemapEntry>>,
}

static MINIFY: LazyLock<minify_html::Cfg> = LazyLock::new(|| {
    let mut cfg = minify_html::Cfg::new();
    cfg.minify_css = true;
    cfg.keep_html_and_head_opening_tags = true;
    cfg
});

/// What the minifier sees in place of an article's body.
const BODY_PLACEHOLDER: &str = "<gen-body></gen-body>";

/// Bodies shorter than this are minified with their page (a short string
/// could occur in the page by chance, and there is little to save).
const MIN_SPLICED_BODY: usize = 256;

/// Minifies a page. The article body in it (as Markdown rendering wrote
/// it: one block per line, nothing to collapse) is left as it is: the
/// minifier reads the page with a placeholder in its place, and the body
/// goes back in after. Minifying bodies as well took half of all
/// minification time, for 1–3% of a page's gzipped bytes. A template that
/// does not show the body verbatim (or a placeholder the minifier changed)
/// gets the whole page minified.
fn minify(html: String, body: Option<&str>) -> Vec<u8> {
    let whole = |html: &str| keep_head_end(minify_html::minify(html.as_bytes(), &MINIFY));
    let Some((body, at)) = body.filter(|b| b.len() >= MIN_SPLICED_BODY).and_then(|b| Some((b, find_body(&html, b)?))) else {
        return whole(&html);
    };
    let page = [&html[..at], BODY_PLACEHOLDER, &html[at + body.len()..]].concat();
    let min = whole(&page);
    let placeholder = BODY_PLACEHOLDER.as_bytes();
    match find_bytes(&min, placeholder) {
        Some(p) if find_bytes(&min[p + 1..], placeholder).is_none() => [&min[..p], body.as_bytes(), &min[p + placeholder.len()..]].concat(),
        _ => whole(&html),
    }
}

/// Puts back the `</head>` the minifier leaves out (it is optional in HTML):
/// tools that read pages without an HTML parser, such as Pagefind, look for
/// it, and skipped most minified pages without it. Keeping every closing
/// tag instead (`keep_closing_tags`) would cost bytes on every page.
fn keep_head_end(mut html: Vec<u8>) -> Vec<u8> {
    if let Some(body) = find_bytes(&html, b"<body")
        && find_bytes(&html[..body], b"</head>").is_none()
    {
        html.splice(body..body, b"</head>".iter().copied());
    }
    html
}

/// Where `needle` first occurs in `hay`.
fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Where `body` first occurs in `html`: its first bytes are searched for
/// and the rest compared where they stand. (A searcher made for the whole
/// body, kilobytes long, cost more than the search itself.)
fn find_body(html: &str, body: &str) -> Option<usize> {
    let (html, body) = (html.as_bytes(), body.as_bytes());
    let head = memchr::memmem::Finder::new(&body[..body.len().min(64)]);
    let mut from = 0;
    while let Some(p) = head.find(&html[from..]) {
        let at = from + p;
        if html[at..].starts_with(body) {
            return Some(at);
        }
        from = at + 1;
    }
    None
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

/// The input hashes of a site's outputs before images, with what they
/// were computed from ([`Renderer::input_hashes`]).
#[derive(Default)]
pub struct Bases {
    /// Everything contexts read besides the articles' own hashes
    /// ([`Renderer::structure`]).
    structure: Hash,
    /// Each article's source and view hash, by index.
    articles: Vec<(Hash, Hash)>,
    /// By output, in [`Renderer::outputs`] order.
    pub bases: Vec<Hash>,
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
    /// Fails when the theme's templates do not parse ([`Theme::tera`]).
    pub fn new(inputs: SiteInputs<'a>, markdown: &'a Markdown, root: &'a std::path::Path, minify: bool) -> Result<Self, Diagnostics> {
        let SiteInputs { site, model, theme, catalog, assets, redirects, sections, default_image, asset_images, now } = inputs;
        let (archives, site_views) = context::site_views(site, model, theme, sections, default_image);
        // Every page hashes `site`: the site's asset images go with it.
        let site_view_hashes = site_views
            .iter()
            .map(|v| {
                let mut h = blake3::Hasher::new();
                h.update(&digest::of(v));
                h.update(&asset_images);
                *h.finalize().as_bytes()
            })
            .collect();
        let mut tera = theme.tera()?.clone();
        let urls = assets.files.iter().map(|a| (a.logical.clone(), site.url_for(&a.published))).collect();
        tera.register_function("asset_url", AssetUrl { urls });
        Ok(Renderer {
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
            site_view_hashes,
            now,
            sitemap: OnceLock::new(),
        })
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
                digest::feed(&mut h, &self.article_ctx(*i, "", true));
            }
            Make::Page(_, ctx) => digest::feed(&mut h, &self.page_ctx(ctx, true)),
            Make::Data(d) => match d {
                DataCtx::Rss | DataCtx::Atom => digest::feed(&mut h, &self.feed()),
                DataCtx::Sitemap(k) => digest::feed(&mut h, &self.sitemap_part(*k)),
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

    /// The input hash before images ([`Renderer::input_hash`]) of each of
    /// `jobs`. `last`: `None` when the hashes are not kept (only then is
    /// what they were computed from left out); else the last build's, if
    /// any. An output whose context reads no article that changed since,
    /// in a site of the same structure, keeps its hash without building
    /// its context again.
    pub fn input_hashes(&self, jobs: &[Output], last: Option<Option<Bases>>) -> Bases {
        let Some(last) = last else {
            return Bases { structure: [0; 32], articles: vec![], bases: jobs.par_iter().map(|j| self.input_hash(j)).collect() };
        };
        let structure = self.structure(jobs);
        let articles: Vec<(Hash, Hash)> = self.model.articles.iter().map(|a| (a.hash, a.view_hash)).collect();
        let last = last.filter(|l| l.structure == structure && l.articles.len() == articles.len() && l.bases.len() == jobs.len());
        let bases = match last {
            None => jobs.par_iter().map(|j| self.input_hash(j)).collect(),
            Some(last) => {
                let changed: Vec<bool> = articles.iter().zip(&last.articles).map(|(now, then)| now != then).collect();
                jobs.par_iter()
                    .zip(&last.bases)
                    .map(|(j, &base)| {
                        if self.reads_changed(j, &changed) {
                            return self.input_hash(j);
                        }
                        // Every debug build (the tests) checks what was kept.
                        debug_assert_eq!(base, self.input_hash(j), "/{} kept an input hash that is out of date", j.path);
                        base
                    })
                    .collect()
            }
        };
        Bases { structure, articles, bases }
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
                self.tera("article.html", &ctx, Some(&body.html), o)?
            }
            Make::Page(template, ctx) => self.tera(template, &self.page_ctx(ctx, false), None, o)?,
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

    /// Renders `template`, minified unless the build says not to. `body`:
    /// the article's HTML, which the template shows as it is.
    /// `o`: the page, which the error names (a template fails for one
    /// page's values, not for every page).
    fn tera(&self, template: &str, ctx: &impl Serialize, body: Option<&str>, o: &Output) -> Result<Vec<u8>, Diagnostic> {
        let context = tera::Context::from_serialize(ctx)
            .map_err(|e| Diagnostic::new(self.theme.file_of(template), None, format!("cannot build the template context: {e}")))?;
        let html = self.tera.render(template, &context).map_err(|e| {
            let mut d = self.theme.render_error(template, &e, &context.into_json());
            let url = o.path.strip_suffix("index.html").unwrap_or(&o.path);
            let page = match (&o.make, o.origin) {
                (Make::Article(_), Some(f)) => format!("{} at /{url}", f.display()),
                _ => format!("/{url}"),
            };
            d.pages.push(page);
            d
        })?;
        Ok(if self.minify { minify(html, body) } else { html.into_bytes() })
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
                let hint = Catalog::resolve_hint(&why);
                Diagnostic::new(&a.file, Some(line), why).hint(hint)
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

    /// The search index lists every article: its view and its source (the
    /// body text comes from the source) and how much text it keeps.
    fn hash_search_index(&self, h: &mut blake3::Hasher) {
        h.update(&self.text_chars().to_le_bytes());
        h.update(&crate::search::index::VERSION.to_le_bytes());
        let titles: Vec<(&String, &String)> = self.sections.iter().map(|(k, s)| (k, &s.title)).collect();
        digest::feed(h, &(&self.site.name, &self.site.title, &self.site.language, titles));
        for a in &self.model.articles {
            h.update(&a.hash);
            h.update(&a.view_hash);
            h.update(&(a.part as u64).to_le_bytes());
        }
    }

    /// The search index files, given the texts of the articles rendered
    /// (by article index) and the cache of the last build's analyses;
    /// returns the cache for the next build too.
    pub fn search_index(
        &self,
        fresh: std::collections::HashMap<usize, String>,
        cache: crate::search::SearchCache,
    ) -> anyhow::Result<crate::search::SiteIndex> {
        let title = |name: &str| self.sections.get(name).map(|s| s.title.clone()).unwrap_or_else(|| name.to_string());
        crate::search::site_index(self.root, self.site, self.model, self.text_chars(), &title, fresh, cache)
    }

    /// Characters of body text an article render keeps for the search index.
    pub fn text_chars(&self) -> usize {
        if self.site.search { self.site.search_body_chars } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("lock_digest.rs");

    /// Every output's input hash starts from `RENDER_VERSION`: with the lock
    /// in it, a gen built after `cargo update` renders every page again
    /// instead of keeping pages an older comrak or Tera made. (Fails when
    /// the build script stops reading the lock, or is not run again when
    /// the lock changes.)
    #[test]
    fn the_render_version_changes_with_the_locked_dependencies() {
        let lock = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
        assert!(RENDER_VERSION.ends_with(&format!("-{:016x}", lock_digest(&lock))), "{RENDER_VERSION}");
    }

    fn page(body: &str) -> String {
        format!(
            "<!doctype html>\n<html>\n<head>\n  <title> A  page </title>\n</head>\n<body>\n  <main>\n    <div class=\"content\">{body}</div>\n  </main>\n</body>\n</html>\n"
        )
    }

    #[test]
    fn an_article_body_is_spliced_back_as_written_and_the_rest_minified() {
        let body = "<p>Paragraph one, long enough to be worth splicing.</p>\n<pre><code>  keep   this\n  spacing</code></pre>\n".repeat(4);
        let out = String::from_utf8(minify(page(&body), Some(&body))).unwrap();
        assert!(out.contains(&body), "the body as written: {out}");
        assert!(!out.contains("\n  <main>"), "the template's whitespace is gone: {out}");
        assert!(out.contains("</head>"), "{out}");
        assert!(!out.contains(BODY_PLACEHOLDER));
    }

    #[test]
    fn a_body_the_template_changed_or_a_short_one_is_minified_with_its_page() {
        let body = "<p>Paragraph one, long enough to be worth splicing.</p>\n".repeat(6);
        let whole = keep_head_end(minify_html::minify(page(&body.to_uppercase()).as_bytes(), &MINIFY));
        assert_eq!(minify(page(&body.to_uppercase()), Some(&body)), whole);
        let short = "<p>x</p>\n";
        let whole = keep_head_end(minify_html::minify(page(short).as_bytes(), &MINIFY));
        assert_eq!(minify(page(short), Some(short)), whole);
    }

    #[test]
    fn a_body_whose_beginning_the_page_shows_before_it_is_found_whole() {
        let body = format!("<p>{}</p>\n<p>second</p>\n", "words ".repeat(60));
        let lead = &body[..100];
        let html = format!("<html><body><div class=\"lead\">{lead}</div><article>{body}</article></body></html>");
        assert!(html.find(lead).unwrap() < html.find(&body).unwrap());
        assert_eq!(find_body(&html, &body), html.find(&body));
        assert_eq!(find_body(&html, &"absent ".repeat(50)), None);
    }

    #[test]
    fn a_body_that_shows_the_placeholder_itself_is_kept_whole() {
        let body = format!("<p>{}</p>\n{BODY_PLACEHOLDER}\n", "words ".repeat(60));
        let out = String::from_utf8(minify(page(&body), Some(&body))).unwrap();
        assert_eq!(out.matches(&body).count(), 1, "{out}");
        assert_eq!(out.matches(BODY_PLACEHOLDER).count(), 1, "{out}");
    }
}
