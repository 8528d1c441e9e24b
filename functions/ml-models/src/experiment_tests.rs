//! Router tests of the A/B experiment routes on the in-memory backends, one per route and per
//! bad-input case of the issue.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::{Value, json};
use shared::{
    domain::experiments::{self, ArmEvent, ArmRef},
    reco::abtest,
    testkit::TestApp,
};

use crate::tests::{admin, assert_each_needs_the_ml_models_permission, fields};

const BASE: &str = "/api/v1/admin/ml-models/experiments";
const CONFIGS: &str = "/api/v1/admin/ml-models/ml-config";

/// A new hybrid config (the treatment); its id.
async fn hybrid_config(app: &TestApp, token: &str) -> String {
    let r = app
        .call(
            "POST",
            &format!("{CONFIGS}/"),
            Some(token),
            Some(json!({"name": "more_als", "model_type": "hybrid",
                "parameters": {"weights": {"als": 0.8}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["id"].as_str().unwrap().to_string()
}

fn experiment(recommendation_type: &str, treatment: &str) -> Value {
    json!({
        "name": "More ALS on the homepage",
        "description": "ALS weight 0.8 against the default blend",
        "recommendation_type": recommendation_type,
        "arms": [
            {"name": "control", "config_id": "default-hybrid", "traffic_share": 50},
            {"name": "more_als", "config_id": treatment, "traffic_share": 50},
        ],
    })
}

#[tokio::test]
async fn every_experiment_route_needs_the_ml_models_permission() {
    assert_each_needs_the_ml_models_permission(&[
        ("GET", BASE.to_string()),
        ("POST", BASE.to_string()),
        ("GET", format!("{BASE}/some-id")),
        ("POST", format!("{BASE}/some-id/stop")),
    ])
    .await;
}

#[tokio::test]
async fn create_list_results_and_stop_with_promotion() {
    let app = TestApp::new(crate::router);
    let token = admin(&app).await;
    let treatment = hybrid_config(&app, &token).await;

    let r = app
        .call(
            "POST",
            BASE,
            Some(&token),
            Some(experiment("homepage", &treatment)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(r.json["status"], "running");
    assert_eq!(r.json["recommendation_type"], "homepage");
    assert_eq!(r.json["control_arm"], "control");
    assert_eq!(r.json["arms"][0]["is_control"], true);
    assert_eq!(r.json["arms"][1]["traffic_share"], 50.0);
    assert!(r.json["winner"].is_null());
    assert!(r.json["created_by"].is_string());

    let r = app.call("GET", BASE, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["id"], id.as_str());

    // Serving assigns callers; tracking counts their lists, clicks and purchases.
    let store = app.state.store.as_ref();
    let shares = [5_000, 5_000];
    let mut users = [0u64; 2];
    for i in 0..20 {
        let actor = format!("user-{i}");
        let a = experiments::assignment(store, "homepage", &actor)
            .await
            .unwrap()
            .unwrap();
        let arm = abtest::assign(&id, &actor, &shares).unwrap();
        assert_eq!(a.arm.arm, ["control", "more_als"][arm]);
        users[arm] += 1;
    }
    let arm = |name: &str| ArmRef {
        experiment_id: id.clone(),
        arm: name.into(),
    };
    experiments::count(store, &arm("control"), ArmEvent::Impressions(1000))
        .await
        .unwrap();
    experiments::count(store, &arm("more_als"), ArmEvent::Impressions(1000))
        .await
        .unwrap();
    for _ in 0..10 {
        experiments::count(store, &arm("control"), ArmEvent::Click)
            .await
            .unwrap();
    }
    for _ in 0..40 {
        experiments::count(store, &arm("more_als"), ArmEvent::Click)
            .await
            .unwrap();
    }
    experiments::count(
        store,
        &arm("more_als"),
        ArmEvent::Conversion {
            revenue_cents: 12_345,
        },
    )
    .await
    .unwrap();

    let r = app
        .call("GET", &format!("{BASE}/{id}"), Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["id"], id.as_str());
    let results = &r.json["results"];
    let (c, t) = (&results["arms"][0], &results["arms"][1]);
    assert_eq!(c["users"], users[0]);
    assert_eq!(t["users"], users[1]);
    assert_eq!(c["impressions"], 1000);
    assert_eq!(c["clicks"], 10);
    assert_eq!(c["click_rate"], 1.0);
    assert_eq!(t["click_rate"], 4.0);
    assert_eq!(t["conversions"], 1);
    assert_eq!(t["conversion_rate"], 0.1);
    assert_eq!(t["revenue"], 123.45);
    let per_user = 12_345.0 / users[1] as f64 / 100.0;
    assert!((t["revenue_per_user"].as_f64().unwrap() - per_user).abs() <= 0.005);
    assert!(c["click_rate_p_value"].is_null());
    // 40/1000 against 10/1000: pooled 0.025, se 0.0069821, z 4.2967, p 1.7e-5.
    let p = t["click_rate_p_value"].as_f64().unwrap();
    assert!(p > 1.0e-5 && p < 2.5e-5, "{p}");
    assert_eq!(results["leader"], "more_als");
    assert_eq!(results["significance_level"], 0.05);

    // Stop and promote: the treatment becomes the active hybrid config.
    let r = app
        .call(
            "POST",
            &format!("{BASE}/{id}/stop"),
            Some(&token),
            Some(json!({"promote_winner": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["promotion"], "activated");
    assert_eq!(r.json["experiment"]["status"], "stopped");
    assert_eq!(r.json["experiment"]["winner"], "more_als");
    assert_eq!(
        r.json["experiment"]["promoted_config_id"],
        treatment.as_str()
    );
    assert_eq!(r.json["experiment"]["results"]["arms"][1]["clicks"], 40);
    let list = app
        .call("GET", &format!("{CONFIGS}/"), Some(&token), None)
        .await
        .json;
    let active = |cid: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == cid)
            .unwrap()["is_active"]
            .clone()
    };
    assert_eq!(active(&treatment), true);
    assert_eq!(active("default-hybrid"), false);
    // Nobody is assigned any more.
    assert_eq!(
        experiments::assignment(store, "homepage", "user-1")
            .await
            .unwrap(),
        None
    );

    // Stopping again: a clear 409, nothing changes.
    let r = app
        .call("POST", &format!("{BASE}/{id}/stop"), Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.json["error_code"], "EXPERIMENT_NOT_RUNNING");
    assert!(r.json["detail"].as_str().unwrap().contains("more_als"));
    let r = app
        .call("GET", &format!("{BASE}/{id}"), Some(&token), None)
        .await;
    assert_eq!(r.json["status"], "stopped");
    assert!(r.json["stopped_at"].is_string());

    // The type is free again; a stop without a body promotes nothing.
    let r = app
        .call(
            "POST",
            BASE,
            Some(&token),
            Some(experiment("homepage", &treatment)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let second = r.json["id"].as_str().unwrap().to_string();
    let r = app
        .call("POST", &format!("{BASE}/{second}/stop"), Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.json["promotion"].is_null());
    assert_eq!(r.json["experiment"]["winner"], "control");
    let r = app.call("GET", BASE, Some(&token), None).await;
    assert_eq!(r.json[0]["id"], second.as_str());
    assert_eq!(r.json[1]["id"], id.as_str());
}

#[tokio::test]
async fn bad_experiments_are_422_a_second_running_one_409_and_unknown_ids_404() {
    let app = TestApp::new(crate::router);
    let token = admin(&app).await;
    let treatment = hybrid_config(&app, &token).await;
    let post = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move { app.call("POST", BASE, Some(&token), Some(body)).await }
    };
    let with_arms = |arms: Value| json!({"name": "x", "recommendation_type": "cart", "arms": arms});

    // Shares that do not sum to 100.
    let r = post(with_arms(json!([
        {"name": "a", "config_id": "default-hybrid", "traffic_share": 60},
        {"name": "b", "config_id": &treatment, "traffic_share": 30},
    ])))
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(fields(&r.json), ["arms"]);
    assert!(
        r.json["field_errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sum to 90")
    );

    // Fewer than two arms.
    let r = post(with_arms(json!([
        {"name": "a", "config_id": "default-hybrid", "traffic_share": 50},
    ])))
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(fields(&r.json).contains(&"arms".to_string()));
    assert!(
        r.json["field_errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2 to 8")
    );

    // An unknown config: the arm is named.
    let r = post(with_arms(json!([
        {"name": "a", "config_id": "default-hybrid", "traffic_share": 50},
        {"name": "b", "config_id": "no-such-config", "traffic_share": 50},
    ])))
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(fields(&r.json), ["arms[1].config_id"]);
    let message = r.json["field_errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("arm 'b'") && message.contains("no-such-config"),
        "{message}"
    );

    // Unknown type, missing fields.
    let r = post(json!({"recommendation_type": "popular"})).await;
    assert_eq!(fields(&r.json), ["name", "recommendation_type", "arms"]);
    // Not JSON.
    let r = app
        .send(shared::testkit::raw_request(
            "POST",
            BASE,
            "application/json",
            "{".to_string(),
        ))
        .await;
    assert!(r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::UNAUTHORIZED);

    // A second running experiment on one type.
    let r = post(experiment("cart", &treatment)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let running = r.json["id"].as_str().unwrap().to_string();
    let r = post(experiment("cart", &treatment)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.json["error_code"], "EXPERIMENT_RUNNING");
    assert!(r.json["detail"].as_str().unwrap().contains(&running));
    // Another type is fine.
    let r = post(experiment("checkout", &treatment)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // promote_winner must be a boolean; the experiment keeps running.
    let r = app
        .call(
            "POST",
            &format!("{BASE}/{running}/stop"),
            Some(&token),
            Some(json!({"promote_winner": "yes"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(fields(&r.json), ["promote_winner"]);
    let r = app
        .call("GET", &format!("{BASE}/{running}"), Some(&token), None)
        .await;
    assert_eq!(r.json["status"], "running");

    // Unknown ids.
    for (method, path) in [
        ("GET", format!("{BASE}/nope")),
        ("POST", format!("{BASE}/nope/stop")),
    ] {
        let r = app.call(method, &path, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(r.json["error_code"], "EXPERIMENT_NOT_FOUND");
    }
}
