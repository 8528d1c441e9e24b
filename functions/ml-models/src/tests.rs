//! Router tests on the in-memory backends (`oneshot`, no server), one per route and per
//! bad-input case of the issue.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::{Router, http::StatusCode};
use serde_json::{Value, json};
use shared::{
    AppState,
    auth::Role,
    domain::ml_models::{
        launcher::{TrainJob, TrainingLauncher},
        runs, training,
    },
    testkit::TestApp,
};

use crate::MlModelsState;

const BASE: &str = "/api/v1/admin/ml-models/ml-config";

/// Holds the lock and never runs: a training stays "in progress".
struct Hold;

#[async_trait::async_trait]
impl TrainingLauncher for Hold {
    async fn launch(&self, _job: TrainJob) -> anyhow::Result<()> {
        Ok(())
    }
    fn name(&self) -> &'static str {
        "hold"
    }
}

/// Refuses to start anything (an invocation that failed).
struct Broken;

#[async_trait::async_trait]
impl TrainingLauncher for Broken {
    async fn launch(&self, _job: TrainJob) -> anyhow::Result<()> {
        anyhow::bail!("no jobs function")
    }
    fn name(&self) -> &'static str {
        "broken"
    }
}

fn held_router(state: AppState) -> Router {
    crate::routes_with(MlModelsState::with_launcher(state, Arc::new(Hold)))
        .split_for_parts()
        .0
}

fn broken_router(state: AppState) -> Router {
    crate::routes_with(MlModelsState::with_launcher(state, Arc::new(Broken)))
        .split_for_parts()
        .0
}

pub(crate) async fn admin(app: &TestApp) -> String {
    app.user_with_roles("ml_admin", &[Role::Admin]).await.1
}

pub(crate) fn fields(r: &Value) -> Vec<String> {
    r["field_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}

fn find<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no config {id} in {list}"))
}

/// Each of `routes` answers 401 without a token and 403 naming `system.ml_models` to a customer.
pub(crate) async fn assert_each_needs_the_ml_models_permission(routes: &[(&str, String)]) {
    let app = TestApp::new(crate::router);
    let customer = app.user_with_roles("shopper", &[Role::Customer]).await.1;
    for (method, path) in routes {
        let body = (*method != "GET").then(|| json!({}));
        let r = app.call(method, path, None, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let r = app.call(method, path, Some(&customer), body).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.text
        );
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap()
                .contains("system.ml_models")
        );
    }
}

#[tokio::test]
async fn every_route_needs_the_ml_models_permission() {
    assert_each_needs_the_ml_models_permission(&[
        ("GET", format!("{BASE}/")),
        ("POST", format!("{BASE}/")),
        ("PUT", format!("{BASE}/default-ease")),
        ("POST", format!("{BASE}/default-ease/activate")),
        ("GET", format!("{BASE}/default-ease/performance")),
        ("POST", format!("{BASE}/train")),
    ])
    .await;
}

#[tokio::test]
async fn list_has_one_active_default_per_model_type_from_the_start() {
    let app = TestApp::new(crate::router);
    let token = admin(&app).await;
    // Both slash forms.
    for path in [format!("{BASE}/"), BASE.to_string()] {
        let r = app.call("GET", &path, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let list = r.json.as_array().unwrap();
        assert_eq!(list.len(), 12);
        assert!(list.iter().all(|c| c["is_active"] == true));
    }
    let r = app
        .call("GET", &format!("{BASE}/"), Some(&token), None)
        .await;
    let als = find(&r.json, "default-collaborative");
    assert_eq!(als["model_type"], "collaborative");
    assert_eq!(als["parameters"]["n_factors"], 64);
    assert_eq!(als["parameters"]["lr_all"], 0.005);
    assert!(als["accuracy_score"].is_null());
    assert!(als["last_trained"].is_null());
    let weights = find(&r.json, "default-interactions");
    assert_eq!(weights["parameters"]["purchase"], 5.0);
}

#[tokio::test]
async fn create_update_and_activate_keep_one_active_config_per_type() {
    let app = TestApp::new(crate::router);
    let token = admin(&app).await;
    let r = app
        .call(
            "POST",
            &format!("{BASE}/"),
            Some(&token),
            Some(json!({
                "name": "New_Collaborative_Model",
                "model_type": "collaborative",
                "description": "Enhanced collaborative filtering model",
                "parameters": {"n_factors": 100, "n_epochs": 25, "lr_all": 0.003, "reg_all": 0.015, "random_state": 42}
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["is_active"], false);
    let id = r.json["id"].as_str().unwrap().to_string();

    // The alias als is collaborative.
    let r = app
        .call(
            "POST",
            &format!("{BASE}/"),
            Some(&token),
            Some(json!({"name": "via_alias", "model_type": "als"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["model_type"], "collaborative");

    // Update: parameters merged, description replaced.
    let r = app
        .call(
            "PUT",
            &format!("{BASE}/{id}"),
            Some(&token),
            Some(json!({"parameters": {"n_epochs": 30, "lr_all": 0.004}, "description": "Updated with better parameters"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["parameters"]["n_epochs"], 30);
    assert_eq!(r.json["parameters"]["n_factors"], 100);
    assert_eq!(r.json["description"], "Updated with better parameters");

    // Activate: the default collaborative config is deactivated.
    let path = format!("{BASE}/{id}/activate");
    let r = app.call("POST", &path, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["message"], "Configuration activated successfully");
    let list = app
        .call("GET", &format!("{BASE}/"), Some(&token), None)
        .await
        .json;
    assert_eq!(find(&list, &id)["is_active"], true);
    assert_eq!(find(&list, "default-collaborative")["is_active"], false);
    let active_collaborative = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["model_type"] == "collaborative" && c["is_active"] == true)
        .count();
    assert_eq!(active_collaborative, 1);

    // Activating it again: 200, nothing changes.
    let before = find(&list, &id)["updated_at"].clone();
    let r = app.call("POST", &path, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["message"], "Configuration is already active");
    let list = app
        .call("GET", &format!("{BASE}/"), Some(&token), None)
        .await
        .json;
    assert_eq!(find(&list, &id)["updated_at"], before);
    assert_eq!(find(&list, "default-collaborative")["is_active"], false);

    // And back.
    let r = app
        .call(
            "POST",
            &format!("{BASE}/default-collaborative/activate"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let list = app
        .call("GET", &format!("{BASE}/"), Some(&token), None)
        .await
        .json;
    assert_eq!(find(&list, &id)["is_active"], false);
    assert_eq!(find(&list, "default-collaborative")["is_active"], true);
}

#[tokio::test]
async fn bad_configs_are_422_naming_the_field_and_unknown_ids_404() {
    let app = TestApp::new(crate::router);
    let token = admin(&app).await;
    let post = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            app.call("POST", &format!("{BASE}/"), Some(&token), Some(body))
                .await
        }
    };
    // Unknown model_type: the valid ones are listed.
    let r = post(json!({"name": "x", "model_type": "svd"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&r.json), vec!["model_type"]);
    let msg = r.json["field_errors"][0]["message"].as_str().unwrap();
    for name in [
        "collaborative",
        "item_knn",
        "ease",
        "hybrid",
        "interactions",
        "lightgbm",
    ] {
        assert!(msg.contains(name), "{msg}");
    }
    let r =
        post(json!({"name": "x", "model_type": "kmeans", "parameters": {"n_clusters": 1}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&r.json), vec!["parameters.n_clusters"]);
    let r = post(json!({"name": "rfm4", "model_type": "kmeans", "parameters": {"n_clusters": 4}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Out of range, wrong type, unknown parameter.
    let r = post(json!({"name": "x", "model_type": "collaborative",
        "parameters": {"n_factors": 0, "n_epochs": "many", "reg_all": -1, "alpha": 0, "depth": 3}}))
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut f = fields(&r.json);
    f.sort();
    assert_eq!(
        f,
        vec![
            "parameters.alpha",
            "parameters.depth",
            "parameters.n_epochs",
            "parameters.n_factors",
            "parameters.reg_all"
        ]
    );
    let r =
        post(json!({"name": "x", "model_type": "collaborative", "parameters": {"n_factors": 513}}))
            .await;
    assert!(
        r.json["field_errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1 to 512")
    );
    let r = post(json!({"name": "x", "model_type": "ease", "parameters": [1]})).await;
    assert_eq!(fields(&r.json), vec!["parameters"]);
    let r = post(json!({"model_type": 3})).await;
    let mut f = fields(&r.json);
    f.sort();
    assert_eq!(f, vec!["model_type", "name"]);
    let r =
        post(json!({"name": "x", "model_type": "hybrid", "parameters": {"weights": {"als": -1}}}))
            .await;
    assert_eq!(fields(&r.json), vec!["parameters.weights.als"]);
    // Not JSON.
    let r = app
        .send(shared::testkit::raw_request(
            "POST",
            &format!("{BASE}/"),
            "application/json",
            "{".to_string(),
        ))
        .await;
    assert!(r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::UNAUTHORIZED);

    // Update: out of range after merging, a type change, an unknown id.
    let r = app
        .call(
            "PUT",
            &format!("{BASE}/default-trending"),
            Some(&token),
            Some(json!({"parameters": {"half_life_hours": 1000}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&r.json), vec!["parameters.half_life_hours"]);
    let r = app
        .call(
            "PUT",
            &format!("{BASE}/default-trending"),
            Some(&token),
            Some(json!({"model_type": "ease"})),
        )
        .await;
    assert_eq!(fields(&r.json), vec!["model_type"]);
    let r = app
        .call(
            "PUT",
            &format!("{BASE}/nope"),
            Some(&token),
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["error_code"], "CONFIG_NOT_FOUND");
    for (method, path) in [
        ("POST", format!("{BASE}/nope/activate")),
        ("GET", format!("{BASE}/nope/performance")),
    ] {
        let r = app.call(method, &path, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(r.json["error_code"], "CONFIG_NOT_FOUND");
    }
}

#[tokio::test]
async fn train_answers_at_once_and_a_second_request_during_the_run_is_409() {
    let app = TestApp::new(held_router);
    let token = admin(&app).await;
    let r = app
        .call(
            "POST",
            &format!("{BASE}/train"),
            Some(&token),
            Some(json!({"retrain_all": true, "specific_models": ["als", "content", "lightgbm", "fbt"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.json["status"], "started");
    assert_eq!(
        r.json["models_training"],
        json!(["als", "content", "lightgbm", "fbt"])
    );
    let id = r.json["training_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("train_"));
    assert!(
        r.json["estimated_completion"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    let r = app
        .call(
            "POST",
            &format!("{BASE}/train"),
            Some(&token),
            Some(json!({"retrain_all": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json["error_code"], "TRAINING_IN_PROGRESS");
    assert!(r.json["detail"].as_str().unwrap().contains(&id));

    // Once the run releases the lock, training starts again.
    training::release_lock(app.state.store.as_ref(), &id)
        .await
        .unwrap();
    let r = app
        .call(
            "POST",
            &format!("{BASE}/train"),
            Some(&token),
            Some(json!({"retrain_all": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.json["models_training"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn bad_train_requests_are_422_and_a_failed_start_releases_the_lock() {
    let app = TestApp::new(broken_router);
    let token = admin(&app).await;
    let train = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            app.call("POST", &format!("{BASE}/train"), Some(&token), Some(body))
                .await
        }
    };
    let r = train(json!({"specific_models": ["als", "kmeans", 3]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fields(&r.json),
        vec!["specific_models[2]"],
        "kmeans is a model now"
    );

    let r = train(json!({"specific_models": ["svd"]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let msg = r.json["field_errors"][0]["message"].as_str().unwrap();
    for name in [
        "als",
        "item_knn",
        "ease",
        "content",
        "popularity",
        "trending",
        "new_arrivals",
        "fbt",
        "hybrid",
        "lightgbm",
    ] {
        assert!(msg.contains(name), "{msg}");
    }
    let r = train(json!({})).await;
    assert_eq!(fields(&r.json), vec!["specific_models"]);
    let r = train(json!({"retrain_all": "yes"})).await;
    assert_eq!(fields(&r.json), vec!["retrain_all"]);
    let r = train(json!({"specific_models": "als"})).await;
    assert_eq!(fields(&r.json), vec!["specific_models"]);

    // The launcher fails: 503, and the lock is not left behind.
    let r = train(json!({"specific_models": ["popularity"]})).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert!(
        app.state
            .store
            .get(&shared::store::keys::training_lock())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_local_training_runs_in_the_background_and_shows_in_performance() {
    let app = TestApp::new(crate::router);
    let token = admin(&app).await;
    let r = app
        .call(
            "POST",
            &format!("{BASE}/train"),
            Some(&token),
            Some(json!({"specific_models": ["popularity", "fbt"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let id = r.json["training_id"].as_str().unwrap().to_string();
    // The background task releases the lock when done.
    let store = app.state.store.as_ref();
    for _ in 0..200 {
        if store
            .get(&shared::store::keys::training_lock())
            .await
            .unwrap()
            .is_none()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let popularity = runs::of_config(store, "default-popularity", 10)
        .await
        .unwrap();
    assert_eq!(popularity.len(), 1);
    assert_eq!(popularity[0].training_id, id);

    // An empty store: popularity skipped (not an error), fbt mined (no orders).
    let r = app
        .call(
            "GET",
            &format!("{BASE}/default-popularity/performance"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["config_id"], "default-popularity");
    assert_eq!(r.json["model_type"], "popularity");
    assert_eq!(r.json["training_count"], 1);
    assert!(r.json["accuracy_score"].is_null());
    assert!(r.json["average_accuracy"].is_null());
    assert_eq!(
        r.json["recommendation_performance"]["total_recommendations"],
        0
    );
    assert_eq!(r.json["recommendation_performance"]["tracked"], true);
    assert_eq!(r.json["recommendation_performance"]["family"], "trending");
    let run = &r.json["training_history"][0];
    assert_eq!(run["status"], "skipped");
    assert!(
        run["reason"]
            .as_str()
            .unwrap()
            .starts_with("not enough interactions")
    );
    assert_eq!(run["training_id"], id.as_str());

    let r = app
        .call(
            "GET",
            &format!("{BASE}/default-fbt/performance"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.json["training_history"][0]["status"], "completed");
    assert!(r.json["last_trained"].is_string());
    let list = app
        .call("GET", &format!("{BASE}/"), Some(&token), None)
        .await
        .json;
    assert!(find(&list, "default-fbt")["last_trained"].is_string());
}

/// `recommendation_performance` is the serving figures of the family the config's model type
/// serves under (the last 30 days).
#[tokio::test]
async fn performance_reports_the_serving_figures_of_the_model_types_family() {
    use shared::domain::rec_tracking::{self, Served, ServedItem};
    use shared::reco::algorithm::Algorithm;
    let app = TestApp::new(crate::router);
    let token = admin(&app).await;
    let store = app.state.store.as_ref();
    let now = chrono::Utc::now();
    let id = rec_tracking::new_recommendation_id();
    let served = Served {
        recommendation_type: "homepage".into(),
        blended: true,
        actor: None,
        arm: None,
        items: vec![
            ServedItem {
                product_id: "p1".into(),
                algorithm: Algorithm::CollaborativeFiltering,
                score: 0.9,
            },
            ServedItem {
                product_id: "p2".into(),
                algorithm: Algorithm::ItemSimilarity,
                score: 0.5,
            },
            ServedItem {
                product_id: "p3".into(),
                algorithm: Algorithm::Fbt,
                score: 0.4,
            },
            ServedItem {
                product_id: "p4".into(),
                algorithm: Algorithm::VectorSimilarity,
                score: 0.2,
            },
        ],
    };
    rec_tracking::record_served(store, &id, &served, now)
        .await
        .unwrap();
    rec_tracking::track_click(store, &id, "p1", None, now)
        .await
        .unwrap();
    let perf = |config: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            let r = app
                .call(
                    "GET",
                    &format!("{BASE}/{config}/performance"),
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.json["recommendation_performance"].clone()
        }
    };
    // ALS, item-kNN and EASE: collaborative (p1, p2): 2 served, 1 click, mean score 0.7.
    for config in ["default-collaborative", "default-item_knn", "default-ease"] {
        let p = perf(config).await;
        assert_eq!(p["family"], "collaborative", "{config}");
        assert_eq!(p["total_recommendations"], 2);
        assert_eq!(p["click_rate"], 50.0);
        assert_eq!(p["conversion_rate"], 0.0);
        assert_eq!(p["average_score"], 0.7);
        assert_eq!(p["period_days"], 30);
        assert_eq!(p["tracked"], true);
    }
    let p = perf("default-content").await;
    assert_eq!(
        (&p["family"], &p["total_recommendations"]),
        (&json!("content_based"), &json!(1))
    );
    let p = perf("default-fbt").await;
    assert_eq!(
        (&p["family"], &p["total_recommendations"]),
        (&json!("fbt"), &json!(1))
    );
    // Hybrid and the ranker: every item of the blended list.
    for config in ["default-hybrid", "default-ranker"] {
        let p = perf(config).await;
        assert_eq!(
            (&p["family"], &p["total_recommendations"]),
            (&json!("hybrid"), &json!(4))
        );
        assert_eq!(p["click_rate"], 25.0);
    }
    let p = perf("default-trending").await;
    assert_eq!(
        (&p["family"], &p["total_recommendations"]),
        (&json!("trending"), &json!(0))
    );
    let p = perf("default-interactions").await;
    assert_eq!(
        (&p["family"], &p["total_recommendations"]),
        (&json!("all"), &json!(4))
    );
}
