//! Source stage: turn files a researcher already holds into [`Record`]s.
//!
//! One public entry point, [`read_file`], reads any supported file and hands each record to a
//! sink closure in file order. The sink decides what to do with it (the `import` command
//! upserts into the corpus; `--input` readers keep posts in memory), so this module knows
//! nothing of storage.
//!
//! Why a sink and not a `Vec`: archives are large (a 1M-post twarc2 collection is ~1.7 GB), so
//! records stream through. Why file order matters: when a record is malformed we stop *after*
//! every record before it has reached the sink, so the caller can keep (commit) them: nothing
//! imported before a bad record is lost.
//!
//! The module is split by job:
//!
//! - [`format`]: the registry of formats, one line each, and detection. Each format lives in
//!   its own file and declares a `SPEC` there: how to recognise it and how to read it
//!   (`parse_record(json, &Context)` for JSON records, or a reader of its own for CSV and the
//!   like). Detection looks at the first record, never at the file name alone, because
//!   researchers rename files freely.
//! - this file: [`read_file`], which opens a file, finds its format and layout, and hands
//!   records on, with the checks every record passes (`admit`) and JSON documents.
//! - `jsonl`: the JSON Lines reader, where large archives spend their time.
//! - `collect` (with the `collect` feature): what every collector shares; the collectors
//!   themselves are `mastodon_api` and `twitter_api`, over the HTTP layer in `net`.

pub mod bluesky;
#[cfg(feature = "collect")]
pub mod bluesky_api;
pub mod convokit;
pub mod format;
pub mod html_text;
mod jsonl;
pub mod mastodon;
// The collectors and their HTTP layer: the `collect` feature (default; see Cargo.toml).
#[cfg(feature = "collect")]
mod collect;
#[cfg(feature = "collect")]
pub mod mastodon_api;
#[cfg(feature = "collect")]
pub mod net;
pub mod twarc1;
pub mod twarc2;
pub mod twcs;
pub mod tweets_js;
#[cfg(feature = "collect")]
pub mod twitter_api;

#[cfg(feature = "collect")]
pub use collect::{Bars, OptionError};
pub use format::{classify, detect, Format, UnknownFormat};

use crate::model::{Provenance, Record};
use anyhow::{Context as _, Result};
use format::Reader;
use jsonl::{layout, Layout};
use serde_json::value::RawValue;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// How to read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Force a format instead of detecting it.
    pub format: Option<Format>,
    /// Go on past malformed records, counting them, instead of stopping at the first.
    pub skip_bad: bool,
    /// Keep each record's raw JSON on the post (the corpus stores it; in-memory readers drop it).
    pub keep_raw: bool,
}

/// What a record-level importer needs to know about where it is.
pub struct Context {
    pub source: Arc<str>,
    pub line: u64,
    pub format: Format,
    pub keep_raw: bool,
}

impl Context {
    pub fn provenance(&self) -> Provenance {
        Provenance {
            source: self.source.clone(),
            line: self.line,
            format: self.format.name(),
        }
    }

    /// The raw JSON to keep on a post, if the reader wants it.
    pub fn raw(&self, json: &str) -> Option<String> {
        self.keep_raw.then(|| json.to_owned())
    }
}

/// A record that could not be read, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub file: String,
    pub line: u64,
    pub message: String,
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// A malformed record, when not skipping: the error names file and line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadRecordError(pub BadRecord);

/// What reading one file gave.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub file: String,
    pub format: Format,
    /// Input records read (lines, rows, array elements), good or bad.
    pub records: u64,
    pub posts: u64,
    /// Of the posts, how many are reposts (boosts, retweets): shares, not replies.
    pub reposts: u64,
    pub missing: u64,
    /// Malformed records passed over with `skip_bad`.
    pub skipped: Vec<BadRecord>,
    /// Things the researcher should know about the file as a whole (e.g. no author known).
    pub warnings: Vec<String>,
}

/// Read one file and hand every record to `sink`, in file order.
///
/// On a malformed record this returns a [`BadRecordError`] naming file and line, after every
/// record before it has been given to the sink; with `opts.skip_bad` it records the problem in
/// the report and goes on. An error from the sink stops reading at once.
pub fn read_file(
    path: &Path,
    opts: &ReadOptions,
    progress: &indicatif::ProgressBar,
    sink: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<FileReport> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?;
    // A pipe (`/dev/stdin`, a FIFO fed by `zcat`) has no length: the head read from it is
    // never the whole file, and the progress bar counts bytes without an end.
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    let len = match file.metadata() {
        Ok(m) if regular => m.len(),
        _ => u64::MAX,
    };
    progress.set_length(if regular { len } else { 0 });
    progress.set_position(0);
    let reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(1 << 20, file));
    let peeked = peek(reader, len, &name)?;
    let (head, whole) = (&peeked.head, peeked.head.len() as u64 >= len);
    if whole && head.iter().all(u8::is_ascii_whitespace) {
        // An empty collection (a search that found nothing) is not an error; say so, though.
        return Ok(FileReport {
            file: name,
            format: opts.format.unwrap_or(Format::Twarc2),
            records: 0,
            posts: 0,
            reposts: 0,
            missing: 0,
            skipped: Vec::new(),
            warnings: vec!["the file is empty".into()],
        });
    }
    let format = match opts.format {
        Some(f) => f,
        None => detect(head, &name)?,
    };
    // Only JSON records come as JSON Lines or as one document.
    let read = format.spec().reader(head);
    let lines = matches!(read, Reader::Json(_)) && layout(head, whole) == Layout::Lines;
    let reader = peeked.into_reader();
    let mut run = Run {
        report: FileReport {
            file: name.clone(),
            format,
            records: 0,
            posts: 0,
            reposts: 0,
            missing: 0,
            skipped: Vec::new(),
            warnings: Vec::new(),
        },
        source: Arc::from(name.as_str()),
        opts,
        sink,
    };
    match read {
        Reader::File(read) => read(path, reader, &mut run)?,
        Reader::Json(parse) if lines => run.jsonl(reader, parse, progress)?,
        Reader::Json(parse) => {
            let text = read_rest(reader, &name)?;
            run.document(&text, 0, &parse)?;
        }
    }
    if regular {
        progress.set_position(len);
    }
    Ok(run.report)
}

/// Look at the start of the file without losing it, handed back in front of the rest of the
/// reader (the caller reads on from the start): the buffered first MiB, and on until it holds
/// the first two lines that are not blank, however long (a twarc2 page of 500 tweets with its
/// expansions is one line of a few MiB). Two, because when the first is broken [`layout`]
/// looks at the next to tell JSON Lines from a document.
fn peek(mut reader: Box<dyn BufRead + Send>, len: u64, name: &str) -> Result<Peeked> {
    let buf = reader
        .fill_buf()
        .with_context(|| format!("{name}: cannot read"))?;
    // Skip a UTF-8 byte-order mark, which some Windows tools write.
    if buf.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    let head = reader
        .fill_buf()
        .with_context(|| format!("{name}: cannot read"))?
        .to_vec();
    let full_lines = |bytes: &[u8]| {
        bytes
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| l.ends_with(b"\n") && !l.iter().all(u8::is_ascii_whitespace))
            .take(2)
            .count()
    };
    // A binary file (a CAR repository export) has no lines to look for: reading on to two
    // newlines could read all of it into memory. Its first buffer is enough to know it by.
    let binary = std::str::from_utf8(&head).is_err_and(|e| e.error_len().is_some());
    if binary || full_lines(&head) == 2 || head.len() as u64 >= len {
        // A copy of what the reader still holds in its buffer.
        return Ok(Peeked {
            head,
            taken: false,
            rest: reader,
        });
    }
    let mut head = Vec::new();
    let mut found = 0;
    while found < 2 {
        let start = head.len();
        let n = reader
            .read_until(b'\n', &mut head)
            .with_context(|| format!("{name}: cannot read"))?;
        if n == 0 {
            break;
        }
        found += full_lines(&head[start..]);
    }
    Ok(Peeked {
        head,
        taken: true,
        rest: reader,
    })
}

/// The start of a file, looked at before it is read ([`peek`]).
struct Peeked {
    head: Vec<u8>,
    /// Whether `head` was read out of `rest` (and goes back in front of it), or is a copy of
    /// what `rest` still holds in its buffer.
    taken: bool,
    rest: Box<dyn BufRead + Send>,
}

impl Peeked {
    /// The file from its start. A head read out of the file goes back in front of the rest
    /// itself, not a copy of it: on a file of one 600 MB line, a copy is 600 MB more.
    fn into_reader(self) -> Box<dyn BufRead + Send> {
        if self.taken {
            Box::new(std::io::Cursor::new(self.head).chain(self.rest))
        } else {
            self.rest
        }
    }
}

pub(crate) fn read_rest(mut reader: impl Read, name: &str) -> Result<String> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .with_context(|| format!("{name}: cannot read"))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{name}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Parse one record's JSON into an importer's type, or say what is wrong with it: broken
/// syntax (`malformed JSON: …`), or well-formed JSON holding a value of the wrong type, named by
/// its field and what was found there (``unexpected JSON at `retweeted_status.id`: invalid
/// type: string "5", expected a whole number``). serde_json alone names neither the field
/// nor, for numbers, what it wanted in words (`expected u64`).
///
/// The field is found by parsing again with the path tracked, only when the first parse has
/// failed: good records, nearly all of them, pay nothing for it.
pub(crate) fn from_json<'a, T: serde::Deserialize<'a>>(json: &'a str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| {
        let what = e
            .to_string()
            .replace("expected u64", "expected a whole number");
        if e.classify() != serde_json::error::Category::Data {
            return format!("malformed JSON: {what}");
        }
        let mut de = serde_json::Deserializer::from_str(json);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(at) if !matches!(at.path().to_string().as_str(), "" | ".") => {
                format!("unexpected JSON at `{}`: {what}", at.path())
            }
            _ => format!("unexpected JSON: {what}"),
        }
    })
}

/// The checks every importer's output passes before it reaches the sink, made once here rather
/// than in each importer, so that no format can forget one:
///
/// - an id that is not blank: an empty id names no post, and every record without one would
///   become the same post;
/// - a time in the years RFC 3339 can write ([`crate::model::check_time`]): the corpus could
///   store it but not give it back, so reading the file and reading the corpus would disagree.
///
/// Either fault makes the whole input record bad (named by file and line, skipped with
/// `--skip-bad`), as any other fault in it would.
fn admit(records: Vec<Record>) -> Result<Vec<Record>, String> {
    for r in &records {
        match r {
            Record::Post(p) => {
                if p.id.trim().is_empty() {
                    return Err(format!("a post with an empty id ({:?})", p.id));
                }
                if let Some(t) = &p.created_at {
                    crate::model::check_time(t).map_err(|e| format!("post {}: {e}", p.id))?;
                }
            }
            Record::Missing(m) if m.id.trim().is_empty() => {
                return Err(format!("a missing-post note with an empty id ({:?})", m.id));
            }
            Record::Missing(_) => {}
        }
    }
    Ok(records)
}

/// One file being read: the report so far and where records go.
pub(crate) struct Run<'a> {
    pub(crate) report: FileReport,
    pub(crate) source: Arc<str>,
    pub(crate) opts: &'a ReadOptions,
    sink: &'a mut dyn FnMut(Record) -> Result<()>,
}

impl Run<'_> {
    fn context(&self, line: u64) -> Context {
        Context {
            source: self.source.clone(),
            line,
            format: self.report.format,
            keep_raw: self.opts.keep_raw,
        }
    }

    /// Account for one input record and pass its output on, or report it as bad.
    pub(crate) fn take(&mut self, line: u64, result: Result<Vec<Record>, String>) -> Result<()> {
        self.report.records += 1;
        match result.and_then(admit) {
            Ok(records) => {
                for r in records {
                    match &r {
                        Record::Post(p) => {
                            self.report.posts += 1;
                            self.report.reposts += u64::from(p.repost_of.is_some());
                        }
                        Record::Missing(_) => self.report.missing += 1,
                    }
                    (self.sink)(r)?;
                }
                Ok(())
            }
            Err(message) => {
                let bad = BadRecord {
                    file: self.report.file.clone(),
                    line,
                    message,
                };
                if self.opts.skip_bad {
                    self.report.skipped.push(bad);
                    Ok(())
                } else {
                    Err(BadRecordError(bad).into())
                }
            }
        }
    }

    /// A whole JSON document: an array (one record per element) or one object. `offset` is where
    /// the JSON starts in `text`, so that line numbers count from the top of the file.
    /// `parse` reads one record.
    pub(crate) fn document(
        &mut self,
        text: &str,
        offset: usize,
        parse: &dyn Fn(&str, &Context) -> Result<Vec<Record>, String>,
    ) -> Result<()> {
        let body = &text[offset..];
        // Line numbers are counted on from the previous place asked about, never from the top:
        // elements come in file order, so a large array is scanned once, not once per element.
        let mut counted = (0usize, 1u64);
        let mut line_of = |ptr: *const u8| -> u64 {
            let at = (ptr as usize)
                .saturating_sub(text.as_ptr() as usize)
                .min(text.len());
            let (from, line) = counted;
            let from = from.min(at);
            let line = line
                + text.as_bytes()[from..at]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64;
            counted = (at, line);
            line
        };
        if body.trim_start().starts_with('[') {
            let body_line = line_of(body.as_ptr());
            let items: Vec<&RawValue> = serde_json::from_str(body).map_err(|e| {
                let line = e.line() as u64 + body_line - 1;
                BadRecordError(BadRecord {
                    file: self.report.file.clone(),
                    line,
                    message: format!("malformed JSON: {e}"),
                })
            })?;
            for item in items {
                let line = line_of(item.get().as_ptr());
                let cx = self.context(line);
                let result = parse(item.get(), &cx);
                self.take(line, result)?;
            }
        } else {
            let cx = self.context(line_of(body.as_ptr()));
            let result = match serde_json::from_str::<&RawValue>(body) {
                Ok(raw) => parse(raw.get(), &cx),
                Err(e) => Err(format!("malformed JSON: {e}")),
            };
            self.take(cx.line, result)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::jsonl::BATCH_BYTES;
    use super::*;

    #[test]
    fn a_line_that_is_not_utf8_is_named_by_line_and_column_or_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mixed.jsonl");
        let good =
            |id: u32| format!(r#"{{"id":"{id}","content":"<p>x</p>","account":{{"id":"1"}}}}"#);
        let mut bytes = format!("{}\n", good(1)).into_bytes();
        bytes.extend_from_slice(b"{\"id\":\"2\",\"content\":\"\xff\"}\n");
        bytes.extend_from_slice(format!("{}\n", good(3)).as_bytes());
        std::fs::write(&file, bytes).unwrap();
        let read = |skip_bad: bool| {
            let mut ids = Vec::new();
            let opts = ReadOptions {
                skip_bad,
                ..ReadOptions::default()
            };
            let result = read_file(&file, &opts, &indicatif::ProgressBar::hidden(), &mut |r| {
                if let Record::Post(p) = r {
                    ids.push(p.id.clone());
                }
                Ok(())
            });
            (result, ids)
        };
        let (result, ids) = read(false);
        let err = result.unwrap_err();
        let bad = err.downcast_ref::<BadRecordError>().expect("a bad record");
        assert_eq!((bad.0.line, ids), (2, vec!["1".to_string()]));
        assert!(bad.0.message.contains("column 22"), "{}", bad.0.message);
        let (result, ids) = read(true);
        let report = result.unwrap();
        assert_eq!(ids, ["1", "3"]);
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].line, 2);
    }

    #[test]
    fn a_bad_line_deep_in_a_large_file_is_named_by_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("many.jsonl");
        let good = r#"{"id":"1","content":"<p>x</p>","account":{"id":"1"}}"#;
        let mut text = String::new();
        for _ in 0..(BATCH_BYTES / good.len() + 100) {
            text.push_str(good);
            text.push('\n');
        }
        let lines = text.lines().count();
        text.push_str("{\"id\": \"2\", \"content\": \n");
        std::fs::write(&file, &text).unwrap();
        let mut seen = 0;
        let err = read_file(
            &file,
            &ReadOptions::default(),
            &indicatif::ProgressBar::hidden(),
            &mut |_| {
                seen += 1;
                Ok(())
            },
        )
        .unwrap_err();
        let bad = err.downcast_ref::<BadRecordError>().expect("a bad record");
        assert_eq!(bad.0.line, lines as u64 + 1);
        assert_eq!(seen, lines, "every record before the bad one was handed on");
    }

    #[test]
    fn a_first_line_longer_than_the_buffer_is_still_detected_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.jsonl");
        let long_text = "x".repeat(3 << 20);
        let first = serde_json::json!({"id": "1", "content": format!("<p>{long_text}</p>"), "account": {"id": "1"}});
        let second = serde_json::json!({"id": "2", "in_reply_to_id": "1", "content": "<p>hi</p>", "account": {"id": "2"}});
        std::fs::write(&file, format!("\u{feff}{first}\n{second}\n")).unwrap();
        let mut ids = Vec::new();
        let report = read_file(
            &file,
            &ReadOptions::default(),
            &indicatif::ProgressBar::hidden(),
            &mut |r| {
                if let Record::Post(p) = r {
                    ids.push((p.id.clone(), p.text.len()));
                }
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(report.format, Format::Mastodon);
        assert_eq!(ids, vec![("1".to_string(), 3 << 20), ("2".to_string(), 2)]);
    }

    #[test]
    fn array_elements_report_their_own_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("statuses.json");
        // Elements on lines 2, 3-5, 6 and 7; the ones on lines 3 and 7 have no id.
        let text = "[\n  {\"id\": \"1\", \"content\": \"\", \"account\": {}},\n  {\n    \"content\": \"\", \"account\": {}\n  },\n  {\"id\": \"3\", \"content\": \"\", \"account\": {}},\n  {\"content\": \"\", \"account\": {}}\n]\n";
        std::fs::write(&file, text).unwrap();
        let opts = ReadOptions {
            format: Some(Format::Mastodon),
            skip_bad: true,
            keep_raw: false,
        };
        let mut lines = Vec::new();
        let report = read_file(&file, &opts, &indicatif::ProgressBar::hidden(), &mut |r| {
            if let Record::Post(p) = r {
                lines.push((p.id.clone(), p.provenance.map(|p| p.line)));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            lines,
            vec![("1".to_string(), Some(2)), ("3".to_string(), Some(6))]
        );
        let bad: Vec<u64> = report.skipped.iter().map(|b| b.line).collect();
        assert_eq!(bad, vec![3, 7]);
    }

    /// An empty or blank id names no post: every importer's record holding one is bad, named
    /// by file and line, and skipped with `--skip-bad`.
    #[test]
    fn every_importer_refuses_a_blank_id() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (Format::Mastodon, "m.jsonl", r#"{"id":" ","content":"<p>x</p>","account":{"id":"1"}}"#),
            (Format::Twarc2, "t2.jsonl", r#"{"id":"","text":"x","author_id":"1"}"#),
            (Format::Twarc2, "t2p.jsonl", r#"{"data":[{"id":"  ","text":"x","author_id":"1"}],"meta":{}}"#),
            (Format::Twarc1, "t1.jsonl", r#"{"id_str":" ","full_text":"x","user":{"id_str":"1","screen_name":"a"}}"#),
            (Format::Twarc1, "t1d.jsonl", r#"{"delete":{"status":{"id_str":"\t"}}}"#),
            (Format::Convokit, "c.jsonl", r#"{"id":"","speaker":"a","conversation_id":"1","reply_to":null,"timestamp":1,"text":"x"}"#),
            (Format::TweetsJs, "tweets.js", r#"window.YTD.tweets.part0 = [{"tweet":{"id_str":"","full_text":"x"}}]"#),
            (Format::Twcs, "twcs.csv", "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n ,a,True,Tue Oct 31 22:10:47 +0000 2017,x,,"),
        ];
        let good = |f: Format| match f {
            Format::Mastodon => r#"{"id":"9","content":"<p>x</p>","account":{"id":"1"}}"#,
            Format::Twarc2 => r#"{"id":"9","text":"x","author_id":"1"}"#,
            Format::Twarc1 => {
                r#"{"id_str":"9","full_text":"x","user":{"id_str":"1","screen_name":"a"}}"#
            }
            Format::Convokit => {
                r#"{"id":"9","speaker":"a","conversation_id":"9","reply_to":null,"timestamp":1,"text":"x"}"#
            }
            _ => "",
        };
        for (format, name, text) in cases {
            let file = dir.path().join(name);
            // In JSON Lines, a good record after the bad one shows that skipping goes on.
            let jsonl = !matches!(format, Format::TweetsJs | Format::Twcs);
            let text = if jsonl {
                format!("{text}\n{}\n", good(format))
            } else {
                text.to_string()
            };
            std::fs::write(&file, text).unwrap();
            for skip_bad in [false, true] {
                let opts = ReadOptions {
                    format: Some(format),
                    skip_bad,
                    keep_raw: false,
                };
                let mut ids = Vec::new();
                let result = read_file(&file, &opts, &indicatif::ProgressBar::hidden(), &mut |r| {
                    ids.push(match r {
                        Record::Post(p) => p.id,
                        Record::Missing(m) => m.id,
                    });
                    Ok(())
                });
                let bad = if skip_bad {
                    let report = result.unwrap();
                    assert_eq!(report.skipped.len(), 1, "{name}");
                    report.skipped[0].clone()
                } else {
                    let err = result.unwrap_err();
                    err.downcast_ref::<BadRecordError>()
                        .expect("a bad record")
                        .0
                        .clone()
                };
                let line = if format == Format::Twcs { 2 } else { 1 };
                assert_eq!(
                    (bad.file.as_str(), bad.line),
                    (file.to_str().unwrap(), line),
                    "{name}"
                );
                // ConvoKit and TWCS said so before the shared check, in their own words.
                let said = ["empty id", "has no id", "bad tweet_id"];
                assert!(
                    said.iter().any(|s| bad.message.contains(s)),
                    "{name}: {}",
                    bad.message
                );
                let want: Vec<&str> = if skip_bad && jsonl { vec!["9"] } else { vec![] };
                assert_eq!(ids, want, "{name}, skip_bad {skip_bad}");
            }
        }
    }
}
