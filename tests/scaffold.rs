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

/// Newsroom's first week: `gen build` inside `content/news` failed to find
/// `sites.toml`; Hugo, Zola and git look in the parent folders.
#[test]
fn gen_build_inside_a_content_folder_finds_sites_toml_in_a_parent() {
    let r = Repo::fixture("basic");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gen"))
        .arg("build")
        .current_dir(r.path("content/alpha/news"))
        .env("SOURCE_DATE_EPOCH", "1735689600")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(r.exists("public/alpha/index.html") && !r.exists("content/alpha/news/public"));
    // `init` never looks upwards: a new repository goes where it is asked for.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gen")).arg("init").current_dir(r.path("content/alpha/news")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(r.exists("content/alpha/news/sites.toml"));
}

/// Newsroom's first week: `gen new site` gave title = name, no language and
/// an English welcome article; `gen new article` dated drafts in UTC.
#[test]
fn new_site_with_flags_is_a_korean_site_and_new_articles_use_its_time_zone() {
    let r = Repo::fixture("basic");
    let flags = [
        "new",
        "site",
        "seoul",
        "--title",
        "서울: 데일리",
        "--language",
        "ko",
        "--timezone",
        "Asia/Seoul",
        "--base-url",
        "https://seoul.example.kr/",
    ];
    r.ok(&flags);
    let config = r.read("sites.toml");
    assert!(config.contains("title = \"서울: 데일리\"") && config.contains("timezone = \"Asia/Seoul\""), "{config}");
    let welcome = r.read("content/seoul/news/welcome/index.md");
    // SOURCE_DATE_EPOCH of the harness: 2025-01-01T00:00:00Z, 09:00 in Seoul.
    assert!(welcome.contains("date: 2025-01-01T09:00:00+09:00") && welcome.contains("환영합니다"), "{welcome}");
    r.ok(&["new", "article", "seoul/economy/rate"]);
    let article = r.read("content/seoul/economy/rate/index.md");
    assert!(article.contains("date: 2025-01-01T09:00:00+09:00") && article.contains("여기에 기사를 쓰세요"), "{article}");
    r.build();
    assert!(
        r.read("public/seoul/news/welcome/index.html").contains("lang=\"ko\"")
            || r.read("public/seoul/news/welcome/index.html").contains("lang=ko")
    );
    // A bad zone is refused before anything is written.
    let before = r.read("sites.toml");
    let err = r.fails(&["new", "site", "busan", "--timezone", "Asia/Busan"]);
    assert!(err.contains("unknown `timezone` `Asia/Busan`"), "{err}");
    assert_eq!(r.read("sites.toml"), before);
    assert!(!r.exists("content/busan"));
}

/// Newsroom's first week: editing the built-in theme meant making a
/// throw-away repository and copying its theme.
#[test]
fn theme_eject_writes_the_built_in_theme_and_never_overwrites() {
    let r = Repo::fixture("basic");
    std::fs::remove_dir_all(r.path("themes")).unwrap();
    r.write("themes/default/templates/article.html", "mine");
    let out = r.ok(&["theme", "eject"]);
    assert!(out.contains("left 1 file already there"), "{out}");
    assert_eq!(r.read("themes/default/templates/article.html"), "mine");
    assert!(r.exists("themes/default/templates/base.html") && r.exists("themes/default/static/style.css"));
    let again = r.ok(&["theme", "eject"]);
    assert!(!again.contains("created"), "{again}");
}
