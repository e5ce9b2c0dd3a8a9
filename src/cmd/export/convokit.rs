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
    if args.rows.corpus.batched() {
        // From the corpus a batch of threads at a time: utterances one thread after the other.
        let pseudonymised = args.rows.pseudonym.enabled()?;
        let r = rethread::export::convokit::write_with(&args.out, pseudonymised, |w| {
            args.rows.each_batch(true, |input| w.add(input))?;
            Ok(())
        })?;
        say_written(&r, &args.out);
        return Ok(());
    }
    let l = args.rows.load()?;
    let r = write(&args.out, &l.input())?;
    say_written(&r, &args.out);
    crate::cmd::leak_at_exit(l.set, l.threads);
    Ok(())
}

fn say_written(r: &rethread::export::convokit::Report, out: &std::path::Path) {
    eprintln!(
        "wrote {} utterances, {} conversations ({} posts re-rooted under a missing parent or a quote), {} speakers to {}",
        r.utterances,
        r.conversations,
        r.rerooted,
        r.speakers,
        out.display()
    );
}
