//! Black-box test harness (after zero-to-production's `tests/api/helpers.rs`): each test spawns
//! the local server on 127.0.0.1:0 with its own isolated backends and talks to it over HTTP.
//!
//! Two backend sets run the same suite: in-memory (embedded store, temp-folder blobs, local AI)
//! and the AWS emulator (DynamoDB + S3 on moto at `TEST_AWS_ENDPOINT`, a fresh table and bucket
//! per test). Emulator tests are `#[ignore]`d so that plain `cargo test` passes without it;
//! `tests/run.sh` starts moto and runs them with `--include-ignored`.

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
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
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
