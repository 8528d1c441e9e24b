//! Body and query extractors with the platform's error mapping:
//! malformed JSON or a wrong type -> 400 `MALFORMED_REQUEST`; a missing field or a failed
//! validation rule -> 422 `VALIDATION_ERROR` with `field_errors`; a body over the limit -> 413;
//! a content type that is not accepted -> 415.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::ErrorCode;
use crate::error::{ApiError, FieldError};

/// A JSON body, decoded and validated.
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

/// A body that is either JSON or `application/x-www-form-urlencoded` (the login form), validated.
#[derive(Debug, Clone)]
pub struct JsonOrForm<T>(pub T);

/// Query parameters, decoded and validated (every problem is a 422, as query values are strings).
#[derive(Debug, Clone)]
pub struct ValidQuery<T>(pub T);

fn content_type(req: &Request) -> Option<String> {
    media_type(req.headers())
}

/// The media type of a `Content-Type` header, lower-case, without its parameters
/// (`text/csv; charset=utf-8` -> `text/csv`).
pub fn media_type(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
}

fn is_json(ct: &str) -> bool {
    ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"))
}

fn unsupported(expected: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        format!("Expected a body of type {expected}"),
    )
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large()
        } else {
            ApiError::malformed("Could not read the request body")
        }
    })
}

/// Decodes a JSON document into `T`, mapping serde's errors to 400 / 422.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed("Request body is empty; expected JSON"));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::malformed(format!("Malformed JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        serde_error(&path, &message, false)
    })
}

/// Maps a serde error at `path` to 422 (missing field, or any query problem) or 400 (wrong type).
fn serde_error(path: &str, message: &str, all_validation: bool) -> ApiError {
    let join = |field: &str| {
        if path.is_empty() || path == "." {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        return ApiError::invalid_field(join(field), "Field required");
    }
    let field = if path.is_empty() || path == "." {
        "body".to_string()
    } else {
        path.to_string()
    };
    if all_validation {
        ApiError::invalid_field(field, message.to_string())
    } else {
        ApiError::malformed(format!("Invalid value for '{field}': {message}"))
    }
}

/// A `validator` rule for float query parameters: `NaN`, `inf` and values that overflow `f64`
/// (`1e400` parses as infinity) are refused. Ranges alone let NaN through (every comparison with
/// it is false). Use it on every float query field:
/// `#[validate(custom(function = "shared::http::extract::finite"))]`.
pub fn finite(v: f64) -> Result<(), validator::ValidationError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(validator::ValidationError::new("finite")
            .with_message("must be a finite number".into()))
    }
}

/// Runs `validator` rules and turns failures into a 422 with one entry per field.
pub fn validate<T: Validate>(value: &T) -> Result<(), ApiError> {
    value.validate().map_err(|errors| {
        let mut out = Vec::new();
        flatten(&errors, "", &mut out);
        out.sort_by(|a, b| a.field.cmp(&b.field));
        ApiError::validation(out)
    })
}

fn flatten(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let name = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format!("Invalid value ({})", e.code));
                    out.push(FieldError::new(name.clone(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten(inner, &name, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten(inner, &format!("{name}[{i}]"), out);
                }
            }
        }
    }
}

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = content_type(&req)
            && !is_json(&ct)
        {
            return Err(unsupported("application/json"));
        }
        let bytes = body_bytes(req, state).await?;
        let value: T = decode_json(&bytes)?;
        validate(&value)?;
        Ok(Self(value))
    }
}

impl<S, T> FromRequest<S> for JsonOrForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = content_type(&req);
        let bytes = body_bytes(req, state).await?;
        let value: T = match ct.as_deref() {
            Some("application/x-www-form-urlencoded") | Some("multipart/form-data")
                if bytes.is_empty() =>
            {
                return Err(ApiError::validation(vec![FieldError::new(
                    "body",
                    "Field required",
                )]));
            }
            Some("application/x-www-form-urlencoded") => {
                let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
                serde_path_to_error::deserialize(de)
                    .map_err(|e| serde_error(&e.path().to_string(), &e.inner().to_string(), true))?
            }
            Some(ct) if is_json(ct) => decode_json(&bytes)?,
            None => decode_json(&bytes)?,
            Some(_) => {
                return Err(unsupported(
                    "application/json or application/x-www-form-urlencoded",
                ));
            }
        };
        validate(&value)?;
        Ok(Self(value))
    }
}

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(de)
            .map_err(|e| serde_error(&e.path().to_string(), &e.inner().to_string(), true))?;
        validate(&value)?;
        Ok(Self(value))
    }
}

/// Deserialises a JSON integer, also when written with a zero fraction (`3.0`): JSON Schema's
/// `integer` includes those, so clients and generators send them. Use with
/// `#[serde(deserialize_with = "shared::http::extract::integer")]`.
pub fn integer<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::{Deserialize, de::Error};
    let n = serde_json::Number::deserialize(d)?;
    let i = n
        .as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15)
                .map(|f| f as i64)
        })
        .ok_or_else(|| D::Error::custom(format!("expected an integer, found {n}")))?;
    T::try_from(i).map_err(|_| D::Error::custom(format!("integer {i} is out of range")))
}

#[cfg(test)]
mod integer_tests {
    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::integer")]
        n: u32,
    }

    #[test]
    fn integral_floats_are_integers_and_others_are_not() {
        let n = |s: &str| serde_json::from_str::<Body>(s).map(|b| b.n);
        assert_eq!(n(r#"{"n": 71}"#).ok(), Some(71));
        assert_eq!(n(r#"{"n": 71.0}"#).ok(), Some(71));
        assert!(n(r#"{"n": 71.5}"#).is_err());
        assert!(n(r#"{"n": -1}"#).is_err());
        assert!(n(r#"{"n": 1e300}"#).is_err());
        assert!(n(r#"{"n": "7"}"#).is_err());
    }
}
