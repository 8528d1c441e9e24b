//! Key patterns of the textbook function in the single table (beside `shared::store::keys`).
//!
//! | entity | PK | SK | GSI1 / GSI2 | notes |
//! |---|---|---|---|---|
//! | personalization session | `TBSESSION#<session_id>` | `SESSION` | - | `expires_at` = last access + `TEXTBOOK_SESSION_TTL_SECONDS` (sliding) |
//! | cached adaptation | `TBADAPT#<sha256 of chapter_id, content sha256, level, prompt version, backend, model id>` | `ADAPTATION` | - | `expires_at` = creation + `TEXTBOOK_CACHE_TTL_SECONDS`; shared by all sessions and users |

use sha2::{Digest, Sha256};
use shared::store::Key;

pub fn session(session_id: &str) -> Key {
    Key::new(format!("TBSESSION#{session_id}"), "SESSION")
}

/// The identity of one adaptation: what must be equal for two requests to share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptationId<'a> {
    pub chapter_id: &'a str,
    pub content_sha256: &'a str,
    pub level: &'a str,
    pub prompt_version: &'a str,
    pub backend: &'a str,
    pub model_id: &'a str,
}

pub fn adaptation(id: &AdaptationId<'_>) -> Key {
    let mut h = Sha256::new();
    for part in [
        id.chapter_id,
        id.content_sha256,
        id.level,
        id.prompt_version,
        id.backend,
        id.model_id,
    ] {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    Key::new(
        format!("TBADAPT#{}", hex::encode(h.finalize())),
        "ADAPTATION",
    )
}

/// Hex SHA-256 of a chapter's content.
pub fn content_hash(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptation_keys_differ_by_every_part() {
        let base = AdaptationId {
            chapter_id: "c",
            content_sha256: "h",
            level: "beginner",
            prompt_version: "v1",
            backend: "bedrock",
            model_id: "m",
        };
        let k = adaptation(&base);
        assert_eq!(k, adaptation(&base.clone()));
        for other in [
            AdaptationId {
                level: "advanced",
                ..base.clone()
            },
            AdaptationId {
                prompt_version: "v2",
                ..base.clone()
            },
            AdaptationId {
                model_id: "m2",
                ..base.clone()
            },
            AdaptationId {
                content_sha256: "h2",
                ..base.clone()
            },
            AdaptationId {
                chapter_id: "c2",
                ..base.clone()
            },
        ] {
            assert_ne!(k, adaptation(&other));
        }
    }
}
