//! `Authorization: Bearer <JWT>` extractor and permission checks.

use axum::{
    extract::{FromRef, FromRequestParts, OptionalFromRequestParts},
    http::{header, request::Parts},
};

use crate::{
    AppState,
    auth::{JwtError, has_permission},
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
    /// 403 unless the token's permissions cover `permission`.
    pub fn require(&self, permission: &str) -> Result<(), ApiError> {
        if has_permission(&self.permissions, permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "Missing permission: {permission}"
            )))
        }
    }

    pub fn has(&self, permission: &str) -> bool {
        has_permission(&self.permissions, permission)
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
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("NOT_AUTHENTICATED", "Not authenticated"))?;
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
                    "INVALID_TOKEN",
                    "Authorization header must be 'Bearer <token>'",
                )
            })?;
        let claims = state.jwt.verify(token).map_err(|e| match e {
            JwtError::Expired => ApiError::unauthorized("TOKEN_EXPIRED", "Token has expired"),
            JwtError::Invalid => {
                ApiError::unauthorized("INVALID_TOKEN", "Could not validate credentials")
            }
        })?;
        Ok(Self {
            user_id: claims.sub,
            roles: claims.roles,
            permissions: claims.permissions,
        })
    }
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
