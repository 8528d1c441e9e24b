//! Route handlers. Errors are the platform's `ErrorBody`.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use chrono::Utc;
use serde_json::{Map, Value};
use shared::{
    ApiError, ApiResult,
    auth::Permission,
    domain::{
        ml_models::{
            ModelType,
            configs::{self, Activation, ConfigPatch},
            launcher::TrainJob,
            params,
            runs::{self, RunStatus},
            training,
        },
        rec_tracking,
    },
    error::{ErrorBody, ErrorCode, FieldError},
    http::{
        AuthUser, ValidJson,
        fields::{opt_string, required_string},
    },
    reco::{algorithm::Family, model::ModelKind},
};

use crate::{MlModelsState, models::*};

/// Permission of every route (the admin role has `system.*`).
pub const PERMISSION: Permission = Permission::SystemMlModels;

/// Most training runs a performance answer reads.
const HISTORY_LIMIT: usize = 100;
/// Rough seconds per model of `estimated_completion`.
const ESTIMATE_SECS_PER_MODEL: i64 = 30;

/// Makes sure the default configs exist (once per instance).
pub(crate) async fn defaults(state: &MlModelsState) -> ApiResult<()> {
    state
        .defaults
        .get_or_try_init(|| configs::ensure_defaults(state.app.store.as_ref()))
        .await?;
    Ok(())
}

fn config_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::ConfigNotFound,
        format!("No ML config with id '{id}'"),
    )
}

fn model_type_of(value: &Value, errors: &mut Vec<FieldError>) -> Option<ModelType> {
    let parsed = value.as_str().and_then(ModelType::parse);
    if parsed.is_none() {
        errors.push(FieldError::new(
            "model_type",
            format!("unknown model_type; valid: {}", ModelType::valid_names()),
        ));
    }
    parsed
}

#[utoipa::path(
    get, path = "/api/v1/admin/ml-models/ml-config", tag = "ml-models",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every config (a default active one per model type exists from the start)", body = Vec<ConfigView>),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
    )
)]
pub async fn list_configs(
    State(state): State<MlModelsState>,
    auth: AuthUser,
) -> ApiResult<Json<Vec<ConfigView>>> {
    auth.require(PERMISSION)?;
    defaults(&state).await?;
    let all = configs::list(state.app.store.as_ref()).await?;
    Ok(Json(all.into_iter().map(ConfigView::from).collect()))
}

#[utoipa::path(
    post, path = "/api/v1/admin/ml-models/ml-config", tag = "ml-models",
    request_body = CreateConfigRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created (inactive until activated)", body = ConfigView),
        (status = 400, description = "MALFORMED_REQUEST: not JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: name, model_type (the valid ones listed) or parameters.<name> (type, range, unknown name)", body = ErrorBody),
    )
)]
pub async fn create_config(
    State(state): State<MlModelsState>,
    auth: AuthUser,
    ValidJson(body): ValidJson<CreateConfigRequest>,
) -> ApiResult<(StatusCode, Json<ConfigView>)> {
    auth.require(PERMISSION)?;
    let mut errors = Vec::new();
    let name = required_string("name", &body.name, 100, &mut errors);
    let description = opt_string("description", &body.description, 1000, &mut errors);
    let model_type = match &body.model_type {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("model_type", "Field required"));
            None
        }
        Some(v) => model_type_of(v, &mut errors),
    };
    let mut parameters = Map::new();
    if let Some(t) = model_type {
        match body.parameters.as_ref().filter(|p| !p.is_null()) {
            None => {}
            Some(p) => match params::validate(t, p) {
                Ok(p) => parameters = p,
                Err(e) => errors.extend(e),
            },
        }
    }
    let (Some(name), Some(t), true) = (name, model_type, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    defaults(&state).await?;
    let config =
        configs::create(state.app.store.as_ref(), &name, t, description, parameters).await?;
    Ok((StatusCode::CREATED, Json(config.into())))
}

#[utoipa::path(
    put, path = "/api/v1/admin/ml-models/ml-config/{config_id}", tag = "ml-models",
    params(("config_id" = String, Path)),
    request_body = UpdateConfigRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = ConfigView),
        (status = 400, description = "MALFORMED_REQUEST: not JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "CONFIG_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: parameters.<name>, name, description, or a different model_type", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: concurrent updates; retry", body = ErrorBody),
    )
)]
pub async fn update_config(
    State(state): State<MlModelsState>,
    auth: AuthUser,
    Path(config_id): Path<String>,
    ValidJson(body): ValidJson<UpdateConfigRequest>,
) -> ApiResult<Json<ConfigView>> {
    auth.require(PERMISSION)?;
    defaults(&state).await?;
    let store = state.app.store.as_ref();
    for _ in 0..3 {
        let current = configs::get(store, &config_id)
            .await?
            .ok_or_else(|| config_not_found(&config_id))?;
        let t =
            ModelType::parse(&current.model_type).ok_or_else(|| config_not_found(&config_id))?;
        let mut errors = Vec::new();
        let name = opt_string("name", &body.name, 100, &mut errors);
        if name.as_deref() == Some("") {
            errors.push(FieldError::new("name", "must not be empty"));
        }
        let description = opt_string("description", &body.description, 1000, &mut errors);
        if let Some(v) = body.model_type.as_ref().filter(|v| !v.is_null())
            && model_type_of(v, &mut errors).is_some_and(|given| given != t)
        {
            errors.push(FieldError::new(
                "model_type",
                format!("a config does not change type (this one is {})", t.name()),
            ));
        }
        let mut parameters = None;
        match body.parameters.as_ref().filter(|p| !p.is_null()) {
            None => {}
            Some(Value::Object(patch)) => {
                let mut merged = current.parameters.clone();
                for (k, v) in patch {
                    if v.is_null() {
                        merged.remove(k);
                    } else {
                        merged.insert(k.clone(), v.clone());
                    }
                }
                match params::validate(t, &Value::Object(merged)) {
                    Ok(p) => parameters = Some(p),
                    Err(e) => errors.extend(e),
                }
            }
            Some(_) => errors.push(FieldError::new("parameters", "must be an object")),
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let patch = ConfigPatch {
            name,
            description,
            parameters,
        };
        if let Some(updated) =
            configs::update(store, &config_id, &current.updated_at, patch).await?
        {
            return Ok(Json(updated.into()));
        }
    }
    Err(ApiError::unavailable(anyhow::anyhow!(
        "ML config {config_id} changed concurrently three times"
    )))
}

#[utoipa::path(
    post, path = "/api/v1/admin/ml-models/ml-config/{config_id}/activate", tag = "ml-models",
    params(("config_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Activated (the type's previous active config deactivated in the same transaction), or already active (nothing changed)", body = MessageResponse),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "CONFIG_NOT_FOUND", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: concurrent activations; retry", body = ErrorBody),
    )
)]
pub async fn activate_config(
    State(state): State<MlModelsState>,
    auth: AuthUser,
    Path(config_id): Path<String>,
) -> ApiResult<Json<MessageResponse>> {
    auth.require(PERMISSION)?;
    defaults(&state).await?;
    let message = match configs::activate(state.app.store.as_ref(), &config_id).await? {
        Activation::Activated => "Configuration activated successfully",
        Activation::AlreadyActive => "Configuration is already active",
        Activation::NotFound => return Err(config_not_found(&config_id)),
    };
    Ok(Json(MessageResponse {
        message: message.into(),
    }))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Days `recommendation_performance` covers.
const SERVING_PERIOD_DAYS: u32 = 30;

/// The performance-route families a config's model type serves under (documented on
/// [`RecommendationPerformance::family`]), and the name reported.
fn serving_families(model_type: &str) -> (&'static str, Vec<Family>) {
    let one = |f: Family| (f.name(), vec![f]);
    match ModelType::parse(model_type) {
        Some(ModelType::Collaborative | ModelType::ItemKnn | ModelType::Ease) => {
            one(Family::Collaborative)
        }
        Some(ModelType::Content) => one(Family::ContentBased),
        Some(ModelType::Popularity | ModelType::Trending | ModelType::NewArrivals) => {
            one(Family::Trending)
        }
        Some(ModelType::Fbt) => one(Family::Fbt),
        Some(ModelType::Hybrid | ModelType::Ranker) => one(Family::Hybrid),
        Some(ModelType::Interactions | ModelType::Kmeans) | None => {
            ("all", rec_tracking::OWN_FAMILIES.to_vec())
        }
    }
}

/// The serving figures of a model type over the last [`SERVING_PERIOD_DAYS`] days.
async fn serving_performance(
    store: &dyn shared::store::ItemStore,
    model_type: &str,
) -> Result<RecommendationPerformance, shared::store::StoreError> {
    let (family, families) = serving_families(model_type);
    let today = Utc::now().date_naive();
    let totals =
        rec_tracking::rollups::totals(store, &families, today, SERVING_PERIOD_DAYS).await?;
    Ok(RecommendationPerformance {
        total_recommendations: u64::try_from(totals.impressions).unwrap_or(0),
        click_rate: totals.click_rate(),
        conversion_rate: totals.conversion_rate(),
        average_score: totals.average_score(),
        family: family.into(),
        period_days: SERVING_PERIOD_DAYS,
        tracked: true,
    })
}

#[utoipa::path(
    get, path = "/api/v1/admin/ml-models/ml-config/{config_id}/performance", tag = "ml-models",
    params(("config_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Metrics from the config's training runs", body = PerformanceResponse),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "CONFIG_NOT_FOUND", body = ErrorBody),
    )
)]
pub async fn performance(
    State(state): State<MlModelsState>,
    auth: AuthUser,
    Path(config_id): Path<String>,
) -> ApiResult<Json<PerformanceResponse>> {
    auth.require(PERMISSION)?;
    defaults(&state).await?;
    let store = state.app.store.as_ref();
    let config = configs::get(store, &config_id)
        .await?
        .ok_or_else(|| config_not_found(&config_id))?;
    let history = runs::of_config(store, &config_id, HISTORY_LIMIT).await?;
    let completed: Vec<_> = history
        .iter()
        .filter(|r| r.status == RunStatus::Completed)
        .collect();
    let accuracies: Vec<f64> = completed.iter().filter_map(|r| r.accuracy()).collect();
    let average_accuracy = (!accuracies.is_empty())
        .then(|| round4(accuracies.iter().sum::<f64>() / accuracies.len() as f64));
    let latest = completed.first();
    let recommendation_performance = serving_performance(store, &config.model_type).await?;
    Ok(Json(PerformanceResponse {
        config_id: config.id.clone(),
        model_type: config.model_type.clone(),
        accuracy_score: latest.and_then(|r| r.accuracy()).map(round4),
        average_accuracy,
        training_count: history.len(),
        last_trained: latest.map(|r| r.completed_at.clone()),
        recommendation_performance,
        training_history: history
            .iter()
            .map(|r| HistoryEntry {
                training_id: r.training_id.clone(),
                model: r.model.clone(),
                started_at: r.started_at.clone(),
                completed_at: r.completed_at.clone(),
                accuracy_score: r.accuracy().map(round4),
                status: serde_json::to_value(r.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                reason: r.reason.clone(),
                duration_ms: r.duration_ms,
                metrics: r.metrics.and_then(|m| serde_json::to_value(m).ok()),
                data: serde_json::to_value(r.data).unwrap_or_default(),
                phases: serde_json::to_value(r.phases).unwrap_or_default(),
            })
            .collect(),
    }))
}

fn valid_model_names() -> String {
    let mut names: Vec<&str> = training::all_trainable().iter().map(|k| k.name()).collect();
    names.push("lightgbm");
    names.join(", ")
}

/// The models a train request names (in order, without repeats) with the names to answer.
fn requested_models(body: &TrainRequest) -> ApiResult<(Vec<ModelKind>, Vec<String>)> {
    let mut errors = Vec::new();
    let retrain_all = match &body.retrain_all {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new("retrain_all", "must be a boolean"));
            false
        }
    };
    let mut kinds = Vec::new();
    let mut names = Vec::new();
    match &body.specific_models {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, v) in list.iter().enumerate() {
                let field = format!("specific_models[{i}]");
                let Some(name) = v.as_str() else {
                    errors.push(FieldError::new(field, "must be a string"));
                    continue;
                };
                match name.parse::<ModelKind>() {
                    Ok(kind) => {
                        if !kinds.contains(&kind) {
                            kinds.push(kind);
                            names.push(name.to_string());
                        }
                    }
                    Err(_) => errors.push(FieldError::new(
                        field,
                        format!("unknown model '{name}'; valid: {}", valid_model_names()),
                    )),
                }
            }
        }
        Some(_) => errors.push(FieldError::new(
            "specific_models",
            "must be a list of model names",
        )),
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if kinds.is_empty() {
        if !retrain_all {
            return Err(ApiError::invalid_field(
                "specific_models",
                format!(
                    "name at least one model ({}) or send retrain_all: true",
                    valid_model_names()
                ),
            ));
        }
        kinds = training::all_trainable();
        names = kinds.iter().map(|k| k.name().to_string()).collect();
    }
    Ok((kinds, names))
}

#[utoipa::path(
    post, path = "/api/v1/admin/ml-models/ml-config/train", tag = "ml-models",
    request_body = TrainRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Started in the background (the reco-train job); runs and metrics appear in performance", body = TrainResponse),
        (status = 400, description = "MALFORMED_REQUEST: not JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 409, description = "TRAINING_IN_PROGRESS: a training is running", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: an unknown model (the valid ones listed), or no model named", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: the job could not be started", body = ErrorBody),
    )
)]
pub async fn train(
    State(state): State<MlModelsState>,
    auth: AuthUser,
    ValidJson(body): ValidJson<TrainRequest>,
) -> ApiResult<(StatusCode, Json<TrainResponse>)> {
    auth.require(PERMISSION)?;
    let (kinds, names) = requested_models(&body)?;
    defaults(&state).await?;
    let store = state.app.store.as_ref();
    let now = Utc::now();
    let training_id = training::new_training_id(now);
    if let Err(busy) = training::acquire_lock(store, &training_id, &kinds).await? {
        return Err(ApiError::conflict(
            ErrorCode::TrainingInProgress,
            format!(
                "Training {} is in progress; retry when it has finished",
                busy.training_id
            ),
        ));
    }
    let job = TrainJob {
        training_id: training_id.clone(),
        models: kinds.clone(),
    };
    if let Err(e) = state.launcher.launch(job).await {
        training::release_lock(store, &training_id).await?;
        return Err(ApiError::unavailable(e));
    }
    tracing::info!(%training_id, models = ?names, launcher = state.launcher.name(), "training started");
    let estimate = now + chrono::Duration::seconds(ESTIMATE_SECS_PER_MODEL * kinds.len() as i64);
    Ok((
        StatusCode::ACCEPTED,
        Json(TrainResponse {
            training_id,
            status: "started".into(),
            models_training: names,
            estimated_completion: estimate.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
    ))
}
