//! Replaying `events/` files through the functions' routers: the manifest, the seeding an
//! event's placeholders need (`REPLACE_WITH_TOKEN`, `..._USER_ID`, `..._PRODUCT_ID`,
//! `..._CATEGORY_ID`, `..._VIDEO_ID`), what takes an event to its success path
//! ([`reach_success_path`]) and what the jobs need to find ([`seed_for_jobs`]). Used by
//! `contract_files.rs`, `iam_policies.rs` and `hot_counters.rs`.

use std::path::PathBuf;

use serde_json::Value;
use serde_json::Value as Json;
use shared::{AppState, auth::Role, testkit::TestApp};
use tower::ServiceExt;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `events/manifest.json`: one entry per HTTP event file (`file`, `function`, `auth`,
/// `expect_status`).
pub fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("events/manifest.json"))
        .unwrap_or_else(|e| panic!("manifest: {e}"));
    serde_json::from_str::<Vec<Value>>(&text).unwrap_or_else(|e| panic!("manifest json: {e}"))
}

/// The router of a function named as in the manifest.
pub fn router_of(function: &str) -> Option<fn(AppState) -> axum::Router> {
    Some(match function {
        "auth" => auth_fn::router,
        "users" => users_fn::router,
        "admin" => admin_fn::router,
        "textbook" => textbook_fn::router,
        "catalog" => catalog_fn::router,
        "cart" => cart_fn::router,
        "orders" => orders_fn::router,
        "search" => search_fn::router,
        "classroom" => classroom_fn::router,
        "videos" => videos_fn::router,
        "ml-models" => ml_models_fn::router,
        "recommendations" => recommendations_fn::router,
        "segments" => segments_fn::router,
        "personalization" => personalization_fn::router,
        "analytics" => analytics_fn::router,
        "promotions" => promotions_fn::router,
        _ => return None,
    })
}

/// An event ready to replay, and what was seeded for it.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The event's text with its placeholders replaced.
    pub raw: String,
    /// The caller's user id and token, when the event is authenticated.
    pub caller: Option<(String, String)>,
    /// The seeded (category, product) ids, when the event names one of them.
    pub catalog: Option<(String, String)>,
}

/// Seeds the demo users and what the event of manifest `entry` names, and returns the event's
/// text with its placeholders replaced.
pub async fn prepare_event(app: &TestApp, entry: &Value) -> Prepared {
    let file = entry["file"].as_str().unwrap_or_default();
    local::demo::seed(&app.state, 2)
        .await
        .unwrap_or_else(|e| panic!("seed: {e}"));
    let mut raw = std::fs::read_to_string(repo().join("events").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut caller = None;
    if let Some(role) = entry["auth"].as_str() {
        let role = Role::parse(role).unwrap_or_else(|| panic!("{file}: unknown role {role}"));
        let (user, token) = app
            .user_with_roles(&format!("replay_{}", role.name()), &[role])
            .await;
        raw = raw.replace("REPLACE_WITH_TOKEN", &token);
        caller = Some((user.id, token));
    }
    if raw.contains("REPLACE_WITH_USER_ID") {
        let (target, _) = app
            .user_with_roles("replay_target", &[Role::Customer])
            .await;
        raw = raw.replace("REPLACE_WITH_USER_ID", &target.id);
    }
    let mut catalog = None;
    if [
        "REPLACE_WITH_PRODUCT_ID",
        "REPLACE_WITH_CATEGORY_ID",
        "REPLACE_WITH_VIDEO_ID",
    ]
    .iter()
    .any(|p| raw.contains(p))
    {
        let (category_id, product_id) = seed_catalog(app).await;
        if raw.contains("REPLACE_WITH_VIDEO_ID") {
            // Uploaded by the caller (if any), so its events may change or delete it.
            let uploader = match &caller {
                Some((id, _)) => id.clone(),
                None => {
                    app.user_with_roles("replay_uploader", &[Role::Customer])
                        .await
                        .0
                        .id
                }
            };
            let video_id = seed_video(app, &category_id, &product_id, &uploader).await;
            raw = raw.replace("REPLACE_WITH_VIDEO_ID", &video_id);
        }
        raw = raw
            .replace("REPLACE_WITH_PRODUCT_ID", &product_id)
            .replace("REPLACE_WITH_CATEGORY_ID", &category_id);
        catalog = Some((category_id, product_id));
    }
    Prepared {
        raw,
        caller,
        catalog,
    }
}

/// A category with one product in it (events that name a product or category); returns both ids.
pub async fn seed_catalog(app: &TestApp) -> (String, String) {
    use shared::domain::catalog::{self, NewCategory, NewProduct};
    let store = app.state.store.as_ref();
    let category = catalog::create_category(
        store,
        NewCategory {
            name: "Smartphones".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("seed category: {e}"));
    let product = catalog::create_product(
        store,
        app.state.embedder.as_ref(),
        NewProduct {
            name: "iPhone 15 Pro".into(),
            code: "IP15P-128".into(),
            price: shared::money::Cents(99_999),
            in_stock: true,
            stock_quantity: 50,
            category_id: category.id.clone(),
            is_active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("seed product: {e}"));
    (category.id, product.id)
}

/// A ready shoppable video of `product_id` uploaded by `uploader_id` (events that name a video);
/// returns its id. Its file is stored first, as for a real upload.
pub async fn seed_video(
    app: &TestApp,
    category_id: &str,
    product_id: &str,
    uploader_id: &str,
) -> String {
    use shared::domain::videos::{self, NewVideo, VIDEO_CONTENT_TYPE, VideoRecord, VideoStatus};
    // A bare `ftyp` box stands in for the MP4: nothing on these routes reads the file.
    let file = axum::body::Bytes::from_static(b"\0\0\0\x18ftypisom\0\0\x02\0isommp41");
    let video = VideoRecord {
        status: VideoStatus::Ready,
        size: Some(file.len() as u64),
        ..videos::pending_record(NewVideo {
            product_id: product_id.into(),
            category_id: category_id.into(),
            uploader_id: uploader_id.into(),
            title: "iPhone 15 Pro unboxing".into(),
            tags: vec!["tech".into(), "smartphones".into()],
        })
    };
    app.state
        .blobs
        .put(&video.blob_key, file, VIDEO_CONTENT_TYPE)
        .await
        .unwrap_or_else(|e| panic!("seed video file: {e}"));
    videos::insert(app.state.store.as_ref(), &video)
        .await
        .unwrap_or_else(|e| panic!("seed video: {e}"));
    video.id
}

/// A request through a function's router with the event's state (setup only, not recorded).
pub async fn call(
    app: &TestApp,
    function: &str,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Json>,
) -> Json {
    let router =
        router_of(function).unwrap_or_else(|| panic!("no function {function}"))(app.state.clone());
    let service = shared::http::service(router, &app.state.config);
    let response = service
        .oneshot(shared::testkit::request(method, uri, token, body))
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let json: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
    assert!(status.is_success(), "setup {method} {uri}: {status} {json}");
    json
}

// Ids the event files fix (no placeholder): the setup creates the entity and puts its id in.
pub const EVENT_ORDER_ID: &str = "3b1f0a52-9a43-4c1e-b1c4-7e2d5f6a8c90";
pub const EVENT_SEARCH_ID: &str = "6f1c2b7e-3d4a-4e5f-8a9b-0c1d2e3f4a5b";
pub const EVENT_SESSION_ID: &str = "3f0c5a4e-8d1b-4b7e-9a52-6c1d2e7f9b10";
pub const EVENT_TEACHER_ID: u64 = 12345;
pub const EVENT_RECOMMENDATION_ID: &str = "rec_5b2d8e4f9a1c4e7b8d3f6a2c9e1b4d70";
pub const EVENT_EXPERIMENT_ID: &str = "01938a6e-7c2a-7b4e-9f10-3c5d7e9a1b2c";
pub const EVENT_SEGMENT_ID: &str = "0193b1c2-5e6f-7a8b-9c0d-1e2f3a4b5c6d";
pub const EVENT_BANNER_ID: &str = "banner_20250127_143052_abc12345";

/// What the promotions events name: RFM clusters 0-2 (generated segments, the event's target
/// user in cluster 0) and, for the events with the fixed banner id, that banner with a small
/// PNG (published first for the unpublish event).
async fn seed_promotions(app: &TestApp, route_key: &str, raw: &str) {
    use shared::domain::promotions::records::{self, Banner, Publication};
    use shared::domain::segments::{membership, records as segments};
    let store = app.state.store.as_ref();
    let target = serde_json::from_str::<Json>(raw)
        .ok()
        .and_then(|e| e["rawPath"].as_str().map(str::to_string))
        .and_then(|p| p.rsplit('/').next().map(str::to_string))
        .unwrap_or_default();
    for (cluster, name) in [(0u32, "Champions"), (1, "Loyal Customers"), (2, "Lost")] {
        let mut s = segments::new_segment(
            name.into(),
            Some(format!("RFM cluster {cluster}")),
            "rfm",
            serde_json::json!({}),
            false,
        );
        s.rfm_cluster = Some(serde_json::json!({"cluster": cluster}));
        segments::create(store, &s)
            .await
            .unwrap_or_else(|e| panic!("seed cluster: {e:?}"));
        let members = if cluster == 0 {
            vec![target.clone()]
        } else {
            Vec::new()
        };
        membership::install(store, &s, members)
            .await
            .unwrap_or_else(|e| panic!("seed members: {e}"));
    }
    if !raw.contains(EVENT_BANNER_ID) {
        return;
    }
    let png = shared::ai::local::LocalImages::new()
        .render(&shared::ai::ImageRequest {
            prompt: "Replay banner".into(),
            width: 64,
            height: 64,
            seed: None,
            caption: None,
        })
        .unwrap_or_else(|e| panic!("render: {e}"));
    let banner = Banner {
        id: EVENT_BANNER_ID.into(),
        prompt: "Replay banner".into(),
        image_prompt: "Replay banner".into(),
        product_id: None,
        product_category: None,
        user_id: None,
        promotion_id: None,
        aspect_ratio: "1:1".into(),
        width: 64,
        height: 64,
        saved_path: records::blob_key(EVENT_BANNER_ID),
        size: png.len() as u64,
        model_backend: "local".into(),
        model_id: "local-banner-v1".into(),
        created_at: shared::store::now_rfc3339(),
        created_by: "replay".into(),
        is_published: false,
        target_audience: None,
        start_date: None,
        end_date: None,
        priority: None,
        published_at: None,
        published_by: None,
        version: 0,
    };
    records::create(store, app.state.blobs.as_ref(), &banner, png.into())
        .await
        .unwrap_or_else(|e| panic!("seed banner: {e}"));
    if route_key.ends_with("/unpublish") {
        let publication = Publication {
            target_audience: Default::default(),
            start_date: None,
            end_date: None,
            priority: 5,
            by: "replay".into(),
        };
        records::publish(store, EVENT_BANNER_ID, publication)
            .await
            .unwrap_or_else(|e| panic!("seed publish: {e}"));
    }
}

/// Creates what an event needs to take its success path rather than stop at a 404 or 400
/// (whose calls are few): a cart line for a cart update or an order, an order for the fixed
/// order id, a search for the fixed search id, a textbook session, teachers and a clustering,
/// an A/B experiment for the fixed experiment id.
/// Through the functions' own routers, before recording starts. Returns the event text.
pub async fn reach_success_path(app: &TestApp, function: &str, prepared: Prepared) -> String {
    let mut raw = prepared.raw;
    let token = prepared.caller.as_ref().map(|(_, t)| t.clone());
    let route_key = serde_json::from_str::<Json>(&raw)
        .map(|e| e["routeKey"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let product = || async {
        match &prepared.catalog {
            Some((_, product)) => product.clone(),
            None => seed_catalog(app).await.1,
        }
    };
    let add_to_cart = |token: String, product: String| async move {
        call(
            app,
            "cart",
            "POST",
            "/api/v1/cart/add",
            Some(&token),
            Some(serde_json::json!({"product_id": product, "quantity": 1})),
        )
        .await["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let mut line_id = String::from("REPLACE_WITH_CART_ITEM_ID");
    if raw.contains(&line_id)
        && let Some(token) = &token
    {
        let line = add_to_cart(token.clone(), product().await).await;
        raw = raw.replace(&line_id, &line);
        line_id = line;
    }
    // An order takes the caller's cart; the cart routes work on a cart with a line in it.
    if (route_key == "POST /api/v1/orders" || (function == "cart" && !raw.contains(&line_id)))
        && let Some(token) = &token
    {
        add_to_cart(token.clone(), product().await).await;
    }
    if raw.contains(EVENT_ORDER_ID) {
        // The caller's own order when a customer asks; any customer's for an admin.
        let buyer = match (&prepared.caller, raw.contains("/admin/")) {
            (Some((_, t)), false) => t.clone(),
            _ => {
                app.user_with_roles("replay_buyer", &[shared::auth::Role::Customer])
                    .await
                    .1
            }
        };
        add_to_cart(buyer.clone(), product().await).await;
        let body = serde_json::from_str::<Json>(
            &std::fs::read_to_string(repo().join("events/orders-create-order.json"))
                .unwrap_or_default(),
        )
        .ok()
        .and_then(|e| serde_json::from_str::<Json>(e["body"].as_str()?).ok());
        let order = call(app, "orders", "POST", "/api/v1/orders", Some(&buyer), body).await;
        let id = order["id"].as_str().unwrap_or_default().to_string();
        raw = raw.replace(EVENT_ORDER_ID, &id);
        // The event ships it: confirm it first (pending -> confirmed -> shipped).
        if route_key.ends_with("/status")
            && let Some(admin) = &token
        {
            let uri = format!("/api/v1/admin/orders/{id}/status");
            let body = serde_json::json!({"status": "confirmed"});
            call(app, "admin", "PUT", &uri, Some(admin), Some(body)).await;
        }
    }
    if raw.contains(EVENT_RECOMMENDATION_ID) {
        // A served list holding the event's product (what a recommendation route records).
        use shared::domain::rec_tracking::{Served, ServedItem, record_served};
        let served = Served {
            recommendation_type: "homepage".into(),
            blended: true,
            actor: None,
            arm: None,
            items: vec![ServedItem {
                product_id: product().await,
                algorithm: shared::reco::algorithm::Algorithm::CollaborativeFiltering,
                score: 0.8,
            }],
        };
        record_served(
            app.state.store.as_ref(),
            EVENT_RECOMMENDATION_ID,
            &served,
            chrono::Utc::now(),
        )
        .await
        .unwrap_or_else(|e| panic!("seed a served list: {e}"));
    }
    if raw.contains(EVENT_EXPERIMENT_ID)
        && let Some(admin) = &token
    {
        let create = serde_json::from_str::<Json>(
            &std::fs::read_to_string(repo().join("events/ml-models-create-experiment.json"))
                .unwrap_or_default(),
        )
        .ok()
        .and_then(|e| serde_json::from_str::<Json>(e["body"].as_str()?).ok());
        let uri = "/api/v1/admin/ml-models/experiments";
        let experiment = call(app, "ml-models", "POST", uri, Some(admin), create).await;
        let id = experiment["id"].as_str().unwrap_or_default().to_string();
        raw = raw.replace(EVENT_EXPERIMENT_ID, &id);
    }
    if raw.contains(EVENT_SEGMENT_ID) {
        // The behavioral segment of the spec's create example, under the fixed id; the remove
        // event's user is a member first.
        use shared::domain::segments::{membership, records};
        let store = app.state.store.as_ref();
        let mut segment = records::new_segment(
            "Mobile Users".into(),
            None,
            "behavioral",
            serde_json::json!({"event_types": ["product_view"], "device_type": "mobile", "min_events": 5}),
            true,
        );
        segment.id = EVENT_SEGMENT_ID.into();
        records::create(store, &segment)
            .await
            .unwrap_or_else(|e| panic!("seed segment: {e:?}"));
        if route_key.starts_with("DELETE ") {
            let path = serde_json::from_str::<Json>(&raw)
                .map(|e| e["rawPath"].as_str().unwrap_or_default().to_string())
                .unwrap_or_default();
            let user = path.rsplit('/').next().unwrap_or_default();
            membership::add_manual(store, &segment, user)
                .await
                .unwrap_or_else(|e| panic!("seed member: {e}"));
        }
    }
    if function == "promotions" {
        seed_promotions(app, &route_key, &raw).await;
    }
    if raw.contains(EVENT_SEARCH_ID) {
        let search = call(app, "search", "GET", "/api/v1/search?q=iphone", None, None).await;
        let id = search["search_id"].as_str().unwrap_or_default().to_string();
        raw = raw.replace(EVENT_SEARCH_ID, &id);
    }
    if raw.contains(EVENT_SESSION_ID) && !route_key.ends_with("/personalize") {
        let personalize = serde_json::from_str::<Json>(
            &std::fs::read_to_string(repo().join("events/textbook-personalize.json"))
                .unwrap_or_default(),
        )
        .ok()
        .and_then(|e| serde_json::from_str::<Json>(e["body"].as_str()?).ok());
        call(
            app,
            "textbook",
            "POST",
            "/api/personalization/personalize",
            None,
            personalize,
        )
        .await;
    }
    if function == "classroom" {
        shared::domain::teachers::put_teachers(
            app.state.store.as_ref(),
            &shared::domain::teachers::synthetic_population(40, EVENT_TEACHER_ID - 20, 5),
        )
        .await
        .unwrap_or_else(|e| panic!("seed teachers: {e}"));
        if route_key == "GET /clusters" {
            let (_, admin) = app
                .user_with_roles("replay_recompute", &[shared::auth::Role::Admin])
                .await;
            call(
                app,
                "classroom",
                "POST",
                "/clusters/recompute",
                Some(&admin),
                None,
            )
            .await;
        }
    }
    raw
}

/// What the jobs need to find so that each does its work (orders to mine, teachers to
/// cluster, videos with activity to score, the pending upload the S3 event names).
pub async fn seed_for_jobs(state: &shared::AppState, upload_event: &Json) {
    local::demo::seed(state, 6)
        .await
        .unwrap_or_else(|e| panic!("seed users: {e}"));
    local::demo_catalog::seed_catalog(state, 30)
        .await
        .unwrap_or_else(|e| panic!("seed catalog: {e}"));
    local::demo_orders::seed_orders(state, 40, 6)
        .await
        .unwrap_or_else(|e| panic!("seed orders: {e}"));
    local::demo_videos::seed_videos(state, 3, 6)
        .await
        .unwrap_or_else(|e| panic!("seed videos: {e}"));
    shared::domain::teachers::put_teachers(
        state.store.as_ref(),
        &shared::domain::teachers::synthetic_population(60, 1, 5),
    )
    .await
    .unwrap_or_else(|e| panic!("seed teachers: {e}"));
    if let Some(key) = upload_event["detail"]["object"]["key"].as_str() {
        shared::testkit::seed_pending_upload(state, key).await;
    }
}
