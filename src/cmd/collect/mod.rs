//! `rethread collect SOURCE`: fetch posts from a network's API into the corpus. One file per
//! source below this one.

pub mod mastodon;
pub mod twitter;

use anyhow::Result;

/// Collect posts and their threads from a network's API into the corpus.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    Mastodon(mastodon::Args),
    Twitter(twitter::Args),
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Mastodon(args) => mastodon::run(args),
        Command::Twitter(args) => twitter::run(args),
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
