//! Request and response bodies of the textbook routes (spec 001), and the JSON body reader that
//! reports errors the way the spec wants them.
//!
//! `shared::http::ValidJson` answers a missing field with 422 `VALIDATION_ERROR`; spec 001 wants
//! 400 `missing_required_field` naming the field, so bodies are read as a JSON object first and
//! each field is taken from it by hand: a missing, `null` or blank required string is
//! `missing_required_field`; a value of the wrong JSON type is 400 `MALFORMED_REQUEST`.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::ApiError;
use shared::error::ErrorCode;
use utoipa::ToSchema;

use crate::{
    adapt::Level, errors, position::Anchor, readability::ReadabilityPair, sessions::Preferences,
};

/// Longest accepted `session_id` and `chapter_id`.
pub const MAX_ID_CHARS: usize = 200;
/// Longest accepted `preferred_format` / `content_focus`.
pub const MAX_PREFERENCE_CHARS: usize = 200;

/// Body of `POST /personalize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PersonalizeRequest {
    /// Client-generated id (a UUID), at most 200 characters, no control characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub session_id: String,
    /// The chapter in Markdown; at most `TEXTBOOK_MAX_CONTENT_BYTES` (default 131072) bytes.
    #[schema(min_length = 1, pattern = r"\S")]
    pub chapter_content: String,
    /// `beginner`, `intermediate` or `advanced`.
    #[schema(pattern = "^(beginner|intermediate|advanced)$")]
    pub difficulty_level: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub chapter_id: String,
    /// Character offset where the reader is (default 0): in the text the session shows when it
    /// already holds this chapter, else in `chapter_content`.
    #[schema(minimum = 0)]
    pub reading_position: Option<i64>,
    #[schema(max_length = 200)]
    pub preferred_format: Option<String>,
    #[schema(max_length = 200)]
    pub content_focus: Option<String>,
}

/// Body of `POST /change-difficulty`. `chapter_content` and `chapter_id` default to the session's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeDifficultyRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub session_id: String,
    #[schema(pattern = "^(beginner|intermediate|advanced)$")]
    pub difficulty_level: String,
    pub chapter_content: Option<String>,
    #[schema(max_length = 200)]
    pub chapter_id: Option<String>,
    /// Character offset in the text the session shows (default: the stored position).
    #[schema(minimum = 0)]
    pub reading_position: Option<i64>,
    #[schema(max_length = 200)]
    pub preferred_format: Option<String>,
    #[schema(max_length = 200)]
    pub content_focus: Option<String>,
}

/// Body of `POST /toggle-original`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToggleOriginalRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub session_id: String,
    /// Character offset in the text the session shows (default: the stored position).
    #[schema(minimum = 0)]
    pub reading_position: Option<i64>,
}

/// Response of `/personalize` and `/change-difficulty`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PersonalizeResponse {
    pub session_id: String,
    pub personalized_content: String,
    pub difficulty_level: Level,
    pub chapter_id: String,
    /// ISO 8601 (UTC).
    pub timestamp: String,
    /// The reader's position mapped into `personalized_content` (character offset).
    pub reading_position: u64,
    /// Section and paragraph the position was mapped by.
    pub position: Anchor,
    /// True when the adaptation came from the cache (no model call).
    pub cached: bool,
    /// `bedrock` or `local` (the offline rule-based adapter).
    pub backend: String,
    pub model_id: String,
    pub prompt_version: String,
    pub readability: ReadabilityPair,
    pub preferences: Preferences,
    /// Unix seconds when the session expires unless accessed again.
    pub expires_at: i64,
}

/// Response of `/toggle-original`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToggleOriginalResponse {
    pub session_id: String,
    pub original_content: String,
    /// ISO 8601 (UTC).
    pub timestamp: String,
    /// The reader's position mapped into `original_content` (character offset).
    pub reading_position: u64,
    pub position: Anchor,
    pub readability: ReadabilityPair,
    pub expires_at: i64,
}

/// Response of `DELETE /session/{session_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionCleared {
    pub message: String,
    pub session_id: String,
}

/// A JSON object body.
#[derive(Debug, Clone)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            let ct = ct.split(';').next().unwrap_or_default().trim();
            if !ct.eq_ignore_ascii_case("application/json") && !ct.ends_with("+json") {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorCode::UnsupportedMediaType,
                    "Expected a body of type application/json",
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::malformed("Could not read the request body")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::malformed("Request body is empty; expected JSON"));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::malformed("Expected a JSON object")),
            Err(e) => Err(ApiError::malformed(format!("Malformed JSON: {e}"))),
        }
    }
}

fn wrong_type(field: &str, expected: &str) -> ApiError {
    ApiError::malformed(format!("Invalid value for '{field}': expected {expected}"))
}

impl JsonObject {
    /// A required, non-blank string.
    fn required(&self, field: &str) -> Result<String, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Err(errors::missing_field(field)),
            Some(Value::String(s)) if s.trim().is_empty() => Err(errors::missing_field(field)),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(wrong_type(field, "a string")),
        }
    }

    fn optional(&self, field: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(wrong_type(field, "a string")),
        }
    }

    fn integer(&self, field: &str) -> Result<Option<i64>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(v), _, _) => Ok(Some(v)),
                (None, Some(_), _) => Ok(Some(i64::MAX)),
                // JSON Schema's `integer` includes `3.0`; beyond i64 it saturates like above.
                (None, None, Some(f)) if f.fract() == 0.0 => Ok(Some(f as i64)),
                _ => Err(wrong_type(field, "an integer")),
            },
            Some(_) => Err(wrong_type(field, "an integer")),
        }
    }

    pub fn personalize(&self) -> Result<PersonalizeRequest, ApiError> {
        Ok(PersonalizeRequest {
            session_id: self.required("session_id")?,
            chapter_content: self.required("chapter_content")?,
            difficulty_level: self.required("difficulty_level")?,
            chapter_id: self.required("chapter_id")?,
            reading_position: self.integer("reading_position")?,
            preferred_format: self.optional("preferred_format")?,
            content_focus: self.optional("content_focus")?,
        })
    }

    pub fn change_difficulty(&self) -> Result<ChangeDifficultyRequest, ApiError> {
        Ok(ChangeDifficultyRequest {
            session_id: self.required("session_id")?,
            difficulty_level: self.required("difficulty_level")?,
            chapter_content: self.optional("chapter_content")?,
            chapter_id: self.optional("chapter_id")?,
            reading_position: self.integer("reading_position")?,
            preferred_format: self.optional("preferred_format")?,
            content_focus: self.optional("content_focus")?,
        })
    }

    pub fn toggle_original(&self) -> Result<ToggleOriginalRequest, ApiError> {
        Ok(ToggleOriginalRequest {
            session_id: self.required("session_id")?,
            reading_position: self.integer("reading_position")?,
        })
    }
}

/// `beginner` / `intermediate` / `advanced`, or 400 `invalid_difficulty`.
pub fn parse_level(s: &str) -> Result<Level, ApiError> {
    Level::parse(s).ok_or_else(|| errors::invalid_difficulty(s))
}

/// A session or chapter id: at most [`MAX_ID_CHARS`] characters, no control characters.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    if id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
        return Err(errors::invalid_field(
            ErrorCode::InvalidIdentifier,
            field,
            "at most 200 characters, no control characters",
        ));
    }
    Ok(())
}

/// A reading position: absent, or a non-negative integer.
pub fn check_position(p: Option<i64>) -> Result<Option<u64>, ApiError> {
    match p {
        None => Ok(None),
        Some(v) => u64::try_from(v).map(Some).map_err(|_| {
            errors::invalid_field(
                ErrorCode::InvalidReadingPosition,
                "reading_position",
                "must be zero or positive",
            )
        }),
    }
}

/// An optional preference: at most [`MAX_PREFERENCE_CHARS`] characters, blank means unset.
pub fn check_preference(field: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) if s.chars().count() > MAX_PREFERENCE_CHARS => Err(errors::invalid_field(
            ErrorCode::InvalidPreference,
            field,
            "at most 200 characters",
        )),
        Some(s) if s.trim().is_empty() => Ok(None),
        other => Ok(other.map(|s| s.trim().to_string())),
    }
}
