//! Blob bytes in memory (`BLOBS=memory`, chosen by `local serve --memory`), for
//! [`super::local::LocalBlobs`]: nothing touches the disk, everything is gone at exit.

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard},
};

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    Blob, BlobError, BlobMeta, BlobResult,
    local::{BlobBytes, etag_of},
    validate_key,
};

/// Blobs by key, in key order (for `list`). The lock is never held across an `await`.
#[derive(Debug, Default)]
pub struct Memory {
    blobs: Mutex<BTreeMap<String, Blob>>,
}

impl Memory {
    fn lock(&self) -> BlobResult<MutexGuard<'_, BTreeMap<String, Blob>>> {
        self.blobs
            .lock()
            .map_err(|_| BlobError::Backend("memory blob store poisoned".into()))
    }
}

#[async_trait]
impl BlobBytes for Memory {
    fn check_key(&self, key: &str) -> BlobResult<()> {
        validate_key(key)
    }

    async fn write(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        only_new: bool,
    ) -> BlobResult<BlobMeta> {
        let meta = BlobMeta {
            key: key.to_string(),
            size: body.len() as u64,
            content_type: content_type.to_string(),
            last_modified: Some(crate::store::now_rfc3339()),
            etag: Some(etag_of(&body)),
        };
        let mut blobs = self.lock()?;
        if only_new && blobs.contains_key(key) {
            return Err(BlobError::AlreadyExists);
        }
        blobs.insert(
            key.to_string(),
            Blob {
                meta: meta.clone(),
                body,
            },
        );
        Ok(meta)
    }

    async fn read(&self, key: &str) -> BlobResult<Blob> {
        self.lock()?.get(key).cloned().ok_or(BlobError::NotFound)
    }

    async fn head(&self, key: &str) -> BlobResult<Option<BlobMeta>> {
        Ok(self.lock()?.get(key).map(|b| b.meta.clone()))
    }

    async fn read_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes> {
        let blobs = self.lock()?;
        let blob = blobs.get(key).ok_or(BlobError::NotFound)?;
        let end = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(blob.body.len());
        Ok(blob.body.slice(..end))
    }

    async fn delete(&self, key: &str) -> BlobResult<()> {
        self.lock()?.remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobMeta>> {
        Ok(self
            .lock()?
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, b)| b.meta.clone())
            .collect())
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}
