//! The catalog's records (categories, products, the patches and inputs that make them) and their
//! item codec: the keys and index attributes each record is stored with.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    ai::AiError,
    money::{self, Cents},
    store::{self, GSI1PK, GSI1SK, GSI2PK, GSI2SK, Item, Key, PK, SK, StoreError, keys},
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
    /// Products of this category are bought again and again (food, ink, filters): a shopper's
    /// purchases of them may be recommended again (`shared::reco::serve::allowed`). Set on the
    /// stored item; absent means `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub consumable: bool,
}

/// What a new category is made of (already validated).
#[derive(Debug, Clone, Default)]
pub struct NewCategory {
    pub name: String,
    /// Derived from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub parent_id: Option<String>,
    /// See [`Category::consumable`].
    pub consumable: bool,
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

/// A product as read: the product item with its counters (`stock_quantity`, `view_count`,
/// `order_count`, `basket_count`, see [`PRODUCT_COUNTERS`]) from the counter item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRecord {
    pub id: String,
    pub name: String,
    pub code: String,
    #[serde(default)]
    pub brand: Option<String>,
    /// Stored as `price_cents` (older items: a decimal `price`, see [`product_from_item`]).
    #[serde(rename = "price_cents")]
    pub price: Cents,
    #[serde(default, rename = "compare_price_cents")]
    pub compare_price: Option<Cents>,
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
    #[serde(default)]
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
    pub price: Cents,
    pub compare_price: Option<Cents>,
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
    pub price: Option<Cents>,
    pub compare_price: Option<Option<Cents>>,
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

pub(super) const MAX_RETRIES: usize = 5;

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

pub(super) fn with_keys(mut item: Item, key: Key, entity: &str) -> Item {
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), entity.into());
    item
}

pub(super) fn marker_item(key: &Key, owner: &str) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.clone().into());
    item.insert(SK.into(), key.sk.clone().into());
    item.insert("owner_id".into(), owner.into());
    item
}

pub(super) fn category_item(c: &Category) -> Result<Item, StoreError> {
    let mut item = with_keys(store::to_item(c)?, keys::category(&c.id), "category");
    item.insert(GSI1PK.into(), keys::CATEGORIES_INDEX_PK.into());
    item.insert(
        GSI1SK.into(),
        keys::categories_index_sk(&c.name, &c.id).into(),
    );
    Ok(item)
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

/// The attributes of a product that move on every view or order. They live on the counter item
/// (`PRODUCT#<id>`/`COUNTERS`), which has no index keys: on the product item each `ADD` would
/// also write the `PRODUCTS` and category index partitions (all attributes are projected).
pub const PRODUCT_COUNTERS: [&str; 4] = [
    "stock_quantity",
    "view_count",
    "order_count",
    "basket_count",
];

/// The product item: catalog data and index keys, without the counters.
pub(super) fn product_item(p: &ProductRecord) -> Result<Item, StoreError> {
    let mut item = with_keys(store::to_item(p)?, keys::product(&p.id), "product");
    for name in PRODUCT_COUNTERS {
        item.remove(name);
    }
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

/// A stored product item as a record; items written before money was kept in cents (a decimal
/// `price`) read as the nearest cent.
pub fn product_from_item(mut item: Item) -> Result<ProductRecord, StoreError> {
    money::upgrade_legacy(&mut item, &["price", "compare_price"]);
    store::from_item(item)
}

impl From<CatalogError> for crate::ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::ProductNotFound => Self::not_found("Product not found")
                .with_code(crate::error::ErrorCode::ProductNotFound),
            CatalogError::CategoryNotFound => Self::not_found("Category not found")
                .with_code(crate::error::ErrorCode::CategoryNotFound),
            CatalogError::ParentNotFound => Self::not_found("Parent category not found")
                .with_code(crate::error::ErrorCode::CategoryNotFound),
            CatalogError::CodeTaken => Self::conflict(
                crate::error::ErrorCode::ProductCodeTaken,
                "A product with this code already exists",
            ),
            CatalogError::SlugTaken => Self::conflict(
                crate::error::ErrorCode::CategoryExists,
                "A category with this slug already exists",
            ),
            CatalogError::Embedding(e) => e.into(),
            CatalogError::Store(e) => e.into(),
        }
    }
}
