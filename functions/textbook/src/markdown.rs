//! The Markdown structure of a chapter, read with `pulldown-cmark` (CommonMark with tables,
//! footnotes, strikethrough and `$...$` / `$$...$$` math): top-level blocks with their byte ranges,
//! sections split at headings, the spans that must never be rewritten (code blocks, formulas,
//! inline code, links, HTML), and the plain prose used for readability.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The parser options every module uses, so all agree on what a heading or a formula is.
pub fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_MATH
}

/// What kind of top-level block a [`Block`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Heading(u8),
    Paragraph,
    List,
    Code,
    Quote,
    Table,
    Html,
    Rule,
    Other,
}

/// A top-level block and where it is in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    pub range: Range<usize>,
    /// The heading's text (headings only).
    pub text: String,
}

/// A heading and the blocks up to the next heading (the preamble before the first heading has
/// no heading).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: Option<(u8, String)>,
    /// Byte offset where the section starts (its heading, or 0 for the preamble).
    pub start: usize,
    /// Byte offset where the next section starts (or the end of the text).
    pub end: usize,
    /// Start offsets of the section's blocks after its heading.
    pub blocks: Vec<usize>,
}

/// The top-level blocks of `md`, in order.
pub fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut heading_text: Option<String> = None;
    for (event, range) in Parser::new_ext(md, options()).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    let kind = match &tag {
                        Tag::Heading { level, .. } => {
                            heading_text = Some(String::new());
                            BlockKind::Heading(*level as u8)
                        }
                        Tag::Paragraph => BlockKind::Paragraph,
                        Tag::List(_) => BlockKind::List,
                        Tag::CodeBlock(_) => BlockKind::Code,
                        Tag::BlockQuote(_) => BlockKind::Quote,
                        Tag::Table(_) => BlockKind::Table,
                        Tag::HtmlBlock => BlockKind::Html,
                        _ => BlockKind::Other,
                    };
                    out.push(Block {
                        kind,
                        range: range.clone(),
                        text: String::new(),
                    });
                }
                depth += 1;
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && matches!(end, TagEnd::Heading(_))
                    && let (Some(text), Some(last)) = (heading_text.take(), out.last_mut())
                {
                    last.text = text.trim().to_string();
                }
            }
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) => {
                if let Some(h) = heading_text.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::Rule if depth == 0 => out.push(Block {
                kind: BlockKind::Rule,
                range,
                text: String::new(),
            }),
            _ => {}
        }
    }
    out
}

/// The text of the heading `md` starts with, if its first block is a heading (reads no further).
pub fn leading_heading(md: &str) -> Option<String> {
    let mut text: Option<String> = None;
    for event in Parser::new_ext(md, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) if text.is_none() => text = Some(String::new()),
            Event::Start(_) if text.is_none() => return None,
            Event::Rule if text.is_none() => return None,
            Event::End(TagEnd::Heading(_)) => return text.map(|t| t.trim().to_string()),
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) => {
                if let Some(h) = text.as_mut() {
                    h.push_str(&t);
                }
            }
            _ => {}
        }
    }
    None
}

/// `md` split at its headings (every level). Always at least one section.
pub fn sections(md: &str) -> Vec<Section> {
    let mut out = vec![Section {
        heading: None,
        start: 0,
        end: md.len(),
        blocks: Vec::new(),
    }];
    for block in blocks(md) {
        if let BlockKind::Heading(level) = block.kind {
            if let Some(last) = out.last_mut() {
                last.end = block.range.start;
            }
            out.push(Section {
                heading: Some((level, block.text)),
                start: block.range.start,
                end: md.len(),
                blocks: Vec::new(),
            });
        } else if let Some(last) = out.last_mut() {
            last.blocks.push(block.range.start);
        }
    }
    // Drop an empty preamble (text that starts with a heading).
    if out.len() > 1 && out[0].blocks.is_empty() && md[..out[0].end].trim().is_empty() {
        out.remove(0);
        if let Some(first) = out.first_mut() {
            first.start = 0;
        }
    }
    out
}

/// Byte ranges that a rewrite must keep verbatim: code blocks, formulas (inline and display),
/// inline code, links and images (text and target), raw HTML and footnote references.
pub fn protected_ranges(md: &str) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for (event, range) in Parser::new_ext(md, options()).into_offset_iter() {
        let keep = matches!(
            &event,
            Event::Start(
                Tag::CodeBlock(_)
                    | Tag::Link { .. }
                    | Tag::Image { .. }
                    | Tag::HtmlBlock
                    | Tag::Table(_)
                    | Tag::MetadataBlock(_)
            ) | Event::Code(_)
                | Event::InlineMath(_)
                | Event::DisplayMath(_)
                | Event::Html(_)
                | Event::InlineHtml(_)
                | Event::FootnoteReference(_)
        );
        if keep {
            match out.last_mut() {
                Some(last) if range.start < last.end => last.end = last.end.max(range.end),
                _ => out.push(range),
            }
        }
    }
    out
}

/// Byte ranges of code blocks and formulas only: what the model adapter replaces with
/// placeholders so the model cannot alter them. The flag is true for block-level items
/// (code blocks, display math on their own lines).
pub fn frozen_ranges(md: &str) -> Vec<(Range<usize>, bool)> {
    let mut out: Vec<(Range<usize>, bool)> = Vec::new();
    for (event, range) in Parser::new_ext(md, options()).into_offset_iter() {
        let block = match &event {
            Event::Start(Tag::CodeBlock(_)) => true,
            Event::DisplayMath(_) => own_line(md, &range),
            Event::InlineMath(_) => false,
            _ => continue,
        };
        if out.last().is_some_and(|(last, _)| range.start < last.end) {
            continue;
        }
        let mut range = range;
        if block {
            // A code block's range ends after its closing fence's newline: keep that outside.
            while range.end > range.start && md.as_bytes()[range.end - 1] == b'\n' {
                range.end -= 1;
            }
        }
        out.push((range, block));
    }
    out
}

fn own_line(md: &str, range: &Range<usize>) -> bool {
    let before = md[..range.start].rsplit('\n').next().unwrap_or_default();
    let after = md[range.end..].split('\n').next().unwrap_or_default();
    before.trim().is_empty() && after.trim().is_empty()
}

/// Byte ranges of the paragraphs (at any depth, outside tables) whose prose a rewrite may touch.
pub fn paragraphs(md: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut in_table = 0usize;
    for (event, range) in Parser::new_ext(md, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Table(_)) => in_table += 1,
            Event::End(TagEnd::Table) => in_table = in_table.saturating_sub(1),
            Event::Start(Tag::Paragraph) if in_table == 0 => out.push(range),
            _ => {}
        }
    }
    out
}

/// Terms the chapter marks as important: its bold and italic spans of one to four words, in order
/// of first appearance, without duplicates (case-insensitive).
pub fn emphasised_terms(md: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut depth = 0usize;
    for event in Parser::new_ext(md, options()) {
        match event {
            Event::Start(Tag::Strong | Tag::Emphasis) => {
                depth += 1;
                current.get_or_insert_with(String::new);
            }
            Event::End(TagEnd::Strong | TagEnd::Emphasis) => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && let Some(term) = current.take()
                {
                    let term = term
                        .trim()
                        .trim_end_matches([':', '.', ',', ';'])
                        .to_string();
                    let words = term.split_whitespace().count();
                    if (1..=4).contains(&words)
                        && term.len() <= 48
                        && !out.iter().any(|t| t.eq_ignore_ascii_case(&term))
                    {
                        out.push(term);
                    }
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t);
                }
            }
            _ => {}
        }
    }
    out
}

/// The prose of `md` for readability: text of headings, paragraphs, list items and table cells,
/// each ending a sentence; code blocks, formulas and raw HTML left out; inline code kept as words.
pub fn prose(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut skip = 0usize;
    for event in Parser::new_ext(md, options()) {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::HtmlBlock | Tag::MetadataBlock(_)) => skip += 1,
            Event::End(TagEnd::CodeBlock | TagEnd::HtmlBlock | TagEnd::MetadataBlock(_)) => {
                skip = skip.saturating_sub(1);
            }
            Event::Text(t) | Event::Code(t) if skip == 0 => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::TableCell,
            ) => end_sentence(&mut out),
            _ => {}
        }
    }
    out
}

/// Ends the current sentence: a period unless the text already ends with one, then a space.
fn end_sentence(out: &mut String) {
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    match out.chars().last() {
        None => {}
        Some('.' | '!' | '?') => out.push(' '),
        Some(_) => out.push_str(". "),
    }
}

/// Converts a character offset into a byte offset (clamped to the end).
pub fn char_to_byte(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(byte, _)| byte)
}

/// Converts a byte offset into a character offset.
pub fn byte_to_char(text: &str, byte: usize) -> usize {
    let mut b = byte.min(text.len());
    while !text.is_char_boundary(b) {
        b -= 1;
    }
    text[..b].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = "Intro text.\n\n# Title\n\nFirst para.\n\n```rust\n# not a heading\nfn x() {}\n```\n\n## Part two\n\n- a\n- b\n\nInline $x^2$ and `code`.\n\n$$\nE = mc^2\n$$\n";

    #[test]
    fn sections_split_at_real_headings_only() {
        let s = sections(MD);
        let headings: Vec<_> = s.iter().map(|s| s.heading.clone().map(|h| h.1)).collect();
        assert_eq!(
            headings,
            vec![None, Some("Title".into()), Some("Part two".into())]
        );
        assert_eq!(s[1].blocks.len(), 2, "paragraph and code block");
        assert_eq!(
            s[2].blocks.len(),
            3,
            "list, paragraph, display math paragraph"
        );
        assert_eq!(s[0].end, s[1].start);
    }

    #[test]
    fn frozen_ranges_cover_code_and_formulas() {
        let f: Vec<_> = frozen_ranges(MD)
            .into_iter()
            .map(|(r, block)| (&MD[r], block))
            .collect();
        assert_eq!(f[0], ("```rust\n# not a heading\nfn x() {}\n```", true));
        assert_eq!(f[1], ("$x^2$", false));
        assert_eq!(f[2], ("$$\nE = mc^2\n$$", true));
    }

    #[test]
    fn prose_ends_blocks_as_sentences_and_skips_code() {
        let p = prose(MD);
        assert!(p.contains("Title. First para."), "{p}");
        assert!(!p.contains("fn x"));
        assert!(!p.contains("mc^2"));
    }

    #[test]
    fn leading_heading_reads_only_the_first_block() {
        assert_eq!(leading_heading("# A `b`\n\ntext").as_deref(), Some("A b"));
        assert_eq!(leading_heading("text\n\n# A"), None);
    }

    #[test]
    fn char_byte_conversions() {
        let t = "héllo wörld";
        assert_eq!(char_to_byte(t, 2), 3);
        assert_eq!(byte_to_char(t, 3), 2);
        assert_eq!(char_to_byte(t, 999), t.len());
    }
}
