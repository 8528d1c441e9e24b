//! Promotion figures (issue 16) on the local server (`local::start_with_state`: every router,
//! the full middleware stack, the file-backed store and blob folder of `local serve`):
//! - `GET /api/v1/recommendations/user-banners/{user_id}?limit=3` with 200 published banners
//!   (varied targeting over 5 RFM clusters, regions, spend, recency, priorities): latency
//!   percentiles over sequential keep-alive requests after a warm-up, asked by an admin (no
//!   writes) and by the user (one impression `ADD` per banner shown);
//! - `POST /api/v1/recommendations/generate-banner` (16:9, a product) with the local renderer.
//!
//! `cargo run --release -p local --example banners_bench [-- REQUESTS [memory]]` (`memory`: the
//! in-memory store and blobs of `local serve --memory`, as `tests/bench/load.sh` runs)
//!
//! Setup (users, clusters, 200 banners written and published through the domain code) is not
//! measured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::{
    AppState,
    ai::{ImageRequest, local::LocalImages},
    auth::{Role, permissions_for},
    config::{BlobBackend, Config, StoreBackend},
    domain::{
        catalog::{self, NewCategory, NewProduct},
        promotions::records::{self, Banner, Publication, Targeting},
        segments::{features, membership, records as segments},
        users::{self, NewUser},
    },
    store::{Update, keys},
};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() / times.len() as f64 * 1000.0;
    println!(
        "{name}: n={} mean {mean:.3} ms, p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
    );
}

async fn user(state: &AppState, name: &str, role: Role) -> (String, String) {
    let u = users::create(
        state.store.as_ref(),
        NewUser {
            email: format!("{name}@bench.example.com"),
            username: Some(name.into()),
            first_name: name.into(),
            last_name: "Bench".into(),
            phone: None,
            address: None,
            is_active: true,
            roles: vec![role],
            password_hash: "x".into(),
        },
    )
    .await
    .unwrap();
    let token = state
        .jwt
        .issue_at_version(
            &u.id,
            u.roles.clone(),
            permissions_for(&u.roles),
            u.auth_version,
        )
        .unwrap();
    (u.id, token)
}

#[tokio::main]
async fn main() {
    let requests: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path().to_path_buf());
    let memory = std::env::args().nth(2).as_deref() == Some("memory");
    (config.store, config.blobs) = if memory {
        (StoreBackend::Memory, BlobBackend::Memory)
    } else {
        (StoreBackend::Local, BlobBackend::Local)
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    config.public_base_url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::from_config_and_sdk(config, None).unwrap();
    let store = state.store.as_ref();

    // A champion customer in cluster 0, with spend, a recent order and a country.
    let (admin, admin_token) = user(&state, "admin", Role::Admin).await;
    let (shopper, shopper_token) = user(&state, "shopper", Role::Customer).await;
    features::record_order(
        store,
        &shopper,
        90_000,
        chrono::Utc::now() - chrono::Duration::days(5),
        1,
    )
    .await
    .unwrap();
    store
        .update(
            &keys::user_profile_facts(&shopper),
            Update::new().set("country", "US"),
            None,
        )
        .await
        .unwrap();
    for c in 0..5u32 {
        let mut s = segments::new_segment(format!("Cluster {c}"), None, "rfm", json!({}), false);
        s.rfm_cluster = Some(json!({"cluster": c}));
        segments::create(store, &s).await.unwrap();
        let members = if c == 0 {
            vec![shopper.clone()]
        } else {
            Vec::new()
        };
        membership::install(store, &s, members).await.unwrap();
    }
    // 200 published banners.
    let png = LocalImages::new()
        .render(&ImageRequest {
            prompt: "Bench banner".into(),
            width: 768,
            height: 432,
            seed: None,
            caption: Some("Bench\n$9.99".into()),
        })
        .unwrap();
    for i in 0..200u32 {
        let id = format!("banner_bench_{i:04}");
        let banner = Banner {
            id: id.clone(),
            prompt: format!("Bench banner {i}"),
            image_prompt: format!("Bench banner {i}"),
            product_id: None,
            product_category: Some("Electronics".into()),
            user_id: None,
            promotion_id: None,
            aspect_ratio: "16:9".into(),
            width: 768,
            height: 432,
            saved_path: records::blob_key(&id),
            size: png.len() as u64,
            model_backend: "local".into(),
            model_id: "local-banner-v1".into(),
            created_at: shared::store::now_rfc3339(),
            created_by: admin.clone(),
            is_published: false,
            target_audience: None,
            start_date: None,
            end_date: None,
            priority: None,
            published_at: None,
            published_by: None,
            version: 0,
        };
        records::create(store, state.blobs.as_ref(), &banner, png.clone().into())
            .await
            .unwrap();
        let target = Targeting {
            cluster_ids: vec![i % 5, (i + 2) % 5],
            region: (i % 3 == 0).then(|| "US".to_string()),
            min_spend: (i % 4 == 0).then_some(100.0),
            max_recency_days: (i % 7 == 0).then_some(30),
            ..Default::default()
        };
        let publication = Publication {
            target_audience: target,
            start_date: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
            end_date: (i % 10 == 9).then(|| chrono::Utc::now() - chrono::Duration::minutes(1)),
            priority: (i % 10 + 1) as u8,
            by: admin.clone(),
        };
        records::publish(store, &id, publication).await.unwrap();
    }
    let cat = catalog::create_category(
        store,
        NewCategory {
            name: "Smartphones".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let product = catalog::create_product(
        store,
        state.embedder.as_ref(),
        NewProduct {
            name: "iPhone 15 Pro".into(),
            code: "IP15P".into(),
            brand: Some("Apple".into()),
            price: shared::money::Cents(99_999),
            in_stock: true,
            stock_quantity: 5,
            category_id: cat.id,
            is_active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let running = local::start_with_state(listener, state.clone())
        .await
        .unwrap();
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/recommendations/user-banners/{shopper}?limit=3");
    let get = |token: String| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let started = Instant::now();
            let r = client.get(&url).bearer_auth(token).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["banners"].as_array().unwrap().len(), 3);
            started.elapsed()
        }
    };
    for _ in 0..300 {
        get(admin_token.clone()).await;
    }
    let mut admin_times = Vec::with_capacity(requests);
    for _ in 0..requests {
        admin_times.push(get(admin_token.clone()).await);
    }
    let mut self_times = Vec::with_capacity(requests);
    for _ in 0..requests {
        self_times.push(get(shopper_token.clone()).await);
    }
    println!(
        "200 published banners, limit=3, {requests} sequential requests after 300 warm-up, {} store",
        if memory { "in-memory" } else { "file-backed" }
    );
    report("user-banners (admin view, no writes)", admin_times);
    report("user-banners (the user, 3 impression ADDs)", self_times);

    let mut times = Vec::new();
    for i in 0..20 {
        let started = Instant::now();
        let r = client
            .post(format!("{base}/api/v1/recommendations/generate-banner"))
            .bearer_auth(&admin_token)
            .json(&json!({"prompt": format!("Holiday sale {i}"), "aspect_ratio": "16:9", "product_id": product.id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _: Value = r.json().await.unwrap();
        times.push(started.elapsed());
    }
    report(
        "generate-banner (local renderer, 768x432 PNG, stored + base64 answer)",
        times,
    );
    let started = Instant::now();
    for i in 0..20 {
        LocalImages::new()
            .render(&ImageRequest {
                prompt: format!("Holiday sale {i}"),
                width: 768,
                height: 432,
                seed: Some(i),
                caption: Some("iPhone 15 Pro\n$999.99".into()),
            })
            .unwrap();
    }
    println!(
        "local renderer alone (768x432 PNG): {:.2} ms per banner",
        started.elapsed().as_secs_f64() * 1000.0 / 20.0
    );
    running.handle.abort();
}
