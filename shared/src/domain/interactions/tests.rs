use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::store::local::LocalStore;

/// The raw events of one day, oldest first, queried shard by shard (the analytics rebuild finds
/// the same items in its scan).
async fn events_of_day(
    store: &dyn ItemStore,
    day: chrono::NaiveDate,
) -> StoreResult<Vec<RawEvent>> {
    let reads = event_pks_of_day(day).map(|pk| query_all(store, Query::table(pk)));
    let mut out: Vec<RawEvent> = try_join_all(reads)
        .await?
        .iter()
        .flatten()
        .filter_map(raw_event_of)
        .collect();
    out.sort_by_key(|e| e.4);
    Ok(out)
}

fn store() -> LocalStore {
    LocalStore::in_memory().expect("store")
}

fn user(id: &str) -> Actor {
    Actor::User(id.into())
}

#[tokio::test]
async fn aggregates_add_per_kind_and_weights_apply_on_read() {
    let s = store();
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
        .single()
        .expect("t");
    record(
        &s,
        &[
            Signal::new(user("u1"), "p1", InteractionKind::View).at(t0),
            Signal::new(user("u1"), "p1", InteractionKind::View).at(t0 + Duration::minutes(1)),
            Signal::new(user("u1"), "p1", InteractionKind::Cart).at(t0 + Duration::minutes(2)),
            Signal::new(user("u1"), "p2", InteractionKind::Purchase).at(t0),
            Signal::new(Actor::Guest("c9".into()), "p2", InteractionKind::View).at(t0),
        ],
    )
    .await
    .expect("record");

    let (history, excluded) = actor_history(&s, &user("u1"), &KindWeights::default())
        .await
        .expect("history");
    // p1: 2 views + 1 cart = 5, latest at t0+2min, so first; p2: 1 purchase = 5.
    assert_eq!(
        history,
        vec![("p1".to_string(), 5.0), ("p2".to_string(), 5.0)]
    );
    assert!(excluded.is_empty());

    let mut all = training_interactions(&s, &KindWeights::default())
        .await
        .expect("all");
    all.sort_by(|a, b| (&a.user, &a.item).cmp(&(&b.user, &b.item)));
    let summary: Vec<(&str, &str, f32, i64)> = all
        .iter()
        .map(|i| (i.user.as_str(), i.item.as_str(), i.weight, i.timestamp))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("guest:c9", "p2", 1.0, t0.timestamp()),
            ("u1", "p1", 5.0, (t0 + Duration::minutes(2)).timestamp()),
            ("u1", "p2", 5.0, t0.timestamp()),
        ]
    );
}

#[tokio::test]
async fn a_withdrawn_purchase_and_not_interested_leave_training() {
    let s = store();
    record(
        &s,
        &[
            Signal::new(user("u"), "p1", InteractionKind::Purchase),
            Signal::new(user("u"), "p1", InteractionKind::Purchase).count(-1),
            Signal::new(user("u"), "p2", InteractionKind::View),
            Signal::new(user("u"), "p2", InteractionKind::NotInterested),
            Signal::new(user("u"), "p3", InteractionKind::Like),
        ],
    )
    .await
    .expect("record");
    let all = training_interactions(&s, &KindWeights::default())
        .await
        .expect("all");
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].item.as_str(), all[0].weight), ("p3", 2.0));
    let (history, excluded) = actor_history(&s, &user("u"), &KindWeights::default())
        .await
        .expect("history");
    assert_eq!(history, vec![("p3".to_string(), 2.0)]);
    assert_eq!(excluded, vec!["p2".to_string()]);
}

#[tokio::test]
async fn histories_of_users_sharing_a_prefix_stay_apart() {
    let s = store();
    record(
        &s,
        &[
            Signal::new(user("ab"), "p1", InteractionKind::View),
            Signal::new(user("a"), "p2", InteractionKind::View),
        ],
    )
    .await
    .expect("record");
    let (h, _) = actor_history(&s, &user("a"), &KindWeights::default())
        .await
        .expect("history");
    assert_eq!(h, vec![("p2".to_string(), 1.0)]);
}

#[tokio::test]
async fn hourly_activity_and_raw_events_are_kept() {
    let s = store();
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 1, 10, 30, 0)
        .single()
        .expect("t");
    record(
        &s,
        &[
            Signal::new(user("u1"), "p1", InteractionKind::View).at(t0),
            Signal::new(user("u2"), "p1", InteractionKind::Cart).at(t0),
            Signal::new(user("u2"), "p2", InteractionKind::View).at(t0 + Duration::hours(1)),
            // Outside the window read below.
            Signal::new(user("u2"), "p2", InteractionKind::View).at(t0 + Duration::hours(3)),
        ],
    )
    .await
    .expect("record");
    let act = product_activity(
        &s,
        t0 - Duration::minutes(30),
        t0 + Duration::hours(2),
        &KindWeights::default(),
    )
    .await
    .expect("activity");
    let hour = t0.timestamp() - 1800;
    assert_eq!(
        act,
        vec![
            ("p1".to_string(), hour, 4.0),
            ("p2".to_string(), hour + 3600, 1.0)
        ]
    );
    let events = events_of_day(&s, t0.date_naive()).await.expect("events");
    let mut kinds: Vec<(&str, &str, i64)> = events
        .iter()
        .map(|e| (e.0.as_str(), e.2.name(), e.4))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            ("u1", "view", t0.timestamp_millis()),
            ("u2", "cart", t0.timestamp_millis()),
            ("u2", "view", (t0 + Duration::hours(1)).timestamp_millis()),
            ("u2", "view", (t0 + Duration::hours(3)).timestamp_millis()),
        ]
    );
}

#[tokio::test]
async fn zero_counts_write_nothing() {
    let s = store();
    record(
        &s,
        &[Signal::new(user("u"), "p", InteractionKind::View).count(0)],
    )
    .await
    .expect("record");
    assert!(all_aggregates(&s).await.expect("all").is_empty());
}

#[test]
fn the_actor_of_a_request() {
    let cart = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
    assert_eq!(
        Actor::of_request(Some("u1"), Some(cart)),
        Some(user("u1")),
        "a signed-in user wins over a cart header"
    );
    assert_eq!(
        Actor::of_request(None, Some(cart)),
        Some(Actor::Guest("6f9619ff-8b86-d011-b42d-00c04fc964ff".into())),
        "normalised as the cart function stores it"
    );
    assert_eq!(Actor::of_request(None, Some("not-a-cart")), None);
    assert_eq!(Actor::of_request(None, None), None);
}

#[tokio::test]
async fn record_if_writes_only_when_switched_on() {
    let s = store();
    let signal = [Signal::new(user("u"), "p", InteractionKind::View)];
    record_if(false, &s, &signal).await;
    assert!(all_aggregates(&s).await.expect("all").is_empty());
    record_if(true, &s, &signal).await;
    assert_eq!(all_aggregates(&s).await.expect("all").len(), 1);
}

#[tokio::test]
async fn record_bulk_writes_what_record_writes_in_fewer_writes() {
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 1, 10, 5, 0)
        .single()
        .expect("t");
    let mut signals = Vec::new();
    for i in 0..150 {
        let u = user(&format!("u{}", i % 7));
        let p = format!("p{}", i % 11);
        let kind = [
            InteractionKind::View,
            InteractionKind::Cart,
            InteractionKind::Purchase,
        ][i % 3];
        signals.push(Signal::new(u, p, kind).at(t0 + Duration::minutes(i as i64)));
    }
    signals.push(
        Signal::new(user("u0"), "p0", InteractionKind::Purchase)
            .count(-1)
            .at(t0 + Duration::hours(3)),
    );
    let one_by_one = store();
    record(&one_by_one, &signals).await.expect("record");
    let bulk = store();
    record_bulk(&bulk, &signals).await.expect("bulk");
    let w = KindWeights::default();
    let sorted = |mut v: Vec<crate::reco::data::Interaction>| {
        v.sort_by(|a, b| (&a.user, &a.item).cmp(&(&b.user, &b.item)));
        v.into_iter()
            .map(|i| (i.user, i.item, i.weight, i.timestamp))
            .collect::<Vec<_>>()
    };
    let expected = sorted(training_interactions(&one_by_one, &w).await.expect("a"));
    assert!(expected.len() > 40);
    assert_eq!(
        sorted(training_interactions(&bulk, &w).await.expect("b")),
        expected
    );
    let (from, to) = (t0 - Duration::hours(1), t0 + Duration::hours(4));
    assert_eq!(
        product_activity(&bulk, from, to, &w).await.expect("b"),
        product_activity(&one_by_one, from, to, &w)
            .await
            .expect("a")
    );
    assert_eq!(
        events_of_day(&bulk, t0.date_naive())
            .await
            .expect("b")
            .len(),
        151
    );
}

#[test]
fn actor_log_ids_round_trip() {
    for a in [user("x"), Actor::Guest("c".into())] {
        assert_eq!(Actor::from_log_id(&a.log_id()), a);
    }
}
