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

async fn seed_products(app: &TestApp, n: usize) -> Vec<String> {
    let state = &app.state;
    let mut ids = Vec::new();
    for i in 0..n {
        let p = shared::fixtures::product(
            state.store.as_ref(),
            state.embedder.as_ref(),
            &format!("T-{i}"),
            10.0 + i as f64,
            3,
        )
        .await;
        ids.push(p.id);
    }
    ids
}

#[tokio::test]
async fn viewed_products_add_list_and_clear() {
    let app = TestApp::new(router);
    let (_, token) = app.user_with_roles("vic", &[Role::Customer]).await;
    let ids = seed_products(&app, 3).await;
    for id in [&ids[0], &ids[1], &ids[2], &ids[0]] {
        let r = app
            .call(
                "POST",
                &format!("/api/v1/users/viewed-products/{id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["message"], "Product added to viewed history");
    }
    let r = app
        .call(
            "GET",
            "/api/v1/users/viewed-products?limit=2",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got: Vec<&str> = r.json["viewed_products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [ids[0].as_str(), ids[2].as_str()],
        "most recent first, no duplicates"
    );
    let first = &r.json["viewed_products"][0];
    assert_eq!(first["name"], "Product T-0");
    assert_eq!(first["in_stock"], true);
    assert_eq!(first["is_active"], true);

    let missing = app
        .call(
            "POST",
            "/api/v1/users/viewed-products/nope",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
    let bad = app
        .call(
            "GET",
            "/api/v1/users/viewed-products?limit=0",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(bad.status, 422);
    let anon = app
        .call("GET", "/api/v1/users/viewed-products", None, None)
        .await;
    assert_eq!(anon.status, 401);

    let r = app
        .call(
            "DELETE",
            "/api/v1/users/viewed-products",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["message"], "Viewed products history cleared");
    let r = app
        .call("GET", "/api/v1/users/viewed-products", Some(&token), None)
        .await;
    assert_eq!(r.json["viewed_products"], json!([]));
}

#[tokio::test]
async fn a_viewed_products_add_records_a_view_interaction() {
    use shared::domain::interactions::{Actor, KindWeights, actor_history};
    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("vic", &[Role::Customer]).await;
    let ids = seed_products(&app, 2).await;
    for id in [&ids[0], &ids[1], &ids[0]] {
        let r = app
            .call(
                "POST",
                &format!("/api/v1/users/viewed-products/{id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let missing = app
        .call(
            "POST",
            "/api/v1/users/viewed-products/nope",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
    let (mut history, _) = actor_history(
        app.state.store.as_ref(),
        &Actor::User(user.id),
        &KindWeights::default(),
    )
    .await
    .unwrap();
    history.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![(ids[0].clone(), 2.0), (ids[1].clone(), 1.0)];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        history, expected,
        "one view per add; the 404 records nothing"
    );
}
