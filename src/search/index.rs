//! The client-side index of a site: a small manifest and files a query loads
//! on demand, all under `_search/` of the site's output.
//!
//! - **Shards** (`_search/f/s-<hash>.bin`): the terms in one range of the
//!   sorted term list, each with the documents it occurs in and those where
//!   it occurs in the title, summary, tags, categories or authors ("top").
//!   A shard starts with a directory of its terms, where short lists are
//!   kept whole and long ones by their place after it, each its own gzip
//!   member. A lookup reads the directory and then only the list it needs
//!   (HTTP `Range` requests), so what a query costs does not grow with the
//!   shard: a Korean bigram in every other article of 105,000 is one 13 KB
//!   list, whatever else its shard holds. Shards are cut by the bytes of
//!   their directories. Where a shard starts depends on the terms
//!   themselves (content-defined, as in rsync or FastCDC), not on the terms
//!   before them, so an edit changes only the shards of its terms and a
//!   clean build cuts exactly as an incremental one.
//! - **Blocks** (`_search/f/b-<hash>.bin`): 256 documents each, a result's
//!   details (title, URL, date, section, authors, tags, thumbnail, summary)
//!   and its whole text, each its own gzip member, after a header of their
//!   offsets. A query reads the header of a result's block and then only
//!   that result's members, with HTTP `Range` requests: ten results cost a
//!   few kilobytes, and a site of 30,000 articles has 118 blocks, not tens
//!   of thousands of small files.
//! - **Manifest** (`_search/manifest.bin`): the first term and name of every
//!   shard, the names of the blocks, and the filter values with their counts.
//!
//! The manifest is gzip-compressed by gen (the browser inflates it with
//! `DecompressionStream`), shards and blocks are made of gzip members, so
//! what travels does not depend on the host.
//! File names are the hash of the uncompressed bytes: a file whose content
//! did not change keeps its name and is not written again, and `_headers`
//! marks `_search/f/` immutable.
//!
//! Document ids follow dates, oldest first (ranking reads recency from
//! them): an edit or a new article keeps every other id, so it rewrites only
//! its own files; removing or back-dating an article renumbers those after
//! it, which rewrites most shards once. Everything is a function of the
//! content, never of earlier builds.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher as _;
use std::io::Write as _;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::analyze;

/// Where a site's index lives, relative to its output root.
pub const DIR: &str = "_search/";
/// The manifest: the one file a search page reads first (not immutable).
pub const MANIFEST: &str = "_search/manifest.bin";
/// Content-addressed files, immutable.
pub const FILES: &str = "_search/f/";
/// Format of the files, read by `search.js`.
pub const VERSION: u32 = 3;
/// Documents per block file.
pub const BLOCK: u32 = 256;
/// Smallest shard directory worth a request, in uncompressed bytes.
const MIN_SHARD: usize = 6 << 10;
/// Postings up to this many bytes are kept in the shard's directory; longer
/// ones follow it, each its own gzip member read with a Range request.
const INLINE: usize = 48;
/// Search files per site at most (shards, blocks, manifest), whatever its
/// size: hosts limit files per deployment (Cloudflare Pages: 20,000), and
/// the manifest lists every shard. Within it, shards are as small as it
/// allows: a query loads one per term.
pub(super) const MAX_FILES: usize = 1_900;
/// Filter values listed in the manifest per kind (tags: the most used).
pub(super) const MAX_FACET_VALUES: usize = 200;

/// One document as the index sees it.
#[derive(Clone)]
pub struct DocInput<'a> {
    /// Stable key of the document (its source path).
    pub key: &'a str,
    pub title: &'a str,
    pub url: &'a str,
    pub date: &'a str,
    /// Section name (for filters) and its title (shown).
    pub section: &'a str,
    pub section_title: &'a str,
    pub authors: Vec<&'a str>,
    pub tags: Vec<&'a str>,
    pub categories: Vec<&'a str>,
    pub summary: &'a str,
    pub thumb: Option<&'a str>,
    /// In a year archive: shown once, after a live copy with its title.
    pub archived: bool,
    /// What the document's text is a function of (its source's hash and
    /// how much of it is kept): the text itself is read only when the
    /// document must be analysed again ([`Analysed::of`]).
    pub text_id: [u8; 32],
}

/// A built index: the files to publish (site-relative path → uncompressed
/// bytes, gzip-compressed by [`compress`] when published).
pub struct Built {
    pub files: Vec<(String, Vec<u8>)>,
    /// Shards and blocks (the manifest aside).
    pub counts: [usize; 2],
}

/// Characters of a summary in the details: shown until the result's
/// passage arrives, so a few lines are enough.
const SUMMARY_CHARS: usize = 160;

/// `s` cut to `chars` characters at a space when there is one, with `…`.
fn cap(s: &str, chars: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(chars) {
        None => s.into(),
        Some((end, _)) => {
            let cut = s[..end].rfind(' ').filter(|&i| i > end / 2).unwrap_or(end);
            format!("{}…", s[..cut].trim_end()).into()
        }
    }
}

impl<'a> DocInput<'a> {
    /// The document's values of the filter kind `letter`, with their labels.
    fn facet_values(&self, letter: char) -> Vec<(&'a str, &'a str)> {
        let same = |vs: &[&'a str]| -> Vec<(&'a str, &'a str)> { vs.iter().map(|v| (*v, *v)).collect() };
        let year = self.date.get(..4).unwrap_or("");
        let values = match letter {
            's' => vec![(self.section, self.section_title)],
            'c' => same(&self.categories),
            't' => same(&self.tags),
            'a' => same(&self.authors),
            _ => vec![(year, year)],
        };
        values.into_iter().filter(|(v, _)| !v.is_empty()).collect()
    }
}

/// Facet kinds, by the letter of their terms.
pub const FACETS: [(&str, char); 5] = [("section", 's'), ("category", 'c'), ("tag", 't'), ("author", 'a'), ("year", 'y')];

/// The term that marks a document as having a filter value.
pub fn facet_term(kind: char, value: &str) -> String {
    format!("\u{1}{kind}:{}", analyze::normalize(value))
}

/// Builds the index of `docs`, given each one's [`Analysed`] (by index).
pub fn build(site: &str, title: &str, language: &str, docs: &[DocInput], analysed: &[Analysed]) -> Built {
    assert_eq!(docs.len(), analysed.len(), "every document is analysed");
    let ids = assign_ids(docs);
    let space = docs.len() as u32;

    // Postings from every document's terms: term → (docs, top docs).
    let blocks = docs.len().div_ceil(BLOCK as usize);
    let (shards, mut files) = shard_files(postings(analysed, &ids), FILES, MAX_FILES.saturating_sub(blocks + 1).max(200));

    // By id: blocks of details and texts, compressed when analysed.
    let mut by_id: Vec<Option<usize>> = vec![None; space as usize];
    for (i, &id) in ids.iter().enumerate() {
        by_id[id as usize] = Some(i);
    }
    let blocks: Vec<(String, Vec<u8>)> = by_id
        .par_chunks(BLOCK as usize)
        .map(|block| {
            let details = block.iter().map(|d| d.map_or(&[][..], |i| &analysed[i].detail[..]));
            let texts = block.iter().map(|d| d.map_or(&[][..], |i| &analysed[i].text[..]));
            let bytes = encode_block(&details.chain(texts).collect::<Vec<&[u8]>>());
            (file_name('b', &bytes), bytes)
        })
        .collect();
    let counts = [shards.len(), blocks.len()];
    let block_names = blocks.iter().map(|(n, _)| n.clone()).collect();
    files.extend(blocks.into_iter().map(|(name, bytes)| (format!("{FILES}{name}.bin"), bytes)));

    let manifest = Manifest {
        version: VERSION,
        site: site.to_string(),
        language: language.to_string(),
        docs: space,
        count: docs.len(),
        block: BLOCK,
        shards,
        parts: vec![Part { site: site.to_string(), title: title.to_string(), offset: 0, docs: space, blocks: block_names, url: None }],
        facets: facets(docs),
    };
    files.push((MANIFEST.to_string(), serde_json::to_vec(&manifest).expect("manifest serializes")));
    Built { files, counts }
}

/// What the index keeps of one document between builds: its distinct terms
/// and its details and text, compressed as published. Analysing (tokenizing
/// every word, compressing) is most of an index's cost, and an edit changes
/// one document: the others are taken as they were, by [`DocInput::key`].
#[derive(Debug, Clone, Serialize)]
pub struct Analysed {
    /// The distinct terms, sorted, one after the other.
    terms: String,
    /// Each term's length in bytes, doubled, plus one when any of its
    /// occurrences is "top" (title, summary, tags, categories, authors): a
    /// varint each, a byte for most terms. Kept as bytes, so the cache
    /// reads and writes them as one slice, not a number at a time.
    #[serde(with = "serde_bytes")]
    lens: Vec<u8>,
    /// The details and the text, each a gzip member of a block (written as
    /// bytes, not a byte at a time). Most of a search cache: read, they
    /// stay in the buffer the cache was read into.
    #[serde(serialize_with = "as_bytes")]
    detail: bytes::Bytes,
    #[serde(serialize_with = "as_bytes")]
    text: bytes::Bytes,
}

fn as_bytes<S: serde::Serializer>(b: &bytes::Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(b)
}

/// An [`Analysed`] as the cache file holds it, borrowed from its bytes.
#[derive(Deserialize)]
pub(super) struct AnalysedRef<'a> {
    terms: &'a str,
    lens: &'a [u8],
    detail: &'a [u8],
    text: &'a [u8],
}

impl AnalysedRef<'_> {
    /// The analysis, its details and text kept in `file` (which they are
    /// slices of): a cache of long articles is mostly their texts, and
    /// copying each into its own allocation was a third of reading it.
    pub(super) fn owned(&self, file: &bytes::Bytes) -> Analysed {
        Analysed {
            terms: self.terms.to_string(),
            lens: self.lens.to_vec(),
            detail: file.slice_ref(self.detail),
            text: file.slice_ref(self.text),
        }
    }
}

impl Analysed {
    /// Analyses `d`, whose text is `text`.
    pub fn of(d: &DocInput, text: &str) -> Analysed {
        let (terms, lens) = doc_terms(d, text);
        Analysed {
            terms,
            lens,
            detail: compress(&serde_json::to_vec(&Detail::of(d)).expect("details serialize")).into(),
            text: compress_at(text.as_bytes(), 3).into(),
        }
    }

    /// The text it was analysed from.
    pub fn text(&self) -> std::io::Result<String> {
        String::from_utf8(inflate(&self.text)?).map_err(std::io::Error::other)
    }

    /// The terms with their "top" bit.
    fn terms(&self) -> impl Iterator<Item = (&str, bool)> {
        let (mut from, mut at) = (0, 0);
        std::iter::from_fn(move || {
            if at >= self.lens.len() {
                return None;
            }
            let v = decode::varint(&self.lens, &mut at) as usize;
            let t = &self.terms[from..from + (v >> 1)];
            from += v >> 1;
            Some((t, v & 1 == 1))
        })
    }
}

impl DocInput<'_> {
    /// Everything an [`Analysed`] is a function of: an analysis kept under
    /// this key is the one [`Analysed::of`] would give.
    pub fn key(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(&VERSION.to_le_bytes());
        h.update(&ANALYSIS.to_le_bytes());
        let mut field = |s: &str| {
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        for s in [self.title, self.url, self.date, self.section, self.section_title, self.summary] {
            field(s);
        }
        // Lists and the thumbnail by their lengths first: no two documents
        // give the same fields.
        for list in [&self.authors, &self.tags, &self.categories, &self.thumb.into_iter().collect()] {
            field(&list.len().to_string());
            list.iter().for_each(|s| field(s));
        }
        h.update(&[self.archived as u8]);
        h.update(&self.text_id);
        *h.finalize().as_bytes()
    }
}

/// Version of the text analysis: change it with [`analyze`], so that
/// analyses kept by earlier builds are not reused.
const ANALYSIS: u32 = 1;

/// What a search page reads first (`manifest.bin`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// The site, or `""` for the network index.
    pub site: String,
    pub language: String,
    /// The id space.
    pub docs: u32,
    /// Documents in the index.
    pub count: usize,
    /// Documents per block.
    pub block: u32,
    /// (first term, file name, bytes of its header and directory) of every
    /// shard, in term order.
    pub shards: Vec<(String, String, u32)>,
    /// The sites whose documents the index holds, by id range: one for a
    /// site's own index.
    pub parts: Vec<Part>,
    /// Kind → [(value, label, documents)], most documents first.
    pub facets: BTreeMap<String, Vec<(String, String, usize)>>,
}

/// One site's documents in an index: ids `offset..offset + docs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub site: String,
    pub title: String,
    pub offset: u32,
    pub docs: u32,
    /// Block files, by [`BLOCK`] ids.
    pub blocks: Vec<String>,
    /// In a network index: the site's `base_url`, which its results'
    /// root-relative URLs are resolved against.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

/// Sorts `terms` and cuts them into shards: (first term, name) of each and
/// the files, under `dir`.
#[allow(clippy::type_complexity)]
pub(super) fn shard_files(
    mut terms: Vec<(String, Vec<u8>)>,
    dir: &str,
    max_shards: usize,
) -> (Vec<(String, String, u32)>, Vec<(String, Vec<u8>)>) {
    terms.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let starts = cut(&terms, max_shards);
    let built: Vec<((String, String, u32), (String, Vec<u8>))> = starts
        .par_iter()
        .enumerate()
        .map(|(k, &start)| {
            let end = starts.get(k + 1).copied().unwrap_or(terms.len());
            let (bytes, head) = encode_shard(&terms[start..end]);
            let name = file_name('s', &bytes);
            ((terms.get(start).map(|t| t.0.clone()).unwrap_or_default(), name.clone(), head), (format!("{dir}{name}.bin"), bytes))
        })
        .collect();
    built.into_iter().unzip()
}

/// One result's details, as `search.js` shows them.
#[derive(Serialize)]
struct Detail<'a> {
    t: &'a str,
    u: &'a str,
    d: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    s: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    a: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    g: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    i: Option<&'a str>,
    m: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    x: bool,
}

impl<'a> Detail<'a> {
    fn of(d: &'a DocInput) -> Detail<'a> {
        Detail {
            t: d.title,
            u: d.url,
            d: d.date,
            s: d.section_title,
            a: d.authors.clone(),
            g: d.tags.clone(),
            i: d.thumb,
            m: cap(d.summary, SUMMARY_CHARS),
            x: d.archived,
        }
    }
}

/// Ids by date, oldest first (then by key).
fn assign_ids(docs: &[DocInput]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.sort_by(|&a, &b| docs[a].date.cmp(docs[b].date).then(docs[a].key.cmp(docs[b].key)));
    let mut ids = vec![0; docs.len()];
    for (id, i) in order.into_iter().enumerate() {
        ids[i] = id as u32;
    }
    ids
}

/// A posting list built in id order, as the gaps it is published with.
#[derive(Default)]
pub(super) struct List {
    n: u32,
    first: u32,
    last: u32,
    gaps: Vec<u8>,
}

impl List {
    pub(super) fn push(&mut self, id: u32) {
        if self.n == 0 {
            self.first = id;
            varint(&mut self.gaps, id);
        } else {
            varint(&mut self.gaps, id - self.last);
        }
        self.last = id;
        self.n += 1;
    }

    /// `n`, then the gaps (kind 0) or, when smaller, a bitmap from the
    /// first id (kind 1).
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        varint(out, self.n);
        if self.n == 0 {
            return;
        }
        let span = (self.last - self.first) as usize / 8 + 1;
        if span + 4 < self.gaps.len() {
            out.push(1);
            varint(out, self.first);
            varint(out, span as u32);
            let at = out.len();
            out.resize(at + span, 0);
            let (mut pos, mut id) = (0, 0);
            for k in 0..self.n {
                let gap = decode::varint(&self.gaps, &mut pos);
                id = if k == 0 { gap } else { id + gap };
                let bit = (id - self.first) as usize;
                out[at + bit / 8] |= 1 << (bit % 8);
            }
        } else {
            out.push(0);
            out.extend_from_slice(&self.gaps);
        }
    }
}

/// The term maps: FxHash (rustc-hash, already in the tree) instead of
/// SipHash, whose resistance to chosen keys buys nothing for a build's own
/// content and costs a tenth of the index's build time.
pub(super) type TermMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Documents analysed at once: bounds the terms held before they are
/// merged into the posting lists.
const CHUNK: usize = 1024;

/// Every term with its encoded postings (documents, then top documents).
/// Documents are taken a chunk at a time in id order, so lists grow sorted
/// and are kept as gaps (about a byte per posting); terms are split by hash
/// into one map per thread, merged in parallel.
fn postings(analysed: &[Analysed], ids: &[u32]) -> Vec<(String, Vec<u8>)> {
    let parts = rayon::current_num_threads().max(1);
    let mut order: Vec<usize> = (0..analysed.len()).collect();
    order.sort_by_key(|&i| ids[i]);
    let mut maps: Vec<TermMap<String, (List, List)>> = (0..parts).map(|_| TermMap::default()).collect();
    for chunk in order.chunks(CHUNK) {
        // Each document's terms by part: (term, top) per map.
        let split: Vec<Vec<Vec<(&str, bool)>>> = chunk
            .par_iter()
            .map(|&i| {
                let mut out: Vec<Vec<(&str, bool)>> = (0..parts).map(|_| vec![]).collect();
                for (t, top) in analysed[i].terms() {
                    // The top bits: the maps' own buckets use the low ones.
                    out[((rustc_hash::FxBuildHasher.hash_one(t) >> 40) % parts as u64) as usize].push((t, top));
                }
                out
            })
            .collect();
        maps.par_iter_mut().enumerate().for_each(|(p, map)| {
            for (&i, terms) in chunk.iter().zip(&split) {
                let id = ids[i];
                for &(t, top) in &terms[p] {
                    let e = match map.get_mut(t) {
                        Some(e) => e,
                        None => map.entry(t.to_string()).or_default(),
                    };
                    e.0.push(id);
                    if top {
                        e.1.push(id);
                    }
                }
            }
        });
    }
    maps.into_par_iter()
        .flat_map_iter(|map| map.into_iter())
        .map(|(t, (d, top))| {
            let mut out = Vec::with_capacity(d.gaps.len() + top.gaps.len() + 8);
            d.encode(&mut out);
            top.encode(&mut out);
            (t, out)
        })
        .collect()
}

/// A document's distinct terms, sorted, one after the other, with their
/// lengths and "top" bits ([`Analysed::lens`]). One buffer per
/// document instead of a string per term: analysis allocates little, and
/// the merge copies a term only the first time it meets it.
fn doc_terms(d: &DocInput, text: &str) -> (String, Vec<u8>) {
    let mut buf = String::new();
    let mut spans: Vec<(u32, u32, bool)> = vec![];
    let mut add = |t: &str, top: bool| {
        let from = buf.len() as u32;
        buf.push_str(t);
        spans.push((from, buf.len() as u32, top));
    };
    for field in
        [d.title, d.summary].into_iter().chain(d.tags.iter().copied()).chain(d.categories.iter().copied()).chain(d.authors.iter().copied())
    {
        analyze::terms(field, |t| add(t, true));
    }
    analyze::terms(text, |t| add(t, false));
    for (_, letter) in FACETS {
        for (v, _) in d.facet_values(letter) {
            add(&facet_term(letter, v), false);
        }
    }
    // Distinct first, then sorted: an article repeats most of its words,
    // and sorting every occurrence was a fifth of the analysis.
    let mut distinct: TermMap<&str, bool> = TermMap::default();
    for &(a, b, top) in &spans {
        *distinct.entry(&buf[a as usize..b as usize]).or_default() |= top;
    }
    let mut sorted: Vec<(&str, bool)> = distinct.into_iter().collect();
    sorted.sort_unstable_by(|x, y| x.0.cmp(y.0));
    let mut terms = String::with_capacity(sorted.iter().map(|(t, _)| t.len()).sum());
    let mut lens = Vec::with_capacity(sorted.len());
    for (t, top) in sorted {
        terms.push_str(t);
        varint(&mut lens, ((t.len() as u32) << 1) | top as u32);
    }
    (terms, lens)
}

/// Filter values with their document counts and labels.
fn facets(docs: &[DocInput]) -> BTreeMap<String, Vec<(String, String, usize)>> {
    let mut out = BTreeMap::new();
    for (kind, letter) in FACETS {
        let mut counts: HashMap<String, (String, usize)> = HashMap::new();
        for d in docs {
            for (v, label) in d.facet_values(letter) {
                counts.entry(analyze::normalize(v)).or_insert_with(|| (label.to_string(), 0)).1 += 1;
            }
        }
        let mut list: Vec<(String, String, usize)> = counts.into_iter().map(|(v, (label, n))| (v, label, n)).collect();
        if letter == 'y' {
            list.sort_by(|a, b| b.0.cmp(&a.0));
        } else {
            list.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        }
        list.truncate(MAX_FACET_VALUES);
        out.insert(kind.to_string(), list);
    }
    out
}

/// Where shards start (indices into `terms`). What a lookup reads is a
/// shard's directory (and then one posting list), so shards are cut by the
/// bytes of their directories: the target is the directories' total over
/// `max_shards` (at least [`MIN_SHARD`]), rounded up to
/// a quarter power of two (…, 16, 20, 24, 28, 32 KB, …) so that it changes
/// only when the index grows by a quarter. A shard starts at a term whose
/// hash falls under a threshold set so that shards average the target,
/// which depends only on the term: an edit that grows one posting list
/// moves no boundary. A shard that grows past twice the target is cut
/// there, and the next one starts again at a hash point.
fn cut(terms: &[(String, Vec<u8>)], max_shards: usize) -> Vec<usize> {
    let size = |(t, p): &(String, Vec<u8>)| dir_bytes(t, p);
    let total: usize = terms.iter().map(size).sum();
    let target = quarter_power(MIN_SHARD.max(total.div_ceil(max_shards)));
    // Expected terms per shard, rounded the same way.
    let per_shard = quarter_power((target * terms.len()).div_ceil(total.max(1)).max(1)) as u64;
    let mut starts = vec![0];
    let mut acc = 0;
    for (i, term) in terms.iter().enumerate() {
        let s = size(term);
        if i > 0 && (acc + s > 2 * target || term_hash(&term.0).is_multiple_of(per_shard)) && acc > 0 {
            starts.push(i);
            acc = 0;
        }
        acc += s;
    }
    starts
}

/// `n` rounded up to a multiple of a quarter of the power of two below it.
fn quarter_power(n: usize) -> usize {
    let step = (n.next_power_of_two() / 8).max(1);
    n.div_ceil(step) * step
}

fn term_hash(term: &str) -> u64 {
    u64::from_le_bytes(blake3::hash(term.as_bytes()).as_bytes()[..8].try_into().expect("8 bytes"))
}

fn varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes a term takes in a shard's directory (about).
fn dir_bytes(t: &str, p: &[u8]) -> usize {
    t.len() + 3 + if p.len() <= INLINE { p.len() } else { 6 }
}

/// A shard: the version (a byte), the length of the directory (u32,
/// little-endian), the directory (gzip), then the long posting lists, each
/// its own gzip member. The directory holds the term count, then per term
/// its bytes front-coded against the previous term (shared prefix length,
/// suffix length, suffix) and either `0` and its postings, or `1`, the
/// offset of its member after the directory and the member's length.
/// Returns the bytes and where the directory ends (what a lookup reads
/// first; the manifest lists it).
fn encode_shard(terms: &[(String, Vec<u8>)]) -> (Vec<u8>, u32) {
    let mut dir = vec![];
    let mut area = vec![];
    varint(&mut dir, terms.len() as u32);
    let mut prev: &[u8] = b"";
    for (t, p) in terms {
        let t = t.as_bytes();
        let shared = prev.iter().zip(t).take_while(|(a, b)| a == b).count();
        varint(&mut dir, shared as u32);
        varint(&mut dir, (t.len() - shared) as u32);
        dir.extend_from_slice(&t[shared..]);
        if p.len() <= INLINE {
            dir.push(0);
            dir.extend_from_slice(p);
        } else {
            let member = compress_at(p, 1);
            dir.push(1);
            varint(&mut dir, area.len() as u32);
            varint(&mut dir, member.len() as u32);
            area.extend(member);
        }
        prev = t;
    }
    let dir = compress(&dir);
    let mut out = Vec::with_capacity(5 + dir.len() + area.len());
    out.push(VERSION as u8);
    out.extend((dir.len() as u32).to_le_bytes());
    out.extend(dir);
    let head = out.len() as u32;
    out.extend(area);
    (out, head)
}

/// A block: `n`, the count of members, as a u32 (little-endian), then the
/// `n + 1` offsets (u32) where each member starts and the last ends, then
/// the members. A block of `k` documents has `2k` members: the details of
/// each, then the text of each (empty for an id without a document).
fn encode_block(members: &[&[u8]]) -> Vec<u8> {
    let header = 4 + 4 * (members.len() + 1);
    let mut out = Vec::with_capacity(header + members.iter().map(|m| m.len()).sum::<usize>());
    out.extend((members.len() as u32).to_le_bytes());
    let mut at = header as u32;
    out.extend(at.to_le_bytes());
    for m in members {
        at += m.len() as u32;
        out.extend(at.to_le_bytes());
    }
    for m in members {
        out.extend_from_slice(m);
    }
    out
}

/// The `k`-th member of a block, uncompressed (for tests and tools).
pub fn block_member(block: &[u8], k: usize) -> std::io::Result<Vec<u8>> {
    let word = |i: usize| u32::from_le_bytes(block[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize;
    inflate(&block[word(k)..word(k + 1)])
}

/// `<kind>-<first 10 hex digits of the blake3 of the bytes>`.
pub(super) fn file_name(kind: char, bytes: &[u8]) -> String {
    format!("{kind}-{}", &blake3::hash(bytes).to_hex()[..10])
}

/// The bytes published for an index file: the manifest gzip-compressed;
/// shards and blocks are made of gzip members already (a Range request
/// reads one).
pub fn published(rel: &str, raw: &[u8]) -> Vec<u8> {
    if rel.ends_with("manifest.bin") { compress(raw) } else { raw.to_vec() }
}

/// The bytes of a published file, uncompressed.
pub fn inflate(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = vec![];
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out)?;
    Ok(out)
}

/// Gzip, as published.
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    compress_at(bytes, 6)
}

/// Gzip at `level`: texts use 3 (1 made them 28% larger), long lists 1
/// (they barely compress). The deflater is this thread's for that level
/// (about 350 KB each, kept while the thread lives), reset: making one
/// clears a few hundred kilobytes, more than compressing a posting list
/// costs, and an index compresses one per long list. It is driven as
/// `GzEncoder` drives its own (the same writer, which hands the deflater
/// 32 KiB of room at a time: block boundaries depend on that room), so the
/// bytes, and the names of the files made of them, are GzEncoder's.
fn compress_at(bytes: &[u8], level: u32) -> Vec<u8> {
    use flate2::write::DeflateEncoder;
    thread_local! {
        static DEFLATERS: std::cell::RefCell<Vec<(u32, DeflateEncoder<Vec<u8>>)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    // GzEncoder's header: no name or time, "fastest" or "best" in XFL, OS unknown.
    let xfl = match level {
        0 | 1 => 4,
        9.. => 2,
        _ => 0,
    };
    let mut out = Vec::with_capacity(bytes.len() / 3 + 32);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    let mut out = DEFLATERS.with_borrow_mut(|deflaters| {
        let at = match deflaters.iter().position(|(l, _)| *l == level) {
            Some(at) => at,
            None => {
                deflaters.push((level, DeflateEncoder::new(Vec::new(), flate2::Compression::new(level))));
                deflaters.len() - 1
            }
        };
        let deflate = &mut deflaters[at].1;
        deflate.reset(out).expect("writing to memory");
        deflate.write_all(bytes).expect("writing to memory");
        deflate.try_finish().expect("writing to memory");
        std::mem::take(deflate.get_mut())
    });
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out
}

pub mod decode {
    //! The reader `search.js` implements, for tests and tools.
    use super::*;

    pub(super) fn varint(b: &[u8], at: &mut usize) -> u32 {
        let (mut v, mut shift) = (0u32, 0);
        loop {
            let x = b[*at];
            *at += 1;
            v |= ((x & 0x7f) as u32) << shift;
            if x < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    fn list(b: &[u8], at: &mut usize) -> Vec<u32> {
        let n = varint(b, at) as usize;
        if n == 0 {
            return vec![];
        }
        let kind = b[*at];
        *at += 1;
        if kind == 1 {
            let first = varint(b, at);
            let span = varint(b, at) as usize;
            let bits = &b[*at..*at + span];
            *at += span;
            (0..span * 8).filter(|i| bits[i / 8] & (1 << (i % 8)) != 0).map(|i| first + i as u32).collect()
        } else {
            let mut prev = 0;
            (0..n)
                .map(|k| {
                    let g = varint(b, at);
                    prev = if k == 0 { g } else { prev + g };
                    prev
                })
                .collect()
        }
    }

    /// A term with its documents and top documents.
    pub type Term = (String, Vec<u32>, Vec<u32>);

    /// Where a shard's directory ends.
    pub fn head(b: &[u8]) -> usize {
        5 + u32::from_le_bytes(b[1..5].try_into().expect("4 bytes")) as usize
    }

    /// The terms of a shard, as published.
    pub fn shard(b: &[u8]) -> Vec<Term> {
        assert_eq!(b[0] as u32, VERSION, "a shard of this version");
        let head = head(b);
        let dir = super::inflate(&b[5..head]).expect("a shard's directory inflates");
        let area = &b[head..];
        let mut at = 0;
        let n = varint(&dir, &mut at);
        let mut prev: Vec<u8> = vec![];
        (0..n)
            .map(|_| {
                let shared = varint(&dir, &mut at) as usize;
                let len = varint(&dir, &mut at) as usize;
                prev.truncate(shared);
                prev.extend_from_slice(&dir[at..at + len]);
                at += len;
                let kind = dir[at];
                at += 1;
                let (d, t) = if kind == 0 {
                    (list(&dir, &mut at), list(&dir, &mut at))
                } else {
                    let off = varint(&dir, &mut at) as usize;
                    let len = varint(&dir, &mut at) as usize;
                    let p = super::inflate(&area[off..off + len]).expect("postings inflate");
                    let mut k = 0;
                    (list(&p, &mut k), list(&p, &mut k))
                };
                (String::from_utf8(prev.clone()).unwrap(), d, t)
            })
            .collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A document and its text.
    pub(in crate::search) fn doc<'a>(key: &'a str, title: &'a str, date: &'a str, text: &'a str) -> (DocInput<'a>, &'a str) {
        let doc = DocInput {
            key,
            title,
            url: key,
            date,
            section: "news",
            section_title: "News",
            authors: vec!["김기자"],
            tags: vec!["경제"],
            categories: vec![],
            summary: "",
            thumb: None,
            archived: false,
            text_id: *blake3::hash(text.as_bytes()).as_bytes(),
        };
        (doc, text)
    }

    /// The index of `docs`, each analysed.
    fn build(site: &str, title: &str, language: &str, docs: &[(DocInput, &str)]) -> Built {
        let analysed: Vec<Analysed> = docs.iter().map(|(d, text)| Analysed::of(d, text)).collect();
        let docs: Vec<DocInput> = docs.iter().map(|(d, _)| d.clone()).collect();
        super::build(site, title, language, &docs, &analysed)
    }

    fn all_terms(b: &Built) -> BTreeMap<String, (Vec<u32>, Vec<u32>)> {
        b.files
            .iter()
            .filter(|(p, _)| p.contains("/s-"))
            .flat_map(|(_, bytes)| decode::shard(bytes))
            .map(|(t, d, top)| (t, (d, top)))
            .collect()
    }

    #[test]
    fn postings_round_trip_through_shards_with_title_hits_marked() {
        let docs = [
            doc("a.md", "기준금리 동결", "2024-01-02", "한국은행이 기준금리를 동결했다."),
            doc("b.md", "Publishing news", "2024-01-01", "We published it."),
        ];
        let b = build("s", "S", "ko", &docs);
        let terms = all_terms(&b);
        // Ids by date: b is older, so 0.
        assert_eq!(terms["금리"], (vec![1], vec![1]));
        assert_eq!(terms["한국"], (vec![1], vec![]));
        assert_eq!(terms["publish"], (vec![0], vec![0]));
        assert_eq!(terms[&facet_term('t', "경제")].0, vec![0, 1]);
        assert_eq!(terms[&facet_term('y', "2024")].0, vec![0, 1]);
        let m: serde_json::Value = serde_json::from_slice(&b.files.iter().find(|(p, _)| p == MANIFEST).unwrap().1).unwrap();
        assert_eq!(m["count"], 2);
        assert_eq!(m["facets"]["section"][0], serde_json::json!(["news", "News", 2]));
    }

    fn encode_list(out: &mut Vec<u8>, ids: &[u32]) {
        let mut l = List::default();
        ids.iter().for_each(|&id| l.push(id));
        l.encode(out);
    }

    #[test]
    fn dense_lists_are_bitmaps_and_sparse_ones_gaps() {
        for ids in [vec![], vec![7], (0..1000).collect::<Vec<u32>>(), (0..1000).map(|i| i * 37).collect(), vec![3, 4, 5, 100_000]] {
            let mut out = vec![];
            encode_list(&mut out, &ids);
            out.extend([0, 0]);
            let (shard, _) = encode_shard(&[("x".to_string(), out)]);
            assert_eq!(decode::shard(&shard)[0].1, ids);
        }
        let mut dense = vec![];
        encode_list(&mut dense, &(0..1000).collect::<Vec<u32>>());
        assert!(dense.len() < 140, "a full list costs a bit per document: {}", dense.len());
    }

    #[test]
    fn ids_follow_dates_so_a_new_article_renumbers_nothing() {
        let a = [doc("b.md", "B", "2024-01-02", "y"), doc("a.md", "A", "2024-01-01", "x")];
        let ids = assign_ids(&a.map(|d| d.0));
        assert_eq!(ids, [1, 0]);
        let b = [doc("b.md", "B", "2024-01-02", "y"), doc("a.md", "A", "2024-01-01", "x"), doc("c.md", "C", "2024-02-01", "z")];
        assert_eq!(assign_ids(&b.map(|d| d.0)), [1, 0, 2]);
    }

    #[test]
    fn an_edit_changes_only_the_shards_of_its_terms() {
        let n = 4000;
        let texts: Vec<String> = (0..n).map(|i| format!("word{i} other{i} third{i} common alpha{} 기사{}", i % 7, i % 13)).collect();
        let keys: Vec<String> = (0..n).map(|i| format!("{i:04}.md")).collect();
        let docs: Vec<(DocInput, &str)> = (0..n).map(|i| doc(&keys[i], "T", "2024-01-01", &texts[i])).collect();
        let first = build("s", "S", "en", &docs);
        let shards = |b: &Built| b.files.iter().filter(|(p, _)| p.contains("/s-")).map(|(p, _)| p.clone()).collect::<Vec<_>>();
        assert!(shards(&first).len() > 3, "the index is cut into shards: {}", shards(&first).len());
        let edited = "word5 other5 third5 common alpha5 기사5 zebra".to_string();
        let mut docs2: Vec<(DocInput, &str)> = (0..n).map(|i| doc(&keys[i], "T", "2024-01-01", &texts[i])).collect();
        docs2[5] = doc(&keys[5], "T", "2024-01-01", &edited);
        let second = build("s", "S", "en", &docs2);
        let (a, b) = (shards(&first), shards(&second));
        let changed = b.iter().filter(|p| !a.contains(p)).count();
        assert_eq!(a.len(), b.len());
        assert_eq!(changed, 1, "only the shard holding the new term `zebra` changes");
        // The same documents give the same files, whatever came before.
        assert_eq!(build("s", "S", "en", &docs2).files, second.files);
    }

    /// The deflaters kept per thread write what a new `GzEncoder` writes,
    /// one call after another (each starts from a reset), whatever the size:
    /// published files keep their names. (Large inputs are where a
    /// deflater given other room than GzEncoder's ends its blocks elsewhere.)
    #[test]
    fn a_reused_deflater_writes_what_a_new_gz_encoder_writes() {
        let mut text = String::new();
        for i in 0..40_000u32 {
            text.push_str(&format!("{} ", i.wrapping_mul(2_654_435_761) % 977));
        }
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..190_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 56) as u8
            })
            .collect();
        let prose = "기준금리 동결 the market rate held, 물가 전망 inflation outlook. ".repeat(6000);
        let inputs: [&[u8]; 7] = [b"", b"a", b"posting list", text.as_bytes(), &text.as_bytes()[..5000], &noise, prose.as_bytes()];
        for level in [1, 3, 6] {
            for input in inputs.iter().chain(inputs.iter()) {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
                gz.write_all(input).unwrap();
                assert_eq!(compress_at(input, level), gz.finish().unwrap(), "level {level}, {} bytes", input.len());
                assert_eq!(inflate(&compress_at(input, level)).unwrap(), *input);
            }
        }
    }

    #[test]
    fn a_lookup_reads_a_small_directory_however_long_the_lists() {
        // Few distinct words with long lists (like Korean bigrams): 300
        // two-syllable words, each in about a tenth of 20,000 documents.
        let syllables: Vec<char> = ('가'..='힣').step_by(37).take(300).collect();
        let texts: Vec<String> = (0..20_000u64)
            .map(|i| {
                let pick = |k: u64| syllables[((i * 2_654_435_761 + k * 40_503) % 300) as usize];
                (0..30).map(|k| format!("{}{}", pick(k), pick(k + 1))).collect::<Vec<_>>().join(" ")
            })
            .collect();
        let keys: Vec<String> = (0..20_000).map(|i| format!("{i}.md")).collect();
        let docs: Vec<(DocInput, &str)> = (0..20_000).map(|i| doc(&keys[i], "", "2024-01-01", &texts[i])).collect();
        let b = build("s", "S", "ko", &docs);
        let shards: Vec<&Vec<u8>> = b.files.iter().filter(|(p, _)| p.contains("/s-")).map(|(_, b)| b).collect();
        let (dirs, all): (usize, usize) = shards.iter().map(|b| (decode::head(b), b.len())).fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1));
        assert!(all > 40_000, "long lists: {all} bytes");
        assert!(dirs * 10 < all, "a lookup reads the directory ({dirs} bytes) and one list, not the shard ({all})");
        // Many distinct words: cut into shards, each directory bounded.
        let texts: Vec<String> = (0..5_000).map(|i| (0..20).map(|k| format!("w{i}x{k}")).collect::<Vec<_>>().join(" ")).collect();
        let docs: Vec<(DocInput, &str)> = (0..5_000).map(|i| doc(&keys[i], "", "2024-01-01", &texts[i])).collect();
        let b = build("s", "S", "en", &docs);
        assert!(b.counts[0] > 20, "{} shards", b.counts[0]);
        for (p, bytes) in b.files.iter().filter(|(p, _)| p.contains("/s-")) {
            // At most twice the target, plus the term that crossed it.
            let dir = inflate(&bytes[5..decode::head(bytes)]).unwrap();
            assert!(dir.len() <= 2 * MIN_SHARD + 256, "{p}: a directory of {} bytes", dir.len());
        }
    }
}
