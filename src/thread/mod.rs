//! Thread stage: the reply graph and the conversations in it.
//!
//! [`build`] turns a [`PostSet`] into a petgraph `DiGraph` whose edges point from a post to its
//! replies, and cuts it into [`Thread`]s, each rooted at its earliest known ancestor.
//!
//! Three things make real data harder than a tree:
//! - **Missing parents.** A reply whose parent is not in the corpus hangs under a *gap node*
//!   carrying the missing id and why it is missing ("not in corpus", or what the source said,
//!   e.g. a deleted tweet). When the source names the conversation (Twitter's
//!   `conversation_id`) and its root is present, the gap hangs under that root, so the
//!   conversation stays one thread with the hole visible instead of splitting in two.
//! - **Reposts and quotes.** A repost is not a reply: it is counted on the original and left
//!   out of the graph. A quote is its own edge kind, left out unless `quotes` is on.
//! - **Bad data.** Reply links can form cycles (ids typed by hand, broken exports). A cycle has
//!   no root, so it would be silently dropped; instead the link out of the cycle's earliest
//!   post is cut, deterministically, and the cut is reported.
//!
//! Nothing here recurses: a chain a million replies deep is walked with explicit queues and
//! stacks. Every order is defined (time, then id), so the same input gives the same output.

pub mod batched;
pub mod coverage;

use crate::corpus::{PackedPost, PostSet};
use crate::model::{cmp_ids, Platform};
use chrono::{DateTime, Utc};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::cmp::Ordering;
use std::collections::VecDeque;

/// How to build threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Attach quote posts under the post they quote (they start their own thread otherwise).
    pub quotes: bool,
}

/// A node of the reply graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A post: index into [`PostSet::posts`].
    Post(usize),
    /// A post we know of only because something replies to it: index into [`Threads::gaps`].
    Gap(usize),
}

/// The kind of an edge, from parent to child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Reply,
    Quote,
    /// From a conversation's root to a gap whose own ancestors are unknown: the chain between
    /// them is not in the corpus.
    Conversation,
}

/// A parent that is not in the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub platform: Platform,
    /// The id of the missing post.
    pub id: String,
    /// "not in corpus", or the reason the source gave.
    pub reason: String,
}

/// A reply cycle found in the data and how it was broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub platform: Platform,
    /// The posts on the cycle, each the parent of the next, starting at the cut post.
    pub ids: Vec<String>,
    /// The post whose reply link was dropped: it roots its thread now.
    pub cut: String,
    /// The parent it claimed.
    pub dropped_parent: String,
}

/// One conversation: a root and everything below it.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    /// `platform-rootid`, e.g. `twitter-1394735776701816833`.
    pub id: String,
    pub platform: Platform,
    pub root: NodeIndex,
    /// The root's id (a post id, or the missing id of a gap root).
    pub root_id: String,
    /// Every node, breadth first from the root, children in time order.
    pub nodes: Vec<NodeIndex>,
    pub posts: usize,
    pub gaps: usize,
    /// Longest path from the root, in edges.
    pub depth: usize,
    /// Most nodes on one level.
    pub breadth: usize,
    /// Distinct authors.
    pub participants: usize,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// The reply graph and its threads.
#[derive(Debug)]
pub struct Threads {
    pub graph: DiGraph<Node, EdgeKind>,
    pub gaps: Vec<Gap>,
    /// Sorted by start time, then id.
    pub threads: Vec<Thread>,
    pub cycles: Vec<Cycle>,
    /// Reposts counted per original post (index into the post set).
    pub reposts: HashMap<usize, u64>,
    /// Reposts whose original is not in the corpus.
    pub reposts_of_absent: u64,
    /// Depth of each node in its thread (index = node index).
    depth: Vec<u32>,
    /// Children of each node in time order, as ranges into `child_list` (index = node index).
    child_range: Vec<(u32, u32)>,
    child_list: Vec<NodeIndex>,
}

impl Threads {
    /// The children of a node, earliest first.
    pub fn children(&self, n: NodeIndex) -> &[NodeIndex] {
        let (a, b) = self.child_range[n.index()];
        &self.child_list[a as usize..b as usize]
    }

    /// The parent of a node and the kind of link, if any.
    pub fn parent(&self, n: NodeIndex) -> Option<(NodeIndex, EdgeKind)> {
        self.graph
            .edges_directed(n, Direction::Incoming)
            .next()
            .map(|e| (e.source(), *e.weight()))
    }

    pub fn depth(&self, n: NodeIndex) -> usize {
        self.depth[n.index()] as usize
    }

    pub fn node(&self, n: NodeIndex) -> Node {
        self.graph[n]
    }

    /// The thread's nodes depth first (parent before children, children in time order), each
    /// with its depth: the order of a nested transcript.
    pub fn preorder(&self, thread: &Thread) -> Vec<(NodeIndex, usize)> {
        let mut out = Vec::with_capacity(thread.nodes.len());
        let mut stack = vec![thread.root];
        while let Some(n) = stack.pop() {
            out.push((n, self.depth(n)));
            stack.extend(self.children(n).iter().rev());
        }
        out
    }

    /// The thread's posts in time order (then id), gaps left out: the order of a chronological
    /// transcript.
    pub fn chronological(&self, thread: &Thread, set: &PostSet) -> Vec<NodeIndex> {
        let posts = set.posts();
        let mut nodes: Vec<NodeIndex> = thread
            .nodes
            .iter()
            .copied()
            .filter(|&n| matches!(self.graph[n], Node::Post(_)))
            .collect();
        nodes.sort_by(|&a, &b| match (self.graph[a], self.graph[b]) {
            (Node::Post(x), Node::Post(y)) => cmp_posts(&posts[x], &posts[y]),
            _ => Ordering::Equal,
        });
        nodes
    }
}

/// Time order, posts without a time last, then by id.
pub fn cmp_posts(a: &PackedPost, b: &PackedPost) -> Ordering {
    match (a.created_ms(), b.created_ms()) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| cmp_ids(a.id(), b.id()))
}

/// The order of threads: start time (threads without one last), platform, root id.
pub fn cmp_threads(
    a: (Option<DateTime<Utc>>, Platform, &str),
    b: (Option<DateTime<Utc>>, Platform, &str),
) -> Ordering {
    match (a.0, b.0) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.1.cmp(&b.1))
    .then_with(|| cmp_ids(a.2, b.2))
}

/// Build the reply graph of `set` and cut it into threads.
pub fn build(set: &PostSet, opts: &Options) -> Threads {
    let posts = set.posts();
    let mut graph: DiGraph<Node, EdgeKind> = DiGraph::with_capacity(posts.len(), posts.len());
    let mut node_of: Vec<Option<NodeIndex>> = vec![None; posts.len()];
    let mut reposts: HashMap<usize, u64> = HashMap::default();
    let mut reposts_of_absent = 0;

    // Posts become nodes, in a fixed order so that node indices (and all tie-breaks) are stable.
    let mut order: Vec<usize> = (0..posts.len()).collect();
    order.sort_by(|&a, &b| {
        posts[a]
            .platform()
            .cmp(&posts[b].platform())
            .then_with(|| cmp_posts(&posts[a], &posts[b]))
    });
    for &i in &order {
        let p = &posts[i];
        if let Some(orig) = &p.repost_of() {
            match set.find(p.platform(), orig) {
                Some(j) => *reposts.entry(j).or_default() += 1,
                None => reposts_of_absent += 1,
            }
            continue;
        }
        node_of[i] = Some(graph.add_node(Node::Post(i)));
    }
    let resolve = |platform: Platform, id: &str| resolve(set, platform, id);

    let mut gaps: Vec<Gap> = Vec::new();
    let mut gap_of: HashMap<(Platform, String), NodeIndex> = HashMap::default();
    for &i in &order {
        let Some(child) = node_of[i] else { continue };
        let p = &posts[i];
        if let Some(parent_id) = &p.reply_to() {
            let parent = parent_node(
                &mut graph,
                &mut gaps,
                &mut gap_of,
                set,
                &node_of,
                p.platform(),
                parent_id,
            );
            graph.add_edge(parent, child, EdgeKind::Reply);
        } else if opts.quotes {
            if let Some(quoted) = p
                .quote_of()
                .as_ref()
                .and_then(|q| resolve(p.platform(), q))
                .and_then(|j| node_of[j])
            {
                graph.add_edge(quoted, child, EdgeKind::Quote);
            }
        }
    }
    // A missing post the source showed in its place under a post we have (a blocked or a
    // deleted reply, as a Bluesky thread shows them) is a gap there too, though nothing replies
    // to it: without it the thread would look whole where the source said a reply is hidden.
    // The loop below hangs it under its parent. Not so a post the collection left out by
    // choice (a private reply, an opted-out author): marking it would tell what consent keeps
    // out, and the thread is whole as far as it may be collected.
    let mut hidden: Vec<&crate::model::Missing> = set
        .all_missing()
        .filter(|m| {
            !m.is_left_out()
                && m.reply_to
                    .as_deref()
                    .and_then(|parent| resolve(m.platform, parent))
                    .is_some_and(|j| node_of[j].is_some())
                && set.find(m.platform, &m.id).is_none()
        })
        .collect();
    hidden.sort_by(|a, b| (a.platform, &a.id).cmp(&(b.platform, &b.id)));
    for m in hidden {
        gap_node(&mut graph, &mut gaps, &mut gap_of, set, m.platform, &m.id);
    }
    // Place each gap (gaps made here may make more, so walk a growing list). A gap whose
    // parent the source named hangs under it, itself perhaps a gap; otherwise, when a reply
    // under it names its conversation and that conversation's root is present, under the root.
    let mut k = 0;
    while k < gaps.len() {
        let (platform, id) = (gaps[k].platform, gaps[k].id.clone());
        let g = gap_of[&(platform, id.clone())];
        k += 1;
        if let Some(parent_id) = set.missing(platform, &id).and_then(|m| m.reply_to.clone()) {
            let parent = parent_node(
                &mut graph,
                &mut gaps,
                &mut gap_of,
                set,
                &node_of,
                platform,
                &parent_id,
            );
            graph.add_edge(parent, g, EdgeKind::Reply);
            continue;
        }
        let conversation = graph
            .neighbors_directed(g, Direction::Outgoing)
            .filter_map(|c| match graph[c] {
                Node::Post(i) => posts[i].conversation_id(),
                Node::Gap(_) => None,
            })
            .min_by(|a, b| cmp_ids(a, b))
            .map(str::to_string);
        if let Some(root) = conversation
            .and_then(|conv| resolve(platform, &conv))
            .and_then(|j| node_of[j])
        {
            graph.add_edge(root, g, EdgeKind::Conversation);
        }
    }

    let cycles = break_cycles(&mut graph, &node_of, posts, &order, &gaps);

    let sort_key = |n: NodeIndex| -> (Option<&PackedPost>, &str) {
        match graph[n] {
            Node::Post(i) => (Some(&posts[i]), posts[i].id()),
            Node::Gap(g) => (None, gaps[g].id.as_str()),
        }
    };
    let cmp_nodes = |a: NodeIndex, b: NodeIndex| -> Ordering {
        match (sort_key(a), sort_key(b)) {
            ((Some(x), _), (Some(y), _)) => cmp_posts(x, y),
            // A gap stands before its replies, so it sorts first among siblings.
            ((None, x), (None, y)) => cmp_ids(x, y),
            ((None, _), _) => Ordering::Less,
            (_, (None, _)) => Ordering::Greater,
        }
    };

    // Children lists in time order, in one flat array.
    let n = graph.node_count();
    let mut child_range = vec![(0u32, 0u32); n];
    let mut child_list: Vec<NodeIndex> = Vec::with_capacity(graph.edge_count());
    for v in graph.node_indices() {
        let start = child_list.len();
        child_list.extend(graph.neighbors_directed(v, Direction::Outgoing));
        child_list[start..].sort_by(|&a, &b| cmp_nodes(a, b));
        child_range[v.index()] = (start as u32, child_list.len() as u32);
    }

    // Roots: nodes without a parent. Walk each thread breadth first.
    let mut depth = vec![0u32; n];
    let mut threads = Vec::new();
    for root in graph.node_indices() {
        if graph
            .edges_directed(root, Direction::Incoming)
            .next()
            .is_some()
        {
            continue;
        }
        let mut nodes = Vec::new();
        let mut queue = VecDeque::from([root]);
        let mut level_width: Vec<usize> = Vec::new();
        while let Some(v) = queue.pop_front() {
            let d = depth[v.index()] as usize;
            if level_width.len() <= d {
                level_width.push(0);
            }
            level_width[d] += 1;
            nodes.push(v);
            let (a, b) = child_range[v.index()];
            for &c in &child_list[a as usize..b as usize] {
                depth[c.index()] = depth[v.index()] + 1;
                queue.push_back(c);
            }
        }
        let mut thread_posts = 0;
        let mut thread_gaps = 0;
        let mut authors: HashSet<&str> = HashSet::default();
        let (mut start, mut end): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
        for &v in &nodes {
            match graph[v] {
                Node::Post(i) => {
                    thread_posts += 1;
                    let p = &posts[i];
                    authors.insert(
                        p.author()
                            .id
                            .as_deref()
                            .unwrap_or_else(|| p.author().label()),
                    );
                    if let Some(t) = p.created_at() {
                        start = Some(start.map_or(t, |s| s.min(t)));
                        end = Some(end.map_or(t, |e| e.max(t)));
                    }
                }
                Node::Gap(_) => thread_gaps += 1,
            }
        }
        let (platform, root_id) = match graph[root] {
            Node::Post(i) => (posts[i].platform(), posts[i].id().to_string()),
            Node::Gap(g) => (gaps[g].platform, gaps[g].id.clone()),
        };
        threads.push(Thread {
            id: format!("{platform}-{root_id}"),
            platform,
            root,
            root_id,
            posts: thread_posts,
            gaps: thread_gaps,
            depth: level_width.len().saturating_sub(1),
            breadth: level_width.iter().copied().max().unwrap_or(0),
            participants: authors.len(),
            start,
            end,
            nodes,
        });
    }
    threads.sort_by(|a, b| {
        cmp_threads(
            (a.start, a.platform, &a.root_id),
            (b.start, b.platform, &b.root_id),
        )
    });

    Threads {
        graph,
        gaps,
        threads,
        cycles,
        reposts,
        reposts_of_absent,
        depth,
        child_range,
        child_list,
    }
}

/// The post an id names; a reply to a repost is a reply to what was reposted.
fn resolve(set: &PostSet, platform: Platform, id: &str) -> Option<usize> {
    let j = set.find(platform, id)?;
    match &set.posts()[j].repost_of() {
        Some(orig) => set.find(platform, orig),
        None => Some(j),
    }
}

/// The node a reply to `id` hangs from: the post, or the gap standing for it.
fn parent_node(
    graph: &mut DiGraph<Node, EdgeKind>,
    gaps: &mut Vec<Gap>,
    gap_of: &mut HashMap<(Platform, String), NodeIndex>,
    set: &PostSet,
    node_of: &[Option<NodeIndex>],
    platform: Platform,
    id: &str,
) -> NodeIndex {
    match resolve(set, platform, id).and_then(|j| node_of[j]) {
        Some(n) => n,
        None => gap_node(graph, gaps, gap_of, set, platform, id),
    }
}

/// The gap node for a missing post, made on first use.
fn gap_node(
    graph: &mut DiGraph<Node, EdgeKind>,
    gaps: &mut Vec<Gap>,
    gap_of: &mut HashMap<(Platform, String), NodeIndex>,
    set: &PostSet,
    platform: Platform,
    id: &str,
) -> NodeIndex {
    *gap_of.entry((platform, id.to_string())).or_insert_with(|| {
        gaps.push(Gap {
            platform,
            id: id.to_string(),
            reason: set
                .missing_reason(platform, id)
                .unwrap_or("not in corpus")
                .to_string(),
        });
        graph.add_node(Node::Gap(gaps.len() - 1))
    })
}

/// Find every reply cycle and cut it at its earliest post (time, then id).
///
/// Every node has at most one parent, so a node that no root reaches sits on a cycle or below
/// one, and following parents from it must come back round. Nodes are visited in the fixed
/// `order`, so the same data is always cut in the same place.
fn break_cycles(
    graph: &mut DiGraph<Node, EdgeKind>,
    node_of: &[Option<NodeIndex>],
    posts: &[PackedPost],
    order: &[usize],
    gaps: &[Gap],
) -> Vec<Cycle> {
    let n = graph.node_count();
    let parent_of = |g: &DiGraph<Node, EdgeKind>, v: NodeIndex| {
        g.edges_directed(v, Direction::Incoming)
            .next()
            .map(|e| (e.id(), e.source()))
    };
    // Mark everything reachable from a root.
    let mut reached = vec![false; n];
    let mut stack: Vec<NodeIndex> = graph
        .node_indices()
        .filter(|&v| parent_of(graph, v).is_none())
        .collect();
    while let Some(v) = stack.pop() {
        if !reached[v.index()] {
            reached[v.index()] = true;
            stack.extend(graph.neighbors_directed(v, Direction::Outgoing));
        }
    }
    let mut cycles = Vec::new();
    let id_of = |v: NodeIndex, g: &DiGraph<Node, EdgeKind>| match g[v] {
        Node::Post(i) => posts[i].id().to_string(),
        Node::Gap(k) => gaps[k].id.clone(),
    };
    for &i in order {
        let Some(start) = node_of[i] else { continue };
        if reached[start.index()] {
            continue;
        }
        // Walk up until a node repeats: that node is on the cycle.
        let mut on_walk = HashSet::default();
        let mut v = start;
        while on_walk.insert(v) {
            match parent_of(graph, v) {
                Some((_, p)) => v = p,
                None => break,
            }
        }
        // Collect the cycle from `v` and choose its earliest post.
        let mut members = vec![v];
        let mut u = parent_of(graph, v).map(|(_, p)| p).unwrap_or(v);
        while u != v {
            members.push(u);
            u = parent_of(graph, u).map(|(_, p)| p).unwrap_or(v);
        }
        let cut = *members
            .iter()
            .min_by(|&&a, &&b| match (graph[a], graph[b]) {
                (Node::Post(x), Node::Post(y)) => cmp_posts(&posts[x], &posts[y]),
                _ => Ordering::Equal,
            })
            .unwrap_or(&v);
        if let Some((edge, parent)) = parent_of(graph, cut) {
            let platform = match graph[cut] {
                Node::Post(k) => posts[k].platform(),
                Node::Gap(k) => gaps[k].platform,
            };
            // List the cycle from the cut post downwards: cut, its child on the cycle, ...
            let at = members.iter().position(|&m| m == cut).unwrap_or(0);
            let mut ids: Vec<String> = members.iter().map(|&m| id_of(m, graph)).collect();
            ids.rotate_left(at);
            ids[1..].reverse();
            cycles.push(Cycle {
                platform,
                ids,
                cut: id_of(cut, graph),
                dropped_parent: id_of(parent, graph),
            });
            graph.remove_edge(edge);
        }
        // Everything under the new root is reached now.
        let mut stack = vec![cut];
        while let Some(w) = stack.pop() {
            if !reached[w.index()] {
                reached[w.index()] = true;
                stack.extend(graph.neighbors_directed(w, Direction::Outgoing));
            }
        }
    }
    cycles
}

#[cfg(test)]
mod tests;
