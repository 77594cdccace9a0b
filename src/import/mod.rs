//! `gen import wordpress`: a WordPress export (WXR) and its uploads folder
//! into page bundles under `content/<site>/`, so that the first `gen build`
//! publishes every article and image and every old URL keeps working.
//!
//! The export is read twice as a stream: first an [`Index`] of what every
//! item is and where it will live (no bodies kept), then the bodies, in
//! batches converted in parallel. Nothing is written before the first read
//! has checked the whole file. What the importer wrote is listed with its
//! hash in `content/<site>/.wordpress-import.json`, so a second import
//! rewrites only what it wrote itself and reports any article edited since.

mod markdown;
mod uploads;
mod wxr;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, bail};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::config::{CONFIG_FILE, Config, is_valid_name};
use crate::model::{AUTHORS_FILE, slugify};
use uploads::{Placed, Uploads};

pub use markdown::embed_url;

/// The file listing what an import wrote, inside `content/<site>/`.
pub const LEDGER: &str = ".wordpress-import.json";

/// Items converted together: enough to keep both cores busy, few enough
/// that memory stays flat however large the export.
const BATCH: usize = 256;

#[derive(Debug, Clone)]
pub struct Options {
    pub root: PathBuf,
    pub export: PathBuf,
    pub site: String,
    pub uploads: Option<PathBuf>,
    pub dry_run: bool,
    /// Overwrite articles and images edited since the last import.
    pub force: bool,
    /// Section of posts without a usable category.
    pub default_section: String,
}

/// What an import did (or, with `--dry-run`, would do).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub site: String,
    pub export: String,
    pub dry_run: bool,
    /// The site was not in `sites.toml` and was added.
    pub site_added: bool,
    pub permalink: String,
    /// Every item of the export by `post_type`, then `status`.
    pub items: BTreeMap<String, BTreeMap<String, usize>>,
    pub imported: Imported,
    /// Items not imported, by reason.
    pub skipped: BTreeMap<String, usize>,
    pub files: Files,
    pub images: Images,
    /// Shortcodes left in the text, by name.
    pub unknown_shortcodes: BTreeMap<String, usize>,
    /// HTML elements whose markup Markdown cannot say: dropped (text kept), by tag.
    pub html_dropped: BTreeMap<String, usize>,
    pub raw_html_kept: usize,
    pub redirects: Redirects,
    pub authors_added: Vec<String>,
    /// Old URLs not redirected, with why (an old path that is another article's new one, say).
    pub warnings: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Imported {
    pub posts: usize,
    pub pages: usize,
    pub drafts: usize,
    pub future: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct Files {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Files edited since the last import (or not written by it), left as they are.
    pub conflicts: Vec<String>,
    /// Files an earlier import wrote that were deleted (or moved) since:
    /// not brought back.
    pub removed: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Images {
    /// Copied into a bundle by this run (in a dry run: to be cloned or copied).
    pub copied: usize,
    /// Cloned into a bundle by this run (copy-on-write: no bytes copied).
    pub cloned: usize,
    pub bytes: u64,
    /// Already in place from an earlier run.
    pub unchanged: usize,
    /// References whose file is not in the uploads folder: they keep their old URL.
    pub missing: Vec<Missing>,
    /// Without `--uploads`: every image keeps its old absolute URL.
    pub not_looked_up: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Missing {
    pub article: String,
    pub url: String,
    /// Why a file that is there was not used (a symbolic link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Redirects {
    /// Old article URLs (permalinks, `?p=`, old slugs) as `aliases`.
    pub aliases: usize,
    /// Old `wp-content/uploads` URLs as `image_aliases`.
    pub images: usize,
}

/// What the first read learns of a post or page.
#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    page: bool,
    draft: bool,
    /// Password-protected on WordPress: imported as a draft, reported.
    protected: bool,
    title: String,
    post_name: String,
    /// Old URL path, percent-decoded and NFC (`/2023/12/가/`): the whole
    /// path on its host, then (see [`within`]) relative to the site's base path.
    link_path: String,
    date: DateTime<FixedOffset>,
    modified: Option<DateTime<FixedOffset>>,
    section: String,
    old_slugs: Vec<String>,
}

/// Where an entry goes.
#[derive(Debug, Clone)]
struct Place {
    /// Bundle folder below `content/<site>/`, e.g. `economy/가나`.
    dir: String,
    /// New site path, e.g. `/2023/12/가나/`.
    path: String,
    aliases: Vec<String>,
}

/// The first read: the channel, every attachment's URL and every entry.
#[derive(Default)]
struct Index {
    channel: wxr::Channel,
    attachments: HashMap<u64, String>,
    /// Attachments by the post they were uploaded to, in id order.
    children: HashMap<u64, Vec<u64>>,
    /// Attachment pages (`/2010/09/10/post/photo/`) → (attachment, the post it belongs to).
    attachment_pages: HashMap<String, (u64, u64)>,
    entries: Vec<Entry>,
    items: BTreeMap<String, BTreeMap<String, usize>>,
    skipped: BTreeMap<String, usize>,
    /// Every host the export's own links use (the site's, mapped domains).
    hosts: BTreeSet<String>,
    /// The site's offset from UTC in minutes, learnt from the dates.
    offset_minutes: i64,
    /// Logins of the entries' authors.
    authors: BTreeSet<String>,
    /// Section folder → the category's display name.
    section_titles: BTreeMap<String, String>,
}

/// Imports one export into one site.
pub fn wordpress(opts: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    if !is_valid_name(&opts.site) {
        bail!("`{}` is not a valid site name: use lowercase letters, digits, `-` and `_`", opts.site);
    }
    let root = &opts.root;
    let index = read_index(&opts.export)?;
    let attachment_urls: Vec<&str> = index.attachments.values().map(String::as_str).collect();
    let uploads = opts.uploads.as_ref().map(|u| Uploads::open(&root.join(u), &attachment_urls)).transpose()?;

    // Everything that can be refused is checked before the first write (and
    // by `--dry-run`): the site's entry, the authors file, every new path.
    let config_text = std::fs::read_to_string(root.join(CONFIG_FILE)).unwrap_or_default();
    let existing = if config_text.trim().is_empty() {
        None
    } else {
        let config = Config::parse(root, &config_text).map_err(|d| anyhow::anyhow!("{d}"))?;
        config.site(&opts.site).cloned()
    };
    // Old URLs are paths on the old host; the site's paths start at its
    // base path. The export may cover only part of it (a year archive's
    // copy at `/2023backup/`): nothing outside that part is claimed.
    let export_base = url_path_of(&site_base_url(&index.channel));
    let site_base = existing.as_ref().map(|s| s.base_path.clone()).unwrap_or_else(|| export_base.clone());
    let scope = within(&export_base, &site_base);
    let mut warnings = Vec::new();
    let mut index = index;
    for e in &mut index.entries {
        let old = std::mem::take(&mut e.link_path);
        if !old.is_empty() {
            e.link_path =
                scope.as_ref().and_then(|scope| within(&old, &site_base).filter(|p| within(p, scope).is_some())).unwrap_or_default();
        }
    }
    for e in index.entries.iter().filter(|e| e.protected) {
        warnings.push(format!(
            "“{}” was password-protected: imported as a draft, since a static site has no passwords (take out `draft: true` to publish it to everyone)",
            e.title
        ));
    }
    if scope.is_none() {
        warnings.push(format!(
            "the export's blog URL ({}) is outside the site's base_url ({site_base}): old URLs are not redirected",
            site_base_url(&index.channel)
        ));
    }
    let (permalink, base_path, raw_html, new_config) = match &existing {
        Some(s) => (s.permalink.clone(), s.base_path.clone(), s.unsafe_html, None),
        None => {
            let permalink = infer_permalink(&index.entries);
            let block = site_block(&opts.site, &index.channel, &permalink, &opts.export, index.offset_minutes)?;
            let text = with_site(&config_text, &block);
            // A bad value in the export (a `javascript:` blog URL) is an error now, not at the next build.
            Config::parse(root, &text).map_err(|d| {
                anyhow::anyhow!("{}: the site entry for {CONFIG_FILE} would not load:\n{d}\nnothing was written", opts.export.display())
            })?;
            (permalink, export_base.clone(), false, Some(text))
        }
    };
    let authors = plan_authors(root, &index.channel, &index.authors)?;
    // An archived post's URL has its archive's prefix.
    let prefix = |date: &DateTime<FixedOffset>| match &existing {
        Some(site) => match crate::model::part_of(site, &crate::model::local(site, date)) {
            0 => String::new(),
            n => format!("/{}", site.archives[n - 1].path),
        },
        None => String::new(),
    };
    let rules = Placing { permalink: &permalink, default_section: &opts.default_section, scope: scope.as_deref(), prefix: &prefix };
    let places = place_entries(&index.entries, &rules, &mut warnings);

    let content = root.join("content").join(&opts.site);
    let ledger_path = content.join(LEDGER);
    let previous: Ledger = match std::fs::read(&ledger_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is damaged; delete it to import again from scratch", ledger_path.display()))?,
        Err(_) => Ledger::default(),
    };

    let mut report = Report {
        site: opts.site.clone(),
        export: opts.export.display().to_string(),
        dry_run: opts.dry_run,
        site_added: new_config.is_some(),
        permalink: permalink.clone(),
        items: index.items.clone(),
        skipped: index.skipped.clone(),
        warnings,
        ..Report::default()
    };
    let by_id: HashMap<u64, usize> = index.entries.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    let links = Links::new(&index, &places, &base_path, scope.is_some());
    let shared = Shared {
        opts,
        index: &index,
        places: &places,
        by_id: &by_id,
        links: &links,
        uploads: uploads.as_ref(),
        raw_html,
        content: &content,
        previous: &previous,
        written: Mutex::default(),
        report: Mutex::new(&mut report),
    };

    // The second read: bodies, converted a batch at a time.
    let mut batch: Vec<wxr::Item> = Vec::with_capacity(BATCH);
    let converted = wxr::read(&opts.export, |entry| {
        if let wxr::Entry::Item(item) = entry
            && by_id.contains_key(&item.id)
            && is_entry(&item)
        {
            batch.push(*item);
            if batch.len() == BATCH {
                shared.convert_batch(std::mem::take(&mut batch))?;
            }
        }
        Ok(())
    })
    .and_then(|()| shared.convert_batch(batch))
    .and_then(|()| shared.write_sections(&index.section_titles));
    // The shared state borrows the report until here.
    let written = shared.written.into_inner().expect("no panics while held");

    if !opts.dry_run {
        // Listed also when a write failed half-way (a full disk): the next
        // import then knows these files as its own. Entries of files this
        // run left alone (conflicts) keep their old hash.
        let mut files = previous.files.clone();
        files.extend(written);
        let ledger = Ledger { export: file_name(&opts.export), files };
        let bytes = serde_json::to_vec_pretty(&ledger).expect("plain data serializes");
        if std::fs::read(&ledger_path).ok().as_deref() != Some(&bytes[..]) {
            std::fs::create_dir_all(&content).with_context(|| format!("cannot create {}", content.display()))?;
            std::fs::write(&ledger_path, bytes).with_context(|| format!("cannot write {}", ledger_path.display()))?;
        }
    }
    converted?;
    report.authors_added = authors.added();
    if !opts.dry_run {
        authors.write()?;
        if let Some(text) = &new_config {
            let path = root.join(CONFIG_FILE);
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    report.images.missing.sort();
    report.files.conflicts.sort();
    report.files.removed.sort();
    report.warnings.sort();
    report.warnings.dedup();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// What this importer wrote: site-relative file → blake3 of its bytes (for
/// images, of the source's identity: its size, as they are linked, not read).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Ledger {
    export: String,
    files: BTreeMap<String, String>,
}

fn is_entry(item: &wxr::Item) -> bool {
    matches!(item.post_type.as_str(), "post" | "page")
}

/// The first read. Counts every item, keeps attachments' URLs and what
/// posts and pages need to be placed; bodies are not kept.
fn read_index(export: &Path) -> anyhow::Result<Index> {
    wxr::sniff(export)?;
    let mut index = Index::default();
    let mut raw: Vec<wxr::Item> = Vec::new();
    // The site's offset from UTC, learnt from items that carry both dates.
    let mut offsets: HashMap<i64, usize> = HashMap::new();
    wxr::read(export, |entry| {
        match entry {
            wxr::Entry::Channel(c) => index.channel = *c,
            wxr::Entry::Item(mut item) => {
                *index.items.entry(item.post_type.clone()).or_default().entry(item.status.clone()).or_default() += 1;
                if let Some(host) = url::Url::parse(&item.link).ok().and_then(|u| u.host_str().map(str::to_string)) {
                    index.hosts.insert(host);
                }
                if item.post_type == "attachment" {
                    let url = if item.attachment_url.is_empty() { item.guid.clone() } else { item.attachment_url.clone() };
                    index.attachments.insert(item.id, url);
                    if item.post_parent != 0 {
                        index.children.entry(item.post_parent).or_default().push(item.id);
                    }
                    if !item.link.is_empty() && !item.link.contains('?') {
                        let path = folder_like(&uploads::url_path(&item.link));
                        index.attachment_pages.insert(path, (item.id, item.post_parent));
                    }
                    return Ok(());
                }
                if !is_entry(&item) {
                    *index.skipped.entry(format!("type {}", item.post_type)).or_default() += 1;
                    return Ok(());
                }
                if !matches!(item.status.as_str(), "publish" | "draft" | "pending" | "future") {
                    *index.skipped.entry(format!("status {}", item.status)).or_default() += 1;
                    return Ok(());
                }
                let local = wp_date(&item.post_date);
                let gmt = wp_date(&item.post_date_gmt);
                if let (Some(l), Some(g)) = (local, gmt) {
                    *offsets.entry((l - g).num_minutes()).or_default() += 1;
                }
                // Bodies are read again later; keep only what places the item.
                item.content = String::new();
                item.excerpt = String::new();
                raw.push(*item);
            }
        }
        Ok(())
    })?;
    for ids in index.children.values_mut() {
        ids.sort_unstable();
    }
    let minutes = offsets.into_iter().max_by_key(|(m, n)| (*n, -m.abs())).map(|(m, _)| m).unwrap_or(0);
    index.offset_minutes = minutes;
    let offset = FixedOffset::east_opt((minutes * 60) as i32).unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
    let primary_by_id: HashMap<u64, &str> = index.channel.categories.iter().map(|c| (c.id, c.nicename.as_str())).collect();
    for item in raw {
        let date = item_date(&item.post_date_gmt, &item.post_date, offset).unwrap_or_else(|| {
            // No date at all (an old draft): the epoch keeps it sorted last.
            offset.timestamp_opt(0, 0).single().expect("epoch")
        });
        let modified = item_date(&item.post_modified_gmt, &item.post_modified, offset).filter(|m| *m > date);
        let primary = item
            .meta("_yoast_wpseo_primary_category")
            .next()
            .and_then(|id| id.trim().parse::<u64>().ok())
            .and_then(|id| primary_by_id.get(&id).map(|s| s.to_string()));
        let section = if item.post_type == "page" {
            "pages".to_string()
        } else {
            primary
                .or_else(|| item.terms.iter().find(|t| t.domain == "category" && t.nicename != "uncategorized").map(|t| t.nicename.clone()))
                .map(|n| slugify(&nfc(&crate::images::percent_decode(&n))))
                .unwrap_or_default()
        };
        for t in item.terms.iter().filter(|t| t.domain == "category") {
            let folder = fit_name(&slugify(&nfc(&crate::images::percent_decode(&t.nicename))));
            index.section_titles.entry(folder).or_insert_with(|| markdown::plain_text(&t.name));
        }
        // The whole path on its host: it is set against the site's own
        // base_url once that is known (an export of `/2023backup/` into a
        // site at `/` keeps that prefix).
        let link_path = site_path(&uploads::url_path(&item.link), "/");
        let protected = !item.post_password.is_empty();
        index.authors.insert(clean_login(&item.creator).to_string());
        index.entries.push(Entry {
            id: item.id,
            page: item.post_type == "page",
            // A static site has no passwords: a protected post stays unpublished.
            draft: matches!(item.status.as_str(), "draft" | "pending") || protected,
            protected,
            title: markdown::plain_text(&item.title),
            post_name: nfc(&crate::images::percent_decode(&item.post_name)),
            // A plain permalink (`/?p=1`) is covered by the `?p=` alias.
            link_path: if item.link.contains('?') { String::new() } else { link_path },
            date,
            modified,
            section,
            old_slugs: item.meta("_wp_old_slug").map(|s| nfc(&crate::images::percent_decode(s))).collect(),
        });
    }
    if index.channel.wxr_version.is_empty() && index.entries.is_empty() && index.attachments.is_empty() {
        bail!(
            "{}: not a WordPress export (no wp:wxr_version and no items); export the site with WordPress's Tools → Export",
            export.display()
        );
    }
    Ok(index)
}

/// A path relative to the site's base path (`/blog/2023/a/` → `/2023/a/`), decoded and NFC.
fn site_path(path: &str, base_path: &str) -> String {
    static SLASHES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| regex::Regex::new("/{2,}").expect("valid regex"));
    // `//greek/a/` (WordPress's own test export has one): servers merge the slashes.
    let decoded = SLASHES.replace_all(&nfc(&crate::images::percent_decode(path)), "/").into_owned();
    within(&decoded, base_path).unwrap_or(decoded)
}

/// The path of a URL (`https://x/blog` → `/blog/`), `/` when it has none.
fn url_path_of(url: &str) -> String {
    let path = url::Url::parse(url).map(|u| u.path().to_string()).unwrap_or_else(|_| "/".into());
    format!("{}/", path.trim_end_matches('/'))
}

/// `path` relative to the base path `base` (`/blog/2023/a/` in `/blog/` →
/// `/2023/a/`); `None` when it lies outside.
fn within(path: &str, base: &str) -> Option<String> {
    let base = base.trim_end_matches('/');
    match path.strip_prefix(base) {
        Some("") => Some("/".into()),
        Some(rest) if rest.starts_with('/') => Some(rest.to_string()),
        _ => None,
    }
}

fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// `2023-12-05 09:30:00`; WordPress writes zeros for "no date".
fn wp_date(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok().filter(|d| d.and_utc().timestamp() > 0)
}

/// From the GMT date when there is one, else the local date at the site's offset.
fn item_date(gmt: &str, local: &str, offset: FixedOffset) -> Option<DateTime<FixedOffset>> {
    match wp_date(gmt) {
        Some(g) => Some(g.and_utc().with_timezone(&offset)),
        None => wp_date(local).and_then(|l| l.and_local_timezone(offset).single()),
    }
}

fn site_base_url(c: &wxr::Channel) -> String {
    let base = if c.base_blog_url.is_empty() { &c.link } else { &c.base_blog_url };
    let base = base.trim();
    if base.is_empty() { "https://example.com/".into() } else { format!("{}/", base.trim_end_matches('/')) }
}

/// The permalink pattern most posts' old links follow (`/{year}/{month}/{slug}/`),
/// so that their URLs stay the same; gen's default when none fits.
fn infer_permalink(entries: &[Entry]) -> String {
    use chrono::Datelike;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for e in entries.iter().filter(|e| !e.page && !e.draft && !e.link_path.is_empty() && !e.post_name.is_empty()) {
        let segs: Vec<&str> = e.link_path.split('/').filter(|s| !s.is_empty()).collect();
        let mut pattern = String::from("/");
        let mut has_slug = false;
        for s in &segs {
            let token = if *s == e.post_name {
                has_slug = true;
                "{slug}".to_string()
            } else if *s == format!("{:04}", e.date.year()) {
                "{year}".into()
            } else if *s == format!("{:02}", e.date.month()) {
                "{month}".into()
            } else if *s == format!("{:02}", e.date.day()) {
                "{day}".into()
            } else if !e.section.is_empty() && slugify(s) == e.section {
                "{section}".into()
            } else if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') && !OWNED_FOLDERS.contains(s) {
                // A constant folder, but not one gen fills itself (`/tags/…`).
                s.to_string()
            } else {
                has_slug = false;
                break;
            };
            pattern.push_str(&token);
            pattern.push('/');
        }
        if has_slug {
            *counts.entry(pattern).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(p, _)| p)
        .unwrap_or_else(|| "/{section}/{slug}/".into())
}

/// Bundle folders, new paths and aliases for every entry: slugs unique per
/// URL, aliases that would hide another article's new page or repeat one
/// dropped.
/// How entries are placed: the site's permalink and default section, the
/// part of the site the export covered (`None`: none of it, so no old URL
/// is claimed), and each date's archive prefix (`/2023backup`).
struct Placing<'a> {
    permalink: &'a str,
    default_section: &'a str,
    scope: Option<&'a str>,
    prefix: &'a dyn Fn(&DateTime<FixedOffset>) -> String,
}

fn place_entries(entries: &[Entry], rules: &Placing, warnings: &mut Vec<String>) -> Vec<Place> {
    let Placing { permalink, default_section, scope, prefix } = *rules;
    let mut used_paths: HashSet<String> = HashSet::new();
    let mut used_dirs: HashSet<String> = HashSet::new();
    let mut places: Vec<Place> = Vec::with_capacity(entries.len());
    // A category named like a folder gen publishes itself (`tags`,
    // `assets`, `images`) goes to the default section.
    let usable = |s: &str| !s.is_empty() && !RESERVED_SECTIONS.contains(&s);
    let default_section = Some(slugify(default_section)).filter(|s| usable(s)).unwrap_or_else(|| "posts".into());
    let section_of = |e: &Entry| fit_name(if usable(&e.section) { &e.section } else { &default_section });
    let mut renamed: BTreeMap<&str, usize> = BTreeMap::new();
    for e in entries.iter().filter(|e| !e.section.is_empty() && !usable(&e.section)) {
        *renamed.entry(&e.section).or_default() += 1;
    }
    for (name, n) in renamed {
        warnings.push(format!("category `{name}` is a folder gen publishes itself: its {n} item(s) go to section `{default_section}`"));
    }
    let all_sections: HashSet<String> = entries.iter().filter(|e| !e.page).map(|e| format!("/{}/", section_of(e))).collect();
    for e in entries {
        let section = section_of(e);
        let base_slug = {
            let s = slugify(&e.post_name);
            if s.is_empty() { slugify(&e.title) } else { s }
        };
        let base_slug = if base_slug.is_empty() { format!("{}", e.id) } else { fit_name(&base_slug) };
        // A page keeps its old path (`/company/team/`): its parents'
        // folders, the first renamed when gen owns everything below it
        // (`/authors/jane/` → `/authors-page/jane/`).
        let parents: Vec<String> = match e.page {
            true => {
                let segs: Vec<String> = e.link_path.split('/').map(|s| fit_name(&slugify(s))).filter(|s| !s.is_empty()).collect();
                let mut parents = segs.split_last().map(|(_, p)| p.to_vec()).unwrap_or_default();
                if let Some(first) = parents.first_mut().filter(|f| OWNED_FOLDERS.contains(&f.as_str())) {
                    warnings
                        .push(format!("“{}” was under /{first}/, where gen publishes its own files: placed under /{first}-page/", e.title));
                    first.push_str("-page");
                }
                parents
            }
            false => vec![],
        };
        let mut n = 1;
        let (dir, path) = loop {
            let slug = if n == 1 { base_slug.clone() } else { format!("{base_slug}-{n}") };
            // The path on its part of the site (an archived post's without
            // its archive's prefix, which has its own lists), and the prefix.
            let (dir, bare, pre) = match e.page {
                true => {
                    let dir = parents.iter().chain([&slug]).cloned().collect::<Vec<_>>().join("/");
                    let path = crate::model::page_path(&format!("{dir}/index.md"), &slug);
                    (dir, path, String::new())
                }
                false => {
                    let path = crate::model::expand_permalink(permalink, &section, &slug, &e.date);
                    (format!("{section}/{slug}"), path, prefix(&e.date))
                }
            };
            let path = format!("{pre}{bare}");
            // A page gen generates there (`/categories/`, a section's list)
            // keeps its URL: the item takes the next free one. (A permalink
            // that always leads into gen's folders cannot be helped: after
            // a hundred tries the build says so.)
            let generated = generated_page(&bare, &all_sections).filter(|_| n <= 100);
            if let Some(why) = generated {
                warnings.push(format!("“{}” would be at {path}, but {why}: placed at the next free URL", e.title));
            } else if n > 100 || (!used_paths.contains(&path) && !used_dirs.contains(&dir)) {
                break (dir, path);
            }
            n += 1;
        };
        used_paths.insert(path.clone());
        used_dirs.insert(dir.clone());
        places.push(Place { dir, path, aliases: vec![] });
    }
    // Aliases: the old permalink, `?p=`/`?page_id=`, and each old slug at
    // the old permalink. One old path leads to one article, none may be
    // another article's new page, and an article's own old permalink wins
    // over another's old slug.
    let mut taken: HashSet<String> = places.iter().map(|p| p.path.clone()).collect();
    let mut candidates: Vec<(u8, usize, String)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if !e.link_path.is_empty() {
            candidates.push((0, i, folder_like(&alias_path(&e.link_path))));
            if !e.post_name.is_empty() {
                for old in &e.old_slugs {
                    let replaced: Vec<String> =
                        e.link_path.split('/').map(|s| if s == e.post_name { old.clone() } else { s.to_string() }).collect();
                    candidates.push((2, i, folder_like(&alias_path(&replaced.join("/")))));
                }
            }
        }
        // `?p=` of the export's own blog (another blog's ids are not ours).
        if let Some(scope) = scope {
            candidates.push((1, i, format!("{scope}?{}={}", if e.page { "page_id" } else { "p" }, e.id)));
        }
    }
    candidates.sort_by_key(|(rank, i, _)| (*rank, *i));
    let sections: HashSet<String> = places.iter().filter_map(|p| p.dir.split('/').next()).map(|s| format!("/{s}/")).collect();
    for (_, i, alias) in candidates {
        if let Some(why) = generated_page(&alias, &sections) {
            warnings.push(format!("old URL {alias} is not redirected: {why}"));
            continue;
        }
        if let Err(why) = crate::redirects::normalize_from(&alias) {
            warnings.push(format!("old URL {alias} is not redirected: it {why}"));
            continue;
        }
        if taken.insert(alias.clone()) {
            places[i].aliases.push(alias);
        }
    }
    for p in &mut places {
        p.aliases.sort_by_key(|a| (a.contains("/?"), a.clone()));
    }
    places
}

/// First folders of a site's URL that gen fills itself: list pages,
/// images, the search index; `assets` is a site's folder of shared files.
const OWNED_FOLDERS: [&str; 8] = ["tags", "categories", "series", "authors", "page", "images", "assets", "_search"];

/// Section names the importer does not give a category: gen's own folders.
const RESERVED_SECTIONS: [&str; 8] = ["assets", "images", "tags", "categories", "series", "authors", "search", "page"];

/// The longest slug or section name the importer writes, in bytes: a file
/// name holds 255, and a `-2` or a `.html` may follow.
const MAX_SLUG_BYTES: usize = 200;

/// `name` cut to [`MAX_SLUG_BYTES`] on a character boundary, without a
/// trailing `-` (a 200-character Hangul title is 600 bytes).
fn fit_name(name: &str) -> String {
    if name.len() <= MAX_SLUG_BYTES {
        return name.to_string();
    }
    let mut end = MAX_SLUG_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].trim_end_matches('-').to_string()
}

/// Why an old path cannot redirect, or a new one cannot be taken: gen
/// publishes a page of its own there (a redirect may not hide a live page).
fn generated_page(path: &str, sections: &HashSet<String>) -> Option<&'static str> {
    if path == "/" {
        return Some("it is the home page");
    }
    if matches!(path, "/search/" | "/archives/") {
        return Some("gen generates that page");
    }
    if OWNED_FOLDERS.iter().any(|f| path.strip_prefix('/').and_then(|p| p.strip_prefix(f)).is_some_and(|rest| rest.starts_with('/'))) {
        return Some("gen publishes its own files there");
    }
    if sections.contains(path) {
        return Some("it is a section page");
    }
    None
}

/// `/a/b` → `/a/b/` (gen's redirects treat both alike); files keep their name.
fn folder_like(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or("");
    if path.ends_with('/') || last.contains('.') { path.to_string() } else { format!("{path}/") }
}

/// Old links of the export → new URLs.
struct Links {
    by_path: HashMap<String, String>,
    by_id: HashMap<u64, String>,
    attachment_pages: HashMap<String, (u64, u64)>,
    attachments: HashMap<u64, String>,
    hosts: BTreeSet<String>,
    base_path: String,
    /// The export's blog lies within the site: its old URLs are the site's
    /// to redirect.
    claims: bool,
}

impl Links {
    fn new(index: &Index, places: &[Place], base_path: &str, claims: bool) -> Links {
        let url = |p: &Place| format!("{}{}", base_path.trim_end_matches('/'), p.path);
        let mut by_path = HashMap::new();
        let mut by_id = HashMap::new();
        for (e, p) in index.entries.iter().zip(places) {
            if !e.link_path.is_empty() {
                by_path.insert(folder_like(&e.link_path), url(p));
            }
            by_id.insert(e.id, url(p));
        }
        let mut hosts = index.hosts.clone();
        for u in [&index.channel.link, &index.channel.base_blog_url] {
            if let Some(h) = url::Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_string)) {
                hosts.insert(h);
            }
        }
        let attachment_pages = index.attachment_pages.iter().map(|(p, v)| (folder_like(&site_path(p, base_path)), *v)).collect();
        Links { by_path, by_id, attachment_pages, attachments: index.attachments.clone(), hosts, base_path: base_path.to_string(), claims }
    }

    /// The new URL of a link to another item of the export.
    fn rewrite(&self, href: &str) -> Option<String> {
        let href = href.trim();
        let (path, query, fragment) = match url::Url::parse(href) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                if !u.host_str().is_some_and(|h| self.hosts.contains(h)) {
                    return None;
                }
                (u.path().to_string(), u.query().map(str::to_string), u.fragment().map(str::to_string))
            }
            Ok(_) => return None,
            Err(_) if href.starts_with('/') && !href.starts_with("//") => {
                let (rest, fragment) = match href.split_once('#') {
                    Some((r, f)) => (r, Some(f.to_string())),
                    None => (href, None),
                };
                let (path, query) = match rest.split_once('?') {
                    Some((p, q)) => (p.to_string(), Some(q.to_string())),
                    None => (rest.to_string(), None),
                };
                (path, query, fragment)
            }
            Err(_) => return None,
        };
        let with_fragment = |u: &String| match &fragment {
            Some(f) => format!("{u}#{f}"),
            None => u.clone(),
        };
        if let Some(q) = &query {
            for pair in q.split('&') {
                if let Some((k, v)) = pair.split_once('=')
                    && matches!(k, "p" | "page_id")
                    && let Some(u) = v.parse::<u64>().ok().and_then(|id| self.by_id.get(&id))
                {
                    return Some(with_fragment(u));
                }
            }
        }
        let path = folder_like(&site_path(&path, &self.base_path));
        if let Some(u) = self.by_path.get(&path) {
            return Some(with_fragment(u));
        }
        // gen has no attachment pages: the post the file belongs to, else the file.
        let (id, parent) = self.attachment_pages.get(&path)?;
        self.by_id.get(parent).cloned().or_else(|| self.attachments.get(id).cloned())
    }

    /// The file URL of the attachment page `href` links to, if it is one.
    fn attachment_file(&self, href: &str) -> Option<&String> {
        let path = folder_like(&site_path(&uploads::url_path(href), &self.base_path));
        self.attachment_pages.get(&path).and_then(|(id, _)| self.attachments.get(id))
    }
}

/// State shared by the parallel conversions.
struct Shared<'a> {
    opts: &'a Options,
    index: &'a Index,
    places: &'a [Place],
    by_id: &'a HashMap<u64, usize>,
    links: &'a Links,
    uploads: Option<&'a Uploads>,
    raw_html: bool,
    content: &'a Path,
    previous: &'a Ledger,
    /// Ledger entries of the files this run wrote or found unchanged.
    written: Mutex<BTreeMap<String, String>>,
    report: Mutex<&'a mut Report>,
}

/// One converted entry, ready to write.
struct Converted {
    dir: String,
    text: String,
    images: Vec<(PathBuf, String)>,
    missing: Vec<Missing>,
    /// Old image URLs no redirect can take, with why.
    warnings: Vec<String>,
    shortcodes: BTreeMap<String, usize>,
    dropped: BTreeMap<String, usize>,
    raw_kept: usize,
    image_aliases: usize,
    aliases: usize,
    not_looked_up: usize,
    page: bool,
    draft: bool,
    future: bool,
}

impl Shared<'_> {
    fn convert_batch(&self, batch: Vec<wxr::Item>) -> anyhow::Result<()> {
        let now = chrono::Utc::now();
        let converted: Vec<Converted> = batch.par_iter().map(|item| self.convert(item, now)).collect();
        let results: Vec<anyhow::Result<()>> = converted.par_iter().map(|c| self.write(c)).collect();
        for (item, result) in batch.iter().zip(results) {
            result.with_context(|| self.name(item))?;
        }
        let mut report = self.report.lock().expect("no panics while held");
        for c in converted {
            if c.page {
                report.imported.pages += 1;
            } else {
                report.imported.posts += 1;
            }
            report.imported.drafts += c.draft as usize;
            report.imported.future += c.future as usize;
            report.images.missing.extend(c.missing);
            report.images.not_looked_up += c.not_looked_up;
            report.warnings.extend(c.warnings);
            for (k, v) in c.shortcodes {
                *report.unknown_shortcodes.entry(k).or_default() += v;
            }
            for (k, v) in c.dropped {
                *report.html_dropped.entry(k).or_default() += v;
            }
            report.raw_html_kept += c.raw_kept;
            report.redirects.aliases += c.aliases;
            report.redirects.images += c.image_aliases;
        }
        Ok(())
    }

    /// An item as an error names it: its title, id and line in the export.
    fn name(&self, item: &wxr::Item) -> String {
        let title = markdown::plain_text(&item.title);
        let line = wxr::line_of(&self.opts.export, item.offset);
        format!("importing item {} “{}” ({}:{line})", item.id, crate::diag::Printable(&title), self.opts.export.display())
    }

    fn convert(&self, item: &wxr::Item, now: DateTime<chrono::Utc>) -> Converted {
        let i = self.by_id[&item.id];
        let entry = &self.index.entries[i];
        let place = &self.places[i];
        let article = format!("content/{}/{}/index.md", self.opts.site, place.dir);
        let footnotes: Vec<(String, String)> = item
            .meta("footnotes")
            .next()
            .and_then(|json| serde_json::from_str::<Vec<Footnote>>(json).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|f| (f.id, f.content))
            .collect();
        let mut cx = ItemContext {
            shared: self,
            id: item.id,
            footnotes,
            article: article.clone(),
            images: BTreeMap::new(),
            by_name: BTreeMap::new(),
            missing: vec![],
            warnings: vec![],
            not_looked_up: 0,
        };
        let body = markdown::convert(&item.content, &markdown::Options { raw_html: self.raw_html }, &mut cx);
        let cover = item
            .meta("_thumbnail_id")
            .next()
            .and_then(|id| id.trim().parse::<u64>().ok())
            .and_then(|id| self.index.attachments.get(&id))
            .map(|url| markdown::Context::image(&mut cx, url));
        // A cover is a bundle file or an http(s) URL: the build refuses any
        // other scheme (a hostile `javascript:` attachment URL).
        let cover = cover.filter(|c| {
            let scheme = c.split_once(':').map(|(s, _)| s).filter(|s| !s.contains('/'));
            let ok = scheme.is_none_or(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
            if !ok {
                cx.warnings.push(format!("{}: featured image {c} is not an http(s) URL: left out", cx.article));
            }
            ok
        });
        let summary = markdown::plain_text(&item.excerpt);
        let mut tags = Vec::new();
        let mut categories = Vec::new();
        for t in &item.terms {
            let name = markdown::plain_text(&t.name);
            let list = match t.domain.as_str() {
                "category" => &mut categories,
                "post_tag" => &mut tags,
                _ => continue,
            };
            if !name.is_empty() && !list.contains(&name) {
                list.push(name);
            }
        }
        let login = clean_login(&item.creator);
        let author = (!login.is_empty()).then(|| author_key(login));
        let image_aliases: BTreeMap<String, Vec<String>> =
            cx.images.iter().map(|(name, (_, old))| (name.clone(), old.iter().cloned().collect())).collect();
        let front = Front {
            kind: entry.page.then_some("page"),
            title: if entry.title.trim().is_empty() { format!("Untitled {}", entry.id) } else { entry.title.clone() },
            date: entry.date.to_rfc3339(),
            updated: entry.modified.map(|m| m.to_rfc3339()),
            author,
            categories,
            tags,
            summary: (!summary.is_empty()).then_some(summary),
            draft: entry.draft,
            image: cover,
            aliases: place.aliases.clone(),
            image_aliases: image_aliases.clone(),
        };
        let yaml = serde_norway::to_string(&front).expect("plain data serializes");
        let text = format!("---\n{yaml}---\n\n{}", body.markdown);
        Converted {
            dir: place.dir.clone(),
            text,
            images: cx.images.into_iter().map(|(name, (src, _))| (src, name)).collect(),
            missing: cx.missing,
            warnings: cx.warnings,
            shortcodes: body.unknown_shortcodes,
            dropped: body.dropped,
            raw_kept: body.raw_html_kept,
            image_aliases: image_aliases.values().map(Vec::len).sum(),
            aliases: place.aliases.len(),
            not_looked_up: cx.not_looked_up,
            page: entry.page,
            draft: entry.draft,
            future: entry.date > now,
        }
    }

    /// Writes an article and places its images, each only when it changed
    /// and only over what this importer wrote before (or with `--force`).
    fn write(&self, c: &Converted) -> anyhow::Result<()> {
        let rel = format!("{}/index.md", c.dir);
        let outcome = self.write_text(&rel, &c.text)?;
        if outcome == Outcome::Removed {
            // Nor its images: a folder of pictures without its article.
            self.report.lock().expect("no panics while held").files.removed.push(format!("content/{}/{rel}", self.opts.site));
            return Ok(());
        }
        let mut outcomes = vec![(format!("content/{}/{rel}", self.opts.site), outcome, 0)];
        let mut cloned = 0;
        let mut copied = 0;
        for (src, name) in &c.images {
            let rel = format!("{}/{name}", c.dir);
            let dest = self.content.join(&rel);
            let size = std::fs::metadata(src).map(|m| m.len()).unwrap_or(0);
            let placed = if self.opts.dry_run {
                if dest.exists() { Placed::Same } else { Placed::New(None) }
            } else {
                uploads::place(src, &dest, self.opts.force)
                    .with_context(|| format!("cannot copy {} into {}", src.display(), dest.display()))?
            };
            let outcome = match placed {
                Placed::New(how) => {
                    match how {
                        Some(crate::write::Shared::Cloned) => cloned += 1,
                        _ => copied += 1,
                    }
                    Outcome::Created
                }
                Placed::Same => Outcome::Unchanged,
                Placed::Conflict => Outcome::Conflict,
            };
            outcomes.push((format!("content/{}/{rel}", self.opts.site), outcome, size));
        }
        let mut report = self.report.lock().expect("no panics while held");
        report.images.cloned += cloned;
        report.images.copied += copied;
        for (i, (file, outcome, size)) in outcomes.into_iter().enumerate() {
            let image = i > 0;
            match outcome {
                Outcome::Created if image => report.images.bytes += size,
                Outcome::Unchanged if image => report.images.unchanged += 1,
                Outcome::Created => report.files.created += 1,
                Outcome::Updated => report.files.updated += 1,
                Outcome::Unchanged => report.files.unchanged += 1,
                Outcome::Conflict => report.files.conflicts.push(file),
                Outcome::Removed => report.files.removed.push(file),
            }
        }
        Ok(())
    }
}

impl Shared<'_> {
    /// Writes a text file of the site (`rel` below `content/<site>/`) when
    /// it changed, only over what this importer wrote before (or with
    /// `--force`), and lists it in the ledger.
    fn write_text(&self, rel: &str, text: &str) -> anyhow::Result<Outcome> {
        let path = self.content.join(rel);
        let hash = crate::discover::hex(&crate::discover::hash_bytes(text.as_bytes()));
        let outcome = match std::fs::read(&path) {
            Ok(existing) if existing == text.as_bytes() => Outcome::Unchanged,
            Ok(existing) => {
                let ours =
                    self.previous.files.get(rel).is_some_and(|h| *h == crate::discover::hex(&crate::discover::hash_bytes(&existing)));
                if ours || self.opts.force { Outcome::Updated } else { Outcome::Conflict }
            }
            // Written by an earlier import, then deleted or moved by hand:
            // bringing it back would undo that (or publish it twice).
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(anyhow::anyhow!("cannot read {}: {e}", path.display()));
            }
            Err(_) if self.previous.files.contains_key(rel) && !self.opts.force => Outcome::Removed,
            Err(_) => Outcome::Created,
        };
        if matches!(outcome, Outcome::Created | Outcome::Updated) && !self.opts.dry_run {
            std::fs::create_dir_all(path.parent().expect("has a parent")).with_context(|| format!("cannot create {}", path.display()))?;
            let tmp = path.with_extension("md.gen-import.tmp");
            std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", path.display()))?;
            std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        }
        // (Files left alone keep their old entry: still this importer's.)
        if !matches!(outcome, Outcome::Conflict | Outcome::Removed) {
            self.written.lock().expect("no panics while held").insert(rel.to_string(), hash);
        }
        Ok(outcome)
    }

    /// Each section the import fills gets an `_index.md` naming it as the
    /// category did (`경제`, not the folder's `economy` or `6-1`).
    fn write_sections(&self, titles: &BTreeMap<String, String>) -> anyhow::Result<()> {
        let sections: BTreeSet<&str> =
            self.index.entries.iter().zip(self.places).filter(|(e, _)| !e.page).filter_map(|(_, p)| p.dir.split('/').next()).collect();
        for section in sections {
            let Some(title) = titles.get(section).filter(|t| !t.is_empty() && *t != section) else { continue };
            let text = format!("---\n{}---\n", serde_norway::to_string(&SectionFront { title }).expect("plain data serializes"));
            let rel = format!("{section}/_index.md");
            let outcome = self.write_text(&rel, &text)?;
            let mut report = self.report.lock().expect("no panics while held");
            match outcome {
                Outcome::Created => report.files.created += 1,
                Outcome::Updated => report.files.updated += 1,
                Outcome::Unchanged => report.files.unchanged += 1,
                Outcome::Conflict => report.files.conflicts.push(format!("content/{}/{rel}", self.opts.site)),
                Outcome::Removed => report.files.removed.push(format!("content/{}/{rel}", self.opts.site)),
            }
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct SectionFront<'a> {
    title: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
    Conflict,
    /// Deleted or moved since the import that wrote it.
    Removed,
}

/// Front matter as the importer writes it (keys in the order a writer reads them).
#[derive(Serialize)]
struct Front {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    title: String,
    date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    categories: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    draft: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aliases: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    image_aliases: BTreeMap<String, Vec<String>>,
}

/// Reference rewriting for one item's body.
/// One entry of Gutenberg's `footnotes` post meta.
#[derive(Deserialize)]
struct Footnote {
    id: String,
    content: String,
}

struct ItemContext<'a, 's> {
    shared: &'a Shared<'s>,
    id: u64,
    footnotes: Vec<(String, String)>,
    article: String,
    /// Bundle file name → (source file, old site paths).
    images: BTreeMap<String, (PathBuf, BTreeSet<String>)>,
    /// Source file → bundle file name.
    by_name: BTreeMap<PathBuf, String>,
    missing: Vec<Missing>,
    warnings: Vec<String>,
    not_looked_up: usize,
}

impl markdown::Context for ItemContext<'_, '_> {
    fn attachment_url(&self, id: u64) -> Option<String> {
        self.shared.index.attachments.get(&id).cloned()
    }

    fn footnotes(&self) -> Vec<(String, String)> {
        self.footnotes.clone()
    }

    fn children(&self) -> Vec<String> {
        let ids = self.shared.index.children.get(&self.id).map(Vec::as_slice).unwrap_or_default();
        ids.iter().filter_map(|id| self.shared.index.attachments.get(id).cloned()).collect()
    }

    fn link(&mut self, href: &str) -> Option<String> {
        self.shared.links.rewrite(href)
    }

    fn image(&mut self, src: &str) -> String {
        let Some(uploads) = self.shared.uploads else {
            if uploads_like(src) {
                self.not_looked_up += 1;
            }
            return src.to_string();
        };
        if uploads.relative(src).is_none() {
            return src.to_string();
        }
        let ext = src.rsplit('.').next().map(|e| e.split(['?', '#']).next().unwrap_or(e).to_ascii_lowercase()).unwrap_or_default();
        let found = match uploads.find(src) {
            Ok(found) => found.filter(|_| crate::images::EXTENSIONS.contains(&ext.as_str())),
            Err(why) => {
                self.missing.push(Missing { article: self.article.clone(), url: src.to_string(), refused: Some(why) });
                return src.to_string();
            }
        };
        let Some(found) = found else {
            self.missing.push(Missing { article: self.article.clone(), url: src.to_string(), refused: None });
            return src.to_string();
        };
        let name = match self.by_name.get(&found.file) {
            Some(n) => n.clone(),
            None => {
                let clean = bundle_name(&found.name);
                let mut name = clean.clone();
                let mut n = 2;
                while self.images.contains_key(&name) {
                    let (stem, ext) = clean.rsplit_once('.').unwrap_or((&clean, ""));
                    name = format!("{stem}-{n}.{ext}");
                    n += 1;
                }
                self.by_name.insert(found.file.clone(), name.clone());
                self.images.insert(name.clone(), (found.file.clone(), BTreeSet::new()));
                name
            }
        };
        if !self.shared.links.claims {
            return name;
        }
        let base_path = &self.shared.links.base_path;
        let entry = self.images.get_mut(&name).expect("inserted above");
        // Old paths are compared in NFC: of two uploads whose names differ
        // only in normalisation (`café.png` typed on Linux and on macOS),
        // the NFC-named one keeps them.
        let file_name = found.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !unicode_normalization::is_nfc(&file_name) && is_another_file(&found.file, &found.file.with_file_name(nfc(&file_name))) {
            let why = format!(
                "{}: old URLs of {} are left to {}, whose name is the same in NFC",
                self.article,
                found.file.display(),
                nfc(&file_name)
            );
            self.warnings.push(why);
            return name;
        }
        for old in found.old_paths.iter().map(|p| alias_path(&site_path(p, base_path))) {
            match crate::redirects::normalize_from(&old) {
                Ok(_) => {
                    entry.1.insert(old);
                }
                Err(why) => self.warnings.push(format!("{}: old image URL {old} is not redirected: it {why}", self.article)),
            }
        }
        name
    }

    fn same_image(&self, href: &str, src: &str) -> bool {
        // "Link to attachment page" around that attachment's own picture.
        if let Some(file) = self.shared.links.attachment_file(href) {
            return uploads::original_name(&uploads::url_path(file)) == uploads::original_name(&uploads::url_path(src));
        }
        match self.shared.uploads.map(|u| (u.relative(href), u.relative(src))) {
            Some((Some(a), Some(b))) => uploads::original_name(&a) == uploads::original_name(&b),
            _ => same_picture(href, src),
        }
    }
}

/// Whether `other` exists and is not the file `file` (on macOS an NFD name
/// and its NFC spelling open the same file).
fn is_another_file(file: &Path, other: &Path) -> bool {
    match (std::fs::metadata(file), std::fs::metadata(other)) {
        #[cfg(unix)]
        (Ok(a), Ok(b)) => {
            use std::os::unix::fs::MetadataExt;
            (a.dev(), a.ino()) != (b.dev(), b.ino())
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => true,
        _ => false,
    }
}

/// A decoded old path as a redirect can take it: spaces, control
/// characters, backslashes and what hosts read as syntax (`%`, `?`, `#`,
/// `:`, `*`) percent-encoded again (`a b.png` → `a%20b.png`).
fn alias_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_control() || matches!(c, ' ' | '\\' | '%' | '?' | '#' | ':' | '*' | '"' | '<' | '>' | '`' | '^' | '{' | '}' | '|') {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn uploads_like(url: &str) -> bool {
    url.contains("/wp-content/uploads/") || url.contains("/files/") || url.contains(".files.wordpress.com/")
}

/// Without an uploads folder: two URLs of one picture by their names alone.
fn same_picture(href: &str, src: &str) -> bool {
    let name = |u: &str| uploads::original_name(&uploads::url_path(u));
    uploads_like(href) && name(href) == name(src)
}

/// A file name safe in a bundle: NFC, no folders, no control characters,
/// no leading dot.
fn bundle_name(name: &str) -> String {
    let name: String = nfc(name).chars().map(|c| if c.is_control() || c == '/' || c == '\\' { '-' } else { c }).collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() { "image".into() } else { name.to_string() }
}

/// A login as `dc:creator` spells it, without stray markup around it
/// (WordPress's own test export has `>name` and `name>`).
fn clean_login(creator: &str) -> &str {
    creator.trim().trim_matches(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@')))
}

/// An author key for `content/authors.yaml` from a WordPress login.
fn author_key(login: &str) -> String {
    let lower = login.to_lowercase();
    if !lower.is_empty() && lower.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        lower
    } else {
        let s = slugify(login);
        if s.is_empty() { "author".into() } else { s }
    }
}

/// The export's authors that the imported items name and
/// `content/authors.yaml` lacks, to be added; existing entries are never
/// touched. E-mail addresses are not copied: an export has them, a public
/// site should not.
fn plan_authors(root: &Path, channel: &wxr::Channel, used: &BTreeSet<String>) -> anyhow::Result<NewAuthors> {
    let path = root.join(AUTHORS_FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let existing = crate::model::parse_authors(&text).map_err(|d| anyhow::anyhow!("{d}\nnothing was written"))?;
    let names: HashMap<&str, &str> = channel.authors.iter().map(|a| (a.login.as_str(), a.display_name.as_str())).collect();
    let mut add: BTreeMap<String, crate::model::Author> = BTreeMap::new();
    for login in used.iter().filter(|l| !l.is_empty()) {
        let key = author_key(login);
        if existing.contains_key(&key) || add.contains_key(&key) {
            continue;
        }
        let name = names.get(login.as_str()).map(|n| markdown::plain_text(n)).filter(|n| !n.is_empty()).unwrap_or_else(|| login.clone());
        add.insert(key, crate::model::Author { name, ..Default::default() });
    }
    Ok(NewAuthors { path, text, add })
}

/// Authors an import adds to `content/authors.yaml`.
struct NewAuthors {
    path: PathBuf,
    /// The file as it was.
    text: String,
    add: BTreeMap<String, crate::model::Author>,
}

impl NewAuthors {
    fn added(&self) -> Vec<String> {
        self.add.keys().cloned().collect()
    }

    fn write(&self) -> anyhow::Result<()> {
        if self.add.is_empty() {
            return Ok(());
        }
        let out: BTreeMap<_, _> = self.add.iter().map(|(k, a)| (k, AuthorOut { name: &a.name })).collect();
        let mut block = serde_norway::to_string(&out).expect("plain data serializes");
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            block.insert(0, '\n');
        }
        std::fs::create_dir_all(self.path.parent().expect("has a parent"))?;
        std::fs::write(&self.path, format!("{}{block}", self.text)).with_context(|| format!("cannot write {}", self.path.display()))
    }
}

#[derive(Serialize)]
struct AuthorOut<'a> {
    name: &'a str,
}

/// The `[[sites]]` entry for a site the export brings.
fn site_block(name: &str, c: &wxr::Channel, permalink: &str, export: &Path, offset_minutes: i64) -> anyhow::Result<String> {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let title = markdown::plain_text(&c.title);
    let title = if title.is_empty() { name.to_string() } else { title };
    let language = if c.language.is_empty() { "en".to_string() } else { c.language.clone() };
    let mut block = format!(
        "# Imported from WordPress ({}) by gen import wordpress.\n[[sites]]\nname = {}\ntitle = {}\nbase_url = {}\nlanguage = {}\n",
        file_name(export),
        q(name),
        q(&title),
        q(&site_base_url(c)),
        q(&language)
    );
    let description = markdown::plain_text(&c.description);
    if !description.is_empty() {
        block += &format!("description = {}\n", q(&description));
    }
    block += &format!("permalink = {}\n", q(permalink));
    // Dates in URLs are the site's local dates, as on WordPress. The export
    // knows only the offset: a whole-hour one is an `Etc/GMT` zone (whose
    // sign is the POSIX one, inverted).
    if offset_minutes % 60 == 0 && offset_minutes.abs() <= 14 * 60 {
        let hours = offset_minutes / 60;
        let zone = match hours {
            0 => "UTC".to_string(),
            h if h > 0 => format!("Etc/GMT-{h}"),
            h => format!("Etc/GMT+{}", -h),
        };
        block += &format!(
            "# The export's dates are at UTC{hours:+}: write the site's own zone here (e.g. \"Asia/Seoul\").\ntimezone = {}\n",
            q(&zone)
        );
    }
    Ok(block)
}

/// `sites.toml` with the new site's entry appended.
fn with_site(existing: &str, block: &str) -> String {
    let sep = if existing.is_empty() || existing.ends_with("\n\n") {
        ""
    } else if existing.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    format!("{existing}{sep}{block}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, link: &str, name: &str, date: &str) -> Entry {
        Entry {
            id,
            page: false,
            draft: false,
            protected: false,
            title: name.into(),
            post_name: name.into(),
            link_path: link.into(),
            date: DateTime::parse_from_rfc3339(date).unwrap(),
            modified: None,
            section: "economy".into(),
            old_slugs: vec![],
        }
    }

    fn live(_: &DateTime<FixedOffset>) -> String {
        String::new()
    }

    fn rules(permalink: &str) -> Placing<'_> {
        Placing { permalink, default_section: "posts", scope: Some("/"), prefix: &live }
    }

    #[test]
    fn permalinks_are_inferred_from_old_links() {
        let e =
            [entry(1, "/2023/12/05/a/", "a", "2023-12-05T10:00:00+09:00"), entry(2, "/2024/01/09/b/", "b", "2024-01-09T10:00:00+09:00")];
        assert_eq!(infer_permalink(&e), "/{year}/{month}/{day}/{slug}/");
        let e = [entry(1, "/economy/가/", "가", "2023-12-05T10:00:00+09:00")];
        assert_eq!(infer_permalink(&e), "/{section}/{slug}/");
        let e = [entry(1, "/archives/a/", "a", "2023-12-05T10:00:00+09:00")];
        assert_eq!(infer_permalink(&e), "/archives/{slug}/");
        let e = [entry(1, "/images/a/", "a", "2023-12-05T10:00:00+09:00")];
        assert_eq!(infer_permalink(&e), "/{section}/{slug}/", "never a permalink into gen's own folders");
        assert_eq!(infer_permalink(&[entry(1, "", "a", "2023-12-05T10:00:00Z")]), "/{section}/{slug}/");
    }

    #[test]
    fn aliases_cover_old_links_ids_and_old_slugs_but_never_a_new_page() {
        let mut a = entry(1, "/2023/12/a/", "a", "2023-12-05T10:00:00Z");
        a.old_slugs = vec!["b".into()];
        // `b` is the old slug of a and the current slug of another article.
        let b = entry(2, "/2023/12/b/", "b", "2023-12-06T10:00:00Z");
        let places = place_entries(&[a, b], &rules("/{section}/{slug}/"), &mut vec![]);
        assert_eq!(places[0].path, "/economy/a/");
        assert_eq!(places[0].aliases, ["/2023/12/a/", "/?p=1"]);
        assert_eq!(places[1].aliases, ["/2023/12/b/", "/?p=2"]);
    }

    #[test]
    fn equal_slugs_get_distinct_urls() {
        let places = place_entries(
            &[entry(1, "", "a", "2023-12-05T10:00:00Z"), entry(2, "", "a", "2023-12-05T10:00:00Z")],
            &rules("/{year}/{slug}/"),
            &mut vec![],
        );
        assert_eq!((places[0].path.as_str(), places[1].path.as_str()), ("/2023/a/", "/2023/a-2/"));
        assert_eq!(places[1].dir, "economy/a-2");
    }

    /// #24 case 8b: an export of the site's year archive (blog URL
    /// `…/2023backup`) imported into the site at `/`: old URLs keep their
    /// prefix, archived posts are placed under it, `?p=` is the archive's.
    #[test]
    fn an_export_of_a_year_archive_keeps_its_prefix() {
        assert_eq!(within("/2023backup/about/", "/"), Some("/2023backup/about/".into()));
        assert_eq!(within("/blog/2023/a/", "/blog/"), Some("/2023/a/".into()));
        assert_eq!(within("/blog", "/blog/"), Some("/".into()));
        assert_eq!(within("/blogger/a/", "/blog/"), None);
        assert_eq!(within("/other/", "/blog/"), None);
        let archived =
            |d: &DateTime<FixedOffset>| if chrono::Datelike::year(d) <= 2023 { "/2023backup".to_string() } else { String::new() };
        let rules =
            Placing { permalink: "/{year}/{month}/{slug}/", default_section: "posts", scope: Some("/2023backup/"), prefix: &archived };
        let mut page = entry(2, "/2023backup/about/", "about", "2023-01-02T10:00:00Z");
        page.page = true;
        let places = place_entries(&[entry(1, "/2023backup/2023/12/a/", "a", "2023-12-05T10:00:00Z"), page], &rules, &mut vec![]);
        assert_eq!(places[0].path, "/2023backup/2023/12/a/");
        assert_eq!(places[0].aliases, ["/2023backup/?p=1"], "its old URL is its URL; ?p= under the archive");
        assert_eq!((places[1].dir.as_str(), places[1].path.as_str()), ("2023backup/about", "/2023backup/about/"));
        assert_eq!(places[1].aliases, ["/2023backup/?page_id=2"], "never /about/ on the live site");
    }

    /// Review of #24: a page under `/authors/` looped for ever (every
    /// `-2` still lay under gen's author pages); pages named `images`,
    /// `assets` or `archives`, and an archived post whose slug is a list
    /// of its archive, took gen's own paths.
    #[test]
    fn pages_and_posts_never_take_gen_s_own_paths() {
        let page = |id: u64, link: &str, name: &str| {
            let mut e = entry(id, link, name, "2023-01-02T10:00:00Z");
            e.page = true;
            e
        };
        let entries = [
            page(1, "/authors/jane/", "jane"),
            page(2, "/images/", "images"),
            page(3, "/assets/", "assets"),
            page(4, "/archives/", "archives"),
            entry(5, "/2023/12/tags/", "tags", "2023-12-05T10:00:00Z"),
        ];
        let archived =
            |d: &DateTime<FixedOffset>| if chrono::Datelike::year(d) <= 2023 { "/2023backup".to_string() } else { String::new() };
        let rules = Placing { permalink: "/{slug}/", default_section: "posts", scope: Some("/"), prefix: &archived };
        let mut warnings = vec![];
        let places = place_entries(&entries, &rules, &mut warnings);
        let paths: Vec<&str> = places.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/authors-page/jane/", "/images-2/", "/assets-2/", "/archives-2/", "/2023backup/tags-2/"], "{warnings:?}");
        assert_eq!(places[0].dir, "authors-page/jane");
    }

    #[test]
    fn dates_use_gmt_and_the_sites_offset() {
        let seoul = FixedOffset::east_opt(9 * 3600).unwrap();
        assert_eq!(item_date("2023-12-05 00:30:00", "2023-12-05 09:30:00", seoul).unwrap().to_rfc3339(), "2023-12-05T09:30:00+09:00");
        assert_eq!(item_date("0000-00-00 00:00:00", "2023-12-05 09:30:00", seoul).unwrap().to_rfc3339(), "2023-12-05T09:30:00+09:00");
        assert_eq!(item_date("0000-00-00 00:00:00", "0000-00-00 00:00:00", seoul), None);
    }

    /// #24 case 7: old image URLs with `%20`, `%5C`, `%09`, `%0A`, `%1B`
    /// became aliases the build refused.
    #[test]
    fn old_image_urls_with_spaces_and_control_characters_stay_encoded() {
        for (decoded, encoded) in [
            ("/wp-content/uploads/a b.png", "/wp-content/uploads/a%20b.png"),
            ("/wp-content/uploads/a\\b.png", "/wp-content/uploads/a%5Cb.png"),
            ("/wp-content/uploads/a\tb\nc\u{1b}d.png", "/wp-content/uploads/a%09b%0Ac%1Bd.png"),
            ("/wp-content/uploads/100%.png", "/wp-content/uploads/100%25.png"),
            ("/wp-content/uploads/사진.png", "/wp-content/uploads/사진.png"),
        ] {
            let alias = alias_path(decoded);
            assert_eq!(alias, encoded);
            crate::redirects::normalize_from(&alias).unwrap_or_else(|e| panic!("{alias}: {e}"));
        }
    }

    #[test]
    fn author_keys_are_safe() {
        assert_eq!(author_key("Kim"), "kim");
        assert_eq!(author_key("김 기자"), "김-기자");
        assert_eq!(author_key("a@b.c"), "a-b-c");
    }
}
