//! `GET /api/v1/admin/analytics/segments/performance` (spec 002 "Get Segment Performance",
//! permission `analytics.view_detailed`): per user segment, its members and the orders they
//! placed while members, from the segments' daily order rollups
//! (`shared::domain::segments::performance`: every order adds to the segments its buyer is in;
//! a cancel subtracts) over the days kept (400), never a scan of orders.

use axum::{Json, extract::State};
use serde::Serialize;
use shared::{
    ApiResult, AppState,
    auth::Permission,
    domain::segments::{membership, performance, records},
    error::ErrorBody,
    http::AuthUser,
};
use utoipa::ToSchema;

/// One segment's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentPerformance {
    pub segment_id: String,
    pub segment_name: String,
    pub member_count: u64,
    /// Orders its members placed while members (cancelled ones withdrawn).
    pub orders_count: i64,
    /// `total_revenue / orders_count`, two decimals (0 without orders).
    pub avg_order_value: f64,
    /// Currency units, two decimals.
    pub total_revenue: f64,
    /// `total_revenue / member_count`, two decimals (0 without members).
    pub revenue_per_member: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentPerformanceResponse {
    /// Active segments, highest revenue first.
    pub segments: Vec<SegmentPerformance>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[utoipa::path(
    get, path = "/api/v1/admin/analytics/segments/performance", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SegmentPerformanceResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "FORBIDDEN: needs analytics.view_detailed", body = ErrorBody),
    )
)]
pub async fn segment_performance(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<SegmentPerformanceResponse>> {
    auth.require(Permission::AnalyticsViewDetailed)?;
    let store = state.store.as_ref();
    let segments: Vec<records::Segment> = records::list(store)
        .await?
        .into_iter()
        .filter(|s| s.is_active)
        .collect();
    let counts = membership::member_counts(store, &segments).await?;
    let today = chrono::Utc::now().date_naive();
    let mut out = Vec::with_capacity(segments.len());
    for (s, members) in segments.into_iter().zip(counts) {
        let t = performance::totals(store, &s.id, today, None).await?;
        let revenue = t.revenue_cents as f64 / 100.0;
        out.push(SegmentPerformance {
            segment_id: s.id,
            segment_name: s.name,
            member_count: members,
            orders_count: t.orders,
            avg_order_value: if t.orders > 0 {
                round2(revenue / t.orders as f64)
            } else {
                0.0
            },
            total_revenue: round2(revenue),
            revenue_per_member: if members > 0 {
                round2(revenue / members as f64)
            } else {
                0.0
            },
        });
    }
    out.sort_by(|a, b| {
        b.total_revenue
            .total_cmp(&a.total_revenue)
            .then_with(|| a.segment_name.cmp(&b.segment_name))
    });
    Ok(Json(SegmentPerformanceResponse { segments: out }))
}
