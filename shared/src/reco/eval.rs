//! Offline evaluation: a time-based holdout and the ranking metrics at k.
//!
//! Holdout: each user's most recent `test_fraction` of interactions (at least one, when the
//! user has two or more; a user with one interaction stays in training) form the test set.
//! Metrics use binary relevance: an item is relevant to a user when it is in the user's test
//! set and not in their training history (items a user already has are never recommended).
//!
//! - `precision@k = hits / k`
//! - `recall@k    = hits / |relevant|`
//! - `ndcg@k      = DCG / IDCG`, `DCG = Σ 1 / log2(rank + 1)` over hits (rank from 1), IDCG the
//!   DCG of `min(|relevant|, k)` hits at the top
//! - `hit_rate@k  = 1` when there is any hit
//! - `map@k       = Σ precision@rank over hits / min(|relevant|, k)`
//!
//! each averaged over the evaluated users (those with at least one relevant item), and
//! `coverage` = distinct recommended items / items in the catalogue.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{Dataset, Interaction};

/// Splits `interactions` into (train, test) by time per user (see the module docs).
/// Ties in time keep the input order. `test_fraction` is clamped to `[0, 1]`.
pub fn time_holdout(
    interactions: &[Interaction],
    test_fraction: f64,
) -> (Vec<Interaction>, Vec<Interaction>) {
    let frac = if test_fraction.is_finite() {
        test_fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut by_user: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, it) in interactions.iter().enumerate() {
        by_user.entry(it.user.as_str()).or_default().push(i);
    }
    let mut is_test = vec![false; interactions.len()];
    for rows in by_user.values_mut() {
        if rows.len() < 2 || frac == 0.0 {
            continue;
        }
        rows.sort_by_key(|&i| (interactions[i].timestamp, i));
        let n_test = ((rows.len() as f64 * frac).round() as usize).clamp(1, rows.len() - 1);
        for &i in &rows[rows.len() - n_test..] {
            is_test[i] = true;
        }
    }
    let mut train = Vec::with_capacity(interactions.len());
    let mut test = Vec::new();
    for (it, t) in interactions.iter().zip(is_test) {
        if t {
            test.push(it.clone());
        } else {
            train.push(it.clone());
        }
    }
    (train, test)
}

/// Ranking metrics at `k`, averaged over `users_evaluated` users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub k: usize,
    pub users_evaluated: usize,
    pub precision: f64,
    pub recall: f64,
    pub ndcg: f64,
    pub hit_rate: f64,
    pub map: f64,
    pub coverage: f64,
}

/// One user's (precision, recall, ndcg, hit, average precision).
pub type UserMetrics = (f64, f64, f64, f64, f64);

/// The metrics of one ranked list against one relevant set.
pub fn rank_metrics(ranked: &[u32], relevant: &HashSet<u32>, k: usize) -> UserMetrics {
    if k == 0 || relevant.is_empty() {
        return (0.0, 0.0, 0.0, 0.0, 0.0);
    }
    let mut hits = 0usize;
    let mut dcg = 0.0;
    let mut ap = 0.0;
    for (rank0, item) in ranked.iter().take(k).enumerate() {
        if relevant.contains(item) {
            hits += 1;
            dcg += 1.0 / ((rank0 + 2) as f64).log2();
            ap += hits as f64 / (rank0 + 1) as f64;
        }
    }
    let ideal = relevant.len().min(k);
    let idcg: f64 = (0..ideal).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
    (
        hits as f64 / k as f64,
        hits as f64 / relevant.len() as f64,
        dcg / idcg,
        if hits > 0 { 1.0 } else { 0.0 },
        ap / ideal as f64,
    )
}

/// Evaluates `recommend` (history -> ranked item columns, best first) for every test user who
/// has a relevant item: their training history comes from `train`, their relevant items from
/// `test` (mapped through `train`'s item columns; items unknown to it cannot be hit but still
/// count as relevant). Users absent from training get an empty history.
pub fn evaluate<F>(train: &Dataset, test: &[Interaction], k: usize, recommend: F) -> Metrics
where
    F: Fn(&[(u32, f32)]) -> Vec<u32> + Sync,
{
    // Relevant sets per user; unknown items get ids past the catalogue so they never match.
    let mut relevant: HashMap<&str, HashSet<u32>> = HashMap::new();
    let mut unknown: HashMap<&str, u32> = HashMap::new();
    let n_items = train.n_items() as u32;
    for it in test {
        let col = match train.items.get(&it.item) {
            Some(c) => c,
            None => {
                let next = n_items + unknown.len() as u32;
                *unknown.entry(it.item.as_str()).or_insert(next)
            }
        };
        relevant.entry(it.user.as_str()).or_default().insert(col);
    }
    let users: Vec<(&str, HashSet<u32>)> = relevant
        .into_iter()
        .filter_map(|(u, mut rel)| {
            if let Some(row) = train.users.get(u) {
                let (cols, _) = train.user_items.row(row as usize);
                for c in cols {
                    rel.remove(c);
                }
            }
            (!rel.is_empty()).then_some((u, rel))
        })
        .collect();
    let per_user: Vec<(UserMetrics, Vec<u32>)> = users
        .par_iter()
        .map(|(u, rel)| {
            let history = train
                .users
                .get(u)
                .map(|row| train.user_items.row_pairs(row as usize))
                .unwrap_or_default();
            let mut ranked = recommend(&history);
            ranked.truncate(k);
            (rank_metrics(&ranked, rel, k), ranked)
        })
        .collect();
    let n = per_user.len();
    if n == 0 {
        return Metrics {
            k,
            ..Metrics::default()
        };
    }
    let mut sums = [0.0f64; 5];
    let mut seen: HashSet<u32> = HashSet::new();
    for ((p, r, nd, h, ap), ranked) in &per_user {
        for (s, v) in sums.iter_mut().zip([p, r, nd, h, ap]) {
            *s += v;
        }
        seen.extend(ranked.iter().copied());
    }
    let nf = n as f64;
    Metrics {
        k,
        users_evaluated: n,
        precision: sums[0] / nf,
        recall: sums[1] / nf,
        ndcg: sums[2] / nf,
        hit_rate: sums[3] / nf,
        map: sums[4] / nf,
        coverage: if n_items == 0 {
            0.0
        } else {
            seen.len() as f64 / n_items as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(u: &str, i: &str, t: i64) -> Interaction {
        Interaction {
            user: u.into(),
            item: i.into(),
            weight: 1.0,
            timestamp: t,
        }
    }

    #[test]
    fn holdout_takes_each_users_latest_fifth() {
        let mut all: Vec<Interaction> = (0..10)
            .map(|t| it("a", &format!("i{t}"), 100 - t))
            .collect();
        all.push(it("b", "x", 1));
        all.push(it("c", "y", 1));
        all.push(it("c", "z", 2));
        let (train, test) = time_holdout(&all, 0.2);
        let test_a: Vec<&str> = test
            .iter()
            .filter(|i| i.user == "a")
            .map(|i| i.item.as_str())
            .collect();
        // a's latest two (t = 100, 99) are i0, i1.
        assert_eq!(test_a, vec!["i0", "i1"]);
        // b has one interaction: all in train; c has two: one in test (the later).
        assert!(train.iter().any(|i| i.user == "b"));
        assert_eq!(test.iter().filter(|i| i.user == "c").count(), 1);
        assert_eq!(
            test.iter().find(|i| i.user == "c").map(|i| i.item.as_str()),
            Some("z")
        );
        assert_eq!(train.len() + test.len(), all.len());
    }

    #[test]
    fn rank_metrics_by_hand() {
        let rel: HashSet<u32> = [1, 3].into_iter().collect();
        // ranked 1 (hit at rank 1), 2, 3 (hit at rank 3), k = 3
        let (p, r, ndcg, hit, ap) = rank_metrics(&[1, 2, 3], &rel, 3);
        assert!((p - 2.0 / 3.0).abs() < 1e-12);
        assert!((r - 1.0).abs() < 1e-12);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((ndcg - dcg / idcg).abs() < 1e-12);
        assert_eq!(hit, 1.0);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(rank_metrics(&[2, 4], &rel, 2), (0.0, 0.0, 0.0, 0.0, 0.0));
    }

    #[test]
    fn evaluate_skips_training_items_and_counts_coverage() {
        let train = Dataset::from_interactions(
            &[it("u", "a", 1), it("u", "b", 2), it("v", "c", 1)],
            Some(&["a".into(), "b".into(), "c".into(), "d".into()]),
        );
        // u's test: a (already in train: not relevant) and d; v's test: only c (in train): skipped.
        let test = vec![it("u", "a", 5), it("u", "d", 6), it("v", "c", 9)];
        let m = evaluate(&train, &test, 2, |_h| vec![3, 2]);
        assert_eq!(m.users_evaluated, 1);
        assert!((m.precision - 0.5).abs() < 1e-12);
        assert!((m.recall - 1.0).abs() < 1e-12);
        assert!((m.ndcg - 1.0).abs() < 1e-12);
        assert!((m.coverage - 0.5).abs() < 1e-12);
    }
}
