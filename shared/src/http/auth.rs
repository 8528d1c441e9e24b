//! `Authorization: Bearer <JWT>` extractor and permission checks.
//!
//! A token is checked against its account on every authenticated route (optional-auth routes
//! too): a token for an account that does not exist, is deactivated, or whose roles changed after
//! the token was issued is refused with 401. See [`authorize`].

use axum::{
    extract::{FromRef, FromRequestParts, OptionalFromRequestParts},
    http::{header, request::Parts},
};

use crate::error::ErrorCode;
use crate::{
    AppState,
    auth::{AccountStatus, Claims, JwtError, Permission, has_permission, permissions_for},
    domain::users,
    error::ApiError,
};

/// The authenticated caller, from a verified access token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

impl AuthUser {
    /// 403 unless the caller's roles cover `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "Missing permission: {permission}"
            )))
        }
    }

    pub fn has(&self, permission: Permission) -> bool {
        has_permission(&self.permissions, permission.as_str())
    }

    /// Whether a role other than `customer` covers `permission`. Spec 002 grants customers
    /// some permissions for their own data only (`analytics.view`): a route showing other
    /// users' or shop-wide figures asks this instead of [`AuthUser::has`].
    pub fn has_beyond_own(&self, permission: Permission) -> bool {
        let staff: Vec<&String> = self
            .roles
            .iter()
            .filter(|r| crate::auth::Role::parse(r) != Some(crate::auth::Role::Customer))
            .collect();
        self.has(permission) && has_permission(&permissions_for(&staff), permission.as_str())
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(ErrorCode::NotAuthenticated, "Not authenticated")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    ErrorCode::InvalidToken,
                    "Authorization header must be 'Bearer <token>'",
                )
            })?;
        let claims = state.jwt.verify(token).map_err(|e| match e {
            JwtError::Expired => {
                ApiError::unauthorized(ErrorCode::TokenExpired, "Token has expired")
            }
            JwtError::Invalid => {
                ApiError::unauthorized(ErrorCode::InvalidToken, "Could not validate credentials")
            }
        })?;
        authorize(&state, claims).await
    }
}

/// The caller a verified token stands for, as the account is now: the account must exist, be
/// active, and still be at the auth version the token was issued at (a role change or a
/// deactivation moves it on, so older tokens are refused: the client logs in again). Roles and
/// permissions come from the account, not from the token. Costs one GetItem, or nothing while
/// this instance's copy of the account's status is fresh (`AUTH_STATUS_CACHE_SECONDS`).
async fn authorize(state: &AppState, claims: Claims) -> Result<AuthUser, ApiError> {
    let status = account_status(state, &claims.sub, claims.auth_version).await?;
    let Some(status) = status else {
        return Err(ApiError::unauthorized(
            ErrorCode::InvalidToken,
            "Could not validate credentials",
        ));
    };
    if !status.active {
        return Err(ApiError::unauthorized(
            ErrorCode::AccountDisabled,
            "Account is disabled",
        ));
    }
    if status.auth_version != claims.auth_version {
        return Err(ApiError::unauthorized(
            ErrorCode::TokenRevoked,
            "The account's roles or status changed since this token was issued; log in again",
        ));
    }
    Ok(AuthUser {
        permissions: permissions_for(&status.roles),
        roles: status.roles,
        user_id: claims.sub,
    })
}

/// The account's status from this instance's cache, or from the store when the cache has none,
/// or has one older than the token (the token proves a newer version exists).
async fn account_status(
    state: &AppState,
    user_id: &str,
    token_version: u64,
) -> Result<Option<AccountStatus>, ApiError> {
    let cached = state.auth_status.get(user_id);
    if let Some(status) = cached
        && status
            .as_ref()
            .is_none_or(|s| s.auth_version >= token_version)
    {
        return Ok(status);
    }
    let status = users::account_status(state.store.as_ref(), user_id).await?;
    state.auth_status.put(user_id, status.clone());
    Ok(status)
}

/// Optional authentication: no `Authorization` header is `None`; a header with a bad, expired or
/// tampered token is still a 401 (a client that sends a token expects it to count).
impl<S> OptionalFromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            <Self as FromRequestParts<S>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}
