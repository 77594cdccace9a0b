//! The variant cache: encoded variants by key (see [`super::variants`]),
//! behind one small interface so a shared remote store can stand behind it
//! later. The local store keeps each variant at `<dir>/<aa>/<bb>/<key>`
//! with the blake3 of its bytes appended: a truncated or corrupt entry
//! reads as missing (and is encoded again), never as an image.

use std::io;
use std::path::PathBuf;

use crate::discover::{self, Hash};

/// Where encoded variants are kept between builds.
pub trait VariantStore: Send + Sync {
    /// The bytes stored under `key`, if present and intact.
    fn get(&self, key: &Hash) -> io::Result<Option<Vec<u8>>>;
    /// Stores `bytes` under `key`. Writers of the same key write the same
    /// bytes, so concurrent puts are harmless.
    fn put(&self, key: &Hash, bytes: &[u8]) -> io::Result<()>;
}

/// A folder on this machine (`.gen/variants/` by default).
pub struct LocalStore {
    dir: PathBuf,
}

impl LocalStore {
    pub fn new(dir: impl Into<PathBuf>) -> LocalStore {
        LocalStore { dir: dir.into() }
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
