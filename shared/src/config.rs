//! One typed configuration, read once from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `STORE` | `local` | `local` (embedded file under `DATA_DIR`), `memory` (embedded, in memory), `dynamodb` |
//! | `BLOBS` | `local` | `local` (files under `DATA_DIR/blobs`), `memory` (in memory, nothing on disk), `s3` |
//! | `AI` | `local` | `local` (offline, deterministic), `bedrock` |
//! | `TABLE_NAME` | `personalization` | DynamoDB table |
//! | `BUCKET_NAME` | `personalization-media` | S3 bucket for media and artifacts |
//! | `DATA_DIR` | `.data` | folder for the embedded store and local blobs |
//! | `PUBLIC_BASE_URL` | `http://127.0.0.1:3000` | base of signed URLs served by the local server |
//! | `JWT_SECRET` | none (random per process in local mode) | HS256 signing key, at least 32 bytes |
//! | `JWT_SECRET_ARN` | unset | Secrets Manager secret holding the signing key, read once per instance at init (the cloud: the key is never in the environment); wins over `JWT_SECRET` |
//! | `JWT_TTL_SECONDS` | `1800` | access-token lifetime |
//! | `BLOB_SIGNING_SECRET` | derived from `JWT_SECRET` | HMAC key for local signed blob URLs |
//! | `EMBEDDING_MODEL_ID` | `amazon.titan-embed-text-v2:0` | Bedrock embeddings model |
//! | `EMBEDDING_DIMENSIONS` | `1024` local `256`| vector size (Titan v2: 256, 512 or 1024) |
//! | `TEXT_MODEL_ID` | `amazon.nova-lite-v1:0` | Bedrock Converse model |
//! | `IMAGE_MODEL_ID` | `amazon.titan-image-generator-v2:0` | Bedrock image model |
//! | `AWS_ENDPOINT_URL` | unset | endpoint override (emulators); read by the AWS SDK itself |
//! | `S3_FORCE_PATH_STYLE` | `false` | path-style S3 addressing (emulators) |
//! | `CORS_ALLOWED_ORIGINS` | `*` | comma-separated origins, or `*` (permissive default for the local server; the template's `CorsAllowedOrigins` has no default) |
//! | `DEMO_MODE` | `false` | seeds the demo admin (`admin@ecommerce.com` / `admin123`); never set in the cloud |
//! | `LOGIN_MAX_FAILURES` | `5` | failed logins per (login name, client address) within the window before 429 |
//! | `LOGIN_MAX_FAILURES_PER_ADDRESS` | `20` | failed logins per client address, across login names, within the window before 429 |
//! | `LOGIN_WINDOW_SECONDS` | `900` | the failed-login window (starts at the first failure) |
//! | `TRUSTED_CLIENT_IP_HEADER` | unset | header that carries the client address (e.g. `X-Forwarded-For`, last entry) when a trusted proxy sets it; unset: the API Gateway source IP, or the peer address locally |
//! | `AUTH_STATUS_CACHE_SECONDS` | `5` | how long an instance trusts its copy of an account's status (active, roles, auth version); `0` reads it on every request |
//! | `MAX_BODY_BYTES` | `1048576` | largest request body (the video multipart upload allows 6 MB) |
//! | `MEDIA_PUBLIC_BASE_URL` | unset | CDN in front of the media bucket: video URLs become `{base}/{key}` instead of signed URLs |
//! | `EXPLANATIONS` | `model` | `model`: recommendation explanations written by the text model (`AI`), cached in the table and filled asynchronously (`domain::explanations`); `template`: the deterministic template sentences only (no cache read, no model call) |
//! | `RECORD_INTERACTIONS` | `true` | record shoppers' interactions (views, cart adds, purchases, clicks, video likes...) in the interaction log (`domain::interactions`) as part of their requests; `false` serves the same requests without it (latency comparison, or a deployment that does not train models) |
//! | `PERSONALIZATION_WEIGHTS` | `segment=0.4,history=0.3,collaborative=0.2,trending=0.1` | the spec 000 blend of personalised content (`reco::personalization::BlendWeights::parse`: any subset, numbers >= 0, positive sum) |

use std::{env, path::PathBuf, str::FromStr, time::Duration};

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    /// Embedded redb file under `DATA_DIR`.
    Local,
    /// Embedded, in memory only (tests).
    Memory,
    /// DynamoDB single table.
    Dynamodb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobBackend {
    /// Files under `DATA_DIR/blobs`, with signed URLs served by the local server.
    Local,
    /// In memory only, with the same signed URLs (`local serve --memory`): nothing on disk.
    Memory,
    S3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiBackend {
    Local,
    Bedrock,
}

#[derive(Debug, Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreBackend,
    pub blobs: BlobBackend,
    pub ai: AiBackend,
    pub table_name: String,
    pub bucket_name: String,
    pub data_dir: PathBuf,
    pub public_base_url: String,
    pub jwt_secret: Secret,
    /// Secrets Manager secret id of the signing key (`JWT_SECRET_ARN`); see
    /// [`Config::resolve_jwt_secret`].
    pub jwt_secret_arn: Option<String>,
    pub jwt_ttl: Duration,
    pub blob_signing_secret: Secret,
    pub embedding_model_id: String,
    pub embedding_dimensions: usize,
    pub text_model_id: String,
    pub image_model_id: String,
    pub aws_endpoint_url: Option<String>,
    pub s3_force_path_style: bool,
    pub cors_allowed_origins: Vec<String>,
    pub demo_mode: bool,
    /// Failed logins per (login name, client address) within the window before 429.
    pub login_max_failures: u32,
    /// Failed logins per client address, across login names, within the window before 429.
    pub login_max_failures_per_address: u32,
    pub login_window: Duration,
    /// Header that carries the client address when a trusted proxy sets it; `None` (the default)
    /// never reads a client-sent header.
    pub trusted_client_ip_header: Option<String>,
    /// How long an instance trusts its cached copy of an account's status.
    pub auth_status_cache: Duration,
    /// Largest request body accepted (bytes).
    pub max_body_bytes: usize,
    /// Public base URL of the media bucket (a CDN); when set, video URLs are
    /// `{base}/{blob key}` instead of signed blob-store URLs.
    pub media_public_base_url: Option<String>,
    /// Whether requests record shoppers' interactions in the interaction log
    /// (`RECORD_INTERACTIONS`, default on).
    pub record_interactions: bool,
    /// Whether recommendation explanations may be model-written (`EXPLANATIONS=model`, the
    /// default) or are the template sentences only (`EXPLANATIONS=template`).
    pub explanations_from_model: bool,
    /// The spec 000 blend's source weights (`PERSONALIZATION_WEIGHTS`).
    pub personalization_weights: crate::reco::personalization::BlendWeights,
}

pub const APP_NAME: &str = "E-commerce Backend";
pub const APP_VERSION: &str = "2.0.0";

impl Config {
    /// With `JWT_SECRET_ARN` set (the cloud), reads the signing key from Secrets Manager and
    /// puts it in `jwt_secret` (and the blob signing key derived from it, unless
    /// `BLOB_SIGNING_SECRET` was given). Called once per process by [`crate::AppState::from_config`],
    /// so a Lambda instance reads the secret once, at init. Without an ARN it does nothing.
    pub async fn resolve_jwt_secret(&mut self, sdk: &aws_config::SdkConfig) -> anyhow::Result<()> {
        let Some(arn) = self.jwt_secret_arn.clone() else {
            return Ok(());
        };
        let out = aws_sdk_secretsmanager::Client::new(sdk)
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("reading the JWT secret {arn}: {}", e.into_service_error())
            })?;
        let value = out
            .secret_string()
            .ok_or_else(|| anyhow::anyhow!("the JWT secret {arn} has no SecretString"))?;
        if value.len() < 32 {
            anyhow::bail!("the JWT secret {arn} must be at least 32 bytes");
        }
        let derived_blob_key = self.blob_signing_secret.expose()
            == format!("blob-signing:{}", self.jwt_secret.expose());
        self.jwt_secret = Secret::new(value);
        if derived_blob_key {
            self.blob_signing_secret = Secret::new(format!("blob-signing:{value}"));
        }
        Ok(())
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| env::var(k).ok())
    }

    /// Reads the configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let store = match get("STORE").as_deref().unwrap_or("local") {
            "local" => StoreBackend::Local,
            "memory" => StoreBackend::Memory,
            "dynamodb" => StoreBackend::Dynamodb,
            other => {
                return Err(ConfigError(format!(
                    "STORE={other}: expected local, memory or dynamodb"
                )));
            }
        };
        let blobs = match get("BLOBS").as_deref().unwrap_or("local") {
            "local" => BlobBackend::Local,
            "memory" => BlobBackend::Memory,
            "s3" => BlobBackend::S3,
            other => {
                return Err(ConfigError(format!(
                    "BLOBS={other}: expected local, memory or s3"
                )));
            }
        };
        let ai = match get("AI").as_deref().unwrap_or("local") {
            "local" => AiBackend::Local,
            "bedrock" => AiBackend::Bedrock,
            other => {
                return Err(ConfigError(format!(
                    "AI={other}: expected local or bedrock"
                )));
            }
        };
        let cloud = store == StoreBackend::Dynamodb || blobs == BlobBackend::S3;
        let jwt_secret_arn = get("JWT_SECRET_ARN").filter(|a| !a.trim().is_empty());
        let jwt_secret = match get("JWT_SECRET") {
            // Replaced by the secret's value in `resolve_jwt_secret` before any key is built.
            _ if jwt_secret_arn.is_some() => Secret::new(String::new()),
            Some(s) if s.len() >= 32 => Secret::new(s),
            Some(_) => return Err(ConfigError("JWT_SECRET must be at least 32 bytes".into())),
            // Local runs get a fresh random key: tokens do not survive a restart, nothing to leak.
            None if !cloud => Secret::new(random_hex(32)),
            None => {
                return Err(ConfigError(
                    "JWT_SECRET or JWT_SECRET_ARN is required with cloud backends".into(),
                ));
            }
        };
        let blob_signing_secret = get("BLOB_SIGNING_SECRET")
            .map(Secret::new)
            .unwrap_or_else(|| Secret::new(format!("blob-signing:{}", jwt_secret.expose())));
        let demo_mode = parse_bool(get("DEMO_MODE"), false)?;
        if demo_mode && cloud {
            return Err(ConfigError(
                "DEMO_MODE seeds a known admin password and is refused with cloud backends".into(),
            ));
        }
        Ok(Self {
            store,
            blobs,
            ai,
            table_name: get("TABLE_NAME").unwrap_or_else(|| "personalization".into()),
            bucket_name: get("BUCKET_NAME").unwrap_or_else(|| "personalization-media".into()),
            data_dir: get("DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".data")),
            public_base_url: get("PUBLIC_BASE_URL")
                .unwrap_or_else(|| "http://127.0.0.1:3000".into())
                .trim_end_matches('/')
                .to_string(),
            jwt_secret,
            jwt_secret_arn,
            jwt_ttl: Duration::from_secs(parse_num(get("JWT_TTL_SECONDS"), 1800)?),
            blob_signing_secret,
            embedding_model_id: get("EMBEDDING_MODEL_ID")
                .unwrap_or_else(|| "amazon.titan-embed-text-v2:0".into()),
            embedding_dimensions: parse_num(get("EMBEDDING_DIMENSIONS"), 256)?,
            text_model_id: get("TEXT_MODEL_ID").unwrap_or_else(|| "amazon.nova-lite-v1:0".into()),
            image_model_id: get("IMAGE_MODEL_ID")
                .unwrap_or_else(|| "amazon.titan-image-generator-v2:0".into()),
            aws_endpoint_url: get("AWS_ENDPOINT_URL"),
            s3_force_path_style: parse_bool(get("S3_FORCE_PATH_STYLE"), false)?,
            cors_allowed_origins: get("CORS_ALLOWED_ORIGINS")
                .unwrap_or_else(|| "*".into())
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            demo_mode,
            login_max_failures: parse_num(get("LOGIN_MAX_FAILURES"), 5)?,
            login_max_failures_per_address: parse_num(get("LOGIN_MAX_FAILURES_PER_ADDRESS"), 20)?,
            login_window: Duration::from_secs(parse_num(get("LOGIN_WINDOW_SECONDS"), 900)?),
            trusted_client_ip_header: get("TRUSTED_CLIENT_IP_HEADER")
                .map(|h| h.trim().to_ascii_lowercase()),
            auth_status_cache: Duration::from_secs(parse_num(get("AUTH_STATUS_CACHE_SECONDS"), 5)?),
            max_body_bytes: parse_num(get("MAX_BODY_BYTES"), 1024 * 1024)?,
            media_public_base_url: get("MEDIA_PUBLIC_BASE_URL")
                .map(|u| u.trim_end_matches('/').to_string()),
            record_interactions: parse_bool(get("RECORD_INTERACTIONS"), true)?,
            explanations_from_model: match get("EXPLANATIONS").as_deref().map(str::trim) {
                None | Some("model") => true,
                Some("template") => false,
                Some(other) => {
                    return Err(ConfigError(format!(
                        "EXPLANATIONS={other}: expected model or template"
                    )));
                }
            },
            personalization_weights: match get("PERSONALIZATION_WEIGHTS") {
                None => Default::default(),
                Some(w) => crate::reco::personalization::BlendWeights::parse(&w)
                    .map_err(|e| ConfigError(format!("PERSONALIZATION_WEIGHTS: {e}")))?,
            },
        })
    }

    /// A configuration for tests: in-memory store, local blobs under `data_dir`, local AI.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        let mut c = Self::from_lookup(|_| None).unwrap_or_else(|e| panic!("default config: {e}"));
        c.store = StoreBackend::Memory;
        c.data_dir = data_dir;
        c
    }
}

fn parse_bool(v: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError(format!("expected a boolean, got {other}"))),
    }
}

fn parse_num<T: FromStr>(v: Option<String>, default: T) -> Result<T, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("expected a number, got {s}"))),
    }
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_local() {
        let c = cfg(&[]).expect("config");
        assert_eq!(c.store, StoreBackend::Local);
        assert_eq!(c.jwt_ttl, Duration::from_secs(1800));
        assert!(c.jwt_secret.expose().len() >= 32);
    }

    #[test]
    fn cloud_requires_jwt_secret_and_refuses_demo() {
        assert!(cfg(&[("STORE", "dynamodb")]).is_err());
        let s = "x".repeat(40);
        assert!(cfg(&[("STORE", "dynamodb"), ("JWT_SECRET", &s)]).is_ok());
        assert!(
            cfg(&[
                ("STORE", "dynamodb"),
                ("JWT_SECRET", &s),
                ("DEMO_MODE", "true")
            ])
            .is_err()
        );
        assert!(cfg(&[("JWT_SECRET", "short")]).is_err());
        assert!(cfg(&[("STORE", "postgres")]).is_err());
    }

    #[test]
    fn login_throttle_and_auth_cache_settings() {
        let c = cfg(&[]).expect("config");
        assert_eq!(c.login_max_failures, 5);
        assert_eq!(c.login_max_failures_per_address, 20);
        assert_eq!(
            c.trusted_client_ip_header, None,
            "no client header trusted by default"
        );
        assert_eq!(c.auth_status_cache, Duration::from_secs(5));
        let c = cfg(&[
            ("LOGIN_MAX_FAILURES_PER_ADDRESS", "7"),
            ("TRUSTED_CLIENT_IP_HEADER", "X-Forwarded-For"),
            ("AUTH_STATUS_CACHE_SECONDS", "0"),
        ])
        .expect("config");
        assert_eq!(c.login_max_failures_per_address, 7);
        assert_eq!(
            c.trusted_client_ip_header.as_deref(),
            Some("x-forwarded-for")
        );
        assert_eq!(c.auth_status_cache, Duration::ZERO);
        assert!(cfg(&[("AUTH_STATUS_CACHE_SECONDS", "soon")]).is_err());
    }

    #[test]
    fn interactions_are_recorded_unless_switched_off() {
        assert!(cfg(&[]).expect("config").record_interactions);
        assert!(
            !cfg(&[("RECORD_INTERACTIONS", "false")])
                .expect("config")
                .record_interactions
        );
        assert!(cfg(&[("RECORD_INTERACTIONS", "sometimes")]).is_err());
    }

    #[test]
    fn explanations_are_model_written_unless_switched_to_templates() {
        assert!(cfg(&[]).expect("config").explanations_from_model);
        assert!(
            cfg(&[("EXPLANATIONS", "model")])
                .expect("config")
                .explanations_from_model
        );
        assert!(
            !cfg(&[("EXPLANATIONS", "template")])
                .expect("config")
                .explanations_from_model
        );
        assert!(cfg(&[("EXPLANATIONS", "llm")]).is_err());
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let c = cfg(&[("JWT_SECRET", &"s".repeat(40))]).expect("config");
        assert!(!format!("{c:?}").contains("ssss"));
    }
}
