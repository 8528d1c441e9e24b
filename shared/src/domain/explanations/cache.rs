//! The explanation cache in the table: one item per [`cache_id`] (`EXPLAIN#<id>` / `TEXT`, see
//! `store::keys`), read for a whole response in one batch get and written by the fill.
//!
//! Each entry has an `expires_at`: [`MODEL_TTL_SECS`] for a model-written (or local template)
//! sentence, [`FALLBACK_TTL_SECS`] for the template stored in place of a model line that was
//! unusable (so that one bad item is not sent to the model on every request, and is tried again
//! the next day). Reads skip expired entries (the store does, whatever DynamoDB's TTL sweeper has
//! done yet).

use std::collections::HashMap;

use chrono::Utc;
use serde_json::Value;

use crate::reco::explain::{ExplainRequest, PROMPT_VERSION, cache_id};
use crate::store::{EXPIRES_AT, Item, ItemStore, Key, PK, SK, StoreResult, keys};

/// Lifetime of a model-written sentence.
pub const MODEL_TTL_SECS: i64 = 30 * 24 * 3600;
/// Lifetime of a template stored because the model's line was unusable.
pub const FALLBACK_TTL_SECS: i64 = 24 * 3600;
/// Concurrent puts of one fill.
const WRITE_CONCURRENCY: usize = 8;

/// Where a cached sentence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Written by the text model.
    Model,
    /// The template, stored because the model's line for it was unusable.
    Template,
    /// The template, "generated" by the local (offline) backend.
    Local,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Model => "model",
            Source::Template => "template",
            Source::Local => "local",
        }
    }

    fn ttl(self) -> i64 {
        match self {
            Source::Model | Source::Local => MODEL_TTL_SECS,
            Source::Template => FALLBACK_TTL_SECS,
        }
    }
}

/// One sentence to store for a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    /// The sentence, with the `{context}` placeholder where it names the context item.
    pub text: String,
    pub source: Source,
    pub model_id: String,
}

/// The cache keys of `requests`' ids (deduplicated, in first-seen order).
pub fn keys_of(ids: &[String]) -> Vec<Key> {
    let mut seen = std::collections::HashSet::new();
    ids.iter()
        .filter(|id| seen.insert(id.as_str()))
        .map(|id| keys::explanation(id))
        .collect()
}

/// The cached sentences among `ids` (one batch get): cache id -> stored sentence.
pub async fn read(store: &dyn ItemStore, ids: &[String]) -> StoreResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let items = store.batch_get(&keys_of(ids)).await?;
    let now = Utc::now().timestamp();
    Ok(items
        .into_iter()
        .filter(|item| !crate::store::is_expired(item, now))
        .filter_map(|item| {
            let id = item
                .get(PK)?
                .as_str()?
                .strip_prefix("EXPLAIN#")?
                .to_string();
            let text = item.get("text")?.as_str()?.to_string();
            Some((id, text))
        })
        .collect())
}

fn to_item(entry: &Entry, now: i64) -> Item {
    let key = keys::explanation(&entry.id);
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("text".into(), Value::from(entry.text.as_str()));
    item.insert("source".into(), entry.source.name().into());
    item.insert("model_id".into(), Value::from(entry.model_id.as_str()));
    item.insert("prompt_version".into(), PROMPT_VERSION.into());
    item.insert(
        "created_at".into(),
        Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .into(),
    );
    item.insert(EXPIRES_AT.into(), (now + entry.source.ttl()).into());
    item
}

/// Writes `entries` (plain puts, a few at a time); returns how many were written. A failed put
/// is logged and skipped: the request that needs it gets the template and queues it again.
pub async fn write(store: &dyn ItemStore, entries: &[Entry]) -> usize {
    let now = Utc::now().timestamp();
    let mut written = 0;
    for chunk in entries.chunks(WRITE_CONCURRENCY) {
        let puts = chunk.iter().map(|e| put_one(store, e, now));
        written += futures::future::join_all(puts)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count();
    }
    written
}

async fn put_one(store: &dyn ItemStore, entry: &Entry, now: i64) -> bool {
    match store.put(to_item(entry, now), None).await {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(error = %err, id = %entry.id, "explanation not cached");
            false
        }
    }
}

/// The cache id of each request.
pub fn ids_of(requests: &[ExplainRequest]) -> Vec<String> {
    requests.iter().map(cache_id).collect()
}
