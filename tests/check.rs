use crate::util::Repo;

/// An article whose every line is one link; line numbers are file lines.
const LINKS: &str = "---
title: 링크 모음
date: 2024-03-01
---

[상대 경로](../story-3/)
[루트 경로](/news/story-3/)
[없는 기사](/news/no-such-story/)
[절 앵커](../first-story/#없는-절)
[같은 쪽 앵커](#참고)
[있는 피드](/feed.xml)
[다른 사이트](https://example.org/beta/2023/05/hello/)
[다른 사이트의 없는 쪽](https://example.org/beta/nope/)
[외부](https://www.example.net/report)
[메일](mailto:desk@example.com)
![외부 그림](https://cdn.example.net/x.png)

## 참고

끝.
";

#[test]
fn check_reports_broken_links_and_anchors_with_file_and_line() {
    let r = Repo::fixture("basic");
    r.write("content/alpha/news/links.md", LINKS);
    let out = r.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "broken links fail the check:\n{stdout}");
    let broken: Vec<&str> = stdout.lines().filter(|l| l.starts_with("broken: ")).collect();
    let file = "content/alpha/news/links.md";
    assert_eq!(broken.len(), 3, "{stdout}");
    assert!(
        broken[0].starts_with(&format!("broken: {file}:8: `/news/no-such-story/`: no page or file at /news/no-such-story/")),
        "{stdout}"
    );
    assert!(broken[1].starts_with(&format!("broken: {file}:9: `../first-story/#없는-절`: no element with id \"없는-절\"")), "{stdout}");
    assert!(broken[2].starts_with(&format!("broken: {file}:13: `https://example.org/beta/nope/`")), "{stdout}");
    assert!(stdout.contains("3 broken, 2 external (list them with --external)"), "{stdout}");
    assert!(!stdout.contains("www.example.net"), "external links are listed only on request");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 broken links"), "{stderr}");
    // The build itself went through.
    assert!(r.exists("public/alpha/news/links/index.html"));

    let with_external = r.run(&["check", "--external"]);
    let stdout = String::from_utf8_lossy(&with_external.stdout);
    assert!(stdout.contains(&format!("external: {file}:14: `https://www.example.net/report`")), "{stdout}");
    assert!(stdout.contains(&format!("external: {file}:16: `https://cdn.example.net/x.png`")), "{stdout}");

    // Fixed: the check passes.
    r.edit("content/alpha/news/links.md", "/news/no-such-story/", "/news/story-2/");
    r.edit("content/alpha/news/links.md", "#없는-절", "");
    r.edit("content/alpha/news/links.md", "https://example.org/beta/nope/", "https://example.org/beta/");
    let stdout = r.ok(&["check"]);
    assert!(stdout.contains(": 0 broken"), "{stdout}");
}

#[test]
fn a_path_that_leaves_the_site_is_broken() {
    let r = Repo::fixture("basic");
    r.write("content/beta/posts/escape.md", "---\ntitle: Escape\ndate: 2024-03-01\n---\n\n[up](../../../../../../etc/passwd)\n");
    let out = r.run(&["check", "--site", "beta"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("content/beta/posts/escape.md:6: `../../../../../../etc/passwd`: points outside every configured site"),
        "{stdout}"
    );
}

#[test]
fn check_one_site_still_resolves_links_into_the_others() {
    let r = Repo::fixture("basic");
    r.build();
    r.write(
        "content/alpha/news/cross.md",
        "---\ntitle: 교차\ndate: 2024-03-01\n---\n\n[베타](https://example.org/beta/2023/05/hello/)\n[앵커](#없음)\n",
    );
    let out = r.run(&["check", "--site", "alpha"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("broken: ")).count(), 1, "{stdout}");
    assert!(stdout.contains("cross.md:7: `#없음`: no element with id \"없음\" on /news/cross/"), "{stdout}");
}

#[test]
fn links_to_redirected_paths_and_archives_are_not_broken() {
    let r = Repo::fixture("archive");
    r.build();
    let redirects: serde_json::Value = serde_json::from_str(&r.read("public/news/redirects.json")).unwrap();
    let old = redirects.as_array().unwrap().iter().find(|x| x["reason"] == "archive").expect("an archive redirect")["from"]
        .as_str()
        .unwrap()
        .to_string();
    r.write("content/news/world/links.md", &format!("---\ntitle: Links\ndate: 2024-06-01\n---\n\n[old]({old})\n"));
    let stdout = r.ok(&["check", "--site", "news"]);
    assert!(stdout.contains(": 0 broken"), "{stdout}");
}

/// Found by a new user: a redirect to a page that is not there (a typo in
/// `sites.toml`, a `moved_to` into a configured site's missing page) was
/// published, and `gen check` said nothing: a broken old URL.
#[test]
fn a_redirect_that_leads_nowhere_is_broken() {
    let r = Repo::fixture("basic");
    let config = r.read("sites.toml");
    let at = config.lines().position(|l| l.starts_with("description = \"Fixture site in Korean\"")).unwrap() + 2;
    r.edit("sites.toml", "description = \"Fixture site in Korean\"\n", "description = \"Fixture site in Korean\"\n\n[[sites.redirects]]\nfrom = \"/old/\"\nto = \"/news/story-22/\"\n\n[[sites.redirects]]\nfrom = \"/fine/\"\nto = \"/news/story-2/\"\n");
    r.write("content/alpha/news/gone.md", "---\ntitle: 옮김\ndate: 2024-01-01\nmoved_to: https://example.org/beta/nope/\n---\n");
    let out = r.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "broken: sites.toml:{}: `/news/story-22/`: the redirect from /old/ leads nowhere: no page or file at /news/story-22/",
            at + 1
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "broken: content/alpha/news/gone.md:4: `https://example.org/beta/nope/`: the redirect from /news/gone/ leads nowhere"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.matches("broken: ").count(), 2, "{stdout}");
    assert_eq!(out.status.code(), Some(1));
}
