//! The middleware every router is served with, in Lambda and locally:
//! request id (the API Gateway request id under Lambda, else `x-request-id`, else a new UUID)
//! on a tracing span so every log line of the request carries it; access log; CORS; body limit;
//! JSON 404/405; every other error axum or a layer answers in plain text (a body over the limit,
//! a path that is not UTF-8, ...) rewritten into the JSON error shape; trailing slashes ignored.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use http_body::Body as _;
use tower::Layer;
use tower_http::{
    cors::{AllowOrigin, Any, CorsLayer},
    normalize_path::{NormalizePath, NormalizePathLayer},
};
use tracing::Instrument;

use crate::{
    config::Config,
    error::{ApiError, ErrorCode},
};

/// The request id of the current request (also sent back as `x-request-id`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps a finished router (state applied) with the common stack.
pub fn service(router: Router, config: &Config) -> NormalizePath<Router> {
    let router = router
        .fallback(|| async { ApiError::not_found("Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "Method Not Allowed",
            )
        })
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn(json_errors))
        .layer(cors(config))
        .layer(middleware::from_fn(request_context))
        .layer(middleware::from_fn(
            crate::domain::segments::features::device_scope,
        ));
    NormalizePathLayer::trim_trailing_slash().layer(router)
}

fn cors(config: &Config) -> CorsLayer {
    let origins = &config.cors_allowed_origins;
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            X_REQUEST_ID.clone(),
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-cart-id"),
        ])
        .expose_headers([
            X_REQUEST_ID.clone(),
            HeaderName::from_static("x-total-count"),
            HeaderName::from_static("x-next-cursor"),
        ])
        .max_age(std::time::Duration::from_secs(600));
    if origins.is_empty() || origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

fn request_id_of(req: &Request) -> String {
    if let Some(ctx) = req
        .extensions()
        .get::<lambda_http::request::RequestContext>()
        && let lambda_http::request::RequestContext::ApiGatewayV2(c) = ctx
        && let Some(id) = &c.request_id
    {
        return id.clone();
    }
    req.headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id = request_id_of(&req);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    response
}

/// Rewrites an error response that is not JSON (axum's rejections answer `text/plain`: a body over
/// the limit, a path segment that is not UTF-8, a `Bytes` body that cannot be read) into the
/// `{"detail","error_code","field_errors"}` shape, keeping its status and other headers.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || super::extract::media_type(response.headers()).is_some_and(|ct| ct == "application/json")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // axum's rejection texts are short; anything longer is cut rather than buffered.
    let text = axum::body::to_bytes(body, 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let reason = status.canonical_reason().unwrap_or("Error");
    let detail = text.unwrap_or_else(|| reason.to_string());
    let mut out = ApiError::new(status, ErrorCode::for_status(status), detail).into_response();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in parts.headers.drain().filter_map(|(n, v)| n.map(|n| (n, v))) {
        out.headers_mut().entry(name).or_insert(value);
    }
    out
}

/// For the local server (hyper): marks the response `Connection: close` when the handler answered
/// without reading the request body to its end (an early 401, 413, 415, ...). hyper then closes
/// the connection rather than read the rest of the body, and a keep-alive client must be told so
/// instead of finding the socket closed under its next request. Under Lambda there is no
/// connection to close, so [`service`] does not include this layer.
pub async fn close_on_unread_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let done = Arc::new(AtomicBool::new(false));
    let tracked = Tracked {
        inner: body,
        done: done.clone(),
    };
    let mut response = next
        .run(Request::from_parts(parts, Body::new(tracked)))
        .await;
    if !done.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that notes when it has been read to its end.
struct Tracked {
    inner: Body,
    done: Arc<AtomicBool>,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.done.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.done.store(true, Ordering::Release);
        }
        end
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
