//! `rethread coverage`: how much of a hashtag each server of a collection returned.

use super::OutputFormat;
use anyhow::{bail, Result};
use rethread::corpus::Corpus;
use rethread::export::table::{CsvCells, CsvWriter};
use rethread::thread::coverage::{self, Coverage};
use std::io::Write;

/// Say how complete a Mastodon collection is, server by server: for each server, the matching
/// posts its tag timelines (or search) returned, the posts only it returned, and its share of
/// all distinct posts found; for each pair of servers, the posts both returned; and how many
/// posts of the collected threads no timeline returned (replies without the tag, posts from
/// servers not asked), found only by completing the threads.
///
///   rethread collect mastodon --instance a.example --instance b.example --tag cx
///   rethread coverage
///   rethread coverage --format json
///
/// JSON: `{job, servers: [{server, matched, only_here, share}], overlap: [{a, b, both}],
/// union, from_threads}` (`share` from 0 to 1). CSV: one row per fact, with the columns
/// `row, server, other, posts, only_here, share`; `row` is `server` (posts = matched),
/// `overlap` (posts = both), `union` or `from_threads`.
///
/// The job is the newest collection in the corpus that recorded its servers; --job picks
/// another (its key is in each collection's summary).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub db: super::DbArg,

    /// The collection job to report (its key, as the collection's summary gives it).
    #[arg(long, value_name = "KEY")]
    pub job: Option<String>,

    /// table, json or csv.
    #[arg(long, short = 'f', value_name = "FORMAT", value_parser = super::formats(&["table", "json", "csv"]), default_value = "table")]
    pub format: OutputFormat,

    #[command(flatten)]
    pub csv: super::CsvArgs,
}

pub fn run(args: Args) -> Result<()> {
    let corpus = Corpus::open_existing(&args.db)?;
    let job = match &args.job {
        Some(j) => {
            if !corpus.collect_jobs()?.iter().any(|(k, _)| k == j) {
                bail!("--job {j:?}: no such collection in {}", args.db.display());
            }
            j.clone()
        }
        None => newest_with_matches(&corpus)?.ok_or_else(|| {
            anyhow::anyhow!(
                "{}: no Mastodon collection in it recorded which server returned which post; \
                 run `rethread collect mastodon` (collections made before the coverage report \
                 did not record it: running them again does)",
                args.db.display()
            )
        })?,
    };
    let set = corpus.load()?;
    let threads = super::build_threads(&set, false);
    let cov = coverage::of_job(&corpus, &set, &threads, &job)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &cov)?;
            out.write_all(b"\n")?;
        }
        OutputFormat::Csv => write_csv(&mut out, &cov, args.csv.cells())?,
        OutputFormat::Table | OutputFormat::Text => write_table(&mut out, &cov)?,
    }
    out.flush()?;
    super::leak_at_exit(set, threads);
    Ok(())
}

fn newest_with_matches(corpus: &Corpus) -> Result<Option<String>> {
    for (job, _) in corpus.collect_jobs()? {
        if corpus.match_counts(&job)?.union > 0 {
            return Ok(Some(job));
        }
    }
    Ok(None)
}

fn write_csv(out: &mut impl Write, cov: &Coverage, cells: CsvCells) -> Result<()> {
    let mut w = CsvWriter::new(out, cells);
    w.write_record(["row", "server", "other", "posts", "only_here", "share"])?;
    for s in &cov.servers {
        w.write_record([
            "server".to_string(),
            s.server.clone(),
            String::new(),
            s.matched.to_string(),
            s.only_here.to_string(),
            format!("{:.6}", s.share),
        ])?;
    }
    for o in &cov.overlap {
        w.write_record([
            "overlap".to_string(),
            o.a.clone(),
            o.b.clone(),
            o.both.to_string(),
            String::new(),
            String::new(),
        ])?;
    }
    for (row, n) in [("union", cov.union), ("from_threads", cov.from_threads)] {
        w.write_record([row, "", "", &n.to_string(), "", ""])?;
    }
    w.flush()?;
    Ok(())
}

fn write_table(out: &mut impl Write, cov: &Coverage) -> Result<()> {
    // Server names come from posts' uris (`--discover`): no control characters on a terminal.
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    };
    let width = cov
        .servers
        .iter()
        .map(|s| s.server.chars().count())
        .max()
        .unwrap_or(6)
        .clamp(6, 60);
    writeln!(out, "job {}", cov.job)?;
    writeln!(
        out,
        "{:<width$}  {:>8}  {:>9}  {:>6}",
        "server", "matched", "only_here", "share"
    )?;
    for s in &cov.servers {
        writeln!(
            out,
            "{:<width$}  {:>8}  {:>9}  {:>5.1}%",
            clean(&s.server),
            s.matched,
            s.only_here,
            100.0 * s.share
        )?;
    }
    if !cov.overlap.is_empty() {
        writeln!(out)?;
        writeln!(out, "overlap (posts both returned)")?;
        for o in &cov.overlap {
            writeln!(out, "  {} & {}: {}", clean(&o.a), clean(&o.b), o.both)?;
        }
    }
    writeln!(out)?;
    writeln!(out, "union         {}", cov.union)?;
    writeln!(out, "from_threads  {}", cov.from_threads)?;
    Ok(())
}
