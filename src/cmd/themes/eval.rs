//! `rethread themes eval`: how well a codebook codes texts a person has labelled.

use anyhow::{bail, Result};
use rethread::themes::eval::{evaluate, evaluate_with, read_gold, Gold, Scores};
use rethread::themes::Codebook;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

/// Code labelled texts with a codebook and compare: precision, recall, F1 and support per theme,
/// micro and macro averages, and the false positives (with the words that triggered them) and
/// false negatives.
///
/// The gold CSV has the columns `id,text,themes` (theme ids separated by `;`, empty for none).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The codebook to evaluate (the built-in one when absent).
    #[arg(long, value_name = "FILE")]
    pub codebook: Option<PathBuf>,

    /// The labelled texts.
    #[arg(long, value_name = "FILE.csv")]
    pub gold: PathBuf,

    /// table or json.
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: String,

    /// In the table, how many false positives and negatives to list (JSON lists all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub show: usize,

    /// For the codebook's semantic themes (embedded in memory).
    #[command(flatten)]
    pub model: crate::cmd::ModelArgs,
}

fn gold_texts(gold: &[Gold]) -> Vec<&str> {
    gold.iter().map(|g| g.text.as_str()).collect()
}

fn scores(s: &Scores) -> serde_json::Value {
    json!({"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support})
}

pub fn run(args: Args) -> Result<()> {
    if !matches!(args.format.as_str(), "table" | "json") {
        bail!("--format {:?}: use table or json", args.format);
    }
    let book = Codebook::load_or_default(args.codebook.as_deref())?;
    let gold = read_gold(&args.gold)?;
    let r = match crate::cmd::semantic_texts(&book, &args.model, &gold_texts(&gold))? {
        Some((semantic, vectors)) => evaluate_with(&book, &gold, &[&semantic.for_posts(&vectors)])?,
        None => evaluate(&book, &gold)?,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.format == "json" {
        let doc = json!({
            "themes": r.themes.iter().map(|(k, v)| (k.clone(), scores(v))).collect::<serde_json::Map<_, _>>(),
            "micro": scores(&r.micro),
            "macro": scores(&r.macro_avg),
            "texts": r.texts,
            "unknown_themes": r.unknown_themes,
            "false_positives": r.false_positives,
            "false_negatives": r.false_negatives,
        });
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
