use serde_json::json;
use shared::AppState;

use crate::{Job, JobError, JobEvent, run};

fn event(file: &str) -> JobEvent {
    serde_json::from_value(raw_event(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[tokio::test]
async fn every_job_event_file_runs() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    shared::domain::teachers::put_teachers(
        state.store.as_ref(),
        &shared::domain::teachers::synthetic_population(200, 1, 5),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for job in Job::ALL {
        let ev = event(&format!("{job}.json"));
        assert_eq!(ev.job, job);
        let report = run(&state, &ev)
            .await
            .unwrap_or_else(|e| panic!("{job}: {e}"));
        assert_eq!(report["job"], job.name());
        match job {
            Job::FbtRules => assert_eq!(report["report"]["orders"], json!(0)),
            Job::VideoTrends => assert_eq!(report["report"]["ready_videos"], json!(0)),
            Job::UserClusters => {
                assert_eq!(report["report"]["total_users_processed"], json!(200))
            }
            Job::RecoTrain => {
                // No interactions: every model skipped (fbt mines the empty order list).
                let models = report["report"]["models"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(models.len(), 10);
                for m in &models {
                    let outcome = m["outcome"].as_str().unwrap_or_default();
                    assert!(
                        outcome == "skipped: not enough interactions" || m["model"] == "fbt",
                        "{m}"
                    );
                }
                // No model in force: nothing to pre-generate, and no error.
                assert_eq!(report["explanations"]["requests"], json!(0), "{report}");
                assert!(report["explanations"].get("error").is_none(), "{report}");
            }
            Job::SegmentsRefresh => {
                assert_eq!(report["report"]["segments"], json!(0), "{report}");
                assert_eq!(report["report"]["failed"], json!([]), "{report}");
            }
            Job::ExplainFill => {
                // The local backend stores the template of each of the file's three requests.
                assert_eq!(report["report"]["requested"], json!(3), "{report}");
                assert_eq!(report["report"]["local"], json!(3), "{report}");
                assert_eq!(report["report"]["written"], json!(3), "{report}");
            }
            Job::AnalyticsRebuild => {
                assert_eq!(report["report"]["orders"], json!(0), "{report}");
                assert!(report["seconds"].is_f64(), "{report}");
            }
        }
    }
}

/// `analytics-rebuild` recomputes the figures the request paths kept (and deleted rollups come
/// back); twice gives the same figures.
#[tokio::test]
async fn analytics_rebuild_restores_the_on_write_figures() {
    use shared::domain::analytics::{self, Event, report};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    let store = state.store.as_ref();
    let buyer = shared::domain::users::create(
        store,
        shared::domain::users::NewUser {
            email: "buyer@example.com".into(),
            username: None,
            first_name: "B".into(),
            last_name: "Uyer".into(),
            phone: None,
            address: None,
            is_active: true,
            roles: vec![shared::auth::Role::Customer],
            password_hash: "x".into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    analytics::record(store, analytics::user_created(&buyer))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let p = shared::fixtures::product(store, state.embedder.as_ref(), "P1", 12.5, 10).await;
    let order = shared::fixtures::place_order(store, &buyer.id, &[&p.id]).await;
    analytics::record(store, Event::OrderPlaced(&order))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let today = chrono::Utc::now().date_naive();
    let on_write = report::dashboard(store, &Default::default(), today, 30)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(on_write.orders.total_orders, 1);
    assert_eq!(on_write.users.active_users, 1);
    for _ in 0..2 {
        let r = run(&state, &JobEvent::named(Job::AnalyticsRebuild))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r["report"]["orders"], json!(1), "{r}");
        assert_eq!(r["report"]["users"], json!(1), "{r}");
        let rebuilt = report::dashboard(store, &Default::default(), today, 30)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rebuilt, on_write);
    }
}

#[tokio::test]
async fn user_clusters_needs_at_least_four_distinct_users() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        run(&state, &JobEvent::named(Job::UserClusters)).await,
        Err(JobError::Recompute(
            shared::domain::teachers::RecomputeError::TooFewUsers { users: 0, .. }
        ))
    ));
}

#[tokio::test]
async fn unknown_jobs_and_bad_parameters_are_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        "nope".parse::<Job>(),
        Err(JobError::UnknownJob(_))
    ));
    assert!(matches!(
        crate::handle(&state, json!({"job": "nope"})).await,
        Err(JobError::BadEvent(_))
    ));
    let zero = JobEvent {
        min_support_count: Some(0),
        ..JobEvent::named(Job::FbtRules)
    };
    assert!(matches!(
        run(&state, &zero).await,
        Err(JobError::InvalidParameter)
    ));
}

fn raw_event(file: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/jobs")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The S3 "Object Created" event file (EventBridge) verifies the upload it names.
#[tokio::test]
async fn an_s3_object_created_event_verifies_the_uploaded_video() {
    use shared::domain::videos::{self, VideoStatus};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    let event = raw_event("video-upload-verification.json");
    let key = event["detail"]["object"]["key"]
        .as_str()
        .unwrap_or_default();
    let id = shared::testkit::seed_pending_upload(&state, key).await;
    let id = id.as_str();
    let report = crate::handle(&state, event.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["verified"], key);
    let video = videos::get(state.store.as_ref(), id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("video gone"));
    assert_eq!(video.status, VideoStatus::Ready);
    // A second delivery of the same event changes nothing.
    let again = crate::handle(&state, event)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        again["outcome"]
            .as_str()
            .unwrap_or_default()
            .starts_with("AlreadyDone")
    );

    // Job events still run through the same entry point; garbage is an error.
    let trends = crate::handle(&state, json!({"job": "video-trends"}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(trends["report"]["ready_videos"], json!(1));
    assert!(matches!(
        crate::handle(&state, json!({"hello": 1})).await,
        Err(JobError::BadEvent(_))
    ));
    assert!(matches!(
        crate::handle(&state, json!({"source": "aws.s3", "detail": {}})).await,
        Err(JobError::BadEvent(_))
    ));
    let mut deleted = raw_event("video-upload-verification.json");
    deleted["detail-type"] = json!("Object Deleted");
    assert!(matches!(
        crate::handle(&state, deleted).await,
        Err(JobError::BadEvent(_))
    ));
}

/// Job names keep the strings events and the command line use.
#[test]
fn job_names_are_the_event_strings() {
    for (job, name) in [
        (Job::FbtRules, "fbt-rules"),
        (Job::UserClusters, "user-clusters"),
        (Job::VideoTrends, "video-trends"),
        (Job::AnalyticsRebuild, "analytics-rebuild"),
    ] {
        assert_eq!(job.name(), name);
        assert_eq!(serde_json::to_value(job).unwrap_or_default(), json!(name));
        assert_eq!(name.parse::<Job>().ok(), Some(job));
    }
}

/// The event file parses as a typed EventBridge "Object Created" event.
#[test]
fn the_s3_event_file_is_a_typed_eventbridge_event() {
    let event: aws_lambda_events::event::eventbridge::EventBridgeEvent<crate::ObjectCreated> =
        serde_json::from_value(raw_event("video-upload-verification.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event.source, "aws.s3");
    assert_eq!(event.detail_type, "Object Created");
    assert_eq!(event.detail.bucket.name, "personalization-media");
    assert_eq!(
        event.detail.object.key,
        "videos/00000000-0000-4000-8000-000000000000/video.mp4"
    );
    assert_eq!(event.detail.object.size, Some(1_048_576));
    assert_eq!(event.detail.reason.as_deref(), Some("PutObject"));
}

#[test]
fn s3_event_keys_are_url_decoded() {
    assert_eq!(
        crate::decode_s3_key("videos/a+b/c%2Bd.mp4"),
        "videos/a b/c+d.mp4"
    );
    assert_eq!(
        crate::decode_s3_key("videos/x/video.mp4"),
        "videos/x/video.mp4"
    );
}

#[tokio::test]
async fn reco_train_checks_model_names_and_waits_for_a_held_lock() {
    use shared::domain::ml_models::training;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    let bad = |names: &[&str]| JobEvent {
        models: Some(names.iter().map(|s| s.to_string()).collect()),
        ..JobEvent::named(Job::RecoTrain)
    };
    assert!(matches!(
        run(&state, &bad(&["svd"])).await,
        Err(JobError::Models(_))
    ));
    assert!(matches!(
        run(&state, &bad(&["als", "bogus"])).await,
        Err(JobError::Models(_))
    ));

    // The schedule's run while a train request's run holds the lock: nothing done.
    let store = state.store.as_ref();
    assert!(
        training::acquire_lock(store, "train_x", &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_ok()
    );
    let report = run(&state, &JobEvent::named(Job::RecoTrain))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report["skipped"]
            .as_str()
            .unwrap_or_default()
            .contains("train_x"),
        "{report}"
    );
    // The run started for that lock (the route's invocation) runs and releases it.
    let held = JobEvent {
        training_id: Some("train_x".into()),
        models: Some(vec!["lightgbm".into()]),
        ..JobEvent::named(Job::RecoTrain)
    };
    let report = run(&state, &held).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["report"]["training_id"], "train_x");
    assert_eq!(report["report"]["models"][0]["model"], "ranker");
    assert!(
        store
            .get(&shared::store::keys::training_lock())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
}

/// `reco-train` through the real registry on a synthetic interaction set (300 users x 400
/// products, 6,000 interactions in the last two hours): every model gets a run record; the
/// models this build has complete with holdout metrics, an artifact and a pointer; the report
/// gives the time of each phase (`cargo test -p jobs reco_train_on -- --nocapture` prints it).
#[tokio::test]
async fn reco_train_on_a_synthetic_interaction_set() {
    use shared::domain::interactions::{self, Actor, InteractionKind, Signal};
    use shared::domain::ml_models::training;
    use shared::reco::{model::ModelKind, synthetic};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    let now = chrono::Utc::now().timestamp();
    let generated = synthetic::generate_interactions(&synthetic::InteractionGenConfig {
        interactions: 6_000,
        users: 300,
        items: 400,
        start_timestamp: now - 7_200,
        ..Default::default()
    });
    let signals: Vec<Signal> = generated
        .iter()
        .map(|it| {
            let kind = match it.weight as i64 {
                5 => InteractionKind::Purchase,
                3 => InteractionKind::Cart,
                _ => InteractionKind::View,
            };
            let at = chrono::DateTime::from_timestamp(it.timestamp, 0).unwrap_or_default();
            Signal::new(Actor::User(it.user.clone()), it.item.clone(), kind).at(at)
        })
        .collect();
    for chunk in signals.chunks(500) {
        interactions::record(state.store.as_ref(), chunk)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let report = run(&state, &JobEvent::named(Job::RecoTrain))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    let models = report["report"]["models"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(models.len(), 10);
    let popularity = models
        .iter()
        .find(|m| m["model"] == "popularity")
        .unwrap_or_else(|| panic!("no popularity"));
    assert_eq!(popularity["outcome"], "completed", "{popularity}");
    assert!(
        popularity["metrics"]["users_evaluated"]
            .as_u64()
            .unwrap_or(0)
            > 100
    );
    for m in &models {
        let outcome = m["outcome"].as_str().unwrap_or_default();
        // Content has no product embeddings here (no catalogue): skipped, not failed.
        assert!(
            outcome == "completed"
                || outcome.contains("not available")
                || (m["model"] == "content" && outcome.starts_with("skipped: not enough data")),
            "{m}"
        );
    }
    let pointer = training::pointer(state.store.as_ref(), ModelKind::Popularity)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no pointer"));
    assert!(state.blobs.get(&pointer.blob_key).await.is_ok());
}

/// Answers each numbered item of an explanation prompt with `<n>. Model sentence <n>` (and the
/// placeholder when the item has a context).
struct Numbered;

#[async_trait::async_trait]
impl shared::ai::TextGenerator for Numbered {
    async fn generate(
        &self,
        request: shared::ai::TextRequest,
    ) -> shared::ai::AiResult<shared::ai::TextResponse> {
        let text = request
            .prompt
            .lines()
            .filter_map(|l| {
                let (n, _) = l.split_once(". product: ")?;
                let n: usize = n.parse().ok()?;
                Some(if l.contains("; context: ") {
                    format!("{n}. Model sentence {n} for {{context}} fans")
                } else {
                    format!("{n}. Model sentence {n}")
                })
            })
            .collect::<Vec<_>>()
            .join("\n");
        Ok(shared::ai::TextResponse {
            text,
            input_tokens: 1,
            output_tokens: 1,
            provenance: self.provenance(),
        })
    }

    fn provenance(&self) -> shared::ai::Provenance {
        shared::ai::Provenance {
            backend: "test".into(),
            model_id: "numbered".into(),
        }
    }
}

/// Records what an explainer queues.
#[derive(Default)]
struct Queued(std::sync::Mutex<usize>);

#[async_trait::async_trait]
impl shared::domain::explanations::queue::FillQueue for Queued {
    async fn enqueue(&self, requests: Vec<shared::domain::explanations::ExplainRequest>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += requests.len();
    }
    fn name(&self) -> &'static str {
        "queued"
    }
}

/// The `explain-fill` event file, through the Lambda entry point, writes what the next
/// recommendations response reads.
#[tokio::test]
async fn the_explain_fill_event_writes_what_the_next_response_reads() {
    use shared::domain::explanations::{ExplainRequest, Explainer};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::with_backends(
        (*base.config).clone(),
        base.store.clone(),
        base.blobs.clone(),
        base.embedder.clone(),
        Arc::new(Numbered),
        base.images.clone(),
    );
    let event = raw_event("explain-fill.json");
    let requests: Vec<ExplainRequest> =
        serde_json::from_value(event["requests"].clone()).unwrap_or_else(|e| panic!("{e}"));
    let queue = Arc::new(Queued::default());
    let explainer = Explainer::with_queue(state.store.clone(), true, queue.clone());
    // Before: templates, and all three queued.
    let before = explainer.explain(&requests).await;
    assert_eq!(before[0], "Frequently bought with iPhone 15 Pro");
    assert_eq!(before[1], "Currently trending in Electronics");
    assert_eq!(before[2], "Because you viewed Sony WH-1000XM5");
    assert_eq!(*queue.0.lock().unwrap_or_else(|e| e.into_inner()), 3);

    let report = crate::handle(&state, event)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["job"], json!("explain-fill"));
    assert_eq!(report["report"]["model_calls"], json!(1), "{report}");
    assert_eq!(report["report"]["generated"], json!(3), "{report}");

    let after = Explainer::with_queue(state.store.clone(), true, queue.clone())
        .explain(&requests)
        .await;
    assert_eq!(
        after,
        vec![
            "Model sentence 1 for iPhone 15 Pro fans",
            "Model sentence 2",
            "Model sentence 3 for Sony WH-1000XM5 fans"
        ]
    );
    // Hits queue nothing more.
    assert_eq!(*queue.0.lock().unwrap_or_else(|e| e.into_inner()), 3);
    // A second delivery of the same event generates nothing again.
    let again = crate::handle(&state, raw_event("explain-fill.json"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again["report"]["already_cached"], json!(3), "{again}");
    assert_eq!(again["report"]["model_calls"], json!(0), "{again}");
}

/// `reco-train` pre-generates the explanations of the top items of the models it switched in,
/// unless `EXPLANATIONS=template`.
#[tokio::test]
async fn reco_train_pregenerates_the_explanations_of_the_top_items() {
    use shared::domain::interactions::{self, Actor, InteractionKind, Signal};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    let store = state.store.as_ref();
    let mut signals = Vec::new();
    for (i, code) in ["A1", "B2", "C3"].into_iter().enumerate() {
        let p = shared::fixtures::product(store, state.embedder.as_ref(), code, 10.0, 5).await;
        for u in 0..(10 - 2 * i) {
            signals.push(Signal::new(
                Actor::User(format!("u{u}")),
                p.id.clone(),
                InteractionKind::View,
            ));
        }
    }
    interactions::record(store, &signals)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let event = JobEvent {
        models: Some(vec!["popularity".into()]),
        ..JobEvent::named(Job::RecoTrain)
    };
    let report = run(&state, &event).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["report"]["models"][0]["outcome"], json!("completed"));
    // The three products of the popularity model, stored by the local backend.
    assert_eq!(report["explanations"]["requests"], json!(3), "{report}");
    assert_eq!(
        report["explanations"]["fill"]["local"],
        json!(3),
        "{report}"
    );

    let mut config = (*state.config).clone();
    config.explanations_from_model = false;
    let off = AppState {
        config: std::sync::Arc::new(config),
        ..state
    };
    let report = run(&off, &event).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["explanations"], json!("off (EXPLANATIONS=template)"));
}

/// `segments-refresh` recomputes the auto-updating segments from the features; `reco-train`
/// with `kmeans` generates the RFM segments from the orders.
#[tokio::test]
async fn segments_refresh_and_kmeans_training_make_segments() {
    use shared::domain::segments::{features, membership, records};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    let store = state.store.as_ref();
    let s = records::new_segment(
        "Spent 10".into(),
        None,
        "rfm",
        json!({"monetary_amount": {"min": 10}}),
        true,
    );
    records::create(store, &s)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // Features written directly (no re-evaluation): only the job makes them members.
    for (u, cents) in [("a", 2_000), ("b", 500), ("c", 5_000)] {
        features::record_order(store, u, cents, chrono::Utc::now(), 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let report = run(&state, &JobEvent::named(Job::SegmentsRefresh))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["report"]["segments"], json!(1), "{report}");
    assert_eq!(report["report"]["members"], json!(2), "{report}");
    let names = |u: &'static str| async move {
        membership::segments_of_user(store, u)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len()
    };
    assert_eq!(
        (names("a").await, names("b").await, names("c").await),
        (1, 0, 1)
    );

    let embedder = state.embedder.as_ref();
    let p = shared::fixtures::product(store, embedder, "K1", 40.0, 100).await;
    let q = shared::fixtures::product(store, embedder, "K2", 400.0, 100).await;
    for i in 0..6 {
        let (user, _) = (format!("buyer{i}"), ());
        let u = shared::domain::users::create(
            store,
            shared::domain::users::NewUser {
                email: format!("{user}@example.com"),
                username: None,
                first_name: user.clone(),
                last_name: "K".into(),
                phone: None,
                address: None,
                is_active: true,
                roles: vec![shared::auth::Role::Customer],
                password_hash: "x".into(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let product = if i % 2 == 0 { &p.id } else { &q.id };
        for _ in 0..=(i % 3) {
            shared::fixtures::place_order(store, &u.id, &[product]).await;
        }
    }
    let mut event = JobEvent::named(Job::RecoTrain);
    event.models = Some(vec!["kmeans".into()]);
    let report = run(&state, &event).await.unwrap_or_else(|e| panic!("{e}"));
    let models = report["report"]["models"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(models.len(), 1, "{report}");
    assert_eq!(models[0]["model"], "kmeans");
    assert_eq!(models[0]["outcome"], "completed", "{report}");
    let rfm: Vec<_> = records::list(store)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|s| s.rfm_cluster.is_some())
        .collect();
    assert_eq!(rfm.len(), 5, "the default config's n_clusters");
}
