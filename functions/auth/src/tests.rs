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
