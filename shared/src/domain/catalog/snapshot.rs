//! An in-process snapshot of the catalog and the product listing over it (filters, sorts, pages).
//!
//! The product list filters by category (with its sub-categories), brand, price range, stock and a
//! search term, and sorts by name, price, creation time or popularity. DynamoDB cannot answer that
//! combination from one index without a scan, so each function instance keeps the catalog in
//! memory and answers from it:
//! - the snapshot is every product and category, loaded with GSI queries (never a table scan);
//! - before use it checks the catalog version item (one `GetItem`): any category or product write
//!   bumps that version in the same transaction, so edits are seen on the next request;
//! - counters that change without a catalog write (stock after an order, views, order counts)
//!   can be up to [`SnapshotCache::max_age`] old in the snapshot (a little more while a newer one
//!   is loaded in the background); the listing re-reads the items of the page it returns, so the
//!   stock and price a shopper sees are current.
//! - what similar products and search need on top (unit vectors of the embeddings, the search
//!   index) is built once per snapshot, and a background refresh builds it before the new
//!   snapshot is swapped in, so requests do not pay for it.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering as AtomicOrdering},
    },
    time::{Duration, Instant},
};

use super::{
    records::{Category, ProductRecord},
    search::SearchIndex,
    store_ops,
    vectors::{self, EmbeddingMap, ProductVectors},
};
use crate::{
    money::Cents,
    reco::similarity::top_k_scored,
    store::{ItemStore, StoreError},
};

/// Every product and category at one catalog version.
#[derive(Debug)]
pub struct CatalogSnapshot {
    pub version: u64,
    pub products: Vec<ProductRecord>,
    pub categories: HashMap<String, Category>,
    by_id: foldhash::HashMap<String, usize>,
    children: HashMap<String, Vec<String>>,
    loaded_at: Instant,
    /// Loaded on first use (similar products, search); reuses the previous snapshot's vectors
    /// for products that did not change.
    vectors: tokio::sync::OnceCell<Arc<ProductVectors>>,
    previous_embeddings: Option<Arc<EmbeddingMap>>,
    /// The products' words for search, built on first use (see `domain::search`).
    search_index: std::sync::OnceLock<SearchIndex>,
    /// Per product: the slot of its category in `category_slot` (`u32::MAX` when unknown).
    product_category: Vec<u32>,
    category_slot: HashMap<String, u32>,
    /// Product indices in each listing order ([`SortBy`] x [`SortOrder`]), built on first use.
    sorted: [std::sync::OnceLock<Vec<u32>>; 8],
}

impl CatalogSnapshot {
    pub fn new(version: u64, products: Vec<ProductRecord>, categories: Vec<Category>) -> Self {
        let by_id = products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        let category_slot: HashMap<String, u32> =
            categories.iter().map(|c| c.id.clone()).zip(0..).collect();
        let product_category = products
            .iter()
            .map(|p| {
                category_slot
                    .get(&p.category_id)
                    .copied()
                    .unwrap_or(u32::MAX)
            })
            .collect();
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for c in &categories {
            if let Some(parent) = &c.parent_id {
                children
                    .entry(parent.clone())
                    .or_default()
                    .push(c.id.clone());
            }
        }
        Self {
            version,
            products,
            categories: categories.into_iter().map(|c| (c.id.clone(), c)).collect(),
            by_id,
            children,
            loaded_at: Instant::now(),
            vectors: tokio::sync::OnceCell::new(),
            previous_embeddings: None,
            search_index: std::sync::OnceLock::new(),
            product_category,
            category_slot,
            sorted: Default::default(),
        }
    }

    /// The search index of this snapshot (built once, on first use).
    pub fn search_index(&self) -> &SearchIndex {
        self.search_index
            .get_or_init(|| SearchIndex::build(&self.products, &self.categories))
    }

    /// The embedding vectors of the active products, fetched once per snapshot; only products
    /// that are new or changed since the previous snapshot are read from the store.
    pub async fn vectors(&self, store: &dyn ItemStore) -> Result<Arc<ProductVectors>, StoreError> {
        self.vectors
            .get_or_try_init(|| async {
                let mut map = EmbeddingMap::with_capacity(self.products.len());
                let mut missing = Vec::new();
                for p in self.products.iter().filter(|p| p.is_active) {
                    match self.previous_embeddings.as_ref().and_then(|m| m.get(&p.id)) {
                        Some((at, v)) if *at == p.updated_at => {
                            map.insert(p.id.clone(), (at.clone(), v.clone()));
                        }
                        _ => missing.push(p.id.clone()),
                    }
                }
                for (id, e) in vectors::get_embeddings(store, &missing).await? {
                    if let Some(p) = self.product(&id) {
                        map.insert(id, (p.updated_at.clone(), e.vector.into()));
                    }
                }
                Ok(Arc::new(ProductVectors::build(
                    &self.products,
                    Arc::new(map),
                )))
            })
            .await
            .cloned()
    }

    /// Index of a product in [`Self::products`].
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The `k` active products most similar to the product at `index` by embedding (cosine),
    /// best first, ties by id; empty when that product has no vector.
    pub fn similar_to(
        &self,
        vectors: &ProductVectors,
        index: usize,
        k: usize,
    ) -> Vec<(usize, f32)> {
        let Some(query) = vectors.row(index) else {
            return Vec::new();
        };
        let scored = (0..self.products.len()).filter_map(|i| {
            let score = vectors.similarity(query, i)?;
            Some(((self.products[i].id.as_str(), i), score))
        });
        top_k_scored(scored, k, |&(_, i)| {
            i == index || !self.products[i].is_active
        })
        .into_iter()
        .map(|((_, i), score)| (i, score))
        .collect()
    }

    /// Loads the snapshot from the store.
    pub async fn load(store: &dyn ItemStore) -> Result<Self, StoreError> {
        let version = store_ops::catalog_version(store).await?;
        let categories = store_ops::list_categories(store).await?;
        let products = store_ops::list_all_products(store).await?;
        Ok(Self::new(version, products, categories))
    }

    pub fn product(&self, id: &str) -> Option<&ProductRecord> {
        self.by_id.get(id).map(|&i| &self.products[i])
    }

    pub fn category_name(&self, id: &str) -> Option<&str> {
        self.categories.get(id).map(|c| c.name.as_str())
    }

    /// Product indices in the listing order `sort_by` / `order` (computed once per snapshot).
    pub fn sorted(&self, sort_by: SortBy, order: SortOrder) -> &[u32] {
        self.sorted[Self::sort_slot(sort_by, order)]
            .get_or_init(|| sort_order(&self.products, sort_by, order))
    }

    fn sort_slot(sort_by: SortBy, order: SortOrder) -> usize {
        let by = match sort_by {
            SortBy::Name => 0,
            SortBy::Price => 1,
            SortBy::CreatedAt => 2,
            SortBy::Popularity => 3,
        };
        by * 2 + usize::from(order == SortOrder::Desc)
    }

    /// For each category slot, whether it is one of `ids`.
    fn category_slots(&self, ids: &HashSet<String>) -> Vec<bool> {
        let mut allowed = vec![false; self.category_slot.len()];
        for id in ids {
            if let Some(&slot) = self.category_slot.get(id) {
                allowed[slot as usize] = true;
            }
        }
        allowed
    }

    /// The ids of the categories named `name` (case-insensitive) and all their descendants.
    pub fn category_ids_named(&self, name: &str) -> HashSet<String> {
        let name = name.trim();
        let mut out = HashSet::new();
        let mut stack: Vec<String> = self
            .categories
            .values()
            .filter(|c| c.name.eq_ignore_ascii_case(name) || c.slug.eq_ignore_ascii_case(name))
            .map(|c| c.id.clone())
            .collect();
        while let Some(id) = stack.pop() {
            if out.insert(id.clone())
                && let Some(kids) = self.children.get(&id)
            {
                stack.extend(kids.iter().cloned());
            }
        }
        out
    }
}

/// Sort field of the product list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    Name,
    Price,
    #[default]
    CreatedAt,
    Popularity,
}

impl SortBy {
    /// `name`, `price`, `created_at` or `popularity`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "name" => Some(Self::Name),
            "price" => Some(Self::Price),
            "created_at" => Some(Self::CreatedAt),
            "popularity" => Some(Self::Popularity),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

impl SortOrder {
    /// `asc` or `desc`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "asc" => Some(Self::Asc),
            "desc" => Some(Self::Desc),
            _ => None,
        }
    }
}

/// Popularity used by the `popularity` sort: an order counts as much as ten views.
pub fn popularity(p: &ProductRecord) -> u64 {
    p.order_count
        .saturating_mul(10)
        .saturating_add(p.view_count)
}

/// Filters of the product list (already validated: `min_price <= max_price`).
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Category name or slug; matches the category and its sub-categories.
    pub category: Option<String>,
    pub brand: Option<String>,
    /// Bounds in cents (a query's decimal bounds are converted once, by the handler).
    pub min_price: Option<Cents>,
    pub max_price: Option<Cents>,
    pub in_stock: Option<bool>,
    /// Case-insensitive substring of name, description or brand (every word must match).
    pub search_term: Option<String>,
    /// Include inactive products (admin views); shoppers never see them.
    pub include_inactive: bool,
}

/// One page of a product listing.
#[derive(Debug)]
pub struct ListPage<'a> {
    pub items: Vec<&'a ProductRecord>,
    pub total: usize,
}

/// Filters, sorts and pages the snapshot. `page` starts at 1. Ties are broken by id, so pages are
/// stable.
pub fn list_products<'a>(
    snapshot: &'a CatalogSnapshot,
    filter: &ProductFilter,
    sort_by: SortBy,
    order: SortOrder,
    page: usize,
    size: usize,
) -> ListPage<'a> {
    let categories = filter
        .category
        .as_deref()
        .map(|c| snapshot.category_slots(&snapshot.category_ids_named(c)));
    let brand = filter.brand.as_deref().map(str::trim);
    let words: Vec<String> = filter
        .search_term
        .as_deref()
        .map(|t| t.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    let keep = |i: usize, p: &ProductRecord| {
        (filter.include_inactive || p.is_active)
            && categories.as_ref().is_none_or(|allowed| {
                allowed
                    .get(snapshot.product_category[i] as usize)
                    .copied()
                    .unwrap_or(false)
            })
            && brand.is_none_or(|b| {
                p.brand
                    .as_deref()
                    .is_some_and(|pb| pb.eq_ignore_ascii_case(b))
            })
            && filter.min_price.is_none_or(|m| p.price >= m)
            && filter.max_price.is_none_or(|m| p.price <= m)
            && filter.in_stock.is_none_or(|s| p.available() == s)
            && (words.is_empty() || matches_words(p, &words))
    };

    // One pass over the snapshot's precomputed order: count every match, keep the page's.
    let start = page.saturating_sub(1).saturating_mul(size);
    let mut items = Vec::with_capacity(size.min(100));
    let mut total = 0;
    for &i in snapshot.sorted(sort_by, order) {
        let (i, p) = (i as usize, &snapshot.products[i as usize]);
        if keep(i, p) {
            if total >= start && items.len() < size {
                items.push(p);
            }
            total += 1;
        }
    }
    ListPage { items, total }
}

/// The order of `products` for one sort: by the key (names case-insensitively), ties by id
/// ascending in both directions, so pages are stable.
fn sort_order(products: &[ProductRecord], sort_by: SortBy, order: SortOrder) -> Vec<u32> {
    // Names are lower-cased once each, not in every comparison.
    let names: Vec<String> = if sort_by == SortBy::Name {
        products.iter().map(|p| p.name.to_lowercase()).collect()
    } else {
        Vec::new()
    };
    let mut ix: Vec<u32> = (0..products.len() as u32).collect();
    ix.sort_unstable_by(|&x, &y| {
        let (a, b) = (&products[x as usize], &products[y as usize]);
        let o = match sort_by {
            SortBy::Name => names[x as usize].cmp(&names[y as usize]),
            SortBy::Price => a.price.cmp(&b.price),
            SortBy::CreatedAt => a.created_at.cmp(&b.created_at),
            SortBy::Popularity => popularity(a).cmp(&popularity(b)),
        };
        let o = if order == SortOrder::Desc {
            o.reverse()
        } else {
            o
        };
        o.then_with(|| a.id.cmp(&b.id))
    });
    ix
}

fn matches_words(p: &ProductRecord, words: &[String]) -> bool {
    let haystack = format!(
        "{} {} {}",
        p.name,
        p.brand.as_deref().unwrap_or(""),
        p.description.as_deref().unwrap_or("")
    )
    .to_lowercase();
    words.iter().all(|w| haystack.contains(w.as_str()))
}

/// Number of pages for `total` items at `size` per page (0 when there are none).
pub fn page_count(total: usize, size: usize) -> usize {
    if size == 0 { 0 } else { total.div_ceil(size) }
}

/// A function instance's snapshot (a field of the function's state: the catalog, search and
/// videos functions each hold one). A catalog write (a new catalog version) makes the next request
/// load a new snapshot; concurrent requests share that load. A snapshot older than `max_age`
/// (counters such as stock and popularity may have moved) is still served while a newer one is
/// loaded in the background, up to [`STALE_LIMIT`] times `max_age`, after which the request waits
/// for the load.
pub struct SnapshotCache {
    current: RwLock<Option<Arc<CatalogSnapshot>>>,
    reload: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
    max_age: Duration,
}

/// How many `max_age`s old a snapshot may be and still be served during a background refresh.
pub const STALE_LIMIT: u32 = 4;

/// How stale counters (stock, views) in the catalog snapshot may get by default; catalog edits
/// are seen at once through the catalog version.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30);

impl Default for SnapshotCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_AGE)
    }
}

impl SnapshotCache {
    pub fn new(max_age: Duration) -> Self {
        Self {
            current: RwLock::new(None),
            reload: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
            max_age,
        }
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// Whether a snapshot has been loaded (a fresh instance has none).
    pub fn is_loaded(&self) -> bool {
        self.cached().is_some()
    }

    fn cached(&self) -> Option<Arc<CatalogSnapshot>> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn fresh(&self, snap: &CatalogSnapshot, version: u64) -> bool {
        snap.version == version && snap.loaded_at.elapsed() < self.max_age
    }

    /// The current snapshot: one version read, and a reload only when something changed.
    pub async fn get(
        self: &Arc<Self>,
        store: &Arc<dyn ItemStore>,
    ) -> Result<Arc<CatalogSnapshot>, StoreError> {
        let version = store_ops::catalog_version(store.as_ref()).await?;
        if let Some(s) = self.cached().filter(|s| s.version == version) {
            let age = s.loaded_at.elapsed();
            if age < self.max_age {
                return Ok(s);
            }
            if age < self.max_age.saturating_mul(STALE_LIMIT) {
                self.refresh_in_background(store);
                return Ok(s);
            }
        }
        let _one_reload = self.reload.lock().await;
        if let Some(s) = self.cached().filter(|s| self.fresh(s, version)) {
            return Ok(s);
        }
        self.load(store.as_ref(), false).await
    }

    /// Loads a new snapshot and makes it current. With `warm`, the parts the previous snapshot
    /// had built (vectors, search index) are built first, so no request waits for them.
    async fn load(
        &self,
        store: &dyn ItemStore,
        warm: bool,
    ) -> Result<Arc<CatalogSnapshot>, StoreError> {
        let previous = self.cached();
        let mut snap = CatalogSnapshot::load(store).await?;
        snap.previous_embeddings = previous
            .as_ref()
            .and_then(|old| old.vectors.get())
            .map(|v| v.by_id.clone());
        if warm && let Some(old) = &previous {
            if old.vectors.initialized() {
                snap.vectors(store).await?;
            }
            if old.search_index.get().is_some() {
                snap.search_index();
            }
            for by in [
                SortBy::Name,
                SortBy::Price,
                SortBy::CreatedAt,
                SortBy::Popularity,
            ] {
                for order in [SortOrder::Asc, SortOrder::Desc] {
                    if old.sorted[CatalogSnapshot::sort_slot(by, order)]
                        .get()
                        .is_some()
                    {
                        snap.sorted(by, order);
                    }
                }
            }
        }
        let snap = Arc::new(snap);
        let _previous = match self.current.write() {
            Ok(mut g) => g.replace(snap.clone()),
            Err(poisoned) => poisoned.into_inner().replace(snap.clone()),
        };
        Ok(snap)
    }

    /// Starts loading a newer snapshot on a blocking thread (building the index is CPU work that
    /// must not hold up the async workers), unless one is already being loaded. Requests go on
    /// with the current snapshot meanwhile. On Lambda the thread runs while the instance is
    /// handling invocations and is frozen with it in between.
    fn refresh_in_background(self: &Arc<Self>, store: &Arc<dyn ItemStore>) {
        if self.refreshing.swap(true, AtomicOrdering::AcqRel) {
            return;
        }
        /// Clears the flag however the refresh ends (error or panic included).
        struct Done(Arc<SnapshotCache>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.refreshing.store(false, AtomicOrdering::Release);
            }
        }
        let done = Done(self.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            let cache = &done.0;
            let previous = cache.cached();
            let result = runtime.block_on(async {
                let _one_reload = cache.reload.lock().await;
                cache.load(store.as_ref(), true).await
            });
            match result {
                // Free the old snapshot here rather than in whichever request lets go of it
                // last (tens of thousands of allocations): wait briefly for those requests.
                Ok(_) => {
                    if let Some(old) = previous {
                        let deadline = Instant::now() + Duration::from_secs(5);
                        while Arc::strong_count(&old) > 1 && Instant::now() < deadline {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "background catalog refresh failed; the previous snapshot stays"
                ),
            }
        });
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
