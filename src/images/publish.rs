//! The images stage of a site: publishes what its articles show. Originals
//! are linked as they are; photos publish their variants, from the variant
//! cache or encoded now (each photo decoded once for all its missing
//! variants). Files go into the site's own `images/`, or, for a site with
//! `images_url`, into the shared tree `<output>/_images/`, where each file
//! is published once however many sites use it ([`SharedImages`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use super::Addressed;
use super::store::VariantStore;
use super::variants::{Variant, VariantSet};
use super::{SHARED_IMAGES_DIR, SHARED_IMAGES_PREFIX};
use crate::cache::{self, Dep, OutputRecord, SiteState};
use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::{self, Stamp};
use crate::write::{Publisher, Recovery, WriteFailures};

/// Where variants are cached, under the cache folder.
pub const VARIANTS_DIR: &str = "variants";

/// An image file of the site's output: its path, record and whether it was staged.
pub type ImageFile = (String, OutputRecord, bool);

/// What the images stage did for a site (`--json`: `images`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct ImageReport {
    /// Variants the site publishes.
    pub variants: usize,
    /// Variants encoded by this build.
    pub encoded: usize,
    /// Variants read from the variant cache instead of being encoded.
    pub cache_hits: usize,
    /// Originals published as they are (SVG, GIF, …; photos when resizing is off).
    pub originals: usize,
    /// Bytes of image files staged for publishing.
    pub bytes_written: u64,
    /// With `--shard`: variants that fall in the shard, and those of them
    /// already in the store (the others were encoded and uploaded).
    pub in_shard: usize,
    pub in_store: usize,
}

#[derive(Default)]
struct Counts {
    variants: AtomicUsize,
    encoded: AtomicUsize,
    cache_hits: AtomicUsize,
    originals: AtomicUsize,
    bytes: AtomicU64,
    in_shard: AtomicUsize,
    in_store: AtomicUsize,
}

/// A part of the variant work (`gen build --shard I/N`): the variants
/// whose key falls in it. Keys are hashes, so the parts are even and a
/// variant stays in its part when others are added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// 1-based, as `I` in `I/N`.
    pub index: u64,
    pub total: u64,
}

impl Shard {
    pub fn holds(&self, key: &discover::Hash) -> bool {
        let n = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
        n % self.total == self.index - 1
    }

    /// `I/N` (1 ≤ I ≤ N); `auto` takes both from GitLab's `CI_NODE_INDEX`
    /// and `CI_NODE_TOTAL`; `auto/N` the index from `CI_NODE_INDEX` or
    /// Kubernetes' 0-based `JOB_COMPLETION_INDEX`.
    pub fn parse(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let num = |v: &str, what: &str| v.trim().parse::<u64>().map_err(|_| format!("{what} `{v}` is not a number"));
        let (index, total) = match s.split_once('/') {
            _ if s == "auto" => {
                let index = env("CI_NODE_INDEX").ok_or("--shard auto needs CI_NODE_INDEX and CI_NODE_TOTAL (GitLab's `parallel:`)")?;
                let total = env("CI_NODE_TOTAL").ok_or("--shard auto needs CI_NODE_TOTAL")?;
                (num(&index, "CI_NODE_INDEX")?, num(&total, "CI_NODE_TOTAL")?)
            }
            Some(("auto", total)) => {
                let index = match (env("CI_NODE_INDEX"), env("JOB_COMPLETION_INDEX")) {
                    (Some(i), _) => num(&i, "CI_NODE_INDEX")?,
                    (None, Some(i)) => num(&i, "JOB_COMPLETION_INDEX")? + 1,
                    (None, None) => return Err("--shard auto/N needs CI_NODE_INDEX (1-based) or JOB_COMPLETION_INDEX (0-based)".into()),
                };
                (index, num(total, "the shard count")?)
            }
            Some((i, n)) => (num(i, "the shard")?, num(n, "the shard count")?),
            None => return Err(format!("--shard `{s}`: give I/N (this machine's part I of N, from 1), auto or auto/N")),
        };
        if total == 0 || index == 0 || index > total {
            return Err(format!("shard {index}/{total}: the part must be from 1 to {total}"));
        }
        Ok(Shard { index, total })
    }
}

/// Where a site's image files go.
pub enum Dest<'a> {
    /// Its own `images/`: the files are outputs of the site.
    /// `previous` is of a state sealed at `sealed_ns` ([`Stamp::holds`]).
    Site { publisher: &'a Publisher, previous: &'a BTreeMap<String, OutputRecord>, sealed_ns: i128 },
    /// The shared tree: the site only records which files it uses.
    Shared(&'a SharedImages),
}

/// The images stage of one site.
pub struct Stage<'a> {
    pub root: &'a Path,
    pub site: &'a str,
    pub dest: Dest<'a>,
    pub store: &'a dyn VariantStore,
    pub failures: &'a WriteFailures,
    /// Called once per image published (progress).
    pub tick: &'a (dyn Fn() + Sync),
    /// Publish originals as hard links (`hard_links`), not clones or copies.
    pub hard_links: bool,
    /// Only encode and store this shard's variants; publish nothing.
    pub shard: Option<Shard>,
    /// The tree `dest` publishes into, for checking that files are intact.
    out: discover::Tree,
    counts: Counts,
}

impl<'a> Stage<'a> {
    pub fn new(
        root: &'a Path,
        site: &'a str,
        dest: Dest<'a>,
        store: &'a dyn VariantStore,
        failures: &'a WriteFailures,
        tick: &'a (dyn Fn() + Sync),
    ) -> Self {
        let out = match &dest {
            Dest::Site { publisher, sealed_ns, .. } => discover::Tree::open(publisher.out_dir()).sealed_at(*sealed_ns),
            Dest::Shared(s) => discover::Tree::open(s.publisher.out_dir()).sealed_at(s.previous.sealed_ns),
        };
        Stage { root, site, dest, store, failures, tick, hard_links: false, shard: None, out, counts: Counts::default() }
    }

    pub fn report(&self) -> ImageReport {
        let c = &self.counts;
        ImageReport {
            variants: c.variants.load(Ordering::Relaxed),
            encoded: c.encoded.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            originals: c.originals.load(Ordering::Relaxed),
            bytes_written: c.bytes.load(Ordering::Relaxed),
            in_shard: c.in_shard.load(Ordering::Relaxed),
            in_store: c.in_store.load(Ordering::Relaxed),
        }
    }

    fn publisher(&self) -> &Publisher {
        match &self.dest {
            Dest::Site { publisher, .. } => publisher,
            Dest::Shared(s) => &s.publisher,
        }
    }

    /// The path of a file in its tree: site-relative, or in the shared tree
    /// without the `images/` prefix.
    fn tree_rel<'r>(&self, rel: &'r str) -> &'r str {
        match &self.dest {
            Dest::Site { .. } => rel,
            Dest::Shared(_) => rel.strip_prefix(SHARED_IMAGES_PREFIX).unwrap_or(rel),
        }
    }

    /// Whether this site is the one to publish `rel` in this build (always
    /// in its own folder; in the shared tree only the first site that
    /// claims it). Records the use either way.
    fn claim(&self, rel: &str) -> bool {
        match &self.dest {
            Dest::Site { .. } => true,
            Dest::Shared(s) => s.claim(self.site, rel),
        }
    }

    /// The record of `rel` from the previous build, if the file is still
    /// there as published and was made from `input`.
    fn previous(&self, rel: &str) -> Option<OutputRecord> {
        match &self.dest {
            Dest::Site { previous, .. } => previous.get(rel).copied(),
            Dest::Shared(s) => s.previous.outputs.get(rel).copied(),
        }
    }

    /// Asks the store ahead, many at once, for the variants of `images` this
    /// build will read (those not left in place), or for a shard whether
    /// its variants are there.
    pub fn prefetch<'i>(&self, images: impl Iterator<Item = &'i Addressed>) {
        if !self.store.fetches() {
            return;
        }
        let variants = images.filter_map(|i| i.variants.as_ref()).flat_map(VariantSet::all);
        let keys: Vec<discover::Hash> = match self.shard {
            Some(shard) => variants.filter(|v| shard.holds(&v.key)).map(|v| v.key).collect(),
            None => variants.filter(|v| self.kept(self.tree_rel(&v.rel), &v.key).is_none()).map(|v| v.key).collect(),
        };
        self.store.prefetch(&keys, self.shard.is_some());
    }

    fn kept(&self, rel: &str, input: &discover::Hash) -> Option<OutputRecord> {
        let previous = self.previous(rel)?;
        (previous.input == *input && self.out.holds(rel, &previous.stamp)).then_some(previous)
    }

    /// A file this site publishes: returned for its outputs, or settled in the shared tree.
    fn done(&self, rel: &str, record: OutputRecord, staged: bool, out: &mut Vec<ImageFile>) {
        match &self.dest {
            Dest::Site { .. } => out.push((rel.to_string(), record, staged)),
            Dest::Shared(s) => s.settle(rel, record, staged),
        }
    }

    /// Publishes one image: its original, or every variant of a photo.
    /// `origin` names the article that shows it, for messages.
    pub fn publish(&self, image: &Addressed, origin: impl FnOnce() -> Option<PathBuf>) -> Result<Vec<ImageFile>, Diagnostics> {
        let mut out = Vec::new();
        // A required store failed: the build fails after this stage, so
        // nothing more is encoded for it.
        if self.store.stopped() {
            return Ok(out);
        }
        match (&image.variants, self.shard) {
            (None, None) => self.original(image, &mut out)?,
            (Some(set), None) => self.variants(image, set, origin, &mut out)?,
            (Some(set), Some(shard)) => self.shard_variants(image, set, shard, origin)?,
            // Published as they are: nothing to encode.
            (None, Some(_)) => {}
        }
        (self.tick)();
        Ok(out)
    }

    fn original(&self, image: &Addressed, out: &mut Vec<ImageFile>) -> Result<(), Diagnostics> {
        let (rel, hash) = (self.tree_rel(&image.rel), image.record.hash);
        self.counts.originals.fetch_add(1, Ordering::Relaxed);
        if !self.claim(rel) {
            return Ok(());
        }
        // How it is published is part of its input: switching `hard_links`
        // off replaces the links with clones or copies.
        let input = if self.hard_links { discover::hash_bytes(&[&hash[..], b"hard link"].concat()) } else { hash };
        if let Some(r) = self.kept(rel, &input) {
            self.done(rel, r, false, out);
            return Ok(());
        }
        // A hard-linked source rewritten with the same bytes changes the
        // published file's mtime, not its content; another site linking the
        // same source moves its ctime. Read again, it is kept as it is.
        let published = self.publisher().out_dir().join(rel);
        if let Some(r) = self.previous(rel).filter(|r| self.hard_links && r.input == input && r.content == hash)
            && discover::hash_file(&published).is_ok_and(|h| h == hash)
            && let Ok(m) = std::fs::metadata(&published)
        {
            self.done(rel, OutputRecord { stamp: Stamp::of(&m), ..r }, false, out);
            return Ok(());
        }
        let publisher = self.publisher();
        let staged = publisher.stage_file(rel, &self.root.join(&image.source), self.hard_links);
        let (stamp, _) = staged.map_err(|e| self.failures.record(publisher.out_dir().join(rel), e))?;
        // The name is the hash of the bytes addressed: a source replaced
        // since must not go out under it (it is cached for good).
        if publisher.staged_hash(rel).ok() != Some(hash) {
            let d = Diagnostic::new(&image.source, None, "changed while it was being published");
            return Err(Diagnostics::one(d.hint("build again")));
        }
        self.counts.bytes.fetch_add(stamp.size, Ordering::Relaxed);
        self.done(rel, OutputRecord { input, content: hash, stamp }, true, out);
        Ok(())
    }

    /// Every variant of a photo: left in place when published before from
    /// the same key, else from the variant cache, else encoded and cached.
    fn variants(
        &self,
        image: &Addressed,
        set: &VariantSet,
        origin: impl FnOnce() -> Option<PathBuf>,
        out: &mut Vec<ImageFile>,
    ) -> Result<(), Diagnostics> {
        let mut missing: Vec<&Variant> = Vec::new();
        for v in set.all() {
            self.counts.variants.fetch_add(1, Ordering::Relaxed);
            let rel = self.tree_rel(&v.rel);
            if !self.claim(rel) {
                continue;
            }
            if let Some(r) = self.kept(rel, &v.key) {
                self.done(rel, r, false, out);
                continue;
            }
            match self.store.get(&v.key) {
                Ok(Some(bytes)) => {
                    self.counts.cache_hits.fetch_add(1, Ordering::Relaxed);
                    self.stage(v, &bytes, out)?;
                }
                // An unreadable cache entry costs an encode, nothing more.
                Ok(None) | Err(_) => missing.push(v),
            }
        }
        for (v, bytes) in self.encode(image, set, missing, origin)? {
            // A cache that cannot be written costs the next build an encode
            // (a required remote fails the build after this stage).
            self.store.put(&v.key, &bytes).ok();
            self.stage(v, &bytes, out)?;
        }
        Ok(())
    }

    /// This shard's variants of a photo: stored already, or encoded and
    /// stored now. Nothing is staged.
    fn shard_variants(
        &self,
        image: &Addressed,
        set: &VariantSet,
        shard: Shard,
        origin: impl FnOnce() -> Option<PathBuf>,
    ) -> Result<(), Diagnostics> {
        let mut missing: Vec<&Variant> = Vec::new();
        for v in set.all().filter(|v| shard.holds(&v.key)) {
            self.counts.in_shard.fetch_add(1, Ordering::Relaxed);
            match self.store.has(&v.key) {
                Ok(true) => {
                    self.counts.in_store.fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) | Err(_) => missing.push(v),
            }
        }
        for (v, bytes) in self.encode(image, set, missing, origin)? {
            self.store.put(&v.key, &bytes).ok();
        }
        Ok(())
    }

    /// Encodes `missing` from the image's source (checked to be the bytes
    /// addressed), counting them.
    fn encode<'v>(
        &self,
        image: &Addressed,
        set: &VariantSet,
        missing: Vec<&'v Variant>,
        origin: impl FnOnce() -> Option<PathBuf>,
    ) -> Result<Vec<(&'v Variant, Vec<u8>)>, Diagnostics> {
        if missing.is_empty() {
            return Ok(vec![]);
        }
        let encoded = std::fs::read(self.root.join(&image.source)).map_err(|e| e.to_string()).and_then(|bytes| {
            // The bytes must be the ones addressed: a file replaced since
            // would be published under another image's name.
            if discover::hash_bytes(&bytes) != image.record.hash {
                return Err("it changed during the build; build again".to_string());
            }
            super::encode::encode_all(&bytes, &missing, set.avif_speed)
        });
        let encoded = encoded.map_err(|why| {
            let d = match origin() {
                Some(article) => {
                    let line = reference_line(self.root, &article, &image.source);
                    Diagnostic::new(article, line, format!("image {} cannot be decoded: {why}", image.source))
                }
                None => Diagnostic::new(&image.source, None, format!("image cannot be decoded: {why}")),
            };
            Diagnostics::one(d.hint("open the image in an image editor and save it again as JPEG, PNG or WebP; nothing was published"))
        })?;
        self.counts.encoded.fetch_add(missing.len(), Ordering::Relaxed);
        Ok(missing.into_iter().zip(encoded).collect())
    }

    fn stage(&self, v: &Variant, bytes: &[u8], out: &mut Vec<ImageFile>) -> Result<(), Diagnostics> {
        let rel = self.tree_rel(&v.rel);
        let publisher = self.publisher();
        let stamp = publisher.stage(rel, bytes).map_err(|e| self.failures.record(publisher.out_dir().join(rel), e))?;
        self.counts.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.done(rel, OutputRecord { input: v.key, content: discover::hash_bytes(bytes), stamp }, true, out);
        Ok(())
    }
}

/// The first line of an article that names an image's file, for messages.
fn reference_line(root: &Path, article: &Path, source: &str) -> Option<usize> {
    let name = source.rsplit('/').next()?;
    let text = std::fs::read_to_string(root.join(article)).ok()?;
    text.lines().position(|l| l.contains(name)).map(|i| i + 1)
}

/// `_headers` of the shared tree: every file is content-addressed.
const SHARED_HEADERS: &str = "/*\n  Cache-Control: public, max-age=31536000, immutable\n  Access-Control-Allow-Origin: *\n";

/// The shared image tree, `<output>/_images/`: every site with `images_url`
/// publishes its images here, each file once. Its state lists the files
/// and, per site, the files the site uses; a file is removed when no site
/// uses it any more. New files are published before the sites (their
/// pages link them), removals after (old pages linked them).
pub struct SharedImages {
    publisher: Publisher,
    previous: SiteState,
    /// Files of this build: `None` while the claiming site publishes it.
    files: Mutex<BTreeMap<String, Option<(OutputRecord, bool)>>>,
    /// Files each site built in this build uses.
    uses: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// A file of the previous build is missing or changed.
    pub damaged: bool,
    pub warning: Option<String>,
}

/// The state file of the shared tree, in the cache folder.
fn state_path(cache_dir: &Path) -> PathBuf {
    cache::state_path(cache_dir, SHARED_IMAGES_DIR)
}

impl SharedImages {
    /// Opens the tree, finishing what an interrupted build left.
    pub fn open(output: &Path, cache_dir: &Path) -> std::io::Result<SharedImages> {
        let dir = SHARED_IMAGES_DIR;
        let (publisher, recovery) = Publisher::open(output, dir, &state_path(cache_dir))?;
        let out_dir = output.join(dir);
        let (previous, mut warning) = match cache::load(&state_path(cache_dir)) {
            Ok(Some(s)) if s.output_dir == out_dir => (Some(s), None),
            Ok(_) => (None, None),
            Err(e) => (None, Some(format!("cache ignored: {e}"))),
        };
        // `_images/` is gen's by name (no site may take it): without a
        // state its files are taken as gen's, and every site that shares
        // it builds to say again which it uses.
        let lost = previous.is_none() && out_dir.exists();
        let mut previous = previous.unwrap_or_default();
        if let Some(Recovery { warning: w, moved }) = recovery {
            warning = Some(w);
            for m in moved {
                previous.outputs.entry(m).or_default();
            }
        }
        previous.output_dir = out_dir;
        previous.sealed_ns = discover::changed_ns(&state_path(cache_dir));
        let damaged = lost || {
            let out = discover::Tree::open(&previous.output_dir).sealed_at(previous.sealed_ns);
            !previous.outputs.par_iter().all(|(rel, r)| out.holds(rel, &r.stamp))
        };
        Ok(SharedImages { publisher, previous, files: Mutex::default(), uses: Mutex::default(), damaged, warning })
    }

    fn claim(&self, site: &str, rel: &str) -> bool {
        self.uses.lock().expect("no panics while held").entry(site.to_string()).or_default().insert(rel.to_string());
        let mut files = self.files.lock().expect("no panics while held");
        if files.contains_key(rel) {
            return false;
        }
        files.insert(rel.to_string(), None);
        true
    }

    fn settle(&self, rel: &str, record: OutputRecord, staged: bool) {
        self.files.lock().expect("no panics while held").insert(rel.to_string(), Some((record, staged)));
    }

    /// Whether a site claimed a file of the tree and never staged it (it
    /// failed on it): another site may show that file, and was told the
    /// claimant would publish it.
    pub fn unsettled(&self) -> bool {
        self.files.lock().expect("no panics while held").values().any(Option::is_none)
    }

    /// Sites that failed to build: their previous pages stay published, and
    /// so does every shared image those show, whatever they claimed before
    /// failing.
    pub fn forget(&self, sites: &[String]) {
        let mut uses = self.uses.lock().expect("no panics while held");
        for site in sites {
            uses.remove(site);
        }
    }

    /// A site that uses the tree but published nothing this build still
    /// counts as a user (with no files).
    pub fn built(&self, site: &str) {
        self.uses.lock().expect("no panics while held").entry(site.to_string()).or_default();
    }

    pub fn discard(&self) {
        self.publisher.discard().ok();
    }

    /// Before the sites: publishes every new file of the tree (and its
    /// `_headers`), removing nothing yet.
    pub fn publish_new(&self) -> Result<(), Diagnostics> {
        let failures = WriteFailures::default();
        let headers = SHARED_HEADERS.as_bytes();
        let content = discover::hash_bytes(headers);
        let out_dir = self.publisher.out_dir();
        let intact = |rel: &str, r: &OutputRecord| {
            std::fs::metadata(out_dir.join(rel)).is_ok_and(|m| Stamp::of(&m).holds(&r.stamp, self.previous.sealed_ns))
        };
        let mut files = self.files.lock().expect("no panics while held");
        match self.previous.outputs.get("_headers").filter(|r| r.content == content && intact("_headers", r)) {
            Some(r) => files.insert("_headers".into(), Some((*r, false))),
            None => match self.publisher.stage("_headers", headers) {
                Ok(stamp) => files.insert("_headers".into(), Some((OutputRecord { input: content, content, stamp }, true))),
                Err(e) => {
                    failures.record(out_dir.join("_headers"), e);
                    return Err(failures.take(&self.publisher));
                }
            },
        };
        let moves: Vec<String> = files.iter().filter(|(_, f)| matches!(f, Some((_, true)))).map(|(k, _)| k.clone()).collect();
        let mut diags = Diagnostics::default();
        for c in self.publisher.conflicts(&moves, &[], |_| true) {
            diags
                .push(Diagnostic::new(&c.path, None, c.why).hint("move or remove it: gen only replaces and deletes files it wrote itself"));
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        // Until the removals, the tree holds the previous files and the new,
        // and a site uses what it used before and what it uses now: a build
        // stopped before the removals must not forget either.
        let mut state = self.previous.clone();
        for (rel, f) in files.iter() {
            if let Some((r, _)) = f {
                state.outputs.insert(rel.clone(), *r);
            }
        }
        for (site, rels) in self.uses.lock().expect("no panics while held").iter() {
            let deps = state.deps.entry(site.clone()).or_default();
            let known: BTreeSet<String> = deps.iter().map(|d| d.rel.clone()).collect();
            deps.extend(rels.iter().filter(|r| !known.contains(*r)).map(|rel| Dep { source: String::new(), rel: rel.clone() }));
        }
        let done = self.publisher.commit(moves, vec![], Some(&cache::encode(&state))).map(drop);
        done.map_err(|e| Diagnostics::one(Diagnostic::new(out_dir, None, format!("cannot publish the shared images: {e}"))))
    }

    /// Whether an earlier build left a shared tree in this output folder
    /// (its state says so; a state of another `--output` is not this one's).
    /// (A state that does not load is opened, to say so.)
    pub fn was_published(output: &Path, cache_dir: &Path) -> bool {
        match cache::load(&state_path(cache_dir)) {
            Ok(Some(s)) => s.output_dir == output.join(SHARED_IMAGES_DIR),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// After the sites: removes the files no site uses, the uses of the
    /// sites of `sharing` that were not built (skipped, or not selected)
    /// taken from the previous build, and saves the state. With no site
    /// sharing any more, the whole tree goes, its state and folders too.
    pub fn finish(&self, sharing: &[String], cache_dir: &Path) -> Result<(), Diagnostics> {
        let files = self.files.lock().expect("no panics while held");
        let uses = self.uses.lock().expect("no panics while held");
        let mut deps: BTreeMap<String, Vec<Dep>> = BTreeMap::new();
        for site in sharing {
            let rels: Vec<String> = match uses.get(site) {
                Some(u) => u.iter().cloned().collect(),
                None => self.previous.deps.get(site).map(|d| d.iter().map(|d| d.rel.clone()).collect()).unwrap_or_default(),
            };
            deps.insert(site.clone(), rels.into_iter().map(|rel| Dep { source: String::new(), rel }).collect());
        }
        let retired = sharing.is_empty();
        let used: BTreeSet<&str> =
            deps.values().flatten().map(|d| d.rel.as_str()).chain(["_headers"].into_iter().filter(|_| !retired)).collect();
        let mut outputs = self.previous.outputs.clone();
        for (rel, f) in files.iter() {
            if let Some((r, _)) = f {
                outputs.insert(rel.clone(), *r);
            }
        }
        let removes: Vec<String> = outputs.keys().filter(|k| !used.contains(k.as_str())).cloned().collect();
        for r in &removes {
            outputs.remove(r);
        }
        let out_dir = self.publisher.out_dir();
        let mut diags = Diagnostics::default();
        for c in self.publisher.conflicts(&[], &removes, |_| true) {
            diags.push(Diagnostic::new(&c.path, None, c.why).hint("move or remove it: gen only deletes files it wrote itself"));
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        let state = SiteState { output_dir: out_dir.to_path_buf(), outputs, deps, ..Default::default() };
        let done = self.publisher.commit(vec![], removes, Some(&cache::encode(&state))).map(drop);
        let failed =
            |e: std::io::Error| Diagnostics::one(Diagnostic::new(out_dir, None, format!("cannot remove unused shared images: {e}")));
        done.map_err(failed)?;
        if retired {
            // Folders left empty, then the state: the next build has no tree to open.
            remove_empty_dirs(out_dir).map_err(failed)?;
            std::fs::remove_file(state_path(cache_dir))
                .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
                .map_err(failed)?;
        }
        Ok(())
    }
}

/// Removes `dir` and the folders under it that hold nothing (a file
/// someone else put there keeps its folders).
fn remove_empty_dirs(dir: &Path) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries {
        let e = e?;
        if e.file_type()?.is_dir() {
            remove_empty_dirs(&e.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        // Not empty: a file gen did not write.
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_keys_once_and_read_ci_variables() {
        let shards: Vec<Shard> = (1..=3).map(|i| Shard::parse(&format!("{i}/3"), |_| None).unwrap()).collect();
        for k in 0..300u32 {
            let key = discover::hash_bytes(&k.to_le_bytes());
            assert_eq!(shards.iter().filter(|s| s.holds(&key)).count(), 1, "every key in exactly one part");
        }
        let env =
            |vars: &'static [(&'static str, &'static str)]| move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        assert_eq!(Shard::parse("auto", env(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "4")])), Ok(Shard { index: 2, total: 4 }));
        // Kubernetes counts from 0.
        assert_eq!(Shard::parse("auto/8", env(&[("JOB_COMPLETION_INDEX", "0")])), Ok(Shard { index: 1, total: 8 }));
        assert!(Shard::parse("auto", env(&[])).unwrap_err().contains("CI_NODE_INDEX"));
        for bad in ["0/3", "4/3", "1/0", "x/3", "3"] {
            assert!(Shard::parse(bad, |_| None).is_err(), "{bad}");
        }
    }

    /// Review of #21: a build stopped after the new shared files were
    /// published, before the removals, left a state without its sites' new
    /// uses; the next build (sites skipped) removed files pages showed.
    #[test]
    fn the_state_after_publishing_new_shared_files_keeps_every_use() {
        let dir = tempfile::tempdir().unwrap();
        let (out, cache) = (dir.path().join("public"), dir.path().join(".gen"));
        let shared = SharedImages::open(&out, &cache).unwrap();
        assert!(shared.claim("a", "ab/x.webp"));
        assert!(!shared.claim("b", "ab/x.webp"), "one publisher per file");
        let stamp = shared.publisher.stage("ab/x.webp", b"webp").unwrap();
        let content = discover::hash_bytes(b"webp");
        shared.settle("ab/x.webp", OutputRecord { input: [1; 32], content, stamp }, true);
        shared.publish_new().unwrap();
        drop(shared);
        let again = SharedImages::open(&out, &cache).unwrap();
        for site in ["a", "b"] {
            assert!(again.previous.deps[site].iter().any(|d| d.rel == "ab/x.webp"), "{site}: {:?}", again.previous.deps);
        }
        assert!(out.join("_images/ab/x.webp").is_file() && !again.damaged);
    }
}
