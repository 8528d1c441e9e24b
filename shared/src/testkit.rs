//! Helpers for router tests (`tower::ServiceExt::oneshot`, no server): requests, JSON bodies,
//! seeded users and their tokens. Enabled by the `testkit` feature in dev-dependencies.
//! [`iam`]: store and blob decorators that note the IAM action of each call.
//! [`hot_counters`]: a store decorator that notes counters (`ADD`) on items with index keys.
//! [`stores`]: the memory, file and emulator store fixtures of the domain store tests.
//! [`faulty`]: a store decorator that fails or delays the calls a rule names.

pub mod faulty;
pub mod hot_counters;
pub mod iam;
pub mod stores;

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::{
    AppState,
    auth::{Role, password::hash_password, permissions_for},
    domain::users::{self, NewUser, UserRecord},
};

/// A router under test with its state and a temporary data folder.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    _dir: tempfile::TempDir,
}

/// A response: status, headers and the body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
    pub text: String,
}

impl TestApp {
    /// In-memory backends; `router` builds the function's router from the state.
    pub fn new(router: fn(AppState) -> Router) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let state =
            AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("state: {e}"));
        let router = router(state.clone());
        Self {
            state,
            router,
            _dir: dir,
        }
    }

    /// Sends a request through the full middleware stack.
    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let service = crate::http::service(self.router.clone(), &self.state.config);
        let response = service.oneshot(req).await.unwrap_or_else(|e| match e {});
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if let Some(code) = json["error_code"].as_str() {
            crate::error::ErrorCode::check_documented(status.as_u16(), code)
                .unwrap_or_else(|e| panic!("{e}: {}", text));
        }
        TestResponse {
            status,
            headers,
            json,
            text,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        self.send(request(method, uri, token, body)).await
    }

    /// Creates an active user with `roles` and returns it with a valid token.
    pub async fn user_with_roles(&self, name: &str, roles: &[Role]) -> (UserRecord, String) {
        let hash = hash_password("password123")
            .await
            .unwrap_or_else(|e| panic!("hash: {e}"));
        let user = users::create(
            self.state.store.as_ref(),
            NewUser {
                email: format!("{name}@example.com"),
                username: Some(name.to_string()),
                first_name: name.to_string(),
                last_name: "Tester".into(),
                phone: None,
                address: None,
                is_active: true,
                roles: roles.to_vec(),
                password_hash: hash,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create user: {e}"));
        let token = self.token_for(&user);
        (user, token)
    }

    /// The stored stock of a product (panics when it does not exist).
    pub async fn stock(&self, product_id: &str) -> i64 {
        crate::domain::catalog::get_product(self.state.store.as_ref(), product_id)
            .await
            .unwrap_or_else(|e| panic!("get product: {e}"))
            .unwrap_or_else(|| panic!("no product {product_id}"))
            .stock_quantity
    }

    pub fn token_for(&self, user: &UserRecord) -> String {
        self.state
            .jwt
            .issue_at_version(
                &user.id,
                user.roles.clone(),
                permissions_for(&user.roles),
                user.auth_version,
            )
            .unwrap_or_else(|e| panic!("token: {e}"))
    }
}

/// A JSON request (or an empty one when `body` is `None`).
pub fn request(method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    b.body(body).unwrap_or_else(|e| panic!("request: {e}"))
}

/// A request with a raw body and content type.
pub fn raw_request(
    method: &str,
    uri: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap_or_else(|e| panic!("request: {e}"))
}

/// Seeds what an S3 "Object Created" event for the video blob `key` finds: a pending video
/// record with the id the key names, and a small MP4 file (an `ftyp` box) at `key`. Returns the
/// video id. For tests that replay the upload-verification event.
pub async fn seed_pending_upload(state: &AppState, key: &str) -> String {
    use crate::domain::videos::{self, NewVideo, VIDEO_CONTENT_TYPE};
    let id = videos::video_id_of_blob_key(key).unwrap_or_else(|| panic!("not a video key: {key}"));
    let pending = videos::VideoRecord {
        id: id.to_string(),
        blob_key: key.to_string(),
        ..videos::pending_record(NewVideo {
            product_id: "p".into(),
            category_id: "c".into(),
            uploader_id: "u".into(),
            title: "t".into(),
            tags: vec![],
        })
    };
    videos::insert(state.store.as_ref(), &pending)
        .await
        .unwrap_or_else(|e| panic!("seed pending video: {e}"));
    let mut mp4 = vec![0, 0, 0, 16];
    mp4.extend_from_slice(b"ftypmp42\0\0\0\0moov");
    state
        .blobs
        .put(key, mp4.into(), VIDEO_CONTENT_TYPE)
        .await
        .unwrap_or_else(|e| panic!("seed upload: {e}"));
    id.to_string()
}
