//! Registration, login, profiles and tokens (`/api/v1/auth`, `/api/v1/users/me`).
//! Each check runs against the in-memory backends and, with the emulator (`tests/run.sh`),
//! against DynamoDB + S3 on moto.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer};
use futures::future::join_all;
use serde_json::json;
use shared::auth::Claims;

api_tests::suite!(
    register_login_and_profile_round_trip,
    register_rejects_bad_input_without_partial_records,
    duplicate_email_or_username_is_409_case_insensitive,
    concurrent_registrations_of_one_username_make_one_user,
    login_failures_look_the_same_and_are_throttled,
    tokens_missing_expired_tampered_or_foreign_are_401,
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
    let s = TestServer::spawn_with(b, &[("LOGIN_WINDOW_SECONDS", "8")]).await;
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
    // Five failures recorded for this login name from this address: the next attempt is refused
    // even with the right password (counts are per login name as typed, see login_throttle).
    let blocked = s.login("locky", "right-password").await;
    blocked.assert_error(429, "TOO_MANY_LOGIN_ATTEMPTS");
    assert!(blocked.headers.contains_key("retry-after"));
    // Once the window has passed, the right password works again.
    // (The window is 8 s so that the failures above fit in it on a loaded emulator.)
    let retry_after: u64 = blocked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(retry_after * 1000 + 1100)).await;
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
