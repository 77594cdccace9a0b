use crate::util::{Repo, xml_texts};

#[test]
fn articles_lists_and_taxonomies_land_at_their_urls() {
    let r = Repo::fixture("basic");
    r.build();
    for path in [
        "public/alpha/index.html",
        "public/alpha/page/2/index.html",
        "public/alpha/page/3/index.html",
        "public/alpha/news/first-story/index.html",
        "public/alpha/news/story-2/index.html",
        "public/alpha/news/index.html",
        "public/alpha/news/page/2/index.html",
        "public/alpha/opinion/column/index.html",
        "public/alpha/opinion/index.html",
        "public/alpha/tags/index.html",
        "public/alpha/tags/경제/index.html",
        "public/alpha/tags/경제/page/2/index.html",
        "public/alpha/tags/한국-은행/index.html",
        "public/alpha/categories/뉴스/index.html",
        "public/alpha/categories/의견/index.html",
        "public/alpha/series/연재/index.html",
        "public/alpha/authors/kim/index.html",
        "public/alpha/authors/ann/index.html",
        "public/alpha/404.html",
        "public/alpha/feed.xml",
        "public/alpha/atom.xml",
        "public/alpha/sitemap.xml",
        "public/alpha/robots.txt",
        "public/beta/2023/05/hello/index.html",
    ] {
        assert!(r.exists(path), "missing {path}; files:\n{}", r.listing().join("\n"));
    }
    // The syntax stylesheet is fingerprinted, like the theme's.
    let listing = r.listing();
    let syntax: Vec<&String> = listing.iter().filter(|p| p.starts_with("public/alpha/syntax.") && p.ends_with(".css")).collect();
    assert_eq!(syntax.len(), 1, "{syntax:?}");
    assert!(syntax[0].len() == "public/alpha/syntax.0123456789.css".len(), "{syntax:?}");
    // 5 published articles at 2 per page: exactly 3 home pages.
    assert!(!r.exists("public/alpha/page/4/index.html"));
    assert!(!r.exists("public/alpha/news/draft/index.html"));
    assert!(!r.exists("public/alpha/news/future/index.html"));
}

#[test]
fn pages_carry_content_links_and_canonical_urls() {
    let r = Repo::fixture("basic");
    r.ok(&["build", "--no-minify"]);
    let article = r.read("public/alpha/news/first-story/index.html");
    assert!(article.contains("<h1>첫 번째 기사</h1>"), "{article}");
    assert!(article.contains(r#"<link rel="canonical" href="https://alpha.example.com/news/first-story/">"#), "{article}");
    assert!(article.contains(r#"href="/authors/kim/">김기자</a>"#), "{article}");
    assert!(article.contains(r#"href="/tags/한국-은행/">#한국 은행</a>"#), "{article}");
    assert!(article.contains(r#"<span class="source rust">"#), "code is highlighted with classes: {article}");
    // Series navigation lists all four parts, oldest first.
    let series = article.find("기사 2").unwrap();
    assert!(article.find("기사 4").unwrap() > series);

    let home2 = r.read("public/alpha/page/2/index.html");
    assert!(home2.contains(r#"rel="prev" href="/""#) && home2.contains(r#"rel="next" href="/page/3/""#), "{home2}");

    let author = r.read("public/alpha/authors/kim/index.html");
    assert!(author.contains("경제 담당") && author.contains("Column"), "{author}");

    // A base_url with a path prefixes every root-relative link.
    let beta = r.read("public/beta/index.html");
    assert!(beta.contains(r#"href="/beta/2023/05/hello/""#), "{beta}");
    assert!(beta.contains("Hello &lt;World&gt;"), "titles are escaped: {beta}");
}

#[test]
fn raw_html_is_escaped_unless_the_site_opts_in() {
    let r = Repo::fixture("basic");
    r.build();
    let alpha = r.read("public/alpha/news/first-story/index.html");
    assert!(!alpha.contains("<script>alert"), "{alpha}");
    assert!(alpha.contains("&lt;script"), "{alpha}");
    let beta = r.read("public/beta/2023/05/hello/index.html");
    assert!(beta.contains(r#"<span class="raw">kept</span>"#) || beta.contains("<span class=raw>kept</span>"), "{beta}");
}

#[test]
fn drafts_and_future_articles_need_their_flags() {
    let r = Repo::fixture("basic");
    r.ok(&["build", "--drafts", "--future"]);
    assert!(r.exists("public/alpha/news/draft/index.html"));
    assert!(r.exists("public/alpha/news/future/index.html"));
    // And without the flags they are removed again.
    r.build();
    assert!(!r.exists("public/alpha/news/draft/index.html"));
    assert!(!r.exists("public/alpha/news/future/index.html"));
}

#[test]
fn feeds_are_valid_xml_with_the_newest_articles() {
    let r = Repo::fixture("basic");
    r.build();
    let rss = r.read("public/alpha/feed.xml");
    let titles = xml_texts(&rss, "title");
    assert_eq!(titles[0], "알파 뉴스");
    assert_eq!(titles[1], "Column", "newest first: {titles:?}");
    assert_eq!(titles.len(), 1 + 5);
    assert!(xml_texts(&rss, "link").contains(&"https://alpha.example.com/news/first-story/".to_string()));
    // The feed's date is its newest article's, not the build time.
    assert_eq!(xml_texts(&rss, "lastBuildDate"), vec!["Thu, 1 Feb 2024 00:00:00 +0000"]);
    let atom = r.read("public/alpha/atom.xml");
    assert_eq!(xml_texts(&atom, "updated")[0], "2024-02-01T00:00:00+00:00");
    assert_eq!(xml_texts(&atom, "id").len(), 1 + 5);
}

#[test]
fn sitemap_lists_every_page_and_robots_points_to_it() {
    let r = Repo::fixture("basic");
    r.build();
    let sitemap = r.read("public/alpha/sitemap.xml");
    let mut locs = xml_texts(&sitemap, "loc");
    locs.sort();
    let mut pages: Vec<String> = r
        .listing()
        .into_iter()
        .filter_map(|p| p.strip_prefix("public/alpha/").map(str::to_string))
        .filter_map(|p| p.strip_suffix("index.html").map(|d| format!("https://alpha.example.com/{d}")))
        // The search page is for readers, not search engines.
        .filter(|u| !u.ends_with("/search/"))
        .collect();
    pages.sort();
    assert_eq!(locs, pages);
    assert_eq!(r.read("public/alpha/robots.txt"), "User-agent: *\nAllow: /\n\nSitemap: https://alpha.example.com/sitemap.xml\n");
}

#[test]
fn html_is_minified_unless_asked_not_to() {
    let r = Repo::fixture("basic");
    r.build();
    let min = r.read("public/alpha/404.html");
    r.ok(&["build", "--no-minify"]);
    let full = r.read("public/alpha/404.html");
    assert!(min.len() < full.len());
    assert!(!min.contains("\n<main>"));
}

#[test]
fn a_site_can_override_one_template() {
    let r = Repo::fixture("basic");
    r.write("themes/default/sites/beta/404.html", "{% extends \"base.html\" %}{% block content %}BETA-404{% endblock content %}");
    r.build();
    assert!(r.read("public/beta/404.html").contains("BETA-404"));
    assert!(!r.read("public/alpha/404.html").contains("BETA-404"));
}

#[test]
fn site_selection_and_output_folder() {
    let r = Repo::fixture("basic");
    r.ok(&["build", "--site", "beta", "--output", "elsewhere"]);
    assert!(r.exists("elsewhere/beta/index.html"));
    assert!(!r.exists("elsewhere/alpha"));
    assert!(!r.exists("public"));
    let err = r.fails(&["build", "--site", "gamma"]);
    assert!(err.contains("no site named `gamma`") && err.contains("alpha, beta"), "{err}");
}

#[test]
fn json_report_counts_per_site() {
    let r = Repo::fixture("basic");
    let out = r.ok(&["build", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let alpha = &v["sites"][0];
    assert_eq!(alpha["site"], "alpha");
    assert_eq!(alpha["pages_rendered"], alpha["pages"]);
    assert_eq!(alpha["pages_unchanged"], 0);
    assert!(alpha["timings_ms"]["render"].is_number());
    let again: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    assert_eq!(again["sites"][0]["pages_rendered"], 0);
    assert_eq!(again["sites"][0]["pages_unchanged"], alpha["pages"]);
    assert_eq!(again["sites"][0]["files_written"], 0);
}

#[test]
fn the_demo_repository_builds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_gen"))
        .args(["build", "--quiet", "--output"])
        .arg(out.path())
        .arg("--cache")
        .arg(cache.path())
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success());
    for site in ["daily", "lab", "notes"] {
        assert!(out.path().join(site).join("index.html").exists(), "{site}");
    }
}

/// `kind: page` (#24 case 8d): at its folder path whatever the permalink,
/// in the sitemap and search, in no list, term page, author page, feed or
/// news sitemap, without neighbours or a date line.
#[test]
fn a_page_lives_at_its_own_path_and_in_no_list_or_feed() {
    let r = Repo::fixture("basic");
    let page = "---\nkind: page\ntitle: About the beta desk\ndate: 2024-03-01\nauthor: ann\ntags: [Rust & Web, only on pages]\n---\n\nWe write about the web.\n";
    r.write("content/beta/about.md", page);
    r.write("content/beta/company/team/index.md", &page.replace("About the beta desk", "The team"));
    r.write("content/beta/posts/newer.md", "---\ntitle: Newer post\ndate: 2024-02-01\n---\n\nText.\n");
    r.build();
    let about = r.read("public/beta/about/index.html");
    let d = scraper::Html::parse_document(&about);
    let sel = |css: &str| d.select(&scraper::Selector::parse(css).unwrap()).count();
    assert_eq!(sel(".byline"), 0, "no date line");
    assert_eq!(sel("a[rel=prev], a[rel=next]"), 0, "no neighbours");
    assert!(about.contains("\"@type\":\"WebPage\""), "JSON-LD says WebPage");
    assert!(r.exists("public/beta/company/team/index.html"), "nested under its folder");
    for list in ["index.html", "feed.xml", "atom.xml", "tags/rust-web/index.html", "authors/ann/index.html", "posts/index.html"] {
        let text = r.read(&format!("public/beta/{list}"));
        assert!(!text.contains("About the beta desk") && !text.contains("The team"), "a page is listed in {list}");
    }
    // The newest article's neighbour is still the older article, not a page.
    let newer = r.read("public/beta/2024/02/newer/index.html");
    assert!(newer.contains("/2023/05/hello/"), "{newer}");
    let sitemap = r.read("public/beta/sitemap.xml");
    assert!(sitemap.contains("/about/") && sitemap.contains("/company/team/"), "{sitemap}");
    // A page links to a tag page only where one exists (no article has
    // `only on pages`): no broken link.
    assert!(about.contains("/tags/rust-web/") && !about.contains("/tags/only-on-pages/"), "{about}");
    r.ok(&["check", "--site", "beta"]);
    // A typo in the kind is an error naming the line.
    r.write("content/beta/about.md", &page.replace("kind: page", "kind: pgae"));
    let err = r.fails(&["build"]);
    assert!(err.contains("content/beta/about.md:2") && err.contains("unknown variant `pgae`"), "{err}");
}
