//! User segments (`shared::domain::segments`) on every store backend, the way
//! `store_contract.rs` runs its checks: `memory`, `local_file`, and `dynamodb` on the AWS
//! emulator at `TEST_AWS_ENDPOINT` (ignored unless run with `--include-ignored`). Unique names
//! (a marker in the segment's transaction), the generation switch (a conditional update), the
//! membership transactions and the features' `ADD`s are what differs between the backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use shared::testkit::faulty::{Call, Fault, Faulty};

use serde_json::json;
use shared::domain::segments::{
    features,
    membership::{self, RecomputeError, SegmentRef},
    performance,
    records::{self, RecordError, Segment},
};
use shared::store::{ItemStore, Query, keys};

shared::store_backends!(
    names_are_unique_and_a_rename_moves_the_marker,
    recompute_switches_generations_and_keeps_manual_members,
    a_failed_recompute_leaves_the_old_membership_in_force,
    a_stale_recompute_loses_to_the_one_that_switched_first,
    real_time_reevaluation_adds_and_removes_the_acting_user,
    an_older_order_does_not_move_the_latest_order_time_back,
    a_segments_day_rollup_is_spread_over_shards_and_summed_exactly,
);

// ---- helpers ------------------------------------------------------------------------------

fn rfm(name: &str, min_dollars: f64) -> Segment {
    records::new_segment(
        name.into(),
        None,
        "rfm",
        json!({"monetary_amount": {"min": min_dollars, "max": null}}),
        true,
    )
}

async fn spend(store: &dyn ItemStore, user: &str, cents: i64) {
    features::record_order(store, user, cents, chrono::Utc::now(), 1)
        .await
        .unwrap();
}

async fn names_of(store: &dyn ItemStore, user: &str) -> Vec<String> {
    membership::segments_of_user(store, user)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect()
}

async fn member_ids(store: &dyn ItemStore, s: &Segment) -> Vec<String> {
    let s = records::get(store, &s.id).await.unwrap().unwrap();
    membership::members_page(store, &s, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user_id)
        .collect()
}

/// Fails every `transact` (a recompute that dies while writing its generation).
fn failing_transactions(store: Arc<dyn ItemStore>) -> Faulty {
    Faulty::new(store, |call| {
        matches!(call, Call::Transact(_)).then_some(Fault::Fail)
    })
}

// ---- checks -------------------------------------------------------------------------------

async fn names_are_unique_and_a_rename_moves_the_marker(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let a = rfm("Big Spenders", 100.0);
    records::create(store, &a).await.unwrap();
    let b = rfm("big spenders", 5.0);
    assert!(matches!(
        records::create(store, &b).await,
        Err(RecordError::NameTaken)
    ));
    assert!(
        records::get(store, &b.id).await.unwrap().is_none(),
        "nothing of b written"
    );
    assert_eq!(records::list(store).await.unwrap().len(), 1);
    // Two creates racing for one name: exactly one wins.
    let (x, y) = (rfm("Race", 1.0), rfm("RACE", 2.0));
    let (rx, ry) = tokio::join!(records::create(store, &x), records::create(store, &y));
    assert_eq!(rx.is_ok() as u8 + ry.is_ok() as u8, 1, "{rx:?} {ry:?}");
    // A rename frees the old name and takes the new one in one transaction.
    let mut renamed = a.clone();
    renamed.name = "Whales".into();
    records::replace(store, &a, &mut renamed).await.unwrap();
    records::create(store, &b).await.unwrap();
    let mut clash = renamed.clone();
    clash.name = "big SPENDERS".into();
    assert!(matches!(
        records::replace(store, &renamed, &mut clash).await,
        Err(RecordError::NameTaken)
    ));
    // A stale version is refused.
    let mut stale = a.clone();
    stale.description = Some("late".into());
    assert!(matches!(
        records::replace(store, &a, &mut stale).await,
        Err(RecordError::Conflict)
    ));
    assert_eq!(
        records::by_name(store, "WHALES").await.unwrap().unwrap().id,
        a.id
    );
}

async fn recompute_switches_generations_and_keeps_manual_members(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let s = rfm("Over 100", 100.0);
    records::create(store, &s).await.unwrap();
    spend(store, "u1", 20_000).await;
    spend(store, "u2", 5_000).await;
    membership::add_manual(store, &s, "u3").await.unwrap();
    let n = membership::recompute_now(store, &s).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(member_ids(store, &s).await, ["u1", "u3"]);
    assert_eq!(names_of(store, "u1").await, ["Over 100"]);
    assert!(names_of(store, "u2").await.is_empty());
    let s1 = records::get(store, &s.id).await.unwrap().unwrap();
    assert!(s1.generation > 0);
    assert_eq!(membership::member_count(store, &s1).await.unwrap(), 2);
    // u2 spends more; u1 is cancelled down: the next run swaps them; u3 stays (manual).
    spend(store, "u2", 10_000).await;
    features::record_order(store, "u1", 20_000, chrono::Utc::now(), -1)
        .await
        .unwrap();
    let report = membership::refresh_all(store).await.unwrap();
    assert_eq!((report.segments, report.members), (1, 2), "{report:?}");
    assert_eq!(member_ids(store, &s).await, ["u2", "u3"]);
    assert!(names_of(store, "u1").await.is_empty());
    assert_eq!(names_of(store, "u3").await, ["Over 100"]);
    let s2 = records::get(store, &s.id).await.unwrap().unwrap();
    assert!(s2.generation > s1.generation);
    // The old generation is gone: members, reverse entries and counter.
    let old = store
        .query(Query::table(keys::segment_members_pk(&s.id, s1.generation)))
        .await
        .unwrap();
    assert!(old.items.is_empty());
    let reverse = store
        .query(Query::table(keys::user_segments_pk("u1")))
        .await
        .unwrap();
    assert!(reverse.items.is_empty(), "{:?}", reverse.items);
    assert!(
        store
            .get(&keys::segment_member_count(&s.id, s1.generation))
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_failed_recompute_leaves_the_old_membership_in_force(store: Arc<dyn ItemStore>) {
    let s = rfm("Over 50", 50.0);
    records::create(store.as_ref(), &s).await.unwrap();
    spend(store.as_ref(), "a", 6_000).await;
    membership::recompute_now(store.as_ref(), &s).await.unwrap();
    let before = records::get(store.as_ref(), &s.id).await.unwrap().unwrap();
    spend(store.as_ref(), "b", 9_000).await;
    let failing = failing_transactions(store.clone());
    let err = membership::recompute_now(&failing, &before)
        .await
        .unwrap_err();
    assert!(matches!(err, RecomputeError::Store(_)), "{err}");
    let report = membership::refresh_all(&failing).await.unwrap();
    assert_eq!(report.failed, vec![s.id.clone()]);
    let after = records::get(store.as_ref(), &s.id).await.unwrap().unwrap();
    assert_eq!(after.generation, before.generation, "not switched");
    assert_eq!(member_ids(store.as_ref(), &s).await, ["a"]);
    assert_eq!(names_of(store.as_ref(), "a").await, ["Over 50"]);
    assert!(names_of(store.as_ref(), "b").await.is_empty());
    // The next good run switches.
    membership::recompute_now(store.as_ref(), &after)
        .await
        .unwrap();
    assert_eq!(member_ids(store.as_ref(), &s).await, ["a", "b"]);
}

async fn a_stale_recompute_loses_to_the_one_that_switched_first(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let s = rfm("Over 1", 1.0);
    records::create(store, &s).await.unwrap();
    spend(store, "a", 500).await;
    membership::recompute_now(store, &s).await.unwrap();
    // `s` is the record as read before that switch: its run must not switch.
    let err = membership::recompute_now(store, &s).await.unwrap_err();
    assert!(matches!(err, RecomputeError::Concurrent(_)), "{err}");
    assert_eq!(member_ids(store, &s).await, ["a"]);
    assert_eq!(names_of(store, "a").await, ["Over 1"]);
}

async fn real_time_reevaluation_adds_and_removes_the_acting_user(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let s = rfm("Over 10", 10.0);
    records::create(store, &s).await.unwrap();
    membership::recompute_now(store, &s).await.unwrap();
    spend(store, "u", 2_000).await;
    assert!(membership::reevaluate_user(store, "u").await.unwrap());
    assert!(
        !membership::reevaluate_user(store, "u").await.unwrap(),
        "no change twice"
    );
    assert_eq!(names_of(store, "u").await, ["Over 10"]);
    let cur = records::get(store, &s.id).await.unwrap().unwrap();
    assert_eq!(membership::member_count(store, &cur).await.unwrap(), 1);
    features::record_order(store, "u", 2_000, chrono::Utc::now(), -1)
        .await
        .unwrap();
    assert!(membership::reevaluate_user(store, "u").await.unwrap());
    assert!(names_of(store, "u").await.is_empty());
    assert_eq!(membership::member_count(store, &cur).await.unwrap(), 0);
    // A manual member is never removed by re-evaluation; remove takes them out.
    assert!(membership::add_manual(store, &cur, "u").await.unwrap());
    assert!(!membership::reevaluate_user(store, "u").await.unwrap());
    assert_eq!(names_of(store, "u").await, ["Over 10"]);
    assert!(membership::remove(store, &cur, "u").await.unwrap());
    assert!(!membership::remove(store, &cur, "u").await.unwrap());
    assert!(names_of(store, "u").await.is_empty());
    assert_eq!(membership::member_count(store, &cur).await.unwrap(), 0);
}

async fn an_older_order_does_not_move_the_latest_order_time_back(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let t1 = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
        .unwrap()
        .to_utc();
    let t0 = t1 - chrono::Duration::days(30);
    features::record_order(store, "v", 1_000, t1, 1)
        .await
        .unwrap();
    features::record_order(store, "v", 2_000, t0, 1)
        .await
        .unwrap();
    let f = features::load_user(store, "v").await.unwrap();
    assert_eq!(f.last_order_at, Some(t1.timestamp()));
    assert_eq!((f.order_count, f.monetary_cents), (2, 3_000));
    features::record_order(store, "v", 2_000, t0, -1)
        .await
        .unwrap();
    let f = features::load_user(store, "v").await.unwrap();
    assert_eq!((f.order_count, f.monetary_cents), (1, 1_000));
}

async fn a_segments_day_rollup_is_spread_over_shards_and_summed_exactly(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let big = [SegmentRef {
        segment_id: "big".into(),
        name: "Everyone".into(),
        segment_type: "rfm".into(),
    }];
    let now = chrono::Utc::now();
    let orders = (0..40).map(|i| performance::record_order(store, &big, 1_000 + i, now, 1));
    futures::future::try_join_all(orders).await.unwrap();
    // A cancel takes one back out; an order two days ago is outside a one-day window.
    performance::record_order(store, &big, 1_000, now, -1)
        .await
        .unwrap();
    performance::record_order(store, &big, 500, now - chrono::Duration::days(2), 1)
        .await
        .unwrap();
    let today = now.date_naive();
    let day = performance::totals(store, "big", today, Some(1))
        .await
        .unwrap();
    // 40 orders of 1,000..1,039 cents (40,780) less the cancelled 1,000.
    assert_eq!((day.orders, day.revenue_cents), (39, 39_780));
    let three = performance::totals(store, "big", today, Some(3))
        .await
        .unwrap();
    assert_eq!((three.orders, three.revenue_cents), (40, 40_280));
    let items = shared::store::query_all(store, Query::table(keys::segment_days_pk("big")))
        .await
        .unwrap();
    // 42 writes over 8 shards of today and one of two days ago land on more than two items
    // (the chance that all 41 of today pick one shard is 8^-40).
    assert!(items.len() > 2, "{} items", items.len());
}
