//! `rethread themes codebook`: print the built-in codebook (or check one).

use anyhow::Result;
use rethread::themes::Codebook;
use std::path::PathBuf;

/// Print the built-in customer-service codebook as TOML, to copy and edit; with --check FILE,
/// check a codebook instead (every theme and pattern) and say what is wrong, and which themes
/// are semantic (coded by meaning when a model is found) with their thresholds.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Check this codebook instead of printing the built-in one.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,

    /// Write the codebook (the built-in one, or --codebook FILE) as a REFI-QDA codebook
    /// (`.qdc`, `urn:QDA-XML:codebook:1.0`) for the qualitative analysis tools.
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub qdc: Option<PathBuf>,

    #[command(flatten)]
    pub codebook: crate::cmd::CodebookArg,
}

pub fn run(args: Args) -> Result<()> {
    if let Some(out) = &args.qdc {
        let book = Codebook::load_or_default(args.codebook.as_deref())?;
        let xml = rethread::export::qdpx::codebook_qdc(&book);
        crate::cmd::export::write_atomically(out, |w| Ok(w.write_all(xml.as_bytes())?))?;
        eprintln!(
            "wrote codebook {:?} ({} codes) to {}",
            book.meta.name,
            book.themes.len(),
            out.display()
        );
        return Ok(());
    }
    match args.check {
        Some(path) => {
            let book = Codebook::load(&path)?;
            let patterns: usize = book
                .themes
                .iter()
                .map(|t| t.patterns.len() + t.exclude.len())
                .sum();
            let semantic: Vec<String> = book
                .semantic_themes()
                .into_iter()
                .map(|i| {
                    let t = &book.themes[i];
                    let th = t.semantic_threshold(&book.meta).unwrap_or_default();
                    format!("{} (threshold {th})", t.id)
                })
                .collect();
            let semantic = if semantic.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} semantic (coded by meaning with a model): {}",
                    semantic.len(),
                    semantic.join(", ")
                )
            };
            eprintln!(
                "{}: codebook {:?}: {} themes, {} patterns{semantic}: ok",
                path.display(),
                book.meta.name,
                book.themes.len(),
                patterns
            );
        }
        None => print!("{}", rethread::themes::codebook::DEFAULT),
    }
    Ok(())
}
