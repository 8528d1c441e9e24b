//! generate-banner on the Bedrock image model, served by a fake Bedrock runtime in-process (the
//! wire format of `shared/tests/bedrock_fake.rs`: `POST /model/{id}/invoke`, errors as
//! `x-amzn-errortype`): a content-filter refusal is 422 `PROMPT_REFUSED` with the model's reason,
//! throttling (after the SDK's retries) 503 with `Retry-After`, and neither leaves a banner
//! record or object behind; a success stores the PNG the model drew.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use serde_json::{Value, json};
use shared::ai::bedrock::{BedrockClient, BedrockImages};
use shared::auth::Role;
use shared::testkit::{TestApp, request};
use tower::ServiceExt;

const IMAGE_MODEL: &str = "amazon.titan-image-generator-v2:0";

#[derive(Clone, Copy)]
enum Mode {
    Ok,
    Filtered,
    Throttled,
}

type Bodies = Arc<Mutex<Vec<Value>>>;

async fn fake(State((mode, bodies)): State<(Mode, Bodies)>, body: Bytes) -> Response {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    bodies.lock().unwrap().push(json.clone());
    let error = |status: u16, code: &str, message: &str| {
        let mut r = (
            StatusCode::from_u16(status).unwrap(),
            json!({ "message": message }).to_string(),
        )
            .into_response();
        r.headers_mut().insert(
            "x-amzn-errortype",
            format!("{code}:http://internal.amazon.com/coral/com.amazon.bedrock/")
                .parse()
                .unwrap(),
        );
        r.headers_mut()
            .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        r
    };
    match mode {
        Mode::Filtered => error(
            400,
            "ValidationException",
            "This request has been blocked by our content filters.",
        ),
        Mode::Throttled => error(429, "ThrottlingException", "Too many requests"),
        Mode::Ok => {
            let w = json["imageGenerationConfig"]["width"]
                .as_u64()
                .unwrap_or(64) as u32;
            let h = json["imageGenerationConfig"]["height"]
                .as_u64()
                .unwrap_or(64) as u32;
            let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 9]));
            let mut png = std::io::Cursor::new(Vec::new());
            img.write_to(&mut png, image::ImageFormat::Png).unwrap();
            let b64 = base64::engine::general_purpose::STANDARD.encode(png.into_inner());
            let mut r = json!({"images": [b64], "error": null})
                .to_string()
                .into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
            r
        }
    }
}

async fn bedrock(mode: Mode) -> (BedrockImages, Bodies) {
    let bodies: Bodies = Arc::default();
    let app = Router::new()
        .fallback(fake)
        .with_state((mode, bodies.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = aws_sdk_bedrockruntime::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(format!("http://{addr}"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::from_keys("AKIDFAKE", "fake-secret", None))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        )
        .build();
    let client = BedrockClient::from_client(aws_sdk_bedrockruntime::Client::from_conf(config));
    (BedrockImages::new(client, IMAGE_MODEL), bodies)
}

async fn generate(mode: Mode) -> (StatusCode, axum::http::HeaderMap, Value, TestApp, Bodies) {
    let app = TestApp::new(promotions::router);
    let (images, bodies) = bedrock(mode).await;
    let mut state = app.state.clone();
    state.images = Arc::new(images);
    let router = promotions::router(state.clone());
    let (_, token) = app.user_with_roles("admin", &[Role::Admin]).await;
    let req = request(
        "POST",
        "/api/v1/recommendations/generate-banner",
        Some(&token),
        Some(json!({"prompt": "Holiday sale", "aspect_ratio": "16:9"})),
    );
    let response = shared::http::service(router, &state.config)
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body, app, bodies)
}

async fn nothing_stored(app: &TestApp) {
    assert!(app.state.blobs.list("banners/").await.unwrap().is_empty());
    let page = app
        .state
        .store
        .scan(shared::store::Scan {
            segment: 0,
            total_segments: 1,
            limit: Some(1000),
            cursor: None,
        })
        .await
        .unwrap();
    assert!(
        !page
            .items
            .iter()
            .any(|i| i["PK"].as_str().is_some_and(|pk| pk.starts_with("BANNER#")))
    );
}

#[tokio::test]
async fn titan_draws_the_banner_at_its_16_9_size() {
    let (status, _, body, app, bodies) = generate(Mode::Ok).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["width"].as_u64(), body["height"].as_u64()),
        (Some(1173), Some(640))
    );
    assert_eq!(body["model_id"], IMAGE_MODEL);
    let sent = bodies.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["taskType"], "TEXT_IMAGE");
    assert_eq!(sent[0]["textToImageParams"]["text"], "Holiday sale");
    let key = body["saved_path"].as_str().unwrap();
    assert!(
        app.state
            .blobs
            .get(key)
            .await
            .unwrap()
            .body
            .starts_with(b"\x89PNG")
    );
}

#[tokio::test]
async fn a_content_filter_refusal_is_422_with_the_reason_and_stores_nothing() {
    let (status, _, body, app, bodies) = generate(Mode::Filtered).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error_code"], "PROMPT_REFUSED");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("blocked by our content filters"),
        "{body}"
    );
    assert_eq!(bodies.lock().unwrap().len(), 1, "a refusal is not retried");
    nothing_stored(&app).await;
}

#[tokio::test]
async fn throttling_is_503_with_retry_after_and_stores_nothing() {
    let (status, headers, body, app, bodies) = generate(Mode::Throttled).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers[header::RETRY_AFTER], "5");
    assert_eq!(body["error_code"], "SERVICE_UNAVAILABLE");
    assert_eq!(bodies.lock().unwrap().len(), 3, "the SDK retried");
    nothing_stored(&app).await;
}
