//! Router tests of `GET /api/v1/admin/analytics/recommendations/performance`.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::json;
use shared::{
    auth::Role,
    domain::{
        cart::{self, CartOwner},
        interactions::Actor,
        orders::{self, PlaceOrder},
        rec_tracking::{self, Served, ServedItem},
    },
    fixtures,
    reco::algorithm::Algorithm,
    testkit::TestApp,
};

const PATH: &str = "/api/v1/admin/analytics/recommendations/performance";

#[tokio::test]
async fn needs_analytics_view_detailed() {
    let app = TestApp::new(crate::router);
    let r = app.call("GET", PATH, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for role in [Role::Customer, Role::Manager] {
        let (_, token) = app
            .user_with_roles(&format!("r{}", role.name()), &[role])
            .await;
        let r = app.call("GET", PATH, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap()
                .contains("analytics.view_detailed")
        );
    }
}

#[tokio::test]
async fn bad_parameters_are_422() {
    let app = TestApp::new(crate::router);
    let (_, token) = app.user_with_roles("root", &[Role::Admin]).await;
    for (query, field) in [
        ("days=0", "days"),
        ("days=366", "days"),
        ("days=abc", "days"),
        ("algorithm=magic", "algorithm"),
        ("algorithm=collaborative_filtering", "algorithm"),
    ] {
        let r = app
            .call("GET", &format!("{PATH}?{query}"), Some(&token), None)
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            r.text
        );
        assert_eq!(r.json["field_errors"][0]["field"], field, "{query}");
    }
}

/// Every figure moves: impressions, scores, clicks, conversions through the named list and
/// through a recent click, by day, and the top products with their names.
#[tokio::test]
async fn the_figures_follow_what_was_served_clicked_and_bought() {
    let app = TestApp::new(crate::router);
    let (_, token) = app.user_with_roles("root", &[Role::Admin]).await;
    let (buyer, _) = app.user_with_roles("buyer", &[Role::Customer]).await;
    let store = app.state.store.as_ref();
    let embedder = app.state.embedder.as_ref();
    let a = fixtures::product(store, embedder, "PA", 10.0, 100).await;
    let b = fixtures::product(store, embedder, "PB", 20.0, 100).await;
    let c = fixtures::product(store, embedder, "PC", 30.0, 100).await;
    let now = Utc::now();
    let serve = |items: Vec<(&str, Algorithm, f32)>, blended: bool, at| {
        let id = rec_tracking::new_recommendation_id();
        let served = Served {
            recommendation_type: "homepage".into(),
            blended,
            actor: Some(Actor::User(buyer.id.clone())),
            arm: None,
            items: items
                .into_iter()
                .map(|(p, algorithm, score)| ServedItem {
                    product_id: p.into(),
                    algorithm,
                    score,
                })
                .collect(),
        };
        async move {
            rec_tracking::record_served(store, &id, &served, at)
                .await
                .unwrap();
            id
        }
    };
    let get = |query: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            let r = app
                .call("GET", &format!("{PATH}?{query}"), Some(&token), None)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
            r.json
        }
    };

    // Nothing yet: zeros, every day listed.
    let empty = get("algorithm=collaborative&days=7").await;
    assert_eq!(empty["total_recommendations"], 0);
    assert_eq!(empty["click_rate"], 0.0);
    assert_eq!(empty["performance_by_day"].as_array().unwrap().len(), 7);
    assert_eq!(empty["top_performing_products"], json!([]));

    // Yesterday, a blended list: a and b (collaborative), c (content). Today a trending list.
    let home = serve(
        vec![
            (&a.id, Algorithm::CollaborativeFiltering, 0.9),
            (&b.id, Algorithm::ItemSimilarity, 0.7),
            (&c.id, Algorithm::VectorSimilarity, 0.2),
        ],
        true,
        now - Duration::days(1),
    )
    .await;
    let trending = serve(vec![(&c.id, Algorithm::Trending, 0.5)], false, now).await;
    let p = get("algorithm=collaborative&days=7").await;
    assert_eq!(p["algorithm"], "collaborative");
    assert_eq!(p["period_days"], 7);
    assert_eq!(p["total_recommendations"], 2);
    assert_eq!(p["average_score"], 0.8);
    let all = get("days=7").await;
    assert_eq!(all["algorithm"], "all");
    assert_eq!(all["total_recommendations"], 4);
    assert_eq!(
        get("algorithm=hybrid&days=7").await["total_recommendations"],
        3
    );

    // Clicks on a and b (b twice: once), then b bought within the day of the click, and a
    // bought in an order that names the list.
    for product in [&a.id, &b.id, &b.id] {
        rec_tracking::track_click(store, &home, product, None, now)
            .await
            .unwrap();
    }
    fixtures::place_order(store, &buyer.id, &[&b.id]).await;
    cart::add(store, &CartOwner::User(buyer.id.clone()), &a.id, 1)
        .await
        .unwrap();
    orders::place(
        store,
        PlaceOrder {
            user_id: buyer.id.clone(),
            billing_address: fixtures::address(),
            shipping_address: fixtures::address(),
            payment_method: "credit_card".into(),
            recommendation_source: Some("homepage".into()),
            recommendation_session_id: Some(home.clone()),
            order_notes: None,
            idempotency_key: None,
        },
    )
    .await
    .unwrap();
    // The trending c: clicked, never bought.
    rec_tracking::track_click(store, &trending, &c.id, None, now)
        .await
        .unwrap();

    let p = get("algorithm=collaborative&days=7").await;
    assert_eq!(p["total_clicks"], 2);
    assert_eq!(p["total_conversions"], 2);
    assert_eq!(p["click_rate"], 100.0);
    assert_eq!(p["conversion_rate"], 100.0);
    let days = p["performance_by_day"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    let today = now.date_naive();
    assert_eq!(days[6]["date"], today.format("%Y-%m-%d").to_string());
    // Counted on the day the list was served: yesterday.
    assert_eq!(
        days[5],
        json!({"date": (today - Duration::days(1)).format("%Y-%m-%d").to_string(),
               "recommendations": 2, "clicks": 2, "conversions": 2})
    );
    assert_eq!(
        days[6],
        json!({"date": today.format("%Y-%m-%d").to_string(),
               "recommendations": 0, "clicks": 0, "conversions": 0})
    );
    let top = p["top_performing_products"].as_array().unwrap();
    assert_eq!(top.len(), 2);
    // a and b: one conversion and one click each: the tie goes by id.
    let mut ids = [a.id.clone(), b.id.clone()];
    ids.sort();
    assert_eq!(top[0]["product_id"], ids[0].as_str());
    assert_eq!(top[0]["recommendations"], 1);
    assert_eq!(top[0]["clicks"], 1);
    assert_eq!(top[0]["conversions"], 1);
    assert_eq!(top[0]["click_rate"], 100.0);
    let name = if ids[0] == a.id {
        "Product PA"
    } else {
        "Product PB"
    };
    assert_eq!(top[0]["product_name"], name);

    // Trending: c today, clicked once of one.
    let t = get("algorithm=trending&days=1").await;
    assert_eq!(t["total_recommendations"], 1);
    assert_eq!(t["total_clicks"], 1);
    assert_eq!(t["total_conversions"], 0);
    assert_eq!(t["performance_by_day"].as_array().unwrap().len(), 1);
    assert_eq!(
        t["top_performing_products"][0]["product_name"],
        "Product PC"
    );
    // Content-based: c yesterday, not clicked; default days (30).
    let cb = get("algorithm=content_based").await;
    assert_eq!(cb["period_days"], 30);
    assert_eq!(cb["total_recommendations"], 1);
    assert_eq!(cb["average_score"], 0.2);
    assert_eq!(cb["click_rate"], 0.0);
    // All: 4 served, 3 clicks, 2 conversions.
    let all = get("days=2").await;
    assert_eq!(
        (
            &all["total_recommendations"],
            &all["total_clicks"],
            &all["total_conversions"]
        ),
        (&json!(4), &json!(3), &json!(2))
    );
    assert_eq!(all["click_rate"], 75.0);
    assert_eq!(all["conversion_rate"], 50.0);
}
