//! The per-instance cache of published banners (a field of the promotions function's state).
//!
//! user-banners never scans: the published banners are one partition (`BANNERS#PUBLISHED`)
//! that this cache loads, parses and sorts once ([`super::targeting`]), and serves from memory.
//! Every publish and unpublish bumps the published-banners version in its transaction
//! ([`super::records`]); the cache reads that version (one `GetItem`) at most every
//! `check_every` and reloads when it moved. The instance that publishes drops its own copy at
//! once ([`LiveBannerCache::invalidate`]), so its next request sees the change; other instances
//! see it within `check_every` ([`CHECK_EVERY`], 1 s). Concurrent reloads are shared.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::records;
use super::targeting::{self, LiveBanner};
use crate::store::{ItemStore, StoreResult};

/// How long an instance trusts its copy before reading the version again.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The published banners at one version, in serving order.
#[derive(Debug)]
pub struct Snapshot {
    pub version: u64,
    pub banners: Vec<LiveBanner>,
}

#[derive(Debug)]
struct Cached {
    snapshot: Arc<Snapshot>,
    checked_at: Instant,
}

/// See the module docs.
#[derive(Debug)]
pub struct LiveBannerCache {
    current: RwLock<Option<Cached>>,
    reload: tokio::sync::Mutex<()>,
    check_every: Duration,
    loads: AtomicU64,
}

impl Default for LiveBannerCache {
    fn default() -> Self {
        Self::new(CHECK_EVERY)
    }
}

impl LiveBannerCache {
    /// A cache that reads the version at most every `check_every` (zero: on every request).
    pub fn new(check_every: Duration) -> Self {
        Self {
            current: RwLock::new(None),
            reload: tokio::sync::Mutex::new(()),
            check_every,
            loads: AtomicU64::new(0),
        }
    }

    /// How many times the published partition was loaded (tests and logs).
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    fn cached(&self) -> Option<(Arc<Snapshot>, Instant)> {
        let guard = match self.current.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.as_ref().map(|c| (c.snapshot.clone(), c.checked_at))
    }

    fn set(&self, value: Option<Cached>) {
        let mut guard = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = value;
    }

    /// Drops this instance's copy (after it published or unpublished).
    pub fn invalidate(&self) {
        self.set(None);
    }

    /// The published banners now (see the module docs).
    pub async fn get(&self, store: &dyn ItemStore) -> StoreResult<Arc<Snapshot>> {
        if let Some((s, at)) = self.cached()
            && at.elapsed() < self.check_every
        {
            return Ok(s);
        }
        let version = records::version(store).await?;
        if let Some((s, _)) = self.cached().filter(|(s, _)| s.version == version) {
            self.set(Some(Cached {
                snapshot: s.clone(),
                checked_at: Instant::now(),
            }));
            return Ok(s);
        }
        let _one_reload = self.reload.lock().await;
        if let Some((s, _)) = self.cached().filter(|(s, _)| s.version >= version) {
            return Ok(s);
        }
        // The version is read before the partition: a publish in between makes the next check
        // reload again, never keeps a stale list.
        let version = records::version(store).await?;
        let mut banners: Vec<LiveBanner> = records::load_published(store)
            .await?
            .into_iter()
            .filter_map(LiveBanner::of)
            .collect();
        targeting::sort(&mut banners);
        self.loads.fetch_add(1, Ordering::Relaxed);
        let snapshot = Arc::new(Snapshot { version, banners });
        self.set(Some(Cached {
            snapshot: snapshot.clone(),
            checked_at: Instant::now(),
        }));
        Ok(snapshot)
    }
}
