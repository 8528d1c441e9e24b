//! Adapting a chapter to a reading level.
//!
//! [`Adapter`] is what the handlers call; two implementations:
//! - [`model::ModelAdapter`]: the configured [`shared::ai::TextGenerator`] (Bedrock Converse in
//!   the cloud) with the versioned prompt templates of [`prompts`]; long chapters are split at
//!   headings into chunks that fit the model's limits, adapted concurrently within a bound and
//!   joined in order; code blocks and formulas are swapped for placeholders so the model cannot
//!   alter them.
//! - [`offline::OfflineAdapter`]: deterministic rules, no model (used when `AI=local`).

pub mod model;
pub mod offline;
pub mod prompts;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use shared::{AppState, ai::Provenance, config::AiBackend};
use thiserror::Error;
use utoipa::ToSchema;

/// A reading level of spec 001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Beginner,
    Intermediate,
    Advanced,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Beginner, Level::Intermediate, Level::Advanced];

    /// Parses `beginner`, `intermediate` or `advanced` (case-insensitive, surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "beginner" => Some(Self::Beginner),
            "intermediate" => Some(Self::Intermediate),
            "advanced" => Some(Self::Advanced),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Beginner => "beginner",
            Self::Intermediate => "intermediate",
            Self::Advanced => "advanced",
        }
    }
}

/// Why an adaptation failed. The handlers answer every one with a generic `processing_error`.
#[derive(Debug, Error)]
pub enum AdaptError {
    /// The model kept throttling after the client's retries and ours.
    #[error("model throttled")]
    Throttled,
    #[error("model timed out")]
    Timeout,
    /// The model failed or refused the request.
    #[error("model error: {0}")]
    Model(String),
    /// The model's answer broke the chapter's structure (lost a code block, heading or formula).
    #[error("adapted text failed validation: {0}")]
    Structure(String),
}

/// Adapts chapters to reading levels.
#[async_trait]
pub trait Adapter: Send + Sync {
    /// Which backend and model write the text (part of the cache key, sent in responses).
    fn provenance(&self) -> Provenance;
    /// Version of the prompts or rules (part of the cache key).
    fn prompt_version(&self) -> &'static str;
    /// The chapter at `level`, as Markdown.
    async fn adapt(&self, chapter: &str, level: Level) -> Result<String, AdaptError>;
}

/// The adapter the configuration asks for: offline with `AI=local`, else the model adapter over
/// `state.text`.
pub fn for_state(state: &AppState, limits: model::ModelLimits) -> Arc<dyn Adapter> {
    match state.config.ai {
        AiBackend::Local => Arc::new(offline::OfflineAdapter),
        AiBackend::Bedrock => Arc::new(model::ModelAdapter::new(state.text.clone(), limits)),
    }
}
