//! What authorization needs to know about an account now, and a short per-instance cache of it.
//!
//! A token is only as good as the account behind it: every authenticated request compares the
//! token with the account's current [`AccountStatus`] (see [`crate::http::auth`]). Reading it costs
//! one GetItem; each instance keeps what it read for a few seconds (`AUTH_STATUS_CACHE_SECONDS`,
//! 5 by default), so a deactivation or a role change reaches every instance within that time.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// The parts of an account that decide whether its tokens are honoured and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatus {
    pub active: bool,
    /// Incremented, in the same conditional write, by every change of `roles` or of the active
    /// flag; tokens carry the value they were issued at.
    pub auth_version: u64,
    /// Role names.
    pub roles: Vec<String>,
}

/// Entries beyond this are dropped (expired ones first, then all): the cache only saves reads.
const MAX_ENTRIES: usize = 10_000;

/// Per-instance cache of account statuses by user id; `None` remembers that there is no such
/// account. Hand-written (a mutex around a map) because it needs nothing a cache crate adds:
/// fixed TTL, bounded size, no eviction order, and it keeps the Lambda binaries small.
#[derive(Debug)]
pub struct StatusCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Option<AccountStatus>)>>,
}

impl StatusCache {
    /// A cache whose entries are trusted for `ttl`; a zero `ttl` caches nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached status of `user_id` while it is fresh: `Some(None)` means "no such account".
    pub fn get(&self, user_id: &str) -> Option<Option<AccountStatus>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(user_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, status)| status.clone())
    }

    /// Remembers what the store says about `user_id` now.
    pub fn put(&self, user_id: &str, status: Option<AccountStatus>) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(user_id) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(user_id.to_string(), (Instant::now(), status));
    }

    /// Drops the entry of `user_id`: this instance changed the account and must not serve its old
    /// status (other instances catch up when their entry expires).
    pub fn forget(&self, user_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(v: u64) -> AccountStatus {
        AccountStatus {
            active: true,
            auth_version: v,
            roles: vec!["customer".into()],
        }
    }

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = StatusCache::new(Duration::from_millis(50));
        assert_eq!(cache.get("u1"), None);
        cache.put("u1", Some(status(1)));
        cache.put("ghost", None);
        assert_eq!(cache.get("u1"), Some(Some(status(1))));
        assert_eq!(cache.get("ghost"), Some(None), "absence is cached too");
        cache.forget("u1");
        assert_eq!(cache.get("u1"), None);
        cache.put("u1", Some(status(2)));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("u1"), None, "expired");
    }

    #[test]
    fn zero_ttl_caches_nothing_and_size_is_bounded() {
        let off = StatusCache::new(Duration::ZERO);
        off.put("u1", Some(status(1)));
        assert_eq!(off.get("u1"), None);

        let cache = StatusCache::new(Duration::from_secs(60));
        for i in 0..=MAX_ENTRIES {
            cache.put(&format!("u{i}"), None);
        }
        let len = cache.entries.lock().map(|e| e.len()).unwrap_or_default();
        assert!(len <= MAX_ENTRIES, "{len}");
        assert_eq!(cache.get(&format!("u{MAX_ENTRIES}")), Some(None));
    }
}
