//! The command line: clap types, turned into plain options for the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "gen", version, about = "Builds many static sites from one repository of Markdown articles.")]
pub struct Cli {
    /// Repository root (holds sites.toml, content/, themes/, assets/).
    /// Default: the nearest folder from the current one upwards that holds
    /// a sites.toml (as git finds its repository), else the current folder.
    #[arg(short = 'C', long = "root", global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the sites into the output folder (public/ by default).
    Build(BuildArgs),
    /// Build, then serve every site for preview (http://SITE.localhost:PORT/).
    Serve(ServeArgs),
    /// Build, then report every internal link, image and #anchor in the
    /// articles that points nowhere. Exits 1 when any is broken.
    Check(CheckArgs),
    /// Write data for other systems.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Create a new site or article.
    #[command(subcommand)]
    New(NewCommand),
    /// Create a repository that builds: sites.toml, a first site with a
    /// welcome article, content/authors.yaml (the theme is built in).
    Init {
        /// Folder to create it in (default: the current one).
        dir: Option<PathBuf>,
        /// Also write the default theme to themes/default/ for editing.
        #[arg(long)]
        theme: bool,
    },
    /// Bring content in from another system.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Manage the build cache (.gen/).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Work with the theme.
    #[command(subcommand)]
    Theme(ThemeCommand),
}

#[derive(Debug, Subcommand)]
pub enum ThemeCommand {
    /// Write the built-in theme to themes/default/ for editing; files
    /// already there are left as they are.
    Eject,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove encoded image variants that no saved build state publishes.
    Prune {
        /// Build-state folder.
        #[arg(long, value_name = "DIR", default_value = ".gen")]
        cache: PathBuf,
        /// Keep unused variants written within this many days (a branch
        /// built yesterday may come back).
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A WordPress export (Tools → Export, WXR) into content/SITE/, with its
    /// images, and every old URL kept working as an alias.
    Wordpress(WordpressArgs),
}

#[derive(Debug, Args)]
pub struct WordpressArgs {
    /// The export file WordPress wrote (an .xml file).
    pub export: PathBuf,
    /// The site to import into (added to sites.toml when missing).
    #[arg(long, value_name = "NAME")]
    pub site: String,
    /// The site's wp-content/uploads folder (for a multisite, the network's).
    /// Without it, images keep their old URLs.
    #[arg(long, value_name = "DIR")]
    pub uploads: Option<PathBuf>,
    /// Print the report and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite articles and images changed since the last import.
    #[arg(long)]
    pub force: bool,
    /// Section of posts without a category.
    #[arg(long, value_name = "NAME", default_value = "posts")]
    pub section: String,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub select: Select,
    /// Also list links to other hosts (they are never fetched).
    #[arg(long)]
    pub external: bool,
    /// Build-state folder for incremental builds.
    #[arg(long, value_name = "DIR", default_value = ".gen")]
    pub cache: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Every published article as search documents, e.g. for Elasticsearch.
    Search {
        #[arg(long, value_enum, default_value = "elasticsearch")]
        format: SearchFormat,
        #[command(flatten)]
        select: Select,
        /// Folder to write into (one subfolder per site, replaced).
        #[arg(long, value_name = "DIR", default_value = gensite::build::EXPORT_DIR)]
        output: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SearchFormat {
    /// `_bulk` NDJSON files and an index mapping (Elasticsearch and OpenSearch).
    Elasticsearch,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Rebuild on changes to content/, themes/, assets/ and sites.toml, and reload open pages.
    #[arg(long, short)]
    pub watch: bool,
    /// Port to listen on [default: 1111, or the next free port after it].
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on. Anything but loopback exposes drafts to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    #[command(flatten)]
    pub select: Select,
    /// Build-state folder; the preview lives in DIR/serve/.
    #[arg(long, value_name = "DIR", default_value = ".gen")]
    pub cache: PathBuf,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub select: Select,
    /// Write HTML as rendered, without minifying it.
    #[arg(long)]
    pub no_minify: bool,
    /// Output folder (overrides `output` in sites.toml).
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Build-state folder for incremental builds.
    #[arg(long, value_name = "DIR", default_value = ".gen")]
    pub cache: PathBuf,
    /// Ignore the saved build state and render everything.
    #[arg(long)]
    pub clean: bool,
    /// Publish for another address (a staging deploy): replaces every built
    /// site's base_url; `{site}` stands for the site's name, and with several
    /// sites and no `{site}` each gets URL/<site>/.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Share encoded image variants through this store (overrides `[cache]
    /// remote`): s3://bucket/prefix, webdav://host/path, file:///path.
    /// Credentials come from the environment only.
    #[arg(long, value_name = "URL")]
    pub cache_remote: Option<String>,
    /// Fail when the remote store fails, instead of encoding locally.
    #[arg(long)]
    pub cache_remote_required: bool,
    /// Encode and upload only part I of N of the image variants, publish
    /// nothing (one of N CI machines; a final build without it publishes).
    /// `auto` reads CI_NODE_INDEX/CI_NODE_TOTAL, `auto/N` CI_NODE_INDEX or
    /// JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Publish no site when any site fails (by default every site that
    /// built is published and a failing one keeps its previous output).
    #[arg(long)]
    pub all_or_nothing: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print a machine-readable report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Which sites and articles a build includes.
#[derive(Debug, Args)]
pub struct Select {
    /// Only this site (repeatable). Default: every site in sites.toml.
    #[arg(long = "site", value_name = "NAME")]
    pub sites: Vec<String>,
    /// Include articles marked `draft: true`.
    #[arg(long)]
    pub drafts: bool,
    /// Include articles dated in the future.
    #[arg(long)]
    pub future: bool,
}

#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// Add a site to sites.toml and create content/NAME/ with a welcome
    /// article in the site's language.
    Site {
        /// Folder name of the site (lowercase letters, digits, `-`, `_`).
        name: String,
        /// The site's title (default: its name).
        #[arg(long)]
        title: Option<String>,
        /// Its language, e.g. ko or en (default: en).
        #[arg(long)]
        language: Option<String>,
        /// Its IANA time zone, e.g. Asia/Seoul.
        #[arg(long)]
        timezone: Option<String>,
        /// Its address (default: https://NAME.example.com/).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Create content/SITE/SECTION/SLUG/index.md with front matter to fill in.
    Article {
        /// SITE/SECTION/SLUG, e.g. news/politics/budget-vote.
        path: String,
    },
}
