//! The network search: one index over every site with `search_network =
//! true`, published under the host site's `_search/net/` once all sites are.
//!
//! It is made from the sites' published indexes, not from their sources:
//! each member's shards are read back and merged term by term, with the
//! member's ids moved past the members before it (site after site, so a
//! network id names its site by range). Only the shards are new. The
//! members' blocks (details and texts) are the same files, copied (cloned where
//! the file system can) under the same content-addressed names; a member
//! whose index did not change costs nothing to carry. The merged shards are
//! needed all the same: a query of the network then loads one shard per
//! term, not one per term and site.
//!
//! Its own state (`.gen/_network.state`) names the host, lists the files it
//! published and holds the hash of the members' manifests: when no member's
//! index changed and its files are in place, nothing is done. A network
//! moved to another host, or switched off, takes its files from the old
//! host's output ([`retire`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::index::{self, FILES, List, MANIFEST, Manifest, Part, TermMap};
use crate::cache::OutputRecord;
use crate::config::Network;
use crate::discover::{self, Hash, Stamp};
use crate::write::Publisher;

/// Where the network index is published, inside the host site.
pub const NET_DIR: &str = "_search/net/";
/// The network's manifest, relative to the host site.
pub const NET_MANIFEST: &str = "_search/net/manifest.bin";

const MAGIC: &[u8; 8] = b"GENNETWK";
const STATE_VERSION: u32 = 3;
/// Its state's name in the cache folder (`_network.state`): no site may
/// have it (`config`).
pub const STATE_NAME: &str = "_network";
/// Its content-addressed files, relative to [`NET_DIR`].
pub const NET_FILES: &str = "f/";

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// The output folder and the site in it whose output holds the files.
    output: PathBuf,
    host: String,
    /// Hash of the host, the members and their manifests.
    input: Hash,
    /// Published files, relative to `_search/net/`.
    files: BTreeMap<String, OutputRecord>,
}

/// What the network step did (`--json`: `network`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct NetworkReport {
    pub host: String,
    pub sites: Vec<String>,
    pub documents: usize,
    pub shards: usize,
    /// Files written by this build (0: the index was up to date).
    pub files_written: usize,
    /// Members without a published index (search off, or never built).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    pub ms: f64,
}

struct Member {
    name: String,
    title: String,
    url: String,
    dir: PathBuf,
    manifest: Manifest,
}

/// Builds and publishes the network index of `net` from the sites'
/// published indexes under `output`.
/// `sites` gives each site's title and `base_url`.
/// A host that failed this build keeps the network its pages name: moving
/// it waits for a build that publishes the old host.
pub fn publish(
    output: &Path,
    cache_dir: &Path,
    net: &Network,
    sites: &BTreeMap<String, (String, String)>,
    failed: &[String],
) -> anyhow::Result<NetworkReport> {
    let mut report = NetworkReport { host: net.host.clone(), sites: net.sites.clone(), ..Default::default() };
    let mut members = vec![];
    let mut h = blake3::Hasher::new();
    h.update(&index::VERSION.to_le_bytes());
    h.update(net.host.as_bytes());
    for name in &net.sites {
        let dir = output.join(name);
        let raw = match std::fs::read(dir.join(MANIFEST)) {
            Ok(b) => index::inflate(&b).with_context(|| format!("{} is damaged: build the site again", dir.join(MANIFEST).display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.missing.push(name.clone());
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.join(MANIFEST).display())),
        };
        h.update(&[0]);
        h.update(name.as_bytes());
        h.update(&[0]);
        h.update(&raw);
        let (title, url) = sites.get(name).cloned().unwrap_or_else(|| (name.clone(), String::new()));
        h.update(title.as_bytes());
        h.update(url.as_bytes());
        let manifest: Manifest = serde_json::from_slice(&raw)
            .with_context(|| format!("{} is not a search manifest of this gen", dir.join(MANIFEST).display()))?;
        members.push(Member { name: name.clone(), title, url, dir, manifest });
    }
    let input = *h.finalize().as_bytes();
    let state_path = crate::cache::state_path(cache_dir, STATE_NAME);
    let publisher = open_publisher(output, &net.host, &state_path)?;
    let mut previous = settled(output, &state_path, &net.host)?;
    if previous.output != output {
        // Another output folder's: nothing of it is here.
        previous = State::default();
    } else if previous.host != net.host {
        if failed.contains(&previous.host) {
            return Ok(report);
        }
        // Moved: the old host's copy goes first (a clean build has none).
        remove_files(&state_path, &previous)?;
        previous = State::default();
    }
    let out_dir = output.join(&net.host).join(NET_DIR);
    // Sealed when its state file was written, after the files (`Stamp::holds`).
    let sealed = crate::discover::changed_ns(&state_path);
    let intact = |rel: &str, r: &OutputRecord| std::fs::metadata(out_dir.join(rel)).is_ok_and(|m| Stamp::of(&m).holds(&r.stamp, sealed));
    report.documents = members.iter().map(|m| m.manifest.count).sum();
    if previous.input == input && !previous.files.is_empty() && previous.files.iter().all(|(rel, r)| intact(rel, r)) {
        report.shards = previous.files.keys().filter(|k| k.strip_prefix(NET_FILES).is_some_and(|n| n.starts_with("s-"))).count();
        return Ok(report);
    }

    // Merge the members' shards, member after member: ids grow, so every
    // list stays sorted.
    let mut map: TermMap<String, (List, List)> = TermMap::default();
    let mut parts = vec![];
    let mut offset = 0u32;
    for m in &members {
        let shards: Vec<Vec<index::decode::Term>> = m
            .manifest
            .shards
            .par_iter()
            .map(|(_, name, _)| {
                let path = m.dir.join(format!("{FILES}{name}.bin"));
                let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                Ok(index::decode::shard(&bytes))
            })
            .collect::<anyhow::Result<_>>()?;
        for (t, docs, top) in shards.into_iter().flatten() {
            let e = match map.get_mut(t.as_str()) {
                Some(e) => e,
                None => map.entry(t).or_default(),
            };
            docs.iter().for_each(|&id| e.0.push(id + offset));
            top.iter().for_each(|&id| e.1.push(id + offset));
        }
        let own = m.manifest.parts.first().context("a site's manifest has its part")?;
        parts.push(Part { site: m.name.clone(), title: m.title.clone(), offset, url: Some(m.url.clone()), ..own.clone() });
        offset += m.manifest.docs;
    }
    let terms: Vec<(String, Vec<u8>)> = map
        .into_par_iter()
        .map(|(t, (d, top))| {
            let mut out = vec![];
            d.encode(&mut out);
            top.encode(&mut out);
            (t, out)
        })
        .collect();
    // Within the host's budget of search files: its own index, the sites'
    // blocks carried here, then as many shards as fit.
    let host_files: usize =
        members.iter().filter(|m| m.name == net.host).map(|m| m.manifest.shards.len() + m.manifest.parts[0].blocks.len() + 1).sum();
    let blocks: usize = members.iter().map(|m| m.manifest.parts[0].blocks.len()).sum();
    let (shards, mut files) = index::shard_files(terms, NET_FILES, index::MAX_FILES.saturating_sub(host_files + blocks + 1).max(200));
    report.shards = shards.len();
    let manifest = Manifest {
        version: index::VERSION,
        site: String::new(),
        language: members.first().map(|m| m.manifest.language.clone()).unwrap_or_default(),
        docs: offset,
        count: report.documents,
        block: index::BLOCK,
        shards,
        parts,
        facets: facets(&members),
    };
    files.push(("manifest.bin".to_string(), serde_json::to_vec(&manifest).expect("manifest serializes")));

    // Publish: new shards and the manifest written, the members' files
    // copied, what the previous network had and this one has not removed.
    let result = (|| -> anyhow::Result<(BTreeMap<String, OutputRecord>, Vec<String>)> {
        let mut records = BTreeMap::new();
        let mut moves = vec![];
        let staged: Vec<anyhow::Result<(String, OutputRecord, bool)>> = files
            .par_iter()
            .map(|(rel, raw)| {
                if rel != "manifest.bin"
                    && let Some(r) = previous.files.get(rel).filter(|r| intact(rel, r))
                {
                    return Ok((rel.clone(), *r, false));
                }
                let bytes = index::published(rel, raw);
                let stamp = publisher.stage(rel, &bytes).with_context(|| format!("cannot write {}", out_dir.join(rel).display()))?;
                Ok((rel.clone(), OutputRecord { input: discover::hash_bytes(raw), content: discover::hash_bytes(&bytes), stamp }, true))
            })
            .collect();
        let copies: Vec<(String, PathBuf)> = members
            .iter()
            .flat_map(|m| {
                let own = &m.manifest.parts[0];
                own.blocks.iter().map(move |n| (format!("{NET_FILES}{n}.bin"), m.dir.join(format!("{FILES}{n}.bin"))))
            })
            .collect();
        let copied: Vec<anyhow::Result<(String, OutputRecord, bool)>> = copies
            .par_iter()
            .map(|(rel, source)| {
                if let Some(r) = previous.files.get(rel).filter(|r| intact(rel, r)) {
                    return Ok((rel.clone(), *r, false));
                }
                let (stamp, _) = publisher.stage_file(rel, source, false).with_context(|| format!("cannot copy {}", source.display()))?;
                let content = publisher.staged_hash(rel)?;
                Ok((rel.clone(), OutputRecord { input: content, content, stamp }, true))
            })
            .collect();
        for r in staged.into_iter().chain(copied) {
            let (rel, record, written) = r?;
            if written {
                moves.push(rel.clone());
            }
            records.insert(rel, record);
        }
        // The manifest last: it goes live once what it names is in place.
        moves.sort_by_key(|rel| rel == "manifest.bin");
        Ok((records, moves))
    })();
    let (records, moves) = match result {
        Ok(r) => r,
        Err(e) => {
            publisher.discard().ok();
            return Err(e);
        }
    };
    let removes: Vec<String> = previous.files.keys().filter(|k| !records.contains_key(*k)).cloned().collect();
    report.files_written = moves.len();
    let state =
        crate::cache::seal(MAGIC, STATE_VERSION, &State { output: output.to_path_buf(), host: net.host.clone(), input, files: records });
    publisher.commit(moves, removes, Some(&state)).with_context(|| format!("publishing {}", out_dir.display()))?;
    Ok(report)
}

/// The last network's state. One written before states named their host
/// and output (version 2) was written for `host` in `output` as far as
/// anyone can tell.
fn load(state_path: &Path, output: &Path, host: &str) -> State {
    #[derive(Deserialize)]
    struct Unnamed {
        input: Hash,
        files: BTreeMap<String, OutputRecord>,
    }
    let Ok(bytes) = std::fs::read(state_path) else { return State::default() };
    crate::cache::open(MAGIC, STATE_VERSION, &bytes)
        .or_else(|| {
            let u: Unnamed = crate::cache::open(MAGIC, 2, &bytes)?;
            Some(State { output: output.to_path_buf(), host: host.to_string(), input: u.input, files: u.files })
        })
        .unwrap_or_default()
}

/// The network's publisher at `host`. Opening it replays the journal a
/// crash left there, which installs the state that goes with its files.
fn open_publisher(output: &Path, host: &str, state_path: &Path) -> anyhow::Result<Publisher> {
    let dir = output.join(host).join(index::DIR);
    let (publisher, _) =
        Publisher::open(&dir, "net", state_path).with_context(|| format!("cannot prepare {}", dir.join("net").display()))?;
    Ok(publisher)
}

/// The last network's state once a journal left at the host it names (not
/// `host`, whose publisher the caller opened first) is replayed too.
fn settled(output: &Path, state_path: &Path, host: &str) -> anyhow::Result<State> {
    let state = load(state_path, output, host);
    if state.host.is_empty() || state.host == host || state.output != output {
        return Ok(state);
    }
    open_publisher(output, &state.host, state_path)?;
    Ok(load(state_path, output, host))
}

/// Takes a network index that is switched off out of its host's output:
/// the files its state lists (a file gen did not write stays), then the
/// state itself. `sites`: the configured ones, where a state written
/// before states named their host looks for it. A host that failed this
/// build keeps it (its pages name it) until a build publishes that host.
pub fn retire(output: &Path, cache_dir: &Path, sites: &[String], failed: &[String]) -> anyhow::Result<()> {
    let state_path = crate::cache::state_path(cache_dir, STATE_NAME);
    if !state_path.exists() {
        return Ok(());
    }
    let mut state = settled(output, &state_path, "")?;
    if state.host.is_empty() {
        let hosting = sites.iter().find(|s| output.join(s).join(NET_MANIFEST).is_file());
        state.host = hosting.cloned().unwrap_or_default();
    }
    if state.output != output || failed.contains(&state.host) {
        // Another output folder's, or its host's pages still name it.
        return Ok(());
    }
    remove_files(&state_path, &state)?;
    std::fs::remove_file(&state_path).with_context(|| format!("cannot remove {}", state_path.display()))
}

/// Removes the files `previous` published under its host, through the
/// host's journal (a crash halfway is finished by the next build), and
/// installs an empty state.
fn remove_files(state_path: &Path, previous: &State) -> anyhow::Result<()> {
    let out_dir = previous.output.join(&previous.host).join(NET_DIR);
    if previous.files.is_empty() || previous.host.is_empty() || !out_dir.is_dir() {
        return Ok(());
    }
    let publisher = open_publisher(&previous.output, &previous.host, state_path)?;
    let empty = crate::cache::seal(MAGIC, STATE_VERSION, &State { output: previous.output.clone(), ..State::default() });
    publisher
        .commit(vec![], previous.files.keys().cloned().collect(), Some(&empty))
        .with_context(|| format!("removing the network search index from {}", out_dir.display()))?;
    // (Its folder too, once empty.)
    std::fs::remove_dir(&out_dir).ok();
    Ok(())
}

/// The members' filter values, counts summed, plus the sites themselves.
fn facets(members: &[Member]) -> BTreeMap<String, Vec<(String, String, usize)>> {
    let mut merged: BTreeMap<String, BTreeMap<String, (String, usize)>> = BTreeMap::new();
    for m in members {
        for (kind, values) in &m.manifest.facets {
            let into = merged.entry(kind.clone()).or_default();
            for (v, label, n) in values {
                into.entry(v.clone()).or_insert_with(|| (label.clone(), 0)).1 += n;
            }
        }
    }
    let mut out: BTreeMap<String, Vec<(String, String, usize)>> = merged
        .into_iter()
        .map(|(kind, values)| {
            let mut list: Vec<(String, String, usize)> = values.into_iter().map(|(v, (l, n))| (v, l, n)).collect();
            if kind == "year" {
                list.sort_by(|a, b| b.0.cmp(&a.0));
            } else {
                list.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
            }
            list.truncate(index::MAX_FACET_VALUES);
            (kind, list)
        })
        .collect();
    out.insert("site".into(), members.iter().map(|m| (m.name.clone(), m.title.clone(), m.manifest.count)).collect());
    out
}
