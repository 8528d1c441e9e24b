#![allow(clippy::unwrap_used)]

use super::*;
use crate::ai::local::LocalEmbedder;
use crate::money::Cents;
use crate::store::local::LocalStore;
use crate::store::{ItemStore, keys};

fn embedder() -> LocalEmbedder {
    LocalEmbedder::new(256)
}

async fn category(store: &dyn ItemStore, name: &str, parent: Option<&str>) -> Category {
    create_category(
        store,
        NewCategory {
            name: name.into(),
            parent_id: parent.map(str::to_string),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

fn phone(category_id: &str, code: &str) -> NewProduct {
    NewProduct {
        name: "iPhone 15 Pro".into(),
        code: code.into(),
        brand: Some("Apple".into()),
        price: Cents(99_999),
        description: Some("Latest iPhone with A17 Pro chip".into()),
        in_stock: true,
        stock_quantity: 50,
        category_id: category_id.into(),
        tags: vec!["smartphone".into(), "ios".into()],
        is_active: true,
        ..Default::default()
    }
}

#[test]
fn slugs() {
    assert_eq!(slugify("Home & Garden"), "home-garden");
    assert_eq!(slugify("  Smart  Phones!! "), "smart-phones");
    assert_eq!(slugify("TV/Audio 4K"), "tv-audio-4k");
    assert_eq!(slugify("!!!"), "");
}

#[tokio::test]
async fn categories_form_a_tree_and_slugs_are_unique() {
    let store = LocalStore::in_memory().unwrap();
    let electronics = category(&store, "Electronics", None).await;
    let phones = category(&store, "Smartphones", Some(&electronics.id)).await;
    let laptops = category(&store, "Laptops", Some(&electronics.id)).await;
    let books = category(&store, "Books", None).await;

    let dup = create_category(
        &store,
        NewCategory {
            name: "ELECTRONICS".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(dup, Err(CatalogError::SlugTaken)), "{dup:?}");
    let orphan = create_category(
        &store,
        NewCategory {
            name: "Orphan".into(),
            parent_id: Some("missing".into()),
            ..Default::default()
        },
    )
    .await;
    assert!(
        matches!(orphan, Err(CatalogError::ParentNotFound)),
        "{orphan:?}"
    );
    // Failed creations wrote nothing.
    assert_eq!(list_categories(&store).await.unwrap().len(), 4);
    assert!(
        store
            .get(&keys::category_slug_marker("orphan"))
            .await
            .unwrap()
            .is_none()
    );

    let tree = category_tree(&list_categories(&store).await.unwrap());
    let names: Vec<&str> = tree.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["Books", "Electronics"]);
    assert_eq!(tree[0].id, books.id);
    let kids: Vec<&str> = tree[1].children.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(kids, [laptops.id.as_str(), phones.id.as_str()]);
    assert_eq!(
        tree[1].children[0].parent_id.as_deref(),
        Some(electronics.id.as_str())
    );
}

#[test]
fn a_parent_cycle_in_stored_data_terminates() {
    let c = |id: &str, parent: &str| Category {
        id: id.into(),
        name: id.into(),
        slug: id.into(),
        description: None,
        parent_id: Some(parent.into()),
        created_at: String::new(),
        consumable: false,
    };
    // a -> b -> a: neither is a root, so nothing is shown rather than looping.
    assert!(category_tree(&[c("a", "b"), c("b", "a")]).is_empty());
    // A self-parent is treated as a root.
    assert_eq!(category_tree(&[c("a", "a")]).len(), 1);
}

#[tokio::test]
async fn products_are_created_with_their_embedding_and_unique_codes() {
    let store = LocalStore::in_memory().unwrap();
    let e = embedder();
    let phones = category(&store, "Smartphones", None).await;
    let v0 = catalog_version(&store).await.unwrap();

    let p = create_product(&store, &e, phone(&phones.id, "IP15P-128"))
        .await
        .unwrap();
    assert_eq!(get_product(&store, &p.id).await.unwrap().unwrap(), p);
    assert!(p.available());
    let emb = get_embedding(&store, &p.id).await.unwrap().unwrap();
    assert_eq!(emb.vector.len(), 256);
    assert_eq!(emb.provenance.backend, "local");
    assert!(catalog_version(&store).await.unwrap() > v0);

    // Codes are unique case-insensitively; the category must exist. Nothing half-written.
    let dup = create_product(&store, &e, phone(&phones.id, "ip15p-128")).await;
    assert!(matches!(dup, Err(CatalogError::CodeTaken)), "{dup:?}");
    let nocat = create_product(&store, &e, phone("missing", "X-1")).await;
    assert!(
        matches!(nocat, Err(CatalogError::CategoryNotFound)),
        "{nocat:?}"
    );
    assert_eq!(list_all_products(&store).await.unwrap().len(), 1);
    assert!(
        store
            .get(&keys::product_code_marker("X-1"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn updates_swap_codes_and_recompute_embeddings_only_when_text_changes() {
    let store = LocalStore::in_memory().unwrap();
    let e = embedder();
    let phones = category(&store, "Smartphones", None).await;
    let other = category(&store, "Gardening", None).await;
    let p = create_product(&store, &e, phone(&phones.id, "A-1"))
        .await
        .unwrap();
    let q = create_product(&store, &e, phone(&phones.id, "B-1"))
        .await
        .unwrap();
    let before = get_embedding(&store, &p.id).await.unwrap().unwrap();

    // Price and stock do not touch the embedding.
    let patch = ProductPatch {
        price: Some(Cents(27_999)),
        stock_quantity: Some(0),
        ..Default::default()
    };
    let p2 = update_product(&store, &e, &p.id, &patch).await.unwrap();
    assert_eq!(p2.price, Cents(27_999));
    assert!(!p2.available());
    assert_eq!(p2.version, p.version + 1);
    assert_eq!(get_embedding(&store, &p.id).await.unwrap().unwrap(), before);

    // A new description does.
    let patch = ProductPatch {
        description: Some(Some("A garden hose, 30 metres".into())),
        category_id: Some(other.id.clone()),
        ..Default::default()
    };
    update_product(&store, &e, &p.id, &patch).await.unwrap();
    let after = get_embedding(&store, &p.id).await.unwrap().unwrap();
    assert_ne!(after.text_hash, before.text_hash);
    assert_ne!(after.vector, before.vector);

    // Code swap: the old code is free again, a taken code is refused.
    let patch = ProductPatch {
        code: Some("A-2".into()),
        ..Default::default()
    };
    update_product(&store, &e, &p.id, &patch).await.unwrap();
    create_product(&store, &e, phone(&phones.id, "A-1"))
        .await
        .unwrap();
    let taken = ProductPatch {
        code: Some("b-1".into()),
        ..Default::default()
    };
    let r = update_product(&store, &e, &p.id, &taken).await;
    assert!(matches!(r, Err(CatalogError::CodeTaken)), "{r:?}");
    assert_eq!(
        get_product(&store, &q.id).await.unwrap().unwrap().code,
        "B-1"
    );

    let bad = ProductPatch {
        category_id: Some("missing".into()),
        ..Default::default()
    };
    let r = update_product(&store, &e, &p.id, &bad).await;
    assert!(matches!(r, Err(CatalogError::CategoryNotFound)), "{r:?}");
    let r = update_product(&store, &e, "missing", &ProductPatch::default()).await;
    assert!(matches!(r, Err(CatalogError::ProductNotFound)), "{r:?}");
}

#[tokio::test]
async fn counter_writes_leave_the_indexed_product_item_alone() {
    let store = LocalStore::in_memory().unwrap();
    let e = embedder();
    let phones = category(&store, "Smartphones", None).await;
    let p = create_product(&store, &e, phone(&phones.id, "A-1"))
        .await
        .unwrap();
    let product_before = store.get(&keys::product(&p.id)).await.unwrap().unwrap();
    record_view(&store, &p.id).await.unwrap();
    let seen = get_product(&store, &p.id).await.unwrap().unwrap();
    assert_eq!((seen.view_count, seen.version), (1, p.version));
    // The view went to the counter item: the product item (with its index keys) is unchanged.
    assert_eq!(
        store.get(&keys::product(&p.id)).await.unwrap().unwrap(),
        product_before
    );
    // update_product keeps the view, and a stock change goes to the counter item.
    let patch = ProductPatch {
        price: Some(Cents(500)),
        stock_quantity: Some(7),
        ..Default::default()
    };
    let updated = update_product(&store, &e, &p.id, &patch).await.unwrap();
    assert_eq!(
        (updated.view_count, updated.price, updated.stock_quantity),
        (1, Cents(500), 7)
    );
    let again = get_product(&store, &p.id).await.unwrap().unwrap();
    assert_eq!((again.view_count, again.stock_quantity), (1, 7));
    let counters = store
        .get(&keys::product_counters(&p.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counters["stock_quantity"], 7);
    assert!(matches!(
        record_view(&store, "missing").await,
        Err(CatalogError::ProductNotFound)
    ));
}

#[tokio::test]
async fn counters_live_on_an_item_without_index_keys() {
    let store = LocalStore::in_memory().unwrap();
    let e = embedder();
    let phones = category(&store, "Smartphones", None).await;
    let p = create_product(&store, &e, phone(&phones.id, "A-1"))
        .await
        .unwrap();
    let counters = store
        .get(&keys::product_counters(&p.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counters["stock_quantity"], p.stock_quantity);
    for index_key in [
        crate::store::GSI1PK,
        crate::store::GSI1SK,
        crate::store::GSI2PK,
        crate::store::GSI2SK,
    ] {
        assert!(!counters.contains_key(index_key), "{index_key}");
    }
    let product = store.get(&keys::product(&p.id)).await.unwrap().unwrap();
    for name in PRODUCT_COUNTERS {
        assert!(!product.contains_key(name), "{name} on the product item");
    }
    // Every reader sees the counters.
    let listed = list_all_products(&store).await.unwrap();
    assert_eq!(listed[0].stock_quantity, p.stock_quantity);
    let got = get_products(&store, std::slice::from_ref(&p.id))
        .await
        .unwrap();
    assert_eq!(got[0], p);
}

/// A product written by an older version: counters on the product item, no counter item.
async fn old_format_product(store: &LocalStore, p: &ProductRecord) {
    let mut item = product_item(p).unwrap();
    item.insert("stock_quantity".into(), 9.into());
    item.insert("view_count".into(), 4.into());
    item.insert("order_count".into(), 2.into());
    item.insert("basket_count".into(), 1.into());
    store.put(item, None).await.unwrap();
    store
        .delete(&keys::product_counters(&p.id), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn stores_from_before_the_counter_items_are_read_and_migrated_once() {
    let store = LocalStore::in_memory().unwrap();
    let e = embedder();
    let phones = category(&store, "Smartphones", None).await;
    let p = create_product(&store, &e, phone(&phones.id, "A-1"))
        .await
        .unwrap();
    let q = create_product(&store, &e, phone(&phones.id, "A-2"))
        .await
        .unwrap();
    old_format_product(&store, &p).await;
    // Read: the product item's own counters count while there is no counter item.
    let seen = get_product(&store, &p.id).await.unwrap().unwrap();
    assert_eq!(
        (
            seen.stock_quantity,
            seen.view_count,
            seen.order_count,
            seen.basket_count
        ),
        (9, 4, 2, 1)
    );
    let listed = list_all_products(&store).await.unwrap();
    assert_eq!(
        listed.iter().find(|x| x.id == p.id).unwrap().stock_quantity,
        9
    );
    // Migrated once: the counter item gets the old counters; a second run changes nothing.
    assert_eq!(migrate_product_counters(&store).await.unwrap(), 1);
    record_view(&store, &p.id).await.unwrap();
    assert_eq!(migrate_product_counters(&store).await.unwrap(), 0);
    let seen = get_product(&store, &p.id).await.unwrap().unwrap();
    assert_eq!((seen.stock_quantity, seen.view_count), (9, 5));
    assert_eq!(
        get_product(&store, &q.id)
            .await
            .unwrap()
            .unwrap()
            .stock_quantity,
        q.stock_quantity
    );
    // An update of an unmigrated product writes its counter item in the same transaction.
    old_format_product(&store, &q).await;
    let patch = ProductPatch {
        price: Some(Cents(500)),
        ..Default::default()
    };
    update_product(&store, &e, &q.id, &patch).await.unwrap();
    let counters = store
        .get(&keys::product_counters(&q.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            counters["stock_quantity"].as_i64(),
            counters["view_count"].as_u64()
        ),
        (Some(9), Some(4))
    );
}

#[tokio::test]
async fn embeddings_load_in_bulk() {
    let store = LocalStore::in_memory().unwrap();
    let e = embedder();
    let phones = category(&store, "Smartphones", None).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let p = create_product(&store, &e, phone(&phones.id, &format!("C-{i}")))
            .await
            .unwrap();
        ids.push(p.id);
    }
    ids.insert(1, "missing".into());
    let got = get_embeddings(&store, &ids).await.unwrap();
    let got_ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(got_ids, [ids[0].as_str(), ids[2].as_str(), ids[3].as_str()]);
    assert_eq!(get_products(&store, &ids).await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_old_product_item_with_a_decimal_price_still_reads() {
    let store = LocalStore::in_memory().unwrap();
    let cat = category(&store, "Old", None).await;
    let p = create_product(&store, &embedder(), phone(&cat.id, "OLD-1"))
        .await
        .unwrap();
    // Rewrite the item as an older version stored it: decimal `price`/`compare_price`.
    let mut item = store.get(&keys::product(&p.id)).await.unwrap().unwrap();
    item.remove("price_cents");
    item.remove("compare_price_cents");
    item.insert("price".into(), serde_json::json!(19.99));
    item.insert("compare_price".into(), serde_json::json!(24.5));
    store.put(item, None).await.unwrap();

    let read = get_product(&store, &p.id).await.unwrap().unwrap();
    assert_eq!(
        (read.price, read.compare_price),
        (Cents(1999), Some(Cents(2450)))
    );
    let all = list_all_products(&store).await.unwrap();
    assert_eq!(all[0].price, Cents(1999));
    // The next whole-item write stores cents and drops the decimal attribute.
    update_product(
        &store,
        &embedder(),
        &p.id,
        &ProductPatch {
            name: Some("Renamed".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let item = store.get(&keys::product(&p.id)).await.unwrap().unwrap();
    assert_eq!(item["price_cents"], 1999);
    assert!(!item.contains_key("price"));
}
