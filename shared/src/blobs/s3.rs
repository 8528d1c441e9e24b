//! S3 implementation. See the module docs of `blobs`.
//!
//! Signed URLs are SigV4 presigned URLs (at most 7 days, S3's limit). Listing returns the content
//! type of each blob, which `ListObjectsV2` does not report: `list` therefore sends one `HEAD` per
//! listed blob (16 at a time); keep listed prefixes small.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_s3::{
    Client,
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    presigning::PresigningConfig,
    primitives::{ByteStream, DateTime, DateTimeFormat},
    types::{BucketLocationConstraint, CreateBucketConfiguration},
};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::{
    Blob, BlobError, BlobMeta, BlobResult, BlobStore, SignedUpload, signing::validate_content_type,
    validate_key,
};

const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// Concurrent `HEAD` requests of `list`.
const LIST_HEAD_CONCURRENCY: usize = 16;

/// Blobs in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
}

impl S3Blobs {
    /// `force_path_style` is for emulators (`http://host:port/bucket/key`); AWS uses virtual hosts.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, force_path_style: bool) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(force_path_style)
            .build();
        Self {
            client: Client::from_conf(config),
            bucket: bucket.to_string(),
        }
    }

    /// The bucket blobs are stored in.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket unless it exists (tests, emulators; deployments create it in the template).
    pub async fn create_bucket_if_missing(&self) -> Result<(), BlobError> {
        let mut req = self.client.create_bucket().bucket(&self.bucket);
        let region = self
            .client
            .config()
            .region()
            .map(|r| r.as_ref().to_string());
        if let Some(region) = region.filter(|r| r != "us-east-1") {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }
}

fn backend<E, R>(e: SdkError<E, R>) -> BlobError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    BlobError::Backend(format!("s3: {}", DisplayErrorContext(&e)))
}

/// `NoSuchKey` (or a bare 404, as `HEAD` answers) becomes [`BlobError::NotFound`]; a missing
/// bucket stays a backend error.
fn map_err<E>(e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> BlobError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    let status_404 = e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
    match e.code() {
        Some("NoSuchKey" | "NotFound") => BlobError::NotFound,
        // `If-None-Match: *` on a taken key (a concurrent conditional write may answer 409).
        Some("PreconditionFailed" | "ConditionalRequestConflict") => BlobError::AlreadyExists,
        Some("NoSuchBucket") => backend(e),
        None if status_404 => BlobError::NotFound,
        _ => backend(e),
    }
}

async fn read_body(body: ByteStream, key: &str) -> BlobResult<Bytes> {
    Ok(body
        .collect()
        .await
        .map_err(|e| BlobError::Backend(format!("s3: read body of {key}: {e}")))?
        .into_bytes())
}

fn fmt_time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
}

fn size_of(len: Option<i64>) -> u64 {
    len.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn presigning(expires_in: Duration) -> BlobResult<PresigningConfig> {
    PresigningConfig::expires_in(expires_in)
        .map_err(|e| BlobError::Invalid(format!("signed URL expiry: {e}")))
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()> {
        validate_key(key)?;
        validate_content_type(content_type)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn put_new(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<BlobMeta> {
        validate_key(key)?;
        validate_content_type(content_type)?;
        let size = body.len() as u64;
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(map_err)?;
        Ok(BlobMeta {
            key: key.to_string(),
            size,
            content_type: content_type.to_string(),
            last_modified: None,
            etag: out.e_tag().map(str::to_string),
        })
    }

    async fn get(&self, key: &str) -> BlobResult<Blob> {
        validate_key(key)?;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(map_err)?;
        let content_type = out
            .content_type()
            .unwrap_or(DEFAULT_CONTENT_TYPE)
            .to_string();
        let last_modified = fmt_time(out.last_modified());
        let etag = out.e_tag().map(str::to_string);
        let body = read_body(out.body, key).await?;
        Ok(Blob {
            meta: BlobMeta {
                key: key.to_string(),
                size: body.len() as u64,
                content_type,
                last_modified,
                etag,
            },
            body,
        })
    }

    /// A ranged `GetObject`. S3 answers `InvalidRange` (416) for a range that starts past the
    /// end, i.e. an empty object, and for `len == 0`: both mean "no bytes" if the object exists.
    async fn read_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes> {
        validate_key(key)?;
        if len == 0 {
            return self
                .head(key)
                .await?
                .map(|_| Bytes::new())
                .ok_or(BlobError::NotFound);
        }
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", len - 1))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("InvalidRange") => {
                return self
                    .head(key)
                    .await?
                    .map(|_| Bytes::new())
                    .ok_or(BlobError::NotFound);
            }
            Err(e) => return Err(map_err(e)),
        };
        let body = read_body(out.body, key).await?;
        // A server that ignores the range sends the whole object.
        Ok(body.slice(..body.len().min(usize::try_from(len).unwrap_or(usize::MAX))))
    }

    async fn head(&self, key: &str) -> BlobResult<Option<BlobMeta>> {
        validate_key(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(map_err)
        {
            Ok(out) => Ok(Some(BlobMeta {
                key: key.to_string(),
                size: size_of(out.content_length()),
                content_type: out
                    .content_type()
                    .unwrap_or(DEFAULT_CONTENT_TYPE)
                    .to_string(),
                last_modified: fmt_time(out.last_modified()),
                etag: out.e_tag().map(str::to_string),
            })),
            Err(BlobError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, key: &str) -> BlobResult<()> {
        validate_key(key)?;
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(map_err)
        {
            Ok(_) | Err(BlobError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Pages through `ListObjectsV2`, then `HEAD`s each blob for its content type (see the module
    /// docs). A blob deleted between the two is left out.
    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobMeta>> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(map_err)?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys.sort();
        keys.dedup();
        let metas: Vec<Option<BlobMeta>> = futures::stream::iter(keys)
            .map(|key| async move {
                // Keys written by other tools may not pass `validate_key`: head them directly.
                match self
                    .client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(map_err)
                {
                    Ok(out) => Ok(Some(BlobMeta {
                        size: size_of(out.content_length()),
                        content_type: out
                            .content_type()
                            .unwrap_or(DEFAULT_CONTENT_TYPE)
                            .to_string(),
                        last_modified: fmt_time(out.last_modified()),
                        etag: out.e_tag().map(str::to_string),
                        key,
                    })),
                    Err(BlobError::NotFound) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffered(LIST_HEAD_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(metas.into_iter().flatten().collect())
    }

    async fn signed_get_url(&self, key: &str, expires_in: Duration) -> BlobResult<String> {
        validate_key(key)?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(backend)?;
        Ok(presigned.uri().to_string())
    }

    /// A presigned `PutObject` with the content type signed (S3 refuses another one).
    ///
    /// **S3 cannot enforce `max_size` on a presigned PUT** (only presigned POST policies can, and
    /// signing the exact `content-length` would require knowing the size up front). The returned
    /// [`SignedUpload::max_size`] tells the client the limit, and callers must check the stored
    /// size with [`BlobStore::head`] after the upload and delete oversized blobs (the video
    /// upload flow does). S3's own limit for a single PUT is 5 GB.
    async fn signed_put_url(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        expires_in: Duration,
    ) -> BlobResult<SignedUpload> {
        validate_key(key)?;
        validate_content_type(content_type)?;
        let config = presigning(expires_in)?;
        let expires_at = config
            .start_time()
            .checked_add(config.expires())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .or_else(|| {
                (SystemTime::now() + expires_in)
                    .duration_since(UNIX_EPOCH)
                    .ok()
            })
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            // Signed into the URL (X-Amz-SignedHeaders) and listed in `headers`: the client must
            // send it, and S3 then refuses (412) a second write to the key.
            .if_none_match("*")
            .presigned(config)
            .await
            .map_err(backend)?;
        let mut headers: Vec<(String, String)> = presigned
            .headers()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        if !headers.iter().any(|(k, _)| k == "content-type") {
            headers.push(("content-type".into(), content_type.to_string()));
        }
        Ok(SignedUpload {
            method: presigned.method().to_string(),
            url: presigned.uri().to_string(),
            headers,
            max_size,
            expires_at,
        })
    }

    fn backend_name(&self) -> &'static str {
        "s3"
    }
}
