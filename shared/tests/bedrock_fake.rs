//! The Bedrock implementations against a fake Bedrock runtime started in-process.
//!
//! The fake speaks the wire format the SDK (aws-sdk-bedrockruntime 1.153) uses:
//! - `POST /model/{modelId}/invoke` (InvokeModel, the model id percent-encoded as one path
//!   segment, so `:` becomes `%3A`), raw JSON body in, raw JSON body out;
//! - `POST /model/{modelId}/converse` (Converse, restJson1): `{"messages": [{"role", "content":
//!   [{"text"}]}], "system": [{"text"}], "inferenceConfig": {"maxTokens", "temperature"}}` in,
//!   `{"output": {"message": {...}}, "stopReason", "usage": {...}, "metrics": {...}}` out;
//! - errors: a status code, `x-amzn-errortype: <Code>:<namespace URL>` and `{"message": ...}`.
//!
//! Every handler checks the request it gets; a failed check answers 418 `FakeCheckFailed` and is
//! recorded, so a test fails either on the mapped error or on `assert_no_problems`.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use serde_json::{Value, json};
use shared::ai::{
    AiError, Embedder, ImageGenerator, ImageRequest, TextGenerator, TextRequest,
    bedrock::{
        BedrockClient, BedrockEmbedder, BedrockImages, BedrockText, BedrockTimeouts,
        OperationTimeouts,
    },
    cosine,
};

const EMBED_MODEL: &str = "amazon.titan-embed-text-v2:0";
const TEXT_MODEL: &str = "amazon.nova-lite-v1:0";
const IMAGE_MODEL: &str = "amazon.titan-image-generator-v2:0";
const MAX_ATTEMPTS: u32 = 4;

// ---------------------------------------------------------------------------------------------
// The fake server

/// One request as the fake received it.
#[derive(Debug, Clone)]
struct Call {
    /// 1-based attempt number across the server's lifetime.
    attempt: usize,
    method: Method,
    /// The raw (still percent-encoded) path.
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Call {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("body is not JSON: {e}"))
    }
}

/// What the fake answers.
struct Reply {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    delay: Option<Duration>,
}

impl Reply {
    fn json(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                (
                    "x-amzn-requestid",
                    "11111111-2222-3333-4444-555555555555".to_owned(),
                ),
            ],
            body: body.to_string().into_bytes(),
            delay: None,
        }
    }

    /// An AWS restJson1 error as Bedrock sends it.
    fn error(status: u16, code: &str, message: &str) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: vec![
                ("content-type", "application/json".to_owned()),
                (
                    "x-amzn-requestid",
                    "66666666-7777-8888-9999-000000000000".to_owned(),
                ),
                (
                    "x-amzn-errortype",
                    format!("{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
                ),
            ],
            body: json!({ "message": message }).to_string().into_bytes(),
            delay: None,
        }
    }

    fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

type Handler = Box<dyn Fn(&Call) -> Result<Reply, String> + Send + Sync>;

struct Fake {
    handler: Handler,
    calls: Mutex<Vec<Call>>,
    problems: Mutex<Vec<String>>,
}

struct FakeServer {
    url: String,
    fake: Arc<Fake>,
}

impl FakeServer {
    async fn start(
        handler: impl Fn(&Call) -> Result<Reply, String> + Send + Sync + 'static,
    ) -> Self {
        let fake = Arc::new(Fake {
            handler: Box::new(handler),
            calls: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(serve).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("has an address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}"),
            fake,
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.fake.calls.lock().expect("lock").clone()
    }

    fn attempts(&self) -> usize {
        self.fake.calls.lock().expect("lock").len()
    }

    fn assert_no_problems(&self) {
        let problems = self.fake.problems.lock().expect("lock");
        assert!(
            problems.is_empty(),
            "the fake rejected requests: {problems:#?}"
        );
    }

    /// A client with fast retries (millisecond backoff), the way tests configure the SDK.
    fn client(&self) -> BedrockClient {
        let config = aws_sdk_bedrockruntime::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::from_keys("AKIDFAKE", "fake-secret", None))
            .retry_config(fast_retry())
            .build();
        BedrockClient::from_client(aws_sdk_bedrockruntime::Client::from_conf(config))
    }
}

fn fast_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

async fn serve(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = {
        let mut calls = fake.calls.lock().expect("lock");
        let call = Call {
            attempt: calls.len() + 1,
            method,
            path: uri.path().to_owned(),
            headers,
            body,
        };
        calls.push(call.clone());
        call
    };
    let reply = match check_common(&call).and_then(|()| (fake.handler)(&call)) {
        Ok(reply) => reply,
        Err(problem) => {
            fake.problems.lock().expect("lock").push(problem.clone());
            Reply::error(418, "FakeCheckFailed", &problem)
        }
    };
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = (reply.status, reply.body).into_response();
    for (name, value) in reply.headers {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Checks every request must pass: POST, SigV4-signed for service `bedrock` in us-east-1.
fn check_common(call: &Call) -> Result<(), String> {
    if call.method != Method::POST {
        return Err(format!("expected POST, got {}", call.method));
    }
    let auth = call
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("no authorization header")?;
    if !auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDFAKE/")
        || !auth.contains("/us-east-1/bedrock/aws4_request")
    {
        return Err(format!("unexpected authorization header: {auth}"));
    }
    if call.headers.get("x-amz-date").is_none() {
        return Err("no x-amz-date header".to_owned());
    }
    Ok(())
}

fn expect_path(call: &Call, model_id: &str, operation: &str) -> Result<(), String> {
    let expected = format!("/model/{}/{operation}", model_id.replace(':', "%3A"));
    if call.path != expected {
        return Err(format!("expected path {expected}, got {}", call.path));
    }
    Ok(())
}

fn expect_header(call: &Call, name: &str, value: &str) -> Result<(), String> {
    match call.headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(v) if v == value => Ok(()),
        other => Err(format!("expected header {name}: {value}, got {other:?}")),
    }
}

fn expect_eq(what: &str, got: Option<&Value>, expected: &Value) -> Result<(), String> {
    if got != Some(expected) {
        return Err(format!("{what}: expected {expected}, got {got:?}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Request checks and real response shapes

/// Checks a Titan Text Embeddings v2 InvokeModel request; returns `inputText`.
fn check_embed(call: &Call, dimensions: usize) -> Result<String, String> {
    expect_path(call, EMBED_MODEL, "invoke")?;
    expect_header(call, "content-type", "application/json")?;
    expect_header(call, "accept", "application/json")?;
    let body = call.json()?;
    let object = body.as_object().ok_or("body is not an object")?;
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["dimensions", "inputText", "normalize"] {
        return Err(format!("unexpected embedding body keys {keys:?}"));
    }
    expect_eq("dimensions", body.get("dimensions"), &json!(dimensions))?;
    expect_eq("normalize", body.get("normalize"), &json!(true))?;
    body.get("inputText")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "inputText is not a string".to_owned())
}

/// A deterministic unit vector, as Titan returns with `normalize: true`.
fn unit_vector(dimensions: usize, salt: f32) -> Vec<f32> {
    let raw: Vec<f32> = (0..dimensions)
        .map(|i| ((i as f32 + 1.0) * (0.37 + salt)).sin())
        .collect();
    let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
    raw.into_iter().map(|v| v / norm).collect()
}

/// The real Titan Text Embeddings v2 response body.
fn embed_reply(vector: &[f32], tokens: usize) -> Reply {
    let mut reply = Reply::json(json!({
        "embedding": vector,
        "inputTextTokenCount": tokens,
        "embeddingsByType": { "float": vector },
    }));
    reply
        .headers
        .push(("x-amzn-bedrock-input-token-count", tokens.to_string()));
    reply
        .headers
        .push(("x-amzn-bedrock-invocation-latency", "42".to_owned()));
    reply
}

fn embed_ok(dimensions: usize) -> impl Fn(&Call) -> Result<Reply, String> + Send + Sync + 'static {
    move |call| {
        let text = check_embed(call, dimensions)?;
        Ok(embed_reply(
            &unit_vector(dimensions, text.len() as f32 / 100.0),
            text.split_whitespace().count(),
        ))
    }
}

/// Checks a Converse request; returns the user text.
fn check_converse(
    call: &Call,
    system: Option<&str>,
    max_tokens: u32,
    temperature: f32,
) -> Result<String, String> {
    expect_path(call, TEXT_MODEL, "converse")?;
    expect_header(call, "content-type", "application/json")?;
    let body = call.json()?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("no messages array")?;
    if messages.len() != 1 {
        return Err(format!("expected one message, got {}", messages.len()));
    }
    expect_eq("messages[0].role", messages[0].get("role"), &json!("user"))?;
    let content = messages[0]
        .get("content")
        .and_then(Value::as_array)
        .ok_or("no content array")?;
    let [block] = content.as_slice() else {
        return Err(format!("expected one content block, got {}", content.len()));
    };
    let text = block
        .get("text")
        .and_then(Value::as_str)
        .ok_or("content block is not text")?;
    match system {
        Some(system) => expect_eq("system", body.get("system"), &json!([{ "text": system }]))?,
        None if body.get("system").is_some() => return Err("unexpected system block".to_owned()),
        None => {}
    }
    let inference = body.get("inferenceConfig").ok_or("no inferenceConfig")?;
    expect_eq(
        "inferenceConfig.maxTokens",
        inference.get("maxTokens"),
        &json!(max_tokens),
    )?;
    let got = inference
        .get("temperature")
        .and_then(Value::as_f64)
        .ok_or("no temperature")?;
    if (got - f64::from(temperature)).abs() > 1e-6 {
        return Err(format!("temperature: expected {temperature}, got {got}"));
    }
    Ok(text.to_owned())
}

/// The real Converse response body.
fn converse_reply(text: &str, stop_reason: &str, input_tokens: u32, output_tokens: u32) -> Reply {
    Reply::json(json!({
        "output": {
            "message": {
                "role": "assistant",
                "content": [{ "text": text }],
            }
        },
        "stopReason": stop_reason,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": { "latencyMs": 321 },
    }))
}

/// Checks a Titan Image Generator v2 TEXT_IMAGE request; returns (text, width, height, seed).
fn check_image(call: &Call) -> Result<(String, u32, u32, Option<u64>), String> {
    expect_path(call, IMAGE_MODEL, "invoke")?;
    expect_header(call, "content-type", "application/json")?;
    let body = call.json()?;
    expect_eq("taskType", body.get("taskType"), &json!("TEXT_IMAGE"))?;
    let text = body
        .pointer("/textToImageParams/text")
        .and_then(Value::as_str)
        .ok_or("no textToImageParams.text")?;
    let config = body
        .get("imageGenerationConfig")
        .ok_or("no imageGenerationConfig")?;
    expect_eq("numberOfImages", config.get("numberOfImages"), &json!(1))?;
    let cfg = config
        .get("cfgScale")
        .and_then(Value::as_f64)
        .ok_or("no cfgScale")?;
    if !(1.1..=10.0).contains(&cfg) {
        return Err(format!("cfgScale {cfg} out of range"));
    }
    let dim = |key: &str| {
        config
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(format!("no {key}"))
    };
    let seed = config.get("seed").and_then(Value::as_u64);
    if seed.is_some_and(|s| s > 858_993_459) {
        return Err(format!("seed {seed:?} out of range"));
    }
    Ok((text.to_owned(), dim("width")?, dim("height")?, seed))
}

fn png_of(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .expect("encodes");
    png.into_inner()
}

/// The real Titan Image Generator response body.
fn image_reply(png: &[u8]) -> Reply {
    Reply::json(json!({
        "images": [base64::engine::general_purpose::STANDARD.encode(png)],
        "error": null,
    }))
}

// ---------------------------------------------------------------------------------------------
// Successful calls

/// A plain banner request of this size (no seed, no caption).
fn banner_request(width: u32, height: u32) -> ImageRequest {
    ImageRequest {
        prompt: "banner".to_owned(),
        width,
        height,
        seed: None,
        caption: None,
    }
}

/// The error of generating `request` on a fake that answers every image call with this error
/// (after checking the call's shape), and the fake, for its calls.
async fn image_failure(
    request: ImageRequest,
    status: u16,
    code: &'static str,
    message: &'static str,
) -> (FakeServer, AiError) {
    let server = FakeServer::start(move |call| {
        check_image(call)?;
        Ok(Reply::error(status, code, message))
    })
    .await;
    let err = BedrockImages::new(server.client(), IMAGE_MODEL)
        .generate(request)
        .await
        .expect_err("fails");
    (server, err)
}

#[tokio::test]
async fn embed_ok_returns_the_vector_with_provenance() {
    let server = FakeServer::start(embed_ok(256)).await;
    let embedder = BedrockEmbedder::new(server.client(), EMBED_MODEL, 256);
    let out = embedder
        .embed("wireless bluetooth headphones")
        .await
        .expect("embeds");
    assert_eq!(out.vector.len(), 256);
    assert_eq!(embedder.dimensions(), 256);
    let norm = out.vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    assert!(cosine(&out.vector, &unit_vector(256, 29.0 / 100.0)) > 0.9999);
    assert_eq!(out.provenance.backend, "bedrock");
    assert_eq!(out.provenance.model_id, EMBED_MODEL);
    assert_eq!(embedder.provenance(), out.provenance);
    assert_eq!(server.attempts(), 1);
    let sent = server.calls()[0].json().expect("json");
    assert_eq!(sent["inputText"], "wireless bluetooth headphones");
    server.assert_no_problems();
}

#[tokio::test]
async fn embed_through_shared_sdk_config_and_default_client_constructor_path() {
    let server = FakeServer::start(embed_ok(512)).await;
    let sdk =
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&server.url)
            .region(Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    Credentials::from_keys("AKIDFAKE", "fake-secret", None),
                ),
            )
            .build();
    let client = BedrockClient::with_retry(&sdk, fast_retry());
    let out = BedrockEmbedder::new(client, EMBED_MODEL, 512)
        .embed("hello")
        .await
        .expect("embeds");
    assert_eq!(out.vector.len(), 512);
    server.assert_no_problems();
}

#[tokio::test]
async fn embed_rejects_a_vector_of_the_wrong_length() {
    let server = FakeServer::start(|call| {
        check_embed(call, 256)?;
        Ok(embed_reply(&unit_vector(1024, 0.0), 1))
    })
    .await;
    let err = BedrockEmbedder::new(server.client(), EMBED_MODEL, 256)
        .embed("x")
        .await
        .expect_err("fails");
    assert!(
        matches!(&err, AiError::Model(m) if m.contains("1024")),
        "{err:?}"
    );
    server.assert_no_problems();
}

#[tokio::test]
async fn embed_renormalises_a_vector_that_is_not_unit_length() {
    let server = FakeServer::start(|call| {
        check_embed(call, 256)?;
        let doubled: Vec<f32> = unit_vector(256, 0.0).iter().map(|v| v * 2.0).collect();
        Ok(embed_reply(&doubled, 1))
    })
    .await;
    let out = BedrockEmbedder::new(server.client(), EMBED_MODEL, 256)
        .embed("x")
        .await
        .expect("embeds");
    let norm = out.vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
}

#[tokio::test]
async fn embed_refuses_empty_text_without_calling_bedrock() {
    let server = FakeServer::start(embed_ok(256)).await;
    let err = BedrockEmbedder::new(server.client(), EMBED_MODEL, 256)
        .embed("   ")
        .await
        .expect_err("fails");
    assert!(matches!(err, AiError::Invalid(_)));
    assert_eq!(server.attempts(), 0);
}

#[tokio::test]
async fn converse_ok_returns_text_and_usage() {
    let server = FakeServer::start(|call| {
        let prompt = check_converse(call, Some("You write short product copy."), 200, 0.2)?;
        if prompt != "Describe the headphones." {
            return Err(format!("unexpected prompt {prompt:?}"));
        }
        Ok(converse_reply(
            "Crisp sound, all-day battery.",
            "end_turn",
            17,
            6,
        ))
    })
    .await;
    let text = BedrockText::new(server.client(), TEXT_MODEL);
    let request = TextRequest {
        system: Some("You write short product copy.".to_owned()),
        prompt: "Describe the headphones.".to_owned(),
        max_tokens: 200,
        temperature: 0.2,
    };
    let out = text.generate(request).await.expect("generates");
    assert_eq!(out.text, "Crisp sound, all-day battery.");
    assert_eq!((out.input_tokens, out.output_tokens), (17, 6));
    assert_eq!(out.provenance.backend, "bedrock");
    assert_eq!(out.provenance.model_id, TEXT_MODEL);
    server.assert_no_problems();
}

#[tokio::test]
async fn converse_without_system_prompt_sends_no_system_block() {
    let server = FakeServer::start(|call| {
        check_converse(call, None, 1024, 0.3)?;
        Ok(converse_reply("Hello.", "max_tokens", 3, 1))
    })
    .await;
    let out = BedrockText::new(server.client(), TEXT_MODEL)
        .generate(TextRequest::new("Say hello"))
        .await
        .expect("generates");
    assert_eq!(out.text, "Hello.");
    server.assert_no_problems();
}

#[tokio::test]
async fn converse_content_filtered_is_invalid() {
    let server = FakeServer::start(|call| {
        check_converse(call, None, 1024, 0.3)?;
        Ok(converse_reply("", "content_filtered", 3, 0))
    })
    .await;
    let err = BedrockText::new(server.client(), TEXT_MODEL)
        .generate(TextRequest::new("something"))
        .await
        .expect_err("fails");
    assert!(matches!(err, AiError::Invalid(_)), "{err:?}");
    server.assert_no_problems();
}

#[tokio::test]
async fn image_ok_returns_a_png_from_base64() {
    let server = FakeServer::start(|call| {
        let (text, width, height, seed) = check_image(call)?;
        if text != "Summer sale on headphones" || seed != Some(42) {
            return Err(format!("unexpected text {text:?} or seed {seed:?}"));
        }
        Ok(image_reply(&png_of(width, height)))
    })
    .await;
    let images = BedrockImages::new(server.client(), IMAGE_MODEL);
    let request = ImageRequest {
        prompt: "Summer sale on headphones".to_owned(),
        width: 320,
        height: 192,
        seed: Some(42),
        caption: None,
    };
    let out = images.generate(request).await.expect("generates");
    assert_eq!((out.width, out.height), (320, 192));
    let decoded =
        image::load_from_memory_with_format(&out.png, image::ImageFormat::Png).expect("valid PNG");
    assert_eq!((decoded.width(), decoded.height()), (320, 192));
    assert_eq!(out.provenance.backend, "bedrock");
    assert_eq!(out.provenance.model_id, IMAGE_MODEL);
    server.assert_no_problems();
}

#[tokio::test]
async fn image_seed_is_kept_in_range_and_optional() {
    let server = FakeServer::start(|call| {
        let (_, width, height, _) = check_image(call)?;
        Ok(image_reply(&png_of(width, height)))
    })
    .await;
    let images = BedrockImages::new(server.client(), IMAGE_MODEL);
    for seed in [Some(u32::MAX), None] {
        let request = ImageRequest {
            prompt: "banner".to_owned(),
            width: 64,
            height: 64,
            seed,
            caption: None,
        };
        images.generate(request).await.expect("generates");
    }
    let bodies: Vec<Value> = server
        .calls()
        .iter()
        .map(|c| c.json().expect("json"))
        .collect();
    assert_eq!(
        bodies[0]["imageGenerationConfig"]["seed"],
        json!(u32::MAX % 858_993_460)
    );
    assert!(bodies[1]["imageGenerationConfig"].get("seed").is_none());
    server.assert_no_problems();
}

#[tokio::test]
async fn image_moderation_error_is_invalid_and_non_png_is_model_error() {
    let server = FakeServer::start(|call| {
        let (text, ..) = check_image(call)?;
        if text == "blocked" {
            return Ok(Reply::json(json!({
                "images": [],
                "error": "This request has been blocked by our content filters.",
            })));
        }
        Ok(Reply::json(json!({
            "images": [base64::engine::general_purpose::STANDARD.encode(b"GIF89a not a png")],
            "error": null,
        })))
    })
    .await;
    let images = BedrockImages::new(server.client(), IMAGE_MODEL);
    let request = |prompt: &str| ImageRequest {
        prompt: prompt.to_owned(),
        width: 64,
        height: 64,
        seed: None,
        caption: None,
    };
    let blocked = images
        .generate(request("blocked"))
        .await
        .expect_err("fails");
    assert!(
        matches!(&blocked, AiError::Invalid(m) if m.contains("content filters")),
        "{blocked:?}"
    );
    let not_png = images.generate(request("gif")).await.expect_err("fails");
    assert!(matches!(not_png, AiError::Model(_)), "{not_png:?}");
    server.assert_no_problems();
}

#[tokio::test]
async fn image_content_filter_validation_exception_is_invalid_with_the_reason_and_not_retried() {
    // Titan refuses a filtered prompt with a 400 ValidationException before drawing anything.
    let request = ImageRequest {
        prompt: "something filtered".to_owned(),
        width: 1173,
        height: 640,
        seed: Some(7),
        caption: Some("Not sent\n$1.00".to_owned()),
    };
    let (server, err) = image_failure(
        request,
        400,
        "ValidationException",
        "This request has been blocked by our content filters.",
    )
    .await;
    assert!(
        matches!(&err, AiError::Invalid(m) if m.contains("blocked by our content filters")),
        "{err:?}"
    );
    assert_eq!(server.attempts(), 1);
    // The caption is for the local renderer: the model gets the prompt only.
    let body = server.calls()[0].json().expect("json");
    assert_eq!(
        body["textToImageParams"]["text"],
        json!("something filtered")
    );
    assert_eq!(body["imageGenerationConfig"]["width"], json!(1173));
    assert_eq!(body["imageGenerationConfig"]["height"], json!(640));
    server.assert_no_problems();
}

#[tokio::test]
async fn image_throttling_is_retried_then_throttled() {
    let (server, err) = image_failure(
        banner_request(1024, 1024),
        429,
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
    )
    .await;
    assert!(matches!(err, AiError::Throttled), "{err:?}");
    assert_eq!(server.attempts(), MAX_ATTEMPTS as usize);
    server.assert_no_problems();
}

/// A banner made through the promotions domain on the Bedrock image model: the request (Titan's
/// 16:9 size, the product's facts first in the prompt, the seed in range), the stored PNG and
/// record; a refused prompt stores nothing.
#[tokio::test]
async fn promotions_banner_through_the_image_model() {
    use shared::blobs::{BlobStore, local::LocalBlobs};
    use shared::domain::promotions::{
        copy::{AspectRatio, ProductFacts},
        generate::{BannerInputs, GenerateError, generate_banner},
        records,
    };
    use shared::store::local::LocalStore;

    let server = FakeServer::start(|call| {
        let (text, width, height, seed) = check_image(call)?;
        if text.contains("forbidden") {
            return Ok(Reply::json(json!({
                "images": [],
                "error": "This request has been blocked by our content filters.",
            })));
        }
        if (width, height) != (1173, 640) {
            return Err(format!("16:9 on Titan is 1173x640, got {width}x{height}"));
        }
        if !text.starts_with("Product: iPhone 15 Pro by Apple (Smartphones). Holiday banner") {
            return Err(format!("unexpected prompt {text:?}"));
        }
        if seed.is_none() {
            return Err("no seed".to_owned());
        }
        Ok(image_reply(&png_of(width, height)))
    })
    .await;
    let images = BedrockImages::new(server.client(), IMAGE_MODEL);
    let store = LocalStore::in_memory().expect("store");
    let blobs = LocalBlobs::in_memory(
        "http://127.0.0.1/blobs".to_owned(),
        b"0123456789abcdef0123456789abcdef",
    )
    .expect("blobs");
    let inputs = |prompt: &str| BannerInputs {
        id: None,
        prompt: prompt.to_owned(),
        aspect_ratio: AspectRatio::Landscape16x9,
        product: Some(ProductFacts {
            id: "p1".to_owned(),
            name: "iPhone 15 Pro".to_owned(),
            brand: Some("Apple".to_owned()),
            price: shared::money::Cents(99_999),
            compare_price: None,
            category: Some("Smartphones".to_owned()),
        }),
        user_id: None,
        promotion_id: None,
        author: "admin".to_owned(),
    };
    let (banner, png) = generate_banner(&store, &blobs, &images, &inputs("Holiday banner"))
        .await
        .expect("generates");
    server.assert_no_problems();
    assert_eq!((banner.width, banner.height), (1173, 640));
    assert_eq!(banner.model_id, IMAGE_MODEL);
    assert_eq!(
        blobs.get(&banner.saved_path).await.expect("stored").body,
        png
    );
    assert!(
        records::get(&store, &banner.id)
            .await
            .expect("get")
            .is_some()
    );

    let err = generate_banner(&store, &blobs, &images, &inputs("forbidden thing"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, GenerateError::Ai(AiError::Invalid(m)) if m.contains("content filters")),
        "{err:?}"
    );
    assert_eq!(blobs.list("banners/").await.expect("list").len(), 1);
}

/// Promotion text through Converse: the versioned system and user prompts go out, the answer is
/// served and audited with the model id.
#[tokio::test]
async fn promotions_text_through_converse_sends_the_versioned_prompt() {
    use shared::domain::promotions::{
        copy::{self, SegmentFacts},
        generate::{TextInputs, generate_text},
        texts,
    };
    use shared::store::local::LocalStore;

    let segment = SegmentFacts {
        id: Some(0),
        name: "Champions".to_owned(),
        description: "Recent, frequent buyers".to_owned(),
    };
    let expected = copy::text_prompt(&segment, "Electronics", None, Some("Black Friday"));
    let system = expected.system.clone();
    let server = FakeServer::start(move |call| {
        let user = check_converse(call, Some(&system), 200, 0.7)?;
        if user != expected.user {
            return Err(format!("unexpected prompt {user:?}"));
        }
        Ok(converse_reply(
            "Our best Electronics for our best customers this Black Friday.",
            "end_turn",
            120,
            14,
        ))
    })
    .await;
    let store = LocalStore::in_memory().expect("store");
    let inputs = TextInputs {
        segment,
        category: "Electronics".to_owned(),
        product: None,
        context: Some("Black Friday".to_owned()),
        user_id: None,
        author: "admin".to_owned(),
    };
    let text = generate_text(
        &store,
        &BedrockText::new(server.client(), TEXT_MODEL),
        &inputs,
    )
    .await
    .expect("generates");
    server.assert_no_problems();
    assert_eq!(
        text.text,
        "Our best Electronics for our best customers this Black Friday."
    );
    assert_eq!(
        (text.source.as_str(), text.model_id.as_str()),
        ("model", TEXT_MODEL)
    );
    assert_eq!((text.input_tokens, text.output_tokens), (120, 14));
    let audit = texts::list_day(&store, chrono::Utc::now().date_naive())
        .await
        .expect("audit");
    assert_eq!(audit, [text]);
}

// ---------------------------------------------------------------------------------------------
// Errors and retries

#[tokio::test]
async fn throttled_twice_then_ok_is_retried_by_the_sdk() {
    let server = FakeServer::start(|call| {
        let text = check_embed(call, 256)?;
        if call.attempt <= 2 {
            return Ok(Reply::error(
                429,
                "ThrottlingException",
                "Too many requests, please wait before trying again.",
            ));
        }
        Ok(embed_reply(&unit_vector(256, 0.0), text.len()))
    })
    .await;
    let out = BedrockEmbedder::new(server.client(), EMBED_MODEL, 256)
        .embed("retry me")
        .await
        .expect("retried");
    assert_eq!(out.vector.len(), 256);
    assert_eq!(server.attempts(), 3);
    // Every attempt sent the same request.
    let calls = server.calls();
    assert!(calls.iter().all(|c| c.body == calls[0].body));
    server.assert_no_problems();
}

#[tokio::test]
async fn always_throttled_is_throttled_after_the_sdk_retries() {
    let server = FakeServer::start(|call| {
        check_converse(call, None, 1024, 0.3)?;
        Ok(Reply::error(
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ))
    })
    .await;
    let err = BedrockText::new(server.client(), TEXT_MODEL)
        .generate(TextRequest::new("hi"))
        .await
        .expect_err("fails");
    assert!(matches!(err, AiError::Throttled), "{err:?}");
    assert_eq!(server.attempts(), MAX_ATTEMPTS as usize);
    server.assert_no_problems();
}

#[tokio::test]
async fn service_quota_exceeded_is_throttled() {
    let (server, err) = image_failure(
        banner_request(64, 64),
        400,
        "ServiceQuotaExceededException",
        "Your request exceeds the service quota.",
    )
    .await;
    assert!(matches!(err, AiError::Throttled), "{err:?}");
    server.assert_no_problems();
}

#[tokio::test]
async fn validation_exception_is_invalid_and_not_retried() {
    let server = FakeServer::start(|call| {
        check_embed(call, 256)?;
        Ok(Reply::error(
            400,
            "ValidationException",
            "Malformed input request: expected maxLength: 50000",
        ))
    })
    .await;
    let err = BedrockEmbedder::new(server.client(), EMBED_MODEL, 256)
        .embed("text")
        .await
        .expect_err("fails");
    assert!(
        matches!(&err, AiError::Invalid(m) if m.contains("Malformed input request")),
        "{err:?}"
    );
    assert_eq!(server.attempts(), 1);
    server.assert_no_problems();
}

#[tokio::test]
async fn internal_server_error_is_retried_then_model_error() {
    let server = FakeServer::start(|call| {
        check_converse(call, None, 1024, 0.3)?;
        Ok(Reply::error(
            500,
            "InternalServerException",
            "An internal server error occurred.",
        ))
    })
    .await;
    let err = BedrockText::new(server.client(), TEXT_MODEL)
        .generate(TextRequest::new("hi"))
        .await
        .expect_err("fails");
    assert!(
        matches!(&err, AiError::Model(m) if m.contains("InternalServerException")),
        "{err:?}"
    );
    assert_eq!(server.attempts(), MAX_ATTEMPTS as usize);
    server.assert_no_problems();
}

#[tokio::test]
async fn model_error_exception_is_model_error() {
    let server = FakeServer::start(|call| {
        check_embed(call, 256)?;
        Ok(Reply::error(
            424,
            "ModelErrorException",
            "The model failed to process the request.",
        ))
    })
    .await;
    let err = BedrockEmbedder::new(server.client(), EMBED_MODEL, 256)
        .embed("text")
        .await
        .expect_err("fails");
    assert!(
        matches!(&err, AiError::Model(m) if m.contains("ModelErrorException")),
        "{err:?}"
    );
    server.assert_no_problems();
}

#[tokio::test]
async fn model_timeout_exception_is_timeout() {
    let server = FakeServer::start(|call| {
        check_converse(call, None, 1024, 0.3)?;
        Ok(Reply::error(
            408,
            "ModelTimeoutException",
            "Model has timed out in processing the request.",
        ))
    })
    .await;
    let err = BedrockText::new(server.client(), TEXT_MODEL)
        .generate(TextRequest::new("hi"))
        .await
        .expect_err("fails");
    assert!(matches!(err, AiError::Timeout), "{err:?}");
    server.assert_no_problems();
}

#[tokio::test]
async fn slow_model_hits_the_client_timeout() {
    let server = FakeServer::start(|call| {
        check_embed(call, 256)?;
        Ok(embed_reply(&unit_vector(256, 0.0), 1).delayed(Duration::from_secs(3)))
    })
    .await;
    let fast = OperationTimeouts {
        attempt: Duration::from_millis(150),
        total: Duration::from_millis(400),
    };
    let timeouts = BedrockTimeouts {
        embed: fast,
        ..BedrockTimeouts::default()
    };
    let client = server.client().with_timeouts(timeouts);
    let started = std::time::Instant::now();
    let err = BedrockEmbedder::new(client, EMBED_MODEL, 256)
        .embed("text")
        .await
        .expect_err("fails");
    assert!(matches!(err, AiError::Timeout), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    server.assert_no_problems();
}

#[tokio::test]
async fn unreachable_endpoint_is_model_error() {
    // Bind then drop a listener so the port is (almost certainly) closed.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("addr").port()
    };
    let config = aws_sdk_bedrockruntime::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::from_keys("AKIDFAKE", "fake-secret", None))
        .retry_config(fast_retry())
        .build();
    let client = BedrockClient::from_client(aws_sdk_bedrockruntime::Client::from_conf(config));
    let err = BedrockEmbedder::new(client, EMBED_MODEL, 256)
        .embed("text")
        .await
        .expect_err("fails");
    assert!(matches!(err, AiError::Model(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Recommendation explanations through Converse (`domain::explanations::fill`)

fn explain_requests(n: usize) -> Vec<shared::reco::explain::ExplainRequest> {
    (0..n)
        .map(|i| shared::reco::explain::ExplainRequest {
            algorithm: shared::reco::algorithm::Algorithm::Fbt,
            reason: "frequently_bought_together".to_owned(),
            product_id: format!("p{i}"),
            product_name: format!("Case {i}"),
            category: Some("Accessories".to_owned()),
            context: Some("iPhone 15 Pro".to_owned()),
        })
        .collect()
}

#[tokio::test]
async fn explanation_fill_sends_the_batch_prompt_and_caches_the_parsed_lines() {
    use shared::domain::explanations::fill::{FillLimits, fill};
    use shared::reco::explain::{BATCH_SIZE, build_prompt, cache_id};
    use shared::store::{ItemStore, keys, local::LocalStore};

    let requests = explain_requests(BATCH_SIZE + 1);
    let refs: Vec<_> = requests.iter().collect();
    let first = build_prompt(&refs[..BATCH_SIZE]);
    let second = build_prompt(&refs[BATCH_SIZE..]);
    let (first_user, second_user) = (first.user.clone(), second.user.clone());
    let server = FakeServer::start(move |call| {
        let body = call.json()?;
        let max_tokens = body
            .pointer("/inferenceConfig/maxTokens")
            .and_then(Value::as_u64)
            .ok_or("no maxTokens")?;
        let prompt = check_converse(
            call,
            Some(&first.system),
            u32::try_from(max_tokens).map_err(|e| e.to_string())?,
            0.3,
        )?;
        if prompt == first_user {
            // A preamble, then every line but the third.
            let lines: Vec<String> = (1..=BATCH_SIZE)
                .filter(|n| *n != 3)
                .map(|n| format!("{n}. Case {n} fits your {{context}} perfectly"))
                .collect();
            Ok(converse_reply(
                &format!("Here you go:\n\n{}", lines.join("\n")),
                "end_turn",
                900,
                300,
            ))
        } else if prompt == second_user {
            Ok(converse_reply(
                "1) Protects your {context}",
                "end_turn",
                90,
                8,
            ))
        } else {
            Err(format!("unexpected prompt {prompt:?}"))
        }
    })
    .await;
    let text = BedrockText::new(server.client(), TEXT_MODEL);
    let store = LocalStore::in_memory().expect("store");
    let report = fill(&store, &text, &requests, FillLimits::default()).await;
    server.assert_no_problems();
    assert_eq!(server.attempts(), 2);
    assert_eq!(
        (
            report.model_calls,
            report.generated,
            report.fallback,
            report.written
        ),
        (2, BATCH_SIZE, 1, BATCH_SIZE + 1)
    );
    let get = |i: usize| {
        let store = &store;
        let key = keys::explanation(&cache_id(&requests[i]));
        async move { store.get(&key).await.expect("get").expect("cached") }
    };
    let one = get(0).await;
    assert_eq!(one["text"], json!("Case 1 fits your {context} perfectly"));
    assert_eq!(one["model_id"], json!(TEXT_MODEL));
    assert_eq!(one["source"], json!("model"));
    let third = get(2).await;
    assert_eq!(third["text"], json!("Frequently bought with {context}"));
    assert_eq!(third["source"], json!("template"));
    assert_eq!(
        get(BATCH_SIZE).await["text"],
        json!("Protects your {context}")
    );
}

#[tokio::test]
async fn explanation_fill_after_a_throttle_stores_nothing_and_stops() {
    use shared::domain::explanations::fill::{FillLimits, fill};
    use shared::store::local::LocalStore;

    let server = FakeServer::start(|_call| {
        Ok(Reply::error(
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ))
    })
    .await;
    let text = BedrockText::new(server.client(), TEXT_MODEL);
    let store = LocalStore::in_memory().expect("store");
    let report = fill(&store, &text, &explain_requests(45), FillLimits::default()).await;
    // The SDK's retries of the first batch only; the other two batches are not sent.
    assert_eq!(server.attempts(), MAX_ATTEMPTS as usize);
    assert_eq!(
        (report.model_calls, report.failed, report.written),
        (1, 45, 0)
    );
    server.assert_no_problems();
}
