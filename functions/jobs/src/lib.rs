//! `functions/jobs`: scheduled batch jobs, run by EventBridge schedules in the cloud (the
//! schedule's input is the event: `{"job": "<name>", ...}`) and by `local job <name>` locally.
//!
//! Jobs:
//! - `fbt-rules`: mines "frequently bought together" association rules from every order and
//!   stores each product's rule list (`min_support_count`, default 3).

use serde::Deserialize;
use serde_json::{Value, json};
use shared::{AppState, domain::fbt, store::StoreError};

/// The names of the jobs this function runs.
pub const JOBS: [&str; 1] = ["fbt-rules"];

/// The event a schedule sends.
#[derive(Debug, Clone, Deserialize)]
pub struct JobEvent {
    pub job: String,
    /// `fbt-rules`: minimum number of orders a pair must share.
    #[serde(default)]
    pub min_support_count: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("unknown job '{0}' (known: fbt-rules)")]
    UnknownJob(String),
    #[error("min_support_count must be at least 1")]
    InvalidParameter,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs one job and returns its report.
pub async fn run(state: &AppState, event: &JobEvent) -> Result<Value, JobError> {
    match event.job.as_str() {
        "fbt-rules" => {
            let min_support = event.min_support_count.unwrap_or(fbt::DEFAULT_MIN_SUPPORT);
            if min_support == 0 {
                return Err(JobError::InvalidParameter);
            }
            let report = fbt::mine_and_store(state.store.as_ref(), min_support).await?;
            tracing::info!(
                orders = report.orders,
                products = report.products_with_rules,
                rules = report.rules,
                "fbt rules mined"
            );
            Ok(json!({"job": "fbt-rules", "report": report}))
        }
        other => Err(JobError::UnknownJob(other.to_string())),
    }
}

#[cfg(test)]
mod tests;
