//! HTTP edges: errors raised below the handlers still have the JSON error shape, non-finite
//! floats are refused, an early rejection announces that the connection closes, and the OpenAPI
//! document is complete (descriptions, unique operation ids, the shared error statuses).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use api_tests::{Backend, TestServer};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const ADMIN: (&str, &str) = ("admin@ecommerce.com", "admin123");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_body_over_the_limit_gets_the_json_413() {
    let s = TestServer::spawn_with(Backend::Memory, &[("MAX_BODY_BYTES", "2048")]).await;
    s.seed_demo().await;
    let token = s.token(ADMIN.0, ADMIN.1).await;
    let body = format!("user_id,nb_sessions\n{}", "1,2\n".repeat(2000));
    let resp = s
        .client
        .post(s.url("/users/import"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let reply = api_tests::Reply::from(resp).await;
    reply.assert_error(413, "PAYLOAD_TOO_LARGE");
    assert_eq!(
        reply.headers["content-type"], "application/json",
        "{}",
        reply.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_not_utf8_gets_the_json_400() {
    let s = TestServer::spawn(Backend::Memory).await;
    let reply = s.json("GET", "/api/v1/products/%FF%FE", None, None).await;
    reply.assert_error(400, "MALFORMED_REQUEST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_finite_float_parameters_are_422() {
    let s = TestServer::spawn(Backend::Memory).await;
    for query in [
        "/api/v1/products?min_price=NaN",
        "/api/v1/products?max_price=inf",
        "/api/v1/products?min_price=1e400",
        "/api/v1/search?q=phone&price_min=1e400",
        "/api/v1/search?q=phone&price_max=NaN",
    ] {
        let reply = s.json("GET", query, None, None).await;
        reply.assert_error(422, "VALIDATION_ERROR");
        assert!(!reply.error_fields().is_empty(), "{query}: {}", reply.text);
    }
    // Finite values still pass.
    let ok = s
        .json("GET", "/api/v1/products?min_price=1.5e1", None, None)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

/// Sends `head` then `body` on a fresh connection and returns the response head, lower-cased.
async fn response_head(addr: &str, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_rejection_says_connection_close_and_a_read_body_keeps_alive() {
    let s = TestServer::spawn(Backend::Memory).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    // 401 before the body is read: only part of the announced body is sent.
    let head = format!(
        "POST /api/v1/users/preferences HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    );
    let early = response_head(&addr, &head, b"{\"interests\":[").await;
    assert!(early.starts_with("http/1.1 401"), "{early}");
    assert!(early.contains("connection: close"), "{early}");
    // The body is read to its end (a failed login): the connection stays open.
    let body = br#"{"username":"nobody@example.com","password":"wrong-password"}"#;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let read = response_head(&addr, &head, body).await;
    assert!(read.starts_with("http/1.1 401"), "{read}");
    assert!(!read.contains("connection: close"), "{read}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_complete() {
    let s = TestServer::spawn(Backend::Memory).await;
    let doc = s.json("GET", "/openapi.json", None, None).await.json;
    assert!(doc["info"]["contact"].is_null(), "{}", doc["info"]);
    assert!(doc["info"]["license"].is_null(), "{}", doc["info"]);
    let mut ids = HashSet::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            assert!(ids.insert(id.clone()), "duplicate operationId {id}");
            let responses = op["responses"].as_object().unwrap();
            for (status, r) in responses {
                assert!(
                    r["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status} has no description"
                );
            }
            let has = |status: &str| responses.contains_key(status);
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(has(status), "{method} {path} lacks {status}");
                }
            }
            let bearer = op["security"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r.get("bearer").is_some()));
            if bearer {
                assert!(has("401"), "{method} {path} lacks 401");
            }
        }
    }
    assert!(operations > 50, "{operations} operations");
    // A limit the server enforces is in the document.
    let page_size = doc["paths"]["/api/v1/admin/users"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page_size")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(page_size["schema"]["minimum"], 1, "{page_size}");
    assert_eq!(page_size["schema"]["maximum"], 100, "{page_size}");
}
