//! A ConvoKit corpus directory that `convokit.Corpus(filename=DIR)` loads as is (ConvoKit 5.0.0):
//! `utterances.jsonl`, `speakers.json`, `conversations.json`, `corpus.json`, `index.json`.
//!
//! What ConvoKit demands (measured; see `shared/bench/README.md`): every conversation is exactly
//! one tree, so every `reply_to` names an utterance in the file and each conversation has one
//! root. A post whose parent is missing (a gap) or that hangs under a quote is therefore written
//! as the root of a conversation of its own, with the missing parent and the reason kept in its
//! `meta` (and the rethread thread id, which still joins them). Ids are strings, and every
//! timestamp is a number (0, with `meta.timestamp_unknown`, when the post has none).

use super::atomic::{self, Durability};
use crate::thread::{EdgeKind, Node};
use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub utterances: usize,
    pub conversations: usize,
    pub speakers: usize,
    /// Posts made roots of their own conversation (their parent was missing or a quote).
    pub rerooted: usize,
}

/// Write the selected threads into `dir` (created if absent).
pub fn write(dir: &Path, input: &super::Input) -> Result<Report> {
    write_with(dir, input.pseudonymised, |w| w.add(input))
}

/// Write into `dir` (created if absent) whatever `feed` adds to the [`Writer`], one batch of
/// threads after another (`export convokit --db`): utterances are written as they come, and
/// the speakers and conversations (an entry per account and per conversation, not per post)
/// when all are in.
pub fn write_with(
    dir: &Path,
    pseudonymised: bool,
    feed: impl FnOnce(&mut Writer) -> Result<()>,
) -> Result<Report> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut done = None;
    // Every file is written beside its target and renamed into place (`atomic`): a link
    // planted in the directory is replaced, never written through.
    atomic::write(&dir.join("utterances.jsonl"), Durability::Unsynced, |out| {
        let mut w = Writer {
            out,
            report: Report::default(),
            speakers: BTreeMap::new(),
            conversations: BTreeMap::new(),
        };
        feed(&mut w)?;
        w.out.flush()?;
        done = Some((w.report, w.speakers, w.conversations));
        Ok(())
    })?;
    let (mut report, speakers, conversations) = done.expect("the writer ran");
    let conversations: BTreeMap<String, Value> = conversations
        .into_iter()
        .map(|(c, thread)| (c, json!({"meta": {"thread": thread}, "vectors": []})))
        .collect();
    write_rest(dir, pseudonymised, &mut report, speakers, conversations)?;
    Ok(report)
}

/// The utterances file being written, and what the other files will say.
pub struct Writer<'a> {
    out: &'a mut std::io::BufWriter<std::fs::File>,
    report: Report,
    speakers: BTreeMap<String, Value>,
    /// conversation id → its rethread thread
    conversations: BTreeMap<String, String>,
}

impl Writer<'_> {
    /// The utterances of `input`'s selected threads, in their order.
    pub fn add(&mut self, input: &super::Input) -> Result<()> {
        let (set, threads, selected, codes) =
            (input.set, input.threads, input.selected, input.codes);
        let (out, report, speakers, conversations) = (
            &mut *self.out,
            &mut self.report,
            &mut self.speakers,
            &mut self.conversations,
        );
        for &ti in selected {
            let t = &threads.threads[ti];
            // The conversation of each node, decided parent before child (preorder).
            let mut conv: BTreeMap<usize, String> = BTreeMap::new();
            for (n, depth) in threads.preorder(t) {
                let Node::Post(i) = threads.node(n) else {
                    continue;
                };
                let p = &set.posts()[i];
                let mut meta = Map::new();
                meta.insert("thread".into(), json!(t.id));
                meta.insert("depth".into(), json!(depth));
                let (reply_to, conversation) = match threads.parent(n) {
                    Some((parent, EdgeKind::Reply)) => match threads.node(parent) {
                        Node::Post(j) => (
                            Some(set.posts()[j].id().to_string()),
                            conv.get(&parent.index())
                                .cloned()
                                .unwrap_or_else(|| p.id().to_string()),
                        ),
                        Node::Gap(g) => {
                            let gap = &threads.gaps[g];
                            meta.insert("missing_parent".into(), json!(gap.id));
                            meta.insert("missing_reason".into(), json!(gap.reason));
                            report.rerooted += 1;
                            (None, p.id().to_string())
                        }
                    },
                    Some((parent, kind)) => {
                        // A quote, or a gap hung under its conversation's root: not a reply in
                        // ConvoKit's sense.
                        let other = match threads.node(parent) {
                            Node::Post(j) => set.posts()[j].id().to_string(),
                            Node::Gap(g) => threads.gaps[g].id.clone(),
                        };
                        let key = if kind == EdgeKind::Quote {
                            "quote_of"
                        } else {
                            "missing_parent"
                        };
                        meta.insert(key.into(), json!(other));
                        report.rerooted += 1;
                        (None, p.id().to_string())
                    }
                    None => (None, p.id().to_string()),
                };
                conv.insert(n.index(), conversation.clone());
                if let Some(url) = p.url() {
                    meta.insert("url".into(), json!(url));
                }
                if let Some((book, ev)) = codes {
                    meta.insert("themes".into(), json!(book.ids_of(&ev[i])));
                    // Which coder gave each theme: `id:pattern;id2:semantic`.
                    meta.insert(
                        "theme_coders".into(),
                        json!(super::codes::theme_coders(book, &ev[i])),
                    );
                }
                let timestamp = match p.created_ms() {
                    Some(ms) => ms / 1000,
                    None => {
                        meta.insert("timestamp_unknown".into(), json!(true));
                        0
                    }
                };
                let speaker = p.author().label().to_string();
                speakers.entry(speaker.clone()).or_insert_with(|| {
                    json!({"meta": {
                    "id": p.author().id,
                    "name": p.author().display_name,
                    "platform": p.platform().as_str(),
                }, "vectors": []})
                });
                conversations
                    .entry(conversation.clone())
                    .or_insert_with(|| t.id.clone());
                let u = json!({
                    "id": p.id(),
                    "speaker": speaker,
                    "conversation_id": conversation,
                    "reply_to": reply_to,
                    "timestamp": timestamp,
                    "text": p.text(),
                    "meta": Value::Object(meta),
                    "vectors": [],
                });
                serde_json::to_writer(&mut *out, &u)?;
                out.write_all(b"\n")?;
                report.utterances += 1;
            }
        }
        Ok(())
    }
}

fn write_rest(
    dir: &Path,
    pseudonymised: bool,
    report: &mut Report,
    speakers: BTreeMap<String, Value>,
    conversations: BTreeMap<String, Value>,
) -> Result<()> {
    report.speakers = speakers.len();
    report.conversations = conversations.len();
    let write_json = |name: &str, v: &Value| -> Result<()> {
        atomic::write_bytes(
            &dir.join(name),
            Durability::Unsynced,
            &serde_json::to_vec(v)?,
        )
    };
    write_json("speakers.json", &json!(speakers))?;
    write_json("conversations.json", &json!(conversations))?;
    write_json(
        "corpus.json",
        &json!({"made_by": format!("rethread {}", env!("CARGO_PKG_VERSION")), "pseudonymised": pseudonymised}),
    )?;
    // The meta keys, declared the way ConvoKit's own dump declares them.
    let s = |keys: &[&str]| -> Value {
        Value::Object(
            keys.iter()
                .map(|k| (k.to_string(), json!(["<class 'str'>"])))
                .collect(),
        )
    };
    write_json(
        "index.json",
        &json!({
            "utterances-index": s(&["thread", "depth", "url", "themes", "theme_coders", "missing_parent", "missing_reason", "quote_of", "timestamp_unknown"]),
            "speakers-index": s(&["id", "name", "platform"]),
            "conversations-index": s(&["thread"]),
            "overall-index": s(&["made_by", "pseudonymised"]),
            "version": 1,
        }),
    )?;
    Ok(())
}
