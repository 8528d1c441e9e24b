//! The non-personal models: `popularity`, `trending` and `new_arrivals`. Each scores every item
//! the same for every user (the history is ignored; [`Recommender::recommend`] still leaves out
//! the user's own items), so training computes one score per item column and serving is a top-k.
//!
//! All three are relative to [`TrainInput::now`] (epoch seconds); an interaction's age is
//! `now - timestamp` (a timestamp after `now` counts as age 0).
//!
//! - `popularity`: `score(i) = Σ weight` over the interactions with item `i` of age
//!   `<= window_days` days (parameter `window_days`, 1-365, default 30).
//! - `trending`: exponentially time-decayed activity,
//!   `score(i) = Σ weight · 2^(-age_hours / half_life_hours)` over the interactions of age
//!   `<= window_days` days (`half_life_hours` in (0, 720], default 24; `window_days` 1-90,
//!   default 7): an interaction one half-life old counts half, two half-lives a quarter.
//! - `new_arrivals`: items by creation time ([`TrainInput::item_created_at`]), newest first.
//!   Items created within `window_days` (1-365, default 30) score in `[1, 2]`
//!   (`1 + 1 - age / window`), older ones in `(0, 0.5]` (`0.5 · window / age`), so they follow
//!   the window's items, still newest first; items without a creation time score 0 and come last
//!   (ties by column, i.e. catalogue order).
//!
//! Hand-written: a weighted count per item is a loop, not a dependency.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::artifact::{self, ArtifactError};
use super::data::IdMap;
use super::model::{ModelKind, Recommender};
use super::registry::{FitError, TrainInput, TrainedModel};

const DAY: f64 = 86_400.0;
const HOUR: f64 = 3_600.0;

// ---------------------------------------------------------------------------------------------
// Parameter reading shared by the models of this helper's modules (content, hybrid, ranker).

/// An integer parameter `name` in `min..=max`, `default` when absent.
pub(crate) fn param_int(
    params: &Map<String, Value>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, FitError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(FitError::Param {
                field: name.to_string(),
                message: format!("must be an integer from {min} to {max}"),
            }),
        },
    }
}

/// A float parameter `name` accepted by `ok` (described by `range`), `default` when absent.
pub(crate) fn param_float(
    params: &Map<String, Value>,
    name: &str,
    default: f64,
    range: &str,
    ok: impl Fn(f64) -> bool,
) -> Result<f64, FitError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && ok(x) => Ok(x),
            _ => Err(FitError::Param {
                field: name.to_string(),
                message: format!("must be a number {range}"),
            }),
        },
    }
}

/// Age in seconds of `timestamp` at `now` (0 for a timestamp after `now`).
fn age_seconds(now: i64, timestamp: i64) -> f64 {
    (now.saturating_sub(timestamp)).max(0) as f64
}

/// The items and their fixed scores: what the three models store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemScores {
    pub items: IdMap,
    /// One score per item column.
    pub scores: Vec<f32>,
}

impl ItemScores {
    fn score_into(&self, out: &mut [f32]) {
        for (o, s) in out.iter_mut().zip(&self.scores) {
            *o = *s;
        }
    }
}

/// Sums `weight · decay(age)` per item column over `input.interactions` of age `<= window`.
fn weighted_activity(
    input: &TrainInput<'_>,
    window_days: u64,
    decay: impl Fn(f64) -> f64,
) -> Vec<f32> {
    let mut scores = vec![0f64; input.data.n_items()];
    let window = window_days as f64 * DAY;
    for it in input.interactions {
        if !(it.weight.is_finite() && it.weight > 0.0) {
            continue;
        }
        let age = age_seconds(input.now, it.timestamp);
        if age > window {
            continue;
        }
        if let Some(s) = input
            .data
            .items
            .get(&it.item)
            .and_then(|c| scores.get_mut(c as usize))
        {
            *s += f64::from(it.weight) * decay(age);
        }
    }
    scores.into_iter().map(|s| s as f32).collect()
}

macro_rules! fixed_score_model {
    ($name:ident, $kind:expr) => {
        impl Recommender for $name {
            fn kind(&self) -> ModelKind {
                $kind
            }
            fn n_items(&self) -> usize {
                self.model.scores.len()
            }
            /// The fixed scores; the history is ignored.
            fn score(&self, _history: &[(u32, f32)], out: &mut [f32]) {
                self.model.score_into(out);
            }
        }

        impl TrainedModel for $name {
            fn to_artifact(&self) -> Result<Vec<u8>, ArtifactError> {
                artifact::encode($kind, self)
            }
        }

        impl $name {
            /// Loads an artifact written by [`TrainedModel::to_artifact`].
            pub fn load(bytes: &[u8]) -> Result<Self, ArtifactError> {
                let mut m: Self = artifact::decode($kind, bytes)?;
                m.model.items.rebuild_index();
                if m.model.scores.len() != m.model.items.len() {
                    return Err(ArtifactError::Decode(
                        "scores and item ids differ in length".into(),
                    ));
                }
                Ok(m)
            }

            /// The item ids (columns) and their scores.
            pub fn item_scores(&self) -> &ItemScores {
                &self.model
            }
        }
    };
}

/// `popularity`: interaction weight per item within `window_days` (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopularityModel {
    pub window_days: u64,
    model: ItemScores,
}

impl PopularityModel {
    pub fn fit(input: &TrainInput<'_>, window_days: u64) -> Self {
        Self {
            window_days,
            model: ItemScores {
                items: input.data.items.clone(),
                scores: weighted_activity(input, window_days, |_| 1.0),
            },
        }
    }

    /// Reads `window_days` (1-365, default 30) and fits.
    pub fn fit_from_params(
        params: &Map<String, Value>,
        input: &TrainInput<'_>,
    ) -> Result<Self, FitError> {
        let window_days = param_int(params, "window_days", 30, 1, 365)?;
        Ok(Self::fit(input, window_days))
    }
}

fixed_score_model!(PopularityModel, ModelKind::Popularity);

/// `trending`: time-decayed activity within `window_days` (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendingModel {
    pub half_life_hours: f64,
    pub window_days: u64,
    model: ItemScores,
}

impl TrendingModel {
    pub fn fit(input: &TrainInput<'_>, half_life_hours: f64, window_days: u64) -> Self {
        let half_life = half_life_hours.max(f64::MIN_POSITIVE) * HOUR;
        Self {
            half_life_hours,
            window_days,
            model: ItemScores {
                items: input.data.items.clone(),
                scores: weighted_activity(input, window_days, |age| (-age / half_life).exp2()),
            },
        }
    }

    /// Reads `half_life_hours` ((0, 720], default 24) and `window_days` (1-90, default 7).
    pub fn fit_from_params(
        params: &Map<String, Value>,
        input: &TrainInput<'_>,
    ) -> Result<Self, FitError> {
        let half_life = param_float(params, "half_life_hours", 24.0, "in (0, 720]", |x| {
            x > 0.0 && x <= 720.0
        })?;
        let window_days = param_int(params, "window_days", 7, 1, 90)?;
        Ok(Self::fit(input, half_life, window_days))
    }
}

fixed_score_model!(TrendingModel, ModelKind::Trending);

/// `new_arrivals`: items by creation time, newest first (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewArrivalsModel {
    pub window_days: u64,
    model: ItemScores,
}

impl NewArrivalsModel {
    pub fn fit(input: &TrainInput<'_>, window_days: u64) -> Self {
        let window = window_days.max(1) as f64 * DAY;
        let scores = (0..input.data.n_items())
            .map(|c| match input.item_created_at.get(c).copied().flatten() {
                None => 0.0,
                Some(created) => {
                    let age = age_seconds(input.now, created);
                    if age <= window {
                        (2.0 - age / window) as f32
                    } else {
                        (0.5 * window / age) as f32
                    }
                }
            })
            .collect();
        Self {
            window_days,
            model: ItemScores {
                items: input.data.items.clone(),
                scores,
            },
        }
    }

    /// Reads `window_days` (1-365, default 30) and fits.
    pub fn fit_from_params(
        params: &Map<String, Value>,
        input: &TrainInput<'_>,
    ) -> Result<Self, FitError> {
        let window_days = param_int(params, "window_days", 30, 1, 365)?;
        Ok(Self::fit(input, window_days))
    }
}

fixed_score_model!(NewArrivalsModel, ModelKind::NewArrivals);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reco::data::{Dataset, Interaction};
    use serde_json::json;

    const NOW: i64 = 1_000_000_000;
    const H: i64 = 3_600;
    const D: i64 = 86_400;

    fn it(u: &str, i: &str, w: f32, t: i64) -> Interaction {
        Interaction {
            user: u.into(),
            item: i.into(),
            weight: w,
            timestamp: t,
        }
    }

    fn input<'a>(
        data: &'a Dataset,
        interactions: &'a [Interaction],
        created: &'a [Option<i64>],
    ) -> TrainInput<'a> {
        TrainInput {
            data,
            interactions,
            item_created_at: created,
            item_embeddings: &[],
            item_category: &[],
            item_price: &[],
            now: NOW,
            seed: 42,
        }
    }

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn popularity_sums_weights_inside_the_window_only() {
        let all = vec![
            it("u1", "a", 1.0, NOW - D),      // a: 1
            it("u2", "a", 5.0, NOW - 2 * D),  // a: +5
            it("u1", "b", 3.0, NOW - 29 * D), // b: 3 (inside 30 days)
            it("u3", "b", 9.0, NOW - 31 * D), // outside the window: ignored
            it("u3", "c", 2.0, NOW + D),      // in the future: age 0, counted
        ];
        let data = Dataset::from_interactions(&all, None);
        let m = PopularityModel::fit_from_params(&params(json!({})), &input(&data, &all, &[]))
            .expect("fit");
        assert_eq!(m.window_days, 30);
        // columns: a, b, c
        let mut out = vec![0.0; 3];
        m.score(&[], &mut out);
        assert_eq!(out, vec![6.0, 3.0, 2.0]);
        // u1's own items are never recommended; history otherwise ignored.
        assert_eq!(m.recommend(&[(0, 1.0)], 5, &[]), vec![(1, 3.0), (2, 2.0)]);
        // A 1-day window keeps only a's first interaction and c.
        let m1 = PopularityModel::fit_from_params(
            &params(json!({"window_days": 1})),
            &input(&data, &all, &[]),
        )
        .expect("fit");
        m1.score(&[], &mut out);
        assert_eq!(out, vec![1.0, 0.0, 2.0]);
    }

    #[test]
    fn trending_halves_per_half_life() {
        let all = vec![
            it("u1", "a", 4.0, NOW),          // a: 4
            it("u2", "b", 4.0, NOW - 24 * H), // b: 4 · 1/2 = 2
            it("u3", "c", 4.0, NOW - 48 * H), // c: 4 · 1/4 = 1
            it("u4", "c", 8.0, NOW - 8 * D),  // outside 7 days
        ];
        let data = Dataset::from_interactions(&all, None);
        let m = TrendingModel::fit_from_params(&params(json!({})), &input(&data, &all, &[]))
            .expect("fit");
        let mut out = vec![0.0; 3];
        m.score(&[], &mut out);
        assert!(close(out[0], 4.0) && close(out[1], 2.0) && close(out[2], 1.0));
        // half_life 12 h: b is two half-lives old (1), c four (0.25).
        let m12 = TrendingModel::fit_from_params(
            &params(json!({"half_life_hours": 12})),
            &input(&data, &all, &[]),
        )
        .expect("fit");
        m12.score(&[], &mut out);
        assert!(close(out[1], 1.0) && close(out[2], 0.25), "{out:?}");
    }

    #[test]
    fn new_arrivals_newest_first_then_older_then_unknown() {
        let catalog: Vec<String> = ["old", "none", "new", "newer", "ancient"]
            .map(String::from)
            .to_vec();
        let data = Dataset::from_interactions(&[], Some(&catalog));
        let created = [
            Some(NOW - 60 * D), // older than 30 days: 0.5 · 30 / 60 = 0.25
            None,               // 0
            Some(NOW - 15 * D), // 2 - 15/30 = 1.5
            Some(NOW),          // 2
            Some(NOW - 90 * D), // 0.5 · 30 / 90 = 0.1667
        ];
        let m = NewArrivalsModel::fit_from_params(&params(json!({})), &input(&data, &[], &created))
            .expect("fit");
        let mut out = vec![0.0; 5];
        m.score(&[], &mut out);
        assert!(close(out[0], 0.25) && close(out[1], 0.0) && close(out[2], 1.5));
        assert!(close(out[3], 2.0) && close(out[4], 1.0 / 6.0));
        let order: Vec<u32> = m.recommend(&[], 5, &[]).into_iter().map(|r| r.0).collect();
        assert_eq!(order, vec![3, 2, 0, 4, 1]);
    }

    #[test]
    fn parameters_out_of_range_name_the_field() {
        let data = Dataset::default();
        let i = input(&data, &[], &[]);
        for (p, field) in [
            (json!({"window_days": 0}), "window_days"),
            (json!({"window_days": 400}), "window_days"),
            (json!({"window_days": "7"}), "window_days"),
        ] {
            match PopularityModel::fit_from_params(&params(p), &i) {
                Err(FitError::Param { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected a parameter error, got {other:?}"),
            }
        }
        assert!(matches!(
            TrendingModel::fit_from_params(&params(json!({"half_life_hours": 0})), &i),
            Err(FitError::Param { .. })
        ));
        assert!(matches!(
            TrendingModel::fit_from_params(&params(json!({"window_days": 91})), &i),
            Err(FitError::Param { .. })
        ));
    }

    #[test]
    fn artifacts_round_trip_and_refuse_other_kinds() {
        let all = vec![it("u", "a", 2.0, NOW), it("u", "b", 1.0, NOW)];
        let data = Dataset::from_interactions(&all, None);
        let m = PopularityModel::fit(&input(&data, &all, &[]), 30);
        let bytes = m.to_artifact().expect("encode");
        let back = PopularityModel::load(&bytes).expect("decode");
        assert_eq!(back, m);
        assert_eq!(back.item_scores().items.get("b"), Some(1));
        assert!(TrendingModel::load(&bytes).is_err());
        assert!(PopularityModel::load(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn the_registry_fits_and_loads_the_three_kinds() {
        use crate::reco::registry;
        let all = vec![it("u", "a", 2.0, NOW - H), it("v", "b", 1.0, NOW - 2 * H)];
        let data = Dataset::from_interactions(&all, None);
        let created = [Some(NOW - D), Some(NOW)];
        let i = input(&data, &all, &created);
        for kind in [
            ModelKind::Popularity,
            ModelKind::Trending,
            ModelKind::NewArrivals,
        ] {
            let m = registry::fit(kind, &Map::new(), &i).expect("fit");
            assert_eq!(m.kind(), kind);
            let back = registry::load(kind, &m.to_artifact().expect("encode")).expect("load");
            assert_eq!(back.recommend(&[], 2, &[]), m.recommend(&[], 2, &[]));
        }
        // new arrivals: b (created now) first; popularity: a first.
        let na = registry::fit(ModelKind::NewArrivals, &Map::new(), &i).expect("fit");
        assert_eq!(na.recommend(&[], 1, &[])[0].0, 1);
        let pop = registry::fit(ModelKind::Popularity, &Map::new(), &i).expect("fit");
        assert_eq!(pop.recommend(&[], 1, &[])[0].0, 0);
    }
}
