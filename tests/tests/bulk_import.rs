//! Bulk import (`POST /api/v1/admin/import/{kind}`) end to end, on the in-memory backends and,
//! with the emulator (`tests/run.sh`), on DynamoDB: each kind written, a resend skipped, a bad file
//! refused whole.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use api_tests::{Backend, Reply, TestServer};

api_tests::suite!(import_each_kind_once,);

async fn import(s: &TestServer, token: &str, kind: &str, ct: &str, body: &str) -> Reply {
    let resp = s
        .client
        .post(s.url(&format!("/api/v1/admin/import/{kind}")))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Reply::from(resp).await
}

async fn import_each_kind_once(b: Backend) {
    let s = TestServer::spawn(b).await;
    s.seed_demo().await;
    let admin = s.token("admin@ecommerce.com", "admin123").await;

    let products = "id,name,code,price,category,stock_quantity\n\
        imp-p1,Imported mug,IMP-MUG,12.50,Imported kitchen,4\n\
        imp-p2,Imported lamp,IMP-LAMP,40.00,Imported lighting,7\n";
    let users = "id,email,first_name,last_name,password\n\
        imp-u1,imported1@shop.io,Ann,Lee,longenough1\n\
        imp-u2,imported2@shop.io,Ben,Ray,longenough2\n";
    let events = "user_id,product_id,kind,count,timestamp\n\
        imp-u1,imp-p1,view,2,2024-05-01T10:00:00Z\n\
        imp-u2,imp-p2,cart,,1714557600\n";
    let orders = "order_id,user_id,created_at,status,product_id,quantity,unit_price\n\
        imp-o1,imp-u1,2024-02-01T09:00:00Z,delivered,imp-p1,2,11.00\n\
        imp-o1,imp-u1,2024-02-01T09:00:00Z,delivered,imp-p2,1,40\n\
        imp-o2,imp-u2,2024-02-03,cancelled,imp-p1,1,12.50\n";
    let files = [
        ("products", products, "products", 2),
        ("users", users, "users", 2),
        ("interactions", events, "interactions", 2),
        ("orders", orders, "orders", 2),
    ];
    for (kind, body, counted, n) in files {
        let r = import(&s, &admin, kind, "text/csv", body).await;
        assert_eq!(r.status, 200, "{kind}: {}", r.text);
        assert_eq!(r.json["written"][counted], n, "{kind}: {}", r.text);
    }
    let order = s
        .json("GET", "/api/v1/admin/orders/imp-o1", Some(&admin), None)
        .await;
    assert_eq!(order.status, 200, "{}", order.text);
    assert_eq!(order.json["subtotal"], 62.0);
    assert_eq!(order.json["user"]["email"], "imported1@shop.io");
    let mug = s.json("GET", "/api/v1/products/imp-p1", None, None).await;
    assert_eq!(mug.status, 200, "{}", mug.text);
    assert_eq!(
        mug.json["stock_quantity"], 4,
        "historical orders leave stock alone"
    );
    let login = s.login("imported1@shop.io", "longenough1").await;
    assert_eq!(login.status, 200, "imported users log in: {}", login.text);

    for (kind, body, _, _) in files {
        let r = import(&s, &admin, kind, "text/csv", body).await;
        assert_eq!(r.status, 200, "{kind}: {}", r.text);
        assert_eq!(r.json["skipped"], 2, "{kind}: {}", r.text);
    }

    let bad = "id,name,code,price,category\nimp-ok,Ok,IMP-OK,1.00,X\nimp-bad,Bad,IMP-BAD,-1,X\n";
    let r = import(&s, &admin, "products", "text/csv", bad).await;
    r.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(r.json["field_errors"][0]["field"], "rows[2].price");
    let ok = s.json("GET", "/api/v1/products/imp-ok", None, None).await;
    assert_eq!(ok.status, 404, "nothing written: {}", ok.text);
}
