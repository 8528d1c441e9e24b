//! Shoppable videos (spec 004): signed upload, verification, feed, likes.
//! Each check runs against the in-memory backends and, with the emulator (`tests/run.sh`),
//! against DynamoDB + S3 on moto.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer, admin_product, signed_upload};
use futures::future::join_all;
use serde_json::json;

api_tests::suite!(shoppable_videos_signed_upload_verification_feed_and_like_race,);

async fn shoppable_videos_signed_upload_verification_feed_and_like_race(b: Backend) {
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let admin = s.token("admin@ecommerce.com", "admin123").await;
    let product_id = admin_product(
        &s,
        &admin,
        "Wearables",
        json!({"name": "Smart Watch", "code": "SW-1", "price": 199.99, "stock_quantity": 10,
               "tags": ["tech"]}),
    )
    .await;
    let creator = s.token("customer000", "password123").await;
    let viewer = s.token("customer001", "password123").await;
    let base = "/api/v1/shoppable-videos";

    // A real MP4 (the demo clip generator) through the signed URL: verified, then ready.
    let clip = local::demo_mp4::demo_mp4(7, 16, 16, 2, 10).unwrap();
    let created = s
        .json(
            "POST",
            &format!("{base}/"),
            Some(&creator),
            Some(
                json!({"product_id": product_id, "title": "Amazing Gadget Review",
                        "tags": ["tech", "gadgets"], "size": clip.len()}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["status"], "pending_upload");
    let id = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        signed_upload(&s, b, &created.json["upload"], clip.clone()).await,
        200
    );
    let video = s.json("GET", &format!("{base}/{id}/"), None, None).await;
    assert_eq!(video.status, 200, "{}", video.text);
    assert_eq!(video.json["status"], "ready");
    assert_eq!(video.json["product"]["name"], "Smart Watch");
    // The signed GET URL serves the file.
    let file = s
        .client
        .get(video.json["video_file"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(file.as_ref(), clip.as_slice());

    // A text file renamed to .mp4: refused at verification, marked failed, its blob removed.
    let notes = b"meeting notes, not a video\n".to_vec();
    let bad = s
        .json(
            "POST",
            base,
            Some(&creator),
            Some(json!({"product_id": product_id, "title": "Notes", "size": notes.len()})),
        )
        .await;
    assert_eq!(bad.status, 201, "{}", bad.text);
    let bad_id = bad.json["id"].as_str().unwrap().to_string();
    assert_eq!(signed_upload(&s, b, &bad.json["upload"], notes).await, 200);
    let failed = s
        .json("GET", &format!("{base}/{bad_id}"), Some(&creator), None)
        .await;
    assert_eq!(failed.json["status"], "failed", "{}", failed.text);
    assert!(
        s.state
            .blobs
            .head(&format!("videos/{bad_id}/video.mp4"))
            .await
            .unwrap()
            .is_none()
    );
    if b == Backend::Memory {
        // The local blob server enforces the signed size (S3 does it through the verification).
        let big = s
            .json(
                "POST",
                base,
                Some(&creator),
                Some(json!({"product_id": product_id, "title": "Big", "size": 100})),
            )
            .await;
        assert_eq!(
            signed_upload(&s, b, &big.json["upload"], vec![0; 101]).await,
            413
        );
    }

    // Only the ready video is in the feed.
    let feed = s
        .json("GET", &format!("{base}/?seed=3"), Some(&viewer), None)
        .await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let ids: Vec<&str> = feed
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);

    // Twenty concurrent like toggles from one user: the count equals the like records.
    let url = s.url(&format!("{base}/{id}/like/"));
    let replies =
        join_all((0..20).map(|_| s.client.post(url.clone()).bearer_auth(&viewer).send())).await;
    let mut liked = 0;
    for r in replies {
        let r = r.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        if body["liked"] == true {
            liked += 1;
        }
    }
    assert_eq!(liked, 10, "each toggle flipped the state once");
    let after = s
        .json("GET", &format!("{base}/{id}"), Some(&viewer), None)
        .await;
    let record = after.json["is_liked"] == true;
    assert_eq!(
        after.json["likes_count"],
        u64::from(record),
        "{}",
        after.text
    );
    // One more toggle, and a second user: the count follows the records.
    let r = s
        .json("POST", &format!("{base}/{id}/like/"), Some(&viewer), None)
        .await;
    assert_eq!(
        r.json,
        json!({"status": "success", "liked": true, "likes_count": 1})
    );
    let r = s
        .json("POST", &format!("{base}/{id}/like/"), Some(&creator), None)
        .await;
    assert_eq!(r.json["likes_count"], 2);

    // The trend job scores it from its activity (two net likes and a view this hour).
    let trends = jobs_fn::run(
        &s.state,
        &jobs_fn::JobEvent::named(jobs_fn::Job::VideoTrends),
    )
    .await
    .unwrap();
    assert_eq!(trends["report"]["ready_videos"], 1, "{trends}");
    let scored = s.json("GET", &format!("{base}/{id}"), None, None).await;
    assert_eq!(scored.json["trend_score"], 1.0, "{}", scored.text);

    // The uploader deletes it: the record, the file and the users' likes go.
    assert_eq!(
        s.json("DELETE", &format!("{base}/{id}"), Some(&creator), None)
            .await
            .status,
        204
    );
    assert_eq!(
        s.json("GET", &format!("{base}/{id}"), None, None)
            .await
            .status,
        404
    );
    assert!(
        s.state
            .blobs
            .head(&format!("videos/{id}/video.mp4"))
            .await
            .unwrap()
            .is_none()
    );
    let marks = shared::store::query_all(
        s.state.store.as_ref(),
        shared::store::Query::gsi1(shared::store::keys::video_refs_pk(&id)),
    )
    .await
    .unwrap();
    assert!(marks.is_empty(), "{marks:?}");
}
