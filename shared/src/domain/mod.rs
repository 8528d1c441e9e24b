//! Entities and repositories, written once on top of [`ItemStore`](crate::store::ItemStore).

pub mod analytics;
pub mod cart;
pub mod catalog;
pub mod experiments;
pub mod explanations;
pub mod fbt;
pub mod import;
pub mod interactions;
pub mod login_throttle;
pub mod ml_models;
pub mod orders;
pub mod personalization;
pub mod promotions;
pub mod rec_tracking;
pub mod recommendations;
pub mod segments;
pub mod stats;
pub mod teachers;
pub mod users;
pub mod videos;
pub mod viewed;
