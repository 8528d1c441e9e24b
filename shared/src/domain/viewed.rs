//! Recently viewed products: per user, most recent first, at most [`MAX_VIEWED`] kept.
//!
//! One item per user holds the list, so reading it is one `GetItem` and every change is one
//! conditional write on its `version` (concurrent views retry instead of losing each other).
//!
//! The stats counter [`USERS_WITH_VIEWED`] counts the users whose list exists: it moves only in
//! the transaction that creates the item (the first view, `+1`) or deletes it (clearing, `-1`),
//! each conditioned on what was read, so the count always equals the number of lists.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    domain::stats,
    store::{self, Condition, Item, ItemStore, PK, SK, StoreError, TxOp, keys},
};

/// The stats counter of users with a non-empty viewed-products list.
pub const USERS_WITH_VIEWED: &str = "users_with_viewed_products";

/// How many viewed products are kept per user.
pub const MAX_VIEWED: usize = 50;

/// Each failed attempt means another writer succeeded, so this bounds the writers racing on one user.
const MAX_RETRIES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewedEntry {
    pub product_id: String,
    pub viewed_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ViewedList {
    #[serde(default)]
    entries: Vec<ViewedEntry>,
    #[serde(default)]
    version: u64,
}

async fn read(store: &dyn ItemStore, user_id: &str) -> Result<ViewedList, StoreError> {
    match store.get(&keys::viewed_products(user_id)).await? {
        Some(item) => store::from_item(item),
        None => Ok(ViewedList::default()),
    }
}

/// The product ids of a viewed-products item read raw (e.g. by a query of the user's
/// partition), most recent first.
pub fn product_ids(item: &Item) -> impl Iterator<Item = &str> {
    item.get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("product_id").and_then(Value::as_str))
}

/// The user's viewed products, most recent first.
pub async fn list(store: &dyn ItemStore, user_id: &str) -> Result<Vec<ViewedEntry>, StoreError> {
    Ok(read(store, user_id).await?.entries)
}

/// Puts `product_id` at the front of the user's history (moving it if it was there already) and
/// drops the oldest entries beyond [`MAX_VIEWED`].
pub async fn add(store: &dyn ItemStore, user_id: &str, product_id: &str) -> Result<(), StoreError> {
    let now = crate::store::now_rfc3339();
    for _ in 0..MAX_RETRIES {
        let old = read(store, user_id).await?;
        let mut entries = Vec::with_capacity(MAX_VIEWED);
        entries.push(ViewedEntry {
            product_id: product_id.to_string(),
            viewed_at: now.clone(),
        });
        entries.extend(
            old.entries
                .into_iter()
                .filter(|e| e.product_id != product_id)
                .take(MAX_VIEWED - 1),
        );
        let new = ViewedList {
            entries,
            version: old.version + 1,
        };
        let key = keys::viewed_products(user_id);
        let mut item: Item = store::to_item(&new)?;
        item.insert(PK.into(), key.pk.into());
        item.insert(SK.into(), key.sk.into());
        item.insert("entity".into(), "viewed_products".into());
        let result = if old.version == 0 {
            // The first view: the list and the count of users with one appear together.
            store
                .transact(vec![
                    TxOp::Put {
                        item,
                        condition: Some(Condition::AttrNotExists("version".into())),
                    },
                    stats::total_add(USERS_WITH_VIEWED, 1),
                ])
                .await
        } else {
            store
                .put(
                    item,
                    Some(Condition::eq("version", Value::from(old.version))),
                )
                .await
        };
        match result {
            Ok(()) => return Ok(()),
            Err(
                StoreError::ConditionFailed
                | StoreError::TransactionCanceled { .. }
                | StoreError::TransactionConflict,
            ) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::TransactionConflict)
}

/// Forgets the user's history (and uncounts the user, in the same transaction, when there was one).
pub async fn clear(store: &dyn ItemStore, user_id: &str) -> Result<(), StoreError> {
    for _ in 0..MAX_RETRIES {
        let old = read(store, user_id).await?;
        if old.version == 0 {
            return Ok(());
        }
        let ops = vec![
            TxOp::Delete {
                key: keys::viewed_products(user_id),
                condition: Some(Condition::eq("version", Value::from(old.version))),
            },
            stats::total_add(USERS_WITH_VIEWED, -1),
        ];
        match store.transact(ops).await {
            Ok(()) => return Ok(()),
            // A view (or another clear) came in between: read again.
            Err(StoreError::TransactionCanceled { .. } | StoreError::TransactionConflict) => {}
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::TransactionConflict)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::local::LocalStore;

    fn ids(v: &[ViewedEntry]) -> Vec<&str> {
        v.iter().map(|e| e.product_id.as_str()).collect()
    }

    #[tokio::test]
    async fn most_recent_first_without_duplicates_and_capped() {
        let store = LocalStore::in_memory().unwrap();
        assert!(list(&store, "u").await.unwrap().is_empty());
        for p in ["a", "b", "c", "a"] {
            add(&store, "u", p).await.unwrap();
        }
        assert_eq!(ids(&list(&store, "u").await.unwrap()), ["a", "c", "b"]);
        for i in 0..60 {
            add(&store, "u", &format!("p{i}")).await.unwrap();
        }
        let all = list(&store, "u").await.unwrap();
        assert_eq!(all.len(), MAX_VIEWED);
        assert_eq!(all[0].product_id, "p59");
        assert_eq!(all[MAX_VIEWED - 1].product_id, "p10");
        assert!(list(&store, "other").await.unwrap().is_empty());
        clear(&store, "u").await.unwrap();
        assert!(list(&store, "u").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn users_with_a_list_are_counted_once_and_uncounted_when_cleared() {
        let store = LocalStore::in_memory().unwrap();
        let count = || stats::total(&store, USERS_WITH_VIEWED);
        assert_eq!(count().await.unwrap(), 0);
        add(&store, "u", "a").await.unwrap();
        assert_eq!(count().await.unwrap(), 1);
        add(&store, "u", "b").await.unwrap();
        assert_eq!(
            count().await.unwrap(),
            1,
            "a second view is not a second user"
        );
        add(&store, "v", "a").await.unwrap();
        assert_eq!(count().await.unwrap(), 2);
        clear(&store, "u").await.unwrap();
        assert_eq!(count().await.unwrap(), 1);
        clear(&store, "u").await.unwrap();
        clear(&store, "never-viewed").await.unwrap();
        assert_eq!(
            count().await.unwrap(),
            1,
            "clearing an empty list uncounts nobody"
        );
        add(&store, "u", "c").await.unwrap();
        assert_eq!(count().await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_first_views_and_clears_keep_the_count_exact() {
        let store: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let user = format!("u{}", i % 4);
                    if i % 3 == 2 {
                        clear(store.as_ref(), &user).await
                    } else {
                        add(store.as_ref(), &user, &format!("p{i}")).await
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let mut with_list = 0;
        for u in 0..4 {
            if !list(store.as_ref(), &format!("u{u}"))
                .await
                .unwrap()
                .is_empty()
            {
                with_list += 1;
            }
        }
        assert_eq!(
            stats::total(store.as_ref(), USERS_WITH_VIEWED)
                .await
                .unwrap(),
            with_list
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_views_are_all_kept() {
        let store: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { add(store.as_ref(), "u", &format!("p{i}")).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(list(store.as_ref(), "u").await.unwrap().len(), 10);
    }
}
