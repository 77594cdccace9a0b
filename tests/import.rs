//! `gen import wordpress`: WordPress's own theme test exports, and a Korean
//! multisite export with an uploads folder written here, imported, built and
//! checked; re-imports, conflicts and bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::util::{Repo, png};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/wordpress");

fn shared(name: &str) -> String {
    let p = Path::new(SHARED).join(name);
    assert!(p.is_file(), "{} is missing: the shared WordPress exports sit beside the repository", p.display());
    p.to_string_lossy().into_owned()
}

fn import_json(r: &Repo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["import", "wordpress"];
    all.extend_from_slice(args);
    all.push("--json");
    serde_json::from_str(&r.ok(&all)).expect("the report is JSON")
}

/// Every file below `rel` with its bytes.
fn tree(r: &Repo, rel: &str) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(r.path(rel))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(r.root()).unwrap().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn html_files(r: &Repo, rel: &str) -> Vec<(String, String)> {
    tree(r, rel).into_iter().filter(|(p, _)| p.ends_with(".html")).map(|(p, b)| (p, String::from_utf8(b).unwrap())).collect()
}

fn doc(html: &str) -> scraper::Html {
    scraper::Html::parse_document(html)
}

fn select<'a>(d: &'a scraper::Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    d.select(&scraper::Selector::parse(css).unwrap()).collect()
}

/// The text of an article page's body (`<article>`, else `<main>`).
fn article_text(html: &str) -> String {
    let d = doc(html);
    let found = select(&d, "article");
    let el = found.first().copied().or_else(|| select(&d, "main").first().copied()).expect("an article or main element");
    el.text().collect::<Vec<_>>().join(" ")
}

fn redirects(r: &Repo, site: &str) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_str(&r.read(&format!("public/{site}/redirects.json"))).unwrap();
    v.as_array().unwrap().iter().map(|x| (x["from"].as_str().unwrap().to_string(), x["to"].as_str().unwrap().to_string())).collect()
}

/// Nothing WordPress-only may reach a reader: block comments or shortcodes.
fn assert_no_wordpress_markup(r: &Repo, site: &str) {
    for (path, html) in html_files(r, &format!("public/{site}")) {
        assert!(!html.contains("<!-- wp:") && !html.contains("wp:paragraph"), "{path} has a block comment");
        let text = doc(&html).root_element().text().collect::<String>();
        for code in ["[caption", "[gallery", "[embed", "[/embed]", "[audio", "[video", "[youtube"] {
            assert!(!text.contains(code), "{path} shows {code}: {}", &text[text.find(code).unwrap().saturating_sub(80)..]);
        }
    }
}

#[test]
fn the_theme_unit_test_export_imports_builds_and_checks() {
    let r = Repo::fixture("import");
    let report = import_json(&r, &[&shared("themeunittestdata.wordpress.xml"), "--site", "wptest"]);
    assert_eq!(report["items"]["post"]["publish"], 56);
    assert_eq!(report["items"]["post"]["draft"], 1);
    assert_eq!(report["items"]["post"]["future"], 1);
    assert_eq!(report["items"]["page"]["publish"], 21);
    assert_eq!(report["items"]["attachment"]["inherit"], 37);
    assert_eq!(report["items"]["nav_menu_item"]["publish"], 70);
    assert_eq!(report["imported"]["posts"], 58);
    assert_eq!(report["imported"]["pages"], 21);
    // The draft, and the password-protected post: a static site has no
    // passwords, and it was published to everyone (found by a new user).
    assert_eq!(report["imported"]["drafts"], 2);
    let said = report["warnings"].as_array().unwrap().iter().filter(|w| w.as_str().unwrap().contains("password-protected")).count();
    assert_eq!(said, 1, "{report}");
    assert!(r.read("content/wptest/classic/template-password-protected/index.md").contains("draft: true"));
    assert_eq!(report["skipped"]["type nav_menu_item"], 70);
    assert_eq!(report["site_added"], true);
    // The export's links are /2013/01/10/slug/: the same URLs, no redirect needed.
    assert_eq!(report["permalink"], "/{year}/{month}/{day}/{slug}/");
    assert_eq!(report["images"]["not_looked_up"].as_u64().map(|n| n > 0), Some(true), "{report}");
    let config = r.read("sites.toml");
    assert!(config.contains("name = \"wptest\"") && config.contains("base_url = \"https://wpthemetestdata.wordpress.com/\""), "{config}");
    let authors = r.read("content/authors.yaml");
    assert!(authors.contains("name: Existing Name") && authors.contains("bio: Kept as written."), "existing author changed:\n{authors}");
    assert!(authors.contains("themereviewteam:") && authors.contains("Theme Reviewer"), "{authors}");

    r.ok(&["build", "--site", "wptest"]);
    assert_no_wordpress_markup(&r, "wptest");
    let rules = redirects(&r, "wptest");
    assert_eq!(rules.get("/?p=1724").map(String::as_str), Some("/2018/10/20/keyboard-navigation/"), "{rules:?}");
    let p_aliases = rules.keys().filter(|k| k.starts_with("/?p=")).count();
    assert_eq!(p_aliases, 55, "one ?p= alias per published post (not the future one, nor the protected one): {rules:?}");
    assert!(!tree(&r, "public/wptest").into_keys().any(|p| p.contains("template-password-protected")));
    assert!(rules.keys().any(|k| k.starts_with("/?page_id=")));
    // The Greek slugs arrive percent-encoded and are published decoded.
    assert!(r.path("public/wptest").read_dir().is_ok());
    let greek = tree(&r, "public/wptest").into_keys().any(|p| p.contains("επίπεδο"));
    assert!(greek, "no page with the decoded Greek slug");
    r.ok(&["check", "--site", "wptest"]);
}

#[test]
fn the_block_test_export_imports_into_a_configured_site_with_redirects() {
    let r = Repo::fixture("import");
    let before = r.read("sites.toml");
    let report = import_json(&r, &[&shared("64-block-test-data.xml"), "--site", "blocks"]);
    assert_eq!(report["site_added"], false);
    assert_eq!(report["items"]["post"]["publish"], 61);
    assert_eq!(report["imported"]["posts"], 61);
    assert_eq!(report["imported"]["pages"], 1);
    assert_eq!(report["skipped"]["type wp_navigation"], 1);
    assert_eq!(r.read("sites.toml"), before, "a configured site keeps its settings");
    r.ok(&["build", "--site", "blocks"]);
    assert_no_wordpress_markup(&r, "blocks");
    // The site keeps gen's default permalink: every old link redirects.
    let rules = redirects(&r, "blocks");
    let target = rules.get("/paragraph/").unwrap_or_else(|| panic!("no redirect for /paragraph/: {rules:?}"));
    assert!(r.exists(&format!("public/blocks{target}index.html")), "{target}");
    assert!(rules.contains_key("/?p=16"));
    r.ok(&["check", "--site", "blocks"]);
}

const SITE: &str = "https://news.example.kr";
const UP: &str = "https://news.example.kr/wp-content/uploads/sites/3";

/// A Korean multisite export (blog 3) and its uploads folder.
fn korean_export(r: &Repo) -> String {
    for (rel, salt) in [
        ("uploads/sites/3/2023/12/chart.png", "chart"),
        ("uploads/sites/3/2023/12/chart-800x450.png", "chart-800"),
        ("uploads/sites/3/2023/12/chart-300x169.png", "chart-300"),
        ("uploads/sites/3/2023/12/cover.png", "cover"),
        ("uploads/sites/3/2023/12/cover-scaled.png", "cover-scaled"),
        ("uploads/sites/3/2023/11/map.png", "map"),
        ("uploads/sites/3/2023/11/map-300x200.png", "map-300"),
    ] {
        r.write_bytes(rel, &png(1600, 900, salt));
    }
    let slug = "%ea%b8%b0%ec%a4%80%ea%b8%88%eb%a6%ac"; // 기준금리
    let item = |id: u64, ty: &str, status: &str, title: &str, name: &str, link: &str, date: &str, body: &str, extra: &str| {
        format!(
            "<item><title><![CDATA[{title}]]></title><link>{link}</link><dc:creator><![CDATA[reporter]]></dc:creator>\
<guid isPermaLink=\"false\">{SITE}/?p={id}</guid><content:encoded><![CDATA[{body}]]></content:encoded><excerpt:encoded><![CDATA[]]></excerpt:encoded>\
<wp:post_id>{id}</wp:post_id><wp:post_date><![CDATA[{date}]]></wp:post_date><wp:post_date_gmt><![CDATA[{gmt}]]></wp:post_date_gmt>\
<wp:post_modified><![CDATA[{date}]]></wp:post_modified><wp:post_modified_gmt><![CDATA[{gmt}]]></wp:post_modified_gmt>\
<wp:post_name><![CDATA[{name}]]></wp:post_name><wp:status><![CDATA[{status}]]></wp:status><wp:post_parent>0</wp:post_parent>\
<wp:post_type><![CDATA[{ty}]]></wp:post_type>{extra}</item>\n",
            gmt = shift_nine_hours(date)
        )
    };
    let meta = |k: &str, v: &str| {
        format!("<wp:postmeta><wp:meta_key><![CDATA[{k}]]></wp:meta_key><wp:meta_value><![CDATA[{v}]]></wp:meta_value></wp:postmeta>")
    };
    let cat = "<category domain=\"category\" nicename=\"%ea%b2%bd%ec%a0%9c\"><![CDATA[경제]]></category><category domain=\"post_tag\" nicename=\"rate\"><![CDATA[금리]]></category>";
    let gutenberg = format!(
        "<!-- wp:paragraph -->\n<p>한국은행이 <strong>기준금리</strong>를 동결했다. <a href=\"{SITE}/2023/11/%ec%a7%80%eb%8f%84/\">지난달 기사</a>를 보라.</p>\n<!-- /wp:paragraph -->\n\n\
<!-- wp:image {{\"id\":201}} -->\n<figure class=\"wp-block-image\"><a href=\"{UP}/2023/12/chart.png\"><img src=\"https://cdn.news.example.kr/wp-content/uploads/sites/3/2023/12/chart-800x450.png\" alt=\"금리 추이\" class=\"wp-image-201\"/></a><figcaption>금리 추이</figcaption></figure>\n<!-- /wp:image -->\n\n\
<!-- wp:latest-posts /-->\n\n\
<!-- wp:embed {{\"url\":\"https://www.youtube.com/watch?v=dQw4w9WgXcQ\",\"type\":\"video\",\"providerNameSlug\":\"youtube\"}} -->\n<figure class=\"wp-block-embed is-type-video is-provider-youtube\"><div class=\"wp-block-embed__wrapper\">\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ\n</div></figure>\n<!-- /wp:embed -->"
    );
    let classic = format!(
        "지도를 보자.\n둘째 줄.\n\n[caption id=\"attachment_202\" align=\"aligncenter\" width=\"300\"]<img src=\"{UP}/2023/11/map-300x200.png\" alt=\"서울 지도\" width=\"300\" height=\"200\" /> 서울 지도[/caption]\n\n\
<a href=\"{SITE}/?p=101\">금리 기사</a>와 사라진 사진 <img src=\"{UP}/2023/11/gone.png\" alt=\"없음\" />\n\n[contact-form-7 id=\"5\" title=\"문의\"]\n\n[embed]https://youtu.be/dQw4w9WgXcQ[/embed]"
    );
    let mut items = String::new();
    items += &item(
        201,
        "attachment",
        "inherit",
        "chart",
        "chart",
        &format!("{SITE}/chart/"),
        "2023-12-05 09:00:00",
        "",
        &format!("<wp:attachment_url>{UP}/2023/12/chart.png</wp:attachment_url>"),
    );
    items += &item(
        203,
        "attachment",
        "inherit",
        "cover",
        "cover",
        &format!("{SITE}/cover/"),
        "2023-12-05 09:00:00",
        "",
        &format!("<wp:attachment_url>{UP}/2023/12/cover-scaled.png</wp:attachment_url>"),
    );
    items += &item(
        101,
        "post",
        "publish",
        "한국은행, 기준금리 동결",
        slug,
        &format!("{SITE}/2023/12/{slug}/"),
        "2023-12-05 09:30:00",
        &gutenberg,
        &format!("{cat}{}{}", meta("_thumbnail_id", "203"), meta("_wp_old_slug", "old-rate")),
    );
    items += &item(
        102,
        "post",
        "publish",
        "서울 지도 &amp; 교통",
        "%ec%a7%80%eb%8f%84",
        &format!("{SITE}/2023/11/%ec%a7%80%eb%8f%84/"),
        "2023-11-20 18:00:00",
        &classic,
        cat,
    );
    items += &item(
        103,
        "page",
        "publish",
        "회사 소개",
        "%ed%9a%8c%ec%82%ac",
        &format!("{SITE}/%ed%9a%8c%ec%82%ac/"),
        "2023-01-02 10:00:00",
        "<p>우리는 뉴스를 만든다.</p>",
        "",
    );
    items += &item(104, "post", "draft", "초안", "", &format!("{SITE}/?p=104"), "2023-12-06 10:00:00", "<p>초안</p>", "");
    items += &item(105, "post", "private", "비공개", "private", &format!("{SITE}/2023/12/private/"), "2023-12-06 10:00:00", "<p>x</p>", "");
    items += &item(106, "nav_menu_item", "publish", "", "106", &format!("{SITE}/?p=106"), "2023-12-06 10:00:00", "", "");
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<rss version=\"2.0\" xmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\" \
xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:wp=\"http://wordpress.org/export/1.2/\">\n<channel>\n\
<title>한빛 뉴스</title><link>{SITE}</link><description>경제 뉴스</description><language>ko-KR</language><wp:wxr_version>1.2</wp:wxr_version>\
<wp:base_site_url>https://network.example.kr</wp:base_site_url><wp:base_blog_url>{SITE}</wp:base_blog_url>\n\
<wp:author><wp:author_id>2</wp:author_id><wp:author_login><![CDATA[reporter]]></wp:author_login><wp:author_email><![CDATA[kim@news.example.kr]]></wp:author_email><wp:author_display_name><![CDATA[김기자]]></wp:author_display_name></wp:author>\n\
{items}</channel>\n</rss>\n"
    );
    r.write("export.xml", &xml);
    "export.xml".into()
}

/// `2023-12-05 09:30:00` in Seoul → its GMT time.
fn shift_nine_hours(date: &str) -> String {
    let d = chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S").unwrap();
    (d - chrono::Duration::hours(9)).format("%Y-%m-%d %H:%M:%S").to_string()
}

#[test]
fn a_korean_multisite_export_keeps_every_old_url() {
    let r = Repo::fixture("import");
    let export = korean_export(&r);
    let report = import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads"]);
    assert_eq!(report["imported"]["posts"], 3, "{report}");
    assert_eq!(report["imported"]["pages"], 1);
    assert_eq!(report["imported"]["drafts"], 1);
    assert_eq!(report["skipped"]["status private"], 1);
    assert_eq!(report["skipped"]["type nav_menu_item"], 1);
    assert_eq!(report["permalink"], "/{year}/{month}/{slug}/");
    assert_eq!(report["unknown_shortcodes"]["contact-form-7"], 1);
    // Each placed image said as what it is: a clone or a copy (ext4 here: copies).
    let placed = report["images"]["cloned"].as_u64().unwrap() + report["images"]["copied"].as_u64().unwrap();
    assert_eq!(placed, 3, "{report}");
    let missing = report["images"]["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{report}");
    assert!(missing[0]["url"].as_str().unwrap().ends_with("2023/11/gone.png"));
    assert!(missing[0]["article"].as_str().unwrap().contains("지도"), "{report}");
    // Hangul slugs decoded, NFC; the section from the primary category; the
    // original images (not the resized copies) linked into the bundle.
    let bundle = "content/daily/경제/기준금리";
    let md = r.read(&format!("{bundle}/index.md"));
    assert!(r.exists(&format!("{bundle}/chart.png")) && r.exists(&format!("{bundle}/cover.png")), "{:?}", r.listing());
    assert!(!r.exists(&format!("{bundle}/chart-800x450.png")));
    assert!(md.contains("date: 2023-12-05T09:30:00+09:00"), "{md}");
    assert!(md.contains("image: cover.png") && md.contains("author: reporter"), "{md}");
    assert!(!md.contains("kim@news.example.kr") && !r.read("content/authors.yaml").contains("kim@"), "e-mail addresses stay private");
    let classic = r.read("content/daily/경제/지도/index.md");
    assert!(classic.contains("title: 서울 지도 & 교통"), "{classic}");
    let config = r.read("sites.toml");
    assert!(config.contains("language = \"ko-KR\"") && config.contains("base_url = \"https://news.example.kr/\""), "{config}");

    r.ok(&["build", "--site", "daily"]);
    assert_no_wordpress_markup(&r, "daily");
    // The same URL as on WordPress: no redirect needed for the permalink.
    let page = r.read("public/daily/2023/12/기준금리/index.html");
    let d = doc(&page);
    let imgs: Vec<String> = select(&d, "article img").iter().map(|i| i.value().attr("src").unwrap().to_string()).collect();
    assert!(imgs.iter().any(|s| s.starts_with("/images/")), "{imgs:?}");
    let links: Vec<String> = select(&d, "article a").iter().filter_map(|a| a.value().attr("href").map(str::to_string)).collect();
    assert!(links.contains(&"/2023/11/지도/".to_string()) || links.contains(&"/2023/11/%EC%A7%80%EB%8F%84/".to_string()), "{links:?}");
    assert!(!select(&d, "iframe[src^='https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ']").is_empty(), "no embed");
    let classic = r.read("public/daily/2023/11/지도/index.html");
    let d = doc(&classic);
    let text = article_text(&classic);
    assert!(text.contains("지도를 보자.") && text.contains("서울 지도"), "{text}");
    assert!(!select(&d, "article br").is_empty(), "a single newline is a line break (wpautop)");
    let hrefs: Vec<String> = select(&d, "article a").iter().filter_map(|a| a.value().attr("href").map(str::to_string)).collect();
    assert!(hrefs.iter().any(|h| h.contains("2023/12/")), "?p=101 was not rewritten: {hrefs:?}");
    assert!(!select(&d, "iframe").is_empty(), "[embed] became an embed");
    assert!(
        select(&d, "img").iter().any(|i| i.value().attr("src") == Some(&format!("{UP}/2023/11/gone.png")[..])),
        "a missing image keeps its URL"
    );

    let rules = redirects(&r, "daily");
    assert_eq!(rules.get("/?p=101").map(String::as_str), Some("/2023/12/기준금리/"), "{rules:?}");
    assert_eq!(rules.get("/2023/12/old-rate/").map(String::as_str), Some("/2023/12/기준금리/"));
    // #24 case 8d: a page is a page: at its own old URL, in no list or feed.
    assert_eq!(rules.get("/?page_id=103").map(String::as_str), Some("/회사/"), "{rules:?}");
    assert!(!rules.contains_key("/회사/"), "the page itself is there: {rules:?}");
    assert!(r.read("content/daily/회사/index.md").starts_with("---\nkind: page\n"));
    let about = r.read("public/daily/회사/index.html");
    assert!(article_text(&about).contains("우리는 뉴스를 만든다."), "{about}");
    assert!(select(&doc(&about), "article .byline").is_empty(), "a page shows no date line");
    for list in ["index.html", "feed.xml"] {
        let text = r.read(&format!("public/daily/{list}"));
        assert!(!text.contains("회사 소개"), "the page is listed in {list}");
    }
    assert!(r.read("public/daily/sitemap.xml").contains("/%ED%9A%8C%EC%82%AC/") || r.read("public/daily/sitemap.xml").contains("/회사/"));
    for old in ["chart.png", "chart-800x450.png", "chart-300x169.png"] {
        let from = format!("/wp-content/uploads/sites/3/2023/12/{old}");
        let to = rules.get(&from).unwrap_or_else(|| panic!("no redirect for {from}: {rules:?}"));
        assert!(to.starts_with("/images/") && r.exists(&format!("public/daily{to}")), "{from} → {to}");
    }
    let cover_to = rules["/wp-content/uploads/sites/3/2023/12/cover-scaled.png"].clone();
    assert_eq!(std::fs::read(r.path(&format!("public/daily{cover_to}"))).unwrap(), png(1600, 900, "cover"));
    // Image redirects have no HTML stub (it would be served as an image).
    assert!(!r.exists("public/daily/wp-content/uploads/sites/3/2023/12/chart.png"));
    let netlify = r.read("public/daily/_redirects");
    assert!(netlify.contains("/wp-content/uploads/sites/3/2023/12/chart-300x169.png /images/"), "{netlify}");
    // The one image the uploads folder lacks keeps its old URL, which the
    // check reports (that address is gone once the site moves), and nothing else.
    let out = r.run(&["check", "--site", "daily"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && stdout.contains("1 broken"), "{stdout}");
    assert!(stdout.contains("지도/index.md") && stdout.contains("2023/11/gone.png"), "{stdout}");

    // The image changes: its old URLs follow it to the new published path.
    std::fs::remove_file(r.path(&format!("{bundle}/cover.png"))).unwrap();
    r.write_bytes(&format!("{bundle}/cover.png"), &png(1200, 600, "new cover"));
    r.ok(&["build", "--site", "daily"]);
    let moved = redirects(&r, "daily")["/wp-content/uploads/sites/3/2023/12/cover-scaled.png"].clone();
    assert_ne!(moved, cover_to);
    assert_eq!(std::fs::read(r.path(&format!("public/daily{moved}"))).unwrap(), png(1200, 600, "new cover"));
}

#[test]
fn importing_the_same_export_again_changes_nothing() {
    let r = Repo::fixture("import");
    let export = korean_export(&r);
    import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads"]);
    let content = tree(&r, "content");
    let config = r.read("sites.toml");
    let again = import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads"]);
    assert_eq!(again["files"]["created"], 0, "{again}");
    assert_eq!(again["files"]["updated"], 0);
    assert_eq!(again["images"]["copied"], 0);
    assert_eq!(again["authors_added"].as_array().unwrap().len(), 0);
    assert_eq!(again["site_added"], false);
    assert_eq!(tree(&r, "content"), content, "a re-import must leave content/ byte-identical");
    assert_eq!(r.read("sites.toml"), config);
}

#[test]
fn an_article_edited_after_the_import_is_never_overwritten_silently() {
    let r = Repo::fixture("import");
    let export = korean_export(&r);
    import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads"]);
    let file = "content/daily/경제/지도/index.md";
    r.edit(file, "지도를 보자.", "편집국이 고친 문장.");
    let edited = r.read(file);
    let again = import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads"]);
    assert_eq!(again["files"]["conflicts"], serde_json::json!([file]), "{again}");
    assert_eq!(r.read(file), edited);
    // And a third run still knows it is not the importer's own.
    let third = import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads"]);
    assert_eq!(third["files"]["conflicts"], serde_json::json!([file]));
    let forced = import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads", "--force"]);
    assert_eq!(forced["files"]["updated"], 1, "{forced}");
    assert!(r.read(file).contains("지도를 보자."));
}

#[test]
fn a_dry_run_writes_nothing() {
    let r = Repo::fixture("import");
    let export = korean_export(&r);
    let before = tree(&r, "");
    let report = import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads", "--dry-run"]);
    assert_eq!(report["imported"]["posts"], 3);
    assert_eq!(report["files"]["created"], 4);
    assert_eq!(tree(&r, ""), before);
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let r = Repo::fixture("import");
    let export = korean_export(&r);
    let xml = r.read(&export);
    r.write("page.html", "<!doctype html><html><body><p>not an export</p></body></html>");
    r.write("truncated.xml", &xml[..xml.len() * 2 / 3]);
    r.write(
        "feed.xml",
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>x</title><item><title>a</title></item></channel></rss>",
    );
    let before = tree(&r, "");
    let cases: [(&[&str], &str, &str); 5] = [
        (&["page.html"], "page.html", "not"),
        (&["truncated.xml"], "truncated.xml", "truncated"),
        (&["feed.xml"], "feed.xml", "not a WordPress export"),
        (&["missing.xml"], "missing.xml", "cannot"),
        (&[&export, "--uploads", "no-such-folder"], "no-such-folder", "uploads folder"),
    ];
    for (args, names, says) in cases {
        let mut all = vec!["import", "wordpress"];
        all.extend_from_slice(args);
        all.extend(["--site", "daily"]);
        let err = r.fails(&all);
        assert!(err.contains(names) && err.contains(says), "{args:?}: {err}");
        assert_eq!(tree(&r, ""), before, "{args:?} wrote something");
    }
}

/// Responsive images (issue #21) for imported posts: WordPress's uploads
/// become variants, and their old URLs (resized copies included) lead to
/// the fallback variant.
#[test]
fn imported_photos_get_variants_and_their_old_urls_lead_to_the_fallback() {
    let r = Repo::fixture("import");
    r.edit("sites.toml", "[images]\nresize = false\n", "");
    let export = korean_export(&r);
    for (rel, seed) in
        [("uploads/sites/3/2023/12/chart.png", 1), ("uploads/sites/3/2023/12/cover.png", 2), ("uploads/sites/3/2023/11/map.png", 3)]
    {
        let img = image::RgbImage::from_fn(1600, 900, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, (seed * 60) as u8]));
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
        r.write_bytes(rel, &bytes);
    }
    import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads"]);
    r.ok(&["build", "--site", "daily"]);
    let page = doc(&r.read("public/daily/2023/12/기준금리/index.html"));
    let sources = select(&page, "article picture source[type='image/webp']");
    assert!(!sources.is_empty(), "{}", page.html());
    let rules = redirects(&r, "daily");
    for old in ["chart.png", "chart-800x450.png"] {
        let to = &rules[&format!("/wp-content/uploads/sites/3/2023/12/{old}")];
        assert!(to.starts_with("/images/") && to.ends_with(".png"), "{old} → {to}");
        let fallback = image::open(r.path(&format!("public/daily{to}"))).unwrap();
        assert_eq!(fallback.width(), 1200, "the fallback is `social` wide");
    }
}

/// Hardening round 2, case 1: a symbolic link to a folder outside
/// `--uploads` was followed, and what it held was published; a linked file
/// was refused but reported only as missing.
#[test]
fn uploads_reached_through_symbolic_links_are_refused_and_reported_as_such() {
    let r = Repo::fixture("import");
    let export = korean_export(&r);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("map.png"), "secret text named .png").unwrap();
    std::fs::write(outside.path().join("chart.png"), "secret text named .png").unwrap();
    std::fs::remove_dir_all(r.path("uploads/sites/3/2023/11")).unwrap();
    std::os::unix::fs::symlink(outside.path(), r.path("uploads/sites/3/2023/11")).unwrap();
    std::fs::remove_file(r.path("uploads/sites/3/2023/12/chart.png")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("chart.png"), r.path("uploads/sites/3/2023/12/chart.png")).unwrap();
    let report = import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads"]);
    let missing = report["images"]["missing"].as_array().unwrap();
    let refused: Vec<&str> = missing.iter().filter_map(|m| m["refused"].as_str()).collect();
    assert!(refused.iter().any(|w| w.contains("2023/11 in the uploads folder is a symbolic link")), "{report}");
    let leaked: Vec<String> =
        r.listing().into_iter().filter(|p| p.starts_with("content/") && (p.ends_with("map.png") || p.ends_with("/chart.png"))).collect();
    // The chart's resized copies are still real files; the linked original is not taken.
    for p in &leaked {
        assert_ne!(std::fs::read(r.path(p)).unwrap(), b"secret text named .png", "{p} came from outside the uploads folder");
    }
}

/// #24 case 5: a `javascript:` blog URL is refused before anything is
/// written, and `--dry-run` refuses it too.
#[test]
fn a_javascript_blog_url_is_refused_before_anything_is_written() {
    let r = Repo::fixture("import");
    let export = korean_export(&r);
    r.edit(&export, &format!("<wp:base_blog_url>{SITE}</wp:base_blog_url>"), "<wp:base_blog_url>javascript:alert(1)</wp:base_blog_url>");
    let before = tree(&r, "");
    for dry in [true, false] {
        let mut args = vec!["import", "wordpress", &export, "--site", "daily", "--uploads", "uploads"];
        if dry {
            args.push("--dry-run");
        }
        let out = r.run(&args);
        assert_eq!(out.status.code(), Some(2), "dry run {dry}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("export.xml") && err.contains("base_url") && err.contains("nothing was written"), "{err}");
        assert_eq!(tree(&r, ""), before, "dry run {dry}: something was written");
    }
}

/// #24 case 5: a draft without a slug whose Korean title is 300 bytes, and
/// a post whose slug is 200 Hangul syllables (600 bytes): both import
/// under names a file system takes, and the site builds.
#[test]
fn a_300_byte_korean_title_without_a_slug_imports_and_builds() {
    let r = Repo::fixture("import");
    let export = korean_export(&r);
    let long_title = "가".repeat(100);
    r.edit(&export, "<![CDATA[초안]]></title>", &format!("<![CDATA[{long_title}]]></title>"));
    let long_slug: String = "%eb%82%98".repeat(200); // 나 × 200
    r.edit(&export, "<wp:post_name><![CDATA[%ec%a7%80%eb%8f%84]]>", &format!("<wp:post_name><![CDATA[{long_slug}]]>"));
    let report = import_json(&r, &[&export, "--site", "daily", "--uploads", "uploads"]);
    assert_eq!(report["imported"]["drafts"], 1, "{report}");
    for (path, _) in tree(&r, "content/daily") {
        for part in path.split('/') {
            assert!(part.len() <= 200, "{path}: a name of {} bytes", part.len());
        }
    }
    let bundles: Vec<String> = tree(&r, "content/daily").into_keys().filter(|p| p.ends_with("/index.md")).collect();
    assert!(bundles.iter().any(|p| p.contains(&"가".repeat(66))), "the draft keeps its title as slug: {bundles:?}");
    assert!(bundles.iter().any(|p| p.contains(&"나".repeat(66))), "{bundles:?}");
    r.ok(&["build", "--site", "daily", "--drafts"]);
}

/// #24 case 8c: WordPress's block test export, imported as a new site,
/// builds: items whose URL would be a page gen generates (`/categories/`,
/// `/tags/`, `/search/`) get the next free URL, reported.
#[test]
fn the_block_test_export_imported_as_a_new_site_builds() {
    let r = Repo::fixture("import");
    let report = import_json(&r, &[&shared("64-block-test-data.xml"), "--site", "fresh"]);
    assert_eq!(report["site_added"], true);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("placed at the next free URL"), "{warnings}");
    r.ok(&["build", "--site", "fresh"]);
    // The generated pages are gen's own, not an imported item's.
    let tags = r.read("public/fresh/tags/index.html");
    assert!(!tags.contains("wp-block") && tags.contains("<a"), "/tags/ is gen's list of tags");
    r.ok(&["check", "--site", "fresh"]);
}

/// #24 case 8e: sections the importer makes are named as their categories
/// were (not `6-1` or `block`), and definition lists stay lists.
#[test]
fn imported_sections_carry_their_category_names() {
    let r = Repo::fixture("import");
    import_json(&r, &[&shared("themeunittestdata.wordpress.xml"), "--site", "wptest"]);
    assert_eq!(r.read("content/wptest/6-1/_index.md"), "---\ntitle: '6.1'\n---\n");
    assert_eq!(r.read("content/wptest/block/_index.md"), "---\ntitle: Block\n---\n");
    r.ok(&["build", "--site", "wptest"]);
    let home = r.read("public/wptest/index.html");
    let nav: Vec<String> = select(&doc(&home), "nav a").iter().map(|a| a.text().collect::<String>().trim().to_string()).collect();
    assert!(nav.iter().any(|t| t == "6.1") && nav.iter().any(|t| t == "Block"), "{nav:?}");
    assert!(!nav.iter().any(|t| t == "6-1" || t == "block"), "{nav:?}");
    // Importing again changes nothing, the section pages included.
    let again = import_json(&r, &[&shared("themeunittestdata.wordpress.xml"), "--site", "wptest"]);
    assert_eq!(again["files"]["created"], 0, "{again}");
    assert_eq!(again["files"]["updated"], 0, "{again}");
}

/// Found by a new user: an imported article deleted, or moved to another
/// section, came back with the next import of the same export (the moved
/// one then had its URL twice and the build failed).
#[test]
fn a_second_import_does_not_bring_back_what_was_deleted_or_moved() {
    let r = Repo::fixture("import");
    let export = shared("themeunittestdata.wordpress.xml");
    import_json(&r, &[&export, "--site", "wptest"]);
    std::fs::remove_dir_all(r.path("content/wptest/classic/template-sticky")).unwrap();
    std::fs::rename(r.path("content/wptest/classic/post-format-link"), r.path("content/wptest/block/post-format-link")).unwrap();
    let again = import_json(&r, &[&export, "--site", "wptest"]);
    assert_eq!(again["files"]["created"], 0, "{again}");
    let removed: Vec<&str> = again["files"]["removed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(removed, ["content/wptest/classic/post-format-link/index.md", "content/wptest/classic/template-sticky/index.md"], "{again}");
    assert!(!r.exists("content/wptest/classic/template-sticky") && !r.exists("content/wptest/classic/post-format-link"));
    r.ok(&["build", "--site", "wptest"]);
    // And the third import remembers them still; `--force` brings them back.
    let third = import_json(&r, &[&export, "--site", "wptest"]);
    assert_eq!(third["files"]["removed"].as_array().unwrap().len(), 2, "{third}");
    import_json(&r, &[&export, "--site", "wptest", "--force"]);
    assert!(r.exists("content/wptest/classic/template-sticky/index.md"));
    // (Review: a file that cannot be read is an error, never written over.)
    r.remove("content/wptest/classic/template-sticky/index.md");
    std::fs::create_dir(r.path("content/wptest/classic/template-sticky/index.md")).unwrap();
    let err = r.fails(&["import", "wordpress", &export, "--site", "wptest"]);
    assert!(err.contains("cannot read") && err.contains("template-sticky/index.md"), "{err}");
    assert!(r.path("content/wptest/classic/template-sticky/index.md").is_dir());
}

/// A minimal export of `blog` with `items` (`<item>` bodies without the
/// namespaces' boilerplate).
fn small_export(r: &Repo, blog: &str, items: &[(u64, &str, &str, &str, &str)]) -> String {
    let mut xml = String::new();
    for (id, ty, name, link, date) in items {
        xml += &format!(
            "<item><title>{name} title</title><link>{link}</link><dc:creator>reporter</dc:creator><guid>{blog}/?p={id}</guid>\
<content:encoded><![CDATA[<p>Body of {name}.</p>]]></content:encoded><excerpt:encoded></excerpt:encoded><wp:post_id>{id}</wp:post_id>\
<wp:post_date>{date}</wp:post_date><wp:post_date_gmt>{date}</wp:post_date_gmt><wp:post_name>{name}</wp:post_name>\
<wp:status>publish</wp:status><wp:post_parent>0</wp:post_parent><wp:post_type>{ty}</wp:post_type></item>\n"
        );
    }
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<rss version=\"2.0\" xmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\" \
xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:wp=\"http://wordpress.org/export/1.2/\">\n<channel>\n\
<title>Old</title><link>{blog}</link><language>en</language><wp:wxr_version>1.2</wp:wxr_version><wp:base_blog_url>{blog}</wp:base_blog_url>\n{xml}</channel>\n</rss>\n"
    );
    r.write("small.xml", &text);
    "small.xml".into()
}

/// #24 case 8b: the year archive was a full copy of the old site at
/// `/2023backup`. Imported into the live site (base_url `/`, an archive
/// `until = 2023`), every old URL keeps its prefix: the archived About page
/// stays at `/2023backup/about/` and the live `/about/` is not claimed.
#[test]
fn an_export_of_the_year_archive_keeps_its_urls_under_the_prefix() {
    let r = Repo::fixture("archive");
    let blog = "https://news.example.com/2023backup";
    let export = small_export(
        &r,
        blog,
        &[
            (11, "post", "rates", &format!("{blog}/2023/12/rates/"), "2023-12-05 09:00:00"),
            (12, "page", "about", &format!("{blog}/about/"), "2023-01-02 09:00:00"),
        ],
    );
    let report = import_json(&r, &[&export, "--site", "news"]);
    assert_eq!(report["imported"]["pages"], 1, "{report}");
    r.ok(&["build", "--site", "news"]);
    let rules = redirects(&r, "news");
    assert!(!rules.contains_key("/about/"), "the live /about/ is not the archive's: {rules:?}");
    assert!(r.exists("public/news/2023backup/about/index.html"), "{:?}", r.listing());
    assert_eq!(rules.get("/2023backup/?page_id=12").map(String::as_str), Some("/2023backup/about/"), "{rules:?}");
    // The post's old URL leads to where the archive publishes it.
    let to = rules.get("/2023backup/2023/12/rates/").unwrap_or_else(|| panic!("{rules:?}"));
    assert!(to.starts_with("/2023backup/") && r.exists(&format!("public/news{to}index.html")), "{to}");
    assert!(!rules.contains_key("/?p=11") && !rules.contains_key("/?page_id=12"), "no ?p= of the live site claimed: {rules:?}");
}

/// #24 case 7: imports that succeeded but gave content the build refused:
/// an old image URL with `%20` (and other escapes), two uploads named
/// `café.png` in NFC and in NFD, a `javascript:` attachment as the featured
/// image. The import reports what it left out, and the result builds.
#[test]
fn hostile_upload_names_and_cover_urls_import_into_content_that_builds() {
    let r = Repo::fixture("import");
    let blog = "https://old.example.org";
    let up = format!("{blog}/wp-content/uploads/2023/12");
    r.write_bytes("uploads/2023/12/a b.png", &png(40, 30, "space"));
    r.write_bytes("uploads/2023/12/tab\tname.png", &png(40, 30, "tab"));
    r.write_bytes("uploads/2023/12/caf\u{e9}.png", &png(40, 30, "nfc"));
    r.write_bytes("uploads/2023/12/cafe\u{301}.png", &png(40, 30, "nfd"));
    let body = format!(
        "<p><img src=\"{up}/a%20b.png\" alt=\"space\"> <img src=\"{up}/tab%09name.png\" alt=\"tab\"> \
<img src=\"{up}/caf%C3%A9.png\" alt=\"nfc\"> <img src=\"{up}/cafe%CC%81.png\" alt=\"nfd\"></p>"
    );
    let item = |id: u64, ty: &str, name: &str, content: &str, extra: &str| {
        format!(
            "<item><title>{name}</title><link>{blog}/2023/12/{name}/</link><dc:creator>reporter</dc:creator><guid>{blog}/?p={id}</guid>\
<content:encoded><![CDATA[{content}]]></content:encoded><excerpt:encoded></excerpt:encoded><wp:post_id>{id}</wp:post_id>\
<wp:post_date>2023-12-05 09:00:00</wp:post_date><wp:post_date_gmt>2023-12-05 09:00:00</wp:post_date_gmt><wp:post_name>{name}</wp:post_name>\
<wp:status>publish</wp:status><wp:post_parent>0</wp:post_parent><wp:post_type>{ty}</wp:post_type>{extra}</item>\n"
        )
    };
    let items = item(5, "attachment", "evil", "", "<wp:attachment_url>javascript:alert(1)</wp:attachment_url>")
        + &item(
            6,
            "post",
            "photos",
            &body,
            "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key><wp:meta_value>5</wp:meta_value></wp:postmeta>",
        );
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<rss version=\"2.0\" xmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\" \
xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:wp=\"http://wordpress.org/export/1.2/\">\n<channel>\n\
<title>Old</title><link>{blog}</link><language>en</language><wp:wxr_version>1.2</wp:wxr_version><wp:base_blog_url>{blog}</wp:base_blog_url>\n{items}</channel>\n</rss>\n"
    );
    r.write("hostile.xml", &xml);
    let report = import_json(&r, &["hostile.xml", "--site", "hostile", "--uploads", "uploads"]);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("featured image javascript:alert(1) is not an http(s) URL"), "{report}");
    let md = r.read("content/hostile/posts/photos/index.md");
    assert!(!md.contains("javascript:"), "{md}");
    r.ok(&["build", "--site", "hostile"]);
    let rules = redirects(&r, "hostile");
    for old in ["a%20b.png", "tab%09name.png"] {
        let from = format!("/wp-content/uploads/2023/12/{old}");
        assert!(rules.get(&from).is_some_and(|to| to.starts_with("/images/")), "{from}: {rules:?}");
    }
    // Two files whose names differ only in normalisation are two images.
    let html = r.read("public/hostile/2023/12/photos/index.html");
    let srcs: std::collections::BTreeSet<String> =
        select(&doc(&html), "article img").iter().filter_map(|i| i.value().attr("src").map(str::to_string)).collect();
    assert_eq!(srcs.len(), 4, "{srcs:?}\n{}", r.read("content/hostile/posts/photos/index.md"));
}

/// Found by a new user: the theme unit test's `image-alignment-150x150.jpg`,
/// `-300x200`, `-580x300` and `-1200x4002` are four attachments, not copies
/// of one `image-alignment.jpg` (which is not there). Each took all four old
/// URLs, and the build failed on 52 redirects from one path to two images.
#[test]
fn files_named_like_copies_without_their_original_keep_their_own_old_urls() {
    let r = Repo::fixture("import");
    for (i, size) in ["580x300", "150x150", "300x200", "1200x4002"].into_iter().enumerate() {
        r.write_bytes(&format!("up/2013/03/image-alignment-{size}.jpg"), &png(64, 48, &format!("alignment-{i}")));
    }
    let up = r.path("up").to_string_lossy().into_owned();
    import_json(&r, &[&shared("themeunittestdata.wordpress.xml"), "--site", "wptest", "--uploads", &up]);
    r.ok(&["build", "--site", "wptest"]);
    let rules = redirects(&r, "wptest");
    let targets: BTreeSet<&String> = ["580x300", "150x150", "300x200", "1200x4002"]
        .iter()
        .filter_map(|s| rules.get(&format!("/2013/03/image-alignment-{s}.jpg")))
        .collect();
    assert_eq!(targets.len(), 4, "each old URL leads to its own image: {rules:?}");
}
