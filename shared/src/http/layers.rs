//! The middleware every router is served with, in Lambda and locally:
//! request id (the API Gateway request id under Lambda, else `x-request-id`, else a new UUID)
//! on a tracing span so every log line of the request carries it; access log; CORS; body limit;
//! JSON 404/405; trailing slashes ignored.

use std::time::Instant;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::Response,
};
use tower::Layer;
use tower_http::{
    cors::{AllowOrigin, Any, CorsLayer},
    normalize_path::{NormalizePath, NormalizePathLayer},
};
use tracing::Instrument;

use crate::{config::Config, error::ApiError};

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
                "METHOD_NOT_ALLOWED",
                "Method Not Allowed",
            )
        })
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(cors(config))
        .layer(middleware::from_fn(request_context));
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
