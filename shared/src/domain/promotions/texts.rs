//! The audit record of every generated promotion text (`PROMOTEXT#<day>` /
//! `<created_at>#<id>`): its inputs (cluster, segment, category, product, context, user), the
//! prompt version and prompts, the text served, what made it (model or template, backend and
//! model id, tokens) and who asked. A model text refused for stating an amount not in the facts
//! is kept too (`rejected_text`), with the template served instead.

use serde::{Deserialize, Serialize};

use crate::store::{self, ItemStore, PK, Query, SK, StoreResult, keys};

/// One generated text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionText {
    pub id: String,
    pub created_at: String,
    pub created_by: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub cluster_id: Option<u32>,
    pub segment_name: String,
    pub category: String,
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default)]
    pub additional_context: Option<String>,
    pub prompt_version: String,
    pub system_prompt: String,
    pub prompt: String,
    pub text: String,
    /// `model` or `template`.
    pub source: String,
    pub model_backend: String,
    pub model_id: String,
    pub input_tokens: u32,
    pub output_tokens: u32,
    #[serde(default)]
    pub rejected_text: Option<String>,
}

fn day_of(created_at: &str) -> chrono::NaiveDate {
    chrono::DateTime::parse_from_rfc3339(created_at)
        .map(|t| t.with_timezone(&chrono::Utc).date_naive())
        .unwrap_or_else(|_| chrono::Utc::now().date_naive())
}

/// Stores `t` (ids are fresh: nothing is replaced).
pub async fn record(store: &dyn ItemStore, t: &PromotionText) -> StoreResult<()> {
    let mut item = store::to_item(t)?;
    let key = keys::promotion_text(day_of(&t.created_at), &t.created_at, &t.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    store.put(item, None).await
}

/// The texts generated on `day`, oldest first.
pub async fn list_day(
    store: &dyn ItemStore,
    day: chrono::NaiveDate,
) -> StoreResult<Vec<PromotionText>> {
    store::query_all(store, Query::table(keys::promotion_texts_pk(day)))
        .await?
        .into_iter()
        .map(store::from_item)
        .collect()
}
