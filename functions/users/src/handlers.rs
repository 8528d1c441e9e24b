//! Handlers of the users routes. Every route acts on the caller (from the token) and refuses a
//! disabled account.

use axum::{Json, extract::State};
use shared::{
    ApiError, ApiResult, AppState,
    domain::users::{self, Address, Preferences, UserRecord},
    error::ErrorBody,
    http::{AuthUser, ValidJson},
};

use crate::models::*;

/// The caller's record; 404 when the account is gone, 403 when it is disabled.
async fn current(state: &AppState, auth: &AuthUser) -> ApiResult<UserRecord> {
    let user = users::get(state.store.as_ref(), &auth.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found").with_code("USER_NOT_FOUND"))?;
    if !user.is_active {
        return Err(ApiError::forbidden("Account is disabled").with_code("ACCOUNT_DISABLED"));
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
