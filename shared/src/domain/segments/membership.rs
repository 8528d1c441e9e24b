//! Segment membership: generations, members, the reverse index, and how they change.
//!
//! A segment's members live in generation partitions (`SEGMEMBER#<segment>#<generation>`) with a
//! counter item each; the segment record names the generation in force. A recompute
//! ([`recompute`]) writes a whole new generation (computed members plus the manual ones), then
//! switches the record to it with a condition on the generation it started from, and only then
//! deletes the old generation: readers see the old membership until the new one is complete,
//! and a run that fails leaves the old one in force (its partial generation, still `writing`,
//! is deleted by the next run).
//!
//! The reverse index (`USERSEG#<user>` / `<segment>#<generation>`) gives a user's segments in one
//! query ([`segments_of_user`]); entries of a generation that is not in force are ignored.
//!
//! Between recomputes, [`reevaluate_user`] keeps the acting user's memberships current after
//! their own writes (an order, a profile change): it adds or removes them in the generation in
//! force, with the counter, in one transaction per change. Manual members
//! (`SEGMANUAL#<segment>`) are added and removed by hand ([`add_manual`], [`remove`]) and kept
//! by every recompute; real-time re-evaluation never removes them.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::criteria::{Criteria, SegmentType};
use super::features::{self, UserFeatures};
use super::records::{self, Segment};
use crate::store::{
    self, Condition, Item, ItemStore, Key, PK, Query, SK, StoreError, StoreResult, TxOp, Update,
    keys,
};

/// One segment a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRef {
    pub segment_id: String,
    pub name: String,
    /// `rfm`, `behavioral`, `demographic`, `interest` or `manual`.
    pub segment_type: String,
}

/// One member as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub user_id: String,
    pub joined_at: String,
    pub manual: bool,
}

/// Age after which a generation that is not in force is a failed run's leftover (ms).
const STALE_AFTER_MS: u64 = 15 * 60 * 1000;
/// Items per write transaction of the bulk paths (DynamoDB's limit).
const TX_ITEMS: usize = 100;
/// Bulk write transactions in flight at once.
const TX_CONCURRENCY: usize = 8;
/// Page size of the bulk reads.
const PAGE: u32 = 1000;

fn parse_gen(sk: &str) -> Option<(&str, u64)> {
    let (seg, gen_) = sk.rsplit_once('#')?;
    Some((seg, gen_.parse().ok()?))
}

/// The spec 002 segments `user_id` is a member of now (computed or manual), without a scan:
/// one query of the user's reverse-index entries and one batch get of the segments they name
/// (kept: active segments whose generation in force is the entry's).
pub async fn segments_of_user(
    store: &dyn ItemStore,
    user_id: &str,
) -> StoreResult<Vec<SegmentRef>> {
    let entries = store::query_all(store, Query::table(keys::user_segments_pk(user_id))).await?;
    let mut wanted: HashMap<String, Vec<u64>> = HashMap::new();
    for e in &entries {
        if let Some((seg, gen_)) = e.get(SK).and_then(Value::as_str).and_then(parse_gen) {
            wanted.entry(seg.to_string()).or_default().push(gen_);
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<Key> = wanted.keys().map(|id| keys::segment(id)).collect();
    let mut out = Vec::new();
    for item in store.batch_get(&keys).await? {
        let s: Segment = store::from_item(item)?;
        if s.is_active && wanted.get(&s.id).is_some_and(|g| g.contains(&s.generation)) {
            out.push(SegmentRef {
                segment_id: s.id,
                name: s.name,
                segment_type: s.segment_type,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The member count of the generation in force.
pub async fn member_count(store: &dyn ItemStore, s: &Segment) -> StoreResult<u64> {
    Ok(member_counts(store, std::slice::from_ref(s))
        .await?
        .into_iter()
        .next()
        .unwrap_or(0))
}

/// The member counts of `segments`, in order (one batch get).
pub async fn member_counts(store: &dyn ItemStore, segments: &[Segment]) -> StoreResult<Vec<u64>> {
    let keys: Vec<Key> = segments
        .iter()
        .map(|s| keys::segment_member_count(&s.id, s.generation))
        .collect();
    let mut by_key: HashMap<Key, u64> = HashMap::new();
    for chunk in keys.chunks(100) {
        for item in store.batch_get(chunk).await? {
            let n = item.get("n").and_then(Value::as_i64).unwrap_or(0).max(0) as u64;
            if let Some(k) = Key::of(&item) {
                by_key.insert(k, n);
            }
        }
    }
    Ok(keys
        .iter()
        .map(|k| by_key.get(k).copied().unwrap_or(0))
        .collect())
}

fn member_of(item: &Item) -> Option<Member> {
    Some(Member {
        user_id: item.get(SK)?.as_str()?.to_string(),
        joined_at: item
            .get("joined_at")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        manual: item.get("manual").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Members `offset..offset + limit` of the generation in force (by user id).
pub async fn members_page(
    store: &dyn ItemStore,
    s: &Segment,
    offset: usize,
    limit: usize,
) -> StoreResult<Vec<Member>> {
    let mut out = Vec::new();
    let mut skipped = 0usize;
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::table(keys::segment_members_pk(&s.id, s.generation))
                    .limit(PAGE)
                    .cursor(cursor),
            )
            .await?;
        for item in &page.items {
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if out.len() >= limit {
                return Ok(out);
            }
            out.extend(member_of(item));
        }
        match page.cursor {
            Some(c) if out.len() < limit => cursor = Some(c),
            _ => return Ok(out),
        }
    }
}

/// Every member of one generation (bulk paths).
async fn members_of_generation(
    store: &dyn ItemStore,
    segment_id: &str,
    generation: u64,
) -> StoreResult<Vec<Member>> {
    let items = store::query_all(
        store,
        Query::table(keys::segment_members_pk(segment_id, generation)).limit(PAGE),
    )
    .await?;
    Ok(items.iter().filter_map(member_of).collect())
}

async fn manual_members(store: &dyn ItemStore, segment_id: &str) -> StoreResult<HashSet<String>> {
    let items = store::query_all(
        store,
        Query::table(keys::segment_manual_pk(segment_id)).limit(PAGE),
    )
    .await?;
    Ok(items
        .iter()
        .filter_map(|i| i.get(SK).and_then(Value::as_str).map(str::to_string))
        .collect())
}

fn put(key: Key, attrs: &[(&str, Value)], condition: Option<Condition>) -> TxOp {
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    for (k, v) in attrs {
        item.insert((*k).into(), v.clone());
    }
    TxOp::Put { item, condition }
}

/// The member item and the reverse-index entry of one membership.
fn member_ops(s: &Segment, generation: u64, m: &Member, condition: Option<Condition>) -> [TxOp; 2] {
    [
        put(
            keys::segment_member(&s.id, generation, &m.user_id),
            &[
                ("joined_at", m.joined_at.clone().into()),
                ("manual", m.manual.into()),
            ],
            condition,
        ),
        put(
            keys::user_segment(&m.user_id, &s.id, generation),
            &[
                ("segment_id", s.id.clone().into()),
                ("name", s.name.clone().into()),
                ("segment_type", s.segment_type.clone().into()),
                ("manual", m.manual.into()),
            ],
            None,
        ),
    ]
}

/// Writes `ops` in transactions of [`TX_ITEMS`], [`TX_CONCURRENCY`] at a time (their order does
/// not matter: a generation's items, unseen until the switch, or a dropped generation's). On
/// DynamoDB a transaction takes tens of milliseconds, so 100,000 members written one
/// transaction after another would take minutes; the embedded store commits them one by one
/// either way.
async fn write_chunked(store: &dyn ItemStore, ops: Vec<TxOp>) -> StoreResult<()> {
    use futures::{StreamExt, TryStreamExt};
    let mut chunks = Vec::with_capacity(ops.len().div_ceil(TX_ITEMS));
    let mut rest = ops.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(TX_ITEMS).collect::<Vec<TxOp>>());
    }
    futures::stream::iter(chunks)
        .map(|chunk| store.transact(chunk))
        .buffer_unordered(TX_CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// Deletes one generation: its members and their reverse entries, its counter and its status.
pub async fn delete_generation(
    store: &dyn ItemStore,
    segment_id: &str,
    generation: u64,
) -> StoreResult<()> {
    let members = members_of_generation(store, segment_id, generation).await?;
    let mut ops = Vec::with_capacity(members.len() * 2);
    for m in &members {
        ops.push(TxOp::Delete {
            key: keys::segment_member(segment_id, generation, &m.user_id),
            condition: None,
        });
        ops.push(TxOp::Delete {
            key: keys::user_segment(&m.user_id, segment_id, generation),
            condition: None,
        });
    }
    write_chunked(store, ops).await?;
    // Last, so a run that fails above leaves the generation listed for the next run to delete.
    store
        .transact(vec![
            TxOp::Delete {
                key: keys::segment_member_count(segment_id, generation),
                condition: None,
            },
            TxOp::Delete {
                key: keys::segment_generation(segment_id, generation),
                condition: None,
            },
        ])
        .await
}

/// Why a recompute did not switch.
#[derive(Debug, thiserror::Error)]
pub enum RecomputeError {
    /// The segment's stored criteria no longer parse (should not happen: they are validated).
    #[error("segment {0} has invalid criteria")]
    BadCriteria(String),
    /// Another recompute switched the segment first; this run's generation was dropped.
    #[error("segment {0} was recomputed concurrently")]
    Concurrent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Recomputes `s` from `all` (every user's features) and switches to the new membership when it
/// is complete; returns the new member count. See the module docs.
pub async fn recompute(
    store: &dyn ItemStore,
    s: &Segment,
    all: &[UserFeatures],
) -> Result<u64, RecomputeError> {
    let t = SegmentType::parse(&s.segment_type)
        .ok_or_else(|| RecomputeError::BadCriteria(s.id.clone()))?;
    let criteria =
        Criteria::parse(t, &s.criteria).map_err(|_| RecomputeError::BadCriteria(s.id.clone()))?;
    let now = chrono::Utc::now();
    let matched = all
        .iter()
        .filter(|f| criteria.matches(f, now.date_naive(), now.timestamp()))
        .map(|f| f.user_id.clone())
        .collect();
    install(store, s, matched).await
}

/// Writes a new generation of `s` holding `matched` plus the manual members, switches the
/// segment to it (only from the generation `s` names) and deletes the old one; returns the
/// member count. What [`recompute`] and RFM generation (cluster members) end with.
pub async fn install(
    store: &dyn ItemStore,
    s: &Segment,
    matched: Vec<String>,
) -> Result<u64, RecomputeError> {
    // Leftovers of failed runs: generations not in force and older than a run can take (a
    // younger one may be a concurrent run's, still writing).
    let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    for item in store::query_all(store, Query::table(keys::segment_generations_pk(&s.id))).await? {
        if let Some(g) = item
            .get(SK)
            .and_then(Value::as_str)
            .and_then(|sk| sk.parse::<u64>().ok())
            .filter(|g| *g != s.generation && *g + STALE_AFTER_MS < now_ms)
        {
            delete_generation(store, &s.id, g).await?;
        }
    }
    let now = chrono::Utc::now();
    let generation = (now.timestamp_millis().max(0) as u64).max(s.generation + 1);
    store
        .put(
            {
                let key = keys::segment_generation(&s.id, generation);
                let mut item = Item::new();
                item.insert(PK.into(), key.pk.into());
                item.insert(SK.into(), key.sk.into());
                item.insert("status".into(), "writing".into());
                item
            },
            None,
        )
        .await?;
    let joined: HashMap<String, String> = members_of_generation(store, &s.id, s.generation)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m.joined_at))
        .collect();
    let manual = manual_members(store, &s.id).await?;
    let stamp = store::now_rfc3339();
    let mut members: Vec<Member> = matched
        .into_iter()
        .filter(|u| !manual.contains(u))
        .map(|user_id| Member {
            user_id,
            joined_at: String::new(),
            manual: false,
        })
        .chain(manual.iter().map(|u| Member {
            user_id: u.clone(),
            joined_at: String::new(),
            manual: true,
        }))
        .collect();
    for m in &mut members {
        m.joined_at = joined
            .get(&m.user_id)
            .cloned()
            .unwrap_or_else(|| stamp.clone());
    }
    let n = members.len() as u64;
    let ops: Vec<TxOp> = members
        .iter()
        .flat_map(|m| member_ops(s, generation, m, None))
        .chain(std::iter::once(put(
            keys::segment_member_count(&s.id, generation),
            &[("n", n.into())],
            None,
        )))
        .collect();
    write_chunked(store, ops).await?;
    // The switch: only from the generation this run started from.
    let switched = store
        .update(
            &keys::segment(&s.id),
            Update::new()
                .set("generation", generation)
                .set("member_count", n)
                .set("last_updated", stamp.clone()),
            Some(Condition::And(vec![
                Condition::ItemExists,
                Condition::eq("generation", s.generation),
            ])),
        )
        .await;
    match switched {
        Ok(_) => {}
        Err(StoreError::ConditionFailed) => {
            delete_generation(store, &s.id, generation).await?;
            return Err(RecomputeError::Concurrent(s.id.clone()));
        }
        Err(e) => return Err(e.into()),
    }
    store
        .update(
            &keys::segment_generation(&s.id, generation),
            Update::new().set("status", "ready"),
            None,
        )
        .await?;
    // Manual members added while this run wrote.
    let mut added = 0i64;
    let mut switched_to = s.clone();
    switched_to.generation = generation;
    for u in manual_members(store, &s.id).await?.difference(&manual) {
        let m = Member {
            user_id: u.clone(),
            joined_at: stamp.clone(),
            manual: true,
        };
        write_chunked(store, member_ops(&switched_to, generation, &m, None).into()).await?;
        added += 1;
    }
    if added > 0 {
        store
            .update(
                &keys::segment_member_count(&s.id, generation),
                Update::new().add("n", added),
                None,
            )
            .await?;
    }
    if s.generation != generation {
        delete_generation(store, &s.id, s.generation).await?;
    }
    // Who joined or left: a set difference both ways (hashed: both sides hold every member).
    let now_in: HashSet<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
    let changed: HashSet<&str> = now_in
        .iter()
        .copied()
        .filter(|u| !joined.contains_key(*u))
        .chain(
            joined
                .keys()
                .map(String::as_str)
                .filter(|u| !now_in.contains(u)),
        )
        .collect();
    for u in changed {
        crate::domain::personalization::cache::invalidate_user(store, u).await?;
    }
    Ok(n + added as u64)
}

/// Recomputes one segment now (the recalculate route): reads every user's features.
pub async fn recompute_now(store: &dyn ItemStore, s: &Segment) -> Result<u64, RecomputeError> {
    let all = if s.segment_type == SegmentType::Manual.name() {
        Vec::new()
    } else {
        features::load_all(store).await?
    };
    recompute(store, s, &all).await
}

/// What a refresh run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RefreshReport {
    pub segments: usize,
    pub users_with_features: usize,
    pub members: u64,
    pub failed: Vec<String>,
}

/// The `segments-refresh` job: recomputes every active `auto_update` segment from one read of
/// the features. A segment that fails keeps its old membership (listed in `failed`).
pub async fn refresh_all(store: &dyn ItemStore) -> StoreResult<RefreshReport> {
    let segments: Vec<Segment> = records::list(store)
        .await?
        .into_iter()
        .filter(|s| s.is_active && s.auto_update)
        .collect();
    let all = features::load_all(store).await?;
    let mut report = RefreshReport {
        users_with_features: all.len(),
        ..Default::default()
    };
    for s in &segments {
        match recompute(store, s, &all).await {
            Ok(n) => {
                report.segments += 1;
                report.members += n;
            }
            Err(e) => {
                tracing::warn!(segment = %s.id, error = %e, "segment recompute failed; old membership kept");
                report.failed.push(s.id.clone());
            }
        }
    }
    Ok(report)
}

/// Adds `user_id` to `s` by hand (kept by recomputes). Returns false when they were already a
/// member (then only marked manual).
pub async fn add_manual(store: &dyn ItemStore, s: &Segment, user_id: &str) -> StoreResult<bool> {
    let now = store::now_rfc3339();
    let m = Member {
        user_id: user_id.to_string(),
        joined_at: now.clone(),
        manual: true,
    };
    let manual = put(
        keys::segment_manual(&s.id, user_id),
        &[("added_at", now.into())],
        None,
    );
    let [member, reverse] = member_ops(s, s.generation, &m, Some(Condition::ItemNotExists));
    let ops = vec![
        manual.clone(),
        member,
        reverse.clone(),
        TxOp::Update {
            key: keys::segment_member_count(&s.id, s.generation),
            update: Update::new().add("n", 1),
            condition: None,
        },
    ];
    let added = match store.transact(ops).await {
        Ok(()) => true,
        Err(StoreError::TransactionCanceled { failed }) if failed == [1] => {
            // Already a member: mark the membership manual.
            let mut ops = vec![manual, reverse];
            ops.push(TxOp::Update {
                key: keys::segment_member(&s.id, s.generation, user_id),
                update: Update::new().set("manual", true),
                condition: None,
            });
            store.transact(ops).await?;
            false
        }
        Err(e) => return Err(e),
    };
    crate::domain::personalization::cache::invalidate_user(store, user_id).await?;
    Ok(added)
}

/// Removes `user_id` from `s` (the manual mark and the membership in force). Returns false when
/// they were not a member. A computed segment takes them back at its next recompute if they
/// still match.
pub async fn remove(store: &dyn ItemStore, s: &Segment, user_id: &str) -> StoreResult<bool> {
    let ops = vec![
        TxOp::Delete {
            key: keys::segment_member(&s.id, s.generation, user_id),
            condition: Some(Condition::ItemExists),
        },
        TxOp::Delete {
            key: keys::user_segment(user_id, &s.id, s.generation),
            condition: None,
        },
        TxOp::Delete {
            key: keys::segment_manual(&s.id, user_id),
            condition: None,
        },
        TxOp::Update {
            key: keys::segment_member_count(&s.id, s.generation),
            update: Update::new().add("n", -1),
            condition: None,
        },
    ];
    let removed = match store.transact(ops).await {
        Ok(()) => true,
        Err(StoreError::TransactionCanceled { .. }) => {
            // Not a member of the generation in force: only a manual mark may be left.
            store
                .delete(&keys::segment_manual(&s.id, user_id), None)
                .await?
                .is_some()
        }
        Err(e) => return Err(e),
    };
    if removed {
        crate::domain::personalization::cache::invalidate_user(store, user_id).await?;
    }
    Ok(removed)
}

/// Re-evaluates the acting user's memberships of the active `auto_update` computed segments
/// against their features now (after an order or a profile change); returns whether any
/// changed. Changes go to the generation in force, with its counter, one transaction each.
pub async fn reevaluate_user(store: &dyn ItemStore, user_id: &str) -> StoreResult<bool> {
    let segments: Vec<(Segment, Criteria)> = records::list(store)
        .await?
        .into_iter()
        .filter(|s| s.is_active && s.auto_update)
        .filter_map(|s| {
            let t = SegmentType::parse(&s.segment_type)?;
            let c = Criteria::parse(t, &s.criteria).ok()?;
            c.computed().then_some((s, c))
        })
        .collect();
    if segments.is_empty() {
        return Ok(false);
    }
    let (f, entries) = futures::try_join!(
        features::load_user(store, user_id),
        store::query_all(store, Query::table(keys::user_segments_pk(user_id)))
    )?;
    let current: HashMap<(String, u64), bool> = entries
        .iter()
        .filter_map(|e| {
            let (seg, g) = parse_gen(e.get(SK)?.as_str()?)?;
            let manual = e.get("manual").and_then(Value::as_bool).unwrap_or(false);
            Some(((seg.to_string(), g), manual))
        })
        .collect();
    let now = chrono::Utc::now();
    let mut changed = false;
    for (s, c) in &segments {
        let matches = c.matches(&f, now.date_naive(), now.timestamp());
        let entry = current.get(&(s.id.clone(), s.generation));
        let count = |n: i64| TxOp::Update {
            key: keys::segment_member_count(&s.id, s.generation),
            update: Update::new().add("n", n),
            condition: None,
        };
        let ops = match (matches, entry) {
            (true, None) => {
                let m = Member {
                    user_id: user_id.to_string(),
                    joined_at: store::now_rfc3339(),
                    manual: false,
                };
                let [member, reverse] =
                    member_ops(s, s.generation, &m, Some(Condition::ItemNotExists));
                vec![member, reverse, count(1)]
            }
            (false, Some(false)) => vec![
                TxOp::Delete {
                    key: keys::segment_member(&s.id, s.generation, user_id),
                    condition: Some(Condition::And(vec![
                        Condition::ItemExists,
                        Condition::eq("manual", false),
                    ])),
                },
                TxOp::Delete {
                    key: keys::user_segment(user_id, &s.id, s.generation),
                    condition: None,
                },
                count(-1),
            ],
            _ => continue,
        };
        match store.transact(ops).await {
            Ok(()) => changed = true,
            // A concurrent change got there first: nothing to do.
            Err(StoreError::TransactionCanceled { .. } | StoreError::TransactionConflict) => {}
            Err(e) => return Err(e),
        }
    }
    if changed {
        crate::domain::personalization::cache::invalidate_user(store, user_id).await?;
    }
    Ok(changed)
}
