//! Request validation, the public `assignment` / `count` entry points, and the per-instance
//! cache on the in-memory store (the store-dependent checks on every backend are in
//! `shared/tests/experiments_stores.rs`).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::store::local::LocalStore;

fn fields(body: Value) -> Vec<String> {
    let mut f: Vec<String> = parse_new(&body)
        .unwrap_err()
        .into_iter()
        .map(|e| e.field)
        .collect();
    f.sort();
    f
}

fn arm(name: &str, share: Value) -> Value {
    json!({"name": name, "config_id": "default-hybrid", "traffic_share": share})
}

#[test]
fn a_valid_request_parses() {
    let new = parse_new(&json!({
        "name": "  blend weights  ",
        "description": "more ALS",
        "recommendation_type": "homepage",
        "arms": [arm("control", json!(33.34)), arm("b", json!(33.33)), arm("c", json!(33.33))],
    }))
    .unwrap();
    assert_eq!(new.name, "blend weights");
    assert_eq!(new.recommendation_type, "homepage");
    assert_eq!(new.arms.len(), 3);
    assert_eq!(new.arms[0].basis_points(), 3_334);
    for t in RECOMMENDATION_TYPES {
        let body = json!({"name": "x", "recommendation_type": t,
            "arms": [arm("a", json!(50)), arm("b", json!(50))]});
        assert!(parse_new(&body).is_ok(), "{t}");
    }
}

#[test]
fn bad_requests_name_each_field() {
    // Shares that do not sum to 100.
    let r = parse_new(&json!({"name": "x", "recommendation_type": "cart",
        "arms": [arm("a", json!(50)), arm("b", json!(40))]}))
    .unwrap_err();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].field, "arms");
    assert!(r[0].message.contains("sum to 90"), "{}", r[0].message);
    let r = parse_new(&json!({"name": "x", "recommendation_type": "cart",
        "arms": [arm("a", json!(60)), arm("b", json!(40.5))]}))
    .unwrap_err();
    assert!(r[0].message.contains("sum to 100.5"), "{}", r[0].message);
    // Fewer than two arms, and more than eight.
    assert_eq!(
        fields(json!({"name": "x", "recommendation_type": "cart", "arms": [arm("a", json!(100))]})),
        ["arms", "arms[0].traffic_share"]
    );
    let many: Vec<Value> = (0..9).map(|i| arm(&format!("a{i}"), json!(10))).collect();
    let r =
        parse_new(&json!({"name": "x", "recommendation_type": "cart", "arms": many})).unwrap_err();
    assert!(
        r.iter()
            .any(|e| e.field == "arms" && e.message.contains("2 to 8"))
    );
    // Everything missing.
    assert_eq!(fields(json!({})), ["arms", "name", "recommendation_type"]);
    assert_eq!(fields(json!([1])), ["body"]);
    // Unknown type, bad arm fields, a repeated name.
    let r = fields(
        json!({"name": "x", "recommendation_type": "popular", "arms": [
            {"name": "has space", "config_id": 5, "traffic_share": "50"},
            {"config_id": "default-hybrid", "traffic_share": 0},
            arm("b", json!(50)), arm("B", json!(50)), 7,
        ]}),
    );
    assert_eq!(
        r,
        [
            "arms[0].config_id",
            "arms[0].name",
            "arms[0].traffic_share",
            "arms[1].name",
            "arms[1].traffic_share",
            "arms[3].name",
            "arms[4]",
            "recommendation_type",
        ]
    );
    assert_eq!(
        fields(json!({"name": "x", "recommendation_type": "cart", "arms": {"a": 1}})),
        ["arms"]
    );
    assert_eq!(
        fields(json!({"name": "", "recommendation_type": "cart",
            "arms": [arm("a", json!(50)), arm("b", json!(50.001))]})),
        ["arms[1].traffic_share", "name"]
    );
}

async fn arm_users(store: &LocalStore, e: &Experiment, arm: &str) -> u64 {
    results(store, e)
        .await
        .unwrap()
        .arms
        .into_iter()
        .find(|r| r.arm == arm)
        .unwrap()
        .users
}

async fn running_store() -> (LocalStore, Experiment) {
    let store = LocalStore::in_memory().unwrap();
    configs::ensure_defaults(&store).await.unwrap();
    let new = parse_new(&json!({"name": "x", "recommendation_type": "homepage",
    "arms": [
        {"name": "control", "config_id": "default-hybrid", "traffic_share": 50},
        {"name": "b", "config_id": "default-ease", "traffic_share": 50},
    ]}))
    .unwrap();
    let e = create(&store, new, None).await.unwrap();
    (store, e)
}

/// The entry points serving and tracking call, on the (uncached) in-memory store.
#[tokio::test]
async fn assignment_and_count_as_serving_and_tracking_call_them() {
    let store = LocalStore::in_memory().unwrap();
    assert_eq!(assignment(&store, "homepage", "u1").await.unwrap(), None);
    let (store, e) = {
        drop(store);
        running_store().await
    };
    let a = assignment(&store, "homepage", "u1").await.unwrap().unwrap();
    assert_eq!(a.arm.experiment_id, e.id);
    assert_eq!(
        a,
        assignment(&store, "homepage", "u1").await.unwrap().unwrap()
    );
    count(&store, &a.arm, ArmEvent::Impressions(4))
        .await
        .unwrap();
    count(&store, &a.arm, ArmEvent::Click).await.unwrap();
    count(
        &store,
        &a.arm,
        ArmEvent::Conversion {
            revenue_cents: 1999,
        },
    )
    .await
    .unwrap();
    let r = results(&store, &e).await.unwrap();
    let mine = r.arms.iter().find(|x| x.arm == a.arm.arm).unwrap();
    assert_eq!(
        (
            mine.users,
            mine.impressions,
            mine.clicks,
            mine.conversions,
            mine.revenue_cents
        ),
        (1, 4, 1, 1, 1999)
    );
    assert!((mine.revenue_per_user_cents - 1999.0).abs() < 1e-9);
    // An unknown arm counts harmlessly (a stopped experiment's late events too).
    let other = ArmRef {
        experiment_id: "gone".into(),
        arm: "x".into(),
    };
    count(&store, &other, ArmEvent::Click).await.unwrap();
}

#[tokio::test]
async fn the_cache_answers_within_its_lifetime_and_skips_counted_actors() {
    let store = LocalStore::in_memory().unwrap();
    configs::ensure_defaults(&store).await.unwrap();
    let cache = RunningCache::new(Duration::from_secs(3600));
    // Nothing runs: remembered.
    assert_eq!(
        assignment_with(Some(&cache), &store, "homepage", "u1")
            .await
            .unwrap(),
        None
    );
    let new = parse_new(&json!({"name": "x", "recommendation_type": "homepage",
    "arms": [
        {"name": "control", "config_id": "default-hybrid", "traffic_share": 50},
        {"name": "b", "config_id": "default-ease", "traffic_share": 50},
    ]}))
    .unwrap();
    let e = create(&store, new, None).await.unwrap();
    // Still the cached absence: no store read.
    assert_eq!(
        assignment_with(Some(&cache), &store, "homepage", "u1")
            .await
            .unwrap(),
        None
    );
    cache.invalidate();
    let a = assignment_with(Some(&cache), &store, "homepage", "u1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.arm.experiment_id, e.id);
    assert_eq!(arm_users(&store, &e, &a.arm.arm).await, 1);
    // With the marker gone, an uncached call counts the actor again; the cache knows it
    // counted u1 and writes nothing.
    store
        .delete(&keys::experiment_participant(&e.id, "u1"), None)
        .await
        .unwrap();
    assignment_with(Some(&cache), &store, "homepage", "u1")
        .await
        .unwrap();
    assert_eq!(arm_users(&store, &e, &a.arm.arm).await, 1);
    assignment_with(None, &store, "homepage", "u1")
        .await
        .unwrap();
    assert_eq!(arm_users(&store, &e, &a.arm.arm).await, 2);

    // A zero lifetime reads every time: the stop is seen at once.
    let (store2, e2) = running_store().await;
    let short = RunningCache::new(Duration::ZERO);
    assert!(
        assignment_with(Some(&short), &store2, "homepage", "u1")
            .await
            .unwrap()
            .is_some()
    );
    stop(&store2, &e2.id, false).await.unwrap();
    assert_eq!(
        assignment_with(Some(&short), &store2, "homepage", "u1")
            .await
            .unwrap(),
        None
    );
}
