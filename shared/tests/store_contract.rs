//! One contract suite for every `ItemStore` implementation (after arrow-rs `object_store`'s
//! shared integration tests): each check is written once, as `async fn check_xxx(store)`, and
//! instantiated per backend by `contract!` below:
//! - `memory`: `LocalStore::in_memory()`;
//! - `local_file`: `LocalStore::open` on a file in a temporary directory;
//! - `dynamodb`: `DynamoStore` on a fresh table (uuid name) of the AWS emulator at
//!   `TEST_AWS_ENDPOINT` (ignored unless run with `--include-ignored`, as `tests/run.sh` does).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};
use shared::store::dynamo::DynamoStore;
use shared::store::local::LocalStore;
use shared::store::{
    Cmp, Condition, Index, Item, ItemStore, Key, Page, Query, Scan, SortKey, StoreError, TxOp,
    Update, now_epoch, query_all,
};

// ---- fixtures -------------------------------------------------------------------------------

/// A store plus whatever must live as long as it (the temporary directory of a file store).
struct Fixture {
    store: Arc<dyn ItemStore>,
    /// Whether concurrent writes to one item are serialised by the backend, as DynamoDB and redb
    /// do. moto 5.2.5 (threaded `moto_server`) is not: its UpdateItem reads, copies and writes
    /// back without a lock, so concurrent ADDs can be lost (seen: 46 of 50) whatever the client
    /// does. tests/run.sh therefore runs moto behind a lock (tests/moto_serial.py) and the check
    /// is exact; set `TEST_AWS_EMULATOR_LOSES_WRITES=1` to loosen it against a plain moto_server.
    atomic_concurrent_writes: bool,
    _dir: Option<tempfile::TempDir>,
}

async fn memory_store() -> Fixture {
    Fixture {
        store: Arc::new(LocalStore::in_memory().unwrap()),
        atomic_concurrent_writes: true,
        _dir: None,
    }
}

async fn file_store() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&dir.path().join("store.redb")).unwrap();
    Fixture {
        store: Arc::new(store),
        atomic_concurrent_writes: true,
        _dir: Some(dir),
    }
}

async fn dynamo_sdk() -> aws_config::SdkConfig {
    let endpoint = std::env::var("TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "TEST_AWS_ENDPOINT is not set: the DynamoDB contract tests need the AWS emulator. \
             Run tests/run.sh, or start moto_server and set TEST_AWS_ENDPOINT=http://127.0.0.1:PORT"
        )
    });
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test",
            "test",
            None,
            None,
            "store-contract",
        ))
        .load()
        .await
}

async fn dynamo_store() -> Fixture {
    let sdk = dynamo_sdk().await;
    let store = DynamoStore::new(&sdk, &format!("contract-{}", uuid::Uuid::new_v4()));
    store
        .create_table_if_missing()
        .await
        .expect("create the test table on the emulator");
    // A second call is a no-op.
    store
        .create_table_if_missing()
        .await
        .expect("create_table_if_missing twice");
    Fixture {
        store: Arc::new(store),
        atomic_concurrent_writes: std::env::var_os("TEST_AWS_EMULATOR_LOSES_WRITES").is_none(),
        _dir: None,
    }
}

/// Instantiates every check for every backend.
macro_rules! contract {
    (checks: [$($check:ident),* $(,)?], shared_checks: [$($shared:ident),* $(,)?] $(,)?) => {
        contract!(@backend memory, memory_store, [], [$($check),*], [$($shared),*]);
        contract!(@backend local_file, file_store, [], [$($check),*], [$($shared),*]);
        contract!(
            @backend dynamodb, dynamo_store,
            [#[ignore = "needs the AWS emulator: run tests/run.sh"]],
            [$($check),*], [$($shared),*]
        );
    };
    (@backend $module:ident, $make:ident, $attrs:tt, [$($check:ident),*], [$($shared:ident),*]) => {
        mod $module {
            $( contract!(@test by_ref, $make, $attrs, $check); )*
            $( contract!(@test shared, $make, $attrs, $shared); )*
        }
    };
    (@test by_ref, $make:ident, [$(#[$attr:meta])*], $check:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $check() {
            let fixture = super::$make().await;
            super::$check(&*fixture.store).await;
        }
    };
    (@test shared, $make:ident, [$(#[$attr:meta])*], $check:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $check() {
            let fixture = super::$make().await;
            super::$check(fixture.store.clone(), fixture.atomic_concurrent_writes).await;
        }
    };
}

contract!(
    checks: [
        check_get_put_delete,
        check_values_round_trip,
        check_conditions,
        check_failed_conditions_write_nothing,
        check_update,
        check_update_many,
        check_transactions,
        check_transaction_limits,
        check_gsi_queries,
        check_sort_key_conditions,
        check_pagination,
        check_pages_stop_at_one_megabyte,
        check_pagination_on_index,
        check_projection,
        check_batch_get,
        check_segmented_scan,
        check_ttl,
        check_ttl_pagination,
        check_invalid_requests,
        check_ping,
    ],
    shared_checks: [check_concurrent_adds, check_explanation_cache],
);

// ---- helpers --------------------------------------------------------------------------------

fn item(pk: &str, sk: &str, extra: Value) -> Item {
    let mut m = Item::new();
    m.insert("PK".into(), json!(pk));
    m.insert("SK".into(), json!(sk));
    if let Value::Object(extra) = extra {
        m.extend(extra);
    }
    m
}

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["SK"].as_str().unwrap().to_string())
        .collect()
}

fn pks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["PK"].as_str().unwrap().to_string())
        .collect()
}

/// Whether `cond` holds on the item at `it`'s key: a conditional re-put of the same item.
async fn holds(store: &dyn ItemStore, it: &Item, cond: Condition) -> bool {
    match store.put(it.clone(), Some(cond.clone())).await {
        Ok(()) => true,
        Err(StoreError::ConditionFailed) => false,
        Err(e) => panic!("condition {cond:?}: unexpected error {e}"),
    }
}

/// Every page of `query` with page size `limit`.
async fn pages(store: &dyn ItemStore, query: Query, limit: u32) -> Vec<Page> {
    let mut out = Vec::new();
    let mut q = query.limit(limit);
    loop {
        let page = store.query(q.clone()).await.unwrap();
        assert!(
            page.items.len() <= limit as usize,
            "page larger than the limit"
        );
        let cursor = page.cursor.clone();
        out.push(page);
        match cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
        assert!(out.len() < 100, "pagination does not end");
    }
}

fn flatten(pages: &[Page]) -> Vec<Item> {
    pages.iter().flat_map(|p| p.items.clone()).collect()
}

fn past() -> i64 {
    now_epoch() - 60
}

fn future() -> i64 {
    now_epoch() + 3600
}

// ---- checks ---------------------------------------------------------------------------------

async fn check_get_put_delete(store: &dyn ItemStore) {
    let k = key("USER#1", "PROFILE");
    assert_eq!(store.get(&k).await.unwrap(), None);

    let first = item("USER#1", "PROFILE", json!({"name": "Ada", "age": 36}));
    store.put(first.clone(), None).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(first.clone()));
    // Same PK, other SK; same SK, other PK: distinct items.
    assert_eq!(
        store.get(&key("USER#1", "PREFERENCES")).await.unwrap(),
        None
    );
    assert_eq!(store.get(&key("USER#10", "PROFILE")).await.unwrap(), None);

    // A put replaces the whole item.
    let second = item("USER#1", "PROFILE", json!({"name": "Ada L."}));
    store.put(second.clone(), None).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(second.clone()));

    assert_eq!(store.delete(&k, None).await.unwrap(), Some(second));
    assert_eq!(store.get(&k).await.unwrap(), None);
    assert_eq!(store.delete(&k, None).await.unwrap(), None);
}

async fn check_values_round_trip(store: &dyn ItemStore) {
    let it = item(
        "V",
        "1",
        json!({
            "int": 42,
            "neg": -7,
            "big": 9_007_199_254_740_993_i64,
            "float": 1.5,
            "bool": true,
            "null": null,
            "text": "héllo ✓",
            "empty": "",
            "list": [1, "two", {"three": 3}],
            "map": {"a": {"b": [true, false]}, "n": 0},
            "emptymap": {},
            "emptylist": [],
        }),
    );
    store.put(it.clone(), None).await.unwrap();
    let got = store.get(&key("V", "1")).await.unwrap().unwrap();
    assert_eq!(got, it);
    assert!(got["int"].is_i64(), "integers read back as integers");
    assert!(got["map"]["n"].is_i64());
    assert!(got["float"].is_f64());
}

async fn check_conditions(store: &dyn ItemStore) {
    let it = item(
        "C",
        "1",
        json!({"n": 10, "s": "m", "flag": true, "tags": ["a"]}),
    );
    let absent = item("C", "absent", json!({}));

    // ItemExists / ItemNotExists.
    assert!(!holds(store, &it, Condition::ItemExists).await);
    assert!(holds(store, &it, Condition::ItemNotExists).await); // writes it
    assert!(!holds(store, &it, Condition::ItemNotExists).await);
    assert!(holds(store, &it, Condition::ItemExists).await);

    // AttrExists / AttrNotExists.
    assert!(holds(store, &it, Condition::AttrExists("n".into())).await);
    assert!(!holds(store, &it, Condition::AttrExists("zz".into())).await);
    assert!(holds(store, &it, Condition::AttrNotExists("zz".into())).await);
    assert!(!holds(store, &it, Condition::AttrNotExists("n".into())).await);
    assert!(!holds(store, &absent, Condition::AttrExists("n".into())).await);
    store.delete(&key("C", "absent"), None).await.unwrap();
    assert!(holds(store, &absent, Condition::AttrNotExists("n".into())).await);
    store.delete(&key("C", "absent"), None).await.unwrap();

    // Compare on numbers.
    let num = |op, v: Value| Condition::cmp("n", op, v);
    for (op, v, expect) in [
        (Cmp::Eq, json!(10), true),
        (Cmp::Eq, json!(10.0), true),
        (Cmp::Eq, json!(11), false),
        (Cmp::Ne, json!(11), true),
        (Cmp::Ne, json!(10), false),
        (Cmp::Lt, json!(11), true),
        (Cmp::Lt, json!(10), false),
        (Cmp::Le, json!(10), true),
        (Cmp::Le, json!(9.5), false),
        (Cmp::Gt, json!(9), true),
        (Cmp::Gt, json!(10), false),
        (Cmp::Ge, json!(10), true),
        (Cmp::Ge, json!(100), false),
        // Numerically, not as text: 10 > 9 although "10" < "9".
        (Cmp::Gt, json!(9), true),
        (Cmp::Lt, json!(-1), false),
    ] {
        assert_eq!(
            holds(store, &it, num(op, v.clone())).await,
            expect,
            "n {op:?} {v}"
        );
    }

    // Compare on strings (by bytes).
    let text = |op, v: &str| Condition::cmp("s", op, v);
    for (op, v, expect) in [
        (Cmp::Eq, "m", true),
        (Cmp::Eq, "M", false),
        (Cmp::Ne, "n", true),
        (Cmp::Ne, "m", false),
        (Cmp::Lt, "n", true),
        (Cmp::Lt, "m", false),
        (Cmp::Le, "m", true),
        (Cmp::Gt, "l", true),
        (Cmp::Gt, "mm", false),
        (Cmp::Ge, "m", true),
        (Cmp::Ge, "z", false),
        (Cmp::Gt, "Z", true), // 'm' (0x6d) > 'Z' (0x5a)
    ] {
        assert_eq!(holds(store, &it, text(op, v)).await, expect, "s {op:?} {v}");
    }

    // Other types: equality only.
    assert!(holds(store, &it, Condition::eq("flag", true)).await);
    assert!(!holds(store, &it, Condition::eq("flag", false)).await);
    assert!(holds(store, &it, Condition::cmp("flag", Cmp::Ne, false)).await);
    assert!(holds(store, &it, Condition::eq("tags", json!(["a"]))).await);

    // Different types and missing attributes are false, also for Ne.
    assert!(!holds(store, &it, Condition::eq("n", "10")).await);
    assert!(!holds(store, &it, Condition::cmp("n", Cmp::Ne, "10")).await);
    assert!(!holds(store, &it, Condition::cmp("s", Cmp::Lt, 5)).await);
    assert!(!holds(store, &it, Condition::cmp("missing", Cmp::Ne, 1)).await);
    assert!(!holds(store, &it, Condition::cmp("missing", Cmp::Lt, 1)).await);
    assert!(!holds(store, &it, Condition::cmp("flag", Cmp::Gt, false)).await);

    // And / Or, nested.
    let yes = Condition::eq("n", 10);
    let no = Condition::eq("n", 11);
    assert!(
        holds(
            store,
            &it,
            Condition::And(vec![yes.clone(), Condition::ItemExists])
        )
        .await
    );
    assert!(!holds(store, &it, Condition::And(vec![yes.clone(), no.clone()])).await);
    assert!(holds(store, &it, Condition::Or(vec![no.clone(), yes.clone()])).await);
    assert!(
        !holds(
            store,
            &it,
            Condition::Or(vec![no.clone(), Condition::ItemNotExists])
        )
        .await
    );
    assert!(
        holds(
            store,
            &it,
            Condition::And(vec![
                Condition::Or(vec![no.clone(), Condition::ge("n", 5)]),
                Condition::Or(vec![Condition::AttrNotExists("x".into()), no.clone()]),
            ])
        )
        .await
    );
    // Or over an absent item: ItemNotExists holds, comparisons do not.
    let other = item("C", "2", json!({}));
    assert!(
        !holds(
            store,
            &other,
            Condition::Or(vec![no.clone(), Condition::ItemExists])
        )
        .await
    );
    assert!(
        holds(
            store,
            &other,
            Condition::Or(vec![no.clone(), Condition::ItemNotExists])
        )
        .await
    );

    // Conditions on delete and update.
    let k = key("C", "1");
    assert!(matches!(
        store.delete(&k, Some(Condition::eq("n", 11))).await,
        Err(StoreError::ConditionFailed)
    ));
    assert!(matches!(
        store
            .update(
                &k,
                Update::new().add("n", 1),
                Some(Condition::cmp("n", Cmp::Gt, 10))
            )
            .await,
        Err(StoreError::ConditionFailed)
    ));
    let updated = store
        .update(
            &k,
            Update::new().add("n", 1),
            Some(Condition::cmp("n", Cmp::Le, 10)),
        )
        .await
        .unwrap();
    assert_eq!(updated["n"], json!(11));
    assert!(
        store
            .delete(&k, Some(Condition::eq("n", 11)))
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        store.delete(&k, Some(Condition::ItemExists)).await,
        Err(StoreError::ConditionFailed)
    ));
    assert_eq!(
        store
            .delete(&k, Some(Condition::ItemNotExists))
            .await
            .unwrap(),
        None
    );
}

async fn check_failed_conditions_write_nothing(store: &dyn ItemStore) {
    let k = key("F", "1");
    let original = item("F", "1", json!({"v": 1, "GSI1PK": "FG", "GSI1SK": "1"}));
    store.put(original.clone(), None).await.unwrap();

    let replacement = item("F", "1", json!({"v": 2, "GSI1PK": "FG", "GSI1SK": "2"}));
    let err = store
        .put(replacement, Some(Condition::ItemNotExists))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err}");
    assert_eq!(store.get(&k).await.unwrap(), Some(original.clone()));
    assert_eq!(
        query_all(store, Query::gsi1("FG")).await.unwrap(),
        vec![original.clone()]
    );

    let err = store
        .update(
            &k,
            Update::new().set("v", 3).set("GSI1SK", "3"),
            Some(Condition::eq("v", 0)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err}");
    assert_eq!(store.get(&k).await.unwrap(), Some(original.clone()));
    assert_eq!(
        query_all(store, Query::gsi1("FG")).await.unwrap(),
        vec![original.clone()]
    );

    let err = store
        .delete(&k, Some(Condition::eq("v", 0)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err}");
    assert_eq!(store.get(&k).await.unwrap(), Some(original));

    // A failed conditional update does not create the item.
    let missing = key("F", "missing");
    let err = store
        .update(
            &missing,
            Update::new().add("n", 1),
            Some(Condition::ItemExists),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err}");
    assert_eq!(store.get(&missing).await.unwrap(), None);
}

async fn check_update(store: &dyn ItemStore) {
    let k = key("U", "1");
    store
        .put(
            item("U", "1", json!({"a": 1, "b": "x", "c": true, "f": 1.5})),
            None,
        )
        .await
        .unwrap();

    let after = store
        .update(
            &k,
            Update::new()
                .set("b", "y")
                .set("d", json!({"n": 1}))
                .add("a", 2)
                .remove("c"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        after,
        item("U", "1", json!({"a": 3, "b": "y", "d": {"n": 1}, "f": 1.5}))
    );
    assert!(after["a"].is_i64(), "ADD keeps integers as integers");
    assert_eq!(store.get(&k).await.unwrap(), Some(after));

    // ADD of a negative number, of a fraction, and to a missing attribute.
    let after = store
        .update(
            &k,
            Update::new()
                .add("a", -5)
                .add("f", serde_json::Number::from_f64(0.25).unwrap())
                .add("new", 7),
            None,
        )
        .await
        .unwrap();
    assert_eq!(after["a"], json!(-2));
    assert!(after["a"].is_i64());
    assert_eq!(after["f"].as_f64(), Some(1.75));
    assert_eq!(after["new"], json!(7));

    // ADD on a missing item creates it with its key.
    let fresh = key("U", "counter");
    let created = store
        .update(&fresh, Update::new().add("n", 5), None)
        .await
        .unwrap();
    assert_eq!(created, item("U", "counter", json!({"n": 5})));
    assert!(created["n"].is_i64());
    assert_eq!(store.get(&fresh).await.unwrap(), Some(created));

    // SET on a missing item creates it too; REMOVE of a missing attribute is fine.
    let other = key("U", "set");
    let created = store
        .update(&other, Update::new().set("v", "w").remove("nothing"), None)
        .await
        .unwrap();
    assert_eq!(created, item("U", "set", json!({"v": "w"})));

    // An update with no action still creates a missing item (with just its key).
    let bare = store
        .update(&key("U", "bare"), Update::new(), None)
        .await
        .unwrap();
    assert_eq!(bare, item("U", "bare", json!({})));
    assert_eq!(store.get(&key("U", "bare")).await.unwrap(), Some(bare));

    // Key attributes cannot be updated; ADD needs a number.
    assert!(matches!(
        store
            .update(&k, Update::new().set("PK", "other"), None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.update(&k, Update::new().add("b", 1), None).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn check_update_many(store: &dyn ItemStore) {
    store
        .put(item("UM", "1", json!({"n": 5, "s": "x"})), None)
        .await
        .unwrap();
    store
        .update_many(vec![
            (key("UM", "1"), Update::new().add("n", 2).set("s", "y")),
            (key("UM", "2"), Update::new().add("n", 3)),
            (key("UM2", "1"), Update::new().add("m", 1).remove("gone")),
        ])
        .await
        .unwrap();
    let got = |pk: &'static str, sk: &'static str| async move {
        store.get(&key(pk, sk)).await.unwrap().unwrap()
    };
    let one = got("UM", "1").await;
    assert_eq!((one["n"].as_i64(), one["s"].as_str()), (Some(7), Some("y")));
    assert_eq!(got("UM", "2").await["n"].as_i64(), Some(3));
    assert_eq!(got("UM2", "1").await["m"].as_i64(), Some(1));
    store.update_many(Vec::new()).await.unwrap();
    // An invalid key is refused, before anything is written (locally: one transaction).
    let refused = store
        .update_many(vec![
            (key("UM", "3"), Update::new().add("n", 1)),
            (key("", "x"), Update::new().add("n", 1)),
        ])
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
}

async fn check_transactions(store: &dyn ItemStore) {
    store
        .put(item("T", "a", json!({"v": 1})), None)
        .await
        .unwrap();
    store
        .put(item("T", "c", json!({"v": 1})), None)
        .await
        .unwrap();
    store
        .put(item("T", "d", json!({"x": 5})), None)
        .await
        .unwrap();

    // Success: every kind of operation applies.
    store
        .transact(vec![
            TxOp::Put {
                item: item("T", "new", json!({"v": 1})),
                condition: Some(Condition::ItemNotExists),
            },
            TxOp::Update {
                key: key("T", "b"),
                update: Update::new().add("n", 1),
                condition: None,
            },
            TxOp::Delete {
                key: key("T", "c"),
                condition: Some(Condition::ItemExists),
            },
            TxOp::Check {
                key: key("T", "d"),
                condition: Condition::eq("x", 5),
            },
            TxOp::Update {
                key: key("T", "a"),
                update: Update::new().set("w", "z"),
                condition: Some(Condition::eq("v", 1)),
            },
        ])
        .await
        .unwrap();
    assert!(store.get(&key("T", "new")).await.unwrap().is_some());
    assert_eq!(
        store.get(&key("T", "b")).await.unwrap(),
        Some(item("T", "b", json!({"n": 1})))
    );
    assert_eq!(store.get(&key("T", "c")).await.unwrap(), None);
    assert_eq!(
        store.get(&key("T", "a")).await.unwrap(),
        Some(item("T", "a", json!({"v": 1, "w": "z"})))
    );

    let snapshot = query_all(store, Query::table("T")).await.unwrap();

    // A failing Check at index 2: nothing written, index reported.
    let err = store
        .transact(vec![
            TxOp::Put {
                item: item("T", "e", json!({})),
                condition: None,
            },
            TxOp::Update {
                key: key("T", "b"),
                update: Update::new().add("n", 1),
                condition: None,
            },
            TxOp::Check {
                key: key("T", "d"),
                condition: Condition::eq("x", 999),
            },
            TxOp::Delete {
                key: key("T", "a"),
                condition: None,
            },
        ])
        .await
        .unwrap_err();
    match err {
        StoreError::TransactionCanceled { failed } => assert_eq!(failed, vec![2]),
        other => panic!("expected TransactionCanceled, got {other}"),
    }
    assert_eq!(query_all(store, Query::table("T")).await.unwrap(), snapshot);

    // A failing Put condition at index 0.
    let err = store
        .transact(vec![
            TxOp::Put {
                item: item("T", "a", json!({"v": 9})),
                condition: Some(Condition::ItemNotExists),
            },
            TxOp::Put {
                item: item("T", "f", json!({})),
                condition: None,
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::TransactionCanceled { failed } if failed == &vec![0]),
        "{err}"
    );

    // A failing Update condition at index 1, and a failing Delete condition at index 1.
    let err = store
        .transact(vec![
            TxOp::Put {
                item: item("T", "g", json!({})),
                condition: None,
            },
            TxOp::Update {
                key: key("T", "b"),
                update: Update::new().add("n", 1),
                condition: Some(Condition::cmp("n", Cmp::Gt, 1)),
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::TransactionCanceled { failed } if failed == &vec![1]),
        "{err}"
    );
    let err = store
        .transact(vec![
            TxOp::Put {
                item: item("T", "g", json!({})),
                condition: None,
            },
            TxOp::Delete {
                key: key("T", "zz"),
                condition: Some(Condition::ItemExists),
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::TransactionCanceled { failed } if failed == &vec![1]),
        "{err}"
    );
    assert_eq!(query_all(store, Query::table("T")).await.unwrap(), snapshot);

    // A transaction that keeps a uniqueness marker and the user in step.
    store
        .transact(vec![
            TxOp::Put {
                item: item("UNIQUE#EMAIL#a@b", "UNIQUE", json!({"user_id": "1"})),
                condition: Some(Condition::ItemNotExists),
            },
            TxOp::Put {
                item: item("USER#1", "PROFILE", json!({})),
                condition: Some(Condition::ItemNotExists),
            },
        ])
        .await
        .unwrap();
    let err = store
        .transact(vec![
            TxOp::Put {
                item: item("UNIQUE#EMAIL#a@b", "UNIQUE", json!({"user_id": "2"})),
                condition: Some(Condition::ItemNotExists),
            },
            TxOp::Put {
                item: item("USER#2", "PROFILE", json!({})),
                condition: Some(Condition::ItemNotExists),
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::TransactionCanceled { failed } if failed == &vec![0]),
        "{err}"
    );
    assert_eq!(store.get(&key("USER#2", "PROFILE")).await.unwrap(), None);
}

async fn check_transaction_limits(store: &dyn ItemStore) {
    // The same item twice.
    let err = store
        .transact(vec![
            TxOp::Put {
                item: item("L", "1", json!({})),
                condition: None,
            },
            TxOp::Check {
                key: key("L", "1"),
                condition: Condition::ItemExists,
            },
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");

    // An update with no action, in a transaction.
    let err = store
        .transact(vec![TxOp::Update {
            key: key("L", "1"),
            update: Update::new(),
            condition: None,
        }])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");

    // More than 100 operations.
    let ops: Vec<TxOp> = (0..101)
        .map(|i| TxOp::Put {
            item: item("L", &format!("{i:03}"), json!({})),
            condition: None,
        })
        .collect();
    let err = store.transact(ops).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert!(
        query_all(store, Query::table("L"))
            .await
            .unwrap()
            .is_empty()
    );

    // Exactly 100 is fine.
    let ops: Vec<TxOp> = (0..100)
        .map(|i| TxOp::Put {
            item: item("L", &format!("{i:03}"), json!({})),
            condition: None,
        })
        .collect();
    store.transact(ops).await.unwrap();
    assert_eq!(
        query_all(store, Query::table("L")).await.unwrap().len(),
        100
    );
}

async fn check_concurrent_adds(store: Arc<dyn ItemStore>, atomic_backend: bool) {
    let k = key("STATS", "users");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            let k = k.clone();
            tokio::spawn(async move { store.update(&k, Update::new().add("n", 1), None).await })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for t in tasks {
        let after = t.await.unwrap().unwrap();
        seen.insert(after["n"].as_i64().unwrap());
    }
    let got = store.get(&k).await.unwrap().unwrap();
    assert!(got["n"].is_i64());
    let n = got["n"].as_i64().unwrap();
    if atomic_backend {
        assert_eq!(n, 50, "every concurrent ADD counted once");
        assert_eq!(seen, (1..=50).collect(), "each ADD saw its own total");
    } else {
        // The emulator loses concurrent updates (see `Fixture`); the store must still never
        // apply one twice, and every call succeeds.
        assert!((1..=50).contains(&n), "n = {n}");
        eprintln!("note: emulator kept {n} of 50 concurrent ADDs (it does not serialise writes)");
    }
    // Sequentially, exactly.
    for _ in 0..10 {
        store
            .update(&k, Update::new().add("n", 1), None)
            .await
            .unwrap();
    }
    assert_eq!(store.get(&k).await.unwrap().unwrap()["n"], json!(n + 10));
}

async fn check_gsi_queries(store: &dyn ItemStore) {
    let u1 = item(
        "USER#1",
        "PROFILE",
        json!({"name": "one", "GSI1PK": "USERS", "GSI1SK": "2024-01-02#1", "GSI2PK": "TEAM#x", "GSI2SK": "one"}),
    );
    let u2 = item(
        "USER#2",
        "PROFILE",
        json!({"name": "two", "GSI1PK": "USERS", "GSI1SK": "2024-01-01#2"}),
    );
    // Only half of GSI1's key: not in GSI1.
    let u3 = item(
        "USER#3",
        "PROFILE",
        json!({"name": "three", "GSI1PK": "USERS"}),
    );
    // In another GSI1 partition that shares a prefix.
    let u4 = item(
        "USER#4",
        "PROFILE",
        json!({"name": "four", "GSI1PK": "USERSX", "GSI1SK": "2024"}),
    );
    for u in [&u1, &u2, &u3, &u4] {
        store.put(u.clone(), None).await.unwrap();
    }

    let users = query_all(store, Query::gsi1("USERS")).await.unwrap();
    assert_eq!(
        users,
        vec![u2.clone(), u1.clone()],
        "full items, in GSI1SK order"
    );
    assert_eq!(
        pks(&query_all(store, Query::gsi1("USERS").reverse())
            .await
            .unwrap()),
        ["USER#1", "USER#2"]
    );
    assert_eq!(
        query_all(store, Query::gsi2("TEAM#x")).await.unwrap(),
        vec![u1.clone()]
    );
    assert!(
        query_all(store, Query::gsi2("USERS"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        query_all(store, Query::gsi1("PROFILE"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        pks(
            &query_all(store, Query::gsi1("USERS").begins_with("2024-01-02"))
                .await
                .unwrap()
        ),
        ["USER#1"]
    );

    // Updating index keys moves the item within / into / out of the index.
    store
        .update(
            &key("USER#3", "PROFILE"),
            Update::new().set("GSI1SK", "2024-01-03#3"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        pks(&query_all(store, Query::gsi1("USERS")).await.unwrap()),
        ["USER#2", "USER#1", "USER#3"]
    );
    store
        .update(
            &key("USER#1", "PROFILE"),
            Update::new().set("GSI1SK", "2023-12-31#1"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        pks(&query_all(store, Query::gsi1("USERS")).await.unwrap()),
        ["USER#1", "USER#2", "USER#3"]
    );
    store
        .update(
            &key("USER#2", "PROFILE"),
            Update::new().remove("GSI1PK"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        pks(&query_all(store, Query::gsi1("USERS")).await.unwrap()),
        ["USER#1", "USER#3"]
    );
    store
        .update(
            &key("USER#1", "PROFILE"),
            Update::new().set("GSI2PK", "TEAM#y"),
            None,
        )
        .await
        .unwrap();
    assert!(
        query_all(store, Query::gsi2("TEAM#x"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        pks(&query_all(store, Query::gsi2("TEAM#y")).await.unwrap()),
        ["USER#1"]
    );
    // The index returns the item as updated.
    let via_index = query_all(store, Query::gsi2("TEAM#y")).await.unwrap();
    assert_eq!(via_index[0]["GSI1SK"], json!("2023-12-31#1"));

    // A put without index keys, a delete: gone from the indexes.
    store
        .put(item("USER#1", "PROFILE", json!({"name": "one"})), None)
        .await
        .unwrap();
    assert!(
        query_all(store, Query::gsi2("TEAM#y"))
            .await
            .unwrap()
            .is_empty()
    );
    store.delete(&key("USER#3", "PROFILE"), None).await.unwrap();
    assert!(
        query_all(store, Query::gsi1("USERS"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        query_all(store, Query::gsi1("USERSX")).await.unwrap(),
        vec![u4]
    );

    // A transaction maintains the indexes too.
    store
        .transact(vec![
            TxOp::Put {
                item: item(
                    "USER#5",
                    "PROFILE",
                    json!({"GSI1PK": "USERS", "GSI1SK": "5"}),
                ),
                condition: None,
            },
            TxOp::Update {
                key: key("USER#2", "PROFILE"),
                update: Update::new().set("GSI1PK", "USERS"),
                condition: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        pks(&query_all(store, Query::gsi1("USERS")).await.unwrap()),
        ["USER#2", "USER#5"]
    );
}

async fn check_sort_key_conditions(store: &dyn ItemStore) {
    let all = ["a", "a#1", "a#2", "b", "b#1", "c"];
    for sk in all {
        store
            .put(item("P", sk, json!({"GSI1PK": "G", "GSI1SK": sk})), None)
            .await
            .unwrap();
        // Noise: a partition sharing the prefix, and one sorting right after.
        store
            .put(item("PA", sk, json!({"GSI1PK": "GA", "GSI1SK": sk})), None)
            .await
            .unwrap();
        store
            .put(item("O", sk, json!({"GSI1PK": "F", "GSI1SK": sk})), None)
            .await
            .unwrap();
    }
    let cases: Vec<(Option<SortKey>, Vec<&str>)> = vec![
        (None, all.to_vec()),
        (Some(SortKey::Eq("a#1".into())), vec!["a#1"]),
        (Some(SortKey::Eq("a#".into())), vec![]),
        (
            Some(SortKey::BeginsWith("a".into())),
            vec!["a", "a#1", "a#2"],
        ),
        (Some(SortKey::BeginsWith("a#".into())), vec!["a#1", "a#2"]),
        (Some(SortKey::BeginsWith("d".into())), vec![]),
        (
            Some(SortKey::Between("a#1".into(), "b".into())),
            vec!["a#1", "a#2", "b"],
        ),
        (
            Some(SortKey::Between("a#3".into(), "b#0".into())),
            vec!["b"],
        ),
        (Some(SortKey::Lt("b".into())), vec!["a", "a#1", "a#2"]),
        (Some(SortKey::Le("b".into())), vec!["a", "a#1", "a#2", "b"]),
        (Some(SortKey::Gt("b".into())), vec!["b#1", "c"]),
        (Some(SortKey::Ge("b".into())), vec!["b", "b#1", "c"]),
        (Some(SortKey::Lt("a".into())), vec![]),
        (Some(SortKey::Gt("c".into())), vec![]),
    ];
    for (sk, expected) in cases {
        for (base, what) in [(Query::table("P"), "table"), (Query::gsi1("G"), "gsi1")] {
            let q = Query {
                sk: sk.clone(),
                ..base
            };
            let got = sks(&query_all(store, q.clone()).await.unwrap());
            assert_eq!(got, expected, "{what} {sk:?}");
            let got = sks(&query_all(store, q.clone().reverse()).await.unwrap());
            let mut rev = expected.clone();
            rev.reverse();
            assert_eq!(got, rev, "{what} {sk:?} reversed");
            // The same through pages of 2, both ways.
            let got = sks(&flatten(&pages(store, q.clone(), 2).await));
            assert_eq!(got, expected, "{what} {sk:?} in pages");
            let got = sks(&flatten(&pages(store, q.reverse(), 2).await));
            assert_eq!(got, rev, "{what} {sk:?} reversed in pages");
        }
    }
}

async fn check_pagination(store: &dyn ItemStore) {
    for i in 0..25 {
        store
            .put(item("PAGE", &format!("item#{i:02}"), json!({"i": i})), None)
            .await
            .unwrap();
        store
            .put(
                item("PAGE2", &format!("item#{i:02}"), json!({"i": i})),
                None,
            )
            .await
            .unwrap();
    }
    let expected: Vec<String> = (0..25).map(|i| format!("item#{i:02}")).collect();

    let ps = pages(store, Query::table("PAGE"), 7).await;
    assert!(ps.len() >= 4, "25 items in pages of 7");
    assert_eq!(ps[0].items.len(), 7);
    assert_eq!(
        sks(&flatten(&ps)),
        expected,
        "forward: no duplicates, no gaps"
    );

    let ps = pages(store, Query::table("PAGE").reverse(), 7).await;
    let mut rev = expected.clone();
    rev.reverse();
    assert_eq!(sks(&flatten(&ps)), rev, "reverse: no duplicates, no gaps");

    // A limit larger than the partition: one page, no cursor.
    let page = store.query(Query::table("PAGE").limit(100)).await.unwrap();
    assert_eq!(page.items.len(), 25);
    assert_eq!(page.cursor, None);
    // limit None on a small partition: one page (the 1 MB page stop is checked below).
    let page = store.query(Query::table("PAGE")).await.unwrap();
    assert_eq!(page.items.len(), 25);
    assert_eq!(page.cursor, None);

    // With a sort-key condition.
    let ps = pages(
        store,
        Query::table("PAGE").sk(SortKey::Between("item#05".into(), "item#16".into())),
        5,
    )
    .await;
    assert_eq!(sks(&flatten(&ps)), expected[5..=16].to_vec());
}

/// DynamoDB's size of an item whose attributes are all strings: names plus values, in bytes.
fn string_item_size(item: &Item) -> usize {
    item.iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum()
}

/// Follows the cursor of `query` (no limit) to the end; every page must be non-empty.
async fn unlimited_pages(store: &dyn ItemStore, query: Query) -> Vec<Page> {
    let mut out = Vec::new();
    let mut q = query;
    loop {
        let page = store.query(q.clone()).await.unwrap();
        assert!(
            !page.items.is_empty() || page.cursor.is_none(),
            "empty page with a cursor"
        );
        let cursor = page.cursor.clone();
        out.push(page);
        match cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
        assert!(out.len() < 100, "pages never end");
    }
}

/// Without a limit a page stops at about 1 MB of item data, as DynamoDB's does, and returns a
/// cursor; following it returns every item exactly once (table, index, reverse and scan). With a
/// limit, a page holds that many items whatever their size.
async fn check_pages_stop_at_one_megabyte(store: &dyn ItemStore) {
    const ITEMS: usize = 30;
    const MB: usize = 1024 * 1024;
    let filler = "x".repeat(50_000);
    let mut all = Vec::new();
    for i in 0..ITEMS {
        let it = item(
            "BIG",
            &format!("item#{i:02}"),
            json!({"GSI1PK": "BIGIDX", "GSI1SK": format!("g#{i:02}"), "blob": filler}),
        );
        store.put(it.clone(), None).await.unwrap();
        all.push(it);
    }
    let item_bytes = string_item_size(&all[0]);
    let expected: Vec<String> = (0..ITEMS).map(|i| format!("item#{i:02}")).collect();
    assert!(
        item_bytes * ITEMS > MB + MB / 4,
        "the partition holds more than 1 MB"
    );

    for (name, query) in [
        ("table", Query::table("BIG")),
        ("index", Query::gsi1("BIGIDX")),
        ("reverse", Query::table("BIG").reverse()),
    ] {
        let ps = unlimited_pages(store, query).await;
        let first = &ps[0];
        assert!(
            first.cursor.is_some(),
            "{name}: the first page stops with a cursor"
        );
        assert!(
            first.items.len() < ITEMS,
            "{name}: the first page is not everything"
        );
        let bytes: usize = first.items.iter().map(string_item_size).sum();
        // Every backend: about 1 MB (moto counts 1,000,000 bytes and stops before the item that
        // would cross it; DynamoDB 1 MB; the local store stops once its items reach 1 MiB).
        assert!(
            bytes + item_bytes > 1_000_000 && bytes < MB + item_bytes,
            "{name}: first page holds {bytes} bytes"
        );
        if store.backend_name() != "dynamodb" {
            // The local store's exact rule: items up to and including the one reaching 1 MiB.
            assert!(
                bytes >= MB && bytes - item_bytes < MB,
                "{name}: {bytes} bytes"
            );
        }
        let mut got = sks(&flatten(&ps));
        if name == "reverse" {
            got.reverse();
        }
        assert_eq!(got, expected, "{name}: every item exactly once, in order");
    }

    // A limit is honoured whatever the size (the DynamoDB store reads on past 1 MB to fill it).
    let page = store.query(Query::table("BIG").limit(25)).await.unwrap();
    assert_eq!(page.items.len(), 25);
    assert!(page.cursor.is_some());

    // A scan without a limit pages the same way.
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut first = true;
    loop {
        let page = store
            .scan(Scan {
                segment: 0,
                total_segments: 1,
                limit: None,
                cursor: cursor.clone(),
            })
            .await
            .unwrap();
        if first {
            assert!(
                page.cursor.is_some(),
                "scan: the first page stops with a cursor"
            );
            assert!(page.items.len() < ITEMS);
            first = false;
        }
        seen.extend(sks(&page.items));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, expected, "scan: every item exactly once");
}

/// A projected query returns the asked attributes plus the keys and the expiry time, pages like
/// a whole-item query, and still skips expired items.
async fn check_projection(store: &dyn ItemStore) {
    for i in 0..9 {
        let mut extra = json!({
            "status": if i % 3 == 0 { "cancelled" } else { "paid" },
            "items": [{"product_id": format!("p{i}"), "qty": i}, {"product_id": "x", "qty": 1}],
            "address": {"street": "1 Main St", "lines": ["a", "b"], "geo": {"lat": 1.5}},
            "note": "a long note that nobody asked for",
            "big": i64::MAX - i,
            "flag": true,
            "nothing": null,
            "GSI2PK": "ALLPROJ",
            "GSI2SK": format!("o#{i}"),
        });
        if i == 4 {
            extra["expires_at"] = json!(past());
        }
        store
            .put(item("PROJ", &format!("o#{i}"), extra), None)
            .await
            .unwrap();
    }
    for query in [
        Query::table("PROJ").project(&["status", "items"]),
        Query::gsi2("ALLPROJ").project(&["status", "items"]),
    ] {
        let got = flatten(&pages(store, query.clone(), 4).await);
        assert_eq!(got.len(), 8, "{query:?}: the expired one is skipped");
        for it in &got {
            let mut attrs: Vec<&str> = it.keys().map(String::as_str).collect();
            attrs.sort_unstable();
            assert_eq!(
                attrs,
                ["GSI2PK", "GSI2SK", "PK", "SK", "items", "status"],
                "{query:?}"
            );
        }
        let first = got.iter().find(|i| i["SK"] == "o#1").unwrap();
        assert_eq!(first["status"], "paid");
        assert_eq!(first["items"][0]["product_id"], "p1");
        assert_eq!(first["items"][0]["qty"], 1);
    }
    // The whole item is still there for a plain read.
    let whole = store.get(&key("PROJ", "o#1")).await.unwrap().unwrap();
    assert_eq!(whole["address"]["geo"]["lat"], 1.5);
    assert_eq!(whole["big"], json!(i64::MAX - 1));
    // Asking for an attribute no item has returns the keys only.
    let page = store
        .query(Query::table("PROJ").project(&["absent"]).limit(2))
        .await
        .unwrap();
    assert!(page.items.iter().all(|i| !i.contains_key("status")));
}

async fn check_pagination_on_index(store: &dyn ItemStore) {
    // 25 items in one GSI1 partition, sort keys with ties (5 items per sort key).
    for i in 0..25 {
        let it = item(
            &format!("USER#{i:02}"),
            "PROFILE",
            json!({"GSI1PK": "GP", "GSI1SK": format!("s#{}", i % 5)}),
        );
        store.put(it, None).await.unwrap();
    }
    for reverse in [false, true] {
        let q = if reverse {
            Query::gsi1("GP").reverse()
        } else {
            Query::gsi1("GP")
        };
        let ps = pages(store, q, 7).await;
        assert!(ps.len() >= 4);
        let items = flatten(&ps);
        let got: Vec<String> = pks(&items);
        let unique: BTreeSet<&String> = got.iter().collect();
        assert_eq!(got.len(), 25, "no duplicates (reverse: {reverse})");
        assert_eq!(unique.len(), 25, "no gaps (reverse: {reverse})");
        let order: Vec<&str> = items
            .iter()
            .map(|i| i["GSI1SK"].as_str().unwrap())
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        if reverse {
            sorted.reverse();
        }
        assert_eq!(order, sorted, "index sort-key order (reverse: {reverse})");
    }
}

async fn check_batch_get(store: &dyn ItemStore) {
    for i in 0..130 {
        store
            .put(item("B", &format!("{i:03}"), json!({"i": i})), None)
            .await
            .unwrap();
    }
    let keys = vec![
        key("B", "005"),
        key("B", "missing"),
        key("B", "001"),
        key("X", "001"),
        key("B", "003"),
    ];
    let got = store.batch_get(&keys).await.unwrap();
    assert_eq!(
        sks(&got),
        ["005", "001", "003"],
        "in the order of the keys, missing skipped"
    );
    assert_eq!(got[0]["i"], json!(5));

    assert!(store.batch_get(&[]).await.unwrap().is_empty());

    // More than 100 keys (DynamoDB asks in chunks), in reverse order.
    let keys: Vec<Key> = (0..130)
        .rev()
        .map(|i| key("B", &format!("{i:03}")))
        .collect();
    let got = store.batch_get(&keys).await.unwrap();
    let expected: Vec<String> = (0..130).rev().map(|i| format!("{i:03}")).collect();
    assert_eq!(sks(&got), expected);
}

async fn check_segmented_scan(store: &dyn ItemStore) {
    let mut all = BTreeSet::new();
    for p in 0..10 {
        for s in 0..4 {
            let (pk, sk) = (format!("S#{p}"), format!("{s}"));
            store.put(item(&pk, &sk, json!({})), None).await.unwrap();
            all.insert((pk, sk));
        }
    }
    store
        .put(item("S#gone", "0", json!({"expires_at": past()})), None)
        .await
        .unwrap();

    for total in [1_u32, 3] {
        let mut seen = Vec::new();
        for segment in 0..total {
            let mut cursor = None;
            let mut rounds = 0;
            loop {
                let page = store
                    .scan(Scan {
                        segment,
                        total_segments: total,
                        limit: Some(4),
                        cursor: cursor.take(),
                    })
                    .await
                    .unwrap();
                assert!(page.items.len() <= 4);
                for it in &page.items {
                    seen.push((
                        it["PK"].as_str().unwrap().to_string(),
                        it["SK"].as_str().unwrap().to_string(),
                    ));
                }
                rounds += 1;
                assert!(rounds < 100, "scan does not end");
                match page.cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "no item in two segments or pages ({total} segments)"
        );
        assert_eq!(
            unique.into_iter().collect::<BTreeSet<_>>(),
            all,
            "union is every item ({total} segments)"
        );
    }

    // Without a limit, a segment is one page.
    let page = store
        .scan(Scan {
            segment: 0,
            total_segments: 1,
            limit: None,
            cursor: None,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 40);
}

async fn check_ttl(store: &dyn ItemStore) {
    let live = item(
        "TTL",
        "live",
        json!({"expires_at": future(), "GSI1PK": "TG", "GSI1SK": "live", "v": 1}),
    );
    let dead = item(
        "TTL",
        "dead",
        json!({"expires_at": past(), "GSI1PK": "TG", "GSI1SK": "dead", "v": 1}),
    );
    let now_dead = item("TTL", "now", json!({"expires_at": now_epoch() - 1}));
    for it in [&live, &dead, &now_dead] {
        store.put(it.clone(), None).await.unwrap();
    }

    // Absent to every reader.
    assert_eq!(store.get(&key("TTL", "dead")).await.unwrap(), None);
    assert_eq!(store.get(&key("TTL", "now")).await.unwrap(), None);
    assert_eq!(
        store.get(&key("TTL", "live")).await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(
        query_all(store, Query::table("TTL")).await.unwrap(),
        vec![live.clone()]
    );
    assert_eq!(
        query_all(store, Query::table("TTL").reverse())
            .await
            .unwrap(),
        vec![live.clone()]
    );
    assert_eq!(
        query_all(store, Query::gsi1("TG")).await.unwrap(),
        vec![live.clone()]
    );
    let got = store
        .batch_get(&[key("TTL", "dead"), key("TTL", "live"), key("TTL", "now")])
        .await
        .unwrap();
    assert_eq!(got, vec![live.clone()]);
    let scanned = store
        .scan(Scan {
            segment: 0,
            total_segments: 1,
            limit: None,
            cursor: None,
        })
        .await
        .unwrap();
    assert_eq!(scanned.items, vec![live.clone()]);

    // Absent to conditions.
    assert!(
        holds(
            store,
            &dead,
            Condition::Or(vec![Condition::eq("v", 2), Condition::ItemNotExists])
        )
        .await
    );
    store.put(dead.clone(), None).await.unwrap();
    assert!(!holds(store, &dead, Condition::ItemExists).await);
    assert!(!holds(store, &dead, Condition::AttrExists("v".into())).await);
    assert!(!holds(store, &dead, Condition::eq("v", 1)).await);
    assert!(holds(store, &dead, Condition::AttrNotExists("v".into())).await);
    assert!(!holds(store, &live, Condition::ItemNotExists).await);

    // ItemNotExists holds for an expired item: the put replaces it.
    let reborn = item("TTL", "dead", json!({"v": 2}));
    store
        .put(reborn.clone(), Some(Condition::ItemNotExists))
        .await
        .unwrap();
    assert_eq!(store.get(&key("TTL", "dead")).await.unwrap(), Some(reborn));
    assert!(query_all(store, Query::gsi1("TG")).await.unwrap().len() == 1);

    // Delete of an expired item: nothing to return; ItemExists fails on it.
    store.put(now_dead.clone(), None).await.unwrap();
    assert!(matches!(
        store
            .delete(&key("TTL", "now"), Some(Condition::ItemExists))
            .await,
        Err(StoreError::ConditionFailed)
    ));
    assert_eq!(store.delete(&key("TTL", "now"), None).await.unwrap(), None);

    // An update of an expired item starts from nothing (a new counter window).
    store
        .put(
            item(
                "LOGINFAIL#1",
                "CURRENT",
                json!({"count": 41, "stale": true, "expires_at": past()}),
            ),
            None,
        )
        .await
        .unwrap();
    let counter = store
        .update(
            &key("LOGINFAIL#1", "CURRENT"),
            Update::new().add("count", 1),
            None,
        )
        .await
        .unwrap();
    assert_eq!(counter, item("LOGINFAIL#1", "CURRENT", json!({"count": 1})));
    assert_eq!(
        store.get(&key("LOGINFAIL#1", "CURRENT")).await.unwrap(),
        Some(counter)
    );
    // ... also under a condition that holds for an absent item, and not under one that does not.
    store
        .put(
            item(
                "LOGINFAIL#2",
                "CURRENT",
                json!({"count": 41, "expires_at": past()}),
            ),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .update(
                &key("LOGINFAIL#2", "CURRENT"),
                Update::new().add("count", 1),
                Some(Condition::ItemExists)
            )
            .await,
        Err(StoreError::ConditionFailed)
    ));
    let counter = store
        .update(
            &key("LOGINFAIL#2", "CURRENT"),
            Update::new().add("count", 1).set("expires_at", future()),
            Some(Condition::AttrNotExists("count".into())),
        )
        .await
        .unwrap();
    assert_eq!(counter["count"], json!(1));

    // In a transaction: Check ItemNotExists holds, an Update starts from nothing.
    store
        .put(
            item(
                "LOGINFAIL#3",
                "CURRENT",
                json!({"count": 41, "stale": 1, "expires_at": past()}),
            ),
            None,
        )
        .await
        .unwrap();
    store
        .put(item("TTL", "dead2", json!({"expires_at": past()})), None)
        .await
        .unwrap();
    store
        .transact(vec![
            TxOp::Check {
                key: key("TTL", "dead2"),
                condition: Condition::ItemNotExists,
            },
            TxOp::Update {
                key: key("LOGINFAIL#3", "CURRENT"),
                update: Update::new().add("count", 1),
                condition: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        store.get(&key("LOGINFAIL#3", "CURRENT")).await.unwrap(),
        Some(item("LOGINFAIL#3", "CURRENT", json!({"count": 1})))
    );
    let err = store
        .transact(vec![TxOp::Check {
            key: key("TTL", "dead2"),
            condition: Condition::ItemExists,
        }])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::TransactionCanceled { failed } if failed == &vec![0]),
        "{err}"
    );
}

async fn check_ttl_pagination(store: &dyn ItemStore) {
    // Expired items between live ones: pages still resume exactly after the last item returned.
    let mut expected = Vec::new();
    for i in 0..12 {
        let sk = format!("{i:02}");
        let extra = if i % 3 == 0 {
            json!({"expires_at": past(), "GSI1PK": "EG", "GSI1SK": sk})
        } else {
            expected.push(sk.clone());
            json!({"GSI1PK": "EG", "GSI1SK": sk})
        };
        store.put(item("EXP", &sk, extra), None).await.unwrap();
    }
    for q in [Query::table("EXP"), Query::gsi1("EG")] {
        let ps = pages(store, q.clone(), 2).await;
        assert!(ps.iter().all(|p| p.items.len() <= 2));
        assert_eq!(sks(&flatten(&ps)), expected);
        let ps = pages(store, q.reverse(), 3).await;
        let mut rev = expected.clone();
        rev.reverse();
        assert_eq!(sks(&flatten(&ps)), rev);
    }
}

async fn check_invalid_requests(store: &dyn ItemStore) {
    let invalid = |r: Result<(), StoreError>, what: &str| match r {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("{what}: expected Invalid, got {other:?}"),
    };
    invalid(
        store.query(Query::table("P").limit(0)).await.map(|_| ()),
        "limit 0",
    );
    invalid(
        store
            .query(Query::table("P").cursor(Some("not a cursor!".into())))
            .await
            .map(|_| ()),
        "bad cursor",
    );
    invalid(store.put(item("", "x", json!({})), None).await, "empty PK");
    invalid(store.put(item("x", "", json!({})), None).await, "empty SK");
    let mut no_sk = item("x", "y", json!({}));
    no_sk.remove("SK");
    invalid(store.put(no_sk, None).await, "missing SK");
    invalid(
        store
            .put(item("x", "y", json!({"GSI1PK": 5, "GSI1SK": "a"})), None)
            .await,
        "numeric index key",
    );
    invalid(
        store
            .scan(Scan {
                segment: 3,
                total_segments: 3,
                limit: None,
                cursor: None,
            })
            .await
            .map(|_| ()),
        "segment out of range",
    );
    invalid(
        store
            .scan(Scan {
                segment: 0,
                total_segments: 0,
                limit: None,
                cursor: None,
            })
            .await
            .map(|_| ()),
        "zero segments",
    );

    // A cursor of one partition does not resume another.
    for i in 0..3 {
        store
            .put(item("CUR", &format!("{i}"), json!({})), None)
            .await
            .unwrap();
    }
    let page = store.query(Query::table("CUR").limit(1)).await.unwrap();
    let cursor = page.cursor.expect("more items follow");
    invalid(
        store
            .query(Query::table("OTHER").cursor(Some(cursor.clone())))
            .await
            .map(|_| ()),
        "foreign cursor",
    );
    // ... nor an index query.
    invalid(
        store
            .query(Query::gsi1("CUR").cursor(Some(cursor)))
            .await
            .map(|_| ()),
        "table cursor on an index",
    );
}

async fn check_ping(store: &dyn ItemStore) {
    store.ping().await.unwrap();
    assert!(["memory", "local", "dynamodb"].contains(&store.backend_name()));
}

// ---- backend-specific -----------------------------------------------------------------------

#[tokio::test]
async fn backend_names() {
    assert_eq!(LocalStore::in_memory().unwrap().backend_name(), "memory");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        LocalStore::open(&dir.path().join("s.redb"))
            .unwrap()
            .backend_name(),
        "local"
    );
}

#[tokio::test]
async fn local_file_reopens_with_everything_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("store.redb");
    {
        let store = LocalStore::open(&path).unwrap();
        for i in 0..20 {
            let it = item(
                &format!("USER#{i}"),
                "PROFILE",
                json!({"i": i, "GSI1PK": "USERS", "GSI1SK": format!("{i:02}")}),
            );
            store.put(it, None).await.unwrap();
        }
        store
            .update(&key("STATS", "users"), Update::new().add("n", 20), None)
            .await
            .unwrap();
        store
            .transact(vec![
                TxOp::Delete {
                    key: key("USER#0", "PROFILE"),
                    condition: None,
                },
                TxOp::Put {
                    item: item("MARK", "1", json!({})),
                    condition: Some(Condition::ItemNotExists),
                },
            ])
            .await
            .unwrap();
        // A failed write leaves nothing behind either.
        let _ = store
            .put(
                item("MARK", "1", json!({"x": 1})),
                Some(Condition::ItemNotExists),
            )
            .await;
    }
    let store = LocalStore::open(&path).unwrap();
    assert_eq!(store.get(&key("USER#0", "PROFILE")).await.unwrap(), None);
    assert_eq!(
        store.get(&key("USER#7", "PROFILE")).await.unwrap().unwrap()["i"],
        json!(7)
    );
    assert_eq!(
        store.get(&key("STATS", "users")).await.unwrap().unwrap()["n"],
        json!(20)
    );
    assert_eq!(
        store.get(&key("MARK", "1")).await.unwrap(),
        Some(item("MARK", "1", json!({})))
    );
    let users = query_all(&store, Query::gsi1("USERS")).await.unwrap();
    assert_eq!(users.len(), 19);
    assert_eq!(users[0]["PK"], json!("USER#1"));
}

#[tokio::test]
async fn local_purge_removes_only_expired_items() {
    let store = LocalStore::in_memory().unwrap();
    store
        .put(
            item(
                "P",
                "dead",
                json!({"expires_at": past(), "GSI1PK": "G", "GSI1SK": "1"}),
            ),
            None,
        )
        .await
        .unwrap();
    store
        .put(item("P", "live", json!({"expires_at": future()})), None)
        .await
        .unwrap();
    store
        .put(item("P", "plain", json!({})), None)
        .await
        .unwrap();
    assert_eq!(store.purge_expired().unwrap(), 1);
    assert_eq!(store.purge_expired().unwrap(), 0);
    assert_eq!(
        sks(&query_all(&store, Query::table("P")).await.unwrap()),
        ["live", "plain"]
    );
    // The same sweep through the trait object the local server holds.
    store
        .put(item("P", "dead2", json!({"expires_at": past()})), None)
        .await
        .unwrap();
    let as_dyn: &dyn ItemStore = &store;
    assert_eq!(as_dyn.purge_expired().await.unwrap(), 1);
    assert_eq!(as_dyn.purge_expired().await.unwrap(), 0);
}

#[test]
fn index_key_attrs_are_the_documented_ones() {
    assert_eq!(Index::Gsi1.key_attrs(), ("GSI1PK", "GSI1SK"));
    assert_eq!(Index::Gsi2.key_attrs(), ("GSI2PK", "GSI2SK"));
}

// ---- the explanation cache (domain::explanations) on each backend ----------------------------

/// A queue that counts what it is given.
#[derive(Default)]
struct CountingQueue(std::sync::Mutex<usize>);

#[async_trait::async_trait]
impl shared::domain::explanations::queue::FillQueue for CountingQueue {
    async fn enqueue(&self, requests: Vec<shared::domain::explanations::ExplainRequest>) {
        *self.0.lock().unwrap() += requests.len();
    }
    fn name(&self) -> &'static str {
        "counting"
    }
}

/// The fill writes (local backend: the templates) what the next response reads in one batch
/// get; an expired entry is a miss, queued again.
async fn check_explanation_cache(store: Arc<dyn ItemStore>, _atomic: bool) {
    use shared::domain::explanations::{ExplainRequest, Explainer, fill};
    use shared::reco::algorithm::Algorithm;
    use shared::reco::explain::cache_id;
    let requests: Vec<ExplainRequest> = (0..30)
        .map(|i| ExplainRequest {
            algorithm: if i % 2 == 0 {
                Algorithm::Fbt
            } else {
                Algorithm::Trending
            },
            reason: "some reason".into(),
            product_id: format!("prod-{i}"),
            product_name: format!("Product {i}"),
            category: Some("Électronique & TV".into()),
            context: (i % 2 == 0).then(|| format!("Anchor {i}")),
        })
        .collect();
    let report = fill::fill(
        store.as_ref(),
        &shared::ai::local::LocalText::new(),
        &requests,
        fill::FillLimits::default(),
    )
    .await;
    assert_eq!(report.written, 30);
    let queue = Arc::new(CountingQueue::default());
    let explainer = Explainer::with_queue(store.clone(), true, queue.clone());
    let got = explainer.explain(&requests).await;
    assert_eq!(got[0], "Frequently bought with Anchor 0");
    assert_eq!(got[1], "Currently trending in Électronique & TV");
    assert_eq!(*queue.0.lock().unwrap(), 0);
    // Expire one: a miss, queued.
    let key = shared::store::keys::explanation(&cache_id(&requests[3]));
    let mut expired = store.get(&key).await.unwrap().expect("cached");
    expired.insert("expires_at".into(), json!(now_epoch() - 1));
    store.put(expired, None).await.unwrap();
    explainer.explain(&requests).await;
    assert_eq!(*queue.0.lock().unwrap(), 1);
}
