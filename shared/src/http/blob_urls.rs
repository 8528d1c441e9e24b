//! Serves the signed URLs of the local blob store ([`crate::blobs::local::LocalBlobs`], on disk
//! or in memory): `GET /{*key}` and `PUT /{*key}`. The local server nests it at `/blobs`.
//!
//! Signatures are checked in constant time; expired or invalid signatures get 403, a content type
//! other than the signed one 403, a body over the signed maximum 413, and a PUT to a key that
//! exists 412 (an upload URL works once, as S3's with `If-None-Match: *`); nothing is stored in
//! those cases. The PUT body is read with its own cap (the signed `max`), not axum's default
//! body limit.

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, Path as UrlPath, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;

use crate::blobs::{BlobError, BlobStore, local::LocalBlobs, signing::is_expired};
use crate::error::ApiError;
use crate::error::ErrorCode;

/// The router of `blobs`' signed URLs.
pub fn router(blobs: LocalBlobs) -> Router {
    Router::new()
        .route("/{*key}", get(get_blob).put(put_blob))
        .layer(DefaultBodyLimit::disable())
        .with_state(blobs)
}

fn sig_invalid() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::SignatureInvalid,
        "Missing or invalid URL signature",
    )
}

fn sig_expired() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::SignatureExpired,
        "The signed URL has expired",
    )
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        "The body is larger than this upload URL allows",
    )
}

fn already_uploaded() -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        ErrorCode::AlreadyUploaded,
        "This upload URL has been used: the file exists and cannot be replaced",
    )
}

fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::NotFound => ApiError::not_found("Blob not found"),
        BlobError::Invalid(msg) => ApiError::bad_request(ErrorCode::InvalidBlobRequest, msg),
        BlobError::TooLarge => too_large(),
        BlobError::AlreadyExists => already_uploaded(),
        BlobError::Backend(_) => ApiError::internal(e),
    }
}

/// The query of a signed URL.
#[derive(Debug, Default, Deserialize)]
struct SignedQuery {
    expires: Option<String>,
    sig: Option<String>,
    ct: Option<String>,
    max: Option<String>,
}

fn parse_query(raw: Option<String>) -> Result<SignedQuery, ApiError> {
    match raw {
        None => Ok(SignedQuery::default()),
        Some(q) => serde_urlencoded::from_str(&q).map_err(|_| sig_invalid()),
    }
}

async fn get_blob(
    State(blobs): State<LocalBlobs>,
    UrlPath(key): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    // 400 for a malformed key before any signature work.
    blobs.check_key(&key).map_err(blob_error)?;
    let q = parse_query(query)?;
    let (Some(expires), Some(sig)) = (q.expires, q.sig) else {
        return Err(sig_invalid());
    };
    let expires: i64 = expires.parse().map_err(|_| sig_invalid())?;
    if !blobs.signer().verify_get(&key, expires, &sig) {
        return Err(sig_invalid());
    }
    if is_expired(expires) {
        return Err(sig_expired());
    }
    let blob = blobs.get(&key).await.map_err(blob_error)?;
    let content_type = HeaderValue::from_str(&blob.meta.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_LENGTH, HeaderValue::from(blob.meta.size)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=0"),
            ),
        ],
        Body::from(blob.body),
    )
        .into_response())
}

async fn put_blob(
    State(blobs): State<LocalBlobs>,
    UrlPath(key): UrlPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    blobs.check_key(&key).map_err(blob_error)?;
    let q = parse_query(query)?;
    let (Some(expires), Some(sig), Some(ct), Some(max)) = (q.expires, q.sig, q.ct, q.max) else {
        return Err(sig_invalid());
    };
    let expires: i64 = expires.parse().map_err(|_| sig_invalid())?;
    let max: u64 = max.parse().map_err(|_| sig_invalid())?;
    if !blobs.signer().verify_put(&key, expires, &ct, max, &sig) {
        return Err(sig_invalid());
    }
    if is_expired(expires) {
        return Err(sig_expired());
    }
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if sent_type != Some(ct.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ContentTypeMismatch,
            format!("This upload URL requires content-type {ct}"),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    // Refused before reading the body; `put_new` below is the atomic check.
    if blobs.head(&key).await.map_err(blob_error)?.is_some() {
        return Err(already_uploaded());
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(too_large()),
        Err(e) => {
            return Err(ApiError {
                source: Some(anyhow::anyhow!("read upload body: {e}")),
                ..ApiError::bad_request(
                    ErrorCode::BodyReadFailed,
                    "Could not read the request body",
                )
            });
        }
    };
    let meta = blobs.put_new(&key, bytes, &ct).await.map_err(blob_error)?;
    if let Some(hook) = blobs.upload_hook() {
        hook(meta).await;
    }
    Ok(StatusCode::OK.into_response())
}
