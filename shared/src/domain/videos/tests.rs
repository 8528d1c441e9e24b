#![allow(clippy::unwrap_used)]

use std::{collections::HashSet, sync::Arc};

use bytes::Bytes;
use chrono::{Duration, Utc};

use super::{
    feed::{self, FeedCursor},
    interactions::{self, Toggle},
    trends::{self, TrendParams},
    verify::{self, Outcome, Rejection},
    *,
};
use crate::{
    ai::local::LocalEmbedder,
    blobs::local::LocalBlobs,
    domain::{
        catalog::snapshot::CatalogSnapshot,
        catalog::{self, NewCategory, NewProduct, ProductPatch, ProductRecord},
        viewed,
    },
    store::{Query, local::LocalStore},
};

/// The smallest file the check accepts: an `ftyp` box (isom, minor 0x200, two brands) and a
/// few bytes of payload.
pub(crate) fn tiny_mp4() -> Bytes {
    let mut v = vec![0, 0, 0, 24];
    v.extend_from_slice(b"ftypisom");
    v.extend_from_slice(&[0, 0, 2, 0]);
    v.extend_from_slice(b"isommp41");
    v.extend_from_slice(&[0, 0, 0, 8, b'f', b'r', b'e', b'e']);
    Bytes::from(v)
}

struct Fixture {
    store: Arc<dyn ItemStore>,
    blobs: Arc<LocalBlobs>,
    /// Two categories, three products each (the last of B inactive).
    products: Vec<ProductRecord>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
        let blobs = Arc::new(
            LocalBlobs::on_disk(dir.path().join("blobs"), "http://x/blobs".into(), b"secret")
                .unwrap(),
        );
        let embedder = LocalEmbedder::new(16);
        let mut products = Vec::new();
        for (c, cat) in ["Audio", "Garden"].iter().enumerate() {
            let category = catalog::create_category(
                store.as_ref(),
                NewCategory {
                    name: cat.to_string(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            for i in 0..3 {
                let p = catalog::create_product(
                    store.as_ref(),
                    &embedder,
                    NewProduct {
                        name: format!("{cat} thing {i}"),
                        code: format!("C{c}-{i}"),
                        price: crate::money::Cents(1000 + i * 100),
                        in_stock: true,
                        stock_quantity: 5,
                        category_id: category.id.clone(),
                        tags: vec![format!("{}-tag", cat.to_lowercase())],
                        is_active: true,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                products.push(p);
            }
        }
        let inactive = ProductPatch {
            is_active: Some(false),
            ..Default::default()
        };
        let last = products[5].id.clone();
        catalog::update_product(store.as_ref(), &embedder, &last, &inactive)
            .await
            .unwrap();
        products[5].is_active = false;
        Self {
            store,
            blobs,
            products,
            _dir: dir,
        }
    }

    fn snapshot(&self) -> CatalogSnapshot {
        CatalogSnapshot::new(1, self.products.clone(), Vec::new())
    }

    fn s(&self) -> &dyn ItemStore {
        self.store.as_ref()
    }

    /// A ready video of product `p` with tags, `minutes_ago` old.
    async fn video(&self, p: usize, tags: &[&str], minutes_ago: i64) -> VideoRecord {
        let product = &self.products[p];
        let created = (Utc::now() - Duration::minutes(minutes_ago))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let record = VideoRecord {
            status: VideoStatus::Ready,
            size: Some(tiny_mp4().len() as u64),
            created_at: created.clone(),
            updated_at: created,
            ..pending_record(NewVideo {
                product_id: product.id.clone(),
                category_id: product.category_id.clone(),
                uploader_id: "uploader".into(),
                title: format!("video of {}", product.name),
                tags: tags.iter().map(|t| t.to_string()).collect(),
            })
        };
        self.blobs
            .put(&record.blob_key, tiny_mp4(), VIDEO_CONTENT_TYPE)
            .await
            .unwrap();
        insert(self.s(), &record).await.unwrap();
        record
    }

    async fn pending(&self, p: usize) -> VideoRecord {
        let product = &self.products[p];
        create_pending(
            self.s(),
            NewVideo {
                product_id: product.id.clone(),
                category_id: product.category_id.clone(),
                uploader_id: "uploader".into(),
                title: "pending".into(),
                tags: vec![" Tech ".into(), "tech".into(), "".into()],
            },
        )
        .await
        .unwrap()
    }
}

async fn all_pages(f: &Fixture, user: Option<&str>, limit: usize, seed: u64) -> Vec<Vec<String>> {
    let snap = f.snapshot();
    let mut pages = Vec::new();
    let mut cursor = None;
    for _ in 0..50 {
        let page = feed::page(f.s(), &snap, user, limit, cursor, Some(seed))
            .await
            .unwrap();
        pages.push(ids(&page.entries));
        match page.next_cursor {
            Some(c) => cursor = Some(FeedCursor::decode(&c).unwrap()),
            None => return pages,
        }
    }
    panic!("the feed never ended");
}

fn ids(entries: &[feed::FeedEntry]) -> Vec<String> {
    entries.iter().map(|e| e.video.id.clone()).collect()
}

#[test]
fn the_mp4_check_wants_an_ftyp_box_first() {
    assert!(verify::is_mp4(&tiny_mp4()));
    assert!(verify::check_file(&tiny_mp4()).is_ok());
    assert!(!verify::is_mp4(
        b"hello, I am a text file renamed to clip.mp4"
    ));
    assert!(!verify::is_mp4(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10"));
    assert!(!verify::is_mp4(&tiny_mp4()[..12]), "truncated");
    let mut bad_size = tiny_mp4().to_vec();
    bad_size[3] = 23; // not header + brands in whole 4-byte steps
    assert!(!verify::is_mp4(&bad_size));
    let mut bad_brand = tiny_mp4().to_vec();
    bad_brand[8] = 0;
    assert!(!verify::is_mp4(&bad_brand));
    assert_eq!(verify::check_file(b""), Err(Rejection::Empty));
    assert_eq!(verify::check_file(b"text"), Err(Rejection::NotMp4));
}

#[test]
fn blob_keys_map_back_to_video_ids() {
    assert_eq!(video_id_of_blob_key(&blob_key("abc-1")), Some("abc-1"));
    assert_eq!(video_id_of_blob_key("videos/a/b/video.mp4"), None);
    assert_eq!(video_id_of_blob_key("models/x.json"), None);
    assert_eq!(video_id_of_blob_key("videos//video.mp4"), None);
}

#[tokio::test]
async fn verification_makes_videos_ready_or_failed_and_removes_refused_files() {
    let f = Fixture::new().await;
    let good = f.pending(0).await;
    assert_eq!(good.tags, ["tech"], "tags are normalised and deduplicated");
    f.blobs
        .put(&good.blob_key, tiny_mp4(), VIDEO_CONTENT_TYPE)
        .await
        .unwrap();
    let outcome = verify::verify_upload(f.s(), f.blobs.as_ref(), &good.blob_key)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Ready(good.id.clone()));
    let v = get(f.s(), &good.id).await.unwrap().unwrap();
    assert_eq!((v.status, v.size), (VideoStatus::Ready, Some(32)));
    let listed = f
        .s()
        .query(Query::gsi1(keys::READY_VIDEOS_PK))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1, "ready videos are indexed");
    // S3 may deliver an event twice.
    assert_eq!(
        verify::verify_upload(f.s(), f.blobs.as_ref(), &good.blob_key)
            .await
            .unwrap(),
        Outcome::AlreadyDone(good.id.clone())
    );

    let text = f.pending(1).await;
    f.blobs
        .put(
            &text.blob_key,
            Bytes::from_static(b"just some notes, renamed to .mp4\n"),
            VIDEO_CONTENT_TYPE,
        )
        .await
        .unwrap();
    let outcome = verify::verify_upload(f.s(), f.blobs.as_ref(), &text.blob_key)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Rejected(text.id.clone(), Rejection::NotMp4)
    );
    let v = get(f.s(), &text.id).await.unwrap().unwrap();
    assert_eq!(v.status, VideoStatus::Failed);
    assert!(v.failure_reason.unwrap().contains("not an MP4"));
    assert!(f.blobs.head(&text.blob_key).await.unwrap().is_none());
    assert!(matches!(
        get_ready(f.s(), &text.id).await,
        Err(VideoError::NotFound)
    ));

    let big = f.pending(2).await;
    let mut body = tiny_mp4().to_vec();
    body.resize(MAX_VIDEO_BYTES as usize + 1, 0);
    f.blobs
        .put(&big.blob_key, Bytes::from(body), VIDEO_CONTENT_TYPE)
        .await
        .unwrap();
    assert_eq!(
        verify::verify_upload(f.s(), f.blobs.as_ref(), &big.blob_key)
            .await
            .unwrap(),
        Outcome::Rejected(big.id.clone(), Rejection::TooLarge)
    );
    assert!(f.blobs.head(&big.blob_key).await.unwrap().is_none());

    // An upload for a video that no longer exists is removed; other keys are not ours.
    let orphan = blob_key("00000000-0000-4000-8000-000000000000");
    f.blobs
        .put(&orphan, tiny_mp4(), VIDEO_CONTENT_TYPE)
        .await
        .unwrap();
    assert!(matches!(
        verify::verify_upload(f.s(), f.blobs.as_ref(), &orphan)
            .await
            .unwrap(),
        Outcome::Orphan(_)
    ));
    assert!(f.blobs.head(&orphan).await.unwrap().is_none());
    assert_eq!(
        verify::verify_upload(f.s(), f.blobs.as_ref(), "banners/x.png")
            .await
            .unwrap(),
        Outcome::Ignored
    );
    // A pending video whose file never arrived stays pending.
    let waiting = f.pending(0).await;
    assert_eq!(
        verify::verify_upload(f.s(), f.blobs.as_ref(), &waiting.blob_key)
            .await
            .unwrap(),
        Outcome::Missing(waiting.id.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_toggles_leave_the_count_equal_to_the_records() {
    let f = Fixture::new().await;
    let v = f.video(0, &["tech"], 0).await;
    for kind in [Toggle::Like, Toggle::Save] {
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = f.store.clone();
                let id = v.id.clone();
                tokio::spawn(async move {
                    interactions::toggle(store.as_ref(), kind, "racer", &id).await
                })
            })
            .collect();
        let mut on = 0;
        for t in tasks {
            if t.await.unwrap().unwrap().active {
                on += 1;
            }
        }
        assert_eq!(on, 10, "every toggle flipped the state once");
        let after = super::counts(f.s(), &v.id).await.unwrap();
        let (liked, saved) = interactions::state(f.s(), "racer", &v.id).await.unwrap();
        let (count, record) = match kind {
            Toggle::Like => (after.likes_count, liked),
            Toggle::Save => (after.saves_count, saved),
        };
        assert_eq!(count, u64::from(record));
        assert_eq!(count, 0, "an even number of toggles ends where it started");
    }
    // Two users: the count is the number of records.
    for user in ["a", "b"] {
        let t = interactions::toggle(f.s(), Toggle::Like, user, &v.id)
            .await
            .unwrap();
        assert!(t.active);
    }
    let t = interactions::toggle(f.s(), Toggle::Like, "a", &v.id)
        .await
        .unwrap();
    assert_eq!((t.active, t.count), (false, 1));
}

#[tokio::test]
async fn shares_and_views_count_only_ready_videos() {
    let f = Fixture::new().await;
    let v = f.video(0, &[], 0).await;
    assert_eq!(interactions::share(f.s(), &v.id).await.unwrap(), 1);
    assert_eq!(interactions::share(f.s(), &v.id).await.unwrap(), 2);
    assert_eq!(interactions::view(f.s(), &v.id, None).await.unwrap(), 1);
    assert_eq!(
        interactions::view(f.s(), &v.id, Some("u")).await.unwrap(),
        2
    );
    let watched = f.s().get(&keys::video_watch("u", &v.id)).await.unwrap();
    assert!(watched.is_some(), "a signed-in view is remembered");
    // The counts are on the counters item, which has no index keys; the record has none of them.
    let counters = f
        .s()
        .get(&keys::video_counters(&v.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counters["shares_count"], 2);
    assert_eq!(counters["views_count"], 2);
    for attr in [GSI1PK, GSI2PK] {
        assert!(!counters.contains_key(attr), "{attr} on the counters item");
    }
    let record = f.s().get(&keys::video(&v.id)).await.unwrap().unwrap();
    assert!(record.contains_key(GSI1PK) && !record.contains_key("views_count"));
    let pending = f.pending(0).await;
    for result in [
        interactions::share(f.s(), &pending.id).await,
        interactions::view(f.s(), &pending.id, None).await,
        interactions::share(f.s(), "missing").await,
    ] {
        assert!(matches!(result, Err(VideoError::NotFound)));
    }
    assert!(matches!(
        interactions::toggle(f.s(), Toggle::Like, "u", "missing").await,
        Err(VideoError::NotFound)
    ));
    // Nothing was created for the missing video.
    assert!(f.s().get(&keys::video("missing")).await.unwrap().is_none());
    assert!(
        f.s()
            .get(&keys::video_like("u", "missing"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn update_and_delete_keep_indexes_and_remove_the_file() {
    let f = Fixture::new().await;
    let v = f.video(0, &["tech"], 0).await;
    let patch = VideoPatch {
        title: Some("New title".into()),
        tags: Some(vec!["Garden".into()]),
        product: Some((f.products[3].id.clone(), f.products[3].category_id.clone())),
    };
    let updated = update(f.s(), &v.id, &patch).await.unwrap();
    assert_eq!(updated.title, "New title");
    assert_eq!(updated.tags, ["garden"]);
    let in_new = f
        .s()
        .query(Query::gsi2(keys::category_videos_pk(
            &f.products[3].category_id,
        )))
        .await
        .unwrap();
    assert_eq!(in_new.items.len(), 1, "moved to the new category's index");
    // Likes of 130 users (more than a page of the index), a save and a watched mark.
    for u in 0..130 {
        interactions::toggle(f.s(), Toggle::Like, &format!("fan{u}"), &v.id)
            .await
            .unwrap();
    }
    interactions::toggle(f.s(), Toggle::Save, "fan0", &v.id)
        .await
        .unwrap();
    interactions::view(f.s(), &v.id, Some("fan0"))
        .await
        .unwrap();
    viewed::add(f.s(), "fan0", &f.products[0].id).await.unwrap();
    let other = f.video(1, &[], 0).await;
    interactions::toggle(f.s(), Toggle::Like, "fan0", &other.id)
        .await
        .unwrap();
    let deleted = delete(f.s(), f.blobs.as_ref(), &v.id).await.unwrap();
    assert_eq!(deleted.id, v.id);
    let refs = crate::store::query_all(f.s(), Query::gsi1(keys::video_refs_pk(&v.id)))
        .await
        .unwrap();
    assert!(refs.is_empty(), "{} marks left", refs.len());
    let left: Vec<String> = crate::store::query_all(
        f.s(),
        Query::table(keys::user_pk("fan0")).begins_with(keys::USER_VIDEO_PREFIX),
    )
    .await
    .unwrap()
    .iter()
    .filter_map(|i| i.get("SK").and_then(|s| s.as_str()).map(str::to_string))
    .collect();
    assert_eq!(
        left,
        [keys::VIEWED_SK.to_string(), format!("VLIKE#{}", other.id)],
        "other videos' marks and viewed products stay"
    );
    assert!(get(f.s(), &v.id).await.unwrap().is_none());
    assert!(
        f.s()
            .get(&keys::video_counters(&v.id))
            .await
            .unwrap()
            .is_none(),
        "the counters go with the record"
    );
    assert!(matches!(
        interactions::view(f.s(), &v.id, None).await,
        Err(VideoError::NotFound)
    ));
    assert!(
        f.s()
            .get(&keys::video_counters(&v.id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(f.blobs.head(&v.blob_key).await.unwrap().is_none());
    assert!(matches!(
        delete(f.s(), f.blobs.as_ref(), &v.id).await,
        Err(VideoError::NotFound)
    ));
    assert!(matches!(
        update(f.s(), &v.id, &patch).await,
        Err(VideoError::NotFound)
    ));
}

/// Writes `n` of each activity for `video` into the bucket of the hour `hours_ago`.
async fn activity(store: &dyn ItemStore, video: &str, hours_ago: i64, n: i64) {
    let label = crate::domain::stats::hour_label(Utc::now() - Duration::hours(hours_ago));
    let key = crate::store::Key::new(
        keys::video_activity_pk(&label, interactions::activity_shard(video)),
        video,
    );
    let mut update = Update::new();
    for a in interactions::Activity::ALL {
        update = update.add(a.attr(), n);
    }
    store.update(&key, update, None).await.unwrap();
}

async fn score(f: &Fixture, id: &str) -> f64 {
    get(f.s(), id).await.unwrap().unwrap().trend_score
}

#[tokio::test]
async fn trend_scores_are_in_the_unit_range_and_decay_with_age() {
    let f = Fixture::new().await;
    let fresh = f.video(0, &[], 0).await;
    let older = f.video(1, &[], 0).await;
    let quiet = f.video(2, &[], 0).await;
    let gone = f.video(3, &[], 0).await;
    activity(f.s(), &fresh.id, 0, 10).await;
    activity(f.s(), &older.id, 48, 10).await;
    activity(f.s(), &gone.id, 0, 5).await;
    activity(f.s(), &quiet.id, 100, 50).await; // outside the 72-hour window
    delete(f.s(), f.blobs.as_ref(), &gone.id).await.unwrap();

    let report = trends::recompute(f.s(), Utc::now(), &TrendParams::default())
        .await
        .unwrap();
    assert_eq!(report.ready_videos, 3);
    let (a, b, c) = (
        score(&f, &fresh.id).await,
        score(&f, &older.id).await,
        score(&f, &quiet.id).await,
    );
    assert_eq!(a, 1.0, "the most active video scores 1");
    assert!(b > 0.0 && b < a, "two half-lives old counts less: {b}");
    assert_eq!(c, 0.0);
    assert!(
        get(f.s(), &gone.id).await.unwrap().is_none(),
        "not recreated"
    );
    assert_eq!(
        feed::trending_ids(f.s()).await.unwrap(),
        [fresh.id.clone(), older.id.clone()]
    );

    // A week later nothing is recent: scores fall back to 0 and the list empties.
    let later = Utc::now() + Duration::hours(24 * 7);
    let report = trends::recompute(f.s(), later, &TrendParams::default())
        .await
        .unwrap();
    assert_eq!(report.scores_updated, 2);
    assert_eq!(score(&f, &fresh.id).await, 0.0);
    assert!(feed::trending_ids(f.s()).await.unwrap().is_empty());
}

#[tokio::test]
async fn toggling_cannot_pump_a_trend_score() {
    let f = Fixture::new().await;
    let v = f.video(0, &[], 0).await;
    for _ in 0..10 {
        interactions::toggle(f.s(), Toggle::Like, "pumper", &v.id)
            .await
            .unwrap();
    }
    let activity = trends::decayed_activity(f.s(), Utc::now(), &TrendParams::default())
        .await
        .unwrap();
    assert_eq!(activity.get(&v.id).copied().unwrap_or(0.0), 0.0);
}

#[tokio::test]
async fn the_profile_comes_from_likes_saves_and_product_views() {
    let f = Fixture::new().await;
    let audio = f.video(0, &["tech", "audio"], 0).await;
    let audio2 = f.video(1, &["tech"], 0).await;
    let garden = f.video(3, &["outdoor"], 0).await;
    interactions::toggle(f.s(), Toggle::Like, "u", &audio.id)
        .await
        .unwrap();
    interactions::toggle(f.s(), Toggle::Save, "u", &audio2.id)
        .await
        .unwrap();
    interactions::view(f.s(), &garden.id, Some("u"))
        .await
        .unwrap();
    viewed::add(f.s(), "u", &f.products[4].id).await.unwrap();
    let state = feed::load_user_state(f.s(), &f.snapshot(), "u")
        .await
        .unwrap();
    // Audio: like 2 + save 3; Garden: one product view (1).
    assert_eq!(
        state.profile.categories,
        [
            f.products[0].category_id.clone(),
            f.products[4].category_id.clone()
        ]
    );
    // tech 5, audio 2, garden-tag 1 (from the viewed product).
    assert_eq!(state.profile.tags, ["tech", "audio", "garden-tag"]);
    assert_eq!(state.liked, HashSet::from([audio.id.clone()]));
    assert_eq!(state.saved, HashSet::from([audio2.id.clone()]));
    assert_eq!(state.watched, HashSet::from([garden.id.clone()]));
}

#[tokio::test]
async fn the_feed_ranks_by_the_spec_score_and_marks_likes_and_saves() {
    let f = Fixture::new().await;
    // Old enough that "recent" does not favour them; no counters, so only the profile matters.
    let mut audio = Vec::new();
    for i in 0..3 {
        audio.push(f.video(i % 2, &["tech"], 100 + i as i64).await);
    }
    let mut garden = Vec::new();
    for i in 0..4 {
        garden.push(f.video(3 + i % 2, &["outdoor"], i as i64).await);
    }
    interactions::toggle(f.s(), Toggle::Save, "u", &audio[0].id)
        .await
        .unwrap();
    let snap = f.snapshot();
    let page = feed::page(f.s(), &snap, Some("u"), 3, None, Some(7))
        .await
        .unwrap();
    let first: HashSet<String> = ids(&page.entries).into_iter().collect();
    let audio_ids: HashSet<String> = audio.iter().map(|v| v.id.clone()).collect();
    assert_eq!(first, audio_ids, "category +2 and tag +1.5 beat randomness");
    for e in &page.entries {
        assert_eq!(e.score.category, 2.0);
        assert_eq!(e.score.tags, 1.5);
        assert!((0.0..0.5).contains(&e.score.random));
        assert_eq!(e.is_saved, e.video.id == audio[0].id);
        assert!(!e.is_liked);
    }
    // The saved video has one save but no likes: engagement counts views, likes and shares only.
    let saved = page
        .entries
        .iter()
        .find(|e| e.video.id == audio[0].id)
        .unwrap();
    assert_eq!(saved.score.engagement, 0.0);

    // The same seed gives the same page; anonymous callers get no profile terms.
    let again = feed::page(f.s(), &snap, Some("u"), 3, None, Some(7))
        .await
        .unwrap();
    assert_eq!(ids(&again.entries), ids(&page.entries));
    let anonymous = feed::page(f.s(), &snap, None, 10, None, Some(7))
        .await
        .unwrap();
    assert!(anonymous.entries.iter().all(|e| e.score.category == 0.0));
    // Product 5 is inactive: its videos are never shown.
    let inactive = f.video(5, &["outdoor"], 0).await;
    let all: Vec<String> = all_pages(&f, None, 4, 1).await.concat();
    assert_eq!(all.len(), 7);
    assert!(!all.contains(&inactive.id));
}

#[tokio::test]
async fn a_feed_session_never_repeats_a_video_and_reaches_them_all() {
    let f = Fixture::new().await;
    let mut all = HashSet::new();
    for i in 0..130 {
        all.insert(f.video(i % 5, &["t"], i as i64).await.id);
    }
    // Some pending videos are never served.
    let pending = f.pending(0).await;
    for (user, limit) in [(None, 7), (Some("u"), 50)] {
        let pages = all_pages(&f, user, limit, 3).await;
        let served: Vec<String> = pages.concat();
        let unique: HashSet<String> = served.iter().cloned().collect();
        assert_eq!(unique.len(), served.len(), "a video was repeated");
        assert_eq!(unique, all, "every ready video is reached");
        assert!(!unique.contains(&pending.id));
        assert!(pages.iter().all(|p| p.len() <= limit));
    }
}

#[tokio::test]
async fn watched_videos_rank_after_unwatched_ones() {
    let f = Fixture::new().await;
    let mut vs = Vec::new();
    for i in 0..6 {
        vs.push(f.video(0, &["tech"], i).await);
    }
    // Popular videos would come first...
    for v in &vs[..2] {
        for _ in 0..30 {
            interactions::share(f.s(), &v.id).await.unwrap();
        }
        // ...but this user watched them to the end.
        interactions::view(f.s(), &v.id, Some("u")).await.unwrap();
    }
    let pages = all_pages(&f, Some("u"), 2, 9).await;
    let order: Vec<String> = pages.concat();
    assert_eq!(order.len(), 6);
    let last_two: HashSet<&String> = order[4..].iter().collect();
    assert_eq!(last_two, HashSet::from([&vs[0].id, &vs[1].id]));
    // Someone else sees them first.
    let snap = f.snapshot();
    let other = feed::page(f.s(), &snap, Some("x"), 2, None, Some(9))
        .await
        .unwrap();
    let first: HashSet<String> = ids(&other.entries).into_iter().collect();
    assert_eq!(first, HashSet::from([vs[0].id.clone(), vs[1].id.clone()]));
}

#[test]
fn cursors_round_trip_and_garbage_is_refused() {
    let c = FeedCursor {
        seed: 42,
        served: vec![1, 2, u32::MAX],
    };
    assert_eq!(FeedCursor::decode(&c.encode()).unwrap(), c);
    for bad in ["", "!!!", "AQ", "AgAAAAAAAAAA", &c.encode()[..5]] {
        assert!(
            matches!(FeedCursor::decode(bad), Err(VideoError::BadCursor)),
            "{bad}"
        );
    }
    let too_long = FeedCursor {
        seed: 1,
        served: vec![0; feed::MAX_SESSION_VIDEOS + 1],
    };
    assert!(FeedCursor::decode(&too_long.encode()).is_err());
}

/// A ready video's file replaced behind its back (same size, other bytes) is caught by the next
/// object-created event: the video fails, leaves the ready index and the changed file is removed.
/// The same file again (a repeated event) changes nothing.
#[tokio::test]
async fn a_changed_file_under_a_ready_video_fails_it() {
    let f = Fixture::new().await;
    let video = f.pending(0).await;
    f.blobs
        .put(&video.blob_key, tiny_mp4(), VIDEO_CONTENT_TYPE)
        .await
        .unwrap();
    let outcome = verify::verify_upload(f.s(), f.blobs.as_ref(), &video.blob_key)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Ready(video.id.clone()));
    let item = f.s().get(&keys::video(&video.id)).await.unwrap().unwrap();
    let verified = f.blobs.head(&video.blob_key).await.unwrap().unwrap().etag;
    assert_eq!(
        item.get(verify::VERIFIED_ETAG).and_then(|v| v.as_str()),
        verified.as_deref(),
        "the verified file's entity tag is recorded"
    );
    assert_eq!(
        verify::verify_upload(f.s(), f.blobs.as_ref(), &video.blob_key)
            .await
            .unwrap(),
        Outcome::AlreadyDone(video.id.clone()),
        "the same file again: nothing changes"
    );

    // Same size, other bytes (an HTML page padded to the MP4's length).
    let mut html = b"<html>replaced</html>".to_vec();
    html.resize(tiny_mp4().len(), b' ');
    f.blobs
        .put(&video.blob_key, Bytes::from(html), VIDEO_CONTENT_TYPE)
        .await
        .unwrap();
    assert_eq!(
        verify::verify_upload(f.s(), f.blobs.as_ref(), &video.blob_key)
            .await
            .unwrap(),
        Outcome::Changed(video.id.clone())
    );
    let v = get(f.s(), &video.id).await.unwrap().unwrap();
    assert_eq!(v.status, VideoStatus::Failed);
    assert_eq!(
        v.failure_reason.as_deref(),
        Some(Rejection::Changed.message())
    );
    assert!(
        get_ready(f.s(), &video.id).await.is_err(),
        "no longer served"
    );
    let listed = f
        .s()
        .query(Query::gsi1(keys::READY_VIDEOS_PK))
        .await
        .unwrap();
    assert!(listed.items.is_empty(), "out of the ready index");
    assert!(
        f.blobs.head(&video.blob_key).await.unwrap().is_none(),
        "the changed file is removed"
    );
}
