//! Stage 3 of a site: plan what changed, render it, index it for search,
//! publish its images, check the result against the disk, and stage it all
//! with the new state for the commit.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use super::load::{Loaded, Unchanged};
use super::{BuildOptions, ENCODING, ImageReport, RENDERING, SearchReport, SiteReport, ms};
use crate::cache::{self, Dep, OutputRecord, SiteState};
use crate::check;
use crate::config::SiteConfig;
use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::{self, Hash};
use crate::images::Addressed;
use crate::images::Catalog;
use crate::images::publish::{Dest, ImageFile, SharedImages, Stage as ImageStage};
use crate::images::store::VariantStore;
use crate::model::SiteModel;
use crate::parse::Markdown;
use crate::plan::{self, Planned};
use crate::redirects::{self, Rule};
use crate::render::{self, Make, Output, Renderer, SiteInputs};
use crate::search;
use crate::write::{Publisher, WriteFailures};

/// What stage 3 hands to stage 4 for one site.
pub(super) struct Staged {
    /// With `--check`: the site's files and its articles' links.
    pub(super) links: Option<check::SiteLinks>,
    pub(super) state: NewState,
    pub(super) publisher: Publisher,
    pub(super) moves: Vec<String>,
    pub(super) removes: Vec<String>,
    /// What is checked once all sites are published.
    pub(super) expected: Expected,
    /// The search cache and where it goes, saved after the commit.
    pub(super) search_cache: Option<(PathBuf, SearchSave)>,
    pub(super) report: SiteReport,
}

/// The files a site must have after the commit.
pub(super) enum Expected {
    /// Every output the site has.
    All(Vec<String>),
    /// A preview trusting its own output: the files this commit moved, in
    /// the output folder that was there when the build began (its inode;
    /// `None` when it was gone already). A folder removed while the build
    /// ran is then noticed without a stat per output.
    Moved(Vec<String>, Option<u64>),
}

impl Expected {
    /// The inode of a site's output folder; `None` when it is not a folder.
    pub(super) fn folder(out: &Path) -> Option<u64> {
        match discover::Tree::open(out).stat("", true)? {
            (stamp, discover::Kind::Dir) => Some(stamp.ino),
            _ => None,
        }
    }
}

/// A skipped site: nothing to stage, nothing to commit.
pub(super) fn unchanged_site(u: Unchanged) -> Staged {
    let Unchanged { state, report, publisher } = u;
    Staged {
        links: None,
        publisher,
        moves: vec![],
        removes: vec![],
        expected: Expected::All(vec![]),
        state: NewState::Unchanged(state.map(Box::new)),
        search_cache: None,
        report,
    }
}

pub(super) fn render_site(
    opts: &BuildOptions,
    cache_dir: &Path,
    markdown: &Markdown,
    shared_images: Option<&SharedImages>,
    store: &dyn VariantStore,
    l: Loaded,
) -> Result<Staged, Diagnostics> {
    let Loaded {
        site,
        theme,
        model,
        model_key,
        mut state,
        sources,
        catalog,
        assets,
        redirects,
        mut report,
        settings,
        asset_images,
        valid_until,
        folders,
        section_pages,
        publisher,
        owned,
        sections,
        default_image,
        trust,
    } = l;
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
    let t = Instant::now();
    let folder = trust.as_ref().map(|_| Expected::folder(publisher.out_dir()));
    let renderer = Renderer::new(inputs, markdown, &opts.root, opts.minify)?;
    let failures = WriteFailures::default();
    let stager = Stager {
        publisher: &publisher,
        previous: &state.outputs,
        // The preview's output is written by the preview alone.
        out: discover::Tree::open(publisher.out_dir()).sealed_at(state.sealed_ns).trusting(trust.map(|_| Default::default())),
        failures: &failures,
    };
    // Whatever fails from here on, nothing staged is left behind
    // (`Stager::settle`).

    // The preview keeps the input hashes for its next build.
    let last = opts.memory.as_ref().map(|m| m.bases.lock().expect("no panics while held").remove(&site.name));
    let planned = stager.settle(plan_site(&renderer, &state, &catalog, &redirects, &stager, opts.defer_search, last))?;
    report.search_deferred = planned.search_deferred;
    report.timings_ms.insert("plan", ms(t));

    let t = Instant::now();
    // The previous image lists are not read again: the kept ones move over.
    let deps = std::mem::take(&mut state.deps);
    let mut rendered = stager.settle(render_planned(opts, &renderer, &planned, &state.outputs, deps, &stager, &mut report))?;
    report.timings_ms.insert("render", ms(t));

    let t = Instant::now();
    let search_cache = match planned.search_index {
        Some(i) => {
            Some(stager.settle(index_search(opts, cache_dir, &renderer, &model, &planned, i, &mut rendered, &stager, &mut report))?)
        }
        None => None,
    };
    report.timings_ms.insert("search", ms(t));

    let t = Instant::now();
    if let Some(local) = default_image.as_ref().and_then(|c| c.local.as_ref()) {
        // The site's own image, under the path no output has.
        rendered.deps.insert(String::new(), vec![Dep { source: local.source.clone(), rel: local.rel.clone() }]);
    }
    let dest = match (shared_images, &site.images_url) {
        (Some(shared), Some(_)) => {
            shared.built(&site.name);
            Dest::Shared(shared)
        }
        _ => Dest::Site { publisher: &publisher, previous: &state.outputs, sealed_ns: state.sealed_ns },
    };
    let (published, images) = site_images(opts, store, &site, &catalog, &rendered.deps, &planned, dest, &failures);
    report.images = images;
    let mut diags = Diagnostics::default();
    let published: Vec<Vec<ImageFile>> = diags.keep_ok(published);
    for (rel, record, written) in published.into_iter().flatten() {
        rendered.out.add(rel, record, written);
    }
    report.timings_ms.insert("images", ms(t));
    stager.settle(diags.into_result(()))?;

    let Collected { outputs, moves } = rendered.out;
    let links =
        stager.settle(opts.check.then(|| site_links(&opts.root, &site, &model, &redirects, &outputs, publisher.out_dir())).transpose())?;
    // (Both in path order: one walk.)
    let mut publishing = KeyWalk::new(outputs.iter());
    let removes: Vec<String> = owned.iter().flatten().filter(|k| publishing.seek(k).is_none()).cloned().collect();
    stager.settle(check_disk(&publisher, &planned, &moves, &removes, owned.as_ref()))?;
    if owned.is_none()
        && let Some(w) = unknown_files(publisher.out_dir(), &outputs)
    {
        report.warnings.push(w);
    }

    report.files_written = moves.len();
    report.pages = planned.jobs.iter().filter(|j| j.is_page()).count();
    report.files_removed = removes.len();
    report.changed = moves.iter().chain(&removes).cloned().collect();
    let expected = match folder {
        Some(folder) => Expected::Moved(moves.clone(), folder),
        None => Expected::All(outputs.keys().cloned().collect()),
    };
    let bases = planned.bases;
    drop(renderer);
    // The full path runs only when some input differs from the saved state
    // (or skipping was not allowed): the state is always written.
    let new_state = SiteState {
        output_dir: state.output_dir.clone(),
        timezone: site.timezone.map(|t| t.name().to_string()).unwrap_or_default(),
        settings,
        // A search index left out of date (`defer_search`) must be made by
        // the next build even when no file changes before it.
        valid_until: if report.search_deferred { Some(i64::MIN) } else { valid_until },
        pages: report.pages,
        future: report.future.clone(),
        folders,
        section_pages,
        sources: sources.into_iter().collect(),
        outputs,
        deps: rendered.deps,
        image_sources: catalog.into_records(),
        // Known once the state file is written (read at the next build).
        sealed_ns: 0,
    };
    let saved = match opts.memory.clone() {
        Some(memory) => {
            // Freeing the last state and keeping the model's articles take
            // milliseconds a preview rebuild would wait for: another thread
            // does it.
            drop(stager);
            memory.bases.lock().expect("no panics while held").insert(site.name.clone(), bases);
            let name = site.name.clone();
            std::thread::spawn(move || {
                drop(state);
                let earlier = model.into_earlier(model_key);
                memory.models.lock().expect("no panics while held").insert(name, earlier);
            });
            NewState::Later(Box::new(new_state))
        }
        None => {
            let t = Instant::now();
            let bytes = cache::encode(&new_state);
            report.timings_ms.insert("state", ms(t));
            NewState::Encoded(bytes)
        }
    };
    Ok(Staged { links, publisher, moves, removes, expected, state: saved, search_cache, report })
}

/// A site's new state, as the commit saves it.
pub(super) enum NewState {
    /// A skipped site: nothing to commit. Its state, when the process keeps them.
    Unchanged(Option<Box<super::Kept>>),
    /// Installed by the commit.
    Encoded(Vec<u8>),
    /// The preview's: saved after the publish, on another thread (encoding
    /// it takes milliseconds the edit would wait for), then kept.
    Later(Box<SiteState>),
}

/// A site's new search cache, as the commit saves it.
pub(super) enum SearchSave {
    Encoded(Vec<u8>),
    /// The preview's: encoded and saved after the publish, on another
    /// thread, and kept for the site's next search build, which then does
    /// not read and decode megabytes of cache to index one edit.
    Later(search::SearchCache),
}

/// Stages an output's bytes unless the published file already holds
/// exactly them (then it, and its mtime, are left alone).
struct Stager<'a> {
    publisher: &'a Publisher,
    /// The previous build's outputs.
    previous: &'a BTreeMap<String, OutputRecord>,
    /// The published folder, for checking that files are intact.
    out: discover::Tree,
    failures: &'a WriteFailures,
}

impl Stager<'_> {
    /// A stage's result with the write failures it had (reported once, with
    /// their count: each failed write gives no diagnostic of its own); on
    /// any error, whatever was staged is dropped.
    fn settle<T>(&self, r: Result<T, Diagnostics>) -> Result<T, Diagnostics> {
        let written = self.failures.take(self.publisher);
        let r = match r {
            Ok(v) if written.is_empty() => Ok(v),
            Ok(_) => Err(written),
            Err(d) => Err(Diagnostics(d.0.into_iter().chain(written.0).collect())),
        };
        if r.is_err() {
            self.publisher.discard().ok();
        }
        r
    }

    /// Whether the published file is still what `rec` describes.
    fn intact(&self, path: &str, rec: &OutputRecord) -> bool {
        self.out.holds(path, &rec.stamp)
    }

    /// The record of `path` and whether anything was staged.
    fn stage(&self, path: &str, input: Hash, bytes: &[u8]) -> Result<(OutputRecord, bool), Diagnostics> {
        let content = discover::hash_bytes(bytes);
        if let Some(r) = self.previous.get(path).filter(|r| r.content == content && self.intact(path, r)) {
            return Ok((OutputRecord { input, ..*r }, false));
        }
        let stamp = self.publisher.stage(path, bytes).map_err(|e| self.failures.record(self.out.root().join(path), e))?;
        Ok((OutputRecord { input, content, stamp }, true))
    }
}

/// What the plan stage hands on: every output with its input hash, and
/// which must be rendered.
struct Planning<'r> {
    jobs: Vec<Output<'r>>,
    planned: Vec<Planned>,
    /// Input hashes without images; an article's planned input adds the
    /// current hashes of the images it published last time.
    bases: render::Bases,
    plan: plan::Plan,
    /// The search index's job, rendered after the articles.
    search_index: Option<usize>,
    /// The search index is out of date but kept as it was (`defer_search`).
    search_deferred: bool,
}

impl Planning<'_> {
    /// The source file an output is made from, for error messages (not a
    /// list page's: the article it names may not be the one meant).
    fn origin(&self, path: &str) -> Option<&Path> {
        let i = self.planned.iter().position(|p| p.path == path)?;
        self.jobs[i].origin.filter(|_| !matches!(self.jobs[i].make, Make::Page(..)))
    }
}

/// Stage 3a: every output and its input hash; redirects and paths checked
/// against each other; what changed since the previous build.
fn plan_site<'r>(
    renderer: &'r Renderer,
    state: &SiteState,
    catalog: &Catalog,
    redirects: &[Rule],
    stager: &Stager,
    defer_search: bool,
    last: Option<Option<render::Bases>>,
) -> Result<Planning<'r>, Diagnostics> {
    let jobs = renderer.outputs();
    let bases = renderer.input_hashes(&jobs, last);
    let planned: Vec<Planned> = jobs
        .par_iter()
        .zip(&bases.bases)
        .map(|(j, &base)| {
            let path = j.path.clone();
            let input = match state.deps.get(&path) {
                Some(deps) => render::with_images(base, deps.iter().map(|d| catalog.current_hash(&d.source))),
                None => base,
            };
            Planned { path, input }
        })
        .collect();
    let by_path: rustc_hash::FxHashMap<&str, usize> =
        planned.iter().enumerate().filter(|(i, _)| jobs[*i].kind != render::Kind::Stub).map(|(i, p)| (p.path.as_str(), i)).collect();
    redirects::check_pages(redirects, &|path| by_path.get(path).map(|&i| (jobs[i].describe(), jobs[i].is_page())))?;
    check_collisions(&jobs, &planned)?;
    let mut plan = plan::plan(&planned, &state.outputs, |path, rec| stager.intact(path, rec));
    // A kept search index stands while every file of it is in place: one
    // deleted or damaged in the output has the index made again.
    if let Some(at) = plan.keep.iter().position(|&i| jobs[i].is_deferred())
        && !search_files(&state.outputs).collect::<Vec<_>>().par_iter().all(|(k, r)| stager.intact(k, r))
    {
        plan.render.push(plan.keep.remove(at));
    }
    let mut search_index = plan.render.iter().copied().find(|&i| jobs[i].is_deferred());
    // Deferred, a published index stays as it is, under its old input hash,
    // which the next build finds changed (or a file of it damaged, as
    // above). One never published is made now.
    let search_deferred = defer_search
        && search_index.is_some_and(|i| state.outputs.get(&planned[i].path).is_some_and(|r| stager.intact(&planned[i].path, r)));
    if let Some(i) = search_index.filter(|_| search_deferred) {
        plan.render.retain(|&j| j != i);
        plan.keep.push(i);
        search_index = None;
    }
    Ok(Planning { jobs, planned, bases, plan, search_index, search_deferred })
}

/// The records of a site's search files (shards and blocks).
fn search_files(outputs: &BTreeMap<String, OutputRecord>) -> impl Iterator<Item = (&String, &OutputRecord)> {
    let from = (std::ops::Bound::Included(search::index::FILES), std::ops::Bound::Unbounded);
    outputs.range::<str, _>(from).take_while(|(k, _)| k.starts_with(search::index::FILES))
}

/// What the render stage hands on.
struct RenderedSite {
    out: Collected,
    /// Article output path → the images it publishes.
    deps: BTreeMap<String, Vec<Dep>>,
    /// The search texts of the articles rendered (by article index).
    texts: HashMap<usize, String>,
}

/// Stage 3b: renders what the plan says, in parallel, into staging; what
/// it keeps is carried over from the previous state.
fn render_planned(
    opts: &BuildOptions,
    renderer: &Renderer,
    planning: &Planning,
    previous: &BTreeMap<String, OutputRecord>,
    deps: BTreeMap<String, Vec<Dep>>,
    stager: &Stager,
    report: &mut SiteReport,
) -> Result<RenderedSite, Diagnostics> {
    let Planning { jobs, planned, bases, plan, .. } = planning;
    let done = AtomicUsize::new(0);
    let total = plan.render.len();
    let results: Vec<Result<Published, Diagnostics>> = plan
        .render
        .par_iter()
        .filter(|&&i| !jobs[i].is_deferred())
        .map(|&i| {
            let rendered = renderer.render(&jobs[i])?;
            let path = &planned[i].path;
            let input = render::with_images(bases.bases[i], rendered.images.iter().map(|a| a.record.hash));
            let (record, written) = stager.stage(path, input, &rendered.bytes)?;
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

    // What is kept is carried over in path order, in one walk over the
    // previous records and image lists: a preview keeps thousands of
    // outputs per edit, and a lookup and an insert for each cost more than
    // the render. The maps are then built from those sorted lists at once.
    let mut kept: Vec<&str> = plan.keep.iter().map(|&i| planned[i].path.as_str()).collect();
    kept.sort_unstable();
    let mut outputs: Vec<(String, OutputRecord)> = Vec::with_capacity(kept.len());
    let mut image_lists: Vec<(String, Vec<Dep>)> = Vec::new();
    let (mut records, mut lists) = (KeyWalk::new(previous.iter()), KeyWalk::new(deps.into_iter()));
    for path in kept {
        let (k, r) = records.seek(path).expect("the plan keeps only outputs it has a record of");
        outputs.push((k.clone(), *r));
        // A kept article still publishes the images it published last time.
        image_lists.extend(lists.seek(path));
    }
    for &i in &plan.keep {
        // A kept search index keeps the files its manifest names.
        if jobs[i].is_deferred() {
            outputs.extend(search_files(previous).map(|(k, r)| (k.clone(), *r)));
        }
        if jobs[i].is_page() {
            report.pages_unchanged += 1;
        }
    }
    let mut out = RenderedSite {
        out: Collected { outputs: outputs.into_iter().collect(), moves: vec![] },
        deps: image_lists.into_iter().collect(),
        texts: HashMap::new(),
    };
    let mut diags = Diagnostics::default();
    let results: Vec<Published> = diags.keep_ok(results);
    for p in results {
        if p.page {
            if p.written {
                report.pages_rendered += 1;
            } else {
                report.pages_unchanged += 1;
            }
        }
        out.texts.extend(p.text);
        report.warnings.extend(p.warnings);
        if let Some(images) = p.images.filter(|i| !i.is_empty()) {
            out.deps.insert(p.path.clone(), images.into_iter().map(|a| Dep { source: a.source, rel: a.rel }).collect());
        }
        out.out.add(p.path, p.record, p.written);
    }
    diags.into_result(out)
}

/// A walk over a map's entries in key order, finding keys asked for in
/// ascending order with one pass instead of one lookup each.
struct KeyWalk<I: Iterator>(std::iter::Peekable<I>);

impl<K: AsRef<str>, V, I: Iterator<Item = (K, V)>> KeyWalk<I> {
    fn new(entries: I) -> Self {
        KeyWalk(entries.peekable())
    }

    /// The entry of `key`, if there is one; keys before it are passed over
    /// for good, so each key asked for must not be less than the last.
    fn seek(&mut self, key: &str) -> Option<(K, V)> {
        while self.0.next_if(|(k, _)| k.as_ref() < key).is_some() {}
        self.0.next_if(|(k, _)| k.as_ref() == key)
    }
}

/// Stage 3c: the search index, from the texts the article renders just
/// produced and, for the others, the text cache. Its files are named by
/// their content: one already published is kept as it is, without
/// compressing it again. Returns the search cache to save after the commit.
#[allow(clippy::too_many_arguments)]
fn index_search(
    opts: &BuildOptions,
    cache_dir: &Path,
    renderer: &Renderer,
    model: &SiteModel,
    planning: &Planning,
    i: usize,
    rendered: &mut RenderedSite,
    stager: &Stager,
    report: &mut SiteReport,
) -> Result<(PathBuf, SearchSave), Diagnostics> {
    let path = search::SearchCache::path(cache_dir, &renderer.site.name);
    let kept = opts.memory.as_ref().and_then(|m| m.searches.lock().expect("no panics while held").remove(&renderer.site.name));
    let cache = kept.unwrap_or_else(|| search::SearchCache::load(&path));
    let search::SiteIndex { built, cache, analysed } = renderer
        .search_index(std::mem::take(&mut rendered.texts), cache)
        .map_err(|e| Diagnostics::one(Diagnostic::new(&path, None, format!("cannot collect the search texts: {e:#}"))))?;
    let manifest = &planning.planned[i].path;
    let published: Vec<Result<(String, OutputRecord, bool), Diagnostics>> = built
        .files
        .par_iter()
        .map(|(rel, raw)| {
            if rel != manifest
                && let Some(r) = stager.previous.get(rel).filter(|r| stager.intact(rel, r))
            {
                return Ok((rel.clone(), *r, false));
            }
            let input = if rel == manifest { planning.planned[i].input } else { discover::hash_bytes(raw) };
            let (record, written) = stager.stage(rel, input, &search::index::published(rel, raw))?;
            Ok((rel.clone(), record, written))
        })
        .collect();
    let mut diags = Diagnostics::default();
    let published: Vec<(String, OutputRecord, bool)> = diags.keep_ok(published);
    for (rel, record, written) in published {
        rendered.out.add(rel, record, written);
    }
    diags.into_result(())?;
    report.search = Some(SearchReport { shards: built.counts[0], blocks: built.counts[1], documents: model.articles.len(), analysed });
    let save = if opts.memory.is_some() { SearchSave::Later(cache) } else { SearchSave::Encoded(cache.encode()) };
    Ok((path, save))
}

/// Stage 3d: the images the articles use, each published once however many
/// articles show it (two files with the same bytes are one image).
#[allow(clippy::too_many_arguments)]
fn site_images(
    opts: &BuildOptions,
    store: &dyn VariantStore,
    site: &SiteConfig,
    catalog: &Catalog,
    deps: &BTreeMap<String, Vec<Dep>>,
    planning: &Planning,
    dest: Dest,
    failures: &WriteFailures,
) -> (Vec<Result<Vec<ImageFile>, Diagnostics>>, ImageReport) {
    let unique: BTreeMap<&str, &str> = deps.values().flatten().map(|d| (d.rel.as_str(), d.source.as_str())).collect();
    // The article that shows an image, found only for an error message.
    let origin = |source: &str| {
        let mut showing = deps.iter().filter(|(_, ds)| ds.iter().any(|d| d.source == source));
        showing.find_map(|(out, _)| planning.origin(out)).map(Path::to_path_buf)
    };
    publish_images(opts, store, site, catalog, unique, dest, failures, &origin)
}

/// With no build state (a new cache folder beside an old output), gen
/// cannot tell its own stale files from anyone else's, so it removes none:
/// the files of the output folder this build did not produce, said once.
fn unknown_files(out: &Path, outputs: &BTreeMap<String, OutputRecord>) -> Option<String> {
    let mut unknown = walkdir::WalkDir::new(out)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .filter_map(|e| e.path().strip_prefix(out).ok().map(|p| p.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/")))
        .filter(|rel| !outputs.contains_key(rel));
    let first = unknown.next()?;
    let n = 1 + unknown.count();
    Some(format!(
        "{} had no build state (a new or emptied cache folder): {n} file{} there this build did not produce {} left as {} (first: {first}); delete {} and build again to publish exactly this build",
        out.display(),
        if n == 1 { "" } else { "s" },
        if n == 1 { "is" } else { "are" },
        if n == 1 { "it is" } else { "they are" },
        out.display()
    ))
}

/// Stage 3e, last, what is on disk: nothing is published unless all of it
/// can be (no file gen did not write is overwritten, no link followed).
fn check_disk(
    publisher: &Publisher,
    planning: &Planning,
    moves: &[String],
    removes: &[String],
    owned: Option<&std::collections::BTreeSet<String>>,
) -> Result<(), Diagnostics> {
    let out_dir = publisher.out_dir();
    let mut diags = Diagnostics::default();
    for c in publisher.conflicts(moves, removes, |rel| owned.is_none_or(|o| o.contains(rel))) {
        let rel = c.path.strip_prefix(out_dir).ok().and_then(Path::to_str).unwrap_or_default();
        let from = planning.jobs.iter().find(|j| j.path == rel).map(|j| format!(" ({} is published there)", j.describe()));
        diags.push(
            Diagnostic::new(&c.path, None, format!("{}{}", c.why, from.unwrap_or_default()))
                .hint("move or remove it: gen only replaces and deletes files it wrote itself"),
        );
    }
    diags.into_result(())
}

/// The images stage: every image (by published path → source) published
/// from the variant cache or encoded now, in parallel, into `dest`.
#[allow(clippy::too_many_arguments)]
pub(super) fn publish_images(
    opts: &BuildOptions,
    store: &dyn VariantStore,
    site: &SiteConfig,
    catalog: &Catalog,
    unique: BTreeMap<&str, &str>,
    dest: Dest,
    failures: &WriteFailures,
    origin: &(dyn Fn(&str) -> Option<PathBuf> + Sync),
) -> (Vec<Result<Vec<ImageFile>, Diagnostics>>, ImageReport) {
    let root = &opts.root;
    let (done, total) = (AtomicUsize::new(0), unique.len());
    let tick = || {
        if let Some(p) = &opts.progress {
            p(ENCODING, done.fetch_add(1, Ordering::Relaxed) + 1, total);
        }
    };
    let mut images = ImageStage::new(root, &site.name, dest, store, failures, &tick);
    images.hard_links = site.hard_links;
    images.shard = opts.shard;
    let addressed: Vec<(&str, Result<_, Diagnostics>)> = unique
        .into_par_iter()
        .map(|(_, source)| {
            let image = catalog.address(Path::new(source)).map_err(|e| {
                let d = Diagnostic::new(source, None, format!("cannot read image: {e}"));
                Diagnostics::one(d.hint("the image changed or vanished during the build: build again"))
            });
            (source, image)
        })
        .collect();
    images.prefetch(addressed.iter().filter_map(|(_, a)| a.as_ref().ok()));
    let published = addressed.into_par_iter().map(|(source, image)| images.publish(&image?, || origin(source))).collect();
    (published, images.report())
}

/// What `gen check` needs of a site: its files, redirects and the links of
/// every article, read from the sources (in parallel) for their lines.
pub(super) fn site_links(
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
        // (Old image URLs of a site with `images_url` lead to the images host.)
        rules: redirects
            .iter()
            .filter(|r| !(r.reason == "image" && site.images_url.is_some()))
            .map(|r| check::RedirectLink { from: r.from.clone(), to: r.to.clone(), file: r.origin.file.clone(), line: r.origin.line })
            .collect(),
        pages,
    })
}

/// The site's outputs after this build, and those staged to be published.
#[derive(Default)]
pub(super) struct Collected {
    pub(super) outputs: BTreeMap<String, OutputRecord>,
    /// Staged files, moved into place by the commit.
    pub(super) moves: Vec<String>,
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
pub(super) struct Published {
    pub(super) path: String,
    pub(super) record: OutputRecord,
    pub(super) written: bool,
    pub(super) page: bool,
    /// For an article: the images it publishes.
    pub(super) images: Option<Vec<Addressed>>,
    /// For an article: its index and search text.
    pub(super) text: Option<(usize, String)>,
    pub(super) warnings: Vec<String>,
}

/// Outputs that cannot all be published: two at one path (an article
/// against another page, say), one inside another (`/x.html` and
/// `/x.html/y.html`, an alias `/feed.xml/` beside the feed), or a name no
/// file system takes. Found before anything is staged.
pub(super) fn check_collisions(jobs: &[Output], planned: &[Planned]) -> Result<(), Diagnostics> {
    let describe = |k: usize| jobs[k].describe();
    let file_of = |i: usize, j: usize| jobs[i].origin.or(jobs[j].origin).map(Path::to_path_buf).unwrap_or_else(|| "sites.toml".into());
    let mut seen: rustc_hash::FxHashMap<&str, usize> = Default::default();
    let mut diags = Diagnostics::default();
    for (i, p) in planned.iter().enumerate() {
        if let Some(first) = seen.insert(&p.path, i) {
            // Named first, and blamed: the one a writer would change (an
            // article or page before a list page or a file gen makes).
            let rank = |k: usize| match jobs[k].make {
                Make::Article(_) => 0,
                _ if jobs[k].kind == render::Kind::Stub => 1,
                _ => 2,
            };
            let (mine, other) = if rank(i) < rank(first) { (i, first) } else { (first, i) };
            let hint = match (&jobs[mine].make, &jobs[other].make) {
                (Make::Article(_), Make::Article(_)) => "change the article's slug or section so the URLs differ",
                (Make::Article(_), Make::Page("section.html", _)) => {
                    "the list page keeps its URL: give the page or article another `slug`; a section's own text goes in its `_index.md`"
                }
                (Make::Article(_), _) => "gen publishes a file at that URL: give the page or article another `slug`",
                _ => "change one of the two URLs",
            };
            diags.push(
                Diagnostic::new(file_of(mine, other), None, format!("{} and {} both produce /{}", describe(mine), describe(other), p.path))
                    .hint(hint),
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
        if p.path.starts_with(crate::images::SHARED_IMAGES_PREFIX) && jobs[i].kind != render::Kind::File {
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
