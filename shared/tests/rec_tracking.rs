//! Recommendation tracking and attribution (`shared::domain::rec_tracking`) on every store:
//! in memory, and DynamoDB on the AWS emulator at `TEST_AWS_ENDPOINT` (ignored unless run with
//! `--include-ignored`): the click and conversion markers are conditional puts, and the
//! expiry of served lists and of recent clicks is the store's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use shared::domain::interactions::{Actor, InteractionKind};
use shared::domain::orders::{OrderAddress, OrderLine, OrderRecord, OrderStatus};
use shared::domain::rec_tracking::{
    self, Served, ServedItem, TrackError, attribute_order, performance, record_served, track_click,
};
use shared::money::Cents;
use shared::reco::algorithm::{Algorithm, Family};
use shared::store::ItemStore;
use shared::store::local::LocalStore;

shared::store_backends!(
    impressions_scores_and_families_add_up,
    clicks_count_once_and_refuse_bad_ids,
    an_order_naming_the_list_converts_its_lines_once,
    a_purchase_within_a_day_of_a_click_converts_that_list,
    by_day_and_top_products_follow_the_rollups,
);

fn item(product: &str, algorithm: Algorithm, score: f32) -> ServedItem {
    ServedItem {
        product_id: product.into(),
        algorithm,
        score,
    }
}

fn list(blended: bool, actor: Option<Actor>, items: Vec<ServedItem>) -> Served {
    Served {
        recommendation_type: if blended { "homepage" } else { "trending" }.into(),
        blended,
        actor,
        arm: None,
        items,
    }
}

fn user(id: &str) -> Actor {
    Actor::User(id.into())
}

fn order(user_id: &str, session: Option<&str>, lines: &[(&str, i64)]) -> OrderRecord {
    let address = OrderAddress {
        name: None,
        street: "1 Main St".into(),
        city: "Springfield".into(),
        state: "IL".into(),
        zip_code: "62701".into(),
        country: "US".into(),
    };
    OrderRecord {
        id: uuid::Uuid::new_v4().to_string(),
        order_number: "ORD-20261206-ABCDEF".into(),
        user_id: user_id.into(),
        subtotal: Cents(0),
        tax_amount: Cents(0),
        shipping_amount: Cents(0),
        total_amount: Cents(0),
        status: OrderStatus::Pending,
        payment_status: "pending".into(),
        payment_method: "cash_on_delivery".into(),
        billing_address: address.clone(),
        shipping_address: address,
        recommendation_source: None,
        recommendation_session_id: session.map(str::to_string),
        order_notes: None,
        items: lines
            .iter()
            .map(|(p, cents)| OrderLine {
                id: uuid::Uuid::new_v4().to_string(),
                product_id: (*p).into(),
                product_name: (*p).into(),
                quantity: 1,
                unit_price: Cents(*cents),
                total_price: Cents(*cents),
            })
            .collect(),
        admin_notes: None,
        created_at: Utc::now().to_rfc3339(),
        updated_at: Utc::now().to_rfc3339(),
    }
}

async fn totals(store: &dyn ItemStore, family: Family) -> rec_tracking::rollups::Counts {
    performance(store, &[family], Utc::now().date_naive(), 30, 10)
        .await
        .unwrap()
        .totals
}

async fn impressions_scores_and_families_add_up(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let now = Utc::now();
    // A blended homepage list: two collaborative items, one content-based.
    let home = rec_tracking::new_recommendation_id();
    assert!(home.starts_with("rec_") && home.len() == 36, "{home}");
    record_served(
        store,
        &home,
        &list(
            true,
            Some(user("u1")),
            vec![
                item("p1", Algorithm::CollaborativeFiltering, 0.9),
                item("p2", Algorithm::ItemSimilarity, 0.5),
                item("p3", Algorithm::VectorSimilarity, 0.4),
            ],
        ),
        now,
    )
    .await
    .unwrap();
    // A trending list (not blended): not counted under hybrid.
    record_served(
        store,
        &rec_tracking::new_recommendation_id(),
        &list(false, None, vec![item("p1", Algorithm::Trending, 0.6)]),
        now,
    )
    .await
    .unwrap();

    let c = totals(store, Family::Collaborative).await;
    assert_eq!((c.impressions, c.clicks, c.conversions), (2, 0, 0));
    // (0.9 + 0.5) / 2 = 0.7
    assert_eq!(c.average_score(), 0.7);
    let h = totals(store, Family::Hybrid).await;
    assert_eq!(h.impressions, 3);
    // (0.9 + 0.5 + 0.4) / 3 = 0.6
    assert_eq!(h.average_score(), 0.6);
    assert_eq!(totals(store, Family::ContentBased).await.impressions, 1);
    let t = totals(store, Family::Trending).await;
    assert_eq!((t.impressions, t.average_score()), (1, 0.6));
    assert_eq!(totals(store, Family::Fbt).await.impressions, 0);
    // Every impression once: the own families, without hybrid.
    let all = performance(
        store,
        &rec_tracking::OWN_FAMILIES,
        Utc::now().date_naive(),
        1,
        10,
    )
    .await
    .unwrap();
    assert_eq!(all.totals.impressions, 4);
}

async fn clicks_count_once_and_refuse_bad_ids(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let now = Utc::now();
    let id = rec_tracking::new_recommendation_id();
    record_served(
        store,
        &id,
        &list(
            true,
            Some(user("u1")),
            vec![
                item("p1", Algorithm::CollaborativeFiltering, 0.8),
                item("p2", Algorithm::Fbt, 0.6),
            ],
        ),
        now,
    )
    .await
    .unwrap();

    // Unknown id, and a list whose 7 days are over: not found.
    assert!(matches!(
        track_click(store, "rec_unknown", "p1", None, now).await,
        Err(TrackError::NotFound)
    ));
    let old = rec_tracking::new_recommendation_id();
    record_served(
        store,
        &old,
        &list(false, None, vec![item("p1", Algorithm::Popular, 0.5)]),
        now - Duration::days(8),
    )
    .await
    .unwrap();
    assert!(matches!(
        track_click(store, &old, "p1", None, now).await,
        Err(TrackError::NotFound)
    ));
    // A product the list does not hold.
    assert!(matches!(
        track_click(store, &id, "p9", None, now).await,
        Err(TrackError::NotInList)
    ));
    assert_eq!(totals(store, Family::Collaborative).await.clicks, 0);

    // The first click counts, for the caller; the list's actor when there is no caller.
    let guest = Actor::Guest("c1".into());
    let first = track_click(store, &id, "p1", Some(&guest), now)
        .await
        .unwrap();
    assert!(first.counted);
    assert_eq!(first.actor, Some(guest.clone()));
    let signal = first.signal("p1", now).unwrap();
    assert_eq!(signal.kind, InteractionKind::RecClick);
    assert_eq!(signal.actor, guest);
    let again = track_click(store, &id, "p1", None, now).await.unwrap();
    assert!(!again.counted);
    assert_eq!(again.actor, Some(user("u1")));
    assert!(again.signal("p1", now).is_none());
    let fbt = track_click(store, &id, "p2", None, now).await.unwrap();
    assert!(fbt.counted);

    let c = totals(store, Family::Collaborative).await;
    assert_eq!((c.impressions, c.clicks), (1, 1));
    assert_eq!(c.click_rate(), 100.0);
    assert_eq!(totals(store, Family::Fbt).await.clicks, 1);
    let h = totals(store, Family::Hybrid).await;
    assert_eq!((h.impressions, h.clicks), (2, 2));
}

async fn an_order_naming_the_list_converts_its_lines_once(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let now = Utc::now();
    let id = rec_tracking::new_recommendation_id();
    record_served(
        store,
        &id,
        &list(
            false,
            Some(user("u1")),
            vec![
                item("p1", Algorithm::CollaborativeFiltering, 0.8),
                item("p2", Algorithm::CollaborativeFiltering, 0.6),
            ],
        ),
        now,
    )
    .await
    .unwrap();
    // Another user's list converts nothing for u2.
    let n = attribute_order(store, &order("u2", Some(&id), &[("p1", 100)]), now)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // u1 orders p1 (in the list) and p9 (not in it), without having clicked anything.
    let n = attribute_order(
        store,
        &order("u1", Some(&id), &[("p1", 1000), ("p9", 500)]),
        now,
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    // A second order of p1 with the same id: once per (list, product). p2 converts.
    let n = attribute_order(
        store,
        &order("u1", Some(&id), &[("p1", 1000), ("p2", 300)]),
        now,
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    // An unknown id converts nothing and fails nothing.
    let n = attribute_order(store, &order("u1", Some("rec_nope"), &[("p1", 1)]), now)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let c = totals(store, Family::Collaborative).await;
    assert_eq!((c.impressions, c.clicks, c.conversions), (2, 0, 2));
    assert_eq!(c.conversion_rate(), 100.0);
}

async fn a_purchase_within_a_day_of_a_click_converts_that_list(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let now = Utc::now();
    let recent = rec_tracking::new_recommendation_id();
    let stale = rec_tracking::new_recommendation_id();
    for (id, product, algorithm) in [
        (&recent, "p1", Algorithm::VectorSimilarity),
        (&stale, "p2", Algorithm::Fbt),
    ] {
        record_served(
            store,
            id,
            &list(false, Some(user("u1")), vec![item(product, algorithm, 0.5)]),
            now - Duration::hours(30),
        )
        .await
        .unwrap();
    }
    // Clicked p1 an hour ago and p2 25 hours ago (outside the day).
    track_click(store, &recent, "p1", None, now - Duration::hours(1))
        .await
        .unwrap();
    track_click(store, &stale, "p2", None, now - Duration::hours(25))
        .await
        .unwrap();
    // Another user buying p1 converts nothing.
    assert_eq!(
        attribute_order(store, &order("u2", None, &[("p1", 100)]), now)
            .await
            .unwrap(),
        0
    );
    let n = attribute_order(store, &order("u1", None, &[("p1", 100), ("p2", 100)]), now)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Once per (list, product).
    let n = attribute_order(store, &order("u1", None, &[("p1", 100)]), now)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let day = (now - Duration::hours(30)).date_naive();
    // Three days: 30 hours ago is two days back when the test runs before 06:00 UTC.
    let cb = performance(store, &[Family::ContentBased], now.date_naive(), 3, 10)
        .await
        .unwrap();
    assert_eq!(
        (
            cb.totals.impressions,
            cb.totals.clicks,
            cb.totals.conversions
        ),
        (1, 1, 1)
    );
    // Counted on the day the list was served.
    let served_day = cb.by_day.iter().find(|(d, _)| *d == day).unwrap().1;
    assert_eq!(served_day.conversions, 1);
    let fbt = totals(store, Family::Fbt).await;
    assert_eq!((fbt.clicks, fbt.conversions), (1, 0));
}

async fn by_day_and_top_products_follow_the_rollups(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let now = Utc::now();
    let yesterday = now - Duration::days(1);
    // Yesterday: p1 and p2 shown; p2 clicked and bought. Today: p1 shown twice, clicked once.
    let y = rec_tracking::new_recommendation_id();
    record_served(
        store,
        &y,
        &list(
            false,
            Some(user("u1")),
            vec![
                item("p1", Algorithm::Trending, 0.4),
                item("p2", Algorithm::Popular, 0.8),
            ],
        ),
        yesterday,
    )
    .await
    .unwrap();
    track_click(store, &y, "p2", None, now).await.unwrap();
    attribute_order(store, &order("u1", None, &[("p2", 100)]), now)
        .await
        .unwrap();
    for _ in 0..2 {
        let t = rec_tracking::new_recommendation_id();
        record_served(
            store,
            &t,
            &list(false, None, vec![item("p1", Algorithm::Trending, 0.6)]),
            now,
        )
        .await
        .unwrap();
        let _ = track_click(store, &t, "p1", None, now).await.unwrap();
    }

    let p = performance(store, &[Family::Trending], now.date_naive(), 7, 10)
        .await
        .unwrap();
    assert_eq!(p.by_day.len(), 7);
    assert_eq!(p.by_day.last().unwrap().0, now.date_naive());
    let per_day: Vec<(i64, i64, i64)> = p
        .by_day
        .iter()
        .map(|(_, c)| (c.impressions, c.clicks, c.conversions))
        .collect();
    assert_eq!(per_day[5], (2, 1, 1), "yesterday");
    assert_eq!(per_day[6], (2, 2, 0), "today");
    assert!(per_day[..5].iter().all(|c| *c == (0, 0, 0)));
    assert_eq!(
        (p.totals.impressions, p.totals.clicks, p.totals.conversions),
        (4, 3, 1)
    );
    // (0.4 + 0.8 + 0.6 + 0.6) / 4 = 0.6
    assert_eq!(p.totals.average_score(), 0.6);
    // p2 converted: first; p1 3 impressions, 2 clicks.
    let top: Vec<(&str, i64, i64, i64)> = p
        .top_products
        .iter()
        .map(|(id, c)| (id.as_str(), c.impressions, c.clicks, c.conversions))
        .collect();
    assert_eq!(top, vec![("p2", 1, 1, 1), ("p1", 3, 2, 0)]);
    // One day: today only.
    let today = performance(store, &[Family::Trending], now.date_naive(), 1, 1)
        .await
        .unwrap();
    assert_eq!(today.by_day.len(), 1);
    assert_eq!(today.totals.impressions, 2);
    assert_eq!(today.top_products.len(), 1);
    assert_eq!(today.top_products[0].0, "p1");
}

/// The counters of one product, and the day's totals, are spread over several items: a product
/// in every list is not one hot item.
#[tokio::test]
async fn counters_spread_over_shards() {
    use shared::store::{Key, Query, keys};
    let store: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
    let now = Utc::now();
    for _ in 0..40 {
        record_served(
            &*store,
            &rec_tracking::new_recommendation_id(),
            &list(false, None, vec![item("hot", Algorithm::Trending, 0.5)]),
            now,
        )
        .await
        .unwrap();
    }
    let day = now.date_naive();
    let mut product_items = 0;
    for shard in 0..keys::REC_ROLLUP_SHARDS {
        let page = store
            .query(Query::table(keys::rec_product_rollup_pk(day, shard)))
            .await
            .unwrap();
        product_items += page.items.len();
    }
    let total_keys: Vec<Key> = (0..keys::REC_ROLLUP_SHARDS)
        .map(|s| keys::rec_day_totals(day, s))
        .collect();
    let total_items = store.batch_get(&total_keys).await.unwrap().len();
    // 40 writes on 8 random shards: all on one shard has probability 8^-39.
    assert!(product_items > 1, "{product_items}");
    assert!(total_items > 1, "{total_items}");
    assert_eq!(totals(&*store, Family::Trending).await.impressions, 40);
}

/// The in-memory store whose reads of served lists hang (5 s), or fail: an order's attribution
/// gives up within its budget and never returns an error.
fn slow_store(fail: bool) -> shared::testkit::faulty::Faulty {
    use shared::testkit::faulty::{Call, Fault, Faulty};
    Faulty::new(Arc::new(LocalStore::in_memory().unwrap()), move |call| {
        let served_list =
            matches!(call, Call::Get(_)) && call.pk().is_some_and(|pk| pk.starts_with("RECLIST#"));
        served_list.then_some(if fail {
            Fault::Fail
        } else {
            Fault::Delay(std::time::Duration::from_secs(5))
        })
    })
}

#[tokio::test]
async fn attribution_is_bounded_and_never_fails_the_order() {
    for fail in [false, true] {
        let store = slow_store(fail);
        let started = std::time::Instant::now();
        rec_tracking::attribute_order_logged(&store, &order("u1", Some("rec_x"), &[("p1", 100)]))
            .await;
        let took = started.elapsed();
        assert!(
            took < rec_tracking::ATTRIBUTION_BUDGET + std::time::Duration::from_millis(500),
            "fail={fail}: {took:?}"
        );
        if fail {
            // The error is there (and was only logged above).
            let direct = attribute_order(
                &store,
                &order("u1", Some("rec_x"), &[("p1", 100)]),
                Utc::now(),
            )
            .await;
            assert!(direct.is_err());
        }
    }
}
