//! TWCS (Customer Support on Twitter, Kaggle) CSV → [`Post`].
//!
//! Columns: `tweet_id, author_id, inbound, created_at, text, response_tweet_id,
//! in_response_to_tweet_id`. The copies researchers actually hold are often re-saved by pandas,
//! which adds a leading unnamed index column, writes the ids of a column with blanks as floats
//! (`3.0`), and leaves bare carriage returns (CR, `\r`) from the tweet text inside *unquoted*
//! fields. A CSV reader that treats a lone CR as a line end (the default everywhere) splits
//! such a tweet in two and shifts every column after it; so we end records only at `\n` and
//! strip the `\r` of CRLF line ends ourselves. Columns are found by their header names, so the
//! index column and any column order work.
//!
//! `in_response_to_tweet_id` is the reply link; `response_tweet_id` (the children) is
//! redundant with it and kept only in the raw row.

use super::format::{first_text_line, Reader, Spec};
use super::twarc2::unescape;
use super::Run;
use crate::model::{parse_time, Platform, Post, Provenance, Record};
use std::io::BufRead;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

const COLUMNS: [&str; 7] = [
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
];

/// TWCS CSV, as [`super::format`] knows it.
pub(super) const SPEC: Spec = Spec {
    sniff: Some(|head| {
        let (first, json) = first_text_line(head);
        !json && is_header(first)
    }),
    classify: None,
    read: Reader::File(read_file),
    binary: None,
};

/// The whole file, each row handed to the run in order; the first error stops it.
fn read_file(_: &Path, reader: Box<dyn BufRead + Send>, run: &mut Run) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let mut err = None;
    let (source, keep_raw) = (run.source.clone(), run.opts.keep_raw);
    read(reader, &source, keep_raw, |line, result| {
        if err.is_none() {
            if let Err(e) = run.take(line, result) {
                err = Some(e);
            }
        }
        err.is_none()
    })
    .with_context(|| format!("{}: cannot read CSV", run.report.file))?;
    err.map_or(Ok(()), Err)
}

/// Is this the header line of a TWCS file?
pub fn is_header(line: &str) -> bool {
    let names: Vec<&str> = line
        .trim_end()
        .split(',')
        .map(|c| c.trim_matches('"'))
        .collect();
    ["tweet_id", "author_id", "text", "in_response_to_tweet_id"]
        .iter()
        .all(|c| names.contains(c))
}

/// Read every row, calling `emit(line, result)` in file order; stop when `emit` returns false.
/// Errors of a single row (wrong number of fields, bad id or date) go to `emit`; only a failure
/// to read the file at all is returned.
pub fn read(
    reader: impl Read,
    source: &Arc<str>,
    keep_raw: bool,
    mut emit: impl FnMut(u64, Result<Vec<Record>, String>) -> bool,
) -> std::io::Result<()> {
    let mut csv = csv::ReaderBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .flexible(true)
        .from_reader(reader);
    let header: Vec<String> = csv
        .headers()
        .map_err(to_io)?
        .iter()
        .map(|h| h.trim_end_matches('\r').to_string())
        .collect();
    let mut index = [usize::MAX; 7];
    for (i, name) in COLUMNS.iter().enumerate() {
        match header.iter().position(|h| h == name) {
            Some(at) => index[i] = at,
            None => {
                emit(1, Err(format!("not a TWCS header: no column {name:?}")));
                return Ok(());
            }
        }
    }
    let mut row = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut row) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = row.position().map_or(0, |p| p.line());
                let result = if row.len() != header.len() {
                    Err(format!(
                        "expected {} fields as in the header, found {} (truncated or misquoted row?)",
                        header.len(),
                        row.len()
                    ))
                } else {
                    convert(&row, &header, &index, source, line, keep_raw)
                        .map(|p| vec![Record::Post(Box::new(p))])
                };
                if !emit(line, result) {
                    return Ok(());
                }
            }
            Err(e) => {
                // The csv crate reports invalid UTF-8 per row: a row error, not a file error.
                let line = e.position().map_or(0, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(to_io(e));
                }
                if !emit(line, Err(e.to_string())) {
                    return Ok(());
                }
            }
        }
    }
}

fn to_io(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn convert(
    row: &csv::StringRecord,
    header: &[String],
    index: &[usize; 7],
    source: &Arc<str>,
    line: u64,
    keep_raw: bool,
) -> Result<Post, String> {
    // The last field of a CRLF file ends in the `\r` we did not treat as a terminator.
    let field = |i: usize| {
        let at = index[i];
        let v = row.get(at).unwrap_or("");
        if at + 1 == row.len() {
            v.strip_suffix('\r').unwrap_or(v)
        } else {
            v
        }
    };
    let id = parse_id(field(0)).ok_or_else(|| format!("bad tweet_id {:?}", field(0)))?;
    let mut post = Post::new(Platform::Twitter, id.clone());
    let author = field(1).trim();
    post.author = Arc::new(crate::model::Author {
        id: Some(author.to_string()),
        handle: Some(author.to_string()),
        ..Default::default()
    });
    let created = field(3);
    post.created_at =
        Some(parse_time(created).ok_or_else(|| format!("bad created_at {created:?}"))?);
    post.text = unescape(&normalize_newlines(field(4)));
    let parent = field(6).trim();
    if !parent.is_empty() {
        post.reply_to = Some(
            parse_id(parent).ok_or_else(|| format!("bad in_response_to_tweet_id {parent:?}"))?,
        );
    }
    let (hashtags, mentions) = entities_in_text(&post.text);
    post.hashtags = hashtags;
    post.mentions = mentions;
    post.url = Platform::Twitter.post_link(Some(author), &id);
    if keep_raw {
        let mut obj = serde_json::Map::new();
        for (name, value) in header.iter().zip(row.iter()) {
            obj.insert(name.clone(), serde_json::Value::String(value.to_string()));
        }
        post.raw = Some(serde_json::Value::Object(obj).to_string());
    }
    post.provenance = Some(Provenance {
        source: source.clone(),
        line,
        format: "twcs",
    });
    Ok(post)
}

/// `3` or pandas' `3.0` → `"3"`. Anything else (text, fractions) is not an id.
fn parse_id(s: &str) -> Option<String> {
    let s = s.trim();
    let digits = match s.split_once('.') {
        Some((int, frac)) if frac.chars().all(|c| c == '0') => int,
        Some(_) => return None,
        None => s,
    };
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_string())
}

fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// `#tags` and `@mentions` written in plain text, for sources that give no entities.
pub(crate) fn entities_in_text(text: &str) -> (Vec<String>, Vec<String>) {
    let mut tags = Vec::new();
    let mut mentions = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if (c == '#' || c == '@') && starts_word {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j > i + 1 {
                let word: String = chars[i + 1..j].iter().collect();
                if c == '#' {
                    tags.push(word);
                } else {
                    mentions.push(word);
                }
            }
            i = j;
        } else {
            i += 1;
        }
    }
    (tags, mentions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(csv: &str) -> Vec<(u64, Result<Vec<Record>, String>)> {
        let mut out = Vec::new();
        read(csv.as_bytes(), &Arc::from("t.csv"), true, |line, r| {
            out.push((line, r));
            true
        })
        .unwrap();
        out
    }

    fn post(r: &Result<Vec<Record>, String>) -> &Post {
        match &r.as_ref().unwrap()[0] {
            Record::Post(p) => p,
            other => panic!("{other:?}"),
        }
    }

    const HEAD: &str =
        "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n";

    #[test]
    fn reads_the_kaggle_layout() {
        let csv = format!("{HEAD}1,sprintcare,False,Tue Oct 31 22:10:47 +0000 2017,@115712 I understand &amp; agree #help,2,3\n2,115712,True,Tue Oct 31 22:11:45 +0000 2017,\"quoted, with comma\",,1\n");
        let rows = read_all(&csv);
        assert_eq!(rows.len(), 2);
        let p = post(&rows[0].1);
        assert_eq!((p.id.as_str(), p.reply_to.as_deref()), ("1", Some("3")));
        assert_eq!(p.author.handle.as_deref(), Some("sprintcare"));
        assert_eq!(p.text, "@115712 I understand & agree #help");
        assert_eq!(p.mentions, vec!["115712"]);
        assert_eq!(p.hashtags, vec!["help"]);
        assert_eq!(
            crate::model::format_time(p.created_at.as_ref().unwrap()),
            "2017-10-31T22:10:47.000Z"
        );
        assert_eq!(rows[1].0, 3);
        assert_eq!(post(&rows[1].1).text, "quoted, with comma");
        assert!(post(&rows[0].1)
            .raw
            .as_deref()
            .unwrap()
            .contains("\"inbound\":\"False\""));
    }

    #[test]
    fn reads_the_pandas_resaved_layout() {
        let csv = ",tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\r\n\
                   0,7,a,True,Tue Oct 31 18:13:06 +0000 2017,@x \r\rI just love it,3398,\r\n\
                   1,8,b,False,Tue Oct 31 18:14:06 +0000 2017,reply,,7.0\r\n";
        let rows = read_all(csv);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(post(&rows[0].1).text, "@x \n\nI just love it");
        assert_eq!(post(&rows[0].1).reply_to, None);
        assert_eq!(post(&rows[1].1).reply_to.as_deref(), Some("7"));
        assert_eq!(post(&rows[1].1).id, "8");
    }

    #[test]
    fn truncated_and_bad_rows_are_errors_with_their_line() {
        let csv = format!("{HEAD}1,a,True,Tue Oct 31 22:10:47 +0000 2017,ok,,\n2,b,True,Tue Oct 31\n3,c,True,never,text,,\n4,d,True,Tue Oct 31 22:10:47 +0000 2017,x,,1.5\n");
        let rows = read_all(&csv);
        assert!(rows[0].1.is_ok());
        assert_eq!(rows[1].0, 3);
        assert!(rows[1]
            .1
            .as_ref()
            .unwrap_err()
            .contains("expected 7 fields"));
        assert!(rows[2].1.as_ref().unwrap_err().contains("created_at"));
        assert!(rows[3]
            .1
            .as_ref()
            .unwrap_err()
            .contains("in_response_to_tweet_id"));
    }

    #[test]
    fn ids_written_as_floats_become_integers() {
        assert_eq!(parse_id("3.0").as_deref(), Some("3"));
        assert_eq!(parse_id("12").as_deref(), Some("12"));
        assert_eq!(parse_id("1.5"), None);
        assert_eq!(parse_id("abc"), None);
    }
}
