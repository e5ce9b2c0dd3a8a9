//! `rethread export convokit`: a ConvoKit corpus directory.

use super::Rows;
use anyhow::Result;
use rethread::export::convokit::write;
use std::path::PathBuf;

/// Write a ConvoKit corpus directory (utterances.jsonl, speakers.json, conversations.json,
/// corpus.json, index.json) that `convokit.Corpus(filename=DIR)` loads as is, with `reply_to`
/// and `conversation_id` set so that ConvoKit's conversation-tree methods walk the threads.
///
/// ConvoKit needs every conversation to be one tree: a post whose parent is missing is written
/// as the root of its own conversation, the missing parent and the reason kept in its meta
/// (`missing_parent`, `missing_reason`), and `meta.thread` still names the rethread thread.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to write (created if absent).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub rows: Rows,
}

pub fn run(args: Args) -> Result<()> {
    let l = args.rows.load()?;
    let r = write(&args.out, &l.input())?;
    eprintln!(
        "wrote {} utterances, {} conversations ({} posts re-rooted under a missing parent or a quote), {} speakers to {}",
        r.utterances,
        r.conversations,
        r.rerooted,
        r.speakers,
        args.out.display()
    );
    crate::cmd::leak_at_exit(l.set, l.threads);
    Ok(())
}
