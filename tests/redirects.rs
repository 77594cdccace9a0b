use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::util::{Repo, free_port, http_get, xml_texts};

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

/// The archive fixture with HTML stubs asked for (hosts without
/// server-side redirects); they are not written by default.
fn with_stubs() -> Repo {
    let r = Repo::fixture("archive");
    r.edit("sites.toml", "[[sites.archives]]", "redirect_formats = [\"netlify\", \"json\", \"nginx\", \"html\"]\n\n[[sites.archives]]");
    r
}

#[test]
fn an_archive_split_at_2023_moves_old_articles_under_its_path() {
    let r = with_stubs();
    r.ok(&["build", "--no-minify"]);
    for (old, new) in [("world/w2021", "2023backup/world/w2021"), ("world/w2023", "2023backup/world/w2023")] {
        assert!(r.exists(&format!("public/news/{new}/index.html")), "{new}");
        // The live path keeps only a redirect stub.
        let stub = r.read(&format!("public/news/{old}/index.html"));
        assert!(stub.contains(&format!("url=/{new}/")), "{stub}");
    }
    assert!(r.exists("public/news/world/w2024/index.html"));
    // The archive is browsable on its own: index, section, taxonomy and author pages, with a banner.
    for page in
        ["2023backup/index.html", "2023backup/world/index.html", "2023backup/tags/old/index.html", "2023backup/authors/ann/index.html"]
    {
        let html = r.read(&format!("public/news/{page}"));
        assert!(
            html.contains("archive of articles up to 2023") && html.contains(r#"<a href="/">Go to the live site</a>"#),
            "{page}: {html}"
        );
    }
    let archive_home = r.read("public/news/2023backup/index.html");
    assert!(archive_home.contains("World 2021") && !archive_home.contains("World 2024"), "{archive_home}");
    // An archived article links to the archive's terms and author page.
    let old = r.read("public/news/2023backup/world/w2022/index.html");
    assert!(old.contains(r#"href="/2023backup/tags/old/""#) && old.contains(r#"href="/2023backup/authors/ann/""#), "{old}");
    // The live site lists live articles only; its own pages carry no banner.
    let home = r.read("public/news/index.html");
    assert!(home.contains("World 2024") && !home.contains("World 2023") && !home.contains("archive-banner"), "{home}");
    assert!(!r.read("public/news/tags/index.html").contains(">old<"));
    let feed_links = xml_texts(&r.read("public/news/feed.xml"), "link");
    assert!(feed_links.iter().all(|l| !l.contains("2023backup")), "{feed_links:?}");
    // The sitemap lists both.
    let locs = xml_texts(&r.read("public/news/sitemap.xml"), "loc");
    for url in [
        "https://news.example.com/world/w2024/",
        "https://news.example.com/2023backup/world/w2021/",
        "https://news.example.com/2023backup/",
    ] {
        assert!(locs.iter().any(|l| l == url), "{url} not in {locs:?}");
    }
    assert!(!locs.iter().any(|l| l == "https://news.example.com/world/w2021/"), "redirected paths are not in the sitemap");
}

#[test]
fn two_archives_split_by_year() {
    let r = Repo::fixture("archive");
    r.edit(
        "sites.toml",
        "[[sites.archives]]\nuntil = 2023\n",
        "[[sites.archives]]\nuntil = 2023\n\n[[sites.archives]]\nuntil = 2022\npath = \"old\"\n",
    );
    r.build();
    assert!(r.exists("public/news/old/world/w2021/index.html"));
    assert!(r.exists("public/news/old/world/w2022/index.html"));
    assert!(r.exists("public/news/2023backup/world/w2023/index.html"));
    assert!(!r.exists("public/news/2023backup/world/w2022/index.html"));
    assert!(r.exists("public/news/old/index.html") && r.exists("public/news/2023backup/index.html"));
    let redirects = r.read("public/news/_redirects");
    assert!(redirects.contains("/world/w2022/ /old/world/w2022/ 301"), "{redirects}");
    assert!(redirects.contains("/world/w2023/ /2023backup/world/w2023/ 301"), "{redirects}");
}

#[test]
fn manifests_list_every_redirect_in_each_format() {
    let r = Repo::fixture("archive");
    r.build();
    assert_eq!(
        lines(&r.read("public/news/_redirects")),
        [
            "/2023/09/w2023-old/ /2023backup/world/w2023/ 301",
            "/ p=123 /2023backup/world/w2023/ 301!",
            "/old-section/ /tech/ 301",
            "/old-tech.html /tech/t2024/ 301",
            "/press/ https://press.example.org/ 301",
            "/tech/moved/ https://lab.example.com/papers/moved/ 301",
            "/world/w2021/ /2023backup/world/w2021/ 301",
            "/world/w2022/ /2023backup/world/w2022/ 301",
            "/world/w2023/ /2023backup/world/w2023/ 301",
        ]
    );
    let map_text = r.read("public/news/redirects.map");
    let map = lines(&map_text);
    assert_eq!(map.len(), 16, "{map:?}");
    assert!(map.contains(&r#""/?p=123" "/2023backup/world/w2023/";"#), "{map:?}");
    assert!(map.contains(&r#""/world/w2021" "/2023backup/world/w2021/";"#), "{map:?}");
    assert!(map.contains(&r#""/old-tech.html" "/tech/t2024/";"#), "{map:?}");
    let json: serde_json::Value = serde_json::from_str(&r.read("public/news/redirects.json")).unwrap();
    let rows: Vec<(String, String, u64, String)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["from"].as_str().unwrap().into(),
                o["to"].as_str().unwrap().into(),
                o["status"].as_u64().unwrap(),
                o["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 9);
    assert!(rows.contains(&("/?p=123".into(), "/2023backup/world/w2023/".into(), 301, "alias".into())));
    assert!(rows.contains(&("/world/w2021/".into(), "/2023backup/world/w2021/".into(), 301, "archive".into())));
    assert!(rows.contains(&("/tech/moved/".into(), "https://lab.example.com/papers/moved/".into(), 301, "moved".into())));
    assert!(rows.contains(&("/press/".into(), "https://press.example.org/".into(), 301, "config".into())));
    // Sites without redirects get no manifests.
    assert!(!r.exists("public/lab/_redirects"));
}

#[test]
fn the_html_stub_refreshes_links_and_is_not_indexed() {
    let r = with_stubs();
    r.build();
    let stub = r.read("public/news/2023/09/w2023-old/index.html");
    assert!(stub.contains(r#"<meta http-equiv="refresh" content="0; url=/2023backup/world/w2023/">"#), "{stub}");
    assert!(stub.contains(r#"<link rel="canonical" href="https://news.example.com/2023backup/world/w2023/">"#), "{stub}");
    assert!(stub.contains(r#"<meta name="robots" content="noindex">"#), "{stub}");
    assert!(stub.contains(r#"<a href="/2023backup/world/w2023/">"#), "{stub}");
    assert!(r.read("public/news/old-tech.html").contains("url=/tech/t2024/"));
    assert!(r.read("public/news/tech/moved/index.html").contains("url=https://lab.example.com/papers/moved/"));
    // With stubs beside them, Netlify needs the rules forced to answer 301.
    assert!(lines(&r.read("public/news/_redirects")).iter().all(|l| l.ends_with(" 301!")));
}

/// By default there are no stubs: a host with server-side redirects
/// (Netlify serves an existing file instead of an unforced rule) answers
/// with the 301 of the manifest. Checked with Netlify's own parser.
#[test]
fn netlify_answers_old_urls_with_the_301_not_a_stub() {
    let r = Repo::fixture("archive");
    r.build();
    let tools = tempfile::tempdir().unwrap();
    let install = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "netlify-redirect-parser@14.4.0"])
        .current_dir(tools.path())
        .output()
        .expect("npm");
    assert!(install.status.success(), "npm install: {}", String::from_utf8_lossy(&install.stderr));
    let script = r#"
        const { parseAllRedirects } = await import(process.cwd() + "/node_modules/netlify-redirect-parser/lib/index.js");
        const r = await parseAllRedirects({ redirectsFiles: [process.argv[1]], minimal: true });
        console.log(JSON.stringify(r));
    "#;
    let out = Command::new("node")
        .args(["--input-type=module", "-e", script])
        .arg(r.path("public/news/_redirects"))
        .current_dir(tools.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["errors"].as_array().unwrap().len(), 0, "{parsed}");
    let rules = parsed["redirects"].as_array().unwrap();
    let json: serde_json::Value = serde_json::from_str(&r.read("public/news/redirects.json")).unwrap();
    let expected = json.as_array().unwrap();
    assert_eq!(rules.len(), expected.len());
    for want in expected {
        let from = want["from"].as_str().unwrap().trim_start_matches("https://news.example.com");
        let (path, query) = from.split_once('?').unwrap_or((from, ""));
        let rule = rules
            .iter()
            .find(|r| {
                let q: Vec<String> = r["query"].as_object().unwrap().iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap())).collect();
                r["from"] == path && q.join("&") == query
            })
            .unwrap_or_else(|| panic!("no Netlify rule for {from}: {parsed}"));
        assert_eq!(rule["status"], 301, "{rule}");
        let to = want["to"].as_str().unwrap().trim_start_matches("https://news.example.com");
        assert_eq!(rule["to"], to, "{rule}");
        // Unforced, the rule only wins where no file is: there must be none.
        let file = if path.ends_with('/') { format!("{path}index.html") } else { path.to_string() };
        assert!(rule["force"] == true || !r.exists(&format!("public/news{file}")), "a file shadows {from}");
    }
}

#[test]
fn redirect_manifest_injection_through_an_alias_is_an_error() {
    let r = Repo::fixture("archive");
    r.write(
        "content/news/tech/new.md",
        "---\ntitle: New\ndate: 2024-05-01\naliases: [\"/?p=1&x\\n/* https://evil.example/ 200!\\n#\"]\n---\n\nText.\n",
    );
    let err = r.fails(&["build"]);
    assert!(err.contains("content/news/tech/new.md:4") && err.contains("control characters"), "{err}");
    r.edit("content/news/tech/new.md", "\\n/* https://evil.example/ 200!\\n#", " x");
    let err = r.fails(&["build"]);
    assert!(err.contains("spaces"), "{err}");
    // Config redirects too.
    let r = Repo::fixture("archive");
    r.edit("sites.toml", "from = \"/old-section/\"", "from = \"/old section/\"");
    let err = r.fails(&["build"]);
    assert!(err.contains("sites.toml") && err.contains("spaces"), "{err}");
}

/// `/x/%2e%2e/tech/` is `/tech/` to nginx: it must meet the live-page
/// check as `/tech/`, not slip past it.
#[test]
fn alias_with_escaped_dot_segments_is_refused() {
    let r = Repo::fixture("archive");
    r.write("content/news/tech/new.md", "---\ntitle: New\ndate: 2024-05-01\naliases: [\"/x/%2e%2e/tech/\"]\n---\n\nText.\n");
    let err = r.fails(&["build"]);
    assert!(err.contains("/x/%2e%2e/tech/") && err.contains("`..`"), "{err}");
    // Escaped letters meet the live-page check in the spelling pages have.
    r.edit("content/news/tech/new.md", "/x/%2e%2e/tech/", "/%74ech/");
    let err = r.fails(&["build"]);
    assert!(err.contains("hides a live page"), "{err}");
}

#[test]
fn off_site_redirect_targets_are_refused() {
    for to in ["/\\\\evil.example/x", "/\\t/evil.example/x", "//evil.example/x"] {
        let r = Repo::fixture("archive");
        r.edit("sites.toml", "to = \"/tech/\"", &format!("to = \"{to}\""));
        let err = r.fails(&["build"]);
        assert!(err.contains("sites.toml:") && err.contains("redirect target"), "{to}: {err}");
    }
}

#[test]
fn a_moved_article_is_published_only_on_its_new_site() {
    let r = Repo::fixture("archive");
    r.ok(&["build", "--no-minify"]);
    assert!(r.exists("public/lab/papers/moved/index.html"));
    assert!(!r.read("public/news/tags/new/index.html").contains("Moved away"));
    assert!(!r.read("public/news/sitemap.xml").contains("/tech/moved/"));
}

#[test]
fn only_listed_formats_are_written() {
    let r = Repo::fixture("archive");
    r.edit("sites.toml", "[[sites.archives]]", "redirect_formats = [\"netlify\"]\n\n[[sites.archives]]");
    r.build();
    assert!(r.exists("public/news/_redirects"));
    assert!(!r.exists("public/news/redirects.json") && !r.exists("public/news/redirects.map"));
    assert!(!r.exists("public/news/2023/09/w2023-old/index.html"));
    // The live path has no stub either: nothing is there.
    assert!(!r.exists("public/news/world/w2021/index.html"));
}

#[test]
fn chains_collapse_to_the_final_target() {
    let r = Repo::fixture("archive");
    // /older/ → /old-section/ → /tech/
    r.edit(
        "sites.toml",
        "[[sites]]\nname = \"lab\"",
        "[[sites.redirects]]\nfrom = \"/older\"\nto = \"/old-section/\"\n\n[[sites]]\nname = \"lab\"",
    );
    // An alias of an archived article's live path: → /world/w2021/ → /2023backup/world/w2021/
    r.edit("content/news/world/w2021.md", "tags:", "aliases: [/2021/old/]\ntags:");
    r.build();
    let redirects = r.read("public/news/_redirects");
    assert!(redirects.contains("/older/ /tech/ 301"), "{redirects}");
    assert!(redirects.contains("/2021/old/ /2023backup/world/w2021/ 301"), "{redirects}");
}

#[test]
fn a_redirect_loop_is_an_error_naming_both_sources() {
    let r = Repo::fixture("archive");
    r.edit("sites.toml", "[[sites]]\nname = \"lab\"", "[[sites.redirects]]\nfrom = \"/a/\"\nto = \"/b/\"\n\n[[sites.redirects]]\nfrom = \"/b/\"\nto = \"/a/\"\n\n[[sites]]\nname = \"lab\"");
    let err = r.fails(&["build"]);
    assert!(err.contains("sites.toml:17: redirect from /a/ loops back to itself through /b/ (declared at sites.toml:21)"), "{err}");
    assert!(!r.exists("public/news"), "the site is not published (the other one is)");
}

#[test]
fn a_redirect_from_a_live_page_is_an_error_naming_both_sources() {
    let r = Repo::fixture("archive");
    r.edit("content/news/tech/t2024b.md", "tags:", "aliases: [/world/w2024/]\ntags:");
    let err = r.fails(&["build"]);
    assert!(
        err.contains("content/news/tech/t2024b.md:5: redirect from /world/w2024/ hides a live page (content/news/world/w2024.md)"),
        "{err}"
    );
}

#[test]
fn two_targets_for_one_path_is_an_error_naming_both_sources() {
    let r = Repo::fixture("archive");
    r.edit("content/news/tech/t2024b.md", "tags:", "aliases: [\"/old-tech.html\"]\ntags:");
    let err = r.fails(&["build"]);
    let line = err.lines().find(|l| l.contains("redirect from /old-tech.html to")).expect(&err);
    assert!(line.contains("conflicts with the one to"), "{err}");
    assert!(line.contains("content/news/tech/t2024.md:6") && line.contains("content/news/tech/t2024b.md:5"), "both sources: {err}");
}

#[test]
fn a_bad_archive_path_is_a_config_error() {
    let r = Repo::fixture("archive");
    r.edit("sites.toml", "until = 2023", "until = 2023\npath = \"../x\"");
    let err = r.fails(&["build"]);
    assert!(err.contains("sites.toml:6: archive path `../x` of site `news` is not one folder name"), "{err}");
    // Found by a new user: `path = "tags"` (or `archives`) was reported as two
    // pages at one URL, blamed on an article, with sites.toml unnamed.
    let r = Repo::fixture("archive");
    r.edit("sites.toml", "until = 2023", "until = 2023\npath = \"tags\"");
    let err = r.fails(&["build"]);
    assert!(err.contains("sites.toml:6: archive path `tags` of site `news` is a folder gen publishes its own pages in"), "{err}");
    // (Review: gen publishes nothing under `assets/`: an archive may be there.)
    let r = Repo::fixture("archive");
    r.edit("sites.toml", "until = 2023", "until = 2023\npath = \"assets\"");
    r.build();
}

#[test]
fn moved_to_needs_an_absolute_url() {
    let r = Repo::fixture("archive");
    r.edit("content/news/tech/moved.md", "https://lab.example.com/papers/moved/", "papers/moved");
    let err = r.fails(&["build"]);
    assert!(err.contains("content/news/tech/moved.md:6: `moved_to: papers/moved` is not an absolute http(s) URL"), "{err}");
}

#[test]
fn moving_the_archive_boundary_rebuilds_only_what_it_affects() {
    let r = Repo::fixture("archive");
    r.build();
    let before = r.snapshot("public/news");
    r.edit("sites.toml", "until = 2023", "until = 2022");
    r.build();
    let after = r.snapshot("public/news");
    assert!(
        after.contains_key("world/w2023/index.html")
            && !after["world/w2023/index.html"].1.starts_with(b"<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Moved")
    );
    assert!(!after.contains_key("2023backup/index.html") && after.contains_key("2022backup/index.html"));
    let changed = crate::util::changed(&before, &after);
    // The tech section never showed an archived article: untouched.
    for same in ["tech/t2024/index.html", "tech/t2024b/index.html", "tech/index.html"] {
        assert!(!changed.iter().any(|c| c == same), "{same} was rewritten: {changed:?}");
    }
    for rewritten in ["_redirects", "redirects.json", "redirects.map", "index.html", "world/w2023/index.html", "sitemap.xml"] {
        assert!(changed.iter().any(|c| c == rewritten), "{rewritten} not rewritten: {changed:?}");
    }
    // Same bytes as a clean build.
    let clean = Repo::fixture("archive");
    clean.edit("sites.toml", "until = 2023", "until = 2022");
    clean.build();
    let clean_files = clean.snapshot("public/news");
    assert_eq!(after.keys().collect::<Vec<_>>(), clean_files.keys().collect::<Vec<_>>());
    for (k, (_, bytes)) in &after {
        assert!(clean_files[k].1 == *bytes, "{k} differs from a clean build");
    }
}

/// nginx, started on a free loopback port, serving the site with the map.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn nginx_conf(dir: &std::path::Path, site: &std::path::Path, port: u16) -> std::path::PathBuf {
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  map $request_uri $gen_redirect {{\n    default \"\";\n    include {map};\n  }}\n  server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    if ($gen_redirect) {{ return 301 $gen_redirect; }}\n  }}\n}}\n",
        map = site.join("redirects.map").display(),
        root = site.display(),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

pub(crate) fn nginx() -> &'static str {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("nginx is installed (.ci/run installs it)")
}

fn start_nginx(site: &std::path::Path) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = nginx_conf(dir.path(), site, port);
    let test = Command::new(nginx()).args(["-t", "-e", &format!("{}/error.log", dir.path().display()), "-c"]).arg(&conf).output().unwrap();
    assert!(test.status.success(), "nginx -t rejected the config: {}", String::from_utf8_lossy(&test.stderr));
    let child = Command::new(nginx())
        // One process, no workers: killing the child stops nginx (workers of
        // a killed master were left behind, still listening).
        .args(["-e", &format!("{}/error.log", dir.path().display()), "-g", "daemon off; master_process off;", "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Dropping the guard kills and reaps nginx, whether it started or not.
    let server = Nginx { child, port, _dir: dir };
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nginx did not start: {}", std::fs::read_to_string(server._dir.path().join("error.log")).unwrap_or_default());
}

#[test]
fn nginx_accepts_the_map_and_answers_old_urls_with_301() {
    let r = Repo::fixture("archive");
    r.build();
    let server = start_nginx(&r.path("public/news"));
    for (old, new) in [
        ("/world/w2021/", "/2023backup/world/w2021/"),
        ("/world/w2021", "/2023backup/world/w2021/"),
        ("/2023/09/w2023-old/", "/2023backup/world/w2023/"),
        ("/?p=123", "/2023backup/world/w2023/"),
        ("/old-tech.html", "/tech/t2024/"),
        ("/tech/moved/", "https://lab.example.com/papers/moved/"),
    ] {
        let resp = http_get(server.port, "news.example.com", old);
        assert_eq!(resp.status, 301, "{old}");
        let location = resp.location.unwrap_or_default();
        assert!(location.ends_with(new), "{old} → {location}, expected {new}");
    }
    let status = http_get(server.port, "news.example.com", "/world/w2024/").status;
    assert_ne!(status, 301, "a live page is not redirected");
    let port = server.port;
    drop(server);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nginx is gone once the test is done");
}
