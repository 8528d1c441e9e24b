//! `content`: "more like what you viewed", from the product embeddings already stored.
//!
//! The user profile is the weighted mean of the unit-length embeddings of the last
//! `profile_items` items of the history (parameter `profile_items`, 1-200, default 20):
//! `p = Σ w_h · ê_h / Σ w_h` over those items that have an embedding (`ê` = `e / |e|`,
//! [`similarity::normalized`]). An item's score is the cosine of `p` and its embedding,
//! `ŝ_i = p̂ · ê_i` ([`similarity::dot`] of unit vectors), in `[-1, 1]`.
//!
//! **Recency is the history's order**: the history is read oldest first, so its *last*
//! `profile_items` entries are the most recent. Serving passes the user's items newest last;
//! a history taken from a [`super::data::Csr`] row is in column order, in which case "the last
//! entries" are arbitrary but still a fixed subset (the evaluation does this).
//!
//! Items without an embedding (or with one of another dimension, or a zero one) score
//! [`NO_EMBEDDING`] (-2, below every cosine), so they come after every item that has one. A
//! history with no embedded item gives the profile nothing to point at: every embedded item
//! then scores 0 (ties by column).
//!
//! Hand-written: a weighted mean and a scan of dot products over the stored vectors, the same
//! SIMD dot the similar-products search uses.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::artifact::{self, ArtifactError};
use super::data::IdMap;
use super::model::{ModelKind, Recommender};
use super::popularity::param_int;
use super::registry::{FitError, TrainInput, TrainedModel};
use super::similarity::{dot, normalized};

/// The score of an item without a usable embedding.
pub const NO_EMBEDDING: f32 = -2.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentModel {
    pub items: IdMap,
    pub profile_items: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Unit embeddings, `dim` per item column (zeros where `has_embedding` is false).
    embeddings: Vec<f32>,
    has_embedding: Vec<bool>,
}

impl ContentModel {
    /// From the item embeddings of `input` (their dimension is the first embedding's; vectors
    /// of another length or zero vectors count as missing). Fails when no item has one.
    pub fn fit(input: &TrainInput<'_>, profile_items: usize) -> Result<Self, FitError> {
        let n = input.data.n_items();
        let dim = input
            .item_embeddings
            .iter()
            .take(n)
            .flatten()
            .map(Vec::len)
            .find(|&d| d > 0)
            .ok_or_else(|| FitError::NotEnoughData("no item has an embedding".into()))?;
        let mut embeddings = vec![0f32; n * dim];
        let mut has_embedding = vec![false; n];
        for (c, e) in input.item_embeddings.iter().take(n).enumerate() {
            let Some(unit) = e.as_deref().filter(|e| e.len() == dim).and_then(normalized) else {
                continue;
            };
            if let Some(slot) = embeddings.get_mut(c * dim..(c + 1) * dim) {
                slot.copy_from_slice(&unit);
                has_embedding[c] = true;
            }
        }
        Ok(Self {
            items: input.data.items.clone(),
            profile_items: profile_items.max(1),
            dim,
            embeddings,
            has_embedding,
        })
    }

    /// Reads `profile_items` (1-200, default 20) and fits.
    pub fn fit_from_params(
        params: &Map<String, Value>,
        input: &TrainInput<'_>,
    ) -> Result<Self, FitError> {
        let profile_items = param_int(params, "profile_items", 20, 1, 200)? as usize;
        Self::fit(input, profile_items)
    }

    /// Loads an artifact written by [`TrainedModel::to_artifact`].
    pub fn load(bytes: &[u8]) -> Result<Self, ArtifactError> {
        let mut m: Self = artifact::decode(ModelKind::Content, bytes)?;
        m.items.rebuild_index();
        if m.has_embedding.len() != m.items.len()
            || m.embeddings.len() != m.items.len().saturating_mul(m.dim)
        {
            return Err(ArtifactError::Decode(
                "embeddings and item ids differ in length".into(),
            ));
        }
        Ok(m)
    }

    /// The unit embedding of item column `c`, when it has one.
    pub fn embedding(&self, c: usize) -> Option<&[f32]> {
        if !*self.has_embedding.get(c)? {
            return None;
        }
        self.embeddings.get(c * self.dim..(c + 1) * self.dim)
    }

    /// The unit profile of `history` (see the module docs), `None` when no item of its last
    /// `profile_items` has an embedding or the weights cancel out.
    pub fn profile(&self, history: &[(u32, f32)]) -> Option<Vec<f32>> {
        let start = history.len().saturating_sub(self.profile_items);
        let mut sum = vec![0f32; self.dim];
        let mut total = 0f32;
        for &(c, w) in history.get(start..).unwrap_or(&[]) {
            if !(w.is_finite() && w > 0.0) {
                continue;
            }
            if let Some(e) = self.embedding(c as usize) {
                for (s, x) in sum.iter_mut().zip(e) {
                    *s += w * x;
                }
                total += w;
            }
        }
        if total <= 0.0 {
            return None;
        }
        // The mean's direction is the sum's: normalising makes the division by Σ w moot.
        normalized(&sum)
    }
}

impl Recommender for ContentModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Content
    }

    fn n_items(&self) -> usize {
        self.items.len()
    }

    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        let profile = self.profile(history);
        for (c, o) in out.iter_mut().enumerate() {
            *o = match (self.embedding(c), &profile) {
                (None, _) => NO_EMBEDDING,
                (Some(_), None) => 0.0,
                (Some(e), Some(p)) => dot(p, e).clamp(-1.0, 1.0),
            };
        }
    }

    /// One pass over the stored vectors for all seeds (the scan is bound by memory: 10 MB for
    /// 10,000 items of 256 dimensions, read once instead of once per seed).
    fn best_of_seeds(&self, seeds: &[u32]) -> Vec<(f32, u32)> {
        let profiles: Vec<(u32, Option<Vec<f32>>)> = seeds
            .iter()
            .enumerate()
            .map(|(j, &s)| (j as u32, self.profile(&[(s, 1.0)])))
            .collect();
        (0..self.items.len())
            .map(|c| {
                let Some(e) = self.embedding(c) else {
                    return (NO_EMBEDDING, 0);
                };
                let mut best = (f32::NEG_INFINITY, 0);
                for (j, p) in &profiles {
                    let v = p.as_ref().map_or(0.0, |p| dot(p, e).clamp(-1.0, 1.0));
                    if v > best.0 {
                        best = (v, *j);
                    }
                }
                best
            })
            .collect()
    }
}

impl TrainedModel for ContentModel {
    fn to_artifact(&self) -> Result<Vec<u8>, ArtifactError> {
        artifact::encode(ModelKind::Content, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reco::data::Dataset;
    use serde_json::json;

    fn model(embeddings: &[Option<Vec<f32>>], profile_items: u64) -> ContentModel {
        let catalog: Vec<String> = (0..embeddings.len()).map(|i| format!("i{i}")).collect();
        let data = Dataset::from_interactions(&[], Some(&catalog));
        let input = TrainInput {
            data: &data,
            interactions: &[],
            item_created_at: &[],
            item_embeddings: embeddings,
            item_category: &[],
            item_price: &[],
            now: 0,
            seed: 1,
        };
        let params = json!({ "profile_items": profile_items });
        ContentModel::fit_from_params(params.as_object().expect("object"), &input).expect("fit")
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn profile_is_the_weighted_mean_direction_and_scores_are_cosines() {
        let m = model(
            &[
                Some(vec![1.0, 0.0]), // 0: x
                Some(vec![0.0, 2.0]), // 1: y (normalised to (0, 1))
                Some(vec![1.0, 1.0]), // 2: diagonal
                None,                 // 3: no embedding
                Some(vec![-1.0, 0.0]),
                Some(vec![1.0, 2.0, 3.0]), // 5: wrong dimension: missing
            ],
            20,
        );
        // History x (weight 3) and y (weight 1): profile ∝ (3, 1) / √10.
        let mut out = vec![0.0; 6];
        m.score(&[(0, 3.0), (1, 1.0)], &mut out);
        let n = 10f32.sqrt();
        assert!(close(out[0], 3.0 / n));
        assert!(close(out[1], 1.0 / n));
        // diagonal: (3 + 1) / (√10 · √2)
        assert!(close(out[2], 4.0 / (n * 2f32.sqrt())));
        assert_eq!(out[3], NO_EMBEDDING);
        assert!(close(out[4], -3.0 / n));
        assert_eq!(out[5], NO_EMBEDDING);
        // The history's items are left out; the diagonal comes first.
        let recs = m.recommend(&[(0, 3.0), (1, 1.0)], 10, &[]);
        let order: Vec<u32> = recs.iter().map(|r| r.0).collect();
        assert_eq!(order, vec![2, 4, 3, 5]);
    }

    /// The one-pass override gives what scoring seed by seed gives (the trait's default).
    #[test]
    fn best_of_seeds_is_the_best_single_seed_score() {
        let m = model(
            &[
                Some(vec![1.0, 0.0]),
                Some(vec![0.0, 2.0]),
                Some(vec![1.0, 1.0]),
                None,
                Some(vec![-1.0, 0.2]),
            ],
            20,
        );
        let seeds = [0u32, 1, 3];
        let best = m.best_of_seeds(&seeds);
        let mut out = vec![0.0; 5];
        for c in 0..5 {
            let mut expected = (f32::NEG_INFINITY, 0u32);
            for (j, &s) in seeds.iter().enumerate() {
                m.score(&[(s, 1.0)], &mut out);
                if out[c] > expected.0 {
                    expected = (out[c], j as u32);
                }
            }
            assert!(
                close(best[c].0, expected.0) && best[c].1 == expected.1,
                "{c}"
            );
        }
        // The diagonal: cos 45° from either axis, the first seed wins the tie.
        assert!(close(best[2].0, 0.5f32.sqrt()) && best[2].1 == 0);
        assert_eq!(best[3].0, NO_EMBEDDING);
    }

    #[test]
    fn only_the_last_profile_items_count() {
        let m = model(
            &[
                Some(vec![1.0, 0.0]),
                Some(vec![0.0, 1.0]),
                Some(vec![1.0, 1.0]),
            ],
            1,
        );
        let mut out = vec![0.0; 3];
        // History oldest first: x then y; with profile_items = 1 only y counts.
        m.score(&[(0, 1.0), (1, 1.0)], &mut out);
        assert!(close(out[0], 0.0) && close(out[1], 1.0));
        assert!(close(out[2], 1.0 / 2f32.sqrt()));
    }

    #[test]
    fn a_history_without_embeddings_scores_every_embedded_item_zero() {
        let m = model(&[Some(vec![1.0, 0.0]), None], 20);
        let mut out = vec![9.0; 2];
        m.score(&[(1, 1.0), (7, 1.0)], &mut out);
        assert_eq!(out, vec![0.0, NO_EMBEDDING]);
    }

    #[test]
    fn no_embeddings_at_all_is_not_enough_data_and_artifacts_round_trip() {
        let data = Dataset::from_interactions(&[], Some(&["a".to_string()]));
        let input = TrainInput {
            data: &data,
            interactions: &[],
            item_created_at: &[],
            item_embeddings: &[None],
            item_category: &[],
            item_price: &[],
            now: 0,
            seed: 1,
        };
        assert!(matches!(
            ContentModel::fit(&input, 20),
            Err(FitError::NotEnoughData(_))
        ));
        let m = model(&[Some(vec![3.0, 4.0]), None], 5);
        let back = ContentModel::load(&m.to_artifact().expect("encode")).expect("decode");
        assert_eq!(back, m);
        assert_eq!(back.embedding(0), Some(&[0.6f32, 0.8][..]));
        assert_eq!(back.items.get("i1"), Some(1));
    }
}
