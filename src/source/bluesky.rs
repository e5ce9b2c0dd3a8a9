//! Bluesky (AT Protocol) → [`Post`].
//!
//! Reads what the Bluesky API returns and what researchers save from it:
//!
//! - `app.bsky.feed.getPostThread` responses: a `thread` whose `parent` and `replies` nest one
//!   level per post. `notFoundPost` (deleted, taken down) and `blockedPost` items become
//!   [`Missing`] posts with that reason, so the gap in the thread says why it is there;
//! - pages of `app.bsky.feed.searchPosts` and `getPosts` (`posts`) and of `getAuthorFeed` and
//!   other feeds (`feed`, whose items may be reposts);
//! - one post view per line (or an array of them);
//! - an account's repository export, the `.car` file of "export my data" ([`car`]).
//!
//! A post's identity is its `at://` URI, which is its id and its `uri`; the author's DID is the
//! account id (it stays when the handle changes) and the handle is kept beside it.
//!
//! Why the thread is walked by hand: a thread 1,000 replies deep nests 2,000 JSON levels, and
//! serde_json refuses a value deeper than 128 (rightly: a parser that recursed would overflow
//! its stack on a hostile one). [`walk`] goes through the tree with its own stack, in one pass,
//! and only each item's post view (which is shallow) is parsed by serde.

mod car;

use super::format::{Binary, Match, Reader, Spec};
use super::{from_json, Context};
use crate::model::{parse_time, AtUri, Author, Missing, Platform, Post, Record};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// Bluesky, as [`super::format`] knows it.
pub(super) const SPEC: Spec = Spec {
    sniff: Some(sniff),
    classify: Some(classify),
    read: Reader::Json(parse_record),
    binary: Some(Binary {
        magic: car::is_car,
        read: car::read,
    }),
};

/// The collection of posts, and of reposts, in `at://` URIs and repositories.
pub const POST: &str = "app.bsky.feed.post";
pub const REPOST: &str = "app.bsky.feed.repost";

/// Why a `notFoundPost` is missing.
pub const NOT_FOUND: &str =
    "not found (notFoundPost): deleted by its author, taken down, or not indexed by the AppView";
/// Why a `blockedPost` is missing.
pub const BLOCKED: &str =
    "blocked (blockedPost): a block between its author and the account that asked hides it";

/// A thread response whose first key is `thread`, known before it is parsed: a deep thread is
/// too deep for the sample detection parses.
fn sniff(head: &[u8]) -> bool {
    let (line, json) = super::format::first_text_line(head);
    let text = String::from_utf8_lossy(&head[..head.len().min(64 * 1024)]);
    let start = text.trim_start_matches('\u{feff}').trim_start();
    let first_key = start
        .strip_prefix('{')
        .map(|rest| rest.trim_start().starts_with("\"thread\""))
        .unwrap_or(false);
    json && !line.is_empty() && first_key && text.contains("\"app.bsky.feed.defs#")
}

fn at_uri(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| s.starts_with("at://"))
}

/// A post view: an `at://` uri, an author, and the record (`value` in an embedded view).
fn is_view(o: &Map<String, Value>) -> bool {
    at_uri(o.get("uri"))
        && o.get("author").is_some_and(Value::is_object)
        && (o.contains_key("record") || o.contains_key("value"))
}

fn classify(o: &Map<String, Value>) -> Match {
    let first = |k: &str| match o.get(k) {
        Some(Value::Array(items)) => Some(items.first().and_then(Value::as_object)),
        _ => None,
    };
    let thread_item = o
        .get("$type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("app.bsky.feed.defs#"));
    let feed_item = |i: &Map<String, Value>| {
        i.get("post")
            .and_then(Value::as_object)
            .is_some_and(is_view)
    };
    if o.get("thread").is_some_and(Value::is_object) || thread_item || is_view(o) || feed_item(o) {
        return Match::Strong;
    }
    match (first("posts"), first("feed")) {
        (Some(Some(p)), _) if is_view(p) => Match::Strong,
        (_, Some(Some(i))) if feed_item(i) => Match::Strong,
        // An empty page (a search that found nothing) says little, but nothing else has it.
        (Some(None), _) | (_, Some(None)) if o.contains_key("cursor") || o.len() == 1 => {
            Match::Weak
        }
        _ => Match::No,
    }
}

/// The top of one JSON record: which of the shapes it is. Every field is raw, so this reads
/// a deep thread without descending into it.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow, default)]
    thread: Option<&'a RawValue>,
    #[serde(borrow, default)]
    posts: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    feed: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    post: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parent: Option<&'a RawValue>,
    #[serde(borrow, default)]
    replies: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<&'a RawValue>,
    #[serde(borrow, default)]
    record: Option<&'a RawValue>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
}

/// Parse one JSON record: a thread response, a page of posts or of a feed, a thread item, a
/// feed item or a post view.
pub fn parse_record(json: &str, cx: &Context) -> Result<Vec<Record>, String> {
    let top: Top = from_json(json)?;
    let mut out = Vec::new();
    if let Some(thread) = top.thread {
        thread_records(thread.get(), cx, &mut out)?;
    } else if let Some(posts) = top.posts {
        for p in posts {
            view(p.get(), cx, &mut out)?;
        }
    } else if let Some(feed) = top.feed {
        for item in feed {
            feed_item(item.get(), cx, &mut out)?;
        }
    } else if top
        .ty
        .as_deref()
        .is_some_and(|t| t.starts_with("app.bsky.feed.defs#"))
        && (top.post.is_some()
            || top.parent.is_some()
            || top.replies.is_some()
            || top.uri.is_some())
        && top.record.is_none()
    {
        thread_records(json, cx, &mut out)?;
    } else if top.post.is_some() {
        feed_item(json, cx, &mut out)?;
    } else if top.uri.is_some() && (top.record.is_some() || top.value.is_some()) {
        view(json, cx, &mut out)?;
    } else {
        return Err(
            "not a Bluesky record: expected a thread, a page of posts or a feed, or a post view (uri, author, record)"
                .into(),
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Threads

/// One item of a thread tree: what it is, without the items nested in it.
#[derive(Default)]
struct Item<'a> {
    ty: Option<String>,
    post: Option<&'a RawValue>,
    uri: Option<String>,
    not_found: bool,
    blocked: bool,
    /// The item whose `replies` hold this one.
    reply_of: Option<usize>,
}

/// Walk a thread tree (`threadViewPost` with `parent` and `replies`) in one pass with an
/// explicit stack, however deep, and return its items. Values that are not part of the tree
/// are skipped by serde_json's raw reader, which does not recurse either.
fn walk(text: &str) -> Result<Vec<Item<'_>>, String> {
    enum In {
        Item(usize),
        Replies(usize),
    }
    struct Frame {
        within: In,
        started: bool,
    }
    let mut c = Cursor { text, pos: 0 };
    let mut items: Vec<Item> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let open =
        |c: &mut Cursor, items: &mut Vec<Item>, stack: &mut Vec<Frame>, reply_of: Option<usize>| {
            c.expect(b'{')?;
            items.push(Item {
                reply_of,
                ..Item::default()
            });
            stack.push(Frame {
                within: In::Item(items.len() - 1),
                started: false,
            });
            Ok::<(), String>(())
        };
    c.ws();
    open(&mut c, &mut items, &mut stack, None)?;
    while let Some(frame) = stack.last_mut() {
        c.ws();
        let close = match frame.within {
            In::Item(_) => b'}',
            In::Replies(_) => b']',
        };
        if c.peek() == Some(close) {
            c.pos += 1;
            stack.pop();
            continue;
        }
        if frame.started {
            c.expect(b',')?;
            c.ws();
        }
        frame.started = true;
        match frame.within {
            In::Replies(i) => {
                if c.peek() == Some(b'{') {
                    open(&mut c, &mut items, &mut stack, Some(i))?;
                } else {
                    c.value()?;
                }
            }
            In::Item(i) => {
                let key = c.key()?;
                c.ws();
                c.expect(b':')?;
                c.ws();
                match key.as_ref() {
                    "parent" if c.peek() == Some(b'{') => {
                        open(&mut c, &mut items, &mut stack, None)?;
                    }
                    "replies" if c.peek() == Some(b'[') => {
                        c.pos += 1;
                        stack.push(Frame {
                            within: In::Replies(i),
                            started: false,
                        });
                    }
                    "post" => items[i].post = Some(c.value()?),
                    "$type" => items[i].ty = serde_json::from_str(c.value()?.get()).ok(),
                    "uri" => items[i].uri = serde_json::from_str(c.value()?.get()).ok(),
                    "notFound" => items[i].not_found = c.value()?.get() == "true",
                    "blocked" => items[i].blocked = c.value()?.get() == "true",
                    _ => {
                        c.value()?;
                    }
                }
            }
        }
    }
    c.ws();
    if c.pos != text.len() {
        return Err(format!(
            "malformed JSON: trailing characters at byte {}",
            c.pos
        ));
    }
    Ok(items)
}

/// A place in JSON text, for [`walk`].
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        let rest = &self.text.as_bytes()[self.pos..];
        self.pos += rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn expect(&mut self, want: u8) -> Result<(), String> {
        match self.peek() {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => Err(format!(
                "malformed JSON: expected `{}` at byte {}, found `{}`",
                want as char,
                self.pos,
                (b as char).escape_default()
            )),
            None => Err(format!(
                "malformed JSON: expected `{}` at byte {}, found the end",
                want as char, self.pos
            )),
        }
    }

    /// The JSON value that starts here, as written, and move past it.
    fn value(&mut self) -> Result<&'a RawValue, String> {
        let rest = &self.text[self.pos..];
        let mut de = serde_json::Deserializer::from_str(rest);
        let raw = <&RawValue as Deserialize>::deserialize(&mut de)
            .map_err(|e| format!("malformed JSON at byte {}: {e}", self.pos))?;
        let end = raw.get().as_ptr() as usize + raw.get().len() - self.text.as_ptr() as usize;
        self.pos = end;
        Ok(raw)
    }

    fn key(&mut self) -> Result<Cow<'a, str>, String> {
        let at = self.pos;
        let raw = self.value()?;
        serde_json::from_str(raw.get())
            .map_err(|_| format!("malformed JSON: expected a key at byte {at}"))
    }
}

/// One item of a thread as shown: a post (with what the collector decides on), or a gap.
pub(crate) enum Shown {
    Post(Box<Viewed>),
    Gap(Missing),
}

/// The items of one thread tree, each with how many replies the answer showed under it: its
/// posts, and a gap for every post it shows as not found or blocked.
pub(crate) fn thread_items(text: &str, cx: &Context) -> Result<Vec<(Shown, u64)>, String> {
    let items = walk(text)?;
    let mut shown_under = vec![0u64; items.len()];
    for item in &items {
        if let Some(i) = item.reply_of {
            shown_under[i] += 1;
        }
    }
    // The id of each item, so that a reply can name the item it hangs under.
    let mut ids: Vec<Option<String>> = Vec::with_capacity(items.len());
    let mut out = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let under = item.reply_of.and_then(|i| ids.get(i).cloned().flatten());
        let ty = item.ty.as_deref().unwrap_or("");
        if let Some(post) = item.post {
            let mut v = read_view(post.get(), cx)?;
            if v.post.reply_to.is_none() {
                v.post.reply_to = under;
            }
            ids.push(Some(v.post.id.clone()));
            out.push((Shown::Post(Box::new(v)), shown_under[k]));
            continue;
        }
        let Some(uri) = item.uri.clone().filter(|u| !u.trim().is_empty()) else {
            return Err(format!(
                "a thread item ({ty}) with neither a post nor a uri"
            ));
        };
        let reason = if item.blocked || ty.ends_with("#blockedPost") {
            BLOCKED.to_string()
        } else if item.not_found || ty.ends_with("#notFoundPost") {
            NOT_FOUND.to_string()
        } else {
            format!("not shown: the server sent a thread item of type {ty:?}")
        };
        ids.push(Some(uri.clone()));
        out.push((
            Shown::Gap(Missing {
                platform: Platform::Bluesky,
                id: uri,
                reason,
                reply_to: under,
            }),
            shown_under[k],
        ));
    }
    Ok(out)
}

/// The thread tree of a getPostThread response (`{"thread": ...}`).
#[cfg_attr(not(feature = "collect"), allow(dead_code))]
pub(crate) fn thread_of(json: &str) -> Result<&str, String> {
    let top: Top = from_json(json)?;
    top.thread
        .map(|t| t.get())
        .ok_or_else(|| "not a getPostThread response (no `thread`)".to_string())
}

fn thread_records(text: &str, cx: &Context, out: &mut Vec<Record>) -> Result<(), String> {
    for (shown, _) in thread_items(text, cx)? {
        match shown {
            Shown::Post(v) => (*v).into_records(out),
            Shown::Gap(m) => out.push(Record::Missing(m)),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Feeds

#[derive(Deserialize)]
struct FeedItem<'a> {
    #[serde(borrow)]
    post: &'a RawValue,
    #[serde(borrow, default)]
    reply: Option<FeedReply<'a>>,
    #[serde(borrow, default)]
    reason: Option<Reason<'a>>,
}

#[derive(Deserialize)]
struct FeedReply<'a> {
    #[serde(borrow, default)]
    root: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parent: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Reason<'a> {
    #[serde(borrow, default, rename = "$type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    by: Option<Actor<'a>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "indexedAt")]
    indexed_at: Option<Cow<'a, str>>,
}

/// A feed item: its post, the parent and root it shows (posts or gaps), and a repost when
/// the item is one: a post of the reposter pointing at the original, never a reply.
fn feed_item(json: &str, cx: &Context, out: &mut Vec<Record>) -> Result<(), String> {
    let item: FeedItem = from_json(json)?;
    let start = out.len();
    view(item.post.get(), cx, out)?;
    let original = out.get(start).and_then(Record::post).map(|p| p.id.clone());
    if let Some(reply) = item.reply {
        for shown in [reply.parent, reply.root].into_iter().flatten() {
            // The same post can be both (a reply to the root); the corpus keeps one. Each is a
            // post view, or a `notFoundPost`/`blockedPost` as in a thread.
            let probe: Top = from_json(shown.get())?;
            if probe.record.is_some() {
                view(shown.get(), cx, out)?;
            } else {
                thread_records(shown.get(), cx, out)?;
            }
        }
    }
    if let (Some(reason), Some(original)) = (item.reason, original) {
        if reason.ty.as_deref() == Some("app.bsky.feed.defs#reasonRepost") {
            let by = reason.by.map(Actor::into_author).unwrap_or_default();
            // The repost record's own URI when the AppView gives it (it does since 2024);
            // else a key that names the reposter and the post, which is what the repost is.
            let uri = reason
                .uri
                .map(Cow::into_owned)
                .filter(|u| AtUri::parse(u).is_some_and(|a| a.collection == REPOST));
            let id = uri.clone().unwrap_or_else(|| {
                format!(
                    "repost:{}:{original}",
                    by.id.as_deref().unwrap_or("unknown")
                )
            });
            let mut p = Post::new(Platform::Bluesky, id);
            p.uri = uri;
            p.created_at = reason.indexed_at.as_deref().and_then(parse_time);
            p.repost_of = Some(original);
            p.author = Arc::new(by);
            p.raw = cx.raw(json);
            p.provenance = Some(cx.provenance());
            out.push(Record::Post(Box::new(p)));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Post views and post records

#[derive(Deserialize)]
struct View<'a> {
    #[serde(borrow)]
    uri: Cow<'a, str>,
    #[serde(borrow, default)]
    author: Option<Actor<'a>>,
    /// The post record (`value` in the view of an embedded post).
    #[serde(borrow, default, alias = "value")]
    record: Option<&'a RawValue>,
    /// The embed as the AppView shows it: a quoted post's view is inside.
    #[serde(borrow, default)]
    embed: Option<EmbedView<'a>>,
    #[serde(borrow, default, rename = "indexedAt")]
    indexed_at: Option<Cow<'a, str>>,
    #[serde(default, rename = "replyCount")]
    reply_count: Option<u64>,
}

#[derive(Deserialize)]
pub(crate) struct Actor<'a> {
    #[serde(borrow, default)]
    pub did: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub handle: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "displayName")]
    pub display_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub labels: Vec<Label<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct Label<'a> {
    #[serde(borrow, default)]
    pub val: Option<Cow<'a, str>>,
}

impl Actor<'_> {
    fn into_author(self) -> Author {
        let nonempty =
            |s: Option<Cow<str>>| s.map(Cow::into_owned).filter(|s| !s.trim().is_empty());
        Author {
            id: nonempty(self.did),
            handle: nonempty(self.handle),
            display_name: nonempty(self.display_name),
            server: None,
        }
    }

    /// Has the account asked not to be shown to people who are not logged in?
    fn opted_out(&self) -> bool {
        self.labels
            .iter()
            .any(|l| l.val.as_deref() == Some("!no-unauthenticated"))
    }
}

#[derive(Deserialize)]
struct EmbedView<'a> {
    #[serde(borrow, default, rename = "$type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    record: Option<&'a RawValue>,
}

/// A post view read: the post, and what a collector decides on.
#[cfg_attr(not(feature = "collect"), allow(dead_code))]
pub(crate) struct Viewed {
    pub post: Post,
    /// The author asked not to be shown to people who are not logged in
    /// (`!no-unauthenticated`); the collector honours that as it honours Mastodon's opt-outs.
    pub opted_out: bool,
    /// How many replies the post has, as the AppView counts them.
    pub reply_count: Option<u64>,
    /// Where the post sorts in a search (`sortAt`: the earlier of its creation and indexing).
    pub sort_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The post it quotes, when the view shows it.
    pub quoted: Option<Box<Viewed>>,
}

impl Viewed {
    pub(crate) fn into_records(self, out: &mut Vec<Record>) {
        out.push(Record::Post(Box::new(self.post)));
        if let Some(q) = self.quoted {
            q.into_records(out);
        }
    }
}

/// A post view and the view of the post it quotes, when the AppView includes it.
fn view(json: &str, cx: &Context, out: &mut Vec<Record>) -> Result<(), String> {
    read_view(json, cx)?.into_records(out);
    Ok(())
}

pub(crate) fn read_view(json: &str, cx: &Context) -> Result<Viewed, String> {
    read_view_at(json, cx, true)
}

fn read_view_at(json: &str, cx: &Context, with_quote: bool) -> Result<Viewed, String> {
    let v: View = from_json(json)?;
    let record: PostRecord = match v.record {
        Some(r) => from_json(r.get()).map_err(|e| format!("post {}: record: {e}", v.uri))?,
        None => return Err(format!("post {}: no record", v.uri)),
    };
    let opted_out = v.author.as_ref().is_some_and(Actor::opted_out);
    let author = v.author.map(Actor::into_author).unwrap_or_default();
    let mut p = post(&v.uri, author, &record);
    let indexed = v.indexed_at.as_deref().and_then(parse_time);
    let sort_at = match (p.created_at, indexed) {
        (Some(c), Some(i)) => Some(c.min(i)),
        (c, i) => c.or(i),
    };
    if p.created_at.is_none() {
        p.created_at = indexed;
    }
    p.raw = cx.raw(json);
    p.provenance = Some(cx.provenance());
    // One level of quote: the quoted view's own embeds are not followed.
    let quoted = match v.embed.and_then(quoted_view) {
        Some(q) if with_quote => Some(Box::new(read_view_at(q.get(), cx, false)?)),
        _ => None,
    };
    Ok(Viewed {
        post: p,
        opted_out,
        reply_count: v.reply_count,
        sort_at,
        quoted,
    })
}

/// The view of a quoted post inside an embed view (`app.bsky.embed.record#view`, or the
/// record half of `recordWithMedia#view`), when it is a post the viewer may see.
fn quoted_view<'a>(e: EmbedView<'a>) -> Option<&'a RawValue> {
    let record = match e.ty.as_deref()? {
        "app.bsky.embed.record#view" => e.record?,
        "app.bsky.embed.recordWithMedia#view" => {
            #[derive(Deserialize)]
            struct Inner<'a> {
                #[serde(borrow)]
                record: &'a RawValue,
            }
            serde_json::from_str::<Inner>(e.record?.get()).ok()?.record
        }
        _ => return None,
    };
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default, rename = "$type")]
        ty: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        value: Option<Probe2<'a>>,
    }
    #[derive(Deserialize)]
    struct Probe2<'a> {
        #[serde(borrow, default, rename = "$type")]
        ty: Option<Cow<'a, str>>,
    }
    let probe: Probe = serde_json::from_str(record.get()).ok()?;
    let is_post = probe.ty.as_deref() == Some("app.bsky.embed.record#viewRecord")
        && probe.value.and_then(|v| v.ty).as_deref() == Some(POST);
    is_post.then_some(record)
}

/// An `app.bsky.feed.post` record, from JSON or from a repository's DAG-CBOR.
#[derive(Deserialize)]
pub(crate) struct PostRecord<'a> {
    #[serde(borrow, default)]
    text: Cow<'a, str>,
    #[serde(borrow, default, rename = "createdAt")]
    created_at: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reply: Option<ReplyRef<'a>>,
    #[serde(borrow, default)]
    facets: Vec<Facet<'a>>,
    #[serde(borrow, default)]
    embed: Option<Embed<'a>>,
    #[serde(borrow, default)]
    langs: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    tags: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ReplyRef<'a> {
    #[serde(borrow, default)]
    root: Option<StrongRef<'a>>,
    #[serde(borrow, default)]
    parent: Option<StrongRef<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct StrongRef<'a> {
    #[serde(borrow, default)]
    pub uri: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Facet<'a> {
    index: ByteSlice,
    #[serde(borrow, default)]
    features: Vec<Feature<'a>>,
}

#[derive(Deserialize)]
struct ByteSlice {
    #[serde(rename = "byteStart")]
    start: u64,
    #[serde(rename = "byteEnd")]
    end: u64,
}

#[derive(Deserialize)]
struct Feature<'a> {
    #[serde(borrow, default, rename = "$type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    did: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tag: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Embed<'a> {
    #[serde(borrow, default, rename = "$type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    images: Vec<Image<'a>>,
    /// A video's alt text.
    #[serde(borrow, default)]
    alt: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    record: Option<EmbedRecord<'a>>,
    #[serde(borrow, default)]
    media: Option<Box<Embed<'a>>>,
}

#[derive(Deserialize)]
struct Image<'a> {
    #[serde(borrow, default)]
    alt: Option<Cow<'a, str>>,
}

/// `app.bsky.embed.record` holds `record: {uri, cid}`; `recordWithMedia` holds
/// `record: {record: {uri, cid}}`.
#[derive(Deserialize)]
struct EmbedRecord<'a> {
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    record: Option<StrongRef<'a>>,
}

impl PostRecord<'_> {
    /// The post this one replies to.
    pub(crate) fn parent(&self) -> Option<&str> {
        self.reply.as_ref()?.parent.as_ref()?.uri.as_deref()
    }
}

/// A post from its URI, author and record (raw JSON and provenance are the caller's).
pub(crate) fn post(uri: &str, author: Author, r: &PostRecord) -> Post {
    let mut p = Post::new(Platform::Bluesky, uri);
    p.uri = Some(uri.to_string());
    p.url = Platform::Bluesky.post_link(author.handle.as_deref(), uri);
    p.created_at = r.created_at.as_deref().and_then(parse_time);
    let (text, tags, mentions) = apply_facets(&r.text, &r.facets);
    p.text = text;
    p.hashtags = tags;
    for t in &r.tags {
        push_tag(&mut p.hashtags, t);
    }
    p.mentions = mentions;
    if let Some(parent) = r.parent().filter(|u| !u.trim().is_empty()) {
        p.reply_to = Some(parent.to_string());
        // The parent's author is in its URI when the URI names the account by DID.
        p.reply_to_author = AtUri::parse(parent)
            .map(|a| a.authority)
            .filter(|a| a.starts_with("did:"))
            .map(str::to_string);
    }
    let root = r
        .reply
        .as_ref()
        .and_then(|x| x.root.as_ref())
        .and_then(|x| x.uri.as_deref());
    p.conversation_id = Some(root.unwrap_or(uri).to_string());
    p.language = r
        .langs
        .first()
        .map(|l| l.to_string())
        .filter(|l| !l.is_empty());
    if let Some(e) = &r.embed {
        let mut at = Some(e);
        // An embed holds at most one more (recordWithMedia's media): a loop, not recursion.
        while let Some(e) = at {
            p.media_alt.extend(
                e.images
                    .iter()
                    .filter_map(|i| i.alt.as_deref())
                    .chain(e.alt.as_deref())
                    .filter(|a| !a.trim().is_empty())
                    .map(str::to_string),
            );
            let quoted = match (e.ty.as_deref(), &e.record) {
                (Some("app.bsky.embed.record"), Some(r)) => r.uri.as_deref(),
                (Some("app.bsky.embed.recordWithMedia"), Some(r)) => {
                    r.record.as_ref().and_then(|s| s.uri.as_deref())
                }
                _ => None,
            };
            // Only a quoted post: an embed can also show a list or a feed generator.
            if let Some(q) = quoted.filter(|q| AtUri::parse(q).is_none_or(|a| a.collection == POST))
            {
                p.quote_of = Some(q.to_string());
            }
            at = e.media.as_deref();
        }
    }
    p.author = Arc::new(author);
    p
}

fn push_tag(tags: &mut Vec<String>, tag: &str) {
    let tag = tag.trim().trim_start_matches(['#', '＃']);
    if !tag.is_empty() && !tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
        tags.push(tag.to_string());
    }
}

/// The text as a person reads it, with its facets: tags and mentions listed, and a link whose
/// text is the shortened look of its URL (`example.com/a-long-pa...`, as the Bluesky app writes
/// it) given as the whole URL, which a researcher needs more than the look. Facets index the
/// UTF-8 bytes of the text; one that does not fall on character boundaries, runs past the text
/// or overlaps another is left out of the rewriting (its tag or mention is still kept).
fn apply_facets(text: &str, facets: &[Facet]) -> (String, Vec<String>, Vec<String>) {
    let mut tags = Vec::new();
    let mut mentions = Vec::new();
    let mut links: Vec<(usize, usize, &str)> = Vec::new();
    for f in facets {
        let (start, end) = (f.index.start as usize, f.index.end as usize);
        let span = (start <= end
            && end <= text.len()
            && text.is_char_boundary(start)
            && text.is_char_boundary(end))
        .then(|| &text[start..end]);
        for feature in &f.features {
            match feature.ty.as_deref().unwrap_or("") {
                "app.bsky.richtext.facet#tag" => {
                    if let Some(t) = feature.tag.as_deref() {
                        push_tag(&mut tags, t);
                    }
                }
                "app.bsky.richtext.facet#mention" => {
                    let handle = span
                        .map(|s| s.trim().trim_start_matches('@'))
                        .filter(|s| !s.is_empty());
                    if let Some(m) = handle.or(feature.did.as_deref()) {
                        if !mentions.iter().any(|x: &String| x == m) {
                            mentions.push(m.to_string());
                        }
                    }
                }
                "app.bsky.richtext.facet#link" => {
                    if let (Some(span), Some(uri)) = (span, feature.uri.as_deref()) {
                        if shortened(span, uri) {
                            links.push((start, end, uri));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    links.sort_by_key(|l| l.0);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, uri) in links {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(uri);
        at = end;
    }
    out.push_str(&text[at..]);
    (out, tags, mentions)
}

/// Is `span` the shortened look of `uri`: the URL without its scheme, perhaps cut off with
/// an ellipsis? Link text the author chose (a word linked to a page) is kept as written.
fn shortened(span: &str, uri: &str) -> bool {
    if span == uri {
        return false;
    }
    let bare = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .unwrap_or(uri);
    let cut = span.strip_suffix("...").or_else(|| span.strip_suffix('…'));
    match cut {
        Some(prefix) => !prefix.is_empty() && (bare.starts_with(prefix) || uri.starts_with(prefix)),
        None => span == bare,
    }
}

#[cfg(test)]
mod tests;
