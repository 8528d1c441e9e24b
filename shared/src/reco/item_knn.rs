//! Item-item k-nearest-neighbours (B. Sarwar, G. Karypis, J. Konstan, J. Riedl, "Item-based
//! collaborative filtering recommendation algorithms", WWW 2001; G. Linden, B. Smith, J. York,
//! "Amazon.com recommendations: item-to-item collaborative filtering", IEEE Internet Computing
//! 2003), with the similarity from item co-occurrence ([`super::cooccurrence`]) over the
//! users x items matrix `X` of summed interaction weights:
//!
//! - `cosine` (default), shrunk towards 0 for items seen by few users (Koren, "Factor in the
//!   neighbors", TKDD 2010): `s(i, j) = C[i][j] / (‖x_i‖·‖x_j‖ + shrink)` with `C = XᵀX`;
//! - `bm25`: `X` reweighted as in Okapi BM25 with items as documents and users as terms (the
//!   weighting of the `implicit` library's `BM25Recommender`):
//!   `x'_ui = x_ui·(k1 + 1) / (k1·((1 - b) + b·|i| / avg|i|) + x_ui) · idf_u`,
//!   `idf_u = max(0, ln(n_items) - ln(1 + n_u))`, `|i|` the item's summed weight, `n_u` the
//!   user's item count; `s(i, j) = (X'ᵀX')[i][j]` (a dot product; `shrink` is not used).
//!
//! Only the `k_neighbours` most similar items of each item are kept (sparse, `O(n·k)` memory: the
//! co-occurrence rows are streamed, never stored together). Score of item `j` for a history `H`
//! of `(item, weight)`: `Σ_{h ∈ H} w_h · s(h, j)` over the kept neighbours.
//!
//! Parameters (`PARAMS.md`, the `item_knn` config): `k_neighbours` 1-1000 (100), `similarity`
//! `"cosine"` or `"bm25"` (`"cosine"`), `shrink` >= 0 (10.0), `bm25_k1` > 0 (1.2), `bm25_b` in
//! [0, 1] (0.75).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::artifact::{self, ArtifactError};
use super::cooccurrence::{self, Layout};
use super::data::{Csr, Dataset, IdMap};
use super::model::{ModelKind, Recommender};
use super::registry::{FitError, TrainInput, TrainedModel};

/// How item-item similarity is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    Cosine,
    Bm25,
}

/// The `item_knn` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ItemKnnParams {
    pub k_neighbours: usize,
    pub similarity: Similarity,
    pub shrink: f32,
    pub bm25_k1: f32,
    pub bm25_b: f32,
}

impl Default for ItemKnnParams {
    fn default() -> Self {
        Self {
            k_neighbours: 100,
            similarity: Similarity::Cosine,
            shrink: 10.0,
            bm25_k1: 1.2,
            bm25_b: 0.75,
        }
    }
}

fn param_error(field: &str, message: &str) -> FitError {
    FitError::Param {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// An integer parameter in `range`, `default` when absent.
pub(crate) fn int_param(
    params: &Map<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, FitError> {
    match params.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().filter(|n| range.contains(n)).ok_or_else(|| {
            param_error(
                field,
                &format!(
                    "must be an integer from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        }),
    }
}

/// A finite number parameter accepted by `ok` (`rule` says what it must be), `default` when absent.
pub(crate) fn float_param(
    params: &Map<String, Value>,
    field: &str,
    ok: impl Fn(f64) -> bool,
    rule: &str,
    default: f32,
) -> Result<f32, FitError> {
    match params.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite() && ok(*x))
            .map(|x| x as f32)
            .ok_or_else(|| param_error(field, &format!("must be a number {rule}"))),
    }
}

impl ItemKnnParams {
    /// Reads the `item_knn` parameters (defaults for absent ones; wrong types or ranges are
    /// [`FitError::Param`]). Other names are ignored.
    pub fn from_params(params: &Map<String, Value>) -> Result<Self, FitError> {
        let d = Self::default();
        let similarity = match params.get("similarity") {
            None | Some(Value::Null) => d.similarity,
            Some(Value::String(s)) if s == "cosine" => Similarity::Cosine,
            Some(Value::String(s)) if s == "bm25" => Similarity::Bm25,
            Some(_) => {
                return Err(param_error("similarity", "must be \"cosine\" or \"bm25\""));
            }
        };
        Ok(Self {
            k_neighbours: int_param(params, "k_neighbours", 1..=1000, d.k_neighbours as u64)?
                as usize,
            similarity,
            shrink: float_param(params, "shrink", |x| x >= 0.0, ">= 0", d.shrink)?,
            bm25_k1: float_param(params, "bm25_k1", |x| x > 0.0, "> 0", d.bm25_k1)?,
            bm25_b: float_param(
                params,
                "bm25_b",
                |x| (0.0..=1.0).contains(&x),
                "from 0 to 1",
                d.bm25_b,
            )?,
        })
    }
}

/// A trained item-kNN model: the kept neighbours of each item column, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemKnnModel {
    items: IdMap,
    params: ItemKnnParams,
    /// Neighbours of item `i`: `neighbours[indptr[i]..indptr[i + 1]]`, similarity descending.
    indptr: Vec<u32>,
    neighbours: Vec<u32>,
    similarities: Vec<f32>,
}

/// `X` reweighted by BM25 (see the module docs).
fn bm25_weight(x: &Csr, k1: f32, b: f32) -> Csr {
    let n_items = x.n_cols.max(1) as f32;
    let mut item_len = vec![0f32; x.n_cols];
    for (&j, &v) in x.indices.iter().zip(&x.values) {
        if let Some(l) = item_len.get_mut(j as usize) {
            *l += v;
        }
    }
    let used = item_len.iter().filter(|&&l| l > 0.0).count().max(1);
    let avg = item_len.iter().sum::<f32>() / used as f32;
    let mut out = x.clone();
    for r in 0..x.n_rows {
        let (a, e) = (x.indptr[r], x.indptr[r + 1]);
        let idf = (n_items.ln() - ((e - a) as f32).ln_1p()).max(0.0);
        for p in a..e {
            let v = x.values[p];
            let len = item_len.get(x.indices[p] as usize).copied().unwrap_or(avg);
            let norm = (1.0 - b) + b * len / avg.max(f32::MIN_POSITIVE);
            out.values[p] = v * (k1 + 1.0) / (k1 * norm + v) * idf;
        }
    }
    out
}

/// The best `k` of `(item, similarity)` by similarity descending, then item ascending.
fn keep_best(mut cells: Vec<(u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    if k == 0 {
        return Vec::new();
    }
    if cells.len() > k {
        cells.select_nth_unstable_by(k - 1, cmp);
        cells.truncate(k);
    }
    cells.sort_unstable_by(cmp);
    cells
}

impl ItemKnnModel {
    /// Trains on `data` (its item columns become the model's).
    pub fn fit(data: &Dataset, params: &ItemKnnParams) -> Self {
        let k = params.k_neighbours.max(1);
        let x = match params.similarity {
            Similarity::Cosine => data.user_items.clone(),
            Similarity::Bm25 => bm25_weight(&data.user_items, params.bm25_k1, params.bm25_b),
        };
        let layout = Layout::choose(&x);
        let mut norms = vec![0f32; x.n_cols];
        for (&j, &v) in x.indices.iter().zip(&x.values) {
            if let Some(n) = norms.get_mut(j as usize) {
                *n += v * v;
            }
        }
        for n in &mut norms {
            *n = n.sqrt();
        }
        let shrink = params.shrink.max(0.0);
        let similarity = params.similarity;
        let rows: Vec<Vec<(u32, f32)>> =
            cooccurrence::for_each_row::<f32, _, _>(&x, layout, |row| {
                let ni = norms.get(row.item as usize).copied().unwrap_or(0.0);
                let mut cells = Vec::new();
                row.for_each(|j, c| {
                    let s = match similarity {
                        Similarity::Cosine => {
                            let nj = norms.get(j as usize).copied().unwrap_or(0.0);
                            c / (ni * nj + shrink)
                        }
                        Similarity::Bm25 => c,
                    };
                    if s.is_finite() && s > 0.0 {
                        cells.push((j, s));
                    }
                });
                keep_best(cells, k)
            });
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let mut neighbours = Vec::new();
        let mut similarities = Vec::new();
        indptr.push(0u32);
        for row in rows {
            for (j, s) in row {
                neighbours.push(j);
                similarities.push(s);
            }
            indptr.push(neighbours.len() as u32);
        }
        // Columns beyond the matrix (none in practice) get empty rows.
        while indptr.len() < data.n_items() + 1 {
            indptr.push(neighbours.len() as u32);
        }
        Self {
            items: data.items.clone(),
            params: *params,
            indptr,
            neighbours,
            similarities,
        }
    }

    pub fn items(&self) -> &IdMap {
        &self.items
    }

    pub fn params(&self) -> &ItemKnnParams {
        &self.params
    }

    /// The kept neighbours of item column `i` as `(item, similarity)`, most similar first.
    pub fn neighbours(&self, i: u32) -> impl Iterator<Item = (u32, f32)> + '_ {
        let i = i as usize;
        let (a, b) = match (self.indptr.get(i), self.indptr.get(i + 1)) {
            (Some(&a), Some(&b)) => (a as usize, b as usize),
            _ => (0, 0),
        };
        self.neighbours[a..b]
            .iter()
            .copied()
            .zip(self.similarities[a..b].iter().copied())
    }

    /// Checks the shape of a decoded model (indices in range, monotone offsets).
    fn validate(&self) -> Result<(), String> {
        let n = self.items.len();
        if self.indptr.len() != n + 1 || self.indptr.first() != Some(&0) {
            return Err("neighbour offsets do not match the item count".into());
        }
        if self.indptr.windows(2).any(|w| w[0] > w[1]) {
            return Err("neighbour offsets are not monotone".into());
        }
        let nnz = self.indptr[n] as usize;
        if nnz != self.neighbours.len() || nnz != self.similarities.len() {
            return Err("neighbour lists do not match their offsets".into());
        }
        if self.neighbours.iter().any(|&j| j as usize >= n) {
            return Err("a neighbour is out of range".into());
        }
        Ok(())
    }
}

impl Recommender for ItemKnnModel {
    fn kind(&self) -> ModelKind {
        ModelKind::ItemKnn
    }

    fn n_items(&self) -> usize {
        self.items.len()
    }

    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        out.fill(0.0);
        for &(h, w) in history {
            for (j, s) in self.neighbours(h) {
                if let Some(o) = out.get_mut(j as usize) {
                    *o += w * s;
                }
            }
        }
    }
}

impl TrainedModel for ItemKnnModel {
    fn to_artifact(&self) -> Result<Vec<u8>, ArtifactError> {
        artifact::encode(ModelKind::ItemKnn, self)
    }
}

/// Trains with the `item_knn` parameters of an ML config.
pub fn fit_from_params(
    params: &Map<String, Value>,
    input: &TrainInput<'_>,
) -> Result<Box<dyn TrainedModel>, FitError> {
    let p = ItemKnnParams::from_params(params)?;
    if input.data.user_items.nnz() == 0 {
        return Err(FitError::NotEnoughData(
            "item_knn needs at least one interaction".into(),
        ));
    }
    Ok(Box::new(ItemKnnModel::fit(input.data, &p)))
}

/// Loads an artifact written by [`ItemKnnModel`]'s `to_artifact`.
pub fn load(bytes: &[u8]) -> Result<ItemKnnModel, ArtifactError> {
    let mut model: ItemKnnModel = artifact::decode(ModelKind::ItemKnn, bytes)?;
    model.validate().map_err(ArtifactError::Decode)?;
    model.items.rebuild_index();
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 users x 4 items (a, b, c, d): u0 = {a: 1, b: 2, c: 1}, u1 = {a: 3, b: 1},
    /// u2 = {b: 1, d: 2}.
    fn data() -> Dataset {
        crate::reco::data::fixtures::three_by_four()
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn cosine_by_hand() {
        // ‖a‖ = √10, ‖b‖ = √6, ‖c‖ = 1, ‖d‖ = 2; C(a,b) = 1·2 + 3·1 = 5, C(a,c) = 1,
        // C(b,c) = 2, C(b,d) = 2. Without shrink:
        // s(a,b) = 5/√60 = 0.645497, s(a,c) = 1/√10 = 0.316228, s(b,c) = 2/√6 = 0.816497,
        // s(b,d) = 2/(2√6) = 0.408248.
        let p = ItemKnnParams {
            shrink: 0.0,
            ..Default::default()
        };
        let m = ItemKnnModel::fit(&data(), &p);
        let (a, b, c, d) = (0, 1, 2, 3);
        let na: Vec<(u32, f32)> = m.neighbours(a).collect();
        assert_eq!(na.len(), 2);
        assert_eq!((na[0].0, na[1].0), (b, c));
        assert!(
            close(na[0].1, 0.645_497) && close(na[1].1, 0.316_228),
            "{na:?}"
        );
        let nb: Vec<(u32, f32)> = m.neighbours(b).collect();
        assert_eq!(nb.iter().map(|x| x.0).collect::<Vec<_>>(), vec![c, a, d]);
        assert!(
            close(nb[0].1, 0.816_497) && close(nb[2].1, 0.408_248),
            "{nb:?}"
        );
        assert_eq!(m.neighbours(d).collect::<Vec<_>>().len(), 1);

        // Shrink 10: s(a,b) = 5/(√60 + 10) = 0.281754.
        let shrunk = ItemKnnModel::fit(&data(), &ItemKnnParams::default());
        assert!(close(
            shrunk.neighbours(a).next().map(|x| x.1).unwrap_or(0.0),
            0.281_754
        ));

        // k = 1 keeps the best neighbour only.
        let one = ItemKnnModel::fit(
            &data(),
            &ItemKnnParams {
                k_neighbours: 1,
                ..p
            },
        );
        assert_eq!(one.neighbours(b).map(|x| x.0).collect::<Vec<_>>(), vec![c]);

        // Score for history {a: 2}: b = 2·0.645497 = 1.290994, c = 2·0.316228 = 0.632456.
        let mut out = vec![0f32; 4];
        m.score(&[(a, 2.0)], &mut out);
        assert!(close(out[1], 1.290_994) && close(out[2], 0.632_456) && out[3] == 0.0);
        // Recommend never returns the history; ranks b then c.
        let rec = m.recommend(&[(a, 2.0)], 3, &[]);
        assert_eq!(rec.iter().map(|r| r.0).collect::<Vec<_>>(), vec![b, c, d]);
    }

    #[test]
    fn bm25_by_hand() {
        // 4 items, item lengths |a| = 4, |b| = 4, |c| = 1, |d| = 2, avg 11/4 = 2.75;
        // idf: u0 (3 items) ln 4 - ln 4 = 0, u1 (2) ln(4/3) = 0.287682, u2 (2) the same.
        // k1 = 1.2, b = 0.75. u0 contributes nothing; C'(a,b) from u1 only:
        // x'(u1,a) = 3·2.2/(1.2·(0.25 + 0.75·4/2.75) + 3)·idf = 6.6/4.609091·0.287682 = 0.411947
        // x'(u1,b) = 1·2.2/(1.2·1.340909 + 1)·0.287682 = 2.2/2.609091·0.287682 = 0.242575
        // s(a,b) = 0.411947·0.242575 = 0.099928
        let p = ItemKnnParams {
            similarity: Similarity::Bm25,
            ..Default::default()
        };
        let m = ItemKnnModel::fit(&data(), &p);
        let na: Vec<(u32, f32)> = m.neighbours(0).collect();
        assert_eq!(
            na.len(),
            1,
            "a and c only meet in u0, whose idf is 0: {na:?}"
        );
        assert_eq!(na[0].0, 1);
        assert!((na[0].1 - 0.099_928).abs() < 1e-5, "{na:?}");
    }

    #[test]
    fn params_defaults_and_errors() {
        let empty = Map::new();
        assert_eq!(
            ItemKnnParams::from_params(&empty).ok(),
            Some(ItemKnnParams::default())
        );
        let parse = |v: Value| {
            ItemKnnParams::from_params(v.as_object().expect("object")).map_err(|e| match e {
                FitError::Param { field, .. } => field,
                other => other.to_string(),
            })
        };
        let ok = parse(serde_json::json!({"k_neighbours": 5, "similarity": "bm25", "bm25_b": 0}))
            .expect("valid");
        assert_eq!(
            (ok.k_neighbours, ok.similarity, ok.bm25_b),
            (5, Similarity::Bm25, 0.0)
        );
        assert_eq!(
            parse(serde_json::json!({"k_neighbours": 0})),
            Err("k_neighbours".into())
        );
        assert_eq!(
            parse(serde_json::json!({"k_neighbours": "5"})),
            Err("k_neighbours".into())
        );
        assert_eq!(
            parse(serde_json::json!({"similarity": "jaccard"})),
            Err("similarity".into())
        );
        assert_eq!(
            parse(serde_json::json!({"shrink": -1})),
            Err("shrink".into())
        );
        assert_eq!(
            parse(serde_json::json!({"bm25_k1": 0})),
            Err("bm25_k1".into())
        );
        assert_eq!(
            parse(serde_json::json!({"bm25_b": 1.5})),
            Err("bm25_b".into())
        );
    }

    #[test]
    fn artifact_round_trip_and_bad_artifacts() {
        let m = ItemKnnModel::fit(&data(), &ItemKnnParams::default());
        let bytes = m.to_artifact().expect("encode");
        let back = load(&bytes).expect("load");
        assert_eq!(back, m);
        assert_eq!(back.items().get("d"), Some(3));
        assert_eq!(back.kind(), ModelKind::ItemKnn);
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(load(&flipped), Err(ArtifactError::Checksum));
        // A well-formed artifact whose neighbour points past the catalogue is refused.
        let mut bad = m.clone();
        bad.neighbours[0] = 99;
        let bytes = artifact::encode(ModelKind::ItemKnn, &bad).expect("encode");
        assert!(matches!(load(&bytes), Err(ArtifactError::Decode(_))));
    }

    #[test]
    fn fit_from_params_needs_interactions() {
        let empty = Dataset::from_interactions(&[], None);
        let input = TrainInput {
            data: &empty,
            interactions: &[],
            item_created_at: &[],
            item_embeddings: &[],
            item_category: &[],
            item_price: &[],
            now: 0,
            seed: 1,
        };
        assert!(matches!(
            fit_from_params(&Map::new(), &input),
            Err(FitError::NotEnoughData(_))
        ));
        let d = data();
        let input = TrainInput { data: &d, ..input };
        let m = fit_from_params(&Map::new(), &input).expect("fit");
        assert_eq!((m.kind(), m.n_items()), (ModelKind::ItemKnn, 4));
    }
}
