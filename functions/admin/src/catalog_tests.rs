use serde_json::{Value, json};
use shared::{auth::Role, domain::catalog, testkit::TestApp};

use crate::router;

async fn category(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app
        .call("POST", "/api/v1/admin/categories", Some(token), Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json
}

fn product_body(category_id: &str, code: &str) -> Value {
    json!({
        "name": "New Product", "code": code, "price": 299.99, "category_id": category_id,
        "brand": "TechBrand", "description": "Amazing new product with an aluminium body",
        "specification": {"color": "Black", "material": "Aluminum"},
        "images": ["https://example.com/image.jpg"], "stock_quantity": 100, "in_stock": true,
        "tags": ["electronics", "new"]
    })
}

#[tokio::test]
async fn admin_creates_and_updates_products_with_embeddings() {
    let app = TestApp::new(router);
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let (_, manager) = app.user_with_roles("mona", &[Role::Manager]).await;
    let (_, customer) = app.user_with_roles("cleo", &[Role::Customer]).await;

    let electronics = category(&app, &admin, json!({"name": "Electronics"})).await;
    assert_eq!(electronics["slug"], "electronics");
    let phones = category(
        &app,
        &admin,
        json!({"name": "Smart Phones", "parent_id": electronics["id"]}),
    )
    .await;
    assert_eq!(phones["slug"], "smart-phones");
    assert_eq!(phones["parent_id"], electronics["id"]);
    let cat_id = phones["id"].as_str().unwrap();

    let r = app
        .call(
            "POST",
            "/api/v1/admin/products/",
            Some(&admin),
            Some(product_body(cat_id, "NP-001")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["code"], "NP-001");
    assert_eq!(r.json["category"]["name"], "Smart Phones");
    assert_eq!(r.json["specification"]["color"], "Black");
    assert_eq!(r.json["in_stock"], true);
    let id = r.json["id"].as_str().unwrap().to_string();
    let store = app.state.store.as_ref();
    let before = catalog::get_embedding(store, &id).await.unwrap().unwrap();
    assert_eq!(before.vector.len(), app.state.config.embedding_dimensions);

    // The manager may update (products.update) but not create.
    let r = app
        .call(
            "POST",
            "/api/v1/admin/products",
            Some(&manager),
            Some(product_body(cat_id, "NP-002")),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/admin/products/{id}"),
            Some(&manager),
            Some(json!({"price": 279.99, "stock_quantity": 150, "description": "Updated description"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["price"], 279.99);
    assert_eq!(r.json["stock_quantity"], 150);
    assert_eq!(r.json["description"], "Updated description");
    assert_eq!(r.json["name"], "New Product", "unsent fields unchanged");
    let after = catalog::get_embedding(store, &id).await.unwrap().unwrap();
    assert_ne!(
        after.text_hash, before.text_hash,
        "new description, new embedding"
    );

    for (token, status) in [(&customer, 403), (&admin, 404)] {
        let r = app
            .call(
                "PUT",
                "/api/v1/admin/products/nope",
                Some(token),
                Some(json!({"price": 1.0})),
            )
            .await;
        assert_eq!(r.status, status, "{}", r.text);
    }
    let r = app
        .call(
            "POST",
            "/api/v1/admin/categories",
            Some(&customer),
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn admin_product_and_category_errors() {
    let app = TestApp::new(router);
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let cat = category(&app, &admin, json!({"name": "Garden"})).await;
    let cat_id = cat["id"].as_str().unwrap();
    let ok = app
        .call(
            "POST",
            "/api/v1/admin/products",
            Some(&admin),
            Some(product_body(cat_id, "G-1")),
        )
        .await;
    assert_eq!(ok.status, 201);
    let id = ok.json["id"].as_str().unwrap().to_string();

    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"price": 0}), 422, "price"),
        (json!({"price": -5}), 422, "price"),
        (json!({"code": "has space"}), 422, "code"),
        (json!({"name": ""}), 422, "name"),
        (json!({"stock_quantity": -1}), 422, "stock_quantity"),
        (json!({"images": ["ftp://x"]}), 422, "images"),
        (json!({"tags": [""]}), 422, "tags"),
        (json!({"code": "g-1"}), 409, "PRODUCT_CODE_TAKEN"),
        (json!({"category_id": "missing"}), 404, "CATEGORY_NOT_FOUND"),
        (json!({"price": "cheap"}), 400, "MALFORMED_REQUEST"),
    ];
    for (patch, status, what) in cases {
        let mut body = product_body(cat_id, "G-2");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app
            .call("POST", "/api/v1/admin/products", Some(&admin), Some(body))
            .await;
        assert_eq!(r.status.as_u16(), status, "{patch}: {}", r.text);
        let mentioned = r.json["error_code"] == what
            || r.json["field_errors"]
                .as_array()
                .is_some_and(|a| a.iter().any(|e| e["field"] == what));
        assert!(mentioned, "{patch}: {}", r.text);
    }
    let missing = app
        .call(
            "POST",
            "/api/v1/admin/products",
            Some(&admin),
            Some(json!({"name": "x", "price": 1.0, "category_id": cat_id})),
        )
        .await;
    assert_eq!(missing.status, 422, "{}", missing.text);
    // Nothing half-written: only the first product exists, and G-2's code is still free.
    assert_eq!(
        catalog::list_all_products(app.state.store.as_ref())
            .await
            .unwrap()
            .len(),
        1
    );
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/admin/products/{id}"),
            Some(&admin),
            Some(json!({"code": "G-2"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let dup = app
        .call(
            "POST",
            "/api/v1/admin/categories",
            Some(&admin),
            Some(json!({"name": "garden"})),
        )
        .await;
    assert_eq!(dup.status, 409);
    let orphan = app
        .call(
            "POST",
            "/api/v1/admin/categories",
            Some(&admin),
            Some(json!({"name": "Roses", "parent_id": "missing"})),
        )
        .await;
    assert_eq!(orphan.status, 404);
    let blank = app
        .call(
            "POST",
            "/api/v1/admin/categories",
            Some(&admin),
            Some(json!({"name": "!!!"})),
        )
        .await;
    assert_eq!(blank.status, 422);
}

/// A category can be created as consumable (its products may be recommended again to those who
/// bought them); the flag is stored and answered, and absent means false.
#[tokio::test]
async fn categories_can_be_consumable() {
    let app = TestApp::new(router);
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let food = category(&app, &admin, json!({"name": "Coffee", "consumable": true})).await;
    assert_eq!(food["consumable"], true);
    let books = category(&app, &admin, json!({"name": "Books"})).await;
    assert!(books.get("consumable").is_none());
    let store = app.state.store.as_ref();
    let stored = |id: &Value| {
        let id = id.as_str().unwrap().to_string();
        async move { catalog::get_category(store, &id).await.unwrap().unwrap() }
    };
    assert!(stored(&food["id"]).await.consumable);
    assert!(!stored(&books["id"]).await.consumable);
    let r = app
        .call(
            "POST",
            "/api/v1/admin/categories",
            Some(&admin),
            Some(json!({"name": "Tea", "consumable": "yes"})),
        )
        .await;
    // A wrong type is a malformed body here, as for every typed field of this body.
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["error_code"], "MALFORMED_REQUEST");
}
