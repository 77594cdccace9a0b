//! The template contexts: what each template sees (`site`, `page`,
//! `paginator`, …), built from the model by borrowing, never cloning per
//! page. With `for_hash`, the parts hashed once per build (a site view, an
//! article's view) stand in as their 32-byte hashes, so an output's input
//! hash covers exactly what its template reads without serialising it again.

use serde::Serialize;

use super::outputs::{self, ListKind, ListPage, Make, PageCtx, page_dir};
use super::{Renderer, SEARCH_INDEX, SYNTAX_CSS_PATH};
use crate::config::SiteConfig;
use crate::digest;
use crate::discover::Hash;
use crate::model::{AuthorRef, PageView, SectionPage, SiteModel, TermRef};
use crate::theme::Theme;

/// `site` in every template.
#[derive(Serialize)]
pub(super) struct SiteView<'a> {
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
    pub(super) search_url: Option<String>,
    /// Set on the pages of a year archive (for the theme's banner).
    archive: Option<ArchiveView>,
    /// The page listing the year archives, when the site has any (a link in
    /// the footer; the list itself is on that page only, so moving a
    /// boundary does not re-render every page).
    pub(super) archives_url: Option<String>,
    /// The theme's UI strings in the site's language, with the site's overrides.
    pub(super) strings: std::collections::BTreeMap<String, String>,
    /// `og:image` of pages without an image of their own (`default_image`).
    pub(super) default_image: Option<String>,
}

/// `section` on a section's list pages: its `_index.md`, if any.
#[derive(Serialize)]
pub(super) struct SectionView<'a> {
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
pub(super) struct ArchiveView {
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
pub(super) struct ArticleCtx<'a> {
    site: Hashed<'a, &'a SiteView<'a>>,
    page: Hashed<'a, ArticlePage<'a>>,
    /// The neighbouring articles in the same section, by date.
    earlier: Option<Link>,
    later: Option<Link>,
    /// Every article of the page's series, oldest first.
    series_pages: Vec<Link>,
    /// schema.org JSON-LD (empty while hashing: it is made of the view).
    pub(super) json_ld: String,
    /// `og:image` without a cover: the first body image, else the site's
    /// `default_image` (none while hashing: the body and its images are
    /// in the input hash already).
    pub(super) og_image: Option<String>,
    /// The cover is also the body's first image: the theme shows it once
    /// (false while hashing, like `og_image`).
    pub(super) cover_in_body: bool,
}

#[derive(Serialize)]
pub(super) struct ArticlePage<'a> {
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
pub(super) enum Hashed<'a, T> {
    Value(T),
    Hash(#[serde(serialize_with = "crate::digest::raw")] &'a Hash),
}

#[derive(Serialize)]
pub(super) struct Paginator<'a> {
    pages: Vec<Hashed<'a, &'a PageView>>,
    current: usize,
    total: usize,
    first_url: String,
    previous_url: Option<String>,
    next_url: Option<String>,
}

#[derive(Serialize)]
pub(super) struct ListCtx<'a> {
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
pub(super) struct HomeView<'a> {
    sections: Vec<HomeSection<'a>>,
}

/// A section's block on the front page: its newest articles.
#[derive(Serialize)]
pub(super) struct HomeSection<'a> {
    name: &'a str,
    title: &'a str,
    url: String,
    pages: Vec<Hashed<'a, &'a PageView>>,
}

#[derive(Serialize)]
pub(super) struct TermCount {
    name: String,
    slug: String,
    url: String,
    count: usize,
}

#[derive(Serialize)]
pub(super) struct TaxonomyCtx<'a> {
    site: &'a SiteView<'a>,
    taxonomy: Link,
    terms: Vec<TermCount>,
}

#[derive(Serialize)]
pub(super) struct SiteOnlyCtx<'a> {
    site: &'a SiteView<'a>,
}

/// Any template page's context (serialized as the one it holds).
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum AnyCtx<'a> {
    List(Box<ListCtx<'a>>),
    Taxonomy(TaxonomyCtx<'a>),
    Site(SiteOnlyCtx<'a>),
    Search(SearchCtx<'a>),
    Archives(ArchivesCtx<'a>),
}

/// archives.html: the year archives of the site.
#[derive(Serialize)]
pub(super) struct ArchivesCtx<'a> {
    site: &'a SiteView<'a>,
    archives: &'a [Link],
}

/// search.html: where the index is, and how much of each body it holds.
#[derive(Serialize)]
pub(super) struct SearchCtx<'a> {
    site: &'a SiteView<'a>,
    search_index_url: String,
    /// On the site that hosts the network search: its manifest.
    network_index_url: Option<String>,
}

/// `site` for the pages of each part of the site (the live site, each year
/// archive), and the list of year archives that have articles.
pub(super) fn site_views<'a>(
    site: &'a SiteConfig,
    model: &SiteModel,
    theme: &Theme,
    sections: &std::collections::BTreeMap<String, SectionPage>,
    default_image: Option<String>,
) -> (Vec<Link>, Vec<SiteView<'a>>) {
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
    (archives, site_views)
}

impl Renderer<'_> {
    /// The hash of everything the contexts below read, for their input
    /// hashes, other than each article's source and view hash: the build's
    /// settings, the theme, `site`, the outputs and which articles each
    /// lists, every list of the model. While it is the same,
    /// [`Renderer::reads_changed`] says which outputs must hash again.
    pub(super) fn structure(&self, jobs: &[outputs::Output]) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(super::RENDER_VERSION.as_bytes());
        h.update(&[self.minify as u8]);
        h.update(&self.theme.hash());
        h.update(&self.assets.hash);
        for v in &self.site_view_hashes {
            h.update(v);
        }
        let mut f = digest::Feeder::new(&mut h);
        f.feed(&(self.site, self.sections, &self.archives));
        let m = self.model;
        for a in &m.articles {
            f.feed(&(&a.rel, a.part));
        }
        f.feed(&m.section_pos);
        for p in &m.parts {
            f.feed(&(&p.prefix, &p.all, &p.sections, &p.authors));
            for t in &p.taxonomies {
                for (slug, term) in &t.terms {
                    f.feed(&(t.name, slug, &term.name, &term.articles));
                }
            }
        }
        for o in jobs {
            f.feed(&o.path);
            match &o.make {
                Make::Article(i) => f.feed(&(0u8, i)),
                Make::Page(t, PageCtx::List(l)) => {
                    let kind = match l.kind {
                        ListKind::Home => (0, "", ""),
                        ListKind::Section(s) => (1, s, ""),
                        ListKind::Term { taxonomy, slug } => (2, crate::model::TAXONOMIES[taxonomy], slug),
                        ListKind::Author(a) => (3, a, ""),
                    };
                    f.feed(&(1u8, t, l.part, kind, &l.base, l.items, l.number, l.total));
                }
                Make::Page(t, PageCtx::Taxonomy { part, index }) => f.feed(&(2u8, t, part, index)),
                Make::Page(t, _) => f.feed(&(3u8, t)),
                // Hashed again on every build ([`Renderer::reads_changed`]).
                Make::Data(_) | Make::Bytes(_) | Make::Asset(_) | Make::SearchIndex => f.feed(&4u8),
            }
        }
        drop(f);
        *h.finalize().as_bytes()
    }

    /// Whether the context of `o`, as its input hash covers it, reads an
    /// article `changed` marks (by index), in a site whose
    /// [`Renderer::structure`] is the same as when `changed` was taken.
    /// Kept next to the contexts: whatever they read of an article must
    /// be counted here. Feeds, sitemaps, the search index and files are
    /// hashed again on every build.
    pub(super) fn reads_changed(&self, o: &outputs::Output, changed: &[bool]) -> bool {
        let m = self.model;
        let any = |list: &[usize]| list.iter().any(|&j| changed[j]);
        match &o.make {
            // article_ctx: the article, its neighbours in its section, its series.
            Make::Article(i) => {
                let a = &m.articles[*i];
                let part = &m.parts[a.part];
                let near = match (m.section_pos[*i], part.sections.get(&a.view.section)) {
                    (Some(p), Some(list)) => &list[p.saturating_sub(1)..(p + 2).min(list.len())],
                    _ => &[],
                };
                let series = a.view.series.as_ref().and_then(|s| part.taxonomies[2].terms.get(&s.slug));
                changed[*i] || any(near) || series.is_some_and(|t| any(&t.articles))
            }
            // list_ctx: the items; a term's or author's page also reads the
            // first article of the term or author; the home page's first
            // page, every section's newest.
            Make::Page(_, PageCtx::List(l)) => {
                let part = &m.parts[l.part];
                let first = match l.kind {
                    ListKind::Term { taxonomy, slug } => part.taxonomies[taxonomy].terms.get(slug).and_then(|t| t.articles.first()),
                    ListKind::Author(key) => part.authors.get(key).and_then(|a| a.1.first()),
                    ListKind::Home | ListKind::Section(_) => None,
                };
                let home = matches!(l.kind, ListKind::Home)
                    && l.number == 1
                    && part.sections.values().any(|list| any(&list[..self.site.home.per_section.min(list.len())]));
                any(l.items) || first.is_some_and(|&j| changed[j]) || home
            }
            // The site, the archives and the terms' names and counts only.
            Make::Page(..) => false,
            Make::Data(_) | Make::Bytes(_) | Make::Asset(_) | Make::SearchIndex => true,
        }
    }

    /// The context of a template page, or with `for_hash` what its input hash covers.
    pub(super) fn page_ctx<'b>(&'b self, ctx: &'b PageCtx<'b>, for_hash: bool) -> AnyCtx<'b> {
        match ctx {
            PageCtx::List(l) => AnyCtx::List(Box::new(self.list_ctx(l, for_hash))),
            PageCtx::Taxonomy { part, index } => AnyCtx::Taxonomy(self.taxonomy_ctx(*part, *index)),
            PageCtx::NotFound => AnyCtx::Site(SiteOnlyCtx { site: &self.site_views[0] }),
            PageCtx::Search => AnyCtx::Search(self.search_ctx()),
            PageCtx::Archives => AnyCtx::Archives(ArchivesCtx { site: &self.site_views[0], archives: &self.archives }),
        }
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
    pub(super) fn article_ctx<'b>(&'b self, i: usize, content: &'b str, for_hash: bool) -> ArticleCtx<'b> {
        let a = &self.model.articles[i];
        let part = &self.model.parts[a.part];
        // A page has no neighbours: it is in no list.
        let in_section = part.sections.get(&a.view.section).map(Vec::as_slice).unwrap_or_default();
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
            page: if for_hash {
                Hashed::Hash(&self.model.articles[i].view_hash)
            } else {
                Hashed::Value(ArticlePage { view: &a.view, content })
            },
            later: pos.and_then(|p| p.checked_sub(1)).map(|p| self.link(in_section[p])),
            earlier: pos.and_then(|p| in_section.get(p + 1)).map(|&j| self.link(j)),
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
                    .map(|&i| {
                        if for_hash { Hashed::Hash(&self.model.articles[i].view_hash) } else { Hashed::Value(&self.model.articles[i].view) }
                    })
                    .collect(),
            })
            .collect();
        HomeView { sections }
    }

    fn site_ref(&self, part: usize, for_hash: bool) -> Hashed<'_, &SiteView<'_>> {
        if for_hash { Hashed::Hash(&self.site_view_hashes[part]) } else { Hashed::Value(&self.site_views[part]) }
    }

    fn search_ctx(&self) -> SearchCtx<'_> {
        SearchCtx {
            site: &self.site_views[0],
            search_index_url: self.site.url_for(SEARCH_INDEX),
            network_index_url: self.site.search_network_host.then(|| self.site.url_for(crate::search::network::NET_MANIFEST)),
        }
    }

    fn list_ctx<'b>(&'b self, l: &ListPage<'b>, for_hash: bool) -> ListCtx<'b> {
        let m = self.model;
        let part = &m.parts[l.part];
        let url = |n: usize| self.site.url_for(&page_dir(&l.base, n));
        let paginator = Paginator {
            pages: l
                .items
                .iter()
                .map(|&i| if for_hash { Hashed::Hash(&self.model.articles[i].view_hash) } else { Hashed::Value(&m.articles[i].view) })
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
