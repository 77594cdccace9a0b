//! Responsive images: real photos become WebP/AVIF variants and a fallback,
//! `<picture>` with `srcset`, from a variant cache keyed by content.

use std::collections::BTreeSet;

use image::{DynamicImage, GenericImageView};
use scraper::{Html, Selector};

use crate::util::{Repo, assert_same_as_clean_build, changed};

/// A photo-like JPEG: gradients plus noise, so it does not compress to nothing.
pub fn photo(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = state % 40;
        image::Rgb([((x * 200 / width) + n) as u8, ((y * 200 / height) + n) as u8, ((seed * 37) % 200 + n) as u8])
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img).write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)).unwrap();
    out
}

/// The basic fixture with resizing on (its own images are headers only,
/// so its articles lose them) and small widths to keep encoding quick.
pub(crate) fn photo_repo(images: &str) -> Repo {
    let r = Repo::fixture("basic");
    r.edit("sites.toml", "[images]\nresize = false\n", &format!("[images]\nwidths = [160, 320]\nthumbnail = 120\nsocial = 300\n{images}"));
    r.edit("content/alpha/news/first-story/index.md", "![사진](photo.png)\n\n![같은 사진](same.png)", "");
    r.write_bytes("content/alpha/news/first-story/photo.jpg", &photo(400, 250, 1));
    r.edit("content/alpha/news/first-story/index.md", "title:", "image: photo.jpg\ntitle:");
    r.write("content/alpha/news/second/index.md", "---\ntitle: 둘째\ndate: 2024-02-01\n---\n\n본문.\n\n![두 번째 사진](pic.jpg)\n");
    r.write_bytes("content/alpha/news/second/pic.jpg", &photo(500, 500, 2));
    r.age();
    r
}

fn build_json(r: &Repo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["build", "--json"];
    all.extend(args);
    serde_json::from_str(&r.ok(&all)).unwrap()
}

/// `images` of the report, summed over sites.
fn images(v: &serde_json::Value, key: &str) -> u64 {
    v["sites"].as_array().unwrap().iter().map(|s| s["images"][key].as_u64().unwrap()).sum()
}

fn select<'a>(html: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    html.select(&Selector::parse(css).unwrap()).collect()
}

/// Decodes a published file named by a root-relative URL.
fn published(r: &Repo, site: &str, url: &str) -> DynamicImage {
    image::open(r.path(&format!("public/{site}{url}"))).unwrap_or_else(|e| panic!("{url}: {e}"))
}

#[test]
fn variants_exist_for_each_width_and_format_and_srcset_lists_them() {
    let r = photo_repo("formats = [\"webp\", \"avif\"]\n");
    let report = build_json(&r, &[]);
    let html = Html::parse_document(&r.read("public/alpha/news/second/index.html"));
    let pictures = select(&html, ".content picture");
    assert_eq!(pictures.len(), 1, "{}", html.html());
    let sources = select(&html, ".content picture source");
    assert_eq!(sources.iter().map(|s| s.attr("type").unwrap()).collect::<Vec<_>>(), ["image/avif", "image/webp"], "best first");
    for s in &sources {
        let mut widths = Vec::new();
        for candidate in s.attr("srcset").unwrap().split(", ") {
            let (url, w) = candidate.rsplit_once(' ').unwrap();
            let w: u32 = w.strip_suffix('w').unwrap().parse().unwrap();
            let ext = if s.attr("type") == Some("image/avif") { ".avif" } else { ".webp" };
            assert!(url.ends_with(ext), "{url}");
            let bytes = std::fs::read(r.path(&format!("public/alpha{url}"))).unwrap();
            if ext == ".webp" {
                let img = image::load_from_memory(&bytes).unwrap();
                assert_eq!(img.width(), w, "the w descriptor is the file's width: {url}");
                assert_eq!(img.height(), w, "square source, square variant");
            } else {
                assert_eq!(image::guess_format(&bytes).unwrap(), image::ImageFormat::Avif);
            }
            widths.push(w);
        }
        // The thumbnail and the configured widths, all narrower than the source.
        assert_eq!(widths, [120, 160, 320], "{:?}", s.attr("srcset"));
        assert!(s.attr("sizes").is_some());
    }
    let img = select(&html, ".content picture img")[0];
    let fallback = published(&r, "alpha", img.attr("src").unwrap());
    assert_eq!((fallback.width(), fallback.height()), (300, 300), "the fallback is `social` wide, in the source's format");
    assert!(img.attr("src").unwrap().ends_with(".jpg"));
    assert_eq!((img.attr("width"), img.attr("height")), (Some("300"), Some("300")));
    // og:image is the social size too.
    let og = select(&html, "meta[property='og:image']")[0].attr("content").unwrap().to_string();
    assert!(og.starts_with("https://alpha.example.com/images/") && og.ends_with(img.attr("src").unwrap()), "{og}");
    // No original is published: every image file is a listed variant.
    let files: BTreeSet<String> =
        r.listing().into_iter().filter_map(|p| p.strip_prefix("public/alpha/images/").map(String::from)).collect();
    assert_eq!(files.len() as u64, images(&report, "variants"), "{files:?}");
    assert_eq!(images(&report, "encoded"), images(&report, "variants"));
    assert!(files.iter().all(|f| f.split('/').count() == 3), "sharded like originals: {files:?}");
}

#[test]
fn covers_become_pictures_and_lists_show_the_thumbnail() {
    let r = photo_repo("");
    r.build();
    let page = Html::parse_document(&r.read("public/alpha/news/first-story/index.html"));
    let cover = select(&page, "picture img.cover");
    assert_eq!(cover.len(), 1, "{}", page.html());
    assert_eq!(cover[0].attr("loading"), None, "the cover is the first image: not lazy");
    // A list page shows the article with its thumbnail.
    let lists: Vec<String> = r.listing().into_iter().filter(|p| p.starts_with("public/alpha/") && p.ends_with("index.html")).collect();
    let list = lists
        .iter()
        .map(|p| Html::parse_document(&r.read(p)))
        .find(|h| !select(h, "picture img.thumb").is_empty())
        .unwrap_or_else(|| panic!("no list shows a thumbnail: {lists:?}"));
    let thumb = select(&list, "picture source")
        .into_iter()
        .find(|s| s.attr("srcset").is_some_and(|x| x.ends_with("120w")))
        .unwrap_or_else(|| panic!("no thumbnail source: {}", list.html()));
    let url = thumb.attr("srcset").unwrap().split(' ').next().unwrap().to_string();
    assert_eq!(published(&r, "alpha", &url).width(), 120);
    let img = select(&list, "picture img.thumb")[0];
    assert_eq!((img.attr("width"), img.attr("height")), (Some("120"), Some("75")));
}

#[test]
fn a_restored_cache_with_new_mtimes_encodes_nothing() {
    let r = photo_repo("");
    let first = build_json(&r, &[]);
    assert!(images(&first, "encoded") > 0);
    // A fresh checkout: every file written anew, no build state, only the
    // variant cache restored (as CI restores a cache folder).
    let fresh = photo_repo("");
    std::fs::create_dir_all(fresh.path(".gen")).unwrap();
    let status = std::process::Command::new("cp").arg("-r").arg(r.path(".gen/variants")).arg(fresh.path(".gen/")).status().unwrap();
    assert!(status.success());
    let again = build_json(&fresh, &[]);
    assert_eq!(images(&again, "encoded"), 0, "{again}");
    assert_eq!(images(&again, "cache_hits"), images(&first, "variants"));
    let a: Vec<(String, Vec<u8>)> = r.snapshot("public").into_iter().map(|(k, (_, b))| (k, b)).collect();
    let b: Vec<(String, Vec<u8>)> = fresh.snapshot("public").into_iter().map(|(k, (_, b))| (k, b)).collect();
    assert_eq!(a, b, "the same output from the cache");
}

#[test]
fn a_moved_image_encodes_nothing() {
    let r = photo_repo("");
    r.build();
    std::fs::create_dir_all(r.path("content/alpha/assets/photos")).unwrap();
    std::fs::rename(r.path("content/alpha/news/second/pic.jpg"), r.path("content/alpha/assets/photos/renamed.jpg")).unwrap();
    r.edit("content/alpha/news/second/index.md", "(pic.jpg)", "(/photos/renamed.jpg)");
    let v = build_json(&r, &[]);
    assert_eq!(images(&v, "encoded"), 0, "{v}");
}

#[test]
fn an_edited_image_reencodes_only_itself_and_rerenders_exactly_its_article() {
    let r = photo_repo("");
    let first = build_json(&r, &[]);
    let before = r.snapshot("public/alpha");
    r.write_bytes("content/alpha/news/second/pic.jpg", &photo(500, 500, 3));
    let v = build_json(&r, &[]);
    let per_image = images(&first, "variants") / 2;
    assert_eq!(images(&v, "encoded"), per_image, "only the edited photo: {v}");
    let after = r.snapshot("public/alpha");
    let pages: Vec<String> = changed(&before, &after).into_iter().filter(|p| p.ends_with(".html")).collect();
    assert!(pages.contains(&"news/second/index.html".to_string()), "{pages:?}");
    assert!(!pages.contains(&"news/first-story/index.html".to_string()), "{pages:?}");
    // Its old variants are gone, the other photo's are untouched.
    let removed: Vec<String> = changed(&before, &after).into_iter().filter(|p| p.starts_with("-images/")).collect();
    assert_eq!(removed.len() as u64, per_image, "{removed:?}");
    crate::util::assert_same_as_clean_build(&r);
}

#[test]
fn removed_images_lose_their_variants() {
    let r = photo_repo("");
    r.build();
    let count = || r.listing().iter().filter(|p| p.starts_with("public/alpha/images/")).count();
    let all = count();
    r.edit("content/alpha/news/second/index.md", "![두 번째 사진](pic.jpg)", "사진 없음");
    r.build();
    assert_eq!(count(), all / 2, "{:?}", r.listing());
}

#[test]
fn a_corrupt_jpeg_is_an_error_with_file_and_line_and_public_is_untouched() {
    let r = photo_repo("");
    r.build();
    let before = r.snapshot("public");
    // The header is intact (its size reads), the pixels are cut off.
    let whole = photo(400, 300, 9);
    r.write_bytes("content/alpha/news/second/broken.jpg", &whole[..whole.len() / 3]);
    r.edit("content/alpha/news/second/index.md", "본문.", "본문.\n\n![깨진 사진](broken.jpg)");
    let err = r.fails(&["build"]);
    assert!(err.contains("content/alpha/news/second/index.md:8: image content/alpha/news/second/broken.jpg cannot be decoded"), "{err}");
    assert_eq!(changed(&before, &r.snapshot("public")), Vec::<String>::new(), "public/ untouched");
    // Garbage with a .jpg name is refused where it is referenced.
    r.write_bytes("content/alpha/news/second/broken.jpg", b"not a jpeg at all");
    let err = r.fails(&["build"]);
    assert!(err.contains("content/alpha/news/second/index.md:8: cannot read image"), "{err}");
    // Found by a new user: its hint said to put the image in the article's
    // folder, where it was; it is the file that needs saving again.
    assert!(err.contains("save it again") && !err.contains("put the image in the article's folder"), "{err}");
}

/// A JPEG with an EXIF block: orientation 6 (shown turned 90°) and a GPS position.
fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let plain = photo(width, height, 4);
    // TIFF little-endian: IFD0 with Orientation=6 and a GPS IFD pointer;
    // the GPS IFD holds GPSLatitudeRef = "N".
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0]);
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&[6, 0, 0, 0]);
    tiff.extend_from_slice(&[0x25, 0x88, 4, 0]);
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&38u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&[0x01, 0, 2, 0]);
    tiff.extend_from_slice(&2u32.to_le_bytes());
    tiff.extend_from_slice(b"N\0\0\0");
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(b"GPSMARKER-37.5665N-126.9780E");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

#[test]
fn exif_gps_is_absent_from_every_variant_and_orientation_is_applied() {
    let r = photo_repo("");
    let bytes = jpeg_with_gps(400, 200);
    assert!(bytes.windows(9).any(|w| w == b"GPSMARKER"));
    r.write_bytes("content/alpha/news/second/pic.jpg", &bytes);
    r.build();
    let html = Html::parse_document(&r.read("public/alpha/news/second/index.html"));
    let img = select(&html, ".content picture img")[0];
    // Stored 400×200, shown turned: 200 wide, 400 high.
    assert_eq!((img.attr("width"), img.attr("height")), (Some("200"), Some("400")));
    let mut seen = 0;
    for file in r.listing().iter().filter(|p| p.starts_with("public/alpha/images/")) {
        let out = std::fs::read(r.path(file)).unwrap();
        assert!(!out.windows(9).any(|w| w == b"GPSMARKER"), "{file} carries the GPS block");
        assert!(!out.windows(4).any(|w| w == b"Exif"), "{file} carries EXIF");
        if file.contains(&blake3::hash(&bytes).to_hex()[..16]) {
            let img = image::load_from_memory(&out).unwrap();
            assert!(img.height() > img.width(), "{file} is upright: {:?}", img.dimensions());
            seen += 1;
        }
    }
    assert!(seen >= 3, "variants of the photo were checked: {seen}");
}

#[test]
fn a_cmyk_jpeg_and_a_16_bit_png_come_out_with_correct_colours() {
    let r = photo_repo("");
    // Made by ImageMagick from rgb(220,30,30) converted to CMYK (Adobe APP14).
    let cmyk = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images/cmyk.jpg")).unwrap();
    r.write_bytes("content/alpha/news/second/cmyk.jpg", &cmyk);
    // 16 bits per channel: (30000, 50000, 10000) of 65535 is (117, 195, 39) in 8 bits.
    let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_pixel(64, 48, image::Rgb([30000u16, 50000, 10000]));
    let mut png16 = Vec::new();
    DynamicImage::ImageRgb16(deep).write_to(&mut std::io::Cursor::new(&mut png16), image::ImageFormat::Png).unwrap();
    r.write_bytes("content/alpha/news/second/deep.png", &png16);
    r.edit("content/alpha/news/second/index.md", "본문.", "본문.\n\n![cmyk](cmyk.jpg)\n\n![deep](deep.png)");
    r.build();
    let html = Html::parse_document(&r.read("public/alpha/news/second/index.html"));
    let near = |got: image::Rgba<u8>, want: [u8; 3], what: &str| {
        let d = (0..3).map(|i| (got[i] as i32 - want[i] as i32).abs()).max().unwrap();
        assert!(d <= 12, "{what}: {got:?} is not near {want:?}");
    };
    for pic in select(&html, ".content picture") {
        let alt = pic.select(&Selector::parse("img").unwrap()).next().unwrap().attr("alt").unwrap().to_string();
        let want = match alt.as_str() {
            "cmyk" => [220, 30, 30],
            "deep" => [117, 195, 39],
            _ => continue,
        };
        let fallback = pic.select(&Selector::parse("img").unwrap()).next().unwrap().attr("src").unwrap().to_string();
        near(published(&r, "alpha", &fallback).get_pixel(10, 10), want, &format!("{alt} fallback"));
        for s in pic.select(&Selector::parse("source").unwrap()) {
            for c in s.attr("srcset").unwrap().split(", ") {
                let url = c.split(' ').next().unwrap();
                near(published(&r, "alpha", url).get_pixel(5, 5), want, &format!("{alt} {url}"));
            }
        }
    }
}

#[test]
fn cache_prune_removes_only_variants_no_build_uses() {
    let r = photo_repo("");
    r.build();
    let cached =
        || walkdir::WalkDir::new(r.path(".gen/variants")).into_iter().filter(|e| e.as_ref().unwrap().file_type().is_file()).count();
    let all = cached();
    r.edit("content/alpha/news/second/index.md", "![두 번째 사진](pic.jpg)", "사진 없음");
    r.build();
    assert_eq!(cached(), all, "a build never deletes from the cache");
    let out = r.ok(&["cache", "prune", "--older-than", "1"]);
    assert!(out.contains("removed 0 cached variants"), "young entries are kept: {out}");
    let out = r.ok(&["cache", "prune"]);
    assert!(out.contains(&format!("removed {} cached variants", all / 2)), "{out}");
    assert_eq!(cached(), all / 2);
    let v = build_json(&r, &[]);
    assert_eq!(images(&v, "encoded"), 0, "what the build uses is still cached: {v}");
}

/// Both fixture sites publish into one `images_url` tree; each shows `pic.jpg`.
fn shared_repo() -> Repo {
    let r = photo_repo("");
    r.edit("sites.toml", "paginate = 2\n", "paginate = 2\nimages_url = \"https://img.example.com/\"\n");
    r.write("content/beta/posts/photo/index.md", "---\ntitle: Photo\ndate: 2024-03-01\n---\n\nText.\n\n![The same photo](pic.jpg)\n");
    std::fs::copy(r.path("content/alpha/news/second/pic.jpg"), r.path("content/beta/posts/photo/pic.jpg")).unwrap();
    r.age();
    r
}

fn shared_files(r: &Repo) -> Vec<String> {
    r.listing().into_iter().filter_map(|p| p.strip_prefix("public/_images/").map(String::from)).collect()
}

#[test]
fn two_sites_sharing_one_images_url_tree_store_an_image_once() {
    let r = shared_repo();
    let report = build_json(&r, &[]);
    assert!(r.listing().iter().all(|p| !p.starts_with("public/alpha/images/") && !p.starts_with("public/beta/images/")));
    let files = shared_files(&r);
    let pic = blake3::hash(&std::fs::read(r.path("content/beta/posts/photo/pic.jpg")).unwrap()).to_hex().to_string();
    let of_pic: Vec<&String> = files.iter().filter(|f| f.contains(&pic)).collect();
    // Each variant of the shared photo once, though both sites show it.
    let alpha = Html::parse_document(&r.read("public/alpha/news/second/index.html"));
    let beta = Html::parse_document(&r.read("public/beta/2024/03/photo/index.html"));
    let srcset = |h: &Html| select(h, ".content picture source")[0].attr("srcset").unwrap().to_string();
    assert_eq!(srcset(&alpha), srcset(&beta), "one set of files for both");
    let urls: Vec<String> = srcset(&alpha).split(", ").map(|c| c.split(' ').next().unwrap().to_string()).collect();
    for u in &urls {
        let rel = u.strip_prefix("https://img.example.com/").unwrap_or_else(|| panic!("not on the images host: {u}"));
        assert!(files.iter().any(|f| f == rel), "{rel} is not in public/_images/: {files:?}");
    }
    assert_eq!(of_pic.len(), urls.len() + 1, "webp widths + the fallback, once: {of_pic:?}");
    let og = select(&beta, "meta[property='og:image']")[0].attr("content").unwrap().to_string();
    assert!(og.starts_with("https://img.example.com/") && og.ends_with(".jpg"), "{og}");
    assert!(r.read("public/_images/_headers").contains("immutable"));
    assert!(images(&report, "encoded") < images(&report, "variants"), "the second site encodes nothing of the shared photo: {report}");

    // alpha stops showing it: beta still does, the files stay.
    r.edit("content/alpha/news/second/index.md", "![두 번째 사진](pic.jpg)", "사진 없음");
    r.ok(&["build", "--site", "alpha"]);
    assert!(shared_files(&r).iter().any(|f| f.contains(&pic)), "beta's use was kept though beta was not built");
    r.edit("content/beta/posts/photo/index.md", "![The same photo](pic.jpg)", "No photo.");
    r.build();
    assert!(!shared_files(&r).iter().any(|f| f.contains(&pic)), "no site uses it: removed");
    // The files deleted by hand come back with the next build, though no input changed.
    std::fs::remove_dir_all(r.path("public/_images")).unwrap();
    r.build();
    assert!(!shared_files(&r).is_empty());
    crate::util::assert_same_as_clean_build(&r);
}

#[test]
fn the_preview_serves_the_shared_images_tree() {
    let r = shared_repo();
    let s = crate::util::serve(&r);
    let page = crate::util::http_get(s.port, "beta.localhost", "/2024/03/photo/");
    let html = Html::parse_document(&page.body);
    let src = select(&html, ".content picture img")[0].attr("src").unwrap().to_string();
    let prefix = format!("http://beta.localhost:{}/_images/", s.port);
    let path = src.strip_prefix(&prefix).unwrap_or_else(|| panic!("{src} is not served by the preview"));
    let img = crate::util::http_get(s.port, "beta.localhost", &format!("/_images/{path}"));
    assert_eq!(img.status, 200, "{src}");
    // A folder of the tree without its slash: the slash is added under /_images/.
    let shard = path.split('/').next().unwrap();
    let folder = crate::util::http_get(s.port, "beta.localhost", &format!("/_images/{shard}"));
    assert_eq!(folder.location.as_deref(), Some(format!("/_images/{shard}/").as_str()), "{}", folder.status);
    assert!(r.listing().iter().all(|p| !p.starts_with("public/")), "the preview never writes public/");
}

/// Review of #21: without `.gen/_images.state` but with `public/_images/`,
/// every build after trusted an empty state and refused the files on disk.
#[test]
fn a_lost_shared_images_state_is_rebuilt_from_every_site() {
    let r = shared_repo();
    r.build();
    let before = shared_files(&r);
    std::fs::remove_file(r.path(".gen/_images.state")).unwrap();
    r.build();
    r.build();
    assert_eq!(shared_files(&r), before);
    // The state knows beta's uses again: a build of alpha alone removes nothing beta shows.
    r.edit("content/alpha/news/second/index.md", "![두 번째 사진](pic.jpg)", "사진 없음");
    r.ok(&["build", "--site", "alpha"]);
    assert_eq!(shared_files(&r), before);
}

/// Review of #21: sizes read with resizing off ignored the EXIF
/// orientation and were reused when it was switched on: sideways variants.
/// Found by a new user: with resizing off, a photo stored sideways (EXIF
/// orientation 6) had its stored size in `width`/`height`, which browsers
/// show turned: the layout jumped and `og:image` said the wrong size.
#[test]
fn with_resizing_off_a_turned_photo_has_its_shown_size() {
    let r = photo_repo("");
    r.edit("sites.toml", "[images]\n", "[images]\nresize = false\n");
    r.write_bytes("content/alpha/news/second/pic.jpg", &jpeg_with_gps(400, 200));
    r.build();
    let html = Html::parse_document(&r.read("public/alpha/news/second/index.html"));
    let img = select(&html, ".content img")[0];
    assert!(img.attr("src").unwrap().ends_with(".jpg"), "published as it is: {}", html.html());
    assert_eq!((img.attr("width"), img.attr("height")), (Some("200"), Some("400")), "{}", html.html());
}

#[test]
fn switching_resizing_on_reads_the_orientation_of_images_read_before() {
    let r = photo_repo("");
    r.edit("sites.toml", "[images]\n", "[images]\nresize = false\n");
    r.write_bytes("content/alpha/news/second/pic.jpg", &jpeg_with_gps(400, 200));
    r.build();
    r.edit("sites.toml", "resize = false\n", "");
    r.build();
    let html = Html::parse_document(&r.read("public/alpha/news/second/index.html"));
    let img = select(&html, ".content picture img")[0];
    assert_eq!((img.attr("width"), img.attr("height")), (Some("200"), Some("400")), "{}", html.html());
    assert!(published(&r, "alpha", img.attr("src").unwrap()).height() > 200);
}

/// Review of #21: a change of the image settings re-rendered no page whose
/// inputs were otherwise unchanged, so `srcset` named variants no longer published.
#[test]
fn changing_the_image_widths_rerenders_the_pages_that_show_images() {
    let r = photo_repo("");
    r.build();
    r.edit("sites.toml", "widths = [160, 320]", "widths = [200, 320]");
    r.build();
    let html = Html::parse_document(&r.read("public/alpha/news/second/index.html"));
    let srcset = select(&html, ".content picture source")[0].attr("srcset").unwrap().to_string();
    assert!(srcset.contains(" 200w") && !srcset.contains(" 160w"), "{srcset}");
    for c in srcset.split(", ") {
        assert!(r.exists(&format!("public/alpha{}", c.split(' ').next().unwrap())), "{c} is not published");
    }
    crate::util::assert_same_as_clean_build(&r);
}

/// Partial publishing (#24 case 8f) with a shared `images_url` tree: the
/// site that claims a shared photo first fails on it (its data cut short),
/// so the other site, which left that photo to it, must not be published
/// pointing at files no one published. Every shared URL a published page
/// shows exists.
#[test]
fn a_site_failing_on_a_shared_photo_leaves_no_page_pointing_at_missing_files() {
    let r = shared_repo();
    let good = std::fs::read(r.path("content/beta/posts/photo/pic.jpg")).unwrap();
    let cut = &good[..good.len() / 2];
    r.write_bytes("content/alpha/news/second/pic.jpg", cut);
    r.write_bytes("content/beta/posts/photo/pic.jpg", cut);
    let out = r.run(&["build"]);
    assert!(!out.status.success(), "a photo cut short is an error");
    for (path, _) in r.snapshot("public") {
        if !path.ends_with(".html") {
            continue;
        }
        let html = r.read(&format!("public/{path}"));
        for url in html.split(['"', ' ', ',']).filter_map(|w| w.strip_prefix("https://img.example.com/")) {
            assert!(r.exists(&format!("public/_images/{url}")), "{path} shows {url}, which is not published");
        }
    }
}

/// Found by a new user: a WebP photo's fallback (its own format at the
/// `social` width) is its WebP variant of that width, one file listed
/// twice: the second publish of it failed the build ("the staged copy …
/// vanished") whenever the output already existed.
#[test]
fn a_webp_photo_added_to_a_built_site_is_published_once_per_variant() {
    let r = photo_repo("");
    // The fallback's width is one of the variants' (as 1200 is by default).
    r.edit("sites.toml", "social = 300", "social = 320");
    r.build();
    let img = image::load_from_memory(&photo(600, 400, 3)).unwrap();
    let mut webp = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut webp), image::ImageFormat::WebP).unwrap();
    r.write_bytes("content/alpha/news/second/w.webp", &webp);
    r.edit("content/alpha/news/second/index.md", "![두 번째 사진](pic.jpg)", "![두 번째 사진](pic.jpg)\n\n![웹피](w.webp)");
    r.build();
    let page = Html::parse_document(&r.read("public/alpha/news/second/index.html"));
    let img = select(&page, ".content picture img").into_iter().find(|i| i.attr("alt") == Some("웹피")).expect("the WebP photo's img");
    let src = img.attr("src").unwrap();
    assert!(src.contains("-320-") && src.ends_with(".webp"), "the fallback: 320 wide, WebP: {src}");
    assert_eq!(published(&r, "alpha", src).dimensions(), (320, 213));
    assert_same_as_clean_build(&r);
}

/// Found by a new user: with `images_url` taken out of `sites.toml`, the
/// shared tree stayed in the output for good, `--clean` or not. It goes
/// once no site shares it, but not while a site failed (its old pages still
/// show the shared files), and never with a file gen did not write.
#[test]
fn a_shared_images_tree_no_site_shares_any_more_is_removed() {
    let r = shared_repo();
    r.build();
    assert!(!shared_files(&r).is_empty());
    r.edit("sites.toml", "images_url = \"https://img.example.com/\"\n", "");
    // Review: a build of one site left the other's pages showing the tree.
    r.ok(&["build", "--site", "alpha"]);
    assert!(!shared_files(&r).is_empty(), "beta was not built: the tree stays");
    r.write("content/alpha/news/bad.md", "---\ntitle: t\n---\n");
    r.fails(&["build"]);
    assert!(!shared_files(&r).is_empty(), "a site failed: the tree stays");
    r.remove("content/alpha/news/bad.md");
    // (Review: every site named is every site.)
    r.ok(&["build", "--site", "alpha", "--site", "beta"]);
    assert_eq!(shared_files(&r), Vec::<String>::new());
    assert!(!r.exists("public/_images"), "{:?}", r.listing());
    assert!(!r.exists(".gen/_images.state"));
    // Each site publishes its own images again.
    let alpha = Html::parse_document(&r.read("public/alpha/news/second/index.html"));
    let src = select(&alpha, ".content picture img")[0].attr("src").unwrap().to_string();
    assert!(src.starts_with("/images/") && r.exists(&format!("public/alpha{src}")), "{src}");
    assert_same_as_clean_build(&r);
}

/// Review: old image URLs of a site whose `images_url` is on the site's own
/// host redirect to the images host, which is no configured site: `gen
/// check` called every such redirect broken.
#[test]
fn image_redirects_to_an_images_url_on_the_sites_own_host_are_not_broken() {
    let r = photo_repo("");
    r.edit("sites.toml", "paginate = 2\n", "paginate = 2\nimages_url = \"https://alpha.example.com/img/\"\n");
    r.edit("content/alpha/news/second/index.md", "title:", "image_aliases:\n  pic.jpg: [/wp-content/uploads/2020/01/pic.jpg]\ntitle:");
    r.build();
    let redirects = r.read("public/alpha/redirects.json");
    assert!(redirects.contains("https://alpha.example.com/img/"), "{redirects}");
    r.ok(&["check"]);
}
