//! The only code that writes to the output folder.
//!
//! New and changed files are first written to a staging folder beside the
//! site (`<output>/.gen-staging/<site>/`), flat: each under a name derived
//! from its path, so staging creates no folder tree (on slow disks `mkdir`
//! was the most expensive call of a cold build). When the whole build has succeeded
//! a journal listing the moves, the removals and the new cache state is
//! written atomically: that is the commit point. Applying it renames each
//! staged file into place (atomic per file), removes stale outputs and
//! installs the new state. A build that fails or is killed before the commit
//! leaves the previous site untouched; one killed during the apply is
//! finished by the next build, which replays the journal first.

use std::io;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::discover::Stamp;

pub const STAGING_DIR: &str = ".gen-staging";

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    moves: Vec<String>,
    removes: Vec<String>,
    /// (staged state file, its final place)
    state: (PathBuf, PathBuf),
}

/// Publishes one site's output folder.
#[derive(Debug)]
pub struct Publisher {
    out: PathBuf,
    /// The output root, removed again by a failed first build.
    root: PathBuf,
    staging: PathBuf,
    journal: PathBuf,
}

impl Publisher {
    /// Opens `<output_root>/<site>`, finishing or discarding what an
    /// interrupted earlier build left behind.
    pub fn open(output_root: &Path, site: &str) -> io::Result<Publisher> {
        let p = Publisher {
            out: output_root.join(site),
            root: output_root.to_path_buf(),
            staging: output_root.join(STAGING_DIR).join(site),
            journal: output_root.join(STAGING_DIR).join(format!("{site}.journal")),
        };
        p.recover()?;
        Ok(p)
    }

    pub fn out_dir(&self) -> &Path {
        &self.out
    }

    fn recover(&self) -> io::Result<()> {
        match std::fs::read(&self.journal) {
            Ok(bytes) => {
                // A complete journal is the commit point: finish the job.
                let journal: Journal = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
                self.apply(&journal)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.discard(),
            Err(e) => Err(e),
        }
    }

    /// The published file for a site-relative path.
    pub fn published(&self, rel: &str) -> io::Result<PathBuf> {
        safe_join(&self.out, rel)
    }

    /// Where `rel` waits in staging: 256 folders of hashed names.
    fn staged(&self, rel: &str) -> io::Result<PathBuf> {
        safe_join(&self.out, rel)?;
        let name = crate::discover::hex(blake3::hash(rel.as_bytes()).as_bytes());
        Ok(self.staging.join(&name[..2]).join(&name[2..34]))
    }

    /// Writes `bytes` into staging; returns the stamp the published file will have.
    pub fn stage(&self, rel: &str, bytes: &[u8]) -> io::Result<Stamp> {
        let path = self.staged(rel)?;
        with_parent(&path, || std::fs::write(&path, bytes))?;
        Ok(Stamp::of(&std::fs::metadata(&path)?))
    }

    /// Stages a hard link to `source` (so publishing a large image costs no
    /// copy), or a copy where the file system refuses the link.
    pub fn stage_link(&self, rel: &str, source: &Path) -> io::Result<Stamp> {
        let path = self.staged(rel)?;
        with_parent(&path, || {
            remove_file_if_exists(&path)?;
            if std::fs::hard_link(source, &path).is_err() {
                std::fs::copy(source, &path)?;
            }
            Ok(())
        })?;
        Ok(Stamp::of(&std::fs::metadata(&path)?))
    }

    /// Drops everything staged (a failed build).
    pub fn discard(&self) -> io::Result<()> {
        remove_dir_if_exists(&self.staging)?;
        remove_file_if_exists(&self.journal)?;
        prune_empty(self.staging.parent().unwrap_or(&self.staging), &self.root)
    }

    /// Publishes the staged files, removes `removes` and installs `state`
    /// (the encoded cache) at `state_path`.
    pub fn commit(&self, moves: Vec<String>, removes: Vec<String>, state: &[u8], state_path: &Path) -> io::Result<()> {
        if let Some(dir) = state_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let staged_state = state_path.with_extension("state.new");
        std::fs::write(&staged_state, state)?;
        let journal = Journal { moves, removes, state: (staged_state, state_path.to_path_buf()) };
        std::fs::create_dir_all(self.journal.parent().expect("journal has a parent"))?;
        let tmp = self.journal.with_extension("journal.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&journal).map_err(io::Error::other)?)?;
        std::fs::rename(&tmp, &self.journal)?;
        self.apply(&journal)
    }

    /// Idempotent: a file already moved or removed is skipped.
    fn apply(&self, j: &Journal) -> io::Result<()> {
        for rel in &j.moves {
            let from = self.staged(rel)?;
            let to = safe_join(&self.out, rel)?;
            if !from.exists() {
                continue;
            }
            with_parent(&to, || std::fs::rename(&from, &to))?;
        }
        for rel in &j.removes {
            let path = safe_join(&self.out, rel)?;
            remove_file_if_exists(&path)?;
            if let Some(parent) = path.parent() {
                prune_empty(parent, &self.out)?;
            }
        }
        let (staged, fin) = &j.state;
        if staged.exists() {
            std::fs::rename(staged, fin)?;
        }
        remove_file_if_exists(&self.journal)?;
        remove_dir_if_exists(&self.staging)?;
        prune_empty(self.staging.parent().unwrap_or(&self.staging), &self.root)
    }
}

/// `root/rel`, refusing anything that could leave `root`.
pub fn safe_join(root: &Path, rel: &str) -> io::Result<PathBuf> {
    let rel_path = Path::new(rel);
    if rel.is_empty() || !rel_path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("refusing output path `{rel}`")));
    }
    Ok(root.join(rel_path))
}

/// Runs `op` on `path`; when its folder is missing, makes it and runs `op`
/// again. Folders are made only when needed: `mkdir` is slow on some disks.
fn with_parent<T>(path: &Path, mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    // Another site opening its publisher prunes empty staging folders they
    // share (`.gen-staging/`, the output root): a folder created here can be
    // gone again before the write, so create it again a few times.
    let mut attempts = 0;
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 8 => {
                attempts += 1;
                std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
            }
            r => return r,
        }
    }
}

fn remove_file_if_exists(p: &Path) -> io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn remove_dir_if_exists(p: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes `dir` and its parents while they are empty, stopping at `stop`
/// (which is removed too when empty).
fn prune_empty(dir: &Path, stop: &Path) -> io::Result<()> {
    let mut cur = dir.to_path_buf();
    loop {
        match std::fs::remove_dir(&cur) {
            Ok(()) => {}
            Err(_) => return Ok(()), // not empty, or gone: either way, done
        }
        if cur == stop {
            return Ok(());
        }
        match cur.parent() {
            Some(p) if p.starts_with(stop) => cur = p.to_path_buf(),
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_survives_another_site_pruning_the_shared_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staging/ab/file");
        let mut calls = 0;
        // The shared folder vanishes right after it is created, twice.
        with_parent(&path, || {
            calls += 1;
            if calls <= 2 {
                std::fs::remove_dir_all(dir.path().join("staging")).ok();
            }
            std::fs::write(&path, b"x")
        })
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }

    #[test]
    fn safe_join_refuses_escapes() {
        let root = Path::new("/out");
        assert!(safe_join(root, "a/b.html").is_ok());
        assert!(safe_join(root, "../x").is_err());
        assert!(safe_join(root, "/etc/passwd").is_err());
        assert!(safe_join(root, "a/./b").is_ok()); // `.` is dropped by components()
        assert!(safe_join(root, "").is_err());
    }

    #[test]
    fn interrupted_commit_is_finished_by_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let p = Publisher::open(&out, "s").unwrap();
        p.stage("a/index.html", b"new").unwrap();
        std::fs::create_dir_all(out.join("s")).unwrap();
        std::fs::write(out.join("s/old.html"), b"old").unwrap();
        // Write the journal by hand, as if the process died right after the commit point.
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        std::fs::write(state.with_extension("state.new"), b"state").unwrap();
        let j = Journal {
            moves: vec!["a/index.html".into()],
            removes: vec!["old.html".into()],
            state: (state.with_extension("state.new"), state.clone()),
        };
        std::fs::write(out.join(".gen-staging/s.journal"), serde_json::to_vec(&j).unwrap()).unwrap();

        Publisher::open(&out, "s").unwrap();
        assert_eq!(std::fs::read(out.join("s/a/index.html")).unwrap(), b"new");
        assert!(!out.join("s/old.html").exists());
        assert_eq!(std::fs::read(&state).unwrap(), b"state");
        assert!(!out.join(".gen-staging").exists());
    }

    #[test]
    fn staging_without_journal_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let p = Publisher::open(&out, "s").unwrap();
        p.stage("a/index.html", b"half").unwrap();
        Publisher::open(&out, "s").unwrap();
        assert!(!out.join(".gen-staging").exists());
        assert!(!out.join("s/a/index.html").exists());
    }
}
