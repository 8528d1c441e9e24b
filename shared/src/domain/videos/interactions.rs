//! Likes, saves, shares and views of ready videos.
//!
//! Invariants:
//! - a like (save) toggle writes the user's record and the video's counter in ONE transaction,
//!   conditioned on the record's previous state and on the video being ready (a condition check
//!   on the video item, which the transaction does not write), so `likes_count` always equals
//!   the number of like records, whatever the races (a lost race retries on the new state);
//! - shares and views are atomic `ADD`s on the counters item of a ready video;
//! - no counter is ever added on the video item: it carries the index keys of the ready and
//!   category indexes, and an `ADD` there would write those index partitions too;
//! - every interaction also adds to the video's hourly activity bucket, which the trend job reads
//!   ([`super::trends`]);
//! - the `*_recorded` variants also record the interaction on the video's product in the
//!   shopper's interaction log ([`crate::domain::interactions`]: like/save +1 when a toggle turns
//!   on, -1 when it turns off, so only a change of state moves the log; share; completed view),
//!   concurrently with what is left of the operation once its own write succeeded.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::store::{
    self, Condition, EXPIRES_AT, GSI1PK, GSI1SK, Item, ItemStore, Key, PK, SK, StoreError, TxOp,
    Update, keys,
};

use super::{VideoError, VideoRecord, VideoStatus, counts, get_ready, status_is};
use crate::domain::interactions::{self as log, Actor, InteractionKind, Signal};
use crate::domain::stats::{HOURLY_RETENTION_SECS, hour_label};

/// Retries of a toggle that lost a race; each retry means another toggle of the same user
/// succeeded.
const MAX_RETRIES: u32 = 32;

/// The two per-user toggles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toggle {
    Like,
    Save,
}

impl Toggle {
    fn key(self, user_id: &str, video_id: &str) -> Key {
        match self {
            Toggle::Like => keys::video_like(user_id, video_id),
            Toggle::Save => keys::video_save(user_id, video_id),
        }
    }
    /// The counter on the video's counters item.
    pub fn counter(self) -> &'static str {
        match self {
            Toggle::Like => "likes_count",
            Toggle::Save => "saves_count",
        }
    }
    /// The attribute of the hourly activity bucket.
    fn activity(self) -> Activity {
        match self {
            Toggle::Like => Activity::Likes,
            Toggle::Save => Activity::Saves,
        }
    }
    fn entity(self) -> &'static str {
        match self {
            Toggle::Like => "video_like",
            Toggle::Save => "video_save",
        }
    }
    /// The kind of interaction it records.
    fn interaction(self) -> InteractionKind {
        match self {
            Toggle::Like => InteractionKind::Like,
            Toggle::Save => InteractionKind::Save,
        }
    }
}

/// Kinds of hourly activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Views,
    Likes,
    Saves,
    Shares,
}

impl Activity {
    pub const ALL: [Activity; 4] = [
        Activity::Views,
        Activity::Likes,
        Activity::Saves,
        Activity::Shares,
    ];
    pub fn attr(self) -> &'static str {
        match self {
            Activity::Views => "views",
            Activity::Likes => "likes",
            Activity::Saves => "saves",
            Activity::Shares => "shares",
        }
    }
}

/// The shard of a video's activity buckets.
pub fn activity_shard(video_id: &str) -> u32 {
    crate::reco::feed::fingerprint(video_id) % keys::VIDEO_ACTIVITY_SHARDS
}

/// The key and update adding `by` to this hour's `activity` of the video (kept as long as the
/// platform's other hourly buckets; the trend window is shorter).
fn activity_update(video_id: &str, activity: Activity, by: i64) -> (Key, Update) {
    let now = Utc::now();
    let key = Key::new(
        keys::video_activity_pk(&hour_label(now), activity_shard(video_id)),
        video_id,
    );
    let update = Update::new()
        .add(activity.attr(), by)
        .set("video_id", video_id)
        .set(EXPIRES_AT, now.timestamp() + HOURLY_RETENTION_SECS);
    (key, update)
}

/// [`activity_update`] as a transaction operation.
fn activity_op(video_id: &str, activity: Activity, by: i64) -> TxOp {
    let (key, update) = activity_update(video_id, activity, by);
    TxOp::Update {
        key,
        update,
        condition: None,
    }
}

/// Best effort: activity feeds the trend score only, so a failure is logged, not returned.
async fn record_activity(store: &dyn ItemStore, video_id: &str, activity: Activity) {
    let (key, update) = activity_update(video_id, activity, 1);
    if let Err(e) = store.update(&key, update, None).await {
        tracing::warn!(error = %e, video_id, "could not count video activity");
    }
}

fn ready() -> Condition {
    status_is(VideoStatus::Ready)
}

/// The result of a toggle: the new state and the video's counter after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toggled {
    pub active: bool,
    pub count: u64,
}

/// Flips the user's like (save) of a ready video; see the module invariants.
pub async fn toggle(
    store: &dyn ItemStore,
    kind: Toggle,
    user_id: &str,
    video_id: &str,
) -> Result<Toggled, VideoError> {
    toggle_recorded(store, kind, user_id, video_id, false).await
}

/// [`toggle`], and with `record` the change in the user's interaction log (+1 on, -1 off, on
/// the video's product), concurrently with reading the new count.
pub async fn toggle_recorded(
    store: &dyn ItemStore,
    kind: Toggle,
    user_id: &str,
    video_id: &str,
    record: bool,
) -> Result<Toggled, VideoError> {
    let key = kind.key(user_id, video_id);
    let video_ready = TxOp::Check {
        key: keys::video(video_id),
        condition: ready(),
    };
    let counters_key = keys::video_counters(video_id);
    for attempt in 0..MAX_RETRIES {
        let video = get_ready(store, video_id).await?;
        let existing = store.get(&key).await?;
        let now_active = existing.is_none();
        let ops = if now_active {
            vec![
                TxOp::Put {
                    item: interaction_item(kind, &key, &video),
                    condition: Some(Condition::ItemNotExists),
                },
                video_ready.clone(),
                TxOp::Update {
                    key: counters_key.clone(),
                    update: Update::new().add(kind.counter(), 1),
                    condition: None,
                },
                activity_op(video_id, kind.activity(), 1),
            ]
        } else {
            vec![
                TxOp::Delete {
                    key: key.clone(),
                    condition: Some(Condition::ItemExists),
                },
                video_ready.clone(),
                TxOp::Update {
                    key: counters_key.clone(),
                    update: Update::new().add(kind.counter(), -1),
                    // The record exists, so the counter is at least 1; checked all the same.
                    condition: Some(Condition::ge(kind.counter(), 1)),
                },
                activity_op(video_id, kind.activity(), -1),
            ]
        };
        match store.transact(ops).await {
            Ok(()) => {
                let signal = Signal::new(
                    Actor::User(user_id.to_string()),
                    video.product_id.clone(),
                    kind.interaction(),
                )
                .count(if now_active { 1 } else { -1 });
                let (counts, ()) = futures::join!(
                    counts(store, video_id),
                    log::record_if(record, store, std::slice::from_ref(&signal))
                );
                let counts = counts?;
                let count = match kind {
                    Toggle::Like => counts.likes_count,
                    Toggle::Save => counts.saves_count,
                };
                return Ok(Toggled {
                    active: now_active,
                    count,
                });
            }
            // The record changed under us (another toggle won): retry on the new state.
            Err(StoreError::TransactionCanceled { failed }) if failed == [0] => {}
            // The video stopped being ready (deleted): the next read says 404.
            Err(StoreError::TransactionCanceled { .. }) => {}
            Err(StoreError::TransactionConflict) => {
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::TransactionConflict.into())
}

/// A few milliseconds, growing, with jitter from the clock (no RNG needed for this).
fn backoff(attempt: u32) -> Duration {
    let jitter = u64::from(Utc::now().timestamp_subsec_micros() % 1000);
    Duration::from_micros(500 * u64::from(attempt.min(8) + 1) + jitter)
}

/// A like/save record: which video, when, and the video's category and tags at that time (the
/// feed profile reads them without fetching the videos).
fn interaction_item(kind: Toggle, key: &Key, video: &VideoRecord) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.clone().into());
    item.insert(SK.into(), key.sk.clone().into());
    item.insert("entity".into(), kind.entity().into());
    let (gsi1pk, gsi1sk) = keys::video_ref_index(&video.id, key);
    item.insert(GSI1PK.into(), gsi1pk.into());
    item.insert(GSI1SK.into(), gsi1sk.into());
    item.insert("video_id".into(), video.id.clone().into());
    item.insert("category_id".into(), video.category_id.clone().into());
    item.insert("tags".into(), Value::from(video.tags.clone()));
    item.insert("created_at".into(), store::now_rfc3339().into());
    item
}

/// Whether the user likes / has saved the video.
pub async fn state(
    store: &dyn ItemStore,
    user_id: &str,
    video_id: &str,
) -> Result<(bool, bool), StoreError> {
    let found = store
        .batch_get(&[
            keys::video_like(user_id, video_id),
            keys::video_save(user_id, video_id),
        ])
        .await?;
    let has = |prefix: &str| {
        found.iter().any(|i| {
            i.get(SK)
                .and_then(Value::as_str)
                .is_some_and(|sk| sk.starts_with(prefix))
        })
    };
    Ok((has(keys::VIDEO_LIKE_PREFIX), has(keys::VIDEO_SAVE_PREFIX)))
}

/// Adds one share to a ready video; returns the new `shares_count`.
pub async fn share(store: &dyn ItemStore, video_id: &str) -> Result<u64, VideoError> {
    share_recorded(store, video_id, None).await
}

/// [`share`], and a share interaction of `record_as` on the video's product (`None`: none).
pub async fn share_recorded(
    store: &dyn ItemStore,
    video_id: &str,
    record_as: Option<&Actor>,
) -> Result<u64, VideoError> {
    let (count, product_id) = add_to_counter(store, video_id, "shares_count").await?;
    futures::join!(
        record_activity(store, video_id, Activity::Shares),
        record_on_product(store, record_as, product_id, InteractionKind::Share)
    );
    Ok(count)
}

/// Records one interaction of `actor` (if any) on the product.
async fn record_on_product(
    store: &dyn ItemStore,
    actor: Option<&Actor>,
    product_id: String,
    kind: InteractionKind,
) {
    if let Some(actor) = actor {
        log::record_logged(store, &[Signal::new(actor.clone(), product_id, kind)]).await;
    }
}

/// Adds one view to a ready video; returns the new `views_count`. A signed-in viewer's view is also remembered
/// as "watched to completion" (the client calls this when a video loops or was watched long
/// enough), which ranks the video lower in that user's later feed pages.
pub async fn view(
    store: &dyn ItemStore,
    video_id: &str,
    user_id: Option<&str>,
) -> Result<u64, VideoError> {
    view_recorded(store, video_id, user_id, None).await
}

/// [`view`], and a completed-view interaction of `record_as` on the video's product (`None`:
/// none), all written concurrently once the view is counted.
pub async fn view_recorded(
    store: &dyn ItemStore,
    video_id: &str,
    user_id: Option<&str>,
    record_as: Option<&Actor>,
) -> Result<u64, VideoError> {
    let (count, product_id) = add_to_counter(store, video_id, "views_count").await?;
    futures::join!(
        record_activity(store, video_id, Activity::Views),
        record_on_product(store, record_as, product_id, InteractionKind::VideoView),
        remember_watched(store, video_id, user_id)
    );
    Ok(count)
}

/// Marks the video as watched to completion by a signed-in viewer (best effort).
async fn remember_watched(store: &dyn ItemStore, video_id: &str, user_id: Option<&str>) {
    if let Some(user_id) = user_id {
        // Written once per user and video: the mark is on the video's `VIDEOREFS` index
        // partition (found again when the video is deleted), so it holds no counter that every
        // view would add to; later views fail the condition and write nothing.
        let key = keys::video_watch(user_id, video_id);
        let (gsi1pk, gsi1sk) = keys::video_ref_index(video_id, &key);
        let mut mark = Item::new();
        mark.insert(PK.into(), key.pk.clone().into());
        mark.insert(SK.into(), key.sk.clone().into());
        mark.insert("entity".into(), "video_watch".into());
        mark.insert(GSI1PK.into(), gsi1pk.into());
        mark.insert(GSI1SK.into(), gsi1sk.into());
        mark.insert("video_id".into(), video_id.into());
        mark.insert("watched_at".into(), store::now_rfc3339().into());
        match store.put(mark, Some(Condition::ItemNotExists)).await {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(e) => tracing::warn!(error = %e, video_id, "could not remember a watched video"),
        }
    }
}

/// Adds 1 to `counter` of a ready video; returns the new count and the video's product. The status is read first, then the counters item is
/// added to on condition that it exists: it is written with the record and deleted with it in
/// one transaction, so a video deleted meanwhile is not counted (and leaves no stray counters
/// item); a video that stopped being ready in between (a replaced file) may count one more view,
/// which nobody sees. A ready video without counters (written before they had their own item)
/// gets an empty one first.
async fn add_to_counter(
    store: &dyn ItemStore,
    video_id: &str,
    counter: &str,
) -> Result<(u64, String), VideoError> {
    let video = get_ready(store, video_id).await?;
    let key = keys::video_counters(video_id);
    let add = || {
        store.update(
            &key,
            Update::new().add(counter, 1),
            Some(Condition::ItemExists),
        )
    };
    let item = match add().await {
        Err(StoreError::ConditionFailed) => {
            get_ready(store, video_id).await?;
            match store
                .put(
                    super::counts_item(video_id, &super::VideoCounts::default())?,
                    Some(Condition::ItemNotExists),
                )
                .await
            {
                Ok(()) | Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
            add().await.map_err(|e| match e {
                StoreError::ConditionFailed => VideoError::NotFound,
                e => e.into(),
            })?
        }
        other => other?,
    };
    Ok((
        item.get(counter).and_then(Value::as_u64).unwrap_or(0),
        video.product_id,
    ))
}
