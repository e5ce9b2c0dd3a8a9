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

    /// Print a REFI-QDA codebook (`.qdc`, as NVivo, ATLAS.ti, MAXQDA or QualCoder write it) as
    /// a rethread codebook (TOML): a theme per code, with its name and description. Patterns
    /// are left for you to write (`--check` says what is missing).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check", "qdc"])]
    pub from_qdc: Option<PathBuf>,

    #[command(flatten)]
    pub codebook: crate::cmd::CodebookArg,
}

pub fn run(args: Args) -> Result<()> {
    if let Some(path) = &args.from_qdc {
        let xml = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "codebook".into());
        let book = rethread::export::qdpx::codebook_from_qdc(&xml, &name)
            .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
        print!(
            "# A rethread codebook made from the REFI-QDA codebook {} ({} codes).\n\
             # Each theme needs patterns (or `semantic = true` and examples) before it codes\n\
             # anything: `rethread themes codebook --check FILE` says what is missing.\n\n{}",
            path.display(),
            book.themes.len(),
            toml::to_string(&book)?
        );
        return Ok(());
    }
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
