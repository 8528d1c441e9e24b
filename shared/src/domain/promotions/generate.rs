//! Text and banner generation end to end.
//!
//! [`generate_text`]: the local backend serves [`copy::template_copy`] (its generic generator
//! restates the prompt); a model gets [`copy::text_prompt`], and its answer is served unless it
//! states an amount of money that is not in the facts ([`copy::invented_amounts`]), in which case
//! the template is served and the model's text kept in the audit record. Every text is recorded
//! ([`super::texts`]) before it is returned.
//!
//! [`generate_banner`]: the image is generated first (size from the aspect ratio and the model
//! family, the product's name and price as its caption), then stored with its record
//! ([`records::create`]): a failed generation writes nothing, a failed write leaves nothing.

use bytes::Bytes;

use super::copy::{self, AspectRatio, ImageFamily, ProductFacts, SegmentFacts};
use super::records::{self, Banner, CreateError};
use super::texts::{self, PromotionText};
use crate::ai::{AiError, ImageGenerator, ImageRequest, TextGenerator, TextRequest};
use crate::blobs::{BlobError, BlobStore};
use crate::domain::catalog::{self, ProductRecord};
use crate::store::{self, ItemStore, StoreError};

/// Why a generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Ai(#[from] AiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

impl From<CreateError> for GenerateError {
    fn from(e: CreateError) -> Self {
        match e {
            CreateError::Blob(e) => Self::Blob(e),
            CreateError::Store(e) => Self::Store(e),
        }
    }
}

/// The facts of a product record (its category's name looked up).
pub async fn product_facts(
    store: &dyn ItemStore,
    p: &ProductRecord,
) -> Result<ProductFacts, StoreError> {
    let category = catalog::get_category(store, &p.category_id)
        .await?
        .map(|c| c.name);
    Ok(ProductFacts {
        id: p.id.clone(),
        name: p.name.clone(),
        brand: p.brand.clone(),
        price: p.price,
        compare_price: p.compare_price,
        category,
    })
}

/// What a text is written from.
#[derive(Debug, Clone, PartialEq)]
pub struct TextInputs {
    pub segment: SegmentFacts,
    pub category: String,
    pub product: Option<ProductFacts>,
    pub context: Option<String>,
    /// The user it is for (personalized-promotion).
    pub user_id: Option<String>,
    pub author: String,
}

/// Longest text asked of the model, in tokens.
const MAX_TEXT_TOKENS: u32 = 200;

/// Generates, records and returns one promotion text (see the module docs).
pub async fn generate_text(
    store: &dyn ItemStore,
    generator: &dyn TextGenerator,
    inputs: &TextInputs,
) -> Result<PromotionText, GenerateError> {
    let context = inputs.context.as_deref();
    let prompt = copy::text_prompt(
        &inputs.segment,
        &inputs.category,
        inputs.product.as_ref(),
        context,
    );
    let template = || {
        copy::template_copy(
            &inputs.segment,
            &inputs.category,
            inputs.product.as_ref(),
            context,
        )
    };
    let provenance = generator.provenance();
    let (text, source, input_tokens, output_tokens, rejected_text) =
        if provenance.backend == "local" {
            (template(), "template", 0, 0, None)
        } else {
            let mut request = TextRequest::new(prompt.user.clone());
            request.system = Some(prompt.system.clone());
            request.max_tokens = MAX_TEXT_TOKENS;
            request.temperature = 0.7;
            let out = generator.generate(request).await?;
            let answer = out.text.trim().to_string();
            let allowed = copy::allowed_amounts(inputs.product.as_ref(), context);
            let invented = copy::invented_amounts(&answer, &allowed);
            if invented.is_empty() {
                (answer, "model", out.input_tokens, out.output_tokens, None)
            } else {
                tracing::warn!(
                    invented = ?invented,
                    model_id = %provenance.model_id,
                    "model promotion text states amounts not in the facts; template served"
                );
                (
                    template(),
                    "template",
                    out.input_tokens,
                    out.output_tokens,
                    Some(answer),
                )
            }
        };
    let record = PromotionText {
        id: uuid::Uuid::now_v7().to_string(),
        created_at: store::now_rfc3339(),
        created_by: inputs.author.clone(),
        user_id: inputs.user_id.clone(),
        cluster_id: inputs.segment.id,
        segment_name: inputs.segment.name.clone(),
        category: inputs.category.clone(),
        product_id: inputs.product.as_ref().map(|p| p.id.clone()),
        additional_context: inputs.context.clone(),
        prompt_version: copy::PROMPT_VERSION.to_owned(),
        system_prompt: prompt.system,
        prompt: prompt.user,
        text,
        source: source.to_owned(),
        model_backend: provenance.backend,
        model_id: provenance.model_id,
        input_tokens,
        output_tokens,
        rejected_text,
    };
    texts::record(store, &record).await?;
    Ok(record)
}

/// What a banner is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct BannerInputs {
    /// A fixed id (demo data); `None`: a new one.
    pub id: Option<String>,
    pub prompt: String,
    pub aspect_ratio: AspectRatio,
    pub product: Option<ProductFacts>,
    pub user_id: Option<String>,
    pub promotion_id: Option<String>,
    pub author: String,
}

/// Generates and stores one banner; returns its record and PNG (see the module docs).
pub async fn generate_banner(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    images: &dyn ImageGenerator,
    inputs: &BannerInputs,
) -> Result<(Banner, Bytes), GenerateError> {
    let now = chrono::Utc::now();
    let id = inputs
        .id
        .clone()
        .unwrap_or_else(|| records::new_banner_id(now));
    let provenance = images.provenance();
    let (width, height) = ImageFamily::of(&provenance).size(inputs.aspect_ratio);
    let image_prompt = copy::image_prompt(&inputs.prompt, inputs.product.as_ref());
    let seed = xxhash_rust::xxh3::xxh3_64(id.as_bytes()) as u32;
    let image = images
        .generate(ImageRequest {
            prompt: image_prompt.clone(),
            width,
            height,
            seed: Some(seed),
            caption: copy::caption(inputs.product.as_ref()),
        })
        .await?;
    let banner = Banner {
        saved_path: records::blob_key(&id),
        id,
        prompt: inputs.prompt.trim().to_string(),
        image_prompt,
        product_id: inputs.product.as_ref().map(|p| p.id.clone()),
        product_category: inputs.product.as_ref().and_then(|p| p.category.clone()),
        user_id: inputs.user_id.clone(),
        promotion_id: inputs.promotion_id.clone(),
        aspect_ratio: inputs.aspect_ratio.as_str().to_owned(),
        width: image.width,
        height: image.height,
        size: image.png.len() as u64,
        model_backend: image.provenance.backend.clone(),
        model_id: image.provenance.model_id.clone(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        created_by: inputs.author.clone(),
        is_published: false,
        target_audience: None,
        start_date: None,
        end_date: None,
        priority: None,
        published_at: None,
        published_by: None,
        version: 0,
    };
    records::create(store, blobs, &banner, image.png.clone()).await?;
    Ok((banner, image.png))
}
