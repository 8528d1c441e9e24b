//! A/B experiments on recommendation configs (issue 13, part 6).
//!
//! INTERFACE STUB from the coordinator: the helper who owns experiments replaces the bodies (the
//! signatures are what serving and tracking call; change them only with the coordinator).

use crate::store::{ItemStore, StoreResult};

/// The arm a served list belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArmRef {
    pub experiment_id: String,
    pub arm: String,
}

/// The arm a caller is in for a recommendation type, and the config that arm serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub arm: ArmRef,
    /// An ML config id (a `hybrid` config, or a model config) whose parameters the arm serves.
    pub config_id: String,
}

/// What an arm's counters count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmEvent {
    /// Items shown in one served list.
    Impressions(u32),
    Click,
    /// An attributed purchase line and its revenue.
    Conversion {
        revenue_cents: i64,
    },
}

/// The arm of the running experiment for `recommendation_type` that `actor_key` (a user id or
/// `guest:<cart id>`) is in, or `None` when no experiment runs for that type.
pub async fn assignment(
    _store: &dyn ItemStore,
    _recommendation_type: &str,
    _actor_key: &str,
) -> StoreResult<Option<Assignment>> {
    Ok(None)
}

/// Counts `event` for `arm`.
pub async fn count(_store: &dyn ItemStore, _arm: &ArmRef, _event: ArmEvent) -> StoreResult<()> {
    Ok(())
}
