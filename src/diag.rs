//! Content and configuration errors, collected so a build reports all of
//! them at once: each names the file, the line and what to do.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Path relative to the repository root, as the user would type it.
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
    /// The pages a template error was met on: a template that fails for
    /// every article is one error that names the first page and a count.
    pub pages: Vec<String>,
}

impl Diagnostic {
    pub fn new(file: impl AsRef<Path>, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.as_ref().to_path_buf(), line, message: message.into(), hint: None, pages: Vec::new() }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Printable(&self.file.display().to_string()))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", Printable(&self.message))?;
        if let Some(first) = self.pages.first() {
            let more = match self.pages.len() - 1 {
                0 => String::new(),
                1 => " and 1 more page".into(),
                n => format!(" and {n} more pages"),
            };
            write!(f, " (rendering {}{more})", Printable(first))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {}", Printable(hint))?;
        }
        Ok(())
    }
}

/// Text from content (a file name, an alias) shown on a terminal: control
/// characters other than line breaks are written as escapes, so
/// `ctrl\x1b[31m.png` cannot recolour or rewrite the user's terminal.
pub struct Printable<'a>(pub &'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() && c != '\n' {
                write!(f, "\\u{{{:x}}}", c as u32)?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// A list of diagnostics; an error when not empty.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn one(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Keeps the successes of a parallel stage, collecting its errors into `self`.
    pub fn keep_ok<T, E: Into<Diagnostics>, C: Default + Extend<T>>(&mut self, results: impl IntoIterator<Item = Result<T, E>>) -> C {
        let mut out = C::default();
        for r in results {
            match r {
                Ok(v) => out.extend(Some(v)),
                Err(d) => self.extend(d.into()),
            }
        }
        out
    }

    /// `Ok(value)` when nothing was reported.
    pub fn into_result<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            // Parallel stages report in any order; the user sees a stable one.
            self.0.sort();
            self.merge_repeats();
            Err(self)
        }
    }

    /// One entry per error said twice (the same file, line and message),
    /// where it was first said, with its hint and the pages of every repeat:
    /// a template fails once per page it renders (its hint may name what one
    /// page lacks), and once per site sharing it.
    pub fn merge_repeats(&mut self) {
        let mut first: HashMap<(PathBuf, Option<usize>, String), usize> = HashMap::new();
        let mut kept: Vec<Diagnostic> = Vec::with_capacity(self.0.len());
        for d in self.0.drain(..) {
            match first.entry((d.file.clone(), d.line, d.message.clone())) {
                std::collections::hash_map::Entry::Occupied(at) => kept[*at.get()].pages.extend(d.pages),
                std::collections::hash_map::Entry::Vacant(at) => {
                    at.insert(kept.len());
                    kept.push(d);
                }
            }
        }
        for d in &mut kept {
            d.pages.sort_unstable();
            d.pages.dedup();
        }
        self.0 = kept;
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// From serde's "unknown field `titel`, expected one of `title`, …": the
/// field typed and the known one nearest to it, when one is near enough to
/// be what was meant (as rustc and clap suggest).
pub fn nearest_field(msg: &str) -> Option<(String, String)> {
    let mut quoted = msg.split('`').skip(1).step_by(2);
    let typed = quoted.next()?;
    nearest(typed, quoted).map(|known| (typed.to_string(), known.to_string()))
}

/// Of `known`, the name nearest to `typed` when one is near enough to be
/// what was meant: alike, and a typo or two away (`item` is alike to
/// `site` but not what anyone meant by it).
pub fn nearest<'k>(typed: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let (score, known) = known.into_iter().map(|k| (strsim::jaro_winkler(typed, k), k)).max_by(|a, b| a.0.total_cmp(&b.0))?;
    let typos = strsim::damerau_levenshtein(typed, known);
    (score > 0.8 && typos <= (typed.chars().count() / 3).max(1)).then_some(known)
}

#[cfg(test)]
mod tests {
    /// Review: a template error's hint names what one page lacks, so
    /// repeats differ in their hints; they are still one error.
    #[test]
    fn repeats_merge_on_file_line_and_message_with_their_pages() {
        let at = |page: &str, hint: &str| {
            let mut d = super::Diagnostic::new("t.html", Some(3), "Variable `page.x.y` not found").hint(hint);
            d.pages.push(page.into());
            d
        };
        let mut all =
            super::Diagnostics(vec![at("/b/", "`page.x` is empty"), at("/a/", "`page.x` has no `y`"), at("/b/", "`page.x` is empty")]);
        all.merge_repeats();
        assert_eq!(all.len(), 1, "{all}");
        assert_eq!(all.0[0].pages, ["/a/", "/b/"]);
        assert_eq!(all.0[0].hint.as_deref(), Some("`page.x` is empty"), "the first said");
    }

    /// Hardening round 2, case 8: escapes from content reached stderr raw.
    #[test]
    fn terminal_escapes_in_a_diagnostic_are_shown_escaped() {
        let d = super::Diagnostic::new("content/s/ctrl\x1b[31m.md", Some(3), "redirect from `/ctrl\x1b[31m.png`\r").hint("bell\x07");
        let shown = d.to_string();
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "{shown:?}");
        assert!(shown.contains("ctrl\\u{1b}[31m.md:3: redirect from `/ctrl\\u{1b}[31m.png`\\u{d}"), "{shown}");
    }
}
