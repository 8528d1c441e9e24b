//! A/B experiment routes under `/api/v1/admin/ml-models/experiments` (issue 13, part 6):
//! create, list, one with its results, stop (optionally promoting the winner's config). The
//! records, assignment, counters and statistics are in [`shared::domain::experiments`] and
//! [`shared::reco::abtest`]; these handlers check the caller and shape the answers.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::{
    ApiError, ApiResult,
    domain::experiments::{self, ArmResults, CreateError, Experiment, Results, StopOutcome},
    domain::ml_models::configs::Activation,
    error::{ErrorBody, ErrorCode, FieldError},
    http::{AuthUser, ValidJson, extract::decode_json},
    reco::abtest,
};
use utoipa::ToSchema;
use validator::Validate;

use crate::{
    MlModelsState,
    handlers::{PERMISSION, defaults as ensure_defaults},
};

// ---- bodies -------------------------------------------------------------------------------

/// One arm of a new experiment.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documentation only: the arms are checked from the JSON value.
pub struct ArmRequest {
    /// 1-40 letters, digits, `_` or `-`, unique in the experiment; `control` makes the arm the
    /// control (else the first arm is).
    pub name: String,
    /// An ML config id (`GET /api/v1/admin/ml-models/ml-config`): a hybrid blend or a model
    /// config (not an `interactions` config).
    pub config_id: String,
    /// Percent of the callers (above 0, at most two decimals); the arms' shares sum to 100.
    pub traffic_share: f64,
}

/// `POST /experiments` (fields checked by hand so every error names its field).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateExperimentRequest {
    /// 1-100 characters.
    #[schema(value_type = String)]
    pub name: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub description: Option<Value>,
    /// homepage, product_page, cart, checkout or personalized.
    #[schema(value_type = String)]
    pub recommendation_type: Option<Value>,
    /// Two to eight arms.
    #[schema(value_type = Vec<ArmRequest>)]
    pub arms: Option<Value>,
}

/// `POST /experiments/{id}/stop` (the body is optional).
#[derive(Debug, Deserialize, ToSchema)]
pub struct StopExperimentRequest {
    /// Activate the winning arm's config (the config activation of `ml-config/{id}/activate`).
    #[schema(value_type = Option<bool>)]
    pub promote_winner: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArmView {
    pub name: String,
    pub config_id: String,
    /// Percent of the callers.
    pub traffic_share: f64,
    pub is_control: bool,
}

/// An experiment as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub recommendation_type: String,
    /// running or stopped.
    pub status: String,
    pub control_arm: String,
    pub arms: Vec<ArmView>,
    pub started_at: String,
    pub stopped_at: Option<String>,
    /// The winning arm, recorded when the experiment stopped (null while it runs).
    pub winner: Option<String>,
    /// The config activated when it stopped with `promote_winner`.
    pub promoted_config_id: Option<String>,
    pub created_by: Option<String>,
}

impl From<&Experiment> for ExperimentView {
    fn from(e: &Experiment) -> Self {
        Self {
            id: e.id.clone(),
            name: e.name.clone(),
            description: e.description.clone(),
            recommendation_type: e.recommendation_type.clone(),
            status: e.status.name().into(),
            control_arm: e.control.clone(),
            arms: e
                .arms
                .iter()
                .map(|a| ArmView {
                    name: a.name.clone(),
                    config_id: a.config_id.clone(),
                    traffic_share: a.traffic_share,
                    is_control: a.name == e.control,
                })
                .collect(),
            started_at: e.started_at.clone(),
            stopped_at: e.stopped_at.clone(),
            winner: e.winner.clone(),
            promoted_config_id: e.promoted_config_id.clone(),
            created_by: e.created_by.clone(),
        }
    }
}

/// One arm's results.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArmResultView {
    pub arm: String,
    pub config_id: String,
    pub traffic_share: f64,
    pub is_control: bool,
    /// Distinct users (or guests) assigned to the arm.
    pub users: u64,
    /// Items shown in the arm's lists.
    pub impressions: u64,
    pub clicks: u64,
    /// Attributed purchase lines.
    pub conversions: u64,
    /// Attributed revenue.
    pub revenue: f64,
    /// Click-through rate, percent: clicks / impressions.
    pub click_rate: f64,
    /// Percent: conversions / impressions.
    pub conversion_rate: f64,
    /// Revenue / users.
    pub revenue_per_user: f64,
    /// Two-sided p-value of the pooled two-proportion z-test of this arm's click rate against
    /// the control's (null for the control, or without impressions or clicks on either side).
    pub click_rate_p_value: Option<f64>,
    /// The same test on the conversion rate.
    pub conversion_rate_p_value: Option<f64>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl From<&ArmResults> for ArmResultView {
    fn from(r: &ArmResults) -> Self {
        Self {
            arm: r.arm.clone(),
            config_id: r.config_id.clone(),
            traffic_share: r.traffic_share,
            is_control: r.is_control,
            users: r.users,
            impressions: r.impressions,
            clicks: r.clicks,
            conversions: r.conversions,
            revenue: round2(r.revenue_cents as f64 / 100.0),
            click_rate: round2(r.click_through_rate * 100.0),
            conversion_rate: round2(r.conversion_rate * 100.0),
            revenue_per_user: round2(r.revenue_per_user_cents / 100.0),
            click_rate_p_value: r.click_through_p_value,
            conversion_rate_p_value: r.conversion_p_value,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsView {
    /// In the experiment's arm order.
    pub arms: Vec<ArmResultView>,
    /// The arm the winner rule picks on the figures now: the arm with the highest conversion
    /// rate among those significantly above the control's, else the same on the click rate,
    /// else the control.
    pub leader: String,
    /// The significance level of the winner rule.
    pub significance_level: f64,
}

impl From<&Results> for ResultsView {
    fn from(r: &Results) -> Self {
        Self {
            arms: r.arms.iter().map(ArmResultView::from).collect(),
            leader: r.leader.clone(),
            significance_level: abtest::ALPHA,
        }
    }
}

/// An experiment with its results.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentDetail {
    #[serde(flatten)]
    pub experiment: ExperimentView,
    pub results: ResultsView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StopResponse {
    pub message: String,
    /// The stopped experiment, its winner and its results at the stop.
    pub experiment: ExperimentDetail,
    /// What promotion did: activated, already_active or config_not_found (null when not asked).
    pub promotion: Option<String>,
}

// ---- handlers -----------------------------------------------------------------------------

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::ExperimentNotFound,
        format!("No experiment with id '{id}'"),
    )
}

#[utoipa::path(
    post, path = "/api/v1/admin/ml-models/experiments", tag = "ml-models",
    request_body = CreateExperimentRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Started: callers of the type are assigned to the arms from now on", body = ExperimentView),
        (status = 400, description = "MALFORMED_REQUEST: not JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 409, description = "EXPERIMENT_RUNNING: an experiment runs on this recommendation type (its id in the detail)", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: name, recommendation_type, arms (2-8, shares summing to 100), arms[i].name / config_id (unknown config) / traffic_share", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: a concurrent create on the same type collided (DynamoDB transaction conflict); retry", body = ErrorBody),
    )
)]
pub async fn create_experiment(
    State(state): State<MlModelsState>,
    auth: AuthUser,
    ValidJson(body): ValidJson<CreateExperimentRequest>,
) -> ApiResult<(StatusCode, Json<ExperimentView>)> {
    auth.require(PERMISSION)?;
    let mut object = serde_json::Map::new();
    for (k, v) in [
        ("name", body.name),
        ("description", body.description),
        ("recommendation_type", body.recommendation_type),
        ("arms", body.arms),
    ] {
        if let Some(v) = v {
            object.insert(k.into(), v);
        }
    }
    let new = experiments::parse_new(&Value::Object(object)).map_err(ApiError::validation)?;
    ensure_defaults(&state).await?;
    match experiments::create(state.app.store.as_ref(), new, Some(auth.user_id.clone())).await {
        Ok(e) => {
            tracing::info!(experiment_id = %e.id, recommendation_type = %e.recommendation_type, "experiment started");
            Ok((StatusCode::CREATED, Json(ExperimentView::from(&e))))
        }
        Err(CreateError::Invalid(errors)) => Err(ApiError::validation(errors)),
        Err(CreateError::Running { experiment_id }) => Err(ApiError::conflict(
            ErrorCode::ExperimentRunning,
            format!(
                "Experiment {experiment_id} is running on this recommendation type; stop it first"
            ),
        )),
        Err(CreateError::Store(e)) => Err(e.into()),
    }
}

#[utoipa::path(
    get, path = "/api/v1/admin/ml-models/experiments", tag = "ml-models",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every experiment, newest first (results: GET one)", body = Vec<ExperimentView>),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
    )
)]
pub async fn list_experiments(
    State(state): State<MlModelsState>,
    auth: AuthUser,
) -> ApiResult<Json<Vec<ExperimentView>>> {
    auth.require(PERMISSION)?;
    let all = experiments::list(state.app.store.as_ref()).await?;
    Ok(Json(all.iter().map(ExperimentView::from).collect()))
}

#[utoipa::path(
    get, path = "/api/v1/admin/ml-models/experiments/{experiment_id}", tag = "ml-models",
    params(("experiment_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The experiment with its results per arm", body = ExperimentDetail),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "EXPERIMENT_NOT_FOUND", body = ErrorBody),
    )
)]
pub async fn get_experiment(
    State(state): State<MlModelsState>,
    auth: AuthUser,
    Path(experiment_id): Path<String>,
) -> ApiResult<Json<ExperimentDetail>> {
    auth.require(PERMISSION)?;
    let store = state.app.store.as_ref();
    let experiment = experiments::get(store, &experiment_id)
        .await?
        .ok_or_else(|| not_found(&experiment_id))?;
    let results = experiments::results(store, &experiment).await?;
    Ok(Json(ExperimentDetail {
        experiment: ExperimentView::from(&experiment),
        results: ResultsView::from(&results),
    }))
}

fn promote_requested(body: &Bytes) -> ApiResult<bool> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(false);
    }
    let request: StopExperimentRequest = decode_json(body)?;
    match request.promote_winner {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => Err(ApiError::validation(vec![FieldError::new(
            "promote_winner",
            "must be a boolean",
        )])),
    }
}

#[utoipa::path(
    post, path = "/api/v1/admin/ml-models/experiments/{experiment_id}/stop", tag = "ml-models",
    params(("experiment_id" = String, Path)),
    request_body(content = StopExperimentRequest, description = "Optional"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stopped: the winner recorded (and its config activated with promote_winner); callers are no longer assigned", body = StopResponse),
        (status = 400, description = "MALFORMED_REQUEST: not JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "EXPERIMENT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "EXPERIMENT_NOT_RUNNING: it has already stopped (when, and its winner, in the detail)", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: promote_winner is not a boolean", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: concurrent activations; the experiment is stopped, activate the winner's config by hand", body = ErrorBody),
    )
)]
pub async fn stop_experiment(
    State(state): State<MlModelsState>,
    auth: AuthUser,
    Path(experiment_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<StopResponse>> {
    auth.require(PERMISSION)?;
    let promote = promote_requested(&body)?;
    if promote {
        ensure_defaults(&state).await?;
    }
    match experiments::stop(state.app.store.as_ref(), &experiment_id, promote).await? {
        StopOutcome::NotFound => Err(not_found(&experiment_id)),
        StopOutcome::AlreadyStopped(e) => Err(ApiError::conflict(
            ErrorCode::ExperimentNotRunning,
            format!(
                "Experiment {} already stopped at {} (winner: {})",
                e.id,
                e.stopped_at.as_deref().unwrap_or("an unknown time"),
                e.winner.as_deref().unwrap_or("none")
            ),
        )),
        StopOutcome::Stopped {
            experiment,
            results,
            promotion,
        } => {
            let winner = experiment.winner.clone().unwrap_or_default();
            let (message, promotion) = match promotion {
                None => (
                    format!("Experiment stopped; the winner is '{winner}'"),
                    None,
                ),
                Some((config_id, outcome)) => {
                    let (word, text) = match outcome {
                        Activation::Activated => ("activated", "activated"),
                        Activation::AlreadyActive => ("already_active", "was already active"),
                        Activation::NotFound => ("config_not_found", "no longer exists"),
                    };
                    (
                        format!(
                            "Experiment stopped; the winner is '{winner}' and its config {config_id} {text}"
                        ),
                        Some(word.to_string()),
                    )
                }
            };
            tracing::info!(%experiment_id, %winner, ?promotion, "experiment stopped");
            Ok(Json(StopResponse {
                message,
                experiment: ExperimentDetail {
                    experiment: ExperimentView::from(&experiment),
                    results: ResultsView::from(&results),
                },
                promotion,
            }))
        }
    }
}
