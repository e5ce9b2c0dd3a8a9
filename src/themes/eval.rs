//! Evaluate a codebook against texts a person has labelled: precision, recall and F1 per theme,
//! micro and macro averages, and every false positive (with the words that triggered it) and
//! false negative, so that the researcher can see why.
//!
//! [`score`] compares the codes of any coder (patterns, semantic, learned, or several together)
//! with the gold; [`cross_validate`] measures codes learned from the sample itself, each text
//! coded by a classifier that never saw it, with a learning curve.
//!
//! The gold CSV has a header and the columns `id,text,themes`; `themes` holds theme ids
//! separated by `;`, empty for none.

use super::codebook::{Codebook, Coder, Evidence};
use super::learn::{learn, LearnedCoder, Learning, ModelId, MIN_POSITIVES};
use super::vectors::TextVectors;
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

/// Code every gold text with the codebook's patterns and compare.
pub fn evaluate(book: &Codebook, gold: &[Gold]) -> Result<Report> {
    let coder = Coder::new(book)?;
    let predicted: Vec<Vec<Evidence>> = gold.iter().map(|g| coder.code(&g.text)).collect();
    Ok(score(book, gold, &predicted))
}

/// Compare the codes `predicted` for each gold text (indexed like `gold`, by any coder) with
/// the gold themes.
pub fn score(book: &Codebook, gold: &[Gold], predicted: &[Vec<Evidence>]) -> Report {
    assert_eq!(gold.len(), predicted.len(), "codes for every gold text");
    let ids: Vec<&str> = book.themes.iter().map(|t| t.id.as_str()).collect();
    let mut all: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    let known = all.clone();
    for g in gold {
        all.extend(g.themes.iter().cloned());
    }
    let mut counts: BTreeMap<String, (usize, usize, usize)> =
        all.iter().map(|t| (t.clone(), (0, 0, 0))).collect();
    let (mut fps, mut fns) = (Vec::new(), Vec::new());
    for (g, ev) in gold.iter().zip(predicted) {
        let mut predicted: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for e in ev {
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
    Report {
        themes,
        micro,
        macro_avg,
        false_positives: fps,
        false_negatives: fns,
        unknown_themes: all.difference(&known).cloned().collect(),
        texts: gold.len(),
    }
}

/// Each text's codes from two coders, one list after the other: the combined coder.
pub fn union(a: &[Vec<Evidence>], b: &[Vec<Evidence>]) -> Vec<Vec<Evidence>> {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().chain(y).cloned().collect())
        .collect()
}

/// Cross-validation: how well codes learned from part of the sample code the rest.
///
/// The gold texts are dealt into `folds` folds; for every fold, a classifier is learned on the
/// other folds and codes the held-out one, so that every text is coded once by a classifier that
/// never saw it. The folds are stratified by a text's set of themes (texts with none are a
/// stratum of their own), so that each fold holds about its share of every combination, and
/// dealt with a seeded generator written here, so that a run repeats exactly.
pub struct CrossValidation {
    pub folds: usize,
    pub seed: u64,
}

/// Learning-curve sizes: labelled positives per theme in the training folds.
pub const CURVE: [usize; 3] = [10, 25, 50];

/// What `cross_validate` measured.
#[derive(Debug, Clone)]
pub struct CvReport {
    /// The codebook's codes together with the learned ones.
    pub combined: Report,
    pub codebook: Report,
    pub learned: Report,
    pub curve: Vec<CurvePoint>,
    /// Curve sizes the data does not have, and the theme that lacks them.
    pub curve_left_out: Vec<LeftOut>,
    /// The fold of every gold text (indexed like the gold).
    pub fold_of: Vec<usize>,
    /// Themes not learned in a fold (too few positives in its training folds).
    pub skipped: Vec<FoldSkip>,
}

/// One point of the learning curve: trained on `labels_per_theme` positives of each theme,
/// tested on the same held-out folds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CurvePoint {
    pub labels_per_theme: usize,
    /// The learned coder's micro average.
    pub micro: Scores,
    /// The codebook's and the learned codes together.
    pub combined_micro: Scores,
    /// Labelled texts the classifiers learned from, per fold on average.
    pub training_texts: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeftOut {
    pub labels_per_theme: usize,
    pub theme: String,
    /// The fewest positives the theme has in any fold's training folds.
    pub positives: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FoldSkip {
    pub fold: usize,
    pub theme: String,
    pub positives: usize,
}

/// A small, fast, well-mixed generator (SplitMix64) whose sequence is fixed by its definition,
/// not by a crate's version: the same seed deals the same folds in every build.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64, stream: u64) -> SplitMix64 {
        let mut g = SplitMix64(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        g.next();
        g
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates. (The modulo's bias is below 2^-40 for the sizes here.)
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// A number of cross-validation folds that cannot be dealt (fewer than 2, or more than the
/// texts). Typed: the command names its flag (`--cv`).
#[derive(Debug, thiserror::Error)]
#[error("{folds} folds: {}", if *.folds < 2 { "need at least 2".to_string() } else { format!("more folds than the {} labelled texts", .texts) })]
pub struct FoldsError {
    pub folds: usize,
    pub texts: usize,
}

/// Deal the gold texts into `k` stratified folds: each stratum (texts with the same set of
/// themes) is shuffled and dealt round the folds, carrying on from where the last stratum
/// stopped, so the folds' sizes differ by at most one.
pub fn stratified_folds(gold: &[Gold], k: usize, seed: u64) -> Result<Vec<usize>> {
    if k < 2 || k > gold.len() {
        return Err(FoldsError {
            folds: k,
            texts: gold.len(),
        }
        .into());
    }
    let mut strata: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
    for (i, g) in gold.iter().enumerate() {
        strata
            .entry(g.themes.iter().map(String::as_str).collect())
            .or_default()
            .push(i);
    }
    let mut rng = SplitMix64::new(seed, 0);
    let mut fold_of = vec![0; gold.len()];
    let mut next = 0;
    for members in strata.values_mut() {
        rng.shuffle(members);
        for &i in members.iter() {
            fold_of[i] = next % k;
            next += 1;
        }
    }
    Ok(fold_of)
}

/// Cross-validate the learned coder, alone and together with the codebook's codes
/// (`codebook_codes`, indexed like `gold`: patterns, and semantic codes when the codebook has
/// semantic themes). `vectors` are the gold texts' vectors, computed once by the caller.
pub fn cross_validate(
    book: &Codebook,
    gold: &[Gold],
    vectors: &[TextVectors],
    codebook_codes: &[Vec<Evidence>],
    model: &ModelId,
    cv: &CrossValidation,
) -> Result<CvReport> {
    let fold_of = stratified_folds(gold, cv.folds, cv.seed)?;
    let folds: Vec<(Vec<usize>, Vec<usize>)> = (0..cv.folds)
        .map(|f| (0..gold.len()).partition(|&i| fold_of[i] != f))
        .collect();
    let mut learned_codes = vec![Vec::new(); gold.len()];
    let mut skipped = Vec::new();
    for (f, (train, test)) in folds.iter().enumerate() {
        let learning = learn(book, gold, vectors, train, model)?;
        skipped.extend(learning.skipped.iter().map(|s| FoldSkip {
            fold: f,
            theme: s.id.clone(),
            positives: s.positives,
        }));
        code_fold(book, gold, vectors, &learning, test, &mut learned_codes)?;
    }

    // The curve's themes: those learned from the whole sample.
    let themes: Vec<&str> = book
        .themes
        .iter()
        .map(|t| t.id.as_str())
        .filter(|id| gold.iter().filter(|g| g.themes.contains(*id)).count() >= MIN_POSITIVES)
        .collect();
    let (mut curve, mut curve_left_out) = (Vec::new(), Vec::new());
    for n in CURVE {
        let short = themes.iter().find_map(|&t| {
            let fewest = folds
                .iter()
                .map(|(train, _)| {
                    train
                        .iter()
                        .filter(|&&i| gold[i].themes.contains(t))
                        .count()
                })
                .min()
                .unwrap_or(0);
            (fewest < n).then(|| LeftOut {
                labels_per_theme: n,
                theme: t.to_string(),
                positives: fewest,
            })
        });
        if let Some(l) = short {
            curve_left_out.push(l);
            continue;
        }
        let mut codes = vec![Vec::new(); gold.len()];
        let mut texts = 0;
        for (f, (train, test)) in folds.iter().enumerate() {
            let mut rng = SplitMix64::new(cv.seed, 1 + (n * cv.folds + f) as u64);
            let subset = curve_sample(gold, train, &themes, n, &mut rng);
            texts += subset.len();
            let learning = learn(book, gold, vectors, &subset, model)?;
            code_fold(book, gold, vectors, &learning, test, &mut codes)?;
        }
        curve.push(CurvePoint {
            labels_per_theme: n,
            micro: score(book, gold, &codes).micro,
            combined_micro: score(book, gold, &union(codebook_codes, &codes)).micro,
            training_texts: texts as f64 / cv.folds as f64,
        });
    }
    Ok(CvReport {
        combined: score(book, gold, &union(codebook_codes, &learned_codes)),
        codebook: score(book, gold, codebook_codes),
        learned: score(book, gold, &learned_codes),
        curve,
        curve_left_out,
        fold_of,
        skipped,
    })
}

/// Code the held-out texts `test` with what was learned, into `codes`.
fn code_fold(
    book: &Codebook,
    gold: &[Gold],
    vectors: &[TextVectors],
    learning: &Learning,
    test: &[usize],
    codes: &mut [Vec<Evidence>],
) -> Result<()> {
    let coder = LearnedCoder::new(&learning.learned, book)?;
    for &i in test {
        codes[i] = coder.code_vectors(&gold[i].text, &vectors[i]);
    }
    Ok(())
}

/// A labelled sample as a researcher would have coded it with `n` examples of each theme:
/// `n` positives of every theme drawn from `train`, and texts with none of the themes in the
/// proportion `train` has them (a sample coded at random holds those too, and a classifier
/// needs to see them).
fn curve_sample(
    gold: &[Gold],
    train: &[usize],
    themes: &[&str],
    n: usize,
    rng: &mut SplitMix64,
) -> Vec<usize> {
    let mut chosen = BTreeSet::new();
    for &t in themes {
        let mut having: Vec<usize> = train
            .iter()
            .copied()
            .filter(|&i| gold[i].themes.contains(t))
            .collect();
        rng.shuffle(&mut having);
        chosen.extend(having.into_iter().take(n));
    }
    let mut none: Vec<usize> = train
        .iter()
        .copied()
        .filter(|&i| !themes.iter().any(|t| gold[i].themes.contains(*t)))
        .collect();
    let some = train.len() - none.len();
    let want = if some == 0 {
        0
    } else {
        (chosen.len() as f64 * none.len() as f64 / some as f64).round() as usize
    };
    rng.shuffle(&mut none);
    chosen.extend(none.into_iter().take(want));
    chosen.into_iter().collect()
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

    fn g(id: &str, themes: &[&str]) -> Gold {
        Gold {
            id: id.into(),
            text: format!("text {id}"),
            themes: themes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn folds_are_stratified_balanced_and_seeded() {
        let mut gold = Vec::new();
        for i in 0..12 {
            gold.push(g(&format!("a{i}"), &["a"]));
        }
        for i in 0..6 {
            gold.push(g(&format!("b{i}"), &["a", "b"]));
        }
        for i in 0..9 {
            gold.push(g(&format!("n{i}"), &[]));
        }
        let f = stratified_folds(&gold, 3, 7).unwrap();
        assert_eq!(f, stratified_folds(&gold, 3, 7).unwrap(), "a seed repeats");
        assert_ne!(
            f,
            stratified_folds(&gold, 3, 8).unwrap(),
            "another seed deals anew"
        );
        for fold in 0..3 {
            let count = |p: &str| {
                (0..gold.len())
                    .filter(|&i| f[i] == fold && gold[i].id.starts_with(p))
                    .count()
            };
            // Every stratum divides by 3: each fold gets exactly its share of each.
            assert_eq!(
                (count("a"), count("b"), count("n")),
                (4, 2, 3),
                "fold {fold}"
            );
        }
        assert!(stratified_folds(&gold, 1, 7).is_err());
        assert!(stratified_folds(&gold[..2], 3, 7).is_err());
    }

    /// A sample where the patterns find one theme's words and a classifier on hand-made
    /// vectors finds the other's: the combined coder gets both, each coder alone one.
    #[test]
    fn cross_validation_measures_each_coder_and_both() {
        use crate::themes::vectors::TextVectors;
        let book = Codebook::parse(
            r#"
            [meta]
            name = "t"
            [[theme]]
            id = "late"
            label = "Late"
            patterns = ["late"]
            [[theme]]
            id = "rude"
            label = "Rude"
            patterns = ["zzzz"]
            "#,
            "t",
        )
        .unwrap();
        // 60 texts: 20 late (the word "late"; vectors say nothing), 20 rude (no word; vectors
        // near axis 1), 20 neither (near axis 2). A small deterministic wobble keeps the
        // vectors apart.
        let (mut gold, mut vectors) = (Vec::new(), Vec::new());
        for i in 0..60 {
            let w = (i as f32 * 0.37).sin() * 0.2;
            let (themes, text, v): (&[&str], &str, [f32; 3]) = match i % 3 {
                0 => (&["late"], "it was late", [0.5 + w, 0.1, 0.5 - w]),
                1 => (&["rude"], "so very impolite", [0.1 + w, 1.0, 0.1]),
                _ => (&[], "all fine", [0.1, 0.1 - w, 1.0]),
            };
            let mut gi = g(&i.to_string(), themes);
            gi.text = text.into();
            gold.push(gi);
            let mut v = v.to_vec();
            crate::themes::embed::normalize(&mut v);
            vectors.push(TextVectors {
                text: Some(v),
                sentences: vec![],
            });
        }
        let coder = Coder::new(&book).unwrap();
        let pattern: Vec<Vec<Evidence>> = gold.iter().map(|g| coder.code(&g.text)).collect();
        let model = ModelId {
            id: "t3".into(),
            dim: 3,
        };
        let cv = CrossValidation { folds: 4, seed: 3 };
        let r = cross_validate(&book, &gold, &vectors, &pattern, &model, &cv).unwrap();
        assert_eq!(r.codebook.themes["late"].f1, 1.0);
        assert_eq!(r.codebook.themes["rude"].recall, 0.0);
        assert_eq!(r.learned.themes["rude"].f1, 1.0, "{:?}", r.learned.themes);
        assert!(r.combined.themes["rude"].f1 == 1.0 && r.combined.themes["late"].recall == 1.0);
        assert!(r.combined.micro.f1 > r.codebook.micro.f1);
        // 15 positives per theme in each training part (20 × 3/4): the curve has N = 10 only.
        assert_eq!(r.curve.len(), 1);
        assert_eq!(r.curve[0].labels_per_theme, 10);
        // 10 late + 10 rude, and 10 of the texts with neither (as many as in the data).
        assert_eq!(r.curve[0].training_texts, 30.0);
        assert_eq!(r.curve_left_out.len(), 2);
        assert_eq!(
            r.curve_left_out[0],
            LeftOut {
                labels_per_theme: 25,
                theme: "late".into(),
                positives: 15
            }
        );
        // Again with the same seed: the same bits.
        let again = cross_validate(&book, &gold, &vectors, &pattern, &model, &cv).unwrap();
        assert_eq!(again.fold_of, r.fold_of);
        assert_eq!(again.learned, r.learned);
        assert_eq!(again.curve, r.curve);
    }
}
