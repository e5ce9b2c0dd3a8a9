//! `rethread export parquet`: posts, edges, threads and codes as Parquet files.

use super::Rows;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// Write four Parquet files into a directory, for DuckDB, Spark, pandas, polars or R:
/// `posts.parquet` (a row per post and per missing post of the threads: thread, parent, edge,
/// depth, gap and reason, every post field, hashtags/mentions/media descriptions and themes as
/// lists), `edges.parquet` (thread, source: the reply, target: what it replies to, kind:
/// reply, quote or conversation), `threads.parquet` (the columns of `rethread threads`) and
/// `codes.parquet` (post, thread, theme, coder, pattern, evidence, start, end, score, example).
///
/// Ids are strings, times TIMESTAMP(MICROS, UTC). Rows are written in row groups of 65,536.
///
///   rethread export parquet --out tables
///   duckdb -c "SELECT thread, count(*) FROM 'tables/posts.parquet' WHERE NOT gap GROUP BY 1"
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to write into (created if absent).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub rows: Rows,
}

pub fn run(args: Args) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create output directory", args.out.display()))?;
    if args.rows.corpus.batched() {
        // From the corpus a batch of threads at a time: every table is its threads' rows one
        // thread after the other, and row groups are cut by count, not by batch.
        let w = rethread::export::parquet::write_with(&args.out, |w| {
            args.rows.each_batch(true, |input| w.add(input))?;
            Ok(())
        })?;
        say_written(&w, &args.out);
        return Ok(());
    }
    let l = args.rows.load()?;
    let w = rethread::export::parquet::write(&args.out, &l.input())?;
    say_written(&w, &args.out);
    crate::cmd::leak_at_exit(l.set, l.threads);
    Ok(())
}

fn say_written(w: &rethread::export::parquet::Written, out: &std::path::Path) {
    eprintln!(
        "wrote {} post rows, {} edges, {} threads and {} codes to {}",
        w.posts,
        w.edges,
        w.threads,
        w.codes,
        out.display()
    );
}
