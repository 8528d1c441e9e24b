//! ML model management and the recommendation training job's plumbing (store and blobs): the
//! configs and their per-type parameters ([`params`], [`configs`]), training-run records
//! ([`runs`]), the `reco-train` job itself with its lock and model pointers ([`training`]),
//! starting it in the background ([`launcher`]), and loading the models in force for serving
//! ([`serving`]). The algorithms are in [`crate::reco`]; this module reaches them only through
//! [`crate::reco::registry`].

pub mod configs;
pub mod launcher;
pub mod params;
pub mod runs;
pub mod serving;
pub mod training;

pub use configs::MlConfig;
pub use params::ModelType;
pub use serving::{ModelCache, ServedModel};

#[cfg(test)]
mod tests;
