//! `gen serve [--watch]`: builds every site with a preview base URL
//! (`http://<site>.localhost:<port>/`), serves the output over HTTP on
//! 127.0.0.1, and with `--watch` rebuilds what changed and tells open pages to
//! reload over Server-Sent Events.
//!
//! The preview has its own output and state under `<cache>/serve/`, so it
//! never touches `public/` or the production build state. The live-reload
//! script and the error overlay are injected into HTML responses by the
//! server only; `gen build` never writes them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tiny_http::{Header, Request, Response, Server};

use crate::build::{self, BuildOptions, BuildReport};
use crate::config::Config;
use crate::discover;

pub struct ServeOptions {
    pub build: BuildOptions,
    pub bind: IpAddr,
    pub port: u16,
    pub watch: bool,
}

/// What the server knows between builds.
#[derive(Default)]
struct Live {
    /// The last build's errors, shown over every page until a build succeeds.
    error: Option<String>,
    /// Open event streams: (site, sender).
    clients: Vec<(String, Sender<String>)>,
}

type Shared = Arc<Mutex<Live>>;

/// The error overlay, the same whether the server injects it or the script
/// shows it after an `error` event.
const OVERLAY_STYLE: &str = "position:fixed;inset:0;z-index:2147483647;background:rgba(20,0,0,.92);color:#fff;font:14px/1.5 monospace;padding:2rem;white-space:pre-wrap;overflow:auto";
const OVERLAY_TITLE: &str = "gen: the last build failed; showing the last good page.";

/// The script every served HTML page gets.
static LIVE_JS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| LIVE_JS_TEMPLATE.replace("__STYLE__", OVERLAY_STYLE).replace("__TITLE__", OVERLAY_TITLE));

const LIVE_JS_TEMPLATE: &str = r#"(() => {
  const show = (msg) => {
    let o = document.getElementById("gen-error-overlay");
    if (!o) {
      o = document.createElement("div");
      o.id = "gen-error-overlay";
      document.body.appendChild(o);
    }
    o.setAttribute("style", "__STYLE__");
    o.textContent = "__TITLE__\n\n" + msg;
  };
  const swapCss = async () => {
    const html = await (await fetch(location.href, { cache: "no-store" })).text();
    const fresh = [...new DOMParser().parseFromString(html, "text/html").querySelectorAll('link[rel="stylesheet"]')];
    const old = [...document.querySelectorAll('link[rel="stylesheet"]')];
    if (fresh.length !== old.length) return location.reload();
    old.forEach((l, i) => { if (l.href !== fresh[i].href) l.href = fresh[i].href; });
  };
  const es = new EventSource("/__gen/events");
  es.addEventListener("reload", () => location.reload());
  es.addEventListener("css", () => swapCss().catch(() => location.reload()));
  es.addEventListener("error", (e) => { if (e.data) show(JSON.parse(e.data)); });
})();
"#;

pub fn serve(mut opts: ServeOptions) -> anyhow::Result<()> {
    let root = opts.build.root.clone();
    let cache = opts.build.cache_dir.clone().map(|c| root.join(c)).unwrap_or_else(|| root.join(".gen"));
    let preview = cache.join("serve");
    opts.build.output = Some(preview.join("public"));
    opts.build.cache_dir = Some(preview.join("state"));
    opts.build.base_url = Some(format!("http://{{site}}.localhost:{}/", opts.port));
    opts.build.memory = Some(Arc::default());
    let out_dir = preview.join("public");

    let server = Server::http((opts.bind, opts.port)).map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", opts.bind, opts.port))?;
    let live: Shared = Arc::default();
    rebuild(&opts.build, &live, None);

    let config = Config::load(&root)?;
    let mut sites: Vec<String> = config.sites.iter().map(|s| s.name.clone()).collect();
    if !opts.build.sites.is_empty() {
        sites.retain(|s| opts.build.sites.contains(s));
    }
    println!("serving {} site{} (Ctrl-C to stop):", sites.len(), if sites.len() == 1 { "" } else { "s" });
    for s in &sites {
        println!("  http://{s}.localhost:{}/", opts.port);
    }
    println!("  http://localhost:{}/ lists them", opts.port);

    let _watcher = if opts.watch { Some(watch(opts.build.clone(), live.clone())?) } else { None };

    for request in server.incoming_requests() {
        let live = live.clone();
        let out_dir = out_dir.clone();
        let sites = sites.clone();
        let port = opts.port;
        std::thread::spawn(move || handle(request, &out_dir, &sites, port, &live));
    }
    Ok(())
}

/// Runs a build, records its outcome and notifies the pages of the sites it
/// changed. `changed` is what triggered it, for the log line.
fn rebuild(opts: &BuildOptions, live: &Shared, changed: Option<(Instant, usize)>) {
    // A preview runs for days: future articles and the news sitemap follow the clock.
    let opts = &BuildOptions { now: build::now(), ..opts.clone() };
    let result = build::build(opts);
    let mut state = live.lock().expect("no panics while held");
    match result {
        Ok(report) => {
            let events = events_for(&report);
            let had_error = state.error.take().is_some();
            state.clients.retain(|(site, tx)| {
                // After an error, every page reloads to drop its overlay.
                let event = if had_error { Some("reload") } else { events.get(site.as_str()).copied() };
                event.is_none_or(|e| tx.send(format!("event: {e}\ndata: {{}}\n\n")).is_ok())
            });
            if let Some((since, n)) = changed {
                let written: usize = report.sites.iter().map(|s| s.files_written + s.files_removed).sum();
                println!(
                    "{n} change{} → rebuilt in {} ms, {written} files updated",
                    if n == 1 { "" } else { "s" },
                    since.elapsed().as_millis()
                );
            }
        }
        Err(e) => {
            let text = match e.downcast_ref::<crate::diag::Diagnostics>() {
                Some(d) => d.to_string(),
                None => format!("{e:#}"),
            };
            eprintln!("{text}\nbuild failed; still serving the last good pages");
            let data = serde_json::to_string(&text).expect("a string serializes");
            state.clients.retain(|(_, tx)| tx.send(format!("event: error\ndata: {data}\n\n")).is_ok());
            state.error = Some(text);
        }
    }
}

/// Per site that changed: `css` when only stylesheets changed, else `reload`.
fn events_for(report: &BuildReport) -> BTreeMap<&str, &'static str> {
    report
        .sites
        .iter()
        .filter(|s| !s.changed.is_empty())
        .map(|s| {
            // A fingerprinted stylesheet is a new file and the pages that link it change too;
            // only the stylesheet and `_headers` changing means a CSS-only edit.
            let css_only = s.changed.iter().all(|p| p.ends_with(".css") || p == "_headers") && s.pages_rendered == 0;
            (s.site.as_str(), if css_only { "css" } else { "reload" })
        })
        .collect()
}

/// Watches content, themes, assets and sites.toml; each burst of changes
/// (debounced: 15 ms without a new one) rebuilds the sites it concerns.
fn watch(opts: BuildOptions, live: Shared) -> anyhow::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let root = opts.root.canonicalize().unwrap_or(opts.root.clone());
    let (tx, rx) = std::sync::mpsc::channel::<PathBuf>();
    let filter_root = root.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        // Reads (ours included, while building) are not changes.
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        for p in event.paths.into_iter().filter(|p| is_relevant(&filter_root, p)) {
            let _ = tx.send(p);
        }
    })?;
    for dir in ["content", "themes", "assets"] {
        let path = root.join(dir);
        if path.is_dir() {
            watcher.watch(&path, RecursiveMode::Recursive).with_context(|| format!("watching {}", path.display()))?;
        }
    }
    // sites.toml is often replaced (write to temp, rename): watch its folder.
    watcher.watch(&root, RecursiveMode::NonRecursive)?;
    std::thread::spawn(move || {
        while let Ok(first) = rx.recv() {
            let started = Instant::now();
            let mut paths = vec![first];
            while let Ok(p) = rx.recv_timeout(Duration::from_millis(15)) {
                paths.push(p);
            }
            paths.sort();
            paths.dedup();
            // Read the site names again: sites.toml may have changed.
            let known: Vec<String> = Config::load(&root).map(|c| c.sites.into_iter().map(|s| s.name).collect()).unwrap_or_default();
            let mut opts = opts.clone();
            let Some(sites) = sites_for(&root, &paths, &opts.sites, &known) else { continue };
            opts.sites = sites;
            rebuild(&opts, &live, Some((started, paths.len())));
        }
    });
    Ok(watcher)
}

/// Editor temp files and anything outside the inputs do not trigger builds.
fn is_relevant(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else { return false };
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if discover::is_ignored_name(name) || rel.components().any(|c| c.as_os_str().to_str().is_some_and(|s| s.starts_with('.'))) {
        return false;
    }
    let first = rel.components().next().and_then(|c| c.as_os_str().to_str()).unwrap_or("");
    matches!(first, "content" | "themes" | "assets") || rel == Path::new(crate::config::CONFIG_FILE)
}

/// A change under `content/<site>/` rebuilds that site only; anything else
/// (themes, shared assets, authors, sites.toml) every selected site (an empty
/// list). Folders under `content/` that are not sites (`known`) are ignored;
/// `None` when nothing served changed.
fn sites_for(root: &Path, paths: &[PathBuf], selected: &[String], known: &[String]) -> Option<Vec<String>> {
    let mut sites: Vec<String> = Vec::new();
    for p in paths {
        let rel = p.strip_prefix(root).unwrap_or(p);
        let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
        match (parts.next().as_deref(), parts.next(), parts.next()) {
            (Some("content"), Some(site), Some(_)) if !known.contains(&site) => {}
            (Some("content"), Some(site), Some(_)) => {
                if !sites.contains(&site) {
                    sites.push(site);
                }
            }
            _ => return Some(selected.to_vec()),
        }
    }
    if !selected.is_empty() {
        sites.retain(|s| selected.contains(s));
    }
    (!sites.is_empty()).then_some(sites)
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn handle(request: Request, out_dir: &Path, sites: &[String], port: u16, live: &Shared) {
    let host = request.headers().iter().find(|h| h.field.equiv("Host")).map(|h| h.value.as_str().to_string()).unwrap_or_default();
    let host = host.rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or(host);
    let site = host.strip_suffix(".localhost").filter(|s| sites.iter().any(|n| n == s)).map(str::to_string);
    let url = request.url().to_string();
    let path = url.split(['?', '#']).next().unwrap_or("/").to_string();

    if path == "/__gen/live.js" {
        let resp = Response::from_string(LIVE_JS.as_str()).with_header(header("Content-Type", "text/javascript; charset=utf-8"));
        let _ = request.respond(resp);
        return;
    }
    let Some(site) = site else {
        let _ = request.respond(site_list(sites, port));
        return;
    };
    if path == "/__gen/events" {
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let mut state = live.lock().expect("no panics while held");
            if let Some(err) = &state.error {
                let data = serde_json::to_string(err).expect("a string serializes");
                let _ = tx.send(format!("event: error\ndata: {data}\n\n"));
            }
            state.clients.push((site, tx));
        }
        stream_events(request, &rx);
        return;
    }
    let error = live.lock().expect("no panics while held").error.clone();
    let _ = request.respond(file_response(&out_dir.join(&site), &path, error.as_deref()));
}

/// `http://localhost:<port>/`: the sites, each at its own origin.
fn site_list(sites: &[String], port: u16) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut html = String::from("<!doctype html><meta charset=utf-8><title>gen serve</title><h1>Sites</h1><ul>");
    for s in sites {
        html += &format!("<li><a href=\"http://{s}.localhost:{port}/\">{s}</a></li>");
    }
    html += "</ul>";
    Response::from_string(html).with_header(header("Content-Type", "text/html; charset=utf-8"))
}

/// A file of the site's output, or 404. Paths that climb out (`..`) or
/// resolve outside the site folder through a link are refused.
fn file_response(site_dir: &Path, url_path: &str, error: Option<&str>) -> Response<std::io::Cursor<Vec<u8>>> {
    let not_found = |site_dir: &Path| {
        let body = std::fs::read(site_dir.join("404.html")).unwrap_or_else(|_| b"404 not found".to_vec());
        Response::from_data(inject(body, error)).with_status_code(404).with_header(header("Content-Type", "text/html; charset=utf-8"))
    };
    let decoded = crate::images::percent_decode(url_path);
    let mut rel = PathBuf::new();
    for seg in decoded.split('/').filter(|s| !s.is_empty()) {
        if seg == ".." || seg == "." || seg.contains('\\') || seg.contains('\0') {
            return Response::from_string("403 forbidden").with_status_code(403);
        }
        rel.push(seg);
    }
    let mut file = site_dir.join(&rel);
    if file.is_dir() {
        file = file.join("index.html");
    }
    let (Ok(real), Ok(base)) = (file.canonicalize(), site_dir.canonicalize()) else { return not_found(site_dir) };
    if !real.starts_with(&base) {
        return Response::from_string("403 forbidden").with_status_code(403);
    }
    let Ok(bytes) = std::fs::read(&real) else { return not_found(site_dir) };
    let mime = mime(&real);
    let bytes = if mime.starts_with("text/html") { inject(bytes, error) } else { bytes };
    Response::from_data(bytes).with_header(header("Content-Type", mime)).with_header(header("Cache-Control", "no-store"))
}

/// Adds the live-reload script (and the error overlay, if the last build
/// failed) before `</body>`, or at the end.
fn inject(html: Vec<u8>, error: Option<&str>) -> Vec<u8> {
    let mut extra = String::from("<script src=\"/__gen/live.js\"></script>");
    if let Some(e) = error {
        extra = format!(
            "<div id=\"gen-error-overlay\" style=\"{OVERLAY_STYLE}\">{OVERLAY_TITLE}\n\n{}</div>{extra}",
            crate::theme::escape_html(e)
        );
    }
    let text = String::from_utf8_lossy(&html);
    match text.rfind("</body>") {
        Some(i) => format!("{}{extra}{}", &text[..i], &text[i..]).into_bytes(),
        None => format!("{text}{extra}").into_bytes(),
    }
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "txt" | "map" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        ext => {
            crate::images::mime_of(&format!("x.{ext}")).split(';').next().filter(|m| !m.is_empty()).unwrap_or("application/octet-stream")
        }
    }
}

/// Server-Sent Events on the raw connection (tiny_http's chunked bodies are
/// buffered, events must go out at once): the body lasts until the client
/// goes away, noticed by a comment sent every 15 s.
fn stream_events(request: Request, rx: &Receiver<String>) {
    let mut w = request.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
    if w.write_all(head.as_bytes()).and_then(|()| w.flush()).is_err() {
        return;
    }
    loop {
        let event = match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => ": ping\n\n".to_string(),
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if w.write_all(event.as_bytes()).and_then(|()| w.flush()).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_changes_rebuild_their_site_only() {
        let root = Path::new("/r");
        let p = |s: &str| root.join(s);
        let known = ["daily".to_string(), "lab".to_string()];
        let all = Some(vec![]);
        assert_eq!(
            sites_for(root, &[p("content/daily/a.md"), p("content/lab/x/index.md")], &[], &known),
            Some(vec!["daily".into(), "lab".into()])
        );
        assert_eq!(sites_for(root, &[p("content/daily/a.md"), p("themes/default/templates/base.html")], &[], &known), all);
        assert_eq!(sites_for(root, &[p("content/authors.yaml")], &[], &known), all, "authors concern every site");
        assert_eq!(sites_for(root, &[p("sites.toml")], &["lab".to_string()], &known), Some(vec!["lab".into()]));
        assert_eq!(sites_for(root, &[p("content/drafts-folder/x.md")], &[], &known), None, "not a site: no rebuild");
        assert_eq!(sites_for(root, &[p("content/daily/a.md")], &["lab".to_string()], &known), None, "not served: no rebuild");
    }

    #[test]
    fn editor_files_and_outputs_do_not_trigger_builds() {
        let root = Path::new("/r");
        assert!(is_relevant(root, &root.join("content/daily/a.md")));
        assert!(is_relevant(root, &root.join("sites.toml")));
        assert!(!is_relevant(root, &root.join("content/daily/.a.md.swp")));
        assert!(!is_relevant(root, &root.join("content/daily/a.md~")));
        assert!(!is_relevant(root, &root.join(".gen/serve/public/daily/index.html")));
        assert!(!is_relevant(root, &root.join("public/daily/index.html")));
        assert!(!is_relevant(root, &root.join("README.md")));
    }

    #[test]
    fn scripts_are_injected_before_the_body_ends() {
        let html = inject(b"<html><body><p>x</p></body></html>".to_vec(), Some("a.md:3: <bad>"));
        let text = String::from_utf8(html).unwrap();
        assert!(text.ends_with("<script src=\"/__gen/live.js\"></script></body></html>"), "{text}");
        assert!(text.contains("a.md:3: &lt;bad&gt;"), "{text}");
    }
}
