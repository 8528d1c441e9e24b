//! Keeps the deployable contract in step with the code:
//! - every route in `template.yaml` is in the OpenAPI document and every documented operation is
//!   routed by `template.yaml` (a route that the document lacks fails here);
//! - every documented operation has an event file in `events/`;
//! - every `events/*.json` replays through its function's router (as API Gateway would deliver
//!   it, parsed by `lambda_http`) with the status `events/manifest.json` expects.

use std::{collections::BTreeSet, path::PathBuf};

use axum::body::Body;
use serde_json::Value;
use shared::{auth::Role, testkit::TestApp};
use tower::ServiceExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn norm(path: &str) -> String {
    let p = path.trim_end_matches('/');
    if p.is_empty() {
        "/".into()
    } else {
        p.to_string()
    }
}

/// (METHOD, path) of every HttpApi event in template.yaml. A line-based read is enough for the
/// `Path:` / `Method:` pairs the template writes, and avoids a YAML parser that chokes on `!Ref`.
fn template_routes() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(repo().join("template.yaml"))
        .unwrap_or_else(|e| panic!("template: {e}"));
    let mut out = BTreeSet::new();
    let (mut path, mut method): (Option<String>, Option<String>) = (None, None);
    for line in text.lines() {
        let t = line.trim();
        if let Some(p) = t.strip_prefix("Path:") {
            path = Some(p.trim().trim_matches(['\'', '"']).to_string());
        } else if let Some(m) = t.strip_prefix("Method:") {
            method = Some(m.trim().trim_matches(['\'', '"']).to_uppercase());
        }
        if let (Some(p), Some(m)) = (&path, &method) {
            out.insert((m.clone(), norm(p)));
            path = None;
            method = None;
        }
    }
    out
}

fn documented_routes() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(local::openapi()).unwrap_or_else(|e| panic!("openapi: {e}"));
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), norm(path)));
            }
        }
    }
    out
}

#[test]
fn template_routes_and_openapi_document_match() {
    let template = template_routes();
    let documented = documented_routes();
    assert!(!template.is_empty(), "no routes parsed from template.yaml");
    let undocumented: Vec<_> = template.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&template).collect();
    assert!(
        undocumented.is_empty(),
        "routes in template.yaml missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented operations with no route in template.yaml: {unrouted:?}"
    );
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("events/manifest.json"))
        .unwrap_or_else(|e| panic!("manifest: {e}"));
    serde_json::from_str::<Vec<Value>>(&text).unwrap_or_else(|e| panic!("manifest json: {e}"))
}

fn event(file: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_documented_operation_has_an_event_file() {
    let mut covered = BTreeSet::new();
    for entry in manifest() {
        let file = entry["file"].as_str().unwrap_or_default();
        let ev = event(file);
        let method = ev["requestContext"]["http"]["method"]
            .as_str()
            .unwrap_or_default()
            .to_uppercase();
        let route_key = ev["routeKey"].as_str().unwrap_or_default();
        let path = route_key
            .split_once(' ')
            .map(|(_, p)| p)
            .unwrap_or_default();
        covered.insert((method, norm(path)));
    }
    let missing: Vec<_> = documented_routes()
        .into_iter()
        .filter(|r| !covered.contains(r))
        .collect();
    assert!(
        missing.is_empty(),
        "operations without an events/ file: {missing:?}"
    );
}

#[tokio::test]
async fn every_event_replays_through_its_router() {
    let entries = manifest();
    let mut files: Vec<String> = std::fs::read_dir(repo().join("events"))
        .unwrap_or_else(|e| panic!("events: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && n != "manifest.json")
        .collect();
    files.sort();
    let listed: BTreeSet<String> = entries
        .iter()
        .filter_map(|e| e["file"].as_str().map(String::from))
        .collect();
    let unlisted: Vec<_> = files.iter().filter(|f| !listed.contains(*f)).collect();
    assert!(
        unlisted.is_empty(),
        "event files missing from manifest.json: {unlisted:?}"
    );

    for entry in &entries {
        let file = entry["file"].as_str().unwrap_or_default();
        let function = entry["function"].as_str().unwrap_or_default();
        let expected = entry["expect_status"].as_u64().unwrap_or(0);
        let router = match function {
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
            other => panic!("{file}: unknown function {other}"),
        };
        // A fresh app per event: events are independent, like invocations of a cold function.
        let app = TestApp::new(router);
        local::demo::seed(&app.state, 2)
            .await
            .unwrap_or_else(|e| panic!("seed: {e}"));
        let mut raw = std::fs::read_to_string(repo().join("events").join(file)).unwrap_or_default();
        let mut caller = None;
        if let Some(role) = entry["auth"].as_str() {
            let role = Role::parse(role).unwrap_or_else(|| panic!("{file}: unknown role {role}"));
            let (user, token) = app
                .user_with_roles(&format!("replay_{}", role.name()), &[role])
                .await;
            raw = raw.replace("REPLACE_WITH_TOKEN", &token);
            caller = Some(user.id);
        }
        if raw.contains("REPLACE_WITH_USER_ID") {
            let (target, _) = app
                .user_with_roles("replay_target", &[Role::Customer])
                .await;
            raw = raw.replace("REPLACE_WITH_USER_ID", &target.id);
        }
        if [
            "REPLACE_WITH_PRODUCT_ID",
            "REPLACE_WITH_CATEGORY_ID",
            "REPLACE_WITH_VIDEO_ID",
        ]
        .iter()
        .any(|p| raw.contains(p))
        {
            let (category_id, product_id) = seed_catalog(&app).await;
            if raw.contains("REPLACE_WITH_VIDEO_ID") {
                // Uploaded by the caller (if any), so its events may change or delete it.
                let uploader = match caller {
                    Some(id) => id,
                    None => {
                        app.user_with_roles("replay_uploader", &[Role::Customer])
                            .await
                            .0
                            .id
                    }
                };
                let video_id = seed_video(&app, &category_id, &product_id, &uploader).await;
                raw = raw.replace("REPLACE_WITH_VIDEO_ID", &video_id);
            }
            raw = raw
                .replace("REPLACE_WITH_PRODUCT_ID", &product_id)
                .replace("REPLACE_WITH_CATEGORY_ID", &category_id);
        }
        let request = lambda_http::request::from_str(&raw)
            .unwrap_or_else(|e| panic!("{file}: not an API Gateway event: {e}"));
        let request = request.map(|b| Body::from(b.to_vec()));
        let service = shared::http::service(app.router.clone(), &app.state.config);
        let response = service
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(
            u64::from(response.status().as_u16()),
            expected,
            "{file} via {function}"
        );
    }
}

/// A category with one product in it (events that name a product or category); returns both ids.
async fn seed_catalog(app: &TestApp) -> (String, String) {
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
            price: 999.99,
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
async fn seed_video(
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
