//! twarc2 JSONL out: one Twitter API v2 response page per line, the format twarc2 writes and
//! its tools (twarc-csv, twarc-network) and rethread's importer read.
//!
//! Pages that `collect twitter` fetched are written verbatim, in the order fetched. Tweets that
//! came from files instead (a twarc2 archive, tweets.js, TWCS, ConvoKit) are written as pages
//! of 100 assembled from the corpus: the tweet's own v2 JSON when it was read from twarc2, else
//! a v2 tweet object built from the post model, with the authors in `includes.users`. Those
//! pages carry `"__rethread": {"assembled": true}` so that nobody mistakes them for API
//! responses. Missing tweets go in a last page's `errors`, with the reason the corpus holds.

use crate::corpus::Corpus;
use crate::model::{format_time, Post};
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::io::Write;

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// API pages written as fetched.
    pub pages: u64,
    /// Pages assembled from imported tweets.
    pub assembled: u64,
    /// Tweets in the assembled pages.
    pub tweets: u64,
    /// Missing-tweet notes written as `errors`.
    pub missing: u64,
}

const PER_PAGE: usize = 100;

/// Write every Twitter page and tweet of the corpus to `out`, one JSON object per line.
pub fn write(corpus: &Corpus, out: &mut impl Write) -> Result<Report> {
    let pages = corpus.for_each_page("twitter", |body| {
        if body.contains('\n') {
            // Pretty-printed by whoever sent it: one line per page is the format.
            let v: Value = serde_json::from_str(body)?;
            serde_json::to_writer(&mut *out, &v)?;
        } else {
            out.write_all(body.as_bytes())?;
        }
        out.write_all(b"\n")?;
        Ok(())
    })?;
    let mut report = Report {
        pages,
        ..Report::default()
    };
    let mut data: Vec<Value> = Vec::with_capacity(PER_PAGE);
    let mut users: Vec<Value> = Vec::new();
    let mut seen_users: HashSet<String> = HashSet::new();
    let flush = |data: &mut Vec<Value>,
                 users: &mut Vec<Value>,
                 seen: &mut HashSet<String>,
                 report: &mut Report,
                 out: &mut dyn Write|
     -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let n = data.len();
        let page = json!({
            "data": std::mem::take(data),
            "includes": {"users": std::mem::take(users)},
            "meta": {"result_count": n},
            "__rethread": {"assembled": true},
        });
        seen.clear();
        serde_json::to_writer(&mut *out, &page)?;
        out.write_all(b"\n")?;
        report.assembled += 1;
        Ok(())
    };
    corpus.for_each_unpaged_post("twitter", |post, raw, format| {
        let tweet = match (format, raw) {
            (Some("twarc2"), Some(raw)) if raw.trim_start().starts_with('{') => {
                serde_json::from_str(raw)?
            }
            _ => tweet_of(&post),
        };
        if let Some(id) = post.author.id.as_deref() {
            if seen_users.insert(id.to_string()) {
                let mut u = Map::new();
                u.insert("id".into(), json!(id));
                if let Some(h) = &post.author.handle {
                    u.insert("username".into(), json!(h));
                }
                if let Some(n) = &post.author.display_name {
                    u.insert("name".into(), json!(n));
                }
                users.push(Value::Object(u));
            }
        }
        data.push(tweet);
        report.tweets += 1;
        if data.len() == PER_PAGE {
            flush(&mut data, &mut users, &mut seen_users, &mut report, out)?;
        }
        Ok(())
    })?;
    flush(&mut data, &mut users, &mut seen_users, &mut report, out)?;
    let missing = corpus.missing_of("twitter")?;
    for chunk in missing.chunks(PER_PAGE) {
        let errors: Vec<Value> = chunk
            .iter()
            .map(|(id, reason)| {
                json!({
                    "resource_type": "tweet",
                    "parameter": "ids",
                    "resource_id": id,
                    "value": id,
                    "detail": reason,
                })
            })
            .collect();
        report.missing += errors.len() as u64;
        let page = json!({"errors": errors, "meta": {"result_count": 0}, "__rethread": {"assembled": true}});
        serde_json::to_writer(&mut *out, &page)?;
        out.write_all(b"\n")?;
        report.assembled += 1;
    }
    out.flush()?;
    Ok(report)
}

/// A v2 tweet object from the post model (for tweets read from other formats). The API
/// HTML-escapes `&`, `<` and `>` in text, and readers undo it: escape them here.
fn tweet_of(p: &Post) -> Value {
    let mut t = Map::new();
    t.insert("id".into(), json!(p.id));
    let text = p
        .text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    t.insert("text".into(), json!(text));
    if let Some(a) = &p.author.id {
        t.insert("author_id".into(), json!(a));
    }
    if let Some(c) = &p.created_at {
        t.insert("created_at".into(), json!(format_time(c)));
    }
    if let Some(c) = &p.conversation_id {
        t.insert("conversation_id".into(), json!(c));
    }
    if let Some(u) = &p.reply_to_author {
        t.insert("in_reply_to_user_id".into(), json!(u));
    }
    if let Some(l) = &p.language {
        t.insert("lang".into(), json!(l));
    }
    let mut refs = Vec::new();
    for (kind, id) in [
        ("replied_to", &p.reply_to),
        ("quoted", &p.quote_of),
        ("retweeted", &p.repost_of),
    ] {
        if let Some(id) = id {
            refs.push(json!({"type": kind, "id": id}));
        }
    }
    if !refs.is_empty() {
        t.insert("referenced_tweets".into(), Value::Array(refs));
    }
    let mut entities = Map::new();
    if !p.hashtags.is_empty() {
        entities.insert(
            "hashtags".into(),
            Value::Array(p.hashtags.iter().map(|h| json!({"tag": h})).collect()),
        );
    }
    if !p.mentions.is_empty() {
        entities.insert(
            "mentions".into(),
            Value::Array(p.mentions.iter().map(|m| json!({"username": m})).collect()),
        );
    }
    if !entities.is_empty() {
        t.insert("entities".into(), Value::Object(entities));
    }
    Value::Object(t)
}
