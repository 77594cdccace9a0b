use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use crate::util::{HttpResponse, Repo, browser_script, http_get, serve, serve_logged, wait_for};

#[test]
fn serves_each_site_at_its_own_origin_with_preview_urls() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    let home = http_get(s.port, "alpha.localhost", "/").body;
    assert!(home.contains("<script src=\"/__gen/live.js\"></script>"), "{home}");
    let article = http_get(s.port, "beta.localhost", "/2023/05/hello/").body;
    let doc = scraper::Html::parse_document(&article);
    let canonical = doc.select(&scraper::Selector::parse("link[rel=canonical]").unwrap()).next().and_then(|l| l.value().attr("href"));
    assert_eq!(canonical, Some(format!("http://beta.localhost:{}/2023/05/hello/", s.port)).as_deref(), "preview base URL: {article}");
    let index = http_get(s.port, "localhost", "/").body;
    assert!(index.contains(&format!("http://alpha.localhost:{}/", s.port)) && index.contains("beta"), "{index}");
    assert_eq!(http_get(s.port, "alpha.localhost", "/no/such/page/").status, 404);
    // The preview never touches the production output or state.
    assert!(!r.exists("public"));
    assert!(r.exists(".gen/serve/public/alpha/index.html"));
}

#[test]
fn paths_outside_the_output_are_refused() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    for path in ["/../../sites.toml", "/%2e%2e/%2e%2e/sites.toml", "/..%2fbeta/index.html", "/news/../../../sites.toml"] {
        let HttpResponse { status, body, .. } = http_get(s.port, "alpha.localhost", path);
        assert!(status == 403 || status == 404, "{path}: {status}");
        assert!(!body.contains("[[sites]]"), "{path} leaked sites.toml");
    }
    // A link inside the output pointing out of it is not followed.
    std::os::unix::fs::symlink(r.root(), r.path(".gen/serve/public/alpha/escape")).unwrap();
    let HttpResponse { status, body, .. } = http_get(s.port, "alpha.localhost", "/escape/sites.toml");
    assert_eq!(status, 403, "{body}");
}

/// Hardening round 2, case 2: `GET /x/` served a symlinked `x/index.html`
/// from outside the output (only `/x/index.html` was refused).
#[test]
fn a_symlinked_index_html_outside_the_output_is_refused_through_its_folder() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    std::fs::create_dir_all(r.path(".gen/serve/public/alpha/x")).unwrap();
    std::os::unix::fs::symlink(r.path("sites.toml"), r.path(".gen/serve/public/alpha/x/index.html")).unwrap();
    for path in ["/x/", "/x/index.html", "/x"] {
        let HttpResponse { status, body, .. } = http_get(s.port, "alpha.localhost", path);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(!body.contains("[[sites]]"), "{path} leaked sites.toml");
    }
}

/// Hardening round 2, case 3: `GET //news` answered `Location: //news/`,
/// which a browser reads as the host `news`.
#[test]
fn a_path_with_two_leading_slashes_never_redirects_to_another_host() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    for path in ["//news", "///news", "//news/../tags"] {
        let resp = http_get(s.port, "alpha.localhost", path);
        if let Some(to) = &resp.location {
            assert!(!to.starts_with("//"), "{path} redirects to {to}");
        }
    }
    assert_eq!(http_get(s.port, "alpha.localhost", "//news").location.as_deref(), Some("/news/"));
}

/// Hardening round 2, case 13: a path segment longer than any file name answered 500.
#[test]
fn a_path_segment_over_255_bytes_is_not_found() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    let long = format!("/news/{}/", "a".repeat(300));
    assert_eq!(http_get(s.port, "alpha.localhost", &long).status, 404);
}

#[test]
fn an_edit_is_served_and_open_pages_are_told_to_reload() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    let mut events = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    write!(events, "GET /__gen/events HTTP/1.1\r\nHost: alpha.localhost:{}\r\n\r\n", s.port).unwrap();
    events.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut events = BufReader::new(events);
    let mut line = String::new();
    events.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");

    r.edit("content/alpha/opinion/column.md", "\n---\n", "\n---\n새로 쓴 문장입니다.\n\n");
    let mut saw_reload = false;
    while !saw_reload {
        line.clear();
        assert!(events.read_line(&mut line).unwrap() > 0, "event stream closed");
        saw_reload = line.trim() == "event: reload";
    }
    let page = http_get(s.port, "alpha.localhost", "/opinion/column/").body;
    assert!(page.contains("새로 쓴 문장입니다."), "{page}");
}

#[test]
fn a_build_error_shows_an_overlay_until_it_is_fixed() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    r.write("content/alpha/news/broken.md", "---\ntitle: [unclosed\ndate: 2024-01-01\n---\nbody\n");
    wait_for(|| http_get(s.port, "alpha.localhost", "/").body.contains("gen-error-overlay"), "the overlay");
    let HttpResponse { status, body: page, .. } = http_get(s.port, "alpha.localhost", "/news/first-story/");
    assert_eq!(status, 200, "the last good page is still served");
    assert!(page.contains("content/alpha/news/broken.md:2"), "{page}");
    r.remove("content/alpha/news/broken.md");
    wait_for(|| !http_get(s.port, "alpha.localhost", "/").body.contains("gen-error-overlay"), "the overlay to go away");
}

/// Found by a new user: raw HTML escaped in an edited article was said by
/// `gen build` but not by the preview, where the writer is.
#[test]
fn the_preview_prints_the_warnings_of_what_it_rebuilt() {
    let r = Repo::fixture("basic");
    let log = r.path("serve.log");
    let s = serve_logged(&r, &log);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    r.edit("content/alpha/opinion/column.md", "\n---\n", "\n---\n<b>굵게</b>\n\n");
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for(|| said().contains("warning: alpha: content/alpha/opinion/column.md:"), "the preview to warn");
    assert!(said().contains("column.md:7: raw HTML is shown to readers as text"), "{}", said());
}

/// Found by a new user: `gen serve --site nope` printed an error and went on
/// serving no site.
#[test]
fn serving_a_site_that_is_not_configured_is_an_error() {
    let r = Repo::fixture("basic");
    let port = crate::util::free_port().to_string();
    let mut child = r
        .command_at("1735689600", &["serve", "--site", "nope", "--port", &port])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > Duration::from_secs(20) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().ok();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(status.is_some_and(|s| !s.success()), "it went on serving: {err}");
    assert!(err.contains("no site named `nope`") && err.contains("alpha, beta"), "{err}");
}

/// Review: the repository's own warnings (a removed site's output) were
/// printed again after every save.
#[test]
fn the_preview_says_the_repositorys_warnings_once() {
    let r = Repo::fixture("basic");
    r.write(".gen/serve/state/gone.state", "a site taken out of sites.toml");
    let log = r.path("serve.log");
    let s = serve_logged(&r, &log);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    for (i, text) in ["<b>하나</b>", "<i>둘</i>"].into_iter().enumerate() {
        r.edit("content/alpha/opinion/column.md", "\n---\n", &format!("\n---\n{text}\n\n"));
        wait_for(|| said().matches("column.md:7: raw HTML").count() > i, "the rebuild's warning");
    }
    assert_eq!(said().matches("site `gone` is no longer in sites.toml").count(), 1, "{}", said());
}

#[test]
fn gen_build_never_injects_the_reload_script() {
    let r = Repo::fixture("basic");
    r.build();
    assert!(!r.read("public/alpha/index.html").contains("__gen"));
}

/// Headless Chromium (driven over the DevTools protocol by
/// tests/browser/reload.mjs) opens an article; the test edits it; the page
/// must reload by itself and show the new text.
#[test]
fn a_real_browser_reloads_by_itself_after_an_edit() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/opinion/column/").status == 200, "the first build");
    let mut node =
        browser_script("reload.mjs", &[&format!("http://alpha.localhost:{}/opinion/column/", s.port), "브라우저가 스스로 다시 읽었다"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node (the machine's Node.js) runs the browser driver");
    let mut ready = String::new();
    BufReader::new(node.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    if ready.trim() != "ready" {
        let out = node.wait_with_output().unwrap();
        panic!("the browser did not open the page: {}", String::from_utf8_lossy(&out.stderr));
    }
    r.edit("content/alpha/opinion/column.md", "\n---\n", "\n---\n브라우저가 스스로 다시 읽었다.\n\n");
    let out = node.wait_with_output().unwrap();
    assert!(out.status.success(), "the page did not reload with the new text: {}", String::from_utf8_lossy(&out.stderr));
}

/// Editing the theme's stylesheet gives it a new fingerprinted name and
/// changes every page that links it; open pages still swap it in place.
#[test]
fn a_theme_stylesheet_edit_is_swapped_without_a_reload() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/opinion/column/").status == 200, "the first build");
    let mut node = browser_script("css.mjs", &[&format!("http://alpha.localhost:{}/opinion/column/", s.port), "rgb(1, 2, 3)"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs the browser driver");
    let mut ready = String::new();
    BufReader::new(node.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    if ready.trim() != "ready" {
        let out = node.wait_with_output().unwrap();
        panic!("the browser did not open the page: {}", String::from_utf8_lossy(&out.stderr));
    }
    let css = r.read("themes/default/static/style.css");
    r.write("themes/default/static/style.css", &format!("{css}\nbody {{ outline: 7px solid rgb(1, 2, 3); }}\n"));
    let out = node.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_path_without_its_trailing_slash_redirects_to_the_folder() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    let resp = http_get(s.port, "alpha.localhost", "/news/first-story?x=1");
    assert_eq!((resp.status, resp.location.as_deref()), (301, Some("/news/first-story/?x=1")));
    assert_eq!(http_get(s.port, "alpha.localhost", "/news/first-story/").status, 200);
}

/// Old URLs (aliases, `?p=`, archives) answer with the 301 the hosts give.
#[test]
fn the_preview_answers_old_urls_with_their_redirects() {
    let r = Repo::fixture("archive");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "news.localhost", "/").status == 200, "the first build");
    for (old, new) in
        [("/?p=123", "/2023backup/world/w2023/"), ("/world/w2021", "/2023backup/world/w2021/"), ("/old-tech.html", "/tech/t2024/")]
    {
        let resp = http_get(s.port, "news.localhost", old);
        assert_eq!(resp.status, 301, "{old}");
        let location = resp.location.unwrap_or_default();
        assert_eq!(location, new, "{old}");
    }
    assert_eq!(http_get(s.port, "news.localhost", "/tech/t2024/").status, 200);
}

#[test]
fn a_site_added_while_serving_is_built_and_served() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    r.write("content/gamma/posts/first.md", "---\ntitle: Gamma first\ndate: 2024-01-01\n---\n\nHello gamma.\n");
    let config = r.read("sites.toml");
    r.write("sites.toml", &format!("{config}\n[[sites]]\nname = \"gamma\"\ntitle = \"Gamma\"\nbase_url = \"https://gamma.example/\"\n"));
    wait_for(|| http_get(s.port, "gamma.localhost", "/posts/first/").body.contains("Hello gamma."), "the new site");
    assert!(http_get(s.port, "localhost", "/").body.contains("gamma"));
}

/// With 1111 taken, `gen serve` (no `--port`) takes the next free port and says so.
#[test]
fn serve_moves_to_the_next_free_port_when_1111_is_taken() {
    let r = Repo::fixture("basic");
    // Held here, or by something else on the machine: taken either way.
    let _held = std::net::TcpListener::bind("127.0.0.1:1111");
    let mut child = r.command_at("1735689600", &["serve"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let result = (|| {
        let port: u16 = line.trim().strip_prefix("port 1111 is taken; using ")?.parse().ok()?;
        Some(port)
    })();
    let port = result.unwrap_or_else(|| {
        child.kill().ok();
        panic!("first line: {line:?}")
    });
    wait_for(|| http_get(port, "alpha.localhost", "/").status == 200, "the server on the next port");
    child.kill().ok();
    child.wait().ok();
}
