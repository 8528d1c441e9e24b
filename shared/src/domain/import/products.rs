//! Importing products.
//!
//! Columns (the fields of product creation): `name` (1-200 characters), `code` (1-64 letters,
//! digits, `-`, `_`, `.`; unique case-insensitively in the file and the store), `price` (the
//! catalog's money format, `19.99`: above 0, at most 10,000,000, two decimals), the category as
//! `category_id` (an existing category) or `category` (a category name, matched
//! case-insensitively; created when no category has that name), and optional `id` (the source
//! system's product id, kept so interactions and orders can name it; a new UUID otherwise),
//! `compare_price`, `brand` (100), `description` (10,000), `stock_quantity` (0-100,000,000,
//! default 0), `in_stock` (default true), `is_active` (default true), `tags` and `images` (several
//! separated by `|`; at most 30 tags of 1-50 characters, 20 http(s) URLs), `meta_title` (200),
//! `meta_description` (500), `created_at` (ISO 8601 or epoch seconds; default now: the
//! `new_arrivals` model reads it).
//!
//! Each product is written by [`catalog::create_product_with_id`], so its embedding is computed
//! the way product creation computes it and written in the same transaction. A row whose `id` is
//! already a product with the same code is skipped (a retried import); a code held by another
//! product is a row error.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use super::{
    BATCH, Context, ImportError, ImportKind, ImportReport, Problems, Source, WrittenCounts,
    records::{Fields, stored_time},
    retrying,
};
use crate::{
    domain::catalog::{self, CatalogError, Category, NewCategory, NewProduct},
    error::FieldError,
    money::Cents,
    store::{ItemStore, PK, StoreError, keys},
};

/// Products embedded and written at once.
const WRITE_CONCURRENCY: usize = 8;
const MAX_PRICE: Cents = Cents(1_000_000_000);

enum CategoryRef {
    Id(String),
    Name(String),
}

struct ProductRow {
    row: usize,
    id: Option<String>,
    category: CategoryRef,
    created_at: Option<String>,
    new: NewProduct,
}

fn list(f: &mut Fields<'_>, column: &str, max_items: usize, max_len: usize) -> Vec<String> {
    let Some(text) = f.opt_text(column, 100_000) else {
        return Vec::new();
    };
    let items: Vec<String> = text
        .split('|')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if items.len() > max_items {
        f.error(column, format!("at most {max_items} values"));
    } else if items.iter().any(|s| s.chars().count() > max_len) {
        f.error(
            column,
            format!("each value must be at most {max_len} characters"),
        );
    }
    items
}

fn parse(row: usize, rec: &Map<String, Value>) -> Result<ProductRow, Vec<FieldError>> {
    let mut f = Fields::new(row, rec);
    let id = f.opt_id("id");
    let name = f.text("name", 200);
    let code = f.text("code", 64);
    if let Some(c) = &code
        && !c
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        f.error("code", "must be 1-64 letters, digits, '-', '_' or '.'");
    }
    let money = |f: &mut Fields<'_>, column: &str| -> Option<Cents> {
        let c = f.opt_money(column)?;
        if c == Cents::ZERO {
            f.error(column, "must be > 0");
            None
        } else if c > MAX_PRICE {
            f.error(column, "must be <= 10000000");
            None
        } else {
            Some(c)
        }
    };
    let price = money(&mut f, "price");
    if price.is_none() && !f.has("price") {
        f.error("price", "is required");
    }
    let compare_price = money(&mut f, "compare_price");
    let category = match (f.opt_id("category_id"), f.opt_text("category", 100)) {
        (Some(id), None) => Some(CategoryRef::Id(id)),
        (None, Some(name)) => Some(CategoryRef::Name(name)),
        (Some(_), Some(_)) => {
            f.error("category", "give category_id or category, not both");
            None
        }
        (None, None) => {
            if !f.has("category_id") {
                f.error("category_id", "category_id or category is required");
            }
            None
        }
    };
    let brand = f.opt_text("brand", 100);
    let description = f.opt_text("description", 10_000);
    let stock_quantity = f.opt_int("stock_quantity", 0, 100_000_000).unwrap_or(0);
    let in_stock = f.opt_bool("in_stock").unwrap_or(true);
    let is_active = f.opt_bool("is_active").unwrap_or(true);
    let tags = list(&mut f, "tags", 30, 50);
    let images = list(&mut f, "images", 20, 2048);
    if images
        .iter()
        .any(|u| !(u.starts_with("https://") || u.starts_with("http://")))
    {
        f.error("images", "each image must be an http(s) URL");
    }
    let meta_title = f.opt_text("meta_title", 200);
    let meta_description = f.opt_text("meta_description", 500);
    let created_at = f.opt_time("created_at").map(stored_time);
    let value = match (name, code, price, category) {
        (Some(name), Some(code), Some(price), Some(category)) => Some(ProductRow {
            row,
            id,
            category,
            created_at,
            new: NewProduct {
                name,
                code,
                brand,
                price,
                compare_price,
                description,
                specification: Map::new(),
                technical_details: Map::new(),
                images,
                in_stock,
                stock_quantity,
                category_id: String::new(),
                tags,
                meta_title,
                meta_description,
                is_active,
            },
        }),
        _ => None,
    };
    f.finish(value)
}

/// What the store holds for a batch: product id -> lower-cased code; code marker PK -> owner.
async fn existing(
    store: &dyn ItemStore,
    rows: &[ProductRow],
) -> Result<(HashMap<String, String>, HashMap<String, String>), ImportError> {
    let mut wanted = Vec::new();
    for r in rows {
        wanted.push(keys::product_code_marker(&r.new.code));
        if let Some(id) = &r.id {
            wanted.push(keys::product(id));
        }
    }
    let (mut products, mut codes) = (HashMap::new(), HashMap::new());
    for item in store.batch_get(&wanted).await? {
        let pk = item.get(PK).and_then(Value::as_str).unwrap_or_default();
        if let Some(owner) = item.get("owner_id").and_then(Value::as_str) {
            codes.insert(pk.to_string(), owner.to_string());
        } else if let (Some(id), Some(code)) = (
            item.get("id").and_then(Value::as_str),
            item.get("code").and_then(Value::as_str),
        ) {
            products.insert(id.to_string(), code.to_lowercase());
        }
    }
    Ok((products, codes))
}

/// The rows to write (`true`) or skip (`false`); problems for rows the store contradicts.
fn against_store(
    rows: &[ProductRow],
    (products, codes): &(HashMap<String, String>, HashMap<String, String>),
    categories: &Categories,
    problems: &mut Problems,
) -> Vec<bool> {
    rows.iter()
        .map(|r| {
            if let CategoryRef::Id(id) = &r.category
                && !categories.by_id.contains(id)
            {
                problems.row(r.row, "category_id", format!("no category {id}"));
            }
            if let Some(id) = &r.id
                && let Some(code) = products.get(id)
            {
                if *code != r.new.code.to_lowercase() {
                    problems.row(
                        r.row,
                        "id",
                        format!("product {id} already exists with another code"),
                    );
                }
                return false;
            }
            if let Some(owner) = codes.get(&keys::product_code_marker(&r.new.code).pk)
                && r.id.as_ref() != Some(owner)
            {
                problems.row(
                    r.row,
                    "code",
                    format!("code already used by product {owner}"),
                );
            }
            true
        })
        .collect()
}

/// The categories, by id and by lower-cased name.
struct Categories {
    by_id: HashSet<String>,
    by_name: HashMap<String, String>,
}

impl Categories {
    async fn load(store: &dyn ItemStore) -> Result<Self, ImportError> {
        let all = catalog::list_categories(store).await?;
        Ok(Self::from(&all))
    }

    fn from(all: &[Category]) -> Self {
        Categories {
            by_id: all.iter().map(|c| c.id.clone()).collect(),
            by_name: all
                .iter()
                .map(|c| (c.name.to_lowercase(), c.id.clone()))
                .collect(),
        }
    }

    /// The id of the category named `name`, created when there is none.
    async fn resolve(
        &mut self,
        store: &dyn ItemStore,
        name: &str,
        report: &mut ImportReport,
    ) -> Result<String, ImportError> {
        if let Some(id) = self.by_name.get(&name.to_lowercase()) {
            return Ok(id.clone());
        }
        let id = match catalog::create_category(
            store,
            NewCategory {
                name: name.to_string(),
                ..Default::default()
            },
        )
        .await
        {
            Ok(c) => {
                report.written.categories += 1;
                c.id
            }
            Err(CatalogError::SlugTaken) => {
                // Another category has this name's slug (same name, other case or punctuation).
                let slug = catalog::slugify(name);
                catalog::list_categories(store)
                    .await?
                    .into_iter()
                    .find(|c| c.slug == slug)
                    .map(|c| c.id)
                    .ok_or_else(|| ImportError::Write(format!("category {name:?}: slug taken")))?
            }
            Err(e) => return Err(ImportError::Write(format!("category {name:?}: {e}"))),
        };
        self.by_id.insert(id.clone());
        self.by_name.insert(name.to_lowercase(), id.clone());
        Ok(id)
    }
}

pub(super) async fn run(
    ctx: &Context<'_>,
    source: &Source<'_>,
) -> Result<ImportReport, ImportError> {
    let mut categories = Categories::load(ctx.store).await?;
    // Pass 1: validate.
    let mut problems = Problems::default();
    let (mut codes, mut ids) = (HashSet::new(), HashSet::new());
    let mut rows = 0usize;
    let mut batch = Vec::with_capacity(BATCH);
    for rec in source.rows()? {
        rows += 1;
        match rec.map(|(row, m)| parse(row, &m)) {
            Err(e) => problems.push(e),
            Ok(Err(es)) => problems.extend(es),
            Ok(Ok(p)) => {
                if !codes.insert(p.new.code.to_lowercase()) {
                    problems.row(p.row, "code", "duplicate code in this file");
                }
                if let Some(id) = &p.id
                    && !ids.insert(id.clone())
                {
                    problems.row(p.row, "id", "duplicate id in this file");
                }
                batch.push(p);
            }
        }
        if batch.len() >= BATCH {
            let ex = existing(ctx.store, &batch).await?;
            against_store(&batch, &ex, &categories, &mut problems);
            batch.clear();
        }
        if problems.full() {
            break;
        }
    }
    if !batch.is_empty() && !problems.full() {
        let ex = existing(ctx.store, &batch).await?;
        against_store(&batch, &ex, &categories, &mut problems);
    }
    problems.finish(rows)?;

    // Pass 2: write.
    let mut report = ImportReport {
        kind: ImportKind::Products,
        rows: rows as u64,
        written: WrittenCounts::default(),
        skipped: 0,
    };
    for batch in source.parsed_batches(parse)? {
        write_batch(ctx, batch?, &mut categories, &mut report).await?;
    }
    Ok(report)
}

async fn write_batch(
    ctx: &Context<'_>,
    batch: Vec<ProductRow>,
    categories: &mut Categories,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let ex = existing(ctx.store, &batch).await?;
    let mut problems = Problems::default();
    let write = against_store(&batch, &ex, categories, &mut problems);
    if let Some(e) = problems.list.first() {
        return Err(ImportError::Write(format!(
            "{}: {} (written by someone else since validation)",
            e.field, e.message
        )));
    }
    report.skipped += write.iter().filter(|w| !**w).count() as u64;
    let mut todo = Vec::new();
    for (mut r, w) in batch.into_iter().zip(write) {
        if !w {
            continue;
        }
        r.new.category_id = match &r.category {
            CategoryRef::Id(id) => id.clone(),
            CategoryRef::Name(name) => categories.resolve(ctx.store, name, report).await?,
        };
        todo.push(r);
    }
    let store = ctx.store;
    let embedder = ctx.embedder;
    let written = futures::stream::iter(todo.into_iter().map(|r| async move {
        let id = r.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        retrying(
            || {
                catalog::create_product_with_id(
                    store,
                    embedder,
                    r.new.clone(),
                    id.clone(),
                    r.created_at.clone(),
                )
            },
            |e| matches!(e, CatalogError::Store(StoreError::TransactionConflict)),
        )
        .await
        .map_err(|e| ImportError::Write(format!("row {}: {e}", r.row)))
    }))
    .buffer_unordered(WRITE_CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await?;
    report.written.products += written.len() as u64;
    Ok(())
}
