//! Router tests of track-click and feedback (in-memory backends, `oneshot`).
#![allow(clippy::unwrap_used)]

use axum::http::{HeaderValue, StatusCode};
use serde_json::json;
use shared::{
    auth::Role,
    domain::{
        interactions::{self, Actor, InteractionKind, KindWeights},
        rec_tracking::{self, Served, ServedItem},
    },
    fixtures,
    reco::algorithm::{Algorithm, Family},
    testkit::{TestApp, TestResponse, request},
};

const CLICK: &str = "/api/v1/recommendations/track-click";
const FEEDBACK: &str = "/api/v1/recommendations/feedback";

async fn product(app: &TestApp, code: &str) -> String {
    let s = &app.state;
    fixtures::product(s.store.as_ref(), s.embedder.as_ref(), code, 10.0, 10)
        .await
        .id
}

async fn serve(
    app: &TestApp,
    actor: Option<Actor>,
    products: &[&str],
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    let id = rec_tracking::new_recommendation_id();
    let served = Served {
        recommendation_type: "homepage".into(),
        blended: true,
        actor,
        arm: None,
        items: products
            .iter()
            .map(|p| ServedItem {
                product_id: (*p).into(),
                algorithm: Algorithm::CollaborativeFiltering,
                score: 0.7,
            })
            .collect(),
    };
    rec_tracking::record_served(app.state.store.as_ref(), &id, &served, at)
        .await
        .unwrap();
    id
}

async fn post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    cart: Option<&str>,
    body: serde_json::Value,
) -> TestResponse {
    let mut req = request("POST", path, token, Some(body));
    if let Some(c) = cart {
        req.headers_mut()
            .insert("x-cart-id", HeaderValue::from_str(c).unwrap());
    }
    app.send(req).await
}

async fn hybrid_clicks(app: &TestApp) -> i64 {
    rec_tracking::performance(
        app.state.store.as_ref(),
        &[Family::Hybrid],
        chrono::Utc::now().date_naive(),
        1,
        10,
    )
    .await
    .unwrap()
    .totals
    .clicks
}

async fn count_of(app: &TestApp, actor: &Actor, product: &str, kind: InteractionKind) -> i64 {
    interactions::actor_aggregates(app.state.store.as_ref(), actor)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.product_id == product)
        .flat_map(|a| a.counts.iter())
        .filter(|(k, _)| *k == kind)
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test]
async fn a_click_counts_once_and_is_a_rec_click_interaction() {
    let app = TestApp::new(crate::router);
    let (user, token) = app.user_with_roles("clicker", &[Role::Customer]).await;
    let me = Actor::User(user.id.clone());
    let p1 = product(&app, "C1").await;
    let id = serve(&app, Some(me.clone()), &[&p1], chrono::Utc::now()).await;

    let body = json!({"recommendation_id": id, "product_id": p1});
    let r = post(&app, CLICK, Some(&token), None, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["counted"], true);
    assert_eq!(r.json["recommendation_id"], id.as_str());
    assert_eq!(hybrid_clicks(&app).await, 1);
    assert_eq!(count_of(&app, &me, &p1, InteractionKind::RecClick).await, 1);

    // Again: 200, not counted, no second interaction.
    let r = post(&app, CLICK, Some(&token), None, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["counted"], false);
    assert_eq!(hybrid_clicks(&app).await, 1);
    assert_eq!(count_of(&app, &me, &p1, InteractionKind::RecClick).await, 1);

    // Anonymous, on a guest's list: the guest's click (the list's actor).
    let guest = Actor::Guest(uuid_like());
    let p2 = product(&app, "C2").await;
    let gid = serve(&app, Some(guest.clone()), &[&p2], chrono::Utc::now()).await;
    let r = post(
        &app,
        CLICK,
        None,
        None,
        json!({"recommendation_id": gid, "product_id": p2}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        count_of(&app, &guest, &p2, InteractionKind::RecClick).await,
        1
    );
    assert_eq!(hybrid_clicks(&app).await, 2);
}

fn uuid_like() -> String {
    "6a0b3c1e-2f4d-4e5a-8b7c-9d0e1f2a3b4c".into()
}

#[tokio::test]
async fn track_click_bad_input() {
    let app = TestApp::new(crate::router);
    let p1 = product(&app, "B1").await;
    let now = chrono::Utc::now();
    let id = serve(&app, None, &[&p1], now).await;
    let old = serve(&app, None, &[&p1], now - chrono::Duration::days(8)).await;

    for unknown in ["rec_00000000000000000000000000000000", old.as_str()] {
        let r = post(
            &app,
            CLICK,
            None,
            None,
            json!({"recommendation_id": unknown, "product_id": p1}),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert_eq!(r.json["error_code"], "RECOMMENDATION_NOT_FOUND");
    }
    let r = post(
        &app,
        CLICK,
        None,
        None,
        json!({"recommendation_id": id, "product_id": "not-in-it"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["field_errors"][0]["field"], "product_id");
    for body in [
        json!({"product_id": p1}),
        json!({"recommendation_id": "", "product_id": p1}),
        json!({"recommendation_id": id, "product_id": "x".repeat(101)}),
    ] {
        let r = post(&app, CLICK, None, None, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    }
    let r = post(&app, CLICK, None, None, json!("nope")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(hybrid_clicks(&app).await, 0);
}

#[tokio::test]
async fn not_interested_feedback_excludes_the_product_for_that_user_or_guest() {
    let app = TestApp::new(crate::router);
    let (user, token) = app.user_with_roles("picky", &[Role::Customer]).await;
    let p1 = product(&app, "F1").await;
    let body = json!({"product_id": p1, "kind": "not_interested"});
    let weights = KindWeights::default();

    let r = post(&app, FEEDBACK, Some(&token), None, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["kind"], "not_interested");
    let me = Actor::User(user.id.clone());
    let (_, excluded) = interactions::actor_history(app.state.store.as_ref(), &me, &weights)
        .await
        .unwrap();
    assert_eq!(excluded, vec![p1.clone()]);
    // And training leaves the pair out, even with a view on it.
    interactions::record(
        app.state.store.as_ref(),
        &[interactions::Signal::new(
            me.clone(),
            p1.clone(),
            InteractionKind::View,
        )],
    )
    .await
    .unwrap();
    let training = interactions::training_interactions(app.state.store.as_ref(), &weights)
        .await
        .unwrap();
    assert!(training.iter().all(|i| i.user != user.id));

    // A guest, by its cart id.
    let cart = uuid_like();
    let r = post(&app, FEEDBACK, None, Some(&cart), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let guest = Actor::Guest(cart);
    assert_eq!(
        count_of(&app, &guest, &p1, InteractionKind::NotInterested).await,
        1
    );
}

#[tokio::test]
async fn feedback_bad_input() {
    let app = TestApp::new(crate::router);
    let (_, token) = app.user_with_roles("picky2", &[Role::Customer]).await;
    let p1 = product(&app, "G1").await;
    // Nobody to record it for: neither a token nor a (valid) cart id.
    for cart in [None, Some("not-a-uuid")] {
        let r = post(
            &app,
            FEEDBACK,
            None,
            cart,
            json!({"product_id": p1, "kind": "not_interested"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let r = post(
        &app,
        FEEDBACK,
        Some(&token),
        None,
        json!({"product_id": p1, "kind": "love_it"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["field_errors"][0]["field"], "kind");
    let r = post(
        &app,
        FEEDBACK,
        Some(&token),
        None,
        json!({"product_id": "nope", "kind": "not_interested"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.json["error_code"], "PRODUCT_NOT_FOUND");
}
