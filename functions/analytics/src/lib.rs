//! `functions/analytics`: spec 002's "Analytics Dashboard" and "Analytics (User Level)":
//! - `GET /api/v1/admin/analytics/dashboard/overview` (`admin_dashboard`): quick stats;
//! - `GET /api/v1/admin/analytics/dashboard?days=1-365` (`analytics.view`): orders, users,
//!   products, search and recommendation figures of the window;
//! - `GET /api/v1/admin/analytics/kpis?days=`, `/funnel?days=`, `/cohorts?weeks=1-52`;
//! - `GET /api/v1/analytics/user/{user_id}/behavior?days=`: the user, or shop-wide
//!   `analytics.view`.
//!
//! Every figure comes from the rollups of [`shared::domain::analytics`] (whole months from the
//! month rollups and the days at the window's ends from the day rollups; never a scan). `GET /admin/analytics/recommendations/performance` stays in the admin function.

mod handlers;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::AppState;
use shared::domain::analytics::month_cache::MonthCache;
use shared::domain::catalog::snapshot::SnapshotCache;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The function's state: the shared dependencies, this instance's catalog snapshot (the
/// overview's product counts) and its cache of closed months' rollups.
#[derive(Clone, FromRef)]
pub struct AnalyticsState {
    pub app: AppState,
    pub snapshot: Arc<SnapshotCache>,
    pub months: Arc<MonthCache>,
}

impl AnalyticsState {
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            snapshot: Arc::new(SnapshotCache::default()),
            months: Arc::new(MonthCache::default()),
        }
    }
}

fn api() -> OpenApiRouter<AnalyticsState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::overview))
        .routes(routes!(handlers::dashboard))
        .routes(routes!(handlers::kpis))
        .routes(routes!(handlers::funnel))
        .routes(routes!(handlers::cohorts))
        .routes(routes!(handlers::user_behavior))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
    api().with_state(AnalyticsState::new(state))
}

/// The function's OpenAPI operations (no state needed).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The function's router (state applied).
pub fn router(state: AppState) -> Router {
    routes(state).split_for_parts().0
}

#[cfg(test)]
mod tests;
