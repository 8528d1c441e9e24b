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
use utoipa::{
    ToSchema,
    openapi::schema::{Object, ObjectBuilder, Type},
};

use crate::{ai::AiError, blobs::BlobError, store::StoreError};

mod codes;
pub use codes::ErrorCode;

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
    /// Stable machine-readable code, e.g. `VALIDATION_ERROR`: one of [`ErrorCode`] (the OpenAPI
    /// document lists them all).
    #[schema(schema_with = error_code_schema)]
    pub error_code: String,
    /// Present on validation errors: one entry per invalid field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_errors: Vec<FieldError>,
}

/// The OpenAPI schema of [`ErrorBody::error_code`]: a string, one of [`ErrorCode::ALL`], so the
/// document lists exactly the codes the server can send.
fn error_code_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Stable machine-readable code: one of these values (the README's error-code table says \
             what each means and with which status it comes). Spec 001 (textbook) codes are lower-case.",
        ))
        .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
        .examples([ErrorCode::ValidationError.as_str()])
        .build()
}

/// An error a handler returns; converts into the JSON error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: Cow<'static, str>,
    pub field_errors: Vec<FieldError>,
    /// Seconds, sent as `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
    /// The internal cause: logged, never sent.
    pub source: Option<anyhow::Error>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            field_errors: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    /// 400 with a specific code.
    pub fn bad_request(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 400: the body is not valid JSON, or a field has the wrong type.
    pub fn malformed(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest, detail)
    }

    /// 422 with one entry per invalid field.
    pub fn validation(field_errors: Vec<FieldError>) -> Self {
        let detail = match field_errors.as_slice() {
            [one] => format!("Invalid field '{}': {}", one.field, one.message),
            _ => format!("{} fields are invalid", field_errors.len()),
        };
        Self {
            field_errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationError,
                detail,
            )
        }
    }

    /// 422 for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn unauthorized(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, detail)
    }

    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, detail)
    }

    pub fn conflict(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "Request body is too large",
        )
    }

    pub fn too_many_requests(detail: impl Into<Cow<'static, str>>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                detail,
            )
        }
    }

    /// 500: logs `cause` with its chain; the client sees a generic message.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
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
                ErrorCode::ServiceUnavailable,
                "Service temporarily unavailable, retry shortly",
            )
        }
    }

    /// Replaces the error code (e.g. a spec-specific code on a generic constructor).
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            detail: self.detail.to_string(),
            error_code: self.code.as_str().to_string(),
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

    #[test]
    fn the_error_body_schema_lists_every_code() {
        let schema = serde_json::to_value(<ErrorBody as utoipa::PartialSchema>::schema())
            .expect("schema json");
        let code = &schema["properties"]["error_code"];
        assert_eq!(code["type"], "string");
        let listed: Vec<&str> = code["enum"]
            .as_array()
            .expect("enum")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, all);
        assert!(
            schema["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|f| f == "error_code"))
        );
    }

    #[tokio::test]
    async fn codes_reach_the_body_as_their_contract_strings() {
        let (status, body) =
            body_of(ApiError::not_found("Video not found").with_code(ErrorCode::VideoNotFound))
                .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error_code"], "VIDEO_NOT_FOUND");
        let (_, body) = body_of(ApiError::bad_request(
            ErrorCode::InvalidDifficulty,
            "Invalid difficulty level",
        ))
        .await;
        assert_eq!(body["error_code"], "invalid_difficulty");
    }

    #[tokio::test]
    async fn store_throttling_is_503_with_retry_after() {
        let r = ApiError::from(StoreError::Throttled).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key(header::RETRY_AFTER));
    }
}
