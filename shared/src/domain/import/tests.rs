#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::{
    ai::local::LocalEmbedder,
    domain::{catalog, interactions, orders, users},
    store::{ItemStore, local::LocalStore},
};

async fn import(
    store: &LocalStore,
    kind: ImportKind,
    format: Format,
    text: &str,
) -> Result<ImportReport, ImportError> {
    import_as(store, kind, format, text, true).await
}

async fn import_as(
    store: &LocalStore,
    kind: ImportKind,
    format: Format,
    text: &str,
    may_assign_roles: bool,
) -> Result<ImportReport, ImportError> {
    let embedder = LocalEmbedder::new(16);
    let ctx = Context {
        store,
        embedder: &embedder,
        may_assign_roles,
    };
    let body = text.to_string();
    let open = move || -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(body.clone())))
    };
    run(
        &ctx,
        kind,
        &Source {
            format,
            open: &open,
        },
    )
    .await
}

fn rejected(r: Result<ImportReport, ImportError>) -> Vec<String> {
    match r {
        Err(ImportError::Rejected(errors)) => errors
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

const PRODUCTS: &str = "id,name,code,price,category,stock_quantity,created_at\n\
    p1,Red mug,MUG-1,12.50,Kitchen,4,2024-01-02T03:04:05Z\n\
    p2,Blue mug,MUG-2,9,kitchen,0,\n\
    p3,Lamp,LAMP-1,40.00,Lighting,7,1700000000\n";

#[tokio::test]
async fn products_create_missing_categories_keep_ids_and_skip_on_retry() {
    let s = LocalStore::in_memory().unwrap();
    let r = import(&s, ImportKind::Products, Format::Csv, PRODUCTS)
        .await
        .unwrap();
    assert_eq!(
        (r.rows, r.written.products, r.written.categories, r.skipped),
        (3, 3, 2, 0)
    );
    let p1 = catalog::get_product(&s, "p1").await.unwrap().unwrap();
    assert_eq!(p1.price.0, 1250);
    assert_eq!(p1.stock_quantity, 4);
    assert_eq!(p1.created_at, "2024-01-02T03:04:05.000Z");
    assert!(catalog::get_embedding(&s, "p1").await.unwrap().is_some());
    let p2 = catalog::get_product(&s, "p2").await.unwrap().unwrap();
    assert_eq!(
        p1.category_id, p2.category_id,
        "category names match case-insensitively"
    );

    let again = import(&s, ImportKind::Products, Format::Csv, PRODUCTS)
        .await
        .unwrap();
    assert_eq!((again.written.products, again.skipped), (0, 3));
    assert_eq!(catalog::list_all_products(&s).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_bad_product_file_is_rejected_whole_with_row_numbers() {
    let s = LocalStore::in_memory().unwrap();
    let text = "name,code,price,category\n\
        Ok,OK-1,1.00,A\n\
        Bad,BAD-1,-3,A\n\
        Dup,ok-1,2.00,A\n\
        ,X 1,abc,\n";
    let errors = rejected(import(&s, ImportKind::Products, Format::Csv, text).await);
    assert_eq!(
        errors,
        vec![
            "rows[2].price: must be >= 0",
            "rows[3].code: duplicate code in this file",
            "rows[4].name: is required",
            "rows[4].code: must be 1-64 letters, digits, '-', '_' or '.'",
            "rows[4].price: must be an amount like 19.99 (at most two decimals)",
            "rows[4].category_id: category_id or category is required",
        ]
    );
    assert!(catalog::list_all_products(&s).await.unwrap().is_empty());
    assert!(catalog::list_categories(&s).await.unwrap().is_empty());
}

#[tokio::test]
async fn users_hash_passwords_and_refuse_taken_emails() {
    let s = LocalStore::in_memory().unwrap();
    let text = "{\"id\":\"u1\",\"email\":\"a@x.io\",\"first_name\":\"A\",\"last_name\":\"B\",\"password\":\"longenough\"}\n\
        {\"id\":\"u2\",\"email\":\"b@x.io\",\"first_name\":\"C\",\"last_name\":\"D\",\"password_hash\":\"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\",\"roles\":\"manager\"}\n";
    let r = import(&s, ImportKind::Users, Format::JsonLines, text)
        .await
        .unwrap();
    assert_eq!(r.written.users, 2);
    let u1 = users::get(&s, "u1").await.unwrap().unwrap();
    assert!(crate::auth::password::verify_password(&u1.password_hash, "longenough").await);
    assert_eq!(
        users::get(&s, "u2").await.unwrap().unwrap().roles,
        vec!["manager"]
    );
    // Retried: skipped; the same email under another id: a row error.
    let again = import(&s, ImportKind::Users, Format::JsonLines, text)
        .await
        .unwrap();
    assert_eq!((again.written.users, again.skipped), (0, 2));
    let other = "email,first_name,last_name,password\nA@X.io,E,F,longenough\n";
    assert_eq!(
        rejected(import(&s, ImportKind::Users, Format::Csv, other).await),
        vec!["rows[1].email: email already registered"]
    );
}

#[tokio::test]
async fn interactions_are_recorded_at_their_time_once_per_file() {
    let s = LocalStore::in_memory().unwrap();
    import(&s, ImportKind::Products, Format::Csv, PRODUCTS)
        .await
        .unwrap();
    let text = "user_id,product_id,kind,count,timestamp\n\
        u1,p1,view,3,2024-05-01T10:00:00Z\n\
        u1,p1,cart,,1714557600\n\
        guest:c1,p2,like,,\n";
    let r = import(&s, ImportKind::Interactions, Format::Csv, text)
        .await
        .unwrap();
    assert_eq!(r.written.interactions, 3);
    let again = import(&s, ImportKind::Interactions, Format::Csv, text)
        .await
        .unwrap();
    assert_eq!((again.written.interactions, again.skipped), (0, 3));
    let aggs = interactions::actor_aggregates(&s, &interactions::Actor::User("u1".into()))
        .await
        .unwrap();
    assert_eq!(aggs.len(), 1);
    assert_eq!(aggs[0].last_at, 1_714_557_600, "latest of the two rows");
    let bad = "user_id,product_id,kind\nu1,nope,view\nu1,p1,stare\n";
    let errors = rejected(import(&s, ImportKind::Interactions, Format::Csv, bad).await);
    assert_eq!(
        errors[0],
        "rows[2].kind: unknown kind \"stare\" (view, cart, purchase, like, save, share, video_view, search_click, rec_click, not_interested)"
    );
    assert_eq!(errors[1], "rows[1].product_id: unknown product nope");
}

#[tokio::test]
async fn historical_orders_keep_stock_and_record_purchases() {
    let s = LocalStore::in_memory().unwrap();
    import(&s, ImportKind::Products, Format::Csv, PRODUCTS)
        .await
        .unwrap();
    let text = "order_id,user_id,created_at,status,product_id,quantity,unit_price\n\
        o1,u1,2024-02-01T09:00:00Z,delivered,p1,2,11.00\n\
        o1,u1,2024-02-01T09:00:00Z,delivered,p3,1,40\n\
        o2,u2,2024-02-02,cancelled,p1,1,12.50\n";
    let r = import(&s, ImportKind::Orders, Format::Csv, text)
        .await
        .unwrap();
    assert_eq!(
        (
            r.written.orders,
            r.written.order_lines,
            r.written.interactions
        ),
        (2, 3, 2),
        "no purchases for the cancelled order"
    );
    let o1 = orders::get(&s, "o1").await.unwrap().unwrap();
    assert_eq!(o1.subtotal.0, 6200);
    assert_eq!(o1.created_at, "2024-02-01T09:00:00.000Z");
    let p1 = catalog::get_product(&s, "p1").await.unwrap().unwrap();
    assert_eq!(
        (p1.stock_quantity, p1.order_count),
        (4, 3),
        "stock untouched"
    );
    let again = import(&s, ImportKind::Orders, Format::Csv, text)
        .await
        .unwrap();
    assert_eq!(
        (
            again.written.orders,
            again.written.interactions,
            again.skipped
        ),
        (0, 0, 2)
    );

    let split = "order_id,user_id,created_at,status,product_id,quantity,unit_price\n\
        o3,u1,2024-02-01,pending,p1,1,1\n\
        o4,u1,2024-02-01,pending,p1,1,1\n\
        o3,u1,2024-02-01,pending,p2,1,1\n\
        o5,u1,2024-02-01,pending,p2,0,1\n";
    assert_eq!(
        rejected(import(&s, ImportKind::Orders, Format::Csv, split).await),
        vec![
            "rows[3].order_id: lines of order o3 must be consecutive rows",
            "rows[4].quantity: must be >= 1",
        ]
    );
    assert!(orders::get(&s, "o3").await.unwrap().is_none());
}

#[tokio::test]
async fn an_empty_file_is_rejected() {
    let s = LocalStore::in_memory().unwrap();
    assert_eq!(
        rejected(
            import(
                &s,
                ImportKind::Interactions,
                Format::Csv,
                "user_id,product_id,kind\n"
            )
            .await
        ),
        vec!["body: no rows to import"]
    );
}

#[tokio::test]
async fn roles_other_than_customer_need_the_permission_to_assign_them() {
    let s = LocalStore::in_memory().unwrap();
    let text = "email,first_name,last_name,password,roles\n\
        a@x.io,A,B,longenough,customer\n\
        b@x.io,C,D,longenough,customer|admin\n";
    match import_as(&s, ImportKind::Users, Format::Csv, text, false).await {
        Err(ImportError::Forbidden(m)) => assert!(m.starts_with("row 2:"), "{m}"),
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert!(users::find_by_login(&s, "a@x.io").await.unwrap().is_none());
    let ok = "email,first_name,last_name,password\na@x.io,A,B,longenough\n";
    let r = import_as(&s, ImportKind::Users, Format::Csv, ok, false)
        .await
        .unwrap();
    assert_eq!(r.written.users, 1);
}

#[tokio::test]
async fn files_longer_than_a_batch_keep_orders_whole_and_resume_interactions_by_batch() {
    let s = LocalStore::in_memory().unwrap();
    import(&s, ImportKind::Products, Format::Csv, PRODUCTS)
        .await
        .unwrap();
    // 120 orders of two lines: 240 rows, written as 100 + 20 orders.
    let mut text =
        String::from("order_id,user_id,created_at,status,product_id,quantity,unit_price\n");
    for i in 0..120 {
        for p in ["p1", "p3"] {
            text.push_str(&format!("o{i},u{i},2024-02-01,delivered,{p},1,1.00\n"));
        }
    }
    let r = import(&s, ImportKind::Orders, Format::Csv, &text)
        .await
        .unwrap();
    assert_eq!(
        (r.rows, r.written.orders, r.written.order_lines),
        (240, 120, 240)
    );
    assert_eq!(
        orders::get(&s, "o99").await.unwrap().unwrap().items.len(),
        2
    );
    assert_eq!(
        orders::get(&s, "o100").await.unwrap().unwrap().items.len(),
        2
    );

    // 250 interactions: batches of 100, 100, 50. Losing the marker of the second batch (as if the
    // first send had stopped right after writing it) makes a resend write that batch only.
    let mut text = String::from("user_id,product_id,kind,timestamp\n");
    for i in 0..250 {
        text.push_str(&format!("v{i},p2,view,1700000000\n"));
    }
    let r = import(&s, ImportKind::Interactions, Format::Csv, &text)
        .await
        .unwrap();
    assert_eq!(r.written.interactions, 250);
    let hash = {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for i in 0..250 {
            h.update(format!("v{i}\u{1f}p2\u{1f}view\u{1f}1\u{1f}1700000000000\n").as_bytes());
        }
        h.digest()
    };
    let marker = crate::store::keys::import_batch("interactions", hash, 1);
    assert!(
        s.delete(&marker, None).await.unwrap().is_some(),
        "marker of batch 1"
    );
    let again = import(&s, ImportKind::Interactions, Format::Csv, &text)
        .await
        .unwrap();
    assert_eq!((again.written.interactions, again.skipped), (100, 150));
}

/// The second pass reads the file again in batches of `BATCH` rows, and a file that changed
/// since the first pass stops it at the row that no longer parses.
#[tokio::test]
async fn the_second_pass_reads_in_batches_and_notices_a_changed_file() {
    let mut text = String::from("n\n");
    for i in 0..250 {
        text.push_str(&format!("{i}\n"));
    }
    let body = text.clone();
    let open = move || -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(body.clone())))
    };
    let source = Source {
        format: Format::Csv,
        open: &open,
    };
    let number = |_row: usize, m: &serde_json::Map<String, serde_json::Value>| {
        m["n"].as_str().unwrap_or_default().parse::<u32>()
    };
    let sizes: Vec<usize> = source
        .parsed_batches(number)
        .unwrap()
        .map(|b| b.unwrap().len())
        .collect();
    assert_eq!(sizes, vec![BATCH, BATCH, 50]);

    let edited = text.replace("\n150\n", "\nfifty\n");
    let open = move || -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(edited.clone())))
    };
    let source = Source {
        format: Format::Csv,
        open: &open,
    };
    let batches: Vec<_> = source.parsed_batches(number).unwrap().collect();
    assert!(batches[0].is_ok());
    match &batches[1] {
        Err(ImportError::Write(why)) => assert!(why.contains("row 151"), "{why}"),
        other => panic!("expected the changed row, got {other:?}"),
    }
}
