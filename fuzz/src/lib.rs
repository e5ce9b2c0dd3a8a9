//! What every fuzz target of rethread shares: read the input as a file of one format, the way
//! `--input FILE` does (`PostSet::from_files`), then build its threads and check that they form
//! a forest.
//!
//! A finding is a panic (including an integer overflow: the targets are built with debug
//! assertions), an abort, a memory error, or a run that takes too long or too much memory. An
//! `Err` from the reader is not a finding: hostile input *should* be refused, with a message.
//!
//! The first byte of an input chooses the mode, so one target covers strict and `--skip-bad`
//! reading (and libFuzzer flips between them by mutating one byte); the rest is the file:
//!
//! | bit | meaning when set |
//! |---|---|
//! | 0 | `--skip-bad`: go on past malformed records |
//! | 1 | keep each record's raw JSON (what `import` does; `--input` drops it) |
//! | 2 | `--quotes`: attach quote posts under what they quote |
//!
//! `source::read_file` reads a path (format detection peeks at the file, tweets.js looks for its
//! `account.js` beside it), so the input is written to one file per process, in a directory of
//! its own under `std::env::temp_dir()` (`run.sh` points `TMPDIR` at the fuzz build directory
//! and removes it afterwards). The directory holds nothing else, so no `account.js` is found.

use rethread::corpus::PostSet;
use rethread::source::{self, Format, ReadOptions};
use rethread::thread::{self, Node};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The file this process writes each input to, named as the format's files usually are.
fn input_path(format: Format) -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rethread-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz input directory");
        let name = match format {
            Format::TweetsJs => "tweets.js",
            Format::Twcs => "twcs.csv",
            Format::Convokit => "utterances.jsonl",
            _ => "input.jsonl",
        };
        dir.join(name)
    })
}

/// Read `data` (mode byte first) as a file of `format`, thread what was read, check the threads.
pub fn import(format: Format, data: &[u8]) {
    let Some((&mode, file)) = data.split_first() else {
        return;
    };
    let opts = ReadOptions {
        format: Some(format),
        skip_bad: mode & 1 != 0,
        keep_raw: mode & 2 != 0,
    };
    let quotes = mode & 4 != 0;

    let path = input_path(format);
    std::fs::write(path, file).expect("write the fuzz input file");

    // As `PostSet::from_files` does, but keeping the set when reading stops at a bad record:
    // the records before it have reached the sink and are threaded (and stored, by `import`)
    // all the same, so they are fuzzed too.
    let mut set = PostSet::new();
    let mut sunk = 0u64;
    let result = source::read_file(path, &opts, &indicatif::ProgressBar::hidden(), &mut |r| {
        sunk += 1;
        set.add_record(r);
        Ok(())
    });
    if let Ok(report) = &result {
        assert_eq!(
            sunk,
            report.posts + report.missing,
            "the report counts what reached the sink"
        );
    }
    let threads = thread::build(&set, &thread::Options { quotes });
    check_forest(&set, &threads);
}

/// The reply graph after `thread::build` is a forest whose trees are the threads: every node is
/// in exactly one thread, and each thread's counts and orders agree with its nodes. A cycle left
/// unbroken, or a node with two parents, breaks this (and loses or repeats posts in exports).
fn check_forest(set: &PostSet, threads: &thread::Threads) {
    let mut seen = vec![false; threads.graph.node_count()];
    for t in &threads.threads {
        let mut posts = 0;
        let mut depth = 0;
        for &n in &t.nodes {
            assert!(
                !std::mem::replace(&mut seen[n.index()], true),
                "node {n:?} is in two threads (or twice in {})",
                t.id
            );
            if matches!(threads.node(n), Node::Post(_)) {
                posts += 1;
            }
            depth = depth.max(threads.depth(n));
        }
        assert_eq!(t.posts, posts, "posts of thread {}", t.id);
        assert_eq!(t.posts + t.gaps, t.nodes.len(), "nodes of thread {}", t.id);
        assert_eq!(t.depth, depth, "depth of thread {}", t.id);
        assert_eq!(t.nodes.first(), Some(&t.root), "thread {} starts at its root", t.id);
        assert_eq!(threads.preorder(t).len(), t.nodes.len(), "preorder of {}", t.id);
        assert_eq!(threads.chronological(t, set).len(), t.posts, "posts in time order of {}", t.id);
    }
    if let Some(lost) = seen.iter().position(|&s| !s) {
        panic!("node {lost} of the reply graph is in no thread (an unbroken reply cycle?)");
    }
}
