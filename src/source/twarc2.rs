//! twarc2 importer: Twitter API v2 data as researchers saved it with twarc2 (or with any tool
//! that keeps the API's JSON responses, such as academictwitteR).
//!
//! One input record (a JSONL line, or one element of a JSON array) is either a whole API
//! response page (`data`, the `includes` expansions, `errors`) or one tweet in twarc2's
//! flattened form, where the author and the referenced tweets are written inline. Both become
//! [`Post`]s: the tweets a page returned and also the tweets it only carried as expansions (the
//! parents, quotes and retweeted originals), because those are exactly the nodes thread
//! reconstruction needs. Tweets the API said it could not return become [`Missing`] records,
//! so that a gap in a thread can say why the parent is absent.
//!
//! Collections run to millions of tweets, so each record is parsed once, into typed structs
//! that borrow from the input and skip every field rethread does not use. The raw JSON of each
//! tweet, when the caller keeps it, costs a second light pass that only slices the input.

use super::format::{Match, Spec};
use super::Context;
use crate::model::{parse_time, Author, Missing, Platform, Post, Record};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// twarc2 pages and flattened tweets, as [`super::format`] knows them.
pub(super) const SPEC: Spec = Spec::json(classify, parse_record);

/// A response page (`data` with `includes`, `meta`, `errors` or twarc's `__twarc`) for
/// certain; a lone tweet (`id`, `text` and an author or conversation) only loosely, since
/// other formats' records have those fields too (a ConvoKit utterance has all of them).
fn classify(o: &Map<String, Value>) -> Match {
    let has = |k: &str| o.contains_key(k);
    if has("data") && (has("includes") || has("meta") || has("__twarc") || has("errors")) {
        Match::Strong
    } else if has("id")
        && has("text")
        && (has("author_id")
            || has("author")
            || has("edit_history_tweet_ids")
            || has("conversation_id"))
    {
        Match::Weak
    } else {
        Match::No
    }
}

/// Parse one twarc2 record (a page or a flattened tweet) into posts and missing-tweet notes.
pub fn parse_record(json: &str, cx: &Context) -> Result<Vec<Record>, String> {
    // A derived struct would also accept a JSON array (field by field); say plainly instead.
    if !json.trim_start().starts_with('{') {
        return Err("not a twarc2 page or tweet: expected a JSON object".into());
    }
    let top: Tweet = super::from_json(json)?;
    if top.is_page() {
        read_page(&top, json, cx)
    } else if top.has_text() {
        read_flattened(&top, json, cx)
    } else {
        Err("not a twarc2 page or tweet".into())
    }
}

/// Describe a serde_json error: broken syntax, or valid JSON of a shape a tweet cannot have.
pub(crate) fn json_error(e: serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Data => format!("unexpected JSON: {e}"),
        _ => format!("malformed JSON: {e}"),
    }
}

/// The API HTML-escapes exactly `&`, `<` and `>` in tweet text; undo those three and nothing
/// else. One left-to-right pass gives the same result as replacing `&lt;` and `&gt;` first and
/// `&amp;` last: a `&` produced from `&amp;` is never read again, so `&amp;lt;` stays `&lt;`.
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (ch, len) = if tail.starts_with("&amp;") {
            ('&', 5)
        } else if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else {
            ('&', 1)
        };
        out.push(ch);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// A link a person can open. Without the author's username Twitter's `i/web` form still works.
pub(crate) fn tweet_url(username: Option<&str>, id: &str) -> String {
    Platform::Twitter
        .post_link(username, id)
        .expect("Twitter links are built from any id")
}

/// A JSON string, borrowed from the input unless it contains escapes. The newtype is needed
/// because serde only borrows a `Cow` it sees as a field; inside `Option` or `Vec` it copies.
#[derive(Deserialize)]
pub(crate) struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

impl Str<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Any object a twarc2 record may hold: a tweet, or (at the top level) a response page.
///
/// Page keys and tweet keys never overlap, so one struct reads either shape in a single pass
/// instead of trying one shape and then the other. The same struct also reads what a page's
/// `data` may hold besides tweets (users, lists, count buckets): those have no `text` and are
/// passed over.
#[derive(Deserialize)]
struct Tweet<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    /// Long tweets: `text` is cut at 280 characters, the whole text and its entities are here.
    #[serde(borrow)]
    note_tweet: Option<NoteTweet<'a>>,
    #[serde(borrow)]
    author_id: Option<Str<'a>>,
    /// Flattened form only: the expanded author.
    #[serde(borrow)]
    author: Option<User<'a>>,
    #[serde(borrow)]
    created_at: Option<Str<'a>>,
    #[serde(borrow)]
    conversation_id: Option<Str<'a>>,
    #[serde(borrow)]
    in_reply_to_user_id: Option<Str<'a>>,
    #[serde(borrow)]
    lang: Option<Str<'a>>,
    /// `{type, id}` links; in the flattened form they also carry the referenced tweet's fields.
    #[serde(borrow)]
    referenced_tweets: Option<Vec<Tweet<'a>>>,
    /// The reference type (`replied_to`, `quoted`, `retweeted`) when this is such a link.
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    entities: Option<Entities<'a>>,
    #[serde(borrow)]
    attachments: Option<Attachments<'a>>,

    // Page keys, present only on a top-level response page.
    #[serde(borrow)]
    data: Option<Data<'a>>,
    #[serde(borrow)]
    includes: Option<Includes<'a>>,
    #[serde(borrow)]
    errors: Option<Vec<ApiError<'a>>>,
    meta: Option<IgnoredAny>,
}

impl Tweet<'_> {
    /// Any page key makes this a response page, even without `data` (an empty search result,
    /// or a page of nothing but errors).
    fn is_page(&self) -> bool {
        self.data.is_some()
            || self.includes.is_some()
            || self.errors.is_some()
            || self.meta.is_some()
    }

    fn has_text(&self) -> bool {
        self.text.is_some() || self.note_tweet.as_ref().is_some_and(|n| n.text.is_some())
    }
}

#[derive(Deserialize)]
struct NoteTweet<'a> {
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    entities: Option<Entities<'a>>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    username: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Entities<'a> {
    #[serde(borrow)]
    hashtags: Option<Vec<Hashtag<'a>>>,
    #[serde(borrow)]
    mentions: Option<Vec<Mention<'a>>>,
}

#[derive(Deserialize)]
struct Hashtag<'a> {
    #[serde(borrow)]
    tag: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Mention<'a> {
    #[serde(borrow)]
    username: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Attachments<'a> {
    #[serde(borrow)]
    media_keys: Option<Vec<Str<'a>>>,
    /// Flattened form only: the expanded media objects.
    #[serde(borrow)]
    media: Option<Vec<Media<'a>>>,
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow)]
    media_key: Option<Str<'a>>,
    #[serde(borrow)]
    alt_text: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Includes<'a> {
    #[serde(borrow)]
    users: Option<Vec<User<'a>>>,
    #[serde(borrow)]
    tweets: Option<Vec<Tweet<'a>>>,
    #[serde(borrow)]
    media: Option<Vec<Media<'a>>>,
}

/// One entry of a page's `errors`. `resource_id` and `value` are kept raw because only the
/// tweet errors need them, and a stray non-string there should not sink the whole page.
#[derive(Deserialize)]
struct ApiError<'a> {
    #[serde(borrow)]
    resource_type: Option<Str<'a>>,
    #[serde(borrow)]
    parameter: Option<Str<'a>>,
    #[serde(borrow)]
    resource_id: Option<&'a RawValue>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    detail: Option<Str<'a>>,
}

/// A page's `data`: an array, or a single tweet (tweet lookup by id, the filtered stream).
struct Data<'a>(Vec<Tweet<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A hand-written visitor rather than `#[serde(untagged)]`, which would first copy the
        // whole value into an owned buffer and lose the borrowing.
        struct DataVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for DataVisitor<'a> {
            type Value = Data<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tweet or an array of tweets")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data<'a>, A::Error> {
                let mut tweets = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(t) = seq.next_element()? {
                    tweets.push(t);
                }
                Ok(Data(tweets))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Data<'a>, A::Error> {
                let one = Tweet::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Data(vec![one]))
            }
        }
        deserializer.deserialize_any(DataVisitor(std::marker::PhantomData))
    }
}

/// The raw text of the same tweets, in the same order, for `Post.raw`. Read only when the
/// caller keeps raw JSON; `RawValue` slices the input without building anything.
#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    includes: Option<RawIncludes<'a>>,
}

#[derive(Deserialize)]
struct RawIncludes<'a> {
    #[serde(borrow)]
    tweets: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct RawRefs<'a> {
    #[serde(borrow)]
    referenced_tweets: Option<Vec<&'a RawValue>>,
}

/// Page-wide lookup by id, built once per record: a sorted Vec, so indexing a page with two
/// users costs next to nothing and one with hundreds is still a binary search.
struct Index<'t, T>(Vec<(&'t str, &'t T)>);

impl<'t, T> Index<'t, T> {
    fn new(items: impl Iterator<Item = (&'t str, &'t T)>) -> Self {
        let mut v: Vec<_> = items.collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Index(v)
    }

    fn get(&self, key: &str) -> Option<&'t T> {
        let i = self.0.binary_search_by(|(k, _)| (*k).cmp(key)).ok()?;
        Some(self.0[i].1)
    }
}

/// Ids already emitted from this record. A flattened line holds one to three tweets, where a
/// Vec scan beats hashing; a page holds hundreds, so it gets a set, built once.
enum Seen<'t> {
    Few(Vec<&'t str>),
    Many(HashSet<&'t str>),
}

impl<'t> Seen<'t> {
    fn with_capacity(n: usize) -> Self {
        if n <= 16 {
            Seen::Few(Vec::with_capacity(n))
        } else {
            Seen::Many(HashSet::with_capacity(n))
        }
    }

    /// True the first time an id is offered.
    fn insert(&mut self, id: &'t str) -> bool {
        match self {
            Seen::Few(v) if v.contains(&id) => false,
            Seen::Few(v) => {
                v.push(id);
                true
            }
            Seen::Many(s) => s.insert(id),
        }
    }
}

/// A tweet waiting to become a post, with its raw JSON when the caller keeps it.
type Pending<'t> = (&'t Tweet<'t>, Option<&'t str>);

fn read_page<'t>(page: &'t Tweet<'t>, json: &'t str, cx: &Context) -> Result<Vec<Record>, String> {
    let no_tweets: &[Tweet] = &[];
    let data = page.data.as_ref().map_or(no_tweets, |d| &d.0);
    let includes = page.includes.as_ref();
    let included = includes
        .and_then(|i| i.tweets.as_deref())
        .unwrap_or(no_tweets);
    let users = Index::new(
        includes
            .and_then(|i| i.users.as_deref())
            .unwrap_or_default()
            .iter()
            .filter_map(|u| Some((u.id.as_ref()?.as_str(), u))),
    );
    let media = Index::new(
        includes
            .and_then(|i| i.media.as_deref())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| Some((m.media_key.as_ref()?.as_str(), m))),
    );

    let (data_raw, included_raw) = if cx.keep_raw {
        raw_page(json)
    } else {
        (Vec::new(), Vec::new())
    };
    // Data first, so that a tweet both returned and expanded is read from `data`.
    let mut work: Vec<Pending> = Vec::with_capacity(data.len() + included.len());
    work.extend(
        data.iter()
            .enumerate()
            .map(|(i, t)| (t, data_raw.get(i).copied())),
    );
    work.extend(
        included
            .iter()
            .enumerate()
            .map(|(i, t)| (t, included_raw.get(i).copied())),
    );

    let mut seen = Seen::with_capacity(work.len());
    let mut out = emit(work, &users, &media, &mut seen, cx)?;
    for e in page.errors.as_deref().unwrap_or_default() {
        if let Some(m) = missing(e) {
            // A tweet the page did return is not missing, and one error per id is enough.
            if seen.insert(m.0) {
                out.push(Record::Missing(Missing {
                    platform: Platform::Twitter,
                    id: m.0.to_owned(),
                    reason: m.1,
                    reply_to: None,
                }));
            }
        }
    }
    Ok(out)
}

fn read_flattened<'t>(
    tweet: &'t Tweet<'t>,
    json: &'t str,
    cx: &Context,
) -> Result<Vec<Record>, String> {
    let raw = cx.keep_raw.then_some(json);
    let mut seen = Seen::with_capacity(4);
    emit(
        vec![(tweet, raw)],
        &Index(Vec::new()),
        &Index(Vec::new()),
        &mut seen,
        cx,
    )
}

/// Turn the pending tweets into posts, in order, adding the inline referenced tweets that carry
/// their own text (flattened form) as they come. A worklist, not recursion: a retweet of a
/// quote nests two levels deep in practice, but the data decides, not the stack.
fn emit<'t>(
    mut work: Vec<Pending<'t>>,
    users: &Index<'t, User<'t>>,
    media: &Index<'t, Media<'t>>,
    seen: &mut Seen<'t>,
    cx: &Context,
) -> Result<Vec<Record>, String> {
    let mut out = Vec::with_capacity(work.len());
    let mut next = 0;
    while let Some(&(tweet, raw)) = work.get(next) {
        next += 1;
        if !tweet.has_text() {
            // Users, lists, count buckets in `data`, or a bare `{type, id}` link.
            continue;
        }
        let id = tweet.id.as_ref().ok_or("tweet without id")?.as_str();
        if let Some(refs) = tweet.referenced_tweets.as_deref() {
            if refs.iter().any(Tweet::has_text) {
                let refs_raw = raw.map(ref_raws).unwrap_or_default();
                work.extend(
                    refs.iter()
                        .enumerate()
                        .map(|(i, r)| (r, refs_raw.get(i).copied())),
                );
            }
        }
        if seen.insert(id) {
            let post = to_post(tweet, id, users, media, raw, cx)?;
            out.push(Record::Post(Box::new(post)));
        }
    }
    Ok(out)
}

/// The raw text of a page's `data` tweets and `includes.tweets`, in order. The typed pass has
/// already read the same text, so a failure here cannot happen; it would only lose `raw`.
fn raw_page(json: &str) -> (Vec<&str>, Vec<&str>) {
    let Ok(page) = serde_json::from_str::<RawPage>(json) else {
        return (Vec::new(), Vec::new());
    };
    let data = match page.data.map(RawValue::get) {
        Some(d) if d.starts_with('[') => serde_json::from_str::<Vec<&RawValue>>(d)
            .map(|v| v.into_iter().map(RawValue::get).collect())
            .unwrap_or_default(),
        Some(d) => vec![d],
        None => Vec::new(),
    };
    let included = page
        .includes
        .and_then(|i| i.tweets)
        .map(|v| v.into_iter().map(RawValue::get).collect())
        .unwrap_or_default();
    (data, included)
}

/// The raw text of a flattened tweet's inline referenced tweets, in order.
fn ref_raws(json: &str) -> Vec<&str> {
    serde_json::from_str::<RawRefs>(json)
        .ok()
        .and_then(|r| r.referenced_tweets)
        .map(|v| v.into_iter().map(RawValue::get).collect())
        .unwrap_or_default()
}

fn to_post(
    tweet: &Tweet,
    id: &str,
    users: &Index<User>,
    media: &Index<Media>,
    raw: Option<&str>,
    cx: &Context,
) -> Result<Post, String> {
    let author_id = tweet.author_id.as_ref().map(Str::as_str);
    // The inline author (flattened form) or the page's expansion of `author_id`.
    let user = tweet
        .author
        .as_ref()
        .or_else(|| author_id.and_then(|a| users.get(a)));
    let handle = user.and_then(|u| u.username.as_ref()).map(Str::as_str);

    let mut post = Post::new(Platform::Twitter, id);
    post.url = Some(tweet_url(handle, id));
    post.author = std::sync::Arc::new(Author {
        id: author_id
            .or_else(|| user.and_then(|u| u.id.as_ref()).map(Str::as_str))
            .map(str::to_owned),
        handle: handle.map(str::to_owned),
        display_name: user
            .and_then(|u| u.name.as_ref())
            .map(|n| n.as_str().to_owned()),
        server: None,
    });
    // A time that is there but cannot be read is bad input, as in every importer: kept as
    // unknown, it would hide a year-10000 time or a new time format.
    post.created_at = match tweet.created_at.as_ref().map(Str::as_str) {
        Some(t) if !t.trim().is_empty() => {
            Some(parse_time(t).ok_or_else(|| format!("tweet {id}: bad created_at {t:?}"))?)
        }
        _ => None,
    };

    // A long tweet's `text` is a truncated prefix and its entities cover only that prefix.
    let note = tweet.note_tweet.as_ref().filter(|n| n.text.is_some());
    let text = note.and_then(|n| n.text.as_ref()).or(tweet.text.as_ref());
    post.text = text.map(|t| unescape(t.as_str())).unwrap_or_default();
    let entities = match note {
        Some(n) => n.entities.as_ref(),
        None => tweet.entities.as_ref(),
    };
    if let Some(e) = entities {
        post.hashtags = (e.hashtags.iter().flatten())
            .filter_map(|h| owned(&h.tag))
            .collect();
        post.mentions = (e.mentions.iter().flatten())
            .filter_map(|m| owned(&m.username))
            .collect();
    }

    for r in tweet.referenced_tweets.as_deref().unwrap_or_default() {
        let (Some(kind), Some(target)) = (&r.kind, &r.id) else {
            continue;
        };
        let slot = match kind.as_str() {
            "replied_to" => &mut post.reply_to,
            "quoted" => &mut post.quote_of,
            "retweeted" => &mut post.repost_of,
            _ => continue,
        };
        slot.get_or_insert_with(|| target.as_str().to_owned());
    }
    post.reply_to_author = owned(&tweet.in_reply_to_user_id);
    post.conversation_id = owned(&tweet.conversation_id);
    post.language = owned(&tweet.lang);

    if let Some(a) = &tweet.attachments {
        let inline = a.media.as_deref().unwrap_or_default().iter();
        let keyed = (a.media_keys.as_deref().unwrap_or_default().iter())
            .filter_map(|k| media.get(k.as_str()));
        post.media_alt = inline
            .chain(keyed)
            .filter_map(|m| m.alt_text.as_ref())
            .filter(|t| !t.as_str().is_empty())
            .map(|t| t.as_str().to_owned())
            .collect();
    }

    post.raw = raw.and_then(|r| cx.raw(r));
    post.provenance = Some(cx.provenance());
    Ok(post)
}

fn owned(s: &Option<Str>) -> Option<String> {
    s.as_ref().map(|s| s.as_str().to_owned())
}

/// The id and reason of an error about a tweet. Errors about users (a suspended account that
/// was mentioned) say nothing about the thread and are dropped.
fn missing<'t>(e: &'t ApiError) -> Option<(&'t str, String)> {
    let about_tweet = match e.resource_type.as_ref().map(Str::as_str) {
        Some(kind) => kind == "tweet",
        None => e.parameter.as_ref().is_some_and(|p| {
            let p = p.as_str();
            p.starts_with("referenced_tweets.id") || p.starts_with("ids")
        }),
    };
    if !about_tweet {
        return None;
    }
    let string = |v: Option<&'t RawValue>| -> Option<&'t str> {
        let s: &str = serde_json::from_str(v?.get()).ok()?;
        // A note that names no tweet says nothing about a thread.
        Some(s).filter(|s| !s.trim().is_empty())
    };
    let id = string(e.resource_id).or_else(|| string(e.value))?;
    let reason = match (&e.title, &e.detail) {
        (Some(t), Some(d)) => format!("{}: {}", t.as_str(), d.as_str()),
        (Some(s), None) | (None, Some(s)) => s.as_str().to_owned(),
        (None, None) => "unavailable".to_owned(),
    };
    Some((id, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::format_time;
    use crate::source::Format;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    fn cx(keep_raw: bool) -> Context {
        Context {
            source: Arc::from("test.jsonl"),
            line: 7,
            format: Format::Twarc2,
            keep_raw,
        }
    }

    /// Posts and missing ids of one record, raw JSON kept or not.
    fn read(json: &str, keep_raw: bool) -> (Vec<Post>, Vec<Missing>) {
        let mut posts = Vec::new();
        let mut missing = Vec::new();
        for r in parse_record(json, &cx(keep_raw)).unwrap() {
            match r {
                Record::Post(p) => posts.push(*p),
                Record::Missing(m) => missing.push(m),
            }
        }
        (posts, missing)
    }

    fn posts(json: &str) -> Vec<Post> {
        read(json, false).0
    }

    fn ids(posts: &[Post]) -> Vec<&str> {
        posts.iter().map(|p| p.id.as_str()).collect()
    }

    fn error(json: &str) -> String {
        parse_record(json, &cx(false)).unwrap_err()
    }

    const REPLY: &str = r##"{"id":"100","text":"@bob hi &amp; welcome &lt;3 #Rust\nhttps://t.co/x","author_id":"1","created_at":"2021-06-01T12:00:00.000Z","conversation_id":"90","lang":"en","in_reply_to_user_id":"2","referenced_tweets":[{"type":"replied_to","id":"90"},{"type":"quoted","id":"80"}],"entities":{"hashtags":[{"start":27,"end":32,"tag":"Rust"}],"mentions":[{"start":0,"end":4,"username":"bob","id":"2"}]},"attachments":{"media_keys":["3_1","3_2","3_3"]},"public_metrics":{"like_count":1}}"##;
    const RETWEET: &str = r#"{"id":"101","text":"RT @bob: original","author_id":"3","referenced_tweets":[{"type":"retweeted","id":"90"}]}"#;
    const PARENT: &str = r#"{"id":"90","text":"original","author_id":"2","conversation_id":"90"}"#;

    fn page() -> String {
        format!(
            r#"{{"data":[{REPLY},{RETWEET}],
            "includes":{{
              "users":[{{"id":"2","username":"bob","name":"Bob"}},{{"id":"1","username":"alice","name":"Alice A."}}],
              "tweets":[{PARENT},{{"id":"80","text":"quoted","author_id":"9"}},{{"id":"100","text":"again, from includes","author_id":"1"}}],
              "media":[{{"media_key":"3_1","type":"photo","alt_text":"a cat"}},{{"media_key":"3_2","type":"photo"}},{{"media_key":"3_3","alt_text":""}}]}},
            "errors":[
              {{"resource_id":"70","parameter":"referenced_tweets.id","resource_type":"tweet","title":"Not Found Error","detail":"Could not find tweet 70.","value":"70"}},
              {{"resource_id":"carol","parameter":"entities.mentions.username","resource_type":"user","title":"Forbidden","detail":"User has been suspended."}},
              {{"value":"71","parameter":"ids","title":"Authorization Error","detail":"Sorry."}},
              {{"resource_id":"90","resource_type":"tweet","title":"Not Found Error"}}],
            "meta":{{"result_count":2}},
            "__twarc":{{"url":"https://api.twitter.com/2/tweets/search/all","version":"2.10.0"}}}}"#
        )
    }

    #[test]
    fn page_tweets_and_expansions_become_posts() {
        let (posts, _) = read(&page(), false);
        // Data first, then includes; tweet 100 appears in both and is read from data once.
        assert_eq!(ids(&posts), ["100", "101", "90", "80"]);
        let p = &posts[0];
        assert_eq!(p.platform, Platform::Twitter);
        assert_eq!(
            p.url.as_deref(),
            Some("https://twitter.com/alice/status/100")
        );
        assert_eq!(p.uri, None);
        assert_eq!(p.author.id.as_deref(), Some("1"));
        assert_eq!(p.author.handle.as_deref(), Some("alice"));
        assert_eq!(p.author.display_name.as_deref(), Some("Alice A."));
        assert_eq!(p.author.server, None);
        assert_eq!(
            format_time(&p.created_at.unwrap()),
            "2021-06-01T12:00:00.000Z"
        );
        assert_eq!(p.text, "@bob hi & welcome <3 #Rust\nhttps://t.co/x");
        assert_eq!(p.reply_to.as_deref(), Some("90"));
        assert_eq!(p.reply_to_author.as_deref(), Some("2"));
        assert_eq!(p.quote_of.as_deref(), Some("80"));
        assert_eq!(p.repost_of, None);
        assert_eq!(p.conversation_id.as_deref(), Some("90"));
        assert_eq!(p.language.as_deref(), Some("en"));
        assert_eq!(p.hashtags, ["Rust"]);
        assert_eq!(p.mentions, ["bob"]);
        // 3_2 has no alt text and 3_3 an empty one.
        assert_eq!(p.media_alt, ["a cat"]);
        assert_eq!((&p.visibility, &p.content_warning), (&None, &None));
        assert_eq!(p.raw, None);
        let prov = p.provenance.as_ref().unwrap();
        assert_eq!(
            (&*prov.source, prov.line, prov.format),
            ("test.jsonl", 7, "twarc2")
        );
    }

    #[test]
    fn reference_types_map_to_reply_quote_and_repost() {
        let posts = posts(&page());
        let rt = &posts[1];
        assert_eq!(rt.repost_of.as_deref(), Some("90"));
        assert_eq!((&rt.reply_to, &rt.quote_of), (&None, &None));
        // An author the page did not expand: id only, and the i/web link.
        assert_eq!(rt.author.id.as_deref(), Some("3"));
        assert_eq!(rt.author.handle, None);
        assert_eq!(
            rt.url.as_deref(),
            Some("https://twitter.com/i/web/status/101")
        );
        let parent = &posts[2];
        assert_eq!(parent.author.handle.as_deref(), Some("bob"));
        assert_eq!(parent.reply_to, None);
        assert_eq!(
            posts[3].url.as_deref(),
            Some("https://twitter.com/i/web/status/80")
        );
    }

    #[test]
    fn tweet_errors_become_missing_and_user_errors_are_dropped() {
        let (_, missing) = read(&page(), false);
        // 90 is in the errors too, but the page did return it: not missing.
        let want = [
            ("70", "Not Found Error: Could not find tweet 70."),
            ("71", "Authorization Error: Sorry."),
        ];
        let got: Vec<_> = missing
            .iter()
            .map(|m| (m.id.as_str(), m.reason.as_str()))
            .collect();
        assert_eq!(got, want);
        assert!(missing.iter().all(|m| m.platform == Platform::Twitter));
    }

    #[test]
    fn errors_only_page_yields_missing() {
        let json = r#"{"errors":[{"value":"5","detail":"Could not find tweet with ids: [5].","title":"Not Found Error","resource_type":"tweet","parameter":"ids","resource_id":"5"},{"value":"5","resource_type":"tweet","resource_id":"5","title":"Not Found Error"}]}"#;
        let (posts, missing) = read(json, false);
        assert!(posts.is_empty());
        assert_eq!(missing.len(), 1, "one record per id");
        assert_eq!(
            missing[0].reason,
            "Not Found Error: Could not find tweet with ids: [5]."
        );
    }

    #[test]
    fn raw_is_each_tweet_object_alone() {
        let page = page();
        let (posts, _) = read(&page, true);
        assert_eq!(posts[0].raw.as_deref(), Some(REPLY));
        assert_eq!(posts[1].raw.as_deref(), Some(RETWEET));
        assert_eq!(posts[2].raw.as_deref(), Some(PARENT));
        let single =
            format!(r#"{{"data": {PARENT}, "matching_rules": [{{"id": "1", "tag": "t"}}]}}"#);
        assert_eq!(read(&single, true).0[0].raw.as_deref(), Some(PARENT));
        assert_eq!(read(PARENT, true).0[0].raw.as_deref(), Some(PARENT));
    }

    const INLINE_QUOTE: &str =
        r#"{"type":"quoted","id":"120","text":"the quoted one","author_id":"7"}"#;

    fn flattened() -> (String, String) {
        let original = format!(
            r#"{{"type":"retweeted","id":"150","text":"long &gt; short","author_id":"6","author":{{"id":"6","username":"carol","name":"Carol","public_metrics":{{"followers_count":3}}}},"referenced_tweets":[{INLINE_QUOTE}],"attachments":{{"media_keys":["3_9"],"media":[{{"media_key":"3_9","type":"photo","alt_text":"a chart"}}]}}}}"#
        );
        let line = format!(
            r#"{{"id":"200","text":"RT @carol: long &gt; short","author_id":"5","author":{{"id":"5","username":"dave","name":"Dave"}},"created_at":"2021-06-02T08:00:00.000Z","referenced_tweets":[{original}],"__twarc":{{"url":"https://api.twitter.com/2/tweets/search/recent","version":"2.10.0"}}}}"#
        );
        (line, original)
    }

    #[test]
    fn flattened_line_uses_inline_author_and_references() {
        let (line, _) = flattened();
        let posts = posts(&line);
        assert_eq!(ids(&posts), ["200", "150", "120"]);
        let (rt, original, quoted) = (&posts[0], &posts[1], &posts[2]);
        assert_eq!(rt.author.handle.as_deref(), Some("dave"));
        assert_eq!(rt.author.display_name.as_deref(), Some("Dave"));
        assert_eq!(
            rt.url.as_deref(),
            Some("https://twitter.com/dave/status/200")
        );
        assert_eq!(rt.repost_of.as_deref(), Some("150"));
        assert_eq!(original.author.handle.as_deref(), Some("carol"));
        assert_eq!(original.text, "long > short");
        assert_eq!(original.quote_of.as_deref(), Some("120"));
        assert_eq!(original.media_alt, ["a chart"]);
        assert_eq!(quoted.author.id.as_deref(), Some("7"));
        assert_eq!(quoted.author.handle, None);
    }

    #[test]
    fn flattened_raw_is_the_line_and_each_inline_tweet() {
        let (line, original) = flattened();
        let posts = read(&line, true).0;
        assert_eq!(posts[0].raw.as_deref(), Some(line.as_str()));
        assert_eq!(posts[1].raw.as_deref(), Some(original.as_str()));
        assert_eq!(posts[2].raw.as_deref(), Some(INLINE_QUOTE));
    }

    #[test]
    fn bare_tweet_without_expansions() {
        let json = r#"{"id":"300","text":"hello","author_id":"8","edit_history_tweet_ids":["300"],"conversation_id":"300"}"#;
        let posts = posts(json);
        assert_eq!(ids(&posts), ["300"]);
        assert_eq!(posts[0].author.id.as_deref(), Some("8"));
        assert_eq!(posts[0].author.handle, None);
        assert_eq!(
            posts[0].url.as_deref(),
            Some("https://twitter.com/i/web/status/300")
        );
    }

    #[test]
    fn note_tweet_gives_the_full_text_and_its_entities() {
        let json = r#"{"id":"400","text":"the start of a long…","author_id":"1","entities":{"hashtags":[{"tag":"cut"}]},"note_tweet":{"text":"the start of a long tweet &amp; #more","entities":{"hashtags":[{"start":30,"end":35,"tag":"more"}]}}}"#;
        let p = &posts(json)[0];
        assert_eq!(p.text, "the start of a long tweet & #more");
        assert_eq!(p.hashtags, ["more"]);
    }

    #[test]
    fn unescapes_only_amp_lt_gt_with_amp_last() {
        assert_eq!(unescape("a &amp;lt; b"), "a &lt; b");
        assert_eq!(unescape("x &lt;y&gt; &amp;&amp; z"), "x <y> && z");
        assert_eq!(
            unescape("&quot;q&quot; &#39; & &am &"),
            "&quot;q&quot; &#39; & &am &"
        );
        assert_eq!(
            unescape("line\nnext @bob https://t.co/a?b=1&c=2"),
            "line\nnext @bob https://t.co/a?b=1&c=2"
        );
        assert_eq!(unescape("über &gt; ünder"), "über > ünder");
    }

    #[test]
    fn each_id_once_per_record_data_first() {
        let json = r#"{"data":[{"id":"1","text":"a"},{"id":"1","text":"b"}],"includes":{"tweets":[{"id":"1","text":"c"},{"id":"2","text":"d"}]}}"#;
        let posts = posts(json);
        assert_eq!(ids(&posts), ["1", "2"]);
        assert_eq!(posts[0].text, "a");

        // A page big enough to be deduplicated with a set rather than a scan.
        let tweet = |i: u32, s: &str| format!(r#"{{"id":"{i}","text":"{s}"}}"#);
        let data: Vec<_> = (0..40).map(|i| tweet(i, "data")).collect();
        let included: Vec<_> = (20..60).map(|i| tweet(i, "inc")).collect();
        let json = format!(
            r#"{{"data":[{}],"includes":{{"tweets":[{}]}}}}"#,
            data.join(","),
            included.join(",")
        );
        let posts = self::posts(&json);
        assert_eq!(posts.len(), 60);
        assert!(posts[..40].iter().all(|p| p.text == "data"));
        assert!(posts[40..].iter().all(|p| p.text == "inc"));
    }

    #[test]
    fn single_tweet_data_from_the_stream() {
        let json = r#"{"data":{"id":"500","text":"streamed","author_id":"1"},"includes":{"users":[{"id":"1","username":"alice","name":"Alice"}]},"matching_rules":[{"id":"9","tag":"t"}]}"#;
        let posts = posts(json);
        assert_eq!(ids(&posts), ["500"]);
        assert_eq!(posts[0].author.handle.as_deref(), Some("alice"));
    }

    #[test]
    fn pages_without_tweets_yield_nothing() {
        for json in [
            r#"{"meta":{"result_count":0},"__twarc":{"url":"u"}}"#,
            r#"{"data":[{"end":"2021-10-16T19:00:00.000Z","start":"2021-10-16T18:00:00.000Z","tweet_count":39}],"meta":{"total_tweet_count":39}}"#,
            r#"{"data":[{"id":"1","username":"alice","name":"Alice","public_metrics":{"tweet_count":3}}]}"#,
            r#"{"data":[{"id":"1","name":"a list","private":false,"member_count":3}],"meta":{}}"#,
            r#"{"data":null,"includes":{}}"#,
            r#"{"data":[]}"#,
        ] {
            assert_eq!(read(json, false), (vec![], vec![]), "{json}");
        }
    }

    #[test]
    fn malformed_records_are_clear_errors() {
        let cases = [
            (r#"{"data": [{"id": "1", "text": "x"}"#, "malformed JSON"),
            (r#"{"id":"1","text":"x"} trailing"#, "malformed JSON"),
            ("[1, 2]", "not a twarc2 page or tweet"),
            (r#"{"foo": 1}"#, "not a twarc2 page or tweet"),
            (
                r#"{"id":"1","action":"delete","reason":"deleted"}"#,
                "not a twarc2 page or tweet",
            ),
            (r#"{"text":"x","author_id":"1"}"#, "tweet without id"),
            (r#"{"data":[{"text":"no id"}]}"#, "tweet without id"),
            (
                r#"{"id":"1","text":"x","referenced_tweets":[{"type":"quoted","text":"y"}]}"#,
                "tweet without id",
            ),
            (r#"{"data":"x"}"#, "unexpected JSON"),
            (r#"{"id":5,"text":"x"}"#, "unexpected JSON"),
        ];
        for (json, want) in cases {
            let err = error(json);
            assert!(err.starts_with(want), "{json}: {err}");
        }
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let t: Tweet = serde_json::from_str(r#"{"id":"1","text":"plain","lang":"a\nb"}"#).unwrap();
        assert!(matches!(t.text.unwrap().0, Cow::Borrowed(_)));
        assert!(matches!(t.lang.unwrap().0, Cow::Owned(_)));
    }

    // Real data: the twarc-csv test files and academictwitteR's recorded API responses.

    fn shared_data() -> Option<PathBuf> {
        let dir = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/twitter_v2"
        ));
        if dir.is_dir() {
            Some(dir.to_path_buf())
        } else {
            eprintln!("skipping: ../shared/data not found");
            None
        }
    }

    /// Files in those folders that hold no tweets (users, compliance results, counts, lists).
    const NOT_TWEETS: [&str; 5] = [
        "users.jsonl",
        "tweets_compliance.jsonl",
        "users_compliance.jsonl",
        "counts.jsonl",
        "lists.jsonl",
    ];

    /// Every tweet file, sorted, with its non-blank lines (1-based numbers).
    fn real_files(dir: &Path) -> Vec<(String, Vec<(usize, String)>)> {
        let mut out = Vec::new();
        for sub in ["twarc-csv_test-data", "academictwitteR"] {
            let mut paths: Vec<_> = std::fs::read_dir(dir.join(sub))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                .collect();
            paths.sort();
            for path in paths {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if NOT_TWEETS.contains(&name.as_str()) {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let lines = (text.lines().enumerate())
                    .filter(|(_, l)| !l.trim().is_empty())
                    .map(|(i, l)| (i + 1, l.to_owned()))
                    .collect();
                out.push((format!("{sub}/{name}"), lines));
            }
        }
        out
    }

    #[test]
    fn real_files_parse_line_by_line() {
        let Some(dir) = shared_data() else { return };
        let (mut posts, mut missing, mut truncated) = (0, 0, 0);
        for (name, lines) in real_files(&dir) {
            let mut file_posts = 0;
            for (n, line) in lines {
                let result = parse_record(&line, &cx(true));
                // streaming_output_with_error.jsonl ends in a line cut off mid-object.
                if serde_json::from_str::<&RawValue>(&line).is_err() {
                    let err = result.unwrap_err();
                    assert!(err.starts_with("malformed JSON"), "{name}:{n}: {err}");
                    truncated += 1;
                    continue;
                }
                for r in result.unwrap_or_else(|e| panic!("{name}:{n}: {e}")) {
                    match r {
                        Record::Post(p) => {
                            assert!(
                                p.raw.as_deref().is_some_and(|r| line.contains(r)),
                                "{name}:{n}"
                            );
                            file_posts += 1;
                        }
                        Record::Missing(_) => missing += 1,
                    }
                }
            }
            eprintln!("{name}: {file_posts} posts");
            assert!(file_posts > 0, "{name}");
            posts += file_posts;
        }
        eprintln!("total: {posts} posts, {missing} missing, {truncated} truncated lines");
        assert_eq!((posts, missing, truncated), (5466, 11, 1));
    }

    #[test]
    fn real_flattened_posts_have_handles() {
        let Some(dir) = shared_data() else { return };
        let path = dir.join("twarc-csv_test-data/flat.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        let (mut total, mut with_handle, mut lines) = (0, 0, 0);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            lines += 1;
            let posts = posts(line);
            // The line's own tweet always carries its author.
            let own = &posts[0];
            assert!(own.author.handle.is_some(), "{}", own.id);
            assert!(own.url.as_deref().is_some_and(|u| !u.contains("/i/web/")));
            total += posts.len();
            with_handle += posts.iter().filter(|p| p.author.handle.is_some()).count();
        }
        // Three tweets are nested two levels deep without an expanded author.
        eprintln!("flat.jsonl: {lines} lines, {total} posts, {with_handle} with a handle");
        assert_eq!((lines, total, with_handle), (100, 194, 191));
    }

    #[test]
    fn real_overlapping_pages_repeat_tweets() {
        let Some(dir) = shared_data() else { return };
        let text = std::fs::read_to_string(dir.join("academictwitteR/kfc_to.jsonl")).unwrap();
        let mut all = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            all.extend(posts(line).into_iter().map(|p| p.id));
        }
        let total = all.len();
        all.sort();
        all.dedup();
        eprintln!(
            "kfc_to.jsonl: {} distinct tweet ids, {total} posts",
            all.len()
        );
        assert!(all.len() < total);
        assert_eq!((all.len(), total), (234, 456));
    }

    #[test]
    fn real_replies_with_expanded_authors_have_handles() {
        let Some(dir) = shared_data() else { return };
        let mut checked = 0;
        for (name, lines) in real_files(&dir) {
            for (n, line) in lines {
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let users: Vec<&str> = value["includes"]["users"]
                    .as_array()
                    .map(|us| us.iter().filter_map(|u| u["id"].as_str()).collect())
                    .unwrap_or_default();
                for p in posts(&line).iter().filter(|p| p.reply_to.is_some()) {
                    let author = p.author.id.as_deref().unwrap_or("");
                    if users.contains(&author) {
                        assert!(p.author.handle.is_some(), "{name}:{n}: {}", p.id);
                        checked += 1;
                    }
                }
            }
        }
        eprintln!("{checked} replies by an expanded author");
        assert!(checked > 500, "{checked}");
    }
}
