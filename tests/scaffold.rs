use crate::util::Repo;

#[test]
fn new_site_and_article_build() {
    let r = Repo::fixture("basic");
    r.ok(&["new", "site", "gamma"]);
    assert!(r.read("sites.toml").contains("name = \"gamma\""));
    r.ok(&["new", "article", "gamma/world/big-news"]);
    let article = r.read("content/gamma/world/big-news/index.md");
    assert!(article.contains("title: \"big news\"") && article.contains("draft: true"), "{article}");
    r.build();
    assert!(r.exists("public/gamma/news/welcome/index.html"));
    assert!(!r.exists("public/gamma/world/big-news/index.html"), "new articles start as drafts");
    r.ok(&["build", "--drafts"]);
    assert!(r.exists("public/gamma/world/big-news/index.html"));
}

#[test]
fn new_refuses_to_overwrite_or_guess() {
    let r = Repo::fixture("basic");
    assert!(r.fails(&["new", "site", "alpha"]).contains("already has a site named `alpha`"));
    assert!(r.fails(&["new", "site", "Bad Name"]).contains("not a valid site name"));
    assert!(r.fails(&["new", "article", "nosuch/news/x"]).contains("no site named `nosuch`"));
    assert!(r.fails(&["new", "article", "alpha/news"]).contains("expected SITE/SECTION/SLUG"));
    r.ok(&["new", "article", "alpha/news/x"]);
    assert!(r.fails(&["new", "article", "alpha/news/x"]).contains("already exists"));
}

#[test]
fn help_describes_every_command() {
    let r = Repo::fixture("basic");
    let help = r.ok(&["--help"]);
    assert!(help.contains("build") && help.contains("new"));
    let build = r.ok(&["build", "--help"]);
    for flag in ["--site", "--drafts", "--future", "--no-minify", "--output", "--quiet", "--json", "--clean", "--cache"] {
        assert!(build.contains(flag), "{flag} missing from build --help");
    }
}

fn gen_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_gen"))
        .args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1735689600")
        .output()
        .unwrap()
}

/// `gen init` makes a repository that builds, with the theme built into
/// the binary; `--theme` writes the theme out for editing.
#[test]
fn gen_init_makes_a_repository_that_builds_without_a_themes_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = gen_in(dir.path(), &["init", "site"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let site = dir.path().join("site");
    assert!(!site.join("themes").exists());
    let out = gen_in(&site, &["build"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(site.join("public/news/world/welcome/index.html")).unwrap();
    assert!(page.contains("Welcome") && page.contains("rel=stylesheet"), "{page}");
    // Again: refused, nothing overwritten.
    let out = gen_in(dir.path(), &["init", "site"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let out = gen_in(dir.path(), &["init", "with-theme", "--theme"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let themed = dir.path().join("with-theme");
    assert!(themed.join("themes/default/templates/article.html").is_file());
    assert!(themed.join("themes/default/i18n/ko.toml").is_file());
    // The written-out theme is the one that builds.
    let article = themed.join("themes/default/templates/article.html");
    let text = std::fs::read_to_string(&article).unwrap().replace("<article class=\"article\">", "<article class=\"article edited\">");
    std::fs::write(&article, text).unwrap();
    assert!(gen_in(&themed, &["build"]).status.success());
    assert!(std::fs::read_to_string(themed.join("public/news/world/welcome/index.html")).unwrap().contains("edited"));
}

/// `gen new site` in an empty folder used to leave a project whose build failed.
#[test]
fn new_site_in_an_empty_folder_builds() {
    let dir = tempfile::tempdir().unwrap();
    assert!(gen_in(dir.path(), &["new", "site", "blog"]).status.success());
    let out = gen_in(dir.path(), &["build"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("public/blog/news/welcome/index.html").is_file());
}
