//! Route handlers. Errors are the platform's `ErrorBody`; every success body has `success: true`.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
};
use serde_json::Value;
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    auth::Permission,
    domain::teachers::{self, RecomputeError, TeacherError},
    error::{ErrorBody, FieldError},
    http::{AuthUser, ValidJson},
    reco::clusters::{ClusterName, ClusterParams},
};

use crate::{
    classifier::Example,
    import::{self, Format},
    model_store::{self, LoadedModel, ModelCache, ModelError},
    models::*,
};

/// Largest `content` accepted by `/classify` (413 above).
pub const MAX_CONTENT_BYTES: usize = 65_536;

/// Permission of the admin routes (the admin role has `system.*`).
pub const ADMIN_PERMISSION: Permission = Permission::SystemAdmin;

fn model_error(e: ModelError) -> ApiError {
    match e {
        ModelError::Store(e) => e.into(),
        ModelError::Blob(e) => ApiError::internal(e),
        other => ApiError::internal(other),
    }
}

#[utoipa::path(
    get, path = "/", tag = "classroom",
    responses((status = 200, description = "API status and welcome message", body = HealthResponse))
)]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        success: true,
        message: "Welcome to the ÊtrePROF ML API: content classification, user clusters, recommendations and profiles".into(),
        status: "healthy".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// The `content` of a classify body, or the 422 / 413 it deserves.
fn content_of(body: &ClassifyRequest) -> ApiResult<&str> {
    match &body.content {
        None | Some(Value::Null) => Err(ApiError::invalid_field("content", "Field required")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(ApiError::invalid_field("content", "must not be empty"))
        }
        Some(Value::String(s)) if s.len() > MAX_CONTENT_BYTES => Err(ApiError {
            field_errors: vec![FieldError::new(
                "content",
                format!("at most {MAX_CONTENT_BYTES} bytes"),
            )],
            ..ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::ContentTooLarge,
                format!("content is larger than the limit of {MAX_CONTENT_BYTES} bytes"),
            )
        }),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::invalid_field("content", "must be a string")),
    }
}

#[utoipa::path(
    post, path = "/classify", tag = "classroom",
    request_body = ClassifyRequest,
    responses(
        (status = 200, description = "Theme and priority challenge with the model's confidence", body = ClassifyResponse),
        (status = 400, description = "MALFORMED_REQUEST: not JSON", body = ErrorBody),
        (status = 413, description = "CONTENT_TOO_LARGE: content over 65536 bytes", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: content missing, not a string or blank", body = ErrorBody),
    )
)]
pub async fn classify(
    State(state): State<AppState>,
    State(models): State<Arc<ModelCache>>,
    ValidJson(body): ValidJson<ClassifyRequest>,
) -> ApiResult<Json<ClassifyResponse>> {
    let content = content_of(&body)?;
    let model = models.current(&state).await.map_err(model_error)?;
    let p = model.predict(content);
    Ok(Json(ClassifyResponse {
        success: true,
        data: Classification {
            theme: p.theme,
            defi: p.defi,
            theme_confidence: round3(p.theme_confidence),
            defi_confidence: round3(p.defi_confidence),
            model_version: model.version.clone(),
        },
    }))
}

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

fn model_info(m: &LoadedModel) -> ModelInfo {
    ModelInfo {
        version: m.version.clone(),
        trained_on: m.model.trained_on,
        trained_at: m.model.trained_at.clone(),
        themes: m.model.theme.classes.clone(),
        defis: m.model.defi.classes.clone(),
    }
}

#[utoipa::path(
    post, path = "/classify/examples", tag = "classroom",
    request_body = AddExamplesRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Examples stored (and the model retrained on every stored example)", body = AddExamplesResponse),
        (status = 401, body = ErrorBody), (status = 403, description = "needs system.admin", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn add_examples(
    State(state): State<AppState>,
    State(models): State<Arc<ModelCache>>,
    auth: AuthUser,
    ValidJson(body): ValidJson<AddExamplesRequest>,
) -> ApiResult<(StatusCode, Json<AddExamplesResponse>)> {
    auth.require(ADMIN_PERMISSION)?;
    let examples: Vec<Example> = body
        .examples
        .iter()
        .map(|e| Example {
            content: e.content.clone(),
            theme: e.theme.trim().to_string(),
            defi: e.defi.trim().to_string(),
        })
        .collect();
    let store = state.store.as_ref();
    // Make sure the starter set is there first, so adding examples extends it.
    if model_store::stored_examples(store).await?.is_empty() {
        model_store::add_examples(store, &model_store::starter_examples(), "starter").await?;
    }
    model_store::add_examples(store, &examples, &format!("admin:{}", auth.user_id)).await?;
    let model = if body.retrain {
        models.retrain(&state).await.map_err(model_error)?
    } else {
        models.current(&state).await.map_err(model_error)?
    };
    Ok((
        StatusCode::CREATED,
        Json(AddExamplesResponse {
            success: true,
            added: examples.len(),
            model: model_info(&model),
        }),
    ))
}

#[utoipa::path(
    get, path = "/clusters", tag = "classroom",
    responses(
        (status = 200, description = "Name, user count and feature means of each cluster", body = ClustersResponse),
        (status = 404, description = "CLUSTERS_NOT_COMPUTED: no clustering yet (POST /clusters/recompute)", body = ErrorBody),
    )
)]
pub async fn clusters(State(state): State<AppState>) -> ApiResult<Json<ClustersResponse>> {
    let current = teachers::current_clustering(state.store.as_ref())
        .await?
        .ok_or_else(not_computed)?;
    Ok(Json(ClustersResponse {
        success: true,
        clusters: current
            .clusters
            .iter()
            .map(|c| {
                (
                    c.id.to_string(),
                    ClusterView {
                        name: c.name.clone(),
                        count: c.count,
                        profile: c.profile.clone(),
                    },
                )
            })
            .collect(),
        version: current.version,
        computed_at: current.computed_at,
        total_users: current.total_users,
    }))
}

fn not_computed() -> ApiError {
    ApiError::not_found("Clusters have not been computed yet; run POST /clusters/recompute")
        .with_code(ErrorCode::ClustersNotComputed)
}

#[utoipa::path(
    post, path = "/clusters/recompute", tag = "classroom",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A new clustering is in force", body = RecomputeResponse),
        (status = 401, body = ErrorBody), (status = 403, description = "needs system.admin", body = ErrorBody),
        (status = 409, description = "NOT_ENOUGH_USERS: fewer distinct users than clusters; RECOMPUTE_CONFLICT: another recompute switched first", body = ErrorBody),
    )
)]
pub async fn recompute(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<RecomputeResponse>> {
    auth.require(ADMIN_PERMISSION)?;
    let report = teachers::recompute(state.store.as_ref(), &ClusterParams::default())
        .await
        .map_err(recompute_error)?;
    Ok(Json(RecomputeResponse {
        success: true,
        message: "Clusters recomputed successfully".into(),
        total_users_processed: report.total_users_processed,
        cluster_distribution: report.cluster_distribution,
        version: report.version,
    }))
}

/// The HTTP error of a failed recompute (also used by the job's report).
pub fn recompute_error(e: RecomputeError) -> ApiError {
    match e {
        RecomputeError::TooFewUsers { .. } => ApiError::conflict(
            ErrorCode::NotEnoughUsers,
            format!("Cannot compute 4 clusters: {e}"),
        ),
        RecomputeError::Conflict => ApiError::conflict(ErrorCode::RecomputeConflict, e.to_string()),
        RecomputeError::Store(s) => s.into(),
        RecomputeError::Algorithm(_) => ApiError::internal(e),
    }
}

fn parse_cluster_id(raw: &str) -> ApiResult<ClusterName> {
    let id: i64 = raw
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid_field("cluster_id", "must be an integer (0, 1, 2 or 3)"))?;
    u8::try_from(id)
        .ok()
        .and_then(ClusterName::from_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("Cluster {id} does not exist (clusters are 0-3)"))
                .with_code(ErrorCode::ClusterNotFound)
        })
}

#[utoipa::path(
    get, path = "/recommend/{cluster_id}", tag = "classroom",
    params(("cluster_id" = u32, Path, description = "0, 1, 2 or 3 (another integer: 404)")),
    responses(
        (status = 200, description = "Content strategy of the cluster", body = RecommendResponse),
        (status = 404, description = "CLUSTER_NOT_FOUND: an integer outside 0-3", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: not an integer", body = ErrorBody),
    )
)]
pub async fn recommend(Path(cluster_id): Path<String>) -> ApiResult<Json<RecommendResponse>> {
    let name = parse_cluster_id(&cluster_id)?;
    Ok(Json(RecommendResponse {
        success: true,
        cluster_id: name.id(),
        recommendations: recommendations_for(name),
        status: RECOMMENDATION_STATUS.into(),
    }))
}

fn parse_user_id(raw: &str) -> ApiResult<u64> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid_field("user_id", "must be a positive integer"))
}

fn user_not_found(id: u64) -> ApiError {
    ApiError::not_found(format!("User {id} not found")).with_code(ErrorCode::UserNotFound)
}

#[utoipa::path(
    get, path = "/user/{user_id}/profile", tag = "classroom",
    params(("user_id" = u64, Path, minimum = 1, description = "positive integer")),
    responses(
        (status = 200, description = "Profile, activity, cluster and its recommendations", body = ProfileResponse),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: not a positive integer", body = ErrorBody),
    )
)]
pub async fn profile(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> ApiResult<Json<ProfileResponse>> {
    let user_id = parse_user_id(&user_id)?;
    let store = state.store.as_ref();
    let (teacher, clustering) = tokio::try_join!(
        teachers::get_teacher(store, user_id),
        teachers::current_clustering(store)
    )?;
    let teacher = teacher.ok_or_else(|| user_not_found(user_id))?;
    let cluster = match &clustering {
        Some(c) => match teachers::assigned_cluster(store, user_id, &c.version).await? {
            Some(id) => Some((id, "clustering")),
            None => c
                .nearest(&teacher.activity)
                .map(|id| (id, "nearest_centroid")),
        },
        None => None,
    };
    let cluster = cluster.and_then(|(id, by)| ClusterName::from_id(id).map(|n| (n, by)));
    Ok(Json(ProfileResponse {
        success: true,
        data: UserProfile {
            user_id,
            profile: ProfileFields {
                anciennete: teacher.anciennete,
                degre: teacher.degre,
                academie: teacher.academie.clone(),
                niveaux_enseignes: teacher.niveaux_enseignes.clone(),
            },
            activity: import::activity_map(&teacher.activity),
            cluster: cluster.map(|(n, by)| ClusterRef {
                id: n.id(),
                name: n.label().into(),
                assigned_by: by.into(),
            }),
            recommendations: cluster.map(|(n, _)| recommendations_for(n)),
        },
    }))
}

fn import_format(headers: &HeaderMap) -> ApiResult<Format> {
    let ct = shared::http::extract::media_type(headers).unwrap_or_default();
    match ct.as_str() {
        "text/csv" => Ok(Format::Csv),
        "application/x-ndjson"
        | "application/jsonl"
        | "application/json-lines"
        | "application/x-jsonlines" => Ok(Format::JsonLines),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Expected text/csv or application/x-ndjson (JSON lines)",
        )),
    }
}

#[utoipa::path(
    post, path = "/users/import", tag = "classroom",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "CSV with a header row, or JSON lines (application/x-ndjson): user_id, anciennete, degre, academie, niveaux_enseignes (CSV: a|b), nb_fiche_outils, total_interactions_x, nb_sessions, nb_videos_vues, nb_formations, nb_telechargements, nb_emails_ouverts, nb_emails_cliques"),
    responses(
        (status = 200, description = "Every row imported (existing users replaced)", body = ImportResponse),
        (status = 401, body = ErrorBody), (status = 403, description = "needs system.admin", body = ErrorBody),
        (status = 413, description = "PAYLOAD_TOO_LARGE: body over 1 MB", body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: field_errors name each bad row (rows[<n>].<column>); nothing imported", body = ErrorBody),
    )
)]
pub async fn import_users(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportResponse>> {
    auth.require(ADMIN_PERMISSION)?;
    let format = import_format(&headers)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid_field("body", "must be UTF-8 text"))?;
    let rows = import::parse(text, format).map_err(|errors| {
        let n = errors.len();
        ApiError {
            detail: format!(
                "Import rejected: {n} problem(s) listed in field_errors; nothing was imported"
            )
            .into(),
            ..ApiError::validation(errors)
        }
    })?;
    teachers::put_teachers(state.store.as_ref(), &rows).await?;
    Ok(Json(ImportResponse {
        success: true,
        message: format!("{} users imported", rows.len()),
        imported: rows.len(),
    }))
}

#[utoipa::path(
    post, path = "/user/{user_id}/activity", tag = "classroom",
    security(("bearer" = [])),
    params(("user_id" = u64, Path, minimum = 1, description = "positive integer")),
    request_body = ActivityRequest,
    responses(
        (status = 200, description = "The counts after the (atomic) increments", body = ActivityResponse),
        (status = 401, body = ErrorBody), (status = 403, description = "needs system.admin", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "unknown counter, amount outside 1-10000, no counts", body = ErrorBody),
    )
)]
pub async fn record_activity(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ValidJson(body): ValidJson<ActivityRequest>,
) -> ApiResult<Json<ActivityResponse>> {
    auth.require(ADMIN_PERMISSION)?;
    let user_id = parse_user_id(&user_id)?;
    let mut errors = Vec::new();
    if body.counts.is_empty() {
        errors.push(FieldError::new("counts", "at least one counter"));
    }
    for (name, n) in &body.counts {
        if !teachers::FEATURES.contains(&name.as_str()) {
            errors.push(FieldError::new(
                format!("counts.{name}"),
                format!("unknown counter (known: {})", teachers::FEATURES.join(", ")),
            ));
        } else if !(1..=10_000).contains(n) {
            errors.push(FieldError::new(format!("counts.{name}"), "must be 1-10000"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let increments: Vec<(String, u64)> = body
        .counts
        .iter()
        .map(|(k, v)| (k.clone(), u64::try_from(*v).unwrap_or(0)))
        .collect();
    let activity = teachers::record_activity(state.store.as_ref(), user_id, &increments)
        .await
        .map_err(|e| match e {
            TeacherError::NotFound => user_not_found(user_id),
            TeacherError::UnknownCounter(c) => {
                ApiError::invalid_field(format!("counts.{c}"), "unknown counter")
            }
            TeacherError::Store(s) => s.into(),
        })?;
    Ok(Json(ActivityResponse {
        success: true,
        data: ActivityData {
            user_id,
            activity: import::activity_map(&activity),
        },
    }))
}
