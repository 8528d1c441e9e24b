//! `local serve --memory` touches no disk: the store and the blobs live in memory, and the data
//! folder stays empty after demo users, a product and a video upload through the signed URL.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use shared::config::{BlobBackend, Config, StoreBackend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_memory_writes_nothing_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut config = Config::for_tests(data_dir.clone());
    config.store = StoreBackend::Local;
    config.blobs = BlobBackend::Local;
    local::memory_only(&mut config);
    assert_eq!(
        (config.store, config.blobs),
        (StoreBackend::Memory, BlobBackend::Memory)
    );
    let running = local::start("127.0.0.1:0".parse().unwrap(), config, false)
        .await
        .unwrap();
    let state = running.state.clone();
    assert_eq!(state.store.backend_name(), "memory");
    assert_eq!(state.blobs.backend_name(), "memory");
    local::demo::seed(&state, 2).await.unwrap();

    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let token = |user: &'static str, password: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r: Value = http
                .post(format!("{base}/api/v1/auth/login"))
                .form(&[("username", user), ("password", password)])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["access_token"].as_str().unwrap().to_string()
        }
    };
    let admin = token("admin@ecommerce.com", "admin123").await;
    let post = |path: String, token: String, body: Value| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = http
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<Value>().await.unwrap()
        }
    };
    let category = post(
        "/api/v1/admin/categories".into(),
        admin.clone(),
        json!({"name": "Wearables"}),
    )
    .await;
    let product = post(
        "/api/v1/admin/products/".into(),
        admin,
        json!({"name": "Smart Watch", "code": "SW-1", "price": 199.99, "stock_quantity": 10,
               "category_id": category["id"]}),
    )
    .await;
    let creator = token("customer000", "password123").await;
    let clip = local::demo_mp4::demo_mp4(5, 16, 16, 2, 10).unwrap();
    let created = post(
        "/api/v1/shoppable-videos/".into(),
        creator,
        json!({"product_id": product["id"], "title": "In memory", "size": clip.len()}),
    )
    .await;
    let upload = &created["upload"];
    let mut put = http.put(upload["url"].as_str().unwrap()).body(clip.clone());
    for (k, v) in upload["headers"].as_object().unwrap() {
        put = put.header(k.as_str(), v.as_str().unwrap());
    }
    assert_eq!(put.send().await.unwrap().status(), 200);
    let video: Value = http
        .get(format!(
            "{base}/api/v1/shoppable-videos/{}/",
            created["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(video["status"], "ready", "{video}");
    let file = http
        .get(video["video_file"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(file.as_ref(), clip.as_slice(), "served from memory");

    let on_disk: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(on_disk.is_empty(), "--memory wrote {on_disk:?}");
    running.handle.abort();
}
