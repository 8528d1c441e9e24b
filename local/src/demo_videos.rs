//! Demo data of the shoppable-video feed (spec 004) for `local serve --demo`: videos linked to
//! demo products, each with a real, playable MP4 clip ([`crate::demo_mp4`]), then likes, saves,
//! views, shares and product views by demo customers through the same code the API runs (so
//! counters equal their records), then the `video-trends` job once. The feed is personalised
//! out of the box: each customer leans towards two categories.
//!
//! - The first [`FULL_CLIPS`] videos get a 64x112, 1.2 s clip (about 130 KB); later ones (the
//!   benchmark's 10,000) a 16x16 two-frame clip, so seeding stays fast and small.
//! - `customer000` is the "power user": up to [`POWER_USER_INTERACTIONS`] likes and saves.
//! - Idempotent: video ids are derived from their index; existing videos are left alone, and
//!   interactions are only seeded together with the videos.
//! - Each like, save, completed view, share and product view is also recorded in the
//!   interaction log on the video's product, at a time spread over the last
//!   [`demo_interactions::SPREAD_DAYS`] days ([`crate::demo_interactions`]).

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use shared::{
    AppState,
    domain::{
        catalog::{self, ProductRecord},
        users,
        videos::{
            self, NewVideo, VIDEO_CONTENT_TYPE, VideoCounts, VideoRecord, VideoStatus,
            interactions::{self, Toggle},
        },
        viewed,
    },
};

use shared::domain::interactions::{self as log, Actor, InteractionKind, Signal};

use crate::{demo::DEMO_CUSTOMER_PREFIX, demo_catalog::mix, demo_interactions, demo_mp4};

/// Seed of the demo videos (ids, titles, clips, counters).
pub const DEMO_VIDEO_SEED: u64 = 4004;
/// Videos with a full-size demo clip.
pub const FULL_CLIPS: usize = 36;
/// Likes and saves of `customer000` when there are enough videos.
pub const POWER_USER_INTERACTIONS: usize = 200;
/// Customers who interact (the others only browse).
const ACTIVE_CUSTOMERS: usize = 60;

const STYLES: [&str; 6] = [
    "review",
    "unboxing",
    "how-to",
    "haul",
    "setup",
    "first-look",
];

/// What was seeded.
#[derive(Debug, Default)]
pub struct VideosSeeded {
    pub videos: usize,
    pub existing: usize,
    pub likes: usize,
    pub saves: usize,
    pub views: usize,
    pub trending: usize,
    /// Signals recorded in the interaction log.
    pub interactions: usize,
}

/// The id of the `i`-th demo video.
pub fn demo_video_id(i: usize) -> String {
    uuid::Uuid::from_u64_pair(DEMO_VIDEO_SEED, i as u64).to_string()
}

pub async fn seed_videos(
    state: &AppState,
    n: usize,
    customers: usize,
) -> anyhow::Result<VideosSeeded> {
    let store = state.store.as_ref();
    let mut out = VideosSeeded::default();
    let mut products: Vec<ProductRecord> = catalog::list_all_products(store)
        .await?
        .into_iter()
        .filter(|p| p.code.starts_with("DEMO-") && p.is_active)
        .collect();
    if n == 0 || products.is_empty() {
        return Ok(out);
    }
    products.sort_by(|a, b| a.code.cmp(&b.code));
    let uploader = match users::find_by_login(store, "manager").await? {
        Some(u) => u.id,
        None => "demo".to_string(),
    };

    let now = Utc::now();
    let mut seeded: Vec<VideoRecord> = Vec::new();
    for i in 0..n {
        let id = demo_video_id(i);
        if videos::get(store, &id).await?.is_some() {
            out.existing += 1;
            continue;
        }
        let h = mix(DEMO_VIDEO_SEED ^ i as u64);
        let product = &products[(h % products.len() as u64) as usize];
        let style = STYLES[((h >> 8) % STYLES.len() as u64) as usize];
        let mut tags: Vec<String> = product.tags.iter().take(2).cloned().collect();
        tags.push(style.to_string());
        let clip = if i < FULL_CLIPS {
            demo_mp4::demo_mp4(h, 64, 112, 12, 10)?
        } else {
            demo_mp4::demo_mp4(h, 16, 16, 2, 10)?
        };
        let base = videos::pending_record(NewVideo {
            product_id: product.id.clone(),
            category_id: product.category_id.clone(),
            uploader_id: uploader.clone(),
            title: format!("{}: {}", product.name, style.replace('-', " ")),
            tags,
        });
        // Newest first: video 0 is the latest upload; a few minutes between uploads.
        let created = (now - Duration::minutes(7 * i as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let record = VideoRecord {
            blob_key: videos::blob_key(&id),
            id,
            status: VideoStatus::Ready,
            size: Some(clip.len() as u64),
            created_at: created.clone(),
            updated_at: created,
            ..base
        };
        state
            .blobs
            .put(&record.blob_key, clip.into(), VIDEO_CONTENT_TYPE)
            .await?;
        let counts = VideoCounts {
            views_count: (h >> 16) % 5000,
            shares_count: (h >> 32) % 40,
            ..Default::default()
        };
        videos::insert_with_counts(store, &record, &counts).await?;
        seeded.push(record);
    }
    out.videos = seeded.len();
    if seeded.is_empty() {
        return Ok(out);
    }
    seed_interactions(state, &seeded, customers, &mut out).await?;
    let report = jobs_fn::run(state, &jobs_fn::JobEvent::named(jobs_fn::Job::VideoTrends)).await?;
    out.trending = report["report"]["trending_listed"].as_u64().unwrap_or(0) as usize;
    Ok(out)
}

/// Each active customer likes and saves videos of two categories, watches a few and views a
/// product; `customer000` does much more (the benchmark's user with 200 interactions).
async fn seed_interactions(
    state: &AppState,
    seeded: &[VideoRecord],
    customers: usize,
    out: &mut VideosSeeded,
) -> anyhow::Result<()> {
    let store = state.store.as_ref();
    let mut by_category: BTreeMap<&str, Vec<&VideoRecord>> = BTreeMap::new();
    for v in seeded {
        by_category.entry(&v.category_id).or_default().push(v);
    }
    let categories: Vec<&Vec<&VideoRecord>> = by_category.values().collect();
    let k = categories.len();
    let now = Utc::now();
    let span = demo_interactions::SPREAD_DAYS * 24 * 3600;
    let mut signals = Vec::new();
    for c in 0..customers.min(ACTIVE_CUSTOMERS) {
        let login = format!("{DEMO_CUSTOMER_PREFIX}{c:03}");
        let Some(user) = users::find_by_login(store, &login).await? else {
            continue;
        };
        let h = mix(DEMO_VIDEO_SEED ^ 0xC0FFEE ^ c as u64);
        let first = categories[(h % k as u64) as usize];
        let second = categories[((h >> 20) % k as u64) as usize];
        let budget = if c == 0 {
            POWER_USER_INTERACTIONS.min(seeded.len() / 2)
        } else {
            8
        };
        // Round-robin over the two categories, then anything, until the budget is spent.
        let picks: Vec<&VideoRecord> = first
            .iter()
            .zip(second.iter())
            .flat_map(|(a, b)| [*a, *b])
            .chain(seeded.iter())
            .fold(Vec::new(), |mut acc, v| {
                if acc.len() < budget && !acc.iter().any(|x: &&VideoRecord| x.id == v.id) {
                    acc.push(v);
                }
                acc
            });
        let actor = Actor::User(user.id.clone());
        // The same log signals the API records, at times fixed by (customer, pick).
        let mut signal = |j: usize, product: &str, kind| {
            let h = mix(h ^ (j as u64 + 1) ^ kind as u64);
            let at = now - Duration::seconds(60 + (h % span as u64) as i64);
            signals.push(Signal::new(actor.clone(), product, kind).at(at));
        };
        for (j, v) in picks.iter().enumerate() {
            // Three likes for each save.
            let kind = if j % 4 == 3 {
                Toggle::Save
            } else {
                Toggle::Like
            };
            interactions::toggle(store, kind, &user.id, &v.id).await?;
            let logged = match kind {
                Toggle::Like => InteractionKind::Like,
                Toggle::Save => InteractionKind::Save,
            };
            signal(j, &v.product_id, logged);
            match kind {
                Toggle::Like => out.likes += 1,
                Toggle::Save => out.saves += 1,
            }
        }
        for (j, v) in picks.iter().take(3).enumerate() {
            interactions::view(store, &v.id, Some(&user.id)).await?;
            signal(j, &v.product_id, InteractionKind::VideoView);
            out.views += 1;
        }
        if let Some(v) = picks.first() {
            interactions::share(store, &v.id).await?;
            viewed::add(store, &user.id, &v.product_id).await?;
            signal(0, &v.product_id, InteractionKind::Share);
            signal(0, &v.product_id, InteractionKind::View);
        }
    }
    out.interactions = signals.len();
    log::record_bulk(store, &signals).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use shared::domain::videos::verify;

    use super::*;

    #[tokio::test]
    async fn demo_videos_are_ready_playable_and_reseed_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        crate::demo::seed(&state, 4).await.unwrap();
        crate::demo_catalog::seed_catalog(&state, 60).await.unwrap();
        let first = seed_videos(&state, 12, 4).await.unwrap();
        assert_eq!((first.videos, first.existing), (12, 0));
        assert!(first.likes > 0 && first.saves > 0 && first.trending > 0);

        let store = state.store.as_ref();
        let v = videos::get(store, &demo_video_id(0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v.status, VideoStatus::Ready);
        let clip = state.blobs.get(&v.blob_key).await.unwrap();
        assert!(verify::check_file(&clip.body).is_ok());
        assert!(v.trend_score >= 0.0 && v.trend_score <= 1.0);

        let again = seed_videos(&state, 12, 4).await.unwrap();
        assert_eq!((again.videos, again.existing, again.likes), (0, 12, 0));
    }
}
