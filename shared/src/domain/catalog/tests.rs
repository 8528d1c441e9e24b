#![allow(clippy::unwrap_used)]

use super::*;
use crate::ai::local::LocalEmbedder;
use crate::money::Cents;
use crate::store::local::LocalStore;
use crate::store::{Condition, ItemStore, StoreError, keys};

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
async fn counter_writes_move_the_version_so_stale_saves_retry() {
    let store = LocalStore::in_memory().unwrap();
    let e = embedder();
    let phones = category(&store, "Smartphones", None).await;
    let p = create_product(&store, &e, phone(&phones.id, "A-1"))
        .await
        .unwrap();
    record_view(&store, &p.id).await.unwrap();
    let seen = get_product(&store, &p.id).await.unwrap().unwrap();
    assert_eq!((seen.view_count, seen.version), (1, p.version + 1));
    // A whole-item save conditioned on the version read before the view is refused...
    let stale = store
        .put(
            product_item(&p).unwrap(),
            Some(Condition::eq("version", p.version)),
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::ConditionFailed)),
        "{stale:?}"
    );
    // ...and update_product, which re-reads, keeps the view.
    let patch = ProductPatch {
        price: Some(Cents(500)),
        ..Default::default()
    };
    let updated = update_product(&store, &e, &p.id, &patch).await.unwrap();
    assert_eq!((updated.view_count, updated.price), (1, Cents(500)));
    assert!(matches!(
        record_view(&store, "missing").await,
        Err(CatalogError::ProductNotFound)
    ));
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
