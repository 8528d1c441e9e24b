use serde_json::json;
use shared::testkit::{TestApp, raw_request};

use crate::router;

fn app() -> TestApp {
    TestApp::new(router)
}

#[tokio::test]
async fn register_then_login_with_form_and_json() {
    let app = app();
    let r = app
        .call(
            "POST",
            "/api/v1/auth/register",
            None,
            Some(
                json!({"email": "Ann@Example.com", "password": "longenough", "first_name": "Ann",
                        "last_name": "Lee", "username": "ann_lee"}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["message"], "User registered successfully");

    let form = app
        .send(raw_request(
            "POST",
            "/api/v1/auth/login",
            "application/x-www-form-urlencoded",
            "username=ann%40example.com&password=longenough",
        ))
        .await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert_eq!(form.json["token_type"], "bearer");
    assert_eq!(form.json["expires_in"], 1800);
    let claims = app
        .state
        .jwt
        .verify(form.json["access_token"].as_str().unwrap_or_default())
        .expect("token");
    assert_eq!(claims.roles, vec!["customer"]);
    assert!(claims.permissions.contains(&"cart.manage".to_string()));

    let by_username = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "ANN_LEE", "password": "longenough"})),
        )
        .await;
    assert_eq!(by_username.status, 200, "{}", by_username.text);
}

#[tokio::test]
async fn check_username_reports_taken_names_case_insensitively() {
    let app = app();
    app.user_with_roles("taken_name", &[shared::auth::Role::Customer])
        .await;
    let r = app
        .call(
            "POST",
            "/api/v1/auth/check-username?username=Taken_Name",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["available"], false);
    let r = app
        .call(
            "POST",
            "/api/v1/auth/check-username?username=free_name",
            None,
            None,
        )
        .await;
    assert_eq!(r.json["available"], true);
    let r = app
        .call("POST", "/api/v1/auth/check-username", None, None)
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json["field_errors"][0]["field"], "username");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = app();
    app.user_with_roles("bob", &[shared::auth::Role::Customer])
        .await;
    let wrong = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "bob", "password": "nope-nope"})),
        )
        .await;
    let unknown = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "nobody", "password": "nope-nope"})),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.json, unknown.json);
}

#[tokio::test]
async fn login_merges_the_guest_cart_named_by_x_cart_id() {
    use shared::domain::{
        cart::{self, CartOwner},
        catalog::{self, NewCategory, NewProduct},
    };
    let app = TestApp::new(router);
    let (user, _) = app
        .user_with_roles("gina", &[shared::auth::Role::Customer])
        .await;
    let store = app.state.store.as_ref();
    let cat = catalog::create_category(
        store,
        NewCategory {
            name: "Things".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let product = catalog::create_product(
        store,
        app.state.embedder.as_ref(),
        NewProduct {
            name: "Thing".into(),
            code: "T-1".into(),
            price: 5.0,
            in_stock: true,
            stock_quantity: 9,
            category_id: cat.id,
            is_active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let guest_id = uuid::Uuid::new_v4().to_string();
    cart::add(store, &CartOwner::Guest(guest_id.clone()), &product.id, 2)
        .await
        .unwrap();

    let mut req = shared::testkit::raw_request(
        "POST",
        "/api/v1/auth/login",
        "application/x-www-form-urlencoded",
        "username=gina&password=password123",
    );
    req.headers_mut()
        .insert("x-cart-id", guest_id.parse().unwrap());
    let r = app.send(req).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mine = cart::lines(store, &CartOwner::User(user.id.clone()))
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].quantity, 2);
    assert!(
        cart::lines(store, &CartOwner::Guest(guest_id))
            .await
            .unwrap()
            .is_empty()
    );
}
