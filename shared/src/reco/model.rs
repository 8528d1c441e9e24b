//! What every trained recommendation model offers, and the names of the model kinds.
//!
//! A model scores items for a *history* (the user's items and weights, as columns of the
//! training data set) rather than for a user id. Serving reads the user's current history, so a
//! user who interacted after training (or did not exist then) is served from what they did
//! seconds ago: ALS folds the history in, the item-item models sum neighbours, the popularity
//! kinds ignore it.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The model kinds the training job knows (`specific_models` of `POST .../ml-config/train`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Als,
    ItemKnn,
    Ease,
    Content,
    Popularity,
    Trending,
    NewArrivals,
    Fbt,
    Ranker,
    Hybrid,
    Kmeans,
}

impl ModelKind {
    pub const ALL: [ModelKind; 11] = [
        ModelKind::Als,
        ModelKind::ItemKnn,
        ModelKind::Ease,
        ModelKind::Content,
        ModelKind::Popularity,
        ModelKind::Trending,
        ModelKind::NewArrivals,
        ModelKind::Fbt,
        ModelKind::Ranker,
        ModelKind::Hybrid,
        ModelKind::Kmeans,
    ];

    /// The name in requests, blob keys and reports.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Als => "als",
            ModelKind::ItemKnn => "item_knn",
            ModelKind::Ease => "ease",
            ModelKind::Content => "content",
            ModelKind::Popularity => "popularity",
            ModelKind::Trending => "trending",
            ModelKind::NewArrivals => "new_arrivals",
            ModelKind::Fbt => "fbt",
            ModelKind::Ranker => "ranker",
            ModelKind::Hybrid => "hybrid",
            ModelKind::Kmeans => "kmeans",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown model name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model `{0}`")]
pub struct UnknownModel(pub String);

impl FromStr for ModelKind {
    type Err = UnknownModel;

    /// The names of [`ModelKind::name`], plus `lightgbm` for the ranker (the spec's name).
    fn from_str(s: &str) -> Result<Self, UnknownModel> {
        if s == "lightgbm" {
            return Ok(ModelKind::Ranker);
        }
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownModel(s.to_string()))
    }
}

/// A trained model that scores items (columns of its training data set) for a history.
pub trait Recommender: Send + Sync {
    fn kind(&self) -> ModelKind;

    /// Number of item columns the model scores.
    fn n_items(&self) -> usize;

    /// Writes one score per item column into `out` (`out.len() == n_items()`); higher is
    /// better. `history` holds `(item column, weight)` pairs; columns out of range are ignored.
    fn score(&self, history: &[(u32, f32)], out: &mut [f32]);

    /// The scores `score` gives `items` (`-inf` for a column out of range), in their order. The
    /// default scores every item; a model whose cost is per scored item (the ranker's trees)
    /// overrides it to score only these.
    fn score_items(&self, history: &[(u32, f32)], items: &[u32]) -> Vec<f32> {
        let mut out = vec![0f32; self.n_items()];
        self.score(history, &mut out);
        items
            .iter()
            .map(|&i| out.get(i as usize).copied().unwrap_or(f32::NEG_INFINITY))
            .collect()
    }

    /// For each item column, the best score one of `seeds` gives it on its own (as
    /// `score(&[(seed, 1.0)])` would) and the index in `seeds` of that seed: "neighbours of each
    /// of these items" in one call. The default scores seed by seed; a model whose scan is
    /// bound by memory (content: a vector per item) overrides it to read each item once.
    fn best_of_seeds(&self, seeds: &[u32]) -> Vec<(f32, u32)> {
        let n = self.n_items();
        let mut best = vec![(f32::NEG_INFINITY, 0u32); n];
        let mut out = vec![0f32; n];
        for (j, &seed) in seeds.iter().enumerate() {
            self.score(&[(seed, 1.0)], &mut out);
            for (b, &v) in best.iter_mut().zip(&out) {
                if v > b.0 {
                    *b = (v, j as u32);
                }
            }
        }
        best
    }

    /// The `k` best items for `history`, best first, never an item of `history` or `exclude`.
    fn recommend(&self, history: &[(u32, f32)], k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        let mut scores = vec![0f32; self.n_items()];
        self.score(history, &mut scores);
        for &(i, _) in history {
            if let Some(s) = scores.get_mut(i as usize) {
                *s = f32::NEG_INFINITY;
            }
        }
        for &i in exclude {
            if let Some(s) = scores.get_mut(i as usize) {
                *s = f32::NEG_INFINITY;
            }
        }
        top_k(&scores, k)
    }
}

#[derive(PartialEq)]
struct MinEntry(f32, u32);

impl Eq for MinEntry {}

impl PartialOrd for MinEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MinEntry {
    // Reversed so the heap's top is the worst kept entry; ties: the larger index is worse.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| self.1.cmp(&other.1))
    }
}

/// The `k` highest finite scores as `(index, score)`, best first; ties by lower index. O(n log k).
pub fn top_k(scores: &[f32], k: usize) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<MinEntry> = BinaryHeap::with_capacity(k + 1);
    for (i, &s) in scores.iter().enumerate() {
        if !s.is_finite() {
            continue;
        }
        if heap.len() < k {
            heap.push(MinEntry(s, i as u32));
        } else if let Some(worst) = heap.peek()
            && (s > worst.0 || (s == worst.0 && (i as u32) < worst.1))
        {
            heap.pop();
            heap.push(MinEntry(s, i as u32));
        }
    }
    let mut out: Vec<(u32, f32)> = heap.into_iter().map(|e| (e.1, e.0)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_best_first_and_skips_non_finite() {
        let s = [0.1, 0.9, f32::NEG_INFINITY, 0.5, 0.9, f32::NAN];
        assert_eq!(top_k(&s, 3), vec![(1, 0.9), (4, 0.9), (3, 0.5)]);
        assert_eq!(top_k(&s, 0), vec![]);
        assert_eq!(top_k(&s, 10).len(), 4);
    }

    #[test]
    fn kind_names_round_trip_and_lightgbm_is_the_ranker() {
        for k in ModelKind::ALL {
            assert_eq!(k.name().parse::<ModelKind>(), Ok(k));
        }
        assert_eq!("lightgbm".parse::<ModelKind>(), Ok(ModelKind::Ranker));
        assert!("svd".parse::<ModelKind>().is_err());
    }

    struct Fixed(Vec<f32>);

    impl Recommender for Fixed {
        fn kind(&self) -> ModelKind {
            ModelKind::Popularity
        }
        fn n_items(&self) -> usize {
            self.0.len()
        }
        fn score(&self, _history: &[(u32, f32)], out: &mut [f32]) {
            out.copy_from_slice(&self.0);
        }
    }

    #[test]
    fn recommend_never_returns_history_or_excluded_items() {
        let m = Fixed(vec![5.0, 4.0, 3.0, 2.0, 1.0]);
        let got = m.recommend(&[(0, 1.0), (9, 1.0)], 2, &[1]);
        assert_eq!(got, vec![(2, 3.0), (3, 2.0)]);
    }
}
