//! Router tests on the in-memory backends (`oneshot`, no server), one per route and per
//! bad-input case of the issue.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use shared::{
    auth::Role,
    domain::{
        interactions::{self, Actor, InteractionKind, Signal},
        orders::{self, OrderStatus},
        segments::{features, membership},
        users,
    },
    fixtures,
    testkit::TestApp,
};

const BASE: &str = "/api/v1/admin/user-segmentation/segments";

fn app() -> TestApp {
    TestApp::new(crate::router)
}

async fn admin(app: &TestApp) -> String {
    app.user_with_roles("seg_admin", &[Role::Admin]).await.1
}

fn fields(r: &Value) -> Vec<String> {
    r["field_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}

fn high_value() -> Value {
    json!({
        "name": "High Value Customers",
        "description": "Customers with high lifetime value",
        "segment_type": "rfm",
        "criteria": {
            "monetary_amount": {"min": 500, "max": null},
            "frequency_orders": {"min": 1, "max": null},
            "recency_days": {"min": 0, "max": 90}
        },
        "auto_update": true
    })
}

fn mobile_users() -> Value {
    json!({
        "name": "Mobile Users",
        "description": "Users who primarily shop via mobile",
        "segment_type": "behavioral",
        "criteria": {
            "event_types": ["product_view", "add_to_cart"],
            "device_type": "mobile",
            "min_events": 5,
            "days_back": 30
        },
        "auto_update": true
    })
}

async fn create(app: &TestApp, token: &str, body: Value) -> String {
    let r = app.call("POST", BASE, Some(token), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["id"].as_str().unwrap().to_string()
}

async fn segment_names_of(app: &TestApp, user_id: &str) -> Vec<String> {
    membership::segments_of_user(app.state.store.as_ref(), user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect()
}

#[tokio::test]
async fn every_route_needs_its_permission() {
    let app = app();
    let (_, customer) = app.user_with_roles("cust", &[Role::Customer]).await;
    let (_, manager) = app.user_with_roles("mgr", &[Role::Manager]).await;
    let routes = [
        ("GET", BASE.to_string()),
        ("POST", BASE.to_string()),
        ("PUT", format!("{BASE}/x")),
        ("GET", format!("{BASE}/analytics")),
        ("POST", format!("{BASE}/x/recalculate")),
        ("GET", format!("{BASE}/x/users")),
        ("POST", format!("{BASE}/x/users/u")),
        ("DELETE", format!("{BASE}/x/users/u")),
    ];
    for (method, uri) in &routes {
        let r = app.call(method, uri, None, Some(json!({}))).await;
        assert_eq!(r.status, 401, "{method} {uri}");
        for token in [&customer, &manager] {
            let r = app.call(method, uri, Some(token), Some(json!({}))).await;
            assert_eq!(r.status, 403, "{method} {uri}: {}", r.text);
            assert_eq!(r.json["error_code"], "FORBIDDEN");
        }
    }
}

#[tokio::test]
async fn create_and_list_the_spec_examples() {
    let app = app();
    let token = admin(&app).await;
    let hv = create(&app, &token, high_value()).await;
    let r = app
        .call("POST", BASE, Some(&token), Some(mobile_users()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["segment_type"], "behavioral");
    assert_eq!(r.json["member_count"], 0);
    assert_eq!(r.json["criteria"]["device_type"], "mobile");
    let manual = create(
        &app,
        &token,
        json!({"name": "VIP list", "segment_type": "manual", "auto_update": false}),
    )
    .await;
    let r = app.call("GET", BASE, Some(&token), None).await;
    assert_eq!(r.status, 200);
    let list = r.json.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let names: Vec<_> = list.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["High Value Customers", "Mobile Users", "VIP list"]);
    let first = &list[0];
    assert_eq!(first["id"], hv.as_str());
    assert_eq!(first["criteria"]["monetary_amount"]["min"], 500);
    assert_eq!(first["is_active"], true);
    assert_eq!(first["auto_update"], true);
    assert!(first["last_updated"].is_string());
    assert_eq!(list[2]["id"], manual.as_str());
    assert_eq!(list[2]["auto_update"], false);
}

#[tokio::test]
async fn create_refuses_bad_input() {
    let app = app();
    let token = admin(&app).await;
    let cases = [
        (
            json!({"name": "A", "segment_type": "psychographic"}),
            "segment_type",
        ),
        (json!({"name": "A"}), "segment_type"),
        (json!({"segment_type": "manual"}), "name"),
        (
            json!({"name": "A", "segment_type": "rfm", "criteria": {"lifetime": {"min": 1}}}),
            "criteria.lifetime",
        ),
        (
            json!({"name": "A", "segment_type": "rfm", "criteria": {"recency_days": {"min": 90, "max": 30}}}),
            "criteria.recency_days",
        ),
        (
            json!({"name": "A", "segment_type": "rfm", "criteria": {"monetary_amount": {"min": -1}}}),
            "criteria.monetary_amount.min",
        ),
        (
            json!({"name": "A", "segment_type": "behavioral", "criteria": {"event_types": ["hover"]}}),
            "criteria.event_types",
        ),
        (
            json!({"name": "A", "segment_type": "behavioral", "criteria": {"days_back": 400}}),
            "criteria.days_back",
        ),
        (
            json!({"name": "A", "segment_type": "demographic", "criteria": {"age": {"min": 50, "max": 20}}}),
            "criteria.age",
        ),
        (
            json!({"name": "A", "segment_type": "interest", "criteria": {"match": "most"}}),
            "criteria.match",
        ),
        (
            json!({"name": "A", "segment_type": "manual", "criteria": {"x": 1}}),
            "criteria.x",
        ),
        (
            json!({"name": "A", "segment_type": "manual", "criteria": [1]}),
            "criteria",
        ),
        (
            json!({"name": "A", "segment_type": "manual", "auto_update": "yes"}),
            "auto_update",
        ),
        (
            json!({"name": "x".repeat(101), "segment_type": "manual"}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .call("POST", BASE, Some(&token), Some(body.clone()))
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert!(
            fields(&r.json).contains(&field.to_string()),
            "{body}: {}",
            r.text
        );
    }
    create(&app, &token, high_value()).await;
    let mut dup = high_value();
    dup["name"] = json!("high VALUE customers");
    let r = app.call("POST", BASE, Some(&token), Some(dup)).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json["error_code"], "SEGMENT_NAME_TAKEN");
    let r = app.call("GET", BASE, Some(&token), None).await;
    assert_eq!(
        r.json.as_array().unwrap().len(),
        1,
        "nothing written by the refused create"
    );
}

#[tokio::test]
async fn update_merges_criteria_and_refuses_bad_input() {
    let app = app();
    let token = admin(&app).await;
    let id = create(&app, &token, mobile_users()).await;
    create(&app, &token, high_value()).await;
    let uri = format!("{BASE}/{id}");
    // The spec's example.
    let r = app
        .call(
            "PUT",
            &uri,
            Some(&token),
            Some(json!({"description": "Updated description", "criteria": {"min_events": 10}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["description"], "Updated description");
    assert_eq!(r.json["criteria"]["min_events"], 10);
    assert_eq!(r.json["criteria"]["device_type"], "mobile", "merged");
    let cases = [
        (
            json!({"criteria": {"min_events": 0}}),
            "criteria.min_events",
        ),
        (json!({"criteria": {"colour": "red"}}), "criteria.colour"),
        (json!({"segment_type": "rfm"}), "segment_type"),
        (json!({"name": ""}), "name"),
    ];
    for (body, field) in cases {
        let r = app
            .call("PUT", &uri, Some(&token), Some(body.clone()))
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert!(
            fields(&r.json).contains(&field.to_string()),
            "{body}: {}",
            r.text
        );
    }
    let r = app
        .call(
            "PUT",
            &uri,
            Some(&token),
            Some(json!({"name": "High Value Customers"})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json["error_code"], "SEGMENT_NAME_TAKEN");
    let r = app
        .call(
            "PUT",
            &uri,
            Some(&token),
            Some(json!({"name": "Phone shoppers"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The old name is free again, the new one taken.
    let mut again = mobile_users();
    again["name"] = json!("Phone Shoppers");
    let r = app.call("POST", BASE, Some(&token), Some(again)).await;
    assert_eq!(r.status, 409);
    create(&app, &token, mobile_users()).await;
    let r = app
        .call(
            "PUT",
            &format!("{BASE}/nope"),
            Some(&token),
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["error_code"], "SEGMENT_NOT_FOUND");
}

#[tokio::test]
async fn an_order_puts_the_buyer_in_an_rfm_segment_at_once_and_a_cancel_takes_them_out() {
    let app = app();
    let token = admin(&app).await;
    let store = app.state.store.as_ref();
    let id = create(&app, &token, high_value()).await;
    let (buyer, _) = app.user_with_roles("buyer", &[Role::Customer]).await;
    let (small, _) = app.user_with_roles("small", &[Role::Customer]).await;
    let big = fixtures::product(store, app.state.embedder.as_ref(), "BIG", 600.0, 10).await;
    let cheap = fixtures::product(store, app.state.embedder.as_ref(), "CHEAP", 20.0, 10).await;
    let order = fixtures::place_order(store, &buyer.id, &[&big.id]).await;
    fixtures::place_order(store, &small.id, &[&cheap.id]).await;
    assert_eq!(
        segment_names_of(&app, &buyer.id).await,
        ["High Value Customers"]
    );
    assert!(segment_names_of(&app, &small.id).await.is_empty());
    let r = app.call("GET", BASE, Some(&token), None).await;
    assert_eq!(r.json[0]["member_count"], 1);
    let r = app
        .call("GET", &format!("{BASE}/{id}/users"), Some(&token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["segment_id"], id.as_str());
    assert_eq!(r.json["segment_name"], "High Value Customers");
    assert_eq!(r.json["total_users"], 1);
    assert_eq!(r.json["users"][0]["user_id"], buyer.id.as_str());
    assert_eq!(r.json["users"][0]["email"], "buyer@example.com");
    assert!(r.json["users"][0]["joined_at"].is_string());
    // Analytics: the buyer ordered in the period; the order is in the segment's rollup.
    let r = app
        .call(
            "GET",
            &format!("{BASE}/analytics?segment_id={id}&days=30"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json[0]["member_count"], 1);
    assert_eq!(r.json[0]["conversion_rate"], 100.0);
    assert_eq!(r.json[0]["segment_name"], "High Value Customers");
    // The first order made them a member: the rollup counts orders of members, from the next.
    let second = fixtures::place_order(store, &buyer.id, &[&big.id]).await;
    let r = app
        .call(
            "GET",
            &format!("{BASE}/analytics?segment_id={id}"),
            Some(&token),
            None,
        )
        .await;
    let expected = second.total_amount.0 as f64 / 100.0;
    assert_eq!(r.json[0]["avg_order_value"], expected);
    // Cancelling both: below 500, out of the segment at once.
    orders::update_status(store, &second.id, OrderStatus::Cancelled, None)
        .await
        .unwrap();
    orders::update_status(store, &order.id, OrderStatus::Cancelled, None)
        .await
        .unwrap();
    assert!(segment_names_of(&app, &buyer.id).await.is_empty());
    let f = features::load_user(store, &buyer.id).await.unwrap();
    assert_eq!((f.order_count, f.monetary_cents), (0, 0));
    let r = app
        .call("GET", &format!("{BASE}/{id}/users"), Some(&token), None)
        .await;
    assert_eq!(r.json["total_users"], 0);
}

#[tokio::test]
async fn mobile_events_and_profile_changes_make_members() {
    let app = app();
    let token = admin(&app).await;
    let store = app.state.store.as_ref();
    let (phone, _) = app.user_with_roles("phone", &[Role::Customer]).await;
    let (desk, _) = app.user_with_roles("desk", &[Role::Customer]).await;
    let views = |u: &str| {
        (0..5)
            .map(|i| {
                Signal::new(
                    Actor::User(u.into()),
                    format!("p{i}"),
                    InteractionKind::View,
                )
            })
            .collect::<Vec<_>>()
    };
    features::with_device("mobile", interactions::record(store, &views(&phone.id)))
        .await
        .unwrap();
    interactions::record(store, &views(&desk.id)).await.unwrap();
    let id = create(&app, &token, mobile_users()).await;
    let r = app
        .call("GET", &format!("{BASE}/{id}/users"), Some(&token), None)
        .await;
    assert_eq!(r.json["total_users"], 1, "{}", r.text);
    assert_eq!(r.json["users"][0]["user_id"], phone.id.as_str());

    let r = app
        .call(
            "POST",
            BASE,
            Some(&token),
            Some(
                json!({"name": "Young French", "segment_type": "demographic",
                "criteria": {"age": {"min": 18, "max": 34}, "country": "FR"}}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["member_count"], 0);
    let dob = (chrono::Utc::now().date_naive() - chrono::Days::new(25 * 366))
        .format("%Y-%m-%d")
        .to_string();
    users::update(store, &desk.id, |u| {
        u.date_of_birth = Some(dob.clone());
        u.address = Some(users::Address {
            street: "1 rue de Rivoli".into(),
            city: "Paris".into(),
            state: "IDF".into(),
            zip_code: "75001".into(),
            country: "FR".into(),
            ..Default::default()
        });
        true
    })
    .await
    .unwrap();
    assert_eq!(segment_names_of(&app, &desk.id).await, ["Young French"]);
    let prefs = users::Preferences {
        interests: vec!["Running".into()],
        ..Default::default()
    };
    let r = app
        .call(
            "POST",
            BASE,
            Some(&token),
            Some(json!({"name": "Runners", "segment_type": "interest",
                "criteria": {"interests": ["running"]}})),
        )
        .await;
    assert_eq!(r.status, 201);
    users::set_preferences(store, &phone.id, &prefs)
        .await
        .unwrap();
    assert_eq!(
        segment_names_of(&app, &phone.id).await,
        ["Mobile Users", "Runners"]
    );
}

#[tokio::test]
async fn manual_members_are_added_removed_and_kept_by_recalculate() {
    let app = app();
    let token = admin(&app).await;
    let (u, _) = app.user_with_roles("vip", &[Role::Customer]).await;
    let id = create(&app, &token, high_value()).await;
    let add = format!("{BASE}/{id}/users/{}", u.id);
    let r = app.call("POST", &add, Some(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["changed"], true);
    let r = app.call("POST", &add, Some(&token), None).await;
    assert_eq!(r.json["changed"], false, "already a member");
    assert_eq!(
        segment_names_of(&app, &u.id).await,
        ["High Value Customers"]
    );
    // No orders: the criteria do not hold, but a manual member stays.
    let r = app
        .call(
            "POST",
            &format!("{BASE}/{id}/recalculate"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["message"], "Segment recalculated successfully");
    assert_eq!(r.json["member_count"], 1);
    assert_eq!(
        segment_names_of(&app, &u.id).await,
        ["High Value Customers"]
    );
    let r = app
        .call("GET", &format!("{BASE}/{id}/users"), Some(&token), None)
        .await;
    assert_eq!(r.json["total_users"], 1);
    // Unknown segment or user.
    let r = app
        .call(
            "POST",
            &format!("{BASE}/nope/users/{}", u.id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json["error_code"].as_str()),
        (404, Some("SEGMENT_NOT_FOUND"))
    );
    let r = app
        .call(
            "POST",
            &format!("{BASE}/{id}/users/nobody"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json["error_code"].as_str()),
        (404, Some("USER_NOT_FOUND"))
    );
    let r = app
        .call(
            "DELETE",
            &format!("{BASE}/{id}/users/nobody"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .call(
            "POST",
            &format!("{BASE}/nope/recalculate"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    // Remove: gone, and a second remove is 404.
    let r = app.call("DELETE", &add, Some(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(segment_names_of(&app, &u.id).await.is_empty());
    let r = app.call("DELETE", &add, Some(&token), None).await;
    assert_eq!(r.status, 404);
    let r = app
        .call(
            "POST",
            &format!("{BASE}/{id}/recalculate"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.json["member_count"], 0, "no longer manual");
}

#[tokio::test]
async fn users_and_analytics_refuse_bad_paging_and_periods() {
    let app = app();
    let token = admin(&app).await;
    let id = create(&app, &token, high_value()).await;
    for q in [
        "limit=0",
        "limit=1001",
        "offset=-1",
        "offset=100001",
        "limit=x",
    ] {
        let r = app
            .call("GET", &format!("{BASE}/{id}/users?{q}"), Some(&token), None)
            .await;
        assert_eq!(r.status, 422, "{q}: {}", r.text);
    }
    let r = app
        .call("GET", &format!("{BASE}/nope/users"), Some(&token), None)
        .await;
    assert_eq!(r.status, 404);
    for q in ["days=0", "days=366", "days=abc"] {
        let r = app
            .call("GET", &format!("{BASE}/analytics?{q}"), Some(&token), None)
            .await;
        assert_eq!(r.status, 422, "{q}: {}", r.text);
        assert_eq!(fields(&r.json), ["days"]);
    }
    let r = app
        .call(
            "GET",
            &format!("{BASE}/analytics?segment_id=nope"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .call("GET", &format!("{BASE}/analytics"), Some(&token), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json[0]["segment_id"], id.as_str());
    assert_eq!(r.json[0]["member_count"], 0);
    assert_eq!(r.json[0]["conversion_rate"], 0.0);
    assert_eq!(r.json[0]["avg_order_value"], 0.0);
}

#[tokio::test]
async fn users_pages_with_limit_and_offset() {
    let app = app();
    let token = admin(&app).await;
    let id = create(
        &app,
        &token,
        json!({"name": "Hand", "segment_type": "manual"}),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (u, _) = app
            .user_with_roles(&format!("m{i}"), &[Role::Customer])
            .await;
        let r = app
            .call(
                "POST",
                &format!("{BASE}/{id}/users/{}", u.id),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status, 200);
        ids.push(u.id);
    }
    ids.sort();
    let r = app
        .call(
            "GET",
            &format!("{BASE}/{id}/users?limit=2&offset=3"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.json["total_users"], 5);
    let got: Vec<_> = r.json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, ids[3..5]);
}

#[tokio::test]
async fn generate_rfm_clusters_customers_and_refuses_bad_input() {
    let app = app();
    let token = admin(&app).await;
    let store = app.state.store.as_ref();
    let uri = format!("{BASE}/generate-rfm");
    for (body, field) in [
        (json!({"n_clusters": 1}), "n_clusters"),
        (json!({"n_clusters": 13}), "n_clusters"),
        (json!({"n_clusters": "5"}), "n_clusters"),
        (json!({"lookback_days": 0}), "lookback_days"),
        (json!({"lookback_days": 3651}), "lookback_days"),
    ] {
        let r = app
            .call("POST", &uri, Some(&token), Some(body.clone()))
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert_eq!(fields(&r.json), [field], "{body}");
    }
    let (_, customer) = app.user_with_roles("c0", &[Role::Customer]).await;
    let r = app
        .call("POST", &uri, Some(&customer), Some(json!({})))
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .call(
            "POST",
            &uri,
            Some(&token),
            Some(json!({"n_clusters": 2, "lookback_days": 365})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json["error_code"], "NOT_ENOUGH_CUSTOMERS");
    // Three big spenders with two orders each, three small one-off buyers.
    let big = fixtures::product(store, app.state.embedder.as_ref(), "BIG", 900.0, 100).await;
    let small = fixtures::product(store, app.state.embedder.as_ref(), "SMALL", 5.0, 100).await;
    // One small buyer spends a little more, so the customers make three distinct R/F/M points
    // even when orders placed in the same millisecond give the others identical ones.
    let mid = fixtures::product(store, app.state.embedder.as_ref(), "MID", 50.0, 100).await;
    let mut whales = Vec::new();
    for i in 0..3 {
        let (u, _) = app
            .user_with_roles(&format!("whale{i}"), &[Role::Customer])
            .await;
        fixtures::place_order(store, &u.id, &[&big.id]).await;
        fixtures::place_order(store, &u.id, &[&big.id]).await;
        whales.push(u.id);
        let (s, _) = app
            .user_with_roles(&format!("minnow{i}"), &[Role::Customer])
            .await;
        let bought = if i == 2 { &mid.id } else { &small.id };
        fixtures::place_order(store, &s.id, &[bought]).await;
    }
    // A cancelled order does not count: this customer has nothing left.
    let (gone, _) = app.user_with_roles("gone", &[Role::Customer]).await;
    let o = fixtures::place_order(store, &gone.id, &[&big.id]).await;
    orders::update_status(store, &o.id, OrderStatus::Cancelled, None)
        .await
        .unwrap();
    let r = app
        .call(
            "POST",
            &uri,
            Some(&token),
            Some(json!({"n_clusters": 2, "lookback_days": 30})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["message"], "RFM segments generated successfully");
    assert_eq!(r.json["segments_created"], 2);
    assert_eq!(r.json["total_users_segmented"], 6);
    let segs = r.json["segments"].as_array().unwrap().clone();
    let counts: Vec<u64> = segs
        .iter()
        .map(|s| s["member_count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 6);
    let whale_segment = segment_names_of(&app, &whales[0]).await;
    assert_eq!(whale_segment.len(), 1);
    for w in &whales {
        assert_eq!(segment_names_of(&app, w).await, whale_segment);
    }
    assert!(segment_names_of(&app, &gone.id).await.is_empty());
    // The generated segments are listed as rfm, not auto-updating, with ranges as criteria.
    let list = app.call("GET", BASE, Some(&token), None).await.json;
    let generated: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["segment_type"] == "rfm")
        .collect();
    assert_eq!(generated.len(), 2);
    for g in &generated {
        assert_eq!(g["auto_update"], false);
        assert!(g["criteria"]["monetary_amount"]["min"].is_number(), "{g}");
        let name = g["name"].as_str().unwrap();
        assert!(
            shared::reco::rfm::NAMES.iter().any(|(n, _, _)| *n == name),
            "{name}"
        );
    }
    // Generating again replaces them (k = 3 now).
    let r = app
        .call("POST", &uri, Some(&token), Some(json!({"n_clusters": 3})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = app.call("GET", BASE, Some(&token), None).await.json;
    let n = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["segment_type"] == "rfm")
        .count();
    assert_eq!(n, 3);
    assert_eq!(segment_names_of(&app, &whales[0]).await.len(), 1);
}
