//! Vector similarity: cosine similarity and a bounded top-k search over candidates.
//!
//! Used for "similar products" (embedding neighbours) and anywhere a query vector is scored
//! against a set of candidate vectors. Everything is deterministic: equal scores are ordered by
//! id ascending.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Cosine similarity of `a` and `b`, in `[-1, 1]`.
///
/// Returns `0.0` (not NaN) when the slices differ in length, are empty, or either is the zero
/// vector: such a pair carries no direction to compare, and `0.0` ranks it as "unrelated".
/// The sums are accumulated in `f64`, and the result is clamped to `[-1, 1]` so rounding never
/// yields `1.0000001`. A NaN in the input gives NaN.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    let c = (dot / (na.sqrt() * nb.sqrt())).clamp(-1.0, 1.0) as f32;
    // Normalise -0.0 to 0.0 so it ties with 0.0 in the id tie-break.
    if c == 0.0 { 0.0 } else { c }
}

/// A scored candidate ordered so that the *worse* one is greater: the max-heap then keeps the
/// worst of the current best k on top, ready to be evicted.
struct Worst<Id> {
    score: f32,
    id: Id,
}

impl<Id: Ord> Ord for Worst<Id> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Lower score is worse; on equal scores the larger id is worse.
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.id.cmp(&other.id))
    }
}
impl<Id: Ord> PartialOrd for Worst<Id> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<Id: Ord> PartialEq for Worst<Id> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<Id: Ord> Eq for Worst<Id> {}

/// The `k` candidates most similar (by [`cosine`]) to `query`, best first.
///
/// Candidates for which `exclude` returns true (the query item itself, items already bought...)
/// are skipped, and so are candidates whose score is NaN. Equal scores are ordered by id
/// ascending, so the result does not depend on the order of `candidates`. Returns fewer than `k`
/// entries when there are fewer candidates, and nothing when `k == 0`.
pub fn top_k_similar<'a, Id, I, F>(
    query: &[f32],
    candidates: I,
    k: usize,
    exclude: F,
) -> Vec<(Id, f32)>
where
    Id: Ord,
    I: IntoIterator<Item = (Id, &'a [f32])>,
    F: FnMut(&Id) -> bool,
{
    top_k_scored(
        candidates
            .into_iter()
            .map(|(id, vector)| (id, cosine(query, vector))),
        k,
        exclude,
    )
}

/// The `k` best of already scored candidates, best first, with the same rules as
/// [`top_k_similar`] (exclusions, NaN skipped, ties by id ascending).
///
/// Runs in O(n log k) time and O(k) memory over n candidates: a bounded binary heap holds the
/// current best k, and the worst of them is evicted when a better candidate comes along.
pub fn top_k_scored<Id, I, F>(scored: I, k: usize, mut exclude: F) -> Vec<(Id, f32)>
where
    Id: Ord,
    I: IntoIterator<Item = (Id, f32)>,
    F: FnMut(&Id) -> bool,
{
    if k == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Worst<Id>> = BinaryHeap::with_capacity(k.min(1024) + 1);
    for (id, score) in scored {
        if score.is_nan() || exclude(&id) {
            continue;
        }
        let entry = Worst { score, id };
        if heap.len() < k {
            heap.push(entry);
        } else if let Some(mut worst) = heap.peek_mut()
            && entry < *worst
        {
            *worst = entry;
        }
    }
    // Ascending in `Worst` order is best first.
    heap.into_sorted_vec()
        .into_iter()
        .map(|w| (w.id, w.score))
        .collect()
}

/// `v` scaled to unit length, or `None` for an empty or zero vector (or one with a NaN), which
/// has no direction. The cosine of two unit vectors is their [`dot`] product.
pub fn normalized(v: &[f32]) -> Option<Vec<f32>> {
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if v.is_empty() || norm == 0.0 || !norm.is_finite() {
        return None;
    }
    Some(v.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
}

/// Dot product of two equal-length slices (the shorter length is used otherwise).
///
/// Eight lanes at a time with `wide` (SSE on x86_64, NEON on arm64): the release profile is
/// tuned for size (opt-level "s"), at which rustc does not auto-vectorise loops, and scanning
/// 10,000 unit vectors of 256 dimensions is what similar products and search pay per request.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    use wide::f32x8;
    let lanes = |x: &[f32]| {
        <[f32; 8]>::try_from(x)
            .map(f32x8::from)
            .unwrap_or(f32x8::ZERO)
    };
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    // Two accumulators of 8 lanes over blocks of 16, so consecutive additions do not wait for
    // each other; then one block of 8 and the scalar rest.
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let (mut acc0, mut acc1) = (f32x8::ZERO, f32x8::ZERO);
    for (x, y) in ca.zip(cb) {
        acc0 = lanes(&x[..8]).mul_add(lanes(&y[..8]), acc0);
        acc1 = lanes(&x[8..]).mul_add(lanes(&y[8..]), acc1);
    }
    let mut rest = 0.0;
    if ra.len() >= 8 {
        acc0 = lanes(&ra[..8]).mul_add(lanes(&rb[..8]), acc0);
        rest = ra[8..].iter().zip(&rb[8..]).map(|(x, y)| x * y).sum();
    } else {
        rest += ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>();
    }
    (acc0 + acc1).reduce_add() + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn cosine_hand_cases() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0); // orthogonal
        assert!(close(cosine(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0)); // identical
        assert!(close(cosine(&[1.0, 2.0], &[2.0, 4.0]), 1.0)); // same direction, other length
        assert!(close(cosine(&[1.0, -2.0], &[-1.0, 2.0]), -1.0)); // opposite
        // [1,1] vs [1,0]: 1 / (sqrt 2 * 1) = 1/sqrt 2.
        assert!(close(
            cosine(&[1.0, 1.0], &[1.0, 0.0]),
            std::f32::consts::FRAC_1_SQRT_2
        ));
        // [3,4] vs [4,3]: 24 / (5 * 5) = 0.96.
        assert!(close(cosine(&[3.0, 4.0], &[4.0, 3.0]), 0.96));
    }

    #[test]
    fn cosine_degenerate_inputs_are_zero() {
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
        assert_eq!(cosine(&[1.0, 2.0], &[0.0, 0.0]), 0.0);
        assert_eq!(cosine(&[1.0, 2.0], &[1.0, 2.0, 3.0]), 0.0);
        assert_eq!(cosine(&[], &[]), 0.0);
    }

    fn catalog() -> Vec<(u32, Vec<f32>)> {
        vec![
            (1, vec![1.0, 0.0]),  // score 1 against [1,0]
            (2, vec![0.0, 1.0]),  // 0
            (3, vec![-1.0, 0.0]), // -1
            (4, vec![1.0, 1.0]),  // 1/sqrt 2
            (5, vec![3.0, 4.0]),  // 3/5
        ]
    }

    fn ids(r: &[(u32, f32)]) -> Vec<u32> {
        r.iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn top_k_orders_by_score() {
        let c = catalog();
        let r = top_k_similar(
            &[1.0, 0.0],
            c.iter().map(|(i, v)| (*i, v.as_slice())),
            3,
            |_| false,
        );
        assert_eq!(ids(&r), vec![1, 4, 5]);
        assert!(close(r[0].1, 1.0));
        assert!(close(r[1].1, std::f32::consts::FRAC_1_SQRT_2));
        assert!(close(r[2].1, 0.6));
    }

    #[test]
    fn top_k_excludes() {
        let c = catalog();
        let r = top_k_similar(
            &[1.0, 0.0],
            c.iter().map(|(i, v)| (*i, v.as_slice())),
            2,
            |id| *id == 1,
        );
        assert_eq!(ids(&r), vec![4, 5]);
    }

    #[test]
    fn top_k_larger_than_candidates_returns_all_sorted() {
        let c = catalog();
        let r = top_k_similar(
            &[1.0, 0.0],
            c.iter().map(|(i, v)| (*i, v.as_slice())),
            10,
            |_| false,
        );
        assert_eq!(ids(&r), vec![1, 4, 5, 2, 3]);
        let none = top_k_similar(
            &[1.0, 0.0],
            c.iter().map(|(i, v)| (*i, v.as_slice())),
            0,
            |_| false,
        );
        assert!(none.is_empty());
    }

    #[test]
    fn top_k_ties_break_by_id_ascending_whatever_the_input_order() {
        // Five candidates with the same direction (score 1) and one worse.
        let c: Vec<(u32, Vec<f32>)> = vec![
            (9, vec![2.0, 0.0]),
            (3, vec![1.0, 0.0]),
            (7, vec![0.0, 1.0]),
            (5, vec![5.0, 0.0]),
            (1, vec![0.5, 0.0]),
            (4, vec![1.0, 0.0]),
        ];
        let forward = top_k_similar(
            &[1.0, 0.0],
            c.iter().map(|(i, v)| (*i, v.as_slice())),
            3,
            |_| false,
        );
        let backward = top_k_similar(
            &[1.0, 0.0],
            c.iter().rev().map(|(i, v)| (*i, v.as_slice())),
            3,
            |_| false,
        );
        assert_eq!(ids(&forward), vec![1, 3, 4]);
        assert_eq!(ids(&backward), vec![1, 3, 4]);
    }

    #[test]
    fn dot_of_unit_vectors_is_the_cosine() {
        // Lengths around the 8-lane chunking, including a remainder.
        for n in [1usize, 7, 8, 9, 15, 16, 17, 24, 25, 256, 257] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() + 0.1).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.91).cos() - 0.2).collect();
            let (ua, ub) = (normalized(&a).unwrap(), normalized(&b).unwrap());
            assert!((dot(&ua, &ub) - cosine(&a, &b)).abs() < 1e-5, "n = {n}");
            assert!((dot(&ua, &ua) - 1.0).abs() < 1e-5);
        }
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
        assert_eq!(normalized(&[0.0, 0.0]), None);
        assert_eq!(normalized(&[]), None);
        assert_eq!(normalized(&[f32::NAN, 1.0]), None);
        assert_eq!(normalized(&[3.0, 4.0]), Some(vec![0.6, 0.8]));
    }

    #[test]
    fn top_k_scored_matches_top_k_similar() {
        let c = catalog();
        let q = [1.0f32, 0.0];
        let by_vectors = top_k_similar(&q, c.iter().map(|(i, v)| (*i, v.as_slice())), 4, |id| {
            *id == 4
        });
        let by_scores = top_k_scored(c.iter().map(|(i, v)| (*i, cosine(&q, v))), 4, |id| *id == 4);
        assert_eq!(by_vectors, by_scores);
        let with_nan = top_k_scored([(1u32, f32::NAN), (2, 0.5)], 5, |_| false);
        assert_eq!(with_nan, vec![(2, 0.5)]);
    }

    #[test]
    fn top_k_works_with_string_ids() {
        let c = [
            ("b".to_string(), vec![1.0f32, 0.0]),
            ("a".to_string(), vec![1.0, 0.0]),
        ];
        let r = top_k_similar(
            &[1.0, 0.0],
            c.iter().map(|(i, v)| (i.clone(), v.as_slice())),
            1,
            |_| false,
        );
        assert_eq!(r[0].0, "a");
    }
}
