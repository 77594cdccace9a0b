//! `gen check`: after a build, every link, image and `#anchor` an article
//! writes is resolved against what the build published (and anything else in
//! the output folder). What points nowhere is reported with the article and
//! line it comes from. Links to another configured site are checked against
//! that site; links anywhere else are external and only listed, never fetched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use rayon::prelude::*;
use regex::Regex;

use crate::images::percent_decode;
use crate::parse::{self, Reference};

/// One site as the checker sees it.
#[derive(Debug, Clone)]
pub struct SiteLinks {
    pub site: String,
    pub base_url: url::Url,
    pub out_dir: PathBuf,
    /// Site-relative paths of every file the build published.
    pub files: BTreeSet<String>,
    /// Redirect sources (site-relative, starting with `/`) → targets.
    pub redirects: BTreeMap<String, String>,
    /// Every redirect of a site that was built, to check where it leads.
    pub rules: Vec<RedirectLink>,
    /// The articles checked (none for a site that was not built).
    pub pages: Vec<PageLinks>,
}

/// The links of one article.
/// A redirect and where it was written.
#[derive(Debug, Clone)]
pub struct RedirectLink {
    pub from: String,
    /// Site-relative (`/x/`), or an absolute URL.
    pub to: String,
    pub file: PathBuf,
    pub line: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct PageLinks {
    /// The source, from the repository root.
    pub file: PathBuf,
    /// The page's site-relative folder, e.g. `news/a/`.
    pub path: String,
    pub refs: Vec<Reference>,
    /// Lines of raw HTML shown as text (the site escapes raw HTML).
    pub escaped_html: Vec<usize>,
}

impl PageLinks {
    /// Reads an article's source for its links (raw HTML ones too when the
    /// site renders raw HTML).
    pub fn read(root: &Path, file: &Path, path: &str, unsafe_html: bool) -> std::io::Result<PageLinks> {
        let text = std::fs::read_to_string(root.join(file))?;
        let (refs, escaped_html) = match parse::split(&text) {
            Ok(split) => parse::references(split.body, split.body_line, unsafe_html),
            // The build parsed it already; a file changed since has nothing to check.
            Err(_) => (vec![], vec![]),
        };
        Ok(PageLinks { file: file.to_path_buf(), path: path.to_string(), refs, escaped_html })
    }
}

/// A link that points nowhere, or an external one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub file: PathBuf,
    pub line: usize,
    pub url: String,
    pub problem: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        // (0: a redirect of an archive rule, which has no line of its own.)
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.url.is_empty() {
            write!(f, ": `{}`", self.url)?;
        }
        if !self.problem.is_empty() {
            write!(f, ": {}", self.problem)?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct CheckReport {
    /// Links and images looked at (external ones included).
    pub checked: usize,
    pub broken: Vec<Finding>,
    pub external: Vec<Finding>,
    /// Raw HTML shown as text: warnings, not broken links.
    pub escaped_html: Vec<Finding>,
}

/// Where a link leads.
enum Target<'s> {
    /// A site and a site-relative path (percent-decoded), with its fragment.
    Site {
        site: &'s SiteLinks,
        path: String,
        fragment: Option<String>,
    },
    External,
    /// Not a web link (`mailto:`, `tel:`, …): nothing to check.
    Ignored,
    Broken(String),
}

pub fn check(sites: &[SiteLinks]) -> CheckReport {
    let checker = Checker { sites, ids: Default::default() };
    let mut report = CheckReport::default();
    let per_page: Vec<(usize, Vec<Finding>, Vec<Finding>)> = sites
        .par_iter()
        .flat_map(|s| s.pages.par_iter().map(move |p| (s, p)))
        .map(|(site, page)| {
            let (mut broken, mut external, mut checked) = (vec![], vec![], 0);
            for r in &page.refs {
                let finding = |problem: String| Finding { file: page.file.clone(), line: r.line, url: r.url.clone(), problem };
                // Local images are resolved (or refused) by the build itself.
                if r.image && !has_scheme(&r.url) && !r.url.starts_with("//") {
                    continue;
                }
                match checker.resolve(site, &page.path, &r.url) {
                    Target::Ignored => continue,
                    Target::External => external.push(finding(String::new())),
                    Target::Broken(why) => broken.push(finding(why)),
                    Target::Site { site, path, fragment } => {
                        if let Err(why) = checker.exists(site, &path, fragment.as_deref()) {
                            let moved = checker.moved(site, &page.path, &r.url, &path, fragment.as_deref());
                            broken.push(finding(why + &moved.unwrap_or_default()));
                        }
                    }
                }
                checked += 1;
            }
            (checked, broken, external)
        })
        .collect();
    for (checked, broken, external) in per_page {
        report.checked += checked;
        report.broken.extend(broken);
        report.external.extend(external);
    }
    // A redirect to a page that is not there is a broken old URL.
    let redirects: Vec<Finding> = sites
        .par_iter()
        .flat_map(|s| s.rules.par_iter().map(move |r| (s, r)))
        .filter_map(|(site, r)| {
            let why = if has_scheme(&r.to) {
                match checker.resolve(site, "", &r.to) {
                    Target::Site { site: owner, path, fragment } => checker.exists(owner, &path, fragment.as_deref()).err()?,
                    Target::Broken(why) => why,
                    Target::External | Target::Ignored => return None,
                }
            } else {
                let (path, fragment) = r.to.split_once('#').map_or((r.to.as_str(), None), |(p, f)| (p, Some(f)));
                let path = percent_decode(path.split('?').next().unwrap_or(path).trim_start_matches('/'));
                checker.exists(site, &path, fragment.filter(|f| !f.is_empty())).err()?
            };
            let problem = format!("the redirect from {} leads nowhere: {why}", r.from);
            Some(Finding { file: r.file.clone(), line: r.line.unwrap_or(0), url: r.to.clone(), problem })
        })
        .collect();
    report.broken.extend(redirects);
    for page in sites.iter().flat_map(|s| &s.pages) {
        report.escaped_html.extend(page.escaped_html.iter().map(|&line| Finding {
            file: page.file.clone(),
            line,
            url: String::new(),
            problem: ESCAPED_HTML.to_string(),
        }));
    }
    report.escaped_html.sort();
    report.broken.sort();
    report.external.sort();
    report
}

/// What a writer is told about raw HTML on a site that escapes it.
pub const ESCAPED_HTML: &str = "raw HTML is shown to readers as text: this site escapes raw HTML (set `unsafe_html = true` to publish it, or write a YouTube, Vimeo or X URL on its own line to embed)";

struct Checker<'s> {
    sites: &'s [SiteLinks],
    /// The ids of each HTML file looked into, by its full path.
    ids: std::sync::Mutex<HashMap<PathBuf, std::sync::Arc<BTreeSet<String>>>>,
}

impl<'s> Checker<'s> {
    fn resolve(&self, site: &'s SiteLinks, page: &str, url: &str) -> Target<'s> {
        let url = url.trim();
        if url.is_empty() {
            return Target::Ignored;
        }
        if has_scheme(url) && !(url.starts_with("http:") || url.starts_with("https:")) {
            return Target::Ignored;
        }
        let Ok(page_url) = site.base_url.join(page) else {
            return Target::Broken("the page's own URL is not valid".into());
        };
        let Ok(abs) = page_url.join(url) else {
            return Target::Broken("not a valid URL".into());
        };
        let same_host = |u: &url::Url| u.scheme() == abs.scheme() && u.host_str() == abs.host_str() && u.port() == abs.port();
        // The configured site with the longest base path that holds the URL.
        let owner = self
            .sites
            .iter()
            .filter(|s| same_host(&s.base_url) && abs.path().starts_with(s.base_url.path()))
            .max_by_key(|s| s.base_url.path().len());
        let Some(owner) = owner else {
            let ours = !has_scheme(url) && !url.starts_with("//") || self.sites.iter().any(|s| same_host(&s.base_url));
            return if ours { Target::Broken("points outside every configured site".into()) } else { Target::External };
        };
        let path = percent_decode(&abs.path()[owner.base_url.path().len()..]);
        let fragment = abs.fragment().filter(|f| !f.is_empty()).map(percent_decode);
        Target::Site { site: owner, path, fragment }
    }

    /// For a broken relative link from a page under a folder of its own
    /// (a year archive: `/2023backup/economy/x/`), the link that was meant
    /// when it resolves once that folder is left out: the article moved
    /// into the archive and its `../y/` went with it.
    fn moved(&self, site: &SiteLinks, page: &str, url: &str, path: &str, fragment: Option<&str>) -> Option<String> {
        if url.starts_with(['/', '#']) || has_scheme(url) {
            return None;
        }
        let (first, _) = page.split_once('/')?;
        let meant = path.strip_prefix(first)?.strip_prefix('/')?;
        self.exists(site, meant, fragment).ok()?;
        let anchor = fragment.map(|f| format!("#{f}")).unwrap_or_default();
        let base = site.base_url.path();
        Some(format!(
            "; this page is published under {base}{first}/ and a relative link resolves from there: link {base}{meant}{anchor} instead"
        ))
    }

    /// `Ok` when `path` (and `#fragment`) exists in `site`'s output.
    fn exists(&self, site: &SiteLinks, path: &str, fragment: Option<&str>) -> Result<(), String> {
        if path.split('/').any(|seg| seg == "..") {
            return Err("leaves the site's folder".into());
        }
        let candidates: Vec<String> = if path.is_empty() || path.ends_with('/') {
            vec![format!("{path}index.html")]
        } else {
            vec![path.to_string(), format!("{path}/index.html")]
        };
        let found = candidates.iter().find(|c| site.files.contains(c.as_str()) || site.out_dir.join(c).is_file());
        let Some(file) = found else {
            let key = format!("/{path}");
            let alt = key.strip_suffix('/').map(String::from).unwrap_or_else(|| format!("{key}/"));
            if let Some(to) = site.redirects.get(&key).or(site.redirects.get(&alt)) {
                // Redirects are collapsed at build time: one hop is the whole chain.
                if has_scheme(to) {
                    return Ok(());
                }
                let to_path = to.trim_start_matches('/');
                return self
                    .exists(site, to_path.split('#').next().unwrap_or(""), fragment)
                    .map_err(|why| format!("redirects to {to}, which {why}"));
            }
            return Err(format!("no page or file at {}{path}", site.base_url.path()));
        };
        let Some(id) = fragment.filter(|f| *f != "top") else { return Ok(()) };
        if !file.ends_with(".html") {
            return Ok(());
        }
        let full = site.out_dir.join(file);
        let ids = self.ids_of(&full);
        if ids.contains(id) {
            Ok(())
        } else {
            Err(format!("no element with id \"{id}\" on {}{}", site.base_url.path(), candidates[0].trim_end_matches("index.html")))
        }
    }

    fn ids_of(&self, file: &Path) -> std::sync::Arc<BTreeSet<String>> {
        if let Some(ids) = self.ids.lock().expect("no panics while held").get(file) {
            return ids.clone();
        }
        let html = std::fs::read_to_string(file).unwrap_or_default();
        let ids = std::sync::Arc::new(html_ids(&html));
        self.ids.lock().expect("no panics while held").insert(file.to_path_buf(), ids.clone());
        ids
    }
}

/// Every `id` (and `<a name>`) in an HTML document, quoted or not (the
/// minifier drops quotes where it can).
fn html_ids(html: &str) -> BTreeSet<String> {
    static ID: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?i)[\s"'](?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#).expect("valid regex"));
    ID.captures_iter(html)
        .filter_map(|c| c.get(1).or(c.get(2)).or(c.get(3)))
        .map(|m| m.as_str().replace("&amp;", "&").replace("&quot;", "\""))
        .collect()
}

fn has_scheme(url: &str) -> bool {
    let Some((scheme, _)) = url.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(name: &str, base: &str, files: &[&str]) -> SiteLinks {
        SiteLinks {
            site: name.into(),
            base_url: url::Url::parse(base).unwrap(),
            out_dir: PathBuf::from("/nonexistent").join(name),
            files: files.iter().map(|f| f.to_string()).collect(),
            redirects: BTreeMap::new(),
            rules: vec![],
            pages: vec![],
        }
    }

    fn refs(urls: &[&str]) -> Vec<Reference> {
        urls.iter().enumerate().map(|(i, u)| Reference { url: u.to_string(), line: i + 1, image: false }).collect()
    }

    #[test]
    fn resolves_relative_root_relative_absolute_and_cross_site_links() {
        let mut blog = site("blog", "https://example.com/blog/", &["index.html", "a/index.html", "b/index.html", "files/x.pdf"]);
        let root = site("main", "https://example.com/", &["index.html", "about/index.html"]);
        blog.redirects.insert("/old/".into(), "/b/".into());
        blog.pages.push(PageLinks {
            file: "content/blog/a.md".into(),
            path: "a/".into(),
            refs: refs(&[
                "../b/",                        // ok
                "/blog/b",                      // ok: folder without slash
                "https://example.com/blog/a/",  // ok: absolute, own site
                "/about/",                      // ok: the other site on the host
                "https://example.com/missing/", // broken: the other site has no such page
                "../files/x.pdf",               // ok
                "/blog/nope/",                  // broken
                "/blog/old/",                   // ok: redirected
                "mailto:x@example.com",         // ignored
                "https://elsewhere.org/x",      // external
                "//cdn.elsewhere.org/y.js",     // external
                "",                             // ignored
            ]),
            escaped_html: vec![],
        });
        let r = check(&[blog, root]);
        let broken: Vec<(usize, &str)> = r.broken.iter().map(|f| (f.line, f.problem.as_str())).collect();
        assert_eq!(broken.iter().map(|b| b.0).collect::<Vec<_>>(), [5, 7], "{broken:?}");
        assert!(broken[1].1.contains("no page or file at /blog/nope/"), "{broken:?}");
        assert_eq!(r.external.iter().map(|f| f.line).collect::<Vec<_>>(), [10, 11]);
        assert_eq!(r.checked, 10);
    }

    #[test]
    fn ids_are_found_quoted_or_not() {
        let ids = html_ids(r#"<h2 id=intro>x</h2><h2 id="둘째-절">y</h2><a name='old'></a><sup class=fn id=fnref-1>"#);
        assert!(["intro", "둘째-절", "old", "fnref-1"].iter().all(|i| ids.contains(*i)), "{ids:?}");
    }

    /// Found by a new user: an article moved into a year archive kept its
    /// `../other/` links, which then pointed into the archive.
    #[test]
    fn a_relative_link_of_an_article_moved_into_an_archive_names_the_link_meant() {
        let mut blog = site("blog", "https://example.com/blog/", &["2023backup/a/index.html", "b/index.html", "2023backup/c/index.html"]);
        blog.pages.push(PageLinks {
            file: "content/blog/a.md".into(),
            path: "2023backup/a/".into(),
            refs: refs(&["../b/", "../c/", "../nope/", "/blog/2023backup/nope/"]),
            escaped_html: vec![],
        });
        let r = check(&[blog]);
        let broken: Vec<(usize, &str)> = r.broken.iter().map(|f| (f.line, f.problem.as_str())).collect();
        assert_eq!(broken.iter().map(|b| b.0).collect::<Vec<_>>(), [1, 3, 4], "{broken:?}");
        assert_eq!(
            broken[0].1,
            "no page or file at /blog/2023backup/b/; this page is published under /blog/2023backup/ and a relative link resolves from there: link /blog/b/ instead"
        );
        assert!(!broken[1].1.contains("instead") && !broken[2].1.contains("instead"), "{broken:?}");
    }
}
