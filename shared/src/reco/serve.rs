//! Serving rules of the recommendation lists (issue 13, part 2): pure functions, no I/O.
//!
//! The plumbing (`shared::domain::recommendations`) asks each candidate source (a model in
//! memory, FBT rules, popularity) for its best items, then calls in here:
//!
//! 1. [`blend`]: each source's scores are **min-max normalised within its own candidate list**
//!    (`(x - min) / (max - min)`; a list whose scores are all equal, e.g. one candidate, counts
//!    every candidate as 1), multiplied by the source's weight (the active `hybrid` config, or the
//!    experiment arm's), summed per item, and divided by the sum of the weights of the sources
//!    that proposed anything, so the score is in `[0, 1]`. A `boost_only` source only adds to
//!    the items the other sources proposed. The same normalisation as
//!    [`super::hybrid`] (there over every item, here over the candidates). An item's `algorithm`
//!    is the source that contributed most to its score (ties: the first source given), its
//!    `reason` and context (the history or cart product it is relative to) come from that source.
//! 2. [`allowed`]: the exclusions: never an inactive product, an out-of-stock one, one the
//!    caller bought (unless its category is flagged consumable), said "not interested" to, has in
//!    the cart, or the list is about; a personal list also leaves out what the caller already
//!    interacted with (as every model's `recommend` does).
//! 3. [`rescore_with_ranker`]: when a `ranker` model is in force, its log-odds (logistic, so
//!    in `[0, 1]`) and the blend score are averaged; candidates the ranker did not score keep
//!    half their blend score (they rank below the ones it liked).
//! 4. [`fill_chain`] (the **cold-start chain**): the blend of the caller's own signals first (a
//!    guest's history is the session's interactions, so "session" is this stage), then popular
//!    products in the caller's preferred categories ([`preferred_categories`]: the categories
//!    with the most interaction weight in the history and cart), then popular products overall.
//!    Each stage only fills the places the previous ones left; filled items score at most the
//!    last score before them, so the list stays sorted.
//! 5. [`cap_per_category`] (**diversity: a cap per category**, not MMR): at most
//!    [`category_cap`]`(limit)` = `max(2, ceil(0.4 · limit))` items of one category, in score
//!    order; when the candidates cannot fill the list under the cap, the best skipped items fill
//!    it (the cap never shortens a list). A cap rather than MMR because MMR needs a similarity
//!    between every pair of candidates (embeddings that not every product has) and is
//!    O(limit · candidates) per request, where the cap is one pass and explains itself.
//!
//! Hand-written: each step is a few lines over plain vectors; no crate does "blend lists with
//! provenance".

use std::collections::HashMap;
use std::hash::Hash;

use super::algorithm::Algorithm;

/// One source's candidates: `(item, raw score, context)`; the context is the item the
/// candidate is relative to (a viewed or carted product), when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceList<K> {
    pub algorithm: Algorithm,
    pub weight: f32,
    pub reason: &'static str,
    pub items: Vec<(K, f32, Option<K>)>,
    /// Adds to the items other sources proposed, proposes none itself (popularity, trending
    /// and new arrivals in a personal list: otherwise they would fill it before the cold-start
    /// chain could look at the caller's categories).
    pub boost_only: bool,
}

/// A blended candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<K> {
    pub item: K,
    /// In `[0, 1]`.
    pub score: f32,
    pub algorithm: Algorithm,
    pub reason: &'static str,
    pub context: Option<K>,
}

/// Min-max normalised scores of one list (all 1 when the range is empty or not finite).
fn normalise(scores: impl Iterator<Item = f32> + Clone) -> impl Fn(f32) -> f32 {
    let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
    for s in scores.filter(|s| s.is_finite()) {
        min = min.min(s);
        max = max.max(s);
    }
    let range = max - min;
    move |x: f32| {
        if !x.is_finite() {
            0.0
        } else if range.is_finite() && range > 0.0 {
            ((x - min) / range).clamp(0.0, 1.0)
        } else {
            1.0
        }
    }
}

/// Blends the sources (see the module docs): best first, ties by item.
pub fn blend<K: Clone + Eq + Hash + Ord>(sources: &[SourceList<K>]) -> Vec<Candidate<K>> {
    struct Acc<K> {
        total: f32,
        best: f32,
        best_source: usize,
        context: Option<K>,
        proposed: bool,
    }
    let mut acc: HashMap<K, Acc<K>> = HashMap::new();
    let mut weight_sum = 0.0f32;
    for (s, source) in sources.iter().enumerate() {
        let w = source.weight;
        if !(w.is_finite() && w > 0.0) || source.items.is_empty() {
            continue;
        }
        weight_sum += w;
        let norm = normalise(source.items.iter().map(|i| i.1));
        for (item, raw, context) in &source.items {
            let part = w * norm(*raw);
            let a = acc.entry(item.clone()).or_insert(Acc {
                total: 0.0,
                best: f32::NEG_INFINITY,
                best_source: s,
                context: None,
                proposed: false,
            });
            a.proposed |= !source.boost_only;
            a.total += part;
            if part > a.best {
                a.best = part;
                a.best_source = s;
                a.context = context.clone();
            }
        }
    }
    if weight_sum <= 0.0 {
        return Vec::new();
    }
    let mut out: Vec<Candidate<K>> = acc
        .into_iter()
        .filter(|(_, a)| a.proposed)
        .filter_map(|(item, a)| {
            let source = sources.get(a.best_source)?;
            Some(Candidate {
                item,
                score: (a.total / weight_sum).clamp(0.0, 1.0),
                algorithm: source.algorithm,
                reason: source.reason,
                context: a.context,
            })
        })
        .collect();
    sort_best_first(&mut out);
    out
}

fn sort_best_first<K: Ord>(list: &mut [Candidate<K>]) {
    list.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.item.cmp(&b.item))
    });
}

/// What the exclusions look at for one candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemFacts {
    pub active: bool,
    pub in_stock: bool,
    /// The caller bought it.
    pub bought: bool,
    /// Its category is flagged consumable (bought items may come back).
    pub consumable: bool,
    pub not_interested: bool,
    pub in_cart: bool,
    /// The product the list is about (product page, FBT).
    pub is_subject: bool,
    /// The caller interacted with it and the list is personal (homepage): only consumables
    /// they bought may come back.
    pub seen_in_personal_list: bool,
}

/// Whether a candidate may be served (see the module docs).
pub fn allowed(f: ItemFacts) -> bool {
    let bought_again = f.bought && f.consumable;
    let refused = (f.bought && !bought_again)
        || f.not_interested
        || f.in_cart
        || f.is_subject
        || (f.seen_in_personal_list && !bought_again);
    f.active && f.in_stock && !refused
}

/// Ranker re-scoring (see the module docs): `ranker` holds the ranker's log-odds per candidate
/// (same order; non-finite = not scored). Re-sorted best first.
pub fn rescore_with_ranker<K: Ord>(list: &mut [Candidate<K>], ranker: &[f32]) {
    for (c, &r) in list.iter_mut().zip(ranker) {
        let vote = if r.is_finite() {
            1.0 / (1.0 + (-r).exp())
        } else {
            0.0
        };
        c.score = (0.5 * c.score + 0.5 * vote).clamp(0.0, 1.0);
    }
    sort_best_first(list);
}

/// One stage of [`fill_chain`]: the algorithm and reason its items carry, and the items with
/// their normalised scores.
pub type Stage<K> = (Algorithm, &'static str, Vec<(K, f32)>);

/// The cold-start chain (see the module docs): `first` (already sorted), then each later stage's
/// `(item, normalised score in [0, 1])` lists as `(algorithm, reason, items)`, until `want` items;
/// an item already in the list is skipped. A filled item scores `floor · its score`, `floor`
/// being the last score before its stage (1 when the list was empty).
pub fn fill_chain<K: Clone + Eq + Hash>(
    mut first: Vec<Candidate<K>>,
    stages: &[Stage<K>],
    want: usize,
) -> Vec<Candidate<K>> {
    let mut seen: std::collections::HashSet<K> = first.iter().map(|c| c.item.clone()).collect();
    for (algorithm, reason, items) in stages {
        if first.len() >= want {
            break;
        }
        let floor = first.last().map_or(1.0, |c| c.score);
        for (item, s) in items {
            if first.len() >= want {
                break;
            }
            if seen.insert(item.clone()) {
                first.push(Candidate {
                    item: item.clone(),
                    score: (floor * s.clamp(0.0, 1.0)).clamp(0.0, 1.0),
                    algorithm: *algorithm,
                    reason,
                    context: None,
                });
            }
        }
    }
    first
}

/// The categories with the most interaction weight among `history` (`(item, weight)`), best
/// first (ties by category), at most `k`.
pub fn preferred_categories<K, C: Clone + Eq + Hash + Ord>(
    history: &[(K, f32)],
    category_of: impl Fn(&K) -> Option<C>,
    k: usize,
) -> Vec<C> {
    let mut weight: HashMap<C, f32> = HashMap::new();
    for (item, w) in history {
        if let Some(c) = category_of(item)
            && w.is_finite()
            && *w > 0.0
        {
            *weight.entry(c).or_default() += w;
        }
    }
    let mut out: Vec<(C, f32)> = weight.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.into_iter().take(k).map(|(c, _)| c).collect()
}

/// At most this many items of one category in a list of `limit`: `max(2, ceil(0.4 · limit))`.
pub fn category_cap(limit: usize) -> usize {
    (limit * 2).div_ceil(5).max(2)
}

/// Diversity (see the module docs): the first `limit` of `ranked` with at most `cap` per
/// category, then the best skipped ones when the list is short. Order by score is kept.
pub fn cap_per_category<K, C: Eq + Hash>(
    ranked: Vec<Candidate<K>>,
    category_of: impl Fn(&K) -> Option<C>,
    cap: usize,
    limit: usize,
) -> Vec<Candidate<K>> {
    let mut per: HashMap<C, usize> = HashMap::new();
    let mut kept: Vec<(usize, Candidate<K>)> = Vec::with_capacity(limit);
    let mut skipped = Vec::new();
    for (i, c) in ranked.into_iter().enumerate() {
        if kept.len() >= limit {
            break;
        }
        let ok = match category_of(&c.item) {
            Some(cat) => {
                let n = per.entry(cat).or_default();
                *n += 1;
                *n <= cap
            }
            None => true,
        };
        if ok {
            kept.push((i, c));
        } else {
            skipped.push((i, c));
        }
    }
    let missing = limit.saturating_sub(kept.len());
    kept.extend(skipped.into_iter().take(missing));
    kept.sort_by_key(|(i, _)| *i);
    kept.into_iter().map(|(_, c)| c).collect()
}

/// The `new_arrivals` score of a product `age_secs` old, in `[0, 1]`: `1 - age / (2 · window)`
/// within the window (1 at creation, 0.5 at the window's end), `0.25 · window / age` after (the
/// new-arrivals model's formula halved).
pub fn new_arrival_score(age_secs: i64, window_secs: i64) -> f32 {
    let age = age_secs.max(0) as f64;
    let window = window_secs.max(1) as f64;
    let s = if age <= window {
        1.0 - age / (2.0 * window)
    } else {
        0.25 * window / age
    };
    s.clamp(0.0, 1.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    fn src(
        algorithm: Algorithm,
        weight: f32,
        items: &[(&'static str, f32, Option<&'static str>)],
    ) -> SourceList<&'static str> {
        SourceList {
            algorithm,
            weight,
            reason: algorithm.name(),
            items: items.to_vec(),
            boost_only: false,
        }
    }

    #[test]
    fn blend_normalises_per_source_weighs_and_names_the_biggest_contributor() {
        // CF (0.6): a 10, b 20, c 30 -> 0, 0.5, 1. Popular (0.2): a 5, d 1 -> 1, 0.
        // Content (0.2): one candidate (b) -> 1. Weight sum 1.0.
        let out = blend(&[
            src(
                Algorithm::CollaborativeFiltering,
                0.6,
                &[("a", 10.0, None), ("b", 20.0, None), ("c", 30.0, None)],
            ),
            src(
                Algorithm::Popular,
                0.2,
                &[("a", 5.0, None), ("d", 1.0, None)],
            ),
            src(Algorithm::VectorSimilarity, 0.2, &[("b", 0.3, Some("x"))]),
            src(Algorithm::Trending, 0.0, &[("z", 9.0, None)]),
        ]);
        let got: Vec<(&str, f32, Algorithm)> =
            out.iter().map(|c| (c.item, c.score, c.algorithm)).collect();
        // c 0.6; b 0.3 + 0.2 = 0.5 (CF 0.3 > content 0.2); a 0 + 0.2 = 0.2 (popular); d 0.
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].0, "c");
        assert!(close(got[0].1, 0.6));
        assert_eq!(got[0].2, Algorithm::CollaborativeFiltering);
        assert_eq!(got[1].0, "b");
        assert!(close(got[1].1, 0.5));
        assert_eq!(got[1].2, Algorithm::CollaborativeFiltering);
        assert_eq!(out[1].context, None);
        assert_eq!(got[2].0, "a");
        assert!(close(got[2].1, 0.2));
        assert_eq!(got[2].2, Algorithm::Popular);
        assert_eq!(got[3].0, "d");
        assert!(close(got[3].1, 0.0));
        // The weight of a source with nothing to say does not dilute the others: only CF here.
        let out = blend(&[
            src(
                Algorithm::CollaborativeFiltering,
                0.5,
                &[("a", 2.0, None), ("b", 4.0, None)],
            ),
            src(Algorithm::ItemSimilarity, 0.5, &[]),
        ]);
        assert!(close(out[0].score, 1.0) && close(out[1].score, 0.0));
        assert!(blend::<&str>(&[]).is_empty());
        // A boost-only source adds to what others proposed and proposes nothing itself:
        // a: CF 0.5 + popular 0.5 · 1 = 1.0 of 1.0; b: CF 0.5 · 1 + 0 = 0.5; c dropped.
        let mut popular = src(
            Algorithm::Popular,
            0.5,
            &[("a", 9.0, None), ("c", 1.0, None)],
        );
        popular.boost_only = true;
        let out = blend(&[
            src(
                Algorithm::CollaborativeFiltering,
                0.5,
                &[("a", 1.0, None), ("b", 2.0, None)],
            ),
            popular.clone(),
        ]);
        let got: Vec<(&str, f32)> = out.iter().map(|c| (c.item, c.score)).collect();
        assert_eq!(got, vec![("a", 0.5), ("b", 0.5)]);
        assert_eq!(out[0].algorithm, Algorithm::Popular);
        assert!(blend(&[popular]).is_empty());
    }

    #[test]
    fn blend_keeps_the_context_of_the_winning_source() {
        let out = blend(&[
            src(
                Algorithm::ItemSimilarity,
                0.7,
                &[("a", 1.0, Some("viewed"))],
            ),
            src(Algorithm::Fbt, 0.3, &[("a", 1.0, Some("carted"))]),
        ]);
        assert_eq!(out[0].algorithm, Algorithm::ItemSimilarity);
        assert_eq!(out[0].context, Some("viewed"));
        assert_eq!(out[0].reason, "item_similarity");
        assert!(close(out[0].score, 1.0));
    }

    #[test]
    fn exclusions() {
        let ok = ItemFacts {
            active: true,
            in_stock: true,
            ..Default::default()
        };
        assert!(allowed(ok));
        assert!(!allowed(ItemFacts {
            active: false,
            ..ok
        }));
        assert!(!allowed(ItemFacts {
            in_stock: false,
            ..ok
        }));
        assert!(!allowed(ItemFacts { bought: true, ..ok }));
        assert!(allowed(ItemFacts {
            bought: true,
            consumable: true,
            ..ok
        }));
        assert!(!allowed(ItemFacts {
            not_interested: true,
            ..ok
        }));
        assert!(!allowed(ItemFacts {
            in_cart: true,
            ..ok
        }));
        assert!(!allowed(ItemFacts {
            is_subject: true,
            ..ok
        }));
        // Seen on a personal list: out, unless a consumable the caller bought.
        let seen = ItemFacts {
            seen_in_personal_list: true,
            ..ok
        };
        assert!(!allowed(seen));
        assert!(!allowed(ItemFacts {
            consumable: true,
            ..seen
        }));
        assert!(allowed(ItemFacts {
            bought: true,
            consumable: true,
            ..seen
        }));
    }

    fn cand(item: &'static str, score: f32) -> Candidate<&'static str> {
        Candidate {
            item,
            score,
            algorithm: Algorithm::CollaborativeFiltering,
            reason: "r",
            context: None,
        }
    }

    #[test]
    fn ranker_averages_its_probability_with_the_blend() {
        let mut list = vec![cand("a", 0.8), cand("b", 0.6), cand("c", 0.4)];
        // a: logit 0 -> 0.5: (0.8 + 0.5) / 2 = 0.65; b: logit ln 3 -> 0.75: 0.675;
        // c: not scored: 0.2.
        rescore_with_ranker(&mut list, &[0.0, 3f32.ln(), f32::NEG_INFINITY]);
        let got: Vec<&str> = list.iter().map(|c| c.item).collect();
        assert_eq!(got, vec!["b", "a", "c"]);
        assert!(close(list[0].score, 0.675) && close(list[1].score, 0.65));
        assert!(close(list[2].score, 0.2));
    }

    #[test]
    fn the_cold_start_chain_fills_in_order_below_the_last_score() {
        let first = vec![cand("a", 0.5)];
        let out = fill_chain(
            first,
            &[
                (
                    Algorithm::Popular,
                    "popular_in_category",
                    vec![("a", 1.0), ("b", 1.0), ("c", 0.5)],
                ),
                (Algorithm::Popular, "popular", vec![("d", 1.0), ("e", 1.0)]),
            ],
            4,
        );
        let got: Vec<(&str, f32, &str)> = out.iter().map(|c| (c.item, c.score, c.reason)).collect();
        // b: 0.5 · 1; c: 0.5 · 0.5; then the next stage's floor is c's 0.25: d 0.25.
        assert_eq!(
            got,
            vec![
                ("a", 0.5, "r"),
                ("b", 0.5, "popular_in_category"),
                ("c", 0.25, "popular_in_category"),
                ("d", 0.25, "popular"),
            ]
        );
        // An empty first stage: floor 1.
        let out = fill_chain(
            Vec::new(),
            &[(Algorithm::Popular, "popular", vec![("x", 0.3)])],
            5,
        );
        assert_eq!(out.len(), 1);
        assert!(close(out[0].score, 0.3));
    }

    #[test]
    fn preferred_categories_by_history_weight() {
        let cat = |i: &&str| match *i {
            "a" | "b" => Some("phones"),
            "c" => Some("books"),
            "d" => Some("toys"),
            _ => None,
        };
        // phones 1 + 1 = 2, books 3, toys 2 (tie with phones: by name), unknown ignored.
        let h = [("a", 1.0), ("b", 1.0), ("c", 3.0), ("d", 2.0), ("e", 9.0)];
        assert_eq!(preferred_categories(&h, cat, 2), vec!["books", "phones"]);
        assert_eq!(
            preferred_categories(&h, cat, 5),
            vec!["books", "phones", "toys"]
        );
    }

    #[test]
    fn the_category_cap_limits_one_category_but_never_shortens_the_list() {
        assert_eq!(category_cap(1), 2);
        assert_eq!(category_cap(5), 2);
        assert_eq!(category_cap(10), 4);
        assert_eq!(category_cap(50), 20);
        let cat = |i: &&str| Some(i.chars().next().unwrap_or(' '));
        let ranked = vec![
            cand("a1", 0.9),
            cand("a2", 0.8),
            cand("a3", 0.7),
            cand("b1", 0.6),
            cand("a4", 0.5),
            cand("c1", 0.4),
        ];
        // cap 2, limit 4: a1 a2 (a3 skipped) b1 (a4 skipped) c1.
        let got: Vec<&str> = cap_per_category(ranked.clone(), cat, 2, 4)
            .iter()
            .map(|c| c.item)
            .collect();
        assert_eq!(got, vec!["a1", "a2", "b1", "c1"]);
        // limit 5: one place left, the best skipped (a3) takes it, in score order.
        let got: Vec<&str> = cap_per_category(ranked, cat, 2, 5)
            .iter()
            .map(|c| c.item)
            .collect();
        assert_eq!(got, vec!["a1", "a2", "a3", "b1", "c1"]);
    }

    #[test]
    fn new_arrival_scores() {
        let d = 86_400;
        assert!(close(new_arrival_score(0, 30 * d), 1.0));
        assert!(close(new_arrival_score(15 * d, 30 * d), 0.75));
        assert!(close(new_arrival_score(30 * d, 30 * d), 0.5));
        assert!(close(new_arrival_score(60 * d, 30 * d), 0.125));
        assert!(close(new_arrival_score(-5, 30 * d), 1.0));
    }
}
