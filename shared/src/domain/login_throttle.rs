//! Failed-login throttling, per (login name, client address) and per client address.
//!
//! A login is refused with 429 while either counter of the current window is at its limit:
//! `LOGIN_MAX_FAILURES` failures naming one login name from one address (5), or
//! `LOGIN_MAX_FAILURES_PER_ADDRESS` failures from one address whatever the name (20). So a stranger
//! cannot lock an account for its owner (the owner logs in from another address), and one address
//! cannot spray guesses over many accounts. Counters are keyed by a hash of the login name as
//! typed, whether an account has that name or not, so 429 versus 401 tells nothing about which
//! accounts exist. Each counter is an atomic `ADD`; its window starts at the first failure and the
//! item expires (TTL) when the window ends.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    config::Config,
    store::{self, Condition, EXPIRES_AT, Item, ItemStore, Key, PK, SK, StoreError, Update, keys},
};

/// The limits of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failures per (login name, address).
    pub per_login: u32,
    /// Failures per address across login names.
    pub per_address: u32,
    pub window_secs: i64,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            per_login: config.login_max_failures,
            per_address: config.login_max_failures_per_address,
            window_secs: i64::try_from(config.login_window.as_secs()).unwrap_or(900),
        }
    }
}

/// The counter key part for a login name: the same for every spelling that names the same
/// account record (case, surrounding spaces), and no email address in the table's keys.
pub fn login_hash(login: &str) -> String {
    let digest = Sha256::digest(login.trim().to_lowercase().as_bytes());
    hex::encode(&digest[..16])
}

/// `Some(seconds until the window ends)` while `login_hash` from `address` is throttled.
/// One BatchGetItem of the two counters.
pub async fn throttled(
    store: &dyn ItemStore,
    login_hash: &str,
    address: &str,
    limits: Limits,
) -> Result<Option<u64>, StoreError> {
    let per_login = keys::login_failures(login_hash, address);
    let per_address = keys::login_failures_by_address(address);
    let items = store
        .batch_get(&[per_login.clone(), per_address.clone()])
        .await?;
    let now = store::now_epoch();
    let mut retry_after: Option<u64> = None;
    for item in items {
        let limit = match Key::of(&item) {
            Some(k) if k == per_login => limits.per_login,
            Some(k) if k == per_address => limits.per_address,
            _ => continue,
        };
        let count = item.get("count").and_then(Value::as_u64).unwrap_or(0);
        if count >= u64::from(limit) {
            let until = item.get(EXPIRES_AT).and_then(Value::as_i64).unwrap_or(now);
            let wait = u64::try_from(until - now).unwrap_or(0).max(1);
            retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
        }
    }
    Ok(retry_after)
}

/// Counts a failed login on both counters.
pub async fn record_failure(
    store: &dyn ItemStore,
    login_hash: &str,
    address: &str,
    window_secs: i64,
) -> Result<(), StoreError> {
    let per_login = keys::login_failures(login_hash, address);
    let per_address = keys::login_failures_by_address(address);
    tokio::try_join!(
        bump(store, &per_login, window_secs),
        bump(store, &per_address, window_secs)
    )?;
    Ok(())
}

/// Forgets the failures of `login_hash` from `address` after a successful login (the
/// per-address counter stays: a login to one's own account must not reset it).
pub async fn clear(
    store: &dyn ItemStore,
    login_hash: &str,
    address: &str,
) -> Result<(), StoreError> {
    store
        .delete(&keys::login_failures(login_hash, address), None)
        .await
        .map(|_| ())
}

const MAX_RETRIES: usize = 5;

/// `ADD count 1` on a live window, or starts a window with count 1 (first failure, or the old
/// window expired). Both writes are conditional, so concurrent failures are all counted.
async fn bump(store: &dyn ItemStore, key: &Key, window_secs: i64) -> Result<(), StoreError> {
    for _ in 0..MAX_RETRIES {
        match store
            .update(
                key,
                Update::new().add("count", 1),
                Some(Condition::ItemExists),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
        let mut item = Item::new();
        item.insert(PK.into(), key.pk.clone().into());
        item.insert(SK.into(), key.sk.clone().into());
        item.insert("count".into(), 1.into());
        item.insert(EXPIRES_AT.into(), (store::now_epoch() + window_secs).into());
        match store.put(item, Some(Condition::ItemNotExists)).await {
            Ok(()) => return Ok(()),
            // Another failure started the window in between: add to it.
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::TransactionConflict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local::LocalStore;

    const LIMITS: Limits = Limits {
        per_login: 3,
        per_address: 5,
        window_secs: 60,
    };

    #[test]
    fn login_hash_ignores_case_and_spaces() {
        assert_eq!(
            login_hash(" Ann@Example.com "),
            login_hash("ann@example.com")
        );
        assert_ne!(login_hash("ann"), login_hash("ann@example.com"));
        assert_eq!(login_hash("x").len(), 32);
    }

    #[tokio::test]
    async fn limits_per_login_and_address_and_per_address() {
        let store = LocalStore::in_memory().expect("store");
        let ann = login_hash("ann");
        for _ in 0..3 {
            assert_eq!(
                throttled(&store, &ann, "1.1.1.1", LIMITS)
                    .await
                    .expect("read"),
                None
            );
            record_failure(&store, &ann, "1.1.1.1", 60)
                .await
                .expect("count");
        }
        let wait = throttled(&store, &ann, "1.1.1.1", LIMITS)
            .await
            .expect("read");
        assert!(wait.is_some_and(|w| (1..=60).contains(&w)), "{wait:?}");
        assert_eq!(
            throttled(&store, &ann, "2.2.2.2", LIMITS)
                .await
                .expect("read"),
            None,
            "another address is not throttled"
        );
        // Two more failures from 1.1.1.1 on other names reach the per-address limit of 5.
        let bob = login_hash("bob");
        assert_eq!(
            throttled(&store, &bob, "1.1.1.1", LIMITS)
                .await
                .expect("read"),
            None
        );
        record_failure(&store, &bob, "1.1.1.1", 60)
            .await
            .expect("count");
        record_failure(&store, &login_hash("carl"), "1.1.1.1", 60)
            .await
            .expect("count");
        assert!(
            throttled(&store, &login_hash("dora"), "1.1.1.1", LIMITS)
                .await
                .expect("read")
                .is_some(),
            "per-address limit spans login names"
        );
        clear(&store, &ann, "2.2.2.2").await.expect("clear");
        clear(&store, &ann, "1.1.1.1").await.expect("clear");
        assert!(
            throttled(&store, &ann, "1.1.1.1", LIMITS)
                .await
                .expect("read")
                .is_some(),
            "clearing one name leaves the address counter"
        );
    }

    #[tokio::test]
    async fn concurrent_failures_are_all_counted_and_windows_expire() {
        let store = LocalStore::in_memory().expect("store");
        let h = login_hash("eve");
        // A long window for the count: with a 1 s window a busy machine can cross the window's
        // end while the eight are in flight, and the late ones rightly start a new window.
        let all = (0..8).map(|_| record_failure(&store, &h, "9.9.9.9", 60));
        for r in futures::future::join_all(all).await {
            r.expect("count");
        }
        let item = store
            .get(&keys::login_failures_by_address("9.9.9.9"))
            .await
            .expect("get")
            .expect("counter");
        assert_eq!(item["count"], 8);

        // Expiry on another address, with a 1 s window that has surely ended after 2.1 s.
        for _ in 0..LIMITS.per_address {
            record_failure(&store, &h, "8.8.8.8", 1)
                .await
                .expect("count");
        }
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert_eq!(
            throttled(&store, &h, "8.8.8.8", LIMITS)
                .await
                .expect("read"),
            None
        );
        record_failure(&store, &h, "8.8.8.8", 60)
            .await
            .expect("count");
        let item = store
            .get(&keys::login_failures(&h, "8.8.8.8"))
            .await
            .expect("get")
            .expect("counter");
        assert_eq!(item["count"], 1, "a new window starts at 1");
    }
}
