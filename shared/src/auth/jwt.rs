//! HS256 access tokens. Only HS256 is accepted (tokens signed with another algorithm, or
//! `alg: none`, are rejected), `exp`, `iat`, `sub` and `iss` are required, leeway is 5 seconds.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "personalization-platform";

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// Roles and permissions when the token was issued (informational: authorization uses the
    /// account's current roles, see [`crate::http::auth`]).
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// The account's auth version when the token was issued; a token is refused once the account's
    /// version has moved on (a role change or a deactivation). Absent in older tokens: 0.
    #[serde(default, rename = "av")]
    pub auth_version: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("token expired")]
    Expired,
    #[error("token invalid")]
    Invalid,
}

/// Signing and verification keys, built once per process.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// Token lifetime in seconds (the `expires_in` of a login response).
    pub fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// Issues a token for `user_id` with its roles and effective permissions, for an account
    /// whose auth version is 0 (its roles and active flag never changed).
    pub fn issue(
        &self,
        user_id: &str,
        roles: Vec<String>,
        permissions: Vec<String>,
    ) -> anyhow::Result<String> {
        self.issue_at_version(user_id, roles, permissions, 0)
    }

    /// Issues a token for `user_id` at the account's current `auth_version`.
    pub fn issue_at_version(
        &self,
        user_id: &str,
        roles: Vec<String>,
        permissions: Vec<String>,
        auth_version: u64,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            iss: ISSUER.to_string(),
            iat: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(1800),
            jti: uuid::Uuid::new_v4().to_string(),
            roles,
            permissions,
            auth_version,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies signature, algorithm, issuer and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid,
            })
    }

    /// Signs arbitrary claims (tests: expired or foreign tokens).
    #[doc(hidden)]
    pub fn sign_raw(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn keys() -> JwtKeys {
        JwtKeys::new(
            b"0123456789abcdef0123456789abcdef",
            Duration::from_secs(1800),
        )
    }

    #[test]
    fn round_trip_carries_roles_and_permissions() {
        let k = keys();
        let t = k
            .issue("u1", vec!["admin".into()], vec!["users.*".into()])
            .expect("issue");
        let c = k.verify(&t).expect("verify");
        assert_eq!(c.sub, "u1");
        assert_eq!(c.roles, vec!["admin"]);
        assert_eq!(c.exp - c.iat, 1800);
        assert_eq!(c.auth_version, 0);
        let t = k.issue_at_version("u1", vec![], vec![], 7).expect("issue");
        assert_eq!(k.verify(&t).expect("verify").auth_version, 7);
    }

    #[test]
    fn expired_tampered_foreign_and_none_tokens_are_rejected() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let expired = Claims {
            sub: "u1".into(),
            iss: ISSUER.into(),
            iat: now - 4000,
            exp: now - 60,
            jti: "j".into(),
            roles: vec![],
            permissions: vec![],
            auth_version: 0,
        };
        assert_eq!(
            k.verify(&k.sign_raw(&expired).expect("sign")),
            Err(JwtError::Expired)
        );

        let good = k.issue("u1", vec![], vec![]).expect("issue");
        let mut parts: Vec<String> = good.split('.').map(String::from).collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut payload: serde_json::Value =
            serde_json::from_slice(&b64.decode(&parts[1]).expect("b64")).expect("json");
        payload["permissions"] = serde_json::json!(["*"]);
        parts[1] = b64.encode(payload.to_string());
        assert_eq!(
            k.verify(&parts.join(".")),
            Err(JwtError::Invalid),
            "tampered payload"
        );

        let other = JwtKeys::new(b"another-secret-another-secret-xx", Duration::from_secs(60));
        assert_eq!(
            k.verify(&other.issue("u1", vec![], vec![]).expect("issue")),
            Err(JwtError::Invalid)
        );

        let none_header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(k.verify(&unsigned), Err(JwtError::Invalid), "alg none");

        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &expired,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("sign");
        assert_eq!(k.verify(&hs512), Err(JwtError::Invalid), "wrong algorithm");
        assert_eq!(k.verify("garbage"), Err(JwtError::Invalid));
    }
}
