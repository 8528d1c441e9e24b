//! The interaction data every recommendation model trains on: raw interactions with string ids,
//! mapped to dense rows (users) and columns (items) of a compressed sparse row matrix.
//!
//! Why hand-written rather than `sprs`: the models need only a CSR with `f32` values, its
//! transpose and row slices; `sprs` (in the tree through linfa) would add a generic layer every
//! model then unwraps, and its builders sort with `usize` indices (twice the memory of `u32`).

use serde::{Deserialize, Serialize};

/// One interaction of a user (or a guest cart id) with an item, already weighted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub user: String,
    pub item: String,
    /// Weight (confidence) of the interaction, e.g. the sum of the kind weights; > 0.
    pub weight: f32,
    /// Epoch seconds of the (latest) interaction; used by the time-based holdout and trending.
    pub timestamp: i64,
}

/// A bijection between string ids and dense indices `0..len`, in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdMap {
    ids: Vec<String>,
    #[serde(skip)]
    index: foldhash::HashMap<String, u32>,
}

impl IdMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// From a list of distinct ids (later duplicates map to the first occurrence).
    pub fn from_ids(ids: Vec<String>) -> Self {
        let mut map = Self::new();
        for id in ids {
            map.insert(&id);
        }
        map
    }

    /// The index of `id`, inserting it at the end when new.
    pub fn insert(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id.to_string());
        self.index.insert(id.to_string(), i);
        i
    }

    pub fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    pub fn id(&self, index: u32) -> Option<&str> {
        self.ids.get(index as usize).map(String::as_str)
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Rebuilds the lookup table after deserialising (the table is not stored).
    pub fn rebuild_index(&mut self) {
        self.index = self
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
    }
}

/// Compressed sparse rows: row `r` has columns `indices[indptr[r]..indptr[r + 1]]` (ascending)
/// with `values` at the same positions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Csr {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    /// From `(row, col, value)` triplets; duplicates are summed, entries whose sum is not > 0
    /// are dropped.
    pub fn from_triplets(n_rows: usize, n_cols: usize, mut triplets: Vec<(u32, u32, f32)>) -> Self {
        triplets.sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut indptr = vec![0usize; n_rows + 1];
        let mut indices = Vec::with_capacity(triplets.len());
        let mut values: Vec<f32> = Vec::with_capacity(triplets.len());
        let mut rows: Vec<u32> = Vec::with_capacity(triplets.len());
        for (r, c, v) in triplets {
            if rows.last() == Some(&r) && indices.last() == Some(&c) {
                if let Some(last) = values.last_mut() {
                    *last += v;
                }
                continue;
            }
            rows.push(r);
            indices.push(c);
            values.push(v);
        }
        let mut kept_indices = Vec::with_capacity(indices.len());
        let mut kept_values = Vec::with_capacity(values.len());
        for ((r, c), v) in rows.into_iter().zip(indices).zip(values) {
            if v > 0.0 && (r as usize) < n_rows && (c as usize) < n_cols {
                indptr[r as usize + 1] += 1;
                kept_indices.push(c);
                kept_values.push(v);
            }
        }
        for r in 0..n_rows {
            indptr[r + 1] += indptr[r];
        }
        Self {
            n_rows,
            n_cols,
            indptr,
            indices: kept_indices,
            values: kept_values,
        }
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Columns and values of row `r` (empty when out of range).
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        if r >= self.n_rows {
            return (&[], &[]);
        }
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// Row `r` as `(column, value)` pairs.
    pub fn row_pairs(&self, r: usize) -> Vec<(u32, f32)> {
        let (c, v) = self.row(r);
        c.iter().copied().zip(v.iter().copied()).collect()
    }

    /// The transpose (items x users from users x items), in O(nnz).
    pub fn transpose(&self) -> Csr {
        let mut counts = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            counts[c as usize + 1] += 1;
        }
        for c in 0..self.n_cols {
            counts[c + 1] += counts[c];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        for r in 0..self.n_rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let at = next[c as usize];
                indices[at] = r as u32;
                values[at] = v;
                next[c as usize] += 1;
            }
        }
        Csr {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            values,
        }
    }
}

/// Interactions mapped to a users x items matrix (duplicate pairs summed).
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub users: IdMap,
    pub items: IdMap,
    /// Users x items, values = summed weights.
    pub user_items: Csr,
    /// Latest timestamp per user row (epoch seconds).
    pub user_last_seen: Vec<i64>,
}

impl Dataset {
    /// Maps `interactions`; `catalog` (when given) fixes the item columns first, so items with no
    /// interactions still have a column (new arrivals, content models), and interactions on items
    /// outside it are kept (appended) rather than lost.
    pub fn from_interactions(interactions: &[Interaction], catalog: Option<&[String]>) -> Self {
        let mut users = IdMap::new();
        let mut items = catalog
            .map(|ids| IdMap::from_ids(ids.to_vec()))
            .unwrap_or_default();
        let mut triplets = Vec::with_capacity(interactions.len());
        let mut last_seen: Vec<i64> = Vec::new();
        for it in interactions {
            if !(it.weight.is_finite() && it.weight > 0.0) {
                continue;
            }
            let u = users.insert(&it.user);
            let i = items.insert(&it.item);
            if u as usize == last_seen.len() {
                last_seen.push(it.timestamp);
            } else if let Some(t) = last_seen.get_mut(u as usize) {
                *t = (*t).max(it.timestamp);
            }
            triplets.push((u, i, it.weight));
        }
        let user_items = Csr::from_triplets(users.len(), items.len(), triplets);
        Self {
            users,
            items,
            user_items,
            user_last_seen: last_seen,
        }
    }

    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// A user's history as `(item column, weight)` pairs, mapped through this dataset's item
    /// columns (unknown items skipped); what [`super::model::Recommender`] takes.
    pub fn history_of(&self, entries: &[(String, f32)]) -> Vec<(u32, f32)> {
        entries
            .iter()
            .filter_map(|(id, w)| self.items.get(id).map(|i| (i, *w)))
            .collect()
    }
}

/// Small data sets the model tests check by hand.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Dataset, Interaction};

    /// One interaction at time 0.
    pub(crate) fn it(u: &str, i: &str, w: f32) -> Interaction {
        Interaction {
            user: u.into(),
            item: i.into(),
            weight: w,
            timestamp: 0,
        }
    }

    /// 3 users x 4 items (a, b, c, d): u0 = {a: 1, b: 2, c: 1}, u1 = {a: 3, b: 1},
    /// u2 = {b: 1, d: 2}.
    pub(crate) fn three_by_four() -> Dataset {
        Dataset::from_interactions(
            &[
                it("u0", "a", 1.0),
                it("u0", "b", 2.0),
                it("u0", "c", 1.0),
                it("u1", "a", 3.0),
                it("u1", "b", 1.0),
                it("u2", "b", 1.0),
                it("u2", "d", 2.0),
            ],
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(u: &str, i: &str, w: f32, t: i64) -> Interaction {
        Interaction {
            user: u.into(),
            item: i.into(),
            weight: w,
            timestamp: t,
        }
    }

    #[test]
    fn duplicates_are_summed_and_rows_sorted() {
        let ds = Dataset::from_interactions(
            &[
                it("u1", "b", 1.0, 5),
                it("u1", "a", 2.0, 3),
                it("u2", "a", 1.0, 9),
                it("u1", "b", 3.0, 7),
            ],
            None,
        );
        assert_eq!(ds.users.ids(), &["u1".to_string(), "u2".to_string()]);
        assert_eq!(ds.items.ids(), &["b".to_string(), "a".to_string()]);
        // u1: b (col 0) = 4, a (col 1) = 2
        assert_eq!(ds.user_items.row_pairs(0), vec![(0, 4.0), (1, 2.0)]);
        assert_eq!(ds.user_items.row_pairs(1), vec![(1, 1.0)]);
        assert_eq!(ds.user_last_seen, vec![7, 9]);
    }

    #[test]
    fn catalog_fixes_columns_and_non_positive_weights_are_dropped() {
        let catalog = vec!["x".to_string(), "a".to_string()];
        let ds = Dataset::from_interactions(
            &[
                it("u", "a", 1.0, 1),
                it("u", "z", 0.0, 1),
                it("u", "b", 2.0, 1),
            ],
            Some(&catalog),
        );
        assert_eq!(ds.items.get("x"), Some(0));
        assert_eq!(ds.items.get("a"), Some(1));
        assert_eq!(ds.items.get("b"), Some(2));
        assert_eq!(ds.user_items.row_pairs(0), vec![(1, 1.0), (2, 2.0)]);
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let m = Csr::from_triplets(2, 3, vec![(0, 2, 1.0), (1, 0, 2.0), (0, 0, 3.0)]);
        let t = m.transpose();
        assert_eq!((t.n_rows, t.n_cols), (3, 2));
        assert_eq!(t.row_pairs(0), vec![(0, 3.0), (1, 2.0)]);
        assert_eq!(t.row_pairs(1), vec![]);
        assert_eq!(t.row_pairs(2), vec![(0, 1.0)]);
        assert_eq!(t.transpose(), m);
    }

    #[test]
    fn id_map_survives_serialisation() {
        let mut m = IdMap::from_ids(vec!["a".into(), "b".into()]);
        let json = serde_json::to_string(&m).expect("json");
        let mut back: IdMap = serde_json::from_str(&json).expect("back");
        back.rebuild_index();
        assert_eq!(back.get("b"), Some(1));
        m.rebuild_index();
        assert_eq!(back, m);
    }
}
