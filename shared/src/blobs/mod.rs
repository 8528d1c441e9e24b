//! Blob storage: videos, banners, model artifacts.
//!
//! [`BlobStore`] has two implementations sharing one contract suite: [`s3::S3Blobs`] and
//! [`local::LocalBlobs`], whose bytes live in a folder ([`fs`], `DATA_DIR/blobs`) or in memory
//! ([`memory`]), with HMAC-signed URLs ([`signing`]) served by the local server through
//! [`crate::http::blob_urls`].
//!
//! Signed URLs let clients move large bodies (videos up to 50 MB) straight to and from the blob
//! store, since Lambda request bodies are capped near 6 MB. An upload URL works once: it writes
//! only a key that does not exist yet (S3: `If-None-Match: *` signed into the URL; local: the
//! URL server refuses with 412), so a leaked or replayed URL cannot replace a verified file.

pub mod fs;
pub mod local;
pub mod memory;
pub mod s3;
pub mod signing;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use thiserror::Error;

/// Metadata of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: String,
    pub size: u64,
    pub content_type: String,
    /// RFC 3339 time of the last write, when the backend knows it.
    pub last_modified: Option<String>,
    /// Entity tag of this version of the blob (S3's `ETag`, a body hash locally), when known:
    /// a different tag means different bytes.
    pub etag: Option<String>,
}

/// A blob's body with its metadata.
#[derive(Debug, Clone)]
pub struct Blob {
    pub meta: BlobMeta,
    pub body: Bytes,
}

/// A time-limited upload URL and what the client must send with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUpload {
    /// Always `PUT`.
    pub method: String,
    pub url: String,
    /// Headers the client must send unchanged (e.g. `content-type`).
    pub headers: Vec<(String, String)>,
    /// Largest body the store accepts for this upload.
    pub max_size: u64,
    /// Epoch seconds after which the URL is refused.
    pub expires_at: i64,
}

#[derive(Debug, Error)]
pub enum BlobError {
    #[error("blob not found")]
    NotFound,
    #[error("invalid blob request: {0}")]
    Invalid(String),
    #[error("blob too large")]
    TooLarge,
    /// A write that must not replace anything found the key taken.
    #[error("blob already exists")]
    AlreadyExists,
    #[error("blob backend: {0}")]
    Backend(String),
}

pub type BlobResult<T> = Result<T, BlobError>;

/// Blob keys: non-empty, at most 1024 bytes, no leading `/`, no `..` segment, no backslash or
/// control characters. Both implementations reject others with [`BlobError::Invalid`].
pub fn validate_key(key: &str) -> BlobResult<()> {
    let bad = key.is_empty()
        || key.len() > 1024
        || key.starts_with('/')
        || key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        || key.chars().any(|c| c == '\\' || c.is_control());
    if bad {
        Err(BlobError::Invalid(format!("bad blob key {key:?}")))
    } else {
        Ok(())
    }
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Writes (or replaces) a blob.
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()>;
    /// Writes a blob only if the key is free, atomically ([`BlobError::AlreadyExists`] when it
    /// is taken); returns the new blob's metadata (its `etag` when the backend reports one).
    async fn put_new(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<BlobMeta>;
    /// Reads a blob; [`BlobError::NotFound`] when absent.
    async fn get(&self, key: &str) -> BlobResult<Blob>;
    /// Metadata, or `None` when absent.
    async fn head(&self, key: &str) -> BlobResult<Option<BlobMeta>>;
    /// The first `len` bytes of a blob (all of it when shorter); [`BlobError::NotFound`] when
    /// absent. For sniffing a file type without reading a 50 MB video.
    async fn read_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes>;
    /// Deletes a blob; deleting an absent blob succeeds.
    async fn delete(&self, key: &str) -> BlobResult<()>;
    /// Every blob whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobMeta>>;
    /// A URL that lets anyone GET the blob until `expires_in` has passed.
    async fn signed_get_url(&self, key: &str, expires_in: Duration) -> BlobResult<String>;
    /// A URL that lets anyone PUT a body of `content_type` and at most `max_size` bytes at `key`
    /// until `expires_in` has passed, once: the write fails when `key` exists (the client must
    /// send the returned headers, which include `if-none-match: *`).
    async fn signed_put_url(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        expires_in: Duration,
    ) -> BlobResult<SignedUpload>;
    /// Short name of the backend (`"s3"`, `"local"`, `"memory"`).
    fn backend_name(&self) -> &'static str;
    /// The local store behind this one, whose signed URLs the local server must serve; `None`
    /// for S3. Decorators (test kits) forward it.
    fn local(&self) -> Option<local::LocalBlobs> {
        None
    }
}
