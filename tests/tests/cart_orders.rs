//! Cart and orders (`/api/v1/cart`, `/api/v1/orders`): stock under concurrent orders.
//! Each check runs against the in-memory backends and, with the emulator (`tests/run.sh`),
//! against DynamoDB + S3 on moto.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer, admin_product};
use futures::future::join_all;
use serde_json::json;

api_tests::suite!(fifty_concurrent_orders_for_ten_units_sell_exactly_ten,);

/// Admin creates a category and a product (10 in stock) over HTTP; 50 customers each put one in
/// their cart and order at the same time: exactly 10 orders succeed, the rest get 409, stock ends
/// at 0, and a retried order with the same idempotency key is the same order.
async fn fifty_concurrent_orders_for_ten_units_sell_exactly_ten(b: Backend) {
    use shared::{
        auth::{Role, password::hash_password, permissions_for},
        domain::users::{self, NewUser},
    };
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let admin = s.token("admin@ecommerce.com", "admin123").await;
    let product_id = admin_product(
        &s,
        &admin,
        "Consoles",
        json!({"name": "Game Console", "code": "GC-1", "price": 499.0, "stock_quantity": 10,
               "description": "A home video game console", "tags": ["gaming"]}),
    )
    .await;

    let hash = hash_password("password123").await.unwrap();
    let mut tokens = Vec::new();
    for i in 0..50 {
        let user = users::create(
            s.state.store.as_ref(),
            NewUser {
                email: format!("buyer{i}@example.com"),
                username: Some(format!("buyer{i}")),
                first_name: "Buyer".into(),
                last_name: format!("{i}"),
                phone: None,
                address: None,
                is_active: true,
                roles: vec![Role::Customer],
                password_hash: hash.clone(),
            },
        )
        .await
        .unwrap();
        let token = s
            .state
            .jwt
            .issue(&user.id, user.roles.clone(), permissions_for(&user.roles))
            .unwrap();
        let added = s
            .json(
                "POST",
                "/api/v1/cart/add",
                Some(&token),
                Some(json!({"product_id": product_id, "quantity": 1})),
            )
            .await;
        assert_eq!(added.status, 200, "{}", added.text);
        tokens.push(token);
    }
    let address = json!({"street": "1 Main St", "city": "Austin", "state": "TX",
                         "zip_code": "73301", "country": "US"});
    let orders = tokens.iter().map(|t| {
        let (s, address) = (&s, address.clone());
        async move {
            s.json(
                "POST",
                "/api/v1/orders",
                Some(t),
                Some(json!({"billing_address": address})),
            )
            .await
        }
    });
    let replies = join_all(orders).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_error(409, "INSUFFICIENT_STOCK");
    }
    assert_eq!(created, 10);
    let after = s
        .json("GET", &format!("/api/v1/products/{product_id}"), None, None)
        .await;
    assert_eq!(after.json["stock_quantity"], 0);
    assert_eq!(after.json["in_stock"], false);

    // Idempotency: restock one, order twice with one key, get one order.
    let restock = s
        .json(
            "PUT",
            &format!("/api/v1/admin/products/{product_id}"),
            Some(&admin),
            Some(json!({"stock_quantity": 1})),
        )
        .await;
    assert_eq!(restock.status, 200, "{}", restock.text);
    let loser = replies.iter().position(|r| r.status == 409).unwrap();
    let token = &tokens[loser];
    let send = || async {
        let resp = s
            .client
            .post(s.url("/api/v1/orders"))
            .bearer_auth(token)
            .header("idempotency-key", "retry-key-1")
            .json(&json!({"billing_address": address}))
            .send()
            .await
            .unwrap();
        api_tests::Reply::from(resp).await
    };
    let first = send().await;
    assert_eq!(first.status, 201, "{}", first.text);
    let second = send().await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(first.json["id"], second.json["id"]);
    let mine = s.json("GET", "/api/v1/orders", Some(token), None).await;
    assert_eq!(mine.json.as_array().unwrap().len(), 1);
}
