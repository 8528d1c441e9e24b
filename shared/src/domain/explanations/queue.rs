//! Handing missing explanations to an asynchronous fill, so that the request that missed them is
//! answered with the templates at once: [`FillQueue`], so the explainer never sees SDK types.
//!
//! - [`LambdaFillQueue`] (the cloud: `JOBS_FUNCTION_NAME` set): one asynchronous invocation
//!   (`InvocationType::Event`) of the jobs function per response with misses, event
//!   `{"job": "explain-fill", "requests": [...]}`. The invocation is awaited within the request
//!   (a Lambda instance is frozen once it has answered, so a detached task could not be trusted
//!   to run), bounded by [`INVOKE_TIMEOUT`]; Lambda queues the event and the jobs function calls
//!   the model. The model is never waited on.
//! - [`LocalFillQueue`] (the local server, tests): a bounded channel ([`LOCAL_CAPACITY`]
//!   requests; more are dropped and logged) drained by one tokio task, started on first use,
//!   which gathers up to [`GATHER`] worth of requests and runs [`fill`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::{OnceCell, mpsc};

use super::fill::{FillLimits, fill};
use crate::ai::TextGenerator;
use crate::reco::explain::{BATCH_SIZE, ExplainRequest};
use crate::store::ItemStore;

/// Budget of the asynchronous invocation on the request path.
pub const INVOKE_TIMEOUT: Duration = Duration::from_millis(300);
/// Requests the local queue holds before it drops new ones.
pub const LOCAL_CAPACITY: usize = 512;
/// How long the local worker waits for more requests before it fills a batch.
pub const GATHER: Duration = Duration::from_millis(50);

/// The jobs function's event for a fill.
pub fn fill_event(requests: &[ExplainRequest]) -> serde_json::Value {
    json!({"job": "explain-fill", "requests": requests})
}

/// Queues requests for an asynchronous fill. Never fails (what went wrong is logged) and never
/// waits on a model.
#[async_trait]
pub trait FillQueue: Send + Sync + 'static {
    async fn enqueue(&self, requests: Vec<ExplainRequest>);

    /// Short name for logs (`local`, `lambda`, ...).
    fn name(&self) -> &'static str;
}

/// A tokio task of this process fills the cache (see the module docs).
pub struct LocalFillQueue {
    store: Arc<dyn ItemStore>,
    text: Arc<dyn TextGenerator>,
    limits: FillLimits,
    sender: OnceCell<mpsc::Sender<ExplainRequest>>,
}

impl LocalFillQueue {
    pub fn new(store: Arc<dyn ItemStore>, text: Arc<dyn TextGenerator>) -> Self {
        Self {
            store,
            text,
            limits: FillLimits::default(),
            sender: OnceCell::new(),
        }
    }

    async fn sender(&self) -> &mpsc::Sender<ExplainRequest> {
        self.sender
            .get_or_init(|| async {
                let (tx, rx) = mpsc::channel(LOCAL_CAPACITY);
                let (store, text, limits) =
                    (Arc::clone(&self.store), Arc::clone(&self.text), self.limits);
                tokio::spawn(worker(rx, store, text, limits));
                tx
            })
            .await
    }
}

async fn worker(
    mut rx: mpsc::Receiver<ExplainRequest>,
    store: Arc<dyn ItemStore>,
    text: Arc<dyn TextGenerator>,
    limits: FillLimits,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + GATHER;
        while batch.len() < BATCH_SIZE * 5 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        let report = fill(store.as_ref(), text.as_ref(), &batch, limits).await;
        tracing::debug!(?report, "explanations filled");
    }
}

#[async_trait]
impl FillQueue for LocalFillQueue {
    async fn enqueue(&self, requests: Vec<ExplainRequest>) {
        let sender = self.sender().await;
        let mut dropped = 0usize;
        for r in requests {
            if sender.try_send(r).is_err() {
                dropped += 1;
            }
        }
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "explanation fill queue full; templates served meanwhile"
            );
        }
    }

    fn name(&self) -> &'static str {
        "local"
    }
}

/// Invokes the jobs function asynchronously (the client is built on first use).
pub struct LambdaFillQueue {
    function_name: String,
    client: OnceCell<aws_sdk_lambda::Client>,
}

impl LambdaFillQueue {
    /// `function_name`: name or ARN of the jobs function (`JOBS_FUNCTION_NAME`).
    pub fn new(function_name: impl Into<String>) -> Self {
        Self {
            function_name: function_name.into(),
            client: OnceCell::new(),
        }
    }

    /// With a ready client (tests against a fake Lambda endpoint).
    pub fn with_client(function_name: impl Into<String>, client: aws_sdk_lambda::Client) -> Self {
        Self {
            function_name: function_name.into(),
            client: OnceCell::new_with(Some(client)),
        }
    }

    async fn invoke(&self, requests: &[ExplainRequest]) -> anyhow::Result<()> {
        let client = self
            .client
            .get_or_init(|| async {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                aws_sdk_lambda::Client::new(&sdk)
            })
            .await;
        let payload = serde_json::to_vec(&fill_event(requests))?;
        client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "invoking {}: {}",
                    self.function_name,
                    aws_sdk_lambda::error::DisplayErrorContext(e)
                )
            })?;
        Ok(())
    }
}

#[async_trait]
impl FillQueue for LambdaFillQueue {
    async fn enqueue(&self, requests: Vec<ExplainRequest>) {
        match tokio::time::timeout(INVOKE_TIMEOUT, self.invoke(&requests)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, items = requests.len(), "explanation fill not queued")
            }
            Err(_) => tracing::warn!(
                items = requests.len(),
                "explanation fill invocation timed out"
            ),
        }
    }

    fn name(&self) -> &'static str {
        "lambda"
    }
}

/// The queue for this process: [`LambdaFillQueue`] when `JOBS_FUNCTION_NAME` is set (the template
/// sets it on the recommendations function), else [`LocalFillQueue`].
pub fn from_env(store: Arc<dyn ItemStore>, text: Arc<dyn TextGenerator>) -> Arc<dyn FillQueue> {
    match std::env::var("JOBS_FUNCTION_NAME") {
        Ok(name) if !name.trim().is_empty() => Arc::new(LambdaFillQueue::new(name)),
        _ => Arc::new(LocalFillQueue::new(store, text)),
    }
}
