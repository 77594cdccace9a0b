//! Site search: the documents both search outputs are made of, the
//! client-side index ([`index`], read by the default theme's search page,
//! with the text analysis of [`analyze`]), the text cache that keeps
//! rebuilding that index cheap, and the Elasticsearch / OpenSearch `_bulk`
//! export.
//!
//! An article's search text comes from the parse that renders it
//! ([`crate::parse::Markdown::render`]). What the index makes of each
//! article (its terms, its compressed details and text) is kept in the
//! search cache (`.gen/<site>.search`) under a hash of everything it is a
//! function of, so an edit analyses one article and rewrites the index
//! without reading, tokenizing or compressing every other one again.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::SiteConfig;
use crate::model::{Article, SiteModel};
use crate::parse;

pub mod analyze;
pub mod index;
pub mod network;

/// One article as a search engine sees it.
#[derive(Debug, Serialize)]
pub struct Doc<'a> {
    pub title: &'a str,
    /// Root-relative URL (with the site's base path).
    pub url: &'a str,
    pub permalink: &'a str,
    pub date: &'a str,
    pub updated: Option<&'a str>,
    pub section: &'a str,
    pub tags: Vec<&'a str>,
    pub categories: Vec<&'a str>,
    pub authors: Vec<&'a str>,
    pub summary: &'a str,
    pub body: &'a str,
    /// The year archive the article lives in (`2023backup`), if any.
    pub archive: Option<&'a str>,
}

impl<'a> Doc<'a> {
    pub fn new(model: &'a SiteModel, a: &'a Article, body: &'a str) -> Doc<'a> {
        let v = &a.view;
        Doc {
            title: &v.title,
            url: &v.url,
            permalink: &v.permalink,
            date: &v.date,
            updated: v.updated.as_deref(),
            section: &v.section,
            tags: v.tags.iter().map(|t| t.name.as_str()).collect(),
            categories: v.categories.iter().map(|t| t.name.as_str()).collect(),
            authors: v.authors.iter().map(|a| a.author.name.as_str()).collect(),
            summary: &v.summary,
            body,
            archive: model.parts[a.part].archive.as_ref().map(|a| a.path.as_str()),
        }
    }
}

/// The client-side index of a site (see [`index`]). Texts of the articles
/// this build rendered are in `fresh` (by article index); the others are
/// analysed again only when what the index shows of them changed: their
/// text then comes from the cache when their source did not change, else
/// from the source. Returns the index and the cache for the next build.
pub fn site_index(
    root: &Path,
    site: &SiteConfig,
    model: &SiteModel,
    chars: usize,
    section_title: &dyn Fn(&str) -> String,
    mut fresh: HashMap<usize, String>,
    mut cache: SearchCache,
) -> anyhow::Result<SiteIndex> {
    let titles: HashMap<&str, String> = model.articles.iter().map(|a| (a.view.section.as_str(), section_title(&a.view.section))).collect();
    let docs: Vec<index::DocInput> = model
        .articles
        .iter()
        .map(|a| {
            let v = &a.view;
            index::DocInput {
                key: &a.rel,
                title: &v.title,
                url: &v.url,
                date: &v.date,
                section: &v.section,
                section_title: &titles[v.section.as_str()],
                authors: v.authors.iter().map(|a| a.author.name.as_str()).collect(),
                tags: v.tags.iter().map(|t| t.name.as_str()).collect(),
                categories: v.categories.iter().map(|t| t.name.as_str()).collect(),
                summary: &v.summary,
                thumb: v.image.as_ref().map(|i| i.thumb.as_ref().map_or(i.url.as_str(), |t| t.url.as_str())),
                archived: a.part != 0,
                text_id: text_id(a, chars),
            }
        })
        .collect();
    let keys: Vec<[u8; 32]> = docs.par_iter().map(index::DocInput::key).collect();
    // Kept analyses move out of the cache; the rest is analysed below.
    let kept: Vec<Option<CachedDoc>> = model.articles.iter().map(|a| cache.docs.remove(&a.rel)).collect();
    let work: Vec<(usize, Option<String>, Option<CachedDoc>)> =
        kept.into_iter().enumerate().map(|(i, c)| (i, fresh.remove(&i), c)).collect();
    let afresh = AtomicUsize::new(0);
    let analysed: Vec<index::Analysed> = work
        .into_par_iter()
        .map(|(i, fresh, cached)| {
            let a = &model.articles[i];
            match cached {
                Some(c) if c.key == keys[i] => Ok(c.analysed),
                cached => {
                    afresh.fetch_add(1, Ordering::Relaxed);
                    let text = match (fresh, cached) {
                        (Some(text), _) => text,
                        (None, Some(c)) if c.text_id == docs[i].text_id => c.analysed.text()?,
                        _ => read_text(root, a, chars)?,
                    };
                    Ok(index::Analysed::of(&docs[i], &text))
                }
            }
        })
        .collect::<anyhow::Result<_>>()?;
    let built = index::build(&site.name, &site.title, &site.language, &docs, &analysed);
    let docs = model
        .articles
        .iter()
        .zip(&docs)
        .zip(keys)
        .zip(analysed)
        .map(|(((a, d), key), analysed)| (a.rel.clone(), CachedDoc { key, text_id: d.text_id, analysed }))
        .collect();
    Ok(SiteIndex { built, cache: SearchCache { docs }, analysed: afresh.into_inner() })
}

/// A site's search index, with the cache its next build starts from.
pub struct SiteIndex {
    pub built: index::Built,
    pub cache: SearchCache,
    /// Articles analysed by this build; the others came from the cache.
    pub analysed: usize,
}

/// What an article's search text is a function of: its source and how much
/// of it the index keeps.
fn text_id(a: &Article, chars: usize) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&a.hash);
    h.update(&(chars as u64).to_le_bytes());
    *h.finalize().as_bytes()
}

/// Plain text of an article's body, read from its source.
pub fn read_text(root: &Path, a: &Article, limit: usize) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(root.join(&a.file)).with_context(|| format!("cannot read {}", a.file.display()))?;
    let split = parse::split(&text).map_err(|(line, msg)| anyhow::anyhow!("{}:{line}: {msg}", a.file.display()))?;
    Ok(parse::plain_text(split.body, limit))
}

/// [`SearchCache`] as its file holds it (postcard writes a map as the
/// sequence of its pairs), borrowed from the file's bytes.
#[derive(Deserialize)]
struct CacheRef<'a> {
    #[serde(borrow)]
    docs: Vec<(&'a str, CachedDocRef<'a>)>,
}

#[derive(Deserialize)]
struct CachedDocRef<'a> {
    key: [u8; 32],
    text_id: [u8; 32],
    #[serde(borrow)]
    analysed: index::AnalysedRef<'a>,
}

const CACHE_MAGIC: &[u8; 8] = b"GENSERCH";
const CACHE_VERSION: u32 = 2;

/// What the search index of a site kept of its articles from the last
/// build (`.gen/<site>.search`): each one's analysis, by source path.
#[derive(Debug, Default, Serialize)]
pub struct SearchCache {
    docs: HashMap<String, CachedDoc>,
}

#[derive(Debug, Serialize)]
struct CachedDoc {
    /// [`index::DocInput::key`] of the document analysed.
    key: [u8; 32],
    /// Its [`index::DocInput::text_id`]: the text is still the article's
    /// when its source did not change.
    text_id: [u8; 32],
    analysed: index::Analysed,
}

impl SearchCache {
    pub fn path(cache_dir: &Path, site: &str) -> PathBuf {
        cache_dir.join(format!("{site}.search"))
    }

    /// The cache, or an empty one when it is missing, damaged or foreign:
    /// it only saves work, so a bad one costs analysing every article again.
    /// The articles' details and texts are slices of the bytes read: a
    /// preview that keeps the cache keeps that one buffer while any article
    /// it read is unchanged (a file per site at most; it reads the file once).
    pub fn load(path: &Path) -> SearchCache {
        let Ok(file) = std::fs::read(path).map(bytes::Bytes::from) else { return SearchCache::default() };
        let Some(read) = crate::cache::open::<CacheRef>(CACHE_MAGIC, CACHE_VERSION, &file) else { return SearchCache::default() };
        let docs = read
            .docs
            .iter()
            .map(|(rel, d)| (rel.to_string(), CachedDoc { key: d.key, text_id: d.text_id, analysed: d.analysed.owned(&file) }));
        SearchCache { docs: docs.collect() }
    }

    /// The file's bytes; the build saves them once the site is published.
    pub fn encode(&self) -> Vec<u8> {
        crate::cache::seal(CACHE_MAGIC, CACHE_VERSION, self)
    }
}

/// Where `gen export search` writes.
pub const EXPORT_DIR: &str = "search-export";
/// Elasticsearch refuses requests over 100 MB by default; files stay far below.
const BULK_FILE_BYTES: usize = 8 << 20;

/// What an export wrote for one site.
#[derive(Debug)]
pub struct Exported {
    pub site: String,
    pub index: String,
    pub mapping: PathBuf,
    pub bulk: Vec<PathBuf>,
    pub documents: usize,
}

/// Writes `<dir>/<site>/mapping.json` and `<dir>/<site>/bulk-0001.ndjson`…:
/// the index settings and mapping (Korean sites analyse text with `nori`),
/// and the documents as `_bulk` actions with stable ids. Bodies are whole.
pub fn export_elasticsearch(root: &Path, site: &SiteConfig, model: &SiteModel, dir: &Path) -> anyhow::Result<Exported> {
    // Everything is read and made in memory first: a failure removes nothing.
    let bodies: Vec<String> = model.articles.par_iter().map(|a| read_text(root, a, usize::MAX)).collect::<anyhow::Result<_>>()?;
    let out = dir.join(&site.name);
    let index = site.name.clone();
    let mut files: Vec<(String, Vec<u8>)> = vec![(
        "mapping.json".into(),
        (serde_json::to_string_pretty(&mapping_for(&site.language)).expect("JSON values serialize") + "\n").into(),
    )];
    let mut buf: Vec<u8> = Vec::new();
    let flush = |buf: &mut Vec<u8>, files: &mut Vec<(String, Vec<u8>)>| {
        files.push((format!("bulk-{:04}.ndjson", files.len()), std::mem::take(buf)));
    };
    for (a, body) in model.articles.iter().zip(&bodies) {
        let mut pair = serde_json::to_vec(&json!({"index": {"_index": index, "_id": doc_id(&site.name, &a.rel)}})).expect("serializes");
        pair.push(b'\n');
        let doc = EsDoc { site: &site.name, language: &site.language, doc: Doc::new(model, a, body) };
        serde_json::to_writer(&mut pair, &doc).expect("serializes");
        pair.push(b'\n');
        if !buf.is_empty() && buf.len() + pair.len() > BULK_FILE_BYTES {
            flush(&mut buf, &mut files);
        }
        buf.write_all(&pair).expect("writing to memory");
    }
    if !buf.is_empty() || files.len() == 1 {
        flush(&mut buf, &mut files);
    }
    replace_export(&out, &files)?;
    let mapping = out.join("mapping.json");
    let bulk = files[1..].iter().map(|(name, _)| out.join(name)).collect();
    Ok(Exported { site: site.name.clone(), index, mapping, bulk, documents: model.articles.len() })
}

/// The list of files an export wrote, kept beside them: the next export
/// removes exactly those, and a folder without it is not the export's.
const EXPORT_MARKER: &str = ".gen-export.json";

/// Replaces the files an earlier export wrote in `out` with `files`. Files
/// the export did not write are never removed; a folder with files but no
/// marker is refused (`--output content` once erased a site's articles).
fn replace_export(out: &Path, files: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    let marker = out.join(EXPORT_MARKER);
    let previous: Vec<String> = match std::fs::read(&marker) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("{} is damaged: remove the folder by hand", marker.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
                anyhow::bail!(
                    "{} holds files gen export did not write: it removes only its own files. Choose another --output",
                    out.display()
                );
            }
            vec![]
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", marker.display())),
    };
    for name in previous.iter().filter(|n| !n.contains('/') && !n.contains('\\') && !n.starts_with('.')) {
        match std::fs::remove_file(out.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", out.join(name).display()));
            }
            _ => {}
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    // The marker first: an export killed halfway still knows its files.
    std::fs::write(&marker, serde_json::to_vec(&names).expect("strings serialize"))
        .with_context(|| format!("cannot write {}", marker.display()))?;
    for (name, bytes) in files {
        let path = out.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// `gen export search --output DIR` may not write into the repository's
/// sources, the build output or the cache.
pub fn check_export_dir(root: &Path, forbidden: &[(&Path, &str)], dir: &Path) -> anyhow::Result<()> {
    let real = |p: &Path| lexical(&root.join(p));
    let dir = real(dir);
    if dir == real(Path::new("")) {
        anyhow::bail!("--output {} is the repository itself: choose a folder of its own, e.g. {EXPORT_DIR}", dir.display());
    }
    for (place, what) in forbidden {
        let place = real(place);
        if dir.starts_with(&place) || place.starts_with(&dir) {
            anyhow::bail!(
                "--output {} overlaps {what} ({}): choose a folder of its own, e.g. {EXPORT_DIR}",
                dir.display(),
                place.display()
            );
        }
    }
    Ok(())
}

/// `p` made absolute with `.` and `..` resolved, without touching the disk
/// (the folder may not exist yet).
fn lexical(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[derive(Serialize)]
struct EsDoc<'a> {
    site: &'a str,
    language: &'a str,
    #[serde(flatten)]
    doc: Doc<'a>,
}

/// A document id that survives rebuilds, edits and URL changes: the hash of
/// the site and the article's source path.
pub fn doc_id(site: &str, rel: &str) -> String {
    let h = blake3::hash(format!("{site}\0{rel}").as_bytes());
    crate::discover::hex(h.as_bytes())[..32].to_string()
}

/// Index settings and mapping: `nori` (Korean morphology) for Korean sites,
/// the built-in `english` analyzer for English, `standard` otherwise.
pub fn mapping_for(language: &str) -> serde_json::Value {
    let lang = language.to_ascii_lowercase();
    let (settings, analyzer) = if lang.starts_with("ko") {
        (
            json!({"analysis": {
                "tokenizer": {"gen_nori": {"type": "nori_tokenizer", "decompound_mode": "mixed"}},
                "analyzer": {"gen_text": {
                    "type": "custom",
                    "tokenizer": "gen_nori",
                    "filter": ["nori_part_of_speech", "nori_readingform", "lowercase"]
                }}
            }}),
            "gen_text",
        )
    } else if lang.starts_with("en") {
        (json!({}), "english")
    } else {
        (json!({}), "standard")
    };
    let text = json!({"type": "text", "analyzer": analyzer});
    let keyword = json!({"type": "keyword"});
    json!({
        "settings": settings,
        "mappings": {"properties": {
            "title": text, "summary": text, "body": text,
            "url": keyword, "permalink": keyword,
            "date": {"type": "date"}, "updated": {"type": "date"},
            "section": keyword, "tags": keyword, "categories": keyword, "authors": keyword,
            "archive": keyword, "site": keyword, "language": keyword
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_differ_by_site_and_source() {
        assert_eq!(doc_id("daily", "economy/a/index.md"), doc_id("daily", "economy/a/index.md"));
        assert_ne!(doc_id("daily", "economy/a/index.md"), doc_id("lab", "economy/a/index.md"));
        assert_eq!(doc_id("daily", "x.md").len(), 32);
    }

    #[test]
    fn korean_sites_analyse_with_nori() {
        let ko = mapping_for("ko");
        assert_eq!(ko["settings"]["analysis"]["tokenizer"]["gen_nori"]["type"], "nori_tokenizer");
        assert_eq!(ko["mappings"]["properties"]["body"]["analyzer"], "gen_text");
        assert_eq!(mapping_for("en-US")["mappings"]["properties"]["title"]["analyzer"], "english");
        assert_eq!(mapping_for("fr")["mappings"]["properties"]["title"]["analyzer"], "standard");
    }

    #[test]
    fn search_cache_round_trips_and_ignores_damage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.search");
        let (d, text) = index::tests::doc("a.md", "인사", "2024-01-01", "안녕");
        let mut c = SearchCache::default();
        c.docs.insert("a.md".into(), CachedDoc { key: d.key(), text_id: d.text_id, analysed: index::Analysed::of(&d, text) });
        std::fs::write(&p, c.encode()).unwrap();
        let loaded = SearchCache::load(&p);
        assert_eq!(loaded.docs["a.md"].key, d.key());
        assert_eq!(loaded.docs["a.md"].analysed.text().unwrap(), "안녕");
        std::fs::write(&p, b"garbage").unwrap();
        assert!(SearchCache::load(&p).docs.is_empty());
    }

    #[test]
    fn a_documents_key_changes_with_every_field_the_index_shows() {
        let (base, _) = index::tests::doc("a.md", "T", "2024-01-01", "x");
        let base = index::DocInput { summary: "s", ..base };
        let k = base.key();
        let variants: Vec<index::DocInput> = vec![
            index::DocInput { title: "U", ..base.clone() },
            index::DocInput { url: "/b/", ..base.clone() },
            index::DocInput { date: "2024-01-02", ..base.clone() },
            index::DocInput { section: "opinion", ..base.clone() },
            index::DocInput { section_title: "뉴스", ..base.clone() },
            index::DocInput { authors: vec![], ..base.clone() },
            // A tag moved to the categories is another document.
            index::DocInput { tags: vec![], categories: base.tags.clone(), ..base.clone() },
            index::DocInput { summary: "t", ..base.clone() },
            index::DocInput { thumb: Some(""), ..base.clone() },
            index::DocInput { archived: true, ..base.clone() },
            index::DocInput { text_id: [2; 32], ..base.clone() },
        ];
        for v in &variants {
            assert_ne!(v.key(), k, "{}", v.title);
        }
        // The source path only orders documents; the index does not show it.
        assert_eq!(index::DocInput { key: "b.md", ..base.clone() }.key(), k);
    }
}
