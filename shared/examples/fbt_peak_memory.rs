//! Time and peak heap of "frequently bought together" mining on the bench data set: 50,000
//! synthetic orders over 10,000 products (`shared::reco::synthetic`, seeded).
//!
//! `cargo run --release -p shared --example fbt_peak_memory`
//!
//! Heap is measured by the `peak_alloc` global allocator (a counting shim over the system
//! allocator): bytes requested by the program, not resident memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use peak_alloc::PeakAlloc;
use shared::reco::association::{AssociationParams, mine_rules};
use shared::reco::synthetic::{OrderGenConfig, generate_orders};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let config = OrderGenConfig::default();
    let started = Instant::now();
    let orders = generate_orders(&config);
    let generated = started.elapsed();
    let lines: usize = orders.iter().map(Vec::len).sum();
    let input_heap = PEAK.current_usage();
    println!(
        "generated {} orders ({lines} lines) over {} products in {:.1} ms; input on heap: {:.1} MiB",
        orders.len(),
        config.products,
        generated.as_secs_f64() * 1e3,
        mib(input_heap)
    );

    PEAK.reset_peak_usage();
    let params = AssociationParams::default();
    let started = Instant::now();
    let rules = mine_rules(&orders, &params);
    let elapsed = started.elapsed();
    let peak = PEAK.peak_usage();
    let n_rules: usize = rules.values().map(Vec::len).sum();
    println!(
        "mined {} antecedents, {n_rules} rules in {:.1} ms",
        rules.len(),
        elapsed.as_secs_f64() * 1e3
    );
    println!(
        "peak heap during mining: {:.1} MiB total, {:.1} MiB above the input",
        mib(peak),
        mib(peak.saturating_sub(input_heap))
    );
    println!(
        "rule set on heap after mining: {:.1} MiB",
        mib(PEAK.current_usage().saturating_sub(input_heap))
    );

    if let Some((item, top)) = rules
        .iter()
        .max_by_key(|(_, r)| r.iter().map(|x| x.pair_count).sum::<u64>())
    {
        println!("example: {item} ->");
        for r in top.iter().take(5) {
            println!(
                "  {} pairs={} support={:.5} confidence={:.3} lift={:.1}",
                r.consequent, r.pair_count, r.support, r.confidence, r.lift
            );
        }
    }
}
