//! `rethread collect SOURCE`: fetch posts from a network's API into the corpus. One file per
//! source below this one.

pub mod bluesky;
pub mod mastodon;
pub mod twitter;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};

/// Collect posts and their threads from a network's API into the corpus.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    Mastodon(mastodon::Args),
    Twitter(twitter::Args),
    Bluesky(bluesky::Args),
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Mastodon(args) => mastodon::run(args),
        Command::Twitter(args) => twitter::run(args),
        Command::Bluesky(args) => bluesky::run(args),
    }
    .map_err(name_flags)
}

/// The flag of a collector option: `api_base` → `--api-base` (every collector's flags are its
/// options' names).
fn flag(option: &str) -> String {
    format!("--{}", option.replace('_', "-"))
}

/// Say an option error of a collector in terms of this command's flags.
fn name_flags(e: anyhow::Error) -> anyhow::Error {
    use rethread::source::OptionError;
    match e.downcast_ref::<OptionError>() {
        Some(OptionError::Nothing(options)) => {
            let flags: Vec<String> = options.iter().map(|o| flag(o)).collect();
            anyhow::anyhow!("nothing to collect: give {}", flags.join(" or "))
        }
        Some(OptionError::Bad {
            option,
            value,
            problem,
        }) => anyhow::anyhow!("{} {value:?}: {problem}", flag(option)),
        None => e,
    }
}

/// The threads a collection job reached, for its summary: from the thread stage, over the
/// corpus as it now is (a collector only collects).
#[derive(Debug, Clone, Copy, Default)]
pub struct JobThreads {
    /// Entries of the job's frontier (posts, conversations or thread roots asked).
    pub asked: u64,
    pub threads: u64,
    /// Threads without a gap.
    pub complete: u64,
    pub posts: u64,
}

/// The threads holding a post of the job: `wanted` gives the indices of the job's posts in the
/// corpus's set, from the job's frontier entries (`local_id@server`, as the corpus keeps
/// them), since what each collector counts as its own differs (Mastodon: the posts asked;
/// Twitter: their conversations; Bluesky: the thread roots).
pub fn job_threads(
    corpus: &rethread::corpus::Corpus,
    job: &str,
    wanted: impl FnOnce(
        &rethread::corpus::PostSet,
        &std::collections::HashSet<String>,
    ) -> std::collections::HashSet<usize>,
) -> Result<JobThreads> {
    Ok(job_threads_and_graph(corpus, job, wanted)?.0)
}

/// [`job_threads`], and the posts and threads it built them from (none when the job has no
/// frontier), for a summary that says more about them.
pub fn job_threads_and_graph(
    corpus: &rethread::corpus::Corpus,
    job: &str,
    wanted: impl FnOnce(
        &rethread::corpus::PostSet,
        &std::collections::HashSet<String>,
    ) -> std::collections::HashSet<usize>,
) -> Result<(
    JobThreads,
    Option<(rethread::corpus::PostSet, rethread::thread::Threads)>,
)> {
    let frontier: std::collections::HashSet<String> =
        corpus.frontier_posts(job)?.into_iter().collect();
    let mut totals = JobThreads {
        asked: frontier.len() as u64,
        ..JobThreads::default()
    };
    if frontier.is_empty() {
        return Ok((totals, None));
    }
    let set = corpus.load()?;
    let mine = wanted(&set, &frontier);
    let threads = rethread::thread::build(&set, &rethread::thread::Options { quotes: false });
    for t in &threads.threads {
        let ours = t.nodes.iter().any(|&n| match threads.node(n) {
            rethread::thread::Node::Post(i) => mine.contains(&i),
            rethread::thread::Node::Gap(_) => false,
        });
        if ours {
            totals.threads += 1;
            totals.posts += t.posts as u64;
            totals.complete += u64::from(t.gaps == 0);
        }
    }
    Ok((totals, Some((set, threads))))
}

/// The first line of a collection's summary: where it went, the job, and how the run ended.
pub fn headline(interrupted: bool, db: &std::path::Path, job: &str, resumed: bool) -> String {
    format!(
        "{} {} (job {job}{})",
        if interrupted {
            "interrupted:"
        } else {
            "collected into"
        },
        db.display(),
        if resumed { ", resumed" } else { "" },
    )
}

/// The last lines of a collection's summary: its warnings, then its errors.
pub fn print_warnings_and_errors(warnings: &rethread::corpus::Warnings, errors: &[String]) {
    for w in warnings.lines() {
        eprintln!("warning: {w}");
    }
    for e in errors {
        eprintln!("error: {e}");
    }
}

/// How a collector treats the network: the flags every `collect` command shares.
#[derive(clap::Args, Debug)]
pub struct NetArgs {
    /// Seconds before a request is given up (and retried).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,

    /// Retries after a timeout, a network error, a 5xx or a malformed answer.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,

    /// Least milliseconds between two requests to one server (a server's rate limits can make
    /// the wait longer, never shorter).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub pace: u64,

    /// First backoff after a failed request, in milliseconds (doubled per retry, jittered).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub backoff: u64,
}

impl NetArgs {
    pub fn config(&self) -> Result<rethread::source::net::NetConfig> {
        use std::time::Duration;
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            anyhow::bail!("--timeout must be a positive number of seconds");
        }
        Ok(rethread::source::net::NetConfig {
            timeout: Duration::from_secs_f64(self.timeout),
            retries: self.retries,
            backoff: Duration::from_millis(self.backoff),
            pace: Duration::from_millis(self.pace),
            ..Default::default()
        })
    }
}

/// Where a collection's time window starts and ends; `None` is open on that side.
pub type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The time window of a collection: the flags every `collect` command shares.
#[derive(clap::Args, Debug)]
pub struct WindowArgs {
    /// Only posts created on or after this date (YYYY-MM-DD, UTC) or time (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,

    /// Only posts created on or before this date (the whole day, UTC) or before this time.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
}

impl WindowArgs {
    /// Both ends read and checked before anything is asked. A date is a whole UTC day:
    /// `--since D` starts at its midnight, `--until D` ends at the next. An empty window is an
    /// error, not a silent empty collection.
    pub fn window(&self) -> Result<Window> {
        date_window(self.since.as_deref(), self.until.as_deref())
    }
}

fn date_window(since: Option<&str>, until: Option<&str>) -> Result<Window> {
    let since = since.map(|s| parse_date(s, false)).transpose()?;
    let until = until.map(|s| parse_date(s, true)).transpose()?;
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            anyhow::bail!("--since is not before --until: nothing could match");
        }
    }
    Ok((since, until))
}

fn parse_date(s: &str, end_of_day: bool) -> Result<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("{s:?}: not a date (YYYY-MM-DD) or time (RFC 3339)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collector_option_error_names_the_commands_flag() {
        use rethread::source::OptionError;
        let lib = OptionError::Bad {
            option: "api_base",
            value: "ftp://x".into(),
            problem: "not a server URL",
        };
        assert!(
            !lib.to_string().contains("--"),
            "the library names no flag: {lib}"
        );
        let e = name_flags(lib.into()).to_string();
        assert_eq!(e, r#"--api-base "ftp://x": not a server URL"#);
        let e = name_flags(OptionError::Nothing(&["query", "tag"]).into()).to_string();
        assert_eq!(e, "nothing to collect: give --query or --tag");
        // Other errors pass as they are.
        assert_eq!(
            name_flags(anyhow::anyhow!("disk full")).to_string(),
            "disk full"
        );
    }

    #[test]
    fn dates_are_whole_days() {
        assert_eq!(
            parse_date("2024-01-31", false).unwrap().to_rfc3339(),
            "2024-01-31T00:00:00+00:00"
        );
        assert_eq!(
            parse_date("2024-01-31", true).unwrap().to_rfc3339(),
            "2024-02-01T00:00:00+00:00"
        );
        assert!(parse_date("31/01/2024", false).is_err());
    }

    #[test]
    fn an_empty_window_is_refused() {
        let (s, u) = date_window(Some("2024-01-31"), Some("2024-01-31")).unwrap();
        assert!(s.unwrap() < u.unwrap(), "one whole day");
        let err = date_window(Some("2024-02-01"), Some("2024-01-31")).unwrap_err();
        assert!(
            err.to_string().contains("--since is not before --until"),
            "{err}"
        );
        let err = date_window(Some("2024-01-31T12:00:00Z"), Some("2024-01-30")).unwrap_err();
        assert!(err.to_string().contains("--since"), "{err}");
        assert_eq!(date_window(None, None).unwrap(), (None, None));
        assert!(date_window(Some("yesterday"), None).is_err());
    }
}
