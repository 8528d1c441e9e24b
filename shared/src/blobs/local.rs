//! The local blob store: HMAC-signed URLs ([`super::signing`]) over bytes that live in a folder
//! ([`super::fs::Folder`], `BLOBS=local`) or in memory ([`super::memory::Memory`], `BLOBS=memory`,
//! what `local serve --memory` uses so that nothing touches the disk). One signer and one URL
//! server ([`crate::http::blob_urls`]) for both: only [`BlobBytes`] differs.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    Blob, BlobMeta, BlobResult, BlobStore, SignedUpload, fs::Folder, memory::Memory,
    signing::UrlSigner,
};

/// Where the bytes of a local blob store live. Keys reaching these methods have been checked
/// with [`BlobBytes::check_key`].
#[async_trait]
pub trait BlobBytes: Send + Sync + 'static {
    /// [`super::validate_key`] plus the backend's own limits.
    fn check_key(&self, key: &str) -> BlobResult<()>;
    /// Stores a blob, replacing any previous one; with `only_new`, fails with
    /// [`BlobError::AlreadyExists`] (atomically) when the key is taken. Returns its metadata.
    async fn write(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        only_new: bool,
    ) -> BlobResult<BlobMeta>;
    async fn read(&self, key: &str) -> BlobResult<Blob>;
    async fn head(&self, key: &str) -> BlobResult<Option<BlobMeta>>;
    async fn read_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes>;
    async fn delete(&self, key: &str) -> BlobResult<()>;
    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobMeta>>;
    /// `"local"` (a folder) or `"memory"`.
    fn name(&self) -> &'static str;
    /// The folder the bytes are in, if they are in one.
    fn root(&self) -> Option<&Path> {
        None
    }
}

/// Called with the metadata of each blob stored through a signed upload URL; the upload's
/// response waits for the returned future.
pub type UploadHook = Arc<
    dyn Fn(BlobMeta) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// The entity tag of a local blob: a hash of its body, quoted like S3's.
pub(crate) fn etag_of(body: &[u8]) -> String {
    format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(body))
}

/// Local blobs with signed URLs; cheap to clone (clones share the bytes).
#[derive(Clone)]
pub struct LocalBlobs {
    bytes: Arc<dyn BlobBytes>,
    signer: UrlSigner,
    /// The local counterpart of S3's object-created notifications (see [`LocalBlobs::on_upload`]).
    on_upload: Option<UploadHook>,
}

impl std::fmt::Debug for LocalBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBlobs")
            .field("bytes", &self.bytes.name())
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl LocalBlobs {
    /// Blobs as files under `root` (created if needed). `base_url` is the public prefix of
    /// signed URLs (where [`crate::http::blob_urls::router`] is mounted), e.g.
    /// `http://127.0.0.1:3000/blobs`.
    pub fn on_disk(root: PathBuf, base_url: String, signing_secret: &[u8]) -> BlobResult<Self> {
        let signer = UrlSigner::new(base_url, signing_secret)?;
        Ok(Self::with_bytes(Arc::new(Folder::new(root)?), signer))
    }

    /// Blobs in memory only (gone when the last clone is dropped); never touches the disk.
    pub fn in_memory(base_url: String, signing_secret: &[u8]) -> BlobResult<Self> {
        let signer = UrlSigner::new(base_url, signing_secret)?;
        Ok(Self::with_bytes(Arc::new(Memory::default()), signer))
    }

    fn with_bytes(bytes: Arc<dyn BlobBytes>, signer: UrlSigner) -> Self {
        Self {
            bytes,
            signer,
            on_upload: None,
        }
    }

    /// Calls `hook` after each successful upload through a signed PUT URL, as S3 sends an
    /// object-created event (the local server verifies uploaded videos with it). The upload's
    /// response is sent once the hook's future has finished.
    pub fn on_upload(mut self, hook: UploadHook) -> Self {
        self.on_upload = Some(hook);
        self
    }

    /// The hook set by [`LocalBlobs::on_upload`].
    pub fn upload_hook(&self) -> Option<&UploadHook> {
        self.on_upload.as_ref()
    }

    /// The signer of this store's URLs.
    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// The folder blobs are stored under (`None` in memory).
    pub fn root(&self) -> Option<&Path> {
        self.bytes.root()
    }

    /// Checks a key against [`super::validate_key`] and the backend's own limits.
    pub fn check_key(&self, key: &str) -> BlobResult<()> {
        self.bytes.check_key(key)
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()> {
        self.bytes.check_key(key)?;
        super::signing::validate_content_type(content_type)?;
        self.bytes.write(key, body, content_type, false).await?;
        Ok(())
    }

    async fn put_new(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<BlobMeta> {
        self.bytes.check_key(key)?;
        super::signing::validate_content_type(content_type)?;
        self.bytes.write(key, body, content_type, true).await
    }

    async fn get(&self, key: &str) -> BlobResult<Blob> {
        self.bytes.check_key(key)?;
        self.bytes.read(key).await
    }

    async fn head(&self, key: &str) -> BlobResult<Option<BlobMeta>> {
        self.bytes.check_key(key)?;
        self.bytes.head(key).await
    }

    async fn read_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes> {
        self.bytes.check_key(key)?;
        self.bytes.read_prefix(key, len).await
    }

    async fn delete(&self, key: &str) -> BlobResult<()> {
        self.bytes.check_key(key)?;
        self.bytes.delete(key).await
    }

    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobMeta>> {
        self.bytes.list(prefix).await
    }

    async fn signed_get_url(&self, key: &str, expires_in: Duration) -> BlobResult<String> {
        self.bytes.check_key(key)?;
        self.signer.get_url(key, expires_in)
    }

    /// The URL works once: the server refuses a PUT to a key that exists (412), like S3 with the
    /// `If-None-Match: *` the S3 store signs into its URLs. The rule is the server's, so the
    /// header is not asked for here (a browser would need it allowed by the local CORS layer).
    async fn signed_put_url(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        expires_in: Duration,
    ) -> BlobResult<SignedUpload> {
        self.bytes.check_key(key)?;
        let (url, expires_at) = self
            .signer
            .put_url(key, content_type, max_size, expires_in)?;
        Ok(SignedUpload {
            method: "PUT".into(),
            url,
            headers: vec![("content-type".into(), content_type.to_string())],
            max_size,
            expires_at,
        })
    }

    fn backend_name(&self) -> &'static str {
        self.bytes.name()
    }

    fn local(&self) -> Option<LocalBlobs> {
        Some(self.clone())
    }
}
