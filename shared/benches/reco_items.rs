//! Benchmarks of the item-item models (`shared::reco::{cooccurrence, item_knn, ease}`):
//!
//! - co-occurrence counts over dense user histories (1,000 users x 1,700 items, 100,000
//!   interactions, `synthetic::generate_interactions` default; goal under 30 ms), and, for
//!   comparison, the hash map of pairs the FBT miner used before;
//! - co-occurrence over sparse shop baskets (the FBT synthetic orders, 50,000 orders over 10,000
//!   products);
//! - item-kNN fit and EASE fit (1,700 items; goal under 0.2 s) on the dense histories.
//!
//! `cargo bench -p shared --bench reco_items`. The EASE size/time/memory table and the NDCG@10
//! comparison are printed by `cargo run --release -p shared --example reco_items_report`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use shared::reco::cooccurrence::{self, Layout};
use shared::reco::data::{Csr, Dataset};
use shared::reco::synthetic::{
    InteractionGenConfig, OrderGenConfig, generate_interactions, generate_order_indices,
};

/// The pair counting of the FBT miner before `cooccurrence`: one hash map keyed by the pair.
fn pair_hash(x: &Csr) -> HashMap<u64, u32> {
    let mut pairs: HashMap<u64, u32> = HashMap::new();
    for r in 0..x.n_rows {
        let (items, _) = x.row(r);
        for (p, &a) in items.iter().enumerate() {
            for &b in &items[p + 1..] {
                *pairs.entry((u64::from(a) << 32) | u64::from(b)).or_insert(0) += 1;
            }
        }
    }
    pairs
}

fn baskets_csr(orders: &[Vec<u32>], n_items: usize) -> Csr {
    let triplets = orders
        .iter()
        .enumerate()
        .flat_map(|(r, o)| o.iter().map(move |&i| (r as u32, i, 1.0)))
        .collect();
    let mut x = Csr::from_triplets(orders.len(), n_items, triplets);
    x.values.fill(1.0);
    x
}

fn bench(c: &mut Criterion) {
    let histories = Dataset::from_interactions(
        &generate_interactions(&InteractionGenConfig::default()),
        None,
    );
    let x = &histories.user_items;
    let orders_config = OrderGenConfig::default();
    let baskets = baskets_csr(&generate_order_indices(&orders_config), orders_config.products);
    println!(
        "reco_items: histories {} users x {} items, {} distinct pairs (user, item), {} additions \
         (layout {:?}); baskets {} orders x {} products, {} additions (layout {:?})",
        x.n_rows,
        x.n_cols,
        x.nnz(),
        cooccurrence::work(x),
        Layout::choose(x),
        baskets.n_rows,
        baskets.n_cols,
        cooccurrence::work(&baskets),
        Layout::choose(&baskets),
    );

    let mut group = c.benchmark_group("reco_items");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("cooccurrence_dense_histories", |b| {
        b.iter(|| black_box(cooccurrence::counts(black_box(x))))
    });
    group.bench_function("pair_hash_dense_histories", |b| {
        b.iter(|| black_box(pair_hash(black_box(x))))
    });
    group.bench_function("cooccurrence_sparse_baskets", |b| {
        b.iter(|| black_box(cooccurrence::counts(black_box(&baskets))))
    });
    group.bench_function("pair_hash_sparse_baskets", |b| {
        b.iter(|| black_box(pair_hash(black_box(&baskets))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
