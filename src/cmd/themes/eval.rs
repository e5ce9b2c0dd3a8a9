//! `rethread themes eval`: how well a codebook codes texts a person has labelled.
//!
//! ```text
//! rethread themes eval [--codebook FILE] --gold FILE.csv [--learned FILE] [--model DIR]
//! rethread themes eval [--codebook FILE] --gold FILE.csv --cv K [--seed S] [--model DIR]
//! ```

use super::learn::{embed_gold, model_id};
use crate::cmd::ModelArgs;
use anyhow::Result;
use rethread::themes::eval::{
    cross_validate, score, union, CrossValidation, CvReport, Report, Scores,
};
use rethread::themes::learn::{Learned, LearnedCoder};
use rethread::themes::{semantic_coder, Codebook, Coder, Evidence};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

/// Code labelled texts with a codebook and compare: precision, recall, F1 and support per theme,
/// micro and macro averages, and the false positives (with the words that triggered them) and
/// false negatives.
///
/// The gold CSV has the columns `id,text,themes` (theme ids separated by `;`, empty for none).
///
/// With --learned FILE, the codes of a classifier from `themes learn` are added. With --cv K,
/// a classifier is learned from the gold itself, K times: the texts are dealt into K folds
/// (stratified by their set of themes, shuffled with --seed, so a run repeats exactly), and each
/// fold is coded by a classifier learned on the other K-1. The report is then for the codebook's
/// and the learned codes together; JSON adds `by_coder` (`codebook`, `learned`: the same keys
/// each) and `curve`, the learned codes' micro average when trained on 10, 25 and 50 coded
/// texts per theme (where every theme has that many in the training folds).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The codebook to evaluate (the built-in one when absent).
    #[command(flatten)]
    pub codebook: crate::cmd::CodebookArg,

    /// The labelled texts: a CSV (id,text,themes), or a REFI-QDA project (.qdpx) whose
    /// transcripts rethread wrote, coded or corrected in a qualitative tool.
    #[arg(long, value_name = "FILE.csv|FILE.qdpx")]
    pub gold: PathBuf,

    /// table or json.
    #[arg(long, short = 'f', value_name = "FORMAT", value_parser = crate::cmd::formats(&["table", "json"]), default_value = "table")]
    pub format: crate::cmd::OutputFormat,

    /// In the table, how many false positives and negatives to list (JSON lists all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub show: usize,

    /// Add the codes of a classifier learned with `rethread themes learn`.
    #[arg(long, value_name = "FILE", conflicts_with = "cv")]
    pub learned: Option<PathBuf>,

    /// Cross-validate codes learned from the gold itself, with K folds.
    #[arg(long, value_name = "K")]
    pub cv: Option<usize>,

    /// The seed that deals the folds and draws the learning curve's samples.
    #[arg(long, value_name = "S", default_value_t = 1, requires = "cv")]
    pub seed: u64,

    #[command(flatten)]
    pub model: ModelArgs,
}

/// What was measured: one report, or the combined coder's with each coder's and a curve.
struct Measured {
    combined: Report,
    by_coder: Option<(Report, Report)>,
    cv: Option<CvReport>,
}

fn scores(s: &Scores) -> Value {
    json!({"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support})
}

/// A report's JSON: the keys `themes eval` has always printed.
fn report_json(r: &Report) -> Value {
    json!({
        "themes": r.themes.iter().map(|(k, v)| (k.clone(), scores(v))).collect::<serde_json::Map<_, _>>(),
        "micro": scores(&r.micro),
        "macro": scores(&r.macro_avg),
        "texts": r.texts,
        "unknown_themes": r.unknown_themes,
        "false_positives": r.false_positives,
        "false_negatives": r.false_negatives,
    })
}

/// Code the gold with the codebook (its patterns, and its semantic themes), and with learned
/// codes when asked.
fn measure(args: &Args, book: &Codebook) -> Result<Measured> {
    let gold = super::read_gold(&args.gold, book)?;
    let coder = Coder::new(book)?;
    let mut codebook: Vec<Vec<Evidence>> = gold.iter().map(|g| coder.code(&g.text)).collect();
    let semantic = book.themes.iter().any(|t| t.semantic);
    if !semantic && args.cv.is_none() && args.learned.is_none() {
        return Ok(Measured {
            combined: score(book, &gold, &codebook),
            by_coder: None,
            cv: None,
        });
    }
    // Cross-validation and learned codes cannot run without the model; semantic themes alone
    // fall back to their patterns, with the one warning every command gives.
    let model = if args.cv.is_some() || args.learned.is_some() {
        args.model.load()?
    } else {
        match args.model.load_optional()? {
            Some(model) => model,
            None => {
                crate::cmd::warn_no_model(book, &book.semantic_themes());
                return Ok(Measured {
                    combined: score(book, &gold, &codebook),
                    by_coder: None,
                    cv: None,
                });
            }
        }
    };
    let id = model_id(&model);
    // Read and check the model file before the (slow) embedding.
    let learned = match &args.learned {
        Some(path) => {
            let l = Learned::load(path)?;
            l.check_model(&id, path)?;
            LearnedCoder::new(&l, book)?;
            Some(l)
        }
        None => None,
    };
    // Embedded once for the whole run: every fold and curve point reuses these.
    let vectors = embed_gold(&gold, &model)?;
    if let Some(sc) = semantic_coder(book, &model)? {
        for ((codes, g), v) in codebook.iter_mut().zip(&gold).zip(&vectors) {
            codes.extend(sc.code_vectors(&g.text, v));
        }
    }
    if let Some(k) = args.cv {
        let cv = CrossValidation {
            folds: k,
            seed: args.seed,
        };
        let r = cross_validate(book, &gold, &vectors, &codebook, &id, &cv)?;
        return Ok(Measured {
            combined: r.combined.clone(),
            by_coder: Some((r.codebook.clone(), r.learned.clone())),
            cv: Some(r),
        });
    }
    let Some(learned) = learned else {
        return Ok(Measured {
            combined: score(book, &gold, &codebook),
            by_coder: None,
            cv: None,
        });
    };
    let lc = LearnedCoder::new(&learned, book)?;
    let codes: Vec<Vec<Evidence>> = gold
        .iter()
        .zip(&vectors)
        .map(|(g, v)| lc.code_vectors(&g.text, v))
        .collect();
    Ok(Measured {
        combined: score(book, &gold, &union(&codebook, &codes)),
        by_coder: Some((score(book, &gold, &codebook), score(book, &gold, &codes))),
        cv: None,
    })
}

pub fn run(args: Args) -> Result<()> {
    let book = Codebook::load_or_default(args.codebook.as_deref())?;
    let m = measure(&args, &book)?;
    let r = &m.combined;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.format == crate::cmd::OutputFormat::Json {
        let mut doc = report_json(r);
        if let Some((codebook, learned)) = &m.by_coder {
            doc["by_coder"] = json!({
                "codebook": report_json(codebook),
                "learned": report_json(learned),
            });
        }
        if let Some(cv) = &m.cv {
            doc["curve"] = json!(cv
                .curve
                .iter()
                .map(|p| json!({
                    "labels_per_theme": p.labels_per_theme,
                    "micro": scores(&p.micro),
                    "combined_micro": scores(&p.combined_micro),
                    "training_texts": p.training_texts,
                }))
                .collect::<Vec<_>>());
            doc["curve_left_out"] = json!(cv.curve_left_out);
            let mut sizes = vec![0usize; args.cv.unwrap_or(0)];
            for &f in &cv.fold_of {
                sizes[f] += 1;
            }
            doc["cv"] = json!({
                "folds": args.cv,
                "seed": args.seed,
                "fold_sizes": sizes,
                "fold_of": cv.fold_of,
                "skipped": cv.skipped,
            });
        }
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        let w = r.themes.keys().map(String::len).max().unwrap_or(5).max(5);
        writeln!(
            out,
            "{:<w$}  {:>9}  {:>6}  {:>6}  {:>7}",
            "theme", "precision", "recall", "f1", "support"
        )?;
        let row = |out: &mut dyn Write, name: &str, s: &Scores| {
            writeln!(
                out,
                "{name:<w$}  {:>9.3}  {:>6.3}  {:>6.3}  {:>7}",
                s.precision, s.recall, s.f1, s.support
            )
        };
        for (k, s) in &r.themes {
            row(&mut out, k, s)?;
        }
        row(&mut out, "micro", &r.micro)?;
        row(&mut out, "macro", &r.macro_avg)?;
        writeln!(out, "{} texts; codebook {:?}", r.texts, book.meta.name)?;
        if !r.unknown_themes.is_empty() {
            writeln!(
                out,
                "gold themes not in the codebook: {}",
                r.unknown_themes.join(", ")
            )?;
        }
        if let Some((codebook, learned)) = &m.by_coder {
            let how = match args.cv {
                Some(k) => format!(
                    "learned codes from {k}-fold cross-validation, seed {}",
                    args.seed
                ),
                None => "learned codes from --learned".to_string(),
            };
            writeln!(out, "\nmicro-F1 ({how}):")?;
            writeln!(out, "  combined  {:.3}  (the table above)", r.micro.f1)?;
            writeln!(out, "  codebook  {:.3}", codebook.micro.f1)?;
            writeln!(out, "  learned   {:.3}", learned.micro.f1)?;
        }
        if let Some(cv) = &m.cv {
            writeln!(out, "\nlearning curve (coded texts per theme in training):")?;
            for p in &cv.curve {
                writeln!(
                    out,
                    "  {:>3} per theme: learned micro-F1 {:.3}, combined {:.3} ({:.0} training texts)",
                    p.labels_per_theme, p.micro.f1, p.combined_micro.f1, p.training_texts
                )?;
            }
            for l in &cv.curve_left_out {
                writeln!(
                    out,
                    "  {:>3} per theme: left out, theme {:?} has only {} in a fold's training part",
                    l.labels_per_theme, l.theme, l.positives
                )?;
            }
            for s in &cv.skipped {
                writeln!(
                    out,
                    "  fold {}: theme {:?} not learned ({} coded texts in training)",
                    s.fold + 1,
                    s.theme,
                    s.positives
                )?;
            }
        }
        let clip = |t: &str| rethread::model::one_line(t, 120);
        writeln!(out, "\nfalse positives ({}):", r.false_positives.len())?;
        for m in r.false_positives.iter().take(args.show) {
            writeln!(
                out,
                "  {} {} [{}]: {}",
                m.id,
                m.theme,
                m.evidence.join(" | "),
                clip(&m.text)
            )?;
        }
        writeln!(out, "false negatives ({}):", r.false_negatives.len())?;
        for m in r.false_negatives.iter().take(args.show) {
            writeln!(out, "  {} {}: {}", m.id, m.theme, clip(&m.text))?;
        }
    }
    out.flush()?;
    Ok(())
}
