use std::collections::BTreeSet;

use crate::util::{Repo, browser_script, http_get, serve, wait_for};

fn index(r: &Repo, site: &str) -> serde_json::Value {
    serde_json::from_str(&r.read(&format!("public/{site}/search-index.json"))).expect("the search index is JSON")
}

#[test]
fn the_search_index_lists_every_published_article_with_its_text() {
    let r = Repo::fixture("basic");
    r.build();
    let idx = index(&r, "alpha");
    assert_eq!(idx["version"], 1);
    assert_eq!(idx["site"], "alpha");
    assert_eq!(idx["language"], "ko");
    let pages = idx["pages"].as_array().unwrap();
    let urls: BTreeSet<&str> = pages.iter().map(|p| p["url"].as_str().unwrap()).collect();
    // Every article page is in it; drafts and future articles are not.
    let published: BTreeSet<String> = r
        .listing()
        .into_iter()
        .filter_map(|p| p.strip_prefix("public/alpha/").map(str::to_string))
        .filter(|p| p.starts_with("news/") || p.starts_with("opinion/"))
        .filter(|p| p.ends_with("/index.html") && p.matches('/').count() == 2)
        .map(|p| format!("/{}", p.trim_end_matches("index.html")))
        .collect();
    assert_eq!(urls, published.iter().map(String::as_str).collect::<BTreeSet<_>>());
    assert!(!urls.iter().any(|u| u.contains("draft") || u.contains("future")), "{urls:?}");

    let first = pages.iter().find(|p| p["url"] == "/news/first-story/").unwrap();
    assert_eq!(first["title"], "첫 번째 기사");
    assert_eq!(first["permalink"], "https://alpha.example.com/news/first-story/");
    assert_eq!(first["date"], "2024-01-10T09:00:00+09:00");
    assert_eq!(first["section"], "news");
    assert_eq!(first["tags"], serde_json::json!(["경제", "한국 은행"]));
    assert_eq!(first["categories"], serde_json::json!(["뉴스"]));
    assert_eq!(first["authors"], serde_json::json!(["김기자"]));
    // Text only: the escaped raw HTML is text, the code block is left out.
    let body = first["body"].as_str().unwrap();
    assert!(body.starts_with("첫 문단입니다."), "{body}");
    assert!(!body.contains("println"), "code blocks are not searchable text: {body}");
}

#[test]
fn body_length_is_configurable_and_search_can_be_turned_off() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/long.md", &format!("---\ntitle: 긴 기사\ndate: 2024-02-01\n---\n\n{}\n", "가나다라 ".repeat(500)));
    r.build();
    let body = |r: &Repo| {
        index(r, "alpha")["pages"].as_array().unwrap().iter().find(|p| p["title"] == "긴 기사").unwrap()["body"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(body(&r).chars().count() <= 1000 && body(&r).chars().count() > 900, "default 1,000 characters");
    r.edit("sites.toml", "description = \"Fixture site in Korean\"", "description = \"Fixture site in Korean\"\nsearch_body_chars = 12");
    r.build();
    assert_eq!(body(&r), "가나다라 가나다라");
    assert!(r.read("public/alpha/index.html").contains("href=/search/"), "the nav links the search page");

    r.edit("sites.toml", "search_body_chars = 12", "search = false");
    r.build();
    assert!(!r.exists("public/alpha/search-index.json") && !r.exists("public/alpha/search/index.html"));
    assert!(!r.read("public/alpha/index.html").contains("/search/"));
    assert!(r.exists("public/beta/search-index.json"), "other sites keep theirs");
}

/// The demo's search pages in headless Chromium (tests/browser/search.mjs):
/// typing a Korean word shows the articles that contain it.
#[test]
fn the_demo_search_pages_find_korean_and_english_words_in_a_browser() {
    let r = Repo::demo();
    let s = serve(&r);
    wait_for(|| http_get(s.port, "daily.localhost", "/search/").status == 200, "the first build");
    let url = |site: &str| format!("http://{site}.localhost:{}/search/", s.port);
    for (site, query, expected, absent) in [
        ("daily", "금리", "한국은행, 기준금리 3.25%로 동결", "지하철 9호선 연장 구간, 내년 3월 개통"),
        // A word with a particle still finds the bare word.
        ("daily", "수출을", "반도체 수출 14개월 연속 증가", "한국은행, 기준금리 3.25%로 동결"),
        ("lab", "headlines", "An Open Corpus of Korean News Headlines", ""),
    ] {
        let out = browser_script("search.mjs", &[&url(site), query, expected, absent]).output().expect("node runs the browser driver");
        assert!(
            out.status.success(),
            "searching {site} for {query:?} did not show {expected:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn elasticsearch_export_is_bulk_ndjson_with_stable_ids_and_a_nori_mapping() {
    let r = Repo::fixture("basic");
    r.edit("sites.toml", "description = \"Fixture site in Korean\"", "description = \"Fixture site in Korean\"\nsearch_body_chars = 3");
    let out = r.ok(&["export", "search", "--format", "elasticsearch"]);
    assert!(out.contains("_bulk") && out.contains("--data-binary @"), "prints the curl commands: {out}");
    let bulk = r.read("search-export/alpha/bulk-0001.ndjson");
    assert!(bulk.ends_with('\n'), "_bulk needs a final newline");
    let lines: Vec<&str> = bulk.lines().collect();
    assert_eq!(lines.len() % 2, 0);
    let mut ids = BTreeSet::new();
    for pair in lines.chunks(2) {
        let action: serde_json::Value = serde_json::from_str(pair[0]).unwrap();
        let meta = action["index"].as_object().unwrap_or_else(|| panic!("an index action: {}", pair[0]));
        assert_eq!(action.as_object().unwrap().len(), 1);
        assert_eq!(meta["_index"], "alpha");
        let id = meta["_id"].as_str().unwrap();
        assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert!(ids.insert(id.to_string()), "ids are unique");
        let doc: serde_json::Value = serde_json::from_str(pair[1]).unwrap();
        assert_eq!(doc["site"], "alpha");
        assert_eq!(doc["language"], "ko");
        assert!(doc["title"].is_string() && doc["url"].is_string() && doc["date"].is_string(), "{doc}");
    }
    assert_eq!(ids.len(), index_count(&r));
    // The whole body, not the client index's 3 characters.
    assert!(bulk.contains("\"body\":\"첫 문단입니다."), "{bulk}");

    let mapping: serde_json::Value = serde_json::from_str(&r.read("search-export/alpha/mapping.json")).unwrap();
    assert_eq!(mapping["settings"]["analysis"]["tokenizer"]["gen_nori"]["type"], "nori_tokenizer");
    assert_eq!(mapping["mappings"]["properties"]["body"]["analyzer"], "gen_text");
    assert_eq!(mapping["mappings"]["properties"]["date"]["type"], "date");
    let beta: serde_json::Value = serde_json::from_str(&r.read("search-export/beta/mapping.json")).unwrap();
    assert_eq!(beta["mappings"]["properties"]["body"]["analyzer"], "english");

    // Ids survive an edit that changes the title and URL.
    r.edit("content/alpha/news/story-3.md", "title: 기사 3", "title: 기사 셋\nslug: story-three");
    r.ok(&["export", "search"]);
    let again = r.read("search-export/alpha/bulk-0001.ndjson");
    let again_ids: BTreeSet<String> = again
        .lines()
        .step_by(2)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again_ids, ids);
    assert!(again.contains("/news/story-three/"));
}

/// Articles in a fresh build of the fixture's alpha site.
fn index_count(r: &Repo) -> usize {
    r.build();
    index(r, "alpha")["pages"].as_array().unwrap().len()
}

/// `--output content --site alpha` once erased the site's articles and
/// images; `--output public` replaced a built site. The export removes only
/// files it wrote, and refuses folders of the repository's own.
#[test]
fn export_search_never_removes_files_it_did_not_write() {
    let r = Repo::fixture("basic");
    r.build();
    let before = r.listing();
    for out in ["content", "content/alpha", "public", "themes/default", "assets", ".gen", ".", "public/.."] {
        let err = r.fails(&["export", "search", "--output", out, "--site", "alpha"]);
        assert!(err.contains("choose a folder of its own"), "{out}: {err}");
    }
    assert_eq!(r.listing(), before, "nothing removed or written");

    // A folder that holds someone else's files is not the export's.
    r.write("elsewhere/alpha/notes.txt", "mine");
    let err = r.fails(&["export", "search", "--output", "elsewhere", "--site", "alpha"]);
    assert!(err.contains("did not write"), "{err}");
    assert_eq!(r.read("elsewhere/alpha/notes.txt"), "mine");

    // Re-exporting replaces the export's files and nothing else.
    r.ok(&["export", "search", "--site", "alpha"]);
    r.write("search-export/alpha/notes.txt", "mine too");
    r.write("search-export/alpha/bulk-0009.ndjson", "not from gen");
    r.ok(&["export", "search", "--site", "alpha"]);
    assert_eq!(r.read("search-export/alpha/notes.txt"), "mine too");
    assert_eq!(r.read("search-export/alpha/bulk-0009.ndjson"), "not from gen");
    assert!(r.exists("search-export/alpha/bulk-0001.ndjson") && r.exists("search-export/alpha/mapping.json"));
}
