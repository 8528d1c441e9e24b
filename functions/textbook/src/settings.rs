//! Settings of the textbook function, read from the environment once, when its state is built
//! (`crate::router`); tests build the state with their own.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `TEXTBOOK_SESSION_TTL_SECONDS` | `3600` | a session expires this long after its last access (sliding) |
//! | `TEXTBOOK_MAX_CONTENT_BYTES` | `131072` | largest `chapter_content` (UTF-8 bytes); more is 413 |
//! | `TEXTBOOK_CACHE_TTL_SECONDS` | `2592000` | adaptations are cached this long (30 days) |
//! | `TEXTBOOK_CHUNK_CHARS` | `8000` | largest chunk sent to the model in one request |
//! | `TEXTBOOK_MODEL_CONCURRENCY` | `4` | chunks adapted at once |
//! | `TEXTBOOK_ADAPT_TIMEOUT_SECONDS` | `25` | bound on one whole adaptation (API Gateway allows 30 s) |
//!
//! The content limit keeps a session (original plus adapted text) inside DynamoDB's 400 KB item
//! limit.

use std::time::Duration;

use crate::adapt::model::ModelLimits;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub session_ttl: Duration,
    pub max_content_bytes: usize,
    pub cache_ttl: Duration,
    pub chunk_chars: usize,
    pub model_concurrency: usize,
    pub adapt_timeout: Duration,
    /// First backoff between our retries of a throttled model call (doubles each retry).
    pub throttle_backoff: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        let model = ModelLimits::default();
        Self {
            session_ttl: Duration::from_secs(3600),
            max_content_bytes: 128 * 1024,
            cache_ttl: Duration::from_secs(30 * 24 * 3600),
            chunk_chars: model.chunk_chars,
            model_concurrency: model.concurrency,
            adapt_timeout: Duration::from_secs(25),
            throttle_backoff: model.throttle_backoff,
        }
    }
}

impl Settings {
    /// Reads the settings through `lookup`; unset, empty or unparsable values keep the default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let d = Self::default();
        let num = |k: &str| lookup(k).and_then(|v| v.trim().parse::<u64>().ok());
        let secs = |k: &str, default: Duration| num(k).map_or(default, Duration::from_secs);
        let size = |k: &str, default: usize| {
            num(k)
                .and_then(|v| usize::try_from(v).ok())
                .filter(|v| *v > 0)
                .unwrap_or(default)
        };
        Self {
            session_ttl: secs("TEXTBOOK_SESSION_TTL_SECONDS", d.session_ttl),
            max_content_bytes: size("TEXTBOOK_MAX_CONTENT_BYTES", d.max_content_bytes),
            cache_ttl: secs("TEXTBOOK_CACHE_TTL_SECONDS", d.cache_ttl),
            chunk_chars: size("TEXTBOOK_CHUNK_CHARS", d.chunk_chars),
            model_concurrency: size("TEXTBOOK_MODEL_CONCURRENCY", d.model_concurrency),
            adapt_timeout: secs("TEXTBOOK_ADAPT_TIMEOUT_SECONDS", d.adapt_timeout),
            throttle_backoff: d.throttle_backoff,
        }
    }

    /// The settings in the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn model_limits(&self) -> ModelLimits {
        ModelLimits {
            chunk_chars: self.chunk_chars,
            concurrency: self.model_concurrency,
            throttle_backoff: self.throttle_backoff,
            ..ModelLimits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_overrides_and_keeps_defaults() {
        let s = Settings::from_lookup(|k| match k {
            "TEXTBOOK_SESSION_TTL_SECONDS" => Some("60".into()),
            "TEXTBOOK_MAX_CONTENT_BYTES" => Some("oops".into()),
            _ => None,
        });
        assert_eq!(s.session_ttl, Duration::from_secs(60));
        assert_eq!(s.max_content_bytes, 128 * 1024);
    }
}
