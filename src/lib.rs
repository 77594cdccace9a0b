//! `gen`: a static site generator for publishers who run many sites from one
//! repository. The modules follow the pipeline:
//!
//! config → discover → parse → model → plan → render → write, run in order by
//! [`build`]; [`new`] scaffolds sites and articles.

pub mod assets;
pub mod build;
pub mod cache;
pub mod check;
pub mod config;
pub mod diag;
pub mod discover;
pub mod embed;
pub mod images;
pub mod import;
pub mod model;
pub mod new;
pub mod parse;
pub mod plan;
pub mod redirects;
pub mod render;
pub mod search;
pub mod serve;
pub mod theme;
pub mod write;
