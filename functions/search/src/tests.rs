use serde_json::json;
use shared::{
    domain::catalog::{self, NewCategory, NewProduct},
    testkit::TestApp,
};

use crate::router;

async fn seeded() -> TestApp {
    let app = TestApp::new(router);
    let store = app.state.store.as_ref();
    let phones = catalog::create_category(
        store,
        NewCategory {
            name: "Smartphones".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let garden = catalog::create_category(
        store,
        NewCategory {
            name: "Garden".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for (cat, name, brand, price, stock, desc, tags) in [
        (
            &phones,
            "iPhone 15 Pro",
            "Apple",
            999.0,
            5,
            "Apple smartphone with triple camera",
            vec!["smartphone", "ios"],
        ),
        (
            &phones,
            "Galaxy S24",
            "Samsung",
            849.0,
            0,
            "Android smartphone with a bright display",
            vec!["smartphone", "android"],
        ),
        (
            &phones,
            "Pixel 8",
            "Google",
            699.0,
            3,
            "Google phone with a great camera",
            vec!["android"],
        ),
        (
            &garden,
            "Garden Hose",
            "Gardena",
            29.0,
            10,
            "Thirty metre hose for watering plants",
            vec!["garden"],
        ),
    ] {
        catalog::create_product(
            store,
            app.state.embedder.as_ref(),
            NewProduct {
                name: name.into(),
                code: name.replace(' ', "-"),
                brand: Some(brand.into()),
                price: shared::money::Cents::round_from(price),
                description: Some(desc.into()),
                in_stock: true,
                stock_quantity: stock,
                category_id: cat.id.clone(),
                tags: tags.into_iter().map(String::from).collect(),
                is_active: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    app
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn search_ranks_by_relevance_with_typos_filters_and_sorts() {
    let app = seeded().await;
    let r = app
        .call("GET", "/api/v1/search/?q=apple%20iphone", None, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r.json)[0], "iPhone 15 Pro");
    assert_eq!(r.json["products"][0]["match_reason"], "title_brand_match");
    assert!(r.json["products"][0]["relevance_score"].as_f64().unwrap() > 0.5);
    assert_eq!(
        r.json["products"][0]["product"]["category"]["name"],
        "Smartphones"
    );
    assert!(r.json["search_id"].is_string());
    assert!(r.json["response_time_ms"].is_u64());
    assert_eq!(r.json["page"], 1);
    assert_eq!(r.json["page_size"], 20);

    // A typo still finds it.
    let r = app
        .call("GET", "/api/v1/search?q=smartphnoe", None, None)
        .await;
    let got = names(&r.json);
    assert!(
        got.contains(&"iPhone 15 Pro".to_string()) && got.contains(&"Galaxy S24".to_string()),
        "{got:?}"
    );
    assert!(
        !got.contains(&"Garden Hose".to_string())
            || r.json["products"].as_array().unwrap().last().unwrap()["name"] == "Garden Hose"
    );

    let r = app
        .call(
            "GET",
            "/api/v1/search?q=smartphone&brand[]=Apple&brand[]=Samsung&sort_by=price_low",
            None,
            None,
        )
        .await;
    assert_eq!(names(&r.json), ["Galaxy S24", "iPhone 15 Pro"]);
    let r = app
        .call(
            "GET",
            "/api/v1/search?q=smartphone&in_stock=true&price_min=900&price_max=1500",
            None,
            None,
        )
        .await;
    assert_eq!(names(&r.json), ["iPhone 15 Pro"]);
    assert_eq!(r.json["total_count"], 1);
    assert_eq!(r.json["total_pages"], 1);
    let r = app
        .call("GET", "/api/v1/search?q=camera&sort_by=name", None, None)
        .await;
    assert_eq!(names(&r.json), ["iPhone 15 Pro", "Pixel 8"]);
    let r = app
        .call("GET", "/api/v1/search?q=zzzzqqq", None, None)
        .await;
    assert_eq!(r.json["total_count"], 0);
}

#[tokio::test]
async fn search_rejects_bad_parameters() {
    let app = seeded().await;
    for (query, field) in [
        ("", "q"),
        ("q=", "q"),
        ("q=%20%20", "q"),
        ("q=x&sort_by=rating", "sort_by"),
        ("q=x&page_size=0", "page_size"),
        ("q=x&page_size=101", "page_size"),
        ("q=x&price_min=10&price_max=5", "price_min"),
        ("q=x&in_stock=maybe", "in_stock"),
    ] {
        let r = app
            .call("GET", &format!("/api/v1/search?{query}"), None, None)
            .await;
        assert_eq!(r.status, 422, "{query}: {}", r.text);
        assert!(r.text.contains(field), "{query}: {}", r.text);
    }
}

#[tokio::test]
async fn suggestions_and_click_tracking_use_the_search_log() {
    let app = seeded().await;
    let r = app
        .call(
            "GET",
            "/api/v1/search/suggestions?q=sma&limit=5",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["suggestions"][0], "smartphones",
        "category before product names"
    );
    // A search that found something becomes a popular query and comes first.
    let s = app
        .call("GET", "/api/v1/search?q=Smart%20Phone", None, None)
        .await;
    assert!(s.json["total_count"].as_u64().unwrap() > 0);
    let r = app
        .call("GET", "/api/v1/search/suggestions?q=smar", None, None)
        .await;
    assert_eq!(r.json["suggestions"][0], "smart phone");
    let r = app
        .call("GET", "/api/v1/search/suggestions?q=", None, None)
        .await;
    assert_eq!(r.status, 422);

    let search_id = s.json["search_id"].as_str().unwrap();
    let product_id = s.json["products"][0]["id"].as_str().unwrap();
    let r = app
        .call(
            "POST",
            "/api/v1/search/track-click",
            None,
            Some(json!({"search_id": search_id, "product_id": product_id, "position": 1})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["message"], "Click tracked");
    let logged = app
        .state
        .store
        .get(&shared::store::keys::search_log(search_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(logged["query"], "Smart Phone");
    // The count is on the clicks item (no index keys), not on the indexed log item.
    assert_eq!(
        logged.get("clicks").and_then(|c| c.as_u64()).unwrap_or(0),
        0
    );
    assert_eq!(
        shared::domain::catalog::search::search_clicks(app.state.store.as_ref(), search_id)
            .await
            .unwrap(),
        1
    );
    for (body, status) in [
        (
            json!({"search_id": "nope", "product_id": product_id, "position": 1}),
            404,
        ),
        (
            json!({"search_id": search_id, "product_id": "nope", "position": 1}),
            404,
        ),
        (
            json!({"search_id": search_id, "product_id": product_id, "position": 0}),
            422,
        ),
    ] {
        let r = app
            .call(
                "POST",
                "/api/v1/search/track-click",
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
    }
}

#[tokio::test]
async fn a_click_on_a_signed_in_search_is_recorded_for_the_searcher() {
    use shared::domain::interactions::{Actor, KindWeights, actor_history, training_interactions};
    let app = seeded().await;
    let (user, token) = app
        .user_with_roles("sam", &[shared::auth::Role::Customer])
        .await;
    let store = app.state.store.as_ref();
    let w = KindWeights::default();
    let click = |search: &serde_json::Value| {
        let body = json!({
            "search_id": search["search_id"],
            "product_id": search["products"][0]["id"],
            "position": 1
        });
        app.call("POST", "/api/v1/search/track-click", None, Some(body))
    };

    // An anonymous search's click is counted but has nobody to record it for.
    let anon = app.call("GET", "/api/v1/search?q=phone", None, None).await;
    assert_eq!(click(&anon.json).await.status, 200);
    assert!(training_interactions(store, &w).await.unwrap().is_empty());

    // A signed-in search: the click (sent without a token, as spec 002 shows it) is the
    // searcher's.
    let mine = app
        .call("GET", "/api/v1/search?q=phone", Some(&token), None)
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(click(&mine.json).await.status, 200);
    let (history, _) = actor_history(store, &Actor::User(user.id), &w)
        .await
        .unwrap();
    let product = mine.json["products"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(history, vec![(product, 1.0)]);
}
