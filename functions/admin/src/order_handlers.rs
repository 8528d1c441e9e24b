//! Handlers of the admin order routes (`orders.view_all`, `orders.update`).

use axum::{
    Json,
    extract::{Path, State},
    http::HeaderMap,
};
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    api::orders::OrderLineBody,
    auth::Permission,
    domain::{
        interactions,
        orders::{self, OrderRecord, OrderStatus},
        users,
    },
    error::ErrorBody,
    http::{AuthUser, ValidJson, ValidQuery},
};

use crate::order_models::*;

async fn detail(state: &AppState, o: OrderRecord) -> ApiResult<AdminOrderDetail> {
    let user = users::get(state.store.as_ref(), &o.user_id).await?;
    Ok(AdminOrderDetail {
        id: o.id,
        order_number: o.order_number,
        user: user.map(|u| OrderCustomer {
            id: u.id,
            email: u.email,
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            address: u.address,
        }),
        subtotal: o.subtotal.to_f64(),
        tax_amount: o.tax_amount.to_f64(),
        shipping_amount: o.shipping_amount.to_f64(),
        total_amount: o.total_amount.to_f64(),
        status: o.status,
        payment_status: o.payment_status,
        payment_method: o.payment_method,
        billing_address: o.billing_address,
        shipping_address: o.shipping_address,
        items: o.items.iter().map(OrderLineBody::from).collect(),
        recommendation_source: o.recommendation_source,
        recommendation_session_id: o.recommendation_session_id,
        order_notes: o.order_notes,
        admin_notes: o.admin_notes,
        created_at: o.created_at,
        updated_at: o.updated_at,
    })
}

/// Every order, newest first, with its customer (total in `X-Total-Count`).
#[utoipa::path(
    get, path = "/api/v1/admin/orders", tag = "admin", operation_id = "admin_list_orders",
    security(("bearer" = [])),
    params(ListOrdersQuery),
    responses(
        (status = 200, body = Vec<AdminOrderSummary>, headers(("X-Total-Count" = u64, description = "Matching orders"))),
        (status = 403, description = "Requires orders.view_all", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn list_orders(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<ListOrdersQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<AdminOrderSummary>>)> {
    auth.require(Permission::OrdersViewAll)?;
    let store = state.store.as_ref();
    let (page, total) =
        orders::list_all(store, q.status, q.page as usize, q.page_size as usize).await?;
    let ids: Vec<&str> = page.iter().map(|o| o.user_id.as_str()).collect();
    let customers = users::get_many(store, &ids).await?;
    let mut out = Vec::with_capacity(page.len());
    for o in page {
        let customer = customers.get(&o.user_id);
        out.push(AdminOrderSummary {
            items_count: o.items.iter().map(|i| i.quantity).sum(),
            customer_email: customer.map(|u| u.email.clone()),
            customer_username: customer.and_then(|u| u.username.clone()),
            id: o.id,
            order_number: o.order_number,
            user_id: o.user_id,
            total_amount: o.total_amount.to_f64(),
            status: o.status,
            payment_method: o.payment_method,
            payment_status: o.payment_status,
            created_at: o.created_at,
        });
    }
    let headers = shared::http::pagination::total_count_header(total);
    Ok((headers, Json(out)))
}

/// One order with its customer.
#[utoipa::path(
    get, path = "/api/v1/admin/orders/{order_id}", tag = "admin", operation_id = "admin_get_order",
    security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = AdminOrderDetail),
        (status = 403, description = "Requires orders.view_all", body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_order(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(order_id): Path<String>,
) -> ApiResult<Json<AdminOrderDetail>> {
    auth.require(Permission::OrdersViewAll)?;
    let order = orders::get(state.store.as_ref(), &order_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("Order not found").with_code(ErrorCode::OrderNotFound)
        })?;
    Ok(Json(detail(&state, order).await?))
}

/// Move an order along pending -> confirmed -> shipped -> delivered (confirming may be skipped:
/// pending -> shipped), or cancel it from pending or confirmed (the stock goes back in the same
/// transaction) and its purchases withdrawn from the interaction log. Other moves are 409.
#[utoipa::path(
    put, path = "/api/v1/admin/orders/{order_id}/status", tag = "admin",
    security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    request_body = UpdateStatusRequest,
    responses(
        (status = 200, body = AdminOrderDetail),
        (status = 403, description = "Requires orders.update", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Transition not allowed", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_status(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(order_id): Path<String>,
    ValidJson(req): ValidJson<UpdateStatusRequest>,
) -> ApiResult<Json<AdminOrderDetail>> {
    auth.require(Permission::OrdersUpdate)?;
    let status: OrderStatus = req
        .status
        .parse()
        .map_err(|_| ApiError::invalid_field("status", "Unknown order status"))?;
    let (order, from) = orders::update_status_from(
        state.store.as_ref(),
        &order_id,
        status,
        req.admin_notes
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
    )
    .await?;
    tracing::info!(order_id = %order.id, status = %order.status, "order status changed");
    shared::domain::analytics::record_logged(
        state.store.as_ref(),
        shared::domain::analytics::Event::OrderStatusChanged {
            order: &order,
            from,
        },
    )
    .await;
    // `update_status` returned this order, so this request made the transition (a repeated
    // cancel is 409 and gets here no more): each line's purchase is withdrawn exactly once, while
    // the customer is read for the answer.
    let withdrawn = if order.status == OrderStatus::Cancelled {
        orders::purchase_signals(&order, -1)
    } else {
        Vec::new()
    };
    let (detail, ()) = tokio::join!(
        detail(&state, order),
        interactions::record_if(
            state.config.record_interactions,
            state.store.as_ref(),
            &withdrawn
        )
    );
    Ok(Json(detail?))
}
