//! Offline adapter and readability on the sample chapters in `samples/`.

use crate::{
    adapt::{Level, offline},
    markdown, position,
    readability::of_markdown,
};

pub const SAMPLES: [(&str, &str); 3] = [
    ("robotics", include_str!("../samples/robotics.md")),
    (
        "photosynthesis",
        include_str!("../samples/photosynthesis.md"),
    ),
    ("algorithms", include_str!("../samples/algorithms.md")),
];

#[test]
fn beginner_is_easier_than_the_original_and_advanced_not_easier_than_intermediate() {
    for (name, md) in SAMPLES {
        let original = of_markdown(md);
        let [b, i, a] = Level::ALL.map(|l| of_markdown(&offline::adapt(md, l)));
        println!(
            "{name}: original {:.1} beginner {:.1} intermediate {:.1} advanced {:.1}",
            original.flesch_kincaid_grade,
            b.flesch_kincaid_grade,
            i.flesch_kincaid_grade,
            a.flesch_kincaid_grade
        );
        assert!(
            b.flesch_kincaid_grade < original.flesch_kincaid_grade,
            "{name}: beginner {b:?} vs original {original:?}"
        );
        assert!(
            a.flesch_kincaid_grade >= i.flesch_kincaid_grade,
            "{name}: advanced {a:?} vs intermediate {i:?}"
        );
    }
}

#[test]
fn offline_levels_keep_structure_code_and_formulas() {
    for (name, md) in SAMPLES {
        let frozen: Vec<&str> = markdown::frozen_ranges(md)
            .into_iter()
            .map(|(r, _)| &md[r])
            .collect();
        let headings: Vec<String> = markdown::sections(md)
            .into_iter()
            .filter_map(|s| s.heading.map(|h| h.1))
            .collect();
        for level in Level::ALL {
            let out = offline::adapt(md, level);
            for f in &frozen {
                assert!(out.contains(f), "{name} {level:?} lost {f}");
            }
            let out_headings: Vec<String> = markdown::sections(&out)
                .into_iter()
                .filter_map(|s| s.heading.map(|h| h.1))
                .collect();
            assert_eq!(
                &out_headings[..headings.len()],
                &headings[..],
                "{name} {level:?}"
            );
        }
        let beginner = offline::adapt(md, Level::Beginner);
        assert!(beginner.contains("\n## Key ideas\n\n- "), "{name}");
        assert!(beginner.contains("\n## Glossary\n\n- **"), "{name}");
        let advanced = offline::adapt(md, Level::Advanced);
        assert!(
            advanced.starts_with(md.trim_end()),
            "{name}: original first"
        );
        assert!(advanced.contains("\n## Key terms\n\n- **"), "{name}");
        assert!(
            advanced.contains("\n## Questions for further study\n\n1. "),
            "{name}"
        );
    }
}

#[test]
fn position_in_a_sample_maps_to_the_same_section_at_every_level() {
    let md = SAMPLES[0].1;
    let pos =
        markdown::byte_to_char(md, md.find("Feedback control of this kind").unwrap_or(0)) as u64;
    for level in Level::ALL {
        let out = offline::adapt(md, level);
        let mapped = position::map(md, &out, pos);
        assert_eq!(mapped.anchor.section.as_deref(), Some("Control"));
        let at = markdown::char_to_byte(&out, mapped.reading_position as usize);
        assert!(
            out[at..].starts_with("Feedback control of this kind"),
            "{level:?}: {}",
            &out[at..at + 40]
        );
    }
}
