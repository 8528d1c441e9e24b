//! A store decorator for failure tests: [`Faulty`] forwards every call to an inner store, after
//! asking its rule whether this call fails ([`Fault::Fail`]) or is slow ([`Fault::Delay`]).
//! The rule sees the call ([`Call`]), so one decorator serves "fail the banner record's put",
//! "fail every transaction once armed", "let two transactions through, then fail", "count the
//! batch gets" and "hang on reads of served lists".
//!
//! ```ignore
//! let armed = Arc::new(AtomicBool::new(true));
//! let a = armed.clone();
//! let failing = Faulty::new(store.clone(), move |call| {
//!     (a.load(Ordering::SeqCst) && matches!(call, Call::Transact(_))).then_some(Fault::Fail)
//! });
//! ```
//! Hand-written: a mock crate would generate a store without the inner one to forward to.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::store::{
    Condition, Item, ItemStore, Key, Page, Query, Scan, StoreError, StoreResult, TxOp, Update,
};

/// The call a rule is asked about.
pub enum Call<'a> {
    Get(&'a Key),
    Put(&'a Item),
    Delete(&'a Key),
    Update(&'a Key),
    UpdateMany(&'a [(Key, Update)]),
    Query(&'a Query),
    Transact(&'a [TxOp]),
    BatchGet(&'a [Key]),
    Scan,
}

impl Call<'_> {
    /// The partition key the call is about (the first one for a batch; `None` for a scan or an
    /// empty batch).
    pub fn pk(&self) -> Option<&str> {
        match self {
            Call::Get(k) | Call::Delete(k) | Call::Update(k) => Some(&k.pk),
            Call::Put(item) => item.get(crate::store::PK).and_then(|v| v.as_str()),
            Call::UpdateMany(u) => u.first().map(|(k, _)| k.pk.as_str()),
            Call::Query(q) => Some(&q.pk),
            Call::BatchGet(keys) => keys.first().map(|k| k.pk.as_str()),
            Call::Transact(_) | Call::Scan => None,
        }
    }
}

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The call fails with a backend error; the inner store is not called.
    Fail,
    /// The call waits this long, then goes to the inner store.
    Delay(Duration),
}

type Rule = dyn Fn(&Call<'_>) -> Option<Fault> + Send + Sync;

/// See the module docs.
pub struct Faulty {
    inner: Arc<dyn ItemStore>,
    rule: Box<Rule>,
}

impl Faulty {
    pub fn new(
        inner: Arc<dyn ItemStore>,
        rule: impl Fn(&Call<'_>) -> Option<Fault> + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            rule: Box::new(rule),
        }
    }

    async fn check(&self, call: Call<'_>) -> StoreResult<()> {
        match (self.rule)(&call) {
            None => Ok(()),
            Some(Fault::Fail) => Err(StoreError::Backend("injected failure".into())),
            Some(Fault::Delay(d)) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        }
    }
}

#[async_trait]
impl ItemStore for Faulty {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.check(Call::Get(key)).await?;
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.check(Call::Put(&item)).await?;
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        self.check(Call::Delete(key)).await?;
        self.inner.delete(key, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        self.check(Call::Update(key)).await?;
        self.inner.update(key, update, condition).await
    }
    async fn update_many(&self, updates: Vec<(Key, Update)>) -> StoreResult<()> {
        self.check(Call::UpdateMany(&updates)).await?;
        self.inner.update_many(updates).await
    }
    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.check(Call::Query(&query)).await?;
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        self.check(Call::Transact(&ops)).await?;
        self.inner.transact(ops).await
    }
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Item>> {
        self.check(Call::BatchGet(keys)).await?;
        self.inner.batch_get(keys).await
    }
    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.check(Call::Scan).await?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::store::local::LocalStore;

    fn item(pk: &str) -> Item {
        let mut item = Item::new();
        item.insert("PK".into(), json!(pk));
        item.insert("SK".into(), json!("A"));
        item
    }

    #[tokio::test]
    async fn the_rule_fails_only_the_calls_it_names_and_the_rest_reach_the_inner_store() {
        let inner: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        let faulty = Faulty::new(inner.clone(), move |call| {
            s.fetch_add(1, Ordering::SeqCst);
            (call.pk() == Some("BAD")).then_some(Fault::Fail)
        });
        faulty.put(item("GOOD"), None).await.unwrap();
        let err = faulty.put(item("BAD"), None).await.unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)));
        let good = Key::new("GOOD", "A");
        assert!(inner.get(&good).await.unwrap().is_some());
        assert!(inner.get(&Key::new("BAD", "A")).await.unwrap().is_none());
        assert!(faulty.get(&good).await.unwrap().is_some());
        assert_eq!(seen.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_call_waits_then_answers() {
        let inner: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
        inner.put(item("P"), None).await.unwrap();
        let faulty = Faulty::new(inner, |call| {
            matches!(call, Call::Get(_)).then_some(Fault::Delay(Duration::from_secs(5)))
        });
        let t = tokio::time::Instant::now();
        assert!(faulty.get(&Key::new("P", "A")).await.unwrap().is_some());
        assert!(t.elapsed() >= Duration::from_secs(5));
    }
}
