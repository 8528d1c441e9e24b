//! Keeps the deployable contract in step with the code:
//! - every route in `template.yaml` is in the OpenAPI document and every documented operation is
//!   routed by `template.yaml` (a route that the document lacks fails here);
//! - every documented operation has an event file in `events/`;
//! - every `events/*.json` replays through its function's router (as API Gateway would deliver
//!   it, parsed by `lambda_http`) with the status `events/manifest.json` expects.

use std::collections::BTreeSet;

use api_tests::replay::{manifest, prepare_event, repo, router_of};
use axum::body::Body;
use serde_json::Value;
use shared::testkit::TestApp;
use tower::ServiceExt;

fn norm(path: &str) -> String {
    let p = path.trim_end_matches('/');
    if p.is_empty() {
        "/".into()
    } else {
        p.to_string()
    }
}

/// (METHOD, path) of every HttpApi event in template.yaml. A line-based read is enough for the
/// `Path:` / `Method:` pairs the template writes, and avoids a YAML parser that chokes on `!Ref`.
fn template_routes() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(repo().join("template.yaml"))
        .unwrap_or_else(|e| panic!("template: {e}"));
    let mut out = BTreeSet::new();
    let (mut path, mut method): (Option<String>, Option<String>) = (None, None);
    for line in text.lines() {
        let t = line.trim();
        if let Some(p) = t.strip_prefix("Path:") {
            path = Some(p.trim().trim_matches(['\'', '"']).to_string());
        } else if let Some(m) = t.strip_prefix("Method:") {
            method = Some(m.trim().trim_matches(['\'', '"']).to_uppercase());
        }
        if let (Some(p), Some(m)) = (&path, &method) {
            out.insert((m.clone(), norm(p)));
            path = None;
            method = None;
        }
    }
    out
}

fn documented_routes() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(local::openapi()).unwrap_or_else(|e| panic!("openapi: {e}"));
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), norm(path)));
            }
        }
    }
    out
}

#[test]
fn template_routes_and_openapi_document_match() {
    let template = template_routes();
    let documented = documented_routes();
    assert!(!template.is_empty(), "no routes parsed from template.yaml");
    let undocumented: Vec<_> = template.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&template).collect();
    assert!(
        undocumented.is_empty(),
        "routes in template.yaml missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented operations with no route in template.yaml: {unrouted:?}"
    );
}

fn event(file: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_documented_operation_has_an_event_file() {
    let mut covered = BTreeSet::new();
    for entry in manifest() {
        let file = entry["file"].as_str().unwrap_or_default();
        let ev = event(file);
        let method = ev["requestContext"]["http"]["method"]
            .as_str()
            .unwrap_or_default()
            .to_uppercase();
        let route_key = ev["routeKey"].as_str().unwrap_or_default();
        let path = route_key
            .split_once(' ')
            .map(|(_, p)| p)
            .unwrap_or_default();
        covered.insert((method, norm(path)));
    }
    let missing: Vec<_> = documented_routes()
        .into_iter()
        .filter(|r| !covered.contains(r))
        .collect();
    assert!(
        missing.is_empty(),
        "operations without an events/ file: {missing:?}"
    );
}

#[tokio::test]
async fn every_event_replays_through_its_router() {
    let entries = manifest();
    let mut files: Vec<String> = std::fs::read_dir(repo().join("events"))
        .unwrap_or_else(|e| panic!("events: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && n != "manifest.json")
        .collect();
    files.sort();
    let listed: BTreeSet<String> = entries
        .iter()
        .filter_map(|e| e["file"].as_str().map(String::from))
        .collect();
    let unlisted: Vec<_> = files.iter().filter(|f| !listed.contains(*f)).collect();
    assert!(
        unlisted.is_empty(),
        "event files missing from manifest.json: {unlisted:?}"
    );

    for entry in &entries {
        let file = entry["file"].as_str().unwrap_or_default();
        let function = entry["function"].as_str().unwrap_or_default();
        let expected = entry["expect_status"].as_u64().unwrap_or(0);
        let router =
            router_of(function).unwrap_or_else(|| panic!("{file}: unknown function {function}"));
        // A fresh app per event: events are independent, like invocations of a cold function.
        let app = TestApp::new(router);
        let raw = prepare_event(&app, entry).await.raw;
        let request = lambda_http::request::from_str(&raw)
            .unwrap_or_else(|e| panic!("{file}: not an API Gateway event: {e}"));
        let request = request.map(|b| Body::from(b.to_vec()));
        let service = shared::http::service(app.router.clone(), &app.state.config);
        let response = service
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(
            u64::from(response.status().as_u16()),
            expected,
            "{file} via {function}"
        );
    }
}
