//! Banner records and their images.
//!
//! A banner is a record (`BANNER#<id>` / `BANNER`, no index keys, no counters) and a PNG in the
//! media bucket at `banners/<id>.png` ([`blob_key`]). [`create`] writes the image first (only if
//! the key is free), then the record (only if the id is free), and deletes the image again when
//! the record cannot be written, so a failed creation leaves neither behind.
//!
//! [`publish`] and [`unpublish`] are one transaction each: the record (conditioned on the
//! `version` it was read at, so concurrent edits cannot be lost), its copy in the published
//! partition (put or deleted) and an `ADD` 1 on the published-banners version, which tells every
//! instance's live-banner cache ([`super::cache`]) to reload.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ai::Provenance;
use crate::blobs::{BlobError, BlobStore};
use crate::store::{
    self, Condition, Item, ItemStore, PK, Query, SK, StoreError, StoreResult, TxOp, Update, keys,
};

/// Content type of the stored images.
pub const BANNER_CONTENT_TYPE: &str = "image/png";

/// The blob key of a banner's image.
pub fn blob_key(banner_id: &str) -> String {
    format!("banners/{banner_id}.png")
}

/// A new banner id in the spec's form: `banner_<yyyymmdd>_<hhmmss>_<8 hex>`.
pub fn new_banner_id(now: DateTime<Utc>) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "banner_{}_{}",
        now.format("%Y%m%d_%H%M%S"),
        random.get(..8).unwrap_or("00000000")
    )
}

/// Whether `id` can be a banner id (ids in paths are checked before any read).
pub fn is_valid_id(id: &str) -> bool {
    id.starts_with("banner_")
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Who a banner is shown to; a criterion left out does not restrict (an empty audience is
/// everyone). Field names and units as in spec 002 (`min_spend` in currency units).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Targeting {
    /// RFM clusters (of the latest generate-rfm run) the user must be in one of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_ids: Vec<u32>,
    /// Segments the user must be a member of (at least one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_ids: Vec<String>,
    /// The user's country code or region (the address' state), case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Lifetime spend at least this much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_spend: Option<f64>,
    /// Last order at most this many days ago (users without orders do not match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_recency_days: Option<u32>,
}

/// A stored banner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Banner {
    pub id: String,
    /// The admin's prompt.
    pub prompt: String,
    /// What the image model was asked (the prompt with the product's facts).
    pub image_prompt: String,
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default)]
    pub product_category: Option<String>,
    /// The user the banner was generated for (generate-banner's `user_id`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The promotion text it was made with (personalized-promotion).
    #[serde(default)]
    pub promotion_id: Option<String>,
    pub aspect_ratio: String,
    pub width: u32,
    pub height: u32,
    /// Blob key of the PNG (`banners/<id>.png`): the spec's `saved_path`.
    pub saved_path: String,
    pub size: u64,
    pub model_backend: String,
    pub model_id: String,
    pub created_at: String,
    pub created_by: String,
    #[serde(default)]
    pub is_published: bool,
    #[serde(default)]
    pub target_audience: Option<Targeting>,
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub priority: Option<u8>,
    #[serde(default)]
    pub published_at: Option<String>,
    #[serde(default)]
    pub published_by: Option<String>,
    #[serde(default)]
    pub version: u64,
}

impl Banner {
    /// The model that drew it.
    pub fn provenance(&self) -> Provenance {
        Provenance {
            backend: self.model_backend.clone(),
            model_id: self.model_id.clone(),
        }
    }
}

fn item_of(b: &Banner) -> StoreResult<Item> {
    let mut item = store::to_item(b)?;
    let key = keys::banner(&b.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    Ok(item)
}

fn published_item_of(b: &Banner) -> StoreResult<Item> {
    let mut item = store::to_item(b)?;
    let key = keys::published_banner(&b.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    Ok(item)
}

/// Why a banner was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("banner image: {0}")]
    Blob(#[from] BlobError),
    #[error("banner record: {0}")]
    Store(#[from] StoreError),
}

/// Stores the image, then the record (see the module docs). On any error nothing is left.
pub async fn create(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    banner: &Banner,
    png: Bytes,
) -> Result<(), CreateError> {
    blobs
        .put_new(&banner.saved_path, png, BANNER_CONTENT_TYPE)
        .await?;
    let written = match item_of(banner) {
        Ok(item) => store.put(item, Some(Condition::ItemNotExists)).await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        if let Err(cleanup) = blobs.delete(&banner.saved_path).await {
            tracing::error!(key = %banner.saved_path, error = %cleanup, "orphan banner image not deleted");
        }
        return Err(e.into());
    }
    Ok(())
}

pub async fn get(store: &dyn ItemStore, id: &str) -> StoreResult<Option<Banner>> {
    store
        .get(&keys::banner(id))
        .await?
        .map(store::from_item)
        .transpose()
}

/// Why a publish or unpublish did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("no banner has this id")]
    NotFound,
    /// Changed concurrently (version moved); retrying may succeed.
    #[error("the banner changed concurrently")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a publish sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub target_audience: Targeting,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    /// 1-10, 10 first.
    pub priority: u8,
    pub by: String,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn bump_version() -> TxOp {
    TxOp::Update {
        key: keys::banners_version(),
        update: Update::new().add("n", 1),
        condition: None,
    }
}

async fn switch(
    store: &dyn ItemStore,
    old: &Banner,
    new: &Banner,
    published: bool,
) -> Result<(), PublishError> {
    let copy = if published {
        TxOp::Put {
            item: published_item_of(new)?,
            condition: None,
        }
    } else {
        TxOp::Delete {
            key: keys::published_banner(&new.id),
            condition: None,
        }
    };
    let ops = vec![
        TxOp::Put {
            item: item_of(new)?,
            condition: Some(Condition::eq("version", old.version)),
        },
        copy,
        bump_version(),
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { .. } | StoreError::TransactionConflict) => {
            Err(PublishError::Conflict)
        }
        Err(e) => Err(e.into()),
    }
}

/// Publishes (or re-publishes with new targeting) banner `id`; returns the new record.
pub async fn publish(
    store: &dyn ItemStore,
    id: &str,
    p: Publication,
) -> Result<Banner, PublishError> {
    let old = get(store, id).await?.ok_or(PublishError::NotFound)?;
    let new = Banner {
        is_published: true,
        target_audience: Some(p.target_audience),
        start_date: p.start_date.map(rfc3339),
        end_date: p.end_date.map(rfc3339),
        priority: Some(p.priority),
        published_at: Some(store::now_rfc3339()),
        published_by: Some(p.by),
        version: old.version + 1,
        ..old.clone()
    };
    switch(store, &old, &new, true).await?;
    Ok(new)
}

/// Unpublishes banner `id` (its targeting and schedule are kept); returns the record and
/// whether it was published.
pub async fn unpublish(store: &dyn ItemStore, id: &str) -> Result<(Banner, bool), PublishError> {
    let old = get(store, id).await?.ok_or(PublishError::NotFound)?;
    if !old.is_published {
        return Ok((old, false));
    }
    let new = Banner {
        is_published: false,
        version: old.version + 1,
        ..old.clone()
    };
    switch(store, &old, &new, false).await?;
    Ok((new, true))
}

/// The published-banners version (0 before the first publish).
pub async fn version(store: &dyn ItemStore) -> StoreResult<u64> {
    Ok(store
        .get(&keys::banners_version())
        .await?
        .and_then(|i| i.get("n").and_then(Value::as_u64))
        .unwrap_or(0))
}

/// Every published banner (one partition, paged).
pub async fn load_published(store: &dyn ItemStore) -> StoreResult<Vec<Banner>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::table(keys::PUBLISHED_BANNERS_PK)
                    .limit(500)
                    .cursor(cursor),
            )
            .await?;
        for item in page.items {
            match store::from_item::<Banner>(item) {
                Ok(b) => out.push(b),
                Err(e) => tracing::warn!(error = %e, "unreadable published banner skipped"),
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_spec_form_and_are_checked() {
        let now = DateTime::parse_from_rfc3339("2025-01-27T14:30:52Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let id = new_banner_id(now);
        assert!(id.starts_with("banner_20250127_143052_"), "{id}");
        assert_eq!(id.len(), "banner_20250127_143052_".len() + 8);
        assert!(is_valid_id(&id));
        assert_eq!(blob_key(&id), format!("banners/{id}.png"));
        for bad in [
            "",
            "banner_../x",
            "other_1",
            &format!("banner_{}", "x".repeat(60)),
        ] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn empty_targeting_serialises_to_an_empty_object() {
        let json = serde_json::to_value(Targeting::default()).unwrap_or_default();
        assert_eq!(json, serde_json::json!({}));
        let t: Targeting =
            serde_json::from_value(serde_json::json!({"cluster_ids": [0, 1], "min_spend": 500}))
                .unwrap_or_default();
        assert_eq!(t.cluster_ids, [0, 1]);
        assert_eq!(t.min_spend, Some(500.0));
    }
}
