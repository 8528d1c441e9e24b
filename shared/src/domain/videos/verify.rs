//! Verification of an uploaded video file: within [`MAX_VIDEO_BYTES`] and a real MP4 container.
//!
//! An MP4 (ISO base media file) starts with an `ftyp` box: a 32-bit big-endian size, the type
//! `ftyp`, a 4-character major brand (`isom`, `mp42`, `avc1`, ...), a minor version and a list of
//! 4-character compatible brands. Checking those few bytes by hand is enough to refuse a renamed
//! text or image file without reading 50 MB; a container crate would parse the whole file.
//!
//! A verified file cannot be replaced through its upload URL (upload URLs work once, see
//! [`crate::blobs`]). As a second line, verification records the entity tag of the file it
//! checked ([`VERIFIED_ETAG`]); an object-created event for a video that is already ready is
//! checked against it, and a changed file fails the video (out of every feed, never served
//! again) and is removed: a changed object under a `ready` video is never served as verified.

use serde_json::Value;

use crate::{
    blobs::{BlobError, BlobMeta, BlobStore},
    store::{self, GSI1PK, GSI1SK, GSI2PK, GSI2SK, ItemStore, StoreError, Update, keys},
};

use super::{
    MAX_VIDEO_BYTES, VideoError, VideoRecord, VideoStatus, ready_index_keys, status_is,
    video_id_of_blob_key,
};

/// Attribute of a video item: the entity tag of the file that was verified (absent for videos
/// verified before tags were recorded, or by a backend that reports none).
pub const VERIFIED_ETAG: &str = "verified_etag";

/// Bytes read from the start of a file to check it.
pub const SNIFF_BYTES: u64 = 64;

/// Why a file is not an acceptable video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    TooLarge,
    NotMp4,
    /// The file of a ready video is no longer the one that was verified.
    Changed,
}

impl Rejection {
    pub fn message(self) -> &'static str {
        match self {
            Rejection::Empty => "The file is empty",
            Rejection::TooLarge => "The file is larger than 50 MB",
            Rejection::NotMp4 => "The file is not an MP4 video (no ftyp box at the start)",
            Rejection::Changed => "The file was replaced after it was verified",
        }
    }
}

/// Checks the first bytes of a file for an MP4 `ftyp` box.
pub fn is_mp4(prefix: &[u8]) -> bool {
    let Some(header) = prefix.get(..16) else {
        return false;
    };
    let size = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let brand = &header[8..12];
    &header[4..8] == b"ftyp"
        // header (8) + major brand (4) + minor version (4) + whole compatible brands (4 each)
        && (16..=1024).contains(&size)
        && (size - 16) % 4 == 0
        && brand.iter().all(|b| b.is_ascii_alphanumeric() || *b == b' ')
}

/// Checks a whole file in memory (the multipart upload).
pub fn check_file(body: &[u8]) -> Result<(), Rejection> {
    if body.is_empty() {
        Err(Rejection::Empty)
    } else if body.len() as u64 > MAX_VIDEO_BYTES {
        Err(Rejection::TooLarge)
    } else if !is_mp4(body) {
        Err(Rejection::NotMp4)
    } else {
        Ok(())
    }
}

/// What [`verify_upload`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The video is now ready.
    Ready(String),
    /// The file was refused: the video is failed and the blob removed.
    Rejected(String, Rejection),
    /// The key is not a video upload.
    Ignored,
    /// No record for this upload (deleted meanwhile): the blob was removed.
    Orphan(String),
    /// The video was already ready or failed (events can be delivered twice).
    AlreadyDone(String),
    /// The blob is gone (deleted after the event was sent).
    Missing(String),
    /// The file of a ready video was replaced: the video is failed and the blob removed.
    Changed(String),
}

/// Verifies the blob at `key` and moves its video out of `pending_upload`; for a video already
/// ready, checks that the blob is still the verified one (see the module docs). Idempotent.
pub async fn verify_upload(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    key: &str,
) -> Result<Outcome, VideoError> {
    let Some(id) = video_id_of_blob_key(key) else {
        return Ok(Outcome::Ignored);
    };
    let Some(item) = store.get(&keys::video(id)).await? else {
        blobs.delete(key).await?;
        return Ok(Outcome::Orphan(id.to_string()));
    };
    let verified_etag = item
        .get(VERIFIED_ETAG)
        .and_then(Value::as_str)
        .map(str::to_string);
    let video: VideoRecord = store::from_item(item)?;
    match video.status {
        VideoStatus::PendingUpload => {}
        VideoStatus::Ready => {
            return recheck_ready(store, blobs, key, &video, verified_etag.as_deref()).await;
        }
        _ => return Ok(Outcome::AlreadyDone(video.id)),
    }
    let Some(meta) = blobs.head(key).await? else {
        return Ok(Outcome::Missing(video.id));
    };
    let verdict = if meta.size == 0 {
        Err(Rejection::Empty)
    } else if meta.size > MAX_VIDEO_BYTES {
        Err(Rejection::TooLarge)
    } else {
        match blobs.read_prefix(key, SNIFF_BYTES).await {
            Ok(prefix) if is_mp4(&prefix) => Ok(()),
            Ok(_) => Err(Rejection::NotMp4),
            Err(BlobError::NotFound) => return Ok(Outcome::Missing(video.id)),
            Err(e) => return Err(e.into()),
        }
    };
    match verdict {
        Ok(()) => accept_upload(store, &video, &meta).await,
        Err(rejection) => {
            let outcome = mark_failed(store, &video, rejection).await?;
            // Also when the record moved on meanwhile: a pending video's blob that failed the
            // check is never served.
            blobs.delete(key).await?;
            Ok(outcome)
        }
    }
}

/// A new object-created event for a ready video: the same file (a repeated event) changes
/// nothing; another file fails the video and is removed. Without a recorded tag (older records,
/// backends without tags) the size is compared.
async fn recheck_ready(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    key: &str,
    video: &VideoRecord,
    verified_etag: Option<&str>,
) -> Result<Outcome, VideoError> {
    let Some(meta) = blobs.head(key).await? else {
        return Ok(Outcome::Missing(video.id.clone()));
    };
    let same = match (verified_etag, meta.etag.as_deref()) {
        (Some(verified), Some(now)) => verified == now,
        _ => video.size == Some(meta.size),
    };
    if same {
        return Ok(Outcome::AlreadyDone(video.id.clone()));
    }
    let update = Update::new()
        .set("status", VideoStatus::Failed.as_str())
        .set("failure_reason", Rejection::Changed.message())
        .set("updated_at", store::now_rfc3339())
        .remove(GSI1PK)
        .remove(GSI1SK)
        .remove(GSI2PK)
        .remove(GSI2SK);
    let changed = match store
        .update(
            &keys::video(&video.id),
            update,
            Some(status_is(VideoStatus::Ready)),
        )
        .await
    {
        Ok(_) => Outcome::Changed(video.id.clone()),
        Err(StoreError::ConditionFailed) => Outcome::AlreadyDone(video.id.clone()),
        Err(e) => return Err(e.into()),
    };
    // The replaced bytes were never verified: they are not served in any case.
    blobs.delete(key).await?;
    Ok(changed)
}

/// Marks a pending video whose file (`meta`, from the store) was checked as ready, with its
/// index keys and the file's entity tag, unless it moved on meanwhile: [`Outcome::Ready`], or
/// [`Outcome::AlreadyDone`] when another verification (the S3 event of the same file) or a
/// delete won.
pub async fn accept_upload(
    store: &dyn ItemStore,
    video: &VideoRecord,
    meta: &BlobMeta,
) -> Result<Outcome, VideoError> {
    let mut update = Update::new()
        .set("status", VideoStatus::Ready.as_str())
        .set("size", meta.size)
        .set("updated_at", store::now_rfc3339())
        .remove("failure_reason");
    if let Some(etag) = &meta.etag {
        update = update.set(VERIFIED_ETAG, etag.as_str());
    }
    for (k, v) in ready_index_keys(video) {
        update = update.set(k, v);
    }
    finish(store, video, update, Outcome::Ready(video.id.clone())).await
}

async fn mark_failed(
    store: &dyn ItemStore,
    video: &VideoRecord,
    rejection: Rejection,
) -> Result<Outcome, VideoError> {
    let update = Update::new()
        .set("status", VideoStatus::Failed.as_str())
        .set("failure_reason", rejection.message())
        .set("updated_at", store::now_rfc3339());
    finish(
        store,
        video,
        update,
        Outcome::Rejected(video.id.clone(), rejection),
    )
    .await
}

/// Applies a status change only if the video is still pending (a concurrent verification or a
/// delete wins, and this one reports what it found).
async fn finish(
    store: &dyn ItemStore,
    video: &VideoRecord,
    update: Update,
    outcome: Outcome,
) -> Result<Outcome, VideoError> {
    let still_pending = status_is(VideoStatus::PendingUpload);
    match store
        .update(&keys::video(&video.id), update, Some(still_pending))
        .await
    {
        Ok(_) => Ok(outcome),
        Err(StoreError::ConditionFailed) => Ok(Outcome::AlreadyDone(video.id.clone())),
        Err(e) => Err(e.into()),
    }
}
