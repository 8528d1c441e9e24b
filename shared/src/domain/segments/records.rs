//! Segment records: create (name unique through a marker put in the same transaction), read,
//! list, and update (optimistic on `version`; a rename moves the marker in the same
//! transaction). Every store sees the same atomicity: the transaction's conditions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{
    self, Condition, Item, ItemStore, PK, Query, SK, StoreError, StoreResult, TxOp, keys,
};

/// A stored segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub segment_type: String,
    /// The criteria as validated ([`super::criteria::Criteria::parse`]).
    #[serde(default)]
    pub criteria: Value,
    pub is_active: bool,
    pub auto_update: bool,
    /// The membership generation in force (0: none computed yet; members added by hand live
    /// in generation 0 until the first recompute).
    #[serde(default)]
    pub generation: u64,
    /// When the membership was last recomputed (or the segment created).
    pub last_updated: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub version: u64,
    /// For `rfm` segments made by generate-rfm: the cluster they describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfm_cluster: Option<Value>,
}

/// Why a create or update was refused.
#[derive(Debug)]
pub enum RecordError {
    NameTaken,
    NotFound,
    /// Changed concurrently (version moved).
    Conflict,
    Store(StoreError),
}

impl From<StoreError> for RecordError {
    fn from(e: StoreError) -> Self {
        RecordError::Store(e)
    }
}

fn item_of(s: &Segment) -> StoreResult<Item> {
    let mut item = store::to_item(s)?;
    let key = keys::segment(&s.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    Ok(item)
}

fn marker(name: &str, segment_id: &str) -> Item {
    let key = keys::segment_name_marker(name);
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("segment_id".into(), segment_id.into());
    item
}

/// Writes a new segment and its name marker in one transaction.
pub async fn create(store: &dyn ItemStore, segment: &Segment) -> Result<(), RecordError> {
    let ops = vec![
        TxOp::Put {
            item: item_of(segment)?,
            condition: Some(Condition::ItemNotExists),
        },
        TxOp::Put {
            item: marker(&segment.name, &segment.id),
            condition: Some(Condition::ItemNotExists),
        },
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
            Err(RecordError::NameTaken)
        }
        Err(StoreError::TransactionCanceled { .. } | StoreError::TransactionConflict) => {
            Err(RecordError::Conflict)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get(store: &dyn ItemStore, id: &str) -> StoreResult<Option<Segment>> {
    store
        .get(&keys::segment(id))
        .await?
        .map(store::from_item)
        .transpose()
}

/// Every segment (one partition: segments are few), by id.
pub async fn list(store: &dyn ItemStore) -> StoreResult<Vec<Segment>> {
    store::query_all(
        store,
        Query::table(keys::SEGMENTS_PK).begins_with(keys::SEGMENT_SK_PREFIX),
    )
    .await?
    .into_iter()
    .map(store::from_item)
    .collect()
}

/// The segment with this name (case-insensitive), through its marker.
pub async fn by_name(store: &dyn ItemStore, name: &str) -> StoreResult<Option<Segment>> {
    let Some(m) = store.get(&keys::segment_name_marker(name)).await? else {
        return Ok(None);
    };
    match m.get("segment_id").and_then(Value::as_str) {
        Some(id) => get(store, id).await,
        None => Ok(None),
    }
}

/// Replaces `old` by `new` (same id) if the stored version is still `old.version`; a rename
/// moves the name marker in the same transaction. `new.version` is set to `old.version + 1`.
pub async fn replace(
    store: &dyn ItemStore,
    old: &Segment,
    new: &mut Segment,
) -> Result<(), RecordError> {
    new.version = old.version + 1;
    new.updated_at = store::now_rfc3339();
    let mut ops = vec![TxOp::Put {
        item: item_of(new)?,
        condition: Some(Condition::eq("version", old.version)),
    }];
    let renamed = keys::segment_name_marker(&old.name) != keys::segment_name_marker(&new.name);
    if renamed {
        ops.push(TxOp::Put {
            item: marker(&new.name, &new.id),
            condition: Some(Condition::ItemNotExists),
        });
        ops.push(TxOp::Delete {
            key: keys::segment_name_marker(&old.name),
            condition: Some(Condition::eq("segment_id", old.id.as_str())),
        });
    }
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { failed }) if renamed && failed.contains(&1) => {
            Err(RecordError::NameTaken)
        }
        Err(StoreError::TransactionCanceled { .. } | StoreError::TransactionConflict) => {
            Err(RecordError::Conflict)
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes a segment and its name marker (generate-rfm replacing its segments). Members are
/// left to expire from reads: the reverse-index entries name a segment that no longer exists.
pub async fn delete(store: &dyn ItemStore, segment: &Segment) -> StoreResult<()> {
    match store
        .transact(vec![
            TxOp::Delete {
                key: keys::segment(&segment.id),
                condition: None,
            },
            TxOp::Delete {
                key: keys::segment_name_marker(&segment.name),
                condition: Some(Condition::eq("segment_id", segment.id.as_str())),
            },
        ])
        .await
    {
        Ok(()) => Ok(()),
        // The marker already names another segment: delete the record alone.
        Err(StoreError::TransactionCanceled { .. }) => store
            .delete(&keys::segment(&segment.id), None)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    }
}

/// A new segment record (generation 0, version 0).
pub fn new_segment(
    name: String,
    description: Option<String>,
    segment_type: &str,
    criteria: Value,
    auto_update: bool,
) -> Segment {
    let now = store::now_rfc3339();
    Segment {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        description,
        segment_type: segment_type.to_string(),
        criteria,
        is_active: true,
        auto_update,
        generation: 0,
        last_updated: now.clone(),
        created_at: now.clone(),
        updated_at: now,
        version: 0,
        rfm_cluster: None,
    }
}
