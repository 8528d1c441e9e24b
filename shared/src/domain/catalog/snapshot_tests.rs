#![allow(clippy::unwrap_used)]

use super::*;
use crate::domain::catalog;
use crate::money::Cents;
use crate::{
    ai::local::LocalEmbedder,
    domain::catalog::{NewCategory, NewProduct, ProductPatch},
    store::local::LocalStore,
};

fn product(id: &str, name: &str, cat: &str, brand: &str, price: f64, stock: i64) -> ProductRecord {
    ProductRecord {
        id: id.into(),
        name: name.into(),
        code: id.to_uppercase(),
        brand: Some(brand.into()),
        price: Cents::round_from(price),
        compare_price: None,
        description: Some(format!("{name} by {brand}")),
        specification: Default::default(),
        technical_details: Default::default(),
        images: vec![],
        in_stock: true,
        stock_quantity: stock,
        category_id: cat.into(),
        tags: vec![],
        meta_title: None,
        meta_description: None,
        is_active: true,
        view_count: 0,
        order_count: 0,
        basket_count: 0,
        created_at: format!("2026-01-{:02}T00:00:00Z", id.len() + price as usize % 20),
        updated_at: String::new(),
        version: 1,
    }
}

fn cat(id: &str, name: &str, parent: Option<&str>) -> Category {
    Category {
        id: id.into(),
        name: name.into(),
        slug: catalog::slugify(name),
        description: None,
        parent_id: parent.map(str::to_string),
        created_at: String::new(),
        consumable: false,
    }
}

fn snapshot() -> CatalogSnapshot {
    let mut hidden = product("h", "Hidden Phone", "phones", "Apple", 10.0, 5);
    hidden.is_active = false;
    let mut popular = product("d", "Galaxy S24", "phones", "Samsung", 799.0, 3);
    popular.order_count = 5;
    let mut viewed = product("e", "Pixel 8", "phones", "Google", 699.0, 0);
    viewed.view_count = 30;
    CatalogSnapshot::new(
        7,
        vec![
            product("a", "iPhone 15 Pro", "phones", "Apple", 999.0, 50),
            product("b", "MacBook Air", "laptops", "Apple", 1199.0, 10),
            product("c", "Garden Hose", "garden", "Gardena", 29.0, 100),
            popular,
            viewed,
            hidden,
        ],
        vec![
            cat("electronics", "Electronics", None),
            cat("phones", "Smartphones", Some("electronics")),
            cat("laptops", "Laptops", Some("electronics")),
            cat("garden", "Garden", None),
        ],
    )
}

fn ids(page: &ListPage<'_>) -> Vec<String> {
    page.items.iter().map(|p| p.id.clone()).collect()
}

#[test]
fn filters_combine_and_categories_include_children() {
    let s = snapshot();
    let all = list_products(
        &s,
        &ProductFilter::default(),
        SortBy::Price,
        SortOrder::Asc,
        1,
        100,
    );
    assert_eq!(
        ids(&all),
        ["c", "e", "d", "a", "b"],
        "inactive product hidden"
    );
    assert_eq!(all.total, 5);

    let f = ProductFilter {
        category: Some("electronics".into()),
        brand: Some("apple".into()),
        ..Default::default()
    };
    let r = list_products(&s, &f, SortBy::Price, SortOrder::Desc, 1, 10);
    assert_eq!(ids(&r), ["b", "a"]);

    let f = ProductFilter {
        category: Some("Smartphones".into()),
        min_price: Some(Cents(70_000)),
        max_price: Some(Cents(99_900)),
        in_stock: Some(true),
        ..Default::default()
    };
    assert_eq!(
        ids(&list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10)),
        ["d", "a"]
    );

    let f = ProductFilter {
        in_stock: Some(false),
        ..Default::default()
    };
    assert_eq!(
        ids(&list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10)),
        ["e"]
    );

    let f = ProductFilter {
        search_term: Some("APPLE air".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10)),
        ["b"]
    );

    let f = ProductFilter {
        category: Some("No such category".into()),
        ..Default::default()
    };
    assert_eq!(
        list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10).total,
        0
    );

    let f = ProductFilter {
        include_inactive: true,
        ..Default::default()
    };
    assert_eq!(
        list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10).total,
        6
    );
}

#[test]
fn sorts_and_pages() {
    let s = snapshot();
    let f = ProductFilter::default();
    let by_name = list_products(&s, &f, SortBy::Name, SortOrder::Asc, 1, 10);
    assert_eq!(ids(&by_name), ["d", "c", "a", "b", "e"]);
    let pop = list_products(&s, &f, SortBy::Popularity, SortOrder::Desc, 1, 2);
    assert_eq!(ids(&pop), ["d", "e"], "5 orders (50) beat 30 views");
    // Pages partition the result: no duplicates or gaps, and past the end is empty.
    let mut seen = Vec::new();
    for page in 1..=3 {
        seen.extend(ids(&list_products(
            &s,
            &f,
            SortBy::Price,
            SortOrder::Asc,
            page,
            2,
        )));
    }
    assert_eq!(seen, ["c", "e", "d", "a", "b"]);
    let past = list_products(&s, &f, SortBy::Price, SortOrder::Asc, 4, 2);
    assert!(past.items.is_empty());
    assert_eq!(past.total, 5);
    assert_eq!(page_count(5, 2), 3);
    assert_eq!(page_count(0, 20), 0);
    assert_eq!(SortBy::parse("rating"), None);
    assert_eq!(SortOrder::parse("up"), None);
}

fn memory_store() -> Arc<dyn ItemStore> {
    Arc::new(LocalStore::in_memory().unwrap())
}

#[tokio::test]
async fn the_cache_reloads_after_a_catalog_write_and_not_before() {
    let store = memory_store();
    let store = &store;
    let e = LocalEmbedder::new(64);
    let c = catalog::create_category(
        store.as_ref(),
        NewCategory {
            name: "Phones".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let p = catalog::create_product(
        store.as_ref(),
        &e,
        NewProduct {
            name: "Phone".into(),
            code: "P-1".into(),
            price: Cents(1000),
            in_stock: true,
            stock_quantity: 1,
            category_id: c.id.clone(),
            is_active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
    let first = cache.get(store).await.unwrap();
    assert_eq!(first.products.len(), 1);
    let again = cache.get(store).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "no write, no reload");

    let patch = ProductPatch {
        price: Some(Cents(1200)),
        ..Default::default()
    };
    catalog::update_product(store.as_ref(), &e, &p.id, &patch)
        .await
        .unwrap();
    let after = cache.get(store).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &after));
    assert_eq!(after.product(&p.id).unwrap().price, Cents(1200));
    assert_eq!(after.category_name(&c.id), Some("Phones"));

    // A zero max age reloads every time (counters that change without a catalog write).
    let eager = Arc::new(SnapshotCache::new(Duration::ZERO));
    let a = eager.get(store).await.unwrap();
    let b = eager.get(store).await.unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
}

#[tokio::test]
async fn embeddings_are_reused_across_snapshots_unless_the_product_changed() {
    let store = memory_store();
    let store = &store;
    let e = LocalEmbedder::new(64);
    let ids = phone_catalog(store.as_ref(), &["Phone 0", "Phone 1", "Phone 2"]).await;
    let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
    let vectors = || async {
        let snapshot = cache.get(store).await.unwrap();
        snapshot.vectors(store.as_ref()).await.unwrap()
    };
    let first = vectors().await;
    assert_eq!(first.len(), 3);
    let first = first.by_id();

    let patch = ProductPatch {
        description: Some(Some("now with a garden hose".into())),
        ..Default::default()
    };
    catalog::update_product(store.as_ref(), &e, &ids[0], &patch)
        .await
        .unwrap();
    let second = vectors().await;
    assert_eq!(second.len(), 3);
    let second = second.by_id();
    assert_ne!(
        first[&ids[0]].1, second[&ids[0]].1,
        "changed product re-read"
    );
    assert!(
        Arc::ptr_eq(&first[&ids[1]].1, &second[&ids[1]].1),
        "unchanged reused"
    );
    assert!(Arc::ptr_eq(&first[&ids[2]].1, &second[&ids[2]].1));
}

async fn phone_catalog(store: &dyn ItemStore, names: &[&str]) -> Vec<String> {
    let e = LocalEmbedder::new(64);
    let c = catalog::create_category(
        store,
        NewCategory {
            name: "Phones".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let p = catalog::create_product(
            store,
            &e,
            NewProduct {
                name: name.to_string(),
                code: format!("P-{i}"),
                price: Cents(1000),
                category_id: c.id.clone(),
                is_active: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        ids.push(p.id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_snapshot_is_served_while_a_newer_one_loads_in_the_background() {
    let store = memory_store();
    let ids = phone_catalog(store.as_ref(), &["Phone A", "Phone B"]).await;
    let cache = Arc::new(SnapshotCache::new(Duration::from_millis(200)));
    let first = cache.get(&store).await.unwrap();
    first.vectors(store.as_ref()).await.unwrap();
    first.search_index();
    first.sorted(SortBy::Price, SortOrder::Asc);
    // A counter moves without a catalog write (an order takes stock).
    store
        .update(
            &crate::store::keys::product_counters(&ids[0]),
            crate::store::Update::new().add("stock_quantity", 5),
            None,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    // Past max_age: the old snapshot answers at once and a refresh starts.
    let stale = cache.get(&store).await.unwrap();
    assert!(Arc::ptr_eq(&first, &stale));
    let mut fresh = stale.clone();
    for _ in 0..200 {
        fresh = cache.cached().unwrap();
        if !Arc::ptr_eq(&first, &fresh) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !Arc::ptr_eq(&first, &fresh),
        "the background refresh swapped in a new snapshot"
    );
    assert_eq!(fresh.product(&ids[0]).unwrap().stock_quantity, 5);
    assert!(fresh.vectors.initialized(), "vectors built before the swap");
    assert!(
        fresh.search_index.get().is_some(),
        "search index built before the swap"
    );
    assert!(
        Arc::ptr_eq(
            &first.vectors.get().unwrap().by_id()[&ids[1]].1,
            &fresh.vectors.get().unwrap().by_id()[&ids[1]].1
        ),
        "unchanged vectors reused"
    );
    // Far past max_age (an instance thawed after a long pause), a request waits for the load.
    tokio::time::sleep(Duration::from_millis(200 * u64::from(STALE_LIMIT) + 50)).await;
    let waited = cache.get(&store).await.unwrap();
    assert!(!Arc::ptr_eq(&fresh, &waited));
    assert!(waited.loaded_at.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn similar_products_are_the_nearest_active_vectors() {
    let store = memory_store();
    let ids = phone_catalog(
        store.as_ref(),
        &[
            "Wireless noise cancelling headphones",
            "Wireless noise cancelling headphones pro",
            "Wireless earbuds with noise cancelling",
            "Garden hose 20 m",
            "Wireless noise cancelling headphones lite",
        ],
    )
    .await;
    // The closest one is deactivated: it must not be suggested.
    catalog::update_product(
        store.as_ref(),
        &LocalEmbedder::new(64),
        &ids[1],
        &ProductPatch {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
    let snap = cache.get(&store).await.unwrap();
    let vectors = snap.vectors(store.as_ref()).await.unwrap();
    assert_eq!(vectors.len(), 4, "inactive products have no vector");
    let me = snap.index_of(&ids[0]).unwrap();
    let similar: Vec<(String, f32)> = snap
        .similar_to(&vectors, me, 10)
        .into_iter()
        .map(|(i, s)| (snap.products[i].id.clone(), s))
        .collect();
    let order: Vec<&str> = similar.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(order, [ids[4].as_str(), ids[2].as_str(), ids[3].as_str()]);
    // Each score is the cosine of the stored embeddings.
    for (id, score) in &similar {
        let a = catalog::get_embedding(store.as_ref(), &ids[0])
            .await
            .unwrap()
            .unwrap();
        let b = catalog::get_embedding(store.as_ref(), id)
            .await
            .unwrap()
            .unwrap();
        assert!((score - crate::reco::similarity::cosine(&a.vector, &b.vector)).abs() < 1e-5);
    }
    assert!(similar[0].1 > similar[2].1);
    assert_eq!(snap.similar_to(&vectors, me, 1).len(), 1);
    assert!(snap.similar_to(&vectors, me, 0).is_empty());
}

#[test]
fn vectors_of_another_length_wait_for_re_embedding() {
    let products: Vec<ProductRecord> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| product(id, id, "phones", "X", 1.0, 1))
        .collect();
    let v = |xs: &[f32]| (String::new(), Arc::<[f32]>::from(xs));
    let by_id: EmbeddingMap = [
        ("a".to_string(), v(&[3.0, 4.0])),
        ("b".to_string(), v(&[1.0, 0.0])),
        ("c".to_string(), v(&[1.0, 0.0, 0.0])),
        ("d".to_string(), v(&[0.0, 0.0])),
    ]
    .into_iter()
    .collect();
    let vectors = ProductVectors::build(&products, Arc::new(by_id));
    assert_eq!(vectors.row(0), Some(&[0.6f32, 0.8][..]));
    assert!(vectors.row(2).is_none(), "other length");
    assert!(vectors.row(3).is_none(), "zero vector");
    assert!(vectors.row(9).is_none());
    assert_eq!(vectors.len(), 2);
    let q = vectors.unit_query(&[0.0, 2.0]).unwrap();
    assert!((vectors.similarity(&q, 0).unwrap() - 0.8).abs() < 1e-6);
    assert!(vectors.unit_query(&[1.0, 0.0, 0.0]).is_none());
}
