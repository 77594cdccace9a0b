//! What a build must render, decided from the previous build's record and the
//! current input hashes. A pure function: no I/O beyond the caller's
//! `intact` check, unit-tested here.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::cache::OutputRecord;
use crate::discover::Hash;

/// An output this build produces: its site-relative path and input hash.
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: String,
    pub input: Hash,
}

#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Indices into the planned list that must be rendered.
    pub render: Vec<usize>,
    /// Indices whose previous output is still right.
    pub keep: Vec<usize>,
}

/// `intact(path, record)` says whether the published file still is what the
/// record describes (it exists, same size and mtime); if not, it is redone.
pub fn plan(planned: &[Planned], previous: &BTreeMap<String, OutputRecord>, intact: impl Fn(&str, &OutputRecord) -> bool + Sync) -> Plan {
    // `intact` stats a file: tens of thousands of them on a big site, so in parallel.
    let keep: Vec<bool> =
        planned.par_iter().map(|p| previous.get(&p.path).is_some_and(|rec| rec.input == p.input && intact(&p.path, rec))).collect();
    let mut out = Plan::default();
    for (i, k) in keep.into_iter().enumerate() {
        if k { out.keep.push(i) } else { out.render.push(i) }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::Stamp;

    fn rec(input: u8) -> OutputRecord {
        OutputRecord { input: [input; 32], content: [0; 32], stamp: Stamp { size: 1, mtime_ns: 1, ..Stamp::default() } }
    }

    fn planned(path: &str, input: u8) -> Planned {
        Planned { path: path.into(), input: [input; 32] }
    }

    #[test]
    fn first_build_renders_everything() {
        let p = plan(&[planned("a", 1), planned("b", 2)], &BTreeMap::new(), |_, _| true);
        assert_eq!(p, Plan { render: vec![0, 1], keep: vec![] });
    }

    #[test]
    fn unchanged_inputs_are_kept_and_changed_rendered() {
        let prev: BTreeMap<String, OutputRecord> = [("a".into(), rec(1)), ("b".into(), rec(2)), ("old".into(), rec(3))].into();
        let p = plan(&[planned("a", 1), planned("b", 9), planned("new", 4)], &prev, |_, _| true);
        assert_eq!(p.keep, vec![0]);
        assert_eq!(p.render, vec![1, 2]);
    }

    #[test]
    fn a_damaged_output_is_rendered_again() {
        let prev: BTreeMap<String, OutputRecord> = [("a".into(), rec(1))].into();
        let p = plan(&[planned("a", 1)], &prev, |_, _| false);
        assert_eq!(p.render, vec![0]);
    }
}
