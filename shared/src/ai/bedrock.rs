//! Bedrock implementations. See the module docs of `ai`.
//!
//! - [`BedrockEmbedder`]: Titan Text Embeddings v2 through `InvokeModel`
//!   (`POST /model/{modelId}/invoke`, body `{"inputText", "dimensions", "normalize"}`).
//! - [`BedrockText`]: any chat model through the Converse API (`POST /model/{modelId}/converse`).
//! - [`BedrockImages`]: Titan Image Generator v2 / Nova Canvas through `InvokeModel`
//!   (`taskType: TEXT_IMAGE`).
//!
//! Throttling is retried by the SDK itself (standard retry mode, exponential backoff with jitter,
//! [`BedrockClient::default_retry_config`]); what is still throttled afterwards becomes
//! [`AiError::Throttled`]. Every operation has an attempt timeout and a total timeout
//! ([`BedrockTimeouts`]), sized to fit inside an API Gateway request (30 s).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::{
    Client,
    config::{retry::RetryConfig, timeout::TimeoutConfig},
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    primitives::Blob,
    types::{
        ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message,
        StopReason, SystemContentBlock,
    },
};
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::{
    AiError, AiResult, Embedder, Embedding, GeneratedImage, ImageGenerator, ImageRequest,
    Provenance, TextGenerator, TextRequest, TextResponse,
};

const BACKEND: &str = "bedrock";

/// Longest prompt sent to the image model, in characters (Titan Image Generator's limit is 512;
/// Nova Canvas accepts 1024). Longer prompts are cut at a word boundary.
pub const MAX_IMAGE_PROMPT_CHARS: usize = 512;

/// Largest seed sent to the image model: Nova Canvas accepts 0..=858_993_459 (Titan accepts
/// more), so seeds are reduced modulo this range to be valid for both.
pub const MAX_IMAGE_SEED: u32 = 858_993_459;

/// Classifier-free guidance scale sent to the image model (valid range 1.1..=10 for both models).
const IMAGE_CFG_SCALE: f32 = 8.0;

/// Per-operation timeouts: `attempt` bounds one HTTP attempt, `total` the whole call including
/// retries and backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationTimeouts {
    pub attempt: Duration,
    pub total: Duration,
}

/// Timeouts of the three operations, plus the TCP/TLS connect timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BedrockTimeouts {
    pub connect: Duration,
    pub embed: OperationTimeouts,
    pub text: OperationTimeouts,
    pub image: OperationTimeouts,
}

impl Default for BedrockTimeouts {
    /// Embeddings are fast (tens of milliseconds); text and images can take many seconds. Totals
    /// stay under API Gateway's 30 s integration limit.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            embed: OperationTimeouts {
                attempt: Duration::from_secs(5),
                total: Duration::from_secs(12),
            },
            text: OperationTimeouts {
                attempt: Duration::from_secs(20),
                total: Duration::from_secs(27),
            },
            image: OperationTimeouts {
                attempt: Duration::from_secs(25),
                total: Duration::from_secs(28),
            },
        }
    }
}

impl BedrockTimeouts {
    fn config(&self, op: OperationTimeouts) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(op.attempt)
            .operation_timeout(op.total)
            .build()
    }
}

/// A Bedrock runtime client shared by the three implementations (cheap to clone).
#[derive(Clone)]
pub struct BedrockClient {
    client: Client,
    timeouts: BedrockTimeouts,
}

impl std::fmt::Debug for BedrockClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BedrockClient")
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl BedrockClient {
    /// A client from the shared SDK configuration, with [`Self::default_retry_config`] and
    /// [`BedrockTimeouts::default`].
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self::with_retry(sdk, Self::default_retry_config())
    }

    /// Like [`Self::new`] with another retry policy (tests use millisecond backoffs).
    pub fn with_retry(sdk: &aws_config::SdkConfig, retry: RetryConfig) -> Self {
        let timeouts = BedrockTimeouts::default();
        let config = aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .retry_config(retry)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(timeouts.connect)
                    .build(),
            )
            .build();
        Self {
            client: Client::from_conf(config),
            timeouts,
        }
    }

    /// Wraps a ready client (its own retry configuration is kept), with default timeouts.
    pub fn from_client(client: Client) -> Self {
        Self {
            client,
            timeouts: BedrockTimeouts::default(),
        }
    }

    /// Replaces the per-operation timeouts.
    pub fn with_timeouts(mut self, timeouts: BedrockTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Standard mode: 4 attempts in all, exponential backoff with full jitter from 200 ms, capped
    /// at 4 s.
    pub fn default_retry_config() -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(4)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(4))
    }

    pub fn timeouts(&self) -> BedrockTimeouts {
        self.timeouts
    }

    /// The wrapped SDK client.
    pub fn sdk(&self) -> &Client {
        &self.client
    }

    fn override_for(&self, op: OperationTimeouts) -> aws_sdk_bedrockruntime::config::Builder {
        aws_sdk_bedrockruntime::config::Builder::new().timeout_config(self.timeouts.config(op))
    }

    /// `InvokeModel` with a JSON body; returns the response body.
    async fn invoke_json(
        &self,
        model_id: &str,
        body: &serde_json::Value,
        timeouts: OperationTimeouts,
    ) -> AiResult<Vec<u8>> {
        let body = serde_json::to_vec(body)
            .map_err(|e| AiError::Model(format!("cannot serialise the request: {e}")))?;
        let output = self
            .client
            .invoke_model()
            .model_id(model_id)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .customize()
            .config_override(self.override_for(timeouts))
            .send()
            .await
            .map_err(|e| map_sdk_error(model_id, e))?;
        Ok(output.body.into_inner())
    }
}

/// Maps an SDK error (after the SDK's own retries) to [`AiError`].
fn map_sdk_error<E, R>(model_id: &str, err: SdkError<E, R>) -> AiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let mapped = match &err {
        SdkError::TimeoutError(_) => AiError::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => AiError::Timeout,
        SdkError::ServiceError(service) => {
            let e = service.err();
            let message = e.message().unwrap_or("no message").to_owned();
            match e.code() {
                Some("ThrottlingException" | "ServiceQuotaExceededException") => AiError::Throttled,
                Some("ModelTimeoutException") => AiError::Timeout,
                Some("ValidationException") => AiError::Invalid(message),
                Some(code) => AiError::Model(format!("{code}: {message}")),
                None => AiError::Model(DisplayErrorContext(&err).to_string()),
            }
        }
        _ => AiError::Model(DisplayErrorContext(&err).to_string()),
    };
    tracing::warn!(
        backend = BACKEND,
        model_id,
        error = %DisplayErrorContext(&err),
        mapped = %mapped,
        "bedrock call failed"
    );
    mapped
}

fn provenance(model_id: &str) -> Provenance {
    Provenance {
        backend: BACKEND.to_owned(),
        model_id: model_id.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Embeddings

/// Titan Text Embeddings v2 (`amazon.titan-embed-text-v2:0`; dimensions 256, 512 or 1024).
#[derive(Debug, Clone)]
pub struct BedrockEmbedder {
    client: BedrockClient,
    model_id: String,
    dimensions: usize,
}

impl BedrockEmbedder {
    pub fn new(client: BedrockClient, model_id: &str, dimensions: usize) -> Self {
        Self {
            client,
            model_id: model_id.to_owned(),
            dimensions,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanEmbeddingResponse {
    embedding: Vec<f32>,
    #[serde(default)]
    input_text_token_count: Option<u32>,
}

#[async_trait]
impl Embedder for BedrockEmbedder {
    async fn embed(&self, text: &str) -> AiResult<Embedding> {
        if text.trim().is_empty() {
            return Err(AiError::Invalid("cannot embed empty text".to_owned()));
        }
        let body = json!({
            "inputText": text,
            "dimensions": self.dimensions,
            "normalize": true,
        });
        let raw = self
            .client
            .invoke_json(&self.model_id, &body, self.client.timeouts.embed)
            .await?;
        let parsed: TitanEmbeddingResponse = serde_json::from_slice(&raw)
            .map_err(|e| AiError::Model(format!("unexpected embedding response: {e}")))?;
        let mut vector = parsed.embedding;
        if vector.len() != self.dimensions {
            return Err(AiError::Model(format!(
                "embedding has {} values, expected {}",
                vector.len(),
                self.dimensions
            )));
        }
        if vector.iter().any(|v| !v.is_finite()) {
            return Err(AiError::Model("embedding has non-finite values".to_owned()));
        }
        // We asked for a normalised vector; make sure the trait's unit-length promise holds.
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm == 0.0 {
            return Err(AiError::Model("embedding is the zero vector".to_owned()));
        }
        if (norm - 1.0).abs() > 1e-3 {
            vector.iter_mut().for_each(|v| *v /= norm);
        }
        tracing::debug!(
            model_id = %self.model_id,
            input_tokens = parsed.input_text_token_count,
            "embedded text"
        );
        Ok(Embedding {
            vector,
            provenance: self.provenance(),
        })
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn provenance(&self) -> Provenance {
        provenance(&self.model_id)
    }
}

// ---------------------------------------------------------------------------------------------
// Text

/// Text generation with the Converse API: optional system prompt, one user message.
#[derive(Debug, Clone)]
pub struct BedrockText {
    client: BedrockClient,
    model_id: String,
}

impl BedrockText {
    pub fn new(client: BedrockClient, model_id: &str) -> Self {
        Self {
            client,
            model_id: model_id.to_owned(),
        }
    }
}

#[async_trait]
impl TextGenerator for BedrockText {
    async fn generate(&self, request: TextRequest) -> AiResult<TextResponse> {
        if request.prompt.trim().is_empty() {
            return Err(AiError::Invalid("empty prompt".to_owned()));
        }
        if request.max_tokens == 0 {
            return Err(AiError::Invalid("max_tokens must be at least 1".to_owned()));
        }
        let message = Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Text(request.prompt))
            .build()
            .map_err(|e| AiError::Model(format!("cannot build the message: {e}")))?;
        let temperature = if request.temperature.is_finite() {
            request.temperature.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let inference = InferenceConfiguration::builder()
            .max_tokens(i32::try_from(request.max_tokens).unwrap_or(i32::MAX))
            .temperature(temperature)
            .build();
        let mut call = self
            .client
            .client
            .converse()
            .model_id(&self.model_id)
            .messages(message)
            .inference_config(inference);
        if let Some(system) = request.system.filter(|s| !s.trim().is_empty()) {
            call = call.system(SystemContentBlock::Text(system));
        }
        let output = call
            .customize()
            .config_override(self.client.override_for(self.client.timeouts.text))
            .send()
            .await
            .map_err(|e| map_sdk_error(&self.model_id, e))?;

        let text = match output.output() {
            Some(ConverseOutput::Message(message)) => message
                .content()
                .iter()
                .filter_map(|block| block.as_text().ok().map(String::as_str))
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        };
        match output.stop_reason() {
            StopReason::ContentFiltered | StopReason::GuardrailIntervened => {
                return Err(AiError::Invalid(format!(
                    "the model refused the request ({})",
                    output.stop_reason().as_str()
                )));
            }
            StopReason::MaxTokens => {
                tracing::debug!(model_id = %self.model_id, "text generation hit max_tokens");
            }
            _ => {}
        }
        if text.trim().is_empty() {
            return Err(AiError::Model("the model returned no text".to_owned()));
        }
        let (input_tokens, output_tokens) = output
            .usage()
            .map(|u| {
                (
                    non_negative(u.input_tokens()),
                    non_negative(u.output_tokens()),
                )
            })
            .unwrap_or((0, 0));
        Ok(TextResponse {
            text,
            input_tokens,
            output_tokens,
            provenance: self.provenance(),
        })
    }

    fn provenance(&self) -> Provenance {
        provenance(&self.model_id)
    }
}

fn non_negative(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Images

/// Image generation with Titan Image Generator v2 or Nova Canvas (same `TEXT_IMAGE` body).
#[derive(Debug, Clone)]
pub struct BedrockImages {
    client: BedrockClient,
    model_id: String,
}

impl BedrockImages {
    pub fn new(client: BedrockClient, model_id: &str) -> Self {
        Self {
            client,
            model_id: model_id.to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct ImageResponse {
    #[serde(default)]
    images: Vec<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Cuts `prompt` to at most `max` characters, at a word boundary when there is one.
fn truncate_prompt(prompt: &str, max: usize) -> &str {
    match prompt.char_indices().nth(max) {
        None => prompt,
        Some((cut, _)) => {
            let head = &prompt[..cut];
            match head.rfind(char::is_whitespace) {
                Some(space) if space > 0 => head[..space].trim_end(),
                _ => head,
            }
        }
    }
}

#[async_trait]
impl ImageGenerator for BedrockImages {
    async fn generate(&self, request: ImageRequest) -> AiResult<GeneratedImage> {
        let prompt = request.prompt.trim();
        if prompt.is_empty() {
            return Err(AiError::Invalid("empty image prompt".to_owned()));
        }
        if !(1..=4096).contains(&request.width) || !(1..=4096).contains(&request.height) {
            return Err(AiError::Invalid(format!(
                "image size {}x{} out of range",
                request.width, request.height
            )));
        }
        let text = truncate_prompt(prompt, MAX_IMAGE_PROMPT_CHARS);
        let mut config = json!({
            "numberOfImages": 1,
            "width": request.width,
            "height": request.height,
            "cfgScale": IMAGE_CFG_SCALE,
        });
        if let (Some(seed), Some(obj)) = (request.seed, config.as_object_mut()) {
            obj.insert("seed".to_owned(), json!(seed % (MAX_IMAGE_SEED + 1)));
        }
        let body = json!({
            "taskType": "TEXT_IMAGE",
            "textToImageParams": { "text": text },
            "imageGenerationConfig": config,
        });
        let raw = self
            .client
            .invoke_json(&self.model_id, &body, self.client.timeouts.image)
            .await?;
        let parsed: ImageResponse = serde_json::from_slice(&raw)
            .map_err(|e| AiError::Model(format!("unexpected image response: {e}")))?;
        if let Some(error) = parsed.error.filter(|e| !e.is_empty()) {
            // The models report content-moderation refusals here.
            return Err(AiError::Invalid(error));
        }
        let encoded = parsed
            .images
            .first()
            .ok_or_else(|| AiError::Model("the model returned no image".to_owned()))?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map_err(|e| AiError::Model(format!("image is not valid base64: {e}")))?;
        let (width, height) = png_dimensions(&png)?;
        if (width, height) != (request.width, request.height) {
            tracing::debug!(
                model_id = %self.model_id,
                requested = %format!("{}x{}", request.width, request.height),
                returned = %format!("{width}x{height}"),
                "image model returned another size"
            );
        }
        Ok(GeneratedImage {
            png: Bytes::from(png),
            width,
            height,
            provenance: self.provenance(),
        })
    }

    fn provenance(&self) -> Provenance {
        provenance(&self.model_id)
    }
}

/// Checks that `bytes` is a PNG and reads its size from the header.
fn png_dimensions(bytes: &[u8]) -> AiResult<(u32, u32)> {
    use image::ImageDecoder as _;
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return Err(AiError::Model(
            "the model returned an image that is not a PNG".to_owned(),
        ));
    }
    let decoder = image::codecs::png::PngDecoder::new(std::io::Cursor::new(bytes))
        .map_err(|e| AiError::Model(format!("the model returned an invalid PNG: {e}")))?;
    Ok(decoder.dimensions())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_truncation_keeps_short_prompts_and_cuts_at_words() {
        assert_eq!(truncate_prompt("short prompt", 512), "short prompt");
        assert_eq!(truncate_prompt("alpha beta gamma", 12), "alpha beta");
        assert_eq!(truncate_prompt("abcdefghij", 4), "abcd");
        assert_eq!(truncate_prompt("héllo wörld", 8), "héllo");
    }

    #[test]
    fn png_check_rejects_other_bytes() {
        assert!(matches!(png_dimensions(b"GIF89a"), Err(AiError::Model(_))));
        assert!(matches!(
            png_dimensions(b"\x89PNG\r\n\x1a\nbroken"),
            Err(AiError::Model(_))
        ));
    }

    #[test]
    fn default_timeouts_fit_api_gateway() {
        let t = BedrockTimeouts::default();
        for op in [t.embed, t.text, t.image] {
            assert!(op.attempt <= op.total);
            assert!(op.total < Duration::from_secs(30));
        }
    }
}
