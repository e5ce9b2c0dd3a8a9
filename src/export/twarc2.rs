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
use anyhow::{Context, Result};
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
///
/// Stored JSON (pages, and tweets read from twarc2) is passed through as text, never parsed
/// into a `serde_json::Value`: that parser recurses, stops at 128 levels, and a field nested
/// deeper that the importer skipped without looking (it skips iteratively, at any depth) would
/// otherwise fail the export of the whole corpus. JSON that spans lines is joined onto one
/// line by [`write_compact`], which keeps every byte but the whitespace between tokens; JSON
/// already on one line is written byte for byte.
pub fn write(corpus: &Corpus, out: &mut dyn Write) -> Result<Report> {
    let pages = corpus.for_each_page("twitter", |body| {
        if body.contains(['\n', '\r']) {
            // Pretty-printed by whoever sent it: one line per page is the format.
            checked(body).context("a stored API page is not valid JSON")?;
            write_compact(&mut *out, body)?;
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
    let mut data: Vec<Tweet> = Vec::with_capacity(PER_PAGE);
    let mut users: Vec<Value> = Vec::new();
    let mut seen_users: HashSet<String> = HashSet::new();
    let flush = |data: &mut Vec<Tweet>,
                 users: &mut Vec<Value>,
                 seen: &mut HashSet<String>,
                 report: &mut Report,
                 out: &mut dyn Write|
     -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        // The keys in the order `json!` wrote them before (sorted), so pages read the same.
        out.write_all(br#"{"__rethread":{"assembled":true},"data":["#)?;
        for (k, tweet) in data.iter().enumerate() {
            if k > 0 {
                out.write_all(b",")?;
            }
            match tweet {
                Tweet::Raw(raw) if raw.contains(['\n', '\r']) => write_compact(&mut *out, raw)?,
                Tweet::Raw(raw) => out.write_all(raw.as_bytes())?,
                Tweet::Built(v) => serde_json::to_writer(&mut *out, v)?,
            }
        }
        out.write_all(br#"],"includes":"#)?;
        serde_json::to_writer(&mut *out, &json!({"users": std::mem::take(users)}))?;
        write!(out, r#","meta":{{"result_count":{}}}}}"#, data.len())?;
        out.write_all(b"\n")?;
        data.clear();
        seen.clear();
        report.assembled += 1;
        Ok(())
    };
    corpus.for_each_unpaged_post("twitter", |post, raw, format| {
        let tweet = match (format, raw) {
            (Some("twarc2"), Some(raw)) if raw.trim_start().starts_with('{') => {
                // Checked without building anything (iteratively, at any depth), so that a
                // damaged record is named here instead of breaking the page it would go in.
                let raw = checked(raw).with_context(|| {
                    format!(
                        "tweet {}: its stored twarc2 JSON is not valid JSON",
                        post.id
                    )
                })?;
                Tweet::Raw(raw.to_string())
            }
            _ => Tweet::Built(tweet_of(&post)),
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

/// A tweet of an assembled page: its stored JSON, or an object built from the post model.
enum Tweet {
    Raw(String),
    Built(Value),
}

/// `json` if it is one valid JSON value (surrounding whitespace aside), checked with
/// `RawValue`, which builds nothing and skips nested values with a loop, not recursion.
fn checked(json: &str) -> Result<&str> {
    let raw: &serde_json::value::RawValue = serde_json::from_str(json)?;
    Ok(raw.get())
}

/// Write valid JSON `json` without the whitespace between its tokens, so that it fits on one
/// line (a JSON string cannot hold a raw line break: inside strings they are escaped). One
/// pass over the bytes, no parsing and no nesting: it works at any depth.
pub fn write_compact(out: &mut (impl Write + ?Sized), json: &str) -> std::io::Result<()> {
    let bytes = json.as_bytes();
    let (mut in_string, mut escaped) = (false, false);
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.write_all(&bytes[start..i])?;
            start = i + 1;
        }
    }
    out.write_all(&bytes[start..])
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

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(json: &str) -> String {
        let mut out = Vec::new();
        write_compact(&mut out, json).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn compacting_keeps_strings_and_drops_only_the_space_between_tokens() {
        let pretty = "{\n  \"a\" : [ 1,\t2 ],\r\n  \"b\": \"x y\\\" \\\\\",\n \"c\": \"\\n\"\n}";
        let one = compact(pretty);
        assert_eq!(one, r#"{"a":[1,2],"b":"x y\" \\","c":"\n"}"#);
        assert_eq!(
            serde_json::from_str::<Value>(&one).unwrap(),
            serde_json::from_str::<Value>(pretty).unwrap()
        );
    }

    #[test]
    fn deep_json_is_checked_and_compacted_without_recursing() {
        let n = 200_000;
        let deep = format!("{}{}", "[\n".repeat(n), "]".repeat(n));
        assert!(checked(&deep).is_ok());
        assert_eq!(
            compact(&deep),
            format!("{}{}", "[".repeat(n), "]".repeat(n))
        );
        assert!(checked(&deep[..deep.len() - 1]).is_err());
    }
}
