use serde_json::json;
use shared::{auth::Role, testkit::TestApp};

use crate::router;

#[tokio::test]
async fn profile_round_trip() {
    let app = TestApp::new(router);
    let (_, token) = app.user_with_roles("carol", &[Role::Customer]).await;
    let r = app
        .call(
            "PUT",
            "/api/v1/users/profile",
            Some(&token),
            Some(
                json!({"last_name": "Smith", "gender": "female", "date_of_birth": "1990-01-15",
                        "address": {"street": "1 Main St", "city": "Austin", "state": "TX",
                                    "zip_code": "73301", "country": "US", "address_type": "home"}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["message"], "Profile updated successfully");
    let p = app
        .call("GET", "/api/v1/users/profile", Some(&token), None)
        .await;
    assert_eq!(p.status, 200);
    assert_eq!(p.json["last_name"], "Smith");
    assert_eq!(p.json["address"]["city"], "Austin");
    assert_eq!(p.json["roles"][0]["name"], "customer");
    assert!(
        p.json["permissions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "orders.view"))
    );
}

#[tokio::test]
async fn username_change_is_unique_and_frees_the_old_name() {
    let app = TestApp::new(router);
    let (_, t1) = app.user_with_roles("dave", &[Role::Customer]).await;
    let (_, t2) = app.user_with_roles("erin", &[Role::Customer]).await;
    let clash = app
        .call(
            "PUT",
            "/api/v1/users/username",
            Some(&t2),
            Some(json!({"username": "DAVE"})),
        )
        .await;
    assert_eq!(clash.status, 409);
    assert_eq!(clash.json["error_code"], "USERNAME_TAKEN");
    let ok = app
        .call(
            "PUT",
            "/api/v1/users/username",
            Some(&t1),
            Some(json!({"username": "david"})),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["username"], "david");
    let reuse = app
        .call(
            "PUT",
            "/api/v1/users/username",
            Some(&t2),
            Some(json!({"username": "dave"})),
        )
        .await;
    assert_eq!(reuse.status, 200, "old name is free again: {}", reuse.text);
}

#[tokio::test]
async fn preferences_round_trip_and_validation() {
    let app = TestApp::new(router);
    let (_, token) = app.user_with_roles("fay", &[Role::Customer]).await;
    let body = json!({"price_range": "premium", "brand_preference": "brand_loyal",
                      "interests": ["electronics"], "categories": ["laptops"], "newsletter_subscription": true});
    let r = app
        .call(
            "POST",
            "/api/v1/users/preferences",
            Some(&token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = app
        .call("GET", "/api/v1/users/preferences", Some(&token), None)
        .await;
    assert_eq!(g.json, body);
    let bad = app
        .call(
            "POST",
            "/api/v1/users/preferences",
            Some(&token),
            Some(json!({"price_range": "free"})),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json["field_errors"][0]["field"], "price_range");
}

#[tokio::test]
async fn requires_a_token() {
    let app = TestApp::new(router);
    let r = app.call("GET", "/api/v1/users/profile", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.headers.get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
}
