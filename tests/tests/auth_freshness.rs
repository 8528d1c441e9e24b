//! Black-box checks of issue 11's two auth defects, on the in-memory backends and (with the
//! emulator) DynamoDB on moto:
//! - a token is only as good as its account now: deactivation, role removal or assignment refuse
//!   older tokens on admin, customer and optional-auth routes, on this instance at once and on
//!   another instance within its cache time; a token for an account that does not exist is 401;
//! - failed logins are throttled per (login name, client address) and per address: a stranger
//!   cannot lock the owner out, one address cannot spray many accounts, unknown names get the
//!   same 429 as real ones.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};

use api_tests::{Backend, Reply, TestServer};
use serde_json::json;
use shared::{
    AppState,
    auth::{StatusCache, password::hash_password},
    domain::users,
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

suite!(
    deactivation_and_role_changes_reach_tokens_already_issued,
    another_instance_refuses_within_its_cache_time,
    login_throttling_is_per_name_and_address,
);

const USERS: &str = "/api/v1/admin/users";

/// An active admin with `password`, made directly in the store (as the bootstrap command does).
async fn admin(s: &TestServer, name: &str, password: &str) -> String {
    let hash = hash_password(password).await.unwrap();
    users::ensure_admin(
        s.state.store.as_ref(),
        &format!("{name}@example.com"),
        name,
        hash,
    )
    .await
    .unwrap()
    .id
}

async fn deactivation_and_role_changes_reach_tokens_already_issued(b: Backend) {
    let s = TestServer::spawn(b).await;
    admin(&s, "root", "root-password").await;
    let eve_id = admin(&s, "eve", "eve-password").await;
    let mal_id = admin(&s, "mal", "mal-password").await;
    let root = s.token("root", "root-password").await;
    let eve = s.token("eve", "eve-password").await;
    let mal = s.token("mal", "mal-password").await;
    assert_eq!(
        s.register("cus@example.com", "cus", "cus-password")
            .await
            .status,
        201
    );
    let cus = s.token("cus", "cus-password").await;
    let cus_id = s
        .json("GET", "/api/v1/users/profile", Some(&cus), None)
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.json("GET", USERS, Some(&eve), None).await.status, 200);
    assert_eq!(
        s.json("GET", "/api/v1/cart", Some(&cus), None).await.status,
        200
    );

    // Deactivation: the admin's token can no longer list, create admins or re-activate itself.
    let off = s
        .json(
            "PUT",
            &format!("{USERS}/{eve_id}"),
            Some(&root),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    s.json("GET", USERS, Some(&eve), None)
        .await
        .assert_error(401, "ACCOUNT_DISABLED");
    let create = json!({"email": "evil@example.com", "password": "password123",
                        "first_name": "E", "last_name": "Vil", "roles": ["admin"]});
    s.json("POST", USERS, Some(&eve), Some(create))
        .await
        .assert_error(401, "ACCOUNT_DISABLED");
    s.json(
        "PUT",
        &format!("{USERS}/{eve_id}"),
        Some(&eve),
        Some(json!({"is_active": true})),
    )
    .await
    .assert_error(401, "ACCOUNT_DISABLED");
    assert!(
        users::find_by_login(s.state.store.as_ref(), "evil@example.com")
            .await
            .unwrap()
            .is_none()
    );

    // Role removal: the old token is refused; the next login carries the remaining roles.
    let removed = s
        .json(
            "DELETE",
            &format!("{USERS}/{mal_id}/roles/admin"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    s.json("GET", USERS, Some(&mal), None)
        .await
        .assert_error(401, "TOKEN_REVOKED");
    let mal = s.token("mal", "mal-password").await;
    s.json("GET", USERS, Some(&mal), None)
        .await
        .assert_error(403, "FORBIDDEN");

    // Role assignment revokes too (the next login has the new role).
    let assigned = s
        .json(
            "POST",
            &format!("{USERS}/{cus_id}/roles/manager"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(assigned.status, 200, "{}", assigned.text);
    s.json("GET", "/api/v1/users/profile", Some(&cus), None)
        .await
        .assert_error(401, "TOKEN_REVOKED");
    let cus = s.token("cus", "cus-password").await;
    assert_eq!(s.json("GET", USERS, Some(&cus), None).await.status, 200);

    // A deactivated customer: required-auth and optional-auth routes both refuse the token.
    let off = s
        .json(
            "PUT",
            &format!("{USERS}/{cus_id}"),
            Some(&root),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    for path in ["/api/v1/users/profile", "/api/v1/cart"] {
        s.json("GET", path, Some(&cus), None)
            .await
            .assert_error(401, "ACCOUNT_DISABLED");
    }

    // A validly signed token for an account that does not exist writes nothing.
    let ghost = s
        .state
        .jwt
        .issue(
            &uuid::Uuid::now_v7().to_string(),
            vec!["customer".into()],
            vec!["cart.manage".into()],
        )
        .unwrap();
    s.json(
        "POST",
        "/api/v1/cart/add",
        Some(&ghost),
        Some(json!({"product_id": uuid::Uuid::new_v4().to_string(), "quantity": 1})),
    )
    .await
    .assert_error(401, "INVALID_TOKEN");
}

/// A second server on the same store with its own status cache (1 s): another Lambda instance.
async fn another_instance_refuses_within_its_cache_time(b: Backend) {
    let s = TestServer::spawn_with(b, &[("AUTH_STATUS_CACHE_SECONDS", "1")]).await;
    let other_state = AppState {
        auth_status: std::sync::Arc::new(StatusCache::new(std::time::Duration::from_secs(1))),
        ..s.state.clone()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    local::start_with_state(listener, other_state)
        .await
        .unwrap();

    admin(&s, "root", "root-password").await;
    let eve_id = admin(&s, "eve", "eve-password").await;
    let root = s.token("root", "root-password").await;
    let eve = s.token("eve", "eve-password").await;
    let on_other = || async {
        Reply::from(
            s.client
                .get(format!("{other}{USERS}"))
                .bearer_auth(&eve)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    assert_eq!(
        on_other().await.status,
        200,
        "the other instance caches eve as active"
    );
    let off = s
        .json(
            "PUT",
            &format!("{USERS}/{eve_id}"),
            Some(&root),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    let started = std::time::Instant::now();
    loop {
        let r = on_other().await;
        if r.status == 401 {
            r.assert_error(401, "ACCOUNT_DISABLED");
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(2500),
            "the other instance still honours the token after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A client whose connections come from `127.0.0.<last>` (the server sees that peer address).
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
}

async fn login_from(s: &TestServer, client: &reqwest::Client, name: &str, password: &str) -> Reply {
    let resp = client
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap();
    Reply::from(resp).await
}

async fn login_throttling_is_per_name_and_address(b: Backend) {
    let s = TestServer::spawn_with(b, &[("LOGIN_MAX_FAILURES_PER_ADDRESS", "8")]).await;
    admin(&s, "boss", "boss-password").await;
    let (a, b2, c, d) = (
        client_from(1),
        client_from(2),
        client_from(3),
        client_from(4),
    );

    // Five anonymous bad logins from one address do not lock the owner out elsewhere.
    for _ in 0..5 {
        login_from(&s, &a, "boss", "guess")
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
    let blocked = login_from(&s, &a, "boss@example.com", "boss-password").await;
    let blocked_by_username = login_from(&s, &a, "boss", "boss-password").await;
    blocked_by_username.assert_error(429, "TOO_MANY_LOGIN_ATTEMPTS");
    assert!(blocked_by_username.headers.contains_key("retry-after"));
    assert_eq!(
        blocked.status, 200,
        "another login name (the email) has its own count: {}",
        blocked.text
    );
    let elsewhere = login_from(&s, &b2, "boss", "boss-password").await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text);

    // An unknown name is throttled after the same number of failures, with the same answer.
    for _ in 0..5 {
        login_from(&s, &c, "nobody", "guess")
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
    let unknown = login_from(&s, &c, "nobody", "guess").await;
    unknown.assert_error(429, "TOO_MANY_LOGIN_ATTEMPTS");
    assert_eq!(unknown.json, blocked_by_username.json);

    // One address spraying one guess per name hits the per-address limit (8 here).
    for i in 0..8 {
        login_from(&s, &d, &format!("spray{i}"), "guess")
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
    login_from(&s, &d, "boss", "boss-password")
        .await
        .assert_error(429, "TOO_MANY_LOGIN_ATTEMPTS");
    assert_eq!(
        login_from(&s, &b2, "boss", "boss-password").await.status,
        200
    );
}
