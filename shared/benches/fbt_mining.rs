//! Benchmark of "frequently bought together" mining: association rules over 50,000 synthetic
//! orders of 10,000 products (`shared::reco::synthetic`, seeded), with the default parameters.
//!
//! `cargo bench -p shared --bench fbt_mining`. Peak memory of the same run:
//! `cargo run --release -p shared --example fbt_peak_memory`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use shared::reco::association::{AssociationParams, mine_rules};
use shared::reco::synthetic::{OrderGenConfig, generate_orders};

fn bench(c: &mut Criterion) {
    let config = OrderGenConfig::default();
    let orders = generate_orders(&config);
    let params = AssociationParams::default();
    let rules = mine_rules(&orders, &params);
    println!(
        "fbt_mining: {} orders, {} products, {} antecedents, {} rules",
        orders.len(),
        config.products,
        rules.len(),
        rules.values().map(Vec::len).sum::<usize>()
    );

    let mut group = c.benchmark_group("fbt_mining");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("mine_rules_50k_orders", |b| {
        b.iter(|| black_box(mine_rules(black_box(&orders), &params)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
