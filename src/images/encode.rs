//! Decoding a source once and encoding its variants: EXIF orientation
//! applied, colour profiles converted to sRGB, 16-bit and CMYK sources
//! brought to 8-bit RGB, no metadata carried over (GPS positions in news
//! photos stay private). One image per call: the caller runs calls in
//! parallel, so memory is bounded by the number of workers, not of images.

use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageReader};

use super::variants::{Format, Variant};

/// The largest photo gen decodes: 200 megapixels (a 16-bit RGBA one takes
/// 1.6 GB decoded). A file that claims more is refused before any pixel is
/// allocated, however small the file is.
pub const MAX_PIXELS: u64 = 200_000_000;

/// What a source's header says: its size as shown (after the EXIF
/// orientation) and whether it is animated (APNG, animated WebP), which
/// variants would flatten to their first frame.
pub fn header(bytes: &[u8]) -> Result<(u32, u32, bool), String> {
    let (w, h) = dimensions(bytes)?;
    Ok((w, h, is_animated(bytes)))
}

fn too_large(w: u32, h: u32) -> Result<(), String> {
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(format!("{w}×{h} pixels is more than gen decodes ({} megapixels)", MAX_PIXELS / 1_000_000));
    }
    Ok(())
}

/// APNG (an `acTL` chunk before the image data) or animated WebP (the
/// animation flag of `VP8X`).
fn is_animated(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let mut i = 8;
        while i + 8 <= bytes.len() {
            let len = u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize;
            match &bytes[i + 4..i + 8] {
                b"acTL" => return true,
                b"IDAT" => return false,
                _ => i += 12 + len,
            }
        }
        return false;
    }
    bytes.len() > 20 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" && &bytes[12..16] == b"VP8X" && bytes[20] & 0x02 != 0
}

/// The size as shown (after the EXIF orientation), from the header.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), String> {
    let mut decoder = reader(bytes)?.into_decoder().map_err(|e| e.to_string())?;
    let (w, h) = decoder.dimensions();
    too_large(w, h)?;
    let turned = decoder.orientation().map(|o| {
        use image::metadata::Orientation::*;
        matches!(o, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH)
    });
    Ok(if turned.unwrap_or(false) { (h, w) } else { (w, h) })
}

fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, String> {
    let mut r = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| e.to_string())?;
    // Large photos are what gen is for: no 512 MiB cap on a 50-megapixel scan.
    r.no_limits();
    Ok(r)
}

/// Decodes `bytes` and encodes every variant, in order. Decoding errors
/// (a truncated or corrupt file) are returned as text for the caller to
/// place.
pub fn encode_all(bytes: &[u8], variants: &[&Variant], avif_speed: u8) -> Result<Vec<Vec<u8>>, String> {
    let source = decode(bytes)?;
    variants.iter().map(|v| encode(&resize(&source, v.width, v.height)?, v.format, v.quality, avif_speed)).collect()
}

/// 8-bit sRGB pixels, upright, with alpha only when the source has it.
fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    if bytes.starts_with(&[0xFF, 0xD8]) && !jpeg_is_complete(bytes) {
        return Err("the JPEG is cut off (no end marker after its image data): was it copied completely?".into());
    }
    let mut decoder = reader(bytes)?.into_decoder().map_err(|e| e.to_string())?;
    let (w, h) = decoder.dimensions();
    too_large(w, h)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    img.apply_orientation(orientation);
    let mut img = if img.color().has_alpha() { DynamicImage::ImageRgba8(img.to_rgba8()) } else { DynamicImage::ImageRgb8(img.to_rgb8()) };
    if let Some(icc) = icc {
        to_srgb(&mut img, &icc);
    }
    Ok(img)
}

/// Converts pixels described by an RGB ICC profile to sRGB. Profiles of
/// other colour spaces (a CMYK JPEG's: its decoder already gave RGB) and
/// profiles that do not parse leave the pixels as they are.
fn to_srgb(img: &mut DynamicImage, icc: &[u8]) {
    use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};
    let Ok(profile) = ColorProfile::new_from_slice(icc) else { return };
    if profile.color_space != DataColorSpace::Rgb {
        return;
    }
    let srgb = ColorProfile::new_srgb();
    let (layout, buf): (Layout, &mut [u8]) = match img {
        DynamicImage::ImageRgb8(b) => (Layout::Rgb, b.as_mut()),
        DynamicImage::ImageRgba8(b) => (Layout::Rgba, b.as_mut()),
        _ => return,
    };
    let Ok(t) = profile.create_transform_8bit(layout, &srgb, layout, TransformOptions::default()) else { return };
    let src = buf.to_vec();
    if t.transform(&src, buf).is_err() {
        buf.copy_from_slice(&src);
    }
}

/// Whether a JPEG's image data ends with its end marker. The decoder
/// fills a cut-off file with grey instead of failing; this finds the cut.
/// Segments before the image data are skipped by their lengths (an EXIF
/// thumbnail is a whole JPEG of its own); inside entropy-coded data every
/// 0xFF is followed by 0x00 or a restart marker, so `FF D9` there can only
/// be the real end.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        i += 2 + len;
        if marker == 0xDA {
            // Scan data (progressive files have several scans): the file is
            // complete when an end marker follows somewhere.
            return bytes.get(i..).is_some_and(|rest| rest.windows(2).any(|w| w == [0xFF, 0xD9]));
        }
    }
    false
}

fn resize(src: &DynamicImage, width: u32, height: u32) -> Result<DynamicImage, String> {
    if (width, height) == (src.width(), src.height()) {
        return Ok(src.clone());
    }
    let mut dst = DynamicImage::new(width, height, src.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new().resize(src, &mut dst, &options).map_err(|e| e.to_string())?;
    Ok(dst)
}

fn encode(img: &DynamicImage, format: Format, quality: u8, avif_speed: u8) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match format {
        Format::Webp => {
            let (w, h) = (img.width(), img.height());
            let encoder = match img {
                DynamicImage::ImageRgba8(b) => webp::Encoder::from_rgba(b.as_raw(), w, h),
                _ => webp::Encoder::from_rgb(img.as_bytes(), w, h),
            };
            let mem = encoder.encode_simple(false, quality as f32).map_err(|e| format!("WebP encoding failed: {e:?}"))?;
            out.extend_from_slice(&mem);
        }
        Format::Avif => {
            let enc = image::codecs::avif::AvifEncoder::new_with_speed_quality(&mut out, avif_speed, quality).with_num_threads(Some(1));
            img.write_with_encoder(enc).map_err(|e| e.to_string())?;
        }
        Format::Jpeg => {
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            DynamicImage::ImageRgb8(img.to_rgb8()).write_with_encoder(enc).map_err(|e| e.to_string())?;
        }
        Format::Png => {
            use image::codecs::png::{CompressionType, FilterType, PngEncoder};
            let enc = PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
            img.write_with_encoder(enc).map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::Shards;
    use crate::images::variants::{ImageSettings, plan};

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 128]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img).write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)).unwrap();
        out
    }

    #[test]
    fn every_variant_decodes_at_its_planned_size() {
        let bytes = jpeg(640, 400);
        let (w, h, _) = header(&bytes).unwrap();
        let s = ImageSettings { formats: vec![Format::Avif, Format::Webp], ..Default::default() };
        let set = plan(&[1; 32], "jpg", Some(w), Some(h), &s, Shards::default()).unwrap();
        let all: Vec<&Variant> = set.all().collect();
        let out = encode_all(&bytes, &all, s.avif_speed).unwrap();
        for (v, bytes) in all.iter().zip(&out) {
            let format = image::guess_format(bytes).unwrap();
            assert_eq!(format.extensions_str()[0].replace("jpeg", "jpg"), v.format.ext(), "{}", v.rel);
            if v.format != Format::Avif {
                let img = image::load_from_memory(bytes).unwrap();
                assert_eq!((img.width(), img.height()), (v.width, v.height), "{}", v.rel);
            }
        }
    }

    #[test]
    fn a_cut_off_jpeg_is_found_but_a_thumbnail_inside_does_not_hide_the_cut() {
        let whole = jpeg(300, 200);
        assert!(jpeg_is_complete(&whole));
        assert!(!jpeg_is_complete(&whole[..whole.len() * 2 / 3]));
        // An APP1 segment holding a complete JPEG (an EXIF thumbnail) before the cut image.
        let thumb = jpeg(8, 8);
        let mut with_thumb = whole[..2].to_vec();
        with_thumb.extend_from_slice(&[0xFF, 0xE1]);
        with_thumb.extend_from_slice(&((thumb.len() + 2) as u16).to_be_bytes());
        with_thumb.extend_from_slice(&thumb);
        with_thumb.extend_from_slice(&whole[2..]);
        assert!(jpeg_is_complete(&with_thumb));
        assert!(!jpeg_is_complete(&with_thumb[..with_thumb.len() - 100]));
    }

    #[test]
    fn animations_and_oversized_images_are_told_by_their_header() {
        let png = |chunks: &[&[u8; 4]]| {
            let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
            for c in chunks {
                b.extend_from_slice(&0u32.to_be_bytes());
                b.extend_from_slice(*c);
                b.extend_from_slice(&[0; 4]);
            }
            b
        };
        assert!(is_animated(&png(&[b"IHDR", b"acTL", b"IDAT"])));
        assert!(!is_animated(&png(&[b"IHDR", b"IDAT", b"acTL"])), "acTL after the data is no APNG");
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0".to_vec();
        webp.extend_from_slice(&[0x02, 0, 0, 0]);
        assert!(is_animated(&webp));
        webp[20] = 0x10;
        assert!(!is_animated(&webp), "alpha only");
        assert!(!is_animated(&jpeg(8, 8)));
        assert!(too_large(20_000, 20_000).unwrap_err().contains("200 megapixels"));
        assert!(too_large(8_000, 6_000).is_ok());
    }

    #[test]
    fn a_truncated_jpeg_is_an_error() {
        let bytes = jpeg(64, 64);
        let v = plan(&[1; 32], "jpg", Some(64), Some(64), &ImageSettings::default(), Shards::default()).unwrap();
        let err = encode_all(&bytes[..bytes.len() / 3], &[&v.fallback], 8);
        assert!(err.is_err(), "a third of a JPEG decoded");
    }
}
