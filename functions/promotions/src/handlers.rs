//! Handlers of the promotion routes. Input is checked by hand where the spec's bodies are loose
//! (targeting, dates, priority) so every error names its field; the work is in
//! `shared::domain::promotions`.

use std::time::Duration;

use axum::{
    Json,
    extract::{Path, State},
};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use shared::{
    ApiError, ApiResult, AppState,
    ai::AiError,
    auth::Permission,
    domain::{
        catalog::{self, ProductRecord},
        promotions::{
            audience::{self, UserFacts},
            copy::{AspectRatio, MAX_PROMPT_CHARS, ProductFacts, SegmentFacts},
            generate::{self, BannerInputs, GenerateError, TextInputs},
            records::{self, Banner, Publication, PublishError, Targeting},
            stats, targeting,
        },
        segments::records::{self as segment_records, Segment},
        users,
    },
    error::{ErrorBody, ErrorCode, FieldError},
    http::{AuthUser, ValidJson, ValidQuery},
    money::Cents,
};

use crate::PromotionsState;
use crate::form::FormOrJson;
use crate::models::*;

/// Every admin route.
const ML: Permission = Permission::SystemMlModels;
/// How long a signed image URL works.
const IMAGE_URL_TTL: Duration = Duration::from_secs(3600);
/// `Retry-After` when the model throttles (the SDK already retried with backoff).
const MODEL_RETRY_AFTER_SECS: u64 = 5;
const MAX_CATEGORY_CHARS: usize = 100;
const MAX_CONTEXT_CHARS: usize = 500;

fn banner_not_found() -> ApiError {
    ApiError::not_found("Banner not found").with_code(ErrorCode::BannerNotFound)
}

fn product_not_found() -> ApiError {
    ApiError::not_found("Product not found").with_code(ErrorCode::ProductNotFound)
}

fn user_not_found() -> ApiError {
    ApiError::not_found("User not found").with_code(ErrorCode::UserNotFound)
}

fn cluster_not_found(id: impl std::fmt::Display) -> ApiError {
    ApiError::not_found(format!(
        "RFM cluster {id} not found (the clusters of the latest generate-rfm run)"
    ))
    .with_code(ErrorCode::RfmClusterNotFound)
}

/// Model errors: a refusal is the client's prompt (422 with the model's reason), throttling and
/// timeouts are worth a retry (503), anything else is ours (500).
fn ai_error(e: AiError) -> ApiError {
    match e {
        AiError::Invalid(reason) => ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::PromptRefused,
            format!("The model refused the prompt: {reason}"),
        ),
        e @ AiError::Throttled => ApiError {
            retry_after: Some(MODEL_RETRY_AFTER_SECS),
            ..ApiError::unavailable(e)
        },
        e @ AiError::Timeout => ApiError::unavailable(e),
        e @ AiError::Model(_) => ApiError::internal(e),
    }
}

fn generate_error(e: GenerateError) -> ApiError {
    match e {
        GenerateError::Ai(e) => ai_error(e),
        GenerateError::Store(e) => e.into(),
        GenerateError::Blob(e) => ApiError::internal(e),
    }
}

/// Whether the caller holds `analytics.view` for everyone's data (spec 002 gives customers
/// `analytics.view` for their own data only).
fn sees_all_analytics(auth: &AuthUser) -> bool {
    auth.has_beyond_own(Permission::AnalyticsView)
}

/// A non-blank optional value, trimmed.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A promotion is about a category or a product: one of them must be given (unless the category
/// was already refused).
fn require_subject(
    category: &Option<String>,
    product_id: Option<&str>,
    errors: &mut Vec<FieldError>,
) {
    if category.is_none()
        && product_id.is_none()
        && !errors.iter().any(|e| e.field == "target_product_category")
    {
        errors.push(FieldError::new(
            "target_product_category",
            "Field required (or give a product_id)",
        ));
    }
}

/// An optional trimmed string of at most `max` characters (`None` when empty).
fn opt_text(
    field: &str,
    value: &Option<String>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = given(value)?;
    if v.chars().count() > max {
        errors.push(FieldError::new(field, format!("at most {max} characters")));
        return None;
    }
    Some(v.to_string())
}

fn aspect_ratio(value: &Option<String>, errors: &mut Vec<FieldError>) -> AspectRatio {
    match given(value) {
        None => AspectRatio::Landscape16x9,
        Some(v) => AspectRatio::parse(v).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "aspect_ratio",
                format!(
                    "unknown aspect ratio; valid: {}",
                    AspectRatio::valid_names()
                ),
            ));
            AspectRatio::Landscape16x9
        }),
    }
}

/// The facts of the sold product `id` names, when one is given (404 when unknown or not sold).
async fn product_facts(state: &AppState, id: Option<&str>) -> ApiResult<Option<ProductFacts>> {
    match id {
        Some(id) => {
            let p = product(state, id).await?;
            Ok(Some(
                generate::product_facts(state.store.as_ref(), &p).await?,
            ))
        }
        None => Ok(None),
    }
}

/// A sold product, or 404.
async fn product(state: &AppState, id: &str) -> ApiResult<ProductRecord> {
    if id.len() > 64 {
        return Err(product_not_found());
    }
    catalog::get_product(state.store.as_ref(), id)
        .await?
        .filter(|p| p.is_active)
        .ok_or_else(product_not_found)
}

fn segment_facts(cluster: Option<u32>, s: Option<&Segment>) -> SegmentFacts {
    match s {
        Some(s) => SegmentFacts {
            id: cluster,
            name: s.name.clone(),
            description: s.description.clone().unwrap_or_default(),
        },
        None => SegmentFacts {
            id: None,
            name: "All customers".into(),
            description: "Customers without an RFM segment yet (no orders in the window of the latest RFM run)".into(),
        },
    }
}

/// The URL clients load the image from.
async fn image_url(state: &AppState, key: &str) -> ApiResult<String> {
    match &state.config.media_public_base_url {
        Some(base) => Ok(format!("{base}/{key}")),
        None => Ok(state.blobs.signed_get_url(key, IMAGE_URL_TTL).await?),
    }
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn load_banner(state: &AppState, id: &str) -> ApiResult<Banner> {
    if !records::is_valid_id(id) {
        return Err(banner_not_found());
    }
    records::get(state.store.as_ref(), id)
        .await?
        .ok_or_else(banner_not_found)
}

#[utoipa::path(
    post, path = "/api/v1/recommendations/generate-promotion", tag = "promotions",
    request_body = GeneratePromotionRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Promotional text for the RFM cluster (recorded for audit)", body = GeneratePromotionResponse),
        (status = 400, description = "MALFORMED_REQUEST: not JSON, or a field of the wrong type", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "RFM_CLUSTER_NOT_FOUND, PRODUCT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: cluster_id, target_product_category, additional_context; PROMPT_REFUSED: the model refused (its reason in detail)", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: the model throttles or timed out (Retry-After)", body = ErrorBody),
    )
)]
pub async fn generate_promotion(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(body): ValidJson<GeneratePromotionRequest>,
) -> ApiResult<Json<GeneratePromotionResponse>> {
    auth.require(ML)?;
    let mut errors = Vec::new();
    let cluster = u32::try_from(body.cluster_id).ok().unwrap_or_else(|| {
        errors.push(FieldError::new("cluster_id", "must be an integer >= 0"));
        0
    });
    let category = opt_text(
        "target_product_category",
        &body.target_product_category,
        MAX_CATEGORY_CHARS,
        &mut errors,
    );
    let context = opt_text(
        "additional_context",
        &body.additional_context,
        MAX_CONTEXT_CHARS,
        &mut errors,
    );
    let product_id = given(&body.product_id);
    require_subject(&category, product_id, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let store = state.store.as_ref();
    let segment = audience::rfm_cluster(store, cluster)
        .await?
        .ok_or_else(|| cluster_not_found(cluster))?;
    let product = product_facts(&state, product_id).await?;
    let category = category
        .or_else(|| product.as_ref().and_then(|p| p.category.clone()))
        .unwrap_or_else(|| "our catalog".into());
    let inputs = TextInputs {
        segment: segment_facts(Some(cluster), Some(&segment)),
        category,
        product,
        context,
        user_id: None,
        author: auth.user_id.clone(),
    };
    let text = generate::generate_text(store, state.text.as_ref(), &inputs)
        .await
        .map_err(generate_error)?;
    Ok(Json(GeneratePromotionResponse {
        ad_content: text.text,
        promotion_id: text.id,
        cluster_id: cluster,
        segment_name: text.segment_name,
        prompt_version: text.prompt_version,
        source: text.source,
        model_id: text.model_id,
    }))
}

#[utoipa::path(
    post, path = "/api/v1/recommendations/generate-banner", tag = "promotions",
    request_body = GenerateBannerRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The banner, stored as PNG under banners/ in the media bucket", body = GenerateBannerResponse),
        (status = 400, description = "MALFORMED_REQUEST", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND, PRODUCT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: prompt empty or over 1,000 characters, unknown aspect_ratio; PROMPT_REFUSED: the image model refused the prompt (content filter; its reason in detail)", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: the model throttles or timed out (Retry-After)", body = ErrorBody),
    )
)]
pub async fn generate_banner(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(body): ValidJson<GenerateBannerRequest>,
) -> ApiResult<Json<GenerateBannerResponse>> {
    auth.require(ML)?;
    let mut errors = Vec::new();
    let prompt = body.prompt.trim();
    if prompt.is_empty() {
        errors.push(FieldError::new("prompt", "must not be empty"));
    } else if prompt.chars().count() > MAX_PROMPT_CHARS {
        errors.push(FieldError::new(
            "prompt",
            format!("at most {MAX_PROMPT_CHARS} characters"),
        ));
    }
    let ratio = aspect_ratio(&body.aspect_ratio, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let store = state.store.as_ref();
    let user_id = given(&body.user_id);
    if let Some(u) = user_id
        && (u.len() > 64 || users::get(store, u).await?.is_none())
    {
        return Err(user_not_found());
    }
    let product = product_facts(&state, given(&body.product_id)).await?;
    let inputs = BannerInputs {
        id: None,
        prompt: prompt.to_string(),
        aspect_ratio: ratio,
        product,
        user_id: user_id.map(str::to_string),
        promotion_id: None,
        author: auth.user_id.clone(),
    };
    let (banner, png) =
        generate::generate_banner(store, state.blobs.as_ref(), state.images.as_ref(), &inputs)
            .await
            .map_err(generate_error)?;
    Ok(Json(GenerateBannerResponse {
        image_url: image_url(&state, &banner.saved_path).await?,
        image_base64: base64(&png),
        banner_id: banner.id,
        saved_path: banner.saved_path,
        prompt: banner.prompt,
        product_id: banner.product_id,
        aspect_ratio: banner.aspect_ratio,
        width: banner.width,
        height: banner.height,
        model_id: banner.model_id,
        created_at: banner.created_at,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/recommendations/banner/{banner_id}", tag = "promotions",
    params(("banner_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The banner with its image, targeting, schedule and counts per day", body = BannerDetails),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "BANNER_NOT_FOUND", body = ErrorBody),
    )
)]
pub async fn get_banner(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(banner_id): Path<String>,
) -> ApiResult<Json<BannerDetails>> {
    auth.require(ML)?;
    let banner = load_banner(&state, &banner_id).await?;
    let (image, counts) = tokio::join!(
        state.blobs.get(&banner.saved_path),
        stats::stats(state.store.as_ref(), &banner.id)
    );
    let image = image.map_err(ApiError::internal)?;
    let model = banner.provenance();
    Ok(Json(BannerDetails {
        image_url: image_url(&state, &banner.saved_path).await?,
        image_base64: base64(&image.body),
        target_audience: banner
            .target_audience
            .as_ref()
            .map(|t| serde_json::to_value(t).unwrap_or(Value::Null)),
        stats: counts?,
        id: banner.id,
        saved_path: banner.saved_path,
        prompt: banner.prompt,
        product_id: banner.product_id,
        product_category: banner.product_category,
        created_at: banner.created_at,
        created_by: banner.created_by,
        is_published: banner.is_published,
        start_date: banner.start_date,
        end_date: banner.end_date,
        priority: banner.priority,
        published_at: banner.published_at,
        aspect_ratio: banner.aspect_ratio,
        width: banner.width,
        height: banner.height,
        user_id: banner.user_id,
        model: ModelView {
            backend: model.backend,
            model_id: model.model_id,
        },
    }))
}

/// `YYYY-MM-DD` (start or end of that day, UTC) or RFC 3339.
fn parse_date(s: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let time = if end_of_day {
        day.and_hms_opt(23, 59, 59)
    } else {
        day.and_hms_opt(0, 0, 0)
    }?;
    Some(time.and_utc())
}

const AUDIENCE_FIELDS: [&str; 5] = [
    "cluster_ids",
    "segment_ids",
    "region",
    "min_spend",
    "max_recency_days",
];

/// The targeting of a publish body (`target_audience`), every problem named.
fn parse_targeting(value: Option<&Value>, errors: &mut Vec<FieldError>) -> Targeting {
    let mut t = Targeting::default();
    let map = match value {
        None | Some(Value::Null) => return t,
        Some(Value::Object(m)) => m,
        Some(_) => {
            errors.push(FieldError::new("target_audience", "must be an object"));
            return t;
        }
    };
    let field = |k: &str| format!("target_audience.{k}");
    for (k, v) in map {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "cluster_ids" => match v.as_array() {
                Some(a) if a.len() <= 100 => {
                    for x in a {
                        match x.as_u64().and_then(|c| u32::try_from(c).ok()) {
                            Some(c) if !t.cluster_ids.contains(&c) => t.cluster_ids.push(c),
                            Some(_) => {}
                            None => errors
                                .push(FieldError::new(field(k), "must be a list of integers >= 0")),
                        }
                    }
                }
                _ => errors.push(FieldError::new(
                    field(k),
                    "must be a list of at most 100 integers",
                )),
            },
            "segment_ids" => match v.as_array() {
                Some(a) if a.len() <= 100 => {
                    for x in a {
                        match x
                            .as_str()
                            .map(str::trim)
                            .filter(|s| !s.is_empty() && s.len() <= 64)
                        {
                            Some(s) if !t.segment_ids.iter().any(|e| e == s) => {
                                t.segment_ids.push(s.to_string())
                            }
                            Some(_) => {}
                            None => errors
                                .push(FieldError::new(field(k), "must be a list of segment ids")),
                        }
                    }
                }
                _ => errors.push(FieldError::new(
                    field(k),
                    "must be a list of at most 100 segment ids",
                )),
            },
            "region" => match v.as_str().map(str::trim) {
                Some(r) if !r.is_empty() && r.chars().count() <= 64 => {
                    t.region = Some(r.to_string())
                }
                _ => errors.push(FieldError::new(
                    field(k),
                    "must be a country code or region of 1-64 characters",
                )),
            },
            "min_spend" => match v.as_f64().map(Cents::from_decimal) {
                Some(Ok(c)) => t.min_spend = Some(c.to_f64()),
                Some(Err(e)) => errors.push(FieldError::new(field(k), e.to_string())),
                None => errors.push(FieldError::new(field(k), "must be a number")),
            },
            "max_recency_days" => match v.as_u64().filter(|d| (1..=3650).contains(d)) {
                Some(d) => t.max_recency_days = Some(d as u32),
                None => errors.push(FieldError::new(
                    field(k),
                    "must be an integer from 1 to 3650",
                )),
            },
            other => errors.push(FieldError::new(
                field(other),
                format!("unknown field; valid: {}", AUDIENCE_FIELDS.join(", ")),
            )),
        }
    }
    t
}

#[utoipa::path(
    post, path = "/api/v1/recommendations/publish-banner", tag = "promotions",
    request_body = PublishBannerRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Published (or re-published with the new targeting and schedule); live on every instance within a second", body = BannerMessage),
        (status = 400, description = "MALFORMED_REQUEST", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "RFM_CLUSTER_NOT_FOUND, SEGMENT_NOT_FOUND (target_audience names one that does not exist)", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: banner_id unknown, target_audience.<field>, start_date/end_date (end before start), priority outside 1-10", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: the banner changed concurrently; retry", body = ErrorBody),
    )
)]
pub async fn publish_banner(
    State(state): State<PromotionsState>,
    auth: AuthUser,
    ValidJson(body): ValidJson<PublishBannerRequest>,
) -> ApiResult<Json<BannerMessage>> {
    auth.require(ML)?;
    let mut errors = Vec::new();
    let priority = match &body.priority {
        None | Some(Value::Null) => 5,
        Some(v) => match v.as_u64().filter(|p| (1..=10).contains(p)) {
            Some(p) => p as u8,
            None => {
                errors.push(FieldError::new(
                    "priority",
                    "must be an integer from 1 to 10",
                ));
                5
            }
        },
    };
    let mut date = |field: &str, v: &Option<String>, end: bool| {
        let v = v.as_deref().filter(|s| !s.trim().is_empty())?;
        let parsed = parse_date(v, end);
        if parsed.is_none() {
            errors.push(FieldError::new(
                field,
                "must be an RFC 3339 time or YYYY-MM-DD",
            ));
        }
        parsed
    };
    let start = date("start_date", &body.start_date, false);
    let end = date("end_date", &body.end_date, true);
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        errors.push(FieldError::new("end_date", "must not be before start_date"));
    }
    let target = parse_targeting(body.target_audience.as_ref(), &mut errors);
    let id = body.banner_id.trim();
    let app = &state.app;
    let store = app.store.as_ref();
    let exists = records::is_valid_id(id) && records::get(store, id).await?.is_some();
    if !exists {
        errors.push(FieldError::new("banner_id", "no banner has this id"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if !target.cluster_ids.is_empty() {
        let clusters = audience::rfm_clusters(store).await?;
        if let Some(missing) = target
            .cluster_ids
            .iter()
            .find(|c| !clusters.iter().any(|(k, _)| k == *c))
        {
            return Err(cluster_not_found(missing));
        }
    }
    if !target.segment_ids.is_empty() {
        let known = segment_records::list(store).await?;
        if let Some(missing) = target
            .segment_ids
            .iter()
            .find(|s| !known.iter().any(|k| &k.id == *s))
        {
            return Err(ApiError::not_found(format!("Segment {missing} not found"))
                .with_code(ErrorCode::SegmentNotFound));
        }
    }
    let publication = Publication {
        target_audience: target,
        start_date: Some(start.unwrap_or_else(Utc::now)),
        end_date: end,
        priority,
        by: auth.user_id.clone(),
    };
    let banner = records::publish(store, id, publication)
        .await
        .map_err(publish_error)?;
    state.banners.invalidate();
    tracing::info!(banner_id = %banner.id, priority, "banner published");
    Ok(Json(BannerMessage {
        message: "Banner published successfully".into(),
        banner_id: banner.id,
    }))
}

fn publish_error(e: PublishError) -> ApiError {
    match e {
        PublishError::NotFound => banner_not_found(),
        PublishError::Conflict => {
            ApiError::unavailable(anyhow::anyhow!("the banner changed concurrently; retry"))
        }
        PublishError::Store(e) => e.into(),
    }
}

#[utoipa::path(
    post, path = "/api/v1/recommendations/banner/{banner_id}/unpublish", tag = "promotions",
    params(("banner_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Unpublished (targeting and schedule kept); unpublishing an unpublished banner changes nothing", body = BannerMessage),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "BANNER_NOT_FOUND", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: the banner changed concurrently; retry", body = ErrorBody),
    )
)]
pub async fn unpublish_banner(
    State(state): State<PromotionsState>,
    auth: AuthUser,
    Path(banner_id): Path<String>,
) -> ApiResult<Json<BannerMessage>> {
    auth.require(ML)?;
    if !records::is_valid_id(&banner_id) {
        return Err(banner_not_found());
    }
    let (banner, was_published) = records::unpublish(state.app.store.as_ref(), &banner_id)
        .await
        .map_err(publish_error)?;
    state.banners.invalidate();
    Ok(Json(BannerMessage {
        message: if was_published {
            "Banner unpublished successfully".into()
        } else {
            "Banner was not published".into()
        },
        banner_id: banner.id,
    }))
}

#[utoipa::path(
    post, path = "/api/v1/recommendations/personalized-promotion", tag = "promotions",
    request_body(content = PersonalizedPromotionRequest, content_type = "application/x-www-form-urlencoded", description = "Form data as the spec shows (multipart/form-data and JSON are accepted too)"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's segment, a promotional text and a banner (both stored)", body = PersonalizedPromotionResponse),
        (status = 400, description = "MALFORMED_REQUEST", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "FORBIDDEN: needs system.ml_models", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND, PRODUCT_NOT_FOUND", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: user_id, target_product_category (required without a product), additional_context, aspect_ratio; PROMPT_REFUSED", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: the model throttles or timed out (Retry-After)", body = ErrorBody),
    )
)]
pub async fn personalized_promotion(
    State(state): State<AppState>,
    auth: AuthUser,
    FormOrJson(body): FormOrJson<PersonalizedPromotionRequest>,
) -> ApiResult<Json<PersonalizedPromotionResponse>> {
    auth.require(ML)?;
    let mut errors = Vec::new();
    let user_id = body.user_id.trim().to_string();
    if user_id.is_empty() {
        errors.push(FieldError::new("user_id", "must not be empty"));
    }
    let category = opt_text(
        "target_product_category",
        &body.target_product_category,
        MAX_CATEGORY_CHARS,
        &mut errors,
    );
    let context = opt_text(
        "additional_context",
        &body.additional_context,
        MAX_CONTEXT_CHARS,
        &mut errors,
    );
    let ratio = aspect_ratio(&body.aspect_ratio, &mut errors);
    let product_id = given(&body.product_id);
    require_subject(&category, product_id, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let store = state.store.as_ref();
    if user_id.len() > 64 {
        return Err(user_not_found());
    }
    let facts = audience::user_facts(store, &user_id)
        .await?
        .ok_or_else(user_not_found)?;
    let product = product_facts(&state, product_id).await?;
    let category = category
        .or_else(|| product.as_ref().and_then(|p| p.category.clone()))
        .unwrap_or_else(|| "our catalog".into());
    let segment = segment_facts(facts.cluster, facts.cluster_segment.as_ref());
    let text = generate::generate_text(
        store,
        state.text.as_ref(),
        &TextInputs {
            segment: segment.clone(),
            category: category.clone(),
            product: product.clone(),
            context: context.clone(),
            user_id: Some(user_id.clone()),
            author: auth.user_id.clone(),
        },
    )
    .await
    .map_err(generate_error)?;
    let banner_prompt: String = format!(
        "Promotional banner for {category} aimed at {} customers. {}",
        segment.name, text.text
    )
    .chars()
    .take(MAX_PROMPT_CHARS)
    .collect();
    let (banner, png) = generate::generate_banner(
        store,
        state.blobs.as_ref(),
        state.images.as_ref(),
        &BannerInputs {
            id: None,
            prompt: banner_prompt,
            aspect_ratio: ratio,
            product,
            user_id: Some(user_id.clone()),
            promotion_id: Some(text.id.clone()),
            author: auth.user_id.clone(),
        },
    )
    .await
    .map_err(generate_error)?;
    Ok(Json(PersonalizedPromotionResponse {
        user_id,
        segment: PromotionSegment {
            id: segment.id,
            name: segment.name,
            description: segment.description,
        },
        promotional_text: text.text,
        banner: CampaignBanner {
            image_url: image_url(&state, &banner.saved_path).await?,
            image_base64: base64(&png),
            id: banner.id,
            saved_path: banner.saved_path,
        },
        target_product_category: category,
        product_id: banner.product_id,
        additional_context: context,
        promotion_id: text.id,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/recommendations/user-banners/{user_id}", tag = "promotions",
    params(("user_id" = String, Path), UserBannersQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The live banners whose targeting matches the user, by priority then recency; an answer to the user themselves counts one impression per banner", body = UserBannersResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "FORBIDDEN: another user's banners without analytics.view beyond own data", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: limit outside 1-10", body = ErrorBody),
    )
)]
pub async fn user_banners(
    State(state): State<PromotionsState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ValidQuery(q): ValidQuery<UserBannersQuery>,
) -> ApiResult<Json<UserBannersResponse>> {
    let is_self = auth.user_id == user_id;
    if !is_self && !sees_all_analytics(&auth) {
        return Err(ApiError::forbidden(
            "Missing permission: analytics.view (another user's banners)",
        ));
    }
    let app = &state.app;
    let store = app.store.as_ref();
    if user_id.len() > 64 {
        return Err(user_not_found());
    }
    let (facts, snapshot) = tokio::join!(
        audience::user_facts(store, &user_id),
        state.banners.get(store)
    );
    let facts: UserFacts = facts?.ok_or_else(user_not_found)?;
    let snapshot = snapshot?;
    let now = Utc::now();
    let chosen = targeting::select(&snapshot.banners, &facts, now.timestamp(), q.limit as usize);
    if is_self && !chosen.is_empty() {
        let ids: Vec<&str> = chosen.iter().map(|b| b.banner.id.as_str()).collect();
        stats::record_impressions(store, &ids, now).await?;
    }
    let images = if q.include_image {
        let reads = chosen.iter().map(|b| app.blobs.get(&b.banner.saved_path));
        futures::future::join_all(reads)
            .await
            .into_iter()
            .map(|r| r.ok().map(|blob| base64(&blob.body)))
            .collect()
    } else {
        vec![None; chosen.len()]
    };
    let mut banners = Vec::with_capacity(chosen.len());
    for (b, image) in chosen.into_iter().zip(images) {
        banners.push(LiveBannerView {
            id: b.banner.id.clone(),
            image_base64: image,
            image_url: image_url(app, &b.banner.saved_path).await?,
            product_id: b.banner.product_id.clone(),
            product_category: b.banner.product_category.clone(),
            priority: b.priority,
            start_date: b.banner.start_date.clone(),
            end_date: b.banner.end_date.clone(),
        });
    }
    Ok(Json(UserBannersResponse { user_id, banners }))
}

#[utoipa::path(
    post, path = "/api/v1/recommendations/banner/{banner_id}/click", tag = "promotions",
    params(("banner_id" = String, Path)),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "One click counted on today's counters", body = ClickResponse),
        (status = 401, description = "A bearer token that is not valid", body = ErrorBody),
        (status = 404, description = "BANNER_NOT_FOUND", body = ErrorBody),
    )
)]
pub async fn banner_click(
    State(state): State<AppState>,
    _auth: Option<AuthUser>,
    Path(banner_id): Path<String>,
) -> ApiResult<Json<ClickResponse>> {
    let banner = load_banner(&state, &banner_id).await?;
    stats::record_click(state.store.as_ref(), &banner.id, Utc::now()).await?;
    Ok(Json(ClickResponse {
        banner_id: banner.id,
        counted: true,
    }))
}
