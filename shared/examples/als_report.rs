//! ALS report: NDCG@10 against popularity on the synthetic holdout, then fit time and peak heap
//! at larger sizes (the figures behind the Lambda limit in the README).
//!
//! `cargo run --release -p shared --example als_report [fit] [quality] [1m] [10m]` (default:
//! `fit quality 1m`; `10m` generates 10,000,000 interactions of 1,000,000 users over 50,000 items
//! and needs ~4 GB of memory and a few minutes).
//!
//! - `fit`: the criterion bench's fit (default set and parameters) ten times, wall and CPU
//!   time (CPU time is what to read when other processes share the cores);
//! - `quality`: the default synthetic set (100,000 interactions, 1,000 users x 1,700 items),
//!   each user's latest 20% held out (`reco::eval::time_holdout`); ALS with the default
//!   parameters against items ranked by summed training weight, both never recommending an
//!   item of the user's training history.
//! - `1m` / `10m`: generate, map to a data set, fit ALS with the default parameters (64 factors,
//!   15 epochs); prints the time of each phase and the peak heap of the fit above its input.
//!
//! Heap is measured by the `peak_alloc` global allocator (a counting shim over the system
//! allocator): bytes requested by the program, not resident memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use peak_alloc::PeakAlloc;
use shared::reco::als::{AlsModel, AlsParams};
use shared::reco::data::Dataset;
use shared::reco::eval::{Metrics, evaluate, time_holdout};
use shared::reco::model::{Recommender, top_k};
use shared::reco::synthetic::{InteractionGenConfig, generate_interactions};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn line(name: &str, m: &Metrics) {
    println!(
        "  {name:<11} ndcg@10 {:.4}  precision@10 {:.4}  recall@10 {:.4}  hit_rate@10 {:.4}  map@10 {:.4}  coverage {:.4}  ({} users)",
        m.ndcg, m.precision, m.recall, m.hit_rate, m.map, m.coverage, m.users_evaluated
    );
}

fn quality() {
    let all = generate_interactions(&InteractionGenConfig::default());
    let (train, test) = time_holdout(&all, 0.2);
    let data = Dataset::from_interactions(&train, None);
    let params = AlsParams::default();
    let started = Instant::now();
    let model = AlsModel::fit(&data, &params).expect("fit");
    let fit_s = started.elapsed().as_secs_f64();
    let als = evaluate(&data, &test, 10, |h| {
        model
            .recommend(h, 10, &[])
            .into_iter()
            .map(|r| r.0)
            .collect()
    });
    let mut pop = vec![0f32; data.n_items()];
    for (&c, &v) in data.user_items.indices.iter().zip(&data.user_items.values) {
        pop[c as usize] += v;
    }
    let popularity = evaluate(&data, &test, 10, |h| {
        let mut s = pop.clone();
        for &(i, _) in h {
            if let Some(x) = s.get_mut(i as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
        top_k(&s, 10).into_iter().map(|r| r.0).collect()
    });
    println!(
        "quality: synthetic holdout, {} train / {} test interactions, {} users x {} items; ALS {params:?} fit in {:.3} s",
        train.len(),
        test.len(),
        data.n_users(),
        data.n_items(),
        fit_s
    );
    line("als", &als);
    line("popularity", &popularity);
    println!(
        "  ALS / popularity NDCG@10: {:.2}x (goal >= 1.30x)",
        als.ndcg / popularity.ndcg
    );
}

/// User + system CPU seconds of this process so far (from /proc/self/stat; 0 elsewhere), so a
/// fit's CPU time can be read even when other processes share the cores.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / 100.0
}

/// The criterion bench's fit (default set, default parameters) timed by wall and CPU clock.
fn fit_timing() {
    let data = Dataset::from_interactions(
        &generate_interactions(&InteractionGenConfig::default()),
        None,
    );
    let params = AlsParams::default();
    let runs = 10;
    let (mut walls, cpu0) = (Vec::new(), cpu_seconds());
    for _ in 0..runs {
        let started = Instant::now();
        std::hint::black_box(AlsModel::fit(&data, &params).expect("fit"));
        walls.push(started.elapsed().as_secs_f64());
    }
    let cpu = (cpu_seconds() - cpu0) / runs as f64;
    walls.sort_by(f64::total_cmp);
    println!(
        "fit: {} users x {} items, {} pairs, 64 factors, 15 epochs, {} threads: wall min {:.1} ms, median {:.1} ms; CPU {:.1} ms per fit (/ threads = {:.1} ms)",
        data.n_users(),
        data.n_items(),
        data.user_items.nnz(),
        rayon::current_num_threads(),
        walls[0] * 1e3,
        walls[runs / 2] * 1e3,
        cpu * 1e3,
        cpu * 1e3 / rayon::current_num_threads() as f64
    );
}

fn scale(name: &str, interactions: usize, users: usize, items: usize) {
    let base = PEAK.current_usage();
    let started = Instant::now();
    let all = generate_interactions(&InteractionGenConfig {
        interactions,
        users,
        items,
        ..InteractionGenConfig::default()
    });
    let generated = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let data = Dataset::from_interactions(&all, None);
    let mapped = started.elapsed().as_secs_f64();
    let with_interactions = PEAK.current_usage().saturating_sub(base);
    drop(all);
    let input = PEAK.current_usage();
    PEAK.reset_peak_usage();
    let params = AlsParams::default();
    let started = Instant::now();
    let model = AlsModel::fit(&data, &params).expect("fit");
    let fit_s = started.elapsed().as_secs_f64();
    let peak = PEAK.peak_usage();
    println!(
        "{name}: {interactions} interactions -> {} users x {} items, {} distinct pairs; {} threads",
        data.n_users(),
        data.n_items(),
        data.user_items.nnz(),
        rayon::current_num_threads()
    );
    println!(
        "  generate {generated:.2} s, map to data set {mapped:.2} s (interactions + data set on heap: {:.0} MiB; data set alone: {:.0} MiB)",
        mib(with_interactions),
        mib(input.saturating_sub(base))
    );
    println!(
        "  fit (64 factors, 15 epochs, 3 CG steps): {fit_s:.2} s, {:.3} s per epoch; peak heap during fit {:.0} MiB above the data set; model factors {:.0} MiB",
        fit_s / params.n_epochs as f64,
        mib(peak.saturating_sub(input)),
        mib((model.user_factors.len() + model.item_factors.len()) * 4)
    );
    let started = Instant::now();
    let bytes = shared::reco::registry::TrainedModel::to_artifact(&model).expect("artifact");
    println!(
        "  artifact {:.0} MiB, encoded in {:.2} s",
        mib(bytes.len()),
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        args = vec!["fit".into(), "quality".into(), "1m".into()];
    }
    for a in &args {
        match a.as_str() {
            "quality" => quality(),
            "fit" => fit_timing(),
            "1m" => scale("1m", 1_000_000, 100_000, 20_000),
            "10m" => scale("10m", 10_000_000, 1_000_000, 50_000),
            other => eprintln!("unknown part `{other}` (fit, quality, 1m, 10m)"),
        }
    }
}
