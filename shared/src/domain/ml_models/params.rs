//! The ML config model types and the parameters each accepts (`/work/wt/PARAMS.md`, README
//! "ML model management"): names, types and ranges, the defaults of the config that is active
//! from the start, and the validation the ml-models function applies before storing a config
//! (every error names its field, `parameters.<name>`).

use serde_json::{Map, Value, json};

use crate::error::FieldError;
use crate::reco::model::ModelKind;

/// What a config configures: one model, or the interaction kind weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelType {
    /// ALS (implicit matrix factorisation); the spec's name.
    Collaborative,
    ItemKnn,
    Ease,
    Content,
    Popularity,
    Trending,
    NewArrivals,
    Fbt,
    /// The learning-to-rank model (train name `lightgbm`).
    Ranker,
    Hybrid,
    /// The weight of each interaction kind (read by training).
    Interactions,
    /// RFM customer segmentation (k-means; `domain::segments::rfm`): training generates the
    /// `rfm` user segments.
    Kmeans,
}

/// How a parameter is checked.
#[derive(Debug, Clone, Copy)]
pub enum ParamSpec {
    /// An integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// A finite number above `min` (or at it when `min_inclusive`), at most `max`.
    Float {
        min: f64,
        min_inclusive: bool,
        max: f64,
    },
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An object of model name -> number >= 0 (the hybrid's weights).
    Weights,
}

const INT_MAX: i64 = i64::MAX;

impl ParamSpec {
    fn describe(self) -> String {
        match self {
            ParamSpec::Int { min, max } if max == INT_MAX => format!("an integer >= {min}"),
            ParamSpec::Int { min, max } => format!("an integer from {min} to {max}"),
            ParamSpec::Float {
                min,
                min_inclusive,
                max,
            } => {
                let low = if min_inclusive { ">=" } else { ">" };
                if max.is_finite() {
                    format!("a number {low} {min} and <= {max}")
                } else {
                    format!("a number {low} {min}")
                }
            }
            ParamSpec::OneOf(options) => format!("one of: {}", options.join(", ")),
            ParamSpec::Weights => {
                "an object of model name -> number >= 0 (models: als, item_knn, ease, content, popularity, trending, new_arrivals, fbt, ranker)".to_string()
            }
        }
    }

    /// `None` when `value` satisfies the spec, else the message.
    fn check(self, field: &str, value: &Value, errors: &mut Vec<FieldError>) {
        let fail = |errors: &mut Vec<FieldError>| {
            errors.push(FieldError::new(
                field,
                format!("must be {}", self.describe()),
            ));
        };
        match self {
            ParamSpec::Int { min, max } => match value.as_i64() {
                Some(n) if n >= min && n <= max => {}
                _ => fail(errors),
            },
            ParamSpec::Float {
                min,
                min_inclusive,
                max,
            } => match value.as_f64() {
                Some(x)
                    if x.is_finite() && (x > min || (min_inclusive && x == min)) && x <= max => {}
                _ => fail(errors),
            },
            ParamSpec::OneOf(options) => match value.as_str() {
                Some(s) if options.contains(&s) => {}
                _ => fail(errors),
            },
            ParamSpec::Weights => {
                let Some(obj) = value.as_object() else {
                    return fail(errors);
                };
                for (name, w) in obj {
                    let known = name
                        .parse::<ModelKind>()
                        .is_ok_and(|k| !matches!(k, ModelKind::Hybrid | ModelKind::Kmeans));
                    let weight_ok = w.as_f64().is_some_and(|x| x.is_finite() && x >= 0.0);
                    if !known || !weight_ok {
                        errors.push(FieldError::new(
                            format!("{field}.{name}"),
                            format!("must be {}", self.describe()),
                        ));
                    }
                }
            }
        }
    }
}

const fn int(min: i64, max: i64) -> ParamSpec {
    ParamSpec::Int { min, max }
}
const fn float_gt(min: f64, max: f64) -> ParamSpec {
    ParamSpec::Float {
        min,
        min_inclusive: false,
        max,
    }
}
const fn float_ge(min: f64, max: f64) -> ParamSpec {
    ParamSpec::Float {
        min,
        min_inclusive: true,
        max,
    }
}
const INF: f64 = f64::INFINITY;

impl ModelType {
    pub const ALL: [ModelType; 12] = [
        ModelType::Collaborative,
        ModelType::ItemKnn,
        ModelType::Ease,
        ModelType::Content,
        ModelType::Popularity,
        ModelType::Trending,
        ModelType::NewArrivals,
        ModelType::Fbt,
        ModelType::Ranker,
        ModelType::Hybrid,
        ModelType::Interactions,
        ModelType::Kmeans,
    ];

    /// The `model_type` as stored and answered.
    pub fn name(self) -> &'static str {
        match self {
            ModelType::Collaborative => "collaborative",
            ModelType::ItemKnn => "item_knn",
            ModelType::Ease => "ease",
            ModelType::Content => "content",
            ModelType::Popularity => "popularity",
            ModelType::Trending => "trending",
            ModelType::NewArrivals => "new_arrivals",
            ModelType::Fbt => "fbt",
            ModelType::Ranker => "ranker",
            ModelType::Hybrid => "hybrid",
            ModelType::Interactions => "interactions",
            ModelType::Kmeans => "kmeans",
        }
    }

    /// A `model_type` as requested: the names of [`ModelType::name`], plus the aliases `als`
    /// (collaborative) and `lightgbm` (ranker).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "als" => Some(ModelType::Collaborative),
            "lightgbm" => Some(ModelType::Ranker),
            _ => Self::ALL.into_iter().find(|t| t.name() == s),
        }
    }

    /// The valid names, for error messages.
    pub fn valid_names() -> String {
        let mut names: Vec<&str> = Self::ALL.iter().map(|t| t.name()).collect();
        names.extend(["als", "lightgbm"]);
        names.join(", ")
    }

    /// The config type that parameterises a trained model kind.
    pub fn of_kind(kind: ModelKind) -> Option<Self> {
        Some(match kind {
            ModelKind::Als => ModelType::Collaborative,
            ModelKind::ItemKnn => ModelType::ItemKnn,
            ModelKind::Ease => ModelType::Ease,
            ModelKind::Content => ModelType::Content,
            ModelKind::Popularity => ModelType::Popularity,
            ModelKind::Trending => ModelType::Trending,
            ModelKind::NewArrivals => ModelType::NewArrivals,
            ModelKind::Fbt => ModelType::Fbt,
            ModelKind::Ranker => ModelType::Ranker,
            ModelKind::Hybrid => ModelType::Hybrid,
            ModelKind::Kmeans => ModelType::Kmeans,
        })
    }

    /// The parameters this type accepts.
    pub fn schema(self) -> &'static [(&'static str, ParamSpec)] {
        match self {
            ModelType::Collaborative => {
                const {
                    &[
                        ("n_factors", int(1, 512)),
                        ("n_epochs", int(1, 100)),
                        ("reg_all", float_ge(0.0, INF)),
                        ("alpha", float_gt(0.0, INF)),
                        ("lr_all", float_gt(0.0, 1.0)),
                        ("cg_steps", int(1, 10)),
                        ("random_state", int(0, INT_MAX)),
                    ]
                }
            }
            ModelType::ItemKnn => {
                const {
                    &[
                        ("k_neighbours", int(1, 1000)),
                        ("similarity", ParamSpec::OneOf(&["cosine", "bm25"])),
                        ("shrink", float_ge(0.0, INF)),
                        ("bm25_k1", float_gt(0.0, INF)),
                        ("bm25_b", float_ge(0.0, 1.0)),
                    ]
                }
            }
            ModelType::Ease => {
                const {
                    &[
                        ("lambda", float_gt(0.0, INF)),
                        ("max_items", int(1, 100_000)),
                    ]
                }
            }
            ModelType::Content => const { &[("profile_items", int(1, 200))] },
            ModelType::Popularity => const { &[("window_days", int(1, 365))] },
            ModelType::Trending => {
                const {
                    &[
                        ("half_life_hours", float_gt(0.0, 720.0)),
                        ("window_days", int(1, 90)),
                    ]
                }
            }
            ModelType::NewArrivals => const { &[("window_days", int(1, 365))] },
            ModelType::Fbt => {
                const {
                    &[
                        ("min_support_count", int(1, INT_MAX)),
                        ("min_confidence", float_ge(0.0, 1.0)),
                        ("max_rules_per_item", int(1, 100)),
                    ]
                }
            }
            ModelType::Ranker => {
                const {
                    &[
                        ("n_trees", int(1, 1000)),
                        ("learning_rate", float_gt(0.0, 1.0)),
                        ("max_depth", int(1, 16)),
                        ("candidates", int(10, 1000)),
                    ]
                }
            }
            ModelType::Hybrid => const { &[("weights", ParamSpec::Weights)] },
            ModelType::Kmeans => {
                const {
                    &[
                        ("n_clusters", int(2, 12)),
                        ("lookback_days", int(1, 3650)),
                        ("restarts", int(1, 50)),
                        ("random_state", int(0, INT_MAX)),
                    ]
                }
            }
            ModelType::Interactions => {
                const {
                    &[
                        ("view", float_ge(0.0, INF)),
                        ("cart", float_ge(0.0, INF)),
                        ("purchase", float_ge(0.0, INF)),
                        ("like", float_ge(0.0, INF)),
                        ("save", float_ge(0.0, INF)),
                        ("share", float_ge(0.0, INF)),
                        ("video_view", float_ge(0.0, INF)),
                        ("search_click", float_ge(0.0, INF)),
                        ("rec_click", float_ge(0.0, INF)),
                    ]
                }
            }
        }
    }

    /// The parameters of the default config (PARAMS.md; EASE's `max_items` is left to the
    /// model's own measured default).
    pub fn default_params(self) -> Map<String, Value> {
        let v = match self {
            ModelType::Collaborative => json!({
                "n_factors": 64, "n_epochs": 15, "reg_all": 0.01, "alpha": 10.0,
                "lr_all": 0.005, "cg_steps": 3, "random_state": 42
            }),
            ModelType::ItemKnn => json!({
                "k_neighbours": 100, "similarity": "cosine", "shrink": 10.0,
                "bm25_k1": 1.2, "bm25_b": 0.75
            }),
            ModelType::Ease => json!({"lambda": 500.0}),
            ModelType::Content => json!({"profile_items": 20}),
            ModelType::Popularity => json!({"window_days": 30}),
            ModelType::Trending => json!({"half_life_hours": 24.0, "window_days": 7}),
            ModelType::NewArrivals => json!({"window_days": 30}),
            ModelType::Fbt => json!({
                "min_support_count": 3, "min_confidence": 0.0, "max_rules_per_item": 20
            }),
            ModelType::Ranker => json!({
                "n_trees": 100, "learning_rate": 0.1, "max_depth": 6, "candidates": 100
            }),
            ModelType::Hybrid => json!({"weights": {
                "als": 0.4, "item_knn": 0.2, "ease": 0.2, "content": 0.1, "popularity": 0.1
            }}),
            ModelType::Kmeans => json!({
                "n_clusters": 5, "lookback_days": 365, "restarts": 8, "random_state": 42
            }),
            ModelType::Interactions => json!({
                "view": 1.0, "cart": 3.0, "purchase": 5.0, "like": 2.0, "save": 2.0,
                "share": 2.0, "video_view": 1.0, "search_click": 1.0, "rec_click": 1.0
            }),
        };
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// A description of the default config.
    pub fn default_description(self) -> &'static str {
        match self {
            ModelType::Collaborative => {
                "Implicit-feedback matrix factorisation (ALS, conjugate gradient)"
            }
            ModelType::ItemKnn => "Item-item nearest neighbours over co-occurrence",
            ModelType::Ease => "EASE^R closed-form item-item model",
            ModelType::Content => "Product embeddings: more like what the user viewed",
            ModelType::Popularity => "Most bought and viewed products over a time window",
            ModelType::Trending => "Time-decayed recent activity",
            ModelType::NewArrivals => "Newest products",
            ModelType::Fbt => "Frequently bought together association rules",
            ModelType::Ranker => "Gradient-boosted trees re-ranking the candidates",
            ModelType::Hybrid => "Weighted blend of normalised model scores",
            ModelType::Interactions => "Weight of each interaction kind in training",
            ModelType::Kmeans => "RFM customer segments: k-means on recency, frequency, monetary",
        }
    }
}

/// Checks `params` (the JSON `parameters`) for `model_type`: an object whose every key is a
/// parameter of the type with a value in range. Errors name `parameters.<name>`.
pub fn validate(
    model_type: ModelType,
    params: &Value,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let Some(obj) = params.as_object() else {
        return Err(vec![FieldError::new("parameters", "must be an object")]);
    };
    let schema = model_type.schema();
    let mut errors = Vec::new();
    for (name, value) in obj {
        let field = format!("parameters.{name}");
        match schema.iter().find(|(n, _)| n == name) {
            Some((_, spec)) => spec.check(&field, value, &mut errors),
            None => {
                let valid: Vec<&str> = schema.iter().map(|(n, _)| *n).collect();
                errors.push(FieldError::new(
                    field,
                    format!(
                        "unknown parameter for model_type {}; valid: {}",
                        model_type.name(),
                        valid.join(", ")
                    ),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(obj.clone())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_their_own_validation() {
        for t in ModelType::ALL {
            let p = Value::Object(t.default_params());
            assert!(validate(t, &p).is_ok(), "{}", t.name());
        }
    }

    #[test]
    fn ranges_types_and_unknown_names_fail_with_the_field() {
        let e = validate(
            ModelType::Collaborative,
            &json!({"n_factors": 0, "n_epochs": "ten", "reg_all": -0.1, "alpha": 0, "bogus": 1}),
        )
        .err()
        .unwrap_or_default();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        for f in [
            "parameters.n_factors",
            "parameters.n_epochs",
            "parameters.reg_all",
            "parameters.alpha",
            "parameters.bogus",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        assert!(
            validate(
                ModelType::Collaborative,
                &json!({"n_factors": 512, "lr_all": 1})
            )
            .is_ok()
        );
        assert!(validate(ModelType::Collaborative, &json!({"n_factors": 513})).is_err());
        assert!(validate(ModelType::Collaborative, &json!({"n_factors": 64.5})).is_err());
        assert!(validate(ModelType::ItemKnn, &json!({"similarity": "jaccard"})).is_err());
        let e = validate(ModelType::Hybrid, &json!({"weights": {"als": 1, "svd": 1}}))
            .err()
            .unwrap_or_default();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "parameters.weights.svd");
        assert!(validate(ModelType::Ease, &json!([1])).is_err());
    }

    #[test]
    fn aliases_and_kinds_map_to_types() {
        assert_eq!(ModelType::parse("als"), Some(ModelType::Collaborative));
        assert_eq!(ModelType::parse("lightgbm"), Some(ModelType::Ranker));
        assert_eq!(ModelType::parse("kmeans"), Some(ModelType::Kmeans));
        assert_eq!(
            ModelType::of_kind(ModelKind::Kmeans),
            Some(ModelType::Kmeans)
        );
        for k in ModelKind::ALL {
            assert!(ModelType::of_kind(k).is_some());
        }
        assert!(
            validate(
                ModelType::Kmeans,
                &json!({"n_clusters": 5, "lookback_days": 90})
            )
            .is_ok()
        );
        let e = validate(ModelType::Kmeans, &json!({"n_clusters": 13})).unwrap_err();
        assert_eq!(e[0].field, "parameters.n_clusters");
    }
}
