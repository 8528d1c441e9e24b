//! User segments (spec 002 "User Segmentation Management"): records, typed criteria,
//! membership kept current on write and by the `segments-refresh` job, RFM k-means.
//!
//! - [`criteria`]: the typed criteria of each `segment_type` and the membership test;
//! - [`features`]: per-user features kept on write (RFM, daily events by kind and device,
//!   profile facts), so membership needs no scan of orders or events;
//! - [`records`]: segment records with unique names;
//! - [`membership`]: generations, members, the reverse index, recompute, real-time
//!   re-evaluation, manual members;
//! - [`hooks`]: what the shared write paths call;
//! - [`performance`]: daily order rollups per segment (analytics and performance routes);
//! - [`rfm`]: RFM k-means generation of `rfm` segments.

pub mod criteria;
pub mod features;
pub mod hooks;
pub mod membership;
pub mod performance;
pub mod records;
pub mod rfm;
