//! NDCG@10 (and the other ranking metrics) of every recommendation model the training job trains,
//! side by side on one synthetic time holdout, each fitted through `reco::registry::fit` with its
//! default parameters (as the `default-*` ML configs have them).
//!
//! `cargo run --release -p shared --example reco_compare [-- INTERACTIONS USERS ITEMS]`
//! (default 100,000 interactions of 1,000 users over 1,700 items: the engine's benchmark set).

use std::time::Instant;

use serde_json::Map;
use shared::reco::{
    data::Dataset,
    eval::{evaluate, time_holdout},
    model::ModelKind,
    registry::{TrainInput, fit},
    synthetic::{InteractionGenConfig, generate_interactions},
};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let mut config = InteractionGenConfig::default();
    if let [n, u, i] = args[..] {
        config.interactions = n;
        config.users = u;
        config.items = i;
    }
    let all = generate_interactions(&config);
    let (train_rows, test) = time_holdout(&all, 0.2);
    let data = Dataset::from_interactions(&train_rows, None);
    let now = all.iter().map(|i| i.timestamp).max().unwrap_or(0) + 1;
    let created = vec![None; data.n_items()];
    let embeddings = vec![None; data.n_items()];
    let input = TrainInput {
        data: &data,
        interactions: &train_rows,
        item_created_at: &created,
        item_embeddings: &embeddings,
        item_category: &[],
        item_price: &[],
        now,
        seed: 42,
    };
    println!(
        "{} interactions ({} users x {} items); train {} / test {}; {} distinct pairs in train",
        all.len(),
        config.users,
        config.items,
        train_rows.len(),
        test.len(),
        data.user_items.nnz()
    );
    println!("| model | fit s | NDCG@10 | P@10 | R@10 | HR@10 | MAP@10 | coverage |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut popularity_ndcg = None;
    for kind in [
        ModelKind::Popularity,
        ModelKind::ItemKnn,
        ModelKind::Ease,
        ModelKind::Als,
        ModelKind::Hybrid,
        ModelKind::Ranker,
    ] {
        let started = Instant::now();
        let model = match fit(kind, &Map::new(), &input) {
            Ok(m) => m,
            Err(e) => {
                println!("| {kind} | - | {e} |");
                continue;
            }
        };
        let fit_s = started.elapsed().as_secs_f64();
        let m = evaluate(&data, &test, 10, |history| {
            model
                .recommend(history, 10, &[])
                .into_iter()
                .map(|(i, _)| i)
                .collect()
        });
        if kind == ModelKind::Popularity {
            popularity_ndcg = Some(m.ndcg);
        }
        let ratio = popularity_ndcg
            .filter(|p| *p > 0.0)
            .map(|p| format!(" ({:.2}x)", m.ndcg / p))
            .unwrap_or_default();
        println!(
            "| {kind} | {fit_s:.3} | {:.4}{ratio} | {:.4} | {:.4} | {:.4} | {:.4} | {:.3} |",
            m.ndcg, m.precision, m.recall, m.hit_rate, m.map, m.coverage
        );
    }
}
