//! Promotions and banners (`shared::domain::promotions`) on every store backend, the way
//! `segments_stores.rs` runs its checks: `memory`, `local_file`, and `dynamodb` on the AWS
//! emulator at `TEST_AWS_ENDPOINT` (ignored unless run with `--include-ignored`). What differs
//! between the backends: the conditional put of a banner record, the publish/unpublish
//! transactions (record with a version condition, the published copy, the version `ADD`), the
//! published-partition query the live-banner cache loads, the sharded counters and the reads
//! of a user's facts (batch get, reverse-index query).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use shared::testkit::faulty::{Call, Fault, Faulty};
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use shared::blobs::{BlobStore, local::LocalBlobs};
use shared::domain::promotions::{
    audience,
    cache::LiveBannerCache,
    records::{self, Banner, Publication, PublishError, Targeting},
    stats, targeting, texts,
};
use shared::domain::segments::{features, membership, records as segments};
use shared::store::{ItemStore, Update, keys};

shared::store_backends!(
    a_banner_is_its_record_and_its_image,
    a_failed_record_write_leaves_no_image,
    publish_and_unpublish_move_the_published_partition_and_the_version,
    the_cache_reloads_only_when_the_version_moves,
    impressions_and_clicks_add_up_over_the_shards,
    user_facts_come_from_features_and_segments,
    every_generated_text_is_audited,
);

// ---- helpers ------------------------------------------------------------------------------

fn blobs() -> LocalBlobs {
    LocalBlobs::in_memory(
        "http://127.0.0.1/blobs".into(),
        b"0123456789abcdef0123456789abcdef",
    )
    .unwrap()
}

fn banner(id: &str) -> Banner {
    Banner {
        id: id.into(),
        prompt: "Spring sale".into(),
        image_prompt: "Spring sale".into(),
        product_id: None,
        product_category: None,
        user_id: None,
        promotion_id: None,
        aspect_ratio: "1:1".into(),
        width: 64,
        height: 64,
        saved_path: records::blob_key(id),
        size: 4,
        model_backend: "local".into(),
        model_id: "local-banner-v1".into(),
        created_at: shared::store::now_rfc3339(),
        created_by: "admin".into(),
        is_published: false,
        target_audience: None,
        start_date: None,
        end_date: None,
        priority: None,
        published_at: None,
        published_by: None,
        version: 0,
    }
}

fn publication(priority: u8, target: Targeting) -> Publication {
    Publication {
        target_audience: target,
        start_date: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
        end_date: None,
        priority,
        by: "admin".into(),
    }
}

async fn create(store: &dyn ItemStore, blobs: &LocalBlobs, id: &str) {
    records::create(store, blobs, &banner(id), Bytes::from_static(b"\x89PNG"))
        .await
        .unwrap();
}

/// Fails the `put` of banner records (the record write after the image is stored).
fn failing_banner_puts(store: Arc<dyn ItemStore>) -> Faulty {
    Faulty::new(store, |call| {
        (matches!(call, Call::Put(_)) && call.pk().is_some_and(|pk| pk.starts_with("BANNER#")))
            .then_some(Fault::Fail)
    })
}

// ---- checks -------------------------------------------------------------------------------

async fn a_banner_is_its_record_and_its_image(store: Arc<dyn ItemStore>) {
    let blobs = blobs();
    create(store.as_ref(), &blobs, "banner_a").await;
    let got = records::get(store.as_ref(), "banner_a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        banner("banner_a").clone_with_created_at(&got.created_at)
    );
    assert_eq!(
        blobs
            .get("banners/banner_a.png")
            .await
            .unwrap()
            .body
            .as_ref(),
        b"\x89PNG"
    );
    // The same id again: refused, and the first image is kept.
    let again = records::create(
        store.as_ref(),
        &blobs,
        &banner("banner_a"),
        Bytes::from_static(b"other"),
    )
    .await;
    assert!(again.is_err());
    assert_eq!(
        blobs
            .get("banners/banner_a.png")
            .await
            .unwrap()
            .body
            .as_ref(),
        b"\x89PNG"
    );
}

trait CreatedAt {
    fn clone_with_created_at(&self, at: &str) -> Banner;
}

impl CreatedAt for Banner {
    fn clone_with_created_at(&self, at: &str) -> Banner {
        Banner {
            created_at: at.to_string(),
            ..self.clone()
        }
    }
}

async fn a_failed_record_write_leaves_no_image(store: Arc<dyn ItemStore>) {
    let failing = failing_banner_puts(store.clone());
    let blobs = blobs();
    let result = records::create(
        &failing,
        &blobs,
        &banner("banner_f"),
        Bytes::from_static(b"png"),
    )
    .await;
    assert!(result.is_err());
    assert!(blobs.list("banners/").await.unwrap().is_empty());
    assert!(
        records::get(store.as_ref(), "banner_f")
            .await
            .unwrap()
            .is_none()
    );
}

async fn publish_and_unpublish_move_the_published_partition_and_the_version(
    store: Arc<dyn ItemStore>,
) {
    let s = store.as_ref();
    let blobs = blobs();
    create(s, &blobs, "banner_p").await;
    assert_eq!(records::version(s).await.unwrap(), 0);
    let target = Targeting {
        cluster_ids: vec![0, 2],
        min_spend: Some(500.0),
        ..Default::default()
    };
    let published = records::publish(s, "banner_p", publication(8, target.clone()))
        .await
        .unwrap();
    assert_eq!((published.version, published.priority), (1, Some(8)));
    assert_eq!(records::version(s).await.unwrap(), 1);
    let live = records::load_published(s).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].target_audience.as_ref(), Some(&target));
    assert_eq!(
        records::get(s, "banner_p").await.unwrap().unwrap(),
        published
    );
    // Re-publishing replaces the targeting.
    records::publish(s, "banner_p", publication(3, Targeting::default()))
        .await
        .unwrap();
    let live = records::load_published(s).await.unwrap();
    assert_eq!((live.len(), live[0].priority), (1, Some(3)));
    let (after, was) = records::unpublish(s, "banner_p").await.unwrap();
    assert!(was && !after.is_published);
    assert!(records::load_published(s).await.unwrap().is_empty());
    assert_eq!(records::version(s).await.unwrap(), 3);
    // Unpublishing again changes nothing; unknown banners.
    let (_, was) = records::unpublish(s, "banner_p").await.unwrap();
    assert!(!was);
    assert_eq!(records::version(s).await.unwrap(), 3);
    assert!(matches!(
        records::publish(s, "banner_x", publication(5, Targeting::default())).await,
        Err(PublishError::NotFound)
    ));
    assert!(matches!(
        records::unpublish(s, "banner_x").await,
        Err(PublishError::NotFound)
    ));
}

async fn the_cache_reloads_only_when_the_version_moves(store: Arc<dyn ItemStore>) {
    let s = store.as_ref();
    let blobs = blobs();
    for id in ["banner_1", "banner_2"] {
        create(s, &blobs, id).await;
    }
    records::publish(s, "banner_1", publication(2, Targeting::default()))
        .await
        .unwrap();
    let cache = LiveBannerCache::new(Duration::ZERO);
    for _ in 0..3 {
        assert_eq!(cache.get(s).await.unwrap().banners.len(), 1);
    }
    assert_eq!(cache.loads(), 1);
    records::publish(s, "banner_2", publication(9, Targeting::default()))
        .await
        .unwrap();
    let snap = cache.get(s).await.unwrap();
    let ids: Vec<&str> = snap.banners.iter().map(|b| b.banner.id.as_str()).collect();
    assert_eq!(ids, ["banner_2", "banner_1"]);
    assert_eq!(cache.loads(), 2);
    // A cache that trusts its copy for a while does not even read the version.
    let slow = LiveBannerCache::new(Duration::from_secs(3600));
    slow.get(s).await.unwrap();
    records::unpublish(s, "banner_2").await.unwrap();
    assert_eq!(slow.get(s).await.unwrap().banners.len(), 2);
    slow.invalidate();
    assert_eq!(slow.get(s).await.unwrap().banners.len(), 1);
}

async fn impressions_and_clicks_add_up_over_the_shards(store: Arc<dyn ItemStore>) {
    let s = store.as_ref();
    let now = chrono::Utc::now();
    for _ in 0..20 {
        stats::record_impressions(s, &["banner_s", "banner_t"], now)
            .await
            .unwrap();
    }
    for _ in 0..5 {
        stats::record_click(s, "banner_s", now).await.unwrap();
    }
    let yesterday = now - chrono::Duration::days(1);
    stats::record_impressions(s, &["banner_s"], yesterday)
        .await
        .unwrap();
    let got = stats::stats(s, "banner_s").await.unwrap();
    assert_eq!((got.impressions, got.clicks), (21, 5));
    assert_eq!(got.click_rate, 23.81);
    let days: Vec<(String, i64, i64)> = got
        .daily
        .iter()
        .map(|d| (d.date.clone(), d.impressions, d.clicks))
        .collect();
    assert_eq!(
        days,
        [
            (yesterday.date_naive().to_string(), 1, 0),
            (now.date_naive().to_string(), 20, 5),
        ]
    );
    assert_eq!(stats::stats(s, "banner_t").await.unwrap().impressions, 20);
    let none = stats::stats(s, "banner_none").await.unwrap();
    assert_eq!(
        (none.impressions, none.click_rate, none.daily.len()),
        (0, 0.0, 0)
    );
}

async fn user_facts_come_from_features_and_segments(store: Arc<dyn ItemStore>) {
    let s = store.as_ref();
    let user = shared::domain::users::create(
        s,
        shared::domain::users::NewUser {
            email: "facts@example.com".into(),
            username: Some("facts".into()),
            first_name: "F".into(),
            last_name: "F".into(),
            phone: None,
            address: None,
            is_active: true,
            roles: vec![shared::auth::Role::Customer],
            password_hash: "x".into(),
        },
    )
    .await
    .unwrap();
    assert!(audience::user_facts(s, "nobody").await.unwrap().is_none());
    let bare = audience::user_facts(s, &user.id).await.unwrap().unwrap();
    assert_eq!(
        (bare.cluster, bare.monetary_cents, bare.last_order_at),
        (None, 0, None)
    );
    let at = chrono::Utc::now() - chrono::Duration::days(3);
    features::record_order(s, &user.id, 12_345, at, 1)
        .await
        .unwrap();
    s.update(
        &keys::user_profile_facts(&user.id),
        Update::new().set("country", "US").set("region", "NY"),
        None,
    )
    .await
    .unwrap();
    let mut rfm = segments::new_segment("Champions".into(), None, "rfm", json!({}), false);
    rfm.rfm_cluster = Some(json!({"cluster": 2}));
    segments::create(s, &rfm).await.unwrap();
    membership::install(s, &rfm, vec![user.id.clone()])
        .await
        .unwrap();
    let vip = segments::new_segment("VIP".into(), None, "manual", json!({}), false);
    segments::create(s, &vip).await.unwrap();
    membership::add_manual(s, &vip, &user.id).await.unwrap();
    let facts = audience::user_facts(s, &user.id).await.unwrap().unwrap();
    assert_eq!(facts.cluster, Some(2));
    assert_eq!(
        facts.cluster_segment.as_ref().map(|c| c.name.as_str()),
        Some("Champions")
    );
    let mut expected = vec![rfm.id.clone(), vip.id.clone()];
    expected.sort();
    assert_eq!(facts.segment_ids, expected);
    assert_eq!(
        (facts.monetary_cents, facts.last_order_at),
        (12_345, Some(at.timestamp()))
    );
    assert_eq!(
        (facts.country.as_deref(), facts.region.as_deref()),
        (Some("US"), Some("NY"))
    );
    assert_eq!(audience::rfm_clusters(s).await.unwrap().len(), 1);
    assert!(audience::rfm_cluster(s, 2).await.unwrap().is_some());
    assert!(audience::rfm_cluster(s, 0).await.unwrap().is_none());
    // And targeting on them.
    let blobs = blobs();
    create(s, &blobs, "banner_u").await;
    let published = records::publish(
        s,
        "banner_u",
        publication(
            5,
            Targeting {
                cluster_ids: vec![2],
                segment_ids: vec![vip.id.clone()],
                region: Some("ny".into()),
                min_spend: Some(123.45),
                max_recency_days: Some(4),
            },
        ),
    )
    .await
    .unwrap();
    let live = targeting::LiveBanner::of(published).unwrap();
    assert!(live.matches(&facts, chrono::Utc::now().timestamp()));
}

async fn every_generated_text_is_audited(store: Arc<dyn ItemStore>) {
    use shared::domain::promotions::{
        copy::SegmentFacts,
        generate::{TextInputs, generate_text},
    };
    let s = store.as_ref();
    let inputs = TextInputs {
        segment: SegmentFacts {
            id: Some(0),
            name: "Champions".into(),
            description: "Best customers".into(),
        },
        category: "Books".into(),
        product: None,
        context: Some("Summer".into()),
        user_id: Some("u1".into()),
        author: "admin".into(),
    };
    let text = generate_text(s, &shared::ai::local::LocalText::new(), &inputs)
        .await
        .unwrap();
    let day = chrono::Utc::now().date_naive();
    let audit = texts::list_day(s, day).await.unwrap();
    assert_eq!(audit, std::slice::from_ref(&text));
    assert_eq!(
        (text.source.as_str(), text.prompt_version.as_str()),
        ("template", "promotion-v1")
    );
    assert!(
        texts::list_day(s, day - chrono::Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}
