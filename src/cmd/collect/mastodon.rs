//! `rethread collect mastodon`: a hashtag or a search on one or several Mastodon servers, and
//! every thread its posts belong to, into the corpus.

use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rethread::corpus::Corpus;
use rethread::source::mastodon_api::{self, Bars, Options, Summary};
use rethread::source::net::NetConfig;
use std::time::Duration;
use url::Url;

/// Collect posts with a hashtag (or matching a search) from one or several Mastodon servers,
/// and the whole thread of each, into the corpus.
///
///   rethread collect mastodon --instance https://mastodon.social --tag customerservice
///   rethread collect mastodon --instance mastodon.social --instance fosstodon.org --tag cx
///   rethread coverage
///   rethread export markdown --out transcripts
///
/// A server only knows the posts that reached it: its tag timeline is a sample of the tag.
/// Ask several (--instance repeated, or --instances FILE), and --discover N more: the N
/// servers that wrote most of the posts found. A post shown by several servers is stored once
/// (joined by its uri), and the summary and `rethread coverage` say what each server added.
///
/// Each tag timeline is paged 40 posts at a time, newest first, until --since, --max-posts or
/// its end. Then each thread is fetched once through its context, on the server the post
/// comes from (its origin knows its replies best; the server that showed it when the origin
/// cannot be asked), and on the origin of the thread's root. Parents that cannot be had are
/// recorded with the reason (deleted, not public, server refused, timed out) and shown as gaps
/// in the transcripts.
///
/// Only public and unlisted posts are stored. Posts of accounts that opt out (`noindex`, or
/// #nobot / #noindex in their profile) are left out unless --include-opted-out; the summary says
/// how many were left out and why.
///
/// An access token is optional: set MASTODON_TOKEN (it is sent to the first --instance only,
/// and never printed or stored), or give --token-file with a `host token` line per server
/// (the file must be readable by you alone). Mastodon shows search results only to logged-in
/// users, and a server may show its hashtag timelines to logged-in users only: the summary
/// says so per server, and the other servers go on. A token also lifts the caps a server puts
/// on the threads it shows to logged-out clients.
///
/// Interrupted (Ctrl-C, a crash, kill -9)? Run the same command again: it goes on where it
/// stopped. Running a finished collection again collects what is new.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A server to ask, e.g. https://mastodon.social; repeat for several.
    #[arg(long, value_name = "URL", required_unless_present = "instances")]
    pub instance: Vec<String>,

    /// A file of servers to ask, one URL a line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub instances: Option<std::path::PathBuf>,

    /// After the first pass, also ask the N servers that wrote most of the posts found (from
    /// their uris), if they speak the Mastodon API; never further than that one step.
    #[arg(long, value_name = "N")]
    pub discover: Option<usize>,

    /// Access tokens for several servers: one `host token` a line (`#` comments). Each token
    /// is sent to its own server only. Refused if others can read the file.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,

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

    /// Also the posts that quote a post of a collected thread (Mastodon 4.5+: every post the
    /// server says is quoted is asked for its quotes, paged). Quotes the quoted author has not
    /// allowed (pending, rejected, revoked) or that are gone are gaps with that state, never
    /// shown with content.
    #[arg(long, conflicts_with = "no_context")]
    pub quotes: bool,

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
    let mut instances = Vec::new();
    for s in &args.instance {
        instances.push(parse_instance(s)?);
    }
    if let Some(file) = &args.instances {
        instances.extend(read_instances(file)?);
    }
    let (since, until) = args.window.window()?;
    // Tokens from the file; MASTODON_TOKEN for the first server unless the file has its own.
    let mut tokens = match &args.token_file {
        Some(f) => read_token_file(f)?,
        None => Vec::new(),
    };
    let env_token = std::env::var("MASTODON_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let (Some(t), Some(first)) = (env_token, instances.first()) {
        let host = rethread::source::net::authority(first);
        if !tokens.iter().any(|(h, _)| *h == host) {
            tokens.push((host, t));
        }
    }
    let opts = Options {
        instances,
        tags: args.tag,
        search: args.search,
        any: args.any,
        all: args.all,
        none: args.none,
        since,
        until,
        max_posts: args.max_posts,
        no_context: args.no_context,
        quotes: args.quotes,
        include_opted_out: args.include_opted_out,
        discover: args.discover,
        tokens,
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
    let (threads, graph) = super::job_threads_and_graph(&corpus, &summary.job, |set, frontier| {
        frontier
            .iter()
            .filter_map(|id| set.find(rethread::model::Platform::Mastodon, id))
            .collect()
    })?;
    let coverage = match &graph {
        Some((set, t)) => rethread::thread::coverage::of_job(&corpus, set, t, &summary.job)?,
        None => rethread::thread::coverage::Coverage {
            union: corpus.match_counts(&summary.job)?.union,
            ..Default::default()
        },
    };
    if let Some((set, t)) = graph {
        crate::cmd::leak_at_exit(set, t);
    }
    report(&summary, threads, &coverage, &args.db);
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

/// The servers of an `--instances` file: one URL a line, `#` starts a comment.
fn read_instances(path: &std::path::Path) -> Result<Vec<Url>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--instances {}: cannot read it", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(
            parse_instance(line).with_context(|| format!("{}, line {}", path.display(), n + 1))?,
        );
    }
    if out.is_empty() {
        bail!("--instances {}: no server in it", path.display());
    }
    Ok(out)
}

/// The tokens of a `--token-file`: `host token` a line (`host` may be a URL), `#` comments.
/// A file others can read is refused: a token is as good as a password. Errors name the file
/// and line, never the token.
fn read_token_file(path: &std::path::Path) -> Result<Vec<(String, String)>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("--token-file {}: cannot read it", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "--token-file {}: others can read it (mode {mode:03o}); make it yours alone (chmod 600 {}) and run again",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--token-file {}: cannot read it", path.display()))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{}, line {}", path.display(), n + 1);
        let mut parts = line.split_whitespace();
        let (Some(host), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
            bail!("{}: expected `host token` (two words)", at());
        };
        let host = rethread::source::net::authority(
            &parse_instance(host).map_err(|_| anyhow::anyhow!("{}: not a server name", at()))?,
        );
        if out.iter().any(|(h, _)| *h == host) {
            bail!("{}: a second token for {host}", at());
        }
        out.push((host, token.to_string()));
    }
    Ok(out)
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

fn report(
    s: &Summary,
    t: super::JobThreads,
    cov: &rethread::thread::coverage::Coverage,
    db: &std::path::Path,
) {
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
    print_coverage(s, cov);
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
    if c.quotes_requests > 0 {
        eprintln!(
            "    quotes (--quotes): {} quoting posts found in {} requests",
            c.quotes_found, c.quotes_requests
        );
    }
    for (why, n) in &c.quote_gaps {
        eprintln!("    quotes not shown {n}: {why}");
    }
    if c.origins_unknown > 0 {
        eprintln!(
            "    posts from servers whose uri does not give the post's id there (not asked at their origin): {}",
            c.origins_unknown
        );
    }
    if c.refresh_threads > 0 {
        eprintln!(
            "    threads their server was still fetching (Mastodon-Async-Refresh): {}; asked again ({} contexts, {} polls): {} finished, bringing {} more posts, {} not finished in time (marked with a gap)",
            c.refresh_threads,
            c.refresh_contexts,
            c.refresh_polls,
            c.refresh_finished,
            c.refresh_posts,
            c.refresh_unfinished
        );
    }
    if c.threads_cut > 0 {
        let unfinished = if c.cuts_unfinished > 0 {
            format!(
                "; {} could not be finished that way: a token for the server (MASTODON_TOKEN or --token-file) lifts the caps",
                c.cuts_unfinished
            )
        } else {
            String::new()
        };
        eprintln!(
            "    threads cut by the caps on logged-out clients (40 ancestors, 60 descendants, depth 20): {}, asked again from where they were cut{unfinished}",
            c.threads_cut
        );
    }
    if c.origin_fallbacks > 0 {
        eprintln!(
            "    threads asked on a server that showed them because their origin could not be: {}",
            c.origin_fallbacks
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
    for (server, why) in &s.given_up {
        eprintln!("  given up: {server} kept failing ({why}); the other servers went on");
    }
    for (_, what) in &s.refused {
        eprintln!("warning: {what}");
    }
    // A server that paged in circles: what it sent is kept and the job is complete as far as
    // it goes, so these are warnings (exit 0), not errors; running again would not help.
    super::print_warnings_and_errors(&c.warnings, &s.errors);
}

/// The coverage lines of the summary: what each server's timelines added (`rethread
/// coverage` gives the same as a table, JSON or CSV).
fn print_coverage(s: &Summary, cov: &rethread::thread::coverage::Coverage) {
    let servers = s.servers.len();
    eprintln!(
        "  coverage: {} distinct matching posts from {servers} server{}; {} more only the threads found",
        cov.union,
        if servers == 1 { "" } else { "s" },
        cov.from_threads
    );
    if servers < 2 {
        return;
    }
    for sc in &cov.servers {
        eprintln!(
            "    {}: {} matched, {} only here, {:.1}% of the union",
            sc.server,
            sc.matched,
            sc.only_here,
            100.0 * sc.share
        );
    }
    for o in &cov.overlap {
        eprintln!("    overlap {} & {}: {}", o.a, o.b, o.both);
    }
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

    #[test]
    fn an_instances_file_has_a_server_a_line_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("servers.txt");
        std::fs::write(
            &f,
            "# the big ones\nhttps://a.example\n\n b.example  # second\n",
        )
        .unwrap();
        let got: Vec<String> = read_instances(&f)
            .unwrap()
            .iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(got, ["https://a.example/", "https://b.example/"]);
        std::fs::write(&f, "a.example\nftp://x\n").unwrap();
        let e = format!("{:#}", read_instances(&f).unwrap_err());
        assert!(e.contains("servers.txt, line 2"), "{e}");
        std::fs::write(&f, "# nothing\n").unwrap();
        assert!(read_instances(&f).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_maps_servers_to_tokens_and_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tokens");
        std::fs::write(
            &f,
            "# tokens\na.example tok-a\nhttp://127.0.0.1:8080 tok-b\n",
        )
        .unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_token_file(&f).unwrap(),
            [
                ("a.example".to_string(), "tok-a".to_string()),
                ("127.0.0.1:8080".to_string(), "tok-b".to_string())
            ]
        );
        // Readable by others: refused, without reading it.
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token_file(&f).unwrap_err().to_string();
        assert!(e.contains("others can read it (mode 644)"), "{e}");
        // A malformed line is named by its number, its token never shown.
        std::fs::write(&f, "a.example tok-secret extra\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = read_token_file(&f).unwrap_err().to_string();
        assert!(
            e.contains("tokens, line 1") && !e.contains("tok-secret"),
            "{e}"
        );
        std::fs::write(&f, "a.example t1\nhttps://a.example/ t2\n").unwrap();
        let e = read_token_file(&f).unwrap_err().to_string();
        assert!(e.contains("line 2: a second token for a.example"), "{e}");
    }
}
