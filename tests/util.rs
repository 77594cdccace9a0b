//! Test harness: a fixture copied into its own temp folder, the `gen` binary
//! run against it, and helpers that fail loudly with the command's output and
//! the folder listing.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::SystemTime;
use std::time::{Duration, Instant};

pub struct Repo {
    dir: tempfile::TempDir,
}

/// A snapshot of an output tree: path → (mtime, bytes).
pub type Snapshot = BTreeMap<String, (SystemTime, Vec<u8>)>;

impl Repo {
    /// Copies `tests/fixtures/<name>`; the repository's default theme is
    /// added when the fixture has no `themes/`.
    pub fn fixture(name: &str) -> Repo {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&src, dir.path());
        if !dir.path().join("themes").exists() {
            copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default"), &dir.path().join("themes/default"));
        }
        let r = Repo { dir };
        r.age();
        r
    }

    /// Dates every file and folder an hour back, as in a checkout made
    /// earlier: gen distrusts stamps from the last second (a file written in
    /// the same clock tick as a build reads it), so only files the test
    /// writes afterwards count as just changed.
    ///
    /// A preview build (`opts.memory`) returns before its state and search
    /// cache are saved: their temporary files may vanish under the walk, and
    /// are skipped.
    pub fn age(&self) {
        let then = SystemTime::now() - Duration::from_secs(3600);
        let vanished = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        for e in walkdir::WalkDir::new(self.root()).contents_first(true) {
            let e = match e {
                Ok(e) => e,
                Err(e) if e.io_error().is_some_and(vanished) => continue,
                Err(e) => panic!("{e}"),
            };
            match std::fs::File::open(e.path()) {
                Ok(f) => f.set_modified(then).unwrap(),
                Err(err) if vanished(&err) => continue,
                Err(err) => panic!("{}: {err}", e.path().display()),
            }
        }
    }

    /// The repository's own demo: sites.toml, content/, themes/ and assets/.
    pub fn demo() -> Repo {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("temp dir");
        for d in ["content", "themes", "assets"] {
            copy_dir(&src.join(d), &dir.path().join(d));
        }
        std::fs::copy(src.join("sites.toml"), dir.path().join("sites.toml")).unwrap();
        let r = Repo { dir };
        r.age();
        r
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command_at("1735689600", args).output().expect("run gen") // 2025-01-01
    }

    /// `gen ARGS` in the repository with the build clock at `epoch` (seconds).
    pub fn command_at(&self, epoch: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gen"));
        c.args(args).current_dir(self.root()).env("SOURCE_DATE_EPOCH", epoch);
        c
    }

    /// Runs `gen ARGS`, panics with everything useful unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        if !out.status.success() {
            panic!(
                "gen {args:?} failed in {}\n--- stdout\n{}\n--- stderr\n{}\n--- files\n{}",
                self.root().display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.listing().join("\n")
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `gen ARGS`, expects failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "gen {args:?} should have failed\n--- stdout\n{}\n--- stderr\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    pub fn build(&self) -> String {
        self.ok(&["build"])
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}\nfiles:\n{}", self.listing().join("\n")))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap();
    }

    /// Every file below the root, relative, sorted (the temp folder's listing).
    pub fn listing(&self) -> Vec<String> {
        files_under(self.root()).into_keys().collect()
    }

    /// Every file below `rel` with its mtime and bytes.
    pub fn snapshot(&self, rel: &str) -> Snapshot {
        files_under(&self.path(rel))
    }
}

pub fn files_under(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return out;
    }
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.insert(rel, (e.metadata().unwrap().modified().unwrap(), std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

pub fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let target = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Library build options for `r` as the preview builds: states kept in
/// memory, and the tests' clock (2025-01-01).
pub fn preview_options(r: &Repo) -> gensite::build::BuildOptions {
    let mut opts = gensite::build::BuildOptions::new(r.root());
    opts.now = chrono::DateTime::from_timestamp(1_735_689_600, 0).unwrap().fixed_offset();
    opts.memory = Some(Default::default());
    opts
}

/// The output of the builds so far, byte for byte the same as a clean build's.
pub fn assert_same_as_clean_build(r: &Repo) {
    r.ok(&["build", "--clean", "--output", "clean-out", "--cache", ".gen-clean"]);
    let inc: BTreeMap<String, Vec<u8>> = r.snapshot("public").into_iter().map(|(k, (_, b))| (k, b)).collect();
    let clean: BTreeMap<String, Vec<u8>> = r.snapshot("clean-out").into_iter().map(|(k, (_, b))| (k, b)).collect();
    let differ: Vec<String> = inc
        .iter()
        .filter(|(k, b)| clean.get(*k) != Some(*b))
        .map(|(k, _)| k.clone())
        .chain(clean.keys().filter(|k| !inc.contains_key(*k)).map(|k| format!("only in a clean build: {k}")))
        .collect();
    assert!(differ.is_empty(), "incremental output differs from a clean build: {differ:?}");
}

/// The paths whose bytes or mtime differ between two snapshots, plus added and removed ones.
pub fn changed(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out: Vec<String> = after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect();
    out.extend(before.keys().filter(|k| !after.contains_key(*k)).map(|k| format!("-{k}")));
    out.sort();
    out
}

/// Checks that `xml` is well-formed, returning the text of every `<tag>` element.
pub fn xml_texts(xml: &str, tag: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => current = (e.name().as_ref() == tag).then(String::new),
            Ok(Event::Text(t)) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t.xml10_content());
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some(c) = current.as_mut() {
                    let name = r.xml10_content().into_owned();
                    let resolved = match r.resolve_char_ref().unwrap() {
                        Some(ch) => ch.to_string(),
                        None => quick_xml::escape::unescape(&format!("&{name};")).unwrap().into_owned(),
                    };
                    c.push_str(&resolved);
                }
            }
            Ok(Event::End(_)) => {
                if let Some(c) = current.take() {
                    out.push(c);
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => panic!("invalid XML at {}: {e}\n{xml}", reader.buffer_position()),
            _ => {}
        }
    }
    out
}

/// The header of a PNG image of `width` × `height` (all an image-size reader
/// needs), followed by `salt` so tests can make distinct images.
pub fn png(width: u32, height: u32, salt: &str) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(salt.as_bytes());
    b
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What a raw HTTP/1.1 GET answered.
pub struct HttpResponse {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// `GET path` on 127.0.0.1:`port` with the given Host header (no client
/// library: the tests see exactly the bytes the server sends).
pub fn http_get(port: u16, host: &str, path: &str) -> HttpResponse {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    HttpResponse {
        status: head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0),
        location: head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("location").then(|| value.trim().to_string())
        }),
        body: body.to_string(),
    }
}

/// `gen serve --watch` on a free port, killed when dropped.
pub struct Serve {
    child: Child,
    pub port: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub fn serve(r: &Repo) -> Serve {
    serve_to(r, Stdio::null())
}

/// `gen serve --watch`, its messages (stderr) written to `log`.
pub fn serve_logged(r: &Repo, log: &Path) -> Serve {
    serve_to(r, std::fs::File::create(log).unwrap().into())
}

fn serve_to(r: &Repo, stderr: Stdio) -> Serve {
    let port = free_port();
    let child = r
        .command_at("1735689600", &["serve", "--watch", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let s = Serve { child, port };
    wait_for(|| TcpStream::connect(("127.0.0.1", port)).is_ok(), "the server to listen");
    s
}

pub fn wait_for(mut ok: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `node tests/browser/NAME ARGS…`: a headless-Chromium driver script.
pub fn browser_script(name: &str, args: &[&str]) -> Command {
    let mut c = Command::new("node");
    c.arg("--experimental-websocket").arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(name)).args(args);
    c
}

/// Runs xmllint on `file`: well-formed, and valid against
/// `tests/schemas/SCHEMA` when given. Panics with its messages otherwise.
pub fn xmllint(schema: Option<&str>, file: &Path) {
    let mut c = Command::new("xmllint");
    c.arg("--noout");
    if let Some(s) = schema {
        c.arg("--schema").arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas").join(s));
    }
    let out = c.arg(file).output().expect("xmllint runs (package libxml2-utils; .ci/run installs it)");
    assert!(
        out.status.success(),
        "{} is not valid{}:\n{}\n{}",
        file.display(),
        schema.map(|s| format!(" against {s}")).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}
