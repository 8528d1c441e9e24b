use std::sync::Arc;

use serde_json::{Value, json};
use shared::{
    auth::Role,
    domain::cart::{self, CartOwner},
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

fn address() -> Value {
    json!({"name": "John Doe", "street": "123 Main St", "city": "New York", "state": "NY",
           "zip_code": "10001", "country": "US"})
}

#[tokio::test]
async fn an_order_takes_stock_and_empties_the_cart_in_the_spec_shape() {
    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("olga", &[Role::Customer]).await;
    let phone = product(&app, "P1", 999.99, 5).await;
    let store = app.state.store.as_ref();
    let me = CartOwner::User(user.id.clone());
    cart::add(store, &me, &phone, 2).await.unwrap();

    let r = app
        .call(
            "POST",
            "/api/v1/orders/",
            Some(&token),
            Some(json!({"billing_address": address(), "payment_method": "cash_on_delivery",
                        "recommendation_source": "homepage", "recommendation_session_id": "rec_session_123",
                        "order_notes": "Please handle with care"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = &r.json;
    assert_eq!(o["subtotal"], 1999.98);
    assert_eq!(o["tax_amount"], 159.99);
    assert_eq!(o["shipping_amount"], 0.0);
    assert_eq!(o["total_amount"], 2159.97);
    assert_eq!(o["status"], "pending");
    assert_eq!(o["payment_method"], "cash_on_delivery");
    assert_eq!(o["recommendation_source"], "homepage");
    assert_eq!(o["shipping_address"], address(), "defaults to billing");
    assert_eq!(o["items"][0]["product_name"], "Product P1");
    assert_eq!(o["items"][0]["total_price"], 1999.98);
    assert!(o["order_number"].as_str().unwrap().starts_with("ORD-"));
    assert_eq!(app.stock(&phone).await, 3);
    assert!(cart::lines(store, &me).await.unwrap().is_empty());
    let id = o["id"].as_str().unwrap().to_string();

    let list = app
        .call(
            "GET",
            "/api/v1/orders/?page=1&page_size=20",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json[0]["id"], id.as_str());
    assert_eq!(list.json[0]["items"][0]["quantity"], 2);
    assert_eq!(list.headers["x-total-count"], "1");
    let none = app
        .call("GET", "/api/v1/orders?status=delivered", Some(&token), None)
        .await;
    assert_eq!(none.json, json!([]));

    let detail = app
        .call("GET", &format!("/api/v1/orders/{id}"), Some(&token), None)
        .await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.json["billing_address"]["city"], "New York");
    // Someone else's order is not found; an admin sees it.
    let (_, other) = app.user_with_roles("oscar", &[Role::Customer]).await;
    let r = app
        .call("GET", &format!("/api/v1/orders/{id}"), Some(&other), None)
        .await;
    assert_eq!(r.status, 404);
    let (_, admin) = app.user_with_roles("ada", &[Role::Admin]).await;
    let r = app
        .call("GET", &format!("/api/v1/orders/{id}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn order_errors() {
    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("pia", &[Role::Customer]).await;
    let p = product(&app, "P1", 20.0, 2).await;
    let empty = app
        .call(
            "POST",
            "/api/v1/orders",
            Some(&token),
            Some(json!({"billing_address": address()})),
        )
        .await;
    assert_eq!(empty.status, 400);
    assert_eq!(empty.json["error_code"], "CART_EMPTY");
    cart::add(
        app.state.store.as_ref(),
        &CartOwner::User(user.id.clone()),
        &p,
        1,
    )
    .await
    .unwrap();
    for (body, status, what) in [
        (json!({}), 422, "billing_address"),
        (
            json!({"billing_address": address(), "payment_method": "bitcoin"}),
            422,
            "payment_method",
        ),
        (
            json!({"billing_address": {"street": "x"}}),
            422,
            "billing_address.city",
        ),
    ] {
        let r = app
            .call("POST", "/api/v1/orders", Some(&token), Some(body.clone()))
            .await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
        assert!(r.text.contains(what), "{body}: {}", r.text);
    }
    let r = app
        .call("GET", "/api/v1/orders?status=lost", Some(&token), None)
        .await;
    assert_eq!(r.status, 422);
    let r = app
        .call("GET", "/api/v1/orders/nope", Some(&token), None)
        .await;
    assert_eq!(r.status, 404);
    let r = app.call("GET", "/api/v1/orders", None, None).await;
    assert_eq!(r.status, 401);
    // Shipping is charged below $50 and for other payment methods.
    let r = app
        .call(
            "POST",
            "/api/v1/orders",
            Some(&token),
            Some(json!({"billing_address": address(), "payment_method": "credit_card"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["shipping_amount"], 5.99);
    assert_eq!(r.json["payment_status"], "paid");
}

#[tokio::test]
async fn the_same_idempotency_key_gives_the_same_order() {
    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("ivan", &[Role::Customer]).await;
    let p = product(&app, "P1", 20.0, 10).await;
    cart::add(
        app.state.store.as_ref(),
        &CartOwner::User(user.id.clone()),
        &p,
        2,
    )
    .await
    .unwrap();
    let send = || {
        let mut req = request(
            "POST",
            "/api/v1/orders",
            Some(&token),
            Some(json!({"billing_address": address()})),
        );
        req.headers_mut()
            .insert("idempotency-key", "order-attempt-1".parse().unwrap());
        req
    };
    let first = app.send(send()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let retry = app.send(send()).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.json["id"], first.json["id"]);
    assert_eq!(app.stock(&p).await, 8, "stock taken once");
    let list = app.call("GET", "/api/v1/orders", Some(&token), None).await;
    assert_eq!(list.json.as_array().unwrap().len(), 1);
    let mut bad = send();
    bad.headers_mut()
        .insert("idempotency-key", "has space".parse().unwrap());
    assert_eq!(app.send(bad).await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_orders_for_ten_units_sell_exactly_ten() {
    let app = Arc::new(TestApp::new(router));
    let p = product(&app, "HOT", 10.0, 10).await;
    let mut tokens = Vec::new();
    for i in 0..50 {
        let (user, token) = app
            .user_with_roles(&format!("buyer{i:02}"), &[Role::Customer])
            .await;
        cart::add(app.state.store.as_ref(), &CartOwner::User(user.id), &p, 1)
            .await
            .unwrap();
        tokens.push(token);
    }
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let app = app.clone();
            tokio::spawn(async move {
                app.call(
                    "POST",
                    "/api/v1/orders",
                    Some(&token),
                    Some(json!({"billing_address": address()})),
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            201 => created += 1,
            409 => assert_eq!(r.json["error_code"], "INSUFFICIENT_STOCK", "{}", r.text),
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(created, 10);
    assert_eq!(app.stock(&p).await, 0);
}

#[tokio::test]
async fn totals_are_exact_where_float_arithmetic_is_a_cent_off() {
    // 25 x 2,114,081.05 = 52,852,026.25; 8% of it is 4,228,162.10 exactly, but
    // floor(52852026.25 * 0.08 * 100 + 1e-9) / 100 (the float code) gave 4,228,162.09.
    assert_eq!(
        (52_852_026.25f64 * 0.08 * 100.0 + 1e-9).floor(),
        422_816_209.0
    );
    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("cent", &[Role::Customer]).await;
    let big = product(&app, "BIG", 2_114_081.05, 30).await;
    let me = CartOwner::User(user.id.clone());
    cart::add(app.state.store.as_ref(), &me, &big, 25)
        .await
        .unwrap();
    let r = app
        .call(
            "POST",
            "/api/v1/orders/",
            Some(&token),
            Some(json!({"billing_address": address(), "payment_method": "credit_card"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["subtotal"], 52_852_026.25);
    assert_eq!(r.json["tax_amount"], 4_228_162.1);
    assert_eq!(r.json["shipping_amount"], 5.99);
    assert_eq!(r.json["total_amount"], 57_080_194.34);
    assert_eq!(r.json["items"][0]["unit_price"], 2_114_081.05);
}

#[tokio::test]
async fn an_order_stored_with_decimal_amounts_still_reads() {
    use shared::store::keys;
    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("olden", &[Role::Customer]).await;
    let p = product(&app, "P-OLD", 19.99, 5).await;
    let store = app.state.store.as_ref();
    cart::add(store, &CartOwner::User(user.id.clone()), &p, 1)
        .await
        .unwrap();
    let r = app
        .call(
            "POST",
            "/api/v1/orders/",
            Some(&token),
            Some(json!({"billing_address": address(), "payment_method": "credit_card"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_string();
    // Rewrite the order as an older version stored it: decimal amounts without `_cents`.
    let mut item = store.get(&keys::order(&id)).await.unwrap().unwrap();
    for (old, v) in [
        ("subtotal", 19.99),
        ("tax_amount", 1.59),
        ("shipping_amount", 5.99),
        ("total_amount", 27.57),
    ] {
        item.remove(&format!("{old}_cents"));
        item.insert(old.into(), json!(v));
    }
    let lines = item.get_mut("items").unwrap().as_array_mut().unwrap();
    let line = lines[0].as_object_mut().unwrap();
    line.remove("unit_price_cents");
    line.remove("total_price_cents");
    line.insert("unit_price".into(), json!(19.99));
    line.insert("total_price".into(), json!(19.99));
    store.put(item, None).await.unwrap();

    let detail = app
        .call("GET", &format!("/api/v1/orders/{id}"), Some(&token), None)
        .await;
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert_eq!(detail.json["total_amount"], 27.57);
    assert_eq!(detail.json["tax_amount"], 1.59);
    assert_eq!(detail.json["items"][0]["unit_price"], 19.99);
    let list = app.call("GET", "/api/v1/orders/", Some(&token), None).await;
    assert_eq!(list.json[0]["total_amount"], 27.57);
}

/// The sale moves only the product's counter item (no index keys); the product item is only
/// checked, in the same transaction: a product switched off (`in_stock: false`) is not sold even
/// with units left.
#[tokio::test]
async fn an_order_writes_the_counter_item_and_checks_the_product_item() {
    use shared::domain::catalog::{self, ProductPatch};
    use shared::store::keys;
    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("olga", &[Role::Customer]).await;
    let phone = product(&app, "P1", 10.0, 5).await;
    let store = app.state.store.as_ref();
    let product_item = store.get(&keys::product(&phone)).await.unwrap().unwrap();
    let me = CartOwner::User(user.id.clone());
    cart::add(store, &me, &phone, 2).await.unwrap();
    let order = |token: String| {
        let app = &app;
        async move {
            app.call(
                "POST",
                "/api/v1/orders/",
                Some(&token),
                Some(json!({"billing_address": address()})),
            )
            .await
        }
    };
    let r = order(token.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        store.get(&keys::product(&phone)).await.unwrap().unwrap(),
        product_item,
        "the indexed product item is not written by a sale"
    );
    let counters = store
        .get(&keys::product_counters(&phone))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counters["stock_quantity"], 3);
    assert_eq!(counters["order_count"], 2);
    assert_eq!(counters["basket_count"], 1);

    cart::add(store, &me, &phone, 1).await.unwrap();
    catalog::update_product(
        store,
        app.state.embedder.as_ref(),
        &phone,
        &ProductPatch {
            in_stock: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = order(token).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(app.stock(&phone).await, 3, "nothing taken");
}

#[tokio::test]
async fn a_placed_order_records_one_purchase_per_line_once() {
    use shared::domain::interactions::{Actor, InteractionKind, actor_aggregates};
    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("pia", &[Role::Customer]).await;
    let a = product(&app, "PA", 20.0, 10).await;
    let b = product(&app, "PB", 5.0, 10).await;
    let store = app.state.store.as_ref();
    let me = CartOwner::User(user.id.clone());
    cart::add(store, &me, &a, 3).await.unwrap();
    cart::add(store, &me, &b, 1).await.unwrap();
    let send = || {
        let mut req = request(
            "POST",
            "/api/v1/orders",
            Some(&token),
            Some(json!({"billing_address": address()})),
        );
        req.headers_mut()
            .insert("idempotency-key", "buy-once".parse().unwrap());
        req
    };
    assert_eq!(app.send(send()).await.status, 201);
    assert_eq!(app.send(send()).await.status, 200, "an idempotent replay");
    let mut purchases: Vec<(String, i64)> = actor_aggregates(store, &Actor::User(user.id))
        .await
        .unwrap()
        .into_iter()
        .map(|agg| {
            let n = agg
                .counts
                .iter()
                .find(|(k, _)| *k == InteractionKind::Purchase)
                .map_or(0, |&(_, n)| n);
            (agg.product_id, n)
        })
        .collect();
    purchases.sort();
    let mut expected = vec![(a, 1), (b, 1)];
    expected.sort();
    assert_eq!(
        purchases, expected,
        "one purchase per line whatever the quantity, not again on the replay"
    );
}

/// Recommendation attribution when an order is placed: the list the order names
/// (`recommendation_session_id`) converts its lines; a product the user clicked in another list
/// within 24 hours converts for that list; each (list, product) once; nothing fails the order.
#[tokio::test]
async fn a_placed_order_converts_the_named_list_and_a_recently_clicked_one() {
    use shared::domain::rec_tracking::{self, Served, ServedItem};
    use shared::reco::algorithm::{Algorithm, Family};

    let app = TestApp::new(router);
    let (user, token) = app.user_with_roles("rita", &[Role::Customer]).await;
    let store = app.state.store.as_ref();
    let a = product(&app, "RA", 10.0, 50).await;
    let b = product(&app, "RB", 20.0, 50).await;
    let c = product(&app, "RC", 30.0, 50).await;
    let now = chrono::Utc::now();
    let served = |items: Vec<(&str, Algorithm)>| Served {
        recommendation_type: "homepage".into(),
        blended: false,
        actor: Some(shared::domain::interactions::Actor::User(user.id.clone())),
        arm: None,
        items: items
            .into_iter()
            .map(|(p, algorithm)| ServedItem {
                product_id: p.into(),
                algorithm,
                score: 0.5,
            })
            .collect(),
    };
    let named = rec_tracking::new_recommendation_id();
    rec_tracking::record_served(
        store,
        &named,
        &served(vec![(&a, Algorithm::CollaborativeFiltering)]),
        now,
    )
    .await
    .unwrap();
    let clicked = rec_tracking::new_recommendation_id();
    rec_tracking::record_served(store, &clicked, &served(vec![(&b, Algorithm::Fbt)]), now)
        .await
        .unwrap();
    rec_tracking::track_click(store, &clicked, &b, None, now)
        .await
        .unwrap();

    let me = CartOwner::User(user.id.clone());
    let conversions = |family| async move {
        rec_tracking::performance(store, &[family], chrono::Utc::now().date_naive(), 1, 10)
            .await
            .unwrap()
            .totals
            .conversions
    };
    for _ in 0..2 {
        for p in [&a, &b, &c] {
            cart::add(store, &me, p, 1).await.unwrap();
        }
        let r = app
            .call(
                "POST",
                "/api/v1/orders/",
                Some(&token),
                Some(json!({"billing_address": address(), "recommendation_session_id": named})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        // a through the named list, b through the click; c was never recommended. The second
        // order converts nothing more.
        assert_eq!(conversions(Family::Collaborative).await, 1);
        assert_eq!(conversions(Family::Fbt).await, 1);
    }
    // An id that names nothing does not fail the order.
    cart::add(store, &me, &c, 1).await.unwrap();
    let r = app
        .call(
            "POST",
            "/api/v1/orders/",
            Some(&token),
            Some(json!({"billing_address": address(), "recommendation_session_id": "rec_unknown"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}
