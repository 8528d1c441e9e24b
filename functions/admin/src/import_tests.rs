//! Router tests of `POST /api/v1/admin/import/{kind}`.

use axum::http::{HeaderValue, header};
use shared::{
    auth::Role,
    domain::{catalog, interactions, orders, users},
    testkit::{TestApp, TestResponse, raw_request},
};

use crate::router;

async fn send(app: &TestApp, kind: &str, ct: &str, body: String, token: &str) -> TestResponse {
    let mut req = raw_request("POST", &format!("/api/v1/admin/import/{kind}"), ct, body);
    req.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    app.send(req).await
}

const PRODUCTS: &str = "id,name,code,price,category,stock_quantity\n\
    p1,Red mug,MUG-1,12.50,Kitchen,4\n\
    p2,Lamp,LAMP-1,40.00,Lighting,7\n";

#[tokio::test]
async fn each_kind_imports_a_valid_file_and_a_resend_writes_nothing() {
    let app = TestApp::new(router);
    let store = app.state.store.as_ref();
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;

    let r = send(&app, "products", "text/csv", PRODUCTS.into(), &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["kind"], "products");
    assert_eq!(r.json["rows"], 2);
    assert_eq!(r.json["written"]["products"], 2);
    assert_eq!(r.json["written"]["categories"], 2);
    assert_eq!(
        catalog::get_product(store, "p1")
            .await
            .unwrap()
            .unwrap()
            .price
            .0,
        1250
    );

    let users_csv = "id,email,first_name,last_name,password,roles\n\
        u1,ann@shop.io,Ann,Lee,longenough1,customer\n\
        u2,ben@shop.io,Ben,Ray,longenough2,manager\n";
    let r = send(
        &app,
        "users",
        "text/csv; charset=utf-8",
        users_csv.into(),
        &admin,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["written"]["users"], 2);
    let u2 = users::get(store, "u2").await.unwrap().unwrap();
    assert_eq!(u2.roles, vec!["manager"]);
    assert!(!r.text.contains("longenough"), "passwords never echoed");

    let ndjson = "{\"user_id\":\"u1\",\"product_id\":\"p1\",\"kind\":\"view\",\"timestamp\":\"2024-05-01T10:00:00Z\"}\n\
        {\"user_id\":\"u1\",\"product_id\":\"p2\",\"kind\":\"cart\",\"count\":2,\"timestamp\":1714557600}\n";
    let r = send(
        &app,
        "interactions",
        "application/x-ndjson",
        ndjson.into(),
        &admin,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["written"]["interactions"], 2);

    let orders_csv = "order_id,user_id,created_at,status,product_id,quantity,unit_price\n\
        o1,u1,2024-02-01T09:00:00Z,delivered,p1,2,11.00\n\
        o1,u1,2024-02-01T09:00:00Z,delivered,p2,1,40\n";
    let r = send(&app, "orders", "text/csv", orders_csv.into(), &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["written"]["orders"], 1);
    assert_eq!(r.json["written"]["order_lines"], 2);
    assert_eq!(r.json["written"]["interactions"], 2);
    assert_eq!(
        app.stock("p1").await,
        4,
        "historical orders leave stock alone"
    );
    assert_eq!(
        orders::get(store, "o1").await.unwrap().unwrap().subtotal.0,
        6200
    );
    let u1 = interactions::actor_aggregates(store, &interactions::Actor::User("u1".into()))
        .await
        .unwrap();
    assert_eq!(u1.len(), 2, "view + purchase of p1, cart + purchase of p2");

    // The same files again: everything skipped, nothing duplicated.
    for (kind, ct, body, rows) in [
        ("products", "text/csv", PRODUCTS, 2),
        ("users", "text/csv", users_csv, 2),
        ("interactions", "application/x-ndjson", ndjson, 2),
        ("orders", "text/csv", orders_csv, 1),
    ] {
        let r = send(&app, kind, ct, body.into(), &admin).await;
        assert_eq!(r.status, 200, "{kind}: {}", r.text);
        assert_eq!(r.json["skipped"], rows, "{kind}: {}", r.text);
        let written = &r.json["written"];
        for field in ["users", "products", "orders", "interactions"] {
            assert_eq!(written[field], 0, "{kind}: {}", r.text);
        }
    }
    assert_eq!(catalog::list_all_products(store).await.unwrap().len(), 2);
    let again = interactions::actor_aggregates(store, &interactions::Actor::User("u1".into()))
        .await
        .unwrap();
    assert_eq!(again, u1, "counts unchanged by the resend");
}

#[tokio::test]
async fn a_file_with_bad_rows_is_rejected_whole_and_nothing_is_written() {
    let app = TestApp::new(router);
    let store = app.state.store.as_ref();
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let body = "name,code,price,category\n\
        Good,G-1,1.00,Kitchen\n\
        Bad,B-1,-2,Kitchen\n\
        Worse,W-1,3.999,Kitchen\n";
    let r = send(&app, "products", "text/csv", body.into(), &admin).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json["error_code"], "VALIDATION_ERROR");
    assert_eq!(r.json["field_errors"][0]["field"], "rows[2].price");
    assert_eq!(r.json["field_errors"][0]["message"], "must be >= 0");
    assert_eq!(r.json["field_errors"][1]["field"], "rows[3].price");
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was imported")
    );
    assert!(catalog::list_all_products(store).await.unwrap().is_empty());
    assert!(catalog::list_categories(store).await.unwrap().is_empty());

    // An email already registered (by the admin itself) is a row error; the other row is not written.
    let users_csv = "email,first_name,last_name,password\n\
        new@shop.io,New,One,longenough\n\
        ROOT@example.com,Dup,Two,longenough\n";
    let r = send(&app, "users", "text/csv", users_csv.into(), &admin).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json["field_errors"][0]["field"], "rows[2].email");
    assert_eq!(
        r.json["field_errors"][0]["message"],
        "email already registered"
    );
    assert!(
        users::find_by_login(store, "new@shop.io")
            .await
            .unwrap()
            .is_none()
    );

    // Interactions naming an unknown product.
    let r = send(
        &app,
        "interactions",
        "text/csv",
        "user_id,product_id,kind\nu1,ghost,view\n".into(),
        &admin,
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json["field_errors"][0]["field"], "rows[1].product_id");
}

#[tokio::test]
async fn content_type_kind_permission_and_size_are_checked() {
    let app = TestApp::new(router);
    let (_, admin) = app.user_with_roles("root", &[Role::Admin]).await;
    let (_, manager) = app.user_with_roles("mona", &[Role::Manager]).await;
    let (_, customer) = app.user_with_roles("carl", &[Role::Customer]).await;

    let r = send(&app, "products", "application/json", "{}".into(), &admin).await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(r.json["error_code"], "UNSUPPORTED_MEDIA_TYPE");

    let r = send(&app, "teachers", "text/csv", "a\n1\n".into(), &admin).await;
    assert_eq!(r.status, 404, "{}", r.text);

    for kind in ["users", "products", "interactions", "orders"] {
        let r = send(&app, kind, "text/csv", "a\n1\n".into(), &customer).await;
        assert_eq!(r.status, 403, "{kind}: {}", r.text);
    }
    // Managers update orders and products but do not create them.
    for kind in ["products", "orders"] {
        let r = send(&app, kind, "text/csv", "a\n1\n".into(), &manager).await;
        assert_eq!(r.status, 403, "{kind}: {}", r.text);
    }

    // Over 1 MB (the other routes' limit) but under 6 MB: accepted.
    let mut big = String::from("name,code,price,category,description\n");
    let description = "x".repeat(9_000);
    for i in 0..150 {
        big.push_str(&format!("Item {i},BIG-{i},1.00,Bulk,{description}\n"));
    }
    assert!(big.len() > 1024 * 1024);
    let r = send(&app, "products", "text/csv", big, &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["written"]["products"], 150);

    let huge = "x".repeat(crate::import_handlers::MAX_IMPORT_BYTES + 1);
    let r = send(&app, "products", "text/csv", huge, &admin).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.json["error_code"], "PAYLOAD_TOO_LARGE");
}
