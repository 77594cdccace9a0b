//! Publishing that can be trusted: nothing half-published, never stuck, one
//! build at a time, files gen did not write left alone (issue #13, cases
//! 1–9; each test is named after its case).

use std::path::Path;

use crate::util::{Repo, assert_same_as_clean_build};

/// The basic fixture with HTML stubs at old paths (hosts without
/// server-side redirects): aliases then become files of their own.
fn with_stubs() -> Repo {
    let r = Repo::fixture("basic");
    let formats = "redirect_formats = [\"netlify\", \"json\", \"nginx\", \"html\"]";
    r.edit("sites.toml", "description = \"Fixture site in Korean\"", &format!("description = \"Fixture site in Korean\"\n{formats}"));
    r
}

/// The output tree's bytes (mtimes left out).
fn bytes(r: &Repo) -> Vec<(String, Vec<u8>)> {
    r.snapshot("public").into_iter().map(|(k, (_, b))| (k, b)).collect()
}

/// An alias onto the feed (which would also put a stub folder where the
/// feed is): the build fails before publishing anything, and once the alias is gone the next build
/// works (it used to leave a journal that failed every build after it).
#[test]
fn alias_onto_the_feed_fails_before_publishing_and_the_next_build_works() {
    let r = Repo::fixture("basic");
    r.build();
    let before = bytes(&r);
    r.edit("content/alpha/news/story-2.md", "tags: [경제]", "tags: [경제]\naliases: [\"/feed.xml/\"]");
    let err = r.fails(&["build"]);
    assert!(err.contains("redirect from /feed.xml/ hides a live page") && err.contains("story-2.md"), "{err}");
    assert!(err.contains("its previous output kept: alpha"), "{err}");
    assert_eq!(bytes(&r), before, "nothing published");
    assert!(!r.exists("public/.gen-staging"));
    r.edit("content/alpha/news/story-2.md", "aliases: [\"/feed.xml/\"]", "");
    r.build();
    assert_same_as_clean_build(&r);
}

#[test]
fn aliases_x_html_and_x_html_y_html_together_are_an_error() {
    let r = with_stubs();
    r.edit("content/alpha/news/story-2.md", "tags: [경제]", "tags: [경제]\naliases: [/x.html, /x.html/y.html]");
    let err = r.fails(&["build"]);
    assert!(err.contains("/x.html/y.html inside /x.html"), "{err}");
    assert!(!r.exists("public/alpha"));
}

#[test]
fn alias_of_an_index_html_with_a_trailing_slash_is_an_error() {
    let r = Repo::fixture("basic");
    r.edit("content/alpha/news/story-3.md", "title:", "aliases: [/news/story-2/index.html/]\ntitle:");
    let err = r.fails(&["build"]);
    assert!(err.contains("redirect from /news/story-2/index.html/ hides a live page"), "{err}");
}

#[test]
fn a_slug_longer_than_255_bytes_is_an_error_naming_the_article() {
    let r = Repo::fixture("basic");
    let slug = "가".repeat(90); // 270 bytes
    r.edit("content/alpha/news/story-2.md", "title:", &format!("slug: {slug}\ntitle:"));
    let err = r.fails(&["build"]);
    assert!(err.contains("story-2.md") && err.contains("270 bytes"), "{err}");
    let tag = "x".repeat(300);
    r.edit("content/alpha/news/story-2.md", &format!("slug: {slug}\n"), "");
    r.edit("content/alpha/news/story-2.md", "tags: [경제]", &format!("tags: [{tag}]"));
    let err = r.fails(&["build"]);
    assert!(err.contains("300 bytes"), "{err}");
}

#[test]
fn an_asset_that_turns_from_a_file_into_a_folder_and_back_is_published() {
    let r = Repo::fixture("basic");
    r.write("assets/files", "a file");
    r.build();
    assert_eq!(r.read("public/alpha/files"), "a file");
    r.remove("assets/files");
    r.write("assets/files/report.txt", "now a folder");
    r.build();
    assert_eq!(r.read("public/alpha/files/report.txt"), "now a folder");
    assert_same_as_clean_build(&r);
    std::fs::remove_dir_all(r.path("assets/files")).unwrap();
    r.write("assets/files", "a file again");
    r.build();
    assert_eq!(r.read("public/alpha/files"), "a file again");
    assert_same_as_clean_build(&r);
}

#[test]
fn a_state_file_that_is_a_folder_fails_before_publishing_and_names_it() {
    let r = Repo::fixture("basic");
    r.build();
    let before = bytes(&r);
    std::fs::remove_file(r.path(".gen/alpha.state")).unwrap();
    std::fs::create_dir_all(r.path(".gen/alpha.state/x")).unwrap();
    r.edit("content/alpha/news/story-2.md", "본문 2.", "본문 2, 고침.");
    let err = r.fails(&["build"]);
    assert!(err.contains("alpha.state is a folder"), "{err}");
    assert_eq!(bytes(&r), before, "nothing of alpha published");
    std::fs::remove_dir_all(r.path(".gen/alpha.state")).unwrap();
    r.build();
    assert!(r.read("public/alpha/news/story-2/index.html").contains("고침"));
}

/// A journal left by a crash that cannot be replayed (here: not a journal
/// at all) is reported once, and the site is rebuilt from scratch.
#[test]
fn a_journal_that_cannot_be_replayed_is_reported_once_and_the_site_rebuilt() {
    let r = Repo::fixture("basic");
    r.build();
    r.write("public/alpha/news/story-2/index.html", "half-published");
    r.write("public/.gen-staging/alpha.journal", "{\"moves\": 5}");
    let out = r.run(&["build"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("alpha.journal could not be replayed").count(), 1, "{stderr}");
    assert!(!r.exists("public/.gen-staging"));
    assert_same_as_clean_build(&r);
    let again = r.run(&["build"]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("journal"), "reported once");
}

#[test]
fn a_second_build_while_one_holds_the_lock_says_who_holds_it() {
    let r = Repo::fixture("basic");
    r.build();
    let lock = std::fs::OpenOptions::new().read(true).write(true).open(r.path(".gen/lock")).unwrap();
    lock.try_lock().unwrap();
    std::fs::write(r.path(".gen/lock"), "4242").unwrap();
    let err = r.fails(&["build"]);
    assert!(err.contains("another gen build is running on this repository (pid 4242)"), "{err}");
    let err = r.fails(&["check"]);
    assert!(err.contains("another gen build is running"), "{err}");
    drop(lock);
    r.build();
}

/// The journal and the state are synced, and their folder, before the
/// renames that make them count (seen with strace).
#[test]
fn the_journal_and_the_state_are_synced_before_their_rename() {
    let r = Repo::fixture("basic");
    r.build();
    r.edit("content/alpha/news/story-2.md", "본문 2.", "본문 2, 고침.");
    let trace = r.path("trace.txt");
    let out = std::process::Command::new("strace")
        .args(["-f", "-y", "-o"])
        .arg(&trace)
        .args(["-e", "trace=fsync,fdatasync,rename,renameat,renameat2", env!("CARGO_BIN_EXE_gen"), "build"])
        .current_dir(r.root())
        .env("SOURCE_DATE_EPOCH", "1735689600")
        .output()
        .expect("strace is installed by .ci/run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = std::fs::read_to_string(&trace).unwrap().lines().map(String::from).collect();
    let find = |what: &dyn Fn(&str) -> bool, name: &str| {
        lines.iter().position(|l| what(l)).unwrap_or_else(|| panic!("no {name} in\n{}", lines.join("\n")))
    };
    for (tmp, fin) in [("alpha.journal.tmp", "alpha.journal"), ("alpha.state.new", "alpha.state")] {
        let synced = find(&|l: &str| l.contains("fsync(") && l.contains(tmp), &format!("fsync of {tmp}"));
        let renamed =
            find(&|l: &str| l.contains("rename") && l.contains(tmp) && l.contains(&format!("{fin}\"")), &format!("rename of {tmp}"));
        assert!(synced < renamed, "{tmp} renamed before it was synced");
        let folder_synced = lines[renamed..].iter().any(|l| l.contains("fsync(") && (l.contains(".gen>") || l.contains(".gen-staging>")));
        assert!(folder_synced, "the folder of {fin} is not synced after the rename:\n{}", lines.join("\n"));
    }
}

/// `rm -rf public` while the build renders: the build fails rather than
/// exit 0 with a partial site, and the next one restores it.
#[test]
fn output_deleted_during_a_build_is_an_error() {
    let r = Repo::fixture("basic");
    r.build();
    r.edit("content/alpha/news/story-2.md", "본문 2.", "본문 2, 고침.");
    let mut opts = gensite::build::BuildOptions::new(r.root());
    opts.now = chrono::DateTime::from_timestamp(1_735_689_600, 0).unwrap().fixed_offset();
    let public = r.path("public");
    let deleted = std::sync::Arc::new(std::sync::Once::new());
    opts.progress = Some(std::sync::Arc::new(move |_, _, _| deleted.call_once(|| std::fs::remove_dir_all(&public).unwrap())));
    let err = gensite::build::build(&opts).expect_err("a build whose output vanished must fail");
    assert!(format!("{err:#}").contains("vanished") || format!("{err:#}").contains("went missing"), "{err:#}");
    r.build();
    assert_same_as_clean_build(&r);
}

#[test]
fn a_file_gen_did_not_write_is_never_overwritten_or_deleted() {
    let r = Repo::fixture("basic");
    r.build();
    r.write("public/alpha/news/report/index.html", "made by hand");
    r.write("public/alpha/extra/notes.txt", "made by hand too");
    r.write("content/alpha/news/report.md", "---\ntitle: Report\ndate: 2024-02-01\n---\n\nText.\n");
    let err = r.fails(&["build"]);
    assert!(err.contains("public/alpha/news/report/index.html") && err.contains("not written by gen"), "{err}");
    assert!(err.contains("report.md"), "names the article: {err}");
    assert_eq!(r.read("public/alpha/news/report/index.html"), "made by hand");
    r.remove("content/alpha/news/report.md");
    r.build();
    r.ok(&["build", "--clean"]);
    assert_eq!(r.read("public/alpha/news/report/index.html"), "made by hand");
    assert_eq!(r.read("public/alpha/extra/notes.txt"), "made by hand too");
}

/// `--clean` renders everything but still knows what gen published: an
/// article removed since is removed from the output.
#[test]
fn a_clean_build_removes_what_earlier_builds_published() {
    let r = Repo::fixture("basic");
    r.build();
    assert!(r.exists("public/alpha/news/story-3/index.html"));
    r.remove("content/alpha/news/story-3.md");
    r.ok(&["build", "--clean"]);
    assert!(!r.exists("public/alpha/news/story-3/index.html"));
}

/// A build that changes no output file (a source touched, same bytes)
/// writes nothing into the output folder: it may be read-only. Root ignores
/// permissions, so the test looks at the folders' mtimes, which any entry
/// created or removed in them (a journal, staging) would change.
#[test]
fn a_build_with_nothing_to_publish_does_not_write_to_the_output_folder() {
    let r = Repo::fixture("basic");
    r.build();
    let mtime = |rel: &str| std::fs::metadata(r.path(rel)).unwrap().modified().unwrap();
    let before = (mtime("public"), mtime("public/alpha"));
    let text = r.read("content/alpha/news/story-2.md");
    r.write("content/alpha/news/story-2.md", &text);
    let report: serde_json::Value = serde_json::from_str(&r.ok(&["build", "--json"])).unwrap();
    let alpha = report["sites"].as_array().unwrap().iter().find(|s| s["site"] == "alpha").unwrap();
    assert!(alpha["timings_ms"].get("render").is_some(), "the full path ran: {alpha}");
    assert_eq!(alpha["files_written"], 0);
    assert_eq!((mtime("public"), mtime("public/alpha")), before);
}

/// Every write failing the same way (a full disk, a read-only or
/// forbidden folder: here sysfs, where not even root may create folders)
/// is one error with the count and the first path, not a line per file.
#[test]
fn a_disk_that_refuses_every_write_is_one_error_with_the_count() {
    let r = Repo::fixture("basic");
    let out = Path::new("/sys/kernel/gen-test-output");
    let err = r.fails(&["build", "--output", out.to_str().unwrap()]);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("cannot write")).collect();
    assert_eq!(lines.len(), 2, "one per site:\n{err}");
    assert!(lines[0].contains(" files to /sys/kernel/gen-test-output/alpha (first shown)"), "{err}");
    let leftovers: Vec<_> = walkdir::WalkDir::new(r.path(".gen"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().to_string_lossy().ends_with(".tmp") || e.path().to_string_lossy().ends_with(".new"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// #24 case 8f: a `titel:` typo in one site's article publishes every
/// other site, keeps the failing site's previous output, exits 2 naming
/// it; `--all-or-nothing` publishes none.
#[test]
fn one_sites_error_does_not_stop_the_other_sites() {
    let r = Repo::fixture("basic");
    r.build();
    let alpha_before = r.snapshot("public/alpha");
    r.write("content/alpha/news/typo.md", "---\ntitel: t\ndate: 2024-01-01\n---\nbody\n");
    r.write("content/beta/posts/fresh.md", "---\ntitle: Fresh from the other desk\ndate: 2024-02-01\n---\nNew.\n");

    // The old behaviour, asked for: nothing is published.
    let out = r.run(&["build", "--all-or-nothing"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("content/alpha/news/typo.md") && err.contains("the output folder was not changed"), "{err}");
    assert!(!r.exists("public/beta/2024/02/fresh/index.html"), "--all-or-nothing published beta");

    let out = r.run(&["build"]);
    assert_eq!(out.status.code(), Some(2), "a site failed: exit 2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("content/alpha/news/typo.md:2") && err.contains("unknown field `titel`"), "{err}");
    assert!(err.contains("1 site not published, its previous output kept: alpha"), "{err}");
    assert!(err.contains("published: beta"), "{err}");
    assert!(r.exists("public/beta/2024/02/fresh/index.html"), "the site that built is published");
    assert_eq!(r.snapshot("public/alpha"), alpha_before, "the failing site keeps its previous output");
    assert!(!r.exists("public/.gen-staging"));

    // Mended, the next build publishes alpha too and equals a clean build.
    r.remove("content/alpha/news/typo.md");
    r.build();
    assert_same_as_clean_build(&r);
}

/// #24 case 12: a new cache folder beside an old output: gen cannot tell
/// its stale files from anyone's, removes none, and says which are left
/// and what to do.
#[test]
fn an_old_output_without_build_state_is_reported_not_adopted_silently() {
    let r = Repo::fixture("basic");
    r.build();
    r.write("public/alpha/left-by-someone.html", "<p>old</p>");
    std::fs::remove_dir_all(r.path(".gen")).unwrap();
    let run = r.run(&["build"]);
    assert!(run.status.success());
    let out = String::from_utf8_lossy(&run.stderr);
    assert!(
        out.contains("had no build state")
            && out.contains("1 file there this build did not produce is left as it is (first: left-by-someone.html)"),
        "{out}"
    );
    assert!(out.contains("delete") && out.contains("public/alpha"), "{out}");
    assert!(r.exists("public/alpha/left-by-someone.html"), "nothing removed without a state");
    // With a state again, nothing more is said.
    let again = r.run(&["build"]);
    let again = String::from_utf8_lossy(&again.stderr);
    assert!(!again.contains("had no build state"), "{again}");
}
