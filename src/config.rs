//! `sites.toml` → immutable per-site configuration.
//!
//! Top-level keys are shared defaults; every `[[sites]]` entry may override
//! them. Unknown keys, duplicate names, bad URLs and missing themes are
//! reported with the file, the line and the key, all at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::diag::{Diagnostic, Diagnostics};
use crate::images::variants::{Format, ImageSettings};
use crate::images::{ImageUrls, SHARED_IMAGES_DIR, SHARED_IMAGES_PREFIX, Shards};

pub const CONFIG_FILE: &str = "sites.toml";

/// Every key of `sites.toml`. One struct for the top level and for each
/// `[[sites]]` entry keeps spans intact (serde's `flatten` would lose them and
/// cannot deny unknown keys); which keys belong where is checked after.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    // Top level only.
    output: Option<Spanned<String>>,
    sites: Option<Vec<Keys>>,
    cache: Option<Spanned<CacheKeys>>,
    // [[sites]] only.
    name: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
    // Either: top-level values are defaults for every site.
    theme: Option<Spanned<String>>,
    language: Option<String>,
    description: Option<String>,
    permalink: Option<Spanned<String>>,
    paginate: Option<Spanned<i64>>,
    unsafe_html: Option<bool>,
    feed_limit: Option<usize>,
    image_shard_levels: Option<Spanned<i64>>,
    image_shard_width: Option<Spanned<i64>>,
    redirect_formats: Option<Spanned<Vec<String>>>,
    search: Option<Spanned<bool>>,
    search_body_chars: Option<usize>,
    search_network: Option<bool>,
    // Top level only.
    search_network_site: Option<Spanned<String>>,
    news_sitemap: Option<bool>,
    sitemap_max_urls: Option<Spanned<i64>>,
    schema_type: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    feed_content: Option<Spanned<String>>,
    default_image: Option<String>,
    strings: Option<BTreeMap<String, String>>,
    images: Option<Spanned<ImageKeys>>,
    images_url: Option<Spanned<String>>,
    hard_links: Option<bool>,
    home: Option<HomeKeys>,
    menu: Option<Vec<String>>,
    // [[sites]] only.
    archives: Option<Vec<Spanned<ArchiveKeys>>>,
    redirects: Option<Vec<Spanned<RedirectKeys>>>,
    extra: Option<toml::Table>,
}

/// `[cache]`: where encoded image variants are shared between machines.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheKeys {
    remote: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchiveKeys {
    until: i32,
    path: Option<String>,
}

/// `[images]` (top level) and `[sites.images]`: each key of a site's table
/// overrides the same key of the top-level one.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageKeys {
    resize: Option<bool>,
    widths: Option<Vec<u32>>,
    formats: Option<Vec<String>>,
    quality: Option<QualityKeys>,
    avif_speed: Option<u8>,
    thumbnail: Option<u32>,
    social: Option<u32>,
    sizes: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct QualityKeys {
    webp: Option<u8>,
    avif: Option<u8>,
    jpeg: Option<u8>,
}

/// `[home]` / `[sites.home]`: the front page's section blocks.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HomeKeys {
    sections: Option<Vec<String>>,
    per_section: Option<usize>,
}

/// The front page: after the lead story and the latest articles, a block
/// per section with its newest articles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Home {
    /// Section folder names in the order of their blocks; `None`: every
    /// section, in the order of the menu.
    pub sections: Option<Vec<String>>,
    /// Articles per block (0: no blocks).
    pub per_section: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedirectKeys {
    from: String,
    to: String,
}

/// A year archive: articles dated in or before `until` (and after the
/// previous archive's `until`) are published under `/<path>/`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Archive {
    pub until: i32,
    /// One path segment, e.g. `2023backup`.
    pub path: String,
    /// Line in `sites.toml`, for messages.
    pub line: usize,
}

/// A `[[sites.redirects]]` entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConfigRedirect {
    pub from: String,
    pub to: String,
    pub line: usize,
}

/// Manifest formats written for a site's redirects.
pub const REDIRECT_FORMATS: [&str; 4] = ["netlify", "json", "nginx", "html"];

/// The formats written when a site names none: the server-side ones. HTML
/// stubs are opt-in (hosts without server-side redirects, such as GitHub
/// Pages): where a stub exists Netlify serves it instead of an unforced
/// rule, a 200 with a meta refresh instead of the 301.
pub const DEFAULT_REDIRECT_FORMATS: [&str; 3] = ["netlify", "json", "nginx"];

/// schema.org types an article's JSON-LD may use.
pub const SCHEMA_TYPES: [&str; 5] = ["NewsArticle", "Article", "BlogPosting", "ScholarlyArticle", "Report"];

/// The sitemap protocol's limit of URLs per file.
pub const SITEMAP_MAX_URLS: usize = 50_000;

/// The whole repository's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Output folder (absolute, or relative to the repository root).
    pub output: PathBuf,
    pub sites: Vec<SiteConfig>,
    /// One search across the sites with `search_network = true`.
    pub network: Option<Network>,
    /// `[cache] remote`: the store behind the variant cache.
    pub cache_remote: Option<String>,
}

/// The network search: which sites it holds, and the site whose search
/// page offers it (its index is published under that site's
/// `_search/net/`).
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub sites: Vec<String>,
    pub host: String,
}

/// One site, with defaults applied. Serialisable so its hash can invalidate
/// everything the site renders when any key changes.
#[derive(Debug, Clone, Serialize)]
pub struct SiteConfig {
    pub name: String,
    pub title: String,
    /// Always ends with `/`.
    pub base_url: String,
    /// Path part of `base_url`, always starting and ending with `/`.
    pub base_path: String,
    pub language: String,
    pub description: String,
    pub theme: String,
    pub permalink: String,
    pub paginate: usize,
    pub unsafe_html: bool,
    pub feed_limit: usize,
    pub image_shards: Shards,
    /// Widths, formats and qualities of image variants.
    pub images: ImageSettings,
    /// Where the shared image tree (`<output>/_images/`) is served, ending
    /// in `/`; `None`: images are published in the site's own `images/`.
    pub images_url: Option<String>,
    /// Publish originals as hard links to their sources (no copy, but one
    /// file: a write to the published file is a write to the source).
    pub hard_links: bool,
    pub home: Home,
    /// The sections of the menu, in order (`None`: every section).
    pub menu: Option<Vec<String>>,
    /// Oldest first.
    pub archives: Vec<Archive>,
    pub redirects: Vec<ConfigRedirect>,
    /// A subset of [`REDIRECT_FORMATS`].
    pub redirect_formats: Vec<String>,
    /// Write the search index (`_search/`) and the search page.
    pub search: bool,
    /// Holds the network search index (`search_network_site`): its search
    /// page offers "all sites".
    pub search_network_host: bool,
    /// Characters of body text per article in the search index (0: none;
    /// the whole text unless set).
    pub search_body_chars: usize,
    /// Write `news-sitemap.xml` (Google News, last 48 hours).
    pub news_sitemap: bool,
    /// URLs per sitemap file; past it `sitemap.xml` becomes a sitemap index.
    pub sitemap_max_urls: usize,
    /// schema.org type of an article's JSON-LD, one of [`SCHEMA_TYPES`].
    pub schema_type: String,
    /// For dates written without an offset, and for the dates the site
    /// shows and builds URLs from (`{year}/{month}/{day}`, archive years).
    /// `None`: dates without an offset are UTC, and dates are shown and
    /// used with the offset they were written with.
    pub timezone: Option<chrono_tz::Tz>,
    /// Feeds carry each article's whole body (`full`) or its summary.
    pub feed_full: bool,
    /// `og:image` and JSON-LD `image` of an article without a cover or a
    /// body image: a path under `assets/` or an http(s) URL.
    pub default_image: Option<String>,
    /// Overrides of the theme's UI strings (`[sites.strings]`).
    pub strings: BTreeMap<String, String>,
    pub extra: serde_json::Value,
}

impl SiteConfig {
    /// Absolute URL for a site-relative path such as `news/a/`.
    pub fn permalink_for(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }

    /// Root-relative URL (with the base path) for a site-relative path.
    pub fn url_for(&self, path: &str) -> String {
        format!("{}{}", self.base_path, path.trim_start_matches('/'))
    }

    fn shared_image_path<'a>(&'a self, rel: &'a str) -> Option<(&'a str, &'a str)> {
        Some((self.images_url.as_deref()?, rel.strip_prefix(SHARED_IMAGES_PREFIX)?))
    }
}

/// An image's URL on the site, or absolute on the images host when the
/// site has `images_url` (`images/<aa>/…` there loses its `images/`).
impl ImageUrls for SiteConfig {
    fn image_url(&self, rel: &str) -> String {
        match self.shared_image_path(rel) {
            Some((host, path)) => format!("{host}{path}"),
            None => self.url_for(rel),
        }
    }

    fn image_permalink(&self, rel: &str) -> String {
        match self.shared_image_path(rel) {
            Some((host, path)) => format!("{host}{path}"),
            None => self.permalink_for(rel),
        }
    }
}

const PERMALINK_VARS: [&str; 5] = ["section", "slug", "year", "month", "day"];

impl Config {
    /// Reads `<root>/sites.toml`. All problems are returned together.
    pub fn load(root: &Path) -> Result<Config, Diagnostics> {
        let file = root.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Diagnostics::one(
                Diagnostic::new(CONFIG_FILE, None, format!("cannot read {CONFIG_FILE}: {e}"))
                    .hint("run gen in the repository root, or pass --root DIR"),
            )
        })?;
        Self::parse(root, &text)
    }

    pub fn parse(root: &Path, text: &str) -> Result<Config, Diagnostics> {
        let raw: Keys = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let message = e.message().trim().to_string();
            let message = match crate::diag::nearest_field(&message).filter(|_| message.starts_with("unknown field")) {
                Some((typed, known)) => format!("unknown key `{typed}`: did you mean `{known}`?"),
                None => message,
            };
            Diagnostics::one(
                Diagnostic::new(CONFIG_FILE, line, message).hint("see the configuration reference in README.md for the accepted keys"),
            )
        })?;
        let mut diags = Diagnostics::default();
        let at = |span: std::ops::Range<usize>| Some(line_of(text, span.start));
        for (key, span) in [("name", raw.name.as_ref()), ("title", raw.title.as_ref()), ("base_url", raw.base_url.as_ref())]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v.span())))
        {
            diags.push(
                Diagnostic::new(CONFIG_FILE, at(span), format!("`{key}` belongs to a [[sites]] entry, not the top level"))
                    .hint("move it below a [[sites]] line"),
            );
        }
        let sites_raw = raw.sites.as_deref().unwrap_or_default();
        if sites_raw.is_empty() {
            diags.push(
                Diagnostic::new(CONFIG_FILE, None, "no [[sites]] are configured")
                    .hint("add a [[sites]] table with name, title and base_url"),
            );
        }
        if raw.archives.is_some() || raw.redirects.is_some() {
            diags.push(
                Diagnostic::new(CONFIG_FILE, None, "`archives` and `redirects` belong to a site")
                    .hint("write them as [[sites.archives]] / [[sites.redirects]] below the site's [[sites]] entry"),
            );
        }
        let mut sites: Vec<SiteConfig> = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut bases: BTreeMap<String, (usize, String)> = BTreeMap::new();
        for (i, site) in sites_raw.iter().enumerate() {
            if let Some(o) =
                site.output.as_ref().map(|o| o.span()).or(site.cache.as_ref().map(|c| c.span())).or(site.sites.as_ref().map(|_| 0..0))
            {
                diags.push(
                    Diagnostic::new(CONFIG_FILE, at(o), "`output`, `[cache]` and nested `sites` are top-level keys")
                        .hint("move the key above the first [[sites]] line"),
                );
            }
            let (Some(name), Some(title), Some(base_url)) = (&site.name, &site.title, &site.base_url) else {
                let line = [&site.name, &site.title, &site.base_url].iter().find_map(|k| k.as_ref().map(|k| line_of(text, k.span().start)));
                diags.push(
                    Diagnostic::new(CONFIG_FILE, line, format!("[[sites]] entry {} needs `name`, `title` and `base_url`", i + 1))
                        .hint("add the missing keys to that entry"),
                );
                continue;
            };
            let name_line = line_of(text, name.span().start);
            let name_s = name.get_ref().clone();
            if !is_valid_name(&name_s) {
                diags.push(
                    Diagnostic::new(CONFIG_FILE, Some(name_line), format!("site name `{name_s}` is not a valid folder name"))
                        .hint("use lowercase letters, digits, `-` and `_` only"),
                );
            }
            if let Some(first) = seen.insert(name_s.clone(), name_line) {
                diags.push(
                    Diagnostic::new(
                        CONFIG_FILE,
                        Some(name_line),
                        format!("duplicate site name `{name_s}` (first defined on line {first})"),
                    )
                    .hint("every [[sites]] entry needs its own `name`"),
                );
            }
            let base = match normalize_base_url(base_url.get_ref()) {
                // Two sites at one address would answer each other's URLs
                // (`gen check` then reports links that exist as broken).
                Ok(u) => {
                    let line = line_of(text, base_url.span().start);
                    let key = u.split_once("://").map(|(_, rest)| rest.to_lowercase()).unwrap_or_else(|| u.clone());
                    if let Some((first, other)) = bases.insert(key, (line, name_s.clone())) {
                        diags.push(
                            Diagnostic::new(
                                CONFIG_FILE,
                                Some(line),
                                format!("site `{name_s}` has the base_url of site `{other}` (line {first}): `{u}`"),
                            )
                            .hint("every site needs its own address (another host, or another path on the same host)"),
                        );
                    }
                    u
                }
                Err(why) => {
                    diags.push(
                        Diagnostic::new(CONFIG_FILE, at(base_url.span()), format!("bad `base_url` for site `{name_s}`: {why}"))
                            .hint("write an absolute http(s) URL such as \"https://example.com/\""),
                    );
                    continue;
                }
            };
            let base_path = url::Url::parse(&base).map(|u| u.path().to_string()).unwrap_or_else(|_| "/".into());

            let theme = site.theme.as_ref().or(raw.theme.as_ref());
            let theme_name = theme.map(|t| t.get_ref().clone()).unwrap_or_else(|| "default".into());
            if !is_valid_name(&theme_name) || !crate::theme::exists(root, &theme_name) {
                diags.push(
                    Diagnostic::new(
                        CONFIG_FILE,
                        Some(theme.map(|t| line_of(text, t.span().start)).unwrap_or(name_line)),
                        format!("theme `{theme_name}` of site `{name_s}` not found (looked for themes/{theme_name}/templates/)"),
                    )
                    .hint("create the theme folder or fix the `theme` key"),
                );
            }
            let permalink = site.permalink.as_ref().or(raw.permalink.as_ref());
            let permalink_s = permalink.map(|p| p.get_ref().clone()).unwrap_or_else(|| "/{section}/{slug}/".into());
            if let Err(why) = check_permalink(&permalink_s) {
                diags.push(
                    Diagnostic::new(
                        CONFIG_FILE,
                        permalink.and_then(|p| at(p.span())),
                        format!("bad `permalink` for site `{name_s}`: {why}"),
                    )
                    .hint("use {section}, {slug}, {year}, {month} and {day}, and include {slug}"),
                );
            }
            let paginate = site.paginate.as_ref().or(raw.paginate.as_ref());
            let paginate_n = paginate.map(|p| *p.get_ref()).unwrap_or(10);
            if paginate_n < 1 {
                diags.push(
                    Diagnostic::new(
                        CONFIG_FILE,
                        paginate.and_then(|p| at(p.span())),
                        format!("`paginate` must be at least 1 (site `{name_s}`)"),
                    )
                    .hint("set paginate to the number of articles per list page, e.g. 10"),
                );
            }
            let image_shards = shards(site, &raw).map_err(|(span, why)| {
                diags.push(
                    Diagnostic::new(CONFIG_FILE, at(span), format!("{why} (site `{name_s}`)"))
                        .hint("image_shard_levels is 0 to 4, image_shard_width is 16, 256 or 4096"),
                )
            });
            let images = image_settings(site.images.as_ref(), raw.images.as_ref()).map_err(|(span, why)| {
                diags.push(
                    Diagnostic::new(CONFIG_FILE, at(span), format!("{why} (site `{name_s}`)"))
                        .hint("see [images] in the configuration reference of README.md"),
                )
            });
            let images_url = match site.images_url.as_ref().or(raw.images_url.as_ref()) {
                None => None,
                Some(u) => match normalize_base_url(u.get_ref()) {
                    Ok(u) => Some(u),
                    Err(why) => {
                        diags
                            .push(Diagnostic::new(CONFIG_FILE, at(u.span()), format!("bad `images_url` for site `{name_s}`: {why}")).hint(
                            "write the absolute http(s) URL the images host serves public/_images/ at, e.g. \"https://img.example.com/\"",
                        ));
                        None
                    }
                },
            };
            if name_s == SHARED_IMAGES_DIR {
                diags.push(Diagnostic::new(CONFIG_FILE, Some(name_line), format!("the site name `{SHARED_IMAGES_DIR}` is reserved")).hint(
                    format!("{SHARED_IMAGES_DIR}/ in the output folder holds the images shared through images_url: choose another name"),
                ));
            }
            if name_s == crate::search::network::STATE_NAME {
                diags.push(
                    Diagnostic::new(CONFIG_FILE, Some(name_line), format!("the site name `{name_s}` is reserved"))
                        .hint(format!("gen keeps the network search's state as {name_s}.state in the cache folder: choose another name")),
                );
            }
            let archives = archives(site, text, &name_s).map_err(|d| diags.extend(d)).unwrap_or_default();
            let redirects = site
                .redirects
                .iter()
                .flatten()
                .map(|r| ConfigRedirect { from: r.get_ref().from.clone(), to: r.get_ref().to.clone(), line: line_of(text, r.span().start) })
                .collect();
            let formats = site.redirect_formats.as_ref().or(raw.redirect_formats.as_ref());
            let redirect_formats = match formats {
                None => DEFAULT_REDIRECT_FORMATS.map(String::from).to_vec(),
                Some(f) => {
                    for bad in f.get_ref().iter().filter(|f| !REDIRECT_FORMATS.contains(&f.as_str())) {
                        diags.push(
                            Diagnostic::new(CONFIG_FILE, at(f.span()), format!("unknown redirect format `{bad}`"))
                                .hint(format!("use any of {}", REDIRECT_FORMATS.join(", "))),
                        );
                    }
                    f.get_ref().clone()
                }
            };
            let max_urls = site.sitemap_max_urls.as_ref().or(raw.sitemap_max_urls.as_ref());
            let sitemap_max_urls = match max_urls.map(|m| (*m.get_ref(), m.span())) {
                None => SITEMAP_MAX_URLS,
                Some((n, _)) if (1..=SITEMAP_MAX_URLS as i64).contains(&n) => n as usize,
                Some((n, span)) => {
                    diags.push(
                        Diagnostic::new(CONFIG_FILE, at(span), format!("`sitemap_max_urls` must be 1 to {SITEMAP_MAX_URLS}, not {n}"))
                            .hint("the sitemap protocol allows at most 50,000 URLs per file"),
                    );
                    SITEMAP_MAX_URLS
                }
            };
            let schema = site.schema_type.as_ref().or(raw.schema_type.as_ref());
            let schema_type = schema.map(|s| s.get_ref().clone()).unwrap_or_else(|| "NewsArticle".into());
            if !SCHEMA_TYPES.contains(&schema_type.as_str()) {
                diags.push(
                    Diagnostic::new(CONFIG_FILE, schema.and_then(|s| at(s.span())), format!("unknown `schema_type` `{schema_type}`"))
                        .hint(format!("use one of {}", SCHEMA_TYPES.join(", "))),
                );
            }
            let tz = site.timezone.as_ref().or(raw.timezone.as_ref());
            let timezone = match tz.map(|t| (t.get_ref().parse::<chrono_tz::Tz>(), t)) {
                None => None,
                Some((Ok(tz), _)) => Some(tz),
                Some((Err(_), t)) => {
                    diags.push(
                        Diagnostic::new(CONFIG_FILE, at(t.span()), format!("unknown `timezone` `{}`", t.get_ref()))
                            .hint("use an IANA time zone name such as \"Asia/Seoul\" or \"Europe/Berlin\""),
                    );
                    None
                }
            };
            let content = site.feed_content.as_ref().or(raw.feed_content.as_ref());
            let feed_full = match content.map(|c| (c.get_ref().as_str(), c)) {
                None | Some(("summary", _)) => false,
                Some(("full", _)) => true,
                Some((other, c)) => {
                    diags.push(
                        Diagnostic::new(CONFIG_FILE, at(c.span()), format!("unknown `feed_content` `{other}`"))
                            .hint("use \"summary\" (the default) or \"full\""),
                    );
                    false
                }
            };
            let mut extra = raw.extra.clone().unwrap_or_default();
            extra.extend(site.extra.clone().unwrap_or_default());
            sites.push(SiteConfig {
                name: name_s,
                title: title.get_ref().clone(),
                base_url: base,
                base_path,
                language: site.language.clone().or(raw.language.clone()).unwrap_or_else(|| "en".into()),
                description: site.description.clone().or(raw.description.clone()).unwrap_or_default(),
                theme: theme_name,
                permalink: permalink_s,
                paginate: paginate_n.max(1) as usize,
                unsafe_html: site.unsafe_html.or(raw.unsafe_html).unwrap_or(false),
                feed_limit: site.feed_limit.or(raw.feed_limit).unwrap_or(20),
                image_shards: image_shards.unwrap_or_default(),
                images: images.unwrap_or_default(),
                images_url,
                hard_links: site.hard_links.or(raw.hard_links).unwrap_or(false),
                menu: site.menu.clone().or(raw.menu.clone()),
                home: {
                    let (s, t) = (site.home.clone().unwrap_or_default(), raw.home.clone().unwrap_or_default());
                    Home { sections: s.sections.or(t.sections), per_section: s.per_section.or(t.per_section).unwrap_or(4) }
                },
                archives,
                redirects,
                redirect_formats,
                search: site.search.as_ref().or(raw.search.as_ref()).is_none_or(|s| *s.get_ref()),
                search_network_host: false,
                search_body_chars: site.search_body_chars.or(raw.search_body_chars).unwrap_or(usize::MAX),
                news_sitemap: site.news_sitemap.or(raw.news_sitemap).unwrap_or(true),
                sitemap_max_urls,
                schema_type,
                timezone,
                feed_full,
                default_image: site.default_image.clone().or(raw.default_image.clone()),
                strings: raw.strings.iter().chain(&site.strings).flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
                extra: serde_json::to_value(&extra).unwrap_or_default(),
            });
        }
        let network = network(&raw, sites_raw, &mut sites, text, &mut diags);
        let output = raw.output.as_ref().map(|o| o.get_ref().as_str()).unwrap_or("public");
        let cache_remote = raw.cache.as_ref().and_then(|c| c.get_ref().remote.clone());
        diags.into_result(Config { output: root.join(output), sites, network, cache_remote })
    }

    pub fn site(&self, name: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| s.name == name)
    }
}

/// The network search: the sites with `search_network = true` (a top-level
/// `true` is every site's default), hosted by `search_network_site` or the
/// first of them. Marks the host in `sites`.
fn network(raw: &Keys, sites_raw: &[Keys], sites: &mut [SiteConfig], text: &str, diags: &mut Diagnostics) -> Option<Network> {
    for s in sites_raw.iter().filter_map(|s| s.search_network_site.as_ref()) {
        diags.push(
            Diagnostic::new(CONFIG_FILE, Some(line_of(text, s.span().start)), "`search_network_site` is a top-level key")
                .hint("move it above the first [[sites]] line"),
        );
    }
    let members: Vec<String> = sites_raw
        .iter()
        .zip(sites.iter())
        .filter(|(k, _)| k.search_network.or(raw.search_network).unwrap_or(false))
        .map(|(_, s)| s.name.clone())
        .collect();
    let host_key = raw.search_network_site.as_ref();
    if members.is_empty() {
        if let Some(h) = host_key {
            diags.push(
                Diagnostic::new(
                    CONFIG_FILE,
                    Some(line_of(text, h.span().start)),
                    "`search_network_site` is set but no site has `search_network = true`",
                )
                .hint("add search_network = true to the sites to search together (or at the top level for all)"),
            );
        }
        return None;
    }
    let host = host_key.map(|h| h.get_ref().clone()).unwrap_or_else(|| members[0].clone());
    if !members.contains(&host) {
        diags.push(
            Diagnostic::new(
                CONFIG_FILE,
                host_key.map(|h| line_of(text, h.span().start)),
                format!("`search_network_site` `{host}` is not in the network"),
            )
            .hint(format!("use one of {}, or give `{host}` search_network = true", members.join(", "))),
        );
        return None;
    }
    for (k, s) in sites_raw.iter().zip(sites.iter()).filter(|(_, s)| members.contains(&s.name) && !s.search) {
        // The `search = false` that applies: the site's own, else the top level's.
        let line = k.search.as_ref().or(raw.search.as_ref()).map(|f| line_of(text, f.span().start));
        diags.push(
            Diagnostic::new(CONFIG_FILE, line, format!("site `{}` has `search_network = true` but `search = false`", s.name))
                .hint("the network search reads each site's own index: turn search on, or leave the site out of the network"),
        );
    }
    if let Some(s) = sites.iter_mut().find(|s| s.name == host) {
        s.search_network_host = true;
    }
    Some(Network { sites: members, host })
}

/// The `images/` layout of a site: levels of folders, each named by
/// `log16(width)` hex digits of the image hash.
fn shards(site: &Keys, top: &Keys) -> Result<Shards, (std::ops::Range<usize>, String)> {
    let mut out = Shards::default();
    if let Some(l) = site.image_shard_levels.as_ref().or(top.image_shard_levels.as_ref()) {
        if !(0..=4).contains(l.get_ref()) {
            return Err((l.span(), format!("`image_shard_levels` must be 0 to 4, not {}", l.get_ref())));
        }
        out.levels = *l.get_ref() as usize;
    }
    if let Some(w) = site.image_shard_width.as_ref().or(top.image_shard_width.as_ref()) {
        out.chars = match w.get_ref() {
            16 => 1,
            256 => 2,
            4096 => 3,
            other => return Err((w.span(), format!("`image_shard_width` must be 16, 256 or 4096, not {other}"))),
        };
    }
    Ok(out)
}

/// A site's image settings: its `[sites.images]` over the top-level
/// `[images]` over the defaults, checked.
fn image_settings(
    site: Option<&Spanned<ImageKeys>>,
    top: Option<&Spanned<ImageKeys>>,
) -> Result<ImageSettings, (std::ops::Range<usize>, String)> {
    let span = site.or(top).map(|s| s.span()).unwrap_or(0..0);
    let (s, t) = (site.map(|s| s.get_ref().clone()).unwrap_or_default(), top.map(|s| s.get_ref().clone()).unwrap_or_default());
    let (sq, tq) = (s.quality.clone().unwrap_or_default(), t.quality.clone().unwrap_or_default());
    let d = ImageSettings::default();
    let mut widths = s.widths.or(t.widths).unwrap_or(d.widths);
    widths.sort_unstable();
    widths.dedup();
    let formats = match s.formats.or(t.formats) {
        None => d.formats,
        Some(names) => {
            let mut out = Vec::new();
            for n in &names {
                out.push(
                    Format::modern(n).ok_or_else(|| (span.clone(), format!("unknown image format `{n}`: use \"webp\" and/or \"avif\"")))?,
                );
            }
            // Browsers take the first `<source>` they support: the smallest first.
            out.sort();
            out.dedup();
            out
        }
    };
    let out = ImageSettings {
        resize: s.resize.or(t.resize).unwrap_or(d.resize),
        widths,
        formats,
        quality_webp: sq.webp.or(tq.webp).unwrap_or(d.quality_webp),
        quality_avif: sq.avif.or(tq.avif).unwrap_or(d.quality_avif),
        quality_jpeg: sq.jpeg.or(tq.jpeg).unwrap_or(d.quality_jpeg),
        avif_speed: s.avif_speed.or(t.avif_speed).unwrap_or(d.avif_speed),
        thumbnail: s.thumbnail.or(t.thumbnail).unwrap_or(d.thumbnail),
        social: s.social.or(t.social).unwrap_or(d.social),
        sizes: s.sizes.or(t.sizes).unwrap_or(d.sizes),
    };
    if out.widths.is_empty() || out.widths.iter().any(|&w| !(16..=8192).contains(&w)) {
        return Err((span, format!("image `widths` must list widths of 16 to 8192 pixels, not {:?}", out.widths)));
    }
    for (name, w) in [("thumbnail", out.thumbnail), ("social", out.social)] {
        if !(16..=8192).contains(&w) {
            return Err((span, format!("image `{name}` must be 16 to 8192 pixels wide, not {w}")));
        }
    }
    for (name, q) in [("webp", out.quality_webp), ("avif", out.quality_avif), ("jpeg", out.quality_jpeg)] {
        if !(1..=100).contains(&q) {
            return Err((span, format!("image quality of {name} must be 1 to 100, not {q}")));
        }
    }
    if !(1..=10).contains(&out.avif_speed) {
        return Err((span, format!("`avif_speed` must be 1 to 10, not {}", out.avif_speed)));
    }
    if out.sizes.is_empty() || out.sizes.chars().any(|c| c.is_control() || c == '"' || c == '<' || c == '>') {
        return Err((span, "image `sizes` must be a CSS sizes value such as \"(max-width: 44rem) 100vw, 44rem\"".into()));
    }
    Ok(out)
}

/// Folders gen publishes its own pages and files in whatever the theme:
/// an archive taking one of their names would publish two pages at one
/// URL. (`search/` and `archives/` exist only with their templates: a
/// clash with them is found with the other outputs.)
const GEN_FOLDERS: [&str; 6] = ["tags", "categories", "series", "authors", "images", "_search"];

/// A site's `[[sites.archives]]`, oldest first, checked.
fn archives(site: &Keys, text: &str, name: &str) -> Result<Vec<Archive>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut out: Vec<Archive> = Vec::new();
    for a in site.archives.iter().flatten() {
        let line = line_of(text, a.span().start);
        let keys = a.get_ref();
        let path = keys.path.clone().unwrap_or_else(|| "{until}backup".into()).replace("{until}", &keys.until.to_string());
        if !is_valid_name(&path) {
            diags.push(
                Diagnostic::new(CONFIG_FILE, Some(line), format!("archive path `{path}` of site `{name}` is not one folder name"))
                    .hint("use lowercase letters, digits, `-` and `_`, e.g. path = \"2023backup\""),
            );
        }
        if GEN_FOLDERS.contains(&path.as_str()) {
            diags.push(
                Diagnostic::new(
                    CONFIG_FILE,
                    Some(line),
                    format!("archive path `{path}` of site `{name}` is a folder gen publishes its own pages in"),
                )
                .hint("give the archive its own folder, e.g. path = \"2023backup\""),
            );
        }
        if let Some(other) = out.iter().find(|o| o.until == keys.until || o.path == path) {
            diags.push(
                Diagnostic::new(
                    CONFIG_FILE,
                    Some(line),
                    format!("archive `{path}` repeats the year or path of the archive on line {}", other.line),
                )
                .hint("give every archive its own `until` year and `path`"),
            );
        }
        out.push(Archive { until: keys.until, path, line });
    }
    out.sort_by_key(|a| a.until);
    diags.into_result(out)
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Site names become folder names under `content/` and `public/`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn normalize_base_url(raw: &str) -> Result<String, String> {
    // The URL parser drops tabs and newlines silently: a pasted newline
    // would otherwise end up inside every canonical link.
    if let Some(c) = raw.chars().find(|c| c.is_control()) {
        return Err(format!("`{}` contains the control character U+{:04X}", raw.escape_debug(), c as u32));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL ({e})"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("`{raw}` must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{raw}` has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{raw}` must not have a query or fragment"));
    }
    let mut s = url.to_string();
    if !s.ends_with('/') {
        s.push('/');
    }
    Ok(s)
}

fn check_permalink(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("`{p}` must start with `/`"));
    }
    if !p.contains("{slug}") {
        return Err(format!("`{p}` must contain {{slug}} so every article gets its own URL"));
    }
    let mut rest = p;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').ok_or_else(|| format!("`{p}` has an unclosed `{{`"))? + open;
        let var = &rest[open + 1..close];
        if !PERMALINK_VARS.contains(&var) {
            return Err(format!("unknown placeholder `{{{var}}}` in `{p}`"));
        }
        rest = &rest[close + 1..];
    }
    if p.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(format!("`{p}` must not contain `.` or `..` segments"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Diagnostics> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("themes/default/templates")).unwrap();
        Config::parse(dir.path(), text)
    }

    #[test]
    fn defaults_apply_and_sites_override() {
        let c = parse(
            "language = \"ko\"\npaginate = 5\n[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example/blog\"\n\n[[sites]]\nname = \"b\"\ntitle = \"B\"\nbase_url = \"https://b.example\"\nlanguage = \"en\"\n",
        )
        .unwrap();
        assert_eq!(c.sites[0].language, "ko");
        assert_eq!(c.sites[0].paginate, 5);
        assert_eq!(c.sites[0].base_url, "https://a.example/blog/");
        assert_eq!(c.sites[0].base_path, "/blog/");
        assert_eq!(c.sites[0].url_for("news/x/"), "/blog/news/x/");
        assert_eq!(c.sites[1].language, "en");
        assert_eq!(c.sites[1].permalink, "/{section}/{slug}/");
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let err = parse("[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\ncolour = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("sites.toml:5"), "{text}");
        assert!(text.contains("colour"), "{text}");
    }

    #[test]
    fn duplicate_names_and_bad_urls_are_all_reported() {
        let err = parse(
            "[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\n[[sites]]\nname = \"a\"\ntitle = \"A2\"\nbase_url = \"ftp:/nope\"\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("sites.toml:6: duplicate site name `a`"), "{text}");
        assert!(text.contains("sites.toml:8: bad `base_url`"), "{text}");
    }

    #[test]
    fn image_shards_default_override_and_validate() {
        let site = |extra: &str| {
            format!("image_shard_width = 4096\n[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\n{extra}")
        };
        let c = parse(&site("image_shard_levels = 1\n")).unwrap();
        assert_eq!(c.sites[0].image_shards, Shards { levels: 1, chars: 3 });
        let err = parse(&site("image_shard_levels = 9\n")).unwrap_err().to_string();
        assert!(err.contains("sites.toml:6: `image_shard_levels` must be 0 to 4, not 9"), "{err}");
        let err = parse("image_shard_width = 100\n[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\n").unwrap_err();
        assert!(err.to_string().contains("sites.toml:1: `image_shard_width` must be 16, 256 or 4096"), "{err}");
    }

    #[test]
    fn image_settings_merge_site_over_top_level_and_are_checked() {
        let text = "[images]\nwidths = [800, 400]\nquality = { webp = 70 }\n[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\n[sites.images]\nformats = [\"webp\", \"avif\"]\nquality = { jpeg = 90 }\n[[sites]]\nname = \"b\"\ntitle = \"B\"\nbase_url = \"https://b.example\"\n";
        let c = parse(text).unwrap();
        let (a, b) = (&c.sites[0].images, &c.sites[1].images);
        assert_eq!(a.widths, [400, 800]);
        assert_eq!(a.formats, [Format::Avif, Format::Webp], "AVIF offered first");
        assert_eq!((a.quality_jpeg, a.quality_webp), (90, 70), "merged key by key");
        assert_eq!((b.formats.as_slice(), b.quality_webp, b.social), (&[Format::Webp][..], 70, 1200));
        let err =
            parse("[images]\nformats = [\"gif\"]\n[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\n").unwrap_err();
        assert!(err.to_string().contains("sites.toml:1: unknown image format `gif`"), "{err}");
        let err = parse("[images]\nwidths = [0]\n[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\n").unwrap_err();
        assert!(err.to_string().contains("widths of 16 to 8192"), "{err}");
    }

    /// A newline in a pasted `base_url` (a hostile export) used to be dropped
    /// by the URL parser and publish `https://old.example/[[sites]]…` links.
    #[test]
    fn a_newline_in_base_url_or_images_url_is_refused() {
        let err =
            parse("[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://old.example/\\n[[sites]]name=\\\"pwn\\\"\"\n").unwrap_err();
        assert!(err.to_string().contains("sites.toml:4: bad `base_url` for site `a`"), "{err}");
        assert!(err.to_string().contains("control character U+000A"), "{err}");
        let err =
            parse("images_url = \"https://img.example/\\t\"\n[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("sites.toml:1: bad `images_url` for site `a`"), "{err}");
        let ok = parse("images_url = \"https://img.example\"\n[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\n")
            .unwrap();
        assert_eq!(ok.sites[0].images_url.as_deref(), Some("https://img.example/"));
        assert_eq!(ok.sites[0].image_url("images/ab/cd/x.webp"), "https://img.example/ab/cd/x.webp");
        let err = parse("[[sites]]\nname = \"_images\"\ntitle = \"A\"\nbase_url = \"https://a.example\"\n").unwrap_err();
        assert!(err.to_string().contains("`_images` is reserved"), "{err}");
    }

    /// Hardening round 2, case 8g: two sites with one base_url were accepted.
    #[test]
    fn two_sites_with_one_base_url_are_refused_naming_both_lines() {
        let text = "[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://news.example/\"\n[[sites]]\nname = \"b\"\ntitle = \"B\"\nbase_url = \"https://NEWS.example\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("sites.toml:8: site `b` has the base_url of site `a` (line 4)"), "{err}");
        let ok = "[[sites]]\nname = \"a\"\ntitle = \"A\"\nbase_url = \"https://news.example/\"\n[[sites]]\nname = \"b\"\ntitle = \"B\"\nbase_url = \"https://news.example/b/\"\n";
        assert!(parse(ok).is_ok(), "another path on the same host is another site");
    }

    #[test]
    fn a_misspelt_key_suggests_the_known_one() {
        let err = parse("[[sites]]\nname = \"a\"\ntitel = \"A\"\nbase_url = \"https://a.example\"\n").unwrap_err();
        assert!(err.to_string().contains("sites.toml:3: unknown key `titel`: did you mean `title`?"), "{err}");
    }

    #[test]
    fn permalink_placeholders_are_checked() {
        assert!(check_permalink("/{year}/{month}/{slug}/").is_ok());
        assert!(check_permalink("/{section}/").is_err());
        assert!(check_permalink("/{sektion}/{slug}/").is_err());
        assert!(check_permalink("/../{slug}/").is_err());
    }
}
