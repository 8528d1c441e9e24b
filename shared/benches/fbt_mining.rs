//! Benchmark of "frequently bought together" mining: association rules over 50,000 synthetic
//! orders of 10,000 products (`shared::reco::synthetic`, seeded), with the default parameters;
//! and over dense user histories taken as baskets (1,000 users x 1,700 items, 100,000
//! interactions), where the pair counting of the old hash map took ~200 ms.
//!
//! `cargo bench -p shared --bench fbt_mining`. Peak memory of the same run:
//! `cargo run --release -p shared --example fbt_peak_memory`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use shared::reco::association::{AssociationParams, mine_rules};
use shared::reco::synthetic::{
    InteractionGenConfig, OrderGenConfig, generate_interactions, generate_orders,
};

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
    let mut histories: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for it in generate_interactions(&InteractionGenConfig::default()) {
        histories.entry(it.user).or_default().push(it.item);
    }
    let histories: Vec<Vec<String>> = histories.into_values().collect();
    let dense = AssociationParams {
        max_basket_items: usize::MAX,
        ..AssociationParams::default()
    };
    group.bench_function("mine_rules_dense_histories", |b| {
        b.iter(|| black_box(mine_rules(black_box(&histories), &dense)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
