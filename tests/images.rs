use crate::util::Repo;

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
    assert!(!r.exists("public"), "nothing was published");
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
