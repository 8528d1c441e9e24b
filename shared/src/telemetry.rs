//! Structured JSON logs on stdout (CloudWatch under Lambda). Each line carries the fields of the
//! current span, so a request's lines all carry its `request_id`.
//! `RUST_LOG` sets the filter (default `info`); `LOG_FORMAT=text` switches to human-readable lines.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global subscriber; safe to call more than once (later calls do nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let text = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("text"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if text {
        registry.with(fmt::layer().with_target(false)).try_init()
    } else {
        registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .flatten_event(true)
                    .with_target(false),
            )
            .try_init()
    };
    let _ = result;
}
