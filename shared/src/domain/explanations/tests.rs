//! The explainer, the fill and the pre-generation on the in-memory store, with scripted text
//! generators (one that answers each numbered item, one that sleeps, one that fails).
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};

use super::cache::{self, FALLBACK_TTL_SECS, MODEL_TTL_SECS};
use super::fill::{self, FillLimits, PregenerateLimits};
use super::queue::{self, FillQueue};
use super::*;
use crate::ai::{AiError, AiResult, Provenance, TextGenerator, TextRequest, TextResponse};
use crate::reco::algorithm::Algorithm;
use crate::reco::explain::{cache_id, template};
use crate::store::{EXPIRES_AT, Item, ItemStore, PK, SK, keys, local::LocalStore};
use crate::testkit::faulty::{Call, Fault, Faulty};

// ---- scripted generators ----------------------------------------------------------------------

/// Answers every numbered item of the prompt with `<n>. Picked for you: <product>` (plus
/// ` with {context}` when the item has a context); counts its calls.
#[derive(Default)]
struct Echo {
    calls: AtomicUsize,
    /// Item numbers (1-based, within a prompt) answered with an unusable line.
    garble: Vec<usize>,
}

fn provenance() -> Provenance {
    Provenance {
        backend: "test".into(),
        model_id: "test-model".into(),
    }
}

#[async_trait]
impl TextGenerator for Echo {
    async fn generate(&self, request: TextRequest) -> AiResult<TextResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut lines = vec!["Sure! Here they are:".to_string()];
        for line in request.prompt.lines() {
            let Some((n, rest)) = line.split_once(". product: \"") else {
                continue;
            };
            let Ok(n) = n.parse::<usize>() else { continue };
            let name = rest.split('"').next().unwrap_or_default();
            if self.garble.contains(&n) {
                lines.push(format!("{n}. {}", "x".repeat(500)));
            } else if line.contains("; context: ") {
                lines.push(format!("{n}. Picked for you: {name} with {{context}}"));
            } else {
                lines.push(format!("{n}. Picked for you: {name}"));
            }
        }
        Ok(TextResponse {
            text: lines.join("\n"),
            input_tokens: 1,
            output_tokens: 1,
            provenance: provenance(),
        })
    }

    fn provenance(&self) -> Provenance {
        provenance()
    }
}

/// Sleeps, then fails (a hung or throttled model).
struct Stuck {
    sleep: Duration,
    error: fn() -> AiError,
    calls: AtomicUsize,
}

impl Stuck {
    fn new(sleep: Duration, error: fn() -> AiError) -> Self {
        Self {
            sleep,
            error,
            calls: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl TextGenerator for Stuck {
    async fn generate(&self, _request: TextRequest) -> AiResult<TextResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.sleep).await;
        Err((self.error)())
    }

    fn provenance(&self) -> Provenance {
        provenance()
    }
}

// ---- a store that counts batch gets and can be slow --------------------------------------------

/// The in-memory store behind a [`Faulty`] that counts batch gets and delays reads by `delay`.
fn counting(delay: Duration) -> (Arc<Faulty>, Arc<AtomicUsize>) {
    let batch_gets = Arc::new(AtomicUsize::new(0));
    let counted = batch_gets.clone();
    let inner: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
    let store = Faulty::new(inner, move |call| {
        if matches!(call, Call::BatchGet(_)) {
            counted.fetch_add(1, Ordering::SeqCst);
        }
        (matches!(call, Call::Get(_) | Call::BatchGet(_)) && !delay.is_zero())
            .then_some(Fault::Delay(delay))
    });
    (Arc::new(store), batch_gets)
}

/// A queue that only records what it is given.
#[derive(Default)]
struct Recorded {
    batches: Mutex<Vec<Vec<ExplainRequest>>>,
}

#[async_trait]
impl FillQueue for Recorded {
    async fn enqueue(&self, requests: Vec<ExplainRequest>) {
        self.batches.lock().unwrap().push(requests);
    }
    fn name(&self) -> &'static str {
        "recorded"
    }
}

impl Recorded {
    fn all(&self) -> Vec<Vec<ExplainRequest>> {
        self.batches.lock().unwrap().clone()
    }
}

// ---- helpers -------------------------------------------------------------------------------------

fn req(product: &str, algorithm: Algorithm, context: Option<&str>) -> ExplainRequest {
    ExplainRequest {
        algorithm,
        reason: "users_also_bought".into(),
        product_id: product.into(),
        product_name: format!("Product {product}"),
        category: Some("Audio".into()),
        context: context.map(Into::into),
    }
}

fn memory() -> Arc<dyn ItemStore> {
    Arc::new(LocalStore::in_memory().unwrap())
}

async fn stored(store: &dyn ItemStore, r: &ExplainRequest) -> Option<Item> {
    store.get(&keys::explanation(&cache_id(r))).await.unwrap()
}

/// Waits (up to 5 s) until `r`'s explanation is cached.
async fn until_cached(store: &dyn ItemStore, r: &ExplainRequest) -> Item {
    let start = Instant::now();
    loop {
        if let Some(item) = stored(store, r).await {
            return item;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "never cached: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn put_entry(store: &dyn ItemStore, r: &ExplainRequest, text: &str, expires_at: i64) {
    let key = keys::explanation(&cache_id(r));
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("text".into(), text.into());
    item.insert(EXPIRES_AT.into(), expires_at.into());
    store.put(item, None).await.unwrap();
}

// ---- the explainer ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_miss_gets_the_template_at_once_and_the_fill_makes_the_next_request_a_hit() {
    let store = memory();
    let echo = Arc::new(Echo::default());
    let explainer = Explainer::local(Arc::clone(&store), echo.clone());
    let requests = vec![
        req("a", Algorithm::Fbt, Some("iPhone 15 Pro")),
        req("b", Algorithm::Trending, None),
    ];
    let first = explainer.explain(&requests).await;
    assert_eq!(
        first,
        vec![
            "Frequently bought with iPhone 15 Pro",
            "Currently trending in Audio"
        ]
    );
    let a = until_cached(store.as_ref(), &requests[0]).await;
    until_cached(store.as_ref(), &requests[1]).await;
    assert_eq!(a["text"], json!("Picked for you: Product a with {context}"));
    assert_eq!(a["source"], json!("model"));
    assert_eq!(a["model_id"], json!("test-model"));
    assert_eq!(a["prompt_version"], json!("v1"));
    // One prompt for both.
    assert_eq!(echo.calls.load(Ordering::SeqCst), 1);

    let second = explainer.explain(&requests).await;
    assert_eq!(
        second,
        vec![
            "Picked for you: Product a with iPhone 15 Pro",
            "Picked for you: Product b"
        ]
    );
    // The cached sentence serves another context item of the same key.
    let other = vec![req("a", Algorithm::Fbt, Some("Pixel 9"))];
    assert_eq!(
        explainer.explain(&other).await,
        vec!["Picked for you: Product a with Pixel 9"]
    );
    assert_eq!(echo.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_response_is_read_in_one_batch_get_and_hits_queue_nothing() {
    let (store, batch_gets) = counting(Duration::ZERO);
    let queue = Arc::new(Recorded::default());
    let explainer = Explainer::with_queue(store.clone(), true, queue.clone());
    let requests: Vec<ExplainRequest> = (0..10)
        .map(|i| req(&format!("p{i}"), Algorithm::CollaborativeFiltering, None))
        .collect();
    let far = Utc::now().timestamp() + 3600;
    for r in &requests {
        put_entry(store.as_ref(), r, &format!("Cached {}", r.product_id), far).await;
    }
    let got = explainer.explain(&requests).await;
    assert_eq!(got[0], "Cached p0");
    assert_eq!(got[9], "Cached p9");
    assert_eq!(batch_gets.load(Ordering::SeqCst), 1);
    assert!(queue.all().is_empty());
}

#[tokio::test]
async fn an_expired_entry_is_a_miss() {
    let store = memory();
    let queue = Arc::new(Recorded::default());
    let explainer = Explainer::with_queue(Arc::clone(&store), true, queue.clone());
    let fresh = req("fresh", Algorithm::Popular, None);
    let old = req("old", Algorithm::Popular, None);
    let now = Utc::now().timestamp();
    put_entry(store.as_ref(), &fresh, "Still good", now + 60).await;
    put_entry(store.as_ref(), &old, "Stale", now - 1).await;
    let got = explainer.explain(&[fresh.clone(), old.clone()]).await;
    assert_eq!(got, vec!["Still good".to_string(), template(&old)]);
    assert_eq!(queue.all(), vec![vec![old]]);
}

#[tokio::test]
async fn each_key_is_queued_once_per_response_and_not_again_by_the_instance() {
    let store = memory();
    let queue = Arc::new(Recorded::default());
    let explainer = Explainer::with_queue(Arc::clone(&store), true, queue.clone());
    // Same key (the context item is not part of it), twice.
    let a1 = req("a", Algorithm::Fbt, Some("Phone 1"));
    let a2 = req("a", Algorithm::Fbt, Some("Phone 2"));
    let b = req("b", Algorithm::Fbt, None);
    let got = explainer.explain(&[a1.clone(), a2, b.clone()]).await;
    assert_eq!(got[1], "Frequently bought with Phone 2");
    assert_eq!(queue.all(), vec![vec![a1.clone(), b.clone()]]);
    // Still missing on the next response, but already on its way: not queued again.
    explainer.explain(&[a1, b]).await;
    assert_eq!(queue.all().len(), 1);
}

#[tokio::test]
async fn one_response_queues_at_most_the_bound() {
    let store = memory();
    let queue = Arc::new(Recorded::default());
    let explainer = Explainer::with_queue(Arc::clone(&store), true, queue.clone());
    let requests: Vec<ExplainRequest> = (0..MAX_QUEUED_PER_RESPONSE + 10)
        .map(|i| req(&format!("p{i}"), Algorithm::Trending, None))
        .collect();
    explainer.explain(&requests).await;
    let first = queue.all();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].len(), MAX_QUEUED_PER_RESPONSE);
    // The ones left out were not marked as queued: the next response queues them.
    explainer.explain(&requests).await;
    let all = queue.all();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].len(), 10);
    assert_eq!(all[1][0].product_id, format!("p{MAX_QUEUED_PER_RESPONSE}"));
}

#[tokio::test]
async fn the_template_switch_reads_and_queues_nothing() {
    let (store, batch_gets) = counting(Duration::ZERO);
    let queue = Arc::new(Recorded::default());
    let explainer = Explainer::with_queue(store.clone(), false, queue.clone());
    let r = req("a", Algorithm::NewArrivals, None);
    put_entry(store.as_ref(), &r, "Cached", Utc::now().timestamp() + 60).await;
    assert_eq!(explainer.explain(&[r]).await, vec!["New arrival in Audio"]);
    assert_eq!(batch_gets.load(Ordering::SeqCst), 0);
    assert!(queue.all().is_empty());
    // And from the config.
    let dir = tempfile::tempdir().unwrap();
    let mut app = crate::AppState::for_tests(dir.path().to_path_buf()).unwrap();
    assert!(app.config.explanations_from_model);
    let mut config = (*app.config).clone();
    config.explanations_from_model = false;
    app.config = Arc::new(config);
    assert!(!Explainer::new(&app).from_model);
}

#[tokio::test]
async fn a_slow_or_failing_model_never_delays_explain() {
    for error in [
        (|| AiError::Throttled) as fn() -> AiError,
        || AiError::Timeout,
        || AiError::Model("boom".into()),
    ] {
        let store = memory();
        let stuck = Arc::new(Stuck::new(Duration::from_secs(5), error));
        let explainer = Explainer::local(Arc::clone(&store), stuck.clone());
        for round in 0..3 {
            let requests: Vec<ExplainRequest> = (0..20)
                .map(|i| req(&format!("r{round}p{i}"), Algorithm::Popular, None))
                .collect();
            let start = Instant::now();
            let got = explainer.explain(&requests).await;
            assert!(
                start.elapsed() < Duration::from_millis(500),
                "explain took {:?}",
                start.elapsed()
            );
            assert_eq!(got[0], "Popular in Audio");
        }
        // The worker is stuck in the model call, and nothing was cached.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(stuck.calls.load(Ordering::SeqCst), 1);
        assert!(
            stored(store.as_ref(), &req("r0p0", Algorithm::Popular, None))
                .await
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_slow_cache_read_serves_the_templates() {
    let (store, _) = counting(Duration::from_secs(3));
    let queue = Arc::new(Recorded::default());
    let explainer = Explainer::with_queue(store.clone(), true, queue.clone());
    let r = req("a", Algorithm::Trending, None);
    let start = Instant::now();
    assert_eq!(
        explainer.explain(std::slice::from_ref(&r)).await,
        vec![template(&r)]
    );
    assert!(start.elapsed() < READ_TIMEOUT + Duration::from_millis(400));
    // Unknown whether cached: nothing queued.
    assert!(queue.all().is_empty());
}

#[tokio::test]
async fn an_empty_response_reads_nothing() {
    let (store, batch_gets) = counting(Duration::ZERO);
    let explainer = Explainer::with_queue(store.clone(), true, Arc::new(Recorded::default()));
    assert!(explainer.explain(&[]).await.is_empty());
    assert_eq!(batch_gets.load(Ordering::SeqCst), 0);
}

// ---- the fill ----------------------------------------------------------------------------------

fn ttl_of(item: &Item) -> i64 {
    item[EXPIRES_AT].as_i64().unwrap() - Utc::now().timestamp()
}

#[tokio::test]
async fn the_fill_batches_prompts_and_falls_back_per_item() {
    let store = memory();
    // Item 2 of every prompt is unusable.
    let echo = Echo {
        garble: vec![2],
        ..Echo::default()
    };
    let requests: Vec<ExplainRequest> = (0..45)
        .map(|i| req(&format!("p{i}"), Algorithm::Trending, None))
        .collect();
    let mut twice = requests.clone();
    twice.extend(requests.clone());
    let report = fill::fill(store.as_ref(), &echo, &twice, FillLimits::default()).await;
    assert_eq!(report.requested, 90);
    assert_eq!(report.distinct, 45);
    // 20 + 20 + 5.
    assert_eq!(report.model_calls, 3);
    assert_eq!(echo.calls.load(Ordering::SeqCst), 3);
    assert_eq!(report.fallback, 3);
    assert_eq!(report.generated, 42);
    assert_eq!(report.written, 45);

    let good = stored(store.as_ref(), &requests[0]).await.unwrap();
    assert_eq!(good["text"], json!("Picked for you: Product p0"));
    assert!((MODEL_TTL_SECS - 5..=MODEL_TTL_SECS).contains(&ttl_of(&good)));
    // The second item of the second prompt (index 21) fell back to the template for a day.
    let bad = stored(store.as_ref(), &requests[21]).await.unwrap();
    assert_eq!(bad["text"], json!("Currently trending in Audio"));
    assert_eq!(bad["source"], json!("template"));
    assert!((FALLBACK_TTL_SECS - 5..=FALLBACK_TTL_SECS).contains(&ttl_of(&bad)));

    // Everything cached now: a second fill calls no model.
    let again = fill::fill(store.as_ref(), &echo, &requests, FillLimits::default()).await;
    assert_eq!(again.already_cached, 45);
    assert_eq!(again.model_calls, 0);
    assert_eq!(echo.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn the_fill_stops_after_a_throttle_and_bounds_slow_calls_and_its_size() {
    let store = memory();
    let requests: Vec<ExplainRequest> = (0..45)
        .map(|i| req(&format!("p{i}"), Algorithm::Popular, None))
        .collect();
    let throttled = Stuck::new(Duration::ZERO, || AiError::Throttled);
    let report = fill::fill(store.as_ref(), &throttled, &requests, FillLimits::default()).await;
    assert_eq!(throttled.calls.load(Ordering::SeqCst), 1);
    assert_eq!((report.failed, report.written), (45, 0));

    let slow = Stuck::new(Duration::from_secs(10), || AiError::Timeout);
    let limits = FillLimits {
        max_requests: 30,
        model_timeout: Duration::from_millis(50),
    };
    let start = Instant::now();
    let report = fill::fill(store.as_ref(), &slow, &requests, limits).await;
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(report.dropped, 15);
    assert_eq!(report.model_calls, 2);
    assert_eq!((report.failed, report.written), (30, 0));
}

#[tokio::test]
async fn the_local_backend_stores_the_templates() {
    let store = memory();
    let local = crate::ai::local::LocalText::new();
    let r = req("a", Algorithm::Fbt, Some("Kindle"));
    let report = fill::fill(
        store.as_ref(),
        &local,
        std::slice::from_ref(&r),
        FillLimits::default(),
    )
    .await;
    assert_eq!(
        (report.local, report.model_calls, report.written),
        (1, 0, 1)
    );
    let item = stored(store.as_ref(), &r).await.unwrap();
    assert_eq!(item["text"], json!("Frequently bought with {context}"));
    assert_eq!(item["source"], json!("local"));
    assert_eq!(item["model_id"], json!(crate::ai::local::TEXT_MODEL_ID));
}

#[test]
fn the_fill_event_round_trips_the_requests() {
    let r = req("a", Algorithm::ItemSimilarity, Some("Kindle"));
    let event = queue::fill_event(std::slice::from_ref(&r));
    assert_eq!(event["job"], json!("explain-fill"));
    assert_eq!(event["requests"][0]["algorithm"], json!("item_similarity"));
    let back: Vec<ExplainRequest> = serde_json::from_value(event["requests"].clone()).unwrap();
    assert_eq!(back, vec![r]);
    // Optional fields may be left out.
    let minimal: ExplainRequest = serde_json::from_value(json!({
        "algorithm": "popular", "reason": "popular", "product_id": "p", "product_name": "P"
    }))
    .unwrap();
    assert_eq!((minimal.category, minimal.context), (None, None));
}

#[tokio::test]
async fn cache_reads_skip_entries_without_text() {
    let store = memory();
    let r = req("a", Algorithm::Popular, None);
    let key = keys::explanation(&cache_id(&r));
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("text".into(), Value::Null);
    store.put(item, None).await.unwrap();
    assert!(
        cache::read(store.as_ref(), &[cache_id(&r)])
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- pre-generation ------------------------------------------------------------------------------

#[tokio::test]
async fn pregeneration_explains_the_top_items_of_the_models_in_force() {
    use crate::domain::interactions::{self, Actor, InteractionKind, Signal};
    use crate::domain::ml_models::training;
    use crate::reco::model::ModelKind;

    let dir = tempfile::tempdir().unwrap();
    let app = crate::AppState::for_tests(dir.path().to_path_buf()).unwrap();
    let store = app.store.as_ref();
    let mut products = Vec::new();
    for code in ["A1", "B2", "C3", "D4"] {
        products.push(crate::fixtures::product(store, app.embedder.as_ref(), code, 10.0, 5).await);
    }
    // Product i viewed by 8 - 2i users: A1 is the most popular.
    let mut signals = Vec::new();
    for (i, p) in products.iter().enumerate() {
        for u in 0..(8 - 2 * i) {
            signals.push(Signal::new(
                Actor::User(format!("u{u}")),
                p.id.clone(),
                InteractionKind::View,
            ));
        }
    }
    interactions::record(store, &signals).await.unwrap();
    let report = training::run_locked(
        Arc::clone(&app.store),
        Arc::clone(&app.blobs),
        None,
        &[ModelKind::Popularity],
        training::registry_fit(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.models[0].outcome, "completed", "{report:?}");

    let echo = Echo::default();
    let limits = PregenerateLimits {
        top: 2,
        ..PregenerateLimits::default()
    };
    let got = fill::pregenerate(store, app.blobs.as_ref(), &echo, limits).await;
    assert_eq!(got.error, None);
    assert_eq!(got.requests, 2);
    assert_eq!(got.fill.generated, 2);
    let top = ExplainRequest {
        algorithm: Algorithm::Popular,
        reason: "popular".into(),
        product_id: products[0].id.clone(),
        product_name: "Product A1".into(),
        category: Some("Things".into()),
        context: None,
    };
    let explainer = Explainer::with_queue(app.store.clone(), true, Arc::new(Recorded::default()));
    assert_eq!(
        explainer.explain(&[top]).await,
        vec!["Picked for you: Product A1"]
    );
}

#[tokio::test]
async fn pregeneration_without_models_or_with_a_failing_model_never_fails() {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::AppState::for_tests(dir.path().to_path_buf()).unwrap();
    let failing = Stuck::new(Duration::ZERO, || AiError::Model("down".into()));
    let got = fill::pregenerate(
        app.store.as_ref(),
        app.blobs.as_ref(),
        &failing,
        PregenerateLimits::default(),
    )
    .await;
    assert_eq!((got.requests, got.error), (0, None));
    // A budget that runs out (here: a slow store) is reported, not raised.
    let (slow_store, _) = counting(Duration::from_secs(5));
    let start = Instant::now();
    let got = fill::pregenerate(
        slow_store.as_ref(),
        app.blobs.as_ref(),
        &failing,
        PregenerateLimits {
            total_timeout: Duration::from_millis(100),
            ..PregenerateLimits::default()
        },
    )
    .await;
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(got.error.unwrap().starts_with("stopped after"));
}

// ---- the Lambda queue against a fake Lambda endpoint ---------------------------------------------

/// What the fake Lambda endpoint received: (path, `x-amz-invocation-type`, body).
type Invocations = Arc<Mutex<Vec<(String, String, Value)>>>;

async fn fake_lambda(delay: Duration) -> (String, Invocations) {
    use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, http::Uri};
    let seen: Invocations = Arc::default();
    let app = axum::Router::new()
        .fallback(
            |State((seen, delay)): State<(Invocations, Duration)>,
             uri: Uri,
             headers: HeaderMap,
             body: Bytes| async move {
                let kind = headers
                    .get("x-amz-invocation-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                seen.lock()
                    .unwrap()
                    .push((uri.path().to_string(), kind, body));
                tokio::time::sleep(delay).await;
                StatusCode::ACCEPTED
            },
        )
        .with_state((seen.clone(), delay));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

fn lambda_client(url: &str) -> aws_sdk_lambda::Client {
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::from_keys("AKIDFAKE", "fake-secret", None))
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

#[tokio::test]
async fn the_lambda_queue_invokes_the_jobs_function_asynchronously_with_the_fill_event() {
    let (url, seen) = fake_lambda(Duration::ZERO).await;
    let queue = Arc::new(queue::LambdaFillQueue::with_client(
        "jobs-fn",
        lambda_client(&url),
    ));
    let explainer = Explainer::with_queue(memory(), true, queue);
    let requests = vec![
        req("a", Algorithm::Fbt, Some("iPhone")),
        req("b", Algorithm::Trending, None),
    ];
    explainer.explain(&requests).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (path, kind, body) = &seen[0];
    assert_eq!(path, "/2015-03-31/functions/jobs-fn/invocations");
    assert_eq!(kind, "Event");
    assert_eq!(body, &queue::fill_event(&requests));
}

#[tokio::test]
async fn a_slow_lambda_invocation_is_cut_at_its_budget() {
    let (url, seen) = fake_lambda(Duration::from_secs(5)).await;
    let queue = Arc::new(queue::LambdaFillQueue::with_client(
        "jobs-fn",
        lambda_client(&url),
    ));
    let explainer = Explainer::with_queue(memory(), true, queue);
    let r = req("a", Algorithm::Popular, None);
    let start = Instant::now();
    let got = explainer.explain(std::slice::from_ref(&r)).await;
    assert_eq!(got, vec![template(&r)]);
    assert!(
        start.elapsed() < queue::INVOKE_TIMEOUT + Duration::from_millis(700),
        "{:?}",
        start.elapsed()
    );
    assert!(!seen.lock().unwrap().is_empty());
}
