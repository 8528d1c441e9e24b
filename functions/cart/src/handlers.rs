//! Handlers of the cart routes. The cart is the caller's (bearer token) or, without a token, the
//! guest cart named by `X-Cart-Id`; adding to no cart at all starts a guest cart and returns its
//! id in `X-Cart-Id`.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue},
};
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    domain::{
        cart::{self, CartError, CartOwner},
        catalog,
        interactions::{self, Actor, InteractionKind, Signal},
    },
    error::ErrorBody,
    http::{AuthUser, ValidJson},
    money::Cents,
};

use crate::models::*;

/// The header that carries a guest cart's id.
pub const CART_ID_HEADER: &str = "x-cart-id";

fn cart_err(e: CartError) -> ApiError {
    e.into()
}

/// The guest cart id in `X-Cart-Id`, if any; it must be a UUID.
fn guest_id(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get(CART_ID_HEADER) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
        .map(|u| Some(u.to_string()))
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidCartId,
                "X-Cart-Id must be a cart id (UUID)",
            )
        })
}

/// Whose cart a request is about, when there is one.
fn owner(auth: &Option<AuthUser>, headers: &HeaderMap) -> ApiResult<Option<CartOwner>> {
    if let Some(user) = auth {
        return Ok(Some(CartOwner::User(user.user_id.clone())));
    }
    Ok(guest_id(headers)?.map(CartOwner::Guest))
}

/// Add a product to the cart (quantities of the same product add up, up to the stock). Each add is
/// recorded in the interaction log (the user's, or the guest cart's).
#[utoipa::path(
    post, path = "/api/v1/cart/add", tag = "cart",
    security((), ("bearer" = [])),
    params(("X-Cart-Id" = Option<String>, Header, description = "Guest cart id (without a token)")),
    request_body = AddItemRequest,
    responses(
        (status = 200, body = CartItem, headers(("X-Cart-Id" = String, description = "The guest cart id (guests only)"))),
        (status = 400, body = ErrorBody),
        (status = 404, description = "Unknown product", body = ErrorBody),
        (status = 409, description = "Not enough stock, or the cart is full", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn add_item(
    State(state): State<AppState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    ValidJson(req): ValidJson<AddItemRequest>,
) -> ApiResult<(HeaderMap, Json<CartItem>)> {
    let owner = owner(&auth, &headers)?
        .unwrap_or_else(|| CartOwner::Guest(uuid::Uuid::new_v4().to_string()));
    let line = cart::add(state.store.as_ref(), &owner, &req.product_id, req.quantity)
        .await
        .map_err(cart_err)?;
    let actor = match &owner {
        CartOwner::User(id) => Actor::User(id.clone()),
        CartOwner::Guest(id) => Actor::Guest(id.clone()),
    };
    shared::domain::analytics::record_logged(
        state.store.as_ref(),
        shared::domain::analytics::Event::CartAdd {
            user_id: auth.as_ref().map(|a| a.user_id.as_str()),
            product_id: &line.product_id,
            at: chrono::Utc::now(),
        },
    )
    .await;
    interactions::record_if(
        state.config.record_interactions,
        state.store.as_ref(),
        &[Signal::new(
            actor,
            line.product_id.clone(),
            InteractionKind::Cart,
        )],
    )
    .await;
    let mut out = HeaderMap::new();
    if let CartOwner::Guest(id) = &owner
        && let Ok(v) = HeaderValue::from_str(id)
    {
        out.insert(CART_ID_HEADER, v);
    }
    Ok((out, Json(CartItem::from(&line))))
}

/// The cart with current prices and totals (an empty cart when there is none yet).
#[utoipa::path(
    get, path = "/api/v1/cart", tag = "cart",
    security((), ("bearer" = [])),
    params(("X-Cart-Id" = Option<String>, Header, description = "Guest cart id (without a token)")),
    responses((status = 200, body = CartView), (status = 400, body = ErrorBody))
)]
pub async fn get_cart(
    State(state): State<AppState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
) -> ApiResult<Json<CartView>> {
    let Some(owner) = owner(&auth, &headers)? else {
        return Ok(Json(CartView {
            items: Vec::new(),
            total_items: 0,
            subtotal: 0.0,
            item_count: 0,
        }));
    };
    let store = state.store.as_ref();
    let lines = cart::lines(store, &owner).await?;
    let ids: Vec<String> = lines.iter().map(|l| l.product_id.clone()).collect();
    let products = catalog::get_products(store, &ids).await?;
    let mut items = Vec::with_capacity(lines.len());
    let mut subtotal = Cents::ZERO;
    for l in &lines {
        // Lines of products that no longer exist are not shown (and cannot be ordered).
        let Some(p) = products.iter().find(|p| p.id == l.product_id) else {
            continue;
        };
        subtotal = subtotal + p.price.times(l.quantity);
        items.push(CartLineView {
            id: l.id.clone(),
            product_id: l.product_id.clone(),
            quantity: l.quantity,
            unit_price: p.price.to_f64(),
            total_price: p.price.times(l.quantity).to_f64(),
            product: CartProduct {
                id: p.id.clone(),
                name: p.name.clone(),
                images: p.images.clone(),
                in_stock: p.is_active && p.available(),
            },
        });
    }
    let total_items = items.iter().map(|i| i.quantity).sum();
    let item_count = items.len();
    Ok(Json(CartView {
        items,
        total_items,
        subtotal: subtotal.to_f64(),
        item_count,
    }))
}

/// Set the quantity of a cart line.
#[utoipa::path(
    put, path = "/api/v1/cart/items/{item_id}", tag = "cart",
    security((), ("bearer" = [])),
    params(
        ("item_id" = String, Path, description = "Cart line id"),
        ("X-Cart-Id" = Option<String>, Header, description = "Guest cart id (without a token)"),
    ),
    request_body = UpdateItemRequest,
    responses(
        (status = 200, body = CartItem),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_item(
    State(state): State<AppState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    Path(item_id): Path<String>,
    ValidJson(req): ValidJson<UpdateItemRequest>,
) -> ApiResult<Json<CartItem>> {
    let owner = owner(&auth, &headers)?.ok_or_else(|| cart_err(CartError::ItemNotFound))?;
    let line = cart::set_quantity(state.store.as_ref(), &owner, &item_id, req.quantity)
        .await
        .map_err(cart_err)?;
    Ok(Json(CartItem::from(&line)))
}

/// Empty the cart.
#[utoipa::path(
    delete, path = "/api/v1/cart/clear", tag = "cart",
    security((), ("bearer" = [])),
    params(("X-Cart-Id" = Option<String>, Header, description = "Guest cart id (without a token)")),
    responses((status = 200, body = Message), (status = 400, body = ErrorBody))
)]
pub async fn clear_cart(
    State(state): State<AppState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
) -> ApiResult<Json<Message>> {
    if let Some(owner) = owner(&auth, &headers)? {
        cart::clear(state.store.as_ref(), &owner).await?;
    }
    Ok(Json(Message {
        message: "Cart cleared successfully".into(),
    }))
}
