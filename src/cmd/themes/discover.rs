//! `rethread themes discover`: candidate themes from the posts no theme matched.

use crate::cmd::CorpusArgs;
use anyhow::{bail, Result};
use rethread::themes::discover::{discover, draft};
use rethread::themes::{code_corpus, Codebook, Coder};
use std::io::Write;
use std::path::PathBuf;

/// Suggest themes nobody listed: distinctive words and phrases of the posts that no theme of
/// the codebook matched, scored by class-based TF-IDF over threads (each must recur in at least
/// two threads), each with its counts and example posts.
///
/// --out FILE writes them as a draft codebook (TOML) to read, name and edit; every theme in it
/// is labelled SUGGESTION. They are suggestions, not codes.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// How many candidates.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    /// The codebook whose matches are left out (the built-in one when absent).
    #[arg(long, value_name = "FILE")]
    pub codebook: Option<PathBuf>,

    #[command(flatten)]
    pub corpus: CorpusArgs,

    /// Write the candidates as a draft codebook (TOML) to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// table or json.
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: String,
}

pub fn run(args: Args) -> Result<()> {
    if !matches!(args.format.as_str(), "table" | "json") {
        bail!("--format {:?}: use table or json", args.format);
    }
    let book = Codebook::load_or_default(args.codebook.as_deref())?;
    let coder = Coder::new(&book)?;
    let set = args.corpus.load()?;
    let threads = crate::cmd::build_threads(&set, false);
    let coding = code_corpus(&set, &threads, &coder);
    let candidates = discover(&set, &threads, &coding.posts, args.top);
    let uncoded = coding.posts.iter().filter(|e| e.is_empty()).count();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.format == "json" {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"uncoded_posts": uncoded, "suggestions": candidates}),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "suggested themes from {uncoded} posts that no theme of {:?} matched (suggestions, not codes):",
            book.meta.name
        )?;
        writeln!(
            out,
            "{:>3}  {:<30}  {:>6}  {:>7}  {:>7}  example",
            "#", "phrase", "posts", "threads", "authors"
        )?;
        for (k, c) in candidates.iter().enumerate() {
            let example = c
                .examples
                .first()
                .map(|(_, t)| t.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            let example: String = example.chars().take(80).collect();
            writeln!(
                out,
                "{:>3}  {:<30}  {:>6}  {:>7}  {:>7}  {example}",
                k + 1,
                c.phrase,
                c.posts,
                c.threads,
                c.authors
            )?;
        }
    }
    out.flush()?;
    if let Some(path) = &args.out {
        let text = format!(
            "# A DRAFT codebook of suggested themes, made by `rethread themes discover`.\n# Read each theme's examples, rename it, widen its patterns, or delete it before use.\n\n{}",
            draft(&candidates).to_toml()
        );
        // Beside the target and renamed into place: a link planted at `path` is replaced,
        // never written through.
        rethread::export::atomic::write_bytes(
            path,
            rethread::export::atomic::Durability::Synced,
            text.as_bytes(),
        )?;
        eprintln!(
            "wrote {} suggestions as a draft codebook to {}",
            candidates.len(),
            path.display()
        );
    }
    crate::cmd::leak_at_exit(set, threads);
    Ok(())
}
