//! Codes learned from a coded sample: a researcher codes some texts by hand (a gold CSV), and a
//! classifier per theme learns from their embeddings to code the rest.
//!
//! Qualitative researchers scale a coding this way: code a sample, check agreement, and let it
//! grow to the rest only where it measurably holds (`themes eval --cv` is the measuring half).
//! The classifier is the plainest one that works well on sentence embeddings: one-vs-rest
//! logistic regression per theme, with the settings scikit-learn users know
//! (`LogisticRegression(C=1.0, class_weight="balanced")`): classes weighted `n / (2 n_c)` so
//! that a rare theme is not drowned by the texts without it, an L2 penalty on the weights
//! (not on the intercept), and a solver in this file (L-BFGS) so that a run repeats exactly,
//! bit for bit, on every machine.
//!
//! What is learned goes into a model file ([`Learned`], JSON) that the researcher keeps beside
//! the codebook. It records the embedding model it was trained with, because weights learned on
//! one model's vectors mean nothing on another's, and the labelled examples with their vectors,
//! so that every learned code can cite the most similar text a person coded with that theme:
//! a researcher reading an export can judge the code by its evidence, as with patterns.

use super::codebook::{Codebook, CoderKind, Evidence};
use super::embed::dot;
use super::eval::Gold;
use super::rollup::PostCoder;
use super::vectors::TextVectors;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The `format` of a model file.
pub const FORMAT: &str = "rethread-learned";
/// The `version` of the model files this build writes and reads.
pub const VERSION: u32 = 1;
/// The inverse of the L2 penalty's strength, scikit-learn's default.
pub const C: f64 = 1.0;
/// A post gets a learned code when the theme's probability is at least this.
pub const THRESHOLD: f64 = 0.5;
/// A theme with fewer labelled positives than this is not learned: one example teaches the
/// classifier that one text, not the theme.
pub const MIN_POSITIVES: usize = 2;

/// A model file: what `themes learn` writes and `--learned` reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Learned {
    /// Always [`FORMAT`]: a reader can tell this file from any other JSON.
    pub format: String,
    /// [`VERSION`] when written.
    pub version: u32,
    /// The embedding model's id (`Embed::id`) the vectors and weights come from.
    pub model: String,
    /// Its vectors' length.
    pub dim: usize,
    /// The name of the codebook whose themes were learned.
    pub codebook: String,
    /// The regularisation used (C of scikit-learn).
    pub c: f64,
    /// The probability from which a post is coded.
    pub threshold: f64,
    /// The sample never gave a text two of the learned themes (one intent per message, say):
    /// then a post gets at most one learned code, its most probable theme, as the researcher
    /// coded. Absent in files written before it existed: false.
    #[serde(default)]
    pub exclusive: bool,
    pub themes: Vec<LearnedTheme>,
    /// The labelled texts the classifiers learned from, with their vectors.
    pub examples: Vec<Example>,
}

/// One theme's classifier: `probability = 1 / (1 + exp(-(weights · vector + bias)))`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LearnedTheme {
    pub id: String,
    pub label: String,
    pub weights: Vec<f64>,
    pub bias: f64,
    /// Labelled texts with the theme, and without it, that it learned from.
    pub positives: usize,
    pub negatives: usize,
    /// L-BFGS steps the fit took; MAX_ITERATIONS means it stopped short of the minimum
    /// (`themes learn` warns). 0 in files written before it was recorded.
    #[serde(default)]
    pub iterations: usize,
}

/// A labelled text as the researcher coded it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub id: String,
    pub text: String,
    pub themes: Vec<String>,
    /// The text's vector (unit length).
    pub vector: Vec<f32>,
}

/// A theme of the codebook that was not learned, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub id: String,
    pub positives: usize,
    pub negatives: usize,
}

/// What `learn` made, and what it had to leave out.
#[derive(Debug, Clone)]
pub struct Learning {
    pub learned: Learned,
    /// Codebook themes with too few positives (or no negatives) in the sample.
    pub skipped: Vec<Skipped>,
    /// Theme ids of the sample that the codebook does not have (they are not learned).
    pub unknown_themes: Vec<String>,
    /// Ids of labelled texts with nothing left to embed (left out).
    pub unembedded: Vec<String>,
}

/// Which embedding model the vectors come from.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelId {
    pub id: String,
    pub dim: usize,
}

/// Learn a classifier for every theme of `book` from the labelled texts `rows` of `gold`
/// (indices; `vectors` is indexed like `gold`).
///
/// Themes are learned in parallel; each fit is sequential and starts from zero, so the result
/// does not depend on the number of threads.
pub fn learn(
    book: &Codebook,
    gold: &[Gold],
    vectors: &[TextVectors],
    rows: &[usize],
    model: &ModelId,
) -> Result<Learning> {
    use rayon::prelude::*;
    assert_eq!(
        gold.len(),
        vectors.len(),
        "a vector entry per labelled text"
    );
    let known: BTreeSet<&str> = book.themes.iter().map(|t| t.id.as_str()).collect();
    let mut unknown = BTreeSet::new();
    let mut unembedded = Vec::new();
    let mut used: Vec<(usize, &[f32])> = Vec::new();
    for &r in rows {
        for t in &gold[r].themes {
            if !known.contains(t.as_str()) {
                unknown.insert(t.clone());
            }
        }
        match &vectors[r].text {
            Some(v) if v.len() == model.dim => used.push((r, v)),
            Some(v) => bail!(
                "labelled text {:?}: a vector of length {} from a model of dimension {}",
                gold[r].id,
                v.len(),
                model.dim
            ),
            None => unembedded.push(gold[r].id.clone()),
        }
    }
    let x = Rows::new(used.iter().map(|&(_, v)| v), model.dim);
    let fits: Vec<std::result::Result<LearnedTheme, Skipped>> = book
        .themes
        .par_iter()
        .map(|t| {
            let y: Vec<bool> = used
                .iter()
                .map(|&(r, _)| gold[r].themes.contains(&t.id))
                .collect();
            let positives = y.iter().filter(|&&b| b).count();
            let negatives = y.len() - positives;
            if positives < MIN_POSITIVES || negatives == 0 {
                return Err(Skipped {
                    id: t.id.clone(),
                    positives,
                    negatives,
                });
            }
            let fit = fit_logistic(&x, &y, C);
            Ok(LearnedTheme {
                id: t.id.clone(),
                label: t.label.clone(),
                weights: fit.weights,
                bias: fit.bias,
                positives,
                negatives,
                iterations: fit.iterations,
            })
        })
        .collect();
    let (mut themes, mut skipped) = (Vec::new(), Vec::new());
    for f in fits {
        match f {
            Ok(t) => themes.push(t),
            Err(s) => skipped.push(s),
        }
    }
    // One code per text in the sample, when it has a learned theme at all: the researcher coded
    // the themes as exclusive, and the classifiers, trained one theme against the rest, would
    // otherwise often say yes to two (each is trained as if the others did not exist).
    let learned_ids: BTreeSet<&str> = themes.iter().map(|t| t.id.as_str()).collect();
    let exclusive = themes.len() > 1
        && used.iter().all(|&(r, _)| {
            gold[r]
                .themes
                .iter()
                .filter(|t| learned_ids.contains(t.as_str()))
                .count()
                <= 1
        });
    let examples = used
        .iter()
        .map(|&(r, v)| Example {
            id: gold[r].id.clone(),
            text: gold[r].text.clone(),
            themes: gold[r].themes.iter().cloned().collect(),
            vector: v.to_vec(),
        })
        .collect();
    Ok(Learning {
        learned: Learned {
            format: FORMAT.into(),
            version: VERSION,
            model: model.id.clone(),
            dim: model.dim,
            codebook: book.meta.name.clone(),
            c: C,
            threshold: THRESHOLD,
            exclusive,
            themes,
            examples,
        },
        skipped,
        unknown_themes: unknown.into_iter().collect(),
        unembedded,
    })
}

impl Learned {
    /// Read and check a model file; errors name the file.
    pub fn load(path: &Path) -> Result<Learned> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the learned model", path.display()))?;
        // The format first, so that another JSON file gets a plain answer rather than a
        // complaint about a missing field.
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            version: Option<u32>,
        }
        let header: Header = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: not a learned model (made by `rethread themes learn`): {e}",
                path.display()
            )
        })?;
        if header.format.as_deref() != Some(FORMAT) {
            bail!(
                "{}: not a learned model (made by `rethread themes learn`): format {:?}, expected {FORMAT:?}",
                path.display(),
                header.format.unwrap_or_default()
            );
        }
        if header.version != Some(VERSION) {
            bail!(
                "{}: learned model version {:?}; this rethread reads version {VERSION}: learn it again",
                path.display(),
                header.version
            );
        }
        let mut de = serde_json::Deserializer::from_str(&text);
        let learned: Learned = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| anyhow::anyhow!("{}: bad learned model: {e}", path.display()))?;
        learned
            .check()
            .with_context(|| format!("{}: bad learned model", path.display()))?;
        Ok(learned)
    }

    fn check(&self) -> Result<()> {
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            bail!("threshold {} is not between 0 and 1", self.threshold);
        }
        for t in &self.themes {
            if t.weights.len() != self.dim {
                bail!(
                    "theme {:?}: {} weights for vectors of dimension {}",
                    t.id,
                    t.weights.len(),
                    self.dim
                );
            }
            if !t.bias.is_finite() || t.weights.iter().any(|w| !w.is_finite()) {
                bail!("theme {:?}: a weight is not a finite number", t.id);
            }
        }
        for e in &self.examples {
            if e.vector.len() != self.dim {
                bail!(
                    "example {:?}: a vector of length {} for dimension {}",
                    e.id,
                    e.vector.len(),
                    self.dim
                );
            }
        }
        Ok(())
    }

    /// Write the model file (atomically: an earlier file at `path` stays whole until the new
    /// one is complete).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::export::atomic::write(path, crate::export::atomic::Durability::Synced, |w| {
            serde_json::to_writer(&mut *w, self)?;
            std::io::Write::write_all(w, b"\n")?;
            Ok(())
        })
    }

    /// Refuse to apply these weights to vectors of another model: they would give confident
    /// nonsense, not an error.
    pub fn check_model(&self, model: &ModelId, path: &Path) -> Result<()> {
        if self.model != model.id || self.dim != model.dim {
            bail!(
                "{}: learned with the embedding model {:?} (dimension {}), but the model in use is \
                 {:?} (dimension {}): pass the same --model, or learn again with this one",
                path.display(),
                self.model,
                self.dim,
                model.id,
                model.dim
            );
        }
        Ok(())
    }
}

/// The learned classifiers, ready to code texts with a codebook's theme numbering.
pub struct LearnedCoder<'a> {
    learned: &'a Learned,
    /// (index of the theme in the codebook, its classifier, the examples having it).
    themes: Vec<(usize, &'a LearnedTheme, Vec<usize>)>,
}

impl<'a> LearnedCoder<'a> {
    /// `learned`'s themes must all be in `book` (codes are numbered by the codebook's themes).
    pub fn new(learned: &'a Learned, book: &Codebook) -> Result<LearnedCoder<'a>> {
        let index: BTreeMap<&str, usize> = book
            .themes
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let missing: Vec<&str> = learned
            .themes
            .iter()
            .map(|t| t.id.as_str())
            .filter(|id| !index.contains_key(id))
            .collect();
        if !missing.is_empty() {
            bail!(
                "the learned themes {} (codebook {:?}) are not in the codebook {:?}: pass the \
                 codebook it was learned with (--codebook)",
                missing.join(", "),
                learned.codebook,
                book.meta.name
            );
        }
        let themes = learned
            .themes
            .iter()
            .map(|t| {
                let having = (0..learned.examples.len())
                    .filter(|&e| learned.examples[e].themes.contains(&t.id))
                    .collect();
                (index[t.id.as_str()], t, having)
            })
            .collect();
        Ok(LearnedCoder { learned, themes })
    }

    /// The learned codes of one text, from its vectors: every theme whose probability reaches
    /// the threshold (only the most probable one when the model is `exclusive`), with the
    /// sentence that scores highest for it and the most similar labelled example having it.
    pub fn code_vectors(&self, text: &str, v: &TextVectors) -> Vec<Evidence> {
        let Some(whole) = &v.text else {
            return Vec::new();
        };
        let mut coded: Vec<(f64, &(usize, &LearnedTheme, Vec<usize>))> = self
            .themes
            .iter()
            .map(|entry| (sigmoid(score(&entry.1.weights, entry.1.bias, whole)), entry))
            .filter(|(p, _)| *p >= self.learned.threshold)
            .collect();
        if self.learned.exclusive {
            // The first of equals wins, so that the choice does not depend on float noise order.
            let best =
                coded
                    .iter()
                    .enumerate()
                    .fold(None::<(usize, f64)>, |b, (i, (p, _))| match b {
                        Some((_, bp)) if bp >= *p => b,
                        _ => Some((i, *p)),
                    });
            coded = best.map(|(i, _)| coded[i]).into_iter().collect();
        }
        let mut out = Vec::new();
        for (p, (theme, t, having)) in coded {
            // The sentence the classifier likes best: where, in a long post, the theme is.
            let best = v.sentences.iter().max_by(|a, b| {
                score(&t.weights, t.bias, &a.vector)
                    .total_cmp(&score(&t.weights, t.bias, &b.vector))
            });
            let (start, end) = match best {
                Some(s) => (s.start, s.end),
                None => v.span().unwrap_or((0, text.chars().count())),
            };
            let example = having
                .iter()
                .map(|&e| &self.learned.examples[e])
                .max_by(|a, b| dot(whole, &a.vector).total_cmp(&dot(whole, &b.vector)))
                .map(|e| e.text.clone());
            out.push(Evidence {
                theme: *theme,
                coder: CoderKind::Learned,
                pattern: String::new(),
                text: chars(text, start, end),
                start,
                end,
                similarity: None,
                probability: Some(p),
                example,
            });
        }
        out
    }

    /// A `PostCoder` over posts whose vectors are `vectors` (indexed like the `PostSet`).
    pub fn for_posts<'b>(&'b self, vectors: &'b [TextVectors]) -> LearnedPosts<'b> {
        LearnedPosts {
            coder: self,
            vectors,
        }
    }
}

/// The learned coder over a set of posts' vectors.
pub struct LearnedPosts<'b> {
    coder: &'b LearnedCoder<'b>,
    vectors: &'b [TextVectors],
}

impl PostCoder for LearnedPosts<'_> {
    fn code(&self, index: usize, text: &str) -> Vec<Evidence> {
        match self.vectors.get(index) {
            Some(v) => self.coder.code_vectors(text, v),
            None => Vec::new(),
        }
    }
}

/// Characters `start..end` of `text`.
fn chars(text: &str, start: usize, end: usize) -> String {
    text.chars()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect()
}

fn score(weights: &[f64], bias: f64, v: &[f32]) -> f64 {
    bias + weights
        .iter()
        .zip(v)
        .map(|(w, &x)| w * f64::from(x))
        .sum::<f64>()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^z)` without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// The training vectors as one row-major matrix of f64 (the fit reads them hundreds of times).
pub struct Rows {
    data: Vec<f64>,
    dim: usize,
}

impl Rows {
    pub fn new<'v>(rows: impl Iterator<Item = &'v [f32]>, dim: usize) -> Rows {
        let data: Vec<f64> = rows.flat_map(|r| r.iter().map(|&x| f64::from(x))).collect();
        Rows { data, dim }
    }

    fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// A fitted binary classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub weights: Vec<f64>,
    pub bias: f64,
    /// L-BFGS iterations used.
    pub iterations: usize,
}

/// Balanced-weight, L2-penalised logistic regression, as scikit-learn's
/// `LogisticRegression(C=c, class_weight="balanced")` fits it: the minimum over `w, b` of
///
/// ```text
///   ||w||² / 2  +  c · Σ_i s_i · log(1 + exp(-y_i (w·x_i + b)))      (y_i = ±1)
/// ```
///
/// with `s_i = n / (2 n_{class of i})`. The function is smooth and strictly convex in `w`, so
/// L-BFGS from zero finds the one minimum; it is minimised here divided by `c · Σ s_i` (the
/// same minimum), which keeps the gradient's size independent of the number of rows and lets
/// one tolerance fit every sample size.
pub fn fit_logistic(x: &Rows, y: &[bool], c: f64) -> Fit {
    let n = x.len();
    assert_eq!(n, y.len());
    let pos = y.iter().filter(|&&b| b).count();
    assert!(pos > 0 && pos < n, "both classes are needed");
    let (sp, sn) = (
        n as f64 / (2.0 * pos as f64),
        n as f64 / (2.0 * (n - pos) as f64),
    );
    let s: Vec<f64> = y.iter().map(|&b| if b { sp } else { sn }).collect();
    let total: f64 = s.iter().sum();
    let problem = Problem {
        x,
        y,
        s: &s,
        scale: 1.0 / total,
        l2: 1.0 / (c * total),
    };
    let (theta, iterations) = lbfgs(&problem, x.dim + 1);
    Fit {
        weights: theta[..x.dim].to_vec(),
        bias: theta[x.dim],
        iterations,
    }
}

/// The scaled objective of `fit_logistic`; `theta` is the weights followed by the bias.
struct Problem<'a> {
    x: &'a Rows,
    y: &'a [bool],
    s: &'a [f64],
    scale: f64,
    l2: f64,
}

impl Problem<'_> {
    /// The objective at `theta`, and its gradient into `grad`.
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.x.dim;
        let (w, b) = (&theta[..d], theta[d]);
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = 0.0;
        for i in 0..self.x.len() {
            let row = self.x.row(i);
            let z = b + w.iter().zip(row).map(|(a, x)| a * x).sum::<f64>();
            let t = if self.y[i] { 1.0 } else { 0.0 };
            // -log-likelihood of a logistic model: softplus(z) - t·z; its slope σ(z) - t.
            loss += self.s[i] * (softplus(z) - t * z);
            let g = self.s[i] * (sigmoid(z) - t);
            for (gj, xj) in grad[..d].iter_mut().zip(row) {
                *gj += g * xj;
            }
            grad[d] += g;
        }
        let mut f = loss * self.scale;
        grad.iter_mut().for_each(|g| *g *= self.scale);
        for j in 0..d {
            f += 0.5 * self.l2 * w[j] * w[j];
            grad[j] += self.l2 * w[j];
        }
        f
    }
}

/// Stop when no gradient component is larger than this (the objective is O(1), see above).
const GTOL: f64 = 1e-9;
pub const MAX_ITERATIONS: usize = 2000;
/// Stop when a step lowers the objective by less than this, relative to it (see `lbfgs`).
const FTOL: f64 = 1e-13;
/// Pairs of steps L-BFGS remembers.
const MEMORY: usize = 10;

/// Minimise `p` from zero with L-BFGS and a backtracking (Armijo) line search. The objective
/// is convex, so every step's curvature `s·y` is positive and the two-loop recursion keeps a
/// descent direction; should rounding say otherwise, the memory is dropped and the step is a
/// plain gradient step. Returns the minimum and the iterations it took.
fn lbfgs(p: &Problem, n: usize) -> (Vec<f64>, usize) {
    let mut x = vec![0.0; n];
    let mut g = vec![0.0; n];
    let mut f = p.eval(&x, &mut g);
    let mut mem: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = Default::default();
    let (mut xn, mut gn) = (vec![0.0; n], vec![0.0; n]);
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) <= GTOL {
            break;
        }
        iterations += 1;
        // Two-loop recursion: d = -H·g with H built from the remembered steps.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut alphas = Vec::with_capacity(mem.len());
        for (s, y, rho) in mem.iter().rev() {
            let a = rho * vdot(s, &d);
            axpy(-a, y, &mut d);
            alphas.push(a);
        }
        if let Some((s, y, _)) = mem.back() {
            let gamma = vdot(s, y) / vdot(y, y);
            d.iter_mut().for_each(|v| *v *= gamma);
        }
        for ((s, y, rho), a) in mem.iter().zip(alphas.iter().rev()) {
            let b = rho * vdot(y, &d);
            axpy(a - b, s, &mut d);
        }
        let mut slope = vdot(&g, &d);
        if slope >= 0.0 {
            mem.clear();
            d = g.iter().map(|v| -v).collect();
            slope = vdot(&g, &d);
        }
        // The first step has no curvature to go by: keep it to unit length.
        let mut t = if mem.is_empty() {
            (1.0 / vdot(&d, &d).sqrt()).min(1.0)
        } else {
            1.0
        };
        let mut fn_;
        let mut tries = 0;
        loop {
            for k in 0..n {
                xn[k] = x[k] + t * d[k];
            }
            fn_ = p.eval(&xn, &mut gn);
            if fn_ <= f + 1e-4 * t * slope || tries == 60 {
                break;
            }
            t *= 0.5;
            tries += 1;
        }
        if fn_ > f {
            // No decrease left at this precision: x is the minimum as far as f64 can tell.
            break;
        }
        let s: Vec<f64> = (0..n).map(|k| xn[k] - x[k]).collect();
        let y: Vec<f64> = (0..n).map(|k| gn[k] - g[k]).collect();
        let sy = vdot(&s, &y);
        if sy > 1e-12 * vdot(&y, &y).max(f64::MIN_POSITIVE) {
            if mem.len() == MEMORY {
                mem.pop_front();
            }
            mem.push_back((s, y, 1.0 / sy));
        }
        std::mem::swap(&mut x, &mut xn);
        std::mem::swap(&mut g, &mut gn);
        let decrease = f - fn_;
        f = fn_;
        // Near the minimum, rounding keeps the gradient from reaching GTOL while every step
        // still gains a few ulps: stop when a step no longer changes the objective by more
        // than FTOL of its size (scipy's L-BFGS-B stops the same way, at 2.2e-9).
        if decrease <= FTOL * f.abs().max(1.0) {
            break;
        }
    }
    (x, iterations)
}

fn vdot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::themes::vectors::SentenceVector;

    /// Two points, x = +1 (positive) and x = -1 (negative), one dimension. By symmetry the
    /// bias is 0; each class weight is 2/(2·1) = 1, so the objective is
    /// w²/2 + 2·log(1 + e^-w), whose slope w - 2/(1 + e^w) vanishes where w·(1 + e^w) = 2.
    #[test]
    fn the_two_point_optimum_is_where_the_slope_vanishes() {
        let x = Rows::new([&[1.0f32][..], &[-1.0f32][..]].into_iter(), 1);
        let fit = fit_logistic(&x, &[true, false], 1.0);
        let w = fit.weights[0];
        assert!(fit.bias.abs() < 1e-9, "bias {}", fit.bias);
        assert!((w * (1.0 + w.exp()) - 2.0).abs() < 1e-8, "w = {w}");
        assert!((w - 0.6749).abs() < 1e-3, "w = {w}");
        // C scales the data term: with C = 10, w·(1 + e^w) = 20.
        let w10 = fit_logistic(&x, &[true, false], 10.0).weights[0];
        assert!((w10 * (1.0 + w10.exp()) - 20.0).abs() < 1e-7, "w = {w10}");
    }

    /// Ten unit-length points in 3 dimensions, 7 positive and 3 negative, not separable.
    /// The reference is scikit-learn 1.9.1, computed once with
    /// `LogisticRegression(C=1.0, class_weight="balanced", tol=1e-12, max_iter=100000)`
    /// on these f32 values (as f64).
    #[test]
    fn matches_scikit_learn_on_an_unbalanced_sample() {
        let pts: [[f32; 3]; 10] = [
            [0.9091373085975647, 0.10101525485515594, 0.4040610194206238],
            [0.8081220388412476, -0.30304574966430664, 0.5050762891769409],
            [0.696526050567627, 0.597022294998169, -0.3980148732662201],
            [0.19900743663311005, 0.8955334424972534, 0.3980148732662201],
            [-0.09950371831655502, 0.7960297465324402, 0.597022294998169],
            [-0.6092076897621155, 0.5076730847358704, 0.6092076897621155],
            [
                -0.8070932626724243,
                -0.20177331566810608,
                0.5548766255378723,
            ],
            [
                -0.30151134729385376,
                -0.9045340418815613,
                0.30151134729385376,
            ],
            [0.502518892288208, -0.703526496887207, -0.502518892288208],
            [
                0.10045813024044037,
                0.20091626048088074,
                -0.9744438529014587,
            ],
        ];
        let y = [
            true, true, true, true, true, false, false, false, true, true,
        ];
        let x = Rows::new(pts.iter().map(|p| &p[..]), 3);
        let fit = fit_logistic(&x, &y, 1.0);
        let want_w = [1.3283215323928312, 0.5770224376072096, -0.5835353509725681];
        let want_b = 0.2330563513237326;
        for (got, want) in fit.weights.iter().zip(want_w) {
            assert!((got - want).abs() < 1e-6, "{:?} vs {want_w:?}", fit.weights);
        }
        assert!((fit.bias - want_b).abs() < 1e-6, "bias {}", fit.bias);
        let p0 = sigmoid(score(&fit.weights, fit.bias, &pts[0]));
        assert!((p0 - 0.7795742775287832).abs() < 1e-6);
        let p6 = sigmoid(score(&fit.weights, fit.bias, &pts[6]));
        assert!((p6 - 0.21767947285358077).abs() < 1e-6);
        // The same input gives the same bits.
        assert_eq!(fit, fit_logistic(&x, &y, 1.0));
    }

    #[test]
    fn a_separable_sample_stays_finite() {
        // Without the penalty the weights would grow without bound; with it they stop.
        let x = Rows::new(
            [&[1.0f32, 0.0][..], &[0.0, 1.0][..], &[0.9, 0.1][..]].into_iter(),
            2,
        );
        let fit = fit_logistic(&x, &[true, false, true], 1.0);
        assert!(fit.weights.iter().all(|w| w.is_finite() && w.abs() < 10.0));
        assert!(fit.iterations < MAX_ITERATIONS);
        assert!(fit.weights[0] > 0.0 && fit.weights[1] < 0.0);
    }

    /// Sentence vectors of a small coded sample are separable: the fit's minimum is reached in
    /// tens of steps, and rounding near it must not keep L-BFGS busy to MAX_ITERATIONS (it
    /// did: 2000 steps of a few ulps each, seconds a theme).
    #[test]
    fn a_fit_stops_at_the_minimum_instead_of_chasing_rounding() {
        let mut seed = 12345u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64 - 0.5) as f32
        };
        for (n, dim) in [(43, 384), (29, 384), (60, 64)] {
            let rows: Vec<Vec<f32>> = (0..n)
                .map(|_| {
                    let mut v: Vec<f32> = (0..dim).map(|_| next()).collect();
                    crate::themes::embed::normalize(&mut v);
                    v
                })
                .collect();
            let y: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
            let x = Rows::new(rows.iter().map(|r| &r[..]), dim);
            let fit = fit_logistic(&x, &y, 1.0);
            assert!(
                fit.iterations < 200,
                "n={n} dim={dim}: {} iterations",
                fit.iterations
            );
        }
        // A real case: one training fold of `themes eval --cv 3 --seed 7` on
        // fixtures/gold/service.csv (the "refund" theme, all-MiniLM-L6-v2 vectors), where the
        // gradient stalled at about 1e-8 and the fit ran to MAX_ITERATIONS.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/learn/stalled_fold.json"
        );
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let rows: Vec<Vec<f32>> = serde_json::from_value(d["rows"].clone()).unwrap();
        let y: Vec<bool> = serde_json::from_value(d["y"].clone()).unwrap();
        let x = Rows::new(rows.iter().map(|r| &r[..]), rows[0].len());
        let fit = fit_logistic(&x, &y, 1.0);
        assert!(
            fit.iterations < 200,
            "the real fold: {} iterations",
            fit.iterations
        );
        assert!(fit.weights.iter().all(|w| w.is_finite()));
    }

    fn book() -> Codebook {
        Codebook::parse(
            r#"
            [meta]
            name = "two"
            [[theme]]
            id = "late"
            label = "Late"
            patterns = ["late"]
            [[theme]]
            id = "rude"
            label = "Rude"
            patterns = ["rude"]
            [[theme]]
            id = "rare"
            label = "Rare"
            patterns = ["rare"]
            "#,
            "t",
        )
        .unwrap()
    }

    fn unit(v: [f32; 3]) -> Vec<f32> {
        let mut v = v.to_vec();
        crate::themes::embed::normalize(&mut v);
        v
    }

    /// Hand-made 3-d "embeddings": axis 0 means late, axis 1 rude, axis 2 neither.
    fn sample() -> (Vec<Gold>, Vec<TextVectors>) {
        let rows: [(&str, [f32; 3], &[&str]); 9] = [
            ("l1", [1.0, 0.1, 0.2], &["late"]),
            ("l2", [0.9, 0.0, 0.3], &["late"]),
            ("l3", [0.8, 0.2, 0.1], &["late", "other"]),
            ("r1", [0.1, 1.0, 0.2], &["rude"]),
            ("r2", [0.0, 0.9, 0.3], &["rude"]),
            ("r3", [0.2, 0.8, 0.0], &["rude", "rare"]),
            ("n1", [0.1, 0.1, 1.0], &[]),
            ("n2", [0.2, 0.0, 0.9], &[]),
            ("n3", [0.0, 0.2, 0.8], &[]),
        ];
        let gold = rows
            .iter()
            .map(|(id, _, th)| Gold {
                id: id.to_string(),
                text: format!("text {id}"),
                themes: th.iter().map(|s| s.to_string()).collect(),
            })
            .collect();
        let vectors = rows
            .iter()
            .map(|(_, v, _)| TextVectors {
                text: Some(unit(*v)),
                sentences: vec![],
            })
            .collect();
        (gold, vectors)
    }

    fn model() -> ModelId {
        ModelId {
            id: "test-3d".into(),
            dim: 3,
        }
    }

    #[test]
    fn learn_skips_rare_themes_and_reports_unknown_ones() {
        let (gold, vectors) = sample();
        let rows: Vec<usize> = (0..gold.len()).collect();
        let l = learn(&book(), &gold, &vectors, &rows, &model()).unwrap();
        let ids: Vec<&str> = l.learned.themes.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["late", "rude"]);
        assert_eq!(
            (l.learned.themes[0].positives, l.learned.themes[0].negatives),
            (3, 6)
        );
        assert_eq!(l.skipped.len(), 1);
        assert_eq!(
            l.skipped[0],
            Skipped {
                id: "rare".into(),
                positives: 1,
                negatives: 8
            }
        );
        assert_eq!(l.unknown_themes, ["other"]);
        assert_eq!(l.learned.examples.len(), 9);
        assert_eq!(l.learned.model, "test-3d");
        assert_eq!(l.learned.codebook, "two");
    }

    #[test]
    fn the_coder_gives_the_best_sentence_and_the_closest_example() {
        let (gold, vectors) = sample();
        let rows: Vec<usize> = (0..gold.len()).collect();
        let l = learn(&book(), &gold, &vectors, &rows, &model()).unwrap();
        let book = book();
        let coder = LearnedCoder::new(&l.learned, &book).unwrap();
        // "Fine. It was late again." — the second sentence is the late one.
        let text = "Fine. It was late again.";
        let v = TextVectors {
            text: Some(unit([0.85, 0.05, 0.4])),
            sentences: vec![
                SentenceVector {
                    start: 0,
                    end: 5,
                    vector: unit([0.0, 0.1, 1.0]),
                },
                SentenceVector {
                    start: 6,
                    end: 24,
                    vector: unit([1.0, 0.0, 0.1]),
                },
            ],
        };
        let ev = coder.code_vectors(text, &v);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let e = &ev[0];
        assert_eq!(book.themes[e.theme].id, "late");
        assert_eq!(e.coder, CoderKind::Learned);
        assert_eq!(
            (e.start, e.end, e.text.as_str()),
            (6, 24, "It was late again.")
        );
        assert!(e.probability.unwrap() >= 0.5);
        // l2 = [0.9, 0, 0.3] is the late example nearest [0.85, 0.05, 0.4].
        assert_eq!(e.example.as_deref(), Some("text l2"));
        // A text that is neither gets nothing; a text with nothing to embed neither.
        let none = TextVectors {
            text: Some(unit([0.0, 0.1, 1.0])),
            sentences: vec![],
        };
        assert!(coder.code_vectors("plain", &none).is_empty());
        assert!(coder.code_vectors("", &TextVectors::default()).is_empty());
        // As a PostCoder, by the post's index.
        let posts = [none, v];
        let pc = coder.for_posts(&posts);
        assert!(pc.code(0, "plain").is_empty());
        assert_eq!(pc.code(1, text).len(), 1);
    }

    #[test]
    fn a_sample_with_one_theme_a_text_gives_one_learned_code_a_post() {
        let (mut gold, vectors) = sample();
        let rows: Vec<usize> = (0..gold.len()).collect();
        let book = book();
        // Halfway between late and rude: both classifiers say yes.
        let both = TextVectors {
            text: Some(unit([0.7, 0.7, 0.1])),
            sentences: vec![],
        };
        let l = learn(&book, &gold, &vectors, &rows, &model()).unwrap();
        assert!(l.learned.exclusive, "no text has both late and rude");
        let ev = LearnedCoder::new(&l.learned, &book)
            .unwrap()
            .code_vectors("late and rude", &both);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let p = |t: &LearnedTheme| sigmoid(score(&t.weights, t.bias, both.text.as_ref().unwrap()));
        let best = if p(&l.learned.themes[0]) >= p(&l.learned.themes[1]) {
            "late"
        } else {
            "rude"
        };
        assert_eq!(book.themes[ev[0].theme].id, best);

        // One text coded with both: the themes are not exclusive, and the post gets both.
        gold[0].themes.insert("rude".into());
        let l = learn(&book, &gold, &vectors, &rows, &model()).unwrap();
        assert!(!l.learned.exclusive);
        let ev = LearnedCoder::new(&l.learned, &book)
            .unwrap()
            .code_vectors("late and rude", &both);
        assert_eq!(ev.len(), 2, "{ev:?}");
    }

    #[test]
    fn the_model_file_round_trips_and_refuses_other_models() {
        let (gold, vectors) = sample();
        let rows: Vec<usize> = (0..gold.len()).collect();
        let l = learn(&book(), &gold, &vectors, &rows, &model()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        l.learned.save(&path).unwrap();
        let back = Learned::load(&path).unwrap();
        assert_eq!(back, l.learned);
        back.check_model(&model(), &path).unwrap();
        let other = ModelId {
            id: "other".into(),
            dim: 3,
        };
        let e = back.check_model(&other, &path).unwrap_err().to_string();
        assert!(
            e.contains("m.json") && e.contains("\"test-3d\"") && e.contains("\"other\""),
            "{e}"
        );
        let wider = ModelId {
            id: "test-3d".into(),
            dim: 384,
        };
        assert!(back.check_model(&wider, &path).is_err());

        // Not a model file; a model file of another version; a broken one.
        std::fs::write(&path, r#"{"themes": []}"#).unwrap();
        let e = Learned::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("m.json") && e.contains("not a learned model"),
            "{e}"
        );
        std::fs::write(&path, r#"{"format": "rethread-learned", "version": 99}"#).unwrap();
        assert!(Learned::load(&path)
            .unwrap_err()
            .to_string()
            .contains("version"));
        let mut bad = serde_json::to_value(&l.learned).unwrap();
        bad["themes"][0]["weights"] = serde_json::json!([1.0]);
        std::fs::write(&path, bad.to_string()).unwrap();
        let e = format!("{:#}", Learned::load(&path).unwrap_err());
        assert!(e.contains("m.json") && e.contains("1 weights"), "{e}");
    }

    #[test]
    fn a_codebook_without_the_learned_themes_is_refused() {
        let (gold, vectors) = sample();
        let rows: Vec<usize> = (0..gold.len()).collect();
        let l = learn(&book(), &gold, &vectors, &rows, &model()).unwrap();
        let other = Codebook::default_codebook();
        let e = LearnedCoder::new(&l.learned, &other)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("late") && e.contains("--codebook"), "{e}");
    }
}
