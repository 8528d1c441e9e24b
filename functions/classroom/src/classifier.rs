//! The content classifier: TF-IDF features and two multinomial logistic regressions (theme and
//! priority challenge, `defi`), trained with linfa-logistic from labelled examples.
//!
//! Text -> tokens: the words of [`shared::text::words`] (lowercase, accents folded: `élèves` =
//! `eleves`; Markdown punctuation dropped), cut again at digits (dropped), French stop words
//! dropped, a plural `s`/`x` stripped from words over four letters; features are those words and adjacent-word bigrams. The vocabulary keeps every
//! unigram and the bigrams seen in at least two examples; weights are sublinear TF (`1 + ln tf`)
//! times smoothed IDF (`ln((1 + n) / (1 + df)) + 1`), L2-normalised per document (as
//! scikit-learn's `TfidfVectorizer`).
//!
//! Training fits linfa's `MultiLogisticRegression` (L-BFGS, L2 penalty) on the dense TF-IDF
//! matrix; the fitted weights are copied into a [`TextModel`], which predicts from the sparse
//! features of one document with a dot product per class and a softmax (no linfa, no matrix on the
//! request path). The model serialises to JSON: that is the artifact in the blob store.

use std::collections::{BTreeMap, HashMap};

use linfa::{DatasetBase, prelude::Fit};
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// A labelled example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub content: String,
    pub theme: String,
    pub defi: String,
}

/// One output of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearHead {
    pub classes: Vec<String>,
    /// `n_features * n_classes`, row-major by feature.
    pub weights: Vec<f32>,
    pub intercept: Vec<f32>,
}

impl LinearHead {
    /// (class, probability) of the most likely class.
    fn predict(&self, features: &[(usize, f32)]) -> (String, f32) {
        let k = self.classes.len();
        let mut scores: Vec<f32> = self.intercept.clone();
        for &(f, x) in features {
            if let Some(row) = self.weights.get(f * k..(f + 1) * k) {
                for (s, w) in scores.iter_mut().zip(row) {
                    *s += w * x;
                }
            }
        }
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
        let total: f32 = exps.iter().sum();
        let (best, p) = exps
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, e)| (i, e / total))
            .unwrap_or((0, 0.0));
        (self.classes.get(best).cloned().unwrap_or_default(), p)
    }
}

/// A trained classifier (the model artifact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextModel {
    pub format: u32,
    /// Terms by feature index.
    pub vocabulary: Vec<String>,
    pub idf: Vec<f32>,
    pub theme: LinearHead,
    pub defi: LinearHead,
    pub trained_on: usize,
    pub trained_at: String,
}

/// A prediction with the model's probability for each output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub theme: String,
    pub theme_confidence: f32,
    pub defi: String,
    pub defi_confidence: f32,
}

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    /// L2 penalty.
    pub alpha: f64,
    pub max_iterations: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            alpha: 0.01,
            max_iterations: 200,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("need at least two classes for {0}")]
    OneClass(&'static str),
    #[error("no examples")]
    Empty,
    #[error("training failed: {0}")]
    Fit(String),
}

const FORMAT: u32 = 1;

const STOP_WORDS: &[&str] = &[
    "a", "au", "aux", "avec", "ce", "ces", "cet", "cette", "dans", "de", "des", "du", "elle",
    "elles", "en", "est", "et", "etre", "eux", "il", "ils", "je", "la", "le", "les", "leur",
    "leurs", "lui", "ma", "mais", "me", "meme", "mes", "moi", "mon", "ne", "nos", "notre", "nous",
    "on", "ou", "par", "pas", "pour", "qu", "que", "qui", "sa", "se", "ses", "son", "sont", "sur",
    "ta", "te", "tes", "toi", "ton", "tu", "un", "une", "vos", "votre", "vous", "y", "d", "l", "c",
    "j", "n", "s", "t", "m", "plus", "tout", "tous", "toute", "toutes", "comme", "sans", "entre",
    "chaque", "aussi", "bien", "tres", "peut", "faire", "fait", "ont", "avoir", "sont", "cela",
    "ca", "ici", "quand", "comment", "the", "and", "of", "to", "in", "for", "on", "with", "is",
    "are", "an", "or",
];

/// The words of `text` (see the module docs): [`shared::text::words`], cut again at digits,
/// then the length, stop word and plural rules.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in shared::text::words(text) {
        for piece in word.split(|c: char| !c.is_alphabetic()) {
            if piece.len() >= 2 && !STOP_WORDS.contains(&piece) {
                let mut w = piece.to_owned();
                if w.chars().count() > 4 && (w.ends_with('s') || w.ends_with('x')) {
                    w.pop();
                }
                out.push(w);
            }
        }
    }
    out
}

/// Unigram and bigram terms with their counts.
fn terms(text: &str) -> HashMap<String, u32> {
    let words = tokens(text);
    let mut counts = HashMap::new();
    for w in &words {
        *counts.entry(w.clone()).or_insert(0) += 1;
    }
    for pair in words.windows(2) {
        *counts
            .entry(format!("{} {}", pair[0], pair[1]))
            .or_insert(0) += 1;
    }
    counts
}

impl TextModel {
    /// Sparse L2-normalised TF-IDF features of `text`.
    pub fn features(&self, text: &str, index: &HashMap<String, usize>) -> Vec<(usize, f32)> {
        features_with(text, index, &self.idf)
    }

    /// The term -> feature index map (built once per loaded model).
    pub fn index(&self) -> HashMap<String, usize> {
        self.vocabulary
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect()
    }

    pub fn predict_with(&self, text: &str, index: &HashMap<String, usize>) -> Prediction {
        let x = self.features(text, index);
        let (theme, theme_confidence) = self.theme.predict(&x);
        let (defi, defi_confidence) = self.defi.predict(&x);
        Prediction {
            theme,
            theme_confidence,
            defi,
            defi_confidence,
        }
    }
}

fn features_with(text: &str, index: &HashMap<String, usize>, idf: &[f32]) -> Vec<(usize, f32)> {
    let mut x: Vec<(usize, f32)> = terms(text)
        .into_iter()
        .filter_map(|(t, tf)| {
            let i = *index.get(t.as_str())?;
            Some((
                i,
                (1.0 + (tf as f32).ln()) * idf.get(i).copied().unwrap_or(1.0),
            ))
        })
        .collect();
    let norm = x.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, v) in &mut x {
            *v /= norm;
        }
    }
    x.sort_by_key(|(i, _)| *i);
    x
}

/// Trains a model on `examples`.
pub fn train(examples: &[Example], params: &TrainParams) -> Result<TextModel, TrainError> {
    if examples.is_empty() {
        return Err(TrainError::Empty);
    }
    let docs: Vec<HashMap<String, u32>> = examples.iter().map(|e| terms(&e.content)).collect();
    let mut df: BTreeMap<&str, u32> = BTreeMap::new();
    for d in &docs {
        for t in d.keys() {
            *df.entry(t.as_str()).or_insert(0) += 1;
        }
    }
    let n = examples.len() as f32;
    let (vocabulary, idf): (Vec<String>, Vec<f32>) = df
        .iter()
        .filter(|(t, c)| !t.contains(' ') || **c >= 2)
        .map(|(t, c)| (t.to_string(), ((1.0 + n) / (1.0 + *c as f32)).ln() + 1.0))
        .unzip();
    let index: HashMap<String, usize> = vocabulary
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i))
        .collect();
    let mut x = Array2::<f64>::zeros((examples.len(), vocabulary.len()));
    for (mut row, e) in x.rows_mut().into_iter().zip(examples) {
        for (i, v) in features_with(&e.content, &index, &idf) {
            row[i] = f64::from(v);
        }
    }
    let theme = fit_head(
        &x,
        examples.iter().map(|e| e.theme.clone()),
        params,
        "theme",
    )?;
    let defi = fit_head(&x, examples.iter().map(|e| e.defi.clone()), params, "defi")?;
    Ok(TextModel {
        format: FORMAT,
        vocabulary,
        idf,
        theme,
        defi,
        trained_on: examples.len(),
        trained_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

fn fit_head(
    x: &Array2<f64>,
    labels: impl Iterator<Item = String>,
    params: &TrainParams,
    what: &'static str,
) -> Result<LinearHead, TrainError> {
    let y: Array1<String> = labels.collect();
    let mut distinct: Vec<&String> = y.iter().collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() < 2 {
        return Err(TrainError::OneClass(what));
    }
    let dataset = DatasetBase::new(x.view(), y.view());
    let fitted = MultiLogisticRegression::default()
        .alpha(params.alpha)
        .max_iterations(params.max_iterations)
        .fit(&dataset)
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    let classes: Vec<String> = fitted.classes().iter().map(|c| c.to_string()).collect();
    // params: (n_features, n_classes), row-major by feature: the layout LinearHead keeps.
    let weights: Vec<f32> = fitted.params().iter().map(|w| *w as f32).collect();
    let intercept = fitted.intercept().iter().map(|b| *b as f32).collect();
    Ok(LinearHead {
        classes,
        weights,
        intercept,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_fold_accents_and_drop_stop_words() {
        assert_eq!(
            tokens("# Les élèves & la **différenciation** en 6e"),
            vec!["eleve", "differenciation"]
        );
    }

    #[test]
    fn a_tiny_model_separates_two_topics() {
        let ex = |c: &str, t: &str, d: &str| Example {
            content: c.into(),
            theme: t.into(),
            defi: d.into(),
        };
        let examples = vec![
            ex("fractions et calcul mental", "math", "a"),
            ex("geometrie triangle calcul", "math", "b"),
            ex("lecture fluence orthographe", "french", "a"),
            ex("dictee orthographe grammaire", "french", "b"),
        ];
        let model = train(&examples, &TrainParams::default()).unwrap();
        let index = model.index();
        let p = model.predict_with("calcul des fractions", &index);
        assert_eq!(p.theme, "math");
        assert!(p.theme_confidence > 0.5 && p.theme_confidence <= 1.0);
        let round: TextModel =
            serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
        assert_eq!(
            round.predict_with("calcul des fractions", &round.index()),
            p
        );
        assert!(matches!(
            train(&examples[..1], &TrainParams::default()),
            Err(TrainError::OneClass("theme"))
        ));
    }
}
