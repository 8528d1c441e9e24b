//! Verification of an uploaded video file: within [`MAX_VIDEO_BYTES`] and a real MP4 container.
//!
//! An MP4 (ISO base media file) starts with an `ftyp` box: a 32-bit big-endian size, the type
//! `ftyp`, a 4-character major brand (`isom`, `mp42`, `avc1`, ...), a minor version and a list of
//! 4-character compatible brands. Checking those few bytes by hand is enough to refuse a renamed
//! text or image file without reading 50 MB; a container crate would parse the whole file.

use crate::{
    blobs::{BlobError, BlobStore},
    store::{self, ItemStore, StoreError, Update, keys},
};

use super::{
    MAX_VIDEO_BYTES, VideoError, VideoRecord, VideoStatus, get, ready_index_keys, status_is,
    video_id_of_blob_key,
};

/// Bytes read from the start of a file to check it.
pub const SNIFF_BYTES: u64 = 64;

/// Why a file is not an acceptable video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    TooLarge,
    NotMp4,
}

impl Rejection {
    pub fn message(self) -> &'static str {
        match self {
            Rejection::Empty => "The file is empty",
            Rejection::TooLarge => "The file is larger than 50 MB",
            Rejection::NotMp4 => "The file is not an MP4 video (no ftyp box at the start)",
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
}

/// Verifies the blob at `key` and moves its video out of `pending_upload`. Idempotent.
pub async fn verify_upload(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    key: &str,
) -> Result<Outcome, VideoError> {
    let Some(id) = video_id_of_blob_key(key) else {
        return Ok(Outcome::Ignored);
    };
    let Some(video) = get(store, id).await? else {
        blobs.delete(key).await?;
        return Ok(Outcome::Orphan(id.to_string()));
    };
    if video.status != VideoStatus::PendingUpload {
        return Ok(Outcome::AlreadyDone(video.id));
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
        Ok(()) => accept_upload(store, &video, meta.size).await,
        Err(rejection) => {
            let outcome = mark_failed(store, &video, rejection).await?;
            // Also when the record moved on meanwhile: a pending video's blob that failed the
            // check is never served.
            blobs.delete(key).await?;
            Ok(outcome)
        }
    }
}

/// Marks a pending video whose file was checked as ready (with its index keys), unless it moved
/// on meanwhile: [`Outcome::Ready`], or [`Outcome::AlreadyDone`] when another verification (the
/// S3 event of the same file) or a delete won.
pub async fn accept_upload(
    store: &dyn ItemStore,
    video: &VideoRecord,
    size: u64,
) -> Result<Outcome, VideoError> {
    let mut update = Update::new()
        .set("status", VideoStatus::Ready.as_str())
        .set("size", size)
        .set("updated_at", store::now_rfc3339())
        .remove("failure_reason");
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
