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
//! Each format lives in its own file and exposes `parse_record(json, &Context)` (or, for CSV,
//! its own reader). Format detection looks at the first record, never at the file name alone,
//! because researchers rename files freely.

pub mod convokit;
pub mod html_text;
pub mod mastodon;
// The collectors and their HTTP layer: the `collect` feature (default; see Cargo.toml).
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

use crate::model::{Provenance, Record};
use anyhow::{bail, Context as _, Result};
use rayon::prelude::*;
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// The file formats rethread reads. The names are what `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Mastodon `Status` JSON: one status, an array, a context `{ancestors, descendants}`, or JSONL.
    Mastodon,
    /// twarc2 JSONL: Twitter API v2 response pages, or twarc2's flattened one-tweet-a-line form.
    Twarc2,
    /// twarc 1 JSONL: Twitter API v1.1 tweets, one per line (`user`, `full_text`, `retweeted_status`).
    Twarc1,
    /// A Twitter archive's `tweets.js` (`window.YTD.tweets.part0 = [...]`).
    TweetsJs,
    /// Customer Support on Twitter (TWCS) CSV, including the pandas re-saved variant.
    Twcs,
    /// ConvoKit `utterances.jsonl`.
    Convokit,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Mastodon,
        Format::Twarc2,
        Format::Twarc1,
        Format::TweetsJs,
        Format::Twcs,
        Format::Convokit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Mastodon => "mastodon",
            Format::Twarc2 => "twarc2",
            Format::Twarc1 => "twarc1",
            Format::TweetsJs => "tweets-js",
            Format::Twcs => "twcs",
            Format::Convokit => "convokit",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
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
        Format::from_name(s).ok_or_else(|| {
            let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
            format!("unknown format {s:?} (known: {})", names.join(", "))
        })
    }
}

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

/// The progress bars a collector updates: posts stored, threads (or conversations) asked,
/// and requests sent, whose message shows rate-limit waits.
#[derive(Clone)]
pub struct Bars {
    pub posts: indicatif::ProgressBar,
    pub threads: indicatif::ProgressBar,
    pub requests: indicatif::ProgressBar,
}

impl Bars {
    pub fn hidden() -> Bars {
        Bars {
            posts: indicatif::ProgressBar::hidden(),
            threads: indicatif::ProgressBar::hidden(),
            requests: indicatif::ProgressBar::hidden(),
        }
    }
}

/// Run a collector's `work` to its end, or until Ctrl-C: `None` when interrupted. Dropping
/// `work` there is safe: a collector writes in transactions, and an unfinished one rolls back,
/// so the same command resumes from what was committed.
#[cfg(feature = "collect")]
pub(crate) async fn until_ctrl_c(
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> Option<anyhow::Result<()>> {
    tokio::select! {
        r = work => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    }
}

/// Record how a collector's run ended (what [`until_ctrl_c`] gave) in its summary:
/// `interrupted` on Ctrl-C, the error in `errors` when it stopped on one. True only when it ran
/// to its end and no error was recorded, during the run or now: the job is done.
#[cfg(feature = "collect")]
pub(crate) fn settle(
    outcome: Option<anyhow::Result<()>>,
    interrupted: &mut bool,
    errors: &mut Vec<String>,
) -> bool {
    match outcome {
        None => {
            *interrupted = true;
            false
        }
        Some(Ok(())) => errors.is_empty(),
        Some(Err(e)) => {
            errors.push(format!("{e:#}"));
            false
        }
    }
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
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.set_length(len);
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
            missing: 0,
            skipped: Vec::new(),
            warnings: vec!["the file is empty".into()],
        });
    }
    let format = match opts.format {
        Some(f) => f,
        None => detect(head, &name)?,
    };
    // Only JSON formats come as JSON Lines or as one document.
    let lines =
        !matches!(format, Format::Twcs | Format::TweetsJs) && layout(head, whole) == Layout::Lines;
    let reader = peeked.into_reader();
    let mut run = Run {
        report: FileReport {
            file: name.clone(),
            format,
            records: 0,
            posts: 0,
            missing: 0,
            skipped: Vec::new(),
            warnings: Vec::new(),
        },
        source: Arc::from(name.as_str()),
        opts,
        sink,
    };
    match format {
        Format::Twcs => {
            let mut err = None;
            let source = run.source.clone();
            twcs::read(reader, &source, opts.keep_raw, |line, result| {
                if err.is_none() {
                    if let Err(e) = run.take(line, result) {
                        err = Some(e);
                    }
                }
                err.is_none()
            })
            .with_context(|| format!("{name}: cannot read CSV"))?;
            if let Some(e) = err {
                return Err(e);
            }
        }
        Format::TweetsJs => {
            let text = read_rest(reader, &name)?;
            let body = tweets_js::strip_assignment(&text)
                .with_context(|| format!("{name}: not a Twitter archive file"))?;
            let offset = text.len() - body.len();
            let sidecar = tweets_js::Sidecar::find(path);
            if let Some(problem) = &sidecar.problem {
                run.report.warnings.push(format!(
                    "account.js beside it could not be used ({problem}): posts have no author"
                ));
            } else if sidecar.username.is_none() {
                run.report.warnings.push(
                    "no account.js beside it: the archive's owner is unknown, posts have no author"
                        .into(),
                );
            }
            run.document(&text, offset, format, &sidecar)?;
        }
        _ => {
            if lines {
                run.jsonl(reader, format, progress)?;
            } else {
                let text = read_rest(reader, &name)?;
                run.document(&text, 0, format, &tweets_js::Sidecar::default())?;
            }
        }
    }
    progress.set_position(len);
    Ok(run.report)
}

/// How the records of a JSON file are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// JSON Lines: one record a line; blank lines are passed over, a bad line is a bad record.
    Lines,
    /// One JSON document (an object, or an array of records) over any number of lines.
    Document,
}

/// Tell JSON Lines from one JSON document by the start of the file (`head`, which holds at
/// least its first two lines that are not blank; `whole` when it is the whole file).
///
/// Blank lines never decide. A first line that is a whole JSON object means JSON Lines. When
/// it is not (a pretty-printed `[` or `{` opening a document, or a JSON Lines file whose first
/// record is broken), the head is read as a document: a value that ends with the file, or runs
/// on past the head (a large document), is one. If that fails too, a later line of the head
/// that is a whole object standing at the start of its line shows JSON Lines with a bad line;
/// without one, it is a broken document, and reading it as one names the line of the fault.
///
/// Why it matters: read as one document, a JSON Lines file is a single bad record, so a blank
/// or broken first line would lose every record after it.
fn layout(head: &[u8], whole: bool) -> Layout {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // The head may end inside a character; what comes before is enough.
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    // Only complete lines: the head may end inside one (unless it is the whole file).
    let complete = match text.rfind('\n') {
        _ if whole => text,
        Some(i) => &text[..i],
        None => "",
    };
    let mut lines = complete.split('\n').filter(|l| !l.trim().is_empty());
    if lines.next().is_some_and(|l| is_object(l.trim())) {
        return Layout::Lines;
    }
    let start = text.trim_start();
    let mut values = serde_json::Deserializer::from_str(start).into_iter::<&RawValue>();
    match values.next() {
        Some(Ok(_)) if start[values.byte_offset()..].trim().is_empty() => return Layout::Document,
        Some(Err(e)) if e.is_eof() && !whole => return Layout::Document,
        _ => {}
    }
    if lines.any(|l| l.starts_with('{') && is_object(l.trim_end())) {
        Layout::Lines
    } else {
        Layout::Document
    }
}

/// A whole JSON object and nothing else.
fn is_object(text: &str) -> bool {
    text.starts_with('{') && serde_json::from_str::<&RawValue>(text).is_ok()
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
    if full_lines(&head) == 2 || head.len() as u64 >= len {
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

fn read_rest(mut reader: impl Read, name: &str) -> Result<String> {
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

/// Tell the format from the first bytes of a file.
pub fn detect(head: &[u8], name: &str) -> Result<Format> {
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    if trimmed.starts_with("window.YTD.") {
        return Ok(Format::TweetsJs);
    }
    let first_line = trimmed.lines().next().unwrap_or("");
    let json = trimmed.starts_with('{') || trimmed.starts_with('[');
    if !json && twcs::is_header(first_line) {
        return Ok(Format::Twcs);
    }
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
        bail!(
            "{name}: cannot tell the format (not JSON, not a Twitter archive, not a TWCS CSV header); \
             use --format with one of: {}",
            Format::ALL.map(|f| f.name()).join(", ")
        );
    }
    let keys = match &sample {
        Some(Value::Object(m)) => m.keys().take(8).cloned().collect::<Vec<_>>().join(", "),
        Some(_) => "not an object".into(),
        None => "no complete JSON value in the first MiB".into(),
    };
    bail!(
        "{name}: cannot tell the format of the first record ({keys}); use --format with one of: {}",
        Format::ALL.map(|f| f.name()).join(", ")
    )
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

/// Which importer understands this object.
pub fn classify(v: &Value) -> Option<Format> {
    let o = v.as_object()?;
    let has = |k: &str| o.contains_key(k);
    if has("ancestors") || has("descendants") {
        return Some(Format::Mastodon);
    }
    if has("account") && (has("content") || has("uri")) {
        return Some(Format::Mastodon);
    }
    if has("data") && (has("includes") || has("meta") || has("__twarc") || has("errors")) {
        return Some(Format::Twarc2);
    }
    if (has("speaker") || has("user")) && (has("reply_to") || has("reply-to")) && has("text") {
        return Some(Format::Convokit);
    }
    // API v1.1 (twarc 1): the author inside the tweet, and stream notices.
    if has("id_str")
        && o.get("user")
            .is_some_and(|u| u.get("screen_name").is_some())
    {
        return Some(Format::Twarc1);
    }
    if o.get("delete").is_some_and(|d| d.get("status").is_some()) {
        return Some(Format::Twarc1);
    }
    if o.get("tweet")
        .is_some_and(|t| t.get("full_text").is_some() || t.get("id_str").is_some())
    {
        return Some(Format::TweetsJs);
    }
    if has("id")
        && has("text")
        && (has("author_id")
            || has("author")
            || has("edit_history_tweet_ids")
            || has("conversation_id"))
    {
        return Some(Format::Twarc2);
    }
    None
}

/// Parse one JSON record with the importer of `format`.
/// `sidecar` is what a Twitter archive's `account.js` says (empty for other formats).
fn parse_json(
    format: Format,
    json: &str,
    cx: &Context,
    sidecar: &tweets_js::Sidecar,
) -> Result<Vec<Record>, String> {
    match format {
        Format::Mastodon => mastodon::parse_record(json, cx),
        Format::Twarc2 => twarc2::parse_record(json, cx),
        Format::Twarc1 => twarc1::parse_record(json, cx),
        Format::Convokit => convokit::parse_record(json, cx),
        Format::TweetsJs => tweets_js::parse_record(json, cx, sidecar),
        Format::Twcs => Err("TWCS is a CSV format, not JSON".into()),
    }
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
struct Run<'a> {
    report: FileReport,
    source: Arc<str>,
    opts: &'a ReadOptions,
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
    fn take(&mut self, line: u64, result: Result<Vec<Record>, String>) -> Result<()> {
        self.report.records += 1;
        match result.and_then(admit) {
            Ok(records) => {
                for r in records {
                    match &r {
                        Record::Post(_) => self.report.posts += 1,
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

    /// JSON Lines, in three overlapping stages: one thread reads batches of lines, one parses
    /// each batch on all cores, and this thread hands the records on in file order. Reading,
    /// parsing and storing a large file then take about as long as the slowest of them, not
    /// their sum. Bounded channels keep at most a few batches in memory; when the sink fails,
    /// dropping the receiving end stops the other stages.
    ///
    /// A batch is one buffer of about 4 MiB holding whole lines, and it goes back to the reader
    /// once parsed. Reading each line into its own growing `Vec` instead cost a chain of
    /// reallocations per line (a twarc2 page is one ~170 kB line), and fresh memory for every
    /// batch made the kernel zero pages over and over: on a 1.7 GB file, about a fifth of the
    /// CPU time went to that.
    fn jsonl(
        &mut self,
        reader: impl BufRead + Send,
        format: Format,
        progress: &indicatif::ProgressBar,
    ) -> Result<()> {
        type Parsed = Vec<(u64, Result<Vec<Record>, String>)>;
        let (source, keep_raw, file) = (
            self.source.clone(),
            self.opts.keep_raw,
            self.report.file.clone(),
        );
        std::thread::scope(|scope| -> Result<()> {
            let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<std::io::Result<Batch>>(2);
            let (parsed_tx, parsed_rx) =
                std::sync::mpsc::sync_channel::<std::io::Result<Parsed>>(2);
            // Used buffers flow back to the reader; a few are in flight at any time.
            let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Batch>();
            scope.spawn(move || read_batches(reader, BATCH_BYTES, progress, &batch_tx, &spare_rx));
            scope.spawn(move || {
                // JSON Lines never come with an archive's account.js.
                let sidecar = tweets_js::Sidecar::default();
                for batch in batch_rx {
                    let parsed = batch.map(|batch| {
                        let parsed = batch
                            .lines
                            .par_iter()
                            .filter_map(|&(line, start, end)| {
                                let text = match std::str::from_utf8(&batch.data[start..end]) {
                                    Ok(text) if text.trim().is_empty() => return None,
                                    Ok(text) => text,
                                    Err(e) => {
                                        let column = e.valid_up_to() + 1;
                                        let message = format!(
                                            "not UTF-8 text (invalid byte at column {column})"
                                        );
                                        return Some((line, Err(message)));
                                    }
                                };
                                let cx = Context {
                                    source: source.clone(),
                                    line,
                                    format,
                                    keep_raw,
                                };
                                Some((line, parse_json(format, text.trim_end(), &cx, &sidecar)))
                            })
                            .collect::<Parsed>();
                        // The reader may be gone already (it stops at the end of the file).
                        let _ = spare_tx.send(batch);
                        parsed
                    });
                    if parsed_tx.send(parsed).is_err() {
                        return;
                    }
                }
            });
            for batch in parsed_rx {
                let batch = batch.with_context(|| format!("{file}: cannot read"))?;
                for (line, result) in batch {
                    self.take(line, result)?;
                }
            }
            Ok(())
        })
    }

    /// A whole JSON document: an array (one record per element) or one object. `offset` is where
    /// the JSON starts in `text`, so that line numbers count from the top of the file.
    fn document(
        &mut self,
        text: &str,
        offset: usize,
        format: Format,
        sidecar: &tweets_js::Sidecar,
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
                let result = parse_json(format, item.get(), &cx, sidecar);
                self.take(line, result)?;
            }
        } else {
            let cx = self.context(line_of(body.as_ptr()));
            let result = match serde_json::from_str::<&RawValue>(body) {
                Ok(raw) => parse_json(format, raw.get(), &cx, sidecar),
                Err(e) => Err(format!("malformed JSON: {e}")),
            };
            self.take(cx.line, result)?;
        }
        Ok(())
    }
}

/// The size of a batch of JSON Lines. Smaller batches hold less memory in flight; this one
/// still gives each core a few dozen twarc2 pages (~170 kB a line) to parse at a time.
const BATCH_BYTES: usize = 4 << 20;

/// Whole lines of a JSON Lines file: `data` holds them, each entry of `lines` is a line's
/// number and its byte range in `data` (without the newline).
struct Batch {
    data: Vec<u8>,
    lines: Vec<(u64, usize, usize)>,
}

/// Read the file in batches of about 4 MiB of whole lines and send them on, reusing the
/// buffers that come back on `spare`. A line longer than a batch makes its batch larger; a
/// last line without a newline is still a line.
fn read_batches(
    mut reader: impl BufRead,
    batch_bytes: usize,
    progress: &indicatif::ProgressBar,
    tx: &std::sync::mpsc::SyncSender<std::io::Result<Batch>>,
    spare: &std::sync::mpsc::Receiver<Batch>,
) {
    let mut line_no = 0u64;
    // The start of a line that did not fit in the previous batch.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut batch = spare.try_recv().unwrap_or_else(|_| Batch {
            data: Vec::with_capacity(batch_bytes),
            lines: Vec::new(),
        });
        batch.data.clear();
        batch.lines.clear();
        batch.data.extend_from_slice(&carry);
        carry.clear();
        // Fill up to the batch size, and on until the buffer holds at least one newline.
        let mut eof = false;
        let mut scanned = 0;
        let mut last_newline = None;
        while !eof && (batch.data.len() < batch_bytes || last_newline.is_none()) {
            let before = batch.data.len();
            // Up to the batch size; past it (a line longer than a batch), one batch more.
            let want = if before < batch_bytes {
                batch_bytes
            } else {
                before + batch_bytes
            };
            batch.data.resize(want, 0);
            match reader.read(&mut batch.data[before..]) {
                Ok(0) => {
                    batch.data.truncate(before);
                    eof = true;
                }
                Ok(n) => {
                    batch.data.truncate(before + n);
                    progress.inc(n as u64);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    batch.data.truncate(before);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
            if let Some(i) = memchr::memrchr(b'\n', &batch.data[scanned..]) {
                last_newline = Some(scanned + i);
            }
            scanned = batch.data.len();
        }
        // Whole lines end at the last newline; at the end of the file, the rest is a line too.
        let end = match (eof, last_newline) {
            (true, _) => batch.data.len(),
            (false, Some(i)) => {
                carry.extend_from_slice(&batch.data[i + 1..]);
                batch.data.truncate(i + 1);
                i + 1
            }
            (false, None) => unreachable!("the loop reads on until a newline or the end"),
        };
        let mut start = 0;
        while start < end {
            let stop = memchr::memchr(b'\n', &batch.data[start..end]).map_or(end, |i| start + i);
            line_no += 1;
            batch.lines.push((line_no, start, stop));
            start = stop + 1;
        }
        if batch.lines.is_empty() && eof {
            return;
        }
        if tx.send(Ok(batch)).is_err() || eof {
            return;
        }
    }
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
        let err = detect(br#"{"foo": 1, "bar": 2}"#, "data.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("data.json"), "{err}");
        assert!(err.contains("--format"), "{err}");
        assert!(err.contains("foo"), "{err}");
        let err = detect(b"hello world\n", "notes.txt")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("notes.txt") && err.contains("cannot tell"),
            "{err}"
        );
    }

    #[test]
    #[cfg(feature = "collect")]
    fn settle_records_how_a_collection_ended() {
        let (mut interrupted, mut errors) = (false, Vec::new());
        assert!(settle(Some(Ok(())), &mut interrupted, &mut errors));
        assert!(!interrupted && errors.is_empty());
        errors.push("host gave up".to_string());
        assert!(
            !settle(Some(Ok(())), &mut interrupted, &mut errors),
            "an error during the run"
        );
        assert!(!settle(
            Some(Err(anyhow::anyhow!("disk full"))),
            &mut interrupted,
            &mut errors
        ));
        assert_eq!(errors, ["host gave up", "disk full"]);
        assert!(!settle(None, &mut interrupted, &mut errors));
        assert!(interrupted);
    }

    /// Lines split into batches of every small size come out whole, numbered and in order,
    /// with a line longer than a batch, blank lines, CRLF and a last line without a newline.
    #[test]
    fn batches_hold_whole_lines_whatever_their_size() {
        let text = "{\"a\":1}\r\n\n{\"b\":\"0123456789abcdefghij0123456789\"}\n  \n{\"c\":3}";
        let want: Vec<(u64, &str)> = text.split('\n').zip(1..).map(|(l, n)| (n, l)).collect();
        for size in [1, 2, 3, 7, 16, 31, 64, 1 << 20] {
            let (tx, rx) = std::sync::mpsc::sync_channel(1000);
            let (spare_tx, spare_rx) = std::sync::mpsc::channel();
            let progress = indicatif::ProgressBar::hidden();
            read_batches(
                std::io::Cursor::new(text.as_bytes()),
                size,
                &progress,
                &tx,
                &spare_rx,
            );
            drop(tx);
            let mut got = Vec::new();
            for batch in rx {
                let batch: Batch = batch.unwrap();
                for &(n, start, end) in &batch.lines {
                    got.push((
                        n,
                        std::str::from_utf8(&batch.data[start..end])
                            .unwrap()
                            .to_string(),
                    ));
                }
                // A used buffer offered back is taken up again.
                spare_tx.send(batch).unwrap();
            }
            let got: Vec<(u64, &str)> = got.iter().map(|(n, l)| (*n, l.as_str())).collect();
            assert_eq!(got, want, "batch size {size}");
            assert_eq!(progress.position(), text.len() as u64);
        }
    }

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

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert!("csv".parse::<Format>().is_err());
    }
}
