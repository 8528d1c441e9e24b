//! `GET /api/v1/admin/analytics/recommendations/performance` (spec 002 "Get Recommendation
//! Performance", permission `analytics.view_detailed`): recommendation figures of one family
//! over 1-365 days, from the daily rollups of `shared::domain::rec_tracking` (never the raw
//! events).

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use shared::{
    ApiError, ApiResult, AppState,
    auth::Permission,
    domain::{catalog, rec_tracking},
    error::ErrorBody,
    http::{AuthUser, ValidQuery},
    reco::algorithm::Family,
};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// Products in `top_performing_products`.
pub const TOP_PRODUCTS: usize = 10;

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendationPerformanceParams {
    /// `collaborative` (collaborative filtering and item similarity), `content_based` (vector
    /// similarity), `hybrid` (every item of a blended list: homepage, personalized), `trending`
    /// (trending, popular, new arrivals) or `fbt`. Without it: every recommendation once (all
    /// families but `hybrid`), answered as `all`.
    pub algorithm: Option<String>,
    /// The period: the last `days` days (UTC), today included; 1-365, default 30.
    #[serde(default = "default_days")]
    #[param(minimum = 1, maximum = 365)]
    #[validate(range(min = 1, max = 365, message = "must be between 1 and 365"))]
    pub days: u32,
}

fn default_days() -> u32 {
    30
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecommendationDayPerformance {
    /// `yyyy-mm-dd` (UTC).
    pub date: String,
    pub recommendations: i64,
    pub clicks: i64,
    pub conversions: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecommendationProductPerformance {
    pub product_id: String,
    /// Empty when the product no longer exists.
    pub product_name: String,
    pub recommendations: i64,
    pub clicks: i64,
    pub conversions: i64,
    /// Percent, one decimal.
    pub click_rate: f64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecommendationPerformanceResponse {
    pub algorithm: String,
    pub period_days: u32,
    /// Items served (impressions).
    pub total_recommendations: i64,
    /// Clicks counted once per (recommendation id, product).
    pub total_clicks: i64,
    /// Attributed purchases, once per (recommendation id, product).
    pub total_conversions: i64,
    /// Clicks per recommendation, percent, one decimal.
    pub click_rate: f64,
    /// Conversions per recommendation, percent, one decimal.
    pub conversion_rate: f64,
    /// Mean served score (0-1), two decimals.
    pub average_score: f64,
    /// Every day of the period, oldest first; clicks and conversions on the day the list was
    /// served.
    pub performance_by_day: Vec<RecommendationDayPerformance>,
    /// The 10 best products: most conversions, then clicks, then click rate, then
    /// recommendations.
    pub top_performing_products: Vec<RecommendationProductPerformance>,
}

/// Recommendation performance of one algorithm family (or all) over a period.
#[utoipa::path(
    get, path = "/api/v1/admin/analytics/recommendations/performance", tag = "admin",
    params(RecommendationPerformanceParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RecommendationPerformanceResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "FORBIDDEN: needs analytics.view_detailed", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: days outside 1-365, or an unknown algorithm", body = ErrorBody),
    )
)]
pub async fn recommendation_performance(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<RecommendationPerformanceParams>,
) -> ApiResult<Json<RecommendationPerformanceResponse>> {
    auth.require(Permission::AnalyticsViewDetailed)?;
    let (name, families): (String, Vec<Family>) = match q
        .algorithm
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        None => ("all".into(), rec_tracking::OWN_FAMILIES.to_vec()),
        Some(a) => {
            let family = Family::from_name(a).ok_or_else(|| {
                let valid: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
                ApiError::invalid_field(
                    "algorithm",
                    format!("must be one of: {}", valid.join(", ")),
                )
            })?;
            (family.name().into(), vec![family])
        }
    };
    let store = state.store.as_ref();
    let today = chrono::Utc::now().date_naive();
    let p = rec_tracking::performance(store, &families, today, q.days, TOP_PRODUCTS).await?;
    let ids: Vec<String> = p.top_products.iter().map(|(id, _)| id.clone()).collect();
    let products = catalog::get_products(store, &ids).await?;
    let name_of = |id: &str| {
        products
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    Ok(Json(RecommendationPerformanceResponse {
        algorithm: name,
        period_days: q.days,
        total_recommendations: p.totals.impressions,
        total_clicks: p.totals.clicks,
        total_conversions: p.totals.conversions,
        click_rate: p.totals.click_rate(),
        conversion_rate: p.totals.conversion_rate(),
        average_score: p.totals.average_score(),
        performance_by_day: p
            .by_day
            .iter()
            .map(|(date, c)| RecommendationDayPerformance {
                date: date.format("%Y-%m-%d").to_string(),
                recommendations: c.impressions,
                clicks: c.clicks,
                conversions: c.conversions,
            })
            .collect(),
        top_performing_products: p
            .top_products
            .iter()
            .map(|(id, c)| RecommendationProductPerformance {
                product_id: id.clone(),
                product_name: name_of(id),
                recommendations: c.impressions,
                clicks: c.clicks,
                conversions: c.conversions,
                click_rate: c.click_rate(),
            })
            .collect(),
    }))
}
