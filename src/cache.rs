//! The saved build state, one file per site under the cache folder (`.gen/`):
//! source hashes with their parsed metadata, and for every output its input
//! hash, content hash and stamp.
//!
//! The file starts with a magic string, a format version and a blake3 checksum
//! of the body; anything that does not match is reported in one line and
//! ignored, so a corrupt or foreign cache can only cost a full build.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::discover::{Hash, Stamp};
use crate::images::ImageRecord;
use crate::parse::Meta;

const MAGIC: &[u8; 8] = b"GENSTATE";
const VERSION: u32 = 9;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceRecord {
    pub stamp: Stamp,
    pub hash: Hash,
    pub meta: Meta,
}

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct OutputRecord {
    /// Hash of what the output was made from.
    pub input: Hash,
    /// Hash of the bytes published.
    pub content: Hash,
    /// Stamp of the published file, to notice it was changed or deleted.
    pub stamp: Stamp,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct SiteState {
    /// The output folder this state describes; another folder means no state.
    pub output_dir: PathBuf,
    /// The time zone the sources' dates were read in.
    pub timezone: String,
    /// Hash of every input besides sources and images: configuration,
    /// templates, assets, authors, build options, gen's version.
    pub settings: Hash,
    /// Unix time from which the same inputs give other output (a future
    /// article comes due, one leaves the news sitemap); `None`: never.
    pub valid_until: Option<i64>,
    /// HTML pages of the site, for reports of builds that skip it.
    pub pages: usize,
    /// Articles left out because they are dated after the build's clock
    /// (repo-relative paths), for the same reports.
    pub future: Vec<String>,
    /// Every folder of `content/<site>/` with its stamp: while none changed,
    /// the next build re-stats the known sources instead of walking.
    pub folders: Vec<crate::discover::Folder>,
    /// Markdown sources by path relative to `content/<site>/`.
    pub sources: HashMap<String, SourceRecord>,
    /// Published files by site-relative path.
    pub outputs: BTreeMap<String, OutputRecord>,
    /// Article output path → the images it publishes. The current hashes of
    /// their sources are part of the article's input hash.
    pub deps: BTreeMap<String, Vec<Dep>>,
    /// Image sources by repo-relative path: stamp, hash and size.
    pub image_sources: HashMap<String, ImageRecord>,
}

/// An image an article publishes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Dep {
    /// Repo-relative source path.
    pub source: String,
    /// Site-relative output path.
    pub rel: String,
}

pub fn state_path(cache_dir: &Path, site: &str) -> PathBuf {
    cache_dir.join(format!("{site}.state"))
}

/// An exclusive lock on the cache folder, held for a whole build (also
/// `gen check`, `gen export` and each preview rebuild): two builds at once
/// would stage into and publish over each other. Released when dropped,
/// and by the OS when the process dies, so a killed build leaves no stale lock.
#[derive(Debug)]
pub struct Lock {
    _file: std::fs::File,
}

pub const LOCK_FILE: &str = "lock";

impl Lock {
    pub fn take(cache_dir: &Path) -> anyhow::Result<Lock> {
        use std::io::{Read as _, Seek as _, Write as _};
        std::fs::create_dir_all(cache_dir).map_err(|e| anyhow::anyhow!("cannot create the cache folder {}: {e}", cache_dir.display()))?;
        let path = cache_dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                file.read_to_string(&mut pid).ok();
                let pid = pid.trim();
                let who = if pid.is_empty() { String::new() } else { format!(" (pid {pid})") };
                anyhow::bail!(
                    "another gen build is running on this repository{who}: it holds {}. Wait for it to finish, then build again",
                    path.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => anyhow::bail!("cannot lock {}: {e}", path.display()),
        }
        // Who holds it, for the message above; only a hint, so not synced.
        file.set_len(0).ok();
        file.rewind().ok();
        write!(file, "{}", std::process::id()).ok();
        Ok(Lock { _file: file })
    }
}

/// Why a cache file was not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0} is not a gen cache or was written by another version of gen; doing a full build")]
    Foreign(PathBuf),
    #[error("{0} is corrupt (checksum mismatch); doing a full build")]
    Corrupt(PathBuf),
}

/// Loads a site's state. `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<SiteState>, CacheError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CacheError::Io(path.to_path_buf(), e)),
    };
    if bytes.len() < 12 || &bytes[..8] != MAGIC || bytes[8..12] != VERSION.to_le_bytes() {
        return Err(CacheError::Foreign(path.to_path_buf()));
    }
    open(MAGIC, VERSION, &bytes).map(Some).ok_or_else(|| CacheError::Corrupt(path.to_path_buf()))
}

/// The bytes of a state file (written by the publisher, atomically).
pub fn encode(state: &SiteState) -> Vec<u8> {
    seal(MAGIC, VERSION, state)
}

/// A cache file: magic, format version, blake3 checksum of the body, body.
pub fn seal(magic: &[u8; 8], version: u32, value: &impl Serialize) -> Vec<u8> {
    let body = postcard::to_stdvec(value).expect("serializing plain data cannot fail");
    let mut out = Vec::with_capacity(body.len() + 44);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(blake3::hash(&body).as_bytes());
    out.extend_from_slice(&body);
    out
}

/// The value in a [`seal`]ed file; `None` when anything does not match.
pub fn open<T: serde::de::DeserializeOwned>(magic: &[u8; 8], version: u32, bytes: &[u8]) -> Option<T> {
    let header = magic.len() + 4 + 32;
    if bytes.len() < header || &bytes[..8] != magic || bytes[8..12] != version.to_le_bytes() {
        return None;
    }
    let body = &bytes[header..];
    if blake3::hash(body).as_bytes() != &bytes[12..44] {
        return None;
    }
    postcard::from_bytes(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.state");
        let mut st = SiteState { output_dir: "public/s".into(), ..Default::default() };
        st.outputs.insert("a/index.html".into(), OutputRecord { input: [1; 32], content: [2; 32], stamp: Stamp { size: 3, mtime_ns: 4 } });
        std::fs::write(&p, encode(&st)).unwrap();
        assert_eq!(load(&p).unwrap(), Some(st));

        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(load(&p), Err(CacheError::Corrupt(_))));

        std::fs::write(&p, b"GENSTATE\x63\0\0\0").unwrap();
        assert!(matches!(load(&p), Err(CacheError::Foreign(_))));
        assert!(load(&dir.path().join("missing")).unwrap().is_none());
    }
}
