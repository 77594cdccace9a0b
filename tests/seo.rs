use crate::util::{Repo, xml_texts, xmllint};

/// The text of the page's JSON-LD script, as an HTML parser reads it.
fn json_ld_text(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("script[type='application/ld+json']").unwrap();
    doc.select(&sel).next().expect("a JSON-LD script").inner_html()
}

/// The JSON-LD of a built page, parsed.
fn json_ld(html: &str) -> serde_json::Value {
    let text = json_ld_text(html);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON-LD does not parse: {e}\n{text}"))
}

/// The `content` of every `<meta property|name=KEY>`, read with an HTML
/// parser (not the minifier's spelling).
fn meta(html: &str, key: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("meta[property='{key}'], meta[name='{key}']")).unwrap();
    doc.select(&sel).filter_map(|m| m.value().attr("content").map(str::to_string)).collect()
}

/// The `href` of `<link rel=REL>`.
fn link(html: &str, rel: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("link[rel='{rel}']")).unwrap();
    doc.select(&sel).next().and_then(|l| l.value().attr("href").map(str::to_string))
}

#[test]
fn article_pages_have_title_description_canonical_social_tags_and_news_article_json_ld() {
    let r = Repo::fixture("basic");
    r.write_bytes("content/alpha/news/covered/cover.png", &crate::util::png(1200, 630, "cover"));
    r.write(
        "content/alpha/news/covered/index.md",
        "---\ntitle: 표지 </script><b>기사</b>\ndate: 2024-12-01T08:00:00+09:00\nupdated: 2024-12-02\nauthor: kim\nimage: cover.png\ntags: [경제]\nsummary: 요약 \"인용\" 문장\n---\n\n본문.\n",
    );
    r.build();
    let html = r.read("public/alpha/news/covered/index.html");
    // <title> holds text only (the minifier may leave `<` unescaped there).
    assert!(html.contains("<title>표지 </script><b>기사</b> · 알파 뉴스</title>"), "{html}");
    assert_eq!(meta(&html, "description"), ["요약 \"인용\" 문장"]);
    assert_eq!(link(&html, "canonical").as_deref(), Some("https://alpha.example.com/news/covered/"));
    assert_eq!(meta(&html, "og:url"), ["https://alpha.example.com/news/covered/"]);
    assert_eq!(meta(&html, "og:type"), ["article"]);
    assert_eq!(meta(&html, "twitter:card"), ["summary_large_image"]);
    let image = meta(&html, "og:image");
    assert_eq!(image.len(), 1);
    assert!(image[0].starts_with("https://alpha.example.com/images/"), "{image:?}");
    assert_eq!(meta(&html, "twitter:image"), image);
    assert_eq!(meta(&html, "og:image:width"), ["1200"]);

    // The title's `</script>` cannot end the JSON-LD script early.
    let script = json_ld_text(&html);
    assert!(!script.contains('<'), "{script}");
    let ld = json_ld(&html);
    assert_eq!(ld["@context"], "https://schema.org");
    assert_eq!(ld["@type"], "NewsArticle");
    assert_eq!(ld["headline"], "표지 </script><b>기사</b>");
    assert_eq!(ld["description"], "요약 \"인용\" 문장");
    assert_eq!(ld["datePublished"], "2024-12-01T08:00:00+09:00");
    assert_eq!(ld["dateModified"], "2024-12-02T00:00:00+00:00");
    assert_eq!(ld["mainEntityOfPage"]["@id"], "https://alpha.example.com/news/covered/");
    assert_eq!(ld["author"][0]["name"], "김기자");
    assert_eq!(ld["author"][0]["url"], "https://alpha.example.com/authors/kim/");
    assert!(r.exists("public/alpha/authors/kim/index.html"), "the author page JSON-LD points at exists");
    assert_eq!(ld["publisher"]["@type"], "Organization");
    assert_eq!(ld["publisher"]["name"], "알파 뉴스");
    assert_eq!(ld["image"][0]["url"], image[0].as_str());
    assert_eq!(ld["image"][0]["width"], 1200);

    // Without a cover: a plain summary card and no image.
    let plain = r.read("public/alpha/news/story-3/index.html");
    assert_eq!(meta(&plain, "twitter:card"), ["summary"]);
    assert!(json_ld(&plain).get("image").is_none());
}

#[test]
fn schema_type_is_configurable_and_checked() {
    let r = Repo::fixture("basic");
    r.edit("sites.toml", "unsafe_html = true", "unsafe_html = true\nschema_type = \"BlogPosting\"");
    r.build();
    assert_eq!(json_ld(&r.read("public/beta/2023/05/hello/index.html"))["@type"], "BlogPosting");
    assert_eq!(json_ld(&r.read("public/alpha/news/story-3/index.html"))["@type"], "NewsArticle");
    r.edit("sites.toml", "\"BlogPosting\"", "\"Blog\"");
    let err = r.fails(&["build"]);
    assert!(err.contains("sites.toml:16") && err.contains("unknown `schema_type` `Blog`"), "{err}");
}

#[test]
fn sitemaps_validate_against_the_schema_and_feeds_are_xml() {
    let r = Repo::fixture("basic");
    // The build's clock is 2025-01-01T00:00Z: this one is 36 hours old, the rest are older than 48.
    r.write("content/alpha/news/breaking.md", "---\ntitle: 속보 & 단독\ndate: 2024-12-30T21:00:00+09:00\n---\n\n속보.\n");
    r.build();
    for site in ["alpha", "beta"] {
        xmllint(Some("sitemap.xsd"), &r.path(&format!("public/{site}/sitemap.xml")));
        xmllint(None, &r.path(&format!("public/{site}/feed.xml")));
        xmllint(None, &r.path(&format!("public/{site}/atom.xml")));
    }
    let news = r.path("public/alpha/news-sitemap.xml");
    xmllint(Some("sitemap.xsd"), &news);
    let news = r.read("public/alpha/news-sitemap.xml");
    assert_eq!(xml_texts(&news, "loc"), ["https://alpha.example.com/news/breaking/"]);
    assert_eq!(xml_texts(&news, "news:title"), ["속보 & 단독"]);
    assert_eq!(xml_texts(&news, "news:name"), ["알파 뉴스"]);
    assert_eq!(xml_texts(&news, "news:language"), ["ko"]);
    assert_eq!(xml_texts(&news, "news:publication_date"), ["2024-12-30T21:00:00+09:00"]);
    assert!(r.read("public/alpha/robots.txt").contains("Sitemap: https://alpha.example.com/news-sitemap.xml\n"));
    // beta has nothing recent: no news sitemap (an empty urlset is invalid), none in robots.txt.
    assert!(!r.exists("public/beta/news-sitemap.xml"));
    assert!(!r.read("public/beta/robots.txt").contains("news-sitemap"));

    // Two days later the article has aged out and the file goes.
    let out = r.command_at("1735862400", &["build"]).output().unwrap(); // 2025-01-03
    assert!(out.status.success());
    assert!(!r.exists("public/alpha/news-sitemap.xml"));
    assert!(!r.read("public/alpha/robots.txt").contains("news-sitemap"));

    // Turned off per site.
    r.write("content/alpha/news/breaking.md", "---\ntitle: 속보\ndate: 2024-12-31T09:00:00+09:00\n---\n\n속보.\n");
    r.edit("sites.toml", "description = \"Fixture site in Korean\"", "description = \"Fixture site in Korean\"\nnews_sitemap = false");
    r.build();
    assert!(!r.exists("public/alpha/news-sitemap.xml"));
}

#[test]
fn past_sitemap_max_urls_the_sitemap_becomes_an_index() {
    let r = Repo::fixture("basic");
    r.build();
    let single = xml_texts(&r.read("public/alpha/sitemap.xml"), "loc");
    assert!(single.len() > 10, "{single:?}");

    r.edit("sites.toml", "description = \"Fixture site in Korean\"", "description = \"Fixture site in Korean\"\nsitemap_max_urls = 4");
    r.build();
    xmllint(Some("siteindex.xsd"), &r.path("public/alpha/sitemap.xml"));
    let index = r.read("public/alpha/sitemap.xml");
    let parts = xml_texts(&index, "loc");
    assert_eq!(parts.len(), single.len().div_ceil(4));
    assert_eq!(parts[0], "https://alpha.example.com/sitemap-1.xml");
    assert!(xml_texts(&index, "lastmod").iter().all(|d| chrono::DateTime::parse_from_rfc3339(d).is_ok()));
    let mut listed = Vec::new();
    for (k, url) in parts.iter().enumerate() {
        let file = format!("public/alpha/sitemap-{}.xml", k + 1);
        assert_eq!(url, &format!("https://alpha.example.com/sitemap-{}.xml", k + 1));
        xmllint(Some("sitemap.xsd"), &r.path(&file));
        let locs = xml_texts(&r.read(&file), "loc");
        assert!(locs.len() <= 4);
        listed.extend(locs);
    }
    assert_eq!(listed, single, "the parts list exactly the pages, in order");

    // Back under the limit: one sitemap again, the parts are removed.
    r.edit("sites.toml", "sitemap_max_urls = 4", "");
    r.build();
    assert_eq!(xml_texts(&r.read("public/alpha/sitemap.xml"), "loc"), single);
    assert!(!r.exists("public/alpha/sitemap-1.xml"));
}
