use std::collections::{BTreeMap, BTreeSet};

use std::path::Path;

use gensite::search::{analyze, index};

use crate::util::{Repo, assert_same_as_clean_build, browser_script, changed, http_get, preview_options, serve, wait_for};

/// Term → (documents, top documents).
type Terms = BTreeMap<String, (Vec<u32>, Vec<u32>)>;

/// A site's published search index, read as `search.js` reads it.
struct Index {
    manifest: serde_json::Value,
    terms: Terms,
    /// Details by document id.
    docs: Vec<Option<serde_json::Value>>,
    out: std::path::PathBuf,
}

fn read_file(out: &Path, rel: &str) -> Vec<u8> {
    let bytes = std::fs::read(out.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(&bytes[..2], b"\x1f\x8b", "{rel} is gzip-compressed by gen");
    index::inflate(&bytes).unwrap()
}

impl Index {
    fn read(r: &Repo, site: &str) -> Index {
        Index::read_at(&r.path(&format!("public/{site}")))
    }

    /// The index a site's output folder `out` publishes.
    fn read_at(out: &Path) -> Index {
        let manifest: serde_json::Value = serde_json::from_slice(&read_file(out, index::MANIFEST)).unwrap();
        let mut terms = BTreeMap::new();
        let mut firsts = vec![];
        for shard in manifest["shards"].as_array().unwrap() {
            firsts.push(shard[0].as_str().unwrap().to_string());
            let decoded =
                index::decode::shard(&std::fs::read(out.join(format!("{}{}.bin", index::FILES, shard[1].as_str().unwrap()))).unwrap());
            assert!(decoded.first().is_none_or(|t| t.0 >= *firsts.last().unwrap()), "a shard starts at its first term");
            for (t, d, top) in decoded {
                assert!(terms.insert(t, (d, top)).is_none(), "a term lives in one shard");
            }
        }
        assert!(firsts.windows(2).all(|w| w[0] < w[1]), "shards in term order");
        let part = &manifest["parts"][0];
        let mut docs = vec![];
        for name in part["blocks"].as_array().unwrap() {
            let block = std::fs::read(out.join(format!("{}{}.bin", index::FILES, name.as_str().unwrap()))).unwrap();
            let half = u32::from_le_bytes(block[..4].try_into().unwrap()) as usize / 2;
            for j in 0..half {
                let details = index::block_member(&block, j).unwrap();
                docs.push((!details.is_empty()).then(|| serde_json::from_slice(&details).unwrap()));
            }
        }
        Index { manifest, terms, docs, out: out.to_path_buf() }
    }

    fn id_of(&self, url: &str) -> u32 {
        self.docs.iter().position(|d| d.as_ref().is_some_and(|d| d["u"] == url)).unwrap_or_else(|| panic!("{url} is indexed")) as u32
    }

    fn urls(&self) -> BTreeSet<String> {
        self.docs.iter().flatten().map(|d| d["u"].as_str().unwrap().to_string()).collect()
    }

    /// The whole text of a document, read as a Range request would.
    fn text(&self, id: u32) -> String {
        let size = self.manifest["block"].as_u64().unwrap() as u32;
        let name = self.manifest["parts"][0]["blocks"][(id / size) as usize].as_str().unwrap();
        let block = std::fs::read(self.out.join(format!("{}{name}.bin", index::FILES))).unwrap();
        let half = u32::from_le_bytes(block[..4].try_into().unwrap()) / 2;
        String::from_utf8(index::block_member(&block, (half + id % size) as usize).unwrap()).unwrap()
    }

    /// Documents that have every term of `text` (as the index analyses it).
    fn find(&self, text: &str) -> BTreeSet<u32> {
        let mut out: Option<BTreeSet<u32>> = None;
        analyze::terms(text, |t| {
            let docs: BTreeSet<u32> = self.terms.get(t).map(|p| p.0.iter().copied().collect()).unwrap_or_default();
            out = Some(match out.take() {
                Some(o) => o.intersection(&docs).copied().collect(),
                None => docs,
            });
        });
        out.unwrap_or_default()
    }
}

#[test]
fn the_search_index_lists_every_published_article_with_its_whole_text() {
    let r = Repo::fixture("basic");
    r.build();
    let idx = Index::read(&r, "alpha");
    assert_eq!(idx.manifest["version"], index::VERSION);
    assert_eq!(idx.manifest["language"], "ko");
    assert_eq!(idx.manifest["parts"][0]["site"], "alpha");
    // Every article page is in it; drafts and future articles are not.
    let published: BTreeSet<String> = r
        .listing()
        .into_iter()
        .filter_map(|p| p.strip_prefix("public/alpha/").map(str::to_string))
        .filter(|p| p.starts_with("news/") || p.starts_with("opinion/"))
        .filter(|p| p.ends_with("/index.html") && p.matches('/').count() == 2)
        .map(|p| format!("/{}", p.trim_end_matches("index.html")))
        .collect();
    assert_eq!(idx.urls(), published);
    assert_eq!(idx.manifest["count"], published.len());

    let id = idx.id_of("/news/first-story/");
    let first = idx.docs[id as usize].as_ref().unwrap();
    assert_eq!(first["t"], "첫 번째 기사");
    assert_eq!(first["d"], "2024-01-10T09:00:00+09:00");
    assert_eq!(first["a"], serde_json::json!(["김기자"]));
    assert_eq!(first["g"], serde_json::json!(["경제", "한국 은행"]));
    // Text only: the escaped raw HTML is text, the code block is left out.
    let body = idx.text(id);
    assert!(body.starts_with("첫 문단입니다."), "{body}");
    assert!(!body.contains("println"), "code blocks are not searchable text: {body}");
    assert!(idx.find("첫 문단").contains(&id));
    // Title words are marked as top hits; filters are terms too.
    let title_hits = &idx.terms["번째"];
    assert!(title_hits.1.contains(&id), "a title word is a top hit");
    assert!(idx.terms[&index::facet_term('t', "경제")].0.contains(&id));
    assert!(idx.terms[&index::facet_term('s', "news")].0.contains(&id));
    assert!(idx.terms[&index::facet_term('y', "2024")].0.contains(&id));
    let sections: Vec<&str> = idx.manifest["facets"]["section"].as_array().unwrap().iter().map(|v| v[0].as_str().unwrap()).collect();
    assert!(sections.contains(&"news") && sections.contains(&"opinion"), "{sections:?}");
    // Content-addressed files are cached for good, the manifest is not.
    let headers = r.read("public/alpha/_headers");
    assert!(headers.contains("/_search/f/*\n  Cache-Control: public, max-age=31536000, immutable"), "{headers}");
    assert!(headers.contains("/_search/manifest.bin\n  Cache-Control: public, max-age=300"), "{headers}");
}

/// The old index kept the first 1,000 characters: a word in the last
/// paragraph of a long article was not found.
#[test]
fn a_word_in_the_last_paragraph_of_a_long_article_is_found() {
    let r = Repo::fixture("basic");
    r.write(
        "content/alpha/news/long.md",
        &format!("---\ntitle: 긴 기사\ndate: 2024-02-01\n---\n\n{}\n\n마지막문단에만있는낱말.\n", "가나다라 ".repeat(3000)),
    );
    r.build();
    let idx = Index::read(&r, "alpha");
    let id = idx.id_of("/news/long/");
    assert_eq!(idx.find("마지막문단에만있는낱말"), BTreeSet::from([id]));
    assert!(idx.text(id).ends_with("마지막문단에만있는낱말."));
}

#[test]
fn body_length_is_configurable_and_search_can_be_turned_off() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/long.md", &format!("---\ntitle: 긴 기사\ndate: 2024-02-01\n---\n\n{}\n", "가나다라 ".repeat(500)));
    r.edit("sites.toml", "description = \"Fixture site in Korean\"", "description = \"Fixture site in Korean\"\nsearch_body_chars = 12");
    r.build();
    let idx = Index::read(&r, "alpha");
    assert_eq!(idx.text(idx.id_of("/news/long/")), "가나다라 가나다라");
    assert!(r.read("public/alpha/index.html").contains("href=/search/"), "the nav links the search page");

    r.edit("sites.toml", "search_body_chars = 12", "search = false");
    r.build();
    assert!(!r.exists("public/alpha/_search") && !r.exists("public/alpha/search/index.html"));
    assert!(!r.read("public/alpha/index.html").contains("/search/"));
    assert!(!r.read("public/alpha/_headers").contains("_search"));
    assert!(r.exists(&format!("public/beta/{}", index::MANIFEST)), "other sites keep theirs");
}

/// An edit rewrites the manifest, the details and text files of the
/// article's block, and the shards of the terms it gained or lost: every
/// other shard keeps its name (its content hash) and is not written again.
#[test]
fn after_an_edit_only_the_touched_shards_change() {
    let r = Repo::fixture("basic");
    for i in 0..600 {
        r.write(
            &format!("content/alpha/news/gen-{i:03}.md"),
            &format!(
                "---\ntitle: 기사 {i}\ndate: 2024-03-01\n---\n\n{} 공통 {}\n",
                (0..20).map(|k| format!("w{i}x{k}")).collect::<Vec<_>>().join(" "),
                ["경제", "사회", "정치"][i % 3]
            ),
        );
    }
    r.build();
    let shards =
        |r: &Repo| -> BTreeSet<String> { r.listing().into_iter().filter(|p| p.starts_with("public/alpha/_search/f/s-")).collect() };
    let before = shards(&r);
    assert!(before.len() >= 4, "{} shards", before.len());
    let snap = r.snapshot("public/alpha/_search");
    r.edit("content/alpha/news/gen-123.md", "공통", "공통 zebra");
    r.build();
    let after = shards(&r);
    assert_eq!(before.len(), after.len());
    let new: Vec<&String> = after.difference(&before).collect();
    assert_eq!(new.len(), 1, "one shard holds the new term: {new:?}");
    // The manifest, the new shard and the article's block.
    let written: Vec<String> = changed(&snap, &r.snapshot("public/alpha/_search")).into_iter().filter(|p| !p.starts_with('-')).collect();
    assert_eq!(written.len(), 3, "{written:?}");
    assert_eq!(written.iter().filter(|p| p.starts_with("f/b-")).count(), 1, "{written:?}");
    let idx = Index::read(&r, "alpha");
    assert_eq!(idx.find("zebra"), BTreeSet::from([idx.id_of("/news/gen-123/")]));
}

/// A search file deleted from the output, or damaged there, is restored by
/// the next build with nothing else changed, under its name, byte for byte
/// (every build failed with "went missing during the build" instead).
#[test]
fn a_deleted_or_damaged_search_file_is_restored_by_the_next_build() {
    let r = Repo::fixture("basic");
    for i in 0..300 {
        r.write(&format!("content/alpha/news/gen-{i:03}.md"), &format!("---\ntitle: 기사 {i}\ndate: 2024-03-01\n---\n\n본문 w{i} 공통\n"));
    }
    r.build();
    let blocks = |r: &Repo| -> Vec<String> { r.listing().into_iter().filter(|p| p.starts_with("public/alpha/_search/f/b-")).collect() };
    let before = blocks(&r);
    assert!(before.len() >= 2, "{before:?}");
    let shard = r.listing().into_iter().find(|p| p.starts_with("public/alpha/_search/f/s-")).unwrap();
    let shard_bytes = std::fs::read(r.path(&shard)).unwrap();
    let kept: Vec<Vec<u8>> = before.iter().map(|p| std::fs::read(r.path(p)).unwrap()).collect();
    r.remove(&before[0]);
    r.write_bytes(&before[1], b"damaged");
    r.build();
    assert_eq!(blocks(&r), before);
    for (p, bytes) in before.iter().zip(&kept) {
        assert!(std::fs::read(r.path(p)).unwrap() == *bytes, "{p} is made again as it was");
    }
    r.remove(&shard);
    r.build();
    assert!(std::fs::read(r.path(&shard)).unwrap() == shard_bytes, "{shard} is made again as it was");
    let idx = Index::read(&r, "alpha");
    assert_eq!(idx.find("w7"), BTreeSet::from([idx.id_of("/news/gen-007/")]));
    assert_same_as_clean_build(&r);
}

/// The preview publishes an edit's pages before its search index
/// (`defer_search`): that build leaves the index as it was and says so, and
/// the next build brings it up to date, as a clean build would make it.
#[test]
fn a_deferred_search_index_is_brought_up_to_date_by_the_next_build() {
    let r = Repo::fixture("basic");
    let opts = preview_options(&r);
    gensite::build::build(&opts).unwrap();
    let story = "content/alpha/news/story-2.md";
    let text = r.read(story);
    r.write(story, &format!("{text}\nzebra crossing\n"));
    let deferred = gensite::build::build(&gensite::build::BuildOptions { defer_search: true, ..opts.clone() }).unwrap();
    let alpha = deferred.sites.iter().find(|s| s.site == "alpha").unwrap();
    assert!(alpha.search_deferred && alpha.pages_rendered > 0, "{alpha:?}");
    assert!(alpha.changed.iter().all(|p| !p.starts_with(index::DIR)), "{:?}", alpha.changed);
    assert!(r.read("public/alpha/news/story-2/index.html").contains("zebra"));
    assert!(Index::read(&r, "alpha").find("zebra").is_empty(), "the index is as it was");
    let caught_up = gensite::build::build(&opts).unwrap();
    let alpha = caught_up.sites.iter().find(|s| s.site == "alpha").unwrap();
    assert!(!alpha.search_deferred && alpha.pages_rendered == 0, "{alpha:?}");
    let idx = Index::read(&r, "alpha");
    assert_eq!(idx.find("zebra"), BTreeSet::from([idx.id_of("/news/story-2/")]));
    assert_same_as_clean_build(&r);
}

/// An edit whose file looks old (its mtime set back, as `cp -p` or an
/// unpacked archive leave it) is trusted by the build after the deferred
/// one: that build still makes the index, because a deferred index is due
/// at once whatever the files say.
#[test]
fn a_deferred_search_index_is_made_even_when_the_edited_file_looks_old() {
    let r = Repo::fixture("basic");
    let opts = preview_options(&r);
    gensite::build::build(&opts).unwrap();
    let story = "content/alpha/news/story-2.md";
    let text = r.read(story);
    r.write(story, &format!("{text}\nzebra crossing\n"));
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(r.path(story)).unwrap().set_modified(old).unwrap();
    let deferred = gensite::build::build(&gensite::build::BuildOptions { defer_search: true, ..opts.clone() }).unwrap();
    assert!(deferred.sites.iter().any(|s| s.search_deferred), "{deferred:?}");
    assert!(r.read("public/alpha/news/story-2/index.html").contains("zebra"));
    gensite::build::build(&opts).unwrap();
    let idx = Index::read(&r, "alpha");
    assert_eq!(idx.find("zebra"), BTreeSet::from([idx.id_of("/news/story-2/")]));
}

/// The preview publishes an edit's pages first, then its search index in
/// a second build: the index catches up by itself.
#[test]
fn the_preview_brings_its_search_index_up_to_date_after_an_edit() {
    let r = Repo::fixture("basic");
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/").status == 200, "the first build");
    r.edit("content/alpha/opinion/column.md", "\n---\n", "\n---\nzebracrossing\n\n");
    wait_for(|| http_get(s.port, "alpha.localhost", "/opinion/column/").body.contains("zebracrossing"), "the edit served");
    let out = r.path(".gen/serve/public/alpha");
    // A read during a commit may see a manifest whose shards are not all in
    // place yet: such a read counts as "not yet".
    let found = || std::panic::catch_unwind(|| Index::read_at(&out).find("zebracrossing").len()).unwrap_or(0);
    wait_for(|| found() == 1, "the preview's search index to find the edit");
}

/// The preview keeps each site's search cache in memory between builds
/// (reading and decoding megabytes of it to index one edit cost more than
/// the indexing) and still saves it: with the file gone, an edit is
/// analysed alone; once saved again (`forget` waits for the saving and
/// keeps search caches), another process's build after one more edit
/// analyses that one alone too.
#[test]
fn the_preview_keeps_its_search_cache_in_memory_and_saves_it() {
    let r = Repo::fixture("basic");
    let opts = preview_options(&r);
    let analysed = |report: &gensite::build::BuildReport| {
        report.sites.iter().find(|s| s.site == "alpha").and_then(|s| s.search.as_ref()).map(|s| (s.analysed, s.documents))
    };
    let (all, documents) = analysed(&gensite::build::build(&opts).unwrap()).unwrap();
    assert_eq!(all, documents, "the first build analyses every article");
    let cache = r.path(".gen/alpha.search");
    opts.memory.as_ref().unwrap().forget();
    std::fs::remove_file(&cache).unwrap();
    r.edit("content/alpha/news/story-2.md", "\n---\n", "\n---\nzebracrossing\n\n");
    assert_eq!(analysed(&gensite::build::build(&opts).unwrap()).unwrap().0, 1, "from memory");
    let idx = Index::read(&r, "alpha");
    assert_eq!(idx.find("zebracrossing"), BTreeSet::from([idx.id_of("/news/story-2/")]));
    opts.memory.as_ref().unwrap().forget();
    assert!(cache.exists(), "saved again once the preview's saving is done");
    r.edit("content/alpha/news/story-3.md", "\n---\n", "\n---\nyellowsubmarine\n\n");
    let cli = gensite::build::BuildOptions { memory: None, ..opts.clone() };
    assert_eq!(analysed(&gensite::build::build(&cli).unwrap()).unwrap().0, 1, "from the saved file");
    let idx = Index::read(&r, "alpha");
    assert_eq!(idx.find("yellowsubmarine"), BTreeSet::from([idx.id_of("/news/story-3/")]));
    assert_same_as_clean_build(&r);
}

/// Runs `tests/browser/search.mjs` over `cases`; returns its lines (one
/// JSON object per case).
fn browser_search(cases: serde_json::Value) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&cases).unwrap()).unwrap();
    let out = browser_script("search.mjs", &[file.to_str().unwrap()]).output().expect("node runs the browser driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "browser search failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The demo's search pages in headless Chromium (tests/browser/search.mjs),
/// typed into key by key: Korean words inside words and with particles,
/// English stems, no results, filters, phrases, highlighted titles and the
/// matching passage of the body, and the bytes a first query costs.
#[test]
fn the_demo_search_pages_find_korean_and_english_words_in_a_browser() {
    let r = Repo::demo();
    let s = serve(&r);
    wait_for(|| http_get(s.port, "daily.localhost", "/search/").status == 200, "the first build");
    let url = |site: &str, query: &str| format!("http://{site}.localhost:{}/search/{query}", s.port);
    let (rate, exports, exports_2023, subway) = (
        "한국은행, 기준금리 3.25%로 동결",
        "반도체 수출 14개월 연속 증가",
        "2023년 수출, 반도체 부진에 7.4% 감소",
        "지하철 9호선 연장 구간, 내년 3월 개통",
    );
    let latency = "Measuring Publish Latency in a Static Newsroom";
    let why_static = "왜 정적 사이트로 옮겼나 · Why we went static";
    let lines = browser_search(serde_json::json!([
        // A word inside a word: 금리 in 기준금리를.
        {"url": url("daily", ""), "query": "금리", "expect": [rate], "absent": [subway], "marks": true, "snippet": "기준금리를", "maxBytes": 80_000},
        // A particle is dropped: 수출을 finds 수출.
        {"url": url("daily", ""), "query": "수출을", "expect": [exports, exports_2023], "absent": [rate]},
        {"url": url("daily", ""), "query": "가계부채", "expect": [rate], "snippet": "가계부채"},
        {"url": url("daily", ""), "query": "존재하지않는낱말", "none": true},
        // Filters from the query string: a year, a tag without a query.
        {"url": url("daily", "?year=2024"), "query": "수출", "expect": [exports], "absent": [exports_2023]},
        {"url": url("daily", "?tag=금리"), "query": "", "expect": [rate], "absent": [exports, subway]},
        {"url": url("daily", "?section=society"), "query": "2023", "absent": [exports_2023]},
        // Phrases: words next to each other, in this order.
        {"url": url("daily", ""), "query": "\"기준금리 3.25\"", "expect": [rate]},
        {"url": url("daily", ""), "query": "\"3.25 기준금리\"", "none": true},
        // English stems: timing finds "timed", measures finds "Measuring".
        {"url": url("lab", ""), "query": "timing", "expect": [latency], "snippet": "timed"},
        {"url": url("lab", ""), "query": "measures", "expect": [latency], "marks": true},
        {"url": url("lab", ""), "query": "headlines", "expect": ["An Open Corpus of Korean News Headlines"], "absent": [latency]},
        // The network search on daily's page: results of two other sites,
        // linking to their own sites; then only one of them.
        {"url": url("daily", "?scope=all"), "query": "static", "expect": [latency, why_static],
         "hrefs": {latency: format!("http://lab.localhost:{}/*", s.port), why_static: format!("http://notes.localhost:{}/*", s.port)}},
        {"url": url("daily", "?scope=all&site=lab"), "query": "static", "expect": [latency], "absent": [why_static]},
        {"url": url("daily", "?scope=all"), "query": "금리", "expect": [rate]},
        // This site only, by default: lab's article is not found from daily.
        {"url": url("daily", ""), "query": "static", "none": true},
    ]));
    // The first query loads the page, its style, script and icon, the
    // manifest, the shard of its terms, the header of the results' block,
    // their details and their passages (two results): not the index.
    let first = &lines[0];
    assert!(first["requests"].as_u64().unwrap() <= 14, "{first}");
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
    Index::read(r, "alpha").urls().len()
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

/// `search.js` analyses a query with the rules the index was built with
/// (src/search/analyze.rs): the same terms for the same text, over fixed
/// cases and 3,000 random strings of Hangul (also decomposed), Han, kana,
/// Latin with accents, digits, Greek, Turkish dotted I, full-width forms,
/// punctuation and emoji.
#[test]
fn the_browser_analyses_text_exactly_as_the_index_does() {
    let mut samples: Vec<String> = [
        "기준금리를 동결했다",
        "KOSPI지수 3.25%로",
        "Publishing, published; publishes — stories of stopped makers",
        "ΟΔΟΣ Σίσυφος İstanbul ǅemal",
        "ＡＢＣ１２３ 全角 カタカナ ひらがな 漢字",
        "café CAFÉ naïve",
        "e\u{301}t\u{301}e\u{301} 한\u{1100}\u{1161}",
        "x".repeat(41).as_str(),
        "a1b2 3d 10,000명 2024년",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let pool: Vec<char> = "가각금리를은는이에서 한국은행기준ㄱㅏ\u{1100}\u{1161}\u{11a8}漢字かなカナabcdeingsyzé\u{301}ΣσςİıＡ１0123456789 .,-!?'\"%😀\u{200b}\t\n"
        .chars()
        .collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3000 {
        let len = (seed >> 59) as usize + 1;
        let s: String = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                pool[(seed >> 33) as usize % pool.len()]
            })
            .collect();
        samples.push(s);
    }
    let rust: Vec<Vec<String>> = samples
        .iter()
        .map(|s| {
            let mut v = vec![];
            analyze::terms(s, |t| v.push(t.to_string()));
            v
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default/static/search.js");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("samples.json");
    std::fs::write(&input, serde_json::to_vec(&samples).unwrap()).unwrap();
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(format!(
            "const s = require({:?}); const xs = JSON.parse(require('fs').readFileSync({:?}, 'utf8')); process.stdout.write(JSON.stringify(xs.map(x => s.terms(x))))",
            script, input
        ))
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let js: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    for ((s, r), j) in samples.iter().zip(&rust).zip(&js) {
        assert_eq!(r, j, "terms of {s:?}");
    }

    // Queries: a Korean particle is dropped before the bigrams are looked up.
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(format!(
            "const s = require({:?}); process.stdout.write(JSON.stringify(['수출을 ', '기준금리를 ', '금 ', 'publishing ', '\"rate cut\" 금리'].map(q => s.parse(q))))",
            script
        ))
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let q: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(q[0]["words"], serde_json::json!([[{"all": ["수출"]}]]));
    assert_eq!(q[1]["words"], serde_json::json!([[{"all": ["기준", "준금", "금리"]}]]));
    assert_eq!(q[2]["words"], serde_json::json!([[{"prefix": ["금"]}]]), "one syllable: every bigram it starts");
    assert_eq!(q[3]["words"], serde_json::json!([[{"all": ["publish"]}]]));
    assert_eq!(q[4]["phrases"], serde_json::json!(["rate cut"]));
    // The last word, still being typed (no space after it), is a prefix.
    assert_eq!(q[4]["words"][2], serde_json::json!([{"all": ["금리"]}]), "Hangul words are bigrams even while typed");
}

/// The network index of the fixture's two sites, read back like a site's.
fn network(r: &Repo) -> (serde_json::Value, Terms) {
    let out = r.path("public/alpha/_search/net");
    let manifest: serde_json::Value = serde_json::from_slice(&read_file(&out, "manifest.bin")).unwrap();
    let mut terms = BTreeMap::new();
    for shard in manifest["shards"].as_array().unwrap() {
        terms.extend(
            index::decode::shard(&std::fs::read(out.join(format!("f/{}.bin", shard[1].as_str().unwrap()))).unwrap())
                .into_iter()
                .map(|(t, d, top)| (t, (d, top))),
        );
    }
    (manifest, terms)
}

#[test]
fn the_network_index_merges_the_sites_and_carries_their_files() {
    let r = Repo::fixture("basic");
    r.edit("sites.toml", "paginate = 2", "paginate = 2\nsearch_network = true");
    let report: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    assert_eq!(report["network"]["host"], "alpha");
    let (m, terms) = network(&r);
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.iter().map(|p| p["site"].as_str().unwrap()).collect::<Vec<_>>(), ["alpha", "beta"]);
    let beta_from = parts[1]["offset"].as_u64().unwrap() as u32;
    assert_eq!(beta_from, parts[0]["docs"].as_u64().unwrap() as u32);
    assert_eq!(parts[1]["url"], "https://example.org/beta/");
    // A word of each site, with network ids in that site's range.
    let alpha = Index::read(&r, "alpha");
    let beta = Index::read(&r, "beta");
    let html = &terms["html"].0;
    assert_eq!(html.iter().map(|id| id - beta_from).collect::<Vec<_>>(), beta.terms["html"].0);
    assert_eq!(terms["문단"].0, alpha.terms["문단"].0);
    // The sites' blocks are carried as they are.
    for part in parts {
        for name in part["blocks"].as_array().unwrap() {
            let rel = format!("{}.bin", name.as_str().unwrap());
            let site = part["site"].as_str().unwrap();
            assert_eq!(
                std::fs::read(r.path(&format!("public/alpha/_search/net/f/{rel}"))).unwrap(),
                std::fs::read(r.path(&format!("public/{site}/_search/f/{rel}"))).unwrap(),
                "{rel}"
            );
        }
    }
    let sites: Vec<&str> = m["facets"]["site"].as_array().unwrap().iter().map(|v| v[0].as_str().unwrap()).collect();
    assert_eq!(sites, ["alpha", "beta"]);
    assert!(r.read("public/alpha/search/index.html").contains("data-network=/_search/net/manifest.bin"));
    assert!(!r.read("public/beta/search/index.html").contains("data-network"), "only the host offers it");
    // Found by a new user: the network's files had no cache rule at all.
    let headers = r.read("public/alpha/_headers");
    assert!(headers.contains("/_search/net/f/*\n  Cache-Control: public, max-age=31536000, immutable"), "{headers}");
    assert!(headers.contains("/_search/net/manifest.bin\n  Cache-Control: public, max-age=300"), "{headers}");
    assert!(!r.read("public/beta/_headers").contains("/net/"), "only the host has them");

    // Nothing changed: nothing written. An edit in beta: the network follows.
    let again: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    assert_eq!(again["network"]["files_written"], 0);
    r.edit("content/beta/posts/hello.md", "Raw HTML", "Raw HTML and zebras");
    let edited: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    assert!(edited["network"]["files_written"].as_u64().unwrap() > 0);
    let (_, terms) = network(&r);
    assert_eq!(terms["zebra"].0.len(), 1);
    // Removed from the host's output, it comes back.
    std::fs::remove_dir_all(r.path("public/alpha/_search/net")).unwrap();
    r.build();
    assert!(r.exists("public/alpha/_search/net/manifest.bin"));
    assert_same_as_clean_build(&r);
}

/// Found by a new user: the network index moved to another host, or
/// switched off, stayed in the old host's output (`--clean` too), unlike a
/// clean build.
#[test]
fn a_network_index_moved_to_another_host_or_switched_off_leaves_nothing_behind() {
    let r = Repo::fixture("basic");
    r.edit("sites.toml", "paginate = 2", "paginate = 2\nsearch_network = true");
    r.build();
    assert!(r.exists("public/alpha/_search/net/manifest.bin"));
    r.edit("sites.toml", "search_network = true", "search_network = true\nsearch_network_site = \"beta\"");
    let report: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    assert_eq!(report["network"]["host"], "beta");
    assert!(r.exists("public/beta/_search/net/manifest.bin"));
    assert!(!r.exists("public/alpha/_search/net"), "the old host keeps none of it");
    assert_same_as_clean_build(&r);
    // Switched off while the host fails: its kept pages still offer the
    // network, so the network stays until the host is published.
    r.edit("sites.toml", "search_network = true\nsearch_network_site = \"beta\"", "");
    r.write("content/beta/posts/broken.md", "---\ntitle: t\n---\n");
    r.fails(&["build"]);
    assert!(r.exists("public/beta/_search/net/manifest.bin"));
    assert!(r.read("public/beta/search/index.html").contains("data-network"));
    // Switched off: the host's copy goes, and so does the network's state.
    r.remove("content/beta/posts/broken.md");
    r.build();
    assert!(!r.exists("public/beta/_search/net"));
    assert!(!r.exists(".gen/_network.state"));
    assert_same_as_clean_build(&r);
    // And back on: published again.
    r.edit("sites.toml", "paginate = 2", "paginate = 2\nsearch_network = true");
    r.build();
    assert!(r.exists("public/alpha/_search/net/manifest.bin"));
    assert_same_as_clean_build(&r);
}

#[test]
fn network_settings_are_checked() {
    let r = Repo::fixture("basic");
    for (from, to, says) in [
        (
            "paginate = 2",
            "paginate = 2\nsearch_network = true\nsearch_network_site = \"gamma\"",
            "`search_network_site` `gamma` is not in the network",
        ),
        ("paginate = 2", "paginate = 2\nsearch_network_site = \"alpha\"", "no site has `search_network = true`"),
        ("language = \"ko\"", "language = \"ko\"\nsearch_network_site = \"alpha\"", "is a top-level key"),
        (
            "paginate = 2",
            "paginate = 2\nsearch_network = true\nsearch = false",
            "sites.toml:3: site `alpha` has `search_network = true` but `search = false`",
        ),
        // Its state's name in the cache folder.
        ("name = \"beta\"", "name = \"_network\"", "the site name `_network` is reserved"),
    ] {
        let original = r.read("sites.toml");
        r.edit("sites.toml", from, to);
        let err = r.fails(&["build"]);
        assert!(err.contains(says), "{to}: {err}");
        r.write("sites.toml", &original);
    }
}

/// A generated site of 1,500 Korean articles, cut into many shards and
/// blocks: a first query finds every article with 금리 inside 기준금리를,
/// and costs the page, one shard's directory and list and the shown
/// results' members, not the index (a few megabytes here).
#[test]
fn a_first_query_on_a_large_site_loads_a_small_part_of_its_index() {
    let r = Repo::fixture("basic");
    let syllables: Vec<char> = "가나다라마바사아자차카타파하고노도로모보소오조초코토포호구누두루무부수우주".chars().collect();
    for i in 0..1500usize {
        let word = |k: usize| format!("{}{}", syllables[(i * 7 + k * 13) % syllables.len()], syllables[(i * 11 + k * 5) % syllables.len()]);
        let mut words: Vec<String> = (0..200).map(|k| format!("{}{}", word(k), syllables[(i + k) % syllables.len()])).collect();
        if i % 10 == 0 {
            words.push("기준금리를".into());
        }
        r.write(
            &format!("content/alpha/news/g{i:04}.md"),
            &format!("---\ntitle: 기사 {i}\ndate: 2024-03-01\n---\n\n{}\n", words.join(" ")),
        );
    }
    r.build();
    let idx = Index::read(&r, "alpha");
    let shards = idx.manifest["shards"].as_array().unwrap().len();
    let blocks = idx.manifest["parts"][0]["blocks"].as_array().unwrap().len();
    assert!(shards >= 4 && blocks >= 6, "{shards} shards, {blocks} blocks");
    let index_bytes: u64 =
        walkdir::WalkDir::new(r.path("public/alpha/_search")).into_iter().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
    let s = serve(&r);
    wait_for(|| http_get(s.port, "alpha.localhost", "/search/").status == 200, "the first build");
    let lines = browser_search(serde_json::json!([
        {"url": format!("http://alpha.localhost:{}/search/", s.port), "query": "금리", "expect": ["기사 1490"], "snippet": "기준금리를"},
    ]));
    let first = &lines[0];
    assert_eq!(first["status"], "150건", "every article with 기준금리를: {first}");
    let bytes = first["bytes"].as_u64().unwrap();
    assert!(bytes < 120_000 && bytes * 10 < index_bytes, "{bytes} bytes of an index of {index_bytes}: {first}");
}

/// Kills a server started by a test, also when the test fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Python's `http.server` answers a Range request with the whole file
/// (200): the page finds that out once, fetches each file whole, once, and
/// still shows results and passages.
#[test]
fn search_works_on_a_host_without_range_requests() {
    let r = Repo::demo();
    r.build();
    let port = crate::util::free_port();
    let _server = Child(
        std::process::Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(r.path("public/lab"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs"),
    );
    wait_for(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "python's http.server to listen");
    assert_eq!(http_get(port, "127.0.0.1", "/search/").status, 200);
    let latency = "Measuring Publish Latency in a Static Newsroom";
    browser_search(serde_json::json!([
        {"url": format!("http://127.0.0.1:{port}/search/"), "query": "timing", "expect": [latency], "snippet": "timed"},
        {"url": format!("http://127.0.0.1:{port}/search/"), "query": "headlines", "expect": ["An Open Corpus of Korean News Headlines"]},
    ]));
}
