//! The saved build state, one file per site under the cache folder (`.gen/`):
//! source hashes with their parsed metadata, and for every output its input
//! hash, content hash and stamp.
//!
//! The file starts with a magic string and a format version, then holds a
//! [`Check`] (what tells that a site did not change) and the state, each
//! with its own blake3 checksum: a site that did not change reads and
//! verifies its check alone. Anything that does not match is reported in
//! one line and ignored, so a corrupt or foreign cache can only cost a full
//! build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::discover::{Hash, Stamp};
use crate::parse::Meta;

const MAGIC: &[u8; 8] = b"GENSTATE";
const VERSION: u32 = 14;
/// Magic, version, the check's length and checksum, the state's length and
/// checksum.
const HEAD: usize = 8 + 4 + 8 + 32 + 8 + 32;

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
    /// The section pages (`_index.md`) among them, stat'ed with the sources.
    pub section_pages: Vec<String>,
    /// Markdown sources by path relative to `content/<site>/` (a fast hash:
    /// every build makes this map and looks up every source in it).
    pub sources: rustc_hash::FxHashMap<String, SourceRecord>,
    /// Published files by site-relative path.
    pub outputs: BTreeMap<String, OutputRecord>,
    /// Article output path → the images it publishes. The current hashes of
    /// their sources are part of the article's input hash.
    pub deps: BTreeMap<String, Vec<Dep>>,
    /// Image sources by repo-relative path: stamp, hash and size.
    pub image_sources: crate::images::Records,
    /// As [`Check::sealed_ns`]: when the file holding this state was sealed.
    #[serde(skip)]
    pub sealed_ns: i128,
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

/// How long a lock that names this process is waited for ([`Lock::take`]).
const OWN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

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
        // A process forked by this one (a test's child, say) holds a copy of
        // the lock's descriptor until it execs, so a lock this process just
        // released can look held by itself for a moment: that is waited
        // out, a lock held by another process is not.
        let waiting_since = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut pid = String::new();
                    file.rewind().ok();
                    file.read_to_string(&mut pid).ok();
                    let pid = pid.trim();
                    if pid == std::process::id().to_string() && waiting_since.elapsed() < OWN_LOCK_WAIT {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    }
                    let who = if pid.is_empty() { String::new() } else { format!(" (pid {pid})") };
                    anyhow::bail!(
                        "another gen build is running on this repository{who}: it holds {}. Wait for it to finish, then build again",
                        path.display()
                    );
                }
                Err(std::fs::TryLockError::Error(e)) => anyhow::bail!("cannot lock {}: {e}", path.display()),
            }
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
    #[error("{0} is corrupt (checksum or length mismatch); doing a full build")]
    Corrupt(PathBuf),
}

/// What a build needs of a site's last state to tell that nothing changed,
/// saved ahead of the rest of it: a site with no change decodes this (the
/// stamps of its files), not every article's metadata, which was a third of
/// a no-op build.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub output_dir: PathBuf,
    pub timezone: String,
    pub settings: Hash,
    pub valid_until: Option<i64>,
    pub pages: usize,
    pub future: Vec<String>,
    pub folders: Vec<crate::discover::Folder>,
    pub section_pages: Vec<String>,
    pub sources: rustc_hash::FxHashMap<String, Stamp>,
    pub image_sources: Vec<(String, Stamp)>,
    pub outputs: Vec<(String, Stamp)>,
    /// When the state file was sealed (its ctime), for [`Stamp::holds`];
    /// read from the file, not stored in it.
    #[serde(skip)]
    pub sealed_ns: i128,
}

impl Check {
    pub fn of(s: &SiteState) -> Check {
        Check {
            output_dir: s.output_dir.clone(),
            timezone: s.timezone.clone(),
            settings: s.settings,
            valid_until: s.valid_until,
            pages: s.pages,
            future: s.future.clone(),
            folders: s.folders.clone(),
            section_pages: s.section_pages.clone(),
            sources: s.sources.iter().map(|(k, r)| (k.clone(), r.stamp)).collect(),
            image_sources: s.image_sources.iter().map(|(k, r)| (k.clone(), r.stamp)).collect(),
            outputs: s.outputs.iter().map(|(k, r)| (k.clone(), r.stamp)).collect(),
            sealed_ns: s.sealed_ns,
        }
    }
}

/// A state file as read: its [`Check`] read, verified and decoded, and
/// sealed at the file's change time; the state after it read only for a
/// site that is built. (A no-op build read and hashed every site's whole
/// state, about five times its check.)
#[derive(Debug)]
pub struct Saved {
    pub check: Check,
    path: PathBuf,
    /// Open where the state begins (the same file, even if a build of
    /// another process replaced the path since).
    file: std::fs::File,
    /// The state's checksum.
    sum: Hash,
}

impl Saved {
    pub fn state(mut self) -> Result<SiteState, CacheError> {
        use std::io::Read as _;
        let mut rest = Vec::new();
        self.file.read_to_end(&mut rest).map_err(|e| CacheError::Io(self.path.clone(), e))?;
        if blake3::hash(&rest).as_bytes() != &self.sum {
            return Err(CacheError::Corrupt(self.path));
        }
        postcard::from_bytes(&rest).map_err(|_| CacheError::Corrupt(self.path))
    }
}

/// Loads a site's state. `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<SiteState>, CacheError> {
    load_saved(path)?.map(Saved::state).transpose()
}

/// Reads a site's state file as far as its [`Check`], and decodes that.
pub fn load_saved(path: &Path) -> Result<Option<Saved>, CacheError> {
    use std::io::Read as _;
    let io = |e: std::io::Error| CacheError::Io(path.to_path_buf(), e);
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut head = [0u8; HEAD];
    let mut got = 0;
    while got < HEAD {
        match file.read(&mut head[got..]).map_err(io)? {
            0 => break,
            n => got += n,
        }
    }
    let corrupt = || CacheError::Corrupt(path.to_path_buf());
    let ours = [&MAGIC[..], &VERSION.to_le_bytes()].concat();
    if got < ours.len() {
        // The start of a state of this version, cut short, or another file.
        return Err(if head[..got] == ours[..got] { corrupt() } else { CacheError::Foreign(path.to_path_buf()) });
    }
    if head[..ours.len()] != ours[..] {
        return Err(CacheError::Foreign(path.to_path_buf()));
    }
    if got < HEAD {
        return Err(corrupt());
    }
    let len = u64::from_le_bytes(head[12..20].try_into().expect("8 bytes"));
    // A file cut short (by a full disk, a copy) is seen without reading it.
    let rest = u64::from_le_bytes(head[52..60].try_into().expect("8 bytes"));
    let meta = file.metadata().map_err(io)?;
    if (HEAD as u64).checked_add(len).and_then(|n| n.checked_add(rest)) != Some(meta.len()) {
        return Err(corrupt());
    }
    let mut check = Vec::new();
    (&mut file).take(len).read_to_end(&mut check).map_err(io)?;
    if check.len() as u64 != len || blake3::hash(&check).as_bytes()[..] != head[20..52] {
        return Err(corrupt());
    }
    let mut check = postcard::from_bytes::<Check>(&check).map_err(|_| corrupt())?;
    // Of the file read, whatever has become of its path since.
    check.sealed_ns = crate::discover::Stamp::of(&meta).ctime_ns;
    Ok(Some(Saved { check, path: path.to_path_buf(), file, sum: head[60..92].try_into().expect("32 bytes") }))
}

/// The bytes of a state file (written by the publisher, atomically): the
/// head, the check, then the state.
pub fn encode(state: &SiteState) -> Vec<u8> {
    encode_checked(&Check::of(state), state)
}

/// [`encode`] with the state's check made already ([`Check::of`]).
pub fn encode_checked(check: &Check, state: &SiteState) -> Vec<u8> {
    // postcard writes a tuple or struct as its fields one after another, so
    // the large fields, encoded in parallel, concatenate to the whole. (The
    // pattern names every field: a new one cannot be left out.)
    let SiteState {
        output_dir,
        timezone,
        settings,
        valid_until,
        pages,
        future,
        folders,
        section_pages,
        sources,
        outputs,
        deps,
        image_sources,
        sealed_ns: _,
    } = state;
    let head = (output_dir, timezone, settings, valid_until, pages, future, folders, section_pages);
    let parts: [&(dyn erased::Encode + Sync); 6] = [check, &head, sources, outputs, deps, image_sources];
    let body: Vec<Vec<u8>> = parts.par_iter().map(|p| p.encode()).collect();
    let (check, state) = body.split_first().expect("six parts");
    let mut sum = blake3::Hasher::new();
    for p in state {
        sum.update(p);
    }
    let mut out = Vec::with_capacity(HEAD + body.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(check.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(check).as_bytes());
    out.extend_from_slice(&(state.iter().map(Vec::len).sum::<usize>() as u64).to_le_bytes());
    out.extend_from_slice(sum.finalize().as_bytes());
    out.extend_from_slice(check);
    state.iter().for_each(|p| out.extend_from_slice(p));
    out
}

mod erased {
    /// A value postcard can encode, behind a `dyn`.
    pub trait Encode {
        fn encode(&self) -> Vec<u8>;
    }

    impl<T: serde::Serialize> Encode for T {
        fn encode(&self) -> Vec<u8> {
            postcard::to_stdvec(self).expect("serializing plain data cannot fail")
        }
    }
}

/// A sealed file's head: magic (8 bytes), format version (4), the body's
/// blake3 checksum (32, from byte 12).
const SEAL_HEAD: usize = 44;

/// A cache file: magic, format version, blake3 checksum of the body, body.
///
/// The body is encoded once, into the file's own buffer sized first: a
/// search cache is megabytes of byte strings, and a growing vector copied
/// them about twice over, then again behind the head.
pub fn seal(magic: &[u8; 8], version: u32, value: &impl Serialize) -> Vec<u8> {
    let size: usize =
        postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default()).expect("serializing plain data cannot fail");
    let mut out = Vec::with_capacity(SEAL_HEAD + size);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&[0; 32]);
    let mut out = postcard::to_extend(value, out).expect("serializing plain data cannot fail");
    let sum = blake3::hash(&out[SEAL_HEAD..]);
    out[12..SEAL_HEAD].copy_from_slice(sum.as_bytes());
    out
}

/// The value in a [`seal`]ed file; `None` when anything does not match.
/// (It may borrow from `bytes`.)
pub fn open<'a, T: serde::Deserialize<'a>>(magic: &[u8; 8], version: u32, bytes: &'a [u8]) -> Option<T> {
    if bytes.len() < 12 || &bytes[..8] != magic || bytes[8..12] != version.to_le_bytes() {
        return None;
    }
    postcard::from_bytes(verified(bytes)?).ok()
}

/// The body of a sealed file whose checksum matches.
fn verified(bytes: &[u8]) -> Option<&[u8]> {
    let body = bytes.get(SEAL_HEAD..)?;
    (blake3::hash(body).as_bytes() == &bytes[12..SEAL_HEAD]).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::ImageRecord;

    /// A child forked while a build held the lock keeps a copy of its
    /// descriptor until it execs: the next build of the same process waits
    /// for it instead of failing as if another build were running.
    #[cfg(unix)]
    #[test]
    fn a_lock_held_by_a_child_forked_before_it_was_released_is_waited_for() {
        use std::io::Read as _;
        use std::os::fd::AsRawFd as _;
        use std::os::unix::process::CommandExt as _;
        let dir = tempfile::tempdir().unwrap();
        let lock = Lock::take(dir.path()).unwrap();
        let (mut forked, tell) = std::io::pipe().unwrap();
        let tell = tell.as_raw_fd();
        // Another thread spawns (as another test would): its child says
        // when it is forked, then holds every descriptor a while before it
        // execs.
        let spawner = std::thread::spawn(move || {
            let mut cmd = std::process::Command::new("true");
            unsafe {
                cmd.pre_exec(move || {
                    libc::write(tell, b"f".as_ptr().cast(), 1);
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    Ok(())
                });
            }
            cmd.status().unwrap();
        });
        forked.read_exact(&mut [0u8]).unwrap();
        drop(lock);
        let again = Lock::take(dir.path());
        spawner.join().unwrap();
        again.unwrap();
    }

    #[test]
    fn a_state_encoded_in_parts_is_the_state_encoded_whole() {
        let front = "---\ntitle: 안녕\ndate: 2024-05-01\ntags: [a, b]\nextra: {k: 1}\n---\nbody";
        let meta = || crate::parse::parse_meta(front, Path::new("a.md"), "a", chrono_tz::Asia::Seoul).unwrap();
        let mut st = SiteState { output_dir: "public/s".into(), timezone: "Asia/Seoul".into(), pages: 3, ..Default::default() };
        st.future.push("content/s/later.md".into());
        st.section_pages.push("news/_index.md".into());
        st.outputs.insert("a/index.html".into(), OutputRecord { input: [1; 32], content: [2; 32], stamp: Stamp::default() });
        st.deps.insert("a/index.html".into(), vec![Dep { source: "content/s/a/p.jpg".into(), rel: "images/ab/cd/x.jpg".into() }]);
        st.image_sources.insert(
            "content/s/a/p.jpg".into(),
            ImageRecord { stamp: Stamp::default(), hash: [4; 32], width: Some(4), height: Some(3), still: Some(true) },
        );
        st.sources.insert("a.md".into(), SourceRecord { stamp: Stamp::default(), hash: [3; 32], meta: meta() });
        let bytes = encode(&st);
        let (check, state) = (postcard::to_stdvec(&Check::of(&st)).unwrap(), postcard::to_stdvec(&st).unwrap());
        assert_eq!(bytes[..12], [&MAGIC[..], &VERSION.to_le_bytes()].concat());
        assert_eq!(bytes[12..20], (check.len() as u64).to_le_bytes());
        assert_eq!(bytes[20..52], *blake3::hash(&check).as_bytes());
        assert_eq!(bytes[52..60], (state.len() as u64).to_le_bytes());
        assert_eq!(bytes[60..92], *blake3::hash(&state).as_bytes());
        assert_eq!(bytes[HEAD..], [check, state].concat());
    }

    #[test]
    fn round_trip_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.state");
        let mut st = SiteState { output_dir: "public/s".into(), ..Default::default() };
        st.outputs.insert(
            "a/index.html".into(),
            OutputRecord { input: [1; 32], content: [2; 32], stamp: Stamp { size: 3, mtime_ns: 4, ..Stamp::default() } },
        );
        std::fs::write(&p, encode(&st)).unwrap();
        assert_eq!(load(&p).unwrap(), Some(st));

        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(load(&p), Err(CacheError::Corrupt(_))));

        std::fs::write(&p, b"GENSTATE\x63\0\0\0").unwrap();
        assert!(matches!(load(&p), Err(CacheError::Foreign(_))));
        assert!(load(&dir.path().join("missing")).unwrap().is_none());
    }

    /// A state read as far as its check is the file that was opened: a
    /// state saved over its path in between (by rename, as every save is)
    /// is not mixed in, and the check is sealed at the file read.
    #[test]
    fn a_state_replaced_after_its_check_was_read_is_read_whole_from_the_file_opened() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.state");
        let first = SiteState { output_dir: "public/s".into(), pages: 1, ..Default::default() };
        crate::write::replace(&p, &encode(&first)).unwrap();
        let sealed = crate::discover::changed_ns(&p);
        let saved = load_saved(&p).unwrap().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        crate::write::replace(&p, &encode(&SiteState { pages: 2, ..first.clone() })).unwrap();
        assert_ne!(crate::discover::changed_ns(&p), sealed);
        assert_eq!(saved.check.sealed_ns, sealed);
        assert_eq!(saved.state().unwrap(), first);
    }

    #[test]
    fn the_check_is_read_without_the_rest_and_matches_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.state");
        let mut st = SiteState { output_dir: "public/s".into(), settings: [7; 32], pages: 2, ..Default::default() };
        st.folders.push(("news".into(), Stamp { size: 1, mtime_ns: 2, ..Stamp::default() }));
        st.section_pages.push("news/_index.md".into());
        st.outputs.insert(
            "a/index.html".into(),
            OutputRecord { input: [1; 32], content: [2; 32], stamp: Stamp { size: 3, mtime_ns: 4, ..Stamp::default() } },
        );
        std::fs::write(&p, encode(&st)).unwrap();
        let saved = load_saved(&p).unwrap().unwrap();
        assert_eq!(saved.check.sealed_ns, crate::discover::changed_ns(&p), "sealed when the file was");
        assert_eq!(saved.check, Check { sealed_ns: saved.check.sealed_ns, ..Check::of(&st) });
        assert_eq!(saved.check.outputs, [("a/index.html".to_string(), Stamp { size: 3, mtime_ns: 4, ..Stamp::default() })]);
        assert_eq!(saved.state().unwrap(), st);

        // A damaged state or state checksum spoils the state alone, once
        // read; a damaged check or check checksum, or a file cut short, the
        // file. (Each
        // damage turns the `p` of `public/s` into a `q`: it still decodes,
        // so only a checksum can tell.)
        let bytes = std::fs::read(&p).unwrap();
        let check_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
        let (check_at, state_at) = (HEAD + 1, HEAD + check_len + 1);
        assert_eq!((bytes[check_at], bytes[state_at]), (b'p', b'p'), "both begin with output_dir");
        let damaged = |at: usize| {
            let mut b = bytes.clone();
            b[at] ^= 0x01;
            std::fs::write(&p, b).unwrap();
        };
        for at in [state_at, 60] {
            damaged(at);
            let saved = load_saved(&p).unwrap().unwrap();
            assert_eq!(saved.check, Check { sealed_ns: saved.check.sealed_ns, ..Check::of(&st) });
            assert!(matches!(saved.state(), Err(CacheError::Corrupt(_))), "byte {at}");
        }
        for at in [check_at, 20] {
            damaged(at);
            assert!(matches!(load_saved(&p), Err(CacheError::Corrupt(_))), "byte {at}");
        }
        std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
        assert!(matches!(load_saved(&p), Err(CacheError::Corrupt(_))), "a state cut short");
        std::fs::write(&p, &bytes[..HEAD + check_len - 1]).unwrap();
        assert!(matches!(load_saved(&p), Err(CacheError::Corrupt(_))), "a check cut short");
        std::fs::write(&p, &bytes[..HEAD - 1]).unwrap();
        assert!(matches!(load_saved(&p), Err(CacheError::Corrupt(_))), "a head cut short");
    }

    /// A state cut inside its first twelve bytes (magic and version) was
    /// reported as written by another version of gen.
    #[test]
    fn a_state_cut_within_its_magic_is_corrupt_not_foreign() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.state");
        let bytes = encode(&SiteState::default());
        for cut in [0, 1, 7, 8, 11] {
            std::fs::write(&p, &bytes[..cut]).unwrap();
            assert!(matches!(load_saved(&p), Err(CacheError::Corrupt(_))), "cut at {cut}");
        }
        // Short and not the start of a state: someone else's file.
        std::fs::write(&p, b"<html>").unwrap();
        assert!(matches!(load_saved(&p), Err(CacheError::Foreign(_))));
        // Whole, of another version: written by another gen.
        std::fs::write(&p, [&MAGIC[..], &(VERSION + 1).to_le_bytes()].concat()).unwrap();
        assert!(matches!(load_saved(&p), Err(CacheError::Foreign(_))));
    }
}
