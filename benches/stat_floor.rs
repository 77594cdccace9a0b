//! The floor under a no-op build: the same `stat` calls a build made, alone,
//! on as many threads as there are cores, with nothing else around them.
//!
//! A no-op build checks every source, image and published file by its stamp
//! (so that an edit in place or a damaged output is caught), and on a small
//! machine those system calls are most of its time. This prints how long
//! they take by themselves, so the no-op can be read against them.
//!
//!     strace -f -y -qq -e trace=newfstatat,statx -o TRACE gen build --quiet
//!     rustc -O benches/stat_floor.rs -o target/stat_floor
//!     target/stat_floor TRACE [RUNS]
//!
//! Prints the number of calls and the fastest of RUNS (default 3) timings in
//! seconds. Std only, so it builds with `rustc` alone (run by `run.sh`).

use std::path::PathBuf;
use std::time::Instant;

/// The path a traced `newfstatat`/`statx` line stats: `AT_FDCWD` or
/// `N</folder>` (strace's `-y`), then the quoted path. `None` for other lines.
fn traced_path(line: &str) -> Option<PathBuf> {
    let call = ["newfstatat(", "statx("].iter().find_map(|c| line.find(c).map(|at| &line[at + c.len()..]))?;
    let (dir, rest) = call.split_once(", \"")?;
    let rel = unquote(rest)?;
    let base = match dir {
        "AT_FDCWD" => PathBuf::new(),
        fd => unquote(&fd[fd.find('<')? + 1..])?,
    };
    Some(if rel.as_os_str().is_empty() { base } else { base.join(rel) })
}

/// The text before the closing `"` or `>`, with strace's escapes (`\ooo`
/// octal bytes: Korean names are written so) undone.
fn unquote(s: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt as _;
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && b[i] != b'"' && b[i] != b'>' {
        if b[i] == b'\\' {
            let octal = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
            match octal {
                Some(d) => {
                    out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8) + (c - b'0')));
                    i += 4;
                }
                None => {
                    out.push(*b.get(i + 1)?);
                    i += 2;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    (i < b.len()).then(|| PathBuf::from(std::ffi::OsString::from_vec(out)))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let trace = args.next().expect("usage: stat_floor TRACE [RUNS]");
    let runs: usize = args.next().map_or(3, |r| r.parse().expect("RUNS is a number"));
    let text = std::fs::read_to_string(&trace).expect("cannot read the trace");
    let paths: Vec<PathBuf> = text.lines().filter_map(traced_path).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        std::thread::scope(|s| {
            for k in 0..threads {
                let paths = &paths;
                // `metadata` follows links, as the build's own stats do.
                s.spawn(move || paths.iter().skip(k).step_by(threads).filter(|p| std::fs::metadata(p).is_ok()).count());
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{} {:.3}", paths.len(), best);
}
