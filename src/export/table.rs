//! Post-per-row exports: JSONL (one post per line) and CSV (`posts.csv`, `edges.csv`,
//! `threads.csv`), with the thread structure, the gaps and the themes in them.
//!
//! Every node of a selected thread is a row, in the thread's depth-first order: posts, and gap
//! rows for missing parents (`gap: true`, with the missing id and the reason), so that a reader
//! of the file can rebuild the tree without rethread. Text is data here, not markup: JSON and
//! RFC 4180 quoting escape it.
//!
//! CSV has a second reader besides code: the spreadsheet a researcher double-clicks it into,
//! which runs a cell beginning with `=` (or `+`, `-`, `@`) as a formula. Every CSV rethread
//! writes therefore goes through one writer, [`CsvWriter`], whose [`csv_cell`] neutralises such
//! cells and keeps control characters out of every cell.

use crate::corpus::PostSet;
use crate::model::format_time;
use crate::themes::{Codebook, Evidence};
use crate::thread::{EdgeKind, Node, Threads};
use anyhow::Result;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::io::Write;

/// How CSV cells are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CsvCells {
    /// For spreadsheets (the default): a cell that a spreadsheet would run as a formula gets a
    /// `'` before it, which makes it text.
    #[default]
    Neutralised,
    /// For code (`--csv-raw`): cells as in the data.
    Raw,
}

/// The one function that makes a CSV cell, for every CSV rethread writes.
///
/// In both modes a control character (Unicode `Cc`: C0 but tab, LF and CR, DEL, C1) becomes
/// U+FFFD: NUL cuts a cell short in some readers, ESC and CSI drive the terminal a file is
/// `cat` to, and none of them is text a researcher wants; U+FFFD shows that something was there.
///
/// Neutralised, a cell gets a `'` before it (OWASP's advice for CSV injection) when it begins
/// with `=`, `+`, `-`, `@`, tab or CR; or with one of `=+-@` after leading white space
/// (spreadsheets trim spaces and line breaks on import: LibreOffice's "trim spaces", Excel when
/// it reads a cell as a number or formula); or with their full-width forms `＝＋－＠` (East Asian
/// Excel turns them into the ASCII ones as they are entered). A `'` where none was needed costs
/// nothing; a formula that runs is a leak or worse.
///
/// A plain decimal number is left as it is, so that spreadsheets still read it as one: an
/// optional sign, digits with at most one decimal point (at least one digit in all), an
/// optional exponent (`e` or `E`, optional sign, digits), nothing else (no spaces): `-3`,
/// `-3.5`, `+1e5`, `.5`, `-2.` are numbers; `-3 `, `1,5`, `-0x1`, `-1+2`, `-inf` are not.
pub fn csv_cell(cell: &str, cells: CsvCells) -> Cow<'_, str> {
    let clean = |c: char| !c.is_control() || matches!(c, '\t' | '\n' | '\r');
    let cell: Cow<str> = if cell.chars().all(clean) {
        Cow::Borrowed(cell)
    } else {
        Cow::Owned(
            cell.chars()
                .map(|c| if clean(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    };
    if cells == CsvCells::Raw || !runs_as_formula(&cell) || is_plain_number(&cell) {
        return cell;
    }
    let mut out = String::with_capacity(cell.len() + 1);
    out.push('\'');
    out.push_str(&cell);
    Cow::Owned(out)
}

/// Whether a spreadsheet may take `cell` for a formula (see [`csv_cell`]).
fn runs_as_formula(cell: &str) -> bool {
    const STARTS: [char; 8] = [
        '=', '+', '-', '@', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
    ];
    cell.starts_with(['\t', '\r']) || cell.trim_start().starts_with(STARTS)
}

/// A plain decimal number, as [`csv_cell`] defines it.
fn is_plain_number(cell: &str) -> bool {
    let b = cell.as_bytes();
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_end = digits(i);
    let mut n = int_end - i;
    i = int_end;
    if b.get(i) == Some(&b'.') {
        let frac_end = digits(i + 1);
        n += frac_end - (i + 1);
        i = frac_end;
    }
    if n == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1 + usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        let exp_end = digits(i);
        if exp_end == i {
            return false;
        }
        i = exp_end;
    }
    i == b.len()
}

/// Writes CSV records (RFC 4180, `\n` between records), every cell through [`csv_cell`].
///
/// Quoting is done here rather than by the `csv` crate because one more case needs it: besides
/// a comma, a quote, CR or LF, a cell holding `;` or a tab is quoted too. A spreadsheet set to
/// a European locale splits a `.csv` on `;` (and some on tabs), and would otherwise make
/// `hi;=1+1` two cells, the second a formula; quoted, it stays one cell beginning with `h`.
pub struct CsvWriter<W: Write> {
    out: W,
    cells: CsvCells,
    line: Vec<u8>,
}

impl<W: Write> CsvWriter<W> {
    pub fn new(out: W, cells: CsvCells) -> CsvWriter<W> {
        CsvWriter {
            out,
            cells,
            line: Vec::new(),
        }
    }

    /// Write one record.
    pub fn write_record<I, S>(&mut self, record: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.line.clear();
        let mut fields = 0;
        for field in record {
            if fields > 0 {
                self.line.push(b',');
            }
            fields += 1;
            let cell = csv_cell(field.as_ref(), self.cells);
            if cell.contains([',', '"', '\r', '\n', ';', '\t']) {
                self.line.push(b'"');
                self.line
                    .extend_from_slice(cell.replace('"', "\"\"").as_bytes());
                self.line.push(b'"');
            } else {
                self.line.extend_from_slice(cell.as_bytes());
            }
        }
        // A record of one empty field would be an empty line, which readers skip.
        if fields == 1 && self.line.is_empty() {
            self.line.extend_from_slice(b"\"\"");
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The themes to attach, with the codebook their indices refer to.
struct Codes<'a> {
    book: &'a Codebook,
    /// Indexed like `PostSet::posts()`.
    posts: &'a [Vec<Evidence>],
}

impl<'a> Codes<'a> {
    fn of(input: &super::Input<'a>) -> Option<Codes<'a>> {
        input.codes.map(|(book, posts)| Codes { book, posts })
    }
}

/// One row: a post or a gap, in its thread.
struct Row<'a> {
    thread: &'a str,
    node: petgraph::graph::NodeIndex,
    depth: usize,
    parent: Option<(String, EdgeKind)>,
}

fn rows<'a>(threads: &'a Threads, set: &PostSet, selected: &[usize]) -> Vec<Row<'a>> {
    let mut out = Vec::new();
    for &ti in selected {
        let t = &threads.threads[ti];
        for (n, depth) in threads.preorder(t) {
            let parent = threads
                .parent(n)
                .map(|(p, kind)| (node_id(threads, set, p), kind));
            out.push(Row {
                thread: &t.id,
                node: n,
                depth,
                parent,
            });
        }
    }
    out
}

/// A node's id: the post's, or the missing post's (shared with the Parquet export).
pub(crate) fn node_id(threads: &Threads, set: &PostSet, n: petgraph::graph::NodeIndex) -> String {
    match threads.node(n) {
        Node::Post(i) => set.posts()[i].id().to_string(),
        Node::Gap(g) => threads.gaps[g].id.clone(),
    }
}

/// An edge kind as every table export writes it.
pub(crate) fn kind(k: EdgeKind) -> &'static str {
    match k {
        EdgeKind::Reply => "reply",
        EdgeKind::Quote => "quote",
        EdgeKind::Conversation => "conversation",
    }
}

fn themes_json(codes: Option<&Codes>, i: usize) -> Value {
    match codes {
        None => Value::Null,
        Some(c) => Value::Array(
            c.posts[i]
                .iter()
                .map(|e| {
                    // The evidence's own keys (coder, pattern, text, offsets, and the
                    // similarity, probability and example of model codes), theme first.
                    let mut v = json!({"theme": c.book.themes[e.theme].id});
                    if let (Value::Object(o), Ok(Value::Object(ev))) =
                        (&mut v, serde_json::to_value(e))
                    {
                        o.extend(ev);
                    }
                    v
                })
                .collect(),
        ),
    }
}

/// A thread column: its name and its value for a thread.
pub type ThreadField = (&'static str, fn(&crate::thread::Thread) -> Value);

/// The thread columns, defined once: `rethread threads` writes them as a table, as JSON
/// objects (these keys, typed values) and as CSV, and `export csv` as `threads.csv`.
pub const THREAD_FIELDS: [ThreadField; 10] = [
    ("id", |t| Value::from(t.id.clone())),
    ("root", |t| Value::from(t.root_id.clone())),
    ("posts", |t| Value::from(t.posts)),
    ("gaps", |t| Value::from(t.gaps)),
    ("depth", |t| Value::from(t.depth)),
    ("breadth", |t| Value::from(t.breadth)),
    ("participants", |t| Value::from(t.participants)),
    ("start", |t| t.start.as_ref().map(format_time).into()),
    ("end", |t| t.end.as_ref().map(format_time).into()),
    // Complete: no gaps, every parent was found.
    ("complete", |t| Value::from(t.gaps == 0)),
];

/// The names of [`THREAD_FIELDS`], in order (the CSV header).
pub const THREAD_COLUMNS: [&str; 10] = {
    let mut names = [""; 10];
    let mut i = 0;
    while i < names.len() {
        names[i] = THREAD_FIELDS[i].0;
        i += 1;
    }
    names
};

/// One thread's metrics as CSV cells, in the order of [`THREAD_COLUMNS`] (an unknown time is
/// an empty cell).
pub fn thread_row(t: &crate::thread::Thread) -> [String; 10] {
    THREAD_FIELDS.map(|(_, value)| match value(t) {
        Value::Null => String::new(),
        Value::String(s) => s,
        other => other.to_string(),
    })
}

/// One thread's metrics as a JSON object with the keys of [`THREAD_COLUMNS`].
pub fn thread_json(t: &crate::thread::Thread) -> Value {
    Value::Object(
        THREAD_FIELDS
            .iter()
            .map(|(name, value)| (name.to_string(), value(t)))
            .collect(),
    )
}

/// JSONL: one object per post or gap. Returns the number of lines.
pub fn write_jsonl(out: &mut (impl Write + ?Sized), input: &super::Input) -> Result<u64> {
    let (set, threads, selected) = (input.set, input.threads, input.selected);
    let codes = Codes::of(input);
    let codes = codes.as_ref();
    let mut n = 0;
    for r in rows(threads, set, selected) {
        let (parent, edge) = match &r.parent {
            Some((p, k)) => (Some(p.as_str()), Some(kind(*k))),
            None => (None, None),
        };
        let mut v = match threads.node(r.node) {
            Node::Post(i) => {
                let p = &set.posts()[i];
                let a = p.author();
                json!({
                    "thread": r.thread,
                    "id": p.id(),
                    "platform": p.platform().as_str(),
                    "gap": false,
                    "parent": parent,
                    "edge": edge,
                    "depth": r.depth,
                    "author": a.label(),
                    "author_id": a.id,
                    "author_name": a.display_name,
                    "created_at": p.created_at().map(|t| format_time(&t)),
                    "text": p.text(),
                    "url": p.url(),
                    "uri": p.uri(),
                    "reply_to": p.reply_to(),
                    "quote_of": p.quote_of(),
                    "language": p.language(),
                    "hashtags": p.hashtags().collect::<Vec<_>>(),
                    "mentions": p.mentions().collect::<Vec<_>>(),
                    "content_warning": p.content_warning(),
                    "media_alt": p.media_alt().collect::<Vec<_>>(),
                    "reposts": threads.reposts.get(&i).copied().unwrap_or(0),
                    "themes": themes_json(codes, i),
                })
            }
            Node::Gap(g) => {
                let gap = &threads.gaps[g];
                json!({
                    "thread": r.thread,
                    "id": gap.id,
                    "platform": gap.platform.as_str(),
                    "gap": true,
                    "reason": gap.reason,
                    "parent": parent,
                    "edge": edge,
                    "depth": r.depth,
                })
            }
        };
        if input.pseudonymised {
            v["pseudonymised"] = json!(true);
        }
        serde_json::to_writer(&mut *out, &v)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    Ok(n)
}

/// Where `export csv` writes its three files, and how it writes their cells.
pub struct CsvFiles<'a> {
    pub posts: &'a mut dyn Write,
    pub edges: &'a mut dyn Write,
    pub threads: &'a mut dyn Write,
    pub cells: CsvCells,
    /// Write the header rows: true for a whole export, and for the first of the batches an
    /// export written a batch of threads at a time is made of (the others append rows).
    pub headers: bool,
}

/// CSV: `posts.csv` (posts and gaps), `edges.csv` (reply → the post it replies to) and `threads.csv` (the
/// metrics of `rethread threads`), each with a header row.
pub fn write_csv(out: CsvFiles, input: &super::Input) -> Result<(u64, u64)> {
    let (set, threads, selected) = (input.set, input.threads, input.selected);
    let codes = Codes::of(input);
    let codes = codes.as_ref();
    let mut posts = CsvWriter::new(out.posts, out.cells);
    let mut edges = CsvWriter::new(out.edges, out.cells);
    let pseudonymised = input.pseudonymised;
    let mut header = vec![
        "thread",
        "id",
        "platform",
        "gap",
        "reason",
        "parent",
        "depth",
        "author",
        "author_id",
        "created_at",
        "text",
        "url",
        "language",
        "themes",
        "evidence",
        // Which coder gave each theme (`codes::theme_coders`): `id:pattern;id2:semantic`.
        "theme_coders",
    ];
    if pseudonymised {
        // The file says so itself: a column that is true on every row.
        header.push("pseudonymised");
    }
    if out.headers {
        posts.write_record(&header)?;
        edges.write_record(["thread", "source", "target", "kind"])?;
    }
    let (mut np, mut ne) = (0, 0);
    for r in rows(threads, set, selected) {
        let parent = r
            .parent
            .as_ref()
            .map(|(p, _)| p.clone())
            .unwrap_or_default();
        let id;
        match threads.node(r.node) {
            Node::Post(i) => {
                let p = &set.posts()[i];
                id = p.id().to_string();
                let (themes, evidence, coders) = match codes {
                    Some(c) => {
                        let ev: Vec<String> = c.posts[i]
                            .iter()
                            .map(|e| super::codes::evidence_cell(c.book, e))
                            .collect();
                        (
                            c.book.ids_of(&c.posts[i]),
                            ev.join(" | "),
                            super::codes::theme_coders(c.book, &c.posts[i]),
                        )
                    }
                    None => (String::new(), String::new(), String::new()),
                };
                let depth = r.depth.to_string();
                let created = p.created_at().map(|t| format_time(&t)).unwrap_or_default();
                let mut row = vec![
                    r.thread,
                    p.id(),
                    p.platform().as_str(),
                    "false",
                    "",
                    &parent,
                    &depth,
                    p.author().label(),
                    p.author().id.as_deref().unwrap_or(""),
                    &created,
                    p.text(),
                    p.url().unwrap_or(""),
                    p.language().unwrap_or(""),
                    &themes,
                    &evidence,
                    &coders,
                ];
                if pseudonymised {
                    row.push("true");
                }
                posts.write_record(&row)?;
            }
            Node::Gap(g) => {
                let gap = &threads.gaps[g];
                id = gap.id.clone();
                let depth = r.depth.to_string();
                let mut row = vec![
                    r.thread,
                    &gap.id,
                    gap.platform.as_str(),
                    "true",
                    &gap.reason,
                    &parent,
                    &depth,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ];
                if pseudonymised {
                    row.push("true");
                }
                posts.write_record(&row)?;
            }
        }
        np += 1;
        if let Some((p, k)) = &r.parent {
            // From the reply to what it replies to, as in every graph export.
            edges.write_record([r.thread, id.as_str(), p.as_str(), kind(*k)])?;
            ne += 1;
        }
    }
    posts.flush()?;
    edges.flush()?;
    let mut t = CsvWriter::new(out.threads, out.cells);
    if out.headers {
        t.write_record(THREAD_COLUMNS)?;
    }
    for &ti in selected {
        t.write_record(thread_row(&threads.threads[ti]))?;
    }
    t.flush()?;
    Ok((np, ne))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CSV row and the JSON object of a thread are one definition: same names, same order,
    /// the same values (an unknown time empty in CSV, null in JSON).
    #[test]
    fn thread_columns_are_one_definition_for_csv_and_json() {
        let mut set = crate::corpus::PostSet::default();
        let mut root = crate::model::Post::new(crate::model::Platform::Twitter, "1");
        root.created_at = crate::model::parse_time("2020-01-01T00:00:00Z");
        let mut reply = crate::model::Post::new(crate::model::Platform::Twitter, "2");
        reply.reply_to = Some("1".into());
        let mut orphan = crate::model::Post::new(crate::model::Platform::Twitter, "3");
        orphan.reply_to = Some("404".into());
        for p in [root, reply, orphan] {
            set.add(p);
        }
        let threads = crate::thread::build(&set, &crate::thread::Options::default());
        assert_eq!(threads.threads.len(), 2);
        for t in &threads.threads {
            let row = thread_row(t);
            let json = thread_json(t);
            let obj = json.as_object().unwrap();
            assert_eq!(obj.len(), THREAD_COLUMNS.len());
            for (k, name) in THREAD_COLUMNS.iter().enumerate() {
                let cell = match &obj[*name] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                assert_eq!(row[k], cell, "{name}");
            }
            assert_eq!(obj["complete"], Value::Bool(t.gaps == 0));
        }
        assert!(threads.threads.iter().any(|t| thread_row(t)[9] == "false"));
    }

    fn cell(s: &str) -> String {
        csv_cell(s, CsvCells::Neutralised).into_owned()
    }

    #[test]
    fn formulas_get_a_quote_and_numbers_do_not() {
        for f in [
            "=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx", " =1", "\n@x", "＝1", "－1", "-",
            "+", "-3 ", "-0x1", "-inf", "--3", "-.", "-e5", "+1e", "-1,5",
        ] {
            assert_eq!(cell(f), format!("'{f}"), "{f:?}");
        }
        for n in [
            "-3", "-3.5", "+1e5", "+1E-5", ".5", "-2.", "-.5e+3", "3", "0",
        ] {
            assert_eq!(cell(n), n, "{n:?} is a number");
        }
        for t in ["", "1e5+1", "a=1", "twitter-=1", "'=1", "x -1", "1-2"] {
            assert_eq!(cell(t), t, "{t:?} does not start a formula");
        }
        assert_eq!(csv_cell("=1+1", CsvCells::Raw), "=1+1");
    }

    #[test]
    fn control_characters_never_reach_a_cell() {
        let dirty = "a\u{0}b\u{1b}[1mc\u{7f}d\u{85}e\u{9b}f\u{7}\t\n\r";
        let want = "a\u{FFFD}b\u{FFFD}[1mc\u{FFFD}d\u{FFFD}e\u{FFFD}f\u{FFFD}\t\n\r";
        assert_eq!(csv_cell(dirty, CsvCells::Raw), want);
        assert_eq!(cell(dirty), want);
        assert_eq!(cell("\u{0}=1"), "\u{FFFD}=1");
    }

    #[test]
    fn records_read_back_as_written_and_plain_ones_as_the_csv_crate_writes_them() {
        let records: Vec<Vec<&str>> = vec![
            vec!["id", "text", "n"],
            vec!["1", "plain text", "-3"],
            vec!["2", "a, \"quoted\"\nline\r\nbreak", ""],
            vec!["3", "hi;there", "tab\there"],
            vec![""],
            vec!["", "", ""],
            vec!["ünïcödé", "🙂", "'"],
        ];
        let mut ours = Vec::new();
        let mut w = CsvWriter::new(&mut ours, CsvCells::Raw);
        for r in &records {
            w.write_record(r).unwrap();
        }
        w.flush().unwrap();
        let back: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&ours[..])
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        assert_eq!(back, records);
        let text = String::from_utf8(ours).unwrap();
        assert!(text.contains("\"hi;there\",\"tab\there\""), "{text}");
        // Without `;` or tabs, the bytes are the csv crate's own.
        let plain: Vec<&Vec<&str>> = records
            .iter()
            .filter(|r| !r.concat().contains([';', '\t']))
            .collect();
        let mut ours = Vec::new();
        let mut theirs = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        let mut w = CsvWriter::new(&mut ours, CsvCells::Raw);
        for r in &plain {
            w.write_record(*r).unwrap();
            theirs.write_record(*r).unwrap();
        }
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs.into_inner().unwrap()).unwrap()
        );
    }
}
