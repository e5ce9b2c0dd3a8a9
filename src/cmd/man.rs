//! `rethread man`: manual pages (roff) for rethread and every subcommand.

use anyhow::{Context, Result};
use rethread::export::atomic::{self, Durability};
use std::io::Write;
use std::path::PathBuf;

/// Write the manual pages of rethread and of every subcommand, made from the same definitions
/// as every flag and help text.
///
///   rethread man | man -l -                       # read them now
///   rethread man --out ~/.local/share/man/man1    # one page per command: rethread.1,
///                                                 # rethread-collect-bluesky.1, ...
///
/// Without --out the pages go to standard output one after the other, the main page first.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write one file per command into this directory instead (created if absent).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `cli` is the whole command tree (the binary's `Cli::command()`).
pub fn run(args: Args, cli: clap::Command) -> Result<()> {
    let mut cli = cli.disable_help_subcommand(true);
    // Building gives every subcommand its display name (`rethread-collect-bluesky`), which
    // names its page.
    cli.build();
    // Every command of the tree, the main one first, depth first (with a stack: the tree is
    // shallow, but nothing here recurses).
    let mut pages = Vec::new();
    let mut stack = vec![cli];
    while let Some(cmd) = stack.pop() {
        let subs: Vec<clap::Command> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .cloned()
            .collect();
        pages.push(clap_mangen::Man::new(cmd));
        stack.extend(subs.into_iter().rev());
    }
    match args.out {
        None => {
            let mut out = std::io::stdout().lock();
            for page in &pages {
                page.render(&mut out)?;
            }
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("{}: cannot create the directory", dir.display()))?;
            for page in &pages {
                let mut roff = Vec::new();
                page.render(&mut roff)?;
                atomic::write_bytes(&dir.join(page.get_filename()), Durability::Unsynced, &roff)?;
            }
            eprintln!("wrote {} manual pages to {}", pages.len(), dir.display());
        }
    }
    Ok(())
}
