//! Offline, deterministic implementations. See the module docs of `ai`.
//!
//! Nothing here calls a network or a language model, and every output says so through its
//! [`Provenance`] (backend `"local"`):
//! - [`LocalEmbedder`] (`local-hashed-ngram-v1`): feature hashing of words, word pairs and
//!   character trigrams. Similar wording gives similar vectors; it knows no synonyms.
//! - [`LocalText`] (`local-template-v1`): an extractive template that restates the prompt's key
//!   sentences and keywords, with a line saying it was produced offline.
//! - [`LocalImages`] (`local-banner-v1`): a PNG banner (gradient, shapes, the prompt's first
//!   words, or the request's caption lines such as a product's name and price, in an 8x8
//!   bitmap font) seeded from the prompt.

use std::collections::HashMap;

use async_trait::async_trait;
use bytes::Bytes;
use font8x8::{BASIC_FONTS, LATIN_FONTS, UnicodeFonts};
use image::{ImageEncoder, Rgb, RgbImage};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::text::{fold, words};

use super::{
    AiError, AiResult, Embedder, Embedding, GeneratedImage, ImageGenerator, ImageRequest,
    Provenance, TextGenerator, TextRequest, TextResponse,
};

const BACKEND: &str = "local";
pub const EMBEDDER_MODEL_ID: &str = "local-hashed-ngram-v1";
pub const TEXT_MODEL_ID: &str = "local-template-v1";
pub const IMAGE_MODEL_ID: &str = "local-banner-v1";

/// The line every [`LocalText`] response ends with.
pub const OFFLINE_NOTE: &str = "(Produced offline by the local template generator \
     local-template-v1 from the prompt alone; no language model was used.)";

fn provenance(model_id: &str) -> Provenance {
    Provenance {
        backend: BACKEND.to_owned(),
        model_id: model_id.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Text normalisation: `crate::text` (the same words as search and the classroom classifier)

/// Approximate token count used by the local backends: whitespace-separated words.
pub fn approx_tokens(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Embeddings

/// Hashed n-gram embeddings ("feature hashing"): word unigrams, word bigrams and character
/// trigrams of each word (with boundary markers, so typos still share most features) are hashed
/// with xxh3 into `dimensions` buckets with a sign hash, weighted by `1 + ln(tf)`, and the vector
/// is L2-normalised. Text without any word (empty, only punctuation) is rejected with
/// [`AiError::Invalid`], like Bedrock rejects empty input.
#[derive(Debug, Clone)]
pub struct LocalEmbedder {
    dimensions: usize,
}

/// Feature groups: hash seed and weight.
const UNIGRAM: (u64, f32) = (0x5EED_0001, 1.0);
const BIGRAM: (u64, f32) = (0x5EED_0002, 0.7);
const TRIGRAM: (u64, f32) = (0x5EED_0003, 0.45);

impl LocalEmbedder {
    pub fn new(dimensions: usize) -> Self {
        Self { dimensions }
    }

    /// The embedding of `text`, synchronously.
    pub fn embed_sync(&self, text: &str) -> AiResult<Vec<f32>> {
        if self.dimensions == 0 {
            return Err(AiError::Invalid(
                "embedding dimensions must be at least 1".to_owned(),
            ));
        }
        let words = words(text);
        if words.is_empty() {
            return Err(AiError::Invalid(
                "cannot embed text without words".to_owned(),
            ));
        }
        // feature hash -> (count, group weight)
        let mut features: HashMap<u64, (u32, f32)> = HashMap::new();
        let mut add = |(seed, weight): (u64, f32), bytes: &[u8]| {
            features
                .entry(xxh3_64_with_seed(bytes, seed))
                .or_insert((0, weight))
                .0 += 1;
        };
        for word in &words {
            add(UNIGRAM, word.as_bytes());
            let padded: Vec<char> = std::iter::once('\u{2}')
                .chain(word.chars())
                .chain(std::iter::once('\u{3}'))
                .collect();
            let mut buf = [0u8; 12];
            for gram in padded.windows(3) {
                let mut len = 0;
                for c in gram {
                    len += c.encode_utf8(&mut buf[len..]).len();
                }
                add(TRIGRAM, &buf[..len]);
            }
        }
        for pair in words.windows(2) {
            let joined = format!("{} {}", pair[0], pair[1]);
            add(BIGRAM, joined.as_bytes());
        }

        let mut vector = vec![0f32; self.dimensions];
        let dims = self.dimensions as u64;
        for (hash, (count, weight)) in features {
            let bucket = usize::try_from(hash % dims).unwrap_or(0);
            let sign = if hash >> 63 == 1 { -1.0 } else { 1.0 };
            vector[bucket] += sign * weight * (1.0 + (count as f32).ln());
        }
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|v| *v /= norm);
        }
        Ok(vector)
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    async fn embed(&self, text: &str) -> AiResult<Embedding> {
        let vector = self.embed_sync(text)?;
        Ok(Embedding {
            vector,
            provenance: self.provenance(),
        })
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn provenance(&self) -> Provenance {
        provenance(EMBEDDER_MODEL_ID)
    }
}

// ---------------------------------------------------------------------------------------------
// Text

/// Template-based text generation, the generic offline fallback: it restates the prompt's key
/// sentences (extractive, scored by keyword frequency) as bullet points, lists the keywords, and
/// ends with [`OFFLINE_NOTE`]. Deterministic; `temperature` is ignored; the output is cut to
/// `max_tokens` whitespace words (the note is always kept). Features that need a specific shape
/// (promotion copy, explanations) build their own templates with [`key_sentences`] and
/// [`keywords`].
#[derive(Debug, Clone, Default)]
pub struct LocalText;

impl LocalText {
    pub fn new() -> Self {
        Self
    }

    /// The response text for `request`, synchronously.
    pub fn render(&self, request: &TextRequest) -> AiResult<String> {
        if request.prompt.trim().is_empty() {
            return Err(AiError::Invalid("empty prompt".to_owned()));
        }
        let sentences = key_sentences(&request.prompt, 3);
        let keywords = keywords(&request.prompt, 6);

        let mut lines = vec!["Key points:".to_owned()];
        lines.extend(sentences.iter().map(|s| format!("- {s}")));
        if !keywords.is_empty() {
            lines.push(format!("Keywords: {}.", keywords.join(", ")));
        }

        let note_words = approx_tokens(OFFLINE_NOTE);
        let mut budget = request.max_tokens.saturating_sub(note_words);
        let mut body = Vec::new();
        for line in lines {
            if budget == 0 {
                break;
            }
            let n = approx_tokens(&line);
            if n <= budget {
                budget -= n;
                body.push(line);
            } else {
                let cut: Vec<&str> = line
                    .split_whitespace()
                    .take(usize::try_from(budget).unwrap_or(0))
                    .collect();
                body.push(format!("{}…", cut.join(" ")));
                budget = 0;
            }
        }
        body.push(OFFLINE_NOTE.to_owned());
        Ok(body.join("\n"))
    }
}

#[async_trait]
impl TextGenerator for LocalText {
    async fn generate(&self, request: TextRequest) -> AiResult<TextResponse> {
        let text = self.render(&request)?;
        let input_tokens = approx_tokens(&request.prompt)
            .saturating_add(request.system.as_deref().map(approx_tokens).unwrap_or(0));
        let output_tokens = approx_tokens(&text);
        Ok(TextResponse {
            text,
            input_tokens,
            output_tokens,
            provenance: self.provenance(),
        })
    }

    fn provenance(&self) -> Provenance {
        provenance(TEXT_MODEL_ID)
    }
}

const STOPWORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
    "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
    "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how",
    "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no",
    "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out",
    "over", "own", "please", "same", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to",
    "too", "under", "until", "up", "us", "very", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
];

/// First words that mark a sentence as an instruction to the model rather than content.
const INSTRUCTION_STARTS: &[&str] = &[
    "act",
    "answer",
    "compose",
    "create",
    "describe",
    "draft",
    "explain",
    "generate",
    "give",
    "keep",
    "list",
    "make",
    "please",
    "produce",
    "respond",
    "return",
    "rewrite",
    "summarise",
    "summarize",
    "tell",
    "translate",
    "use",
    "write",
    "you",
];

/// Whether `sentence` reads as an instruction ("Write a short text…", "You are…").
pub fn is_instruction(sentence: &str) -> bool {
    words(sentence)
        .first()
        .is_some_and(|w| INSTRUCTION_STARTS.contains(&w.as_str()))
}

/// The sentences that carry content: instructions are left out unless nothing else is left.
fn content_sentences(text: &str) -> Vec<String> {
    let all = sentences(text);
    let content: Vec<String> = all.iter().filter(|s| !is_instruction(s)).cloned().collect();
    if content.is_empty() { all } else { content }
}

fn is_content_word(word: &str) -> bool {
    word.chars().count() > 2 && !STOPWORDS.contains(&word) && !word.chars().all(char::is_numeric)
}

/// Splits `text` into sentences: at line breaks and after `.`, `!`, `?` followed by whitespace.
/// List markers ("- ", "* ", "1. ") are removed.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut current = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            current.push(c);
            let ends =
                matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| n.is_whitespace());
            // "2. item": a list number is not a sentence.
            let list_number = || {
                current
                    .trim()
                    .trim_end_matches(['.', '!', '?'])
                    .chars()
                    .all(|d| d.is_ascii_digit())
            };
            if ends && !list_number() {
                push_sentence(&mut out, &current);
                current.clear();
            }
        }
        push_sentence(&mut out, &current);
    }
    out
}

fn push_sentence(out: &mut Vec<String>, raw: &str) {
    let mut s = raw.trim();
    for marker in ["- ", "* ", "• "] {
        if let Some(rest) = s.strip_prefix(marker) {
            s = rest.trim_start();
        }
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && (s[digits..].starts_with(". ") || s[digits..].starts_with(") ")) {
        s = s[digits + 2..].trim_start();
    }
    if s.chars().any(char::is_alphanumeric) {
        out.push(s.to_owned());
    }
}

fn content_word_counts(sentences: &[String]) -> (HashMap<String, u32>, Vec<String>) {
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut order = Vec::new();
    let all_words = sentences.iter().flat_map(|s| words(s));
    for word in all_words.filter(|w| is_content_word(w)) {
        let count = counts.entry(word.clone()).or_insert(0);
        if *count == 0 {
            order.push(word);
        }
        *count += 1;
    }
    (counts, order)
}

/// The (at most) `n` most representative sentences of `text`, in their original order: each
/// sentence scores the summed frequency of its content words over the square root of its length,
/// with a small bonus for the first sentence. Instructions ([`is_instruction`]) and duplicates are
/// dropped.
pub fn key_sentences(text: &str, n: usize) -> Vec<String> {
    let content = content_sentences(text);
    let (counts, _) = content_word_counts(&content);
    let mut seen = std::collections::HashSet::new();
    let candidates: Vec<(usize, String)> = content
        .into_iter()
        .filter(|s| seen.insert(fold(s)))
        .enumerate()
        .collect();
    let mut scored: Vec<(f32, usize)> = candidates
        .iter()
        .map(|(i, s)| {
            let ws: Vec<String> = words(s)
                .into_iter()
                .filter(|w| is_content_word(w))
                .collect();
            let sum: u32 = ws.iter().map(|w| counts.get(w).copied().unwrap_or(0)).sum();
            let mut score = sum as f32 / ((ws.len() + 1) as f32).sqrt();
            if *i == 0 {
                score += 0.5;
            }
            (score, *i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<usize> = scored.into_iter().take(n).map(|(_, i)| i).collect();
    chosen.sort_unstable();
    chosen
        .into_iter()
        .filter_map(|i| candidates.get(i).map(|(_, s)| s.clone()))
        .collect()
}

/// The (at most) `n` most frequent content words of `text` (folded, stopwords and instruction
/// sentences left out), ties in order of first appearance.
pub fn keywords(text: &str, n: usize) -> Vec<String> {
    let (counts, order) = content_word_counts(&content_sentences(text));
    let mut ranked: Vec<(usize, String)> = order.into_iter().enumerate().collect();
    ranked.sort_by(|(ia, a), (ib, b)| {
        let (ca, cb) = (
            counts.get(a).copied().unwrap_or(0),
            counts.get(b).copied().unwrap_or(0),
        );
        cb.cmp(&ca).then(ia.cmp(ib))
    });
    ranked.into_iter().take(n).map(|(_, w)| w).collect()
}

// ---------------------------------------------------------------------------------------------
// Images

/// Smallest and largest accepted banner side, in pixels.
pub const MIN_IMAGE_SIDE: u32 = 64;
pub const MAX_IMAGE_SIDE: u32 = 2048;

/// Renders PNG banners in process: a two-colour gradient, translucent shapes and the prompt's
/// first words, all chosen from a hash of the prompt and the seed (same prompt and seed, same
/// bytes). Sizes outside [`MIN_IMAGE_SIDE`]..=[`MAX_IMAGE_SIDE`] are [`AiError::Invalid`].
#[derive(Debug, Clone, Default)]
pub struct LocalImages;

impl LocalImages {
    pub fn new() -> Self {
        Self
    }

    /// Renders the banner for `request` as PNG bytes, synchronously.
    pub fn render(&self, request: &ImageRequest) -> AiResult<Vec<u8>> {
        let (width, height) = (request.width, request.height);
        let side = MIN_IMAGE_SIDE..=MAX_IMAGE_SIDE;
        if !side.contains(&width) || !side.contains(&height) {
            return Err(AiError::Invalid(format!(
                "image size {width}x{height} outside {MIN_IMAGE_SIDE}..={MAX_IMAGE_SIDE}"
            )));
        }
        let prompt = request.prompt.trim();
        if prompt.is_empty() {
            return Err(AiError::Invalid("empty image prompt".to_owned()));
        }
        let seed = u64::from(request.seed.unwrap_or(0));
        let mut rng = SplitMix64(xxh3_64_with_seed(prompt.as_bytes(), seed));
        let mut img = RgbImage::new(width, height);
        draw_gradient(&mut img, &mut rng);
        draw_shapes(&mut img, &mut rng);
        match request.caption.as_deref().map(caption_lines) {
            Some(lines) if !lines.is_empty() => draw_lines(&mut img, &lines),
            _ => draw_title(&mut img, prompt),
        }

        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .map_err(|e| AiError::Model(format!("cannot encode the PNG: {e}")))?;
        Ok(png)
    }
}

#[async_trait]
impl ImageGenerator for LocalImages {
    async fn generate(&self, request: ImageRequest) -> AiResult<GeneratedImage> {
        let renderer = self.clone();
        let (width, height) = (request.width, request.height);
        // Large banners take a while unoptimised: keep the async workers free.
        let png = tokio::task::spawn_blocking(move || renderer.render(&request))
            .await
            .map_err(|e| AiError::Model(format!("banner rendering failed: {e}")))??;
        Ok(GeneratedImage {
            png: Bytes::from(png),
            width,
            height,
            provenance: self.provenance(),
        })
    }

    fn provenance(&self) -> Provenance {
        provenance(IMAGE_MODEL_ID)
    }
}

/// A small deterministic generator (SplitMix64), so the banners never depend on a RNG crate.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + unit * (hi - lo)
    }
}

/// HSL (hue in degrees, saturation and lightness in 0..=1) to RGB.
fn hsl(h: f32, s: f32, l: f32) -> [f32; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h.rem_euclid(360.0) / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

fn blend(px: &mut Rgb<u8>, colour: [f32; 3], alpha: f32) {
    for (channel, c) in px.0.iter_mut().zip(colour) {
        *channel = to_u8(f32::from(*channel) * (1.0 - alpha) + c * alpha);
    }
}

fn draw_gradient(img: &mut RgbImage, rng: &mut SplitMix64) {
    let hue = rng.range(0.0, 360.0);
    let from = hsl(hue, rng.range(0.5, 0.8), rng.range(0.30, 0.45));
    let to = hsl(
        hue + rng.range(40.0, 150.0),
        rng.range(0.5, 0.8),
        rng.range(0.25, 0.40),
    );
    let angle = rng.range(0.0, std::f32::consts::TAU);
    let (dx, dy) = (angle.cos(), angle.sin());
    let (w, h) = (img.width() as f32, img.height() as f32);
    // Project the corners to normalise the gradient parameter to 0..=1.
    let corners = [0.0, w * dx, h * dy, w * dx + h * dy];
    let min = corners.iter().copied().fold(f32::INFINITY, f32::min);
    let max = corners.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let span = (max - min).max(1.0);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let t = ((x as f32 * dx + y as f32 * dy) - min) / span;
        *px = Rgb([0, 1, 2].map(|i| to_u8(from[i] + (to[i] - from[i]) * t)));
    }
}

fn draw_shapes(img: &mut RgbImage, rng: &mut SplitMix64) {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let short = w.min(h);
    let count = 3 + (rng.next_u64() % 4) as usize;
    for _ in 0..count {
        let colour = hsl(
            rng.range(0.0, 360.0),
            rng.range(0.4, 0.9),
            rng.range(0.45, 0.75),
        );
        let alpha = rng.range(0.18, 0.40);
        let (cx, cy) = (rng.range(0.0, w), rng.range(0.0, h));
        if rng.next_u64().is_multiple_of(2) {
            let r = rng.range(0.12, 0.45) * short;
            let (x0, x1) = (clamp_px(cx - r, w), clamp_px(cx + r, w));
            let (y0, y1) = (clamp_px(cy - r, h), clamp_px(cy + r, h));
            for y in y0..y1 {
                for x in x0..x1 {
                    let (fx, fy) = (x as f32 - cx, y as f32 - cy);
                    if fx * fx + fy * fy <= r * r {
                        blend(img.get_pixel_mut(x, y), colour, alpha);
                    }
                }
            }
        } else {
            let (hw, hh) = (rng.range(0.1, 0.4) * w, rng.range(0.05, 0.25) * h);
            for y in clamp_px(cy - hh, h)..clamp_px(cy + hh, h) {
                for x in clamp_px(cx - hw, w)..clamp_px(cx + hw, w) {
                    blend(img.get_pixel_mut(x, y), colour, alpha);
                }
            }
        }
    }
}

fn clamp_px(v: f32, max: f32) -> u32 {
    v.clamp(0.0, max) as u32
}

/// The glyph of `c` in the 8x8 font: basic Latin, then Latin-1; accents folded; `?` otherwise.
fn glyph(c: char) -> [u8; 8] {
    BASIC_FONTS
        .get(c)
        .or_else(|| LATIN_FONTS.get(c))
        .or_else(|| {
            fold(&c.to_string())
                .chars()
                .next()
                .and_then(|f| BASIC_FONTS.get(f))
        })
        .or_else(|| BASIC_FONTS.get('?'))
        .unwrap_or([0; 8])
}

/// The banner title: the prompt's first words (at most 5 words or ~28 characters), uppercased.
fn title_words(prompt: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut len = 0;
    for word in prompt.split_whitespace().take(5) {
        let word: String = word
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .to_uppercase();
        let word_len = word.chars().count();
        if !out.is_empty() && len + 1 + word_len > 28 {
            break;
        }
        len += word_len + usize::from(!out.is_empty());
        out.push(word.chars().take(28).collect());
    }
    out
}

/// Splits `words` into one or two lines, whichever allows the larger text, and returns the lines
/// and the pixel scale of the 8x8 glyphs.
fn layout(words: &[String], width: u32, height: u32) -> (Vec<String>, u32) {
    let avail_w = width as f32 * 0.86;
    let avail_h = height as f32 * 0.5;
    let scale_for = |lines: &[String]| {
        let longest = lines
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(1)
            .max(1);
        let by_width = avail_w / (8.0 * longest as f32);
        let by_height = avail_h / (8.0 * lines.len() as f32 * 1.3);
        by_width.min(by_height).floor().max(1.0) as u32
    };
    let one = vec![words.join(" ")];
    let mut best = (scale_for(&one), one);
    for split in 1..words.len() {
        let two = vec![words[..split].join(" "), words[split..].join(" ")];
        let scale = scale_for(&two);
        if scale > best.0 {
            best = (scale, two);
        }
    }
    (best.1, best.0)
}

fn draw_title(img: &mut RgbImage, prompt: &str) {
    let words = title_words(prompt);
    if words.is_empty() {
        return;
    }
    let (width, height) = img.dimensions();
    let (lines, scale) = layout(&words, width, height);
    draw_block(img, &lines, scale);
}

/// Longest caption line drawn, in characters.
const CAPTION_LINE_CHARS: usize = 28;

/// The caption's non-empty lines (at most 3), control characters removed, each cut to
/// [`CAPTION_LINE_CHARS`] characters.
fn caption_lines(caption: &str) -> Vec<String> {
    caption
        .lines()
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_control())
                .take(CAPTION_LINE_CHARS)
                .collect::<String>()
                .trim()
                .to_owned()
        })
        .filter(|l| !l.is_empty())
        .take(3)
        .collect()
}

/// Draws `lines` as given (a caption), as large as they fit.
fn draw_lines(img: &mut RgbImage, lines: &[String]) {
    let (width, height) = img.dimensions();
    let longest = lines
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(1)
        .max(1);
    let by_width = width as f32 * 0.86 / (8.0 * longest as f32);
    let by_height = height as f32 * 0.5 / (8.0 * lines.len() as f32 * 1.3);
    let scale = by_width.min(by_height).floor().max(1.0) as u32;
    draw_block(img, lines, scale);
}

/// Draws `lines` centred, white with a shadow on a translucent band, glyphs `scale` pixels wide.
fn draw_block(img: &mut RgbImage, lines: &[String], scale: u32) {
    let (width, height) = img.dimensions();
    let line_h = (8.0 * scale as f32 * 1.3) as u32;
    let block_h = line_h * lines.len() as u32;
    let top = height.saturating_sub(block_h) / 2;

    // A translucent dark band behind the text keeps it legible on any gradient.
    let pad = scale * 3;
    let band = top.saturating_sub(pad)..(top + block_h + pad).min(height);
    for y in band {
        for x in 0..width {
            blend(img.get_pixel_mut(x, y), [0.0, 0.0, 0.0], 0.35);
        }
    }
    for (i, line) in lines.iter().enumerate() {
        let text_w = 8 * scale * line.chars().count() as u32;
        let left = width.saturating_sub(text_w) / 2;
        let y0 = top + i as u32 * line_h + (line_h - 8 * scale) / 2;
        let shadow = (scale / 2).max(1);
        for (k, c) in line.chars().enumerate() {
            let x0 = left + k as u32 * 8 * scale;
            let rows = glyph(c);
            draw_glyph(
                img,
                &rows,
                x0 + shadow,
                y0 + shadow,
                scale,
                [0.0, 0.0, 0.0],
                0.6,
            );
            draw_glyph(img, &rows, x0, y0, scale, [255.0, 255.0, 255.0], 1.0);
        }
    }
}

fn draw_glyph(
    img: &mut RgbImage,
    rows: &[u8; 8],
    x0: u32,
    y0: u32,
    scale: u32,
    colour: [f32; 3],
    alpha: f32,
) {
    let (width, height) = img.dimensions();
    for (row, bits) in rows.iter().enumerate() {
        for col in 0..8u32 {
            // font8x8: bit 0 is the leftmost pixel.
            if bits & (1 << col) == 0 {
                continue;
            }
            let px0 = x0 + col * scale;
            let py0 = y0 + row as u32 * scale;
            for y in py0..(py0 + scale).min(height) {
                for x in px0..(px0 + scale).min(width) {
                    blend(img.get_pixel_mut(x, y), colour, alpha);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::cosine;

    fn embed(e: &LocalEmbedder, text: &str) -> Vec<f32> {
        e.embed_sync(text).expect("embeds")
    }

    #[test]
    fn words_are_the_text_modules() {
        assert_eq!(words("Crème Brûlée"), ["creme", "brulee"]);
        assert_eq!(fold("Straße"), "strasse");
        // An apostrophe separates words, as in search and the classifier.
        assert_eq!(
            words("Don’t stop: T-Shirt!"),
            ["don", "t", "stop", "t", "shirt"]
        );
    }

    #[tokio::test]
    async fn embeddings_are_unit_length_with_provenance() {
        let e = LocalEmbedder::new(256);
        let out = e
            .embed("Wireless bluetooth headphones")
            .await
            .expect("embeds");
        assert_eq!(out.vector.len(), 256);
        assert_eq!(e.dimensions(), 256);
        let norm = out.vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        assert_eq!(out.provenance.backend, "local");
        assert_eq!(out.provenance.model_id, "local-hashed-ngram-v1");
    }

    #[test]
    fn embeddings_are_deterministic() {
        let a = LocalEmbedder::new(512);
        let b = LocalEmbedder::new(512);
        let text = "Organic cotton t-shirt, relaxed fit";
        assert_eq!(embed(&a, text), embed(&a, text));
        assert_eq!(embed(&a, text), embed(&b, text));
    }

    #[test]
    fn similar_texts_score_higher_than_unrelated_ones() {
        let e = LocalEmbedder::new(1024);
        let headphones = embed(&e, "wireless bluetooth headphones");
        let earbuds = embed(&e, "bluetooth wireless earbuds");
        let shirt = embed(&e, "organic cotton t-shirt");
        let related = cosine(&headphones, &earbuds);
        let unrelated = cosine(&headphones, &shirt);
        assert!(related > 0.4, "related {related}");
        assert!(unrelated < 0.15, "unrelated {unrelated}");
        assert!(related > unrelated + 0.3);
    }

    #[test]
    fn typos_and_accents_stay_close() {
        let e = LocalEmbedder::new(1024);
        let clean = embed(&e, "wireless bluetooth headphones");
        let typo = embed(&e, "wireles blutooth headphnes");
        let other = embed(&e, "stainless steel kitchen knife");
        let close = cosine(&clean, &typo);
        assert!(close > 0.35, "typo similarity {close}");
        assert!(close > cosine(&typo, &other) + 0.25);
        // Accents and case are folded away entirely.
        let accented = cosine(&embed(&e, "Crème brûlée"), &embed(&e, "creme brulee"));
        assert!((accented - 1.0).abs() < 1e-5, "accented {accented}");
    }

    #[test]
    fn word_order_matters_a_little() {
        let e = LocalEmbedder::new(1024);
        let a = embed(&e, "dog bites man");
        let b = embed(&e, "man bites dog");
        let sim = cosine(&a, &b);
        assert!(sim < 0.999 && sim > 0.6, "sim {sim}");
    }

    #[test]
    fn empty_text_and_zero_dimensions_are_invalid() {
        assert!(matches!(
            LocalEmbedder::new(64).embed_sync("  ?! "),
            Err(AiError::Invalid(_))
        ));
        assert!(matches!(
            LocalEmbedder::new(0).embed_sync("text"),
            Err(AiError::Invalid(_))
        ));
    }

    #[test]
    fn sentences_are_split_and_cleaned() {
        let s = sentences("First point. Second one!\n- a bullet\n2. numbered item\nv1.2 stays");
        assert_eq!(
            s,
            [
                "First point.",
                "Second one!",
                "a bullet",
                "numbered item",
                "v1.2 stays"
            ]
        );
    }

    #[tokio::test]
    async fn text_restates_key_sentences_and_says_it_is_offline() {
        let prompt = "Our store sells wireless headphones and speakers. \
            The new wireless headphones have 30 hours of battery. \
            Shipping is free this week. \
            The weather is nice. \
            Wireless headphones come in black and white.";
        let mut request = TextRequest::new(prompt);
        request.system = Some("You are a helpful assistant".to_owned());
        let out = LocalText::new()
            .generate(request.clone())
            .await
            .expect("generates");
        assert!(out.text.starts_with("Key points:\n- "), "{}", out.text);
        assert!(
            out.text
                .contains("The new wireless headphones have 30 hours of battery.")
        );
        assert!(!out.text.contains("The weather is nice."), "{}", out.text);
        assert!(
            out.text.contains("Keywords: wireless, headphones"),
            "{}",
            out.text
        );
        assert!(out.text.ends_with(OFFLINE_NOTE));
        assert_eq!(out.provenance, provenance("local-template-v1"));
        assert_eq!(out.input_tokens, approx_tokens(prompt) + 5);
        assert_eq!(out.output_tokens, approx_tokens(&out.text));
        // Deterministic.
        let again = LocalText::new().generate(request).await.expect("generates");
        assert_eq!(again.text, out.text);
    }

    #[tokio::test]
    async fn text_respects_max_tokens_and_rejects_empty_prompts() {
        let mut request = TextRequest::new("One two three four five six seven. Eight nine ten.");
        request.max_tokens = approx_tokens(OFFLINE_NOTE) + 4;
        let out = LocalText::new().generate(request).await.expect("generates");
        assert_eq!(
            out.output_tokens,
            approx_tokens(OFFLINE_NOTE) + 4,
            "{}",
            out.text
        );
        assert!(out.text.ends_with(OFFLINE_NOTE));
        let empty = LocalText::new().generate(TextRequest::new("   ")).await;
        assert!(matches!(empty, Err(AiError::Invalid(_))));
    }

    #[test]
    fn instructions_are_not_restated() {
        let prompt = "Write a short promotional text for our summer sale. \
            The sale covers all wireless headphones and speakers.";
        assert!(is_instruction("You are a copywriter."));
        assert!(!is_instruction("Yoga mats are on sale."));
        assert_eq!(
            key_sentences(prompt, 3),
            ["The sale covers all wireless headphones and speakers."]
        );
        assert!(!keywords(prompt, 10).contains(&"promotional".to_owned()));
        // A prompt made only of instructions is still restated.
        assert_eq!(key_sentences("Write a haiku.", 3), ["Write a haiku."]);
    }

    #[test]
    fn keywords_rank_by_frequency_then_first_appearance() {
        let k = keywords(
            "Bluetooth speaker. The speaker is loud; speaker bluetooth cable.",
            3,
        );
        assert_eq!(k, ["speaker", "bluetooth", "loud"]);
    }

    fn image_request(prompt: &str, width: u32, height: u32, seed: Option<u32>) -> ImageRequest {
        ImageRequest {
            prompt: prompt.to_owned(),
            width,
            height,
            seed,
            caption: None,
        }
    }

    fn decode(png: &[u8]) -> RgbImage {
        image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .expect("valid PNG")
            .to_rgb8()
    }

    #[tokio::test]
    async fn banner_is_a_png_of_the_requested_size() {
        let out = LocalImages::new()
            .generate(image_request(
                "Summer sale: 30% off headphones",
                320,
                120,
                Some(7),
            ))
            .await
            .expect("renders");
        assert!(out.png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!((out.width, out.height), (320, 120));
        assert_eq!(decode(&out.png).dimensions(), (320, 120));
        assert_eq!(out.provenance, provenance("local-banner-v1"));
    }

    #[test]
    fn banner_is_deterministic_and_depends_on_prompt_and_seed() {
        let images = LocalImages::new();
        let render = |prompt: &str, seed| {
            images
                .render(&image_request(prompt, 200, 100, seed))
                .expect("renders")
        };
        let a = render("Autumn boots", Some(1));
        assert_eq!(a, render("Autumn boots", Some(1)));
        assert_ne!(a, render("Winter coats", Some(1)));
        assert_ne!(a, render("Autumn boots", Some(2)));
    }

    #[test]
    fn banner_draws_the_title_in_white() {
        let png = LocalImages::new()
            .render(&image_request("HELLO", 256, 128, None))
            .expect("renders");
        let img = decode(&png);
        let white = img.pixels().filter(|p| p.0 == [255, 255, 255]).count();
        assert!(white > 100, "white pixels {white}");
    }

    #[test]
    fn banner_draws_the_caption_instead_of_the_prompt() {
        let images = LocalImages::new();
        let plain = image_request("Holiday banner for phones", 320, 180, Some(3));
        let captioned = ImageRequest {
            caption: Some("iPhone 15 Pro\n$999.99".to_owned()),
            ..plain.clone()
        };
        let a = images.render(&plain).expect("renders");
        let b = images.render(&captioned).expect("renders");
        assert_ne!(a, b);
        let white = decode(&b)
            .pixels()
            .filter(|p| p.0 == [255, 255, 255])
            .count();
        assert!(white > 100, "white pixels {white}");
        assert_eq!(
            caption_lines("  a\n\n b \n c\n d\n"),
            ["a", "b", "c"],
            "blank lines dropped, at most three"
        );
        assert_eq!(caption_lines(&"x".repeat(40))[0].len(), CAPTION_LINE_CHARS);
        // An empty caption falls back to the prompt's words.
        let empty = ImageRequest {
            caption: Some(" \n ".to_owned()),
            ..plain.clone()
        };
        assert_eq!(images.render(&empty).expect("renders"), a);
    }

    #[test]
    fn banner_sizes_are_bounded() {
        let images = LocalImages::new();
        for (w, h) in [(63, 100), (100, 2049), (0, 0)] {
            let result = images.render(&image_request("x", w, h, None));
            assert!(matches!(result, Err(AiError::Invalid(_))), "{w}x{h}");
        }
        assert!(matches!(
            images.render(&image_request(" ", 100, 100, None)),
            Err(AiError::Invalid(_))
        ));
        assert!(
            images
                .render(&image_request("Ünïcödé ☃ text", 64, 64, None))
                .is_ok()
        );
    }

    #[test]
    fn title_layout_fits_the_banner() {
        let words = title_words("The quick brown fox jumps over the lazy dog");
        assert_eq!(words, ["THE", "QUICK", "BROWN", "FOX", "JUMPS"]);
        let (lines, scale) = layout(&words, 1024, 256);
        for line in &lines {
            assert!(8 * scale * line.chars().count() as u32 <= 1024);
        }
        assert!(scale >= 2);
    }
}
