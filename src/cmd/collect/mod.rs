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
