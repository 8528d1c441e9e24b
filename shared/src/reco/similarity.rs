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
///
/// Runs in O(n log k) time and O(k) memory over n candidates: a bounded binary heap holds the
/// current best k, and the worst of them is evicted when a better candidate comes along.
pub fn top_k_similar<'a, Id, I, F>(
    query: &[f32],
    candidates: I,
    k: usize,
    mut exclude: F,
) -> Vec<(Id, f32)>
where
    Id: Ord,
    I: IntoIterator<Item = (Id, &'a [f32])>,
    F: FnMut(&Id) -> bool,
{
    if k == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Worst<Id>> = BinaryHeap::with_capacity(k.min(1024) + 1);
    for (id, vector) in candidates {
        if exclude(&id) {
            continue;
        }
        let score = cosine(query, vector);
        if score.is_nan() {
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
