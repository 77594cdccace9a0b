//! A site's `wp-content/uploads` folder: old image URLs mapped to files,
//! WordPress's resized copies (`photo-800x450.jpg`, `photo-scaled.jpg`)
//! mapped back to their original, and files brought into a page bundle by
//! hard link (a copy only across file systems), never by reading them.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use regex::Regex;

/// `name-800x450.jpg`, `name-scaled.jpg`, `name-rotated.jpg`, and
/// `name-scaled-800x450.jpg`: WordPress's derived copies of `name.jpg`.
static DERIVED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<stem>.+?)(?:-(?:scaled|rotated|e\d{10,}))?(?:-\d+x\d+)?(?P<ext>\.[A-Za-z0-9]+)$").expect("valid regex")
});

/// The folder and what the importer learnt of it.
pub struct Uploads {
    root: PathBuf,
    /// Multisite: the blog's number, from attachment URLs under `uploads/sites/N/`,
    /// for exports whose URLs still say `/files/…` (WordPress before 3.5).
    blog: Option<String>,
    listings: Mutex<HashMap<PathBuf, Arc<Folder>>>,
}

/// One folder's files, read once: by name, and by the original they derive
/// from (a month folder of a busy site holds thousands).
#[derive(Default)]
struct Folder {
    names: BTreeSet<String>,
    by_original: HashMap<String, Vec<String>>,
    /// Symbolic links: never followed, reported as such.
    links: BTreeSet<String>,
    /// The folder is a link, or lies behind one: nothing in it is used.
    behind_link: Option<String>,
}

/// An old image URL found in the uploads folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The original (or the file itself when no original is there).
    pub file: PathBuf,
    /// Its name, for the bundle.
    pub name: String,
    /// Every old site path of the picture: the original's and each resized
    /// copy in its folder (`/wp-content/uploads/2023/12/a-800x450.jpg`).
    pub old_paths: Vec<String>,
}

impl Uploads {
    /// Opens `root`; an unreadable folder is an error before anything is written.
    pub fn open(root: &Path, attachment_urls: &[&str]) -> anyhow::Result<Uploads> {
        std::fs::read_dir(root).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the uploads folder {}: {e}; give the site's wp-content/uploads folder (for a multisite, the network's)",
                root.display()
            )
        })?;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for url in attachment_urls {
            if let Some(n) = url.split("/uploads/sites/").nth(1).and_then(|r| r.split('/').next()) {
                *counts.entry(n).or_default() += 1;
            }
        }
        let blog = counts.into_iter().max_by_key(|(n, c)| (*c, std::cmp::Reverse(*n))).map(|(n, _)| n.to_string());
        Ok(Uploads { root: root.to_path_buf(), blog, listings: Mutex::default() })
    }

    /// The path of an old URL below the uploads folder (`2023/12/a.jpg`,
    /// `sites/3/2023/12/a.jpg`), whatever host it names; `None` when the URL
    /// is not an upload.
    pub fn relative(&self, url: &str) -> Option<String> {
        let path = url_path(url);
        let path = crate::images::percent_decode(&path);
        if let Some((_, rest)) = path.split_once("/wp-content/uploads/") {
            return Some(rest.to_string());
        }
        // WordPress.com serves uploads from their own host, by year and month.
        if url.split_once("://").is_some_and(|(_, r)| r.split('/').next().is_some_and(|h| h.ends_with(".files.wordpress.com"))) {
            return Some(path.trim_start_matches('/').to_string());
        }
        let rest = path.strip_prefix("/files/").or_else(|| path.split_once("/files/").map(|(_, r)| r))?;
        Some(match &self.blog {
            Some(n) => format!("sites/{n}/{rest}"),
            None => rest.to_string(),
        })
    }

    /// Finds the picture an old URL shows: its original when that file is
    /// there, else the file itself. `Err` says why a file that is there is
    /// refused: it is, or lies behind, a symbolic link (which could lead
    /// anywhere outside the uploads folder).
    pub fn find(&self, url: &str) -> Result<Option<Found>, String> {
        let Some(rel) = self.relative(url) else { return Ok(None) };
        if rel.split('/').any(|s| s == ".." || s.is_empty() || s == ".") {
            return Ok(None);
        }
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let listing = self.listing(Path::new(dir));
        if let Some(link) = &listing.behind_link {
            return Err(format!("{link} in the uploads folder is a symbolic link: gen does not follow links out of it"));
        }
        let original = original_name(name);
        let chosen = if listing.names.contains(&original) {
            original.clone()
        } else if listing.names.contains(name) {
            name.to_string()
        } else if let Some(link) = [&original, &name.to_string()].into_iter().find(|n| listing.links.contains(*n)) {
            return Err(format!("{dir}/{link} in the uploads folder is a symbolic link: gen does not follow links out of it"));
        } else {
            return Ok(None);
        };
        // The URL path up to the file name: how the site spelled this folder.
        let old_dir = {
            let p = url_path(url);
            p.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default()
        };
        // The copies are the original's: without it, each file named like
        // a copy is a picture of its own, with its own URL only.
        let copies = listing.by_original.get(&original).filter(|_| chosen == original);
        let mut old_paths: Vec<String> = copies.into_iter().flatten().map(|n| format!("{old_dir}/{n}")).collect();
        old_paths.push(format!("{old_dir}/{name}"));
        old_paths.sort();
        old_paths.dedup();
        Ok(Some(Found { file: self.root.join(dir).join(&chosen), name: chosen, old_paths }))
    }

    fn listing(&self, dir: &Path) -> Arc<Folder> {
        if let Some(l) = self.listings.lock().expect("no panics while held").get(dir) {
            return l.clone();
        }
        // Every folder on the way, the uploads folder's own included, must
        // be a folder and no link: `2023/06 -> /elsewhere` leads out of it.
        let behind_link = std::iter::once(Path::new(""))
            .chain(dir.ancestors().collect::<Vec<_>>().into_iter().rev().filter(|a| !a.as_os_str().is_empty()))
            .filter(|a| !a.as_os_str().is_empty())
            .find(|a| std::fs::symlink_metadata(self.root.join(a)).is_ok_and(|m| m.file_type().is_symlink()))
            .map(|a| a.display().to_string());
        let (mut names, mut links) = (BTreeSet::new(), BTreeSet::new());
        if behind_link.is_none() {
            for e in std::fs::read_dir(self.root.join(dir)).into_iter().flatten().flatten() {
                let (Ok(t), Ok(name)) = (e.file_type(), e.file_name().into_string()) else { continue };
                if t.is_file() {
                    names.insert(name);
                } else if t.is_symlink() {
                    links.insert(name);
                }
            }
        }
        let mut by_original: HashMap<String, Vec<String>> = HashMap::new();
        for n in &names {
            by_original.entry(original_name(n)).or_default().push(n.clone());
        }
        let folder = Arc::new(Folder { names, by_original, links, behind_link });
        self.listings.lock().expect("no panics while held").insert(dir.to_path_buf(), folder.clone());
        folder
    }
}

/// `photo-800x450.jpg` → `photo.jpg`; a name WordPress did not derive stays.
pub fn original_name(name: &str) -> String {
    match DERIVED.captures(name) {
        Some(c) => format!("{}{}", &c["stem"], &c["ext"]),
        None => name.to_string(),
    }
}

/// The path of a URL (`https://host/a/b?x` → `/a/b`); a path stays a path.
pub fn url_path(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let after_scheme = no_query.split_once("://").map(|(_, r)| r).or_else(|| no_query.strip_prefix("//"));
    match after_scheme {
        Some(rest) => rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_else(|| "/".into()),
        None => no_query.to_string(),
    }
}

/// What placing a file into a bundle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// A clone or a copy was made (which, when known: not in a dry run).
    New(Option<crate::write::Shared>),
    /// The same file (same inode, or same bytes) was there already.
    Same,
    /// Another file is there; it was left alone.
    Conflict,
}

/// Copies (or clones) `source` to `dest`. An existing `dest` is never
/// replaced unless `force`.
pub fn place(source: &Path, dest: &Path, force: bool) -> std::io::Result<Placed> {
    if let Ok(existing) = std::fs::metadata(dest) {
        if same_file(source, dest, &existing)? {
            return Ok(Placed::Same);
        }
        if !force {
            return Ok(Placed::Conflict);
        }
        std::fs::remove_file(dest)?;
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // A clone where the file system makes them, else a copy (never a hard
    // link: editing the article's image must not edit the backup), through
    // a temporary name so a half-copied image never looks finished.
    let tmp = dest.with_extension("gen-import.tmp");
    crate::write::remove_file_if_exists(&tmp)?;
    let how = crate::write::place_file(source, &tmp, false)?;
    std::fs::rename(&tmp, dest)?;
    Ok(Placed::New(Some(how)))
}

fn same_file(a: &Path, b: &Path, b_meta: &std::fs::Metadata) -> std::io::Result<bool> {
    let a_meta = std::fs::metadata(a)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if a_meta.dev() == b_meta.dev() && a_meta.ino() == b_meta.ino() {
            return Ok(true);
        }
    }
    if a_meta.len() != b_meta.len() {
        return Ok(false);
    }
    // A copy made across file systems: compare the bytes once.
    Ok(crate::discover::hash_file(a)? == crate::discover::hash_file(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resized_copies_map_back_to_their_original() {
        assert_eq!(original_name("photo-800x450.jpg"), "photo.jpg");
        assert_eq!(original_name("photo-scaled.jpg"), "photo.jpg");
        assert_eq!(original_name("photo-scaled-300x200.jpg"), "photo.jpg");
        assert_eq!(original_name("photo-e1700000000123.jpg"), "photo.jpg");
        assert_eq!(original_name("photo.jpg"), "photo.jpg");
        assert_eq!(original_name("2024-report.png"), "2024-report.png");
        assert_eq!(original_name("사진-1024x768.jpeg"), "사진.jpeg");
    }

    #[test]
    fn urls_map_into_the_uploads_folder() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path(), &["https://a.example/wp-content/uploads/sites/3/2023/12/x.jpg"]).unwrap();
        assert_eq!(u.relative("https://a.example/wp-content/uploads/2023/12/x.jpg").as_deref(), Some("2023/12/x.jpg"));
        assert_eq!(
            u.relative("https://mapped.example.kr/wp-content/uploads/sites/3/2023/12/%EC%82%AC.jpg?w=300").as_deref(),
            Some("sites/3/2023/12/사.jpg")
        );
        assert_eq!(u.relative("/wp-content/uploads/2020/01/y.png").as_deref(), Some("2020/01/y.png"));
        assert_eq!(u.relative("https://a.example/files/2010/05/old.jpg").as_deref(), Some("sites/3/2010/05/old.jpg"));
        assert_eq!(u.relative("https://a.example/2020/01/post/"), None);
        assert_eq!(u.relative("https://blog.files.wordpress.com/2013/09/a.jpg").as_deref(), Some("2013/09/a.jpg"));
    }

    #[test]
    fn an_unreadable_uploads_folder_is_an_error() {
        let e = Uploads::open(Path::new("/nonexistent/uploads"), &[]).err().unwrap().to_string();
        assert!(e.contains("/nonexistent/uploads") && e.contains("wp-content/uploads"), "{e}");
    }

    #[test]
    fn the_original_and_its_copies_are_found_with_every_old_path() {
        let dir = tempfile::tempdir().unwrap();
        let month = dir.path().join("2023/12");
        std::fs::create_dir_all(&month).unwrap();
        for n in ["a.jpg", "a-300x200.jpg", "a-scaled.jpg", "b-300x200.jpg", "b-150x150.jpg", "ab.jpg"] {
            std::fs::write(month.join(n), n).unwrap();
        }
        let u = Uploads::open(dir.path(), &[]).unwrap();
        let f = u.find("https://old.example/wp-content/uploads/2023/12/a-scaled.jpg").unwrap().unwrap();
        assert_eq!(f.name, "a.jpg");
        assert_eq!(
            f.old_paths,
            ["/wp-content/uploads/2023/12/a-300x200.jpg", "/wp-content/uploads/2023/12/a-scaled.jpg", "/wp-content/uploads/2023/12/a.jpg"]
        );
        // Only a resized copy survives: that copy is the picture.
        assert_eq!(u.find("/wp-content/uploads/2023/12/b-1024x768.jpg"), Ok(None));
        let b = u.find("/wp-content/uploads/2023/12/b-300x200.jpg").unwrap().unwrap();
        assert_eq!(b.name, "b-300x200.jpg");
        // Found by a new user: without their original, files named like
        // copies are pictures of their own (the theme unit test's
        // `image-alignment-150x150.jpg` is an attachment, not a copy), and
        // each took the other's old URL, two redirects from one path.
        assert_eq!(b.old_paths, ["/wp-content/uploads/2023/12/b-300x200.jpg"]);
        assert_eq!(u.find("/wp-content/uploads/2023/12/../../etc/passwd"), Ok(None));
    }

    #[test]
    fn placing_clones_or_copies_once_and_never_replaces_another_file() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.jpg");
        std::fs::write(&src, b"one").unwrap();
        let dest = dir.path().join("bundle/a.jpg");
        // A clone or a copy, said as such, never a link.
        let placed = place(&src, &dest, false).unwrap();
        assert!(matches!(placed, Placed::New(Some(crate::write::Shared::Cloned | crate::write::Shared::Copied))), "{placed:?}");
        assert_eq!(std::os::unix::fs::MetadataExt::nlink(&std::fs::metadata(&dest).unwrap()), 1);
        assert_eq!(place(&src, &dest, false).unwrap(), Placed::Same);
        let other = dir.path().join("other.jpg");
        std::fs::write(&other, b"two").unwrap();
        assert_eq!(place(&other, &dest, false).unwrap(), Placed::Conflict);
        assert_eq!(std::fs::read(&dest).unwrap(), b"one");
        assert!(matches!(place(&other, &dest, true).unwrap(), Placed::New(Some(_))));
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
    }
}
