//! Images referenced by articles: resolved safely against the page bundle or
//! the `assets/` folders, and published once per site at a sharded,
//! content-addressed path `images/<aa>/<bb>/<blake3>.<ext>`, so no output
//! folder grows past 256 entries per level and a CDN can cache forever.

use std::path::{Component, Path, PathBuf};

use crate::discover::{self, Hash};

pub const EXTENSIONS: [&str; 8] = ["png", "jpg", "jpeg", "gif", "webp", "svg", "avif", "ico"];

/// An image to publish: where it goes and its bytes.
#[derive(Debug, Clone)]
pub struct Image {
    /// Site-relative output path.
    pub rel: String,
    pub hash: Hash,
    pub bytes: Vec<u8>,
}

/// Where to look for images referenced by one article.
pub struct Lookup<'a> {
    /// The repository root.
    pub root: &'a Path,
    /// `content/<site>` (repo-relative): nothing outside it is reachable by a relative reference.
    pub content_dir: &'a Path,
    /// The article's folder (repo-relative).
    pub article_dir: &'a Path,
}

/// External references are left as they are.
pub fn is_external(url: &str) -> bool {
    url.starts_with("//")
        || url.starts_with('#')
        || url.split_once(':').is_some_and(|(scheme, _)| !scheme.contains('/') && !scheme.is_empty())
}

impl Lookup<'_> {
    /// Resolves a reference to a repo-relative file, or says why it cannot.
    pub fn resolve(&self, url: &str) -> Result<PathBuf, String> {
        let clean = url.split(['?', '#']).next().unwrap_or(url);
        let clean = percent_decode(clean);
        let candidates: Vec<PathBuf> = if let Some(rooted) = clean.strip_prefix('/') {
            let rel = normalize(Path::new(rooted)).ok_or_else(|| format!("`{url}` climbs out of the assets folder"))?;
            vec![self.content_dir.join("assets").join(&rel), PathBuf::from("assets").join(&rel)]
        } else {
            let joined = normalize(&self.article_dir.join(&clean)).ok_or_else(|| format!("`{url}` climbs out of the repository"))?;
            if !joined.starts_with(self.content_dir) {
                return Err(format!("`{url}` points outside {}", self.content_dir.display()));
            }
            vec![joined]
        };
        let ext = Path::new(&clean).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        if !EXTENSIONS.contains(&ext.as_str()) {
            return Err(format!("`{url}` is not a supported image (use {})", EXTENSIONS.join(", ")));
        }
        for c in &candidates {
            let full = self.root.join(c);
            // Never follow a link out of the tree.
            if std::fs::symlink_metadata(&full).is_ok_and(|m| m.is_file()) {
                return Ok(c.clone());
            }
        }
        Err(format!(
            "image `{url}` not found (looked in {})",
            candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(" and ")
        ))
    }
}

/// Reads and addresses an image; `rel` is its output path.
pub fn load(root: &Path, file: &Path) -> std::io::Result<Image> {
    let bytes = std::fs::read(root.join(file))?;
    let hash = discover::hash_bytes(&bytes);
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("bin").to_ascii_lowercase();
    Ok(Image { rel: sharded_path(&hash, &ext), hash, bytes })
}

/// `images/<aa>/<bb>/<hash>.<ext>`: two levels of 256 folders.
pub fn sharded_path(hash: &Hash, ext: &str) -> String {
    let hex = discover::hex(hash);
    format!("images/{}/{}/{hex}.{ext}", &hex[0..2], &hex[2..4])
}

/// Lexical normalisation; `None` when `..` climbs above the start.
fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok()));
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_references_are_recognised() {
        assert!(is_external("https://x.org/a.png"));
        assert!(is_external("//cdn/a.png"));
        assert!(is_external("data:image/png;base64,xx"));
        assert!(!is_external("photo.png"));
        assert!(!is_external("/images/a.png"));
        assert!(!is_external("./a:b/c.png"));
    }

    #[test]
    fn references_cannot_escape_the_site() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("content/s/news/a")).unwrap();
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::write(root.join("content/s/news/a/p.png"), b"png").unwrap();
        std::fs::write(root.join("assets/logo.svg"), b"svg").unwrap();
        let l = Lookup { root, content_dir: Path::new("content/s"), article_dir: Path::new("content/s/news/a") };
        assert_eq!(l.resolve("p.png").unwrap(), Path::new("content/s/news/a/p.png"));
        assert_eq!(l.resolve("./p.png?v=1").unwrap(), Path::new("content/s/news/a/p.png"));
        assert_eq!(l.resolve("/logo.svg").unwrap(), Path::new("assets/logo.svg"));
        assert!(l.resolve("../../../../../etc/passwd.png").unwrap_err().contains("climbs out"));
        assert!(l.resolve("../../../../etc/passwd.png").unwrap_err().contains("outside"));
        assert!(l.resolve("../../../other/x.png").unwrap_err().contains("outside"));
        assert!(l.resolve("/../../etc/x.png").unwrap_err().contains("climbs out"));
        assert!(l.resolve("missing.png").unwrap_err().contains("looked in content/s/news/a/missing.png"));
        assert!(l.resolve("notes.txt").unwrap_err().contains("not a supported image"));
    }

    #[test]
    fn sharded_layout() {
        let h = [0xab; 32];
        assert!(sharded_path(&h, "png").starts_with("images/ab/ab/abab"));
    }
}
