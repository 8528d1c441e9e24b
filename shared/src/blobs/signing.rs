//! HMAC-signed URLs of the local blob store (the local counterpart of S3's presigned URLs).
//!
//! `{base_url}/{key}?expires=<epoch>&sig=<hex hmac-sha256>` for GET; PUT URLs add `&ct=<content
//! type>&max=<max size>`. The signature covers the method, the key, the expiry and (PUT) the
//! content type and the maximum size. [`crate::http::blob_urls`] serves them; where the bytes
//! live (a folder, memory) does not matter to the signer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{BlobError, BlobResult};

type HmacSha256 = Hmac<Sha256>;

/// Longest validity of a signed URL, the same as S3's presigned URLs (7 days).
pub const MAX_SIGNED_URL_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Signs and verifies local blob URLs with one secret.
#[derive(Clone)]
pub struct UrlSigner {
    base_url: String,
    /// Keyed with the signing secret; cloned per signature.
    mac: HmacSha256,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSigner")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl UrlSigner {
    /// `base_url` is the public prefix of signed URLs (where the blob URL router is mounted),
    /// e.g. `http://127.0.0.1:3000/blobs`.
    pub fn new(base_url: String, secret: &[u8]) -> BlobResult<Self> {
        if secret.is_empty() {
            return Err(BlobError::Invalid("empty blob signing secret".into()));
        }
        let mac = HmacSha256::new_from_slice(secret)
            .map_err(|e| BlobError::Invalid(format!("blob signing secret: {e}")))?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            mac,
        })
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

    /// A GET URL valid for `expires_in`.
    pub fn get_url(&self, key: &str, expires_in: Duration) -> BlobResult<String> {
        let expires = expiry(expires_in)?;
        let sig = self.sign(&get_message(key, expires));
        Ok(format!("{}?expires={expires}&sig={sig}", self.url_for(key)))
    }

    /// A PUT URL valid for `expires_in`, and its expiry (epoch seconds).
    pub fn put_url(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        expires_in: Duration,
    ) -> BlobResult<(String, i64)> {
        validate_content_type(content_type)?;
        let expires = expiry(expires_in)?;
        let sig = self.sign(&put_message(key, expires, content_type, max_size));
        let ct: String = form_urlencoded::byte_serialize(content_type.as_bytes()).collect();
        let url = format!(
            "{}?expires={expires}&ct={ct}&max={max_size}&sig={sig}",
            self.url_for(key)
        );
        Ok((url, expires))
    }

    /// Whether `sig` signs a GET of `key` until `expires`.
    pub fn verify_get(&self, key: &str, expires: i64, sig: &str) -> bool {
        self.verify(&get_message(key, expires), sig)
    }

    /// Whether `sig` signs a PUT of `key` until `expires` with this content type and cap.
    pub fn verify_put(
        &self,
        key: &str,
        expires: i64,
        content_type: &str,
        max_size: u64,
        sig: &str,
    ) -> bool {
        self.verify(&put_message(key, expires, content_type, max_size), sig)
    }
}

fn get_message(key: &str, expires: i64) -> String {
    format!("GET\n{key}\n{expires}")
}

fn put_message(key: &str, expires: i64, content_type: &str, max_size: u64) -> String {
    format!("PUT\n{key}\n{expires}\n{content_type}\n{max_size}")
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

/// Whether a URL that expires at `expires` (epoch seconds) has expired.
pub fn is_expired(expires: i64) -> bool {
    now_millis() >= expires.saturating_mul(1000)
}

/// Content types are sent as header values and signed: visible ASCII and spaces only.
pub fn validate_content_type(content_type: &str) -> BlobResult<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_path_encoding_keeps_slashes() {
        assert_eq!(encode_url_path("a b/c?d#e"), "a%20b/c%3Fd%23e");
    }
}
