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
        let bad = |why: &str| anyhow::anyhow!("cache remote `{url}`: {why}");
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            // Not echoed: the URL holds a secret.
            anyhow::bail!(
                "the cache remote URL holds credentials, which do not belong there: set them in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or GEN_WEBDAV_USERNAME and GEN_WEBDAV_PASSWORD)"
            );
        }
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
                if parsed.host_str().is_some_and(|h| !h.is_empty()) || path.is_empty() {
                    return Err(bad("a shared folder is file:///absolute/path"));
                }
                // Written aside, then renamed: a reader never sees half an object.
                let b = opendal::services::Fs::default().root(path).atomic_write_dir(&format!("{path}/.tmp"));
                Operator::new(b)?
            }
            other => return Err(bad(&format!("unknown scheme `{other}`: use s3://, webdav://, webdav+http:// or file://"))),
        };
        // A few quick retries, then the caller falls back to encoding.
        let op = op
            .layer(
                RetryLayer::new()
                    .with_max_times(3)
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_delay(Duration::from_secs(2))
                    .with_jitter(),
            )
            .layer(TimeoutLayer::new().with_timeout(Duration::from_secs(60)).with_io_timeout(Duration::from_secs(20)));
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

    /// [`Remote::get`] of many keys, [`CONCURRENCY`] requests in flight: one
    /// request per core is slow against a store a few milliseconds away.
    pub fn get_many(&self, keys: &[Hash]) -> Vec<(Hash, Got)> {
        self.rt.block_on(async {
            let mut running = tokio::task::JoinSet::new();
            let mut out = Vec::with_capacity(keys.len());
            let mut next = keys.iter();
            loop {
                while running.len() < CONCURRENCY {
                    let Some(&key) = next.next() else { break };
                    let op = self.op.clone();
                    running.spawn(async move { (key, op.read(&Self::object(&key)).await) });
                }
                match running.join_next().await {
                    Some(Ok((key, read))) => out.push((key, Self::checked(read))),
                    Some(Err(e)) => out.push(([0; 32], Err(Failure::Store(e.to_string())))),
                    None => return out,
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
        let e = Remote::open("s3://KEY:s3kr1t@bucket/x").unwrap_err().to_string();
        assert!(e.contains("holds credentials") && !e.contains("s3kr1t"), "{e}");
        assert!(Remote::open("ftp://host/x").unwrap_err().to_string().contains("unknown scheme `ftp`"));
        assert!(Remote::open("file://host/x").unwrap_err().to_string().contains("file:///absolute/path"));
        assert!(Remote::open("s3:///x").unwrap_err().to_string().contains("name the bucket"));
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
