use serde_json::Value;
use shared::{
    auth::Role,
    domain::{
        catalog::{self, Category, NewCategory, NewProduct, ProductPatch, ProductRecord},
        viewed,
    },
    testkit::TestApp,
};

use crate::router;

struct Seeded {
    app: TestApp,
    electronics: Category,
    phones: Category,
    garden: Category,
    products: Vec<ProductRecord>,
}

async fn category(app: &TestApp, name: &str, parent: Option<&Category>) -> Category {
    catalog::create_category(
        app.state.store.as_ref(),
        NewCategory {
            name: name.into(),
            parent_id: parent.map(|p| p.id.clone()),
            description: Some(format!("All about {name}")),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

async fn product(
    app: &TestApp,
    cat: &Category,
    (name, code, brand, price, stock): (&str, &str, &str, f64, i64),
    description: &str,
    tags: &[&str],
) -> ProductRecord {
    catalog::create_product(
        app.state.store.as_ref(),
        app.state.embedder.as_ref(),
        NewProduct {
            name: name.into(),
            code: code.into(),
            brand: Some(brand.into()),
            price: shared::money::Cents::round_from(price),
            description: Some(description.into()),
            in_stock: true,
            stock_quantity: stock,
            category_id: cat.id.clone(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            is_active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

async fn seeded() -> Seeded {
    let app = TestApp::new(router);
    let electronics = category(&app, "Electronics", None).await;
    let phones = category(&app, "Smartphones", Some(&electronics)).await;
    let laptops = category(&app, "Laptops", Some(&electronics)).await;
    let garden = category(&app, "Garden", None).await;
    let mut products = Vec::new();
    for (cat, spec, desc, tags) in [
        (
            &phones,
            ("iPhone 15 Pro", "IP15P", "Apple", 999.0, 50),
            "Apple smartphone with A17 Pro chip, 6.1 inch display and triple camera",
            &["smartphone", "ios"][..],
        ),
        (
            &phones,
            ("iPhone 15", "IP15", "Apple", 799.0, 0),
            "Apple smartphone with A16 chip, 6.1 inch display and dual camera",
            &["smartphone", "ios"][..],
        ),
        (
            &phones,
            ("Galaxy S24", "GS24", "Samsung", 849.0, 7),
            "Samsung Android smartphone with 6.2 inch display and triple camera",
            &["smartphone", "android"][..],
        ),
        (
            &laptops,
            ("MacBook Air", "MBA13", "Apple", 1199.0, 10),
            "Apple laptop with M3 chip and 13 inch display",
            &["laptop", "macos"][..],
        ),
        (
            &garden,
            ("Garden Hose 30m", "GH30", "Gardena", 29.0, 100),
            "Flexible garden hose, 30 metres, with spray nozzle for watering plants",
            &["garden", "watering"][..],
        ),
        (
            &garden,
            ("Watering Can", "WC10", "Gardena", 15.0, 40),
            "Ten litre watering can for garden plants and flowers",
            &["garden", "watering"][..],
        ),
    ] {
        products.push(product(&app, cat, spec, desc, tags).await);
    }
    Seeded {
        app,
        electronics,
        phones,
        garden,
        products,
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn list_filters_sorts_and_pages_in_the_spec_shape() {
    let s = seeded().await;
    let r = s
        .app
        .call(
            "GET",
            "/api/v1/products?category=Electronics&brand=apple&sort_by=price&sort_order=asc",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        names(&r.json["items"]),
        ["iPhone 15", "iPhone 15 Pro", "MacBook Air"]
    );
    assert_eq!(r.json["total"], 3);
    assert_eq!(r.json["page"], 1);
    assert_eq!(r.json["size"], 20);
    assert_eq!(r.json["pages"], 1);
    let first = &r.json["items"][0];
    assert_eq!(first["in_stock"], false, "no units left");
    assert_eq!(first["category"]["name"], "Smartphones");
    assert_eq!(first["code"], "IP15");
    assert_eq!(first["tags"][0], "smartphone");

    let r = s
        .app
        .call(
            "GET",
            "/api/v1/products?in_stock=true&min_price=20&max_price=900&sort_by=name&sort_order=asc",
            None,
            None,
        )
        .await;
    assert_eq!(names(&r.json["items"]), ["Galaxy S24", "Garden Hose 30m"]);

    let r = s
        .app
        .call(
            "GET",
            "/api/v1/products/?search_term=triple%20camera",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "trailing slash accepted: {}", r.text);
    assert_eq!(r.json["total"], 2);

    // Pages partition the list with no duplicates or gaps.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let r = s
            .app
            .call(
                "GET",
                &format!("/api/v1/products?size=2&page={page}&sort_by=price"),
                None,
                None,
            )
            .await;
        assert_eq!(r.json["pages"], 3);
        seen.extend(names(&r.json["items"]));
    }
    assert_eq!(
        seen,
        [
            "MacBook Air",
            "iPhone 15 Pro",
            "Galaxy S24",
            "iPhone 15",
            "Garden Hose 30m",
            "Watering Can"
        ]
    );
}

#[tokio::test]
async fn list_rejects_bad_parameters_with_field_errors() {
    let s = seeded().await;
    for (query, field) in [
        ("size=0", "size"),
        ("size=101", "size"),
        ("page=0", "page"),
        ("sort_by=rating", "sort_by"),
        ("sort_order=up", "sort_order"),
        ("min_price=-1", "min_price"),
        ("min_price=500&max_price=100", "min_price"),
        ("in_stock=maybe", "in_stock"),
        ("max_price=cheap", "max_price"),
    ] {
        let r = s
            .app
            .call("GET", &format!("/api/v1/products?{query}"), None, None)
            .await;
        assert_eq!(r.status, 422, "{query}: {}", r.text);
        let fields: Vec<&str> = r.json["field_errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "{query}: {}", r.text);
    }
}

#[tokio::test]
async fn detail_counts_the_view_and_records_the_callers_history() {
    let s = seeded().await;
    let p = &s.products[0];
    let anon = s
        .app
        .call("GET", &format!("/api/v1/products/{}", p.id), None, None)
        .await;
    assert_eq!(anon.status, 200, "{}", anon.text);
    assert_eq!(anon.json["name"], "iPhone 15 Pro");
    assert_eq!(anon.json["category"]["id"], s.phones.id);
    assert_eq!(anon.json["in_stock"], true);
    assert!(anon.json["specification"].is_object());

    let (user, token) = s.app.user_with_roles("vera", &[Role::Customer]).await;
    let r = s
        .app
        .call(
            "GET",
            &format!("/api/v1/products/{}", p.id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let history = viewed::list(s.app.state.store.as_ref(), &user.id)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].product_id, p.id);
    let stored = catalog::get_product(s.app.state.store.as_ref(), &p.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.view_count, 2);

    let bad = s
        .app
        .call(
            "GET",
            &format!("/api/v1/products/{}", p.id),
            Some("not-a-jwt"),
            None,
        )
        .await;
    assert_eq!(bad.status, 401, "a token that was sent must be valid");

    let missing = s.app.call("GET", "/api/v1/products/nope", None, None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json["error_code"], "PRODUCT_NOT_FOUND");

    // Inactive products are not shown to shoppers.
    let patch = ProductPatch {
        is_active: Some(false),
        ..Default::default()
    };
    catalog::update_product(
        s.app.state.store.as_ref(),
        s.app.state.embedder.as_ref(),
        &p.id,
        &patch,
    )
    .await
    .unwrap();
    let hidden = s
        .app
        .call("GET", &format!("/api/v1/products/{}", p.id), None, None)
        .await;
    assert_eq!(hidden.status, 404);
    let list = s.app.call("GET", "/api/v1/products", None, None).await;
    assert_eq!(list.json["total"], 5, "catalog edits are seen at once");
}

#[tokio::test]
async fn similar_products_rank_by_embedding_and_skip_self_and_inactive() {
    let s = seeded().await;
    let hose = &s.products[4];
    let r = s
        .app
        .call(
            "GET",
            &format!("/api/v1/products/{}/similar?limit=3", hose.id),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = r.json.as_array().unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0]["name"], "Watering Can", "{}", r.text);
    assert!(got.iter().all(|p| p["id"] != hose.id.as_str()));
    assert!(got.iter().all(|p| p["reason"] == "vector_similarity"));
    let scores: Vec<f64> = got
        .iter()
        .map(|p| p["similarity_score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    let phone = &s.products[0];
    let r = s
        .app
        .call(
            "GET",
            &format!("/api/v1/products/{}/similar", phone.id),
            None,
            None,
        )
        .await;
    let got = names(&r.json);
    assert_eq!(got.len(), 5, "default limit 10, five other products");
    assert!(got[..2].contains(&"iPhone 15".to_string()), "{got:?}");

    // Deactivate the watering can: it is no longer a neighbour.
    let can = &s.products[5];
    let patch = ProductPatch {
        is_active: Some(false),
        ..Default::default()
    };
    catalog::update_product(
        s.app.state.store.as_ref(),
        s.app.state.embedder.as_ref(),
        &can.id,
        &patch,
    )
    .await
    .unwrap();
    let r = s
        .app
        .call(
            "GET",
            &format!("/api/v1/products/{}/similar", hose.id),
            None,
            None,
        )
        .await;
    assert!(!names(&r.json).contains(&"Watering Can".to_string()));

    for (uri, status) in [
        (format!("/api/v1/products/{}/similar", can.id), 404),
        ("/api/v1/products/nope/similar".to_string(), 404),
        (format!("/api/v1/products/{}/similar?limit=0", hose.id), 422),
        (
            format!("/api/v1/products/{}/similar?limit=51", hose.id),
            422,
        ),
    ] {
        let r = s.app.call("GET", &uri, None, None).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text);
    }
}

#[tokio::test]
async fn categories_come_as_a_tree() {
    let s = seeded().await;
    let r = s
        .app
        .call("GET", "/api/v1/products/categories/", None, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let roots = r.json.as_array().unwrap();
    assert_eq!(names(&r.json), ["Electronics", "Garden"]);
    assert_eq!(roots[0]["id"], s.electronics.id);
    assert_eq!(roots[0]["slug"], "electronics");
    assert_eq!(names(&roots[0]["children"]), ["Laptops", "Smartphones"]);
    assert_eq!(roots[0]["children"][1]["parent_id"], s.electronics.id);
    assert_eq!(roots[1]["id"], s.garden.id);
    assert_eq!(roots[1]["children"], serde_json::json!([]));
}

async fn place_order(app: &TestApp, user_id: &str, products: &[&ProductRecord]) {
    let ids: Vec<&str> = products.iter().map(|p| p.id.as_str()).collect();
    shared::fixtures::place_order(app.state.store.as_ref(), user_id, &ids).await;
}

#[tokio::test]
async fn frequently_bought_together_from_counters_then_from_mined_rules() {
    let s = seeded().await;
    let (user, _) = s.app.user_with_roles("fred", &[Role::Customer]).await;
    let [pro, base, galaxy, _, hose, _] = &s.products[..] else {
        panic!("six products")
    };
    place_order(&s.app, &user.id, &[pro, galaxy]).await;
    place_order(&s.app, &user.id, &[pro, galaxy]).await;
    place_order(&s.app, &user.id, &[pro, hose]).await;

    let uri = format!(
        "/api/v1/products/{}/frequently-bought-together?limit=5",
        pro.id
    );
    let r = s.app.call("GET", &uri, None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["product_id"], pro.id.as_str());
    assert_eq!(r.json["source"], "co_purchase_counts");
    let items = r.json["frequently_bought_together"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", r.text);
    assert_eq!(items[0]["product_name"], "Galaxy S24");
    // 2 of the 3 orders with the iPhone 15 Pro had the Galaxy; the Galaxy is in 2 of 3 orders.
    assert_eq!(items[0]["confidence"], 0.6667);
    assert_eq!(items[0]["lift"], 1.0);
    assert_eq!(items[0]["product"]["category"]["name"], "Smartphones");
    assert_eq!(items[0]["in_stock"], true);

    let report = shared::domain::fbt::mine_and_store(s.app.state.store.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(report.orders, 3);
    let r = s.app.call("GET", &uri, None, None).await;
    assert_eq!(r.json["source"], "mined_rules");
    let items = r.json["frequently_bought_together"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "the hose was bought with it once: below the floor"
    );
    assert_eq!(items[0]["product_id"], galaxy.id.as_str());

    let never = s
        .app
        .call(
            "GET",
            &format!("/api/v1/products/{}/frequently-bought-together", base.id),
            None,
            None,
        )
        .await;
    assert_eq!(never.status, 200);
    assert_eq!(
        never.json["frequently_bought_together"],
        serde_json::json!([])
    );
    for (uri, status) in [
        (
            "/api/v1/products/nope/frequently-bought-together".to_string(),
            404,
        ),
        (
            format!(
                "/api/v1/products/{}/frequently-bought-together?limit=0",
                pro.id
            ),
            422,
        ),
        (
            format!(
                "/api/v1/products/{}/frequently-bought-together?limit=21",
                pro.id
            ),
            422,
        ),
    ] {
        assert_eq!(
            s.app.call("GET", &uri, None, None).await.status,
            status,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn detail_views_are_recorded_for_users_and_guests_with_a_cart_id_only() {
    use shared::domain::interactions::{self, Actor, KindWeights};
    let mut s = seeded().await;
    let p = s.products[0].id.clone();
    let uri = format!("/api/v1/products/{p}");
    let (user, token) = s.app.user_with_roles("vic", &[Role::Customer]).await;
    let w = KindWeights::default();
    let store = s.app.state.store.clone();
    let history = |actor: Actor| {
        let store = store.clone();
        let w = w.clone();
        async move {
            interactions::actor_history(store.as_ref(), &actor, &w)
                .await
                .unwrap()
                .0
        }
    };

    // Anonymous: not recorded (nobody to attribute it to).
    assert_eq!(s.app.call("GET", &uri, None, None).await.status, 200);
    assert!(
        interactions::training_interactions(store.as_ref(), &w)
            .await
            .unwrap()
            .is_empty()
    );
    // Signed in, twice: two views of the pair.
    for _ in 0..2 {
        assert_eq!(
            s.app.call("GET", &uri, Some(&token), None).await.status,
            200
        );
    }
    assert_eq!(
        history(Actor::User(user.id.clone())).await,
        vec![(p.clone(), 2.0)]
    );
    // A guest with the cart function's id (any case: normalised as the cart stores it).
    let cart = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
    let mut req = shared::testkit::request("GET", &uri, None, None);
    req.headers_mut().insert("x-cart-id", cart.parse().unwrap());
    assert_eq!(s.app.send(req).await.status, 200);
    assert_eq!(
        history(Actor::Guest(cart.to_ascii_lowercase())).await,
        vec![(p.clone(), 1.0)]
    );
    // A malformed cart id neither fails the page nor is recorded.
    let mut req = shared::testkit::request("GET", &uri, None, None);
    req.headers_mut()
        .insert("x-cart-id", "not-a-cart".parse().unwrap());
    assert_eq!(s.app.send(req).await.status, 200);
    assert_eq!(
        interactions::training_interactions(store.as_ref(), &w)
            .await
            .unwrap()
            .len(),
        2
    );

    // RECORD_INTERACTIONS=false: the same page, nothing recorded.
    let mut config = (*s.app.state.config).clone();
    config.record_interactions = false;
    s.app.state.config = std::sync::Arc::new(config);
    s.app.router = router(s.app.state.clone());
    assert_eq!(
        s.app.call("GET", &uri, Some(&token), None).await.status,
        200
    );
    assert_eq!(
        history(Actor::User(user.id.clone())).await,
        vec![(p.clone(), 2.0)],
        "switched off: not recorded"
    );
}

#[tokio::test]
async fn detail_with_rec_id_counts_the_recommendation_click_once() {
    use shared::domain::interactions::{self, Actor, InteractionKind};
    use shared::domain::rec_tracking::{self, Served, ServedItem};
    use shared::reco::algorithm::{Algorithm, Family};
    let s = seeded().await;
    let store = s.app.state.store.as_ref();
    let (p, other) = (s.products[0].id.clone(), s.products[1].id.clone());
    let (user, token) = s.app.user_with_roles("recky", &[Role::Customer]).await;
    let id = rec_tracking::new_recommendation_id();
    rec_tracking::record_served(
        store,
        &id,
        &Served {
            recommendation_type: "trending".into(),
            blended: false,
            actor: None,
            arm: None,
            items: vec![ServedItem {
                product_id: p.clone(),
                algorithm: Algorithm::Trending,
                score: 0.5,
            }],
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let clicks = || async {
        rec_tracking::performance(
            store,
            &[Family::Trending],
            chrono::Utc::now().date_naive(),
            1,
            10,
        )
        .await
        .unwrap()
        .totals
        .clicks
    };
    // An unknown id, or a product not in the list: the page is served, nothing counted.
    for uri in [
        format!("/api/v1/products/{p}?rec_id=rec_unknown"),
        format!("/api/v1/products/{other}?rec_id={id}"),
        format!("/api/v1/products/{p}?rec_id="),
    ] {
        let r = s.app.call("GET", &uri, Some(&token), None).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text);
    }
    assert_eq!(clicks().await, 0);
    let uri = format!("/api/v1/products/{p}?rec_id={id}");
    for _ in 0..2 {
        let r = s.app.call("GET", &uri, Some(&token), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(clicks().await, 1);
    let me = Actor::User(user.id.clone());
    let aggregates = interactions::actor_aggregates(store, &me).await.unwrap();
    let pair = aggregates.iter().find(|a| a.product_id == p).unwrap();
    assert!(pair.counts.contains(&(InteractionKind::RecClick, 1)));
    assert!(pair.counts.contains(&(InteractionKind::View, 4)));
    // Too long an id is a bad parameter.
    let r = s
        .app
        .call(
            "GET",
            &format!("/api/v1/products/{p}?rec_id={}", "x".repeat(101)),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
}
