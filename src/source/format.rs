//! The format registry: every file format rethread reads, declared once.
//!
//! A format is a line in [`formats!`] below (its name on the command line, its help, and the
//! module that reads it) plus that module's [`Spec`]: how to recognise it and how to read it.
//! Everything else comes from here: `--input-format`'s list of values and their help (clap's
//! `ValueEnum`), detection, the error that names the formats when detection fails, and the
//! provenance names the corpus keeps. Adding a format is one new file and one line here.
//!
//! Why detection asks every format rather than a hand-ordered `if` chain: the importers know
//! their own shapes best, and an order that lived in one long function was where a new format
//! broke an old one. A format says how sure it is ([`Match`]); a shape that only a loose check
//! recognises (a flattened twarc2 tweet is just `id`, `text` and an author) yields to any format
//! that recognises the object for certain.

use super::{Context, Run};
use crate::model::Record;
use anyhow::Result;
use serde_json::{Map, Value};
use std::fmt;
use std::io::BufRead;
use std::path::Path;

/// How sure a format is that a JSON object is one of its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    No,
    /// A shape other formats could share: taken only when no format is sure.
    Weak,
    Strong,
}

/// How a format's records are read.
#[derive(Clone, Copy)]
pub(crate) enum Reader {
    /// JSON records, as JSON Lines, an array or one document: the shared readers find the
    /// records and this parses each one.
    Json(fn(&str, &Context) -> Result<Vec<Record>, String>),
    /// A file read its own way (CSV, a Twitter archive's `tweets.js`, a binary repository),
    /// handing records to the run with `Run::take` in file order.
    File(fn(&Path, Box<dyn BufRead + Send>, &mut Run) -> Result<()>),
}

/// What a format's module declares about it (`pub(super) const SPEC`).
pub(crate) struct Spec {
    /// Recognise the format from the first bytes of a file, for formats that are not JSON
    /// records (a CSV header, a JavaScript assignment, a binary header).
    pub sniff: Option<fn(&[u8]) -> bool>,
    /// Recognise one JSON record of the format.
    pub classify: Option<fn(&Map<String, Value>) -> Match>,
    pub read: Reader,
    /// A binary form of the same format (a Bluesky repository's CAR file beside its JSON
    /// responses): recognised by its first bytes and read by its own reader.
    pub binary: Option<Binary>,
}

/// The binary form of a format: its magic and its reader.
pub(crate) struct Binary {
    pub magic: fn(&[u8]) -> bool,
    pub read: fn(&Path, Box<dyn BufRead + Send>, &mut Run) -> Result<()>,
}

impl Spec {
    /// A format of JSON records, known by its records alone (no sniff of the first bytes).
    pub const fn json(
        classify: fn(&Map<String, Value>) -> Match,
        parse: fn(&str, &Context) -> Result<Vec<Record>, String>,
    ) -> Spec {
        Spec {
            sniff: None,
            classify: Some(classify),
            read: Reader::Json(parse),
            binary: None,
        }
    }

    /// How to read a file of this format that starts with `head`: its binary reader when the
    /// head is the binary form's, else its reader.
    pub fn reader(&self, head: &[u8]) -> Reader {
        match &self.binary {
            Some(b) if (b.magic)(head) => Reader::File(b.read),
            _ => self.read,
        }
    }

    /// Does the head of a file show this format before any JSON is parsed?
    fn sniffs(&self, head: &[u8]) -> bool {
        self.sniff.is_some_and(|sniff| sniff(head))
            || self.binary.as_ref().is_some_and(|b| (b.magic)(head))
    }
}

/// Declare the formats: `/// help` then `Variant = "name" => module`, in the order `--help`
/// lists them. The help is what clap shows for the value; the module holds the [`Spec`].
macro_rules! formats {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal => $module:ident, )+) => {
        /// The file formats rethread reads. The names are what `--input-format` accepts.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
        pub enum Format {
            $( $(#[doc = $doc])* #[value(name = $name)] $variant, )+
        }

        impl Format {
            pub const ALL: &'static [Format] = &[$(Format::$variant),+];

            pub fn name(self) -> &'static str {
                match self { $(Format::$variant => $name),+ }
            }

            pub(crate) fn spec(self) -> &'static Spec {
                match self { $(Format::$variant => &super::$module::SPEC),+ }
            }
        }
    };
}

formats! {
    /// Mastodon `Status` JSON: one status, an array, a context `{ancestors, descendants}`, or JSONL.
    Mastodon = "mastodon" => mastodon,
    /// twarc2 JSONL: Twitter API v2 response pages, or twarc2's flattened one-tweet-a-line form.
    Twarc2 = "twarc2" => twarc2,
    /// twarc 1 JSONL: Twitter API v1.1 tweets, one per line (`user`, `full_text`, `retweeted_status`).
    Twarc1 = "twarc1" => twarc1,
    /// A Twitter archive's `tweets.js` (`window.YTD.tweets.part0 = [...]`).
    TweetsJs = "tweets-js" => tweets_js,
    /// Bluesky (AT Protocol): getPostThread, searchPosts/getAuthorFeed/getPosts pages, post views, or a repository export (.car).
    Bluesky = "bluesky" => bluesky,
    /// Customer Support on Twitter (TWCS) CSV, including the pandas re-saved variant.
    Twcs = "twcs" => twcs,
    /// ConvoKit `utterances.jsonl`.
    Convokit = "convokit" => convokit,
}

/// The provenance names of posts that came from a collector rather than a file (a file's
/// posts name their [`Format`]).
pub const COLLECTORS: &[&str] = &["mastodon-api"];

/// Every name a post's provenance can hold: the formats, then the collectors.
pub fn provenance_names() -> impl Iterator<Item = &'static str> {
    Format::ALL
        .iter()
        .map(|f| f.name())
        .chain(COLLECTORS.iter().copied())
}

/// The `'static` provenance name equal to `name`, when it is one (names read back from a
/// corpus are owned strings).
pub fn provenance_name(name: &str) -> Option<&'static str> {
    provenance_names().find(|n| *n == name)
}

impl Format {
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The formats as a list for a message: "mastodon, twarc2, ...".
    pub fn names() -> String {
        Format::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::from_name(s)
            .ok_or_else(|| format!("unknown format {s:?} (known: {})", Format::names()))
    }
}

/// Which importer understands this JSON value: the format surest of it, the first in the
/// registry among equals.
pub fn classify(v: &Value) -> Option<Format> {
    let o = v.as_object()?;
    let mut best = (Match::No, None);
    for &f in Format::ALL {
        if let Some(classify) = f.spec().classify {
            let m = classify(o);
            if m > best.0 {
                best = (m, Some(f));
            }
        }
    }
    best.1
}

/// Tell the format from the first bytes of a file.
pub fn detect(head: &[u8], name: &str) -> Result<Format> {
    if let Some(f) = Format::ALL.iter().find(|f| f.spec().sniffs(head)) {
        return Ok(*f);
    }
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    let first_line = trimmed.lines().next().unwrap_or("");
    let json = trimmed.starts_with('{') || trimmed.starts_with('[');
    // A sample record: the first line if it is a whole value, else the first element or object
    // of the document (which may be cut off at the end of the peeked bytes).
    let sample: Option<Value> = json
        .then(|| {
            serde_json::from_str(first_line.trim())
                .ok()
                .or_else(|| first_value(trimmed))
        })
        .flatten();
    let sample = match sample {
        Some(Value::Array(items)) => items.into_iter().next(),
        other => other,
    };
    if let Some(f) = sample.as_ref().and_then(classify) {
        return Ok(f);
    }
    // JSON Lines whose first record is broken: the first later line that is a record of a
    // known format tells (see `layout`); the broken line is then reported as line 1.
    let later = trimmed.lines().skip(1).find_map(|l| {
        let v: Value = serde_json::from_str(l.trim()).ok()?;
        classify(&v)
    });
    if let Some(f) = later {
        return Ok(f);
    }
    if !json {
        return Err(UnknownFormat {
            file: name.to_string(),
            what: "(not JSON, not a Twitter archive, not a TWCS CSV header, not a CAR file)".into(),
        }
        .into());
    }
    let keys = match &sample {
        Some(Value::Object(m)) => m.keys().take(8).cloned().collect::<Vec<_>>().join(", "),
        Some(_) => "not an object".into(),
        None => "no complete JSON value in the first MiB".into(),
    };
    Err(UnknownFormat {
        file: name.to_string(),
        what: format!("of the first record ({keys})"),
    }
    .into())
}

/// A file whose format detection could not tell. The library names no flag: the command that
/// reads the file says which of its flags forces a format (`import --input-format`, or
/// `--input-format` beside `--input`).
#[derive(Debug, thiserror::Error)]
#[error(
    "{file}: cannot tell the format {what}; the formats are {}",
    Format::names()
)]
pub struct UnknownFormat {
    pub file: String,
    pub what: String,
}

/// The first complete JSON object in a (possibly truncated) document: the document itself, or
/// the first element of a top-level array.
fn first_value(text: &str) -> Option<Value> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    if let Some(Ok(v)) = stream.next() {
        return Some(v);
    }
    let inner = text.trim_start().strip_prefix('[')?;
    serde_json::Deserializer::from_str(inner)
        .into_iter::<Value>()
        .next()?
        .ok()
}

/// The start of a file as text, for the formats that sniff text: the first line that is not
/// blank, after a byte-order mark and leading whitespace, and whether the file opens JSON.
pub(crate) fn first_text_line(head: &[u8]) -> (&str, bool) {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let json = trimmed.starts_with('{') || trimmed.starts_with('[');
    (trimmed.lines().next().unwrap_or(""), json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_from_its_first_record() {
        let cases = [
            (r#"{"id":"1","uri":"u","account":{"id":"2"},"content":"<p>x</p>"}"#, Format::Mastodon),
            (r#"[{"id":"1","uri":"u","account":{"id":"2"},"content":""}]"#, Format::Mastodon),
            ("{\n  \"ancestors\": [],\n  \"descendants\": []\n}", Format::Mastodon),
            (r#"{"data":[{"id":"1","text":"x"}],"includes":{},"meta":{}}"#, Format::Twarc2),
            (r#"{"id":"1","text":"x","author_id":"2","author":{"id":"2"}}"#, Format::Twarc2),
            (r#"{"id":1,"id_str":"1","full_text":"x","user":{"id_str":"2","screen_name":"a"}}"#, Format::Twarc1),
            (r#"{"delete":{"status":{"id":1,"id_str":"1"}}}"#, Format::Twarc1),
            ("window.YTD.tweets.part0 = [ {\"tweet\": {}} ]", Format::TweetsJs),
            (",tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n", Format::Twcs),
            ("tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n", Format::Twcs),
            (r#"{"id":"1","speaker":"a","conversation_id":"1","reply_to":null,"timestamp":1,"text":"x"}"#, Format::Convokit),
        ];
        for (head, want) in cases {
            assert_eq!(detect(head.as_bytes(), "f").unwrap(), want, "{head}");
        }
    }

    #[test]
    fn unknown_format_is_a_clear_error() {
        let err = detect(br#"{"foo": 1, "bar": 2}"#, "data.json").unwrap_err();
        // Typed, so that the command can name its own flag.
        assert!(err.downcast_ref::<UnknownFormat>().is_some());
        let err = err.to_string();
        assert!(err.contains("data.json"), "{err}");
        assert!(!err.contains("--"), "the library names no flag: {err}");
        assert!(err.contains("foo"), "{err}");
        let err = detect(b"hello world\n", "notes.txt")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("notes.txt") && err.contains("cannot tell"),
            "{err}"
        );
    }

    /// The registry is the one list: the error, clap's values and the provenance names all
    /// name every format.
    #[test]
    fn every_format_is_named_wherever_formats_are_listed() {
        use clap::ValueEnum;
        let err = detect(b"hello world\n", "notes.txt")
            .unwrap_err()
            .to_string();
        for f in Format::ALL {
            assert!(err.contains(f.name()), "{err} lacks {f}");
            let value = f.to_possible_value().unwrap();
            assert_eq!(value.get_name(), f.name());
            assert!(value.get_help().is_some(), "{f} has no help");
            assert_eq!(provenance_name(f.name()), Some(f.name()));
        }
        assert_eq!(Format::value_variants().len(), Format::ALL.len());
        assert_eq!(provenance_name("mastodon-api"), Some("mastodon-api"));
        assert_eq!(provenance_name("csv"), None);
    }

    #[test]
    fn format_names_round_trip() {
        for &f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert!("csv".parse::<Format>().is_err());
    }
}
