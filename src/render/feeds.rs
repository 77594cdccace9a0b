//! Outputs for machines rather than readers: RSS and Atom feeds, the sitemap
//! (split into a sitemap index past `sitemap_max_urls`), the Google News
//! sitemap, robots.txt and an article's JSON-LD.

use serde::Serialize;
use serde_json::json;

use super::{Make, Output, Renderer};
use crate::images::ImageView;
use crate::model::Article;

/// How far back the news sitemap reaches (Google News: two days).
pub const NEWS_WINDOW_HOURS: i64 = 48;
/// Google News reads at most this many URLs per news sitemap.
const NEWS_MAX_URLS: usize = 1000;

/// A feed entry: what the XML is made of.
#[derive(Serialize)]
pub(super) struct FeedItem<'a> {
    title: &'a str,
    permalink: &'a str,
    date: &'a str,
    updated: &'a str,
    summary: &'a str,
    authors: Vec<&'a str>,
    categories: Vec<&'a str>,
    image: Option<&'a ImageView>,
    /// The whole body as HTML, with absolute links (`feed_content = "full"`).
    content: Option<String>,
}

/// One `<url>` of the sitemap.
#[derive(Serialize)]
pub(super) struct SitemapEntry {
    loc: String,
    lastmod: Option<String>,
}

/// Everything a feed is made of; also its input hash.
#[derive(Serialize)]
pub(super) struct Feed<'a> {
    title: &'a str,
    description: &'a str,
    language: &'a str,
    base_url: &'a str,
    rss_url: String,
    atom_url: String,
    /// The newest date of any live article (not only the listed ones).
    updated: String,
    items: Vec<FeedItem<'a>>,
}

impl Renderer<'_> {
    /// The feed of the live site's articles.
    pub(super) fn feed(&self) -> Feed<'_> {
        let s = self.site;
        let live = || self.model.parts[0].all.iter().map(|&i| &self.model.articles[i]);
        let items = live()
            .take(s.feed_limit)
            .map(|a| {
                let v = &a.view;
                let mut categories: Vec<&str> = Vec::new();
                // A term that is both a category and a tag is listed once.
                for t in v.categories.iter().chain(&v.tags) {
                    if !categories.contains(&t.name.as_str()) {
                        categories.push(&t.name);
                    }
                }
                FeedItem {
                    title: &v.title,
                    permalink: &v.permalink,
                    date: &v.date,
                    updated: v.updated.as_deref().unwrap_or(&v.date),
                    summary: &v.summary,
                    authors: v.authors.iter().map(|a| a.author.name.as_str()).collect(),
                    categories,
                    image: v.image.as_ref(),
                    content: s.feed_full.then(|| self.feed_body(a)),
                }
            })
            .collect();
        let updated = live()
            .map(|a| a.meta.updated.unwrap_or(a.meta.date).max(a.meta.date))
            .max()
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| "1970-01-01T00:00:00+00:00".into());
        Feed {
            title: &s.title,
            description: &s.description,
            language: &s.language,
            base_url: &s.base_url,
            rss_url: s.permalink_for("feed.xml"),
            atom_url: s.permalink_for("atom.xml"),
            updated,
            items,
        }
    }

    /// An article's body for a feed: feed readers resolve root-relative
    /// links badly, so links and images point at absolute URLs. (A body
    /// that does not render is reported by the article's own render.)
    fn feed_body(&self, a: &Article) -> String {
        let html = self.article_body(a, &mut Vec::new(), &mut None).map(|b| b.html).unwrap_or_default();
        let origin = url::Url::parse(&self.site.base_url).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
        html.replace("src=\"/", &format!("src=\"{origin}/")).replace("href=\"/", &format!("href=\"{origin}/"))
    }

    /// The `k`-th sitemap file's entries (the only one when there is no index).
    pub(super) fn sitemap_part(&self, k: usize) -> &[SitemapEntry] {
        self.sitemap.get().map(Vec::as_slice).unwrap_or_default().chunks(self.site.sitemap_max_urls).nth(k).unwrap_or_default()
    }

    /// `sitemap.xml` as an index of `parts` sitemap files.
    pub(super) fn sitemap_index(&self, parts: usize) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        for k in 0..parts {
            out += &format!("<sitemap><loc>{}</loc>", x(&self.site.permalink_for(&sitemap_part_path(k))));
            if let Some(l) = self.sitemap_part(k).iter().filter_map(|e| e.lastmod.as_deref()).max_by_key(|d| chrono_key(d)) {
                out += &format!("<lastmod>{l}</lastmod>");
            }
            out += "</sitemap>\n";
        }
        out += "</sitemapindex>\n";
        out
    }

    /// Live articles published in the 48 hours before the build's clock,
    /// newest first (the model's order).
    fn news_articles(&self) -> impl Iterator<Item = &Article> {
        let since = self.now - chrono::Duration::hours(NEWS_WINDOW_HOURS);
        self.model.parts[0]
            .all
            .iter()
            .map(|&i| &*self.model.articles[i])
            .filter(move |a| a.meta.date >= since && a.meta.date <= self.now)
            .take(NEWS_MAX_URLS)
    }

    /// Whether `news-sitemap.xml` is written: only with articles to list, as
    /// the sitemap schema requires at least one `<url>`.
    pub(super) fn has_news_sitemap(&self) -> bool {
        self.site.news_sitemap && self.news_articles().next().is_some()
    }

    /// `news-sitemap.xml` (Google News).
    pub(super) fn news_sitemap(&self) -> String {
        let s = self.site;
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" \
             xmlns:news=\"http://www.google.com/schemas/sitemap-news/0.9\">\n",
        );
        let language = s.language.to_ascii_lowercase();
        for a in self.news_articles() {
            out += &format!(
                "<url><loc>{}</loc><news:news><news:publication><news:name>{}</news:name><news:language>{}</news:language></news:publication>\
                 <news:publication_date>{}</news:publication_date><news:title>{}</news:title></news:news></url>\n",
                x(&a.view.permalink),
                x(&s.title),
                x(&language),
                a.meta.date.to_rfc3339(),
                x(&a.view.title)
            );
        }
        out += "</urlset>\n";
        out
    }

    pub(super) fn robots(&self) -> String {
        let mut out = format!("User-agent: *\nAllow: /\n\nSitemap: {}\n", self.site.permalink_for("sitemap.xml"));
        if self.has_news_sitemap() {
            out += &format!("Sitemap: {}\n", self.site.permalink_for("news-sitemap.xml"));
        }
        out
    }

    /// The article's schema.org JSON-LD, safe to put inside `<script>`.
    /// `og_image`: the image for pages without a cover (the first body
    /// image, or the site's `default_image`).
    pub(super) fn json_ld(&self, a: &Article, og_image: Option<&str>) -> String {
        let (s, v) = (self.site, &a.view);
        let absolute = |url: &str| s.permalink_for(url.strip_prefix(s.base_path.as_str()).unwrap_or(url));
        let authors: Vec<_> = v
            .authors
            .iter()
            .map(|au| {
                let mut p = json!({"@type": "Person", "name": au.author.name, "url": absolute(&au.url)});
                if !au.author.position.is_empty() {
                    p["jobTitle"] = json!(au.author.position);
                }
                p
            })
            .collect();
        let mut ld = json!({
            "@context": "https://schema.org",
            // A page (`kind: page`) is not an article of the site's kind.
            "@type": if v.kind == crate::parse::Kind::Page { "WebPage" } else { s.schema_type.as_str() },
            "headline": headline(&v.title),
            "description": v.summary,
            "datePublished": v.date,
            "dateModified": v.updated.as_deref().unwrap_or(&v.date),
            "inLanguage": s.language,
            "url": v.permalink,
            "mainEntityOfPage": {"@type": "WebPage", "@id": v.permalink},
            "author": authors,
            "publisher": {"@type": "Organization", "name": s.title, "url": s.base_url},
        });
        if let Some(img) = &v.image {
            let mut image = json!({"@type": "ImageObject", "url": img.permalink});
            if let (Some(w), Some(h)) = (img.width, img.height) {
                image["width"] = json!(w);
                image["height"] = json!(h);
            }
            ld["image"] = json!([image]);
        } else if let Some(url) = og_image {
            ld["image"] = json!([{"@type": "ImageObject", "url": url}]);
        }
        if !v.section.is_empty() {
            ld["articleSection"] = json!(v.section);
        }
        if !v.tags.is_empty() {
            ld["keywords"] = json!(v.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>());
        }
        // `</script>` inside a string must not end the element.
        serde_json::to_string(&ld).expect("JSON values serialize").replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
    }
}

/// RSS 2.0, from the feed value alone.
pub(super) fn rss(f: &Feed) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n<channel>\n",
    );
    out += &format!(
        "<title>{}</title>\n<link>{}</link>\n<description>{}</description>\n<language>{}</language>\n",
        x(f.title),
        x(f.base_url),
        x(f.description),
        x(f.language)
    );
    out += &format!("<atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>\n", x(&f.rss_url));
    out += &format!("<lastBuildDate>{}</lastBuildDate>\n", rfc2822(&f.updated));
    for item in &f.items {
        out += &format!(
            "<item>\n<title>{}</title>\n<link>{}</link>\n<guid isPermaLink=\"true\">{}</guid>\n<pubDate>{}</pubDate>\n<description>{}</description>\n",
            x(item.title),
            x(item.permalink),
            x(item.permalink),
            rfc2822(item.date),
            x(item.summary)
        );
        if let Some(content) = &item.content {
            out += &format!("<content:encoded>{}</content:encoded>\n", x(content));
        }
        for a in &item.authors {
            out += &format!("<dc:creator xmlns:dc=\"http://purl.org/dc/elements/1.1/\">{}</dc:creator>\n", x(a));
        }
        for c in &item.categories {
            out += &format!("<category>{}</category>\n", x(c));
        }
        if let Some(img) = item.image {
            out += &format!("<enclosure url=\"{}\" length=\"{}\" type=\"{}\"/>\n", x(&img.permalink), img.size, x(img.mime));
        }
        out += "</item>\n";
    }
    out += "</channel>\n</rss>\n";
    out
}

/// Atom, from the feed value alone.
pub(super) fn atom(f: &Feed) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out += &format!("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">\n", x(f.language));
    out += &format!("<title>{}</title>\n<subtitle>{}</subtitle>\n", x(f.title), x(f.description));
    out += &format!("<link href=\"{}\" rel=\"self\" type=\"application/atom+xml\"/>\n<link href=\"{}\"/>\n", x(&f.atom_url), x(f.base_url));
    out += &format!("<id>{}</id>\n<updated>{}</updated>\n", x(f.base_url), f.updated);
    for item in &f.items {
        out += &format!(
            "<entry>\n<title>{}</title>\n<link href=\"{}\"/>\n<id>{}</id>\n<published>{}</published>\n<updated>{}</updated>\n<summary>{}</summary>\n",
            x(item.title),
            x(item.permalink),
            x(item.permalink),
            item.date,
            item.updated,
            x(item.summary)
        );
        if let Some(content) = &item.content {
            out += &format!("<content type=\"html\">{}</content>\n", x(content));
        }
        for a in &item.authors {
            out += &format!("<author><name>{}</name></author>\n", x(a));
        }
        for c in &item.categories {
            out += &format!("<category term=\"{}\"/>\n", x(c));
        }
        if let Some(img) = item.image {
            // `length` is optional in Atom: left out where unknown (variants).
            let length = if img.size > 0 { format!(" length=\"{}\"", img.size) } else { String::new() };
            out += &format!("<link rel=\"enclosure\" href=\"{}\"{length} type=\"{}\"/>\n", x(&img.permalink), x(img.mime));
        }
        out += "</entry>\n";
    }
    out += "</feed>\n";
    out
}

/// Every HTML page a search engine should index among `pages` (articles,
/// lists and taxonomies; not 404, not the search page), with article dates
/// as `lastmod`.
pub(super) fn sitemap_entries(r: &Renderer, pages: &[Output]) -> Vec<SitemapEntry> {
    let mut entries = Vec::new();
    for o in pages {
        let lastmod = match &o.make {
            Make::Article(i) => {
                let m = &r.model.articles[*i].meta;
                Some(m.updated.unwrap_or(m.date).to_rfc3339())
            }
            Make::Page(_, super::PageCtx::List(_) | super::PageCtx::Taxonomy { .. }) => None,
            _ => continue,
        };
        let dir = o.path.strip_suffix("index.html").unwrap_or(&o.path);
        entries.push(SitemapEntry { loc: r.site.permalink_for(dir), lastmod });
    }
    entries
}

/// `sitemap.xml`, or `sitemap-<k+1>.xml` behind an index.
pub(super) fn sitemap(entries: &[SitemapEntry]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for e in entries {
        out += &format!("<url><loc>{}</loc>", x(&e.loc));
        if let Some(l) = &e.lastmod {
            out += &format!("<lastmod>{l}</lastmod>");
        }
        out += "</url>\n";
    }
    out += "</urlset>\n";
    out
}

/// Google shows at most 110 characters of a headline.
fn headline(title: &str) -> String {
    match title.char_indices().nth(110) {
        Some((cut, _)) => format!("{}…", &title[..title[..cut].char_indices().nth_back(0).map(|(i, _)| i).unwrap_or(cut)]),
        None => title.to_string(),
    }
}

/// Where the `k`-th sitemap file goes behind an index.
pub(super) fn sitemap_part_path(k: usize) -> String {
    format!("sitemap-{}.xml", k + 1)
}

/// RFC 3339 dates with different offsets compare by instant.
fn chrono_key(d: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(d).map(|d| d.timestamp()).unwrap_or(i64::MIN)
}

/// Escaped for XML text and attributes, without the characters XML 1.0
/// forbids (control characters other than tab and line breaks, U+FFFE,
/// U+FFFF): one ESC in a title made the whole feed unreadable.
pub(super) fn x(s: &str) -> std::borrow::Cow<'_, str> {
    let forbidden = |c: char| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}');
    if s.contains(forbidden) {
        let kept: String = s.chars().filter(|&c| !forbidden(c)).collect();
        return std::borrow::Cow::Owned(quick_xml::escape::escape(&kept).into_owned());
    }
    quick_xml::escape::escape(s)
}

fn rfc2822(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map(|d| d.to_rfc2822()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_forbids_are_left_out_of_feeds() {
        assert_eq!(x("a\u{1b}[31mb\u{1}\u{8}\0c\td\u{FFFF} & e"), "a[31mbc\td &amp; e");
        assert_eq!(x("경제 <b>"), "경제 &lt;b&gt;");
    }

    #[test]
    fn headlines_are_cut_to_110_characters() {
        assert_eq!(headline("짧은 제목"), "짧은 제목");
        let long = "가".repeat(120);
        let h = headline(&long);
        assert_eq!(h.chars().count(), 110);
        assert!(h.ends_with('…'));
    }
}
