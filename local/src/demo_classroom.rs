//! Demo data of the education ML API (spec 003) for `local serve --demo`: a deterministic
//! synthetic population of teachers whose activity has real structure (heavy users, email-only
//! readers, inactive accounts, mixed users; see
//! [`shared::domain::teachers::synthetic_population`]), then the `user-clusters` job once, and
//! the starter classifier trained and published, so every classroom route answers at once.
//!
//! Idempotent: when the first demo teacher and a clustering already exist, nothing is rewritten
//! (activity recorded since the first seeding is kept).

use shared::{AppState, domain::teachers};

/// Seed of the demo population (the same teachers on every machine).
pub const DEMO_SEED: u64 = 2026;
/// Demo teacher ids run from here.
pub const FIRST_ID: u64 = 1;

/// What was seeded.
#[derive(Debug, Default)]
pub struct SeededTeachers {
    pub teachers: usize,
    pub existing: bool,
    /// `cluster_<id>` -> users, after the job.
    pub distribution: String,
    pub classifier_version: String,
}

pub async fn seed_teachers(state: &AppState, n: usize) -> anyhow::Result<SeededTeachers> {
    let store = state.store.as_ref();
    let mut out = SeededTeachers {
        teachers: n,
        ..Default::default()
    };
    let exists = teachers::get_teacher(store, FIRST_ID).await?.is_some()
        && teachers::current_clustering(store).await?.is_some();
    if exists {
        out.existing = true;
    } else if n > 0 {
        teachers::put_teachers(
            store,
            &teachers::synthetic_population(n, FIRST_ID, DEMO_SEED),
        )
        .await?;
        let report =
            jobs_fn::run(state, &jobs_fn::JobEvent::named(jobs_fn::Job::UserClusters)).await?;
        out.distribution = report["report"]["cluster_distribution"].to_string();
    }
    let model = classroom_fn::model_store::ModelCache::default()
        .current(state)
        .await?;
    out.classifier_version = model.version.clone();
    Ok(out)
}
