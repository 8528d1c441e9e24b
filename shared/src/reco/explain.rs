//! Explanations of served recommendations, the pure part: the deterministic template sentence of
//! each (algorithm, reason) in its context, the cache key of an explanation, the batch prompt a
//! language model answers, and the parsing of that answer. No I/O; the cache and the
//! asynchronous fill are in `crate::domain::explanations`.
//!
//! **Templates** ([`template`]) are what a request gets at once when no model-written sentence
//! is cached, what the local AI backend "generates", and what replaces any line of a model answer
//! that is unusable. They follow spec 002's examples: "Because you viewed the Sony WH-1000XM5",
//! "Frequently bought with iPhone 15 Pro", "Currently trending in Electronics", "New arrival in
//! Electronics", "Popular with customers who share your tastes", "Similar to products you've
//! viewed in Electronics".
//!
//! **Cache key** ([`cache_id`]): (prompt version, algorithm, reason, product id, context
//! category, whether there is a context item). The context *item* (the product viewed, the one in
//! the cart) is not in the key, so one cached sentence serves every context: the model writes the
//! placeholder [`CONTEXT_PLACEHOLDER`] where it names that item, and [`render`] puts the name of
//! the request's context in its place. A new [`PROMPT_VERSION`] is a new key space: old sentences
//! are never served again and lapse with their TTL.
//!
//! **Batch prompt** ([`build_prompt`]): numbered items, one line per item asked back as
//! `<n>. <sentence>`. Names are cleaned ([`clean_name`]: one line, at most [`MAX_NAME_CHARS`]
//! characters, no quotes or braces) so catalog text cannot reshape the prompt.
//!
//! **Parsing** ([`parse_answer`]): lines numbered `1.`, `1)`, `1:`, `(1)`, `**1.**`, `Item 1:`
//! are matched by number (unnumbered lines around them are ignored); an answer with no numbered
//! line is used by position only when it has exactly one non-empty line per item. A line is
//! refused (so that item falls back to its template) when it is missing, numbered twice, empty,
//! longer than [`MAX_SENTENCE_CHARS`], has no letter, contains braces other than the
//! placeholder, or uses the placeholder for an item without context. Hand-written because the
//! format is ours and small; no crate parses "numbered sentences from an LLM".

use serde::{Deserialize, Serialize};

use super::algorithm::Algorithm;

/// Version of the prompt and of the templates; part of every cache key.
pub const PROMPT_VERSION: &str = "v1";

/// What a model writes where it refers to the request's context item.
pub const CONTEXT_PLACEHOLDER: &str = "{context}";

/// Longest product, category or context name used in a sentence or prompt (characters).
pub const MAX_NAME_CHARS: usize = 80;

/// Longest accepted model-written sentence (characters, placeholder included).
pub const MAX_SENTENCE_CHARS: usize = 160;

/// Items per model prompt.
pub const BATCH_SIZE: usize = 20;

/// The `reason` values the templates know; any other reason falls back to the algorithm's
/// template.
pub mod reasons {
    pub const USERS_ALSO_BOUGHT: &str = "users_also_bought";
    pub const USERS_ALSO_VIEWED: &str = "users_also_viewed";
    pub const SIMILAR_PRODUCT: &str = "similar_product";
    pub const BECAUSE_YOU_VIEWED: &str = "because_you_viewed";
    pub const FREQUENTLY_BOUGHT_TOGETHER: &str = "frequently_bought_together";
    pub const TRENDING: &str = "trending";
    pub const POPULAR: &str = "popular";
    pub const NEW_ARRIVAL: &str = "new_arrival";
}

/// What one explanation is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainRequest {
    pub algorithm: Algorithm,
    /// The item's `reason` (e.g. `users_also_bought`, `similar_product`).
    pub reason: String,
    pub product_id: String,
    pub product_name: String,
    /// The recommended product's category name.
    #[serde(default)]
    pub category: Option<String>,
    /// What the recommendation is relative to, e.g. the name of the product the caller viewed
    /// or has in the cart ("Because you viewed the Sony WH-1000XM5").
    #[serde(default)]
    pub context: Option<String>,
}

/// One line, whitespace collapsed, quotes and braces removed, at most [`MAX_NAME_CHARS`]
/// characters (cut at a word when there is one). Empty when nothing printable is left.
pub fn clean_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| !matches!(c, '"' | '{' | '}' | '`'))
        .collect();
    let collapsed = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.char_indices().nth(MAX_NAME_CHARS) {
        None => collapsed,
        Some((cut, _)) => {
            let head = &collapsed[..cut];
            match head.rfind(' ') {
                Some(space) if space > 0 => head[..space].to_string(),
                _ => head.to_string(),
            }
        }
    }
}

fn non_empty(name: Option<&str>) -> Option<String> {
    name.map(clean_name).filter(|n| !n.is_empty())
}

/// The template with [`CONTEXT_PLACEHOLDER`] where the context item's name goes (when the request
/// has a context), so that it can be shown to the model as the basis of its sentence.
pub fn template_pattern(req: &ExplainRequest) -> String {
    let has_context = non_empty(req.context.as_deref()).is_some();
    let category = non_empty(req.category.as_deref());
    let ctx = CONTEXT_PLACEHOLDER;
    let in_category = |lead: &str| match &category {
        Some(c) => format!("{lead} in {c}"),
        None => lead.to_string(),
    };
    match (req.algorithm, req.reason.as_str(), has_context) {
        (Algorithm::Fbt, _, true) => format!("Frequently bought with {ctx}"),
        (Algorithm::Fbt, _, false) => "Frequently bought together with items in your cart".into(),
        (_, reasons::USERS_ALSO_BOUGHT, true) => {
            format!("Customers who bought {ctx} also bought this")
        }
        (_, reasons::USERS_ALSO_VIEWED, true) => {
            format!("Customers who viewed {ctx} also viewed this")
        }
        (Algorithm::VectorSimilarity, _, true) | (_, reasons::SIMILAR_PRODUCT, true) => {
            format!("Similar to {ctx}")
        }
        (Algorithm::Trending, _, _) => in_category("Currently trending"),
        (Algorithm::NewArrivals, _, _) => in_category("New arrival"),
        (Algorithm::Popular, _, _) => match &category {
            Some(c) => format!("Popular in {c}"),
            None => "Popular with our customers".into(),
        },
        (_, _, true) => format!("Because you viewed {ctx}"),
        (Algorithm::VectorSimilarity | Algorithm::ItemSimilarity, _, false)
        | (_, reasons::SIMILAR_PRODUCT, false) => in_category("Similar to products you've viewed"),
        (Algorithm::CollaborativeFiltering, _, false) => {
            "Popular with customers who share your tastes".into()
        }
    }
}

/// The deterministic sentence for `req` (see the module docs).
pub fn template(req: &ExplainRequest) -> String {
    let pattern = template_pattern(req);
    match non_empty(req.context.as_deref()) {
        Some(ctx) => pattern.replace(CONTEXT_PLACEHOLDER, &ctx),
        None => pattern,
    }
}

/// A stored sentence for `req`: the placeholder replaced by the request's context. `None` when
/// the sentence needs a context the request does not have (then the template is used).
pub fn render(stored: &str, req: &ExplainRequest) -> Option<String> {
    if !stored.contains(CONTEXT_PLACEHOLDER) {
        return Some(stored.to_string());
    }
    let ctx = non_empty(req.context.as_deref())?;
    Some(stored.replace(CONTEXT_PLACEHOLDER, &ctx))
}

/// Lower-case letters and digits, anything else one `-`, at most 64 characters; `-` when empty.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in crate::text::fold(text).chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
        if out.chars().count() >= 64 {
            break;
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "-".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The cache identity of `req`:
/// `<prompt version>#<algorithm>#<reason slug>#<product id>#<category slug>#<c|n>` (`c`: the
/// request has a context item).
pub fn cache_id(req: &ExplainRequest) -> String {
    let has_context = non_empty(req.context.as_deref()).is_some();
    format!(
        "{PROMPT_VERSION}#{}#{}#{}#{}#{}",
        req.algorithm.name(),
        slug(&req.reason),
        req.product_id,
        slug(req.category.as_deref().unwrap_or("")),
        if has_context { "c" } else { "n" }
    )
}

/// A prompt for a batch of requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub system: String,
    pub user: String,
    pub max_tokens: u32,
}

const SYSTEM: &str = "You write the short explanation shown under a product recommendation in \
an online shop: one friendly sentence telling the shopper why the product is suggested. Use only \
the facts given; never invent features, prices, ratings or discounts.";

/// The prompt asking for one sentence per request (numbered from 1, in order).
pub fn build_prompt(requests: &[&ExplainRequest]) -> Prompt {
    let n = requests.len();
    let mut user = format!(
        "Write one explanation sentence for each of the {n} recommendations below.\n\
         Rules:\n\
         - Answer with exactly {n} lines and nothing else; line i starts with \"i. \" and \
         explains item i.\n\
         - Each sentence has at most 20 words, no quotation marks, no emoji, no line breaks.\n\
         - Build on the item's basis sentence and reason; name the product's category when \
         it helps.\n\
         - When an item has a context, write {CONTEXT_PLACEHOLDER} (exactly so, with the \
         braces) where you refer to the context product, never its name.\n\
         - Items without a context must not contain {CONTEXT_PLACEHOLDER}.\n\nItems:\n"
    );
    for (i, req) in requests.iter().enumerate() {
        let mut line = format!(
            "{}. product: \"{}\"",
            i + 1,
            non_empty(Some(&req.product_name)).unwrap_or_else(|| "this product".into())
        );
        if let Some(c) = non_empty(req.category.as_deref()) {
            line.push_str(&format!("; category: \"{c}\""));
        }
        line.push_str(&format!(
            "; algorithm: {}; reason: {}",
            req.algorithm.name(),
            slug(&req.reason)
        ));
        if let Some(ctx) = non_empty(req.context.as_deref()) {
            line.push_str(&format!(
                "; context: {CONTEXT_PLACEHOLDER} = \"{ctx}\" (write {CONTEXT_PLACEHOLDER})"
            ));
        }
        line.push_str(&format!("; basis: \"{}\"\n", template_pattern(req)));
        user.push_str(&line);
    }
    // ~30 tokens a line is generous for 20 words; a floor for tiny batches.
    let max_tokens = u32::try_from(n.saturating_mul(40).saturating_add(64)).unwrap_or(u32::MAX);
    Prompt {
        system: SYSTEM.to_string(),
        user,
        max_tokens,
    }
}

/// Splits a leading item number off `line`: `1. x`, `1) x`, `1: x`, `1 - x`, `(1) x`,
/// `**1.** x`, `Item 1: x`, `#1 x`. `None` when the line does not start with a number.
fn split_number(line: &str) -> Option<(usize, &str)> {
    let mut s = line.trim_start();
    s = s.trim_start_matches(['*', '_', '#', '(', '[']);
    for word in ["Item ", "item ", "ITEM "] {
        if let Some(rest) = s.strip_prefix(word) {
            s = rest.trim_start();
        }
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || digits > 4 {
        return None;
    }
    let n: usize = s.get(..digits)?.parse().ok()?;
    let rest = s.get(digits..)?.trim_start();
    let after = rest.trim_start_matches(['.', ')', ':', ']', '*', '_', '-', '–', '—']);
    // "1.5 times" or "20 words" are not list numbers: a separator must follow the digits.
    if after.len() == rest.len() {
        return None;
    }
    Some((n, after.trim_start()))
}

/// The sentence of one answer line, cleaned, or `None` when it is unusable for `req`.
fn accept(raw: &str, req: &ExplainRequest) -> Option<String> {
    let mut s = raw.trim();
    s = s.trim_matches(|c: char| matches!(c, '*' | '_' | '`') || c.is_whitespace());
    s = s.trim_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | '‘' | '’'));
    let s = s.trim();
    if s.is_empty() || s.chars().count() > MAX_SENTENCE_CHARS {
        return None;
    }
    if !s.chars().any(char::is_alphabetic) {
        return None;
    }
    let without = s.replace(CONTEXT_PLACEHOLDER, "");
    if without.contains(['{', '}']) {
        return None;
    }
    if without.len() != s.len() && non_empty(req.context.as_deref()).is_none() {
        return None;
    }
    Some(s.to_string())
}

/// The model's sentence for each request, in order: `None` where the answer has no usable line
/// for it (see the module docs). Sentences keep the placeholder (that is what is cached).
pub fn parse_answer(answer: &str, requests: &[&ExplainRequest]) -> Vec<Option<String>> {
    let n = requests.len();
    let mut out: Vec<Option<String>> = vec![None; n];
    let lines: Vec<&str> = answer
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let numbered: Vec<(usize, &str)> = lines.iter().filter_map(|l| split_number(l)).collect();
    if numbered.is_empty() {
        if lines.len() == n {
            for ((slot, line), req) in out.iter_mut().zip(&lines).zip(requests) {
                *slot = accept(line, req);
            }
        }
        return out;
    }
    let mut seen = vec![0usize; n];
    for &(number, _) in &numbered {
        if let Some(count) = number.checked_sub(1).and_then(|i| seen.get_mut(i)) {
            *count += 1;
        }
    }
    for (number, text) in numbered {
        let Some(i) = number.checked_sub(1) else {
            continue;
        };
        if seen.get(i) != Some(&1) {
            continue;
        }
        if let (Some(slot), Some(req)) = (out.get_mut(i), requests.get(i)) {
            *slot = accept(text, req);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(
        algorithm: Algorithm,
        reason: &str,
        category: Option<&str>,
        ctx: Option<&str>,
    ) -> ExplainRequest {
        ExplainRequest {
            algorithm,
            reason: reason.into(),
            product_id: "p1".into(),
            product_name: "Bose QC45".into(),
            category: category.map(Into::into),
            context: ctx.map(Into::into),
        }
    }

    #[test]
    fn templates_match_the_spec_examples() {
        use Algorithm::*;
        let cases = [
            (
                req(
                    ItemSimilarity,
                    "because_you_viewed",
                    Some("Audio"),
                    Some("the Sony WH-1000XM5"),
                ),
                "Because you viewed the Sony WH-1000XM5",
            ),
            (
                req(
                    Fbt,
                    "frequently_bought_together",
                    Some("Accessories"),
                    Some("iPhone 15 Pro"),
                ),
                "Frequently bought with iPhone 15 Pro",
            ),
            (
                req(Trending, "trending", Some("Electronics"), None),
                "Currently trending in Electronics",
            ),
            (
                req(NewArrivals, "new_arrival", Some("Electronics"), None),
                "New arrival in Electronics",
            ),
            (
                req(
                    CollaborativeFiltering,
                    "users_also_bought",
                    Some("Laptops"),
                    None,
                ),
                "Popular with customers who share your tastes",
            ),
            (
                req(
                    VectorSimilarity,
                    "similar_product",
                    Some("Electronics"),
                    None,
                ),
                "Similar to products you've viewed in Electronics",
            ),
        ];
        for (r, want) in cases {
            assert_eq!(template(&r), want, "{r:?}");
        }
    }

    #[test]
    fn templates_cover_every_algorithm_with_and_without_context() {
        use Algorithm::*;
        let cases = [
            (
                req(Fbt, "x", None, None),
                "Frequently bought together with items in your cart",
            ),
            (
                req(ItemSimilarity, "users_also_bought", None, Some("Kindle")),
                "Customers who bought Kindle also bought this",
            ),
            (
                req(ItemSimilarity, "users_also_viewed", None, Some("Kindle")),
                "Customers who viewed Kindle also viewed this",
            ),
            (
                req(VectorSimilarity, "anything", None, Some("Kindle")),
                "Similar to Kindle",
            ),
            (
                req(
                    CollaborativeFiltering,
                    "similar_product",
                    None,
                    Some("Kindle"),
                ),
                "Similar to Kindle",
            ),
            (
                req(ItemSimilarity, "x", None, None),
                "Similar to products you've viewed",
            ),
            (
                req(Trending, "x", None, Some("Kindle")),
                "Currently trending",
            ),
            (req(NewArrivals, "x", None, None), "New arrival"),
            (
                req(Popular, "popular", Some("Books"), None),
                "Popular in Books",
            ),
            (
                req(Popular, "popular", None, None),
                "Popular with our customers",
            ),
            (
                req(CollaborativeFiltering, "x", None, Some("Kindle")),
                "Because you viewed Kindle",
            ),
            // An empty context or category counts as none.
            (
                req(Trending, "x", Some("  "), Some("")),
                "Currently trending",
            ),
        ];
        for (r, want) in cases {
            assert_eq!(template(&r), want, "{r:?}");
        }
    }

    #[test]
    fn names_are_cleaned_and_cut() {
        assert_eq!(clean_name("  Sony\n\"WH\"  {x}\t1000 "), "Sony WH x 1000");
        let long = "word ".repeat(30);
        let cut = clean_name(&long);
        assert!(cut.chars().count() <= MAX_NAME_CHARS);
        assert_eq!(cut.chars().count(), 79); // 16 words of 5 chars minus the last space
        assert_eq!(clean_name(&"x".repeat(100)).chars().count(), 80);
        assert_eq!(clean_name("\u{7}\u{0}"), "");
    }

    #[test]
    fn cache_ids_name_every_key_part() {
        let r = req(
            Algorithm::Trending,
            "Trending Now!",
            Some("Électronique & TV"),
            None,
        );
        assert_eq!(
            cache_id(&r),
            "v1#trending#trending-now#p1#electronique-tv#n"
        );
        let r = req(Algorithm::Fbt, "fbt", None, Some("iPhone"));
        assert_eq!(cache_id(&r), "v1#fbt#fbt#p1#-#c");
        // The context item itself is not part of the key.
        let other = req(Algorithm::Fbt, "fbt", None, Some("Pixel 9"));
        assert_eq!(cache_id(&r), cache_id(&other));
    }

    #[test]
    fn rendering_substitutes_the_context() {
        let with = req(Algorithm::Fbt, "x", None, Some("Pixel 9"));
        let without = req(Algorithm::Fbt, "x", None, None);
        assert_eq!(
            render("Pairs well with your {context}", &with).as_deref(),
            Some("Pairs well with your Pixel 9")
        );
        assert_eq!(render("Pairs well with your {context}", &without), None);
        assert_eq!(
            render("A great pick", &without).as_deref(),
            Some("A great pick")
        );
    }

    #[test]
    fn the_prompt_numbers_items_and_asks_for_one_line_each() {
        let a = req(Algorithm::Trending, "trending", Some("Electronics"), None);
        let mut b = req(Algorithm::Fbt, "fbt", None, Some("iPhone \"15\"\nPro"));
        b.product_name = "Case {evil}".into();
        let p = build_prompt(&[&a, &b]);
        assert!(p.user.contains("exactly 2 lines"), "{}", p.user);
        assert!(p.user.contains(
            "1. product: \"Bose QC45\"; category: \"Electronics\"; algorithm: trending; reason: trending; basis: \"Currently trending in Electronics\"\n"
        ), "{}", p.user);
        assert!(p.user.contains(
            "2. product: \"Case evil\"; algorithm: fbt; reason: fbt; context: {context} = \"iPhone 15 Pro\" (write {context}); basis: \"Frequently bought with {context}\"\n"
        ), "{}", p.user);
        assert_eq!(p.max_tokens, 2 * 40 + 64);
        assert!(!p.system.is_empty());
    }

    fn three() -> Vec<ExplainRequest> {
        vec![
            req(Algorithm::Trending, "trending", Some("Audio"), None),
            req(Algorithm::Fbt, "fbt", None, Some("iPhone")),
            req(Algorithm::Popular, "popular", None, None),
        ]
    }

    fn parse(answer: &str) -> Vec<Option<String>> {
        let reqs = three();
        let refs: Vec<&ExplainRequest> = reqs.iter().collect();
        parse_answer(answer, &refs)
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn a_clean_numbered_answer_parses() {
        let got = parse(
            "1. Hot in Audio this week\n2. Goes with your {context}\n3. A customer favourite",
        );
        assert_eq!(
            got,
            vec![
                s("Hot in Audio this week"),
                s("Goes with your {context}"),
                s("A customer favourite")
            ]
        );
    }

    #[test]
    fn numbering_styles_preambles_and_blank_lines_are_handled() {
        let got = parse(
            "Here are the explanations:\n\n**1.** \"Hot in Audio\"\n\n(2) Goes with your {context}\nItem 3: A favourite\n",
        );
        assert_eq!(
            got,
            vec![
                s("Hot in Audio"),
                s("Goes with your {context}"),
                s("A favourite")
            ]
        );
        let got = parse("1) a\n2: b\n3 - c");
        assert_eq!(got, vec![s("a"), s("b"), s("c")]);
    }

    #[test]
    fn missing_duplicate_and_out_of_range_numbers_fall_back() {
        // 2 missing, 4 out of range.
        assert_eq!(parse("1. a\n3. c\n4. d"), vec![s("a"), None, s("c")]);
        // 1 twice: ambiguous.
        assert_eq!(parse("1. a\n1. b\n2. x\n3. c"), vec![None, s("x"), s("c")]);
        assert_eq!(parse("0. a"), vec![None, None, None]);
    }

    #[test]
    fn unnumbered_answers_are_used_only_with_the_right_line_count() {
        assert_eq!(parse("a\n\nb\nc\n"), vec![s("a"), s("b"), s("c")]);
        assert_eq!(parse("a\nb"), vec![None, None, None]);
        assert_eq!(parse("a\nb\nc\nd"), vec![None, None, None]);
        assert_eq!(parse(""), vec![None, None, None]);
        // "20 words" is not a list number.
        assert_eq!(parse("20 words\nb\nc"), vec![s("20 words"), s("b"), s("c")]);
    }

    #[test]
    fn unusable_lines_fall_back() {
        let long = "x".repeat(MAX_SENTENCE_CHARS + 1);
        let answer = format!("1. {long}\n2. Goes with {{product}}\n3. {{context}} lovers buy it");
        // Too long; stray braces; placeholder for an item without context.
        assert_eq!(parse(&answer), vec![None, None, None]);
        assert_eq!(parse("1. ...\n2. \"\"\n3. ok"), vec![None, None, s("ok")]);
        let exact = "y".repeat(MAX_SENTENCE_CHARS);
        assert_eq!(parse(&format!("1. {exact}\n2. b\n3. c"))[0], Some(exact));
    }
}
