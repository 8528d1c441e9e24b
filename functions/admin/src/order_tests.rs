use serde_json::json;
use shared::{
    auth::Role,
    domain::cart::{self, CartOwner},
    fixtures,
    testkit::TestApp,
};

use crate::router;

/// A product with `stock` units and one placed order of `qty` of it; returns (product id, order id).
async fn placed_order(app: &TestApp, user_id: &str, stock: i64, qty: i64) -> (String, String) {
    let store = app.state.store.as_ref();
    let p = fixtures::product(store, app.state.embedder.as_ref(), "G-1", 25.0, stock).await;
    if qty > 1 {
        cart::add(store, &CartOwner::User(user_id.into()), &p.id, qty - 1)
            .await
            .unwrap();
    }
    let order = fixtures::place_order(store, user_id, &[&p.id]).await;
    (p.id, order.id)
}

#[tokio::test]
async fn admins_list_inspect_and_move_orders_through_the_state_machine() {
    let app = TestApp::new(router);
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let (_, manager) = app.user_with_roles("mona", &[Role::Manager]).await;
    let (buyer, customer) = app.user_with_roles("bob", &[Role::Customer]).await;
    let (product, order) = placed_order(&app, &buyer.id, 10, 3).await;
    assert_eq!(app.stock(&product).await, 7);

    let list = app
        .call(
            "GET",
            "/api/v1/admin/orders/?status=pending&page=1&page_size=20",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json[0]["id"], order.as_str());
    assert_eq!(list.json[0]["customer_email"], "bob@example.com");
    assert_eq!(list.json[0]["customer_username"], "bob");
    assert_eq!(list.json[0]["items_count"], 3);
    assert_eq!(list.headers["x-total-count"], "1");
    let none = app
        .call(
            "GET",
            "/api/v1/admin/orders?status=shipped",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(none.json, json!([]));

    let detail = app
        .call(
            "GET",
            &format!("/api/v1/admin/orders/{order}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.json["user"]["email"], "bob@example.com");
    assert_eq!(detail.json["recommendation_source"], "homepage");

    let set = |status: &'static str, token: String| {
        let app = &app;
        let order = order.clone();
        async move {
            app.call(
                "PUT",
                &format!("/api/v1/admin/orders/{order}/status"),
                Some(&token),
                Some(json!({"status": status, "admin_notes": "Shipped via FedEx"})),
            )
            .await
        }
    };
    let skip = set("delivered", admin.clone()).await;
    assert_eq!(skip.status, 409, "pending -> delivered skips shipped");
    assert_eq!(skip.json["error_code"], "INVALID_STATUS_TRANSITION");
    let ok = set("confirmed", manager.clone()).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["status"], "confirmed");
    assert_eq!(ok.json["admin_notes"], "Shipped via FedEx");
    assert_eq!(app.stock(&product).await, 7);

    let cancelled = set("cancelled", admin.clone()).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(app.stock(&product).await, 10, "cancel puts the stock back");
    assert_eq!(set("pending", admin.clone()).await.status, 409);
    assert_eq!(
        set("cancelled", admin.clone()).await.status,
        409,
        "only once"
    );
    assert_eq!(app.stock(&product).await, 10);

    assert_eq!(set("confirmed", customer.clone()).await.status, 403);
    let r = app
        .call("GET", "/api/v1/admin/orders", Some(&customer), None)
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .call("GET", "/api/v1/admin/orders/nope", Some(&admin), None)
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .call(
            "PUT",
            "/api/v1/admin/orders/nope/status",
            Some(&admin),
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/admin/orders/{order}/status"),
            Some(&admin),
            Some(json!({"status": "lost"})),
        )
        .await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn pending_orders_can_ship_without_being_confirmed() {
    // The spec's example: pending -> shipped, then delivered; shipped orders are not cancelled.
    let app = TestApp::new(router);
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let (buyer, _) = app.user_with_roles("eve", &[Role::Customer]).await;
    let (product, order) = placed_order(&app, &buyer.id, 5, 2).await;
    let put = |status: &'static str| {
        let app = &app;
        let path = format!("/api/v1/admin/orders/{order}/status");
        let admin = admin.clone();
        async move {
            app.call("PUT", &path, Some(&admin), Some(json!({"status": status})))
                .await
        }
    };
    let shipped = put("shipped").await;
    assert_eq!(shipped.status, 200, "{}", shipped.text);
    assert_eq!(shipped.json["status"], "shipped");
    let again = put("confirmed").await;
    assert_eq!(again.status, 409, "no way back to confirmed");
    assert_eq!(again.json["error_code"], "INVALID_STATUS_TRANSITION");
    assert_eq!(put("cancelled").await.status, 409);
    assert_eq!(app.stock(&product).await, 3);
    let delivered = put("delivered").await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    assert_eq!(delivered.json["status"], "delivered");
}

#[tokio::test]
async fn delivered_orders_cannot_be_cancelled() {
    let app = TestApp::new(router);
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let (buyer, _) = app.user_with_roles("dan", &[Role::Customer]).await;
    let (product, order) = placed_order(&app, &buyer.id, 5, 1).await;
    for status in ["confirmed", "shipped", "delivered"] {
        let r = app
            .call(
                "PUT",
                &format!("/api/v1/admin/orders/{order}/status"),
                Some(&admin),
                Some(json!({"status": status})),
            )
            .await;
        assert_eq!(r.status, 200, "{status}: {}", r.text);
    }
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/admin/orders/{order}/status"),
            Some(&admin),
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(app.stock(&product).await, 4);
}

#[tokio::test]
async fn a_cancel_withdraws_the_purchases_exactly_once() {
    use shared::domain::{
        interactions::{self, Actor, InteractionKind, KindWeights},
        orders,
    };
    let app = TestApp::new(router);
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let (buyer, _) = app.user_with_roles("bea", &[Role::Customer]).await;
    let (product, order_id) = placed_order(&app, &buyer.id, 10, 2).await;
    let store = app.state.store.as_ref();
    // The purchase the orders function records when the order is placed.
    let order = orders::get(store, &order_id).await.unwrap().unwrap();
    interactions::record(store, &orders::purchase_signals(&order, 1))
        .await
        .unwrap();
    let actor = Actor::User(buyer.id.clone());
    let purchases = || async {
        interactions::actor_aggregates(store, &actor)
            .await
            .unwrap()
            .iter()
            .filter(|a| a.product_id == product)
            .flat_map(|a| a.counts.clone())
            .filter(|(k, _)| *k == InteractionKind::Purchase)
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    assert_eq!(purchases().await, 1);

    // Moving along the machine withdraws nothing.
    let uri = format!("/api/v1/admin/orders/{order_id}/status");
    let r = app
        .call(
            "PUT",
            &uri,
            Some(&admin),
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(purchases().await, 1);

    // Two cancels race: one makes the transition, the other is 409; the purchase is withdrawn
    // once, and a later retry changes nothing.
    let cancel = || {
        app.call(
            "PUT",
            &uri,
            Some(&admin),
            Some(json!({"status": "cancelled"})),
        )
    };
    let (r1, r2) = tokio::join!(cancel(), cancel());
    let mut statuses = [r1.status.as_u16(), r2.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(cancel().await.status, 409);
    assert_eq!(purchases().await, 0, "withdrawn exactly once");
    let (history, _) = interactions::actor_history(store, &actor, &KindWeights::default())
        .await
        .unwrap();
    assert!(history.is_empty(), "{history:?}");
}
