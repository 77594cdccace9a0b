use std::os::unix::fs::MetadataExt;

use crate::util::{Repo, png};

/// The published path of an image's bytes, e.g. `/images/ab/cd/<hash>.png`.
fn published_url(bytes: &[u8], ext: &str) -> String {
    let hash = blake3::hash(bytes).to_hex().to_string();
    format!("/images/{}/{}/{hash}.{ext}", &hash[..2], &hash[2..4])
}

#[test]
fn images_are_published_once_at_sharded_content_addressed_paths() {
    let r = Repo::fixture("basic");
    r.ok(&["build", "--no-minify"]);
    let images: Vec<String> = r.listing().into_iter().filter(|p| p.starts_with("public/alpha/images/")).collect();
    // photo.png and same.png have the same bytes: one file.
    assert_eq!(images.len(), 1, "{images:?}");
    let hash = blake3::hash(&std::fs::read(r.path("content/alpha/news/first-story/photo.png")).unwrap()).to_hex().to_string();
    let expected = format!("public/alpha/images/{}/{}/{hash}.png", &hash[..2], &hash[2..4]);
    assert_eq!(images[0], expected);
    let html = r.read("public/alpha/news/first-story/index.html");
    let url = expected.strip_prefix("public/alpha").unwrap();
    assert_eq!(html.matches(&format!("src=\"{url}\"")).count(), 2, "{html}");
}

#[test]
fn an_unreferenced_image_is_removed() {
    let r = Repo::fixture("basic");
    r.build();
    r.edit("content/alpha/news/first-story/index.md", "![사진](photo.png)\n\n![같은 사진](same.png)", "no pictures");
    r.build();
    assert!(r.listing().iter().all(|p| !p.starts_with("public/alpha/images/")), "{:?}", r.listing());
}

#[test]
fn a_missing_image_is_an_error_naming_article_line_and_place() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/pic.md", "---\ntitle: t\ndate: 2024-01-01\n---\n\nText.\n\n![x](nothere.png)\n");
    let err = r.fails(&["build"]);
    assert!(err.contains("content/alpha/news/pic.md:8: image `nothere.png` not found (looked in content/alpha/news/nothere.png)"), "{err}");
    assert!(!r.exists("public/alpha"), "the site is not published (the other one is)");
}

#[test]
fn path_traversal_is_rejected() {
    let r = Repo::fixture("basic");
    r.write(
        "content/alpha/news/evil.md",
        "---\ntitle: t\ndate: 2024-01-01\n---\n![x](../../../../../../etc/passwd.png)\n![y](../../beta/posts/x.png)\n",
    );
    let err = r.fails(&["build"]);
    assert!(err.contains("content/alpha/news/evil.md:5: `../../../../../../etc/passwd.png` climbs out"), "{err}");
    assert!(err.contains("content/alpha/news/evil.md:6: `../../beta/posts/x.png` points outside content/alpha"), "{err}");
}

#[test]
fn body_images_get_their_size_and_load_lazily_after_the_first() {
    let r = Repo::fixture("basic");
    r.ok(&["build", "--no-minify"]);
    let html = r.read("public/alpha/news/first-story/index.html");
    let url = published_url(&std::fs::read(r.path("content/alpha/news/first-story/photo.png")).unwrap(), "png");
    assert!(html.contains(&format!("<img src=\"{url}\" alt=\"사진\" width=\"8\" height=\"6\" />")), "{html}");
    assert!(
        html.contains(&format!("<img src=\"{url}\" alt=\"같은 사진\" width=\"8\" height=\"6\" loading=\"lazy\" decoding=\"async\" />")),
        "{html}"
    );
}

#[test]
fn a_cover_is_published_and_used_in_the_page_lists_feeds_and_og_image() {
    let r = Repo::fixture("basic");
    let cover = png(1200, 630, "cover");
    r.write_bytes("content/alpha/assets/covers/bank.png", &cover);
    r.edit("content/alpha/news/story-2.md", "title:", "image: /covers/bank.png\ntitle:");
    r.ok(&["build", "--no-minify"]);
    let url = published_url(&cover, "png");
    assert!(r.exists(&format!("public/alpha{url}")));
    let page = r.read("public/alpha/news/story-2/index.html");
    assert!(page.contains(&format!(r#"<meta property="og:image" content="https://alpha.example.com{url}">"#)), "{page}");
    assert!(page.contains(r#"<meta property="og:image:width" content="1200">"#), "{page}");
    assert!(page.contains(&format!(r#"<img class="cover" src="{url}" alt="" width="1200" height="630">"#)), "{page}");
    let lists =
        ["public/alpha/index.html", "public/alpha/page/2/index.html", "public/alpha/page/3/index.html"].map(|p| r.read(p)).join("\n");
    // In the list of its page and, on the front page, in its section's block too.
    assert!(lists.matches(&format!(r#"src="{url}""#)).count() >= 1, "list pages show the cover: {lists}");
    let rss = r.read("public/alpha/feed.xml");
    assert!(
        rss.contains(&format!(r#"<enclosure url="https://alpha.example.com{url}" length="{}" type="image/png"/>"#, cover.len())),
        "{rss}"
    );
    let atom = r.read("public/alpha/atom.xml");
    assert!(atom.contains(&format!(r#"<link rel="enclosure" href="https://alpha.example.com{url}""#)), "{atom}");
    // Site assets are not published wholesale: only the referenced image is.
    assert!(!r.exists("public/alpha/covers/bank.png"));
}

#[test]
fn a_missing_cover_is_an_error_on_the_image_line() {
    let r = Repo::fixture("basic");
    r.edit("content/alpha/news/story-2.md", "title:", "image: gone.png\ntitle:");
    let err = r.fails(&["build"]);
    assert!(
        err.contains("content/alpha/news/story-2.md:2: cover image `gone.png` not found (looked in content/alpha/news/gone.png)"),
        "{err}"
    );
}

#[test]
fn the_same_image_in_two_articles_is_stored_once() {
    let r = Repo::fixture("basic");
    let bytes = std::fs::read(r.path("content/alpha/news/first-story/photo.png")).unwrap();
    r.write_bytes("content/alpha/assets/shared.png", &bytes);
    r.edit("content/alpha/opinion/column.md", "\n---\n", "\n---\n![공유](/shared.png)\n");
    r.build();
    let images: Vec<String> = r.listing().into_iter().filter(|p| p.starts_with("public/alpha/images/")).collect();
    assert_eq!(images.len(), 1, "{images:?}");
    let url = published_url(&bytes, "png");
    assert!(r.read("public/alpha/opinion/column/index.html").contains(&url));
    assert!(r.read("public/alpha/news/first-story/index.html").contains(&url));
}

#[test]
fn raw_html_img_is_rewritten_where_raw_html_is_allowed() {
    let r = Repo::fixture("basic");
    let bytes = png(40, 30, "raw");
    r.write_bytes("content/beta/posts/raw.png", &bytes);
    r.edit("content/beta/posts/hello.md", "\n---\n", "\n---\n<img src=\"raw.png\" alt=\"raw\">\n");
    r.ok(&["build", "--no-minify"]);
    let html = r.read("public/beta/2023/05/hello/index.html");
    let url = format!("/beta{}", published_url(&bytes, "png"));
    assert!(html.contains(&format!(r#"<img src="{url}" width="40" height="30" alt="raw">"#)), "{html}");
}

/// Hardening round 2, case 9: images were published as hard links, so an
/// image optimiser writing into `public/` rewrote the article's source.
#[test]
fn a_write_into_a_published_image_never_reaches_its_source() {
    use std::io::Write as _;
    let r = Repo::fixture("basic");
    r.build();
    let src = r.path("content/alpha/news/first-story/photo.png");
    let before = std::fs::read(&src).unwrap();
    let published = r.path(&format!("public/alpha{}", published_url(&before, "png")));
    let (s, p) = (std::fs::metadata(&src).unwrap(), std::fs::metadata(&published).unwrap());
    assert_ne!((p.dev(), p.ino()), (s.dev(), s.ino()), "a clone or a copy, not the same file");
    // As `dd conv=notrunc` would: overwrite bytes in place.
    let mut f = std::fs::OpenOptions::new().write(true).open(&published).unwrap();
    f.write_all(b"XX").unwrap();
    drop(f);
    assert_eq!(std::fs::read(&src).unwrap(), before, "the source is untouched");
    // The next build notices the changed file and publishes it again.
    r.build();
    assert_eq!(std::fs::read(&published).unwrap(), before);
}

/// Case 9, the rest: a write that keeps the size and puts the mtime back
/// (an optimiser run over `public/`) is noticed through the change time,
/// which nothing can set back; the file is published again.
#[test]
fn a_published_image_rewritten_with_its_mtime_restored_is_published_again() {
    use std::io::Write as _;
    let r = Repo::fixture("basic");
    r.build();
    let bytes = std::fs::read(r.path("content/alpha/news/first-story/photo.png")).unwrap();
    let published = r.path(&format!("public/alpha{}", published_url(&bytes, "png")));
    let mtime = std::fs::metadata(&published).unwrap().modified().unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).open(&published).unwrap();
    f.write_all(b"XX").unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    assert_eq!(std::fs::read(&published).unwrap(), bytes, "published again: {v}");
}

/// Hard links share their source's change time: one site linking a shared
/// image again moves it for the other site's link, which must not publish
/// it again in turn (the two would take turns for ever): it is read again
/// and kept.
#[test]
fn hard_linked_images_are_not_published_again_by_every_build() {
    let r = Repo::fixture("basic");
    r.edit("sites.toml", "paginate = 2\n", "paginate = 2\nhard_links = true\n");
    let bytes = png(20, 10, "shared");
    r.write_bytes("assets/shared.png", &bytes);
    r.edit("content/alpha/news/story-2.md", "\n---\n", "\n---\n![both](/shared.png)\n");
    r.edit("content/beta/posts/hello.md", "\n---\n", "\n---\n![both](/shared.png)\n");
    // Written long ago: a file changed in the last second is read again by
    // every build anyway, which would hide what is tested.
    r.age();
    r.build();
    assert!(std::fs::metadata(r.path("assets/shared.png")).unwrap().nlink() >= 3, "linked by both sites");
    // Beta's link goes missing: beta links again, which moves alpha's ctime.
    r.remove(&format!("public/beta{}", published_url(&bytes, "png")));
    r.build();
    r.build();
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    for site in v["sites"].as_array().unwrap() {
        assert_eq!(site["files_written"], 0, "{site}");
    }
}

#[test]
fn hard_links_is_an_explicit_choice() {
    let r = Repo::fixture("basic");
    r.edit("sites.toml", "paginate = 2\n", "paginate = 2\nhard_links = true\n");
    r.build();
    let source = std::fs::metadata(r.path("content/alpha/news/first-story/photo.png")).unwrap();
    let url = published_url(&std::fs::read(r.path("content/alpha/news/first-story/photo.png")).unwrap(), "png");
    let published = std::fs::metadata(r.path(&format!("public/alpha{url}"))).unwrap();
    assert_eq!((published.dev(), published.ino()), (source.dev(), source.ino()), "same inode: no copy");
    // Switched off again, the links are replaced (review of #21).
    r.edit("sites.toml", "hard_links = true\n", "");
    r.build();
    let published = std::fs::metadata(r.path(&format!("public/alpha{url}"))).unwrap();
    assert_ne!((published.dev(), published.ino()), (source.dev(), source.ino()), "no longer the same file");
}

#[test]
fn images_are_copied_when_the_output_is_on_another_file_system() {
    let r = Repo::fixture("basic");
    let shm = tempfile::tempdir_in("/dev/shm").expect("/dev/shm (tmpfs) for a second file system");
    assert_ne!(std::fs::metadata(shm.path()).unwrap().dev(), std::fs::metadata(r.root()).unwrap().dev(), "need two file systems");
    let out = shm.path().join("public");
    r.ok(&["build", "--output", out.to_str().unwrap()]);
    let src = r.path("content/alpha/news/first-story/photo.png");
    let bytes = std::fs::read(&src).unwrap();
    let copy = out.join(format!("alpha{}", published_url(&bytes, "png")));
    assert_eq!(std::fs::read(&copy).unwrap(), bytes);
    assert_eq!(std::fs::metadata(&copy).unwrap().nlink(), 1, "a copy, not a link");
    // A second build copies nothing again.
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json", "--output", out.to_str().unwrap()])).unwrap();
    assert_eq!(v["sites"][0]["files_written"], 0, "{v}");
}

#[test]
fn an_image_changed_in_place_is_republished_and_the_article_rerendered() {
    let r = Repo::fixture("basic");
    r.build();
    let before = r.snapshot("public");
    // Replace the file (as an image editor saving a new version would).
    let new = png(16, 9, "edited");
    r.remove("content/alpha/news/first-story/photo.png");
    r.write_bytes("content/alpha/news/first-story/photo.png", &new);
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    let alpha = &v["sites"][0];
    assert_eq!(alpha["pages_rendered"], 1, "only the article that shows it: {alpha}");
    let html = r.read("public/alpha/news/first-story/index.html");
    assert!(html.contains(&published_url(&new, "png")), "{html}");
    // same.png still has the old bytes, so the old image stays too.
    let after = r.snapshot("public");
    let images = |s: &crate::util::Snapshot| s.keys().filter(|k| k.starts_with("alpha/images/")).count();
    assert_eq!((images(&before), images(&after)), (1, 2));
}

#[test]
fn fingerprinted_asset_urls_change_with_the_asset() {
    let r = Repo::fixture("basic");
    r.ok(&["build", "--no-minify"]);
    let style_link = |r: &Repo| {
        let html = r.read("public/alpha/index.html");
        let start = html.find("href=\"/style.").expect("fingerprinted stylesheet link") + 6;
        html[start..start + html[start..].find('"').unwrap()].to_string()
    };
    let first = style_link(&r);
    assert!(first.len() == "/style..css".len() + 16, "{first}");
    assert!(r.exists(&format!("public/alpha{first}")));
    assert!(!r.exists("public/alpha/style.css"));
    r.write("themes/default/static/style.css", &(r.read("themes/default/static/style.css") + "\nbody { color: red; }\n"));
    r.ok(&["build", "--no-minify"]);
    let second = style_link(&r);
    assert_ne!(first, second);
    assert!(r.exists(&format!("public/alpha{second}")) && !r.exists(&format!("public/alpha{first}")), "old name removed");
    assert!(r.read("public/alpha/_headers").contains(&format!("{second}\n  Cache-Control: public, max-age=31536000, immutable")));
}

#[test]
fn shared_assets_are_published_to_every_site_with_css_urls_rewritten() {
    let r = Repo::fixture("basic");
    r.write("assets/fonts/body.woff2", "font bytes");
    r.write("assets/site.css", "@font-face { src: url(fonts/body.woff2); }");
    r.write("assets/notes.txt", "kept as is");
    r.write_bytes("assets/big-photo.png", &png(1, 1, "unused"));
    r.write(
        "themes/default/templates/404.html",
        "{% extends \"base.html\" %}{% block content %}<link href=\"{{ asset_url(path='site.css') }}\">{% endblock content %}",
    );
    r.ok(&["build", "--no-minify"]);
    for site in ["alpha", "beta"] {
        let font = r.listing().into_iter().find(|p| p.starts_with(&format!("public/{site}/fonts/body."))).expect("font published");
        let font_name = font.rsplit('/').next().unwrap();
        let css_path = r.listing().into_iter().find(|p| p.starts_with(&format!("public/{site}/site."))).expect("css published");
        assert!(r.read(&css_path).contains(&format!("url(\"fonts/{font_name}\")")), "{}", r.read(&css_path));
        assert_eq!(r.read(&format!("public/{site}/notes.txt")), "kept as is");
        assert!(!r.exists(&format!("public/{site}/big-photo.png")), "unreferenced images in assets/ are not published");
    }
    let page = r.read("public/beta/404.html");
    assert!(page.contains("href=\"/beta/site."), "asset_url includes the base path: {page}");
}

#[test]
fn an_unknown_asset_is_a_template_error() {
    let r = Repo::fixture("basic");
    r.write("themes/default/templates/404.html", "{{ asset_url(path='nope.css') }}");
    let err = r.fails(&["build"]);
    assert!(err.contains("themes/default/templates/404.html") && err.contains("asset_url: no asset `nope.css`"), "{err}");
}

#[test]
fn headers_file_gives_immutable_and_short_cache_rules_that_never_overlap() {
    let r = Repo::fixture("basic");
    r.build();
    let headers = r.read("public/beta/_headers");
    let rules: Vec<(&str, &str)> =
        headers.split('\n').collect::<Vec<_>>().windows(2).filter(|w| w[0].starts_with('/')).map(|w| (w[0], w[1].trim())).collect();
    let rule = |path: &str| rules.iter().find(|(p, _)| *p == path).map(|(_, h)| *h);
    assert_eq!(rule("/beta/images/*"), Some("Cache-Control: public, max-age=31536000, immutable"), "{headers}");
    assert_eq!(rule("/beta/"), Some("Cache-Control: public, max-age=300, must-revalidate"), "{headers}");
    assert_eq!(rule("/beta/2023/*"), Some("Cache-Control: public, max-age=300, must-revalidate"), "{headers}");
    assert_eq!(rule("/beta/feed.xml"), Some("Cache-Control: public, max-age=300, must-revalidate"), "{headers}");
    assert!(rules.iter().any(|(p, h)| p.starts_with("/beta/style.") && h.contains("immutable")), "{headers}");
    assert!(!rules.iter().any(|(p, _)| *p == "/beta/*" || *p == "/*"), "no catch-all rule: {headers}");
    // Each rule once, and no short rule covers an immutable path.
    let paths: std::collections::BTreeSet<_> = rules.iter().map(|(p, _)| p).collect();
    assert_eq!(paths.len(), rules.len());
}

/// Found by a new user: an SVG in an article had no `width`/`height`.
#[test]
fn an_svg_is_published_with_its_size() {
    let r = Repo::fixture("basic");
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"100\"><rect width=\"200\" height=\"100\"/></svg>";
    r.write_bytes("content/alpha/news/first-story/chart.svg", svg);
    r.edit("content/alpha/news/first-story/index.md", "![사진](photo.png)", "![도표](chart.svg)\n\n![사진](photo.png)");
    r.build();
    let html = scraper::Html::parse_document(&r.read("public/alpha/news/first-story/index.html"));
    let img = html.select(&scraper::Selector::parse("img[alt='도표']").unwrap()).next().expect("the SVG's img");
    assert_eq!(img.attr("src"), Some(published_url(svg, "svg").as_str()));
    assert_eq!((img.attr("width"), img.attr("height")), (Some("200"), Some("100")));
}
