//! Product search: text relevance (name, brand, category, tags, description; case- and
//! accent-insensitive through [`crate::text::words`], prefixes and small typos) blended with the vector similarity of the query's embedding, plus
//! suggestions and the search log that analytics reads (query, user, results, latency, clicks).
//!
//! The index is built from products and categories and scores with their vectors; it knows
//! nothing of the snapshot that keeps it (see [`super::snapshot`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    records::{Category, ProductRecord},
    vectors::ProductVectors,
};
use crate::{
    store::{
        self, Condition, EXPIRES_AT, GSI1PK, GSI1SK, Item, ItemStore, PK, Query, SK, StoreError,
        TxOp, Update, keys, now_epoch,
    },
    text::words,
};

/// Weight of the text score in the relevance; the rest is vector similarity.
pub const TEXT_WEIGHT: f64 = 0.7;
/// A product matching no word is still a result when its embedding is at least this similar.
pub const SEMANTIC_THRESHOLD: f64 = 0.5;
/// How long search log entries are kept.
pub const SEARCH_LOG_TTL_SECONDS: i64 = 90 * 24 * 3600;

/// Weights of name, brand, category, tags and description (the order of [`SearchIndex`]'s
/// fields and of the match reasons): a word found in the name counts most. Equal weights are
/// resolved in this order.
const FIELD_WEIGHTS: [f64; 5] = [3.0, 2.0, 1.5, 1.5, 1.0];

/// One scored product.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub product: &'a ProductRecord,
    /// In [0, 1].
    pub relevance: f64,
    pub match_reason: &'static str,
}

/// How well one query word matches one word, by the definition (the reference the index is
/// tested against): 1 exact, 0.8 prefix (query words of 3+ letters), 0.6 within the typo
/// tolerance (Damerau-Levenshtein: 1 edit for words of 4-7 letters, 2 from 8), else 0.
#[cfg(test)]
fn word_match(query: &str, word: &str) -> f64 {
    let n = query.chars().count();
    let tolerance = match n {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    if word == query {
        1.0
    } else if n >= 3 && word.starts_with(query) {
        0.8
    } else if tolerance > 0 && strsim::damerau_levenshtein(query, word) <= tolerance {
        0.6
    } else {
        0.0
    }
}

/// A query word with what matching it needs.
struct QueryWord<'a> {
    text: &'a str,
    chars: usize,
    tolerance: usize,
    histogram: [u8; 64],
}

impl<'a> QueryWord<'a> {
    fn new(text: &'a str) -> Self {
        let chars = text.chars().count();
        let tolerance = match chars {
            0..=3 => 0,
            4..=7 => 1,
            _ => 2,
        };
        Self {
            text,
            chars,
            tolerance,
            histogram: histogram(text),
        }
    }

    /// Words that merely start with the query word count from 3 letters.
    fn prefix_counts(&self) -> bool {
        self.chars >= 3
    }

    /// Whether `word` (of `chars` characters) is within the typo tolerance (Damerau-Levenshtein).
    /// Two cheap lower bounds of the edit distance are checked first: the difference in length,
    /// and how many characters one word has that the other lacks (a transposition changes
    /// neither); only the few words that pass both pay for the full distance.
    fn within_typo_tolerance(&self, word: &str, chars: usize) -> bool {
        if self.tolerance == 0 || chars.abs_diff(self.chars) > self.tolerance {
            return false;
        }
        let other = histogram(word);
        let (mut extra, mut lacking) = (0usize, 0usize);
        for (a, b) in self.histogram.iter().zip(&other) {
            if a > b {
                extra += usize::from(a - b);
            } else {
                lacking += usize::from(b - a);
            }
        }
        extra.max(lacking) <= self.tolerance
            && strsim::damerau_levenshtein(self.text, word) <= self.tolerance
    }
}

/// Character counts in 64 buckets (characters that share a bucket count as the same, which
/// keeps the difference of two histograms a lower bound of the edit distance).
fn histogram(word: &str) -> [u8; 64] {
    let mut h = [0u8; 64];
    for c in word.chars() {
        let slot = &mut h[(c as usize) % 64];
        *slot = slot.saturating_add(1);
    }
    h
}

/// Search structures of a set of products (one catalog snapshot's, built once per snapshot):
/// - the distinct words of the active products' fields, sorted, so an exact word or a prefix is
///   a binary search and the typo check runs once per distinct word, not per product;
/// - per word, the products and fields that contain it (postings), so a query only visits the
///   products that match one of its words;
/// - the products' lower-case names and the start of every word in them, sorted by the text
///   from there on, so name suggestions for a prefix are a binary search too.
#[derive(Debug)]
pub struct SearchIndex {
    vocabulary: Vec<String>,
    word_chars: Vec<usize>,
    /// Per word of `vocabulary`: `product index << 3 | field` (fields in [`FIELD_WEIGHTS`] order).
    postings: Vec<Vec<u32>>,
    names: Vec<String>,
    /// (product index, byte offset of a word start in its name), sorted by `names[p][offset..]`.
    name_starts: Vec<(u32, u32)>,
}

impl SearchIndex {
    /// The index of `products`, with their categories' names (inactive products are left out).
    pub fn build(products: &[ProductRecord], categories: &HashMap<String, Category>) -> Self {
        let mut by_word: std::collections::HashMap<String, Vec<u32>> =
            std::collections::HashMap::new();
        let mut names = vec![String::new(); products.len()];
        let mut name_starts = Vec::new();
        for (i, p) in products.iter().enumerate() {
            if !p.is_active {
                continue;
            }
            let Ok(index) = u32::try_from(i) else { break };
            let category = categories
                .get(&p.category_id)
                .map_or("", |c| c.name.as_str());
            let name_words = words(&p.name);
            // Word starts of the name, in the name as it is joined below (single spaces).
            let mut offset = 0;
            for w in &name_words {
                name_starts.push((index, offset as u32));
                offset += w.len() + 1;
            }
            names[i] = name_words.join(" ");
            let fields = [
                name_words,
                words(p.brand.as_deref().unwrap_or("")),
                words(category),
                p.tags.iter().flat_map(|t| words(t)).collect(),
                words(p.description.as_deref().unwrap_or("")),
            ];
            for (field, mut ws) in (0u32..).zip(fields) {
                ws.sort_unstable();
                ws.dedup();
                for w in ws {
                    by_word.entry(w).or_default().push(index << 3 | field);
                }
            }
        }
        let mut entries: Vec<(String, Vec<u32>)> = by_word.into_iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let (vocabulary, postings): (Vec<String>, Vec<Vec<u32>>) = entries.into_iter().unzip();
        let word_chars = vocabulary.iter().map(|w| w.chars().count()).collect();
        name_starts.sort_unstable_by(|a, b| {
            names[a.0 as usize][a.1 as usize..].cmp(&names[b.0 as usize][b.1 as usize..])
        });
        Self {
            vocabulary,
            word_chars,
            postings,
            names,
            name_starts,
        }
    }

    /// The distinct words that match a query word, with the quality of the match (1 exact, 0.8
    /// prefix, 0.6 typo).
    fn matches(&self, query: &str) -> Vec<(usize, f64)> {
        let q = QueryWord::new(query);
        let mut out = Vec::new();
        let start = self.vocabulary.partition_point(|w| w.as_str() < query);
        let prefixed = self.vocabulary[start..]
            .iter()
            .take_while(|w| w.starts_with(query))
            .count();
        for (id, w) in (start..).zip(&self.vocabulary[start..start + prefixed]) {
            if w == query {
                out.push((id, 1.0));
            } else if q.prefix_counts() {
                out.push((id, 0.8));
            }
        }
        if q.tolerance > 0 {
            for (id, (w, &chars)) in self.vocabulary.iter().zip(&self.word_chars).enumerate() {
                let already = (start..start + prefixed).contains(&id);
                if !already && q.within_typo_tolerance(w, chars) {
                    out.push((id, 0.6));
                }
            }
        }
        out
    }

    /// Lower-case names of active products in which a word starts with `prefix` (words of
    /// letters and digits joined by single spaces), sorted, distinct, at most `limit`.
    fn names_with_word_prefix(
        &self,
        products: &[ProductRecord],
        prefix: &str,
        limit: usize,
    ) -> Vec<String> {
        let text = |&(p, off): &(u32, u32)| &self.names[p as usize][off as usize..];
        let start = self.name_starts.partition_point(|e| text(e) < prefix);
        let mut best: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for e in self.name_starts[start..]
            .iter()
            .take_while(|e| text(e).starts_with(prefix))
        {
            best.insert(&products[e.0 as usize].name);
            if best.len() > limit {
                best.pop_last();
            }
        }
        let mut out: Vec<String> = best.into_iter().map(str::to_lowercase).collect();
        out.dedup();
        out
    }
}

/// Scores the active `products` (those `index` was built from) for `query`; products that match
/// no word and are not semantically close are left out. `query_vector` is the query's embedding,
/// when there is one, and `vectors` the products' (see [`super::snapshot::CatalogSnapshot::vectors`]).
pub fn score<'a>(
    index: &SearchIndex,
    products: &'a [ProductRecord],
    vectors: Option<&ProductVectors>,
    query: &str,
    query_vector: Option<&[f32]>,
) -> Vec<Hit<'a>> {
    let query_words = words(query);
    if query_words.is_empty() {
        return Vec::new();
    }
    let n = products.len();
    // Per product: the text score summed over query words, and the fields that gave each word
    // its best match.
    let mut text = vec![0.0f64; n];
    let mut matched = vec![0u8; n];
    // Per product, for the current query word: the best weighted match and its field.
    let mut best: Vec<(f64, u8)> = vec![(0.0, 0); n];
    let mut touched: Vec<usize> = Vec::new();
    for q in &query_words {
        touched.clear();
        for (word, quality) in index.matches(q) {
            for &entry in &index.postings[word] {
                let (p, field) = ((entry >> 3) as usize, (entry & 7) as u8);
                let m = quality * FIELD_WEIGHTS[usize::from(field)];
                let b = &mut best[p];
                if b.0 == 0.0 {
                    touched.push(p);
                }
                // Equal matches go to the field listed first, as the weights are ordered.
                if m > b.0 || (m == b.0 && field < b.1) {
                    *b = (m, field);
                }
            }
        }
        for &p in &touched {
            text[p] += best[p].0;
            matched[p] |= 1 << best[p].1;
            best[p] = (0.0, 0);
        }
    }
    let max_text: f64 = FIELD_WEIGHTS[0] * query_words.len() as f64;
    let unit_query = match (vectors, query_vector) {
        (Some(v), Some(q)) => v.unit_query(q),
        _ => None,
    };
    let mut hits = Vec::new();
    for (i, p) in products.iter().enumerate() {
        if !p.is_active {
            continue;
        }
        let text = text[i] / max_text;
        let vector = match (vectors, &unit_query) {
            (Some(v), Some(q)) => v.similarity(q, i).map_or(0.0, |s| f64::from(s).max(0.0)),
            _ => 0.0,
        };
        if text <= 0.0 && vector < SEMANTIC_THRESHOLD {
            continue;
        }
        let relevance = TEXT_WEIGHT * text + (1.0 - TEXT_WEIGHT) * vector;
        let field = |f: u8| matched[i] & (1 << f) != 0;
        let match_reason = if field(0) && field(1) {
            "title_brand_match"
        } else if field(0) {
            "title_match"
        } else if field(1) {
            "brand_match"
        } else if field(2) {
            "category_match"
        } else if field(3) {
            "tag_match"
        } else if field(4) {
            "description_match"
        } else {
            "semantic_match"
        };
        hits.push(Hit {
            product: p,
            relevance,
            match_reason,
        });
    }
    hits
}

/// Suggestions for a prefix: popular past queries first, then category names, then product names
/// in which a word starts with it; distinct, lower-case. `index` is the index of `products`.
pub async fn suggestions(
    store: &dyn ItemStore,
    index: &SearchIndex,
    products: &[ProductRecord],
    categories: &HashMap<String, Category>,
    prefix: &str,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let prefix = words(prefix).join(" ");
    let mut out: Vec<String> = Vec::new();
    if prefix.is_empty() || limit == 0 {
        return Ok(out);
    }
    let mut popular: Vec<(String, u64)> = store::query_all(
        store,
        Query::table(keys::POPULAR_QUERIES_PK).begins_with(prefix.clone()),
    )
    .await?
    .into_iter()
    .filter_map(|i| {
        let q = i.get(SK)?.as_str()?.to_string();
        let n = i.get("count").and_then(Value::as_u64)?;
        Some((q, n))
    })
    .collect();
    popular.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let push = |s: String, out: &mut Vec<String>| {
        if out.len() < limit && !out.contains(&s) {
            out.push(s);
        }
    };
    for (q, _) in popular {
        push(q, &mut out);
    }
    let starts = |name: &str| {
        let name = words(name).join(" ");
        name.starts_with(&prefix) || name.contains(&format!(" {prefix}"))
    };
    let mut categories: Vec<String> = categories
        .values()
        .map(|c| c.name.to_lowercase())
        .filter(|n| starts(n))
        .collect();
    categories.sort();
    for c in categories {
        push(c, &mut out);
    }
    for n in index.names_with_word_prefix(products, &prefix, limit) {
        push(n, &mut out);
    }
    Ok(out)
}

/// A logged search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchLog {
    pub id: String,
    pub query: String,
    pub user_id: Option<String>,
    pub result_count: u64,
    pub latency_ms: u64,
    pub created_at: String,
    /// Always 0 on the log item: clicks are counted on their own item ([`search_clicks`]).
    #[serde(default)]
    pub clicks: u64,
}

/// Logs a search (and counts the normalised query as popular when it found something).
pub async fn log_search(store: &dyn ItemStore, entry: &SearchLog) -> Result<(), StoreError> {
    let mut item: Item = store::to_item(entry)?;
    let key = keys::search_log(&entry.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "search".into());
    let day = entry.created_at.get(..10).unwrap_or("");
    item.insert(GSI1PK.into(), keys::search_log_day_pk(day).into());
    item.insert(
        GSI1SK.into(),
        format!("{}#{}", entry.created_at, entry.id).into(),
    );
    item.insert(
        EXPIRES_AT.into(),
        Value::from(now_epoch() + SEARCH_LOG_TTL_SECONDS),
    );
    store.put(item, None).await?;
    let normalised = words(&entry.query).join(" ");
    if entry.result_count > 0 && !normalised.is_empty() && normalised.len() <= 100 {
        store
            .update(
                &keys::popular_query(&normalised),
                Update::new().add("count", 1),
                None,
            )
            .await?;
    }
    Ok(())
}

/// Records a click on a result of a logged search. `false` when the search is unknown.
pub async fn track_click(
    store: &dyn ItemStore,
    search_id: &str,
    product_id: &str,
    position: u32,
) -> Result<bool, StoreError> {
    // The count lives on its own item without index keys: an `ADD` on the log item would also
    // write the day's `SEARCHLOG#` index partition. The check keeps clicks on unknown searches out.
    let ops = vec![
        TxOp::Check {
            key: keys::search_log(search_id),
            condition: Condition::ItemExists,
        },
        TxOp::Update {
            key: keys::search_clicks(search_id),
            update: Update::new()
                .add("clicks", 1)
                .set("last_click_product_id", product_id)
                .set("last_click_position", position)
                .set(EXPIRES_AT, now_epoch() + SEARCH_LOG_TTL_SECONDS),
            condition: None,
        },
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&0) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The clicks counted on the results of a logged search (0 when none).
pub async fn search_clicks(store: &dyn ItemStore, search_id: &str) -> Result<u64, StoreError> {
    Ok(store
        .get(&keys::search_clicks(search_id))
        .await?
        .and_then(|i| i.get("clicks").and_then(Value::as_u64))
        .unwrap_or(0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn word_matching_tolerates_case_prefixes_and_small_typos() {
        let ws = words("Apple iPhone 15 Pro Smartphone");
        let word_match =
            |q: &str, ws: &[String]| ws.iter().map(|w| word_match(q, w)).fold(0.0, f64::max);
        assert_eq!(word_match("iphone", &ws), 1.0);
        assert_eq!(word_match("smart", &ws), 0.8);
        assert_eq!(word_match("iphnoe", &ws), 0.6, "transposition");
        assert_eq!(word_match("smartphome", &ws), 0.6);
        assert_eq!(word_match("pro", &ws), 1.0);
        assert_eq!(
            word_match("pra", &ws),
            0.0,
            "short words must match exactly"
        );
        assert_eq!(word_match("banana", &ws), 0.0);
        assert_eq!(words("Wi-Fi 6, USB-C!"), ["wi", "fi", "6", "usb", "c"]);
    }

    #[test]
    fn the_index_finds_exactly_the_words_a_full_comparison_finds() {
        let vocabulary: Vec<String> = words(
            "wireless wired wire headphones headphone headset phones phone iphone earphones \
             speaker speakers sneaker seeker smart smartphone smartwatch pro prose 15 150 \
             garden gardena hose house horse mouse",
        );
        let mut sorted = vocabulary.clone();
        sorted.sort();
        sorted.dedup();
        let index = SearchIndex {
            word_chars: sorted.iter().map(|w| w.chars().count()).collect(),
            postings: vec![Vec::new(); sorted.len()],
            vocabulary: sorted.clone(),
            names: Vec::new(),
            name_starts: Vec::new(),
        };
        for q in [
            "wire",
            "wirelss",
            "headphnoes",
            "phone",
            "pho",
            "ph",
            "sneakers",
            "smart",
            "pro",
            "15",
            "hose",
            "hoes",
            "mouse",
            "garden",
            "gardne",
            "xyz",
            "",
        ] {
            let mut expected: Vec<(usize, f64)> = sorted
                .iter()
                .enumerate()
                .map(|(i, w)| (i, word_match(q, w)))
                .filter(|&(_, m)| m > 0.0)
                .collect();
            let mut got = index.matches(q);
            expected.sort_by_key(|e| e.0);
            got.sort_by_key(|e| e.0);
            assert_eq!(got, expected, "query word {q:?}");
        }
    }

    fn product(id: &str, name: &str, description: &str) -> ProductRecord {
        ProductRecord {
            id: id.into(),
            name: name.into(),
            code: id.to_uppercase(),
            brand: None,
            price: crate::money::Cents(1000),
            compare_price: None,
            description: Some(description.into()),
            specification: Default::default(),
            technical_details: Default::default(),
            images: vec![],
            in_stock: true,
            stock_quantity: 1,
            category_id: "c".into(),
            tags: vec![],
            meta_title: None,
            meta_description: None,
            is_active: true,
            view_count: 0,
            order_count: 0,
            basket_count: 0,
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
        }
    }

    /// Accents are folded on both sides, so an unaccented query is an exact match (not a typo)
    /// and the other way round, in names and descriptions, and in suggestions.
    #[test]
    fn search_folds_accents_on_both_sides() {
        let products = vec![
            product("p1", "Café Noir", "dark roast"),
            product("p2", "Crème Brûlée Kit", "a naive dessert"),
            product("p3", "Tea", "green"),
        ];
        let categories = HashMap::new();
        let index = SearchIndex::build(&products, &categories);
        let top = |q: &str| {
            let hits = score(&index, &products, None, q, None);
            hits.iter()
                .map(|h| (h.product.id.clone(), h.relevance, h.match_reason))
                .collect::<Vec<_>>()
        };
        let exact = TEXT_WEIGHT * 1.0;
        assert_eq!(top("cafe"), [("p1".to_string(), exact, "title_match")]);
        assert_eq!(top("CAFÉ"), top("cafe"));
        assert_eq!(
            top("creme brulee"),
            [("p2".to_string(), exact, "title_match")]
        );
        let naive = top("naïve");
        assert_eq!(naive.len(), 1);
        assert_eq!(naive[0].0, "p2");
        assert_eq!(naive[0].2, "description_match");
        assert_eq!(
            index.names_with_word_prefix(&products, "cre", 5),
            ["crème brûlée kit"]
        );
    }
}
