//! The four answers of the spec 000 routes, each behind its cache ([`super::cache`]):
//! a user's segments, a segment's best content, one content's performance across segments, and a
//! user's personalised content (the 40/30/20/10 blend of [`crate::reco::personalization`]).
//!
//! **Request path budget** (no scan, no model call to a remote service): a cached answer is a
//! memory hit, or one `GetItem` once the memory copy is older than 5 s. Computing:
//! - segments: two `GetItem`s and one `Query` on the user's own key prefix, plus the spec 002
//!   memberships ([`super::segments::compute`]);
//! - segment recommendations: the segment's rollup partitions of the last [`WINDOW_DAYS`] days
//!   (`7 x 4` queries with a projection, 16 at a time), everyone's figures for its best
//!   [`CANDIDATES`] contents and the day totals (batch gets);
//! - content performance (not cached: not one of the spec's cache keys, and one batch get):
//!   the content's items of the window;
//! - personalised content: the user's segments and each segment's recommendations (cached
//!   entries), the user's interaction aggregates (one `Query`), and the models in memory
//!   ([`ModelCache`]: item-kNN for history, ALS for collaborative, trending) with the catalog
//!   snapshot: the same plumbing as [`crate::domain::recommendations`].
//!
//! **Sources of the blend**: segment-based = the user's segments' recommendations (a content's
//! best affinity score over the segments); history-based = item-kNN neighbours of the user's
//! [`RECENT`] most recent items (the `content` embedding model when no item-kNN model is in
//! force); collaborative = ALS scores of the user's weighted history folded in (EASE when no
//! ALS model is in force); trending = the `trending` model (popularity from the snapshot when
//! none is in force). Left out: inactive or out-of-stock products, what the user said "not
//! interested" to, and what they already interacted with (viewed, carted, bought...; a bought
//! product of a consumable category stays).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    domain::{
        catalog::snapshot::CatalogSnapshot,
        interactions::{self, Actor, InteractionKind},
        ml_models::ModelCache,
        recommendations::{Ctx, Serving, model_scores, neighbours_of, top_ids},
        videos,
    },
    reco::{
        model::ModelKind,
        personalization::{BlendWeights, Engagement, Source, blend, segment_affinity},
    },
    store::{StoreError, StoreResult},
};

use super::{
    cache::{self, Cached, Hit, MemoryCache},
    closed_days::ClosedDays,
    rollups::{self, ALL},
    segments::{self, UserSegments},
};

/// Days of engagement the segment recommendations read.
pub const WINDOW_DAYS: u32 = 7;
/// A segment's contents (by engagement in it) whose overall figures are read.
pub const CANDIDATES: usize = 60;
/// Items kept in a cached list (the routes' largest `limit`).
pub const LIST_MAX: usize = 50;
/// Recent history items the history source starts from.
pub const RECENT: usize = 5;
/// Candidates asked of each model.
const POOL: usize = 150;

fn encode<T: Serialize>(v: &T) -> StoreResult<Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// One request's view of the engine.
pub struct Engine<'a> {
    pub app: &'a AppState,
    pub models: &'a ModelCache,
    pub serving: &'a Serving,
    pub memory: &'a MemoryCache,
    pub closed: &'a ClosedDays,
    pub weights: BlendWeights,
}

impl Engine<'_> {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            app: self.app,
            models: self.models,
            serving: self.serving,
        }
    }

    fn store(&self) -> &dyn crate::store::ItemStore {
        self.app.store.as_ref()
    }

    /// `user:{id}:segments` (`None`: unknown user).
    pub async fn user_segments(
        &self,
        user_id: &str,
        fresh: bool,
    ) -> StoreResult<Option<(Cached, Hit)>> {
        let store = self.store();
        cache::get_or_compute(
            self.memory,
            store,
            &cache::user_segments_key(user_id),
            fresh,
            || async move {
                match segments::compute(store, user_id).await? {
                    Some(s) => Ok(Some(encode(&s)?)),
                    None => Ok(None),
                }
            },
        )
        .await
    }

    /// `segment:{id}:recommendations` (`None`: not a spec 000 segment and no engagement
    /// recorded for it in the window).
    pub async fn segment_recommendations(
        &self,
        segment_id: &str,
        fresh: bool,
    ) -> StoreResult<Option<(Cached, Hit)>> {
        cache::get_or_compute(
            self.memory,
            self.store(),
            &cache::segment_recommendations_key(segment_id),
            fresh,
            || self.compute_segment_recommendations(segment_id),
        )
        .await
    }

    async fn compute_segment_recommendations(
        &self,
        segment_id: &str,
    ) -> StoreResult<Option<Value>> {
        let store = self.store();
        let today = chrono::Utc::now().date_naive();
        let days = rollups::period(today, WINDOW_DAYS);
        let ctx = self.ctx();
        let (in_segment, totals, snapshot) = futures::try_join!(
            self.closed
                .segment_engagement(store, segment_id, &days, today),
            self.closed.totals(store, &days, today),
            ctx.snapshot(),
        )?;
        // Known: a spec 000 id, a spec 002 segment record, or engagement recorded under the id
        // (a deleted spec 002 segment whose rollups are still in the window).
        if in_segment.is_empty()
            && !segments::is_spec_segment(segment_id)
            && crate::domain::segments::records::get(store, segment_id)
                .await?
                .is_none()
        {
            return Ok(None);
        }
        let by_engagement = in_segment.top(CANDIDATES, |id| {
            snapshot.product(id).is_some_and(|p| p.is_active)
        });
        let candidates: Vec<String> = by_engagement.iter().map(|(id, _)| id.clone()).collect();
        let overall = self
            .closed
            .content_engagement(store, &candidates, &days, today)
            .await?;
        let segment: HashMap<String, i64> = by_engagement.into_iter().collect();
        let everyone: HashMap<String, i64> = overall
            .iter()
            .map(|(id, per)| (id.clone(), per.get(ALL).map_or(0, Engagement::weighted)))
            .collect();
        let segment_total = totals.get(segment_id).copied().unwrap_or(0);
        let overall_total = totals.get(ALL).copied().unwrap_or(0);
        let recommendations: Vec<Value> =
            segment_affinity(&segment, segment_total, &everyone, overall_total)
                .into_iter()
                .filter_map(|a| {
                    let p = snapshot.product(&a.content_id)?;
                    let e = in_segment.get(&a.content_id);
                    Some(json!({
                        "id": p.id,
                        "title": p.name,
                        "content_type": "product",
                        "score": round4(a.score),
                        "lift": round4(a.lift),
                        "segment_engagement": {
                            "views": e.views, "clicks": e.clicks,
                            "add_to_carts": e.add_to_carts, "purchases": e.purchases,
                        },
                    }))
                })
                .take(LIST_MAX)
                .collect();
        Ok(Some(json!({
            "segment": segment_id,
            "window_days": WINDOW_DAYS,
            "recommendations": recommendations,
        })))
    }

    /// Engagement of one product or shoppable video (a video's is its product's: video events
    /// are recorded on the product) per segment over the last `days` days (`None`: unknown).
    pub async fn content_performance(
        &self,
        content_id: &str,
        days: u32,
    ) -> StoreResult<Option<Value>> {
        let store = self.store();
        let snapshot = self.ctx().snapshot().await?;
        let (content_type, product_id, video_id) = if snapshot.product(content_id).is_some() {
            ("product", content_id.to_string(), None)
        } else {
            match videos::get(store, content_id).await? {
                Some(v) => ("video", v.product_id, Some(v.id)),
                None => return Ok(None),
            }
        };
        let today = chrono::Utc::now().date_naive();
        let period = rollups::period(today, days);
        let per = self
            .closed
            .content_engagement(store, std::slice::from_ref(&product_id), &period, today)
            .await?
            .remove(&product_id)
            .unwrap_or_default();
        let row = |segment: &str, e: &Engagement| {
            json!({
                "segment": segment,
                "views": e.views,
                "clicks": e.clicks,
                "add_to_carts": e.add_to_carts,
                "purchases": e.purchases,
                "click_rate": e.rate(e.clicks),
                "add_to_cart_rate": e.rate(e.add_to_carts),
                "purchase_rate": e.rate(e.purchases),
            })
        };
        let overall = per.get(ALL).copied().unwrap_or_default();
        let mut rows: Vec<(&String, &Engagement)> =
            per.iter().filter(|(s, _)| s.as_str() != ALL).collect();
        rows.sort_by(|a, b| b.1.weighted().cmp(&a.1.weighted()).then(a.0.cmp(b.0)));
        Ok(Some(json!({
            "content_id": content_id,
            "content_type": content_type,
            "product_id": product_id,
            "video_id": video_id,
            "title": snapshot.product(&product_id).map(|p| p.name.clone()),
            "days": days,
            "overall": row(ALL, &overall),
            "segments": rows.into_iter().map(|(s, e)| row(s, e)).collect::<Vec<_>>(),
        })))
    }

    /// `user:{id}:personalized_content` (`None`: unknown user): the [`LIST_MAX`] best items.
    pub async fn personalized_content(
        &self,
        user_id: &str,
        fresh: bool,
    ) -> StoreResult<Option<(Cached, Hit)>> {
        cache::get_or_compute(
            self.memory,
            self.store(),
            &cache::user_content_key(user_id),
            fresh,
            || self.compute_content(user_id),
        )
        .await
    }

    async fn compute_content(&self, user_id: &str) -> StoreResult<Option<Value>> {
        let Some((segs, _)) = self.user_segments(user_id, false).await? else {
            return Ok(None);
        };
        let segs: UserSegments = serde_json::from_value((*segs.value).clone())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let store = self.store();
        let ctx = self.ctx();
        let actor = Actor::User(user_id.to_string());
        let (settings, snapshot, mut aggregates) = futures::try_join!(
            self.serving.settings(self.app),
            ctx.snapshot(),
            interactions::actor_aggregates(store, &actor),
        )?;
        aggregates.sort_by(|a, b| {
            b.last_at
                .cmp(&a.last_at)
                .then(a.product_id.cmp(&b.product_id))
        });
        let mut history: Vec<(String, f32)> = Vec::new();
        let mut excluded: HashSet<String> = HashSet::new();
        for a in &aggregates {
            let bought = a
                .counts
                .iter()
                .any(|&(k, n)| k == InteractionKind::Purchase && n > 0);
            let consumable = snapshot
                .product(&a.product_id)
                .and_then(|p| snapshot.categories.get(&p.category_id))
                .is_some_and(|c| c.consumable);
            if a.not_interested() || (bought && !consumable) {
                excluded.insert(a.product_id.clone());
            }
            if a.not_interested() {
                continue;
            }
            let w = settings.kind_weights.weigh(&a.counts);
            if w > 0.0 {
                history.push((a.product_id.clone(), w));
                // Already seen: not offered again (as in the personal recommendation lists),
                // except a consumable bought again.
                if !(bought && consumable) {
                    excluded.insert(a.product_id.clone());
                }
            }
        }
        let recent: Vec<String> = history.iter().take(RECENT).map(|h| h.0.clone()).collect();

        // Segment-based: each segment's cached recommendations, a content's best score.
        let lists = futures::future::try_join_all(
            segs.segments
                .iter()
                .map(|s| self.segment_recommendations(s, false)),
        )
        .await?;
        let mut by_segment: HashMap<String, f32> = HashMap::new();
        for (cached, _) in lists.into_iter().flatten() {
            for r in cached.value["recommendations"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let (Some(id), Some(score)) = (r["id"].as_str(), r["score"].as_f64()) else {
                    continue;
                };
                let e = by_segment.entry(id.to_string()).or_insert(0.0);
                *e = e.max(score as f32);
            }
        }
        let segment_list: Vec<(String, f32)> = by_segment.into_iter().collect();

        // History-based: neighbours of the recent items.
        let history_list: Vec<(String, f32)> = match ctx.model(ModelKind::ItemKnn).await {
            Some(m) => Some(m),
            None => ctx.model(ModelKind::Content).await,
        }
        .map(|m| {
            neighbours_of(&m, &recent, POOL)
                .into_iter()
                .map(|(id, s, _)| (id, s))
                .collect()
        })
        .unwrap_or_default();

        // Collaborative: the history folded into ALS (EASE when no ALS model is in force).
        let collaborative: Vec<(String, f32)> = if history.is_empty() {
            Vec::new()
        } else {
            match ctx.model(ModelKind::Als).await {
                Some(m) => Some(m),
                None => ctx.model(ModelKind::Ease).await,
            }
            .map(|m| {
                let scores = model_scores(&m, &history);
                top_ids(&m, &scores, POOL, true)
            })
            .unwrap_or_default()
        };

        // Trending (popular from the snapshot when no trending model is in force).
        let mut trending = ctx.trending(POOL).await;
        if trending.is_empty() {
            trending = ctx.popular(&snapshot, POOL).await;
        }

        let ok = |id: &String| {
            !excluded.contains(id)
                && snapshot
                    .product(id)
                    .is_some_and(|p| p.is_active && p.available())
        };
        let keep = |l: Vec<(String, f32)>| -> Vec<(String, f32)> {
            l.into_iter().filter(|x| ok(&x.0)).collect()
        };
        let blended = blend(
            self.weights,
            &[
                (Source::Segment, keep(segment_list)),
                (Source::History, keep(history_list)),
                (Source::Collaborative, keep(collaborative)),
                (Source::Trending, keep(trending)),
            ],
        );
        let content: Vec<Value> = blended
            .into_iter()
            .filter_map(|b| content_item(&snapshot, &b))
            .take(LIST_MAX)
            .collect();
        Ok(Some(json!({
            "user_id": user_id,
            "segments": segs.segments,
            "weights": weights_json(self.weights),
            "content": content,
        })))
    }

    /// Recomputes the user's segments and personalised content now (`None`: unknown user).
    pub async fn refresh(&self, user_id: &str) -> StoreResult<Option<(Cached, Cached)>> {
        self.memory.invalidate_user(user_id);
        let Some((segs, _)) = self.user_segments(user_id, true).await? else {
            return Ok(None);
        };
        let Some((content, _)) = self.personalized_content(user_id, true).await? else {
            return Ok(None);
        };
        Ok(Some((segs, content)))
    }
}

/// The weights as `{"segment": 0.4, ...}`.
pub fn weights_json(w: BlendWeights) -> Value {
    let mut m = serde_json::Map::new();
    for s in Source::ALL {
        m.insert(s.name().into(), json!(round4(f64::from(w.of(s)))));
    }
    Value::Object(m)
}

fn content_item(
    snapshot: &CatalogSnapshot,
    b: &crate::reco::personalization::Blended,
) -> Option<Value> {
    let p = snapshot.product(&b.id)?;
    let mut contributions = serde_json::Map::new();
    for (s, c) in Source::ALL.iter().zip(b.contributions) {
        contributions.insert(s.name().into(), json!(round4(f64::from(c))));
    }
    Some(json!({
        "id": p.id,
        "title": p.name,
        "content_type": "product",
        "category": snapshot.category_name(&p.category_id).unwrap_or(""),
        "price": p.price.to_f64(),
        "score": round4(f64::from(b.score)),
        "contributions": contributions,
    }))
}
