//! `rethread collect twitter`: a Twitter/X API v2 search, and the whole conversation of every
//! tweet it finds, into the corpus.

use super::mastodon::bars;
use anyhow::{bail, Context, Result};
use rethread::corpus::Corpus;
use rethread::source::twitter_api::{self, Options, Summary};
use url::Url;

/// Collect tweets matching a search from the Twitter/X API v2, and the whole conversation of
/// each, with its root, into the corpus.
///
///   TWITTER_BEARER_TOKEN=... rethread collect twitter --query '#customerservice'
///   rethread export markdown --out transcripts
///
/// The search is `/2/tweets/search/recent` (the last seven days), or `/2/tweets/search/all`
/// with --archive (full-archive access; at most one page a second). For each conversation
/// seen, `conversation_id:ID` is searched too, and the roots and parents that search leaves
/// out are looked up by id. A tweet the API will not give is recorded with its reason
/// (deleted, protected, suspended, or "not returned") and shown as a gap in the transcripts.
///
/// The bearer token comes from TWITTER_BEARER_TOKEN (or X_BEARER_TOKEN); it is sent to
/// --api-base only, never printed or stored. Every API page is kept in the corpus as
/// received (see `rethread export twarc2`).
///
/// Interrupted? Run the same command again: it goes on where it stopped.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The search query, in the API's query language (e.g. '#customerservice -is:retweet').
    #[arg(long, value_name = "QUERY")]
    pub query: String,

    /// Full-archive search (`/2/tweets/search/all`) instead of the last seven days.
    #[arg(long)]
    pub archive: bool,

    #[command(flatten)]
    pub window: super::WindowArgs,

    /// Stop the search after this many tweets (conversations are still completed).
    #[arg(long, value_name = "N")]
    pub max_posts: Option<u64>,

    /// Only the matching tweets: do not fetch their conversations.
    #[arg(long)]
    pub no_conversations: bool,

    /// The API root (for tests against a local server).
    #[arg(long, value_name = "URL", default_value = "https://api.twitter.com")]
    pub api_base: String,

    #[command(flatten)]
    pub db: crate::cmd::DbArg,

    #[command(flatten)]
    pub net: super::NetArgs,
}

pub fn run(args: Args) -> Result<()> {
    let api_base = Url::parse(&args.api_base)
        .with_context(|| format!("--api-base {:?}: not a URL", args.api_base))?;
    if !matches!(api_base.scheme(), "https" | "http") || api_base.host_str().is_none() {
        bail!("--api-base {:?}: give the API's root URL", args.api_base);
    }
    let (since, until) = args.window.window()?;
    let token = ["TWITTER_BEARER_TOKEN", "X_BEARER_TOKEN"]
        .iter()
        .find_map(|k| std::env::var(k).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        bail!("set TWITTER_BEARER_TOKEN (or X_BEARER_TOKEN) to your API bearer token");
    };
    let opts = Options {
        api_base,
        query: args.query,
        archive: args.archive,
        since,
        until,
        max_posts: args.max_posts,
        no_conversations: args.no_conversations,
        token,
        net: args.net.config()?,
    };
    let mut corpus = Corpus::open(&args.db)?;
    let bars = bars();
    let summary = twitter_api::collect(&opts, &mut corpus, &bars)?;
    bars.finish_and_clear();
    // The job's threads: those holding a tweet of a conversation it asked.
    let threads = super::job_threads(&corpus, &summary.job, |set, frontier| {
        (0..set.len())
            .filter(|&i| {
                let p = &set.posts()[i];
                p.platform() == rethread::model::Platform::Twitter
                    && p.conversation_id()
                        .is_some_and(|c| frontier.contains(&format!("{c}@twitter")))
            })
            .collect()
    })?;
    report(&summary, threads, &args.db);
    if summary.interrupted {
        bail!("interrupted; everything collected so far is stored: run the same command again to go on");
    }
    if !summary.errors.is_empty() {
        bail!("the collection stopped early; run the same command again to go on");
    }
    Ok(())
}

fn report(s: &Summary, t: super::JobThreads, db: &std::path::Path) {
    let c = &s.counters;
    eprintln!("{}", super::headline(s.interrupted, db, &s.job, s.resumed),);
    eprintln!(
        "  tweets: {} matched, {} stored with their conversations",
        c.matched, c.stored
    );
    eprintln!(
        "  conversations: {} ({} failed); threads: {} ({} complete, {} with gaps), {} tweets in them",
        t.asked,
        c.conversations_failed,
        t.threads,
        t.complete,
        t.threads - t.complete,
        t.posts
    );
    for (why, n) in &c.gaps {
        eprintln!("    missing tweets {n}: {why}");
    }
    eprintln!(
        "  requests: {} (search {}, conversation {}, lookup {}); {} retried, {} rate-limited",
        c.http.http_requests,
        c.search_requests,
        c.conversation_requests,
        c.lookup_requests,
        c.http.retries,
        c.http.rate_limited
    );
    // A server that paged in circles: what it sent is kept and the job is complete as far as
    // it goes, so these are warnings (exit 0), not errors; running again would not help.
    super::print_warnings_and_errors(&c.warnings, &s.errors);
}
