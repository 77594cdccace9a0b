//! Watching the inputs: `content/`, `themes/`, `assets/` and `sites.toml`.
//! Each burst of changes (events until a short quiet time) is handed to a
//! callback as the paths that matter, with the moment the first came.
//! Events for anything else (reads, editor files) are dropped as they come.

use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use notify::{EventKind, RecursiveMode, Watcher as _};

use crate::discover;

/// Quiet time that ends a burst: an editor's save is several events within
/// a millisecond or two (write, rename, chmod). Every millisecond here is
/// one the writer waits for the page.
const QUIET: Duration = Duration::from_millis(5);

/// A burst that never goes quiet (a tool writing on and on) is built anyway.
const LONGEST: Duration = Duration::from_millis(500);

/// Watches until dropped (its thread then ends).
pub(super) type Watcher = notify::RecommendedWatcher;

/// A burst of changes: the paths that matter, when the first came, and
/// whether they are all that changed since the last burst (`false` when
/// the watcher lost events: its queue overflowed, or it failed).
pub(super) struct Burst {
    pub(super) paths: Vec<PathBuf>,
    pub(super) since: Instant,
    pub(super) complete: bool,
}

pub(super) fn start(root: &Path, mut on_change: impl FnMut(Burst) + Send + 'static) -> anyhow::Result<Watcher> {
    // Each event with the moment it came (a burst may wait in the queue
    // while a build runs).
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, notify::Result<notify::Event>)>();
    let mut watcher = notify::recommended_watcher(move |e| {
        tx.send((Instant::now(), e)).ok();
    })?;
    for dir in ["content", "themes", "assets"] {
        let path = root.join(dir);
        if path.is_dir() {
            watcher.watch(&path, RecursiveMode::Recursive).with_context(|| format!("watching {}", path.display()))?;
        }
    }
    // sites.toml is often replaced (write to temp, rename): watch its folder.
    watcher.watch(root, RecursiveMode::NonRecursive).with_context(|| format!("watching {}", root.display()))?;
    let filter_root = root.to_path_buf();
    std::thread::spawn(move || {
        // The first build ran before the watcher started: what changed while
        // it ran is unknown, so the first burst checks every file.
        let mut lost = true;
        // Waits for a first change without waking up in between; ends when
        // the watcher is dropped.
        while let Ok((since, first)) = rx.recv() {
            let Some(Taken { mut paths, lost: mut burst_lost }) = taken(&filter_root, first) else { continue };
            let mut quiet_at = since + QUIET;
            // (From now: events queued while a build ran are taken at once.)
            let longest = Instant::now() + LONGEST;
            loop {
                let until = quiet_at.min(longest);
                match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                    Ok((at, e)) => {
                        if let Some(t) = taken(&filter_root, e) {
                            paths.extend(t.paths);
                            burst_lost |= t.lost;
                            quiet_at = at + QUIET;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                if Instant::now() >= longest {
                    break;
                }
            }
            lost |= burst_lost;
            paths.sort();
            paths.dedup();
            if !paths.is_empty() {
                on_change(Burst { paths, since, complete: !std::mem::take(&mut lost) });
            }
        }
    });
    Ok(watcher)
}

/// What an event adds to a burst: the inputs it names, and whether events
/// were lost (a rescan flag, an error).
struct Taken {
    paths: Vec<PathBuf>,
    lost: bool,
}

/// `None` for an event that neither starts nor prolongs a burst: a read,
/// or writes elsewhere only (editor files, a `.git` folder).
fn taken(root: &Path, e: notify::Result<notify::Event>) -> Option<Taken> {
    let Ok(e) = e else { return Some(Taken { paths: vec![], lost: true }) };
    let lost = e.need_rescan();
    let paths: Vec<PathBuf> = match e.kind {
        EventKind::Access(_) => vec![],
        _ => e.paths.into_iter().filter(|p| is_relevant(root, p)).collect(),
    };
    (lost || !paths.is_empty()).then_some(Taken { paths, lost })
}

/// Editor temp files and anything outside the inputs do not trigger builds.
fn is_relevant(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else { return false };
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if discover::is_ignored_name(name) || rel.components().any(|c| c.as_os_str().to_str().is_some_and(|s| s.starts_with('.'))) {
        return false;
    }
    let first = rel.components().next().and_then(|c| c.as_os_str().to_str()).unwrap_or("");
    matches!(first, "content" | "themes" | "assets") || rel == Path::new(crate::config::CONFIG_FILE)
}

/// A change under `content/<site>/` rebuilds that site only; anything else
/// (themes, shared assets, authors, sites.toml) every selected site (an empty
/// list). Folders under `content/` that are not sites (`known`) are ignored;
/// `None` when nothing served changed.
pub(super) fn sites_for(root: &Path, paths: &[PathBuf], selected: &[String], known: &[String]) -> Option<Vec<String>> {
    let mut sites: Vec<String> = Vec::new();
    for p in paths {
        let rel = p.strip_prefix(root).unwrap_or(p);
        let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
        match (parts.next().as_deref(), parts.next(), parts.next()) {
            (Some("content"), Some(site), Some(_)) if !known.contains(&site) => {}
            (Some("content"), Some(site), Some(_)) => {
                if !sites.contains(&site) {
                    sites.push(site);
                }
            }
            _ => return Some(selected.to_vec()),
        }
    }
    if !selected.is_empty() {
        sites.retain(|s| selected.contains(s));
    }
    (!sites.is_empty()).then_some(sites)
}

/// The paths relative to `root`, `/`-separated, as build states name files.
pub(super) fn relative(root: &Path, paths: &[PathBuf]) -> crate::discover::Changed {
    let rel = |p: &PathBuf| p.strip_prefix(root).ok().map(|r| r.to_string_lossy().replace('\\', "/"));
    std::sync::Arc::new(paths.iter().filter_map(rel).collect())
}

/// Only stylesheets changed: open pages can swap them without a reload,
/// even though every page links the new fingerprinted name.
pub(super) fn only_stylesheets(paths: &[PathBuf]) -> bool {
    paths.iter().all(|p| p.extension().is_some_and(|e| e == "css"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_changes_rebuild_their_site_only() {
        let root = Path::new("/r");
        let p = |s: &str| root.join(s);
        let known = ["daily".to_string(), "lab".to_string()];
        let all = Some(vec![]);
        assert_eq!(
            sites_for(root, &[p("content/daily/a.md"), p("content/lab/x/index.md")], &[], &known),
            Some(vec!["daily".into(), "lab".into()])
        );
        assert_eq!(sites_for(root, &[p("content/daily/a.md"), p("themes/default/templates/base.html")], &[], &known), all);
        assert_eq!(sites_for(root, &[p("content/authors.yaml")], &[], &known), all, "authors concern every site");
        assert_eq!(sites_for(root, &[p("sites.toml")], &["lab".to_string()], &known), Some(vec!["lab".into()]));
        assert_eq!(sites_for(root, &[p("content/drafts-folder/x.md")], &[], &known), None, "not a site: no rebuild");
        assert_eq!(sites_for(root, &[p("content/daily/a.md")], &["lab".to_string()], &known), None, "not served: no rebuild");
    }

    #[test]
    fn editor_files_and_outputs_do_not_trigger_builds() {
        let root = Path::new("/r");
        assert!(is_relevant(root, &root.join("content/daily/a.md")));
        assert!(is_relevant(root, &root.join("sites.toml")));
        assert!(!is_relevant(root, &root.join("content/daily/.a.md.swp")));
        assert!(!is_relevant(root, &root.join("content/daily/a.md~")));
        assert!(!is_relevant(root, &root.join(".gen/serve/public/daily/index.html")));
        assert!(!is_relevant(root, &root.join("public/daily/index.html")));
        assert!(!is_relevant(root, &root.join("README.md")));
    }

    #[test]
    fn a_save_by_rename_is_one_burst_and_reads_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("content/daily")).unwrap();
        std::fs::write(root.join("content/daily/old.md"), "old").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let _watcher = start(&root, move |b| tx.send(b).unwrap()).unwrap();
        // Reads first: a burst from them would come before the save's.
        std::fs::read(root.join("content/daily/old.md")).unwrap();
        // As editors save: a temporary file, written, renamed over the article.
        std::fs::write(root.join("content/daily/a.md.tmp"), "new").unwrap();
        std::fs::rename(root.join("content/daily/a.md.tmp"), root.join("content/daily/a.md")).unwrap();
        let burst = rx.recv_timeout(Duration::from_secs(30)).expect("a burst for the save");
        assert_eq!(burst.paths, vec![root.join("content/daily/a.md")]);
        assert!(!burst.complete, "the first burst checks every file");
        std::fs::write(root.join("content/daily/b.md"), "b").unwrap();
        let burst = rx.recv_timeout(Duration::from_secs(30)).expect("a burst for the next write");
        assert_eq!(burst.paths, vec![root.join("content/daily/b.md")]);
        assert!(burst.complete);
    }

    #[test]
    fn a_theme_stylesheet_edit_is_a_css_only_change() {
        assert!(only_stylesheets(&[PathBuf::from("/r/themes/default/static/style.css")]));
        assert!(!only_stylesheets(&[PathBuf::from("/r/themes/default/static/style.css"), PathBuf::from("/r/content/d/a.md")]));
    }
}
