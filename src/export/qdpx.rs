//! REFI-QDA: a project for NVivo, ATLAS.ti, MAXQDA, QualCoder or qc (`rethread export qdpx`),
//! and the codebook alone (`rethread themes codebook --qdc`).
//!
//! A `.qdpx` file is a zip of `project.qde` (XML in the namespace `urn:QDA-XML:project:1.0`) and
//! `sources/`, here one plain-text transcript per thread. In the project: a `User` per coder
//! (`rethread patterns`, `rethread semantic`, `rethread learned`), the codebook as
//! `CodeBook/Codes`, each thread a `TextSource` whose `plainTextPath` is its transcript, and each
//! code's evidence a `PlainTextSelection` (character offsets into that transcript) holding its
//! `Coding` and `CodeRef`, made by the coder's user. Authors are `Cases` (with the threads they
//! wrote in) unless the export is pseudonymised.
//!
//! A transcript has one line per post, in time order, `author: text` (a post's own line breaks
//! become spaces, so that a line is a post and character offsets stay those of the post), and a
//! line `[gap: …]` per missing post. Each selection is also named `line:N` (N from 0), the form
//! line-based tools such as qc read.
//!
//! GUIDs are derived from what they name (a SHA-256 of a kind and a key, written as a GUID), not
//! drawn at random: exporting the same corpus with the same codebook gives the same file.

use super::{atomic, Input};
use crate::themes::{Codebook, CoderKind};
use crate::thread::Node;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{Read, Seek, Write};
use std::path::Path;

/// The coders, as the project's users.
pub const CODERS: [(CoderKind, &str); 3] = [
    (CoderKind::Pattern, "rethread patterns"),
    (CoderKind::Semantic, "rethread semantic"),
    (CoderKind::Learned, "rethread learned"),
];

/// A GUID for `key` of `kind`: stable, so that the same export gives the same file.
pub fn guid(kind: &str, key: &str) -> String {
    let d = Sha256::digest(format!("rethread:{kind}:{key}").as_bytes());
    let h: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Text for an XML attribute or element: escaped, and without the characters XML 1.0 cannot
/// hold at all (most C0 controls), which post text and names from the data may contain.
pub fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A post's text on one line: line breaks and other controls become spaces, one character for
/// one, so that offsets into the post are offsets into the line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn code_guid(book: &Codebook, theme: usize) -> String {
    guid(
        "code",
        &format!("{}:{}", book.meta.name, book.themes[theme].id),
    )
}

fn user_guid(coder: CoderKind) -> String {
    guid("user", coder.as_str())
}

/// `<Code>` elements of a codebook (for a project and for a `.qdc` file alike).
fn codes_xml(book: &Codebook, out: &mut String) {
    out.push_str("<Codes>\n");
    for (k, t) in book.themes.iter().enumerate() {
        let _ = writeln!(
            out,
            "<Code guid=\"{}\" name=\"{}\" isCodable=\"true\"><Description>{}</Description></Code>",
            code_guid(book, k),
            xml_text(&t.label),
            xml_text(format!("{} [{}]", t.description, t.id).trim_start())
        );
    }
    out.push_str("</Codes>\n");
}

/// The codebook as a REFI-QDA codebook (`urn:QDA-XML:codebook:1.0`), for `--qdc`.
pub fn codebook_qdc(book: &Codebook) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let _ = writeln!(
        out,
        "<CodeBook xmlns=\"urn:QDA-XML:codebook:1.0\" origin=\"rethread {}\">",
        env!("CARGO_PKG_VERSION")
    );
    codes_xml(book, &mut out);
    out.push_str("</CodeBook>\n");
    out
}

/// A REFI-QDA codebook (`.qdc`, or the `CodeBook` of a project) as a rethread codebook: a
/// theme per code (nested codes flattened, `Parent / Child`), with its name as the label and
/// its description. A theme id is the `[id]` rethread put at the end of the description, or
/// one made from the name. Patterns are left empty, for the researcher to write: the result is
/// a template, not a codebook that codes anything yet. Read with an event loop, not recursion.
pub fn codebook_from_qdc(xml: &str, name: &str) -> Result<Codebook> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut themes: Vec<crate::themes::codebook::Theme> = Vec::new();
    let mut open: Vec<usize> = Vec::new(); // themes index per open <Code>
    let mut in_description = false;
    let mut seen_codebook = false;
    let mut ids = BTreeSet::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| anyhow::anyhow!("{name}: not XML: {e}"))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name();
                let tag = String::from_utf8_lossy(local.as_ref()).into_owned();
                if tag == "CodeBook" {
                    seen_codebook = true;
                }
                if tag == "Code" {
                    let mut label = String::new();
                    for a in e.attributes().flatten() {
                        if a.key.local_name().as_ref() == b"name" {
                            label = a
                                .unescape_value()
                                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?
                                .into_owned();
                        }
                    }
                    path.push(label.clone());
                    themes.push(crate::themes::codebook::Theme {
                        id: String::new(),
                        label: path.join(" / "),
                        description: String::new(),
                        semantic: false,
                        threshold: None,
                        patterns: Vec::new(),
                        exclude: Vec::new(),
                        examples: Vec::new(),
                    });
                    if matches!(ev, Event::Empty(_)) {
                        path.pop();
                    } else {
                        open.push(themes.len() - 1);
                    }
                } else if tag == "Description" && !open.is_empty() {
                    in_description = true;
                }
            }
            Event::Text(t) if in_description => {
                let text = t.unescape().map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
                if let Some(&k) = open.last() {
                    themes[k].description.push_str(&text);
                }
            }
            Event::End(ref e) => match e.local_name().as_ref() {
                b"Code" => {
                    open.pop();
                    path.pop();
                }
                b"Description" => in_description = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_codebook {
        anyhow::bail!("{name}: no CodeBook in it (not a REFI-QDA codebook)");
    }
    for t in &mut themes {
        // `… [id]`, as `--qdc` writes it: the theme keeps its id.
        let d = t.description.trim().to_string();
        let tagged = d
            .strip_suffix(']')
            .and_then(|x| x.rsplit_once(" ["))
            .or_else(|| {
                d.strip_prefix('[')
                    .and_then(|x| x.strip_suffix(']'))
                    .map(|id| ("", id))
            })
            .filter(|(_, id)| {
                !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        let (desc, mut id) = match tagged {
            Some((desc, id)) => (desc.trim().to_string(), id.to_string()),
            None => (d.clone(), slug(&t.label)),
        };
        let base = id.clone();
        let mut n = 2;
        while !ids.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        t.id = id;
        t.description = desc;
    }
    Ok(Codebook {
        meta: crate::themes::codebook::Meta {
            name: name.to_string(),
            language: "en".into(),
            semantic_threshold: None,
        },
        themes,
    })
}

/// `Staff empowerment / Trust` → `staff-empowerment-trust`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "code".into()
    } else {
        out
    }
}

/// Labels read back from a REFI-QDA project (`themes learn --gold FILE.qdpx`, `themes eval`).
#[derive(Debug, Clone, Default)]
pub struct QdpxGold {
    /// A row per post line of each transcript: id `SOURCE:LINE`, the post's text, its themes.
    pub rows: Vec<crate::themes::eval::Gold>,
    /// Codes whose name is not a theme of the codebook, with how many codings each had: said,
    /// not silently dropped.
    pub unknown: BTreeMap<String, u64>,
    /// Codings that could not be placed on a post (outside the text, or on a whole source).
    pub unplaced: u64,
}

/// The most of one zip entry read (a project file or a transcript).
const MAX_ENTRY: u64 = 1 << 30;

fn read_entry(zip: &mut zip::ZipArchive<std::fs::File>, name: &str, file: &str) -> Result<String> {
    use std::io::Read;
    let entry = zip
        .by_name(name)
        .map_err(|e| anyhow::anyhow!("{file}: no {name} in it ({e})"))?;
    let mut text = String::new();
    entry
        .take(MAX_ENTRY)
        .read_to_string(&mut text)
        .map_err(|e| anyhow::anyhow!("{file}: {name}: not UTF-8 text ({e})"))?;
    Ok(text)
}

/// Read the codings of a REFI-QDA project whose text sources are rethread transcripts (one
/// post a line, `author: text`; gap lines left out) as labels: each selection covers the
/// lines its characters overlap (or the line its `line:N` name says, when it has no usable
/// positions), and its codes become themes by name (a theme's label or id, or the `[id]` at
/// the end of a code's description). Made or corrected in any tool that keeps the sources'
/// text as rethread wrote it.
pub fn read_gold(path: &Path, book: &Codebook) -> Result<QdpxGold> {
    use quick_xml::events::Event;
    let file = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{file}: cannot open: {e}"))?;
    let mut zip = zip::ZipArchive::new(f)
        .map_err(|e| anyhow::anyhow!("{file}: not a .qdpx (zip) file: {e}"))?;
    let qde = read_entry(&mut zip, "project.qde", &file)?;
    // Codes, sources and their selections, in one pass of events.
    struct Sel {
        start: Option<usize>,
        end: Option<usize>,
        line: Option<usize>,
        codes: Vec<String>,
    }
    struct Src {
        name: String,
        path: Option<String>,
        sels: Vec<Sel>,
        whole: u64,
    }
    let mut codes: BTreeMap<String, (String, String)> = BTreeMap::new(); // guid → (name, desc)
    let mut sources: Vec<Src> = Vec::new();
    let mut reader = quick_xml::Reader::from_str(&qde);
    let mut code_stack: Vec<String> = Vec::new();
    let mut in_desc = false;
    let mut in_sel = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| anyhow::anyhow!("{file}: project.qde: not XML: {e}"))?;
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let mut attrs: BTreeMap<String, String> = BTreeMap::new();
                for a in e.attributes().flatten() {
                    let k = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                    let v = a
                        .unescape_value()
                        .map_err(|e| anyhow::anyhow!("{file}: project.qde: {e}"))?
                        .into_owned();
                    attrs.insert(k, v);
                }
                let get = |k: &str| attrs.get(k).cloned();
                match e.local_name().as_ref() {
                    b"Code" => {
                        let g = get("guid").unwrap_or_default();
                        codes.insert(g.clone(), (get("name").unwrap_or_default(), String::new()));
                        if !empty {
                            code_stack.push(g);
                        }
                    }
                    b"Description" if !code_stack.is_empty() && !empty => in_desc = true,
                    b"TextSource" => sources.push(Src {
                        name: get("name").unwrap_or_default(),
                        path: get("plainTextPath"),
                        sels: Vec::new(),
                        whole: 0,
                    }),
                    b"PlainTextSelection" => {
                        if let Some(src) = sources.last_mut() {
                            src.sels.push(Sel {
                                start: get("startPosition").and_then(|v| v.parse().ok()),
                                end: get("endPosition").and_then(|v| v.parse().ok()),
                                line: get("name").and_then(|n| {
                                    n.strip_prefix("line:").and_then(|l| l.parse().ok())
                                }),
                                codes: Vec::new(),
                            });
                            in_sel = !empty;
                        }
                    }
                    b"CodeRef" => {
                        let target = get("targetGUID").unwrap_or_default();
                        match (in_sel, sources.last_mut()) {
                            (true, Some(src)) => {
                                if let Some(sel) = src.sels.last_mut() {
                                    sel.codes.push(target);
                                }
                            }
                            (false, Some(src)) => src.whole += 1,
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_desc => {
                let text = t
                    .unescape()
                    .map_err(|e| anyhow::anyhow!("{file}: project.qde: {e}"))?;
                if let Some(c) = code_stack.last().and_then(|g| codes.get_mut(g)) {
                    c.1.push_str(&text);
                }
            }
            Event::End(ref e) => match e.local_name().as_ref() {
                b"Code" => {
                    code_stack.pop();
                }
                b"Description" => in_desc = false,
                b"PlainTextSelection" => in_sel = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    // A code's theme: by label, by id, or by the `[id]` rethread wrote in its description.
    let theme_of = |guid: &str| -> std::result::Result<String, String> {
        let (name, desc) = codes.get(guid).cloned().unwrap_or_default();
        let tagged = desc
            .trim()
            .strip_suffix(']')
            .and_then(|d| d.rsplit_once('['))
            .map(|(_, id)| id.to_string());
        book.themes
            .iter()
            .find(|t| t.label == name || t.id == name)
            .or_else(|| tagged.and_then(|id| book.themes.iter().find(|t| t.id == id)))
            .map(|t| t.id.clone())
            .ok_or(if name.is_empty() {
                format!("(code {guid})")
            } else {
                name
            })
    };
    let mut out = QdpxGold::default();
    for src in &sources {
        out.unplaced += src.whole;
        let Some(p) = &src.path else { continue };
        let entry = format!("sources/{}", p.trim_start_matches("internal://"));
        let text = read_entry(&mut zip, &entry, &file)?;
        // Each line's character range, and the post on it.
        let mut ranges = Vec::new();
        let mut at = 0usize;
        for line in text.split('\n') {
            let n = line.chars().count();
            ranges.push((at, at + n, line));
            at += n + 1;
        }
        let mut themes: Vec<BTreeSet<String>> = vec![BTreeSet::new(); ranges.len()];
        for sel in &src.sels {
            let lines: Vec<usize> = match (sel.start, sel.end) {
                (Some(a), Some(b)) if a < b && b <= at => ranges
                    .iter()
                    .enumerate()
                    .filter(|(_, (s, e, _))| a < *e && *s < b)
                    .map(|(k, _)| k)
                    .collect(),
                _ => sel.line.filter(|&l| l < ranges.len()).into_iter().collect(),
            };
            for g in &sel.codes {
                if lines.is_empty() {
                    out.unplaced += 1;
                    continue;
                }
                match theme_of(g) {
                    Ok(id) => {
                        for &l in &lines {
                            themes[l].insert(id.clone());
                        }
                    }
                    Err(name) => *out.unknown.entry(name).or_default() += 1,
                }
            }
        }
        for (k, (_, _, line)) in ranges.iter().enumerate() {
            if line.is_empty() || line.starts_with("[gap: ") {
                continue;
            }
            let post = line.split_once(": ").map_or(*line, |(_, t)| t);
            out.rows.push(crate::themes::eval::Gold {
                id: format!("{}:{k}", src.name),
                text: post.to_string(),
                themes: std::mem::take(&mut themes[k]),
            });
        }
    }
    if out.rows.is_empty() {
        anyhow::bail!("{file}: no text source with posts in it");
    }
    Ok(out)
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub sources: u64,
    pub selections: u64,
    pub cases: u64,
}

/// One thread's transcript and the selections in it.
struct Transcript {
    text: String,
    /// (guid, line, start, end, coder, theme)
    selections: Vec<(String, usize, usize, usize, CoderKind, usize)>,
}

fn transcript(input: &Input, ti: usize) -> Transcript {
    let (set, threads) = (input.set, input.threads);
    let th = &threads.threads[ti];
    let mut text = String::new();
    let mut chars = 0usize;
    let mut selections = Vec::new();
    for (line, n) in threads.chronological(th, set).into_iter().enumerate() {
        let line_text = match threads.node(n) {
            Node::Post(i) => {
                let p = &set.posts()[i];
                let prefix = format!("{}: ", one_line(p.author().label()));
                let body = one_line(p.text());
                let at = chars + prefix.chars().count();
                if let Some((book, codes)) = input.codes {
                    for e in &codes[i] {
                        let (start, end) = (at + e.start, at + e.end);
                        let key = format!(
                            "{}:{}:{}:{}:{}:{}",
                            th.id,
                            p.id(),
                            book.themes[e.theme].id,
                            e.coder.as_str(),
                            e.start,
                            e.end
                        );
                        selections.push((
                            guid("selection", &key),
                            line,
                            start,
                            end,
                            e.coder,
                            e.theme,
                        ));
                    }
                }
                prefix + &body
            }
            Node::Gap(g) => {
                let gap = &threads.gaps[g];
                one_line(&format!(
                    "[gap: post {} is missing ({})]",
                    gap.id, gap.reason
                ))
            }
        };
        chars += line_text.chars().count() + 1;
        text.push_str(&line_text);
        text.push('\n');
    }
    Transcript { text, selections }
}

/// Write `path` (a `.qdpx` zip), beside it and renamed into place.
pub fn write(path: &Path, input: &Input) -> Result<Written> {
    let book = input.codes.map(|(book, _)| book);
    let mut w = Writer::new(spool_dir(path))?;
    w.add(input)?;
    w.finish(path, book, input.pseudonymised)
}

/// Where a project's spool files go: beside it, where there is room for it.
pub fn spool_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A project being written a batch of threads at a time (`export qdpx --db`). The project
/// file comes first in the zip and names the cases (authors) before the sources, which are
/// known only when every thread has been seen: so each thread's `TextSource` element and its
/// transcript go to two unnamed spool files as the batches come, and what is held is an entry
/// per author with the threads they wrote in.
pub struct Writer {
    sources: std::io::BufWriter<std::fs::File>,
    /// Each transcript: its length, then its text, in thread order.
    texts: std::io::BufWriter<std::fs::File>,
    /// The source GUID of each thread, in order.
    guids: Vec<String>,
    /// author → the threads (indices into `guids`) they posted in
    authors: BTreeMap<String, Vec<u32>>,
    written: Written,
}

impl Writer {
    pub fn new(spool_dir: &Path) -> Result<Writer> {
        let spool = || {
            tempfile::tempfile_in(spool_dir)
                .map(|f| std::io::BufWriter::with_capacity(1 << 16, f))
                .with_context(|| format!("{}: cannot make a spool file", spool_dir.display()))
        };
        Ok(Writer {
            sources: spool()?,
            texts: spool()?,
            guids: Vec::new(),
            authors: BTreeMap::new(),
            written: Written::default(),
        })
    }

    /// The selected threads of `input`, in their order.
    pub fn add(&mut self, input: &Input) -> Result<()> {
        for &ti in input.selected {
            let th = &input.threads.threads[ti];
            let source = guid("source", &th.id);
            let t = transcript(input, ti);
            let mut x = String::new();
            let _ = writeln!(
                x,
                "<TextSource guid=\"{source}\" name=\"{}\" plainTextPath=\"internal://{source}.txt\">",
                xml_text(&th.id)
            );
            if let Some((book, _)) = input.codes {
                for (g, line, start, end, coder, theme) in &t.selections {
                    let user = user_guid(*coder);
                    let _ = writeln!(
                        x,
                        "<PlainTextSelection guid=\"{g}\" name=\"line:{line}\" startPosition=\"{start}\" endPosition=\"{end}\" creatingUser=\"{user}\"><Coding guid=\"{}\" creatingUser=\"{user}\"><CodeRef targetGUID=\"{}\"/></Coding></PlainTextSelection>",
                        guid("coding", g),
                        code_guid(book, *theme)
                    );
                    self.written.selections += 1;
                }
            }
            x.push_str("</TextSource>\n");
            self.sources.write_all(x.as_bytes())?;
            let k = self.guids.len() as u32;
            if !input.pseudonymised {
                for &n in &th.nodes {
                    if let Node::Post(i) = input.threads.node(n) {
                        let who = input.set.posts()[i].author().label();
                        match self.authors.get_mut(who) {
                            Some(threads) if threads.last() == Some(&k) => {}
                            Some(threads) => threads.push(k),
                            None => {
                                self.authors.insert(who.to_string(), vec![k]);
                            }
                        }
                    }
                }
            }
            self.texts.write_all(&(t.text.len() as u64).to_le_bytes())?;
            self.texts.write_all(t.text.as_bytes())?;
            self.guids.push(source);
            self.written.sources += 1;
        }
        Ok(())
    }

    /// Write the project to `path`: `book` when the threads were coded (the codebook),
    /// `pseudonymised` (no cases, and the project says so).
    pub fn finish(
        self,
        path: &Path,
        book: Option<&Codebook>,
        pseudonymised: bool,
    ) -> Result<Written> {
        let Writer {
            sources,
            texts,
            guids,
            authors,
            mut written,
        } = self;
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        let _ = writeln!(
            xml,
            "<Project xmlns=\"urn:QDA-XML:project:1.0\" name=\"rethread\" origin=\"rethread {}\">",
            env!("CARGO_PKG_VERSION")
        );
        xml.push_str("<Users>\n");
        for (coder, name) in CODERS {
            let _ = writeln!(xml, "<User guid=\"{}\" name=\"{name}\"/>", user_guid(coder));
        }
        xml.push_str("</Users>\n");
        if let Some(book) = book.filter(|b| !b.themes.is_empty()) {
            xml.push_str("<CodeBook>\n");
            codes_xml(book, &mut xml);
            xml.push_str("</CodeBook>\n");
        }
        if !authors.is_empty() {
            xml.push_str("<Cases>\n");
            for (who, in_threads) in &authors {
                let _ = write!(
                    xml,
                    "<Case guid=\"{}\" name=\"{}\">",
                    guid("case", who),
                    xml_text(who)
                );
                // Sources by GUID, each once (as a set of GUIDs orders them).
                let mut refs: Vec<&str> = in_threads
                    .iter()
                    .map(|&k| guids[k as usize].as_str())
                    .collect();
                refs.sort_unstable();
                refs.dedup();
                for s in refs {
                    let _ = write!(xml, "<SourceRef targetGUID=\"{s}\"/>");
                }
                xml.push_str("</Case>\n");
                written.cases += 1;
            }
            xml.push_str("</Cases>\n");
        }
        let mut tail = String::new();
        if pseudonymised {
            let _ = writeln!(
                tail,
                "<Description>{}</Description>",
                xml_text(super::PSEUDONYMISED_NOTE)
            );
        }
        tail.push_str("</Project>\n");
        let rewound =
            |w: std::io::BufWriter<std::fs::File>| -> Result<std::io::BufReader<std::fs::File>> {
                let mut f = w.into_inner().map_err(|e| e.into_error())?;
                f.seek(std::io::SeekFrom::Start(0))?;
                Ok(std::io::BufReader::with_capacity(1 << 16, f))
            };
        let mut sources = rewound(sources)?;
        let mut texts = rewound(texts)?;
        atomic::write(path, atomic::Durability::Synced, |w| {
            let mut zip = zip::ZipWriter::new(w);
            // A fixed time in every entry: the same export gives the same bytes.
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .last_modified_time(zip::DateTime::default());
            zip.start_file("project.qde", opts)?;
            zip.write_all(xml.as_bytes())?;
            if written.sources > 0 {
                zip.write_all(b"<Sources>\n")?;
                std::io::copy(&mut sources, &mut zip)?;
                zip.write_all(b"</Sources>\n")?;
            }
            zip.write_all(tail.as_bytes())?;
            for g in &guids {
                let mut len = [0u8; 8];
                texts.read_exact(&mut len)?;
                zip.start_file(format!("sources/{g}.txt"), opts)?;
                std::io::copy(&mut (&mut texts).take(u64::from_le_bytes(len)), &mut zip)?;
            }
            zip.finish()?;
            Ok(())
        })?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qdc_codebook_comes_back_as_a_template() {
        let book = Codebook::default_codebook();
        let back = codebook_from_qdc(&codebook_qdc(&book), "round trip").unwrap();
        assert_eq!(back.themes.len(), book.themes.len());
        for (a, b) in back.themes.iter().zip(&book.themes) {
            assert_eq!(
                (&a.id, &a.label, &a.description),
                (&b.id, &b.label, &b.description)
            );
            assert!(
                a.patterns.is_empty(),
                "patterns are the researcher's to write"
            );
        }
        // Another tool's codebook: nested codes, no ids.
        let other = r#"<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>
            <Code guid="00000000-0000-0000-0000-000000000001" name="Staff &amp; trust" isCodable="true">
              <Description>Front line decides</Description>
              <Code guid="00000000-0000-0000-0000-000000000002" name="Scripts" isCodable="true"/>
            </Code>
            <Code guid="00000000-0000-0000-0000-000000000003" name="Staff  trust" isCodable="true"/>
            </Codes></CodeBook>"#;
        let b = codebook_from_qdc(other, "nvivo").unwrap();
        let got: Vec<(&str, &str, &str)> = b
            .themes
            .iter()
            .map(|t| (t.id.as_str(), t.label.as_str(), t.description.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("staff-trust", "Staff & trust", "Front line decides"),
                ("staff-trust-scripts", "Staff & trust / Scripts", ""),
                ("staff-trust-2", "Staff  trust", ""),
            ]
        );
        assert!(codebook_from_qdc("<Project/>", "x").is_err());
        assert!(codebook_from_qdc("<CodeBook><Code", "x").is_err());
    }

    #[test]
    fn guids_are_stable_and_well_formed() {
        let g = guid("code", "customer-service:staff-empowerment");
        assert_eq!(g, guid("code", "customer-service:staff-empowerment"));
        assert_ne!(g, guid("code", "customer-service:training"));
        let parts: Vec<usize> = g.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert!(g.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn xml_text_escapes_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            xml_text("a<b>&\"c'\u{0}\u{1b}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}\u{FFFD}&#10;"
        );
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
    }
}
