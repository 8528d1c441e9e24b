//! Router tests on the in-memory backends: permissions, bad input, and the figures of each route
//! after some recorded activity.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use shared::{
    auth::Role,
    domain::analytics::{self, Event},
    fixtures,
    testkit::TestApp,
};

const ADMIN_ROUTES: [&str; 4] = [
    "/api/v1/admin/analytics/dashboard",
    "/api/v1/admin/analytics/kpis",
    "/api/v1/admin/analytics/funnel",
    "/api/v1/admin/analytics/cohorts",
];
const OVERVIEW: &str = "/api/v1/admin/analytics/dashboard/overview";

fn app() -> TestApp {
    TestApp::new(crate::router)
}

fn behavior(user_id: &str) -> String {
    format!("/api/v1/analytics/user/{user_id}/behavior")
}

#[tokio::test]
async fn admin_routes_need_shop_wide_analytics_view() {
    let app = app();
    let (_, customer) = app.user_with_roles("shopper", &[Role::Customer]).await;
    let (_, manager) = app.user_with_roles("boss", &[Role::Manager]).await;
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    for path in ADMIN_ROUTES {
        let r = app.call("GET", path, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        let r = app.call("GET", path, Some(&customer), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap()
                .contains("analytics.view")
        );
        for token in [&manager, &admin] {
            let r = app.call("GET", path, Some(token), None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        }
    }
}

#[tokio::test]
async fn the_overview_needs_admin_dashboard() {
    let app = app();
    let (_, customer) = app.user_with_roles("shopper", &[Role::Customer]).await;
    let (_, manager) = app.user_with_roles("boss", &[Role::Manager]).await;
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    for token in [&customer, &manager] {
        let r = app.call("GET", OVERVIEW, Some(token), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap()
                .contains("admin_dashboard")
        );
    }
    let store = app.state.store.as_ref();
    fixtures::product(store, app.state.embedder.as_ref(), "P1", 10.0, 5).await;
    let r = app.call("GET", OVERVIEW, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["total_products"], 1);
    assert_eq!(r.json["active_products"], 1);
    assert_eq!(r.json["total_users"], 3);
    for field in [
        "new_users_today",
        "total_orders",
        "pending_orders",
        "recent_searches",
    ] {
        assert!(r.json[field].is_i64(), "{field}");
    }
}

#[tokio::test]
async fn bad_parameters_are_422() {
    let app = app();
    let (root, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let days_routes = [
        ADMIN_ROUTES[0].to_string(),
        ADMIN_ROUTES[1].to_string(),
        ADMIN_ROUTES[2].to_string(),
        behavior(&root.id),
    ];
    for path in &days_routes {
        for query in ["days=0", "days=366", "days=abc", "days=1.5", "days=-3"] {
            let r = app
                .call("GET", &format!("{path}?{query}"), Some(&admin), None)
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}?{query}: {}",
                r.text
            );
            assert_eq!(r.json["field_errors"][0]["field"], "days", "{path}?{query}");
        }
        for query in ["days=1", "days=365"] {
            let r = app
                .call("GET", &format!("{path}?{query}"), Some(&admin), None)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{path}?{query}: {}", r.text);
        }
    }
    for query in ["weeks=0", "weeks=53", "weeks=x", "weeks=2.0"] {
        let r = app
            .call(
                "GET",
                &format!("{}?{query}", ADMIN_ROUTES[3]),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            r.text
        );
        assert_eq!(r.json["field_errors"][0]["field"], "weeks", "{query}");
    }
    let r = app
        .call(
            "GET",
            &format!("{}?weeks=52", ADMIN_ROUTES[3]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["cohorts"].as_array().unwrap().len(), 52);
}

#[tokio::test]
async fn behaviour_is_the_users_own_or_shop_wide() {
    let app = app();
    let (alice, alice_token) = app.user_with_roles("alice", &[Role::Customer]).await;
    let (bob, _) = app.user_with_roles("bob", &[Role::Customer]).await;
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let r = app
        .call("GET", &behavior(&alice.id), Some(&alice_token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["user_id"], alice.id.as_str());
    assert_eq!(r.json["period_days"], 30);
    let r = app
        .call("GET", &behavior(&bob.id), Some(&alice_token), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .call("GET", &behavior(&bob.id), Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call("GET", &behavior("no-such-user"), Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.json["error_code"], "USER_NOT_FOUND");
    // Another user's id, unknown or not, is 403 without permission (no probing for accounts).
    let r = app
        .call("GET", &behavior("no-such-user"), Some(&alice_token), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// An order, a search and a view recorded as the request paths record them show up in every
/// route's figures.
#[tokio::test]
async fn the_routes_show_what_was_recorded() {
    let app = app();
    let store = app.state.store.as_ref();
    let (buyer, buyer_token) = app.user_with_roles("buyer", &[Role::Customer]).await;
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    analytics::record(store, analytics::user_created(&buyer))
        .await
        .unwrap();
    let p = fixtures::product(store, app.state.embedder.as_ref(), "P1", 10.0, 5).await;
    let now = chrono::Utc::now();
    analytics::record(
        store,
        Event::ProductView {
            user_id: Some(&buyer.id),
            product_id: &p.id,
            at: now,
        },
    )
    .await
    .unwrap();
    let order = fixtures::place_order(store, &buyer.id, &[&p.id]).await;
    analytics::record(store, Event::OrderPlaced(&order))
        .await
        .unwrap();

    let d = app
        .call(
            "GET",
            &format!("{}?days=7", ADMIN_ROUTES[0]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.json["orders"]["total_orders"], 1);
    assert_eq!(
        d.json["orders"]["total_revenue"],
        order.total_amount.to_f64()
    );
    assert_eq!(d.json["orders"]["status_breakdown"]["pending"], 1);
    assert_eq!(
        d.json["orders"]["payment_method_breakdown"]["credit_card"],
        1
    );
    assert_eq!(
        d.json["orders"]["recommendation_source_breakdown"]["homepage"],
        1
    );
    assert_eq!(d.json["orders"]["daily_trend"].as_array().unwrap().len(), 7);
    assert_eq!(d.json["users"]["new_users"], 1);
    assert_eq!(d.json["users"]["active_users"], 1);
    assert_eq!(d.json["products"]["top_products"][0]["code"], "P1");
    assert_eq!(
        d.json["products"]["category_performance"][0]["category_name"],
        "Things"
    );
    assert!(d.json["recommendations"]["algorithm_performance"].is_array());

    let k = app.call("GET", ADMIN_ROUTES[1], Some(&admin), None).await;
    assert_eq!(k.json["conversion_rate"], 100.0);
    assert_eq!(k.json["user_activation_rate"], 100.0);
    assert_eq!(k.json["average_order_value"], order.total_amount.to_f64());

    let f = app.call("GET", ADMIN_ROUTES[2], Some(&admin), None).await;
    let users: Vec<i64> = f.json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["users"].as_i64().unwrap())
        .collect();
    assert_eq!(users, vec![1, 0, 1]);

    let c = app
        .call(
            "GET",
            &format!("{}?weeks=1", ADMIN_ROUTES[3]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(c.json["cohorts"][0]["users"], 1);
    assert_eq!(c.json["cohorts"][0]["weeks"][0]["retention_rate"], 100.0);

    let b = app
        .call("GET", &behavior(&buyer.id), Some(&buyer_token), None)
        .await;
    assert_eq!(b.json["orders"]["count"], 1);
    assert_eq!(
        b.json["orders"]["last_order_date"],
        order.created_at.as_str()
    );
    assert_eq!(
        b.json["category_preferences"]["Things"]["purchase_count"],
        1
    );

    let o = app.call("GET", OVERVIEW, Some(&admin), None).await;
    assert_eq!(o.json["total_orders"], 1);
    assert_eq!(o.json["pending_orders"], 1);
    assert_eq!(o.json["new_users_today"], 1);
}
