//! How complete a collection of a hashtag is, server by server.
//!
//! A Mastodon server only knows the posts that reached it, so one server's tag timeline is a
//! sample of the tag. A job that asks several servers records which server's timeline (or
//! search) returned which post (`corpus` keeps it by a digest of the post's `uri`, its
//! identity across servers). From that: per server, the posts it returned, those only it
//! returned and its share of the union; per pair, the overlap; and, from the threads, the
//! posts that no timeline returned and only the completion of the threads found (replies
//! without the tag, posts from servers that were not asked).

use crate::corpus::{match_key, Corpus, PostSet};
use crate::model::Platform;
use crate::thread::{Node, Threads};
use anyhow::Result;
use serde::Serialize;

/// The coverage of one collection job. Serialised as the JSON of `rethread coverage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    pub job: String,
    /// Most matches first.
    pub servers: Vec<ServerCoverage>,
    /// Every pair of servers, in the order of `servers`.
    pub overlap: Vec<Overlap>,
    /// Distinct posts that any server's timeline returned.
    pub union: u64,
    /// Posts of the job's threads that no timeline returned: the thread completion found them.
    pub from_threads: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerCoverage {
    pub server: String,
    /// Matching posts its timelines returned.
    pub matched: u64,
    /// Of those, the posts no other server returned.
    pub only_here: u64,
    /// `matched / union`, 0 to 1.
    pub share: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Overlap {
    pub a: String,
    pub b: String,
    /// Posts both returned.
    pub both: u64,
}

/// The coverage of `job`, over the corpus `set` was loaded from and the threads built from it.
pub fn of_job(corpus: &Corpus, set: &PostSet, threads: &Threads, job: &str) -> Result<Coverage> {
    let counts = corpus.match_counts(job)?;
    let union = counts.union;
    let share = |n: u64| {
        if union == 0 {
            0.0
        } else {
            n as f64 / union as f64
        }
    };
    let keys = corpus.matched_keys(job)?;
    // A post's key as the collector made it: the digest of its `uri` (of its id when it has
    // none).
    let key_of = |i: usize| {
        let p = &set.posts()[i];
        match_key(p.uri().unwrap_or(p.id()))
    };
    let mut from_threads = 0u64;
    if !keys.is_empty() {
        for t in threads
            .threads
            .iter()
            .filter(|t| t.platform == Platform::Mastodon)
        {
            let posts: Vec<usize> = t
                .nodes
                .iter()
                .filter_map(|&n| match threads.node(n) {
                    Node::Post(i) => Some(i),
                    Node::Gap(_) => None,
                })
                .collect();
            let found: Vec<bool> = posts.iter().map(|&i| keys.contains(&key_of(i))).collect();
            if found.iter().any(|&f| f) {
                from_threads += found.iter().filter(|&&f| !f).count() as u64;
            }
        }
    }
    Ok(Coverage {
        job: job.to_string(),
        servers: counts
            .servers
            .into_iter()
            .map(|(server, matched, only_here)| ServerCoverage {
                server,
                matched,
                only_here,
                share: share(matched),
            })
            .collect(),
        overlap: counts
            .overlap
            .into_iter()
            .map(|(a, b, both)| Overlap { a, b, both })
            .collect(),
        union,
        from_threads,
    })
}
