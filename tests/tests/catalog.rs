//! Catalog, search, cart, orders and frequently-bought-together, as a shopper goes through them.
//! Each check runs against the in-memory backends and, with the emulator (`tests/run.sh`),
//! against DynamoDB + S3 on moto.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer};
use serde_json::json;

api_tests::suite!(a_shopper_journey_through_catalog_search_cart_orders_and_fbt,);

/// The commerce routes end to end on one backend: the admin builds a small catalog; a guest
/// browses (list with filters and sort, detail, similar, search with a typo, suggestions, click
/// tracking) and fills a cart that merges into the user's cart at login; orders are placed and
/// moved through the status machine (cancelling restores stock); frequently-bought-together
/// answers from live co-purchase counts and then from the mined rules after the job runs.
async fn a_shopper_journey_through_catalog_search_cart_orders_and_fbt(b: Backend) {
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let admin = s.token("admin@ecommerce.com", "admin123").await;
    let post = |path: &'static str, body: serde_json::Value| {
        let (s, admin) = (&s, admin.clone());
        async move { s.json("POST", path, Some(&admin), Some(body)).await }
    };
    let audio = post("/api/v1/admin/categories", json!({"name": "Audio"})).await;
    assert_eq!(audio.status, 201, "{}", audio.text);
    let headphones_cat = post(
        "/api/v1/admin/categories",
        json!({"name": "Headphones", "parent_id": audio.json["id"]}),
    )
    .await;
    assert_eq!(headphones_cat.status, 201, "{}", headphones_cat.text);
    let garden = post("/api/v1/admin/categories", json!({"name": "Garden"})).await;
    let catalog = [
        (
            "Studio Wireless Headphones",
            "SONO",
            199.0,
            5,
            &headphones_cat,
            "Over-ear wireless headphones with noise cancelling",
        ),
        (
            "Travel Wireless Headphones",
            "SONO",
            149.0,
            5,
            &headphones_cat,
            "Foldable wireless headphones for travel",
        ),
        (
            "Bookshelf Speaker",
            "Acoustix",
            89.0,
            5,
            &audio,
            "A compact speaker for music at home",
        ),
        (
            "Garden Hose 20 m",
            "Gardena",
            29.0,
            50,
            &garden,
            "A flexible hose for watering the garden",
        ),
    ];
    let mut ids = Vec::new();
    for (i, (name, brand, price, stock, cat, description)) in catalog.iter().enumerate() {
        let r = post(
            "/api/v1/admin/products/",
            json!({"name": name, "code": format!("J-{i}"), "brand": brand, "price": price,
                   "stock_quantity": stock, "category_id": cat.json["id"],
                   "description": description, "tags": ["journey"]}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json["id"].as_str().unwrap().to_string());
    }

    // Listing: the parent category includes its child; in stock; by price.
    let list = s
        .json(
            "GET",
            "/api/v1/products?category=Audio&in_stock=true&sort_by=price&sort_order=asc&size=2",
            None,
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json["total"], 3);
    assert_eq!(list.json["pages"], 2);
    let names: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bookshelf Speaker", "Travel Wireless Headphones"]);
    s.json("GET", "/api/v1/products?sort_by=rating", None, None)
        .await
        .assert_error(422, "VALIDATION_ERROR");

    // Similar: the other headphones first, never the product itself.
    let similar = s
        .json(
            "GET",
            &format!("/api/v1/products/{}/similar?limit=3", ids[0]),
            None,
            None,
        )
        .await;
    assert_eq!(similar.status, 200, "{}", similar.text);
    let first = similar.json[0]["id"].as_str().unwrap();
    assert_eq!(first, ids[1]);
    assert!(
        similar
            .json
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != ids[0].as_str())
    );

    // Search with a typo, logged; a click is tracked against it; suggestions by prefix.
    let found = s
        .json("GET", "/api/v1/search?q=wireles%20headphones", None, None)
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    let hits: Vec<&str> = found.json["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        hits.len() >= 2
            && hits[..2].contains(&ids[0].as_str())
            && hits[..2].contains(&ids[1].as_str()),
        "{hits:?}"
    );
    assert_eq!(found.json["products"][0]["match_reason"], "title_match");
    let click = s
        .json(
            "POST",
            "/api/v1/search/track-click",
            None,
            Some(
                json!({"search_id": found.json["search_id"], "product_id": ids[0], "position": 1}),
            ),
        )
        .await;
    assert_eq!(click.status, 200, "{}", click.text);
    s.json(
        "POST",
        "/api/v1/search/track-click",
        None,
        Some(json!({"search_id": "no-such-search", "product_id": ids[0], "position": 1})),
    )
    .await
    .assert_error(404, "SEARCH_NOT_FOUND");
    let suggest = s
        .json("GET", "/api/v1/search/suggestions?q=wire", None, None)
        .await;
    assert_eq!(suggest.status, 200, "{}", suggest.text);
    let suggestions = suggest.json["suggestions"].as_array().unwrap();
    assert_eq!(
        suggestions[0], "wireles headphones",
        "the logged query comes first"
    );
    assert!(
        suggestions.contains(&json!("studio wireless headphones")),
        "{suggestions:?}"
    );

    // A guest cart, merged into the user's cart at login.
    let guest = s
        .client
        .post(s.url("/api/v1/cart/add"))
        .json(&json!({"product_id": ids[0], "quantity": 2}))
        .send()
        .await
        .unwrap();
    let guest = api_tests::Reply::from(guest).await;
    assert_eq!(guest.status, 200, "{}", guest.text);
    let cart_id = guest.headers["x-cart-id"].to_str().unwrap().to_string();
    let too_many = s
        .client
        .post(s.url("/api/v1/cart/add"))
        .header("x-cart-id", &cart_id)
        .json(&json!({"product_id": ids[0], "quantity": 4}))
        .send()
        .await
        .unwrap();
    api_tests::Reply::from(too_many)
        .await
        .assert_error(409, "INSUFFICIENT_STOCK");
    s.register("shopper@example.com", "shopper", "Password123!")
        .await;
    let login = s
        .client
        .post(s.url("/api/v1/auth/login"))
        .header("x-cart-id", &cart_id)
        .form(&[("username", "shopper"), ("password", "Password123!")])
        .send()
        .await
        .unwrap();
    let login = api_tests::Reply::from(login).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let shopper = login.json["access_token"].as_str().unwrap().to_string();
    let cart = s.json("GET", "/api/v1/cart", Some(&shopper), None).await;
    assert_eq!(cart.json["total_items"], 2, "{}", cart.text);

    // The detail page records a view in the user's history.
    let detail = s
        .json(
            "GET",
            &format!("/api/v1/products/{}", ids[2]),
            Some(&shopper),
            None,
        )
        .await;
    assert_eq!(detail.status, 200, "{}", detail.text);
    let viewed = s
        .json("GET", "/api/v1/users/viewed-products", Some(&shopper), None)
        .await;
    assert_eq!(
        viewed.json["viewed_products"][0]["id"],
        ids[2].as_str(),
        "{}",
        viewed.text
    );

    // Orders: headphones + speaker, twice (two co-purchases); then a third order to cancel.
    let address = json!({"street": "1 Main St", "city": "Austin", "state": "TX",
                         "zip_code": "73301", "country": "US"});
    let mut orders = Vec::new();
    for round in 0..3 {
        if round > 0 {
            let add = s
                .json(
                    "POST",
                    "/api/v1/cart/add",
                    Some(&shopper),
                    Some(json!({"product_id": ids[0], "quantity": 1})),
                )
                .await;
            assert_eq!(add.status, 200, "{}", add.text);
        }
        let add = s
            .json(
                "POST",
                "/api/v1/cart/add",
                Some(&shopper),
                Some(json!({"product_id": ids[2], "quantity": 1})),
            )
            .await;
        assert_eq!(add.status, 200, "{}", add.text);
        let order = s
            .json(
                "POST",
                "/api/v1/orders",
                Some(&shopper),
                Some(json!({"billing_address": address})),
            )
            .await;
        assert_eq!(order.status, 201, "{}", order.text);
        orders.push(order.json["id"].as_str().unwrap().to_string());
    }
    let stock = |id: String| {
        let s = &s;
        async move {
            s.json("GET", &format!("/api/v1/products/{id}"), None, None)
                .await
                .json["stock_quantity"]
                .clone()
        }
    };
    assert_eq!(stock(ids[0].clone()).await, 1, "2 + 1 + 1 sold");
    let set_status = |order: String, status: &'static str| {
        let (s, admin) = (&s, admin.clone());
        async move {
            s.json(
                "PUT",
                &format!("/api/v1/admin/orders/{order}/status"),
                Some(&admin),
                Some(json!({"status": status})),
            )
            .await
        }
    };
    assert_eq!(set_status(orders[0].clone(), "confirmed").await.status, 200);
    assert_eq!(set_status(orders[0].clone(), "shipped").await.status, 200);
    set_status(orders[0].clone(), "pending")
        .await
        .assert_error(409, "INVALID_STATUS_TRANSITION");
    assert_eq!(set_status(orders[2].clone(), "cancelled").await.status, 200);
    assert_eq!(stock(ids[0].clone()).await, 2, "cancelling gave one back");
    let admin_list = s
        .json(
            "GET",
            "/api/v1/admin/orders?status=shipped",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(admin_list.status, 200, "{}", admin_list.text);
    assert_eq!(
        admin_list.json.as_array().unwrap().len(),
        1,
        "{}",
        admin_list.text
    );
    assert_eq!(admin_list.json[0]["id"], orders[0].as_str());
    assert_eq!(admin_list.headers["x-total-count"], "1");

    // Frequently bought together: live counts first, mined rules after the job.
    let fbt_path = format!("/api/v1/products/{}/frequently-bought-together", ids[0]);
    let live = s.json("GET", &fbt_path, None, None).await;
    assert_eq!(live.status, 200, "{}", live.text);
    assert_eq!(live.json["source"], "co_purchase_counts");
    assert_eq!(
        live.json["frequently_bought_together"][0]["product_id"],
        ids[2].as_str()
    );
    jobs_fn::run(
        &s.state,
        &jobs_fn::JobEvent {
            min_support_count: Some(2),
            ..jobs_fn::JobEvent::named(jobs_fn::Job::FbtRules)
        },
    )
    .await
    .unwrap();
    let mined = s.json("GET", &fbt_path, None, None).await;
    assert_eq!(mined.json["source"], "mined_rules", "{}", mined.text);
    assert_eq!(
        mined.json["frequently_bought_together"][0]["product_id"],
        ids[2].as_str()
    );
    assert!(
        mined.json["frequently_bought_together"][0]["lift"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}
