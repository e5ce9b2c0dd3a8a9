//! Threads of a corpus too large to hold, built a batch of groups at a time.
//!
//! [`outline`] walks the corpus's groups ([`Groups`]) in batches, builds each batch's threads
//! with [`build`] and keeps only what describes a thread (a [`ThreadMeta`]: the columns of
//! `rethread threads`, about 90 bytes), sorted in the order [`build`] sorts threads. That is
//! all `rethread threads` needs. An export then asks [`for_each_batch`] for the threads it
//! writes in its output order: it reads the posts of the groups of the next threads, about
//! a batch's worth, builds them again and hands them over, so the bodies held at any time are
//! one batch's, whatever the size of the corpus.
//!
//! Building a group alone gives the threads the whole corpus gives (a group holds everything
//! its threads link to), so the output is the same as the all-in-memory path's; the tests
//! compare them byte for byte.

use super::{build, cmp_threads, Cycle, Options, Thread, Threads};
use crate::corpus::{Corpus, Groups, PostSet};
use crate::model::Platform;
use anyhow::Result;
use chrono::{DateTime, Utc};
use petgraph::graph::NodeIndex;
use rustc_hash::FxHashMap as HashMap;

/// Posts read from the corpus at a time: enough that each batch's overhead is small, few
/// enough that a batch's bodies (about a kilobyte a post in memory) stay in tens of MB.
pub const BATCH_POSTS: usize = 50_000;

/// The batch size: [`BATCH_POSTS`], or `RETHREAD_BATCH_POSTS` when set (the tests set it to a
/// few posts, so that a small corpus is read in many batches).
pub fn batch_posts() -> usize {
    std::env::var("RETHREAD_BATCH_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(BATCH_POSTS)
}

/// One thread, without its nodes: what `rethread threads` prints of it.
#[derive(Debug, Clone)]
pub struct ThreadMeta {
    pub platform: Platform,
    pub root_id: Box<str>,
    pub posts: u32,
    pub gaps: u32,
    pub depth: u32,
    pub breadth: u32,
    pub participants: u32,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// The group that holds it.
    pub group: u32,
}

impl ThreadMeta {
    fn of(t: &Thread, group: u32) -> ThreadMeta {
        ThreadMeta {
            platform: t.platform,
            root_id: t.root_id.clone().into_boxed_str(),
            posts: t.posts as u32,
            gaps: t.gaps as u32,
            depth: t.depth as u32,
            breadth: t.breadth as u32,
            participants: t.participants as u32,
            start: t.start,
            end: t.end,
            group,
        }
    }

    /// `platform-rootid`, as [`Thread::id`].
    pub fn id(&self) -> String {
        format!("{}-{}", self.platform, self.root_id)
    }

    /// The thread as a [`Thread`] without nodes (its `root` is no node of any graph): for the
    /// writers of thread rows, which read only these fields.
    pub fn to_thread(&self) -> Thread {
        Thread {
            id: self.id(),
            platform: self.platform,
            root: NodeIndex::end(),
            root_id: self.root_id.to_string(),
            nodes: Vec::new(),
            posts: self.posts as usize,
            gaps: self.gaps as usize,
            depth: self.depth as usize,
            breadth: self.breadth as usize,
            participants: self.participants as usize,
            start: self.start,
            end: self.end,
        }
    }
}

/// Every thread of a corpus, outlined.
pub struct Outline {
    pub groups: Groups,
    /// Sorted as [`build`] sorts threads.
    pub threads: Vec<ThreadMeta>,
    pub cycles: Vec<Cycle>,
    /// Posts in the corpus, reposts, and reposts whose original is absent.
    pub posts: u64,
    pub reposts: u64,
    pub reposts_of_absent: u64,
    pub gaps: u64,
}

/// Outline every thread of the corpus (see the module documentation). `progress` counts posts.
pub fn outline(
    corpus: &Corpus,
    opts: &Options,
    progress: &indicatif::ProgressBar,
) -> Result<Outline> {
    let groups = corpus.groups(opts.quotes)?;
    progress.set_length(groups.posts() as u64);
    let mut out = Outline {
        threads: Vec::new(),
        cycles: Vec::new(),
        posts: 0,
        reposts: 0,
        reposts_of_absent: 0,
        gaps: 0,
        groups,
    };
    for range in out.groups.batches(batch_posts()) {
        let ids: Vec<u32> = range.collect();
        let (set, post_groups) = corpus.load_groups(&out.groups, &ids)?;
        let threads = build(&set, opts);
        out.posts += set.len() as u64;
        out.reposts += threads.reposts.values().sum::<u64>();
        out.reposts_of_absent += threads.reposts_of_absent;
        out.gaps += threads.gaps.len() as u64;
        out.cycles.extend(threads.cycles.iter().cloned());
        for t in &threads.threads {
            let g = group_of(t, &threads, &post_groups);
            out.threads.push(ThreadMeta::of(t, g));
        }
        progress.inc(set.len() as u64);
    }
    out.threads.sort_by(|a, b| {
        cmp_threads(
            (a.start, a.platform, &a.root_id),
            (b.start, b.platform, &b.root_id),
        )
    });
    Ok(out)
}

/// The group holding thread `t` of a batch: that of any of its posts (every thread holds
/// one: a gap is only ever made for a post's parent or under a post).
fn group_of(t: &Thread, threads: &Threads, post_groups: &[u32]) -> u32 {
    t.nodes
        .iter()
        .find_map(|&n| match threads.node(n) {
            super::Node::Post(i) => Some(post_groups[i]),
            super::Node::Gap(_) => None,
        })
        .expect("a thread holds a post")
}

/// Hand the threads at `selected` (indices into `outline.threads`, in output order) over a
/// batch at a time, in that order: `before_build(set)` (e.g. pseudonymise), then
/// `f(set, threads, at)` with `at` the pairs (position in
/// `selected`, index into `threads.threads`) of the batch. A group is read again for each
/// batch that has one of its threads (a group of several threads far apart in time).
pub fn for_each_batch(
    corpus: &Corpus,
    outline: &Outline,
    opts: &Options,
    selected: &[usize],
    before_build: impl FnMut(&mut PostSet) -> Result<()>,
    mut f: impl FnMut(&PostSet, &Threads, &[(usize, usize)]) -> Result<()>,
) -> Result<()> {
    for_each_batch_grouped(
        corpus,
        outline,
        opts,
        selected,
        before_build,
        |s, t, at, _| f(s, t, at),
    )
}

/// [`for_each_batch`], also handing `f` the group of each post of the set (indexed like
/// `set.posts()`): a group read again by a later batch has the same number, so a command
/// counting the corpus's posts (not its threads') counts each group once.
pub fn for_each_batch_grouped(
    corpus: &Corpus,
    outline: &Outline,
    opts: &Options,
    selected: &[usize],
    mut before_build: impl FnMut(&mut PostSet) -> Result<()>,
    mut f: impl FnMut(&PostSet, &Threads, &[(usize, usize)], &[u32]) -> Result<()>,
) -> Result<()> {
    let batch = batch_posts();
    let mut pos = 0;
    while pos < selected.len() {
        // The next threads until their groups hold a batch's posts.
        let mut groups: Vec<u32> = Vec::new();
        let mut taken: rustc_hash::FxHashSet<u32> = Default::default();
        let mut held = 0;
        let mut end = pos;
        while end < selected.len() && (end == pos || held < batch) {
            let g = outline.threads[selected[end]].group;
            if taken.insert(g) {
                held += outline.groups.size(g);
                groups.push(g);
            }
            end += 1;
        }
        groups.sort_unstable();
        let (mut set, post_groups) = corpus.load_groups(&outline.groups, &groups)?;
        before_build(&mut set)?;
        let threads = build(&set, opts);
        let index: HashMap<(Platform, &str), usize> = threads
            .threads
            .iter()
            .enumerate()
            .map(|(k, t)| ((t.platform, t.root_id.as_str()), k))
            .collect();
        let at: Vec<(usize, usize)> = (pos..end)
            .map(|p| {
                let m = &outline.threads[selected[p]];
                let k = index[&(m.platform, &*m.root_id)];
                (p, k)
            })
            .collect();
        f(&set, &threads, &at, &post_groups)?;
        pos = end;
    }
    Ok(())
}
