//! The education platform (spec 003): import, clustering, classification, profiles.
//! Each check runs against the in-memory backends and, with the emulator (`tests/run.sh`),
//! against DynamoDB + S3 on moto.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, TestServer};
use serde_json::json;

api_tests::suite!(classroom_import_recompute_classify_and_profile,);

/// The education ML API end to end: admin import (CSV), recompute, clusters, profile,
/// recommendations, classification (the starter model is trained, stored as a blob artifact and
/// loaded), and the bad-input answers.
async fn classroom_import_recompute_classify_and_profile(b: Backend) {
    use shared::domain::teachers::{FEATURES, synthetic_population};
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let token = s.token("admin@ecommerce.com", "admin123").await;

    let mut csv = format!(
        "user_id,anciennete,degre,academie,niveaux_enseignes,{}\n",
        FEATURES.join(",")
    );
    for t in synthetic_population(300, 1, 4) {
        let counts: Vec<String> = t.activity.values().iter().map(u64::to_string).collect();
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            t.user_id,
            t.anciennete,
            t.degre,
            t.academie,
            t.niveaux_enseignes.join("|"),
            counts.join(",")
        ));
    }
    let import = |body: String, ct: &'static str| {
        let req = s
            .client
            .post(s.url("/users/import"))
            .bearer_auth(&token)
            .header("content-type", ct)
            .body(body);
        async move { api_tests::Reply::from(req.send().await.unwrap()).await }
    };
    let r = s
        .json("POST", "/clusters/recompute", Some(&token), None)
        .await;
    r.assert_error(409, "NOT_ENOUGH_USERS");
    let r = import(csv, "text/csv").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["imported"], 300);
    let r = import(
        "user_id,anciennete,degre,academie,nb_sessions\n400,1,1,Lyon,-1\n".into(),
        "text/csv",
    )
    .await;
    r.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["rows[1].nb_sessions"]);

    let r = s
        .json("POST", "/clusters/recompute", Some(&token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["total_users_processed"], 300);
    let r = s.json("GET", "/clusters", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["clusters"]["2"]["name"], "Super Users");
    let total: u64 = (0..4)
        .map(|i| r.json["clusters"][i.to_string()]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 300);

    let r = s.json("GET", "/user/1/profile", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["data"]["cluster"]["assigned_by"], "clustering");
    s.json("GET", "/user/999/profile", None, None)
        .await
        .assert_error(404, "USER_NOT_FOUND");
    s.json("GET", "/recommend/7", None, None)
        .await
        .assert_error(404, "CLUSTER_NOT_FOUND");
    s.json("GET", "/recommend/x", None, None)
        .await
        .assert_error(422, "VALIDATION_ERROR");

    let r = s
        .json(
            "POST",
            "/classify",
            None,
            Some(json!({"content": "# Dictée et orthographe\n\nLa dictée négociée pour travailler les accords."})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["data"]["theme"], "French & Literacy");
    s.json("POST", "/classify", None, Some(json!({"content": 3})))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    s.json(
        "POST",
        "/classify",
        None,
        Some(json!({"content": "x".repeat(70_000)})),
    )
    .await
    .assert_error(413, "CONTENT_TOO_LARGE");
}
