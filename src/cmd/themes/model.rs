//! `rethread themes model`: which sentence-embedding model the themes commands would use.

use anyhow::{bail, Result};
use rethread::themes::embed::{missing_model_message, Embed};
use serde_json::json;

/// Say which sentence-embedding model would be used (semantic themes, learned codes,
/// discovery), where it was found, and what it makes: its id (name and a hash of its
/// weights, under which vectors are kept in the corpus), dimension, maximum sequence length
/// (longer texts are cut) and pooling. The model is loaded, so a broken folder is reported here.
///
/// It is looked for in --model DIR, else the folder RETHREAD_MODEL names, else the Hugging Face
/// cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) for
/// sentence-transformers/all-MiniLM-L6-v2. Without one, the error says how to get one.
/// `--format json` prints {"model", "id", "dimension", "dir", "source", "max_seq_length",
/// "pooling"}; "source" is "--model", "RETHREAD_MODEL" or "huggingface-cache".
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: crate::cmd::ModelArgs,

    /// text (a line per fact) or json.
    #[arg(long, short = 'f', value_name = "FORMAT", value_parser = crate::cmd::formats(&["text", "json"]), default_value = "text")]
    pub format: crate::cmd::OutputFormat,
}

pub fn run(args: Args) -> Result<()> {
    let Some((found, model)) = args.model.load_located()? else {
        bail!("{}", missing_model_message(&|k| std::env::var_os(k)));
    };
    let spec = model.spec();
    if args.format == crate::cmd::OutputFormat::Json {
        let out = json!({
            "model": spec.name,
            "id": model.id(),
            "dimension": model.dim(),
            "dir": found.dir.display().to_string(),
            "source": found.source.name(),
            "max_seq_length": spec.max_seq_length,
            "pooling": spec.pooling.name(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("model           {}", spec.name);
        println!("id              {}", model.id());
        println!("dimension       {}", model.dim());
        println!(
            "max_seq_length  {} tokens (longer texts are cut)",
            spec.max_seq_length
        );
        let norm = if spec.normalize { ", normalised" } else { "" };
        println!("pooling         {}{norm}", spec.pooling.name());
        println!("dir             {}", found.dir.display());
        println!("source          {}", found.source.name());
    }
    Ok(())
}
