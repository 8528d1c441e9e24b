//! `hybrid`: a weighted blend of the normalised scores of several models.
//!
//! `score(i) = Σ_s w_s · norm_s(score_s(i))` over the sources `s` with weight `w_s > 0`
//! (parameter `weights`: an object model name -> weight >= 0, default
//! `{"als":0.4,"item_knn":0.2,"ease":0.2,"content":0.1,"popularity":0.1}`).
//!
//! **Normalisation: min-max per source and per request**, `norm(x) = (x - min) / (max - min)`
//! over the source's finite scores for this history (`[0, 1]`; a source whose scores are all
//! equal, or not finite, adds nothing). Why min-max rather than ranks: it is O(items) where ranks
//! need a sort of every source's scores on every request (20,000 items x 5 sources), and it keeps
//! each source's own margins (an item far ahead in ALS stays far ahead instead of one rank
//! ahead). Its weakness, outliers squeezing the rest towards 0, matters most for the heavy-tailed
//! popularity counts, which carry a small weight in the default blend.
//!
//! **As a trained model** the hybrid stores only its [`HybridSpec`] (weights per source kind):
//! the sources are models of their own with their own artifacts. The training job trains the
//! source models first, then builds the hybrid from them with [`HybridModel::new`] (or
//! [`HybridModel::from_spec`], which looks each kind up) to evaluate it, and writes
//! [`HybridSpec`] as the hybrid's artifact; serving loads the spec ([`load_spec`]) and the
//! sources' current versions and assembles them the same way. [`fit_from_params`] (what
//! [`super::registry::fit`] calls, e.g. for `local eval`) trains each source with its default
//! parameters through the registry itself; sources not available in this build or without
//! enough data (e.g. `content` without embeddings) are left out and listed in
//! [`HybridModel::skipped`]. A model loaded from its artifact alone has no sources and scores
//! every item 0.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::artifact::{self, ArtifactError};
use super::model::{ModelKind, Recommender};
use super::registry::{self, FitError, TrainInput, TrainedModel};

/// The weights of the hybrid per source kind: its whole artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HybridSpec {
    pub weights: Vec<(ModelKind, f32)>,
}

impl Default for HybridSpec {
    fn default() -> Self {
        Self {
            weights: vec![
                (ModelKind::Als, 0.4),
                (ModelKind::ItemKnn, 0.2),
                (ModelKind::Ease, 0.2),
                (ModelKind::Content, 0.1),
                (ModelKind::Popularity, 0.1),
            ],
        }
    }
}

impl HybridSpec {
    /// Reads `weights` (object: model name -> number >= 0; default [`HybridSpec::default`]).
    /// The hybrid itself cannot be one of its sources.
    pub fn from_params(params: &Map<String, Value>) -> Result<Self, FitError> {
        let Some(value) = params.get("weights").filter(|v| !v.is_null()) else {
            return Ok(Self::default());
        };
        let Some(obj) = value.as_object() else {
            return Err(FitError::Param {
                field: "weights".into(),
                message: "must be an object of model name -> weight".into(),
            });
        };
        let mut weights = Vec::with_capacity(obj.len());
        for (name, w) in obj {
            let field = format!("weights.{name}");
            let kind: ModelKind = name.parse().map_err(|_| FitError::Param {
                field: field.clone(),
                message: format!("unknown model `{name}`"),
            })?;
            if kind == ModelKind::Hybrid {
                return Err(FitError::Param {
                    field,
                    message: "the hybrid cannot blend itself".into(),
                });
            }
            let w = w
                .as_f64()
                .filter(|w| w.is_finite() && *w >= 0.0)
                .ok_or_else(|| FitError::Param {
                    field,
                    message: "must be a number >= 0".into(),
                })?;
            weights.push((kind, w as f32));
        }
        Ok(Self { weights })
    }
}

/// The blend of its sources (see the module docs).
pub struct HybridModel {
    spec: HybridSpec,
    sources: Vec<(f32, Box<dyn Recommender>)>,
    skipped: Vec<ModelKind>,
}

impl HybridModel {
    /// The blend of `sources` with their weights; its spec lists their kinds.
    pub fn new(sources: Vec<(f32, Box<dyn Recommender>)>) -> Self {
        let spec = HybridSpec {
            weights: sources.iter().map(|(w, s)| (s.kind(), *w)).collect(),
        };
        Self {
            spec,
            sources,
            skipped: Vec::new(),
        }
    }

    /// The blend `spec` describes, taking each source from `source` (kinds it has no model for
    /// are listed in [`HybridModel::skipped`]; zero weights are skipped without a lookup).
    pub fn from_spec(
        spec: HybridSpec,
        mut source: impl FnMut(ModelKind) -> Option<Box<dyn Recommender>>,
    ) -> Self {
        let mut sources = Vec::new();
        let mut skipped = Vec::new();
        for &(kind, w) in &spec.weights {
            if w <= 0.0 {
                continue;
            }
            match source(kind) {
                Some(model) => sources.push((w, model)),
                None => skipped.push(kind),
            }
        }
        Self {
            spec,
            sources,
            skipped,
        }
    }

    /// Trains every source with a positive weight through [`registry::fit`] with its default
    /// parameters (see the module docs). Fails when no source could be trained.
    pub fn fit_from_params(
        params: &Map<String, Value>,
        input: &TrainInput<'_>,
    ) -> Result<Self, FitError> {
        let spec = HybridSpec::from_params(params)?;
        let mut failure: Option<FitError> = None;
        let defaults = Map::new();
        let model = Self::from_spec(spec, |kind| match registry::fit(kind, &defaults, input) {
            Ok(m) => Some(Box::new(TrainedAsRecommender(m)) as Box<dyn Recommender>),
            Err(e @ (FitError::NotAvailable(_) | FitError::NotEnoughData(_))) => {
                failure.get_or_insert(e);
                None
            }
            Err(e) => {
                failure = Some(e);
                None
            }
        });
        if let Some(e @ (FitError::Param { .. } | FitError::Failed(_))) = failure {
            return Err(e);
        }
        if model.sources.is_empty() {
            return Err(FitError::NotEnoughData(format!(
                "no source of the hybrid could be trained ({})",
                failure.map(|e| e.to_string()).unwrap_or_default()
            )));
        }
        Ok(model)
    }

    pub fn spec(&self) -> &HybridSpec {
        &self.spec
    }

    /// The source kinds of the spec that have no model here.
    pub fn skipped(&self) -> &[ModelKind] {
        &self.skipped
    }

    /// Loads the spec of an artifact written by [`TrainedModel::to_artifact`], with no sources
    /// (it scores 0 until rebuilt with [`HybridModel::from_spec`]).
    pub fn load(bytes: &[u8]) -> Result<Self, ArtifactError> {
        let spec = load_spec(bytes)?;
        Ok(Self::from_spec(spec, |_| None))
    }
}

/// The spec stored in a hybrid artifact.
pub fn load_spec(bytes: &[u8]) -> Result<HybridSpec, ArtifactError> {
    artifact::decode(ModelKind::Hybrid, bytes)
}

/// A trained model used as a plain source.
struct TrainedAsRecommender(Box<dyn TrainedModel>);

impl Recommender for TrainedAsRecommender {
    fn kind(&self) -> ModelKind {
        self.0.kind()
    }
    fn n_items(&self) -> usize {
        self.0.n_items()
    }
    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        self.0.score(history, out);
    }
}

/// Adds `w · (x - min) / (max - min)` of the finite `scores` into `out`.
pub(crate) fn add_min_max(out: &mut [f32], scores: &[f32], w: f32) {
    let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
    for &s in scores.iter().filter(|s| s.is_finite()) {
        min = min.min(s);
        max = max.max(s);
    }
    let range = max - min;
    if !(range.is_finite() && range > 0.0) {
        return;
    }
    let scale = w / range;
    for (o, &s) in out.iter_mut().zip(scores) {
        if s.is_finite() {
            *o += (s - min) * scale;
        }
    }
}

impl Recommender for HybridModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Hybrid
    }

    /// The largest item count among the sources (items past a source's end get 0 from it).
    fn n_items(&self) -> usize {
        self.sources
            .iter()
            .map(|(_, s)| s.n_items())
            .max()
            .unwrap_or(0)
    }

    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        out.fill(0.0);
        let mut buf = Vec::new();
        for (w, source) in &self.sources {
            if !(w.is_finite() && *w > 0.0) {
                continue;
            }
            buf.clear();
            buf.resize(source.n_items(), 0.0);
            source.score(history, &mut buf);
            add_min_max(out, &buf, *w);
        }
    }
}

impl TrainedModel for HybridModel {
    /// Only the spec: the sources have artifacts of their own.
    fn to_artifact(&self) -> Result<Vec<u8>, ArtifactError> {
        artifact::encode(ModelKind::Hybrid, &self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed(ModelKind, Vec<f32>);

    impl Recommender for Fixed {
        fn kind(&self) -> ModelKind {
            self.0
        }
        fn n_items(&self) -> usize {
            self.1.len()
        }
        fn score(&self, _history: &[(u32, f32)], out: &mut [f32]) {
            out.copy_from_slice(&self.1);
        }
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
    }

    #[test]
    fn blends_min_max_normalised_scores_by_weight() {
        // Source A: 10, 20, 30 -> 0, 0.5, 1. Source B: 5, 1, 1 -> 1, 0, 0.
        let m = HybridModel::new(vec![
            (
                0.75,
                Box::new(Fixed(ModelKind::Als, vec![10.0, 20.0, 30.0])),
            ),
            (
                0.25,
                Box::new(Fixed(ModelKind::Popularity, vec![5.0, 1.0, 1.0])),
            ),
        ]);
        let mut out = vec![0.0; 3];
        m.score(&[], &mut out);
        // 0.75·0 + 0.25·1, 0.75·0.5 + 0, 0.75·1 + 0
        assert!(close(&out, &[0.25, 0.375, 0.75]), "{out:?}");
        assert_eq!(
            m.spec().weights,
            vec![(ModelKind::Als, 0.75), (ModelKind::Popularity, 0.25)]
        );
        // History items are still left out by recommend.
        let order: Vec<u32> = m
            .recommend(&[(2, 1.0)], 3, &[])
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(order, vec![1, 0]);
    }

    #[test]
    fn constant_or_non_finite_scores_add_nothing_and_short_sources_pad_with_zero() {
        let m = HybridModel::new(vec![
            (1.0, Box::new(Fixed(ModelKind::Als, vec![3.0, 3.0, 3.0]))),
            (
                1.0,
                Box::new(Fixed(ModelKind::Content, vec![f32::NEG_INFINITY, 2.0])),
            ),
            (0.5, Box::new(Fixed(ModelKind::Ease, vec![0.0, 4.0, 2.0]))),
        ]);
        assert_eq!(m.n_items(), 3);
        let mut out = vec![9.0; 3];
        m.score(&[], &mut out);
        // Als constant: 0. Content: one finite value, no range: 0. Ease: 0, 1, 0.5 · 0.5.
        assert!(close(&out, &[0.0, 0.5, 0.25]), "{out:?}");
    }

    #[test]
    fn weights_parameter_is_read_and_checked() {
        let p = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            HybridSpec::from_params(&p(json!({}))).expect("default"),
            HybridSpec::default()
        );
        let spec =
            HybridSpec::from_params(&p(json!({"weights": {"popularity": 1, "lightgbm": 0.5}})))
                .expect("spec");
        let mut weights = spec.weights.clone();
        weights.sort_by_key(|w| w.0);
        assert_eq!(
            weights,
            vec![(ModelKind::Popularity, 1.0), (ModelKind::Ranker, 0.5)]
        );
        for (bad, field) in [
            (json!({"weights": {"svd": 1}}), "weights.svd"),
            (json!({"weights": {"als": -1}}), "weights.als"),
            (json!({"weights": {"hybrid": 1}}), "weights.hybrid"),
            (json!({"weights": [1]}), "weights"),
        ] {
            match HybridSpec::from_params(&p(bad)) {
                Err(FitError::Param { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected a parameter error, got {other:?}"),
            }
        }
    }

    #[test]
    fn from_spec_skips_missing_sources_and_the_artifact_holds_only_the_spec() {
        let spec = HybridSpec {
            weights: vec![
                (ModelKind::Als, 0.5),
                (ModelKind::Popularity, 0.5),
                (ModelKind::Ease, 0.0),
            ],
        };
        let mut asked = Vec::new();
        let m = HybridModel::from_spec(spec.clone(), |kind| {
            asked.push(kind);
            (kind == ModelKind::Popularity)
                .then(|| Box::new(Fixed(kind, vec![1.0, 2.0])) as Box<dyn Recommender>)
        });
        assert_eq!(asked, vec![ModelKind::Als, ModelKind::Popularity]);
        assert_eq!(m.skipped(), &[ModelKind::Als]);
        let mut out = vec![0.0; 2];
        m.score(&[], &mut out);
        assert!(close(&out, &[0.0, 0.5]));
        let bytes = m.to_artifact().expect("encode");
        assert_eq!(load_spec(&bytes).expect("spec"), spec);
        let loaded = HybridModel::load(&bytes).expect("load");
        assert_eq!(loaded.n_items(), 0);
        assert!(load_spec(&bytes[..bytes.len() - 2]).is_err());
    }

    #[test]
    fn registry_fit_trains_the_sources_this_build_has() {
        use crate::reco::data::{Dataset, Interaction};
        let mk = |u: &str, i: &str, w: f32| Interaction {
            user: u.into(),
            item: i.into(),
            weight: w,
            timestamp: 100,
        };
        let all = vec![mk("u", "a", 1.0), mk("v", "a", 1.0), mk("v", "b", 3.0)];
        let data = Dataset::from_interactions(&all, None);
        let input = TrainInput {
            data: &data,
            interactions: &all,
            item_created_at: &[],
            item_embeddings: &[],
            item_category: &[],
            item_price: &[],
            now: 100,
            seed: 1,
        };
        let p = json!({"weights": {"popularity": 1.0, "content": 1.0}});
        let m = HybridModel::fit_from_params(p.as_object().expect("object"), &input).expect("fit");
        // content has no embeddings here: skipped; popularity (a 2, b 3) carries the blend.
        assert_eq!(m.skipped(), &[ModelKind::Content]);
        let mut out = vec![0.0; 2];
        m.score(&[], &mut out);
        assert!(close(&out, &[0.0, 1.0]), "{out:?}");
        let only_content = json!({"weights": {"content": 1.0}});
        assert!(matches!(
            HybridModel::fit_from_params(only_content.as_object().expect("object"), &input),
            Err(FitError::NotEnoughData(_))
        ));
        let via_registry = registry::fit(ModelKind::Hybrid, &Map::new(), &input).expect("fit");
        assert_eq!(via_registry.kind(), ModelKind::Hybrid);
    }
}
