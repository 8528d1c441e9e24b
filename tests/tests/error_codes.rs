//! The OpenAPI document and `shared::error::ErrorCode` agree: `ErrorBody.error_code` lists
//! exactly the codes, and every code a response description names is a listed code that comes
//! with that response's status.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use shared::error::ErrorCode;

/// UPPER_SNAKE words (at least one underscore) of a text: how descriptions name codes.
fn code_like_words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| {
            w.contains('_')
                && w.starts_with(|c: char| c.is_ascii_uppercase())
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// Environment variables a description may name.
const CONFIG_WORDS: &[&str] = &["TEXTBOOK_MAX_CONTENT_BYTES"];

#[test]
fn the_openapi_document_names_only_listed_codes() {
    let doc = serde_json::to_value(local::openapi()).unwrap();
    let listed: Vec<&str> =
        doc["components"]["schemas"]["ErrorBody"]["properties"]["error_code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, all);

    let mut named = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(responses) = op["responses"].as_object() else {
                continue;
            };
            for (status, response) in responses {
                let text = response["description"].as_str().unwrap_or_default();
                for word in code_like_words(text) {
                    named += 1;
                    let status: u16 = status.parse().unwrap();
                    // Configuration variables (`TEXTBOOK_MAX_CONTENT_BYTES`) are not codes.
                    if CONFIG_WORDS.contains(&word) {
                        continue;
                    }
                    if let Err(e) = ErrorCode::check_documented(status, word) {
                        panic!("{method} {path} {status}: {e}");
                    }
                }
            }
        }
    }
    assert!(named > 0, "no response description names a code");
}
