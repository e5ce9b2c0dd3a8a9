//! `rethread themes`: what people raise, per theme, across the corpus and per thread.

pub mod codebook;
pub mod discover;
pub mod eval;
pub mod learn;
pub mod model;

use crate::cmd::CorpusArgs;
use anyhow::{Context, Result};
use rethread::themes::Rollup;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::{Seek, Write};

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
    if args.corpus.batched() {
        return run_db(&args, &book);
    }
    let set = args.corpus.load()?;
    let threads = super::build_threads(&set, false);
    let coding = args.themes.code(&book, &set, &threads, &args.corpus)?;
    let mut summary = Summary::new(&book);
    summary.add_posts(&set, &coding.posts, |_| true);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut array = PrettyArray::default();
    let mut elems = Vec::new();
    for tc in &coding.threads {
        summary.add_thread(tc);
        if args.format == crate::cmd::OutputFormat::Json {
            array.push(
                &mut elems,
                &thread_json(&book, &threads.threads[tc.thread].id, tc),
            )?;
        }
    }
    array.end(&mut elems)?;
    summary.print(&args, &book, &mut out, &mut &elems[..])?;
    out.flush()?;
    super::leak_at_exit(set, threads);
    Ok(())
}

/// `themes --db`: the corpus read a batch of threads at a time (see `thread::batched`), each
/// batch coded as the whole corpus would be. The totals count each post once (by its group:
/// a group read again by a later batch is not counted again) and each thread once; the JSON
/// document's per-thread array is spooled to an unnamed file, because the document puts the
/// totals before it. The same bytes as from the whole corpus in memory.
fn run_db(args: &Args, book: &rethread::themes::Codebook) -> Result<()> {
    use rethread::thread::batched;
    let (corpus, opts, outline) = args.corpus.outline(false)?;
    let selected: Vec<usize> = (0..outline.threads.len()).collect();
    let prepared = args.themes.prepare(book)?;
    let mut summary = Summary::new(book);
    let mut counted = vec![false; outline.groups.len()];
    let json = args.format == crate::cmd::OutputFormat::Json;
    let mut spool = std::io::BufWriter::with_capacity(
        1 << 16,
        tempfile::tempfile().context("cannot make a spool file for the JSON")?,
    );
    let mut array = PrettyArray::default();
    let bar = super::count_bar("coding threads", selected.len() as u64);
    batched::for_each_batch_grouped(
        &corpus,
        &outline,
        &opts,
        &selected,
        |_| Ok(()),
        |set, threads, at, groups| {
            let coding = prepared.code(set, threads, &args.corpus)?;
            summary.add_posts(set, &coding.posts, |i| !counted[groups[i] as usize]);
            for &g in groups {
                counted[g as usize] = true;
            }
            for &(_, k) in at {
                let tc = &coding.threads[k];
                debug_assert_eq!(tc.thread, k);
                summary.add_thread(tc);
                if json {
                    array.push(&mut spool, &thread_json(book, &threads.threads[k].id, tc))?;
                }
            }
            bar.inc(at.len() as u64);
            Ok(())
        },
    )?;
    // Groups with no thread (a repost whose original was never collected) were in no batch,
    // but their posts are the corpus's and count in its totals, as in memory.
    let rest: Vec<u32> = (0..outline.groups.len() as u32)
        .filter(|&g| !counted[g as usize])
        .collect();
    let mut start = 0;
    while start < rest.len() {
        let (mut end, mut held) = (start, 0);
        while end < rest.len() && (end == start || held < batched::batch_posts()) {
            held += outline.groups.size(rest[end]);
            end += 1;
        }
        let (set, _) = corpus.load_groups(&outline.groups, &rest[start..end])?;
        let threads = rethread::thread::build(&set, &opts);
        let coding = prepared.code(&set, &threads, &args.corpus)?;
        summary.add_posts(&set, &coding.posts, |_| true);
        start = end;
    }
    bar.finish_and_clear();
    array.end(&mut spool)?;
    let mut spool = spool.into_inner().map_err(|e| e.into_error())?;
    spool.seek(std::io::SeekFrom::Start(0))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    summary.print(args, book, &mut out, &mut std::io::BufReader::new(spool))?;
    out.flush()?;
    Ok(())
}

/// The corpus's totals: per theme, posts, threads and authors; posts with no code.
struct Summary {
    total: usize,
    uncoded: usize,
    posts: Vec<usize>,
    authors: Vec<HashSet<String>>,
    in_threads: Vec<usize>,
}

impl Summary {
    fn new(book: &rethread::themes::Codebook) -> Summary {
        let n = book.themes.len();
        Summary {
            total: 0,
            uncoded: 0,
            posts: vec![0; n],
            authors: vec![HashSet::new(); n],
            in_threads: vec![0; n],
        }
    }

    /// Count the posts of `set` for which `count(index)`, with their codes.
    fn add_posts(
        &mut self,
        set: &rethread::corpus::PostSet,
        codes: &[Vec<rethread::themes::Evidence>],
        count: impl Fn(usize) -> bool,
    ) {
        for (i, ev) in codes.iter().enumerate() {
            if !count(i) {
                continue;
            }
            self.total += 1;
            if ev.is_empty() {
                self.uncoded += 1;
                continue;
            }
            let mut seen = HashSet::new();
            for e in ev {
                if seen.insert(e.theme) {
                    self.posts[e.theme] += 1;
                    let who = set.posts()[i].author().label();
                    if !self.authors[e.theme].contains(who) {
                        self.authors[e.theme].insert(who.to_string());
                    }
                }
            }
        }
    }

    fn add_thread(&mut self, tc: &rethread::themes::ThreadCoding) {
        for r in &tc.rollup.themes {
            self.in_threads[r.theme] += 1;
        }
    }

    /// Print in `args.format`; `threads_json`: the JSON document's per-thread array, as
    /// [`PrettyArray`] wrote it (read only for JSON).
    fn print(
        &self,
        args: &Args,
        book: &rethread::themes::Codebook,
        out: &mut dyn Write,
        threads_json: &mut dyn std::io::Read,
    ) -> Result<()> {
        let (posts, authors, in_threads) = (&self.posts, &self.authors, &self.in_threads);
        match args.format {
            crate::cmd::OutputFormat::Csv => {
                // Theme ids and labels come from a codebook someone else may have written.
                let mut w = rethread::export::table::CsvWriter::new(&mut *out, args.csv.cells());
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
                let doc = json!({
                    "codebook": book.meta.name,
                    "posts": self.total,
                    "uncoded": self.uncoded,
                    "themes": book.themes.iter().enumerate().map(|(k, t)| json!({
                        "id": t.id, "label": t.label, "posts": posts[k],
                        "threads": in_threads[k], "authors": authors[k].len(),
                    })).collect::<Vec<_>>(),
                    "threads": [],
                });
                // The document pretty-printed with an empty thread array, then the array
                // put in its place: the bytes `to_writer_pretty` gives for the whole document.
                let text = serde_json::to_string_pretty(&doc)?;
                // Top-level keys are indented by two spaces, and a `"` inside a string is
                // escaped: this is the document's own `threads` key.
                let marker = "\n  \"threads\": []";
                let at = text
                    .find(marker)
                    .expect("the document has a top-level threads key")
                    + marker.len()
                    - 2;
                out.write_all(&text.as_bytes()[..at])?;
                std::io::copy(threads_json, out)?;
                out.write_all(&text.as_bytes()[at + 2..])?;
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
                let share = if self.total == 0 {
                    0.0
                } else {
                    100.0 * self.uncoded as f64 / self.total as f64
                };
                writeln!(
                    out,
                    "{} posts, {} with no code ({share:.1}%); codebook {:?}",
                    self.total, self.uncoded, book.meta.name
                )?;
            }
        }
        Ok(())
    }
}

/// A thread's entry in the JSON document: its rollup, id and branches.
fn thread_json(
    book: &rethread::themes::Codebook,
    id: &str,
    tc: &rethread::themes::ThreadCoding,
) -> Value {
    let mut v = rollup_json(book, &tc.rollup);
    v["id"] = json!(id);
    v["branches"] = Value::Array(
        tc.branches
            .iter()
            .map(|(root, r)| {
                let mut b = rollup_json(book, r);
                b["root"] = json!(root);
                b
            })
            .collect(),
    );
    v
}

fn rollup_json(book: &rethread::themes::Codebook, r: &Rollup) -> Value {
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
}

/// A JSON array written an element at a time, as `serde_json::to_writer_pretty` writes it
/// as the value of a top-level key: `[]` when empty, else `[`, each element pretty-printed
/// and indented by four spaces, `,` between them, and `]` indented by two. (A pretty JSON
/// line break is never inside a string, where it is `\n`, so indenting lines is safe.)
#[derive(Default)]
struct PrettyArray {
    n: usize,
}

impl PrettyArray {
    fn push(&mut self, out: &mut impl Write, v: &Value) -> Result<()> {
        out.write_all(if self.n == 0 { b"[\n" } else { b",\n" })?;
        let text = serde_json::to_string_pretty(v)?;
        for (k, line) in text.split('\n').enumerate() {
            if k > 0 {
                out.write_all(b"\n")?;
            }
            out.write_all(b"    ")?;
            out.write_all(line.as_bytes())?;
        }
        self.n += 1;
        Ok(())
    }

    fn end(&self, out: &mut impl Write) -> Result<()> {
        out.write_all(if self.n == 0 { b"[]" } else { b"\n  ]" })?;
        Ok(())
    }
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
