//! The calls the shared write paths make into segmentation (one per site, never failing the
//! write: errors are logged): an order placed or cancelled ([`on_order`]), a profile or
//! preference write ([`on_profile`]), interactions recorded (`features::record_signals`, called
//! by the interaction log). Each keeps the user's features current, then re-evaluates the
//! user's memberships ([`super::membership::reevaluate_user`]); an order also adds to the daily
//! rollup of every segment the buyer is in ([`super::performance`]).

use crate::domain::orders::OrderRecord;
use crate::domain::users::{Preferences, UserRecord};
use crate::store::{ItemStore, StoreResult};

use super::{features, membership, performance};

async fn order_effects(store: &dyn ItemStore, order: &OrderRecord, sign: i64) -> StoreResult<()> {
    let at = chrono::DateTime::parse_from_rfc3339(&order.created_at)
        .map(|t| t.to_utc())
        .unwrap_or_else(|_| chrono::Utc::now());
    features::record_order(store, &order.user_id, order.total_amount.0, at, sign).await?;
    // The rollup counts the order in the segments the buyer was in when buying.
    let segments = membership::segments_of_user(store, &order.user_id).await?;
    performance::record_order(store, &segments, order.total_amount.0, at, sign).await?;
    membership::reevaluate_user(store, &order.user_id).await?;
    Ok(())
}

/// An order was placed (`sign` 1; also imported historical orders) or cancelled (-1).
pub async fn on_order(store: &dyn ItemStore, order: &OrderRecord, sign: i64) {
    if let Err(e) = order_effects(store, order, sign).await {
        tracing::warn!(order = %order.id, error = %e, "segment features of an order not recorded");
    }
}

async fn profile_effects(
    store: &dyn ItemStore,
    user_id: &str,
    user: Option<&UserRecord>,
    prefs: Option<&Preferences>,
) -> StoreResult<()> {
    features::record_profile(store, user_id, user, prefs).await?;
    membership::reevaluate_user(store, user_id).await?;
    Ok(())
}

/// A user's profile (date of birth, gender, address) or preferences (interests, categories)
/// were written.
pub async fn on_profile(
    store: &dyn ItemStore,
    user_id: &str,
    user: Option<&UserRecord>,
    prefs: Option<&Preferences>,
) {
    if let Err(e) = profile_effects(store, user_id, user, prefs).await {
        tracing::warn!(user = %user_id, error = %e, "segment profile facts not recorded");
    }
}
