//! `rethread export FORMAT`: write threads out. One file per format below this one.

pub mod convokit;
pub mod csv;
pub mod dot;
pub mod gexf;
pub mod graphml;
pub mod html;
pub mod jsonl;
pub mod markdown;
pub mod parquet;
pub mod qdpx;
pub mod twarc2;

use anyhow::Result;

/// Write threads out as files.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    Markdown(markdown::Args),
    Jsonl(jsonl::Args),
    Csv(csv::Args),
    Parquet(parquet::Args),
    Qdpx(qdpx::Args),
    Gexf(gexf::Args),
    Graphml(graphml::Args),
    Dot(dot::Args),
    Convokit(convokit::Args),
    Html(html::Args),
    Twarc2(twarc2::Args),
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Markdown(args) => markdown::run(args),
        Command::Jsonl(args) => jsonl::run(args),
        Command::Csv(args) => csv::run(args),
        Command::Parquet(args) => parquet::run(args),
        Command::Qdpx(args) => qdpx::run(args),
        Command::Gexf(args) => gexf::run(args),
        Command::Graphml(args) => graphml::run(args),
        Command::Dot(args) => dot::run(args),
        Command::Convokit(args) => convokit::run(args),
        Command::Html(args) => html::run(args),
        Command::Twarc2(args) => twarc2::run(args),
    }
}

/// What every post-per-row export takes besides its output: where the posts come from, which
/// threads, and the codebook for the themes.
#[derive(clap::Args, Debug)]
pub struct Rows {
    #[command(flatten)]
    pub corpus: crate::cmd::CorpusArgs,

    /// Only these threads (ids as `rethread threads` prints them).
    #[arg(long = "thread", value_name = "ID", num_args = 1..)]
    pub threads: Vec<String>,

    /// Attach quote posts under the post they quote.
    #[arg(long)]
    pub quotes: bool,

    #[command(flatten)]
    pub themes: crate::cmd::ThemeArgs,

    #[command(flatten)]
    pub pseudonym: Pseudonym,
}

/// Whether a readable export (markdown, html) shows the themes. They are shown by default:
/// the transcript is where a researcher reads the codes beside the words that earned them.
#[derive(clap::Args, Debug)]
pub struct ShowThemes {
    /// Leave the themes out: no codes under the posts, no theme table.
    #[arg(long, conflicts_with_all = ["themes", "codebook", "learned"])]
    pub no_themes: bool,

    /// Does nothing: themes are shown by default now (--no-themes leaves them out). Kept so
    /// that scripts written when it was needed keep working.
    #[arg(long)]
    pub themes: bool,
}

/// Pseudonymisation of an export.
#[derive(clap::Args, Debug)]
pub struct Pseudonym {
    /// Replace every account (author, replied-to, mentions, @handles and profile and post links
    /// in text) by a stable salted hash, and drop post URLs; the output says it is pseudonymised.
    #[arg(long)]
    pub pseudonymize: bool,

    /// The salt (at least 8 characters; RETHREAD_SALT when absent). Keep it secret: with it,
    /// anyone can test a guessed handle against a pseudonym.
    #[arg(
        long,
        value_name = "SALT",
        env = "RETHREAD_SALT",
        hide_env_values = true,
        requires = "pseudonymize"
    )]
    pub salt: Option<String>,
}

impl Pseudonym {
    /// Pseudonymise `set` in place if asked; returns whether it did.
    /// Whether accounts are to be pseudonymised (an error when asked without a salt).
    pub fn enabled(&self) -> Result<bool> {
        Ok(self.pseudonymizer()?.is_some())
    }

    pub fn apply(&self, set: &mut rethread::corpus::PostSet) -> Result<bool> {
        let Some(ps) = self.pseudonymizer()? else {
            return Ok(false);
        };
        set.map_posts(|p| ps.apply(p));
        Ok(true)
    }

    /// Pseudonymise what codes quote from outside the posts (a learned code's labelled
    /// example), if asked. The posts themselves are rewritten before coding, by [`Self::apply`].
    pub fn apply_to_codes(&self, codes: &mut [Vec<rethread::themes::Evidence>]) -> Result<()> {
        if let Some(ps) = self.pseudonymizer()? {
            ps.codes(codes);
        }
        Ok(())
    }

    fn pseudonymizer(&self) -> Result<Option<rethread::export::pseudonym::Pseudonymizer>> {
        if !self.pseudonymize {
            return Ok(None);
        }
        let Some(salt) = &self.salt else {
            anyhow::bail!("--pseudonymize needs a salt: set RETHREAD_SALT or give --salt");
        };
        Ok(Some(rethread::export::pseudonym::Pseudonymizer::new(salt)?))
    }
}

/// The loaded posts, their threads, the selected thread indices, the codebook and the codes.
pub struct Loaded {
    pub set: rethread::corpus::PostSet,
    pub threads: rethread::thread::Threads,
    pub selected: Vec<usize>,
    pub book: rethread::themes::Codebook,
    /// Indexed like the set's posts; empty when loaded without coding.
    pub codes: Vec<Vec<rethread::themes::Evidence>>,
    pub coded: bool,
    pub pseudonymised: bool,
}

impl Loaded {
    /// What every writer takes (`export::Input`).
    pub fn input(&self) -> rethread::export::Input<'_> {
        rethread::export::Input {
            set: &self.set,
            threads: &self.threads,
            selected: &self.selected,
            codes: self.coded.then_some((&self.book, &self.codes[..])),
            pseudonymised: self.pseudonymised,
        }
    }
}

impl Rows {
    /// The selected threads from the corpus a batch at a time (see `thread::batched`), each
    /// batch pseudonymised and coded (when `code`) as [`Rows::load_coded`] does the whole,
    /// handed to `f` in output order. Returns how many threads were selected, and the
    /// codebook. For the exports that are a concatenation of their threads (JSON Lines).
    pub fn each_batch(
        &self,
        code: bool,
        mut f: impl FnMut(&rethread::export::Input) -> Result<()>,
    ) -> Result<(usize, rethread::themes::Codebook)> {
        use rethread::thread::batched;
        let book = self.themes.codebook()?;
        let (corpus, opts, outline) = self.corpus.outline(self.quotes)?;
        for wanted in &self.threads {
            if !outline.threads.iter().any(|t| &t.id() == wanted) {
                anyhow::bail!("no thread {wanted:?} (list them with `rethread threads`)");
            }
        }
        let selected: Vec<usize> = (0..outline.threads.len())
            .filter(|&i| self.threads.is_empty() || self.threads.contains(&outline.threads[i].id()))
            .collect();
        let pseudonymised = self.pseudonym.enabled()?;
        {
            let prepared = if code {
                Some(self.themes.prepare(&book)?)
            } else {
                None
            };
            // Pseudonymised before the threads are built, as in memory.
            let before =
                |set: &mut rethread::corpus::PostSet| self.pseudonym.apply(set).map(|_| ());
            batched::for_each_batch(
                &corpus,
                &outline,
                &opts,
                &selected,
                before,
                |set, threads, at| {
                    let codes = match &prepared {
                        Some(p) => {
                            let mut codes = p.code_posts(set, &self.corpus)?;
                            self.pseudonym.apply_to_codes(&mut codes)?;
                            codes
                        }
                        None => Vec::new(),
                    };
                    let chosen: Vec<usize> = at.iter().map(|&(_, k)| k).collect();
                    f(&rethread::export::Input {
                        set,
                        threads,
                        selected: &chosen,
                        codes: prepared.is_some().then_some((&book, &codes[..])),
                        pseudonymised,
                    })
                },
            )?;
        }
        Ok((selected.len(), book))
    }

    pub fn load(&self) -> Result<Loaded> {
        self.load_coded(true)
    }

    /// [`Rows::load`], coding the posts only when `code` (else `codes` is empty): an export
    /// asked to leave the themes out does not pay for coding, nor need a model.
    pub fn load_coded(&self, code: bool) -> Result<Loaded> {
        let book = self.themes.codebook()?;
        let mut set = self.corpus.load()?;
        let pseudonymised = self.pseudonym.apply(&mut set)?;
        let threads = crate::cmd::build_threads(&set, self.quotes);
        for wanted in &self.threads {
            if !threads.threads.iter().any(|t| &t.id == wanted) {
                anyhow::bail!("no thread {wanted:?} (list them with `rethread threads`)");
            }
        }
        let selected: Vec<usize> = (0..threads.threads.len())
            .filter(|&i| self.threads.is_empty() || self.threads.contains(&threads.threads[i].id))
            .collect();
        let mut codes = if code {
            self.themes.code_posts(&book, &set, &self.corpus)?
        } else {
            Vec::new()
        };
        self.pseudonym.apply_to_codes(&mut codes)?;
        Ok(Loaded {
            set,
            threads,
            selected,
            book,
            codes,
            coded: code,
            pseudonymised,
        })
    }
}

/// Write a single-file export: to standard output when `path` is `-`, else into a new file
/// beside `path` renamed into place (a failed export never leaves a half-written file under
/// the name a script expects, and never writes through an existing file or link).
pub fn write_atomically(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
) -> Result<()> {
    if path.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        write(&mut out)?;
        std::io::Write::flush(&mut out)?;
        return Ok(());
    }
    rethread::export::atomic::write(path, rethread::export::atomic::Durability::Synced, |w| {
        write(w)
    })
}

/// Write the graph `kind` of the rows' threads to `out` in the format `parts` makes for a
/// writer: what the gexf, graphml and dot commands share. From `--db` the graph is written a
/// batch of threads at a time ([`rethread::export::graph::Stream`]), else built whole.
pub fn write_graph(
    out: &std::path::Path,
    kind: rethread::export::graph::Kind,
    rows: &Rows,
    parts: impl for<'w> Fn(&'w mut dyn std::io::Write) -> Box<dyn rethread::export::graph::Parts + 'w>,
) -> Result<()> {
    use rethread::export::graph;
    let (nodes, edges) = if rows.corpus.batched() {
        // The edges wait in a spool file beside the output (where there is room for it).
        let spool_dir = match out.parent() {
            _ if out.as_os_str() == "-" => std::env::temp_dir(),
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let pseudonymised = rows.pseudonym.enabled()?;
        let mut counts = (0, 0);
        write_atomically(out, |w| {
            let mut stream = graph::Stream::new(parts(w), kind, pseudonymised, &spool_dir)?;
            rows.each_batch(kind == graph::Kind::Replies, |input| stream.add(input))?;
            counts = stream.finish()?;
            Ok(())
        })?;
        counts
    } else {
        let l = rows.load()?;
        let g = graph::build(kind, &l.input());
        write_atomically(out, |w| graph::write_parts(&g, &mut *parts(w)))?;
        let counts = (g.nodes.len(), g.edges.len());
        crate::cmd::leak_at_exit(l.set, l.threads);
        counts
    };
    eprintln!("wrote {nodes} nodes and {edges} edges to {}", out.display());
    Ok(())
}
