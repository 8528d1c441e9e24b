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
//!   can be up to [`SnapshotCache::max_age`] old in the snapshot; the listing re-reads the items
//!   of the page it returns, so the stock and price a shopper sees are current.

use std::{
    cmp::Ordering,
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use crate::{
    domain::catalog::{self, Category, ProductRecord},
    store::{ItemStore, StoreError},
};

/// Product embeddings by product id, each with the `updated_at` of the product it was read for.
pub type EmbeddingMap = HashMap<String, (String, Arc<[f32]>)>;

/// Every product and category at one catalog version.
#[derive(Debug)]
pub struct CatalogSnapshot {
    pub version: u64,
    pub products: Vec<ProductRecord>,
    pub categories: HashMap<String, Category>,
    by_id: HashMap<String, usize>,
    children: HashMap<String, Vec<String>>,
    loaded_at: Instant,
    /// Loaded on first use (similar products); reuses the previous snapshot's vectors for
    /// products that did not change.
    embeddings: tokio::sync::OnceCell<Arc<EmbeddingMap>>,
    previous_embeddings: Option<Arc<EmbeddingMap>>,
    /// The products' words for search, built on first use (see `domain::search`).
    search_index: std::sync::OnceLock<crate::domain::search::SearchIndex>,
}

impl CatalogSnapshot {
    pub fn new(version: u64, products: Vec<ProductRecord>, categories: Vec<Category>) -> Self {
        let by_id = products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
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
            embeddings: tokio::sync::OnceCell::new(),
            previous_embeddings: None,
            search_index: std::sync::OnceLock::new(),
        }
    }

    /// The search index of this snapshot (built once, on first use).
    pub fn search_index(&self) -> &crate::domain::search::SearchIndex {
        self.search_index
            .get_or_init(|| crate::domain::search::SearchIndex::build(self))
    }

    /// The embeddings of the active products, fetched once per snapshot; only products that are
    /// new or changed since the previous snapshot are read from the store.
    pub async fn embeddings(&self, store: &dyn ItemStore) -> Result<Arc<EmbeddingMap>, StoreError> {
        self.embeddings
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
                Ok(Arc::new(map))
            })
            .await
            .cloned()
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
        .map(|c| snapshot.category_ids_named(c));
    let brand = filter.brand.as_deref().map(str::trim);
    let words: Vec<String> = filter
        .search_term
        .as_deref()
        .map(|t| t.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();

    let mut hits: Vec<&ProductRecord> = snapshot
        .products
        .iter()
        .filter(|p| filter.include_inactive || p.is_active)
        .filter(|p| {
            categories
                .as_ref()
                .is_none_or(|ids| ids.contains(&p.category_id))
        })
        .filter(|p| {
            brand.is_none_or(|b| {
                p.brand
                    .as_deref()
                    .is_some_and(|pb| pb.eq_ignore_ascii_case(b))
            })
        })
        .filter(|p| filter.min_price.is_none_or(|m| p.price >= m))
        .filter(|p| filter.max_price.is_none_or(|m| p.price <= m))
        .filter(|p| filter.in_stock.is_none_or(|s| p.available() == s))
        .filter(|p| words.is_empty() || matches_words(p, &words))
        .collect();

    let key = |a: &ProductRecord, b: &ProductRecord| -> Ordering {
        match sort_by {
            SortBy::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            SortBy::Price => a.price.total_cmp(&b.price),
            SortBy::CreatedAt => a.created_at.cmp(&b.created_at),
            SortBy::Popularity => popularity(a).cmp(&popularity(b)),
        }
    };
    hits.sort_by(|a, b| {
        let o = key(a, b);
        let o = if order == SortOrder::Desc {
            o.reverse()
        } else {
            o
        };
        o.then_with(|| a.id.cmp(&b.id))
    });

    let total = hits.len();
    let start = page.saturating_sub(1).saturating_mul(size).min(total);
    let end = start.saturating_add(size).min(total);
    ListPage {
        items: hits[start..end].to_vec(),
        total,
    }
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

/// The process-wide snapshot, reloaded when the catalog version changes or it is older than
/// `max_age`. Concurrent requests share one reload.
pub struct SnapshotCache {
    current: RwLock<Option<Arc<CatalogSnapshot>>>,
    reload: tokio::sync::Mutex<()>,
    max_age: Duration,
}

impl SnapshotCache {
    pub fn new(max_age: Duration) -> Self {
        Self {
            current: RwLock::new(None),
            reload: tokio::sync::Mutex::new(()),
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
    pub async fn get(&self, store: &dyn ItemStore) -> Result<Arc<CatalogSnapshot>, StoreError> {
        let version = catalog::catalog_version(store).await?;
        if let Some(s) = self.cached().filter(|s| self.fresh(s, version)) {
            return Ok(s);
        }
        let _one_reload = self.reload.lock().await;
        if let Some(s) = self.cached().filter(|s| self.fresh(s, version)) {
            return Ok(s);
        }
        let mut snap = CatalogSnapshot::load(store).await?;
        snap.previous_embeddings = self.cached().and_then(|old| old.embeddings.get().cloned());
        let snap = Arc::new(snap);
        match self.current.write() {
            Ok(mut g) => *g = Some(snap.clone()),
            Err(poisoned) => *poisoned.into_inner() = Some(snap.clone()),
        }
        Ok(snap)
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

    #[tokio::test]
    async fn the_cache_reloads_after_a_catalog_write_and_not_before() {
        let store = LocalStore::in_memory().unwrap();
        let e = LocalEmbedder::new(64);
        let c = catalog::create_category(
            &store,
            NewCategory {
                name: "Phones".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let p = catalog::create_product(
            &store,
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
        let cache = SnapshotCache::new(Duration::from_secs(3600));
        let first = cache.get(&store).await.unwrap();
        assert_eq!(first.products.len(), 1);
        let again = cache.get(&store).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "no write, no reload");

        let patch = ProductPatch {
            price: Some(12.0),
            ..Default::default()
        };
        catalog::update_product(&store, &e, &p.id, &patch)
            .await
            .unwrap();
        let after = cache.get(&store).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &after));
        assert_eq!(after.product(&p.id).unwrap().price, 12.0);
        assert_eq!(after.category_name(&c.id), Some("Phones"));

        // A zero max age reloads every time (counters that change without a catalog write).
        let eager = SnapshotCache::new(Duration::ZERO);
        let a = eager.get(&store).await.unwrap();
        let b = eager.get(&store).await.unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
    }

    #[tokio::test]
    async fn embeddings_are_reused_across_snapshots_unless_the_product_changed() {
        let store = LocalStore::in_memory().unwrap();
        let e = LocalEmbedder::new(64);
        let c = catalog::create_category(
            &store,
            NewCategory {
                name: "Phones".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            let p = catalog::create_product(
                &store,
                &e,
                NewProduct {
                    name: format!("Phone {i}"),
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
        let cache = SnapshotCache::new(Duration::from_secs(3600));
        let first = cache
            .get(&store)
            .await
            .unwrap()
            .embeddings(&store)
            .await
            .unwrap();
        assert_eq!(first.len(), 3);

        let patch = ProductPatch {
            description: Some(Some("now with a garden hose".into())),
            ..Default::default()
        };
        catalog::update_product(&store, &e, &ids[0], &patch)
            .await
            .unwrap();
        let second = cache
            .get(&store)
            .await
            .unwrap()
            .embeddings(&store)
            .await
            .unwrap();
        assert_eq!(second.len(), 3);
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
}
