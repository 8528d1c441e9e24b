//! Handlers of the seven shopper list routes. The lists are built by
//! `shared::domain::recommendations` (models in memory, catalog snapshot); here: the caller
//! (token, or the guest cart id `X-Cart-Id` the cart function hands out), the experiment arm,
//! the explanations (one batch per response), the served record (one per response) and the
//! `X-Recommendation-Id` header. On the non-personal lists (FBT, popular, trending, new
//! arrivals) a token or guest cart id only names the caller in the served record (tracking);
//! the list is the same for everyone.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderName, HeaderValue},
    response::{IntoResponse, Response},
};
use shared::{
    ApiError, ApiResult,
    api::products::{ProductDetail, ProductSummary},
    auth::Permission,
    domain::{
        experiments::{self, ArmRef},
        explanations::ExplainRequest,
        fbt,
        interactions::Actor,
        rec_tracking::{self, Served, ServedItem},
        recommendations::{Ctx, ListItem, ListKind},
    },
    error::{ErrorBody, ErrorCode},
    http::{AuthUser, ValidQuery},
    reco::algorithm::Algorithm,
};

use crate::RecommendationsState;
use crate::models::*;

/// The header every list response carries.
pub const RECOMMENDATION_ID_HEADER: &str = "x-recommendation-id";

fn product_not_found() -> ApiError {
    ApiError::not_found("Product not found").with_code(ErrorCode::ProductNotFound)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn ctx(state: &RecommendationsState) -> Ctx<'_> {
    Ctx {
        app: &state.app,
        models: &state.models,
        serving: &state.serving,
    }
}

/// The caller: the signed-in user, else the guest cart named by `X-Cart-Id`.
fn actor_of(auth: Option<&AuthUser>, headers: &HeaderMap) -> Option<Actor> {
    let cart = headers.get("x-cart-id").and_then(|v| v.to_str().ok());
    Actor::of_request(auth.map(|a| a.user_id.as_str()), cart)
}

fn with_id<T: serde::Serialize>(id: &str, body: T) -> ApiResult<Response> {
    let value = HeaderValue::from_str(id).map_err(ApiError::internal)?;
    Ok((
        [(HeaderName::from_static(RECOMMENDATION_ID_HEADER), value)],
        Json(body),
    )
        .into_response())
}

/// The arm `actor` is in for `recommendation_type`, and its hybrid weights. An experiments
/// read that fails serves the active config (logged), never an error.
async fn arm_of(
    state: &RecommendationsState,
    recommendation_type: &str,
    actor: Option<&Actor>,
) -> (Option<ArmRef>, Option<shared::reco::hybrid::HybridSpec>) {
    let Some(actor) = actor else {
        return (None, None);
    };
    let store = state.app.store.as_ref();
    let cache = Some(state.experiments.as_ref());
    match experiments::assignment_with(cache, store, recommendation_type, &actor.log_id()).await {
        Ok(Some(a)) => {
            let weights = match state.serving.arm_weights(&state.app, &a.config_id).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, config_id = %a.config_id, "arm config not read; active weights served");
                    None
                }
            };
            (Some(a.arm), weights)
        }
        Ok(None) => (None, None),
        Err(e) => {
            tracing::warn!(error = %e, "experiment assignment not read; no arm");
            (None, None)
        }
    }
}

/// Explains `items` (one batch) and records the served list; returns the list's id and the
/// explanations in order.
async fn explain_and_record(
    state: &RecommendationsState,
    recommendation_type: &str,
    blended: bool,
    actor: Option<Actor>,
    arm: Option<ArmRef>,
    items: &[ListItem],
) -> (String, Vec<String>) {
    let requests: Vec<ExplainRequest> = items
        .iter()
        .map(|i| ExplainRequest {
            algorithm: i.algorithm,
            reason: i.reason.clone(),
            product_id: i.product.id.clone(),
            product_name: i.product.name.clone(),
            category: (!i.category_name.is_empty()).then(|| i.category_name.clone()),
            context: i.context_name.clone(),
        })
        .collect();
    let id = rec_tracking::new_recommendation_id();
    let served = Served {
        recommendation_type: recommendation_type.to_string(),
        blended,
        actor,
        arm,
        items: items
            .iter()
            .map(|i| ServedItem {
                product_id: i.product.id.clone(),
                algorithm: i.algorithm,
                score: i.score,
            })
            .collect(),
    };
    let store = state.app.store.as_ref();
    let (explanations, recorded) = tokio::join!(
        state.explainer.explain(&requests),
        rec_tracking::record_served(store, &id, &served, chrono::Utc::now()),
    );
    if let Err(e) = recorded {
        tracing::warn!(error = %e, recommendation_id = %id, "served list not recorded");
    }
    (id, explanations)
}

pub(crate) fn items_of(
    items: Vec<ListItem>,
    explanations: Vec<String>,
    id: Option<&str>,
    arm: Option<&ArmRef>,
) -> Vec<RecommendedItem> {
    items
        .into_iter()
        .zip(
            explanations
                .into_iter()
                .chain(std::iter::repeat(String::new())),
        )
        .map(|(i, explanation)| RecommendedItem {
            product_id: i.product.id.clone(),
            product: ProductSummary::new(&i.product, &i.category_name),
            score: round4(f64::from(i.score)),
            reason: i.reason,
            algorithm: i.algorithm.name().to_string(),
            explanation,
            recommendation_id: id.map(str::to_string),
            experiment: arm.map(|a| ExperimentArm {
                experiment_id: a.experiment_id.clone(),
                arm: a.arm.clone(),
            }),
        })
        .collect()
}

/// A personal list as an array (user and product routes).
async fn personal_array(
    state: &RecommendationsState,
    kind: ListKind,
    actor: Option<Actor>,
    limit: u32,
) -> ApiResult<Response> {
    if let Some(p) = match &kind {
        ListKind::ProductPage(p) | ListKind::Product(p) => Some(p),
        _ => None,
    } {
        let snapshot = ctx(state).snapshot().await?;
        snapshot
            .product(p)
            .filter(|p| p.is_active)
            .ok_or_else(product_not_found)?;
    }
    let type_name = kind.type_name();
    let (arm, weights) = arm_of(state, type_name, actor.as_ref()).await;
    let items = ctx(state)
        .list(&kind, actor.as_ref(), weights, limit as usize)
        .await?;
    let (id, explanations) =
        explain_and_record(state, type_name, kind.blended(), actor, arm.clone(), &items).await;
    with_id(&id, items_of(items, explanations, Some(&id), arm.as_ref()))
}

/// Recommendations for the caller: `homepage` (the hybrid blend), `product_page` (also
/// viewed/bought and similar items of `product_id`), `cart` and `checkout` (complements of the
/// cart, never an item in it). Anonymous callers, or guests sending their cart id (`X-Cart-Id`),
/// get trending and popular items, personalised by the guest's own session interactions.
#[utoipa::path(
    get, path = "/api/v1/recommendations/user", tag = "recommendations",
    params(
        UserListParams,
        ("X-Cart-Id" = Option<String>, Header, description = "Guest cart id (without a token): the guest's session personalises the list"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<RecommendedItem>, headers(("X-Recommendation-Id" = String, description = "The list's id (also on each item)"))),
        (status = 401, description = "A token was sent and is not valid", body = ErrorBody),
        (status = 404, description = "Unknown product (product_page)", body = ErrorBody),
        (status = 422, description = "Unknown recommendation_type, product_id missing for product_page, limit outside 1-50", body = ErrorBody),
    )
)]
pub async fn user_recommendations(
    State(state): State<RecommendationsState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    ValidQuery(q): ValidQuery<UserListParams>,
) -> ApiResult<Response> {
    let product = q.product_id.clone().filter(|p| !p.trim().is_empty());
    let kind = match q.recommendation_type.as_deref().unwrap_or("homepage") {
        "product_page" => ListKind::ProductPage(product.ok_or_else(|| {
            ApiError::invalid_field(
                "product_id",
                "is required for recommendation_type=product_page",
            )
        })?),
        "cart" => ListKind::Cart,
        "checkout" => ListKind::Checkout,
        _ => ListKind::Homepage,
    };
    let actor = actor_of(auth.as_ref(), &headers);
    personal_array(&state, kind, actor, q.limit).await
}

/// Products to show with this one: also viewed/bought (item-kNN), similar (embeddings) and
/// frequently bought together, without what the caller bought or dismissed.
#[utoipa::path(
    get, path = "/api/v1/recommendations/product/{product_id}", tag = "recommendations",
    params(("product_id" = String, Path, description = "Product id"), LimitParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<RecommendedItem>, headers(("X-Recommendation-Id" = String, description = "The list's id (also on each item)"))),
        (status = 401, description = "A token was sent and is not valid", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn product_recommendations(
    State(state): State<RecommendationsState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    Path(product_id): Path<String>,
    ValidQuery(q): ValidQuery<LimitParams>,
) -> ApiResult<Response> {
    let actor = actor_of(auth.as_ref(), &headers);
    personal_array(&state, ListKind::Product(product_id), actor, q.limit).await
}

/// Products frequently bought with this one (association rules: `confidence`, `lift`), active
/// ones only.
#[utoipa::path(
    get, path = "/api/v1/recommendations/fbt/{product_id}", tag = "recommendations",
    params(("product_id" = String, Path, description = "Product id"), FbtParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = FbtList, headers(("X-Recommendation-Id" = String, description = "The list's id (also the body's recommendation_id)"))),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn fbt_recommendations(
    State(state): State<RecommendationsState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    Path(product_id): Path<String>,
    ValidQuery(q): ValidQuery<FbtParams>,
) -> ApiResult<Response> {
    let snapshot = ctx(&state).snapshot().await?;
    let subject = snapshot
        .product(&product_id)
        .filter(|p| p.is_active)
        .ok_or_else(product_not_found)?
        .clone();
    let (rules, _) =
        fbt::rules_for(state.app.store.as_ref(), &product_id, q.limit as usize + 10).await?;
    let mut chosen = Vec::new();
    for r in rules {
        if chosen.len() >= q.limit as usize {
            break;
        }
        if let Some(p) = snapshot.product(&r.consequent).filter(|p| p.is_active) {
            chosen.push((
                ListItem {
                    category_name: snapshot
                        .category_name(&p.category_id)
                        .unwrap_or("")
                        .to_string(),
                    score: (r.confidence as f32).clamp(0.0, 1.0),
                    algorithm: Algorithm::Fbt,
                    reason: "frequently_bought_together".into(),
                    context_name: Some(subject.name.clone()),
                    order_count: p.order_count,
                    product: p.clone(),
                },
                r.confidence,
                r.lift,
            ));
        }
    }
    let items: Vec<ListItem> = chosen.iter().map(|c| c.0.clone()).collect();
    let actor = actor_of(auth.as_ref(), &headers);
    let (id, explanations) = explain_and_record(&state, "fbt", false, actor, None, &items).await;
    let recommendations = chosen
        .into_iter()
        .zip(
            explanations
                .into_iter()
                .chain(std::iter::repeat(String::new())),
        )
        .map(|((i, confidence, lift), explanation)| FbtItem {
            product_id: i.product.id.clone(),
            product_name: i.product.name.clone(),
            price: i.product.price.to_f64(),
            confidence: round4(confidence),
            lift: (lift * 100.0).round() / 100.0,
            in_stock: i.product.available(),
            product: ProductDetail::new(&i.product, &i.category_name),
            explanation,
            score: round4(f64::from(i.score)),
            algorithm: Algorithm::Fbt.name().into(),
            reason: i.reason,
        })
        .collect();
    with_id(
        &id,
        FbtList {
            product_id,
            recommendations,
            recommendation_id: id.clone(),
        },
    )
}

/// The most popular products (orders and views; the `popularity` model when trained).
#[utoipa::path(
    get, path = "/api/v1/recommendations/popular", tag = "recommendations",
    params(LimitParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<PopularItem>, headers(("X-Recommendation-Id" = String, description = "The list's id (also on each item)"))),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn popular(
    State(state): State<RecommendationsState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    ValidQuery(q): ValidQuery<LimitParams>,
) -> ApiResult<Response> {
    let actor = actor_of(auth.as_ref(), &headers);
    let items = ctx(&state)
        .global(Algorithm::Popular, q.limit as usize)
        .await?;
    let (id, explanations) =
        explain_and_record(&state, "popular", false, actor, None, &items).await;
    let out: Vec<PopularItem> = items
        .into_iter()
        .zip(
            explanations
                .into_iter()
                .chain(std::iter::repeat(String::new())),
        )
        .map(|(i, explanation)| PopularItem {
            id: i.product.id.clone(),
            name: i.product.name.clone(),
            price: i.product.price.to_f64(),
            popularity_score: round4(f64::from(i.score)),
            order_count: i.order_count,
            product_id: i.product.id.clone(),
            product: ProductSummary::new(&i.product, &i.category_name),
            score: round4(f64::from(i.score)),
            reason: i.reason,
            algorithm: i.algorithm.name().into(),
            explanation,
            recommendation_id: id.clone(),
        })
        .collect();
    with_id(&id, out)
}

async fn explained_list(
    state: &RecommendationsState,
    algorithm: Algorithm,
    actor: Option<Actor>,
    limit: u32,
) -> ApiResult<Response> {
    let type_name = algorithm.name();
    let items = ctx(state).global(algorithm, limit as usize).await?;
    let (id, explanations) = explain_and_record(state, type_name, false, actor, None, &items).await;
    with_id(
        &id,
        ExplainedList {
            recommendations: items_of(items, explanations, None, None),
            recommendation_type: type_name.into(),
            recommendation_id: id.clone(),
        },
    )
}

/// Products trending now (time-decayed recent activity; popular ones until a `trending` model
/// is trained).
#[utoipa::path(
    get, path = "/api/v1/recommendations/trending", tag = "recommendations",
    params(LimitParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = ExplainedList, headers(("X-Recommendation-Id" = String, description = "The list's id (also the body's recommendation_id)"))),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn trending(
    State(state): State<RecommendationsState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    ValidQuery(q): ValidQuery<LimitParams>,
) -> ApiResult<Response> {
    let actor = actor_of(auth.as_ref(), &headers);
    explained_list(&state, Algorithm::Trending, actor, q.limit).await
}

/// The newest active, in-stock products.
#[utoipa::path(
    get, path = "/api/v1/recommendations/new-arrivals", tag = "recommendations",
    params(LimitParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = ExplainedList, headers(("X-Recommendation-Id" = String, description = "The list's id (also the body's recommendation_id)"))),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn new_arrivals(
    State(state): State<RecommendationsState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    ValidQuery(q): ValidQuery<LimitParams>,
) -> ApiResult<Response> {
    let actor = actor_of(auth.as_ref(), &headers);
    explained_list(&state, Algorithm::NewArrivals, actor, q.limit).await
}

/// A user's personalised recommendations (the hybrid blend). Private data: only that user, or a
/// holder of `users.view`.
#[utoipa::path(
    get, path = "/api/v1/recommendations/recommendations/{user_id}", tag = "recommendations",
    params(("user_id" = String, Path, description = "User id"), LimitParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PersonalizedList, headers(("X-Recommendation-Id" = String, description = "The list's id (also the body's recommendation_id)"))),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Another user's recommendations without users.view", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn personalized(
    State(state): State<RecommendationsState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ValidQuery(q): ValidQuery<LimitParams>,
) -> ApiResult<Response> {
    if auth.user_id != user_id && !auth.has(Permission::UsersView) {
        return Err(ApiError::forbidden(
            "Recommendations are private: only that user or a holder of users.view",
        ));
    }
    let kind = ListKind::Personalized;
    let actor = Some(Actor::User(user_id.clone()));
    let (arm, weights) = arm_of(&state, kind.type_name(), actor.as_ref()).await;
    let items = ctx(&state)
        .list(&kind, actor.as_ref(), weights, q.limit as usize)
        .await?;
    let (id, explanations) =
        explain_and_record(&state, kind.type_name(), true, actor, arm.clone(), &items).await;
    with_id(
        &id,
        PersonalizedList {
            user_id,
            recommendations: items_of(items, explanations, None, arm.as_ref()),
            recommendation_type: kind.type_name().into(),
            recommendation_id: id.clone(),
        },
    )
}
