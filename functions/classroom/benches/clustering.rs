//! Benchmark of the clustering pipeline on 50,000 synthetic teachers x 8 activity features
//! (`shared::domain::teachers::synthetic_population`, seeded): log-scale, standardise, k-means
//! k = 4 with k-means++ and the default 8 seeded restarts (linfa-clustering), memberships,
//! profiles. Goal: under 1 s.
//!
//! `cargo bench -p classroom --bench clustering`. Before the criterion loop it prints the time and
//! the peak heap of one run, measured by the `peak_alloc` counting allocator (bytes the program
//! requested, not resident memory).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{hint::black_box, time::Duration, time::Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use peak_alloc::PeakAlloc;
use shared::{
    domain::teachers::{FEATURES, feature_rows, synthetic_population},
    reco::clusters::{ClusterParams, K, cluster},
};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

const USERS: usize = 50_000;

fn bench(c: &mut Criterion) {
    let rows = feature_rows(&synthetic_population(USERS, 1, 42));
    let params = ClusterParams::default();
    let input = PEAK.current_usage();
    PEAK.reset_peak_usage();
    let started = Instant::now();
    let result = cluster(&rows, FEATURES.len(), K, &params).unwrap();
    let elapsed = started.elapsed();
    let peak = PEAK.peak_usage().saturating_sub(input);
    println!(
        "clustering {USERS} users x {} features, k = {K}, {} restarts: {:.1} ms, peak heap above the input {:.1} MiB (input {:.1} MiB); counts {:?}, inertia {:.3}",
        FEATURES.len(),
        params.restarts,
        elapsed.as_secs_f64() * 1e3,
        peak as f64 / 1048576.0,
        input as f64 / 1048576.0,
        result.counts,
        result.inertia
    );

    // The same pipeline with other settings, one run each, for comparison.
    for (restarts, tolerance) in [(8, 1e-4), (4, 1e-4), (4, 1e-6)] {
        let p = ClusterParams {
            restarts,
            tolerance,
            ..params
        };
        let started = Instant::now();
        let r = cluster(&rows, FEATURES.len(), K, &p).unwrap();
        println!(
            "  restarts {restarts}, tolerance {tolerance:e}: {:.1} ms, counts {:?}, inertia {:.3}",
            started.elapsed().as_secs_f64() * 1e3,
            r.counts,
            r.inertia
        );
    }

    // One classification with the starter model (in process: features + two linear heads).
    let model = classroom::classifier::train(
        &classroom::model_store::starter_examples(),
        &classroom::classifier::TrainParams::default(),
    )
    .unwrap();
    let index = model.index();
    let doc = "# Différencier en mathématiques\n\nProposer trois niveaux de difficulté pour les problèmes de fractions et accompagner les élèves en difficulté avec des schémas.";

    let mut group = c.benchmark_group("clustering");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("kmeans_50k_users_8_features", |b| {
        b.iter(|| black_box(cluster(black_box(&rows), FEATURES.len(), K, &params).unwrap()))
    });
    group.bench_function("classify_one_document", |b| {
        b.iter(|| black_box(model.predict_with(black_box(doc), &index)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
