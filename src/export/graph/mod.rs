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
use std::collections::BTreeMap;

mod dot;
pub mod gexf;
mod graphml;

pub use dot::write_dot;
pub use graphml::write_graphml;

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

pub struct Graph {
    pub nodes: Vec<GNode>,
    pub edges: Vec<GEdge>,
    /// Attribute names and whether they are integers, for nodes and for edges.
    pub node_keys: Vec<(&'static str, bool)>,
    pub edge_keys: Vec<(&'static str, bool)>,
    /// The accounts are salted hashes: the file says so.
    pub pseudonymised: bool,
}

const EXCERPT: usize = 200;

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
        node_keys: vec![
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
        ],
        edge_keys: vec![("kind", false)],
        pseudonymised: false,
    }
}

/// Replies from one account to another: how many, first and last time.
type Pair = (i64, Option<String>, Option<String>);

fn interactions(set: &PostSet, threads: &Threads, selected: &[usize]) -> Graph {
    // account → posts; (replier, replied-to) → (replies, first, last)
    let mut accounts: BTreeMap<String, i64> = BTreeMap::new();
    let mut pairs: BTreeMap<(String, String), Pair> = BTreeMap::new();
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
    Graph {
        nodes: accounts
            .into_iter()
            .map(|(a, n)| GNode {
                id: a.clone(),
                label: a.clone(),
                attrs: vec![("account", Value::Str(a)), ("posts", Value::Int(n))],
            })
            .collect(),
        edges: pairs
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
        node_keys: vec![("account", false), ("posts", true)],
        edge_keys: vec![("weight", true), ("first", false), ("last", false)],
        pseudonymised: false,
    }
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
