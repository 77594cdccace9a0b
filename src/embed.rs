//! Embeds without raw HTML: a paragraph that is nothing but the URL of a
//! known video or post (YouTube, Vimeo, X) is shown as that video or post,
//! as WordPress does with a URL on its own line. The markup is gen's own,
//! built from a validated id, so a site that escapes raw HTML still embeds
//! safely, and the importer writes WordPress embeds as such URLs.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    YouTube,
    Vimeo,
    X,
}

/// A recognised embed: provider and id, nothing else from the URL survives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embed {
    pub provider: Provider,
    pub id: String,
    /// The account of an X post.
    pub user: String,
}

static YOUTUBE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^https?://(?:www\.|m\.)?(?:youtube\.com/(?:watch\?(?:[^#]*&)?v=|embed/|shorts/|live/)|youtube-nocookie\.com/embed/|youtu\.be/)([A-Za-z0-9_-]{11})(?:[?&#/].*)?$")
        .expect("valid regex")
});
static VIMEO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^https?://(?:www\.)?(?:vimeo\.com/(?:channels/[^/]+/|video/)?|player\.vimeo\.com/video/)(\d{1,12})(?:[?#/].*)?$")
        .expect("valid regex")
});
static X: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/([A-Za-z0-9_]{1,15})/status(?:es)?/(\d{1,20})(?:[?#/].*)?$")
        .expect("valid regex")
});

/// An `<iframe>` (maybe inside `<figure>`, `<div>` or `<p>`) and nothing else.
static IFRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)^\s*(?:<(?:figure|div|p)\b[^>]*>\s*)*<iframe\b[^>]*?\bsrc\s*=\s*["']([^"']+)["'][^>]*>\s*</iframe>\s*(?:</(?:figure|div|p)>\s*)*$"#)
        .expect("valid regex")
});
/// X's embed code: a `twitter-tweet` blockquote with the post's link (and its script).
static TWEET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)^\s*<blockquote\b[^>]*class\s*=\s*["'][^"']*twitter-tweet[^"']*["'][^>]*>.*?href\s*=\s*["'](https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/[A-Za-z0-9_]{1,15}/status(?:es)?/\d{1,20})[^"']*["'].*?</blockquote>\s*(?:<script\b[^>]*>\s*</script>\s*)?$"#)
        .expect("valid regex")
});

impl Embed {
    /// The embed code a provider hands out (an `<iframe>`, X's blockquote),
    /// when it is from an allowed provider: such raw HTML becomes gen's own
    /// player even where raw HTML is escaped.
    pub fn from_html(html: &str) -> Option<Embed> {
        if let Some(c) = IFRAME.captures(html) {
            return Embed::parse(&c[1]);
        }
        TWEET.captures(html).and_then(|c| Embed::parse(&c[1]))
    }

    pub fn parse(url: &str) -> Option<Embed> {
        let url = url.trim();
        if let Some(c) = YOUTUBE.captures(url) {
            return Some(Embed { provider: Provider::YouTube, id: c[1].to_string(), user: String::new() });
        }
        if let Some(c) = VIMEO.captures(url) {
            return Some(Embed { provider: Provider::Vimeo, id: c[1].to_string(), user: String::new() });
        }
        X.captures(url).map(|c| Embed { provider: Provider::X, id: c[2].to_string(), user: c[1].to_string() })
    }

    /// The page URL authors write (and the importer writes).
    pub fn url(&self) -> String {
        match self.provider {
            Provider::YouTube => format!("https://www.youtube.com/watch?v={}", self.id),
            Provider::Vimeo => format!("https://vimeo.com/{}", self.id),
            Provider::X => format!("https://x.com/{}/status/{}", self.user, self.id),
        }
    }

    /// The markup: a privacy-enhanced player for videos (no cookies until
    /// played, lazy), a plain link card for X posts (no third-party script).
    pub fn html(&self) -> String {
        let frame = |src: String, title: &str| {
            format!(
                "<figure class=\"embed embed-video\"><iframe src=\"{src}\" title=\"{title}\" width=\"560\" height=\"315\" loading=\"lazy\" \
                 allow=\"encrypted-media; picture-in-picture; fullscreen\" referrerpolicy=\"strict-origin-when-cross-origin\" allowfullscreen></iframe></figure>\n"
            )
        };
        match self.provider {
            Provider::YouTube => frame(format!("https://www.youtube-nocookie.com/embed/{}", self.id), "YouTube video"),
            Provider::Vimeo => frame(format!("https://player.vimeo.com/video/{}?dnt=1", self.id), "Vimeo video"),
            Provider::X => {
                format!("<blockquote class=\"embed embed-post\"><p><a href=\"{}\">@{} on X</a></p></blockquote>\n", self.url(), self.user)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_embed_code_is_recognised_and_anything_else_is_not() {
        let yt = r#"<iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ?si=x" title="YouTube video player" frameborder="0" allowfullscreen></iframe>"#;
        assert_eq!(Embed::from_html(yt).map(|e| e.id), Some("dQw4w9WgXcQ".to_string()));
        let wrapped =
            r#"<figure class="wp-block-embed"><div><iframe src="https://player.vimeo.com/video/76979871"></iframe></div></figure>"#;
        assert_eq!(Embed::from_html(wrapped).map(|e| e.provider), Some(Provider::Vimeo));
        let tweet = r#"<blockquote class="twitter-tweet"><p lang="ko">본문</p>&mdash; 기자 (@reporter) <a href="https://twitter.com/reporter/status/1234567890?ref_src=twsrc">Nov 25, 2024</a></blockquote> <script async src="https://platform.twitter.com/widgets.js" charset="utf-8"></script>"#;
        assert_eq!(Embed::from_html(tweet).map(|e| (e.user, e.id)), Some(("reporter".to_string(), "1234567890".to_string())));
        assert_eq!(Embed::from_html(r#"<iframe src="https://evil.example/x"></iframe>"#), None);
        assert_eq!(
            Embed::from_html(r#"<iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ" onload="x()"></iframe><script>x()</script>"#),
            None
        );
    }

    #[test]
    fn every_form_of_a_video_url_is_recognised() {
        for u in [
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=3",
            "https://youtu.be/dQw4w9WgXcQ",
            "https://www.youtube.com/embed/dQw4w9WgXcQ?rel=0",
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        ] {
            assert_eq!(Embed::parse(u).map(|e| e.url()).as_deref(), Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ"), "{u}");
        }
        assert_eq!(Embed::parse("https://player.vimeo.com/video/76979871?h=1").unwrap().url(), "https://vimeo.com/76979871");
        assert_eq!(Embed::parse("https://twitter.com/nasa/status/123456").unwrap().url(), "https://x.com/nasa/status/123456");
    }

    #[test]
    fn other_urls_are_not_embeds() {
        for u in [
            "https://example.com/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=short",
            "https://www.youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
            "https://vimeo.com/about",
            "https://x.com/home",
            "javascript:alert(1)",
        ] {
            assert_eq!(Embed::parse(u), None, "{u}");
        }
    }

    #[test]
    fn the_markup_holds_only_the_validated_id() {
        let html = Embed::parse("https://youtu.be/dQw4w9WgXcQ?x=\"><script>").unwrap().html();
        assert!(html.contains("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ\"") && !html.contains("script"), "{html}");
    }
}
