//! Content and configuration errors, collected so a build reports all of
//! them at once: each names the file, the line and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Path relative to the repository root, as the user would type it.
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(file: impl AsRef<Path>, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.as_ref().to_path_buf(), line, message: message.into(), hint: None }
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
            self.0.dedup();
            Err(self)
        }
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
    let (score, known) = quoted.map(|k| (strsim::jaro_winkler(typed, k), k)).max_by(|a, b| a.0.total_cmp(&b.0))?;
    (score > 0.8).then(|| (typed.to_string(), known.to_string()))
}

#[cfg(test)]
mod tests {
    /// Hardening round 2, case 8: escapes from content reached stderr raw.
    #[test]
    fn terminal_escapes_in_a_diagnostic_are_shown_escaped() {
        let d = super::Diagnostic::new("content/s/ctrl\x1b[31m.md", Some(3), "redirect from `/ctrl\x1b[31m.png`\r").hint("bell\x07");
        let shown = d.to_string();
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "{shown:?}");
        assert!(shown.contains("ctrl\\u{1b}[31m.md:3: redirect from `/ctrl\\u{1b}[31m.png`\\u{d}"), "{shown}");
    }
}
