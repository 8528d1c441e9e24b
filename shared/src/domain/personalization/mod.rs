//! The personalization engine of spec 000: spec segments, segment content performance, the
//! 40/30/20/10 blend, and its caches.

pub mod cache;
