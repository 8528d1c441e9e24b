//! Handlers of the five spec 000 routes: who may call, the `{"data": ...}` envelope, the
//! `cached` / `computed_at` fields, and `Cache-Control: no-cache` (recompute, then cache).
//! The answers come from [`shared::domain::personalization::engine`].

use axum::{
    Json,
    extract::{Path, State},
    http::HeaderMap,
};
use serde_json::{Value, json};
use shared::{
    ApiError, ApiResult,
    auth::Permission,
    domain::personalization::{
        cache::{Cached, Hit},
        engine::Engine,
    },
    error::{ErrorBody, ErrorCode},
    http::{AuthUser, ValidQuery},
};

use crate::PersonalizationState;
use crate::models::*;

fn engine(state: &PersonalizationState) -> Engine<'_> {
    Engine {
        app: &state.app,
        models: &state.models,
        serving: &state.serving,
        memory: &state.memory,
        closed: &state.closed,
        weights: state.app.config.personalization_weights,
    }
}

/// `Cache-Control: no-cache` (or `no-store`): compute the answer for this request.
fn wants_fresh(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| {
            matches!(
                d.trim().to_ascii_lowercase().as_str(),
                "no-cache" | "no-store"
            )
        })
}

fn user_not_found() -> ApiError {
    ApiError::not_found("User not found").with_code(ErrorCode::UserNotFound)
}

/// Whether the caller holds `analytics.view` for everyone's data: spec 002 grants the customer
/// role `analytics.view` "own data only", so only a grant through another role (manager,
/// admin's `analytics.*`) reaches other users and cross-user figures.
fn sees_all_analytics(auth: &AuthUser) -> bool {
    auth.has_beyond_own(Permission::AnalyticsView)
}

fn forbidden_analytics() -> ApiError {
    ApiError::forbidden("Missing permission: analytics.view (beyond own data)")
}

/// 403 unless the caller is `user_id` or holds `analytics.view` beyond their own data.
fn may_see_user(auth: &AuthUser, user_id: &str) -> ApiResult<()> {
    if auth.user_id == user_id || sees_all_analytics(auth) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Personalization data is private: only that user or a holder of analytics.view",
        ))
    }
}

/// `{"data": value + cached + computed_at}`, the list under `list_field` cut to `limit` (only
/// the items kept are copied out of the cached value).
fn envelope(c: &Cached, hit: Hit, list: Option<(&str, u32)>) -> Json<Value> {
    let mut data = serde_json::Map::new();
    if let Some(obj) = c.value.as_object() {
        for (k, v) in obj {
            let v = match (list, v) {
                (Some((field, limit)), Value::Array(items)) if field == k => {
                    Value::Array(items.iter().take(limit as usize).cloned().collect())
                }
                _ => v.clone(),
            };
            data.insert(k.clone(), v);
        }
    }
    data.insert("cached".into(), Value::Bool(hit.cached()));
    data.insert("computed_at".into(), Value::from(c.computed_at.clone()));
    Json(json!({ "data": data }))
}

/// A user's segments: age group (`under_18`, `18_24`, `25_34`, `35_44`, `45_plus`), activity
/// level (`new_user` < 5 interactions in 90 days, `casual_user` < 25, `active_user` < 100,
/// `power_user`), `multi_interest` (3+ interests and categories in the preferences), and the
/// spec 002 segments the user is a member of. Cached 1 hour (`user:{id}:segments`).
#[utoipa::path(
    get, path = "/api/analytics/personalization/user/{user_id}/segments", tag = "personalization",
    operation_id = "personalization_user_segments",
    params(("user_id" = String, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = UserSegmentsResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Another user's segments without analytics.view beyond own data (customers hold it for their own only)", body = ErrorBody),
        (status = 404, description = "Unknown user", body = ErrorBody),
    )
)]
pub async fn user_segments(
    State(state): State<PersonalizationState>,
    auth: AuthUser,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Value>> {
    may_see_user(&auth, &user_id)?;
    let (c, hit) = engine(&state)
        .user_segments(&user_id, wants_fresh(&headers))
        .await?
        .ok_or_else(user_not_found)?;
    Ok(envelope(&c, hit, None))
}

/// The content that performs best in a segment: engagement in the segment (last 7 days,
/// weighted views 1, clicks 2, add-to-carts 3, purchases 5) against everyone's, as a smoothed
/// lift; `score = lift / (1 + lift)`. For a member of the segment or a holder of
/// `analytics.view` beyond own data. Cached 1 hour (`segment:{id}:recommendations`).
#[utoipa::path(
    get, path = "/api/analytics/personalization/segment/{segment_id}/recommendations", tag = "personalization",
    operation_id = "personalization_segment_recommendations",
    params(("segment_id" = String, Path, description = "A spec 000 segment id (`25_34`, `power_user`...) or a spec 002 segment id"), LimitParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = SegmentRecommendationsResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a member of the segment and no analytics.view beyond own data", body = ErrorBody),
        (status = 404, description = "Not a spec 000 segment and no engagement recorded for it", body = ErrorBody),
        (status = 422, description = "limit outside 1-50", body = ErrorBody),
    )
)]
pub async fn segment_recommendations(
    State(state): State<PersonalizationState>,
    auth: AuthUser,
    headers: HeaderMap,
    Path(segment_id): Path<String>,
    ValidQuery(q): ValidQuery<LimitParams>,
) -> ApiResult<Json<Value>> {
    let engine = engine(&state);
    if !sees_all_analytics(&auth) {
        let member = match engine.user_segments(&auth.user_id, false).await? {
            Some((c, _)) => c.value["segments"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x.as_str() == Some(segment_id.as_str()))),
            None => false,
        };
        if !member {
            return Err(ApiError::forbidden(
                "Segment recommendations: only members of the segment or holders of analytics.view",
            ));
        }
    }
    let (c, hit) = engine
        .segment_recommendations(&segment_id, wants_fresh(&headers))
        .await?
        .ok_or_else(|| ApiError::not_found("Segment not found"))?;
    Ok(envelope(&c, hit, Some(("recommendations", q.limit))))
}

/// Engagement of one product or shoppable video across segments (a video's engagement is its
/// product's: video events are recorded on the product): views, clicks, add-to-carts,
/// purchases and their rates per view, for everyone and per segment, over `days` days.
#[utoipa::path(
    get, path = "/api/analytics/personalization/content/{content_id}", tag = "personalization",
    operation_id = "personalization_content_performance",
    params(("content_id" = String, Path, description = "Product or video id"), DaysParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ContentPerformanceResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "No analytics.view beyond own data (customers)", body = ErrorBody),
        (status = 404, description = "Unknown product or video", body = ErrorBody),
        (status = 422, description = "days outside 1-30", body = ErrorBody),
    )
)]
pub async fn content_performance(
    State(state): State<PersonalizationState>,
    auth: AuthUser,
    Path(content_id): Path<String>,
    ValidQuery(q): ValidQuery<DaysParams>,
) -> ApiResult<Json<Value>> {
    if !sees_all_analytics(&auth) {
        return Err(forbidden_analytics());
    }
    let data = engine(&state)
        .content_performance(&content_id, q.days)
        .await?
        .ok_or_else(|| ApiError::not_found("Content not found"))?;
    Ok(Json(json!({ "data": data })))
}

/// A user's personalised content: the weighted blend segment-based 40%, history-based 30%,
/// collaborative 20%, trending 10% (`PERSONALIZATION_WEIGHTS`), each source's scores divided by
/// its best; every item lists its per-source contributions. Cached 1 hour
/// (`user:{id}:personalized_content`).
#[utoipa::path(
    get, path = "/api/analytics/personalization/user/{user_id}/content", tag = "personalization",
    operation_id = "personalization_user_content",
    params(("user_id" = String, Path, description = "User id"), LimitParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PersonalizedContentResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Another user's content without analytics.view beyond own data", body = ErrorBody),
        (status = 404, description = "Unknown user", body = ErrorBody),
        (status = 422, description = "limit outside 1-50", body = ErrorBody),
    )
)]
pub async fn personalized_content(
    State(state): State<PersonalizationState>,
    auth: AuthUser,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    ValidQuery(q): ValidQuery<LimitParams>,
) -> ApiResult<Json<Value>> {
    may_see_user(&auth, &user_id)?;
    let (c, hit) = engine(&state)
        .personalized_content(&user_id, wants_fresh(&headers))
        .await?
        .ok_or_else(user_not_found)?;
    Ok(envelope(&c, hit, Some(("content", q.limit))))
}

/// Recomputes a user's segments and personalised content now (both caches rewritten; this
/// instance's memory copies replaced; other instances see the new entries within 5 s).
#[utoipa::path(
    post, path = "/api/personalization/refresh/{user_id}", tag = "personalization",
    operation_id = "personalization_refresh",
    params(("user_id" = String, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RefreshResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Another user without analytics.view beyond own data", body = ErrorBody),
        (status = 404, description = "Unknown user", body = ErrorBody),
    )
)]
pub async fn refresh(
    State(state): State<PersonalizationState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Value>> {
    may_see_user(&auth, &user_id)?;
    let (segments, content) = engine(&state)
        .refresh(&user_id)
        .await?
        .ok_or_else(user_not_found)?;
    Ok(Json(json!({
        "data": {
            "user_id": user_id,
            "segments": segments.value["segments"],
            "content_count": content.value["content"].as_array().map_or(0, Vec::len),
            "refreshed_at": content.computed_at,
        }
    })))
}
