//! `rethread export qdpx`: a REFI-QDA project for the qualitative analysis tools.

use super::Rows;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// Write a REFI-QDA project (`.qdpx`) that NVivo, ATLAS.ti, MAXQDA, QualCoder and qc import:
/// each thread a text source (its transcript, one line per post, `author: text`, in time
/// order, missing posts as `[gap: …]` lines), the codebook as codes, every code's evidence a
/// coded selection at its characters in the transcript, made by the coder that gave it (users
/// `rethread patterns`, `rethread semantic`, `rethread learned`), and the authors as cases
/// unless --pseudonymize. The same corpus and codebook give the same file (GUIDs are derived,
/// not random).
///
///   rethread export qdpx --out project.qdpx
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project file to write (ends in .qdpx).
    #[arg(long, short = 'o', value_name = "FILE.qdpx")]
    pub out: PathBuf,

    #[command(flatten)]
    pub rows: Rows,
}

pub fn run(args: Args) -> Result<()> {
    if args.out.extension().and_then(|e| e.to_str()) != Some("qdpx") {
        bail!(
            "--out {}: a REFI-QDA project's name ends in .qdpx (the tools refuse others)",
            args.out.display()
        );
    }
    if args.rows.corpus.batched() {
        // From the corpus a batch of threads at a time (sources spooled beside the project).
        use rethread::export::qdpx;
        let mut w = qdpx::Writer::new(qdpx::spool_dir(&args.out))?;
        let (_, book) = args.rows.each_batch(true, |input| w.add(input))?;
        let w = w.finish(&args.out, Some(&book), args.rows.pseudonym.enabled()?)?;
        say_written(&w, &args.out);
        return Ok(());
    }
    let l = args.rows.load()?;
    let w = rethread::export::qdpx::write(&args.out, &l.input())?;
    say_written(&w, &args.out);
    crate::cmd::leak_at_exit(l.set, l.threads);
    Ok(())
}

fn say_written(w: &rethread::export::qdpx::Written, out: &std::path::Path) {
    eprintln!(
        "wrote {} sources, {} coded selections and {} cases to {}",
        w.sources,
        w.selections,
        w.cases,
        out.display()
    );
}
