//! `rethread export csv`: posts.csv, edges.csv and threads.csv.

use super::{write_atomically, Rows};
use anyhow::{Context, Result};
use rethread::export::table::{write_csv, CsvFiles};
use std::path::PathBuf;

/// Write three CSV files with header rows and RFC 4180 quoting into a directory: `posts.csv`
/// (a row per post and per missing parent, with thread, parent, depth, gap flag and reason,
/// author, time, text, themes and their evidence), `edges.csv` (thread, source: the reply,
/// target: what it replies to, kind: reply, quote or conversation) and `threads.csv` (the metrics of `rethread threads`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to write into (created if absent).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub rows: Rows,

    #[command(flatten)]
    pub csv: crate::cmd::CsvArgs,
}

pub fn run(args: Args) -> Result<()> {
    if args.rows.corpus.batched() {
        return run_db(&args);
    }
    let l = args.rows.load()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create output directory", args.out.display()))?;
    // Rendered in memory first (edges and threads are small next to posts), so that each file
    // is written whole or not at all.
    let (mut edges, mut threads) = (Vec::new(), Vec::new());
    let mut counts = (0, 0);
    write_atomically(&args.out.join("posts.csv"), |posts| {
        let files = CsvFiles {
            posts,
            edges: &mut edges,
            threads: &mut threads,
            cells: args.csv.cells(),
            headers: true,
        };
        counts = write_csv(files, &l.input())?;
        Ok(())
    })?;
    write_atomically(&args.out.join("edges.csv"), |w| Ok(w.write_all(&edges)?))?;
    write_atomically(
        &args.out.join("threads.csv"),
        |w| Ok(w.write_all(&threads)?),
    )?;
    eprintln!(
        "wrote {} post rows, {} edges and {} threads to {}",
        counts.0,
        counts.1,
        l.selected.len(),
        args.out.display()
    );
    crate::cmd::leak_at_exit(l.set, l.threads);
    Ok(())
}

/// From the corpus a batch of threads at a time: each file is its threads' rows, one thread
/// after the other, so the batches' rows (headers with the first) make the same files. The
/// three files are written side by side, each beside its target and renamed into place when
/// all rows are in (threads.csv first, posts.csv last): each file whole or not at all.
fn run_db(args: &Args) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create output directory", args.out.display()))?;
    let mut counts = (0, 0);
    let mut summary = None;
    let cells = args.csv.cells();
    write_atomically(&args.out.join("posts.csv"), |posts| {
        write_atomically(&args.out.join("edges.csv"), |edges| {
            write_atomically(&args.out.join("threads.csv"), |threads| {
                let first = std::cell::Cell::new(true);
                let mut batch = |input: &rethread::export::Input| -> Result<()> {
                    let files = CsvFiles {
                        posts: &mut *posts,
                        edges: &mut *edges,
                        threads: &mut *threads,
                        cells,
                        headers: first.get(),
                    };
                    let (p, e) = write_csv(files, input)?;
                    counts.0 += p;
                    counts.1 += e;
                    first.set(false);
                    Ok(())
                };
                let (n, book) = args.rows.each_batch(true, &mut batch)?;
                if first.get() {
                    // No thread at all: the headers alone, from an empty batch.
                    let set = rethread::corpus::PostSet::new();
                    let none = rethread::thread::build(&set, &Default::default());
                    batch(&rethread::export::Input {
                        set: &set,
                        threads: &none,
                        selected: &[],
                        codes: Some((&book, &[])),
                        pseudonymised: args.rows.pseudonym.enabled()?,
                    })?;
                }
                summary = Some(n);
                Ok(())
            })
        })
    })?;
    eprintln!(
        "wrote {} post rows, {} edges and {} threads to {}",
        counts.0,
        counts.1,
        summary.unwrap_or(0),
        args.out.display()
    );
    Ok(())
}
