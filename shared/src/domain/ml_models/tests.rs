//! Configs, the training job and the serving cache on the in-memory backends, with a toy
//! popularity model standing in for the registry (so these tests do not depend on which models
//! this build has).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::configs::{self, Activation};
use super::params::ModelType;
use super::runs::{self, RunStatus};
use super::serving::ModelCache;
use super::training::{self, NOT_ENOUGH};
use crate::blobs::{BlobStore, local::LocalBlobs};
use crate::domain::interactions::{self, Actor, InteractionKind, Signal};
use crate::reco::{
    artifact::{self, ArtifactError},
    model::{ModelKind, Recommender},
    registry::{FitError, TrainInput, TrainedModel},
};
use crate::store::{ItemStore, local::LocalStore};

/// Item popularity (sum of weights per column): enough to exercise the whole pipeline.
#[derive(Serialize, Deserialize)]
struct Toy {
    scores: Vec<f32>,
}

impl Recommender for Toy {
    fn kind(&self) -> ModelKind {
        ModelKind::Popularity
    }
    fn n_items(&self) -> usize {
        self.scores.len()
    }
    fn score(&self, _history: &[(u32, f32)], out: &mut [f32]) {
        out.copy_from_slice(&self.scores);
    }
}

impl TrainedModel for Toy {
    fn to_artifact(&self) -> Result<Vec<u8>, ArtifactError> {
        artifact::encode(ModelKind::Popularity, self)
    }
}

fn toy_fit(
    kind: ModelKind,
    params: &Map<String, Value>,
    input: &TrainInput<'_>,
) -> Result<Box<dyn TrainedModel>, FitError> {
    if kind != ModelKind::Popularity {
        return Err(FitError::NotAvailable(kind));
    }
    if params.get("fail") == Some(&Value::Bool(true)) {
        return Err(FitError::Failed("boom".into()));
    }
    let mut scores = vec![0f32; input.data.n_items()];
    let m = &input.data.user_items;
    for u in 0..input.data.n_users() {
        let (cols, vals) = m.row(u);
        for (c, v) in cols.iter().zip(vals) {
            scores[*c as usize] += v;
        }
    }
    Ok(Box::new(Toy { scores }))
}

fn toy_load(kind: ModelKind, bytes: &[u8]) -> Result<Box<dyn TrainedModel>, ArtifactError> {
    let m: Toy = artifact::decode(kind, bytes)?;
    Ok(Box::new(m))
}

fn backends() -> (Arc<dyn ItemStore>, Arc<dyn BlobStore>) {
    (
        Arc::new(LocalStore::in_memory().unwrap()),
        Arc::new(LocalBlobs::in_memory("http://localhost/blobs".to_string(), b"secret").unwrap()),
    )
}

/// 12 users, each viewing 4 of 8 products an hour apart (48 interactions).
async fn seed_interactions(store: &dyn ItemStore) {
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
        .single()
        .unwrap();
    let mut signals = Vec::new();
    for u in 0..12 {
        for j in 0..4 {
            let p = format!("p{}", (u + j * 2) % 8);
            signals.push(
                Signal::new(Actor::User(format!("u{u}")), p, InteractionKind::View)
                    .at(t0 + chrono::Duration::hours(j as i64)),
            );
        }
    }
    interactions::record(store, &signals).await.unwrap();
}

#[tokio::test]
async fn defaults_exist_once_and_activation_is_exclusive_and_idempotent() {
    let (store, _) = backends();
    let s = store.as_ref();
    configs::ensure_defaults(s).await.unwrap();
    configs::ensure_defaults(s).await.unwrap();
    let all = configs::list(s).await.unwrap();
    assert_eq!(all.len(), ModelType::ALL.len());
    assert!(all.iter().all(|c| c.is_active));
    let als = configs::active(s, ModelType::Collaborative).await.unwrap();
    assert_eq!(als.id, "default-collaborative");
    assert_eq!(als.parameters["n_factors"], json!(64));

    let new = configs::create(
        s,
        "als_big",
        ModelType::Collaborative,
        None,
        json!({"n_factors": 128}).as_object().unwrap().clone(),
    )
    .await
    .unwrap();
    assert!(!new.is_active);
    assert_eq!(
        configs::activate(s, &new.id).await.unwrap(),
        Activation::Activated
    );
    assert_eq!(
        configs::activate(s, &new.id).await.unwrap(),
        Activation::AlreadyActive
    );
    assert_eq!(
        configs::activate(s, "nope").await.unwrap(),
        Activation::NotFound
    );
    let collaborative: Vec<_> = configs::list(s)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.model_type == "collaborative")
        .collect();
    assert_eq!(collaborative.len(), 2);
    assert_eq!(collaborative.iter().filter(|c| c.is_active).count(), 1);
    assert_eq!(
        configs::active(s, ModelType::Collaborative)
            .await
            .unwrap()
            .id,
        new.id
    );
}

#[tokio::test]
async fn an_empty_store_is_skipped_not_an_error() {
    let (store, blobs) = backends();
    let report = training::run_locked(
        Arc::clone(&store),
        blobs,
        None,
        &[ModelKind::Popularity, ModelKind::Fbt],
        toy_fit,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.models[0].outcome, format!("skipped: {NOT_ENOUGH}"));
    assert_eq!(report.models[1].outcome, "completed");
    let runs = runs::of_config(store.as_ref(), "default-popularity", 10)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Skipped);
    assert!(runs[0].reason.as_deref().unwrap().starts_with(NOT_ENOUGH));
    assert!(
        training::pointer(store.as_ref(), ModelKind::Popularity)
            .await
            .unwrap()
            .is_none()
    );
    // The lock was released.
    assert!(
        store
            .get(&crate::store::keys::training_lock())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_run_writes_artifacts_runs_and_pointers_and_a_failure_keeps_the_previous_version() {
    let (store, blobs) = backends();
    seed_interactions(store.as_ref()).await;
    let report = training::run_locked(
        Arc::clone(&store),
        Arc::clone(&blobs),
        None,
        &[ModelKind::Popularity, ModelKind::Als],
        toy_fit,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.data.interactions, 48);
    assert_eq!(report.data.users, 12);
    assert_eq!(report.models[0].outcome, "completed");
    assert!(
        report.models[1].outcome.starts_with("failed: "),
        "{:?}",
        report.models[1]
    );
    let metrics = report.models[0].metrics.unwrap();
    assert_eq!(metrics.k, 10);
    assert!(metrics.users_evaluated > 0);

    let pointer = training::pointer(store.as_ref(), ModelKind::Popularity)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pointer.version, report.training_id);
    assert_eq!(
        pointer.blob_key,
        format!("models/reco/popularity/{}", report.training_id)
    );
    assert!(blobs.get(&pointer.blob_key).await.is_ok());
    let run = &runs::of_config(store.as_ref(), "default-popularity", 10)
        .await
        .unwrap()[0];
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.data.interactions, 48);
    assert_eq!(run.metrics, Some(metrics));
    let config = configs::get(store.as_ref(), "default-popularity")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(config.accuracy_score, Some(metrics.hit_rate));
    assert_eq!(config.precision_score, Some(metrics.precision));
    assert!(config.last_trained.is_some());
    // ALS is not trainable with the toy fit: failed, no pointer.
    let als = &runs::of_config(store.as_ref(), "default-collaborative", 10)
        .await
        .unwrap()[0];
    assert_eq!(als.status, RunStatus::Failed);
    assert!(als.reason.as_deref().unwrap().contains("not available"));
    assert!(
        training::pointer(store.as_ref(), ModelKind::Als)
            .await
            .unwrap()
            .is_none()
    );

    // A second training whose fit fails: the first version stays in force.
    tokio::time::sleep(Duration::from_millis(5)).await;
    // The fit fails when the config says so (the toy's switch; validation is the route's).
    let cfg = configs::get(store.as_ref(), "default-popularity")
        .await
        .unwrap()
        .unwrap();
    let patch = configs::ConfigPatch {
        parameters: Some(json!({"fail": true}).as_object().unwrap().clone()),
        ..Default::default()
    };
    configs::update(store.as_ref(), &cfg.id, &cfg.updated_at, patch)
        .await
        .unwrap()
        .unwrap();
    let second = training::run_locked(
        Arc::clone(&store),
        Arc::clone(&blobs),
        None,
        &[ModelKind::Popularity],
        toy_fit,
    )
    .await;
    let second = second.unwrap().unwrap();
    assert_eq!(second.models[0].outcome, "failed: boom");
    let still = training::pointer(store.as_ref(), ModelKind::Popularity)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.version, report.training_id);
    let history = runs::of_config(store.as_ref(), "default-popularity", 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].status, RunStatus::Failed);
}

#[tokio::test]
async fn the_lock_admits_one_training_and_lapses() {
    let (store, _) = backends();
    let s = store.as_ref();
    assert!(training::acquire_lock(s, "a", &[]).await.unwrap().is_ok());
    let busy = training::acquire_lock(s, "b", &[]).await.unwrap();
    assert_eq!(busy.err().unwrap().training_id, "a");
    // Releasing someone else's lock does nothing.
    training::release_lock(s, "b").await.unwrap();
    assert!(training::acquire_lock(s, "c", &[]).await.unwrap().is_err());
    training::release_lock(s, "a").await.unwrap();
    assert!(training::acquire_lock(s, "c", &[]).await.unwrap().is_ok());
    // An expired lock (a crashed run) does not block.
    let key = crate::store::keys::training_lock();
    s.update(
        &key,
        crate::store::Update::new().set("expires_at", Utc::now().timestamp() - 1),
        None,
    )
    .await
    .unwrap();
    assert!(training::acquire_lock(s, "d", &[]).await.unwrap().is_ok());
}

#[tokio::test]
async fn the_cache_loads_once_per_version_and_survives_a_corrupted_artifact() {
    let (store, blobs) = backends();
    seed_interactions(store.as_ref()).await;
    let cache = ModelCache::new(Duration::ZERO, toy_load);
    assert!(
        cache
            .get(store.as_ref(), blobs.as_ref(), ModelKind::Popularity)
            .await
            .is_none()
    );
    let first = training::run_locked(
        Arc::clone(&store),
        Arc::clone(&blobs),
        None,
        &[ModelKind::Popularity],
        toy_fit,
    )
    .await
    .unwrap()
    .unwrap();
    let served = cache
        .get(store.as_ref(), blobs.as_ref(), ModelKind::Popularity)
        .await
        .unwrap();
    assert_eq!(served.version, first.training_id);
    assert_eq!(served.items.len(), 8);
    assert_eq!(served.model.n_items(), 8);

    // A new version whose artifact is corrupted after writing: the cache keeps the first.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = training::run_locked(
        Arc::clone(&store),
        Arc::clone(&blobs),
        None,
        &[ModelKind::Popularity],
        toy_fit,
    )
    .await
    .unwrap()
    .unwrap();
    assert_ne!(second.training_id, first.training_id);
    let key = training::artifact_key(ModelKind::Popularity, &second.training_id);
    let mut bytes = blobs.get(&key).await.unwrap().body.to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    blobs
        .put(&key, Bytes::from(bytes), "application/octet-stream")
        .await
        .unwrap();
    let served = cache
        .get(store.as_ref(), blobs.as_ref(), ModelKind::Popularity)
        .await
        .unwrap();
    assert_eq!(served.version, first.training_id);

    // A fresh instance with no previous version gets None (the caller falls back).
    let fresh = ModelCache::new(Duration::ZERO, toy_load);
    assert!(
        fresh
            .get(store.as_ref(), blobs.as_ref(), ModelKind::Popularity)
            .await
            .is_none()
    );
    // A missing blob is the same.
    blobs.delete(&key).await.unwrap();
    assert!(
        fresh
            .get(store.as_ref(), blobs.as_ref(), ModelKind::Popularity)
            .await
            .is_none()
    );
}
