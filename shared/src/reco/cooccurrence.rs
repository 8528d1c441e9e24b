//! Item-item co-occurrence: `C = XᵀX` of a rows x items matrix `X` (users x items histories, or
//! baskets x items), as counts (`C[i][j]` = rows holding both `i` and `j`) or weighted
//! (`C[i][j] = Σ_u x_ui · x_uj`). The diagonal holds `count(i)` (rows holding `i`) or `‖x_i‖²`.
//!
//! Algorithm: Gustavson's row-by-row sparse matrix product (F. G. Gustavson, "Two fast algorithms
//! for sparse matrices: multiplication and permuted transposition", ACM TOMS 1978). Row `i` of `C`
//! is `Σ_{u ∋ i} x_ui · X[u]`: walk the rows holding `i` (a column of `X`, from its transpose) and
//! add each of those rows into one accumulator of `n_items` cells. The accumulator stays in L1/L2
//! (6.8 KB at 1,700 items), every row of `C` is independent (rows run in parallel with rayon, no
//! merging), and the work is `Σ_u |X[u]|²` additions: proportional to the pairs actually present.
//!
//! The representation is picked by density ([`Layout::choose`]):
//! - [`Layout::Dense`] for dense histories (the pairs present fill a good part of `n²`, and `n²`
//!   cells fit in memory): the accumulator is the output row itself; `C` is a dense `n x n`
//!   matrix. 1,000 users x 1,700 items x 100,000 interactions: ~10 ms on 2 cores, where a hash map
//!   of pairs takes ~200 ms (every addition is a hash probe into a table of a million pairs).
//! - [`Layout::Sparse`] for sparse shop baskets (few pairs over a large catalogue): a dense
//!   accumulator plus the list of cells touched for this row (reset only those), output as sorted
//!   sparse rows. Memory is the pairs present, never `n²`.
//!
//! Why hand-written: `sprs` (in the tree through linfa) has a sparse product, but it has no
//! parallel path, always materialises `C` with `usize` indices, and cannot hand a row to a
//! consumer and forget it, which is what item-kNN needs to keep `k` neighbours per item in `O(n·k)`
//! memory whatever the catalogue size ([`for_each_row`]).

use rayon::prelude::*;

use super::data::Csr;

/// A cell type of the co-occurrence matrix.
pub trait Cell: Copy + Default + PartialEq + Send + Sync + 'static {
    /// `false`: counts (the values of `X` are ignored, each shared row adds 1).
    const WEIGHTED: bool;
    /// Adds the contribution of one shared row: 1 for counts, `a * b` when weighted.
    fn add(&mut self, a: f32, b: f32);
}

impl Cell for u32 {
    const WEIGHTED: bool = false;
    #[inline(always)]
    fn add(&mut self, _a: f32, _b: f32) {
        *self = self.wrapping_add(1);
    }
}

impl Cell for f32 {
    const WEIGHTED: bool = true;
    #[inline(always)]
    fn add(&mut self, a: f32, b: f32) {
        *self += a * b;
    }
}

/// How rows of `C` are accumulated and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `n x n` cells; each row's accumulator is scanned whole.
    Dense,
    /// Touched cells only, sorted by item.
    Sparse,
}

/// Largest dense matrix [`Layout::choose`] allows: 64 Mi cells (256 MB of `u32`/`f32`, a catalogue
/// of 8,192 items).
pub const DENSE_MAX_CELLS: u64 = 64 << 20;

impl Layout {
    /// Dense when the additions (`Σ_u |X[u]|²`, an upper bound of the cells filled) reach a
    /// quarter of the `n²` cells a dense pass scans and `n²` is at most [`DENSE_MAX_CELLS`];
    /// sparse otherwise.
    pub fn choose(x: &Csr) -> Layout {
        let n = x.n_cols as u64;
        let cells = n.saturating_mul(n);
        if cells <= DENSE_MAX_CELLS && work(x).saturating_mul(4) >= cells {
            Layout::Dense
        } else {
            Layout::Sparse
        }
    }
}

/// `Σ_u |X[u]|²`: the number of additions of the product.
pub fn work(x: &Csr) -> u64 {
    x.indptr
        .windows(2)
        .map(|w| {
            let len = w[1].saturating_sub(w[0]) as u64;
            len.saturating_mul(len)
        })
        .fold(0u64, u64::saturating_add)
}

/// One row of `C` handed to a consumer: item `item`'s co-occurrences.
#[derive(Debug, Clone, Copy)]
pub struct RowView<'a, T> {
    pub item: u32,
    acc: &'a [T],
    /// `None`: every cell of `acc` may be set (dense); else the touched cells (ascending).
    touched: Option<&'a [u32]>,
}

impl<T: Cell> RowView<'_, T> {
    /// `C[item][item]`: the row count of the item, or `‖x_item‖²`.
    pub fn diagonal(&self) -> T {
        self.acc.get(self.item as usize).copied().unwrap_or_default()
    }

    /// Calls `f(j, C[item][j])` for every `j != item` with a non-zero cell, in ascending `j`.
    pub fn for_each(&self, mut f: impl FnMut(u32, T)) {
        let zero = T::default();
        match self.touched {
            Some(cols) => {
                for &j in cols {
                    if let Some(&v) = self.acc.get(j as usize)
                        && j != self.item
                        && v != zero
                    {
                        f(j, v);
                    }
                }
            }
            None => {
                for (j, &v) in self.acc.iter().enumerate() {
                    if v != zero && j as u32 != self.item {
                        f(j as u32, v);
                    }
                }
            }
        }
    }
}

/// Adds row `i` of `XᵀX` into `acc` (dense) and, when `touched` is given, records the cells it
/// sets for the first time (`stamp[j] != i + 1` marks them; `stamp` has `n_items` entries).
#[inline]
fn accumulate<T: Cell>(
    x: &Csr,
    xt: &Csr,
    i: usize,
    acc: &mut [T],
    mut touched: Option<(&mut Vec<u32>, &mut [u32])>,
) {
    let (users, user_vals) = xt.row(i);
    let mark = i as u32 + 1;
    for (&u, &xi) in users.iter().zip(user_vals) {
        let (items, vals) = x.row(u as usize);
        match touched.as_mut() {
            Some((list, stamp)) => {
                for (&j, &xj) in items.iter().zip(vals) {
                    if let (Some(a), Some(s)) = (acc.get_mut(j as usize), stamp.get_mut(j as usize))
                    {
                        if *s != mark {
                            *s = mark;
                            list.push(j);
                        }
                        a.add(xi, xj);
                    }
                }
            }
            None if T::WEIGHTED => {
                for (&j, &xj) in items.iter().zip(vals) {
                    if let Some(a) = acc.get_mut(j as usize) {
                        a.add(xi, xj);
                    }
                }
            }
            None => {
                for &j in items {
                    if let Some(a) = acc.get_mut(j as usize) {
                        a.add(1.0, 1.0);
                    }
                }
            }
        }
    }
}

/// Computes every row of `C = XᵀX` of `x` (rows x items; columns ascending within a row, as
/// [`Csr`] keeps them) in parallel and hands each to `f`, which keeps what it needs; rows are
/// never stored together. Returns `f`'s results in item order.
pub fn for_each_row<T, R, F>(x: &Csr, layout: Layout, f: F) -> Vec<R>
where
    T: Cell,
    R: Send,
    F: Fn(RowView<'_, T>) -> R + Sync,
{
    let xt = x.transpose();
    let n = x.n_cols;
    struct Scratch<T> {
        acc: Vec<T>,
        stamp: Vec<u32>,
        touched: Vec<u32>,
    }
    (0..n)
        .into_par_iter()
        .map_init(
            || Scratch {
                acc: vec![T::default(); n],
                stamp: match layout {
                    Layout::Sparse => vec![0u32; n],
                    Layout::Dense => Vec::new(),
                },
                touched: Vec::new(),
            },
            |s, i| match layout {
                Layout::Dense => {
                    s.acc.fill(T::default());
                    accumulate(x, &xt, i, &mut s.acc, None);
                    f(RowView {
                        item: i as u32,
                        acc: &s.acc,
                        touched: None,
                    })
                }
                Layout::Sparse => {
                    s.touched.clear();
                    accumulate(
                        x,
                        &xt,
                        i,
                        &mut s.acc,
                        Some((&mut s.touched, s.stamp.as_mut_slice())),
                    );
                    s.touched.sort_unstable();
                    let out = f(RowView {
                        item: i as u32,
                        acc: &s.acc,
                        touched: Some(&s.touched),
                    });
                    for &j in &s.touched {
                        if let Some(a) = s.acc.get_mut(j as usize) {
                            *a = T::default();
                        }
                    }
                    out
                }
            },
        )
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Stored<T> {
    /// Row-major `n x n`, diagonal included.
    Dense(Vec<T>),
    /// Off-diagonal non-zero cells per row, ascending.
    Sparse {
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<T>,
    },
}

/// The whole matrix `C = XᵀX`, symmetric, in the layout picked for `X`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoOccurrence<T> {
    n_items: usize,
    diagonal: Vec<T>,
    stored: Stored<T>,
}

/// Item co-occurrence counts of `x` (its values ignored), layout by density.
pub fn counts(x: &Csr) -> CoOccurrence<u32> {
    CoOccurrence::compute(x, Layout::choose(x))
}

/// Weighted co-occurrence `Σ_u x_ui · x_uj` of `x`, layout by density.
pub fn weighted(x: &Csr) -> CoOccurrence<f32> {
    CoOccurrence::compute(x, Layout::choose(x))
}

impl<T: Cell> CoOccurrence<T> {
    /// `XᵀX` of `x` in `layout`.
    pub fn compute(x: &Csr, layout: Layout) -> Self {
        let n = x.n_cols;
        match layout {
            Layout::Dense => {
                let xt = x.transpose();
                let mut cells = vec![T::default(); n.saturating_mul(n)];
                if n > 0 {
                    cells
                        .par_chunks_mut(n)
                        .enumerate()
                        .for_each(|(i, row)| accumulate(x, &xt, i, row, None));
                }
                let diagonal = (0..n).map(|i| cells[i * n + i]).collect();
                Self {
                    n_items: n,
                    diagonal,
                    stored: Stored::Dense(cells),
                }
            }
            Layout::Sparse => {
                let rows: Vec<(T, Vec<(u32, T)>)> = for_each_row::<T, _, _>(x, Layout::Sparse, |row| {
                    let mut cells = Vec::new();
                    row.for_each(|j, v| cells.push((j, v)));
                    (row.diagonal(), cells)
                });
                let nnz = rows.iter().map(|(_, r)| r.len()).sum();
                let mut indptr = Vec::with_capacity(n + 1);
                let mut indices = Vec::with_capacity(nnz);
                let mut values = Vec::with_capacity(nnz);
                let mut diagonal = Vec::with_capacity(n);
                indptr.push(0);
                for (d, cells) in rows {
                    diagonal.push(d);
                    for (j, v) in cells {
                        indices.push(j);
                        values.push(v);
                    }
                    indptr.push(indices.len());
                }
                Self {
                    n_items: n,
                    diagonal,
                    stored: Stored::Sparse {
                        indptr,
                        indices,
                        values,
                    },
                }
            }
        }
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    pub fn layout(&self) -> Layout {
        match self.stored {
            Stored::Dense(_) => Layout::Dense,
            Stored::Sparse { .. } => Layout::Sparse,
        }
    }

    /// `C[i][i]` per item: rows holding the item (counts), or `‖x_i‖²` (weighted).
    pub fn diagonal(&self) -> &[T] {
        &self.diagonal
    }

    /// `C[i][j]` (zero when out of range).
    pub fn get(&self, i: u32, j: u32) -> T {
        let (i, j) = (i as usize, j as usize);
        if i >= self.n_items || j >= self.n_items {
            return T::default();
        }
        match &self.stored {
            Stored::Dense(cells) => cells[i * self.n_items + j],
            Stored::Sparse {
                indptr,
                indices,
                values,
            } => {
                if i == j {
                    return self.diagonal[i];
                }
                let (a, b) = (indptr[i], indptr[i + 1]);
                match indices[a..b].binary_search(&(j as u32)) {
                    Ok(p) => values[a + p],
                    Err(_) => T::default(),
                }
            }
        }
    }

    /// Calls `f(j, C[i][j])` for every `j != i` with a non-zero cell, ascending `j`.
    pub fn for_each_neighbour(&self, i: u32, mut f: impl FnMut(u32, T)) {
        let iu = i as usize;
        if iu >= self.n_items {
            return;
        }
        let zero = T::default();
        match &self.stored {
            Stored::Dense(cells) => {
                let row = &cells[iu * self.n_items..(iu + 1) * self.n_items];
                for (j, &v) in row.iter().enumerate() {
                    if v != zero && j != iu {
                        f(j as u32, v);
                    }
                }
            }
            Stored::Sparse {
                indptr,
                indices,
                values,
            } => {
                let (a, b) = (indptr[iu], indptr[iu + 1]);
                for (&j, &v) in indices[a..b].iter().zip(&values[a..b]) {
                    f(j, v);
                }
            }
        }
    }

    /// Row `i` as `(j, C[i][j])`, `j != i`, non-zero cells, ascending `j`.
    pub fn neighbours(&self, i: u32) -> Vec<(u32, T)> {
        let mut out = Vec::new();
        self.for_each_neighbour(i, |j, v| out.push((j, v)));
        out
    }

    /// The dense row-major `n x n` matrix (diagonal included), when stored dense.
    pub fn dense(&self) -> Option<&[T]> {
        match &self.stored {
            Stored::Dense(cells) => Some(cells),
            Stored::Sparse { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 users x 4 items: u0 = {0, 1, 2}, u1 = {0, 1}, u2 = {1, 3}; weights u0: 1, 2, 1;
    /// u1: 3, 1; u2: 1, 2.
    fn three_by_four() -> Csr {
        Csr::from_triplets(
            3,
            4,
            vec![
                (0, 0, 1.0),
                (0, 1, 2.0),
                (0, 2, 1.0),
                (1, 0, 3.0),
                (1, 1, 1.0),
                (2, 1, 1.0),
                (2, 3, 2.0),
            ],
        )
    }

    #[test]
    fn counts_by_hand_in_both_layouts() {
        // count(0) = 2, count(1) = 3, count(2) = 1, count(3) = 1.
        // Pairs: 0+1 in u0, u1 -> 2; 0+2 in u0 -> 1; 1+2 in u0 -> 1; 1+3 in u2 -> 1; 0+3, 2+3: 0.
        let x = three_by_four();
        for layout in [Layout::Dense, Layout::Sparse] {
            let c = CoOccurrence::<u32>::compute(&x, layout);
            assert_eq!(c.layout(), layout);
            assert_eq!(c.diagonal(), &[2, 3, 1, 1]);
            assert_eq!(c.neighbours(0), vec![(1, 2), (2, 1)]);
            assert_eq!(c.neighbours(1), vec![(0, 2), (2, 1), (3, 1)]);
            assert_eq!(c.neighbours(2), vec![(0, 1), (1, 1)]);
            assert_eq!(c.neighbours(3), vec![(1, 1)]);
            assert_eq!(c.get(0, 3), 0);
            assert_eq!(c.get(3, 1), 1);
            assert_eq!(c.get(1, 1), 3);
            assert_eq!(c.get(9, 1), 0);
            assert!(c.neighbours(9).is_empty());
        }
    }

    #[test]
    fn weighted_by_hand_in_both_layouts() {
        // ‖x_0‖² = 1 + 9 = 10, ‖x_1‖² = 4 + 1 + 1 = 6, ‖x_2‖² = 1, ‖x_3‖² = 4.
        // C01 = 1·2 + 3·1 = 5, C02 = 1·1 = 1, C12 = 2·1 = 2, C13 = 1·2 = 2.
        let x = three_by_four();
        for layout in [Layout::Dense, Layout::Sparse] {
            let c = CoOccurrence::<f32>::compute(&x, layout);
            assert_eq!(c.diagonal(), &[10.0, 6.0, 1.0, 4.0]);
            assert_eq!(c.neighbours(0), vec![(1, 5.0), (2, 1.0)]);
            assert_eq!(c.neighbours(1), vec![(0, 5.0), (2, 2.0), (3, 2.0)]);
            assert_eq!(c.neighbours(3), vec![(1, 2.0)]);
        }
    }

    #[test]
    fn streaming_rows_match_the_stored_matrix() {
        let x = three_by_four();
        let full = CoOccurrence::<u32>::compute(&x, Layout::Dense);
        for layout in [Layout::Dense, Layout::Sparse] {
            let rows = for_each_row::<u32, _, _>(&x, layout, |row| {
                let mut cells = Vec::new();
                row.for_each(|j, v| cells.push((j, v)));
                (row.item, row.diagonal(), cells)
            });
            for (i, (item, d, cells)) in rows.into_iter().enumerate() {
                assert_eq!(item as usize, i);
                assert_eq!(d, full.diagonal()[i]);
                assert_eq!(cells, full.neighbours(i as u32));
            }
        }
    }

    #[test]
    fn layout_follows_density() {
        // 4 items, work = 9 + 4 + 4 = 17 >= 16 / 4: dense.
        assert_eq!(Layout::choose(&three_by_four()), Layout::Dense);
        // 10,000 items, one pair: sparse.
        let sparse = Csr::from_triplets(1, 10_000, vec![(0, 1, 1.0), (0, 9_999, 1.0)]);
        assert_eq!(Layout::choose(&sparse), Layout::Sparse);
        assert_eq!(counts(&sparse).neighbours(1), vec![(9_999, 1)]);
        // Empty matrices work in both layouts.
        let empty = Csr::from_triplets(0, 0, Vec::new());
        for layout in [Layout::Dense, Layout::Sparse] {
            assert_eq!(CoOccurrence::<u32>::compute(&empty, layout).n_items(), 0);
        }
    }

    #[test]
    fn layouts_agree_on_synthetic_histories() {
        let data = crate::reco::data::Dataset::from_interactions(
            &crate::reco::synthetic::generate_interactions(
                &crate::reco::synthetic::InteractionGenConfig {
                    interactions: 3_000,
                    users: 60,
                    items: 120,
                    ..Default::default()
                },
            ),
            None,
        );
        let x = &data.user_items;
        let dense = CoOccurrence::<u32>::compute(x, Layout::Dense);
        let sparse = CoOccurrence::<u32>::compute(x, Layout::Sparse);
        assert_eq!(dense.diagonal(), sparse.diagonal());
        for i in 0..x.n_cols as u32 {
            assert_eq!(dense.neighbours(i), sparse.neighbours(i));
        }
    }
}
