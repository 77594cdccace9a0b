//! Content that tries to reach too far or break the output (issue #13,
//! cases 10–22; each test is named after its case).

use crate::util::{Repo, png};

fn article(title_extra: &str, body: &str) -> String {
    format!("---\ntitle: Probe\ndate: 2024-03-01\n{title_extra}---\n\n{body}\n")
}

#[test]
fn symlink_escape_through_a_dot_named_folder_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.png"), png(2, 2, "secret")).unwrap();
    let cases = [
        ("content/alpha/news/.cache", article("", "![x](.cache/secret.png)")),
        ("content/alpha/news/.cache", article("image: .cache/secret.png\n", "Text.")),
        ("assets/.shared", article("", "![x](/.shared/secret.png)")),
        ("content/alpha/assets/.shared", article("image: /.shared/secret.png\n", "Text.")),
    ];
    for (link, text) in cases {
        let r = Repo::fixture("basic");
        std::fs::create_dir_all(r.path(link).parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(outside.path(), r.path(link)).unwrap();
        r.write("content/alpha/news/probe.md", &text);
        let err = r.fails(&["build"]);
        assert!(err.contains("content/alpha/news/probe.md:") && err.contains("symbolic link"), "{link}: {err}");
        assert!(!r.exists("public/alpha"), "nothing published");
    }
}

#[test]
fn javascript_in_an_image_or_an_avatar_is_refused() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/probe.md", &article("image: \"javascript:alert(1)\"\n", "Text."));
    let err = r.fails(&["build"]);
    assert!(err.contains("content/alpha/news/probe.md:4") && err.contains("javascript:alert(1)"), "{err}");
    r.write("content/alpha/news/probe.md", &article("image: \"data:image/png;base64,AAAA\"\n", "Text."));
    assert!(r.fails(&["build"]).contains("data:image/png"));
    r.write("content/alpha/news/probe.md", &article("image: https://cdn.example.com/a.jpg\n", "Text."));
    r.build();

    let authors = r.read("content/authors.yaml");
    r.write("content/authors.yaml", &format!("{authors}\nmallory:\n  name: Mallory\n  avatar: \"javascript:alert(1)\"\n"));
    let err = r.fails(&["build"]);
    assert!(err.contains("content/authors.yaml:") && err.contains("avatar of `mallory`"), "{err}");
}

/// 2,500 nested `>` and the like aborted the process (stack overflow in
/// the HTML minifier), killing `gen serve --watch` with it.
#[test]
fn deep_nesting_is_an_error_naming_the_file_and_line_not_a_crash() {
    let list: Vec<String> = (0..1200).map(|i| format!("{}- a", "  ".repeat(i))).collect();
    let cases = [
        ("alpha", format!("Intro.\n\n{}x", "> ".repeat(2500)), 8),
        ("alpha", list.join("\n"), 105),
        ("alpha", format!("{}x{}", "*".repeat(5000), "*".repeat(5000)), 6),
        ("beta", format!("{}x{}", "<div>".repeat(3000), "</div>".repeat(3000)), 6),
    ];
    for (site, body, line) in cases {
        let r = Repo::fixture("basic");
        let dir = if site == "alpha" { "news" } else { "posts" };
        r.write(&format!("content/{site}/{dir}/deep.md"), &article("", &body));
        let out = r.run(&["build"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "an error, not a crash: {err}");
        assert!(err.contains(&format!("content/{site}/{dir}/deep.md:{line}: nesting")), "{err}");
    }
    // Nesting a writer might use is fine.
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/deep.md", &article("", &format!("{}x", "> ".repeat(50))));
    r.build();
}

#[test]
fn control_characters_in_a_title_or_body_keep_every_xml_output_well_formed() {
    let r = Repo::fixture("basic");
    r.write(
        "content/alpha/news/probe.md",
        "---\ntitle: \"Red \\e[31m alert \\x01\\x08\"\ndate: 2024-03-01\nsummary: \"bell \\a here\"\n---\n\nBody \u{1}with\u{8} controls \u{1b}.\n",
    );
    r.write("content/alpha/news/probe2.md", "---\ntitle: Two\ndate: 2024-03-02\n---\n\nNUL \u{0} and ESC \u{1b} in the first paragraph.\n");
    r.build();
    for f in ["feed.xml", "atom.xml", "sitemap.xml"] {
        crate::util::xmllint(None, &r.path(&format!("public/alpha/{f}")));
    }
    let feed = r.read("public/alpha/feed.xml");
    assert!(feed.contains("Red [31m alert"), "the text stays, the control characters go: {feed}");
}

/// A 50 MB one-paragraph article gave a 262 MB page and 52 MB feeds:
/// derived summaries are capped (here with 2 MB, to keep the test quick).
#[test]
fn a_huge_one_paragraph_article_gets_a_capped_summary() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/huge.md", &article("", &"많은 단어 ".repeat(350_000)));
    r.build();
    let html = r.read("public/alpha/news/huge/index.html");
    let doc = scraper::Html::parse_document(&html);
    let description = doc
        .select(&scraper::Selector::parse("meta[name=description]").unwrap())
        .next()
        .and_then(|m| m.value().attr("content"))
        .unwrap()
        .to_string();
    assert!(description.chars().count() <= 301 && description.ends_with('…'), "{description}");
    assert!(std::fs::metadata(r.path("public/alpha/feed.xml")).unwrap().len() < 100_000);
    assert!(std::fs::metadata(r.path("public/alpha/index.html")).unwrap().len() < 100_000);
}

/// A file and a tag named on macOS (NFD) give the URLs the same names typed
/// on Linux (NFC) give: one `tags/경제/`, `/news/résumé/` not `re-sume`.
#[test]
fn nfd_file_names_and_tags_give_the_nfc_urls() {
    let r = Repo::fixture("basic");
    let nfd_tag = "\u{1100}\u{1167}\u{11BC}\u{110C}\u{1166}"; // 경제, decomposed
    r.write("content/alpha/news/re\u{301}sume\u{301}.md", &article(&format!("tags: [{nfd_tag}]\n"), "Text."));
    r.build();
    assert!(r.exists("public/alpha/news/résumé/index.html"), "{:?}", r.listing());
    let tag_dirs: Vec<String> = std::fs::read_dir(r.path("public/alpha/tags"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains('경') || n.contains('\u{1100}'))
        .collect();
    assert_eq!(tag_dirs, ["경제"]);
    let page = r.read("public/alpha/tags/경제/index.html");
    assert!(page.contains("/news/résumé/") || page.contains("/news/r%C3%A9sum%C3%A9/"), "the NFD article is listed with the others");
}

#[test]
fn duplicate_authors_are_listed_once() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/probe.md", &article("author: kim\nauthors: [kim, kim]\ntags: [경제, 경제]\n", "Text."));
    r.build();
    let page = r.read("public/alpha/authors/kim/index.html");
    assert_eq!(page.matches("/news/probe/").count(), 1, "{page}");
    let html = r.read("public/alpha/news/probe/index.html");
    let doc = scraper::Html::parse_document(&html);
    let ld = doc.select(&scraper::Selector::parse("script[type='application/ld+json']").unwrap()).next().unwrap().inner_html();
    let ld: serde_json::Value = serde_json::from_str(&ld).unwrap();
    assert_eq!(ld["author"].as_array().map(Vec::len), Some(1), "{ld}");
    let tag_page = r.read("public/alpha/tags/경제/index.html");
    assert_eq!(tag_page.matches("/news/probe/").count(), 1);
}

/// With more articles than `feed_limit`, `updated:` on an older article
/// changes the feed's date in a clean build: the incremental one must see it.
#[test]
fn updated_on_an_article_outside_the_feed_changes_the_feed_date_incrementally() {
    let r = Repo::fixture("basic");
    r.edit("sites.toml", "paginate = 2", "paginate = 2\nfeed_limit = 1");
    r.build();
    r.edit("content/alpha/news/story-2.md", "date: 2024-01-12", "date: 2024-01-12\nupdated: 2024-12-30");
    r.build();
    assert!(r.read("public/alpha/atom.xml").contains("<updated>2024-12-30"), "{}", r.read("public/alpha/atom.xml"));
    crate::util::assert_same_as_clean_build(&r);
}

/// `gen check --external | head` panicked on the closed pipe (exit 101).
#[test]
fn gen_check_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt as _;
    let r = Repo::fixture("basic");
    r.build();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = r.command_at("1735689600", &["check", "--external"]).stdout(writer).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Ended by SIGPIPE (13), as `cat` or `grep` would be.
    assert!(out.status.signal() == Some(13) || out.status.success(), "{:?}: {stderr}", out.status);
}

/// Hardening round 2, case 11: `_headers` marks `images/*` immutable, so a
/// page there (a section named `images`) would be cached for a year.
#[test]
fn a_page_under_images_is_refused_naming_the_article() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/images/gallery.md", "---\ntitle: 갤러리\ndate: 2024-01-01\n---\n\n본문.\n");
    let err = r.fails(&["build"]);
    assert!(err.contains("content/alpha/images/gallery.md"), "{err}");
    assert!(err.contains("images/ is reserved for images"), "{err}");
    assert!(!r.exists("public/alpha"), "the site is not published (the other one is)");
}

/// #24 case 7: a section named like a page gen generates (`tags`,
/// `search`) is an error naming an article of it, not `sites.toml`.
#[test]
fn a_section_named_tags_or_search_is_an_error_naming_its_article() {
    for section in ["tags", "search"] {
        let r = Repo::fixture("basic");
        r.write(&format!("content/alpha/{section}/x.md"), "---\ntitle: x\ndate: 2024-01-01\ntags: [a]\n---\n\nx\n");
        let err = r.fails(&["build"]);
        assert!(err.contains(&format!("content/alpha/{section}/x.md")), "{section}: {err}");
        assert!(!err.contains("sites.toml"), "{section}: {err}");
    }
}
