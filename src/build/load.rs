//! Stage 2 of a site: what it is made of (discover), whether anything
//! changed since the last build, and its sources parsed into the model.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;

use super::{BuildOptions, MARKDOWN, SiteReport, ms};
use crate::assets::{self, Assets};
use crate::cache::{self, Check, SiteState, SourceRecord};
use crate::config::{Config, SiteConfig};
use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::{self, Hash, Source};
use crate::images::{self, Catalog, ImageView};
use crate::model::{self, Aliased, ArticleImages, Authors, Cover, Filter, Parsed, SiteModel};
use crate::parse::{self};
use crate::redirects::{self, Rule};
use crate::render::{self};
use crate::theme::Theme;
use crate::write::Publisher;

/// What stage 2 hands to stage 3 for one site.
pub(super) struct Loaded {
    pub(super) site: SiteConfig,
    pub(super) theme: Arc<Theme>,
    pub(super) model: SiteModel,
    /// What the model's articles were made with ([`model::made_with`]).
    pub(super) model_key: Hash,
    pub(super) state: SiteState,
    pub(super) sources: BTreeMap<String, SourceRecord>,
    pub(super) catalog: Catalog,
    pub(super) assets: Assets,
    pub(super) redirects: Vec<Rule>,
    pub(super) report: SiteReport,
    pub(super) settings: Hash,
    pub(super) asset_images: Hash,
    pub(super) valid_until: Option<i64>,
    pub(super) folders: Vec<discover::Folder>,
    pub(super) section_pages: Vec<String>,
    pub(super) publisher: Publisher,
    /// What earlier builds published, from the saved state (also with
    /// `--clean`); `None` when there is none: files found are taken as gen's.
    pub(super) owned: Option<BTreeSet<String>>,
    pub(super) sections: BTreeMap<String, model::SectionPage>,
    /// `default_image`: a web URL as written, or a local image, published.
    pub(super) default_image: Option<Cover>,
    /// [`Discovered::trust`].
    pub(super) trust: Option<discover::Changed>,
}

/// What every site's loading shares.
pub(super) struct Shared<'a> {
    pub(super) opts: &'a BuildOptions,
    pub(super) config: &'a Config,
    pub(super) cache_dir: &'a Path,
    pub(super) authors: &'a Authors,
    pub(super) filter: Filter,
    pub(super) repo_assets: &'a [Source],
}

/// A site every input of which is as the last build left it: nothing to do.
pub(super) struct Unchanged {
    /// Its state, when it is kept in memory.
    pub(super) state: Option<super::Kept>,
    pub(super) report: SiteReport,
    pub(super) publisher: Publisher,
}

/// Stage 2a: what a site is made of, found without reading any article:
/// its previous state, its sources and their stamps, theme, assets and
/// settings. Enough to tell whether the site changed at all.
pub(super) struct Discovered<'s> {
    pub(super) site: &'s SiteConfig,
    /// What the last build left, as far as the skip check needs it.
    pub(super) check: Check,
    /// The rest of the last state, decoded if the site is built.
    pub(super) last: Option<Last>,
    pub(super) report: SiteReport,
    pub(super) diags: Diagnostics,
    pub(super) theme: Result<Arc<Theme>, ()>,
    pub(super) assets: Result<Assets, ()>,
    pub(super) settings: Hash,
    pub(super) asset_images: Hash,
    pub(super) sources: Vec<Source>,
    pub(super) folders: Vec<discover::Folder>,
    pub(super) section_pages: Vec<String>,
    pub(super) sections: BTreeMap<String, model::SectionPage>,
    pub(super) publisher: Publisher,
    pub(super) owned: Option<BTreeSet<String>>,
    /// The state cannot be trusted for skipping (`--clean`, a dropped journal).
    pub(super) fresh: bool,
    pub(super) walked_at: std::time::SystemTime,
    /// What may have changed since a state kept in memory
    /// ([`BuildOptions::changed`]); `None`: check every file.
    pub(super) trust: Option<discover::Changed>,
}

impl Discovered<'_> {
    /// Every input is as the last build left it: the site can be skipped.
    pub(super) fn unchanged(&self, now: DateTime<FixedOffset>, root: &Path) -> bool {
        !self.fresh
            && self.diags.is_empty()
            && unchanged(&self.check, self.settings, &self.sources, root, &content_key(self.site), now, self.trust.as_ref())
    }

    /// `keep`: the state is wanted in memory.
    pub(super) fn skip(self, keep: bool) -> Unchanged {
        let Discovered { mut report, check, last, publisher, .. } = self;
        report.pages = check.pages;
        report.pages_unchanged = check.pages;
        report.future = check.future.clone();
        let state = last.filter(|_| keep).and_then(|l| l.state(&mut report)).map(|state| super::Kept { check, state });
        Unchanged { state, report, publisher }
    }
}

/// A site's last state beyond its [`Check`]: in memory from the preview's
/// last build, or read from disk and not decoded yet.
pub(super) enum Last {
    Kept(SiteState),
    Saved(cache::Saved),
}

impl Last {
    /// The state; `None` (with a warning) when it does not decode.
    fn state(self, report: &mut SiteReport) -> Option<SiteState> {
        match self {
            Last::Kept(s) => Some(s),
            Last::Saved(s) => s.state().map_err(|e| report.warnings.push(format!("cache ignored: {e}"))).ok(),
        }
    }
}

pub(super) fn discover_site<'s>(
    shared: &Shared,
    site: &'s SiteConfig,
    theme: Result<Arc<Theme>, Diagnostics>,
) -> Result<Discovered<'s>, Diagnostics> {
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
    let remembered = opts.memory.as_ref().and_then(|m| m.states.lock().expect("no panics while held").remove(&site.name));
    let previous = match remembered.filter(|k| k.state.output_dir == out_dir) {
        Some(super::Kept { check, state }) => Some((check, Last::Kept(state))),
        None => match cache::load_saved(&cache::state_path(cache_dir, &site.name)) {
            Ok(Some(mut s)) if s.check.output_dir == out_dir => Some((std::mem::take(&mut s.check), Last::Saved(s))),
            Ok(_) => None,
            Err(e) => {
                report.warnings.push(format!("cache ignored: {e}"));
                None
            }
        },
    };
    // A journal that could not be replayed left the output half-published:
    // render everything, as `--clean` does, and own what it published.
    let fresh = opts.clean || recovery.is_some();
    let owned = match &previous {
        Some((check, _)) => {
            let moved = recovery.iter().flat_map(|r| r.moved.iter().cloned());
            Some(check.outputs.iter().map(|(rel, _)| rel.clone()).chain(moved).collect::<BTreeSet<String>>())
        }
        // The preview's output folder is its own: without a state (none
        // saved yet, or the preview stopped before it saved one) every file
        // in it is owned, so whatever this build does not publish goes.
        None if opts.memory.is_some() => Some(files_in(&out_dir)),
        None => None,
    };
    if let Some(r) = recovery {
        report.warnings.push(r.warning);
    }
    let (mut check, last) = previous.filter(|_| !fresh).map_or_else(|| (Check::default(), None), |(c, l)| (c, Some(l)));
    check.output_dir = out_dir;
    // Every file the last build published was renamed into place before
    // its state file was: that file's ctime seals the stamps (of a state
    // read, the file read: `load_saved` took it; of a state kept in memory,
    // the file it was written to as well).
    check.sealed_ns = match &last {
        Some(Last::Saved(_)) => check.sealed_ns,
        Some(Last::Kept(_)) => discover::changed_ns(&cache::state_path(cache_dir, &site.name)),
        None => 0,
    };
    report.timings_ms.insert("cache", ms(t));

    let t = Instant::now();
    let walked_at = std::time::SystemTime::now();
    let content_rel = Path::new("content").join(&site.name);
    let content_dir = root.join(&content_rel);
    let mut diags = Diagnostics::default();
    let is_article = |rel: &str| rel.ends_with(".md") && !rel.starts_with("assets/");
    let known: Vec<&str> = check.sources.keys().chain(&check.section_pages).map(String::as_str).collect();
    // A state kept in memory, with the watcher's word on what changed since:
    // only the sources it names are stat'ed, unless it names anything else
    // under the site (a new file, a folder moved, an image), when the known
    // folders are checked as usual and walked if they changed.
    // (Only while the state file is the one this process sealed: a second
    // preview of the same repository shares its folders.)
    let ours = matches!(&last, Some(Last::Kept(s)) if s.sealed_ns != 0 && s.sealed_ns == check.sealed_ns);
    // (And only while its output folder is there: a folder removed as a
    // whole is published anew, with every file, not only those changed.)
    let trust = opts.changed.clone().filter(|_| ours && check.output_dir.is_dir());
    let quick = trust.as_ref().and_then(|changed| {
        let prefix = format!("{}/", content_rel.to_string_lossy().replace('\\', "/"));
        let named: std::collections::HashSet<&str> = changed.iter().filter_map(|p| p.strip_prefix(&prefix)).collect();
        let known = |rel: &str| check.sources.contains_key(rel) || check.section_pages.iter().any(|s| s == rel);
        // The site's folder itself, or `content/`, replaced: nothing in it is named.
        let replaced = changed.iter().any(|p| prefix.starts_with(&format!("{p}/")));
        (!check.folders.is_empty() && !replaced && named.iter().all(|rel| known(rel))).then_some(named)
    });
    let restated = match &quick {
        Some(named) => discover::restat_named(&content_dir, &check.sources, &check.section_pages, named),
        None => discover::restat(&content_dir, &check.folders, &known),
    };
    let (sources, folders) = match restated {
        Some(sources) => (sources, check.folders.clone()),
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
    let section_pages = section_files.iter().map(|s| s.rel.clone()).collect();
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
    let asset_images = crate::digest::of(&image_settings);
    let settings = match (&theme, &assets) {
        (Ok(theme), Ok(assets)) => settings_hash(opts, site, theme, assets, authors, &sections, asset_images),
        _ => [0; 32],
    };
    Ok(Discovered {
        site,
        check,
        last,
        report,
        diags,
        theme,
        assets,
        settings,
        asset_images,
        sources,
        folders,
        section_pages,
        sections,
        publisher,
        owned,
        fresh,
        walked_at,
        trust,
    })
}

/// Stage 2b: parse (or reuse) every source, resolve images, build the model
/// and the redirects. Every content error of the site is collected.
pub(super) fn load_site(shared: &Shared, d: Discovered) -> Result<Loaded, Diagnostics> {
    let Shared { opts, authors, filter, .. } = *shared;
    let root = &opts.root;
    let Discovered {
        site,
        check,
        last,
        mut report,
        mut diags,
        theme,
        assets,
        settings,
        asset_images,
        sources,
        folders,
        section_pages,
        sections,
        publisher,
        owned,
        walked_at,
        trust,
        ..
    } = d;
    let content_rel = Path::new("content").join(&site.name);
    // The templates of a site that is built (never of one skipped) are
    // parsed here, so that one that does not parse is reported with the
    // content's errors.
    if let Ok(Err(e)) = theme.as_ref().map(|t| t.tera()) {
        diags.extend(e);
    }
    let t = Instant::now();
    let mut state = last.and_then(|l| l.state(&mut report)).unwrap_or_default();
    state.output_dir = check.output_dir;
    state.sealed_ns = check.sealed_ns;
    // Parsed dates depend on the time zone: another one parses again.
    if check.timezone != site.timezone.map(|t| t.name().to_string()).unwrap_or_default() {
        state.sources.clear();
    }
    *report.timings_ms.entry("cache").or_default() += ms(t);
    let t = Instant::now();
    // Cached records move into the new state rather than being copied.
    let cached: Vec<Option<SourceRecord>> = sources.iter().map(|s| state.sources.remove(&s.rel)).collect();
    let results: Vec<Result<(String, SourceRecord), Diagnostic>> = sources
        .par_iter()
        .zip(cached)
        .map(|(src, cached)| parse_source(src, &content_rel, cached, walked_at, state.sealed_ns, site.timezone.unwrap_or(chrono_tz::UTC)))
        .collect();
    let records: BTreeMap<String, SourceRecord> = diags.keep_ok(results);
    report.timings_ms.insert("parse", ms(t));

    let t = Instant::now();
    let catalog = Catalog::new(
        root,
        &content_key(site),
        site.image_shards,
        site.images.clone(),
        std::mem::take(&mut state.image_sources),
        state.sealed_ns,
    )
    .trusting(trust.clone());
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
    let parsed = records.iter().map(|(rel, r)| Parsed { rel, hash: r.hash, meta: &r.meta }).collect();
    let model_key = model::made_with(site, authors);
    let earlier = opts.memory.as_ref().and_then(|m| m.models.lock().expect("no panics while held").remove(&site.name));
    let earlier = earlier.map(|e| e.made_with(model_key)).unwrap_or_default();
    let model = SiteModel::build(site, &content_rel, parsed, authors, filter, &images, earlier);
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
            model_key,
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
            section_pages,
            publisher,
            owned,
            sections,
            default_image,
            trust,
        }),
        _ => Err(diags),
    }
}

/// Everything a site's output depends on besides its sources and images.
pub(super) fn settings_hash(
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
    crate::digest::feed(&mut h, &(site, authors, sections));
    h.update(&asset_images);
    h.update(&theme.hash());
    h.update(&assets.hash);
    for a in &assets.files {
        h.update(&a.hash);
    }
    *h.finalize().as_bytes()
}

/// Every file below `dir`, as `/`-separated relative paths.
fn files_in(dir: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .filter_map(|e| e.path().strip_prefix(dir).ok().map(|rel| rel.to_string_lossy().replace('\\', "/")))
        .collect()
}

/// The site's content folder as image records name it (repo-relative, `/`).
fn content_key(site: &SiteConfig) -> String {
    format!("content/{}", site.name)
}

/// Whether the last build's output still stands: same settings, the same
/// sources and image sources with the same stamps (the shortcut every
/// build takes for a single file, here for all at once), no date passed that
/// changes what is published, and every output in place.
pub(super) fn unchanged(
    check: &Check,
    settings: Hash,
    sources: &[Source],
    root: &Path,
    content: &str,
    now: DateTime<FixedOffset>,
    trust: Option<&discover::Changed>,
) -> bool {
    check.settings == settings
        && check.valid_until.is_none_or(|t| now.timestamp() < t)
        && sources.len() == check.sources.len()
        && sources.iter().all(|s| check.sources.get(&s.rel).is_some_and(|r| s.stamp.holds(r, check.sealed_ns)))
        && {
            let repo = discover::Tree::open(root).with_subtree(content).sealed_at(check.sealed_ns).trusting(trust.cloned());
            check.image_sources.par_iter().all(|(path, stamp)| repo.holds(path, stamp))
        }
        && {
            // The preview's output is written by the preview alone.
            let out = discover::Tree::open(&check.output_dir).sealed_at(check.sealed_ns).trusting(trust.map(|_| Default::default()));
            check.outputs.par_iter().all(|(path, stamp)| out.holds(path, stamp))
        }
}

/// The first moment the same inputs publish something else: a future
/// article comes due, or a news article leaves the 48-hour news sitemap.
pub(super) fn valid_until(site: &SiteConfig, records: &BTreeMap<String, SourceRecord>, filter: Filter) -> Option<i64> {
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

/// The `image:` cover and the `image_aliases:` images of every published
/// article, addressed in parallel (the model needs their published URLs).
pub(super) fn resolve_images(
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
            // A cover from elsewhere must be a web URL: it reaches `og:image` and feeds.
            let resolved = |url: &str| match images::is_external(url) {
                true => images::web_url(url).map(|()| None),
                false => catalog.resolve(&lookup, url),
            };
            let cover = r.meta.image.as_ref().and_then(|url| match resolved(url) {
                Ok(Some(local)) => Some(Cover { view: catalog.view(&local, site), local: Some(local) }),
                Ok(None) => Some(Cover { view: ImageView::external(url), local: None }),
                Err(why) => {
                    diags.push(Diagnostic::new(&file, r.meta.line_of("image"), format!("cover {why}")).hint(Catalog::resolve_hint(&why)));
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
                    Err(why) => diags.push(
                        Diagnostic::new(&file, r.meta.line_of("image_aliases"), format!("image_aliases: {why}"))
                            .hint(Catalog::resolve_hint(&why)),
                    ),
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
pub(super) fn site_image(site: &SiteConfig, content_rel: &Path, catalog: &Catalog) -> Result<Option<Cover>, Diagnostic> {
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
pub(super) fn read_section_pages(
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
pub(super) fn parse_source(
    src: &Source,
    content_rel: &Path,
    cached: Option<SourceRecord>,
    walked_at: std::time::SystemTime,
    sealed_ns: i128,
    tz: chrono_tz::Tz,
) -> Result<(String, SourceRecord), Diagnostic> {
    let file = content_rel.join(&src.rel);
    let cached = match cached {
        Some(c) if src.stamp.holds(&c.stamp, sealed_ns) => return Ok((src.rel.clone(), c)),
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
