//! Router tests on the in-memory backends (`oneshot`, no server): one per route, the bad-input
//! cases of the issue, the serving rules seen through the routes, and the fold-in freshness test
//! with trained models.
#![allow(clippy::unwrap_used)]

use axum::http::{Request, StatusCode};
use serde_json::Value;
use shared::{
    auth::Role,
    domain::{
        catalog::{self, NewProduct, ProductRecord},
        interactions::{self, Actor, InteractionKind, Signal},
        ml_models::training,
    },
    fixtures,
    money::Cents,
    reco::{algorithm::Algorithm, model::ModelKind, registry},
    store::Update,
    testkit::{TestApp, TestResponse, request},
};

const BASE: &str = "/api/v1/recommendations";

fn app() -> TestApp {
    TestApp::new(crate::router)
}

async fn product(app: &TestApp, category: &str, code: &str, stock: i64) -> ProductRecord {
    let cat = fixtures::category(app.state.store.as_ref(), category).await;
    catalog::create_product(
        app.state.store.as_ref(),
        app.state.embedder.as_ref(),
        NewProduct {
            name: format!("{category} {code}"),
            code: code.into(),
            price: Cents::round_from(10.0),
            description: Some(format!("A {category} product")),
            images: vec!["https://example.com/p.jpg".into()],
            in_stock: true,
            stock_quantity: stock,
            category_id: cat.id,
            is_active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

async fn products(app: &TestApp, category: &str, n: usize) -> Vec<ProductRecord> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(product(app, category, &format!("{category}-{i}"), 100).await);
    }
    out
}

async fn signal(app: &TestApp, actor: &Actor, product: &str, kind: InteractionKind) {
    interactions::record(
        app.state.store.as_ref(),
        &[Signal::new(actor.clone(), product, kind)],
    )
    .await
    .unwrap();
}

async fn get(app: &TestApp, uri: &str, token: Option<&str>) -> TestResponse {
    app.call("GET", uri, token, None).await
}

async fn get_as_guest(app: &TestApp, uri: &str, cart_id: &str) -> TestResponse {
    let mut req: Request<_> = request("GET", uri, None, None);
    req.headers_mut()
        .insert("x-cart-id", cart_id.parse().unwrap());
    app.send(req).await
}

fn header_id(r: &TestResponse) -> String {
    r.headers
        .get(crate::RECOMMENDATION_ID_HEADER)
        .unwrap_or_else(|| panic!("no X-Recommendation-Id: {}", r.text))
        .to_str()
        .unwrap()
        .to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["product_id"].as_str().unwrap().to_string())
        .collect()
}

/// Every item has the fields of the issue, a score in [0, 1] and a known algorithm name.
fn check_items(list: &Value, id: Option<&str>) {
    for item in list.as_array().unwrap() {
        assert!(item["product_id"].is_string(), "{item}");
        assert_eq!(item["product"]["id"], item["product_id"], "{item}");
        let s = item["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s), "score {s}");
        assert!(
            Algorithm::from_name(item["algorithm"].as_str().unwrap()).is_some(),
            "{item}"
        );
        assert!(!item["reason"].as_str().unwrap().is_empty());
        assert!(!item["explanation"].as_str().unwrap().is_empty());
        match id {
            Some(id) => assert_eq!(item["recommendation_id"], id),
            None => assert!(item.get("recommendation_id").is_none(), "{item}"),
        }
    }
}

/// Orders give products order counts (popularity) and co-purchase counters (FBT).
async fn order(app: &TestApp, user: &str, basket: &[&ProductRecord]) {
    let ids: Vec<&str> = basket.iter().map(|p| p.id.as_str()).collect();
    fixtures::place_order(app.state.store.as_ref(), user, &ids).await;
}

#[tokio::test]
async fn anonymous_homepage_is_popular_with_a_recommendation_id_everywhere() {
    let app = app();
    let p = products(&app, "Phones", 4).await;
    order(&app, "buyer", &[&p[2]]).await;
    order(&app, "buyer", &[&p[2], &p[1]]).await;
    let r = get(&app, &format!("{BASE}/user?limit=3"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = header_id(&r);
    assert!(id.starts_with("rec_"));
    check_items(&r.json, Some(&id));
    let got = ids(&r.json);
    assert_eq!(got.len(), 3);
    // p2 (2 orders) before p1 (1 order): the popular end of the cold-start chain.
    assert_eq!(got[0], p[2].id);
    assert_eq!(got[1], p[1].id);
    assert_eq!(r.json[0]["algorithm"], "popular");
    assert_eq!(r.json[0]["score"], 1.0);
    // A second call is another list with another id.
    let r2 = get(
        &app,
        &format!("{BASE}/user?recommendation_type=homepage"),
        None,
    )
    .await;
    assert_ne!(header_id(&r2), id);
}

#[tokio::test]
async fn bad_input_is_refused() {
    let app = app();
    let p = products(&app, "Phones", 2).await;
    let cases = [
        ("/user?recommendation_type=sidebar", "recommendation_type"),
        ("/user?recommendation_type=product_page", "product_id"),
        ("/user?limit=0", "limit"),
        ("/user?limit=51", "limit"),
        ("/popular?limit=0", "limit"),
        ("/trending?limit=51", "limit"),
        ("/new-arrivals?limit=100", "limit"),
        ("/fbt/x?limit=0", "limit"),
    ];
    for (uri, field) in cases {
        let r = get(&app, &format!("{BASE}{uri}"), None).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}: {}",
            r.text
        );
        assert_eq!(r.json["field_errors"][0]["field"], field, "{uri}");
    }
    for uri in [
        "/user?recommendation_type=product_page&product_id=nope".to_string(),
        "/product/nope".to_string(),
        "/fbt/nope".to_string(),
    ] {
        let r = get(&app, &format!("{BASE}{uri}"), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.text);
        assert_eq!(r.json["error_code"], "PRODUCT_NOT_FOUND");
    }
    // An inactive product is unknown to shoppers.
    catalog::update_product(
        app.state.store.as_ref(),
        app.state.embedder.as_ref(),
        &p[1].id,
        &catalog::ProductPatch {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = get(&app, &format!("{BASE}/product/{}", p[1].id), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // Private: another user's list is 403, anonymous 401; the user and users.view get it.
    let (alice, alice_token) = app.user_with_roles("alice", &[Role::Customer]).await;
    let (_, bob_token) = app.user_with_roles("bob", &[Role::Customer]).await;
    let (_, admin_token) = app.user_with_roles("boss", &[Role::Admin]).await;
    let uri = format!("{BASE}/recommendations/{}", alice.id);
    assert_eq!(
        get(&app, &uri, Some(&bob_token)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&app, &uri, None).await.status, StatusCode::UNAUTHORIZED);
    for token in [&alice_token, &admin_token] {
        let r = get(&app, &uri, Some(token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}

#[tokio::test]
async fn object_shaped_lists_carry_the_id_at_the_top() {
    let app = app();
    let p = products(&app, "Books", 3).await;
    order(&app, "buyer", &[&p[0]]).await;
    let (alice, token) = app.user_with_roles("alice", &[Role::Customer]).await;

    let r = get(&app, &format!("{BASE}/trending?limit=2"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["recommendation_type"], "trending");
    assert_eq!(r.json["recommendation_id"], header_id(&r));
    check_items(&r.json["recommendations"], None);
    assert_eq!(r.json["recommendations"].as_array().unwrap().len(), 2);

    let r = get(&app, &format!("{BASE}/new-arrivals"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["recommendation_type"], "new_arrivals");
    assert_eq!(r.json["recommendation_id"], header_id(&r));
    check_items(&r.json["recommendations"], None);
    // Newest first: the last product created leads.
    assert_eq!(ids(&r.json["recommendations"])[0], p[2].id);
    assert_eq!(r.json["recommendations"][0]["algorithm"], "new_arrivals");

    let r = get(
        &app,
        &format!("{BASE}/recommendations/{}", alice.id),
        Some(&token),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["user_id"], alice.id);
    assert_eq!(r.json["recommendation_type"], "personalized");
    assert_eq!(r.json["recommendation_id"], header_id(&r));
    check_items(&r.json["recommendations"], None);
}

#[tokio::test]
async fn popular_has_the_spec_fields() {
    let app = app();
    let p = products(&app, "Phones", 3).await;
    for _ in 0..3 {
        order(&app, "buyer", &[&p[1]]).await;
    }
    order(&app, "buyer", &[&p[0]]).await;
    let r = get(&app, &format!("{BASE}/popular?limit=2"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = header_id(&r);
    check_items(&r.json, Some(&id));
    let first = &r.json[0];
    assert_eq!(first["id"], p[1].id);
    assert_eq!(first["name"], p[1].name);
    assert_eq!(first["price"], 10.0);
    assert_eq!(first["order_count"], 3);
    assert_eq!(first["popularity_score"], 1.0);
    // p0: 1 order = 10 points of 30.
    assert_eq!(r.json[1]["order_count"], 1);
    let s = r.json[1]["popularity_score"].as_f64().unwrap();
    assert!((s - 0.3333).abs() < 1e-4, "{s}");
}

#[tokio::test]
async fn fbt_and_cart_lists_come_from_co_purchases_and_never_repeat_the_cart() {
    let app = app();
    let p = products(&app, "Cameras", 4).await;
    // p0 with p1 three times, with p2 once.
    for _ in 0..3 {
        order(&app, "u1", &[&p[0], &p[1]]).await;
    }
    order(&app, "u2", &[&p[0], &p[2]]).await;

    let r = get(&app, &format!("{BASE}/fbt/{}?limit=5", p[0].id), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["product_id"], p[0].id);
    assert_eq!(r.json["recommendation_id"], header_id(&r));
    let recs = &r.json["recommendations"];
    assert_eq!(ids(recs), vec![p[1].id.clone(), p[2].id.clone()]);
    let first = &recs[0];
    // confidence 3/4; lift 0.75 / (3/4 orders with p1) = 1.
    assert_eq!(first["confidence"], 0.75);
    assert_eq!(first["in_stock"], true);
    assert_eq!(first["product"]["id"], p[1].id);
    assert_eq!(first["product_name"], p[1].name);
    assert_eq!(first["algorithm"], "fbt");
    assert!(first["lift"].is_number() && first["price"].is_number());
    assert!(!first["explanation"].as_str().unwrap().is_empty());

    // A shopper with p0 in the cart: p1 leads the cart list (fbt), p0 never appears.
    let (carol, token) = app.user_with_roles("carol", &[Role::Customer]).await;
    shared::domain::cart::add(
        app.state.store.as_ref(),
        &shared::domain::cart::CartOwner::User(carol.id.clone()),
        &p[0].id,
        1,
    )
    .await
    .unwrap();
    for t in ["cart", "checkout"] {
        let r = get(
            &app,
            &format!("{BASE}/user?recommendation_type={t}&limit=5"),
            Some(&token),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        check_items(&r.json, Some(&header_id(&r)));
        let got = ids(&r.json);
        assert_eq!(got[0], p[1].id, "{t}: {}", r.text);
        assert_eq!(r.json[0]["algorithm"], "fbt");
        assert_eq!(r.json[0]["reason"], "frequently_bought_together");
        assert!(!got.contains(&p[0].id), "{t}: the cart's own item");
    }
    // product_page of p0: fbt first too, p0 itself never.
    let r = get(
        &app,
        &format!(
            "{BASE}/user?recommendation_type=product_page&product_id={}",
            p[0].id
        ),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let got = ids(&r.json);
    assert_eq!(got[0], p[1].id);
    assert!(!got.contains(&p[0].id));
    let r = get(&app, &format!("{BASE}/product/{}", p[0].id), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    check_items(&r.json, Some(&header_id(&r)));
    assert_eq!(ids(&r.json)[0], p[1].id);
}

async fn set_stock(app: &TestApp, product: &ProductRecord, stock: i64) {
    catalog::update_product(
        app.state.store.as_ref(),
        app.state.embedder.as_ref(),
        &product.id,
        &catalog::ProductPatch {
            stock_quantity: Some(stock),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn exclusions_bought_not_interested_out_of_stock_inactive_and_consumables() {
    let app = app();
    let store = app.state.store.as_ref();
    let tools = products(&app, "Tools", 5).await;
    let food = products(&app, "Food", 1).await;
    // Everything is popular (one order each) so every product is a candidate.
    for p in tools.iter().chain(&food) {
        order(&app, "other", &[p]).await;
    }
    let (dave, token) = app.user_with_roles("dave", &[Role::Customer]).await;
    let dave_actor = Actor::User(dave.id.clone());
    // Dave bought tools[0] and food[0], dismissed tools[1]; tools[2] is out of stock.
    order(&app, &dave.id, &[&tools[0], &food[0]]).await;
    signal(&app, &dave_actor, &tools[0].id, InteractionKind::Purchase).await;
    signal(&app, &dave_actor, &food[0].id, InteractionKind::Purchase).await;
    signal(
        &app,
        &dave_actor,
        &tools[1].id,
        InteractionKind::NotInterested,
    )
    .await;
    set_stock(&app, &tools[2], 0).await;

    let uri = format!("{BASE}/product/{}?limit=50", tools[4].id);
    let r = get(&app, &uri, Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let got = ids(&r.json);
    assert!(got.contains(&tools[3].id), "{got:?}");
    for excluded in [&tools[0], &tools[1], &tools[2], &food[0], &tools[4]] {
        assert!(!got.contains(&excluded.id), "{} in {got:?}", excluded.name);
    }
    // Food becomes a consumable category: what Dave bought there may come back.
    let food_cat = fixtures::category(store, "Food").await;
    store
        .update(
            &shared::store::keys::category(&food_cat.id),
            Update::new().set("consumable", true),
            None,
        )
        .await
        .unwrap();
    // The snapshot sees it after a catalog write (the version moves).
    set_stock(&app, &tools[3], 50).await;
    let r = get(&app, &uri, Some(&token)).await;
    let got = ids(&r.json);
    assert!(got.contains(&food[0].id), "{got:?}");
    assert!(!got.contains(&tools[0].id));
}

#[tokio::test]
async fn a_guest_is_personalised_by_its_session_and_diversity_caps_a_category() {
    let app = app();
    let phones = products(&app, "Phones", 6).await;
    let books = products(&app, "Books", 6).await;
    let toys = products(&app, "Toys", 6).await;
    // Phones are the most popular, then books, then toys.
    for p in &phones {
        for _ in 0..3 {
            order(&app, "buyer", &[p]).await;
        }
    }
    for b in &books {
        order(&app, "buyer", &[b, b]).await;
    }
    for t in &toys {
        order(&app, "buyer", &[t]).await;
    }
    let categories = |r: &TestResponse| -> Vec<String> {
        r.json
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                i["product"]["category"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let count = |cats: &[String], name: &str| cats.iter().filter(|c| *c == name).count();
    // Anonymous: popular phones first, but at most max(2, ceil(0.4 limit)) of one category.
    let r = get(&app, &format!("{BASE}/user?limit=10"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cats = categories(&r);
    assert_eq!(cats[0], "Phones");
    assert_eq!(
        (
            count(&cats, "Phones"),
            count(&cats, "Books"),
            count(&cats, "Toys")
        ),
        (4, 4, 2),
        "{cats:?}"
    );
    let r = get(&app, &format!("{BASE}/user?limit=5"), None).await;
    let cats = categories(&r);
    assert_eq!(
        (
            count(&cats, "Phones"),
            count(&cats, "Books"),
            count(&cats, "Toys")
        ),
        (2, 2, 1),
        "{cats:?}"
    );
    // Two categories only: the cap never shortens a list, the best skipped items fill it.
    let r = get(&app, &format!("{BASE}/user?limit=16"), None).await;
    assert_eq!(categories(&r).len(), 16);

    // A guest who viewed books: popular books in its preferred category come first.
    let cart_id = "6f1c1b9e-4a44-4d8e-9d55-0a9a7c3f2b10";
    let guest = Actor::Guest(cart_id.into());
    signal(&app, &guest, &books[0].id, InteractionKind::View).await;
    let r = get_as_guest(&app, &format!("{BASE}/user?limit=4"), cart_id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    check_items(&r.json, Some(&header_id(&r)));
    assert_eq!(
        r.json[0]["product"]["category"]["name"], "Books",
        "{}",
        r.text
    );
    assert_eq!(r.json[0]["reason"], "popular_in_your_categories");
    // The viewed book itself is not recommended back on the homepage.
    assert!(!ids(&r.json).contains(&books[0].id));
}

/// Fold-in freshness (issue 13, benchmarks): with models trained before, a user who views three
/// products of a category new to them sees that category in their next homepage list.
#[tokio::test]
async fn fold_in_freshness_three_views_of_a_new_category_reach_the_next_homepage() {
    let app = app();
    let cats = ["Audio", "Garden", "Kitchen", "Sports", "Toys"];
    let mut catalog_by_cat = Vec::new();
    for c in cats {
        catalog_by_cat.push(products(&app, c, 6).await);
    }
    // 10 users per category, each viewing and buying within it only.
    for (ci, list) in catalog_by_cat.iter().enumerate() {
        for u in 0..10 {
            let actor = Actor::User(format!("user-{ci}-{u}"));
            for (k, p) in list.iter().enumerate() {
                if (k + u) % 3 != 0 {
                    signal(&app, &actor, &p.id, InteractionKind::View).await;
                }
                if (k + u) % 4 == 0 {
                    signal(&app, &actor, &p.id, InteractionKind::Purchase).await;
                }
            }
        }
    }
    let report = training::run(
        app.state.store.clone(),
        app.state.blobs.clone(),
        "t-fold-in",
        &[
            ModelKind::Als,
            ModelKind::ItemKnn,
            ModelKind::Ease,
            ModelKind::Popularity,
        ],
        registry::fit,
    )
    .await
    .unwrap();
    let trained = serde_json::to_value(&report).unwrap();
    let (erin, token) = app.user_with_roles("erin", &[Role::Customer]).await;
    let erin_actor = Actor::User(erin.id.clone());
    // Erin knows Audio only.
    for p in &catalog_by_cat[0][..3] {
        signal(&app, &erin_actor, &p.id, InteractionKind::View).await;
        signal(&app, &erin_actor, &p.id, InteractionKind::Cart).await;
    }
    let homepage = format!("{BASE}/user?recommendation_type=homepage&limit=6");
    // Garden items the models chose (not the popular fill of the cold-start chain).
    let modelled = |r: &TestResponse, cat: &str| {
        r.json
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["product"]["category"]["name"] == cat && i["algorithm"] != "popular")
            .count()
    };
    let before = get(&app, &homepage, Some(&token)).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    assert_eq!(
        before.json[0]["algorithm"], "collaborative_filtering",
        "models in force: {}; {trained}",
        before.text
    );
    assert_eq!(modelled(&before, "Garden"), 0, "{}", before.text);
    // Three views of Garden, then the next homepage list.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for p in &catalog_by_cat[1][..3] {
        signal(&app, &erin_actor, &p.id, InteractionKind::View).await;
    }
    let started = std::time::Instant::now();
    let after = get(&app, &homepage, Some(&token)).await;
    let took = started.elapsed();
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);
    check_items(&after.json, Some(&header_id(&after)));
    assert!(modelled(&after, "Garden") >= 2, "{}", after.text);
    let viewed: Vec<&String> = catalog_by_cat[1][..3].iter().map(|p| &p.id).collect();
    assert!(ids(&after.json).iter().all(|id| !viewed.contains(&id)));
    eprintln!(
        "fold-in freshness: Garden items from the models {} -> {}, next homepage answered in {took:?} (debug build)",
        modelled(&before, "Garden"),
        modelled(&after, "Garden")
    );
}

#[tokio::test]
async fn items_carry_the_experiment_arm_when_there_is_one() {
    let app = app();
    let p = product(&app, "Phones", "arm-1", 5).await;
    let item = shared::domain::recommendations::ListItem {
        product: p.clone(),
        category_name: "Phones".into(),
        score: 0.123_456,
        algorithm: Algorithm::CollaborativeFiltering,
        reason: "users_also_bought".into(),
        context_name: None,
        order_count: 0,
    };
    let arm = shared::domain::experiments::ArmRef {
        experiment_id: "exp-1".into(),
        arm: "treatment".into(),
    };
    let out = crate::handlers::items_of(
        vec![item.clone()],
        vec!["Because".into()],
        Some("rec_1"),
        Some(&arm),
    );
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v[0]["experiment"]["experiment_id"], "exp-1");
    assert_eq!(v[0]["experiment"]["arm"], "treatment");
    assert_eq!(v[0]["score"], 0.1235);
    assert_eq!(v[0]["recommendation_id"], "rec_1");
    // No arm, no id (object-shaped lists): neither field.
    let v =
        serde_json::to_value(crate::handlers::items_of(vec![item], vec![], None, None)).unwrap();
    assert!(v[0].get("experiment").is_none() && v[0].get("recommendation_id").is_none());
    assert_eq!(v[0]["explanation"], "");
}

/// A running homepage experiment end to end: the caller's items carry its arm, the served list
/// counts the impressions (and the caller) in that arm, and a click on it counts there too.
#[tokio::test]
async fn a_running_experiment_assigns_serves_and_counts_its_arm() {
    use shared::domain::{
        experiments::{self, Arm, NewExperiment},
        ml_models::{ModelType, configs},
    };
    let app = app();
    let store = app.state.store.as_ref();
    products(&app, "Phones", 6).await;
    configs::ensure_defaults(store).await.unwrap();
    let control = configs::active(store, ModelType::Hybrid).await.unwrap();
    let variant = configs::create(
        store,
        "popularity-only",
        ModelType::Hybrid,
        None,
        serde_json::json!({"weights": {"popularity": 1}})
            .as_object()
            .cloned()
            .unwrap(),
    )
    .await
    .unwrap();
    let experiment = experiments::create(
        store,
        NewExperiment {
            name: "blend".into(),
            description: None,
            recommendation_type: "homepage".into(),
            arms: vec![
                Arm {
                    name: "control".into(),
                    config_id: control.id.clone(),
                    traffic_share: 50.0,
                },
                Arm {
                    name: "variant".into(),
                    config_id: variant.id.clone(),
                    traffic_share: 50.0,
                },
            ],
        },
        None,
    )
    .await
    .unwrap();
    let (_, token) = app.user_with_roles("ann", &[Role::Customer]).await;
    let r = get(
        &app,
        &format!("{BASE}/user?recommendation_type=homepage&limit=5"),
        Some(&token),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.json.as_array().unwrap();
    assert!(!items.is_empty());
    let arm = items[0]["experiment"]["arm"].as_str().unwrap().to_string();
    assert_eq!(items[0]["experiment"]["experiment_id"], experiment.id);
    assert!(items.iter().all(|i| i["experiment"]["arm"] == arm.as_str()));

    let click = serde_json::json!({
        "recommendation_id": header_id(&r),
        "product_id": items[0]["product_id"],
    });
    let c = app
        .call(
            "POST",
            &format!("{BASE}/track-click"),
            Some(&token),
            Some(click),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);

    let results = experiments::results(store, &experiment).await.unwrap();
    let mine = results.arms.iter().find(|a| a.arm == arm).unwrap();
    let other = results.arms.iter().find(|a| a.arm != arm).unwrap();
    assert_eq!(
        (mine.users, mine.impressions, mine.clicks),
        (1, items.len() as u64, 1)
    );
    assert_eq!((other.users, other.impressions, other.clicks), (0, 0, 0));
}
