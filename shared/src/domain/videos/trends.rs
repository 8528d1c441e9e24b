//! The `video-trends` job: recomputes every ready video's `trend_score` in [0, 1] from its recent,
//! time-decayed activity, and writes the trending list the feed draws candidates from.
//!
//! ```text
//! activity(v) = sum over the hours h of the window of
//!               0.5^(age(h) / half_life) x (1 x views + 4 x likes + 4 x saves + 6 x shares)
//! trend(v)    = ln(1 + activity(v)) / ln(1 + max over videos of activity)
//! ```
//!
//! Net activity counts: an unlike takes its like back, so toggling cannot pump a score. The log
//! keeps one viral video from flattening everyone else to zero. Only scores that changed are
//! written, each with a condition that the video is still ready.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    domain::stats::hour_label,
    store::{self, Item, ItemStore, PK, Query, SK, StoreError, Update, keys},
};

use super::{VideoStatus, interactions::Activity, status_is};

/// Parameters of a run.
#[derive(Debug, Clone, Copy)]
pub struct TrendParams {
    /// Hours of activity read, the current one included.
    pub window_hours: u32,
    /// Age at which activity counts half.
    pub half_life_hours: f64,
    /// Length of the trending list.
    pub top: usize,
}

impl Default for TrendParams {
    fn default() -> Self {
        Self {
            window_hours: 72,
            half_life_hours: 24.0,
            top: 200,
        }
    }
}

/// Weight of each kind of activity.
fn weight(a: Activity) -> f64 {
    match a {
        Activity::Views => 1.0,
        Activity::Likes | Activity::Saves => 4.0,
        Activity::Shares => 6.0,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendReport {
    pub window_hours: u32,
    pub videos_with_activity: usize,
    pub ready_videos: usize,
    pub scores_updated: usize,
    pub trending_listed: usize,
    pub top: Vec<(String, f64)>,
    pub read_ms: u128,
    pub write_ms: u128,
}

/// Decayed activity per video id from the hourly buckets of the window ending at `now`.
pub async fn decayed_activity(
    store: &dyn ItemStore,
    now: DateTime<Utc>,
    params: &TrendParams,
) -> Result<HashMap<String, f64>, StoreError> {
    let buckets: Vec<(u32, String)> = (0..params.window_hours)
        .flat_map(|h| {
            let label = hour_label(now - Duration::hours(i64::from(h)));
            (0..keys::VIDEO_ACTIVITY_SHARDS).map(move |s| (h, keys::video_activity_pk(&label, s)))
        })
        .collect();
    let pages: Vec<(u32, Vec<Item>)> = futures::stream::iter(buckets)
        .map(|(age, pk)| async move {
            store::query_all(store, Query::table(pk))
                .await
                .map(|items| (age, items))
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let mut activity: HashMap<String, f64> = HashMap::new();
    for (age, items) in pages {
        let decay = 0.5f64.powf(f64::from(age) / params.half_life_hours.max(0.01));
        for item in items {
            let Some(id) = item.get(SK).and_then(Value::as_str) else {
                continue;
            };
            let raw: f64 = Activity::ALL
                .iter()
                .map(|a| weight(*a) * item.get(a.attr()).and_then(Value::as_f64).unwrap_or(0.0))
                .sum();
            *activity.entry(id.to_string()).or_default() += decay * raw;
        }
    }
    Ok(activity)
}

/// Scores in [0, 1] from decayed activity (see the module docs), rounded to 4 decimals.
pub fn trend_scores(activity: &HashMap<String, f64>) -> HashMap<String, f64> {
    let max = activity.values().copied().fold(0.0f64, f64::max);
    if max <= 0.0 {
        return HashMap::new();
    }
    let denominator = max.ln_1p();
    activity
        .iter()
        .filter(|(_, a)| **a > 0.0)
        .map(|(id, a)| {
            let s = (a.ln_1p() / denominator).clamp(0.0, 1.0);
            (id.clone(), (s * 10_000.0).round() / 10_000.0)
        })
        .collect()
}

/// Runs the job at `now`.
pub async fn recompute(
    store: &dyn ItemStore,
    now: DateTime<Utc>,
    params: &TrendParams,
) -> Result<TrendReport, StoreError> {
    let started = Instant::now();
    let activity = decayed_activity(store, now, params).await?;
    let scores = trend_scores(&activity);
    let ready = store::query_all(
        store,
        Query::gsi1(keys::READY_VIDEOS_PK).project(&["trend_score"]),
    )
    .await?;
    let read_ms = started.elapsed().as_millis();

    let started = Instant::now();
    let mut changes: Vec<(String, f64)> = Vec::new();
    let mut ranked: Vec<(String, f64)> = Vec::new();
    for item in &ready {
        let Some(pk) = item.get(PK).and_then(Value::as_str) else {
            continue;
        };
        let Some(id) = keys::video_id_of(pk) else {
            continue;
        };
        let old = item
            .get("trend_score")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let new = scores.get(id).copied().unwrap_or(0.0);
        if (new - old).abs() > 1e-9 {
            changes.push((id.to_string(), new));
        }
        if new > 0.0 {
            ranked.push((id.to_string(), new));
        }
    }
    let updated: Vec<bool> = futures::stream::iter(changes)
        .map(|(id, score)| async move {
            let result = store
                .update(
                    &keys::video(&id),
                    Update::new().set("trend_score", score),
                    Some(status_is(VideoStatus::Ready)),
                )
                .await;
            match result {
                Ok(_) => Ok(true),
                // Deleted (or no longer ready) since it was listed.
                Err(StoreError::ConditionFailed) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;

    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(params.top);
    let key = keys::trending_videos();
    let mut list = Item::new();
    list.insert(PK.into(), key.pk.into());
    list.insert(SK.into(), key.sk.into());
    list.insert("entity".into(), "trending_videos".into());
    list.insert(
        "video_ids".into(),
        json!(ranked.iter().map(|(id, _)| id).collect::<Vec<_>>()),
    );
    list.insert("computed_at".into(), store::now_rfc3339().into());
    store.put(list, None).await?;

    Ok(TrendReport {
        window_hours: params.window_hours,
        videos_with_activity: activity.len(),
        ready_videos: ready.len(),
        scores_updated: updated.into_iter().filter(|u| *u).count(),
        trending_listed: ranked.len(),
        top: ranked.into_iter().take(5).collect(),
        read_ms,
        write_ms: started.elapsed().as_millis(),
    })
}
