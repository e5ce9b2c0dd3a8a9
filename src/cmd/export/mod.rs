//! `rethread export FORMAT`: write threads out. One file per format below this one.

pub mod markdown;

use anyhow::Result;

/// Write threads out as files.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    Markdown(markdown::Args),
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Markdown(args) => markdown::run(args),
    }
}
