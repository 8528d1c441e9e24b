//! Which segments a user is in now: the interface the personalization engine (spec 000) reads.

use serde::{Deserialize, Serialize};

use crate::store::{ItemStore, StoreResult};

/// One segment a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRef {
    pub segment_id: String,
    pub name: String,
    /// `rfm`, `behavioral`, `demographic`, `interest` or `manual`.
    pub segment_type: String,
}

/// The spec 002 segments `user_id` is a member of now (computed or manual), without a scan.
pub async fn segments_of_user(
    store: &dyn ItemStore,
    user_id: &str,
) -> StoreResult<Vec<SegmentRef>> {
    // Interface stub for the parallel work on issue 14; the segments part replaces the body.
    let _ = (store, user_id);
    Ok(Vec::new())
}
