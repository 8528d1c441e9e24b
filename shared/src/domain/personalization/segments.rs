//! A user's spec 000 segments, computed from what is stored about them, never by a scan:
//! the profile (`date_of_birth`: age group) and preferences (interests and categories:
//! `multi_interest`) by `GetItem`, the user's interaction-log aggregates (activity level) by one
//! `begins_with` query on the user's own key prefix, and the spec 002 segments the user is a
//! member of ([`segments_of_user`]). The rules are [`crate::reco::personalization`]'s.
//!
//! Cached as `user:{id}:segments` ([`super::cache`]); the engagement rollups
//! ([`super::rollups`]) read the same entry when an interaction is recorded.

use serde::{Deserialize, Serialize};

use crate::{
    domain::{
        interactions::{self, Actor, InteractionKind},
        segments::membership::segments_of_user,
        users,
    },
    reco::personalization::{
        ACTIVITY_WINDOW_DAYS, activity_level, age_group, multi_interest, spec_segment_ids,
    },
    store::{ItemStore, StoreResult},
};

use super::cache;

/// One segment of a user, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmentInfo {
    pub segment_id: String,
    pub name: String,
    /// `age_group`, `activity_level`, `interest` (spec 000), or the spec 002 segment's type
    /// (`rfm`, `behavioral`, `demographic`, `interest`, `manual`).
    pub segment_type: String,
    /// `spec_000` (computed here) or `spec_002` (a user segment).
    pub source: String,
}

/// A user's segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserSegments {
    pub user_id: String,
    /// The segment ids (spec 000's first, then the spec 002 segments').
    pub segments: Vec<String>,
    pub details: Vec<SegmentInfo>,
    /// Interactions counted for the activity level.
    pub interactions: i64,
}

/// Interactions that count for the activity level: every positive kind.
fn counts_for_activity(kind: InteractionKind) -> bool {
    kind != InteractionKind::NotInterested
}

/// Whether `id` is one of the spec 000 segment ids.
pub fn is_spec_segment(id: &str) -> bool {
    spec_segment_ids().any(|s| s == id)
}

fn spec(id: &'static str, segment_type: &str, name: &str) -> SegmentInfo {
    SegmentInfo {
        segment_id: id.to_string(),
        name: name.to_string(),
        segment_type: segment_type.to_string(),
        source: "spec_000".to_string(),
    }
}

/// The user's segments now; `None` when there is no such user.
pub async fn compute(store: &dyn ItemStore, user_id: &str) -> StoreResult<Option<UserSegments>> {
    let actor = Actor::User(user_id.to_string());
    let (user, preferences, aggregates, memberships) = futures::try_join!(
        users::get(store, user_id),
        users::get_preferences(store, user_id),
        interactions::actor_aggregates(store, &actor),
        segments_of_user(store, user_id),
    )?;
    let Some(user) = user else {
        return Ok(None);
    };
    let now = chrono::Utc::now();
    let since = now.timestamp() - ACTIVITY_WINDOW_DAYS * 86_400;
    let n: i64 = aggregates
        .iter()
        .filter(|a| a.last_at >= since)
        .map(|a| {
            a.counts
                .iter()
                .filter(|(k, _)| counts_for_activity(*k))
                .map(|&(_, c)| c.max(0))
                .sum::<i64>()
        })
        .sum();
    let mut details = Vec::new();
    if let Some(g) = age_group(user.date_of_birth.as_deref(), now.date_naive()) {
        details.push(spec(
            g,
            "age_group",
            &format!("Age {}", g.replace('_', "-")),
        ));
    }
    let level = activity_level(n);
    details.push(spec(level, "activity_level", &level.replace('_', " ")));
    if multi_interest(
        preferences
            .interests
            .iter()
            .chain(&preferences.categories)
            .map(String::as_str),
    ) {
        details.push(spec(
            crate::reco::personalization::MULTI_INTEREST,
            "interest",
            "multi interest",
        ));
    }
    for m in memberships {
        if details.iter().any(|d| d.segment_id == m.segment_id) {
            continue;
        }
        details.push(SegmentInfo {
            segment_id: m.segment_id,
            name: m.name,
            segment_type: m.segment_type,
            source: "spec_002".to_string(),
        });
    }
    Ok(Some(UserSegments {
        user_id: user_id.to_string(),
        segments: details.iter().map(|d| d.segment_id.clone()).collect(),
        details,
        interactions: n,
    }))
}

/// The user's segment ids for recording an interaction: the cached entry when there is one,
/// else computed and cached (no memory layer: the recording functions hold no state for it).
/// An unknown user has none.
pub async fn ids_for_recording(store: &dyn ItemStore, user_id: &str) -> StoreResult<Vec<String>> {
    let key = cache::user_segments_key(user_id);
    if let Some(c) = cache::get_stored(store, &key).await?
        && let Ok(s) = serde_json::from_value::<UserSegments>((*c.value).clone())
    {
        return Ok(s.segments);
    }
    let Some(s) = compute(store, user_id).await? else {
        return Ok(Vec::new());
    };
    let value =
        serde_json::to_value(&s).map_err(|e| crate::store::StoreError::Invalid(e.to_string()))?;
    cache::put_stored(store, &key, value).await?;
    Ok(s.segments)
}
