//! Market-basket association rules for "frequently bought together".
//!
//! Why hand-written: the Rust crates for this (checked on crates.io/docs.rs: `fp-growth`, last
//! release 0.1.6 in April 2021 with a few dozen downloads a month; `apriori`-style repositories
//! with no maintained release; general ML suites that bring far more than we need) are not well
//! kept, and they mine arbitrary-size frequent itemsets, while "frequently bought together" only
//! needs rules between single items. Those rules need nothing more than item counts and pair
//! co-occurrence counts, which one pass over the baskets gives; no candidate generation
//! (Apriori) or prefix tree (FP-growth) is needed.
//!
//! Measures, with `N` the number of baskets and `count(X)` the number of baskets containing `X`
//! (R. Agrawal, T. Imieliński, A. Swami, "Mining association rules between sets of items in
//! large databases", SIGMOD 1993; lift as in S. Brin, R. Motwani, J. Ullman, S. Tsur, "Dynamic
//! itemset counting and implication rules for market basket data", SIGMOD 1997):
//!
//! - `support(A→B)    = count(A∧B) / N`
//! - `confidence(A→B) = count(A∧B) / count(A)`
//! - `lift(A→B)       = confidence(A→B) / (count(B) / N) = count(A∧B)·N / (count(A)·count(B))`
//!
//! Lift above 1 means B is bought with A more often than B's own popularity would explain.
//!
//! Two entry points compute the same measures and rank the same way:
//! - [`mine_rules`]: the batch job, over all baskets;
//! - [`rank_co_purchases`]: the request-path fallback, over the co-purchase counters the platform
//!   keeps up to date on each order, for when no mined rule set exists yet.
//!
//! Rules for one antecedent are ranked by lift, then confidence, then pair count (all
//! descending), then consequent id ascending; see [`rank_cmp`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use super::cooccurrence;
use super::data::Csr;

/// Tuning of [`mine_rules`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationParams {
    /// Minimum number of baskets in which the two items appear together (absolute count, not a
    /// fraction). Pairs seen fewer times give no rule in either direction. Default 2: a single
    /// co-occurrence is anecdote, not pattern. 0 behaves as 1.
    ///
    /// Lift-first ranking favours rare pairs, so this threshold matters: on the synthetic bench
    /// data (50,000 orders, [`super::synthetic`]) the top 5 rules of the most popular product were
    /// all 2-order noise pairs (lift up to 14) at 2, and all products of its bundle at 5.
    pub min_support_count: u64,
    /// Minimum confidence of a rule, in `[0, 1]`. Default 0.0 (keep all).
    pub min_confidence: f64,
    /// At most this many rules (consequents) per antecedent, the best by the ranking. Default 20.
    pub max_rules_per_item: usize,
    /// Baskets with more distinct items than this contribute only their first
    /// `max_basket_items` distinct items, in the order the basket lists them, to pair counts.
    /// A basket of n items has n(n-1)/2 pairs, so one bulk order of 1,000 lines would add
    /// ~500,000 pairs; the cap bounds that at `max_basket_items²/2`. Item counts and `N` still
    /// count every item of every basket. Default 50.
    pub max_basket_items: usize,
}

impl Default for AssociationParams {
    fn default() -> Self {
        Self {
            min_support_count: 2,
            min_confidence: 0.0,
            max_rules_per_item: 20,
            max_basket_items: 50,
        }
    }
}

/// One rule `antecedent → consequent`; the antecedent is the key it is stored under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule<Id> {
    pub consequent: Id,
    /// Number of baskets containing both items.
    pub pair_count: u64,
    /// `pair_count / N`.
    pub support: f64,
    /// `pair_count / count(antecedent)`.
    pub confidence: f64,
    /// `confidence / (count(consequent) / N)`.
    pub lift: f64,
}

/// Rules for every antecedent that has at least one, each list ranked best first.
pub type RuleSet<Id> = BTreeMap<Id, Vec<Rule<Id>>>;

/// Builds a rule from counts. Callers guarantee `0 < pair <= a, b <= n`.
fn make_rule<Id>(consequent: Id, pair: u64, a: u64, b: u64, n: u64) -> Rule<Id> {
    let (p, a, b, n) = (pair as f64, a as f64, b as f64, n as f64);
    Rule {
        consequent,
        pair_count: pair,
        support: p / n,
        confidence: p / a,
        // p·N / (a·b): the same value as confidence / (b / N), with one rounding fewer.
        lift: (p * n) / (a * b),
    }
}

/// The ranking of rules for one antecedent: lift, confidence, pair count (descending), then
/// consequent ascending. `Less` means "ranks first".
pub fn rank_cmp<Id: Ord>(x: &Rule<Id>, y: &Rule<Id>) -> Ordering {
    y.lift
        .total_cmp(&x.lift)
        .then_with(|| y.confidence.total_cmp(&x.confidence))
        .then_with(|| y.pair_count.cmp(&x.pair_count))
        .then_with(|| x.consequent.cmp(&y.consequent))
}

/// Keeps the best `limit` rules by [`rank_cmp`], sorted best first.
fn best<Id: Ord>(mut rules: Vec<Rule<Id>>, limit: usize) -> Vec<Rule<Id>> {
    if limit == 0 {
        return Vec::new();
    }
    if rules.len() > limit {
        rules.select_nth_unstable_by(limit - 1, rank_cmp);
        rules.truncate(limit);
    }
    rules.sort_unstable_by(rank_cmp);
    rules
}

/// Mines single-item association rules `A → B` from `baskets`.
///
/// Each basket is a slice of item ids (`Vec<String>`, `&[&str]`, `Vec<u64>`...). Within one
/// basket an item counts once, however many times it is listed. Every basket counts in `N` and
/// in its items' counts; baskets with fewer than 2 distinct items add no pairs. See
/// [`AssociationParams`] for the thresholds and the per-basket cap.
///
/// Items are interned to `u32` columns and the (capped) baskets become the rows of a sparse
/// baskets x items matrix `X`; the pair counts are `XᵀX` from [`super::cooccurrence`], which
/// picks a dense or sparse layout by density (sparse shop baskets and dense user histories are
/// both linear in the pairs present; a hash map of pairs took ~200 ms on dense histories). Then
/// each antecedent's candidate list is ranked. The result does not depend on the order of the
/// baskets, except through which items the per-basket cap keeps.
pub fn mine_rules<Id, B, I>(baskets: I, params: &AssociationParams) -> RuleSet<Id>
where
    Id: Ord + Hash + Clone,
    B: AsRef<[Id]>,
    I: IntoIterator<Item = B>,
{
    let cap = params.max_basket_items;
    let min_pair = params.min_support_count.max(1);

    let mut index: HashMap<Id, u32> = HashMap::new();
    let mut vocab: Vec<Id> = Vec::new();
    let mut item_counts: Vec<u64> = Vec::new();
    // seen[i] == stamp when item i was already met in the current basket: O(1) dedupe.
    let mut seen: Vec<u32> = Vec::new();
    let mut n_baskets: u64 = 0;
    let mut distinct: Vec<u32> = Vec::new();
    // Rows of X: the capped distinct items of each basket with at least two, ascending.
    let mut indptr: Vec<usize> = vec![0];
    let mut indices: Vec<u32> = Vec::new();

    for basket in baskets {
        n_baskets += 1;
        // Basket stamps start at 1 so the initial 0 in `seen` never matches; wrapping is harmless
        // since a stale stamp only matters within one basket.
        let stamp = (n_baskets as u32).max(1);
        distinct.clear();
        for id in basket.as_ref() {
            let i = match index.get(id) {
                Some(&i) => i,
                None => {
                    let i = vocab.len() as u32;
                    index.insert(id.clone(), i);
                    vocab.push(id.clone());
                    item_counts.push(0);
                    seen.push(0);
                    i
                }
            };
            let slot = &mut seen[i as usize];
            if *slot != stamp {
                *slot = stamp;
                item_counts[i as usize] += 1;
                distinct.push(i);
            }
        }
        let kept = &distinct[..distinct.len().min(cap)];
        if kept.len() >= 2 {
            let start = indices.len();
            indices.extend_from_slice(kept);
            indices[start..].sort_unstable();
            indptr.push(indices.len());
        }
    }
    drop(index);
    drop(seen);

    let x = Csr {
        n_rows: indptr.len() - 1,
        n_cols: vocab.len(),
        values: vec![1.0; indices.len()],
        indptr,
        indices,
    };
    let pairs = cooccurrence::counts(&x);
    drop(x);

    // Rank of each interned id in `Id` order, so the id tie-break follows `Id: Ord` and not
    // first-seen order.
    let mut by_id: Vec<u32> = (0..vocab.len() as u32).collect();
    by_id.sort_unstable_by(|&x, &y| vocab[x as usize].cmp(&vocab[y as usize]));
    let mut ord_rank = vec![0u32; vocab.len()];
    for (r, &i) in by_id.iter().enumerate() {
        ord_rank[i as usize] = r as u32;
    }

    let mut out = BTreeMap::new();
    let mut rules: Vec<Rule<u32>> = Vec::new();
    for a in 0..vocab.len() {
        let count_a = item_counts[a];
        rules.clear();
        pairs.for_each_neighbour(a as u32, |b, pair| {
            if u64::from(pair) < min_pair {
                return;
            }
            let rule = make_rule(
                ord_rank[b as usize],
                u64::from(pair),
                count_a,
                item_counts[b as usize],
                n_baskets,
            );
            if rule.confidence >= params.min_confidence {
                rules.push(rule);
            }
        });
        if rules.is_empty() {
            continue;
        }
        let kept = best(std::mem::take(&mut rules), params.max_rules_per_item);
        if kept.is_empty() {
            continue;
        }
        let kept = kept
            .into_iter()
            .map(|r| Rule {
                consequent: vocab[by_id[r.consequent as usize] as usize].clone(),
                pair_count: r.pair_count,
                support: r.support,
                confidence: r.confidence,
                lift: r.lift,
            })
            .collect();
        out.insert(vocab[a].clone(), kept);
    }
    out
}

/// Ranks co-purchases of one item from stored counters: the fallback before a mined rule set
/// exists.
///
/// `item_count` is the number of orders containing the item (the antecedent), `n_baskets` the
/// number of orders, and each `co_counts` entry is `(consequent, pair_count, consequent_count)`:
/// orders containing both, and orders containing the consequent. Returns the best `limit` rules,
/// computed and ranked exactly as [`mine_rules`] does, without its thresholds (with few orders
/// anything co-bought is worth showing).
///
/// Counters updated by separate atomic `ADD`s can be briefly inconsistent (a pair counted before
/// its item). So entries with `pair_count == 0` are skipped, and the item counts and `N` are
/// raised to at least the pair count (and `N` to at least each item count), which keeps every
/// measure finite and confidence at most 1.
pub fn rank_co_purchases<Id, I>(
    item_count: u64,
    co_counts: I,
    n_baskets: u64,
    limit: usize,
) -> Vec<Rule<Id>>
where
    Id: Ord,
    I: IntoIterator<Item = (Id, u64, u64)>,
{
    let rules = co_counts
        .into_iter()
        .filter(|(_, pair, _)| *pair > 0)
        .map(|(consequent, pair, count_b)| {
            let a = item_count.max(pair);
            let b = count_b.max(pair);
            let n = n_baskets.max(a).max(b);
            make_rule(consequent, pair, a, b, n)
        })
        .collect();
    best(rules, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn assert_rule(
        r: &Rule<&str>,
        consequent: &str,
        pair: u64,
        support: f64,
        conf: f64,
        lift: f64,
    ) {
        assert_eq!(r.consequent, consequent);
        assert_eq!(r.pair_count, pair);
        assert!(
            close(r.support, support),
            "support {} != {}",
            r.support,
            support
        );
        assert!(
            close(r.confidence, conf),
            "confidence {} != {}",
            r.confidence,
            conf
        );
        assert!(close(r.lift, lift), "lift {} != {}", r.lift, lift);
    }

    /// N = 5. count(bread) = 4, count(milk) = 4, count(butter) = 2.
    /// Pairs: bread+milk 3 (baskets 1, 3, 5), bread+butter 2 (2, 3), milk+butter 1 (3).
    fn groceries() -> Vec<Vec<&'static str>> {
        vec![
            vec!["bread", "milk"],
            vec!["bread", "butter"],
            vec!["bread", "milk", "butter"],
            vec!["milk"],
            vec!["milk", "bread"],
        ]
    }

    #[test]
    fn hand_computed_example() {
        let rules = mine_rules(groceries(), &AssociationParams::default());
        // milk+butter (count 1) is below min_support_count 2: no rule either way.
        assert_eq!(rules.len(), 3);

        let bread = &rules["bread"];
        assert_eq!(bread.len(), 2);
        // bread→butter: support 2/5, confidence 2/4, lift (2/4)/(2/5) = 5/4.
        assert_rule(&bread[0], "butter", 2, 2.0 / 5.0, 2.0 / 4.0, 5.0 / 4.0);
        // bread→milk: support 3/5, confidence 3/4, lift (3/4)/(4/5) = 15/16.
        assert_rule(&bread[1], "milk", 3, 3.0 / 5.0, 3.0 / 4.0, 15.0 / 16.0);

        // butter→bread: support 2/5, confidence 2/2, lift 1/(4/5) = 5/4.
        let butter = &rules["butter"];
        assert_eq!(butter.len(), 1);
        assert_rule(&butter[0], "bread", 2, 2.0 / 5.0, 1.0, 5.0 / 4.0);

        // milk→bread: support 3/5, confidence 3/4, lift 15/16.
        let milk = &rules["milk"];
        assert_eq!(milk.len(), 1);
        assert_rule(&milk[0], "bread", 3, 3.0 / 5.0, 3.0 / 4.0, 15.0 / 16.0);
    }

    #[test]
    fn min_support_count_filters_pairs() {
        let one = AssociationParams {
            min_support_count: 1,
            ..Default::default()
        };
        let rules = mine_rules(groceries(), &one);
        // milk→butter: support 1/5, confidence 1/4, lift (1/4)/(2/5) = 5/8.
        let milk = &rules["milk"];
        assert_eq!(milk.len(), 2);
        assert_rule(&milk[1], "butter", 1, 1.0 / 5.0, 1.0 / 4.0, 5.0 / 8.0);

        let three = AssociationParams {
            min_support_count: 3,
            ..Default::default()
        };
        let rules = mine_rules(groceries(), &three);
        assert_eq!(
            rules.keys().copied().collect::<Vec<_>>(),
            vec!["bread", "milk"]
        );
        assert_eq!(rules["bread"].len(), 1);
        assert_eq!(rules["bread"][0].consequent, "milk");

        let four = AssociationParams {
            min_support_count: 4,
            ..Default::default()
        };
        assert!(mine_rules(groceries(), &four).is_empty());
    }

    #[test]
    fn min_confidence_filters_one_direction() {
        // bread→butter has confidence 1/2, butter→bread 1: only the latter passes 0.8.
        let p = AssociationParams {
            min_confidence: 0.8,
            ..Default::default()
        };
        let rules = mine_rules(groceries(), &p);
        assert_eq!(rules.keys().copied().collect::<Vec<_>>(), vec!["butter"]);
        assert_eq!(rules["butter"][0].consequent, "bread");
    }

    #[test]
    fn duplicates_in_a_basket_count_once() {
        // Same as the groceries but with repeated lines; plus ["milk","milk"], a basket of one
        // distinct item: it counts in N and count(milk) but adds no pair.
        let baskets: Vec<Vec<String>> = [
            vec!["bread", "milk", "bread"],
            vec!["bread", "butter", "butter"],
            vec!["bread", "milk", "butter", "milk"],
            vec!["milk"],
            vec!["milk", "bread", "milk"],
            vec!["milk", "milk"],
        ]
        .iter()
        .map(|b| b.iter().map(|s| s.to_string()).collect())
        .collect();
        let rules = mine_rules(&baskets, &AssociationParams::default());
        // N = 6, count(bread) = 4, count(milk) = 5, count(butter) = 2.
        // bread→milk: support 3/6, confidence 3/4, lift 3·6/(4·5) = 9/10.
        let bm = &rules["bread"][1];
        assert_eq!(bm.consequent, "milk");
        assert_eq!(bm.pair_count, 3);
        assert!(close(bm.support, 3.0 / 6.0));
        assert!(close(bm.confidence, 3.0 / 4.0));
        assert!(close(bm.lift, 9.0 / 10.0));
        // milk→bread: confidence 3/5.
        assert!(close(rules["milk"][0].confidence, 3.0 / 5.0));
        // butter→bread: 2/2, lift 2·6/(2·4) = 3/2.
        assert!(close(rules["butter"][0].confidence, 1.0));
        assert!(close(rules["butter"][0].lift, 3.0 / 2.0));
    }

    #[test]
    fn top_n_keeps_the_best_by_lift_then_confidence_then_count_then_id() {
        // N = 10, count(a) = 8. For antecedent "a":
        // c: with a 4 times, count(c) = 4 -> confidence 4/8, lift 4·10/(8·4) = 5/4
        // b: with a 2 times, count(b) = 2 -> confidence 2/8, lift 2·10/(8·2) = 5/4
        // d: with a 2 times, count(d) = 2 -> same measures as b; b < d, so b first
        // e: with a 2 times, count(e) = 4 -> confidence 2/8, lift 2·10/(8·4) = 5/8
        let baskets: Vec<Vec<&str>> = vec![
            vec!["a", "c", "b", "e"],
            vec!["a", "c", "b", "e"],
            vec!["a", "c", "d"],
            vec!["a", "c", "d"],
            vec!["a"],
            vec!["a"],
            vec!["a"],
            vec!["a"],
            vec!["e"],
            vec!["e"],
        ];
        let all = mine_rules(&baskets, &AssociationParams::default());
        let a: Vec<&str> = all["a"].iter().map(|r| r.consequent).collect();
        assert_eq!(a, vec!["c", "b", "d", "e"]);
        assert!(close(all["a"][0].lift, 5.0 / 4.0));
        assert!(close(all["a"][0].confidence, 4.0 / 8.0));
        assert!(close(all["a"][1].lift, 5.0 / 4.0));
        assert!(close(all["a"][1].confidence, 2.0 / 8.0));
        assert!(close(all["a"][3].lift, 5.0 / 8.0));

        let two = AssociationParams {
            max_rules_per_item: 2,
            ..Default::default()
        };
        let top = mine_rules(&baskets, &two);
        let a: Vec<&str> = top["a"].iter().map(|r| r.consequent).collect();
        assert_eq!(a, vec!["c", "b"]);

        let zero = AssociationParams {
            max_rules_per_item: 0,
            ..Default::default()
        };
        assert!(mine_rules(&baskets, &zero).is_empty());
    }

    #[test]
    fn empty_input_gives_no_rules() {
        let none: Vec<Vec<String>> = Vec::new();
        assert!(mine_rules(&none, &AssociationParams::default()).is_empty());
        let singles = vec![vec!["a"], vec!["b"], vec![]];
        assert!(mine_rules(&singles, &AssociationParams::default()).is_empty());
    }

    #[test]
    fn large_baskets_are_capped_to_their_first_distinct_items() {
        // With a cap of 2, the basket [x, x, y, z] contributes only the pair x+y.
        let baskets = vec![vec!["x", "x", "y", "z"], vec!["x", "x", "y", "z"]];
        let p = AssociationParams {
            max_basket_items: 2,
            ..Default::default()
        };
        let rules = mine_rules(&baskets, &p);
        assert_eq!(rules.keys().copied().collect::<Vec<_>>(), vec!["x", "y"]);
        // Item counts still see z: count(z) = 2, but z has no pair.
        assert_eq!(rules["x"][0].consequent, "y");
        assert!(close(rules["x"][0].support, 1.0));
    }

    #[test]
    fn order_of_baskets_does_not_matter() {
        let mut reversed = groceries();
        reversed.reverse();
        let p = AssociationParams {
            min_support_count: 1,
            ..Default::default()
        };
        assert_eq!(mine_rules(groceries(), &p), mine_rules(&reversed, &p));
    }

    #[test]
    fn co_purchase_fallback_matches_mining() {
        // The counters the platform would hold for "bread" after the groceries orders.
        let ranked = rank_co_purchases(4, vec![("milk", 3, 4), ("butter", 2, 2)], 5, 10);
        assert_eq!(ranked.len(), 2);
        assert_rule(&ranked[0], "butter", 2, 2.0 / 5.0, 2.0 / 4.0, 5.0 / 4.0);
        assert_rule(&ranked[1], "milk", 3, 3.0 / 5.0, 3.0 / 4.0, 15.0 / 16.0);

        let mined = mine_rules(groceries(), &AssociationParams::default());
        assert_eq!(ranked, mined["bread"]);

        let one = rank_co_purchases(4, vec![("milk", 3, 4), ("butter", 2, 2)], 5, 1);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].consequent, "butter");
    }

    #[test]
    fn co_purchase_fallback_tolerates_inconsistent_counters() {
        // Pair counted before its items and before N: counts are raised to the pair count.
        let r = rank_co_purchases(0, vec![("b", 2, 1), ("c", 0, 5)], 0, 10);
        assert_eq!(r.len(), 1);
        assert_rule(&r[0], "b", 2, 1.0, 1.0, 1.0);
        assert!(rank_co_purchases::<&str, _>(3, Vec::new(), 9, 5).is_empty());
    }

    /// The miner before `cooccurrence` (one hash map of pairs), kept as the reference the new
    /// one must match rule for rule.
    /// Mines single-item association rules `A → B` from `baskets`.
    ///
    /// Each basket is a slice of item ids (`Vec<String>`, `&[&str]`, `Vec<u64>`...). Within one
    /// basket an item counts once, however many times it is listed. Every basket counts in `N` and
    /// in its items' counts; baskets with fewer than 2 distinct items add no pairs. See
    /// [`AssociationParams`] for the thresholds and the per-basket cap.
    ///
    /// Pairs are counted on interned `u32` ids in one hash map, so the cost is linear in the number of
    /// (capped) pairs, plus a sort of each antecedent's candidate list. The result does not depend on
    /// the order of the baskets, except through which items the per-basket cap keeps.
    fn mine_rules_pair_hash<Id, B, I>(baskets: I, params: &AssociationParams) -> RuleSet<Id>
    where
        Id: Ord + Hash + Clone,
        B: AsRef<[Id]>,
        I: IntoIterator<Item = B>,
    {
        let cap = params.max_basket_items;
        let min_pair = params.min_support_count.max(1);

        let mut index: HashMap<Id, u32> = HashMap::new();
        let mut vocab: Vec<Id> = Vec::new();
        let mut item_counts: Vec<u64> = Vec::new();
        // seen[i] == stamp when item i was already met in the current basket: O(1) dedupe.
        let mut seen: Vec<u32> = Vec::new();
        let mut pairs: HashMap<u64, u32> = HashMap::new();
        let mut n_baskets: u64 = 0;
        let mut distinct: Vec<u32> = Vec::new();

        for basket in baskets {
            n_baskets += 1;
            // Basket stamps start at 1 so the initial 0 in `seen` never matches; wrapping is harmless
            // since a stale stamp only matters within one basket.
            let stamp = (n_baskets as u32).max(1);
            distinct.clear();
            for id in basket.as_ref() {
                let i = match index.get(id) {
                    Some(&i) => i,
                    None => {
                        let i = vocab.len() as u32;
                        index.insert(id.clone(), i);
                        vocab.push(id.clone());
                        item_counts.push(0);
                        seen.push(0);
                        i
                    }
                };
                let slot = &mut seen[i as usize];
                if *slot != stamp {
                    *slot = stamp;
                    item_counts[i as usize] += 1;
                    distinct.push(i);
                }
            }
            let kept = &distinct[..distinct.len().min(cap)];
            for (p, &x) in kept.iter().enumerate() {
                for &y in &kept[p + 1..] {
                    let (lo, hi) = if x < y { (x, y) } else { (y, x) };
                    *pairs
                        .entry((u64::from(lo) << 32) | u64::from(hi))
                        .or_insert(0) += 1;
                }
            }
        }
        drop(index);
        drop(seen);

        // Candidate consequents per antecedent, on interned ids.
        let mut adjacency: Vec<Vec<(u32, u32)>> = vec![Vec::new(); vocab.len()];
        for (&key, &count) in &pairs {
            if u64::from(count) < min_pair {
                continue;
            }
            let (lo, hi) = ((key >> 32) as u32, key as u32);
            adjacency[lo as usize].push((hi, count));
            adjacency[hi as usize].push((lo, count));
        }
        drop(pairs);

        // Rank of each interned id in `Id` order, so the id tie-break follows `Id: Ord` and not
        // first-seen order.
        let mut by_id: Vec<u32> = (0..vocab.len() as u32).collect();
        by_id.sort_unstable_by(|&x, &y| vocab[x as usize].cmp(&vocab[y as usize]));
        let mut ord_rank = vec![0u32; vocab.len()];
        for (r, &i) in by_id.iter().enumerate() {
            ord_rank[i as usize] = r as u32;
        }

        let mut out = BTreeMap::new();
        for (a, candidates) in adjacency.into_iter().enumerate() {
            if candidates.is_empty() {
                continue;
            }
            let count_a = item_counts[a];
            let rules: Vec<Rule<u32>> = candidates
                .into_iter()
                .map(|(b, pair)| {
                    make_rule(
                        ord_rank[b as usize],
                        u64::from(pair),
                        count_a,
                        item_counts[b as usize],
                        n_baskets,
                    )
                })
                .filter(|r| r.confidence >= params.min_confidence)
                .collect();
            let rules = best(rules, params.max_rules_per_item);
            if rules.is_empty() {
                continue;
            }
            let rules = rules
                .into_iter()
                .map(|r| Rule {
                    consequent: vocab[by_id[r.consequent as usize] as usize].clone(),
                    pair_count: r.pair_count,
                    support: r.support,
                    confidence: r.confidence,
                    lift: r.lift,
                })
                .collect();
            out.insert(vocab[a].clone(), rules);
        }
        out
    }

    fn synthetic_orders(orders: usize, products: usize) -> Vec<Vec<String>> {
        crate::reco::synthetic::generate_orders(&crate::reco::synthetic::OrderGenConfig {
            orders,
            products,
            ..Default::default()
        })
    }

    #[test]
    fn same_rules_as_the_pair_hash_miner() {
        let params = [
            AssociationParams::default(),
            AssociationParams {
                min_support_count: 1,
                ..Default::default()
            },
            AssociationParams {
                min_support_count: 3,
                min_confidence: 0.1,
                max_rules_per_item: 5,
                max_basket_items: 3,
            },
        ];
        let top: Vec<Vec<&str>> = vec![
            vec!["a", "c", "b", "e"],
            vec!["a", "c", "b", "e"],
            vec!["a", "c", "d"],
            vec!["a"],
            vec!["e", "e"],
        ];
        for p in &params {
            assert_eq!(mine_rules(groceries(), p), mine_rules_pair_hash(groceries(), p));
            assert_eq!(mine_rules(&top, p), mine_rules_pair_hash(&top, p));
            // Sparse shop baskets (sparse layout) and a small dense catalogue (dense layout).
            for (orders, products) in [(3_000, 2_000), (3_000, 40)] {
                let baskets = synthetic_orders(orders, products);
                let got = mine_rules(&baskets, p);
                assert!(!got.is_empty());
                assert_eq!(got, mine_rules_pair_hash(&baskets, p));
            }
        }
    }
}
