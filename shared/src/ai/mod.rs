//! AI backends: embeddings, text generation, image generation.
//!
//! Traits here; [`bedrock`] implements them on Amazon Bedrock (Titan Text Embeddings v2 through
//! InvokeModel, text through the Converse API, images through a Bedrock image model), [`local`]
//! implements them offline and deterministically. Every output names the backend and model that
//! made it.

pub mod bedrock;
pub mod local;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AiError {
    /// Throttled after the client's own retries.
    #[error("model throttled")]
    Throttled,
    #[error("model timed out")]
    Timeout,
    /// The request was refused as invalid (bad input, content filtered, too long).
    #[error("invalid model request: {0}")]
    Invalid(String),
    /// The model or service failed.
    #[error("model error: {0}")]
    Model(String),
}

pub type AiResult<T> = Result<T, AiError>;

/// Which backend and model produced an output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// `"bedrock"` or `"local"`.
    pub backend: String,
    pub model_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// Unit-length vector of [`Embedder::dimensions`] values.
    pub vector: Vec<f32>,
    pub provenance: Provenance,
}

#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    async fn embed(&self, text: &str) -> AiResult<Embedding>;
    fn dimensions(&self) -> usize;
    fn provenance(&self) -> Provenance;
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextRequest {
    pub system: Option<String>,
    pub prompt: String,
    pub max_tokens: u32,
    pub temperature: f32,
}

impl TextRequest {
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            system: None,
            prompt: prompt.into(),
            max_tokens: 1024,
            temperature: 0.3,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextResponse {
    pub text: String,
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub provenance: Provenance,
}

#[async_trait]
pub trait TextGenerator: Send + Sync + 'static {
    async fn generate(&self, request: TextRequest) -> AiResult<TextResponse>;
    fn provenance(&self) -> Provenance;
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageRequest {
    pub prompt: String,
    pub width: u32,
    pub height: u32,
    pub seed: Option<u32>,
    /// Text the banner carries (a product's name and price, one line each). The local renderer
    /// draws these lines instead of the prompt's first words; image models draw text unreliably,
    /// so the Bedrock implementation leaves it out (callers put the facts in the prompt).
    pub caption: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GeneratedImage {
    /// PNG bytes.
    pub png: Bytes,
    pub width: u32,
    pub height: u32,
    pub provenance: Provenance,
}

#[async_trait]
pub trait ImageGenerator: Send + Sync + 'static {
    async fn generate(&self, request: ImageRequest) -> AiResult<GeneratedImage>;
    fn provenance(&self) -> Provenance;
}

/// Cosine similarity of two vectors (0 when either is zero or the lengths differ).
pub use crate::reco::similarity::cosine;
