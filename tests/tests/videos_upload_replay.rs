//! A signed upload URL works once: after the video is verified `ready`, replaying the PUT with
//! other bytes is refused (local blob server: 412 with the JSON error shape; S3: 412 through the
//! `If-None-Match: *` signed into the URL) and the video still serves the original file.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer, admin_product, deliver_object_created, signed_upload};
use serde_json::json;

api_tests::suite!(a_replayed_upload_url_cannot_replace_a_ready_video);

async fn a_replayed_upload_url_cannot_replace_a_ready_video(b: Backend) {
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let admin = s.token("admin@ecommerce.com", "admin123").await;
    let product_id = admin_product(
        &s,
        &admin,
        "Wearables",
        json!({"name": "Smart Watch", "code": "SW-1", "price": 199.99, "stock_quantity": 10}),
    )
    .await;
    let creator = s.token("customer000", "password123").await;
    let base = "/api/v1/shoppable-videos";
    let clip = local::demo_mp4::demo_mp4(3, 16, 16, 2, 10).unwrap();
    let created = s
        .json(
            "POST",
            &format!("{base}/"),
            Some(&creator),
            Some(json!({"product_id": product_id, "title": "Replay target",
                        "tags": ["tech"], "size": clip.len()})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let upload = &created.json["upload"];
    if b == Backend::Emulator {
        assert_eq!(
            upload["headers"]["if-none-match"], "*",
            "the client is told to send the signed once-only condition: {upload}"
        );
    }
    let id = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(signed_upload(&s, b, upload, clip.clone()).await, 200);
    let video = s.json("GET", &format!("{base}/{id}/"), None, None).await;
    assert_eq!(video.json["status"], "ready", "{}", video.text);

    // The replay: same URL, same headers, an HTML page of the same length.
    let mut html = b"<html><body>not the video</body></html>".to_vec();
    html.resize(clip.len(), b' ');
    let url = upload["url"].as_str().unwrap();
    let mut replay = s.client.put(url).body(html);
    for (k, v) in upload["headers"].as_object().unwrap() {
        replay = replay.header(k.as_str(), v.as_str().unwrap());
    }
    let replay = replay.send().await.unwrap();
    assert_eq!(replay.status().as_u16(), 412, "the replayed PUT is refused");
    if b == Backend::Memory {
        let body: serde_json::Value = replay.json().await.unwrap();
        assert_eq!(body["error_code"], "ALREADY_UPLOADED", "{body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    if b == Backend::Emulator {
        // S3 would send no event for a refused write; a late duplicate of the first one changes
        // nothing (the object is still the verified one).
        deliver_object_created(&s, url, clip.len()).await;
    }

    // Still ready, still the original bytes, as video/mp4.
    let video = s.json("GET", &format!("{base}/{id}/"), None, None).await;
    assert_eq!(video.json["status"], "ready", "{}", video.text);
    let file = s
        .client
        .get(video.json["video_file"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.headers()["content-type"].to_str().unwrap(),
        "video/mp4"
    );
    assert_eq!(file.bytes().await.unwrap().as_ref(), clip.as_slice());
}
