//! `gen serve [--watch]`: builds every site with a preview base URL
//! (`http://<site>.localhost:<port>/`), serves the output over HTTP on
//! 127.0.0.1, and with `--watch` rebuilds what changed and tells open pages to
//! reload over Server-Sent Events.
//!
//! Three parts, as mdBook splits them: `watch` turns file events into
//! bursts of changed paths, this module turns a burst into a rebuild and
//! events for open pages, and `http` (axum, tower-http's `ServeDir`) serves
//! the output. The preview has its own output and state under
//! `<cache>/serve/`, so it never touches `public/` or the production build
//! state. The live-reload script and the error overlay are injected into
//! HTML responses by the server only; `gen build` never writes them.

mod http;
mod watch;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::response::sse::Event;
use tokio::sync::mpsc::UnboundedSender;

use crate::build::{self, BuildOptions, BuildReport};
use crate::config::Config;

pub struct ServeOptions {
    pub build: BuildOptions,
    pub bind: IpAddr,
    /// `None`: 1111, or the next free port after it.
    pub port: Option<u16>,
    pub watch: bool,
}

/// The port `gen serve` tries first.
pub const DEFAULT_PORT: u16 = 1111;

/// What the server knows between builds.
pub(crate) struct Live {
    state: Mutex<State>,
    /// The preview's output root: one folder per site.
    out_dir: PathBuf,
    port: u16,
    redirects: http::Redirects,
}

#[derive(Default)]
struct State {
    /// The last build's errors, shown over every page until a build succeeds.
    error: Option<String>,
    /// Open event streams: (site, sender).
    clients: Vec<(String, UnboundedSender<Event>)>,
    /// The sites served; a site added to sites.toml joins after its build.
    sites: Vec<String>,
    /// The repository's own warnings printed so far: they hold for every
    /// build (a removed site's output), so each is said once.
    said: std::collections::BTreeSet<String>,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("no panics while held")
    }

    fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    fn sites(&self) -> Vec<String> {
        self.lock().sites.clone()
    }

    /// A new event stream for a page of `site`; it learns of a failed build at once.
    fn subscribe(&self, site: String, tx: UnboundedSender<Event>) {
        let mut state = self.lock();
        if let Some(err) = &state.error {
            tx.send(error_event(err)).ok();
        }
        state.clients.push((site, tx));
    }
}

fn event(name: &str) -> Event {
    Event::default().event(name).data("{}")
}

fn error_event(text: &str) -> Event {
    Event::default().event("error").data(serde_json::to_string(text).expect("a string serializes"))
}

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
  window.__genLive = es; // tests wait for it to be open

  es.addEventListener("reload", () => location.reload());
  es.addEventListener("css", () => swapCss().catch(() => location.reload()));
  es.addEventListener("error", (e) => { if (e.data) show(JSON.parse(e.data)); });
})();
"#;

pub fn serve(mut opts: ServeOptions) -> anyhow::Result<()> {
    let root = opts.build.root.clone();
    // `--site` naming no site is a typo: said now, not by serving nothing.
    // (A sites.toml that does not load is shown on the pages instead.)
    if let Ok(config) = Config::load(&root) {
        crate::build::select_sites(&config, &opts.build.sites)?;
    }
    let cache = opts.build.cache_dir.clone().map(|c| root.join(c)).unwrap_or_else(|| root.join(".gen"));
    let preview = cache.join("serve");
    let listener = bind(opts.bind, opts.port)?;
    let port = listener.local_addr()?.port();
    opts.build.output = Some(preview.join("public"));
    opts.build.cache_dir = Some(preview.join("state"));
    // Variants are the same for the preview: encoded once for both.
    opts.build.variant_cache = Some(cache.join(crate::build::VARIANTS_DIR));
    opts.build.base_url = Some(format!("http://{{site}}.localhost:{port}/"));
    // The shared image tree, served under every site's origin.
    opts.build.images_url = Some(format!("http://{{site}}.localhost:{port}/{}/", crate::images::SHARED_IMAGES_DIR));
    opts.build.memory = Some(Arc::default());
    // One error overlay for every page: a failing site holds back the rest.
    opts.build.all_or_nothing = true;
    let live = Arc::new(Live { state: Mutex::default(), out_dir: preview.join("public"), port, redirects: http::Redirects::default() });
    live.lock().sites = served_sites(&opts.build);
    rebuild(&opts.build, &live, None, false);

    let sites = live.sites();
    println!("serving {} site{} (Ctrl-C to stop):", sites.len(), if sites.len() == 1 { "" } else { "s" });
    for s in &sites {
        println!("  http://{s}.localhost:{port}/");
    }
    println!("  http://localhost:{port}/ lists them");

    let _watcher = if opts.watch {
        let (build, live) = (opts.build.clone(), live.clone());
        let root = root.canonicalize().unwrap_or(root);
        Some(watch::start(&root.clone(), move |watch::Burst { paths, since, complete }| {
            // Read the site names again: sites.toml may have changed.
            let known: Vec<String> = Config::load(&root).map(|c| c.sites.into_iter().map(|s| s.name).collect()).unwrap_or_default();
            let Some(sites) = watch::sites_for(&root, &paths, &build.sites, &known) else {
                // No build for these paths (none under a site, or sites.toml
                // unreadable mid-save): the next one checks every file.
                if let Some(m) = &build.memory {
                    m.forget();
                }
                return;
            };
            // Pages first: the search indexes follow in a second build, so
            // an edit is on screen without waiting for them. Each site built
            // from memory stats only what the watcher named (every file when
            // it lost events); the second build follows the first at once.
            // Events lost (or the first burst) may concern any site: every
            // kept state is checked file by file when its site next builds.
            if !complete && let Some(m) = &build.memory {
                m.forget();
            }
            let changed = complete.then(|| watch::relative(&root, &paths));
            let opts = BuildOptions { sites, defer_search: true, changed, ..build.clone() };
            if rebuild(&opts, &live, Some((since, paths.len())), watch::only_stylesheets(&paths)) {
                rebuild(&BuildOptions { defer_search: false, changed: Some(Arc::default()), ..opts }, &live, None, false);
            }
            live.lock().sites = served_sites(&build);
        })?)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(http::run(listener, live))
}

/// Listens on `port`, or with none given on 1111 or the next free port
/// after it (saying so).
fn bind(addr: IpAddr, port: Option<u16>) -> anyhow::Result<std::net::TcpListener> {
    let taken = |e: &std::io::Error| e.kind() == std::io::ErrorKind::AddrInUse;
    match port {
        Some(p) => {
            std::net::TcpListener::bind((addr, p)).map_err(|e| anyhow::anyhow!("cannot listen on {addr}:{p}: {e}; choose another --port"))
        }
        None => {
            for p in DEFAULT_PORT..DEFAULT_PORT + 20 {
                match std::net::TcpListener::bind((addr, p)) {
                    Ok(l) => {
                        if p != DEFAULT_PORT {
                            println!("port {DEFAULT_PORT} is taken; using {p}");
                        }
                        return Ok(l);
                    }
                    Err(e) if taken(&e) => continue,
                    Err(e) => anyhow::bail!("cannot listen on {addr}:{p}: {e}"),
                }
            }
            anyhow::bail!("ports {DEFAULT_PORT} to {} are all taken: choose one with --port", DEFAULT_PORT + 19)
        }
    }
}

/// The configured sites the preview serves (all, or the `--site` ones).
fn served_sites(opts: &BuildOptions) -> Vec<String> {
    let names = Config::load(&opts.root).map(|c| c.sites.into_iter().map(|s| s.name).collect::<Vec<_>>()).unwrap_or_default();
    names.into_iter().filter(|s| opts.sites.is_empty() || opts.sites.contains(s)).collect()
}

/// Runs a build, records its outcome and notifies the pages of the sites it
/// changed. `changed` is what triggered it, for the log line; `css_only`
/// when only stylesheets were edited (pages swap them without a reload).
/// Returns whether it left a search index out of date (`defer_search`).
fn rebuild(opts: &BuildOptions, live: &Live, changed: Option<(Instant, usize)>, css_only: bool) -> bool {
    // A preview runs for days: future articles and the news sitemap follow the clock.
    let opts = &BuildOptions { now: build::now(), ..opts.clone() };
    let result = build::build(opts);
    let mut state = live.lock();
    match result {
        Ok(report) => {
            let stale = report.network_deferred || report.sites.iter().any(|s| s.search_deferred);
            let events = events_for(&report, css_only);
            let had_error = state.error.take().is_some();
            state.clients.retain(|(site, tx)| {
                // After an error, every page reloads to drop its overlay.
                let name = if had_error { Some("reload") } else { events.get(site.as_str()).copied() };
                name.is_none_or(|e| tx.send(event(e)).is_ok())
            });
            if let Some((since, n)) = changed {
                let written: usize = report.sites.iter().map(|s| s.files_written + s.files_removed).sum();
                println!(
                    "{n} change{} → rebuilt in {} ms, {written} files updated{}",
                    if n == 1 { "" } else { "s" },
                    since.elapsed().as_millis(),
                    if had_error { "; the build error is mended" } else { "" }
                );
            }
            // Raw HTML escaped in what was just rendered, say: the writer
            // would otherwise see it only on the page.
            let fresh: Vec<&String> = report.warnings.iter().filter(|w| !state.said.contains(*w)).collect();
            let sites = report.warning_lines().skip(report.warnings.len());
            for w in fresh.iter().map(|w| w.to_string()).chain(sites) {
                eprintln!("warning: {}", crate::diag::Printable(&w));
            }
            state.said.extend(report.warnings.iter().cloned());
            stale
        }
        Err(e) => {
            // What the next build finds is checked file by file: a failure
            // may have left the output short of what memory says it holds.
            if let Some(m) = &opts.memory {
                m.forget();
            }
            let text = match e.downcast_ref::<crate::diag::Diagnostics>() {
                Some(d) => d.to_string(),
                None => format!("{e:#}"),
            };
            eprintln!("{text}\nbuild failed; still serving the last good pages");
            state.clients.retain(|(_, tx)| tx.send(error_event(&text)).is_ok());
            state.error = Some(text);
            false
        }
    }
}

/// Per site that changed: `css` when only stylesheets changed, else `reload`.
/// A new search index alone reloads nothing: the pages look the same.
fn events_for(report: &BuildReport, css_only: bool) -> BTreeMap<&str, &'static str> {
    report
        .sites
        .iter()
        .filter(|s| s.changed.iter().any(|p| !p.starts_with(crate::search::index::DIR)))
        .map(|s| {
            // Edited stylesheets get new fingerprinted names, so every page
            // linking them changes too: still a swap, not a reload.
            let css = css_only || s.changed.iter().all(|p| p.ends_with(".css") || p == "_headers") && s.pages_rendered == 0;
            (s.site.as_str(), if css { "css" } else { "reload" })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_injected_before_the_body_ends() {
        let html = http::inject(b"<html><body><p>x</p></body></html>".to_vec(), Some("a.md:3: <bad>"));
        let text = String::from_utf8(html).unwrap();
        assert!(text.ends_with("<script src=\"/__gen/live.js\"></script></body></html>"), "{text}");
        assert!(text.contains("a.md:3: &lt;bad&gt;"), "{text}");
    }
}
