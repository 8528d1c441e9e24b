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
//! - `reco-train`: trains the recommendation models (`models`, default all but kmeans; `kmeans`
//!   when named regenerates the RFM user segments) with
//!   their active configs, evaluates each on a time-based holdout, writes versioned artifacts
//!   and run records, and switches each model in force only when all of it is written
//!   ([`shared::domain::ml_models::training`]). Nightly, and started by `POST
//!   /api/v1/admin/ml-models/ml-config/train` (asynchronous invocation with the `training_id`
//!   whose lock the route took). A run while another holds the lock does nothing and says so.
//!   After a run, the explanations of the most-served items are pre-generated
//!   ([`shared::domain::explanations::fill::pregenerate`], bounded; a failure there is in the
//!   report's `explanations` and never fails the training).
//! - `explain-fill`: writes the explanation cache for `requests` (what a recommendations
//!   response missed; the recommendations function queues them by an asynchronous invocation),
//!   calling the text model in batches ([`shared::domain::explanations::fill::fill`]); without
//!   `requests`, pre-generates the most-served items like the end of `reco-train`. Never fails
//!   on a model error: the report counts what was generated, fell back or failed.
//! - `segments-refresh`: recomputes every active `auto_update` user segment (spec 002) from one
//!   read of the per-user features, each switched to its new membership only when complete
//!   ([`shared::domain::segments::membership::refresh_all`]); a segment that fails keeps its old
//!   membership and is listed in the report's `failed` (the job then fails, so the schedule
//!   retries).
//! - `analytics-rebuild`: recomputes every analytics rollup from the raw records (orders,
//!   accounts, login days, search logs and clicks, the interaction log's views and cart adds),
//!   idempotently ([`shared::domain::analytics::rebuild`]). Not scheduled: run it after an
//!   import or a change of definitions (`local job analytics-rebuild`).
//!
//! The same function verifies uploaded videos: S3 "Object Created" events (EventBridge, from the
//! media bucket) go to [`handle`], which runs [`verify::verify_upload`] on the object.

use std::{fmt, str::FromStr};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::{
    AppState,
    domain::explanations::{
        ExplainRequest,
        fill::{self as explain_fill, FillLimits, PregenerateLimits},
    },
    domain::ml_models::training,
    domain::{
        fbt,
        teachers::{self, RecomputeError},
        videos::{
            VideoError,
            trends::{self, TrendParams},
            verify,
        },
    },
    reco::{clusters::ClusterParams, model::ModelKind},
    store::StoreError,
};

/// The jobs this function runs; the serde (and command-line) names are the kebab-case ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Job {
    FbtRules,
    UserClusters,
    VideoTrends,
    RecoTrain,
    ExplainFill,
    SegmentsRefresh,
    AnalyticsRebuild,
}

impl Job {
    /// Every job, in the order of the module docs.
    pub const ALL: [Job; 7] = [
        Job::FbtRules,
        Job::UserClusters,
        Job::VideoTrends,
        Job::RecoTrain,
        Job::ExplainFill,
        Job::SegmentsRefresh,
        Job::AnalyticsRebuild,
    ];

    /// The job's name in events, reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Job::FbtRules => "fbt-rules",
            Job::UserClusters => "user-clusters",
            Job::VideoTrends => "video-trends",
            Job::RecoTrain => "reco-train",
            Job::ExplainFill => "explain-fill",
            Job::SegmentsRefresh => "segments-refresh",
            Job::AnalyticsRebuild => "analytics-rebuild",
        }
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Job {
    type Err = JobError;

    fn from_str(s: &str) -> Result<Self, JobError> {
        Job::ALL
            .into_iter()
            .find(|j| j.name() == s)
            .ok_or_else(|| JobError::UnknownJob(s.to_string()))
    }
}

/// The event a schedule sends.
#[derive(Debug, Clone, Deserialize)]
pub struct JobEvent {
    pub job: Job,
    /// `fbt-rules`: minimum number of orders a pair must share.
    #[serde(default)]
    pub min_support_count: Option<u64>,
    /// `user-clusters`: k-means seed (default 42).
    #[serde(default)]
    pub seed: Option<u64>,
    /// `reco-train`: the training id whose lock the train route holds (absent on the schedule:
    /// the job takes the lock itself).
    #[serde(default)]
    pub training_id: Option<String>,
    /// `reco-train`: model names (default: every model but kmeans).
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// `explain-fill`: the explanations to generate (absent: pre-generate the most-served
    /// items).
    #[serde(default)]
    pub requests: Option<Vec<ExplainRequest>>,
}

impl JobEvent {
    /// An event for `job` with default parameters.
    pub fn named(job: Job) -> Self {
        Self {
            job,
            min_support_count: None,
            seed: None,
            training_id: None,
            models: None,
            requests: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(
        "unknown job '{0}' (known: fbt-rules, user-clusters, video-trends, reco-train, explain-fill, segments-refresh, analytics-rebuild)"
    )]
    UnknownJob(String),
    #[error("min_support_count must be at least 1")]
    InvalidParameter,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Recompute(#[from] RecomputeError),
    #[error("video verification: {0}")]
    Verify(#[from] VideoError),
    #[error("reco-train: {0}")]
    Models(String),
    #[error("segments-refresh: segments {0:?} kept their old membership")]
    SegmentsFailed(Vec<String>),
    #[error("not a job or S3 event: {0}")]
    BadEvent(String),
}

/// The `detail` of S3's "Object Created" event on EventBridge (the envelope is
/// [`EventBridgeEvent`]); `aws_lambda_events` types S3's own notifications (`Records`), not
/// this shape. See
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html>.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ObjectCreated {
    #[serde(default)]
    pub version: Option<String>,
    pub bucket: S3Bucket,
    pub object: S3Object,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub requester: Option<String>,
    #[serde(default)]
    pub source_ip_address: Option<String>,
    /// `PutObject`, `CopyObject`, `CompleteMultipartUpload`, ...
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct S3Bucket {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct S3Object {
    /// URL-encoded as a form value (see [`decode_s3_key`]).
    pub key: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub sequencer: Option<String>,
}

/// The S3 event source on EventBridge.
const S3_SOURCE: &str = "aws.s3";
const OBJECT_CREATED: &str = "Object Created";

/// S3 event keys are URL-encoded as form values (`+` for a space, `%XX` for other bytes).
fn decode_s3_key(raw: &str) -> String {
    form_urlencoded::parse(format!("key={raw}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .next()
        .unwrap_or_default()
}

/// Entry point of the Lambda: an S3 "Object Created" event (`"source": "aws.s3"`) verifies an
/// uploaded video; anything else is a [`JobEvent`].
pub async fn handle(state: &AppState, event: Value) -> Result<Value, JobError> {
    if event.get("source").and_then(Value::as_str) == Some(S3_SOURCE) {
        let created: EventBridgeEvent<ObjectCreated> =
            serde_json::from_value(event).map_err(|e| JobError::BadEvent(e.to_string()))?;
        if created.detail_type != OBJECT_CREATED {
            return Err(JobError::BadEvent(format!(
                "S3 event of type {:?}: only {OBJECT_CREATED:?} is handled",
                created.detail_type
            )));
        }
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
    match event.job {
        Job::FbtRules => {
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
            Ok(json!({"job": event.job, "report": report}))
        }
        Job::UserClusters => {
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
            Ok(json!({"job": event.job, "report": report}))
        }
        Job::SegmentsRefresh => {
            let started = std::time::Instant::now();
            let report =
                shared::domain::segments::membership::refresh_all(state.store.as_ref()).await?;
            tracing::info!(
                segments = report.segments,
                users = report.users_with_features,
                members = report.members,
                failed = report.failed.len(),
                ms = started.elapsed().as_millis() as u64,
                "segments refreshed"
            );
            if !report.failed.is_empty() {
                return Err(JobError::SegmentsFailed(report.failed));
            }
            Ok(json!({"job": event.job, "report": report}))
        }
        Job::VideoTrends => {
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
            Ok(json!({"job": event.job, "report": report}))
        }
        Job::RecoTrain => {
            let models = match &event.models {
                None => training::all_trainable(),
                Some(names) => names
                    .iter()
                    .map(|n| match n.parse::<ModelKind>() {
                        Ok(k) => Ok(k),
                        Err(e) => Err(JobError::Models(e.to_string())),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let outcome = training::run_locked(
                state.store.clone(),
                state.blobs.clone(),
                event.training_id.as_deref(),
                &models,
                training::registry_fit(),
            )
            .await?;
            match outcome {
                Ok(report) => {
                    tracing::info!(report = %training::summary(&report), "recommendation models trained");
                    let explanations = if state.config.explanations_from_model {
                        json!(pregenerate(state).await)
                    } else {
                        json!("off (EXPLANATIONS=template)")
                    };
                    Ok(json!({"job": event.job, "report": report, "explanations": explanations}))
                }
                Err(busy) => {
                    tracing::warn!(%busy, "reco-train not run");
                    Ok(json!({"job": event.job, "skipped": busy.to_string()}))
                }
            }
        }
        Job::ExplainFill => {
            let report = match &event.requests {
                Some(requests) => json!(
                    explain_fill::fill(
                        state.store.as_ref(),
                        state.text.as_ref(),
                        requests,
                        FillLimits::default(),
                    )
                    .await
                ),
                None => json!(pregenerate(state).await),
            };
            tracing::info!(%report, "explanations filled");
            Ok(json!({"job": event.job, "report": report}))
        }
        Job::AnalyticsRebuild => {
            let started = std::time::Instant::now();
            let today = chrono::Utc::now().date_naive();
            let report =
                shared::domain::analytics::rebuild::rebuild(state.store.as_ref(), today).await?;
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(?report, seconds, "analytics rebuilt");
            Ok(json!({"job": event.job, "report": report, "seconds": seconds}))
        }
    }
}

/// The explanations of the most-served items (end of `reco-train`, or `explain-fill` without
/// requests).
async fn pregenerate(state: &AppState) -> explain_fill::PregenerateReport {
    explain_fill::pregenerate(
        state.store.as_ref(),
        state.blobs.as_ref(),
        state.text.as_ref(),
        PregenerateLimits::default(),
    )
    .await
}

#[cfg(test)]
mod tests;
