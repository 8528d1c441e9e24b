//! The analytics routes: parameter checks, permissions, and the readers of
//! `shared::domain::analytics::report`.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use shared::{
    ApiError, ApiResult,
    auth::Permission,
    domain::{analytics::report, users},
    error::{ErrorBody, ErrorCode},
    http::{AuthUser, ValidQuery},
};
use utoipa::IntoParams;
use validator::Validate;

use crate::AnalyticsState;

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DaysParams {
    /// The window: the last `days` days (UTC), today included; 1-365, default 30.
    #[serde(default = "default_days")]
    #[param(minimum = 1, maximum = 365)]
    #[validate(range(min = 1, max = 365, message = "must be between 1 and 365"))]
    pub days: u32,
}

fn default_days() -> u32 {
    30
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WeeksParams {
    /// Sign-up weeks shown: the last `weeks` weeks (Monday to Sunday, UTC), the current one
    /// included; 1-52, default 12.
    #[serde(default = "default_weeks")]
    #[param(minimum = 1, maximum = 52)]
    #[validate(range(min = 1, max = 52, message = "must be between 1 and 52"))]
    pub weeks: u32,
}

fn default_weeks() -> u32 {
    12
}

/// Shop-wide `analytics.view`: granted by a role other than customer (spec 002 gives customers
/// `analytics.view` for their own data only).
fn require_shop_wide(auth: &AuthUser) -> ApiResult<()> {
    if auth.has_beyond_own(Permission::AnalyticsView) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Missing permission: analytics.view (shop-wide; a customer's covers their own data only)",
        ))
    }
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Quick stats of the admin console.
#[utoipa::path(
    get, path = "/api/v1/admin/analytics/dashboard/overview", tag = "analytics",
    operation_id = "analytics_dashboard_overview",
    security(("bearer" = [])),
    responses(
        (status = 200, body = report::Overview),
        (status = 401, body = ErrorBody),
        (status = 403, description = "FORBIDDEN: needs admin_dashboard", body = ErrorBody),
    )
)]
pub async fn overview(
    State(state): State<AnalyticsState>,
    auth: AuthUser,
) -> ApiResult<Json<report::Overview>> {
    auth.require(Permission::AdminDashboard)?;
    let snapshot = state.snapshot.get(&state.app.store).await?;
    let total = snapshot.products.len() as i64;
    let active = snapshot.products.iter().filter(|p| p.is_active).count() as i64;
    Ok(Json(
        report::overview(
            state.app.store.as_ref(),
            &state.months,
            today(),
            total,
            active,
        )
        .await?,
    ))
}

/// Orders, users, products, search and recommendation figures of the last `days` days.
#[utoipa::path(
    get, path = "/api/v1/admin/analytics/dashboard", tag = "analytics",
    operation_id = "analytics_dashboard",
    params(DaysParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = report::Dashboard),
        (status = 401, body = ErrorBody),
        (status = 403, description = "FORBIDDEN: needs shop-wide analytics.view", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: days outside 1-365 or not an integer", body = ErrorBody),
    )
)]
pub async fn dashboard(
    State(state): State<AnalyticsState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<DaysParams>,
) -> ApiResult<Json<report::Dashboard>> {
    require_shop_wide(&auth)?;
    Ok(Json(
        report::dashboard(state.app.store.as_ref(), &state.months, today(), q.days).await?,
    ))
}

/// Spec 002's key performance indicators over the last `days` days (each defined in the README).
#[utoipa::path(
    get, path = "/api/v1/admin/analytics/kpis", tag = "analytics",
    operation_id = "analytics_kpis",
    params(DaysParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = report::Kpis),
        (status = 401, body = ErrorBody),
        (status = 403, description = "FORBIDDEN: needs shop-wide analytics.view", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: days outside 1-365 or not an integer", body = ErrorBody),
    )
)]
pub async fn kpis(
    State(state): State<AnalyticsState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<DaysParams>,
) -> ApiResult<Json<report::Kpis>> {
    require_shop_wide(&auth)?;
    Ok(Json(
        report::kpis(state.app.store.as_ref(), &state.months, today(), q.days).await?,
    ))
}

/// Distinct users who viewed a product, added to cart and ordered, with step conversion rates,
/// over the window and per day.
#[utoipa::path(
    get, path = "/api/v1/admin/analytics/funnel", tag = "analytics",
    operation_id = "analytics_funnel",
    params(DaysParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = report::Funnel),
        (status = 401, body = ErrorBody),
        (status = 403, description = "FORBIDDEN: needs shop-wide analytics.view", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: days outside 1-365 or not an integer", body = ErrorBody),
    )
)]
pub async fn funnel(
    State(state): State<AnalyticsState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<DaysParams>,
) -> ApiResult<Json<report::Funnel>> {
    require_shop_wide(&auth)?;
    Ok(Json(
        report::funnel(state.app.store.as_ref(), &state.months, today(), q.days).await?,
    ))
}

/// Sign-up week cohorts and the share of each active in each following week.
#[utoipa::path(
    get, path = "/api/v1/admin/analytics/cohorts", tag = "analytics",
    operation_id = "analytics_cohorts",
    params(WeeksParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = report::Cohorts),
        (status = 401, body = ErrorBody),
        (status = 403, description = "FORBIDDEN: needs shop-wide analytics.view", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: weeks outside 1-52 or not an integer", body = ErrorBody),
    )
)]
pub async fn cohorts(
    State(state): State<AnalyticsState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<WeeksParams>,
) -> ApiResult<Json<report::Cohorts>> {
    require_shop_wide(&auth)?;
    Ok(Json(
        report::cohorts(state.app.store.as_ref(), today(), q.weeks).await?,
    ))
}

/// One user's orders, searches and category preferences over the last `days` days.
#[utoipa::path(
    get, path = "/api/v1/analytics/user/{user_id}/behavior", tag = "analytics",
    operation_id = "analytics_user_behavior",
    params(("user_id" = String, Path, description = "User id"), DaysParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = report::UserBehavior),
        (status = 401, body = ErrorBody),
        (status = 403, description = "FORBIDDEN: another user's behaviour without shop-wide analytics.view", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: days outside 1-365 or not an integer", body = ErrorBody),
    )
)]
pub async fn user_behavior(
    State(state): State<AnalyticsState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ValidQuery(q): ValidQuery<DaysParams>,
) -> ApiResult<Json<report::UserBehavior>> {
    if auth.user_id != user_id {
        require_shop_wide(&auth)?;
    }
    let store = state.app.store.as_ref();
    if users::get(store, &user_id).await?.is_none() {
        return Err(ApiError::not_found("User not found").with_code(ErrorCode::UserNotFound));
    }
    Ok(Json(
        report::user_behavior(store, &user_id, today(), q.days).await?,
    ))
}
