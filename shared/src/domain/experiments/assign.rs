//! Assignment of callers to the arms of the running experiment of a recommendation type, with a
//! per-instance cache of the running experiments.
//!
//! Serving calls [`assignment`] for every personalised list, so it must not cost a store read
//! each time: the running experiment of each type (the lock item, which carries the arms) is
//! cached for [`CACHE_TTL`] per instance, absences included (most of the time nothing runs).
//! An experiment created or stopped is seen within that time.
//!
//! The first time an actor is assigned, its arm's distinct-user count goes up by one: a
//! participant marker put with `ItemNotExists` and the `ADD` in one transaction, so concurrent
//! first requests count the actor once. The cache remembers the actors it has counted (up to
//! [`SEEN_CAPACITY`], then it starts over), so a returning caller costs no write on a warm
//! instance. A failed count is logged and the assignment still returned: a missed user count is
//! better than a failed recommendation.
//!
//! The cache is a [`RunningCache`] the caller owns: the recommendations function keeps one in
//! its state (one per Lambda instance, and one for the local server) and calls
//! [`assignment_with`]; [`assignment`] reads the store every time (jobs, the demo, tests).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Arm, ArmRef, Assignment};
use crate::reco::abtest;
use crate::store::{
    self, Condition, EXPIRES_AT, ItemStore, PK, SK, StoreError, StoreResult, TxOp, Update, keys,
};

/// How long an instance trusts what it read about the running experiments.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Most (experiment, actor) pairs an instance remembers as counted.
pub const SEEN_CAPACITY: usize = 50_000;
/// How long a participant marker is kept (a longer experiment counts a returning user again).
pub const PARTICIPANT_TTL_SECS: i64 = 400 * 24 * 3600;

/// The running experiment of a type, as assignment needs it.
#[derive(Debug, Clone, PartialEq)]
struct Running {
    experiment_id: String,
    arms: Vec<Arm>,
    shares_bp: Vec<u32>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// When a type's running experiment was read, and what it was (`None`: nothing runs).
type Known = (Instant, Option<Arc<Running>>);

/// What an instance knows about the running experiments (see the module docs).
#[derive(Debug)]
pub struct RunningCache {
    ttl: Duration,
    by_type: Mutex<HashMap<String, Known>>,
    seen: Mutex<HashSet<(String, String)>>,
}

impl RunningCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            by_type: Mutex::default(),
            seen: Mutex::default(),
        }
    }

    /// Forgets the running experiments (the counted actors stay: they are per experiment).
    pub fn invalidate(&self) {
        lock(&self.by_type).clear();
    }

    fn fresh(&self, recommendation_type: &str) -> Option<Option<Arc<Running>>> {
        let map = lock(&self.by_type);
        let (at, running) = map.get(recommendation_type)?;
        (at.elapsed() < self.ttl).then(|| running.clone())
    }

    fn remember(&self, recommendation_type: &str, running: Option<Arc<Running>>) {
        lock(&self.by_type).insert(recommendation_type.to_string(), (Instant::now(), running));
    }

    fn counted(&self, experiment_id: &str, actor: &str) -> bool {
        lock(&self.seen).contains(&(experiment_id.to_string(), actor.to_string()))
    }

    fn mark_counted(&self, experiment_id: &str, actor: &str) {
        let mut seen = lock(&self.seen);
        if seen.len() >= SEEN_CAPACITY {
            seen.clear();
        }
        seen.insert((experiment_id.to_string(), actor.to_string()));
    }
}

async fn read_running(
    store: &dyn ItemStore,
    recommendation_type: &str,
) -> StoreResult<Option<Arc<Running>>> {
    let Some(item) = store
        .get(&keys::experiment_running(recommendation_type))
        .await?
    else {
        return Ok(None);
    };
    let experiment_id = item
        .get("experiment_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let arms: Vec<Arm> = item
        .get("arms")
        .cloned()
        .and_then(|a| serde_json::from_value(a).ok())
        .unwrap_or_default();
    if experiment_id.is_empty() || arms.is_empty() {
        tracing::warn!(
            recommendation_type,
            "running-experiment lock without arms: ignored"
        );
        return Ok(None);
    }
    let shares_bp = arms.iter().map(Arm::basis_points).collect();
    Ok(Some(Arc::new(Running {
        experiment_id,
        arms,
        shares_bp,
    })))
}

/// The shard of an actor's distinct-user count.
fn user_shard(actor: &str) -> u32 {
    crate::reco::feed::fingerprint(actor) % keys::EXPERIMENT_ARM_SHARDS
}

/// Counts `actor` in `arm`'s distinct users unless it was counted before (`Ok` either way).
async fn count_participant(
    store: &dyn ItemStore,
    experiment_id: &str,
    arm: &str,
    actor: &str,
) -> StoreResult<()> {
    let key = keys::experiment_participant(experiment_id, actor);
    let mut marker = store::Item::new();
    marker.insert(PK.into(), key.pk.into());
    marker.insert(SK.into(), key.sk.into());
    marker.insert("arm".into(), arm.into());
    marker.insert("assigned_at".into(), store::now_rfc3339().into());
    marker.insert(
        EXPIRES_AT.into(),
        (store::now_epoch() + PARTICIPANT_TTL_SECS).into(),
    );
    let ops = vec![
        TxOp::Put {
            item: marker,
            condition: Some(Condition::ItemNotExists),
        },
        TxOp::Update {
            key: keys::experiment_arm_counters(experiment_id, arm, user_shard(actor)),
            update: Update::new().add("users", 1),
            condition: None,
        },
    ];
    match store.transact(ops).await {
        Ok(()) | Err(StoreError::TransactionCanceled { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The arm of the running experiment for `recommendation_type` that `actor_key` (a user id or
/// `guest:<cart id>`) is in, or `None` when no experiment runs for that type.
pub async fn assignment(
    store: &dyn ItemStore,
    recommendation_type: &str,
    actor_key: &str,
) -> StoreResult<Option<Assignment>> {
    assignment_with(None, store, recommendation_type, actor_key).await
}

/// [`assignment`] with an explicit cache (`None`: read the store every time).
pub async fn assignment_with(
    cache: Option<&RunningCache>,
    store: &dyn ItemStore,
    recommendation_type: &str,
    actor_key: &str,
) -> StoreResult<Option<Assignment>> {
    let running = match cache.and_then(|c| c.fresh(recommendation_type)) {
        Some(known) => known,
        None => {
            let running = read_running(store, recommendation_type).await?;
            if let Some(c) = cache {
                c.remember(recommendation_type, running.clone());
            }
            running
        }
    };
    let Some(running) = running else {
        return Ok(None);
    };
    let Some(arm) = abtest::assign(&running.experiment_id, actor_key, &running.shares_bp)
        .and_then(|i| running.arms.get(i))
    else {
        return Ok(None);
    };
    let id = &running.experiment_id;
    if !cache.is_some_and(|c| c.counted(id, actor_key)) {
        match count_participant(store, id, &arm.name, actor_key).await {
            Ok(()) => {
                if let Some(c) = cache {
                    c.mark_counted(id, actor_key);
                }
            }
            Err(e) => {
                tracing::warn!(experiment_id = %id, arm = %arm.name, error = %e, "participant not counted");
            }
        }
    }
    Ok(Some(Assignment {
        arm: ArmRef {
            experiment_id: id.clone(),
            arm: arm.name.clone(),
        },
        config_id: arm.config_id.clone(),
    }))
}
