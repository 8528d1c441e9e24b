//! Handlers of the catalog routes. Lists and similar products are answered from the instance's
//! catalog snapshot (see `shared::domain::catalog::snapshot`); the detail and the page of a list are
//! re-read from the store so that price and stock are current.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
    http::HeaderMap,
};
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    api::products::{ProductDetail, ProductSummary},
    domain::{
        catalog::{
            self, CategoryNode,
            snapshot::{ProductFilter, SnapshotCache, SortBy, SortOrder},
        },
        fbt,
        interactions::{self, Actor, InteractionKind, Signal},
        rec_tracking, viewed,
    },
    error::ErrorBody,
    http::{AuthUser, ValidQuery, pagination::Paginated},
    money::Cents,
};

use crate::models::*;

fn product_not_found() -> ApiError {
    ApiError::not_found("Product not found").with_code(ErrorCode::ProductNotFound)
}

/// Products, filtered, sorted and paged.
#[utoipa::path(
    get, path = "/api/v1/products", tag = "products",
    params(ListParams),
    responses(
        (status = 200, body = Paginated<ProductSummary>),
        (status = 422, description = "Invalid parameter", body = ErrorBody),
    )
)]
pub async fn list_products(
    State(state): State<AppState>,
    State(snapshots): State<Arc<SnapshotCache>>,
    ValidQuery(q): ValidQuery<ListParams>,
) -> ApiResult<Json<Paginated<ProductSummary>>> {
    if let (Some(min), Some(max)) = (q.min_price, q.max_price)
        && min > max
    {
        return Err(ApiError::invalid_field(
            "min_price",
            "must not be greater than max_price",
        ));
    }
    let snapshot = snapshots.get(&state.store).await?;
    let filter = ProductFilter {
        category: q.category.clone().filter(|c| !c.trim().is_empty()),
        brand: q.brand.clone().filter(|b| !b.trim().is_empty()),
        min_price: q.min_price.map(Cents::at_least),
        max_price: q.max_price.map(Cents::at_most),
        in_stock: q.in_stock,
        search_term: q.search_term.clone().filter(|t| !t.trim().is_empty()),
        include_inactive: false,
    };
    let sort_by = q
        .sort_by
        .as_deref()
        .and_then(SortBy::parse)
        .unwrap_or_default();
    let order = q
        .sort_order
        .as_deref()
        .and_then(SortOrder::parse)
        .unwrap_or_default();
    let page = catalog::snapshot::list_products(
        &snapshot,
        &filter,
        sort_by,
        order,
        q.page as usize,
        q.size as usize,
    );
    // Current price and stock for the page (the snapshot's counters may be seconds old).
    let ids: Vec<String> = page.items.iter().map(|p| p.id.clone()).collect();
    let fresh = catalog::get_products(state.store.as_ref(), &ids).await?;
    let items = fresh
        .iter()
        .map(|p| ProductSummary::new(p, snapshot.category_name(&p.category_id).unwrap_or("")))
        .collect();
    Ok(Json(Paginated {
        items,
        total: page.total as u64,
        page: q.page,
        size: q.size,
        pages: catalog::snapshot::page_count(page.total, q.size as usize) as u64,
    }))
}

/// The category tree.
#[utoipa::path(
    get, path = "/api/v1/products/categories", tag = "products",
    responses((status = 200, body = Vec<CategoryNode>))
)]
pub async fn list_categories(State(state): State<AppState>) -> ApiResult<Json<Vec<CategoryNode>>> {
    let categories = catalog::list_categories(state.store.as_ref()).await?;
    Ok(Json(catalog::category_tree(&categories)))
}

/// One product. With a bearer token, the product is added to the caller's viewed history. A
/// signed-in caller's view, or a guest's that sends its cart id (`X-Cart-Id`), is recorded in the
/// interaction log. With `rec_id`, the click on that recommendation is counted as by
/// `POST /api/v1/recommendations/track-click` (an id that does not apply is ignored).
#[utoipa::path(
    get, path = "/api/v1/products/{product_id}", tag = "products",
    params(
        ("product_id" = String, Path, description = "Product id"),
        DetailParams,
        ("X-Cart-Id" = Option<String>, Header, description = "Guest cart id (without a token): the view is recorded for that guest"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = ProductDetail),
        (status = 401, description = "A token was sent and is not valid", body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_product(
    State(state): State<AppState>,
    auth: Option<AuthUser>,
    headers: HeaderMap,
    Path(product_id): Path<String>,
    ValidQuery(q): ValidQuery<DetailParams>,
) -> ApiResult<Json<ProductDetail>> {
    let store = state.store.as_ref();
    let product = catalog::get_product(store, &product_id)
        .await?
        .filter(|p| p.is_active)
        .ok_or_else(product_not_found)?;
    let user_id = auth.as_ref().map(|u| u.user_id.as_str());
    let guest_cart = headers.get("x-cart-id").and_then(|v| v.to_str().ok());
    let actor = Actor::of_request(user_id, guest_cart);
    let signals: Vec<Signal> = actor
        .clone()
        .map(|actor| Signal::new(actor, product.id.clone(), InteractionKind::View))
        .into_iter()
        .collect();
    // A click on the recommendation the product was opened from (`?rec_id=`), then its
    // `rec_click` interaction; never fails the page.
    let rec_click = async {
        let Some(rec_id) = q.rec_id.as_deref().filter(|id| !id.trim().is_empty()) else {
            return;
        };
        let now = chrono::Utc::now();
        match rec_tracking::track_click(store, rec_id, &product.id, actor.as_ref(), now).await {
            Ok(outcome) => {
                let click: Vec<Signal> = outcome.signal(&product.id, now).into_iter().collect();
                interactions::record_if(state.config.record_interactions, store, &click).await;
            }
            Err(rec_tracking::TrackError::Store(e)) => {
                tracing::warn!(error = %e, "could not count a recommendation click");
            }
            Err(e) => tracing::debug!(error = %e, rec_id, "rec_id ignored"),
        }
    };
    // The category read and the view's writes go out together. Recording the view must not
    // fail the page: log and go on.
    let count_view = async {
        if let Err(e) = catalog::record_view(store, &product.id).await {
            tracing::warn!(error = %e, product_id = %product.id, "could not count a product view");
        }
    };
    let add_viewed = async {
        if let Some(user_id) = user_id
            && let Err(e) = viewed::add(store, user_id, &product.id).await
        {
            tracing::warn!(error = %e, "could not record a viewed product");
        }
    };
    let (category, (), (), (), (), ()) = tokio::join!(
        catalog::get_category(store, &product.category_id),
        count_view,
        add_viewed,
        interactions::record_if(state.config.record_interactions, store, &signals),
        rec_click,
        shared::domain::analytics::record_logged(
            store,
            shared::domain::analytics::Event::ProductView {
                user_id,
                product_id: &product.id,
                at: chrono::Utc::now(),
            },
        ),
    );
    let category = category?;
    Ok(Json(ProductDetail::new(
        &product,
        category.as_ref().map(|c| c.name.as_str()).unwrap_or(""),
    )))
}

/// Products whose embeddings are closest to this one's (cosine similarity), active ones only.
#[utoipa::path(
    get, path = "/api/v1/products/{product_id}/similar", tag = "products",
    params(("product_id" = String, Path, description = "Product id"), SimilarParams),
    responses(
        (status = 200, body = Vec<SimilarProduct>),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn similar_products(
    State(state): State<AppState>,
    State(snapshots): State<Arc<SnapshotCache>>,
    Path(product_id): Path<String>,
    ValidQuery(q): ValidQuery<SimilarParams>,
) -> ApiResult<Json<Vec<SimilarProduct>>> {
    let snapshot = snapshots.get(&state.store).await?;
    let Some(index) = snapshot
        .index_of(&product_id)
        .filter(|&i| snapshot.products[i].is_active)
    else {
        return Err(product_not_found());
    };
    let vectors = snapshot.vectors(state.store.as_ref()).await?;
    // A product without an embedding (its creation predates embeddings) has no neighbours.
    let best = snapshot.similar_to(&vectors, index, q.limit as usize);
    let out = best
        .into_iter()
        .map(|(i, score)| {
            let p = &snapshot.products[i];
            SimilarProduct {
                id: p.id.clone(),
                name: p.name.clone(),
                price: p.price.to_f64(),
                brand: p.brand.clone(),
                in_stock: p.available(),
                similarity_score: (f64::from(score) * 10_000.0).round() / 10_000.0,
                reason: "vector_similarity".into(),
            }
        })
        .collect();
    Ok(Json(out))
}

/// Products bought together with this one: association rules (confidence, lift) mined from orders
/// by the `fbt-rules` job, or live co-purchase counts until that has run. Inactive products are
/// left out.
#[utoipa::path(
    get, path = "/api/v1/products/{product_id}/frequently-bought-together", tag = "products",
    params(("product_id" = String, Path, description = "Product id"), FbtParams),
    responses(
        (status = 200, body = FrequentlyBoughtTogether),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn frequently_bought_together(
    State(state): State<AppState>,
    State(snapshots): State<Arc<SnapshotCache>>,
    Path(product_id): Path<String>,
    ValidQuery(q): ValidQuery<FbtParams>,
) -> ApiResult<Json<FrequentlyBoughtTogether>> {
    let store = state.store.as_ref();
    catalog::get_product(store, &product_id)
        .await?
        .filter(|p| p.is_active)
        .ok_or_else(product_not_found)?;
    // Ask for a few more than needed: inactive products are dropped below.
    let (rules, source) = fbt::rules_for(store, &product_id, q.limit as usize + 5).await?;
    let ids: Vec<String> = rules.iter().map(|r| r.consequent.clone()).collect();
    let products = catalog::get_products(store, &ids).await?;
    let snapshot = snapshots.get(&state.store).await?;
    let items = rules
        .iter()
        .filter_map(|r| {
            let p = products
                .iter()
                .find(|p| p.id == r.consequent && p.is_active)?;
            Some(BoughtTogether {
                product_id: p.id.clone(),
                product_name: p.name.clone(),
                price: p.price.to_f64(),
                confidence: (r.confidence * 10_000.0).round() / 10_000.0,
                lift: (r.lift * 100.0).round() / 100.0,
                in_stock: p.available(),
                product: ProductDetail::new(
                    p,
                    snapshot.category_name(&p.category_id).unwrap_or(""),
                ),
            })
        })
        .take(q.limit as usize)
        .collect();
    Ok(Json(FrequentlyBoughtTogether {
        product_id,
        frequently_bought_together: items,
        source: match source {
            fbt::Source::MinedRules => "mined_rules",
            fbt::Source::CoPurchaseCounts => "co_purchase_counts",
        }
        .into(),
    }))
}
