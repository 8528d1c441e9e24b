//! [`ApiError`]: the one error type handlers return.
//!
//! Every error becomes `{"detail": "...", "error_code": "...", "field_errors": [...]}` with the
//! status the HTTP conventions give it. Internal causes (store, blobs, AI failures) are logged
//! with their whole source chain and never sent to clients: a 5xx body is always generic.

use std::borrow::Cow;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ai::AiError, blobs::BlobError, store::StoreError};

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable description.
    pub detail: String,
    /// Stable machine-readable code, e.g. `VALIDATION_ERROR`.
    pub error_code: String,
    /// Present on validation errors: one entry per invalid field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_errors: Vec<FieldError>,
}

/// An error a handler returns; converts into the JSON error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub detail: Cow<'static, str>,
    pub field_errors: Vec<FieldError>,
    /// Seconds, sent as `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
    /// The internal cause: logged, never sent.
    pub source: Option<anyhow::Error>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            detail: detail.into(),
            field_errors: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    /// 400 with a specific code.
    pub fn bad_request(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 400: the body is not valid JSON, or a field has the wrong type.
    pub fn malformed(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", detail)
    }

    /// 422 with one entry per invalid field.
    pub fn validation(field_errors: Vec<FieldError>) -> Self {
        let detail = match field_errors.as_slice() {
            [one] => format!("Invalid field '{}': {}", one.field, one.message),
            _ => format!("{} fields are invalid", field_errors.len()),
        };
        Self {
            field_errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", detail)
        }
    }

    /// 422 for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn unauthorized(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", detail)
    }

    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", detail)
    }

    pub fn conflict(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "Request body is too large",
        )
    }

    pub fn too_many_requests(detail: impl Into<Cow<'static, str>>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", detail)
        }
    }

    /// 500: logs `cause` with its chain; the client sees a generic message.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "Internal server error",
            )
        }
    }

    /// 503: a backend is throttling or down; the client may retry.
    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(cause.into()),
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "Service temporarily unavailable, retry shortly",
            )
        }
    }

    /// Replaces the error code (e.g. a spec-specific code on a generic constructor).
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = code.into();
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            detail: self.detail.to_string(),
            error_code: self.code.to_string(),
            field_errors: self.field_errors.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            match &self.source {
                Some(cause) => {
                    tracing::error!(status = self.status.as_u16(), code = %self.code, error = format!("{cause:#}"), "request failed")
                }
                None => {
                    tracing::error!(status = self.status.as_u16(), code = %self.code, "request failed")
                }
            }
        } else {
            tracing::info!(status = self.status.as_u16(), code = %self.code, detail = %self.detail, "request rejected");
        }
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Throttled | StoreError::TransactionConflict => Self::unavailable(e),
            _ => Self::internal(e),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound => Self::not_found("Object not found"),
            _ => Self::internal(e),
        }
    }
}

impl From<AiError> for ApiError {
    fn from(e: AiError) -> Self {
        match e {
            AiError::Throttled => Self::unavailable(e),
            _ => Self::internal(e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(e: ApiError) -> (StatusCode, serde_json::Value) {
        let r = e.into_response();
        let status = r.status();
        let bytes = r.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let (status, body) = body_of(ApiError::internal(anyhow::anyhow!(
            "table secret-table is on fire"
        )))
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("fire"));
        assert_eq!(body["error_code"], "INTERNAL_ERROR");
    }

    #[tokio::test]
    async fn validation_errors_list_fields() {
        let (status, body) = body_of(ApiError::validation(vec![
            FieldError::new("email", "Invalid email format"),
            FieldError::new("password", "too short"),
        ]))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field_errors"][0]["field"], "email");
        assert_eq!(body["field_errors"].as_array().map(Vec::len), Some(2));
    }

    #[tokio::test]
    async fn store_throttling_is_503_with_retry_after() {
        let r = ApiError::from(StoreError::Throttled).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key(header::RETRY_AFTER));
    }
}
