use crate::util::{Repo, assert_same_as_clean_build, changed, copy_dir, png, preview_options};
use std::collections::BTreeMap;

/// Build, change, build: returns the output paths rewritten by the second build.
fn rewritten_after(r: &Repo, change: impl FnOnce(&Repo)) -> Vec<String> {
    r.build();
    let before = r.snapshot("public");
    // Make any rewrite visible in mtimes even on coarse file systems.
    std::thread::sleep(std::time::Duration::from_millis(20));
    change(r);
    r.build();
    changed(&before, &r.snapshot("public"))
}

#[test]
fn a_no_op_build_rewrites_nothing() {
    let r = Repo::fixture("basic");
    assert_eq!(rewritten_after(&r, |_| {}), Vec::<String>::new());
}

/// A site none of whose inputs changed is skipped whole: no parsing, no
/// model, no rendering (its report has no such stages).
#[test]
fn a_site_whose_inputs_are_unchanged_is_skipped() {
    let r = Repo::fixture("basic");
    r.build();
    r.edit("content/beta/posts/hello.md", "Raw HTML", "Raw, edited HTML");
    let report: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    let stages = |site: &str| -> Vec<String> {
        let s = report["sites"].as_array().unwrap().iter().find(|s| s["site"] == site).unwrap();
        s["timings_ms"].as_object().unwrap().keys().cloned().collect()
    };
    assert!(!stages("alpha").contains(&"render".to_string()), "alpha is skipped: {:?}", stages("alpha"));
    assert!(stages("beta").contains(&"render".to_string()), "beta changed: {:?}", stages("beta"));
    let alpha = report["sites"].as_array().unwrap().iter().find(|s| s["site"] == "alpha").unwrap();
    assert!(alpha["pages"].as_u64().unwrap() > 10 && alpha["pages"] == alpha["pages_unchanged"], "{alpha}");
    // A skipped site still notices a deleted output.
    r.remove("public/alpha/news/story-2/index.html");
    r.build();
    assert!(r.exists("public/alpha/news/story-2/index.html"));
}

#[test]
fn a_body_edit_rewrites_only_that_article_and_the_search_index() {
    let r = Repo::fixture("basic");
    let w = rewritten_after(&r, |r| r.edit("content/alpha/news/story-3.md", "둘째 문단.", "둘째 문단을 고쳤다."));
    let (search, pages): (Vec<&String>, Vec<&String>) = w.iter().partition(|p| p.trim_start_matches('-').starts_with("alpha/_search/"));
    assert_eq!(pages, vec!["alpha/news/story-3/index.html"]);
    // The manifest, the article's block and the shards of the new words.
    assert!(search.contains(&&"alpha/_search/manifest.bin".to_string()), "{search:?}");
    assert!(search.iter().any(|p| p.starts_with("alpha/_search/f/b-")), "{search:?}");
    assert!(search.iter().any(|p| p.starts_with("alpha/_search/f/s-")), "{search:?}");
    assert_same_as_clean_build(&r);
}

#[test]
fn the_search_index_is_right_without_its_cache() {
    // Unchanged articles' analyses come from .gen/<site>.search; without it
    // their texts are read from the sources, and must come out the same as
    // rendered.
    let r = Repo::fixture("basic");
    let w = rewritten_after(&r, |r| {
        std::fs::remove_file(r.path(".gen/alpha.search")).unwrap();
        // The cache an earlier gen kept instead is stale: it goes.
        r.write(".gen/alpha.text", "old texts");
        r.edit("content/alpha/news/story-3.md", "둘째 문단.", "둘째 문단을 고쳤다.")
    });
    assert!(w.contains(&"alpha/_search/manifest.bin".to_string()), "{w:?}");
    assert!(r.exists(".gen/alpha.search"), "the cache is written again");
    assert!(!r.exists(".gen/alpha.text"));
    assert_same_as_clean_build(&r);
}

#[test]
fn a_title_edit_rewrites_the_lists_that_show_it() {
    let r = Repo::fixture("basic");
    let w = rewritten_after(&r, |r| r.edit("content/alpha/news/story-3.md", "title: 기사 3", "title: 기사 셋"));
    for p in [
        "alpha/news/story-3/index.html",
        "alpha/feed.xml",
        "alpha/atom.xml",
        "alpha/tags/경제/index.html",
        "alpha/series/연재/index.html",
        "alpha/authors/kim/page/2/index.html",
        // Neighbours and series members show the title too.
        "alpha/news/story-2/index.html",
        "alpha/news/story-4/index.html",
    ] {
        assert!(w.contains(&p.to_string()), "{p} not rewritten: {w:?}");
    }
    assert!(w.iter().all(|p| p.trim_start_matches('-').starts_with("alpha/")), "beta untouched: {w:?}");
    assert!(!w.contains(&"alpha/opinion/column/index.html".to_string()), "{w:?}");
    assert!(!w.contains(&"alpha/sitemap.xml".to_string()), "URLs did not change: {w:?}");
    assert_same_as_clean_build(&r);
}

#[test]
fn deleting_an_article_removes_its_output_and_updates_lists() {
    let r = Repo::fixture("basic");
    let w = rewritten_after(&r, |r| r.remove("content/alpha/opinion/column.md"));
    assert!(w.contains(&"-alpha/opinion/column/index.html".to_string()), "{w:?}");
    assert!(w.contains(&"-alpha/opinion/index.html".to_string()), "empty section page goes: {w:?}");
    assert!(w.contains(&"-alpha/authors/ann/index.html".to_string()), "{w:?}");
    assert!(w.contains(&"alpha/sitemap.xml".to_string()), "{w:?}");
    assert!(!r.exists("public/alpha/opinion"), "empty folders are pruned");
    assert_same_as_clean_build(&r);
}

#[test]
fn moving_an_article_to_another_site() {
    let r = Repo::fixture("basic");
    let w = rewritten_after(&r, |r| {
        let text = r.read("content/alpha/opinion/column.md");
        r.remove("content/alpha/opinion/column.md");
        r.write("content/beta/posts/column.md", &text);
    });
    assert!(w.contains(&"-alpha/opinion/column/index.html".to_string()), "{w:?}");
    assert!(w.contains(&"beta/2024/02/column/index.html".to_string()), "{w:?}");
    assert_same_as_clean_build(&r);
}

#[test]
fn a_template_edit_rewrites_only_pages_using_it() {
    let r = Repo::fixture("basic");
    let w = rewritten_after(&r, |r| r.edit("themes/default/templates/taxonomy.html", "<h1>", "<h1 class=\"tax\">"));
    let mut expected: Vec<String> =
        ["alpha/tags", "alpha/categories", "alpha/series", "beta/tags"].iter().map(|t| format!("{t}/index.html")).collect();
    expected.sort();
    assert_eq!(w, expected);
}

#[test]
fn files_gen_did_not_write_are_left_alone() {
    let r = Repo::fixture("basic");
    r.build();
    r.write("public/alpha/google1234.html", "verification");
    r.remove("content/alpha/opinion/column.md");
    r.build();
    assert_eq!(r.read("public/alpha/google1234.html"), "verification");
}

/// Found by a new user: a site taken out of `sites.toml` left its output
/// and its build state behind without a word. They stay (a site commented
/// out by mistake must not lose its output), and every build names them.
#[test]
fn a_site_taken_out_of_sites_toml_is_named_with_what_it_left() {
    let r = Repo::fixture("basic");
    r.build();
    let config = r.read("sites.toml");
    let (alpha, beta) = config.split_once("[[sites]]\nname = \"beta\"").unwrap();
    let rest = beta.split_once("\n\n").unwrap().1;
    r.write("sites.toml", &format!("{alpha}{rest}"));
    let err = String::from_utf8_lossy(&r.run(&["build"]).stderr).to_string();
    assert!(err.contains("warning: site `beta` is no longer in sites.toml"), "{err}");
    assert!(err.contains("public/beta") && err.contains(".gen/beta.state") && err.contains("delete them"), "{err}");
    assert!(r.exists("public/beta/index.html"), "left as it was");
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    assert!(v["warnings"][0].as_str().unwrap().contains("`beta`"), "{v}");
    // Found later: `gen check` did not say it.
    let out = String::from_utf8_lossy(&r.run(&["check"]).stdout).to_string();
    assert!(out.contains("warning: site `beta` is no longer in sites.toml"), "{out}");
    // Once deleted, nothing to say.
    std::fs::remove_dir_all(r.path("public/beta")).unwrap();
    r.remove(".gen/beta.state");
    let err = String::from_utf8_lossy(&r.run(&["build"]).stderr).to_string();
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn a_deleted_output_is_restored() {
    let r = Repo::fixture("basic");
    r.build();
    r.remove("public/alpha/news/story-2/index.html");
    r.build();
    assert!(r.exists("public/alpha/news/story-2/index.html"));
}

#[test]
fn a_corrupt_cache_is_reported_and_ignored() {
    let r = Repo::fixture("basic");
    r.build();
    let state = r.path(".gen/alpha.state");
    let mut bytes = std::fs::read(&state).unwrap();
    let n = bytes.len();
    bytes.truncate(n / 2);
    std::fs::write(&state, bytes).unwrap();
    let out = r.run(&["build"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: alpha: cache ignored") && stderr.contains("corrupt"), "{stderr}");
    assert_same_as_clean_build(&r);
    // The next build trusts the rewritten cache again.
    let again = r.run(&["build"]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("warning"));
}

#[test]
fn a_restored_cache_with_new_mtimes_renders_nothing() {
    let r = Repo::fixture("basic");
    r.build();
    // Touch every source, as a fresh CI checkout would.
    for f in walkdir::WalkDir::new(r.path("content")).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
        let text = std::fs::read(f.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        std::fs::write(f.path(), text).unwrap();
    }
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    for s in v["sites"].as_array().unwrap() {
        assert_eq!(s["pages_rendered"], 0, "{s}");
        assert_eq!(s["files_written"], 0, "{s}");
    }
}

#[test]
fn clean_ignores_the_cache_but_keeps_unchanged_files() {
    let r = Repo::fixture("basic");
    r.build();
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--clean", "--json"])).unwrap();
    let alpha = &v["sites"][0];
    assert_eq!(alpha["pages_unchanged"], 0);
    assert_eq!(alpha["pages_rendered"], alpha["pages"]);
}

#[test]
fn a_build_killed_midway_leaves_readable_output_and_the_next_finishes() {
    let r = Repo::fixture("basic");
    r.build();
    for i in 0..400 {
        r.write(
            &format!("content/alpha/bulk/b{i:03}.md"),
            &format!("---\ntitle: Bulk {i}\ndate: 2024-03-01\ntags: [bulk]\n---\n\nText {i}.\n\n```rust\nfn f() {{}}\n```\n"),
        );
    }
    // Kill once staging has begun (a condition, not a guess of time): before
    // the commit point nothing of the new build is published; a kill during
    // the commit is finished by the next build.
    let mut landed_before_commit = 0;
    for _ in 0..3 {
        let mut child =
            r.command_at("1735689600", &["build"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        let mut exited = false;
        crate::util::wait_for(
            || {
                exited = child.try_wait().unwrap().is_some();
                exited || r.exists("public/.gen-staging/alpha")
            },
            "the build to stage files",
        );
        child.kill().ok();
        child.wait().unwrap();
        assert!(r.read("public/alpha/news/story-2/index.html").contains("기사 2"), "old pages stay readable");
        if !exited && !r.exists("public/.gen-staging/alpha.journal") {
            landed_before_commit += 1;
            assert!(!r.exists("public/alpha/bulk/b000/index.html"), "killed before the commit point, yet published");
        }
        if exited || r.exists("public/alpha/bulk/b000/index.html") {
            break; // the build got through (or committed): nothing more to interrupt
        }
    }
    assert!(landed_before_commit > 0, "no kill landed while the build was staging");
    r.build();
    assert!(r.exists("public/alpha/bulk/b399/index.html"));
    assert!(!r.exists("public/.gen-staging"));
    assert_same_as_clean_build(&r);
}

#[test]
fn an_author_edit_rewrites_what_shows_that_author() {
    let r = Repo::fixture("basic");
    let w = rewritten_after(&r, |r| r.edit("content/authors.yaml", "name: Ann Writer", "name: Ann Editor"));
    assert!(w.contains(&"alpha/opinion/column/index.html".to_string()), "{w:?}");
    assert!(w.contains(&"alpha/authors/ann/index.html".to_string()), "{w:?}");
    assert!(w.contains(&"beta/2023/05/hello/index.html".to_string()), "{w:?}");
    assert!(!w.contains(&"alpha/news/story-2/index.html".to_string()), "kim's articles untouched: {w:?}");
    assert_same_as_clean_build(&r);
}

#[test]
fn a_config_edit_rebuilds_only_that_site() {
    let r = Repo::fixture("basic");
    let w = rewritten_after(&r, |r| r.edit("sites.toml", "title = \"Beta Blog\"", "title = \"Beta Journal\""));
    assert!(!w.is_empty());
    assert!(w.iter().all(|p| p.starts_with("beta/")), "{w:?}");
    assert_same_as_clean_build(&r);
}

#[test]
fn moving_an_article_to_another_section() {
    let r = Repo::fixture("basic");
    let w = rewritten_after(&r, |r| {
        let text = r.read("content/alpha/news/story-2.md");
        r.remove("content/alpha/news/story-2.md");
        r.write("content/alpha/opinion/story-2.md", &text);
    });
    assert!(w.contains(&"-alpha/news/story-2/index.html".to_string()), "{w:?}");
    assert!(w.contains(&"alpha/opinion/story-2/index.html".to_string()), "{w:?}");
    assert!(w.contains(&"alpha/opinion/index.html".to_string()), "{w:?}");
    assert_same_as_clean_build(&r);
}

/// The preview server keeps build states in memory between builds; the
/// result must be the same as with states read from disk.
#[test]
fn states_kept_in_memory_give_the_same_builds() {
    let r = Repo::fixture("basic");
    let opts = preview_options(&r);
    gensite::build::build(&opts).unwrap();
    r.edit("content/alpha/news/story-2.md", "title: 기사 2", "title: 기사 둘");
    let edited = gensite::build::build(&opts).unwrap();
    let alpha = edited.sites.iter().find(|s| s.site == "alpha").unwrap();
    assert!(alpha.pages_rendered > 0 && alpha.pages_rendered < alpha.pages, "{alpha:?}");
    let again = gensite::build::build(&opts).unwrap();
    assert!(again.sites.iter().all(|s| s.files_written == 0 && s.pages_rendered == 0), "{again:?}");
    assert_same_as_clean_build(&r);
}

/// The preview keeps each output's input hash and hashes again only the
/// outputs that show an article that changed: an edited title still
/// reaches the pages that link to it (its neighbours, its series, the
/// lists), and nothing else is rendered. (Debug builds also check every
/// kept hash against a new one.)
#[test]
fn kept_input_hashes_still_render_every_page_that_shows_an_edit() {
    let r = Repo::fixture("basic");
    let opts = preview_options(&r);
    gensite::build::build(&opts).unwrap();
    let bytes = || r.snapshot("public").into_iter().map(|(k, (_, b))| (k, b)).collect::<BTreeMap<_, _>>();
    let before = bytes();
    r.edit("content/alpha/news/story-3.md", "title: 기사 3", "title: 기사 셋");
    let report = gensite::build::build(&opts).unwrap();
    let alpha = report.sites.iter().find(|s| s.site == "alpha").unwrap();
    assert!(alpha.pages_rendered > 0 && alpha.pages_rendered < alpha.pages, "{alpha:?}");
    let shows = |rel: &str| r.read(&format!("public/alpha/{rel}")).contains("기사 셋");
    assert!(shows("news/story-3/index.html") && shows("news/story-2/index.html") && shows("news/story-4/index.html"));
    assert!(shows("news/index.html") && shows("index.html"));
    r.edit("content/alpha/news/story-3.md", "title: 기사 셋", "title: 기사 3");
    gensite::build::build(&opts).unwrap();
    assert!(before == bytes(), "back as it was");
    assert_same_as_clean_build(&r);
}

/// The preview saves its state after publishing, so a preview stopped in
/// between leaves none: the next one renders the site afresh and removes
/// from its own output whatever it no longer publishes. And its output
/// folder removed as a whole is published whole again, though the watcher
/// named only an edit.
#[test]
fn a_preview_without_its_state_or_its_output_folder_publishes_the_site_whole() {
    let r = Repo::fixture("basic");
    let opts = preview_options(&r);
    gensite::build::build(&opts).unwrap();
    gensite::build::build(&opts).unwrap(); // waits for the first state to be saved
    std::fs::remove_file(r.path(".gen/alpha.state")).unwrap();
    r.remove("content/alpha/opinion/column.md");
    let mut restarted = preview_options(&r);
    let report = gensite::build::build(&restarted).unwrap();
    assert!(!r.exists("public/alpha/opinion/column/index.html"), "a page no longer published is removed");
    assert!(report.sites.iter().flat_map(|s| &s.warnings).all(|w| !w.contains("had no build state")), "{report:?}");

    // (One process: its next build waits for the state it is saving.)
    gensite::build::build(&restarted).unwrap();
    std::fs::remove_dir_all(r.path("public/alpha")).unwrap();
    r.edit("content/alpha/news/story-2.md", "title: 기사 2", "title: 기사 둘");
    restarted.changed = Some(std::sync::Arc::new(["content/alpha/news/story-2.md".to_string()].into_iter().collect()));
    gensite::build::build(&restarted).unwrap();
    assert!(r.read("public/alpha/news/story-2/index.html").contains("기사 둘"));
    assert_same_as_clean_build(&r);
}

/// A preview trusts its own output: a build checks at its end only the
/// files it moved, and the rest once it has saved the state. Files removed
/// from its output between builds (a folder of it, or the whole site's,
/// replaced by an empty one) are restored by the build after the next.
#[test]
fn files_removed_from_a_previews_output_are_restored_by_the_build_after() {
    let r = Repo::fixture("basic");
    let mut opts = preview_options(&r);
    let named = |paths: &[&str]| Some(std::sync::Arc::new(paths.iter().map(|p| p.to_string()).collect()));
    gensite::build::build(&opts).unwrap();
    opts.changed = named(&[]);
    gensite::build::build(&opts).unwrap();

    // Part of the output removed; the site's folder replaced by an empty one.
    let part_removed = || std::fs::remove_dir_all(r.path("public/alpha/opinion")).unwrap();
    let folder_replaced = || {
        std::fs::remove_dir_all(r.path("public/alpha")).unwrap();
        std::fs::create_dir(r.path("public/alpha")).unwrap();
    };
    let damages: [(&str, &str, &dyn Fn()); 2] = [("2", "둘", &part_removed), ("3", "셋", &folder_replaced)];
    for (n, word, damage) in damages {
        damage();
        let article = format!("content/alpha/news/story-{n}.md");
        r.edit(&article, &format!("title: 기사 {n}"), &format!("title: 기사 {word}"));
        opts.changed = named(&[&article]);
        gensite::build::build(&opts).unwrap();
        assert!(r.read(&format!("public/alpha/news/story-{n}/index.html")).contains(&format!("기사 {word}")));
        opts.changed = named(&[]);
        gensite::build::build(&opts).unwrap();
        assert_same_as_clean_build(&r);
    }
}

/// The preview's watcher names what changed: a site whose state is kept in
/// memory stats only those files (an edit it does not name is not seen),
/// walks when it names a file the state does not know, and checks every
/// file again after a build of the site failed.
#[test]
fn the_preview_reads_only_what_the_watcher_names() {
    let r = Repo::fixture("basic");
    let mut opts = preview_options(&r);
    gensite::build::build(&opts).unwrap();
    let named = |paths: &[&str]| Some(std::sync::Arc::new(paths.iter().map(|p| p.to_string()).collect()));
    let page = |rel: &str| r.read(&format!("public/alpha/news/{rel}/index.html"));

    r.edit("content/alpha/news/story-2.md", "title: 기사 2", "title: 기사 둘");
    r.edit("content/alpha/news/story-3.md", "title: 기사 3", "title: 기사 셋");
    opts.changed = named(&["content/alpha/news/story-2.md"]);
    gensite::build::build(&opts).unwrap();
    assert!(page("story-2").contains("기사 둘"));
    assert!(page("story-3").contains("기사 3"), "a file the watcher did not name is taken as it was");
    opts.changed = named(&["content/alpha/news/story-3.md"]);
    gensite::build::build(&opts).unwrap();
    assert!(page("story-3").contains("기사 셋"));

    r.write("content/alpha/news/added.md", "---\ntitle: 새 기사\ndate: 2024-03-01\n---\n\n본문.\n");
    opts.changed = named(&["content/alpha/news/added.md"]);
    gensite::build::build(&opts).unwrap();
    assert!(page("added").contains("새 기사"), "a file the state does not know: the site is walked");
    r.remove("content/alpha/news/added.md");
    opts.changed = named(&["content/alpha/news/added.md"]);
    gensite::build::build(&opts).unwrap();
    assert!(!r.exists("public/alpha/news/added/index.html"));

    // A folder renamed: the watcher names the folders, not the files in them.
    // (A build that walked folders changed within the last second does not
    // keep their stamps: age them, and let a full build record them.)
    r.age();
    opts.changed = None;
    gensite::build::build(&opts).unwrap();
    std::fs::rename(r.path("content/alpha/opinion"), r.path("content/alpha/views")).unwrap();
    opts.changed = named(&["content/alpha/opinion", "content/alpha/views"]);
    gensite::build::build(&opts).unwrap();
    assert!(r.exists("public/alpha/views/column/index.html") && !r.exists("public/alpha/opinion/column/index.html"));

    // The site's folder replaced as a whole: only the folder is named.
    r.age();
    opts.changed = None;
    gensite::build::build(&opts).unwrap();
    std::fs::rename(r.path("content/alpha"), r.path("alpha-old")).unwrap();
    copy_dir(&r.path("alpha-old"), &r.path("content/alpha"));
    r.edit("content/alpha/views/column.md", "\n---\n", "\n---\nreplaced folder\n\n");
    std::fs::remove_dir_all(r.path("alpha-old")).unwrap();
    opts.changed = named(&["content/alpha"]);
    gensite::build::build(&opts).unwrap();
    assert!(r.read("public/alpha/views/column/index.html").contains("replaced folder"));

    // A cover replaced in place: the article is made again (its source is
    // the same), so every list showing the cover shows the new one.
    r.edit("content/alpha/news/first-story/index.md", "series: 연재\n", "series: 연재\nimage: photo.png\n");
    opts.changed = named(&["content/alpha/news/first-story/index.md"]);
    gensite::build::build(&opts).unwrap();
    r.write_bytes("content/alpha/news/first-story/photo.png", &png(12, 9, "replaced"));
    opts.changed = named(&["content/alpha/news/first-story/photo.png"]);
    gensite::build::build(&opts).unwrap();
    let new_cover = blake3::hash(&png(12, 9, "replaced")).to_hex().to_string();
    assert!(r.read("public/alpha/index.html").contains(&new_cover), "the front page shows the new cover");

    let story_4 = r.read("content/alpha/news/story-4.md");
    r.write("content/alpha/news/story-4.md", "---\ntitle: [broken\n---\n");
    opts.changed = named(&["content/alpha/news/story-4.md"]);
    assert!(gensite::build::build(&opts).is_err());
    r.edit("content/alpha/news/story-3.md", "title: 기사 셋", "title: 기사 넷");
    r.write("content/alpha/news/story-4.md", &story_4);
    opts.changed = named(&[]);
    gensite::build::build(&opts).unwrap();
    assert!(page("story-3").contains("기사 넷"), "after a failed build every file is checked");
    opts.changed = None;
    assert_same_as_clean_build(&r);
}

/// With no file changed, a site is skipped as a whole; the clock and the
/// build's options still count as inputs.
#[test]
fn a_future_article_comes_due_without_any_file_changing() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/embargoed.md", "---\ntitle: 엠바고\ndate: 2025-01-02T09:00:00+09:00\n---\n\n곧 공개.\n");
    r.age(); // so that nothing but the clock tells the builds apart
    r.build(); // SOURCE_DATE_EPOCH: 2025-01-01
    r.build();
    assert!(!r.exists("public/alpha/news/embargoed/index.html"));
    let build_at = |epoch: &str| {
        let out = r.command_at(epoch, &["build"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    build_at("1735689700"); // a minute later: still embargoed, nothing to do
    assert!(!r.exists("public/alpha/news/embargoed/index.html"));
    build_at("1735776000"); // 2025-01-02T00:00Z = 09:00 in Seoul: due
    assert!(r.exists("public/alpha/news/embargoed/index.html"));
    assert!(r.read("public/alpha/index.html").contains("엠바고"));
    // Two days on it leaves the news sitemap, again with no file changed.
    assert!(r.exists("public/alpha/news-sitemap.xml"));
    build_at("1736035200"); // 2025-01-05
    assert!(!r.exists("public/alpha/news-sitemap.xml"));
}

#[test]
fn build_options_count_as_inputs() {
    let r = Repo::fixture("basic");
    r.build();
    assert!(!r.exists("public/alpha/news/draft/index.html"));
    r.ok(&["build", "--drafts"]);
    assert!(r.exists("public/alpha/news/draft/index.html"), "--drafts is not a no-op");
    r.build();
    assert!(!r.exists("public/alpha/news/draft/index.html"));
    r.ok(&["build", "--no-minify"]);
    assert!(r.read("public/alpha/index.html").contains("<!doctype html>\n"), "--no-minify rewrites the pages");
}

/// Builds re-stat the known sources instead of walking while no folder
/// changed; a file added, renamed or removed anywhere changes a folder.
#[test]
fn added_and_renamed_articles_are_found_in_known_folders() {
    let r = Repo::fixture("basic");
    r.build();
    r.write("content/alpha/news/first-story/second.md", "---\ntitle: 묶음 안의 둘째\ndate: 2024-02-02\n---\n\n둘째.\n");
    r.build();
    assert!(r.exists("public/alpha/news/second/index.html"), "a file added inside a bundle folder");
    std::fs::rename(r.path("content/alpha/news/story-4.md"), r.path("content/alpha/news/story-four.md")).unwrap();
    r.build();
    assert!(r.exists("public/alpha/news/story-four/index.html") && !r.exists("public/alpha/news/story-4/index.html"));
    std::fs::create_dir_all(r.path("content/alpha/sports/final")).unwrap();
    r.write("content/alpha/sports/final/index.md", "---\ntitle: 결승\ndate: 2024-02-03\n---\n\n결승.\n");
    r.build();
    assert!(r.exists("public/alpha/sports/final/index.html"), "a new section");
    assert_same_as_clean_build(&r);
}

/// Hardening round 2, case 10: an image added to `content/<site>/assets/`
/// that shadows one of the shared `assets/` changed no input the skip
/// check saw: pages kept the old image until `--clean`.
#[test]
fn an_image_added_to_site_assets_shadowing_a_shared_one_is_used_at_once() {
    let r = Repo::fixture("basic");
    r.write_bytes("assets/logo.png", &png(10, 10, "shared"));
    r.edit("content/alpha/opinion/column.md", "\n---\n", "\n---\n![로고](/logo.png)\n");
    r.age();
    r.build();
    let hash = |b: &[u8]| blake3::hash(b).to_hex().to_string();
    assert!(r.read("public/alpha/opinion/column/index.html").contains(&hash(&png(10, 10, "shared"))));
    r.write_bytes("content/alpha/assets/logo.png", &png(10, 10, "site"));
    r.build();
    let page = r.read("public/alpha/opinion/column/index.html");
    assert!(page.contains(&hash(&png(10, 10, "site"))), "{page}");
    assert_same_as_clean_build(&r);
}

/// A build that finds the sources again without walking (no folder
/// changed) lost the section pages (`_index.md`): the menu fell back to
/// folder names and every page was rendered again, wrongly.
#[test]
fn section_titles_survive_a_build_that_walks_no_folder() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/_index.md", "---\ntitle: 소식\n---\n\n새 소식.\n");
    r.age();
    let w = rewritten_after(&r, |_| {});
    assert_eq!(w, Vec::<String>::new());
    assert!(r.read("public/alpha/index.html").contains(">소식<"), "the menu shows the section's title");
}

/// Hardening round 2, case 9: an article edited in place, same size, its
/// mtime put back, is read again (the change time says it was written).
#[test]
fn an_article_edited_with_its_mtime_restored_is_rendered_again() {
    let r = Repo::fixture("basic");
    r.build();
    let path = r.path("content/beta/posts/hello.md");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace("kept", "KEPT");
    assert!(edited != text && edited.len() == text.len());
    std::fs::write(&path, &edited).unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    r.build();
    let html = r.read("public/beta/2023/05/hello/index.html");
    assert!(html.contains("KEPT"), "the edit is published: {html}");
}
