//! The admin API and its permissions (`/api/v1/admin`).
//! Each check runs against the in-memory backends and, with the emulator (`tests/run.sh`),
//! against DynamoDB + S3 on moto.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer};
use serde_json::json;

api_tests::suite!(admin_flows_and_permissions,);

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
