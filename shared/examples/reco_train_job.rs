//! The whole `reco-train` job (what the nightly schedule runs: read the interaction aggregates
//! and the catalogue, then for each model fit on the time-based holdout's training part,
//! evaluate, refit on everything and write the artifact and the run record), on a synthetic
//! power-law data set in the in-memory store, with its wall time per phase and peak heap.
//!
//! `cargo run --release -p shared --features testkit --example reco_train_job [-- INTERACTIONS USERS ITEMS]`
//! (default 1,000,000 interactions, 100,000 users, 20,000 items).
//!
//! Setup (not measured): one product per synthetic item, created with its embedding as product
//! creation does, and every interaction recorded through the interaction log (`record_bulk`:
//! aggregates, hourly activity, raw events) with its kind (view 1, cart 3, purchase 5) and time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use peak_alloc::PeakAlloc;
use shared::{
    ai::local::LocalEmbedder,
    blobs::{BlobStore, local::LocalBlobs},
    domain::{
        catalog::{self, NewProduct},
        interactions::{self, Actor, InteractionKind, Signal},
        ml_models::training,
    },
    fixtures,
    money::Cents,
    reco::{
        registry,
        synthetic::{InteractionGenConfig, generate_interactions, product_id},
    },
    store::{ItemStore, local::LocalStore},
};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.replace('_', "").parse().expect("a number"))
        .collect();
    let config = InteractionGenConfig {
        interactions: args.first().copied().unwrap_or(1_000_000),
        users: args.get(1).copied().unwrap_or(100_000),
        items: args.get(2).copied().unwrap_or(20_000),
        // Recent: hourly activity and raw events are kept 8 and 90 days.
        start_timestamp: Utc::now().timestamp() - 30 * 86_400,
        ..InteractionGenConfig::default()
    };
    let store: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
    let blobs: Arc<dyn BlobStore> =
        Arc::new(LocalBlobs::in_memory("http://localhost/blobs".into(), b"secret").unwrap());
    let embedder = LocalEmbedder::new(64);

    let started = Instant::now();
    let category = fixtures::category(store.as_ref(), "Things").await;
    for i in 0..config.items {
        catalog::create_product_with_id(
            store.as_ref(),
            &embedder,
            NewProduct {
                name: format!("Synthetic product {i}"),
                code: format!("SYN-{i:06}"),
                price: Cents(500 + (i as i64 % 200) * 100),
                in_stock: true,
                stock_quantity: 1_000,
                category_id: category.id.clone(),
                is_active: true,
                ..Default::default()
            },
            product_id(i),
            Some("2026-01-01T00:00:00Z".into()),
        )
        .await
        .unwrap();
    }
    let generated = generate_interactions(&config);
    let signals: Vec<Signal> = generated
        .iter()
        .map(|it| {
            let kind = match it.weight as i64 {
                5 => InteractionKind::Purchase,
                3 => InteractionKind::Cart,
                _ => InteractionKind::View,
            };
            Signal::new(Actor::User(it.user.clone()), it.item.clone(), kind)
                .at(Utc.timestamp_opt(it.timestamp, 0).unwrap())
        })
        .collect();
    drop(generated);
    for chunk in signals.chunks(10_000) {
        interactions::record_bulk(store.as_ref(), chunk)
            .await
            .unwrap();
    }
    drop(signals);
    println!(
        "setup (not measured): {} products, {} interactions of {} users in {:.1} s",
        config.items,
        config.interactions,
        config.users,
        started.elapsed().as_secs_f64()
    );

    let before = PEAK.current_usage();
    PEAK.reset_peak_usage();
    let started = Instant::now();
    let report = training::run_locked(
        store.clone(),
        blobs,
        None,
        &training::all_trainable(),
        registry::fit,
    )
    .await
    .unwrap()
    .expect("no other training runs");
    let wall = started.elapsed();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    println!(
        "reco-train: wall {:.1} s; peak heap {:.0} MiB above the {:.0} MiB the store held before",
        wall.as_secs_f64(),
        mib(PEAK.peak_usage().saturating_sub(before)),
        mib(before)
    );
    println!("| model | outcome | train ms | evaluate ms | refit ms | write ms | total ms |");
    println!("|---|---|---|---|---|---|---|");
    for m in &report.models {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.model,
            m.outcome,
            m.phases.train_ms,
            m.phases.evaluate_ms,
            m.phases.refit_ms,
            m.phases.write_ms,
            m.duration_ms
        );
    }
}
