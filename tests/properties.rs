//! Tests that look for the next bug of a kind rather than the last one
//! (issue #13): seeded random edit sequences must leave the output a clean
//! build gives, and builds racing each other or a deleted output folder
//! must never end in exit 0 with stale or missing files.

use std::process::{Child, Stdio};

use crate::util::{Repo, wait_for};

/// xorshift64*: a seeded sequence, the same on every machine.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Every article source, repo-relative, sorted.
fn articles(r: &Repo) -> Vec<String> {
    r.listing().into_iter().filter(|p| p.starts_with("content/") && p.ends_with(".md")).collect()
}

/// Sets (or with `None` removes) a top-level front matter key.
fn set_key(text: &str, key: &str, value: Option<&str>) -> String {
    let (front, body) = text.trim_start_matches("---\n").split_once("\n---\n").expect("front matter");
    let mut lines: Vec<String> = front.lines().filter(|l| !l.starts_with(&format!("{key}:"))).map(String::from).collect();
    if let Some(v) = value {
        lines.push(format!("{key}: {v}"));
    }
    format!("---\n{}\n---\n{body}", lines.join("\n"))
}

fn date(rng: &mut Rng) -> String {
    format!("{}-{:02}-{:02}", 2023 + rng.below(2), 1 + rng.below(12), 1 + rng.below(28))
}

/// One random edit of the kinds writers and editors make; returns what it did.
fn edit(r: &Repo, rng: &mut Rng, n: usize) -> String {
    let all = articles(r);
    let file = rng.pick(&all).clone();
    let text = r.read(&file);
    // Plain files can move and be renamed; bundles keep their folder.
    let plain: Vec<&String> = all.iter().filter(|p| !p.ends_with("/index.md")).collect();
    match rng.below(12) {
        0 => {
            r.write(&file, &format!("{text}\nEdit {n}.\n"));
            format!("body of {file}")
        }
        1 => {
            let title = text.lines().find_map(|l| l.strip_prefix("title: ")).unwrap_or("T").to_string();
            r.write(&file, &set_key(&text, "title", Some(&format!("\"{} {n}\"", title.trim_matches('"')))));
            format!("title of {file}")
        }
        2 => {
            r.write(&file, &set_key(&text, "date", Some(&date(rng))));
            format!("date of {file}")
        }
        3 => {
            let updated = if rng.below(3) == 0 { None } else { Some("2024-12-30".to_string()) };
            r.write(&file, &set_key(&text, "updated", updated.as_deref()));
            format!("updated of {file}: {updated:?}")
        }
        4 => {
            let tags = ["[경제]", "[정치, 경제]", "[Rust]", "[]", "[세계, Rust, 경제]"];
            let t = rng.pick(&tags);
            r.write(&file, &set_key(&text, "tags", Some(t)));
            format!("tags of {file}: {t}")
        }
        5 => {
            let authors = ["[kim]", "[ann]", "[kim, ann]"];
            let a = rng.pick(&authors);
            let text = set_key(&text, "author", None);
            r.write(&file, &set_key(&text, "authors", Some(a)));
            format!("authors of {file}: {a}")
        }
        6 if !plain.is_empty() => {
            let from = rng.pick(&plain).to_string();
            let name = from.rsplit('/').next().unwrap();
            let to = format!("content/{}/{name}", rng.pick(&["alpha/news", "alpha/opinion", "beta/posts", "alpha/world"]));
            if to != from && !r.exists(&to) {
                let text = r.read(&from);
                r.remove(&from);
                r.write(&to, &text);
            }
            format!("move {from} to {to}")
        }
        7 if plain.len() > 4 => {
            let gone = rng.pick(&plain).to_string();
            r.remove(&gone);
            format!("delete {gone}")
        }
        8 if !plain.is_empty() => {
            let from = rng.pick(&plain).to_string();
            let to = from.replace(".md", &format!("-{n}.md"));
            let text = r.read(&from);
            r.remove(&from);
            r.write(&to, &text);
            format!("rename {from} to {to}")
        }
        9 => {
            let site = rng.pick(&["alpha/news", "beta/posts"]);
            let path = format!("content/{site}/new-{n}.md");
            r.write(&path, &format!("---\ntitle: New {n}\ndate: {}\nauthor: ann\ntags: [경제]\n---\n\nNew text {n}.\n", date(rng)));
            format!("add {path}")
        }
        10 => {
            let config = r.read("sites.toml");
            let mut lines: Vec<String> =
                config.lines().filter(|l| !l.starts_with("paginate") && !l.starts_with("feed_limit")).map(String::from).collect();
            let (p, f) = (1 + rng.below(3), 1 + rng.below(3));
            lines.insert(0, format!("paginate = {p}\nfeed_limit = {f}"));
            r.write("sites.toml", &(lines.join("\n") + "\n"));
            format!("paginate {p}, feed_limit {f}")
        }
        _ => {
            r.edit("themes/default/templates/article.html", "</article>", &format!("<!-- {n} --></article>"));
            format!("template edit {n}")
        }
    }
}

/// A clean build of the same inputs into a fresh folder, with no state.
fn clean_output(r: &Repo) -> Vec<(String, Vec<u8>)> {
    for d in ["clean-out", ".gen-clean"] {
        std::fs::remove_dir_all(r.path(d)).ok();
    }
    r.ok(&["build", "--output", "clean-out", "--cache", ".gen-clean"]);
    r.snapshot("clean-out").into_iter().map(|(k, (_, b))| (k, b)).collect()
}

fn output(r: &Repo) -> Vec<(String, Vec<u8>)> {
    r.snapshot("public").into_iter().map(|(k, (_, b))| (k, b)).collect()
}

#[test]
fn random_edit_sequences_build_as_a_clean_build_does() {
    for seed in [0x9e37_79b9_7f4a_7c15u64, 0x1234_5678, 0xdead_beef] {
        let r = Repo::fixture("basic");
        r.edit("sites.toml", "paginate = 2", "paginate = 2\nfeed_limit = 2");
        r.build();
        let mut rng = Rng(seed);
        let mut done = Vec::new();
        for n in 0..14 {
            done.push(edit(&r, &mut rng, n));
            // A build may rightly refuse an edit (two articles at one URL
            // after a move): then the clean build must refuse it too.
            let inc = r.run(&["build"]);
            let clean_ok = {
                for d in ["clean-out", ".gen-clean"] {
                    std::fs::remove_dir_all(r.path(d)).ok();
                }
                r.run(&["build", "--output", "clean-out", "--cache", ".gen-clean"]).status.success()
            };
            assert_eq!(inc.status.success(), clean_ok, "seed {seed:#x}, steps {done:?}\n{}", String::from_utf8_lossy(&inc.stderr));
            if clean_ok {
                assert!(output(&r) == clean_output(&r), "seed {seed:#x}: incremental output differs from a clean build after {done:?}");
            }
        }
    }
}

/// The basic fixture with enough articles that a build takes a while.
fn big_repo() -> Repo {
    let r = Repo::fixture("basic");
    for i in 0..300 {
        r.write(
            &format!("content/alpha/news/bulk-{i}.md"),
            &format!(
                "---\ntitle: Bulk {i}\ndate: 2024-02-{:02}\nauthor: kim\ntags: [경제]\n---\n\n{}\n",
                1 + i % 28,
                "본문 문장. ".repeat(200)
            ),
        );
    }
    r.age();
    r
}

fn spawn_build(r: &Repo) -> Child {
    r.command_at("1735689600", &["build"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Two builds at once (a CI retry, a save during a build): one builds, the
/// other refuses with the lock message or builds after; whatever exits 0
/// leaves the output a clean build gives.
#[test]
fn two_builds_at_once_never_publish_stale_files() {
    let r = big_repo();
    r.build();
    r.edit("content/alpha/news/bulk-7.md", "Bulk 7", "Bulk seven");
    let (a, b) = (spawn_build(&r), spawn_build(&r));
    let mut succeeded = 0;
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            succeeded += 1;
        } else {
            assert!(err.contains("another gen build is running on this repository"), "{err}");
        }
    }
    assert!(succeeded >= 1);
    assert!(output(&r) == clean_output(&r), "output differs from a clean build");
}

/// `rm -rf public` while a build renders: the build fails (or, if it had
/// already published, its output stands complete); nothing exits 0 with a
/// partial site, and the next build restores everything.
#[test]
fn output_deleted_mid_build_never_exits_0_with_a_partial_site() {
    let r = big_repo();
    r.build();
    let mut landed = 0;
    for round in 0..5 {
        r.edit("sites.toml", "title = \"알파 뉴스\"", &format!("title = \"알파 뉴스 {round}\""));
        let mut child = spawn_build(&r);
        // Staging appears once rendering writes its first file.
        let mut exited = None;
        wait_for(
            || {
                exited = child.try_wait().unwrap();
                exited.is_some() || r.exists("public/.gen-staging")
            },
            "the build to start staging",
        );
        if exited.is_none() {
            landed += 1;
            while r.exists("public") {
                std::fs::remove_dir_all(r.path("public")).ok();
            }
        }
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            assert!(output(&r) == clean_output(&r), "round {round}: exit 0 with a partial site");
        }
        r.edit("sites.toml", &format!("title = \"알파 뉴스 {round}\""), "title = \"알파 뉴스\"");
        r.build();
        assert!(output(&r) == clean_output(&r), "round {round}: the next build did not restore the site");
        if landed >= 2 {
            break;
        }
    }
    assert!(landed >= 1, "the output was never deleted while a build ran");
}

/// Hardening round 2: generated WordPress exports mixing hostile URLs,
/// names and statuses. Either the import succeeds and `gen build` succeeds
/// on the result, or the import fails having written nothing.
#[test]
fn a_generated_hostile_export_imports_into_content_that_builds_or_writes_nothing() {
    const BLOGS: [&str; 5] = [
        "https://old.example.org",
        "https://old.example.org/2023backup",
        "https://old.example.org",
        "javascript:alert(1)",
        "https://x.example/\n[[sites]]",
    ];
    let nfd = "cafe\u{301}";
    let long = "가".repeat(120);
    let names: [&str; 15] = [
        "",
        "a",
        "tags",
        "categories",
        "search",
        &long,
        "../../etc",
        "%2e%2e",
        "a b",
        nfd,
        "javascript:x",
        "x\u{1b}[31m",
        "images",
        "assets",
        "archives",
    ];
    let titles: [&str; 6] = ["T", "", &long, "<script>alert(1)</script>", "a & b", "page"];
    let statuses = ["publish", "publish", "draft", "private", "future", "pending", "trash", "inherit"];
    let types = ["post", "post", "post", "page", "attachment", "nav_menu_item"];
    let categories = ["", "tags", "search", "경제", "6.1", "assets", "images", "page"];
    let files = ["a b.png", "tab\tname.png", "café.png", "cafe\u{301}.png", "x%y.png", "ok.png"];
    let links = [
        "{blog}/{name}/",
        "{blog}/?p={id}",
        "{blog}/2023/12/{name}/",
        "javascript:alert(1)",
        "{blog}/tags/",
        "{blog}/a%20b/",
        "{blog}/%0A/",
        "{blog}/search/",
        "{blog}/authors/{name}/",
        "{blog}/images/{name}/",
        "{blog}/assets/{name}/",
    ];
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let r = Repo::fixture("import");
        for (i, f) in files.iter().enumerate() {
            r.write_bytes(&format!("uploads/2023/12/{f}"), &crate::util::png(20 + i as u32, 10, f));
        }
        let blog = *rng.pick(&BLOGS);
        let up = format!("{blog}/wp-content/uploads/2023/12");
        let mut items = String::new();
        let mut what = Vec::new();
        for id in 1..=(6 + rng.below(6) as u64) {
            let (ty, status, name, title) = (*rng.pick(&types), *rng.pick(&statuses), *rng.pick(&names), *rng.pick(&titles));
            let link = rng.pick(&links).replace("{blog}", blog).replace("{name}", name).replace("{id}", &id.to_string());
            let cat = *rng.pick(&categories);
            let file = *rng.pick(&files);
            let encoded: String = file
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b == b'.' { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect();
            let body = format!(
                "<p>{title} <img src=\"{up}/{encoded}\" alt=\"{file}\"> <a href=\"{blog}/?p={}\">link</a></p><dl><dt>t</dt><dd>d</dd></dl>",
                1 + rng.below(6)
            );
            let attachment = if ty == "attachment" {
                format!("<wp:attachment_url>{}</wp:attachment_url>", rng.pick(&[&format!("{up}/{encoded}")[..], "javascript:alert(1)"]))
            } else {
                String::new()
            };
            let thumb = format!(
                "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key><wp:meta_value>{}</wp:meta_value></wp:postmeta>",
                1 + rng.below(6)
            );
            let category = if cat.is_empty() {
                String::new()
            } else {
                format!("<category domain=\"category\" nicename=\"{cat}\"><![CDATA[{cat}]]></category>")
            };
            let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            items += &format!(
                "<item><title>{}</title><link>{}</link><dc:creator>reporter</dc:creator><guid>{blog}/?p={id}</guid>\
<content:encoded><![CDATA[{body}]]></content:encoded><excerpt:encoded></excerpt:encoded><wp:post_id>{id}</wp:post_id>\
<wp:post_date>2023-12-05 09:00:00</wp:post_date><wp:post_date_gmt>2023-12-05 09:00:00</wp:post_date_gmt><wp:post_name>{}</wp:post_name>\
<wp:status>{status}</wp:status><wp:post_parent>0</wp:post_parent><wp:post_type>{ty}</wp:post_type>{attachment}{thumb}{category}</item>\n",
                esc(title),
                esc(&link),
                esc(name)
            );
            what.push(format!("{id}: {ty} {status} name={name:?} title={title:?} link={link:?} cat={cat:?} file={file:?}"));
        }
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<rss version=\"2.0\" xmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\" \
xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:wp=\"http://wordpress.org/export/1.2/\">\n<channel>\n\
<title>Old</title><link>{0}</link><language>en</language><wp:wxr_version>1.2</wp:wxr_version><wp:base_blog_url>{0}</wp:base_blog_url>\n{items}</channel>\n</rss>\n",
            blog.replace('&', "&amp;").replace('<', "&lt;")
        );
        r.write("export.xml", &xml);
        let case = format!("seed {seed}, blog {blog:?}:\n{}", what.join("\n"));
        let before = r.listing();
        let contents: Vec<Vec<u8>> = before.iter().map(|p| std::fs::read(r.path(p)).unwrap()).collect();
        let import = r.run(&["import", "wordpress", "export.xml", "--site", "old", "--uploads", "uploads"]);
        if !import.status.success() {
            let after = r.listing();
            assert_eq!(after, before, "{case}\na failed import wrote files:\n{}", String::from_utf8_lossy(&import.stderr));
            let now: Vec<Vec<u8>> = after.iter().map(|p| std::fs::read(r.path(p)).unwrap()).collect();
            assert!(now == contents, "{case}\na failed import changed files");
            continue;
        }
        let build = r.run(&["build", "--site", "old", "--drafts"]);
        assert!(build.status.success(), "{case}\nthe import succeeded but the build failed:\n{}", String::from_utf8_lossy(&build.stderr));
    }
}
