//! Replaying `events/` files through the functions' routers: the manifest, and the seeding an
//! event's placeholders need (`REPLACE_WITH_TOKEN`, `..._USER_ID`, `..._PRODUCT_ID`,
//! `..._CATEGORY_ID`, `..._VIDEO_ID`). Used by `contract_files.rs` and `iam_policies.rs`.

use std::path::PathBuf;

use serde_json::Value;
use shared::{AppState, auth::Role, testkit::TestApp};

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
