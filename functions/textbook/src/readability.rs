//! Readability of a chapter: Flesch-Kincaid grade level and Flesch reading ease of its prose.
//!
//! The formulas and the syllable heuristic come from the `textstat` crate; what is ours is the
//! input: [`crate::markdown::prose`] gives the prose without code blocks and formulas, with each
//! heading, paragraph, list item and table cell ending a sentence (Markdown has no periods after
//! headings, and counting "# Title\nText" as one sentence would inflate the grade).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::markdown;

/// Readability figures of one text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Readability {
    /// Flesch-Kincaid grade level (U.S. school grade; lower is easier), one decimal.
    pub flesch_kincaid_grade: f64,
    /// Flesch reading ease (0-100, higher is easier), one decimal.
    pub flesch_reading_ease: f64,
    pub words: usize,
    pub sentences: usize,
}

/// The figures of the returned text next to the original chapter's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReadabilityPair {
    pub returned: Readability,
    pub original: Readability,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Readability of a Markdown text.
pub fn of_markdown(md: &str) -> Readability {
    let prose = markdown::prose(md);
    Readability {
        flesch_kincaid_grade: round1(textstat::flesch_kincaid_grade(&prose)),
        flesch_reading_ease: round1(textstat::flesch_reading_ease(&prose)),
        words: textstat::lexicon_count(&prose),
        sentences: textstat::sentence_count(&prose),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_text_is_easier_than_dense_text() {
        let simple = of_markdown("# Cats\n\nThe cat sat. The dog ran. We ate.");
        let dense = of_markdown(
            "# Thermodynamics\n\nThermodynamic equilibrium characterises macroscopic systems \
             whose intensive properties remain invariant, notwithstanding microscopic fluctuations \
             attributable to statistical considerations.",
        );
        assert!(simple.flesch_kincaid_grade < dense.flesch_kincaid_grade);
        assert!(simple.flesch_reading_ease > dense.flesch_reading_ease);
        assert_eq!(simple.sentences, 4, "the heading counts as a sentence");
    }

    #[test]
    fn code_is_not_prose() {
        let r = of_markdown("Short one.\n\n```\nsupercalifragilistic_expialidocious();\n```\n");
        assert_eq!(r.words, 2);
    }
}
