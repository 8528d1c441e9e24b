//! Personalization sessions in the store (not in memory: Lambda instances come and go).
//!
//! A session expires `TEXTBOOK_SESSION_TTL_SECONDS` after its last access: every access moves its
//! `expires_at`. Readers of both store implementations treat an expired item as absent, and
//! DynamoDB's TTL deletes it later.

use serde::{Deserialize, Serialize};
use shared::{
    ApiError,
    store::{self, Condition, ItemStore, StoreError, Update},
};
use utoipa::ToSchema;

use crate::{adapt::Level, errors, keys, readability::Readability, settings::Settings};

/// `PersonalizationPreferences` of spec 001 (the schema takes the spec's name: `Preferences` is
/// the users function's shopping preferences).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = PersonalizationPreferences)]
pub struct Preferences {
    pub difficulty_level: Level,
    pub reading_position: u64,
    /// `text`, `visual`, `audio`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_format: Option<String>,
    /// A topic the reader focuses on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_focus: Option<String>,
}

/// `PersonalizationSession` of spec 001, plus what the function needs to serve it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonalizationSession {
    pub session_id: String,
    pub difficulty_level: Level,
    pub original_content: String,
    pub personalized_content: String,
    pub chapter_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub last_accessed: i64,
    /// Character offset in the text the reader sees (the original after toggle-original).
    pub reading_position: u64,
    pub preferences: Preferences,
    /// True after toggle-original, until the next personalize or change-difficulty.
    #[serde(default)]
    pub showing_original: bool,
    pub content_sha256: String,
    pub backend: String,
    pub model_id: String,
    pub prompt_version: String,
    pub readability: Readability,
    pub original_readability: Readability,
    /// Unix seconds; the session is gone from then on.
    pub expires_at: i64,
}

impl PersonalizationSession {
    /// The text the reader currently sees.
    pub fn shown(&self) -> &str {
        if self.showing_original {
            &self.original_content
        } else {
            &self.personalized_content
        }
    }
}

/// `last_accessed` and `expires_at` for an access now.
pub fn access_times(settings: &Settings) -> (i64, i64) {
    let now = store::now_epoch();
    let ttl = i64::try_from(settings.session_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    (now, now.saturating_add(ttl))
}

/// The session, if present and not expired.
pub async fn get(
    store: &dyn ItemStore,
    session_id: &str,
) -> Result<Option<PersonalizationSession>, ApiError> {
    match store.get(&keys::session(session_id)).await? {
        Some(item) => Ok(Some(store::from_item(item)?)),
        None => Ok(None),
    }
}

/// The session, or 404 `session_not_found`.
pub async fn require(
    store: &dyn ItemStore,
    session_id: &str,
) -> Result<PersonalizationSession, ApiError> {
    get(store, session_id)
        .await?
        .ok_or_else(errors::session_not_found)
}

/// Writes the whole session. With `must_exist`, a session deleted or expired meanwhile is not
/// brought back (404 instead).
pub async fn put(
    store: &dyn ItemStore,
    session: &PersonalizationSession,
    must_exist: bool,
) -> Result<(), ApiError> {
    let key = keys::session(&session.session_id);
    let mut item = store::to_item(session)?;
    item.insert(store::PK.into(), key.pk.into());
    item.insert(store::SK.into(), key.sk.into());
    let condition = must_exist.then_some(Condition::ItemExists);
    match store.put(item, condition).await {
        Err(StoreError::ConditionFailed) => Err(errors::session_not_found()),
        other => Ok(other?),
    }
}

/// Records an access that shows the original: slides the expiry, keeps the content.
pub async fn show_original(
    store: &dyn ItemStore,
    settings: &Settings,
    session: &PersonalizationSession,
    reading_position: u64,
) -> Result<(), ApiError> {
    let (now, expires_at) = access_times(settings);
    let preferences = Preferences {
        reading_position,
        ..session.preferences.clone()
    };
    let preferences = serde_json::to_value(&preferences)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("preferences: {e}")))?;
    let update = Update::new()
        .set("showing_original", true)
        .set("reading_position", reading_position)
        .set("preferences", preferences)
        .set("last_accessed", now)
        .set(store::EXPIRES_AT, expires_at);
    match store
        .update(
            &keys::session(&session.session_id),
            update,
            Some(Condition::ItemExists),
        )
        .await
    {
        Err(StoreError::ConditionFailed) => Err(errors::session_not_found()),
        other => other.map(|_| ()).map_err(ApiError::from),
    }
}

/// Deletes the session; 404 when there was none (or it had expired).
pub async fn delete(store: &dyn ItemStore, session_id: &str) -> Result<(), ApiError> {
    match store
        .delete(&keys::session(session_id), Some(Condition::ItemExists))
        .await
    {
        Err(StoreError::ConditionFailed) => Err(errors::session_not_found()),
        other => other.map(|_| ()).map_err(ApiError::from),
    }
}
