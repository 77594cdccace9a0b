//! Runs one command, prints errors with their chain, sets the exit code.

mod cli;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use gensite::build::{self, BuildOptions, BuildReport};
use gensite::diag::Printable;
use indicatif::{ProgressBar, ProgressStyle};

use cli::{
    BuildArgs, CacheCommand, CheckArgs, Cli, Command, ExportCommand, ImportCommand, NewCommand, SearchFormat, ServeArgs, ThemeCommand,
    WordpressArgs,
};

/// A build makes and frees millions of small strings and buffers on every
/// core at once: glibc's allocator was a fifth of a cold build's samples.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, as ripgrep's: 1 when the command ran and found problems
/// (`gen check`'s broken links), 2 when it could not do its job.
const FOUND_PROBLEMS: u8 = 1;
const FAILED: u8 = 2;

/// What `gen check` found: the command worked, the site has problems.
#[derive(Debug)]
struct Problems(String);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Problems {}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_on_a_closed_pipe();
    }
    let root = match (&cli.root, &cli.command) {
        (Some(root), _) => root.clone(),
        // A new repository goes where it is asked for, never into a parent.
        (None, Command::Init { .. }) => PathBuf::from("."),
        (None, _) => repository_root(),
    };
    // File arguments mean what they say from the folder the user is in.
    if let Command::Import(ImportCommand::Wordpress(args)) = &mut cli.command
        && let Ok(cwd) = std::env::current_dir()
    {
        args.export = cwd.join(&args.export);
        args.uploads = args.uploads.as_ref().map(|u| cwd.join(u));
    }
    let cli = Cli { root: Some(root.clone()), ..cli };
    let result = match cli.command {
        Command::Build(args) => run_build(&root, args),
        Command::Serve(args) => run_serve(&root, args),
        Command::Check(args) => run_check(&root, args),
        Command::Export(ExportCommand::Search { format: SearchFormat::Elasticsearch, select, output }) => {
            run_export(&root, select, &output)
        }
        Command::Import(ImportCommand::Wordpress(args)) => run_import(&root, args),
        Command::Cache(CacheCommand::Prune { cache, older_than }) => {
            let older_than = older_than.map(|d| std::time::Duration::from_secs(d * 86_400));
            build::prune_cache(&root.join(cache), older_than)
                .map(|(n, bytes)| println!("removed {n} cached variant{} ({:.1} MB)", if n == 1 { "" } else { "s" }, bytes as f64 / 1e6))
        }
        Command::Init { dir, theme } => {
            let dir = dir.map(|d| root.join(d)).unwrap_or_else(|| root.clone());
            gensite::new::init(&dir, theme).map(|made| {
                for p in made {
                    println!("created {}", p.display());
                }
                println!("next: gen build (writes public/news/), or gen serve --watch to preview");
            })
        }
        Command::New(NewCommand::Site { name, title, language, timezone, base_url }) => {
            let o = gensite::new::SiteOptions { title, language, timezone, base_url };
            gensite::new::site(&root, &name, &o, build::now()).map(|p| println!("created {}", p.display()))
        }
        Command::Theme(ThemeCommand::Eject) => gensite::new::eject_theme(&root).map(|(written, kept)| {
            for p in &written {
                println!("created {}", p.display());
            }
            if !kept.is_empty() {
                println!("left {} file{} already there as they are", kept.len(), if kept.len() == 1 { "" } else { "s" });
            }
        }),
        Command::New(NewCommand::Article { path }) => {
            gensite::new::article(&root, &path, build::now()).map(|p| println!("created {}", p.display()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<gensite::diag::Diagnostics>() {
                Some(d) => {
                    eprintln!("{d}");
                    eprintln!(
                        "build failed with {} error{}; the output folder was not changed",
                        d.len(),
                        if d.len() == 1 { "" } else { "s" }
                    );
                }
                None if e.is::<build::SitesFailed>() => eprintln!("{}", Printable(&e.to_string())),
                None if e.is::<Problems>() => {
                    eprintln!("{e}");
                    return ExitCode::from(FOUND_PROBLEMS);
                }
                None => eprintln!("error: {}", Printable(&format!("{e:#}"))),
            }
            ExitCode::from(FAILED)
        }
    }
}

/// The nearest folder from the current one upwards that holds a
/// `sites.toml`, as Hugo, Zola and git look for their project; the current
/// folder when none does (`gen new site` in an empty folder starts one).
fn repository_root() -> PathBuf {
    let Ok(cwd) = std::env::current_dir() else { return PathBuf::from(".") };
    cwd.ancestors().find(|d| d.join(gensite::CONFIG_FILE).is_file()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// `gen check | head`: when the reader goes away, stop as other command-line
/// tools do (killed by SIGPIPE, silently) instead of panicking in
/// `println!`. Not for `gen serve`, where a browser closing a connection
/// must not end the server.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal, before any
    // thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run_build(root: &std::path::Path, args: BuildArgs) -> anyhow::Result<()> {
    let mut opts = options(root, args.select);
    opts.minify = !args.no_minify;
    opts.output = args.output;
    opts.cache_dir = Some(args.cache);
    opts.clean = args.clean;
    opts.base_url = args.base_url;
    opts.cache_remote = args.cache_remote;
    opts.cache_remote_required = args.cache_remote_required;
    opts.all_or_nothing = args.all_or_nothing;
    opts.shard = args
        .shard
        .map(|s| build::Shard::parse(&s, |k| std::env::var(k).ok().filter(|v| !v.is_empty())))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let bar = (!args.quiet && !args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::hidden();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg} {pos}/{len} {wide_bar} {eta}").expect("valid template"));
        bar
    });
    if let Some(bar) = &bar {
        let bar = bar.clone();
        opts.progress = Some(Arc::new(move |what, done, total| {
            // Small builds finish before a bar is worth drawing; images
            // are slow enough to show from a few dozen on.
            let worth = if what == build::ENCODING { 50 } else { 500 };
            if total >= worth && bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_message(what);
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }));
    }
    let result = build::build(&opts);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(report) => print_report(&report, args.quiet, args.json),
        Err(e) => {
            // The sites that built are published: say so, then what failed.
            if let Some(partial) = e.downcast_ref::<build::SitesFailed>() {
                print_report(&partial.report, args.quiet, args.json);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// The build options a command's site selection asks for.
fn options(root: &std::path::Path, select: cli::Select) -> BuildOptions {
    let mut opts = BuildOptions::new(root);
    opts.sites = select.sites;
    opts.drafts = select.drafts;
    opts.future = select.future;
    opts
}

fn run_check(root: &std::path::Path, args: CheckArgs) -> anyhow::Result<()> {
    let mut opts = options(root, args.select);
    opts.cache_dir = Some(args.cache);
    opts.check = true;
    let report = build::build(&opts)?;
    // (Raw HTML escaped is listed below, with the links.)
    for w in report.warning_lines().filter(|w| !w.contains(gensite::check::ESCAPED_HTML)) {
        println!("warning: {}", Printable(&w));
    }
    let found = gensite::check::check(&report.links);
    if args.external {
        for f in &found.external {
            println!("external: {f}");
        }
    }
    for f in &found.escaped_html {
        println!("warning: {}", Printable(&f.to_string()));
    }
    for f in &found.broken {
        println!("broken: {f}");
    }
    let pages: usize = report.links.iter().map(|s| s.pages.len()).sum();
    println!(
        "checked {} link{} in {pages} article{}: {} broken, {} external{}",
        found.checked,
        if found.checked == 1 { "" } else { "s" },
        if pages == 1 { "" } else { "s" },
        found.broken.len(),
        found.external.len(),
        if args.external || found.external.is_empty() { "" } else { " (list them with --external)" }
    );
    if found.broken.is_empty() {
        Ok(())
    } else {
        let n = found.broken.len();
        Err(Problems(format!("{n} broken link{}: fix the lines above", if n == 1 { "" } else { "s" })).into())
    }
}

fn run_export(root: &std::path::Path, select: cli::Select, output: &std::path::Path) -> anyhow::Result<()> {
    let opts = options(root, select);
    for e in build::export_search(&opts, output)? {
        println!(
            "{}: {} documents → {}",
            e.site,
            e.documents,
            e.bulk.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
        println!("  curl -X PUT \"$ES/{}\" -H 'Content-Type: application/json' --data-binary @{}", e.index, e.mapping.display());
        for b in &e.bulk {
            println!("  curl -X POST \"$ES/_bulk\" -H 'Content-Type: application/x-ndjson' --data-binary @{}", b.display());
        }
    }
    Ok(())
}

fn run_serve(root: &std::path::Path, args: ServeArgs) -> anyhow::Result<()> {
    let mut build = options(root, args.select);
    build.cache_dir = Some(args.cache);
    gensite::serve::serve(gensite::serve::ServeOptions { build, bind: args.bind, port: args.port, watch: args.watch })
}

fn run_import(root: &std::path::Path, args: WordpressArgs) -> anyhow::Result<()> {
    let opts = gensite::import::Options {
        root: root.to_path_buf(),
        export: args.export,
        site: args.site,
        uploads: args.uploads,
        dry_run: args.dry_run,
        force: args.force,
        default_section: args.section,
    };
    let r = gensite::import::wordpress(&opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("report serializes"));
        return Ok(());
    }
    let list = |m: &std::collections::BTreeMap<String, usize>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    let verb = if r.dry_run { "would import" } else { "imported" };
    println!(
        "{}: {verb} {} posts and {} pages ({} drafts, {} future) from {}",
        r.site, r.imported.posts, r.imported.pages, r.imported.drafts, r.imported.future, r.export
    );
    for (kind, statuses) in &r.items {
        println!("  items: {kind}: {}", list(statuses));
    }
    if !r.skipped.is_empty() {
        println!("  skipped: {}", list(&r.skipped));
    }
    if r.site_added {
        println!("  site added to sites.toml with permalink {}", r.permalink);
    }
    println!(
        "  files: {} created, {} updated, {} unchanged, {} conflicts",
        r.files.created,
        r.files.updated,
        r.files.unchanged,
        r.files.conflicts.len()
    );
    println!(
        "  images: {} cloned, {} copied ({:.1} MB), {} unchanged, {} missing",
        r.images.cloned,
        r.images.copied,
        r.images.bytes as f64 / 1e6,
        r.images.unchanged,
        r.images.missing.len()
    );
    if r.images.not_looked_up > 0 {
        println!("  {} image references keep their old URLs: give --uploads DIR to bring the files over", r.images.not_looked_up);
    }
    println!("  redirects: {} article aliases, {} old image URLs", r.redirects.aliases, r.redirects.images);
    if !r.authors_added.is_empty() {
        println!("  authors added to content/authors.yaml: {}", r.authors_added.join(", "));
    }
    if !r.unknown_shortcodes.is_empty() {
        println!("  unknown shortcodes kept as text: {}", list(&r.unknown_shortcodes));
    }
    if !r.html_dropped.is_empty() {
        println!("  HTML markup dropped (text kept): {}", list(&r.html_dropped));
    }
    for m in &r.images.missing {
        match &m.refused {
            Some(why) => println!("  refused image: {}: {}: {}", Printable(&m.article), Printable(&m.url), Printable(why)),
            None => println!("  missing image: {}: {}", Printable(&m.article), Printable(&m.url)),
        }
    }
    for c in &r.files.conflicts {
        println!("  conflict: {c} changed since the last import; left as it is (--force overwrites)");
    }
    for c in &r.files.removed {
        println!("  removed: {c} was deleted or moved since the last import; not brought back (--force writes it again)");
    }
    for w in &r.warnings {
        println!("  warning: {}", Printable(w));
    }
    println!("  in {:.2} s", r.seconds);
    Ok(())
}

fn print_report(report: &BuildReport, quiet: bool, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(report).expect("report serializes"));
        return;
    }
    for w in report.warning_lines() {
        eprintln!("warning: {}", Printable(&w));
    }
    for s in &report.sites {
        // A shard publishes nothing: its one line is below.
        if report.shard.is_some() {
            continue;
        }
        if !quiet && !s.future.is_empty() {
            let n = s.future.len();
            println!(
                "{}: {n} article{} dated after now left out (--future publishes {}; --json lists {})",
                s.site,
                if n == 1 { "" } else { "s" },
                if n == 1 { "it" } else { "them" },
                if n == 1 { "it" } else { "them" }
            );
        }
        if !quiet {
            let time: f64 = s.timings_ms.values().sum();
            println!(
                "{}: {} pages ({} rendered, {} unchanged), {} files written, {} removed in {:.0} ms",
                s.site, s.pages, s.pages_rendered, s.pages_unchanged, s.files_written, s.files_removed, time
            );
        }
    }
    if let Some(w) = report.remote.as_ref().and_then(|r| r.warning.as_ref()) {
        eprintln!("warning: {}", Printable(w));
    }
    if let (Some(shard), false) = (report.shard, quiet) {
        let sum = |f: fn(&build::ImageReport) -> usize| report.sites.iter().map(|s| f(&s.images)).sum::<usize>();
        let uploaded = report.remote.as_ref().map_or(0, |r| r.bytes_uploaded);
        println!(
            "shard {}/{}: {} variants in the shard, {} encoded, {} already in the store, {uploaded} bytes uploaded; nothing published",
            shard.index,
            shard.total,
            sum(|i| i.in_shard),
            sum(|i| i.encoded),
            sum(|i| i.in_store)
        );
    } else if !quiet {
        println!("built {} site{} in {:.0} ms", report.sites.len(), if report.sites.len() == 1 { "" } else { "s" }, report.total_ms);
    }
}
