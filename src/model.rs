//! The one post model that every stage speaks.
//!
//! Mastodon statuses, Twitter API v2 tweets, Twitter archive entries, TWCS rows and ConvoKit
//! utterances all become a [`Post`]. Later stages (corpus, thread, export) never look at the
//! source format again, so anything a researcher may need downstream has to be carried here:
//! the reply link, the quote and repost targets, the text as a person reads it, and the raw
//! JSON as the platform sent it, so that nothing the source said is lost by the conversion.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// The network a post was published on. Ids are only unique within one platform.
///
/// What differs between networks in how a post is identified and linked lives here, as data
/// about the platform, so that the corpus and the exports never ask "is this Mastodon?":
/// a new network is a new variant and its answers below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Mastodon,
    Twitter,
    Bluesky,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Mastodon, Platform::Twitter, Platform::Bluesky];

    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::Mastodon => "mastodon",
            Platform::Twitter => "twitter",
            Platform::Bluesky => "bluesky",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Does [`Post::uri`] name the post the same way wherever it is seen? On Mastodon the
    /// ActivityPub `uri` is the same on every server while the `id` is each server's own
    /// number, so two records with one `uri` are one post. On Bluesky the `at://` URI is the
    /// id itself. Twitter has one server and no such field.
    pub fn uri_is_identity(self) -> bool {
        match self {
            Platform::Mastodon | Platform::Bluesky => true,
            Platform::Twitter => false,
        }
    }

    /// Is `id` shaped like a local id of this platform, safe to put into a URL path or a
    /// query? Ids come from servers and files and are never escaped into a path, only checked:
    /// a Twitter id is decimal digits; a Mastodon id is a server's own token (digits on
    /// Mastodon, letters and dashes on other servers); a Bluesky id is an `at://` URI of a record.
    pub fn is_valid_id(self, id: &str) -> bool {
        match self {
            Platform::Twitter => {
                !id.is_empty() && id.len() <= 30 && id.bytes().all(|b| b.is_ascii_digit())
            }
            Platform::Mastodon => {
                !id.is_empty()
                    && id.len() <= 100
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            Platform::Bluesky => AtUri::parse(id).is_some(),
        }
    }

    /// A link a person can open for a post of this platform, when one can be built from the
    /// author's handle and the id (Mastodon posts carry the server's own `url` instead).
    pub fn post_link(self, handle: Option<&str>, id: &str) -> Option<String> {
        match self {
            Platform::Twitter => Some(
                match handle.filter(|u| {
                    !u.is_empty()
                        && u.len() <= 50
                        && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                }) {
                    Some(u) => format!("https://twitter.com/{u}/status/{id}"),
                    None => format!("https://twitter.com/i/web/status/{id}"),
                },
            ),
            Platform::Mastodon => None,
            Platform::Bluesky => {
                let at = AtUri::parse(id)?;
                // bsky.app resolves a DID as well as a handle; a handle reads better.
                // A handle from a server is checked like the rest of the link: only one that
                // has a handle's syntax goes into the path.
                let who = handle.filter(|h| *h != "handle.invalid" && is_handle(h));
                Some(format!(
                    "https://bsky.app/profile/{}/post/{}",
                    who.unwrap_or(at.authority),
                    at.rkey
                ))
            }
        }
    }
}

/// Does `h` have the syntax of an AT Protocol handle (`alice.bsky.social`): dot-separated
/// labels of letters, digits and inner hyphens, at most 253 characters.
pub fn is_handle(h: &str) -> bool {
    h.len() <= 253
        && h.contains('.')
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// An `at://AUTHORITY/COLLECTION/RKEY` URI, the identity of a Bluesky record. The parts are
/// checked against the AT Protocol's syntax (DID or handle, NSID, record key) so that a
/// hostile id cannot smuggle a path or a query into a link built from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtUri<'a> {
    pub authority: &'a str,
    pub collection: &'a str,
    pub rkey: &'a str,
}

impl<'a> AtUri<'a> {
    pub fn parse(s: &'a str) -> Option<AtUri<'a>> {
        let rest = s.strip_prefix("at://")?;
        let mut parts = rest.split('/');
        let (authority, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || s.len() > 8 * 1024 {
            return None;
        }
        let ok_authority = if let Some(did) = authority.strip_prefix("did:") {
            did.split_once(':').is_some_and(|(method, id)| {
                !method.is_empty()
                    && method.bytes().all(|b| b.is_ascii_lowercase())
                    && !id.is_empty()
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._:%-".contains(&b))
            })
        } else {
            authority.contains('.')
                && authority
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        };
        let ok_collection = collection.contains('.')
            && collection
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        let ok_rkey = !rkey.is_empty()
            && rkey.len() <= 512
            && rkey != "."
            && rkey != ".."
            && rkey
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:~-".contains(&b));
        (ok_authority && ok_collection && ok_rkey).then_some(AtUri {
            authority,
            collection,
            rkey,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who wrote a post. `handle` is what people write after `@` (Mastodon: `user@server`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Author {
    pub id: Option<String>,
    pub handle: Option<String>,
    pub display_name: Option<String>,
    /// The Mastodon server the account lives on; `None` on Twitter and Bluesky (a Bluesky
    /// account's `id` is its DID, which stays when the handle changes).
    pub server: Option<String>,
}

impl Author {
    /// The name to show in a transcript: the handle, else the account id, else "unknown".
    pub fn label(&self) -> &str {
        self.handle
            .as_deref()
            .or(self.id.as_deref())
            .unwrap_or("unknown")
    }
}

/// Where a record came from: the file (or URL) and the line or element inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// File path as given on the command line, or the URL it was fetched from.
    pub source: Arc<str>,
    /// 1-based line (JSONL, CSV) or element number (JSON arrays); 0 when not meaningful.
    pub line: u64,
    /// Name of the importer that read it (see `source::Format`).
    pub format: &'static str,
}

/// One post, whatever network it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub platform: Platform,
    pub id: String,
    /// The name of the post that is the same wherever it is seen, on platforms that have one
    /// ([`Platform::uri_is_identity`]): Mastodon's ActivityPub `uri`, Bluesky's `at://` URI.
    pub uri: Option<String>,
    /// A link a person can open.
    pub url: Option<String>,
    /// Shared between the posts of one account (see `corpus::PostSet`): a million posts by a
    /// hundred thousand people need a hundred thousand authors, not a million.
    pub author: Arc<Author>,
    pub created_at: Option<DateTime<Utc>>,
    /// Plain text as a person reads it (Mastodon HTML converted, Twitter entities unescaped).
    pub text: String,
    /// The id of the post this one replies to, on the same platform.
    pub reply_to: Option<String>,
    /// The author id of the post replied to, when the source says.
    pub reply_to_author: Option<String>,
    pub conversation_id: Option<String>,
    pub quote_of: Option<String>,
    /// Set on a repost/boost/retweet: the id of the original. Reposts are not replies.
    pub repost_of: Option<String>,
    pub language: Option<String>,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    pub visibility: Option<String>,
    pub content_warning: Option<String>,
    pub media_alt: Vec<String>,
    /// The record exactly as the source had it (JSON), or `None` when a reader chose not to keep it.
    pub raw: Option<String>,
    pub provenance: Option<Provenance>,
}

impl Post {
    /// A post with only the identifying fields set; importers fill in the rest.
    pub fn new(platform: Platform, id: impl Into<String>) -> Post {
        Post {
            platform,
            id: id.into(),
            uri: None,
            url: None,
            author: Arc::default(),
            created_at: None,
            text: String::new(),
            reply_to: None,
            reply_to_author: None,
            conversation_id: None,
            quote_of: None,
            repost_of: None,
            language: None,
            hashtags: Vec::new(),
            mentions: Vec::new(),
            visibility: None,
            content_warning: None,
            media_alt: Vec::new(),
            raw: None,
            provenance: None,
        }
    }
}

impl Post {
    /// The author, to change (a private copy if it is shared).
    pub fn author_mut(&mut self) -> &mut Author {
        Arc::make_mut(&mut self.author)
    }

    /// Merge a second copy of this post (same platform and id) into it; returns whether
    /// anything changed.
    ///
    /// A post often arrives more than once, and not always alike: Twitter sends a tweet in full
    /// in `data` and again, with fewer fields, in another page's `includes`; a page fetched a
    /// month later may carry the author's new handle. The rule: the copy with the fuller raw
    /// record (longer JSON) wins every field it has; the other copy only fills fields that are
    /// still empty; between equally full copies the one stored first stays. No copy ever blanks
    /// a field. The result does not depend on the order in which copies are read, and reading
    /// the same copy again changes nothing, which is what makes re-importing harmless.
    pub fn merge(&mut self, newer: Post) -> bool {
        let fuller = match (&self.raw, &newer.raw) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => b.len() > a.len(),
            _ => false,
        };
        self.merge_fields(newer, fuller)
    }

    /// Fill the fields this post lacks from another server's copy of it (same `uri`, another
    /// local id), and nothing else: the stored copy keeps its id, raw JSON and provenance.
    ///
    /// Each Mastodon server knows part of a thread. The copy on a reply's own server often knows
    /// the parent when the server we collected from did not (its `in_reply_to_id` is null there):
    /// that link must reach the stored post, or the thread breaks in two.
    pub fn fill_from(&mut self, other: Post) -> bool {
        let mut other = other;
        other.raw = None;
        other.provenance = None;
        self.merge_fields(other, false)
    }

    fn merge_fields(&mut self, newer: Post, fuller: bool) -> bool {
        let mut changed = false;
        let mut opt = |ours: &mut Option<String>, theirs: Option<String>| {
            if let Some(t) = theirs.filter(|t| !t.is_empty()) {
                if ours.as_deref() != Some(t.as_str())
                    && (fuller || ours.as_deref().is_none_or(str::is_empty))
                {
                    *ours = Some(t);
                    changed = true;
                }
            }
        };
        let n = newer;
        opt(&mut self.uri, n.uri);
        opt(&mut self.url, n.url);
        // The author may be shared with other posts: change a copy, and only if needed.
        let mut author = (*self.author).clone();
        let theirs = Arc::unwrap_or_clone(n.author);
        opt(&mut author.id, theirs.id);
        opt(&mut author.handle, theirs.handle);
        opt(&mut author.display_name, theirs.display_name);
        opt(&mut author.server, theirs.server);
        if author != *self.author {
            self.author = Arc::new(author);
        }
        opt(&mut self.reply_to, n.reply_to);
        opt(&mut self.reply_to_author, n.reply_to_author);
        opt(&mut self.conversation_id, n.conversation_id);
        opt(&mut self.quote_of, n.quote_of);
        opt(&mut self.repost_of, n.repost_of);
        opt(&mut self.language, n.language);
        opt(&mut self.visibility, n.visibility);
        opt(&mut self.content_warning, n.content_warning);
        let take = |ours_empty: bool, differs: bool| differs && (fuller || ours_empty);
        if n.created_at.is_some()
            && take(self.created_at.is_none(), n.created_at != self.created_at)
        {
            self.created_at = n.created_at;
            changed = true;
        }
        if !n.text.is_empty() && take(self.text.is_empty(), n.text != self.text) {
            self.text = n.text;
            changed = true;
        }
        for (ours, theirs) in [
            (&mut self.hashtags, n.hashtags),
            (&mut self.mentions, n.mentions),
            (&mut self.media_alt, n.media_alt),
        ] {
            if !theirs.is_empty() && take(ours.is_empty(), *ours != theirs) {
                *ours = theirs;
                changed = true;
            }
        }
        if fuller {
            self.raw = n.raw;
            self.provenance = n.provenance;
            changed = true;
        } else if self.provenance.is_none() && n.provenance.is_some() {
            self.provenance = n.provenance;
        }
        changed
    }
}

/// A post that the source says exists but did not deliver (Twitter's `errors` array, the focal
/// status of a Mastodon context response): the reason is kept so that a gap in a thread can say
/// *why* the parent is missing, not only that it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub platform: Platform,
    pub id: String,
    pub reason: String,
    /// The missing post's own parent, when the source tells it (a Mastodon context response
    /// leaves out the status it was asked for, but its ancestors end at that status's parent).
    pub reply_to: Option<String>,
}

impl Missing {
    /// The prefix of the reason of a post a collector left out by choice (consent, privacy),
    /// as `left out: author opted out (...)`.
    pub const LEFT_OUT: &'static str = "left out: ";

    /// Was the post left out by the collection's choice, rather than missing from the source?
    pub fn is_left_out(&self) -> bool {
        self.reason.starts_with(Missing::LEFT_OUT)
    }
}

/// What an importer yields for each input record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Post(Box<Post>),
    Missing(Missing),
}

impl Record {
    /// The post, when this record is one.
    pub fn post(&self) -> Option<&Post> {
        match self {
            Record::Post(p) => Some(p),
            Record::Missing(_) => None,
        }
    }

    /// The post, owned, when this record is one.
    pub fn into_post(self) -> Option<Post> {
        match self {
            Record::Post(p) => Some(*p),
            Record::Missing(_) => None,
        }
    }
}

/// `text` on one line (runs of white space become one space), cut after `max_chars`
/// characters with `…`: for messages, tables and labels.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

/// Timestamps are written everywhere as RFC 3339 UTC with milliseconds, e.g. `2017-10-31T22:10:47.000Z`.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The years a post's time may fall in: those RFC 3339 can write (four digits). Outside them
/// [`format_time`] writes `+10000-01-01…` or `-0001-…`, which is not RFC 3339 and which
/// [`parse_time`] cannot read back, so a time kept from a file would come back from the corpus
/// as unknown and `threads --input` and `threads --db` would disagree. Importers refuse such a
/// time as bad input (see `source::read_file`) instead of keeping what they cannot give back.
pub const YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

/// `Ok` when `t` falls in [`YEARS`]; else what is wrong, for an importer's error.
pub fn check_time(t: &DateTime<Utc>) -> Result<(), String> {
    use chrono::Datelike;
    if YEARS.contains(&t.year()) {
        Ok(())
    } else {
        Err(format!(
            "time {} is in year {}, outside the years 0000-9999 that RFC 3339 can write",
            format_time(t),
            t.year()
        ))
    }
}

/// Parse the timestamp forms the sources use: RFC 3339 (`…Z`, `…+00:00`), Twitter's classic
/// `Tue Oct 31 22:10:47 +0000 2017`, and Unix epoch seconds (integer or fractional).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%a %b %d %H:%M:%S %z %Y") {
        return Some(t.with_timezone(&Utc));
    }
    // Forms without a zone (pandas, hand-made corpora) are read as UTC: there is nothing else
    // to go by.
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return epoch_seconds(secs);
    }
    None
}

/// Unix epoch seconds (as ConvoKit writes them) to a timestamp.
pub fn epoch_seconds(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() {
        return None;
    }
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9).round() as u32;
    DateTime::from_timestamp(whole as i64, nanos.min(999_999_999))
}

/// Order ids the way the platforms mint them: numeric ids by value (so `9` < `10`), anything
/// else by bytes. Used wherever output order must be deterministic.
pub fn cmp_ids(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if numeric(a) && numeric(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_timestamp_form() {
        let want = "2017-10-31T22:10:47.000Z";
        for s in [
            "2017-10-31T22:10:47.000Z",
            "2017-10-31T22:10:47+00:00",
            "Tue Oct 31 22:10:47 +0000 2017",
            "1509487847",
            "1509487847.0",
            "2017-10-31 22:10:47",
            "2017-10-31T22:10:47",
        ] {
            assert_eq!(format_time(&parse_time(s).unwrap()), want, "{s}");
        }
        assert!(parse_time("yesterday").is_none());
        assert!(parse_time("").is_none());
    }

    /// Every time inside the years is written as RFC 3339 and read back unchanged; the first
    /// second outside them on either side is refused.
    #[test]
    fn times_in_the_years_round_trip_and_others_are_refused() {
        for secs in [-62_167_219_200.0, 0.0, 1_509_487_847.5, 253_402_300_799.0] {
            let t = epoch_seconds(secs).unwrap();
            assert!(check_time(&t).is_ok(), "{secs}");
            assert_eq!(parse_time(&format_time(&t)), Some(t), "{secs}");
        }
        for (secs, year) in [(253_402_300_800.0, "10000"), (-62_167_219_201.0, "-1")] {
            let t = epoch_seconds(secs).unwrap();
            let err = check_time(&t).unwrap_err();
            assert!(err.contains(&format!("year {year},")), "{err}");
            assert!(
                parse_time(&format_time(&t)).is_none(),
                "not RFC 3339: {secs}"
            );
        }
    }

    #[test]
    fn merging_copies_fills_but_never_blanks_and_keeps_the_fuller_raw() {
        let mut full = Post::new(Platform::Twitter, "1");
        full.text = "hello".into();
        full.hashtags = vec!["cs".into()];
        full.raw = Some(r#"{"id":"1","text":"hello","entities":{}}"#.into());
        let mut partial = Post::new(Platform::Twitter, "1");
        partial.text = "hello".into();
        partial.conversation_id = Some("1".into());
        partial.raw = Some(r#"{"id":"1","text":"hello"}"#.into());

        let mut a = full.clone();
        assert!(a.merge(partial.clone()), "the conversation id is new");
        assert!(!a.merge(partial.clone()));
        assert!(!a.merge(full.clone()));
        let mut b = partial.clone();
        assert!(b.merge(full.clone()));
        assert!(!b.merge(partial));
        assert_eq!(a, b, "order does not matter");
        assert_eq!(a.hashtags, vec!["cs"]);
        assert_eq!(a.raw, full.raw);

        // A handle changed between two fetches: the fuller copy's handle wins, in any order.
        let mut early = full.clone();
        early.author_mut().handle = Some("old_name".into());
        let mut late = full.clone();
        late.author_mut().handle = Some("new_name".into());
        late.raw =
            Some(r#"{"id":"1","text":"hello","entities":{},"context_annotations":[]}"#.into());
        let (mut x, mut y) = (early.clone(), late.clone());
        x.merge(late.clone());
        y.merge(early.clone());
        assert_eq!(x, y);
        assert_eq!(x.author.handle.as_deref(), Some("new_name"));
        assert!(
            !x.merge(early) && !x.merge(late),
            "reading either copy again changes nothing"
        );
    }

    #[test]
    fn numeric_ids_sort_by_value() {
        assert_eq!(cmp_ids("9", "10"), Ordering::Less);
        assert_eq!(cmp_ids("0010", "9"), Ordering::Greater);
        assert_eq!(cmp_ids("abc", "abd"), Ordering::Less);
    }

    #[test]
    fn platforms_say_what_identifies_a_post_and_how_to_link_it() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert!(Platform::Mastodon.uri_is_identity() && Platform::Bluesky.uri_is_identity());
        assert!(!Platform::Twitter.uri_is_identity());

        let id = "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6oveex3ii2l";
        let at = AtUri::parse(id).unwrap();
        assert_eq!(at.authority, "did:plc:z72i7hdynmk6r22z27h6tvur");
        assert_eq!(at.collection, "app.bsky.feed.post");
        assert_eq!(at.rkey, "3l6oveex3ii2l");
        assert_eq!(
            Platform::Bluesky.post_link(Some("bsky.app"), id).as_deref(),
            Some("https://bsky.app/profile/bsky.app/post/3l6oveex3ii2l")
        );
        // Without a usable handle the DID still opens the post; a handle that is not one
        // (from a hostile server) never reaches the path.
        for h in [
            None,
            Some(""),
            Some("handle.invalid"),
            Some("a.b/../x"),
            Some("a.b?q=1"),
        ] {
            assert_eq!(
                Platform::Bluesky.post_link(h, id).as_deref(),
                Some(
                    "https://bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur/post/3l6oveex3ii2l"
                )
            );
        }
        assert_eq!(
            Platform::Twitter.post_link(Some("ana"), "12").as_deref(),
            Some("https://twitter.com/ana/status/12")
        );
        assert_eq!(
            Platform::Twitter.post_link(None, "12").as_deref(),
            Some("https://twitter.com/i/web/status/12")
        );
        assert_eq!(
            Platform::Twitter.post_link(Some("a/../b"), "12").as_deref(),
            Some("https://twitter.com/i/web/status/12")
        );
        assert_eq!(Platform::Mastodon.post_link(Some("ana"), "12"), None);

        // Hostile ids never become links or URL paths.
        for bad in [
            "at://did:plc:abc/app.bsky.feed.post/x/../../y",
            "at://did:plc:abc/app.bsky.feed.post/a?b=c",
            "at://did:plc:abc/app.bsky.feed.post/a#b",
            "at://did:plc:abc/app.bsky.feed.post",
            "https://bsky.app/profile/x/post/y",
            "at://exa mple.com/app.bsky.feed.post/abc",
            "at://did:plc:abc/not an nsid/abc",
        ] {
            assert!(AtUri::parse(bad).is_none(), "{bad}");
            assert!(!Platform::Bluesky.is_valid_id(bad), "{bad}");
            assert_eq!(Platform::Bluesky.post_link(None, bad), None, "{bad}");
        }
        assert!(AtUri::parse("at://alice.bsky.social/app.bsky.feed.post/3k2a").is_some());
        assert!(Platform::Twitter.is_valid_id("1050118621198921728"));
        assert!(!Platform::Twitter.is_valid_id("12a"));
        assert!(Platform::Mastodon.is_valid_id("109372846"));
        assert!(Platform::Mastodon.is_valid_id("AbC-1_x"));
        assert!(!Platform::Mastodon.is_valid_id("1/../2"));
        assert!(!Platform::Mastodon.is_valid_id(""));
    }
}
