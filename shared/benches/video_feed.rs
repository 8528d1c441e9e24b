//! Benchmark of the shoppable-video feed's stages (spec 004) on the embedded in-memory store the
//! local server uses: 10,000 ready videos over 24 categories and 500 products, a user with 200
//! interactions (150 likes, 50 saves), 20 viewed products and 30 watched videos, and a trending
//! list from the `video-trends` job.
//!
//! `cargo bench -p shared --bench video_feed`. Stages: `profile` (one query on the user's
//! partition, profile building), `candidates` (category, recent and trending sources, pool),
//! `scoring` (the formula and ranking over the pool), and `page` (all of it, as a request runs
//! it, without the HTTP layer and URL signing). The HTTP figures come from `tests/bench/load.sh`
//! (scenario `feed`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashSet, hint::black_box, sync::Arc, time::Duration};

use chrono::Utc;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use shared::{
    ai::local::LocalEmbedder,
    domain::{
        catalog::snapshot::CatalogSnapshot,
        catalog::{self, NewCategory, NewProduct},
        videos::{
            self, NewVideo, VideoCounts, VideoRecord, VideoStatus, feed,
            interactions::{self, Toggle},
            trends::{self, TrendParams},
        },
        viewed,
    },
    store::{ItemStore, local::LocalStore},
};

const VIDEOS: usize = 10_000;
const CATEGORIES: usize = 24;
const PRODUCTS: usize = 500;
const USER: &str = "bench-user";
const STYLES: [&str; 6] = [
    "review",
    "unboxing",
    "how-to",
    "haul",
    "setup",
    "first-look",
];

struct World {
    store: Arc<dyn ItemStore>,
    catalog: CatalogSnapshot,
}

async fn world() -> World {
    let store: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
    let s = store.as_ref();
    let embedder = LocalEmbedder::new(32);
    let mut categories = Vec::new();
    for c in 0..CATEGORIES {
        let cat = catalog::create_category(
            s,
            NewCategory {
                name: format!("Category {c}"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        categories.push(cat);
    }
    let mut products = Vec::new();
    for p in 0..PRODUCTS {
        let cat = &categories[p % CATEGORIES];
        let product = catalog::create_product(
            s,
            &embedder,
            NewProduct {
                name: format!("Product {p}"),
                code: format!("P-{p:04}"),
                price: shared::money::Cents(1000 + p as i64 * 100),
                in_stock: true,
                stock_quantity: 10,
                category_id: cat.id.clone(),
                tags: vec![
                    format!("shelf-{}", p % CATEGORIES),
                    format!("kind-{}", p % 7),
                ],
                is_active: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        products.push(product);
    }
    let now = Utc::now();
    let mut ids = Vec::with_capacity(VIDEOS);
    for i in 0..VIDEOS {
        let product = &products[(i * 7919) % PRODUCTS];
        let created = (now - chrono::Duration::minutes(i as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let record = VideoRecord {
            status: VideoStatus::Ready,
            size: Some(1000),
            created_at: created.clone(),
            updated_at: created,
            ..videos::pending_record(NewVideo {
                product_id: product.id.clone(),
                category_id: product.category_id.clone(),
                uploader_id: "creator".into(),
                title: format!("Video {i}"),
                tags: vec![
                    product.tags[0].clone(),
                    STYLES[i % STYLES.len()].to_string(),
                ],
            })
        };
        let counts = VideoCounts {
            views_count: (i as u64 * 37) % 5000,
            shares_count: (i as u64 * 13) % 40,
            ..Default::default()
        };
        videos::insert_with_counts(s, &record, &counts)
            .await
            .unwrap();
        ids.push((record.id, record.category_id));
    }
    // The user: likes and saves in three categories, some watched, some viewed products.
    let favourite: HashSet<&str> = categories[..3].iter().map(|c| c.id.as_str()).collect();
    let mut done = 0;
    for (id, cat) in &ids {
        if done == 200 {
            break;
        }
        if favourite.contains(cat.as_str()) {
            let kind = if done % 4 == 3 {
                Toggle::Save
            } else {
                Toggle::Like
            };
            interactions::toggle(s, kind, USER, id).await.unwrap();
            if done < 30 {
                interactions::view(s, id, Some(USER)).await.unwrap();
            }
            done += 1;
        }
    }
    for p in products.iter().take(20) {
        viewed::add(s, USER, &p.id).await.unwrap();
    }
    // Activity for others, then the trend job (trending list).
    for (id, _) in ids.iter().step_by(17).take(400) {
        interactions::share(s, id).await.unwrap();
    }
    let report = trends::recompute(s, Utc::now(), &TrendParams::default())
        .await
        .unwrap();
    println!(
        "video_feed: {} videos, {} with activity, {} trending; user with {done} likes/saves",
        report.ready_videos, report.videos_with_activity, report.trending_listed
    );
    let catalog = CatalogSnapshot::new(1, products, categories);
    World { store, catalog }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let w = rt.block_on(world());
    let s = w.store.as_ref();
    let user = rt
        .block_on(feed::load_user_state(s, &w.catalog, USER))
        .unwrap();
    let served = HashSet::new();
    let pool = rt
        .block_on(feed::gather_candidates(s, &user.profile, &served))
        .unwrap();
    println!(
        "video_feed: profile {:?}; pool of {} candidates",
        user.profile,
        pool.videos.len()
    );

    let mut group = c.benchmark_group("video_feed");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("profile", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(feed::load_user_state(s, &w.catalog, USER).await.unwrap()) })
    });
    group.bench_function("candidates", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                feed::gather_candidates(s, &user.profile, &served)
                    .await
                    .unwrap(),
            )
        })
    });
    group.bench_function("scoring", |b| {
        b.iter_batched(
            || pool.videos.clone(),
            |videos| black_box(feed::score_candidates(videos, &user, 42)),
            BatchSize::SmallInput,
        )
    });
    // The three stages in a row, as `page` runs them (the stages alone each repeat one read).
    group.bench_function("stages_in_sequence", |b| {
        b.to_async(&rt).iter(|| async {
            let user = feed::load_user_state(s, &w.catalog, USER).await.unwrap();
            let pool = feed::gather_candidates(s, &user.profile, &HashSet::new())
                .await
                .unwrap();
            black_box(feed::score_candidates(pool.videos, &user, 42))
        })
    });
    group.bench_function("page", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                feed::page(s, &w.catalog, Some(USER), 10, None, Some(42))
                    .await
                    .unwrap(),
            )
        })
    });
    group.bench_function("page_anonymous", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                feed::page(s, &w.catalog, None, 10, None, Some(42))
                    .await
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
