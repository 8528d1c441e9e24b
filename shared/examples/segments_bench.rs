//! Segmentation figures (issue 14): generate-rfm on 25,000 customers and 70,000 orders (seeded
//! synthetic, k = 5: the whole run and the k-means part alone), and the `segments-refresh` job
//! over 100,000 users and 10 segments (wall time and peak heap), both on the in-memory store.
//!
//! `cargo run --release -p shared --example segments_bench [-- CUSTOMERS ORDERS USERS]`
//!
//! Setup writes the items directly (orders as the order code stores them, with the all-orders
//! index keys; per-user feature items as the write paths keep them), in transactions of 100,
//! and is not measured. Heap is counted by the `peak_alloc` allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use peak_alloc::PeakAlloc;
use serde_json::{Value, json};
use shared::{
    domain::segments::{
        membership, records,
        rfm::{self, RfmRequest},
    },
    reco::rfm::synthetic_orders,
    store::{Item, ItemStore, PK, SK, TxOp, keys, local::LocalStore},
};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn item(pk: String, sk: String, attrs: Value) -> Item {
    let mut i = match attrs {
        Value::Object(m) => m,
        _ => Item::new(),
    };
    i.insert(PK.into(), pk.into());
    i.insert(SK.into(), sk.into());
    i
}

async fn write_all(store: &dyn ItemStore, items: Vec<Item>) {
    let mut rest = items.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<TxOp> = rest
            .by_ref()
            .take(100)
            .map(|item| TxOp::Put {
                item,
                condition: None,
            })
            .collect();
        store.transact(chunk).await.unwrap();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let customers = args.first().copied().unwrap_or(25_000);
    let n_orders = args.get(1).copied().unwrap_or(70_000);
    let users = args.get(2).copied().unwrap_or(100_000);

    // ---- generate-rfm ----
    let store = LocalStore::in_memory().unwrap();
    let now = chrono::Utc::now();
    let orders = synthetic_orders(customers, n_orders, now.timestamp(), 42);
    let t = Instant::now();
    let items: Vec<Item> = orders
        .iter()
        .enumerate()
        .map(|(n, o)| {
            let id = format!("o{n:07}");
            let at = chrono::DateTime::from_timestamp(o.at, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let key = keys::order(&id);
            item(
                key.pk,
                key.sk,
                json!({"id": id, "user_id": o.customer, "total_amount_cents": o.cents,
                    "status": "delivered", "created_at": at,
                    "GSI2PK": keys::ALL_ORDERS_PK, "GSI2SK": format!("{at}#{id}")}),
            )
        })
        .collect();
    write_all(&store, items).await;
    println!(
        "setup: {} orders of {} customers written in {:.1} s",
        orders.len(),
        customers,
        t.elapsed().as_secs_f64()
    );
    let req = RfmRequest::default();
    let t = Instant::now();
    let (rows, seg) = rfm::cluster_orders(&orders, now.timestamp(), &req).unwrap();
    let pure_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "rfm (pure: aggregate + k-means, {} customers): {:.1} ms, of which k-means {:.1} ms; sizes {:?} names {:?}",
        rows.len(),
        pure_ms,
        seg.kmeans_ms,
        seg.clusters.iter().map(|c| c.size).collect::<Vec<_>>(),
        seg.clusters.iter().map(|c| c.name).collect::<Vec<_>>()
    );
    for run in 1..=2 {
        let t = Instant::now();
        let out = rfm::generate(&store, &req).await.unwrap();
        println!(
            "generate-rfm run {run} (read orders, cluster, replace 5 segments, install members): {:.1} ms whole, k-means {:.1} ms, {} customers segmented",
            t.elapsed().as_secs_f64() * 1000.0,
            out.kmeans_ms,
            out.total_users_segmented
        );
    }
    drop(store);

    // ---- segments-refresh ----
    let store = LocalStore::in_memory().unwrap();
    let t = Instant::now();
    let day = now.date_naive();
    let mut items = Vec::with_capacity(users * 3);
    for u in 0..users {
        let user = format!("u{u:07}");
        let rfm_key = keys::user_rfm(&user);
        items.push(item(
            rfm_key.pk,
            rfm_key.sk,
            json!({"user_id": user, "order_count": (u % 7) as i64,
                "monetary_cents": ((u * 7919) % 150_000) as i64,
                "last_order_at": now.timestamp() - ((u % 200) as i64) * 86_400}),
        ));
        let p = keys::user_profile_facts(&user);
        let country = ["US", "GB", "FR", "DE", "CA"][u % 5];
        let gender = ["female", "male"][u % 2];
        let interest = ["tech", "running", "cooking", "gaming"][u % 4];
        items.push(item(
            p.pk,
            p.sk,
            json!({"date_of_birth": format!("{}-06-15", 1950 + u % 55),
                "country": country, "gender": gender, "interests": [interest]}),
        ));
        let d = keys::user_day_events(&user, day - chrono::Days::new((u % 40) as u64));
        let device = ["mobile", "desktop", "tablet"][u % 3];
        items.push(item(
            d.pk,
            d.sk,
            json!({format!("view:{device}"): (u % 9) as i64, format!("cart:{device}"): (u % 3) as i64}),
        ));
    }
    write_all(&store, items).await;
    let specs: Vec<(&str, Value)> = vec![
        ("rfm", json!({"monetary_amount": {"min": 500}})),
        (
            "rfm",
            json!({"frequency_orders": {"min": 3}, "recency_days": {"max": 90}}),
        ),
        ("rfm", json!({"recency_days": {"min": 120}})),
        (
            "behavioral",
            json!({"event_types": ["product_view"], "device_type": "mobile", "min_events": 5}),
        ),
        ("behavioral", json!({"min_events": 2, "days_back": 7})),
        ("demographic", json!({"age": {"min": 18, "max": 34}})),
        ("demographic", json!({"country": ["GB", "FR", "DE"]})),
        ("interest", json!({"interests": ["tech", "gaming"]})),
        (
            "interest",
            json!({"interests": ["running"], "match": "all"}),
        ),
        (
            "demographic",
            json!({"gender": "female", "age": {"min": 40}}),
        ),
    ];
    for (i, (t, c)) in specs.into_iter().enumerate() {
        let s = records::new_segment(format!("Segment {i}"), None, t, c, true);
        records::create(&store, &s).await.unwrap();
    }
    println!(
        "setup: features of {users} users and 10 segments written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    for run in 1..=2 {
        let before = PEAK.current_usage();
        PEAK.reset_peak_usage();
        let t = Instant::now();
        let report = membership::refresh_all(&store).await.unwrap();
        println!(
            "segments-refresh run {run}: {:.2} s wall, {} users, {} segments, {} memberships, peak heap {:.0} MiB above the {:.0} MiB before (store included)",
            t.elapsed().as_secs_f64(),
            report.users_with_features,
            report.segments,
            report.members,
            mib(PEAK.peak_usage().saturating_sub(before)),
            mib(before)
        );
    }
}
