//! Handlers of the textbook routes (spec 001). No authentication: sessions are identified by
//! client-generated ids.

use axum::{
    Json,
    extract::{Path, State},
};
use chrono::SecondsFormat;
use shared::{ApiResult, error::ErrorBody};

use crate::{
    TextbookState,
    adapt::Level,
    cache::{self, Adapted},
    errors, keys,
    models::*,
    position::{self, MappedPosition},
    readability::ReadabilityPair,
    sessions::{self, PersonalizationSession, Preferences},
    settings::Settings,
};

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn check_content(settings: &Settings, content: &str) -> ApiResult<()> {
    if content.trim().is_empty() {
        return Err(errors::missing_field("chapter_content"));
    }
    if content.len() > settings.max_content_bytes {
        return Err(errors::content_too_large(settings.max_content_bytes));
    }
    Ok(())
}

/// Everything a personalize or change-difficulty writes and answers.
struct Outcome<'a> {
    previous: Option<&'a PersonalizationSession>,
    session_id: String,
    chapter_id: String,
    original: String,
    content_sha256: String,
    level: Level,
    adapted: Adapted,
    mapped: MappedPosition,
    preferred_format: Option<String>,
    content_focus: Option<String>,
}

async fn store_and_answer(
    ctx: &TextbookState,
    o: Outcome<'_>,
) -> ApiResult<Json<PersonalizeResponse>> {
    let (now, expires_at) = sessions::access_times(&ctx.settings);
    let previous_prefs = o.previous.map(|s| &s.preferences);
    let preferences = Preferences {
        difficulty_level: o.level,
        reading_position: o.mapped.reading_position,
        preferred_format: o
            .preferred_format
            .or_else(|| previous_prefs.and_then(|p| p.preferred_format.clone())),
        content_focus: o
            .content_focus
            .or_else(|| previous_prefs.and_then(|p| p.content_focus.clone())),
    };
    let session = PersonalizationSession {
        session_id: o.session_id,
        difficulty_level: o.level,
        original_content: o.original,
        personalized_content: o.adapted.content,
        chapter_id: o.chapter_id,
        created_at: o.previous.map_or(now, |s| s.created_at),
        last_accessed: now,
        reading_position: o.mapped.reading_position,
        preferences,
        showing_original: false,
        content_sha256: o.content_sha256,
        backend: o.adapted.provenance.backend.clone(),
        model_id: o.adapted.provenance.model_id.clone(),
        prompt_version: o.adapted.prompt_version.clone(),
        readability: o.adapted.readability,
        original_readability: o.adapted.original_readability,
        expires_at,
    };
    sessions::put(ctx.app.store.as_ref(), &session, o.previous.is_some()).await?;
    Ok(Json(PersonalizeResponse {
        session_id: session.session_id,
        personalized_content: session.personalized_content,
        difficulty_level: o.level,
        chapter_id: session.chapter_id,
        timestamp: timestamp(),
        reading_position: o.mapped.reading_position,
        position: o.mapped.anchor,
        cached: o.adapted.cached,
        backend: session.backend,
        model_id: session.model_id,
        prompt_version: session.prompt_version,
        readability: ReadabilityPair {
            returned: session.readability,
            original: session.original_readability,
        },
        preferences: session.preferences,
        expires_at,
    }))
}

/// Personalize a chapter at a reading level; creates (or replaces) the session.
#[utoipa::path(
    post, path = "/api/personalization/personalize", tag = "textbook",
    request_body = PersonalizeRequest,
    responses(
        (status = 200, body = PersonalizeResponse),
        (status = 400, description = "invalid_difficulty, missing_required_field, invalid_reading_position, malformed JSON", body = ErrorBody),
        (status = 413, description = "content_too_large: chapter_content over TEXTBOOK_MAX_CONTENT_BYTES (default 131072)", body = ErrorBody),
        (status = 500, description = "processing_error", body = ErrorBody),
        (status = 503, description = "processing_error: the model is throttling; retry after Retry-After", body = ErrorBody),
    )
)]
pub async fn personalize(
    State(ctx): State<TextbookState>,
    body: JsonObject,
) -> ApiResult<Json<PersonalizeResponse>> {
    let req = body.personalize()?;
    check_id("session_id", &req.session_id)?;
    check_id("chapter_id", &req.chapter_id)?;
    let level = parse_level(&req.difficulty_level)?;
    let position = check_position(req.reading_position)?;
    check_content(&ctx.settings, &req.chapter_content)?;
    let preferred_format = check_preference("preferred_format", req.preferred_format)?;
    let content_focus = check_preference("content_focus", req.content_focus)?;

    let store = ctx.app.store.as_ref();
    let previous = sessions::get(store, &req.session_id).await?;
    let content_sha256 = keys::content_hash(&req.chapter_content);
    let adapted = cache::get_or_generate(
        store,
        ctx.adapter.as_ref(),
        &ctx.settings,
        &req.chapter_id,
        &req.chapter_content,
        &content_sha256,
        level,
    )
    .await?;
    // The position is in what the reader sees: the session's text when it holds this chapter.
    let same = previous
        .as_ref()
        .filter(|s| s.chapter_id == req.chapter_id && s.content_sha256 == content_sha256);
    let mapped = match same {
        Some(s) => position::map(
            s.shown(),
            &adapted.content,
            position.unwrap_or(s.reading_position),
        ),
        None => position::map(
            &req.chapter_content,
            &adapted.content,
            position.unwrap_or(0),
        ),
    };
    let outcome = Outcome {
        previous: previous.as_ref(),
        session_id: req.session_id,
        chapter_id: req.chapter_id,
        original: req.chapter_content,
        content_sha256,
        level,
        adapted,
        mapped,
        preferred_format,
        content_focus,
    };
    store_and_answer(&ctx, outcome).await
}

/// Change the level of an existing session; the reading position moves to the same section and
/// paragraph of the new text. On a processing error the session keeps its previous content.
#[utoipa::path(
    post, path = "/api/personalization/change-difficulty", tag = "textbook",
    request_body = ChangeDifficultyRequest,
    responses(
        (status = 200, body = PersonalizeResponse),
        (status = 400, description = "invalid_difficulty, missing_required_field, invalid_reading_position, malformed JSON", body = ErrorBody),
        (status = 404, description = "session_not_found (unknown or expired)", body = ErrorBody),
        (status = 413, description = "content_too_large", body = ErrorBody),
        (status = 500, description = "processing_error", body = ErrorBody),
        (status = 503, description = "processing_error: the model is throttling", body = ErrorBody),
    )
)]
pub async fn change_difficulty(
    State(ctx): State<TextbookState>,
    body: JsonObject,
) -> ApiResult<Json<PersonalizeResponse>> {
    let req = body.change_difficulty()?;
    check_id("session_id", &req.session_id)?;
    let level = parse_level(&req.difficulty_level)?;
    let position = check_position(req.reading_position)?;
    if let Some(content) = &req.chapter_content {
        check_content(&ctx.settings, content)?;
    }
    let chapter_id = req.chapter_id.filter(|c| !c.trim().is_empty());
    if let Some(id) = &chapter_id {
        check_id("chapter_id", id)?;
    }
    let preferred_format = check_preference("preferred_format", req.preferred_format)?;
    let content_focus = check_preference("content_focus", req.content_focus)?;

    let store = ctx.app.store.as_ref();
    let session = sessions::require(store, &req.session_id).await?;
    let original = req
        .chapter_content
        .unwrap_or_else(|| session.original_content.clone());
    let chapter_id = chapter_id.unwrap_or_else(|| session.chapter_id.clone());
    let content_sha256 = keys::content_hash(&original);
    let adapted = cache::get_or_generate(
        store,
        ctx.adapter.as_ref(),
        &ctx.settings,
        &chapter_id,
        &original,
        &content_sha256,
        level,
    )
    .await?;
    let same = session.chapter_id == chapter_id && session.content_sha256 == content_sha256;
    let mapped = if same {
        position::map(
            session.shown(),
            &adapted.content,
            position.unwrap_or(session.reading_position),
        )
    } else {
        position::map(&original, &adapted.content, position.unwrap_or(0))
    };
    let outcome = Outcome {
        previous: Some(&session),
        session_id: req.session_id,
        chapter_id,
        original,
        content_sha256,
        level,
        adapted,
        mapped,
        preferred_format,
        content_focus,
    };
    store_and_answer(&ctx, outcome).await
}

/// The session's original chapter; the reading position moves to the same place in it.
#[utoipa::path(
    post, path = "/api/personalization/toggle-original", tag = "textbook",
    request_body = ToggleOriginalRequest,
    responses(
        (status = 200, body = ToggleOriginalResponse),
        (status = 400, description = "missing_required_field, invalid_reading_position, malformed JSON", body = ErrorBody),
        (status = 404, description = "session_not_found (unknown or expired)", body = ErrorBody),
        (status = 500, description = "processing_error", body = ErrorBody),
    )
)]
pub async fn toggle_original(
    State(ctx): State<TextbookState>,
    body: JsonObject,
) -> ApiResult<Json<ToggleOriginalResponse>> {
    let req = body.toggle_original()?;
    check_id("session_id", &req.session_id)?;
    let position = check_position(req.reading_position)?;
    let store = ctx.app.store.as_ref();
    let session = sessions::require(store, &req.session_id).await?;
    let pos = position.unwrap_or(session.reading_position);
    let mapped = if session.showing_original {
        let len = session.original_content.chars().count() as u64;
        MappedPosition {
            reading_position: pos.min(len),
            anchor: position::locate(&session.original_content, pos),
        }
    } else {
        position::map(
            &session.personalized_content,
            &session.original_content,
            pos,
        )
    };
    sessions::show_original(store, &ctx.settings, &session, mapped.reading_position).await?;
    let (_, expires_at) = sessions::access_times(&ctx.settings);
    Ok(Json(ToggleOriginalResponse {
        session_id: session.session_id,
        original_content: session.original_content,
        timestamp: timestamp(),
        reading_position: mapped.reading_position,
        position: mapped.anchor,
        readability: ReadabilityPair {
            returned: session.original_readability,
            original: session.original_readability,
        },
        expires_at,
    }))
}

/// Delete a session.
#[utoipa::path(
    delete, path = "/api/personalization/session/{session_id}", tag = "textbook",
    params(("session_id" = String, Path, max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$", description = "The session to clear")),
    responses(
        (status = 200, body = SessionCleared),
        (status = 400, description = "invalid_identifier: over 200 characters or a control character", body = ErrorBody),
        (status = 404, description = "session_not_found (unknown or expired)", body = ErrorBody),
    )
)]
pub async fn delete_session(
    State(ctx): State<TextbookState>,
    Path(session_id): Path<String>,
) -> ApiResult<Json<SessionCleared>> {
    check_id("session_id", &session_id)?;
    sessions::delete(ctx.app.store.as_ref(), &session_id).await?;
    Ok(Json(SessionCleared {
        message: "Session cleared successfully".into(),
        session_id,
    }))
}
