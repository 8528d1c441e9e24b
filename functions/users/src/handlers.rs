//! Handlers of the users routes. Every route acts on the caller (from the token) and refuses a
//! disabled account.

use axum::{
    Json,
    extract::{Path, State},
};
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    domain::{
        catalog,
        interactions::{self, Actor, InteractionKind, Signal},
        users::{self, Address, Preferences, UserRecord},
        viewed,
    },
    error::ErrorBody,
    http::{AuthUser, ValidJson, ValidQuery},
};

use crate::models::*;

/// The caller's record; 404 when the account is gone, 403 when it is disabled.
async fn current(state: &AppState, auth: &AuthUser) -> ApiResult<UserRecord> {
    let user = users::get(state.store.as_ref(), &auth.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found").with_code(ErrorCode::UserNotFound))?;
    if !user.is_active {
        return Err(
            ApiError::forbidden("Account is disabled").with_code(ErrorCode::AccountDisabled)
        );
    }
    Ok(user)
}

/// Applies `change` to the caller's record (refusing a disabled account).
async fn update_current<F>(
    state: &AppState,
    auth: &AuthUser,
    mut change: F,
) -> ApiResult<UserRecord>
where
    F: FnMut(&mut UserRecord) + Send,
{
    current(state, auth).await?;
    users::update(state.store.as_ref(), &auth.user_id, |u| {
        change(u);
        true
    })
    .await
    .map_err(ApiError::from)
}

fn message(text: &str) -> Json<Message> {
    Json(Message {
        message: text.into(),
    })
}

/// The caller's profile with roles and effective permissions.
#[utoipa::path(
    get, path = "/api/v1/users/profile", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Profile),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_profile(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Profile>> {
    Ok(Json(current(&state, &auth).await?.into()))
}

/// Update names, phone, date of birth, gender and address; omitted fields are unchanged.
#[utoipa::path(
    put, path = "/api/v1/users/profile", tag = "users",
    security(("bearer" = [])),
    request_body = UpdateProfileRequest,
    responses(
        (status = 200, body = Message),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_profile(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(req): ValidJson<UpdateProfileRequest>,
) -> ApiResult<Json<Message>> {
    update_current(&state, &auth, |u| {
        if let Some(v) = &req.first_name {
            u.first_name = v.trim().to_string();
        }
        if let Some(v) = &req.last_name {
            u.last_name = v.trim().to_string();
        }
        if req.phone.is_some() {
            u.phone.clone_from(&req.phone);
        }
        if req.date_of_birth.is_some() {
            u.date_of_birth.clone_from(&req.date_of_birth);
        }
        if req.gender.is_some() {
            u.gender.clone_from(&req.gender);
        }
        if req.address.is_some() {
            u.address.clone_from(&req.address);
        }
    })
    .await?;
    Ok(message("Profile updated successfully"))
}

/// Change the caller's username (unique, case-insensitive).
#[utoipa::path(
    put, path = "/api/v1/users/username", tag = "users",
    security(("bearer" = [])),
    request_body = UpdateUsernameRequest,
    responses(
        (status = 200, body = UsernameUpdated),
        (status = 401, body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_username(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(req): ValidJson<UpdateUsernameRequest>,
) -> ApiResult<Json<UsernameUpdated>> {
    let user = update_current(&state, &auth, |u| u.username = Some(req.username.clone())).await?;
    Ok(Json(UsernameUpdated {
        message: "Username updated successfully".into(),
        username: user.username.unwrap_or_default(),
    }))
}

/// Replace the caller's address.
#[utoipa::path(
    put, path = "/api/v1/users/address", tag = "users",
    security(("bearer" = [])),
    request_body = Address,
    responses(
        (status = 200, body = Message),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_address(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(address): ValidJson<Address>,
) -> ApiResult<Json<Message>> {
    update_current(&state, &auth, |u| u.address = Some(address.clone())).await?;
    Ok(message("Address updated successfully"))
}

/// The caller's shopping preferences (defaults when never set).
#[utoipa::path(
    get, path = "/api/v1/users/preferences", tag = "users",
    security(("bearer" = [])),
    responses((status = 200, body = Preferences), (status = 401, body = ErrorBody))
)]
pub async fn get_preferences(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Preferences>> {
    current(&state, &auth).await?;
    Ok(Json(
        users::get_preferences(state.store.as_ref(), &auth.user_id).await?,
    ))
}

/// Replace the caller's shopping preferences.
#[utoipa::path(
    post, path = "/api/v1/users/preferences", tag = "users",
    security(("bearer" = [])),
    request_body = Preferences,
    responses(
        (status = 200, body = Message),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_preferences(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(prefs): ValidJson<Preferences>,
) -> ApiResult<Json<Message>> {
    current(&state, &auth).await?;
    users::set_preferences(state.store.as_ref(), &auth.user_id, &prefs).await?;
    Ok(message("Preferences updated successfully"))
}

/// The caller's recently viewed products, most recent first (products deleted since are skipped).
#[utoipa::path(
    get, path = "/api/v1/users/viewed-products", tag = "users",
    security(("bearer" = [])),
    params(ViewedParams),
    responses(
        (status = 200, body = ViewedProducts),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn list_viewed(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<ViewedParams>,
) -> ApiResult<Json<ViewedProducts>> {
    current(&state, &auth).await?;
    let store = state.store.as_ref();
    let entries: Vec<_> = viewed::list(store, &auth.user_id)
        .await?
        .into_iter()
        .take(q.limit as usize)
        .collect();
    let ids: Vec<String> = entries.iter().map(|e| e.product_id.clone()).collect();
    let products = catalog::get_products(store, &ids).await?;
    let viewed_products = entries
        .into_iter()
        .filter_map(|e| {
            let p = products.iter().find(|p| p.id == e.product_id)?;
            Some(ViewedProduct {
                id: p.id.clone(),
                name: p.name.clone(),
                price: p.price.to_f64(),
                brand: p.brand.clone(),
                images: p.images.clone(),
                in_stock: p.available(),
                is_active: p.is_active,
                viewed_at: e.viewed_at,
            })
        })
        .collect();
    Ok(Json(ViewedProducts { viewed_products }))
}

/// Adds a product to the caller's viewed history (moving it to the front if it is there) and
/// records a view in the interaction log.
#[utoipa::path(
    post, path = "/api/v1/users/viewed-products/{product_id}", tag = "users",
    security(("bearer" = [])),
    params(("product_id" = String, Path, description = "Product id")),
    responses(
        (status = 200, body = Message),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn add_viewed(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(product_id): Path<String>,
) -> ApiResult<Json<Message>> {
    current(&state, &auth).await?;
    let store = state.store.as_ref();
    catalog::get_product(store, &product_id)
        .await?
        .filter(|p| p.is_active)
        .ok_or_else(|| {
            ApiError::not_found("Product not found").with_code(ErrorCode::ProductNotFound)
        })?;
    viewed::add(store, &auth.user_id, &product_id).await?;
    shared::domain::analytics::record_logged(
        store,
        shared::domain::analytics::Event::ProductView {
            user_id: Some(&auth.user_id),
            product_id: &product_id,
            at: chrono::Utc::now(),
        },
    )
    .await;
    interactions::record_if(
        state.config.record_interactions,
        store,
        &[Signal::new(
            Actor::User(auth.user_id.clone()),
            product_id,
            InteractionKind::View,
        )],
    )
    .await;
    Ok(message("Product added to viewed history"))
}

/// Clears the caller's viewed history.
#[utoipa::path(
    delete, path = "/api/v1/users/viewed-products", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Message),
        (status = 401, body = ErrorBody),
    )
)]
pub async fn clear_viewed(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Message>> {
    current(&state, &auth).await?;
    viewed::clear(state.store.as_ref(), &auth.user_id).await?;
    Ok(message("Viewed products history cleared"))
}
