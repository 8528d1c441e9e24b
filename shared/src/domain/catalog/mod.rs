//! Catalog: categories and products, their uniqueness rules, the embedding kept per product, the
//! in-process snapshot the listings answer from, and product search.
//!
//! Modules: [`records`] (records and their item codec), [`store_ops`] (reads and writes on the
//! store), [`vectors`] (embeddings and the snapshot's unit vectors), [`snapshot`] (the snapshot
//! and its cache; listing, sorting, filtering), [`search`] (the search index over products,
//! categories and vectors, suggestions, the search log). Records, store operations and the
//! embedding readers are re-exported here, as most callers want them.
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

pub mod records;
pub mod search;
pub mod snapshot;
pub mod store_ops;
pub mod vectors;

pub use records::*;
pub use store_ops::*;
pub use vectors::{StoredEmbedding, embedding_text, get_embedding, get_embeddings};

#[cfg(test)]
mod tests;
