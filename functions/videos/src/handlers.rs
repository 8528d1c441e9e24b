//! Route handlers. Errors are the platform's `ErrorBody`.

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    extract::{FromRequest, Path, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    auth::Permission,
    domain::{
        catalog::{self, ProductRecord, snapshot::SnapshotCache},
        interactions as log,
        videos::{
            self, NewVideo, VIDEO_CONTENT_TYPE, VideoCounts, VideoError, VideoPatch, VideoRecord,
            VideoStatus,
            feed::{self, FeedCursor},
            interactions::{self, Toggle},
            verify,
        },
    },
    error::{ErrorBody, FieldError},
    http::{AuthUser, ValidJson, ValidQuery, extract::media_type},
};

use crate::{
    models::*,
    upload::{self, Fields},
};

/// Who may change or delete any video (the admin role has `products.*`); uploaders may change
/// their own.
pub const MODERATE_PERMISSION: Permission = Permission::ProductsDelete;
/// Lifetime of the signed URLs in responses.
const VIDEO_URL_TTL: Duration = Duration::from_secs(3600);
const UPLOAD_URL_TTL: Duration = Duration::from_secs(900);
/// The header carrying the next page's cursor (the body is the spec's bare list).
pub const NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

const SUCCESS: &str = "success";

fn video_not_found() -> ApiError {
    ApiError::not_found("Video not found").with_code(ErrorCode::VideoNotFound)
}

fn product_not_found() -> ApiError {
    ApiError::not_found("Product not found").with_code(ErrorCode::ProductNotFound)
}

fn video_error(e: VideoError) -> ApiError {
    match e {
        VideoError::NotFound => video_not_found(),
        VideoError::BadCursor => ApiError::invalid_field("cursor", "not a cursor of this feed"),
        VideoError::Store(e) => e.into(),
        VideoError::Blob(e) => ApiError::internal(e),
    }
}

/// Ids are UUIDs: anything else cannot exist (and must not reach the store as a huge key).
fn checked_id(id: &str) -> ApiResult<&str> {
    let plausible = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if plausible {
        Ok(id)
    } else {
        Err(video_not_found())
    }
}

/// The URL clients play the video from.
async fn video_url(state: &AppState, key: &str) -> ApiResult<String> {
    match &state.config.media_public_base_url {
        Some(base) => Ok(format!("{base}/{key}")),
        None => Ok(state.blobs.signed_get_url(key, VIDEO_URL_TTL).await?),
    }
}

/// An active product, or 404.
async fn active_product(state: &AppState, id: &str) -> ApiResult<ProductRecord> {
    if id.len() > 64 {
        return Err(product_not_found());
    }
    catalog::get_product(state.store.as_ref(), id)
        .await?
        .filter(|p| p.is_active)
        .ok_or_else(product_not_found)
}

/// A new video of `product` by `user`.
fn new_video(
    product: &ProductRecord,
    user: &AuthUser,
    title: String,
    tags: Vec<String>,
) -> NewVideo {
    NewVideo {
        product_id: product.id.clone(),
        category_id: product.category_id.clone(),
        uploader_id: user.user_id.clone(),
        title,
        tags,
    }
}

fn may_manage(user: &AuthUser, video: &VideoRecord) -> bool {
    user.user_id == video.uploader_id || user.has(MODERATE_PERMISSION)
}

async fn detail(
    state: &AppState,
    video: VideoRecord,
    counts: VideoCounts,
    product: Option<&ProductRecord>,
    caller: Option<&AuthUser>,
    upload: Option<UploadTarget>,
) -> ApiResult<VideoDetail> {
    let video_file = if video.status == VideoStatus::Ready {
        Some(video_url(state, &video.blob_key).await?)
    } else {
        None
    };
    let (is_liked, is_saved) = match caller {
        Some(user) => {
            let (l, s) =
                interactions::state(state.store.as_ref(), &user.user_id, &video.id).await?;
            (Some(l), Some(s))
        }
        None => (None, None),
    };
    Ok(VideoDetail {
        id: video.id,
        title: video.title,
        tags: video.tags,
        status: video.status,
        failure_reason: video.failure_reason,
        video_file,
        product: product.map(VideoProduct::from),
        product_id: video.product_id,
        uploader_id: video.uploader_id,
        likes_count: counts.likes_count,
        saves_count: counts.saves_count,
        shares_count: counts.shares_count,
        views_count: counts.views_count,
        trend_score: video.trend_score,
        is_liked,
        is_saved,
        created_at: video.created_at,
        updated_at: video.updated_at,
        upload,
    })
}

/// The personalised feed (spec 004's four stages); anonymous callers get trending and recent
/// videos. The next page's cursor is in the `X-Next-Cursor` header (absent at the end).
#[utoipa::path(
    get, path = "/api/v1/shoppable-videos", tag = "shoppable-videos",
    params(FeedParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<FeedItem>, headers(("X-Next-Cursor" = String, description = "Cursor of the next page"))),
        (status = 401, description = "A token was sent and is not valid", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn feed(
    State(state): State<AppState>,
    State(snapshots): State<Arc<SnapshotCache>>,
    caller: Option<AuthUser>,
    ValidQuery(params): ValidQuery<FeedParams>,
) -> ApiResult<Response> {
    let limit = params
        .limit
        .map_or(feed::DEFAULT_LIMIT, |n| n as usize)
        .min(feed::MAX_LIMIT);
    // `?cursor=` (a client filling a URL template with nothing) is the first page.
    let cursor = params
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(FeedCursor::decode)
        .transpose()
        .map_err(video_error)?;
    let catalog = snapshots.get(&state.store).await?;
    let page = feed::page(
        state.store.as_ref(),
        &catalog,
        caller.as_ref().map(|u| u.user_id.as_str()),
        limit,
        cursor,
        params.seed,
    )
    .await
    .map_err(video_error)?;
    let mut items = Vec::with_capacity(page.entries.len());
    for e in page.entries {
        items.push(FeedItem {
            video_file: video_url(&state, &e.video.blob_key).await?,
            product: VideoProduct::from(e.product),
            id: e.video.id,
            title: e.video.title,
            likes_count: e.counts.likes_count,
            is_liked: e.is_liked,
            is_saved: e.is_saved,
            trend_score: e.video.trend_score,
            tags: e.video.tags,
            views_count: e.counts.views_count,
            shares_count: e.counts.shares_count,
            created_at: e.video.created_at,
        });
    }
    let mut headers = HeaderMap::new();
    if let Some(next) = page.next_cursor
        && let Ok(v) = HeaderValue::from_str(&next)
    {
        headers.insert(NEXT_CURSOR, v);
    }
    Ok((headers, Json(items)).into_response())
}

/// Uploads a video tied to a product.
///
/// - JSON body (`product_id`, `title`, `tags`, `size`): creates the video (`pending_upload`)
///   and returns a signed `upload` URL; PUT the file there (up to 50 MB). The video becomes
///   `ready` once the stored file is verified (an MP4 within 50 MB), else `failed`.
/// - `multipart/form-data` (`file`, `product_id`, `title`, `tags` as a JSON list), for files
///   that fit in a request (6 MB): verified at once, `ready` in the response.
#[utoipa::path(
    post, path = "/api/v1/shoppable-videos", tag = "shoppable-videos",
    request_body(content(
        (UploadRequest = "application/json"),
        (UploadRequest = "multipart/form-data"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 201, body = VideoDetail),
        (status = 400, description = "Malformed JSON or form", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "PRODUCT_NOT_FOUND", body = ErrorBody),
        (status = 413, description = "FILE_TOO_LARGE", body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "Missing title, bad tags, not an MP4 (INVALID_VIDEO)", body = ErrorBody),
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    req: Request,
) -> ApiResult<(StatusCode, Json<VideoDetail>)> {
    let media = media_type(req.headers());
    match media.as_deref() {
        Some("multipart/form-data") => {
            let content_type = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let form = upload::read_form(&content_type, req.into_body()).await?;
            upload_form(&state, &user, form).await
        }
        // JSON, or 415 for any other type.
        _ => {
            let ValidJson(body) = ValidJson::<UploadRequest>::from_request(req, &state).await?;
            upload_signed(&state, &user, body).await
        }
    }
}

async fn upload_signed(
    state: &AppState,
    user: &AuthUser,
    body: UploadRequest,
) -> ApiResult<(StatusCode, Json<VideoDetail>)> {
    let mut fields = Fields::default();
    let size = upload::size(body.size.as_ref(), &mut fields)?;
    let product_id = upload::product_id(body.product_id.as_ref(), &mut fields);
    let title = upload::title(body.title.as_ref(), &mut fields);
    let tags = upload::tags(body.tags.as_ref(), &mut fields);
    upload::content_type(body.content_type.as_ref(), &mut fields);
    fields.finish()?;
    let (Some(size), Some(product_id), Some(title), Some(tags)) = (size, product_id, title, tags)
    else {
        return Err(ApiError::invalid_field("body", "incomplete"));
    };
    let product = active_product(state, &product_id).await?;
    let video =
        videos::create_pending(state.store.as_ref(), new_video(&product, user, title, tags))
            .await
            .map_err(video_error)?;
    let signed = state
        .blobs
        .signed_put_url(&video.blob_key, VIDEO_CONTENT_TYPE, size, UPLOAD_URL_TTL)
        .await?;
    let target = UploadTarget {
        method: signed.method,
        url: signed.url,
        headers: signed.headers.into_iter().collect(),
        max_size: signed.max_size,
        expires_at: signed.expires_at,
    };
    let counts = VideoCounts::default();
    let detail = detail(state, video, counts, Some(&product), None, Some(target)).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

async fn upload_form(
    state: &AppState,
    user: &AuthUser,
    form: upload::Form,
) -> ApiResult<(StatusCode, Json<VideoDetail>)> {
    let text = |k: &str| form.text.get(k).map(|s| Value::String(s.clone()));
    let mut fields = Fields::default();
    let product_id = upload::product_id(text("product_id").as_ref(), &mut fields);
    let title = upload::title(text("title").as_ref(), &mut fields);
    let tags = upload::tags(text("tags").as_ref(), &mut fields);
    let file = form.file;
    if file.is_none() {
        fields.err("file", "Field required");
    }
    fields.finish()?;
    let (Some(product_id), Some(title), Some(tags), Some(file)) = (product_id, title, tags, file)
    else {
        return Err(ApiError::invalid_field("body", "incomplete"));
    };
    match verify::check_file(&file) {
        Ok(()) => {}
        Err(verify::Rejection::TooLarge) => return Err(upload::too_large()),
        Err(rejection) => {
            return Err(ApiError {
                field_errors: vec![FieldError::new("file", rejection.message())],
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::InvalidVideo,
                    rejection.message(),
                )
            });
        }
    }
    let product = active_product(state, &product_id).await?;
    // The record first, pending: in the cloud, storing the file sends an S3 event whose
    // verification must find the record (a file without one is removed as an orphan).
    let pending =
        videos::create_pending(state.store.as_ref(), new_video(&product, user, title, tags))
            .await
            .map_err(video_error)?;
    let stored = match state
        .blobs
        .put_new(&pending.blob_key, file, VIDEO_CONTENT_TYPE)
        .await
    {
        Ok(meta) => meta,
        Err(e) => {
            if let Err(cleanup) =
                videos::delete(state.store.as_ref(), state.blobs.as_ref(), &pending.id).await
            {
                tracing::warn!(error = %cleanup, video_id = %pending.id, "pending video left behind");
            }
            return Err(e.into());
        }
    };
    // Checked above; the S3 event's verification may have got there first, which is the same.
    verify::accept_upload(state.store.as_ref(), &pending, &stored)
        .await
        .map_err(video_error)?;
    let (video, counts) = videos::get_with_counts(state.store.as_ref(), &pending.id)
        .await?
        .ok_or_else(video_not_found)?;
    let detail = detail(state, video, counts, Some(&product), None, None).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// A video. Ready videos are public; pending and failed ones only to their uploader and admins.
#[utoipa::path(
    get, path = "/api/v1/shoppable-videos/{video_id}", tag = "shoppable-videos",
    params(("video_id" = String, Path, description = "Video id")),
    security((), ("bearer" = [])),
    responses((status = 200, body = VideoDetail), (status = 404, body = ErrorBody))
)]
pub async fn get_video(
    State(state): State<AppState>,
    caller: Option<AuthUser>,
    Path(video_id): Path<String>,
) -> ApiResult<Json<VideoDetail>> {
    let id = checked_id(&video_id)?;
    let (video, counts) = videos::get_with_counts(state.store.as_ref(), id)
        .await?
        .ok_or_else(video_not_found)?;
    let visible = video.status == VideoStatus::Ready
        || caller.as_ref().is_some_and(|u| may_manage(u, &video));
    if !visible {
        return Err(video_not_found());
    }
    let product = catalog::get_product(state.store.as_ref(), &video.product_id).await?;
    Ok(Json(
        detail(
            &state,
            video,
            counts,
            product.as_ref(),
            caller.as_ref(),
            None,
        )
        .await?,
    ))
}

/// Changes a video's title, tags or product (its uploader, or an admin).
#[utoipa::path(
    patch, path = "/api/v1/shoppable-videos/{video_id}", tag = "shoppable-videos",
    params(("video_id" = String, Path, description = "Video id")),
    request_body = UpdateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = VideoDetail),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_video(
    State(state): State<AppState>,
    user: AuthUser,
    Path(video_id): Path<String>,
    ValidJson(body): ValidJson<UpdateRequest>,
) -> ApiResult<Json<VideoDetail>> {
    let id = checked_id(&video_id)?;
    let video = videos::get(state.store.as_ref(), id)
        .await?
        .ok_or_else(video_not_found)?;
    if !may_manage(&user, &video) {
        return Err(ApiError::forbidden(
            "Only the uploader or an admin may change a video",
        ));
    }
    let mut fields = Fields::default();
    let mut patch = VideoPatch::default();
    if body.title.is_some() {
        patch.title = upload::title(body.title.as_ref(), &mut fields);
    }
    if body.tags.is_some() {
        patch.tags = upload::tags(body.tags.as_ref(), &mut fields);
    }
    let product_id = match &body.product_id {
        Some(_) => upload::product_id(body.product_id.as_ref(), &mut fields),
        None => None,
    };
    if body.title.is_none() && body.tags.is_none() && body.product_id.is_none() {
        fields.err("body", "nothing to change: give title, tags or product_id");
    }
    fields.finish()?;
    if let Some(pid) = product_id {
        let product = active_product(&state, &pid).await?;
        patch.product = Some((product.id, product.category_id));
    }
    let updated = videos::update(state.store.as_ref(), id, &patch)
        .await
        .map_err(video_error)?;
    let (product, counts) = tokio::try_join!(
        catalog::get_product(state.store.as_ref(), &updated.product_id),
        videos::counts(state.store.as_ref(), id),
    )?;
    Ok(Json(
        detail(&state, updated, counts, product.as_ref(), Some(&user), None).await?,
    ))
}

/// Deletes a video and its file (its uploader, or an admin).
#[utoipa::path(
    delete, path = "/api/v1/shoppable-videos/{video_id}", tag = "shoppable-videos",
    params(("video_id" = String, Path, description = "Video id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn delete_video(
    State(state): State<AppState>,
    user: AuthUser,
    Path(video_id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = checked_id(&video_id)?;
    let video = videos::get(state.store.as_ref(), id)
        .await?
        .ok_or_else(video_not_found)?;
    if !may_manage(&user, &video) {
        return Err(ApiError::forbidden(
            "Only the uploader or an admin may delete a video",
        ));
    }
    videos::delete(state.store.as_ref(), state.blobs.as_ref(), id)
        .await
        .map_err(video_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Flips the caller's like or save of a ready video.
async fn toggle(
    state: &AppState,
    kind: Toggle,
    user: &AuthUser,
    video_id: &str,
) -> ApiResult<interactions::Toggled> {
    let id = checked_id(video_id)?;
    interactions::toggle_recorded(
        state.store.as_ref(),
        kind,
        &user.user_id,
        id,
        state.config.record_interactions,
    )
    .await
    .map_err(video_error)
}

/// Whom a share or view is recorded for in the interaction log: a signed-in caller, when
/// recording is on.
fn recorded_actor(state: &AppState, caller: Option<&AuthUser>) -> Option<log::Actor> {
    caller
        .filter(|_| state.config.record_interactions)
        .map(|u| log::Actor::User(u.user_id.clone()))
}

/// Toggles the caller's like.
#[utoipa::path(
    post, path = "/api/v1/shoppable-videos/{video_id}/like", tag = "shoppable-videos",
    params(("video_id" = String, Path, description = "Video id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = LikeResponse),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn like(
    State(state): State<AppState>,
    user: AuthUser,
    Path(video_id): Path<String>,
) -> ApiResult<Json<LikeResponse>> {
    let t = toggle(&state, Toggle::Like, &user, &video_id).await?;
    Ok(Json(LikeResponse {
        status: SUCCESS,
        liked: t.active,
        likes_count: t.count,
    }))
}

/// Toggles the caller's save.
#[utoipa::path(
    post, path = "/api/v1/shoppable-videos/{video_id}/save_video", tag = "shoppable-videos",
    params(("video_id" = String, Path, description = "Video id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = SaveResponse),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn save_video(
    State(state): State<AppState>,
    user: AuthUser,
    Path(video_id): Path<String>,
) -> ApiResult<Json<SaveResponse>> {
    let t = toggle(&state, Toggle::Save, &user, &video_id).await?;
    Ok(Json(SaveResponse {
        status: SUCCESS,
        saved: t.active,
    }))
}

/// Adds one share.
#[utoipa::path(
    post, path = "/api/v1/shoppable-videos/{video_id}/share", tag = "shoppable-videos",
    params(("video_id" = String, Path, description = "Video id")),
    security((), ("bearer" = [])),
    responses((status = 200, body = ShareResponse), (status = 404, body = ErrorBody))
)]
pub async fn share(
    State(state): State<AppState>,
    caller: Option<AuthUser>,
    Path(video_id): Path<String>,
) -> ApiResult<Json<ShareResponse>> {
    let id = checked_id(&video_id)?;
    let actor = recorded_actor(&state, caller.as_ref());
    let shares_count = interactions::share_recorded(state.store.as_ref(), id, actor.as_ref())
        .await
        .map_err(video_error)?;
    Ok(Json(ShareResponse {
        status: SUCCESS,
        shares_count,
    }))
}

/// Adds one view. Call it when a video loops or was watched for a significant time; a signed-in
/// viewer's watched videos rank lower on their later feed pages.
#[utoipa::path(
    post, path = "/api/v1/shoppable-videos/{video_id}/view", tag = "shoppable-videos",
    params(("video_id" = String, Path, description = "Video id")),
    security((), ("bearer" = [])),
    responses((status = 200, body = ViewResponse), (status = 404, body = ErrorBody))
)]
pub async fn view(
    State(state): State<AppState>,
    caller: Option<AuthUser>,
    Path(video_id): Path<String>,
) -> ApiResult<Json<ViewResponse>> {
    let id = checked_id(&video_id)?;
    let actor = recorded_actor(&state, caller.as_ref());
    let views_count = interactions::view_recorded(
        state.store.as_ref(),
        id,
        caller.as_ref().map(|u| u.user_id.as_str()),
        actor.as_ref(),
    )
    .await
    .map_err(video_error)?;
    Ok(Json(ViewResponse {
        status: SUCCESS,
        views_count,
    }))
}
