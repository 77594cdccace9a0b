//! Text analysis for the client-side index: the same rules run here, at
//! index time, and in the default theme's `search.js`, at query time
//! (`tests/search.rs` runs both over the same words and compares).
//!
//! Text is NFC-normalised and lower-cased, then cut into runs of letters and
//! digits. A run of Hangul, Han or Kana is indexed as its syllable bigrams
//! (one syllable alone as itself), which needs no dictionary and no word
//! boundaries: `금리` is a bigram of `기준금리를`. Other runs are indexed
//! as a light English stem (`publishing`, `published`, `publishes` →
//! `publish`). At query time a Korean word also loses a trailing particle
//! (`수출을` → `수출`) before its bigrams are looked up; see `search.js`.

use unicode_normalization::UnicodeNormalization as _;

/// Runs longer than this are not words (hashes, base64): not indexed.
pub const MAX_RUN_CHARS: usize = 40;

/// Hangul syllables, CJK ideographs and kana: scripts written without
/// spaces between words (or, for Korean, with particles attached).
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

/// Normalised text: NFC, lower case.
pub fn normalize(text: &str) -> String {
    // Most text is NFC already: the quick check saves recomposing it.
    match unicode_normalization::is_nfc_quick(text.chars()) {
        unicode_normalization::IsNormalized::Yes => text.to_lowercase(),
        _ => text.nfc().collect::<String>().to_lowercase(),
    }
}

/// A letter or digit (`char::is_alphanumeric`, with Hangul syllables and
/// ASCII answered without the table lookup).
fn is_word_char(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_alphanumeric() } else { matches!(c, '\u{AC00}'..='\u{D7A3}') || c.is_alphanumeric() }
}

/// Calls `f` with every term of `text`, in order, repeats included.
pub fn terms(text: &str, mut f: impl FnMut(&str)) {
    let text = normalize(text);
    let mut buf = String::new();
    for word in text.split(|c: char| !is_word_char(c)).filter(|w| !w.is_empty()) {
        let mut rest = word;
        while let Some(first) = rest.chars().next() {
            let cjk = is_cjk(first);
            let end = rest.char_indices().find(|&(_, c)| is_cjk(c) != cjk).map_or(rest.len(), |(i, _)| i);
            let (run, tail) = rest.split_at(end);
            rest = tail;
            if run.chars().count() > MAX_RUN_CHARS {
                continue;
            }
            if cjk {
                let chars: Vec<(usize, char)> = run.char_indices().collect();
                if chars.len() == 1 {
                    f(run);
                }
                for w in chars.windows(2) {
                    let end = w[1].0 + w[1].1.len_utf8();
                    f(&run[w[0].0..end]);
                }
            } else {
                buf.clear();
                buf.push_str(run);
                stem(&mut buf);
                f(&buf);
            }
        }
    }
}

/// A light English stemmer: plural `-s`/`-ies`/`-sses`, then `-ing`/`-ed`
/// (undoubling `stopped` → `stop`), then a final `-e`, so that `make`,
/// `makes` and `making` meet at `mak`. Only words of ASCII letters longer
/// than three; anything else is left as it is. Not Porter: every rule must
/// also be written in `search.js`, so there are few.
pub fn stem(w: &mut String) {
    if w.len() <= 3 || !w.bytes().all(|b| b.is_ascii_lowercase()) {
        return;
    }
    if w.ends_with("ies") && w.len() > 4 {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if w.ends_with("sses") {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w.truncate(w.len() - 1);
    }
    for suffix in ["ing", "ed"] {
        if w.ends_with(suffix) && w.len() - suffix.len() >= 3 && has_vowel(&w[..w.len() - suffix.len()]) {
            w.truncate(w.len() - suffix.len());
            let b = w.as_bytes();
            let n = b.len();
            if b[n - 1] == b[n - 2] && !b"aeioulsz".contains(&b[n - 1]) {
                w.truncate(n - 1);
            }
            break;
        }
    }
    if w.len() > 3 && w.ends_with('e') {
        w.truncate(w.len() - 1);
    }
}

fn has_vowel(s: &str) -> bool {
    s.bytes().any(|b| b"aeiouy".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<String> {
        let mut out = vec![];
        terms(text, |t| out.push(t.to_string()));
        out
    }

    #[test]
    fn hangul_is_indexed_as_bigrams_so_words_inside_words_match() {
        assert_eq!(all("기준금리를 동결"), ["기준", "준금", "금리", "리를", "동결"]);
        assert_eq!(all("새 정부"), ["새", "정부"]);
        // Mixed runs split by script; numbers stay whole.
        assert_eq!(all("KOSPI지수 3.25%"), ["kospi", "지수", "3", "25"]);
    }

    #[test]
    fn english_words_meet_at_their_stem() {
        let s = |w: &str| {
            let mut w = w.to_string();
            stem(&mut w);
            w
        };
        for (a, b) in [("publishing", "publish"), ("published", "publishes"), ("making", "make"), ("stories", "story"), ("stopped", "stop")]
        {
            assert_eq!(s(a), s(b), "{a} / {b}");
        }
        assert_eq!(s("publishing"), "publish");
        assert_eq!(s("news"), "new");
        assert_eq!(s("bus"), "bus");
        assert_eq!(s("class"), "class");
        assert_eq!(s("café"), "café", "only ASCII words are stemmed");
    }

    #[test]
    fn text_is_normalised_before_it_is_cut() {
        // NFD input (decomposed jamo) finds the same terms as NFC.
        let nfd: String = "금리".nfd().collect();
        assert_eq!(all(&nfd), ["금리"]);
        assert_eq!(all("Ünïcode CAFÉ"), ["ünïcode", "café"]);
        assert!(all(&"a".repeat(41)).is_empty(), "runs over 40 characters are not words");
    }
}
