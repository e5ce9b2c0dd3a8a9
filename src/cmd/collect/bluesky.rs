//! `rethread collect bluesky`: a Bluesky search, and the whole thread of every post it finds,
//! into the corpus.

use super::mastodon::bars;
use anyhow::{bail, Context, Result};
use rethread::corpus::Corpus;
use rethread::model::Platform;
use rethread::source::bluesky_api::{self, Options, Summary};
use std::collections::HashSet;
use std::path::Path;
use url::Url;

/// Collect Bluesky posts matching a search or a tag, and the whole thread of each, into the
/// corpus.
///
///   BLUESKY_IDENTIFIER=you.bsky.social BLUESKY_APP_PASSWORD=xxxx-xxxx-xxxx-xxxx \
///     rethread collect bluesky --tag customerservice
///   rethread export markdown --out transcripts
///
/// The search is `app.bsky.feed.searchPosts` (newest first, 100 a page); when the AppView stops
/// paging a query (near 10,000 results) it goes on before the oldest post seen. Each thread is
/// one `app.bsky.feed.getPostThread` from its root, plus one for each branch the answer cut off
/// (the AppView cuts deep threads). Deleted, taken-down and blocked posts are gaps with their
/// reason.
///
/// The session is made on --pds with an app password (Settings → App passwords) from
/// BLUESKY_IDENTIFIER and BLUESKY_APP_PASSWORD, and refreshed when it expires; the password and
/// the tokens are sent to --pds only, never printed or stored. Accounts that asked not to be
/// shown to logged-out viewers (`!no-unauthenticated`) are left out unless --include-opted-out.
///
/// Interrupted? Run the same command again: it goes on where it stopped.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The search, in the AppView's query syntax (e.g. 'customer service', '"long wait"').
    #[arg(long, value_name = "QUERY", required_unless_present = "tag")]
    pub query: Option<String>,

    /// Posts with this tag (with or without '#'), by the tag facet, not the words.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    #[command(flatten)]
    pub window: super::WindowArgs,

    /// Stop the search after this many posts (their threads are still completed).
    #[arg(long, value_name = "N")]
    pub max_posts: Option<u64>,

    /// Only the matching posts: do not fetch their threads.
    #[arg(long)]
    pub no_context: bool,

    /// Keep posts of accounts labelled `!no-unauthenticated` (left out by default).
    #[arg(long)]
    pub include_opted_out: bool,

    /// The account's server, where the session is made.
    #[arg(long, value_name = "URL", default_value = "https://bsky.social")]
    pub pds: String,

    /// Where searches and threads are asked (default: the PDS, which passes them on).
    #[arg(long, value_name = "URL")]
    pub appview: Option<String>,

    #[command(flatten)]
    pub db: crate::cmd::DbArg,

    #[command(flatten)]
    pub net: super::NetArgs,
}

fn server_url(flag: &str, s: &str) -> Result<Url> {
    let u = Url::parse(s).with_context(|| format!("{flag} {s:?}: not a URL"))?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        bail!("{flag} {s:?}: give the server's root URL (https://...)");
    }
    Ok(u)
}

pub fn run(args: Args) -> Result<()> {
    let pds = server_url("--pds", &args.pds)?;
    let appview = match &args.appview {
        Some(a) => server_url("--appview", a)?,
        None => pds.clone(),
    };
    let (since, until) = args.window.window()?;
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let (Some(identifier), Some(password)) =
        (var("BLUESKY_IDENTIFIER"), var("BLUESKY_APP_PASSWORD"))
    else {
        bail!("set BLUESKY_IDENTIFIER (your handle) and BLUESKY_APP_PASSWORD (an app password from Settings → App passwords)");
    };
    let opts = Options {
        pds,
        appview,
        query: args.query,
        tag: args.tag,
        since,
        until,
        max_posts: args.max_posts,
        no_context: args.no_context,
        include_opted_out: args.include_opted_out,
        identifier,
        password,
        net: args.net.config()?,
    };
    let mut corpus = Corpus::open(&args.db)?;
    let bars = bars();
    let summary = bluesky_api::collect(&opts, &mut corpus, &bars)?;
    bars.finish_and_clear();
    // The job's threads: those holding a post of a root it asked (the root, or a post of its
    // conversation when the root itself is gone).
    let threads = super::job_threads(&corpus, &summary.job, |set, frontier| {
        let roots: HashSet<&str> = frontier
            .iter()
            .filter_map(|f| f.rsplit_once('@').map(|(uri, _)| uri))
            .collect();
        (0..set.len())
            .filter(|&i| {
                let p = &set.posts()[i];
                p.platform() == Platform::Bluesky
                    && (roots.contains(p.id())
                        || p.conversation_id().is_some_and(|c| roots.contains(c)))
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

fn report(s: &Summary, t: super::JobThreads, db: &Path) {
    let (threads, complete, in_threads) = (t.threads, t.complete, t.posts);
    let c = &s.counters;
    eprintln!("{}", super::headline(s.interrupted, db, &s.job, s.resumed),);
    eprintln!(
        "  posts: {} matched, {} stored with their threads",
        c.matched, c.stored
    );
    eprintln!(
        "  threads: {threads} ({complete} complete, {} with gaps), {in_threads} posts in them; {} failed",
        threads - complete,
        c.threads_failed
    );
    for (why, n) in &c.gaps {
        eprintln!("    missing posts {n}: {why}");
    }
    for (why, n) in &c.left_out {
        eprintln!("    left out {n}: {why} (--include-opted-out keeps them)");
    }
    eprintln!(
        "  requests: {} (search {}, of which {} continued before the oldest post; thread {}, cut branch {}); {} retried, {} rate-limited; sessions {} made, {} refreshed",
        c.http.http_requests,
        c.search_requests,
        c.continuations,
        c.thread_requests,
        c.branch_requests,
        c.http.retries,
        c.http.rate_limited,
        c.sessions,
        c.refreshes
    );
    super::print_warnings_and_errors(&c.warnings, &s.errors);
}
