//! The whole "frequently bought together" job on 50,000 orders: what the scheduled `fbt-rules`
//! run does (read every order from the store, mine, write each product's rule set, remove stale
//! ones), against the in-memory store, with its time and peak heap.
//!
//! `cargo run --release -p shared --features testkit --example fbt_job`
//!
//! The orders are the seeded synthetic set of `fbt_peak_memory` (50,000 orders over 10,000
//! products with co-purchase groups), placed through the real cart and order code first (that
//! part takes a while and is not measured). Heap is counted by the `peak_alloc` allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use peak_alloc::PeakAlloc;
use shared::{
    ai::local::LocalEmbedder,
    domain::fbt,
    fixtures,
    reco::synthetic::{OrderGenConfig, generate_order_indices},
    store::local::LocalStore,
};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let config = OrderGenConfig::default();
    let store = LocalStore::in_memory().unwrap();
    let embedder = LocalEmbedder::new(16);
    let started = Instant::now();
    let mut ids = Vec::with_capacity(config.products);
    for i in 0..config.products {
        let p = fixtures::product(&store, &embedder, &format!("FBT-{i:05}"), 10.0, 1_000_000).await;
        ids.push(p.id);
    }
    let baskets = generate_order_indices(&config);
    for (n, basket) in baskets.iter().enumerate() {
        let mut lines: Vec<&str> = basket.iter().map(|&i| ids[i as usize].as_str()).collect();
        lines.sort_unstable();
        lines.dedup();
        fixtures::place_order(&store, &format!("user-{}", n % 2_000), &lines).await;
    }
    println!(
        "placed {} orders over {} products in {:.1} s (setup, not measured)",
        baskets.len(),
        ids.len(),
        started.elapsed().as_secs_f64()
    );

    let before = PEAK.current_usage();
    PEAK.reset_peak_usage();
    let started = Instant::now();
    let report = fbt::mine_and_store(&store, fbt::DEFAULT_MIN_SUPPORT)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    println!(
        "fbt-rules job: {} orders, {} products with rules, {} rules, {} stale rule sets removed",
        report.orders, report.products_with_rules, report.rules, report.stale_rule_sets_removed
    );
    println!(
        "phases: read orders {} ms, mine {} ms, read and write rule sets {} ms",
        report.read_ms, report.mine_ms, report.write_ms
    );
    println!(
        "time {:.0} ms; peak heap {:.1} MiB above the {:.1} MiB the store held before",
        elapsed.as_secs_f64() * 1e3,
        mib(PEAK.peak_usage().saturating_sub(before)),
        mib(before)
    );
}
