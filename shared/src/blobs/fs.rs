//! Blob bytes as files under a folder (`BLOBS=local`), for [`super::local::LocalBlobs`].
//!
//! # Layout
//!
//! Each blob is ONE file, so that a single atomic `rename` publishes body and metadata together
//! and a reader never sees a half-written blob or a body paired with another write's metadata:
//!
//! ```text
//! {"content_type":"video/mp4","size":123,"etag":"\"…\""}\n<body bytes>
//! ```
//!
//! Key segments become path segments, each encoded so that the mapping is injective even on
//! case-insensitive file systems: bytes outside `[a-z0-9._-]` become `%XX` (uppercase hex). A blob
//! `a/b` lives in `root/a/b~blob`, and the folder `root/a/b/` holds the blobs under `a/b/`: encoded
//! segments never contain `~`, so the key `a/b` and the keys `a/b/...` never collide. Uploads are
//! written to `root/~tmp/` first, then renamed into place (or, for a write that must not replace
//! anything, hard-linked into place, which fails atomically when the name exists). An encoded
//! segment must fit in a file name (250 bytes): longer segments are refused with
//! [`BlobError::Invalid`].

use std::{
    io::{self, BufRead},
    path::{Path, PathBuf},
    time::SystemTime,
};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use super::{
    Blob, BlobError, BlobMeta, BlobResult, local::BlobBytes, local::etag_of, validate_key,
};

const BLOB_SUFFIX: &str = "~blob";
const TMP_DIR: &str = "~tmp";
/// Longest encoded segment: it must fit in a 255-byte file name with [`BLOB_SUFFIX`].
const MAX_ENCODED_SEGMENT: usize = 250;

/// Blob files under a root folder; see the module docs.
#[derive(Debug, Clone)]
pub struct Folder {
    root: PathBuf,
}

/// The header line of a stored blob file.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    content_type: String,
    size: u64,
    /// Absent in files written before entity tags were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
}

impl Folder {
    /// Creates `root` (and its temp folder) if needed.
    pub fn new(root: PathBuf) -> BlobResult<Self> {
        std::fs::create_dir_all(root.join(TMP_DIR)).map_err(|e| backend("create blob root", e))?;
        Ok(Self { root })
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
}

fn backend(what: &str, e: io::Error) -> BlobError {
    BlobError::Backend(format!("{what}: {e}"))
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
        etag: header.etag,
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
impl BlobBytes for Folder {
    fn check_key(&self, key: &str) -> BlobResult<()> {
        self.blob_path(key).map(|_| ())
    }

    async fn write(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        only_new: bool,
    ) -> BlobResult<BlobMeta> {
        let path = self.blob_path(key)?;
        let header = Header {
            content_type: content_type.to_string(),
            size: body.len() as u64,
            etag: Some(etag_of(&body)),
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
        let published = if only_new {
            // link(2) fails with EEXIST when the name is taken: the check and the publication
            // are one atomic step, as S3's `If-None-Match: *`.
            let linked = tokio::fs::hard_link(&tmp, &path).await;
            let _ = tokio::fs::remove_file(&tmp).await;
            match linked {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(BlobError::AlreadyExists);
                }
                other => other,
            }
        } else {
            let renamed = tokio::fs::rename(&tmp, &path).await;
            if renamed.is_err() {
                let _ = tokio::fs::remove_file(&tmp).await;
            }
            renamed
        };
        published.map_err(|e| backend("publish blob", e))?;
        Ok(BlobMeta {
            key: key.to_string(),
            size: header.size,
            content_type: header.content_type,
            last_modified: Some(rfc3339(SystemTime::now())),
            etag: header.etag,
        })
    }

    async fn read(&self, key: &str) -> BlobResult<Blob> {
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
                etag: header.etag,
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
            etag: header.etag,
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

    fn name(&self) -> &'static str {
        "local"
    }

    fn root(&self) -> Option<&Path> {
        Some(&self.root)
    }
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
}
