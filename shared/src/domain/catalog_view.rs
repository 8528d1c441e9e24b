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

use crate::{
    domain::catalog::{self, Category, ProductRecord},
    reco::similarity::{dot, normalized, top_k_scored},
    store::{ItemStore, StoreError},
};

/// Product embeddings by product id, each with the `updated_at` of the product it was read for.
pub type EmbeddingMap = HashMap<String, (String, Arc<[f32]>)>;

/// The unit embedding vectors of a snapshot's active products in one contiguous array, one row
/// per product in the order of [`CatalogSnapshot::products`], so that comparing a vector with
/// the whole catalog is a scan of dot products with no lookups.
#[derive(Debug)]
pub struct ProductVectors {
    dim: usize,
    rows: Vec<f32>,
    present: Vec<bool>,
    /// The stored vectors by product id, reused by the next snapshot for unchanged products.
    by_id: Arc<EmbeddingMap>,
}

impl ProductVectors {
    fn build(products: &[ProductRecord], by_id: Arc<EmbeddingMap>) -> Self {
        // Every product is embedded by the same model; if the model (and so the length) changed,
        // the length most vectors have wins and the others wait for re-embedding.
        let mut lengths: HashMap<usize, usize> = HashMap::new();
        for (_, v) in by_id.values() {
            *lengths.entry(v.len()).or_default() += 1;
        }
        let dim = lengths
            .into_iter()
            .max_by_key(|&(len, n)| (n, len))
            .map_or(0, |(len, _)| len);
        let mut rows = vec![0.0; products.len() * dim];
        let mut present = vec![false; products.len()];
        for (i, p) in products.iter().enumerate() {
            let unit = by_id
                .get(&p.id)
                .filter(|(_, v)| v.len() == dim)
                .and_then(|(_, v)| normalized(v));
            if let Some(unit) = unit {
                rows[i * dim..(i + 1) * dim].copy_from_slice(&unit);
                present[i] = true;
            }
        }
        Self {
            dim,
            rows,
            present,
            by_id,
        }
    }

    /// The unit vector of the product at `index` of the snapshot, if it has one.
    pub fn row(&self, index: usize) -> Option<&[f32]> {
        if !self.present.get(index).copied().unwrap_or(false) {
            return None;
        }
        self.rows.get(index * self.dim..(index + 1) * self.dim)
    }

    /// `query` made comparable with the rows (unit length), or `None` when its length is not the
    /// catalog's or it is the zero vector.
    pub fn unit_query(&self, query: &[f32]) -> Option<Vec<f32>> {
        (query.len() == self.dim)
            .then(|| normalized(query))
            .flatten()
    }

    /// Cosine similarity of a unit query vector with the product at `index` (`None` when that
    /// product has no vector).
    pub fn similarity(&self, unit_query: &[f32], index: usize) -> Option<f32> {
        self.row(index).map(|r| dot(unit_query, r).clamp(-1.0, 1.0))
    }

    /// The stored vectors by product id.
    pub fn by_id(&self) -> &EmbeddingMap {
        &self.by_id
    }

    /// How many products have a vector.
    pub fn len(&self) -> usize {
        self.present.iter().filter(|&&p| p).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every product and category at one catalog version.
#[derive(Debug)]
pub struct CatalogSnapshot {
    pub version: u64,
    pub products: Vec<ProductRecord>,
    pub categories: HashMap<String, Category>,
    by_id: HashMap<String, usize>,
    children: HashMap<String, Vec<String>>,
    loaded_at: Instant,
    /// Loaded on first use (similar products, search); reuses the previous snapshot's vectors
    /// for products that did not change.
    vectors: tokio::sync::OnceCell<Arc<ProductVectors>>,
    previous_embeddings: Option<Arc<EmbeddingMap>>,
    /// The products' words for search, built on first use (see `domain::search`).
    search_index: std::sync::OnceLock<crate::domain::search::SearchIndex>,
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
    pub fn search_index(&self) -> &crate::domain::search::SearchIndex {
        self.search_index
            .get_or_init(|| crate::domain::search::SearchIndex::build(self))
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
                for (id, e) in catalog::get_embeddings(store, &missing).await? {
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
        let version = catalog::catalog_version(store).await?;
        let categories = catalog::list_categories(store).await?;
        let products = catalog::list_all_products(store).await?;
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
    pub min_price: Option<f64>,
    pub max_price: Option<f64>,
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
            SortBy::Price => a.price.total_cmp(&b.price),
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
        let version = catalog::catalog_version(store.as_ref()).await?;
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{
        ai::local::LocalEmbedder,
        domain::catalog::{NewCategory, NewProduct, ProductPatch},
        store::local::LocalStore,
    };

    fn product(
        id: &str,
        name: &str,
        cat: &str,
        brand: &str,
        price: f64,
        stock: i64,
    ) -> ProductRecord {
        ProductRecord {
            id: id.into(),
            name: name.into(),
            code: id.to_uppercase(),
            brand: Some(brand.into()),
            price,
            compare_price: None,
            description: Some(format!("{name} by {brand}")),
            specification: Default::default(),
            technical_details: Default::default(),
            images: vec![],
            in_stock: true,
            stock_quantity: stock,
            category_id: cat.into(),
            tags: vec![],
            meta_title: None,
            meta_description: None,
            is_active: true,
            view_count: 0,
            order_count: 0,
            basket_count: 0,
            created_at: format!("2026-01-{:02}T00:00:00Z", id.len() + price as usize % 20),
            updated_at: String::new(),
            version: 1,
        }
    }

    fn cat(id: &str, name: &str, parent: Option<&str>) -> Category {
        Category {
            id: id.into(),
            name: name.into(),
            slug: catalog::slugify(name),
            description: None,
            parent_id: parent.map(str::to_string),
            created_at: String::new(),
        }
    }

    fn snapshot() -> CatalogSnapshot {
        let mut hidden = product("h", "Hidden Phone", "phones", "Apple", 10.0, 5);
        hidden.is_active = false;
        let mut popular = product("d", "Galaxy S24", "phones", "Samsung", 799.0, 3);
        popular.order_count = 5;
        let mut viewed = product("e", "Pixel 8", "phones", "Google", 699.0, 0);
        viewed.view_count = 30;
        CatalogSnapshot::new(
            7,
            vec![
                product("a", "iPhone 15 Pro", "phones", "Apple", 999.0, 50),
                product("b", "MacBook Air", "laptops", "Apple", 1199.0, 10),
                product("c", "Garden Hose", "garden", "Gardena", 29.0, 100),
                popular,
                viewed,
                hidden,
            ],
            vec![
                cat("electronics", "Electronics", None),
                cat("phones", "Smartphones", Some("electronics")),
                cat("laptops", "Laptops", Some("electronics")),
                cat("garden", "Garden", None),
            ],
        )
    }

    fn ids(page: &ListPage<'_>) -> Vec<String> {
        page.items.iter().map(|p| p.id.clone()).collect()
    }

    #[test]
    fn filters_combine_and_categories_include_children() {
        let s = snapshot();
        let all = list_products(
            &s,
            &ProductFilter::default(),
            SortBy::Price,
            SortOrder::Asc,
            1,
            100,
        );
        assert_eq!(
            ids(&all),
            ["c", "e", "d", "a", "b"],
            "inactive product hidden"
        );
        assert_eq!(all.total, 5);

        let f = ProductFilter {
            category: Some("electronics".into()),
            brand: Some("apple".into()),
            ..Default::default()
        };
        let r = list_products(&s, &f, SortBy::Price, SortOrder::Desc, 1, 10);
        assert_eq!(ids(&r), ["b", "a"]);

        let f = ProductFilter {
            category: Some("Smartphones".into()),
            min_price: Some(700.0),
            max_price: Some(999.0),
            in_stock: Some(true),
            ..Default::default()
        };
        assert_eq!(
            ids(&list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10)),
            ["d", "a"]
        );

        let f = ProductFilter {
            in_stock: Some(false),
            ..Default::default()
        };
        assert_eq!(
            ids(&list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10)),
            ["e"]
        );

        let f = ProductFilter {
            search_term: Some("APPLE air".into()),
            ..Default::default()
        };
        assert_eq!(
            ids(&list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10)),
            ["b"]
        );

        let f = ProductFilter {
            category: Some("No such category".into()),
            ..Default::default()
        };
        assert_eq!(
            list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10).total,
            0
        );

        let f = ProductFilter {
            include_inactive: true,
            ..Default::default()
        };
        assert_eq!(
            list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10).total,
            6
        );
    }

    #[test]
    fn sorts_and_pages() {
        let s = snapshot();
        let f = ProductFilter::default();
        let by_name = list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10);
        assert_eq!(ids(&by_name), ["d", "c", "a", "b", "e"]);
        let pop = list_products(&s, &f, SortBy::Popularity, SortOrder::Desc, 1, 2);
        assert_eq!(ids(&pop), ["d", "e"], "5 orders (50) beat 30 views");
        // Pages partition the result: no duplicates or gaps, and past the end is empty.
        let mut seen = Vec::new();
        for page in 1..=3 {
            seen.extend(ids(&list_products(
                &s,
                &f,
                SortBy::Price,
                SortOrder::Asc,
                page,
                2,
            )));
        }
        assert_eq!(seen, ["c", "e", "d", "a", "b"]);
        let past = list_products(&s, &f, SortBy::Price, SortOrder::Asc, 4, 2);
        assert!(past.items.is_empty());
        assert_eq!(past.total, 5);
        assert_eq!(page_count(5, 2), 3);
        assert_eq!(page_count(0, 20), 0);
        assert_eq!(SortBy::parse("rating"), None);
        assert_eq!(SortOrder::parse("up"), None);
    }

    fn memory_store() -> Arc<dyn ItemStore> {
        Arc::new(LocalStore::in_memory().unwrap())
    }

    #[tokio::test]
    async fn the_cache_reloads_after_a_catalog_write_and_not_before() {
        let store = memory_store();
        let store = &store;
        let e = LocalEmbedder::new(64);
        let c = catalog::create_category(
            store.as_ref(),
            NewCategory {
                name: "Phones".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let p = catalog::create_product(
            store.as_ref(),
            &e,
            NewProduct {
                name: "Phone".into(),
                code: "P-1".into(),
                price: 10.0,
                in_stock: true,
                stock_quantity: 1,
                category_id: c.id.clone(),
                is_active: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
        let first = cache.get(store).await.unwrap();
        assert_eq!(first.products.len(), 1);
        let again = cache.get(store).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "no write, no reload");

        let patch = ProductPatch {
            price: Some(12.0),
            ..Default::default()
        };
        catalog::update_product(store.as_ref(), &e, &p.id, &patch)
            .await
            .unwrap();
        let after = cache.get(store).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &after));
        assert_eq!(after.product(&p.id).unwrap().price, 12.0);
        assert_eq!(after.category_name(&c.id), Some("Phones"));

        // A zero max age reloads every time (counters that change without a catalog write).
        let eager = Arc::new(SnapshotCache::new(Duration::ZERO));
        let a = eager.get(store).await.unwrap();
        let b = eager.get(store).await.unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
    }

    #[tokio::test]
    async fn embeddings_are_reused_across_snapshots_unless_the_product_changed() {
        let store = memory_store();
        let store = &store;
        let e = LocalEmbedder::new(64);
        let ids = phone_catalog(store.as_ref(), &["Phone 0", "Phone 1", "Phone 2"]).await;
        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
        let vectors = || async {
            let snapshot = cache.get(store).await.unwrap();
            snapshot.vectors(store.as_ref()).await.unwrap()
        };
        let first = vectors().await;
        assert_eq!(first.len(), 3);
        let first = first.by_id();

        let patch = ProductPatch {
            description: Some(Some("now with a garden hose".into())),
            ..Default::default()
        };
        catalog::update_product(store.as_ref(), &e, &ids[0], &patch)
            .await
            .unwrap();
        let second = vectors().await;
        assert_eq!(second.len(), 3);
        let second = second.by_id();
        assert_ne!(
            first[&ids[0]].1, second[&ids[0]].1,
            "changed product re-read"
        );
        assert!(
            Arc::ptr_eq(&first[&ids[1]].1, &second[&ids[1]].1),
            "unchanged reused"
        );
        assert!(Arc::ptr_eq(&first[&ids[2]].1, &second[&ids[2]].1));
    }

    async fn phone_catalog(store: &dyn ItemStore, names: &[&str]) -> Vec<String> {
        let e = LocalEmbedder::new(64);
        let c = catalog::create_category(
            store,
            NewCategory {
                name: "Phones".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mut ids = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let p = catalog::create_product(
                store,
                &e,
                NewProduct {
                    name: name.to_string(),
                    code: format!("P-{i}"),
                    price: 10.0,
                    category_id: c.id.clone(),
                    is_active: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            ids.push(p.id);
        }
        ids
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stale_snapshot_is_served_while_a_newer_one_loads_in_the_background() {
        let store = memory_store();
        let ids = phone_catalog(store.as_ref(), &["Phone A", "Phone B"]).await;
        let cache = Arc::new(SnapshotCache::new(Duration::from_millis(200)));
        let first = cache.get(&store).await.unwrap();
        first.vectors(store.as_ref()).await.unwrap();
        first.search_index();
        first.sorted(SortBy::Price, SortOrder::Asc);
        // A counter moves without a catalog write (an order takes stock).
        store
            .update(
                &crate::store::keys::product(&ids[0]),
                crate::store::Update::new().add("stock_quantity", 5),
                None,
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        // Past max_age: the old snapshot answers at once and a refresh starts.
        let stale = cache.get(&store).await.unwrap();
        assert!(Arc::ptr_eq(&first, &stale));
        let mut fresh = stale.clone();
        for _ in 0..200 {
            fresh = cache.cached().unwrap();
            if !Arc::ptr_eq(&first, &fresh) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            !Arc::ptr_eq(&first, &fresh),
            "the background refresh swapped in a new snapshot"
        );
        assert_eq!(fresh.product(&ids[0]).unwrap().stock_quantity, 5);
        assert!(fresh.vectors.initialized(), "vectors built before the swap");
        assert!(
            fresh.search_index.get().is_some(),
            "search index built before the swap"
        );
        assert!(
            Arc::ptr_eq(
                &first.vectors.get().unwrap().by_id()[&ids[1]].1,
                &fresh.vectors.get().unwrap().by_id()[&ids[1]].1
            ),
            "unchanged vectors reused"
        );
        // Far past max_age (an instance thawed after a long pause), a request waits for the load.
        tokio::time::sleep(Duration::from_millis(200 * u64::from(STALE_LIMIT) + 50)).await;
        let waited = cache.get(&store).await.unwrap();
        assert!(!Arc::ptr_eq(&fresh, &waited));
        assert!(waited.loaded_at.elapsed() < Duration::from_millis(200));
    }

    #[tokio::test]
    async fn similar_products_are_the_nearest_active_vectors() {
        let store = memory_store();
        let ids = phone_catalog(
            store.as_ref(),
            &[
                "Wireless noise cancelling headphones",
                "Wireless noise cancelling headphones pro",
                "Wireless earbuds with noise cancelling",
                "Garden hose 20 m",
                "Wireless noise cancelling headphones lite",
            ],
        )
        .await;
        // The closest one is deactivated: it must not be suggested.
        catalog::update_product(
            store.as_ref(),
            &LocalEmbedder::new(64),
            &ids[1],
            &ProductPatch {
                is_active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
        let snap = cache.get(&store).await.unwrap();
        let vectors = snap.vectors(store.as_ref()).await.unwrap();
        assert_eq!(vectors.len(), 4, "inactive products have no vector");
        let me = snap.index_of(&ids[0]).unwrap();
        let similar: Vec<(String, f32)> = snap
            .similar_to(&vectors, me, 10)
            .into_iter()
            .map(|(i, s)| (snap.products[i].id.clone(), s))
            .collect();
        let order: Vec<&str> = similar.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(order, [ids[4].as_str(), ids[2].as_str(), ids[3].as_str()]);
        // Each score is the cosine of the stored embeddings.
        for (id, score) in &similar {
            let a = catalog::get_embedding(store.as_ref(), &ids[0])
                .await
                .unwrap()
                .unwrap();
            let b = catalog::get_embedding(store.as_ref(), id)
                .await
                .unwrap()
                .unwrap();
            assert!((score - crate::reco::similarity::cosine(&a.vector, &b.vector)).abs() < 1e-5);
        }
        assert!(similar[0].1 > similar[2].1);
        assert_eq!(snap.similar_to(&vectors, me, 1).len(), 1);
        assert!(snap.similar_to(&vectors, me, 0).is_empty());
    }

    #[test]
    fn vectors_of_another_length_wait_for_re_embedding() {
        let products: Vec<ProductRecord> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| product(id, id, "phones", "X", 1.0, 1))
            .collect();
        let v = |xs: &[f32]| (String::new(), Arc::<[f32]>::from(xs));
        let by_id: EmbeddingMap = [
            ("a".to_string(), v(&[3.0, 4.0])),
            ("b".to_string(), v(&[1.0, 0.0])),
            ("c".to_string(), v(&[1.0, 0.0, 0.0])),
            ("d".to_string(), v(&[0.0, 0.0])),
        ]
        .into_iter()
        .collect();
        let vectors = ProductVectors::build(&products, Arc::new(by_id));
        assert_eq!(vectors.row(0), Some(&[0.6f32, 0.8][..]));
        assert!(vectors.row(2).is_none(), "other length");
        assert!(vectors.row(3).is_none(), "zero vector");
        assert!(vectors.row(9).is_none());
        assert_eq!(vectors.len(), 2);
        let q = vectors.unit_query(&[0.0, 2.0]).unwrap();
        assert!((vectors.similarity(&q, 0).unwrap() - 0.8).abs() < 1e-6);
        assert!(vectors.unit_query(&[1.0, 0.0, 0.0]).is_none());
    }
}
