//! `rethread collect mastodon`: a hashtag or a search on a Mastodon server, and every thread
//! its posts belong to, into the corpus.

use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rethread::corpus::Corpus;
use rethread::source::mastodon_api::{self, Bars, Options, Summary};
use rethread::source::net::NetConfig;
use std::time::Duration;
use url::Url;

/// Collect posts with a hashtag (or matching a search) from a Mastodon server, and the whole
/// thread of each, into the corpus.
///
///   rethread collect mastodon --instance https://mastodon.social --tag customerservice
///   rethread export markdown --out transcripts
///
/// The tag timeline is paged 40 posts at a time, newest first, until --since, --max-posts or
/// its end. Then each thread is fetched once through its context, on the server asked and on
/// the server each post comes from, so that replies only their own server knows are found too.
/// Parents that cannot be had are recorded with the reason (deleted, not public, server refused,
/// timed out) and shown as gaps in the transcripts.
///
/// Only public and unlisted posts are stored. Posts of accounts that opt out (`noindex`, or
/// #nobot / #noindex in their profile) are left out unless --include-opted-out; the summary says
/// how many were left out and why.
///
/// An access token is optional: set MASTODON_TOKEN (it is sent to --instance only, and never
/// printed or stored). Mastodon shows search results only to logged-in users.
///
/// Interrupted (Ctrl-C, a crash, kill -9)? Run the same command again: it goes on where it
/// stopped. Running a finished collection again collects what is new.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The server to ask, e.g. https://mastodon.social.
    #[arg(long, value_name = "URL")]
    pub instance: String,

    /// A hashtag to collect (with or without #); repeat for several.
    #[arg(long, value_name = "TAG", num_args = 1.., required_unless_present = "search")]
    pub tag: Vec<String>,

    /// A full-text search instead of (or besides) tags.
    #[arg(long, value_name = "QUERY")]
    pub search: Option<String>,

    /// Also posts with any of these tags (Mastodon's `any[]`).
    #[arg(long, value_name = "TAG", num_args = 1.., requires = "tag")]
    pub any: Vec<String>,

    /// Only posts that also have all of these tags (`all[]`).
    #[arg(long, value_name = "TAG", num_args = 1.., requires = "tag")]
    pub all: Vec<String>,

    /// Leave out posts with any of these tags (`none[]`).
    #[arg(long, value_name = "TAG", num_args = 1.., requires = "tag")]
    pub none: Vec<String>,

    #[command(flatten)]
    pub window: super::WindowArgs,

    /// Stop after this many matching posts (threads are still completed).
    #[arg(long, value_name = "N")]
    pub max_posts: Option<u64>,

    /// Only the matching posts: do not fetch their threads.
    #[arg(long)]
    pub no_context: bool,

    /// Keep posts of accounts that opted out of indexing (for studies with their consent).
    #[arg(long)]
    pub include_opted_out: bool,

    #[command(flatten)]
    pub db: crate::cmd::DbArg,

    #[command(flatten)]
    pub net: super::NetArgs,

    /// Requests in flight to one server at a time.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub concurrency: usize,
}

pub fn run(args: Args) -> Result<()> {
    let instance = parse_instance(&args.instance)?;
    let (since, until) = args.window.window()?;
    let token = std::env::var("MASTODON_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let opts = Options {
        instance,
        tags: args.tag,
        search: args.search,
        any: args.any,
        all: args.all,
        none: args.none,
        since,
        until,
        max_posts: args.max_posts,
        no_context: args.no_context,
        include_opted_out: args.include_opted_out,
        token,
        net: NetConfig {
            per_host: args.concurrency.max(1),
            ..args.net.config()?
        },
    };
    let mut corpus = Corpus::open(&args.db)?;
    let bars = bars();
    let summary = mastodon_api::collect(&opts, &mut corpus, &bars)?;
    bars.finish_and_clear();
    // The job's threads: those holding a post it asked (found by id or by another server's id).
    let threads = super::job_threads(&corpus, &summary.job, |set, frontier| {
        frontier
            .iter()
            .filter_map(|id| set.find(rethread::model::Platform::Mastodon, id))
            .collect()
    })?;
    report(&summary, threads, &args.db);
    if summary.interrupted {
        bail!("interrupted; everything collected so far is stored: run the same command again to go on");
    }
    if !summary.errors.is_empty() {
        bail!(
            "the collection stopped early ({} error{}); run the same command again to go on",
            summary.errors.len(),
            if summary.errors.len() == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// `https://mastodon.social`, `mastodon.social` or `https://mastodon.social/` → the base URL.
fn parse_instance(s: &str) -> Result<Url> {
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("https://{s}")
    };
    let mut u = Url::parse(&with_scheme).with_context(|| format!("--instance {s:?}: not a URL"))?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        bail!("--instance {s:?}: give the server's address, e.g. https://mastodon.social");
    }
    u.set_path("/");
    u.set_query(None);
    u.set_fragment(None);
    Ok(u)
}

pub(super) fn bars() -> Bars {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let style =
        |t: &str| ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_bar());
    let posts = multi.add(ProgressBar::new_spinner());
    posts.set_style(style("{spinner} posts stored    {pos}"));
    let threads = multi.add(ProgressBar::new(0));
    threads.set_style(style("  threads asked   {wide_bar} {pos}/{len}"));
    let requests = multi.add(ProgressBar::new_spinner());
    requests.set_style(style("  requests        {pos} ({per_sec}) {msg}"));
    for b in [&posts, &requests] {
        b.enable_steady_tick(Duration::from_millis(250));
    }
    Bars {
        posts,
        threads,
        requests,
    }
}

fn report(s: &Summary, t: super::JobThreads, db: &std::path::Path) {
    let c = &s.counters;
    for note in &s.notes {
        eprintln!("note: {note}");
    }
    let left_out: u64 = c.left_out.values().sum();
    eprintln!(
        "{}{}",
        super::headline(s.interrupted, db, &s.job, s.resumed),
        s.server
            .as_deref()
            .map(|v| format!(", server {v}"))
            .unwrap_or_default()
    );
    eprintln!(
        "  posts: {} matched, {} statuses stored with their threads (a copy from each server counts), {} left out",
        c.matched, c.stored, left_out
    );
    for (why, n) in &c.left_out {
        eprintln!("    left out {n}: {why}");
    }
    eprintln!(
        "  threads: {} ({} complete, {} with gaps), {} posts in them",
        t.threads,
        t.complete,
        t.threads - t.complete,
        t.posts
    );
    for (why, n) in &c.gaps {
        eprintln!("    missing parents {n}: {why}");
    }
    if c.origins_unknown > 0 {
        eprintln!(
            "    posts from servers whose uri does not give the post's id there (not asked at their origin): {}",
            c.origins_unknown
        );
    }
    if c.contexts_failed > 0 {
        eprintln!(
            "    contexts that could not be fetched: {} (see collect_frontier in the corpus)",
            c.contexts_failed
        );
    }
    let per_thread = if t.threads > 0 {
        format!(
            "{:.2}",
            (c.context_requests + c.status_requests) as f64 / t.threads as f64
        )
    } else {
        "-".into()
    };
    eprintln!(
        "  requests: {} (timeline {}, search {}, context {} of which origin {} and re-asked {}, status {}); {} per thread; {} retried, {} rate-limited",
        c.http.http_requests,
        c.timeline_requests,
        c.search_requests,
        c.context_requests,
        c.origin_requests,
        c.recheck_requests,
        c.status_requests,
        per_thread,
        c.http.retries,
        c.http.rate_limited
    );
    // A server that paged in circles: what it sent is kept and the job is complete as far as
    // it goes, so these are warnings (exit 0), not errors; running again would not help.
    super::print_warnings_and_errors(&c.warnings, &s.errors);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_forms() {
        for s in [
            "https://m.example",
            "https://m.example/",
            "m.example",
            "https://m.example/about",
        ] {
            assert_eq!(parse_instance(s).unwrap().as_str(), "https://m.example/");
        }
        assert_eq!(
            parse_instance("http://127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert!(parse_instance("ftp://m.example").is_err());
    }
}
