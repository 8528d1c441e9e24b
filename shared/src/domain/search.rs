//! Product search: text relevance (name, brand, category, tags, description; case-insensitive,
//! prefixes and small typos) blended with the vector similarity of the query's embedding, plus
//! suggestions and the search log that analytics reads (query, user, results, latency, clicks).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    domain::{catalog::ProductRecord, catalog_view::CatalogSnapshot},
    reco::similarity::cosine,
    store::{
        self, Condition, EXPIRES_AT, GSI1PK, GSI1SK, Item, ItemStore, PK, Query, SK, StoreError,
        Update, keys, now_epoch,
    },
};

/// Weight of the text score in the relevance; the rest is vector similarity.
pub const TEXT_WEIGHT: f64 = 0.7;
/// A product matching no word is still a result when its embedding is at least this similar.
pub const SEMANTIC_THRESHOLD: f64 = 0.5;
/// How long search log entries are kept.
pub const SEARCH_LOG_TTL_SECONDS: i64 = 90 * 24 * 3600;

/// Weights of name, brand, category, tags and description (the order of [`SearchIndex`]'s
/// fields and of the match reasons): a word found in the name counts most.
const FIELD_WEIGHTS: [f64; 5] = [3.0, 2.0, 1.5, 1.5, 1.0];

/// One scored product.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub product: &'a ProductRecord,
    /// In [0, 1].
    pub relevance: f64,
    pub match_reason: &'static str,
}

/// Lower-case words of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// How well one query word matches one field's words: 1 exact, 0.8 prefix, 0.6 within the typo
/// tolerance (1 edit for words of 4-7 letters, 2 from 8), else 0.
fn word_match(query: &str, field_words: &[String]) -> f64 {
    let n = query.chars().count();
    let tolerance = match n {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    let mut best: f64 = 0.0;
    for w in field_words {
        if w == query {
            return 1.0;
        }
        if n >= 3 && w.starts_with(query) {
            best = best.max(0.8);
        } else if tolerance > 0
            && best < 0.6
            && w.chars().count().abs_diff(n) <= tolerance
            && strsim::damerau_levenshtein(query, w) <= tolerance
        {
            best = 0.6;
        }
    }
    best
}

/// The words of every product's fields, as ids into one vocabulary, so that a query word is
/// compared (exactly, by prefix, or by edit distance) with each distinct word once per query
/// instead of with every word of every product.
#[derive(Debug)]
pub struct SearchIndex {
    vocabulary: Vec<String>,
    /// Per product of the snapshot (same order), per field of [`FIELD_WEIGHTS`]: word ids.
    fields: Vec<[Vec<u32>; 5]>,
}

impl SearchIndex {
    pub fn build(snapshot: &CatalogSnapshot) -> Self {
        let mut ids: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        let mut vocabulary = Vec::new();
        let mut intern = |w: String| -> u32 {
            if let Some(&id) = ids.get(&w) {
                return id;
            }
            let id = vocabulary.len() as u32;
            ids.insert(w.clone(), id);
            vocabulary.push(w);
            id
        };
        let fields = snapshot
            .products
            .iter()
            .map(|p| {
                let category = snapshot.category_name(&p.category_id).unwrap_or("");
                let mut field = |text: &str| -> Vec<u32> {
                    let mut v: Vec<u32> = words(text).into_iter().map(&mut intern).collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                };
                [
                    field(&p.name),
                    field(p.brand.as_deref().unwrap_or("")),
                    field(category),
                    field(&p.tags.join(" ")),
                    field(p.description.as_deref().unwrap_or("")),
                ]
            })
            .collect();
        Self { vocabulary, fields }
    }
}

/// Scores every active product of the snapshot for `query`; products that match no word and are
/// not semantically close are left out. `query_vector` is the query's embedding, when there is one.
pub fn score<'a>(
    snapshot: &'a CatalogSnapshot,
    embeddings: &crate::domain::catalog_view::EmbeddingMap,
    query: &str,
    query_vector: Option<&[f32]>,
) -> Vec<Hit<'a>> {
    let query_words = words(query);
    if query_words.is_empty() {
        return Vec::new();
    }
    let index = snapshot.search_index();
    // How well each query word matches each distinct word: computed once per query.
    let quality: Vec<Vec<f64>> = query_words
        .iter()
        .map(|q| {
            index
                .vocabulary
                .iter()
                .map(|w| word_match(q, std::slice::from_ref(w)))
                .collect()
        })
        .collect();
    let max_text: f64 = FIELD_WEIGHTS[0] * query_words.len() as f64;
    let mut hits = Vec::new();
    for (p, fields) in snapshot.products.iter().zip(&index.fields) {
        if !p.is_active {
            continue;
        }
        let mut text = 0.0;
        let mut matched = [false; 5];
        for q in &quality {
            let mut best = 0.0;
            let mut best_field = None;
            for (i, (weight, ids)) in FIELD_WEIGHTS.iter().zip(fields).enumerate() {
                let m = ids.iter().map(|&id| q[id as usize]).fold(0.0, f64::max) * weight;
                if m > best {
                    best = m;
                    best_field = Some(i);
                }
            }
            if let Some(i) = best_field {
                matched[i] = true;
            }
            text += best;
        }
        let text = text / max_text;
        let vector = match (query_vector, embeddings.get(&p.id)) {
            (Some(q), Some((_, v))) => f64::from(cosine(q, v)).max(0.0),
            _ => 0.0,
        };
        if text <= 0.0 && vector < SEMANTIC_THRESHOLD {
            continue;
        }
        let relevance = TEXT_WEIGHT * text + (1.0 - TEXT_WEIGHT) * vector;
        let match_reason = match matched {
            [true, true, ..] => "title_brand_match",
            [true, ..] => "title_match",
            [_, true, ..] => "brand_match",
            [_, _, true, ..] => "category_match",
            [_, _, _, true, _] => "tag_match",
            [_, _, _, _, true] => "description_match",
            _ => "semantic_match",
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
/// whose words start with it; distinct, lower-case.
pub async fn suggestions(
    store: &dyn ItemStore,
    snapshot: &CatalogSnapshot,
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
    let starts = |text: &str| {
        let lower = text.to_lowercase();
        lower.starts_with(&prefix) || words(&lower).iter().any(|w| w.starts_with(&prefix))
    };
    let mut categories: Vec<String> = snapshot
        .categories
        .values()
        .map(|c| c.name.to_lowercase())
        .filter(|n| starts(n))
        .collect();
    categories.sort();
    for c in categories {
        push(c, &mut out);
    }
    let mut names: Vec<String> = snapshot
        .products
        .iter()
        .filter(|p| p.is_active && starts(&p.name))
        .map(|p| p.name.to_lowercase())
        .collect();
    names.sort();
    for n in names {
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
    match store
        .update(
            &keys::search_log(search_id),
            Update::new()
                .add("clicks", 1)
                .set("last_click_product_id", product_id)
                .set("last_click_position", position),
            Some(Condition::ItemExists),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn word_matching_tolerates_case_prefixes_and_small_typos() {
        let ws = words("Apple iPhone 15 Pro Smartphone");
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
}
