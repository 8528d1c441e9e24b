//! The three store backends a domain's store tests run on, the way `store_contract.rs` runs
//! its checks (arrow-rs `object_store`'s shared backend suite is the model): `memory`,
//! `local_file` (a redb file in a temporary folder), and `dynamodb` on the AWS emulator at
//! `TEST_AWS_ENDPOINT` (a fresh table per test; ignored unless run with `--include-ignored`).
//!
//! ```ignore
//! shared::store_backends!(check_one, check_two);
//! async fn check_one(store: Arc<dyn ItemStore>) { ... }
//! ```
//! makes `memory::check_one`, `local_file::check_one`, `dynamodb::check_one`, ... tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use crate::store::{ItemStore, dynamo::DynamoStore, local::LocalStore};

/// A store under test, with the folder that holds its file (removed on drop).
pub struct StoreFixture {
    pub store: Arc<dyn ItemStore>,
    _dir: Option<tempfile::TempDir>,
}

/// The in-memory store.
pub async fn memory() -> StoreFixture {
    StoreFixture {
        store: Arc::new(LocalStore::in_memory().unwrap()),
        _dir: None,
    }
}

/// The embedded store on a file in a temporary folder.
pub async fn file() -> StoreFixture {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&dir.path().join("store.redb")).unwrap();
    StoreFixture {
        store: Arc::new(store),
        _dir: Some(dir),
    }
}

/// DynamoDB on the emulator at `TEST_AWS_ENDPOINT`, on a new table.
pub async fn dynamo() -> StoreFixture {
    let endpoint = std::env::var("TEST_AWS_ENDPOINT")
        .expect("TEST_AWS_ENDPOINT: the DynamoDB checks need the AWS emulator");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test",
            "test",
            None,
            None,
            "store-tests",
        ))
        .load()
        .await;
    let store = DynamoStore::new(&sdk, &format!("tests-{}", uuid::Uuid::new_v4()));
    store.create_table_if_missing().await.unwrap();
    StoreFixture {
        store: Arc::new(store),
        _dir: None,
    }
}

/// One test per check and backend: see the module docs. Each check is an
/// `async fn(Arc<dyn ItemStore>)` in the calling module.
#[macro_export]
macro_rules! store_backends {
    ($($check:ident),* $(,)?) => {
        $crate::store_backends!(@backend memory, memory, [], $($check),*);
        $crate::store_backends!(@backend local_file, file, [], $($check),*);
        $crate::store_backends!(
            @backend dynamodb, dynamo,
            [#[ignore = "needs the AWS emulator: see docs/development.md"]],
            $($check),*
        );
    };
    (@backend $module:ident, $make:ident, $attrs:tt, $($check:ident),*) => {
        mod $module {
            $( $crate::store_backends!(@test $make, $attrs, $check); )*
        }
    };
    (@test $make:ident, [$(#[$attr:meta])*], $check:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $check() {
            let fixture = $crate::testkit::stores::$make().await;
            super::$check(fixture.store.clone()).await;
        }
    };
}
