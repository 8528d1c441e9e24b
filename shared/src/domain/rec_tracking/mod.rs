//! Recommendation tracking and attribution (issue 13, part 4).
//!
//! INTERFACE STUB from the coordinator: the helper who owns tracking replaces the bodies (the
//! signatures are what the serving code calls; change them only with the coordinator).

use crate::domain::experiments::ArmRef;
use crate::domain::interactions::Actor;
use crate::reco::algorithm::Algorithm;
use crate::store::{ItemStore, StoreResult};

/// One served item.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedItem {
    pub product_id: String,
    pub algorithm: Algorithm,
    /// In [0, 1].
    pub score: f32,
}

/// One served list (one `recommendation_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    /// `homepage`, `product_page`, `cart`, `checkout`, `product`, `fbt`, `popular`,
    /// `trending`, `new_arrivals` or `personalized`.
    pub recommendation_type: String,
    /// A blended list (homepage, personalized): counted under the `hybrid` family too.
    pub blended: bool,
    pub actor: Option<Actor>,
    pub arm: Option<ArmRef>,
    pub items: Vec<ServedItem>,
}

/// A new recommendation id (`rec_` + 32 hex digits).
pub fn new_recommendation_id() -> String {
    format!("rec_{}", uuid::Uuid::new_v4().simple())
}

/// Records a served list under `id`: what track-click and attribution read, and the impression
/// rollups. Called on the request path, once per response.
pub async fn record_served(
    _store: &dyn ItemStore,
    _id: &str,
    _served: &Served,
    _now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    Ok(())
}
