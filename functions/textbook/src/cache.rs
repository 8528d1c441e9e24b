//! Adaptations cached in the store by (chapter id, content hash, level, prompt version, backend and
//! model id): the same chapter at the same level is generated once for all sessions and users, and
//! going back to a level already made costs no model call.

use serde::{Deserialize, Serialize};
use shared::{
    ApiError,
    ai::Provenance,
    store::{self, ItemStore},
};

use crate::{
    adapt::{AdaptError, Adapter, Level},
    errors,
    keys::{self, AdaptationId},
    readability::{self, Readability},
    settings::Settings,
};

/// An adaptation, fresh or from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapted {
    pub content: String,
    pub cached: bool,
    pub provenance: Provenance,
    pub prompt_version: String,
    pub readability: Readability,
    pub original_readability: Readability,
}

#[derive(Debug, Serialize, Deserialize)]
struct CachedAdaptation {
    chapter_id: String,
    content_sha256: String,
    difficulty_level: Level,
    prompt_version: String,
    backend: String,
    model_id: String,
    content: String,
    readability: Readability,
    original_readability: Readability,
    created_at: i64,
    expires_at: i64,
}

/// The chapter at `level`: from the cache, else made by `adapter` (bounded by the adaptation
/// timeout) and cached. Adapter failures are `processing_error`s.
pub async fn get_or_generate(
    store: &dyn ItemStore,
    adapter: &dyn Adapter,
    settings: &Settings,
    chapter_id: &str,
    original: &str,
    content_sha256: &str,
    level: Level,
) -> Result<Adapted, ApiError> {
    let provenance = adapter.provenance();
    let prompt_version = adapter.prompt_version();
    let key = keys::adaptation(&AdaptationId {
        chapter_id,
        content_sha256,
        level: level.as_str(),
        prompt_version,
        backend: &provenance.backend,
        model_id: &provenance.model_id,
    });
    if let Some(item) = store.get(&key).await? {
        match store::from_item::<CachedAdaptation>(item) {
            Ok(c)
                if c.chapter_id == chapter_id
                    && c.content_sha256 == content_sha256
                    && c.difficulty_level == level =>
            {
                return Ok(Adapted {
                    content: c.content,
                    cached: true,
                    provenance,
                    prompt_version: c.prompt_version,
                    readability: c.readability,
                    original_readability: c.original_readability,
                });
            }
            Ok(_) => tracing::warn!("adaptation cache entry does not match its key; regenerating"),
            Err(e) => tracing::warn!(error = %e, "unreadable adaptation cache entry; regenerating"),
        }
    }

    let content =
        match tokio::time::timeout(settings.adapt_timeout, adapter.adapt(original, level)).await {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => return Err(errors::processing_error(e)),
            Err(_) => return Err(errors::processing_error(AdaptError::Timeout)),
        };
    let adapted = Adapted {
        readability: readability::of_markdown(&content),
        original_readability: readability::of_markdown(original),
        content,
        cached: false,
        provenance,
        prompt_version: prompt_version.to_string(),
    };
    let now = store::now_epoch();
    let entry = CachedAdaptation {
        chapter_id: chapter_id.to_string(),
        content_sha256: content_sha256.to_string(),
        difficulty_level: level,
        prompt_version: adapted.prompt_version.clone(),
        backend: adapted.provenance.backend.clone(),
        model_id: adapted.provenance.model_id.clone(),
        content: adapted.content.clone(),
        readability: adapted.readability,
        original_readability: adapted.original_readability,
        created_at: now,
        expires_at: now + i64::try_from(settings.cache_ttl.as_secs()).unwrap_or(i64::MAX / 2),
    };
    let mut item = store::to_item(&entry)?;
    item.insert(store::PK.into(), key.pk.into());
    item.insert(store::SK.into(), key.sk.into());
    // A failed cache write costs a regeneration later, not this response.
    if let Err(e) = store.put(item, None).await {
        tracing::warn!(error = %e, "could not cache the adaptation");
    }
    Ok(adapted)
}
