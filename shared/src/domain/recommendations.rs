//! The recommendation lists' plumbing (issue 13, part 2): what the caller did (interaction
//! aggregates, cart), the models in force ([`ModelCache`]), the active `hybrid` weights (or an
//! experiment arm's), FBT rules, and the catalog snapshot for product data, stock and categories;
//! the rules themselves are the pure functions of [`crate::reco::serve`].
//!
//! **Request path budget.** Everything is answered from memory except: the catalog version
//! (one `GetItem`, [`SnapshotCache::get`]), the caller's interaction aggregates (one `Query` on
//! the caller's own key prefix) and cart lines (one `Query`), the FBT rules of at most
//! [`FBT_CONTEXT`] products (a `GetItem` each, concurrently), and, every
//! [`SETTINGS_REFRESH`], the active configs (a few `GetItem`s). Model pointers are re-read by
//! the model cache at most every 30 s per kind. No scan, no model call to a remote service.
//!
//! **Sources per list** (each a [`SourceList`], blended by [`serve::blend`]):
//! - `homepage` and `personalized`: every model of the hybrid weights: `als` and `ease`
//!   (`collaborative_filtering`; ALS folds the caller's current history in, EASE scores it
//!   directly), `item_knn` (`item_similarity`) and `content` (`vector_similarity`) on the
//!   caller's [`RECENT`] most recent items (so each candidate has a context product: "because you
//!   viewed X"), `fbt` on the cart, and `popularity`, `trending`, `new_arrivals` as boosts of
//!   what the others proposed (a caller with no signals gets the cold-start chain). The ranker
//!   re-scores when a `ranker` model is in force.
//! - `product_page` and `/product/{id}`: FBT rules of the product (0.4), item-kNN neighbours
//!   (0.35) and content neighbours (0.25) of it ([`PRODUCT_WEIGHTS`]).
//! - `cart` and `checkout`: FBT rules of the cart's products (0.5), item-kNN (0.3) and content
//!   (0.2) on the cart ([`CART_WEIGHTS`]); never an item in the cart.
//!
//! Then [`serve::allowed`] (exclusions; stock and activity from the snapshot, at most
//! [`SnapshotCache::max_age`] old), the cold-start chain ([`serve::fill_chain`]: the blend ->
//! popular in the preferred categories -> trending -> popular) and the per-category cap
//! ([`serve::cap_per_category`]) for the personal lists.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{
    AppState,
    domain::{
        cart::{self, CartOwner},
        catalog::{
            ProductRecord,
            snapshot::{CatalogSnapshot, SnapshotCache, SortBy, SortOrder, popularity},
        },
        fbt,
        interactions::{self, Actor, InteractionKind, KindWeights},
        ml_models::{ModelCache, ModelType, ServedModel, configs},
    },
    reco::{
        algorithm::Algorithm,
        explain::reasons,
        hybrid::HybridSpec,
        model::{ModelKind, top_k},
        serve::{self, Candidate, ItemFacts, SourceList},
    },
    store::StoreResult,
};

/// Recent history items item-kNN and content start from.
pub const RECENT: usize = 5;
/// Cart or subject products whose FBT rules are read.
pub const FBT_CONTEXT: usize = 3;
/// How often the active configs are re-read per instance.
pub const SETTINGS_REFRESH: Duration = Duration::from_secs(30);
/// Source weights of the product lists.
pub const PRODUCT_WEIGHTS: [(ModelKind, f32); 3] = [
    (ModelKind::Fbt, 0.4),
    (ModelKind::ItemKnn, 0.35),
    (ModelKind::Content, 0.25),
];
/// Source weights of the cart and checkout lists.
pub const CART_WEIGHTS: [(ModelKind, f32); 3] = [
    (ModelKind::Fbt, 0.5),
    (ModelKind::ItemKnn, 0.3),
    (ModelKind::Content, 0.2),
];
/// The window of the new-arrivals score.
const NEW_ARRIVALS_WINDOW_SECS: i64 = 30 * 86_400;

/// Which list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    Homepage,
    /// `recommendation_type=product_page` (the caller's exclusions apply).
    ProductPage(String),
    Cart,
    Checkout,
    /// `GET /recommendations/product/{id}`.
    Product(String),
    /// `GET /recommendations/recommendations/{user_id}`.
    Personalized,
}

impl ListKind {
    /// The `recommendation_type` recorded with the list.
    pub fn type_name(&self) -> &'static str {
        match self {
            ListKind::Homepage => "homepage",
            ListKind::ProductPage(_) => "product_page",
            ListKind::Cart => "cart",
            ListKind::Checkout => "checkout",
            ListKind::Product(_) => "product",
            ListKind::Personalized => "personalized",
        }
    }

    /// A blended list (counted under the `hybrid` family too).
    pub fn blended(&self) -> bool {
        matches!(self, ListKind::Homepage | ListKind::Personalized)
    }

    fn subject(&self) -> Option<&str> {
        match self {
            ListKind::ProductPage(p) | ListKind::Product(p) => Some(p),
            _ => None,
        }
    }
}

/// One item of a list, with what the response and the explanation need.
#[derive(Debug, Clone)]
pub struct ListItem {
    pub product: ProductRecord,
    pub category_name: String,
    /// In `[0, 1]`.
    pub score: f32,
    pub algorithm: Algorithm,
    pub reason: String,
    /// The name of the product the item is relative to.
    pub context_name: Option<String>,
    /// Popular list: the product's order count.
    pub order_count: u64,
}

/// The active configs as serving reads them.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub hybrid: HybridSpec,
    pub kind_weights: KindWeights,
}

type Cached<T> = Mutex<Option<(Instant, T)>>;

/// Per-instance serving state: the catalog snapshot and the configs in force.
#[derive(Default)]
pub struct Serving {
    pub snapshot: Arc<SnapshotCache>,
    settings: Cached<Settings>,
    arm_weights: Mutex<HashMap<String, (Instant, Option<HybridSpec>)>>,
    /// The best items of the caller-independent models (popularity, trending) per model
    /// version: every list reads them, and scoring all items each time was a tenth of a
    /// homepage request.
    tops: Mutex<HashMap<ModelKind, GlobalTop>>,
}

/// [`Serving::tops`]' entry: the model version and its best items, best first.
struct GlobalTop {
    version: String,
    items: Arc<Vec<(String, f32)>>,
}

/// How many items of a caller-independent model are kept (the largest pool a list asks for is
/// `50 * 4 + 40`).
const GLOBAL_TOP: usize = 256;

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Serving {
    /// The best `k` items of `m` for nobody in particular (positive scores only), from the
    /// per-version cache when `k` is within [`GLOBAL_TOP`].
    fn global_top(&self, m: &ServedModel, k: usize) -> Vec<(String, f32)> {
        if k > GLOBAL_TOP {
            return top_ids(m, &model_scores(m, &[]), k, true);
        }
        let cached = lock(&self.tops)
            .get(&m.kind)
            .filter(|t| t.version == m.version)
            .map(|t| t.items.clone());
        let items = cached.unwrap_or_else(|| {
            let items = Arc::new(top_ids(m, &model_scores(m, &[]), GLOBAL_TOP, true));
            lock(&self.tops).insert(
                m.kind,
                GlobalTop {
                    version: m.version.clone(),
                    items: items.clone(),
                },
            );
            items
        });
        items.iter().take(k).cloned().collect()
    }

    /// The active `hybrid` and `interactions` configs (defaults when none is stored; read-only:
    /// serving never writes the default configs).
    pub async fn settings(&self, app: &AppState) -> StoreResult<Settings> {
        if let Some((at, s)) = lock(&self.settings).as_ref()
            && at.elapsed() < SETTINGS_REFRESH
        {
            return Ok(s.clone());
        }
        let store = app.store.as_ref();
        let params_of = |t: ModelType| async move {
            let Some(id) = configs::active_id(store, t).await? else {
                return Ok::<_, crate::store::StoreError>(None);
            };
            Ok(configs::get(store, &id).await?.map(|c| c.parameters))
        };
        let (hybrid, kinds) = futures::try_join!(
            params_of(ModelType::Hybrid),
            params_of(ModelType::Interactions)
        )?;
        let settings = Settings {
            hybrid: hybrid
                .and_then(|p| HybridSpec::from_params(&p).ok())
                .unwrap_or_default(),
            kind_weights: kinds
                .map(|p| KindWeights::from_params(&p))
                .unwrap_or_default(),
        };
        *lock(&self.settings) = Some((Instant::now(), settings.clone()));
        Ok(settings)
    }

    /// The hybrid weights of an experiment arm's config, when it is a `hybrid` config (an arm
    /// naming another kind of config serves the active weights: models are trained per kind,
    /// not per arm).
    pub async fn arm_weights(
        &self,
        app: &AppState,
        config_id: &str,
    ) -> StoreResult<Option<HybridSpec>> {
        if let Some((at, spec)) = lock(&self.arm_weights).get(config_id)
            && at.elapsed() < SETTINGS_REFRESH
        {
            return Ok(spec.clone());
        }
        let spec = configs::get(app.store.as_ref(), config_id)
            .await?
            .filter(|c| c.model_type == ModelType::Hybrid.name())
            .and_then(|c| HybridSpec::from_params(&c.parameters).ok());
        lock(&self.arm_weights).insert(config_id.to_string(), (Instant::now(), spec.clone()));
        Ok(spec)
    }
}

/// What the caller did, as serving needs it.
#[derive(Debug, Default)]
struct Caller {
    /// `(product, weight)`, most recent first.
    history: Vec<(String, f32)>,
    bought: HashSet<String>,
    not_interested: HashSet<String>,
    cart: Vec<String>,
}

async fn caller(
    app: &AppState,
    actor: Option<&Actor>,
    weights: &KindWeights,
) -> StoreResult<Caller> {
    let Some(actor) = actor else {
        return Ok(Caller::default());
    };
    let store = app.store.as_ref();
    let owner = match actor {
        Actor::User(u) => CartOwner::User(u.clone()),
        Actor::Guest(g) => CartOwner::Guest(g.clone()),
    };
    let (mut aggregates, lines) = futures::try_join!(
        interactions::actor_aggregates(store, actor),
        cart::lines(store, &owner)
    )?;
    aggregates.sort_by(|a, b| {
        b.last_at
            .cmp(&a.last_at)
            .then(a.product_id.cmp(&b.product_id))
    });
    let mut c = Caller {
        cart: lines.into_iter().map(|l| l.product_id).collect(),
        ..Caller::default()
    };
    for a in &aggregates {
        if a.not_interested() {
            c.not_interested.insert(a.product_id.clone());
            continue;
        }
        if a.counts
            .iter()
            .any(|&(k, n)| k == InteractionKind::Purchase && n > 0)
        {
            c.bought.insert(a.product_id.clone());
        }
        let w = weights.weigh(&a.counts);
        if w > 0.0 {
            c.history.push((a.product_id.clone(), w));
        }
    }
    Ok(c)
}

/// The model's columns of the `history` products it knows, with their weights.
fn history_columns(m: &ServedModel, history: &[(String, f32)]) -> Vec<(u32, f32)> {
    history
        .iter()
        .filter_map(|(id, w)| Some((m.items.get(id)?, *w)))
        .collect()
}

/// A model's scores for `history` (product ids), history columns masked.
pub(crate) fn model_scores(m: &ServedModel, history: &[(String, f32)]) -> Vec<f32> {
    let cols = history_columns(m, history);
    let mut out = vec![0f32; m.model.n_items()];
    m.model.score(&cols, &mut out);
    for (c, _) in &cols {
        if let Some(s) = out.get_mut(*c as usize) {
            *s = f32::NEG_INFINITY;
        }
    }
    out
}

/// A model's scores of the products `ids` (`-inf` for one it does not know or in `history`):
/// [`model_scores`] for a few items, through [`Recommender::score_items`] (the ranker's trees
/// score only these).
///
/// [`Recommender::score_items`]: crate::reco::model::Recommender::score_items
fn model_scores_of(m: &ServedModel, history: &[(String, f32)], ids: &[&str]) -> Vec<f32> {
    let cols = history_columns(m, history);
    let columns: Vec<Option<u32>> = ids
        .iter()
        .map(|id| m.items.get(id).filter(|c| !cols.iter().any(|h| h.0 == *c)))
        .collect();
    let known: Vec<u32> = columns.iter().flatten().copied().collect();
    let mut scored = m.model.score_items(&cols, &known).into_iter();
    columns
        .iter()
        .map(|c| match c {
            Some(_) => scored.next().unwrap_or(f32::NEG_INFINITY),
            None => f32::NEG_INFINITY,
        })
        .collect()
}

/// The best `k` items of `scores` as product ids (positive scores only when `positive`).
pub(crate) fn top_ids(
    m: &ServedModel,
    scores: &[f32],
    k: usize,
    positive: bool,
) -> Vec<(String, f32)> {
    top_k(scores, k)
        .into_iter()
        .filter(|(_, s)| !positive || *s > 0.0)
        .filter_map(|(c, s)| Some((m.items.id(c)?.to_string(), s)))
        .collect()
}

/// Neighbours of each of `seeds` separately (item-kNN, content): per candidate the best score
/// one seed gives it and that seed (`Recommender::best_of_seeds`: one pass for the content
/// model), the seeds themselves left out.
pub(crate) fn neighbours_of(
    m: &ServedModel,
    seeds: &[String],
    k: usize,
) -> Vec<(String, f32, Option<String>)> {
    let known: Vec<(&String, u32)> = seeds
        .iter()
        .filter_map(|s| Some((s, m.items.get(s)?)))
        .collect();
    if known.is_empty() {
        return Vec::new();
    }
    let cols: Vec<u32> = known.iter().map(|(_, c)| *c).collect();
    let best = m.model.best_of_seeds(&cols);
    let mut scores: Vec<f32> = best.iter().map(|b| b.0).collect();
    for &c in &cols {
        if let Some(s) = scores.get_mut(c as usize) {
            *s = f32::NEG_INFINITY;
        }
    }
    top_k(&scores, k)
        .into_iter()
        .filter(|(_, s)| *s > 0.0)
        .filter_map(|(c, s)| {
            let id = m.items.id(c)?.to_string();
            let seed = best
                .get(c as usize)
                .and_then(|b| known.get(b.1 as usize))
                .map(|(s, _)| (*s).clone());
            Some((id, s, seed))
        })
        .collect()
}

fn algorithm_of(kind: ModelKind) -> Option<(Algorithm, &'static str)> {
    Some(match kind {
        ModelKind::Als | ModelKind::Ease => (
            Algorithm::CollaborativeFiltering,
            reasons::USERS_ALSO_BOUGHT,
        ),
        ModelKind::ItemKnn => (Algorithm::ItemSimilarity, reasons::BECAUSE_YOU_VIEWED),
        ModelKind::Content => (Algorithm::VectorSimilarity, reasons::SIMILAR_PRODUCT),
        ModelKind::Popularity => (Algorithm::Popular, reasons::POPULAR),
        ModelKind::Trending => (Algorithm::Trending, reasons::TRENDING),
        ModelKind::NewArrivals => (Algorithm::NewArrivals, reasons::NEW_ARRIVAL),
        ModelKind::Fbt => (Algorithm::Fbt, reasons::FREQUENTLY_BOUGHT_TOGETHER),
        ModelKind::Ranker | ModelKind::Hybrid | ModelKind::Kmeans => return None,
    })
}

/// The models a list of `kind` reads (those with an artifact), for loading them ahead.
fn models_of(kind: &ListKind, weights: &HybridSpec) -> Vec<ModelKind> {
    let mut kinds: Vec<ModelKind> = match kind {
        ListKind::Homepage | ListKind::Personalized => {
            let mut k: Vec<ModelKind> = weights.weights.iter().map(|w| w.0).collect();
            k.push(ModelKind::Ranker);
            k
        }
        _ => vec![ModelKind::ItemKnn, ModelKind::Content],
    };
    kinds.extend([ModelKind::Popularity, ModelKind::Trending]);
    kinds.retain(|k| {
        !matches!(
            k,
            ModelKind::Fbt | ModelKind::NewArrivals | ModelKind::Hybrid
        )
    });
    kinds.dedup();
    kinds
}

/// The serving context of one request.
pub struct Ctx<'a> {
    pub app: &'a AppState,
    pub models: &'a ModelCache,
    pub serving: &'a Serving,
}

impl Ctx<'_> {
    pub(crate) async fn model(&self, kind: ModelKind) -> Option<ServedModel> {
        self.models
            .get(self.app.store.as_ref(), self.app.blobs.as_ref(), kind)
            .await
    }

    pub async fn snapshot(&self) -> StoreResult<Arc<CatalogSnapshot>> {
        self.serving.snapshot.get(&self.app.store).await
    }

    /// FBT rules of `products` as one candidate list (context: the product of the rule).
    async fn fbt_candidates(
        &self,
        products: &[String],
        k: usize,
    ) -> Vec<(String, f32, Option<String>)> {
        let store = self.app.store.as_ref();
        let reads = products
            .iter()
            .take(FBT_CONTEXT)
            .map(|p| async move { (p.clone(), fbt::rules_for(store, p, k).await) });
        let mut best: HashMap<String, (f32, String)> = HashMap::new();
        for (p, rules) in futures::future::join_all(reads).await {
            let rules = match rules {
                Ok((rules, _)) => rules,
                Err(e) => {
                    tracing::warn!(error = %e, product_id = %p, "FBT rules not read; left out");
                    continue;
                }
            };
            for r in rules {
                let s = r.confidence as f32;
                let e = best
                    .entry(r.consequent)
                    .or_insert((f32::NEG_INFINITY, p.clone()));
                if s > e.0 {
                    *e = (s, p.clone());
                }
            }
        }
        best.into_iter()
            .map(|(id, (s, p))| (id, s, Some(p)))
            .collect()
    }

    /// Popular products, best first, with a score normalised by the best one: the `popularity`
    /// model when one is in force, else the snapshot's counters (orders x 10 + views).
    pub(crate) async fn popular(&self, snapshot: &CatalogSnapshot, k: usize) -> Vec<(String, f32)> {
        if let Some(m) = self.model(ModelKind::Popularity).await {
            let list = self.serving.global_top(&m, k);
            if !list.is_empty() {
                return normalised(list);
            }
        }
        let list = snapshot
            .sorted(SortBy::Popularity, SortOrder::Desc)
            .iter()
            .filter_map(|&i| snapshot.products.get(i as usize))
            .filter(|p| p.is_active && p.available())
            .take(k)
            .map(|p| (p.id.clone(), popularity(p) as f32))
            .collect();
        normalised(list)
    }

    /// Trending products (the `trending` model; empty when none is in force).
    pub(crate) async fn trending(&self, k: usize) -> Vec<(String, f32)> {
        match self.model(ModelKind::Trending).await {
            Some(m) => normalised(self.serving.global_top(&m, k)),
            None => Vec::new(),
        }
    }

    /// One list for `actor` (see the module docs). `weights`: an experiment arm's hybrid
    /// weights, else the active config's.
    pub async fn list(
        &self,
        kind: &ListKind,
        actor: Option<&Actor>,
        weights: Option<HybridSpec>,
        limit: usize,
    ) -> StoreResult<Vec<ListItem>> {
        let settings = self.serving.settings(self.app).await?;
        let weights = weights.unwrap_or(settings.hybrid);
        // A fresh instance: the catalog snapshot loads on another worker while this one loads
        // the list's models (each is most of a first request; on two cores they overlap).
        let snapshot_load = (!self.serving.snapshot.is_loaded()).then(|| {
            let cache = self.serving.snapshot.clone();
            let store = self.app.store.clone();
            tokio::spawn(async move { cache.get(&store).await })
        });
        if snapshot_load.is_some() {
            for model_kind in models_of(kind, &weights) {
                self.model(model_kind).await;
            }
        }
        let snapshot = async {
            match snapshot_load {
                Some(load) => load.await.map_err(|e| {
                    crate::store::StoreError::Backend(format!("catalog snapshot load: {e}"))
                })?,
                None => self.snapshot().await,
            }
        };
        let (snapshot, caller) =
            futures::try_join!(snapshot, caller(self.app, actor, &settings.kind_weights))?;
        let pool = limit * 4 + 40;
        let recent: Vec<String> = caller
            .history
            .iter()
            .take(RECENT)
            .map(|h| h.0.clone())
            .collect();
        let (spec, seeds): (Vec<(ModelKind, f32)>, Vec<String>) = match kind {
            ListKind::Homepage | ListKind::Personalized => (weights.weights.clone(), recent),
            ListKind::ProductPage(p) | ListKind::Product(p) => {
                (PRODUCT_WEIGHTS.to_vec(), vec![p.clone()])
            }
            ListKind::Cart | ListKind::Checkout => (CART_WEIGHTS.to_vec(), caller.cart.clone()),
        };
        let personal = kind.blended();
        let mut sources = Vec::new();
        for (model_kind, w) in spec {
            let Some((algorithm, reason)) = algorithm_of(model_kind) else {
                continue;
            };
            if !(w.is_finite() && w > 0.0) {
                continue;
            }
            let items: Vec<(String, f32, Option<String>)> = match model_kind {
                ModelKind::Als | ModelKind::Ease => {
                    if caller.history.is_empty() {
                        continue;
                    }
                    let Some(m) = self.model(model_kind).await else {
                        continue;
                    };
                    let scores = model_scores(&m, &caller.history);
                    top_ids(&m, &scores, pool, false)
                        .into_iter()
                        .map(|(id, s)| (id, s, None))
                        .collect()
                }
                ModelKind::ItemKnn | ModelKind::Content => {
                    let Some(m) = self.model(model_kind).await else {
                        continue;
                    };
                    neighbours_of(&m, &seeds, pool)
                }
                ModelKind::Popularity => self
                    .popular(&snapshot, pool)
                    .await
                    .into_iter()
                    .map(|(id, s)| (id, s, None))
                    .collect(),
                ModelKind::Trending => self
                    .trending(pool)
                    .await
                    .into_iter()
                    .map(|(id, s)| (id, s, None))
                    .collect(),
                ModelKind::NewArrivals => new_arrivals(&snapshot, pool)
                    .into_iter()
                    .map(|(id, s)| (id, s, None))
                    .collect(),
                ModelKind::Fbt => {
                    let ctx: &[String] = if personal { &caller.cart } else { &seeds };
                    self.fbt_candidates(ctx, pool).await
                }
                _ => continue,
            };
            let reason = match (model_kind, kind) {
                (ModelKind::ItemKnn, ListKind::ProductPage(_) | ListKind::Product(_)) => {
                    reasons::USERS_ALSO_VIEWED
                }
                (ModelKind::ItemKnn, ListKind::Cart | ListKind::Checkout) => "goes_with_your_cart",
                _ => reason,
            };
            sources.push(SourceList {
                algorithm,
                weight: w,
                reason,
                items,
                boost_only: personal
                    && matches!(
                        model_kind,
                        ModelKind::Popularity | ModelKind::Trending | ModelKind::NewArrivals
                    ),
            });
        }
        let seen: HashSet<&str> = caller.history.iter().map(|h| h.0.as_str()).collect();
        let cart: HashSet<&str> = caller.cart.iter().map(String::as_str).collect();
        let subject = kind.subject();
        let ok = |id: &String| {
            let Some(p) = snapshot.product(id) else {
                return false;
            };
            serve::allowed(ItemFacts {
                active: p.is_active,
                in_stock: p.available(),
                bought: caller.bought.contains(id),
                consumable: snapshot
                    .categories
                    .get(&p.category_id)
                    .is_some_and(|c| c.consumable),
                not_interested: caller.not_interested.contains(id),
                in_cart: cart.contains(id.as_str()),
                is_subject: subject == Some(id.as_str()),
                seen_in_personal_list: personal && seen.contains(id.as_str()),
            })
        };
        let mut blended: Vec<Candidate<String>> = serve::blend(&sources)
            .into_iter()
            .filter(|c| ok(&c.item))
            .collect();
        if personal
            && !caller.history.is_empty()
            && !blended.is_empty()
            && let Some(ranker) = self.model(ModelKind::Ranker).await
        {
            let ids: Vec<&str> = blended.iter().map(|c| c.item.as_str()).collect();
            let votes = model_scores_of(&ranker, &caller.history, &ids);
            serve::rescore_with_ranker(&mut blended, &votes);
        }
        // The cold-start chain.
        let category_of = |id: &String| snapshot.product(id).map(|p| p.category_id.clone());
        let mut weighed: Vec<(String, f32)> = caller.history.clone();
        weighed.extend(caller.cart.iter().map(|c| (c.clone(), 1.0)));
        if let Some(s) = subject {
            weighed.push((s.to_string(), 1.0));
        }
        let preferred = serve::preferred_categories(&weighed, category_of, 3);
        let popular = self.popular(&snapshot, pool.max(200)).await;
        let in_preferred: Vec<(String, f32)> = if preferred.is_empty() {
            Vec::new()
        } else {
            let mut by_cat: Vec<(String, f32)> = snapshot
                .sorted(SortBy::Popularity, SortOrder::Desc)
                .iter()
                .filter_map(|&i| snapshot.products.get(i as usize))
                .filter(|p| preferred.contains(&p.category_id))
                .filter(|p| ok(&p.id))
                .take(pool)
                .map(|p| (p.id.clone(), popularity(p) as f32))
                .collect();
            by_cat = normalised(by_cat);
            by_cat
        };
        let keep = |list: Vec<(String, f32)>| -> Vec<(String, f32)> {
            list.into_iter().filter(|(id, _)| ok(id)).collect()
        };
        let want = if personal { pool } else { limit };
        let chained = serve::fill_chain(
            blended,
            &[
                (
                    Algorithm::Popular,
                    "popular_in_your_categories",
                    in_preferred,
                ),
                (
                    Algorithm::Trending,
                    reasons::TRENDING,
                    keep(self.trending(pool).await),
                ),
                (Algorithm::Popular, reasons::POPULAR, keep(popular)),
            ],
            want,
        );
        let chosen = if personal {
            serve::cap_per_category(chained, category_of, serve::category_cap(limit), limit)
        } else {
            chained.into_iter().take(limit).collect()
        };
        Ok(chosen
            .into_iter()
            .filter_map(|c| {
                let p = snapshot.product(&c.item)?;
                Some(ListItem {
                    category_name: snapshot
                        .category_name(&p.category_id)
                        .unwrap_or("")
                        .to_string(),
                    score: c.score,
                    algorithm: c.algorithm,
                    reason: c.reason.to_string(),
                    context_name: c
                        .context
                        .as_deref()
                        .and_then(|id| snapshot.product(id))
                        .map(|p| p.name.clone()),
                    order_count: p.order_count,
                    product: p.clone(),
                })
            })
            .collect())
    }

    /// A non-personal list: `popular`, `trending` (popular when no trending model is in force)
    /// or `new_arrivals`; active, in-stock products only.
    pub async fn global(&self, algorithm: Algorithm, limit: usize) -> StoreResult<Vec<ListItem>> {
        let snapshot = self.snapshot().await?;
        let k = limit * 3 + 20;
        let (list, algorithm, reason) = match algorithm {
            Algorithm::Trending => {
                let t = self.trending(k).await;
                if t.is_empty() {
                    (
                        self.popular(&snapshot, k).await,
                        Algorithm::Popular,
                        reasons::POPULAR,
                    )
                } else {
                    (t, Algorithm::Trending, reasons::TRENDING)
                }
            }
            Algorithm::NewArrivals => (new_arrivals(&snapshot, k), algorithm, reasons::NEW_ARRIVAL),
            _ => (
                self.popular(&snapshot, k).await,
                Algorithm::Popular,
                reasons::POPULAR,
            ),
        };
        Ok(list
            .into_iter()
            .filter_map(|(id, score)| {
                let p = snapshot
                    .product(&id)
                    .filter(|p| p.is_active && p.available())?;
                Some(ListItem {
                    category_name: snapshot
                        .category_name(&p.category_id)
                        .unwrap_or("")
                        .to_string(),
                    score: score.clamp(0.0, 1.0),
                    algorithm,
                    reason: reason.to_string(),
                    context_name: None,
                    order_count: p.order_count,
                    product: p.clone(),
                })
            })
            .take(limit)
            .collect())
    }
}

/// Scores divided by the best one (all in `[0, 1]`), order kept.
pub(crate) fn normalised(list: Vec<(String, f32)>) -> Vec<(String, f32)> {
    let max = list
        .iter()
        .map(|x| x.1)
        .filter(|s| s.is_finite())
        .fold(0.0f32, f32::max);
    list.into_iter()
        .map(|(id, s)| {
            let n = if max > 0.0 && s.is_finite() {
                (s / max).clamp(0.0, 1.0)
            } else {
                0.0
            };
            (id, n)
        })
        .collect()
}

/// The newest active, in-stock products with their new-arrival score.
fn new_arrivals(snapshot: &CatalogSnapshot, k: usize) -> Vec<(String, f32)> {
    let now = chrono::Utc::now().timestamp();
    snapshot
        .sorted(SortBy::CreatedAt, SortOrder::Desc)
        .iter()
        .filter_map(|&i| snapshot.products.get(i as usize))
        .filter(|p| p.is_active && p.available())
        .take(k)
        .map(|p| {
            let created = chrono::DateTime::parse_from_rfc3339(&p.created_at)
                .map(|t| t.timestamp())
                .unwrap_or(0);
            (
                p.id.clone(),
                serve::new_arrival_score(now - created, NEW_ARRIVALS_WINDOW_SECS),
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap()
    }

    #[tokio::test]
    async fn settings_read_the_active_configs_and_arms_only_hybrid_ones() {
        let dir = tempfile::tempdir().unwrap();
        let app = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        let store = app.store.as_ref();
        // Nothing stored: the defaults, and nothing written.
        let serving = Serving::default();
        let s = serving.settings(&app).await.unwrap();
        assert_eq!(s.hybrid, HybridSpec::default());
        assert_eq!(s.kind_weights, KindWeights::default());
        assert!(configs::list(store).await.unwrap().is_empty());
        // An active hybrid config and interaction weights (a fresh instance reads them).
        configs::ensure_defaults(store).await.unwrap();
        let h = configs::create(
            store,
            "pop_only",
            ModelType::Hybrid,
            None,
            params(json!({"weights": {"popularity": 1.0}})),
        )
        .await
        .unwrap();
        configs::activate(store, &h.id).await.unwrap();
        let i = configs::create(
            store,
            "views_count_more",
            ModelType::Interactions,
            None,
            params(json!({"view": 4.0})),
        )
        .await
        .unwrap();
        configs::activate(store, &i.id).await.unwrap();
        let s = Serving::default().settings(&app).await.unwrap();
        assert_eq!(s.hybrid.weights, vec![(ModelKind::Popularity, 1.0)]);
        assert_eq!(s.kind_weights.view, 4.0);
        // The first instance keeps its copy for SETTINGS_REFRESH.
        assert_eq!(
            serving.settings(&app).await.unwrap().hybrid,
            HybridSpec::default()
        );
        // Arms: a hybrid config's weights; another kind of config, or none: the active ones.
        let arm = configs::create(
            store,
            "arm_b",
            ModelType::Hybrid,
            None,
            params(json!({"weights": {"als": 1.0, "trending": 0.5}})),
        )
        .await
        .unwrap();
        let mut w = serving
            .arm_weights(&app, &arm.id)
            .await
            .unwrap()
            .unwrap()
            .weights;
        w.sort_by_key(|x| x.0);
        assert_eq!(w, vec![(ModelKind::Als, 1.0), (ModelKind::Trending, 0.5)]);
        assert_eq!(serving.arm_weights(&app, &i.id).await.unwrap(), None);
        assert_eq!(serving.arm_weights(&app, "nope").await.unwrap(), None);
    }
}
