//! A remote store behind the variant cache (`[cache] remote`,
//! `--cache-remote`), through Apache OpenDAL: `s3://bucket/prefix` (AWS or
//! any S3-compatible store), `webdav://host/path` (`webdav+http://` without
//! TLS) and `file:///path` (a shared disk).
//!
//! Credentials come only from the environment (the standard `AWS_*`
//! variables; `GEN_WEBDAV_USERNAME`, `GEN_WEBDAV_PASSWORD` or
//! `GEN_WEBDAV_TOKEN`): a URL with credentials in it is refused, so nothing
//! gen prints or saves can hold them. Objects are laid out as the local
//! cache is (`variants/<aa>/<bb>/<key>`, the bytes followed by their blake3),
//! so what is read back is checked before it is used.

use std::time::Duration;

use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::{ErrorKind, Operator};

use crate::discover::{self, Hash};

/// Requests in flight at once when many objects are read.
const CONCURRENCY: usize = 32;

/// An opened remote store.
pub struct Remote {
    op: Operator,
    rt: tokio::runtime::Runtime,
    /// The URL as configured, for messages (it holds no credentials).
    pub url: String,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish()
    }
}

impl Remote {
    /// Opens the store at `url` (nothing is contacted yet).
    pub fn open(url: &str) -> anyhow::Result<Remote> {
        // Refused before anything else, and never echoed: with an `@` the
        // URL may hold a secret, which can even break its parsing (a `/` in
        // it ends the host), so no message may show it.
        if url.contains('@') {
            anyhow::bail!(
                "the cache remote URL holds `@`, as credentials would: they do not belong there; set them in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or GEN_WEBDAV_USERNAME and GEN_WEBDAV_PASSWORD)"
            );
        }
        let bad = |why: &str| anyhow::anyhow!("cache remote `{url}`: {why}");
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("a query or fragment means nothing here"));
        }
        let path = parsed.path().trim_end_matches('/');
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        opendal::install_default();
        let op = match parsed.scheme() {
            "s3" => {
                let bucket = parsed.host_str().filter(|b| !b.is_empty()).ok_or_else(|| bad("name the bucket: s3://bucket/prefix"))?;
                let mut b = opendal::services::S3::default().bucket(bucket).root(&format!("{path}/"));
                // The AWS SDKs' variables: an S3-compatible store (R2,
                // MinIO, Ceph, SeaweedFS) is an endpoint.
                if let Some(endpoint) = env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")) {
                    b = b.endpoint(&endpoint);
                }
                b = b.region(&env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into()));
                Operator::new(b)?
            }
            "webdav" | "webdav+http" => {
                let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("name the host: webdav://host/path"))?;
                let scheme = if parsed.scheme() == "webdav" { "https" } else { "http" };
                let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
                let mut b = opendal::services::Webdav::default().endpoint(&format!("{scheme}://{host}{port}")).root(&format!("{path}/"));
                if let Some(u) = env("GEN_WEBDAV_USERNAME") {
                    b = b.username(&u);
                }
                if let Some(p) = env("GEN_WEBDAV_PASSWORD") {
                    b = b.password(&p);
                }
                if let Some(t) = env("GEN_WEBDAV_TOKEN") {
                    b = b.token(&t);
                }
                Operator::new(b)?
            }
            "file" => {
                let folder = parsed
                    .to_file_path()
                    .ok()
                    .filter(|_| !path.is_empty())
                    .ok_or_else(|| bad("a shared folder is file:///absolute/path"))?;
                let folder = folder.to_str().ok_or_else(|| bad("the folder's name is not UTF-8"))?.trim_end_matches('/');
                // Written aside, then renamed: a reader never sees half an object.
                let b = opendal::services::Fs::default().root(folder).atomic_write_dir(&format!("{folder}/.tmp"));
                Operator::new(b)?
            }
            other => return Err(bad(&format!("unknown scheme `{other}`: use s3://, webdav://, webdav+http:// or file://"))),
        };
        // Each attempt has a timeout (inside), a few quick retries around
        // them, then the caller goes on without the store.
        let op = op.layer(TimeoutLayer::new().with_timeout(Duration::from_secs(60)).with_io_timeout(Duration::from_secs(20))).layer(
            RetryLayer::new()
                .with_max_times(3)
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(2))
                .with_jitter(),
        );
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        Ok(Remote { op, rt, url: url.to_string() })
    }

    fn object(key: &Hash) -> String {
        let hex = discover::hex(key);
        format!("variants/{}/{}/{hex}", &hex[..2], &hex[2..4])
    }

    /// The object under `key`: `Ok(None)` when there is none, and
    /// `Err(Corrupt)` when it does not match the hash stored with it.
    pub fn get(&self, key: &Hash) -> Got {
        Self::checked(self.rt.block_on(self.op.read(&Self::object(key))))
    }

    /// [`Remote::get`] of many keys, each result handed to `each` as it
    /// arrives (nothing is held), [`CONCURRENCY`] requests in flight: one
    /// request per core is slow against a store a few milliseconds away.
    /// Stops at the first store failure.
    pub fn get_many(&self, keys: &[Hash], mut each: impl FnMut(Hash, Got)) {
        self.many(
            keys,
            |op, path| async move { op.read(&path).await },
            |key, read| {
                let got = Self::checked(read);
                let go_on = !matches!(got, Err(Failure::Store(_)));
                each(key, got);
                go_on
            },
        );
    }

    /// [`Remote::has`] of many keys, as [`Remote::get_many`].
    pub fn has_many(&self, keys: &[Hash], mut each: impl FnMut(Hash, Result<bool, String>)) {
        self.many(
            keys,
            |op, path| async move { op.exists(&path).await },
            |key, found| {
                let found = found.map_err(|e| why(&e));
                let go_on = found.is_ok();
                each(key, found);
                go_on
            },
        );
    }

    /// Runs `start` on the object of every key, [`CONCURRENCY`] at once,
    /// handing each result to `done` until it returns false.
    fn many<T, F, Fut>(&self, keys: &[Hash], start: F, mut done: impl FnMut(Hash, opendal::Result<T>) -> bool)
    where
        T: Send + 'static,
        F: Fn(Operator, String) -> Fut,
        Fut: std::future::Future<Output = opendal::Result<T>> + Send + 'static,
    {
        self.rt.block_on(async {
            let mut running = tokio::task::JoinSet::new();
            let mut next = keys.iter();
            loop {
                while running.len() < CONCURRENCY {
                    let Some(&key) = next.next() else { break };
                    let request = start(self.op.clone(), Self::object(&key));
                    running.spawn(async move { (key, request.await) });
                }
                let Some(joined) = running.join_next().await else { return };
                // A request task does not panic; if one did, its key is
                // simply not fetched ahead.
                if let Ok((key, result)) = joined
                    && !done(key, result)
                {
                    // Dropping the set cancels what is still running.
                    return;
                }
            }
        })
    }

    /// A read's bytes without the hash stored after them, once they match it.
    fn checked(read: opendal::Result<opendal::Buffer>) -> Got {
        let mut bytes = match read {
            Ok(b) => b.to_vec(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Failure::Store(why(&e))),
        };
        if bytes.len() < 32 {
            return Err(Failure::Corrupt);
        }
        let body = bytes.len() - 32;
        if discover::hash_bytes(&bytes[..body])[..] != bytes[body..] {
            return Err(Failure::Corrupt);
        }
        bytes.truncate(body);
        Ok(Some(bytes))
    }

    /// Stores `bytes` under `key` (replacing whatever is there).
    pub fn put(&self, key: &Hash, bytes: &[u8]) -> Result<(), String> {
        let mut body = Vec::with_capacity(bytes.len() + 32);
        body.extend_from_slice(bytes);
        body.extend_from_slice(&discover::hash_bytes(bytes));
        self.rt.block_on(self.op.write(&Self::object(key), body)).map(|_| ()).map_err(|e| why(&e))
    }

    /// Whether an object is stored under `key` (not read: a damaged one is
    /// found, re-encoded and replaced by the build that reads it).
    pub fn has(&self, key: &Hash) -> Result<bool, String> {
        self.rt.block_on(self.op.exists(&Self::object(key))).map_err(|e| why(&e))
    }
}

/// An error in one line: what the store said and OpenDAL's kind of it
/// (its full form holds every request header).
fn why(e: &opendal::Error) -> String {
    match e.message() {
        "" => e.kind().to_string(),
        m => format!("{}: {m}", e.kind()),
    }
}

/// What a read gave: the bytes, nothing stored, or why not.
pub type Got = Result<Option<Vec<u8>>, Failure>;

/// Why the remote store did not give a variant.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// The object's bytes do not match its hash (truncated, altered).
    Corrupt,
    /// The store did not answer as it should, after retries.
    Store(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_credentials_or_unknown_schemes_are_refused() {
        // A `/` in the secret ends the host: the URL does not even parse.
        for url in ["s3://KEY:s3kr1t@bucket/x", "s3://KEY:s3/kr1t@bucket/x", "webdav://gen:s3kr1t@host/x", "s3://1234:5678/kr1t@b/x"] {
            let e = Remote::open(url).unwrap_err().to_string();
            assert!(e.contains("do not belong there") && !e.contains("kr1t") && !e.contains("5678"), "{e}");
        }
        assert!(Remote::open("ftp://host/x").unwrap_err().to_string().contains("unknown scheme `ftp`"));
        assert!(Remote::open("file://host/x").unwrap_err().to_string().contains("file:///absolute/path"));
        assert!(Remote::open("s3:///x").unwrap_err().to_string().contains("name the bucket"));
    }

    #[test]
    fn a_shared_folder_with_a_space_in_its_name_is_that_folder() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("shared cache");
        let url = url::Url::from_directory_path(&folder).unwrap();
        assert!(url.as_str().contains("%20"));
        Remote::open(url.as_str()).unwrap().put(&[1; 32], b"x").unwrap();
        assert!(folder.join("variants").is_dir(), "written under the folder itself, not a percent-encoded name");
    }

    #[test]
    fn a_shared_folder_round_trips_and_finds_damage() {
        let dir = tempfile::tempdir().unwrap();
        let remote = Remote::open(&format!("file://{}", dir.path().display())).unwrap();
        let key = [9; 32];
        assert_eq!(remote.get(&key), Ok(None));
        assert_eq!(remote.has(&key), Ok(false));
        remote.put(&key, b"avif bytes").unwrap();
        assert_eq!(remote.has(&key), Ok(true));
        assert_eq!(remote.get(&key), Ok(Some(b"avif bytes".to_vec())));
        let path = dir.path().join(Remote::object(&key));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[1] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(remote.get(&key), Err(Failure::Corrupt));
        std::fs::write(&path, &bytes[..20]).unwrap();
        assert_eq!(remote.get(&key), Err(Failure::Corrupt));
    }
}
