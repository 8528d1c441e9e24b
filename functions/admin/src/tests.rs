use serde_json::json;
use shared::{auth::Role, testkit::TestApp};

use crate::router;

#[tokio::test]
async fn admin_creates_lists_updates_and_assigns_roles() {
    let app = TestApp::new(router);
    let (admin, token) = app.user_with_roles("root", &[Role::Admin]).await;
    let created = app
        .call(
            "POST",
            "/api/v1/admin/users/",
            Some(&token),
            Some(json!({"email": "jane@example.com", "password": "securepassword123", "first_name": "Jane",
                        "last_name": "Smith", "username": "jane_smith"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap_or_default().to_string();

    let list = app
        .call(
            "GET",
            "/api/v1/admin/users/?page=1&page_size=20&search=JANE",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json.as_array().map(Vec::len), Some(1));
    assert_eq!(
        list.headers
            .get("x-total-count")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );

    let upd = app
        .call(
            "PUT",
            &format!("/api/v1/admin/users/{id}"),
            Some(&token),
            Some(json!({"last_name": "Johnson", "is_active": false})),
        )
        .await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    assert_eq!(upd.json["is_active"], false);

    let assign = app
        .call(
            "POST",
            &format!("/api/v1/admin/users/{id}/roles/manager"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(assign.status, 200, "{}", assign.text);
    assert_eq!(assign.json["roles"], json!(["customer", "manager"]));
    let by_id = app
        .call(
            "DELETE",
            &format!("/api/v1/admin/users/{id}/roles/{}", Role::Manager.id()),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(by_id.json["roles"], json!(["customer"]));

    let selfremove = app
        .call(
            "DELETE",
            &format!("/api/v1/admin/users/{}/roles/admin", admin.id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(selfremove.status, 409);
}

#[tokio::test]
async fn permissions_are_enforced_per_route() {
    let app = TestApp::new(router);
    let (_, customer) = app.user_with_roles("cust", &[Role::Customer]).await;
    let (_, manager) = app.user_with_roles("mgr", &[Role::Manager]).await;
    assert_eq!(
        app.call("GET", "/api/v1/admin/users", Some(&customer), None)
            .await
            .status,
        403
    );
    assert_eq!(
        app.call("GET", "/api/v1/admin/users", Some(&manager), None)
            .await
            .status,
        200
    );
    let create = json!({"email": "x@example.com", "password": "password123", "first_name": "X", "last_name": "Y"});
    assert_eq!(
        app.call("POST", "/api/v1/admin/users", Some(&manager), Some(create))
            .await
            .status,
        403
    );
    assert_eq!(
        app.call("GET", "/api/v1/admin/system/status", Some(&manager), None)
            .await
            .status,
        403
    );
    assert_eq!(
        app.call("GET", "/api/v1/admin/system/config", Some(&manager), None)
            .await
            .status,
        403
    );
    assert_eq!(
        app.call(
            "POST",
            "/api/v1/admin/users/x/roles/admin",
            Some(&manager),
            None
        )
        .await
        .status,
        403
    );
}

#[tokio::test]
async fn system_status_counts_users() {
    let app = TestApp::new(router);
    let (_, token) = app.user_with_roles("boss", &[Role::Admin]).await;
    app.user_with_roles("u2", &[Role::Customer]).await;
    let s = app
        .call("GET", "/api/v1/admin/system/status", Some(&token), None)
        .await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.json["system_health"]["database"], "healthy");
    assert_eq!(s.json["system_health"]["user_data_stats"]["total_users"], 2);
    assert_eq!(s.json["recent_activity"]["new_users_24h"], 2);
    let c = app
        .call("GET", "/api/v1/admin/system/config", Some(&token), None)
        .await;
    assert_eq!(c.json["free_shipping_threshold"], 50.0);
    assert!(!c.text.to_lowercase().contains("secret"));
}

/// Every figure of the system status moves when the thing it counts happens (and back, where
/// the thing can be undone).
#[tokio::test]
async fn every_system_status_figure_moves() {
    use shared::{
        domain::{
            orders::{self, PlaceOrder},
            stats, users, viewed,
        },
        fixtures,
        store::{Item, PK, SK},
    };
    let app = TestApp::new(router);
    let store = app.state.store.as_ref();
    let (_, token) = app.user_with_roles("boss", &[Role::Admin]).await;
    let status = || async {
        let s = app
            .call("GET", "/api/v1/admin/system/status", Some(&token), None)
            .await;
        assert_eq!(s.status, 200, "{}", s.text);
        s.json
    };
    let figures = |s: &serde_json::Value| {
        let u = &s["system_health"]["user_data_stats"];
        let a = &s["recent_activity"];
        [
            &u["total_users"],
            &u["users_with_usernames"],
            &u["users_with_addresses"],
            &u["users_with_viewed_products"],
            &a["orders_24h"],
            &a["new_users_24h"],
            &a["cod_orders_24h"],
            &s["system_health"]["ml_models_active"],
        ]
        .map(|v| v.as_i64().unwrap_or(-1))
    };
    let s = status().await;
    assert_eq!(s["system_health"]["database"], "healthy");
    assert_eq!(s["system_health"]["database_backend"], store.backend_name());
    assert_eq!(figures(&s), [1, 1, 0, 0, 0, 1, 0, 0]);

    let (buyer, _) = app.user_with_roles("buyer", &[Role::Customer]).await;
    users::update(store, &buyer.id, |u| {
        u.address = Some(users::Address {
            street: "1 Main St".into(),
            city: "Austin".into(),
            state: "TX".into(),
            zip_code: "73301".into(),
            country: "US".into(),
            apartment: None,
            landmark: None,
            address_type: None,
        });
        true
    })
    .await
    .unwrap();
    assert_eq!(figures(&status().await), [2, 2, 1, 0, 0, 2, 0, 0]);

    let p = fixtures::product(store, app.state.embedder.as_ref(), "S-1", 60.0, 10).await;
    viewed::add(store, &buyer.id, &p.id).await.unwrap();
    viewed::add(store, &buyer.id, &p.id).await.unwrap();
    assert_eq!(figures(&status().await), [2, 2, 1, 1, 0, 2, 0, 0]);
    viewed::clear(store, &buyer.id).await.unwrap();
    assert_eq!(figures(&status().await), [2, 2, 1, 0, 0, 2, 0, 0]);

    fixtures::place_order(store, &buyer.id, &[&p.id]).await;
    assert_eq!(figures(&status().await), [2, 2, 1, 0, 1, 2, 0, 0]);
    orders::place_lines(
        store,
        PlaceOrder {
            user_id: buyer.id.clone(),
            billing_address: fixtures::address(),
            shipping_address: fixtures::address(),
            payment_method: "cash_on_delivery".into(),
            recommendation_source: None,
            recommendation_session_id: None,
            order_notes: None,
            idempotency_key: None,
        },
        &[(p.id.clone(), 1)],
        "cod-order",
    )
    .await
    .unwrap();
    assert_eq!(figures(&status().await), [2, 2, 1, 0, 2, 2, 1, 0]);

    for (n, key) in stats::model_pointers().into_iter().enumerate() {
        let mut item = Item::new();
        item.insert(PK.into(), key.pk.into());
        item.insert(SK.into(), key.sk.into());
        item.insert("version".into(), "v1".into());
        store.put(item, None).await.unwrap();
        let s = status().await;
        assert_eq!(s["system_health"]["ml_models_active"], n + 1);
    }
}

#[tokio::test]
async fn unknown_user_and_role_are_404() {
    let app = TestApp::new(router);
    let (_, token) = app.user_with_roles("root2", &[Role::Admin]).await;
    let r = app
        .call(
            "GET",
            "/api/v1/admin/users/does-not-exist",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["error_code"], "USER_NOT_FOUND");
    let r = app
        .call(
            "POST",
            "/api/v1/admin/users/does-not-exist/roles/manager",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .call(
            "POST",
            "/api/v1/admin/users/x/roles/superuser",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["error_code"], "ROLE_NOT_FOUND");
}
