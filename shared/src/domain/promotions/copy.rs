//! Promotion copy and banner prompts (pure, no I/O).
//!
//! - The text prompt is versioned ([`PROMPT_VERSION`], kept with every generated text): a system
//!   prompt that forbids amounts not in the facts, and a user prompt with the segment's name and
//!   description, the category, the product's facts (name, brand, price) and the campaign
//!   context.
//! - [`template_copy`] is the offline copy the local backend serves (the generic local text
//!   generator restates its prompt, which is not promotional copy): a segment-aware headline and
//!   the same facts, deterministic.
//! - [`money_amounts`] / [`invented_amounts`] find the amounts of money in a text: a model text
//!   that states an amount which is neither the product's price (or compare-at price) nor in the
//!   campaign context is not served (the template replaces it).
//! - [`AspectRatio`] and [`ImageFamily::size`]: the spec's aspect ratios mapped to sizes each
//!   image model accepts (Titan Image Generator: its fixed list; Nova Canvas: multiples of 16;
//!   the local renderer: smaller sizes of the same ratios).
//!
//! Hand-written: a few string templates and a currency scanner, nothing a crate would add to.

use serde::Serialize;

use crate::ai::Provenance;
use crate::money::Cents;

/// The version of the text prompt below; stored with every generated text.
pub const PROMPT_VERSION: &str = "promotion-v1";

/// Longest banner prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 1000;

/// The segment a text is written for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentFacts {
    /// The RFM cluster (`None`: a user with no cluster yet).
    pub id: Option<u32>,
    pub name: String,
    pub description: String,
}

/// What a text or banner may say about a product.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFacts {
    pub id: String,
    pub name: String,
    pub brand: Option<String>,
    pub price: Cents,
    pub compare_price: Option<Cents>,
    /// The product's category name, when it has one.
    pub category: Option<String>,
}

/// `$1234.50`.
pub fn money(c: Cents) -> String {
    format!("${c}")
}

/// The system and user prompts of one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct TextPrompt {
    pub system: String,
    pub user: String,
}

const SYSTEM_PROMPT: &str = "You write promotional copy for an online shop. Write two or three \
sentences (at most 60 words) for the customer segment described, about the product category and \
product given. Use only the facts given: never state a price, discount or amount of money that is \
not in the facts or the campaign context, and do not invent product features. No hashtags, no \
emojis, no quotation marks. Answer with the copy only.";

/// The prompt of [`PROMPT_VERSION`].
pub fn text_prompt(
    segment: &SegmentFacts,
    category: &str,
    product: Option<&ProductFacts>,
    context: Option<&str>,
) -> TextPrompt {
    let mut user = format!(
        "Customer segment: {}\nSegment description: {}\nProduct category: {category}\n",
        segment.name, segment.description
    );
    match product {
        Some(p) => {
            user.push_str(&format!("Product: {}\n", p.name));
            if let Some(b) = &p.brand {
                user.push_str(&format!("Brand: {b}\n"));
            }
            user.push_str(&format!("Price: {}\n", money(p.price)));
            if let Some(c) = p.compare_price.filter(|c| *c > p.price) {
                user.push_str(&format!("Regular price: {}\n", money(c)));
            }
        }
        None => user.push_str("Product: none; promote the category as a whole.\n"),
    }
    if let Some(c) = context.filter(|c| !c.trim().is_empty()) {
        user.push_str(&format!("Campaign context: {}\n", c.trim()));
    }
    TextPrompt {
        system: SYSTEM_PROMPT.to_owned(),
        user,
    }
}

/// (headline, lead-in before the product) for a segment, by its RFM name.
fn tone(segment: &str, category: &str) -> (String, &'static str) {
    let s = segment.to_lowercase();
    let has = |w: &str| s.contains(w);
    if has("champion") {
        (
            format!("Exclusive VIP access to our {category} collection!"),
            "As one of our most valued customers, enjoy early access to",
        )
    } else if has("loyal") && !has("potential") {
        (
            "Thank you for shopping with us again and again!".to_owned(),
            "We picked this for you:",
        )
    } else if has("at-risk")
        || has("at risk")
        || has("can't lose")
        || has("lost")
        || has("hibernat")
    {
        (
            "We miss you! It has been a while since your last visit.".to_owned(),
            "Come back and discover",
        )
    } else if has("attention") || has("sleep") {
        (
            format!("We picked something special for you in {category}."),
            "Have a look at",
        )
    } else if has("new") || has("promising") || has("potential") {
        (
            format!("Welcome to our {category} favourites!"),
            "Take a look at",
        )
    } else {
        (
            format!("Discover our {category} collection."),
            "Take a look at",
        )
    }
}

/// The offline copy: a headline for the segment, the product's facts, the campaign context.
pub fn template_copy(
    segment: &SegmentFacts,
    category: &str,
    product: Option<&ProductFacts>,
    context: Option<&str>,
) -> String {
    let (headline, lead) = tone(&segment.name, category);
    let mut out = format!("{headline} {lead} ");
    match product {
        Some(p) => {
            out.push_str(&p.name);
            if let Some(b) = p.brand.as_deref().filter(|b| !b.trim().is_empty()) {
                out.push_str(&format!(" by {}", b.trim()));
            }
            out.push_str(&format!(" at {}", money(p.price)));
            if let Some(c) = p.compare_price.filter(|c| *c > p.price) {
                out.push_str(&format!(" (regular price {})", money(c)));
            }
            out.push('.');
        }
        None => out.push_str(&format!("the latest in {category}.")),
    }
    if let Some(c) = context.map(str::trim).filter(|c| !c.is_empty()) {
        out.push_str(&format!(" {c}: don't miss out!"));
    }
    out
}

/// Parses a decimal amount at the start of `s` (`1,299.99`, `49`, `0.5`): the amount and the
/// bytes read.
fn number_at(s: &str) -> Option<(Cents, usize)> {
    let bytes = s.as_bytes();
    let mut end = 0;
    let mut seen_digit = false;
    let mut seen_dot = false;
    while end < bytes.len() {
        let b = bytes[end];
        if b.is_ascii_digit() {
            seen_digit = true;
        } else if b == b',' && seen_digit && !seen_dot {
            // A thousands separator only when digits follow.
            if !bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
                break;
            }
        } else if b == b'.' && seen_digit && !seen_dot {
            if !bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
                break;
            }
            seen_dot = true;
        } else {
            break;
        }
        end += 1;
    }
    if !seen_digit {
        return None;
    }
    let text: String = s[..end].chars().filter(|c| *c != ',').collect();
    Cents::parse(&text).ok().map(|c| (c, end)).or_else(|| {
        // More than two decimals: round to the cent.
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e13)
            .map(|v| (Cents::round_from(v), end))
    })
}

const PREFIXES: [&str; 4] = ["$", "€", "£", "usd"];
const SUFFIXES: [&str; 8] = [
    "usd", "eur", "gbp", "dollars", "dollar", "euros", "euro", "bucks",
];

/// Every amount of money written in `text`: a currency sign or code before a number (`$49`,
/// `USD 1,299.99`, `€5`), or a code or word after it (`49.99 USD`, `20 dollars`).
pub fn money_amounts(text: &str) -> Vec<Cents> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lower.len() {
        let rest = &lower[i..];
        if let Some(p) = PREFIXES.iter().find(|p| rest.starts_with(*p)) {
            let after = &rest[p.len()..];
            let trimmed = after.trim_start();
            let skipped = after.len() - trimmed.len();
            if let Some((amount, n)) = number_at(trimmed) {
                out.push(amount);
                i += p.len() + skipped + n;
                continue;
            }
        }
        let at_word_start = i == 0 || !lower[..i].ends_with(|c: char| c.is_ascii_alphanumeric());
        if at_word_start && let Some((amount, n)) = number_at(rest) {
            let after = rest[n..].trim_start();
            let word: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            if SUFFIXES.contains(&word.as_str()) {
                out.push(amount);
            }
            i += n;
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// The amounts in `text` that are not in `allowed`.
pub fn invented_amounts(text: &str, allowed: &[Cents]) -> Vec<Cents> {
    money_amounts(text)
        .into_iter()
        .filter(|a| !allowed.contains(a))
        .collect()
}

/// The amounts a text about `product` in `context` may state.
pub fn allowed_amounts(product: Option<&ProductFacts>, context: Option<&str>) -> Vec<Cents> {
    let mut out = Vec::new();
    if let Some(p) = product {
        out.push(p.price);
        out.extend(p.compare_price);
    }
    if let Some(c) = context {
        out.extend(money_amounts(c));
    }
    out
}

/// The aspect ratios a banner may have (the spec's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AspectRatio {
    Square,
    Landscape16x9,
    Portrait9x16,
    Landscape4x3,
    Portrait3x4,
}

impl AspectRatio {
    pub const ALL: [AspectRatio; 5] = [
        Self::Square,
        Self::Landscape16x9,
        Self::Portrait9x16,
        Self::Landscape4x3,
        Self::Portrait3x4,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Square => "1:1",
            Self::Landscape16x9 => "16:9",
            Self::Portrait9x16 => "9:16",
            Self::Landscape4x3 => "4:3",
            Self::Portrait3x4 => "3:4",
        }
    }

    /// `1:1, 16:9, 9:16, 4:3, 3:4`.
    pub fn valid_names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

/// Which size rules an image model follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFamily {
    /// The in-process renderer: any side 64-2048; smaller sizes keep banners light.
    Local,
    /// Titan Image Generator v1/v2: a fixed list of sizes (1024x1024, 1173x640 for 16:9, ...).
    Titan,
    /// Nova Canvas and other models: sides 320-4096 in multiples of 16, ratio within 1:4..4:1.
    Nova,
}

impl ImageFamily {
    pub fn of(p: &Provenance) -> Self {
        if p.backend == "local" {
            Self::Local
        } else if p.model_id.contains("titan-image") {
            Self::Titan
        } else {
            Self::Nova
        }
    }

    /// (width, height) for `ratio`. Titan has no 16:9 portrait, 4:3 or 3:4: the nearest sizes
    /// of its list (6:11, 9:7, 7:9) are used.
    pub fn size(self, ratio: AspectRatio) -> (u32, u32) {
        use AspectRatio::*;
        match (self, ratio) {
            (Self::Local, Square) => (512, 512),
            (Self::Local, Landscape16x9) => (768, 432),
            (Self::Local, Portrait9x16) => (432, 768),
            (Self::Local, Landscape4x3) => (640, 480),
            (Self::Local, Portrait3x4) => (480, 640),
            (Self::Titan, Square) => (1024, 1024),
            (Self::Titan, Landscape16x9) => (1173, 640),
            (Self::Titan, Portrait9x16) => (768, 1408),
            (Self::Titan, Landscape4x3) => (1152, 896),
            (Self::Titan, Portrait3x4) => (896, 1152),
            (Self::Nova, Square) => (1024, 1024),
            (Self::Nova, Landscape16x9) => (1280, 720),
            (Self::Nova, Portrait9x16) => (720, 1280),
            (Self::Nova, Landscape4x3) => (1152, 864),
            (Self::Nova, Portrait3x4) => (864, 1152),
        }
    }
}

/// What the image model is asked for: the product's facts first (Titan reads 512 characters),
/// then the admin's prompt.
pub fn image_prompt(prompt: &str, product: Option<&ProductFacts>) -> String {
    match product {
        Some(p) => {
            let mut head = format!("Product: {}", p.name);
            if let Some(b) = p.brand.as_deref().filter(|b| !b.trim().is_empty()) {
                head.push_str(&format!(" by {}", b.trim()));
            }
            if let Some(c) = &p.category {
                head.push_str(&format!(" ({c})"));
            }
            format!("{head}. {}", prompt.trim())
        }
        None => prompt.trim().to_owned(),
    }
}

/// The text a banner of `product` carries: its name, then its price.
pub fn caption(product: Option<&ProductFacts>) -> Option<String> {
    product.map(|p| format!("{}\n{}", p.name, money(p.price)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone() -> ProductFacts {
        ProductFacts {
            id: "p1".into(),
            name: "iPhone 15 Pro".into(),
            brand: Some("Apple".into()),
            price: Cents(99_999),
            compare_price: Some(Cents(109_999)),
            category: Some("Smartphones".into()),
        }
    }

    fn champions() -> SegmentFacts {
        SegmentFacts {
            id: Some(0),
            name: "Champions".into(),
            description: "Recent, frequent buyers with high spending".into(),
        }
    }

    #[test]
    fn the_prompt_holds_the_segment_and_the_product_facts() {
        let p = text_prompt(
            &champions(),
            "Electronics",
            Some(&phone()),
            Some("Black Friday Sale"),
        );
        assert_eq!(
            p.user,
            "Customer segment: Champions\nSegment description: Recent, frequent buyers with high spending\n\
             Product category: Electronics\nProduct: iPhone 15 Pro\nBrand: Apple\nPrice: $999.99\n\
             Regular price: $1099.99\nCampaign context: Black Friday Sale\n"
        );
        assert!(p.system.contains("never state a price"));
        let none = text_prompt(&champions(), "Electronics", None, None);
        assert!(none.user.contains("Product: none"));
        assert!(!none.user.contains("Price"));
    }

    #[test]
    fn template_copy_follows_the_segment_and_states_only_the_facts() {
        let text = template_copy(
            &champions(),
            "Electronics",
            Some(&phone()),
            Some("Black Friday Sale"),
        );
        assert_eq!(
            text,
            "Exclusive VIP access to our Electronics collection! As one of our most valued \
             customers, enjoy early access to iPhone 15 Pro by Apple at $999.99 (regular price \
             $1099.99). Black Friday Sale: don't miss out!"
        );
        let lost = SegmentFacts {
            name: "Lost".into(),
            ..champions()
        };
        assert!(template_copy(&lost, "Books", None, None).starts_with("We miss you!"));
        let allowed = allowed_amounts(Some(&phone()), None);
        assert!(invented_amounts(&text, &allowed).is_empty());
    }

    #[test]
    fn amounts_are_found_in_every_usual_form() {
        assert_eq!(
            money_amounts("Now $1,299.99, was USD 1500 - save 200 dollars or €5; 3 items, 20% off"),
            [Cents(129_999), Cents(150_000), Cents(20_000), Cents(500)]
        );
        assert_eq!(
            money_amounts("49.99 USD and $ 10."),
            [Cents(4_999), Cents(1_000)]
        );
        assert!(money_amounts("iPhone 15 Pro, 128GB, 2 for 1").is_empty());
        assert_eq!(money_amounts("$0.999"), [Cents(100)]);
    }

    #[test]
    fn amounts_not_in_the_facts_or_context_are_invented() {
        let allowed = allowed_amounts(Some(&phone()), Some("Save $100 today"));
        assert_eq!(allowed, [Cents(99_999), Cents(109_999), Cents(10_000)]);
        assert!(invented_amounts("Only $999.99, save $100!", &allowed).is_empty());
        assert_eq!(
            invented_amounts("Only $899 for VIPs", &allowed),
            [Cents(89_900)]
        );
    }

    #[test]
    fn aspect_ratios_map_to_sizes_each_model_accepts() {
        assert_eq!(AspectRatio::parse("16:9"), Some(AspectRatio::Landscape16x9));
        assert_eq!(AspectRatio::parse("21:9"), None);
        assert_eq!(AspectRatio::valid_names(), "1:1, 16:9, 9:16, 4:3, 3:4");
        let titan = Provenance {
            backend: "bedrock".into(),
            model_id: "amazon.titan-image-generator-v2:0".into(),
        };
        let nova = Provenance {
            backend: "bedrock".into(),
            model_id: "amazon.nova-canvas-v1:0".into(),
        };
        let local = Provenance {
            backend: "local".into(),
            model_id: "local-banner-v1".into(),
        };
        assert_eq!(ImageFamily::of(&titan), ImageFamily::Titan);
        assert_eq!(ImageFamily::of(&nova), ImageFamily::Nova);
        assert_eq!(ImageFamily::of(&local), ImageFamily::Local);
        assert_eq!(
            ImageFamily::Titan.size(AspectRatio::Landscape16x9),
            (1173, 640)
        );
        // Titan's list of sizes.
        const TITAN: [(u32, u32); 25] = [
            (1024, 1024),
            (768, 768),
            (512, 512),
            (768, 1152),
            (384, 576),
            (1152, 768),
            (576, 384),
            (768, 1280),
            (384, 640),
            (1280, 768),
            (640, 384),
            (896, 1152),
            (448, 576),
            (1152, 896),
            (576, 448),
            (768, 1408),
            (384, 704),
            (1408, 768),
            (704, 384),
            (640, 1408),
            (320, 704),
            (1408, 640),
            (704, 320),
            (1152, 640),
            (1173, 640),
        ];
        for ratio in AspectRatio::ALL {
            assert!(TITAN.contains(&ImageFamily::Titan.size(ratio)), "{ratio:?}");
            let (w, h) = ImageFamily::Nova.size(ratio);
            assert!(
                w % 16 == 0
                    && h % 16 == 0
                    && (320..=4096).contains(&w)
                    && (320..=4096).contains(&h)
            );
            let (lw, lh) = ImageFamily::Local.size(ratio);
            assert!((64..=2048).contains(&lw) && (64..=2048).contains(&lh));
            // Same orientation everywhere.
            assert_eq!(w > h, lw > lh, "{ratio:?}");
        }
    }

    #[test]
    fn the_image_prompt_leads_with_the_product_and_the_caption_has_the_price() {
        assert_eq!(
            image_prompt("  Holiday banner ", Some(&phone())),
            "Product: iPhone 15 Pro by Apple (Smartphones). Holiday banner"
        );
        assert_eq!(image_prompt("Holiday banner", None), "Holiday banner");
        assert_eq!(
            caption(Some(&phone())).as_deref(),
            Some("iPhone 15 Pro\n$999.99")
        );
        assert_eq!(caption(None), None);
    }
}
