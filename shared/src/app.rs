//! Application state shared by every handler, built once per process (once per warm Lambda).

use std::sync::Arc;

use crate::{
    ai::{self, Embedder, ImageGenerator, TextGenerator},
    auth::{StatusCache, jwt::JwtKeys},
    blobs::{self, BlobStore},
    config::{AiBackend, BlobBackend, Config, StoreBackend},
    store::{self, ItemStore},
};

/// Dependencies every function shares, each behind a trait so tests and the local server swap
/// them. State that belongs to one function (a cache, its settings) lives in that function's own
/// state struct, which holds an `AppState` and hands it out through `axum::extract::FromRef`.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn ItemStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub embedder: Arc<dyn Embedder>,
    pub text: Arc<dyn TextGenerator>,
    pub images: Arc<dyn ImageGenerator>,
    pub jwt: Arc<JwtKeys>,
    /// This instance's short-lived copy of account statuses, read by the `AuthUser` extractor.
    pub auth_status: Arc<StatusCache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store.backend_name())
            .field("blobs", &self.blobs.backend_name())
            .field("embedder", &self.embedder.provenance())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds every backend the configuration names. AWS clients share one SDK config, loaded
    /// from the environment (region, credentials, `AWS_ENDPOINT_URL`) only when a backend needs it.
    /// The JWT key is read from Secrets Manager first when `JWT_SECRET_ARN` names it.
    pub async fn from_config(mut config: Config) -> anyhow::Result<Self> {
        let needs_aws = config.store == StoreBackend::Dynamodb
            || config.blobs == BlobBackend::S3
            || config.ai == AiBackend::Bedrock
            || config.jwt_secret_arn.is_some();
        let sdk = if needs_aws {
            Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
        } else {
            None
        };
        if let Some(sdk) = &sdk {
            config.resolve_jwt_secret(sdk).await?;
        }
        Self::from_config_and_sdk(config, sdk.as_ref())
    }

    /// Like [`AppState::from_config`] with a ready SDK config (tests against an emulator).
    pub fn from_config_and_sdk(
        config: Config,
        sdk: Option<&aws_config::SdkConfig>,
    ) -> anyhow::Result<Self> {
        let sdk_ref = || sdk.ok_or_else(|| anyhow::anyhow!("AWS config not loaded"));
        // Never sign tokens with the empty placeholder of an unread JWT_SECRET_ARN.
        anyhow::ensure!(
            !config.jwt_secret.expose().is_empty(),
            "JWT_SECRET_ARN is set but the secret was not read (use AppState::from_config)"
        );

        let store: Arc<dyn ItemStore> = match config.store {
            StoreBackend::Memory => Arc::new(store::local::LocalStore::in_memory()?),
            StoreBackend::Local => {
                std::fs::create_dir_all(&config.data_dir)?;
                Arc::new(store::local::LocalStore::open(
                    &config.data_dir.join("store.redb"),
                )?)
            }
            StoreBackend::Dynamodb => Arc::new(store::dynamo::DynamoStore::new(
                sdk_ref()?,
                &config.table_name,
            )),
        };
        let blobs: Arc<dyn BlobStore> = match config.blobs {
            BlobBackend::Local => Arc::new(blobs::local::LocalBlobs::on_disk(
                config.data_dir.join("blobs"),
                format!("{}/blobs", config.public_base_url),
                config.blob_signing_secret.expose().as_bytes(),
            )?),
            BlobBackend::Memory => Arc::new(blobs::local::LocalBlobs::in_memory(
                format!("{}/blobs", config.public_base_url),
                config.blob_signing_secret.expose().as_bytes(),
            )?),
            BlobBackend::S3 => Arc::new(blobs::s3::S3Blobs::new(
                sdk_ref()?,
                &config.bucket_name,
                config.s3_force_path_style,
            )),
        };
        let (embedder, text, images): (
            Arc<dyn Embedder>,
            Arc<dyn TextGenerator>,
            Arc<dyn ImageGenerator>,
        ) = match config.ai {
            AiBackend::Local => (
                Arc::new(ai::local::LocalEmbedder::new(config.embedding_dimensions)),
                Arc::new(ai::local::LocalText::new()),
                Arc::new(ai::local::LocalImages::new()),
            ),
            AiBackend::Bedrock => {
                let client = ai::bedrock::BedrockClient::new(sdk_ref()?);
                (
                    Arc::new(ai::bedrock::BedrockEmbedder::new(
                        client.clone(),
                        &config.embedding_model_id,
                        config.embedding_dimensions,
                    )),
                    Arc::new(ai::bedrock::BedrockText::new(
                        client.clone(),
                        &config.text_model_id,
                    )),
                    Arc::new(ai::bedrock::BedrockImages::new(
                        client,
                        &config.image_model_id,
                    )),
                )
            }
        };
        Ok(Self::with_backends(
            config, store, blobs, embedder, text, images,
        ))
    }

    /// Assembles a state from ready backends (tests, the local server with custom backends).
    pub fn with_backends(
        config: Config,
        store: Arc<dyn ItemStore>,
        blobs: Arc<dyn BlobStore>,
        embedder: Arc<dyn Embedder>,
        text: Arc<dyn TextGenerator>,
        images: Arc<dyn ImageGenerator>,
    ) -> Self {
        let jwt = Arc::new(JwtKeys::new(
            config.jwt_secret.expose().as_bytes(),
            config.jwt_ttl,
        ));
        let auth_status = Arc::new(StatusCache::new(config.auth_status_cache));
        Self {
            config: Arc::new(config),
            store,
            blobs,
            embedder,
            text,
            images,
            jwt,
            auth_status,
        }
    }

    /// In-memory store, local blobs under `data_dir`, local AI: for router tests.
    pub fn for_tests(data_dir: std::path::PathBuf) -> anyhow::Result<Self> {
        let config = Config::for_tests(data_dir);
        let store = Arc::new(store::local::LocalStore::in_memory()?);
        let blobs = Arc::new(blobs::local::LocalBlobs::on_disk(
            config.data_dir.join("blobs"),
            format!("{}/blobs", config.public_base_url),
            config.blob_signing_secret.expose().as_bytes(),
        )?);
        Ok(Self::with_backends(
            config.clone(),
            store,
            blobs,
            Arc::new(ai::local::LocalEmbedder::new(config.embedding_dimensions)),
            Arc::new(ai::local::LocalText::new()),
            Arc::new(ai::local::LocalImages::new()),
        ))
    }
}
