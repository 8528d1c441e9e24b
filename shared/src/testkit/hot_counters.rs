//! A store decorator that catches hot counters on indexed items.
//!
//! The table's GSIs project all attributes, so an `ADD` on an item that carries `GSI1PK` or
//! `GSI2PK` also writes that index partition (`VIDEOS#READY`, a category, `TEACHERS`): counters
//! that move on every request must live on items without index keys (`store::keys` states the
//! rule). [`HotCounterStore`] checks it on every call: before an `update` with an `ADD` (and
//! before a transaction with such an update element) it reads the target item, and notes a
//! [`Violation`] when the item has index keys or the update sets them. There is no allowlist:
//! every counter (products' stock and views, the search log's clicks, videos, teachers) lives on
//! an item without index keys. Tests replay requests through it and assert that nothing was noted.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::{
    AppState,
    store::{
        Condition, GSI1PK, GSI2PK, Item, ItemStore, Key, Page, Query, Scan, StoreResult, TxOp,
        Update,
    },
};

use super::TestApp;

/// An `ADD` on an item with index keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub key: Key,
    /// The attributes added to.
    pub added: Vec<String>,
    /// The index keys the item has (or the update sets).
    pub index_keys: Vec<&'static str>,
    /// `ItemStore::update` or `ItemStore::transact`.
    pub method: &'static str,
}

/// What the decorator saw; clones share it.
#[derive(Debug, Clone, Default)]
pub struct HotCounterLog {
    inner: Arc<Mutex<LogInner>>,
}

#[derive(Debug, Default)]
struct LogInner {
    checked: usize,
    violations: Vec<Violation>,
}

impl HotCounterLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many `ADD` updates were checked so far.
    pub fn checked(&self) -> usize {
        self.lock().checked
    }

    /// The violations noted so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.lock().violations.clone()
    }
}

/// An [`ItemStore`] that checks every counter update (see the module docs), then forwards it.
pub struct HotCounterStore {
    inner: Arc<dyn ItemStore>,
    log: HotCounterLog,
}

impl HotCounterStore {
    pub fn new(inner: Arc<dyn ItemStore>, log: HotCounterLog) -> Self {
        Self { inner, log }
    }

    /// Notes a violation if `update` adds to the item at `key` while it has (or gets) index keys.
    async fn check(&self, key: &Key, update: &Update, method: &'static str) -> StoreResult<()> {
        if update.add.is_empty() {
            return Ok(());
        }
        let current: Option<Item> = self.inner.get(key).await?;
        let mut index_keys = Vec::new();
        for attr in [GSI1PK, GSI2PK] {
            let has = current.as_ref().is_some_and(|i| i.contains_key(attr));
            let sets = update.set.iter().any(|(a, _)| a == attr);
            if has || sets {
                index_keys.push(attr);
            }
        }
        let mut log = self.log.lock();
        log.checked += 1;
        if !index_keys.is_empty() {
            log.violations.push(Violation {
                key: key.clone(),
                added: update.add.iter().map(|(a, _)| a.clone()).collect(),
                index_keys,
                method,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl ItemStore for HotCounterStore {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.inner.put(item, condition).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        self.inner.delete(key, condition).await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        self.check(key, &update, "ItemStore::update").await?;
        self.inner.update(key, update, condition).await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.inner.query(query).await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        for op in &ops {
            if let TxOp::Update { key, update, .. } = op {
                self.check(key, update, "ItemStore::transact").await?;
            }
        }
        self.inner.transact(ops).await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Item>> {
        self.inner.batch_get(keys).await
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.inner.scan(scan).await
    }

    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn purge_expired(&self) -> StoreResult<usize> {
        self.inner.purge_expired().await
    }
}

/// The test state ([`AppState::for_tests`] under `data_dir`) with its store wrapped in a
/// [`HotCounterStore`] writing to the returned log.
pub fn hot_counter_state(
    data_dir: std::path::PathBuf,
) -> anyhow::Result<(AppState, HotCounterLog)> {
    let base = AppState::for_tests(data_dir)?;
    let log = HotCounterLog::new();
    let state = AppState::with_backends(
        (*base.config).clone(),
        Arc::new(HotCounterStore::new(base.store.clone(), log.clone())),
        base.blobs.clone(),
        base.embedder.clone(),
        base.text.clone(),
        base.images.clone(),
    );
    Ok((state, log))
}

impl TestApp {
    /// Like [`TestApp::new`], on [`hot_counter_state`].
    pub fn hot_counters(router: fn(AppState) -> axum::Router) -> (Self, HotCounterLog) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (state, log) =
            hot_counter_state(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("state: {e}"));
        let router = router(state.clone());
        let app = Self {
            state,
            router,
            _dir: dir,
        };
        (app, log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local::LocalStore;
    use serde_json::json;

    fn item(v: serde_json::Value) -> Item {
        v.as_object().cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn an_add_on_an_indexed_item_is_noted() {
        let log = HotCounterLog::new();
        let inner: Arc<dyn ItemStore> =
            Arc::new(LocalStore::in_memory().unwrap_or_else(|e| panic!("{e}")));
        let store = HotCounterStore::new(inner, log.clone());
        let ok = |r: StoreResult<Item>| r.unwrap_or_else(|e| panic!("{e}"));
        for (pk, sk) in [("VIDEO#v", "VIDEO"), ("PRODUCT#p", "PRODUCT")] {
            store
                .put(
                    item(json!({"PK": pk, "SK": sk, "GSI1PK": "X", "GSI1SK": "1"})),
                    None,
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        // Counters on an item without index keys, a SET on an indexed one: fine.
        ok(store
            .update(
                &Key::new("VIDEO#v", "COUNTERS"),
                Update::new().add("n", 1),
                None,
            )
            .await);
        ok(store
            .update(
                &Key::new("VIDEO#v", "VIDEO"),
                Update::new().set("t", 1),
                None,
            )
            .await);
        assert!(log.violations().is_empty());
        // An ADD on the indexed video item, alone and in a transaction; an ADD that sets GSI2PK.
        ok(store
            .update(
                &Key::new("VIDEO#v", "VIDEO"),
                Update::new().add("n", 1),
                None,
            )
            .await);
        store
            .transact(vec![TxOp::Update {
                key: Key::new("VIDEO#v", "VIDEO"),
                update: Update::new().add("n", 1),
                condition: None,
            }])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ok(store
            .update(
                &Key::new("NEW#n", "A"),
                Update::new().add("n", 1).set(GSI2PK, "Y"),
                None,
            )
            .await);
        let v = log.violations();
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v[0].index_keys, [GSI1PK]);
        assert_eq!(v[1].method, "ItemStore::transact");
        assert_eq!(
            (v[2].key.pk.as_str(), v[2].index_keys.clone()),
            ("NEW#n", vec![GSI2PK])
        );
        assert_eq!(log.checked(), 5, "the five ADDs (not the SET)");
    }
}
