//! Graph exports, one file per format: GraphML (`graphml.rs`: typed keys, for networkx, igraph,
//! Gephi, yEd), GEXF (`gexf.rs`: Gephi, with times) and DOT (`dot.rs`: Graphviz), all from the one
//! [`Graph`] built here.
//!
//! Two graphs:
//! - **replies**: a node per post (author, time, platform, link, text excerpt, themes and the coder of
//!   each, `theme_coders`, depth, thread)
//!   and per missing parent (`kind = gap`, with the missing id and the reason); an edge from
//!   each reply to what it replies to (`kind` reply, quote with `--quotes`, or conversation for a
//!   gap hung under its conversation's root);
//! - **interactions**: a node per account, an edge from replier to replied-to weighted by the
//!   number of replies, with the first and last time.
//!
//! XML is written with quick-xml, which escapes text and attributes; characters XML 1.0 cannot
//! hold at all (most control characters) are dropped. DOT strings escape `"` and `\`.

use crate::corpus::PostSet;
use crate::model::format_time;
use crate::themes::{Codebook, Evidence};
use crate::thread::{EdgeKind, Node, Threads};
use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, Write};
use std::path::Path;

mod dot;
pub mod gexf;
mod graphml;

pub use dot::{write_dot, Dot};
pub use graphml::{write_graphml, Graphml};

/// Which graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Replies,
    Interactions,
}

/// A node: its id and typed attributes.
pub struct GNode {
    pub id: String,
    pub label: String,
    pub attrs: Vec<(&'static str, Value)>,
}

/// A directed edge.
pub struct GEdge {
    pub source: String,
    pub target: String,
    pub attrs: Vec<(&'static str, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
}

/// Attribute names and whether they are integers.
pub type Keys = [(&'static str, bool)];

pub struct Graph {
    pub nodes: Vec<GNode>,
    pub edges: Vec<GEdge>,
    /// Attribute names and whether they are integers, for nodes and for edges.
    pub node_keys: &'static Keys,
    pub edge_keys: &'static Keys,
    /// The accounts are salted hashes: the file says so.
    pub pseudonymised: bool,
}

const EXCERPT: usize = 200;

/// The attributes of the replies graph's nodes (posts and gaps) and edges.
const REPLY_NODE_KEYS: &Keys = &[
    ("kind", false),
    ("post_id", false),
    ("url", false),
    ("platform", false),
    ("author", false),
    ("created_at", false),
    ("text", false),
    ("themes", false),
    ("theme_coders", false),
    ("depth", true),
    ("thread", false),
    ("reason", false),
];
const REPLY_EDGE_KEYS: &Keys = &[("kind", false)];

/// The attributes of the interactions graph's nodes (accounts) and edges.
const INTERACTION_NODE_KEYS: &Keys = &[("account", false), ("posts", true)];
const INTERACTION_EDGE_KEYS: &Keys = &[("weight", true), ("first", false), ("last", false)];

fn excerpt(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .collect();
    crate::model::one_line(&clean, EXCERPT)
}

fn node_key(threads: &Threads, set: &PostSet, n: petgraph::graph::NodeIndex) -> String {
    match threads.node(n) {
        Node::Post(i) => {
            let p = &set.posts()[i];
            format!("{}:{}", p.platform().as_str(), p.id())
        }
        Node::Gap(g) => {
            let gap = &threads.gaps[g];
            format!("gap:{}:{}", gap.platform.as_str(), gap.id)
        }
    }
}

fn edge_kind(k: EdgeKind) -> &'static str {
    match k {
        EdgeKind::Reply => "reply",
        EdgeKind::Quote => "quote",
        EdgeKind::Conversation => "conversation",
    }
}

/// Build the graph of the selected threads.
pub fn build(kind: Kind, input: &crate::export::Input) -> Graph {
    let (set, threads, selected) = (input.set, input.threads, input.selected);
    let mut g = match kind {
        Kind::Replies => replies(set, threads, selected, input.codes),
        Kind::Interactions => interactions(set, threads, selected),
    };
    g.pseudonymised = input.pseudonymised;
    g
}

fn replies(
    set: &PostSet,
    threads: &Threads,
    selected: &[usize],
    codes: Option<(&Codebook, &[Vec<Evidence>])>,
) -> Graph {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for &ti in selected {
        let t = &threads.threads[ti];
        for (n, depth) in threads.preorder(t) {
            let id = node_key(threads, set, n);
            let node = match threads.node(n) {
                Node::Post(i) => {
                    let p = &set.posts()[i];
                    let themes = codes
                        .map(|(book, ev)| book.ids_of(&ev[i]))
                        .unwrap_or_default();
                    let coders = codes
                        .map(|(book, ev)| super::codes::theme_coders(book, &ev[i]))
                        .unwrap_or_default();
                    GNode {
                        id: id.clone(),
                        label: p.author().label().to_string(),
                        attrs: vec![
                            ("kind", Value::Str("post".into())),
                            ("post_id", Value::Str(p.id().into())),
                            ("url", Value::Str(p.url().unwrap_or_default().into())),
                            ("platform", Value::Str(p.platform().as_str().into())),
                            ("author", Value::Str(p.author().label().into())),
                            (
                                "created_at",
                                Value::Str(
                                    p.created_at().map(|t| format_time(&t)).unwrap_or_default(),
                                ),
                            ),
                            ("text", Value::Str(excerpt(p.text()))),
                            ("themes", Value::Str(themes)),
                            ("theme_coders", Value::Str(coders)),
                            ("depth", Value::Int(depth as i64)),
                            ("thread", Value::Str(t.id.clone())),
                            ("reason", Value::Str(String::new())),
                        ],
                    }
                }
                Node::Gap(g) => {
                    let gap = &threads.gaps[g];
                    GNode {
                        id: id.clone(),
                        label: format!("missing {}", gap.id),
                        attrs: vec![
                            ("kind", Value::Str("gap".into())),
                            ("post_id", Value::Str(gap.id.clone())),
                            ("url", Value::Str(String::new())),
                            ("platform", Value::Str(gap.platform.as_str().into())),
                            ("author", Value::Str(String::new())),
                            ("created_at", Value::Str(String::new())),
                            ("text", Value::Str(String::new())),
                            ("themes", Value::Str(String::new())),
                            ("theme_coders", Value::Str(String::new())),
                            ("depth", Value::Int(depth as i64)),
                            ("thread", Value::Str(t.id.clone())),
                            ("reason", Value::Str(gap.reason.clone())),
                        ],
                    }
                }
            };
            nodes.push(node);
            if let Some((parent, k)) = threads.parent(n) {
                edges.push(GEdge {
                    source: id,
                    target: node_key(threads, set, parent),
                    attrs: vec![("kind", Value::Str(edge_kind(k).into()))],
                });
            }
        }
    }
    Graph {
        nodes,
        edges,
        node_keys: REPLY_NODE_KEYS,
        edge_keys: REPLY_EDGE_KEYS,
        pseudonymised: false,
    }
}

/// Replies from one account to another: how many, first and last time.
type Pair = (i64, Option<String>, Option<String>);

fn interactions(set: &PostSet, threads: &Threads, selected: &[usize]) -> Graph {
    let mut acc = Interactions::default();
    acc.add(set, threads, selected);
    acc.graph()
}

/// The interactions graph gathered a batch of threads at a time: an account's posts and a
/// pair's replies are counted over every thread, so the graph is known only at the end. Its
/// size is the accounts and pairs, not the posts.
#[derive(Default)]
pub struct Interactions {
    /// account → posts
    accounts: BTreeMap<String, i64>,
    /// (replier, replied-to) → (replies, first, last)
    pairs: BTreeMap<(String, String), Pair>,
}

impl Interactions {
    /// Count the posts and replies of the selected threads.
    pub fn add(&mut self, set: &PostSet, threads: &Threads, selected: &[usize]) {
        let (accounts, pairs) = (&mut self.accounts, &mut self.pairs);
        for &ti in selected {
            let t = &threads.threads[ti];
            for &n in &t.nodes {
                let Node::Post(i) = threads.node(n) else {
                    continue;
                };
                let p = &set.posts()[i];
                let me = p.author().label().to_string();
                *accounts.entry(me.clone()).or_default() += 1;
                let Some((parent, EdgeKind::Reply)) = threads.parent(n) else {
                    continue;
                };
                let Node::Post(j) = threads.node(parent) else {
                    continue;
                };
                let them = set.posts()[j].author().label().to_string();
                let at = p.created_at().map(|t| format_time(&t));
                let e = pairs.entry((me, them)).or_insert((0, None, None));
                e.0 += 1;
                if let Some(at) = at {
                    if e.1.as_ref().is_none_or(|f| at < *f) {
                        e.1 = Some(at.clone());
                    }
                    if e.2.as_ref().is_none_or(|l| at > *l) {
                        e.2 = Some(at);
                    }
                }
            }
        }
    }

    /// The graph of everything added.
    pub fn graph(self) -> Graph {
        Graph {
            nodes: self
                .accounts
                .into_iter()
                .map(|(a, n)| GNode {
                    id: a.clone(),
                    label: a.clone(),
                    attrs: vec![("account", Value::Str(a)), ("posts", Value::Int(n))],
                })
                .collect(),
            edges: self
                .pairs
                .into_iter()
                .map(|((s, t), (n, first, last))| GEdge {
                    source: s,
                    target: t,
                    attrs: vec![
                        ("weight", Value::Int(n)),
                        ("first", Value::Str(first.unwrap_or_default())),
                        ("last", Value::Str(last.unwrap_or_default())),
                    ],
                })
                .collect(),
            node_keys: INTERACTION_NODE_KEYS,
            edge_keys: INTERACTION_EDGE_KEYS,
            pseudonymised: false,
        }
    }
}

/// A graph format written part by part, in the order every format here puts them: the head
/// (declarations, attribute keys), each node, the switch to edges, each edge, the tail. The
/// whole-graph writers (`write_gexf`, ...) are these parts fed from a [`Graph`] in memory;
/// [`Stream`] feeds the same parts a batch of threads at a time, so both give the same bytes.
pub trait Parts {
    fn head(&mut self, node_keys: &Keys, edge_keys: &Keys, pseudonymised: bool) -> Result<()>;
    fn node(&mut self, n: &GNode) -> Result<()>;
    /// Every node is written: edges follow.
    fn edges(&mut self) -> Result<()>;
    /// Edge number `k`; `source_start`: the time of its source node, when
    /// [`Parts::wants_source_start`].
    fn edge(&mut self, k: usize, e: &GEdge, source_start: Option<&str>) -> Result<()>;
    fn tail(&mut self) -> Result<()>;
    /// Whether [`Parts::edge`] needs its source node's time (GEXF's timeline does).
    fn wants_source_start(&self) -> bool {
        false
    }
}

/// Write the whole graph `g` through `f`.
pub fn write_parts(g: &Graph, f: &mut dyn Parts) -> Result<()> {
    f.head(g.node_keys, g.edge_keys, g.pseudonymised)?;
    for n in &g.nodes {
        f.node(n)?;
    }
    f.edges()?;
    let starts = source_starts(f, &g.nodes);
    for (k, e) in g.edges.iter().enumerate() {
        let start = starts.get(e.source.as_str()).map(String::as_str);
        f.edge(k, e, start)?;
    }
    f.tail()
}

/// Node id → time, for a format that wants edges' source times (else empty).
fn source_starts<'g>(f: &dyn Parts, nodes: &'g [GNode]) -> HashMap<&'g str, String> {
    if !f.wants_source_start() {
        return HashMap::new();
    }
    nodes
        .iter()
        .filter_map(|n| gexf::start_of(&n.attrs).map(|t| (n.id.as_str(), t)))
        .collect()
}

/// The replies graph written a batch of threads at a time, in bounded memory: each batch's
/// nodes go straight to the format; its edges (which every format puts after all nodes) are
/// spooled to an unnamed file, compactly, and written after the last batch. The interactions
/// graph is counted over all batches ([`Interactions`]) and written whole at the end.
pub struct Stream<'a> {
    f: Box<dyn Parts + 'a>,
    kind: Kind,
    spool: std::io::BufWriter<std::fs::File>,
    nodes: usize,
    edges: usize,
    interactions: Interactions,
}

impl<'a> Stream<'a> {
    /// Start writing graph `kind` through `f`, spooling edges in a file in `spool_dir`.
    pub fn new(
        mut f: Box<dyn Parts + 'a>,
        kind: Kind,
        pseudonymised: bool,
        spool_dir: &Path,
    ) -> Result<Stream<'a>> {
        let (node_keys, edge_keys) = match kind {
            Kind::Replies => (REPLY_NODE_KEYS, REPLY_EDGE_KEYS),
            Kind::Interactions => (INTERACTION_NODE_KEYS, INTERACTION_EDGE_KEYS),
        };
        f.head(node_keys, edge_keys, pseudonymised)?;
        let spool = tempfile::tempfile_in(spool_dir).with_context(|| {
            format!(
                "{}: cannot make a spool file for the edges",
                spool_dir.display()
            )
        })?;
        Ok(Stream {
            f,
            kind,
            spool: std::io::BufWriter::with_capacity(1 << 16, spool),
            nodes: 0,
            edges: 0,
            interactions: Interactions::default(),
        })
    }

    /// The selected threads of one batch.
    pub fn add(&mut self, input: &crate::export::Input) -> Result<()> {
        if self.kind == Kind::Interactions {
            self.interactions
                .add(input.set, input.threads, input.selected);
            return Ok(());
        }
        let g = replies(input.set, input.threads, input.selected, input.codes);
        for n in &g.nodes {
            self.f.node(n)?;
        }
        self.nodes += g.nodes.len();
        // A reply's source is in its own thread, so in this batch.
        let starts = source_starts(&*self.f, &g.nodes);
        for e in &g.edges {
            let start = starts.get(e.source.as_str()).map(String::as_str);
            spool_edge(&mut self.spool, g.edge_keys, e, start)?;
        }
        self.edges += g.edges.len();
        Ok(())
    }

    /// Write the edges and the tail; returns how many nodes and edges were written.
    pub fn finish(mut self) -> Result<(usize, usize)> {
        if self.kind == Kind::Interactions {
            let g = std::mem::take(&mut self.interactions).graph();
            for n in &g.nodes {
                self.f.node(n)?;
            }
            self.f.edges()?;
            let starts = source_starts(&*self.f, &g.nodes);
            for (k, e) in g.edges.iter().enumerate() {
                self.f
                    .edge(k, e, starts.get(e.source.as_str()).map(String::as_str))?;
            }
            self.f.tail()?;
            return Ok((g.nodes.len(), g.edges.len()));
        }
        self.f.edges()?;
        let mut spool = std::io::BufReader::with_capacity(
            1 << 16,
            self.spool.into_inner().map_err(|e| e.into_error())?,
        );
        spool.seek(std::io::SeekFrom::Start(0))?;
        for k in 0..self.edges {
            let (e, start) = unspool_edge(&mut spool, REPLY_EDGE_KEYS)?;
            self.f.edge(k, &e, start.as_deref())?;
        }
        self.f.tail()?;
        Ok((self.nodes, self.edges))
    }
}

/// An edge in the spool: source, target, source time (empty: none), then each attribute as
/// its key's index, a tag and the value; strings length-prefixed, so any bytes survive.
fn spool_edge(
    out: &mut impl Write,
    keys: &Keys,
    e: &GEdge,
    start: Option<&str>,
) -> std::io::Result<()> {
    fn bytes(out: &mut impl Write, b: &[u8]) -> std::io::Result<()> {
        out.write_all(&(b.len() as u64).to_le_bytes())?;
        out.write_all(b)
    }
    bytes(out, e.source.as_bytes())?;
    bytes(out, e.target.as_bytes())?;
    bytes(out, start.unwrap_or("").as_bytes())?;
    out.write_all(&[e.attrs.len() as u8])?;
    for (name, v) in &e.attrs {
        let key = keys
            .iter()
            .position(|(k, _)| k == name)
            .expect("an edge attribute is one of its graph's keys");
        out.write_all(&[key as u8])?;
        match v {
            Value::Str(s) => {
                out.write_all(&[0])?;
                bytes(out, s.as_bytes())?;
            }
            Value::Int(n) => {
                out.write_all(&[1])?;
                out.write_all(&n.to_le_bytes())?;
            }
        }
    }
    Ok(())
}

/// Read back an edge [`spool_edge`] wrote.
fn unspool_edge(input: &mut impl Read, keys: &Keys) -> Result<(GEdge, Option<String>)> {
    fn u64_of(input: &mut impl Read) -> std::io::Result<u64> {
        let mut b = [0u8; 8];
        input.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn string(input: &mut impl Read) -> Result<String> {
        let n = u64_of(input)? as usize;
        let mut b = vec![0u8; n];
        input.read_exact(&mut b)?;
        Ok(String::from_utf8(b)?)
    }
    fn byte(input: &mut impl Read) -> std::io::Result<u8> {
        let mut b = [0u8; 1];
        input.read_exact(&mut b)?;
        Ok(b[0])
    }
    let source = string(input)?;
    let target = string(input)?;
    let start = Some(string(input)?).filter(|s| !s.is_empty());
    let n = byte(input)?;
    let mut attrs = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let name = keys[byte(input)? as usize].0;
        let v = match byte(input)? {
            0 => Value::Str(string(input)?),
            _ => Value::Int(u64_of(input)? as i64),
        };
        attrs.push((name, v));
    }
    Ok((
        GEdge {
            source,
            target,
            attrs,
        },
        start,
    ))
}

/// Drop what XML 1.0 cannot hold, even escaped.
pub(crate) fn xml_safe(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r')
                || ('\u{20}'..='\u{D7FF}').contains(&c)
                || ('\u{E000}'..='\u{FFFD}').contains(&c)
                || c >= '\u{10000}'
        })
        .collect()
}

/// An attribute value as XML text.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => xml_safe(s),
        Value::Int(n) => n.to_string(),
    }
}
