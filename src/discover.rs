//! Walking `content/<site>/`, `themes/` and `assets/`: the source files of a
//! build with their size and mtime. Hashing lives here too, with the cache's
//! (size, mtime) shortcut: an unchanged stat reuses the recorded hash, any
//! other file is read and hashed, so a cache restored with new mtimes costs
//! one read per file and never gives a wrong answer.

use std::collections::HashMap;
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
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        let mtime_ns = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_nanos() as i128).unwrap_or(0);
        Stamp { size: meta.len(), mtime_ns }
    }
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
    let mut out = Vec::new();
    let mut diags = Diagnostics::default();
    if !root.is_dir() {
        return Ok(out);
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
    diags.into_result(out)
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

/// Hashes of files from a previous build, keyed by path, with their stamps.
pub type KnownHashes = HashMap<String, (Stamp, Hash)>;

/// The hash of `src`, reusing `known` when the stamp is unchanged.
pub fn hash_source(src: &Source, known: &KnownHashes) -> std::io::Result<Hash> {
    match known.get(&src.rel) {
        Some((stamp, hash)) if *stamp == src.stamp => Ok(*hash),
        _ => hash_file(&src.path),
    }
}

pub fn hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}
