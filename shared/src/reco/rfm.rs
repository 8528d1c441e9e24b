//! RFM customer segmentation (spec 002 "Customer Segmentation"): per-customer recency,
//! frequency and monetary value from orders, clustered with the shared k-means pipeline of
//! [`super::clusters::cluster`] (`ln(1 + x)` scaling, standardisation, linfa k-means++ with
//! seeded restarts: the same code as the classroom clusters), each cluster named from its
//! centroid's R, F and M scores with the standard RFM segment names.
//!
//! Scores: a centroid's raw value gets the percentile rank `p` in [0, 1] of that value among all
//! customers (fraction strictly below, plus half the ties), and the score `1 + 4p` (recency
//! inverted: `1 + 4(1 - p)`, recent is good), so scores run 1-5 as in the usual quintile RFM
//! grid, but continuous. Naming: the usual grid of R against the mean of F and M ("FM") has a
//! prototype point per name ([`NAMES`]); clusters get distinct names by greedy matching of the
//! closest (cluster, prototype) pairs in the (R, FM) plane, ties broken by cluster index then
//! name order, so a run is deterministic.
//!
//! Silhouette ([`silhouette`]): the mean of `(b - a) / max(a, b)` over a seeded sample of rows
//! (exact silhouette is quadratic in the rows), in the standardised space.

use std::collections::HashMap;

use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::Serialize;

use super::clusters::{self, ClusterError, ClusterParams};

/// One customer's figures over the lookback window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmRow {
    pub customer: String,
    /// Days since the latest order (fractional).
    pub recency_days: f64,
    /// Orders in the window.
    pub frequency: f64,
    /// Spend in the window, currency units.
    pub monetary: f64,
}

/// An order as RFM reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFact {
    pub customer: String,
    /// Epoch seconds.
    pub at: i64,
    pub cents: i64,
}

/// Per-customer figures of the orders placed in the `lookback_days` before `now` (customers in
/// first-appearance order).
pub fn aggregate(orders: &[OrderFact], now: i64, lookback_days: u32) -> Vec<RfmRow> {
    let since = now - i64::from(lookback_days) * 86_400;
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut acc: Vec<(String, i64, u64, i64)> = Vec::new();
    for o in orders.iter().filter(|o| o.at >= since && o.at <= now) {
        let i = *index.entry(o.customer.as_str()).or_insert_with(|| {
            acc.push((o.customer.clone(), o.at, 0, 0));
            acc.len() - 1
        });
        if let Some(a) = acc.get_mut(i) {
            a.1 = a.1.max(o.at);
            a.2 += 1;
            a.3 += o.cents;
        }
    }
    acc.into_iter()
        .map(|(customer, last, n, cents)| RfmRow {
            customer,
            recency_days: (now - last).max(0) as f64 / 86_400.0,
            frequency: n as f64,
            monetary: cents.max(0) as f64 / 100.0,
        })
        .collect()
}

/// The standard RFM names and their prototype (R, FM) scores.
pub const NAMES: [(&str, f64, f64); 11] = [
    ("Champions", 4.7, 4.7),
    ("Loyal Customers", 3.5, 4.3),
    ("Potential Loyalists", 4.3, 3.0),
    ("New Customers", 4.8, 1.2),
    ("Promising", 4.0, 1.9),
    ("Need Attention", 3.0, 3.0),
    ("About to Sleep", 2.6, 1.8),
    ("At-Risk", 1.8, 3.8),
    ("Can't Lose Them", 1.2, 4.8),
    ("Hibernating", 1.8, 2.2),
    ("Lost", 1.0, 1.0),
];

/// Distinct names for clusters with these (R, FM) scores (see the module docs).
pub fn name_clusters(scores: &[(f64, f64)]) -> Vec<&'static str> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (c, (r, fm)) in scores.iter().enumerate() {
        for (n, (_, pr, pfm)) in NAMES.iter().enumerate() {
            pairs.push(((r - pr).powi(2) + (fm - pfm).powi(2), c, n));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out: Vec<Option<&'static str>> = vec![None; scores.len()];
    let mut used = [false; NAMES.len()];
    for (_, c, n) in pairs {
        if out[c].is_none() && !used[n] {
            out[c] = Some(NAMES[n].0);
            used[n] = true;
        }
    }
    out.into_iter().map(|n| n.unwrap_or("Customers")).collect()
}

/// Percentile rank of `x` in the sorted `values`: fraction below plus half the ties.
fn percentile(sorted: &[f64], x: f64) -> f64 {
    if sorted.is_empty() {
        return 0.5;
    }
    let below = sorted.partition_point(|v| *v < x);
    let upto = sorted.partition_point(|v| *v <= x);
    (below as f64 + (upto - below) as f64 / 2.0) / sorted.len() as f64
}

/// A range of raw values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Span {
    pub min: f64,
    pub max: f64,
}

/// One named cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmCluster {
    pub name: &'static str,
    pub size: usize,
    /// Mean raw recency (days), frequency and monetary of its customers.
    pub mean: [f64; 3],
    pub recency_days: Span,
    pub frequency: Span,
    pub monetary: Span,
    /// Scores 1-5 of the centroid: R, F, M.
    pub scores: [f64; 3],
}

/// The result of [`segment`].
#[derive(Debug, Clone, PartialEq)]
pub struct RfmSegmentation {
    pub clusters: Vec<RfmCluster>,
    /// Cluster of each input row.
    pub assignments: Vec<usize>,
    /// Mean squared distance to the centroid (standardised space).
    pub inertia: f64,
    /// The k-means part alone (scaling, fit, assignment), milliseconds.
    pub kmeans_ms: f64,
    /// Standardised rows (for [`silhouette`]).
    pub scaled: Vec<Vec<f64>>,
}

/// Clusters `rows` into `k` named clusters.
pub fn segment(
    rows: &[RfmRow],
    k: usize,
    params: &ClusterParams,
) -> Result<RfmSegmentation, ClusterError> {
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| [r.recency_days, r.frequency, r.monetary])
        .collect();
    let started = std::time::Instant::now();
    let c = clusters::cluster(&flat, 3, k, params)?;
    let kmeans_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut sorted: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for r in rows {
        sorted[0].push(r.recency_days);
        sorted[1].push(r.frequency);
        sorted[2].push(r.monetary);
    }
    for s in &mut sorted {
        s.sort_by(f64::total_cmp);
    }
    let mut spans = vec![[(f64::INFINITY, f64::NEG_INFINITY); 3]; k];
    for (r, &a) in rows.iter().zip(&c.assignments) {
        if let Some(sp) = spans.get_mut(a) {
            for (s, v) in sp.iter_mut().zip([r.recency_days, r.frequency, r.monetary]) {
                s.0 = s.0.min(v);
                s.1 = s.1.max(v);
            }
        }
    }
    let scores: Vec<[f64; 3]> = c
        .raw_means
        .iter()
        .map(|m| {
            let p = |i: usize| percentile(&sorted[i], m.get(i).copied().unwrap_or(0.0));
            [1.0 + 4.0 * (1.0 - p(0)), 1.0 + 4.0 * p(1), 1.0 + 4.0 * p(2)]
        })
        .collect();
    let names = name_clusters(
        &scores
            .iter()
            .map(|s| (s[0], (s[1] + s[2]) / 2.0))
            .collect::<Vec<_>>(),
    );
    let span = |(lo, hi): (f64, f64)| {
        if lo.is_finite() {
            Span { min: lo, max: hi }
        } else {
            Span { min: 0.0, max: 0.0 }
        }
    };
    let clusters = (0..k)
        .map(|i| RfmCluster {
            name: names.get(i).copied().unwrap_or("Customers"),
            size: c.counts.get(i).copied().unwrap_or(0),
            mean: {
                let m = c.raw_means.get(i).cloned().unwrap_or_default();
                [
                    m.first().copied().unwrap_or(0.0),
                    m.get(1).copied().unwrap_or(0.0),
                    m.get(2).copied().unwrap_or(0.0),
                ]
            },
            recency_days: span(spans[i][0]),
            frequency: span(spans[i][1]),
            monetary: span(spans[i][2]),
            scores: scores.get(i).copied().unwrap_or([0.0; 3]),
        })
        .collect();
    let scaled = rows
        .iter()
        .map(|r| {
            c.scaler
                .transform(&[r.recency_days, r.frequency, r.monetary])
        })
        .collect();
    Ok(RfmSegmentation {
        clusters,
        assignments: c.assignments,
        inertia: c.inertia,
        kmeans_ms,
        scaled,
    })
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Mean silhouette of up to `sample` rows (seeded), against all rows; 0 when undefined (one
/// cluster, or fewer than 2 rows).
pub fn silhouette(
    points: &[Vec<f64>],
    labels: &[usize],
    k: usize,
    sample: usize,
    seed: u64,
) -> f64 {
    if points.len() < 2 || k < 2 || labels.len() != points.len() {
        return 0.0;
    }
    let mut idx: Vec<usize> = (0..points.len()).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    idx.truncate(sample.max(1));
    let mut total = 0.0;
    let mut n = 0usize;
    for &i in &idx {
        let mut sums = vec![0.0; k];
        let mut counts = vec![0usize; k];
        for (j, p) in points.iter().enumerate() {
            if j != i
                && let Some(&l) = labels.get(j)
                && l < k
            {
                sums[l] += dist(&points[i], p);
                counts[l] += 1;
            }
        }
        let own = labels[i];
        if own >= k || counts[own] == 0 {
            continue;
        }
        let a = sums[own] / counts[own] as f64;
        let b = (0..k)
            .filter(|&l| l != own && counts[l] > 0)
            .map(|l| sums[l] / counts[l] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            let m = a.max(b);
            total += if m > 0.0 { (b - a) / m } else { 0.0 };
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { total / n as f64 }
}

/// A seeded synthetic population for benchmarks and the demo: `customers` customers and about
/// `orders` orders over the year before `now`, in four behaviours (frequent big spenders,
/// regulars, one-off recent buyers, lapsed), amounts log-normal-ish.
pub fn synthetic_orders(customers: usize, orders: usize, now: i64, seed: u64) -> Vec<OrderFact> {
    use rand::Rng;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(orders);
    let per = (orders as f64 / customers.max(1) as f64).max(1.0);
    // The four kinds are equally likely and their mean counts are 3a, 1.2a, 1 and 0.6a: a is
    // chosen so that a customer places `per` orders on average (about `orders` in all).
    let a = ((4.0 * per - 1.0) / 4.8).max(0.25);
    for c in 0..customers {
        let kind = rng.random_range(0..4u8);
        let (n_mean, max_age_days, amount) = match kind {
            0 => (a * 3.0, 60.0, 250.0),
            1 => (a * 1.2, 180.0, 80.0),
            2 => (1.0, 30.0, 40.0),
            _ => (a * 0.6, 365.0, 60.0),
        };
        let n = (n_mean * rng.random_range(0.5..1.5)).round().max(1.0) as usize;
        let lapse: f64 = if kind == 3 { 180.0 } else { 0.0 };
        for _ in 0..n {
            let age = lapse + rng.random_range(0.0..(max_age_days - lapse).max(1.0));
            let cents = (amount * rng.random_range(0.3f64..3.0) * 100.0).round() as i64;
            out.push(OrderFact {
                customer: format!("c{c:06}"),
                at: now - (age * 86_400.0) as i64,
                cents,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn synthetic_orders_come_near_the_asked_count() {
        for (customers, orders) in [(25_000, 70_000), (2_000, 10_000), (500, 5_000)] {
            let got = synthetic_orders(customers, orders, 1_000 * 86_400, 7);
            let n = got.len() as f64;
            assert!(
                (n / orders as f64 - 1.0).abs() < 0.1,
                "{customers} x {orders}: {n}"
            );
            let distinct: std::collections::HashSet<&str> =
                got.iter().map(|o| o.customer.as_str()).collect();
            assert_eq!(distinct.len(), customers);
        }
    }

    #[test]
    fn aggregate_counts_the_window_only() {
        let now = 100 * 86_400;
        let o = |c: &str, day: i64, cents| OrderFact {
            customer: c.into(),
            at: day * 86_400,
            cents,
        };
        let rows = aggregate(
            &[
                o("a", 95, 1000),
                o("a", 98, 2550),
                o("b", 10, 500),
                o("b", 60, 700),
            ],
            now,
            50,
        );
        assert_eq!(
            rows,
            vec![
                RfmRow {
                    customer: "a".into(),
                    recency_days: 2.0,
                    frequency: 2.0,
                    monetary: 35.5
                },
                RfmRow {
                    customer: "b".into(),
                    recency_days: 40.0,
                    frequency: 1.0,
                    monetary: 7.0
                },
            ]
        );
    }

    #[test]
    fn names_follow_the_grid_and_are_distinct() {
        assert_eq!(
            name_clusters(&[(5.0, 5.0), (1.0, 1.0), (3.0, 3.0)]),
            ["Champions", "Lost", "Need Attention"]
        );
        // Two clusters nearest to Champions: the closer keeps it, the other gets its next best.
        assert_eq!(
            name_clusters(&[(4.6, 4.6), (4.9, 4.9)]),
            ["Champions", "Loyal Customers"]
        );
        assert_eq!(name_clusters(&[(1.1, 4.9)]), ["Can't Lose Them"]);
        assert_eq!(name_clusters(&[(4.9, 1.1)]), ["New Customers"]);
        assert_eq!(name_clusters(&[(1.8, 3.9)]), ["At-Risk"]);
    }

    #[test]
    fn percentile_ranks_count_half_the_ties() {
        let v = [1.0, 2.0, 2.0, 3.0];
        assert_eq!(percentile(&v, 2.0), 0.5);
        assert_eq!(percentile(&v, 0.0), 0.0);
        assert_eq!(percentile(&v, 9.0), 1.0);
    }

    #[test]
    fn two_obvious_groups_are_found_and_named() {
        // 20 recent, frequent big spenders and 20 lapsed one-off small buyers.
        let mut rows = Vec::new();
        for i in 0..20 {
            rows.push(RfmRow {
                customer: format!("vip{i}"),
                recency_days: 2.0 + i as f64 * 0.1,
                frequency: 12.0,
                monetary: 2000.0 + i as f64,
            });
            rows.push(RfmRow {
                customer: format!("gone{i}"),
                recency_days: 300.0 + i as f64,
                frequency: 1.0,
                monetary: 15.0,
            });
        }
        let s = segment(&rows, 2, &ClusterParams::default()).unwrap();
        let vip = s.assignments[0];
        assert!(s.assignments.iter().step_by(2).all(|a| *a == vip));
        assert!(s.assignments.iter().skip(1).step_by(2).all(|a| *a != vip));
        assert_eq!(s.clusters[vip].size, 20);
        assert_eq!(
            s.clusters[vip].frequency,
            Span {
                min: 12.0,
                max: 12.0
            }
        );
        // Scores by hand. VIP centroid: recency 2.95 has 10 of the 40 customers below it
        // (p = 0.25, R = 1 + 4 * 0.75 = 4); frequency 12 ties with 20 above the 20 lapsed
        // (p = (20 + 10) / 40 = 0.75, F = 4); monetary 2009.5 has 20 + 10 below (M = 4).
        // Lapsed centroid: R = 1 + 4 * (1 - 0.75) = 2, F = M = 1 + 4 * 0.25 = 2.
        let close = |a: [f64; 3], b: [f64; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9);
        assert!(
            close(s.clusters[vip].scores, [4.0, 4.0, 4.0]),
            "{:?}",
            s.clusters[vip].scores
        );
        assert!(close(s.clusters[1 - vip].scores, [2.0, 2.0, 2.0]));
        // (4, 4) is nearest Loyal Customers (0.34 against Champions' 0.98); (2, 2) Hibernating.
        assert_eq!(s.clusters[vip].name, "Loyal Customers");
        assert_eq!(s.clusters[1 - vip].name, "Hibernating");
        let sil = silhouette(&s.scaled, &s.assignments, 2, 100, 1);
        assert!(sil > 0.9, "{sil}");
        assert!(matches!(
            segment(&rows[..1], 2, &ClusterParams::default()),
            Err(ClusterError::TooFewRows { .. })
        ));
    }

    #[test]
    fn silhouette_by_hand() {
        // Two points at 0 and 1 in cluster 0, one at 10 in cluster 1.
        let p = vec![vec![0.0], vec![1.0], vec![10.0]];
        let l = [0, 0, 1];
        // s(0) = (10 - 1) / 10 = 0.9; s(1) = (9 - 1) / 9; s(2): a undefined (alone) -> skipped.
        let expected = (0.9 + 8.0 / 9.0) / 2.0;
        assert!((silhouette(&p, &l, 2, 10, 7) - expected).abs() < 1e-12);
    }
}
