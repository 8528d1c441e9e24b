//! Router tests on the in-memory backends (`oneshot`, no server).
#![allow(clippy::unwrap_used)]

use axum::http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use shared::{
    auth::Role,
    domain::teachers,
    testkit::{TestApp, TestResponse, raw_request},
};

fn app() -> TestApp {
    TestApp::new(crate::router)
}

async fn admin(app: &TestApp) -> String {
    app.user_with_roles("classroom_admin", &[Role::Admin])
        .await
        .1
}

async fn send_raw(app: &TestApp, uri: &str, ct: &str, body: String, token: &str) -> TestResponse {
    let mut req = raw_request("POST", uri, ct, body);
    req.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    app.send(req).await
}

fn csv_of(ts: &[teachers::Teacher]) -> String {
    let mut s = String::from("user_id,anciennete,degre,academie,niveaux_enseignes");
    for f in teachers::FEATURES {
        s.push(',');
        s.push_str(f);
    }
    s.push('\n');
    for t in ts {
        s.push_str(&format!(
            "{},{},{},{},{}",
            t.user_id,
            t.anciennete,
            t.degre,
            t.academie,
            t.niveaux_enseignes.join("|")
        ));
        for v in t.activity.values() {
            s.push_str(&format!(",{v}"));
        }
        s.push('\n');
    }
    s
}

#[tokio::test]
async fn health_answers_with_success() {
    let app = app();
    let r = app.call("GET", "/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["success"], true);
    assert_eq!(r.json["status"], "healthy");
}

#[tokio::test]
async fn classify_trains_the_starter_model_once_and_answers_in_the_spec_shape() {
    let app = app();
    let r = app
        .call(
            "POST",
            "/classify",
            None,
            Some(json!({"content": "# Les fractions au CM1\n\nManipuler des bandes de papier et la droite graduée pour comprendre les fractions et le calcul."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["success"], true);
    assert_eq!(r.json["data"]["theme"], "Mathematics Education");
    let conf = r.json["data"]["theme_confidence"].as_f64().unwrap();
    assert!(conf > 0.0 && conf <= 1.0);
    assert!(r.json["data"]["defi"].is_string());
    assert!(r.json["data"]["defi_confidence"].as_f64().unwrap() > 0.0);
    let version = r.json["data"]["model_version"]
        .as_str()
        .unwrap()
        .to_string();

    // The artifact is in the blob store and the pointer names it.
    let blobs = app
        .state
        .blobs
        .list("models/classroom/classifier/")
        .await
        .unwrap();
    assert_eq!(blobs.len(), 1);
    assert!(blobs[0].key.contains(&version));

    // Loaded once: the next request answers from the same model, nothing retrained.
    let r = app
        .call(
            "POST",
            "/classify",
            None,
            Some(json!({"content": "Gérer les conflits entre élèves dans la cour de récréation avec la médiation."})),
        )
        .await;
    assert_eq!(r.json["data"]["model_version"], version.as_str());
    assert_eq!(r.json["data"]["theme"], "Classroom Management");
    assert_eq!(
        app.state
            .blobs
            .list("models/classroom/classifier/")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn classify_bad_input() {
    let app = app();
    for (body, status, field) in [
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY, "content"),
        (
            json!({"content": null}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content",
        ),
        (
            json!({"content": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content",
        ),
        (
            json!({"content": "   \n "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content",
        ),
        (
            json!({"content": 42}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content",
        ),
        (
            json!({"content": ["a"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content",
        ),
        (
            json!({"content": "a".repeat(crate::MAX_CONTENT_BYTES + 1)}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "content",
        ),
    ] {
        let r = app
            .call("POST", "/classify", None, Some(body.clone()))
            .await;
        assert_eq!(r.status, status, "{body:.60}: {}", r.text);
        assert_eq!(r.json["field_errors"][0]["field"], field);
        assert!(r.json["detail"].is_string() && r.json["error_code"].is_string());
    }
    let r = app
        .send(raw_request(
            "POST",
            "/classify",
            "application/json",
            "{not json",
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Over the 1 MB body limit: 413 before any parsing.
    let big = json!({"content": "a".repeat(1_100_000)}).to_string();
    let r = app
        .send(raw_request("POST", "/classify", "application/json", big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn admins_add_examples_and_retrain() {
    let app = app();
    let body = json!({"examples": [
        {"content": "Chorale et chant en classe: apprendre la musique ensemble", "theme": "Arts Education", "defi": "school_climate"},
        {"content": "Arts plastiques: peinture et dessin au cycle 2", "theme": "Arts Education", "defi": "student_success"}
    ]});
    let r = app
        .call("POST", "/classify/examples", None, Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (_, customer) = app.user_with_roles("teacher1", &[Role::Customer]).await;
    let r = app
        .call(
            "POST",
            "/classify/examples",
            Some(&customer),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let token = admin(&app).await;
    let r = app
        .call("POST", "/classify/examples", Some(&token), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["added"], 2);
    let starter = crate::model_store::starter_examples().len() as u64;
    assert_eq!(r.json["model"]["trained_on"], starter + 2);
    assert!(
        r.json["model"]["themes"]
            .as_array()
            .unwrap()
            .contains(&json!("Arts Education"))
    );
    let version = r.json["model"]["version"].clone();
    // The new model is in force at once.
    let r = app
        .call(
            "POST",
            "/classify",
            None,
            Some(json!({"content": "peinture"})),
        )
        .await;
    assert_eq!(r.json["data"]["model_version"], version);

    let r = app
        .call(
            "POST",
            "/classify/examples",
            Some(&token),
            Some(json!({"examples": [{"content": "", "theme": "x", "defi": "y"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .call(
            "POST",
            "/classify/examples",
            Some(&token),
            Some(json!({"examples": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn clusters_404_before_any_recompute_and_recompute_409_with_too_few_users() {
    let app = app();
    let r = app.call("GET", "/clusters", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["error_code"], "CLUSTERS_NOT_COMPUTED");

    let token = admin(&app).await;
    let r = app.call("POST", "/clusters/recompute", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .call("POST", "/clusters/recompute", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json["error_code"], "NOT_ENOUGH_USERS");

    let csv = csv_of(&teachers::synthetic_population(3, 1, 1));
    let r = send_raw(&app, "/users/import", "text/csv", csv, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call("POST", "/clusters/recompute", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.json["detail"].as_str().unwrap().contains("3 users"));
    let r = app.call("GET", "/clusters", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn import_recompute_clusters_and_profiles() {
    let app = app();
    let token = admin(&app).await;
    let population = teachers::synthetic_population(600, 1000, 3);
    let r = send_raw(
        &app,
        "/users/import",
        "text/csv",
        csv_of(&population),
        &token,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["imported"], 600);

    let r = app
        .call("POST", "/clusters/recompute", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["success"], true);
    assert_eq!(r.json["message"], "Clusters recomputed successfully");
    assert_eq!(r.json["total_users_processed"], 600);
    let dist = r.json["cluster_distribution"].as_object().unwrap();
    let keys: Vec<&str> = dist.keys().map(String::as_str).collect();
    assert_eq!(keys, ["cluster_0", "cluster_1", "cluster_2", "cluster_3"]);
    assert_eq!(dist.values().map(|v| v.as_u64().unwrap()).sum::<u64>(), 600);

    let r = app.call("GET", "/clusters", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["clusters"]["2"]["name"], "Super Users");
    assert_eq!(r.json["clusters"]["3"]["name"], "Inactive Users");
    assert_eq!(r.json["clusters"]["1"]["name"], "Email Specialists");
    assert_eq!(r.json["clusters"]["0"]["name"], "Balanced Users");
    let profile = &r.json["clusters"]["2"]["profile"];
    assert_eq!(profile.as_object().unwrap().len(), 8);
    // Super users view more tool sheets than inactive users; email specialists open more email
    // than balanced users relative to their other activity.
    assert!(
        profile["nb_fiche_outils"].as_f64().unwrap()
            > r.json["clusters"]["3"]["profile"]["nb_fiche_outils"]
                .as_f64()
                .unwrap()
    );

    let r = app.call("GET", "/user/1000/profile", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["success"], true);
    let data = &r.json["data"];
    assert_eq!(data["user_id"], 1000);
    assert_eq!(data["profile"]["academie"], population[0].academie.as_str());
    assert_eq!(data["cluster"]["assigned_by"], "clustering");
    let id = data["cluster"]["id"].as_u64().unwrap();
    assert_eq!(
        data["recommendations"]["cluster_name"],
        data["cluster"]["name"]
    );
    assert!(id <= 3);

    // A user imported after the recompute is placed by the nearest centroid.
    let late = teachers::synthetic_population(1, 5000, 9);
    let r = send_raw(&app, "/users/import", "text/csv", csv_of(&late), &token).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.call("GET", "/user/5000/profile", None, None).await;
    assert_eq!(r.json["data"]["cluster"]["assigned_by"], "nearest_centroid");
}

#[tokio::test]
async fn import_is_all_or_nothing_with_row_numbers() {
    let app = app();
    let token = admin(&app).await;
    let csv = "user_id,anciennete,degre,academie,nb_sessions\n\
               1,3,2,Paris,4\n\
               ,3,2,Paris,4\n\
               3,3,2,Paris,-2\n"
        .to_string();
    let r = send_raw(&app, "/users/import", "text/csv", csv, &token).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let fields: Vec<&str> = r.json["field_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["rows[2].user_id", "rows[3].nb_sessions"]);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was imported")
    );
    // Row 1 was valid but nothing was written.
    let r = app.call("GET", "/user/1/profile", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let jsonl = "{\"user_id\": 1, \"anciennete\": 2, \"degre\": 1, \"academie\": \"Lille\"}\n{\"user_id\": 2, \"degre\": 1, \"academie\": \"Lille\", \"nb_sessions\": -1}\n";
    let r = send_raw(
        &app,
        "/users/import",
        "application/x-ndjson",
        jsonl.into(),
        &token,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["field_errors"][0]["field"], "rows[2].anciennete");
    assert_eq!(r.json["field_errors"][1]["field"], "rows[2].nb_sessions");

    let r = send_raw(&app, "/users/import", "text/plain", "x".into(), &token).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, customer) = app.user_with_roles("teacher2", &[Role::Customer]).await;
    let r = send_raw(
        &app,
        "/users/import",
        "text/csv",
        "user_id\n1\n".into(),
        &customer,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn recommendations_by_cluster() {
    let app = app();
    let r = app.call("GET", "/recommend/2", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json,
        json!({
            "success": true,
            "cluster_id": 2,
            "recommendations": {
                "cluster_name": "Super Users",
                "strategy": "Advanced content and latest innovations",
                "recommended_content_types": ["expert_training", "advanced_guides", "cutting_edge_tools"],
                "engagement_approach": "satisfy_high_expertise_needs",
                "description": "Highly engaged users consuming diverse content types intensively",
                "next_steps": "Advanced recommendations will leverage thematic preferences analysis"
            },
            "status": "MVP - Behavioral recommendations only. Thematic personalization coming soon."
        })
    );
    for id in 0..4 {
        let r = app
            .call("GET", &format!("/recommend/{id}"), None, None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    for (id, status) in [
        ("4", StatusCode::NOT_FOUND),
        ("-1", StatusCode::NOT_FOUND),
        ("99999999999999999999", StatusCode::UNPROCESSABLE_ENTITY),
        ("two", StatusCode::UNPROCESSABLE_ENTITY),
        ("1.5", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let r = app
            .call("GET", &format!("/recommend/{id}"), None, None)
            .await;
        assert_eq!(r.status, status, "{id}");
        assert!(r.json["error_code"].is_string());
    }
}

#[tokio::test]
async fn unknown_or_malformed_user() {
    let app = app();
    let r = app.call("GET", "/user/12345/profile", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["error_code"], "USER_NOT_FOUND");
    for bad in ["abc", "0", "-3"] {
        let r = app
            .call("GET", &format!("/user/{bad}/profile"), None, None)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn profile_before_any_clustering_has_no_cluster() {
    let app = app();
    teachers::put_teachers(
        app.state.store.as_ref(),
        &teachers::synthetic_population(1, 7, 1),
    )
    .await
    .unwrap();
    let r = app.call("GET", "/user/7/profile", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["data"]["cluster"], Value::Null);
    assert_eq!(r.json["data"]["recommendations"], Value::Null);
}

#[tokio::test]
async fn activity_events_update_counts() {
    let app = app();
    let token = admin(&app).await;
    let t = teachers::synthetic_population(1, 42, 1).remove(0);
    teachers::put_teachers(app.state.store.as_ref(), std::slice::from_ref(&t))
        .await
        .unwrap();
    let r = app
        .call(
            "POST",
            "/user/42/activity",
            Some(&token),
            Some(json!({"counts": {"nb_sessions": 2, "nb_emails_ouverts": 1}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json["data"]["activity"]["nb_sessions"],
        t.activity.nb_sessions + 2
    );
    for (uri, body, status) in [
        (
            "/user/43/activity",
            json!({"counts": {"nb_sessions": 1}}),
            StatusCode::NOT_FOUND,
        ),
        (
            "/user/42/activity",
            json!({"counts": {"bogus": 1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/user/42/activity",
            json!({"counts": {"nb_sessions": -1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/user/42/activity",
            json!({"counts": {}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/user/x/activity",
            json!({"counts": {"nb_sessions": 1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = app.call("POST", uri, Some(&token), Some(body)).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text);
    }
    let r = app
        .call(
            "POST",
            "/user/42/activity",
            None,
            Some(json!({"counts": {"nb_sessions": 1}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
