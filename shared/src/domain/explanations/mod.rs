//! Natural-language explanations of recommendations (issue 13, part 3).
//!
//! INTERFACE STUB from the coordinator: the helper who owns explanations replaces the body
//! (cache, Bedrock batches, asynchronous fill); the signatures are what serving calls.

use std::sync::Arc;

use crate::AppState;
use crate::reco::algorithm::Algorithm;

/// What one explanation is about.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainRequest {
    pub algorithm: Algorithm,
    /// The item's `reason` (e.g. `users_also_bought`, `similar_product`).
    pub reason: String,
    pub product_id: String,
    pub product_name: String,
    /// The recommended product's category name.
    pub category: Option<String>,
    /// What the recommendation is relative to, e.g. the name of the product the caller viewed
    /// or has in the cart ("Because you viewed the Sony WH-1000XM5").
    pub context: Option<String>,
}

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
