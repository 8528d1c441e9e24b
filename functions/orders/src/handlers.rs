//! Handlers of the orders routes.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
};
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    auth::Permission,
    domain::{
        interactions,
        orders::{self, OrderAddress, PlaceOrder},
        users,
    },
    error::ErrorBody,
    http::{AuthUser, ValidJson, ValidQuery},
};

use crate::models::*;

fn order_not_found() -> ApiError {
    ApiError::not_found("Order not found").with_code(ErrorCode::OrderNotFound)
}

/// The `Idempotency-Key` header: 1-100 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=100).contains(&k.len()) && k.chars().all(|c| c.is_ascii_graphic()))
        .map(|k| Some(k.to_string()))
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidIdempotencyKey,
                "Idempotency-Key must be 1-100 visible ASCII characters",
            )
        })
}

/// Place an order from the caller's cart: stock is taken, the order written and the cart emptied
/// in one transaction. With `Idempotency-Key`, a retry returns the same order (200 instead of 201).
#[utoipa::path(
    post, path = "/api/v1/orders", tag = "orders",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key, same order")),
    request_body = CreateOrderRequest,
    responses(
        (status = 201, description = "Order placed", body = OrderDetail),
        (status = 200, description = "The order an earlier request with this Idempotency-Key placed", body = OrderDetail),
        (status = 400, description = "Empty cart, or a malformed body or header", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "Not enough stock, product unavailable, or the cart changed", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn create_order(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    ValidJson(req): ValidJson<CreateOrderRequest>,
) -> ApiResult<(StatusCode, Json<OrderDetail>)> {
    let idempotency_key = idempotency_key(&headers)?;
    let store = state.store.as_ref();
    let user = users::get(store, &auth.user_id)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(|| {
            ApiError::forbidden("Account is disabled").with_code(ErrorCode::AccountDisabled)
        })?;
    let billing = match req.billing_address {
        Some(a) => a,
        None => {
            let a = user.address.ok_or_else(|| {
                ApiError::invalid_field(
                    "billing_address",
                    "required: the profile has no address to use",
                )
            })?;
            OrderAddress {
                name: Some(format!("{} {}", user.first_name, user.last_name)),
                street: a.street,
                city: a.city,
                state: a.state,
                zip_code: a.zip_code,
                country: a.country,
            }
        }
    };
    let shipping = req.shipping_address.unwrap_or_else(|| billing.clone());
    let (order, created) = orders::place(
        store,
        PlaceOrder {
            user_id: auth.user_id.clone(),
            billing_address: billing,
            shipping_address: shipping,
            payment_method: req
                .payment_method
                .unwrap_or_else(|| "cash_on_delivery".into()),
            recommendation_source: req.recommendation_source,
            recommendation_session_id: req.recommendation_session_id,
            order_notes: req.order_notes,
            idempotency_key,
        },
    )
    .await?;
    if created {
        tracing::info!(order_id = %order.id, total = %order.total_amount, "order placed");
        // One purchase per line, only for the order this request placed (not an idempotent
        // replay of an earlier one).
        interactions::record_if(
            state.config.record_interactions,
            store,
            &orders::purchase_signals(&order, 1),
        )
        .await;
        shared::domain::analytics::record_logged(
            store,
            shared::domain::analytics::Event::OrderPlaced(&order),
        )
        .await;
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(order.into())))
}

/// The caller's orders, newest first (total in `X-Total-Count`).
#[utoipa::path(
    get, path = "/api/v1/orders", tag = "orders",
    security(("bearer" = [])),
    params(ListOrdersQuery),
    responses(
        (status = 200, body = Vec<OrderSummary>, headers(("X-Total-Count" = u64, description = "Matching orders"))),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn list_orders(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<ListOrdersQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<OrderSummary>>)> {
    let (page, total) = orders::list_for_user(
        state.store.as_ref(),
        &auth.user_id,
        q.status,
        q.page as usize,
        q.page_size as usize,
    )
    .await?;
    let headers = shared::http::pagination::total_count_header(total);
    Ok((
        headers,
        Json(page.into_iter().map(OrderSummary::from).collect()),
    ))
}

/// One order: the caller's own, or any order with `orders.view_all`.
#[utoipa::path(
    get, path = "/api/v1/orders/{order_id}", tag = "orders",
    security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = OrderDetail),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_order(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(order_id): Path<String>,
) -> ApiResult<Json<OrderDetail>> {
    let order = orders::get(state.store.as_ref(), &order_id)
        .await?
        .filter(|o| o.user_id == auth.user_id || auth.has(Permission::OrdersViewAll))
        .ok_or_else(order_not_found)?;
    Ok(Json(order.into()))
}
