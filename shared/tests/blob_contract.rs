//! One contract suite for every [`BlobStore`]: each check is written once as
//! `async fn check_xxx(store: &dyn BlobStore)` and instantiated per backend by `contract!`.
//!
//! - `fs`: [`LocalBlobs`] in a temp folder, its signed-URL [`router`] served by a real axum
//!   server so signed URLs are fetched over HTTP;
//! - `memory`: [`LocalBlobs`] in memory, served the same way (and nothing written to disk);
//! - `s3`: [`S3Blobs`] against the AWS emulator named by `TEST_AWS_ENDPOINT` (ignored by default:
//!   run `tests/run.sh`, or `TEST_AWS_ENDPOINT=http://127.0.0.1:5005 cargo test -p shared --test
//!   blob_contract -- --include-ignored`), one fresh bucket per test.
//!
//! Signature checks (expiry, tampering, size cap, content type) are local only: the emulator does
//! not verify signatures. The once-only upload (a second conditional write fails) is checked on
//! every backend: moto 5.2.5 implements `If-None-Match: *` on `PutObject` (412).

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use shared::blobs::{BlobError, BlobStore, local::LocalBlobs, s3::S3Blobs};
use shared::http::blob_urls::router;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const SECRET: &[u8] = b"blob-contract-test-secret";

/// A store plus whatever must live as long as it (temp folder, HTTP server).
struct Fixture {
    store: Arc<dyn BlobStore>,
    _dir: Option<tempfile::TempDir>,
    server: Option<JoinHandle<()>>,
}

impl Fixture {
    fn store(&self) -> &dyn BlobStore {
        self.store.as_ref()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A local store with its signed-URL router served on 127.0.0.1 under `/blobs`.
struct FsFixture {
    blobs: LocalBlobs,
    base: String,
    dir: tempfile::TempDir,
    server: JoinHandle<()>,
}

async fn serve_fs(dir: tempfile::TempDir, secret: &[u8]) -> FsFixture {
    let root = dir.path().join("blobs");
    serve_local(dir, |base| LocalBlobs::on_disk(root, base, secret)).await
}

/// Serves the store `make(base_url)` builds under `/blobs` on a free port.
async fn serve_local(
    dir: tempfile::TempDir,
    make: impl FnOnce(String) -> Result<LocalBlobs, BlobError>,
) -> FsFixture {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let base = format!("http://{addr}");
    let blobs = make(format!("{base}/blobs")).expect("local blobs");
    let app = axum::Router::new().nest("/blobs", router(blobs.clone()));
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    FsFixture {
        blobs,
        base,
        dir,
        server,
    }
}

async fn fs_fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = serve_fs(dir, SECRET).await;
    Fixture {
        store: Arc::new(f.blobs),
        _dir: Some(f.dir),
        server: Some(f.server),
    }
}

/// The in-memory store (`local/tests/memory_mode.rs` checks that it writes nothing to disk).
async fn memory_fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = serve_local(dir, |base| LocalBlobs::in_memory(base, SECRET)).await;
    Fixture {
        store: Arc::new(f.blobs),
        _dir: Some(f.dir),
        server: Some(f.server),
    }
}

async fn s3_store() -> S3Blobs {
    let endpoint = std::env::var("TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "TEST_AWS_ENDPOINT is not set: the S3 contract tests need the AWS emulator \
             (run tests/run.sh, or start moto and set TEST_AWS_ENDPOINT=http://127.0.0.1:5005)"
        )
    });
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test",
            "test",
            None,
            None,
            "blob-contract",
        ))
        .load()
        .await;
    let bucket = format!("blob-contract-{}", uuid::Uuid::new_v4().simple());
    let store = S3Blobs::new(&sdk, &bucket, true);
    store
        .create_bucket_if_missing()
        .await
        .expect("create bucket");
    // Idempotent.
    store
        .create_bucket_if_missing()
        .await
        .expect("create bucket again");
    store
}

async fn s3_fixture() -> Fixture {
    Fixture {
        store: Arc::new(s3_store().await),
        _dir: None,
        server: None,
    }
}

/// Instantiates every check for one backend: `contract!(module, fixture_fn, #[attrs]...)`.
macro_rules! contract {
    ($backend:ident, $fixture:ident $(, #[$attr:meta])*) => {
        mod $backend {
            contract!(@checks $fixture, [$(#[$attr])*],
                check_round_trip,
                check_get_missing,
                check_read_prefix,
                check_delete_missing,
                check_list_prefix_in_order,
                check_list_key_and_folder_with_same_name,
                check_invalid_keys,
                check_overwrite,
                check_empty_body,
                check_unusual_key_characters,
                check_signed_get_url,
                check_signed_put_url,
                check_signed_put_url_works_once,
                check_put_new_refuses_a_taken_key,
                check_signed_put_large_body,
                check_signed_url_expiry_limit,
                check_backend_name,
            );
        }
    };
    (@checks $fixture:ident, $attrs:tt, $($check:ident),* $(,)?) => {
        $( contract!(@one $fixture, $attrs, $check); )*
    };
    (@one $fixture:ident, [$($attr:tt)*], $check:ident) => {
        $($attr)*
        #[tokio::test]
        async fn $check() {
            let fixture = super::$fixture().await;
            super::$check(fixture.store()).await;
        }
    };
}

contract!(fs, fs_fixture);
contract!(memory, memory_fixture);
contract!(s3, s3_fixture, #[ignore = "needs the AWS emulator: run tests/run.sh"]);

// ---------------------------------------------------------------------------------------------
// Contract checks
// ---------------------------------------------------------------------------------------------

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

async fn check_round_trip(store: &dyn BlobStore) {
    let key = "round-trip/hello.txt";
    store
        .put(
            key,
            Bytes::from_static(b"hello world"),
            "text/plain; charset=utf-8",
        )
        .await
        .expect("put");

    let meta = store.head(key).await.expect("head").expect("present");
    assert_eq!(meta.key, key);
    assert_eq!(meta.size, 11);
    assert_eq!(meta.content_type, "text/plain; charset=utf-8");
    let modified = meta.last_modified.as_deref().expect("last_modified");
    chrono::DateTime::parse_from_rfc3339(modified).expect("last_modified is RFC 3339");

    let blob = store.get(key).await.expect("get");
    assert_eq!(blob.body, Bytes::from_static(b"hello world"));
    assert_eq!(blob.meta.key, key);
    assert_eq!(blob.meta.size, 11);
    assert_eq!(blob.meta.content_type, "text/plain; charset=utf-8");

    store.delete(key).await.expect("delete");
    assert!(store.head(key).await.expect("head after delete").is_none());
    assert!(matches!(store.get(key).await, Err(BlobError::NotFound)));
    assert!(store.list("round-trip/").await.expect("list").is_empty());
}

async fn check_get_missing(store: &dyn BlobStore) {
    assert!(matches!(
        store.get("missing/nothing.bin").await,
        Err(BlobError::NotFound)
    ));
    assert!(
        store
            .head("missing/nothing.bin")
            .await
            .expect("head")
            .is_none()
    );
    assert!(store.list("missing/").await.expect("list").is_empty());
}

async fn check_read_prefix(store: &dyn BlobStore) {
    let key = "prefix/clip.mp4";
    store
        .put(key, Bytes::from_static(b"0123456789"), "video/mp4")
        .await
        .expect("put");
    assert_eq!(
        store.read_prefix(key, 4).await.expect("prefix"),
        &b"0123"[..]
    );
    assert_eq!(
        store
            .read_prefix(key, 100)
            .await
            .expect("longer than the blob"),
        &b"0123456789"[..]
    );
    assert!(store.read_prefix(key, 0).await.expect("zero").is_empty());
    store
        .put("prefix/empty", Bytes::new(), "video/mp4")
        .await
        .expect("put empty");
    assert!(
        store
            .read_prefix("prefix/empty", 8)
            .await
            .expect("empty blob")
            .is_empty()
    );
    assert!(matches!(
        store.read_prefix("prefix/missing", 8).await,
        Err(BlobError::NotFound)
    ));
}

async fn check_delete_missing(store: &dyn BlobStore) {
    store
        .delete("missing/nothing.bin")
        .await
        .expect("deleting an absent blob succeeds");
    store
        .delete("never/created/folder/x")
        .await
        .expect("deleting under an absent folder succeeds");
}

async fn check_list_prefix_in_order(store: &dyn BlobStore) {
    // Written out of order, with neighbours that must not be listed.
    for (key, body) in [
        ("list/b", "bb"),
        ("list/a/2", "a2"),
        ("listing/x", "x"),
        ("list/c.txt", "ccc"),
        ("other/list/y", "y"),
        ("list/a/1", "1"),
        ("list/a/10", "10"),
    ] {
        store
            .put(key, Bytes::from(body), "application/x-test")
            .await
            .expect("put");
    }

    let listed = store.list("list/").await.expect("list");
    let keys: Vec<&str> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(
        keys,
        ["list/a/1", "list/a/10", "list/a/2", "list/b", "list/c.txt"]
    );
    let b = listed.iter().find(|m| m.key == "list/b").expect("list/b");
    assert_eq!(b.size, 2);
    assert_eq!(b.content_type, "application/x-test");

    // A prefix need not end at a folder boundary.
    let keys: Vec<String> = store
        .list("list")
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(
        keys,
        [
            "list/a/1",
            "list/a/10",
            "list/a/2",
            "list/b",
            "list/c.txt",
            "listing/x"
        ]
    );
    let keys: Vec<String> = store
        .list("list/a/1")
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["list/a/1", "list/a/10"]);

    // Everything, in key order.
    let keys: Vec<String> = store
        .list("")
        .await
        .expect("list all")
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(
        keys,
        [
            "list/a/1",
            "list/a/10",
            "list/a/2",
            "list/b",
            "list/c.txt",
            "listing/x",
            "other/list/y"
        ]
    );

    assert!(store.list("nothing/").await.expect("list").is_empty());
    assert!(
        store
            .list("../")
            .await
            .expect("list traversal prefix")
            .is_empty()
    );
}

/// `a/b` and `a/b/c` are both valid keys (S3 has no folders).
async fn check_list_key_and_folder_with_same_name(store: &dyn BlobStore) {
    store
        .put("same/name", Bytes::from_static(b"file"), "text/plain")
        .await
        .expect("put file");
    store
        .put(
            "same/name/inner",
            Bytes::from_static(b"inner"),
            "text/plain",
        )
        .await
        .expect("put inner");
    assert_eq!(
        store.get("same/name").await.expect("get").body,
        Bytes::from_static(b"file")
    );
    assert_eq!(
        store.get("same/name/inner").await.expect("get").body,
        Bytes::from_static(b"inner")
    );
    let keys: Vec<String> = store
        .list("same/")
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["same/name", "same/name/inner"]);
    store.delete("same/name").await.expect("delete");
    assert_eq!(
        store
            .get("same/name/inner")
            .await
            .expect("still there")
            .body,
        Bytes::from_static(b"inner")
    );
}

async fn check_invalid_keys(store: &dyn BlobStore) {
    let long = "k".repeat(1025);
    let bad = [
        "",
        "/absolute",
        "..",
        "../escape",
        "a/../../escape",
        "./a",
        "a/./b",
        "a//b",
        "trailing/",
        "back\\slash",
        "new\nline",
        "nul\0byte",
        long.as_str(),
    ];
    let ttl = Duration::from_secs(60);
    for key in bad {
        let is_invalid = |r: &Result<_, BlobError>| matches!(r, Err(BlobError::Invalid(_)));
        assert!(
            is_invalid(&store.put(key, Bytes::from_static(b"x"), "text/plain").await),
            "put {key:?}"
        );
        assert!(is_invalid(&store.get(key).await.map(|_| ())), "get {key:?}");
        assert!(
            is_invalid(&store.head(key).await.map(|_| ())),
            "head {key:?}"
        );
        assert!(is_invalid(&store.delete(key).await), "delete {key:?}");
        assert!(
            is_invalid(&store.signed_get_url(key, ttl).await.map(|_| ())),
            "signed get {key:?}"
        );
        assert!(
            is_invalid(
                &store
                    .signed_put_url(key, "text/plain", 10, ttl)
                    .await
                    .map(|_| ())
            ),
            "signed put {key:?}"
        );
    }
    assert!(
        store.list("").await.expect("list").is_empty(),
        "nothing was stored"
    );
}

async fn check_overwrite(store: &dyn BlobStore) {
    let key = "over/write";
    store
        .put(key, Bytes::from_static(b"first version"), "text/plain")
        .await
        .expect("put 1");
    store
        .put(key, Bytes::from_static(b"{\"v\":2}"), "application/json")
        .await
        .expect("put 2");
    let blob = store.get(key).await.expect("get");
    assert_eq!(blob.body, Bytes::from_static(b"{\"v\":2}"));
    assert_eq!(blob.meta.content_type, "application/json");
    assert_eq!(blob.meta.size, 7);
    let listed = store.list("over/").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, 7);
    assert_eq!(listed[0].content_type, "application/json");
}

async fn check_empty_body(store: &dyn BlobStore) {
    store
        .put("empty/blob", Bytes::new(), "application/octet-stream")
        .await
        .expect("put");
    let blob = store.get("empty/blob").await.expect("get");
    assert!(blob.body.is_empty());
    assert_eq!(blob.meta.size, 0);
    assert_eq!(
        store
            .head("empty/blob")
            .await
            .expect("head")
            .expect("present")
            .size,
        0
    );
}

async fn check_unusual_key_characters(store: &dyn BlobStore) {
    let keys = [
        "odd/Upper Case and spaces.txt",
        "odd/plus+percent%25&amp=eq",
        "odd/ünïcødé/文件.bin",
        "odd/...dots",
        "odd/tilde~blob",
    ];
    for key in keys {
        store
            .put(key, Bytes::from(key.to_string()), "text/plain")
            .await
            .expect("put");
    }
    for key in keys {
        assert_eq!(
            store.get(key).await.expect("get").body,
            Bytes::from(key.to_string()),
            "{key}"
        );
    }
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort();
    let listed: Vec<String> = store
        .list("odd/")
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, expected);
    // Case matters: `odd/upper case and spaces.txt` is another key.
    assert!(
        store
            .head("odd/upper case and spaces.txt")
            .await
            .expect("head")
            .is_none()
    );

    let client = http();
    for key in keys {
        let url = store
            .signed_get_url(key, Duration::from_secs(60))
            .await
            .expect("signed url");
        let resp = client.get(&url).send().await.expect("GET");
        assert_eq!(resp.status(), 200, "{key}: {url}");
        assert_eq!(
            resp.bytes().await.expect("body"),
            Bytes::from(key.to_string())
        );
    }
}

async fn check_signed_get_url(store: &dyn BlobStore) {
    let key = "signed/get/banner.png";
    let body = Bytes::from((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>());
    store
        .put(key, body.clone(), "image/png")
        .await
        .expect("put");
    let url = store
        .signed_get_url(key, Duration::from_secs(300))
        .await
        .expect("signed url");
    assert!(url.starts_with("http"), "{url}");

    let resp = http().get(&url).send().await.expect("GET");
    assert_eq!(resp.status(), 200);
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(resp.content_length(), Some(70_000));
    assert_eq!(resp.bytes().await.expect("body"), body);

    // A URL can be made for an absent blob; fetching it is a 404.
    let url = store
        .signed_get_url("signed/get/absent", Duration::from_secs(60))
        .await
        .expect("url");
    assert_eq!(http().get(&url).send().await.expect("GET").status(), 404);
}

async fn upload(upload: &shared::blobs::SignedUpload, body: Vec<u8>) -> reqwest::Response {
    assert_eq!(upload.method, "PUT");
    let mut req = http().put(&upload.url).body(body);
    for (name, value) in &upload.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    req.send().await.expect("PUT")
}

async fn check_signed_put_url(store: &dyn BlobStore) {
    let key = "signed/put/video.mp4";
    let before = chrono::Utc::now().timestamp();
    let up = store
        .signed_put_url(key, "video/mp4", 1024, Duration::from_secs(600))
        .await
        .expect("signed put");
    assert_eq!(up.method, "PUT");
    assert_eq!(up.max_size, 1024);
    assert!(
        up.expires_at > before && up.expires_at <= before + 601,
        "expires_at {}",
        up.expires_at
    );
    assert!(
        up.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v == "video/mp4"),
        "{:?}",
        up.headers
    );
    assert!(
        store.head(key).await.expect("head").is_none(),
        "signing stores nothing"
    );

    let resp = upload(&up, b"not really a video".to_vec()).await;
    assert!(resp.status().is_success(), "upload: {}", resp.status());

    let blob = store.get(key).await.expect("get after upload");
    assert_eq!(blob.body, Bytes::from_static(b"not really a video"));
    assert_eq!(blob.meta.content_type, "video/mp4");
    assert_eq!(blob.meta.size, 18);
}

/// An upload URL works once: replaying it with other bytes fails (S3: 412 because the client
/// sends the signed `If-None-Match: *` listed in the headers; local: the URL server answers 412
/// with the JSON error shape, whatever the client sends) and the first upload stays.
async fn check_signed_put_url_works_once(store: &dyn BlobStore) {
    let key = "once/video.mp4";
    let up = store
        .signed_put_url(key, "video/mp4", 1024, Duration::from_secs(600))
        .await
        .expect("signed put");
    if store.backend_name() == "s3" {
        // S3 enforces it only when the client sends the signed header; the local server
        // enforces the rule itself.
        assert!(
            up.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("if-none-match") && v == "*"),
            "{:?}",
            up.headers
        );
    }
    let first = upload(&up, b"the original".to_vec()).await;
    assert!(first.status().is_success(), "upload: {}", first.status());
    let etag = store.head(key).await.expect("head").expect("stored").etag;
    assert!(etag.is_some(), "the store reports an entity tag");

    let replay = upload(&up, b"<html>replaced</html>".to_vec()).await;
    assert_eq!(replay.status(), 412, "a replayed upload URL is refused");
    if store.backend_name() != "s3" {
        let body: serde_json::Value = replay.json().await.expect("JSON error");
        assert_eq!(body["error_code"], "ALREADY_UPLOADED", "{body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    let blob = store.get(key).await.expect("get");
    assert_eq!(blob.body, Bytes::from_static(b"the original"));
    assert_eq!(blob.meta.etag, etag);
}

/// `put_new` writes a free key and refuses a taken one, atomically, leaving the first body.
async fn check_put_new_refuses_a_taken_key(store: &dyn BlobStore) {
    let key = "new/only";
    let meta = store
        .put_new(key, Bytes::from_static(b"first"), "text/plain")
        .await
        .expect("first put_new");
    assert_eq!(meta.size, 5);
    assert!(matches!(
        store
            .put_new(key, Bytes::from_static(b"second"), "text/plain")
            .await,
        Err(BlobError::AlreadyExists)
    ));
    assert_eq!(
        store.get(key).await.expect("get").body,
        Bytes::from_static(b"first")
    );
    // Different bytes, different tag; a plain put still replaces.
    store
        .put(key, Bytes::from_static(b"third"), "text/plain")
        .await
        .expect("put");
    let now = store.head(key).await.expect("head").expect("present");
    if let (Some(a), Some(b)) = (&meta.etag, &now.etag) {
        assert_ne!(a, b, "a new body gets a new entity tag");
    }
    // Concurrent conditional writes: exactly one wins.
    let results = futures::future::join_all(
        (0..8).map(|i| store.put_new("new/race", Bytes::from(format!("writer {i}")), "text/plain")),
    )
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(BlobError::AlreadyExists)))
    );
}

/// Above axum's default 2 MB body limit and Lambda's 6 MB payload cap.
async fn check_signed_put_large_body(store: &dyn BlobStore) {
    let key = "signed/put/large.bin";
    let size = 7 * 1024 * 1024;
    let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let up = store
        .signed_put_url(
            key,
            "application/octet-stream",
            50 * 1024 * 1024,
            Duration::from_secs(600),
        )
        .await
        .expect("signed put");
    let resp = upload(&up, body.clone()).await;
    assert!(resp.status().is_success(), "upload: {}", resp.status());
    let meta = store.head(key).await.expect("head").expect("present");
    assert_eq!(meta.size, size as u64);
    assert_eq!(store.get(key).await.expect("get").body, Bytes::from(body));
}

async fn check_signed_url_expiry_limit(store: &dyn BlobStore) {
    let eight_days = Duration::from_secs(8 * 24 * 3600);
    let week = Duration::from_secs(7 * 24 * 3600);
    assert!(matches!(
        store.signed_get_url("k/x", eight_days).await,
        Err(BlobError::Invalid(_))
    ));
    assert!(matches!(
        store
            .signed_put_url("k/x", "text/plain", 1, eight_days)
            .await,
        Err(BlobError::Invalid(_))
    ));
    store
        .signed_get_url("k/x", week)
        .await
        .expect("a week is allowed");
    assert!(matches!(
        store.signed_put_url("k/x", "bad\ntype", 1, week).await,
        Err(BlobError::Invalid(_))
    ));
}

async fn check_backend_name(store: &dyn BlobStore) {
    assert!(["local", "memory", "s3"].contains(&store.backend_name()));
}

/// S3 only: the presigned PUT signs the content type (S3 then refuses another one) and
/// `If-None-Match: *` (so the URL works once), lists both as headers the client must send, and
/// carries no checksum of an empty body.
#[tokio::test]
#[ignore = "needs the AWS emulator: run tests/run.sh"]
async fn s3_presigned_put_signs_the_content_type_and_if_none_match() {
    let store = s3_store().await;
    let up = store
        .signed_put_url("k/v.mp4", "video/mp4", 10, Duration::from_secs(60))
        .await
        .expect("url");
    assert!(
        up.url
            .contains("X-Amz-SignedHeaders=content-type%3Bhost%3Bif-none-match"),
        "{}",
        up.url
    );
    assert!(
        !up.url.to_ascii_lowercase().contains("checksum"),
        "{}",
        up.url
    );
    let mut headers = up.headers.clone();
    headers.sort();
    assert_eq!(
        headers,
        [
            ("content-type".to_string(), "video/mp4".to_string()),
            ("if-none-match".to_string(), "*".to_string())
        ]
    );
    assert_eq!(up.max_size, 10);
}

// ---------------------------------------------------------------------------------------------
// Local signed-URL server: signature enforcement (the emulator does not verify signatures)
// ---------------------------------------------------------------------------------------------

mod fs_signatures {
    use super::*;

    async fn fixture() -> FsFixture {
        serve_fs(tempfile::tempdir().expect("tempdir"), SECRET).await
    }

    async fn error_of(resp: reqwest::Response) -> (u16, String) {
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.expect("JSON error body");
        assert!(body["detail"].is_string(), "{body}");
        (
            status,
            body["error_code"].as_str().expect("error_code").to_string(),
        )
    }

    /// Replaces the value of query parameter `name` in `url`.
    fn with_param(url: &str, name: &str, value: &str) -> String {
        let (base, query) = url.split_once('?').expect("query");
        let query: Vec<String> = query
            .split('&')
            .map(|kv| {
                if kv.starts_with(&format!("{name}=")) {
                    format!("{name}={value}")
                } else {
                    kv.to_string()
                }
            })
            .collect();
        format!("{base}?{}", query.join("&"))
    }

    fn without_param(url: &str, name: &str) -> String {
        let (base, query) = url.split_once('?').expect("query");
        let query: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.starts_with(&format!("{name}=")))
            .collect();
        format!("{base}?{}", query.join("&"))
    }

    fn flip_last_hex(sig_url: &str) -> String {
        let mut s = sig_url.to_string();
        let last = s.pop().expect("char");
        s.push(if last == '0' { '1' } else { '0' });
        s
    }

    #[tokio::test]
    async fn expired_urls_are_refused() {
        let f = fixture().await;
        f.blobs
            .put("exp/a", Bytes::from_static(b"a"), "text/plain")
            .await
            .expect("put");
        let url = f
            .blobs
            .signed_get_url("exp/a", Duration::ZERO)
            .await
            .expect("url");
        assert_eq!(
            error_of(http().get(&url).send().await.expect("GET")).await,
            (403, "SIGNATURE_EXPIRED".into())
        );

        let up = f
            .blobs
            .signed_put_url("exp/b", "text/plain", 10, Duration::ZERO)
            .await
            .expect("url");
        assert_eq!(
            error_of(upload(&up, b"b".to_vec()).await).await,
            (403, "SIGNATURE_EXPIRED".into())
        );
        assert!(f.blobs.head("exp/b").await.expect("head").is_none());

        // Pushing the expiry forward breaks the signature.
        let later = chrono::Utc::now().timestamp() + 3600;
        let url = with_param(&url, "expires", &later.to_string());
        assert_eq!(
            error_of(http().get(&url).send().await.expect("GET")).await,
            (403, "SIGNATURE_INVALID".into())
        );
    }

    #[tokio::test]
    async fn tampered_or_missing_signatures_are_refused() {
        let f = fixture().await;
        f.blobs
            .put("sig/a", Bytes::from_static(b"a"), "text/plain")
            .await
            .expect("put");
        f.blobs
            .put("sig/b", Bytes::from_static(b"b"), "text/plain")
            .await
            .expect("put");
        let url = f
            .blobs
            .signed_get_url("sig/a", Duration::from_secs(60))
            .await
            .expect("url");
        assert_eq!(http().get(&url).send().await.expect("GET").status(), 200);

        let cases = [
            flip_last_hex(&url),
            with_param(&url, "sig", "zz-not-hex"),
            with_param(&url, "sig", ""),
            with_param(&url, "expires", "soon"),
            without_param(&url, "sig"),
            without_param(&url, "expires"),
            url.split('?').next().expect("base").to_string(),
            // Another key with this key's signature.
            url.replace("/sig/a?", "/sig/b?"),
        ];
        for bad in cases {
            let resp = http().get(&bad).send().await.expect("GET");
            assert_eq!(
                error_of(resp).await,
                (403, "SIGNATURE_INVALID".into()),
                "{bad}"
            );
        }

        // A GET signature does not authorise a PUT, nor a PUT signature a GET.
        let put_over_get = http()
            .put(&url)
            .header("content-type", "text/plain")
            .body("evil")
            .send()
            .await
            .expect("PUT");
        assert_eq!(put_over_get.status(), 403);
        let up = f
            .blobs
            .signed_put_url("sig/a", "text/plain", 100, Duration::from_secs(60))
            .await
            .expect("url");
        assert_eq!(http().get(&up.url).send().await.expect("GET").status(), 403);
        assert_eq!(
            f.blobs.get("sig/a").await.expect("get").body,
            Bytes::from_static(b"a")
        );

        // A URL signed with another secret is refused.
        let other = LocalBlobs::on_disk(
            f.dir.path().join("blobs"),
            format!("{}/blobs", f.base),
            b"another secret",
        )
        .expect("other");
        let url = other
            .signed_get_url("sig/a", Duration::from_secs(60))
            .await
            .expect("url");
        assert_eq!(http().get(&url).send().await.expect("GET").status(), 403);
    }

    #[tokio::test]
    async fn put_parameters_are_signed() {
        let f = fixture().await;
        let up = f
            .blobs
            .signed_put_url("put/a", "image/png", 10, Duration::from_secs(60))
            .await
            .expect("url");
        for url in [
            with_param(&up.url, "max", "1000000"),
            with_param(&up.url, "ct", "text%2Fhtml"),
            without_param(&up.url, "max"),
            without_param(&up.url, "ct"),
            up.url.replace("/put/a?", "/put/b?"),
        ] {
            let tampered = shared::blobs::SignedUpload {
                url: url.clone(),
                ..up.clone()
            };
            assert_eq!(
                error_of(upload(&tampered, b"png".to_vec()).await).await.0,
                403,
                "{url}"
            );
        }
        assert!(f.blobs.list("put/").await.expect("list").is_empty());
        assert_eq!(upload(&up, b"png".to_vec()).await.status(), 200);
    }

    #[tokio::test]
    async fn wrong_content_type_is_refused() {
        let f = fixture().await;
        let up = f
            .blobs
            .signed_put_url("ct/a", "video/mp4", 100, Duration::from_secs(60))
            .await
            .expect("url");
        let resp = http()
            .put(&up.url)
            .header("content-type", "text/html")
            .body("<script>")
            .send()
            .await
            .expect("PUT");
        assert_eq!(error_of(resp).await, (403, "CONTENT_TYPE_MISMATCH".into()));
        let resp = http()
            .put(&up.url)
            .body("no type")
            .send()
            .await
            .expect("PUT");
        assert_eq!(error_of(resp).await, (403, "CONTENT_TYPE_MISMATCH".into()));
        assert!(f.blobs.head("ct/a").await.expect("head").is_none());
    }

    #[tokio::test]
    async fn bodies_over_max_size_are_refused_and_not_stored() {
        let f = fixture().await;
        let up = f
            .blobs
            .signed_put_url("big/a", "video/mp4", 1000, Duration::from_secs(60))
            .await
            .expect("url");
        // Declared with content-length.
        assert_eq!(
            error_of(upload(&up, vec![7; 1001]).await).await,
            (413, "PAYLOAD_TOO_LARGE".into())
        );
        assert!(f.blobs.head("big/a").await.expect("head").is_none());

        // Chunked, without content-length: the streamed body is capped.
        let (path_and_query, host) = {
            let rest = up.url.strip_prefix("http://").expect("http url");
            let (host, pq) = rest.split_once('/').expect("path");
            (format!("/{pq}"), host.to_string())
        };
        let status = raw_chunked_put(
            &host,
            &path_and_query,
            "video/mp4",
            &[vec![1; 600], vec![2; 600]],
        )
        .await;
        assert_eq!(status, 413);
        assert!(f.blobs.head("big/a").await.expect("head").is_none());
        assert!(f.blobs.list("").await.expect("list").is_empty());

        // Exactly max_size is fine, chunked too.
        let status = raw_chunked_put(
            &host,
            &path_and_query,
            "video/mp4",
            &[vec![1; 500], vec![2; 500]],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            f.blobs
                .head("big/a")
                .await
                .expect("head")
                .expect("stored")
                .size,
            1000
        );
    }

    /// Sends raw HTTP/1.1 bytes (no client-side URL normalisation); returns status and body.
    async fn raw_http(host: &str, head: &str, chunks: &[Vec<u8>]) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = tokio::net::TcpStream::connect(host).await.expect("connect");
        sock.write_all(head.as_bytes()).await.expect("write head");
        if !chunks.is_empty() {
            for chunk in chunks {
                // The server may answer and close early: write errors are fine.
                let _ = sock
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await;
                let _ = sock.write_all(chunk).await;
                let _ = sock.write_all(b"\r\n").await;
            }
            let _ = sock.write_all(b"0\r\n\r\n").await;
        }
        let mut resp = Vec::new();
        let _ = sock.read_to_end(&mut resp).await;
        let text = String::from_utf8_lossy(&resp).to_string();
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok());
        let status = status.unwrap_or_else(|| panic!("no status in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// A PUT with `transfer-encoding: chunked` (no content-length); returns the status code.
    async fn raw_chunked_put(
        host: &str,
        path: &str,
        content_type: &str,
        chunks: &[Vec<u8>],
    ) -> u16 {
        let head = format!(
            "PUT {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: {content_type}\r\n\
             transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        );
        raw_http(host, &head, chunks).await.0
    }

    #[tokio::test]
    async fn traversal_keys_are_refused() {
        let f = fixture().await;
        std::fs::write(f.dir.path().join("secret.txt"), b"outside the blob root").expect("write");
        std::fs::write(
            f.dir.path().join("blobs").join("secret.txt~blob"),
            b"{\"content_type\":\"text/plain\",\"size\":3}\nabc",
        )
        .expect("write");
        let host = f.base.strip_prefix("http://").expect("host").to_string();
        // Sent raw: HTTP clients would normalise `..` segments away before sending.
        for path in [
            "/blobs/../secret.txt",
            "/blobs/%2E%2E/secret.txt",
            "/blobs/a/%2e%2e/%2e%2e/secret.txt",
            "/blobs/..%2Fsecret.txt",
            "/blobs/x/..%2F..%2Fsecret.txt",
            "/blobs/%2Fetc%2Fpasswd",
            "/blobs/a%5C..%5Csecret.txt",
            "/blobs/a//b",
            "/blobs/./secret.txt",
        ] {
            for method in ["GET", "PUT"] {
                let head = format!(
                    "{method} {path}?expires=9999999999&sig=00 HTTP/1.1\r\nhost: {host}\r\n\
                     content-type: text/plain\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let (status, body) = raw_http(&host, &head, &[]).await;
                assert!(
                    matches!(status, 400 | 403 | 404),
                    "{method} {path}: {status}"
                );
                assert!(
                    !body.contains("outside the blob root"),
                    "{method} {path}: {body}"
                );
            }
        }
        // Through the API too.
        assert!(matches!(
            f.blobs.get("../secret.txt").await,
            Err(BlobError::Invalid(_))
        ));
        assert_eq!(
            std::fs::read(f.dir.path().join("secret.txt")).expect("read"),
            b"outside the blob root"
        );
        // Only the planted file is there: nothing was written.
        let keys: Vec<String> = f
            .blobs
            .list("")
            .await
            .expect("list")
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, ["secret.txt"]);
    }

    #[tokio::test]
    async fn signed_get_of_absent_blob_is_a_json_404() {
        let f = fixture().await;
        let url = f
            .blobs
            .signed_get_url("absent/x", Duration::from_secs(60))
            .await
            .expect("url");
        assert_eq!(
            error_of(http().get(&url).send().await.expect("GET")).await,
            (404, "NOT_FOUND".into())
        );
    }

    #[tokio::test]
    async fn blobs_persist_across_instances() {
        let f = fixture().await;
        f.blobs
            .put("keep/a", Bytes::from_static(b"kept"), "text/plain")
            .await
            .expect("put");
        let root = f.blobs.root().expect("a folder").to_path_buf();
        let again =
            LocalBlobs::on_disk(root.clone(), "http://x/blobs".into(), SECRET).expect("reopen");
        assert_eq!(
            again.get("keep/a").await.expect("get").body,
            Bytes::from_static(b"kept")
        );
        assert!(LocalBlobs::on_disk(root, "http://x/blobs".into(), b"").is_err());
    }

    /// Readers racing a writer see whole versions only, with matching metadata.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_are_atomic_for_readers() {
        let f = fixture().await;
        let small = Bytes::from(vec![b's'; 10]);
        let large = Bytes::from(vec![b'L'; 300_000]);
        f.blobs
            .put("atomic/x", small.clone(), "text/small")
            .await
            .expect("put");
        let writer = {
            let blobs = f.blobs.clone();
            let (small, large) = (small.clone(), large.clone());
            tokio::spawn(async move {
                for i in 0..60 {
                    let (body, ct) = if i % 2 == 0 {
                        (large.clone(), "text/large")
                    } else {
                        (small.clone(), "text/small")
                    };
                    blobs.put("atomic/x", body, ct).await.expect("put");
                }
            })
        };
        while !writer.is_finished() {
            let blob = f
                .blobs
                .get("atomic/x")
                .await
                .expect("get never fails mid-write");
            assert_eq!(blob.meta.size, blob.body.len() as u64);
            if blob.meta.content_type == "text/small" {
                assert_eq!(blob.body, small);
            } else {
                assert_eq!(blob.body, large);
            }
        }
        writer.await.expect("writer");
        // No temp files are left among the blobs.
        assert_eq!(f.blobs.list("").await.expect("list").len(), 1);
    }
}
