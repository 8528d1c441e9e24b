//! Platform counters: totals under `STATS` and hourly buckets for "last 24 hours" figures.
//! Every change is an atomic `ADD`, usually inside the transaction that makes the change counted.

use chrono::{Duration, Utc};
use serde_json::Value;

use crate::store::{EXPIRES_AT, ItemStore, Key, StoreResult, TxOp, Update, keys};

/// How long hourly buckets are kept.
pub const HOURLY_RETENTION_SECS: i64 = 8 * 24 * 3600;

/// The label of an hourly bucket (`2026-11-26T05`).
pub fn hour_label(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H").to_string()
}

/// A transaction operation adding `by` to the total counter `name`.
pub fn total_add(name: &str, by: i64) -> TxOp {
    TxOp::Update {
        key: keys::stats(name),
        update: Update::new().add("value", by),
        condition: None,
    }
}

/// A transaction operation adding `by` to this hour's bucket of `name`.
pub fn hourly_add(name: &str, by: i64) -> TxOp {
    let now = Utc::now();
    TxOp::Update {
        key: keys::hourly_stats(&hour_label(now), name),
        update: Update::new()
            .add("value", by)
            .set(EXPIRES_AT, now.timestamp() + HOURLY_RETENTION_SECS),
        condition: None,
    }
}

/// Current value of the total counter `name` (0 when never counted).
pub async fn total(store: &dyn ItemStore, name: &str) -> StoreResult<i64> {
    Ok(store
        .get(&keys::stats(name))
        .await?
        .and_then(|i| i.get("value").and_then(Value::as_i64))
        .unwrap_or(0))
}

/// Sum of the hourly buckets of `name` over the last 24 hours (the current hour included).
pub async fn last_24h(store: &dyn ItemStore, name: &str) -> StoreResult<i64> {
    let now = Utc::now();
    let keys: Vec<Key> = (0..24)
        .map(|h| keys::hourly_stats(&hour_label(now - Duration::hours(h)), name))
        .collect();
    Ok(store
        .batch_get(&keys)
        .await?
        .iter()
        .filter_map(|i| i.get("value").and_then(Value::as_i64))
        .sum())
}

/// The pointers to the models in force: the classroom's text classifier
/// (`CLASSIFY#MODEL`/`CURRENT`), the teachers' clustering (`CLUSTERS`/`CURRENT`) and each
/// recommendation model the `reco-train` job has switched in (`RECOMODEL#<model>`/`CURRENT`).
pub fn model_pointers() -> Vec<Key> {
    let mut keys = vec![keys::classify_model_current(), keys::clusters_current()];
    keys.extend(
        crate::reco::model::ModelKind::ALL
            .into_iter()
            .map(|kind| keys::reco_model_current(kind.name())),
    );
    keys
}

/// How many models are in force: the [`model_pointers`] that exist (read, not counted, so the
/// figure cannot drift from what the functions actually serve).
pub async fn models_in_force(store: &dyn ItemStore) -> StoreResult<i64> {
    Ok(store.batch_get(&model_pointers()).await?.len() as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::{Item, PK, SK, local::LocalStore};

    #[tokio::test]
    async fn counters_add_up_and_models_are_the_pointers_that_exist() {
        let store = LocalStore::in_memory().unwrap();
        assert_eq!(total(&store, "x").await.unwrap(), 0);
        assert_eq!(last_24h(&store, "x").await.unwrap(), 0);
        store
            .transact(vec![total_add("x", 2), hourly_add("x", 3)])
            .await
            .unwrap();
        store
            .transact(vec![total_add("x", -1), hourly_add("x", 1)])
            .await
            .unwrap();
        assert_eq!(total(&store, "x").await.unwrap(), 1);
        assert_eq!(last_24h(&store, "x").await.unwrap(), 4);

        assert_eq!(models_in_force(&store).await.unwrap(), 0);
        for (n, key) in model_pointers().into_iter().enumerate() {
            let mut item = Item::new();
            item.insert(PK.into(), key.pk.into());
            item.insert(SK.into(), key.sk.into());
            item.insert("version".into(), "v1".into());
            store.put(item, None).await.unwrap();
            assert_eq!(models_in_force(&store).await.unwrap(), n as i64 + 1);
        }
    }
}
