//! Integration tests, one binary. Each test copies a fixture from
//! `tests/fixtures/` into its own temp folder and runs the `gen` binary.

mod util;

/// Output paths, pagination, taxonomies, feeds, sitemap, escaping.
mod build;
/// `gen check`: broken links, images and anchors with their source line.
mod check;
/// Every content and configuration error, and that a failed build writes nothing.
mod errors;
/// Content that reaches too far or breaks the output (issue #13).
mod hostile;
/// Sharded content-addressed images, fingerprinted assets, `_headers`.
mod images;
/// `gen import wordpress`: WordPress exports into content, every old URL kept.
mod import;
/// What a rebuild rewrites after each kind of change.
mod incremental;
/// Time zones, UI strings, section pages, social images, feeds (issue #14).
mod newsroom;
/// Random edit sequences against clean builds; racing builds (issue #13).
mod properties;
/// Atomic, locked, durable publishing that never gets stuck (issue #13).
mod publishing;
/// Year archives and redirect manifests, served by a real nginx.
mod redirects;
/// The remote variant cache (S3 on SeaweedFS) and sharded encoding (issue #25).
mod remote;
/// Responsive images: variants, srcset, the variant cache (issue #21).
mod responsive;
/// `gen new site` and `gen new article`.
mod scaffold;
/// search-index.json, the search page in a browser, the Elasticsearch export.
mod search;
/// JSON-LD, social tags, sitemaps (validated by xmllint), news sitemap.
mod seo;
/// `gen serve --watch`: preview, live reload, error overlay, path safety.
mod serve;
