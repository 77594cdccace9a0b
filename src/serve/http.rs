//! The preview's HTTP side, on axum: each site at its own origin
//! (`http://<site>.localhost:PORT/`), its files through tower-http's
//! `ServeDir`, HTML with the live-reload script (and the error overlay)
//! injected, the site's redirect manifest answered with 301s as the hosts
//! do, `/a` redirected to `/a/` when that is a folder, and page events over
//! Server-Sent Events.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use super::{LIVE_JS, Live, OVERLAY_STYLE, OVERLAY_TITLE};

pub(super) async fn run(listener: std::net::TcpListener, live: Arc<Live>) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let app = axum::Router::new().fallback(handle).with_state(live);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn handle(State(live): State<Arc<Live>>, req: Request) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host).to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    if path == "/__gen/live.js" {
        return ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], LIVE_JS.as_str()).into_response();
    }
    let sites = live.sites();
    let Some(site) = host.strip_suffix(".localhost").filter(|s| sites.iter().any(|n| n == s)).map(str::to_string) else {
        return site_list(&sites, live.port);
    };
    if path == "/__gen/events" {
        return events(&live, site).into_response();
    }
    let mut req = req;
    let asked = path.clone();
    let mut site_dir = live.out_dir.join(&site);
    // `/_images/…` is the shared image tree (sites with `images_url`).
    let shared = live.out_dir.join(crate::images::SHARED_IMAGES_DIR);
    let path = match path.strip_prefix(&format!("/{}/", crate::images::SHARED_IMAGES_DIR)).filter(|_| shared.is_dir()) {
        Some(rest) => {
            site_dir = shared;
            let rest = format!("/{rest}");
            match rest.parse::<axum::http::Uri>() {
                Ok(uri) => *req.uri_mut() = uri,
                Err(_) => return (StatusCode::BAD_REQUEST, "400 bad request").into_response(),
            }
            rest
        }
        None => path,
    };
    if let Some(to) = live.redirects.find(&site_dir, &path, query.as_deref()) {
        return moved(&to);
    }
    match locate(&site_dir, &path) {
        Located::Forbidden => return (StatusCode::FORBIDDEN, "403 forbidden").into_response(),
        Located::Missing => return not_found(&live.out_dir.join(&site), live.error().as_deref()),
        // As static hosts do: relative links on the page resolve from the folder.
        Located::Folder if !path.ends_with('/') => {
            return moved(&format!("{asked}/{}", query.map(|q| format!("?{q}")).unwrap_or_default()));
        }
        _ => {}
    }
    let error = live.error();
    let Ok(resp) = ServeDir::new(&site_dir).oneshot(req).await;
    if resp.status() == StatusCode::NOT_FOUND {
        return not_found(&site_dir, error.as_deref());
    }
    let html = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    let (mut parts, body) = resp.into_parts();
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !html || parts.status != StatusCode::OK {
        return Response::from_parts(parts, Body::new(body));
    }
    let Ok(bytes) = axum::body::to_bytes(Body::new(body), usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    // The body changes with the overlay: no validators for the original.
    for h in [header::CONTENT_LENGTH, header::LAST_MODIFIED, header::ETAG] {
        parts.headers.remove(h);
    }
    Response::from_parts(parts, Body::from(inject(bytes.to_vec(), error.as_deref())))
}

fn moved(to: &str) -> Response {
    // `//host/…` is another host to a browser: a path here never becomes one.
    let to = if to.starts_with("//") { format!("/{}", to.trim_start_matches('/')) } else { to.to_string() };
    match HeaderValue::from_str(&to) {
        Ok(location) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn events(live: &Live, site: String) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>> + use<>> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    live.subscribe(site, tx);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    // A comment now and then: a closed tab is noticed, the sender dropped.
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// `http://localhost:<port>/`: the sites, each at its own origin.
fn site_list(sites: &[String], port: u16) -> Response {
    let mut html = String::from("<!doctype html><meta charset=utf-8><title>gen serve</title><h1>Sites</h1><ul>");
    for s in sites {
        html += &format!("<li><a href=\"http://{s}.localhost:{port}/\">{s}</a></li>");
    }
    html += "</ul>";
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

fn not_found(site_dir: &Path, error: Option<&str>) -> Response {
    let body = std::fs::read(site_dir.join("404.html")).unwrap_or_else(|_| b"404 not found".to_vec());
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], inject(body, error)).into_response()
}

enum Located {
    /// Climbs out (`..`), or resolves outside the site folder through a link.
    Forbidden,
    /// A name no file system holds (a segment over 255 bytes).
    Missing,
    Folder,
    /// A file, or nothing: `ServeDir` answers.
    Other,
}

fn locate(site_dir: &Path, url_path: &str) -> Located {
    let decoded = crate::images::percent_decode(url_path);
    let mut rel = PathBuf::new();
    for seg in decoded.split('/').filter(|s| !s.is_empty()) {
        if seg == ".." || seg == "." || seg.contains('\\') || seg.contains('\0') {
            return Located::Forbidden;
        }
        if seg.len() > crate::write::MAX_NAME_BYTES {
            return Located::Missing;
        }
        rel.push(seg);
    }
    let target = site_dir.join(&rel);
    let Ok(meta) = std::fs::metadata(&target) else { return Located::Other };
    let Ok(base) = site_dir.canonicalize() else { return Located::Other };
    let outside = |p: &Path| p.canonicalize().is_ok_and(|real| !real.starts_with(&base));
    // A folder is answered with its index.html: that file, not only the
    // folder, must be inside (a link named index.html could point anywhere).
    if outside(&target) || (meta.is_dir() && outside(&target.join("index.html"))) {
        return Located::Forbidden;
    }
    if meta.is_dir() { Located::Folder } else { Located::Other }
}

/// Adds the live-reload script (and the error overlay, if the last build
/// failed) before `</body>`, or at the end.
pub(super) fn inject(html: Vec<u8>, error: Option<&str>) -> Vec<u8> {
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

/// A site's redirect rules, read from the `redirects.json` its build
/// published (re-read when it changes), so old URLs (`/?p=123`, archives,
/// aliases) can be tried in the preview.
#[derive(Default)]
pub(super) struct Redirects(Mutex<HashMap<PathBuf, (SystemTime, Vec<Rule>)>>);

/// `from` decoded, with its query parameters; `to` as published.
#[derive(Debug, PartialEq)]
struct Rule {
    path: String,
    query: Vec<String>,
    to: String,
}

impl Redirects {
    /// Where a request for `path?query` is redirected, if anywhere.
    fn find(&self, site_dir: &Path, path: &str, query: Option<&str>) -> Option<String> {
        let file = site_dir.join("redirects.json");
        let modified = std::fs::metadata(&file).and_then(|m| m.modified()).ok()?;
        let mut cache = self.0.lock().expect("no panics while held");
        let fresh = cache.get(&file).is_some_and(|(m, _)| *m == modified);
        if !fresh {
            let rules = std::fs::read(&file).ok().and_then(|b| parse_rules(&b)).unwrap_or_default();
            cache.insert(file.clone(), (modified, rules));
        }
        let wanted = crate::images::percent_decode(path);
        let params: Vec<&str> = query.unwrap_or("").split('&').filter(|p| !p.is_empty()).collect();
        cache[&file]
            .1
            .iter()
            .find(|r| {
                // `/a/` also answers for `/a`, as the nginx map does.
                let same_path = r.path == wanted || r.path.strip_suffix('/').is_some_and(|bare| !bare.is_empty() && bare == wanted);
                same_path && r.query.iter().all(|q| params.contains(&q.as_str()))
            })
            .map(|r| r.to.clone())
    }
}

fn parse_rules(bytes: &[u8]) -> Option<Vec<Rule>> {
    let list: Vec<serde_json::Value> = serde_json::from_slice(bytes).ok()?;
    Some(
        list.iter()
            .filter_map(|r| {
                // Root-relative as the manifest writes them (absolute ones too).
                let from = url::Url::parse("http://preview/").ok()?.join(r["from"].as_str()?).ok()?;
                let query = from.query().map(|q| q.split('&').map(str::to_string).collect()).unwrap_or_default();
                Some(Rule { path: crate::images::percent_decode(from.path()), query, to: r["to"].as_str()?.to_string() })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_redirects_match_paths_with_or_without_the_slash_and_queries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("redirects.json"),
            r#"[{"from": "/2019/05/%EA%B2%BD%EC%A0%9C/", "to": "/economy/a/", "status": 301},
               {"from": "/?p=123", "to": "/economy/b/", "status": 301}]"#,
        )
        .unwrap();
        let r = Redirects::default();
        let to_a = Some("/economy/a/".to_string());
        assert_eq!(r.find(dir.path(), "/2019/05/%EA%B2%BD%EC%A0%9C/", None), to_a);
        assert_eq!(r.find(dir.path(), "/2019/05/경제", None), to_a);
        assert_eq!(r.find(dir.path(), "/", Some("p=123&utm=x")), Some("/economy/b/".to_string()));
        assert_eq!(r.find(dir.path(), "/", None), None, "the home page is not redirected");
        assert_eq!(r.find(dir.path(), "/", Some("p=12")), None);
    }
}
