//! Recording store and blob decorators: each call notes the IAM actions the cloud backend needs
//! for it, so a test can check them against a function's policy in `template.yaml`
//! (`tests/tests/iam_policies.rs`). A call that passes every local test but is missing from the
//! policy would be an `AccessDenied` in AWS.
//!
//! The actions are those of the requests [`crate::store::dynamo::DynamoStore`] and
//! [`crate::blobs::s3::S3Blobs`] send for each trait method, including the requests of their
//! fallback paths, since IAM checks every request:
//!
//! | method | actions (resource) |
//! |---|---|
//! | `get` | `dynamodb:GetItem` (table) |
//! | `put` | `dynamodb:PutItem` |
//! | `delete` | `dynamodb:DeleteItem` |
//! | `update` | `dynamodb:UpdateItem`; `GetItem` after a failed condition, `PutItem` to replace an expired item (an empty update is `GetItem` + `PutItem`) |
//! | `query` | `dynamodb:Query` (table, or `table/index/GSI1` / `GSI2`) |
//! | `transact` | `TransactWriteItems` is no IAM action: IAM authorises each element by its own action (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`); an update element may become a `PutItem` (expired item) and a failed one is read back (`GetItem`) |
//! | `batch_get` | `dynamodb:BatchGetItem` |
//! | `scan` | `dynamodb:Scan` |
//! | `ping` | `dynamodb:DescribeTable` |
//! | blob `put` | `s3:PutObject` (object) |
//! | blob `get`, `read_prefix` | `s3:GetObject` |
//! | blob `head` | `s3:GetObject` (HeadObject), and `s3:ListBucket` (bucket): without it S3 answers 403, not 404, for a missing object, so "absent" would be an error |
//! | blob `delete` | `s3:DeleteObject` |
//! | blob `list` | `s3:ListBucket` (bucket, with the prefix), then `s3:GetObject` per object (HeadObject) |
//! | `signed_get_url` | `s3:GetObject`: a presigned URL acts with the signer's permissions when used |
//! | `signed_put_url` | `s3:PutObject` |
//!
//! Recording is off until [`IamRecorder::start`], so test setup (seeding users, products) is not
//! noted; [`IamRecorder::stop`] returns what was noted and switches recording off again.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    AppState,
    blobs::{Blob, BlobMeta, BlobResult, BlobStore, SignedUpload},
    store::{Index, Item, ItemStore, Key, Page, Query, Scan, StoreResult, TxOp, Update},
};

use super::TestApp;

/// What an IAM action applies to, before it is resolved to an ARN of the function's table or
/// bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IamResource {
    /// The table (`arn:...:table/<name>`).
    Table,
    /// A secondary index of the table (`arn:...:table/<name>/index/<index>`).
    Index(&'static str),
    /// The bucket itself (`arn:aws:s3:::<bucket>`), for `s3:ListBucket`; `prefix` is the listed
    /// key prefix when there is one (the `s3:prefix` condition key).
    Bucket { prefix: Option<String> },
    /// An object (`arn:aws:s3:::<bucket>/<key>`).
    Object(String),
}

/// One IAM action a call needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IamCall {
    /// `service:Action`, e.g. `dynamodb:Query`.
    pub action: &'static str,
    pub resource: IamResource,
    /// The trait method that needs it (`ItemStore::transact`), for messages.
    pub method: &'static str,
}

/// The shared log of the recording decorators; clones share it.
#[derive(Debug, Clone, Default)]
pub struct IamRecorder {
    on: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<IamCall>>>,
}

impl IamRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets anything noted so far and starts noting calls.
    pub fn start(&self) {
        self.lock().clear();
        self.on.store(true, Ordering::SeqCst);
    }

    /// Stops noting calls and returns those noted since [`IamRecorder::start`].
    pub fn stop(&self) -> Vec<IamCall> {
        self.on.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<IamCall>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, method: &'static str, actions: &[(&'static str, IamResource)]) {
        if !self.on.load(Ordering::SeqCst) {
            return;
        }
        let mut calls = self.lock();
        for (action, resource) in actions {
            calls.push(IamCall {
                action,
                resource: resource.clone(),
                method,
            });
        }
    }
}

/// The index name DynamoDB knows (as `DynamoStore` names them).
fn index_resource(index: Index) -> IamResource {
    match index {
        Index::Table => IamResource::Table,
        Index::Gsi1 => IamResource::Index("GSI1"),
        Index::Gsi2 => IamResource::Index("GSI2"),
    }
}

const GET_ITEM: &str = "dynamodb:GetItem";
const PUT_ITEM: &str = "dynamodb:PutItem";
const UPDATE_ITEM: &str = "dynamodb:UpdateItem";
const DELETE_ITEM: &str = "dynamodb:DeleteItem";
const CONDITION_CHECK_ITEM: &str = "dynamodb:ConditionCheckItem";

/// An [`ItemStore`] that notes the IAM actions of each call, then forwards it.
pub struct RecordingStore {
    inner: Arc<dyn ItemStore>,
    recorder: IamRecorder,
}

impl RecordingStore {
    pub fn new(inner: Arc<dyn ItemStore>, recorder: IamRecorder) -> Self {
        Self { inner, recorder }
    }
}

#[async_trait]
impl ItemStore for RecordingStore {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.recorder
            .note("ItemStore::get", &[(GET_ITEM, IamResource::Table)]);
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Option<crate::store::Condition>) -> StoreResult<()> {
        self.recorder
            .note("ItemStore::put", &[(PUT_ITEM, IamResource::Table)]);
        self.inner.put(item, condition).await
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<crate::store::Condition>,
    ) -> StoreResult<Option<Item>> {
        self.recorder
            .note("ItemStore::delete", &[(DELETE_ITEM, IamResource::Table)]);
        self.inner.delete(key, condition).await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<crate::store::Condition>,
    ) -> StoreResult<Item> {
        let empty = update.set.is_empty() && update.add.is_empty() && update.remove.is_empty();
        let mut actions = vec![
            (GET_ITEM, IamResource::Table),
            (PUT_ITEM, IamResource::Table),
        ];
        if !empty {
            actions.push((UPDATE_ITEM, IamResource::Table));
        }
        self.recorder.note("ItemStore::update", &actions);
        self.inner.update(key, update, condition).await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.recorder.note(
            "ItemStore::query",
            &[("dynamodb:Query", index_resource(query.index))],
        );
        self.inner.query(query).await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        let mut actions = Vec::new();
        for op in &ops {
            match op {
                TxOp::Put { .. } => actions.push((PUT_ITEM, IamResource::Table)),
                TxOp::Update { .. } => actions.extend([
                    (UPDATE_ITEM, IamResource::Table),
                    (PUT_ITEM, IamResource::Table),
                    (GET_ITEM, IamResource::Table),
                ]),
                TxOp::Delete { .. } => actions.push((DELETE_ITEM, IamResource::Table)),
                TxOp::Check { .. } => actions.push((CONDITION_CHECK_ITEM, IamResource::Table)),
            }
        }
        self.recorder.note("ItemStore::transact", &actions);
        self.inner.transact(ops).await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Item>> {
        self.recorder.note(
            "ItemStore::batch_get",
            &[("dynamodb:BatchGetItem", IamResource::Table)],
        );
        self.inner.batch_get(keys).await
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.recorder
            .note("ItemStore::scan", &[("dynamodb:Scan", IamResource::Table)]);
        self.inner.scan(scan).await
    }

    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.recorder.note(
            "ItemStore::ping",
            &[("dynamodb:DescribeTable", IamResource::Table)],
        );
        self.inner.ping().await
    }

    /// DynamoDB's TTL sweeper purges in the cloud: `DynamoStore` sends nothing.
    async fn purge_expired(&self) -> StoreResult<usize> {
        self.inner.purge_expired().await
    }
}

const GET_OBJECT: &str = "s3:GetObject";
const PUT_OBJECT: &str = "s3:PutObject";
const LIST_BUCKET: &str = "s3:ListBucket";

fn object(key: &str) -> IamResource {
    IamResource::Object(key.to_string())
}

/// A [`BlobStore`] that notes the IAM actions of each call, then forwards it.
pub struct RecordingBlobs {
    inner: Arc<dyn BlobStore>,
    recorder: IamRecorder,
}

impl RecordingBlobs {
    pub fn new(inner: Arc<dyn BlobStore>, recorder: IamRecorder) -> Self {
        Self { inner, recorder }
    }
}

#[async_trait]
impl BlobStore for RecordingBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()> {
        self.recorder
            .note("BlobStore::put", &[(PUT_OBJECT, object(key))]);
        self.inner.put(key, body, content_type).await
    }

    async fn put_new(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<BlobMeta> {
        // A conditional PutObject (If-None-Match: *): the same IAM action as a plain put.
        self.recorder
            .note("BlobStore::put_new", &[(PUT_OBJECT, object(key))]);
        self.inner.put_new(key, body, content_type).await
    }

    async fn get(&self, key: &str) -> BlobResult<Blob> {
        self.recorder
            .note("BlobStore::get", &[(GET_OBJECT, object(key))]);
        self.inner.get(key).await
    }

    async fn head(&self, key: &str) -> BlobResult<Option<BlobMeta>> {
        self.recorder.note(
            "BlobStore::head",
            &[
                (GET_OBJECT, object(key)),
                (LIST_BUCKET, IamResource::Bucket { prefix: None }),
            ],
        );
        self.inner.head(key).await
    }

    async fn read_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes> {
        self.recorder
            .note("BlobStore::read_prefix", &[(GET_OBJECT, object(key))]);
        self.inner.read_prefix(key, len).await
    }

    async fn delete(&self, key: &str) -> BlobResult<()> {
        self.recorder
            .note("BlobStore::delete", &[("s3:DeleteObject", object(key))]);
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobMeta>> {
        self.recorder.note(
            "BlobStore::list",
            &[(
                LIST_BUCKET,
                IamResource::Bucket {
                    prefix: Some(prefix.to_string()),
                },
            )],
        );
        let listed = self.inner.list(prefix).await?;
        let heads: Vec<_> = listed
            .iter()
            .map(|meta| (GET_OBJECT, object(&meta.key)))
            .collect();
        self.recorder.note("BlobStore::list", &heads);
        Ok(listed)
    }

    async fn signed_get_url(&self, key: &str, expires_in: Duration) -> BlobResult<String> {
        self.recorder
            .note("BlobStore::signed_get_url", &[(GET_OBJECT, object(key))]);
        self.inner.signed_get_url(key, expires_in).await
    }

    async fn signed_put_url(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        expires_in: Duration,
    ) -> BlobResult<SignedUpload> {
        self.recorder
            .note("BlobStore::signed_put_url", &[(PUT_OBJECT, object(key))]);
        self.inner
            .signed_put_url(key, content_type, max_size, expires_in)
            .await
    }

    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn local(&self) -> Option<crate::blobs::local::LocalBlobs> {
        self.inner.local()
    }
}

/// The test state ([`AppState::for_tests`] under `data_dir`) with its store and blobs wrapped
/// in recording decorators sharing the returned recorder (which starts switched off).
pub fn recording_state(data_dir: PathBuf) -> anyhow::Result<(AppState, IamRecorder)> {
    let base = AppState::for_tests(data_dir)?;
    let recorder = IamRecorder::new();
    let state = AppState::with_backends(
        (*base.config).clone(),
        Arc::new(RecordingStore::new(base.store.clone(), recorder.clone())),
        Arc::new(RecordingBlobs::new(base.blobs.clone(), recorder.clone())),
        base.embedder.clone(),
        base.text.clone(),
        base.images.clone(),
    );
    Ok((state, recorder))
}

impl TestApp {
    /// Like [`TestApp::new`], on [`recording_state`]: the recorder notes the IAM actions of the
    /// calls made between its `start` and `stop`.
    pub fn recording(router: fn(AppState) -> axum::Router) -> (Self, IamRecorder) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (state, recorder) =
            recording_state(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("state: {e}"));
        let router = router(state.clone());
        let app = Self {
            state,
            router,
            _dir: dir,
        };
        (app, recorder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Condition, local::LocalStore};
    use serde_json::json;

    fn item(pk: &str) -> Item {
        json!({"PK": pk, "SK": "A"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn notes_only_while_started_and_maps_each_method_to_its_actions() {
        let recorder = IamRecorder::new();
        let inner: Arc<dyn ItemStore> =
            Arc::new(LocalStore::in_memory().unwrap_or_else(|e| panic!("{e}")));
        let store = RecordingStore::new(inner, recorder.clone());
        store
            .put(item("seed"), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        recorder.start();
        store
            .query(Query::gsi1("X"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .transact(vec![
                TxOp::Put {
                    item: item("a"),
                    condition: None,
                },
                TxOp::Check {
                    key: Key::new("seed", "A"),
                    condition: Condition::ItemExists,
                },
            ])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let calls = recorder.stop();
        let got: Vec<(&str, IamResource)> = calls
            .iter()
            .map(|c| (c.action, c.resource.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("dynamodb:Query", IamResource::Index("GSI1")),
                (PUT_ITEM, IamResource::Table),
                (CONDITION_CHECK_ITEM, IamResource::Table),
            ]
        );
        // Stopped: nothing more is noted.
        store
            .get(&Key::new("a", "A"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(recorder.stop().is_empty());
    }

    #[tokio::test]
    async fn blob_calls_name_their_object_keys() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (state, recorder) =
            recording_state(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
        recorder.start();
        state
            .blobs
            .put("videos/v/video.mp4", Bytes::from_static(b"x"), "video/mp4")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        state
            .blobs
            .signed_put_url(
                "videos/w/video.mp4",
                "video/mp4",
                10,
                Duration::from_secs(60),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let calls = recorder.stop();
        assert_eq!(
            calls
                .iter()
                .map(|c| (c.action, c.resource.clone()))
                .collect::<Vec<_>>(),
            vec![
                (PUT_OBJECT, object("videos/v/video.mp4")),
                (PUT_OBJECT, object("videos/w/video.mp4")),
            ]
        );
    }
}
