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
