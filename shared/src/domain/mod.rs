//! Entities and repositories, written once on top of [`ItemStore`](crate::store::ItemStore).

pub mod stats;
pub mod users;
