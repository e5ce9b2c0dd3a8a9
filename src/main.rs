//! The `rethread` binary: parse the command line and hand over to one subcommand.
//!
//! Each subcommand lives in `src/cmd/`, one file each, with its help text at the top. The
//! stages themselves are library modules (`rethread::source`, `corpus`, `thread`, `export`);
//! commands only wire them together.

mod cmd;

use clap::{CommandFactory, Parser, Subcommand};

/// mimalloc instead of the system allocator: reading an archive makes millions of small,
/// short-lived allocations on several threads at once, which it serves faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

/// Rebuild public reply threads from Mastodon, Bluesky and Twitter/X data: every conversation as a graph,
/// with missing posts marked, and readable transcripts.
///
/// Typical use: `rethread collect mastodon --instance URL --tag TAG` or `rethread import FILE...`
/// into a corpus, then `rethread threads` to list the
/// conversations and `rethread export markdown --out DIR` to write transcripts. Every reading
/// command also takes `--input FILE...` to work straight from files.
#[derive(Parser)]
#[command(name = "rethread", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(subcommand)]
    Collect(cmd::collect::Command),
    Import(cmd::import::Args),
    Threads(cmd::threads::Args),
    Coverage(cmd::coverage::Args),
    Themes(cmd::themes::Args),
    #[command(subcommand)]
    Export(cmd::export::Command),
    Completions(cmd::completions::Args),
    Man(cmd::man::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Collect(command) => cmd::collect::run(command),
        Command::Import(args) => cmd::import::run(args),
        Command::Threads(args) => cmd::threads::run(args),
        Command::Coverage(args) => cmd::coverage::run(args),
        Command::Themes(args) => cmd::themes::run(args),
        Command::Export(command) => cmd::export::run(command),
        Command::Completions(args) => cmd::completions::run(args, Cli::command()),
        Command::Man(args) => cmd::man::run(args, Cli::command()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed stdout (`rethread threads | head`) is not an error worth a message.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", cmd::cli_message(&e));
            ExitCode::FAILURE
        }
    }
}
