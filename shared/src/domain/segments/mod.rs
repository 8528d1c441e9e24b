//! User segments (spec 002 "User Segmentation Management"): records, typed criteria,
//! membership kept current on write and by the `segments-refresh` job, RFM k-means.

pub mod membership;
