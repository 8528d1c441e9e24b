//! Catalog: categories and products, their uniqueness rules, and the embedding kept per product.
//!
//! Invariants, kept by transactions in both store implementations:
//! - a product code is unique, case-insensitively: a marker item is written in the same
//!   transaction as the product that owns it (and swapped in one transaction when the code changes);
//! - a category slug is unique the same way, and a category's parent exists when it is written;
//! - a product's category exists when the product is written (a condition check in the same
//!   transaction);
//! - every write of a product item is conditioned on the `version` it was read at and increments
//!   it; writers that only change counters (stock, views, orders) use `ADD` and also add 1 to
//!   `version`, so a whole-item write never overwrites a concurrent stock change;
//! - every catalog write adds 1 to the catalog version (`CATALOG` / `VERSION`) in the same
//!   transaction, so an in-process snapshot of the catalog knows when it is stale;
//! - a product's embedding item is written in the same transaction as the product text it was
//!   computed from (`text_hash` says which text that was).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{
    ai::{AiError, Embedder, Provenance},
    store::{
        self, Condition, GSI1PK, GSI1SK, GSI2PK, GSI2SK, Item, ItemStore, Key, PK, Query, SK,
        StoreError, TxOp, Update, keys,
    },
};

/// A category as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Category {
    pub id: String,
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    pub created_at: String,
}

/// What a new category is made of (already validated).
#[derive(Debug, Clone, Default)]
pub struct NewCategory {
    pub name: String,
    /// Derived from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub parent_id: Option<String>,
}

/// A category with its sub-categories, as `GET /products/categories/` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryNode {
    pub id: String,
    pub name: String,
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[schema(no_recursion)]
    pub children: Vec<CategoryNode>,
}

/// A product as stored. `stock_quantity`, `view_count` and `order_count` change by atomic `ADD`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRecord {
    pub id: String,
    pub name: String,
    pub code: String,
    #[serde(default)]
    pub brand: Option<String>,
    pub price: f64,
    #[serde(default)]
    pub compare_price: Option<f64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub specification: Map<String, Value>,
    #[serde(default)]
    pub technical_details: Map<String, Value>,
    #[serde(default)]
    pub images: Vec<String>,
    /// The merchant's availability switch; a product is in stock when this is on and
    /// `stock_quantity` is above zero (see [`ProductRecord::available`]).
    pub in_stock: bool,
    pub stock_quantity: i64,
    pub category_id: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub meta_title: Option<String>,
    #[serde(default)]
    pub meta_description: Option<String>,
    pub is_active: bool,
    #[serde(default)]
    pub view_count: u64,
    #[serde(default)]
    pub order_count: u64,
    /// Number of orders that contained the product.
    #[serde(default)]
    pub basket_count: u64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub version: u64,
}

impl ProductRecord {
    /// In stock as shoppers see it: switched on and at least one unit left.
    pub fn available(&self) -> bool {
        self.in_stock && self.stock_quantity > 0
    }
}

/// What a new product is made of (already validated: price > 0, stock >= 0).
#[derive(Debug, Clone, Default)]
pub struct NewProduct {
    pub name: String,
    pub code: String,
    pub brand: Option<String>,
    pub price: f64,
    pub compare_price: Option<f64>,
    pub description: Option<String>,
    pub specification: Map<String, Value>,
    pub technical_details: Map<String, Value>,
    pub images: Vec<String>,
    pub in_stock: bool,
    pub stock_quantity: i64,
    pub category_id: String,
    pub tags: Vec<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub is_active: bool,
}

/// A partial update: only the fields that are `Some` change. For the optional text fields,
/// `Some(None)` clears the value.
#[derive(Debug, Clone, Default)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub code: Option<String>,
    pub brand: Option<Option<String>>,
    pub price: Option<f64>,
    pub compare_price: Option<Option<f64>>,
    pub description: Option<Option<String>>,
    pub specification: Option<Map<String, Value>>,
    pub technical_details: Option<Map<String, Value>>,
    pub images: Option<Vec<String>>,
    pub in_stock: Option<bool>,
    pub stock_quantity: Option<i64>,
    pub category_id: Option<String>,
    pub tags: Option<Vec<String>>,
    pub meta_title: Option<Option<String>>,
    pub meta_description: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// A product's embedding as stored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEmbedding {
    pub vector: Vec<f32>,
    pub provenance: Provenance,
    /// Hash of the text the vector was computed from ([`embedding_text`]).
    pub text_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("product not found")]
    ProductNotFound,
    #[error("category not found")]
    CategoryNotFound,
    #[error("parent category not found")]
    ParentNotFound,
    #[error("product code already exists")]
    CodeTaken,
    #[error("category slug already exists")]
    SlugTaken,
    #[error("embedding failed: {0}")]
    Embedding(#[from] AiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const MAX_RETRIES: usize = 5;

/// Lower-case ASCII letters and digits joined by single dashes: `"Home & Garden"` -> `home-garden`.
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn with_keys(mut item: Item, key: Key, entity: &str) -> Item {
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), entity.into());
    item
}

fn marker_item(key: &Key, owner: &str) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.clone().into());
    item.insert(SK.into(), key.sk.clone().into());
    item.insert("owner_id".into(), owner.into());
    item
}

fn bump_catalog_version() -> TxOp {
    TxOp::Update {
        key: keys::catalog_version(),
        update: Update::new().add("n", 1),
        condition: None,
    }
}

/// The catalog version: changes whenever a category or product is written.
pub async fn catalog_version(store: &dyn ItemStore) -> Result<u64, StoreError> {
    Ok(store
        .get(&keys::catalog_version())
        .await?
        .and_then(|i| i.get("n").and_then(Value::as_u64))
        .unwrap_or(0))
}

// ---- categories -------------------------------------------------------------------------------

fn category_item(c: &Category) -> Result<Item, StoreError> {
    let mut item = with_keys(store::to_item(c)?, keys::category(&c.id), "category");
    item.insert(GSI1PK.into(), keys::CATEGORIES_INDEX_PK.into());
    item.insert(
        GSI1SK.into(),
        keys::categories_index_sk(&c.name, &c.id).into(),
    );
    Ok(item)
}

/// Creates a category with its slug marker; the parent, when given, must exist.
pub async fn create_category(
    store: &dyn ItemStore,
    new: NewCategory,
) -> Result<Category, CatalogError> {
    let slug = new
        .slug
        .filter(|s| !s.trim().is_empty())
        .map(|s| slugify(&s))
        .unwrap_or_else(|| slugify(&new.name));
    let category = Category {
        id: uuid::Uuid::new_v4().to_string(),
        name: new.name.trim().to_string(),
        slug,
        description: new.description,
        parent_id: new.parent_id,
        created_at: store::now_rfc3339(),
    };
    let mut ops = vec![
        TxOp::Put {
            item: category_item(&category)?,
            condition: Some(Condition::ItemNotExists),
        },
        TxOp::Put {
            item: marker_item(&keys::category_slug_marker(&category.slug), &category.id),
            condition: Some(Condition::ItemNotExists),
        },
        bump_catalog_version(),
    ];
    let parent_index = category.parent_id.as_ref().map(|parent| {
        ops.push(TxOp::Check {
            key: keys::category(parent),
            condition: Condition::ItemExists,
        });
        ops.len() - 1
    });
    match store.transact(ops).await {
        Ok(()) => Ok(category),
        Err(StoreError::TransactionCanceled { failed }) => {
            if parent_index.is_some_and(|i| failed.contains(&i)) {
                Err(CatalogError::ParentNotFound)
            } else if failed.contains(&1) {
                Err(CatalogError::SlugTaken)
            } else {
                Err(StoreError::TransactionCanceled { failed }.into())
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The category with `id`.
pub async fn get_category(store: &dyn ItemStore, id: &str) -> Result<Option<Category>, StoreError> {
    match store.get(&keys::category(id)).await? {
        Some(item) => Ok(Some(store::from_item(item)?)),
        None => Ok(None),
    }
}

/// Every category, by name (one GSI partition: categories are few).
pub async fn list_categories(store: &dyn ItemStore) -> Result<Vec<Category>, StoreError> {
    store::query_all(store, Query::gsi1(keys::CATEGORIES_INDEX_PK))
        .await?
        .into_iter()
        .map(store::from_item)
        .collect()
}

/// The categories as a forest: roots (no parent, or a parent that no longer exists) with their
/// children, each level ordered by name then id.
pub fn category_tree(categories: &[Category]) -> Vec<CategoryNode> {
    use std::collections::{BTreeMap, HashSet};
    let ids: HashSet<&str> = categories.iter().map(|c| c.id.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<&Category>> = BTreeMap::new();
    let mut roots = Vec::new();
    for c in categories {
        match c.parent_id.as_deref() {
            Some(p) if ids.contains(p) && p != c.id => children.entry(p).or_default().push(c),
            _ => roots.push(c),
        }
    }
    // Depth-first with a visited set, so a parent cycle in stored data cannot loop forever.
    fn build<'a>(
        c: &'a Category,
        children: &BTreeMap<&str, Vec<&'a Category>>,
        seen: &mut HashSet<&'a str>,
    ) -> CategoryNode {
        seen.insert(&c.id);
        let mut kids: Vec<&Category> = children.get(c.id.as_str()).cloned().unwrap_or_default();
        kids.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        let kids = kids
            .into_iter()
            .filter(|k| !seen.contains(k.id.as_str()))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|k| build(k, children, seen))
            .collect();
        CategoryNode {
            id: c.id.clone(),
            name: c.name.clone(),
            slug: c.slug.clone(),
            description: c.description.clone(),
            parent_id: c.parent_id.clone(),
            children: kids,
        }
    }
    roots.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut seen = HashSet::new();
    roots
        .into_iter()
        .map(|r| build(r, &children, &mut seen))
        .collect()
}

// ---- products ---------------------------------------------------------------------------------

fn product_item(p: &ProductRecord) -> Result<Item, StoreError> {
    let mut item = with_keys(store::to_item(p)?, keys::product(&p.id), "product");
    item.insert(GSI1PK.into(), keys::PRODUCTS_INDEX_PK.into());
    item.insert(
        GSI1SK.into(),
        keys::products_index_sk(&p.created_at, &p.id).into(),
    );
    item.insert(
        GSI2PK.into(),
        keys::category_products_pk(&p.category_id).into(),
    );
    item.insert(
        GSI2SK.into(),
        keys::products_index_sk(&p.created_at, &p.id).into(),
    );
    Ok(item)
}

/// The text a product's embedding is computed from: name, brand, category, tags and description.
pub fn embedding_text(p: &ProductRecord, category_name: &str) -> String {
    let mut parts = vec![p.name.clone()];
    if let Some(b) = &p.brand {
        parts.push(format!("Brand: {b}"));
    }
    if !category_name.is_empty() {
        parts.push(format!("Category: {category_name}"));
    }
    if !p.tags.is_empty() {
        parts.push(format!("Tags: {}", p.tags.join(", ")));
    }
    if let Some(d) = &p.description {
        parts.push(d.clone());
    }
    parts.join("\n")
}

fn text_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn embedding_item(product_id: &str, e: &StoredEmbedding) -> Item {
    let bytes: Vec<u8> = e.vector.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut item = Item::new();
    let key = keys::product_embedding(product_id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "product_embedding".into());
    item.insert(
        "vector".into(),
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into(),
    );
    item.insert("dimensions".into(), e.vector.len().into());
    item.insert("backend".into(), e.provenance.backend.clone().into());
    item.insert("model_id".into(), e.provenance.model_id.clone().into());
    item.insert("text_hash".into(), e.text_hash.clone().into());
    item
}

fn parse_embedding(item: &Item) -> Option<StoredEmbedding> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(item.get("vector")?.as_str()?)
        .ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    let vector = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some(StoredEmbedding {
        vector,
        provenance: Provenance {
            backend: item.get("backend")?.as_str()?.to_string(),
            model_id: item.get("model_id")?.as_str()?.to_string(),
        },
        text_hash: item.get("text_hash")?.as_str()?.to_string(),
    })
}

/// The stored embedding of a product, if it has one.
pub async fn get_embedding(
    store: &dyn ItemStore,
    product_id: &str,
) -> Result<Option<StoredEmbedding>, StoreError> {
    Ok(store
        .get(&keys::product_embedding(product_id))
        .await?
        .as_ref()
        .and_then(parse_embedding))
}

/// The stored embeddings of many products (missing ones skipped), in the order of `ids`.
pub async fn get_embeddings(
    store: &dyn ItemStore,
    ids: &[String],
) -> Result<Vec<(String, StoredEmbedding)>, StoreError> {
    let keys: Vec<Key> = ids.iter().map(|id| keys::product_embedding(id)).collect();
    let mut out = Vec::with_capacity(ids.len());
    for item in store.batch_get(&keys).await? {
        let id = item
            .get(PK)
            .and_then(Value::as_str)
            .and_then(keys::product_id_of);
        if let (Some(id), Some(e)) = (id, parse_embedding(&item)) {
            out.push((id.to_string(), e));
        }
    }
    Ok(out)
}

async fn embed(
    embedder: &dyn Embedder,
    p: &ProductRecord,
    category_name: &str,
) -> Result<StoredEmbedding, AiError> {
    let text = embedding_text(p, category_name);
    let e = embedder.embed(&text).await?;
    Ok(StoredEmbedding {
        vector: e.vector,
        provenance: e.provenance,
        text_hash: text_hash(&text),
    })
}

/// Creates a product with its code marker and its embedding in one transaction; the category
/// must exist.
pub async fn create_product(
    store: &dyn ItemStore,
    embedder: &dyn Embedder,
    new: NewProduct,
) -> Result<ProductRecord, CatalogError> {
    let category = get_category(store, &new.category_id)
        .await?
        .ok_or(CatalogError::CategoryNotFound)?;
    let now = store::now_rfc3339();
    let product = ProductRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: new.name.trim().to_string(),
        code: new.code.trim().to_string(),
        brand: new.brand,
        price: new.price,
        compare_price: new.compare_price,
        description: new.description,
        specification: new.specification,
        technical_details: new.technical_details,
        images: new.images,
        in_stock: new.in_stock,
        stock_quantity: new.stock_quantity,
        category_id: category.id.clone(),
        tags: new.tags,
        meta_title: new.meta_title,
        meta_description: new.meta_description,
        is_active: new.is_active,
        view_count: 0,
        order_count: 0,
        basket_count: 0,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    };
    let embedding = embed(embedder, &product, &category.name).await?;
    let ops = vec![
        TxOp::Put {
            item: product_item(&product)?,
            condition: Some(Condition::ItemNotExists),
        },
        TxOp::Put {
            item: marker_item(&keys::product_code_marker(&product.code), &product.id),
            condition: Some(Condition::ItemNotExists),
        },
        TxOp::Check {
            key: keys::category(&product.category_id),
            condition: Condition::ItemExists,
        },
        TxOp::Put {
            item: embedding_item(&product.id, &embedding),
            condition: None,
        },
        bump_catalog_version(),
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(product),
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
            Err(CatalogError::CodeTaken)
        }
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&2) => {
            Err(CatalogError::CategoryNotFound)
        }
        Err(e) => Err(e.into()),
    }
}

/// The product with `id` (active or not).
pub async fn get_product(
    store: &dyn ItemStore,
    id: &str,
) -> Result<Option<ProductRecord>, StoreError> {
    match store.get(&keys::product(id)).await? {
        Some(item) => Ok(Some(store::from_item(item)?)),
        None => Ok(None),
    }
}

/// The products among `ids` that exist, in the order of `ids`.
pub async fn get_products(
    store: &dyn ItemStore,
    ids: &[String],
) -> Result<Vec<ProductRecord>, StoreError> {
    let keys: Vec<Key> = ids.iter().map(|id| keys::product(id)).collect();
    store
        .batch_get(&keys)
        .await?
        .into_iter()
        .map(store::from_item)
        .collect()
}

/// Every product, newest first (the `PRODUCTS` partition of GSI1). For snapshots and jobs.
pub async fn list_all_products(store: &dyn ItemStore) -> Result<Vec<ProductRecord>, StoreError> {
    store::query_all(store, Query::gsi1(keys::PRODUCTS_INDEX_PK).reverse())
        .await?
        .into_iter()
        .map(store::from_item)
        .collect()
}

fn apply_patch(p: &mut ProductRecord, patch: &ProductPatch) {
    if let Some(v) = &patch.name {
        p.name = v.trim().to_string();
    }
    if let Some(v) = &patch.code {
        p.code = v.trim().to_string();
    }
    if let Some(v) = &patch.brand {
        p.brand = v.clone();
    }
    if let Some(v) = patch.price {
        p.price = v;
    }
    if let Some(v) = patch.compare_price {
        p.compare_price = v;
    }
    if let Some(v) = &patch.description {
        p.description = v.clone();
    }
    if let Some(v) = &patch.specification {
        p.specification = v.clone();
    }
    if let Some(v) = &patch.technical_details {
        p.technical_details = v.clone();
    }
    if let Some(v) = &patch.images {
        p.images = v.clone();
    }
    if let Some(v) = patch.in_stock {
        p.in_stock = v;
    }
    if let Some(v) = patch.stock_quantity {
        p.stock_quantity = v;
    }
    if let Some(v) = &patch.category_id {
        p.category_id = v.clone();
    }
    if let Some(v) = &patch.tags {
        p.tags = v.clone();
    }
    if let Some(v) = &patch.meta_title {
        p.meta_title = v.clone();
    }
    if let Some(v) = &patch.meta_description {
        p.meta_description = v.clone();
    }
    if let Some(v) = patch.is_active {
        p.is_active = v;
    }
}

/// Applies `patch` to the current product and saves it: the code marker is swapped and the
/// category checked in the same transaction, and the embedding is recomputed (and written in the
/// same transaction) when the text it was computed from changed. Retries on a concurrent write.
pub async fn update_product(
    store: &dyn ItemStore,
    embedder: &dyn Embedder,
    id: &str,
    patch: &ProductPatch,
) -> Result<ProductRecord, CatalogError> {
    for _ in 0..MAX_RETRIES {
        let old = get_product(store, id)
            .await?
            .ok_or(CatalogError::ProductNotFound)?;
        let mut new = old.clone();
        apply_patch(&mut new, patch);
        new.version = old.version + 1;
        new.updated_at = store::now_rfc3339();
        let category = get_category(store, &new.category_id)
            .await?
            .ok_or(CatalogError::CategoryNotFound)?;
        let text = embedding_text(&new, &category.name);
        let current = get_embedding(store, id).await?;
        let embedding = match current {
            Some(e) if e.text_hash == text_hash(&text) => None,
            _ => Some(embed(embedder, &new, &category.name).await?),
        };

        let mut ops = vec![
            TxOp::Put {
                item: product_item(&new)?,
                condition: Some(Condition::And(vec![
                    Condition::ItemExists,
                    Condition::eq("version", old.version),
                ])),
            },
            TxOp::Check {
                key: keys::category(&new.category_id),
                condition: Condition::ItemExists,
            },
            bump_catalog_version(),
        ];
        let mut code_index = None;
        if !old.code.eq_ignore_ascii_case(&new.code) {
            code_index = Some(ops.len());
            ops.push(TxOp::Put {
                item: marker_item(&keys::product_code_marker(&new.code), &new.id),
                condition: Some(Condition::ItemNotExists),
            });
            ops.push(TxOp::Delete {
                key: keys::product_code_marker(&old.code),
                condition: Some(Condition::eq("owner_id", old.id.as_str())),
            });
        }
        if let Some(e) = &embedding {
            ops.push(TxOp::Put {
                item: embedding_item(&new.id, e),
                condition: None,
            });
        }
        match store.transact(ops).await {
            Ok(()) => return Ok(new),
            Err(StoreError::TransactionCanceled { failed }) => {
                if code_index.is_some_and(|i| failed.contains(&i)) {
                    return Err(CatalogError::CodeTaken);
                }
                if failed.contains(&1) {
                    return Err(CatalogError::CategoryNotFound);
                }
                // The product changed (or vanished) since it was read: read it again.
            }
            Err(StoreError::TransactionConflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::TransactionConflict.into())
}

/// Adds one to a product's view counter (atomic; the version moves with it, so a concurrent
/// whole-item save conditioned on the old version retries instead of losing the view).
pub async fn record_view(store: &dyn ItemStore, id: &str) -> Result<(), CatalogError> {
    match store
        .update(
            &keys::product(id),
            Update::new().add("view_count", 1).add("version", 1),
            Some(Condition::ItemExists),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(CatalogError::ProductNotFound),
        Err(e) => Err(e.into()),
    }
}

impl From<CatalogError> for crate::ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::ProductNotFound => {
                Self::not_found("Product not found").with_code("PRODUCT_NOT_FOUND")
            }
            CatalogError::CategoryNotFound => {
                Self::not_found("Category not found").with_code("CATEGORY_NOT_FOUND")
            }
            CatalogError::ParentNotFound => {
                Self::not_found("Parent category not found").with_code("CATEGORY_NOT_FOUND")
            }
            CatalogError::CodeTaken => Self::conflict(
                "PRODUCT_CODE_TAKEN",
                "A product with this code already exists",
            ),
            CatalogError::SlugTaken => Self::conflict(
                "CATEGORY_EXISTS",
                "A category with this slug already exists",
            ),
            CatalogError::Embedding(e) => e.into(),
            CatalogError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ai::local::LocalEmbedder;
    use crate::store::local::LocalStore;

    fn embedder() -> LocalEmbedder {
        LocalEmbedder::new(256)
    }

    async fn category(store: &dyn ItemStore, name: &str, parent: Option<&str>) -> Category {
        create_category(
            store,
            NewCategory {
                name: name.into(),
                parent_id: parent.map(str::to_string),
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }

    fn phone(category_id: &str, code: &str) -> NewProduct {
        NewProduct {
            name: "iPhone 15 Pro".into(),
            code: code.into(),
            brand: Some("Apple".into()),
            price: 999.99,
            description: Some("Latest iPhone with A17 Pro chip".into()),
            in_stock: true,
            stock_quantity: 50,
            category_id: category_id.into(),
            tags: vec!["smartphone".into(), "ios".into()],
            is_active: true,
            ..Default::default()
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Home & Garden"), "home-garden");
        assert_eq!(slugify("  Smart  Phones!! "), "smart-phones");
        assert_eq!(slugify("TV/Audio 4K"), "tv-audio-4k");
        assert_eq!(slugify("!!!"), "");
    }

    #[tokio::test]
    async fn categories_form_a_tree_and_slugs_are_unique() {
        let store = LocalStore::in_memory().unwrap();
        let electronics = category(&store, "Electronics", None).await;
        let phones = category(&store, "Smartphones", Some(&electronics.id)).await;
        let laptops = category(&store, "Laptops", Some(&electronics.id)).await;
        let books = category(&store, "Books", None).await;

        let dup = create_category(
            &store,
            NewCategory {
                name: "ELECTRONICS".into(),
                ..Default::default()
            },
        )
        .await;
        assert!(matches!(dup, Err(CatalogError::SlugTaken)), "{dup:?}");
        let orphan = create_category(
            &store,
            NewCategory {
                name: "Orphan".into(),
                parent_id: Some("missing".into()),
                ..Default::default()
            },
        )
        .await;
        assert!(
            matches!(orphan, Err(CatalogError::ParentNotFound)),
            "{orphan:?}"
        );
        // Failed creations wrote nothing.
        assert_eq!(list_categories(&store).await.unwrap().len(), 4);
        assert!(
            store
                .get(&keys::category_slug_marker("orphan"))
                .await
                .unwrap()
                .is_none()
        );

        let tree = category_tree(&list_categories(&store).await.unwrap());
        let names: Vec<&str> = tree.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["Books", "Electronics"]);
        assert_eq!(tree[0].id, books.id);
        let kids: Vec<&str> = tree[1].children.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(kids, [laptops.id.as_str(), phones.id.as_str()]);
        assert_eq!(
            tree[1].children[0].parent_id.as_deref(),
            Some(electronics.id.as_str())
        );
    }

    #[test]
    fn a_parent_cycle_in_stored_data_terminates() {
        let c = |id: &str, parent: &str| Category {
            id: id.into(),
            name: id.into(),
            slug: id.into(),
            description: None,
            parent_id: Some(parent.into()),
            created_at: String::new(),
        };
        // a -> b -> a: neither is a root, so nothing is shown rather than looping.
        assert!(category_tree(&[c("a", "b"), c("b", "a")]).is_empty());
        // A self-parent is treated as a root.
        assert_eq!(category_tree(&[c("a", "a")]).len(), 1);
    }

    #[tokio::test]
    async fn products_are_created_with_their_embedding_and_unique_codes() {
        let store = LocalStore::in_memory().unwrap();
        let e = embedder();
        let phones = category(&store, "Smartphones", None).await;
        let v0 = catalog_version(&store).await.unwrap();

        let p = create_product(&store, &e, phone(&phones.id, "IP15P-128"))
            .await
            .unwrap();
        assert_eq!(get_product(&store, &p.id).await.unwrap().unwrap(), p);
        assert!(p.available());
        let emb = get_embedding(&store, &p.id).await.unwrap().unwrap();
        assert_eq!(emb.vector.len(), 256);
        assert_eq!(emb.provenance.backend, "local");
        assert!(catalog_version(&store).await.unwrap() > v0);

        // Codes are unique case-insensitively; the category must exist. Nothing half-written.
        let dup = create_product(&store, &e, phone(&phones.id, "ip15p-128")).await;
        assert!(matches!(dup, Err(CatalogError::CodeTaken)), "{dup:?}");
        let nocat = create_product(&store, &e, phone("missing", "X-1")).await;
        assert!(
            matches!(nocat, Err(CatalogError::CategoryNotFound)),
            "{nocat:?}"
        );
        assert_eq!(list_all_products(&store).await.unwrap().len(), 1);
        assert!(
            store
                .get(&keys::product_code_marker("X-1"))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn updates_swap_codes_and_recompute_embeddings_only_when_text_changes() {
        let store = LocalStore::in_memory().unwrap();
        let e = embedder();
        let phones = category(&store, "Smartphones", None).await;
        let other = category(&store, "Gardening", None).await;
        let p = create_product(&store, &e, phone(&phones.id, "A-1"))
            .await
            .unwrap();
        let q = create_product(&store, &e, phone(&phones.id, "B-1"))
            .await
            .unwrap();
        let before = get_embedding(&store, &p.id).await.unwrap().unwrap();

        // Price and stock do not touch the embedding.
        let patch = ProductPatch {
            price: Some(279.99),
            stock_quantity: Some(0),
            ..Default::default()
        };
        let p2 = update_product(&store, &e, &p.id, &patch).await.unwrap();
        assert_eq!(p2.price, 279.99);
        assert!(!p2.available());
        assert_eq!(p2.version, p.version + 1);
        assert_eq!(get_embedding(&store, &p.id).await.unwrap().unwrap(), before);

        // A new description does.
        let patch = ProductPatch {
            description: Some(Some("A garden hose, 30 metres".into())),
            category_id: Some(other.id.clone()),
            ..Default::default()
        };
        update_product(&store, &e, &p.id, &patch).await.unwrap();
        let after = get_embedding(&store, &p.id).await.unwrap().unwrap();
        assert_ne!(after.text_hash, before.text_hash);
        assert_ne!(after.vector, before.vector);

        // Code swap: the old code is free again, a taken code is refused.
        let patch = ProductPatch {
            code: Some("A-2".into()),
            ..Default::default()
        };
        update_product(&store, &e, &p.id, &patch).await.unwrap();
        create_product(&store, &e, phone(&phones.id, "A-1"))
            .await
            .unwrap();
        let taken = ProductPatch {
            code: Some("b-1".into()),
            ..Default::default()
        };
        let r = update_product(&store, &e, &p.id, &taken).await;
        assert!(matches!(r, Err(CatalogError::CodeTaken)), "{r:?}");
        assert_eq!(
            get_product(&store, &q.id).await.unwrap().unwrap().code,
            "B-1"
        );

        let bad = ProductPatch {
            category_id: Some("missing".into()),
            ..Default::default()
        };
        let r = update_product(&store, &e, &p.id, &bad).await;
        assert!(matches!(r, Err(CatalogError::CategoryNotFound)), "{r:?}");
        let r = update_product(&store, &e, "missing", &ProductPatch::default()).await;
        assert!(matches!(r, Err(CatalogError::ProductNotFound)), "{r:?}");
    }

    #[tokio::test]
    async fn counter_writes_move_the_version_so_stale_saves_retry() {
        let store = LocalStore::in_memory().unwrap();
        let e = embedder();
        let phones = category(&store, "Smartphones", None).await;
        let p = create_product(&store, &e, phone(&phones.id, "A-1"))
            .await
            .unwrap();
        record_view(&store, &p.id).await.unwrap();
        let seen = get_product(&store, &p.id).await.unwrap().unwrap();
        assert_eq!((seen.view_count, seen.version), (1, p.version + 1));
        // A whole-item save conditioned on the version read before the view is refused...
        let stale = store
            .put(
                product_item(&p).unwrap(),
                Some(Condition::eq("version", p.version)),
            )
            .await;
        assert!(
            matches!(stale, Err(StoreError::ConditionFailed)),
            "{stale:?}"
        );
        // ...and update_product, which re-reads, keeps the view.
        let patch = ProductPatch {
            price: Some(5.0),
            ..Default::default()
        };
        let updated = update_product(&store, &e, &p.id, &patch).await.unwrap();
        assert_eq!((updated.view_count, updated.price), (1, 5.0));
        assert!(matches!(
            record_view(&store, "missing").await,
            Err(CatalogError::ProductNotFound)
        ));
    }

    #[tokio::test]
    async fn embeddings_load_in_bulk() {
        let store = LocalStore::in_memory().unwrap();
        let e = embedder();
        let phones = category(&store, "Smartphones", None).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let p = create_product(&store, &e, phone(&phones.id, &format!("C-{i}")))
                .await
                .unwrap();
            ids.push(p.id);
        }
        ids.insert(1, "missing".into());
        let got = get_embeddings(&store, &ids).await.unwrap();
        let got_ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(got_ids, [ids[0].as_str(), ids[2].as_str(), ids[3].as_str()]);
        assert_eq!(get_products(&store, &ids).await.unwrap().len(), 3);
    }
}
