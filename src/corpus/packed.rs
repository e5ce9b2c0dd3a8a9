//! Posts as the reading commands hold them in memory.
//!
//! A [`Post`] is built for clarity: twenty-odd fields, most of them `Option<String>`, each its
//! own allocation. Held by the million for a whole run, that costs more than the JSON it came
//! from (about 1.2 KB a post at 1M posts, most of it allocator overhead and struct padding).
//! A [`PackedPost`] keeps the same content in one string buffer (every text field back to
//! back, with the end offset of each) plus the few fixed-size fields, so a post is two or three
//! allocations instead of a dozen. Nothing is dropped but the raw JSON, which reading commands
//! never use and the corpus keeps.
//!
//! [`PackedPost::to_post`] gives the full `Post` back, for the rare places that need one.

use crate::model::{Author, Platform, Post, Provenance};
use chrono::{DateTime, Utc};
use std::sync::{Arc, LazyLock};

/// The text fields kept in the buffer, in buffer order.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Field {
    Id,
    Uri,
    Url,
    Text,
    ReplyTo,
    ReplyToAuthor,
    ConversationId,
    QuoteOf,
    RepostOf,
    Language,
    Visibility,
    ContentWarning,
}

const FIELDS: usize = 12;

/// The names a provenance can hold (the format registry's, then the collectors'), so that a
/// post keeps its provenance in a byte; what any other name becomes is last.
static FORMATS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let names: Vec<_> = crate::source::format::provenance_names()
        .chain(["unknown"])
        .collect();
    assert!(names.len() <= u8::MAX as usize);
    names
});

/// One post, compactly. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedPost {
    buf: Box<str>,
    ends: [u32; FIELDS],
    /// Bit `f` set: field `f` is present (an empty string can be present).
    present: u16,
    platform: Platform,
    format: u8,
    /// Milliseconds since the epoch; `i64::MIN` when unknown.
    created_ms: i64,
    author: Arc<Author>,
    /// Index into the post set's source table; `u32::MAX` when unknown.
    source: u32,
    line: u64,
    /// Hashtags, then mentions, then media descriptions, stored in `buf` after the fields: the
    /// end of each item. One allocation per post (none without items) instead of one per item
    /// and list, which on a million posts is tens of MB.
    item_ends: Box<[u32]>,
    /// How many of the items are hashtags, and how many mentions; the rest are media descriptions.
    item_counts: [u32; 2],
}

impl PackedPost {
    /// Pack a post; `source` is its provenance's index in the caller's source table. The raw
    /// JSON is not kept.
    pub fn pack(post: Post, source: Option<u32>) -> PackedPost {
        let fields: [Option<&str>; FIELDS] = [
            Some(post.id.as_str()),
            post.uri.as_deref(),
            post.url.as_deref(),
            Some(post.text.as_str()),
            post.reply_to.as_deref(),
            post.reply_to_author.as_deref(),
            post.conversation_id.as_deref(),
            post.quote_of.as_deref(),
            post.repost_of.as_deref(),
            post.language.as_deref(),
            post.visibility.as_deref(),
            post.content_warning.as_deref(),
        ];
        let lists = [&post.hashtags, &post.mentions, &post.media_alt];
        let len: usize = fields.iter().flatten().map(|s| s.len()).sum::<usize>()
            + lists
                .iter()
                .flat_map(|l| l.iter())
                .map(String::len)
                .sum::<usize>();
        let mut buf = String::with_capacity(len);
        let mut ends = [0u32; FIELDS];
        let mut present = 0u16;
        for (k, f) in fields.iter().enumerate() {
            if let Some(s) = f {
                buf.push_str(s);
                present |= 1 << k;
            }
            // Offsets fit in u32: a post's text fields together never approach 4 GiB.
            ends[k] = buf.len() as u32;
        }
        let mut item_ends = Vec::with_capacity(lists.iter().map(|l| l.len()).sum());
        for item in lists.iter().flat_map(|l| l.iter()) {
            buf.push_str(item);
            item_ends.push(buf.len() as u32);
        }
        let item_counts = [post.hashtags.len() as u32, post.mentions.len() as u32];
        let (format, line) = match &post.provenance {
            Some(p) => (
                FORMATS
                    .iter()
                    .position(|f| *f == p.format)
                    .unwrap_or(FORMATS.len() - 1) as u8,
                p.line,
            ),
            None => (FORMATS.len() as u8 - 1, 0),
        };
        PackedPost {
            buf: buf.into_boxed_str(),
            ends,
            present,
            platform: post.platform,
            format,
            created_ms: post.created_at.map_or(i64::MIN, |t| t.timestamp_millis()),
            author: post.author,
            source: source.unwrap_or(u32::MAX),
            line,
            item_ends: item_ends.into_boxed_slice(),
            item_counts,
        }
    }

    /// The full post again (without raw JSON). `sources` is the table `source` indexes.
    pub fn to_post(&self, sources: &[Arc<str>]) -> Post {
        let own = |f: Field| self.get(f).map(str::to_string);
        Post {
            platform: self.platform,
            id: self.id().to_string(),
            uri: own(Field::Uri),
            url: own(Field::Url),
            author: self.author.clone(),
            created_at: self.created_at(),
            text: self.text().to_string(),
            reply_to: own(Field::ReplyTo),
            reply_to_author: own(Field::ReplyToAuthor),
            conversation_id: own(Field::ConversationId),
            quote_of: own(Field::QuoteOf),
            repost_of: own(Field::RepostOf),
            language: own(Field::Language),
            hashtags: self.hashtags().map(str::to_string).collect(),
            mentions: self.mentions().map(str::to_string).collect(),
            visibility: own(Field::Visibility),
            content_warning: own(Field::ContentWarning),
            media_alt: self.media_alt().map(str::to_string).collect(),
            raw: None,
            provenance: sources.get(self.source as usize).map(|s| Provenance {
                source: s.clone(),
                line: self.line,
                format: FORMATS[self.format as usize],
            }),
        }
    }

    fn get(&self, f: Field) -> Option<&str> {
        let k = f as usize;
        if self.present & (1 << k) == 0 {
            return None;
        }
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        Some(&self.buf[start..self.ends[k] as usize])
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }
    pub fn id(&self) -> &str {
        self.get(Field::Id).unwrap_or("")
    }
    pub fn uri(&self) -> Option<&str> {
        self.get(Field::Uri)
    }
    pub fn url(&self) -> Option<&str> {
        self.get(Field::Url)
    }
    pub fn text(&self) -> &str {
        self.get(Field::Text).unwrap_or("")
    }
    pub fn reply_to(&self) -> Option<&str> {
        self.get(Field::ReplyTo)
    }
    pub fn reply_to_author(&self) -> Option<&str> {
        self.get(Field::ReplyToAuthor)
    }
    pub fn conversation_id(&self) -> Option<&str> {
        self.get(Field::ConversationId)
    }
    pub fn quote_of(&self) -> Option<&str> {
        self.get(Field::QuoteOf)
    }
    pub fn repost_of(&self) -> Option<&str> {
        self.get(Field::RepostOf)
    }
    pub fn language(&self) -> Option<&str> {
        self.get(Field::Language)
    }
    pub fn visibility(&self) -> Option<&str> {
        self.get(Field::Visibility)
    }
    pub fn content_warning(&self) -> Option<&str> {
        self.get(Field::ContentWarning)
    }
    pub fn author(&self) -> &Author {
        &self.author
    }
    /// The creation time in milliseconds since the epoch: cheaper than [`Self::created_at`]
    /// where posts are only compared (sorting a million posts compares them twenty million
    /// times).
    pub fn created_ms(&self) -> Option<i64> {
        (self.created_ms != i64::MIN).then_some(self.created_ms)
    }
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        (self.created_ms != i64::MIN)
            .then(|| DateTime::from_timestamp_millis(self.created_ms))
            .flatten()
    }
    /// Items `from..to` of the lists stored after the fields.
    fn items(&self, from: usize, to: usize) -> impl ExactSizeIterator<Item = &str> + '_ {
        (from..to).map(move |i| {
            let start = match i {
                0 => self.ends[FIELDS - 1] as usize,
                _ => self.item_ends[i - 1] as usize,
            };
            &self.buf[start..self.item_ends[i] as usize]
        })
    }
    pub fn hashtags(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.items(0, self.item_counts[0] as usize)
    }
    pub fn mentions(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        let from = self.item_counts[0] as usize;
        self.items(from, from + self.item_counts[1] as usize)
    }
    pub fn media_alt(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        let from = (self.item_counts[0] + self.item_counts[1]) as usize;
        self.items(from, self.item_ends.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_time;

    #[test]
    fn every_reader_and_collector_name_survives_packing() {
        let sources = vec![Arc::from("f")];
        for name in crate::source::format::provenance_names().chain(["mastodon-api"]) {
            let mut p = Post::new(Platform::Twitter, "1");
            p.provenance = Some(Provenance {
                source: Arc::from("f"),
                line: 1,
                format: name,
            });
            let back = PackedPost::pack(p, Some(0)).to_post(&sources);
            assert_eq!(back.provenance.unwrap().format, name);
        }
    }

    #[test]
    fn packing_keeps_every_field_but_raw() {
        let mut p = Post::new(Platform::Mastodon, "109");
        p.uri = Some("https://a.example/s/109".into());
        p.url = None;
        p.author = Arc::new(Author {
            id: Some("7".into()),
            handle: Some("ann@a.example".into()),
            display_name: Some("Ann".into()),
            server: Some("a.example".into()),
        });
        p.created_at = parse_time("2022-11-07T15:38:14.103Z");
        p.text = "héllo\n\nworld 🙂".into();
        p.reply_to = Some("108".into());
        p.conversation_id = Some(String::new());
        p.language = Some("en".into());
        p.content_warning = Some("cw".into());
        p.hashtags = vec!["a".into(), "b".into()];
        p.mentions = vec!["".into(), "bob@b.example".into()];
        p.media_alt = vec!["alt".into(), "two\nlines".into()];
        p.provenance = Some(Provenance {
            source: Arc::from("f.jsonl"),
            line: 9,
            format: "mastodon",
        });
        let sources = vec![Arc::from("f.jsonl")];
        let packed = PackedPost::pack(p.clone(), Some(0));
        assert_eq!(packed.to_post(&sources), p);
        assert_eq!(packed.url(), None);
        assert_eq!(
            packed.conversation_id(),
            Some(""),
            "present but empty stays present"
        );
        assert_eq!(packed.text(), "héllo\n\nworld 🙂");
        assert_eq!(packed.hashtags().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(packed.mentions().collect::<Vec<_>>(), ["", "bob@b.example"]);
        assert_eq!(packed.media_alt().len(), 2);
        assert_eq!(
            packed.content_warning(),
            Some("cw"),
            "fields end where items begin"
        );
        p.raw = Some("{}".into());
        assert_eq!(PackedPost::pack(p, Some(0)).to_post(&sources).raw, None);
    }
}
