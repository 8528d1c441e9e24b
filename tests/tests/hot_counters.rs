//! No hot counter sits on an item with index keys.
//!
//! The table's GSIs project all attributes, so an `ADD` on an item that carries `GSI1PK` or
//! `GSI2PK` also writes that index partition: at about 1,000 interactions a second one
//! `VIDEOS#READY` or category partition throttles and pushes back on the table. Every
//! `events/*.json` is replayed through its function's router (on its success path, as
//! `iam_policies.rs` does), every `events/jobs/*.json` through the jobs function, and the domain
//! operations that count (video like/save/share/view, teacher activity, the platform's stats
//! counters, the A/B experiment arm counters) run directly, all on `shared::testkit::hot_counters::HotCounterStore`, which reads
//! the target of every `ADD` and notes it when the item has index keys (no exceptions). Seeding runs through it too.

use std::sync::Arc;

use api_tests::replay::{
    manifest, prepare_event, reach_success_path, repo, router_of, seed_catalog, seed_for_jobs,
    seed_video,
};
use axum::body::Body;
use serde_json::Value as Json;
use shared::{
    domain::{
        stats,
        teachers::{self, synthetic_population},
        videos::{
            self,
            interactions::{self, Toggle},
        },
    },
    store::{ItemStore, Update, keys},
    testkit::{
        TestApp,
        hot_counters::{HotCounterLog, HotCounterStore, Violation, hot_counter_state},
    },
};
use tower::ServiceExt;

fn report(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| {
            format!(
                "{} {}/{}: ADD {:?} on an item with {:?}",
                v.method, v.key.pk, v.key.sk, v.added, v.index_keys
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn no_event_or_job_adds_to_an_item_with_index_keys() {
    let mut violations = Vec::new();
    let mut checked = 0;
    for entry in manifest() {
        let file = entry["file"].as_str().unwrap_or_default().to_string();
        let function = entry["function"].as_str().unwrap_or_default().to_string();
        let router =
            router_of(&function).unwrap_or_else(|| panic!("{file}: unknown function {function}"));
        let (app, log) = TestApp::hot_counters(router);
        let prepared = prepare_event(&app, &entry).await;
        let raw = reach_success_path(&app, &function, prepared).await;
        let request = lambda_http::request::from_str(&raw)
            .unwrap_or_else(|e| panic!("{file}: not an API Gateway event: {e}"));
        let request = request.map(|b| Body::from(b.to_vec()));
        let service = shared::http::service(app.router.clone(), &app.state.config);
        let response = service
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        assert!(
            status.is_success()
                || Some(u64::from(status.as_u16())) == entry["expect_status"].as_u64(),
            "{file} via {function}: {status}"
        );
        checked += log.checked();
        violations.extend(log.violations());
    }
    let dir = repo().join("events/jobs");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("events/jobs: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no events/jobs/*.json");
    for file in files {
        let text =
            std::fs::read_to_string(dir.join(&file)).unwrap_or_else(|e| panic!("jobs/{file}: {e}"));
        let event: Json =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("jobs/{file}: {e}"));
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (state, log) =
            hot_counter_state(tmp.path().to_path_buf()).unwrap_or_else(|e| panic!("state: {e}"));
        seed_for_jobs(&state, &event).await;
        jobs_fn::handle(&state, event)
            .await
            .unwrap_or_else(|e| panic!("jobs/{file}: {e}"));
        checked += log.checked();
        violations.extend(log.violations());
    }
    // The events like, share and view videos, record teacher activity, place orders...
    assert!(checked > 50, "only {checked} counter updates were checked");
    assert!(
        violations.is_empty(),
        "counters added on items with index keys:\n{}",
        report(&violations)
    );
}

#[tokio::test]
async fn the_counting_domain_operations_add_only_to_items_without_index_keys() {
    let (app, log) = TestApp::hot_counters(videos_fn::router);
    let store = app.state.store.as_ref();
    let (category, product) = seed_catalog(&app).await;
    let video = seed_video(&app, &category, &product, "uploader").await;
    let seeding = log.checked();
    for user in ["a", "b"] {
        for kind in [Toggle::Like, Toggle::Save] {
            // On, off, on: both directions of each toggle.
            for _ in 0..3 {
                interactions::toggle(store, kind, user, &video)
                    .await
                    .unwrap_or_else(|e| panic!("toggle: {e}"));
            }
        }
        interactions::view(store, &video, Some(user))
            .await
            .unwrap_or_else(|e| panic!("view: {e}"));
    }
    interactions::view(store, &video, None)
        .await
        .unwrap_or_else(|e| panic!("view: {e}"));
    assert_eq!(
        interactions::share(store, &video)
            .await
            .unwrap_or_else(|e| panic!("share: {e}")),
        1
    );
    let counts = videos::counts(store, &video)
        .await
        .unwrap_or_else(|e| panic!("counts: {e}"));
    assert_eq!(
        (counts.likes_count, counts.saves_count, counts.views_count),
        (2, 2, 3)
    );

    teachers::put_teachers(store, &synthetic_population(3, 1, 2))
        .await
        .unwrap_or_else(|e| panic!("teachers: {e}"));
    teachers::record_activity(store, 2, &[("nb_sessions".into(), 4)])
        .await
        .unwrap_or_else(|e| panic!("activity: {e}"));

    store
        .transact(vec![
            stats::total_add("users", 1),
            stats::hourly_add("new_users", 1),
        ])
        .await
        .unwrap_or_else(|e| panic!("stats: {e}"));

    // 12 toggles (each one ADD on the counters item and one on the activity bucket), 3 views
    // and 1 share (counter, bucket), 1 teacher activity, 2 stats.
    assert_eq!(log.checked() - seeding, 12 * 2 + 3 * 2 + 2 + 1 + 2);
    let violations = log.violations();
    assert!(violations.is_empty(), "{}", report(&violations));
}

#[tokio::test]
async fn the_decorator_catches_an_add_on_an_indexed_item() {
    let (app, log) = TestApp::hot_counters(videos_fn::router);
    let (category, product) = seed_catalog(&app).await;
    let video = seed_video(&app, &category, &product, "uploader").await;
    let store = app.state.store.as_ref();
    // Where the counters were before: on the ready video's record, which is on GSI1 and GSI2.
    store
        .update(
            &keys::video(&video),
            Update::new().add("likes_count", 1),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    // The teacher profile is on GSI1 `TEACHERS`.
    teachers::put_teachers(store, &synthetic_population(1, 7, 2))
        .await
        .unwrap_or_else(|e| panic!("teachers: {e}"));
    store
        .update(&keys::teacher(7), Update::new().add("nb_sessions", 1), None)
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    // The product item is indexed too (its counters live on `PRODUCT#<id>`/`COUNTERS`).
    store
        .update(
            &keys::product(&product),
            Update::new().add("view_count", 1),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    let violations = log.violations();
    let keys: Vec<(&str, &str)> = violations
        .iter()
        .map(|v| (v.key.pk.as_str(), v.key.sk.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            (keys::video(&video).pk.as_str(), "VIDEO"),
            ("TEACHER#7", "PROFILE"),
            (keys::product(&product).pk.as_str(), "PRODUCT"),
        ]
    );
    assert_eq!(
        violations[0].index_keys,
        [shared::store::GSI1PK, shared::store::GSI2PK]
    );

    // A decorator on a bare store sees transactions too.
    let log = HotCounterLog::new();
    let bare = HotCounterStore::new(app.state.store.clone() as Arc<dyn ItemStore>, log.clone());
    bare.transact(vec![shared::store::TxOp::Update {
        key: keys::video(&video),
        update: Update::new().add("views_count", 1),
        condition: None,
    }])
    .await
    .unwrap_or_else(|e| panic!("transact: {e}"));
    assert_eq!(log.violations().len(), 1);
}

/// The A/B experiment counters (distinct users on assignment, impressions, clicks and
/// conversions) add to the arm's counter shards, which have no index keys.
#[tokio::test]
async fn the_experiment_counters_add_only_to_items_without_index_keys() {
    use shared::domain::experiments::{self, ArmEvent};
    let (app, log) = TestApp::hot_counters(ml_models_fn::router);
    let store = app.state.store.as_ref();
    shared::domain::ml_models::configs::ensure_defaults(store)
        .await
        .unwrap_or_else(|e| panic!("configs: {e}"));
    let new = experiments::parse_new(&serde_json::json!({
        "name": "x", "recommendation_type": "homepage",
        "arms": [
            {"name": "control", "config_id": "default-hybrid", "traffic_share": 50},
            {"name": "b", "config_id": "default-ease", "traffic_share": 50},
        ],
    }))
    .unwrap_or_else(|e| panic!("parse: {e:?}"));
    experiments::create(store, new, None)
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    let seeding = log.checked();
    for user in ["u1", "u2", "guest:c1"] {
        let a = experiments::assignment(store, "homepage", user)
            .await
            .unwrap_or_else(|e| panic!("assignment: {e}"))
            .unwrap_or_else(|| panic!("no arm"));
        for event in [
            ArmEvent::Impressions(10),
            ArmEvent::Click,
            ArmEvent::Conversion { revenue_cents: 500 },
        ] {
            experiments::count(store, &a.arm, event)
                .await
                .unwrap_or_else(|e| panic!("count: {e}"));
        }
    }
    // Per actor: the distinct-user ADD and three events.
    assert_eq!(log.checked() - seeding, 3 * 4);
    let violations = log.violations();
    assert!(violations.is_empty(), "{}", report(&violations));
}
