//! The model adapter: a [`TextGenerator`] (Bedrock Converse in the cloud) driven by the versioned
//! prompts of [`super::prompts`].
//!
//! 1. The chapter is split at headings into chunks of at most `chunk_chars` characters (a section
//!    that is longer is split between its blocks; a single block longer than that, e.g. a huge
//!    code block, goes alone).
//! 2. In each chunk, code blocks and formulas become `[[KEEP-n]]` placeholders: the model never
//!    sees them, so it cannot alter them, and they are put back verbatim afterwards.
//! 3. Chunks are adapted concurrently, at most `concurrency` at once (`buffered` keeps their
//!    order), and joined in order.
//! 4. Each answer is checked: every placeholder exactly once (block ones alone on their line) and
//!    the same headings in the same order. A failed check is retried once, then is an error.
//! 5. A throttled call is retried with exponential backoff (the Bedrock client has already
//!    retried inside the SDK; this covers bursts from our own concurrent chunks).

use std::{ops::Range, sync::Arc, time::Duration};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt, stream};
use shared::ai::{AiError, Provenance, TextGenerator, TextRequest};

use super::{AdaptError, Adapter, Level, prompts};
use crate::markdown::{self, BlockKind};

/// Bounds of the model adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelLimits {
    /// Largest chunk sent in one request, in bytes of Markdown.
    pub chunk_chars: usize,
    /// Chunks in flight at once.
    pub concurrency: usize,
    /// Our retries of a throttled call (after the SDK's own).
    pub throttle_retries: u32,
    /// First backoff; doubles on each retry.
    pub throttle_backoff: Duration,
    /// Retries of an answer that failed the structure check.
    pub validation_retries: u32,
}

impl Default for ModelLimits {
    /// The defaults of the `TEXTBOOK_*` settings (see `crate::settings`, which reads them).
    fn default() -> Self {
        Self {
            chunk_chars: 8000,
            concurrency: 4,
            throttle_retries: 2,
            throttle_backoff: Duration::from_millis(400),
            validation_retries: 1,
        }
    }
}

pub struct ModelAdapter {
    text: Arc<dyn TextGenerator>,
    limits: ModelLimits,
}

impl ModelAdapter {
    pub fn new(text: Arc<dyn TextGenerator>, limits: ModelLimits) -> Self {
        Self { text, limits }
    }

    async fn adapt_chunk(
        &self,
        level: Level,
        part: usize,
        parts: usize,
        chunk: &str,
    ) -> Result<String, AdaptError> {
        let frozen = Frozen::new(chunk);
        let expected_headings = headings(chunk);
        let request = TextRequest {
            system: Some(prompts::SYSTEM.to_string()),
            prompt: prompts::user_prompt(level, part, parts, &frozen.text),
            max_tokens: max_tokens(chunk),
            temperature: 0.2,
        };
        let (mut throttled, mut invalid) = (0u32, 0u32);
        loop {
            match self.text.generate(request.clone()).await {
                Ok(response) => {
                    let checked = frozen.thaw(&unwrap_answer(&response.text)).and_then(|t| {
                        if headings(&t) == expected_headings {
                            Ok(t)
                        } else {
                            Err(AdaptError::Structure("headings changed".into()))
                        }
                    });
                    match checked {
                        Ok(t) => return Ok(t),
                        Err(e) if invalid < self.limits.validation_retries => {
                            invalid += 1;
                            tracing::warn!(part, error = %e, "adapted chunk failed validation; retrying");
                        }
                        Err(e) => return Err(e),
                    }
                }
                Err(AiError::Throttled) if throttled < self.limits.throttle_retries => {
                    let wait = self.limits.throttle_backoff * 2u32.pow(throttled);
                    throttled += 1;
                    tracing::warn!(
                        part,
                        wait_ms = wait.as_millis() as u64,
                        "model throttled; backing off"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(AiError::Throttled) => return Err(AdaptError::Throttled),
                Err(AiError::Timeout) => return Err(AdaptError::Timeout),
                Err(e @ (AiError::Invalid(_) | AiError::Model(_))) => {
                    return Err(AdaptError::Model(e.to_string()));
                }
            }
        }
    }
}

#[async_trait]
impl Adapter for ModelAdapter {
    fn provenance(&self) -> Provenance {
        self.text.provenance()
    }

    fn prompt_version(&self) -> &'static str {
        prompts::PROMPT_VERSION
    }

    async fn adapt(&self, chapter: &str, level: Level) -> Result<String, AdaptError> {
        let ranges = chunks(chapter, self.limits.chunk_chars);
        let parts = ranges.len();
        let adapted: Vec<String> = stream::iter(ranges.into_iter().enumerate())
            .map(|(i, r)| self.adapt_chunk(level, i + 1, parts, &chapter[r]))
            .buffered(self.limits.concurrency.max(1))
            .try_collect()
            .await?;
        let mut out = adapted
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        out.push('\n');
        Ok(out)
    }
}

/// Output budget of one chunk: room for a beginner rewrite that runs longer than its input.
fn max_tokens(chunk: &str) -> u32 {
    let estimate = chunk.len() / 4 * 2 + 256;
    u32::try_from(estimate.clamp(512, 4096)).unwrap_or(4096)
}

/// (level, text) of every heading, in order.
fn headings(md: &str) -> Vec<(u8, String)> {
    markdown::blocks(md)
        .into_iter()
        .filter_map(|b| match b.kind {
            BlockKind::Heading(level) => Some((level, b.text)),
            _ => None,
        })
        .collect()
}

/// Contiguous byte ranges covering `md`, split at headings (then between blocks), each at most
/// `max` bytes unless a single block is longer.
pub fn chunks(md: &str, max: usize) -> Vec<Range<usize>> {
    let max = max.max(1);
    let mut units: Vec<Range<usize>> = Vec::new();
    for section in markdown::sections(md) {
        if section.end - section.start <= max {
            units.push(section.start..section.end);
            continue;
        }
        let mut cuts: Vec<usize> = vec![section.start];
        cuts.extend(
            section
                .blocks
                .iter()
                .copied()
                .filter(|&b| b > section.start),
        );
        cuts.push(section.end);
        for w in cuts.windows(2) {
            units.push(w[0]..w[1]);
        }
    }
    let mut out: Vec<Range<usize>> = Vec::new();
    for unit in units.into_iter().filter(|u| u.start < u.end) {
        match out.last_mut() {
            Some(last) if unit.end - last.start <= max => last.end = unit.end,
            _ => out.push(unit),
        }
    }
    if out.is_empty() {
        out.push(0..md.len());
    }
    out
}

/// A chunk with its code blocks and formulas replaced by placeholders.
struct Frozen {
    text: String,
    /// (placeholder, original, block-level)
    spans: Vec<(String, String, bool)>,
    /// How often the chapter itself contains the placeholder prefix.
    literal_markers: usize,
}

impl Frozen {
    fn new(chunk: &str) -> Self {
        let mut text = String::with_capacity(chunk.len());
        let mut spans = Vec::new();
        let mut at = 0;
        for (n, (range, block)) in markdown::frozen_ranges(chunk).into_iter().enumerate() {
            text.push_str(&chunk[at..range.start]);
            let token = prompts::placeholder(n);
            text.push_str(&token);
            spans.push((token, chunk[range.clone()].to_string(), block));
            at = range.end;
        }
        text.push_str(&chunk[at..]);
        Self {
            text,
            spans,
            literal_markers: chunk.matches("[[KEEP-").count(),
        }
    }

    /// Puts the originals back, checking each placeholder is there exactly once.
    fn thaw(&self, answer: &str) -> Result<String, AdaptError> {
        let mut out = answer.to_string();
        for (token, original, block) in &self.spans {
            let count = out.matches(token.as_str()).count();
            if count != 1 {
                return Err(AdaptError::Structure(format!(
                    "{token} appears {count} times"
                )));
            }
            if *block && !out.lines().any(|l| l.trim() == token) {
                return Err(AdaptError::Structure(format!(
                    "{token} is not on its own line"
                )));
            }
            out = out.replacen(token.as_str(), original, 1);
        }
        // More placeholder-like text than the chapter itself has: the model invented one.
        if out.matches("[[KEEP-").count() > self.literal_markers {
            return Err(AdaptError::Structure("unknown placeholder".into()));
        }
        Ok(out)
    }
}

/// Strips wrappers a model sometimes puts around its answer: the chapter markers of the prompt
/// or one Markdown code fence around the whole answer.
fn unwrap_answer(answer: &str) -> String {
    let mut t = answer.trim();
    t = t.strip_prefix("<<<CHAPTER").unwrap_or(t);
    t = t.strip_suffix("CHAPTER>>>").unwrap_or(t);
    t = t.trim();
    for fence in ["```markdown\n", "```md\n"] {
        if let Some(inner) = t.strip_prefix(fence).and_then(|r| r.strip_suffix("```")) {
            t = inner;
        }
    }
    t.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_text_in_order_and_split_at_headings() {
        let md = "# A\n\nAlpha text here.\n\n# B\n\nBeta text here.\n\n# C\n\nGamma text.\n";
        let c = chunks(md, 25);
        assert!(c.len() >= 3);
        assert_eq!(c[0].start, 0);
        assert_eq!(c.last().map(|r| r.end), Some(md.len()));
        for w in c.windows(2) {
            assert_eq!(w[0].end, w[1].start, "contiguous");
        }
        for r in &c[1..] {
            assert!(md[r.clone()].starts_with('#'), "{:?}", &md[r.clone()]);
        }
        assert_eq!(chunks(md, 10_000), vec![0..md.len()]);
    }

    #[test]
    fn freeze_and_thaw_round_trip() {
        let chunk = "# T\n\nUse $a^2$ here.\n\n```\nlet x = 1;\n```\n";
        let f = Frozen::new(chunk);
        assert!(!f.text.contains("a^2") && !f.text.contains("let x"));
        assert_eq!(f.thaw(&f.text).ok().as_deref(), Some(chunk));
        assert!(f.thaw("# T\n\nNothing left.").is_err());
        let inline = f.text.replace("\n\n[[KEEP-1]]", " [[KEEP-1]]");
        assert!(
            f.thaw(&inline).is_err(),
            "block placeholder must stay on its line"
        );
    }

    #[test]
    fn a_chapter_may_mention_the_placeholder_syntax_itself() {
        let chunk = "# T\n\nWrite `[[KEEP-9]]` to keep a block.\n\n$$\nx\n$$\n";
        let f = Frozen::new(chunk);
        assert_eq!(f.thaw(&f.text).ok().as_deref(), Some(chunk));
        let invented = format!("{}\n[[KEEP-7]]", f.text);
        assert!(f.thaw(&invented).is_err());
    }

    #[test]
    fn answers_lose_their_wrappers() {
        assert_eq!(unwrap_answer("```markdown\n# A\n\nB\n```"), "# A\n\nB");
        assert_eq!(unwrap_answer("<<<CHAPTER\n# A\nCHAPTER>>>"), "# A");
    }
}
