//! The spec 000 caches (`user:{id}:segments`, `user:{id}:personalized_content`,
//! `segment:{id}:recommendations`): store items with a TTL, a per-instance layer in front.

use crate::store::{ItemStore, StoreResult};

/// Drops `user_id`'s cached segments and personalised content. Called by every write that
/// changes the user's segment membership.
pub async fn invalidate_user(store: &dyn ItemStore, user_id: &str) -> StoreResult<()> {
    // Interface stub for the parallel work on issue 14; the personalization part replaces it.
    let _ = (store, user_id);
    Ok(())
}
