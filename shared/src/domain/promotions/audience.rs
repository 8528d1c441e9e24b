//! What targeting knows about a user, read without a scan, and the current RFM clusters.
//!
//! A user's facts come from three reads: one batch get (the user record, and their RFM and
//! profile feature items: spend, latest order, country and region, kept on write by
//! [`crate::domain::segments::features`]), one query of their segment reverse index and one
//! batch get of the segments it names (kept: active segments whose generation in force is the
//! entry's, as [`crate::domain::segments::membership::segments_of_user`] does). The RFM cluster
//! is the `rfm_cluster.cluster` of the generated `rfm` segment the user is in.

use std::collections::HashMap;

use serde_json::Value;

use crate::domain::segments::records::{self, Segment};
use crate::store::{self, Item, ItemStore, Key, PK, Query, SK, StoreResult, keys};

/// What a banner's targeting is checked against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserFacts {
    pub user_id: String,
    /// The user's RFM cluster (of the latest generate-rfm run), with its segment.
    pub cluster: Option<u32>,
    pub cluster_segment: Option<Segment>,
    /// Every segment the user is a member of now.
    pub segment_ids: Vec<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub monetary_cents: i64,
    /// Epoch seconds.
    pub last_order_at: Option<i64>,
}

/// The RFM cluster a generated segment describes.
pub fn cluster_of(s: &Segment) -> Option<u32> {
    s.rfm_cluster
        .as_ref()
        .and_then(|c| c.get("cluster"))
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok())
}

/// The clusters of the latest generate-rfm run, by cluster id.
pub async fn rfm_clusters(store: &dyn ItemStore) -> StoreResult<Vec<(u32, Segment)>> {
    let mut out: Vec<(u32, Segment)> = records::list(store)
        .await?
        .into_iter()
        .filter_map(|s| cluster_of(&s).map(|c| (c, s)))
        .collect();
    out.sort_by_key(|(c, _)| *c);
    Ok(out)
}

/// The segment of RFM cluster `id`, if that cluster exists.
pub async fn rfm_cluster(store: &dyn ItemStore, id: u32) -> StoreResult<Option<Segment>> {
    Ok(rfm_clusters(store)
        .await?
        .into_iter()
        .find(|(c, _)| *c == id)
        .map(|(_, s)| s))
}

fn str_attr(item: &Item, name: &str) -> Option<String> {
    item.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The segments `user_id` is a member of now.
async fn segments_of(store: &dyn ItemStore, user_id: &str) -> StoreResult<Vec<Segment>> {
    let entries = store::query_all(store, Query::table(keys::user_segments_pk(user_id))).await?;
    let mut wanted: HashMap<String, Vec<u64>> = HashMap::new();
    for e in &entries {
        let parsed = e
            .get(SK)
            .and_then(Value::as_str)
            .and_then(|sk| sk.rsplit_once('#'))
            .and_then(|(seg, g)| Some((seg.to_string(), g.parse::<u64>().ok()?)));
        if let Some((seg, g)) = parsed {
            wanted.entry(seg).or_default().push(g);
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
            out.push(s);
        }
    }
    Ok(out)
}

/// The facts of `user_id`, or `None` when no such user exists.
pub async fn user_facts(store: &dyn ItemStore, user_id: &str) -> StoreResult<Option<UserFacts>> {
    let user_key = keys::user(user_id);
    let rfm_key = keys::user_rfm(user_id);
    let profile_key = keys::user_profile_facts(user_id);
    let keys = [user_key.clone(), rfm_key.clone(), profile_key.clone()];
    let (items, segments) = tokio::join!(store.batch_get(&keys), segments_of(store, user_id));
    let items = items?;
    let is = |item: &Item, key: &Key| {
        item.get(PK).and_then(Value::as_str) == Some(key.pk.as_str())
            && item.get(SK).and_then(Value::as_str) == Some(key.sk.as_str())
    };
    if !items.iter().any(|i| is(i, &user_key)) {
        return Ok(None);
    }
    let mut facts = UserFacts {
        user_id: user_id.to_string(),
        ..Default::default()
    };
    for item in &items {
        if is(item, &rfm_key) {
            facts.monetary_cents = item
                .get("monetary_cents")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            facts.last_order_at = item.get("last_order_at").and_then(Value::as_i64);
        } else if is(item, &profile_key) {
            facts.country = str_attr(item, "country");
            facts.region = str_attr(item, "region");
        }
    }
    for s in segments? {
        if let Some(c) = cluster_of(&s) {
            facts.cluster = Some(c);
            facts.cluster_segment = Some(s.clone());
        }
        facts.segment_ids.push(s.id);
    }
    facts.segment_ids.sort();
    Ok(Some(facts))
}
