//! `rethread export html`: a self-contained static report.

use super::Rows;
use anyhow::Result;
use rethread::export::html::write;
use std::path::PathBuf;

/// Write a static HTML report that works offline (no scripts, no external resources): an
/// index with the thread list (posts, depth, participants, span, gaps, top themes) and a chart
/// of theme frequencies, and one page per thread with the reply tree drawn as SVG (time flowing
/// down, authors coloured, gaps dashed) beside the transcript. Unless --no-themes, each page
/// has a theme table and each post its codes, each with its coder and evidence (the words a
/// pattern matched; a semantic code's sentence and similarity; a learned code's probability,
/// sentence and nearest labelled example).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to write (created if absent).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub rows: Rows,

    #[command(flatten)]
    pub show: super::ShowThemes,
}

pub fn run(args: Args) -> Result<()> {
    let themed = !args.show.no_themes;
    if args.rows.corpus.batched() {
        // From the corpus a batch of threads at a time: a page per thread as it comes.
        let mut w = rethread::export::html::Writer::new(&args.out)?;
        let (_, book) = args.rows.each_batch(themed, |input| w.add(input))?;
        let note = args
            .rows
            .pseudonym
            .enabled()?
            .then_some(rethread::export::PSEUDONYMISED_NOTE);
        let r = w.finish(themed.then_some(&book), note)?;
        eprintln!(
            "wrote {} thread pages and index.html to {}",
            r.pages,
            args.out.display()
        );
        return Ok(());
    }
    let l = args.rows.load_coded(themed)?;
    let r = write(&args.out, &l.input())?;
    eprintln!(
        "wrote {} thread pages and index.html to {}",
        r.pages,
        args.out.display()
    );
    crate::cmd::leak_at_exit(l.set, l.threads);
    Ok(())
}
