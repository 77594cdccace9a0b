//! Runs one command, prints errors with their chain, sets the exit code.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use gensite::build::{self, BuildOptions, BuildReport};
use indicatif::{ProgressBar, ProgressStyle};

use cli::{BuildArgs, Cli, Command, NewCommand, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => run_build(&cli.root, args),
        Command::Serve(args) => run_serve(&cli.root, args),
        Command::New(NewCommand::Site { name }) => gensite::new::site(&cli.root, &name).map(|p| println!("created {}", p.display())),
        Command::New(NewCommand::Article { path }) => {
            gensite::new::article(&cli.root, &path, build::now()).map(|p| println!("created {}", p.display()))
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
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn run_build(root: &std::path::Path, args: BuildArgs) -> anyhow::Result<()> {
    let mut opts = BuildOptions::new(root);
    opts.sites = args.select.sites;
    opts.drafts = args.select.drafts;
    opts.future = args.select.future;
    opts.minify = !args.no_minify;
    opts.output = args.output;
    opts.cache_dir = Some(args.cache);
    opts.clean = args.clean;
    let bar = (!args.quiet && !args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::hidden();
        bar.set_style(ProgressStyle::with_template("{spinner} rendering {pos}/{len} {wide_bar} {eta}").expect("valid template"));
        bar
    });
    if let Some(bar) = &bar {
        let bar = bar.clone();
        opts.progress = Some(Arc::new(move |done, total| {
            // Small builds finish before a bar is worth drawing.
            if total >= 500 && bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }));
    }
    let report = build::build(&opts)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    print_report(&report, args.quiet, args.json);
    Ok(())
}

fn run_serve(root: &std::path::Path, args: ServeArgs) -> anyhow::Result<()> {
    let mut build = BuildOptions::new(root);
    build.sites = args.select.sites;
    build.drafts = args.select.drafts;
    build.future = args.select.future;
    build.cache_dir = Some(args.cache);
    gensite::serve::serve(gensite::serve::ServeOptions { build, bind: args.bind, port: args.port, watch: args.watch })
}

fn print_report(report: &BuildReport, quiet: bool, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(report).expect("report serializes"));
        return;
    }
    for s in &report.sites {
        for w in &s.warnings {
            eprintln!("warning: {}: {w}", s.site);
        }
        if !quiet {
            let time: f64 = s.timings_ms.values().sum();
            println!(
                "{}: {} pages ({} rendered, {} unchanged), {} files written, {} removed in {:.0} ms",
                s.site, s.pages, s.pages_rendered, s.pages_unchanged, s.files_written, s.files_removed, time
            );
        }
    }
    if !quiet {
        println!("built {} site{} in {:.0} ms", report.sites.len(), if report.sites.len() == 1 { "" } else { "s" }, report.total_ms);
    }
}
