//! `functions/jobs`: scheduled batch jobs, run by EventBridge schedules in the cloud (the
//! schedule's input is the event: `{"job": "<name>", ...}`) and by `local job <name>` locally.
//!
//! Jobs:
//! - `fbt-rules`: mines "frequently bought together" association rules from every order and
//!   stores each product's rule list (`min_support_count`, default 3).
//! - `user-clusters`: recomputes the four behavioural clusters of the education platform's
//!   teachers (spec 003; `seed`, default 42): the same pipeline as `POST /clusters/recompute`
//!   ([`shared::domain::teachers::recompute`]). A new version is written, then switched to; a run
//!   that fails leaves the previous clustering in force. Fewer distinct users than clusters is
//!   an error ([`JobError::Recompute`]).

use serde::Deserialize;
use serde_json::{Value, json};
use shared::{
    AppState,
    domain::{
        fbt,
        teachers::{self, RecomputeError},
    },
    reco::clusters::ClusterParams,
    store::StoreError,
};

/// The names of the jobs this function runs.
pub const JOBS: [&str; 2] = ["fbt-rules", "user-clusters"];

/// The event a schedule sends.
#[derive(Debug, Clone, Deserialize)]
pub struct JobEvent {
    pub job: String,
    /// `fbt-rules`: minimum number of orders a pair must share.
    #[serde(default)]
    pub min_support_count: Option<u64>,
    /// `user-clusters`: k-means seed (default 42).
    #[serde(default)]
    pub seed: Option<u64>,
}

impl JobEvent {
    /// An event for `job` with default parameters.
    pub fn named(job: impl Into<String>) -> Self {
        Self {
            job: job.into(),
            min_support_count: None,
            seed: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("unknown job '{0}' (known: fbt-rules, user-clusters)")]
    UnknownJob(String),
    #[error("min_support_count must be at least 1")]
    InvalidParameter,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Recompute(#[from] RecomputeError),
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
        "user-clusters" => {
            let params = ClusterParams {
                seed: event.seed.unwrap_or(ClusterParams::default().seed),
                ..ClusterParams::default()
            };
            let report = teachers::recompute(state.store.as_ref(), &params).await?;
            tracing::info!(
                version = %report.version,
                users = report.total_users_processed,
                distribution = ?report.cluster_distribution,
                removed_versions = report.removed_versions,
                "user clusters recomputed"
            );
            Ok(json!({"job": "user-clusters", "report": report}))
        }
        other => Err(JobError::UnknownJob(other.to_string())),
    }
}

#[cfg(test)]
mod tests;
