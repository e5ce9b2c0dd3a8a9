//! `rethread themes`: what people raise, per theme, across the corpus and per thread.

pub mod codebook;
pub mod discover;
pub mod eval;
pub mod learn;
pub mod model;

use crate::cmd::CorpusArgs;
use anyhow::Result;
use rethread::themes::Rollup;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;

/// Code every post against a codebook and print, per theme, how many posts, threads and
/// authors raised it.
///
/// The codebook is the built-in customer-service one (`rethread themes codebook` prints it)
/// unless --codebook FILE. Each post gets the themes whose patterns match its text, with the
/// words that matched. JSON output adds, per thread and per branch (each subtree under the
/// root's direct replies): each theme's posts, share of posts, distinct authors, who raised it
/// first and at what depth, up to three quotes with their evidence, which themes were raised
/// together, and how many posts got no code.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub themes: crate::cmd::ThemeArgs,

    #[command(flatten)]
    pub corpus: CorpusArgs,

    /// table (a line per theme), json (with per-thread and per-branch detail) or csv.
    #[arg(long, short = 'f', value_name = "FORMAT", value_parser = crate::cmd::formats(&["table", "json", "csv"]), default_value = "table")]
    pub format: crate::cmd::OutputFormat,

    #[command(flatten)]
    pub csv: crate::cmd::CsvArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    Codebook(codebook::Args),
    Discover(discover::Args),
    Eval(eval::Args),
    Model(model::Args),
    Learn(learn::Args),
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Some(Command::Codebook(a)) => return codebook::run(a),
        Some(Command::Eval(a)) => return eval::run(a),
        Some(Command::Discover(a)) => return discover::run(a),
        Some(Command::Model(a)) => return model::run(a),
        Some(Command::Learn(a)) => return learn::run(a),
        None => {}
    }
    let book = args.themes.codebook()?;
    let set = args.corpus.load()?;
    let threads = super::build_threads(&set, false);
    let coding = args.themes.code(&book, &set, &threads, &args.corpus)?;

    // The corpus summary: per theme, posts, threads and authors.
    let mut posts = vec![0usize; book.themes.len()];
    let mut authors: Vec<HashSet<&str>> = vec![HashSet::new(); book.themes.len()];
    let mut uncoded = 0;
    for (i, ev) in coding.posts.iter().enumerate() {
        if ev.is_empty() {
            uncoded += 1;
            continue;
        }
        let mut seen = HashSet::new();
        for e in ev {
            if seen.insert(e.theme) {
                posts[e.theme] += 1;
                authors[e.theme].insert(set.posts()[i].author().label());
            }
        }
    }
    let mut in_threads = vec![0usize; book.themes.len()];
    for t in &coding.threads {
        for r in &t.rollup.themes {
            in_threads[r.theme] += 1;
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        crate::cmd::OutputFormat::Csv => {
            // Theme ids and labels come from a codebook someone else may have written.
            let mut w = rethread::export::table::CsvWriter::new(&mut out, args.csv.cells());
            w.write_record(["theme", "label", "posts", "threads", "authors"])?;
            for (k, t) in book.themes.iter().enumerate() {
                w.write_record([
                    t.id.clone(),
                    t.label.clone(),
                    posts[k].to_string(),
                    in_threads[k].to_string(),
                    authors[k].len().to_string(),
                ])?;
            }
            w.flush()?;
        }
        crate::cmd::OutputFormat::Json => {
            let rollup_json = |r: &Rollup| -> Value {
                json!({
                    "posts": r.posts,
                    "uncoded": r.uncoded,
                    "themes": r.themes.iter().map(|t| {
                        let mut v = serde_json::to_value(t).expect("serializable");
                        v["id"] = json!(book.themes[t.theme].id);
                        v
                    }).collect::<Vec<_>>(),
                    "together": r.together.iter().map(|&(a, b, n)| json!({
                        "themes": [book.themes[a].id, book.themes[b].id], "posts": n
                    })).collect::<Vec<_>>(),
                })
            };
            let doc = json!({
                "codebook": book.meta.name,
                "posts": set.len(),
                "uncoded": uncoded,
                "themes": book.themes.iter().enumerate().map(|(k, t)| json!({
                    "id": t.id, "label": t.label, "posts": posts[k],
                    "threads": in_threads[k], "authors": authors[k].len(),
                })).collect::<Vec<_>>(),
                "threads": coding.threads.iter().map(|tc| {
                    let t = &threads.threads[tc.thread];
                    let mut v = rollup_json(&tc.rollup);
                    v["id"] = json!(t.id);
                    v["branches"] = Value::Array(tc.branches.iter().map(|(root, r)| {
                        let mut b = rollup_json(r);
                        b["root"] = json!(root);
                        b
                    }).collect());
                    v
                }).collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            out.write_all(b"\n")?;
        }
        _ => {
            let width = book
                .themes
                .iter()
                .map(|t| t.id.len())
                .max()
                .unwrap_or(5)
                .max(5);
            writeln!(
                out,
                "{:<width$}  {:>7}  {:>7}  {:>7}  label",
                "theme", "posts", "threads", "authors"
            )?;
            for (k, t) in book.themes.iter().enumerate() {
                writeln!(
                    out,
                    "{:<width$}  {:>7}  {:>7}  {:>7}  {}",
                    t.id,
                    posts[k],
                    in_threads[k],
                    authors[k].len(),
                    t.label
                )?;
            }
            let share = if set.is_empty() {
                0.0
            } else {
                100.0 * uncoded as f64 / set.len() as f64
            };
            writeln!(
                out,
                "{} posts, {} with no code ({share:.1}%); codebook {:?}",
                set.len(),
                uncoded,
                book.meta.name
            )?;
        }
    }
    out.flush()?;
    super::leak_at_exit(set, threads);
    Ok(())
}

/// The labelled texts of `--gold`: a CSV (`id,text,themes`), or a REFI-QDA project
/// (`.qdpx`) whose codings were made or corrected in a qualitative tool, read against `book`
/// (codes by name; those the codebook does not know are said, with their counts).
pub fn read_gold(
    path: &std::path::Path,
    book: &rethread::themes::Codebook,
) -> anyhow::Result<Vec<rethread::themes::eval::Gold>> {
    if path.extension().and_then(|e| e.to_str()) != Some("qdpx") {
        return rethread::themes::eval::read_gold(path);
    }
    let g = rethread::export::qdpx::read_gold(path, book)?;
    for (name, n) in &g.unknown {
        eprintln!(
            "warning: {}: code {name:?} ({n} coding{}) is not a theme of the codebook {:?}: not used",
            path.display(),
            if *n == 1 { "" } else { "s" },
            book.meta.name
        );
    }
    if g.unplaced > 0 {
        eprintln!(
            "warning: {}: {} codings not on a post (a whole source, or outside its text): not used",
            path.display(),
            g.unplaced
        );
    }
    let coded = g.rows.iter().filter(|r| !r.themes.is_empty()).count();
    eprintln!(
        "{}: {} posts from the project's transcripts, {coded} of them coded",
        path.display(),
        g.rows.len()
    );
    Ok(g.rows)
}
