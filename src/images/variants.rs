//! Which resized copies ("variants") an image gets, and where they go: a
//! pure function of the source's hash and size and the site's settings, so
//! planning, rendering (`srcset`) and publishing always agree.
//!
//! A variant is named by its source (`images/<aa>/<bb>/<source hash>-<width>-
//! <key>.<ext>`, beside where the original would be) and keyed by the
//! blake3 of the source hash, the operation and [`ENCODER_VERSION`]: the key
//! addresses it in the variant cache, never a path or an mtime.

use serde::{Deserialize, Serialize};

use super::Shards;
use crate::discover::{self, Hash};

/// Changes whenever encoded bytes could change for the same operation
/// (another codec version, another resampling filter): every key changes,
/// so nothing stale is read from a cache.
pub const ENCODER_VERSION: &str = "gen-variants-1;image-0.25.10;fast_image_resize-6.1.0;libwebp-1.5;ravif-0.13.0;moxcms-0.9.2;lanczos3";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Avif,
    Webp,
    Jpeg,
    Png,
}

impl Format {
    pub fn ext(self) -> &'static str {
        match self {
            Format::Avif => "avif",
            Format::Webp => "webp",
            Format::Jpeg => "jpg",
            Format::Png => "png",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Avif => "image/avif",
            Format::Webp => "image/webp",
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }

    /// The formats `formats = [...]` accepts: the ones that improve on a JPEG.
    pub fn modern(name: &str) -> Option<Format> {
        match name {
            "webp" => Some(Format::Webp),
            "avif" => Some(Format::Avif),
            _ => None,
        }
    }

    /// The format a source with this extension is resized into as the
    /// fallback; `None`: published as it is (SVG, GIF, ICO, AVIF).
    pub fn of_source(ext: &str) -> Option<Format> {
        match ext {
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "png" => Some(Format::Png),
            "webp" => Some(Format::Webp),
            _ => None,
        }
    }
}

/// Per-site image settings (`[images]` in `sites.toml`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageSettings {
    /// `false`: originals published as they are, no variants (gen before 0.2).
    pub resize: bool,
    /// Widths produced, ascending; never wider than the source.
    pub widths: Vec<u32>,
    /// Modern formats offered through `<source>`, best first (AVIF, WebP).
    pub formats: Vec<Format>,
    pub quality_webp: u8,
    pub quality_avif: u8,
    pub quality_jpeg: u8,
    /// rav1e speed, 1 (slow, small) to 10 (fast).
    pub avif_speed: u8,
    /// Width of list thumbnails (one of the variants of each modern format).
    pub thumbnail: u32,
    /// Width of the fallback `<img src>`, `og:image`, JSON-LD and feed
    /// enclosures, in the source's own format.
    pub social: u32,
    /// The `sizes` attribute of article images.
    pub sizes: String,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings {
            resize: true,
            widths: vec![480, 800, 1200, 1600],
            formats: vec![Format::Webp],
            quality_webp: 80,
            quality_avif: 60,
            quality_jpeg: 82,
            avif_speed: 8,
            thumbnail: 240,
            social: 1200,
            sizes: "(max-width: 44rem) 100vw, 44rem".into(),
        }
    }
}

impl ImageSettings {
    fn quality(&self, f: Format) -> u8 {
        match f {
            Format::Avif => self.quality_avif,
            Format::Webp => self.quality_webp,
            Format::Jpeg => self.quality_jpeg,
            Format::Png => 100,
        }
    }
}

/// The largest width or height a WebP image can have.
const WEBP_MAX: u32 = 16_383;

/// One resized copy: what to make and where it is published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    /// Site-relative output path.
    pub rel: String,
    #[serde(skip)]
    pub key: Hash,
    pub width: u32,
    pub height: u32,
    #[serde(skip)]
    pub format: Format,
    #[serde(skip)]
    pub quality: u8,
}

/// Every variant of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantSet {
    /// Per modern format (best first), its variants by ascending width.
    pub modern: Vec<(Format, Vec<Variant>)>,
    /// The source's format at the `social` width (or the source's, if
    /// narrower): `<img src>` for browsers without the modern formats, and
    /// the image for social cards, JSON-LD and feeds.
    pub fallback: Variant,
    /// Index into each modern format's list of the thumbnail width.
    pub thumb: usize,
    /// AVIF encoder speed, part of AVIF keys.
    pub avif_speed: u8,
}

impl VariantSet {
    /// Every file of the set, once: a WebP photo's fallback is its WebP
    /// variant of that width when there is one (the same key and file).
    pub fn all(&self) -> impl Iterator<Item = &Variant> {
        let modern = self.modern.iter().flat_map(|(_, v)| v);
        let own = !modern.clone().any(|v| v.key == self.fallback.key);
        modern.chain(own.then_some(&self.fallback))
    }
}

/// The variants of a source image, or `None` when it is published as it
/// is (resizing off, a format without variants, or an unknown size).
pub fn plan(hash: &Hash, ext: &str, width: Option<u32>, height: Option<u32>, s: &ImageSettings, shards: Shards) -> Option<VariantSet> {
    let (w, h) = (width?, height?);
    let source_format = Format::of_source(ext)?;
    if !s.resize || w == 0 || h == 0 {
        return None;
    }
    // Never upscale: configured widths narrower than the source, and the
    // source's own width when some configured width reaches it.
    let mut widths: Vec<u32> = s.widths.iter().copied().chain([s.thumbnail]).filter(|&x| x > 0 && x < w).collect();
    if s.widths.iter().chain([&s.thumbnail]).any(|&x| x >= w) {
        widths.push(w);
    }
    widths.sort_unstable();
    widths.dedup();
    let thumb_width = s.thumbnail.min(w);
    let thumb = widths.iter().position(|&x| x == thumb_width).unwrap_or(0);
    let make = |format: Format, width: u32| {
        // Rounded, at least 1 pixel: the aspect ratio of the source.
        let height = ((h as u64 * width as u64 + w as u64 / 2) / w as u64).max(1) as u32;
        let quality = s.quality(format);
        let mut k = blake3::Hasher::new();
        k.update(ENCODER_VERSION.as_bytes());
        k.update(hash);
        k.update(format.ext().as_bytes());
        k.update(&[quality, if format == Format::Avif { s.avif_speed } else { 0 }]);
        k.update(&width.to_le_bytes());
        k.update(&height.to_le_bytes());
        let key = *k.finalize().as_bytes();
        let rel = variant_path(hash, width, &key, format, shards);
        Variant { rel, key, width, height, format, quality }
    };
    // WebP stops at 16,383 pixels a side: a very tall screenshot gets no
    // WebP at the widths that would pass it (none at all, at worst).
    let fits = |f: Format, width: u32| f != Format::Webp || (h as u64 * width as u64) / w as u64 <= WEBP_MAX as u64;
    let modern = s
        .formats
        .iter()
        .map(|&f| (f, widths.iter().filter(|&&x| fits(f, x)).map(|&x| make(f, x)).collect::<Vec<_>>()))
        .filter(|(_, list)| !list.is_empty())
        .collect();
    let fallback = make(source_format, s.social.min(w));
    Some(VariantSet { modern, fallback, thumb, avif_speed: s.avif_speed })
}

/// `images/<aa>/<bb>/<source hash>-<width>-<key, 8 hex>.<ext>`.
fn variant_path(source: &Hash, width: u32, key: &Hash, format: Format, shards: Shards) -> String {
    let original = super::sharded_path(source, "", shards);
    let stem = original.strip_suffix('.').unwrap_or(&original);
    format!("{stem}-{width}-{}.{}", &discover::hex(key)[..8], format.ext())
}

/// `srcset` of a list of variants: `url 480w, url 800w`.
pub fn srcset(variants: &[Variant], url_for: impl Fn(&str) -> String) -> String {
    variants.iter().map(|v| format!("{} {}w", url_for(&v.rel), v.width)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn set(w: u32, h: u32, s: &ImageSettings) -> VariantSet {
        plan(&[7; 32], "jpg", Some(w), Some(h), s, Shards::default()).unwrap()
    }

    #[test]
    fn a_webp_photos_fallback_is_listed_once() {
        let s = ImageSettings::default();
        let webp = plan(&[7; 32], "webp", Some(2400), Some(1600), &s, Shards::default()).unwrap();
        let rels: Vec<&str> = webp.all().map(|v| v.rel.as_str()).collect();
        assert_eq!(rels.len(), rels.iter().collect::<BTreeSet<_>>().len(), "{rels:?}");
        assert!(rels.contains(&webp.fallback.rel.as_str()));
        assert_eq!(set(2400, 1600, &s).all().count(), 6, "a JPEG's fallback is a file of its own");
    }

    #[test]
    fn widths_never_exceed_the_source() {
        let s = ImageSettings::default();
        let big = set(2400, 1600, &s);
        let widths: Vec<u32> = big.modern[0].1.iter().map(|v| v.width).collect();
        assert_eq!(widths, [240, 480, 800, 1200, 1600]);
        assert_eq!(big.modern[0].1[2].height, 533);
        assert_eq!((big.fallback.width, big.fallback.format), (1200, Format::Jpeg));
        assert_eq!(big.modern[0].1[big.thumb].width, 240);
        // Narrower than some widths: those are dropped and the source's own width is offered.
        let mid = set(1000, 500, &s);
        assert_eq!(mid.modern[0].1.iter().map(|v| v.width).collect::<Vec<_>>(), [240, 480, 800, 1000]);
        assert_eq!(mid.fallback.width, 1000);
        let tiny = set(100, 50, &s);
        assert_eq!(tiny.modern[0].1.iter().map(|v| v.width).collect::<Vec<_>>(), [100]);
        assert_eq!((tiny.thumb, tiny.fallback.width), (0, 100));
    }

    #[test]
    fn keys_follow_the_operation_and_paths_sit_beside_the_source() {
        let s = ImageSettings::default();
        let a = set(2400, 1600, &s);
        let q = ImageSettings { quality_webp: 70, ..s.clone() };
        let b = set(2400, 1600, &q);
        assert_ne!(a.modern[0].1[0].key, b.modern[0].1[0].key, "quality is part of the key");
        assert_ne!(a.modern[0].1[0].rel, b.modern[0].1[0].rel, "and of the published name (cached for good)");
        assert_eq!(a.fallback, b.fallback, "the JPEG fallback did not change");
        assert!(a.modern[0].1[0].rel.starts_with("images/07/07/0707"), "{}", a.modern[0].1[0].rel);
        assert!(a.modern[0].1[0].rel.contains("-240-") && a.modern[0].1[0].rel.ends_with(".webp"));
        let avif = ImageSettings { formats: vec![Format::Avif, Format::Webp], ..s };
        let c = set(2400, 1600, &avif);
        assert_eq!(c.modern.iter().map(|(f, _)| *f).collect::<Vec<_>>(), [Format::Avif, Format::Webp]);
        assert_eq!(c.all().count(), 11);
    }

    #[test]
    fn passthrough_formats_and_resizing_off_have_no_variants() {
        let s = ImageSettings::default();
        for ext in ["svg", "gif", "ico", "avif"] {
            assert!(plan(&[1; 32], ext, Some(800), Some(600), &s, Shards::default()).is_none(), "{ext}");
        }
        assert!(plan(&[1; 32], "png", None, None, &s, Shards::default()).is_none());
        let off = ImageSettings { resize: false, ..s };
        assert!(plan(&[1; 32], "jpg", Some(800), Some(600), &off, Shards::default()).is_none());
    }

    #[test]
    fn a_very_tall_image_gets_no_webp_taller_than_webp_allows() {
        let s = ImageSettings::default();
        // 1080 × 20000: at 800 wide the WebP would be 14,815 high, at 1080 20,000.
        let set = set(1080, 20_000, &s);
        assert_eq!(set.modern[0].1.iter().map(|v| v.width).collect::<Vec<_>>(), [240, 480, 800]);
        let taller = plan(&[7; 32], "jpg", Some(100), Some(40_000), &s, Shards::default()).unwrap();
        assert!(taller.modern.is_empty(), "only the fallback: {:?}", taller.modern);
    }

    #[test]
    fn srcset_lists_widths() {
        let s = set(1000, 500, &ImageSettings::default());
        assert_eq!(
            srcset(&s.modern[0].1[..2], |r| format!("/{r}")).split(", ").map(|c| c.rsplit(' ').next().unwrap()).collect::<Vec<_>>(),
            ["240w", "480w"]
        );
    }
}
