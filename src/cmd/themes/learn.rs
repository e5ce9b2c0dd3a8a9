//! `rethread themes learn`: learn codes from a coded sample.
//!
//! ```text
//! rethread themes learn --gold FILE.csv [--codebook FILE] --out FILE [--model DIR]
//! ```

use crate::cmd::ModelArgs;
use anyhow::{bail, Result};
use rethread::themes::embed::Embed;
use rethread::themes::eval::Gold;
use rethread::themes::learn::{learn, ModelId, MAX_ITERATIONS, MIN_POSITIVES};
use rethread::themes::vectors::TextVectors;
use rethread::themes::Codebook;
use std::path::PathBuf;

/// Learn, for every theme of the codebook, a classifier on the embeddings of texts a person has
/// coded, and write it to a model file to keep beside the codebook.
///
/// The gold CSV is the one `themes eval` reads: a header and the columns `id,text,themes`
/// (theme ids separated by `;`, empty for none). Each theme gets a one-vs-rest logistic
/// regression (classes balanced, L2 with C = 1); a theme with fewer than 2 coded texts is
/// skipped with a warning. The model file (JSON) holds the embedding model's id, the weights,
/// and the coded texts with their vectors, so that each learned code cites the most similar one.
/// Use it with `--learned FILE` on `themes`, every export and `themes eval`, and measure it with
/// `themes eval --cv K` before trusting it.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The coded sample: a CSV (id,text,themes), or a REFI-QDA project (.qdpx, e.g. one
    /// `export qdpx` wrote and a researcher corrected in their tool): each post of its
    /// transcripts with the codes on it, by name.
    #[arg(long, value_name = "FILE.csv|FILE.qdpx")]
    pub gold: PathBuf,

    /// The codebook whose themes to learn (the built-in one when absent).
    #[command(flatten)]
    pub codebook: crate::cmd::CodebookArg,

    /// Where to write the model file (JSON; `-` for standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,

    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> Result<()> {
    let book = Codebook::load_or_default(args.codebook.as_deref())?;
    let gold = super::read_gold(&args.gold, &book)?;
    let model = args.model.load()?;
    let vectors = embed_gold(&gold, &model)?;
    let rows: Vec<usize> = (0..gold.len()).collect();
    let learning = learn(&book, &gold, &vectors, &rows, &model_id(&model))?;
    let g = args.gold.display();
    if !learning.unknown_themes.is_empty() {
        eprintln!(
            "warning: {g}: themes not in the codebook {:?}, not learned: {}",
            book.meta.name,
            learning.unknown_themes.join(", ")
        );
    }
    for s in &learning.skipped {
        let why = if s.negatives == 0 {
            "every text has it, none to learn the difference from".to_string()
        } else {
            format!(
                "{} coded text{}, need at least {MIN_POSITIVES}",
                s.positives,
                if s.positives == 1 { "" } else { "s" }
            )
        };
        eprintln!("warning: {g}: theme {:?} skipped: {why}", s.id);
    }
    if !learning.unembedded.is_empty() {
        eprintln!(
            "warning: {g}: {} texts with nothing to embed (only links or mentions) left out: {}",
            learning.unembedded.len(),
            learning.unembedded.join(", ")
        );
    }
    if learning.learned.themes.is_empty() {
        bail!(
            "{g}: no theme of the codebook {:?} has {MIN_POSITIVES} coded texts: nothing to learn",
            book.meta.name
        );
    }
    if args.out.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &learning.learned)?;
        std::io::Write::write_all(&mut out, b"\n")?;
    } else {
        learning.learned.save(&args.out)?;
    }
    for t in &learning.learned.themes {
        eprintln!(
            "learned {:<20} {:>5} with, {:>5} without",
            t.id, t.positives, t.negatives
        );
        if t.iterations >= MAX_ITERATIONS {
            eprintln!(
                "warning: theme {:?}: the classifier stopped after {MAX_ITERATIONS} steps, short \
                 of its best fit; its probabilities may be a little off",
                t.id
            );
        }
    }
    if learning.learned.exclusive {
        eprintln!(
            "the sample gives no text two of these themes: a post gets at most one learned code, \
             its most probable theme"
        );
    }
    eprintln!(
        "wrote {} ({} themes from {} texts, model {})",
        args.out.display(),
        learning.learned.themes.len(),
        learning.learned.examples.len(),
        learning.learned.model
    );
    Ok(())
}

/// The model's id and dimension, as a model file records them.
pub fn model_id(model: &dyn Embed) -> ModelId {
    ModelId {
        id: model.id().to_string(),
        dim: model.dim(),
    }
}

/// The vectors of the labelled texts, computed once, with a progress bar.
pub fn embed_gold(gold: &[Gold], model: &dyn Embed) -> Result<Vec<TextVectors>> {
    let texts: Vec<&str> = gold.iter().map(|g| g.text.as_str()).collect();
    let bar = crate::cmd::count_bar("embedding", texts.len() as u64);
    let vectors = rethread::themes::vectors::embed_texts(&texts, model, &bar)?;
    bar.finish_and_clear();
    Ok(vectors)
}
