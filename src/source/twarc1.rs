//! twarc 1 JSONL: Twitter API v1.1 tweets, one per line, as `twarc search/filter/timeline`
//! wrote them before API v2 (and as many archives still hold them).
//!
//! A v1.1 tweet carries its author in `user` (`id_str`, `screen_name`, `name`) and its text in
//! `full_text` (extended mode), `extended_tweet.full_text` (streamed tweets over 140
//! characters) or `text`. A retweet holds the original in `retweeted_status`, a quote the quoted
//! tweet in `quoted_status`: both are tweets of their own and are emitted too, with `repost_of`
//! / `quote_of` on the outer one. A stream's `{"delete": …}` notice becomes a missing-tweet note;
//! `{"limit": …}` notices (how many tweets the stream dropped) carry no tweet and are skipped.

use super::format::{Match, Spec};
use super::twarc2::{tweet_url, unescape};
use super::Context;
use crate::model::{parse_time, Author, Missing, Platform, Post, Record};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

type Str<'a> = Cow<'a, str>;

#[derive(Deserialize)]
struct Tweet<'a> {
    #[serde(borrow, default)]
    id_str: Option<Str<'a>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(borrow, default)]
    created_at: Option<Str<'a>>,
    #[serde(borrow, default)]
    full_text: Option<Str<'a>>,
    #[serde(borrow, default)]
    text: Option<Str<'a>>,
    #[serde(borrow, default)]
    extended_tweet: Option<Extended<'a>>,
    #[serde(borrow, default)]
    user: Option<User<'a>>,
    #[serde(borrow, default)]
    in_reply_to_status_id_str: Option<Str<'a>>,
    #[serde(borrow, default)]
    in_reply_to_user_id_str: Option<Str<'a>>,
    #[serde(borrow, default)]
    quoted_status_id_str: Option<Str<'a>>,
    #[serde(borrow, default)]
    retweeted_status: Option<&'a RawValue>,
    #[serde(borrow, default)]
    quoted_status: Option<&'a RawValue>,
    #[serde(borrow, default)]
    lang: Option<Str<'a>>,
    #[serde(borrow, default)]
    entities: Option<Entities<'a>>,
    #[serde(borrow, default)]
    extended_entities: Option<ExtendedEntities<'a>>,
    #[serde(borrow, default)]
    delete: Option<Delete<'a>>,
    #[serde(borrow, default)]
    limit: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Extended<'a> {
    #[serde(borrow, default)]
    full_text: Option<Str<'a>>,
    #[serde(borrow, default)]
    entities: Option<Entities<'a>>,
    #[serde(borrow, default)]
    extended_entities: Option<ExtendedEntities<'a>>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow, default)]
    id_str: Option<Str<'a>>,
    #[serde(borrow, default)]
    screen_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
struct Entities<'a> {
    #[serde(borrow, default)]
    hashtags: Vec<Hashtag<'a>>,
    #[serde(borrow, default)]
    user_mentions: Vec<Mention<'a>>,
}

#[derive(Deserialize)]
struct Hashtag<'a> {
    #[serde(borrow)]
    text: Str<'a>,
}

#[derive(Deserialize)]
struct Mention<'a> {
    #[serde(borrow)]
    screen_name: Str<'a>,
}

#[derive(Deserialize)]
struct ExtendedEntities<'a> {
    #[serde(borrow, default)]
    media: Vec<Media<'a>>,
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow, default)]
    ext_alt_text: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Delete<'a> {
    #[serde(borrow)]
    status: DeletedStatus<'a>,
}

#[derive(Deserialize)]
struct DeletedStatus<'a> {
    #[serde(borrow, default)]
    id_str: Option<Str<'a>>,
    #[serde(default)]
    id: Option<u64>,
}

/// twarc 1 (API v1.1) tweets, as [`super::format`] knows them.
pub(super) const SPEC: Spec = Spec::json(classify, parse_record);

/// A tweet with its author inside (`id_str`, `user.screen_name`), or a stream's delete notice.
fn classify(o: &Map<String, Value>) -> Match {
    let tweet = o.contains_key("id_str")
        && o.get("user")
            .is_some_and(|u| u.get("screen_name").is_some());
    let delete = o.get("delete").is_some_and(|d| d.get("status").is_some());
    if tweet || delete {
        Match::Strong
    } else {
        Match::No
    }
}

/// Parse one line: a tweet (with the tweets it embeds), a delete notice, or a limit notice.
pub fn parse_record(json: &str, cx: &Context) -> Result<Vec<Record>, String> {
    if !json.trim_start().starts_with('{') {
        return Err("not a v1.1 tweet: expected a JSON object".into());
    }
    let mut out = Vec::new();
    // Embedded tweets are walked with an explicit stack: a quote of a retweet of a quote is
    // legal, and input must never be able to exhaust our stack.
    let mut stack: Vec<&str> = vec![json];
    while let Some(json) = stack.pop() {
        let t: Tweet = super::from_json(json)?;
        if let Some(d) = &t.delete {
            let id = id_of(d.status.id_str.as_deref(), d.status.id)
                .ok_or("delete notice without an id")?;
            out.push(Record::Missing(Missing {
                platform: Platform::Twitter,
                id,
                reason: "deleted (a stream delete notice)".into(),
                reply_to: None,
            }));
            continue;
        }
        if t.limit.is_some() && t.id_str.is_none() && t.id.is_none() {
            continue;
        }
        let id = id_of(t.id_str.as_deref(), t.id).ok_or("tweet without id_str")?;
        let mut post = Post::new(Platform::Twitter, id.clone());
        if let Some(u) = &t.user {
            post.author = Arc::new(Author {
                id: u.id_str.as_deref().map(str::to_string),
                handle: u.screen_name.as_deref().map(str::to_string),
                display_name: u
                    .name
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
                server: None,
            });
        }
        post.url = Some(tweet_url(post.author.handle.as_deref(), &id));
        if let Some(c) = t.created_at.as_deref() {
            post.created_at =
                Some(parse_time(c).ok_or_else(|| format!("tweet {id}: bad created_at {c:?}"))?);
        }
        let ext = t.extended_tweet.as_ref();
        let text = ext
            .and_then(|e| e.full_text.as_deref())
            .or(t.full_text.as_deref())
            .or(t.text.as_deref())
            .unwrap_or("");
        post.text = unescape(text);
        post.reply_to = t.in_reply_to_status_id_str.as_deref().map(str::to_string);
        post.reply_to_author = t.in_reply_to_user_id_str.as_deref().map(str::to_string);
        post.language = t.lang.as_deref().map(str::to_string);
        let entities = ext
            .and_then(|e| e.entities.as_ref())
            .or(t.entities.as_ref());
        if let Some(e) = entities {
            post.hashtags = e.hashtags.iter().map(|h| h.text.to_string()).collect();
            post.mentions = e
                .user_mentions
                .iter()
                .map(|m| m.screen_name.to_string())
                .collect();
        }
        let media = ext
            .and_then(|e| e.extended_entities.as_ref())
            .or(t.extended_entities.as_ref());
        if let Some(m) = media {
            post.media_alt = m
                .media
                .iter()
                .filter_map(|m| m.ext_alt_text.as_deref())
                .filter(|a| !a.trim().is_empty())
                .map(str::to_string)
                .collect();
        }
        if let Some(inner) = t.retweeted_status {
            post.repost_of = Some(embedded_id(inner)?);
            stack.push(inner.get());
        }
        if let Some(inner) = t.quoted_status {
            post.quote_of = Some(embedded_id(inner)?);
            stack.push(inner.get());
        } else {
            post.quote_of = t.quoted_status_id_str.as_deref().map(str::to_string);
        }
        post.raw = cx.raw(json);
        post.provenance = Some(cx.provenance());
        out.push(Record::Post(Box::new(post)));
    }
    Ok(out)
}

fn id_of(id_str: Option<&str>, id: Option<u64>) -> Option<String> {
    id_str
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| id.map(|n| n.to_string()))
}

fn embedded_id(inner: &RawValue) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Ids<'a> {
        #[serde(borrow, default)]
        id_str: Option<Str<'a>>,
        #[serde(default)]
        id: Option<u64>,
    }
    let ids: Ids = super::from_json(inner.get())?;
    id_of(ids.id_str.as_deref(), ids.id).ok_or_else(|| "embedded tweet without id_str".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Format;

    fn cx() -> Context {
        Context {
            source: Arc::from("t.jsonl"),
            line: 1,
            format: Format::Twarc1,
            keep_raw: true,
        }
    }

    fn posts(json: &str) -> Vec<Post> {
        parse_record(json, &cx())
            .unwrap()
            .into_iter()
            .filter_map(Record::into_post)
            .collect()
    }

    #[test]
    fn a_reply_with_extended_text_entities_and_alt_text() {
        let line = r#"{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":1050118621198921728,"id_str":"1050118621198921728",
            "text":"@AirlineX my bag &amp; I are in Oslo, it is in… https://t.co/x","truncated":true,
            "in_reply_to_status_id_str":"1050118000000000000","in_reply_to_user_id_str":"42","lang":"en",
            "user":{"id_str":"7","screen_name":"ana","name":"Ana B"},
            "extended_tweet":{"full_text":"@AirlineX my bag &amp; I are in Oslo, it is in Rome. #lostbag",
              "entities":{"hashtags":[{"text":"lostbag"}],"user_mentions":[{"screen_name":"AirlineX"}]},
              "extended_entities":{"media":[{"ext_alt_text":"a photo of a luggage belt"}]}}}"#;
        let p = &posts(line)[0];
        assert_eq!(p.id, "1050118621198921728");
        assert_eq!(
            p.text,
            "@AirlineX my bag & I are in Oslo, it is in Rome. #lostbag"
        );
        assert_eq!(p.reply_to.as_deref(), Some("1050118000000000000"));
        assert_eq!(p.reply_to_author.as_deref(), Some("42"));
        assert_eq!(p.author.handle.as_deref(), Some("ana"));
        assert_eq!(p.author.display_name.as_deref(), Some("Ana B"));
        assert_eq!(p.hashtags, ["lostbag"]);
        assert_eq!(p.mentions, ["AirlineX"]);
        assert_eq!(p.media_alt, ["a photo of a luggage belt"]);
        assert_eq!(
            p.url.as_deref(),
            Some("https://twitter.com/ana/status/1050118621198921728")
        );
        assert_eq!(
            crate::model::format_time(&p.created_at.unwrap()),
            "2018-10-10T20:19:24.000Z"
        );
        assert_eq!(p.raw.as_deref(), Some(line));
    }

    #[test]
    fn retweets_and_quotes_emit_the_tweets_they_hold() {
        let line = r#"{"id_str":"3","full_text":"RT @bo: hello","user":{"id_str":"1","screen_name":"ana"},
            "retweeted_status":{"id_str":"2","full_text":"hello","user":{"id_str":"9","screen_name":"bo"},
              "quoted_status":{"id_str":"1","full_text":"the original","user":{"id_str":"8","screen_name":"cy"}}}}"#;
        let ps = posts(line);
        let ids: Vec<&str> = ps.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["3", "2", "1"]);
        assert_eq!(ps[0].repost_of.as_deref(), Some("2"));
        assert_eq!(ps[1].quote_of.as_deref(), Some("1"));
        assert_eq!(ps[2].author.handle.as_deref(), Some("cy"));
    }

    #[test]
    fn stream_notices() {
        let r = parse_record(
            r#"{"delete":{"status":{"id":5,"id_str":"5","user_id":1}}}"#,
            &cx(),
        )
        .unwrap();
        assert!(matches!(&r[0], Record::Missing(m) if m.id == "5" && m.reason.contains("deleted")));
        assert!(
            parse_record(r#"{"limit":{"track":12,"timestamp_ms":"1"}}"#, &cx())
                .unwrap()
                .is_empty()
        );
        assert!(parse_record(r#"{"user":{}}"#, &cx()).is_err());
        assert!(parse_record("[1]", &cx()).is_err());
    }

    /// A value of the wrong type is named by its field and what was found there, not by the
    /// Rust type it failed to become (`expected u64`).
    #[test]
    fn a_wrong_value_is_named_by_its_field() {
        let cases = [
            (
                r#"{"id":"12","id_str":"12","full_text":"x"}"#,
                "`id`",
                "string \"12\"",
            ),
            (
                r#"{"id":-5,"id_str":"12","full_text":"x"}"#,
                "`id`",
                "integer `-5`",
            ),
            (
                r#"{"id_str":"1","full_text":"x","user":{"id_str":7}}"#,
                "`user.id_str`",
                "integer `7`",
            ),
            (
                r#"{"id_str":"1","entities":{"hashtags":[{"text":"a"},{"text":null}]}}"#,
                "`entities.hashtags[1].text`",
                "null",
            ),
            (
                r#"{"delete":{"status":{"id":"x"}}}"#,
                "`delete.status.id`",
                "string \"x\"",
            ),
        ];
        for (line, field, found) in cases {
            let err = parse_record(line, &cx()).unwrap_err();
            assert!(err.starts_with("unexpected JSON at "), "{err}");
            assert!(err.contains(field) && err.contains(found), "{line}: {err}");
            assert!(!err.contains("u64"), "{err}");
        }
        // Broken syntax is still named as such, with where.
        let err = parse_record(r#"{"id_str":"1","full_text":"x"#, &cx()).unwrap_err();
        assert!(err.starts_with("malformed JSON: EOF"), "{err}");
    }

    #[test]
    fn a_deep_quote_chain_is_walked_without_recursion() {
        let depth = 2_000;
        let mut json = String::from(r#"{"id_str":"0","text":"x"}"#);
        for i in 1..depth {
            json = format!(r#"{{"id_str":"{i}","text":"x","quoted_status":{json}}}"#);
        }
        // Every tweet of the chain, each quoting the next.
        let records = parse_record(&json, &cx()).unwrap();
        assert_eq!(records.len(), depth);
        assert!(matches!(&records[0], Record::Post(p) if p.quote_of.as_deref() == Some("1998")));
    }
}
