//! ConvoKit `utterances.jsonl`: one utterance (a post) per line.
//!
//! Cornell's ConvoKit is how many researchers already hold conversational corpora, and its
//! utterance file carries exactly what rethread needs to rebuild threads: an id, a speaker, the
//! conversation it belongs to and the utterance it replies to. This importer maps one line to one
//! [`Post`]. The format has drifted over ConvoKit's releases (`user`→`speaker`, `root`→
//! `conversation_id`, and its own dumps spell `reply_to` as `reply-to`), ids are strings in some
//! corpora and integers in others, and timestamps come as epoch numbers, numeric strings, ISO
//! strings or null, so every one of those forms is accepted here rather than in a pre-pass.

use super::format::{Match, Spec};
use super::Context;
use crate::model::{epoch_seconds, parse_time, Platform, Post, Record};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One line of `utterances.jsonl`. Fields are kept as [`Value`] where ConvoKit corpora disagree
/// on the type. Each spelling gets its own field (not a serde `alias`) so that a line carrying
/// both spellings is read, preferring the current one, instead of failing as a duplicate field.
#[derive(Deserialize)]
struct Utterance {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    speaker: Value,
    /// ConvoKit before 2.0.
    #[serde(default)]
    user: Value,
    #[serde(default)]
    conversation_id: Value,
    /// ConvoKit before 2.0.
    #[serde(default)]
    root: Value,
    #[serde(default)]
    reply_to: Value,
    /// How ConvoKit's own `dump` writes it.
    #[serde(default, rename = "reply-to")]
    reply_to_dashed: Value,
    #[serde(default)]
    timestamp: Value,
    #[serde(default)]
    text: Value,
    #[serde(default)]
    meta: Value,
    // `vectors` names ConvoKit's side files of embeddings; nothing here to rebuild a thread from.
}

/// ConvoKit utterances, as [`super::format`] knows them.
pub(super) const SPEC: Spec = Spec::json(classify, parse_record);

/// A speaker (`speaker`, or `user` in older corpora), a `reply_to` (or `reply-to`) and `text`.
fn classify(o: &Map<String, Value>) -> Match {
    let has = |k: &str| o.contains_key(k);
    if (has("speaker") || has("user")) && (has("reply_to") || has("reply-to")) && has("text") {
        Match::Strong
    } else {
        Match::No
    }
}

/// Read one utterance line into a post.
pub fn parse_record(json: &str, cx: &Context) -> Result<Vec<Record>, String> {
    // serde would also fill a struct from a JSON array, by position; an utterance is an object.
    if !json.trim_start().starts_with('{') {
        return Err("malformed ConvoKit utterance: not a JSON object".into());
    }
    let u: Utterance =
        serde_json::from_str(json).map_err(|e| format!("malformed ConvoKit utterance: {e}"))?;

    let id = id_field(&u.id, "id")?.ok_or("utterance has no id")?;
    let text = match &u.text {
        Value::String(s) => s.clone(),
        Value::Null => return Err(format!("utterance {id} has no text")),
        other => return Err(format!("utterance {id}: text is not a string: {other}")),
    };
    let speaker = id_field(first_present(&u.speaker, &u.user), "speaker")?;
    let reply_to = id_field(first_present(&u.reply_to, &u.reply_to_dashed), "reply_to")?;
    let conversation_id = id_field(
        first_present(&u.conversation_id, &u.root),
        "conversation_id",
    )?;
    let created_at = timestamp(&u.timestamp).map_err(|e| format!("utterance {id}: {e}"))?;

    let mut post = Post::new(platform(&u.meta), id);
    // A ConvoKit speaker is a bare name that serves as both id and handle; there is nothing else.
    post.author = std::sync::Arc::new(crate::model::Author {
        id: speaker.clone(),
        handle: speaker,
        ..Default::default()
    });
    // ConvoKit stores text as the corpus builder left it; it is not HTML, so it is kept verbatim.
    post.text = text;
    post.reply_to = reply_to;
    post.conversation_id = conversation_id;
    post.created_at = created_at;
    post.language = language(&u.meta);
    post.raw = cx.raw(json);
    post.provenance = Some(cx.provenance());
    Ok(vec![Record::Post(Box::new(post))])
}

/// The current spelling if it has a value, else the older one.
fn first_present<'a>(current: &'a Value, older: &'a Value) -> &'a Value {
    if current.is_null() {
        older
    } else {
        current
    }
}

/// An id as a string. ConvoKit writes ids as strings or integers; an integral float (`12.0`) is
/// accepted too, because pandas turns an integer column with gaps (a `reply_to` of null) into
/// floats. Floats are only exact up to 2^53, so a larger one would name the wrong post: refuse it.
fn id_field(v: &Value, field: &str) -> Result<Option<String>, String> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < EXACT => Ok(Some(format!("{}", f as i64))),
            _ => Err(format!("{field} {n} is not a whole number")),
        },
        other => Err(format!("{field} is not a string or integer: {other}")),
    }
}

/// A timestamp in any form ConvoKit corpora use. A value that is present but unreadable is an
/// error rather than silently `None`, so that a corpus with a new timestamp form is noticed.
fn timestamp(v: &Value) -> Result<Option<DateTime<Utc>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_f64().and_then(epoch_seconds) {
            Some(t) => Ok(Some(t)),
            None => Err(format!("timestamp {n} is out of range")),
        },
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => parse_time(s)
            .map(Some)
            .ok_or_else(|| format!("unrecognised timestamp {s:?}")),
        other => Err(format!("timestamp is not a number or string: {other}")),
    }
}

/// ConvoKit does not record the network a corpus came from. A corpus built by rethread's users may
/// say so in `meta.platform`; otherwise Twitter is assumed, because ConvoKit's social-media
/// corpora are Twitter- or Reddit-like (numeric ids, flat handles, no servers) and Twitter is the
/// nearer of rethread's two platforms. The platform only scopes ids, so a wrong guess cannot
/// mislink posts within one corpus.
fn platform(meta: &Value) -> Platform {
    meta.get("platform")
        .and_then(Value::as_str)
        .and_then(|p| Platform::parse(&p.trim().to_ascii_lowercase()))
        .unwrap_or(Platform::Twitter)
}

/// `meta.lang` (Twitter's name) or `meta.language`, whichever is set.
fn language(meta: &Value) -> Option<String> {
    ["lang", "language"]
        .iter()
        .filter_map(|k| meta.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::format_time;
    use crate::source::Format;
    use std::sync::Arc;

    fn cx(keep_raw: bool) -> Context {
        Context {
            source: Arc::from("utterances.jsonl"),
            line: 7,
            format: Format::Convokit,
            keep_raw,
        }
    }

    fn parse(json: &str) -> Post {
        match parse_record(json, &cx(true)).unwrap().pop() {
            Some(Record::Post(p)) => *p,
            other => panic!("expected one post, got {other:?}"),
        }
    }

    fn time(p: &Post) -> Option<String> {
        p.created_at.as_ref().map(format_time)
    }

    #[test]
    fn maps_current_keys() {
        let json = r#"{"id": "u2", "speaker": "nz_rob", "conversation_id": "u1", "reply_to": "u1",
            "timestamp": 1268730060, "text": "@Gripnostril is this *designed*? <b>&amp;</b>",
            "meta": {"lang": "en"}, "vectors": []}"#;
        let p = parse(json);
        assert_eq!(p.platform, Platform::Twitter);
        assert_eq!(p.id, "u2");
        assert_eq!(p.author.id.as_deref(), Some("nz_rob"));
        assert_eq!(p.author.handle.as_deref(), Some("nz_rob"));
        assert_eq!(p.text, "@Gripnostril is this *designed*? <b>&amp;</b>");
        assert_eq!(p.reply_to.as_deref(), Some("u1"));
        assert_eq!(p.conversation_id.as_deref(), Some("u1"));
        assert_eq!(time(&p).as_deref(), Some("2010-03-16T09:01:00.000Z"));
        assert_eq!(p.language.as_deref(), Some("en"));
        assert_eq!(p.raw.as_deref(), Some(json));
        let prov = p.provenance.unwrap();
        assert_eq!(
            (&*prov.source, prov.line, prov.format),
            ("utterances.jsonl", 7, "convokit")
        );
    }

    #[test]
    fn maps_older_keys_and_integer_ids() {
        let p = parse(
            r#"{"id": 12, "user": "audaciousgloop", "root": 10, "reply-to": 11,
                "timestamp": null, "text": "can you elaborate?", "meta": {}}"#,
        );
        assert_eq!(p.id, "12");
        assert_eq!(p.author.handle.as_deref(), Some("audaciousgloop"));
        assert_eq!(p.conversation_id.as_deref(), Some("10"));
        assert_eq!(p.reply_to.as_deref(), Some("11"));
        assert_eq!(p.created_at, None);
        assert_eq!(p.language, None);
        // pandas' float ids, and the current spelling winning over the older one.
        let p = parse(
            r#"{"id": 3, "speaker": "a", "user": "b", "reply_to": 2.0, "reply-to": 9, "text": ""}"#,
        );
        assert_eq!(p.author.handle.as_deref(), Some("a"));
        assert_eq!(p.reply_to.as_deref(), Some("2"));
        assert_eq!(p.text, "");
    }

    #[test]
    fn root_has_no_reply_to() {
        let p = parse(
            r#"{"id": "1", "speaker": "g", "conversation_id": "1", "reply_to": null, "text": "x"}"#,
        );
        assert_eq!(p.reply_to, None);
        assert_eq!(p.conversation_id.as_deref(), Some("1"));
    }

    #[test]
    fn reads_every_timestamp_form() {
        let want = Some("2010-03-16T09:00:00.000Z");
        for ts in [
            "1268730000",
            "1268730000.0",
            r#""1268730000""#,
            r#""1268730000.0""#,
            r#""2010-03-16T09:00:00.000Z""#,
            r#""2010-03-16T10:00:00+01:00""#,
            r#""2010-03-16 09:00:00""#,
            r#""2010-03-16T09:00:00""#,
        ] {
            let p = parse(&format!(
                r#"{{"id": "1", "speaker": "g", "timestamp": {ts}, "text": "x"}}"#
            ));
            assert_eq!(time(&p).as_deref(), want, "{ts}");
        }
        let p = parse(r#"{"id": "1", "timestamp": 1268730000.25, "text": "x"}"#);
        assert_eq!(time(&p).as_deref(), Some("2010-03-16T09:00:00.250Z"));
        let p = parse(r#"{"id": "1", "timestamp": "2010-03-16", "text": "x"}"#);
        assert_eq!(time(&p).as_deref(), Some("2010-03-16T00:00:00.000Z"));
        for ts in ["null", r#""""#] {
            let p = parse(&format!(r#"{{"id": "1", "timestamp": {ts}, "text": "x"}}"#));
            assert_eq!(p.created_at, None, "{ts}");
        }
        let p = parse(r#"{"id": "1", "text": "x"}"#);
        assert_eq!((p.created_at, p.author.id.clone()), (None, None));
    }

    #[test]
    fn platform_from_meta_else_twitter() {
        let platform_of =
            |meta: &str| parse(&format!(r#"{{"id": "1", "text": "x", "meta": {meta}}}"#)).platform;
        assert_eq!(
            platform_of(r#"{"platform": "mastodon"}"#),
            Platform::Mastodon
        );
        assert_eq!(
            platform_of(r#"{"platform": "Mastodon"}"#),
            Platform::Mastodon
        );
        assert_eq!(platform_of(r#"{"platform": "twitter"}"#), Platform::Twitter);
        assert_eq!(platform_of(r#"{"platform": "reddit"}"#), Platform::Twitter);
        assert_eq!(platform_of(r#"{"platform": 3}"#), Platform::Twitter);
        assert_eq!(platform_of("{}"), Platform::Twitter);
        assert_eq!(platform_of("null"), Platform::Twitter);
    }

    #[test]
    fn language_from_lang_or_language() {
        let lang_of =
            |meta: &str| parse(&format!(r#"{{"id": "1", "text": "x", "meta": {meta}}}"#)).language;
        assert_eq!(lang_of(r#"{"lang": "en"}"#).as_deref(), Some("en"));
        assert_eq!(lang_of(r#"{"language": "de"}"#).as_deref(), Some("de"));
        assert_eq!(
            lang_of(r#"{"lang": "", "language": "fr"}"#).as_deref(),
            Some("fr")
        );
        assert_eq!(lang_of(r#"{"lang": null}"#), None);
    }

    #[test]
    fn raw_only_when_asked() {
        let records = parse_record(r#"{"id": "1", "text": "x"}"#, &cx(false)).unwrap();
        match records.as_slice() {
            [Record::Post(p)] => assert_eq!(p.raw, None),
            other => panic!("expected one post, got {other:?}"),
        }
    }

    #[test]
    fn malformed_utterances_are_clear_errors() {
        let err = |json: &str| parse_record(json, &cx(true)).unwrap_err();
        assert_eq!(
            err(r#"{"speaker": "g", "text": "x"}"#),
            "utterance has no id"
        );
        assert_eq!(err(r#"{"id": null, "text": "x"}"#), "utterance has no id");
        assert_eq!(
            err(r#"{"id": "9", "speaker": "g"}"#),
            "utterance 9 has no text"
        );
        assert!(err(r#"{"id": "9", "text": 5}"#).contains("text is not a string"));
        assert!(err(r#"{"id": true, "text": "x"}"#).contains("id is not a string or integer"));
        assert!(err(r#"{"id": 1.5, "text": "x"}"#).contains("not a whole number"));
        assert!(err(r#"{"id": "1", "reply_to": [2], "text": "x"}"#).contains("reply_to"));
        assert!(err(r#"{"id": "1", "timestamp": "yesterday", "text": "x"}"#)
            .contains("unrecognised timestamp"));
        assert!(err(r#"{"id": "1", "timestamp": true, "text": "x"}"#).contains("timestamp"));
        assert!(err(r#"{"id": "1", "text": "x""#).starts_with("malformed ConvoKit utterance"));
        assert!(err(r#"["not", "an", "object"]"#).starts_with("malformed ConvoKit utterance"));
    }
}
