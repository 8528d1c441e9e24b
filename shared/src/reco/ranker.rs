//! `ranker` (the spec's train name `lightgbm` maps to it): gradient-boosted trees that re-score
//! the top candidates of a base model from the base model's score plus features of the item and
//! of the user's history (two-stage recommendation: candidates, then ranking).
//!
//! ## Features ([`FeatureRow`], names in [`FEATURE_NAMES`])
//!
//! | # | name | value (`NaN` = missing, which the trees route on their own) |
//! |---|---|---|
//! | 0 | `base_score` | the base model's score, min-max normalised within the candidate list (1 = best) |
//! | 1 | `base_rank` | the candidate's rank in the base list / list length (0 = best) |
//! | 2 | `popularity` | `ln(1 + interaction weight in the last 30 days)` |
//! | 3 | `last_activity_days` | days since the item's latest interaction (recency of demand) |
//! | 4 | `item_age_days` | days since the item's creation (recency of the item) |
//! | 5 | `category_affinity` | share of the history's weight in the candidate's category |
//! | 6 | `price_band_distance` | `|log2(price) - weighted mean log2(price) of the history|` (price band) |
//! | 7 | `embedding_affinity` | cosine of the candidate's embedding and the history's profile ([`super::content`]) |
//!
//! Categories and prices come from [`TrainInput::item_category`] and [`TrainInput::item_price`]
//! (the training job fills them from the catalogue); features 5 and 6 are missing (NaN, which the
//! trees route as missing) for items without them.
//!
//! ## Labels and training set
//!
//! Training uses a time holdout ([`super::eval::time_holdout`], each user's latest 20%): the base
//! model, trained on the rest, proposes each holdout user's candidates (the "exposure"); a
//! candidate is labelled 1 when the user interacted with it in the holdout (a purchase, a cart
//! add, a click/view: interaction weights already fold the kinds) and 0 otherwise
//! ([`build_training_set`]). Users none of whose candidates is positive carry no ranking signal
//! and are left out. Rows of a user form one group.
//!
//! ## Objective and crate
//!
//! Binary log-loss on the labels (pointwise learning to rank), with sample weights `1 / |group|`
//! scaled to a mean of 1 so every user counts equally, as in the per-user metrics; trees from
//! [`forust_ml`] (`n_trees`, `learning_rate`, `max_depth` map to its `iterations`,
//! `learning_rate`, `max_depth`; seeded by `random_state`/[`TrainInput::seed`]). The score is the
//! trees' log-odds. Compared (crates.io, 2026-12):
//!
//! - LightGBM bindings (`lightgbm3`, `lightgbm-sys`): compile LightGBM's C++ with cmake; CI on a
//!   fresh machine and `cargo lambda build --arm64` (zig as the cross C/C++ compiler) would need
//!   cmake, a C++ toolchain and a cross-compiled OpenMP. Rejected.
//! - `forust-ml` 0.8 (chosen): pure Rust, XGBoost's algorithm (histogram splits, missing-value
//!   branches), about 9k lines, released steadily since 2022; its dependencies (rayon, serde_json,
//!   rand 0.8, thiserror 1) were already in the tree. No ranking objective, hence pointwise.
//! - `perpetual` 2.3: pure Rust, maintained, has a ListNet ranking objective, but tunes itself
//!   from one `budget` (no learning rate or depth for the spec's parameters) and brings rand 0.10
//!   and sysinfo.
//! - `hessboost` 0.4: pure Rust with XGBoost's LambdaMART, but ~106k lines (slow builds on the
//!   2-core machines), a zstd C build, and a young project.
//! - `gbdt` 0.1.3 (no release since 2021, no ranking training) and `smartcore` (random forests
//!   and single trees, no boosting): rejected.
//!
//! ## As a trained model
//!
//! [`fit_from_params`] (what [`super::registry::fit`] calls) needs no other model: its base is
//! [`CooccurrenceBase`], item-item co-occurrence of the training users
//! (`Σ_{h in history} cooc(h, i)`, each item's 50 strongest neighbours kept) blended with
//! popularity (weights 0.9 and 0.1 of the min-max normalised scores), computed from
//! [`TrainInput::data`]. The artifact ([`RankerPipeline`]) holds that base (refitted on all the
//! data after the ranker is trained), the item features and the trees, so serving loads one blob.
//! [`Reranker`] puts the same trees over any other base [`Recommender`] (e.g. the hybrid).
//! Only the top `candidates` (10-1000, default 100) of the base are ever recommended.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use forust_ml::{GradientBooster, Matrix};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::artifact::{self, ArtifactError};
use super::content::ContentModel;
use super::data::{Csr, Dataset, IdMap, Interaction};
use super::eval::time_holdout;
use super::hybrid::add_min_max;
use super::model::{ModelKind, Recommender, top_k};
use super::popularity::{PopularityModel, param_float, param_int};
use super::registry::{FitError, TrainInput, TrainedModel};

/// Number of features per row.
pub const N_FEATURES: usize = 8;

/// The feature names, in [`FeatureRow`] order (see the module docs).
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "base_score",
    "base_rank",
    "popularity",
    "last_activity_days",
    "item_age_days",
    "category_affinity",
    "price_band_distance",
    "embedding_affinity",
];

/// Neighbours kept per item in [`CooccurrenceBase`].
const NEIGHBOURS: usize = 50;
/// Share of the holdout in the ranker's training split.
const HOLDOUT: f64 = 0.2;
const DAY: f64 = 86_400.0;

/// One candidate's features (see the module docs for what each position holds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureRow(pub [f32; N_FEATURES]);

/// The ranker's parameters (`n_trees` 1-1000 default 100, `learning_rate` (0, 1] default 0.1,
/// `max_depth` 1-16 default 6, `candidates` 10-1000 default 100, and the seed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankerParams {
    pub n_trees: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    pub candidates: usize,
    pub seed: u64,
}

impl Default for RankerParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            learning_rate: 0.1,
            max_depth: 6,
            candidates: 100,
            seed: 42,
        }
    }
}

impl RankerParams {
    pub fn from_params(params: &Map<String, Value>, seed: u64) -> Result<Self, FitError> {
        Ok(Self {
            n_trees: param_int(params, "n_trees", 100, 1, 1000)? as usize,
            learning_rate: param_float(params, "learning_rate", 0.1, "in (0, 1]", |x| {
                x > 0.0 && x <= 1.0
            })? as f32,
            max_depth: param_int(params, "max_depth", 6, 1, 16)? as usize,
            candidates: param_int(params, "candidates", 100, 10, 1000)? as usize,
            seed,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Item-side features

/// What the features need to know about every item column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemFeatures {
    /// Epoch seconds the day counts are relative to.
    pub now: i64,
    /// `ln(1 + weight in the last 30 days)` per column.
    pub popularity: Vec<f32>,
    pub last_activity: Vec<Option<i64>>,
    pub created_at: Vec<Option<i64>>,
    /// Category index per column, when known.
    pub category: Vec<Option<u32>>,
    pub price: Vec<Option<f32>>,
    /// Unit embeddings and the profile rule, when items have embeddings.
    pub content: Option<ContentModel>,
}

impl ItemFeatures {
    /// From a training input (categories and prices from its `item_category` / `item_price`,
    /// missing where it has none).
    pub fn from_input(input: &TrainInput<'_>) -> Self {
        let n = input.data.n_items();
        let pop = PopularityModel::fit(input, 30);
        let popularity = pop
            .item_scores()
            .scores
            .iter()
            .map(|&w| w.max(0.0).ln_1p())
            .collect();
        let mut last_activity: Vec<Option<i64>> = vec![None; n];
        for it in input.interactions {
            if let Some(slot) = input
                .data
                .items
                .get(&it.item)
                .and_then(|c| last_activity.get_mut(c as usize))
            {
                *slot = Some(slot.map_or(it.timestamp, |t| t.max(it.timestamp)));
            }
        }
        let created_at = (0..n)
            .map(|c| input.item_created_at.get(c).copied().flatten())
            .collect();
        Self {
            now: input.now,
            popularity,
            last_activity,
            created_at,
            category: (0..n)
                .map(|c| input.item_category.get(c).copied().flatten())
                .collect(),
            price: (0..n)
                .map(|c| input.item_price.get(c).copied().flatten())
                .collect(),
            content: ContentModel::fit(input, 20).ok(),
        }
    }

    /// Sets the category index per item column.
    pub fn with_categories(mut self, category: Vec<Option<u32>>) -> Self {
        self.category = category;
        self
    }

    /// Sets the price per item column.
    pub fn with_prices(mut self, price: Vec<Option<f32>>) -> Self {
        self.price = price;
        self
    }

    fn days_since(&self, t: Option<i64>) -> f32 {
        t.map_or(f32::NAN, |t| {
            ((self.now.saturating_sub(t)).max(0) as f64 / DAY) as f32
        })
    }
}

/// The history's side of the features, computed once per request.
struct UserSide {
    /// Weight per category / total weight of the items with a category.
    category_share: HashMap<u32, f32>,
    mean_price_band: Option<f32>,
    profile: Option<Vec<f32>>,
}

fn price_band(p: f32) -> Option<f32> {
    (p.is_finite() && p > 0.0).then(|| p.log2())
}

impl UserSide {
    fn new(history: &[(u32, f32)], items: &ItemFeatures) -> Self {
        let mut category_share: HashMap<u32, f32> = HashMap::new();
        let (mut cat_total, mut band_sum, mut band_weight) = (0f32, 0f32, 0f32);
        for &(c, w) in history {
            if !(w.is_finite() && w > 0.0) {
                continue;
            }
            if let Some(cat) = items.category.get(c as usize).copied().flatten() {
                *category_share.entry(cat).or_default() += w;
                cat_total += w;
            }
            if let Some(band) = items
                .price
                .get(c as usize)
                .copied()
                .flatten()
                .and_then(price_band)
            {
                band_sum += w * band;
                band_weight += w;
            }
        }
        if cat_total > 0.0 {
            for v in category_share.values_mut() {
                *v /= cat_total;
            }
        }
        Self {
            category_share,
            mean_price_band: (band_weight > 0.0).then(|| band_sum / band_weight),
            profile: items.content.as_ref().and_then(|m| m.profile(history)),
        }
    }
}

/// The feature rows of `candidates` (`(item column, base score)`, best first) for `history`.
pub fn candidate_features(
    history: &[(u32, f32)],
    candidates: &[(u32, f32)],
    items: &ItemFeatures,
) -> Vec<FeatureRow> {
    let user = UserSide::new(history, items);
    let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
    for &(_, s) in candidates.iter().filter(|c| c.1.is_finite()) {
        min = min.min(s);
        max = max.max(s);
    }
    let n = candidates.len().max(1) as f32;
    candidates
        .iter()
        .enumerate()
        .map(|(rank, &(c, s))| {
            let ci = c as usize;
            let base_score = if !s.is_finite() {
                f32::NAN
            } else if max > min {
                (s - min) / (max - min)
            } else {
                1.0
            };
            let category_affinity = match items.category.get(ci).copied().flatten() {
                Some(cat) if !user.category_share.is_empty() => {
                    user.category_share.get(&cat).copied().unwrap_or(0.0)
                }
                _ => f32::NAN,
            };
            let price_band_distance = match (
                items.price.get(ci).copied().flatten().and_then(price_band),
                user.mean_price_band,
            ) {
                (Some(b), Some(m)) => (b - m).abs(),
                _ => f32::NAN,
            };
            let embedding_affinity = match (&user.profile, &items.content) {
                (Some(p), Some(m)) => m
                    .embedding(ci)
                    .map_or(f32::NAN, |e| super::similarity::dot(p, e)),
                _ => f32::NAN,
            };
            let row = [
                base_score,
                rank as f32 / n,
                items.popularity.get(ci).copied().unwrap_or(f32::NAN),
                items.days_since(items.last_activity.get(ci).copied().flatten()),
                items.days_since(items.created_at.get(ci).copied().flatten()),
                category_affinity,
                price_band_distance,
                embedding_affinity,
            ];
            // Infinite values become missing: the trees take finite values or NaN.
            FeatureRow(row.map(|x| if x.is_finite() { x } else { f32::NAN }))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Training set

/// One user's candidates from a base model and what they did next.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CandidateList {
    /// The history the candidates were proposed for (oldest first).
    pub history: Vec<(u32, f32)>,
    /// `(item column, base score)`, best first.
    pub candidates: Vec<(u32, f32)>,
    /// Items the user interacted with in the holdout (purchases, clicks...).
    pub positives: Vec<u32>,
}

/// Rows, labels and group sizes for [`RankerModel::fit`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainingSet {
    pub rows: Vec<FeatureRow>,
    pub labels: Vec<f32>,
    /// Rows per user, in order (they sum to `rows.len()`).
    pub groups: Vec<usize>,
}

/// One group per list with at least one positive candidate: its candidates' features, labelled
/// 1 when the candidate is among `positives`, else 0 (see the module docs).
pub fn build_training_set(lists: &[CandidateList], items: &ItemFeatures) -> TrainingSet {
    let per_list: Vec<Option<(Vec<FeatureRow>, Vec<f32>)>> = lists
        .par_iter()
        .map(|list| {
            let positives: HashSet<u32> = list.positives.iter().copied().collect();
            let labels: Vec<f32> = list
                .candidates
                .iter()
                .map(|(c, _)| if positives.contains(c) { 1.0 } else { 0.0 })
                .collect();
            if !labels.contains(&1.0) {
                return None;
            }
            Some((
                candidate_features(&list.history, &list.candidates, items),
                labels,
            ))
        })
        .collect();
    let mut set = TrainingSet::default();
    for (rows, labels) in per_list.into_iter().flatten() {
        set.groups.push(rows.len());
        set.rows.extend(rows);
        set.labels.extend(labels);
    }
    set
}

// ---------------------------------------------------------------------------------------------
// The trees

/// Gradient-boosted trees over [`FeatureRow`]s (see the module docs).
#[derive(Serialize, Deserialize)]
pub struct RankerModel {
    /// The trees in forust's JSON (what is stored).
    booster_json: String,
    #[serde(skip)]
    booster: Option<GradientBooster>,
}

impl fmt::Debug for RankerModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RankerModel")
            .field("json_bytes", &self.booster_json.len())
            .finish()
    }
}

impl Clone for RankerModel {
    fn clone(&self) -> Self {
        Self {
            booster_json: self.booster_json.clone(),
            booster: GradientBooster::from_json(&self.booster_json).ok(),
        }
    }
}

fn failed(e: impl fmt::Display) -> FitError {
    FitError::Failed(format!("ranker: {e}"))
}

impl RankerModel {
    /// Trains on `rows` with `labels` (1 relevant, 0 not) in `groups` (consecutive rows per
    /// user, summing to `rows.len()`). Needs at least one positive and one negative label.
    pub fn fit(
        rows: &[FeatureRow],
        labels: &[f32],
        groups: &[usize],
        params: &RankerParams,
    ) -> Result<Self, FitError> {
        let n = rows.len();
        if labels.len() != n || groups.iter().sum::<usize>() != n || groups.contains(&0) {
            return Err(FitError::Failed(format!(
                "ranker: {n} rows, {} labels and groups summing to {} do not match",
                labels.len(),
                groups.iter().sum::<usize>()
            )));
        }
        let positives = labels.iter().filter(|&&l| l > 0.0).count();
        if positives == 0 || positives == n {
            return Err(FitError::NotEnoughData(format!(
                "the ranker needs relevant and irrelevant candidates ({positives} of {n} relevant)"
            )));
        }
        // Column-major matrix; a feature missing in every row becomes a constant 0 (forust
        // cannot bin a column without values; a constant column gets no split either way).
        let mut data = vec![0f64; n * N_FEATURES];
        for f in 0..N_FEATURES {
            let all_missing = rows.iter().all(|r| r.0[f].is_nan());
            for (r, row) in rows.iter().enumerate() {
                data[f * n + r] = if all_missing {
                    0.0
                } else {
                    f64::from(row.0[f])
                };
            }
        }
        let y: Vec<f64> = labels
            .iter()
            .map(|&l| if l > 0.0 { 1.0 } else { 0.0 })
            .collect();
        let mean_group = n as f64 / groups.len() as f64;
        let weights: Vec<f64> = groups
            .iter()
            .flat_map(|&g| std::iter::repeat_n(mean_group / g as f64, g))
            .collect();
        let mut booster = GradientBooster::default()
            .set_iterations(params.n_trees)
            .set_learning_rate(params.learning_rate)
            .set_max_depth(params.max_depth)
            .set_seed(params.seed)
            .set_parallel(true);
        let matrix = Matrix::new(&data, n, N_FEATURES);
        // forust asserts on some inputs rather than returning errors; a panic in training must
        // fail this run, not the process.
        catch_unwind(AssertUnwindSafe(|| {
            booster.fit(&matrix, &y, &weights, None)
        }))
        .map_err(|_| failed("training panicked"))?
        .map_err(failed)?;
        let booster_json = booster.json_dump().map_err(failed)?;
        Ok(Self {
            booster_json,
            booster: Some(booster),
        })
    }

    /// One score (log-odds of relevance) per row; 0 for every row when the trees are missing.
    pub fn score(&self, rows: &[FeatureRow]) -> Vec<f32> {
        let Some(booster) = &self.booster else {
            return vec![0.0; rows.len()];
        };
        let n = rows.len();
        let mut data = vec![0f64; n * N_FEATURES];
        for (r, row) in rows.iter().enumerate() {
            for (f, &x) in row.0.iter().enumerate() {
                data[f * n + r] = f64::from(x);
            }
        }
        let matrix = Matrix::new(&data, n, N_FEATURES);
        catch_unwind(AssertUnwindSafe(|| booster.predict(&matrix, n > 2_000)))
            .map(|p| p.into_iter().map(|x| x as f32).collect())
            .unwrap_or_else(|_| vec![0.0; n])
    }

    /// Rebuilds the trees from the stored JSON (after deserialising).
    fn restore(&mut self) -> Result<(), ArtifactError> {
        self.booster = Some(
            GradientBooster::from_json(&self.booster_json)
                .map_err(|e| ArtifactError::Decode(format!("ranker trees: {e}")))?,
        );
        Ok(())
    }
}

/// The ranker's scores of `wanted` (item columns) for `history`: an item outside the top
/// `candidates` of `base_scores` scores `-inf`, as in [`rerank_into`]; only the wanted
/// candidates go through the trees (the features of a candidate depend on the whole candidate
/// list, its rank and the score range, so those are computed as for a full scoring).
fn rerank_items(
    base_scores: &[f32],
    history: &[(u32, f32)],
    ranker: &RankerModel,
    items: &ItemFeatures,
    candidates: usize,
    wanted: &[u32],
) -> Vec<f32> {
    let mut out = vec![f32::NEG_INFINITY; wanted.len()];
    let cands = top_k(base_scores, candidates.min(base_scores.len()));
    if cands.is_empty() || wanted.is_empty() {
        return out;
    }
    let slot: std::collections::HashMap<u32, usize> =
        wanted.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let rows = candidate_features(history, &cands, items);
    let (targets, picked): (Vec<usize>, Vec<FeatureRow>) = cands
        .iter()
        .zip(rows)
        .filter_map(|((c, _), row)| Some((*slot.get(c)?, row)))
        .unzip();
    for (t, s) in targets.into_iter().zip(ranker.score(&picked)) {
        if let Some(o) = out.get_mut(t) {
            *o = s;
        }
    }
    out
}

/// Writes the ranker's scores of the top `candidates` of `base_scores` into `out` and
/// `-inf` elsewhere. `base_scores` must already exclude the history.
fn rerank_into(
    base_scores: &[f32],
    history: &[(u32, f32)],
    ranker: &RankerModel,
    items: &ItemFeatures,
    candidates: usize,
    out: &mut [f32],
) {
    out.fill(f32::NEG_INFINITY);
    let cands = top_k(base_scores, candidates.min(base_scores.len()));
    if cands.is_empty() {
        return;
    }
    let rows = candidate_features(history, &cands, items);
    for ((c, _), s) in cands.iter().zip(ranker.score(&rows)) {
        if let Some(o) = out.get_mut(*c as usize) {
            *o = s;
        }
    }
}

fn mask_history(scores: &mut [f32], history: &[(u32, f32)]) {
    for &(c, _) in history {
        if let Some(s) = scores.get_mut(c as usize) {
            *s = f32::NEG_INFINITY;
        }
    }
}

/// The ranker over any base model: history -> the base's top `candidates` -> features ->
/// ranker scores. Items outside the candidates score `-inf` (never recommended).
pub struct Reranker {
    pub base: Box<dyn Recommender>,
    pub ranker: RankerModel,
    pub items: ItemFeatures,
    pub candidates: usize,
}

impl Recommender for Reranker {
    fn kind(&self) -> ModelKind {
        ModelKind::Ranker
    }

    fn n_items(&self) -> usize {
        self.base.n_items()
    }

    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        let mut base = vec![0f32; self.base.n_items()];
        self.base.score(history, &mut base);
        mask_history(&mut base, history);
        rerank_into(
            &base,
            history,
            &self.ranker,
            &self.items,
            self.candidates,
            out,
        );
    }

    fn score_items(&self, history: &[(u32, f32)], wanted: &[u32]) -> Vec<f32> {
        let mut base = vec![0f32; self.base.n_items()];
        self.base.score(history, &mut base);
        mask_history(&mut base, history);
        rerank_items(
            &base,
            history,
            &self.ranker,
            &self.items,
            self.candidates,
            wanted,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The self-contained base: co-occurrence + popularity

/// Candidates from item-item co-occurrence blended with popularity (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CooccurrenceBase {
    /// Items x items: number of users who have both, each row's strongest [`NEIGHBOURS`].
    neighbours: Csr,
    /// Interaction weight per item (all of the training data).
    popularity: Vec<f32>,
}

impl CooccurrenceBase {
    /// Co-occurrence counts as the sparse product `XᵀX` of the binarised users x items matrix,
    /// one item row at a time (a dense accumulator per thread), then the top neighbours.
    pub fn fit(data: &Dataset) -> Self {
        let n = data.n_items();
        let x = &data.user_items;
        let xt = x.transpose();
        let rows: Vec<Vec<(u32, f32)>> = (0..n)
            .into_par_iter()
            .map_init(
                || vec![0f32; n],
                |acc, i| {
                    let (users, _) = xt.row(i);
                    let mut touched: Vec<u32> = Vec::new();
                    for &u in users {
                        for &j in x.row(u as usize).0 {
                            if j as usize == i {
                                continue;
                            }
                            if let Some(a) = acc.get_mut(j as usize) {
                                if *a == 0.0 {
                                    touched.push(j);
                                }
                                *a += 1.0;
                            }
                        }
                    }
                    let mut pairs: Vec<(u32, f32)> = touched
                        .iter()
                        .map(|&j| (j, acc.get(j as usize).copied().unwrap_or(0.0)))
                        .collect();
                    for &j in &touched {
                        if let Some(a) = acc.get_mut(j as usize) {
                            *a = 0.0;
                        }
                    }
                    pairs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    pairs.truncate(NEIGHBOURS);
                    pairs
                },
            )
            .collect();
        let triplets = rows
            .into_iter()
            .enumerate()
            .flat_map(|(i, r)| r.into_iter().map(move |(j, v)| (i as u32, j, v)))
            .collect();
        let mut popularity = vec![0f32; n];
        for (p, w) in popularity.iter_mut().zip(column_sums(x, n)) {
            *p = w;
        }
        Self {
            neighbours: Csr::from_triplets(n, n, triplets),
            popularity,
        }
    }

    fn n_items(&self) -> usize {
        self.popularity.len()
    }

    /// Whether the neighbour matrix is a well-formed square CSR over the items (checked on
    /// load, so scoring never indexes out of range).
    fn is_valid(&self) -> bool {
        let m = &self.neighbours;
        let n = self.popularity.len();
        m.n_rows == n
            && m.n_cols == n
            && m.indptr.len() == n + 1
            && m.indptr.first() == Some(&0)
            && m.indptr.windows(2).all(|w| w[0] <= w[1])
            && m.indptr.last() == Some(&m.indices.len())
            && m.values.len() == m.indices.len()
            && m.indices.iter().all(|&c| (c as usize) < n)
    }

    /// `0.9 · minmax(Σ_h cooc(h, i)) + 0.1 · minmax(popularity)`.
    fn score_into(&self, history: &[(u32, f32)], out: &mut [f32]) {
        let mut cooc = vec![0f32; self.n_items()];
        for &(h, _) in history {
            let (cols, vals) = self.neighbours.row(h as usize);
            for (&j, &v) in cols.iter().zip(vals) {
                if let Some(s) = cooc.get_mut(j as usize) {
                    *s += v;
                }
            }
        }
        out.fill(0.0);
        add_min_max(out, &cooc, 0.9);
        add_min_max(out, &self.popularity, 0.1);
    }
}

fn column_sums(x: &Csr, n: usize) -> Vec<f32> {
    let mut sums = vec![0f32; n];
    for (&c, &v) in x.indices.iter().zip(&x.values) {
        if let Some(s) = sums.get_mut(c as usize) {
            *s += v;
        }
    }
    sums
}

impl Recommender for CooccurrenceBase {
    fn kind(&self) -> ModelKind {
        ModelKind::ItemKnn
    }
    fn n_items(&self) -> usize {
        self.popularity.len()
    }
    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        self.score_into(history, out);
    }
}

// ---------------------------------------------------------------------------------------------
// The trained model of kind `ranker`

/// The `ranker` artifact: co-occurrence base, item features and trees (see the module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankerPipeline {
    pub items: IdMap,
    pub candidates: usize,
    base: CooccurrenceBase,
    features: ItemFeatures,
    ranker: RankerModel,
}

/// The candidate lists of the holdout users of `train` (users with a holdout interaction).
fn holdout_lists(
    train: &Dataset,
    holdout: &[Interaction],
    base: &CooccurrenceBase,
    candidates: usize,
) -> Vec<CandidateList> {
    let mut positives: HashMap<u32, Vec<u32>> = HashMap::new();
    for it in holdout {
        if let (Some(u), Some(i)) = (train.users.get(&it.user), train.items.get(&it.item)) {
            positives.entry(u).or_default().push(i);
        }
    }
    let mut users: Vec<(u32, Vec<u32>)> = positives.into_iter().collect();
    users.sort_unstable_by_key(|u| u.0);
    users
        .into_par_iter()
        .map(|(u, positives)| {
            let history = train.user_items.row_pairs(u as usize);
            let mut scores = vec![0f32; base.n_items()];
            base.score_into(&history, &mut scores);
            mask_history(&mut scores, &history);
            CandidateList {
                candidates: top_k(&scores, candidates),
                history,
                positives,
            }
        })
        .collect()
}

impl RankerPipeline {
    /// Trains the ranker on a time holdout of `input` (see the module docs), then refits the
    /// base and the item features on all of `input`.
    pub fn fit(input: &TrainInput<'_>, params: &RankerParams) -> Result<Self, FitError> {
        let (train_part, holdout) = time_holdout(input.interactions, HOLDOUT);
        if holdout.is_empty() {
            return Err(FitError::NotEnoughData(
                "the ranker needs users with at least two interactions".into(),
            ));
        }
        let catalog = input.data.items.ids().to_vec();
        let train = Dataset::from_interactions(&train_part, Some(&catalog));
        let train_now = train_part
            .iter()
            .map(|i| i.timestamp)
            .max()
            .unwrap_or(input.now);
        let train_input = TrainInput {
            data: &train,
            interactions: &train_part,
            now: train_now,
            ..*input
        };
        let base = CooccurrenceBase::fit(&train);
        let features = ItemFeatures::from_input(&train_input);
        let lists = holdout_lists(&train, &holdout, &base, params.candidates);
        let set = build_training_set(&lists, &features);
        if set.rows.is_empty() {
            return Err(FitError::NotEnoughData(
                "no holdout interaction is among the base model's candidates".into(),
            ));
        }
        let ranker = RankerModel::fit(&set.rows, &set.labels, &set.groups, params)?;
        Ok(Self {
            items: input.data.items.clone(),
            candidates: params.candidates,
            base: CooccurrenceBase::fit(input.data),
            features: ItemFeatures::from_input(input),
            ranker,
        })
    }

    /// Reads [`RankerParams`] (seed from [`TrainInput::seed`]) and fits.
    pub fn fit_from_params(
        params: &Map<String, Value>,
        input: &TrainInput<'_>,
    ) -> Result<Self, FitError> {
        Self::fit(input, &RankerParams::from_params(params, input.seed)?)
    }

    /// Loads an artifact written by [`TrainedModel::to_artifact`].
    pub fn load(bytes: &[u8]) -> Result<Self, ArtifactError> {
        let mut m: Self = artifact::decode(ModelKind::Ranker, bytes)?;
        m.items.rebuild_index();
        m.ranker.restore()?;
        let n = m.items.len();
        if m.base.n_items() != n || m.features.popularity.len() != n || !m.base.is_valid() {
            return Err(ArtifactError::Decode(
                "ranker parts and item ids differ in length".into(),
            ));
        }
        m.candidates = m.candidates.clamp(1, n.max(1));
        Ok(m)
    }

    /// The item features (e.g. to add categories and prices before serving).
    pub fn features_mut(&mut self) -> &mut ItemFeatures {
        &mut self.features
    }
}

impl Recommender for RankerPipeline {
    fn kind(&self) -> ModelKind {
        ModelKind::Ranker
    }

    fn n_items(&self) -> usize {
        self.items.len()
    }

    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        let mut base = vec![0f32; self.base.n_items()];
        self.base.score_into(history, &mut base);
        mask_history(&mut base, history);
        rerank_into(
            &base,
            history,
            &self.ranker,
            &self.features,
            self.candidates,
            out,
        );
    }

    fn score_items(&self, history: &[(u32, f32)], wanted: &[u32]) -> Vec<f32> {
        let mut base = vec![0f32; self.base.n_items()];
        self.base.score_into(history, &mut base);
        mask_history(&mut base, history);
        rerank_items(
            &base,
            history,
            &self.ranker,
            &self.features,
            self.candidates,
            wanted,
        )
    }
}

impl TrainedModel for RankerPipeline {
    fn to_artifact(&self) -> Result<Vec<u8>, ArtifactError> {
        artifact::encode(ModelKind::Ranker, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reco::eval::rank_metrics;
    use crate::reco::synthetic::{InteractionGenConfig, generate_interactions};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use serde_json::json;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5 || (a.is_nan() && b.is_nan())
    }

    fn items(n: usize) -> ItemFeatures {
        ItemFeatures {
            now: 10 * 86_400,
            popularity: (0..n).map(|i| i as f32).collect(),
            last_activity: vec![Some(9 * 86_400); n],
            created_at: (0..n).map(|i| Some(i as i64 * 86_400)).collect(),
            category: vec![None; n],
            price: vec![None; n],
            content: None,
        }
    }

    #[test]
    fn features_by_hand() {
        let it = items(4)
            .with_categories(vec![Some(0), Some(1), Some(0), None])
            .with_prices(vec![Some(8.0), Some(32.0), Some(2.0), None]);
        // History: item 0 (weight 3, cat 0, band 3) and item 1 (weight 1, cat 1, band 5).
        let history = [(0, 3.0), (1, 1.0)];
        let rows = candidate_features(&history, &[(2, 10.0), (3, 4.0)], &it);
        let a = rows[0].0;
        // base_score 1 (best), rank 0/2, popularity 2, last activity 1 day, created day 2 -> 8.
        assert!(close(a[0], 1.0) && close(a[1], 0.0) && close(a[2], 2.0));
        assert!(close(a[3], 1.0) && close(a[4], 8.0));
        // Category 0 holds 3 of the history's 4 weight; price band 1 vs mean (3·3 + 5)/4 = 3.5.
        assert!(close(a[5], 0.75) && close(a[6], 2.5));
        assert!(a[7].is_nan());
        let b = rows[1].0;
        assert!(close(b[0], 0.0) && close(b[1], 0.5));
        // Item 3 has no category and no price: missing.
        assert!(b[5].is_nan() && b[6].is_nan());
        assert_eq!(FEATURE_NAMES.len(), N_FEATURES);
    }

    #[test]
    fn training_set_labels_holdout_items_and_drops_lists_without_positives() {
        let it = items(5);
        let lists = vec![
            CandidateList {
                history: vec![(0, 1.0)],
                candidates: vec![(1, 3.0), (2, 2.0), (3, 1.0)],
                positives: vec![2, 4],
            },
            CandidateList {
                history: vec![],
                candidates: vec![(1, 1.0), (2, 0.5)],
                positives: vec![4],
            },
            CandidateList {
                history: vec![],
                candidates: vec![(3, 1.0), (4, 0.5)],
                positives: vec![3],
            },
        ];
        let set = build_training_set(&lists, &it);
        assert_eq!(set.groups, vec![3, 2]);
        assert_eq!(set.labels, vec![0.0, 1.0, 0.0, 1.0, 0.0]);
        assert_eq!(set.rows.len(), 5);
        assert!(close(set.rows[3].0[2], 3.0)); // popularity of item 3
    }

    fn ndcg(lists: &[(Vec<f32>, Vec<f32>)], k: usize) -> f64 {
        // (scores, labels) per list: NDCG@k of the order by score.
        let total: f64 = lists
            .iter()
            .map(|(scores, labels)| {
                let ranked: Vec<u32> = top_k(scores, k).into_iter().map(|r| r.0).collect();
                let rel: HashSet<u32> = labels
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| **l > 0.0)
                    .map(|(i, _)| i as u32)
                    .collect();
                rank_metrics(&ranked, &rel, k).2
            })
            .sum();
        total / lists.len() as f64
    }

    fn fresh(c: u32, it: &ItemFeatures) -> bool {
        it.days_since(it.created_at[c as usize]) < 3.0
    }

    /// 300 items; a candidate's label is 1 exactly when the item is less than 3 days old,
    /// whatever the base order (random scores) says. Returns the ranker trained on 200 random
    /// lists, the items and 100 more lists for testing.
    fn trained_on_fresh_items() -> (RankerModel, ItemFeatures, Vec<CandidateList>) {
        let n_items = 300;
        let mut rng = StdRng::seed_from_u64(7);
        let mut it = items(n_items);
        it.created_at = (0..n_items)
            .map(|_| Some(10 * 86_400 - rng.random_range(0..10 * 86_400)))
            .collect();
        let make = |rng: &mut StdRng, it: &ItemFeatures| -> CandidateList {
            let mut candidates: Vec<(u32, f32)> = (0..30)
                .map(|_| (rng.random_range(0..n_items as u32), rng.random::<f32>()))
                .collect();
            candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
            candidates.dedup_by_key(|c| c.0);
            let positives = candidates
                .iter()
                .map(|c| c.0)
                .filter(|&c| fresh(c, it))
                .collect();
            CandidateList {
                history: vec![],
                candidates,
                positives,
            }
        };
        let train: Vec<CandidateList> = (0..200).map(|_| make(&mut rng, &it)).collect();
        let test: Vec<CandidateList> = (0..100).map(|_| make(&mut rng, &it)).collect();
        let set = build_training_set(&train, &it);
        let params = RankerParams {
            n_trees: 30,
            max_depth: 3,
            learning_rate: 0.3,
            ..RankerParams::default()
        };
        let model = RankerModel::fit(&set.rows, &set.labels, &set.groups, &params).expect("fit");
        (model, it, test)
    }

    #[test]
    fn the_ranker_learns_the_feature_that_decides_the_label() {
        let (model, it, test) = trained_on_fresh_items();
        let test_set = build_training_set(&test, &it);
        let mut base_lists = Vec::new();
        let mut ranked_lists = Vec::new();
        let mut at = 0;
        for &g in &test_set.groups {
            let rows = &test_set.rows[at..at + g];
            let labels = test_set.labels[at..at + g].to_vec();
            // Base order: the base score (feature 0).
            base_lists.push((rows.iter().map(|r| r.0[0]).collect(), labels.clone()));
            ranked_lists.push((model.score(rows), labels));
            at += g;
        }
        let (base, ranked) = (ndcg(&base_lists, 10), ndcg(&ranked_lists, 10));
        assert!(
            ranked > base + 0.2,
            "ranker NDCG@10 {ranked} vs base {base}"
        );
        assert!(ranked > 0.95, "ranker NDCG@10 {ranked}");
        // Stored and loaded, it scores the same.
        let mut back: RankerModel =
            postcard::from_bytes(&postcard::to_allocvec(&model).expect("encode")).expect("decode");
        back.restore().expect("restore");
        assert_eq!(back.score(&test_set.rows), model.score(&test_set.rows));
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
    fn reranker_reorders_only_the_base_candidates() {
        let (ranker, it, _) = trained_on_fresh_items();
        // Base: column c scores -c, so its best are 0, 1, 2...; 0 is in the history.
        let base = Fixed((0..300).map(|c| -(c as f32)).collect());
        let r = Reranker {
            base: Box::new(base),
            ranker,
            items: it.clone(),
            candidates: 20,
        };
        let recs = r.recommend(&[(0, 1.0)], 50, &[]);
        let got: HashSet<u32> = recs.iter().map(|x| x.0).collect();
        // Exactly the base's top 20 after the history: columns 1..=20.
        assert_eq!(got, (1..=20).collect::<HashSet<u32>>());
        // Fresh items (the learned signal) all come before stale ones.
        let freshness: Vec<bool> = recs.iter().map(|x| fresh(x.0, &it)).collect();
        assert!(freshness.contains(&true) && freshness.contains(&false));
        let first_stale = freshness.iter().position(|f| !f).unwrap_or(freshness.len());
        assert!(freshness[first_stale..].iter().all(|f| !f), "{freshness:?}");
    }

    /// `score_items` (serving's re-scoring of a blended list) gives exactly what `score` gives
    /// those items, for candidates and non-candidates, in the order asked.
    fn assert_score_items_is_score(m: &dyn Recommender, history: &[(u32, f32)]) {
        let mut all = vec![0f32; m.n_items()];
        m.score(history, &mut all);
        let n = m.n_items() as u32;
        let wanted: Vec<u32> = (0..n).rev().step_by(3).chain([n + 5, 1]).collect();
        let got = m.score_items(history, &wanted);
        assert_eq!(got.len(), wanted.len());
        for (c, s) in wanted.iter().zip(&got) {
            let want = all.get(*c as usize).copied().unwrap_or(f32::NEG_INFINITY);
            assert!(s.to_bits() == want.to_bits(), "column {c}: {s} != {want}");
        }
        assert!(got.iter().any(|s| s.is_finite()) && got.iter().any(|s| !s.is_finite()));
    }

    #[test]
    fn reranker_scores_a_few_items_as_it_scores_all() {
        let (ranker, it, _) = trained_on_fresh_items();
        let r = Reranker {
            base: Box::new(Fixed((0..300).map(|c| -(c as f32)).collect())),
            ranker,
            items: it,
            candidates: 20,
        };
        assert_score_items_is_score(&r, &[(0, 1.0)]);
    }

    #[test]
    fn item_features_from_a_training_input() {
        let mk = |i: &str, w: f32, t: i64| Interaction {
            user: "u".into(),
            item: i.into(),
            weight: w,
            timestamp: t,
        };
        let d = 86_400;
        let all = vec![
            mk("a", 3.0, 5 * d),
            mk("a", 1.0, 8 * d),
            mk("b", 2.0, 9 * d),
        ];
        let data = Dataset::from_interactions(&all, None);
        let created = [Some(2 * d), None];
        let input = TrainInput {
            data: &data,
            interactions: &all,
            item_created_at: &created,
            item_embeddings: &[],
            item_category: &[Some(7)],
            item_price: &[Some(19.5), None],
            now: 10 * d,
            seed: 1,
        };
        let f = ItemFeatures::from_input(&input);
        // a: ln(1 + 4), last seen day 8 (2 days ago), created day 2 (8 days ago); b: ln 3, 1 day.
        assert!(close(f.popularity[0], 5f32.ln()) && close(f.popularity[1], 3f32.ln()));
        assert_eq!(f.last_activity, vec![Some(8 * d), Some(9 * d)]);
        assert!(close(f.days_since(f.last_activity[0]), 2.0));
        assert!(close(f.days_since(f.created_at[0]), 8.0));
        assert!(f.days_since(f.created_at[1]).is_nan());
        assert!(f.content.is_none());
        // Categories and prices come from the input; a column past their end has none.
        assert_eq!(f.category, vec![Some(7), None]);
        assert_eq!(f.price, vec![Some(19.5), None]);
    }

    #[test]
    fn fit_refuses_mismatched_or_one_class_input() {
        let row = FeatureRow([0.0; N_FEATURES]);
        let p = RankerParams::default();
        assert!(matches!(
            RankerModel::fit(&[row, row], &[1.0, 0.0], &[3], &p),
            Err(FitError::Failed(_))
        ));
        assert!(matches!(
            RankerModel::fit(&[row, row], &[1.0, 1.0], &[2], &p),
            Err(FitError::NotEnoughData(_))
        ));
        assert!(matches!(
            RankerModel::fit(&[], &[], &[], &p),
            Err(FitError::NotEnoughData(_))
        ));
    }

    #[test]
    fn cooccurrence_base_counts_shared_users() {
        let mk = |u: &str, i: &str| Interaction {
            user: u.into(),
            item: i.into(),
            weight: 1.0,
            timestamp: 0,
        };
        // a-b shared by u1 and u2, a-c by u1; d only by u3 (popular: weight 1 ... like others).
        let data = Dataset::from_interactions(
            &[
                mk("u1", "a"),
                mk("u1", "b"),
                mk("u1", "c"),
                mk("u2", "a"),
                mk("u2", "b"),
                mk("u3", "d"),
            ],
            None,
        );
        let base = CooccurrenceBase::fit(&data);
        // columns a0 b1 c2 d3; row a: b 2, c 1.
        assert_eq!(base.neighbours.row_pairs(0), vec![(1, 2.0), (2, 1.0)]);
        assert_eq!(base.neighbours.row_pairs(3), vec![]);
        let mut out = vec![0.0; 4];
        base.score(&[(0, 1.0)], &mut out);
        // cooc from a: (0, 2, 1, 0) -> (0, 1, 0.5, 0) · 0.9; popularity (2, 2, 1, 1) -> (1,1,0,0) · 0.1
        assert!(close(out[0], 0.1) && close(out[1], 1.0) && close(out[2], 0.45));
        assert!(close(out[3], 0.0));
    }

    #[test]
    fn pipeline_trains_from_interactions_recommends_candidates_and_round_trips() {
        let all = generate_interactions(&InteractionGenConfig {
            interactions: 6_000,
            users: 150,
            items: 170,
            ..InteractionGenConfig::default()
        });
        let data = Dataset::from_interactions(&all, None);
        let now = all.iter().map(|i| i.timestamp).max().unwrap_or(0);
        let input = TrainInput {
            data: &data,
            interactions: &all,
            item_created_at: &[],
            item_embeddings: &[],
            item_category: &[],
            item_price: &[],
            now,
            seed: 3,
        };
        let params = json!({"n_trees": 20, "candidates": 30, "max_depth": 4});
        let m = RankerPipeline::fit_from_params(params.as_object().expect("object"), &input)
            .expect("fit");
        assert_eq!(m.candidates, 30);
        let history = data.user_items.row_pairs(0);
        let recs = m.recommend(&history, 50, &[]);
        // At most the 30 candidates, none from the history, best first.
        assert!(!recs.is_empty() && recs.len() <= 30);
        let own: HashSet<u32> = history.iter().map(|h| h.0).collect();
        assert!(recs.iter().all(|r| !own.contains(&r.0)));
        assert!(recs.windows(2).all(|w| w[0].1 >= w[1].1));
        let back = RankerPipeline::load(&m.to_artifact().expect("encode")).expect("decode");
        assert_eq!(back.recommend(&history, 50, &[]), recs);
        assert_score_items_is_score(&m, &history);
        // A well-checksummed artifact with a broken neighbour matrix is refused, not served.
        let mut broken = m.clone();
        broken.base.neighbours.indices.push(10_000);
        broken.base.neighbours.values.push(1.0);
        let bytes = broken.to_artifact().expect("encode");
        assert!(matches!(
            RankerPipeline::load(&bytes),
            Err(ArtifactError::Decode(_))
        ));
        assert!(matches!(
            RankerParams::from_params(json!({"candidates": 5}).as_object().expect("o"), 1),
            Err(FitError::Param { .. })
        ));
    }

    /// Figures for the closing report (run with `--ignored --nocapture`): NDCG@10 of the
    /// popularity baseline and the ranker on the synthetic benchmark set's time holdout.
    #[test]
    #[ignore]
    fn synthetic_holdout_report() {
        use crate::reco::eval::evaluate;
        use crate::reco::registry;
        use std::time::Instant;
        let all = generate_interactions(&InteractionGenConfig::default());
        let (train, test) = time_holdout(&all, 0.2);
        let data = Dataset::from_interactions(&train, None);
        let now = train.iter().map(|i| i.timestamp).max().unwrap_or(0);
        let input = TrainInput {
            data: &data,
            interactions: &train,
            item_created_at: &[],
            item_embeddings: &[],
            item_category: &[],
            item_price: &[],
            now,
            seed: 42,
        };
        let base = CooccurrenceBase::fit(&data);
        let b = evaluate(&data, &test, 10, |h| {
            base.recommend(h, 10, &[])
                .into_iter()
                .map(|r| r.0)
                .collect()
        });
        println!("ranker's base alone: NDCG@10 {:.4}", b.ndcg);
        let window = json!({"window_days": 365});
        for (kind, params) in [
            (
                ModelKind::Popularity,
                window.as_object().cloned().unwrap_or_default(),
            ),
            (ModelKind::Hybrid, Map::new()),
            (ModelKind::Ranker, Map::new()),
        ] {
            let t = Instant::now();
            let m = registry::fit(kind, &params, &input).expect("fit");
            let fit = t.elapsed().as_secs_f64();
            let metrics = evaluate(&data, &test, 10, |h| {
                m.recommend(h, 10, &[]).into_iter().map(|r| r.0).collect()
            });
            println!(
                "{kind}: fit {fit:.3} s, NDCG@10 {:.4}, precision@10 {:.4}, recall@10 {:.4}, coverage {:.3}",
                metrics.ndcg, metrics.precision, metrics.recall, metrics.coverage
            );
        }
    }
}
