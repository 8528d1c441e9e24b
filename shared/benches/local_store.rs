//! Benchmarks of the embedded store (`LocalStore`), in memory and on a file:
//! get, conditional put, query of 100 items, transaction of 4 items.
//!
//! `cargo bench -p shared --bench local_store` (wall time), or with `BENCH_CPU_TIME=1` the
//! on-CPU time of the bench thread, which other processes on a busy machine disturb far less.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};
use serde_json::json;
use shared::store::local::LocalStore;
use shared::store::{Condition, Item, ItemStore, Key, Query, TxOp, Update};
use tokio::runtime::Runtime;

const USERS: usize = 1_000;

/// A user profile of a realistic size (~350 bytes of JSON).
fn user(i: usize) -> Item {
    let v = json!({
        "PK": format!("USER#{i:05}"),
        "SK": "PROFILE",
        "GSI1PK": "USERS",
        "GSI1SK": format!("2026-01-01T00:00:00Z#{i:05}"),
        "id": format!("{i:05}"),
        "email": format!("user{i}@example.com"),
        "username": format!("user{i}"),
        "display_name": "A. Benchmark User",
        "role": "user",
        "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo",
        "created_at": "2026-01-01T00:00:00Z",
        "login_count": 3,
        "verified": true,
    });
    match v {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn feed_item(i: usize) -> Item {
    let mut m = user(i);
    m.insert("PK".into(), json!("FEED#1"));
    m.insert("SK".into(), json!(format!("ITEM#{i:04}")));
    m.remove("GSI1PK");
    m
}

async fn fill(store: &LocalStore) {
    for i in 0..USERS {
        store.put(user(i), None).await.unwrap();
    }
    for i in 0..100 {
        store.put(feed_item(i), None).await.unwrap();
    }
    // Noise around the queried partition.
    for i in 0..100 {
        let mut m = feed_item(i);
        m.insert("PK".into(), json!("FEED#2"));
        store.put(m, None).await.unwrap();
    }
}

/// On-CPU time of this thread in nanoseconds (Linux `schedstat`), or `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn cpu_time_mode() -> bool {
    std::env::var_os("BENCH_CPU_TIME").is_some() && thread_cpu_ns().is_some()
}

/// Wall time (criterion's default), or with `BENCH_CPU_TIME=1` the on-CPU time of the bench
/// thread: steadier on a shared, busy machine (everything runs on that one thread here).
fn run<F, Fut>(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, name: &str, op: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let cpu_time = cpu_time_mode();
    group.bench_function(name, |b| {
        if cpu_time {
            b.iter_custom(|iters| {
                let start = thread_cpu_ns().unwrap_or(0);
                rt.block_on(async {
                    for _ in 0..iters {
                        op().await;
                    }
                });
                Duration::from_nanos(thread_cpu_ns().unwrap_or(0).saturating_sub(start))
            })
        } else {
            b.to_async(rt).iter(&op)
        }
    });
}

fn bench_store(c: &mut Criterion, name: &str, store: LocalStore) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(fill(&store));
    let next = AtomicUsize::new(0);
    let pick = || next.fetch_add(7919, Ordering::Relaxed) % USERS;
    let store = &store;

    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    if cpu_time_mode() {
        // The kernel accounts CPU time per scheduler tick: long, equal samples average it out.
        group.sampling_mode(SamplingMode::Flat).sample_size(20);
    }

    run(&mut group, &rt, "get", || async {
        let i = pick();
        let key = Key::new(format!("USER#{i:05}"), "PROFILE");
        black_box(store.get(&key).await.unwrap().unwrap());
    });

    run(&mut group, &rt, "put_conditional", || async {
        let i = pick();
        let mut it = user(i);
        it.insert("login_count".into(), json!(i));
        store.put(it, Some(Condition::ItemExists)).await.unwrap();
    });

    run(&mut group, &rt, "query_100", || async {
        let page = store.query(Query::table("FEED#1")).await.unwrap();
        assert_eq!(page.items.len(), 100);
        black_box(page);
    });

    run(&mut group, &rt, "transact_4", || async {
        let i = pick();
        let k = |j: usize| Key::new(format!("USER#{:05}", (i + j) % USERS), "PROFILE");
        store
            .transact(vec![
                TxOp::Put {
                    item: user(i),
                    condition: Some(Condition::ItemExists),
                },
                TxOp::Update {
                    key: k(1),
                    update: Update::new().add("login_count", 1),
                    condition: None,
                },
                TxOp::Update {
                    key: Key::new("STATS", format!("c{}", i % 10)),
                    update: Update::new().add("n", 1),
                    condition: None,
                },
                TxOp::Check {
                    key: k(2),
                    condition: Condition::ItemExists,
                },
            ])
            .await
            .unwrap();
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_store(c, "memory", LocalStore::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    bench_store(
        c,
        "file",
        LocalStore::open(&dir.path().join("bench.redb")).unwrap(),
    );
}

criterion_group!(local_store, benches);
criterion_main!(local_store);
