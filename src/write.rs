//! The only code that writes to the output folder.
//!
//! New and changed files are first written to a staging folder beside the
//! site (`<output>/.gen-staging/<site>/`), flat: each under a name derived
//! from its path, so staging creates no folder tree (on slow disks `mkdir`
//! was the most expensive call of a cold build). A site whose output folder
//! does not exist yet (every first build, every CI build) is staged as the
//! tree it will be instead, and published by renaming that one folder: its
//! folders are made once, in parallel while rendering, and no file is moved
//! on its own. When the whole build has
//! succeeded and every path was checked against the others and the disk
//! ([`check_paths`]), a journal listing the moves and the removals is
//! written and synced: that is the commit point. Applying it removes stale
//! outputs, renames each staged file into place (atomic per file) and
//! installs the new cache state. A build that fails or is killed before the
//! commit leaves the previous site untouched; one killed during the apply is
//! finished by the next build, which replays the journal first. A journal
//! that cannot be replayed is dropped with one warning, and the site is
//! rebuilt from scratch.
//!
//! A build with nothing to publish writes only its state, in the cache
//! folder: the output folder may be read-only.

use std::collections::BTreeSet;
use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::Stamp;

pub const STAGING_DIR: &str = ".gen-staging";

/// The longest file or folder name most file systems accept, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Only site-relative paths: the journal names nothing outside the site's
/// output and staging folders, and the state goes where the publisher was
/// told, so a planted journal cannot move other files.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    moves: Vec<String>,
    removes: Vec<String>,
    /// Staged as a tree (the site had no output folder): published by
    /// renaming the staging folder.
    #[serde(default)]
    tree: bool,
    /// The state is saved after the publish ([`Publisher::commit`] without
    /// one): there is no staged state to install.
    #[serde(default)]
    state_later: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// This build's own commit: a staged file that is missing is an error.
    Commit,
    /// Finishing an interrupted commit: what is already done is skipped.
    Replay,
}

/// A journal left by an earlier build that could not be replayed.
#[derive(Debug)]
pub struct Recovery {
    /// One line for the build report.
    pub warning: String,
    /// Paths that journal published, some perhaps already in place: gen's
    /// files, though the previous state does not list them.
    pub moved: Vec<String>,
}

/// Publishes one site's output folder.
#[derive(Debug)]
pub struct Publisher {
    out: PathBuf,
    /// The output root, removed again by a failed first build.
    root: PathBuf,
    staging: PathBuf,
    journal: PathBuf,
    /// Where the site's cache state is installed by a commit.
    state_path: PathBuf,
    /// The site had no output folder when opened: staged as a tree.
    tree: bool,
}

impl Publisher {
    /// Opens `<output_root>/<site>`, finishing or discarding what an
    /// interrupted earlier build left behind.
    pub fn open(output_root: &Path, site: &str, state_path: &Path) -> io::Result<(Publisher, Option<Recovery>)> {
        let p = Publisher {
            out: output_root.join(site),
            root: output_root.to_path_buf(),
            staging: output_root.join(STAGING_DIR).join(site),
            journal: output_root.join(STAGING_DIR).join(format!("{site}.journal")),
            state_path: state_path.to_path_buf(),
            tree: false,
        };
        let recovery = p.recover()?;
        let tree = std::fs::symlink_metadata(&p.out).is_err();
        Ok((Publisher { tree, ..p }, recovery))
    }

    pub fn out_dir(&self) -> &Path {
        &self.out
    }

    fn staged_state(&self) -> PathBuf {
        self.state_path.with_extension("state.new")
    }

    fn recover(&self) -> io::Result<Option<Recovery>> {
        let bytes = match std::fs::read(&self.journal) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.discard()?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        // A complete journal is the commit point: finish the job.
        let (moved, why) = match serde_json::from_slice::<Journal>(&bytes) {
            Ok(j) => match self.apply(&j, Mode::Replay) {
                Ok(_) => return Ok(None),
                Err(e) => (j.moves, e.to_string()),
            },
            Err(e) => (vec![], format!("not a journal of this gen: {e}")),
        };
        // Refusing every build until someone deletes the journal by hand
        // helps nobody: drop it, and let the caller render the site afresh.
        self.discard()?;
        remove_file_if_exists(&self.staged_state())?;
        Ok(Some(Recovery {
            warning: format!("{} could not be replayed ({why}); rebuilding the site from scratch", self.journal.display()),
            moved: moved.into_iter().filter(|m| safe_join(&self.out, m).is_ok()).collect(),
        }))
    }

    /// Where `rel` waits in staging.
    fn staged(&self, rel: &str) -> io::Result<PathBuf> {
        self.staged_as(rel, self.tree)
    }

    /// In the tree, at its own path; else in 256 folders of hashed names.
    fn staged_as(&self, rel: &str, tree: bool) -> io::Result<PathBuf> {
        safe_join(&self.out, rel)?;
        if tree {
            return safe_join(&self.staging, rel);
        }
        let name = crate::discover::hex(blake3::hash(rel.as_bytes()).as_bytes());
        Ok(self.staging.join(&name[..2]).join(&name[2..34]))
    }

    /// Writes `bytes` into staging; returns the stamp the published file will have.
    pub fn stage(&self, rel: &str, bytes: &[u8]) -> io::Result<Stamp> {
        let path = self.staged(rel)?;
        let file = with_parent(&path, || {
            let mut f = std::fs::File::create(&path)?;
            f.write_all(bytes)?;
            Ok(f)
        })?;
        // Of the open file: no second lookup of the path.
        Ok(Stamp::of(&file.metadata()?))
    }

    /// Stages the file at `source`: a copy-on-write clone where the file
    /// system makes them (Btrfs, XFS, APFS: no bytes copied, and a later
    /// write to either file does not reach the other), else a copy. With
    /// `hard_link` a hard link (no copy on any file system, but the
    /// published file *is* the source: a write to one is a write to both),
    /// falling back to a copy across file systems.
    pub fn stage_file(&self, rel: &str, source: &Path, hard_link: bool) -> io::Result<(Stamp, Shared)> {
        let path = self.staged(rel)?;
        let mut how = Shared::Copied;
        with_parent(&path, || {
            remove_file_if_exists(&path)?;
            how = place_file(source, &path, hard_link)?;
            Ok(())
        })?;
        Ok((Stamp::of(&std::fs::metadata(&path)?), how))
    }

    /// The blake3 of a staged file.
    pub fn staged_hash(&self, rel: &str) -> io::Result<crate::discover::Hash> {
        crate::discover::hash_file(&self.staged(rel)?)
    }

    /// Drops everything staged (a failed build).
    pub fn discard(&self) -> io::Result<()> {
        remove_dir_if_exists(&self.staging)?;
        remove_file_if_exists(&self.journal)?;
        remove_file_if_exists(&self.journal.with_extension("journal.tmp"))?;
        prune_empty(self.staging.parent().unwrap_or(&self.staging), &self.root)
    }

    /// Publishes the staged files `moves`, removes `removes` and installs
    /// `state` (the encoded cache). Fails before the commit point, leaving
    /// the output as it was, when a staged file vanished or the state
    /// cannot be installed.
    ///
    /// Without `state` (the preview, whose output and state no other
    /// process reads) nothing is synced, and when there is anything to
    /// publish the old state file is removed first (also when the commit
    /// then fails): the caller saves the new state afterwards with
    /// [`save_state`], given the time this returns. A build that finds no
    /// state renders the site afresh and, in the preview, owns every file
    /// in its output folder (`build::load`).
    pub fn commit(&self, moves: Vec<String>, removes: Vec<String>, state: Option<&[u8]>) -> io::Result<i128> {
        if moves.is_empty() && removes.is_empty() {
            // Nothing to publish: the output folder is not written at all.
            return state.map_or(Ok(()), |s| write_atomic(&self.state_path, s)).map(|()| 0);
        }
        let staged_state = self.staged_state();
        let journal = Journal { moves, removes, tree: self.tree, state_later: state.is_none() };
        let journal_bytes = serde_json::to_vec(&journal).map_err(io::Error::other)?;
        let prepared = if std::fs::symlink_metadata(&self.state_path).is_ok_and(|m| m.is_dir()) {
            Err(io::Error::other(format!("{} is a folder, not a gen state file: remove it", self.state_path.display())))
        } else if let Some(rel) = journal.moves.iter().find(|rel| self.staged(rel).is_ok_and(|p| !p.exists())) {
            Err(vanished(&self.out, rel))
        } else if let Some(state) = state {
            write_durable(&staged_state, state).and_then(|()| write_atomic(&self.journal, &journal_bytes))
        } else {
            remove_file_if_exists(&self.state_path).and_then(|()| replace(&self.journal, &journal_bytes))
        };
        // Before the commit point nothing is published: clean up, and the
        // output stays as it was.
        if let Err(e) = prepared {
            remove_file_if_exists(&staged_state).ok();
            self.discard().ok();
            return Err(e);
        }
        self.apply(&journal, Mode::Commit)
    }

    /// Idempotent in [`Mode::Replay`]: a file already moved or removed is
    /// skipped. Returns the change time of the last file published.
    fn apply(&self, j: &Journal, mode: Mode) -> io::Result<i128> {
        // Removals first: a file that turns into a folder (or back) frees
        // its name before the move that needs it.
        for rel in &j.removes {
            let path = safe_join(&self.out, rel)?;
            // A folder there now was made by a move of an earlier replay; a
            // file where its folder was (ENOTDIR) means it is gone already.
            if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                match remove_file_if_exists(&path) {
                    Err(e) if e.kind() == io::ErrorKind::NotADirectory => {}
                    r => r?,
                }
            }
            if let Some(parent) = path.parent() {
                prune_empty(parent, &self.out)?;
            }
        }
        // A tree is published whole while the site folder is still missing
        // (a replay after that rename finds nothing left to move).
        let whole = j.tree && std::fs::symlink_metadata(&self.out).is_err() && self.staging.is_dir();
        if whole {
            with_parent(&self.out, || std::fs::rename(&self.staging, &self.out))
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.out.display())))?;
        }
        for rel in j.moves.iter().filter(|_| !whole) {
            let from = self.staged_as(rel, j.tree)?;
            let to = safe_join(&self.out, rel)?;
            if !from.exists() {
                match mode {
                    Mode::Replay => continue,
                    Mode::Commit => return Err(vanished(&self.out, rel)),
                }
            }
            // A folder left where the file goes holds no files (checked
            // before the commit point): clear it.
            if std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
                remove_empty_tree(&to)?;
            }
            with_parent(&to, || std::fs::rename(&from, &to)).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", to.display())))?;
        }
        // The last file published: the state must be sealed after it.
        let last = match j.moves.last() {
            Some(_) if whole => crate::discover::changed_ns(&self.out),
            Some(rel) => crate::discover::changed_ns(&safe_join(&self.out, rel)?),
            None => 0,
        };
        let staged = self.staged_state();
        if j.state_later {
            // Saved by the caller ([`save_state`]).
        } else if staged.exists() {
            std::fs::rename(&staged, &self.state_path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.state_path.display())))?;
            seal_after(&self.state_path, last);
            sync_dir(&self.state_path);
        } else if mode == Mode::Commit {
            return Err(io::Error::other(format!("{} vanished before it was installed", staged.display())));
        }
        remove_file_if_exists(&self.journal)?;
        remove_dir_if_exists(&self.staging)?;
        prune_empty(self.staging.parent().unwrap_or(&self.staging), &self.root)?;
        Ok(last)
    }
}

/// Saves a state after [`Publisher::commit`] published without one: not
/// synced, and sealed after `published_ns` (what the commit returned).
pub fn save_state(path: &Path, bytes: &[u8], published_ns: i128) -> io::Result<()> {
    replace(path, bytes)?;
    seal_after(path, published_ns);
    Ok(())
}

/// Makes the change time of the state file at `path` later than
/// `after_ns`, where the file system's clock allows. That time seals the
/// stamps the state records ([`Stamp::holds`]): a file changed in the same
/// tick as the seal is read again, so every file this publish renamed must
/// be strictly before it. Best effort: the publish is complete already.
fn seal_after(path: &Path, after_ns: i128) {
    // A file system that keeps whole seconds (or no change times at all) is
    // not waited for: [`Stamp::holds`] accepts the seal's own second there.
    if !crate::discover::fine_grained(after_ns) {
        return;
    }
    // Bounded: a clock that does not move (or went back) costs 50 ms once.
    for _ in 0..100 {
        if crate::discover::changed_ns(path) > after_ns {
            return;
        }
        std::thread::sleep(std::time::Duration::from_micros(500));
        // Setting the same permissions changes nothing but the change time.
        let touched = std::fs::metadata(path).and_then(|m| std::fs::set_permissions(path, m.permissions()));
        if touched.is_err() {
            return;
        }
    }
}

fn vanished(out: &Path, rel: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "the staged copy of {} vanished before it was published (was the output folder removed during the build?); build again",
            out.join(rel).display()
        ),
    )
}

/// Writes `bytes` to `path` and syncs them to disk.
fn write_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    with_parent(path, || {
        let mut f = std::fs::File::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    })
    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Replaces `path` with `bytes` so a reader (or a crash) sees the old file
/// or the new one, never part of one: a synced temporary file renamed over
/// it, then the folder synced so the rename itself survives a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    through_temp(path, |tmp| write_durable(tmp, bytes))?;
    sync_dir(path);
    Ok(())
}

/// Replaces `path` with `bytes` atomically (a temporary file renamed over
/// it) without syncing: for caches, which a crash may lose but never tear.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    through_temp(path, |tmp| with_parent(tmp, || std::fs::write(tmp, bytes)))
}

/// `write` makes `<path>.tmp`, which is then renamed over `path`; the
/// temporary file is removed when either step fails.
fn through_temp(path: &Path, write: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written =
        write(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))));
    if written.is_err() {
        remove_file_if_exists(&tmp).ok();
    }
    written
}

/// Syncs the folder holding `path` (its entries), where the platform can.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        // Not every file system lets a folder be opened and synced; the
        // data itself is already synced, so this is best effort.
        if let Ok(d) = std::fs::File::open(dir) {
            d.sync_all().ok();
        }
    }
}

/// What stands in the way of publishing a path, found before the commit.
#[derive(Debug, PartialEq)]
pub struct Conflict {
    /// The file or folder on disk.
    pub path: PathBuf,
    pub why: &'static str,
}

#[derive(Clone, Copy, PartialEq)]
enum OnDisk {
    Missing,
    Folder,
    File,
    Link,
}

fn on_disk(path: &Path) -> OnDisk {
    match std::fs::symlink_metadata(path) {
        Err(_) => OnDisk::Missing,
        Ok(m) if m.file_type().is_symlink() => OnDisk::Link,
        Ok(m) if m.is_dir() => OnDisk::Folder,
        Ok(_) => OnDisk::File,
    }
}

impl Publisher {
    /// Checks every path `moves` will publish against what is on disk, so
    /// that a commit that would fail (a file where a folder must go, a
    /// folder where a file must go, a symbolic link on the way out of the
    /// site) or overwrite a file gen did not write fails before it starts.
    /// `owned` says whether gen published a path in an earlier build.
    pub fn conflicts(&self, moves: &[String], removes: &[String], owned: impl Fn(&str) -> bool) -> Vec<Conflict> {
        let removed: BTreeSet<&str> = removes.iter().map(String::as_str).collect();
        // Folders are shared by many outputs: each is looked at once, and
        // nothing below a missing one (a first build) is looked at at all.
        let mut seen: std::collections::HashMap<String, OnDisk> = std::collections::HashMap::new();
        let mut found = Vec::new();
        'moves: for rel in moves {
            for prefix in folders_of(rel) {
                let kind = *seen.entry(prefix.to_string()).or_insert_with(|| on_disk(&self.out.join(prefix)));
                match kind {
                    OnDisk::Missing => continue 'moves,
                    OnDisk::Folder => {}
                    OnDisk::File if removed.contains(prefix) => continue 'moves,
                    OnDisk::File => {
                        found.push(Conflict { path: self.out.join(prefix), why: "is a file where a folder is needed" });
                        continue 'moves;
                    }
                    OnDisk::Link => {
                        found.push(Conflict { path: self.out.join(prefix), why: "is a symbolic link: gen does not publish through links" });
                        continue 'moves;
                    }
                }
            }
            let target = self.out.join(rel);
            match on_disk(&target) {
                OnDisk::Missing => {}
                OnDisk::Folder => {
                    let emptied = walkdir::WalkDir::new(&target)
                        .into_iter()
                        .filter_map(Result::ok)
                        .filter(|e| !e.file_type().is_dir())
                        .all(|e| e.path().strip_prefix(&self.out).ok().and_then(Path::to_str).is_some_and(|r| removed.contains(r)));
                    if !emptied {
                        found.push(Conflict { path: target, why: "is a folder where a file is needed" });
                    }
                }
                OnDisk::File | OnDisk::Link if !owned(rel) => {
                    found.push(Conflict { path: target, why: "was not written by gen, which does not overwrite it" });
                }
                OnDisk::File | OnDisk::Link => {}
            }
        }
        // A removal goes through every folder on its way: none may be a
        // link (a user's `images -> /elsewhere` would delete files there).
        'removes: for rel in removes {
            for prefix in folders_of(rel) {
                match *seen.entry(prefix.to_string()).or_insert_with(|| on_disk(&self.out.join(prefix))) {
                    OnDisk::Link => {
                        let why = "is a symbolic link: gen does not remove files through links";
                        if !found.iter().any(|c: &Conflict| c.path == self.out.join(prefix)) {
                            found.push(Conflict { path: self.out.join(prefix), why });
                        }
                        continue 'removes;
                    }
                    OnDisk::Missing | OnDisk::File => continue 'removes,
                    OnDisk::Folder => {}
                }
            }
        }
        found
    }
}

/// Whether a path can be published as a file: no name longer than
/// [`MAX_NAME_BYTES`]. (`None`: it can.)
pub fn name_too_long(rel: &str) -> Option<&str> {
    rel.split('/').find(|part| part.len() > MAX_NAME_BYTES)
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

pub(crate) fn remove_file_if_exists(p: &Path) -> io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes `dir` and the folders in it, which must hold no files.
fn remove_empty_tree(dir: &Path) -> io::Result<()> {
    for e in walkdir::WalkDir::new(dir).contents_first(true) {
        let e = e.map_err(io::Error::other)?;
        if e.file_type().is_dir() {
            std::fs::remove_dir(e.path())?;
        } else {
            return Err(io::Error::other(format!("{} is in the way", e.path().display())));
        }
    }
    Ok(())
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

/// The folders on the way to `rel`: `a` and `a/b` for `a/b/c.html`.
fn folders_of(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(move |(i, _)| &rel[..i])
}

/// What a placed file shares with its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shared {
    /// A copy-on-write clone: storage shared until either is written.
    Cloned,
    /// A plain copy.
    Copied,
    /// A hard link: one file under two names.
    Linked,
}

/// Places a copy of `source` at `dest` (which must not exist): a hard link
/// when asked for (and possible), else a clone where the file system makes
/// them, else a copy.
pub fn place_file(source: &Path, dest: &Path, hard_link: bool) -> io::Result<Shared> {
    if hard_link && std::fs::hard_link(source, dest).is_ok() {
        return Ok(Shared::Linked);
    }
    if clone_file(source, dest)? {
        return Ok(Shared::Cloned);
    }
    std::fs::copy(source, dest)?;
    Ok(Shared::Copied)
}

/// A copy-on-write clone of `source` at `dest`; `false` (and no `dest`)
/// where the file system cannot make one.
#[cfg(target_os = "linux")]
fn clone_file(source: &Path, dest: &Path) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let from = std::fs::File::open(source)?;
    let to = std::fs::File::create(dest)?;
    // SAFETY: FICLONE reads two open descriptors that outlive the call.
    let cloned = unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONE, from.as_raw_fd()) } == 0;
    if !cloned {
        drop(to);
        std::fs::remove_file(dest)?;
    }
    Ok(cloned)
}

#[cfg(target_os = "macos")]
fn clone_file(source: &Path, dest: &Path) -> io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let (from, to) = (c(source)?, c(dest)?);
    // SAFETY: two NUL-terminated paths that outlive the call.
    Ok(unsafe { libc::clonefile(from.as_ptr(), to.as_ptr(), 0) } == 0)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn clone_file(_: &Path, _: &Path) -> io::Result<bool> {
    Ok(false)
}

/// Files that could not be staged, reported as one error: a full disk or a
/// read-only folder fails every file the same way, and a line per file
/// would bury the reason.
#[derive(Default)]
pub(crate) struct WriteFailures(std::sync::Mutex<Vec<(PathBuf, std::io::Error)>>);

impl WriteFailures {
    /// Records a failure. The error returned is empty: [`WriteFailures::take`]
    /// reports them all at once.
    pub(crate) fn record(&self, path: PathBuf, e: std::io::Error) -> Diagnostics {
        self.0.lock().expect("no panics while held").push((path, e));
        Diagnostics::default()
    }

    /// One diagnostic for everything recorded since the last call.
    pub(crate) fn take(&self, publisher: &Publisher) -> Diagnostics {
        let mut failed = std::mem::take(&mut *self.0.lock().expect("no panics while held"));
        if failed.is_empty() {
            return Diagnostics::default();
        }
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        let (first, e) = &failed[0];
        let what = if failed.len() == 1 { "1 file".to_string() } else { format!("{} files", failed.len()) };
        let hint = match e.kind() {
            std::io::ErrorKind::StorageFull => "free space on the disk that holds the output folder, then build again",
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                "make the output folder writable, or choose another with --output"
            }
            _ => "check that the output folder is a folder gen can write to",
        };
        let d = Diagnostic::new(first, None, format!("cannot write {what} to {} (first shown): {e}", publisher.out_dir().display()));
        Diagnostics::one(d.hint(hint))
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
    fn the_state_is_sealed_after_every_file_it_publishes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        for round in 0..20 {
            let (p, _) = open(&out, &state);
            let names: Vec<String> = (0..5).map(|i| format!("r{round}/{i}.html")).collect();
            for n in &names {
                p.stage(n, n.as_bytes()).unwrap();
            }
            p.commit(names.clone(), vec![], Some(&b"state"[..])).unwrap();
            let sealed = crate::discover::changed_ns(&state);
            for n in &names {
                let published = crate::discover::changed_ns(&out.join("s").join(n));
                assert!(published < sealed, "{n} published at {published}, state sealed at {sealed}");
            }
        }
    }

    /// The preview publishes first and saves its state after: the old
    /// state is gone before anything moves, so a process that dies in
    /// between leaves none (the next build renders afresh), never one
    /// that describes the output before the publish.
    #[test]
    fn a_state_saved_after_the_publish_is_gone_until_saved() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let (p, _) = open(&out, &state);
        p.stage("a.html", b"one").unwrap();
        p.commit(vec!["a.html".into()], vec![], Some(&b"old state"[..])).unwrap();
        let (p, _) = open(&out, &state);
        p.stage("a.html", b"two").unwrap();
        let published = p.commit(vec!["a.html".into()], vec![], None).unwrap();
        assert!(!state.exists(), "the old state describes the old output");
        assert_eq!(std::fs::read(out.join("s/a.html")).unwrap(), b"two");
        save_state(&state, b"new state", published).unwrap();
        assert_eq!(std::fs::read(&state).unwrap(), b"new state");
        assert!(crate::discover::changed_ns(&state) > crate::discover::changed_ns(&out.join("s/a.html")));

        // Died after the commit point: the next open finishes the moves and installs no state.
        let (p, _) = open(&out, &state);
        p.stage("b.html", b"three").unwrap();
        std::fs::remove_file(&state).unwrap();
        let j = Journal { moves: vec!["b.html".into()], removes: vec![], tree: p.tree, state_later: true };
        std::fs::write(out.join(".gen-staging/s.journal"), serde_json::to_vec(&j).unwrap()).unwrap();
        let (_, recovery) = open(&out, &state);
        assert!(recovery.is_none());
        assert_eq!(std::fs::read(out.join("s/b.html")).unwrap(), b"three");
        assert!(!state.exists() && !out.join(".gen-staging/s.journal").exists());
    }

    fn open(out: &Path, state: &Path) -> (Publisher, Option<Recovery>) {
        Publisher::open(out, "s", state).unwrap()
    }

    #[test]
    fn interrupted_commit_is_finished_by_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let (p, _) = open(&out, &state);
        p.stage("a/index.html", b"new").unwrap();
        std::fs::create_dir_all(out.join("s")).unwrap();
        std::fs::write(out.join("s/old.html"), b"old").unwrap();
        // Write the journal by hand, as if the process died right after the commit point.
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        std::fs::write(state.with_extension("state.new"), b"state").unwrap();
        let j = Journal { moves: vec!["a/index.html".into()], removes: vec!["old.html".into()], tree: p.tree, state_later: false };
        std::fs::write(out.join(".gen-staging/s.journal"), serde_json::to_vec(&j).unwrap()).unwrap();

        let (_, recovery) = open(&out, &state);
        assert!(recovery.is_none());
        assert_eq!(std::fs::read(out.join("s/a/index.html")).unwrap(), b"new");
        assert!(!out.join("s/old.html").exists());
        assert_eq!(std::fs::read(&state).unwrap(), b"state");
        assert!(!out.join(".gen-staging").exists());
    }

    #[test]
    fn a_site_without_an_output_folder_is_published_by_one_rename() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let (p, _) = open(&out, &state);
        p.stage("a/index.html", b"a").unwrap();
        p.stage("robots.txt", b"r").unwrap();
        // Staged as the tree it will be.
        assert_eq!(std::fs::read(out.join(".gen-staging/s/a/index.html")).unwrap(), b"a");
        p.commit(vec!["a/index.html".into(), "robots.txt".into()], vec![], Some(&b"state"[..])).unwrap();
        assert_eq!(std::fs::read(out.join("s/a/index.html")).unwrap(), b"a");
        assert_eq!(std::fs::read(out.join("s/robots.txt")).unwrap(), b"r");
        assert!(!out.join(".gen-staging").exists());
        assert_eq!(std::fs::read(&state).unwrap(), b"state");
        // The next build has a folder: staged flat, moved file by file.
        let (p, _) = open(&out, &state);
        p.stage("b.html", b"b").unwrap();
        assert!(!out.join(".gen-staging/s/b.html").exists());
        p.commit(vec!["b.html".into()], vec!["robots.txt".into()], Some(&b"state 2"[..])).unwrap();
        assert_eq!(std::fs::read(out.join("s/b.html")).unwrap(), b"b");
        assert!(!out.join("s/robots.txt").exists() && out.join("s/a/index.html").exists());
    }

    #[test]
    fn a_tree_commit_killed_before_or_after_its_rename_is_finished() {
        for renamed in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("public");
            let state = dir.path().join("cache/s.state");
            let (p, _) = open(&out, &state);
            p.stage("a/index.html", b"a").unwrap();
            std::fs::create_dir_all(state.parent().unwrap()).unwrap();
            std::fs::write(state.with_extension("state.new"), b"state").unwrap();
            let j = Journal { moves: vec!["a/index.html".into()], removes: vec![], tree: true, state_later: false };
            std::fs::write(out.join(".gen-staging/s.journal"), serde_json::to_vec(&j).unwrap()).unwrap();
            if renamed {
                std::fs::rename(out.join(".gen-staging/s"), out.join("s")).unwrap();
            }
            let (_, recovery) = open(&out, &state);
            assert!(recovery.is_none(), "replayed (renamed: {renamed})");
            assert_eq!(std::fs::read(out.join("s/a/index.html")).unwrap(), b"a");
            assert_eq!(std::fs::read(&state).unwrap(), b"state");
            assert!(!out.join(".gen-staging").exists());
        }
    }

    #[test]
    fn staging_without_journal_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let (p, _) = open(&out, &state);
        p.stage("a/index.html", b"half").unwrap();
        open(&out, &state);
        assert!(!out.join(".gen-staging").exists());
        assert!(!out.join("s/a/index.html").exists());
    }

    #[test]
    fn planted_journal_cannot_rename_files_outside_the_site() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"keep").unwrap();
        std::fs::create_dir_all(out.join(".gen-staging")).unwrap();
        // The old format named the state files; any other path is refused.
        let planted = format!(
            r#"{{"moves":[],"removes":["../../victim.txt"],"state":["{}","{}"]}}"#,
            victim.display(),
            dir.path().join("moved").display()
        );
        std::fs::write(out.join(".gen-staging/s.journal"), planted).unwrap();
        let (_, recovery) = open(&out, &state);
        assert!(recovery.unwrap().warning.contains("s.journal could not be replayed"));
        let planted = r#"{"moves":["../../victim.txt"],"removes":["../../victim.txt"]}"#;
        std::fs::create_dir_all(out.join(".gen-staging")).unwrap();
        std::fs::write(out.join(".gen-staging/s.journal"), planted).unwrap();
        let (_, recovery) = open(&out, &state);
        assert!(recovery.unwrap().moved.is_empty());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(!dir.path().join("moved").exists() && !state.exists());
    }

    #[test]
    fn journal_that_cannot_be_replayed_is_dropped_once_not_refused_forever() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let (p, _) = open(&out, &state);
        p.stage("feed.xml/index.html", b"stub").unwrap();
        std::fs::create_dir_all(out.join("s")).unwrap();
        std::fs::write(out.join("s/feed.xml"), b"<rss/>").unwrap();
        let j = Journal { moves: vec!["feed.xml/index.html".into()], removes: vec![], tree: p.tree, state_later: false };
        std::fs::write(out.join(".gen-staging/s.journal"), serde_json::to_vec(&j).unwrap()).unwrap();
        let (_, recovery) = open(&out, &state);
        let recovery = recovery.expect("reported");
        assert!(recovery.warning.contains("rebuilding the site from scratch"), "{}", recovery.warning);
        assert_eq!(recovery.moved, ["feed.xml/index.html"]);
        assert!(!out.join(".gen-staging").exists());
        // The next open finds nothing left to replay.
        assert!(open(&out, &state).1.is_none());
    }

    #[test]
    fn a_build_with_nothing_to_publish_writes_nothing_in_the_output_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        std::fs::create_dir_all(out.join("s")).unwrap();
        let (p, _) = open(&out, &state);
        p.commit(vec![], vec![], Some(&b"state"[..])).unwrap();
        assert_eq!(std::fs::read(&state).unwrap(), b"state");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1, "only the site folder");
        assert!(!state.with_extension("state.tmp").exists());
    }

    #[test]
    fn a_staged_file_that_vanished_fails_the_commit_before_anything_is_published() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let (p, _) = open(&out, &state);
        p.stage("a.html", b"a").unwrap();
        p.stage("b.html", b"b").unwrap();
        std::fs::remove_file(p.staged("b.html").unwrap()).unwrap();
        let err = p.commit(vec!["a.html".into(), "b.html".into()], vec![], Some(&b"state"[..])).unwrap_err();
        assert!(err.to_string().contains("vanished"), "{err}");
        assert!(!out.join("s/a.html").exists() && !state.exists());
        assert!(!out.join(".gen-staging").exists(), "staging cleaned");
    }

    #[test]
    fn a_state_path_that_is_a_folder_fails_before_the_commit_point() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        std::fs::create_dir_all(&state).unwrap();
        let (p, _) = open(&out, &state);
        p.stage("a.html", b"a").unwrap();
        let err = p.commit(vec!["a.html".into()], vec![], Some(&b"state"[..])).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
        assert!(!out.join("s/a.html").exists());
    }

    #[test]
    fn conflicts_with_the_disk_are_found_before_publishing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let (p, _) = open(&out, &state);
        let site = out.join("s");
        std::fs::create_dir_all(site.join("dir/sub")).unwrap();
        std::fs::write(site.join("dir/sub/index.html"), b"x").unwrap();
        std::fs::write(site.join("file"), b"x").unwrap();
        std::fs::write(site.join("hand-made.html"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path(), site.join("link")).unwrap();
        let moves: Vec<String> =
            ["dir/sub", "file/index.html", "hand-made.html", "link/x.html", "fresh/a/index.html"].map(String::from).to_vec();
        let found = p.conflicts(&moves, &[], |rel| rel != "hand-made.html");
        let names: Vec<String> = found.iter().map(|c| c.path.strip_prefix(&site).unwrap().display().to_string()).collect();
        assert_eq!(names, ["dir/sub", "file", "hand-made.html", "link"]);
        // Removed in the same commit, the file and the folder's contents make way.
        let removes = vec!["file".to_string(), "dir/sub/index.html".to_string()];
        assert!(p.conflicts(&moves[..2], &removes, |_| true).is_empty());
    }

    /// Hardening round 2, case 4: a user-made link at `public/<site>/images`
    /// made removals (and pruning) act on the folder it points to.
    #[test]
    fn removals_through_a_symlinked_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        let elsewhere = dir.path().join("elsewhere/ab");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("x.webp"), b"keep me").unwrap();
        let (p, _) = open(&out, &state);
        std::fs::create_dir_all(out.join("s")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), out.join("s/images")).unwrap();
        let found = p.conflicts(&[], &["images/ab/x.webp".to_string(), "images/ab/y.webp".to_string()], |_| true);
        assert_eq!(found.len(), 1, "one report for the link: {found:?}");
        assert_eq!(found[0].path, out.join("s/images"));
        assert!(elsewhere.join("x.webp").exists());
    }

    #[test]
    fn an_empty_folder_where_a_file_goes_is_cleared_not_a_failure_after_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        std::fs::create_dir_all(out.join("s/robots.txt/empty")).unwrap();
        let (p, _) = open(&out, &state);
        assert!(p.conflicts(&["robots.txt".to_string()], &[], |_| true).is_empty());
        p.stage("robots.txt", b"User-agent: *").unwrap();
        p.commit(vec!["robots.txt".into()], vec![], Some(&b"state"[..])).unwrap();
        assert_eq!(std::fs::read(out.join("s/robots.txt")).unwrap(), b"User-agent: *");
    }

    #[test]
    fn a_replayed_folder_to_file_commit_is_not_stuck() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        // Killed after `x` became a file, before the journal was done.
        std::fs::create_dir_all(out.join("s")).unwrap();
        std::fs::write(out.join("s/x"), b"file").unwrap();
        std::fs::create_dir_all(out.join(".gen-staging")).unwrap();
        let j = Journal { moves: vec!["x".into()], removes: vec!["x/index.html".into()], tree: false, state_later: false };
        std::fs::write(out.join(".gen-staging/s.journal"), serde_json::to_vec(&j).unwrap()).unwrap();
        let (_, recovery) = open(&out, &state);
        assert!(recovery.is_none(), "replayed");
        assert_eq!(std::fs::read(out.join("s/x")).unwrap(), b"file");
    }

    #[test]
    fn a_file_that_turns_into_a_folder_is_published() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let state = dir.path().join("cache/s.state");
        std::fs::create_dir_all(out.join("s")).unwrap();
        std::fs::write(out.join("s/logo"), b"file").unwrap();
        let (p, _) = open(&out, &state);
        p.stage("logo/index.svg", b"svg").unwrap();
        p.commit(vec!["logo/index.svg".into()], vec!["logo".into()], Some(&b"state"[..])).unwrap();
        assert_eq!(std::fs::read(out.join("s/logo/index.svg")).unwrap(), b"svg");
    }
}
