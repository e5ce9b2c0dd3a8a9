//! Parquet: the corpus as four tables for DuckDB, Spark, pandas or R (`rethread export parquet`).
//!
//! - `posts.parquet`: a row per post and per gap of the written threads, every post field, the
//!   thread and parent it sits under, and its themes as a list of theme ids;
//! - `edges.parquet`: `thread, source, target, kind` (source = the reply, target = what it
//!   replies to; kind `reply`, `quote` or `conversation`);
//! - `threads.parquet`: the columns of `rethread threads`;
//! - `codes.parquet`: a row per code: `post, thread, theme, coder, pattern, evidence, start,
//!   end, score, example`.
//!
//! Ids are strings (a Twitter id does not fit a double, and Mastodon ids are `local@server`);
//! times are `TIMESTAMP(MICROS, UTC)`. Rows are buffered a row group at a time
//! ([`ROW_GROUP`] rows), so a file of any size is written with bounded memory beyond the posts
//! themselves. The writer is arrow-rs's `parquet` crate at its column level: each column is
//! given its values with the definition levels (null or not) and, for lists, repetition levels.

use super::table::{kind, node_id};
use super::{atomic, Input};
use crate::thread::Node;
use anyhow::{Context, Result};
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Rows per row group: large enough for good compression and fast scans, small enough that a
/// group's buffers stay a few tens of megabytes.
pub const ROW_GROUP: usize = 65_536;

/// What was written: rows per file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub posts: u64,
    pub edges: u64,
    pub threads: u64,
    pub codes: u64,
}

/// A column's buffered values. Every column is `optional` (null where a value is unknown)
/// except lists, which are never null (an empty list instead).
enum Col {
    Str(Vec<Option<String>>),
    I64(Vec<Option<i64>>),
    Ts(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    F64(Vec<Option<f64>>),
    StrList(Vec<Vec<String>>),
}

impl Col {
    fn len(&self) -> usize {
        match self {
            Col::Str(v) => v.len(),
            Col::I64(v) | Col::Ts(v) => v.len(),
            Col::Bool(v) => v.len(),
            Col::F64(v) => v.len(),
            Col::StrList(v) => v.len(),
        }
    }

    fn clear(&mut self) {
        match self {
            Col::Str(v) => v.clear(),
            Col::I64(v) | Col::Ts(v) => v.clear(),
            Col::Bool(v) => v.clear(),
            Col::F64(v) => v.clear(),
            Col::StrList(v) => v.clear(),
        }
    }

    fn schema(&self, name: &str) -> String {
        match self {
            Col::Str(_) => format!("optional binary {name} (STRING);"),
            Col::I64(_) => format!("optional int64 {name};"),
            Col::Ts(_) => format!("optional int64 {name} (TIMESTAMP(MICROS,true));"),
            Col::Bool(_) => format!("optional boolean {name};"),
            Col::F64(_) => format!("optional double {name};"),
            Col::StrList(_) => format!(
                "optional group {name} (LIST) {{ repeated group list {{ required binary element (STRING); }} }}"
            ),
        }
    }
}

/// Definition levels of an optional column (1 = a value, 0 = null) and its values.
fn levels<T: Clone>(v: &[Option<T>]) -> (Vec<T>, Vec<i16>) {
    let defs = v.iter().map(|x| i16::from(x.is_some())).collect();
    let vals = v.iter().flatten().cloned().collect();
    (vals, defs)
}

/// One Parquet file being written: its columns, in schema order, and the rows buffered.
struct Table<W: Write + Send> {
    names: Vec<&'static str>,
    cols: Vec<Col>,
    writer: SerializedFileWriter<W>,
    rows: u64,
    /// Rows per row group ([`ROW_GROUP`]; smaller in tests).
    group: usize,
}

impl<W: Write + Send> Table<W> {
    fn new(out: W, columns: Vec<(&'static str, Col)>) -> Result<Table<W>> {
        let fields: String = columns
            .iter()
            .map(|(n, c)| c.schema(n))
            .collect::<Vec<_>>()
            .join("\n");
        let schema = Arc::new(parse_message_type(&format!(
            "message rethread {{\n{fields}\n}}"
        ))?);
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_created_by(format!("rethread {}", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        let (names, cols) = columns.into_iter().unzip();
        Ok(Table {
            names,
            cols,
            writer: SerializedFileWriter::new(out, schema, props)?,
            rows: 0,
            group: ROW_GROUP,
        })
    }

    fn col(&mut self, name: &str) -> &mut Col {
        let i = self
            .names
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        &mut self.cols[i]
    }

    fn str(&mut self, name: &str, v: Option<&str>) {
        match self.col(name) {
            Col::Str(c) => c.push(v.map(str::to_string)),
            _ => panic!("{name} is not a string column"),
        }
    }

    fn i64(&mut self, name: &str, v: Option<i64>) {
        match self.col(name) {
            Col::I64(c) | Col::Ts(c) => c.push(v),
            _ => panic!("{name} is not an integer column"),
        }
    }

    fn bool(&mut self, name: &str, v: Option<bool>) {
        match self.col(name) {
            Col::Bool(c) => c.push(v),
            _ => panic!("{name} is not a boolean column"),
        }
    }

    fn f64(&mut self, name: &str, v: Option<f64>) {
        match self.col(name) {
            Col::F64(c) => c.push(v),
            _ => panic!("{name} is not a double column"),
        }
    }

    fn list<'a>(&mut self, name: &str, v: impl Iterator<Item = &'a str>) {
        match self.col(name) {
            Col::StrList(c) => c.push(v.map(str::to_string).collect()),
            _ => panic!("{name} is not a list column"),
        }
    }

    /// A row is complete: write a row group when enough are buffered.
    fn end_row(&mut self) -> Result<()> {
        self.rows += 1;
        debug_assert!(self.cols.iter().all(|c| c.len() == self.cols[0].len()));
        if self.cols[0].len() >= self.group {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.cols.first().is_none_or(|c| c.len() == 0) {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for col in &mut self.cols {
            let mut w = group
                .next_column()?
                .context("parquet: fewer columns than the schema")?;
            match col {
                Col::Str(v) => {
                    let (vals, defs) = levels(v);
                    let vals: Vec<ByteArray> = vals
                        .into_iter()
                        .map(|s| ByteArray::from(s.into_bytes()))
                        .collect();
                    w.typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&defs), None)?;
                }
                Col::I64(v) | Col::Ts(v) => {
                    let (vals, defs) = levels(v);
                    w.typed::<Int64Type>()
                        .write_batch(&vals, Some(&defs), None)?;
                }
                Col::Bool(v) => {
                    let (vals, defs) = levels(v);
                    w.typed::<BoolType>()
                        .write_batch(&vals, Some(&defs), None)?;
                }
                Col::F64(v) => {
                    let (vals, defs) = levels(v);
                    w.typed::<DoubleType>()
                        .write_batch(&vals, Some(&defs), None)?;
                }
                Col::StrList(v) => {
                    // A list is present (definition 1) and empty, or each element is at
                    // definition 2; the first element of a row starts it (repetition 0).
                    let (mut vals, mut defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
                    for row in v.iter() {
                        if row.is_empty() {
                            defs.push(1);
                            reps.push(0);
                        }
                        for (k, s) in row.iter().enumerate() {
                            vals.push(ByteArray::from(s.as_bytes().to_vec()));
                            defs.push(2);
                            reps.push(i16::from(k > 0));
                        }
                    }
                    w.typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&defs), Some(&reps))?;
                }
            }
            w.close()?;
            col.clear();
        }
        group.close()?;
        Ok(())
    }

    fn close(mut self) -> Result<u64> {
        self.flush()?;
        self.writer.close()?;
        Ok(self.rows)
    }
}

fn micros(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_micros())
}

/// Write the four files into `dir` (each beside its target and renamed into place).
pub fn write(dir: &Path, input: &Input) -> Result<Written> {
    write_with(dir, |w| w.add(input))
}

/// Write the four files into `dir` from whatever `feed` adds to the [`Writer`] it is given,
/// one batch of threads after another (`export parquet --db` reads the corpus so). The files
/// are written side by side and each renamed into place only when all four are complete;
/// rows are buffered a row group at a time whatever the batches, so the bytes are the same
/// however the threads were cut.
pub fn write_with(
    dir: &Path,
    feed: impl FnOnce(&mut Writer<&mut std::io::BufWriter<std::fs::File>>) -> Result<()>,
) -> Result<Written> {
    let mut written = Written::default();
    let synced = atomic::Durability::Synced;
    atomic::write(&dir.join("posts.parquet"), synced, |posts| {
        atomic::write(&dir.join("edges.parquet"), synced, |edges| {
            atomic::write(&dir.join("threads.parquet"), synced, |threads| {
                atomic::write(&dir.join("codes.parquet"), synced, |codes| {
                    let mut w = Writer::new(posts, edges, threads, codes)?;
                    feed(&mut w)?;
                    written = w.finish()?;
                    Ok(())
                })
            })
        })
    })?;
    Ok(written)
}

/// The four tables being written, rows added a batch of threads at a time.
pub struct Writer<W: Write + Send> {
    posts: Table<W>,
    edges: Table<W>,
    threads: Table<W>,
    codes: Table<W>,
}

impl<W: Write + Send> Writer<W> {
    pub fn new(posts: W, edges: W, threads: W, codes: W) -> Result<Writer<W>> {
        Ok(Writer {
            posts: posts_table(posts)?,
            edges: edges_table(edges)?,
            threads: threads_table(threads)?,
            codes: codes_table(codes)?,
        })
    }

    /// The rows of `input`'s selected threads, in their order.
    pub fn add(&mut self, input: &Input) -> Result<()> {
        add_posts(&mut self.posts, input)?;
        add_edges(&mut self.edges, input)?;
        add_threads(&mut self.threads, input)?;
        add_codes(&mut self.codes, input)
    }

    /// Write the last row groups and the footers.
    pub fn finish(self) -> Result<Written> {
        Ok(Written {
            posts: self.posts.close()?,
            edges: self.edges.close()?,
            threads: self.threads.close()?,
            codes: self.codes.close()?,
        })
    }
}

fn posts_table<W: Write + Send>(out: W) -> Result<Table<W>> {
    let s = || Col::Str(Vec::new());
    let l = || Col::StrList(Vec::new());
    Table::new(
        out,
        vec![
            ("thread", s()),
            ("id", s()),
            ("platform", s()),
            ("gap", Col::Bool(Vec::new())),
            ("reason", s()),
            ("parent", s()),
            ("edge", s()),
            ("depth", Col::I64(Vec::new())),
            ("author", s()),
            ("author_id", s()),
            ("author_name", s()),
            ("author_server", s()),
            ("created_at", Col::Ts(Vec::new())),
            ("text", s()),
            ("url", s()),
            ("uri", s()),
            ("reply_to", s()),
            ("reply_to_author", s()),
            ("quote_of", s()),
            ("repost_of", s()),
            ("conversation_id", s()),
            ("language", s()),
            ("visibility", s()),
            ("content_warning", s()),
            ("hashtags", l()),
            ("mentions", l()),
            ("media_alt", l()),
            ("reposts", Col::I64(Vec::new())),
            ("themes", l()),
            ("pseudonymised", Col::Bool(Vec::new())),
        ],
    )
}

fn add_posts<W: Write + Send>(t: &mut Table<W>, input: &Input) -> Result<()> {
    let (set, threads) = (input.set, input.threads);
    for &ti in input.selected {
        let th = &threads.threads[ti];
        for (n, depth) in threads.preorder(th) {
            let parent = threads.parent(n);
            t.str("thread", Some(&th.id));
            t.str(
                "parent",
                parent
                    .map(|(p, _)| node_id(threads, input.set, p))
                    .as_deref(),
            );
            t.str("edge", parent.map(|(_, k)| kind(k)));
            t.i64("depth", Some(depth as i64));
            t.bool("pseudonymised", Some(input.pseudonymised));
            match threads.node(n) {
                Node::Post(i) => {
                    let p = &set.posts()[i];
                    let a = p.author();
                    t.str("id", Some(p.id()));
                    t.str("platform", Some(p.platform().as_str()));
                    t.bool("gap", Some(false));
                    t.str("reason", None);
                    t.str("author", Some(a.label()));
                    t.str("author_id", a.id.as_deref());
                    t.str("author_name", a.display_name.as_deref());
                    t.str("author_server", a.server.as_deref());
                    t.i64("created_at", micros(p.created_at()));
                    t.str("text", Some(p.text()));
                    t.str("url", p.url());
                    t.str("uri", p.uri());
                    t.str("reply_to", p.reply_to());
                    t.str("reply_to_author", p.reply_to_author());
                    t.str("quote_of", p.quote_of());
                    t.str("repost_of", p.repost_of());
                    t.str("conversation_id", p.conversation_id());
                    t.str("language", p.language());
                    t.str("visibility", p.visibility());
                    t.str("content_warning", p.content_warning());
                    t.list("hashtags", p.hashtags());
                    t.list("mentions", p.mentions());
                    t.list("media_alt", p.media_alt());
                    t.i64(
                        "reposts",
                        Some(threads.reposts.get(&i).copied().unwrap_or(0) as i64),
                    );
                    match input.codes {
                        // Each theme once, in codebook order (its evidence is in codes.parquet).
                        Some((book, codes)) => {
                            let mut ids: Vec<usize> = codes[i].iter().map(|e| e.theme).collect();
                            ids.sort_unstable();
                            ids.dedup();
                            t.list("themes", ids.iter().map(|&k| book.themes[k].id.as_str()));
                        }
                        None => t.list("themes", std::iter::empty()),
                    }
                }
                Node::Gap(g) => {
                    let gap = &threads.gaps[g];
                    t.str("id", Some(&gap.id));
                    t.str("platform", Some(gap.platform.as_str()));
                    t.bool("gap", Some(true));
                    t.str("reason", Some(&gap.reason));
                    for c in [
                        "author",
                        "author_id",
                        "author_name",
                        "author_server",
                        "text",
                        "url",
                        "uri",
                        "reply_to",
                        "reply_to_author",
                        "quote_of",
                        "repost_of",
                        "conversation_id",
                        "language",
                        "visibility",
                        "content_warning",
                    ] {
                        t.str(c, None);
                    }
                    t.i64("created_at", None);
                    for c in ["hashtags", "mentions", "media_alt", "themes"] {
                        t.list(c, std::iter::empty());
                    }
                    t.i64("reposts", None);
                }
            }
            t.end_row()?;
        }
    }
    Ok(())
}

fn edges_table<W: Write + Send>(out: W) -> Result<Table<W>> {
    let s = || Col::Str(Vec::new());
    Table::new(
        out,
        vec![
            ("thread", s()),
            ("source", s()),
            ("target", s()),
            ("kind", s()),
        ],
    )
}

fn add_edges<W: Write + Send>(t: &mut Table<W>, input: &Input) -> Result<()> {
    let threads = input.threads;
    for &ti in input.selected {
        let th = &threads.threads[ti];
        for (n, _) in threads.preorder(th) {
            if let Some((p, k)) = threads.parent(n) {
                t.str("thread", Some(&th.id));
                t.str("source", Some(&node_id(threads, input.set, n)));
                t.str("target", Some(&node_id(threads, input.set, p)));
                t.str("kind", Some(kind(k)));
                t.end_row()?;
            }
        }
    }
    Ok(())
}

fn threads_table<W: Write + Send>(out: W) -> Result<Table<W>> {
    let s = || Col::Str(Vec::new());
    let i = || Col::I64(Vec::new());
    // The columns of `rethread threads` (table::THREAD_FIELDS), typed.
    Table::new(
        out,
        vec![
            ("id", s()),
            ("root", s()),
            ("posts", i()),
            ("gaps", i()),
            ("depth", i()),
            ("breadth", i()),
            ("participants", i()),
            ("start", Col::Ts(Vec::new())),
            ("end", Col::Ts(Vec::new())),
            ("complete", Col::Bool(Vec::new())),
        ],
    )
}

fn add_threads<W: Write + Send>(t: &mut Table<W>, input: &Input) -> Result<()> {
    for &ti in input.selected {
        let th = &input.threads.threads[ti];
        t.str("id", Some(&th.id));
        t.str("root", Some(&th.root_id));
        t.i64("posts", Some(th.posts as i64));
        t.i64("gaps", Some(th.gaps as i64));
        t.i64("depth", Some(th.depth as i64));
        t.i64("breadth", Some(th.breadth as i64));
        t.i64("participants", Some(th.participants as i64));
        t.i64("start", micros(th.start));
        t.i64("end", micros(th.end));
        t.bool("complete", Some(th.gaps == 0));
        t.end_row()?;
    }
    Ok(())
}

fn codes_table<W: Write + Send>(out: W) -> Result<Table<W>> {
    let s = || Col::Str(Vec::new());
    Table::new(
        out,
        vec![
            ("post", s()),
            ("thread", s()),
            ("theme", s()),
            ("coder", s()),
            ("pattern", s()),
            ("evidence", s()),
            ("start", Col::I64(Vec::new())),
            ("end", Col::I64(Vec::new())),
            ("score", Col::F64(Vec::new())),
            ("example", s()),
        ],
    )
}

fn add_codes<W: Write + Send>(t: &mut Table<W>, input: &Input) -> Result<()> {
    let Some((book, codes)) = input.codes else {
        return Ok(());
    };
    let threads = input.threads;
    for &ti in input.selected {
        let th = &threads.threads[ti];
        for (n, _) in threads.preorder(th) {
            let Node::Post(i) = threads.node(n) else {
                continue;
            };
            for e in &codes[i] {
                t.str("post", Some(input.set.posts()[i].id()));
                t.str("thread", Some(&th.id));
                t.str("theme", Some(&book.themes[e.theme].id));
                t.str("coder", Some(e.coder.as_str()));
                t.str(
                    "pattern",
                    Some(&e.pattern)
                        .filter(|p| !p.is_empty())
                        .map(String::as_str),
                );
                t.str("evidence", Some(&e.text));
                t.i64("start", Some(e.start as i64));
                t.i64("end", Some(e.end as i64));
                t.f64("score", e.similarity.or(e.probability));
                t.str("example", e.example.as_deref());
                t.end_row()?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn nulls_and_lists_survive_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let file = std::fs::File::create(&path).unwrap();
        let mut t = Table::new(
            file,
            vec![
                ("id", Col::Str(Vec::new())),
                ("n", Col::I64(Vec::new())),
                ("at", Col::Ts(Vec::new())),
                ("tags", Col::StrList(Vec::new())),
            ],
        )
        .unwrap();
        t.group = 2;
        let rows: [(&str, Option<i64>, &[&str]); 5] = [
            ("a", Some(1), &["x", "y"]),
            ("b", None, &[]),
            ("c", Some(3), &["z"]),
            ("d", Some(-4), &[]),
            ("e", None, &["p", "q", "r"]),
        ];
        for (id, n, tags) in rows {
            t.str("id", Some(id));
            t.i64("n", n);
            t.i64("at", n.map(|v| v * 1_000_000));
            t.list("tags", tags.iter().copied());
            t.end_row().unwrap();
        }
        assert_eq!(t.close().unwrap(), 5);
        let r = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(r.metadata().num_row_groups(), 3, "5 rows in groups of 2");
        let got: Vec<String> = r
            .get_row_iter(None)
            .unwrap()
            .map(|row| row.unwrap().to_string())
            .collect();
        assert_eq!(got.len(), 5);
        assert!(
            got[0].contains("id: \"a\"") && got[0].contains("n: 1"),
            "{}",
            got[0]
        );
        assert!(got[0].contains("\"x\", \"y\""), "{}", got[0]);
        assert!(
            got[1].contains("n: null") && got[1].contains("tags: []"),
            "{}",
            got[1]
        );
        assert!(got[4].contains("\"p\", \"q\", \"r\""), "{}", got[4]);
        let at = &r.metadata().file_metadata().schema_descr().column(2);
        assert!(
            format!("{:?}", at.logical_type_ref()).contains("Timestamp"),
            "{:?}",
            at.logical_type_ref()
        );
    }
}
