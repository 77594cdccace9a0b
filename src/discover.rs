//! Walking `content/<site>/`, `themes/` and `assets/`: the source files of a
//! build with their size and mtime. Hashing lives here too, with the cache's
//! (size, mtime) shortcut: an unchanged stat reuses the recorded hash, any
//! other file is read and hashed, so a cache restored with new mtimes costs
//! one read per file and never gives a wrong answer.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use crate::diag::{Diagnostic, Diagnostics};

pub type Hash = [u8; 32];

/// A file found under some root, with a `/`-separated path relative to it.
#[derive(Debug, Clone)]
pub struct Source {
    pub rel: String,
    pub path: PathBuf,
    pub stamp: Stamp,
}

/// What a stat tells about a file; equal stamps mean "very likely unchanged".
///
/// Equality is size, mtime and inode: a file replaced by another (a new
/// inode) differs even with the same size and mtime. The change time is
/// compared only by [`Stamp::holds`], against when the state that recorded
/// the stamp was sealed: a write that restores the mtime (`touch -d`, an
/// optimiser run over `public/`) still moves the ctime, which nothing can
/// set back.
#[derive(Debug, Default, Clone, Copy, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub ino: u64,
    pub ctime_ns: i128,
}

impl PartialEq for Stamp {
    fn eq(&self, other: &Stamp) -> bool {
        self.size == other.size && self.mtime_ns == other.mtime_ns && self.ino == other.ino
    }
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        let ns = |t: std::io::Result<std::time::SystemTime>| {
            t.ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_nanos() as i128).unwrap_or(0)
        };
        #[cfg(unix)]
        let (ino, ctime_ns) = {
            use std::os::unix::fs::MetadataExt;
            (meta.ino(), (meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128).max(0))
        };
        #[cfg(not(unix))]
        let (ino, ctime_ns) = (0, 0);
        Stamp { size: meta.len(), mtime_ns: ns(meta.modified()), ino, ctime_ns }
    }

    /// Whether the file that now has this stamp is the one `recorded`
    /// described, in a state sealed at `sealed_ns` (the state file's own
    /// ctime: every rename that published a file came strictly before it).
    /// Equal size, mtime and inode, and no change since it was recorded or
    /// before the seal. A change in the seal's own tick of the file
    /// system's coarse clock may have come after it (as git's "racily
    /// clean" entries): the file is read again.
    /// (On a file system that keeps whole seconds, where the seal cannot be
    /// made later than what it published, its own second is accepted.)
    pub fn holds(&self, recorded: &Stamp, sealed_ns: i128) -> bool {
        let before_seal = if fine_grained(sealed_ns) { self.ctime_ns < sealed_ns } else { self.ctime_ns <= sealed_ns };
        self == recorded && (self.ctime_ns <= recorded.ctime_ns || before_seal)
    }
}

/// Whether a change time has a finer grain than the second (one in a
/// billion that does falls on a whole second, and is then merely read again).
pub fn fine_grained(ns: i128) -> bool {
    ns % 1_000_000_000 != 0
}

/// When the file at `path` was last changed (its ctime), in nanoseconds;
/// 0 when it cannot be stat'ed.
pub fn changed_ns(path: &Path) -> i128 {
    std::fs::metadata(path).map(|m| Stamp::of(&m).ctime_ns).unwrap_or(0)
}

/// A folder held open so that files below it are stat'ed by their relative
/// paths: the kernel then walks only those components, where a long absolute
/// path makes the walk most of a stat's cost (a no-op build stats every
/// source, image and output; half its time went to path walks).
pub struct Tree {
    root: PathBuf,
    #[cfg(unix)]
    dir: Option<std::fs::File>,
    /// A folder below `root` held open as well ([`Tree::with_subtree`]).
    #[cfg(unix)]
    sub: Option<(String, std::fs::File)>,
    /// When the state whose stamps [`Tree::holds`] checks was sealed.
    sealed_ns: i128,
    /// Paths (relative to `root`) that may have changed; any other holds
    /// unchecked ([`Tree::trusting`]).
    trust: Option<Changed>,
}

/// What the preview's watcher saw change since the build that made a state
/// kept in memory: `/`-separated paths. Every other file is as that state
/// recorded it, so the next build need not stat it.
pub type Changed = std::sync::Arc<rustc_hash::FxHashSet<String>>;

/// Whether `changed` names `rel` or a folder it is in (a folder moved or
/// replaced names only itself, not the files in it). Files whose path a
/// watcher does not report (a hidden folder, an editor's name) are always
/// taken as changed.
pub fn names(changed: &Changed, rel: &str) -> bool {
    if rel.split('/').any(is_ignored_name) {
        return true;
    }
    !changed.is_empty() && (changed.contains(rel) || rel.match_indices('/').any(|(i, _)| changed.contains(&rel[..i])))
}

/// What [`Tree::stat`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A link (when not followed), a device, a socket.
    Other,
}

impl Tree {
    pub fn open(root: &Path) -> Tree {
        Tree {
            root: root.to_path_buf(),
            #[cfg(unix)]
            dir: std::fs::File::open(root).ok(),
            #[cfg(unix)]
            sub: None,
            sealed_ns: 0,
            trust: None,
        }
    }

    /// With `Some`, [`Tree::holds`] checks only the paths `changed` names:
    /// the rest are taken as recorded (the preview's own output, or inputs
    /// a watcher reports on).
    pub fn trusting(self, changed: Option<Changed>) -> Tree {
        Tree { trust: changed, ..self }
    }

    /// Paths under `prefix` (`/`-separated, a folder of the tree) are
    /// stat'ed from that folder, held open too: the kernel walks fewer
    /// components. A site's images are under its content folder, and a
    /// build stats every one.
    pub fn with_subtree(self, prefix: &str) -> Tree {
        #[cfg(not(unix))]
        let _ = prefix;
        #[cfg(unix)]
        let sub = std::fs::File::open(self.root.join(prefix)).ok().map(|f| (prefix.trim_end_matches('/').to_string(), f));
        Tree {
            #[cfg(unix)]
            sub,
            ..self
        }
    }

    /// Stamps checked by [`Tree::holds`] come from a state sealed at `ns`.
    pub fn sealed_at(self, ns: i128) -> Tree {
        Tree { sealed_ns: ns, ..self }
    }

    /// Whether the file at `rel` is still the one `recorded` describes.
    pub fn holds(&self, rel: &str, recorded: &Stamp) -> bool {
        if self.trust.as_ref().is_some_and(|c| !names(c, rel)) {
            return true;
        }
        self.stamp(rel).is_some_and(|s| s.holds(recorded, self.sealed_ns))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The stamp of the file at `rel` (links followed); `None` when it
    /// cannot be stat'ed.
    pub fn stamp(&self, rel: &str) -> Option<Stamp> {
        self.stat(rel, true).map(|(stamp, _)| stamp)
    }

    /// Whether `rel` is gone: a published file (or a link gen made) that
    /// is no longer there.
    pub fn lacks(&self, rel: &str) -> bool {
        self.stat(rel, false).is_none()
    }

    /// Stamp and kind of `rel` (`""` is the root itself).
    pub fn stat(&self, rel: &str, follow: bool) -> Option<(Stamp, Kind)> {
        self.try_stat(rel, follow).ok()
    }

    /// As [`Tree::stat`], with why it cannot be stat'ed.
    pub fn try_stat(&self, rel: &str, follow: bool) -> std::io::Result<(Stamp, Kind)> {
        #[cfg(unix)]
        if let Some((prefix, dir)) = &self.sub
            // (A second `/` would make the rest absolute: the root walks it.)
            && let Some(rest) = rel.strip_prefix(prefix.as_str()).and_then(|r| r.strip_prefix('/')).filter(|r| !r.is_empty() && !r.starts_with('/'))
        {
            return stat_at(dir, rest, follow);
        }
        #[cfg(unix)]
        if let Some(dir) = &self.dir {
            return stat_at(dir, if rel.is_empty() { "." } else { rel }, follow);
        }
        let path = self.root.join(rel);
        let meta = if follow { std::fs::metadata(path) } else { std::fs::symlink_metadata(path) }?;
        let kind = if meta.is_file() {
            Kind::File
        } else if meta.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        };
        Ok((Stamp::of(&meta), kind))
    }
}

#[cfg(unix)]
fn stat_at(dir: &std::fs::File, rel: &str, follow: bool) -> std::io::Result<(Stamp, Kind)> {
    use std::os::fd::AsRawFd;
    let rel = std::ffi::CString::new(rel)?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    // SAFETY: a valid folder descriptor, a NUL-terminated path and a buffer
    // of the size fstatat fills; it is read only when the call succeeded.
    let st = unsafe {
        if libc::fstatat(dir.as_raw_fd(), rel.as_ptr(), st.as_mut_ptr(), flags) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        st.assume_init()
    };
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Kind::File,
        libc::S_IFDIR => Kind::Dir,
        _ => Kind::Other,
    };
    // As `Stamp::of`: times before the epoch read as 0.
    let mtime_ns = (st.st_mtime as i128 * 1_000_000_000 + st.st_mtime_nsec as i128).max(0);
    let ctime_ns = (st.st_ctime as i128 * 1_000_000_000 + st.st_ctime_nsec as i128).max(0);
    Ok((Stamp { size: st.st_size as u64, mtime_ns, ino: st.st_ino as u64, ctime_ns }, kind))
}

/// Whether a stamp is too close to `at` to be trusted later: file system
/// clocks tick coarsely, so a second change within the tick keeps the mtime.
pub fn is_recent(stamp: &Stamp, at: std::time::SystemTime) -> bool {
    let at_ns = at.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
    stamp.mtime_ns > at_ns - 1_000_000_000
}

/// Files an editor or the OS leaves behind that are never content.
pub fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name == "4913" // vim's write test file
}

/// Every regular file below `root` (sorted by relative path), skipping hidden
/// and editor files. Symbolic links are reported, not followed, so content can
/// never pull in files from outside its root.
pub fn walk(root: &Path, display_root: &Path) -> Result<Vec<Source>, Diagnostics> {
    walk_matching(root, display_root, |_| true)
}

/// [`walk`], keeping only files whose relative path passes `keep`; the
/// others are not even stat'ed (a content tree holds many more images than
/// articles).
pub fn walk_matching(root: &Path, display_root: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<Source>, Diagnostics> {
    walk_tree(root, display_root, keep, false).map(|(files, _)| files)
}

/// A folder of a tree (relative, `/`-separated; `""` for the root) and its
/// stamp. A folder's mtime changes whenever an entry is added to it, removed
/// or renamed, so equal stamps for every folder mean the same set of files.
pub type Folder = (String, Stamp);

/// [`walk_matching`], also returning every folder with its stamp when `folders` is set.
pub fn walk_tree(
    root: &Path,
    display_root: &Path,
    keep: impl Fn(&str) -> bool,
    folders: bool,
) -> Result<(Vec<Source>, Vec<Folder>), Diagnostics> {
    let mut out = Vec::new();
    let mut dirs = Vec::new();
    let mut diags = Diagnostics::default();
    if !root.is_dir() {
        return Ok((out, dirs));
    }
    let walker = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_ignored_name(&e.file_name().to_string_lossy()));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
                diags.push(Diagnostic::new(rel_display(&path, display_root), None, format!("cannot read: {e}")));
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            if folders {
                let rel = entry.path().strip_prefix(root).unwrap_or(entry.path()).to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                match entry.metadata() {
                    Ok(meta) => dirs.push((rel, Stamp::of(&meta))),
                    Err(e) => diags.push(Diagnostic::new(rel_display(entry.path(), display_root), None, format!("cannot stat: {e}"))),
                }
            }
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        if ft.is_symlink() {
            diags.push(
                Diagnostic::new(rel_display(entry.path(), display_root), None, "is a symbolic link; gen does not follow links")
                    .hint("copy the file into the repository instead of linking it"),
            );
            continue;
        }
        let Some(rel_str) = rel.to_str() else {
            diags.push(
                Diagnostic::new(rel_display(entry.path(), display_root), None, "file name is not valid UTF-8").hint("rename the file"),
            );
            continue;
        };
        if !keep(rel_str) {
            continue;
        }
        match entry.metadata() {
            Ok(meta) => out.push(Source {
                rel: rel_str.replace(std::path::MAIN_SEPARATOR, "/"),
                path: entry.path().to_path_buf(),
                stamp: Stamp::of(&meta),
            }),
            Err(e) => diags.push(Diagnostic::new(rel_display(entry.path(), display_root), None, format!("cannot stat: {e}"))),
        }
    }
    diags.into_result((out, dirs))
}

/// The files of a tree walked before, found again without reading a single
/// folder: every folder and every known file (articles and section pages)
/// is stat'ed. `None` when any folder's stamp changed (files were added,
/// removed or renamed: walk again) or a known file is gone.
pub fn restat(root: &Path, folders: &[Folder], files: &[&str]) -> Option<Vec<Source>> {
    use rayon::prelude::*;
    if folders.is_empty() {
        return None;
    }
    let tree = Tree::open(root);
    let same = folders.par_iter().all(|(rel, stamp)| tree.stat(rel, false) == Some((*stamp, Kind::Dir)));
    if !same {
        return None;
    }
    files
        .par_iter()
        .map(|rel| match tree.stat(rel, false)? {
            (stamp, Kind::File) => Some(Source { rel: rel.to_string(), stamp, path: root.join(rel) }),
            _ => None,
        })
        .collect()
}

/// [`restat`] when a watcher names what changed: the files `named` and
/// `always` are stat'ed, every other known file keeps its recorded stamp.
/// `None` when a named or `always` file is no longer a file.
pub fn restat_named(
    root: &Path,
    known: &rustc_hash::FxHashMap<String, Stamp>,
    always: &[String],
    named: &std::collections::HashSet<&str>,
) -> Option<Vec<Source>> {
    let tree = Tree::open(root);
    let stat = |rel: &str| match tree.stat(rel, false)? {
        (stamp, Kind::File) => Some(Source { rel: rel.to_string(), stamp, path: root.join(rel) }),
        _ => None,
    };
    let recorded = known.iter().map(|(rel, stamp)| match named.contains(rel.as_str()) {
        true => stat(rel),
        false => Some(Source { rel: rel.clone(), stamp: *stamp, path: root.join(rel) }),
    });
    recorded.chain(always.iter().map(|rel| stat(rel))).collect()
}

/// `path` relative to the repository root for messages.
pub fn rel_display(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

pub fn hash_bytes(bytes: &[u8]) -> Hash {
    *blake3::hash(bytes).as_bytes()
}

pub fn hash_file(path: &Path) -> std::io::Result<Hash> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(*hasher.finalize().as_bytes())
}

pub fn hex(hash: &Hash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in hash {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// The hash written by [`hex`], or `None` for anything else.
pub fn unhex(s: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    (s.len() == 64).then_some(())?;
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subtree_stats_what_the_root_stats() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("content/s/a")).unwrap();
        std::fs::create_dir_all(root.join("content/other")).unwrap();
        std::fs::write(root.join("content/s/a/p.png"), b"png").unwrap();
        std::fs::write(root.join("content/other/q.png"), b"other").unwrap();
        std::fs::write(root.join("content/sx.png"), b"next to it").unwrap();
        let plain = Tree::open(root);
        let sub = Tree::open(root).with_subtree("content/s");
        for rel in [
            "content/s/a/p.png",
            "content/s/../other/q.png",
            "content/other/q.png",
            "content/sx.png",
            "content/s",
            "",
            "content/s/",
            "content/s//a/p.png",
        ] {
            assert_eq!(sub.stat(rel, true), plain.stat(rel, true), "{rel}");
            assert!(plain.stat(rel, true).is_some(), "{rel}");
        }
        assert_eq!(sub.stat("content/s/a/p.png", true).unwrap().0.size, 3);
        assert!(sub.stat("content/s/missing.png", true).is_none());
        let err = sub.try_stat("content/s/missing.png", true).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        // A subtree that is not there leaves every path to the root.
        let gone = Tree::open(root).with_subtree("content/none");
        assert_eq!(gone.stat("content/s/a/p.png", true), plain.stat("content/s/a/p.png", true));
        // The subtree is the folder held open: moved away, it still answers
        // for the paths under its old name, where the root finds nothing.
        std::fs::rename(root.join("content/s"), root.join("content/moved")).unwrap();
        assert!(plain.stat("content/s/a/p.png", true).is_none());
        #[cfg(unix)]
        assert_eq!(sub.stat("content/s/a/p.png", true).map(|(s, _)| s.size), Some(3));
    }

    #[test]
    fn a_change_in_the_seals_own_clock_tick_is_not_trusted() {
        let recorded = Stamp { size: 5, mtime_ns: 100, ino: 7, ctime_ns: 100 };
        let now = |ctime_ns| Stamp { ctime_ns, ..recorded };
        assert!(now(100).holds(&recorded, 0), "unchanged since recorded");
        assert!(now(150).holds(&recorded, 200), "changed before the seal (a rename that published it)");
        assert!(!now(200).holds(&recorded, 200), "changed in the seal's tick: maybe after it");
        assert!(!now(250).holds(&recorded, 200), "changed after the seal");
        assert!(!Stamp { size: 6, ..now(100) }.holds(&recorded, 200));
        // Whole seconds (ext3, HFS+, small ext4 inodes): a file published in
        // the seal's second holds, or it would be published again every build.
        let second = 1_000_000_000;
        let recorded = Stamp { ctime_ns: 4 * second, ..recorded };
        assert!(Stamp { ctime_ns: 5 * second, ..recorded }.holds(&recorded, 5 * second));
        assert!(!Stamp { ctime_ns: 6 * second, ..recorded }.holds(&recorded, 5 * second));
    }

    #[test]
    fn a_file_counts_as_named_when_its_folder_is_and_a_hidden_one_always() {
        let changed: Changed = std::sync::Arc::new(["content/a/photos".to_string(), "content/a/x.md".to_string()].into_iter().collect());
        assert!(names(&changed, "content/a/x.md"));
        assert!(names(&changed, "content/a/photos/1.jpg"), "a folder moved or replaced names what is in it");
        assert!(!names(&changed, "content/a/photos2/1.jpg") && !names(&changed, "content/a/y.md"));
        assert!(names(&changed, "content/a/.hidden/1.jpg"), "the watcher reports nothing under a hidden folder");
        assert!(!names(&Changed::default(), "index.html") && names(&Changed::default(), "#draft.md"));
    }

    #[test]
    fn restat_finds_known_files_until_a_folder_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("news/a")).unwrap();
        std::fs::write(root.join("news/a/index.md"), "x").unwrap();
        let (files, folders) = walk_tree(root, root, |r| r.ends_with(".md"), true).unwrap();
        assert_eq!(folders.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["", "news", "news/a"]);
        let again = restat(root, &folders, &["news/a/index.md"]).unwrap();
        assert_eq!((again[0].rel.as_str(), again[0].stamp), (files[0].rel.as_str(), files[0].stamp));
        // An edit in place keeps every folder's stamp; the file's own changes.
        std::fs::write(root.join("news/a/index.md"), "longer").unwrap();
        assert_eq!(restat(root, &folders, &["news/a/index.md"]).unwrap()[0].stamp.size, 6);
        // A new file changes its folder: walk again.
        std::fs::write(root.join("news/b.md"), "y").unwrap();
        assert!(restat(root, &folders, &["news/a/index.md"]).is_none());
        assert!(restat(root, &[], &[]).is_none(), "no folders recorded: walk");
    }
}
