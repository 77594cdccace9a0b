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
//! Each traced call is made again on the same path, following links or not
//! as it did; a stat of an open file (`AT_EMPTY_PATH`) looks up no path and
//! is left out. Prints the number of calls and the fastest of RUNS (default
//! 3) timings in seconds. Std only, so it builds with `rustc` alone (run by
//! `run.sh`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// A traced call: its path, and whether it followed a final link.
type Call = (PathBuf, bool);

/// The calls of a trace. With `-f`, a call another thread interrupted is
/// written in two lines, `<unfinished ...>` and `<... resumed>` (the latter
/// with the flags of `newfstatat`), matched by the thread's id.
fn calls(trace: &str) -> Vec<Call> {
    let mut out = Vec::new();
    let mut pending: HashMap<&str, (PathBuf, &str)> = HashMap::new();
    for line in trace.lines() {
        let pid = line.split(' ').next().unwrap_or("");
        let (path, text) = if line.contains(" resumed>") {
            match pending.remove(pid) {
                Some((path, first)) => (Some(path), [first, line].concat()),
                None => (None, String::new()),
            }
        } else {
            match traced_path(line) {
                Some(path) if line.ends_with("<unfinished ...>") => {
                    pending.insert(pid, (path, line));
                    continue;
                }
                path => (path, line.to_string()),
            }
        };
        if let Some(path) = path.filter(|_| !text.contains("AT_EMPTY_PATH")) {
            out.push((path, !text.contains("AT_SYMLINK_NOFOLLOW")));
        }
    }
    out
}

/// The path a traced `newfstatat`/`statx` line stats: `AT_FDCWD` or
/// `N</folder>` (strace's `-y`), then the quoted path. `None` for other lines.
fn traced_path(line: &str) -> Option<PathBuf> {
    let call = ["newfstatat(", "statx("].iter().find_map(|c| line.find(c).map(|at| &line[at + c.len()..]))?;
    let (dir, rest) = call.split_once(", \"")?;
    let rel = unquote(rest, b'"')?;
    let base = match dir.find('<') {
        Some(at) => unquote(&dir[at + 1..], b'>')?,
        None => PathBuf::new(),
    };
    Some(if rel.as_os_str().is_empty() { base } else { base.join(rel) })
}

/// The text before `end`, with strace's escapes undone: `\ooo` octal bytes
/// (one to three digits; Korean names are written so) and C's letters.
fn unquote(s: &str, end: u8) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt as _;
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && b[i] != end {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let digits = b[i + 1..].iter().take(3).take_while(|c| (b'0'..=b'7').contains(c)).count();
        if digits > 0 {
            out.push(b[i + 1..i + 1 + digits].iter().fold(0u8, |n, c| n.wrapping_mul(8) + (c - b'0')));
            i += 1 + digits;
            continue;
        }
        let c = *b.get(i + 1)?;
        out.push(match c {
            b't' => b'\t',
            b'n' => b'\n',
            b'v' => 0x0b,
            b'f' => 0x0c,
            b'r' => b'\r',
            other => other,
        });
        i += 2;
    }
    (i < b.len()).then(|| PathBuf::from(std::ffi::OsString::from_vec(out)))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let trace = args.next().expect("usage: stat_floor TRACE [RUNS]");
    let runs: usize = args.next().map_or(3, |r| r.parse().expect("RUNS is a number"));
    let text = std::fs::read_to_string(&trace).expect("cannot read the trace");
    let calls = calls(&text);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        std::thread::scope(|s| {
            for k in 0..threads {
                let calls = &calls;
                s.spawn(move || {
                    let stat = |(p, follow): &Call| if *follow { std::fs::metadata(p) } else { std::fs::symlink_metadata(p) };
                    calls.iter().skip(k).step_by(threads).filter(|c| stat(c).is_ok()).count()
                });
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{} {:.3}", calls.len(), best);
}

#[cfg(test)]
mod tests {
    #[test]
    fn traced_calls_are_read_with_their_folders_escapes_and_flags() {
        use std::path::PathBuf;
        let trace = concat!(
            "7 newfstatat(5</tmp/out/site00>, \"tags/\\355\\225\\234/index.html\", {st_mode=S_IFREG|0644, ...}, 0) = 0\n",
            "7 newfstatat(6</tmp/c>, \"a\\tb>c\",  <unfinished ...>\n",
            "8 statx(AT_FDCWD</tmp>, \"/tmp/x\\33y\", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, STATX_ALL, {stx_mask=0}) = 0\n",
            "7 <... newfstatat resumed>{st_mode=S_IFDIR|0755, ...}, AT_SYMLINK_NOFOLLOW) = 0\n",
            "8 newfstatat(3</etc/ld.so.cache>, \"\", {st_mode=S_IFREG|0644, ...}, AT_EMPTY_PATH) = 0\n",
            "8 openat(AT_FDCWD</tmp>, \"/tmp/y\", O_RDONLY) = 3\n",
        );
        assert_eq!(
            super::calls(trace),
            vec![
                (PathBuf::from("/tmp/out/site00/tags/한/index.html"), true),
                (PathBuf::from("/tmp/x\x1by"), false),
                (PathBuf::from("/tmp/c/a\tb>c"), false),
            ]
        );
    }
}
