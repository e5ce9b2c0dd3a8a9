//! `rethread collect SOURCE`: fetch posts from a network's API into the corpus. One file per
//! source below this one.

pub mod mastodon;

use anyhow::Result;

/// Collect posts and their threads from a network's API into the corpus.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    Mastodon(mastodon::Args),
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Mastodon(args) => mastodon::run(args),
    }
}
