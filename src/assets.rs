//! Assets published to every site: `themes/<theme>/static/`, the repo's
//! `assets/` and the site's `content/<site>/assets/` (later layers win for
//! the same path). CSS, JavaScript and fonts get fingerprinted names
//! (`style.<hash>.css`) so a CDN may cache them forever; templates find them
//! with `asset_url(path="style.css")`. `url(...)` references inside CSS are
//! rewritten to the fingerprinted names, so the stylesheet's own fingerprint
//! changes when a font it uses changes.
//!
//! Images in `assets/` are not copied wholesale: an article that references
//! one publishes it under `images/` (see `images.rs`), so a 50 GB image
//! folder costs nothing until it is used.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::diag::{Diagnostic, Diagnostics};
use crate::discover::{self, Hash, Source};
use crate::images;

/// Extensions published under a fingerprinted name.
const FINGERPRINTED: [&str; 8] = ["css", "js", "mjs", "woff", "woff2", "ttf", "otf", "eot"];

/// One published asset.
#[derive(Debug, Clone)]
pub struct Asset {
    /// The path templates ask for, e.g. `style.css` or `fonts/a.woff2`.
    pub logical: String,
    /// Site-relative output path, e.g. `style.1a2b3c4d5e6f7a8b.css`.
    pub published: String,
    /// Repo-relative source, for messages.
    pub source: String,
    /// What is published.
    pub bytes: Vec<u8>,
    pub hash: Hash,
}

impl Asset {
    pub fn is_fingerprinted(&self) -> bool {
        self.logical != self.published
    }
}

/// The assets of one site.
#[derive(Debug, Default)]
pub struct Assets {
    pub files: Vec<Asset>,
    /// Logical path → index in `files`.
    by_logical: HashMap<String, usize>,
    /// Hash of every (logical, published) pair: part of every page's input
    /// hash, since any template may call `asset_url`.
    pub hash: Hash,
}

/// The publishable files of an `assets/` folder: everything but images.
pub fn walk_assets_dir(dir: &Path, root: &Path) -> Result<Vec<Source>, Diagnostics> {
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    discover::walk_matching(dir, root, |rel| !is_image(rel))
}

/// The names of the images in a site's `assets/` folder (not their bytes:
/// the catalog stats the ones articles use). A new one can shadow an image
/// of the shared `assets/` at the same path, so the list is part of the
/// site's settings. The shared folder is not walked: it may hold the whole
/// photo library.
pub fn image_names(dir: &Path, root: &Path) -> Result<Vec<String>, Diagnostics> {
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    Ok(discover::walk_matching(dir, root, is_image)?.into_iter().map(|s| s.rel).collect())
}

fn is_image(rel: &str) -> bool {
    let ext = rel.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    images::EXTENSIONS.contains(&ext.as_str())
}

static CSS_URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"url\(\s*(?:"([^"]*)"|'([^']*)'|([^'")\s]+))\s*\)"#).expect("valid regex"));

impl Assets {
    /// Reads and fingerprints the layers, lowest first.
    pub fn build(layers: &[&[Source]], root: &Path) -> Result<Assets, Diagnostics> {
        let mut chosen: BTreeMap<&str, &Source> = BTreeMap::new();
        for layer in layers {
            for src in *layer {
                chosen.insert(&src.rel, src);
            }
        }
        let mut diags = Diagnostics::default();
        let mut read: Vec<(&str, &Source, Vec<u8>)> = Vec::new();
        for (logical, src) in chosen {
            match std::fs::read(&src.path) {
                Ok(bytes) => read.push((logical, src, bytes)),
                Err(e) => diags.push(Diagnostic::new(discover::rel_display(&src.path, root), None, format!("cannot read asset: {e}"))),
            }
        }
        // Everything but CSS first, so stylesheets can point at final names.
        read.sort_by_key(|(logical, _, _)| (logical.ends_with(".css"), *logical));
        let mut assets = Assets::default();
        for (logical, src, bytes) in read {
            let bytes = if logical.ends_with(".css") { assets.rewrite_css(logical, bytes) } else { bytes };
            let hash = discover::hash_bytes(&bytes);
            let published = fingerprinted_name(logical, &hash);
            assets.by_logical.insert(logical.to_string(), assets.files.len());
            assets.files.push(Asset {
                logical: logical.to_string(),
                published,
                source: discover::rel_display(&src.path, root).display().to_string(),
                bytes,
                hash,
            });
        }
        let mut h = blake3::Hasher::new();
        for a in &assets.files {
            h.update(a.logical.as_bytes());
            h.update(&[0]);
            h.update(a.published.as_bytes());
            h.update(&[0]);
        }
        assets.hash = *h.finalize().as_bytes();
        diags.into_result(assets)
    }

    /// The published path of a logical asset path (a leading `/` is ignored).
    pub fn published(&self, logical: &str) -> Option<&str> {
        self.by_logical.get(logical.trim_start_matches('/')).map(|&i| self.files[i].published.as_str())
    }

    /// Points `url(...)` references of a stylesheet at fingerprinted names.
    fn rewrite_css(&self, logical: &str, bytes: Vec<u8>) -> Vec<u8> {
        let Ok(text) = String::from_utf8(bytes.clone()) else { return bytes };
        let dir = logical.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let out = CSS_URL.replace_all(&text, |cap: &regex::Captures| {
            let whole = cap[0].to_string();
            let url = cap.get(1).or(cap.get(2)).or(cap.get(3)).map(|m| m.as_str()).unwrap_or("");
            if images::is_external(url) || url.is_empty() {
                return whole;
            }
            let (path, suffix) = url.find(['?', '#']).map(|i| url.split_at(i)).unwrap_or((url, ""));
            let target = if let Some(rooted) = path.strip_prefix('/') { rooted.to_string() } else { join(dir, path) };
            match self.published(&target).filter(|p| *p != target) {
                // Only the file name changes, so the relative path stays valid.
                Some(published) => {
                    let new_name = published.rsplit('/').next().unwrap_or(published);
                    let prefix = path.rsplit_once('/').map(|(d, _)| format!("{d}/")).unwrap_or_default();
                    format!("url(\"{prefix}{new_name}{suffix}\")")
                }
                None => whole,
            }
        });
        out.into_owned().into_bytes()
    }
}

/// `dir` + relative `path`, with `.` and `..` resolved (never above the root).
fn join(dir: &str, path: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// `css/site.css` → `css/site.<16 hex>.css` for fingerprinted types.
fn fingerprinted_name(logical: &str, hash: &Hash) -> String {
    let Some((stem, ext)) = logical.rsplit_once('.').filter(|(stem, _)| !stem.ends_with('/') && !stem.is_empty()) else {
        return logical.to_string();
    };
    if !FINGERPRINTED.contains(&ext.to_ascii_lowercase().as_str()) {
        return logical.to_string();
    }
    format!("{stem}.{}.{ext}", &discover::hex(hash)[..16])
}

/// `asset_url(path="style.css")` for templates: the asset's root-relative URL.
pub struct AssetUrl {
    /// Logical path → URL with the site's base path.
    pub urls: BTreeMap<String, String>,
}

impl tera::Function for AssetUrl {
    fn call(&self, args: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        let path =
            args.get("path").and_then(|p| p.as_str()).ok_or("asset_url needs a `path` argument, e.g. asset_url(path=\"style.css\")")?;
        self.urls.get(path.trim_start_matches('/')).map(|u| tera::Value::String(u.clone())).ok_or_else(|| {
            format!(
                "asset_url: no asset `{path}` (assets come from themes/<theme>/static/, assets/ and content/<site>/assets/; \
                 images there are published only when an article uses them)"
            )
            .into()
        })
    }

    fn is_safe(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, rel: &str, bytes: &[u8]) -> Source {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        Source { rel: rel.into(), stamp: discover::Stamp::of(&std::fs::metadata(&path).unwrap()), path }
    }

    #[test]
    fn fingerprints_css_js_fonts_and_rewrites_css_urls() {
        let dir = tempfile::tempdir().unwrap();
        let theme = vec![
            source(
                dir.path(),
                "t/style.css",
                b"@font-face{src:url('fonts/a.woff2?v=1')} .x{background:url(/logo.svg)} .y{background:url(https://cdn/x.png)}",
            ),
            source(dir.path(), "t/fonts/a.woff2", b"font"),
            source(dir.path(), "t/logo.svg", b"<svg/>"),
        ];
        let theme: Vec<Source> = theme
            .into_iter()
            .map(|mut s| {
                s.rel = s.rel.trim_start_matches("t/").to_string();
                s
            })
            .collect();
        let repo = vec![source(dir.path(), "a/app.js", b"js")];
        let repo: Vec<Source> = repo
            .into_iter()
            .map(|mut s| {
                s.rel = "app.js".into();
                s
            })
            .collect();
        let assets = Assets::build(&[&theme, &repo], dir.path()).unwrap();
        let font = assets.published("fonts/a.woff2").unwrap();
        assert!(font.starts_with("fonts/a.") && font.ends_with(".woff2") && font.len() == "fonts/a..woff2".len() + 16, "{font}");
        assert_eq!(assets.published("/logo.svg"), Some("logo.svg"), "other files keep their names");
        assert!(assets.published("app.js").unwrap().starts_with("app."));
        let css = assets.files.iter().find(|a| a.logical == "style.css").unwrap();
        let text = String::from_utf8(css.bytes.clone()).unwrap();
        let font_name = font.trim_start_matches("fonts/");
        assert!(text.contains(&format!("url(\"fonts/{font_name}?v=1\")")), "{text}");
        assert!(text.contains("url(/logo.svg)") && text.contains("url(https://cdn/x.png)"), "{text}");

        // A changed font changes the stylesheet's name too.
        std::fs::write(dir.path().join("t/fonts/a.woff2"), b"font 2").unwrap();
        let again = Assets::build(&[&theme, &repo], dir.path()).unwrap();
        assert_ne!(again.published("style.css"), assets.published("style.css"));
        assert_ne!(again.hash, assets.hash);
    }

    #[test]
    fn names_without_a_stem_are_left_alone() {
        assert_eq!(fingerprinted_name(".css", &[0; 32]), ".css");
        assert_eq!(fingerprinted_name("notes.txt", &[0; 32]), "notes.txt");
        assert_eq!(fingerprinted_name("js/a.js", &[0; 32]), "js/a.0000000000000000.js");
        assert_eq!(join("css/deep", "../fonts/a.woff"), "css/fonts/a.woff");
    }
}
