//! Promotions and banners (spec 002 "Personalized Promotion Management", issue 16): promotional
//! text for an RFM segment, banner images in the media bucket, targeting and scheduling, live
//! banners per user.
//!
//! - [`copy`]: the versioned text prompt, the offline template copy, the guard against invented
//!   prices, aspect ratios and the image sizes each model family accepts (pure);
//! - [`texts`]: the audit record of every generated text;
//! - [`records`]: banner records, their PNG under `banners/`, publish and unpublish (one
//!   transaction each, with the published copy and the version counter);
//! - [`audience`]: what targeting reads about a user (RFM cluster, segments, spend, recency,
//!   country and region) and the current RFM clusters;
//! - [`targeting`]: which live banners match a user, in which order (pure);
//! - [`cache`]: the per-instance cache of published banners, reloaded when the version moves;
//! - [`stats`]: impressions and clicks per banner and day (sharded `ADD` counters);
//! - [`generate`]: text and banner generation end to end (model call, audit, storage).
//!
//! The spec names Gemini and Imagen; the same behaviour runs on Bedrock (text through
//! [`crate::ai::TextGenerator`], images through [`crate::ai::ImageGenerator`], model ids in the
//! configuration) and offline with the local backends.

pub mod audience;
pub mod cache;
pub mod copy;
pub mod generate;
pub mod records;
pub mod stats;
pub mod targeting;
pub mod texts;
