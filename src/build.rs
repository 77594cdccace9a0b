//! The build, top to bottom:
//!
//! 1. config: `sites.toml`, `content/authors.yaml`, themes;
//! 2. per site: discover sources → parse (or reuse cached metadata) → model;
//!    content errors of every site are collected, and any stops the build
//!    before a single file is written;
//! 3. per site: list the outputs with their input hashes → plan against the
//!    previous state → render what changed, in parallel, into staging;
//! 4. per site: commit (publish staged files, remove stale ones, save state).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;
use serde::Serialize;

use crate::assets::{self, Assets};
use crate::cache::{self, Dep, OutputRecord, SiteState, SourceRecord};
use crate::check;
use crate::config::{Config, SiteConfig};
use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::{self, Hash, Source};
use crate::images::Addressed;
use crate::images::publish::{Dest, ImageFile, SharedImages, Stage as ImageStage};
use crate::images::store::LocalStore;
use crate::images::{self, Catalog, ImageView};
use crate::model::{self, Aliased, ArticleImages, Authors, Cover, Filter, Parsed, SiteModel};
use crate::parse::{self, Markdown};
use crate::plan::{self, Planned};
use crate::redirects::{self, Rule};
use crate::render::{self, Make, Output, Renderer, SiteInputs};
use crate::search;
use crate::theme::{Theme, Themes};
use crate::write::{Publisher, WriteFailures};

pub use crate::images::publish::{ImageReport, VARIANTS_DIR};

/// Where `gen export search` writes by default.
pub use crate::search::EXPORT_DIR;

/// One syntax set per process: loading it costs tens of milliseconds, which
/// matters for every rebuild of `gen serve --watch`.
static MARKDOWN: std::sync::LazyLock<Markdown> = std::sync::LazyLock::new(Markdown::default);

#[derive(Clone)]
pub struct BuildOptions {
    pub root: PathBuf,
    /// Only these sites (all when empty).
    pub sites: Vec<String>,
    pub drafts: bool,
    pub future: bool,
    pub minify: bool,
    /// Overrides `output` from `sites.toml`.
    pub output: Option<PathBuf>,
    /// Where the build state lives (default `<root>/.gen`).
    pub cache_dir: Option<PathBuf>,
    /// Ignore the saved state: render everything.
    pub clean: bool,
    /// The clock for `--future`; from `SOURCE_DATE_EPOCH` or the system.
    pub now: DateTime<FixedOffset>,
    /// Called with (what, done, total) while rendering pages
    /// ([`RENDERING`]) and encoding images ([`ENCODING`]).
    pub progress: Option<Progress>,
    /// Build states kept in memory between builds of one process (the
    /// preview server): saves decoding them from disk on every rebuild. The
    /// disk copy is still written, and used whenever memory has none.
    pub memory: Option<Arc<std::sync::Mutex<HashMap<String, SiteState>>>>,
    /// Replaces every site's `base_url`; `{site}` stands for the site's name
    /// (the preview server uses `http://{site}.localhost:PORT/`). Without
    /// `{site}` and with several sites, each gets `URL/<site>/`.
    pub base_url: Option<String>,
    /// Collect every article's links for `gen check` ([`BuildReport::links`]).
    pub check: bool,
    /// Where encoded image variants are cached (default `<cache>/variants`);
    /// the preview shares the build's.
    pub variant_cache: Option<PathBuf>,
    /// Replaces `images_url` of the sites that have one (`{site}` stands for
    /// the site's name): the preview serves the shared tree itself.
    pub images_url: Option<String>,
}

impl BuildOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        BuildOptions {
            root: root.into(),
            sites: vec![],
            drafts: false,
            future: false,
            minify: true,
            output: None,
            cache_dir: None,
            clean: false,
            now: now(),
            progress: None,
            memory: None,
            base_url: None,
            check: false,
            variant_cache: None,
            images_url: None,
        }
    }
}

/// The current time, or `SOURCE_DATE_EPOCH` for reproducible builds.
pub fn now() -> DateTime<FixedOffset> {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .unwrap_or_else(chrono::Utc::now)
        .fixed_offset()
}

/// Called with (what, done, total).
pub type Progress = Arc<dyn Fn(&'static str, usize, usize) + Send + Sync>;

/// What [`BuildOptions::progress`] reports on.
pub const RENDERING: &str = "rendering";
pub const ENCODING: &str = "encoding images";

/// Per-site figures for the summary line and `--json`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SiteReport {
    pub site: String,
    pub pages: usize,
    pub pages_rendered: usize,
    pub pages_unchanged: usize,
    pub files_written: usize,
    pub files_removed: usize,
    pub images: ImageReport,
    /// The search index, when this build made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchReport>,
    /// Stage name → milliseconds.
    pub timings_ms: BTreeMap<&'static str, f64>,
    /// A note such as "cache ignored: …".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Articles left out because they are dated after the build's clock
    /// (`--future` includes them): a writer learns why one is missing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub future: Vec<String>,
    /// Site-relative paths written or removed (for the preview server).
    #[serde(skip)]
    pub changed: Vec<String>,
}

/// What a site's search index is made of (`--json`: `search`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct SearchReport {
    pub documents: usize,
    pub shards: usize,
    pub blocks: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct BuildReport {
    pub sites: Vec<SiteReport>,
    /// The network search index, when sites have `search_network`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<search::network::NetworkReport>,
    pub total_ms: f64,
    /// With [`BuildOptions::check`]: every configured site's published files
    /// and, for the sites built, their articles' links.
    #[serde(skip)]
    pub links: Vec<check::SiteLinks>,
}

/// What stage 2 hands to stage 3 for one site.
struct Loaded {
    site: SiteConfig,
    theme: Arc<Theme>,
    model: SiteModel,
    state: SiteState,
    sources: BTreeMap<String, SourceRecord>,
    catalog: Catalog,
    assets: Assets,
    redirects: Vec<Rule>,
    report: SiteReport,
    settings: Hash,
    asset_images: Hash,
    valid_until: Option<i64>,
    folders: Vec<discover::Folder>,
    publisher: Publisher,
    /// What earlier builds published, from the saved state (also with
    /// `--clean`); `None` when there is none: files found are taken as gen's.
    owned: Option<BTreeSet<String>>,
    sections: BTreeMap<String, model::SectionPage>,
    /// `default_image`: a web URL as written, or a local image, published.
    default_image: Option<Cover>,
}

pub fn build(opts: &BuildOptions) -> anyhow::Result<BuildReport> {
    let started = Instant::now();
    let prepared = Prepared::new(opts)?;
    let sites = prepared.sites()?;

    // Stages 2 and 3, site by site: everything that can be wrong with the
    // content, then rendering into staging. Nothing is published until every
    // site got through; a site is dropped from memory once staged, so the
    // peak is a few sites' worth, not the whole repository's.
    let may_skip = !opts.clean && !opts.check;
    // The tree of images shared through `images_url`, when any site has one.
    let sharing: Vec<String> = prepared.config.sites.iter().filter(|s| s.images_url.is_some()).map(|s| s.name.clone()).collect();
    let shared_images = match sharing.is_empty() {
        true => None,
        false => Some(
            SharedImages::open(&prepared.config.output, &prepared.cache_dir)
                .with_context(|| format!("cannot prepare {}", prepared.config.output.join(crate::config::SHARED_IMAGES_DIR).display()))?,
        ),
    };
    let results = each_bounded(sites, |(site, theme)| -> Result<Staged, Diagnostics> {
        let shared = prepared.shared();
        let found = discover_site(&shared, site, theme)?;
        // A site whose shared images went missing builds to restore them.
        let images_intact = site.images_url.is_none() || shared_images.as_ref().is_some_and(|s| !s.damaged);
        if may_skip && images_intact && found.unchanged(opts.now, &opts.root) {
            return Ok(unchanged_site(found.skip()));
        }
        render_site(opts, &prepared.cache_dir, &MARKDOWN, shared_images.as_ref(), load_site(&shared, found)?)
    });
    let mut diags = Diagnostics::default();
    let staged: Vec<Staged> = diags.keep_ok(results);
    if !diags.is_empty() {
        for s in &staged {
            s.publisher.discard().ok();
        }
        if let Some(shared) = &shared_images {
            shared.discard();
        }
        diags.into_result(())?;
    }
    // New shared images go live before the pages that show them.
    if let Some(Err(d)) = shared_images.as_ref().map(SharedImages::publish_new) {
        for s in &staged {
            s.publisher.discard().ok();
        }
        return Err(d.into());
    }

    // Stage 4: publish.
    let mut report = BuildReport::default();
    let mut published = Vec::new();
    for mut s in staged {
        let t = Instant::now();
        if let Some(bytes) = &s.state_bytes {
            let out = s.publisher.out_dir().display().to_string();
            let done = s.publisher.commit(std::mem::take(&mut s.moves), s.removes, bytes);
            done.with_context(|| format!("publishing {out} (sites published before it in this build are complete)"))?;
            if let Some((path, bytes)) = &s.text_cache {
                // Only a cache: losing it costs reading sources again, so
                // it is replaced atomically but not synced (a 5 MB sync on
                // every preview rebuild).
                crate::write::replace(path, bytes).ok();
            }
        }
        if let (Some(m), Some(state)) = (&opts.memory, s.state) {
            m.lock().expect("no panics while held").insert(s.report.site.clone(), state);
        }
        s.report.timings_ms.insert("write", ms(t));
        published.push((s.publisher.out_dir().to_path_buf(), s.expected));
        report.sites.push(s.report);
        report.links.extend(s.links);
    }
    // Shared images no page shows any more go once every site is published.
    if let Some(shared) = &shared_images {
        shared.finish(&sharing)?;
        if let (Some(w), Some(first)) = (&shared.warning, report.sites.first_mut()) {
            first.warnings.push(format!("{}: {w}", crate::config::SHARED_IMAGES_DIR));
        }
    }
    // The network search, from the indexes the sites now publish.
    if let Some(net) = &prepared.config.network {
        let sites = prepared.config.sites.iter().map(|s| (s.name.clone(), (s.title.clone(), s.base_url.clone()))).collect();
        let t = Instant::now();
        let mut r = search::network::publish(&prepared.config.output, &prepared.cache_dir, net, &sites)
            .context("the network search index (sites published before it in this build are complete)")?;
        r.ms = ms(t);
        report.network = Some(r);
    }
    // A build must not succeed with files missing: the output folder, or
    // part of it, removed while the build ran. The next build restores them.
    for (out, expected) in published {
        let missing: Vec<&String> = expected.par_iter().filter(|rel| std::fs::symlink_metadata(out.join(rel)).is_err()).collect();
        if let Some(first) = missing.first() {
            anyhow::bail!(
                "{} published file{} of {} went missing during the build (first: {}): was the output folder changed while gen ran? Build again to restore them",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                out.display(),
                out.join(first).display()
            );
        }
    }
    if opts.check {
        // Sites not built are still link targets: their output folder as it is.
        let others: Vec<check::SiteLinks> = prepared
            .config
            .sites
            .iter()
            .filter(|c| !report.links.iter().any(|l| l.site == c.name))
            .filter_map(|site| {
                Some(check::SiteLinks {
                    site: site.name.clone(),
                    base_url: url::Url::parse(&site.base_url).ok()?,
                    out_dir: prepared.config.output.join(&site.name),
                    files: Default::default(),
                    redirects: Default::default(),
                    pages: vec![],
                })
            })
            .collect();
        report.links.extend(others);
    }
    report.total_ms = ms(started);
    Ok(report)
}

/// `gen export search`: the published articles of every selected site,
/// loaded and checked but not rendered, written as Elasticsearch bulk files
/// under `output/<site>/`.
pub fn export_search(opts: &BuildOptions, output: &Path) -> anyhow::Result<Vec<search::Exported>> {
    let prepared = Prepared::new(opts)?;
    let forbidden = [
        (Path::new("content"), "the content"),
        (Path::new("themes"), "the themes"),
        (Path::new("assets"), "the shared assets"),
        (prepared.config.output.as_path(), "the build output"),
        (prepared.cache_dir.as_path(), "the build cache"),
    ];
    search::check_export_dir(&opts.root, &forbidden, output)?;
    let sites = prepared.sites()?;
    let results = each_bounded(sites, |(site, theme)| -> Result<_, Diagnostics> {
        let shared = prepared.shared();
        let l = load_site(&shared, discover_site(&shared, site, theme)?)?;
        Ok((l.site, l.model))
    });
    let mut diags = Diagnostics::default();
    let models: Vec<_> = diags.keep_ok(results);
    diags.into_result(())?;
    let dir = opts.root.join(output);
    models.iter().map(|(site, model)| search::export_elasticsearch(&opts.root, site, model, &dir)).collect()
}

/// `gen cache prune`: removes the cached variants that no saved build state
/// (the builds' and the preview's) publishes, and with `older_than` only
/// those not written for that long. Returns (entries, bytes) removed.
pub fn prune_cache(cache_dir: &Path, older_than: Option<std::time::Duration>) -> anyhow::Result<(usize, u64)> {
    let _lock = cache::Lock::take(cache_dir)?;
    let mut keep = std::collections::HashSet::new();
    for entry in walkdir::WalkDir::new(cache_dir).max_depth(3).into_iter().filter_map(Result::ok) {
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "state") {
            // A state that cannot be read publishes nothing gen could keep.
            if let Ok(Some(state)) = cache::load(entry.path()) {
                keep.extend(state.outputs.values().map(|r| r.input));
            }
        }
    }
    let cutoff = older_than.map(|d| std::time::SystemTime::now() - d);
    LocalStore::new(cache_dir.join(VARIANTS_DIR))
        .prune(&keep, cutoff)
        .with_context(|| format!("pruning {}", cache_dir.join(VARIANTS_DIR).display()))
}

/// Runs `f` on every item, as many at a time as there are cores (at most
/// four), each free to use rayon inside; results in item order.
fn each_bounded<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let n = items.len();
    let workers = rayon::current_num_threads().clamp(1, 4).min(n);
    let items: Vec<std::sync::Mutex<Option<T>>> = items.into_iter().map(|t| std::sync::Mutex::new(Some(t))).collect();
    let results: Vec<std::sync::Mutex<Option<R>>> = (0..n).map(|_| std::sync::Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(slot) = items.get(i) else { break };
                    let item = slot.lock().expect("no panics while held").take().expect("each item taken once");
                    let r = f(item);
                    *results[i].lock().expect("no panics while held") = Some(r);
                }
            });
        }
    });
    results.into_iter().map(|r| r.into_inner().expect("no panics while held").expect("every item ran")).collect()
}

/// A selected site and its theme (or why the theme did not load).
type SiteWithTheme<'a> = (&'a SiteConfig, Result<Arc<Theme>, Diagnostics>);

/// Stage 1: configuration, authors and shared assets, read once.
struct Prepared {
    _lock: cache::Lock,
    opts: BuildOptions,
    config: Config,
    cache_dir: PathBuf,
    authors: Authors,
    repo_assets: Vec<Source>,
}

impl Prepared {
    fn new(opts: &BuildOptions) -> anyhow::Result<Prepared> {
        let root = &opts.root;
        let mut config = Config::load(root)?;
        if let Some(out) = &opts.output {
            config.output = root.join(out);
        }
        if let Some(pattern) = &opts.base_url {
            // Several sites under one URL each get a folder of their own.
            let selected = if opts.sites.is_empty() { config.sites.len() } else { opts.sites.len() };
            let pattern = if pattern.contains("{site}") || selected <= 1 {
                pattern.clone()
            } else {
                format!("{}/{{site}}/", pattern.trim_end_matches('/'))
            };
            for site in &mut config.sites {
                let url = pattern.replace("{site}", &site.name);
                let parsed = url::Url::parse(&url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| anyhow::anyhow!("--base-url {url} is not an absolute http(s) URL"))?;
                site.base_url = if url.ends_with('/') { url } else { format!("{url}/") };
                site.base_path = parsed.path().trim_end_matches('/').to_string() + "/";
            }
        }
        if let Some(pattern) = &opts.images_url {
            for site in config.sites.iter_mut().filter(|s| s.images_url.is_some()) {
                site.images_url = Some(pattern.replace("{site}", &site.name));
            }
        }
        let cache_dir = opts.cache_dir.as_ref().map(|c| root.join(c)).unwrap_or_else(|| root.join(".gen"));
        let lock = cache::Lock::take(&cache_dir)?;
        let authors = load_authors(root)?;
        // `assets/` is shared by every site: walked once (its images are never stat'ed).
        let repo_assets = assets::walk_assets_dir(&root.join("assets"), root)?;
        Ok(Prepared { _lock: lock, opts: opts.clone(), config, cache_dir, authors, repo_assets })
    }

    /// The selected sites with their themes, parsed once per theme and override set.
    fn sites(&self) -> Result<Vec<SiteWithTheme<'_>>, Diagnostics> {
        let (opts, mut themes) = (&self.opts, Themes::default());
        Ok(select_sites(&self.config, &opts.sites)?.into_iter().map(|s| (s, themes.get(&opts.root, &s.theme, &s.name))).collect())
    }

    fn shared<'a>(&'a self) -> Shared<'a> {
        let o = &self.opts;
        Shared {
            opts: o,
            config: &self.config,
            cache_dir: &self.cache_dir,
            authors: &self.authors,
            filter: Filter { drafts: o.drafts, future: o.future, now: o.now },
            repo_assets: &self.repo_assets,
        }
    }
}

fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

fn select_sites<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c SiteConfig>, Diagnostics> {
    if names.is_empty() {
        return Ok(config.sites.iter().collect());
    }
    let mut diags = Diagnostics::default();
    let mut out = Vec::new();
    for n in names {
        match config.site(n) {
            Some(s) => out.push(s),
            None => diags.push(
                Diagnostic::new(crate::config::CONFIG_FILE, None, format!("no site named `{n}`"))
                    .hint(format!("configured sites: {}", config.sites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "))),
            ),
        }
    }
    diags.into_result(out)
}

fn load_authors(root: &Path) -> Result<Authors, Diagnostics> {
    match std::fs::read_to_string(root.join(model::AUTHORS_FILE)) {
        Ok(text) => model::parse_authors(&text).map_err(Diagnostics::one),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Authors::new()),
        Err(e) => Err(Diagnostics::one(Diagnostic::new(model::AUTHORS_FILE, None, format!("cannot read: {e}")))),
    }
}

/// What every site's loading shares.
struct Shared<'a> {
    opts: &'a BuildOptions,
    config: &'a Config,
    cache_dir: &'a Path,
    authors: &'a Authors,
    filter: Filter,
    repo_assets: &'a [Source],
}

/// A site every input of which is as the last build left it: nothing to do.
struct Unchanged {
    state: SiteState,
    report: SiteReport,
    publisher: Publisher,
}

/// Stage 2a: what a site is made of, found without reading any article:
/// its previous state, its sources and their stamps, theme, assets and
/// settings. Enough to tell whether the site changed at all.
struct Discovered<'s> {
    site: &'s SiteConfig,
    state: SiteState,
    report: SiteReport,
    diags: Diagnostics,
    theme: Result<Arc<Theme>, ()>,
    assets: Result<Assets, ()>,
    settings: Hash,
    asset_images: Hash,
    sources: Vec<Source>,
    folders: Vec<discover::Folder>,
    sections: BTreeMap<String, model::SectionPage>,
    publisher: Publisher,
    owned: Option<BTreeSet<String>>,
    /// The state cannot be trusted for skipping (`--clean`, a dropped journal).
    fresh: bool,
    walked_at: std::time::SystemTime,
}

impl Discovered<'_> {
    /// Every input is as the last build left it: the site can be skipped.
    fn unchanged(&self, now: DateTime<FixedOffset>, root: &Path) -> bool {
        !self.fresh && self.diags.is_empty() && unchanged(&self.state, self.settings, &self.sources, root, now)
    }

    fn skip(self) -> Unchanged {
        let Discovered { mut report, state, publisher, .. } = self;
        report.pages = state.pages;
        report.pages_unchanged = state.pages;
        report.future = state.future.clone();
        Unchanged { state, report, publisher }
    }
}

fn discover_site<'s>(shared: &Shared, site: &'s SiteConfig, theme: Result<Arc<Theme>, Diagnostics>) -> Result<Discovered<'s>, Diagnostics> {
    let Shared { opts, config, cache_dir, authors, repo_assets, .. } = *shared;
    let root = &opts.root;
    let mut report = SiteReport { site: site.name.clone(), ..Default::default() };

    let t = Instant::now();
    let out_dir = config.output.join(&site.name);
    // Opening the publisher first finishes an interrupted earlier build, so
    // the state read next is the one that build installed.
    let (publisher, recovery) = Publisher::open(&config.output, &site.name, &cache::state_path(cache_dir, &site.name)).map_err(|e| {
        Diagnostics::one(
            Diagnostic::new(&out_dir, None, format!("cannot prepare the output folder: {e}"))
                .hint("check that the output folder and public/.gen-staging/ are folders gen can write to"),
        )
    })?;
    let mut previous = None;
    let remembered = opts.memory.as_ref().and_then(|m| m.lock().expect("no panics while held").remove(&site.name));
    if let Some(s) = remembered.filter(|s| s.output_dir == out_dir) {
        previous = Some(s);
    } else {
        match cache::load(&cache::state_path(cache_dir, &site.name)) {
            Ok(Some(s)) if s.output_dir == out_dir => previous = Some(s),
            Ok(_) => {}
            Err(e) => report.warnings.push(format!("cache ignored: {e}")),
        }
    }
    // A journal that could not be replayed left the output half-published:
    // render everything, as `--clean` does, and own what it published.
    let fresh = opts.clean || recovery.is_some();
    let owned = previous.as_ref().map(|s| {
        let moved = recovery.iter().flat_map(|r| r.moved.iter().cloned());
        s.outputs.keys().cloned().chain(moved).collect::<BTreeSet<String>>()
    });
    if let Some(r) = recovery {
        report.warnings.push(r.warning);
    }
    let mut state = previous.filter(|_| !fresh).unwrap_or_default();
    state.output_dir = out_dir;
    // Parsed dates depend on the time zone: another one parses again.
    let timezone = site.timezone.map(|t| t.name().to_string()).unwrap_or_default();
    if state.timezone != timezone {
        state.sources.clear();
    }
    report.timings_ms.insert("cache", ms(t));

    let t = Instant::now();
    let walked_at = std::time::SystemTime::now();
    let content_rel = Path::new("content").join(&site.name);
    let content_dir = root.join(&content_rel);
    let mut diags = Diagnostics::default();
    let is_article = |rel: &str| rel.ends_with(".md") && !rel.starts_with("assets/");
    let known: Vec<&str> = state.sources.keys().map(String::as_str).collect();
    let (sources, folders) = match discover::restat(&content_dir, &state.folders, &known) {
        Some(mut sources) => {
            sources.extend(discover::section_pages(&content_dir, &state.folders));
            (sources, state.folders.clone())
        }
        None => discover::walk_tree(&content_dir, root, is_article, true).unwrap_or_else(|d| {
            diags.extend(d);
            (vec![], vec![])
        }),
    };
    // A folder changed in the same clock tick as the walk could change again
    // unseen (mtimes are coarse): then the next build walks.
    let folders = if folders.iter().any(|(_, s)| discover::is_recent(s, walked_at)) { vec![] } else { folders };
    // Section pages are not articles: read every build (a few small files),
    // they count among the site's settings.
    let (section_files, sources): (Vec<Source>, Vec<Source>) = sources.into_iter().partition(|s| model::is_section_page(&s.rel));
    let sections = read_section_pages(site, &content_rel, &section_files).unwrap_or_else(|d| {
        diags.extend(d);
        BTreeMap::new()
    });
    report.timings_ms.insert("discover", ms(t));

    let t = Instant::now();
    let theme = theme.map_err(|d| diags.extend(d));
    let site_assets = assets::walk_assets_dir(&content_dir.join("assets"), root).map_err(|d| diags.extend(d));
    let assets = match (&theme, site_assets) {
        (Ok(theme), Ok(site_assets)) => Assets::build(&[&theme.static_files, repo_assets, &site_assets], root).map_err(|d| diags.extend(d)),
        _ => Err(()),
    };
    report.timings_ms.insert("assets", ms(t));
    let site_images = assets::image_names(&content_dir.join("assets"), root).unwrap_or_else(|d| {
        diags.extend(d);
        vec![]
    });
    // What every page's images depend on besides their bytes: which
    // images the site's assets/ holds and how images are published.
    let image_settings = (&site.images, &site.images_url, site.image_shards, site.hard_links, &site_images);
    let asset_images = discover::hash_bytes(serde_json::to_string(&image_settings).expect("plain data serializes").as_bytes());
    let settings = match (&theme, &assets) {
        (Ok(theme), Ok(assets)) => settings_hash(opts, site, theme, assets, authors, &sections, asset_images),
        _ => [0; 32],
    };
    Ok(Discovered {
        site,
        state,
        report,
        diags,
        theme,
        assets,
        settings,
        asset_images,
        sources,
        folders,
        sections,
        publisher,
        owned,
        fresh,
        walked_at,
    })
}

/// Stage 2b: parse (or reuse) every source, resolve images, build the model
/// and the redirects. Every content error of the site is collected.
fn load_site(shared: &Shared, d: Discovered) -> Result<Loaded, Diagnostics> {
    let Shared { opts, authors, filter, .. } = *shared;
    let root = &opts.root;
    let Discovered {
        site,
        mut state,
        mut report,
        mut diags,
        theme,
        assets,
        settings,
        asset_images,
        sources,
        folders,
        sections,
        publisher,
        owned,
        walked_at,
        ..
    } = d;
    let content_rel = Path::new("content").join(&site.name);
    let t = Instant::now();
    // Cached records move into the new state rather than being copied.
    let cached: Vec<Option<SourceRecord>> = sources.iter().map(|s| state.sources.remove(&s.rel)).collect();
    let results: Vec<Result<(String, SourceRecord), Diagnostic>> = sources
        .par_iter()
        .zip(cached)
        .map(|(src, cached)| parse_source(src, &content_rel, cached, walked_at, site.timezone.unwrap_or(chrono_tz::UTC)))
        .collect();
    let records: BTreeMap<String, SourceRecord> = diags.keep_ok(results);
    report.timings_ms.insert("parse", ms(t));

    let t = Instant::now();
    let catalog = Catalog::new(root, site.image_shards, site.images.clone(), std::mem::take(&mut state.image_sources));
    let images = resolve_images(site, &content_rel, &records, filter, &catalog).unwrap_or_else(|d| {
        diags.extend(d);
        HashMap::new()
    });
    let default_image = site_image(site, &content_rel, &catalog).unwrap_or_else(|d| {
        diags.push(d);
        None
    });
    report.timings_ms.insert("images_resolved", ms(t));

    let t = Instant::now();
    let valid_until = valid_until(site, &records, filter);
    report.future = records
        .iter()
        .filter(|(_, r)| !filter.future && r.meta.date > filter.now && (!r.meta.draft || filter.drafts))
        .map(|(rel, _)| content_rel.join(rel).display().to_string())
        .collect();
    let parsed = records.iter().map(|(rel, r)| Parsed { rel: rel.clone(), hash: r.hash, meta: r.meta.clone() }).collect();
    let model = SiteModel::build(site, &content_rel, parsed, authors, filter, &images);
    report.timings_ms.insert("model", ms(t));
    let model = model.map_err(|d| diags.extend(d));
    let rules = match &model {
        Ok(m) => redirects::collect(site, m).map_err(|d| diags.extend(d)),
        Err(()) => Err(()),
    };
    match (theme, model, assets, rules) {
        (Ok(theme), Ok(model), Ok(assets), Ok(redirects)) if diags.is_empty() => Ok(Loaded {
            site: site.clone(),
            theme,
            model,
            state,
            sources: records,
            catalog,
            assets,
            redirects,
            report,
            settings,
            asset_images,
            valid_until,
            folders,
            publisher,
            owned,
            sections,
            default_image,
        }),
        _ => Err(diags),
    }
}

/// Everything a site's output depends on besides its sources and images.
fn settings_hash(
    opts: &BuildOptions,
    site: &SiteConfig,
    theme: &Theme,
    assets: &Assets,
    authors: &Authors,
    sections: &BTreeMap<String, model::SectionPage>,
    asset_images: Hash,
) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(render::RENDER_VERSION.as_bytes());
    h.update(&[opts.drafts as u8, opts.future as u8, opts.minify as u8]);
    h.update(serde_json::to_string(&(site, authors, sections)).expect("plain data serializes").as_bytes());
    h.update(&asset_images);
    h.update(&theme.hash());
    h.update(&assets.hash);
    for a in &assets.files {
        h.update(&a.hash);
    }
    *h.finalize().as_bytes()
}

/// Whether the last build's output still stands: same settings, the same
/// sources and image sources with the same stamps (the shortcut every
/// build takes for a single file, here for all at once), no date passed that
/// changes what is published, and every output in place.
fn unchanged(state: &SiteState, settings: Hash, sources: &[Source], root: &Path, now: DateTime<FixedOffset>) -> bool {
    state.settings == settings
        && state.valid_until.is_none_or(|t| now.timestamp() < t)
        && sources.len() == state.sources.len()
        && sources.iter().all(|s| state.sources.get(&s.rel).is_some_and(|r| r.stamp == s.stamp))
        && state
            .image_sources
            .par_iter()
            .all(|(path, r)| std::fs::metadata(root.join(path)).is_ok_and(|m| discover::Stamp::of(&m) == r.stamp))
        && state
            .outputs
            .par_iter()
            .all(|(path, r)| std::fs::metadata(state.output_dir.join(path)).is_ok_and(|m| discover::Stamp::of(&m) == r.stamp))
}

/// The first moment the same inputs publish something else: a future
/// article comes due, or a news article leaves the 48-hour news sitemap.
fn valid_until(site: &SiteConfig, records: &BTreeMap<String, SourceRecord>, filter: Filter) -> Option<i64> {
    let now = filter.now.timestamp();
    records
        .values()
        .flat_map(|r| {
            let date = r.meta.date.timestamp();
            let due = (!filter.future && date > now).then_some(date);
            // In the news sitemap up to and including `date + 48 h`.
            let news_ends = (site.news_sitemap && date <= now).then_some(date + render::NEWS_WINDOW_HOURS * 3600 + 1).filter(|t| *t > now);
            [due, news_ends]
        })
        .flatten()
        .min()
}

/// A skipped site: nothing to stage, nothing to commit.
fn unchanged_site(u: Unchanged) -> Staged {
    let Unchanged { state, report, publisher } = u;
    Staged {
        links: None,
        publisher,
        moves: vec![],
        removes: vec![],
        expected: vec![],
        state: Some(state),
        state_bytes: None,
        text_cache: None,
        report,
    }
}

/// The `image:` cover and the `image_aliases:` images of every published
/// article, addressed in parallel (the model needs their published URLs).
fn resolve_images(
    site: &SiteConfig,
    content_rel: &Path,
    records: &BTreeMap<String, SourceRecord>,
    filter: Filter,
    catalog: &Catalog,
) -> Result<HashMap<String, ArticleImages>, Diagnostics> {
    let results: Vec<Result<(String, ArticleImages), Diagnostics>> = records
        .par_iter()
        .filter(|(_, r)| filter.keeps(&r.meta) && (r.meta.image.is_some() || !r.meta.image_aliases.is_empty()))
        .map(|(rel, r)| {
            let file = content_rel.join(rel);
            let lookup =
                images::Lookup { root: catalog.root(), content_dir: content_rel, article_dir: file.parent().unwrap_or(content_rel) };
            let mut diags = Diagnostics::default();
            let hint = "put the image in the article's folder (page bundle) or in assets/";
            // A cover from elsewhere must be a web URL: it reaches `og:image` and feeds.
            let resolved = |url: &str| match images::is_external(url) {
                true => images::web_url(url).map(|()| None),
                false => catalog.resolve(&lookup, url),
            };
            let cover = r.meta.image.as_ref().and_then(|url| match resolved(url) {
                Ok(Some(local)) => Some(Cover { view: catalog.view(&local, site), local: Some(local) }),
                Ok(None) => Some(Cover { view: ImageView::external(url), local: None }),
                Err(why) => {
                    diags.push(Diagnostic::new(&file, r.meta.line_of("image"), format!("cover {why}")).hint(hint));
                    None
                }
            });
            let mut aliased = Vec::new();
            for (url, from) in &r.meta.image_aliases {
                match catalog.resolve(&lookup, url) {
                    Ok(Some(image)) => aliased.push(Aliased { image, from: from.clone() }),
                    Ok(None) => diags.push(
                        Diagnostic::new(&file, r.meta.line_of("image_aliases"), format!("image_aliases: `{url}` is not a local image"))
                            .hint("list images of the article's folder; an external image needs no redirect"),
                    ),
                    Err(why) => {
                        diags.push(Diagnostic::new(&file, r.meta.line_of("image_aliases"), format!("image_aliases: {why}")).hint(hint))
                    }
                }
            }
            diags.into_result((rel.clone(), ArticleImages { cover, aliased }))
        })
        .collect();
    let mut diags = Diagnostics::default();
    let mut found = HashMap::new();
    for r in results {
        match r {
            Ok((rel, images)) => {
                found.insert(rel, images);
            }
            Err(d) => diags.extend(d),
        }
    }
    diags.into_result(found)
}

/// `default_image` of the site: an `http(s)` URL, or an image under
/// `content/<site>/assets/` or `assets/` (`/brand/card.png`), published
/// content-addressed like every image.
fn site_image(site: &SiteConfig, content_rel: &Path, catalog: &Catalog) -> Result<Option<Cover>, Diagnostic> {
    let Some(url) = &site.default_image else { return Ok(None) };
    let error = |why: String| {
        Diagnostic::new(crate::config::CONFIG_FILE, None, format!("default_image of site `{}`: {why}", site.name))
            .hint("write a path under assets/ such as \"/brand/card.png\", or an https:// URL")
    };
    if images::is_external(url) {
        images::web_url(url).map_err(error)?;
        return Ok(Some(Cover { view: ImageView::external(url), local: None }));
    }
    if !url.starts_with('/') {
        return Err(error(format!("`{url}` must start with `/` (a path under assets/)")));
    }
    let lookup = images::Lookup { root: catalog.root(), content_dir: content_rel, article_dir: content_rel };
    match catalog.resolve(&lookup, url) {
        Ok(Some(local)) => Ok(Some(Cover { view: catalog.view(&local, site), local: Some(local) })),
        Ok(None) => Ok(Some(Cover { view: ImageView::external(url), local: None })),
        Err(why) => Err(error(why)),
    }
}

/// The site's section pages by section (`""`: the home page).
fn read_section_pages(
    site: &SiteConfig,
    content_rel: &Path,
    files: &[Source],
) -> Result<BTreeMap<String, model::SectionPage>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut out = BTreeMap::new();
    for f in files {
        let file = content_rel.join(&f.rel);
        let depth = f.rel.matches('/').count();
        if depth > 1 {
            diags.push(
                Diagnostic::new(&file, None, "a section page belongs directly in its section's folder")
                    .hint(format!("move it to {}/<section>/_index.md", content_rel.display())),
            );
            continue;
        }
        let text = match std::fs::read_to_string(&f.path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::new(&file, None, format!("cannot read: {e}")));
                continue;
            }
        };
        let parsed = parse::parse_section_page(&text, &file).and_then(|(front, body, line)| {
            let no_images = |url: &str, line| {
                Err(Diagnostic::new(&file, Some(line), format!("image `{url}` in a section page"))
                    .hint("section pages take text only; put images in articles"))
            };
            let html =
                MARKDOWN.render(&file, body, line, site.unsafe_html, 0, no_images).map_err(|d| d.into_iter().next().expect("an error"))?;
            Ok(model::SectionPage { title: front.title, description: front.description, content: html.html, file: file.clone() })
        });
        match parsed {
            Ok(page) => {
                out.insert(if depth == 0 { String::new() } else { model::section_of(&f.rel) }, page);
            }
            Err(d) => diags.push(d),
        }
    }
    diags.into_result(out)
}

/// Hash a source (reusing the cached record when its stamp is unchanged)
/// and parse it unless the cached metadata belongs to the same bytes.
fn parse_source(
    src: &Source,
    content_rel: &Path,
    cached: Option<SourceRecord>,
    walked_at: std::time::SystemTime,
    tz: chrono_tz::Tz,
) -> Result<(String, SourceRecord), Diagnostic> {
    let file = content_rel.join(&src.rel);
    let cached = match cached {
        Some(c) if c.stamp == src.stamp => return Ok((src.rel.clone(), c)),
        other => other,
    };
    // A file written in the same clock tick as it is read could change again
    // with the same stamp: such a stamp is not kept, so the next build hashes
    // the file again.
    let stamp = if discover::is_recent(&src.stamp, walked_at) { discover::Stamp::default() } else { src.stamp };
    let bytes = std::fs::read(&src.path).map_err(|e| Diagnostic::new(&file, None, format!("cannot read: {e}")))?;
    let hash = discover::hash_bytes(&bytes);
    if let Some(c) = cached.filter(|c| c.hash == hash) {
        return Ok((src.rel.clone(), SourceRecord { stamp, ..c }));
    }
    let text = String::from_utf8(bytes).map_err(|_| Diagnostic::new(&file, None, "is not valid UTF-8").hint("save the file as UTF-8"))?;
    let meta = parse::parse_meta(&text, &file, model::fallback_slug(&src.rel), tz)?;
    Ok((src.rel.clone(), SourceRecord { stamp, hash, meta }))
}

/// What stage 3 hands to stage 4 for one site.
struct Staged {
    /// With `--check`: the site's files and its articles' links.
    links: Option<check::SiteLinks>,
    /// The new state, encoded; `None` for a skipped site (nothing to commit).
    state_bytes: Option<Vec<u8>>,
    publisher: Publisher,
    moves: Vec<String>,
    removes: Vec<String>,
    /// Every output the site has after the commit, checked once all sites
    /// are published.
    expected: Vec<String>,
    /// The new state itself, kept only for [`BuildOptions::memory`].
    state: Option<SiteState>,
    /// The search text cache and its bytes, saved after the commit.
    text_cache: Option<(PathBuf, Vec<u8>)>,
    report: SiteReport,
}

fn render_site(
    opts: &BuildOptions,
    cache_dir: &Path,
    markdown: &Markdown,
    shared_images: Option<&SharedImages>,
    l: Loaded,
) -> Result<Staged, Diagnostics> {
    let Loaded {
        site,
        theme,
        model,
        state,
        sources,
        catalog,
        assets,
        redirects,
        mut report,
        settings,
        asset_images,
        valid_until,
        folders,
        publisher,
        owned,
        sections,
        default_image,
    } = l;
    let root = &opts.root;
    let inputs = SiteInputs {
        site: &site,
        model: &model,
        theme: &theme,
        catalog: &catalog,
        assets: &assets,
        redirects: &redirects,
        sections: &sections,
        default_image: default_image.as_ref().map(|c| c.view.permalink.clone()),
        asset_images,
        now: opts.now,
    };
    let renderer = Renderer::new(inputs, markdown, root, opts.minify);

    let t = Instant::now();
    let jobs = renderer.outputs();
    // `bases` are the input hashes without images; an article's planned
    // input adds the current hashes of the images it published last time.
    let (planned, bases): (Vec<Planned>, Vec<Hash>) = jobs
        .par_iter()
        .map(|j| {
            let path = j.path.clone();
            let base = renderer.input_hash(j);
            let input = match state.deps.get(&path) {
                Some(deps) => render::with_images(base, deps.iter().map(|d| catalog.current_hash(&d.source))),
                None => base,
            };
            (Planned { path, input }, base)
        })
        .unzip();
    // A redirect must not hide anything published: a page's folder, or any
    // file, also with a trailing `/` (servers and the nginx map treat
    // `/feed.xml/` and `/feed.xml` alike).
    let pages: BTreeMap<String, String> = jobs
        .iter()
        .zip(&planned)
        .filter(|(j, _)| j.kind != render::Kind::Stub)
        .flat_map(|(j, p)| {
            let what = j.origin.map(|f| f.display().to_string()).unwrap_or_else(|| format!("the generated file /{}", p.path));
            let folder = p.path.strip_suffix("index.html").filter(|_| j.is_page()).map(|dir| format!("/{dir}"));
            let file = [format!("/{}", p.path), format!("/{}/", p.path)];
            folder.into_iter().chain(file).map(move |k| (k, what.clone()))
        })
        .collect();
    redirects::check_pages(&redirects, &pages)?;
    check_collisions(&jobs, &planned)?;
    let out_dir = publisher.out_dir().to_path_buf();
    let intact = |path: &str, rec: &OutputRecord| std::fs::metadata(out_dir.join(path)).is_ok_and(|m| discover::Stamp::of(&m) == rec.stamp);
    let the_plan = plan::plan(&planned, &state.outputs, intact);
    report.timings_ms.insert("plan", ms(t));

    let t = Instant::now();
    let done = AtomicUsize::new(0);
    let total = the_plan.render.len();
    // Stages `bytes` unless the published file already holds exactly them
    // (then it, and its mtime, are left alone). Returns the record and
    // whether anything was staged.
    let failures = WriteFailures::default();
    let publish = |path: &str, input: Hash, bytes: &[u8]| -> Result<(OutputRecord, bool), Diagnostics> {
        let content = discover::hash_bytes(bytes);
        if let Some(r) = state.outputs.get(path).filter(|r| r.content == content && intact(path, r)) {
            return Ok((OutputRecord { input, ..*r }, false));
        }
        let stamp = publisher.stage(path, bytes).map_err(|e| failures.record(out_dir.join(path), e))?;
        Ok((OutputRecord { input, content, stamp }, true))
    };
    let (deferred, now): (Vec<usize>, Vec<usize>) = the_plan.render.iter().partition(|&&i| jobs[i].is_deferred());
    let results: Vec<Result<Published, Diagnostics>> = now
        .par_iter()
        .map(|&i| {
            let rendered = renderer.render(&jobs[i])?;
            let path = &planned[i].path;
            let input = render::with_images(bases[i], rendered.images.iter().map(|a| a.record.hash));
            let (record, written) = publish(path, input, &rendered.bytes)?;
            if let Some(p) = &opts.progress {
                p(RENDERING, done.fetch_add(1, Ordering::Relaxed) + 1, total);
            }
            let (images, text) = match jobs[i].make {
                Make::Article(a) => (Some(rendered.images), rendered.text.map(|t| (a, t))),
                _ => (None, None),
            };
            let warnings = rendered.warnings;
            Ok(Published { path: path.clone(), record, written, page: jobs[i].is_page(), images, text, warnings })
        })
        .collect();

    let mut diags = Diagnostics::default();
    let mut out = Collected::default();
    let mut deps: BTreeMap<String, Vec<Dep>> = BTreeMap::new();
    let mut texts: HashMap<usize, String> = HashMap::new();
    for &i in &the_plan.keep {
        let path = &planned[i].path;
        out.outputs.insert(path.clone(), state.outputs[path]);
        // A kept search index keeps the files its manifest names.
        if jobs[i].is_deferred() {
            let files = state
                .outputs
                .range::<str, _>((std::ops::Bound::Included(search::index::FILES), std::ops::Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(search::index::FILES));
            out.outputs.extend(files.map(|(k, r)| (k.clone(), *r)));
        }
        if jobs[i].is_page() {
            report.pages_unchanged += 1;
        }
        // A kept article still publishes the images it published last time.
        if let Some(d) = state.deps.get(path) {
            deps.insert(path.clone(), d.clone());
        }
    }
    for r in results {
        let p = match r {
            Ok(p) => p,
            Err(d) => {
                diags.extend(d);
                continue;
            }
        };
        if p.page {
            if p.written {
                report.pages_rendered += 1;
            } else {
                report.pages_unchanged += 1;
            }
        }
        texts.extend(p.text);
        report.warnings.extend(p.warnings);
        if let Some(images) = p.images.filter(|i| !i.is_empty()) {
            deps.insert(p.path.clone(), images.into_iter().map(|a| Dep { source: a.source, rel: a.rel }).collect());
        }
        out.add(p.path, p.record, p.written);
    }
    report.timings_ms.insert("render", ms(t));
    diags.extend(failures.take(&publisher));
    if !diags.is_empty() {
        publisher.discard().ok();
        return Err(diags);
    }

    // The search index, from the texts the article renders just produced
    // and, for the others, the text cache. Its files are named by their
    // content: one already published is kept as it is, without compressing
    // it again.
    let t = Instant::now();
    let mut text_cache = None;
    for &i in &deferred {
        let path = search::TextCache::path(cache_dir, &site.name);
        let chars = renderer.text_chars();
        let cache = search::TextCache::load(&path);
        let all = search::texts(root, &model, chars, std::mem::take(&mut texts), &cache)
            .map_err(|e| Diagnostics::one(Diagnostic::new(&path, None, format!("cannot collect the search texts: {e:#}"))))?;
        let built = renderer.search_index(&all);
        drop(cache);
        let manifest = &planned[i].path;
        let published: Vec<Result<(String, OutputRecord, bool), Diagnostics>> = built
            .files
            .par_iter()
            .map(|(rel, raw)| {
                if rel != manifest
                    && let Some(r) = state.outputs.get(rel).filter(|r| intact(rel, r))
                {
                    return Ok((rel.clone(), *r, false));
                }
                let input = if rel == manifest { planned[i].input } else { discover::hash_bytes(raw) };
                let (record, written) = publish(rel, input, &search::index::published(rel, raw))?;
                Ok((rel.clone(), record, written))
            })
            .collect();
        let published: Vec<(String, OutputRecord, bool)> = diags.keep_ok(published);
        if !diags.is_empty() {
            publisher.discard().ok();
            return Err(Diagnostics(diags.0.into_iter().chain(failures.take(&publisher).0).collect()));
        }
        for (rel, record, written) in published {
            out.add(rel, record, written);
        }
        report.search = Some(SearchReport { shards: built.counts[0], blocks: built.counts[1], documents: all.len() });
        // Saved once the site is published: a failed build leaves it as it was.
        text_cache = Some((path, search::TextCache::of(&model, all, chars).encode()));
    }
    report.timings_ms.insert("search", ms(t));

    // Images: each published once however many articles use it. Originals
    // are linked (or copied) only when not already in place; photos publish
    // their variants instead, from the variant cache or encoded now. The
    // site's own image goes with them, under the path no output has.
    let t = Instant::now();
    if let Some(local) = default_image.as_ref().and_then(|c| c.local.as_ref()) {
        deps.insert(String::new(), vec![Dep { source: local.source.clone(), rel: local.rel.clone() }]);
    }
    // By published path: two files with the same bytes are one image.
    let unique: BTreeMap<&str, &str> = deps.values().flatten().map(|d| (d.rel.as_str(), d.source.as_str())).collect();
    let dest = match (shared_images, &site.images_url) {
        (Some(shared), Some(_)) => {
            shared.built(&site.name);
            Dest::Shared(shared)
        }
        _ => Dest::Site { publisher: &publisher, previous: &state.outputs },
    };
    // The article that shows an image, found only for an error message.
    let origin = |source: &str| {
        let out = deps.iter().find(|(_, ds)| ds.iter().any(|d| d.source == source)).map(|(out, _)| out)?;
        planned.iter().position(|p| &p.path == out).and_then(|i| jobs[i].origin).map(Path::to_path_buf)
    };
    let (published, images) = publish_images(opts, cache_dir, &site, &catalog, unique, dest, &failures, &origin);
    report.images = images;
    let published: Vec<Vec<ImageFile>> = diags.keep_ok(published);
    diags.extend(failures.take(&publisher));
    for (rel, record, written) in published.into_iter().flatten() {
        out.add(rel, record, written);
    }
    report.timings_ms.insert("images", ms(t));
    if !diags.is_empty() {
        publisher.discard().ok();
        return Err(diags);
    }

    let Collected { outputs, moves } = out;
    report.files_written = moves.len();
    let links = opts.check.then(|| site_links(root, &site, &model, &redirects, &outputs, &out_dir)).transpose()?;
    let removes: Vec<String> = owned.iter().flatten().filter(|k| !outputs.contains_key(*k)).cloned().collect();
    // Last, what is on disk: nothing is published unless all of it can be.
    let origin_of: HashMap<&str, usize> = planned.iter().enumerate().map(|(i, p)| (p.path.as_str(), i)).collect();
    for c in publisher.conflicts(&moves, &removes, |rel| owned.as_ref().is_none_or(|o| o.contains(rel))) {
        let rel = c.path.strip_prefix(&out_dir).ok().and_then(Path::to_str).unwrap_or_default();
        let from = origin_of.get(rel).and_then(|&i| jobs[i].origin).map(|f| format!(" ({} is published there)", f.display()));
        diags.push(
            Diagnostic::new(&c.path, None, format!("{}{}", c.why, from.unwrap_or_default()))
                .hint("move or remove it: gen only replaces and deletes files it wrote itself"),
        );
    }
    if !diags.is_empty() {
        publisher.discard().ok();
        return Err(diags);
    }
    let expected: Vec<String> = outputs.keys().cloned().collect();
    report.pages = jobs.iter().filter(|j| j.is_page()).count();
    report.files_removed = removes.len();
    report.changed = moves.iter().chain(&removes).cloned().collect();
    drop(renderer);
    // The full path runs only when some input differs from the saved state
    // (or skipping was not allowed): the state is always written.
    let new_state = SiteState {
        output_dir: state.output_dir.clone(),
        timezone: site.timezone.map(|t| t.name().to_string()).unwrap_or_default(),
        settings,
        valid_until,
        pages: report.pages,
        future: report.future.clone(),
        folders,
        sources: sources.into_iter().collect(),
        outputs,
        deps,
        image_sources: catalog.into_records(),
    };
    let state_bytes = Some(cache::encode(&new_state));
    let state = opts.memory.is_some().then_some(new_state);
    Ok(Staged { links, publisher, moves, removes, expected, state, state_bytes, text_cache, report })
}

/// The images stage: every image (by published path → source) published
/// from the variant cache or encoded now, in parallel, into `dest`.
#[allow(clippy::too_many_arguments)]
fn publish_images(
    opts: &BuildOptions,
    cache_dir: &Path,
    site: &SiteConfig,
    catalog: &Catalog,
    unique: BTreeMap<&str, &str>,
    dest: Dest,
    failures: &WriteFailures,
    origin: &(dyn Fn(&str) -> Option<PathBuf> + Sync),
) -> (Vec<Result<Vec<ImageFile>, Diagnostics>>, ImageReport) {
    let root = &opts.root;
    let store = LocalStore::new(opts.variant_cache.as_ref().map(|v| root.join(v)).unwrap_or_else(|| cache_dir.join(VARIANTS_DIR)));
    let (done, total) = (AtomicUsize::new(0), unique.len());
    let tick = || {
        if let Some(p) = &opts.progress {
            p(ENCODING, done.fetch_add(1, Ordering::Relaxed) + 1, total);
        }
    };
    let mut images = ImageStage::new(root, &site.name, dest, &store, failures, &tick);
    images.hard_links = site.hard_links;
    let published = unique
        .into_par_iter()
        .map(|(_, source)| {
            let image = catalog.address(Path::new(source)).map_err(|e| {
                let d = Diagnostic::new(source, None, format!("cannot read image: {e}"));
                Diagnostics::one(d.hint("the image changed or vanished during the build: build again"))
            })?;
            images.publish(&image, || origin(source))
        })
        .collect();
    (published, images.report())
}

/// What `gen check` needs of a site: its files, redirects and the links of
/// every article, read from the sources (in parallel) for their lines.
fn site_links(
    root: &Path,
    site: &SiteConfig,
    model: &SiteModel,
    redirects: &[Rule],
    outputs: &BTreeMap<String, OutputRecord>,
    out_dir: &Path,
) -> Result<check::SiteLinks, Diagnostics> {
    let base_url = url::Url::parse(&site.base_url)
        .map_err(|e| Diagnostics::one(Diagnostic::new(crate::config::CONFIG_FILE, None, format!("bad base_url: {e}"))))?;
    let pages: Vec<Result<check::PageLinks, Diagnostic>> = model
        .articles
        .par_iter()
        .map(|a| {
            check::PageLinks::read(root, &a.file, &a.path, site.unsafe_html)
                .map_err(|e| Diagnostic::new(&a.file, None, format!("cannot read: {e}")))
        })
        .collect();
    let mut diags = Diagnostics::default();
    let pages = diags.keep_ok(pages);
    diags.into_result(check::SiteLinks {
        site: site.name.clone(),
        base_url,
        out_dir: out_dir.to_path_buf(),
        files: outputs.keys().cloned().collect(),
        redirects: redirects.iter().filter_map(|r| r.plain_from().map(|f| (f.to_string(), r.to.clone()))).collect(),
        pages,
    })
}

/// The site's outputs after this build, and those staged to be published.
#[derive(Default)]
struct Collected {
    outputs: BTreeMap<String, OutputRecord>,
    /// Staged files, moved into place by the commit.
    moves: Vec<String>,
}

impl Collected {
    fn add(&mut self, path: String, record: OutputRecord, staged: bool) {
        if staged {
            self.moves.push(path.clone());
        }
        self.outputs.insert(path, record);
    }
}

/// One file a render produced.
struct Published {
    path: String,
    record: OutputRecord,
    written: bool,
    page: bool,
    /// For an article: the images it publishes.
    images: Option<Vec<Addressed>>,
    /// For an article: its index and search text.
    text: Option<(usize, String)>,
    warnings: Vec<String>,
}

/// Outputs that cannot all be published: two at one path (an article
/// against another page, say), one inside another (`/x.html` and
/// `/x.html/y.html`, an alias `/feed.xml/` beside the feed), or a name no
/// file system takes. Found before anything is staged.
fn check_collisions(jobs: &[Output], planned: &[Planned]) -> Result<(), Diagnostics> {
    let describe = |k: usize| match jobs[k].origin {
        Some(f) => f.display().to_string(),
        None => format!("the generated page /{}", planned[k].path),
    };
    let file_of = |i: usize, j: usize| jobs[i].origin.or(jobs[j].origin).map(Path::to_path_buf).unwrap_or_else(|| "sites.toml".into());
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut diags = Diagnostics::default();
    for (i, p) in planned.iter().enumerate() {
        if let Some(first) = seen.insert(&p.path, i) {
            diags.push(
                Diagnostic::new(file_of(i, first), None, format!("{} and {} both produce /{}", describe(first), describe(i), p.path))
                    .hint("change the article's slug or section so the URLs differ"),
            );
        }
        // `images/` holds content-addressed files, cached for good by
        // `_headers`: a page there would be cached for good too.
        if p.path.starts_with(search::index::DIR) && !jobs[i].is_deferred() {
            diags.push(
                Diagnostic::new(
                    file_of(i, i),
                    None,
                    format!("{} would publish /{}: {} is reserved for the search index", describe(i), p.path, search::index::DIR),
                )
                .hint("move the article to another section or give it another slug"),
            );
        }
        if p.path.starts_with(crate::config::SHARED_IMAGES_PREFIX) && jobs[i].kind != render::Kind::File {
            diags.push(
                Diagnostic::new(file_of(i, i), None, format!("{} would publish /{}: images/ is reserved for images", describe(i), p.path))
                    .hint("move the article to another section or give it another slug"),
            );
        }
        if let Some(name) = crate::write::name_too_long(&p.path) {
            diags.push(
                Diagnostic::new(file_of(i, i), None, format!("{} would publish /{}: a name of {} bytes", describe(i), p.path, name.len()))
                    .hint(format!(
                        "file systems take names of at most {} bytes: shorten the slug, tag or alias",
                        crate::write::MAX_NAME_BYTES
                    )),
            );
        }
    }
    for (i, p) in planned.iter().enumerate() {
        // Every folder on the way to the file must not be a file itself.
        let mut at = 0;
        while let Some(slash) = p.path[at..].find('/') {
            let folder = &p.path[..at + slash];
            if let Some(&other) = seen.get(folder) {
                diags.push(
                    Diagnostic::new(
                        file_of(i, other),
                        None,
                        format!("{} produces /{} inside /{folder}, which {} produces as a file", describe(i), p.path, describe(other)),
                    )
                    .hint("an old path that ends in a file name takes no trailing `/`: change one of the two URLs"),
                );
            }
            at += slash + 1;
        }
    }
    diags.into_result(())
}
