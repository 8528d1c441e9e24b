//! Shoppable videos (spec 004): short videos linked to catalog products, a personalised feed,
//! likes, saves, shares and views.
//!
//! Life of a video:
//! 1. [`create_pending`] writes the record (`pending_upload`); the client uploads the file
//!    straight to the blob store through a signed URL (Lambda bodies are capped near 6 MB, videos
//!    may be 50 MB).
//! 2. [`verify::verify_upload`] checks the stored object (size within [`MAX_VIDEO_BYTES`], an MP4
//!    container: `ftyp` box first) and marks the video `ready`, or `failed` and removes the blob.
//!    In the cloud an S3 object-created event runs it; locally the blob server's upload hook does.
//! 3. Only `ready` videos carry index keys, so only they are listed, liked or put in feeds.
//!
//! The counters (views, likes, saves, shares) live on their own item, `VIDEO#<id>` / `COUNTERS`
//! ([`VideoCounts`]), written with the record and deleted with it: it carries no index keys, so
//! an `ADD` on every view or like writes one table item and never the `VIDEOS#READY` or category
//! index partitions (the GSIs project all attributes: an `ADD` on the record would write them).
//!
//! Module map: this file (records, create, read, update, delete), [`verify`] (MP4 check),
//! [`interactions`] (like/save toggles, shares, views, hourly activity), [`feed`] (the four
//! stages), [`trends`] (the trend-score job).

pub mod feed;
pub mod interactions;
pub mod trends;
pub mod verify;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    blobs::{BlobError, BlobStore},
    reco::feed::normalize_tag,
    store::{
        self, Condition, GSI1PK, GSI1SK, GSI2PK, GSI2SK, Item, ItemStore, PK, SK, StoreError, TxOp,
        Update, keys,
    },
};

/// Largest video accepted: 50 MB.
pub const MAX_VIDEO_BYTES: u64 = 50 * 1024 * 1024;
/// The only content type accepted.
pub const VIDEO_CONTENT_TYPE: &str = "video/mp4";
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VideoStatus {
    /// Created; the file has not been uploaded and verified yet.
    PendingUpload,
    /// Verified; listed in feeds.
    Ready,
    /// The uploaded file was refused (see `failure_reason`); its blob was removed.
    Failed,
}

impl VideoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VideoStatus::PendingUpload => "pending_upload",
            VideoStatus::Ready => "ready",
            VideoStatus::Failed => "failed",
        }
    }
}

/// A video as stored (`VIDEO#<id>` / `VIDEO`). Its counters are on another item:
/// [`VideoCounts`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoRecord {
    pub id: String,
    pub product_id: String,
    /// The product's category when the video was linked (feed candidates by category).
    pub category_id: String,
    pub uploader_id: String,
    pub title: String,
    /// Normalised ([`normalize_tag`]), no duplicates.
    #[serde(default)]
    pub tags: Vec<String>,
    pub blob_key: String,
    pub status: VideoStatus,
    /// Bytes of the verified file.
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// In [0, 1], recomputed by the trend job (written at most once an hour, only when it
    /// changed: not a hot counter, so it stays on the record).
    #[serde(default)]
    pub trend_score: f64,
    pub created_at: String,
    pub updated_at: String,
}

/// A video's counters, on `VIDEO#<id>` / `COUNTERS` (no index keys), changed by atomic `ADD`
/// only. A missing item counts as zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoCounts {
    #[serde(default)]
    pub views_count: u64,
    #[serde(default)]
    pub likes_count: u64,
    #[serde(default)]
    pub saves_count: u64,
    #[serde(default)]
    pub shares_count: u64,
}

impl VideoCounts {
    fn of_item(item: Item) -> Self {
        store::from_item(item).unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("video not found")]
    NotFound,
    #[error("bad feed cursor")]
    BadCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Condition: the video exists with `status` (a write racing a verification or a delete loses).
pub fn status_is(status: VideoStatus) -> Condition {
    Condition::eq("status", status.as_str())
}

/// Where a video's file lives.
pub fn blob_key(video_id: &str) -> String {
    format!("videos/{video_id}/video.mp4")
}

/// The video id in a key made by [`blob_key`].
pub fn video_id_of_blob_key(key: &str) -> Option<&str> {
    let id = key.strip_prefix("videos/")?.strip_suffix("/video.mp4")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// Tags as stored: normalised, empty ones dropped, duplicates removed (first kept).
pub fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags.iter().map(|t| normalize_tag(t)) {
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The item of a record; index keys only when it is ready.
fn record_item(v: &VideoRecord) -> Result<Item, StoreError> {
    let mut item = store::to_item(v)?;
    let key = keys::video(&v.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "video".into());
    if v.status == VideoStatus::Ready {
        for (k, val) in ready_index_keys(v) {
            item.insert(k.into(), val);
        }
    }
    Ok(item)
}

/// GSI1 (newest ready videos) and GSI2 (ready videos of a category) keys.
fn ready_index_keys(v: &VideoRecord) -> [(&'static str, Value); 4] {
    let sk = keys::videos_index_sk(&v.created_at, &v.id);
    [
        (GSI1PK, keys::READY_VIDEOS_PK.into()),
        (GSI1SK, sk.clone().into()),
        (GSI2PK, keys::category_videos_pk(&v.category_id).into()),
        (GSI2SK, sk.into()),
    ]
}

/// What a new video is made of (already validated).
#[derive(Debug, Clone)]
pub struct NewVideo {
    pub product_id: String,
    pub category_id: String,
    pub uploader_id: String,
    pub title: String,
    pub tags: Vec<String>,
}

/// Writes a `pending_upload` record; the caller hands out the upload URL for its blob key.
pub async fn create_pending(
    store: &dyn ItemStore,
    new: NewVideo,
) -> Result<VideoRecord, VideoError> {
    let record = pending_record(new);
    insert(store, &record).await?;
    Ok(record)
}

/// A pending record with a fresh id (not written).
pub fn pending_record(new: NewVideo) -> VideoRecord {
    let id = uuid::Uuid::new_v4().to_string();
    let now = store::now_rfc3339();
    VideoRecord {
        blob_key: blob_key(&id),
        id,
        product_id: new.product_id,
        category_id: new.category_id,
        uploader_id: new.uploader_id,
        title: new.title,
        tags: clean_tags(&new.tags),
        status: VideoStatus::PendingUpload,
        size: None,
        failure_reason: None,
        trend_score: 0.0,
        created_at: now.clone(),
        updated_at: now,
    }
}

/// Writes `record` as it is with zero counters; fails if the id exists.
pub async fn insert(store: &dyn ItemStore, record: &VideoRecord) -> Result<(), VideoError> {
    insert_with_counts(store, record, &VideoCounts::default()).await
}

/// Writes `record` and its counters in one transaction (demo data and tests with chosen
/// counters); fails if the id exists.
pub async fn insert_with_counts(
    store: &dyn ItemStore,
    record: &VideoRecord,
    counts: &VideoCounts,
) -> Result<(), VideoError> {
    store
        .transact(vec![
            TxOp::Put {
                item: record_item(record)?,
                condition: Some(Condition::ItemNotExists),
            },
            TxOp::Put {
                item: counts_item(&record.id, counts)?,
                condition: None,
            },
        ])
        .await?;
    Ok(())
}

/// The counters item of a video.
fn counts_item(id: &str, counts: &VideoCounts) -> Result<Item, StoreError> {
    let mut item = store::to_item(counts)?;
    let key = keys::video_counters(id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "video_counters".into());
    Ok(item)
}

pub async fn get(store: &dyn ItemStore, id: &str) -> Result<Option<VideoRecord>, StoreError> {
    match store.get(&keys::video(id)).await? {
        Some(item) => Ok(Some(store::from_item(item)?)),
        None => Ok(None),
    }
}

/// The record and its counters, in one batch read.
pub async fn get_with_counts(
    store: &dyn ItemStore,
    id: &str,
) -> Result<Option<(VideoRecord, VideoCounts)>, StoreError> {
    let (video_key, counts_key) = (keys::video(id), keys::video_counters(id));
    let mut record = None;
    let mut counts = VideoCounts::default();
    for item in store.batch_get(&[video_key, counts_key]).await? {
        match item.get(SK).and_then(Value::as_str) {
            Some(keys::VIDEO_SK) => record = Some(store::from_item(item)?),
            Some(keys::VIDEO_COUNTERS_SK) => counts = VideoCounts::of_item(item),
            _ => {}
        }
    }
    Ok(record.map(|r| (r, counts)))
}

/// The counters of one video (zeros when it has none).
pub async fn counts(store: &dyn ItemStore, id: &str) -> Result<VideoCounts, StoreError> {
    Ok(store
        .get(&keys::video_counters(id))
        .await?
        .map(VideoCounts::of_item)
        .unwrap_or_default())
}

/// The counters of many videos in one batch read (DynamoDB takes 100 keys a request: a feed
/// pool is one), by video id; videos without a counters item are absent (zeros).
pub async fn counts_of(
    store: &dyn ItemStore,
    ids: &[&str],
) -> Result<HashMap<String, VideoCounts>, StoreError> {
    let keys: Vec<store::Key> = ids.iter().map(|id| keys::video_counters(id)).collect();
    Ok(store
        .batch_get(&keys)
        .await?
        .into_iter()
        .filter_map(|item| {
            let id = keys::video_id_of(item.get(PK)?.as_str()?)?.to_string();
            Some((id, VideoCounts::of_item(item)))
        })
        .collect())
}

/// The video if it exists and is ready (what everyone but its uploader and admins may see).
pub async fn get_ready(store: &dyn ItemStore, id: &str) -> Result<VideoRecord, VideoError> {
    get(store, id)
        .await?
        .filter(|v| v.status == VideoStatus::Ready)
        .ok_or(VideoError::NotFound)
}

/// Changes to a video's metadata (already validated).
#[derive(Debug, Clone, Default)]
pub struct VideoPatch {
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    /// A new product and its category.
    pub product: Option<(String, String)>,
}

/// Applies `patch` with one conditional update: a status change meanwhile (verification) makes it retry with the new status's index keys.
pub async fn update(
    store: &dyn ItemStore,
    id: &str,
    patch: &VideoPatch,
) -> Result<VideoRecord, VideoError> {
    for _ in 0..8 {
        let current = get(store, id).await?.ok_or(VideoError::NotFound)?;
        let mut update = Update::new().set("updated_at", store::now_rfc3339());
        if let Some(title) = &patch.title {
            update = update.set("title", title.clone());
        }
        if let Some(tags) = &patch.tags {
            update = update.set("tags", clean_tags(tags));
        }
        if let Some((product_id, category_id)) = &patch.product {
            update = update
                .set("product_id", product_id.clone())
                .set("category_id", category_id.clone());
            if current.status == VideoStatus::Ready {
                update = update.set(GSI2PK, keys::category_videos_pk(category_id));
            }
        }
        let condition = status_is(current.status);
        match store
            .update(&keys::video(id), update, Some(condition))
            .await
        {
            Ok(item) => return Ok(store::from_item(item)?),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::TransactionConflict.into())
}

/// Deletes the record and its counters (one transaction), then its blob, then the users'
/// likes, saves and watched marks of it. The record goes first: once it is gone no toggle can
/// add a like (toggles are conditioned on the video being ready) and no view or share can count
/// (they need the counters item). A blob or mark that cannot be deleted is logged (an orphan
/// file costs storage only, an orphan mark a little profile weight; a record without its file
/// would break feeds).
pub async fn delete(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    id: &str,
) -> Result<VideoRecord, VideoError> {
    let record = get(store, id).await?.ok_or(VideoError::NotFound)?;
    store
        .transact(vec![
            TxOp::Delete {
                key: keys::video(id),
                condition: Some(Condition::ItemExists),
            },
            TxOp::Delete {
                key: keys::video_counters(id),
                condition: None,
            },
        ])
        .await
        .map_err(|e| match e {
            StoreError::TransactionCanceled { .. } => VideoError::NotFound,
            e => e.into(),
        })?;
    if let Err(e) = blobs.delete(&record.blob_key).await {
        tracing::warn!(error = %e, key = %record.blob_key, "video deleted but not its blob");
    }
    if let Err(e) = delete_refs(store, id).await {
        tracing::warn!(error = %e, video_id = id, "video deleted but not all its likes and saves");
    }
    Ok(record)
}

/// Deletes every per-user record about the video (GSI1 `VIDEOREFS#<id>`), page by page.
async fn delete_refs(store: &dyn ItemStore, id: &str) -> Result<(), StoreError> {
    let mut query = store::Query::gsi1(keys::video_refs_pk(id))
        .limit(100)
        .project(&[]);
    loop {
        let page = store.query(query.clone()).await?;
        let deletes: Vec<store::TxOp> = page
            .items
            .iter()
            .filter_map(store::Key::of)
            .map(|key| store::TxOp::Delete {
                key,
                condition: None,
            })
            .collect();
        for chunk in deletes.chunks(25) {
            store.transact(chunk.to_vec()).await?;
        }
        match page.cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
