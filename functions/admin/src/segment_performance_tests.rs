//! Router tests of `GET /api/v1/admin/analytics/segments/performance`.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::json;
use shared::{
    auth::Role,
    domain::{
        orders::{self, OrderStatus},
        segments::{membership, records},
    },
    fixtures,
    testkit::TestApp,
};

const PATH: &str = "/api/v1/admin/analytics/segments/performance";

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
    }
}

#[tokio::test]
async fn orders_of_members_roll_up_per_segment() {
    let app = TestApp::new(crate::router);
    let store = app.state.store.as_ref();
    let (_, admin) = app.user_with_roles("perf_admin", &[Role::Admin]).await;
    let r = app.call("GET", PATH, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, json!({"segments": []}));
    let vip = records::new_segment("VIP".into(), None, "manual", json!({}), false);
    records::create(store, &vip).await.unwrap();
    let empty = records::new_segment("Nobody".into(), None, "manual", json!({}), false);
    records::create(store, &empty).await.unwrap();
    let (a, _) = app.user_with_roles("a", &[Role::Customer]).await;
    let (b, _) = app.user_with_roles("b", &[Role::Customer]).await;
    membership::add_manual(store, &vip, &a.id).await.unwrap();
    membership::add_manual(store, &vip, &b.id).await.unwrap();
    let p = fixtures::product(store, app.state.embedder.as_ref(), "P", 100.0, 50).await;
    let o1 = fixtures::place_order(store, &a.id, &[&p.id]).await;
    let o2 = fixtures::place_order(store, &a.id, &[&p.id]).await;
    let o3 = fixtures::place_order(store, &b.id, &[&p.id]).await;
    orders::update_status(store, &o2.id, OrderStatus::Cancelled, None)
        .await
        .unwrap();
    let r = app.call("GET", PATH, Some(&admin), None).await;
    let segs = r.json["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 2);
    let v = &segs[0];
    assert_eq!(v["segment_name"], "VIP");
    assert_eq!(v["member_count"], 2);
    assert_eq!(v["orders_count"], 2, "the cancelled one withdrawn");
    let revenue = (o1.total_amount.0 + o3.total_amount.0) as f64 / 100.0;
    assert_eq!(v["total_revenue"], revenue);
    assert_eq!(
        v["avg_order_value"],
        ((revenue / 2.0) * 100.0).round() / 100.0
    );
    assert_eq!(
        v["revenue_per_member"],
        ((revenue / 2.0) * 100.0).round() / 100.0
    );
    assert_eq!(segs[1]["segment_name"], "Nobody");
    assert_eq!(segs[1]["orders_count"], 0);
    assert_eq!(segs[1]["avg_order_value"], 0.0);
}
