//! `rethread threads`: list the conversations in a corpus or in files.

use super::{CorpusArgs, OutputFormat};
use anyhow::Result;
use rethread::export::table::{thread_json, thread_row, CsvCells, CsvWriter, THREAD_COLUMNS};
use rethread::model::format_time;
use rethread::thread::batched::ThreadMeta;
use rethread::thread::Thread;
use std::borrow::Cow;
use std::io::Write;

/// List every thread: its id, root, size and shape, who took part and when.
///
/// Columns: id, root (the id of the first post, or of the missing post the thread hangs from),
/// posts, gaps (missing parents), depth (longest reply chain, in replies), breadth (most posts
/// on one level), participants (distinct authors), start and end (first and last post time).
/// Threads are sorted by start time, then id.
///
/// JSON output is an array of objects with the keys `id, root, posts, gaps, depth, breadth,
/// participants, start, end, complete` (complete: no gaps, every parent was found); CSV has the
/// same columns with a header row.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub corpus: CorpusArgs,

    /// Only threads with at least this many posts.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_posts: usize,

    /// table, json or csv.
    #[arg(long, short = 'f', value_name = "FORMAT", value_parser = super::formats(&["table", "json", "csv"]), default_value = "table")]
    pub format: OutputFormat,

    /// Attach quote posts under the post they quote.
    #[arg(long)]
    pub quotes: bool,

    #[command(flatten)]
    pub csv: super::CsvArgs,
}

pub fn run(args: Args) -> Result<()> {
    if args.corpus.batched() {
        return run_db(&args);
    }
    let set = args.corpus.load()?;
    let threads = super::build_threads(&set, args.quotes);
    let selected: Vec<&Thread> = threads
        .threads
        .iter()
        .filter(|t| t.posts >= args.min_posts)
        .collect();
    write(&args, &selected, |t| Cow::Borrowed(*t))?;
    eprintln!(
        "{} threads ({} with at least {} posts), {} posts, {} gaps",
        threads.threads.len(),
        selected.len(),
        args.min_posts,
        set.len() as u64 - threads.reposts.values().sum::<u64>() - threads.reposts_of_absent,
        threads.gaps.len()
    );
    super::leak_at_exit(set, threads);
    Ok(())
}

/// From the corpus: the threads outlined a batch of groups at a time (see
/// `thread::batched`), so that memory holds about 100 bytes a thread and one batch's posts,
/// not the corpus. The same rows as from the same posts in memory.
fn run_db(args: &Args) -> Result<()> {
    let (_corpus, _, outline) = args.corpus.outline(args.quotes)?;
    let selected: Vec<&ThreadMeta> = outline
        .threads
        .iter()
        .filter(|t| t.posts as usize >= args.min_posts)
        .collect();
    write(args, &selected, |m| Cow::Owned(m.to_thread()))?;
    eprintln!(
        "{} threads ({} with at least {} posts), {} posts, {} gaps",
        outline.threads.len(),
        selected.len(),
        args.min_posts,
        outline.posts - outline.reposts - outline.reposts_of_absent,
        outline.gaps
    );
    Ok(())
}

/// Write the rows in the chosen format; `thread` gives each row's thread (borrowed from the
/// graph, or made from an outline one at a time).
fn write<R>(args: &Args, rows: &[R], thread: impl Fn(&R) -> Cow<'_, Thread>) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        OutputFormat::Json => write_json(&mut out, rows, &thread)?,
        OutputFormat::Csv => write_csv(&mut out, rows, &thread, args.csv.cells())?,
        OutputFormat::Table | OutputFormat::Text => write_table(&mut out, rows, &thread)?,
    }
    out.flush()?;
    Ok(())
}

fn time(t: &Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    t.as_ref().map(format_time)
}

fn write_json<R>(
    out: &mut impl Write,
    threads: &[R],
    thread: &impl Fn(&R) -> Cow<'_, Thread>,
) -> Result<()> {
    // Streamed one object at a time: a large corpus has hundreds of thousands of threads.
    out.write_all(b"[")?;
    for (k, t) in threads.iter().enumerate() {
        if k > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"\n  ")?;
        let obj = thread_json(&thread(t));
        serde_json::to_writer(&mut *out, &obj)?;
    }
    out.write_all(if threads.is_empty() { b"]\n" } else { b"\n]\n" })?;
    Ok(())
}

fn write_csv<R>(
    out: &mut impl Write,
    threads: &[R],
    thread: &impl Fn(&R) -> Cow<'_, Thread>,
    cells: CsvCells,
) -> Result<()> {
    let mut w = CsvWriter::new(out, cells);
    w.write_record(THREAD_COLUMNS)?;
    for t in threads {
        w.write_record(thread_row(&thread(t)))?;
    }
    w.flush()?;
    Ok(())
}

fn write_table<R>(
    out: &mut impl Write,
    threads: &[R],
    thread: &impl Fn(&R) -> Cow<'_, Thread>,
) -> Result<()> {
    let id_width = threads
        .iter()
        .map(|t| thread(t).id.chars().count())
        .max()
        .unwrap_or(2)
        .clamp(2, 60);
    let root_width = threads
        .iter()
        .map(|t| thread(t).root_id.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    // The header is the columns' names (all but `complete`, which the gaps column shows).
    let [id, root, posts, gaps, depth, breadth, participants, start, end, _] = THREAD_COLUMNS;
    writeln!(
        out,
        "{id:<id_width$}  {root:<root_width$}  {posts:>6}  {gaps:>4}  {depth:>5}  {breadth:>7}  {participants:>12}  {start:<24}  {end:<24}",
    )?;
    for t in threads {
        let t = thread(t);
        writeln!(
            out,
            "{:<id_width$}  {:<root_width$}  {:>6}  {:>4}  {:>5}  {:>7}  {:>12}  {:<24}  {:<24}",
            clean(&t.id),
            clean(&t.root_id),
            t.posts,
            t.gaps,
            t.depth,
            t.breadth,
            t.participants,
            time(&t.start).unwrap_or_else(|| "-".into()),
            time(&t.end).unwrap_or_else(|| "-".into()),
        )?;
    }
    Ok(())
}

/// Ids come from the data: keep terminal control characters out of a table meant for eyes.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
