//! Natural-language explanations of recommendations (issue 13, part 3).
//!
//! [`Explainer::explain`] gives one sentence per served item and never fails or waits on a
//! model:
//! 1. every item starts with its template sentence ([`crate::reco::explain::template`]);
//! 2. the cached model-written sentences of the whole response are read in one batch get
//!    ([`cache`]; key: prompt version, algorithm, reason, product, context category, see
//!    [`crate::reco::explain::cache_id`]), bounded by [`READ_TIMEOUT`]; a hit replaces the
//!    template (the `{context}` placeholder filled with the request's context);
//! 3. the misses (each cache id once per response, at most [`MAX_QUEUED_PER_RESPONSE`], none this
//!    instance queued in the last [`REQUEUE_AFTER`]) go to the [`queue::FillQueue`]: an
//!    asynchronous invocation of the jobs function (`explain-fill`) in the cloud, a tokio task
//!    locally. The fill ([`fill::fill`]) calls the text model in batches and writes the cache
//!    for the next request.
//!
//! A store error or a slow read serves the templates. `EXPLANATIONS=template`
//! ([`crate::config::Config::explanations_from_model`]) serves the templates only: no read, no
//! queue. `reco-train` pre-generates the most-served items' sentences ([`fill::pregenerate`]).

pub mod cache;
pub mod fill;
pub mod queue;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::AppState;
use crate::ai::TextGenerator;
pub use crate::reco::explain::ExplainRequest;
use crate::reco::explain::{render, template};
use crate::store::ItemStore;
use queue::FillQueue;

/// Budget of the cache read on the request path; slower, the templates are served.
pub const READ_TIMEOUT: Duration = Duration::from_millis(150);
/// Most requests one response queues for a fill.
pub const MAX_QUEUED_PER_RESPONSE: usize = 50;
/// An instance does not queue the same cache id again within this time (the fill is on its way,
/// or failed and is not retried at once).
pub const REQUEUE_AFTER: Duration = Duration::from_secs(600);
/// Most cache ids remembered as recently queued.
const RECENT_CAPACITY: usize = 10_000;

/// The cache ids this instance queued recently (bounded).
#[derive(Default)]
struct Recent {
    queued: HashMap<String, Instant>,
}

impl Recent {
    /// True (and remembered) when `id` was not queued within [`REQUEUE_AFTER`].
    fn claim(&mut self, id: &str, now: Instant) -> bool {
        if let Some(at) = self.queued.get(id)
            && now.duration_since(*at) < REQUEUE_AFTER
        {
            return false;
        }
        if self.queued.len() >= RECENT_CAPACITY {
            self.queued
                .retain(|_, at| now.duration_since(*at) < REQUEUE_AFTER);
            if self.queued.len() >= RECENT_CAPACITY {
                self.queued.clear();
            }
        }
        self.queued.insert(id.to_string(), now);
        true
    }
}

/// Explains served items; one per function instance (a field of the function's state).
pub struct Explainer {
    store: Arc<dyn ItemStore>,
    from_model: bool,
    queue: Arc<dyn FillQueue>,
    recent: Mutex<Recent>,
}

impl std::fmt::Debug for Explainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Explainer")
            .field("from_model", &self.from_model)
            .field("queue", &self.queue.name())
            .finish_non_exhaustive()
    }
}

impl Explainer {
    /// The explainer of this process: the state's store and text model, the queue of
    /// [`queue::from_env`], the `EXPLANATIONS` switch of the config.
    pub fn new(app: &AppState) -> Arc<Self> {
        Self::with_queue(
            Arc::clone(&app.store),
            app.config.explanations_from_model,
            queue::from_env(Arc::clone(&app.store), Arc::clone(&app.text)),
        )
    }

    /// With a given queue (tests, or a local queue over another text generator).
    pub fn with_queue(
        store: Arc<dyn ItemStore>,
        from_model: bool,
        queue: Arc<dyn FillQueue>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            from_model,
            queue,
            recent: Mutex::new(Recent::default()),
        })
    }

    /// With a local queue over `text` (tests).
    pub fn local(store: Arc<dyn ItemStore>, text: Arc<dyn TextGenerator>) -> Arc<Self> {
        let queue = Arc::new(queue::LocalFillQueue::new(Arc::clone(&store), text));
        Self::with_queue(store, true, queue)
    }

    /// One sentence per request, in order. Never fails and never waits on a model.
    pub async fn explain(&self, requests: &[ExplainRequest]) -> Vec<String> {
        let mut out: Vec<String> = requests.iter().map(template).collect();
        if !self.from_model || requests.is_empty() {
            return out;
        }
        let ids = cache::ids_of(requests);
        let cached = match tokio::time::timeout(
            READ_TIMEOUT,
            cache::read(self.store.as_ref(), &ids),
        )
        .await
        {
            Ok(Ok(cached)) => cached,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "explanation cache not read; templates served");
                return out;
            }
            Err(_) => {
                tracing::warn!(timeout = ?READ_TIMEOUT, "explanation cache read too slow; templates served");
                return out;
            }
        };
        let mut missing = Vec::new();
        let mut in_response = HashSet::new();
        for ((slot, req), id) in out.iter_mut().zip(requests).zip(&ids) {
            match cached.get(id) {
                Some(stored) => {
                    if let Some(sentence) = render(stored, req) {
                        *slot = sentence;
                    }
                }
                None => {
                    if in_response.insert(id.as_str()) {
                        missing.push((id, req));
                    }
                }
            }
        }
        let to_queue: Vec<ExplainRequest> = {
            let now = Instant::now();
            let mut recent = self
                .recent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            missing
                .into_iter()
                .filter(|(id, _)| recent.claim(id, now))
                .take(MAX_QUEUED_PER_RESPONSE)
                .map(|(_, req)| req.clone())
                .collect()
        };
        if !to_queue.is_empty() {
            self.queue.enqueue(to_queue).await;
        }
        out
    }
}

#[cfg(test)]
mod tests;
