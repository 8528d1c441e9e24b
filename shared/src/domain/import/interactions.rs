//! Importing interactions.
//!
//! Columns: `user_id` (the actor: a user id, or `guest:<cart id>`; not checked against the users,
//! so interactions can come before or without their users), `product_id` (must be a product in the
//! store), `kind` (an [`InteractionKind`] name: `view`, `cart`, `purchase`, `like`, `save`,
//! `share`, `video_view`, `search_click`, `rec_click`, `not_interested`), optional `count`
//! (1-1,000,000, default 1) and `timestamp` (ISO 8601, a date or epoch seconds, not in the future;
//! default now).
//!
//! Rows are recorded through [`interactions::record_bulk`] with their time (`at`), so the pair
//! aggregates, the hourly product activity and the raw events are what live traffic would have
//! written (the rows of one batch that share a pair or a product hour are coalesced into one
//! write, and the writes go out in transactions of 100 items: on the local stores that is one
//! commit per hundred items instead of one per write) (activity and events older than their retention expire as theirs would). Rows have
//! no ids: each written batch leaves a marker keyed by the hash of the file's rows, and a retry of
//! the same file skips the batches already written.

use std::collections::HashSet;

use chrono::Utc;
use serde_json::{Map, Value};
use xxhash_rust::xxh3::Xxh3;

use super::{
    BATCH, Context, ImportError, ImportKind, ImportReport, Problems, Source, WrittenCounts,
    records::Fields,
};
use crate::{
    domain::interactions::{self, Actor, InteractionKind, Signal},
    error::FieldError,
    store::{EXPIRES_AT, Item, PK, SK, keys, now_epoch},
};

/// How long the marker of a written batch is kept.
const MARKER_TTL_SECS: i64 = 30 * 24 * 3600;

fn parse(row: usize, rec: &Map<String, Value>) -> Result<(Signal, String), Vec<FieldError>> {
    let mut f = Fields::new(row, rec);
    let user_id = f.id("user_id");
    let product_id = f.id("product_id");
    let kind_text = f.text("kind", 40);
    let kind = kind_text.as_deref().and_then(|k| {
        let kind = InteractionKind::parse(k);
        if kind.is_none() {
            let names: Vec<&str> = InteractionKind::ALL.iter().map(|k| k.name()).collect();
            f.error("kind", format!("unknown kind {k:?} ({})", names.join(", ")));
        }
        kind
    });
    let count = f.opt_int("count", 1, 1_000_000).unwrap_or(1);
    let at = f.opt_time("timestamp");
    // The row as given (a missing time is "now", which differs between two sends of one file).
    let canonical = format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{count}\u{1f}{}\n",
        user_id.as_deref().unwrap_or_default(),
        product_id.as_deref().unwrap_or_default(),
        kind_text.as_deref().unwrap_or_default(),
        at.map(|t| t.timestamp_millis().to_string())
            .unwrap_or_default(),
    );
    let value = match (user_id, product_id, kind) {
        (Some(user), Some(product), Some(kind)) => Some((
            Signal::new(Actor::from_log_id(&user), product, kind)
                .count(count)
                .at(at.unwrap_or_else(Utc::now)),
            canonical,
        )),
        _ => None,
    };
    f.finish(value)
}

pub(super) async fn run(
    ctx: &Context<'_>,
    source: &Source<'_>,
) -> Result<ImportReport, ImportError> {
    // Pass 1: validate, and hash the rows (the batch markers' key).
    let mut problems = Problems::default();
    let mut known = HashSet::new();
    let mut hasher = Xxh3::new();
    let mut rows = 0usize;
    let mut batch = Vec::with_capacity(BATCH);
    for rec in source.rows()? {
        rows += 1;
        match rec.map(|(row, m)| (row, parse(row, &m))) {
            Err(e) => problems.push(e),
            Ok((_, Err(es))) => problems.extend(es),
            Ok((row, Ok((signal, canonical)))) => {
                hasher.update(canonical.as_bytes());
                batch.push((row, signal.product_id));
            }
        }
        if batch.len() >= BATCH {
            super::check_products(ctx.store, &batch, &mut known, &mut problems).await?;
            batch.clear();
        }
        if problems.full() {
            break;
        }
    }
    if !batch.is_empty() && !problems.full() {
        super::check_products(ctx.store, &batch, &mut known, &mut problems).await?;
    }
    problems.finish(rows)?;
    let file_hash = hasher.digest();

    // Pass 2: write, batch by batch, skipping the batches an earlier send of this file wrote.
    let mut report = ImportReport {
        kind: ImportKind::Interactions,
        rows: rows as u64,
        written: WrittenCounts::default(),
        skipped: 0,
    };
    let batches = source.parsed_batches(|row, m| parse(row, m).map(|(signal, _)| signal))?;
    for (number, batch) in (0u64..).zip(batches) {
        let batch = batch?;
        let key = keys::import_batch(ImportKind::Interactions.name(), file_hash, number);
        if ctx.store.get(&key).await?.is_some() {
            report.skipped += batch.len() as u64;
            continue;
        }
        interactions::record_bulk(ctx.store, &batch).await?;
        let mut marker = Item::new();
        marker.insert(PK.into(), key.pk.into());
        marker.insert(SK.into(), key.sk.into());
        marker.insert("rows".into(), Value::from(batch.len()));
        marker.insert(
            EXPIRES_AT.into(),
            Value::from(now_epoch() + MARKER_TTL_SECS),
        );
        ctx.store.put(marker, None).await?;
        report.written.interactions += batch.len() as u64;
    }
    Ok(report)
}
