//! What a word is, once for the whole platform: product search, the local embedder and the
//! classroom classifier all cut text with [`words`], so they agree on case, accents and
//! separators.
//!
//! - [`fold`]: lower case without diacritics. The text is put in Unicode compatibility
//!   decomposition (NFKD, `unicode-normalization`: "é" becomes "e" plus a combining accent, the
//!   ligature "ﬁ" becomes "fi") and the combining marks are dropped; the few Latin letters that
//!   have no decomposition are spelled out ("ß" -> "ss", "æ" -> "ae", "œ" -> "oe", "ø" -> "o",
//!   "ł" -> "l", "đ"/"ð" -> "d", "þ" -> "th", dotless "ı" -> "i"); typographic apostrophes become
//!   `'`. ASCII text only has its case changed.
//! - [`words`]: the folded text split on anything that is not a letter or a digit (so an
//!   apostrophe separates words: "l'élève" -> "l", "eleve").

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// `text` in lower case without diacritics ("Crème Brûlée" -> "creme brulee").
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.nfkd().flat_map(char::to_lowercase) {
        match c {
            c if is_combining_mark(c) => {}
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'þ' => out.push_str("th"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'ı' => out.push('i'),
            '’' | '‘' => out.push('\''),
            other => out.push(other),
        }
    }
    out
}

/// The words of `text`: [`fold`]ed, split on anything not alphanumeric, empty pieces dropped.
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_lowercases_and_drops_accents() {
        assert_eq!(fold("Crème Brûlée"), "creme brulee");
        assert_eq!(fold("Straße ÆON Œuvre"), "strasse aeon oeuvre");
        assert_eq!(fold("naïve CAFÉ Ångström"), "naive cafe angstrom");
        assert_eq!(fold("Łódź Ørsted"), "lodz orsted");
        assert_eq!(fold("ﬁne İstanbul"), "fine istanbul");
        assert_eq!(fold("Plain ASCII 42"), "plain ascii 42");
        assert_eq!(fold("don’t"), "don't");
    }

    #[test]
    fn words_split_on_anything_not_alphanumeric() {
        assert_eq!(words("Wi-Fi 6, USB-C!"), ["wi", "fi", "6", "usb", "c"]);
        assert_eq!(
            words("L'élève, à l’école"),
            ["l", "eleve", "a", "l", "ecole"]
        );
        assert_eq!(words("Café au lait"), words("CAFE AU LAIT"));
        assert!(words(" -- ... ").is_empty());
    }
}
