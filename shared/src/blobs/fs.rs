//! Local filesystem implementation with HMAC-signed URLs. See the module docs of `blobs`.
//!
//! # Layout
//!
//! Each blob is ONE file, so that a single atomic `rename` publishes body and metadata together
//! and a reader never sees a half-written blob or a body paired with another write's metadata:
//!
//! ```text
//! {"content_type":"video/mp4","size":123}\n<body bytes>
//! ```
//!
//! Key segments become path segments, each encoded so that the mapping is injective even on
//! case-insensitive file systems: bytes outside `[a-z0-9._-]` become `%XX` (uppercase hex). A blob
//! `a/b` lives in `root/a/b~blob`, and the folder `root/a/b/` holds the blobs under `a/b/`: encoded
//! segments never contain `~`, so the key `a/b` and the keys `a/b/...` never collide. Uploads are
//! written to `root/~tmp/` first, then renamed into place. An encoded segment must fit in a file
//! name (250 bytes): longer segments are refused with [`BlobError::Invalid`].
//!
//! # Signed URLs
//!
//! `{base_url}/{key}?expires=<epoch>&sig=<hex hmac-sha256>` for GET; PUT URLs add `&ct=<content
//! type>&max=<max size>`. The signature covers the method, the key, the expiry and (PUT) the
//! content type and the maximum size. [`router`] serves them.

use std::{
    io::{self, BufRead},
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, Path as UrlPath, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use super::{Blob, BlobError, BlobMeta, BlobResult, BlobStore, SignedUpload, validate_key};
use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Longest validity of a signed URL, the same as S3's presigned URLs (7 days).
pub const MAX_SIGNED_URL_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

const BLOB_SUFFIX: &str = "~blob";
const TMP_DIR: &str = "~tmp";
/// Longest encoded segment: it must fit in a 255-byte file name with [`BLOB_SUFFIX`].
const MAX_ENCODED_SEGMENT: usize = 250;

/// Called with the metadata of each blob stored through a signed upload URL; the upload's
/// response waits for the returned future.
pub type UploadHook = std::sync::Arc<
    dyn Fn(BlobMeta) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// Blobs stored as files under a root folder; see the module docs.
#[derive(Clone)]
pub struct FsBlobs {
    root: PathBuf,
    base_url: String,
    /// Keyed with the signing secret; cloned per signature.
    mac: HmacSha256,
    /// The local counterpart of S3's object-created notifications (see [`FsBlobs::on_upload`]).
    on_upload: Option<UploadHook>,
}

impl std::fmt::Debug for FsBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsBlobs")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The header line of a stored blob file.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    content_type: String,
    size: u64,
}

impl FsBlobs {
    /// Creates `root` if needed. `base_url` is the public prefix of signed URLs (where
    /// [`router`] is mounted), e.g. `http://127.0.0.1:3000/blobs`.
    pub fn new(root: PathBuf, base_url: String, signing_secret: &[u8]) -> Result<Self, BlobError> {
        if signing_secret.is_empty() {
            return Err(BlobError::Invalid("empty blob signing secret".into()));
        }
        let mac = HmacSha256::new_from_slice(signing_secret)
            .map_err(|e| BlobError::Invalid(format!("blob signing secret: {e}")))?;
        std::fs::create_dir_all(root.join(TMP_DIR)).map_err(|e| backend("create blob root", e))?;
        let base_url = base_url.trim_end_matches('/').to_string();
        Ok(Self {
            root,
            base_url,
            mac,
            on_upload: None,
        })
    }

    /// Calls `hook` after each successful upload through a signed PUT URL served by [`router`],
    /// as S3 sends an object-created event (the local server verifies uploaded videos with it).
    /// The upload's response is sent once the hook's future has finished.
    pub fn on_upload(mut self, hook: UploadHook) -> Self {
        self.on_upload = Some(hook);
        self
    }

    /// The folder blobs are stored under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, key: &str) -> BlobResult<PathBuf> {
        validate_key(key)?;
        let segments: Vec<&str> = key.split('/').collect();
        let mut path = self.root.clone();
        for (i, seg) in segments.iter().enumerate() {
            let enc = encode_segment(seg);
            if enc.len() > MAX_ENCODED_SEGMENT {
                return Err(BlobError::Invalid(format!(
                    "blob key segment too long for the local store: {key:?}"
                )));
            }
            if i + 1 == segments.len() {
                path.push(format!("{enc}{BLOB_SUFFIX}"));
            } else {
                path.push(enc);
            }
        }
        Ok(path)
    }

    /// Opens a blob file and reads its header line, leaving the reader at the body; `None` when
    /// the blob is absent.
    async fn open_blob(
        &self,
        key: &str,
    ) -> BlobResult<Option<(tokio::io::BufReader<tokio::fs::File>, Header)>> {
        let path = self.blob_path(key)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(backend("open blob", e)),
        };
        let mut reader = tokio::io::BufReader::new(file);
        let mut line = Vec::new();
        reader
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| backend("read blob", e))?;
        Ok(Some((reader, parse_header(&line)?)))
    }

    fn mac(&self, message: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(message.as_bytes());
        mac
    }

    fn sign(&self, message: &str) -> String {
        hex::encode(self.mac(message).finalize().into_bytes())
    }

    /// Constant-time check of a hex signature.
    fn verify(&self, message: &str, sig_hex: &str) -> bool {
        match hex::decode(sig_hex) {
            Ok(sig) => self.mac(message).verify_slice(&sig).is_ok(),
            Err(_) => false,
        }
    }

    fn url_for(&self, key: &str) -> String {
        format!("{}/{}", self.base_url, encode_url_path(key))
    }
}

fn get_message(key: &str, expires: i64) -> String {
    format!("GET\n{key}\n{expires}")
}

fn put_message(key: &str, expires: i64, content_type: &str, max_size: u64) -> String {
    format!("PUT\n{key}\n{expires}\n{content_type}\n{max_size}")
}

fn backend(what: &str, e: io::Error) -> BlobError {
    BlobError::Backend(format!("{what}: {e}"))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Expiry in epoch seconds, rounded down: a URL never lives longer than asked.
fn expiry(expires_in: Duration) -> BlobResult<i64> {
    if expires_in > MAX_SIGNED_URL_TTL {
        return Err(BlobError::Invalid(format!(
            "signed URLs live at most {} seconds",
            MAX_SIGNED_URL_TTL.as_secs()
        )));
    }
    let ms = i64::try_from(expires_in.as_millis()).unwrap_or(i64::MAX);
    Ok(now_millis().saturating_add(ms).div_euclid(1000))
}

fn is_expired(expires: i64) -> bool {
    now_millis() >= expires.saturating_mul(1000)
}

/// Content types are sent as header values and signed: visible ASCII and spaces only.
fn validate_content_type(content_type: &str) -> BlobResult<()> {
    let ok = !content_type.trim().is_empty()
        && content_type.len() <= 255
        && content_type
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(BlobError::Invalid(format!(
            "bad content type {content_type:?}"
        )))
    }
}

/// File-name encoding of one key segment (see the module docs).
fn encode_segment(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    for b in seg.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode_segment(enc: &str) -> Option<String> {
    let bytes = enc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = enc.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// URL path encoding of a key: `/` kept, bytes outside the unreserved set percent-encoded.
fn encode_url_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_header(line: &[u8]) -> BlobResult<Header> {
    serde_json::from_slice(line)
        .map_err(|e| BlobError::Backend(format!("corrupt blob header: {e}")))
}

fn not_found_or(what: &str, e: io::Error) -> BlobError {
    if e.kind() == io::ErrorKind::NotFound {
        BlobError::NotFound
    } else {
        backend(what, e)
    }
}

/// Reads the header line of a blob file (blocking; used by `list`).
fn read_meta_blocking(path: &Path, key: String) -> io::Result<Option<BlobMeta>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let modified = file.metadata()?.modified().ok().map(rfc3339);
    let mut line = Vec::new();
    io::BufReader::new(file).read_until(b'\n', &mut line)?;
    let header = parse_header(&line).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Some(BlobMeta {
        key,
        size: header.size,
        content_type: header.content_type,
        last_modified: modified,
    }))
}

/// Collects `(key, path)` of every blob under `dir` (whose key prefix is `dir_key`, `""` or
/// ending in `/`) that may start with `prefix`.
fn walk_blocking(
    dir: &Path,
    dir_key: &str,
    prefix: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let file_type = entry.file_type()?;
        if let Some(enc) = name.strip_suffix(BLOB_SUFFIX) {
            if !file_type.is_file() || enc.contains('~') {
                continue;
            }
            let Some(seg) = decode_segment(enc) else {
                continue;
            };
            let key = format!("{dir_key}{seg}");
            if key.starts_with(prefix) {
                out.push((key, entry.path()));
            }
        } else if file_type.is_dir() && !name.contains('~') {
            let Some(seg) = decode_segment(name) else {
                continue;
            };
            let sub_key = format!("{dir_key}{seg}/");
            if sub_key.starts_with(prefix) || prefix.starts_with(&sub_key) {
                walk_blocking(&entry.path(), &sub_key, prefix, out)?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl BlobStore for FsBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()> {
        let path = self.blob_path(key)?;
        validate_content_type(content_type)?;
        let header = Header {
            content_type: content_type.to_string(),
            size: body.len() as u64,
        };
        let mut data =
            serde_json::to_vec(&header).map_err(|e| BlobError::Backend(e.to_string()))?;
        data.push(b'\n');
        data.extend_from_slice(&body);

        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| backend("create blob folder", e))?;
        }
        let tmp_dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| backend("create temp folder", e))?;
        let tmp = tmp_dir.join(uuid::Uuid::new_v4().simple().to_string());
        if let Err(e) = tokio::fs::write(&tmp, &data).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(backend("write blob", e));
        }
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(backend("publish blob", e));
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> BlobResult<Blob> {
        let path = self.blob_path(key)?;
        // One open file handle: body and metadata come from the same version even if a write
        // replaces the blob meanwhile.
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| not_found_or("open blob", e))?;
        let modified = file
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .map(rfc3339);
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .await
            .map_err(|e| backend("read blob", e))?;
        let data = Bytes::from(data);
        let split = data
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| BlobError::Backend("corrupt blob: no header".into()))?;
        let header = parse_header(&data[..split])?;
        let body = data.slice(split + 1..);
        if body.len() as u64 != header.size {
            return Err(BlobError::Backend("corrupt blob: size mismatch".into()));
        }
        Ok(Blob {
            meta: BlobMeta {
                key: key.to_string(),
                size: header.size,
                content_type: header.content_type,
                last_modified: modified,
            },
            body,
        })
    }

    async fn head(&self, key: &str) -> BlobResult<Option<BlobMeta>> {
        let Some((reader, header)) = self.open_blob(key).await? else {
            return Ok(None);
        };
        let modified = reader
            .get_ref()
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .map(rfc3339);
        Ok(Some(BlobMeta {
            key: key.to_string(),
            size: header.size,
            content_type: header.content_type,
            last_modified: modified,
        }))
    }

    async fn read_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes> {
        let (reader, header) = self.open_blob(key).await?.ok_or(BlobError::NotFound)?;
        let mut body = Vec::new();
        reader
            .take(len.min(header.size))
            .read_to_end(&mut body)
            .await
            .map_err(|e| backend("read blob", e))?;
        Ok(Bytes::from(body))
    }

    async fn delete(&self, key: &str) -> BlobResult<()> {
        let path = self.blob_path(key)?;
        // Empty folders are left in place: removing them would race with concurrent puts.
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(backend("delete blob", e)),
        }
    }

    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobMeta>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || -> BlobResult<Vec<BlobMeta>> {
            let mut found = Vec::new();
            walk_blocking(&root, "", &prefix, &mut found).map_err(|e| backend("list blobs", e))?;
            found.sort_by(|a, b| a.0.cmp(&b.0));
            let mut metas = Vec::with_capacity(found.len());
            for (key, path) in found {
                // A blob deleted since the walk is skipped.
                if let Some(meta) =
                    read_meta_blocking(&path, key).map_err(|e| backend("read blob", e))?
                {
                    metas.push(meta);
                }
            }
            Ok(metas)
        })
        .await
        .map_err(|e| BlobError::Backend(format!("list task: {e}")))?
    }

    async fn signed_get_url(&self, key: &str, expires_in: Duration) -> BlobResult<String> {
        self.blob_path(key)?;
        let expires = expiry(expires_in)?;
        let sig = self.sign(&get_message(key, expires));
        Ok(format!("{}?expires={expires}&sig={sig}", self.url_for(key)))
    }

    async fn signed_put_url(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        expires_in: Duration,
    ) -> BlobResult<SignedUpload> {
        self.blob_path(key)?;
        validate_content_type(content_type)?;
        let expires = expiry(expires_in)?;
        let sig = self.sign(&put_message(key, expires, content_type, max_size));
        let ct: String = form_urlencoded::byte_serialize(content_type.as_bytes()).collect();
        Ok(SignedUpload {
            method: "PUT".into(),
            url: format!(
                "{}?expires={expires}&ct={ct}&max={max_size}&sig={sig}",
                self.url_for(key)
            ),
            headers: vec![("content-type".into(), content_type.to_string())],
            max_size,
            expires_at: expires,
        })
    }

    fn backend_name(&self) -> &'static str {
        "local"
    }
}

// ---------------------------------------------------------------------------------------------
// Signed URL server
// ---------------------------------------------------------------------------------------------

/// Serves signed URLs: `GET /{*key}` and `PUT /{*key}`. The local server nests it at `/blobs`.
///
/// Signatures are checked in constant time; expired or invalid signatures get 403, a content type
/// other than the signed one 403, a body over the signed maximum 413 (nothing is stored). The
/// PUT body is read with its own cap (the signed `max`), not axum's default body limit.
pub fn router(blobs: FsBlobs) -> Router {
    Router::new()
        .route("/{*key}", get(get_blob).put(put_blob))
        .layer(DefaultBodyLimit::disable())
        .with_state(blobs)
}

fn sig_invalid() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "SIGNATURE_INVALID",
        "Missing or invalid URL signature",
    )
}

fn sig_expired() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "SIGNATURE_EXPIRED",
        "The signed URL has expired",
    )
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "The body is larger than this upload URL allows",
    )
}

fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::NotFound => ApiError::not_found("Blob not found"),
        BlobError::Invalid(msg) => ApiError::bad_request("INVALID_BLOB_REQUEST", msg),
        BlobError::TooLarge => too_large(),
        BlobError::Backend(_) => ApiError::internal(e),
    }
}

/// The query of a signed URL.
#[derive(Debug, Default, Deserialize)]
struct SignedQuery {
    expires: Option<String>,
    sig: Option<String>,
    ct: Option<String>,
    max: Option<String>,
}

fn parse_query(raw: Option<String>) -> Result<SignedQuery, ApiError> {
    match raw {
        None => Ok(SignedQuery::default()),
        Some(q) => serde_urlencoded::from_str(&q).map_err(|_| sig_invalid()),
    }
}

/// Key checks shared by both handlers: 400 for a malformed key before any signature work.
fn checked_key(blobs: &FsBlobs, key: &str) -> Result<(), ApiError> {
    blobs.blob_path(key).map(|_| ()).map_err(blob_error)
}

async fn get_blob(
    State(blobs): State<FsBlobs>,
    UrlPath(key): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    checked_key(&blobs, &key)?;
    let q = parse_query(query)?;
    let (Some(expires), Some(sig)) = (q.expires, q.sig) else {
        return Err(sig_invalid());
    };
    let expires: i64 = expires.parse().map_err(|_| sig_invalid())?;
    if !blobs.verify(&get_message(&key, expires), &sig) {
        return Err(sig_invalid());
    }
    if is_expired(expires) {
        return Err(sig_expired());
    }
    let blob = blobs.get(&key).await.map_err(blob_error)?;
    let content_type = HeaderValue::from_str(&blob.meta.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_LENGTH, HeaderValue::from(blob.meta.size)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=0"),
            ),
        ],
        Body::from(blob.body),
    )
        .into_response())
}

async fn put_blob(
    State(blobs): State<FsBlobs>,
    UrlPath(key): UrlPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    checked_key(&blobs, &key)?;
    let q = parse_query(query)?;
    let (Some(expires), Some(sig), Some(ct), Some(max)) = (q.expires, q.sig, q.ct, q.max) else {
        return Err(sig_invalid());
    };
    let expires: i64 = expires.parse().map_err(|_| sig_invalid())?;
    let max: u64 = max.parse().map_err(|_| sig_invalid())?;
    if !blobs.verify(&put_message(&key, expires, &ct, max), &sig) {
        return Err(sig_invalid());
    }
    if is_expired(expires) {
        return Err(sig_expired());
    }
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if sent_type != Some(ct.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "CONTENT_TYPE_MISMATCH",
            format!("This upload URL requires content-type {ct}"),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(too_large()),
        Err(e) => {
            return Err(ApiError {
                source: Some(anyhow::anyhow!("read upload body: {e}")),
                ..ApiError::bad_request("BODY_READ_FAILED", "Could not read the request body")
            });
        }
    };
    let size = bytes.len() as u64;
    blobs.put(&key, bytes, &ct).await.map_err(blob_error)?;
    if let Some(hook) = &blobs.on_upload {
        hook(BlobMeta {
            key,
            size,
            content_type: ct,
            last_modified: Some(rfc3339(SystemTime::now())),
        })
        .await;
    }
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_encoding_round_trips_and_avoids_tilde_and_uppercase() {
        for seg in [
            "abc",
            "A",
            "x~blob",
            "spaces and+plus%",
            "ünï",
            "...",
            "a.b-c_d",
        ] {
            let enc = encode_segment(seg);
            assert!(!enc.contains('~'), "{enc}");
            assert!(!enc.contains('/'), "{enc}");
            assert_eq!(decode_segment(&enc).as_deref(), Some(seg));
        }
        assert_ne!(encode_segment("A").to_lowercase(), encode_segment("a"));
    }

    #[test]
    fn url_path_encoding_keeps_slashes() {
        assert_eq!(encode_url_path("a b/c?d#e"), "a%20b/c%3Fd%23e");
    }
}
