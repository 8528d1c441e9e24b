//! `local import KIND FILE` against an embedded store in a temporary folder: a valid file of each
//! kind is written and its report printed, a resend writes nothing, a file with bad rows is refused
//! with its row errors and writes nothing.

use std::{path::Path, process::Command};

use serde_json::Value;

fn import(dir: &Path, kind: &str, file: &Path) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_local"))
        .args(["import", kind])
        .arg(file)
        .arg("--data-dir")
        .arg(dir)
        .env("STORE", "local")
        .env("BLOBS", "memory")
        .env("AI", "local")
        .env_remove("DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("run local: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), json, stderr)
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    path
}

#[test]
fn import_writes_each_kind_once_and_refuses_bad_files_whole() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = tmp.path().join("store");
    let files = tmp.path();

    // A bad file first: nothing written, row errors on stderr.
    let bad = write(
        files,
        "bad.csv",
        "id,name,code,price,category\np1,Mug,MUG-1,2.00,Kitchen\np2,Lamp,LAMP-1,-4,Lighting\n",
    );
    let (ok, _, stderr) = import(&store, "products", &bad);
    assert!(!ok, "a bad file must fail");
    assert!(stderr.contains("rows[2].price: must be >= 0"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");

    let products = write(
        files,
        "products.csv",
        "id,name,code,price,category,stock_quantity\np1,Mug,MUG-1,2.00,Kitchen,5\np2,Lamp,LAMP-1,40,Lighting,1\n",
    );
    let (ok, report, stderr) = import(&store, "products", &products);
    assert!(ok, "{stderr}");
    assert_eq!(report["written"]["products"], 2, "{report}");
    assert_eq!(
        report["written"]["categories"], 2,
        "the bad file created no category: {report}"
    );

    let users = write(
        files,
        "users.ndjson",
        "{\"id\":\"u1\",\"email\":\"ann@shop.io\",\"first_name\":\"Ann\",\"last_name\":\"Lee\",\"password\":\"longenough\"}\n",
    );
    let (ok, report, stderr) = import(&store, "users", &users);
    assert!(ok, "{stderr}");
    assert_eq!(report["written"]["users"], 1, "{report}");
    assert!(!stderr.contains("longenough"), "password logged: {stderr}");

    let interactions = write(
        files,
        "events.csv",
        "user_id,product_id,kind,count,timestamp\nu1,p1,view,2,2024-05-01T10:00:00Z\nu1,p2,like,,1714557600\n",
    );
    let (ok, report, stderr) = import(&store, "interactions", &interactions);
    assert!(ok, "{stderr}");
    assert_eq!(report["written"]["interactions"], 2, "{report}");

    let orders = write(
        files,
        "orders.jsonl",
        "{\"order_id\":\"o1\",\"user_id\":\"u1\",\"created_at\":\"2024-02-01\",\"status\":\"delivered\",\"product_id\":\"p1\",\"quantity\":3,\"unit_price\":\"1.50\"}\n",
    );
    let (ok, report, stderr) = import(&store, "orders", &orders);
    assert!(ok, "{stderr}");
    assert_eq!(report["written"]["orders"], 1, "{report}");
    assert_eq!(report["written"]["interactions"], 1, "{report}");

    // Everything again: skipped.
    for (kind, file, rows) in [
        ("products", &products, 2),
        ("users", &users, 1),
        ("interactions", &interactions, 2),
        ("orders", &orders, 1),
    ] {
        let (ok, report, stderr) = import(&store, kind, file);
        assert!(ok, "{kind}: {stderr}");
        assert_eq!(report["skipped"], rows, "{kind}: {report}");
    }

    // An interaction naming a product the store does not have.
    let unknown = write(
        files,
        "unknown.csv",
        "user_id,product_id,kind\nu1,p9,view\n",
    );
    let (ok, _, stderr) = import(&store, "interactions", &unknown);
    assert!(!ok);
    assert!(
        stderr.contains("rows[1].product_id: unknown product p9"),
        "{stderr}"
    );

    let (ok, _, stderr) = import(&store, "products", &files.join("noext"));
    assert!(!ok, "{stderr}");
}
