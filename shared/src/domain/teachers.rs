//! Teachers of the education platform (spec 003): profile, activity counts, behavioural clusters.
//!
//! - A teacher is two items (see [`keys`]): the profile (`TEACHER#<id>` / `PROFILE`, on GSI1
//!   `TEACHERS` so the jobs can page every teacher) and the eight activity counts ([`FEATURES`])
//!   on `TEACHER#<id>` / `ACTIVITY`, which has no index keys: activity events `ADD` to the counts
//!   atomically there and never write the `TEACHERS` index partition (the GSIs project all
//!   attributes). Imports write both items of a teacher in one transaction.
//! - A clustering is versioned: [`recompute`] reads every teacher, clusters them
//!   ([`crate::reco::clusters`]), writes one assignment item per teacher under a new version (in
//!   transactions of 100, a few in flight), then switches `CLUSTERS` / `CURRENT` to the new
//!   version with a condition that nobody switched since the run began. Readers only follow
//!   `CURRENT`, so a run that fails halfway leaves the previous clustering in force; its partial
//!   items are deleted by the next successful run (every version other than the current and the
//!   previous one is removed).

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt, stream};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    reco::clusters::{self, ClusterParams, Scaler},
    store::{
        Condition, GSI1PK, GSI1SK, Item, ItemStore, Key, PK, Query, SK, StoreError, TxOp, Update,
        from_item, keys, query_all, to_item,
    },
};

/// The activity counts clustered, in feature order.
pub const FEATURES: [&str; 8] = [
    "nb_fiche_outils",
    "total_interactions_x",
    "nb_sessions",
    "nb_videos_vues",
    "nb_formations",
    "nb_telechargements",
    "nb_emails_ouverts",
    "nb_emails_cliques",
];

/// Indices in [`FEATURES`] of the email counts (for the "Email Specialists" rule).
pub const EMAIL_FEATURES: [usize; 2] = [6, 7];

/// Writes in one transaction (DynamoDB's limit).
const TX_CHUNK: usize = 100;
/// Teachers paged at once by [`all_teachers`] (one batch read of their activity per page).
const PAGE: u32 = 100;
/// Transactions in flight at once.
const TX_CONCURRENCY: usize = 4;

/// Activity counts of one teacher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Tool sheets ("fiches outils") viewed.
    #[serde(default)]
    pub nb_fiche_outils: u64,
    /// Interactions (likes, comments, saves).
    #[serde(default)]
    pub total_interactions_x: u64,
    #[serde(default)]
    pub nb_sessions: u64,
    #[serde(default)]
    pub nb_videos_vues: u64,
    /// Training modules started.
    #[serde(default)]
    pub nb_formations: u64,
    #[serde(default)]
    pub nb_telechargements: u64,
    #[serde(default)]
    pub nb_emails_ouverts: u64,
    #[serde(default)]
    pub nb_emails_cliques: u64,
}

impl Activity {
    /// The counts in [`FEATURES`] order.
    pub fn values(&self) -> [u64; 8] {
        [
            self.nb_fiche_outils,
            self.total_interactions_x,
            self.nb_sessions,
            self.nb_videos_vues,
            self.nb_formations,
            self.nb_telechargements,
            self.nb_emails_ouverts,
            self.nb_emails_cliques,
        ]
    }

    /// From counts in [`FEATURES`] order.
    pub fn from_values(v: [u64; 8]) -> Self {
        Self {
            nb_fiche_outils: v[0],
            total_interactions_x: v[1],
            nb_sessions: v[2],
            nb_videos_vues: v[3],
            nb_formations: v[4],
            nb_telechargements: v[5],
            nb_emails_ouverts: v[6],
            nb_emails_cliques: v[7],
        }
    }
}

/// A teacher: profile and activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Teacher {
    pub user_id: u64,
    /// Seniority in years.
    pub anciennete: u32,
    /// 1 (primary) or 2 (secondary).
    pub degre: u8,
    /// Region ("académie").
    pub academie: String,
    /// Levels taught, e.g. `["college", "lycee"]`.
    #[serde(default)]
    pub niveaux_enseignes: Vec<String>,
    #[serde(flatten)]
    pub activity: Activity,
}

#[derive(Debug, thiserror::Error)]
pub enum TeacherError {
    #[error("teacher not found")]
    NotFound,
    #[error("unknown activity counter {0}")]
    UnknownCounter(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The profile item: the profile without the counts, on the `TEACHERS` index.
fn profile_item(t: &Teacher) -> Result<Item, StoreError> {
    let mut item = to_item(t)?;
    for f in FEATURES {
        item.remove(f);
    }
    let key = keys::teacher(t.user_id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert(GSI1PK.into(), keys::TEACHERS_INDEX_PK.into());
    item.insert(GSI1SK.into(), keys::user_id_sk(t.user_id).into());
    Ok(item)
}

/// The activity item: the counts, no index keys.
fn activity_item(user_id: u64, activity: &Activity) -> Result<Item, StoreError> {
    let mut item = to_item(activity)?;
    let key = keys::teacher_activity(user_id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    Ok(item)
}

/// Writes (creates or replaces) teachers, both items of each in one transaction (50 teachers a
/// transaction). Ids must be distinct.
pub async fn put_teachers(store: &dyn ItemStore, teachers: &[Teacher]) -> Result<(), StoreError> {
    let chunks = teachers
        .chunks(TX_CHUNK / 2)
        .map(|chunk| {
            let mut ops = Vec::with_capacity(2 * chunk.len());
            for t in chunk {
                ops.push(TxOp::Put {
                    item: profile_item(t)?,
                    condition: None,
                });
                ops.push(TxOp::Put {
                    item: activity_item(t.user_id, &t.activity)?,
                    condition: None,
                });
            }
            Ok(ops)
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    stream::iter(chunks)
        .map(|ops| store.transact(ops))
        .buffer_unordered(TX_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// A teacher from its profile item and its activity item. A profile written before the counts
/// had their own item still holds them: they count when there is no activity item.
fn teacher_of(profile: Item, activity: Option<Item>) -> Result<Teacher, StoreError> {
    let mut teacher: Teacher = from_item(profile)?;
    if let Some(activity) = activity {
        teacher.activity = from_item(activity)?;
    }
    Ok(teacher)
}

/// The teacher (both items, one batch read).
pub async fn get_teacher(
    store: &dyn ItemStore,
    user_id: u64,
) -> Result<Option<Teacher>, StoreError> {
    let mut profile = None;
    let mut activity = None;
    let keys = [keys::teacher(user_id), keys::teacher_activity(user_id)];
    for item in store.batch_get(&keys).await? {
        if Key::of(&item).as_ref() == Some(&keys[0]) {
            profile = Some(item);
        } else {
            activity = Some(item);
        }
    }
    profile.map(|p| teacher_of(p, activity)).transpose()
}

/// Adds `increments` to a teacher's counts atomically (DynamoDB `ADD` on the activity item);
/// the teacher must exist. Returns the counts after the update.
pub async fn record_activity(
    store: &dyn ItemStore,
    user_id: u64,
    increments: &[(String, u64)],
) -> Result<Activity, TeacherError> {
    let mut update = Update::new();
    for (name, n) in increments {
        if !FEATURES.contains(&name.as_str()) {
            return Err(TeacherError::UnknownCounter(name.clone()));
        }
        update = update.add(name.clone(), *n);
    }
    let key = keys::teacher_activity(user_id);
    // The activity item is written with the profile: it exists when the teacher does.
    let add = || store.update(&key, update.clone(), Some(Condition::ItemExists));
    match add().await {
        Ok(item) => Ok(from_item(item)?),
        Err(StoreError::ConditionFailed) => {
            // A teacher imported before the counts had their own item: move its counts there
            // once (only if nobody did meanwhile), then add.
            let Some(profile) = store.get(&keys::teacher(user_id)).await? else {
                return Err(TeacherError::NotFound);
            };
            let legacy: Teacher = from_item(profile)?;
            match store
                .put(
                    activity_item(user_id, &legacy.activity)?,
                    Some(Condition::ItemNotExists),
                )
                .await
            {
                Ok(()) | Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
            match add().await {
                Ok(item) => Ok(from_item(item)?),
                Err(StoreError::ConditionFailed) => Err(TeacherError::NotFound),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Every teacher, in user id order (batch jobs only): the `TEACHERS` index page by page, and
/// one batch read of the page's activity items per page.
pub async fn all_teachers(store: &dyn ItemStore) -> Result<Vec<Teacher>, StoreError> {
    let mut out = Vec::new();
    let mut query = Query::gsi1(keys::TEACHERS_INDEX_PK).limit(PAGE);
    loop {
        let page = store.query(query.clone()).await?;
        let ids: Vec<u64> = page
            .items
            .iter()
            .filter_map(|i| keys::teacher_id_of(i.get(PK)?.as_str()?))
            .collect();
        let activity_keys: Vec<Key> = ids.iter().map(|id| keys::teacher_activity(*id)).collect();
        let mut activity: HashMap<u64, Item> = store
            .batch_get(&activity_keys)
            .await?
            .into_iter()
            .filter_map(|i| Some((keys::teacher_id_of(i.get(PK)?.as_str()?)?, i)))
            .collect();
        for profile in page.items {
            let id = profile
                .get(PK)
                .and_then(Value::as_str)
                .and_then(keys::teacher_id_of);
            let counts = id.and_then(|id| activity.remove(&id));
            out.push(teacher_of(profile, counts)?);
        }
        match page.cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// One cluster of the clustering in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub id: u8,
    pub name: String,
    pub count: u64,
    /// Mean of each raw activity count over the cluster's teachers.
    pub profile: BTreeMap<String, f64>,
    /// Centroid in the standardised space (assigns teachers imported after the run).
    pub centroid: Vec<f64>,
}

/// The clustering in force (`CLUSTERS` / `CURRENT`), or one version of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clustering {
    pub version: String,
    #[serde(default)]
    pub previous_version: Option<String>,
    pub computed_at: String,
    pub total_users: u64,
    /// In id order 0..3.
    pub clusters: Vec<ClusterInfo>,
    pub scaler: Scaler,
    pub inertia: f64,
    pub seed: u64,
}

impl Clustering {
    /// The cluster id for a teacher without an assignment: nearest centroid.
    pub fn nearest(&self, activity: &Activity) -> Option<u8> {
        let raw: Vec<f64> = activity.values().iter().map(|&v| v as f64).collect();
        let point = self.scaler.transform(&raw);
        let centroids: Vec<Vec<f64>> = self.clusters.iter().map(|c| c.centroid.clone()).collect();
        clusters::nearest(&centroids, &point).and_then(|i| self.clusters.get(i).map(|c| c.id))
    }
}

pub async fn current_clustering(store: &dyn ItemStore) -> Result<Option<Clustering>, StoreError> {
    store
        .get(&keys::clusters_current())
        .await?
        .map(from_item)
        .transpose()
}

/// A teacher's cluster id in `version`, if assigned.
pub async fn assigned_cluster(
    store: &dyn ItemStore,
    user_id: u64,
    version: &str,
) -> Result<Option<u8>, StoreError> {
    Ok(store
        .get(&keys::cluster_assignment(user_id, version))
        .await?
        .and_then(|item| item.get("cluster_id").and_then(Value::as_u64))
        .and_then(|v| u8::try_from(v).ok()))
}

#[derive(Debug, thiserror::Error)]
pub enum RecomputeError {
    #[error("{users} users with {distinct} distinct activity profiles: at least {k} are needed")]
    TooFewUsers {
        users: usize,
        distinct: usize,
        k: usize,
    },
    #[error("another recompute switched the clustering while this one ran")]
    Conflict,
    #[error("clustering failed: {0}")]
    Algorithm(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a recompute did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecomputeReport {
    pub version: String,
    pub total_users_processed: u64,
    /// `cluster_<id>` -> count, ids 0..3.
    pub cluster_distribution: BTreeMap<String, u64>,
    pub removed_versions: usize,
}

/// A version id: sortable by time, unique.
fn new_version() -> String {
    let now = chrono::Utc::now();
    format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%S%3fZ"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// The full pipeline: read, cluster, write a new version, switch, clean up old versions.
pub async fn recompute(
    store: &dyn ItemStore,
    params: &ClusterParams,
) -> Result<RecomputeReport, RecomputeError> {
    let previous = current_clustering(store).await?;
    let teachers = all_teachers(store).await?;
    let mut rows = Vec::with_capacity(teachers.len() * FEATURES.len());
    for t in &teachers {
        rows.extend(t.activity.values().iter().map(|&v| v as f64));
    }
    let result = match clusters::cluster(&rows, FEATURES.len(), clusters::K, params) {
        Ok(r) => r,
        Err(clusters::ClusterError::TooFewRows { distinct, k }) => {
            return Err(RecomputeError::TooFewUsers {
                users: teachers.len(),
                distinct,
                k,
            });
        }
        Err(e) => return Err(RecomputeError::Algorithm(e.to_string())),
    };
    let names = clusters::name_clusters(&result.centroids, &result.raw_means, &EMAIL_FEATURES)
        .ok_or_else(|| RecomputeError::Algorithm("expected four clusters".into()))?;

    let version = new_version();
    let computed_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // 1. Mark the version as being written (so a failed run can be cleaned up later).
    let mut marker =
        to_item(&json!({"version": version, "status": "writing", "started_at": computed_at}))?;
    let mk = keys::cluster_version(&version);
    marker.insert(PK.into(), mk.pk.clone().into());
    marker.insert(SK.into(), mk.sk.clone().into());
    store.put(marker, None).await?;

    // 2. Assignments, in transactions of 100.
    let ops: Vec<TxOp> = teachers
        .iter()
        .zip(&result.assignments)
        .map(|(t, &c)| {
            let key = keys::cluster_assignment(t.user_id, &version);
            let mut item = crate::store::Item::new();
            item.insert(PK.into(), key.pk.into());
            item.insert(SK.into(), key.sk.into());
            item.insert(GSI1PK.into(), keys::cluster_assignments_pk(&version).into());
            item.insert(GSI1SK.into(), keys::user_id_sk(t.user_id).into());
            item.insert("cluster_id".into(), names[c].id().into());
            TxOp::Put {
                item,
                condition: None,
            }
        })
        .collect();
    let mut chunks = Vec::new();
    let mut ops = ops.into_iter().peekable();
    while ops.peek().is_some() {
        chunks.push(ops.by_ref().take(TX_CHUNK).collect::<Vec<_>>());
    }
    stream::iter(chunks)
        .map(|chunk| store.transact(chunk))
        .buffer_unordered(TX_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;

    // 3. The summary, in id order.
    let mut infos: Vec<ClusterInfo> = (0..clusters::K)
        .map(|c| ClusterInfo {
            id: names[c].id(),
            name: names[c].label().to_string(),
            count: result.counts[c] as u64,
            profile: FEATURES
                .iter()
                .zip(&result.raw_means[c])
                .map(|(f, m)| (f.to_string(), (m * 100.0).round() / 100.0))
                .collect(),
            centroid: result.centroids[c].clone(),
        })
        .collect();
    infos.sort_by_key(|c| c.id);
    let clustering = Clustering {
        version: version.clone(),
        previous_version: previous.as_ref().map(|p| p.version.clone()),
        computed_at,
        total_users: teachers.len() as u64,
        clusters: infos,
        scaler: result.scaler.clone(),
        inertia: result.inertia,
        seed: params.seed,
    };
    let mut ready = to_item(&clustering)?;
    ready.insert(PK.into(), mk.pk.into());
    ready.insert(SK.into(), mk.sk.into());
    ready.insert("status".into(), "ready".into());
    store.put(ready, None).await?;

    // 4. Switch, unless another run switched since this one read `CURRENT`.
    let mut current = to_item(&clustering)?;
    let ck = keys::clusters_current();
    current.insert(PK.into(), ck.pk.into());
    current.insert(SK.into(), ck.sk.into());
    let condition = match &previous {
        Some(p) => Condition::eq("version", p.version.clone()),
        None => Condition::ItemNotExists,
    };
    match store.put(current, Some(condition)).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(RecomputeError::Conflict),
        Err(e) => return Err(e.into()),
    }

    // 5. Best effort: versions other than this one and the previous one go.
    let keep = [Some(version.clone()), clustering.previous_version.clone()];
    let removed = match remove_old_versions(store, &keep).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "old clustering versions not removed");
            0
        }
    };
    let cluster_distribution = clustering
        .clusters
        .iter()
        .map(|c| (format!("cluster_{}", c.id), c.count))
        .collect();
    Ok(RecomputeReport {
        version,
        total_users_processed: clustering.total_users,
        cluster_distribution,
        removed_versions: removed,
    })
}

/// Deletes every clustering version (its assignments, then its version item) not in `keep`.
async fn remove_old_versions(
    store: &dyn ItemStore,
    keep: &[Option<String>],
) -> Result<usize, StoreError> {
    let versions = query_all(
        store,
        Query::table(keys::CLUSTERS_PK).begins_with(keys::CLUSTER_VERSION_PREFIX),
    )
    .await?;
    let mut removed = 0;
    for item in versions {
        let Some(version) = item
            .get("version")
            .and_then(Value::as_str)
            .map(String::from)
        else {
            continue;
        };
        if keep.iter().flatten().any(|k| *k == version) {
            continue;
        }
        let assignments =
            query_all(store, Query::gsi1(keys::cluster_assignments_pk(&version))).await?;
        let deletes: Vec<Vec<TxOp>> = assignments
            .chunks(TX_CHUNK)
            .map(|chunk| {
                chunk
                    .iter()
                    .filter_map(Key::of)
                    .map(|key| TxOp::Delete {
                        key,
                        condition: None,
                    })
                    .collect()
            })
            .collect();
        stream::iter(deletes)
            .map(|chunk| store.transact(chunk))
            .buffer_unordered(TX_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        store.delete(&keys::cluster_version(&version), None).await?;
        removed += 1;
    }
    Ok(removed)
}

const ACADEMIES: [&str; 12] = [
    "Paris",
    "Versailles",
    "Créteil",
    "Lyon",
    "Lille",
    "Aix-Marseille",
    "Bordeaux",
    "Toulouse",
    "Nantes",
    "Rennes",
    "Strasbourg",
    "Montpellier",
];

/// The behavioural archetypes of [`synthetic_population`], with their share of the population.
const ARCHETYPES: [(&str, f64); 4] = [
    ("inactive", 0.50),
    ("balanced", 0.28),
    ("email", 0.16),
    ("super", 0.06),
];

/// A deterministic synthetic population of `n` teachers (ids `first_id..`) whose activity has
/// real structure: inactive accounts (about half), balanced users, email-only readers and a few
/// heavy "super users", each with noise so the groups overlap a little. Demo data and benches.
pub fn synthetic_population(n: usize, first_id: u64, seed: u64) -> Vec<Teacher> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Rough means per archetype, in FEATURES order.
    let means = |a: &str| -> [f64; 8] {
        match a {
            "inactive" => [0.3, 0.5, 1.0, 0.1, 0.0, 0.1, 1.5, 0.1],
            "balanced" => [9.0, 21.0, 14.0, 4.0, 1.0, 5.0, 10.0, 3.0],
            "email" => [0.8, 1.5, 2.0, 0.3, 0.1, 0.4, 38.0, 14.0],
            _ => [65.0, 180.0, 90.0, 30.0, 6.0, 40.0, 30.0, 12.0],
        }
    };
    (0..n)
        .map(|i| {
            let r: f64 = rng.random();
            let mut acc = 0.0;
            let mut archetype = ARCHETYPES[0].0;
            for (name, share) in ARCHETYPES {
                acc += share;
                if r < acc {
                    archetype = name;
                    break;
                }
            }
            let m = means(archetype);
            let mut counts = [0u64; 8];
            for (c, mean) in counts.iter_mut().zip(m) {
                // Log-normal-ish noise around the mean: multiply by e^(N(0, 0.5)) approximated
                // by the sum of uniforms, then round.
                let z: f64 = (0..4).map(|_| rng.random::<f64>()).sum::<f64>() - 2.0;
                let v = mean * (z * 0.85).exp();
                *c = v.round().max(0.0) as u64;
            }
            let degre: u8 = if rng.random_bool(0.45) { 1 } else { 2 };
            let niveaux = if degre == 1 {
                vec!["primaire".to_string()]
            } else if rng.random_bool(0.3) {
                vec!["college".to_string(), "lycee".to_string()]
            } else if rng.random_bool(0.5) {
                vec!["college".to_string()]
            } else {
                vec!["lycee".to_string()]
            };
            Teacher {
                user_id: first_id + i as u64,
                anciennete: rng.random_range(0..=38),
                degre,
                academie: ACADEMIES[rng.random_range(0..ACADEMIES.len())].to_string(),
                niveaux_enseignes: niveaux,
                activity: Activity::from_values(counts),
            }
        })
        .collect()
}

/// The raw feature rows of `teachers` (row-major), for [`clusters::cluster`].
pub fn feature_rows(teachers: &[Teacher]) -> Vec<f64> {
    teachers
        .iter()
        .flat_map(|t| t.activity.values().map(|v| v as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::local::LocalStore;

    #[tokio::test]
    async fn recompute_writes_a_version_then_switches_and_cleans_up() {
        let store = LocalStore::in_memory().unwrap();
        let teachers = synthetic_population(400, 1, 7);
        put_teachers(&store, &teachers).await.unwrap();
        let first = recompute(&store, &ClusterParams::default()).await.unwrap();
        assert_eq!(first.total_users_processed, 400);
        assert_eq!(first.cluster_distribution.values().sum::<u64>(), 400);
        let current = current_clustering(&store).await.unwrap().unwrap();
        assert_eq!(current.version, first.version);
        let names: Vec<&str> = current.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Balanced Users",
                "Email Specialists",
                "Super Users",
                "Inactive Users"
            ]
        );
        // Structure is found: the inactive cluster is the largest, super users the smallest.
        let count = |id: usize| current.clusters[id].count;
        assert!(count(3) > count(0) && count(0) > count(2), "{current:?}");
        let c = assigned_cluster(&store, 1, &first.version).await.unwrap();
        assert!(c.is_some());

        // Two more runs: the first version's assignments are removed, the previous one kept.
        let second = recompute(&store, &ClusterParams::default()).await.unwrap();
        let third = recompute(&store, &ClusterParams::default()).await.unwrap();
        assert_eq!(third.removed_versions, 1);
        assert_eq!(
            assigned_cluster(&store, 1, &first.version).await.unwrap(),
            None
        );
        assert!(
            assigned_cluster(&store, 1, &second.version)
                .await
                .unwrap()
                .is_some()
        );
        // Same data, same seed: same distribution every time.
        assert_eq!(first.cluster_distribution, third.cluster_distribution);
    }

    use crate::testkit::faulty::{Call, Fault, Faulty};

    /// The in-memory store behind a [`Faulty`] that fails every transaction once the
    /// returned allowance (transactions let through) is spent.
    fn failing_store() -> (Faulty, std::sync::Arc<std::sync::atomic::AtomicI64>) {
        use std::sync::atomic::{AtomicI64, Ordering};
        let ok = std::sync::Arc::new(AtomicI64::new(i64::MAX));
        let allowance = ok.clone();
        let inner: std::sync::Arc<dyn ItemStore> =
            std::sync::Arc::new(LocalStore::in_memory().unwrap());
        let store = Faulty::new(inner, move |call| {
            (matches!(call, Call::Transact(_)) && allowance.fetch_sub(1, Ordering::SeqCst) <= 0)
                .then_some(Fault::Fail)
        });
        (store, ok)
    }

    #[tokio::test]
    async fn a_recompute_failing_halfway_leaves_the_previous_clustering_in_force() {
        use std::sync::atomic::Ordering;
        let (store, ok_transactions) = failing_store();
        put_teachers(&store, &synthetic_population(500, 1, 11))
            .await
            .unwrap();
        let first = recompute(&store, &ClusterParams::default()).await.unwrap();
        // 500 assignments = 5 transactions: let 2 through, then fail.
        ok_transactions.store(2, Ordering::SeqCst);
        let failed = recompute(
            &store,
            &ClusterParams {
                seed: 9,
                ..Default::default()
            },
        )
        .await;
        assert!(
            matches!(failed, Err(RecomputeError::Store(_))),
            "{failed:?}"
        );
        let current = current_clustering(&store).await.unwrap().unwrap();
        assert_eq!(current.version, first.version);
        assert!(
            assigned_cluster(&store, 1, &first.version)
                .await
                .unwrap()
                .is_some()
        );
        // The next successful run removes the half-written version.
        ok_transactions.store(i64::MAX, Ordering::SeqCst);
        let next = recompute(&store, &ClusterParams::default()).await.unwrap();
        assert_eq!(next.removed_versions, 1);
        let versions = query_all(
            &store,
            Query::table(keys::CLUSTERS_PK).begins_with(keys::CLUSTER_VERSION_PREFIX),
        )
        .await
        .unwrap();
        assert_eq!(versions.len(), 2);
    }

    #[tokio::test]
    async fn a_teacher_written_with_counts_on_its_profile_keeps_them() {
        let store = LocalStore::in_memory().unwrap();
        let t = synthetic_population(1, 9, 3).remove(0);
        // As imports wrote teachers before the counts had their own item.
        let mut legacy = to_item(&t).unwrap();
        let key = keys::teacher(9);
        legacy.insert(PK.into(), key.pk.into());
        legacy.insert(SK.into(), key.sk.into());
        legacy.insert(GSI1PK.into(), keys::TEACHERS_INDEX_PK.into());
        legacy.insert(GSI1SK.into(), keys::user_id_sk(9).into());
        store.put(legacy, None).await.unwrap();
        assert_eq!(get_teacher(&store, 9).await.unwrap().unwrap(), t);
        assert_eq!(all_teachers(&store).await.unwrap(), vec![t.clone()]);
        let after = record_activity(&store, 9, &[("nb_formations".into(), 2)])
            .await
            .unwrap();
        assert_eq!(after.nb_formations, t.activity.nb_formations + 2);
        assert_eq!(after.nb_sessions, t.activity.nb_sessions);
    }

    #[tokio::test]
    async fn all_teachers_pages_the_index_and_batch_reads_the_counts() {
        let store = LocalStore::in_memory().unwrap();
        let teachers = synthetic_population(250, 1, 4);
        put_teachers(&store, &teachers).await.unwrap();
        assert_eq!(all_teachers(&store).await.unwrap(), teachers);
    }

    #[tokio::test]
    async fn fewer_users_than_clusters_is_refused_and_nothing_changes() {
        let store = LocalStore::in_memory().unwrap();
        put_teachers(&store, &synthetic_population(3, 1, 7))
            .await
            .unwrap();
        assert!(matches!(
            recompute(&store, &ClusterParams::default()).await,
            Err(RecomputeError::TooFewUsers { users: 3, .. })
        ));
        assert!(current_clustering(&store).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn activity_events_add_atomically() {
        let store = LocalStore::in_memory().unwrap();
        put_teachers(&store, &synthetic_population(1, 5, 1))
            .await
            .unwrap();
        let before = get_teacher(&store, 5).await.unwrap().unwrap();
        let after = record_activity(&store, 5, &[("nb_sessions".into(), 3)])
            .await
            .unwrap();
        assert_eq!(after.nb_sessions, before.activity.nb_sessions + 3);
        assert_eq!(
            get_teacher(&store, 5).await.unwrap().unwrap().activity,
            after
        );
        // The counts are on the activity item, which has no index keys; the profile has none.
        let item = store
            .get(&keys::teacher_activity(5))
            .await
            .unwrap()
            .unwrap();
        assert!(!item.contains_key(GSI1PK) && item["nb_sessions"] == after.nb_sessions);
        let profile = store.get(&keys::teacher(5)).await.unwrap().unwrap();
        assert!(profile.contains_key(GSI1PK) && !profile.contains_key("nb_sessions"));
        assert!(matches!(
            record_activity(&store, 6, &[("nb_sessions".into(), 1)]).await,
            Err(TeacherError::NotFound)
        ));
        assert!(matches!(
            record_activity(&store, 5, &[("bogus".into(), 1)]).await,
            Err(TeacherError::UnknownCounter(_))
        ));
    }
}
