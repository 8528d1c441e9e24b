//! Click tracking and feedback on served recommendations (issue 13, part 4):
//! `POST /api/v1/recommendations/track-click` and `POST /api/v1/recommendations/feedback`.
//! The counting rules are `shared::domain::rec_tracking`'s.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use serde::{Deserialize, Serialize};
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult,
    domain::{
        catalog,
        interactions::{self, Actor, InteractionKind, Signal},
        rec_tracking::{self, TrackError},
    },
    error::ErrorBody,
    http::{AuthUser, ValidJson},
};
use utoipa::ToSchema;
use validator::Validate;

use crate::RecommendationsState;

/// The caller: the signed-in user, else the guest named by `X-Cart-Id` (as the cart function
/// hands it out), else nobody.
fn caller(auth: Option<&AuthUser>, headers: &HeaderMap) -> Option<Actor> {
    let guest_cart = headers.get("x-cart-id").and_then(|v| v.to_str().ok());
    Actor::of_request(auth.map(|a| a.user_id.as_str()), guest_cart)
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct RecommendationClickRequest {
    /// The `recommendation_id` of the list the product was shown in.
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub recommendation_id: String,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub product_id: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecommendationClickResponse {
    pub message: String,
    pub recommendation_id: String,
    pub product_id: String,
    /// False when this product's click in this list had been counted already (a click counts
    /// once per list and product).
    pub counted: bool,
}

/// The 404 of an unknown or expired recommendation id.
pub fn recommendation_not_found() -> ApiError {
    ApiError::not_found("Recommendation not found (unknown, or older than 7 days)")
        .with_code(ErrorCode::RecommendationNotFound)
}

/// The error of a refused click.
pub fn track_error(e: TrackError) -> ApiError {
    match e {
        TrackError::NotFound => recommendation_not_found(),
        TrackError::NotInList => {
            ApiError::invalid_field("product_id", "is not in this recommendation")
        }
        TrackError::Store(e) => e.into(),
    }
}

/// Record a click on a recommended product. Counted once per (recommendation, product), and
/// recorded as a `rec_click` interaction of the caller (or of the user the list was served to).
#[utoipa::path(
    post, path = "/api/v1/recommendations/track-click", tag = "recommendations", operation_id = "recommendations_track_click",
    params(("X-Cart-Id" = Option<String>, Header, description = "Guest cart id (without a token): the click is the guest's")),
    security((), ("bearer" = [])),
    request_body = RecommendationClickRequest,
    responses(
        (status = 200, description = "Click tracked", body = RecommendationClickResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "A token was sent and is not valid", body = ErrorBody),
        (status = 404, description = "RECOMMENDATION_NOT_FOUND: unknown or expired (7 days) recommendation id", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: a field is missing or too long, or product_id is not in the recommendation", body = ErrorBody),
    )
)]
pub async fn track_click(
    State(state): State<RecommendationsState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    ValidJson(req): ValidJson<RecommendationClickRequest>,
) -> ApiResult<Json<RecommendationClickResponse>> {
    let store = state.app.store.as_ref();
    let now = chrono::Utc::now();
    let caller = caller(auth.as_ref(), &headers);
    let outcome = rec_tracking::track_click(
        store,
        &req.recommendation_id,
        &req.product_id,
        caller.as_ref(),
        now,
    )
    .await
    .map_err(track_error)?;
    let signals: Vec<Signal> = outcome.signal(&req.product_id, now).into_iter().collect();
    interactions::record_if(state.app.config.record_interactions, store, &signals).await;
    Ok(Json(RecommendationClickResponse {
        message: "Click tracked".into(),
        recommendation_id: req.recommendation_id,
        product_id: req.product_id,
        counted: outcome.counted,
    }))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct RecommendationFeedbackRequest {
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub product_id: String,
    /// `not_interested` (the only kind so far).
    #[schema(example = "not_interested")]
    #[validate(custom(function = "validate_kind"))]
    pub kind: String,
}

fn validate_kind(kind: &str) -> Result<(), validator::ValidationError> {
    if kind == InteractionKind::NotInterested.name() {
        Ok(())
    } else {
        Err(validator::ValidationError::new("kind").with_message("must be not_interested".into()))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecommendationFeedbackResponse {
    pub message: String,
    pub product_id: String,
    pub kind: String,
}

/// Tell the recommender a product is not of interest: it leaves the caller's lists at once (the
/// serving code excludes products with a `not_interested` interaction) and the training takes the
/// pair out of the caller's positives. The caller is the signed-in user, or a guest by its cart id.
#[utoipa::path(
    post, path = "/api/v1/recommendations/feedback", tag = "recommendations",
    params(("X-Cart-Id" = Option<String>, Header, description = "Guest cart id (without a token): the feedback is the guest's")),
    security((), ("bearer" = [])),
    request_body = RecommendationFeedbackRequest,
    responses(
        (status = 200, description = "Feedback recorded", body = RecommendationFeedbackResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "NOT_AUTHENTICATED: neither a token nor a guest cart id; or an invalid token", body = ErrorBody),
        (status = 404, description = "PRODUCT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: product_id, or a kind other than not_interested", body = ErrorBody),
    )
)]
pub async fn feedback(
    State(state): State<RecommendationsState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    ValidJson(req): ValidJson<RecommendationFeedbackRequest>,
) -> ApiResult<(StatusCode, Json<RecommendationFeedbackResponse>)> {
    let actor = caller(auth.as_ref(), &headers).ok_or_else(|| {
        ApiError::unauthorized(
            ErrorCode::NotAuthenticated,
            "Sign in, or send the guest cart id (X-Cart-Id)",
        )
    })?;
    let store = state.app.store.as_ref();
    catalog::get_product(store, &req.product_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("Product not found").with_code(ErrorCode::ProductNotFound)
        })?;
    // The caller's own write: it must take effect (not the switchable, logged recording).
    interactions::record(
        store,
        &[Signal::new(
            actor,
            req.product_id.clone(),
            InteractionKind::NotInterested,
        )],
    )
    .await?;
    Ok((
        StatusCode::OK,
        Json(RecommendationFeedbackResponse {
            message: "Feedback recorded".into(),
            product_id: req.product_id,
            kind: req.kind,
        }),
    ))
}
