//! A body given as JSON, `application/x-www-form-urlencoded` or `multipart/form-data` (spec 002
//! sends personalized-promotion as form data; FastAPI's `Form` accepts both encodings). Form
//! fields are text: they are gathered into a JSON object of strings and decoded like JSON, so
//! every encoding gives the same 400/422 errors.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use shared::{
    ApiError,
    error::{ErrorCode, FieldError},
    http::extract::{decode_json, media_type, validate},
};
use validator::Validate;

/// Largest form accepted (text fields only).
const FORM_MAX_BYTES: u64 = 64 * 1024;

/// See the module docs.
#[derive(Debug)]
pub struct FormOrJson<T>(pub T);

fn field_required() -> ApiError {
    ApiError::validation(vec![FieldError::new("body", "Field required")])
}

async fn multipart_fields(body: Bytes, content_type: &str) -> Result<Map<String, Value>, ApiError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| ApiError::malformed("multipart/form-data without a boundary"))?;
    let limits = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(FORM_MAX_BYTES)
            .per_field(FORM_MAX_BYTES),
    );
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, limits);
    let mut out = Map::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::malformed(format!("Malformed multipart form: {e}")))?;
                out.insert(name, Value::String(text));
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(ApiError::malformed(format!(
                    "Malformed multipart form: {e}"
                )));
            }
        }
    }
}

fn from_fields<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, ApiError> {
    // Empty form fields mean "not given".
    let fields: Map<String, Value> = fields
        .into_iter()
        .filter(|(_, v)| v.as_str().is_none_or(|s| !s.trim().is_empty()))
        .collect();
    decode_json(Value::Object(fields).to_string().as_bytes())
}

impl<S, T> FromRequest<S> for FormOrJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let full_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let ct = media_type(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::malformed("Could not read the request body")
            }
        })?;
        let value: T = match ct.as_deref() {
            Some("application/x-www-form-urlencoded") => {
                if bytes.is_empty() {
                    return Err(field_required());
                }
                let fields: Map<String, Value> = form_pairs(&bytes)
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                from_fields(fields)?
            }
            Some("multipart/form-data") => {
                if bytes.is_empty() {
                    return Err(field_required());
                }
                from_fields(multipart_fields(bytes, &full_type).await?)?
            }
            Some(ct) if ct == "application/json" || ct.ends_with("+json") => decode_json(&bytes)?,
            None => decode_json(&bytes)?,
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorCode::UnsupportedMediaType,
                    "Expected a body of type application/json, application/x-www-form-urlencoded or multipart/form-data",
                ));
            }
        };
        validate(&value)?;
        Ok(Self(value))
    }
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).unwrap_or_default()
}
