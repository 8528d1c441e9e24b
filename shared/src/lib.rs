//! Shared library for every function of the platform.
//!
//! Module map (see `../shared/DESIGN.md` in the steering repo and the README):
//! - [`config`]: one typed [`config::Config`] read from the environment.
//! - [`error`]: [`error::ApiError`], the single error type handlers return.
//! - [`http`]: extractors (validated JSON/form, bearer auth, pagination) and the common router layers.
//! - [`auth`]: argon2id passwords, JWT, roles and permissions.
//! - [`store`]: the DynamoDB-shaped [`store::ItemStore`] and its `dynamo` and `local` implementations.
//! - [`blobs`]: [`blobs::BlobStore`] and its `s3` and `fs` implementations.
//! - [`api`]: request and response bodies shared by several functions (products, categories).
//! - [`ai`]: embeddings, text and image generation, `bedrock` and `local` implementations.
//! - [`domain`]: entities and repositories written once on top of the store.
//! - [`reco`]: recommendation algorithms (similarity, association rules), pure and I/O-free.
//! - [`app`]: [`app::AppState`], built once from the config: what every function shares (each
//!   function keeps its own caches and settings in a state struct of its own).
//! - [`text`]: what a word is (`fold`, `words`), for search, the local embedder and the classifier.
//! - [`money`]: [`money::Cents`], integer cents in records, decimal dollars in the JSON.
//! - [`telemetry`]: structured JSON logs.

pub mod ai;
pub mod api;
pub mod app;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod domain;
pub mod error;
#[cfg(any(test, feature = "testkit"))]
pub mod fixtures;
pub mod http;
pub mod lambda;
pub mod money;
pub mod openapi;
pub mod reco;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod text;

pub use app::AppState;
pub use error::{ApiError, ApiResult};
