//! Benchmarks of the textbook function.
//!
//! - `offline_adapt_20k_words/<level>`: the offline adapter on a 20,000-word chapter (goal: under
//!   50 ms).
//! - `cached_personalize/<chapter>`: a cached `POST /api/personalization/personalize` through the
//!   router and the full middleware stack (`tower::ServiceExt::oneshot`, in-memory store, a new
//!   session each time, the adaptation served from the cache; reading position 0, and one case
//!   with a mid-chapter position that must be mapped into the adapted text). Besides criterion's
//!   mean, a bounded loop of 2,000 sequential requests prints p50/p99 (goal: p99 under 5 ms).
//!
//! `cargo bench -p textbook --bench offline_adapter`

use std::{hint::black_box, time::Instant};

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use shared::AppState;
use textbook::adapt::{Level, offline};
use tower::ServiceExt;

const SAMPLES: [&str; 3] = [
    include_str!("../samples/robotics.md"),
    include_str!("../samples/photosynthesis.md"),
    include_str!("../samples/algorithms.md"),
];

/// A chapter of at least `words` words: the samples repeated, their titles numbered.
fn chapter(words: usize) -> String {
    let mut out = String::new();
    let mut part = 0;
    while out.split_whitespace().count() < words {
        for s in SAMPLES {
            part += 1;
            out.push_str(&s.replacen("\n", &format!(" (part {part})\n"), 1));
            out.push('\n');
        }
    }
    out
}

fn offline_adapter(c: &mut Criterion) {
    let md = chapter(20_000);
    let words = md.split_whitespace().count();
    println!("chapter: {words} words, {} bytes", md.len());
    let mut group = c.benchmark_group("offline_adapt_20k_words");
    group.sample_size(20);
    for level in Level::ALL {
        group.bench_function(level.as_str(), |b| {
            b.iter(|| offline::adapt(black_box(&md), level))
        });
    }
    group.finish();
}

fn request(session: &str, content: &str, position: u64) -> axum::http::Request<Body> {
    let body = serde_json::json!({
        "session_id": session,
        "chapter_content": content,
        "difficulty_level": "beginner",
        "chapter_id": "bench-chapter",
        "reading_position": position,
    });
    axum::http::Request::builder()
        .method("POST")
        .uri("/api/personalization/personalize")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|e| panic!("request: {e}"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn cached_personalize(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    let service = shared::http::service(textbook::router(state.clone()), &state.config);
    let send = |session: String, content: &'static str, position: u64| {
        let service = service.clone();
        async move {
            let response = service
                .oneshot(request(&session, content, position))
                .await
                .unwrap_or_else(|e| match e {});
            assert_eq!(response.status(), 200);
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            black_box(bytes);
        }
    };
    let big: &'static str = Box::leak(chapter(5_000).into_boxed_str());
    let mut group = c.benchmark_group("cached_personalize");
    let middle = (big.chars().count() / 2) as u64;
    for (name, content, position) in [
        ("robotics_380_words", SAMPLES[0], 0),
        ("chapter_5000_words", big, 0),
        ("chapter_5000_words_mid_position", big, middle),
    ] {
        // First request generates and caches the adaptation.
        rt.block_on(send("warm".into(), content, position));
        let mut n = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                rt.block_on(send(format!("crit-{name}-{n}"), content, position))
            })
        });
        let mut latencies: Vec<f64> = (0..2_000)
            .map(|i| {
                let started = Instant::now();
                rt.block_on(send(format!("loop-{name}-{i}"), content, position));
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        latencies.sort_by(f64::total_cmp);
        println!(
            "cached_personalize/{name}: 2000 sequential requests: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.90),
            percentile(&latencies, 0.99),
            latencies.last().copied().unwrap_or_default(),
        );
    }
    group.finish();
}

criterion_group!(benches, offline_adapter, cached_personalize);
criterion_main!(benches);
