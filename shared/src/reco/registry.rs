//! One entry point to train and load every model kind, so the training job, the serving
//! functions and `local eval` never match on model kinds themselves.
//!
//! Parameters arrive as the JSON object of an ML config (already validated by the ml-models
//! function); each model module reads its own names with defaults (`from_params`).

use serde_json::{Map, Value};
use thiserror::Error;

use super::artifact::ArtifactError;
use super::content::ContentModel;
use super::data::{Dataset, Interaction};
use super::hybrid::HybridModel;
use super::model::{ModelKind, Recommender};
use super::popularity::{NewArrivalsModel, PopularityModel, TrendingModel};
use super::ranker::RankerPipeline;

/// What a training run hands to a model's fit.
#[derive(Debug, Clone, Copy)]
pub struct TrainInput<'a> {
    /// Training interactions mapped to users x items (item columns: the catalogue first).
    pub data: &'a Dataset,
    /// The same interactions with their timestamps (trending, popularity windows).
    pub interactions: &'a [Interaction],
    /// Creation time (epoch seconds) per item column, when known (new arrivals).
    pub item_created_at: &'a [Option<i64>],
    /// Embedding per item column, when stored (content model).
    pub item_embeddings: &'a [Option<Vec<f32>>],
    /// Category index per item column, when known (ranker: category affinity).
    pub item_category: &'a [Option<u32>],
    /// Price per item column, when known (ranker: price band).
    pub item_price: &'a [Option<f32>],
    /// "Now" in epoch seconds (time windows and decay are relative to it).
    pub now: i64,
    /// Seed for anything random.
    pub seed: u64,
}

#[derive(Debug, Error)]
pub enum FitError {
    #[error("model `{0}` is not available in this build")]
    NotAvailable(ModelKind),
    #[error("not enough interactions: {0}")]
    NotEnoughData(String),
    #[error("invalid parameter `{field}`: {message}")]
    Param { field: String, message: String },
    #[error("{0}")]
    Failed(String),
}

/// A trained model that can be written as an artifact.
pub trait TrainedModel: Recommender {
    /// The artifact bytes ([`super::artifact`] format).
    fn to_artifact(&self) -> Result<Vec<u8>, ArtifactError>;
}

/// Trains a model of `kind` with `params` on `input`.
pub fn fit(
    kind: ModelKind,
    params: &Map<String, Value>,
    input: &TrainInput<'_>,
) -> Result<Box<dyn TrainedModel>, FitError> {
    match kind {
        ModelKind::Popularity => Ok(Box::new(PopularityModel::fit_from_params(params, input)?)),
        ModelKind::Trending => Ok(Box::new(TrendingModel::fit_from_params(params, input)?)),
        ModelKind::NewArrivals => Ok(Box::new(NewArrivalsModel::fit_from_params(params, input)?)),
        ModelKind::Content => Ok(Box::new(ContentModel::fit_from_params(params, input)?)),
        ModelKind::Hybrid => Ok(Box::new(HybridModel::fit_from_params(params, input)?)),
        ModelKind::Ranker => Ok(Box::new(RankerPipeline::fit_from_params(params, input)?)),
        ModelKind::ItemKnn => super::item_knn::fit_from_params(params, input),
        ModelKind::Ease => super::ease::fit_from_params(params, input),
        ModelKind::Als => super::als::fit_from_params(params, input),
        _ => Err(FitError::NotAvailable(kind)),
    }
}

/// Loads an artifact of `kind` written by [`TrainedModel::to_artifact`].
pub fn load(kind: ModelKind, bytes: &[u8]) -> Result<Box<dyn TrainedModel>, ArtifactError> {
    match kind {
        ModelKind::Popularity => Ok(Box::new(PopularityModel::load(bytes)?)),
        ModelKind::Trending => Ok(Box::new(TrendingModel::load(bytes)?)),
        ModelKind::NewArrivals => Ok(Box::new(NewArrivalsModel::load(bytes)?)),
        ModelKind::Content => Ok(Box::new(ContentModel::load(bytes)?)),
        ModelKind::Hybrid => Ok(Box::new(HybridModel::load(bytes)?)),
        ModelKind::Ranker => Ok(Box::new(RankerPipeline::load(bytes)?)),
        ModelKind::ItemKnn => Ok(Box::new(super::item_knn::load(bytes)?)),
        ModelKind::Ease => match super::ease::load(bytes) {
            // Above its `max_items` EASE trains item-kNN instead (`ease::fit_from_params`): the
            // EASE slot then holds an item-kNN artifact.
            Err(ArtifactError::WrongKind { found, .. }) if found == ModelKind::ItemKnn.name() => {
                Ok(Box::new(super::item_knn::load(bytes)?))
            }
            loaded => Ok(Box::new(loaded?)),
        },
        ModelKind::Als => super::als::load(bytes),
        _ => Err(ArtifactError::WrongKind {
            expected: kind.name().to_string(),
            found: "nothing (not available in this build)".to_string(),
        }),
    }
}
