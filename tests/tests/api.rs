//! The black-box API suite: every check runs against the in-memory backends and, with the
//! emulator (`tests/run.sh`), against DynamoDB + S3 on moto.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer};
use futures::future::join_all;
use serde_json::json;
use shared::auth::Claims;

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

suite!(
    register_login_and_profile_round_trip,
    register_rejects_bad_input_without_partial_records,
    duplicate_email_or_username_is_409_case_insensitive,
    concurrent_registrations_of_one_username_make_one_user,
    login_failures_look_the_same_and_are_throttled,
    tokens_missing_expired_tampered_or_foreign_are_401,
    admin_flows_and_permissions,
    docs_cors_request_ids_and_trailing_slashes,
    fifty_concurrent_orders_for_ten_units_sell_exactly_ten,
    a_shopper_journey_through_catalog_search_cart_orders_and_fbt,
    classroom_import_recompute_classify_and_profile,
    shoppable_videos_signed_upload_verification_feed_and_like_race,
);

async fn register_login_and_profile_round_trip(b: Backend) {
    let s = TestServer::spawn(b).await;
    let r = s
        .register("grace@example.com", "grace_h", "hopper-1906")
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().unwrap_or_default().to_string();

    let login = s.login("GRACE@example.com", "hopper-1906").await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.json["user"]["id"], id.as_str());
    assert_eq!(login.json["expires_in"], 1800);
    let token = login.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let upd = s
        .json(
            "PUT",
            "/api/v1/users/profile",
            Some(&token),
            Some(
                json!({"first_name": "Grace", "last_name": "Hopper", "phone": "+1 555 010 1906",
                        "date_of_birth": "1906-12-09", "gender": "female"}),
            ),
        )
        .await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    let addr = json!({"street": "789 Oak Avenue", "city": "Chicago", "state": "IL", "zip_code": "60601",
                      "country": "US", "apartment": "Unit 12", "landmark": "Near Willis Tower", "address_type": "work"});
    assert_eq!(
        s.json(
            "PUT",
            "/api/v1/users/address",
            Some(&token),
            Some(addr.clone())
        )
        .await
        .status,
        200
    );
    let name = s
        .json(
            "PUT",
            "/api/v1/users/username",
            Some(&token),
            Some(json!({"username": "amazing_grace"})),
        )
        .await;
    assert_eq!(name.status, 200, "{}", name.text);

    let p = s
        .json("GET", "/api/v1/users/profile", Some(&token), None)
        .await;
    assert_eq!(p.status, 200);
    assert_eq!(p.json["first_name"], "Grace");
    assert_eq!(p.json["username"], "amazing_grace");
    assert_eq!(p.json["address"], addr);
    assert_eq!(p.json["date_of_birth"], "1906-12-09");
    assert_eq!(p.json["is_active"], true);

    // The new username logs in, the old one no longer does.
    assert_eq!(s.login("amazing_grace", "hopper-1906").await.status, 200);
    assert_eq!(s.login("grace_h", "hopper-1906").await.status, 401);
}

async fn register_rejects_bad_input_without_partial_records(b: Backend) {
    let s = TestServer::spawn(b).await;
    let url = "/api/v1/auth/register";
    let ok = json!({"email": "ok@example.com", "password": "password123", "first_name": "A", "last_name": "B",
                    "username": "okuser"});

    let malformed = s.raw("POST", url, "application/json", "{\"email\": ").await;
    malformed.assert_error(400, "MALFORMED_REQUEST");
    let mut wrong_type = ok.clone();
    wrong_type["first_name"] = json!(42);
    s.json("POST", url, None, Some(wrong_type))
        .await
        .assert_error(400, "MALFORMED_REQUEST");

    let missing = s
        .json("POST", url, None, Some(json!({"password": "password123"})))
        .await;
    missing.assert_error(422, "VALIDATION_ERROR");
    assert!(
        missing.error_fields().contains(&"email".to_string()),
        "{}",
        missing.text
    );

    let mut bad_email = ok.clone();
    bad_email["email"] = json!("not-an-email");
    let r = s.json("POST", url, None, Some(bad_email)).await;
    r.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["email"]);

    let mut short = ok.clone();
    short["password"] = json!("1234567");
    let r = s.json("POST", url, None, Some(short)).await;
    r.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["password"]);

    let mut bad_nested = ok.clone();
    bad_nested["address"] =
        json!({"street": "", "city": "X", "state": "Y", "zip_code": "1", "country": "US"});
    let r = s.json("POST", url, None, Some(bad_nested)).await;
    r.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["address.street"]);

    let huge = json!({"email": "big@example.com", "password": "password123", "first_name": "x".repeat(1_100_000),
                      "last_name": "B"});
    s.json("POST", url, None, Some(huge))
        .await
        .assert_error(413, "PAYLOAD_TOO_LARGE");

    s.raw("POST", url, "text/plain", "hello")
        .await
        .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");

    // None of the rejected requests left anything behind: the same email and username are free.
    let r = s.json("POST", url, None, Some(ok)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let big = s
        .register("big@example.com", "big_user", "password123")
        .await;
    assert_eq!(big.status, 201, "{}", big.text);
}

async fn duplicate_email_or_username_is_409_case_insensitive(b: Backend) {
    let s = TestServer::spawn(b).await;
    assert_eq!(
        s.register("dup@example.com", "dupuser", "password123")
            .await
            .status,
        201
    );
    s.register("DUP@Example.COM", "other", "password123")
        .await
        .assert_error(409, "EMAIL_TAKEN");
    s.register("fresh@example.com", "DupUser", "password123")
        .await
        .assert_error(409, "USERNAME_TAKEN");
    // The failed attempts wrote nothing: their other half is still free.
    let avail = s
        .json(
            "POST",
            "/api/v1/auth/check-username?username=other",
            None,
            None,
        )
        .await;
    assert_eq!(avail.json["available"], true, "{}", avail.text);
    assert_eq!(
        s.register("fresh@example.com", "fresh", "password123")
            .await
            .status,
        201
    );
    assert_eq!(
        s.register("x@example.com", "other", "password123")
            .await
            .status,
        201
    );
}

async fn concurrent_registrations_of_one_username_make_one_user(b: Backend) {
    let s = TestServer::spawn(b).await;
    let attempts = (0..20).map(|i| {
        let s = &s;
        async move {
            s.register(&format!("racer{i}@example.com"), "the_one", "password123")
                .await
                .status
                .as_u16()
        }
    });
    let statuses = join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|&&c| c == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&c| c == 201 || c == 409),
        "{statuses:?}"
    );
    // Losers left no email markers: each loser's email can register now.
    let winner_free = (0..20)
        .filter(|i| statuses[*i] == 409)
        .map(|i| format!("racer{i}@example.com"))
        .next();
    if let Some(email) = winner_free {
        assert_eq!(
            s.register(&email, "second_try", "password123").await.status,
            201
        );
    }
}

async fn login_failures_look_the_same_and_are_throttled(b: Backend) {
    let s = TestServer::spawn_with(b, &[("LOGIN_WINDOW_SECONDS", "3")]).await;
    assert_eq!(
        s.register("lock@example.com", "locky", "right-password")
            .await
            .status,
        201
    );
    let wrong = s.login("locky", "wrong-password").await;
    let unknown = s.login("nobody-here", "wrong-password").await;
    wrong.assert_error(401, "INVALID_CREDENTIALS");
    assert_eq!(
        wrong.json, unknown.json,
        "same body for unknown user and wrong password"
    );
    assert_eq!(s.login("", "x").await.status, 422);
    let missing = s
        .raw(
            "POST",
            "/api/v1/auth/login",
            "application/x-www-form-urlencoded",
            "username=locky",
        )
        .await;
    missing.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(missing.error_fields(), vec!["password"]);

    for _ in 0..4 {
        s.login("locky", "wrong-password")
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
    // Five failures recorded: the next attempt is refused even with the right password.
    let blocked = s.login("lock@example.com", "right-password").await;
    blocked.assert_error(429, "TOO_MANY_LOGIN_ATTEMPTS");
    assert!(blocked.headers.contains_key("retry-after"));
    // Once the window has passed, the right password works again.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    assert_eq!(s.login("locky", "right-password").await.status, 200);
}

async fn tokens_missing_expired_tampered_or_foreign_are_401(b: Backend) {
    let s = TestServer::spawn(b).await;
    assert_eq!(
        s.register("tok@example.com", "tokuser", "password123")
            .await
            .status,
        201
    );
    let token = s.token("tokuser", "password123").await;
    let claims = s
        .state
        .jwt
        .verify(&token)
        .unwrap_or_else(|e| panic!("own token: {e}"));
    let profile = "/api/v1/users/profile";

    s.json("GET", profile, None, None)
        .await
        .assert_error(401, "NOT_AUTHENTICATED");
    s.json("GET", profile, Some("not.a.jwt"), None)
        .await
        .assert_error(401, "INVALID_TOKEN");
    let basic = s
        .client
        .get(s.url(profile))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await;
    assert_eq!(basic.map(|r| r.status().as_u16()).unwrap_or(0), 401);

    let now = chrono::Utc::now().timestamp();
    let expired = Claims {
        iat: now - 4000,
        exp: now - 100,
        ..claims.clone()
    };
    let expired = s.state.jwt.sign_raw(&expired).unwrap_or_default();
    s.json("GET", profile, Some(&expired), None)
        .await
        .assert_error(401, "TOKEN_EXPIRED");

    let escalated = Claims {
        permissions: vec!["*".into()],
        ..claims.clone()
    };
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &escalated,
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
    )
    .unwrap_or_default();
    s.json("GET", "/api/v1/admin/users", Some(&forged), None)
        .await
        .assert_error(401, "INVALID_TOKEN");

    let mut parts: Vec<&str> = token.split('.').collect();
    let (_, forged_payload, _) = {
        let f: Vec<&str> = forged.split('.').collect();
        (f[0], f[1], f[2])
    };
    parts[1] = forged_payload;
    s.json("GET", profile, Some(&parts.join(".")), None)
        .await
        .assert_error(401, "INVALID_TOKEN");

    let wrong_alg = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"test-secret-that-is-long-enough-0123456789"),
    )
    .unwrap_or_default();
    s.json("GET", profile, Some(&wrong_alg), None)
        .await
        .assert_error(401, "INVALID_TOKEN");

    assert_eq!(s.json("GET", profile, Some(&token), None).await.status, 200);
}

async fn admin_flows_and_permissions(b: Backend) {
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let admin = s.token("admin@ecommerce.com", "admin123").await;
    let manager = s.token("manager", "password123").await;
    let customer = s.token("customer000", "password123").await;

    let list = s
        .json(
            "GET",
            "/api/v1/admin/users/?page=1&page_size=2",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json.as_array().map(Vec::len), Some(2));
    assert_eq!(
        list.headers
            .get("x-total-count")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let page3 = s
        .json(
            "GET",
            "/api/v1/admin/users?page=3&page_size=2",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(page3.json.as_array().map(Vec::len), Some(1));
    let search = s
        .json(
            "GET",
            "/api/v1/admin/users?search=MANAGER",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        search.json.as_array().map(Vec::len),
        Some(1),
        "{}",
        search.text
    );
    s.json(
        "GET",
        "/api/v1/admin/users?page_size=500",
        Some(&admin),
        None,
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    s.json("GET", "/api/v1/admin/users?page=0", Some(&admin), None)
        .await
        .assert_error(422, "VALIDATION_ERROR");
    s.json("GET", "/api/v1/admin/users?page=abc", Some(&admin), None)
        .await
        .assert_error(422, "VALIDATION_ERROR");

    s.json("GET", "/api/v1/admin/users", Some(&customer), None)
        .await
        .assert_error(403, "FORBIDDEN");
    assert_eq!(
        s.json("GET", "/api/v1/admin/users", Some(&manager), None)
            .await
            .status,
        200
    );

    let created = s
        .json(
            "POST",
            "/api/v1/admin/users/",
            Some(&admin),
            Some(json!({"email": "newuser@example.com", "password": "securepassword123", "first_name": "Jane",
                        "last_name": "Smith", "username": "jane_smith", "phone": "+1234567890",
                        "address": {"street": "456 Oak Avenue", "city": "Los Angeles", "state": "CA",
                                    "zip_code": "90210", "country": "US", "address_type": "home"},
                        "is_active": true})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(s.login("jane_smith", "securepassword123").await.status, 200);

    let upd = s
        .json(
            "PUT",
            &format!("/api/v1/admin/users/{id}"),
            Some(&admin),
            Some(json!({"last_name": "Johnson", "username": "jane_johnson", "is_active": false})),
        )
        .await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    s.login("jane_johnson", "securepassword123")
        .await
        .assert_error(403, "ACCOUNT_DISABLED");
    s.json(
        "PUT",
        &format!("/api/v1/admin/users/{id}"),
        Some(&admin),
        Some(json!({"username": "manager"})),
    )
    .await
    .assert_error(409, "USERNAME_TAKEN");

    let assign = s
        .json(
            "POST",
            &format!("/api/v1/admin/users/{id}/roles/manager"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        assign.json["roles"],
        json!(["customer", "manager"]),
        "{}",
        assign.text
    );
    s.json(
        "POST",
        &format!("/api/v1/admin/users/{id}/roles/manager"),
        Some(&manager),
        None,
    )
    .await
    .assert_error(403, "FORBIDDEN");
    let removed = s
        .json(
            "DELETE",
            &format!("/api/v1/admin/users/{id}/roles/manager"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(removed.json["roles"], json!(["customer"]));

    s.json("GET", "/api/v1/admin/users/no-such-id", Some(&admin), None)
        .await
        .assert_error(404, "USER_NOT_FOUND");
    s.json(
        "PUT",
        "/api/v1/admin/users/no-such-id",
        Some(&admin),
        Some(json!({"first_name": "X"})),
    )
    .await
    .assert_error(404, "USER_NOT_FOUND");
    s.json(
        "POST",
        "/api/v1/admin/users/no-such-id/roles/admin",
        Some(&admin),
        None,
    )
    .await
    .assert_error(404, "USER_NOT_FOUND");

    let status = s
        .json("GET", "/api/v1/admin/system/status", Some(&admin), None)
        .await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.json["system_health"]["database"], "healthy");
    assert_eq!(
        status.json["system_health"]["user_data_stats"]["total_users"],
        6
    );
    s.json("GET", "/api/v1/admin/system/status", Some(&manager), None)
        .await
        .assert_error(403, "FORBIDDEN");
    let config = s
        .json("GET", "/api/v1/admin/system/config", Some(&admin), None)
        .await;
    assert_eq!(config.json["default_payment_method"], "cash_on_delivery");
    let roles = s
        .json("GET", "/api/v1/admin/roles", Some(&admin), None)
        .await;
    assert_eq!(roles.json.as_array().map(Vec::len), Some(3));
}

async fn docs_cors_request_ids_and_trailing_slashes(b: Backend) {
    let s = TestServer::spawn(b).await;
    let doc = s.json("GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["paths"]["/api/v1/auth/login"]["post"].is_object());
    assert!(doc.json["components"]["securitySchemes"]["bearer"].is_object());
    for page in ["/docs", "/redoc"] {
        let r = s
            .client
            .get(s.url(page))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap_or_default().contains("/openapi.json"));
    }
    let pre = s
        .client
        .request(reqwest::Method::OPTIONS, s.url("/api/v1/users/profile"))
        .header("origin", "https://shop.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap_or_else(|e| panic!("preflight: {e}"));
    assert!(pre.status().is_success());
    assert!(pre.headers().contains_key("access-control-allow-origin"));

    let r = s
        .client
        .get(s.url("/api/v1/users/profile"))
        .header("x-request-id", "req-123")
        .send()
        .await;
    let r = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-123")
    );
    let generated = s.json("GET", "/nope", None, None).await;
    generated.assert_error(404, "NOT_FOUND");
    assert!(generated.headers.contains_key("x-request-id"));

    let slash = s
        .json(
            "POST",
            "/api/v1/auth/check-username/?username=abc",
            None,
            None,
        )
        .await;
    assert_eq!(slash.status, 200, "{}", slash.text);
    s.json("DELETE", "/api/v1/auth/login", None, None)
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
}

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

/// The education ML API end to end: admin import (CSV), recompute, clusters, profile,
/// recommendations, classification (the starter model is trained, stored as a blob artifact and
/// loaded), and the bad-input answers.
async fn classroom_import_recompute_classify_and_profile(b: Backend) {
    use shared::domain::teachers::{FEATURES, synthetic_population};
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let token = s.token("admin@ecommerce.com", "admin123").await;

    let mut csv = format!(
        "user_id,anciennete,degre,academie,niveaux_enseignes,{}\n",
        FEATURES.join(",")
    );
    for t in synthetic_population(300, 1, 4) {
        let counts: Vec<String> = t.activity.values().iter().map(u64::to_string).collect();
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            t.user_id,
            t.anciennete,
            t.degre,
            t.academie,
            t.niveaux_enseignes.join("|"),
            counts.join(",")
        ));
    }
    let import = |body: String, ct: &'static str| {
        let req = s
            .client
            .post(s.url("/users/import"))
            .bearer_auth(&token)
            .header("content-type", ct)
            .body(body);
        async move { api_tests::Reply::from(req.send().await.unwrap()).await }
    };
    let r = s
        .json("POST", "/clusters/recompute", Some(&token), None)
        .await;
    r.assert_error(409, "NOT_ENOUGH_USERS");
    let r = import(csv, "text/csv").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["imported"], 300);
    let r = import(
        "user_id,anciennete,degre,academie,nb_sessions\n400,1,1,Lyon,-1\n".into(),
        "text/csv",
    )
    .await;
    r.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["rows[1].nb_sessions"]);

    let r = s
        .json("POST", "/clusters/recompute", Some(&token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["total_users_processed"], 300);
    let r = s.json("GET", "/clusters", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["clusters"]["2"]["name"], "Super Users");
    let total: u64 = (0..4)
        .map(|i| r.json["clusters"][i.to_string()]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 300);

    let r = s.json("GET", "/user/1/profile", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["data"]["cluster"]["assigned_by"], "clustering");
    s.json("GET", "/user/999/profile", None, None)
        .await
        .assert_error(404, "USER_NOT_FOUND");
    s.json("GET", "/recommend/7", None, None)
        .await
        .assert_error(404, "CLUSTER_NOT_FOUND");
    s.json("GET", "/recommend/x", None, None)
        .await
        .assert_error(422, "VALIDATION_ERROR");

    let r = s
        .json(
            "POST",
            "/classify",
            None,
            Some(json!({"content": "# Dictée et orthographe\n\nLa dictée négociée pour travailler les accords."})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["data"]["theme"], "French & Literacy");
    s.json("POST", "/classify", None, Some(json!({"content": 3})))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    s.json(
        "POST",
        "/classify",
        None,
        Some(json!({"content": "x".repeat(70_000)})),
    )
    .await
    .assert_error(413, "CONTENT_TOO_LARGE");
}

/// Creates a category named `category` and, through the admin API, a product in it from
/// `product` (its `category_id` is filled in); returns the product id.
async fn admin_product(
    s: &TestServer,
    admin: &str,
    category: &str,
    mut product: serde_json::Value,
) -> String {
    let cat = s
        .json(
            "POST",
            "/api/v1/admin/categories",
            Some(admin),
            Some(json!({"name": category})),
        )
        .await;
    assert_eq!(cat.status, 201, "{}", cat.text);
    product["category_id"] = cat.json["id"].clone();
    let r = s
        .json(
            "POST",
            "/api/v1/admin/products/",
            Some(admin),
            Some(product),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["id"].as_str().unwrap().to_string()
}

/// Uploads `body` through a signed upload returned by `POST /api/v1/shoppable-videos`, then
/// lets verification run: on the memory backend the local blob server's upload hook runs it; on
/// the emulator (moto S3 sends no events) the test delivers the S3 "Object Created" event to the
/// jobs function, as EventBridge does in the cloud.
async fn signed_upload(
    s: &TestServer,
    b: Backend,
    upload: &serde_json::Value,
    body: Vec<u8>,
) -> u16 {
    let mut req = s
        .client
        .put(upload["url"].as_str().unwrap())
        .body(body.clone());
    for (k, v) in upload["headers"].as_object().unwrap() {
        req = req.header(k.as_str(), v.as_str().unwrap());
    }
    let status = req.send().await.unwrap().status().as_u16();
    if b == Backend::Emulator && status == 200 {
        let key = upload["url"]
            .as_str()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .split_once("/videos/")
            .map(|(_, rest)| format!("videos/{rest}"))
            .unwrap();
        let event = json!({
            "version": "0", "detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": s.state.config.bucket_name}, "object": {"key": key, "size": body.len()}}
        });
        jobs_fn::handle(&s.state, event).await.unwrap();
    }
    status
}

async fn shoppable_videos_signed_upload_verification_feed_and_like_race(b: Backend) {
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let admin = s.token("admin@ecommerce.com", "admin123").await;
    let product_id = admin_product(
        &s,
        &admin,
        "Wearables",
        json!({"name": "Smart Watch", "code": "SW-1", "price": 199.99, "stock_quantity": 10,
               "tags": ["tech"]}),
    )
    .await;
    let creator = s.token("customer000", "password123").await;
    let viewer = s.token("customer001", "password123").await;
    let base = "/api/v1/shoppable-videos";

    // A real MP4 (the demo clip generator) through the signed URL: verified, then ready.
    let clip = local::demo_mp4::demo_mp4(7, 16, 16, 2, 10).unwrap();
    let created = s
        .json(
            "POST",
            &format!("{base}/"),
            Some(&creator),
            Some(
                json!({"product_id": product_id, "title": "Amazing Gadget Review",
                        "tags": ["tech", "gadgets"], "size": clip.len()}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["status"], "pending_upload");
    let id = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        signed_upload(&s, b, &created.json["upload"], clip.clone()).await,
        200
    );
    let video = s.json("GET", &format!("{base}/{id}/"), None, None).await;
    assert_eq!(video.status, 200, "{}", video.text);
    assert_eq!(video.json["status"], "ready");
    assert_eq!(video.json["product"]["name"], "Smart Watch");
    // The signed GET URL serves the file.
    let file = s
        .client
        .get(video.json["video_file"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(file.as_ref(), clip.as_slice());

    // A text file renamed to .mp4: refused at verification, marked failed, its blob removed.
    let notes = b"meeting notes, not a video\n".to_vec();
    let bad = s
        .json(
            "POST",
            base,
            Some(&creator),
            Some(json!({"product_id": product_id, "title": "Notes", "size": notes.len()})),
        )
        .await;
    assert_eq!(bad.status, 201, "{}", bad.text);
    let bad_id = bad.json["id"].as_str().unwrap().to_string();
    assert_eq!(signed_upload(&s, b, &bad.json["upload"], notes).await, 200);
    let failed = s
        .json("GET", &format!("{base}/{bad_id}"), Some(&creator), None)
        .await;
    assert_eq!(failed.json["status"], "failed", "{}", failed.text);
    assert!(
        s.state
            .blobs
            .head(&format!("videos/{bad_id}/video.mp4"))
            .await
            .unwrap()
            .is_none()
    );
    if b == Backend::Memory {
        // The local blob server enforces the signed size (S3 does it through the verification).
        let big = s
            .json(
                "POST",
                base,
                Some(&creator),
                Some(json!({"product_id": product_id, "title": "Big", "size": 100})),
            )
            .await;
        assert_eq!(
            signed_upload(&s, b, &big.json["upload"], vec![0; 101]).await,
            413
        );
    }

    // Only the ready video is in the feed.
    let feed = s
        .json("GET", &format!("{base}/?seed=3"), Some(&viewer), None)
        .await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let ids: Vec<&str> = feed
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);

    // Twenty concurrent like toggles from one user: the count equals the like records.
    let url = s.url(&format!("{base}/{id}/like/"));
    let replies =
        join_all((0..20).map(|_| s.client.post(url.clone()).bearer_auth(&viewer).send())).await;
    let mut liked = 0;
    for r in replies {
        let r = r.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        if body["liked"] == true {
            liked += 1;
        }
    }
    assert_eq!(liked, 10, "each toggle flipped the state once");
    let after = s
        .json("GET", &format!("{base}/{id}"), Some(&viewer), None)
        .await;
    let record = after.json["is_liked"] == true;
    assert_eq!(
        after.json["likes_count"],
        u64::from(record),
        "{}",
        after.text
    );
    // One more toggle, and a second user: the count follows the records.
    let r = s
        .json("POST", &format!("{base}/{id}/like/"), Some(&viewer), None)
        .await;
    assert_eq!(
        r.json,
        json!({"status": "success", "liked": true, "likes_count": 1})
    );
    let r = s
        .json("POST", &format!("{base}/{id}/like/"), Some(&creator), None)
        .await;
    assert_eq!(r.json["likes_count"], 2);

    // The trend job scores it from its activity (two net likes and a view this hour).
    let trends = jobs_fn::run(&s.state, &jobs_fn::JobEvent::named(jobs_fn::Job::VideoTrends))
        .await
        .unwrap();
    assert_eq!(trends["report"]["ready_videos"], 1, "{trends}");
    let scored = s.json("GET", &format!("{base}/{id}"), None, None).await;
    assert_eq!(scored.json["trend_score"], 1.0, "{}", scored.text);

    // The uploader deletes it: the record, the file and the users' likes go.
    assert_eq!(
        s.json("DELETE", &format!("{base}/{id}"), Some(&creator), None)
            .await
            .status,
        204
    );
    assert_eq!(
        s.json("GET", &format!("{base}/{id}"), None, None)
            .await
            .status,
        404
    );
    assert!(
        s.state
            .blobs
            .head(&format!("videos/{id}/video.mp4"))
            .await
            .unwrap()
            .is_none()
    );
    let marks = shared::store::query_all(
        s.state.store.as_ref(),
        shared::store::Query::gsi1(shared::store::keys::video_refs_pk(&id)),
    )
    .await
    .unwrap();
    assert!(marks.is_empty(), "{marks:?}");
}
