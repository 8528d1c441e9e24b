//! Handlers of the auth routes.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    auth::{Role, password, permissions_for},
    domain::{
        cart, interactions, login_throttle,
        users::{self, NewUser},
    },
    error::ErrorBody,
    http::{ClientAddr, JsonOrForm, ValidJson, ValidQuery},
};

use crate::models::*;

/// The one message for a wrong password and an unknown account, so neither is revealed.
const BAD_CREDENTIALS: &str = "Incorrect username or password";

/// Register a customer account.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = RegisterResponse),
        (status = 400, description = "Malformed JSON or wrong types", body = ErrorBody),
        (status = 409, description = "Email or username taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<RegisterResponse>)> {
    let password_hash = password::hash_password(&req.password).await?;
    let user = users::create(
        state.store.as_ref(),
        NewUser {
            email: req.email,
            username: req.username,
            first_name: req.first_name.trim().to_string(),
            last_name: req.last_name.trim().to_string(),
            phone: req.phone,
            address: req.address,
            is_active: true,
            roles: vec![Role::Customer],
            password_hash,
        },
    )
    .await?;
    tracing::info!(user_id = %user.id, "user registered");
    shared::domain::analytics::record_logged(
        state.store.as_ref(),
        shared::domain::analytics::user_created(&user),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            id: user.id,
            email: user.email,
            username: user.username,
            first_name: user.first_name,
            last_name: user.last_name,
            message: "User registered successfully".into(),
        }),
    ))
}

/// Check whether a username is free (case-insensitive).
#[utoipa::path(
    post, path = "/api/v1/auth/check-username", tag = "auth",
    params(UsernameQuery),
    responses(
        (status = 200, body = UsernameAvailability),
        (status = 422, description = "Missing or malformed username", body = ErrorBody),
    )
)]
pub async fn check_username(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<UsernameQuery>,
) -> ApiResult<Json<UsernameAvailability>> {
    let available = users::username_available(state.store.as_ref(), &q.username).await?;
    Ok(Json(UsernameAvailability {
        available,
        message: if available {
            "Username is available"
        } else {
            "Username is already taken"
        }
        .into(),
    }))
}

/// Log in with email or username; returns a 30-minute bearer token.
///
/// Failed attempts are counted per (login name, client address) and per client address; while
/// either count of the current window (15 minutes) is at its limit (5 and 20 by default) the
/// login answers 429 with `Retry-After`, whether or not an account has that name. Another address
/// is not affected, so strangers cannot lock an owner out. With an `X-Cart-Id` header, that guest
/// cart is merged into the user's cart.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    params(("X-Cart-Id" = Option<String>, Header, description = "Guest cart to merge into the user's cart")),
    request_body(content(
        (LoginRequest = "application/x-www-form-urlencoded"),
        (LoginRequest = "application/json"),
    )),
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "Wrong credentials", body = ErrorBody),
        (status = 403, description = "Account disabled", body = ErrorBody),
        (status = 422, description = "Missing fields", body = ErrorBody),
        (status = 429, description = "Too many failed attempts from this address", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    JsonOrForm(req): JsonOrForm<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let store = state.store.as_ref();
    let limits = login_throttle::Limits::from_config(&state.config);
    // The throttle is checked whatever the account lookup finds (both reads run together): a
    // throttled attempt costs and says the same for every login name.
    let login_hash = login_throttle::login_hash(&req.username);
    let (throttled, user) = tokio::try_join!(
        login_throttle::throttled(store, &login_hash, &address, limits),
        users::find_by_login(store, &req.username),
    )?;
    if let Some(retry_after) = throttled {
        return Err(ApiError::too_many_requests(
            "Too many failed login attempts; try again later",
            retry_after,
        )
        .with_code(ErrorCode::TooManyLoginAttempts));
    }
    let verified = match &user {
        Some(u) => password::verify_password(&u.password_hash, &req.password).await,
        None => {
            // Same time as a real verification, so timing does not reveal unknown accounts.
            password::verify_dummy(&req.password).await;
            false
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        login_throttle::record_failure(store, &login_hash, &address, limits.window_secs).await?;
        tracing::info!(%address, "failed login");
        return Err(ApiError::unauthorized(
            ErrorCode::InvalidCredentials,
            BAD_CREDENTIALS,
        ));
    };
    if !user.is_active {
        return Err(
            ApiError::forbidden("Account is disabled").with_code(ErrorCode::AccountDisabled)
        );
    }
    login_throttle::clear(store, &login_hash, &address).await?;
    let user = users::record_login(store, &user.id).await?;
    shared::domain::analytics::record_logged(
        store,
        shared::domain::analytics::Event::Login {
            user_id: &user.id,
            at: chrono::Utc::now(),
        },
    )
    .await;
    merge_guest_cart(&state, &headers, &user.id).await;
    let token = state.jwt.issue_at_version(
        &user.id,
        user.roles.clone(),
        permissions_for(&user.roles),
        user.auth_version,
    )?;
    Ok(Json(LoginResponse {
        access_token: token,
        token_type: "bearer".into(),
        expires_in: state.jwt.ttl_secs(),
        user: LoginUser {
            id: user.id,
            email: user.email,
            username: user.username,
            first_name: user.first_name,
            last_name: user.last_name,
        },
    }))
}

/// Merges the guest cart named by `X-Cart-Id` into the user's cart, and the guest's interactions
/// into the user's history. A failure here must not fail the login: it is logged and the guest's
/// cart or interactions stay where they were.
async fn merge_guest_cart(state: &AppState, headers: &HeaderMap, user_id: &str) {
    let Some(cart_id) = headers
        .get("x-cart-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
    else {
        return;
    };
    let cart_id = cart_id.to_string();
    let store = state.store.as_ref();
    let (lines, history) = tokio::join!(
        cart::merge_guest(store, &cart_id, user_id),
        interactions::merge_guest(store, &cart_id, user_id)
    );
    match lines {
        Ok(0) => {}
        Ok(n) => tracing::info!(lines = n, "guest cart merged at login"),
        Err(e) => tracing::warn!(error = %e, "could not merge the guest cart at login"),
    }
    match history {
        Ok(0) => {}
        Ok(n) => tracing::info!(pairs = n, "guest interactions merged at login"),
        Err(e) => tracing::warn!(error = %e, "could not merge the guest interactions at login"),
    }
}
