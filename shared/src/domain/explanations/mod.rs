//! Natural-language explanations of recommendations (issue 13, part 3).
//!
//! INTERFACE STUB from the coordinator: the helper who owns explanations replaces the body
//! (cache, Bedrock batches, asynchronous fill); the signatures are what serving calls.

use std::sync::Arc;

use crate::AppState;

pub use crate::reco::explain::ExplainRequest;

/// Explains served items; one per function instance (a field of the function's state).
pub struct Explainer {
    _app: AppState,
}

impl std::fmt::Debug for Explainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Explainer").finish_non_exhaustive()
    }
}

impl Explainer {
    pub fn new(app: &AppState) -> Arc<Self> {
        Arc::new(Self { _app: app.clone() })
    }

    /// One sentence per request, in order. Never fails and never waits on a model.
    pub async fn explain(&self, requests: &[ExplainRequest]) -> Vec<String> {
        requests
            .iter()
            .map(|r| match &r.context {
                Some(c) => format!("Because you viewed {c}"),
                None => format!("Recommended for you: {}", r.product_name),
            })
            .collect()
    }
}
