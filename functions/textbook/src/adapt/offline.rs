//! The offline adapter: deterministic rules, no language model. Responses name it (backend
//! `local`, model [`OFFLINE_MODEL_ID`]), so nobody mistakes its output for a model's.
//!
//! Only the prose of paragraphs is ever rewritten; headings, lists, tables, code blocks, formulas,
//! inline code, links and HTML are copied unchanged. No fact is added: every added sentence is a
//! sentence of the chapter, or a question.
//! - intermediate: wordy phrases replaced by plain ones ("in order to" -> "to", "utilize" -> "use").
//! - beginner: the same, long sentences split at `;` and at `, and` / `, but` / `, so` / `, yet` /
//!   `, although` (as "But") between clauses, then a "Key ideas" summary (a short first sentence
//!   of each section) and a "Glossary" of the chapter's technical terms (its bold and italic
//!   terms, else its frequent long words) with a short sentence of the chapter about each.
//! - advanced: the original, then "Key terms" (each term with the section that introduces it and
//!   the chapter's sentence about it) and "Questions for further study" (one per section).
//!
//! Sentence splitting and the phrase list are written here by hand: they are a few dozen lines
//! that must respect the Markdown spans found by `pulldown-cmark`, and no maintained crate does
//! clause-level simplification.

use std::{collections::HashMap, ops::Range};

use async_trait::async_trait;
use shared::ai::Provenance;

use super::{AdaptError, Adapter, Level};
use crate::markdown;

pub const OFFLINE_MODEL_ID: &str = "textbook-offline-rules-v1";
pub const OFFLINE_VERSION: &str = "textbook-offline-v1";

/// At most this many entries in each added list.
const MAX_TERMS: usize = 10;
const MAX_KEY_IDEAS: usize = 8;
const MAX_QUESTIONS: usize = 6;

#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineAdapter;

#[async_trait]
impl Adapter for OfflineAdapter {
    fn provenance(&self) -> Provenance {
        Provenance {
            backend: "local".into(),
            model_id: OFFLINE_MODEL_ID.into(),
        }
    }

    fn prompt_version(&self) -> &'static str {
        OFFLINE_VERSION
    }

    async fn adapt(&self, chapter: &str, level: Level) -> Result<String, AdaptError> {
        Ok(adapt(chapter, level))
    }
}

/// The chapter at `level` (synchronous; a 20,000-word chapter takes milliseconds).
pub fn adapt(md: &str, level: Level) -> String {
    match level {
        Level::Intermediate => rewrite_paragraphs(md, false),
        Level::Beginner => beginner(md),
        Level::Advanced => advanced(md),
    }
}

// ---------------------------------------------------------------------------------------------
// Paragraph rewriting

/// Wordy phrase -> plain phrase, matched case-insensitively on word boundaries; the replacement
/// takes the capitalisation of the first letter.
const PHRASES: &[(&str, &str)] = &[
    ("in order to", "to"),
    ("due to the fact that", "because"),
    ("a large number of", "many"),
    ("the majority of", "most"),
    ("prior to", "before"),
    ("is able to", "can"),
    ("are able to", "can"),
    ("in the event that", "if"),
    ("at this point in time", "now"),
    ("with respect to", "about"),
    ("utilize", "use"),
    ("utilizes", "uses"),
    ("utilized", "used"),
    ("utilizing", "using"),
    ("approximately", "about"),
    ("demonstrate", "show"),
    ("demonstrates", "shows"),
    ("demonstrated", "showed"),
    ("numerous", "many"),
    ("facilitate", "help"),
    ("facilitates", "helps"),
    ("additional", "more"),
    ("sufficient", "enough"),
    ("commence", "start"),
    ("commences", "starts"),
    ("obtain", "get"),
    ("obtains", "gets"),
    ("assist", "help"),
    ("assists", "helps"),
];

/// Sentence openers (with their comma) -> plain openers; case-sensitive, as they start sentences.
const OPENERS: &[(&str, &str)] = &[
    ("However,", "But"),
    ("Therefore,", "So"),
    ("Consequently,", "So"),
    ("Thus,", "So"),
    ("Furthermore,", "Also,"),
    ("Moreover,", "Also,"),
    ("In addition,", "Also,"),
    ("Nevertheless,", "Still,"),
    ("Subsequently,", "Later,"),
];

/// Rewrites the prose of every paragraph of `md` (plain words; with `split`, short sentences too).
fn rewrite_paragraphs(md: &str, split: bool) -> String {
    let protected = markdown::protected_ranges(md);
    let mut out = String::with_capacity(md.len() + md.len() / 8);
    let mut at = 0;
    let mut p = 0;
    for para in markdown::paragraphs(md) {
        if para.start < at {
            continue;
        }
        while p < protected.len() && protected[p].end <= para.start {
            p += 1;
        }
        let local: Vec<Range<usize>> = protected[p..]
            .iter()
            .take_while(|r| r.start < para.end)
            .map(|r| r.start.max(para.start) - para.start..r.end.min(para.end) - para.start)
            .collect();
        out.push_str(&md[at..para.start]);
        let (plain, plain_protected) = plain_words(&md[para.clone()], &local);
        if split {
            out.push_str(&split_sentences(&plain, &plain_protected));
        } else {
            out.push_str(&plain);
        }
        at = para.end;
    }
    out.push_str(&md[at..]);
    out
}

/// The pieces of `text` between `protected` ranges: (range, is_protected), in order.
fn pieces(text: &str, protected: &[Range<usize>]) -> Vec<(Range<usize>, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    for r in protected {
        if r.start > at {
            out.push((at..r.start, false));
        }
        if r.end > r.start.max(at) {
            out.push((r.start.max(at)..r.end, true));
        }
        at = at.max(r.end);
    }
    if at < text.len() {
        out.push((at..text.len(), false));
    }
    out
}

/// Applies [`PHRASES`] and [`OPENERS`] outside `protected`; returns the new text and where its
/// protected ranges are now.
fn plain_words(text: &str, protected: &[Range<usize>]) -> (String, Vec<Range<usize>>) {
    let mut out = String::with_capacity(text.len());
    let mut kept = Vec::new();
    for (range, is_protected) in pieces(text, protected) {
        if is_protected {
            let start = out.len();
            out.push_str(&text[range]);
            kept.push(start..out.len());
        } else {
            out.push_str(&replace_phrases(&text[range]));
        }
    }
    (out, kept)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn replace_phrases(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    'scan: while i < text.len() {
        let boundary = i == 0 || !is_word_byte(bytes[i - 1]);
        if boundary && text.is_char_boundary(i) {
            for (from, to) in OPENERS {
                if text[i..].starts_with(from) {
                    out.push_str(to);
                    i += from.len();
                    continue 'scan;
                }
            }
            for (from, to) in PHRASES {
                let end = i + from.len();
                if end <= text.len()
                    && text.is_char_boundary(end)
                    && text[i..end].eq_ignore_ascii_case(from)
                    && (end == text.len() || !is_word_byte(bytes[end]))
                {
                    if bytes[i].is_ascii_uppercase() {
                        let mut c = to.chars();
                        if let Some(first) = c.next() {
                            out.extend(first.to_uppercase());
                            out.push_str(c.as_str());
                        }
                    } else {
                        out.push_str(to);
                    }
                    i = end;
                    continue 'scan;
                }
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn inside(protected: &[Range<usize>], i: usize) -> bool {
    protected.iter().any(|r| r.contains(&i))
}

const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "cf", "al", "Dr", "Mr", "Mrs", "Ms", "Fig", "fig", "Eq", "eq",
    "approx", "No", "St",
];

/// Byte ranges of the sentences of a paragraph (terminators outside `protected`).
pub fn sentences(text: &str, protected: &[Range<usize>]) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if !matches!(c, '.' | '!' | '?') || inside(protected, i) {
            continue;
        }
        let next = i + 1;
        let at_end = next >= text.len();
        if !at_end && !bytes[next].is_ascii_whitespace() {
            // Allow closing quotes/brackets/emphasis right after the terminator.
            if !matches!(bytes[next], b'"' | b')' | b'*' | b'_' | b'\'')
                || bytes
                    .get(next + 1)
                    .is_some_and(|b| !b.is_ascii_whitespace())
            {
                continue;
            }
        }
        if c == '.' {
            let word_start = text[..i]
                .rfind(|ch: char| ch.is_whitespace() || ch == '(')
                .map_or(0, |w| w + 1);
            let word = &text[word_start..i];
            if ABBREVIATIONS.contains(&word)
                || (word.len() == 1 && word.bytes().all(|b| b.is_ascii_uppercase()))
            {
                continue;
            }
        }
        let mut end = next;
        while end < text.len() && !bytes[end].is_ascii_whitespace() {
            end += 1;
        }
        out.push(start..end);
        start = end;
        while start < text.len() && bytes[start].is_ascii_whitespace() {
            start += 1;
        }
    }
    if start < text.len() && !text[start..].trim().is_empty() {
        out.push(start..text.len());
    }
    out
}

fn word_count(s: &str) -> usize {
    s.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// Splits long sentences at `;` and at `, and|but|so|yet|although` between clauses long enough to stand
/// alone (five words before, four after; `and` only when no comma precedes it in the sentence,
/// so lists like "a, b, and c" stay whole).
fn split_sentences(text: &str, protected: &[Range<usize>]) -> String {
    // (range to replace, replacement, capitalise the next word)
    let mut edits: Vec<(Range<usize>, &'static str, bool)> = Vec::new();
    for sentence in sentences(text, protected) {
        let s = &text[sentence.clone()];
        let mut commas_before = 0usize;
        let mut last_cut = 0usize;
        for (i, c) in s.char_indices() {
            let abs = sentence.start + i;
            if (c != ',' && c != ';') || inside(protected, abs) {
                continue;
            }
            let rest = &s[i + 1..];
            let trimmed = rest.trim_start();
            let gap = rest.len() - trimmed.len();
            if gap == 0 {
                continue;
            }
            let before = word_count(&s[last_cut..i]);
            let (conj, replacement) = if c == ';' {
                ("", ".")
            } else {
                let word = trimmed
                    .split(|ch: char| !ch.is_ascii_alphabetic())
                    .next()
                    .unwrap_or_default();
                match word {
                    "and" if commas_before == 0 => ("and", ". And"),
                    "but" => ("but", ". But"),
                    "so" => ("so", ". So"),
                    "yet" => ("yet", ". Yet"),
                    "although" => ("although", ". But"),
                    _ => {
                        commas_before += 1;
                        continue;
                    }
                }
            };
            let after_start = i + 1 + gap + conj.len();
            let after = word_count(&s[after_start.min(s.len())..]);
            if before >= 5 && after >= 4 {
                let end = sentence.start + i + 1 + gap + conj.len();
                let replace_end = if conj.is_empty() {
                    sentence.start + i + 1
                } else {
                    end
                };
                edits.push((abs..replace_end, replacement, conj.is_empty()));
                last_cut = after_start.min(s.len());
                commas_before = 0;
            } else if c == ',' {
                commas_before += 1;
            }
        }
    }
    let mut out = String::with_capacity(text.len() + edits.len() * 4);
    let mut at = 0;
    for (range, replacement, capitalise) in edits {
        out.push_str(&text[at..range.start]);
        out.push_str(replacement);
        at = range.end;
        if capitalise {
            // Copy the whitespace, then capitalise the next letter unless it is protected.
            let ws = text[at..].len() - text[at..].trim_start().len();
            out.push_str(&text[at..at + ws]);
            at += ws;
            if let Some(ch) = text[at..].chars().next()
                && ch.is_lowercase()
                && !inside(protected, at)
            {
                out.extend(ch.to_uppercase());
                at += ch.len_utf8();
            }
        }
    }
    out.push_str(&text[at..]);
    out
}

// ---------------------------------------------------------------------------------------------
// Summaries, terms and questions

/// A paragraph's sentences as single-line Markdown, with the paragraph's section index.
struct Sentences {
    /// (section index, sentence)
    items: Vec<(usize, String)>,
    lower: Vec<String>,
}

fn collect_sentences(md: &str, sections: &[markdown::Section]) -> Sentences {
    let protected = markdown::protected_ranges(md);
    let mut items = Vec::new();
    let mut section = 0usize;
    for para in markdown::paragraphs(md) {
        while section + 1 < sections.len() && sections[section + 1].start <= para.start {
            section += 1;
        }
        let local: Vec<Range<usize>> = protected
            .iter()
            .filter(|r| r.start < para.end && r.end > para.start)
            .map(|r| r.start.max(para.start) - para.start..r.end.min(para.end) - para.start)
            .collect();
        let text = &md[para.clone()];
        // A paragraph that is only a formula or an image is not a sentence.
        if local.len() == 1 && local[0].len() >= text.trim().len() {
            continue;
        }
        for s in sentences(text, &local) {
            let one_line = text[s].split_whitespace().collect::<Vec<_>>().join(" ");
            if word_count(&one_line) >= 3 {
                items.push((section, one_line));
            }
        }
    }
    let lower = items.iter().map(|(_, s)| s.to_lowercase()).collect();
    Sentences { items, lower }
}

impl Sentences {
    /// A sentence mentioning `term` (whole word, case-insensitive): the first one, or with
    /// `shortest` the shortest of the first three (for beginners).
    fn about(&self, term: &str, shortest: bool) -> Option<&(usize, String)> {
        let t = term.to_lowercase();
        let mentions = self.lower.iter().enumerate().filter(|(_, s)| {
            s.match_indices(&t).any(|(i, _)| {
                let b = s.as_bytes();
                (i == 0 || !is_word_byte(b[i - 1]))
                    && b.get(i + t.len()).is_none_or(|&c| !is_word_byte(c))
            })
        });
        let index = if shortest {
            mentions
                .take(3)
                .min_by_key(|(i, s)| (word_count(s), *i))
                .map(|(i, _)| i)
        } else {
            mentions.map(|(i, _)| i).next()
        };
        index.and_then(|i| self.items.get(i))
    }
}

const COMMON_LONG_WORDS: &[&str] = &[
    "therefore",
    "something",
    "different",
    "important",
    "including",
    "following",
    "sometimes",
    "everything",
    "understand",
    "especially",
    "information",
    "particular",
    "additional",
    "approximately",
    "themselves",
    "themselves",
    "otherwise",
    "throughout",
    "considered",
    "necessary",
    "described",
    "describes",
    "available",
    "generally",
    "typically",
    "usually",
    "according",
    "beginning",
    "increasing",
    "decreasing",
    "difference",
    "important",
    "significant",
    "significantly",
    "individual",
    "individuals",
    "possible",
    "processes",
    "whichever",
    "something",
    "everyone",
    "together",
    "actually",
    "another",
    "although",
    "continue",
    "continues",
    "developed",
    "different",
    "directly",
    "example",
    "examples",
    "instance",
    "consider",
    "provides",
    "provided",
    "required",
    "requires",
    "question",
    "questions",
    "chapter",
    "section",
    "sections",
    "understanding",
    "introduction",
];

/// The chapter's technical terms: its bold and italic terms first, then (to reach a handful) long
/// words it uses at least twice, most frequent first.
pub fn technical_terms(md: &str) -> Vec<String> {
    let mut terms = markdown::emphasised_terms(md);
    terms.truncate(MAX_TERMS);
    if terms.len() >= 5 {
        return terms;
    }
    let prose = markdown::prose(md);
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for (i, w) in prose
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .enumerate()
    {
        let lower = w.trim_matches('-').to_lowercase();
        if lower.chars().count() >= 9
            && lower.chars().all(|c| c.is_alphabetic() || c == '-')
            && !COMMON_LONG_WORDS.contains(&lower.as_str())
        {
            let e = counts.entry(lower).or_insert((0, i));
            e.0 += 1;
        }
    }
    let mut frequent: Vec<(String, (usize, usize))> =
        counts.into_iter().filter(|(_, (n, _))| *n >= 2).collect();
    frequent.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
    for (word, _) in frequent {
        if terms.len() >= MAX_TERMS {
            break;
        }
        if !terms.iter().any(|t| t.to_lowercase().contains(&word)) {
            terms.push(word);
        }
    }
    terms
}

fn heading_of(sections: &[markdown::Section], index: usize) -> Option<&str> {
    sections
        .get(index)
        .and_then(|s| s.heading.as_ref())
        .map(|(_, t)| t.as_str())
}

fn beginner(md: &str) -> String {
    let simple = rewrite_paragraphs(md, true);
    let sections = markdown::sections(&simple);
    let sentences = collect_sentences(&simple, &sections);
    let mut out = simple.trim_end().to_string();

    // Per section: its first sentence of at most 20 words, else its shortest one.
    let mut ideas: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sentences.items.len() && ideas.len() < MAX_KEY_IDEAS {
        let section = sentences.items[i].0;
        let group: Vec<&String> = sentences.items[i..]
            .iter()
            .take_while(|(s, _)| *s == section)
            .map(|(_, s)| s)
            .collect();
        i += group.len();
        let pick = group
            .iter()
            .find(|s| word_count(s) <= 20)
            .or_else(|| group.iter().min_by_key(|s| word_count(s)));
        if let Some(s) = pick {
            ideas.push(format!("- {s}"));
        }
    }
    if !ideas.is_empty() {
        out.push_str("\n\n## Key ideas\n\n");
        out.push_str(&ideas.join("\n"));
    }

    let glossary: Vec<String> = technical_terms(md)
        .iter()
        .filter_map(|term| {
            sentences
                .about(term, true)
                .map(|(_, s)| format!("- **{}**: {s}", capitalise(term)))
        })
        .collect();
    if !glossary.is_empty() {
        out.push_str("\n\n## Glossary\n\n");
        out.push_str(&glossary.join("\n"));
    }
    out.push('\n');
    out
}

fn advanced(md: &str) -> String {
    let sections = markdown::sections(md);
    let sentences = collect_sentences(md, &sections);
    let terms = technical_terms(md);
    let mut out = md.trim_end().to_string();

    let entries: Vec<String> = terms
        .iter()
        .filter_map(|term| {
            let (section, sentence) = sentences.about(term, false)?;
            Some(match heading_of(&sections, *section) {
                Some(h) => format!(
                    "- **{}** (introduced in “{h}”): {sentence}",
                    capitalise(term)
                ),
                None => format!("- **{}**: {sentence}", capitalise(term)),
            })
        })
        .collect();
    if !entries.is_empty() {
        out.push_str("\n\n## Key terms\n\n");
        out.push_str(&entries.join("\n"));
    }

    let mut questions = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let Some((_, heading)) = &section.heading else {
            continue;
        };
        if questions.len() >= MAX_QUESTIONS {
            break;
        }
        let term = terms
            .iter()
            .find(|t| sentences.about(t, false).is_some_and(|(s, _)| *s == index))
            .map(String::as_str);
        let n = questions.len() + 1;
        let q = match (term, questions.len() % 3) {
            (Some(t), k) if k % 2 == 0 => format!(
                "{n}. Which assumptions underlie the treatment of {t} in “{heading}”, and under which conditions would the reasoning presented there no longer hold?"
            ),
            (Some(t), _) => format!(
                "{n}. How would you justify the central claims of “{heading}” rigorously, and which of those claims depend essentially on {t}?"
            ),
            (None, 0) => format!(
                "{n}. Compare the approach described in “{heading}” with an alternative formulation, and evaluate the trade-offs in generality, efficiency and robustness."
            ),
            (None, 1) => format!(
                "{n}. Which consequences of the ideas developed in “{heading}” remain unexplored in this chapter, and how could they be investigated systematically?"
            ),
            (None, _) => format!(
                "{n}. Under which circumstances would the conclusions of “{heading}” require qualification, and what additional evidence would strengthen them?"
            ),
        };
        questions.push(q);
    }
    if !questions.is_empty() {
        out.push_str("\n\n## Questions for further study\n\n");
        out.push_str(&questions.join("\n"));
    }
    out.push('\n');
    out
}

fn capitalise(term: &str) -> String {
    let mut c = term.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_respect_case_and_protected_spans() {
        let text = "In order to move, robots utilize motors; `utilize()` stays.";
        let code = text.find('`').unwrap_or(0);
        let protected: Vec<Range<usize>> =
            std::iter::once(code..code + "`utilize()`".len()).collect();
        let (out, kept) = plain_words(text, &protected);
        assert_eq!(out, "To move, robots use motors; `utilize()` stays.");
        assert_eq!(&out[kept[0].clone()], "`utilize()`");
    }

    #[test]
    fn long_sentences_split_between_clauses_not_in_lists() {
        let text = "The robot reads its many sensors every cycle, and the controller then decides what the motors do next.";
        assert_eq!(
            split_sentences(text, &[]),
            "The robot reads its many sensors every cycle. And the controller then decides what the motors do next."
        );
        let list = "Robots use cameras, sonar sensors, and many kinds of bump switches.";
        assert_eq!(split_sentences(list, &[]), list);
        let semi = "Light enters the leaf through the upper surface; chlorophyll absorbs most of the red light.";
        assert_eq!(
            split_sentences(semi, &[]),
            "Light enters the leaf through the upper surface. Chlorophyll absorbs most of the red light."
        );
    }

    #[test]
    fn sentences_skip_abbreviations_and_protected_periods() {
        let text = "Use e.g. a camera. The value $3.5$ is small. Done!";
        let f = text.find('$').unwrap_or(0);
        let protected: Vec<Range<usize>> = std::iter::once(f..f + 5).collect();
        let s = sentences(text, &protected);
        let parts: Vec<_> = s.into_iter().map(|r| &text[r]).collect();
        assert_eq!(
            parts,
            vec!["Use e.g. a camera.", "The value $3.5$ is small.", "Done!"]
        );
    }

    #[test]
    fn offline_output_is_deterministic_and_keeps_code() {
        let md = "# T\n\n**Torque** is a turning force, and motors produce torque at their shafts for the joints.\n\n```python\nprint('in order to')\n```\n";
        let a = adapt(md, Level::Beginner);
        assert_eq!(a, adapt(md, Level::Beginner));
        assert!(a.contains("```python\nprint('in order to')\n```"));
        assert!(a.contains("## Key ideas"));
        assert!(a.contains("## Glossary\n\n- **Torque**:"));
        let adv = adapt(md, Level::Advanced);
        assert!(adv.starts_with(md.trim_end()));
        assert!(adv.contains("## Key terms") && adv.contains("## Questions for further study"));
    }
}
