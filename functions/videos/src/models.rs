//! Request and response bodies, shaped as spec 004 shows them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::domain::{catalog::ProductRecord, videos::VideoStatus};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// The product a video sells.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VideoProduct {
    pub id: String,
    pub name: String,
    pub price: f64,
}

impl From<&ProductRecord> for VideoProduct {
    fn from(p: &ProductRecord) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            price: p.price.to_f64(),
        }
    }
}

/// One video of the feed (spec fields first).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedItem {
    pub id: String,
    pub title: String,
    /// A time-limited signed URL of the MP4 (or a CDN URL when `MEDIA_PUBLIC_BASE_URL` is set).
    pub video_file: String,
    pub product: VideoProduct,
    pub likes_count: u64,
    pub is_liked: bool,
    pub is_saved: bool,
    pub trend_score: f64,
    pub tags: Vec<String>,
    pub views_count: u64,
    pub shares_count: u64,
    pub created_at: String,
}

/// Query of the feed.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Videos per page, 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    #[validate(range(min = 1, max = 50))]
    pub limit: Option<u32>,
    /// The `X-Next-Cursor` of the previous page: continues the same feed session, which never
    /// repeats a video.
    pub cursor: Option<String>,
    /// Makes the random term of the score reproducible (a new session only).
    pub seed: Option<u64>,
}

/// Schema of the upload's `tags`: at most 20 strings of at most 40 characters.
fn video_tags_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(40))
                .build(),
        )
        .max_items(Some(20))
        .build()
}

/// JSON body of `POST /`: creates the video and returns a signed upload URL. Fields are checked
/// by hand (`upload.rs`), so that every problem is reported with its field.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UploadRequest {
    #[schema(value_type = String, required = true, min_length = 1, pattern = r"\S")]
    pub product_id: Option<Value>,
    /// 1-200 characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<Value>,
    /// At most 20 tags of at most 40 characters (or, in the multipart form, a string holding
    /// such a JSON list).
    #[schema(schema_with = video_tags_schema)]
    pub tags: Option<Value>,
    /// Bytes of the file to upload, at most 52,428,800 (50 MB).
    #[schema(value_type = u64, required = true, minimum = 1, maximum = 52428800)]
    pub size: Option<Value>,
    /// Must be `video/mp4` (the default).
    #[schema(value_type = String, pattern = "^video/mp4$")]
    pub content_type: Option<Value>,
}

/// Where and how to upload the file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UploadTarget {
    /// Always `PUT`.
    pub method: String,
    pub url: String,
    /// Headers to send unchanged (`content-type: video/mp4`).
    pub headers: std::collections::BTreeMap<String, String>,
    pub max_size: u64,
    /// Epoch seconds after which the URL is refused.
    pub expires_at: i64,
}

/// A video as its uploader (or an admin) sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VideoDetail {
    pub id: String,
    pub title: String,
    pub tags: Vec<String>,
    pub status: VideoStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Present once the video is ready.
    pub video_file: Option<String>,
    pub product: Option<VideoProduct>,
    pub product_id: String,
    pub uploader_id: String,
    pub likes_count: u64,
    pub saves_count: u64,
    pub shares_count: u64,
    pub views_count: u64,
    pub trend_score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_liked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_saved: Option<bool>,
    pub created_at: String,
    pub updated_at: String,
    /// Present right after `POST /` with a JSON body: upload the file there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadTarget>,
}

/// `PATCH /{id}`: fields to change (checked like the upload's).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateRequest {
    #[schema(value_type = String)]
    pub title: Option<Value>,
    #[schema(value_type = Vec<String>)]
    pub tags: Option<Value>,
    #[schema(value_type = String)]
    pub product_id: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LikeResponse {
    /// `success`
    pub status: &'static str,
    pub liked: bool,
    pub likes_count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SaveResponse {
    pub status: &'static str,
    pub saved: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShareResponse {
    pub status: &'static str,
    pub shares_count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ViewResponse {
    pub status: &'static str,
    pub views_count: u64,
}
