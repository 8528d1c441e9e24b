//! The personalization engine of spec 000: the spec's user segments ([`segments`]),
//! per-segment content engagement kept on write ([`rollups`]), the answers of the routes
//! ([`engine`]: segment recommendations, content performance, the 40/30/20/10 blend), and their
//! caches ([`cache`], and [`closed_days`]: the memo of closed days' rollups). The rules themselves are pure: [`crate::reco::personalization`].

pub mod cache;
pub mod closed_days;
pub mod engine;
pub mod rollups;
pub mod segments;
