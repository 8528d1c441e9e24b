//! Reading positions across versions of a chapter.
//!
//! A reading position is a character offset (Unicode scalar values) into the text the reader sees.
//! Character offsets mean nothing across reading levels (the beginner text is longer), so a
//! position is carried as an [`Anchor`]: the section it is in (its heading text, and which
//! occurrence of that heading) and the block within that section (0 = the heading itself, 1 = the
//! first paragraph, list, code block... after it). In the new text the same section is found by its
//! heading (falling back to the same section number, then to the same relative place), and the
//! position becomes the start of the same block there (clamped to the blocks the section has).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::markdown::{self, Section};

/// Where a reading position is, in terms of the chapter's structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Anchor {
    /// Heading of the section (`null` before the first heading).
    pub section: Option<String>,
    /// Which occurrence of that heading text (0 = first), for chapters that repeat a heading.
    pub occurrence: usize,
    /// Index of the section in the text.
    pub section_index: usize,
    /// 0 = the heading, n = the n-th block after it.
    pub paragraph: usize,
}

/// A mapped position: the offset in the new text and the anchor it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MappedPosition {
    /// Character offset in the returned text.
    pub reading_position: u64,
    pub anchor: Anchor,
}

fn norm(heading: &str) -> String {
    heading
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn heading_of(s: &Section) -> Option<String> {
    s.heading.as_ref().map(|(_, t)| t.clone())
}

/// The anchor of character offset `position` in `text`.
pub fn locate(text: &str, position: u64) -> Anchor {
    let sections = markdown::sections(text);
    let byte = markdown::char_to_byte(text, usize::try_from(position).unwrap_or(usize::MAX));
    let index = sections
        .iter()
        .rposition(|s| s.start <= byte)
        .unwrap_or_default();
    let Some(section) = sections.get(index) else {
        return Anchor {
            section: None,
            occurrence: 0,
            section_index: 0,
            paragraph: 0,
        };
    };
    let heading = heading_of(section);
    let occurrence = sections[..index]
        .iter()
        .filter(|s| heading_of(s).map(|h| norm(&h)) == heading.as_deref().map(norm))
        .count();
    let paragraph = section.blocks.iter().filter(|&&b| b <= byte).count();
    Anchor {
        section: heading,
        occurrence,
        section_index: index,
        paragraph,
    }
}

/// The character offset in `text` of the place `anchor` names.
pub fn resolve(text: &str, anchor: &Anchor, sections_before: usize) -> u64 {
    let sections = markdown::sections(text);
    let wanted = anchor.section.as_deref().map(norm);
    let by_heading = sections
        .iter()
        .enumerate()
        .filter(|(_, s)| heading_of(s).map(|h| norm(&h)) == wanted)
        .nth(anchor.occurrence)
        .map(|(i, _)| i);
    let index = by_heading.unwrap_or_else(|| {
        if sections.len() == sections_before {
            anchor.section_index
        } else {
            // Same relative place in a text whose sections differ.
            anchor.section_index * sections.len() / sections_before.max(1)
        }
    });
    let Some(section) = sections.get(index.min(sections.len().saturating_sub(1))) else {
        return 0;
    };
    let byte = match anchor.paragraph {
        0 => section.start,
        n => section
            .blocks
            .get(n.min(section.blocks.len()).saturating_sub(1))
            .copied()
            .unwrap_or(section.start),
    };
    markdown::byte_to_char(text, byte) as u64
}

/// Maps `position` in `from` to the same section and paragraph of `to`.
pub fn map(from: &str, to: &str, position: u64) -> MappedPosition {
    if position == 0 {
        // The start maps to the start; no need to parse two whole chapters for it.
        return MappedPosition {
            reading_position: 0,
            anchor: Anchor {
                section: markdown::leading_heading(from),
                occurrence: 0,
                section_index: 0,
                paragraph: 0,
            },
        };
    }
    let anchor = locate(from, position);
    let before = markdown::sections(from).len();
    MappedPosition {
        reading_position: resolve(to, &anchor, before),
        anchor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "# Robots\n\nRobots are machines that sense, decide and act in the world around them.\n\n## Sensors\n\nSensors measure the world, and they turn light, sound or force into signals.\n\nCameras are common sensors.\n\n## Actuators\n\nMotors move joints.\n";
    const NEW: &str = "# Robots\n\nRobots are machines. They sense, decide and act.\n\n## Sensors\n\nSensors measure the world. They turn light, sound or force into signals. This text is longer now.\n\nCameras are common sensors. You see them everywhere.\n\n## Actuators\n\nMotors move joints.\n\n## Key ideas\n\n- Robots sense and act.\n";

    fn offset_of(text: &str, needle: &str) -> u64 {
        let byte = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not found"));
        markdown::byte_to_char(text, byte) as u64
    }

    #[test]
    fn maps_to_the_same_paragraph_not_the_same_offset() {
        // Somewhere inside "Cameras are common sensors." in the old text.
        let pos = offset_of(OLD, "common sensors");
        let mapped = map(OLD, NEW, pos);
        assert_eq!(mapped.anchor.section.as_deref(), Some("Sensors"));
        assert_eq!(mapped.anchor.paragraph, 2);
        assert_eq!(mapped.reading_position, offset_of(NEW, "Cameras are"));
        assert_ne!(mapped.reading_position, pos);
    }

    #[test]
    fn heading_maps_to_heading_and_out_of_range_clamps() {
        let mapped = map(OLD, NEW, offset_of(OLD, "## Actuators"));
        assert_eq!(mapped.reading_position, offset_of(NEW, "## Actuators"));
        let end = map(OLD, NEW, 1_000_000);
        assert_eq!(end.anchor.section.as_deref(), Some("Actuators"));
        assert_eq!(end.reading_position, offset_of(NEW, "Motors move"));
        let start = map(OLD, NEW, 0);
        assert_eq!(start.reading_position, 0);
        assert_eq!(start.anchor, locate(OLD, 0));
    }

    #[test]
    fn renamed_headings_fall_back_to_section_number() {
        let renamed = OLD.replace("## Sensors", "## Sensing");
        let mapped = map(OLD, &renamed, offset_of(OLD, "Cameras"));
        assert_eq!(mapped.reading_position, offset_of(&renamed, "Cameras"));
    }

    #[test]
    fn multibyte_text_uses_character_offsets() {
        let from = "# Über\n\nÄpfel und Birnen.\n\n## Zwei\n\nÖl.\n";
        let to = "# Über\n\nÄpfel. Und Birnen sind gut.\n\n## Zwei\n\nÖl ist flüssig.\n";
        let mapped = map(from, to, offset_of(from, "Öl."));
        assert_eq!(mapped.reading_position, offset_of(to, "Öl ist"));
    }
}
