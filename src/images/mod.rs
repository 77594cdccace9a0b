//! Images referenced by articles: resolved safely against the page bundle or
//! the `assets/` folders, and published once per site at a sharded,
//! content-addressed path `images/<aa>/<bb>/<blake3>.<ext>`, so no output
//! folder grows past 256 entries per level and a CDN can cache forever.
//!
//! JPEG, PNG and WebP photos are not published as they are but as
//! [`variants`] (resized WebP/AVIF copies and one fallback in their own
//! format), made by [`encode`] and kept in the [`store`] between builds.

pub(crate) mod encode;
pub(crate) mod publish;
pub(crate) mod remote;
pub(crate) mod store;
pub(crate) mod variants;

use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::discover::{self, Hash, Stamp};
use variants::{ImageSettings, VariantSet};

/// A source's extension in lower case (`bin` without one).
/// An SVG's size from its root element: `width` and `height` in pixels
/// (`200`, `200px`), else the `viewBox`'s, the missing one of the two
/// from its aspect ratio; `None` for other units (`em`, `%`) and no `viewBox`.
fn svg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let root = loop {
        match reader.read_event_into(&mut buf).ok()? {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => break e.into_owned(),
            quick_xml::events::Event::Eof => return None,
            _ => buf.clear(),
        }
    };
    if root.local_name().into_inner() != "svg" {
        return None;
    }
    let attr = |name: &str| -> Option<String> {
        let a = root.attributes().flatten().find(|a| a.key.local_name().into_inner() == name)?;
        Some(a.value.trim().to_string())
    };
    let px = |v: Option<String>| -> Option<f64> {
        let v = v?;
        let n: f64 = v.strip_suffix("px").unwrap_or(&v).trim().parse().ok()?;
        (n.is_finite() && n > 0.0).then_some(n)
    };
    let (w, h) = (px(attr("width")), px(attr("height")));
    let view = attr("viewBox").and_then(|v| {
        let n: Vec<f64> = v.split([' ', ',']).filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
        (n.len() == 4 && n[2] > 0.0 && n[3] > 0.0).then(|| (n[2], n[3]))
    });
    let (w, h) = match (w, h, view) {
        (Some(w), Some(h), _) => (w, h),
        (Some(w), None, Some((vw, vh))) => (w, w * vh / vw),
        (None, Some(h), Some((vw, vh))) => (h * vw / vh, h),
        (None, None, Some(v)) => v,
        _ => return None,
    };
    let round = |x: f64| (x.round() as u32).max(1);
    Some((round(w), round(h)))
}

fn extension(source: &Path) -> String {
    source.extension().and_then(|e| e.to_str()).unwrap_or("bin").to_ascii_lowercase()
}

/// The folder under the output root that holds the images of every site
/// with `images_url`, each file once; no site may take its name.
pub const SHARED_IMAGES_DIR: &str = "_images";

/// What a site's image paths start with; the shared tree drops it.
pub const SHARED_IMAGES_PREFIX: &str = "images/";

/// Where a site publishes an image's path (its own `images/` or the shared
/// host): what a view of an image needs of the site's configuration.
pub trait ImageUrls {
    /// Root-relative, or absolute on the shared host.
    fn image_url(&self, rel: &str) -> String;
    /// Always absolute (feeds, `og:image`).
    fn image_permalink(&self, rel: &str) -> String;
}

pub const EXTENSIONS: [&str; 8] = ["png", "jpg", "jpeg", "gif", "webp", "svg", "avif", "ico"];

/// What the cache keeps of an image source: enough to address it and to
/// size its `<img>` without reading it again while its stamp is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub stamp: Stamp,
    pub hash: Hash,
    /// As shown: after the EXIF orientation (when `still` is known).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// `None`: the size was read without a decoder (resizing off, or a
    /// format without variants); else whether the decoder found a still
    /// image (`false`: animated, published as it is).
    pub still: Option<bool>,
}

/// An image source with its published path.
#[derive(Debug, Clone, PartialEq)]
pub struct Addressed {
    /// Repo-relative source path, `/`-separated.
    pub source: String,
    /// Site-relative path of the file that stands for the image: the
    /// original (`images/<aa>/<bb>/<hash>.<ext>`) or, for a photo with
    /// variants, its fallback variant.
    pub rel: String,
    pub record: ImageRecord,
    /// The resized copies published instead of the original.
    pub variants: Option<VariantSet>,
}

impl Addressed {
    /// Width and height of the file at [`Addressed::rel`].
    pub fn size(&self) -> (Option<u32>, Option<u32>) {
        match &self.variants {
            Some(v) => (Some(v.fallback.width), Some(v.fallback.height)),
            None => (self.record.width, self.record.height),
        }
    }
}

/// A cover or body image as templates see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageView {
    /// Root-relative (or, for external images, the URL as written). For a
    /// photo with variants, its fallback (`social` wide, its own format).
    pub url: String,
    /// Absolute, for feeds and `og:image`.
    pub permalink: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// MIME type from the extension (empty when unknown).
    pub mime: &'static str,
    /// File size in bytes of a published original (0 for external images
    /// and variants, whose size is known only once encoded).
    pub size: u64,
    /// Modern formats, best first, for `<source type srcset sizes>`.
    pub sources: Vec<SourceView>,
    /// The `sizes` attribute configured for article images.
    pub sizes: String,
    /// The list thumbnail (first modern format at the `thumbnail` width).
    pub thumb: Option<VariantView>,
    /// Every variant, all formats, by format then width.
    pub variants: Vec<VariantView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceView {
    pub mime: &'static str,
    pub srcset: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantView {
    pub url: String,
    pub width: u32,
    pub height: u32,
    pub mime: &'static str,
}

/// How the `images/` folder is split: `levels` folders deep, each level named
/// by `chars` hex digits of the hash (2 → 256 folders per level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shards {
    pub levels: usize,
    pub chars: usize,
}

impl Default for Shards {
    fn default() -> Self {
        Shards { levels: 2, chars: 2 }
    }
}

/// Image records by repository-relative source path (a fast hash: the
/// preview looks up every article's images on every build), in the order
/// they were first recorded: a catalog marks the ones it uses by index.
pub type Records = indexmap::IndexMap<String, ImageRecord, rustc_hash::FxBuildHasher>;

/// How [`Catalog::resolve`] says a file is there but does not decode.
const UNREADABLE: &str = "not a readable image";

/// Every image source a site's build has addressed, shared by all render
/// threads. Sources are re-hashed only when their stamp changed since the
/// previous build.
pub struct Catalog {
    /// The repository, held open: every image of a site is stat'ed by its
    /// repo-relative path at each build.
    repo: discover::Tree,
    shards: Shards,
    settings: ImageSettings,
    previous: Records,
    /// By index in `previous`: taken as it is by a trusting catalog. Those
    /// records carry forward ([`Catalog::into_records`]) without a lock or
    /// a copy of their path per use: a preview rebuild looks up every
    /// image of the site at least twice.
    used: Vec<AtomicBool>,
    sealed_ns: i128,
    /// Records read (or checked against their stamp) by this build.
    current: Mutex<Records>,
    /// What may have changed since `previous` ([`Catalog::trusting`]).
    trust: Option<discover::Changed>,
}

impl Catalog {
    /// `previous` holds the records of a state sealed at `sealed_ns`
    /// ([`Stamp::holds`]); `content` is the site's content folder
    /// (repo-relative), where most of its images are.
    pub fn new(root: &Path, content: &str, shards: Shards, settings: ImageSettings, previous: Records, sealed_ns: i128) -> Catalog {
        let used = std::iter::repeat_with(AtomicBool::default).take(previous.len()).collect();
        let repo = discover::Tree::open(root).with_subtree(content);
        Catalog { repo, shards, settings, previous, used, sealed_ns, current: Mutex::default(), trust: None }
    }

    /// Takes every previous record as current unless `changed` names its
    /// source ([`discover::Changed`]): no stat per image.
    pub fn trusting(self, changed: Option<discover::Changed>) -> Catalog {
        Catalog { trust: changed, ..self }
    }

    fn addressed(&self, source: String, ext: &str, record: ImageRecord) -> Addressed {
        let variants = match record.still {
            Some(true) => variants::plan(&record.hash, ext, record.width, record.height, &self.settings, self.shards),
            _ => None,
        };
        let rel = match &variants {
            Some(v) => v.fallback.rel.clone(),
            None => sharded_path(&record.hash, ext, self.shards),
        };
        Addressed { rel, source, record, variants }
    }

    /// Hashes (or recalls) the image at a repo-relative path.
    pub fn address(&self, source: &Path) -> std::io::Result<Addressed> {
        let key = source.to_string_lossy().replace('\\', "/");
        let record = self.record(&key, source)?;
        Ok(self.addressed(key, &extension(source), record))
    }

    /// The image's record (stamp, hash, shown size): from this build's
    /// catalog, else the previous build's while its stamp holds, else read.
    fn record(&self, key: &str, source: &Path) -> std::io::Result<ImageRecord> {
        // Variants need the decoder's reading of the header (orientation,
        // animation); a record read without one (resizing was off) is read again.
        let decode = variants::Format::of_source(&extension(source)).is_some() && self.settings.resize;
        if self.trust.as_ref().is_some_and(|c| !discover::names(c, key))
            && let Some((i, _, r)) = self.previous.get_full(key).filter(|(_, _, r)| r.still.is_some() == decode)
        {
            self.used[i].store(true, Ordering::Relaxed);
            return Ok(*r);
        }
        // Addressed earlier in this build (at planning, or by another article): no second stat.
        if let Some(record) = self.current.lock().expect("no panics while held").get(key).copied() {
            return Ok(record);
        }
        let full = self.repo.root().join(source);
        // By the source's own name (a `\` in a Unix file name is no separator).
        let stamp = match source.to_str() {
            Some(rel) => self.repo.try_stat(rel, true)?.0,
            None => Stamp::of(&std::fs::metadata(&full)?),
        };
        let record = match self.previous.get(key).copied().filter(|r| stamp.holds(&r.stamp, self.sealed_ns) && r.still.is_some() == decode)
        {
            Some(r) => r,
            None => {
                let bytes = std::fs::read(&full)?;
                let (width, height, still) = match decode {
                    // A portrait photo stored sideways has its shown size.
                    true => encode::header(&bytes)
                        .map(|(w, h, animated)| (Some(w), Some(h), Some(!animated)))
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{UNREADABLE} ({e})")))?,
                    // Published as it is: browsers show it turned by its
                    // EXIF orientation too, so the size is the header's as
                    // shown where the decoder reads it (JPEG, PNG, WebP).
                    false => encode::dimensions(&bytes)
                        .ok()
                        .or_else(|| imagesize::blob_size(&bytes).ok().map(|d| (d.width as u32, d.height as u32)))
                        .or_else(|| svg_size(&bytes))
                        .map(|(w, h)| (Some(w), Some(h), None))
                        .unwrap_or_default(),
                };
                ImageRecord { stamp, hash: discover::hash_bytes(&bytes), width, height, still }
            }
        };
        self.current.lock().expect("no panics while held").insert(key.to_string(), record);
        Ok(record)
    }

    /// What to do about a reference [`Catalog::resolve`] refused, from its
    /// words: a file that is there but does not decode needs saving again;
    /// one that is not found, a place.
    pub fn resolve_hint(why: &str) -> &'static str {
        match why.contains(UNREADABLE) {
            true => "open the image in an image editor and save it again as JPEG, PNG or WebP",
            false => "put the image in the article's folder (page bundle) or in assets/",
        }
    }

    /// Resolves an article's reference: `None` for an external URL (left as
    /// written), else the addressed local image or why it cannot be used.
    pub fn resolve(&self, lookup: &Lookup, url: &str) -> Result<Option<Addressed>, String> {
        if is_external(url) {
            return Ok(None);
        }
        let found = lookup.resolve(url)?;
        self.address(&found).map(Some).map_err(|e| format!("cannot read image {}: {e}", found.display()))
    }

    /// The current hash of a source the previous build used, or zeros when it
    /// is gone (which makes whatever used it render again and report it).
    pub fn current_hash(&self, source: &str) -> Hash {
        // Only the hash: planning every article must not plan its variants.
        self.record(source, Path::new(source)).map(|r| r.hash).unwrap_or([0; 32])
    }

    pub fn root(&self) -> &Path {
        self.repo.root()
    }

    /// What the next build's catalog starts from.
    /// The records this build read or used: an image no article shows any
    /// more has none.
    pub fn into_records(self) -> Records {
        // (In place: a preview rebuild uses every record and reads none.)
        let mut records = self.previous;
        let mut used = self.used.into_iter().map(AtomicBool::into_inner);
        records.retain(|_, _| used.next().unwrap_or(false));
        records.extend(self.current.into_inner().expect("no panics while held"));
        records
    }

    pub fn view(&self, a: &Addressed, site: &impl ImageUrls) -> ImageView {
        let (width, height) = a.size();
        let mut view = ImageView {
            url: site.image_url(&a.rel),
            permalink: site.image_permalink(&a.rel),
            width,
            height,
            mime: mime_of(&a.rel),
            size: if a.variants.is_some() { 0 } else { a.record.stamp.size },
            sources: vec![],
            sizes: String::new(),
            thumb: None,
            variants: vec![],
        };
        if let Some(set) = &a.variants {
            let url_for = |rel: &str| site.image_url(rel);
            view.sources =
                set.modern.iter().map(|(f, list)| SourceView { mime: f.mime(), srcset: variants::srcset(list, url_for) }).collect();
            view.sizes = self.settings.sizes.clone();
            let as_view =
                |v: &variants::Variant| VariantView { url: url_for(&v.rel), width: v.width, height: v.height, mime: v.format.mime() };
            view.thumb = set.modern.first().and_then(|(_, list)| list.get(set.thumb).or(list.first())).map(as_view);
            view.variants = set.all().map(as_view).collect();
        }
        view
    }

    pub fn settings(&self) -> &ImageSettings {
        &self.settings
    }
}

impl ImageView {
    /// An image outside the site, used as written.
    pub fn external(url: &str) -> ImageView {
        ImageView {
            url: url.to_string(),
            permalink: url.to_string(),
            width: None,
            height: None,
            mime: mime_of(url),
            size: 0,
            sources: vec![],
            sizes: String::new(),
            thumb: None,
            variants: vec![],
        }
    }
}

/// MIME type by extension.
pub fn mime_of(path: &str) -> &'static str {
    match path.rsplit('.').next().map(str::to_ascii_lowercase).as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("svg") => "image/svg+xml",
        Some("avif") => "image/avif",
        Some("ico") => "image/x-icon",
        _ => "",
    }
}

/// Where to look for images referenced by one article.
pub struct Lookup<'a> {
    /// The repository root.
    pub root: &'a Path,
    /// `content/<site>` (repo-relative): nothing outside it is reachable by a relative reference.
    pub content_dir: &'a Path,
    /// The article's folder (repo-relative).
    pub article_dir: &'a Path,
}

/// External references are left as they are.
/// An image from elsewhere must be an `http(s)` URL: `javascript:` and
/// other schemes would reach `<img src>`, `og:image` and feeds.
pub fn web_url(url: &str) -> Result<(), String> {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        Ok(())
    } else {
        Err(format!(
            "`{url}` is not an image URL gen publishes: use a file of the article's folder, a /path from assets/, or an https:// URL"
        ))
    }
}

pub fn is_external(url: &str) -> bool {
    url.starts_with("//")
        || url.starts_with('#')
        || url.split_once(':').is_some_and(|(scheme, _)| !scheme.contains('/') && !scheme.is_empty())
}

impl Lookup<'_> {
    /// Resolves a reference to a repo-relative file, or says why it cannot.
    pub fn resolve(&self, url: &str) -> Result<PathBuf, String> {
        let clean = url.split(['?', '#']).next().unwrap_or(url);
        let clean = percent_decode(clean);
        let candidates: Vec<PathBuf> = if let Some(rooted) = clean.strip_prefix('/') {
            let rel = normalize(Path::new(rooted)).ok_or_else(|| format!("`{url}` climbs out of the assets folder"))?;
            vec![self.content_dir.join("assets").join(&rel), PathBuf::from("assets").join(&rel)]
        } else {
            let joined = normalize(&self.article_dir.join(&clean)).ok_or_else(|| format!("`{url}` climbs out of the repository"))?;
            if !joined.starts_with(self.content_dir) {
                return Err(format!("`{url}` points outside {}", self.content_dir.display()));
            }
            vec![joined]
        };
        let ext = Path::new(&clean).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        if !EXTENSIONS.contains(&ext.as_str()) {
            return Err(format!("`{url}` is not a supported image (use {})", EXTENSIONS.join(", ")));
        }
        for c in &candidates {
            let full = self.root.join(c);
            if std::fs::symlink_metadata(&full).is_ok_and(|m| m.is_file()) {
                // Never follow a link, whatever its name: the walk refuses
                // links but skips dot folders, so `.cache -> /outside` is
                // only seen here.
                if let Some(link) = c
                    .ancestors()
                    .skip(1)
                    .filter(|a| !a.as_os_str().is_empty())
                    .find(|a| std::fs::symlink_metadata(self.root.join(a)).is_ok_and(|m| m.file_type().is_symlink()))
                {
                    return Err(format!("`{url}` goes through the symbolic link {}; gen does not follow links", link.display()));
                }
                return Ok(c.clone());
            }
        }
        Err(format!(
            "image `{url}` not found (looked in {})",
            candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(" and ")
        ))
    }
}

/// `images/<aa>/<bb>/<hash>.<ext>` for the default shards.
pub fn sharded_path(hash: &Hash, ext: &str, shards: Shards) -> String {
    let hex = discover::hex(hash);
    let mut out = String::from("images/");
    for level in 0..shards.levels {
        out.push_str(&hex[level * shards.chars..(level + 1) * shards.chars]);
        out.push('/');
    }
    out.push_str(&hex);
    out.push('.');
    out.push_str(ext);
    out
}

/// Lexical normalisation; `None` when `..` climbs above the start.
fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// `%xx` escapes decoded; the input unchanged if the result is not UTF-8.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok()));
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Found by a new user: an SVG had no `width`/`height`, which the
    /// README promises for every local image (its box jumped on load).
    #[test]
    fn an_svgs_size_comes_from_its_root_element() {
        let size = |svg: &str| svg_size(svg.as_bytes());
        assert_eq!(size(r#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"/>"#), Some((200, 100)));
        assert_eq!(size(r#"<?xml version="1.0"?><!-- logo --><svg width="64px" height="32.4px"></svg>"#), Some((64, 32)));
        assert_eq!(size(r#"<svg viewBox="0 0 300 150"><rect/></svg>"#), Some((300, 150)));
        assert_eq!(size(r#"<svg width="600" viewBox="0,0,300,150"/>"#), Some((600, 300)));
        assert_eq!(size(r#"<svg width="10em" height="5em"/>"#), None);
        assert_eq!(size("<html/>"), None);
        assert_eq!(size("not xml at all"), None);
    }

    #[test]
    fn external_references_are_recognised() {
        assert!(is_external("https://x.org/a.png"));
        assert!(is_external("//cdn/a.png"));
        assert!(is_external("data:image/png;base64,xx"));
        assert!(!is_external("photo.png"));
        assert!(!is_external("/images/a.png"));
        assert!(!is_external("./a:b/c.png"));
    }

    #[test]
    fn references_cannot_escape_the_site() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("content/s/news/a")).unwrap();
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::write(root.join("content/s/news/a/p.png"), b"png").unwrap();
        std::fs::write(root.join("assets/logo.svg"), b"svg").unwrap();
        let l = Lookup { root, content_dir: Path::new("content/s"), article_dir: Path::new("content/s/news/a") };
        assert_eq!(l.resolve("p.png").unwrap(), Path::new("content/s/news/a/p.png"));
        assert_eq!(l.resolve("./p.png?v=1").unwrap(), Path::new("content/s/news/a/p.png"));
        assert_eq!(l.resolve("/logo.svg").unwrap(), Path::new("assets/logo.svg"));
        assert!(l.resolve("../../../../../etc/passwd.png").unwrap_err().contains("climbs out"));
        assert!(l.resolve("../../../../etc/passwd.png").unwrap_err().contains("outside"));
        assert!(l.resolve("../../../other/x.png").unwrap_err().contains("outside"));
        assert!(l.resolve("/../../etc/x.png").unwrap_err().contains("climbs out"));
        assert!(l.resolve("missing.png").unwrap_err().contains("looked in content/s/news/a/missing.png"));
        assert!(l.resolve("notes.txt").unwrap_err().contains("not a supported image"));
    }

    /// A preview build trusting the watcher takes the records of images it
    /// does not name without a stat (these files are not even there),
    /// reads a named one, and hands on the records it used: the next build
    /// would read and decode any image it lost.
    #[test]
    fn a_trusting_catalog_keeps_the_records_it_used_and_reads_what_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let record = |n: u8| ImageRecord { stamp: Stamp::default(), hash: [n; 32], width: Some(10), height: Some(10), still: None };
        let previous: Records = [("content/s/a.gif", 1), ("content/s/b.gif", 2), ("content/s/c.gif", 3), ("content/s/gone.gif", 4)]
            .into_iter()
            .map(|(k, n)| (k.to_string(), record(n)))
            .collect();
        std::fs::create_dir_all(dir.path().join("content/s")).unwrap();
        std::fs::write(dir.path().join("content/s/c.gif"), b"GIF89a new bytes").unwrap();
        let named: discover::Changed =
            std::sync::Arc::new(["content/s/c.gif", "content/s/gone.gif"].map(String::from).into_iter().collect());
        let catalog = Catalog::new(dir.path(), "content/s", Shards::default(), ImageSettings::default(), previous, 0).trusting(Some(named));

        assert_eq!(catalog.current_hash("content/s/a.gif"), [1; 32], "taken as it was, without a stat");
        assert_eq!(catalog.current_hash("content/s/a.gif"), [1; 32]);
        assert_eq!(catalog.current_hash("content/s/c.gif"), discover::hash_bytes(b"GIF89a new bytes"), "named: read again");
        assert_eq!(catalog.current_hash("content/s/gone.gif"), [0; 32], "named and gone");
        let mut kept: Vec<(String, Hash)> = catalog.into_records().into_iter().map(|(k, r)| (k, r.hash)).collect();
        kept.sort();
        let expected =
            vec![("content/s/a.gif".to_string(), [1; 32]), ("content/s/c.gif".to_string(), discover::hash_bytes(b"GIF89a new bytes"))];
        assert_eq!(kept, expected, "b was not used; gone is gone");
    }

    #[test]
    fn sharded_layout() {
        let h = [0xab; 32];
        assert!(sharded_path(&h, "png", Shards::default()).starts_with("images/ab/ab/abab"));
        assert!(sharded_path(&h, "png", Shards { levels: 1, chars: 3 }).starts_with("images/aba/abab"));
        assert!(sharded_path(&h, "png", Shards { levels: 0, chars: 2 }).starts_with("images/abab"));
    }

    /// A million images: no folder of the layout holds more than a few
    /// thousand entries (256 per level by construction, ~15 per leaf).
    #[test]
    fn a_million_images_keep_every_folder_small() {
        let mut per_leaf: HashMap<String, usize> = HashMap::new();
        for i in 0u32..1_000_000 {
            let path = sharded_path(&discover::hash_bytes(&i.to_le_bytes()), "jpg", Shards::default());
            let (dir, _) = path.rsplit_once('/').unwrap();
            *per_leaf.entry(dir.to_string()).or_default() += 1;
        }
        let mut per_parent: HashMap<&str, usize> = HashMap::new();
        for leaf in per_leaf.keys() {
            let mut dir = leaf.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                *per_parent.entry(parent).or_default() += 1;
                dir = parent;
                if parent == "images" {
                    break;
                }
            }
        }
        // Parents count each leaf below them once: a parent's own child count is at most that.
        let largest_leaf = *per_leaf.values().max().unwrap();
        let first_levels = per_leaf.keys().map(|l| l.split('/').nth(1).unwrap()).collect::<std::collections::HashSet<_>>().len();
        let largest_second = per_parent.iter().filter(|(k, _)| k.matches('/').count() == 1).map(|(_, &n)| n).max().unwrap();
        assert!(largest_leaf < 100, "a leaf folder holds {largest_leaf} images");
        assert!(first_levels <= 256 && largest_second <= 256, "{first_levels} / {largest_second}");
        assert_eq!(per_leaf.len(), 65_536, "a million images fill every leaf");
    }
}
