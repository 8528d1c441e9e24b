//! A/B experiments (`shared::domain::experiments`) on every store backend, the way
//! `store_contract.rs` runs its checks: `memory`, `local_file`, and `dynamodb` on the AWS
//! emulator at `TEST_AWS_ENDPOINT` (ignored unless run with `--include-ignored`). The
//! one-running-experiment-per-type lock and the distinct-user count are transactions with
//! conditions, which is what differs between the backends.
//!
//! The memory backend is not cached by [`experiments::assignment`]; the file and DynamoDB
//! stores are (per process, by store address), and each check below starts on a fresh store,
//! so the checks read through [`experiments::assignment_with`] without a cache where a stale
//! entry of an earlier check's store could answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::{Map, json};
use shared::domain::experiments::{
    self, ArmEvent, ArmRef, CreateError, Experiment, ExperimentStatus, StopOutcome,
};
use shared::domain::ml_models::{ModelType, configs};
use shared::reco::abtest;
use shared::store::{ItemStore, keys};

shared::store_backends!(
    create_checks_configs_and_keeps_one_running_experiment_per_type,
    concurrent_creates_for_one_type_let_exactly_one_win,
    assignment_is_stable_and_counts_each_user_once,
    every_result_figure_moves_with_the_counters,
    stop_records_the_winner_promotes_it_and_frees_the_type,
    an_owned_cache_sees_a_create_and_a_stop_within_its_lifetime,
);

// ---- helpers ------------------------------------------------------------------------------

/// A second hybrid config (the defaults exist after `ensure_defaults`).
async fn setup(store: &dyn ItemStore) -> String {
    configs::ensure_defaults(store).await.unwrap();
    configs::create(store, "heavier_als", ModelType::Hybrid, None, Map::new())
        .await
        .unwrap()
        .id
}

fn body(recommendation_type: &str, arms: serde_json::Value) -> experiments::NewExperiment {
    experiments::parse_new(&json!({
        "name": "blend test",
        "recommendation_type": recommendation_type,
        "arms": arms,
    }))
    .unwrap()
}

fn two_arms(treatment_config: &str) -> serde_json::Value {
    json!([
        {"name": "control", "config_id": "default-hybrid", "traffic_share": 50},
        {"name": "b", "config_id": treatment_config, "traffic_share": 50},
    ])
}

async fn start(store: &dyn ItemStore, recommendation_type: &str, config: &str) -> Experiment {
    experiments::create(store, body(recommendation_type, two_arms(config)), None)
        .await
        .unwrap()
}

/// `n` actor keys that the experiment puts in `arm` (by the pure hash).
fn actors_in(experiment: &Experiment, arm: usize, n: usize) -> Vec<String> {
    let shares: Vec<u32> = experiment.arms.iter().map(|a| a.basis_points()).collect();
    (0..)
        .map(|i| format!("user-{i}"))
        .filter(|k| abtest::assign(&experiment.id, k, &shares) == Some(arm))
        .take(n)
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

// ---- checks -------------------------------------------------------------------------------

async fn create_checks_configs_and_keeps_one_running_experiment_per_type(
    store: Arc<dyn ItemStore>,
) {
    let store = store.as_ref();
    let treatment = setup(store).await;

    // An unknown config and an interactions config: the arms are named.
    let arms = json!([
        {"name": "control", "config_id": "default-hybrid", "traffic_share": 40},
        {"name": "b", "config_id": "no-such-config", "traffic_share": 30},
        {"name": "c", "config_id": "default-interactions", "traffic_share": 30},
    ]);
    match experiments::create(store, body("homepage", arms), None).await {
        Err(CreateError::Invalid(errors)) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["arms[1].config_id", "arms[2].config_id"]);
            assert!(errors[0].message.contains("arm 'b'"), "{errors:?}");
            assert!(errors[0].message.contains("no-such-config"), "{errors:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(experiments::list(store).await.unwrap().is_empty());

    let first = start(store, "homepage", &treatment).await;
    assert_eq!(first.status, ExperimentStatus::Running);
    assert_eq!(first.control, "control");
    // A second one on the same type: refused, naming the running one.
    match experiments::create(store, body("homepage", two_arms(&treatment)), None).await {
        Err(CreateError::Running { experiment_id }) => assert_eq!(experiment_id, first.id),
        other => panic!("{other:?}"),
    }
    // Another type is free. The control is the arm named control, wherever it is.
    let arms = json!([
        {"name": "a", "config_id": &treatment, "traffic_share": 70},
        {"name": "control", "config_id": "default-hybrid", "traffic_share": 30},
    ]);
    let cart = experiments::create(store, body("cart", arms), Some("admin-1".into()))
        .await
        .unwrap();
    assert_eq!(cart.control, "control");
    assert_eq!(cart.control_index(), 1);
    assert_eq!(cart.created_by.as_deref(), Some("admin-1"));
    // Without one named control, the first arm.
    let arms = json!([
        {"name": "x", "config_id": "default-hybrid", "traffic_share": 50},
        {"name": "y", "config_id": &treatment, "traffic_share": 50},
    ]);
    let checkout = experiments::create(store, body("checkout", arms), None)
        .await
        .unwrap();
    assert_eq!(checkout.control, "x");

    // Newest first; get by id.
    let listed: Vec<String> = experiments::list(store)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        listed,
        [checkout.id.clone(), cart.id.clone(), first.id.clone()]
    );
    assert_eq!(
        experiments::get(store, &cart.id).await.unwrap().unwrap(),
        cart
    );
    assert_eq!(experiments::get(store, "nope").await.unwrap(), None);
}

async fn concurrent_creates_for_one_type_let_exactly_one_win(store: Arc<dyn ItemStore>) {
    let treatment = setup(store.as_ref()).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (store, treatment) = (store.clone(), treatment.clone());
        tasks.push(tokio::spawn(async move {
            experiments::create(
                store.as_ref(),
                body("product_page", two_arms(&treatment)),
                None,
            )
            .await
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(e) => created.push(e.id),
            Err(CreateError::Running { .. }) => {}
            // DynamoDB answers a transaction that collides with a concurrent one on the same
            // item with a conflict: it did not create either.
            Err(CreateError::Store(shared::store::StoreError::TransactionConflict)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(created.len(), 1, "{created:?}");
    let running = experiments::list(store.as_ref()).await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].id, created[0]);
}

async fn assignment_is_stable_and_counts_each_user_once(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let treatment = setup(store).await;
    assert_eq!(
        experiments::assignment_with(None, store, "personalized", "user-1")
            .await
            .unwrap(),
        None
    );
    let experiment = start(store, "personalized", &treatment).await;
    let mut per_arm = [0u64; 2];
    for i in 0..60 {
        let actor = if i % 3 == 0 {
            format!("guest:cart-{i}")
        } else {
            format!("user-{i}")
        };
        let a = experiments::assignment_with(None, store, "personalized", &actor)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.arm.experiment_id, experiment.id);
        let index = experiment
            .arms
            .iter()
            .position(|arm| arm.name == a.arm.arm)
            .unwrap();
        assert_eq!(a.config_id, experiment.arms[index].config_id);
        per_arm[index] += 1;
        // Asked again (another request of the same caller): same arm, not counted again.
        let again = experiments::assignment_with(None, store, "personalized", &actor)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again, a);
    }
    assert!(per_arm[0] > 10 && per_arm[1] > 10, "{per_arm:?}");
    let results = experiments::results(store, &experiment).await.unwrap();
    let users: Vec<u64> = results.arms.iter().map(|r| r.users).collect();
    assert_eq!(users, per_arm);
    // Another type has no experiment.
    assert_eq!(
        experiments::assignment_with(None, store, "homepage", "user-1")
            .await
            .unwrap(),
        None
    );
}

async fn every_result_figure_moves_with_the_counters(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let treatment = setup(store).await;
    let experiment = start(store, "checkout", &treatment).await;
    let control = ArmRef {
        experiment_id: experiment.id.clone(),
        arm: "control".into(),
    };
    let b = ArmRef {
        experiment_id: experiment.id.clone(),
        arm: "b".into(),
    };
    let results = experiments::results(store, &experiment).await.unwrap();
    for r in &results.arms {
        assert_eq!(
            (r.users, r.impressions, r.clicks, r.conversions),
            (0, 0, 0, 0)
        );
        assert_eq!(r.revenue_cents, 0);
        assert_eq!(r.click_through_p_value, None);
    }
    assert_eq!(results.leader, "control");

    // Users: 4 in the control, 5 in b.
    for actor in actors_in(&experiment, 0, 4) {
        experiments::assignment_with(None, store, "checkout", &actor)
            .await
            .unwrap();
    }
    for actor in actors_in(&experiment, 1, 5) {
        experiments::assignment_with(None, store, "checkout", &actor)
            .await
            .unwrap();
    }
    // Impressions in several lists (and an empty list, which counts nothing).
    for n in [200, 300, 0] {
        experiments::count(store, &control, ArmEvent::Impressions(n))
            .await
            .unwrap();
        experiments::count(store, &b, ArmEvent::Impressions(n))
            .await
            .unwrap();
    }
    for _ in 0..30 {
        experiments::count(store, &control, ArmEvent::Click)
            .await
            .unwrap();
    }
    for _ in 0..45 {
        experiments::count(store, &b, ArmEvent::Click)
            .await
            .unwrap();
    }
    for _ in 0..3 {
        experiments::count(
            store,
            &control,
            ArmEvent::Conversion {
                revenue_cents: 1_000,
            },
        )
        .await
        .unwrap();
    }
    for _ in 0..6 {
        experiments::count(
            store,
            &b,
            ArmEvent::Conversion {
                revenue_cents: 2_500,
            },
        )
        .await
        .unwrap();
    }

    let results = experiments::results(store, &experiment).await.unwrap();
    let (c, t) = (&results.arms[0], &results.arms[1]);
    assert!(c.is_control && !t.is_control);
    assert_eq!(
        (c.users, c.impressions, c.clicks, c.conversions),
        (4, 500, 30, 3)
    );
    assert_eq!(
        (t.users, t.impressions, t.clicks, t.conversions),
        (5, 500, 45, 6)
    );
    assert_eq!((c.revenue_cents, t.revenue_cents), (3_000, 15_000));
    assert!(close(c.click_through_rate, 0.06, 1e-12));
    assert!(close(t.click_through_rate, 0.09, 1e-12));
    assert!(close(c.conversion_rate, 0.006, 1e-12));
    assert!(close(t.conversion_rate, 0.012, 1e-12));
    assert!(close(c.revenue_per_user_cents, 750.0, 1e-9));
    assert!(close(t.revenue_per_user_cents, 3_000.0, 1e-9));
    assert_eq!(c.click_through_p_value, None);
    assert_eq!(c.conversion_p_value, None);
    // 45/500 vs 30/500: pooled 0.075, se 0.0166583, z 1.80090, p 0.071719.
    assert!(close(t.click_through_p_value.unwrap(), 0.071_719, 1e-6));
    // 6/500 vs 3/500: pooled 0.009, se 0.0059729, z 1.00453, p 0.315123.
    assert!(close(t.conversion_p_value.unwrap(), 0.315_123, 1e-6));
    // Better, not significantly: the control leads.
    assert_eq!(results.leader, "control");

    // 30 more clicks: 75/500 vs 30/500 is z 4.642, p 3.45e-6: b leads.
    for _ in 0..30 {
        experiments::count(store, &b, ArmEvent::Click)
            .await
            .unwrap();
    }
    let results = experiments::results(store, &experiment).await.unwrap();
    let t = &results.arms[1];
    assert_eq!(t.clicks, 75);
    assert!(close(t.click_through_rate, 0.15, 1e-12));
    assert!(close(t.click_through_p_value.unwrap(), 3.450_3e-6, 1e-9));
    assert_eq!(results.leader, "b");

    // The counters are spread over shards (no single hot item).
    let mut present = 0;
    for s in 0..keys::EXPERIMENT_ARM_SHARDS {
        if store
            .get(&keys::experiment_arm_counters(&experiment.id, "b", s))
            .await
            .unwrap()
            .is_some()
        {
            present += 1;
        }
    }
    assert!(present > 1, "{present}");
}

async fn stop_records_the_winner_promotes_it_and_frees_the_type(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let treatment = setup(store).await;
    let experiment = start(store, "homepage", &treatment).await;
    let b = ArmRef {
        experiment_id: experiment.id.clone(),
        arm: "b".into(),
    };
    let control = ArmRef {
        arm: "control".into(),
        ..b.clone()
    };
    experiments::count(store, &control, ArmEvent::Impressions(1_000))
        .await
        .unwrap();
    experiments::count(store, &b, ArmEvent::Impressions(1_000))
        .await
        .unwrap();
    for _ in 0..20 {
        experiments::count(store, &b, ArmEvent::Click)
            .await
            .unwrap();
    }

    assert_eq!(
        experiments::stop(store, "nope", true).await.unwrap(),
        StopOutcome::NotFound
    );
    let before = configs::active(store, ModelType::Hybrid).await.unwrap();
    assert_eq!(before.id, "default-hybrid");
    match experiments::stop(store, &experiment.id, true)
        .await
        .unwrap()
    {
        StopOutcome::Stopped {
            experiment: stopped,
            results,
            promotion,
        } => {
            assert_eq!(stopped.status, ExperimentStatus::Stopped);
            assert_eq!(stopped.winner.as_deref(), Some("b"));
            assert_eq!(results.leader, "b");
            assert_eq!(
                promotion,
                Some((treatment.clone(), configs::Activation::Activated))
            );
            assert_eq!(
                stopped.promoted_config_id.as_deref(),
                Some(treatment.as_str())
            );
        }
        other => panic!("{other:?}"),
    }
    // The winner's config is the active hybrid config now, through the activation transaction.
    assert_eq!(
        configs::active(store, ModelType::Hybrid).await.unwrap().id,
        treatment
    );
    assert!(
        !configs::get(store, "default-hybrid")
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    let stored = experiments::get(store, &experiment.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, ExperimentStatus::Stopped);
    assert_eq!(stored.winner.as_deref(), Some("b"));
    assert!(stored.stopped_at.is_some());
    assert_eq!(
        stored.promoted_config_id.as_deref(),
        Some(treatment.as_str())
    );

    // Stopping again changes nothing.
    match experiments::stop(store, &experiment.id, true)
        .await
        .unwrap()
    {
        StopOutcome::AlreadyStopped(e) => assert_eq!(e, stored),
        other => panic!("{other:?}"),
    }
    // Nobody is assigned any more, and the type takes a new experiment.
    assert_eq!(
        experiments::assignment_with(None, store, "homepage", "user-1")
            .await
            .unwrap(),
        None
    );
    let next = start(store, "homepage", &treatment).await;
    // Stopped without promotion and without data: the control wins, nothing is activated.
    match experiments::stop(store, &next.id, false).await.unwrap() {
        StopOutcome::Stopped {
            experiment,
            promotion,
            ..
        } => {
            assert_eq!(experiment.winner.as_deref(), Some("control"));
            assert_eq!(promotion, None);
            assert_eq!(experiment.promoted_config_id, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        configs::active(store, ModelType::Hybrid).await.unwrap().id,
        treatment
    );
}

/// A cache owned by the caller (as the recommendations function's state holds one): within its
/// lifetime it answers what it read; once it has expired (here: a zero lifetime) it reads the
/// create and the stop.
async fn an_owned_cache_sees_a_create_and_a_stop_within_its_lifetime(store: Arc<dyn ItemStore>) {
    use shared::domain::experiments::{RunningCache, assignment_with};
    let store = store.as_ref();
    let treatment = setup(store).await;
    let long = RunningCache::new(std::time::Duration::from_secs(3600));
    let none = RunningCache::new(std::time::Duration::ZERO);
    assert_eq!(
        assignment_with(Some(&long), store, "cart", "user-7")
            .await
            .unwrap(),
        None
    );
    let experiment = start(store, "cart", &treatment).await;
    // The long-lived cache still knows "nothing runs"; the expired one reads the experiment.
    assert_eq!(
        assignment_with(Some(&long), store, "cart", "user-7")
            .await
            .unwrap(),
        None
    );
    let a = assignment_with(Some(&none), store, "cart", "user-7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.arm.experiment_id, experiment.id);
    experiments::stop(store, &experiment.id, false)
        .await
        .unwrap();
    assert_eq!(
        assignment_with(Some(&none), store, "cart", "user-7")
            .await
            .unwrap(),
        None
    );
    long.invalidate();
    assert_eq!(
        assignment_with(Some(&long), store, "cart", "user-7")
            .await
            .unwrap(),
        None
    );
}
