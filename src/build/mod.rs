//! The build, top to bottom:
//!
//! 1. config: `sites.toml`, `content/authors.yaml`, themes;
//! 2. per site: discover sources → parse (or reuse cached metadata) → model;
//!    content errors of every site are collected, and any stops that site
//!    before a single file of it is written (with `--all-or-nothing`, every
//!    site);
//! 3. per site: list the outputs with their input hashes → plan against the
//!    previous state → render what changed, in parallel, into staging;
//! 4. per site: commit (publish staged files, remove stale ones, save state).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;
use serde::Serialize;

use crate::assets::{self};
use crate::cache::{self, SiteState};
use crate::check;
use crate::config::{Config, SiteConfig};
use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::Source;
use crate::images::publish::SharedImages;
use crate::images::remote::Remote;
use crate::images::store::{Cache, LocalStore};
use crate::model::{self, Authors, Filter};
use crate::parse::Markdown;
use crate::search;
use crate::theme::{Theme, Themes};

mod load;
mod site;
use load::{Shared, discover_site, load_site};
use site::{Expected, NewState, SearchSave, Staged, render_site, unchanged_site};

pub use crate::images::publish::{ImageReport, Shard, VARIANTS_DIR};
pub use crate::images::store::RemoteReport;

/// Where `gen export search` writes by default.
pub use crate::search::EXPORT_DIR;

/// One syntax set per process: loading it costs tens of milliseconds, which
/// matters for every rebuild of `gen serve --watch`.
static MARKDOWN: std::sync::LazyLock<Markdown> = std::sync::LazyLock::new(Markdown::default);

/// What one process keeps between its builds (the preview server): each
/// site's last state, which saves decoding it from disk on every rebuild,
/// the parsed themes, reused while their templates are unchanged, the
/// articles of each site's model, reused while their sources are, and the
/// input hashes of its outputs, reused while nothing they show changed. The
/// state is still written to disk (after the publish, on another thread),
/// and read whenever memory has none.
#[derive(Default)]
pub struct Memory {
    pub(crate) states: std::sync::Mutex<HashMap<String, Kept>>,
    themes: std::sync::Mutex<Themes>,
    /// Each site's articles, for [`model::SiteModel::build`] to reuse.
    models: std::sync::Mutex<HashMap<String, model::Earlier>>,
    /// Each site's last input hashes, for the next build to reuse.
    bases: std::sync::Mutex<HashMap<String, crate::render::Bases>>,
    /// Each site's search cache, for its next search build (also saved).
    searches: std::sync::Mutex<HashMap<String, search::SearchCache>>,
    /// States and search caches being saved ([`Memory::save_later`]).
    saving: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// A site's state kept in memory, with its [`cache::Check`]: made on the
/// thread that saves the state, so the next build does not copy every
/// path of the state to make it.
pub(crate) struct Kept {
    pub(crate) check: cache::Check,
    pub(crate) state: SiteState,
}

impl Kept {
    /// Kept as sealed at `ns` ([`crate::discover::Stamp::holds`]).
    fn sealed(mut self, ns: i128) -> Kept {
        self.check.sealed_ns = ns;
        self.state.sealed_ns = ns;
        self
    }
}

impl Memory {
    /// Drops every kept state: the next build reads the saved ones and
    /// checks every file against them. Search caches are kept: each entry
    /// is used only for an article whose key it matches.
    pub fn forget(&self) {
        self.settle();
        self.states.lock().expect("no panics while held").clear();
    }

    /// Drops what is kept of sites `sites.toml` no longer has: a preview
    /// outlives edits of it, and a removed site's state, articles and
    /// search cache stayed in memory until the preview ended.
    fn keep_only(&self, known: &std::collections::HashSet<&str>) {
        fn retain<V>(map: &std::sync::Mutex<HashMap<String, V>>, known: &std::collections::HashSet<&str>) {
            map.lock().expect("no panics while held").retain(|k, _| known.contains(k.as_str()));
        }
        retain(&self.states, known);
        retain(&self.models, known);
        retain(&self.bases, known);
        retain(&self.searches, known);
        self.themes.lock().expect("no panics while held").keep_only(known);
    }

    /// Saves a site's new state at `path` on another thread, and keeps it
    /// once it is saved, sealed after `published_ns`
    /// ([`crate::write::save_state`]). A state that cannot be saved is
    /// not kept: the next build of this process reads the disk, finds no
    /// state, and renders the site afresh. With `check_outputs` (a build
    /// that checked at its end only the files it moved), every output is
    /// checked there too, and a state whose output lost files is not kept:
    /// the next build checks every file and restores them.
    fn save_later(
        self: &Arc<Self>,
        lock: Arc<cache::Lock>,
        site: String,
        path: PathBuf,
        state: SiteState,
        published_ns: i128,
        check_outputs: bool,
    ) {
        let memory = self.clone();
        let saving = std::thread::spawn(move || {
            let _lock = lock;
            let check = cache::Check::of(&state);
            if let Err(e) = crate::write::save_state(&path, &cache::encode_checked(&check, &state), published_ns) {
                eprintln!("warning: {site}: cannot save the build state {}: {e}", path.display());
                return;
            }
            let missing = check_outputs
                .then(|| {
                    let out = crate::discover::Tree::open(&state.output_dir);
                    state.outputs.keys().find(|rel| out.lacks(rel))
                })
                .flatten();
            if let Some(rel) = missing {
                eprintln!(
                    "warning: {site}: {} went missing from the preview's output: the next build restores it",
                    state.output_dir.join(rel).display()
                );
                return;
            }
            let kept = Kept { check, state }.sealed(crate::discover::changed_ns(&path));
            memory.states.lock().expect("no panics while held").insert(site, kept);
        });
        self.saving.lock().expect("no panics while held").push(saving);
    }

    /// Saves a site's search cache at `path` on another thread, then keeps
    /// it for the site's next search build.
    fn keep_search(self: &Arc<Self>, lock: Arc<cache::Lock>, site: String, path: PathBuf, cache: search::SearchCache) {
        let memory = self.clone();
        let saving = std::thread::spawn(move || {
            let _lock = lock;
            save_search_cache(&path, &cache.encode());
            memory.searches.lock().expect("no panics while held").insert(site, cache);
        });
        self.saving.lock().expect("no panics while held").push(saving);
    }

    /// Waits until every state and search cache being saved is saved (and
    /// kept).
    fn settle(&self) {
        let saving = std::mem::take(&mut *self.saving.lock().expect("no panics while held"));
        for s in saving {
            s.join().ok();
        }
    }
}

/// Replaces a site's search cache. Only a cache: losing it costs
/// analysing articles again, so it is replaced atomically but not synced
/// (a 5 MB sync on every build).
fn save_search_cache(path: &Path, bytes: &[u8]) {
    // `<site>.text`, the cache this one replaced, is never read again.
    std::fs::remove_file(path.with_extension("text")).ok();
    crate::write::replace(path, bytes).ok();
}

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
    /// What builds of one process (the preview server) keep between them.
    pub memory: Option<Arc<Memory>>,
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
    /// The preview after an edit: publish the pages first and leave the
    /// search indexes (each site's whose articles changed, and the
    /// network's) as they were, marked stale in the report
    /// ([`SiteReport::search_deferred`]); the next build without it brings
    /// them up to date (the saved state keeps their old input hashes).
    pub defer_search: bool,
    /// The store behind the variant cache (overrides `[cache] remote`).
    pub cache_remote: Option<String>,
    /// Fail when the remote store fails, instead of encoding locally.
    pub cache_remote_required: bool,
    /// Encode and store only this shard's variants, and publish nothing
    /// (`gen build --shard I/N`, one of N machines).
    pub shard: Option<Shard>,
    /// The preview's watcher: the repository-relative paths that changed
    /// since the last build. A site whose state is kept in [`Memory`]
    /// stats only these (and trusts its own output); `None` (the first
    /// build, or events were lost) checks every file.
    pub changed: Option<crate::discover::Changed>,
    /// Publish no site when any fails. By default every site that built
    /// is published and a failing one keeps its previous output
    /// ([`SitesFailed`]): one desk's typo does not hold back the others.
    pub all_or_nothing: bool,
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
            defer_search: false,
            cache_remote: None,
            cache_remote_required: false,
            shard: None,
            changed: None,
            all_or_nothing: false,
        }
    }
}

/// Sites that did not build, after every other site was published: their
/// errors, their names, and the report of what was published.
#[derive(Debug)]
pub struct SitesFailed {
    pub diagnostics: Diagnostics,
    pub failed: Vec<String>,
    pub report: BuildReport,
}

impl std::fmt::Display for SitesFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.diagnostics)?;
        let published: Vec<&str> = self.report.sites.iter().map(|s| s.site.as_str()).collect();
        write!(
            f,
            "{} site{} not published, {} previous output kept: {}",
            self.failed.len(),
            if self.failed.len() == 1 { "" } else { "s" },
            if self.failed.len() == 1 { "its" } else { "their" },
            self.failed.join(", ")
        )?;
        if !published.is_empty() {
            write!(f, "\npublished: {}", published.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for SitesFailed {}

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
    /// With [`BuildOptions::defer_search`]: the search index is out of date.
    #[serde(skip)]
    pub search_deferred: bool,
}

/// What a site's search index is made of (`--json`: `search`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct SearchReport {
    pub documents: usize,
    /// Documents analysed afresh; the others came from the search cache.
    pub analysed: usize,
    pub shards: usize,
    pub blocks: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct BuildReport {
    pub sites: Vec<SiteReport>,
    /// The network search index, when sites have `search_network`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<search::network::NetworkReport>,
    /// With [`BuildOptions::defer_search`]: the network index was not looked at.
    #[serde(skip)]
    pub network_deferred: bool,
    /// The remote variant store, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteReport>,
    /// With `--shard`: which part this build was; it published nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Sites that failed: not published, their previous output kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// About the repository rather than one site (a site taken out of
    /// `sites.toml` that left its output behind).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub total_ms: f64,
    /// With [`BuildOptions::check`]: every configured site's published files
    /// and, for the sites built, their articles' links.
    #[serde(skip)]
    pub links: Vec<check::SiteLinks>,
}

impl BuildReport {
    /// Every warning, the repository's first, each site's named by it, as
    /// `gen build` and the preview print them.
    pub fn warning_lines(&self) -> impl Iterator<Item = String> + '_ {
        let sites = self.sites.iter().flat_map(|s| s.warnings.iter().map(move |w| format!("{}: {w}", s.site)));
        self.warnings.iter().cloned().chain(sites)
    }
}

pub fn build(opts: &BuildOptions) -> anyhow::Result<BuildReport> {
    let started = Instant::now();
    // The last build's states are saved (and their lock released) first.
    if let Some(m) = &opts.memory {
        m.settle();
    }
    let prepared = Prepared::new(opts)?;
    if let Some(m) = &opts.memory {
        m.keep_only(&prepared.config.sites.iter().map(|s| s.name.as_str()).collect());
    }
    let sites = prepared.sites()?;

    // Stages 2 and 3, site by site: everything that can be wrong with the
    // content, then rendering into staging. Nothing is published until every
    // site got through or failed (a failed site publishes nothing); a site
    // is dropped from memory once staged, so the peak is a few sites'
    // worth, not the whole repository's.
    // A shard encodes what every site shows, changed or not.
    let may_skip = !opts.clean && !opts.check && opts.shard.is_none();
    let variants = variant_cache(opts, &prepared)?;
    // The tree of images shared through `images_url`, when any site has one.
    let sharing: Vec<String> = prepared.config.sites.iter().filter(|s| s.images_url.is_some()).map(|s| s.name.clone()).collect();
    // A tree no site shares any more is opened to be retired.
    let shared_images = match sharing.is_empty() && !SharedImages::was_published(&prepared.config.output, &prepared.cache_dir) {
        true => None,
        false => Some(
            SharedImages::open(&prepared.config.output, &prepared.cache_dir)
                .with_context(|| format!("cannot prepare {}", prepared.config.output.join(crate::images::SHARED_IMAGES_DIR).display()))?,
        ),
    };
    let names: Vec<String> = sites.iter().map(|(site, _)| site.name.clone()).collect();
    let results = each_bounded(sites, |(site, theme)| -> Result<Staged, Diagnostics> {
        let shared = prepared.shared();
        let found = discover_site(&shared, site, theme)?;
        // A site whose shared images went missing builds to restore them.
        let images_intact = site.images_url.is_none() || shared_images.as_ref().is_some_and(|s| !s.damaged);
        if may_skip && images_intact && found.unchanged(opts.now, &opts.root) {
            return Ok(unchanged_site(found.skip(opts.memory.is_some())));
        }
        render_site(opts, &prepared.cache_dir, &MARKDOWN, shared_images.as_ref(), &variants, load_site(&shared, found)?)
    });
    let mut diags = Diagnostics::default();
    let mut staged: Vec<Staged> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for (name, result) in names.into_iter().zip(results) {
        match result {
            Ok(s) => staged.push(s),
            Err(d) => {
                diags.extend(d);
                failed.push(name);
            }
        }
    }
    // Sites that share a theme fail on its template once each: said once.
    diags.merge_repeats();
    let discard = |staged: &[Staged]| {
        for s in staged {
            s.publisher.discard().ok();
        }
        if let Some(shared) = &shared_images {
            shared.discard();
        }
    };
    // A shard publishes nothing and `gen check` reports on every site: a
    // failure stops them whole, as it does with `--all-or-nothing`. So
    // does a failure on a shared image another site shows.
    let shared_unsettled = shared_images.as_ref().is_some_and(SharedImages::unsettled);
    if !diags.is_empty() && (staged.is_empty() || opts.all_or_nothing || opts.shard.is_some() || opts.check || shared_unsettled) {
        discard(&staged);
        return Err(diags.into());
    }
    if let Some(why) = variants.required_failure() {
        discard(&staged);
        anyhow::bail!("{why}; nothing was published");
    }
    // A shard's work is in the store: the final build publishes.
    if opts.shard.is_some() {
        discard(&staged);
        std::fs::remove_dir_all(&prepared.config.output).ok();
        let sites = staged.into_iter().map(|s| s.report).collect();
        let remote = variants.report();
        return Ok(BuildReport { sites, remote, shard: opts.shard, total_ms: ms(started), ..Default::default() });
    }
    // New shared images go live before the pages that show them.
    if let Some(Err(d)) = shared_images.as_ref().map(SharedImages::publish_new) {
        for s in &staged {
            s.publisher.discard().ok();
        }
        let mut all = diags;
        all.extend(d);
        return Err(all.into());
    }
    // A later failure still says which sites failed first.
    let with_failed = |e: anyhow::Error| if diags.is_empty() { e } else { anyhow::anyhow!("{diags}\n{e:#}") };

    // Stage 4: publish.
    let mut report = BuildReport { remote: variants.report(), ..Default::default() };
    let mut published = Vec::new();
    for mut s in staged {
        let t = Instant::now();
        let state_path = cache::state_path(&prepared.cache_dir, &s.report.site);
        let (bytes, later) = match s.state {
            NewState::Unchanged(kept) => {
                if let (Some(m), Some(kept)) = (&opts.memory, kept) {
                    // The seal it is kept with tells the next build whether another
                    // process wrote the state (and the output) since.
                    let kept = (*kept).sealed(crate::discover::changed_ns(&state_path));
                    m.states.lock().expect("no panics while held").insert(s.report.site.clone(), kept);
                }
                (None, None)
            }
            NewState::Encoded(bytes) => (Some(bytes), None),
            NewState::Later(state) => (None, Some(*state)),
        };
        if bytes.is_some() || later.is_some() {
            let out = s.publisher.out_dir().display().to_string();
            let done = s.publisher.commit(std::mem::take(&mut s.moves), s.removes, bytes.as_deref());
            let published_ns = done
                .with_context(|| format!("publishing {out} (sites published before it in this build are complete)"))
                .map_err(with_failed)?;
            if let Some(state) = later {
                let m = opts.memory.as_ref().expect("a state saved later is kept in memory");
                let trusted = matches!(s.expected, Expected::Moved(..));
                m.save_later(prepared.lock.clone(), s.report.site.clone(), state_path, state, published_ns, trusted);
            }
            match s.search_cache.take() {
                Some((path, SearchSave::Encoded(bytes))) => save_search_cache(&path, &bytes),
                Some((path, SearchSave::Later(cache))) => {
                    let m = opts.memory.as_ref().expect("a search cache saved later is kept in memory");
                    m.keep_search(prepared.lock.clone(), s.report.site.clone(), path, cache);
                }
                None => {}
            }
        }
        s.report.timings_ms.insert("write", ms(t));
        published.push((s.publisher.out_dir().to_path_buf(), s.expected));
        report.sites.push(s.report);
        report.links.extend(s.links);
    }
    // Shared images no page shows any more go once every site is published
    // (a site that failed still shows what it showed before).
    // A tree being retired stays while a site failed or was not built
    // (`--site`): its old pages may show it.
    let every_site = prepared.config.sites.iter().all(|s| opts.sites.is_empty() || opts.sites.contains(&s.name));
    let retire = failed.is_empty() && every_site;
    if let Some(shared) = shared_images.as_ref().filter(|_| !sharing.is_empty() || retire) {
        shared.forget(&failed);
        shared.finish(&sharing, &prepared.cache_dir).map_err(|d| with_failed(d.into()))?;
        if let (Some(w), Some(first)) = (&shared.warning, report.sites.first_mut()) {
            first.warnings.push(format!("{}: {w}", crate::images::SHARED_IMAGES_DIR));
        }
    }
    report.warnings = left_behind(&prepared.config, &prepared.cache_dir);
    // The network search, from the indexes the sites now publish.
    report.network_deferred = opts.defer_search && prepared.config.network.is_some();
    if let Some(net) = prepared.config.network.as_ref().filter(|_| !opts.defer_search) {
        let sites = prepared.config.sites.iter().map(|s| (s.name.clone(), (s.title.clone(), s.base_url.clone()))).collect();
        let t = Instant::now();
        let mut r = search::network::publish(&prepared.config.output, &prepared.cache_dir, net, &sites, &failed)
            .context("the network search index (sites published before it in this build are complete)")
            .map_err(with_failed)?;
        r.ms = ms(t);
        report.network = Some(r);
    } else if prepared.config.network.is_none() {
        let sites: Vec<String> = prepared.config.sites.iter().map(|s| s.name.clone()).collect();
        search::network::retire(&prepared.config.output, &prepared.cache_dir, &sites, &failed)
            .context("the network search index, switched off (sites published before it in this build are complete)")
            .map_err(with_failed)?;
    }
    // A build must not succeed with files missing: the output folder, or
    // part of it, removed while the build ran. The next build restores them.
    // (A preview that trusts its own output checks the files it moved, and
    // that its folder is still the one the build began with; the rest once
    // it has saved the state, off the edit's path: `Memory::save_later`.)
    for (out, expected) in published {
        let expected = match expected {
            Expected::All(files) => files,
            Expected::Moved(files, folder) => {
                if folder.is_none() || Expected::folder(&out) != folder {
                    return Err(with_failed(anyhow::anyhow!(
                        "{} was removed or replaced during the build: build again to publish it whole",
                        out.display()
                    )));
                }
                files
            }
        };
        let tree = crate::discover::Tree::open(&out);
        let missing: Vec<&String> = expected.par_iter().filter(|rel| tree.lacks(rel)).collect();
        if let Some(first) = missing.first() {
            return Err(with_failed(anyhow::anyhow!(
                "{} published file{} of {} went missing during the build (first: {}): was the output folder changed while gen ran? Build again to restore them",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                out.display(),
                out.join(first).display()
            )));
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
                    rules: vec![],
                    pages: vec![],
                })
            })
            .collect();
        report.links.extend(others);
    }
    report.total_ms = ms(started);
    if !failed.is_empty() {
        report.failed = failed.clone();
        return Err(SitesFailed { diagnostics: diags, failed, report }.into());
    }
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

/// Where a shard renders, in its cache folder.
const SHARD_OUTPUT: &str = "shard-output";

/// The variant cache of a build: `<cache>/variants` (or the preview's
/// `variant_cache`), with the remote store behind it when one is set.
fn variant_cache(opts: &BuildOptions, prepared: &Prepared) -> anyhow::Result<Cache> {
    let local =
        LocalStore::new(opts.variant_cache.as_ref().map(|v| opts.root.join(v)).unwrap_or_else(|| prepared.cache_dir.join(VARIANTS_DIR)));
    let url = opts.cache_remote.as_ref().or(prepared.config.cache_remote.as_ref());
    let remote = url.map(|u| Remote::open(u)).transpose()?;
    anyhow::ensure!(
        remote.is_some() || !opts.cache_remote_required,
        "--cache-remote-required needs a remote: --cache-remote URL or [cache] remote in sites.toml"
    );
    anyhow::ensure!(
        remote.is_some() || opts.shard.is_none(),
        "--shard needs a remote store to put its part in: --cache-remote URL or [cache] remote in sites.toml"
    );
    // A shard's only work is what it puts in the store: without the store
    // it must fail, not end green having uploaded nothing.
    Ok(Cache::new(local, remote, opts.cache_remote_required || opts.shard.is_some()))
}

/// Sites an earlier build published that `sites.toml` no longer has (a
/// state file in the cache folder names each). What they left stays as it
/// was, since a site taken out by mistake must not lose its output; each
/// build says so until it is deleted.
fn left_behind(config: &Config, cache_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(cache_dir) else { return vec![] };
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".state").map(str::to_string))
        // (Not the shared images' or the network search's: no site has their names.)
        .filter(|name| ![crate::images::SHARED_IMAGES_DIR, search::network::STATE_NAME].contains(&name.as_str()))
        .filter(|name| !config.sites.iter().any(|s| s.name == *name))
        .map(|name| {
            format!(
                "site `{name}` is no longer in sites.toml; what it published ({}) and its build state ({}, {}) are left as they were: delete them if the site is gone, or add it back",
                config.output.join(&name).display(),
                cache::state_path(cache_dir, &name).display(),
                search::SearchCache::path(cache_dir, &name).display()
            )
        })
        .collect();
    out.sort();
    out
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
    /// Held until the build's states are saved ([`Memory::save_later`]).
    lock: Arc<cache::Lock>,
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
        // A shard publishes nothing: it renders into a folder of its own
        // cache, removed again, so the output and other builds (shards on
        // one machine) are never touched.
        if opts.shard.is_some() {
            config.output = cache_dir.join(SHARD_OUTPUT);
            std::fs::remove_dir_all(&config.output).ok();
        }
        let authors = load_authors(root)?;
        // `assets/` is shared by every site: walked once (its images are never stat'ed).
        let repo_assets = assets::walk_assets_dir(&root.join("assets"), root)?;
        Ok(Prepared { lock: Arc::new(lock), opts: opts.clone(), config, cache_dir, authors, repo_assets })
    }

    /// The selected sites with their themes, loaded once per theme and
    /// override set (their templates are parsed when a site is built).
    fn sites(&self) -> Result<Vec<SiteWithTheme<'_>>, Diagnostics> {
        let opts = &self.opts;
        let selected = select_sites(&self.config, &opts.sites)?;
        let mut memory = opts.memory.as_ref().map(|m| m.themes.lock().expect("no panics while held"));
        let mut themes = memory.as_mut().map(|m| std::mem::take(&mut **m)).unwrap_or_default();
        let sites = selected.into_iter().map(|s| (s, themes.get(&opts.root, &s.theme, &s.name))).collect();
        if let Some(mut m) = memory {
            *m = themes.next();
        }
        Ok(sites)
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

/// The configured sites `names` asks for (all when empty); an unknown
/// name is an error listing the configured ones.
pub fn select_sites<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c SiteConfig>, Diagnostics> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A site removed from `sites.toml` while a preview ran kept its state,
    /// articles and search cache in memory until the preview ended: the
    /// preview's next build (here, of a repository without that site)
    /// forgets it.
    #[test]
    fn a_removed_site_is_dropped_from_memory() {
        let repo = tempfile::tempdir().unwrap();
        crate::new::init(repo.path(), false).unwrap();
        crate::new::site(repo.path(), "kept", &Default::default(), now()).unwrap();
        let m = Arc::new(Memory::default());
        for name in ["kept", "removed"] {
            m.states.lock().unwrap().insert(name.into(), Kept { check: cache::Check::default(), state: SiteState::default() });
            m.bases.lock().unwrap().insert(name.into(), Default::default());
            m.searches.lock().unwrap().insert(name.into(), Default::default());
            m.models.lock().unwrap().insert(name.into(), Default::default());
        }
        build(&BuildOptions { memory: Some(m.clone()), ..BuildOptions::new(repo.path()) }).unwrap();
        m.settle();
        // (The site built is kept again by threads of its own: only the
        // removed one is certain.)
        assert!(!m.states.lock().unwrap().contains_key("removed"));
        assert!(!m.bases.lock().unwrap().contains_key("removed"));
        assert!(!m.searches.lock().unwrap().contains_key("removed"));
        assert!(!m.models.lock().unwrap().contains_key("removed"));
        assert!(m.states.lock().unwrap().contains_key("kept"), "the built site's state is kept");
    }
}
