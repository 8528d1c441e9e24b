//! Validation of upload and update fields, and the multipart form reader.

use std::collections::BTreeMap;

use axum::{body::Body, http::StatusCode};
use bytes::Bytes;
use serde_json::Value;
use shared::error::ErrorCode;
use shared::{
    ApiError,
    domain::videos::{
        MAX_TAG_CHARS, MAX_TAGS, MAX_TITLE_CHARS, MAX_VIDEO_BYTES, VIDEO_CONTENT_TYPE,
    },
    error::FieldError,
};

/// Largest multipart body: what a Lambda request can carry (bigger files use the signed URL).
pub const MULTIPART_MAX_BYTES: u64 = 6 * 1024 * 1024;

/// Collects field errors, then fails with all of them at once.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn err(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

/// A required non-empty string of at most `max` characters.
pub fn title(value: Option<&Value>, fields: &mut Fields) -> Option<String> {
    match value {
        None | Some(Value::Null) => fields.err("title", "Field required"),
        Some(Value::String(s)) if s.trim().is_empty() => fields.err("title", "must not be empty"),
        Some(Value::String(s)) if s.trim().chars().count() > MAX_TITLE_CHARS => {
            fields.err("title", format!("at most {MAX_TITLE_CHARS} characters"))
        }
        Some(Value::String(s)) => return Some(s.trim().to_string()),
        Some(_) => fields.err("title", "must be a string"),
    }
    None
}

/// A required id string.
pub fn product_id(value: Option<&Value>, fields: &mut Fields) -> Option<String> {
    match value {
        None | Some(Value::Null) => fields.err("product_id", "Field required"),
        Some(Value::String(s)) if s.trim().is_empty() => {
            fields.err("product_id", "must not be empty")
        }
        Some(Value::String(s)) => return Some(s.trim().to_string()),
        // Spec examples use numeric ids; ours are strings, but a number is read as its text.
        Some(Value::Number(n)) => return Some(n.to_string()),
        Some(_) => fields.err("product_id", "must be a string"),
    }
    None
}

/// Tags: a JSON list of strings, or a string holding one (the spec's multipart field). Absent
/// means no tags.
pub fn tags(value: Option<&Value>, fields: &mut Fields) -> Option<Vec<String>> {
    let parsed;
    let list = match value {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Array(_)) => {
                parsed = v;
                &parsed
            }
            _ => {
                fields.err(
                    "tags",
                    "must be a JSON list of strings, e.g. [\"tech\", \"gadgets\"]",
                );
                return None;
            }
        },
        Some(v) => v,
    };
    let Value::Array(items) = list else {
        fields.err("tags", "must be a JSON list of strings");
        return None;
    };
    if items.len() > MAX_TAGS {
        fields.err("tags", format!("at most {MAX_TAGS} tags"));
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) if s.trim().chars().count() <= MAX_TAG_CHARS => out.push(s.clone()),
            Value::String(_) => {
                fields.err(
                    &format!("tags[{i}]"),
                    format!("at most {MAX_TAG_CHARS} characters"),
                );
                return None;
            }
            _ => {
                fields.err(&format!("tags[{i}]"), "must be a string");
                return None;
            }
        }
    }
    Some(out)
}

/// 413 for a file over 50 MB.
pub fn too_large() -> ApiError {
    ApiError {
        field_errors: vec![FieldError::new("file", "at most 50 MB")],
        ..ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::FileTooLarge,
            format!("Videos are at most {MAX_VIDEO_BYTES} bytes (50 MB)"),
        )
    }
}

/// The declared size of a signed upload: 1 byte to 50 MB.
pub fn size(value: Option<&Value>, fields: &mut Fields) -> Result<Option<u64>, ApiError> {
    match value {
        None | Some(Value::Null) => fields.err("size", "Field required"),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) | None => fields.err("size", "must be a positive integer"),
            Some(n) if n > MAX_VIDEO_BYTES => return Err(too_large()),
            Some(n) => return Ok(Some(n)),
        },
        Some(_) => fields.err("size", "must be a positive integer"),
    }
    Ok(None)
}

/// Only `video/mp4` (the default).
pub fn content_type(value: Option<&Value>, fields: &mut Fields) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case(VIDEO_CONTENT_TYPE) => {}
        Some(_) => fields.err("content_type", "only video/mp4 is accepted"),
    }
}

/// A parsed multipart upload form.
#[derive(Debug, Default)]
pub struct Form {
    pub text: BTreeMap<String, String>,
    pub file: Option<Bytes>,
}

/// Reads a `multipart/form-data` body of at most [`MULTIPART_MAX_BYTES`]: text fields, and the
/// `file` field's bytes.
pub async fn read_form(content_type: &str, body: Body) -> Result<Form, ApiError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| ApiError::malformed("multipart/form-data without a boundary"))?;
    let limits = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(MULTIPART_MAX_BYTES)
            .per_field(MULTIPART_MAX_BYTES),
    );
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);
    let mut form = Form::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e)),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            form.file = Some(field.bytes().await.map_err(multipart_error)?);
        } else {
            let text = field.text().await.map_err(multipart_error)?;
            form.text.insert(name, text);
        }
    }
    Ok(form)
}

fn multipart_error(e: multer::Error) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            ApiError {
                field_errors: vec![FieldError::new(
                    "file",
                    "at most 6 MB in a form; upload bigger files (up to 50 MB) through the signed URL of a JSON POST",
                )],
                ..ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::FileTooLarge,
                    "The form is larger than a request may be (6 MB)",
                )
            }
        }
        e => ApiError::malformed(format!("Malformed multipart form: {e}")),
    }
}
