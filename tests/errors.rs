use crate::util::Repo;

/// Builds once, breaks the repo with `breakage`, and checks the failed build
/// reports `expected` (every fragment) and leaves `public/` as it was.
fn fails_cleanly(breakage: impl FnOnce(&Repo), expected: &[&str]) -> String {
    let r = Repo::fixture("basic");
    r.build();
    let before = r.snapshot("public");
    breakage(&r);
    let err = r.fails(&["build"]);
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    // The fixture's other site is unchanged: published as it was.
    assert!(err.contains("the output folder was not changed") || err.contains("its previous output kept: alpha"), "{err}");
    assert_eq!(r.snapshot("public"), before, "a failed build changed public/");
    assert!(!r.exists("public/.gen-staging"));
    err
}

#[test]
fn malformed_yaml_names_file_and_line() {
    fails_cleanly(
        |r| r.write("content/alpha/news/bad.md", "---\ntitle: ok\ndate: 2024-01-01\ntags: [unclosed\n---\nbody\n"),
        &["content/alpha/news/bad.md:", "front matter"],
    );
}

#[test]
fn missing_and_wrongly_typed_fields() {
    fails_cleanly(
        |r| r.write("content/alpha/news/notitle.md", "---\ndate: 2024-01-01\n---\nbody\n"),
        &["content/alpha/news/notitle.md:", "missing field `title`", "every article needs `title:` and `date:`"],
    );
    fails_cleanly(
        |r| r.write("content/alpha/news/tags.md", "---\ntitle: t\ndate: 2024-01-01\ntags: 42\n---\n"),
        &["content/alpha/news/tags.md:4: front matter: tags: invalid type"],
    );
    fails_cleanly(
        |r| r.write("content/alpha/news/date.md", "---\ntitle: t\ndate: next week\n---\n"),
        &["content/alpha/news/date.md:3: front matter: `next week` is not a date"],
    );
    fails_cleanly(
        |r| r.write("content/alpha/news/typo.md", "---\ntitle: t\ndate: 2024-01-01\ndrafts: true\n---\n"),
        &["content/alpha/news/typo.md:4: front matter: unknown field `drafts`", "custom fields go under `extra:`"],
    );
    fails_cleanly(
        |r| r.write("content/alpha/news/nofm.md", "just text\n"),
        &["content/alpha/news/nofm.md:1: the file must start with `---`"],
    );
}

/// Found by a new user: an empty date and a key written twice were
/// reported on line 2 (the title's), the empty date as "`` is not a date".
#[test]
fn an_empty_date_or_a_key_written_twice_is_reported_on_its_own_line() {
    for (front, says) in [
        ("title: t\ndate:\n", "empty.md:3: front matter: the date is empty"),
        ("title: t\nupdated:\ndate: \"\"\n", "empty.md:4: front matter: the date is empty"),
        ("title: t\ndate: 2024-01-01\ntags: [a]\ntags: [b]\n", "empty.md:5: front matter: duplicate field `tags`"),
    ] {
        fails_cleanly(|r| r.write("content/alpha/news/empty.md", &format!("---\n{front}---\nbody\n")), &[says]);
    }
}

#[test]
fn unknown_author_names_the_line_and_the_authors_file() {
    fails_cleanly(
        |r| r.write("content/alpha/news/anon.md", "---\ntitle: t\ndate: 2024-01-01\nauthor: nobody\n---\n"),
        &["content/alpha/news/anon.md:4: unknown author `nobody`", "content/authors.yaml"],
    );
}

#[test]
fn two_articles_with_one_url() {
    fails_cleanly(
        |r| r.write("content/alpha/news/copy.md", "---\ntitle: t\ndate: 2024-01-01\nslug: story-2\n---\n"),
        &["has the same URL /news/story-2/ as content/alpha/news/", "slug"],
    );
}

#[test]
fn all_errors_are_reported_together() {
    let err = fails_cleanly(
        |r| {
            r.write("content/alpha/news/a-bad.md", "---\ntitle: t\n---\n");
            r.write("content/beta/posts/b-bad.md", "---\ntitle: t\ndate: 2024-01-01\nauthor: ghost\n---\n");
        },
        &["content/alpha/news/a-bad.md", "content/beta/posts/b-bad.md:4: unknown author `ghost`", "2 errors"],
    );
    assert_eq!(err.matches("error: ").count(), 2, "{err}");
}

/// Templates are parsed when a site is built, not when the theme is
/// loaded: a template that does not parse is still reported with the
/// content's errors, in one build.
#[test]
fn a_template_error_is_reported_with_the_contents_errors() {
    let err = fails_cleanly(
        |r| {
            r.write("themes/default/templates/term.html", "{% if %}");
            // Both sites fail on their content: neither reaches rendering.
            r.write("content/alpha/news/a-bad.md", "---\ntitle: t\n---\n");
            r.write("content/beta/posts/b-bad.md", "---\ntitle: t\n---\n");
        },
        &["themes/default/templates/term.html", "content/alpha/news/a-bad.md", "content/beta/posts/b-bad.md"],
    );
    assert!(err.matches("error: ").count() >= 3, "{err}");
}

#[test]
fn config_errors_name_sites_toml_line_and_key() {
    fails_cleanly(
        |r| r.edit("sites.toml", "language = \"en\"", "language = \"en\"\ncolour = \"red\""),
        &["sites.toml:15: unknown field `colour`"],
    );
    fails_cleanly(|r| r.edit("sites.toml", "name = \"beta\"", "name = \"alpha\""), &["sites.toml:11: duplicate site name `alpha`"]);
    fails_cleanly(|r| r.edit("sites.toml", "https://example.org/beta", "example.org/beta"), &["sites.toml:13: bad `base_url`"]);
    fails_cleanly(
        |r| r.edit("sites.toml", "unsafe_html = true", "unsafe_html = true\ntheme = \"fancy\""),
        &["sites.toml:16: theme `fancy` of site `beta` not found"],
    );
}

#[test]
fn template_errors_name_the_template() {
    fails_cleanly(
        |r| {
            r.write(
                "themes/default/templates/404.html",
                "{% extends \"base.html\" %}{% block content %}{{ nope.nothing }}{% endblock content %}",
            )
        },
        &["themes/default/templates/404.html", "nope"],
    );
    let err = fails_cleanly(|r| r.write("themes/default/templates/term.html", "{% if %}"), &["themes/default/templates/term.html"]);
    // Found by a new user: both sites share the theme, and the one error
    // was printed once for each of them.
    assert_eq!(err.matches("error: ").count(), 1, "{err}");
}

/// Found by a new user: a template that failed to render named neither a
/// line nor the page it failed on, said nothing about the field meant, and
/// a macro used without its import read as Tera's jargon. One error for
/// every page it fails on, not one per page.
#[test]
fn a_template_that_fails_to_render_names_its_line_the_pages_and_the_field_meant() {
    let err = fails_cleanly(
        |r| {
            r.write(
                "themes/default/sites/alpha/article.html",
                "{% extends \"base.html\" %}\n{% block content %}\n<h1>{{ page.title }}</h1>\n<p>{{ page.titel }}</p>\n{% endblock content %}\n",
            )
        },
        &[
            "error: themes/default/sites/alpha/article.html:4: Variable `page.titel` not found",
            "(rendering content/alpha/news/",
            " more pages)",
            "hint: `page` has no `titel`: did you mean `page.title`?",
        ],
    );
    assert_eq!(err.matches("error: ").count(), 1, "{err}");
    assert!(!err.contains("Failed to render"), "the file is named already: {err}");
    fails_cleanly(
        |r| {
            r.write(
                "themes/default/sites/alpha/article.html",
                "{% extends \"base.html\" %}\n{% block content %}\n\n{{ m::byline(page=page) }}\n{% endblock content %}\n",
            )
        },
        &[
            "themes/default/sites/alpha/article.html:4: Macro namespace `m` was not found",
            "hint: import the macros before using them: {% import \"macros.html\" as m %}",
        ],
    );
}

/// Found by a new user: a page at a section's URL was blamed on the
/// section's first article, with a hint about articles' sections.
#[test]
fn a_page_at_a_sections_url_is_named_first_and_told_where_section_text_goes() {
    fails_cleanly(
        |r| r.write("content/alpha/news.md", "---\ntitle: News\ndate: 2024-01-01\nkind: page\n---\nabout\n"),
        &[
            "error: content/alpha/news.md: content/alpha/news.md and the list page /news/index.html",
            "hint: the list page keeps its URL: give the page or article another `slug`; a section's own text goes in its `_index.md`",
        ],
    );
    // (Review: the search page is no section's list.)
    fails_cleanly(
        |r| r.write("content/alpha/search.md", "---\ntitle: Search\ndate: 2024-01-01\nkind: page\n---\nabout\n"),
        &[
            "error: content/alpha/search.md: content/alpha/search.md and the generated page /search/index.html",
            "hint: gen publishes a file at that URL",
        ],
    );
}
