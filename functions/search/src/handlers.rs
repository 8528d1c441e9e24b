//! Handlers of the search routes. Scoring runs over the instance's catalog snapshot; the query is
//! embedded with the configured embedder; every search is logged for analytics (CTR, zero-result
//! rate) and for suggestions.

use std::{collections::HashSet, sync::Arc, time::Instant};

use axum::{
    Json,
    extract::{RawQuery, State},
};
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    api::products::ProductDetail,
    domain::{
        catalog::{
            self,
            search::{self, Hit, SearchLog},
            snapshot::{self, SnapshotCache},
        },
        interactions::{self, Actor, InteractionKind, Signal},
    },
    error::ErrorBody,
    http::{AuthUser, ValidJson, ValidQuery},
    money::Cents,
};

use crate::models::*;

/// The brands of `brand[]=A&brand[]=B` (or `brand=A&brand=B`), trimmed and non-empty.
fn brands(raw: Option<&str>) -> Vec<String> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "brand[]" || k == "brand")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Whether a hit passes the filters (`category` holds the category and its sub-categories).
/// `price`: the query's bounds in cents (converted once per request).
fn keep(
    hit: &Hit<'_>,
    q: &SearchParams,
    category: Option<&HashSet<String>>,
    price: (Option<Cents>, Option<Cents>),
) -> bool {
    let p = hit.product;
    category.is_none_or(|ids| ids.contains(&p.category_id))
        && (q.brands.is_empty()
            || p.brand
                .as_deref()
                .is_some_and(|b| q.brands.iter().any(|w| w.eq_ignore_ascii_case(b))))
        && price.0.is_none_or(|m| p.price >= m)
        && price.1.is_none_or(|m| p.price <= m)
        && q.in_stock.is_none_or(|s| p.available() == s)
}

/// Search products by relevance (text and meaning), with filters, sorts and pages. Every search is
/// logged; its `search_id` is what `track-click` takes.
#[utoipa::path(
    get, path = "/api/v1/search", tag = "search",
    params(SearchParams, ("brand[]" = Option<Vec<String>>, Query, description = "Brands (repeat the parameter)")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = SearchResponse),
        (status = 422, description = "Missing or empty q, or an invalid parameter", body = ErrorBody),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    State(snapshots): State<Arc<SnapshotCache>>,
    auth: Option<AuthUser>,
    RawQuery(raw): RawQuery,
    ValidQuery(mut q): ValidQuery<SearchParams>,
) -> ApiResult<Json<SearchResponse>> {
    let started = Instant::now();
    if let (Some(min), Some(max)) = (q.price_min, q.price_max)
        && min > max
    {
        return Err(ApiError::invalid_field(
            "price_min",
            "must not be greater than price_max",
        ));
    }
    q.brands = brands(raw.as_deref());
    let store = state.store.as_ref();
    let snapshot = snapshots.get(&state.store).await?;
    let vectors = snapshot.vectors(store).await?;
    // The text score alone still works when the embedder fails: log and go on.
    let query_vector = match state.embedder.embed(&q.q).await {
        Ok(e) => Some(e.vector),
        Err(e) => {
            tracing::warn!(error = %e, "query embedding failed; text relevance only");
            None
        }
    };
    let category = q.category_id.as_deref().map(|id| {
        snapshot
            .categories
            .get(id)
            .map(|c| snapshot.category_ids_named(&c.slug))
            .unwrap_or_default()
    });
    let price = (
        q.price_min.map(Cents::at_least),
        q.price_max.map(Cents::at_most),
    );
    let mut hits: Vec<Hit<'_>> = search::score(
        snapshot.search_index(),
        &snapshot.products,
        Some(&vectors),
        &q.q,
        query_vector.as_deref(),
    )
    .into_iter()
    .filter(|h| keep(h, &q, category.as_ref(), price))
    .collect();
    match q.sort_by.as_deref().unwrap_or("relevance") {
        "price_low" => hits.sort_by_key(|h| h.product.price),
        "price_high" => hits.sort_by_key(|h| std::cmp::Reverse(h.product.price)),
        "name" => hits.sort_by_key(|h| h.product.name.to_lowercase()),
        "newest" => hits.sort_by(|a, b| b.product.created_at.cmp(&a.product.created_at)),
        _ => hits.sort_by(|a, b| {
            b.relevance
                .total_cmp(&a.relevance)
                .then_with(|| a.product.id.cmp(&b.product.id))
        }),
    }
    let total = hits.len();
    let start = (q.page as usize - 1).saturating_mul(q.page_size as usize);
    let page: Vec<&Hit<'_>> = hits.iter().skip(start).take(q.page_size as usize).collect();
    // Current price and stock for the page.
    let ids: Vec<String> = page.iter().map(|h| h.product.id.clone()).collect();
    let fresh = catalog::get_products(store, &ids).await?;
    let products = page
        .iter()
        .filter_map(|h| {
            let p = fresh.iter().find(|p| p.id == h.product.id)?;
            Some(SearchHit {
                id: p.id.clone(),
                name: p.name.clone(),
                price: p.price.to_f64(),
                relevance_score: (h.relevance * 10_000.0).round() / 10_000.0,
                match_reason: h.match_reason.into(),
                in_stock: p.available(),
                product: ProductDetail::new(
                    p,
                    snapshot.category_name(&p.category_id).unwrap_or(""),
                ),
            })
        })
        .collect();
    let search_suggestions = search::suggestions(
        store,
        snapshot.search_index(),
        &snapshot.products,
        &snapshot.categories,
        &q.q,
        5,
    )
    .await?;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let entry = SearchLog {
        id: uuid::Uuid::new_v4().to_string(),
        query: q.q.trim().to_string(),
        user_id: auth.map(|a| a.user_id),
        result_count: total as u64,
        latency_ms,
        created_at: shared::store::now_rfc3339(),
        clicks: 0,
    };
    search::log_search(store, &entry).await?;
    shared::domain::analytics::record_logged(
        store,
        shared::domain::analytics::Event::Search(&entry),
    )
    .await;
    Ok(Json(SearchResponse {
        search_id: entry.id,
        products,
        total_count: total as u64,
        page: q.page,
        page_size: q.page_size,
        total_pages: snapshot::page_count(total, q.page_size as usize) as u64,
        response_time_ms: latency_ms,
        search_suggestions,
    }))
}

/// Completions for a prefix: popular past searches, categories, product names.
#[utoipa::path(
    get, path = "/api/v1/search/suggestions", tag = "search",
    params(SuggestionParams),
    responses((status = 200, body = Suggestions), (status = 422, body = ErrorBody))
)]
pub async fn suggestions(
    State(state): State<AppState>,
    State(snapshots): State<Arc<SnapshotCache>>,
    ValidQuery(q): ValidQuery<SuggestionParams>,
) -> ApiResult<Json<Suggestions>> {
    let store = state.store.as_ref();
    let snapshot = snapshots.get(&state.store).await?;
    let suggestions = search::suggestions(
        store,
        snapshot.search_index(),
        &snapshot.products,
        &snapshot.categories,
        &q.q,
        q.limit as usize,
    )
    .await?;
    Ok(Json(Suggestions { suggestions }))
}

/// Record a click on a result of a logged search (feeds search click-through analytics). A click
/// on a signed-in user's search is also recorded in that user's interaction log.
#[utoipa::path(
    post, path = "/api/v1/search/track-click", tag = "search",
    request_body = TrackClickRequest,
    responses(
        (status = 200, body = Message),
        (status = 404, description = "Unknown search or product", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn track_click(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<TrackClickRequest>,
) -> ApiResult<Json<Message>> {
    let store = state.store.as_ref();
    let record = state.config.record_interactions;
    // Who searched (the log keeps the user of a signed-in search), read with the product.
    let (product, searcher) = tokio::join!(catalog::get_product(store, &req.product_id), async {
        if !record {
            return Ok(None);
        }
        let log = store
            .get(&shared::store::keys::search_log(&req.search_id))
            .await?;
        Ok::<_, shared::store::StoreError>(log.and_then(|item| {
            item.get("user_id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        }))
    });
    if product?.is_none() {
        return Err(ApiError::not_found("Product not found").with_code(ErrorCode::ProductNotFound));
    }
    if !search::track_click(store, &req.search_id, &req.product_id, req.position).await? {
        return Err(ApiError::not_found("Search not found").with_code(ErrorCode::SearchNotFound));
    }
    // The click is counted: the interaction log must not fail it (a failed read of the searcher
    // only leaves the click out of the log).
    let signals: Vec<Signal> = searcher
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read the searcher of a click");
            None
        })
        .map(|user| {
            Signal::new(
                Actor::User(user),
                req.product_id.clone(),
                InteractionKind::SearchClick,
            )
        })
        .into_iter()
        .collect();
    interactions::record_if(record, store, &signals).await;
    shared::domain::analytics::record_logged(
        store,
        shared::domain::analytics::Event::SearchClick {
            search_id: &req.search_id,
        },
    )
    .await;
    Ok(Json(Message {
        message: "Click tracked".into(),
    }))
}
