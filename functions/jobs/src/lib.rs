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
//! - `video-trends`: recomputes every ready shoppable video's `trend_score` in [0, 1] from the
//!   last 72 hours of time-decayed activity and writes the trending list
//!   ([`shared::domain::videos::trends`]).
//!
//! The same function verifies uploaded videos: S3 "Object Created" events (EventBridge, from the
//! media bucket) go to [`handle`], which runs [`verify::verify_upload`] on the object.

use serde::Deserialize;
use serde_json::{Value, json};
use shared::{
    AppState,
    domain::{
        fbt,
        teachers::{self, RecomputeError},
        videos::{
            VideoError,
            trends::{self, TrendParams},
            verify,
        },
    },
    reco::clusters::ClusterParams,
    store::StoreError,
};

/// The names of the jobs this function runs.
pub const JOBS: [&str; 3] = ["fbt-rules", "user-clusters", "video-trends"];

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
    #[error("unknown job '{0}' (known: fbt-rules, user-clusters, video-trends)")]
    UnknownJob(String),
    #[error("min_support_count must be at least 1")]
    InvalidParameter,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Recompute(#[from] RecomputeError),
    #[error("video verification: {0}")]
    Verify(#[from] VideoError),
    #[error("not a job or S3 event: {0}")]
    BadEvent(String),
}

/// The S3 "Object Created" event as EventBridge delivers it (only the fields used).
#[derive(Debug, Deserialize)]
struct S3ObjectCreated {
    detail: S3Detail,
}

#[derive(Debug, Deserialize)]
struct S3Detail {
    object: S3Object,
}

#[derive(Debug, Deserialize)]
struct S3Object {
    key: String,
}

/// S3 event keys are URL-encoded as form values (`+` for a space, `%XX` for other bytes).
fn decode_s3_key(raw: &str) -> String {
    form_urlencoded::parse(format!("key={raw}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .next()
        .unwrap_or_default()
}

/// Entry point of the Lambda: an S3 object-created event (`"source": "aws.s3"`) verifies an
/// uploaded video; anything else is a [`JobEvent`].
pub async fn handle(state: &AppState, event: Value) -> Result<Value, JobError> {
    if event.get("source").and_then(Value::as_str) == Some("aws.s3") {
        let created: S3ObjectCreated =
            serde_json::from_value(event).map_err(|e| JobError::BadEvent(e.to_string()))?;
        let key = decode_s3_key(&created.detail.object.key);
        let outcome =
            verify::verify_upload(state.store.as_ref(), state.blobs.as_ref(), &key).await?;
        tracing::info!(?outcome, key = %key, "uploaded video verified");
        return Ok(json!({"verified": key, "outcome": format!("{outcome:?}")}));
    }
    let job: JobEvent =
        serde_json::from_value(event).map_err(|e| JobError::BadEvent(e.to_string()))?;
    run(state, &job).await
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
        "video-trends" => {
            let report = trends::recompute(
                state.store.as_ref(),
                chrono::Utc::now(),
                &TrendParams::default(),
            )
            .await?;
            tracing::info!(
                ready = report.ready_videos,
                active = report.videos_with_activity,
                updated = report.scores_updated,
                "video trend scores recomputed"
            );
            Ok(json!({"job": "video-trends", "report": report}))
        }
        other => Err(JobError::UnknownJob(other.to_string())),
    }
}

#[cfg(test)]
mod tests;
