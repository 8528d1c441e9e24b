//! Router tests on the in-memory backends (`oneshot`, no server), one per route and per
//! bad-input case of the issue. Model behaviour (refusals, throttling, invented prices, a
//! failing image model) comes from fake generators put in the state.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use base64::Engine as _;
use serde_json::{Value, json};
use shared::{
    AppState,
    ai::{
        AiError, AiResult, GeneratedImage, ImageGenerator, ImageRequest, Provenance, TextGenerator,
        TextRequest, TextResponse,
    },
    auth::Role,
    domain::{
        catalog::{self, NewProduct},
        promotions::{
            cache::LiveBannerCache,
            copy::{AspectRatio, ImageFamily},
            records, texts,
        },
        segments::{features, membership, records as segment_records},
    },
    fixtures,
    store::{ItemStore, Scan, Update, keys},
    testkit::{TestApp, request},
};
use tower::ServiceExt;

use crate::PromotionsState;

const BASE: &str = "/api/v1/recommendations";

/// A promotions router over a test app's state (the store, blobs and tokens are shared).
struct Promo {
    app: TestApp,
    state: PromotionsState,
    router: Router,
}

impl Promo {
    fn new() -> Self {
        let app = TestApp::new(crate::router);
        Self::with_state(app, |s| s)
    }

    fn with_state(app: TestApp, change: impl FnOnce(AppState) -> AppState) -> Self {
        let state = PromotionsState::new(change(app.state.clone()));
        let router = crate::router_with(state.clone());
        Self { app, state, router }
    }

    /// Another instance over the same backends (its own banner cache).
    fn instance(&self, cache: LiveBannerCache) -> Router {
        crate::router_with(PromotionsState {
            app: self.state.app.clone(),
            banners: Arc::new(cache),
        })
    }

    fn store(&self) -> &dyn ItemStore {
        self.state.app.store.as_ref()
    }

    async fn send_to(&self, router: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let service = shared::http::service(router.clone(), &self.state.app.config);
        let response = service.oneshot(req).await.unwrap_or_else(|e| match e {});
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if let Some(code) = json["error_code"].as_str() {
            shared::error::ErrorCode::check_documented(status.as_u16(), code).unwrap();
        }
        (status, headers, json)
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (s, _, j) = self
            .send_to(&self.router, request(method, uri, token, body))
            .await;
        (s, j)
    }

    /// Sends the request and checks that it is refused with `status` and `code`.
    async fn refused(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: StatusCode,
        code: &str,
    ) {
        let (s, b) = self.call(method, uri, token, body).await;
        assert_eq!(
            (s, b["error_code"].as_str()),
            (status, Some(code)),
            "{method} {uri}: {b}"
        );
    }

    async fn admin(&self) -> String {
        self.app
            .user_with_roles("promo_admin", &[Role::Admin])
            .await
            .1
    }
}

fn fields(r: &Value) -> Vec<String> {
    r["field_errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// An RFM cluster segment (as generate-rfm makes them) with `members`.
async fn cluster(store: &dyn ItemStore, id: u32, name: &str, members: &[&str]) -> String {
    let mut s = segment_records::new_segment(
        name.into(),
        Some(format!("{name}: RFM cluster {id}")),
        "rfm",
        json!({}),
        false,
    );
    s.rfm_cluster = Some(json!({"cluster": id}));
    segment_records::create(store, &s).await.unwrap();
    membership::install(store, &s, members.iter().map(|m| m.to_string()).collect())
        .await
        .unwrap();
    s.id
}

async fn phone(p: &Promo) -> String {
    let store = p.store();
    let cat = fixtures::category(store, "Smartphones").await;
    catalog::create_product(
        store,
        p.state.app.embedder.as_ref(),
        NewProduct {
            name: "iPhone 15 Pro".into(),
            code: "IP15P".into(),
            brand: Some("Apple".into()),
            price: shared::money::Cents(99_999),
            in_stock: true,
            stock_quantity: 5,
            category_id: cat.id,
            is_active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

async fn banner(p: &Promo, token: &str, prompt: &str) -> String {
    let (s, b) = p
        .call(
            "POST",
            &format!("{BASE}/generate-banner"),
            Some(token),
            Some(json!({"prompt": prompt, "aspect_ratio": "1:1"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["banner_id"].as_str().unwrap().to_string()
}

async fn publish(p: &Promo, token: &str, body: Value) -> (StatusCode, Value) {
    p.call(
        "POST",
        &format!("{BASE}/publish-banner"),
        Some(token),
        Some(body),
    )
    .await
}

async fn live_ids(p: &Promo, router: &Router, user: &str, token: &str) -> Vec<String> {
    let (s, _, b) = p
        .send_to(
            router,
            request(
                "GET",
                &format!("{BASE}/user-banners/{user}?limit=10"),
                Some(token),
                None,
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["banners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every item of the store (the in-memory store allows a scan).
async fn all_items(store: &dyn ItemStore) -> Vec<shared::store::Item> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .scan(Scan {
                segment: 0,
                total_segments: 1,
                limit: Some(1000),
                cursor,
            })
            .await
            .unwrap();
        out.extend(page.items);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

async fn banner_records(store: &dyn ItemStore) -> usize {
    all_items(store)
        .await
        .iter()
        .filter(|i| i["PK"].as_str().is_some_and(|pk| pk.starts_with("BANNER#")))
        .count()
}

// ---- fakes ----

/// A text model that answers with a fixed text (or an error).
struct FakeText(Result<String, fn() -> AiError>);

#[async_trait]
impl TextGenerator for FakeText {
    async fn generate(&self, request: TextRequest) -> AiResult<TextResponse> {
        assert!(request.prompt.contains("Customer segment:"));
        match &self.0 {
            Ok(t) => Ok(TextResponse {
                text: t.clone(),
                input_tokens: 50,
                output_tokens: 20,
                provenance: self.provenance(),
            }),
            Err(e) => Err(e()),
        }
    }
    fn provenance(&self) -> Provenance {
        Provenance {
            backend: "bedrock".into(),
            model_id: "fake-text".into(),
        }
    }
}

/// An image model that fails.
struct FailingImages(fn() -> AiError);

#[async_trait]
impl ImageGenerator for FailingImages {
    async fn generate(&self, _request: ImageRequest) -> AiResult<GeneratedImage> {
        Err((self.0)())
    }
    fn provenance(&self) -> Provenance {
        Provenance {
            backend: "bedrock".into(),
            model_id: "amazon.titan-image-generator-v2:0".into(),
        }
    }
}

// ---- generate-promotion ----

#[tokio::test]
async fn generate_promotion_writes_segment_copy_from_the_product_facts_and_records_it() {
    let p = Promo::new();
    let token = p.admin().await;
    cluster(p.store(), 0, "Champions", &[]).await;
    let product = phone(&p).await;
    let (s, b) = p
        .call(
            "POST",
            &format!("{BASE}/generate-promotion"),
            Some(&token),
            Some(
                json!({"cluster_id": 0, "target_product_category": "Electronics",
                "product_id": product, "additional_context": "Black Friday Sale"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let text = b["ad_content"].as_str().unwrap();
    assert!(
        text.starts_with("Exclusive VIP access to our Electronics collection!"),
        "{text}"
    );
    for fact in ["iPhone 15 Pro", "Apple", "$999.99", "Black Friday Sale"] {
        assert!(text.contains(fact), "{fact} missing: {text}");
    }
    assert_eq!(b["prompt_version"], "promotion-v1");
    assert_eq!(b["segment_name"], "Champions");
    // Audited: inputs, model, prompt version, author.
    let day = chrono::Utc::now().date_naive();
    let audit = texts::list_day(p.store(), day).await.unwrap();
    assert_eq!(audit.len(), 1);
    let a = &audit[0];
    assert_eq!(a.id, b["promotion_id"].as_str().unwrap());
    assert_eq!(a.text, text);
    assert_eq!(
        (a.cluster_id, a.product_id.as_deref()),
        (Some(0), Some(product.as_str()))
    );
    assert_eq!(a.additional_context.as_deref(), Some("Black Friday Sale"));
    assert_eq!(a.model_id, "local-template-v1");
    assert_eq!(a.prompt_version, "promotion-v1");
    assert!(a.prompt.contains("Price: $999.99"));
    assert!(!a.created_by.is_empty());
}

#[tokio::test]
async fn a_model_text_is_served_unless_it_invents_a_price() {
    let app = TestApp::new(crate::router);
    let p = Promo::with_state(app, |mut s| {
        s.text = Arc::new(FakeText(Ok("Only $499 for VIPs!".into())));
        s
    });
    let token = p.admin().await;
    cluster(p.store(), 1, "Loyal Customers", &[]).await;
    let product = phone(&p).await;
    let body = json!({"cluster_id": 1, "product_id": product});
    let (s, b) = p
        .call(
            "POST",
            &format!("{BASE}/generate-promotion"),
            Some(&token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["source"], "template");
    assert!(!b["ad_content"].as_str().unwrap().contains("$499"));
    let audit = texts::list_day(p.store(), chrono::Utc::now().date_naive())
        .await
        .unwrap();
    assert_eq!(
        audit[0].rejected_text.as_deref(),
        Some("Only $499 for VIPs!")
    );
    assert_eq!(
        audit[0].category, "Smartphones",
        "the product's category by default"
    );

    let app = TestApp::new(crate::router);
    let p = Promo::with_state(app, |mut s| {
        s.text = Arc::new(FakeText(Ok("The iPhone 15 Pro, just $999.99.".into())));
        s
    });
    let token = p.admin().await;
    cluster(p.store(), 1, "Loyal Customers", &[]).await;
    let product = phone(&p).await;
    let (s, b) = p
        .call(
            "POST",
            &format!("{BASE}/generate-promotion"),
            Some(&token),
            Some(json!({"cluster_id": 1, "product_id": product})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["source"].as_str(), b["model_id"].as_str()),
        (Some("model"), Some("fake-text"))
    );
    assert_eq!(b["ad_content"], "The iPhone 15 Pro, just $999.99.");
}

#[tokio::test]
async fn text_model_refusal_is_422_and_throttling_503_with_retry_after() {
    let app = TestApp::new(crate::router);
    let p = Promo::with_state(app, |mut s| {
        s.text = Arc::new(FakeText(Err(|| {
            AiError::Invalid("the model refused the request (content_filtered)".into())
        })));
        s
    });
    let token = p.admin().await;
    cluster(p.store(), 0, "Champions", &[]).await;
    let body = json!({"cluster_id": 0, "target_product_category": "Toys"});
    let (s, b) = p
        .call(
            "POST",
            &format!("{BASE}/generate-promotion"),
            Some(&token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error_code"], "PROMPT_REFUSED");
    assert!(b["detail"].as_str().unwrap().contains("content_filtered"));

    let app = TestApp::new(crate::router);
    let p = Promo::with_state(app, |mut s| {
        s.text = Arc::new(FakeText(Err(|| AiError::Throttled)));
        s
    });
    let token = p.admin().await;
    cluster(p.store(), 0, "Champions", &[]).await;
    let (s, headers, b) = p
        .send_to(
            &p.router,
            request(
                "POST",
                &format!("{BASE}/generate-promotion"),
                Some(&token),
                Some(body),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(headers[header::RETRY_AFTER], "5");
}

#[tokio::test]
async fn generate_promotion_bad_input() {
    let p = Promo::new();
    let token = p.admin().await;
    let uri = format!("{BASE}/generate-promotion");
    p.refused(
        "POST",
        &uri,
        Some(&token),
        Some(json!({"cluster_id": 3, "target_product_category": "Toys"})),
        StatusCode::NOT_FOUND,
        "RFM_CLUSTER_NOT_FOUND",
    )
    .await;
    cluster(p.store(), 0, "Champions", &[]).await;
    p.refused(
        "POST",
        &uri,
        Some(&token),
        Some(json!({"cluster_id": 0, "product_id": "nope"})),
        StatusCode::NOT_FOUND,
        "PRODUCT_NOT_FOUND",
    )
    .await;
    for (body, field) in [
        (
            json!({"cluster_id": -1, "target_product_category": "Toys"}),
            "cluster_id",
        ),
        (json!({"cluster_id": 0}), "target_product_category"),
        (
            json!({"cluster_id": 0, "target_product_category": "x".repeat(101)}),
            "target_product_category",
        ),
        (
            json!({"cluster_id": 0, "target_product_category": "Toys", "additional_context": "x".repeat(501)}),
            "additional_context",
        ),
        (json!({"target_product_category": "Toys"}), "cluster_id"),
    ] {
        let (s, b) = p.call("POST", &uri, Some(&token), Some(body.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(fields(&b), [field], "{body}");
    }
    let (_, customer) = p.app.user_with_roles("shopper", &[Role::Customer]).await;
    let (s, _) = p
        .call(
            "POST",
            &uri,
            Some(&customer),
            Some(json!({"cluster_id": 0, "target_product_category": "Toys"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = p
        .call("POST", &uri, None, Some(json!({"cluster_id": 0})))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

// ---- generate-banner, banner details ----

#[tokio::test]
async fn generate_banner_stores_a_png_under_banners_and_answers_in_the_spec_shape() {
    let p = Promo::new();
    let token = p.admin().await;
    let product = phone(&p).await;
    let (user, _) = p.app.user_with_roles("target", &[Role::Customer]).await;
    let (s, b) = p
        .call(
            "POST",
            &format!("{BASE}/generate-banner"),
            Some(&token),
            Some(json!({"prompt": "Create a modern e-commerce banner for iPhone 15 Pro with premium styling and holiday theme",
                "user_id": user.id, "aspect_ratio": "16:9", "product_id": product})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let id = b["banner_id"].as_str().unwrap();
    assert!(id.starts_with("banner_"), "{id}");
    assert_eq!(b["saved_path"], format!("banners/{id}.png"));
    assert_eq!(b["product_id"], product);
    assert!(b["prompt"].as_str().unwrap().starts_with("Create a modern"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(b["image_base64"].as_str().unwrap())
        .unwrap();
    let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        ImageFamily::Local.size(AspectRatio::Landscape16x9)
    );
    // The object in the media bucket is the same PNG; the URL is a signed one.
    let stored = p
        .state
        .app
        .blobs
        .get(&format!("banners/{id}.png"))
        .await
        .unwrap();
    assert_eq!(stored.body.as_ref(), png.as_slice());
    assert_eq!(stored.meta.content_type, "image/png");
    let url = b["image_url"].as_str().unwrap();
    assert!(url.contains(&format!("/blobs/banners/{id}.png?")), "{url}");
    // The record: product facts, the user, the model.
    let rec = records::get(p.store(), id).await.unwrap().unwrap();
    assert_eq!(rec.product_category.as_deref(), Some("Smartphones"));
    assert_eq!(rec.user_id.as_deref(), Some(user.id.as_str()));
    assert_eq!(rec.model_id, "local-banner-v1");
    assert!(
        rec.image_prompt
            .starts_with("Product: iPhone 15 Pro by Apple")
    );
    assert!(!rec.is_published);
}

#[tokio::test]
async fn every_aspect_ratio_maps_to_its_size() {
    let p = Promo::new();
    let token = p.admin().await;
    for ratio in AspectRatio::ALL {
        let (s, b) = p
            .call(
                "POST",
                &format!("{BASE}/generate-banner"),
                Some(&token),
                Some(json!({"prompt": "Spring sale", "aspect_ratio": ratio.as_str()})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            (
                b["width"].as_u64().unwrap() as u32,
                b["height"].as_u64().unwrap() as u32
            ),
            ImageFamily::Local.size(ratio),
            "{ratio:?}"
        );
        assert_eq!(b["aspect_ratio"], ratio.as_str());
    }
}

#[tokio::test]
async fn generate_banner_bad_input() {
    let p = Promo::new();
    let token = p.admin().await;
    let uri = format!("{BASE}/generate-banner");
    for (body, field) in [
        (json!({"prompt": ""}), "prompt"),
        (json!({"prompt": "   "}), "prompt"),
        (json!({"prompt": "x".repeat(1001)}), "prompt"),
        (
            json!({"prompt": "ok", "aspect_ratio": "21:9"}),
            "aspect_ratio",
        ),
        (json!({}), "prompt"),
    ] {
        let (s, b) = p.call("POST", &uri, Some(&token), Some(body.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(fields(&b), [field], "{body}");
    }
    let (s, _) = p
        .call(
            "POST",
            &uri,
            Some(&token),
            Some(json!({"prompt": "x".repeat(1000)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "1,000 characters are fine");
    p.refused(
        "POST",
        &uri,
        Some(&token),
        Some(json!({"prompt": "ok", "product_id": "nope"})),
        StatusCode::NOT_FOUND,
        "PRODUCT_NOT_FOUND",
    )
    .await;
    p.refused(
        "POST",
        &uri,
        Some(&token),
        Some(json!({"prompt": "ok", "user_id": "nope"})),
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    )
    .await;
    let (_, customer) = p.app.user_with_roles("shopper", &[Role::Customer]).await;
    let (s, _) = p
        .call("POST", &uri, Some(&customer), Some(json!({"prompt": "ok"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Only the one good banner exists.
    assert_eq!(banner_records(p.store()).await, 1);
}

#[tokio::test]
async fn a_failed_image_generation_leaves_no_record_and_no_object() {
    type Case = (fn() -> AiError, StatusCode, &'static str);
    let cases: [Case; 3] = [
        (
            || AiError::Invalid("This request has been blocked by our content filters.".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content filters",
        ),
        (|| AiError::Throttled, StatusCode::SERVICE_UNAVAILABLE, ""),
        (
            || AiError::Model("the model returned no image".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
        ),
    ];
    for (error, status, reason) in cases {
        let app = TestApp::new(crate::router);
        let p = Promo::with_state(app, |mut s| {
            s.images = Arc::new(FailingImages(error));
            s
        });
        let token = p.admin().await;
        let (s, headers, b) = p
            .send_to(
                &p.router,
                request(
                    "POST",
                    &format!("{BASE}/generate-banner"),
                    Some(&token),
                    Some(json!({"prompt": "Banner"})),
                ),
            )
            .await;
        assert_eq!(s, status, "{b}");
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(b["error_code"], "PROMPT_REFUSED");
            assert!(b["detail"].as_str().unwrap().contains(reason), "{b}");
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(headers[header::RETRY_AFTER], "5");
        }
        assert!(p.state.app.blobs.list("banners/").await.unwrap().is_empty());
        assert_eq!(banner_records(p.store()).await, 0);
    }
}

#[tokio::test]
async fn banner_details_show_targeting_schedule_and_counts() {
    let p = Promo::new();
    let token = p.admin().await;
    let id = banner(&p, &token, "Winter sale").await;
    let uri = format!("{BASE}/banner/{id}");
    let (s, b) = p.call("GET", &uri, Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["id"].as_str(), b["is_published"].as_bool()),
        (Some(id.as_str()), Some(false))
    );
    assert!(b["target_audience"].is_null());
    assert!(
        b["image_base64"]
            .as_str()
            .unwrap()
            .starts_with("iVBORw0KGgo")
    );
    cluster(p.store(), 0, "Champions", &[]).await;
    cluster(p.store(), 1, "Loyal Customers", &[]).await;
    let (s, b) = publish(
        &p,
        &token,
        json!({"banner_id": id,
        "target_audience": {"cluster_ids": [0, 1], "min_spend": 500, "max_recency_days": 30},
        "start_date": "2025-01-27T00:00:00Z", "end_date": "2025-02-27", "priority": 8}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["message"], "Banner published successfully");
    let (_, b) = p.call("GET", &uri, Some(&token), None).await;
    assert_eq!(
        b["target_audience"],
        json!({"cluster_ids": [0, 1], "min_spend": 500.0, "max_recency_days": 30})
    );
    assert_eq!(b["start_date"], "2025-01-27T00:00:00Z");
    assert_eq!(b["end_date"], "2025-02-27T23:59:59Z");
    assert_eq!(
        (b["priority"].as_u64(), b["is_published"].as_bool()),
        (Some(8), Some(true))
    );
    for k in ["saved_path", "prompt", "created_at", "created_by", "stats"] {
        assert!(!b[k].is_null(), "{k}");
    }
    // Unknown and malformed ids, customers.
    p.refused(
        "GET",
        &format!("{BASE}/banner/banner_19990101_000000_deadbeef"),
        Some(&token),
        None,
        StatusCode::NOT_FOUND,
        "BANNER_NOT_FOUND",
    )
    .await;
    let (s, _) = p
        .call(
            "GET",
            &format!("{BASE}/banner/..%2Fetc"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, customer) = p.app.user_with_roles("shopper", &[Role::Customer]).await;
    let (s, _) = p.call("GET", &uri, Some(&customer), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

// ---- publish, unpublish, user-banners ----

#[tokio::test]
async fn publish_bad_input() {
    let p = Promo::new();
    let token = p.admin().await;
    let id = banner(&p, &token, "Autumn").await;
    for (body, field) in [
        (json!({"banner_id": id, "priority": 0}), "priority"),
        (json!({"banner_id": id, "priority": 11}), "priority"),
        (json!({"banner_id": id, "priority": "high"}), "priority"),
        (
            json!({"banner_id": id, "start_date": "2025-02-01", "end_date": "2025-01-31"}),
            "end_date",
        ),
        (json!({"banner_id": id, "start_date": "soon"}), "start_date"),
        (
            json!({"banner_id": id, "target_audience": {"clusters": [0]}}),
            "target_audience.clusters",
        ),
        (
            json!({"banner_id": id, "target_audience": {"min_spend": -5}}),
            "target_audience.min_spend",
        ),
        (
            json!({"banner_id": id, "target_audience": {"cluster_ids": ["a"]}}),
            "target_audience.cluster_ids",
        ),
        (
            json!({"banner_id": "banner_19990101_000000_deadbeef"}),
            "banner_id",
        ),
        (json!({"banner_id": "../../etc"}), "banner_id"),
    ] {
        let (s, b) = publish(&p, &token, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(fields(&b), [field], "{body}");
    }
    let (s, b) = publish(
        &p,
        &token,
        json!({"banner_id": id, "target_audience": {"cluster_ids": [7]}}),
    )
    .await;
    assert_eq!(
        (s, b["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("RFM_CLUSTER_NOT_FOUND"))
    );
    let (s, b) = publish(
        &p,
        &token,
        json!({"banner_id": id, "target_audience": {"segment_ids": ["nope"]}}),
    )
    .await;
    assert_eq!(
        (s, b["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("SEGMENT_NOT_FOUND"))
    );
    let (_, customer) = p.app.user_with_roles("shopper", &[Role::Customer]).await;
    let (s, _) = publish(&p, &customer, json!({"banner_id": id})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = p
        .call(
            "POST",
            &format!("{BASE}/banner/{id}/unpublish"),
            Some(&customer),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Nothing was published by any of these.
    assert!(
        !records::get(p.store(), &id)
            .await
            .unwrap()
            .unwrap()
            .is_published
    );
    p.refused(
        "POST",
        &format!("{BASE}/banner/banner_19990101_000000_deadbeef/unpublish"),
        Some(&token),
        None,
        StatusCode::NOT_FOUND,
        "BANNER_NOT_FOUND",
    )
    .await;
}

/// A customer in `cluster` with a spend, a latest order `days_ago`, and a country.
async fn customer_in(
    p: &Promo,
    name: &str,
    spend_cents: i64,
    days_ago: i64,
    country: &str,
) -> (String, String) {
    let (user, token) = p.app.user_with_roles(name, &[Role::Customer]).await;
    let at = chrono::Utc::now() - chrono::Duration::days(days_ago);
    features::record_order(p.store(), &user.id, spend_cents, at, 1)
        .await
        .unwrap();
    p.store()
        .update(
            &keys::user_profile_facts(&user.id),
            Update::new().set("country", country),
            None,
        )
        .await
        .unwrap();
    (user.id, token)
}

#[tokio::test]
async fn user_banners_differ_by_segment_and_follow_targeting_schedule_and_priority() {
    let p = Promo::new();
    let admin = p.admin().await;
    let (champ, champ_token) = customer_in(&p, "champ", 90_000, 3, "US").await;
    let (lost, lost_token) = customer_in(&p, "lost", 2_000, 300, "FR").await;
    cluster(p.store(), 0, "Champions", &[&champ]).await;
    let vip = cluster(p.store(), 1, "Lost", &[&lost]).await;
    let everyone = banner(&p, &admin, "Everyone").await;
    let champions = banner(&p, &admin, "Champions").await;
    let win_back = banner(&p, &admin, "Win back").await;
    let rich = banner(&p, &admin, "Big spenders").await;
    let recent_us = banner(&p, &admin, "Recent US").await;
    let future = banner(&p, &admin, "Future").await;
    let ended = banner(&p, &admin, "Ended").await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    for (id, audience, priority, start, end) in [
        (&everyone, json!({}), 1, None, None),
        (&champions, json!({"cluster_ids": [0]}), 9, None, None),
        (&win_back, json!({"segment_ids": [vip]}), 9, None, None),
        (&rich, json!({"min_spend": 500}), 5, None, None),
        (
            &recent_us,
            json!({"region": "us", "max_recency_days": 30}),
            5,
            None,
            None,
        ),
        (&future, json!({}), 10, Some(tomorrow.as_str()), None),
        (
            &ended,
            json!({}),
            10,
            Some("2020-01-01"),
            Some("2020-12-31"),
        ),
    ] {
        let mut body = json!({"banner_id": id, "target_audience": audience, "priority": priority});
        if let Some(s) = start {
            body["start_date"] = json!(s);
        }
        if let Some(e) = end {
            body["end_date"] = json!(e);
        }
        let (s, b) = publish(&p, &admin, body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    // Priority first; equal priorities by the most recently published.
    assert_eq!(
        live_ids(&p, &p.router, &champ, &champ_token).await,
        [
            champions.clone(),
            recent_us.clone(),
            rich.clone(),
            everyone.clone()
        ]
    );
    assert_eq!(
        live_ids(&p, &p.router, &lost, &lost_token).await,
        [win_back.clone(), everyone.clone()]
    );
    // limit; admins and managers see any user's; customers only their own.
    let (s, b) = p
        .call(
            "GET",
            &format!("{BASE}/user-banners/{champ}?limit=1"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (s, b["banners"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    assert_eq!(b["user_id"], champ.as_str());
    assert!(b["banners"][0]["image_base64"].is_null());
    assert!(
        b["banners"][0]["image_url"]
            .as_str()
            .unwrap()
            .contains("/blobs/banners/")
    );
    let (s, b) = p
        .call(
            "GET",
            &format!("{BASE}/user-banners/{champ}?limit=1&include_image=true"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        b["banners"][0]["image_base64"]
            .as_str()
            .unwrap()
            .starts_with("iVBORw0KGgo")
    );
    let (_, manager) = p.app.user_with_roles("manager", &[Role::Manager]).await;
    assert_eq!(live_ids(&p, &p.router, &lost, &manager).await.len(), 2);
    let (s, _) = p
        .call(
            "GET",
            &format!("{BASE}/user-banners/{champ}"),
            Some(&lost_token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for q in ["limit=0", "limit=11", "limit=x"] {
        let (s, b) = p
            .call(
                "GET",
                &format!("{BASE}/user-banners/{champ}?{q}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(fields(&b), ["limit"]);
    }
    p.refused(
        "GET",
        &format!("{BASE}/user-banners/nobody"),
        Some(&admin),
        None,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    )
    .await;
    // Unpublish takes a banner out at once.
    let (s, b) = p
        .call(
            "POST",
            &format!("{BASE}/banner/{champions}/unpublish"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (s, b["message"].as_str()),
        (StatusCode::OK, Some("Banner unpublished successfully"))
    );
    assert_eq!(
        live_ids(&p, &p.router, &champ, &champ_token).await,
        [recent_us, rich, everyone]
    );
    let (s, b) = p
        .call(
            "POST",
            &format!("{BASE}/banner/{champions}/unpublish"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (s, b["message"].as_str()),
        (StatusCode::OK, Some("Banner was not published"))
    );
}

#[tokio::test]
async fn user_banners_come_from_the_instance_cache_which_reloads_when_the_version_moves() {
    let p = Promo::new();
    let admin = p.admin().await;
    let (user, token) = p.app.user_with_roles("shopper", &[Role::Customer]).await;
    let first = banner(&p, &admin, "First").await;
    publish(&p, &admin, json!({"banner_id": first})).await;
    // Another instance that checks the version on every request.
    let other_cache = LiveBannerCache::new(Duration::ZERO);
    let other = p.instance(other_cache);
    assert_eq!(
        live_ids(&p, &other, &user.id, &token).await,
        std::slice::from_ref(&first)
    );
    for _ in 0..5 {
        live_ids(&p, &p.router, &user.id, &token).await;
    }
    assert_eq!(p.state.banners.loads(), 1, "one load for six requests");
    // A publish through this instance: seen by the other at its next request.
    let second = banner(&p, &admin, "Second").await;
    publish(&p, &admin, json!({"banner_id": second, "priority": 9})).await;
    assert_eq!(
        live_ids(&p, &other, &user.id, &token).await,
        [second.clone(), first.clone()]
    );
    assert_eq!(
        live_ids(&p, &p.router, &user.id, &token).await,
        [second, first]
    );
    assert_eq!(p.state.banners.loads(), 2);
}

#[tokio::test]
async fn impressions_and_clicks_are_counted_per_day_and_shown_in_the_details() {
    let p = Promo::new();
    let admin = p.admin().await;
    let (user, token) = p.app.user_with_roles("shopper", &[Role::Customer]).await;
    let id = banner(&p, &admin, "Counted").await;
    publish(&p, &admin, json!({"banner_id": id})).await;
    for _ in 0..3 {
        live_ids(&p, &p.router, &user.id, &token).await;
    }
    // An admin looking does not count.
    live_ids(&p, &p.router, &user.id, &admin).await;
    for auth in [Some(token.as_str()), None] {
        let (s, b) = p
            .call("POST", &format!("{BASE}/banner/{id}/click"), auth, None)
            .await;
        assert_eq!(
            (s, b["counted"].as_bool()),
            (StatusCode::OK, Some(true)),
            "{b}"
        );
    }
    let (_, b) = p
        .call("GET", &format!("{BASE}/banner/{id}"), Some(&admin), None)
        .await;
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(b["stats"]["impressions"], 3);
    assert_eq!(b["stats"]["clicks"], 2);
    assert_eq!(b["stats"]["click_rate"], 66.67);
    assert_eq!(
        b["stats"]["daily"],
        json!([{"date": today, "impressions": 3, "clicks": 2}])
    );
    p.refused(
        "POST",
        &format!("{BASE}/banner/banner_19990101_000000_deadbeef/click"),
        None,
        None,
        StatusCode::NOT_FOUND,
        "BANNER_NOT_FOUND",
    )
    .await;
}

// ---- personalized-promotion ----

#[tokio::test]
async fn personalized_promotion_gives_the_users_segment_text_and_banner_from_a_form() {
    let p = Promo::new();
    let admin = p.admin().await;
    let product = phone(&p).await;
    let (champ, _) = customer_in(&p, "champ", 90_000, 3, "US").await;
    cluster(p.store(), 0, "Champions", &[&champ]).await;
    let uri = format!("{BASE}/personalized-promotion");
    let form = format!(
        "user_id={champ}&target_product_category=Electronics&product_id={product}&additional_context=New+Year+Sale"
    );
    let req = Request::builder()
        .method("POST")
        .uri(&uri)
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let (s, _, b) = p.send_to(&p.router, req).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user_id"], champ.as_str());
    assert_eq!(b["segment"]["id"], 0);
    assert_eq!(b["segment"]["name"], "Champions");
    let text = b["promotional_text"].as_str().unwrap();
    assert!(
        text.contains("iPhone 15 Pro") && text.contains("New Year Sale"),
        "{text}"
    );
    assert_eq!(b["target_product_category"], "Electronics");
    assert_eq!(b["product_id"], product.as_str());
    assert_eq!(b["additional_context"], "New Year Sale");
    let banner_id = b["banner"]["id"].as_str().unwrap();
    assert_eq!(
        b["banner"]["saved_path"],
        format!("banners/{banner_id}.png")
    );
    assert!(
        b["banner"]["image_base64"]
            .as_str()
            .unwrap()
            .starts_with("iVBORw0KGgo")
    );
    let rec = records::get(p.store(), banner_id).await.unwrap().unwrap();
    assert_eq!(rec.promotion_id.as_deref(), b["promotion_id"].as_str());
    assert_eq!(rec.user_id.as_deref(), Some(champ.as_str()));

    // multipart/form-data and JSON are accepted too; a user with no cluster gets the fallback.
    let (plain, _) = p.app.user_with_roles("plain", &[Role::Customer]).await;
    let boundary = "XyZ";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"target_product_category\"\r\n\r\nBooks\r\n--{boundary}--\r\n",
        plain.id
    );
    let req = Request::builder()
        .method("POST")
        .uri(&uri)
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(multipart))
        .unwrap();
    let (s, _, b) = p.send_to(&p.router, req).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["segment"]["id"].is_null());
    assert_eq!(b["segment"]["name"], "All customers");
    let (s, b) = p
        .call(
            "POST",
            &uri,
            Some(&admin),
            Some(
                json!({"user_id": champ, "target_product_category": "Toys", "aspect_ratio": "1:1"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn personalized_promotion_bad_input() {
    let p = Promo::new();
    let admin = p.admin().await;
    let (user, customer) = p.app.user_with_roles("shopper", &[Role::Customer]).await;
    let uri = format!("{BASE}/personalized-promotion");
    p.refused(
        "POST",
        &uri,
        Some(&admin),
        Some(json!({"user_id": "nobody", "target_product_category": "Toys"})),
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    )
    .await;
    p.refused(
        "POST",
        &uri,
        Some(&admin),
        Some(json!({"user_id": user.id, "product_id": "nope"})),
        StatusCode::NOT_FOUND,
        "PRODUCT_NOT_FOUND",
    )
    .await;
    for (body, field) in [
        (json!({"target_product_category": "Toys"}), "user_id"),
        (json!({"user_id": user.id}), "target_product_category"),
        (
            json!({"user_id": user.id, "target_product_category": "Toys", "aspect_ratio": "2:1"}),
            "aspect_ratio",
        ),
    ] {
        let (s, b) = p.call("POST", &uri, Some(&admin), Some(body.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(fields(&b), [field], "{body}");
    }
    let (s, _) = p
        .call(
            "POST",
            &uri,
            Some(&customer),
            Some(json!({"user_id": user.id, "target_product_category": "Toys"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(banner_records(p.store()).await, 0);
}
