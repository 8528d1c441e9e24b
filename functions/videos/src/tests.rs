#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use shared::{
    auth::Role,
    domain::{
        catalog::{self, NewCategory, NewProduct, ProductRecord},
        users::UserRecord,
        videos::{self, VideoStatus},
    },
    testkit::TestApp,
};

use crate::router;

const BASE: &str = "/api/v1/shoppable-videos";

/// A valid MP4 header (`ftyp` box) and a little payload.
fn mp4() -> Vec<u8> {
    let mut v = vec![0, 0, 0, 24];
    v.extend_from_slice(b"ftypisom\0\0\x02\0isommp41");
    v.extend_from_slice(b"\0\0\0\x08free");
    v
}

struct Setup {
    app: TestApp,
    product: ProductRecord,
    uploader: (UserRecord, String),
    viewer: (UserRecord, String),
    admin: String,
}

async fn setup() -> Setup {
    let app = TestApp::new(router);
    let store = app.state.store.as_ref();
    let cat = catalog::create_category(
        store,
        NewCategory {
            name: "Wearables".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let product = catalog::create_product(
        store,
        app.state.embedder.as_ref(),
        NewProduct {
            name: "Smart Watch".into(),
            code: "SW-1".into(),
            price: shared::money::Cents(19_999),
            in_stock: true,
            stock_quantity: 3,
            category_id: cat.id,
            tags: vec!["tech".into()],
            is_active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let uploader = app.user_with_roles("creator", &[Role::Customer]).await;
    let viewer = app.user_with_roles("viewer", &[Role::Customer]).await;
    let (_, admin) = app.user_with_roles("boss", &[Role::Admin]).await;
    Setup {
        app,
        product,
        uploader,
        viewer,
        admin,
    }
}

/// A form field: name, file name (for files) and bytes.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

fn multipart(token: &str, parts: &[Part<'_>]) -> Request<Body> {
    let boundary = "XyZBoundary42";
    let mut body = Vec::new();
    for (name, file_name, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: video/mp4\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::builder()
        .method("POST")
        .uri(format!("{BASE}/"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap()
}

/// Uploads a ready video through the multipart form; returns its id.
async fn upload(s: &Setup, title: &str, tags: &str) -> String {
    let file = mp4();
    let r = s
        .app
        .send(multipart(
            &s.uploader.1,
            &[
                ("file", Some("clip.mp4"), &file),
                ("product_id", None, s.product.id.as_bytes()),
                ("title", None, title.as_bytes()),
                ("tags", None, tags.as_bytes()),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_multipart_upload_is_ready_at_once_and_feeds_show_the_spec_fields() {
    let s = setup().await;
    let file = mp4();
    let r = s
        .app
        .send(multipart(
            &s.uploader.1,
            &[
                ("file", Some("clip.mp4"), &file),
                ("product_id", None, s.product.id.as_bytes()),
                ("title", None, b"Amazing Gadget Review"),
                ("tags", None, br#"["Tech", "gadgets"]"#),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["status"], "ready");
    assert_eq!(r.json["tags"], json!(["tech", "gadgets"]));
    assert_eq!(r.json["product"]["price"], 199.99);
    let id = r.json["id"].as_str().unwrap();
    let url = r.json["video_file"].as_str().unwrap();
    assert!(
        url.contains("/blobs/videos/") && url.contains("sig="),
        "{url}"
    );
    let stored = s.app.state.blobs.get(&videos::blob_key(id)).await.unwrap();
    assert_eq!(stored.body.as_ref(), file.as_slice());

    let feed = s
        .app
        .call("GET", &format!("{BASE}/?seed=1"), Some(&s.viewer.1), None)
        .await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    let item = &feed.json[0];
    for field in [
        "id",
        "title",
        "video_file",
        "product",
        "likes_count",
        "is_liked",
        "is_saved",
        "trend_score",
    ] {
        assert!(item.get(field).is_some(), "{field} missing: {item}");
    }
    assert_eq!(
        item["product"],
        json!({"id": s.product.id, "name": "Smart Watch", "price": 199.99})
    );
    assert_eq!(
        (item["is_liked"].clone(), item["is_saved"].clone()),
        (json!(false), json!(false))
    );
    // One video: the session ends with it.
    assert!(feed.headers.get("x-next-cursor").is_none());
}

#[tokio::test]
async fn a_signed_upload_creates_a_pending_video_with_a_limited_url() {
    let s = setup().await;
    let r = s
        .app
        .call(
            "POST",
            BASE,
            Some(&s.uploader.1),
            Some(json!({"product_id": s.product.id, "title": "Unboxing", "tags": ["tech"], "size": 1_048_576})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["status"], "pending_upload");
    assert_eq!(r.json["video_file"], Value::Null);
    assert_eq!(r.json["upload"]["method"], "PUT");
    assert_eq!(r.json["upload"]["max_size"], 1_048_576);
    assert_eq!(r.json["upload"]["headers"]["content-type"], "video/mp4");
    let url = r.json["upload"]["url"].as_str().unwrap();
    assert!(
        url.contains("ct=video%2Fmp4") && url.contains("max=1048576"),
        "{url}"
    );
    let id = r.json["id"].as_str().unwrap();

    // Pending videos are not public, nor in feeds; their uploader sees them.
    let path = format!("{BASE}/{id}/");
    assert_eq!(
        s.app.call("GET", &path, None, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.app
            .call("GET", &path, Some(&s.viewer.1), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let mine = s.app.call("GET", &path, Some(&s.uploader.1), None).await;
    assert_eq!(mine.json["status"], "pending_upload");
    let feed = s.app.call("GET", BASE, None, None).await;
    assert_eq!(feed.json, json!([]));
    assert_eq!(
        s.app
            .call(
                "POST",
                &format!("{BASE}/{id}/like/"),
                Some(&s.viewer.1),
                None
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_uploads_get_the_error_shape_and_write_nothing() {
    let s = setup().await;
    let t = Some(s.uploader.1.as_str());
    let ok = json!({"product_id": s.product.id, "title": "T", "tags": ["a"], "size": 1000});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (
            without("title"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "title",
        ),
        (
            with("title", json!("  ")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "title",
        ),
        (
            with("tags", json!("tech")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "tags",
        ),
        (
            with("tags", json!({"a": 1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "tags",
        ),
        (
            with("tags", json!(["ok", 3])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "tags[1]",
        ),
        (
            without("size"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "size",
        ),
        (
            with("size", json!(-1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "size",
        ),
        (
            with("size", json!(50 * 1024 * 1024 + 1)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "FILE_TOO_LARGE",
            "file",
        ),
        (
            with("content_type", json!("video/webm")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "content_type",
        ),
        (
            without("product_id"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "product_id",
        ),
        (
            with("product_id", json!("no-such-product")),
            StatusCode::NOT_FOUND,
            "PRODUCT_NOT_FOUND",
            "",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = s.app.call("POST", BASE, t, Some(body.clone())).await;
        assert_eq!(r.status, status, "{body} -> {}", r.text);
        assert_eq!(r.json["error_code"], code, "{body}");
        if !field.is_empty() {
            let fields: Vec<&str> = r.json["field_errors"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["field"].as_str())
                .collect();
            assert!(fields.contains(&field), "{body}: {fields:?}");
        }
    }
    let malformed = s
        .app
        .send(shared::testkit::raw_request(
            "POST",
            BASE,
            "application/json",
            "{\"title\":",
        ))
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::UNAUTHORIZED,
        "auth comes first"
    );
    assert_eq!(
        s.app
            .call("POST", BASE, None, Some(ok.clone()))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Multipart: a renamed text file, a missing title, tags that are not a JSON list.
    let file = mp4();
    let pid = s.product.id.as_bytes();
    let forms: Vec<(Vec<Part<'_>>, StatusCode, &str, &str)> = vec![
        (
            vec![
                ("file", Some("notes.mp4"), b"these are my notes\n"),
                ("product_id", None, pid),
                ("title", None, b"T"),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_VIDEO",
            "file",
        ),
        (
            vec![("file", Some("clip.mp4"), &file), ("product_id", None, pid)],
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "title",
        ),
        (
            vec![
                ("file", Some("clip.mp4"), &file),
                ("product_id", None, pid),
                ("title", None, b"T"),
                ("tags", None, b"tech, gadgets"),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "tags",
        ),
        (
            vec![("product_id", None, pid), ("title", None, b"T")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "file",
        ),
        (
            vec![
                ("file", Some("clip.mp4"), &file),
                ("product_id", None, b"missing"),
                ("title", None, b"T"),
            ],
            StatusCode::NOT_FOUND,
            "PRODUCT_NOT_FOUND",
            "",
        ),
    ];
    for (parts, status, code, field) in forms {
        let r = s.app.send(multipart(&s.uploader.1, &parts)).await;
        assert_eq!(
            (r.status, r.json["error_code"].as_str()),
            (status, Some(code)),
            "{}",
            r.text
        );
        if !field.is_empty() {
            assert_eq!(r.json["field_errors"][0]["field"], field, "{}", r.text);
        }
    }
    // Over 6 MB in a form: 413, pointing to the signed upload.
    let big = vec![0u8; 6 * 1024 * 1024 + 10];
    let r = s
        .app
        .send(multipart(
            &s.uploader.1,
            &[("title", None, b"T"), ("file", Some("big.mp4"), &big)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);

    // Nothing was written: no video records, no blobs.
    let listed = s.app.state.blobs.list("videos/").await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    let uploader_feed = s.app.call("GET", BASE, None, None).await;
    assert_eq!(uploader_feed.json, json!([]));
}

#[tokio::test]
async fn like_save_share_and_view_answer_exactly_as_the_spec_shows() {
    let s = setup().await;
    let id = upload(&s, "Amazing Gadget Review", r#"["tech"]"#).await;
    let v = Some(s.viewer.1.as_str());
    let like = s
        .app
        .call("POST", &format!("{BASE}/{id}/like/"), v, None)
        .await;
    assert_eq!(like.status, StatusCode::OK, "{}", like.text);
    assert_eq!(
        like.json,
        json!({"status": "success", "liked": true, "likes_count": 1})
    );
    let unlike = s
        .app
        .call("POST", &format!("{BASE}/{id}/like"), v, None)
        .await;
    assert_eq!(
        unlike.json,
        json!({"status": "success", "liked": false, "likes_count": 0})
    );
    let save = s
        .app
        .call("POST", &format!("{BASE}/{id}/save_video/"), v, None)
        .await;
    assert_eq!(save.json, json!({"status": "success", "saved": true}));
    let share = s
        .app
        .call("POST", &format!("{BASE}/{id}/share/"), None, None)
        .await;
    assert_eq!(share.json, json!({"status": "success", "shares_count": 1}));
    let view = s
        .app
        .call("POST", &format!("{BASE}/{id}/view/"), v, None)
        .await;
    assert_eq!(view.json, json!({"status": "success", "views_count": 1}));

    let detail = s.app.call("GET", &format!("{BASE}/{id}"), v, None).await;
    assert_eq!(detail.json["is_saved"], true);
    assert_eq!(detail.json["is_liked"], false);
    let feed = s.app.call("GET", BASE, v, None).await;
    assert_eq!(feed.json[0]["is_saved"], true);

    // Likes and saves need a signed-in user; a missing video is 404.
    for action in ["like", "save_video"] {
        let r = s
            .app
            .call("POST", &format!("{BASE}/{id}/{action}/"), None, None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let missing = "00000000-0000-4000-8000-000000000000";
    for action in ["like", "save_video", "share", "view"] {
        let r = s
            .app
            .call("POST", &format!("{BASE}/{missing}/{action}/"), v, None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}");
        assert_eq!(r.json["error_code"], "VIDEO_NOT_FOUND");
    }
    let huge = "x".repeat(5000);
    let r = s
        .app
        .call("POST", &format!("{BASE}/{huge}/like/"), v, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_the_uploader_or_an_admin_changes_or_deletes_a_video() {
    let s = setup().await;
    let id = upload(&s, "Original", r#"["a"]"#).await;
    let path = format!("{BASE}/{id}/");
    let patch = json!({"title": "Better title", "tags": ["B", "b", "c"]});
    let r = s
        .app
        .call("PATCH", &path, Some(&s.viewer.1), Some(patch.clone()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s
        .app
        .call("PATCH", &path, Some(&s.uploader.1), Some(patch))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.json["title"].as_str(), r.json["tags"].clone()),
        (Some("Better title"), json!(["b", "c"]))
    );
    let r = s
        .app
        .call("PATCH", &path, Some(&s.uploader.1), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = s
        .app
        .call(
            "PATCH",
            &path,
            Some(&s.admin),
            Some(json!({"product_id": "nope"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["error_code"], "PRODUCT_NOT_FOUND");

    assert_eq!(
        s.app
            .call("DELETE", &path, Some(&s.viewer.1), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.app.call("DELETE", &path, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.app
            .call("DELETE", &path, Some(&s.uploader.1), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(
        s.app.state.blobs.list("videos/").await.unwrap().is_empty(),
        "the file is gone"
    );
    assert_eq!(
        s.app.call("GET", &path, None, None).await.status,
        StatusCode::NOT_FOUND
    );

    let other = upload(&s, "Second", "[]").await;
    let r = s
        .app
        .call("DELETE", &format!("{BASE}/{other}"), Some(&s.admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn feed_pages_follow_the_cursor_without_repeats_and_seeds_reproduce() {
    let s = setup().await;
    let mut all = HashSet::new();
    for i in 0..23 {
        all.insert(upload(&s, &format!("Clip {i}"), r#"["tech"]"#).await);
    }
    let first = s
        .app
        .call("GET", &format!("{BASE}/?seed=5&limit=4"), None, None)
        .await;
    let again = s
        .app
        .call("GET", &format!("{BASE}?seed=5&limit=4"), None, None)
        .await;
    assert_eq!(first.json, again.json, "the same seed gives the same page");

    let mut seen = Vec::new();
    let mut url = format!("{BASE}/?seed=5&limit=4");
    for _ in 0..20 {
        let r = s.app.call("GET", &url, Some(&s.viewer.1), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let page = r.json.as_array().unwrap();
        assert!(page.len() <= 4);
        seen.extend(page.iter().map(|v| v["id"].as_str().unwrap().to_string()));
        match r.headers.get("x-next-cursor") {
            Some(c) => url = format!("{BASE}/?limit=4&cursor={}", c.to_str().unwrap()),
            None => break,
        }
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no video twice in a session");
    assert_eq!(unique, all);

    for bad in ["limit=0", "limit=51", "limit=x", "cursor=%21%21", "seed=-1"] {
        let r = s
            .app
            .call("GET", &format!("{BASE}/?{bad}"), None, None)
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn video_urls_use_the_cdn_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = shared::AppState::for_tests(dir.path().to_path_buf()).unwrap();
    let mut config = (*state.config).clone();
    config.media_public_base_url = Some("https://cdn.example.com".into());
    state.config = std::sync::Arc::new(config);
    let video = videos::VideoRecord {
        status: VideoStatus::Ready,
        ..videos::pending_record(videos::NewVideo {
            product_id: "p".into(),
            category_id: "c".into(),
            uploader_id: "u".into(),
            title: "t".into(),
            tags: vec![],
        })
    };
    videos::insert(state.store.as_ref(), &video).await.unwrap();
    let app = crate::router(state.clone());
    let r = tower::ServiceExt::oneshot(
        shared::http::service(app, &state.config),
        shared::testkit::request("GET", &format!("{BASE}/{}", video.id), None, None),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(r.into_body())
        .await
        .unwrap()
        .to_bytes();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        json["video_file"],
        format!("https://cdn.example.com/videos/{}/video.mp4", video.id)
    );
}

#[tokio::test]
async fn likes_saves_shares_and_views_move_the_viewers_interactions_on_the_product() {
    use shared::domain::interactions::{Actor, InteractionKind, actor_aggregates};
    let s = setup().await;
    let id = upload(&s, "Watch review", r#"["tech"]"#).await;
    let (viewer, token) = (&s.viewer.0, Some(s.viewer.1.as_str()));
    let store = s.app.state.store.as_ref();
    let counts = || async {
        let aggs = actor_aggregates(store, &Actor::User(viewer.id.clone()))
            .await
            .unwrap();
        assert!(
            aggs.iter().all(|a| a.product_id == s.product.id),
            "{aggs:?}"
        );
        let of = |kind| {
            aggs.iter()
                .flat_map(|a| a.counts.iter())
                .filter(|(k, _)| *k == kind)
                .map(|(_, n)| *n)
                .sum::<i64>()
        };
        [
            of(InteractionKind::Like),
            of(InteractionKind::Save),
            of(InteractionKind::Share),
            of(InteractionKind::VideoView),
        ]
    };
    let post = |action: &str, token: Option<&str>| {
        let uri = format!("{BASE}/{id}/{action}/");
        let token = token.map(str::to_string);
        let app = &s.app;
        async move { app.call("POST", &uri, token.as_deref(), None).await.status }
    };
    assert_eq!(post("like", token).await, StatusCode::OK);
    assert_eq!(counts().await, [1, 0, 0, 0]);
    assert_eq!(post("like", token).await, StatusCode::OK, "unlike");
    assert_eq!(
        counts().await,
        [0, 0, 0, 0],
        "the unlike withdraws the like"
    );
    assert_eq!(post("save_video", token).await, StatusCode::OK);
    assert_eq!(post("share", token).await, StatusCode::OK);
    assert_eq!(post("view", token).await, StatusCode::OK);
    assert_eq!(counts().await, [0, 1, 1, 1]);
    // Anonymous shares and views are counted on the video, not recorded for anyone.
    assert_eq!(post("share", None).await, StatusCode::OK);
    assert_eq!(post("view", None).await, StatusCode::OK);
    assert_eq!(counts().await, [0, 1, 1, 1]);
    // A like of a missing video records nothing.
    let missing = "00000000-0000-4000-8000-000000000000";
    let r = s
        .app
        .call("POST", &format!("{BASE}/{missing}/like/"), token, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(counts().await, [0, 1, 1, 1]);
}
