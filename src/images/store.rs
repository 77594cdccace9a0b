//! The variant cache: encoded variants by key (see [`super::variants`]),
//! behind one small interface. The local store keeps each variant at
//! `<dir>/<aa>/<bb>/<key>` with the blake3 of its bytes appended: a
//! truncated or corrupt entry reads as missing (and is encoded again), never
//! as an image. [`Cache`] puts a [`Remote`] store behind the local one.

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use super::remote::{Failure, Got, Remote};
use crate::discover::{self, Hash};

/// Where encoded variants are kept between builds.
pub trait VariantStore: Send + Sync {
    /// The bytes stored under `key`, if present and intact.
    fn get(&self, key: &Hash) -> io::Result<Option<Vec<u8>>>;
    /// Stores `bytes` under `key`. Writers of the same key write the same
    /// bytes, so concurrent puts are harmless.
    fn put(&self, key: &Hash, bytes: &[u8]) -> io::Result<()>;
    /// Whether something is stored under `key` (a shard's "already done").
    fn has(&self, key: &Hash) -> io::Result<bool>;
    /// Whether [`VariantStore::prefetch`] does anything (a remote store
    /// is there to fetch from).
    fn fetches(&self) -> bool {
        false
    }
    /// Fetches ahead, many at once, what [`VariantStore::get`] will be asked
    /// for (a remote store's objects, into the local folder), or with
    /// `presence` what [`VariantStore::has`] will be asked.
    fn prefetch(&self, _keys: &[Hash], _presence: bool) {}
    /// A store the build requires failed: what is left is not worth doing.
    fn stopped(&self) -> bool {
        false
    }
}

/// A folder on this machine (`.gen/variants/` by default).
pub struct LocalStore {
    dir: PathBuf,
}

impl LocalStore {
    pub fn new(dir: impl Into<PathBuf>) -> LocalStore {
        LocalStore { dir: dir.into() }
    }

    /// Whether an entry exists (not read, not checked).
    fn exists(&self, key: &Hash) -> bool {
        self.path(key).is_file()
    }

    fn path(&self, key: &Hash) -> PathBuf {
        let hex = discover::hex(key);
        self.dir.join(&hex[..2]).join(&hex[2..4]).join(hex)
    }

    /// Removes every entry whose key is not in `keep` and, with `older_than`,
    /// that was last written before it. Returns (entries, bytes) removed.
    pub fn prune(&self, keep: &std::collections::HashSet<Hash>, older_than: Option<std::time::SystemTime>) -> io::Result<(usize, u64)> {
        let (mut n, mut bytes) = (0, 0);
        if !self.dir.exists() {
            return Ok((0, 0));
        }
        for entry in walkdir::WalkDir::new(&self.dir).min_depth(3).max_depth(3) {
            let entry = entry.map_err(io::Error::other)?;
            let name = entry.file_name().to_string_lossy();
            let key = discover::unhex(&name);
            let meta = entry.metadata().map_err(io::Error::other)?;
            let used = key.is_some_and(|k| keep.contains(&k));
            let young = older_than.is_some_and(|t| meta.modified().is_ok_and(|m| m >= t));
            if !used && !young && meta.is_file() {
                std::fs::remove_file(entry.path())?;
                n += 1;
                bytes += meta.len();
            }
        }
        Ok((n, bytes))
    }
}

impl VariantStore for LocalStore {
    fn get(&self, key: &Hash) -> io::Result<Option<Vec<u8>>> {
        let mut bytes = match std::fs::read(self.path(key)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if bytes.len() < 32 {
            return Ok(None);
        }
        let body = bytes.len() - 32;
        if discover::hash_bytes(&bytes[..body])[..] != bytes[body..] {
            return Ok(None);
        }
        bytes.truncate(body);
        Ok(Some(bytes))
    }

    fn put(&self, key: &Hash, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(key);
        std::fs::create_dir_all(path.parent().expect("a sharded path has a folder"))?;
        let mut body = Vec::with_capacity(bytes.len() + 32);
        body.extend_from_slice(bytes);
        body.extend_from_slice(&discover::hash_bytes(bytes));
        // A temporary name per writer, then a rename: readers see all or nothing.
        let tmp = path.with_extension(format!("tmp{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], ""));
        std::fs::write(&tmp, &body)?;
        std::fs::rename(&tmp, &path)
    }

    fn has(&self, key: &Hash) -> io::Result<bool> {
        Ok(self.get(key)?.is_some())
    }
}

/// The variant cache of a build: the local folder, and behind it the
/// remote store when one is configured. Reads try the local folder first,
/// then the remote (a verified object is kept locally too); every variant
/// encoded goes to both. When the remote fails (after its retries), the
/// build goes on without it and says so once, unless it is required.
pub struct Cache {
    local: LocalStore,
    remote: Option<RemoteCache>,
}

struct RemoteCache {
    remote: Remote,
    required: bool,
    /// Set on the first failure: the rest of the build does not wait on it.
    down: AtomicBool,
    failure: Mutex<Option<String>>,
    /// Keys found missing or damaged there: not asked for again in this build.
    unusable: Mutex<std::collections::HashSet<Hash>>,
    /// Keys found there by a batch of presence checks.
    present: Mutex<std::collections::HashSet<Hash>>,
    read: AtomicUsize,
    replaced: AtomicUsize,
    uploaded: AtomicUsize,
    bytes_uploaded: AtomicU64,
}

/// What the remote store did in a build (`--json`: `remote`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct RemoteReport {
    pub url: String,
    /// Variants read from the remote store.
    pub read: usize,
    /// Damaged objects found (then encoded again and replaced).
    pub replaced: usize,
    /// Variants uploaded, and their bytes.
    pub uploaded: usize,
    pub bytes_uploaded: u64,
    /// Why the remote was not used for the rest of the build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl Cache {
    pub fn new(local: LocalStore, remote: Option<Remote>, required: bool) -> Cache {
        let remote = remote.map(|remote| RemoteCache {
            remote,
            required,
            down: AtomicBool::new(false),
            failure: Mutex::default(),
            unusable: Mutex::default(),
            present: Mutex::default(),
            read: AtomicUsize::new(0),
            replaced: AtomicUsize::new(0),
            uploaded: AtomicUsize::new(0),
            bytes_uploaded: AtomicU64::new(0),
        });
        Cache { local, remote }
    }

    /// The remote store, unless it failed earlier in this build.
    fn remote(&self) -> Option<&RemoteCache> {
        self.remote.as_ref().filter(|r| !r.down.load(Ordering::Relaxed))
    }

    /// The remote failed: the build goes on without it (an error when it is required).
    fn failed(&self, r: &RemoteCache, why: String) -> io::Result<()> {
        r.down.store(true, Ordering::Relaxed);
        let mut first = r.failure.lock().expect("no panics while held");
        first.get_or_insert(why.clone());
        if r.required { Err(io::Error::other(format!("the cache remote {} failed: {why}", r.remote.url))) } else { Ok(()) }
    }

    /// With `--cache-remote-required`, why the build must fail.
    pub fn required_failure(&self) -> Option<String> {
        let r = self.remote.as_ref().filter(|r| r.required)?;
        let why = r.failure.lock().expect("no panics while held").clone()?;
        Some(format!("the cache remote {} failed: {why} (a shard, or a build with --cache-remote-required, needs it)", r.remote.url))
    }

    pub fn report(&self) -> Option<RemoteReport> {
        let r = self.remote.as_ref()?;
        Some(RemoteReport {
            url: r.remote.url.clone(),
            read: r.read.load(Ordering::Relaxed),
            replaced: r.replaced.load(Ordering::Relaxed),
            uploaded: r.uploaded.load(Ordering::Relaxed),
            bytes_uploaded: r.bytes_uploaded.load(Ordering::Relaxed),
            warning: r.failure.lock().expect("no panics while held").as_ref().map(|why| {
                format!(
                    "the cache remote {} failed ({why}); this build encoded what it could not read there and uploaded nothing more",
                    r.remote.url
                )
            }),
        })
    }
}

impl Cache {
    /// What a read from the remote gave: counted, kept locally when whole.
    fn fetched(&self, r: &RemoteCache, key: &Hash, got: Got) -> io::Result<Option<Vec<u8>>> {
        match got {
            Ok(Some(bytes)) => {
                r.read.fetch_add(1, Ordering::Relaxed);
                // Kept here too: the next build on this machine reads locally.
                self.local.put(key, &bytes).ok();
                Ok(Some(bytes))
            }
            Ok(None) => {
                r.unusable.lock().expect("no panics while held").insert(*key);
                Ok(None)
            }
            // Encoded again, and the put replaces it.
            Err(Failure::Corrupt) => {
                r.replaced.fetch_add(1, Ordering::Relaxed);
                r.unusable.lock().expect("no panics while held").insert(*key);
                Ok(None)
            }
            Err(Failure::Store(why)) => self.failed(r, why).map(|()| None),
        }
    }
}

impl VariantStore for Cache {
    fn get(&self, key: &Hash) -> io::Result<Option<Vec<u8>>> {
        if let Some(bytes) = self.local.get(key).ok().flatten() {
            return Ok(Some(bytes));
        }
        let Some(r) = self.remote() else { return Ok(None) };
        if r.unusable.lock().expect("no panics while held").contains(key) {
            return Ok(None);
        }
        self.fetched(r, key, r.remote.get(key))
    }

    fn fetches(&self) -> bool {
        self.remote().is_some()
    }

    fn prefetch(&self, keys: &[Hash], presence: bool) {
        let Some(r) = self.remote() else { return };
        if presence {
            r.remote.has_many(keys, |key, found| {
                let set = match found {
                    Ok(true) => &r.present,
                    Ok(false) => &r.unusable,
                    // Recorded; with a required store the stage stops.
                    Err(why) => return self.failed(r, why).unwrap_or_default(),
                };
                set.lock().expect("no panics while held").insert(key);
            });
            return;
        }
        let wanted: Vec<Hash> = keys.iter().filter(|k| !self.local.exists(k)).copied().collect();
        // Each fetched object is written to the local folder as it arrives.
        r.remote.get_many(&wanted, |key, got| {
            self.fetched(r, &key, got).ok();
        });
    }

    fn stopped(&self) -> bool {
        self.required_failure().is_some()
    }

    fn put(&self, key: &Hash, bytes: &[u8]) -> io::Result<()> {
        let local = self.local.put(key, bytes);
        if let Some(r) = self.remote() {
            match r.remote.put(key, bytes) {
                Ok(()) => {
                    r.uploaded.fetch_add(1, Ordering::Relaxed);
                    r.bytes_uploaded.fetch_add(bytes.len() as u64 + 32, Ordering::Relaxed);
                }
                Err(why) => self.failed(r, why)?,
            }
        }
        local
    }

    /// With a remote, whether the remote has it (what later builds and
    /// other machines read); else the local folder.
    fn has(&self, key: &Hash) -> io::Result<bool> {
        match self.remote() {
            Some(r) if r.present.lock().expect("no panics while held").contains(key) => Ok(true),
            Some(r) if r.unusable.lock().expect("no panics while held").contains(key) => Ok(false),
            Some(r) => match r.remote.has(key) {
                Ok(found) => Ok(found),
                Err(why) => self.failed(r, why).map(|()| false),
            },
            None => self.local.has(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_entry_reads_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let key = [3; 32];
        assert_eq!(store.get(&key).unwrap(), None);
        store.put(&key, b"webp bytes").unwrap();
        assert_eq!(store.get(&key).unwrap().as_deref(), Some(&b"webp bytes"[..]));
        let path = store.path(&key);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(store.get(&key).unwrap(), None, "flipped bit");
        std::fs::write(&path, &bytes[..5]).unwrap();
        assert_eq!(store.get(&key).unwrap(), None, "truncated");
    }

    #[test]
    fn prune_keeps_what_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.put(&[1; 32], b"a").unwrap();
        store.put(&[2; 32], b"bb").unwrap();
        let keep = [[1u8; 32]].into_iter().collect();
        // Everything is younger than an hour ago: nothing goes.
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        assert_eq!(store.prune(&keep, Some(hour_ago)).unwrap(), (0, 0));
        assert_eq!(store.prune(&keep, None).unwrap(), (1, 34));
        assert!(store.get(&[1; 32]).unwrap().is_some() && store.get(&[2; 32]).unwrap().is_none());
    }
}
