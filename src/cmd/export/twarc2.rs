//! `rethread export twarc2`: the corpus's Twitter data as twarc2 JSONL.

use anyhow::Result;
use rethread::corpus::Corpus;
use rethread::export::twarc2;
use std::path::PathBuf;

/// Write the corpus's tweets as twarc2 JSONL: one Twitter API v2 response page per line, as
/// twarc2 writes them, for twarc2's own tools and for `rethread import`.
///
/// Pages fetched by `rethread collect twitter` are written exactly as the API sent them.
/// Tweets imported from files are written as pages assembled from the corpus (marked with
/// `"__rethread": {"assembled": true}`), and missing tweets as `errors` with their reasons.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file to write (`-` for standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,

    #[command(flatten)]
    pub db: crate::cmd::DbArg,
}

pub fn run(args: Args) -> Result<()> {
    let corpus = Corpus::open_existing(&args.db)?;
    let mut report = None;
    super::write_atomically(&args.out, |out| {
        report = Some(twarc2::write(&corpus, out)?);
        Ok(())
    })?;
    let report = report.expect("write_atomically ran the writer");
    eprintln!(
        "wrote {} API pages as fetched, {} pages assembled from {} imported tweets, {} missing-tweet notes",
        report.pages, report.assembled, report.tweets, report.missing
    );
    Ok(())
}
