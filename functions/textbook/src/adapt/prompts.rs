//! The versioned prompt templates of the model adapter.
//!
//! [`PROMPT_VERSION`] is part of every cache key: change it whenever a template below changes,
//! so adaptations made with the old wording are not served as if made with the new.

use super::Level;

pub const PROMPT_VERSION: &str = "textbook-adapt-v1";

/// The system prompt shared by the three levels.
pub const SYSTEM: &str = "You adapt textbook chapters to a reader's level. Follow these rules exactly.
1. Keep the Markdown structure: copy every heading line unchanged and in the same order; lists stay lists with the same items; tables stay tables.
2. Tokens of the form [[KEEP-n]] stand for code blocks and formulas. Copy each one exactly once, unchanged, where it belongs; a token that stands alone on a line stays alone on its line.
3. Keep inline code (text in backticks) and links unchanged.
4. Keep every fact of the chapter. Add nothing the chapter does not support: no new facts, numbers, names, examples or sources.
5. Answer with the adapted Markdown only: no preface, no notes, no closing remarks.";

/// What each level asks for.
pub fn instruction(level: Level) -> &'static str {
    match level {
        Level::Beginner => {
            "Rewrite this part for a beginner. Use short sentences (about 15 words or fewer) and everyday words. The first time a technical term appears, explain it in plain words, using only what the chapter itself says about it."
        }
        Level::Intermediate => {
            "Rewrite this part for an intermediate reader. Use clear, direct sentences. Keep the technical terms and explain only the less common ones. Tighten wordy passages."
        }
        Level::Advanced => {
            "Rewrite this part for an advanced reader. Use precise, concise technical prose and keep all terms and notation. You may make the connections between the chapter's ideas explicit, but add no facts the chapter does not support."
        }
    }
}

/// The user prompt for chunk `part` (1-based) of `parts`.
pub fn user_prompt(level: Level, part: usize, parts: usize, chunk: &str) -> String {
    format!(
        "Reading level: {level}.\n{instruction}\n\nThis is part {part} of {parts} of the chapter. \
         The text to adapt is between the lines <<<CHAPTER and CHAPTER>>>.\n\n<<<CHAPTER\n{chunk}\nCHAPTER>>>",
        level = level.as_str(),
        instruction = instruction(level),
    )
}

/// A placeholder for the n-th frozen span (code block or formula).
pub fn placeholder(n: usize) -> String {
    format!("[[KEEP-{n}]]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_name_the_level_and_carry_the_chunk() {
        let p = user_prompt(Level::Beginner, 2, 3, "# Heading\n\nText.");
        assert!(p.contains("Reading level: beginner."));
        assert!(p.contains("part 2 of 3"));
        assert!(p.ends_with("<<<CHAPTER\n# Heading\n\nText.\nCHAPTER>>>"));
        for level in Level::ALL {
            assert!(!instruction(level).is_empty());
        }
    }
}
