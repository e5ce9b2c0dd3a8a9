//! Post-per-row exports: JSONL (one post per line) and CSV (`posts.csv`, `edges.csv`,
//! `threads.csv`), with the thread structure, the gaps and the themes in them.
//!
//! Every node of a selected thread is a row, in the thread's depth-first order: posts, and gap
//! rows for missing parents (`gap: true`, with the missing id and the reason), so that a reader
//! of the file can rebuild the tree without rethread. Text is data here, not markup: JSON and
//! RFC 4180 quoting escape it.

use crate::corpus::PostSet;
use crate::model::format_time;
use crate::themes::{Codebook, Evidence};
use crate::thread::{EdgeKind, Node, Threads};
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;

/// The themes to attach, with the codebook their indices refer to.
pub struct Codes<'a> {
    pub book: &'a Codebook,
    /// Indexed like `PostSet::posts()`.
    pub posts: &'a [Vec<Evidence>],
    /// The accounts were pseudonymised: every row says so.
    pub pseudonymised: bool,
}

/// One row: a post or a gap, in its thread.
struct Row<'a> {
    thread: &'a str,
    node: petgraph::graph::NodeIndex,
    depth: usize,
    parent: Option<(String, EdgeKind)>,
}

fn rows<'a>(threads: &'a Threads, set: &PostSet, selected: &[usize]) -> Vec<Row<'a>> {
    let mut out = Vec::new();
    for &ti in selected {
        let t = &threads.threads[ti];
        for (n, depth) in threads.preorder(t) {
            let parent = threads
                .parent(n)
                .map(|(p, kind)| (node_id(threads, set, p), kind));
            out.push(Row {
                thread: &t.id,
                node: n,
                depth,
                parent,
            });
        }
    }
    out
}

fn node_id(threads: &Threads, set: &PostSet, n: petgraph::graph::NodeIndex) -> String {
    match threads.node(n) {
        Node::Post(i) => set.posts()[i].id().to_string(),
        Node::Gap(g) => threads.gaps[g].id.clone(),
    }
}

fn kind(k: EdgeKind) -> &'static str {
    match k {
        EdgeKind::Reply => "reply",
        EdgeKind::Quote => "quote",
        EdgeKind::Conversation => "conversation",
    }
}

fn themes_json(codes: Option<&Codes>, i: usize) -> Value {
    match codes {
        None => Value::Null,
        Some(c) => Value::Array(
            c.posts[i]
                .iter()
                .map(|e| {
                    json!({
                        "theme": c.book.themes[e.theme].id,
                        "pattern": e.pattern,
                        "text": e.text,
                        "start": e.start,
                        "end": e.end,
                    })
                })
                .collect(),
        ),
    }
}

/// The columns of a thread row, as `rethread threads --format csv` and `threads.csv` write them.
pub const THREAD_COLUMNS: [&str; 10] = [
    "id",
    "root",
    "posts",
    "gaps",
    "depth",
    "breadth",
    "participants",
    "start",
    "end",
    "complete",
];

/// One thread's metrics, in the order of [`THREAD_COLUMNS`].
pub fn thread_row(t: &crate::thread::Thread) -> [String; 10] {
    [
        t.id.clone(),
        t.root_id.clone(),
        t.posts.to_string(),
        t.gaps.to_string(),
        t.depth.to_string(),
        t.breadth.to_string(),
        t.participants.to_string(),
        t.start.as_ref().map(format_time).unwrap_or_default(),
        t.end.as_ref().map(format_time).unwrap_or_default(),
        (t.gaps == 0).to_string(),
    ]
}

/// JSONL: one object per post or gap. Returns the number of lines.
pub fn write_jsonl(
    out: &mut impl Write,
    set: &PostSet,
    threads: &Threads,
    selected: &[usize],
    codes: Option<&Codes>,
) -> Result<u64> {
    let mut n = 0;
    for r in rows(threads, set, selected) {
        let (parent, edge) = match &r.parent {
            Some((p, k)) => (Some(p.as_str()), Some(kind(*k))),
            None => (None, None),
        };
        let mut v = match threads.node(r.node) {
            Node::Post(i) => {
                let p = &set.posts()[i];
                let a = p.author();
                json!({
                    "thread": r.thread,
                    "id": p.id(),
                    "platform": p.platform().as_str(),
                    "gap": false,
                    "parent": parent,
                    "edge": edge,
                    "depth": r.depth,
                    "author": a.label(),
                    "author_id": a.id,
                    "author_name": a.display_name,
                    "created_at": p.created_at().map(|t| format_time(&t)),
                    "text": p.text(),
                    "url": p.url(),
                    "uri": p.uri(),
                    "reply_to": p.reply_to(),
                    "quote_of": p.quote_of(),
                    "language": p.language(),
                    "hashtags": p.hashtags().collect::<Vec<_>>(),
                    "mentions": p.mentions().collect::<Vec<_>>(),
                    "content_warning": p.content_warning(),
                    "media_alt": p.media_alt().collect::<Vec<_>>(),
                    "reposts": threads.reposts.get(&i).copied().unwrap_or(0),
                    "themes": themes_json(codes, i),
                })
            }
            Node::Gap(g) => {
                let gap = &threads.gaps[g];
                json!({
                    "thread": r.thread,
                    "id": gap.id,
                    "platform": gap.platform.as_str(),
                    "gap": true,
                    "reason": gap.reason,
                    "parent": parent,
                    "edge": edge,
                    "depth": r.depth,
                })
            }
        };
        if codes.is_some_and(|c| c.pseudonymised) {
            v["pseudonymised"] = json!(true);
        }
        serde_json::to_writer(&mut *out, &v)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    Ok(n)
}

/// CSV: `posts.csv` (posts and gaps), `edges.csv` (reply → the post it replies to) and `threads.csv` (the
/// metrics of `rethread threads`), each with a header row.
pub fn write_csv(
    posts_out: &mut impl Write,
    edges_out: &mut impl Write,
    threads_out: &mut impl Write,
    set: &PostSet,
    threads: &Threads,
    selected: &[usize],
    codes: Option<&Codes>,
) -> Result<(u64, u64)> {
    let mut posts = csv::Writer::from_writer(posts_out);
    let mut edges = csv::Writer::from_writer(edges_out);
    let pseudonymised = codes.is_some_and(|c| c.pseudonymised);
    let mut header = vec![
        "thread",
        "id",
        "platform",
        "gap",
        "reason",
        "parent",
        "depth",
        "author",
        "author_id",
        "created_at",
        "text",
        "url",
        "language",
        "themes",
        "evidence",
    ];
    if pseudonymised {
        // The file says so itself: a column that is true on every row.
        header.push("pseudonymised");
    }
    posts.write_record(&header)?;
    edges.write_record(["thread", "source", "target", "kind"])?;
    let (mut np, mut ne) = (0, 0);
    for r in rows(threads, set, selected) {
        let parent = r
            .parent
            .as_ref()
            .map(|(p, _)| p.clone())
            .unwrap_or_default();
        let id;
        match threads.node(r.node) {
            Node::Post(i) => {
                let p = &set.posts()[i];
                id = p.id().to_string();
                let (themes, evidence) = match codes {
                    Some(c) => {
                        let ev: Vec<String> = c.posts[i]
                            .iter()
                            .map(|e| format!("{}: {}", c.book.themes[e.theme].id, e.text))
                            .collect();
                        (c.book.ids_of(&c.posts[i]), ev.join(" | "))
                    }
                    None => (String::new(), String::new()),
                };
                let depth = r.depth.to_string();
                let created = p.created_at().map(|t| format_time(&t)).unwrap_or_default();
                let mut row = vec![
                    r.thread,
                    p.id(),
                    p.platform().as_str(),
                    "false",
                    "",
                    &parent,
                    &depth,
                    p.author().label(),
                    p.author().id.as_deref().unwrap_or(""),
                    &created,
                    p.text(),
                    p.url().unwrap_or(""),
                    p.language().unwrap_or(""),
                    &themes,
                    &evidence,
                ];
                if pseudonymised {
                    row.push("true");
                }
                posts.write_record(&row)?;
            }
            Node::Gap(g) => {
                let gap = &threads.gaps[g];
                id = gap.id.clone();
                let depth = r.depth.to_string();
                let mut row = vec![
                    r.thread,
                    &gap.id,
                    gap.platform.as_str(),
                    "true",
                    &gap.reason,
                    &parent,
                    &depth,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ];
                if pseudonymised {
                    row.push("true");
                }
                posts.write_record(&row)?;
            }
        }
        np += 1;
        if let Some((p, k)) = &r.parent {
            // From the reply to what it replies to, as in every graph export.
            edges.write_record([r.thread, id.as_str(), p.as_str(), kind(*k)])?;
            ne += 1;
        }
    }
    posts.flush()?;
    edges.flush()?;
    let mut t = csv::Writer::from_writer(threads_out);
    t.write_record(THREAD_COLUMNS)?;
    for &ti in selected {
        t.write_record(thread_row(&threads.threads[ti]))?;
    }
    t.flush()?;
    Ok((np, ne))
}
