//! `GET /api/v1/admin/system/status` from the outside: every figure moves when what it counts
//! happens through the API, and an order can ship without being confirmed. Runs against the
//! in-memory backends and, with the emulator (`tests/run.sh`), against DynamoDB on moto.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer};
use serde_json::{Value, json};
use shared::{
    domain::stats,
    store::{Item, PK, SK},
};

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(Backend::Memory).await } )*
        }
        mod emulator {
            use super::*;
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               #[ignore = "needs the AWS emulator: run tests/run.sh"]
               async fn $name() { super::$name(Backend::Emulator).await } )*
        }
    };
}

suite!(every_status_figure_moves_through_the_api);

/// The figures, in a fixed order: total users, with usernames, with addresses, with viewed
/// products, orders 24h, new users 24h, COD orders 24h, models in force.
fn figures(s: &Value) -> [i64; 8] {
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
}

/// `base` with `delta` added.
fn plus(base: [i64; 8], delta: [i64; 8]) -> [i64; 8] {
    std::array::from_fn(|i| base[i] + delta[i])
}

async fn every_status_figure_moves_through_the_api(b: Backend) {
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let admin = s.token("admin@ecommerce.com", "admin123").await;
    let status = || async {
        let r = s
            .json("GET", "/api/v1/admin/system/status", Some(&admin), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["system_health"]["database"], "healthy");
        figures(&r.json)
    };
    let base = status().await;
    // The admin, the manager and 3 customers with addresses.
    assert_eq!(base, [5, 5, 3, 0, 0, 5, 0, 0]);

    let r = s
        .register("newcomer@example.com", "newcomer", "Password123!")
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let newcomer = s.token("newcomer", "Password123!").await;
    assert_eq!(status().await, plus(base, [1, 1, 0, 0, 0, 1, 0, 0]));
    let r = s
        .json(
            "PUT",
            "/api/v1/users/address",
            Some(&newcomer),
            Some(
                json!({"street": "1 Main St", "city": "Austin", "state": "TX",
                        "zip_code": "73301", "country": "US"}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(status().await, plus(base, [1, 1, 1, 0, 0, 1, 0, 0]));

    let cat = s
        .json(
            "POST",
            "/api/v1/admin/categories",
            Some(&admin),
            Some(json!({"name": "Status"})),
        )
        .await;
    assert_eq!(cat.status, 201, "{}", cat.text);
    let product = s
        .json(
            "POST",
            "/api/v1/admin/products/",
            Some(&admin),
            Some(json!({"name": "Status Lamp", "code": "ST-1", "price": 60.0,
                        "stock_quantity": 10, "category_id": cat.json["id"]})),
        )
        .await;
    assert_eq!(product.status, 201, "{}", product.text);
    let pid = product.json["id"].as_str().unwrap().to_string();

    // Viewing twice counts the user once; clearing uncounts.
    for _ in 0..2 {
        let r = s
            .json(
                "GET",
                &format!("/api/v1/products/{pid}"),
                Some(&newcomer),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(status().await, plus(base, [1, 1, 1, 1, 0, 1, 0, 0]));
    let r = s
        .json(
            "DELETE",
            "/api/v1/users/viewed-products",
            Some(&newcomer),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(status().await, plus(base, [1, 1, 1, 0, 0, 1, 0, 0]));

    // Orders: one cash on delivery, one by card.
    let address = json!({"street": "1 Main St", "city": "Austin", "state": "TX",
                         "zip_code": "73301", "country": "US"});
    let mut ids = Vec::new();
    for method in ["cash_on_delivery", "credit_card"] {
        let add = s
            .json(
                "POST",
                "/api/v1/cart/add",
                Some(&newcomer),
                Some(json!({"product_id": pid, "quantity": 1})),
            )
            .await;
        assert_eq!(add.status, 200, "{}", add.text);
        let order = s
            .json(
                "POST",
                "/api/v1/orders",
                Some(&newcomer),
                Some(json!({"billing_address": address, "payment_method": method})),
            )
            .await;
        assert_eq!(order.status, 201, "{}", order.text);
        ids.push(order.json["id"].as_str().unwrap().to_string());
    }
    assert_eq!(status().await, plus(base, [1, 1, 1, 0, 2, 1, 1, 0]));

    // The spec's example: pending -> shipped, no confirmation in between.
    let shipped = s
        .json(
            "PUT",
            &format!("/api/v1/admin/orders/{}/status", ids[0]),
            Some(&admin),
            Some(json!({"status": "shipped"})),
        )
        .await;
    assert_eq!(shipped.status, 200, "{}", shipped.text);
    assert_eq!(shipped.json["status"], "shipped");
    s.json(
        "PUT",
        &format!("/api/v1/admin/orders/{}/status", ids[0]),
        Some(&admin),
        Some(json!({"status": "cancelled"})),
    )
    .await
    .assert_error(409, "INVALID_STATUS_TRANSITION");

    // Models in force: the classifier's and the clustering's pointers.
    for (n, key) in stats::model_pointers().into_iter().enumerate() {
        let mut item = Item::new();
        item.insert(PK.into(), key.pk.into());
        item.insert(SK.into(), key.sk.into());
        item.insert("version".into(), "v1".into());
        s.state.store.put(item, None).await.unwrap();
        assert_eq!(status().await[7], n as i64 + 1);
    }
}
