//! Held-out accuracy of the starter model. Run with `--nocapture` to see the figures:
//! `cargo test -p classroom starter_model_held_out_accuracy -- --nocapture`.
#![allow(clippy::unwrap_used)]

use crate::{
    classifier::{Example, TrainParams, train},
    model_store::starter_examples,
};

/// Stratified k-fold split: within each theme, example `i` goes to fold `i % k`.
fn folds(examples: &[Example], k: usize) -> Vec<usize> {
    let mut seen: std::collections::HashMap<&str, usize> = Default::default();
    examples
        .iter()
        .map(|e| {
            let n = seen.entry(e.theme.as_str()).or_insert(0);
            *n += 1;
            (*n - 1) % k
        })
        .collect()
}

#[test]
fn starter_set_has_enough_examples_per_class() {
    let examples = starter_examples();
    let mut themes: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut defis: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in &examples {
        *themes.entry(e.theme.as_str()).or_default() += 1;
        *defis.entry(e.defi.as_str()).or_default() += 1;
    }
    assert!(
        themes.len() >= 6 && defis.len() >= 4,
        "{themes:?} {defis:?}"
    );
    assert!(themes.values().chain(defis.values()).all(|&n| n >= 15));
}

#[test]
fn starter_model_held_out_accuracy() {
    let examples = starter_examples();
    let k = 4;
    let fold_of = folds(&examples, k);
    let (mut theme_ok, mut defi_ok, mut total) = (0, 0, 0);
    for fold in 0..k {
        let train_set: Vec<Example> = examples
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f != fold)
            .map(|(e, _)| e.clone())
            .collect();
        let model = train(&train_set, &TrainParams::default()).unwrap();
        let index = model.index();
        for (e, _) in examples.iter().zip(&fold_of).filter(|(_, f)| **f == fold) {
            let p = model.predict_with(&e.content, &index);
            theme_ok += usize::from(p.theme == e.theme);
            defi_ok += usize::from(p.defi == e.defi);
            total += 1;
        }
    }
    let theme_acc = theme_ok as f64 / total as f64;
    let defi_acc = defi_ok as f64 / total as f64;
    println!(
        "starter model, {k}-fold stratified held-out accuracy over {total} examples: theme {theme_acc:.3} ({theme_ok}/{total}), defi {defi_acc:.3} ({defi_ok}/{total}); chance: theme 0.167, defi 0.25"
    );
    assert_eq!(total, examples.len());
    // Well above chance (1/6 and 1/4).
    assert!(theme_acc >= 0.6, "theme accuracy {theme_acc}");
    assert!(defi_acc >= 0.4, "defi accuracy {defi_acc}");
}
