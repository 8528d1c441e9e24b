//! Bulk import of a shop's history: users, products, interactions and historical orders, from CSV
//! (with a header row) or JSON lines. Used by `POST /api/v1/admin/import/{kind}` and by
//! `local import KIND FILE`.
//!
//! **All or nothing at validation.** An import reads its file twice. The first pass validates
//! every row (types, ranges, duplicates within the file) and checks the store in batches of
//! [`BATCH`] rows (taken emails, unknown product ids, ...); any problem rejects the whole file with
//! up to [`MAX_REPORTED`] row-numbered [`FieldError`]s (`rows[3].price: must be >= 0`, rows
//! numbered from 1, a CSV header not counted, the same shape as the classroom import) and nothing
//! is written. The second pass writes the file in batches of [`BATCH`] rows, each row through the
//! same domain code as the platform's own writes. Both passes stream rows, so the CLI takes a
//! file of any size in constant memory (besides the per-file duplicate sets); the HTTP route is
//! bounded by the Lambda request limit.
//!
//! **Idempotent.** A file sent twice writes nothing the second time: users, products and orders
//! with an `id` (`order_id`) already in the store are skipped and counted as `skipped`; rows of
//! interactions, which have no ids, are written in batches and each batch leaves a marker keyed by
//! the hash of the file's rows ([`keys::import_batch`](crate::store::keys::import_batch), kept 30
//! days), so a retry of the same file skips the batches already written (only a batch interrupted
//! half-way can count twice). What validation found is written unless a concurrent writer takes an
//! email, a username or a product code between the passes: that row then fails the import with
//! the rows before it written, and a retry of the same file completes it.
//!
//! Kinds: [`users`], [`products`], [`interactions`], [`orders`] (their modules list the columns).

pub mod interactions;
pub mod orders;
pub mod products;
pub mod records;
pub mod users;

use std::io::Read;

use serde::Serialize;
use utoipa::ToSchema;

use crate::{ai::Embedder, error::FieldError, store::ItemStore};

pub use records::Format;

/// Rows validated against the store, and written, together.
pub const BATCH: usize = 100;
/// Problems listed in a rejection (validation stops there).
pub const MAX_REPORTED: usize = 50;

/// What is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Users,
    Products,
    Interactions,
    Orders,
}

impl ImportKind {
    pub const ALL: [ImportKind; 4] = [
        ImportKind::Users,
        ImportKind::Products,
        ImportKind::Interactions,
        ImportKind::Orders,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ImportKind::Users => "users",
            ImportKind::Products => "products",
            ImportKind::Interactions => "interactions",
            ImportKind::Orders => "orders",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::str::FromStr for ImportKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| {
            format!("unknown import kind {s:?} (users, products, interactions or orders)")
        })
    }
}

/// Opens the file (again) from its start: the import reads it twice.
pub type Opener<'a> = &'a (dyn Fn() -> std::io::Result<Box<dyn Read + Send>> + Send + Sync);

/// The file to import.
pub struct Source<'a> {
    pub format: Format,
    pub open: Opener<'a>,
}

impl Source<'_> {
    fn rows(&self) -> Result<records::Rows, ImportError> {
        Ok(records::Rows::new((self.open)()?, self.format))
    }

    /// The second pass's reading: the file again, each row through `parse`, in batches of
    /// [`BATCH`] rows (the last one shorter). A row that no longer reads or parses as it did in
    /// the first pass is [`changed`].
    fn parsed_batches<T, E>(
        &self,
        parse: impl Fn(usize, &serde_json::Map<String, serde_json::Value>) -> Result<T, E>,
    ) -> Result<impl Iterator<Item = Result<Vec<T>, ImportError>>, ImportError> {
        let mut rows = self.rows()?;
        Ok(std::iter::from_fn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for rec in rows.by_ref() {
                let parsed = rec
                    .map_err(|_| changed(0))
                    .and_then(|(row, m)| parse(row, &m).map_err(|_| changed(row)));
                match parsed {
                    Ok(t) => batch.push(t),
                    Err(e) => return Some(Err(e)),
                }
                if batch.len() >= BATCH {
                    break;
                }
            }
            (!batch.is_empty()).then_some(Ok(batch))
        }))
    }
}

/// What an import may use and do.
pub struct Context<'a> {
    pub store: &'a dyn ItemStore,
    /// Product embeddings are computed on import, as product creation does.
    pub embedder: &'a dyn Embedder,
    /// Whether users may be imported with roles other than `customer` (the `assign_roles`
    /// permission over HTTP; the CLI may).
    pub may_assign_roles: bool,
}

/// Counts written, per entity (an import writes some of them only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct WrittenCounts {
    pub users: u64,
    pub products: u64,
    /// Categories created because a product named one that did not exist.
    pub categories: u64,
    pub orders: u64,
    pub order_lines: u64,
    /// Interactions recorded (for orders: one purchase per line of an order that is not cancelled).
    pub interactions: u64,
}

/// The outcome of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    pub kind: ImportKind,
    /// Rows in the file.
    pub rows: u64,
    pub written: WrittenCounts,
    /// Rows (for orders: orders; for interactions: rows of batches) already in the store from an
    /// earlier import, not written again.
    pub skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is rejected: every problem found (up to [`MAX_REPORTED`]); nothing was written.
    #[error("import rejected: {} problem(s)", .0.len())]
    Rejected(Vec<FieldError>),
    /// A row asks for something the caller may not do (a role without `assign_roles`).
    #[error("{0}")]
    Forbidden(String),
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
    /// Writing failed part-way (the rows before were written; a retry of the same file completes
    /// the import).
    #[error("import failed while writing: {0}")]
    Write(String),
}

impl From<crate::store::StoreError> for ImportError {
    fn from(e: crate::store::StoreError) -> Self {
        ImportError::Write(e.to_string())
    }
}

/// Imports `source` as `kind`.
pub async fn run(
    ctx: &Context<'_>,
    kind: ImportKind,
    source: &Source<'_>,
) -> Result<ImportReport, ImportError> {
    match kind {
        ImportKind::Users => users::run(ctx, source).await,
        ImportKind::Products => products::run(ctx, source).await,
        ImportKind::Interactions => interactions::run(ctx, source).await,
        ImportKind::Orders => orders::run(ctx, source).await,
    }
}

/// Problems found by validation.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<FieldError>,
}

impl Problems {
    pub(crate) fn push(&mut self, e: FieldError) {
        if self.list.len() < MAX_REPORTED {
            self.list.push(e);
        }
    }

    pub(crate) fn extend(&mut self, errors: Vec<FieldError>) {
        for e in errors {
            self.push(e);
        }
    }

    pub(crate) fn row(&mut self, row: usize, column: &str, message: impl Into<String>) {
        self.push(FieldError::new(format!("rows[{row}].{column}"), message));
    }

    /// Enough found: validation stops.
    pub(crate) fn full(&self) -> bool {
        self.list.len() >= MAX_REPORTED
    }

    /// `Ok` when nothing was found (and the file has rows).
    pub(crate) fn finish(mut self, rows: usize) -> Result<(), ImportError> {
        if rows == 0 && self.list.is_empty() {
            self.list.push(FieldError::new("body", "no rows to import"));
        }
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(ImportError::Rejected(self.list))
        }
    }
}

/// `write()` again while it fails with a transaction conflict: concurrent writes of one import
/// all add to the same counters (`users`, `orders`, the catalog version), which DynamoDB
/// transactions refuse to do at the same instant.
pub(crate) async fn retrying<T, E, Fut>(
    mut write: impl FnMut() -> Fut,
    is_conflict: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    Fut: std::future::Future<Output = Result<T, E>>,
{
    const ATTEMPTS: u32 = 8;
    let mut attempt = 0;
    loop {
        match write().await {
            Err(e) if attempt + 1 < ATTEMPTS && is_conflict(&e) => {
                attempt += 1;
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 16);
                tokio::time::sleep(std::time::Duration::from_millis(
                    (5u64 << attempt.min(6)) + jitter,
                ))
                .await;
            }
            other => return other,
        }
    }
}

/// A row that validated in the first pass but not in the second: the file changed in between.
/// Adds the product ids of `batch` found in the store to `known`; a row error for each other
/// (the interaction and order imports both reference products).
pub(crate) async fn check_products(
    store: &dyn ItemStore,
    batch: &[(usize, String)],
    known: &mut std::collections::HashSet<String>,
    problems: &mut Problems,
) -> Result<(), ImportError> {
    let wanted: Vec<_> = batch
        .iter()
        .filter(|(_, id)| !known.contains(id))
        .map(|(_, id)| crate::store::keys::product(id))
        .collect();
    for item in store.batch_get(&wanted).await? {
        if let Some(id) = item.get("id").and_then(serde_json::Value::as_str) {
            known.insert(id.to_string());
        }
    }
    for (row, id) in batch {
        if !known.contains(id) {
            problems.row(*row, "product_id", format!("unknown product {id}"));
        }
    }
    Ok(())
}

pub(crate) fn changed(row: usize) -> ImportError {
    ImportError::Write(format!(
        "row {row} no longer reads as it did when validated: the file changed during the import"
    ))
}

#[cfg(test)]
mod tests;
