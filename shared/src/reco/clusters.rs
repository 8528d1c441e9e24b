//! Behavioural user clusters: k-means on log-scaled, standardised activity counts, and the rules
//! that name the clusters from their centroids.
//!
//! Pipeline ([`cluster`]): each count `x` becomes `ln(1 + x)` (counts are heavy-tailed: a few
//! users have hundreds of sessions), then each feature is standardised to mean 0 and standard
//! deviation 1 ([`Scaler`]), then k-means from linfa-clustering runs with k-means++ starts,
//! several seeded restarts (the run with the lowest inertia wins) and the memberships of the
//! winning centroids are computed with its `predict` (linfa's `cluster_count` counts the
//! memberships of the *last* restart, not of the best one, so it is not used).
//!
//! Naming ([`name_clusters`], k = 4): the centroid with the highest overall engagement (mean of
//! its standardised coordinates) is `Super Users`; of the rest, the lowest is `Inactive Users`; of
//! the two left, the one whose raw activity has the highest email share is `Email Specialists`;
//! the last is `Balanced Users`. Each name has a fixed cluster id (spec 003: 0 Balanced,
//! 1 Email Specialists, 2 Super Users, 3 Inactive), so ids and names are stable across recomputes
//! even though k-means numbers its clusters arbitrarily.

use std::collections::HashSet;

use linfa::{DatasetBase, prelude::*};
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::Array2;
use rand_xoshiro::{Xoshiro256Plus, rand_core::SeedableRng};
use serde::{Deserialize, Serialize};

/// The number of clusters spec 003 defines.
pub const K: usize = 4;

/// k-means settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterParams {
    pub seed: u64,
    /// Independent k-means++ starts; the lowest inertia wins.
    pub restarts: usize,
    pub max_iterations: u64,
    pub tolerance: f64,
}

impl Default for ClusterParams {
    fn default() -> Self {
        Self {
            seed: 42,
            restarts: 8,
            max_iterations: 300,
            tolerance: 1e-6,
        }
    }
}

/// `ln(1 + x)` then `(v - mean) / std` per feature (a constant feature gets std 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub means: Vec<f64>,
    pub stds: Vec<f64>,
}

impl Scaler {
    /// Fits on `rows` (row-major, `n_features` per row) of raw counts.
    pub fn fit(rows: &[f64], n_features: usize) -> Self {
        let n = rows.len().checked_div(n_features).unwrap_or(0);
        let mut means = vec![0.0; n_features];
        let mut stds = vec![0.0; n_features];
        if n == 0 {
            return Self {
                means,
                stds: vec![1.0; n_features],
            };
        }
        for row in rows.chunks_exact(n_features) {
            for (m, x) in means.iter_mut().zip(row) {
                *m += log_scale(*x);
            }
        }
        for m in &mut means {
            *m /= n as f64;
        }
        for row in rows.chunks_exact(n_features) {
            for ((s, m), x) in stds.iter_mut().zip(&means).zip(row) {
                let d = log_scale(*x) - m;
                *s += d * d;
            }
        }
        for s in &mut stds {
            *s = (*s / n as f64).sqrt();
            if !s.is_finite() || *s < 1e-12 {
                *s = 1.0;
            }
        }
        Self { means, stds }
    }

    /// One raw row in the standardised space.
    pub fn transform(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(self.means.iter().zip(&self.stds))
            .map(|(x, (m, s))| (log_scale(*x) - m) / s)
            .collect()
    }
}

/// `ln(1 + max(x, 0))`.
pub fn log_scale(x: f64) -> f64 {
    x.max(0.0).ln_1p()
}

/// The result of [`cluster`]: k-means' own numbering (0..k), not yet named.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// `k` centroids in the standardised space.
    pub centroids: Vec<Vec<f64>>,
    /// The cluster of each input row.
    pub assignments: Vec<usize>,
    /// Rows per cluster.
    pub counts: Vec<usize>,
    /// Mean of the raw (unscaled) features of each cluster's rows: the "profile".
    pub raw_means: Vec<Vec<f64>>,
    /// Mean squared distance of a row to its centroid (standardised space).
    pub inertia: f64,
    pub scaler: Scaler,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClusterError {
    /// Fewer distinct rows than clusters: k-means cannot make `k` clusters.
    #[error("{distinct} distinct users for {k} clusters")]
    TooFewRows { distinct: usize, k: usize },
    #[error("rows must be non-empty and have {0} finite, non-negative values each")]
    BadInput(usize),
    #[error("k-means failed: {0}")]
    Fit(String),
}

/// Runs the whole pipeline on `rows` (row-major raw counts, `n_features` per row).
pub fn cluster(
    rows: &[f64],
    n_features: usize,
    k: usize,
    params: &ClusterParams,
) -> Result<Clustering, ClusterError> {
    if n_features == 0
        || !rows.len().is_multiple_of(n_features)
        || rows.iter().any(|x| !x.is_finite() || *x < 0.0)
    {
        return Err(ClusterError::BadInput(n_features));
    }
    let n = rows.len() / n_features;
    let distinct = rows
        .chunks_exact(n_features)
        .map(|r| r.iter().map(|x| x.to_bits()).collect::<Vec<u64>>())
        .collect::<HashSet<_>>()
        .len();
    if k == 0 || distinct < k {
        return Err(ClusterError::TooFewRows { distinct, k });
    }
    let scaler = Scaler::fit(rows, n_features);
    let mut data = Array2::<f64>::zeros((n, n_features));
    for (mut out, row) in data
        .rows_mut()
        .into_iter()
        .zip(rows.chunks_exact(n_features))
    {
        for ((o, x), (m, s)) in out
            .iter_mut()
            .zip(row)
            .zip(scaler.means.iter().zip(&scaler.stds))
        {
            *o = (log_scale(*x) - m) / s;
        }
    }
    let dataset = DatasetBase::from(data);
    let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(params.seed))
        .n_runs(params.restarts.max(1))
        .max_n_iterations(params.max_iterations.max(1))
        .tolerance(params.tolerance)
        .init_method(KMeansInit::KMeansPlusPlus)
        .fit(&dataset)
        .map_err(|e| ClusterError::Fit(e.to_string()))?;
    let memberships = model.predict(dataset.records());
    let centroids_arr = model.centroids();
    let centroids: Vec<Vec<f64>> = centroids_arr
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();

    let mut counts = vec![0usize; k];
    let mut raw_sums = vec![vec![0.0; n_features]; k];
    let mut inertia = 0.0;
    for ((c, row), srow) in memberships
        .iter()
        .zip(rows.chunks_exact(n_features))
        .zip(dataset.records().rows())
    {
        counts[*c] += 1;
        for (s, x) in raw_sums[*c].iter_mut().zip(row) {
            *s += x;
        }
        inertia += sq_dist(srow.as_slice().unwrap_or(&[]), &centroids[*c]);
    }
    let raw_means = raw_sums
        .into_iter()
        .zip(&counts)
        .map(|(sums, &c)| {
            sums.into_iter()
                .map(|s| if c == 0 { 0.0 } else { s / c as f64 })
                .collect()
        })
        .collect();
    Ok(Clustering {
        centroids,
        assignments: memberships.to_vec(),
        counts,
        raw_means,
        inertia: inertia / n as f64,
        scaler,
    })
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The index of the centroid nearest to `point` (standardised space).
pub fn nearest(centroids: &[Vec<f64>], point: &[f64]) -> Option<usize> {
    centroids
        .iter()
        .enumerate()
        .map(|(i, c)| (i, sq_dist(c, point)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// The four behavioural clusters of spec 003, with their fixed ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClusterName {
    Balanced,
    EmailSpecialists,
    SuperUsers,
    Inactive,
}

impl ClusterName {
    /// In id order.
    pub const ALL: [ClusterName; 4] = [
        ClusterName::Balanced,
        ClusterName::EmailSpecialists,
        ClusterName::SuperUsers,
        ClusterName::Inactive,
    ];

    /// The spec's cluster id.
    pub fn id(self) -> u8 {
        match self {
            ClusterName::Balanced => 0,
            ClusterName::EmailSpecialists => 1,
            ClusterName::SuperUsers => 2,
            ClusterName::Inactive => 3,
        }
    }

    pub fn from_id(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.id() == id)
    }

    pub fn label(self) -> &'static str {
        match self {
            ClusterName::Balanced => "Balanced Users",
            ClusterName::EmailSpecialists => "Email Specialists",
            ClusterName::SuperUsers => "Super Users",
            ClusterName::Inactive => "Inactive Users",
        }
    }
}

/// Names four clusters from their standardised centroids and raw means (see the module docs).
/// `email_features` are the indices of the email features. Returns `None` unless there are
/// exactly four clusters.
pub fn name_clusters(
    centroids: &[Vec<f64>],
    raw_means: &[Vec<f64>],
    email_features: &[usize],
) -> Option<Vec<ClusterName>> {
    if centroids.len() != K || raw_means.len() != K {
        return None;
    }
    let engagement: Vec<f64> = centroids
        .iter()
        .map(|c| c.iter().sum::<f64>() / c.len().max(1) as f64)
        .collect();
    let email_share: Vec<f64> = raw_means
        .iter()
        .map(|m| {
            let total: f64 = m.iter().sum();
            let email: f64 = email_features.iter().filter_map(|&i| m.get(i)).sum();
            if total > 0.0 { email / total } else { 0.0 }
        })
        .collect();
    let mut left: Vec<usize> = (0..K).collect();
    let mut names = vec![ClusterName::Balanced; K];
    // Ties break towards the lower index, so the result is deterministic.
    let pick = |left: &mut Vec<usize>, score: &dyn Fn(usize) -> f64, highest: bool| -> usize {
        let mut best = 0;
        for pos in 1..left.len() {
            let (a, b) = (score(left[pos]), score(left[best]));
            if (highest && a > b) || (!highest && a < b) {
                best = pos;
            }
        }
        left.remove(best)
    };
    let sup = pick(&mut left, &|i| engagement[i], true);
    names[sup] = ClusterName::SuperUsers;
    let inactive = pick(&mut left, &|i| engagement[i], false);
    names[inactive] = ClusterName::Inactive;
    let email = pick(&mut left, &|i| email_share[i], true);
    names[email] = ClusterName::EmailSpecialists;
    for i in left {
        names[i] = ClusterName::Balanced;
    }
    Some(names)
}

/// The standardised rows of `rows` as a matrix (benchmarks, tests).
pub fn standardised(rows: &[f64], n_features: usize, scaler: &Scaler) -> Array2<f64> {
    let n = rows.len() / n_features.max(1);
    let mut out = Array2::<f64>::zeros((n, n_features));
    for (mut o, r) in out
        .rows_mut()
        .into_iter()
        .zip(rows.chunks_exact(n_features))
    {
        for (v, x) in o.iter_mut().zip(scaler.transform(r)) {
            *v = x;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Four obvious groups on 3 features: heavy everything, nothing, email only, a bit of all.
    fn groups() -> Vec<f64> {
        let mut rows = Vec::new();
        for i in 0..20 {
            let j = (i % 5) as f64;
            rows.extend([200.0 + j, 150.0 + j, 90.0 + j]); // heavy
            rows.extend([0.0, j.min(1.0), 0.0]); // inactive
            rows.extend([1.0, 0.0, 60.0 + j]); // email only
            rows.extend([12.0 + j, 10.0, 8.0 + j]); // balanced
        }
        rows
    }

    #[test]
    fn log_scale_and_standardise() {
        let s = Scaler::fit(&[0.0, 5.0, (1f64).exp() - 1.0, 5.0], 2);
        assert!((s.means[0] - 0.5).abs() < 1e-12);
        assert!((s.stds[0] - 0.5).abs() < 1e-12);
        // A constant feature gets std 1, not a division by zero.
        assert_eq!(s.stds[1], 1.0);
        let t = s.transform(&[0.0, 5.0]);
        assert!((t[0] + 1.0).abs() < 1e-12);
        assert_eq!(t[1], 0.0);
    }

    #[test]
    fn finds_and_names_four_obvious_groups() {
        let rows = groups();
        let c = cluster(&rows, 3, K, &ClusterParams::default()).unwrap();
        assert_eq!(c.counts.iter().sum::<usize>(), 80);
        assert!(c.counts.iter().all(|&n| n == 20), "{:?}", c.counts);
        let names = name_clusters(&c.centroids, &c.raw_means, &[2]).unwrap();
        // Row 0 heavy, 1 inactive, 2 email, 3 balanced.
        assert_eq!(names[c.assignments[0]], ClusterName::SuperUsers);
        assert_eq!(names[c.assignments[1]], ClusterName::Inactive);
        assert_eq!(names[c.assignments[2]], ClusterName::EmailSpecialists);
        assert_eq!(names[c.assignments[3]], ClusterName::Balanced);
        assert_eq!(standardised(&rows, 3, &c.scaler).nrows(), 80);
    }

    #[test]
    fn same_seed_same_result() {
        let rows = groups();
        let a = cluster(&rows, 3, K, &ClusterParams::default()).unwrap();
        let b = cluster(&rows, 3, K, &ClusterParams::default()).unwrap();
        assert_eq!(a.assignments, b.assignments);
    }

    #[test]
    fn too_few_distinct_rows_is_an_error() {
        let rows = [1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(
            cluster(&rows, 2, K, &ClusterParams::default()),
            Err(ClusterError::TooFewRows { distinct: 3, k: 4 })
        );
        assert!(matches!(
            cluster(&[1.0, -1.0], 2, K, &ClusterParams::default()),
            Err(ClusterError::BadInput(2))
        ));
    }

    #[test]
    fn naming_rules_by_hand() {
        // Engagement: c0 = 0, c1 = 2, c2 = -2, c3 = 0.1; email shares: c0 0.9, c3 0.1.
        let centroids = vec![
            vec![0.0, 0.0],
            vec![2.0, 2.0],
            vec![-2.0, -2.0],
            vec![0.1, 0.1],
        ];
        let raw = vec![
            vec![1.0, 9.0],
            vec![50.0, 50.0],
            vec![0.0, 0.0],
            vec![9.0, 1.0],
        ];
        let names = name_clusters(&centroids, &raw, &[1]).unwrap();
        assert_eq!(
            names,
            vec![
                ClusterName::EmailSpecialists,
                ClusterName::SuperUsers,
                ClusterName::Inactive,
                ClusterName::Balanced
            ]
        );
        assert_eq!(name_clusters(&centroids[..3], &raw[..3], &[1]), None);
        assert_eq!(nearest(&centroids, &[1.9, 2.2]), Some(1));
    }
}
