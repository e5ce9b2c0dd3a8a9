//! `rethread export twarc2`: the corpus's Twitter data as twarc2 JSONL.

use anyhow::Result;
use rethread::corpus::Corpus;
use rethread::export::twarc2;
use std::io::BufWriter;
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
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// The corpus to read (made by `rethread collect` or `rethread import`).
    #[arg(long, value_name = "PATH", default_value = "rethread.db")]
    pub db: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let corpus = Corpus::open_existing(&args.db)?;
    let report = if args.out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        twarc2::write(&corpus, &mut out)?
    } else {
        // Written beside the target and renamed into place: a failed export never leaves a
        // half-written file under the name a script expects.
        let mut report = None;
        super::write_atomically(&args.out, |out| {
            report = Some(twarc2::write(&corpus, out)?);
            Ok(())
        })?;
        report.expect("write_atomically ran the writer")
    };
    eprintln!(
        "wrote {} API pages as fetched, {} pages assembled from {} imported tweets, {} missing-tweet notes",
        report.pages, report.assembled, report.tweets, report.missing
    );
    Ok(())
}
