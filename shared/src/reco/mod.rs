//! Recommendation algorithms: pure functions, no I/O.
//!
//! Plain data in, plain data out: callers (the recommendation and catalog functions, the batch
//! jobs) load from the store, call in here, and write results back. Anything random takes a seed.
//! Each algorithm is unit-tested on cases small enough to check by hand.
//!
//! - [`similarity`]: cosine similarity and a bounded top-k nearest-neighbour search ("similar
//!   products" from embeddings).
//! - [`association`]: single-item association rules (support, confidence, lift) for "frequently
//!   bought together", mined from orders or ranked from stored co-purchase counters.
//! - [`clusters`]: behavioural user clusters (log-scale, standardise, k-means with
//!   linfa-clustering) and the rules that name them (spec 003).
//! - [`rfm`]: RFM customer segmentation: recency, frequency, monetary per customer, the shared
//!   k-means pipeline of [`clusters`], clusters named with the standard RFM names; silhouette.
//! - [`feed`]: the shoppable-video feed's profile, score formula and ranking (spec 004).
//! - [`data`]: interactions mapped to a users x items sparse matrix (the training input).
//! - [`model`]: the [`model::Recommender`] trait every trained model implements, the model kinds,
//!   top-k selection.
//! - [`eval`]: the time-based holdout and ranking metrics at k (precision, recall, NDCG, hit
//!   rate, MAP, coverage).
//! - [`artifact`]: the versioned, checksummed binary format of model artifacts.
//! - [`cooccurrence`]: item-item co-occurrence `XᵀX` (counts or weighted), dense or sparse by
//!   density, computed row by row in parallel (FBT mining, item-kNN, EASE).
//! - [`item_knn`]: item-item kNN from co-occurrence (cosine with shrinkage, or BM25-weighted).
//! - [`ease`]: EASE^R (Steck 2019), the closed-form item-item model, dense in items.
//! - [`registry`]: train (`fit`) and load any model kind by name.
//! - [`als`]: implicit-feedback matrix factorisation (Hu et al. 2008) with conjugate-gradient
//!   steps (Takács et al. 2011) and fold-in of new histories.
//! - [`synthetic`]: a seeded generator of orders with co-purchase structure, for benches and
//!   examples.
//! - [`popularity`]: the non-personal models `popularity`, `trending` (time-decayed) and
//!   `new_arrivals`.
//! - [`personalization`]: the spec 000 segments (age group, activity level, multi-interest),
//!   segment affinity against everyone, and the 40/30/20/10 segment/history/collaborative/trending
//!   blend.
//! - [`content`]: "more like what you viewed" from product embeddings.
//! - [`hybrid`]: a weighted blend of the min-max normalised scores of several models.
//! - [`ranker`]: gradient-boosted trees re-ranking a base model's candidates (`lightgbm`).
//! - [`serve`]: the serving rules of the recommendation lists (blend with provenance, exclusions,
//!   ranker re-scoring, the cold-start chain, a per-category cap).
//! - [`abtest`]: A/B experiments: stable hash assignment of actors to arms by traffic share, the
//!   two-proportion z-test against the control, the winner rule.
//! - [`explain`]: template sentences explaining served items, the batch prompt for a language
//!   model and the parsing of its answer (cached and filled by `domain::explanations`).

pub mod abtest;
pub mod algorithm;
pub mod als;
pub mod artifact;
pub mod association;
pub mod clusters;
pub mod content;
pub mod cooccurrence;
pub mod data;
pub mod ease;
pub mod eval;
pub mod explain;
pub mod feed;
pub mod hybrid;
pub mod item_knn;
pub mod model;
pub mod personalization;
pub mod popularity;
pub mod ranker;
pub mod registry;
pub mod rfm;
pub mod serve;
pub mod similarity;
pub mod synthetic;
