//! The spec 000 personalization store code (`shared::domain::personalization`) on every store
//! backend: `memory`, `local_file`, and `dynamodb` on the AWS emulator at `TEST_AWS_ENDPOINT`
//! (ignored unless run with `--include-ignored`): the cache items (TTL attribute, expiry,
//! invalidation, another instance), and the engagement rollups written when interactions are
//! recorded (segment partitions, per-content segment attributes, day totals, shards summed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;
use shared::domain::interactions::{self, Actor, InteractionKind, Signal};
use shared::domain::personalization::{
    cache::{self, Hit, MemoryCache},
    rollups::{self, ALL},
    segments,
};
use shared::domain::users::{self, NewUser};
use shared::store::{EXPIRES_AT, ItemStore, keys};

shared::store_backends!(
    cache_hits_misses_expiry_and_invalidation,
    recorded_interactions_move_the_segment_content_and_total_rollups,
    bulk_recorded_interactions_move_the_rollups_as_recording_does,
);

async fn cache_hits_misses_expiry_and_invalidation(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let memory = MemoryCache::default();
    let key = cache::user_segments_key("u1");
    let calls = AtomicU32::new(0);
    let compute = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(Some(json!({"segments": ["18_24"]})))
    };
    let (c, hit) = cache::get_or_compute(&memory, store, &key, false, compute)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hit, Hit::Computed);
    assert_eq!(c.value["segments"][0], "18_24");
    let (_, hit) = cache::get_or_compute(&memory, store, &key, false, compute)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hit, Hit::Memory);
    // Another instance (its own memory) finds the store item.
    let (_, hit) = cache::get_or_compute(&MemoryCache::default(), store, &key, false, compute)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hit, Hit::Store);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // `fresh` recomputes.
    let (_, hit) = cache::get_or_compute(&memory, store, &key, true, compute)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hit, Hit::Computed);
    // The TTL attribute is an hour ahead.
    let item = store.get(&keys::perso_cache(&key)).await.unwrap().unwrap();
    let ttl = item[EXPIRES_AT].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!(
        (cache::CACHE_TTL_SECS - 10..=cache::CACHE_TTL_SECS).contains(&ttl),
        "{ttl}"
    );
    // Invalidation deletes both of the user's items.
    cache::put_stored(
        store,
        &cache::user_content_key("u1"),
        json!({"content": []}),
    )
    .await
    .unwrap();
    cache::invalidate_user(store, "u1").await.unwrap();
    assert!(cache::get_stored(store, &key).await.unwrap().is_none());
    assert!(
        cache::get_stored(store, &cache::user_content_key("u1"))
            .await
            .unwrap()
            .is_none()
    );
    let (_, hit) = cache::get_or_compute(&MemoryCache::default(), store, &key, false, compute)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hit, Hit::Computed);
    // An item past its expires_at is a miss (TTL deletion lags; moto never deletes).
    let mut item = store.get(&keys::perso_cache(&key)).await.unwrap().unwrap();
    item.insert(EXPIRES_AT.into(), json!(chrono::Utc::now().timestamp() - 1));
    store.put(item, None).await.unwrap();
    assert!(cache::get_stored(store, &key).await.unwrap().is_none());
    // Unknown (compute answers None): nothing stored.
    let none = cache::get_or_compute(&memory, store, "user:x:segments", false, || async {
        Ok(None)
    })
    .await
    .unwrap();
    assert!(none.is_none());
    assert!(
        cache::get_stored(store, "user:x:segments")
            .await
            .unwrap()
            .is_none()
    );
}

/// A customer born in 1960 (segment `45_plus`), `<name>@example.com`.
async fn born_1960(store: &dyn ItemStore, name: &str) -> users::UserRecord {
    let created = users::create(
        store,
        NewUser {
            email: format!("{}@example.com", name.to_lowercase()),
            username: None,
            first_name: name.into(),
            last_name: "T".into(),
            phone: None,
            address: None,
            is_active: true,
            roles: vec![],
            password_hash: "x".into(),
        },
    )
    .await
    .unwrap();
    users::update(store, &created.id, |u| {
        u.date_of_birth = Some("1960-01-01".into());
        true
    })
    .await
    .unwrap()
}

async fn recorded_interactions_move_the_segment_content_and_total_rollups(
    store: Arc<dyn ItemStore>,
) {
    let store = store.as_ref();
    let user = born_1960(store, "Ana").await;
    let me = Actor::User(user.id.clone());
    let guest = Actor::Guest("2f1d6c1e-0d7b-4b7e-9a7e-3d5c1b0a9e11".into());
    // Several signals in one call (one shard each), another call, and a guest's.
    interactions::record(
        store,
        &[
            Signal::new(me.clone(), "p1", InteractionKind::View),
            Signal::new(me.clone(), "p1", InteractionKind::View),
            Signal::new(me.clone(), "p1", InteractionKind::Cart),
            Signal::new(me.clone(), "p2", InteractionKind::RecClick),
        ],
    )
    .await
    .unwrap();
    interactions::record(
        store,
        &[Signal::new(me.clone(), "p1", InteractionKind::Purchase)],
    )
    .await
    .unwrap();
    interactions::record(
        store,
        &[Signal::new(guest, "p1", InteractionKind::VideoView)],
    )
    .await
    .unwrap();
    // The recording cached the user's segments: 45_plus, new_user.
    let ids = segments::ids_for_recording(store, &user.id).await.unwrap();
    assert_eq!(ids, ["45_plus", "new_user"]);
    let days = rollups::period(chrono::Utc::now().date_naive(), 2);
    let seg = rollups::segment_engagement(store, "45_plus", &days)
        .await
        .unwrap();
    let p1 = seg["p1"];
    assert_eq!(
        (p1.views, p1.clicks, p1.add_to_carts, p1.purchases),
        (2, 0, 1, 1)
    );
    assert_eq!(seg["p2"].clicks, 1);
    let content = rollups::content_engagement(store, &["p1".to_string()], &days)
        .await
        .unwrap();
    assert_eq!(content["p1"][ALL].views, 3);
    assert_eq!(content["p1"]["45_plus"].views, 2);
    assert_eq!(content["p1"]["new_user"].purchases, 1);
    assert!(!content["p1"].contains_key("25_34"));
    // Totals: the user's 2 + 3 + 5 + 2 = 12 in each of their segments, plus the guest's view
    // for everyone.
    let totals = rollups::totals(store, &days).await.unwrap();
    assert_eq!(totals["45_plus"], 12);
    assert_eq!(totals["new_user"], 12);
    assert_eq!(totals[ALL], 13);
}

async fn bulk_recorded_interactions_move_the_rollups_as_recording_does(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let user = born_1960(store, "Bo").await;
    let me = Actor::User(user.id.clone());
    let guest = Actor::Guest("2f1d6c1e-0d7b-4b7e-9a7e-3d5c1b0a9e12".into());
    // The same signals as the recording test, in one bulk call (demo seeding, imports), with
    // a withdrawn view (count -1) and a kind that is not counted.
    let mut signals = vec![
        Signal::new(me.clone(), "p1", InteractionKind::View),
        Signal::new(me.clone(), "p1", InteractionKind::View),
        Signal::new(me.clone(), "p1", InteractionKind::View),
        Signal::new(me.clone(), "p1", InteractionKind::View).count(-1),
        Signal::new(me.clone(), "p1", InteractionKind::Cart),
        Signal::new(me.clone(), "p2", InteractionKind::RecClick),
        Signal::new(me.clone(), "p1", InteractionKind::Purchase),
        Signal::new(me.clone(), "p2", InteractionKind::Like),
        Signal::new(guest, "p1", InteractionKind::VideoView),
    ];
    // Many of one item (merged into one update per item; chunking is tested in the unit tests).
    for _ in 0..30 {
        signals.push(Signal::new(me.clone(), "p3", InteractionKind::View));
    }
    interactions::record_bulk(store, &signals).await.unwrap();
    let days = rollups::period(chrono::Utc::now().date_naive(), 2);
    let seg = rollups::segment_engagement(store, "45_plus", &days)
        .await
        .unwrap();
    let p1 = seg["p1"];
    assert_eq!(
        (p1.views, p1.clicks, p1.add_to_carts, p1.purchases),
        (2, 0, 1, 1)
    );
    assert_eq!(seg["p2"].clicks, 1);
    assert_eq!(seg["p3"].views, 30);
    let content = rollups::content_engagement(store, &["p1".to_string()], &days)
        .await
        .unwrap();
    assert_eq!(content["p1"][ALL].views, 3);
    assert_eq!(content["p1"]["45_plus"].views, 2);
    let totals = rollups::totals(store, &days).await.unwrap();
    assert_eq!(totals["45_plus"], 12 + 30);
    assert_eq!(totals[ALL], 13 + 30);
}
