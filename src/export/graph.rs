//! Graph exports: GraphML (typed keys, for networkx, igraph, Gephi, yEd) and DOT (Graphviz).
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
use anyhow::Result;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::collections::BTreeMap;
use std::io::Write;

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
pub fn build(
    kind: Kind,
    set: &PostSet,
    threads: &Threads,
    selected: &[usize],
    codes: Option<(&Codebook, &[Vec<Evidence>])>,
) -> Graph {
    match kind {
        Kind::Replies => replies(set, threads, selected, codes),
        Kind::Interactions => interactions(set, threads, selected),
    }
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
pub(super) fn xml_safe(s: &str) -> String {
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
pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => xml_safe(s),
        Value::Int(n) => n.to_string(),
    }
}

/// GraphML with typed keys.
pub fn write_graphml(g: &Graph, out: &mut (impl Write + ?Sized)) -> Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("graphml");
    root.push_attribute(("xmlns", "http://graphml.graphdrawing.org/xmlns"));
    root.push_attribute(("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"));
    root.push_attribute((
        "xsi:schemaLocation",
        "http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd",
    ));
    w.write_event(Event::Start(root))?;
    for (prefix, target, keys) in [("n", "node", &g.node_keys), ("e", "edge", &g.edge_keys)] {
        for (name, int) in keys.iter() {
            let mut k = BytesStart::new("key");
            k.push_attribute(("id", format!("{prefix}_{name}").as_str()));
            k.push_attribute(("for", target));
            k.push_attribute(("attr.name", *name));
            k.push_attribute(("attr.type", if *int { "long" } else { "string" }));
            w.write_event(Event::Empty(k))?;
        }
    }
    if g.pseudonymised {
        let mut k = BytesStart::new("key");
        k.push_attribute(("id", "g_pseudonymised"));
        k.push_attribute(("for", "graph"));
        k.push_attribute(("attr.name", "pseudonymised"));
        k.push_attribute(("attr.type", "boolean"));
        w.write_event(Event::Empty(k))?;
    }
    let mut graph = BytesStart::new("graph");
    graph.push_attribute(("id", "rethread"));
    graph.push_attribute(("edgedefault", "directed"));
    w.write_event(Event::Start(graph))?;
    if g.pseudonymised {
        let mut d = BytesStart::new("data");
        d.push_attribute(("key", "g_pseudonymised"));
        w.write_event(Event::Start(d))?;
        w.write_event(Event::Text(BytesText::new("true")))?;
        w.write_event(Event::End(BytesEnd::new("data")))?;
    }
    let data = |w: &mut Writer<&mut _>, prefix: &str, name: &str, v: &Value| -> Result<()> {
        let mut d = BytesStart::new("data");
        d.push_attribute(("key", format!("{prefix}_{name}").as_str()));
        w.write_event(Event::Start(d))?;
        w.write_event(Event::Text(BytesText::new(&value_text(v))))?;
        w.write_event(Event::End(BytesEnd::new("data")))?;
        Ok(())
    };
    for n in &g.nodes {
        let mut e = BytesStart::new("node");
        e.push_attribute(("id", xml_safe(&n.id).as_str()));
        w.write_event(Event::Start(e))?;
        for (name, v) in &n.attrs {
            data(&mut w, "n", name, v)?;
        }
        w.write_event(Event::End(BytesEnd::new("node")))?;
    }
    for (k, e) in g.edges.iter().enumerate() {
        let mut x = BytesStart::new("edge");
        x.push_attribute(("id", format!("e{k}").as_str()));
        x.push_attribute(("source", xml_safe(&e.source).as_str()));
        x.push_attribute(("target", xml_safe(&e.target).as_str()));
        w.write_event(Event::Start(x))?;
        for (name, v) in &e.attrs {
            data(&mut w, "e", name, v)?;
        }
        w.write_event(Event::End(BytesEnd::new("edge")))?;
    }
    w.write_event(Event::End(BytesEnd::new("graph")))?;
    w.write_event(Event::End(BytesEnd::new("graphml")))?;
    w.into_inner().write_all(b"\n")?;
    Ok(())
}

/// A DOT string literal: `"` and `\` escaped, line breaks as `\n`, control characters dropped.
fn dot_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// DOT for Graphviz: posts as boxes labelled author and excerpt, gaps dashed.
pub fn write_dot(g: &Graph, out: &mut (impl Write + ?Sized)) -> Result<()> {
    writeln!(out, "digraph rethread {{")?;
    if g.pseudonymised {
        writeln!(out, "  // pseudonymised: every account is a salted hash")?;
        writeln!(out, "  comment=\"pseudonymised\";")?;
    }
    writeln!(out, "  rankdir=BT;")?;
    writeln!(out, "  node [shape=box, fontsize=10];")?;
    for n in &g.nodes {
        let gap = n
            .attrs
            .iter()
            .any(|(k, v)| *k == "kind" && *v == Value::Str("gap".into()));
        let text = n.attrs.iter().find_map(|(k, v)| match (k, v) {
            (&"text", Value::Str(t)) if !t.is_empty() => {
                Some(t.chars().take(60).collect::<String>())
            }
            _ => None,
        });
        let label = match text {
            Some(t) => format!("{}\n{}", n.label, t),
            None => n.label.clone(),
        };
        let mut attrs = vec![format!("label={}", dot_str(&label))];
        for (k, v) in &n.attrs {
            if *k != "text" {
                attrs.push(format!("{k}={}", dot_str(&value_text(v))));
            }
        }
        if gap {
            attrs.push("style=dashed".into());
        }
        writeln!(out, "  {} [{}];", dot_str(&n.id), attrs.join(", "))?;
    }
    for e in &g.edges {
        let attrs: Vec<String> = e
            .attrs
            .iter()
            .map(|(k, v)| format!("{k}={}", dot_str(&value_text(v))))
            .collect();
        writeln!(
            out,
            "  {} -> {} [{}];",
            dot_str(&e.source),
            dot_str(&e.target),
            attrs.join(", ")
        )?;
    }
    writeln!(out, "}}")?;
    Ok(())
}
