//! Deactivation and role changes take effect on tokens already issued.

use serde_json::json;
use shared::{
    AppState,
    auth::{Role, StatusCache},
    testkit::TestApp,
};

use crate::router;

const USERS: &str = "/api/v1/admin/users";

#[tokio::test]
async fn a_deactivated_admin_loses_its_power_at_once() {
    let app = TestApp::new(router);
    let (_, root) = app.user_with_roles("root", &[Role::Admin]).await;
    let (eve, eve_token) = app.user_with_roles("eve", &[Role::Admin]).await;
    assert_eq!(
        app.call("GET", USERS, Some(&eve_token), None).await.status,
        200
    );

    let off = app
        .call(
            "PUT",
            &format!("{USERS}/{}", eve.id),
            Some(&root),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);

    let list = app.call("GET", USERS, Some(&eve_token), None).await;
    assert_eq!(list.status, 401, "{}", list.text);
    assert_eq!(list.json["error_code"], "ACCOUNT_DISABLED");
    let new_admin = app
        .call(
            "POST",
            USERS,
            Some(&eve_token),
            Some(
                json!({"email": "evil@example.com", "password": "password123",
                        "first_name": "E", "last_name": "Vil", "roles": ["admin"]}),
            ),
        )
        .await;
    assert_eq!(new_admin.status, 401, "{}", new_admin.text);
    let reactivate = app
        .call(
            "PUT",
            &format!("{USERS}/{}", eve.id),
            Some(&eve_token),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(reactivate.status, 401, "{}", reactivate.text);

    // Reactivated by another admin: the old token stays dead (the account's auth version moved
    // on twice); a new login works.
    let on = app
        .call(
            "PUT",
            &format!("{USERS}/{}", eve.id),
            Some(&root),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.text);
    let old = app.call("GET", USERS, Some(&eve_token), None).await;
    assert_eq!(old.status, 401);
    assert_eq!(old.json["error_code"], "TOKEN_REVOKED");
    let eve = shared::domain::users::get(app.state.store.as_ref(), &eve.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(eve.auth_version, 2);
    assert_eq!(
        app.call("GET", USERS, Some(&app.token_for(&eve)), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn role_removal_and_assignment_revoke_older_tokens() {
    let app = TestApp::new(router);
    let (_, root) = app.user_with_roles("root", &[Role::Admin]).await;
    let (mal, mal_token) = app.user_with_roles("mal", &[Role::Admin]).await;
    let removed = app
        .call(
            "DELETE",
            &format!("{USERS}/{}/roles/admin", mal.id),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    let r = app.call("GET", USERS, Some(&mal_token), None).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json["error_code"], "TOKEN_REVOKED");

    let (cus, cus_token) = app.user_with_roles("cus", &[Role::Customer]).await;
    assert_eq!(
        app.call("GET", USERS, Some(&cus_token), None).await.status,
        403
    );
    let assigned = app
        .call(
            "POST",
            &format!("{USERS}/{}/roles/manager", cus.id),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(assigned.status, 200, "{}", assigned.text);
    assert_eq!(
        app.call("GET", USERS, Some(&cus_token), None).await.status,
        401
    );
    let cus = shared::domain::users::get(app.state.store.as_ref(), &cus.id)
        .await
        .unwrap()
        .unwrap();
    let fresh = app.token_for(&cus);
    assert_eq!(app.call("GET", USERS, Some(&fresh), None).await.status, 200);

    // A no-op assignment (role already held) changes nothing, so tokens survive it.
    app.call(
        "POST",
        &format!("{USERS}/{}/roles/manager", cus.id),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(app.call("GET", USERS, Some(&fresh), None).await.status, 200);
    // Profile edits that do not touch roles or the active flag do not revoke tokens either.
    let renamed = app
        .call(
            "PUT",
            &format!("{USERS}/{}", cus.id),
            Some(&root),
            Some(json!({"last_name": "Renamed"})),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(app.call("GET", USERS, Some(&fresh), None).await.status, 200);
}

#[tokio::test]
async fn a_token_for_an_account_that_does_not_exist_is_401() {
    let app = TestApp::new(router);
    let forged_sub = app
        .state
        .jwt
        .issue("no-such-user", vec!["admin".into()], vec!["*".into()])
        .unwrap();
    let r = app.call("GET", USERS, Some(&forged_sub), None).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json["error_code"], "INVALID_TOKEN");
}

/// Two instances share one store, each with its own status cache: a deactivation made through
/// one reaches the other when its cached copy expires (`AUTH_STATUS_CACHE_SECONDS`).
#[tokio::test]
async fn other_instances_see_a_deactivation_within_the_cache_time() {
    let app = TestApp::new(router);
    let (_, root) = app.user_with_roles("root", &[Role::Admin]).await;
    let (eve, eve_token) = app.user_with_roles("eve", &[Role::Admin]).await;
    let mut other = TestApp::new(router);
    other.state = AppState {
        auth_status: std::sync::Arc::new(StatusCache::new(std::time::Duration::from_millis(800))),
        ..app.state.clone()
    };
    other.router = router(other.state.clone());
    assert_eq!(
        other
            .call("GET", USERS, Some(&eve_token), None)
            .await
            .status,
        200
    );
    let off = app
        .call(
            "PUT",
            &format!("{USERS}/{}", eve.id),
            Some(&root),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(off.status, 200);
    assert_eq!(
        app.call("GET", USERS, Some(&eve_token), None).await.status,
        401
    );
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    let r = other.call("GET", USERS, Some(&eve_token), None).await;
    assert_eq!(r.status, 401, "{}", r.text);
}
