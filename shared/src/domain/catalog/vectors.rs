//! Product embeddings: how each is computed and stored beside its product, and the unit vectors
//! of a snapshot's products in one array for similarity scans.

use std::{collections::HashMap, sync::Arc};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::records::ProductRecord;
use crate::{
    ai::{AiError, Embedder, Provenance},
    reco::similarity::{dot, normalized},
    store::{Item, ItemStore, Key, PK, SK, StoreError, keys},
};

/// A product's embedding as stored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEmbedding {
    pub vector: Vec<f32>,
    pub provenance: Provenance,
    /// Hash of the text the vector was computed from ([`embedding_text`]).
    pub text_hash: String,
}

pub fn embedding_text(p: &ProductRecord, category_name: &str) -> String {
    let mut parts = vec![p.name.clone()];
    if let Some(b) = &p.brand {
        parts.push(format!("Brand: {b}"));
    }
    if !category_name.is_empty() {
        parts.push(format!("Category: {category_name}"));
    }
    if !p.tags.is_empty() {
        parts.push(format!("Tags: {}", p.tags.join(", ")));
    }
    if let Some(d) = &p.description {
        parts.push(d.clone());
    }
    parts.join("\n")
}

pub(super) fn text_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

pub(super) fn embedding_item(product_id: &str, e: &StoredEmbedding) -> Item {
    let bytes: Vec<u8> = e.vector.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut item = Item::new();
    let key = keys::product_embedding(product_id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "product_embedding".into());
    item.insert(
        "vector".into(),
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into(),
    );
    item.insert("dimensions".into(), e.vector.len().into());
    item.insert("backend".into(), e.provenance.backend.clone().into());
    item.insert("model_id".into(), e.provenance.model_id.clone().into());
    item.insert("text_hash".into(), e.text_hash.clone().into());
    item
}

pub(super) fn parse_embedding(item: &Item) -> Option<StoredEmbedding> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(item.get("vector")?.as_str()?)
        .ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    let vector = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some(StoredEmbedding {
        vector,
        provenance: Provenance {
            backend: item.get("backend")?.as_str()?.to_string(),
            model_id: item.get("model_id")?.as_str()?.to_string(),
        },
        text_hash: item.get("text_hash")?.as_str()?.to_string(),
    })
}

/// The stored embedding of a product, if it has one.
pub async fn get_embedding(
    store: &dyn ItemStore,
    product_id: &str,
) -> Result<Option<StoredEmbedding>, StoreError> {
    Ok(store
        .get(&keys::product_embedding(product_id))
        .await?
        .as_ref()
        .and_then(parse_embedding))
}

/// The stored embeddings of many products (missing ones skipped), in the order of `ids`.
pub async fn get_embeddings(
    store: &dyn ItemStore,
    ids: &[String],
) -> Result<Vec<(String, StoredEmbedding)>, StoreError> {
    let keys: Vec<Key> = ids.iter().map(|id| keys::product_embedding(id)).collect();
    let mut out = Vec::with_capacity(ids.len());
    for item in store.batch_get(&keys).await? {
        let id = item
            .get(PK)
            .and_then(Value::as_str)
            .and_then(keys::product_id_of);
        if let (Some(id), Some(e)) = (id, parse_embedding(&item)) {
            out.push((id.to_string(), e));
        }
    }
    Ok(out)
}

pub(super) async fn embed(
    embedder: &dyn Embedder,
    p: &ProductRecord,
    category_name: &str,
) -> Result<StoredEmbedding, AiError> {
    let text = embedding_text(p, category_name);
    let e = embedder.embed(&text).await?;
    Ok(StoredEmbedding {
        vector: e.vector,
        provenance: e.provenance,
        text_hash: text_hash(&text),
    })
}

/// Product embeddings by product id, each with the `updated_at` of the product it was read for.
pub type EmbeddingMap = HashMap<String, (String, Arc<[f32]>)>;

/// The unit embedding vectors of a snapshot's active products in one contiguous array, one row
/// per product in the order of [`CatalogSnapshot::products`], so that comparing a vector with
/// the whole catalog is a scan of dot products with no lookups.
#[derive(Debug)]
pub struct ProductVectors {
    dim: usize,
    rows: Vec<f32>,
    present: Vec<bool>,
    /// The stored vectors by product id, reused by the next snapshot for unchanged products.
    pub(super) by_id: Arc<EmbeddingMap>,
}

impl ProductVectors {
    pub(super) fn build(products: &[ProductRecord], by_id: Arc<EmbeddingMap>) -> Self {
        // Every product is embedded by the same model; if the model (and so the length) changed,
        // the length most vectors have wins and the others wait for re-embedding.
        let mut lengths: HashMap<usize, usize> = HashMap::new();
        for (_, v) in by_id.values() {
            *lengths.entry(v.len()).or_default() += 1;
        }
        let dim = lengths
            .into_iter()
            .max_by_key(|&(len, n)| (n, len))
            .map_or(0, |(len, _)| len);
        let mut rows = vec![0.0; products.len() * dim];
        let mut present = vec![false; products.len()];
        for (i, p) in products.iter().enumerate() {
            let unit = by_id
                .get(&p.id)
                .filter(|(_, v)| v.len() == dim)
                .and_then(|(_, v)| normalized(v));
            if let Some(unit) = unit {
                rows[i * dim..(i + 1) * dim].copy_from_slice(&unit);
                present[i] = true;
            }
        }
        Self {
            dim,
            rows,
            present,
            by_id,
        }
    }

    /// The unit vector of the product at `index` of the snapshot, if it has one.
    pub fn row(&self, index: usize) -> Option<&[f32]> {
        if !self.present.get(index).copied().unwrap_or(false) {
            return None;
        }
        self.rows.get(index * self.dim..(index + 1) * self.dim)
    }

    /// `query` made comparable with the rows (unit length), or `None` when its length is not the
    /// catalog's or it is the zero vector.
    pub fn unit_query(&self, query: &[f32]) -> Option<Vec<f32>> {
        (query.len() == self.dim)
            .then(|| normalized(query))
            .flatten()
    }

    /// Cosine similarity of a unit query vector with the product at `index` (`None` when that
    /// product has no vector).
    pub fn similarity(&self, unit_query: &[f32], index: usize) -> Option<f32> {
        self.row(index).map(|r| dot(unit_query, r).clamp(-1.0, 1.0))
    }

    /// The stored vectors by product id.
    pub fn by_id(&self) -> &EmbeddingMap {
        &self.by_id
    }

    /// How many products have a vector.
    pub fn len(&self) -> usize {
        self.present.iter().filter(|&&p| p).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
