//! `rethread completions SHELL`: the shell's completion script, on standard output.

use anyhow::Result;
use std::io::Write;

/// Print a completion script for a shell, made from the same definitions as every flag.
///
///   rethread completions bash > ~/.local/share/bash-completion/completions/rethread
///   rethread completions zsh > ~/.zfunc/_rethread     # with fpath+=~/.zfunc
///   rethread completions fish > ~/.config/fish/completions/rethread.fish
///   rethread completions powershell >> $PROFILE
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `cli` is the whole command tree (the binary's `Cli::command()`).
pub fn run(args: Args, mut cli: clap::Command) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "rethread", &mut out);
    std::io::stdout().lock().write_all(&out)?;
    Ok(())
}
