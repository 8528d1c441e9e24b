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
        interactions,
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
            price: shared::money::Cents(500),
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
    let guest = interactions::Actor::Guest(guest_id.clone());
    interactions::record(
        store,
        &[interactions::Signal::new(
            guest.clone(),
            product.id.clone(),
            interactions::InteractionKind::View,
        )],
    )
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
    // What the guest viewed is now the user's history (and no longer the guest's).
    let w = interactions::KindWeights::default();
    let user_actor = interactions::Actor::User(user.id.clone());
    let (history, _) = interactions::actor_history(store, &user_actor, &w)
        .await
        .unwrap();
    assert_eq!(history, vec![(product.id.clone(), 1.0)]);
    let (left, _) = interactions::actor_history(store, &guest, &w)
        .await
        .unwrap();
    assert!(left.is_empty());
}

/// A login form sent from `peer` (the connection's address, as the local server sees it).
async fn login_from(
    app: &TestApp,
    peer: [u8; 4],
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> shared::testkit::TestResponse {
    let mut req = raw_request(
        "POST",
        "/api/v1/auth/login",
        "application/x-www-form-urlencoded",
        format!("username={username}&password={password}"),
    );
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            peer, 40000,
        ))));
    if let Some(v) = forwarded_for {
        req.headers_mut()
            .insert("x-forwarded-for", v.parse().expect("header"));
    }
    app.send(req).await
}

fn app_with(change: impl FnOnce(&mut shared::config::Config)) -> TestApp {
    let mut app = app();
    let mut config = (*app.state.config).clone();
    change(&mut config);
    app.state.config = std::sync::Arc::new(config);
    app.router = router(app.state.clone());
    app
}

const A: [u8; 4] = [203, 0, 113, 1];
const B: [u8; 4] = [198, 51, 100, 2];

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out() {
    let app = app();
    app.user_with_roles("owner", &[shared::auth::Role::Admin])
        .await;
    for _ in 0..5 {
        let r = login_from(&app, A, "owner", "wrong-password", None).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let blocked = login_from(&app, A, "owner", "password123", None).await;
    assert_eq!(blocked.status, 429, "{}", blocked.text);
    assert_eq!(blocked.json["error_code"], "TOO_MANY_LOGIN_ATTEMPTS");
    assert!(blocked.headers.contains_key("retry-after"));
    let elsewhere = login_from(&app, B, "owner", "password123", None).await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text);
}

#[tokio::test]
async fn unknown_names_are_throttled_like_real_ones() {
    let app = app();
    app.user_with_roles("real", &[shared::auth::Role::Customer])
        .await;
    for name in ["real", "ghost"] {
        for i in 0..5 {
            let r = login_from(&app, A, name, "wrong-password", None).await;
            assert_eq!(r.status, 401, "{name} attempt {i}: {}", r.text);
        }
    }
    let real = login_from(&app, A, "real", "wrong-password", None).await;
    let ghost = login_from(&app, A, "ghost", "wrong-password", None).await;
    assert_eq!(real.status, 429);
    assert_eq!(
        ghost.status, 429,
        "unknown names get 429 after as many failures"
    );
    assert_eq!(real.json, ghost.json, "429 says nothing about the account");
}

#[tokio::test]
async fn one_address_is_limited_across_accounts() {
    let app = app_with(|c| c.login_max_failures_per_address = 6);
    app.user_with_roles("victim", &[shared::auth::Role::Customer])
        .await;
    // One guess against each of six names: none reaches the per-name limit.
    for i in 0..6 {
        let r = login_from(&app, A, &format!("guess{i}"), "wrong-password", None).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let sprayed = login_from(&app, A, "victim", "password123", None).await;
    assert_eq!(sprayed.status, 429, "{}", sprayed.text);
    assert_eq!(
        login_from(&app, B, "victim", "password123", None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_client_sent_address_header_counts_only_when_configured() {
    let app = app();
    app.user_with_roles("hdr", &[shared::auth::Role::Customer])
        .await;
    for _ in 0..5 {
        login_from(&app, A, "hdr", "wrong-password", Some("1.1.1.1")).await;
    }
    let spoofed = login_from(&app, A, "hdr", "password123", Some("2.2.2.2")).await;
    assert_eq!(spoofed.status, 429, "the header is ignored by default");

    let proxied = app_with(|c| c.trusted_client_ip_header = Some("x-forwarded-for".into()));
    proxied
        .user_with_roles("hdr", &[shared::auth::Role::Customer])
        .await;
    for _ in 0..5 {
        login_from(&proxied, A, "hdr", "wrong-password", Some("1.1.1.1")).await;
    }
    assert_eq!(
        login_from(&proxied, A, "hdr", "password123", Some("1.1.1.1"))
            .await
            .status,
        429
    );
    let other_client = login_from(&proxied, A, "hdr", "password123", Some("2.2.2.2")).await;
    assert_eq!(other_client.status, 200, "{}", other_client.text);
}

#[tokio::test]
async fn tokens_carry_the_account_auth_version() {
    let app = app();
    let (user, _) = app
        .user_with_roles("ver", &[shared::auth::Role::Customer])
        .await;
    shared::domain::users::update(app.state.store.as_ref(), &user.id, |u| {
        u.roles.push("manager".into());
        true
    })
    .await
    .expect("update");
    let r = login_from(&app, A, "ver", "password123", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let claims = app
        .state
        .jwt
        .verify(r.json["access_token"].as_str().unwrap_or_default())
        .expect("token");
    assert_eq!(claims.auth_version, 1);
}
