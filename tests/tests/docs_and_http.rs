//! What every route shares: API documentation, CORS, request ids, trailing slashes.
//! Each check runs against the in-memory backends and, with the emulator (`tests/run.sh`),
//! against DynamoDB + S3 on moto.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer};

api_tests::suite!(docs_cors_request_ids_and_trailing_slashes,);

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
