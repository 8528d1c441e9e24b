//! The error responses of spec 001, as [`ApiError`]s.

use axum::http::StatusCode;
use shared::{
    ApiError,
    error::{ErrorCode, FieldError},
};

use crate::adapt::AdaptError;

/// 400 `missing_required_field`, naming the field (also for a field that is empty).
pub fn missing_field(field: &str) -> ApiError {
    ApiError {
        field_errors: vec![FieldError::new(field, "Field required")],
        ..ApiError::bad_request(
            ErrorCode::MissingRequiredField,
            format!("Missing required field: {field}"),
        )
    }
}

/// 400 `invalid_difficulty`.
pub fn invalid_difficulty(got: &str) -> ApiError {
    let shown: String = got.chars().take(40).collect();
    ApiError {
        field_errors: vec![FieldError::new(
            "difficulty_level",
            "must be beginner, intermediate or advanced",
        )],
        ..ApiError::bad_request(
            ErrorCode::InvalidDifficulty,
            format!(
                "Invalid difficulty level '{shown}': expected beginner, intermediate or advanced"
            ),
        )
    }
}

/// 400 for a field whose value is not allowed (other than the difficulty).
pub fn invalid_field(code: ErrorCode, field: &str, message: &str) -> ApiError {
    ApiError {
        field_errors: vec![FieldError::new(field, message)],
        ..ApiError::bad_request(code, format!("Invalid {field}: {message}"))
    }
}

/// 404 `session_not_found` (unknown, expired or deleted).
pub fn session_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::SessionNotFound,
        "Personalization session not found or expired",
    )
}

/// 413 `content_too_large`.
pub fn content_too_large(limit: usize) -> ApiError {
    ApiError {
        field_errors: vec![FieldError::new(
            "chapter_content",
            format!("at most {limit} bytes"),
        )],
        ..ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::ChapterTooLarge,
            format!("chapter_content is larger than the limit of {limit} bytes"),
        )
    }
}

/// 500 `processing_error` with a generic message (503 with `Retry-After` when the model kept
/// throttling); the cause is logged, never sent.
pub fn processing_error(cause: AdaptError) -> ApiError {
    let throttled = matches!(cause, AdaptError::Throttled);
    let mut e = ApiError::internal(cause).with_code(ErrorCode::ProcessingError);
    e.detail = "The content could not be processed; please try again later".into();
    if throttled {
        e.status = StatusCode::SERVICE_UNAVAILABLE;
        e.retry_after = Some(2);
    }
    e
}
