//! Report of the item-item models on synthetic data (`shared::reco::synthetic`, seeded):
//!
//! 1. NDCG@10 (and the other metrics at 10) of popularity, item-kNN (cosine and BM25) and EASE on
//!    the time-based holdout (each user's latest 20%) of the default synthetic interactions
//!    (1,000 users x 1,700 items, 100,000 interactions);
//! 2. EASE fit time, peak heap and artifact size against the catalogue size (default 1,700,
//!    5,000 and 10,000 items; pass sizes as arguments, e.g. `1700 5000 10000 20000`).
//!
//! `cargo run --release -p shared --example reco_items_report [-- SIZES...]`
//!
//! Heap is measured by the `peak_alloc` global allocator (bytes requested, not resident memory).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use peak_alloc::PeakAlloc;
use shared::reco::data::Dataset;
use shared::reco::ease::{DEFAULT_LAMBDA, EaseModel};
use shared::reco::eval::{Metrics, evaluate, time_holdout};
use shared::reco::item_knn::{ItemKnnModel, ItemKnnParams, Similarity};
use shared::reco::model::{Recommender, top_k};
use shared::reco::synthetic::{InteractionGenConfig, generate_interactions};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn line(name: &str, fit_s: f64, m: &Metrics) {
    println!(
        "| {name} | {fit_s:.3} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.3} |",
        m.ndcg, m.precision, m.recall, m.hit_rate, m.map, m.coverage
    );
}

fn eval_model(train: &Dataset, test: &[shared::reco::data::Interaction], m: &dyn Recommender) -> Metrics {
    evaluate(train, test, 10, |h| {
        m.recommend(h, 10, &[]).into_iter().map(|(i, _)| i).collect()
    })
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_700, 5_000, 10_000]
    } else {
        sizes
    };

    // 1. Quality on the default synthetic holdout.
    let all = generate_interactions(&InteractionGenConfig::default());
    let (train_rows, test) = time_holdout(&all, 0.2);
    let train = Dataset::from_interactions(&train_rows, None);
    println!(
        "holdout: {} train / {} test interactions, {} users x {} items in train",
        train_rows.len(),
        test.len(),
        train.n_users(),
        train.n_items()
    );
    println!("| model | fit s | NDCG@10 | P@10 | R@10 | HR@10 | MAP@10 | coverage |");
    println!("|---|---|---|---|---|---|---|---|");
    // Popularity: interactions per item in train; never an item of the history.
    let mut counts = vec![0f32; train.n_items()];
    for it in &train_rows {
        if let Some(c) = train.items.get(&it.item) {
            counts[c as usize] += 1.0;
        }
    }
    let pop = evaluate(&train, &test, 10, |h| {
        let mut s = counts.clone();
        for &(i, _) in h {
            s[i as usize] = f32::NEG_INFINITY;
        }
        top_k(&s, 10).into_iter().map(|(i, _)| i).collect()
    });
    line("popularity", 0.0, &pop);
    for (name, p) in [
        ("item_knn cosine", ItemKnnParams::default()),
        (
            "item_knn bm25",
            ItemKnnParams {
                similarity: Similarity::Bm25,
                ..Default::default()
            },
        ),
    ] {
        let started = Instant::now();
        let m = ItemKnnModel::fit(&train, &p);
        let fit_s = started.elapsed().as_secs_f64();
        line(name, fit_s, &eval_model(&train, &test, &m));
    }
    for lambda in [DEFAULT_LAMBDA, 100.0, 2_000.0] {
        let started = Instant::now();
        let m = EaseModel::fit(&train, lambda).expect("ease");
        let fit_s = started.elapsed().as_secs_f64();
        line(
            &format!("ease lambda {lambda}"),
            fit_s,
            &eval_model(&train, &test, &m),
        );
    }

    // 2. EASE against the catalogue size.
    println!();
    println!("| items | users | interactions | fit s | peak heap MiB (above input) | artifact MiB |");
    println!("|---|---|---|---|---|---|");
    for n in sizes {
        let config = InteractionGenConfig {
            items: n,
            users: n.max(1_000),
            interactions: 60 * n.max(1_700),
            ..Default::default()
        };
        let data = Dataset::from_interactions(&generate_interactions(&config), None);
        PEAK.reset_peak_usage();
        let base = PEAK.current_usage();
        let started = Instant::now();
        let m = EaseModel::fit(&data, DEFAULT_LAMBDA).expect("ease");
        let fit_s = started.elapsed().as_secs_f64();
        let peak_bytes = PEAK.peak_usage().saturating_sub(base);
        println!(
            "| {} | {} | {} | {fit_s:.2} | {:.0} | {:.0} |",
            data.n_items(),
            data.n_users(),
            data.user_items.nnz(),
            mib(peak_bytes),
            mib(m.n_items() * m.n_items() * 4)
        );
    }
}
