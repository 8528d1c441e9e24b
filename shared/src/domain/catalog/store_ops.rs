//! Store operations on the catalog. Every write keeps the invariants listed in the module docs
//! of [`super`] with a transaction (both store implementations).

use std::collections::HashMap;

use serde_json::Value;

use super::{
    records::*,
    vectors::{embed, embedding_item, embedding_text, get_embedding, text_hash},
};
use crate::{
    ai::Embedder,
    store::{self, Condition, Item, ItemStore, Key, PK, Query, SK, StoreError, TxOp, Update, keys},
};

/// The counter item of `p` (`PRODUCT#<id>`/`COUNTERS`) holding the counters `p` has.
pub(super) fn counters_item(p: &ProductRecord) -> Item {
    let key = keys::product_counters(&p.id);
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "product_counters".into());
    item.insert("stock_quantity".into(), p.stock_quantity.into());
    item.insert("view_count".into(), p.view_count.into());
    item.insert("order_count".into(), p.order_count.into());
    item.insert("basket_count".into(), p.basket_count.into());
    item
}

/// A product from its product item and its counter item. Without a counter item (a store written
/// before the counters moved, until [`migrate_product_counters`] has run) the counters the
/// product item still holds count.
fn product_from(mut product: Item, counters: Option<&Item>) -> Result<ProductRecord, StoreError> {
    if let Some(c) = counters {
        for name in PRODUCT_COUNTERS {
            if let Some(v) = c.get(name) {
                product.insert(name.into(), v.clone());
            }
        }
    }
    product_from_item(product)
}

fn pk_of(item: &Item) -> Option<&str> {
    item.get(PK).and_then(Value::as_str)
}

/// Products from product items and the counter items among `counters`, in the order of `items`.
fn join_counters(items: Vec<Item>, counters: Vec<Item>) -> Result<Vec<ProductRecord>, StoreError> {
    let counters: HashMap<String, Item> = counters
        .into_iter()
        .filter_map(|c| Some((pk_of(&c)?.to_string(), c)))
        .collect();
    items
        .into_iter()
        .map(|item| {
            let c = pk_of(&item).and_then(|pk| counters.get(pk));
            product_from(item, c)
        })
        .collect()
}

/// Products from product items (from an index query): their counters in one batch get.
async fn with_counters(
    store: &dyn ItemStore,
    items: Vec<Item>,
) -> Result<Vec<ProductRecord>, StoreError> {
    let keys: Vec<Key> = items
        .iter()
        .filter_map(pk_of)
        .map(|pk| Key::new(pk, keys::PRODUCT_COUNTERS_SK))
        .collect();
    let counters = store.batch_get(&keys).await?;
    join_counters(items, counters)
}

/// Gives every product item that has no counter item one, with the counters the product item
/// holds (stores written before the counters moved). Idempotent: an existing counter item is
/// never overwritten. Returns how many were created.
pub async fn migrate_product_counters(store: &dyn ItemStore) -> Result<usize, StoreError> {
    let items = store::query_all(store, Query::gsi1(keys::PRODUCTS_INDEX_PK)).await?;
    let keys: Vec<Key> = items
        .iter()
        .filter_map(pk_of)
        .map(|pk| Key::new(pk, keys::PRODUCT_COUNTERS_SK))
        .collect();
    let present: std::collections::HashSet<String> = store
        .batch_get(&keys)
        .await?
        .iter()
        .filter_map(|c| pk_of(c).map(str::to_string))
        .collect();
    let mut created = 0;
    for item in items {
        if pk_of(&item).is_some_and(|pk| present.contains(pk)) {
            continue;
        }
        let product: ProductRecord = store::from_item(item)?;
        match store
            .put(counters_item(&product), Some(Condition::ItemNotExists))
            .await
        {
            Ok(()) => created += 1,
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
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
        consumable: new.consumable,
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

/// Creates a product with its code marker and its embedding in one transaction; the category
/// must exist.
pub async fn create_product(
    store: &dyn ItemStore,
    embedder: &dyn Embedder,
    new: NewProduct,
) -> Result<ProductRecord, CatalogError> {
    create_product_with_id(store, embedder, new, uuid::Uuid::new_v4().to_string(), None).await
}

/// [`create_product`] under a given id and creation time (bulk import: ids from the source
/// system). A product item already there under `id` fails the transaction (the caller checks
/// existence first).
pub async fn create_product_with_id(
    store: &dyn ItemStore,
    embedder: &dyn Embedder,
    new: NewProduct,
    id: String,
    created_at: Option<String>,
) -> Result<ProductRecord, CatalogError> {
    let category = get_category(store, &new.category_id)
        .await?
        .ok_or(CatalogError::CategoryNotFound)?;
    let now = store::now_rfc3339();
    let product = ProductRecord {
        id,
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
        created_at: created_at.unwrap_or_else(|| now.clone()),
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
        TxOp::Put {
            item: counters_item(&product),
            condition: Some(Condition::ItemNotExists),
        },
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

/// The product with `id` (active or not) and whether it has a counter item: both items in one
/// batch get.
async fn load_product(
    store: &dyn ItemStore,
    id: &str,
) -> Result<Option<(ProductRecord, bool)>, StoreError> {
    let mut product = None;
    let mut counters = None;
    for item in store
        .batch_get(&[keys::product(id), keys::product_counters(id)])
        .await?
    {
        if item.get(SK).and_then(Value::as_str) == Some(keys::PRODUCT_COUNTERS_SK) {
            counters = Some(item);
        } else {
            product = Some(item);
        }
    }
    match product {
        Some(item) => Ok(Some((
            product_from(item, counters.as_ref())?,
            counters.is_some(),
        ))),
        None => Ok(None),
    }
}

/// The product with `id` (active or not), with its counters.
pub async fn get_product(
    store: &dyn ItemStore,
    id: &str,
) -> Result<Option<ProductRecord>, StoreError> {
    Ok(load_product(store, id).await?.map(|(p, _)| p))
}

/// The products among `ids` that exist, in the order of `ids`, with their counters: product and
/// counter items in one batch get.
pub async fn get_products(
    store: &dyn ItemStore,
    ids: &[String],
) -> Result<Vec<ProductRecord>, StoreError> {
    let keys: Vec<Key> = ids
        .iter()
        .map(|id| keys::product(id))
        .chain(ids.iter().map(|id| keys::product_counters(id)))
        .collect();
    let (counters, products): (Vec<Item>, Vec<Item>) =
        store.batch_get(&keys).await?.into_iter().partition(|item| {
            item.get(SK).and_then(Value::as_str) == Some(keys::PRODUCT_COUNTERS_SK)
        });
    join_counters(products, counters)
}

/// Every product, newest first (the `PRODUCTS` partition of GSI1), with its counters. For
/// snapshots and jobs.
pub async fn list_all_products(store: &dyn ItemStore) -> Result<Vec<ProductRecord>, StoreError> {
    let items = store::query_all(store, Query::gsi1(keys::PRODUCTS_INDEX_PK).reverse()).await?;
    with_counters(store, items).await
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
        let (old, has_counters) = load_product(store, id)
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
        if !has_counters {
            // A product from before the counters moved: its counters move with this write.
            ops.push(TxOp::Put {
                item: counters_item(&new),
                condition: Some(Condition::ItemNotExists),
            });
        } else if let Some(stock) = patch.stock_quantity {
            ops.push(TxOp::Update {
                key: keys::product_counters(id),
                update: Update::new().set("stock_quantity", stock),
                condition: Some(Condition::ItemExists),
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

/// Adds one to a product's view counter (atomic, on the counter item: the product item and its
/// index entries are not written).
pub async fn record_view(store: &dyn ItemStore, id: &str) -> Result<(), CatalogError> {
    match store
        .update(
            &keys::product_counters(id),
            Update::new().add("view_count", 1),
            Some(Condition::ItemExists),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(CatalogError::ProductNotFound),
        Err(e) => Err(e.into()),
    }
}
