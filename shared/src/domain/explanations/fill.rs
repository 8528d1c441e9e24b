//! Filling the explanation cache: [`fill`] asks the text model for the sentences of a list of
//! requests, [`BATCH_SIZE`] per prompt, and writes them; [`pregenerate`] fills the cache for the
//! most-served items at the end of `reco-train`.
//!
//! [`fill`] runs off the request path only: in the jobs function (`explain-fill`, queued by an
//! asynchronous invocation) or in the local server's background task. It never fails: a model
//! call that errors or takes longer than [`FillLimits::model_timeout`] writes nothing for its
//! batch (those requests get the template until a later request queues them again); after a
//! throttle the remaining batches are not sent. With the local AI backend the "generated"
//! sentences are the templates (deterministic, no model).

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

use super::cache::{self, Entry, Source};
use crate::ai::{AiError, TextGenerator, TextRequest};
use crate::blobs::BlobStore;
use crate::domain::{catalog, fbt, ml_models::ModelCache};
use crate::reco::algorithm::Algorithm;
use crate::reco::explain::{
    BATCH_SIZE, ExplainRequest, build_prompt, cache_id, parse_answer, reasons, template_pattern,
};
use crate::reco::model::ModelKind;
use crate::store::ItemStore;

/// Bounds of one fill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillLimits {
    /// Most distinct requests handled (the rest are dropped and counted).
    pub max_requests: usize,
    /// Budget of one model call.
    pub model_timeout: Duration,
}

impl Default for FillLimits {
    fn default() -> Self {
        Self {
            max_requests: 500,
            model_timeout: Duration::from_secs(30),
        }
    }
}

/// What a fill did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FillReport {
    /// Requests received.
    pub requested: usize,
    /// Distinct cache ids among them.
    pub distinct: usize,
    /// Over [`FillLimits::max_requests`]: not handled.
    pub dropped: usize,
    /// Already in the cache: not generated again.
    pub already_cached: usize,
    /// Model calls made.
    pub model_calls: usize,
    /// Sentences written by the model.
    pub generated: usize,
    /// Model lines that were unusable: the template is stored for a day.
    pub fallback: usize,
    /// Template sentences stored by the local backend.
    pub local: usize,
    /// Requests whose model call failed or timed out (nothing stored).
    pub failed: usize,
    /// Cache entries written.
    pub written: usize,
}

/// Generates and stores the sentences of `requests` that are not cached yet (see the module
/// docs).
pub async fn fill(
    store: &dyn ItemStore,
    text: &dyn TextGenerator,
    requests: &[ExplainRequest],
    limits: FillLimits,
) -> FillReport {
    let mut report = FillReport {
        requested: requests.len(),
        ..FillReport::default()
    };
    let mut seen = HashSet::new();
    let mut todo: Vec<(String, &ExplainRequest)> = Vec::new();
    for req in requests {
        let id = cache_id(req);
        if seen.insert(id.clone()) {
            todo.push((id, req));
        }
    }
    report.distinct = todo.len();
    if todo.len() > limits.max_requests {
        report.dropped = todo.len() - limits.max_requests;
        todo.truncate(limits.max_requests);
    }
    let ids: Vec<String> = todo.iter().map(|(id, _)| id.clone()).collect();
    match cache::read(store, &ids).await {
        Ok(cached) => {
            todo.retain(|(id, _)| !cached.contains_key(id));
            report.already_cached = ids.len() - todo.len();
        }
        Err(e) => tracing::warn!(error = %e, "explanation cache not read before the fill"),
    }
    let provenance = text.provenance();
    let mut entries = Vec::with_capacity(todo.len());
    if provenance.backend == "local" {
        for (id, req) in &todo {
            entries.push(Entry {
                id: id.clone(),
                text: template_pattern(req),
                source: Source::Local,
                model_id: provenance.model_id.clone(),
            });
        }
        report.local = entries.len();
    } else {
        let mut throttled = false;
        for chunk in todo.chunks(BATCH_SIZE) {
            if throttled {
                report.failed += chunk.len();
                continue;
            }
            let reqs: Vec<&ExplainRequest> = chunk.iter().map(|(_, r)| *r).collect();
            let prompt = build_prompt(&reqs);
            let request = TextRequest {
                system: Some(prompt.system),
                prompt: prompt.user,
                max_tokens: prompt.max_tokens,
                temperature: 0.3,
            };
            report.model_calls += 1;
            let answer = match tokio::time::timeout(limits.model_timeout, text.generate(request))
                .await
            {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, items = chunk.len(), "explanation batch not generated");
                    throttled = matches!(e, AiError::Throttled);
                    report.failed += chunk.len();
                    continue;
                }
                Err(_) => {
                    tracing::warn!(items = chunk.len(), timeout = ?limits.model_timeout, "explanation batch timed out");
                    report.failed += chunk.len();
                    continue;
                }
            };
            let lines = parse_answer(&answer.text, &reqs);
            for ((id, req), line) in chunk.iter().zip(lines) {
                let (text, source) = match line {
                    Some(sentence) => {
                        report.generated += 1;
                        (sentence, Source::Model)
                    }
                    None => {
                        report.fallback += 1;
                        (template_pattern(req), Source::Template)
                    }
                };
                entries.push(Entry {
                    id: id.clone(),
                    text,
                    source,
                    model_id: answer.provenance.model_id.clone(),
                });
            }
        }
    }
    report.written = cache::write(store, &entries).await;
    report
}

/// Bounds of the pre-generation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PregenerateLimits {
    /// Top items taken from each of the popularity, trending and new-arrivals models.
    pub top: usize,
    /// Most popular products whose FBT partners are explained too.
    pub fbt_anchors: usize,
    /// FBT partners per anchor.
    pub fbt_per_anchor: usize,
    /// Budget of the whole pre-generation (reading and filling).
    pub total_timeout: Duration,
}

impl Default for PregenerateLimits {
    fn default() -> Self {
        Self {
            top: 50,
            fbt_anchors: 10,
            fbt_per_anchor: 5,
            total_timeout: Duration::from_secs(180),
        }
    }
}

/// What the pre-generation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PregenerateReport {
    /// Requests built from the models' top items and FBT rules.
    pub requests: usize,
    pub fill: FillReport,
    /// Why it stopped early (a read failed, the budget ran out), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The requests of the most-served items: the top `top` products of the `popularity`,
/// `trending` and `new_arrivals` models in force (with the reasons [`reasons::POPULAR`],
/// [`reasons::TRENDING`], [`reasons::NEW_ARRIVAL`]) and the FBT partners of the most popular
/// products ([`reasons::FREQUENTLY_BOUGHT_TOGETHER`], the anchor as context).
pub async fn most_served(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    limits: PregenerateLimits,
) -> Result<Vec<ExplainRequest>, crate::store::StoreError> {
    let models = ModelCache::default();
    let sources = [
        (ModelKind::Popularity, Algorithm::Popular, reasons::POPULAR),
        (ModelKind::Trending, Algorithm::Trending, reasons::TRENDING),
        (
            ModelKind::NewArrivals,
            Algorithm::NewArrivals,
            reasons::NEW_ARRIVAL,
        ),
    ];
    let mut picks: Vec<(String, Algorithm, &str)> = Vec::new();
    let mut popular: Vec<String> = Vec::new();
    for (kind, algorithm, reason) in sources {
        let Some(served) = models.get(store, blobs, kind).await else {
            continue;
        };
        for (index, _) in served.model.recommend(&[], limits.top, &[]) {
            if let Some(id) = served.items.id(index) {
                picks.push((id.to_string(), algorithm, reason));
                if kind == ModelKind::Popularity {
                    popular.push(id.to_string());
                }
            }
        }
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for anchor in popular.iter().take(limits.fbt_anchors) {
        let (rules, _) = fbt::rules_for(store, anchor, limits.fbt_per_anchor).await?;
        pairs.extend(rules.into_iter().map(|r| (anchor.clone(), r.consequent)));
    }
    let mut ids: Vec<String> = picks.iter().map(|(id, _, _)| id.clone()).collect();
    for (anchor, partner) in &pairs {
        ids.push(anchor.clone());
        ids.push(partner.clone());
    }
    let mut unique = HashSet::new();
    ids.retain(|id| unique.insert(id.clone()));
    let mut products = std::collections::HashMap::new();
    for chunk in ids.chunks(50) {
        for p in catalog::get_products(store, chunk).await? {
            products.insert(p.id.clone(), p);
        }
    }
    let categories: std::collections::HashMap<String, String> = catalog::list_categories(store)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let request = |id: &str, algorithm, reason: &str, context: Option<String>| {
        let p = products.get(id).filter(|p| p.is_active)?;
        Some(ExplainRequest {
            algorithm,
            reason: reason.to_string(),
            product_id: p.id.clone(),
            product_name: p.name.clone(),
            category: categories.get(&p.category_id).cloned(),
            context,
        })
    };
    let mut out: Vec<ExplainRequest> = picks
        .iter()
        .filter_map(|(id, algorithm, reason)| request(id, *algorithm, reason, None))
        .collect();
    for (anchor, partner) in &pairs {
        let anchor_name = products.get(anchor).map(|p| p.name.clone());
        if let Some(r) = request(
            partner,
            Algorithm::Fbt,
            reasons::FREQUENTLY_BOUGHT_TOGETHER,
            anchor_name,
        ) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Pre-generates the explanations of the most-served items ([`most_served`]) within
/// `limits.total_timeout`. Never fails: what went wrong is in the report (and logged), so a
/// training run never fails because of it.
pub async fn pregenerate(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    text: &dyn TextGenerator,
    limits: PregenerateLimits,
) -> PregenerateReport {
    let work = async {
        let requests = most_served(store, blobs, limits)
            .await
            .map_err(|e| format!("reading the most-served items: {e}"))?;
        let fill = fill(store, text, &requests, FillLimits::default()).await;
        Ok::<_, String>(PregenerateReport {
            requests: requests.len(),
            fill,
            error: None,
        })
    };
    let report = match tokio::time::timeout(limits.total_timeout, work).await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => PregenerateReport {
            error: Some(e),
            ..PregenerateReport::default()
        },
        Err(_) => PregenerateReport {
            error: Some(format!(
                "stopped after {:?} (entries written so far are kept)",
                limits.total_timeout
            )),
            ..PregenerateReport::default()
        },
    };
    match &report.error {
        Some(e) => tracing::warn!(error = %e, "explanations not pre-generated"),
        None => tracing::info!(
            requests = report.requests,
            written = report.fill.written,
            failed = report.fill.failed,
            "explanations pre-generated"
        ),
    }
    report
}
