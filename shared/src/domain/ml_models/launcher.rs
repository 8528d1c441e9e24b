//! Starting a training in the background, for `POST .../ml-config/train` (which answers at
//! once): [`TrainingLauncher`], so handlers never see SDK types.
//!
//! - [`LocalLauncher`]: a tokio task in this process (the local server, tests).
//! - [`LambdaLauncher`]: an asynchronous invocation (`InvocationType::Event`) of the jobs
//!   function with the event `{"job": "reco-train", "training_id", "models"}`; Lambda queues it
//!   and the train route returns without waiting.
//!
//! In both cases the route has taken the training lock under the training id it answers with;
//! the job runs under that id and releases the lock at the end ([`training::run_locked`]).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use super::training::{self, FitFn};
use crate::blobs::BlobStore;
use crate::reco::model::ModelKind;
use crate::store::ItemStore;

/// A training to start: its id (the lock is held under it) and models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainJob {
    pub training_id: String,
    pub models: Vec<ModelKind>,
}

impl TrainJob {
    /// The jobs function's event for this training.
    pub fn event(&self) -> serde_json::Value {
        json!({
            "job": "reco-train",
            "training_id": self.training_id,
            "models": self.models.iter().map(|m| m.name()).collect::<Vec<_>>(),
        })
    }
}

/// Starts a training without waiting for it.
#[async_trait]
pub trait TrainingLauncher: Send + Sync + 'static {
    async fn launch(&self, job: TrainJob) -> anyhow::Result<()>;

    /// Short name for logs (`local`, `lambda`).
    fn name(&self) -> &'static str;
}

/// Runs the training as a tokio task of this process.
pub struct LocalLauncher {
    store: Arc<dyn ItemStore>,
    blobs: Arc<dyn BlobStore>,
    fit: FitFn,
}

impl LocalLauncher {
    pub fn new(store: Arc<dyn ItemStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Self::with_fit(store, blobs, training::registry_fit())
    }

    /// With another fit (tests).
    pub fn with_fit(store: Arc<dyn ItemStore>, blobs: Arc<dyn BlobStore>, fit: FitFn) -> Self {
        Self { store, blobs, fit }
    }
}

#[async_trait]
impl TrainingLauncher for LocalLauncher {
    async fn launch(&self, job: TrainJob) -> anyhow::Result<()> {
        let (store, blobs, fit) = (Arc::clone(&self.store), Arc::clone(&self.blobs), self.fit);
        tokio::spawn(async move {
            match training::run_locked(store, blobs, Some(&job.training_id), &job.models, fit).await
            {
                Ok(Ok(report)) => {
                    tracing::info!(report = %training::summary(&report), "training finished")
                }
                Ok(Err(busy)) => tracing::warn!(%busy, "training not started"),
                Err(e) => {
                    tracing::error!(error = %e, training_id = %job.training_id, "training failed")
                }
            }
        });
        Ok(())
    }

    fn name(&self) -> &'static str {
        "local"
    }
}

/// Invokes the jobs function asynchronously (the client is built on first use).
pub struct LambdaLauncher {
    function_name: String,
    client: tokio::sync::OnceCell<aws_sdk_lambda::Client>,
}

impl LambdaLauncher {
    /// `function_name`: name or ARN of the jobs function (`JOBS_FUNCTION_NAME`).
    pub fn new(function_name: impl Into<String>) -> Self {
        Self {
            function_name: function_name.into(),
            client: tokio::sync::OnceCell::new(),
        }
    }
}

#[async_trait]
impl TrainingLauncher for LambdaLauncher {
    async fn launch(&self, job: TrainJob) -> anyhow::Result<()> {
        let client = self
            .client
            .get_or_init(|| async {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                aws_sdk_lambda::Client::new(&sdk)
            })
            .await;
        let payload = serde_json::to_vec(&job.event())?;
        client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("invoking {}: {}", self.function_name, e))?;
        Ok(())
    }

    fn name(&self) -> &'static str {
        "lambda"
    }
}

/// The launcher for this process: [`LambdaLauncher`] when `JOBS_FUNCTION_NAME` is set (the
/// template sets it on the ml-models function), else [`LocalLauncher`].
pub fn from_env(store: Arc<dyn ItemStore>, blobs: Arc<dyn BlobStore>) -> Arc<dyn TrainingLauncher> {
    match std::env::var("JOBS_FUNCTION_NAME") {
        Ok(name) if !name.trim().is_empty() => Arc::new(LambdaLauncher::new(name)),
        _ => Arc::new(LocalLauncher::new(store, blobs)),
    }
}
