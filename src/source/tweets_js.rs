//! Twitter account archive importer: the `data/tweets.js` file of "Download an archive of your
//! data".
//!
//! The file is JavaScript, not JSON: `window.YTD.tweets.part0 = [ ... ]`. The driver strips
//! that assignment with [`strip_assignment`] and hands each array element to [`parse_record`].
//! Elements are `{"tweet": {...}}` in current archives and the tweet object itself in older
//! ones; the tweet is in the v1.1 shape (`id_str`, `full_text`, `entities.user_mentions`).
//!
//! An archive holds one person's own tweets, and tweets.js never says whose: the owner is in
//! `account.js` beside it, which [`Sidecar`] reads once per file so that every post gets an
//! author. Retweets appear as ordinary tweets whose text starts with `RT @`; the archive does
//! not keep the original's id, so they stay ordinary posts rather than reposts of a guess.

use super::format::{first_text_line, Match, Reader, Spec};
use super::twarc2::{json_error, tweet_url, unescape, Str};
use super::Context;
use super::{read_rest, Run};
use crate::model::{parse_time, Author, Platform, Post, Record};
use serde::de::{Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;
use std::path::Path;

/// A Twitter archive's `tweets.js`, as [`super::format`] knows it.
pub(super) const SPEC: Spec = Spec {
    sniff: Some(|head| first_text_line(head).0.starts_with("window.YTD.")),
    classify: Some(classify),
    read: Reader::File(read),
    binary: None,
};

/// An element of the archive's array, when the assignment was stripped: `{"tweet": {...}}`.
fn classify(o: &Map<String, Value>) -> Match {
    let tweet = o.get("tweet");
    if tweet.is_some_and(|t| t.get("full_text").is_some() || t.get("id_str").is_some()) {
        Match::Strong
    } else {
        Match::No
    }
}

/// The whole file: the assignment stripped, the owner from `account.js` beside it, then the
/// array as a JSON document.
fn read(path: &Path, reader: Box<dyn BufRead + Send>, run: &mut Run) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let name = run.report.file.clone();
    let text = read_rest(reader, &name)?;
    let body =
        strip_assignment(&text).with_context(|| format!("{name}: not a Twitter archive file"))?;
    let offset = text.len() - body.len();
    let sidecar = Sidecar::find(path);
    if let Some(problem) = &sidecar.problem {
        run.report.warnings.push(format!(
            "account.js beside it could not be used ({problem}): posts have no author"
        ));
    } else if sidecar.username.is_none() {
        run.report.warnings.push(
            "no account.js beside it: the archive's owner is unknown, posts have no author".into(),
        );
    }
    run.document(&text, offset, &|json, cx| parse_record(json, cx, &sidecar))
}

/// The JSON after `window.YTD.<name>.part<N> =`, or `None` when the text does not start with
/// such an assignment. The result is a suffix of `text`, so the caller can tell where it starts.
pub fn strip_assignment(text: &str) -> Option<&str> {
    let rest = text.trim_start_matches('\u{feff}').trim_start();
    let rest = rest.strip_prefix("window.YTD.")?;
    let eq = rest.find('=')?;
    let (name, part) = rest[..eq].trim_end().rsplit_once('.')?;
    let digits = part.strip_prefix("part")?;
    let name_ok = !name.is_empty()
        && (name.bytes()).all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if !name_ok || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(rest[eq + 1..].trim_start())
}

/// The archive owner, from the `account.js` next to tweets.js.
#[derive(Debug, Default, Clone)]
pub struct Sidecar {
    pub account_id: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// Why an `account.js` that is there could not be used (unreadable, not an account file),
    /// so that the caller can warn that posts will have no author. `None` when it was read, and
    /// when there is none.
    pub problem: Option<String>,
}

impl Sidecar {
    /// Read `account.js` from the directory of `tweets_js`. A missing file is normal (someone
    /// copied tweets.js alone) and gives an empty sidecar; a broken one is noted in `problem`.
    pub fn find(tweets_js: &Path) -> Sidecar {
        let dir = tweets_js.parent().unwrap_or(Path::new(""));
        let path = dir.join("account.js");
        if !path.is_file() {
            return Sidecar::default();
        }
        let read = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| Sidecar::parse(&text));
        read.unwrap_or_else(|e| Sidecar {
            problem: Some(format!("{}: {e}", path.display())),
            ..Sidecar::default()
        })
    }

    /// Parse the text of an `account.js`.
    fn parse(text: &str) -> Result<Sidecar, String> {
        // Read once per file, so owned strings are simplest.
        #[derive(Deserialize)]
        struct Entry {
            account: Option<Account>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Account {
            account_id: Option<String>,
            username: Option<String>,
            account_display_name: Option<String>,
        }

        let json = strip_assignment(text).ok_or("not a Twitter archive file")?;
        let entries: Vec<Entry> = serde_json::from_str(json).map_err(json_error)?;
        let account = (entries.into_iter())
            .find_map(|e| e.account)
            .ok_or("no account entry")?;
        Ok(Sidecar {
            account_id: account.account_id,
            username: account.username,
            display_name: account.account_display_name,
            problem: None,
        })
    }
}

/// Parse one element of the tweets.js array into a post.
pub fn parse_record(json: &str, cx: &Context, sidecar: &Sidecar) -> Result<Vec<Record>, String> {
    // A derived struct would also accept a JSON array (field by field); say plainly instead.
    if !json.trim_start().starts_with('{') {
        return Err("not a tweets.js entry: expected a JSON object".into());
    }
    let element: Tweet = super::from_json(json)?;
    let tweet = element.tweet.as_deref().unwrap_or(&element);
    let id = (tweet.id_str.as_ref())
        .or(tweet.id.as_ref())
        .ok_or("tweet without id")?
        .as_str();

    let mut post = Post::new(Platform::Twitter, id);
    post.url = Some(tweet_url(sidecar.username.as_deref(), id));
    post.author = std::sync::Arc::new(Author {
        id: sidecar.account_id.clone(),
        handle: sidecar.username.clone(),
        display_name: sidecar.display_name.clone(),
        server: None,
    });
    // A time that is there but cannot be read is bad input, as in every importer.
    post.created_at = match tweet.created_at.as_ref().map(|t| t.as_str()) {
        Some(t) if !t.trim().is_empty() => {
            Some(parse_time(t).ok_or_else(|| format!("tweet {id}: bad created_at {t:?}"))?)
        }
        _ => None,
    };
    let text = tweet.full_text.as_ref().or(tweet.text.as_ref());
    post.text = text.map(|t| unescape(t.as_str())).unwrap_or_default();
    post.reply_to = owned(tweet.in_reply_to_status_id_str.as_ref())
        .or_else(|| owned(tweet.in_reply_to_status_id.as_ref()));
    post.reply_to_author = owned(tweet.in_reply_to_user_id_str.as_ref())
        .or_else(|| owned(tweet.in_reply_to_user_id.as_ref()));
    post.language = tweet.lang.as_ref().map(|l| l.as_str().to_owned());
    if let Some(e) = &tweet.entities {
        post.hashtags = (e.hashtags.iter().flatten())
            .filter_map(|h| Some(h.text.as_ref()?.as_str().to_owned()))
            .collect();
        post.mentions = (e.user_mentions.iter().flatten())
            .filter_map(|m| Some(m.screen_name.as_ref()?.as_str().to_owned()))
            .collect();
    }
    if let Some(e) = &tweet.extended_entities {
        post.media_alt = (e.media.iter().flatten())
            .filter_map(|m| Some(m.ext_alt_text.as_ref()?.as_str()))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if cx.keep_raw {
        // The tweet object alone: the element itself, or what its `tweet` key holds. The
        // second pass only slices the input, and only when raw JSON is wanted.
        let raw = match element.tweet {
            Some(_) => inner_raw(json),
            None => Some(json),
        };
        post.raw = raw.and_then(|r| cx.raw(r));
    }
    post.provenance = Some(cx.provenance());
    Ok(vec![Record::Post(Box::new(post))])
}

fn owned(id: Option<&Id>) -> Option<String> {
    id.map(|i| i.as_str().to_owned())
}

fn inner_raw(json: &str) -> Option<&str> {
    #[derive(Deserialize)]
    struct Wrapper<'a> {
        #[serde(borrow)]
        tweet: Option<&'a RawValue>,
    }
    let w: Wrapper = serde_json::from_str(json).ok()?;
    w.tweet.map(RawValue::get)
}

/// A tweets.js element: either `{"tweet": {...}}` or (older archives) the tweet itself. The
/// tweet keys and `tweet` never clash, so one struct reads both shapes in one pass.
#[derive(Deserialize)]
struct Tweet<'a> {
    #[serde(borrow)]
    tweet: Option<Box<Tweet<'a>>>,
    #[serde(borrow)]
    id_str: Option<Id<'a>>,
    #[serde(borrow)]
    id: Option<Id<'a>>,
    #[serde(borrow)]
    full_text: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    created_at: Option<Str<'a>>,
    #[serde(borrow)]
    in_reply_to_status_id_str: Option<Id<'a>>,
    #[serde(borrow)]
    in_reply_to_status_id: Option<Id<'a>>,
    #[serde(borrow)]
    in_reply_to_user_id_str: Option<Id<'a>>,
    #[serde(borrow)]
    in_reply_to_user_id: Option<Id<'a>>,
    #[serde(borrow)]
    lang: Option<Str<'a>>,
    #[serde(borrow)]
    entities: Option<Entities<'a>>,
    #[serde(borrow)]
    extended_entities: Option<ExtendedEntities<'a>>,
}

#[derive(Deserialize)]
struct Entities<'a> {
    #[serde(borrow)]
    hashtags: Option<Vec<Hashtag<'a>>>,
    #[serde(borrow)]
    user_mentions: Option<Vec<UserMention<'a>>>,
}

#[derive(Deserialize)]
struct Hashtag<'a> {
    #[serde(borrow)]
    text: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct UserMention<'a> {
    #[serde(borrow)]
    screen_name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct ExtendedEntities<'a> {
    #[serde(borrow)]
    media: Option<Vec<Media<'a>>>,
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow)]
    ext_alt_text: Option<Str<'a>>,
}

/// An id as archives write it: a string in current exports, a bare number in some older ones.
struct Id<'a>(Cow<'a, str>);

impl Id<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for IdVisitor<'a> {
            type Value = Id<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an id (string or integer)")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Id<'a>, E> {
                Ok(Id(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Id<'a>, E> {
                Ok(Id(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Id<'a>, E> {
                Ok(Id(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Id<'a>, E> {
                Ok(Id(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_any(IdVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{format_time, Missing};
    use crate::source::{read_file, Format, ReadOptions};
    use std::sync::Arc;

    fn cx(keep_raw: bool) -> Context {
        Context {
            source: Arc::from("data/tweets.js"),
            line: 3,
            format: Format::TweetsJs,
            keep_raw,
        }
    }

    fn owner() -> Sidecar {
        Sidecar {
            account_id: Some("42".into()),
            username: Some("alice".into()),
            display_name: Some("Alice A.".into()),
            problem: None,
        }
    }

    fn post_with(json: &str, sidecar: &Sidecar, keep_raw: bool) -> Post {
        let mut records = parse_record(json, &cx(keep_raw), sidecar).unwrap();
        assert_eq!(records.len(), 1);
        match records.remove(0) {
            Record::Post(p) => *p,
            Record::Missing(Missing { id, .. }) => panic!("missing {id}"),
        }
    }

    fn post(json: &str) -> Post {
        post_with(json, &owner(), false)
    }

    const REPLY: &str = r#"{"retweeted":false,"entities":{"hashtags":[{"text":"rust","indices":["20","25"]}],"symbols":[],"user_mentions":[{"name":"Bob","screen_name":"bob","indices":["0","4"],"id_str":"7","id":"7"}],"urls":[]},"display_text_range":["0","25"],"favorite_count":"2","in_reply_to_status_id_str":"900","id_str":"1000","in_reply_to_user_id":"7","truncated":false,"id":"1000","in_reply_to_status_id":"900","created_at":"Tue Oct 31 22:10:47 +0000 2017","full_text":"@bob fish &amp; chips &lt;3 #rust","lang":"en","in_reply_to_screen_name":"bob","in_reply_to_user_id_str":"7","extended_entities":{"media":[{"type":"photo","ext_alt_text":"a plate"},{"type":"photo"},{"type":"photo","ext_alt_text":""}]}}"#;

    #[test]
    fn strip_assignment_returns_the_json_suffix() {
        for text in [
            "window.YTD.tweets.part0 = [ {\"tweet\": {}} ]",
            "window.YTD.tweets.part12=[ {\"tweet\": {}} ]",
            "\u{feff}  window.YTD.tweets.part0 =\n[ {\"tweet\": {}} ]",
            "window.YTD.community_tweet.part0 = [ {\"tweet\": {}} ]",
        ] {
            let body = strip_assignment(text).unwrap();
            assert_eq!(body, "[ {\"tweet\": {}} ]", "{text:?}");
            // The driver finds the JSON by its length from the end.
            assert_eq!(&text[text.len() - body.len()..], body);
        }
        for text in [
            "[ {\"tweet\": {}} ]",
            "var tweets = []",
            "window.YTD.tweets = []",
            "window.YTD.tweets.partX = []",
            "window.YTD..part0 = []",
            "window.YTD.tweets.part0 [ {\"a\": \"b=c\"} ]",
        ] {
            assert_eq!(strip_assignment(text), None, "{text:?}");
        }
    }

    #[test]
    fn wrapped_element_maps_every_field() {
        let p = post(&format!(r#"{{"tweet": {REPLY}}}"#));
        assert_eq!(p.platform, Platform::Twitter);
        assert_eq!(p.id, "1000");
        assert_eq!(
            p.url.as_deref(),
            Some("https://twitter.com/alice/status/1000")
        );
        assert_eq!(p.uri, None);
        let a = &p.author;
        assert_eq!(
            (a.id.as_deref(), a.handle.as_deref()),
            (Some("42"), Some("alice"))
        );
        assert_eq!(a.display_name.as_deref(), Some("Alice A."));
        assert_eq!(
            format_time(&p.created_at.unwrap()),
            "2017-10-31T22:10:47.000Z"
        );
        assert_eq!(p.text, "@bob fish & chips <3 #rust");
        assert_eq!(p.reply_to.as_deref(), Some("900"));
        assert_eq!(p.reply_to_author.as_deref(), Some("7"));
        assert_eq!(
            (&p.quote_of, &p.repost_of, &p.conversation_id),
            (&None, &None, &None)
        );
        assert_eq!(p.language.as_deref(), Some("en"));
        assert_eq!(p.hashtags, ["rust"]);
        assert_eq!(p.mentions, ["bob"]);
        assert_eq!(p.media_alt, ["a plate"]);
        assert_eq!(
            (&p.visibility, &p.content_warning, &p.raw),
            (&None, &None, &None)
        );
        let prov = p.provenance.unwrap();
        assert_eq!(
            (&*prov.source, prov.line, prov.format),
            ("data/tweets.js", 3, "tweets-js")
        );
    }

    #[test]
    fn older_bare_element_reads_the_same() {
        assert_eq!(post(REPLY), post(&format!(r#"{{"tweet": {REPLY}}}"#)));
        // Some old exports: numeric ids, `text` instead of `full_text`.
        let p = post(
            r#"{"id":1001,"text":"old &gt; new","in_reply_to_status_id":1000,"in_reply_to_user_id":42}"#,
        );
        assert_eq!(p.id, "1001");
        assert_eq!(p.text, "old > new");
        assert_eq!(p.reply_to.as_deref(), Some("1000"));
        assert_eq!(p.reply_to_author.as_deref(), Some("42"));
    }

    #[test]
    fn not_a_reply_has_no_reply_fields() {
        let p = post(
            r#"{"tweet":{"id_str":"5","full_text":"hello","in_reply_to_status_id_str":null}}"#,
        );
        assert_eq!((p.reply_to, p.reply_to_author), (None, None));
    }

    #[test]
    fn retweet_stays_an_ordinary_post() {
        let p = post(
            r#"{"tweet":{"id_str":"6","full_text":"RT @bob: something &amp; more","entities":{"user_mentions":[{"screen_name":"bob"}]}}}"#,
        );
        assert_eq!(p.repost_of, None);
        assert_eq!(p.text, "RT @bob: something & more");
        assert_eq!(p.mentions, ["bob"]);
    }

    #[test]
    fn raw_is_the_tweet_object_alone() {
        let wrapped = format!(r#"{{"tweet": {REPLY}}}"#);
        assert_eq!(
            post_with(&wrapped, &owner(), true).raw.as_deref(),
            Some(REPLY)
        );
        assert_eq!(post_with(REPLY, &owner(), true).raw.as_deref(), Some(REPLY));
    }

    #[test]
    fn without_sidecar_the_author_is_unknown() {
        let p = post_with(REPLY, &Sidecar::default(), false);
        assert_eq!(*p.author, Author::default());
        assert_eq!(
            p.url.as_deref(),
            Some("https://twitter.com/i/web/status/1000")
        );
    }

    #[test]
    fn malformed_elements_are_clear_errors() {
        let cases = [
            (r#"{"tweet": {"id_str": "1""#, "malformed JSON"),
            ("[1, 2]", "not a tweets.js entry"),
            ("\"text\"", "not a tweets.js entry"),
            (r#"{"tweet": {"full_text": "no id"}}"#, "tweet without id"),
            (r#"{"tweet": null}"#, "tweet without id"),
            (r#"{"tweet": {"id_str": true}}"#, "unexpected JSON"),
            (r#"{"tweet": "x"}"#, "unexpected JSON"),
        ];
        for (json, want) in cases {
            let err = parse_record(json, &cx(false), &owner()).unwrap_err();
            assert!(err.starts_with(want), "{json}: {err}");
        }
    }

    const ACCOUNT_JS: &str = r#"window.YTD.account.part0 = [
  {
    "account" : {
      "email" : "alice@example.org",
      "createdVia" : "web",
      "username" : "alice",
      "accountId" : "42",
      "createdAt" : "2010-01-01T00:00:00.000Z",
      "accountDisplayName" : "Alice A."
    }
  }
]"#;

    #[test]
    fn sidecar_reads_account_js_beside_tweets_js() {
        let dir = tempfile::tempdir().unwrap();
        let tweets = dir.path().join("tweets.js");
        std::fs::write(dir.path().join("account.js"), ACCOUNT_JS).unwrap();
        let s = Sidecar::find(&tweets);
        assert_eq!(s.account_id.as_deref(), Some("42"));
        assert_eq!(s.username.as_deref(), Some("alice"));
        assert_eq!(s.display_name.as_deref(), Some("Alice A."));
        assert_eq!(s.problem, None);
    }

    #[test]
    fn sidecar_absent_is_empty_and_broken_is_noted() {
        let dir = tempfile::tempdir().unwrap();
        let tweets = dir.path().join("tweets.js");
        let s = Sidecar::find(&tweets);
        assert_eq!((s.account_id, s.username, s.problem), (None, None, None));

        for broken in [
            "window.YTD.account.part0 = [ {",
            "[]",
            "window.YTD.account.part0 = []",
        ] {
            std::fs::write(dir.path().join("account.js"), broken).unwrap();
            let s = Sidecar::find(&tweets);
            assert_eq!((&s.account_id, &s.username), (&None, &None), "{broken}");
            let problem = s.problem.unwrap_or_default();
            assert!(problem.contains("account.js"), "{broken}: {problem}");
        }
    }

    #[test]
    fn archive_file_reads_through_the_driver() {
        let dir = tempfile::tempdir().unwrap();
        let tweets = dir.path().join("tweets.js");
        let other = r#"{"id_str":"1001","full_text":"second","created_at":"Wed Nov 01 08:00:00 +0000 2017"}"#;
        std::fs::write(&tweets, format!("window.YTD.tweets.part0 = [ {{\n  \"tweet\" : {REPLY}\n}}, {{\n  \"tweet\" : {other}\n}} ]")).unwrap();
        std::fs::write(dir.path().join("account.js"), ACCOUNT_JS).unwrap();
        let mut posts = Vec::new();
        let opts = ReadOptions {
            keep_raw: true,
            ..ReadOptions::default()
        };
        let bar = indicatif::ProgressBar::hidden();
        let report = read_file(&tweets, &opts, &bar, &mut |r| {
            if let Record::Post(p) = r {
                posts.push(*p);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(report.format, Format::TweetsJs);
        assert_eq!((report.records, report.posts), (2, 2));
        let lines: Vec<_> = posts
            .iter()
            .map(|p| p.provenance.as_ref().unwrap().line)
            .collect();
        assert_eq!(lines, [1, 3]);
        assert!(posts
            .iter()
            .all(|p| p.author.handle.as_deref() == Some("alice")));
        assert_eq!(posts[1].raw.as_deref(), Some(other));
    }
}
