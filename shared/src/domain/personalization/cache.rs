//! The spec 000 caches (`user:{id}:segments`, `user:{id}:personalized_content`,
//! `segment:{id}:recommendations`): store items with a TTL, a per-instance layer in front.
//!
//! - **Store** (`PERSOCACHE#<cache key>` / `CACHE`): the value as JSON text, `computed_at`, and
//!   `expires_at` [`CACHE_TTL_SECS`] (1 hour, the spec's TTL) after computing, so DynamoDB's TTL
//!   removes it; readers also ignore an item past its `expires_at` (TTL deletion lags, and the
//!   local store and moto never delete).
//! - **Memory** ([`MemoryCache`], one per function instance, held by its state; no process-wide
//!   static): an entry is trusted for [`MEMORY_TTL`] (5 s), then the store item is read again.
//!   So when [`invalidate_user`] deletes a user's items (another instance, the segments
//!   function), a stale copy in any instance's memory outlives the invalidation by at most 5 s;
//!   the instance that invalidates or refreshes drops or replaces its own copy at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::store::{EXPIRES_AT, Item, ItemStore, PK, SK, StoreResult, keys};

/// The spec's cache TTL: 1 hour.
pub const CACHE_TTL_SECS: i64 = 3600;
/// How long an instance trusts its memory copy before re-reading the store item.
pub const MEMORY_TTL: Duration = Duration::from_secs(5);
/// Entries a memory cache holds before it drops the expired ones (and, if still full, all).
const MEMORY_MAX_ENTRIES: usize = 10_000;

/// `user:{id}:segments`.
pub fn user_segments_key(user_id: &str) -> String {
    format!("user:{user_id}:segments")
}

/// `user:{id}:personalized_content`.
pub fn user_content_key(user_id: &str) -> String {
    format!("user:{user_id}:personalized_content")
}

/// `segment:{id}:recommendations`.
pub fn segment_recommendations_key(segment_id: &str) -> String {
    format!("segment:{segment_id}:recommendations")
}

/// A cached value and when it was computed (RFC 3339).
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub value: Arc<Value>,
    pub computed_at: String,
}

/// The stored entry of `cache_key`, unless missing, expired or unreadable.
pub async fn get_stored(store: &dyn ItemStore, cache_key: &str) -> StoreResult<Option<Cached>> {
    let Some(item) = store.get(&keys::perso_cache(cache_key)).await? else {
        return Ok(None);
    };
    let now = chrono::Utc::now().timestamp();
    if item
        .get(EXPIRES_AT)
        .and_then(Value::as_i64)
        .is_none_or(|t| t <= now)
    {
        return Ok(None);
    }
    let Some(value) = item
        .get("value")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    else {
        return Ok(None);
    };
    let computed_at = item
        .get("computed_at")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Some(Cached {
        value: Arc::new(value),
        computed_at,
    }))
}

/// Stores `value` under `cache_key` for [`CACHE_TTL_SECS`]; returns the entry.
pub async fn put_stored(
    store: &dyn ItemStore,
    cache_key: &str,
    value: Value,
) -> StoreResult<Cached> {
    let now = chrono::Utc::now();
    let computed_at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let key = keys::perso_cache(cache_key);
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("value".into(), Value::from(value.to_string()));
    item.insert("computed_at".into(), Value::from(computed_at.clone()));
    item.insert(
        EXPIRES_AT.into(),
        Value::from(now.timestamp() + CACHE_TTL_SECS),
    );
    store.put(item, None).await?;
    Ok(Cached {
        value: Arc::new(value),
        computed_at,
    })
}

/// Drops `user_id`'s cached segments and personalised content (the store items; other
/// instances' memory copies lapse within [`MEMORY_TTL`]). Called by every write that changes
/// the user's segment membership.
pub async fn invalidate_user(store: &dyn ItemStore, user_id: &str) -> StoreResult<()> {
    let segments = keys::perso_cache(&user_segments_key(user_id));
    let content = keys::perso_cache(&user_content_key(user_id));
    futures::try_join!(store.delete(&segments, None), store.delete(&content, None))?;
    Ok(())
}

/// One instance's memory layer in front of the store items.
#[derive(Debug)]
pub struct MemoryCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Cached)>>,
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new(MEMORY_TTL)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The entry of `cache_key` if it is younger than the memory TTL.
    pub fn get(&self, cache_key: &str) -> Option<Cached> {
        let entries = lock(&self.entries);
        let (at, cached) = entries.get(cache_key)?;
        (at.elapsed() < self.ttl).then(|| cached.clone())
    }

    pub fn put(&self, cache_key: &str, cached: Cached) {
        let mut entries = lock(&self.entries);
        if entries.len() >= MEMORY_MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= MEMORY_MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(cache_key.to_string(), (Instant::now(), cached));
    }

    pub fn remove(&self, cache_key: &str) {
        lock(&self.entries).remove(cache_key);
    }

    /// Drops this instance's copies of a user's entries.
    pub fn invalidate_user(&self, user_id: &str) {
        self.remove(&user_segments_key(user_id));
        self.remove(&user_content_key(user_id));
    }
}

/// How a read went, for the response's `cached` field and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Memory,
    Store,
    Computed,
}

impl Hit {
    pub fn cached(self) -> bool {
        self != Hit::Computed
    }
}

/// The entry of `cache_key` from memory, else the store (kept in memory), else `compute`d,
/// stored and kept. `fresh`: skip both layers and recompute (refresh, `Cache-Control: no-cache`).
/// `compute` answering `None` (unknown user or segment) stores nothing and answers `None`.
pub async fn get_or_compute<F, Fut>(
    memory: &MemoryCache,
    store: &dyn ItemStore,
    cache_key: &str,
    fresh: bool,
    compute: F,
) -> StoreResult<Option<(Cached, Hit)>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = StoreResult<Option<Value>>>,
{
    if !fresh {
        if let Some(c) = memory.get(cache_key) {
            return Ok(Some((c, Hit::Memory)));
        }
        if let Some(c) = get_stored(store, cache_key).await? {
            memory.put(cache_key, c.clone());
            return Ok(Some((c, Hit::Store)));
        }
    }
    let Some(value) = compute().await? else {
        memory.remove(cache_key);
        return Ok(None);
    };
    let c = put_stored(store, cache_key, value).await?;
    memory.put(cache_key, c.clone());
    Ok(Some((c, Hit::Computed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn memory_entries_lapse_after_their_ttl() {
        let m = MemoryCache::new(Duration::from_millis(30));
        let c = Cached {
            value: Arc::new(json!(1)),
            computed_at: String::new(),
        };
        m.put("k", c.clone());
        assert_eq!(m.get("k"), Some(c));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(m.get("k"), None);
    }
}
