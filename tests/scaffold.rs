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
