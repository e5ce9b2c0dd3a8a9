//! `rethread export jsonl`: one post per line, with its thread, parent, depth and themes.

use super::{write_atomically, Rows};
use anyhow::Result;
use rethread::export::table::write_jsonl;
use std::path::PathBuf;

/// Write every post of the selected threads as one JSON object per line: its thread id,
/// parent and edge kind, depth, a `gap` flag (missing parents are lines too, with the missing id
/// and the reason), the post's fields, and its themes with their evidence (pattern, matched text,
/// character offsets), coded with the built-in codebook or --codebook FILE.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file to write (`-` for standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,

    #[command(flatten)]
    pub rows: Rows,
}

pub fn run(args: Args) -> Result<()> {
    if args.rows.corpus.batched() {
        // From the corpus a batch of threads at a time: the lines are the threads' lines, one
        // thread after the other, so the batches' lines make the same file.
        let mut lines = 0;
        let mut summary = None;
        write_atomically(&args.out, |out| {
            summary = Some(args.rows.each_batch(true, |input| {
                lines += write_jsonl(out, input)?;
                Ok(())
            })?);
            Ok(())
        })?;
        let (threads, book) = summary.expect("written");
        eprintln!(
            "wrote {lines} lines ({threads} threads) to {}; themes from codebook {:?}",
            args.out.display(),
            book.meta.name
        );
        return Ok(());
    }
    let l = args.rows.load()?;
    let mut lines = 0;
    write_atomically(&args.out, |out| {
        lines = write_jsonl(out, &l.input())?;
        Ok(())
    })?;
    eprintln!(
        "wrote {lines} lines ({} threads) to {}; themes from codebook {:?}",
        l.selected.len(),
        args.out.display(),
        l.book.meta.name
    );
    crate::cmd::leak_at_exit(l.set, l.threads);
    Ok(())
}
