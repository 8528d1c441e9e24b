use serde_json::{Value, json};
use shared::{
    auth::Role,
    fixtures,
    testkit::{TestApp, request},
};

use crate::router;

async fn product(app: &TestApp, code: &str, price: f64, stock: i64) -> String {
    let state = &app.state;
    fixtures::product(
        state.store.as_ref(),
        state.embedder.as_ref(),
        code,
        price,
        stock,
    )
    .await
    .id
}

async fn guest_call(
    app: &TestApp,
    method: &str,
    uri: &str,
    cart_id: Option<&str>,
    body: Option<Value>,
) -> shared::testkit::TestResponse {
    let mut req = request(method, uri, None, body);
    if let Some(id) = cart_id {
        req.headers_mut().insert("x-cart-id", id.parse().unwrap());
    }
    app.send(req).await
}

#[tokio::test]
async fn user_cart_add_get_update_clear() {
    let app = TestApp::new(router);
    let (_, token) = app.user_with_roles("carl", &[Role::Customer]).await;
    let phone = product(&app, "P1", 999.99, 5).await;
    let case = product(&app, "C1", 19.99, 100).await;

    let r = app
        .call(
            "POST",
            "/api/v1/cart/add",
            Some(&token),
            Some(json!({"product_id": phone, "quantity": 2})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["quantity"], 2);
    assert_eq!(r.json["unit_price"], 999.99);
    assert_eq!(r.json["total_price"], 1999.98);
    assert!(
        r.headers.get("x-cart-id").is_none(),
        "users have no guest id"
    );
    let line_id = r.json["id"].as_str().unwrap().to_string();
    app.call(
        "POST",
        "/api/v1/cart/add",
        Some(&token),
        Some(json!({"product_id": case, "quantity": 3})),
    )
    .await;
    let again = app
        .call(
            "POST",
            "/api/v1/cart/add",
            Some(&token),
            Some(json!({"product_id": phone, "quantity": 1})),
        )
        .await;
    assert_eq!(again.json["quantity"], 3, "merged into the same line");
    assert_eq!(again.json["id"], line_id.as_str());

    let cart = app.call("GET", "/api/v1/cart/", Some(&token), None).await;
    assert_eq!(cart.status, 200, "{}", cart.text);
    assert_eq!(cart.json["item_count"], 2);
    assert_eq!(cart.json["total_items"], 6);
    assert_eq!(cart.json["subtotal"], 3059.94);
    assert_eq!(cart.json["items"][0]["product"]["name"], "Product P1");
    assert_eq!(cart.json["items"][0]["product"]["in_stock"], true);

    let r = app
        .call(
            "PUT",
            &format!("/api/v1/cart/items/{line_id}"),
            Some(&token),
            Some(json!({"quantity": 1})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["total_price"], 999.99);

    let r = app
        .call("DELETE", "/api/v1/cart/clear", Some(&token), None)
        .await;
    assert_eq!(r.json["message"], "Cart cleared successfully");
    let cart = app.call("GET", "/api/v1/cart", Some(&token), None).await;
    assert_eq!(cart.json["items"], json!([]));
    assert_eq!(cart.json["subtotal"], 0.0);
}

#[tokio::test]
async fn cart_bad_input() {
    let app = TestApp::new(router);
    let (_, token) = app.user_with_roles("bea", &[Role::Customer]).await;
    let phone = product(&app, "P1", 10.0, 5).await;
    for (body, status) in [
        (json!({"product_id": phone, "quantity": 0}), 422),
        (json!({"product_id": phone, "quantity": -2}), 422),
        (json!({"product_id": phone, "quantity": 101}), 422),
        (json!({"product_id": phone}), 422),
        (json!({"product_id": phone, "quantity": "two"}), 400),
        (json!({"product_id": phone, "quantity": 6}), 409),
        (json!({"product_id": "nope", "quantity": 1}), 404),
    ] {
        let r = app
            .call("POST", "/api/v1/cart/add", Some(&token), Some(body.clone()))
            .await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
    }
    let r = app
        .call(
            "POST",
            "/api/v1/cart/add",
            Some(&token),
            Some(json!({"product_id": phone, "quantity": 6})),
        )
        .await;
    assert_eq!(r.json["error_code"], "INSUFFICIENT_STOCK");
    assert_eq!(r.json["detail"], "Only 5 in stock");
    let r = app
        .call(
            "PUT",
            "/api/v1/cart/items/nope",
            Some(&token),
            Some(json!({"quantity": 1})),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["error_code"], "CART_ITEM_NOT_FOUND");
    let r = guest_call(&app, "GET", "/api/v1/cart", Some("not-a-uuid"), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error_code"], "INVALID_CART_ID");
    let r = app
        .call("GET", "/api/v1/cart", Some("bad-token"), None)
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn guests_get_a_cart_id_and_keep_using_it() {
    let app = TestApp::new(router);
    let phone = product(&app, "P1", 10.0, 5).await;
    let empty = guest_call(&app, "GET", "/api/v1/cart", None, None).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json["item_count"], 0);

    let r = guest_call(
        &app,
        "POST",
        "/api/v1/cart/add",
        None,
        Some(json!({"product_id": phone, "quantity": 1})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cart_id = r.headers["x-cart-id"].to_str().unwrap().to_string();
    let r = guest_call(
        &app,
        "POST",
        "/api/v1/cart/add",
        Some(&cart_id),
        Some(json!({"product_id": phone, "quantity": 2})),
    )
    .await;
    assert_eq!(r.headers["x-cart-id"].to_str().unwrap(), cart_id);
    let cart = guest_call(&app, "GET", "/api/v1/cart", Some(&cart_id), None).await;
    assert_eq!(cart.json["total_items"], 3);
    let other = guest_call(
        &app,
        "GET",
        "/api/v1/cart",
        Some(&uuid::Uuid::new_v4().to_string()),
        None,
    )
    .await;
    assert_eq!(other.json["total_items"], 0, "another guest sees nothing");
}

#[tokio::test]
async fn tokens_of_missing_or_deactivated_accounts_cannot_use_a_cart() {
    let app = TestApp::new(router);
    let phone = product(&app, "P9", 10.0, 5).await;
    let add = json!({"product_id": phone, "quantity": 1});

    // A validly signed token for an account that does not exist.
    let ghost = app
        .state
        .jwt
        .issue(
            "0190c0de-0000-7000-8000-000000000000",
            vec!["customer".into()],
            vec!["cart.manage".into(), "cart.view".into()],
        )
        .unwrap();
    let r = app
        .call("POST", "/api/v1/cart/add", Some(&ghost), Some(add.clone()))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json["error_code"], "INVALID_TOKEN");
    // The cart routes take an optional token: a bad one is still refused, not treated as a guest.
    let r = app.call("GET", "/api/v1/cart", Some(&ghost), None).await;
    assert_eq!(r.status, 401, "{}", r.text);

    let (user, token) = app.user_with_roles("dana", &[Role::Customer]).await;
    let r = app
        .call("POST", "/api/v1/cart/add", Some(&token), Some(add.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    shared::domain::users::update(app.state.store.as_ref(), &user.id, |u| {
        u.is_active = false;
        true
    })
    .await
    .unwrap();
    // Another writer deactivated the account: this instance may trust its copy for a moment.
    app.state.auth_status.forget(&user.id);
    for (method, uri, body) in [
        ("POST", "/api/v1/cart/add", Some(add.clone())),
        ("GET", "/api/v1/cart", None),
    ] {
        let r = app.call(method, uri, Some(&token), body).await;
        assert_eq!(r.status, 401, "{method} {uri}: {}", r.text);
        assert_eq!(r.json["error_code"], "ACCOUNT_DISABLED");
    }
}

#[tokio::test]
async fn cart_adds_are_recorded_for_users_and_guests() {
    use shared::domain::interactions::{Actor, KindWeights, actor_history};
    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("cora", &[Role::Customer]).await;
    let p = product(&app, "P1", 10.0, 50).await;
    let w = KindWeights::default();
    for _ in 0..2 {
        let r = app
            .call(
                "POST",
                "/api/v1/cart/add",
                Some(&token),
                Some(json!({"product_id": p, "quantity": 3})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let store = app.state.store.as_ref();
    let (history, _) = actor_history(store, &Actor::User(user.id.clone()), &w)
        .await
        .unwrap();
    assert_eq!(history, vec![(p.clone(), 6.0)], "two adds, weight 3 each");

    // A guest's first add starts a cart; the add is recorded under that cart id.
    let r = guest_call(
        &app,
        "POST",
        "/api/v1/cart/add",
        None,
        Some(json!({"product_id": p, "quantity": 1})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cart_id = r.headers["x-cart-id"].to_str().unwrap().to_string();
    let (history, _) = actor_history(store, &Actor::Guest(cart_id), &w)
        .await
        .unwrap();
    assert_eq!(history, vec![(p.clone(), 3.0)]);

    // A refused add (over the stock) records nothing.
    let r = app
        .call(
            "POST",
            "/api/v1/cart/add",
            Some(&token),
            Some(json!({"product_id": p, "quantity": 50})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let (history, _) = actor_history(store, &Actor::User(user.id), &w)
        .await
        .unwrap();
    assert_eq!(history, vec![(p, 6.0)]);
}
