//! `rethread export FORMAT`: write threads out. One file per format below this one.

pub mod markdown;
pub mod twarc2;

use anyhow::Result;

/// Write threads out as files.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    Markdown(markdown::Args),
    Twarc2(twarc2::Args),
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Markdown(args) => markdown::run(args),
        Command::Twarc2(args) => twarc2::run(args),
    }
}
