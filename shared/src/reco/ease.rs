//! EASE^R (H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): the
//! closed-form item-item model
//!
//! `P = (XᵀX + λI)⁻¹`, `B = I - P·diag(1/diag(P))` (so `B[i][j] = -P[i][j] / P[j][j]` for
//! `i != j` and `diag(B) = 0`), and the score of a history `x_u` is `x_u·B`.
//!
//! `X` is the users x items matrix with a 1 for each (user, item) pair with an interaction (the
//! paper's binary input; on the synthetic holdout binary `X` ranks better than summed weights),
//! the history's weights still weigh the rows of `B` when scoring. The Gram matrix comes from
//! [`super::cooccurrence`]; the Cholesky factorisation and inverse from `faer` (pure Rust, SIMD
//! through `pulp` on x86_64 and arm64, parallel through rayon), in `f32`.
//!
//! Dense in items: `B` has `n²` cells. Fit time grows as `n³` and the fit holds about three
//! `n x n` matrices at its peak (`12·n²` bytes): measured in `tests/bench/README.md`
//! ("Item-item models"). Above `max_items` items (default [`DEFAULT_MAX_ITEMS`], never more than
//! [`HARD_MAX_ITEMS`], the largest catalogue whose fit fits in a 10 GB Lambda) `fit_from_params`
//! trains [`super::item_knn`] instead (the returned model's `kind()` says `item_knn`).
//!
//! Parameters (`PARAMS.md`, the `ease` config): `lambda` > 0 (500.0), `max_items` 1-100000
//! ([`DEFAULT_MAX_ITEMS`]).

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::artifact::{self, ArtifactError};
use super::cooccurrence::{CoOccurrence, Layout};
use super::data::{Dataset, IdMap};
use super::item_knn::{self, float_param, int_param};
use super::model::{ModelKind, Recommender};
use super::registry::{FitError, TrainInput, TrainedModel};

/// Default `max_items`: the catalogue size above which EASE falls back to item-kNN. At 5,000
/// items a fit takes ~7 s on 2 cores and ~280 MiB, and `B` (the artifact, which every serving
/// instance holds in memory) is 94 MiB; at 10,000 items: ~50 s, 1.1 GiB and 376 MiB
/// (`tests/bench/README.md`). Raise it up to [`HARD_MAX_ITEMS`] when serving has the memory.
pub const DEFAULT_MAX_ITEMS: usize = 5_000;

/// The largest catalogue EASE ever fits, whatever `max_items` says: 20,000 items is ~4.5 GiB at
/// the fit's peak (`12·n²` bytes), ~4.8 GB while the 1.5 GiB artifact is encoded, and ~7 min of
/// fit on 2 cores (`n³` from the 10,000-item run): inside a 10 GB, 15-minute Lambda with room
/// for the input; 25,000 items would need ~13 min here.
pub const HARD_MAX_ITEMS: usize = 20_000;

/// Default `lambda` (L2 regularisation; the paper's value for ML-20M and Netflix).
pub const DEFAULT_LAMBDA: f32 = 500.0;

/// The `ease` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EaseParams {
    pub lambda: f32,
    pub max_items: usize,
}

impl Default for EaseParams {
    fn default() -> Self {
        Self {
            lambda: DEFAULT_LAMBDA,
            max_items: DEFAULT_MAX_ITEMS,
        }
    }
}

impl EaseParams {
    /// Reads the `ease` parameters (defaults for absent ones; wrong types or ranges are
    /// [`FitError::Param`]).
    pub fn from_params(params: &Map<String, Value>) -> Result<Self, FitError> {
        let d = Self::default();
        Ok(Self {
            lambda: float_param(params, "lambda", |x| x > 0.0, "> 0", d.lambda)?,
            max_items: int_param(params, "max_items", 1..=100_000, d.max_items as u64)? as usize,
        })
    }
}

/// A trained EASE model: `B` row-major, `n x n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EaseModel {
    items: IdMap,
    lambda: f32,
    /// `B[i][j]` at `i * n + j`.
    weights: Vec<f32>,
}

impl EaseModel {
    /// Trains on `data` with regularisation `lambda` (its item columns become the model's).
    /// Dense: the caller bounds the item count (see [`fit_from_params`]).
    pub fn fit(data: &Dataset, lambda: f32) -> Result<Self, FitError> {
        let n = data.n_items();
        let mut x = data.user_items.clone();
        x.values.fill(1.0);
        let gram = CoOccurrence::<f32>::compute(&x, Layout::Dense);
        let cells = gram
            .dense()
            .ok_or_else(|| FitError::Failed("the Gram matrix is not dense".into()))?;
        let lambda = if lambda.is_finite() && lambda > 0.0 {
            lambda
        } else {
            DEFAULT_LAMBDA
        };
        // XᵀX is symmetric: row-major cells read as column-major are the same matrix.
        let a = Mat::<f32>::from_fn(n, n, |i, j| {
            let v = cells[j * n + i];
            if i == j { v + lambda } else { v }
        });
        drop(gram);
        let llt = a
            .llt(Side::Lower)
            .map_err(|e| FitError::Failed(format!("XᵀX + λI is not positive definite: {e:?}")))?;
        drop(a);
        let p = llt.inverse();
        drop(llt);
        let diag: Vec<f32> = (0..n).map(|j| p[(j, j)]).collect();
        let mut weights = Vec::with_capacity(n * n);
        // Row i of B is column i of P (P is symmetric), scaled by -1 / P[j][j], diagonal 0.
        for i in 0..n {
            let col = p.col_as_slice(i);
            weights.extend(col.iter().zip(&diag).enumerate().map(|(j, (&v, &d))| {
                if i == j || d == 0.0 { 0.0 } else { -v / d }
            }));
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(FitError::Failed("EASE weights are not finite".into()));
        }
        Ok(Self {
            items: data.items.clone(),
            lambda,
            weights,
        })
    }

    pub fn items(&self) -> &IdMap {
        &self.items
    }

    pub fn lambda(&self) -> f32 {
        self.lambda
    }

    /// `B[i][j]` (0 out of range).
    pub fn weight(&self, i: u32, j: u32) -> f32 {
        let n = self.items.len();
        let (i, j) = (i as usize, j as usize);
        if i >= n || j >= n {
            return 0.0;
        }
        self.weights[i * n + j]
    }
}

/// `out += w · row`, eight lanes at a time (`wide`: the release profile does not auto-vectorise).
fn axpy(out: &mut [f32], w: f32, row: &[f32]) {
    use wide::f32x8;
    let n = out.len().min(row.len());
    let (out, row) = (&mut out[..n], &row[..n]);
    let wv = f32x8::splat(w);
    let mut oc = out.chunks_exact_mut(8);
    let mut rc = row.chunks_exact(8);
    for (o, r) in (&mut oc).zip(&mut rc) {
        if let (Ok(o8), Ok(r8)) = (<&mut [f32; 8]>::try_from(o), <[f32; 8]>::try_from(r)) {
            let v = f32x8::from(r8).mul_add(wv, f32x8::from(*o8));
            *o8 = v.to_array();
        }
    }
    for (o, r) in oc.into_remainder().iter_mut().zip(rc.remainder()) {
        *o += w * r;
    }
}

impl Recommender for EaseModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Ease
    }

    fn n_items(&self) -> usize {
        self.items.len()
    }

    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        out.fill(0.0);
        let n = self.items.len();
        for &(h, w) in history {
            let h = h as usize;
            if h < n {
                axpy(out, w, &self.weights[h * n..(h + 1) * n]);
            }
        }
    }
}

impl TrainedModel for EaseModel {
    fn to_artifact(&self) -> Result<Vec<u8>, ArtifactError> {
        artifact::encode(ModelKind::Ease, self)
    }
}

/// Trains with the `ease` parameters of an ML config; above `max_items` (or
/// [`HARD_MAX_ITEMS`]) items, trains item-kNN (its default parameters, or the `item_knn` names
/// present in `params`) and returns that model, whose `kind()` is `item_knn`.
pub fn fit_from_params(
    params: &Map<String, Value>,
    input: &TrainInput<'_>,
) -> Result<Box<dyn TrainedModel>, FitError> {
    let p = EaseParams::from_params(params)?;
    if input.data.user_items.nnz() == 0 {
        return Err(FitError::NotEnoughData(
            "ease needs at least one interaction".into(),
        ));
    }
    let n = input.data.n_items();
    if n > p.max_items.min(HARD_MAX_ITEMS) {
        tracing::info!(
            items = n,
            max_items = p.max_items,
            "catalogue above the EASE limit: training item_knn instead"
        );
        return item_knn::fit_from_params(params, input);
    }
    Ok(Box::new(EaseModel::fit(input.data, p.lambda)?))
}

/// Loads an artifact written by [`EaseModel`]'s `to_artifact`.
pub fn load(bytes: &[u8]) -> Result<EaseModel, ArtifactError> {
    let mut model: EaseModel = artifact::decode(ModelKind::Ease, bytes)?;
    let n = model.items.len();
    if n.checked_mul(n) != Some(model.weights.len()) {
        return Err(ArtifactError::Decode(
            "EASE weights do not match the item count".into(),
        ));
    }
    model.items.rebuild_index();
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 3 x 4 fixture; weights are ignored by the EASE fit (u0 = {a, b, c}, u1 = {a, b}, u2 = {b, d}).
    fn data() -> Dataset {
        crate::reco::data::fixtures::three_by_four()
    }

    #[test]
    fn weights_match_numpy() {
        // numpy (float64):
        //   X = [[1,1,1,0],[1,1,0,0],[0,1,0,1]]; G = X.T @ X + 1.0 * I; P = inv(G)
        //   B = -P / diag(P) (column-wise); fill_diagonal(B, 0)
        // B =
        //   [ 0.        0.6       0.230769 -0.230769]
        //   [ 0.5       0.        0.153846  0.384615]
        //   [ 0.25      0.2       0.       -0.076923]
        //   [-0.25      0.5      -0.076923  0.      ]
        let m = EaseModel::fit(&data(), 1.0).expect("fit");
        let want = [
            [0.0, 0.6, 0.230_769, -0.230_769],
            [0.5, 0.0, 0.153_846, 0.384_615],
            [0.25, 0.2, 0.0, -0.076_923],
            [-0.25, 0.5, -0.076_923, 0.0],
        ];
        for (i, row) in want.iter().enumerate() {
            for (j, &w) in row.iter().enumerate() {
                let got = m.weight(i as u32, j as u32);
                assert!((got - w).abs() < 1e-5, "B[{i}][{j}] = {got}, want {w}");
            }
        }
        // Score of history {a: 1, c: 2}: row a + 2 · row c = [0.5, 1.0, 0.230769, -0.384615].
        let mut out = vec![0f32; 4];
        m.score(&[(0, 1.0), (2, 2.0)], &mut out);
        for (got, want) in out.iter().zip([0.5, 1.0, 0.230_769, -0.384_615]) {
            assert!((got - want).abs() < 1e-5, "{out:?}");
        }
        assert_eq!(
            m.recommend(&[(0, 1.0), (2, 2.0)], 1, &[]),
            vec![(1, out[1])]
        );
    }

    #[test]
    fn diagonal_is_zero_on_synthetic_data() {
        let data = Dataset::from_interactions(
            &crate::reco::synthetic::generate_interactions(
                &crate::reco::synthetic::InteractionGenConfig {
                    interactions: 4_000,
                    users: 100,
                    items: 170,
                    ..Default::default()
                },
            ),
            None,
        );
        let m = EaseModel::fit(&data, DEFAULT_LAMBDA).expect("fit");
        let n = data.n_items() as u32;
        assert!((0..n).all(|i| m.weight(i, i) == 0.0));
        assert!((0..n).any(|i| m.weight(i, (i + 1) % n) != 0.0));
        // axpy's 8-lane blocks and scalar rest agree with the plain sum.
        let mut out = vec![0f32; n as usize];
        m.score(&[(3, 2.0)], &mut out);
        for j in 0..n {
            assert!((out[j as usize] - 2.0 * m.weight(3, j)).abs() < 1e-6);
        }
    }

    #[test]
    fn params_and_fallback_above_max_items() {
        let parse = |v: Value| EaseParams::from_params(v.as_object().expect("object"));
        assert_eq!(
            parse(serde_json::json!({})).ok(),
            Some(EaseParams::default())
        );
        assert!(matches!(
            parse(serde_json::json!({"lambda": 0})),
            Err(FitError::Param { field, .. }) if field == "lambda"
        ));
        assert!(matches!(
            parse(serde_json::json!({"max_items": 0})),
            Err(FitError::Param { field, .. }) if field == "max_items"
        ));
        let d = data();
        let input = TrainInput {
            data: &d,
            interactions: &[],
            item_created_at: &[],
            item_embeddings: &[],
            item_category: &[],
            item_price: &[],
            now: 0,
            seed: 1,
        };
        let ease = fit_from_params(&Map::new(), &input).expect("fit");
        assert_eq!(ease.kind(), ModelKind::Ease);
        // 4 items > max_items 3: item-kNN.
        let small = serde_json::json!({"max_items": 3, "k_neighbours": 1});
        let knn = fit_from_params(small.as_object().expect("object"), &input).expect("fit");
        assert_eq!((knn.kind(), knn.n_items()), (ModelKind::ItemKnn, 4));
        // What the EASE slot then stores loads as the EASE model it stands for.
        let artifact = knn.to_artifact().expect("artifact");
        let loaded = crate::reco::registry::load(ModelKind::Ease, &artifact).expect("load");
        assert_eq!((loaded.kind(), loaded.n_items()), (ModelKind::ItemKnn, 4));
        assert!(matches!(
            crate::reco::registry::load(ModelKind::Als, &artifact),
            Err(crate::reco::artifact::ArtifactError::WrongKind { .. })
        ));
        let exact = serde_json::json!({"max_items": 4});
        let ease = fit_from_params(exact.as_object().expect("object"), &input).expect("fit");
        assert_eq!(ease.kind(), ModelKind::Ease);
        let empty = Dataset::from_interactions(&[], None);
        let none = TrainInput {
            data: &empty,
            ..input
        };
        assert!(matches!(
            fit_from_params(&Map::new(), &none),
            Err(FitError::NotEnoughData(_))
        ));
    }

    #[test]
    fn artifact_round_trip_and_bad_shape() {
        let m = EaseModel::fit(&data(), 1.0).expect("fit");
        let back = load(&m.to_artifact().expect("encode")).expect("load");
        assert_eq!(back, m);
        assert_eq!(back.items().get("c"), Some(2));
        let mut bad = m.clone();
        bad.weights.pop();
        let bytes = artifact::encode(ModelKind::Ease, &bad).expect("encode");
        assert!(matches!(load(&bytes), Err(ArtifactError::Decode(_))));
    }

    /// NDCG@10 on the time holdout of a small synthetic set: item-kNN (cosine and BM25) and
    /// EASE each beat popularity (interactions per item).
    #[test]
    fn item_knn_and_ease_beat_popularity_on_the_holdout() {
        use crate::reco::eval::{evaluate, time_holdout};
        use crate::reco::item_knn::{ItemKnnModel, ItemKnnParams, Similarity};
        use crate::reco::model::top_k;
        let all = crate::reco::synthetic::generate_interactions(
            &crate::reco::synthetic::InteractionGenConfig {
                interactions: 20_000,
                users: 300,
                items: 340,
                ..Default::default()
            },
        );
        let (train_rows, test) = time_holdout(&all, 0.2);
        let train = Dataset::from_interactions(&train_rows, None);
        let mut counts = vec![0f32; train.n_items()];
        for it in &train_rows {
            if let Some(c) = train.items.get(&it.item) {
                counts[c as usize] += 1.0;
            }
        }
        let popularity = evaluate(&train, &test, 10, |h| {
            let mut s = counts.clone();
            for &(i, _) in h {
                s[i as usize] = f32::NEG_INFINITY;
            }
            top_k(&s, 10).into_iter().map(|(i, _)| i).collect()
        })
        .ndcg;
        let ndcg = |m: &dyn Recommender| {
            evaluate(&train, &test, 10, |h| {
                m.recommend(h, 10, &[])
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect()
            })
            .ndcg
        };
        let cosine = ndcg(&ItemKnnModel::fit(&train, &ItemKnnParams::default()));
        let bm25 = ndcg(&ItemKnnModel::fit(
            &train,
            &ItemKnnParams {
                similarity: Similarity::Bm25,
                ..Default::default()
            },
        ));
        let ease = ndcg(&EaseModel::fit(&train, DEFAULT_LAMBDA).expect("fit"));
        eprintln!(
            "NDCG@10: popularity {popularity:.4}, item_knn cosine {cosine:.4}, bm25 {bm25:.4}, ease {ease:.4}"
        );
        assert!(popularity > 0.0);
        assert!(
            cosine > popularity,
            "cosine {cosine} vs popularity {popularity}"
        );
        assert!(bm25 > popularity, "bm25 {bm25} vs popularity {popularity}");
        assert!(ease > popularity, "ease {ease} vs popularity {popularity}");
    }
}
