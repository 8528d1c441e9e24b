//! Router tests: the offline adapter end to end, bad input, expiry, and the model adapter with a
//! fake `TextGenerator` (cache, chunk order, concurrency bound, throttling, model errors).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use serde_json::{Value, json};
use shared::{
    ai::{AiError, AiResult, Provenance, TextGenerator, TextRequest, TextResponse},
    config::AiBackend,
    store::{self, Update},
    testkit::TestApp,
};

use crate::{
    keys, markdown, router, router_with_settings, sample_tests::SAMPLES,
    sessions::PersonalizationSession, settings::Settings,
};

const PERSONALIZE: &str = "/api/personalization/personalize";
const CHANGE: &str = "/api/personalization/change-difficulty";
const TOGGLE: &str = "/api/personalization/toggle-original";

fn robotics() -> &'static str {
    SAMPLES[0].1
}

fn body(session: &str, level: &str) -> Value {
    json!({"session_id": session, "chapter_content": robotics(), "difficulty_level": level,
           "chapter_id": "intro-robotics"})
}

fn test_settings() -> Settings {
    Settings {
        max_content_bytes: 4000,
        throttle_backoff: Duration::from_millis(1),
        ..Settings::default()
    }
}

fn offline_app() -> TestApp {
    let mut app = TestApp::new(router);
    app.router = router_with_settings(app.state.clone(), test_settings());
    app
}

/// An app whose configuration says `AI=bedrock`, with `text` as the model.
fn model_app(text: Arc<dyn TextGenerator>, settings: Settings) -> TestApp {
    let mut app = TestApp::new(router);
    let mut config = (*app.state.config).clone();
    config.ai = AiBackend::Bedrock;
    app.state.config = Arc::new(config);
    app.state.text = text;
    app.router = router_with_settings(app.state.clone(), settings);
    app
}

async fn stored(app: &TestApp, session: &str) -> Option<PersonalizationSession> {
    let item = app
        .state
        .store
        .get(&keys::session(session))
        .await
        .unwrap_or_else(|e| panic!("store: {e}"))?;
    Some(store::from_item(item).unwrap_or_else(|e| panic!("session item: {e}")))
}

fn char_offset(text: &str, needle: &str) -> u64 {
    let byte = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in text"));
    markdown::byte_to_char(text, byte) as u64
}

fn starts_at(text: &str, position: &Value) -> String {
    let pos = position
        .as_u64()
        .unwrap_or_else(|| panic!("position {position}"));
    let byte = markdown::char_to_byte(text, pos as usize);
    text[byte..].chars().take(30).collect()
}

// ---------------------------------------------------------------------------------------------
// Offline adapter, end to end

#[tokio::test]
async fn personalize_change_toggle_delete_with_the_offline_adapter() {
    let app = offline_app();
    let r = app
        .call("POST", PERSONALIZE, None, Some(body("s1", "beginner")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["session_id"], "s1");
    assert_eq!(r.json["chapter_id"], "intro-robotics");
    assert_eq!(r.json["difficulty_level"], "beginner");
    assert_eq!(r.json["backend"], "local");
    assert_eq!(r.json["model_id"], "textbook-offline-rules-v1");
    assert_eq!(r.json["cached"], false);
    assert_eq!(r.json["reading_position"], 0);
    assert!(
        r.json["timestamp"]
            .as_str()
            .is_some_and(|t| t.contains('T'))
    );
    let text = r.json["personalized_content"].as_str().unwrap_or_default();
    assert!(text.contains("## Key ideas") && text.contains("## Glossary"));
    let grade = |v: &Value, which: &str| {
        v["readability"][which]["flesch_kincaid_grade"]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    assert!(
        grade(&r.json, "returned") < grade(&r.json, "original"),
        "{}",
        r.json["readability"]
    );

    // The same chapter at the same level in another session comes from the cache.
    let other = app
        .call("POST", PERSONALIZE, None, Some(body("s2", "beginner")))
        .await;
    assert_eq!(other.json["cached"], true);
    assert_eq!(
        other.json["personalized_content"],
        r.json["personalized_content"]
    );

    let adv = app
        .call(
            "POST",
            CHANGE,
            None,
            Some(json!({"session_id": "s1", "difficulty_level": "advanced"})),
        )
        .await;
    assert_eq!(adv.status, 200, "{}", adv.text);
    assert_eq!(adv.json["difficulty_level"], "advanced");
    assert_eq!(adv.json["cached"], false);
    assert!(grade(&adv.json, "returned") >= grade(&adv.json, "original"));
    let back = app
        .call(
            "POST",
            CHANGE,
            None,
            Some(json!({"session_id": "s1", "difficulty_level": "beginner"})),
        )
        .await;
    assert_eq!(
        back.json["cached"], true,
        "a level already made costs nothing"
    );

    let t = app
        .call("POST", TOGGLE, None, Some(json!({"session_id": "s1"})))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.json["original_content"], robotics());
    assert_eq!(
        t.json["readability"]["returned"],
        t.json["readability"]["original"]
    );
    let s = stored(&app, "s1")
        .await
        .unwrap_or_else(|| panic!("session"));
    assert!(s.showing_original);
    assert_eq!(s.difficulty_level.as_str(), "beginner");

    let d = app
        .call("DELETE", "/api/personalization/session/s1", None, None)
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(
        d.json,
        json!({"message": "Session cleared successfully", "session_id": "s1"})
    );
    assert!(stored(&app, "s1").await.is_none());
    let again = app
        .call("DELETE", "/api/personalization/session/s1", None, None)
        .await;
    assert_eq!(again.status, 404);
    assert_eq!(again.json["error_code"], "session_not_found");
}

#[tokio::test]
async fn sessions_persist_the_spec_fields_and_preferences() {
    let app = offline_app();
    let mut b = body("p1", "intermediate");
    b["preferred_format"] = json!("visual");
    b["content_focus"] = json!("control loops");
    b["reading_position"] = json!(12);
    let r = app.call("POST", PERSONALIZE, None, Some(b)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["preferences"]["preferred_format"], "visual");
    let item = app
        .state
        .store
        .get(&keys::session("p1"))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("session item"));
    for field in [
        "session_id",
        "difficulty_level",
        "original_content",
        "personalized_content",
        "chapter_id",
        "created_at",
        "last_accessed",
        "reading_position",
        "expires_at",
    ] {
        assert!(item.contains_key(field), "{field}");
    }
    assert_eq!(item["preferences"]["content_focus"], "control loops");
    assert_eq!(item["preferences"]["difficulty_level"], "intermediate");
    let ttl =
        item["expires_at"].as_i64().unwrap_or(0) - item["last_accessed"].as_i64().unwrap_or(0);
    assert_eq!(ttl, 3600);

    // A later change keeps the preferences it does not override.
    let c = app
        .call(
            "POST",
            CHANGE,
            None,
            Some(json!({"session_id": "p1", "difficulty_level": "beginner", "content_focus": "sensors"})),
        )
        .await;
    assert_eq!(c.json["preferences"]["preferred_format"], "visual");
    assert_eq!(c.json["preferences"]["content_focus"], "sensors");
}

#[tokio::test]
async fn reading_position_follows_the_paragraph_across_levels() {
    let app = offline_app();
    let md = robotics();
    let mut b = body("r1", "beginner");
    b["reading_position"] = json!(char_offset(md, "Feedback control of this kind") + 10);
    let r = app.call("POST", PERSONALIZE, None, Some(b)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let beginner = r.json["personalized_content"].as_str().unwrap_or_default();
    assert_eq!(r.json["position"]["section"], "Control");
    assert!(starts_at(beginner, &r.json["reading_position"]).starts_with("Feedback control"));

    let adv = app
        .call(
            "POST",
            CHANGE,
            None,
            Some(json!({"session_id": "r1", "difficulty_level": "advanced",
                        "reading_position": r.json["reading_position"]})),
        )
        .await;
    let advanced = adv.json["personalized_content"]
        .as_str()
        .unwrap_or_default();
    assert!(starts_at(advanced, &adv.json["reading_position"]).starts_with("Feedback control"));

    // Without a position, the stored one is used; toggle maps it into the original.
    let t = app
        .call("POST", TOGGLE, None, Some(json!({"session_id": "r1"})))
        .await;
    assert_eq!(
        t.json["reading_position"],
        json!(char_offset(md, "Feedback control of this kind"))
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[tokio::test]
async fn bad_input_is_rejected_with_the_spec_error_types() {
    let app = offline_app();
    let check = |r: &shared::testkit::TestResponse, status: u16, code: &str| {
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(r.json["error_code"], code, "{}", r.text);
    };

    let mut bad = body("b1", "expert");
    let r = app.call("POST", PERSONALIZE, None, Some(bad.clone())).await;
    check(&r, 400, "invalid_difficulty");
    bad["difficulty_level"] = json!("Advanced ");
    let ok = app.call("POST", PERSONALIZE, None, Some(bad)).await;
    assert_eq!(ok.status, 200, "levels are case-insensitive: {}", ok.text);

    for field in [
        "session_id",
        "chapter_content",
        "difficulty_level",
        "chapter_id",
    ] {
        let mut b = body("b2", "beginner");
        b.as_object_mut().map(|m| m.remove(field));
        let r = app.call("POST", PERSONALIZE, None, Some(b)).await;
        check(&r, 400, "missing_required_field");
        assert_eq!(r.json["field_errors"][0]["field"], field);
        assert!(r.json["detail"].as_str().is_some_and(|d| d.contains(field)));
    }
    let r = app
        .call("POST", CHANGE, None, Some(json!({"session_id": "b1"})))
        .await;
    check(&r, 400, "missing_required_field");
    assert_eq!(r.json["field_errors"][0]["field"], "difficulty_level");
    let r = app.call("POST", TOGGLE, None, Some(json!({}))).await;
    check(&r, 400, "missing_required_field");

    let mut empty = body("b3", "beginner");
    empty["chapter_content"] = json!("   \n ");
    let r = app.call("POST", PERSONALIZE, None, Some(empty)).await;
    check(&r, 400, "missing_required_field");
    assert_eq!(r.json["field_errors"][0]["field"], "chapter_content");

    let mut big = body("b4", "beginner");
    big["chapter_content"] = json!("word ".repeat(1000));
    let r = app.call("POST", PERSONALIZE, None, Some(big)).await;
    check(&r, 413, "content_too_large");

    let mut negative = body("b5", "beginner");
    negative["reading_position"] = json!(-1);
    let r = app.call("POST", PERSONALIZE, None, Some(negative)).await;
    check(&r, 400, "invalid_reading_position");
    let r = app
        .call(
            "POST",
            TOGGLE,
            None,
            Some(json!({"session_id": "b1", "reading_position": -5})),
        )
        .await;
    check(&r, 400, "invalid_reading_position");

    let mut wrong_type = body("b6", "beginner");
    wrong_type["reading_position"] = json!("ten");
    let r = app.call("POST", PERSONALIZE, None, Some(wrong_type)).await;
    check(&r, 400, "MALFORMED_REQUEST");
    let r = app
        .send(shared::testkit::raw_request(
            "POST",
            PERSONALIZE,
            "application/json",
            "{not json",
        ))
        .await;
    check(&r, 400, "MALFORMED_REQUEST");

    for (method, uri, b) in [
        (
            "POST",
            CHANGE,
            Some(json!({"session_id": "nope", "difficulty_level": "advanced"})),
        ),
        ("POST", TOGGLE, Some(json!({"session_id": "nope"}))),
        ("DELETE", "/api/personalization/session/nope", None),
    ] {
        let r = app.call(method, uri, None, b).await;
        check(&r, 404, "session_not_found");
    }
}

// ---------------------------------------------------------------------------------------------
// Expiry

async fn set_expiry(app: &TestApp, session: &str, expires_at: i64) {
    app.state
        .store
        .update(
            &keys::session(session),
            Update::new().set(store::EXPIRES_AT, expires_at),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
}

#[tokio::test]
async fn sessions_expire_and_every_access_slides_the_expiry() {
    let app = offline_app();
    let r = app
        .call("POST", PERSONALIZE, None, Some(body("e1", "beginner")))
        .await;
    assert_eq!(r.status, 200);

    // Sliding: an access moves the expiry to now + TTL.
    let now = store::now_epoch();
    set_expiry(&app, "e1", now + 5).await;
    let t = app
        .call("POST", TOGGLE, None, Some(json!({"session_id": "e1"})))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    let s = stored(&app, "e1")
        .await
        .unwrap_or_else(|| panic!("session"));
    assert!(s.expires_at >= now + 3600, "{} vs {}", s.expires_at, now);
    set_expiry(&app, "e1", now + 5).await;
    let c = app
        .call(
            "POST",
            CHANGE,
            None,
            Some(json!({"session_id": "e1", "difficulty_level": "advanced"})),
        )
        .await;
    assert_eq!(c.status, 200);
    assert!(c.json["expires_at"].as_i64().unwrap_or(0) >= now + 3600);

    // Expired: absent to every route.
    set_expiry(&app, "e1", now - 1).await;
    for (method, uri, b) in [
        (
            "POST",
            CHANGE,
            Some(json!({"session_id": "e1", "difficulty_level": "beginner"})),
        ),
        ("POST", TOGGLE, Some(json!({"session_id": "e1"}))),
        ("DELETE", "/api/personalization/session/e1", None),
    ] {
        let r = app.call(method, uri, None, b).await;
        assert_eq!(r.status, 404, "{uri}: {}", r.text);
        assert_eq!(r.json["error_code"], "session_not_found");
    }
    // Personalize starts it afresh.
    let fresh = app
        .call("POST", PERSONALIZE, None, Some(body("e1", "beginner")))
        .await;
    assert_eq!(fresh.status, 200);
}

#[tokio::test]
async fn the_session_ttl_is_configurable() {
    let mut app = TestApp::new(router);
    app.router = router_with_settings(
        app.state.clone(),
        Settings {
            session_ttl: Duration::from_secs(60),
            ..Settings::default()
        },
    );
    let r = app
        .call("POST", PERSONALIZE, None, Some(body("ttl", "beginner")))
        .await;
    let s = stored(&app, "ttl")
        .await
        .unwrap_or_else(|| panic!("session"));
    assert_eq!(s.expires_at - s.last_accessed, 60);
    assert_eq!(r.json["expires_at"], json!(s.expires_at));
}

// ---------------------------------------------------------------------------------------------
// The model adapter with a fake model

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Returns the chunk unchanged (so joined output = the chapter).
    Echo,
    /// Throttled this many times, then echoes.
    ThrottledTimes(u32),
    Model,
    /// Drops the placeholders (breaks code blocks).
    DropCode,
    /// Sleeps far longer than the adaptation timeout.
    Slow,
}

struct FakeModel {
    mode: Mode,
    calls: AtomicU32,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl FakeModel {
    fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode,
            calls: AtomicU32::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

fn chunk_of(prompt: &str) -> String {
    let start = prompt
        .find("<<<CHAPTER\n")
        .map_or(0, |i| i + "<<<CHAPTER\n".len());
    let end = prompt.rfind("\nCHAPTER>>>").unwrap_or(prompt.len());
    prompt[start..end].to_string()
}

#[async_trait]
impl TextGenerator for FakeModel {
    async fn generate(&self, request: TextRequest) -> AiResult<TextResponse> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        assert!(
            request
                .system
                .as_deref()
                .is_some_and(|s| s.contains("[[KEEP-n]]"))
        );
        let chunk = chunk_of(&request.prompt);
        let text = match self.mode {
            Mode::Echo => chunk,
            Mode::ThrottledTimes(k) if n < k => return Err(AiError::Throttled),
            Mode::ThrottledTimes(_) => chunk,
            Mode::Model => return Err(AiError::Model("ValidationException: boom".into())),
            Mode::DropCode => chunk
                .lines()
                .filter(|l| !l.contains("[[KEEP-"))
                .collect::<Vec<_>>()
                .join("\n"),
            Mode::Slow => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                chunk
            }
        };
        Ok(TextResponse {
            text,
            input_tokens: 1,
            output_tokens: 1,
            provenance: self.provenance(),
        })
    }

    fn provenance(&self) -> Provenance {
        Provenance {
            backend: "bedrock".into(),
            model_id: "fake.model-v1".into(),
        }
    }
}

fn small_chunks() -> Settings {
    Settings {
        chunk_chars: 600,
        model_concurrency: 2,
        ..test_settings()
    }
}

#[tokio::test]
async fn the_model_is_called_once_per_chunk_and_the_cache_serves_every_session() {
    let fake = FakeModel::new(Mode::Echo);
    let app = model_app(fake.clone(), small_chunks());
    let chunks = crate::adapt::model::chunks(robotics(), 600).len() as u32;
    assert!(chunks >= 4, "sample splits into several chunks: {chunks}");

    let r = app
        .call("POST", PERSONALIZE, None, Some(body("m1", "beginner")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["backend"], "bedrock");
    assert_eq!(r.json["model_id"], "fake.model-v1");
    assert_eq!(r.json["prompt_version"], "textbook-adapt-v1");
    assert_eq!(fake.calls(), chunks);
    // Chunks come back in order: the echo joins back into the chapter.
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        norm(r.json["personalized_content"].as_str().unwrap_or_default()),
        norm(robotics())
    );
    assert!(
        fake.max_in_flight.load(Ordering::SeqCst) <= 2,
        "concurrency bound"
    );

    for session in ["m2", "m3"] {
        let again = app
            .call("POST", PERSONALIZE, None, Some(body(session, "beginner")))
            .await;
        assert_eq!(again.json["cached"], true);
    }
    let adv = app
        .call(
            "POST",
            CHANGE,
            None,
            Some(json!({"session_id": "m1", "difficulty_level": "advanced"})),
        )
        .await;
    assert_eq!(adv.json["cached"], false);
    let back = app
        .call(
            "POST",
            CHANGE,
            None,
            Some(json!({"session_id": "m1", "difficulty_level": "beginner"})),
        )
        .await;
    assert_eq!(back.json["cached"], true);
    assert_eq!(fake.calls(), 2 * chunks, "one generation per level, ever");
}

#[tokio::test]
async fn throttling_is_retried_with_backoff() {
    let fake = FakeModel::new(Mode::ThrottledTimes(2));
    let app = model_app(
        fake.clone(),
        Settings {
            chunk_chars: 100_000,
            ..test_settings()
        },
    );
    let r = app
        .call("POST", PERSONALIZE, None, Some(body("t1", "beginner")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(fake.calls(), 3);
}

async fn failing_change_keeps_the_session(mode: Mode, status: u16) {
    let echo = FakeModel::new(Mode::Echo);
    let settings = Settings {
        adapt_timeout: Duration::from_millis(300),
        ..small_chunks()
    };
    let mut app = model_app(echo, settings.clone());
    let r = app
        .call("POST", PERSONALIZE, None, Some(body("f1", "beginner")))
        .await;
    assert_eq!(r.status, 200);
    let before = stored(&app, "f1")
        .await
        .unwrap_or_else(|| panic!("session"));

    let failing = FakeModel::new(mode);
    app.state.text = failing.clone();
    app.router = router_with_settings(app.state.clone(), settings);
    let c = app
        .call(
            "POST",
            CHANGE,
            None,
            Some(
                json!({"session_id": "f1", "difficulty_level": "advanced", "reading_position": 40}),
            ),
        )
        .await;
    assert_eq!(c.status, status, "{}", c.text);
    assert_eq!(c.json["error_code"], "processing_error");
    let detail = c.json["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.contains("boom") && !detail.contains("Throttl"),
        "generic: {detail}"
    );
    let after = stored(&app, "f1")
        .await
        .unwrap_or_else(|| panic!("session"));
    assert_eq!(after.personalized_content, before.personalized_content);
    assert_eq!(after.difficulty_level, before.difficulty_level);
    assert_eq!(after.reading_position, before.reading_position);
    assert!(failing.calls() >= 1);
}

#[tokio::test]
async fn a_model_error_is_a_processing_error_and_the_session_keeps_its_content() {
    failing_change_keeps_the_session(Mode::Model, 500).await;
}

#[tokio::test]
async fn persistent_throttling_is_a_retryable_processing_error() {
    failing_change_keeps_the_session(Mode::ThrottledTimes(u32::MAX), 503).await;
}

#[tokio::test]
async fn a_timeout_is_a_processing_error() {
    failing_change_keeps_the_session(Mode::Slow, 500).await;
}

#[tokio::test]
async fn an_answer_that_loses_a_code_block_is_retried_then_refused() {
    let fake = FakeModel::new(Mode::DropCode);
    let app = model_app(
        fake.clone(),
        Settings {
            chunk_chars: 100_000,
            ..test_settings()
        },
    );
    let r = app
        .call("POST", PERSONALIZE, None, Some(body("c1", "beginner")))
        .await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(r.json["error_code"], "processing_error");
    assert_eq!(fake.calls(), 2, "one retry");
    assert!(
        stored(&app, "c1").await.is_none(),
        "nothing stored on failure"
    );
}

// ---------------------------------------------------------------------------------------------
// Event files

#[tokio::test]
async fn event_files_replay_through_the_router() {
    use tower::ServiceExt;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    for (file, expected) in [
        ("textbook-personalize.json", 200),
        ("textbook-change-difficulty.json", 404),
        ("textbook-toggle-original.json", 404),
        ("textbook-delete-session.json", 404),
    ] {
        let app = TestApp::new(router);
        let raw = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let request = lambda_http::request::from_str(&raw)
            .unwrap_or_else(|e| panic!("{file}: not an API Gateway event: {e}"))
            .map(|b| axum::body::Body::from(b.to_vec()));
        let service = shared::http::service(app.router.clone(), &app.state.config);
        let response = service
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status().as_u16(), expected, "{file}");
    }
}

#[test]
fn every_route_is_in_the_openapi_document() {
    let doc = crate::openapi();
    let json = serde_json::to_value(&doc).unwrap_or_else(|e| panic!("openapi: {e}"));
    for (path, method) in [
        ("/api/personalization/personalize", "post"),
        ("/api/personalization/change-difficulty", "post"),
        ("/api/personalization/toggle-original", "post"),
        ("/api/personalization/session/{session_id}", "delete"),
    ] {
        assert!(json["paths"][path][method].is_object(), "{method} {path}");
    }
    for schema in [
        "PersonalizeRequest",
        "PersonalizeResponse",
        "ToggleOriginalResponse",
        "Readability",
    ] {
        assert!(
            json["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
}
