//! `rethread export markdown`: one readable transcript per thread.

use crate::cmd::CorpusArgs;
use anyhow::{bail, Result};
use rethread::export::markdown::{self, Layout};
use std::path::PathBuf;

/// Write one markdown transcript per thread into a directory, plus index.md linking them all.
///
/// Each transcript starts with a header (platform, root link, posts, participants, time span,
/// depth, gaps). The chronological layout (the default) writes one `**handle**: text` paragraph
/// per post in time order, as a person would rebuild the exchange by hand; the tree layout nests
/// each reply under the post it answers. A missing parent is marked where it belongs, with its
/// id and why it is missing. Content warnings stand before the text; media descriptions are kept.
/// Post text is escaped so that it cannot forge headings, HTML or links.
///
/// Themes are shown unless --no-themes: each thread starts with a theme table (posts, share,
/// authors, who raised it first, which coders gave it) and each post shows its codes, each with
/// its coder and evidence: the words a pattern matched, a semantic code's sentence and
/// similarity, a learned code's probability, sentence and nearest labelled example.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write into (created if absent).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub corpus: CorpusArgs,

    /// How to lay out the posts of a thread.
    #[arg(long, value_enum, default_value_t = Layout::Chronological)]
    pub layout: Layout,

    /// Only threads with at least this many posts.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_posts: usize,

    /// Only these threads (ids as `rethread threads` prints them).
    #[arg(long = "thread", value_name = "ID", num_args = 1..)]
    pub threads: Vec<String>,

    /// Attach quote posts under the post they quote.
    #[arg(long)]
    pub quotes: bool,

    #[command(flatten)]
    pub show: super::ShowThemes,

    #[command(flatten)]
    pub coding: crate::cmd::ThemeArgs,

    #[command(flatten)]
    pub pseudonym: super::Pseudonym,
}

pub fn run(args: Args) -> Result<()> {
    if args.corpus.batched() {
        return run_db(&args);
    }
    let mut set = args.corpus.load()?;
    let pseudonymised = args.pseudonym.apply(&mut set)?;
    let threads = crate::cmd::build_threads(&set, args.quotes);
    let selected: Vec<usize> = threads
        .threads
        .iter()
        .enumerate()
        .filter(|(_, t)| t.posts >= args.min_posts)
        .filter(|(_, t)| args.threads.is_empty() || args.threads.contains(&t.id))
        .map(|(i, _)| i)
        .collect();
    for wanted in &args.threads {
        if !threads.threads.iter().any(|t| &t.id == wanted) {
            bail!("no thread {wanted:?} (list them with `rethread threads`)");
        }
    }
    let book = (!args.show.no_themes)
        .then(|| args.coding.codebook())
        .transpose()?;
    let codes = match &book {
        Some(book) => {
            let mut codes = args.coding.code_posts(book, &set, &args.corpus)?;
            args.pseudonym.apply_to_codes(&mut codes)?;
            Some(codes)
        }
        None => None,
    };
    let input = rethread::export::Input {
        set: &set,
        threads: &threads,
        selected: &selected,
        codes: book.as_ref().zip(codes.as_deref()),
        pseudonymised,
    };
    let bar = crate::cmd::count_bar("writing", selected.len() as u64);
    let summary = markdown::write(&args.out, &input, args.layout, &bar)?;
    bar.finish_and_clear();
    say_written(&summary, &args.out);
    crate::cmd::leak_at_exit(set, threads);
    Ok(())
}

/// From the corpus, a batch of threads at a time (see `thread::batched`): the threads are
/// outlined first (for the file names and the index, in output order), then each batch's posts
/// are read, pseudonymised, coded and written, so that memory holds one batch's posts. The
/// files are the same as from the same posts in memory.
fn run_db(args: &Args) -> Result<()> {
    use rethread::thread::batched;
    let (corpus, opts, outline) = args.corpus.outline(args.quotes)?;
    let selected: Vec<usize> = outline
        .threads
        .iter()
        .enumerate()
        .filter(|(_, t)| t.posts as usize >= args.min_posts)
        .filter(|(_, t)| args.threads.is_empty() || args.threads.contains(&t.id()))
        .map(|(i, _)| i)
        .collect();
    for wanted in &args.threads {
        if !outline.threads.iter().any(|t| &t.id() == wanted) {
            bail!("no thread {wanted:?} (list them with `rethread threads`)");
        }
    }
    let book = (!args.show.no_themes)
        .then(|| args.coding.codebook())
        .transpose()?;
    let prepared = book.as_ref().map(|b| args.coding.prepare(b)).transpose()?;
    let pseudonymised = args.pseudonym.enabled()?;
    let ids: Vec<String> = selected.iter().map(|&i| outline.threads[i].id()).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let note = pseudonymised.then_some(rethread::export::PSEUDONYMISED_NOTE);
    let mut writer = markdown::Writer::new(&args.out, args.layout, &id_refs, note, book.is_some())?;
    let bar = crate::cmd::count_bar("writing", selected.len() as u64);
    // Pseudonymised before the threads are built, as in memory.
    let before = |set: &mut rethread::corpus::PostSet| args.pseudonym.apply(set).map(|_| ());
    batched::for_each_batch(
        &corpus,
        &outline,
        &opts,
        &selected,
        before,
        |set, threads, at| {
            let codes = match &prepared {
                Some(p) => {
                    let mut codes = p.code_posts(set, &args.corpus)?;
                    args.pseudonym.apply_to_codes(&mut codes)?;
                    Some(codes)
                }
                None => None,
            };
            let input = rethread::export::Input {
                set,
                threads,
                selected: &[],
                codes: book.as_ref().zip(codes.as_deref()),
                pseudonymised,
            };
            writer.write_threads(&input, at, &bar)
        },
    )?;
    bar.finish_and_clear();
    let rows: Vec<markdown::IndexRow> = selected
        .iter()
        .zip(&ids)
        .map(|(&i, id)| {
            let t = &outline.threads[i];
            markdown::IndexRow {
                id,
                platform: t.platform,
                posts: t.posts as usize,
                participants: t.participants as usize,
                gaps: t.gaps as usize,
                depth: t.depth as usize,
                start: t.start,
                end: t.end,
            }
        })
        .collect();
    let summary = writer.finish(&rows)?;
    say_written(&summary, &args.out);
    Ok(())
}

/// What a markdown export says when done.
fn say_written(summary: &markdown::Summary, out: &std::path::Path) {
    eprintln!(
        "wrote {} transcripts ({} posts) to {}; index: {}",
        summary.threads,
        summary.posts,
        out.display(),
        summary.index.display()
    );
    if summary.stale > 0 {
        eprintln!(
            "warning: {} other .md files in {} are not from this export (an earlier run?); index.md lists only this one's",
            summary.stale,
            out.display()
        );
    }
}
