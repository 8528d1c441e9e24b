//! Handlers of the eight segment routes. Input is checked by hand so every error names its
//! field; the work is in `shared::domain::segments`.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde_json::{Map, Value};
use shared::{
    ApiError, ApiResult, AppState,
    auth::Permission,
    domain::{
        segments::{
            criteria::{Criteria, SegmentType},
            membership::{self, RecomputeError},
            performance,
            records::{self, RecordError, Segment},
            rfm::{self, RfmError, RfmRequest},
        },
        users,
    },
    error::{ErrorBody, ErrorCode, FieldError},
    http::{
        AuthUser, ValidJson, ValidQuery,
        fields::{opt_bool, opt_string, required_string},
    },
    store::{Key, keys},
};

use crate::models::*;

/// Reads.
pub const VIEW: Permission = Permission::ViewUserSegmentation;
/// Writes.
pub const MANAGE: Permission = Permission::ManageUserSegmentation;

fn segment_not_found() -> ApiError {
    ApiError::not_found("Segment not found").with_code(ErrorCode::SegmentNotFound)
}

fn user_not_found() -> ApiError {
    ApiError::not_found("User not found").with_code(ErrorCode::UserNotFound)
}

fn name_taken() -> ApiError {
    ApiError::conflict(
        ErrorCode::SegmentNameTaken,
        "A segment with this name already exists",
    )
}

fn record_error(e: RecordError) -> ApiError {
    match e {
        RecordError::NameTaken => name_taken(),
        RecordError::NotFound => segment_not_found(),
        RecordError::Conflict => {
            ApiError::unavailable(anyhow::anyhow!("the segment changed concurrently; retry"))
        }
        RecordError::Store(e) => e.into(),
    }
}

fn recompute_error(e: RecomputeError) -> ApiError {
    match e {
        RecomputeError::Store(e) => e.into(),
        e @ RecomputeError::Concurrent(_) => ApiError::unavailable(anyhow::anyhow!("{e}; retry")),
        e @ RecomputeError::BadCriteria(_) => ApiError::internal(anyhow::anyhow!("{e}")),
    }
}

fn segment_type_of(value: &Value, errors: &mut Vec<FieldError>) -> Option<SegmentType> {
    let parsed = value.as_str().and_then(SegmentType::parse);
    if parsed.is_none() {
        errors.push(FieldError::new(
            "segment_type",
            format!(
                "unknown segment_type; valid: {}",
                SegmentType::valid_names()
            ),
        ));
    }
    parsed
}

fn view(s: Segment, member_count: u64) -> SegmentView {
    SegmentView {
        id: s.id,
        name: s.name,
        description: s.description,
        segment_type: s.segment_type,
        criteria: s.criteria,
        member_count,
        is_active: s.is_active,
        auto_update: s.auto_update,
        last_updated: s.last_updated,
        created_at: s.created_at,
    }
}

async fn load(state: &AppState, id: &str) -> ApiResult<Segment> {
    records::get(state.store.as_ref(), id)
        .await?
        .ok_or_else(segment_not_found)
}

#[utoipa::path(
    get, path = "/api/v1/admin/user-segmentation/segments", tag = "segments",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every segment, by name", body = Vec<SegmentView>),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs view_user_segmentation", body = ErrorBody),
    )
)]
pub async fn list_segments(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Vec<SegmentView>>> {
    auth.require(VIEW)?;
    let store = state.store.as_ref();
    let mut all = records::list(store).await?;
    all.sort_by_key(|s| s.name.to_lowercase());
    let counts = membership::member_counts(store, &all).await?;
    Ok(Json(
        all.into_iter()
            .zip(counts)
            .map(|(s, n)| view(s, n))
            .collect(),
    ))
}

#[utoipa::path(
    post, path = "/api/v1/admin/user-segmentation/segments", tag = "segments",
    request_body = CreateSegmentRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; a computed segment's membership is computed at once", body = SegmentView),
        (status = 400, description = "MALFORMED_REQUEST: not JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs manage_user_segmentation", body = ErrorBody),
        (status = 409, description = "SEGMENT_NAME_TAKEN", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: name, segment_type (the valid ones listed), criteria.<field> (unknown field, type, range, min > max)", body = ErrorBody),
    )
)]
pub async fn create_segment(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(body): ValidJson<CreateSegmentRequest>,
) -> ApiResult<(StatusCode, Json<SegmentView>)> {
    auth.require(MANAGE)?;
    let mut errors = Vec::new();
    let name = required_string("name", &body.name, 100, &mut errors);
    let description = opt_string("description", &body.description, 1000, &mut errors);
    let auto_update = opt_bool("auto_update", &body.auto_update, &mut errors).unwrap_or(true);
    let is_active = opt_bool("is_active", &body.is_active, &mut errors).unwrap_or(true);
    let segment_type = match &body.segment_type {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("segment_type", "Field required"));
            None
        }
        Some(v) => segment_type_of(v, &mut errors),
    };
    let criteria = body.criteria.clone().unwrap_or(Value::Object(Map::new()));
    if let Some(t) = segment_type
        && let Err(e) = Criteria::parse(t, &criteria)
    {
        errors.extend(e);
    }
    let (Some(name), Some(t), true) = (name, segment_type, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let store = state.store.as_ref();
    let criteria = if criteria.is_null() {
        Value::Object(Map::new())
    } else {
        criteria
    };
    let mut segment = records::new_segment(name, description, t.name(), criteria, auto_update);
    segment.is_active = is_active;
    records::create(store, &segment)
        .await
        .map_err(record_error)?;
    let count = if t == SegmentType::Manual {
        0
    } else {
        let n = membership::recompute_now(store, &segment)
            .await
            .map_err(recompute_error)?;
        segment = load(&state, &segment.id).await?;
        n
    };
    Ok((StatusCode::CREATED, Json(view(segment, count))))
}

#[utoipa::path(
    put, path = "/api/v1/admin/user-segmentation/segments/{segment_id}", tag = "segments",
    params(("segment_id" = String, Path)),
    request_body = UpdateSegmentRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated; new criteria are applied at once (membership recomputed)", body = SegmentView),
        (status = 400, description = "MALFORMED_REQUEST: not JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs manage_user_segmentation", body = ErrorBody),
        (status = 404, description = "SEGMENT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "SEGMENT_NAME_TAKEN", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: name, description, segment_type (a segment does not change type), criteria.<field>", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: concurrent updates; retry", body = ErrorBody),
    )
)]
pub async fn update_segment(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(segment_id): Path<String>,
    ValidJson(body): ValidJson<UpdateSegmentRequest>,
) -> ApiResult<Json<SegmentView>> {
    auth.require(MANAGE)?;
    let store = state.store.as_ref();
    let old = load(&state, &segment_id).await?;
    let t = SegmentType::parse(&old.segment_type).ok_or_else(segment_not_found)?;
    let mut errors = Vec::new();
    let name = opt_string("name", &body.name, 100, &mut errors);
    if name.as_deref() == Some("") {
        errors.push(FieldError::new("name", "must not be empty"));
    }
    let description = opt_string("description", &body.description, 1000, &mut errors);
    let auto_update = opt_bool("auto_update", &body.auto_update, &mut errors);
    let is_active = opt_bool("is_active", &body.is_active, &mut errors);
    if let Some(v) = body.segment_type.as_ref().filter(|v| !v.is_null())
        && segment_type_of(v, &mut errors).is_some_and(|given| given != t)
    {
        errors.push(FieldError::new(
            "segment_type",
            format!("a segment does not change type (this one is {})", t.name()),
        ));
    }
    let mut criteria = None;
    match body.criteria.as_ref().filter(|c| !c.is_null()) {
        None => {}
        Some(Value::Object(patch)) => {
            let mut merged = old.criteria.as_object().cloned().unwrap_or_default();
            for (k, v) in patch {
                if v.is_null() {
                    merged.remove(k);
                } else {
                    merged.insert(k.clone(), v.clone());
                }
            }
            let merged = Value::Object(merged);
            match Criteria::parse(t, &merged) {
                Ok(_) => criteria = Some(merged),
                Err(e) => errors.extend(e),
            }
        }
        Some(_) => errors.push(FieldError::new("criteria", "must be an object")),
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut new = old.clone();
    if let Some(n) = name {
        new.name = n;
    }
    if body.description.is_some() {
        new.description = description;
    }
    if let Some(a) = auto_update {
        new.auto_update = a;
    }
    if let Some(a) = is_active {
        new.is_active = a;
    }
    let recompute =
        criteria.as_ref().is_some_and(|c| *c != old.criteria) && t != SegmentType::Manual;
    if let Some(c) = criteria {
        new.criteria = c;
    }
    records::replace(store, &old, &mut new)
        .await
        .map_err(record_error)?;
    if recompute {
        membership::recompute_now(store, &new)
            .await
            .map_err(recompute_error)?;
        new = load(&state, &segment_id).await?;
    }
    let n = membership::member_count(store, &new).await?;
    Ok(Json(view(new, n)))
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

#[utoipa::path(
    get, path = "/api/v1/admin/user-segmentation/segments/analytics", tag = "segments",
    params(AnalyticsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One row per segment (or the one asked for)", body = Vec<SegmentAnalytics>),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs view_user_segmentation", body = ErrorBody),
        (status = 404, description = "SEGMENT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: days outside 1-365", body = ErrorBody),
    )
)]
pub async fn analytics(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<AnalyticsParams>,
) -> ApiResult<Json<Vec<SegmentAnalytics>>> {
    auth.require(VIEW)?;
    let store = state.store.as_ref();
    let segments = match &q.segment_id {
        Some(id) => vec![load(&state, id).await?],
        None => {
            let mut all = records::list(store).await?;
            all.sort_by_key(|s| s.name.to_lowercase());
            all
        }
    };
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let since = now.timestamp() - i64::from(q.days) * 86_400;
    let mut out = Vec::with_capacity(segments.len());
    for s in segments {
        // Conversion: members whose latest order is in the period, from their RFM features
        // (one batch get per 100 members; no order is read).
        let members = membership::members_page(store, &s, 0, usize::MAX).await?;
        let mut converted = 0u64;
        for chunk in members.chunks(100) {
            let keys: Vec<Key> = chunk.iter().map(|m| keys::user_rfm(&m.user_id)).collect();
            converted += store
                .batch_get(&keys)
                .await?
                .iter()
                .filter(|i| {
                    i.get("last_order_at")
                        .and_then(Value::as_i64)
                        .is_some_and(|t| t >= since)
                })
                .count() as u64;
        }
        let totals = performance::totals(store, &s.id, today, Some(q.days)).await?;
        let n = members.len() as u64;
        out.push(SegmentAnalytics {
            segment_id: s.id,
            segment_name: s.name,
            member_count: n,
            conversion_rate: if n == 0 {
                0.0
            } else {
                round(converted as f64 * 100.0 / n as f64, 1)
            },
            avg_order_value: if totals.orders == 0 {
                0.0
            } else {
                round(
                    totals.revenue_cents as f64 / totals.orders as f64 / 100.0,
                    2,
                )
            },
        });
    }
    Ok(Json(out))
}

#[utoipa::path(
    post, path = "/api/v1/admin/user-segmentation/segments/{segment_id}/recalculate", tag = "segments",
    params(("segment_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recomputed from every user's features; the new membership is in force", body = RecalculateResponse),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs manage_user_segmentation", body = ErrorBody),
        (status = 404, description = "SEGMENT_NOT_FOUND", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: recomputed concurrently; retry", body = ErrorBody),
    )
)]
pub async fn recalculate(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(segment_id): Path<String>,
) -> ApiResult<Json<RecalculateResponse>> {
    auth.require(MANAGE)?;
    let s = load(&state, &segment_id).await?;
    let n = membership::recompute_now(state.store.as_ref(), &s)
        .await
        .map_err(recompute_error)?;
    Ok(Json(RecalculateResponse {
        message: "Segment recalculated successfully".into(),
        member_count: n,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/admin/user-segmentation/segments/{segment_id}/users", tag = "segments",
    params(("segment_id" = String, Path), UsersParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of members, by user id", body = SegmentUsers),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs view_user_segmentation", body = ErrorBody),
        (status = 404, description = "SEGMENT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: limit outside 1-1000, offset outside 0-100000", body = ErrorBody),
    )
)]
pub async fn segment_users(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(segment_id): Path<String>,
    ValidQuery(q): ValidQuery<UsersParams>,
) -> ApiResult<Json<SegmentUsers>> {
    auth.require(VIEW)?;
    let store = state.store.as_ref();
    let s = load(&state, &segment_id).await?;
    let (page, total) = tokio::try_join!(
        membership::members_page(store, &s, q.offset as usize, q.limit as usize),
        membership::member_count(store, &s)
    )?;
    let ids: Vec<&str> = page.iter().map(|m| m.user_id.as_str()).collect();
    let found = users::get_many(store, &ids).await?;
    let users = page
        .iter()
        .map(|m| SegmentUser {
            user_id: m.user_id.clone(),
            email: found
                .get(&m.user_id)
                .map(|u| u.email.clone())
                .unwrap_or_default(),
            joined_at: m.joined_at.clone(),
        })
        .collect();
    Ok(Json(SegmentUsers {
        segment_id: s.id,
        segment_name: s.name,
        total_users: total,
        users,
    }))
}

/// What a membership change needs: the manage permission, the segment, a known user.
async fn segment_and_user(
    state: &AppState,
    auth: &AuthUser,
    segment_id: &str,
    user_id: &str,
) -> ApiResult<Segment> {
    auth.require(MANAGE)?;
    let s = load(state, segment_id).await?;
    users::get(state.store.as_ref(), user_id)
        .await?
        .ok_or_else(user_not_found)?;
    Ok(s)
}

#[utoipa::path(
    post, path = "/api/v1/admin/user-segmentation/segments/{segment_id}/users/{user_id}", tag = "segments",
    params(("segment_id" = String, Path), ("user_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Added by hand (kept by every recompute)", body = MembershipResponse),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs manage_user_segmentation", body = ErrorBody),
        (status = 404, description = "SEGMENT_NOT_FOUND or USER_NOT_FOUND", body = ErrorBody),
    )
)]
pub async fn add_user(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((segment_id, user_id)): Path<(String, String)>,
) -> ApiResult<Json<MembershipResponse>> {
    let s = segment_and_user(&state, &auth, &segment_id, &user_id).await?;
    let changed = membership::add_manual(state.store.as_ref(), &s, &user_id).await?;
    Ok(Json(MembershipResponse {
        message: if changed {
            "User added to segment".into()
        } else {
            "User was already in the segment; now kept as a manual member".into()
        },
        segment_id,
        user_id,
        changed,
    }))
}

#[utoipa::path(
    delete, path = "/api/v1/admin/user-segmentation/segments/{segment_id}/users/{user_id}", tag = "segments",
    params(("segment_id" = String, Path), ("user_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Removed (a computed segment takes the user back at its next recompute if they still match)", body = MembershipResponse),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs manage_user_segmentation", body = ErrorBody),
        (status = 404, description = "SEGMENT_NOT_FOUND, or USER_NOT_FOUND: unknown user or not a member", body = ErrorBody),
    )
)]
pub async fn remove_user(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((segment_id, user_id)): Path<(String, String)>,
) -> ApiResult<Json<MembershipResponse>> {
    let s = segment_and_user(&state, &auth, &segment_id, &user_id).await?;
    if !membership::remove(state.store.as_ref(), &s, &user_id).await? {
        return Err(ApiError::not_found("The user is not in this segment")
            .with_code(ErrorCode::UserNotFound));
    }
    Ok(Json(MembershipResponse {
        message: "User removed from segment".into(),
        segment_id,
        user_id,
        changed: true,
    }))
}

fn int_in(
    field: &str,
    value: &Option<Value>,
    lo: u64,
    hi: u64,
    default: u64,
    errors: &mut Vec<FieldError>,
) -> u64 {
    match value {
        None | Some(Value::Null) => default,
        Some(v) => match v.as_u64().filter(|n| (lo..=hi).contains(n)) {
            Some(n) => n,
            None => {
                errors.push(FieldError::new(
                    field,
                    format!("must be an integer from {lo} to {hi}"),
                ));
                default
            }
        },
    }
}

#[utoipa::path(
    post, path = "/api/v1/admin/user-segmentation/segments/generate-rfm", tag = "segments",
    request_body = GenerateRfmRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "RFM segments generated (the previous generated ones replaced)", body = GenerateRfmResponse),
        (status = 400, description = "MALFORMED_REQUEST: not JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs manage_user_segmentation", body = ErrorBody),
        (status = 409, description = "NOT_ENOUGH_CUSTOMERS: fewer customers with orders in the window than clusters", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: n_clusters outside 2-12, lookback_days outside 1-3650", body = ErrorBody),
    )
)]
pub async fn generate_rfm(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(body): ValidJson<GenerateRfmRequest>,
) -> ApiResult<Json<GenerateRfmResponse>> {
    auth.require(MANAGE)?;
    let mut errors = Vec::new();
    let defaults = RfmRequest::default();
    let k = int_in(
        "n_clusters",
        &body.n_clusters,
        2,
        12,
        defaults.n_clusters as u64,
        &mut errors,
    );
    let days = int_in(
        "lookback_days",
        &body.lookback_days,
        1,
        3650,
        u64::from(defaults.lookback_days),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let req = RfmRequest {
        n_clusters: k as usize,
        lookback_days: days as u32,
        ..defaults
    };
    let outcome = rfm::generate(state.store.as_ref(), &req)
        .await
        .map_err(|e| match e {
            e @ RfmError::NotEnoughCustomers { .. } => ApiError::conflict(
                ErrorCode::NotEnoughCustomers,
                format!("Not enough customers: {e}"),
            ),
            RfmError::Store(e) => e.into(),
            RfmError::Recompute(e) => recompute_error(e),
            e @ RfmError::Cluster(_) => ApiError::internal(anyhow::anyhow!("{e}")),
        })?;
    tracing::info!(
        segments = outcome.segments_created,
        customers = outcome.total_users_segmented,
        kmeans_ms = outcome.kmeans_ms,
        total_ms = outcome.total_ms,
        "RFM segments generated"
    );
    Ok(Json(GenerateRfmResponse {
        message: "RFM segments generated successfully".into(),
        segments_created: outcome.segments_created,
        total_users_segmented: outcome.total_users_segmented,
        segments: outcome
            .clusters
            .into_iter()
            .map(|c| GeneratedSegmentView {
                segment_id: c.segment_id,
                name: c.name,
                member_count: c.member_count,
            })
            .collect(),
    }))
}
