//! `rethread import`: read files into the corpus.

use anyhow::{Context, Result};
use rethread::corpus::Corpus;
use rethread::source::{self, BadRecordError, Format, ReadOptions};
use std::path::PathBuf;

/// Read archives into the corpus (an SQLite file).
///
/// The format of each file is detected from its first record, never from its name; the
/// formats, each with what it holds, are listed under --input-format.
///
/// Every write is an upsert: the same post from two files or from overlapping pages is stored
/// once, and importing a file again changes nothing. A malformed record stops the import with
/// its file and line; everything read before it is kept. With --skip-bad, malformed records are
/// counted, listed and passed over.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files to import.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub db: super::DbArg,

    /// Read the files as this format instead of detecting it.
    #[arg(long = "input-format", visible_alias = "format", value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Skip malformed records, report how many and where, and go on.
    #[arg(long)]
    pub skip_bad: bool,
}

pub fn run(args: Args) -> Result<()> {
    let mut corpus = Corpus::open(&args.db)?;
    let opts = ReadOptions {
        format: args.format,
        skip_bad: args.skip_bad,
        keep_raw: true,
    };
    let bar = super::bytes_bar("importing");
    for file in &args.files {
        bar.set_message(file.display().to_string());
        // Logged before reading, so that a failed or killed import leaves its row too.
        let mut writer = corpus.import(&file.display().to_string(), args.format)?;
        let result = source::read_file(file, &opts, &bar, &mut |record| {
            writer.add(&record).map(|_| ())
        });
        let tally = writer.tally();
        match result {
            Ok(report) => {
                writer.finish_import(&report)?;
                writer.commit()?;
                bar.suspend(|| {
                    eprintln!(
                        "{}: {} records ({}, {} posts{}): {} new, {} updated, {} unchanged, {} other-server copies, {} missing-post notes{}",
                        report.file,
                        report.records,
                        report.format,
                        report.posts,
                        if report.reposts == 0 { String::new() } else { format!(" of which {} reposts", report.reposts) },
                        tally.inserted,
                        tally.updated,
                        tally.unchanged,
                        tally.aliases,
                        tally.missing,
                        if report.skipped.is_empty() { String::new() } else { format!(", {} skipped", report.skipped.len()) }
                    );
                    super::report_notes(&report);
                });
            }
            Err(e) => {
                let e = super::name_format_flag(e, "--input-format (or --format)");
                // Keep everything read before the failure: committing is what makes an import
                // that stops half-way lose nothing. The log row says why it stopped; if even
                // that cannot be written, the posts still matter more.
                if let Err(log) = writer.fail_import(&format!("{e:#}")) {
                    bar.suspend(|| {
                        eprintln!("warning: could not log the failed import in `imports`: {log:#}")
                    });
                }
                writer
                    .commit()
                    .context("could not save the records read before the error")?;
                bar.finish_and_clear();
                let kept = tally.inserted + tally.updated;
                if e.downcast_ref::<BadRecordError>().is_some() {
                    return Err(e.context(format!(
                        "import stopped at a malformed record; {kept} posts read before it are saved in {} (use --skip-bad to pass over bad records)",
                        args.db.display()
                    )));
                }
                return Err(e.context(format!(
                    "import stopped; {kept} posts read before the error are saved"
                )));
            }
        }
    }
    bar.finish_and_clear();
    eprintln!(
        "{}: {} posts in the corpus",
        args.db.display(),
        corpus.post_count()?
    );
    Ok(())
}
