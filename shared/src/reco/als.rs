//! `als`: implicit-feedback matrix factorisation (Hu, Koren, Volinsky, "Collaborative Filtering
//! for Implicit Feedback Datasets", ICDM 2008), solved with the conjugate-gradient method of
//! Takács, Pilászy, Tikk ("Applications of the conjugate gradient method for implicit feedback
//! collaborative filtering", RecSys 2011).
//!
//! Model: user `u` and item `i` get `f`-dimensional factors `x_u`, `y_i`. Every observed pair
//! (weight `w_ui > 0`, the summed interaction weights) has preference `p = 1` and confidence
//! `c_ui = 1 + alpha * w_ui`; unobserved pairs have `p = 0`, `c = 1`. ALS minimises
//! `Σ_ui c_ui (p_ui - x_u·y_i)² + reg_all (Σ|x_u|² + Σ|y_i|²)` by alternating half-sweeps: with
//! the items fixed, each user solves
//!
//! ```text
//! (YᵀY + Yᵀ(C_u - I)Y + reg_all·I) x_u = Yᵀ C_u p(u)
//! ```
//!
//! (then the same for items with the users fixed). `YᵀY` is computed once per half-sweep; the
//! sparse part only touches the user's own items. Instead of factorising that `f x f` system per
//! user (O(f³)), each half-sweep runs `cg_steps` conjugate-gradient steps per user warm-started
//! from the previous factors (Takács et al.: 2-3 steps per sweep match the exact solution's
//! accuracy at a fraction of its cost). One CG step costs one product with `YᵀY` (done for a
//! block of users at once as a small matrix product) plus two passes over the user's items.
//!
//! **Fold-in** ([`AlsModel::fold_in`]): a user whose history is newer than the model (or who did
//! not exist at training time) gets the exact solution of the system above from the stored item
//! factors (Cholesky of the `f x f` matrix, `YᵀY` cached in the model), so recommendations follow
//! what the user did seconds ago without a retrain. [`Recommender::score`] always folds in the
//! history it is given, then scores every item by `x·y_i`.
//!
//! Determinism: the factors start from a seeded xoshiro256++ stream; rows are solved in fixed
//! blocks of [`BLOCK_ROWS`] (each block's arithmetic never depends on another's) and the Gram
//! matrix is summed from fixed row blocks in order, so the same seed and data give bit-identical
//! factors on any number of threads (on one machine: the matrix-product kernel picks AVX/FMA or
//! NEON at run time, and a different kernel rounds differently).
//!
//! Why hand-written: no maintained Rust crate implements implicit ALS with CG. The dense
//! products go through `ndarray`'s `general_mat_mul` (the `matrixmultiply` kernels, AVX2/FMA or
//! NEON chosen at run time); the sparse gathers and the small `f x f` Cholesky use `wide` SIMD
//! lanes, because the size-tuned release profile (opt-level "s") does not auto-vectorise.
//!
//! Parameters (the JSON `parameters` of the `collaborative` config, names of PARAMS.md):
//!
//! | name | type, range | default | meaning |
//! |---|---|---|---|
//! | `n_factors` | int 1-512 | 64 | latent dimensions `f` |
//! | `n_epochs` | int 1-100 | 15 | sweeps (users then items) |
//! | `reg_all` | float >= 0 | 0.01 | `lambda` (L2 on every factor) |
//! | `alpha` | float > 0 | 10.0 | confidence slope: `c = 1 + alpha * w` |
//! | `lr_all` | float in (0, 1] | 0.005 | accepted for the spec's name, **not used**: CG has no learning rate |
//! | `cg_steps` | int 1-10 | 3 | CG steps per row per half-sweep |
//! | `random_state` | int >= 0 | 42 | seed of the initial factors (the training job's `TrainInput::seed` when absent) |
//!
//! The defaults were checked on the synthetic holdout (`examples/als_report.rs`): see
//! `tests/bench/README.md` for the NDCG@10 figures against popularity.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wide::{f32x4, f32x8, f64x4};

use super::artifact::{self, ArtifactError};
use super::data::{Csr, Dataset, IdMap};
use super::model::{ModelKind, Recommender};
use super::registry::{FitError, TrainInput, TrainedModel};

/// Rows solved together (one small matrix product with the Gram matrix per CG step); fixed, so
/// results do not depend on the thread count.
pub const BLOCK_ROWS: usize = 64;
/// Rows per partial Gram matrix (summed in order).
const GRAM_ROWS: usize = 4096;
/// Squared residual norm below which a row's CG stops.
const CG_EPS: f32 = 1e-20;

/// ALS hyper-parameters (see the module docs for names, ranges and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlsParams {
    pub n_factors: usize,
    pub n_epochs: usize,
    pub reg_all: f32,
    pub alpha: f32,
    /// Accepted for the spec's parameter name; the CG solver has no learning rate.
    pub lr_all: f32,
    pub cg_steps: usize,
    pub random_state: u64,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self {
            n_factors: 64,
            n_epochs: 15,
            reg_all: 0.01,
            alpha: 10.0,
            lr_all: 0.005,
            cg_steps: 3,
            random_state: 42,
        }
    }
}

fn param_error(field: &str, message: impl Into<String>) -> FitError {
    FitError::Param {
        field: field.to_string(),
        message: message.into(),
    }
}

fn int_param(
    params: &Map<String, Value>,
    field: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, FitError> {
    let Some(v) = params.get(field) else {
        return Ok(default);
    };
    let n = v
        .as_u64()
        .ok_or_else(|| param_error(field, format!("must be an integer from {min} to {max}")))?;
    if n < min || n > max {
        return Err(param_error(
            field,
            format!("must be from {min} to {max}, got {n}"),
        ));
    }
    Ok(n)
}

fn float_param(
    params: &Map<String, Value>,
    field: &str,
    default: f32,
    ok: fn(f64) -> bool,
    range: &str,
) -> Result<f32, FitError> {
    let Some(v) = params.get(field) else {
        return Ok(default);
    };
    let x = v
        .as_f64()
        .ok_or_else(|| param_error(field, format!("must be a number {range}")))?;
    if !x.is_finite() || !ok(x) || !(x as f32).is_finite() {
        return Err(param_error(field, format!("must be {range}, got {x}")));
    }
    Ok(x as f32)
}

impl AlsParams {
    /// Reads the parameters from an ML config's `parameters` object: absent names take their
    /// defaults, unknown names are ignored, a present value of the wrong type or out of range is
    /// a [`FitError::Param`] naming the field (`n_factors`, not `parameters.n_factors`).
    pub fn from_params(params: &Map<String, Value>) -> Result<AlsParams, FitError> {
        let d = AlsParams::default();
        Ok(AlsParams {
            n_factors: int_param(params, "n_factors", d.n_factors as u64, 1, 512)? as usize,
            n_epochs: int_param(params, "n_epochs", d.n_epochs as u64, 1, 100)? as usize,
            reg_all: float_param(params, "reg_all", d.reg_all, |x| x >= 0.0, ">= 0")?,
            alpha: float_param(params, "alpha", d.alpha, |x| x > 0.0, "> 0")?,
            lr_all: float_param(
                params,
                "lr_all",
                d.lr_all,
                |x| x > 0.0 && x <= 1.0,
                "in (0, 1]",
            )?,
            cg_steps: int_param(params, "cg_steps", d.cg_steps as u64, 1, 10)? as usize,
            random_state: int_param(params, "random_state", d.random_state, 0, u64::MAX)?,
        })
    }

    /// The same range checks as [`AlsParams::from_params`], for parameters built in code.
    pub fn validate(&self) -> Result<(), FitError> {
        if !(1..=512).contains(&self.n_factors) {
            return Err(param_error("n_factors", "must be from 1 to 512"));
        }
        if !(1..=100).contains(&self.n_epochs) {
            return Err(param_error("n_epochs", "must be from 1 to 100"));
        }
        if !(self.reg_all.is_finite() && self.reg_all >= 0.0) {
            return Err(param_error("reg_all", "must be >= 0"));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(param_error("alpha", "must be > 0"));
        }
        if !(self.lr_all > 0.0 && self.lr_all <= 1.0) {
            return Err(param_error("lr_all", "must be in (0, 1]"));
        }
        if !(1..=10).contains(&self.cg_steps) {
            return Err(param_error("cg_steps", "must be from 1 to 10"));
        }
        Ok(())
    }
}

/// A trained ALS model: factors row-major (`n_factors` per row), rows in id-map order. Serving
/// needs only the item side (and the Gram matrix rebuilt from it); the user factors are kept for
/// batch jobs and inspection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlsModel {
    pub user_ids: IdMap,
    pub item_ids: IdMap,
    pub n_factors: usize,
    pub user_factors: Vec<f32>,
    pub item_factors: Vec<f32>,
    pub params: AlsParams,
    /// `YᵀY` of the item factors (`f x f`, row-major); computed at fit and load, not stored.
    #[serde(skip)]
    gram: Vec<f32>,
}

impl AlsModel {
    /// Trains on `data` (its user rows and item columns become the model's).
    pub fn fit(data: &Dataset, params: &AlsParams) -> Result<AlsModel, FitError> {
        params.validate()?;
        let ui = &data.user_items;
        if ui.nnz() == 0 || ui.n_rows == 0 || ui.n_cols == 0 {
            return Err(FitError::NotEnoughData(
                "ALS needs at least one interaction".to_string(),
            ));
        }
        if !csr_is_well_formed(ui) || ui.n_rows != data.n_users() || ui.n_cols != data.n_items() {
            return Err(FitError::Failed(
                "the interaction matrix does not match its id maps".to_string(),
            ));
        }
        let iu = ui.transpose();
        let f = params.n_factors;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.random_state);
        let mut users = initial_factors(ui, f, &mut rng);
        let mut items = initial_factors(&iu, f, &mut rng);
        let solver = Solver {
            f,
            reg: params.reg_all,
            alpha: params.alpha,
            cg_steps: params.cg_steps,
        };
        for _ in 0..params.n_epochs {
            solver.half_sweep(&mut users, &items, ui);
            solver.half_sweep(&mut items, &users, &iu);
        }
        Ok(Self::from_factors(
            data.users.clone(),
            data.items.clone(),
            users,
            items,
            *params,
        ))
    }

    /// A model from given factors (`n_factors` from `params`); computes the Gram matrix.
    pub fn from_factors(
        user_ids: IdMap,
        item_ids: IdMap,
        user_factors: Vec<f32>,
        item_factors: Vec<f32>,
        params: AlsParams,
    ) -> AlsModel {
        let f = params.n_factors.max(1);
        let gram = gram(&item_factors, f);
        AlsModel {
            user_ids,
            item_ids,
            n_factors: f,
            user_factors,
            item_factors,
            params,
            gram,
        }
    }

    /// The trained factors of user row `u` (empty when out of range).
    pub fn user_vector(&self, u: usize) -> &[f32] {
        row(&self.user_factors, self.n_factors, u)
    }

    /// The factors of item column `i` (empty when out of range).
    pub fn item_vector(&self, i: usize) -> &[f32] {
        row(&self.item_factors, self.n_factors, i)
    }

    /// The user vector for `history` (`(item column, weight)` pairs; duplicates summed, columns
    /// out of range and weights not > 0 ignored): the exact solution of
    /// `(YᵀY + Yᵀ(C_u - I)Y + reg_all·I) x = Yᵀ C_u p(u)` by Cholesky. All zeros for an empty
    /// history.
    pub fn fold_in(&self, history: &[(u32, f32)]) -> Vec<f32> {
        let f = self.n_factors;
        let n_items = self.item_factors.len() / f.max(1);
        let mut merged: Vec<(u32, f32)> = history
            .iter()
            .copied()
            .filter(|&(i, w)| (i as usize) < n_items && w.is_finite() && w > 0.0)
            .collect();
        merged.sort_unstable_by_key(|&(i, _)| i);
        merged.dedup_by(|next, kept| {
            if next.0 == kept.0 {
                kept.1 += next.1;
                true
            } else {
                false
            }
        });
        if merged.is_empty() || self.gram.len() != f * f {
            return vec![0.0; f];
        }
        // Z = sqrt(c - 1) * Y_u, so Yᵀ(C_u - I)Y = ZᵀZ (one small matrix product); b = Σ c y.
        let mut z = vec![0f32; merged.len() * f];
        let mut b = vec![0f32; f];
        for (&(i, w), zr) in merged.iter().zip(z.chunks_exact_mut(f)) {
            let y = row(&self.item_factors, f, i as usize);
            let c = 1.0 + self.params.alpha * w;
            let s = (c - 1.0).max(0.0).sqrt();
            for (zk, &yk) in zr.iter_mut().zip(y) {
                *zk = s * yk;
            }
            axpy(c, y, &mut b);
        }
        let mut a = self.gram.clone();
        let rows = merged.len();
        if let (Ok(zv), Ok(mut av)) = (
            ArrayView2::from_shape((rows, f), &z[..]),
            ArrayViewMut2::from_shape((f, f), &mut a[..]),
        ) {
            general_mat_mul(1.0, &zv.t(), &zv, 1.0, &mut av);
        }
        let mut a64: Vec<f64> = a.iter().map(|&v| f64::from(v)).collect();
        // reg_all, plus a ridge of 1e-6 of the largest diagonal entry so that a system without
        // regularisation (reg_all 0, fewer items than factors) stays well-posed.
        let max_diag = (0..f).map(|d| a64[d * f + d]).fold(0.0, f64::max);
        let ridge = f64::from(self.params.reg_all) + 1e-6 * max_diag;
        for d in 0..f {
            a64[d * f + d] += ridge;
        }
        let b64: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
        cholesky_solve(&mut a64, &b64, f)
            .into_iter()
            .map(|v| v as f32)
            .collect()
    }
}

fn csr_is_well_formed(m: &Csr) -> bool {
    m.indptr.len() == m.n_rows + 1
        && m.indptr.first() == Some(&0)
        && m.indptr.last() == Some(&m.nnz())
        && m.values.len() == m.nnz()
        && m.indptr.windows(2).all(|w| w[0] <= w[1])
        && m.indices.iter().all(|&c| (c as usize) < m.n_cols)
}

/// Row `i` of a row-major matrix with `f` columns (empty when out of range).
fn row(m: &[f32], f: usize, i: usize) -> &[f32] {
    m.get(i * f..(i + 1) * f).unwrap_or(&[])
}

/// Small random factors (uniform in [0, 0.01), as in the `implicit` library) for rows with
/// interactions, zeros for empty rows (their solution is zero).
fn initial_factors(m: &Csr, f: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f32> {
    let mut out = vec![0f32; m.n_rows * f];
    for (r, x) in out.chunks_exact_mut(f).enumerate() {
        // Draw for every row so a row's start does not depend on which other rows are empty.
        for v in x.iter_mut() {
            *v = (rng.next_u32() >> 8) as f32 * (0.01 / (1u32 << 24) as f32);
        }
        if m.indptr.get(r) == m.indptr.get(r + 1) {
            x.fill(0.0);
        }
    }
    out
}

fn lanes(x: &[f32]) -> f32x8 {
    <[f32; 8]>::try_from(x)
        .map(f32x8::from)
        .unwrap_or(f32x8::ZERO)
}

/// All lanes `c`. `f32x8::splat` goes through a stack array at opt-level "s" (a loop of scalar
/// stores, then a vector load that stalls store forwarding): fine outside the inner loops, which
/// broadcast with shuffles instead ([`sparse_pass`]).
#[inline(always)]
fn splat(c: f32) -> f32x8 {
    f32x8::splat(c)
}

/// The four lanes of `c`, each broadcast to eight lanes (six shuffles: `unpack_lo`/`unpack_hi`
/// compile to `unpcklps`/`unpckhps` on SSE and `zip1`/`zip2` on NEON).
#[inline(always)]
fn broadcast4(c: f32x4) -> [f32x8; 4] {
    let (lo, hi) = (c.unpack_lo(c), c.unpack_hi(c));
    let b = |h: f32x4| -> f32x8 { wide::bytemuck::cast([h, h]) };
    [
        b(lo.unpack_lo(lo)),
        b(lo.unpack_hi(lo)),
        b(hi.unpack_lo(hi)),
        b(hi.unpack_hi(hi)),
    ]
}

/// The low and high four lanes added.
#[inline(always)]
fn fold4(v: f32x8) -> f32x4 {
    let [a, b]: [f32x4; 2] = wide::bytemuck::cast(v);
    a + b
}

/// Up to four values as lanes (missing ones 0).
#[inline(always)]
fn lanes4(x: &[f32]) -> f32x4 {
    let g = |k: usize| x.get(k).copied().unwrap_or(0.0);
    f32x4::from([g(0), g(1), g(2), g(3)])
}

/// The sparse part of one row's product, fused: for each item `k` of the row (weights `w`),
/// `coef_k = s0_k + s1_k * (y_k · v)` with `(s0, s1) = (1 + alpha w, -alpha w)` when `residual`
/// (the start of CG: `b - Yᵀ(C - I)Y v`), else `(0, alpha w)` (the product `Yᵀ(C - I)Y v`); then
/// `out += Σ_k coef_k y_k`. Items go four at a time: four dot products share each load of `v`
/// and end in one transpose, the four coefficients are broadcast by shuffles.
#[allow(clippy::too_many_arguments)]
fn sparse_pass(
    out: &mut [f32],
    v: &[f32],
    y: &[f32],
    f: usize,
    items: &[u32],
    w: &[f32],
    alpha: f32,
    residual: bool,
    zero_row: &[f32],
) {
    if !f.is_multiple_of(8) || out.len() != f || v.len() != f || zero_row.len() != f {
        // The plain path (factor counts that are not a multiple of 8).
        let coef: Vec<f32> = items
            .iter()
            .zip(w)
            .map(|(&i, &w)| {
                let d = dot(row(y, f, i as usize), v);
                if residual {
                    1.0 + alpha * w - alpha * w * d
                } else {
                    alpha * w * d
                }
            })
            .collect();
        gather_axpy(out, y, f, items, &coef);
        return;
    }
    let get = |i: u32| -> &[f32] {
        let r = row(y, f, i as usize);
        if r.len() == f { r } else { zero_row }
    };
    let av = f32x4::from([alpha; 4]);
    for (ig, wg) in items.chunks(4).zip(w.chunks(4)) {
        let n = ig.len();
        // Missing items of a short group repeat the first with weight 0.
        let pick = |k: usize| get(*ig.get(k).unwrap_or(&ig[0]));
        let (r0, r1, r2, r3) = (pick(0), pick(1), pick(2), pick(3));
        let (mut d0, mut d1, mut d2, mut d3) = (f32x8::ZERO, f32x8::ZERO, f32x8::ZERO, f32x8::ZERO);
        let mut j = 0;
        while j + 8 <= f {
            let pv = lanes(&v[j..j + 8]);
            d0 = lanes(&r0[j..j + 8]).mul_add(pv, d0);
            d1 = lanes(&r1[j..j + 8]).mul_add(pv, d1);
            d2 = lanes(&r2[j..j + 8]).mul_add(pv, d2);
            d3 = lanes(&r3[j..j + 8]).mul_add(pv, d3);
            j += 8;
        }
        let t = f32x4::transpose([fold4(d0), fold4(d1), fold4(d2), fold4(d3)]);
        let dots = (t[0] + t[1]) + (t[2] + t[3]);
        let aw = av * lanes4(&wg[..n.min(4)]);
        let coef = if residual {
            f32x4::ONE + aw - aw * dots
        } else {
            aw * dots
        };
        let coef = if n == 4 {
            coef
        } else {
            // Zero the lanes of missing items (their weight is 0, but 1 + 0 is not).
            let mask = lanes4(&[1.0, 1.0, 1.0, 1.0][..n]);
            coef * mask
        };
        let [b0, b1, b2, b3] = broadcast4(coef);
        let mut j = 0;
        while j + 8 <= f {
            let o = &mut out[j..j + 8];
            let mut acc = lanes(o);
            acc = lanes(&r0[j..j + 8]).mul_add(b0, acc);
            acc = lanes(&r1[j..j + 8]).mul_add(b1, acc);
            acc = lanes(&r2[j..j + 8]).mul_add(b2, acc);
            acc = lanes(&r3[j..j + 8]).mul_add(b3, acc);
            o.copy_from_slice(&acc.to_array());
            j += 8;
        }
    }
}

/// Sum of the lanes.
#[inline(always)]
fn hsum(v: f32x8) -> f32 {
    let a = v.to_array();
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// Dot product over the shorter length, 16 lanes at a time in two accumulators.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let (mut acc0, mut acc1) = (f32x8::ZERO, f32x8::ZERO);
    for (x, y) in ca.zip(cb) {
        acc0 = lanes(&x[..8]).mul_add(lanes(&y[..8]), acc0);
        acc1 = lanes(&x[8..]).mul_add(lanes(&y[8..]), acc1);
    }
    let mut rest = 0.0;
    let (mut ra, mut rb) = (ra, rb);
    if ra.len() >= 8 {
        acc0 = lanes(&ra[..8]).mul_add(lanes(&rb[..8]), acc0);
        ra = &ra[8..];
        rb = &rb[8..];
    }
    for (x, y) in ra.iter().zip(rb) {
        rest += x * y;
    }
    hsum(acc0 + acc1) + rest
}

/// `y += a * x` (over the shorter length).
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    let av = splat(a);
    let mut yc = y.chunks_exact_mut(8);
    let mut xc = x.chunks_exact(8);
    for (yv, xv) in (&mut yc).zip(&mut xc) {
        let r = lanes(xv).mul_add(av, lanes(yv));
        yv.copy_from_slice(&r.to_array());
    }
    for (yv, xv) in yc.into_remainder().iter_mut().zip(xc.remainder()) {
        *yv += a * xv;
    }
}

/// `out += Σ_k coef[k] * y[items[k]]`, 32 columns at a time so the accumulator stays in
/// registers while the item rows stream past.
fn gather_axpy(out: &mut [f32], y: &[f32], f: usize, items: &[u32], coef: &[f32]) {
    let mut start = 0;
    while start + 32 <= f {
        let o = &mut out[start..start + 32];
        // Four named accumulators (an array of them would live on the stack at opt-level "s").
        let (mut a0, mut a1, mut a2, mut a3) = (
            lanes(&o[..8]),
            lanes(&o[8..16]),
            lanes(&o[16..24]),
            lanes(&o[24..]),
        );
        for (&i, &c) in items.iter().zip(coef) {
            let Some(yr) = y.get(i as usize * f + start..i as usize * f + start + 32) else {
                continue;
            };
            let cv = splat(c);
            a0 = lanes(&yr[..8]).mul_add(cv, a0);
            a1 = lanes(&yr[8..16]).mul_add(cv, a1);
            a2 = lanes(&yr[16..24]).mul_add(cv, a2);
            a3 = lanes(&yr[24..]).mul_add(cv, a3);
        }
        for (chunk, a) in o.chunks_exact_mut(8).zip([a0, a1, a2, a3]) {
            chunk.copy_from_slice(&a.to_array());
        }
        start += 32;
    }
    if start < f {
        for (&i, &c) in items.iter().zip(coef) {
            let yr = row(y, f, i as usize);
            if let Some(tail) = yr.get(start..) {
                axpy(c, tail, &mut out[start..]);
            }
        }
    }
}

/// `out = a (rows x f) · g (f x f)`, all row-major.
fn matmul(a: &[f32], g: &[f32], out: &mut [f32], rows: usize, f: usize) {
    match (
        ArrayView2::from_shape((rows, f), a),
        ArrayView2::from_shape((f, f), g),
        ArrayViewMut2::from_shape((rows, f), out),
    ) {
        (Ok(av), Ok(gv), Ok(mut ov)) => general_mat_mul(1.0, &av, &gv, 0.0, &mut ov),
        // Unreachable with the buffers this module builds; a plain loop rather than a panic.
        _ => {
            for (ar, or) in a.chunks_exact(f).zip(out.chunks_exact_mut(f)) {
                or.fill(0.0);
                for (k, &ak) in ar.iter().enumerate() {
                    axpy(ak, row(g, f, k), or);
                }
            }
        }
    }
}

/// `YᵀY` (`f x f`) of a row-major `n x f` matrix: partial products of fixed row blocks in
/// parallel, summed in block order (deterministic on any thread count).
fn gram(y: &[f32], f: usize) -> Vec<f32> {
    let partials: Vec<Vec<f32>> = y
        .par_chunks(GRAM_ROWS * f)
        .map(|block| {
            let mut g = vec![0f32; f * f];
            let rows = block.len() / f;
            if let (Ok(bv), Ok(mut gv)) = (
                ArrayView2::from_shape((rows, f), &block[..rows * f]),
                ArrayViewMut2::from_shape((f, f), &mut g[..]),
            ) {
                general_mat_mul(1.0, &bv.t(), &bv, 0.0, &mut gv);
            }
            g
        })
        .collect();
    let mut g = vec![0f32; f * f];
    for p in &partials {
        axpy(1.0, p, &mut g);
    }
    g
}

/// `f64` dot product, four lanes at a time.
fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let l = |x: &[f64]| {
        <[f64; 4]>::try_from(x)
            .map(f64x4::from)
            .unwrap_or(f64x4::ZERO)
    };
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let rest: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = f64x4::ZERO;
    for (x, y) in ca.zip(cb) {
        acc = l(x).mul_add(l(y), acc);
    }
    // A tree over the lanes: `reduce_add` is a serial loop through the stack at opt-level "s".
    let a = acc.to_array();
    ((a[0] + a[2]) + (a[1] + a[3])) + rest
}

/// Solves `A x = b` for a symmetric positive (semi-)definite `A` (`f x f`, row-major, only the
/// lower triangle read, overwritten by the Cholesky factor). A pivot that is not positive
/// (a singular system: no regularisation and too few items) is replaced by a tiny one, so the
/// result stays finite; its column is decoupled from the others.
fn cholesky_solve(a: &mut [f64], b: &[f64], f: usize) -> Vec<f64> {
    if a.len() != f * f || b.len() != f {
        return vec![0.0; f];
    }
    let scale = (0..f).map(|d| a[d * f + d].abs()).fold(0.0, f64::max);
    let floor = (scale * 1e-12).max(1e-30);
    for j in 0..f {
        let jr = j * f;
        let s = a[jr + j] - dot64(&a[jr..jr + j], &a[jr..jr + j]);
        let (head, tail) = a.split_at_mut(jr + f);
        if s > floor {
            let d = s.sqrt();
            head[jr + j] = d;
            let lj = &head[jr..jr + j];
            for li in tail.chunks_exact_mut(f) {
                li[j] = (li[j] - dot64(&li[..j], lj)) / d;
            }
        } else {
            // A direction the system does not constrain: a tiny pivot and no coupling.
            head[jr + j] = floor.sqrt();
            for li in tail.chunks_exact_mut(f) {
                li[j] = 0.0;
            }
        }
    }
    // L z = b, then Lᵀ x = z.
    let mut z = vec![0f64; f];
    for i in 0..f {
        let li = &a[i * f..i * f + i];
        z[i] = (b[i] - dot64(li, &z[..i])) / a[i * f + i];
    }
    let mut x = z;
    for i in (0..f).rev() {
        let mut s = x[i];
        for k in i + 1..f {
            s -= a[k * f + i] * x[k];
        }
        x[i] = s / a[i * f + i];
    }
    x
}

/// One side's solver settings.
struct Solver {
    f: usize,
    reg: f32,
    alpha: f32,
    cg_steps: usize,
}

impl Solver {
    /// Updates every row of `x` (rows of `m`) with the other side `y` fixed.
    fn half_sweep(&self, x: &mut [f32], y: &[f32], m: &Csr) {
        let f = self.f;
        let mut g = gram(y, f);
        for d in 0..f {
            g[d * f + d] += self.reg;
        }
        x.par_chunks_mut(BLOCK_ROWS * f)
            .enumerate()
            .for_each(|(b, xs)| self.solve_block(xs, b * BLOCK_ROWS, y, m, &g));
    }

    /// `cg_steps` CG steps for the rows `first..first + xs.len() / f`, in lockstep so each step's
    /// products with `G = YᵀY + reg·I` are one small matrix product.
    fn solve_block(&self, xs: &mut [f32], first: usize, y: &[f32], m: &Csr, g: &[f32]) {
        let f = self.f;
        let rows = xs.len() / f;
        let alpha = self.alpha;
        let mut res = vec![0f32; xs.len()];
        let mut p = vec![0f32; xs.len()];
        let mut ap = vec![0f32; xs.len()];
        let mut rs = vec![0f32; rows];
        let mut active = vec![false; rows];
        let zero_row = vec![0f32; f];

        // r = b - A x = Σ_i (c_i - (c_i - 1) y_i·x) y_i - G x
        matmul(xs, g, &mut ap, rows, f);
        for r in 0..rows {
            let (items, w) = m.row(first + r);
            let span = r * f..(r + 1) * f;
            let x = &mut xs[span.clone()];
            if items.is_empty() {
                x.fill(0.0);
                continue;
            }
            let rr = &mut res[span.clone()];
            for (rk, &ak) in rr.iter_mut().zip(&ap[span.clone()]) {
                *rk = -ak;
            }
            sparse_pass(rr, x, y, f, items, w, alpha, true, &zero_row);
            let norm = dot(rr, rr);
            if norm.is_finite() && norm > CG_EPS {
                p[span.clone()].copy_from_slice(rr);
                rs[r] = norm;
                active[r] = true;
            }
        }

        for _ in 0..self.cg_steps {
            if !active.iter().any(|&a| a) {
                break;
            }
            matmul(&p, g, &mut ap, rows, f);
            for r in 0..rows {
                if !active[r] {
                    continue;
                }
                let (items, w) = m.row(first + r);
                let span = r * f..(r + 1) * f;
                let pr = &mut p[span.clone()];
                let apr = &mut ap[span.clone()];
                sparse_pass(apr, pr, y, f, items, w, alpha, false, &zero_row);
                let pap = dot(pr, apr);
                if !(pap.is_finite() && pap > 0.0) {
                    active[r] = false;
                    pr.fill(0.0);
                    continue;
                }
                let step = rs[r] / pap;
                axpy(step, pr, &mut xs[span.clone()]);
                let rr = &mut res[span.clone()];
                axpy(-step, apr, rr);
                let norm = dot(rr, rr);
                if !(norm.is_finite() && norm > CG_EPS) {
                    active[r] = false;
                    pr.fill(0.0);
                    continue;
                }
                let beta = norm / rs[r];
                for (pk, &rk) in pr.iter_mut().zip(rr.iter()) {
                    *pk = rk + beta * *pk;
                }
                rs[r] = norm;
            }
        }
    }
}

impl Recommender for AlsModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Als
    }

    fn n_items(&self) -> usize {
        self.item_factors.len() / self.n_factors.max(1)
    }

    /// `fold_in(history) · y_i` for every item (all zeros for an empty history).
    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        let x = self.fold_in(history);
        for (o, y) in out
            .iter_mut()
            .zip(self.item_factors.chunks_exact(self.n_factors.max(1)))
        {
            *o = dot(&x, y);
        }
    }
}

impl TrainedModel for AlsModel {
    fn to_artifact(&self) -> Result<Vec<u8>, ArtifactError> {
        artifact::encode(ModelKind::Als, self)
    }
}

/// Loads an ALS artifact: checks the factor shapes, rebuilds the id lookups and the Gram matrix.
pub fn load(bytes: &[u8]) -> Result<Box<dyn TrainedModel>, ArtifactError> {
    Ok(Box::new(load_model(bytes)?))
}

/// [`load`] as the concrete type.
pub fn load_model(bytes: &[u8]) -> Result<AlsModel, ArtifactError> {
    let mut m: AlsModel = artifact::decode(ModelKind::Als, bytes)?;
    let f = m.n_factors;
    if f == 0
        || f != m.params.n_factors
        || m.user_factors.len() != m.user_ids.len().saturating_mul(f)
        || m.item_factors.len() != m.item_ids.len().saturating_mul(f)
    {
        return Err(ArtifactError::Decode(
            "ALS factor shapes do not match the id maps".to_string(),
        ));
    }
    m.user_ids.rebuild_index();
    m.item_ids.rebuild_index();
    m.gram = gram(&m.item_factors, f);
    Ok(m)
}

/// Trains from an ML config's parameters; `random_state` defaults to `input.seed` when absent.
pub fn fit_from_params(
    params: &Map<String, Value>,
    input: &TrainInput<'_>,
) -> Result<Box<dyn TrainedModel>, FitError> {
    let mut p = AlsParams::from_params(params)?;
    if !params.contains_key("random_state") {
        p.random_state = input.seed;
    }
    Ok(Box::new(AlsModel::fit(input.data, &p)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reco::data::Interaction;
    use crate::reco::eval::{evaluate, time_holdout};
    use crate::reco::model::top_k;
    use crate::reco::registry;
    use crate::reco::synthetic::{InteractionGenConfig, generate_interactions};
    use serde_json::json;

    fn it(u: &str, i: &str, w: f32) -> Interaction {
        Interaction {
            user: u.into(),
            item: i.into(),
            weight: w,
            timestamp: 0,
        }
    }

    fn params_map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn hand_model(item_factors: Vec<f32>, f: usize, reg: f32, alpha: f32) -> AlsModel {
        let n = item_factors.len() / f;
        AlsModel::from_factors(
            IdMap::new(),
            IdMap::from_ids((0..n).map(|i| format!("i{i}")).collect()),
            Vec::new(),
            item_factors,
            AlsParams {
                n_factors: f,
                reg_all: reg,
                alpha,
                ..AlsParams::default()
            },
        )
    }

    fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    fn synthetic(interactions: usize, users: usize, items: usize) -> Vec<Interaction> {
        generate_interactions(&InteractionGenConfig {
            interactions,
            users,
            items,
            ..InteractionGenConfig::default()
        })
    }

    #[test]
    fn fold_in_one_factor_by_hand() {
        // y = [1, 2], reg 1, alpha 1, history item 0 weight 1: c = 2,
        // A = YᵀY + reg + (c - 1) y0² = 5 + 1 + 1 = 7, b = c y0 = 2, x = 2/7.
        let m = hand_model(vec![1.0, 2.0], 1, 1.0, 1.0);
        assert!(close(&m.fold_in(&[(0, 1.0)]), &[2.0 / 7.0], 1e-5));
        // Duplicates are summed; unknown columns and non-positive weights are ignored.
        assert!(close(
            &m.fold_in(&[(0, 0.5), (9, 4.0), (1, -1.0), (0, 0.5)]),
            &[2.0 / 7.0],
            1e-5
        ));
        assert_eq!(m.fold_in(&[]), vec![0.0]);
        assert_eq!(m.fold_in(&[(7, 1.0), (1, f32::NAN)]), vec![0.0]);
    }

    #[test]
    fn fold_in_two_factors_by_hand_and_scores() {
        // y0 = [1, 1], y1 = [0, 1]: YᵀY = [[1, 1], [1, 2]]; reg 0.5, alpha 2, history item 0
        // weight 1: c = 3, A = [[3.5, 3], [3, 4.5]], b = [3, 3], x = A⁻¹b = [2/3, 2/9].
        let m = hand_model(vec![1.0, 1.0, 0.0, 1.0], 2, 0.5, 2.0);
        let x = m.fold_in(&[(0, 1.0)]);
        assert!(close(&x, &[2.0 / 3.0, 2.0 / 9.0], 1e-5), "{x:?}");
        let mut scores = vec![0.0; 2];
        m.score(&[(0, 1.0)], &mut scores);
        // item 0: 2/3 + 2/9 = 8/9; item 1: 2/9.
        assert!(close(&scores, &[8.0 / 9.0, 2.0 / 9.0], 1e-5), "{scores:?}");
    }

    #[test]
    fn conjugate_gradient_reaches_the_exact_solution_in_f_steps() {
        // The same system as above, solved by a half-sweep from zero with 2 CG steps (exact in
        // f = 2 steps up to rounding).
        let y = vec![1.0, 1.0, 0.0, 1.0];
        let m = Csr::from_triplets(1, 2, vec![(0, 0, 1.0)]);
        let mut x = vec![0.0, 0.0];
        let solver = Solver {
            f: 2,
            reg: 0.5,
            alpha: 2.0,
            cg_steps: 2,
        };
        solver.half_sweep(&mut x, &y, &m);
        assert!(close(&x, &[2.0 / 3.0, 2.0 / 9.0], 1e-5), "{x:?}");
        // One step is not there yet (the residual is not an eigenvector).
        let mut x1 = vec![0.0, 0.0];
        Solver {
            cg_steps: 1,
            ..solver
        }
        .half_sweep(&mut x1, &y, &m);
        assert!(!close(&x1, &[2.0 / 3.0, 2.0 / 9.0], 1e-3), "{x1:?}");
    }

    #[test]
    fn sparse_pass_matches_the_formula_in_groups_of_four_and_short_groups() {
        // f = 8 (the four-at-a-time path), 7 items (a group of 4 and a short group of 3).
        let f = 8;
        let y: Vec<f32> = (0..10 * f)
            .map(|k| ((k * 7 % 11) as f32 - 5.0) * 0.1)
            .collect();
        let v: Vec<f32> = (0..f).map(|k| (k as f32 - 3.0) * 0.2).collect();
        let items = [0u32, 3, 4, 9, 2, 7, 5];
        let w = [1.0f32, 3.0, 5.0, 1.0, 2.0, 1.0, 4.0];
        let alpha = 2.0;
        let zero = vec![0f32; f];
        for residual in [true, false] {
            let mut want = vec![0.5f32; f];
            for (&i, &wi) in items.iter().zip(&w) {
                let yi = &y[i as usize * f..(i as usize + 1) * f];
                let d: f32 = yi.iter().zip(&v).map(|(a, b)| a * b).sum();
                let c = if residual {
                    1.0 + alpha * wi - alpha * wi * d
                } else {
                    alpha * wi * d
                };
                for (o, &yk) in want.iter_mut().zip(yi) {
                    *o += c * yk;
                }
            }
            let mut got = vec![0.5f32; f];
            sparse_pass(&mut got, &v, &y, f, &items, &w, alpha, residual, &zero);
            assert!(close(&got, &want, 1e-4), "{residual}: {got:?} vs {want:?}");
        }
    }

    #[test]
    fn cholesky_solves_a_three_by_three_system() {
        // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, -1, 2] -> b = [2, -1, 5].
        let mut a = vec![4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let x = cholesky_solve(&mut a, &[2.0, -1.0, 5.0], 3);
        for (got, want) in x.iter().zip([1.0, -1.0, 2.0]) {
            assert!((got - want).abs() < 1e-12, "{x:?}");
        }
        // Singular (all zero): finite, not a panic.
        let mut z = vec![0.0; 4];
        assert!(
            cholesky_solve(&mut z, &[1.0, 1.0], 2)
                .iter()
                .all(|v| v.is_finite())
        );
    }

    /// Users u0-u3 interact with items a0-a3, users u4-u7 with b0-b3; user k misses item k of
    /// its block.
    fn two_blocks() -> Dataset {
        let mut all = Vec::new();
        for u in 0..8 {
            let block = if u < 4 { "a" } else { "b" };
            for i in 0..4 {
                if i != u % 4 {
                    all.push(it(&format!("u{u}"), &format!("{block}{i}"), 1.0));
                }
            }
        }
        Dataset::from_interactions(&all, None)
    }

    #[test]
    fn two_disjoint_blocks_recommend_inside_the_block() {
        let data = two_blocks();
        let params = AlsParams {
            n_factors: 4,
            n_epochs: 20,
            reg_all: 0.1,
            alpha: 5.0,
            ..AlsParams::default()
        };
        let m = AlsModel::fit(&data, &params).expect("fit");
        for u in 0..8 {
            let history = data.user_items.row_pairs(u);
            let got = m.recommend(&history, 1, &[]);
            let missing = format!("{}{}", if u < 4 { "a" } else { "b" }, u % 4);
            let want = data.items.get(&missing);
            assert_eq!(got.first().map(|r| r.0), want, "user {u}");
            // Every item of the own block outscores every item of the other block.
            let mut s = vec![0.0; m.n_items()];
            m.score(&history, &mut s);
            let own: Vec<f32> = (0..8)
                .filter(|&i| {
                    data.items
                        .id(i)
                        .is_some_and(|id| id.starts_with(&missing[..1]))
                })
                .map(|i| s[i as usize])
                .collect();
            let other: Vec<f32> = (0..8)
                .filter(|&i| {
                    data.items
                        .id(i)
                        .is_some_and(|id| !id.starts_with(&missing[..1]))
                })
                .map(|i| s[i as usize])
                .collect();
            let min_own = own.iter().copied().fold(f32::INFINITY, f32::min);
            let max_other = other.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert!(min_own > max_other, "user {u}: {own:?} vs {other:?}");
        }
    }

    #[test]
    fn fold_in_of_a_training_history_is_close_to_the_trained_vector() {
        let data = Dataset::from_interactions(&synthetic(5_000, 100, 170), None);
        let params = AlsParams {
            n_factors: 8,
            n_epochs: 40,
            ..AlsParams::default()
        };
        let m = AlsModel::fit(&data, &params).expect("fit");
        for u in [0usize, 7, 42] {
            let trained = m.user_vector(u);
            let folded = m.fold_in(&data.user_items.row_pairs(u));
            let cos =
                dot(trained, &folded) / (dot(trained, trained) * dot(&folded, &folded)).sqrt();
            let ratio = dot(&folded, &folded).sqrt() / dot(trained, trained).sqrt();
            assert!(cos > 0.995, "user {u}: cosine {cos}");
            assert!((ratio - 1.0).abs() < 0.05, "user {u}: norm ratio {ratio}");
        }
    }

    #[test]
    fn same_seed_is_bit_identical_on_one_and_two_threads() {
        // 300 users: several row blocks, so two threads really split the work.
        let data = Dataset::from_interactions(&synthetic(6_000, 300, 200), None);
        let params = AlsParams {
            n_factors: 12,
            n_epochs: 3,
            ..AlsParams::default()
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| AlsModel::fit(&data, &params).expect("fit"))
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        let (one, two) = (run(1), run(2));
        assert!(data.n_users() > 2 * BLOCK_ROWS);
        assert_eq!(bits(&one.user_factors), bits(&two.user_factors));
        assert_eq!(bits(&one.item_factors), bits(&two.item_factors));
        let other = AlsModel::fit(
            &data,
            &AlsParams {
                random_state: 7,
                ..params
            },
        )
        .expect("fit");
        assert_ne!(bits(&one.item_factors), bits(&other.item_factors));
    }

    #[test]
    fn empty_and_degenerate_inputs() {
        let empty = Dataset::from_interactions(&[], None);
        assert!(matches!(
            AlsModel::fit(&empty, &AlsParams::default()),
            Err(FitError::NotEnoughData(_))
        ));
        // A catalogue but no interactions.
        let no_rows = Dataset::from_interactions(&[], Some(&["a".to_string()]));
        assert!(matches!(
            AlsModel::fit(&no_rows, &AlsParams::default()),
            Err(FitError::NotEnoughData(_))
        ));
        // One user, one item, more factors than items, no regularisation: finite factors.
        let one = Dataset::from_interactions(&[it("u", "a", 1.0)], None);
        let params = AlsParams {
            reg_all: 0.0,
            ..AlsParams::default()
        };
        let m = AlsModel::fit(&one, &params).expect("fit");
        assert!(
            m.user_factors
                .iter()
                .chain(&m.item_factors)
                .all(|v| v.is_finite())
        );
        let mut s = vec![0.0; 1];
        m.score(&[(0, 1.0)], &mut s);
        assert!(s[0].is_finite() && s[0] > 0.0, "{s:?}");
        // Items of the catalogue without interactions get zero factors and score 0.
        let cat = Dataset::from_interactions(
            &[it("u", "a", 1.0), it("v", "a", 2.0)],
            Some(&["a".to_string(), "z".to_string()]),
        );
        let m = AlsModel::fit(&cat, &AlsParams::default()).expect("fit");
        assert!(m.item_vector(1).iter().all(|&v| v == 0.0));
        // Out-of-range parameters built in code are refused with the field.
        let bad = AlsParams {
            n_factors: 0,
            ..AlsParams::default()
        };
        assert!(matches!(
            AlsModel::fit(&one, &bad),
            Err(FitError::Param { field, .. }) if field == "n_factors"
        ));
    }

    #[test]
    fn params_defaults_values_and_errors_name_the_field() {
        assert_eq!(
            AlsParams::from_params(&Map::new()).expect("defaults"),
            AlsParams::default()
        );
        let p = AlsParams::from_params(&params_map(json!({
            "n_factors": 8, "n_epochs": 2, "reg_all": 0.5, "alpha": 1.5, "lr_all": 0.1,
            "cg_steps": 5, "random_state": 9, "unrelated": true
        })))
        .expect("parse");
        assert_eq!(
            p,
            AlsParams {
                n_factors: 8,
                n_epochs: 2,
                reg_all: 0.5,
                alpha: 1.5,
                lr_all: 0.1,
                cg_steps: 5,
                random_state: 9,
            }
        );
        for (bad, field) in [
            (json!({"n_factors": 0}), "n_factors"),
            (json!({"n_factors": 513}), "n_factors"),
            (json!({"n_factors": "64"}), "n_factors"),
            (json!({"n_factors": 6.5}), "n_factors"),
            (json!({"n_epochs": 101}), "n_epochs"),
            (json!({"reg_all": -0.1}), "reg_all"),
            (json!({"alpha": 0}), "alpha"),
            (json!({"alpha": null}), "alpha"),
            (json!({"lr_all": 1.5}), "lr_all"),
            (json!({"cg_steps": 0}), "cg_steps"),
            (json!({"random_state": -1}), "random_state"),
            (json!({"alpha": 1e39}), "alpha"),
        ] {
            match AlsParams::from_params(&params_map(bad.clone())) {
                Err(FitError::Param { field: f, .. }) => assert_eq!(f, field, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn artifact_round_trip_through_the_registry() {
        let data = two_blocks();
        let interactions = Vec::new();
        let input = TrainInput {
            data: &data,
            interactions: &interactions,
            item_created_at: &[],
            item_embeddings: &[],
            item_category: &[],
            item_price: &[],
            now: 0,
            seed: 5,
        };
        let params = params_map(json!({"n_factors": 4, "n_epochs": 5}));
        let model = registry::fit(ModelKind::Als, &params, &input).expect("fit");
        let bytes = model.to_artifact().expect("encode");
        let back = registry::load(ModelKind::Als, &bytes).expect("load");
        let history = data.user_items.row_pairs(0);
        let (mut a, mut b) = (vec![0.0; 8], vec![0.0; 8]);
        model.score(&history, &mut a);
        back.score(&history, &mut b);
        assert_eq!(a, b);
        assert_eq!(back.kind(), ModelKind::Als);
        // The seed came from the input (no random_state in the parameters).
        let concrete = load_model(&bytes).expect("load");
        assert_eq!(concrete.params.random_state, 5);
        assert_eq!(concrete.item_ids.get("b3"), data.items.get("b3"));
        // A corrupted artifact is an error, never a panic.
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(registry::load(ModelKind::Als, &bad).is_err());
        // Shapes that do not match the id maps are refused.
        let mut broken = concrete.clone();
        broken.item_factors.pop();
        let bytes = artifact::encode(ModelKind::Als, &broken).expect("encode");
        assert!(matches!(load_model(&bytes), Err(ArtifactError::Decode(_))));
        // Bad parameters come back as a parameter error.
        let bad = params_map(json!({"alpha": -1}));
        assert!(matches!(
            registry::fit(ModelKind::Als, &bad, &input),
            Err(FitError::Param { .. })
        ));
    }

    /// Items ranked by summed training weight (the baseline of the quality checks).
    pub(crate) fn popularity_scores(data: &Dataset) -> Vec<f32> {
        let mut pop = vec![0f32; data.n_items()];
        for (&c, &v) in data.user_items.indices.iter().zip(&data.user_items.values) {
            pop[c as usize] += v;
        }
        pop
    }

    #[test]
    fn beats_popularity_on_a_time_holdout() {
        let all = generate_interactions(&InteractionGenConfig {
            interactions: 20_000,
            users: 300,
            items: 510,
            ..InteractionGenConfig::default()
        });
        let (train, test) = time_holdout(&all, 0.2);
        let data = Dataset::from_interactions(&train, None);
        let params = AlsParams {
            n_factors: 32,
            n_epochs: 10,
            ..AlsParams::default()
        };
        let m = AlsModel::fit(&data, &params).expect("fit");
        let als = evaluate(&data, &test, 10, |h| {
            m.recommend(h, 10, &[]).into_iter().map(|r| r.0).collect()
        });
        let pop = popularity_scores(&data);
        let popularity = evaluate(&data, &test, 10, |h| {
            let mut s = pop.clone();
            for &(i, _) in h {
                s[i as usize] = f32::NEG_INFINITY;
            }
            top_k(&s, 10).into_iter().map(|r| r.0).collect()
        });
        assert!(
            als.ndcg > 1.3 * popularity.ndcg,
            "als {:.4} vs popularity {:.4}",
            als.ndcg,
            popularity.ndcg
        );
    }
}
