//! `gen`: a static site generator for publishers who run many sites from one
//! repository. The modules follow the pipeline:
//!
//! config → discover → parse → model → plan → render → write, run in order by
//! [`build`]; [`new`] scaffolds sites and articles. Only what the command
//! line and the tests use is public; the stages are `pub(crate)`, so the
//! compiler reports what nothing uses.

pub(crate) mod assets;
pub mod build;
pub(crate) mod cache;
pub mod check;
pub(crate) mod config;
pub mod diag;
pub(crate) mod digest;
pub(crate) mod discover;
pub(crate) mod embed;
pub(crate) mod images;
pub mod import;
pub(crate) mod model;
pub mod new;
pub(crate) mod parse;
pub(crate) mod plan;
pub(crate) mod redirects;
pub(crate) mod render;
pub mod search;
pub mod serve;
pub(crate) mod theme;
pub(crate) mod write;
pub use config::CONFIG_FILE;
