//! Benchmarks of the ALS model (`shared::reco::als`) on the default synthetic interaction set
//! (`shared::reco::synthetic`, seeded: 100,000 interactions of 1,000 users over 1,700 items):
//!
//! - `fit_100k_64f_15it`: fit with 64 factors, 15 epochs, 3 CG steps (goal < 0.10 s on 2 cores);
//! - `fold_in_50`: fold-in of one user with 50 interactions (goal < 50 µs);
//! - `score_top10_20k`: fold-in + scores of 20,000 items + the top 10 (goal < 1 ms).
//!
//! `cargo bench -p shared --bench reco_als`. Time and peak memory at 1M and 10M interactions, and
//! NDCG@10 against popularity: `cargo run --release -p shared --example als_report`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use shared::reco::als::{AlsModel, AlsParams};
use shared::reco::data::{Dataset, IdMap};
use shared::reco::model::{Recommender, top_k};
use shared::reco::synthetic::{InteractionGenConfig, generate_interactions};

fn bench(c: &mut Criterion) {
    let interactions = generate_interactions(&InteractionGenConfig::default());
    let data = Dataset::from_interactions(&interactions, None);
    let params = AlsParams::default();
    println!(
        "reco_als: {} interactions, {} users x {} items, {} distinct pairs, {} threads",
        interactions.len(),
        data.n_users(),
        data.n_items(),
        data.user_items.nnz(),
        rayon::current_num_threads()
    );
    let model = AlsModel::fit(&data, &params).expect("fit");

    let mut group = c.benchmark_group("reco_als");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("fit_100k_64f_15it", |b| {
        b.iter(|| black_box(AlsModel::fit(black_box(&data), &params).expect("fit")))
    });

    // One user with 50 distinct interactions (items spread over the catalogue).
    let history: Vec<(u32, f32)> = (0..50u32)
        .map(|k| (k * 31 % 1_700, 1.0 + (k % 3) as f32))
        .collect();
    group.bench_function("fold_in_50", |b| {
        b.iter(|| black_box(model.fold_in(black_box(&history))))
    });

    // 20,000 items: the trained item factors repeated with a small perturbation.
    let f = params.n_factors;
    let mut items = Vec::with_capacity(20_000 * f);
    for k in 0..20_000usize {
        let src = model.item_vector(k % data.n_items());
        items.extend(
            src.iter()
                .enumerate()
                .map(|(d, v)| v + ((k + d) % 7) as f32 * 1e-4),
        );
    }
    let big = AlsModel::from_factors(
        IdMap::new(),
        IdMap::from_ids((0..20_000).map(|i| format!("I{i}")).collect()),
        Vec::new(),
        items,
        params,
    );
    let mut scores = vec![0f32; big.n_items()];
    group.bench_function("score_top10_20k", |b| {
        b.iter(|| {
            big.score(black_box(&history), &mut scores);
            black_box(top_k(&scores, 10))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
