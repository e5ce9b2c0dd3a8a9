//! Evaluate a codebook against texts a person has labelled: precision, recall and F1 per theme,
//! micro and macro averages, and every false positive (with the words that triggered it) and
//! false negative, so that the researcher can see why.
//!
//! The gold CSV has a header and the columns `id,text,themes`; `themes` holds theme ids
//! separated by `;`, empty for none.

use super::codebook::{Codebook, Coder};
use super::rollup::PostCoder;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One labelled text.
#[derive(Debug, Clone)]
pub struct Gold {
    pub id: String,
    pub text: String,
    pub themes: BTreeSet<String>,
}

/// Read a gold CSV; errors name the file and line.
pub fn read_gold(path: &Path) -> Result<Vec<Gold>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("{}: cannot open", path.display()))?;
    let headers = r
        .headers()
        .with_context(|| format!("{}: cannot read the header", path.display()))?
        .clone();
    let col = |name: &str| -> Result<usize> {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| {
                format!(
                    "{}: no column {name:?} (need id,text,themes)",
                    path.display()
                )
            })
    };
    let (id, text, themes) = (col("id")?, col("text")?, col("themes")?);
    let mut out = Vec::new();
    for (k, rec) in r.records().enumerate() {
        let line = k + 2;
        let rec = rec.with_context(|| format!("{}:{line}: not a CSV row", path.display()))?;
        let field = |i: usize| -> Result<&str> {
            rec.get(i)
                .with_context(|| format!("{}:{line}: too few columns", path.display()))
        };
        out.push(Gold {
            id: field(id)?.to_string(),
            text: field(text)?.to_string(),
            themes: field(themes)?
                .split(';')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    if out.is_empty() {
        bail!("{}: no labelled rows", path.display());
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Scores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

impl Scores {
    fn from_counts(tp: usize, fp: usize, fn_: usize) -> Scores {
        // No prediction (or no gold) gives 0, as scikit-learn does with zero_division=0.
        let p = if tp + fp == 0 {
            0.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let r = if tp + fn_ == 0 {
            0.0
        } else {
            tp as f64 / (tp + fn_) as f64
        };
        let f = if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        };
        Scores {
            precision: p,
            recall: r,
            f1: f,
            support: tp + fn_,
        }
    }
}

/// A code that was wrong or missed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Miss {
    pub id: String,
    pub theme: String,
    /// False positives: the words that triggered the code. False negatives: empty.
    pub evidence: Vec<String>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub themes: BTreeMap<String, Scores>,
    pub micro: Scores,
    pub macro_avg: Scores,
    pub false_positives: Vec<Miss>,
    pub false_negatives: Vec<Miss>,
    /// Gold theme ids the codebook does not have (they can only be missed).
    pub unknown_themes: Vec<String>,
    pub texts: usize,
}

/// Code every gold text and compare.
pub fn evaluate(book: &Codebook, gold: &[Gold]) -> Result<Report> {
    evaluate_with(book, gold, &[])
}

/// [`evaluate`] with more coders (the semantic coder): each is handed a gold text's index in
/// `gold` and its text, as model coders are handed a post's index in its `PostSet`.
pub fn evaluate_with(book: &Codebook, gold: &[Gold], extra: &[&dyn PostCoder]) -> Result<Report> {
    let coder = Coder::new(book)?;
    let ids: Vec<&str> = book.themes.iter().map(|t| t.id.as_str()).collect();
    let mut all: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    let known = all.clone();
    for g in gold {
        all.extend(g.themes.iter().cloned());
    }
    let mut counts: BTreeMap<String, (usize, usize, usize)> =
        all.iter().map(|t| (t.clone(), (0, 0, 0))).collect();
    let (mut fps, mut fns) = (Vec::new(), Vec::new());
    for (i, g) in gold.iter().enumerate() {
        let mut ev = coder.code(&g.text);
        for c in extra {
            ev.extend(c.code(i, &g.text));
        }
        let mut predicted: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for e in &ev {
            predicted
                .entry(ids[e.theme])
                .or_default()
                .push(e.text.clone());
        }
        for (theme, words) in &predicted {
            let c = counts
                .get_mut(*theme)
                .expect("every codebook theme is counted");
            if g.themes.contains(*theme) {
                c.0 += 1;
            } else {
                c.1 += 1;
                fps.push(Miss {
                    id: g.id.clone(),
                    theme: theme.to_string(),
                    evidence: words.clone(),
                    text: g.text.clone(),
                });
            }
        }
        for theme in &g.themes {
            if !predicted.contains_key(theme.as_str()) {
                counts
                    .get_mut(theme)
                    .expect("every gold theme is counted")
                    .2 += 1;
                fns.push(Miss {
                    id: g.id.clone(),
                    theme: theme.clone(),
                    evidence: Vec::new(),
                    text: g.text.clone(),
                });
            }
        }
    }
    let themes: BTreeMap<String, Scores> = counts
        .iter()
        .map(|(t, &(tp, fp, fn_))| (t.clone(), Scores::from_counts(tp, fp, fn_)))
        .collect();
    let (tp, fp, fn_) = counts
        .values()
        .fold((0, 0, 0), |a, &(x, y, z)| (a.0 + x, a.1 + y, a.2 + z));
    let micro = Scores::from_counts(tp, fp, fn_);
    let n = themes.len().max(1) as f64;
    let macro_avg = Scores {
        precision: themes.values().map(|s| s.precision).sum::<f64>() / n,
        recall: themes.values().map(|s| s.recall).sum::<f64>() / n,
        f1: themes.values().map(|s| s.f1).sum::<f64>() / n,
        support: themes.values().map(|s| s.support).sum(),
    };
    Ok(Report {
        themes,
        micro,
        macro_avg,
        false_positives: fps,
        false_negatives: fns,
        unknown_themes: all.difference(&known).cloned().collect(),
        texts: gold.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_from_counts() {
        let s = Scores::from_counts(3, 1, 2);
        assert_eq!((s.precision, s.recall, s.support), (0.75, 0.6, 5));
        assert!((s.f1 - 2.0 * 0.75 * 0.6 / 1.35).abs() < 1e-12);
        assert_eq!(Scores::from_counts(0, 0, 0).f1, 0.0);
    }

    #[test]
    fn evaluation_counts_hits_misses_and_false_alarms() {
        let book = Codebook::parse(
            r#"
            [meta]
            name = "t"
            [[theme]]
            id = "training"
            label = "T"
            patterns = ["train"]
            [[theme]]
            id = "rigid"
            label = "R"
            patterns = ["rigid"]
            "#,
            "t",
        )
        .unwrap();
        let gold = |id: &str, text: &str, themes: &[&str]| Gold {
            id: id.into(),
            text: text.into(),
            themes: themes.iter().map(|s| s.to_string()).collect(),
        };
        let r = evaluate(
            &book,
            &[
                gold("1", "more training", &["training"]),
                gold("2", "trained staff, rigid rules", &["training"]),
                gold("3", "nothing here", &["rigid"]),
                gold("4", "the rules", &["unknown-theme"]),
            ],
        )
        .unwrap();
        assert_eq!(r.themes["training"], Scores::from_counts(2, 0, 0));
        assert_eq!(r.themes["rigid"], Scores::from_counts(0, 1, 1));
        assert_eq!(r.themes["unknown-theme"], Scores::from_counts(0, 0, 1));
        assert_eq!(r.micro, Scores::from_counts(2, 1, 2));
        assert_eq!(r.false_positives.len(), 1);
        assert_eq!(r.false_positives[0].evidence, ["rigid"]);
        assert_eq!(r.false_negatives.len(), 2);
        assert_eq!(r.unknown_themes, ["unknown-theme"]);
        assert!((r.macro_avg.f1 - (1.0 + 0.0 + 0.0) / 3.0).abs() < 1e-12);
    }
}
