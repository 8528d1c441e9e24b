//! Black-box test harness (after zero-to-production's `tests/api/helpers.rs`): each test spawns
//! the local server on 127.0.0.1:0 with its own isolated backends and talks to it over HTTP.
//!
//! Two backend sets run the same suite: in-memory (embedded store, temp-folder blobs, local AI)
//! and the AWS emulator (DynamoDB + S3 on moto at `TEST_AWS_ENDPOINT`, a fresh table and bucket
//! per test). Emulator tests are `#[ignore]`d so that plain `cargo test` passes without it;
//! `tests/run.sh` starts moto and runs them with `--include-ignored`.

pub mod replay;

use std::{collections::HashMap, sync::Arc};

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use shared::{
    AppState,
    ai::local::{LocalEmbedder, LocalImages, LocalText},
    blobs::{BlobStore, local::LocalBlobs, s3::S3Blobs},
    config::Config,
    store::{ItemStore, dynamo::DynamoStore, local::LocalStore},
};

/// Which backends a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Emulator,
}

/// A running server and a client for it.
pub struct TestServer {
    pub base: String,
    pub client: Client,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

/// Settings a test may override (same names as the environment variables).
pub type Overrides<'a> = &'a [(&'a str, &'a str)];

/// The AWS SDK config for the emulator: explicit endpoint, region and test credentials.
pub fn emulator_sdk() -> aws_config::SdkConfig {
    let endpoint = std::env::var("TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("TEST_AWS_ENDPOINT is not set: run the emulator suites with tests/run.sh")
    });
    aws_config::SdkConfig::builder()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("test", "test", None, None, "tests"),
            ),
        )
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

impl TestServer {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, overrides: Overrides<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let base = format!("http://{addr}");
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let mut env: HashMap<String, String> = HashMap::from([
            ("DATA_DIR".into(), dir.path().display().to_string()),
            ("PUBLIC_BASE_URL".into(), base.clone()),
            (
                "JWT_SECRET".into(),
                "test-secret-that-is-long-enough-0123456789".into(),
            ),
            ("TABLE_NAME".into(), format!("t{suffix}")),
            ("BUCKET_NAME".into(), format!("b{}", &suffix[..20])),
            ("S3_FORCE_PATH_STYLE".into(), "true".into()),
        ]);
        match backend {
            Backend::Memory => {
                env.insert("STORE".into(), "memory".into());
            }
            Backend::Emulator => {
                env.insert("STORE".into(), "dynamodb".into());
                env.insert("BLOBS".into(), "s3".into());
            }
        }
        for (k, v) in overrides {
            env.insert(k.to_string(), v.to_string());
        }
        let config =
            Config::from_lookup(|k| env.get(k).cloned()).unwrap_or_else(|e| panic!("config: {e}"));
        let (store, blobs): (Arc<dyn ItemStore>, Arc<dyn BlobStore>) = match backend {
            Backend::Memory => (
                Arc::new(LocalStore::in_memory().unwrap_or_else(|e| panic!("store: {e}"))),
                Arc::new(
                    LocalBlobs::on_disk(
                        config.data_dir.join("blobs"),
                        format!("{base}/blobs"),
                        config.blob_signing_secret.expose().as_bytes(),
                    )
                    .unwrap_or_else(|e| panic!("blobs: {e}")),
                ),
            ),
            Backend::Emulator => {
                let sdk = emulator_sdk();
                let store = DynamoStore::new(&sdk, &config.table_name);
                store
                    .create_table_if_missing()
                    .await
                    .unwrap_or_else(|e| panic!("create table: {e}"));
                let blobs = S3Blobs::new(&sdk, &config.bucket_name, true);
                blobs
                    .create_bucket_if_missing()
                    .await
                    .unwrap_or_else(|e| panic!("create bucket: {e}"));
                (Arc::new(store), Arc::new(blobs))
            }
        };
        let state = AppState::with_backends(
            config.clone(),
            store,
            blobs,
            Arc::new(LocalEmbedder::new(config.embedding_dimensions)),
            Arc::new(LocalText::new()),
            Arc::new(LocalImages::new()),
        );
        local::start_with_state(listener, state.clone())
            .await
            .unwrap_or_else(|e| panic!("start: {e}"));
        Self {
            base,
            client: Client::new(),
            state,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Seeds the demo admin and users.
    pub async fn seed_demo(&self) {
        local::demo::seed(&self.state, 3)
            .await
            .unwrap_or_else(|e| panic!("seed: {e}"));
    }

    pub async fn json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::from(
            req.send()
                .await
                .unwrap_or_else(|e| panic!("request {path}: {e}")),
        )
        .await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let resp = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {path}: {e}"));
        Reply::from(resp).await
    }

    pub async fn register(&self, email: &str, username: &str, password: &str) -> Reply {
        self.json(
            "POST",
            "/api/v1/auth/register",
            None,
            Some(
                serde_json::json!({"email": email, "password": password, "first_name": "Test",
                                    "last_name": "User", "username": username}),
            ),
        )
        .await
    }

    /// Logs in with the login form; returns the reply.
    pub async fn login(&self, username: &str, password: &str) -> Reply {
        let body = format!(
            "username={}&password={}",
            form_escape(username),
            form_escape(password)
        );
        self.raw(
            "POST",
            "/api/v1/auth/login",
            "application/x-www-form-urlencoded",
            body,
        )
        .await
    }

    /// Logs in and returns the token (panics on failure).
    pub async fn token(&self, username: &str, password: &str) -> String {
        let r = self.login(username, password).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.text);
        r.json["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A response with its body read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Reply {
    pub async fn from(resp: Response) -> Self {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        // Every error answered is in the documented table, with a listed status.
        if let Some(code) = json["error_code"].as_str() {
            shared::error::ErrorCode::check_documented(status.as_u16(), code)
                .unwrap_or_else(|e| panic!("{e}: {text}"));
        }
        Self {
            status,
            headers,
            json,
            text,
        }
    }

    /// Asserts the spec's error shape and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.json["error_code"], code, "body: {}", self.text);
        assert!(
            self.json["detail"].is_string(),
            "detail missing: {}",
            self.text
        );
    }

    /// The `field` of every entry in `field_errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.json["field_errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Instantiates each `async fn name(b: Backend)` of a test file twice: `memory::name` on the
/// in-memory backends and `emulator::name` (ignored unless run with the emulator, as
/// `tests/run.sh` does) on DynamoDB + S3.
#[macro_export]
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::Backend::Memory).await } )*
        }
        mod emulator {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               #[ignore = "needs the AWS emulator: run tests/run.sh"]
               async fn $name() { super::$name($crate::Backend::Emulator).await } )*
        }
    };
}

/// Creates a category named `category` and, through the admin API, a product in it from
/// `product` (its `category_id` is filled in); returns the product id.
pub async fn admin_product(
    s: &TestServer,
    admin: &str,
    category: &str,
    mut product: Value,
) -> String {
    let cat = s
        .json(
            "POST",
            "/api/v1/admin/categories",
            Some(admin),
            Some(serde_json::json!({"name": category})),
        )
        .await;
    assert_eq!(cat.status, 201, "{}", cat.text);
    product["category_id"] = cat.json["id"].clone();
    let r = s
        .json(
            "POST",
            "/api/v1/admin/products/",
            Some(admin),
            Some(product),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["id"]
        .as_str()
        .unwrap_or_else(|| panic!("product id in {}", r.text))
        .to_string()
}

/// Uploads `body` through a signed upload returned by `POST /api/v1/shoppable-videos` (sending
/// the headers it lists), then lets verification run: on the memory backend the local blob
/// server's upload hook runs it; on the emulator (moto S3 sends no events) the test delivers the
/// S3 "Object Created" event to the jobs function, as EventBridge does in the cloud.
pub async fn signed_upload(s: &TestServer, b: Backend, upload: &Value, body: Vec<u8>) -> u16 {
    let url = upload["url"]
        .as_str()
        .unwrap_or_else(|| panic!("upload url in {upload}"));
    let mut req = s.client.put(url).body(body.clone());
    for (k, v) in upload["headers"].as_object().into_iter().flatten() {
        req = req.header(k.as_str(), v.as_str().unwrap_or_default());
    }
    let status = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {url}: {e}"))
        .status()
        .as_u16();
    if b == Backend::Emulator && status == 200 {
        deliver_object_created(s, url, body.len()).await;
    }
    status
}

/// Delivers the S3 "Object Created" event of the object behind the signed `url` to the jobs
/// function (emulator runs: moto sends no events).
pub async fn deliver_object_created(s: &TestServer, url: &str, size: usize) {
    let key = url
        .split('?')
        .next()
        .and_then(|path| path.split_once("/videos/"))
        .map(|(_, rest)| format!("videos/{rest}"))
        .unwrap_or_else(|| panic!("no video key in {url}"));
    let event = serde_json::json!({
        "version": "0", "detail-type": "Object Created", "source": "aws.s3",
        "detail": {"bucket": {"name": s.state.config.bucket_name}, "object": {"key": key, "size": size}}
    });
    jobs_fn::handle(&s.state, event)
        .await
        .unwrap_or_else(|e| panic!("object created event: {e}"));
}
