//! The stylesheet for syntect's CSS classes, made readable on the theme's
//! code background.

use std::sync::LazyLock;

/// The stylesheet for syntect's CSS classes: light, with a dark variant.
/// Made once per process (loading the themes takes milliseconds).
pub static SYNTAX_CSS: LazyLock<String> = LazyLock::new(syntax_css);

/// Where it is published: fingerprinted like the theme's stylesheets, so
/// `_headers` can mark it immutable.
pub static SYNTAX_CSS_PATH: LazyLock<String> =
    LazyLock::new(|| format!("syntax.{}.css", &crate::discover::hex(blake3::hash(SYNTAX_CSS.as_bytes()).as_bytes())[..10]));

fn syntax_css() -> String {
    use syntect::highlighting::ThemeSet;
    use syntect::html::{ClassStyle, css_for_theme_with_class_style};
    let themes = ThemeSet::load_defaults();
    let light = css_for_theme_with_class_style(&themes.themes["InspiredGitHub"], ClassStyle::Spaced).unwrap_or_default();
    let dark = css_for_theme_with_class_style(&themes.themes["base16-ocean.dark"], ClassStyle::Spaced).unwrap_or_default();
    // Each scheme on its own, so no light colour leaks into dark mode, and
    // every colour readable on the theme's code background (WCAG AA, 4.5:1:
    // InspiredGitHub's greens reach 2.85:1).
    format!(
        "@media (prefers-color-scheme: light), (prefers-color-scheme: no-preference) {{\n{}\n}}\n@media (prefers-color-scheme: dark) {{\n{}\n}}\n",
        readable(&light, [0xf6, 0xf8, 0xfa]),
        readable(&dark, [0x1f, 0x24, 0x28])
    )
}

/// `css` with every text `color` darkened or lightened until it has a
/// contrast of at least 4.5:1 (WCAG AA) with `background`.
fn readable(css: &str, background: [u8; 3]) -> String {
    static COLOR: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(r"(^|[^-])color:\s*#([0-9a-fA-F]{6})").expect("valid regex"));
    let luminance = |c: [u8; 3]| {
        let lin = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let contrast = |a: [u8; 3], b: [u8; 3]| {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    };
    // Towards black on a light background, towards white on a dark one.
    let target: f64 = if luminance(background) > 0.5 { 0.0 } else { 255.0 };
    COLOR
        .replace_all(css, |c: &regex::Captures| {
            let hex = &c[2];
            let mut rgb = [0u8; 3];
            for (i, v) in rgb.iter_mut().enumerate() {
                *v = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap_or(0);
            }
            let mut step = 0.0;
            let mut out = rgb;
            while contrast(out, background) < 4.6 && step < 1.0 {
                step += 0.05;
                out = rgb.map(|v| (f64::from(v) + (target - f64::from(v)) * step).round() as u8);
            }
            format!("{}color: #{:02x}{:02x}{:02x}", &c[1], out[0], out[1], out[2])
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_colours_are_made_readable_on_their_background() {
        let css = readable(".a { color: #62a35c; } .b { background-color: #62a35c; color: #000000; }", [0xf6, 0xf8, 0xfa]);
        assert!(!css.contains(".a { color: #62a35c"), "{css}");
        assert!(css.contains("background-color: #62a35c"), "backgrounds are left alone: {css}");
        assert!(css.contains("color: #000000"));
        // Light colours stay inside the light scheme.
        let dark = SYNTAX_CSS.find("prefers-color-scheme: dark").unwrap();
        assert!(SYNTAX_CSS[dark..].matches('{').count() > 10);
    }
}
